// Command coredns is the cluster DNS server the real node runs for OLM
// (tests/olm): CoreDNS, at the version pinned in go.mod, with only the
// plugins its Corefile uses. The upstream main links every plugin, cloud
// providers' SDKs included, which made it the slowest of the OLM tools to
// build from cold.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

// plugins are the directives the Corefile in tests/olm uses; CoreDNS runs
// them in its own order, which is kept.
var plugins = []string{"cache", "errors", "health", "kubernetes", "ready"}

func main() {
	var keep []string
	for _, d := range dnsserver.Directives {
		if slices.Contains(plugins, d) {
			keep = append(keep, d)
		}
	}
	if len(keep) != len(plugins) {
		fmt.Fprintf(os.Stderr, "coredns: this CoreDNS knows only %v of %v\n", keep, plugins)
		os.Exit(1)
	}
	if err := dnsserver.SetDirectives(keep); err != nil {
		fmt.Fprintln(os.Stderr, "coredns:", err)
		os.Exit(1)
	}
	coremain.Run()
}

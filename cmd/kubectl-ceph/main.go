// Command kubectl-ceph is the kubectl plugin of ceph-operator: copied onto
// PATH, it runs as `kubectl ceph status|disks|plan|explain`. The commands
// live in internal/plugin.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ceph-operator/ceph-operator/internal/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := plugin.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

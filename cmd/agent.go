package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/ceph-operator/ceph-operator/internal/agent"
	"github.com/ceph-operator/ceph-operator/internal/version"
)

const agentUsage = `Usage: ceph-operator agent <command> [flags]

Commands:
  discover   scan this node's block devices and publish its DiskInventory
  prepare    re-check devices and turn them into OSDs with ceph-volume
  report     publish Ceph's health (ceph status) in the CephCluster's status.ceph

Run 'ceph-operator agent <command> -h' for a command's flags.
`

// runAgent dispatches the node-side subcommands and returns the exit code.
func runAgent(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, agentUsage)
		return 2
	}
	switch args[0] {
	case "discover":
		return runDiscover(args[1:], stderr)
	case "prepare":
		return runPrepare(args[1:], stdout, stderr)
	case "report":
		return runReport(args[1:], stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, agentUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "ceph-operator agent: unknown command %q\n\n%s", args[0], agentUsage)
		return 2
	}
}

// runDiscover parses the discover flags and runs the agent until
// SIGTERM/SIGINT.
func runDiscover(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent discover", flag.ContinueOnError)
	cfg := agent.DefaultConfig(os.Getenv)
	cfg.BindFlags(fs)
	if !parseCommand(fs, args, stderr, true) {
		return 2
	}
	log := ctrl.Log.WithName("agent")
	if err := cfg.Validate(); err != nil {
		log.Error(err, "Invalid configuration")
		return 2
	}
	log.Info("Starting ceph-operator agent discover", "version", version.String(), "node", cfg.NodeName, "namespace", cfg.Namespace)

	restCfg, err := config.GetConfig()
	if err != nil {
		log.Error(err, "Loading Kubernetes client configuration")
		return 1
	}
	a, err := agent.NewForNode(cfg, restCfg)
	if err != nil {
		log.Error(err, "Setting up the agent")
		return 1
	}
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), log)
	if err := a.Run(ctx); err != nil {
		log.Error(err, "Running the agent")
		return 1
	}
	return 0
}

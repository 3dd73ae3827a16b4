// Command ceph-operator is the single binary of the project. Its subcommands
// are the manager (the operator itself) and, on nodes, the agent.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/version"
)

const usage = `Usage: ceph-operator <command> [flags]

Commands:
  manager            run the operator (reconcilers, leader election, metrics, probes)
  agent discover     run the node agent that publishes the node's DiskInventory
  agent prepare      prepare devices as OSDs on this node (run by prepare Jobs)
  agent report       publish Ceph's health in the CephCluster's status.ceph (runs next to the mgr)
  copy-binary DEST   copy this binary to DEST (used by node pods' init containers)
  version            print the version

Run 'ceph-operator <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "manager":
		return runManager(args[1:], stderr)
	case "agent":
		return runAgent(args[1:], stdout, stderr)
	case "copy-binary":
		return runCopyBinary(args[1:], stderr)
	case "version":
		fmt.Fprintln(stdout, version.String())
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ceph-operator: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// runManager parses the manager's flags and runs it until SIGTERM/SIGINT.
func runManager(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	opts := manager.DefaultOptions()
	opts.BindFlags(fs)
	if !parseCommand(fs, args, stderr, true) {
		return 2
	}
	// Flags that cannot work are refused before anything connects.
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "ceph-operator manager: %v\n", err)
		return 2
	}
	log := ctrl.Log.WithName("setup")
	log.Info("Starting ceph-operator manager", "version", version.String(), "leaderElection", opts.LeaderElect, "watchNamespaces", opts.WatchNamespaces)

	cfg, err := config.GetConfig()
	if err != nil {
		log.Error(err, "Loading Kubernetes client configuration")
		return 1
	}
	mgr, err := manager.New(cfg, opts)
	if err != nil {
		log.Error(err, "Setting up the manager")
		return 1
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Running the manager")
		return 1
	}
	return 0
}

// Command ceph-operator is the single binary of the project. Its subcommands
// are the manager (the operator itself) and, on nodes, the agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

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
	return dispatch("ceph-operator", usage, map[string]func([]string) int{
		"manager":     func(args []string) int { return runManager(args, stderr) },
		"agent":       func(args []string) int { return runAgent(args, stdout, stderr) },
		"copy-binary": func(args []string) int { return runCopyBinary(args, stderr) },
		"version": func([]string) int {
			fmt.Fprintln(stdout, version.String())
			return 0
		},
	}, args, stdout, stderr)
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
	return serve(log, "manager", func(cfg *rest.Config) (func(context.Context) error, error) {
		mgr, err := manager.New(cfg, opts)
		if err != nil {
			return nil, err
		}
		return mgr.Start, nil
	})
}

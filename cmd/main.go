// Command ceph-operator is the single binary of the project. Its subcommands
// are the manager (the operator itself) and, on nodes, the agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strconv"

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

// managerGCPercent is the manager's garbage collection target when GOGC is
// not set. Most of its live heap is the informer cache, which a
// reconcile at thousands of OSDs lists and plans over; with Go's default
// of 100 the heap grew to twice the cache between collections (peak RSS
// about 315 MB in make bench at 1,000 nodes × 12 disks, 116 MB live). The
// manager spends most of its time waiting for the API server, so the
// collector's extra CPU time costs little.
const managerGCPercent = 50

// setManagerGC applies managerGCPercent unless GOGC is set, and returns the
// GC target in force ("GOGC" when the environment sets it).
func setManagerGC() string {
	if v, ok := os.LookupEnv("GOGC"); ok {
		return "GOGC=" + v
	}
	debug.SetGCPercent(managerGCPercent)
	return strconv.Itoa(managerGCPercent)
}

// memoryLimit is the Go runtime's soft memory limit in force (GOMEMLIMIT),
// "none" when unset.
func memoryLimit() string {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return fmt.Sprintf("%d MiB", l>>20)
	}
	return "none"
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
	gc := setManagerGC()
	log.Info("Starting ceph-operator manager", "version", version.String(), "leaderElection", opts.LeaderElect, "watchNamespaces", opts.WatchNamespaces,
		"gcPercent", gc, "memoryLimit", memoryLimit())
	return serve(log, "manager", func(cfg *rest.Config) (func(context.Context) error, error) {
		mgr, err := manager.New(cfg, opts)
		if err != nil {
			return nil, err
		}
		return mgr.Start, nil
	})
}

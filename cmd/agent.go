package main

import (
	"io"
	"os"

	"k8s.io/client-go/rest"

	"github.com/ceph-operator/ceph-operator/internal/agent"
)

const agentUsage = `Usage: ceph-operator agent <command> [flags]

Commands:
  discover   scan this node's block devices and publish its DiskInventory
  prepare    re-check devices and turn them into OSDs with ceph-volume
  wipe       re-check devices a user confirmed and make them blank again
  remove-host-dir
             remove one cluster's state directory on the host (confirmed cleanup)
  report     publish Ceph's health (ceph status) in the CephCluster's status.ceph
  osd        run one decommission step (out, safe-to-destroy, purge, destroy, in) on one OSD
  cephx      run one step (import, finish) of the move of the cluster's cephx keys to AES-256

Run 'ceph-operator agent <command> -h' for a command's flags.
`

// runAgent dispatches the node-side subcommands and returns the exit code.
func runAgent(args []string, stdout, stderr io.Writer) int {
	return dispatch("ceph-operator agent", agentUsage, map[string]func([]string) int{
		"discover":        func(args []string) int { return runDiscover(args, stderr) },
		"prepare":         func(args []string) int { return runPrepare(args, stdout, stderr) },
		"wipe":            func(args []string) int { return runWipe(args, stdout, stderr) },
		"remove-host-dir": func(args []string) int { return runRemoveHostDir(args, stdout, stderr) },
		"report":          func(args []string) int { return runReport(args, stderr) },
		"osd":             func(args []string) int { return runOSD(args, stdout, stderr) },
		"cephx":           func(args []string) int { return runCephx(args, stdout, stderr) },
	}, args, stdout, stderr)
}

// runDiscover parses the discover flags and runs the agent until
// SIGTERM/SIGINT.
func runDiscover(args []string, stderr io.Writer) int {
	cfg := agent.DefaultConfig(os.Getenv)
	started := func() []any { return []any{"node", cfg.NodeName, "namespace", cfg.Namespace} }
	return runNodeCommand(args, stderr, nodeCommand{"agent discover", "agent", "agent", &cfg, started,
		func(rc *rest.Config) (runner, error) { return agent.NewForNode(cfg, rc) }})
}

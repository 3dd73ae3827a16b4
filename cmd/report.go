package main

import (
	"flag"
	"io"
	"os"

	"k8s.io/client-go/rest"

	"github.com/ceph-operator/ceph-operator/internal/agent/report"
)

// runReport parses the report flags and publishes the CephCluster's
// status.ceph until SIGTERM/SIGINT.
func runReport(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent report", flag.ContinueOnError)
	cfg := report.DefaultConfig(os.Getenv)
	cfg.BindFlags(fs)
	return runNodeCommand(fs, args, stderr, nodeCommand{
		logName:  "report",
		what:     "reporter",
		validate: cfg.Validate,
		started:  func() []any { return []any{"namespace", cfg.Namespace, "cephCluster", cfg.ClusterName} },
		build: func(rc *rest.Config) (runner, error) {
			return report.NewForCluster(cfg, rc)
		},
	})
}

package main

import (
	"io"
	"os"

	"k8s.io/client-go/rest"

	"github.com/ceph-operator/ceph-operator/internal/agent/report"
)

// runReport parses the report flags and publishes the CephCluster's
// status.ceph until SIGTERM/SIGINT.
func runReport(args []string, stderr io.Writer) int {
	cfg := report.DefaultConfig(os.Getenv)
	started := func() []any { return []any{"namespace", cfg.Namespace, "cephCluster", cfg.ClusterName} }
	return runNodeCommand(args, stderr, nodeCommand{"agent report", "report", "reporter", &cfg, started,
		func(rc *rest.Config) (runner, error) { return report.NewForCluster(cfg, rc) }})
}

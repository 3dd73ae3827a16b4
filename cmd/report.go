package main

import (
	"flag"
	"io"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/ceph-operator/ceph-operator/internal/agent/report"
	"github.com/ceph-operator/ceph-operator/internal/version"
)

// runReport parses the report flags and publishes the CephCluster's
// status.ceph until SIGTERM/SIGINT.
func runReport(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent report", flag.ContinueOnError)
	cfg := report.DefaultConfig(os.Getenv)
	cfg.BindFlags(fs)
	if !parseCommand(fs, args, stderr, true) {
		return 2
	}
	log := ctrl.Log.WithName("report")
	if err := cfg.Validate(); err != nil {
		log.Error(err, "Invalid configuration")
		return 2
	}
	log.Info("Starting ceph-operator agent report", "version", version.String(), "namespace", cfg.Namespace, "cephCluster", cfg.ClusterName)

	restCfg, err := config.GetConfig()
	if err != nil {
		log.Error(err, "Loading Kubernetes client configuration")
		return 1
	}
	r, err := report.NewForCluster(cfg, restCfg)
	if err != nil {
		log.Error(err, "Setting up the reporter")
		return 1
	}
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), log)
	if err := r.Run(ctx); err != nil {
		log.Error(err, "Running the reporter")
		return 1
	}
	return 0
}

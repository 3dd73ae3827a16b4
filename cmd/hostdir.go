package main

import (
	"flag"
	"fmt"
	"io"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ceph-operator/ceph-operator/internal/agent/hostdir"
	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
)

// runRemoveHostDir removes one cluster's state directory, --dir/--fsid,
// for a confirmed cleanup (see package hostdir). Exit status: 0 when it is
// gone (or was never there), 1 when the removal failed, 3 when a check
// refused it, 2 on bad flags. The result goes to stdout and --report.
func runRemoveHostDir(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent remove-host-dir", flag.ContinueOnError)
	var dir, fsid, report string
	fs.StringVar(&dir, "dir", "", "The cluster's host directory as mounted in the container (<dataDirHostPath>/<namespace>/<cluster> on the host); required.")
	fs.StringVar(&fsid, "fsid", "", "The cluster's FSID: only <dir>/<fsid> is removed; required.")
	fs.StringVar(&report, "report", terminationLog, "File to write the result to, as a JSON array of one element (the termination message); empty: none.")
	if !parseCommand(fs, args, stderr, false) {
		return hostdir.ExitBadFlags
	}
	if dir == "" || fsid == "" {
		fmt.Fprintln(stderr, "ceph-operator agent remove-host-dir: --dir and --fsid are required")
		return hostdir.ExitBadFlags
	}
	log := ctrl.Log.WithName("remove-host-dir")
	r := hostdir.Remove(dir, fsid)
	log.Info("Cluster host directory", "path", r.Path, "outcome", r.Outcome, "message", r.Message)
	writeResults(log, stdout, report, []prepare.Result{{Path: r.Path, Outcome: r.Outcome, Message: r.Message}})
	return r.ExitCode()
}

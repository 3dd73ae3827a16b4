package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/agent/report"
)

// runOSD runs one Ceph command on one OSD for a decommission step and
// reports the outcome as JSON on stdout and in --report. Exit status: 0
// done, 1 failed, 3 never safe, 4 not yet safe, 2 bad flags.
func runOSD(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent osd", flag.ContinueOnError)
	var (
		step, failureDomain, reportFile string
		id                              int
		timeout                         time.Duration
	)
	src := report.CommandSource{Binary: report.DefaultCephBinary, Conf: report.DefaultConf}
	fs.StringVar(&step, "step", "", "The command: out, in, safe-to-destroy, purge or destroy; required.")
	fs.IntVar(&id, "osd-id", -1, "The OSD's id; required.")
	fs.StringVar(&failureDomain, "failure-domain", "host", "The CRUSH level pools spread copies over (host or osd), for telling 'not yet safe' from 'never safe'.")
	fs.StringVar(&reportFile, "report", terminationLog, "File to write the result to, as JSON of at most 4096 bytes (the termination message); empty: none.")
	fs.StringVar(&src.Binary, "ceph-binary", src.Binary, "The ceph command-line tool.")
	fs.StringVar(&src.Conf, "conf", src.Conf, "ceph.conf to use.")
	fs.StringVar(&src.Keyring, "keyring", "", "Keyring holding the key of --ceph-id.")
	fs.StringVar(&src.ID, "ceph-id", "", "The cephx user to run as (without client.).")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "Bound of each ceph command.")
	if !parseCommand(fs, args, stderr, false) {
		return 2
	}
	if !osdop.ValidStep(step) || id < 0 || (failureDomain != "host" && failureDomain != "osd") {
		fmt.Fprintf(stderr, "agent osd: --step must be out, in, safe-to-destroy, purge or destroy, --osd-id a non-negative OSD id, --failure-domain host or osd (got %q, %d, %q)\n", step, id, failureDomain)
		return 2
	}
	src.Timeout = timeout
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	res := osdop.Run(ctx, src.Run, step, int32(id), failureDomain)
	msg := osdop.Encode(res)
	fmt.Fprintln(stdout, string(msg))
	if reportFile != "" {
		if err := os.WriteFile(reportFile, msg, 0o644); err != nil {
			fmt.Fprintf(stderr, "agent osd: writing %s: %v\n", reportFile, err)
		}
	}
	return osdop.ExitCode(res.Outcome)
}

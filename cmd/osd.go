package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/agent/report"
)

// runOSD runs one Ceph command for a decommission step (on one OSD) or a
// rollout step (the noout flag, ok-to-stop for several OSDs) and reports
// the outcome as JSON on stdout and in --report. Exit status: 0 done, 1
// failed, 3 never safe, 4 not yet safe (or not ok to stop), 2 bad flags.
func runOSD(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent osd", flag.ContinueOnError)
	var (
		step, failureDomain, reportFile, idList string
		id                                      int
		timeout                                 time.Duration
	)
	src := report.CommandSource{Binary: report.DefaultCephBinary, Conf: report.DefaultConf}
	fs.StringVar(&step, "step", "", "The command: out, in, safe-to-destroy, purge or destroy (on --osd-id), set-noout or unset-noout, ok-to-stop (on --osd-ids), or require-osd-release; required.")
	fs.IntVar(&id, "osd-id", -1, "The OSD's id; required for out, in, safe-to-destroy, purge and destroy.")
	fs.StringVar(&idList, "osd-ids", "", "Comma-separated OSD ids; required for ok-to-stop.")
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
	ids, idsErr := parseOSDIDs(idList)
	switch {
	case !osdop.ValidStep(step) || (failureDomain != "host" && failureDomain != "osd"):
		fmt.Fprintf(stderr, "agent osd: --step must be out, in, safe-to-destroy, purge, destroy, set-noout, unset-noout, ok-to-stop or require-osd-release, --failure-domain host or osd (got %q, %q)\n", step, failureDomain)
		return 2
	case !osdop.ClusterStep(step) && id < 0:
		fmt.Fprintf(stderr, "agent osd: --step %s needs --osd-id, a non-negative OSD id (got %d)\n", step, id)
		return 2
	case idsErr != nil || (step == osdop.StepOKToStop && len(ids) == 0):
		fmt.Fprintf(stderr, "agent osd: --step %s needs --osd-ids, comma-separated non-negative OSD ids (got %q)\n", step, idList)
		return 2
	}
	src.Timeout = timeout
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var res osdop.Result
	if osdop.ClusterStep(step) {
		res = osdop.RunCluster(ctx, src.Run, step, ids)
	} else {
		res = osdop.Run(ctx, src.Run, step, int32(id), failureDomain)
	}
	writeResult(stdout, stderr, "agent osd", reportFile, osdop.Encode(res))
	return osdop.ExitCode(res.Outcome)
}

// writeResult prints a step's result (JSON) and writes it to reportFile,
// the termination message, unless that is empty.
func writeResult(stdout, stderr io.Writer, cmd, reportFile string, msg []byte) {
	fmt.Fprintln(stdout, string(msg))
	if reportFile != "" {
		if err := os.WriteFile(reportFile, msg, 0o644); err != nil {
			fmt.Fprintf(stderr, "%s: writing %s: %v\n", cmd, reportFile, err)
		}
	}
}

// parseOSDIDs reads a comma-separated list of OSD ids ("" is none).
func parseOSDIDs(list string) ([]int32, error) {
	if list == "" {
		return nil, nil
	}
	var ids []int32
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("OSD id %q", f)
		}
		ids = append(ids, int32(n))
	}
	return ids, nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/agent/cephxop"
	"github.com/ceph-operator/ceph-operator/internal/agent/report"
)

// cephxImportOrder is the order in which import gives the keys the
// operator holds their AES-256 keys (files <name>.keyring in --new-keys):
// the monitors' key first, then the users the operator rolls onto new
// keyrings right after, client.admin last.
var cephxImportOrder = []string{"mon", "reporter", "bootstrap-osd", "mgr", "admin"}

// runCephx runs one step of the migration of a cluster's cephx keys to
// AES-256 (import or finish, see cephxop) and reports the outcome as JSON
// on stdout and in --report. Exit status: 0 done, 1 failed, 4 not yet, 2
// bad flags.
func runCephx(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent cephx", flag.ContinueOnError)
	var (
		step, reportFile, newKeys string
		maxOSDs                   int
		replaceRotating           bool
		timeout                   time.Duration
	)
	cur := report.CommandSource{Binary: report.DefaultCephBinary, Conf: report.DefaultConf}
	fs.StringVar(&step, "step", "", "The step: import (the keys the operator holds) or finish (the OSDs' and Ceph's own keys, then AES-256 only); required.")
	fs.StringVar(&newKeys, "new-keys", "", "Directory of the AES-256 keyrings of mon, reporter, bootstrap-osd, mgr and admin (<name>.keyring); import needs all, finish the admin's.")
	fs.IntVar(&maxOSDs, "max-osds", 64, "At most this many OSD keys replaced by one finish run; the next run goes on.")
	fs.BoolVar(&replaceRotating, "replace-rotating-keys", false, "At the end of finish, replace the monitors' rotating service keys at once (ceph auth wipe-rotating-service-keys) instead of letting them expire.")
	fs.StringVar(&reportFile, "report", terminationLog, "File to write the result to, as JSON of at most 4096 bytes (the termination message); empty: none.")
	fs.StringVar(&cur.Binary, "ceph-binary", cur.Binary, "The ceph command-line tool.")
	fs.StringVar(&cur.Conf, "conf", cur.Conf, "ceph.conf to use.")
	fs.StringVar(&cur.Keyring, "keyring", "", "Keyring holding client.admin's key as the cluster's pods mount it now.")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "Bound of each ceph command.")
	if !parseCommand(fs, args, stderr, false) {
		return 2
	}
	if (step != cephxop.StepImport && step != cephxop.StepFinish) || newKeys == "" || cur.Keyring == "" || maxOSDs < 1 {
		fmt.Fprintf(stderr, "agent cephx: --step must be import or finish, with --new-keys, --keyring and a positive --max-osds (got %q, %q, %q, %d)\n", step, newKeys, cur.Keyring, maxOSDs)
		return 2
	}
	cur.ID, cur.Timeout = "admin", timeout
	var entities []cephxop.Entity
	names := cephxImportOrder
	if step == cephxop.StepFinish {
		names = []string{"admin"}
	}
	for _, n := range names {
		path := filepath.Join(newKeys, n+".keyring")
		b, err := os.ReadFile(path)
		if err == nil {
			var e cephxop.Entity
			if e, err = cephxop.ParseKeyring(string(b)); err == nil {
				entities = append(entities, e)
				continue
			}
		}
		fmt.Fprintf(stderr, "agent cephx: %s: %v\n", path, err)
		return 2
	}
	next := cur
	next.Keyring = filepath.Join(newKeys, "admin.keyring")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var res cephxop.Result
	if step == cephxop.StepImport {
		res = cephxop.Import(ctx, cur.RunInput, next.RunInput, entities)
	} else {
		// The cluster's pods mount client.admin's AES-256 keyring by
		// now; the one in --new-keys is the same.
		res = cephxop.Finish(ctx, next.RunInput, cephxop.FinishOptions{MaxOSDs: maxOSDs, ReplaceRotating: replaceRotating})
	}
	writeResult(stdout, stderr, "agent cephx", reportFile, cephxop.Encode(res))
	return cephxop.ExitCode(res.Outcome)
}

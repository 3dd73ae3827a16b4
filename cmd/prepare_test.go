package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

const testFSID = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"

// fakeCephVolumeScript stands in for ceph-volume: it logs its arguments,
// fails (with a long stderr) for devices whose path contains $CV_FAIL, and
// otherwise copies the BlueStore label image $CV_LABEL onto the device
// ($CV_ROOT prefixed), slowly when $CV_SLOW is set.
const fakeCephVolumeScript = `#!/bin/bash
data=""
all="$*"
while [ $# -gt 0 ]; do
  if [ "$1" = "--data" ]; then data="$2"; fi
  shift
done
echo "start $data | $all" >> "$CV_LOG"
if [ -n "$CV_FAIL" ] && [[ "$data" == *"$CV_FAIL"* ]]; then
  for i in $(seq 1 300); do echo "stderr noise $i of ceph-volume" >&2; done
  echo "RuntimeError: Unable to create a new OSD id" >&2
  echo "fail $data" >> "$CV_LOG"
  exit 1
fi
if [ -n "$CV_SLOW" ]; then sleep "$CV_SLOW"; fi
dd if="$CV_LABEL" of="$CV_ROOT$data" bs=4096 conv=notrunc,fsync status=none
if [ -n "$CV_SLOW" ]; then sleep "$CV_SLOW"; fi
echo "end $data" >> "$CV_LOG"
`

type prepareEnv struct {
	dir, log, lock string
}

// installFakeCephVolume puts the stand-in first on PATH and writes the label
// image of OSD 0 of testFSID.
func installFakeCephVolume(t *testing.T, root string) prepareEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ceph-volume"), []byte(fakeCephVolumeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	label := filepath.Join(dir, "label.img")
	if err := os.WriteFile(label, ceph.EncodeBlueStoreLabel(fixture.Label(testFSID, 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	e := prepareEnv{dir: dir, log: filepath.Join(dir, "cv.log"), lock: filepath.Join(dir, "run", "prepare.lock")}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("CV_LOG", e.log)
	t.Setenv("CV_LABEL", label)
	t.Setenv("CV_ROOT", root)
	t.Setenv("CV_FAIL", "")
	t.Setenv("CV_SLOW", "")
	return e
}

func (e prepareEnv) calls(t *testing.T) []string {
	b, err := os.ReadFile(e.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func fixtureNode(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	n := fixture.New(root)
	for _, d := range []fixture.Disk{
		{Name: "sdb", SizeBytes: uint64(10 * fixture.GiB), Links: []string{"by-id/wwn-0xsdb", "by-path/pci-0000:00:1f.2-ata-1-scsi-0:0:0:0"}},
		{Name: "sdc", SizeBytes: uint64(10 * fixture.GiB), Links: []string{"by-id/wwn-0xsdc"}, Content: fixture.Ext4("data")},
		{Name: "sdd", SizeBytes: uint64(10 * fixture.GiB), Links: []string{"by-id/wwn-0xsdd"}},
		{Name: "sde", SizeBytes: uint64(10 * fixture.GiB), Links: []string{"by-id/wwn-0xsde"}},
	} {
		n.Add(d)
	}
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	return root
}

func runPrepareTest(t *testing.T, root string, e prepareEnv, extra ...string) (int, []prepare.Result, string) {
	t.Helper()
	code, results, stderr, err := runPrepareReport(t.TempDir(), root, e, testFSID, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return code, results, stderr
}

// runPrepareReport runs the command and reads back its termination
// message, checking that it is a JSON result list within the limit. It
// does not fail the test itself, so goroutines may call it.
func runPrepareReport(dir, root string, e prepareEnv, fsid string, extra ...string) (int, []prepare.Result, string, error) {
	report := filepath.Join(dir, "termination-log")
	args := append([]string{"--cluster-fsid=" + fsid, "--host-root=" + root, "--report=" + report, "--lock-file=" + e.lock}, extra...)
	var out, errOut bytes.Buffer
	code := runPrepare(args, &out, &errOut)
	b, err := os.ReadFile(report)
	if err != nil {
		return code, nil, errOut.String(), fmt.Errorf("no termination message: %w (stderr %s)", err, errOut.String())
	}
	if len(b) > prepare.TerminationMessageLimit {
		return code, nil, errOut.String(), fmt.Errorf("termination message of %d bytes", len(b))
	}
	var results []prepare.Result
	if err := json.Unmarshal(b, &results); err != nil {
		return code, nil, errOut.String(), fmt.Errorf("termination message is not a JSON result list: %w\n%s", err, b)
	}
	return code, results, errOut.String(), nil
}

// TestPrepareColonLinkAndDeviceClass: a by-path link ending in -0:0:0:0 is
// taken whole, and --device-class gives its class. The old PATH:CLASS
// syntax cut such a link into "...-0:0:0" and a class "0".
func TestPrepareColonLinkAndDeviceClass(t *testing.T) {
	root := fixtureNode(t)
	e := installFakeCephVolume(t, root)
	link := "/dev/disk/by-path/pci-0000:00:1f.2-ata-1-scsi-0:0:0:0"
	code, results, stderr := runPrepareTest(t, root, e, "--device="+link, "--device-class=hdd")
	if code != 0 || len(results) != 1 || results[0].Path != link || results[0].Outcome != prepare.OutcomePrepared || results[0].OSDID == nil {
		t.Fatalf("exit %d, results %+v\n%s", code, results, stderr)
	}
	if got := e.calls(t); len(got) != 2 || got[0] != "start /dev/sdb | raw prepare --bluestore --data /dev/sdb --crush-device-class hdd" {
		t.Errorf("ceph-volume calls %q, want one on sdb (behind %s) with class hdd", got, link)
	}
}

// TestPrepareExitCodes: 0 prepared (or already ours), 3 refused, 1 failed,
// through the real command with a stand-in ceph-volume.
func TestPrepareExitCodes(t *testing.T) {
	root := fixtureNode(t)
	e := installFakeCephVolume(t, root)
	target := func(name string) string {
		return fmt.Sprintf(`--targets=[{"path":"/dev/disk/by-id/wwn-0x%s"}]`, name)
	}

	code, results, _ := runPrepareTest(t, root, e, target("sdb"))
	if code != 0 || results[0].Outcome != prepare.OutcomePrepared || *results[0].OSDID != 0 {
		t.Errorf("blank disk: exit %d, %+v", code, results)
	}
	code, results, _ = runPrepareTest(t, root, e, target("sdb"))
	if code != 0 || results[0].Reason != prepare.ReasonAlreadyOSD {
		t.Errorf("our OSD again: exit %d, %+v", code, results)
	}
	code, results, _ = runPrepareTest(t, root, e, target("sdc"))
	if code != 3 || results[0].Outcome != prepare.OutcomeRefused || results[0].Reason != "HasFilesystem" {
		t.Errorf("disk with a filesystem: exit %d, %+v", code, results)
	}
	t.Setenv("CV_FAIL", "sdd")
	code, results, _ = runPrepareTest(t, root, e, `--targets=[{"path":"/dev/disk/by-id/wwn-0xsdd"},{"path":"/dev/disk/by-id/wwn-0xsdc"}]`)
	if code != 1 || results[0].Outcome != prepare.OutcomeFailed || results[1].Outcome != prepare.OutcomeRefused {
		t.Errorf("failing ceph-volume: exit %d, %+v", code, results)
	}
	if !strings.HasSuffix(strings.TrimSpace(results[0].Stderr), "RuntimeError: Unable to create a new OSD id") || !strings.Contains(results[0].Stderr, "stderr noise 300") {
		t.Errorf("failure evidence: %q", results[0].Stderr)
	}
	// A planned identity that does not match: refused, exit 3.
	code, results, _ = runPrepareTest(t, root, e, `--targets=[{"path":"/dev/disk/by-id/wwn-0xsde","sizeBytes":1234}]`)
	if code != 3 || results[0].Reason != prepare.ReasonIdentityMismatch {
		t.Errorf("identity mismatch: exit %d, %+v", code, results)
	}
}

// TestPrepareAnnouncesTheDisksItWrote: after the run, the prepared disk
// and the one whose ceph-volume failed get a "change" uevent (written to
// their sysfs uevent file), so the node's agent rescans them without
// waiting for the operator; the refused disk's file is left as it was.
func TestPrepareAnnouncesTheDisksItWrote(t *testing.T) {
	root := fixtureNode(t)
	e := installFakeCephVolume(t, root)
	uevent := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, "sys", "block", name, "uevent"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	refused := uevent("sdc")
	t.Setenv("CV_FAIL", "sdd")
	code, results, stderr := runPrepareTest(t, root, e,
		`--targets=[{"path":"/dev/disk/by-id/wwn-0xsdb"},{"path":"/dev/disk/by-id/wwn-0xsdc"},{"path":"/dev/disk/by-id/wwn-0xsdd"}]`)
	if code != 1 || results[0].Outcome != prepare.OutcomePrepared || results[1].Outcome != prepare.OutcomeRefused || results[2].Outcome != prepare.OutcomeFailed {
		t.Fatalf("exit %d, results %+v\n%s", code, results, stderr)
	}
	if got := uevent("sdb"); got != "change" {
		t.Errorf("prepared sdb's uevent holds %q, want change", got)
	}
	if got := uevent("sdd"); got != "change" {
		t.Errorf("failed sdd's uevent holds %q, want change", got)
	}
	if got := uevent("sdc"); got != refused {
		t.Errorf("refused sdc's uevent holds %q, want it untouched (%q)", got, refused)
	}
}

// TestPrepareManyFailuresFitTheTerminationMessage: 50 failing targets with
// long stderr still give a valid termination message of at most 4096 bytes.
func TestPrepareManyFailuresFitTheTerminationMessage(t *testing.T) {
	if testing.Short() {
		// Each failed device costs about a second (the check that it still
		// reads as blank), so 50 take about a minute: too long for the
		// inner loop (make test-unit); make test runs it.
		t.Skip("skipping: 50 failing prepares take about a minute; not run with -short")
	}
	root := t.TempDir()
	if _, err := fixture.ManyDisks(root, 50); err != nil {
		t.Fatal(err)
	}
	e := installFakeCephVolume(t, root)
	t.Setenv("CV_FAIL", "/dev/")
	var paths []string
	entries, err := os.ReadDir(filepath.Join(root, "sys", "block"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []prepare.Target
	for _, en := range entries {
		targets = append(targets, prepare.Target{Path: "/dev/" + en.Name()})
		paths = append(paths, en.Name())
	}
	js, _ := json.Marshal(targets)
	code, results, _ := runPrepareTest(t, root, e, "--targets="+string(js), "--min-size-bytes=1")
	if code != 1 || len(results) == 0 {
		t.Fatalf("exit %d with %d results", code, len(results))
	}
	for _, r := range results {
		if r.Outcome != prepare.OutcomeFailed {
			t.Errorf("%s: %s, want Failed", r.Path, r.Outcome)
		}
	}
	t.Logf("%d targets, %d results kept in the termination message", len(paths), len(results))
}

func TestPrepareBadFlags(t *testing.T) {
	root := fixtureNode(t)
	e := installFakeCephVolume(t, root)
	for name, args := range map[string][]string{
		"no fsid":              {"--device=/dev/sdb"},
		"no device":            {"--cluster-fsid=" + testFSID},
		"relative device":      {"--cluster-fsid=" + testFSID, "--device=sdb"},
		"dot-dot device":       {"--cluster-fsid=" + testFSID, "--device=/dev/disk/../sdb"},
		"bad targets":          {"--cluster-fsid=" + testFSID, "--targets=[{\"path\":\"/dev/sdb\""},
		"unknown target field": {"--cluster-fsid=" + testFSID, `--targets=[{"path":"/dev/sdb","class":"ssd"}]`},
		"class without device": {"--cluster-fsid=" + testFSID, `--targets=[{"path":"/dev/sdb"}]`, "--device-class=ssd"},
		"bad class":            {"--cluster-fsid=" + testFSID, "--device=/dev/sdb", "--device-class=SSD!"},
		"device twice":         {"--cluster-fsid=" + testFSID, "--device=/dev/sdb", `--targets=[{"path":"/dev/sdb"}]`},
		"zero device timeout":  {"--cluster-fsid=" + testFSID, "--device=/dev/sdb", "--device-timeout=0"},
		"positional arguments": {"--cluster-fsid=" + testFSID, "--device=/dev/sdb", "extra"},
		"no lock file":         {"--cluster-fsid=" + testFSID, "--device=/dev/sdb", "--lock-file="},
	} {
		var out, errOut bytes.Buffer
		args = append([]string{"--host-root=" + root, "--lock-file=" + e.lock, "--report="}, args...)
		if code := runPrepare(args, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d, want 2 (stderr %q)", name, code, errOut.String())
		}
	}
	if calls := e.calls(t); len(calls) != 0 {
		t.Errorf("ceph-volume ran on bad flags: %q", calls)
	}

	// The old PATH:CLASS form is no longer split: it names a device that
	// does not exist, which is refused without touching sdb.
	code, results, _ := runPrepareTest(t, root, e, "--device=/dev/sdb:ssd")
	if code != 3 || results[0].Path != "/dev/sdb:ssd" || results[0].Reason != "Unreadable" {
		t.Errorf("old syntax: exit %d, %+v", code, results)
	}
}

// TestPrepareForwardsSIGTERM: SIGTERM to the agent reaches the running
// ceph-volume as SIGTERM (its trap runs), the device is reported Failed as
// possibly half-prepared, the next device is not touched, and the results
// are still written.
func TestPrepareForwardsSIGTERM(t *testing.T) {
	root := fixtureNode(t)
	e := installFakeCephVolume(t, root)
	marks := t.TempDir()
	script := `#!/bin/bash
trap 'echo TERM > "` + marks + `/term"; echo "interrupted, rolling back" >&2; exit 143' TERM
echo "start $*" >> "$CV_LOG"
touch "` + marks + `/started"
sleep 300 &
wait
`
	if err := os.WriteFile(filepath.Join(e.dir, "ceph-volume"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	type run struct {
		code    int
		results []prepare.Result
		err     error
	}
	done := make(chan run, 1)
	go func() {
		var r run
		r.code, r.results, _, r.err = runPrepareReport(t.TempDir(), root, e, testFSID,
			`--targets=[{"path":"/dev/disk/by-id/wwn-0xsdb"},{"path":"/dev/disk/by-id/wwn-0xsdd"}]`)
		done <- r
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(marks, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ceph-volume never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// runPrepare has registered for SIGTERM by now (ceph-volume runs), so
	// the signal goes to it, not to the test process's default action.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if b, err := os.ReadFile(filepath.Join(marks, "term")); err != nil || string(b) != "TERM\n" {
		t.Errorf("ceph-volume did not get SIGTERM: %q, %v", b, err)
	}
	if r.code != 1 || len(r.results) != 2 {
		t.Fatalf("exit %d, results %+v", r.code, r.results)
	}
	first, second := r.results[0], r.results[1]
	if first.Outcome != prepare.OutcomeFailed || first.Reason != prepare.ReasonInterrupted ||
		!strings.Contains(first.Message, "received terminated") || !strings.Contains(first.Message, "may be half-prepared") ||
		!strings.Contains(first.Stderr, "interrupted, rolling back") {
		t.Errorf("interrupted device: %+v", first)
	}
	if second.Outcome != prepare.OutcomeFailed || !strings.Contains(second.Message, "not attempted") {
		t.Errorf("device after the signal: %+v", second)
	}
	if calls := e.calls(t); len(calls) != 1 {
		t.Errorf("ceph-volume calls %q, want one", calls)
	}
}

// TestPrepareSplitDiskTargets: the partitions of a split disk share its
// path and are each a target of their own; the same partition twice is
// refused as bad flags before anything is done.
func TestPrepareSplitDiskTargets(t *testing.T) {
	root := fixtureNode(t)
	e := installFakeCephVolume(t, root)
	part := func(n int) string {
		return fmt.Sprintf(`{"path":"/dev/sdb","id":"/dev/sdb-part%d","data":{"device":{"path":"/dev/sdb"},"role":"Data","number":%d,"label":"ceph-osd.%s.%d","startBytes":%d,"sizeBytes":%d}}`,
			n, n, testFSID[:8], n, (1<<20)+int64(n-1)*(1<<30), 1<<30)
	}
	for name, c := range map[string]struct {
		targets string
		bad     bool
	}{
		"two partitions of one disk": {targets: "[" + part(1) + "," + part(2) + "]"},
		"one partition twice":        {targets: "[" + part(1) + "," + part(1) + "]", bad: true},
	} {
		var out, errOut bytes.Buffer
		args := []string{"--host-root=" + root, "--lock-file=" + e.lock, "--report=", "--cluster-fsid=" + testFSID, "--targets=" + c.targets}
		code := runPrepare(args, &out, &errOut)
		if (code == 2) != c.bad || (c.bad && !strings.Contains(errOut.String(), "/dev/sdb partition 1 is given twice")) {
			t.Errorf("%s: exit %d (stderr %q), want bad flags %v", name, code, errOut.String(), c.bad)
		}
	}
}

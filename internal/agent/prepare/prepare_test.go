package prepare

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

const fsid = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"

// fakeCephVolume records its calls and, like the real one, writes a
// BlueStore label of this cluster onto each device it prepares. hook, when
// set, runs first and may replace the behaviour for a call.
type fakeCephVolume struct {
	root   string
	calls  [][]string
	nextID int
	fail   map[string]bool
	// heldDuring records, per call, whether the locker held the device.
	locker     *fakeLocker
	heldDuring []bool
	hook       func(ctx context.Context, dev string) (handled bool, err error)
}

func (f *fakeCephVolume) CephVolume(ctx context.Context, args ...string) ([]byte, error) {
	f.calls = append(f.calls, args)
	if len(args) < 5 || args[0] != "raw" || args[1] != "prepare" {
		return nil, errors.New("unexpected call")
	}
	dev := args[4]
	if f.locker != nil {
		f.heldDuring = append(f.heldDuring, len(f.locker.holding) > 0)
	}
	if f.hook != nil {
		if handled, err := f.hook(ctx, dev); handled {
			return nil, err
		}
	}
	if f.fail[dev] {
		return nil, &CommandError{Err: errors.New("exit status 1"), Stderr: "Traceback...\nRuntimeError: mkfs failed\n"}
	}
	id := f.nextID
	f.nextID++
	label := fixture.Label(fsid, id)
	if err := writeChunks(filepath.Join(f.root, dev), fixture.BlueStore(label)); err != nil {
		return nil, err
	}
	return []byte("--> ceph-volume raw prepare successful\n"), nil
}

func writeChunks(path string, chunks []fixture.Chunk) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if _, err := fh.WriteAt(c.Data, c.Offset); err != nil {
			_ = fh.Close()
			return err
		}
	}
	return fh.Close()
}

// fakeLocker refuses the devices in busy and records what it holds.
type fakeLocker struct {
	busy map[string]bool
	// busyFor makes a device busy for that many Lock calls.
	busyFor map[string]int
	tries   map[string]int
	holding map[string]bool
	taken   []string
}

func (l *fakeLocker) Lock(path string) (func(), error) {
	name := filepath.Base(path)
	if l.tries == nil {
		l.tries = map[string]int{}
	}
	l.tries[name]++
	if l.busy[name] || l.tries[name] <= l.busyFor[name] {
		return nil, errors.New("device or resource busy")
	}
	if l.holding == nil {
		l.holding = map[string]bool{}
	}
	if l.holding[path] {
		return nil, errors.New("already held")
	}
	l.holding[path] = true
	l.taken = append(l.taken, filepath.Base(path))
	return func() { delete(l.holding, path) }, nil
}

// hookScanner is the real discovery scanner with a hook that runs before
// each scan, so a test can change the node between two scans.
type hookScanner struct {
	DiscoveryScanner
	scans  int
	before func(scan int, held string)
}

func (s *hookScanner) Scan(held string) ([]discovery.Device, error) {
	s.scans++
	if s.before != nil {
		s.before(s.scans, held)
	}
	return s.DiscoveryScanner.Scan(held)
}

func wwn(name string) string { return "by-id/wwn-0x" + name }

func byID(name string) string { return "/dev/disk/" + wwn(name) }

func buildNode(t *testing.T) (string, *fixture.Node) {
	t.Helper()
	root := t.TempDir()
	n := fixture.New(root)
	for _, d := range []fixture.Disk{
		{Name: "sdb", SizeBytes: uint64(10 * fixture.GiB), Links: []string{wwn("sdb")}},
		{Name: "sdc", SizeBytes: uint64(10 * fixture.GiB), Links: []string{wwn("sdc")}, Content: fixture.Ext4("data")},
		{Name: "sdd", SizeBytes: uint64(10 * fixture.GiB), Links: []string{wwn("sdd")}},
		{Name: "sde", SizeBytes: uint64(10 * fixture.GiB), Links: []string{wwn("sde")}},
		{Name: "sdf", SizeBytes: uint64(10 * fixture.GiB), Links: []string{wwn("sdf")}},
	} {
		d.Serial, d.WWID = "SN-"+d.Name, "naa.5000c500000000"+d.Name
		n.Add(d)
	}
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	return root, n
}

func scannerFor(root string) *hookScanner {
	return &hookScanner{DiscoveryScanner: DiscoveryScanner{discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}}}
}

func optionsFor(root string, names ...string) Options {
	o := Options{Root: root, Verdict: discovery.Options{ClusterFSID: fsid, MinSizeBytes: 1 << 30}, BusyRetryDelay: 10 * time.Millisecond}
	for _, n := range names {
		o.Targets = append(o.Targets, Target{Path: byID(n)})
	}
	return o
}

func outcomes(results []Result) map[string]string {
	got := map[string]string{}
	for _, r := range results {
		got[filepath.Base(r.Path)] = r.Outcome + "/" + r.Reason
	}
	return got
}

// TestRunRefusesWhatIsNoLongerEmpty prepares five planned devices of which
// one always had a filesystem, one got one after the plan, one is busy and
// one makes ceph-volume fail: only the two free ones are written.
func TestRunRefusesWhatIsNoLongerEmpty(t *testing.T) {
	root, _ := buildNode(t)
	// sdd was empty when planned; a filesystem appears before prepare runs.
	if err := writeChunks(filepath.Join(root, "dev", "sdd"), fixture.Ext4("late")); err != nil {
		t.Fatal(err)
	}
	locker := &fakeLocker{busy: map[string]bool{"sde": true}}
	cv := &fakeCephVolume{root: root, fail: map[string]bool{"/dev/sdf": true}, locker: locker}
	opts := optionsFor(root, "sdb", "sdc", "sdd", "sde", "sdf")
	opts.Targets[0].DeviceClass = "ssd"
	results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), locker, cv)

	want := map[string]string{
		"wwn-0xsdb": "Prepared/",
		"wwn-0xsdc": "Refused/HasFilesystem",
		"wwn-0xsdd": "Refused/HasFilesystem",
		"wwn-0xsde": "Refused/Busy",
		"wwn-0xsdf": "Failed/CephVolumeFailed",
	}
	if got := outcomes(results); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes %v\nwant     %v", got, want)
	}
	if results[0].OSDID == nil || *results[0].OSDID != 0 || results[0].OSDUUID != fixture.Label(fsid, 0).OSDUUID {
		t.Errorf("prepared sdb reports OSD %v uuid %q", results[0].OSDID, results[0].OSDUUID)
	}
	if f := results[4]; !strings.Contains(f.Stderr, "RuntimeError: mkfs failed") || !strings.Contains(f.Message, "mkfs failed") {
		t.Errorf("failure lacks ceph-volume's stderr: %+v", f)
	}
	if code := ExitCode(results); code != ExitFailed {
		t.Errorf("exit code %d, want %d", code, ExitFailed)
	}

	// ceph-volume was called for sdb (with its class) and sdf only; never
	// for a refused device. The device was held during both calls.
	wantCalls := [][]string{
		{"raw", "prepare", "--bluestore", "--data", "/dev/sdb", "--crush-device-class", "ssd"},
		{"raw", "prepare", "--bluestore", "--data", "/dev/sdf"},
	}
	if !reflect.DeepEqual(cv.calls, wantCalls) {
		t.Errorf("ceph-volume calls %q\nwant %q", cv.calls, wantCalls)
	}
	if !reflect.DeepEqual(cv.heldDuring, []bool{true, true}) {
		t.Errorf("device held during ceph-volume: %v, want held both times", cv.heldDuring)
	}
	if len(locker.holding) != 0 {
		t.Errorf("devices still held after Run: %v", locker.holding)
	}

	// A second run finds sdb holding our OSD and leaves it alone: that is
	// success, not a refusal.
	cv.calls = nil
	opts.Targets = opts.Targets[:1]
	results = Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)
	if len(results) != 1 || results[0].Outcome != OutcomePrepared || results[0].Reason != ReasonAlreadyOSD || results[0].OSDID == nil || *results[0].OSDID != 0 {
		t.Errorf("second run on sdb: %+v", results)
	}
	if ExitCode(results) != ExitPrepared {
		t.Errorf("second run exit code %d, want 0", ExitCode(results))
	}
	if len(cv.calls) != 0 {
		t.Errorf("second run called ceph-volume: %q", cv.calls)
	}
}

// TestRunRescansBeforeEachDisk: while the first disk is being prepared,
// something writes a filesystem onto the second. A single scan for the
// whole run would still call the second blank and overwrite it.
func TestRunRescansBeforeEachDisk(t *testing.T) {
	root, _ := buildNode(t)
	cv := &fakeCephVolume{root: root}
	first := true
	cv.hook = func(context.Context, string) (bool, error) {
		if first {
			first = false
			return false, writeChunks(filepath.Join(root, byID("sdd")), fixture.XFS("meanwhile"))
		}
		return false, nil
	}
	results := Run(context.Background(), logr.Discard(), optionsFor(root, "sdb", "sdd"), scannerFor(root), &fakeLocker{}, cv)
	want := map[string]string{"wwn-0xsdb": "Prepared/", "wwn-0xsdd": "Refused/HasFilesystem"}
	if got := outcomes(results); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if len(cv.calls) != 1 {
		t.Errorf("ceph-volume calls %q, want only sdb", cv.calls)
	}
	if ExitCode(results) != ExitRefused {
		t.Errorf("exit code %d, want %d", ExitCode(results), ExitRefused)
	}
}

// TestRunIdentityMismatch: kernel names change across reboots and disks get
// swapped. A target whose path now leads to a disk with another identity
// is refused, naming expected and found.
func TestRunIdentityMismatch(t *testing.T) {
	root, _ := buildNode(t)
	scan := scannerFor(root)
	devs, err := scan.Scan("")
	if err != nil {
		t.Fatal(err)
	}
	ident := map[string]discovery.Device{}
	for _, d := range devs {
		ident[d.KernelName] = d
	}
	target := func(name string) Target {
		d := ident[name]
		return Target{Path: byID(name), ID: d.StableID(), WWN: d.WWN, Serial: d.Serial, SizeBytes: int64(d.SizeBytes)}
	}

	opts := optionsFor(root)
	opts.Targets = []Target{target("sdb"), target("sdd"), target("sde"), target("sdf"), target("sdc")}
	// sdc (which also holds a filesystem) was planned under another id:
	// identity is checked first.
	opts.Targets[4].ID = "/dev/disk/by-id/wwn-0xelsewhere"
	// sde was planned with another size; sdf with another serial.
	opts.Targets[2].SizeBytes = 20 * fixture.GiB
	opts.Targets[3].Serial = "OTHER-SERIAL"
	opts.Targets[3].WWN = "0x5000000000000001"

	cv := &fakeCephVolume{root: root}
	// While sdb is prepared, sdd's link is re-pointed to sde (the disk
	// behind the name changed, as after a swap or re-enumeration).
	cv.hook = func(_ context.Context, dev string) (bool, error) {
		if dev == "/dev/sdb" {
			link := filepath.Join(root, byID("sdd"))
			if err := os.Remove(link); err != nil {
				return true, err
			}
			return false, os.Symlink("../../sde", link)
		}
		return false, nil
	}
	results := Run(context.Background(), logr.Discard(), opts, scan, &fakeLocker{}, cv)
	want := map[string]string{
		"wwn-0xsdb": "Prepared/",
		"wwn-0xsdd": "Refused/IdentityMismatch",
		"wwn-0xsde": "Refused/IdentityMismatch",
		"wwn-0xsdf": "Refused/IdentityMismatch",
		"wwn-0xsdc": "Refused/IdentityMismatch",
	}
	if got := outcomes(results); !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	for i, sub := range []string{
		"",
		`expected WWN "` + ident["sdd"].WWN + `", found "` + ident["sde"].WWN + `"; expected serial "SN-sdd", found "SN-sde"`,
		"expected size 21474836480 bytes, found 10737418240",
		`expected WWN "0x5000000000000001"`,
		`expected stable id "/dev/disk/by-id/wwn-0xelsewhere", found "/dev/disk/by-id/wwn-0xsdc"`,
	} {
		if !strings.Contains(results[i].Message, sub) {
			t.Errorf("%s: message %q lacks %q", results[i].Path, results[i].Message, sub)
		}
	}
	if len(cv.calls) != 1 {
		t.Errorf("ceph-volume calls %q, want only sdb", cv.calls)
	}
}

// TestRunDiskFilledBetweenScanAndHold: the first scan sees sdb blank; before
// the scan under the hold, a filesystem appears. Nothing is written.
func TestRunDiskFilledBetweenScanAndHold(t *testing.T) {
	root, _ := buildNode(t)
	scan := scannerFor(root)
	var heldAt []string
	scan.before = func(n int, held string) {
		heldAt = append(heldAt, held)
		if n == 2 {
			if err := writeChunks(filepath.Join(root, "dev", "sdb"), fixture.Ext4("raced")); err != nil {
				t.Error(err)
			}
		}
	}
	locker := &fakeLocker{}
	cv := &fakeCephVolume{root: root}
	results := Run(context.Background(), logr.Discard(), optionsFor(root, "sdb"), scan, locker, cv)
	if got := outcomes(results); got["wwn-0xsdb"] != "Refused/HasFilesystem" {
		t.Errorf("outcome %v, want Refused/HasFilesystem", got)
	}
	if len(cv.calls) != 0 {
		t.Errorf("ceph-volume called: %q", cv.calls)
	}
	// The second scan ran under the hold and told the scanner so.
	if want := []string{"", filepath.Join(root, "dev", "sdb")}; !reflect.DeepEqual(heldAt, want) {
		t.Errorf("scans held %q, want %q", heldAt, want)
	}
	if !reflect.DeepEqual(locker.taken, []string{"sdb"}) || len(locker.holding) != 0 {
		t.Errorf("locker took %v and still holds %v", locker.taken, locker.holding)
	}
}

// TestRunReleaseBeforeCephVolume: for Ceph releases whose ceph-osd opens the
// device O_EXCL itself, the hold is dropped before ceph-volume runs.
func TestRunReleaseBeforeCephVolume(t *testing.T) {
	root, _ := buildNode(t)
	locker := &fakeLocker{}
	cv := &fakeCephVolume{root: root, locker: locker}
	opts := optionsFor(root, "sdb")
	opts.ReleaseBeforeCephVolume = true
	results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), locker, cv)
	if results[0].Outcome != OutcomePrepared {
		t.Fatalf("result %+v", results[0])
	}
	if !reflect.DeepEqual(cv.heldDuring, []bool{false}) {
		t.Errorf("held during ceph-volume: %v, want released", cv.heldDuring)
	}
}

// TestRunVerifiesAfterCephVolume: ceph-volume's exit status is not proof.
// A run that exits 0 but leaves the disk blank, or with another cluster's
// label, or with an incomplete label, is Failed.
func TestRunVerifiesAfterCephVolume(t *testing.T) {
	foreign := fixture.Label("00000000-1111-2222-3333-444444444444", 3)
	cases := map[string][]fixture.Chunk{
		"blank":   nil,
		"foreign": fixture.BlueStore(foreign),
	}
	for name, chunks := range cases {
		t.Run(name, func(t *testing.T) {
			root, _ := buildNode(t)
			cv := &fakeCephVolume{root: root}
			cv.hook = func(_ context.Context, dev string) (bool, error) {
				return true, writeChunks(filepath.Join(root, dev), chunks)
			}
			results := Run(context.Background(), logr.Discard(), optionsFor(root, "sdb"), scannerFor(root), &fakeLocker{}, cv)
			r := results[0]
			if r.Outcome != OutcomeFailed || r.Reason != ReasonNotVerified || !strings.Contains(r.Message, "does not read back as a complete OSD of this cluster") {
				t.Errorf("result %+v", r)
			}
		})
	}
}

// TestRunPerDiskDeadline: the first disk's ceph-volume hangs; its own
// deadline stops it and the second disk still gets its full time.
func TestRunPerDiskDeadline(t *testing.T) {
	root, _ := buildNode(t)
	cv := &fakeCephVolume{root: root}
	cv.hook = func(ctx context.Context, dev string) (bool, error) {
		if dev != "/dev/sdb" {
			return false, nil
		}
		<-ctx.Done()
		return true, &CommandError{Err: errors.New("signal: terminated"), Stderr: "stopping\n"}
	}
	opts := optionsFor(root, "sdb", "sdd")
	opts.DeviceTimeout = 200 * time.Millisecond
	results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)
	want := map[string]string{"wwn-0xsdb": "Failed/Interrupted", "wwn-0xsdd": "Prepared/"}
	if got := outcomes(results); !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	for _, sub := range []string{"per-disk deadline of 200ms", "may be half-prepared", "still reads as blank"} {
		if !strings.Contains(results[0].Message, sub) {
			t.Errorf("message %q lacks %q", results[0].Message, sub)
		}
	}
}

// TestRunStoppedSkipsTheRest: a termination signal during the first disk
// stops it and leaves the other disks untouched, reported as not attempted.
func TestRunStoppedSkipsTheRest(t *testing.T) {
	root, _ := buildNode(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	cv := &fakeCephVolume{root: root}
	cv.hook = func(c context.Context, _ string) (bool, error) {
		cancel(errors.New("received SIGTERM"))
		<-c.Done()
		return true, &CommandError{Err: errors.New("signal: terminated")}
	}
	results := Run(ctx, logr.Discard(), optionsFor(root, "sdb", "sdd"), scannerFor(root), &fakeLocker{}, cv)
	want := map[string]string{"wwn-0xsdb": "Failed/Interrupted", "wwn-0xsdd": "Failed/Interrupted"}
	if got := outcomes(results); !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	if !strings.Contains(results[0].Message, "received SIGTERM") || !strings.Contains(results[1].Message, "not attempted") {
		t.Errorf("messages %q / %q", results[0].Message, results[1].Message)
	}
	if len(cv.calls) != 1 {
		t.Errorf("ceph-volume calls %q, want one", cv.calls)
	}
}

// TestRunRetriesBusy: a disk busy for an instant (another tool's probe) is
// checked again and prepared; one busy on every check is refused.
func TestRunRetriesBusy(t *testing.T) {
	root, _ := buildNode(t)
	locker := &fakeLocker{busyFor: map[string]int{"sdb": 2}, busy: map[string]bool{"sdd": true}}
	cv := &fakeCephVolume{root: root}
	results := Run(context.Background(), logr.Discard(), optionsFor(root, "sdb", "sdd"), scannerFor(root), locker, cv)
	want := map[string]string{"wwn-0xsdb": "Prepared/", "wwn-0xsdd": "Refused/Busy"}
	if got := outcomes(results); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if locker.tries["sdb"] != 3 || locker.tries["sdd"] != 3 {
		t.Errorf("hold attempts %v, want 3 each", locker.tries)
	}
}

// TestRunStoppedWhileBusy: a stop while waiting for a busy device is an
// interruption, not a refusal (a refusal is not retried until the disk's
// content changes).
func TestRunStoppedWhileBusy(t *testing.T) {
	root, _ := buildNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	opts := optionsFor(root, "sdb")
	opts.BusyRetryDelay = time.Hour
	locker := &fakeLocker{busy: map[string]bool{"sdb": true}}
	time.AfterFunc(50*time.Millisecond, cancel)
	results := Run(ctx, logr.Discard(), opts, scannerFor(root), locker, &fakeCephVolume{root: root})
	if got := outcomes(results); got["wwn-0xsdb"] != "Failed/Interrupted" {
		t.Errorf("outcome %v, want Failed/Interrupted", got)
	}
}

func TestRunRefusesUnknownDevice(t *testing.T) {
	root, _ := buildNode(t)
	cv := &fakeCephVolume{root: root}
	opts := optionsFor(root, "gone")
	results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)
	if results[0].Outcome != OutcomeRefused || results[0].Reason != string(discovery.Unreadable) {
		t.Errorf("missing device: %+v", results)
	}
	if len(cv.calls) != 0 {
		t.Errorf("ceph-volume called for a missing device: %q", cv.calls)
	}
}

// TestDiscoveryScannerHeld: under our own O_EXCL hold the held device is not
// reported busy, every other busy device still is.
func TestDiscoveryScannerHeld(t *testing.T) {
	root, _ := buildNode(t)
	busy := map[string]bool{filepath.Join(root, "dev", "sdb"): true, filepath.Join(root, "dev", "sdd"): true}
	s := DiscoveryScanner{discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{Busy: busy}}}
	devs, err := s.Scan(filepath.Join(root, "dev", "sdb"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range devs {
		got[d.KernelName] = d.Busy
	}
	if got["sdb"] || !got["sdd"] {
		t.Errorf("busy under hold of sdb: %v, want sdb free and sdd busy", got)
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		outcomes []string
		want     int
	}{
		{nil, ExitPrepared},
		{[]string{OutcomePrepared, OutcomePrepared}, ExitPrepared},
		{[]string{OutcomePrepared, OutcomeRefused}, ExitRefused},
		{[]string{OutcomeRefused, OutcomeFailed, OutcomePrepared}, ExitFailed},
		{[]string{"Bogus"}, ExitFailed},
	} {
		var rs []Result
		for _, o := range c.outcomes {
			rs = append(rs, Result{Outcome: o})
		}
		if got := ExitCode(rs); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.outcomes, got, c.want)
		}
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(`[{"path":"/dev/disk/by-path/pci-0000:00:1f.2-ata-1-scsi-0:0:0:0","deviceClass":"hdd","id":"/dev/disk/by-id/wwn-0x5000c500a1b2c3d4","wwn":"0x5000c500a1b2c3d4","serial":"Z1","sizeBytes":4000787030016},{"path":"/dev/sdb"}]`)
	want := []Target{
		{Path: "/dev/disk/by-path/pci-0000:00:1f.2-ata-1-scsi-0:0:0:0", DeviceClass: "hdd", ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", WWN: "0x5000c500a1b2c3d4", Serial: "Z1", SizeBytes: 4000787030016},
		{Path: "/dev/sdb"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseTargets = %+v, %v\nwant %+v", got, err, want)
	}
	for in, sub := range map[string]string{
		`[{"path":"sdb"}]`:                          "under /dev/",
		`[{"path":"/dev/disk/by-id/../../sda"}]`:    "no '.', '..'",
		`[{"path":"/dev//sda"}]`:                    "no '.', '..'",
		`[{"path":""}]`:                             "empty",
		`[{"path":"/dev/sdb","class":"ssd"}]`:       "unknown field",
		`[{"path":"/dev/sdb","deviceClass":"SSD"}]`: "device class",
		`[{"path":"/dev/sdb","sizeBytes":-1}]`:      "negative",
		`{"path":"/dev/sdb"}`:                       "JSON array",
		`[] []`:                                     "after the JSON array",
	} {
		if _, err := ParseTargets(in); err == nil || !strings.Contains(err.Error(), sub) {
			t.Errorf("ParseTargets(%s) error %v, want one mentioning %q", in, err, sub)
		}
	}
}

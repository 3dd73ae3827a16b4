package agent

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/uevent"
)

// fakeScanner returns a settable device list and signals every scan.
type fakeScanner struct {
	mu      sync.Mutex
	devs    []discovery.Device
	err     error
	scans   int
	scanned chan struct{}
}

func newFakeScanner(devs ...discovery.Device) *fakeScanner {
	return &fakeScanner{devs: devs, scanned: make(chan struct{}, 1000)}
}

func (f *fakeScanner) Scan() ([]discovery.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans++
	f.scanned <- struct{}{}
	return append([]discovery.Device(nil), f.devs...), f.err
}

func (f *fakeScanner) set(devs ...discovery.Device) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devs = devs
}

func (f *fakeScanner) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scans
}

// fakeInventory is an in-memory DiskInventory with a watch.
type fakeInventory struct {
	mu       sync.Mutex
	obj      *cephv1alpha1.DiskInventory
	changed  chan<- struct{}
	applies  []cephv1alpha1.DiskInventoryStatus
	applied  chan struct{}
	applyErr []error
}

func newFakeInventory(obj *cephv1alpha1.DiskInventory) *fakeInventory {
	return &fakeInventory{obj: obj, applied: make(chan struct{}, 1000)}
}

func (f *fakeInventory) Watch(ctx context.Context, changed chan<- struct{}) error {
	f.mu.Lock()
	f.changed = changed
	f.mu.Unlock()
	f.kick()
	<-ctx.Done()
	return nil
}

func (f *fakeInventory) kick() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		return
	}
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeInventory) Current(context.Context) (*cephv1alpha1.DiskInventory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.obj == nil {
		return nil, nil
	}
	return f.obj.DeepCopy(), nil
}

func (f *fakeInventory) ApplyStatus(_ context.Context, st cephv1alpha1.DiskInventoryStatus) error {
	f.mu.Lock()
	if len(f.applyErr) > 0 {
		err := f.applyErr[0]
		f.applyErr = f.applyErr[1:]
		f.mu.Unlock()
		return err
	}
	f.applies = append(f.applies, st)
	f.obj.Status = st
	f.mu.Unlock()
	f.applied <- struct{}{}
	f.kick()
	return nil
}

// update changes the object as the operator would and fires the watch.
func (f *fakeInventory) update(mutate func(**cephv1alpha1.DiskInventory)) {
	f.mu.Lock()
	mutate(&f.obj)
	f.mu.Unlock()
	f.kick()
}

func (f *fakeInventory) applyCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applies)
}

func (f *fakeInventory) last() cephv1alpha1.DiskInventoryStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies[len(f.applies)-1]
}

// fakeUevents forwards events from a channel, or fails at once.
type fakeUevents struct {
	in  chan uevent.Event
	err error
}

func (f fakeUevents) Listen(ctx context.Context, out chan<- uevent.Event) error {
	if f.err != nil {
		return f.err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-f.in:
			out <- ev
		}
	}
}

func disk(name string, size uint64) discovery.Device {
	return discovery.Device{KernelName: name, DevPath: "/dev/" + name, Type: discovery.TypeDisk, SizeBytes: size, Probed: true}
}

func inventory(uid string) *cephv1alpha1.DiskInventory {
	return &cephv1alpha1.DiskInventory{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Namespace: "ceph", UID: types.UID(uid)},
		Spec:       cephv1alpha1.DiskInventorySpec{NodeName: "node-a"},
	}
}

func testConfig() Config {
	c := DefaultConfig(func(string) string { return "" })
	c.NodeName, c.Namespace = "node-a", "ceph"
	c.Debounce = 20 * time.Millisecond
	return c
}

// startAgent runs an agent and stops it when the test ends, checking that
// Run returns nil on cancellation.
func startAgent(t *testing.T, cfg Config, deps Deps) *Agent {
	t.Helper()
	if deps.Now == nil {
		deps.Now = func() time.Time { return time.Unix(1700000000, 0) }
	}
	deps.AgentVersion = "test"
	deps.CephVersion = "16.2.15"
	if deps.CephUser == nil {
		deps.CephUser = &cephv1alpha1.CephUser{UID: 64045, GID: 64045}
	}
	a, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancellation")
		}
	})
	return a
}

func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func rescan(t *testing.T, a *Agent) SyncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := a.Rescan(ctx)
	if err != nil {
		t.Fatalf("Rescan: %v", err)
	}
	return res
}

func TestAgentWaitsForInventoryThenPublishesOnce(t *testing.T) {
	scanner := newFakeScanner(disk("sdb", 10<<30), disk("sda", 1<<30))
	inv := newFakeInventory(nil)
	a := startAgent(t, testConfig(), Deps{Scanner: scanner, Inventory: inv})
	if res := rescan(t, a); !res.WaitingForInventory || !res.Scanned || res.Published {
		t.Fatalf("without a DiskInventory: %+v", res)
	}
	inv.update(func(o **cephv1alpha1.DiskInventory) { *o = inventory("uid-1") })
	wait(t, inv.applied, "the first publish")
	st := inv.last()
	if len(st.Disks) != 2 || st.Disks[0].Name != "sda" || st.Disks[0].Verdict.Reason != "TooSmall" ||
		st.Disks[1].Verdict.State != cephv1alpha1.DiskAvailable || st.LastScanTime == nil || st.AgentVersion != "test" || st.CephVersion != "16.2.15" ||
		st.CephUser == nil || *st.CephUser != (cephv1alpha1.CephUser{UID: 64045, GID: 64045}) {
		t.Fatalf("published %+v", st)
	}
	for range 3 {
		if res := rescan(t, a); !res.Scanned || res.Published {
			t.Fatalf("an unchanged rescan: %+v", res)
		}
	}
	if n := inv.applyCount(); n != 1 {
		t.Fatalf("%d applies for unchanged content, want 1", n)
	}
	scanner.set(disk("sdb", 10<<30))
	if res := rescan(t, a); !res.Published || len(res.Status.Disks) != 1 {
		t.Fatalf("after sda vanished: %+v", res)
	}
}

func TestAgentAnswersRescanRequest(t *testing.T) {
	scanner := newFakeScanner(disk("sdb", 10<<30))
	inv := newFakeInventory(inventory("uid-1"))
	a := startAgent(t, testConfig(), Deps{Scanner: scanner, Inventory: inv})
	wait(t, inv.applied, "the first publish")
	rescan(t, a) // the loop is idle from here on
	before := scanner.count()
	inv.update(func(o **cephv1alpha1.DiskInventory) { (*o).Spec.RescanRequest = 3 })
	wait(t, inv.applied, "the answer to the rescan request")
	if got := inv.last().ObservedRescanRequest; got != 3 {
		t.Fatalf("observedRescanRequest %d, want 3", got)
	}
	if scanner.count() != before+1 {
		t.Errorf("%d scans for one request, want 1", scanner.count()-before)
	}
}

func TestAgentDebouncesUeventBursts(t *testing.T) {
	scanner := newFakeScanner(disk("sdb", 10<<30))
	inv := newFakeInventory(inventory("uid-1"))
	events := make(chan uevent.Event)
	cfg := testConfig()
	cfg.Debounce = 100 * time.Millisecond
	a := startAgent(t, cfg, Deps{Scanner: scanner, Inventory: inv, Uevents: fakeUevents{in: events}})
	wait(t, inv.applied, "the first publish")
	rescan(t, a)
	for len(scanner.scanned) > 0 {
		<-scanner.scanned
	}
	scanner.set(disk("sdb", 10<<30), disk("sdc", 10<<30))
	for i := range 20 {
		events <- uevent.Event{Action: "add", Subsystem: "block", DevName: "sdc", Seqnum: uint64(i)}
		events <- uevent.Event{Action: "add", Subsystem: "net", DevName: "eth1"}
	}
	wait(t, inv.applied, "the publish after the burst")
	time.Sleep(3 * cfg.Debounce) // lets a wrongly scheduled second scan show up
	if n := len(scanner.scanned); n != 1 {
		t.Fatalf("%d scans for one burst, want 1", n)
	}
	if got := len(inv.last().Disks); got != 2 {
		t.Fatalf("%d disks after hot-plug, want 2", got)
	}
}

func TestAgentWithoutUeventsStillRescans(t *testing.T) {
	scanner := newFakeScanner(disk("sdb", 10<<30))
	inv := newFakeInventory(inventory("uid-1"))
	cfg := testConfig()
	cfg.ResyncInterval = 50 * time.Millisecond
	startAgent(t, cfg, Deps{Scanner: scanner, Inventory: inv, Uevents: fakeUevents{err: errors.New("EPERM")}})
	wait(t, inv.applied, "the first publish")
	scanner.set(disk("sdb", 10<<30), disk("sdc", 10<<30))
	wait(t, inv.applied, "the publish from the periodic resync")
	if got := len(inv.last().Disks); got != 2 {
		t.Fatalf("%d disks, want 2", got)
	}
}

func TestAgentRetriesFailedPublish(t *testing.T) {
	scanner := newFakeScanner(disk("sdb", 10<<30))
	inv := newFakeInventory(inventory("uid-1"))
	inv.applyErr = []error{errors.New("connection refused")}
	startAgent(t, testConfig(), Deps{Scanner: scanner, Inventory: inv})
	wait(t, inv.applied, "the retried publish")
	if got := len(inv.last().Disks); got != 1 {
		t.Fatalf("%d disks, want 1", got)
	}
}

func TestAgentAfterRestartComparesWithServer(t *testing.T) {
	scanner := newFakeScanner(disk("sdb", 10<<30))
	obj := inventory("uid-1")
	earlier := metav1.NewTime(time.Unix(1600000000, 0))
	obj.Status = BuildStatus(scanner.devs, testConfig().VerdictOptions(), 0, "test")
	obj.Status.CephVersion = "16.2.15"
	obj.Status.CephUser = &cephv1alpha1.CephUser{UID: 64045, GID: 64045}
	obj.Status.LastScanTime = &earlier
	// A recent heartbeat: nothing is due.
	reported := metav1.NewTime(time.Unix(1700000000, 0).Add(-time.Minute))
	obj.Status.LastReportTime = &reported
	inv := newFakeInventory(obj)
	a := startAgent(t, testConfig(), Deps{Scanner: scanner, Inventory: inv})
	res := rescan(t, a)
	for res.WaitingForInventory { // the watch has not reported yet
		res = rescan(t, a)
	}
	if res.Published || inv.applyCount() != 0 {
		t.Fatalf("published %d times although the server holds the same content", inv.applyCount())
	}
	if !res.Status.LastScanTime.Equal(&earlier) {
		t.Errorf("LastScanTime %v, want the server's %v", res.Status.LastScanTime, earlier)
	}
	// A recreated object (new UID, empty status) is published to again.
	inv.update(func(o **cephv1alpha1.DiskInventory) { *o = inventory("uid-2") })
	wait(t, inv.applied, "the publish to the recreated object")
}

// TestAgentReportsUnchangedContent: a scan that finds nothing new writes
// only the heartbeat (status.lastReportTime), and only once the last one is
// nearly ReportInterval old; lastScanTime keeps saying when the content
// last changed.
func TestAgentReportsUnchangedContent(t *testing.T) {
	scanner := newFakeScanner(disk("sdb", 10<<30))
	var clock atomic.Int64
	start := time.Unix(1700000000, 0)
	clock.Store(start.Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	inv := newFakeInventory(inventory("uid-1"))
	a := startAgent(t, testConfig(), Deps{Scanner: scanner, Inventory: inv, Now: now})
	wait(t, inv.applied, "the first publish")
	first := inv.last()
	if first.LastScanTime == nil || first.LastReportTime == nil || !first.LastReportTime.Equal(first.LastScanTime) || !first.LastScanTime.Time.Equal(start) {
		t.Fatalf("first publish: lastScanTime %v, lastReportTime %v, want both %v", first.LastScanTime, first.LastReportTime, start)
	}

	// Scans within ReportInterval of the last report write nothing.
	clock.Store(start.Add(ReportInterval - reportSlack - time.Second).Unix())
	if res := rescan(t, a); !res.Scanned || res.Published || inv.applyCount() != 1 {
		t.Fatalf("a scan %s after the last report: %+v, %d applies", ReportInterval-reportSlack-time.Second, res, inv.applyCount())
	}

	// A scan once the report is old enough writes the heartbeat alone.
	later := start.Add(ReportInterval - reportSlack)
	clock.Store(later.Unix())
	res := rescan(t, a)
	if !res.Published || inv.applyCount() != 2 {
		t.Fatalf("a scan %s after the last report: %+v, %d applies", ReportInterval-reportSlack, res, inv.applyCount())
	}
	st := inv.last()
	if !st.LastScanTime.Time.Equal(start) || !st.LastReportTime.Time.Equal(later) {
		t.Errorf("heartbeat: lastScanTime %v (want %v, unchanged), lastReportTime %v (want %v)", st.LastScanTime, start, st.LastReportTime, later)
	}
	if !SameContent(st, first) {
		t.Errorf("the heartbeat changed the content: %+v", st)
	}

	// And then nothing again.
	if res := rescan(t, a); res.Published || inv.applyCount() != 2 {
		t.Fatalf("a scan right after the heartbeat: %+v, %d applies", res, inv.applyCount())
	}

	// A change of content moves both.
	changed := later.Add(time.Minute)
	clock.Store(changed.Unix())
	scanner.set(disk("sdb", 10<<30), disk("sdc", 10<<30))
	if res := rescan(t, a); !res.Published {
		t.Fatalf("a change: %+v", res)
	}
	if st := inv.last(); !st.LastScanTime.Time.Equal(changed) || !st.LastReportTime.Time.Equal(changed) {
		t.Errorf("after a change: lastScanTime %v, lastReportTime %v, want both %v", st.LastScanTime, st.LastReportTime, changed)
	}
}

func TestAgentStops(t *testing.T) {
	a, err := New(testConfig(), Deps{Scanner: newFakeScanner(), Inventory: newFakeInventory(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatalf("Run on a cancelled context: %v", err)
	}
	if _, err := a.Rescan(context.Background()); err == nil {
		t.Error("Rescan after Run returned must fail")
	}
	if err := a.Run(context.Background()); err == nil {
		t.Error("a second Run must fail")
	}
}

func TestConfig(t *testing.T) {
	env := map[string]string{"NODE_NAME": "worker-1", "POD_NAMESPACE": "rook"}
	c := DefaultConfig(func(k string) string { return env[k] })
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	c.BindFlags(fs)
	if err := fs.Parse([]string{"--cluster-fsid", testFSID, "--allow-loop-devices", "--min-size-bytes", "1024", "--host-root", "/host", "--debounce", "1s"}); err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "worker-1" || c.Namespace != "rook" || c.HostRoot != "/host" || c.MountinfoPath != DefaultMountinfoPath ||
		c.ResyncInterval != DefaultResyncInterval || c.Debounce != time.Second || c.Validate() != nil {
		t.Fatalf("config %+v (%v)", c, c.Validate())
	}
	if o := c.VerdictOptions(); o.ClusterFSID != testFSID || !o.AllowLoop || o.MinSizeBytes != 1024 {
		t.Errorf("verdict options %+v", o)
	}
	if s := c.Scanner(); s.Root != "/host" || s.MountinfoPath != DefaultMountinfoPath {
		t.Errorf("scanner %+v", s)
	}
	// The passwd file is the container's own, never under --host-root.
	if c.PasswdPath != DefaultPasswdPath {
		t.Errorf("passwd file %q, want %q", c.PasswdPath, DefaultPasswdPath)
	}
	if err := fs.Parse([]string{"--passwd-file", "/image/etc/passwd"}); err != nil || c.PasswdPath != "/image/etc/passwd" {
		t.Errorf("--passwd-file: %q (%v)", c.PasswdPath, err)
	}
	bad := DefaultConfig(func(string) string { return "" })
	bad.ResyncInterval = 0
	err := bad.Validate()
	for _, want := range []string{"node name", "namespace", "resync-interval"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a complaint about %s", err, want)
		}
	}
	if _, err := New(bad, Deps{}); err == nil {
		t.Error("New accepted an invalid config")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestDetectCephUser checks that only a usable ceph user is published:
// none for a missing file, an image without ceph, or a root ceph.
func TestDetectCephUser(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if u := DetectCephUser(write("debian", "root:x:0:0::/root:/bin/sh\nceph:x:64045:64045::/var/lib/ceph:/usr/sbin/nologin\n")); u == nil || *u != (cephv1alpha1.CephUser{UID: 64045, GID: 64045}) {
		t.Errorf("debian image: %+v", u)
	}
	for name, p := range map[string]string{
		"no file":   filepath.Join(dir, "missing"),
		"no ceph":   write("none", "root:x:0:0::/root:/bin/sh\n"),
		"root ceph": write("root", "ceph:x:0:0::/var/lib/ceph:/bin/sh\n"),
	} {
		if u := DetectCephUser(p); u != nil {
			t.Errorf("%s: published %+v, want nothing", name, u)
		}
	}
}

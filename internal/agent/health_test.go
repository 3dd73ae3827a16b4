package agent

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/smart"
)

// fakeSmartctl is a smartctl on PATH that answers for each device with
// the recorded output set for it (internal/smart/testdata) and logs every
// device it was run on.
type fakeSmartctl struct {
	t   *testing.T
	dir string
}

// installFakeSmartctl puts a fake smartctl first on PATH for the test.
func installFakeSmartctl(t *testing.T) *fakeSmartctl {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
for a; do dev="$a"; done
name=$(basename "$dev")
echo "$name" >> "` + dir + `/calls"
[ -e "` + dir + `/$name.sleep" ] && exec sleep 10
cat "` + dir + `/$name.out" 2>/dev/null || { echo "no output recorded for $name" >&2; exit 2; }
exit "$(cat "` + dir + `/$name.exit" 2>/dev/null || echo 0)"
`
	if err := os.WriteFile(filepath.Join(dir, "smartctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return &fakeSmartctl{t: t, dir: dir}
}

// answer makes the fake print a recorded output (and exit with the status
// that output names) for device name.
func (f *fakeSmartctl) answer(name, recorded string, edit ...func(string) string) {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "smart", "testdata", recorded))
	if err != nil {
		f.t.Fatal(err)
	}
	s := string(b)
	for _, e := range edit {
		s = e(s)
	}
	f.raw(name, s, "0")
}

// raw makes the fake print out and exit with status exit for device name.
func (f *fakeSmartctl) raw(name, out, exit string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name+".out"), []byte(out), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, name+".exit"), []byte(exit), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// hang makes the fake never answer for device name.
func (f *fakeSmartctl) hang(name string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name+".sleep"), nil, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// calls returns the devices the fake was run on, in order.
func (f *fakeSmartctl) calls() []string {
	b, err := os.ReadFile(filepath.Join(f.dir, "calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// fakeClock is a settable time shared by the agent and its health checker.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func healthOf(devs []discovery.Device) map[string]*smart.Health {
	out := map[string]*smart.Health{}
	for _, d := range devs {
		out[d.KernelName] = d.Health
	}
	return out
}

func TestSmartctlReadsOnlyDrivesAndCaches(t *testing.T) {
	fake := installFakeSmartctl(t)
	fake.answer("sdb", "sata-failing.json")
	fake.answer("nvme0n1", "nvme-healthy.json")
	fake.answer("vda", "loop-unsupported.json") // a virtio disk: smartctl cannot address it
	start := time.Unix(1700000000, 0)
	clock := &fakeClock{t: start}
	s := &Smartctl{Refresh: time.Hour, Now: clock.Now}
	devs := func() []discovery.Device {
		lvm := disk("dm-0", 10<<30)
		lvm.Type = discovery.TypeLVM
		loop := disk("loop0", 10<<30)
		loop.Type = discovery.TypeLoop
		empty := disk("sdz", 0) // a card reader without a card
		return []discovery.Device{disk("sdb", 10<<30), disk("nvme0n1", 10<<30), disk("vda", 10<<30), lvm, loop, empty}
	}
	ctx := context.Background()

	d := devs()
	s.Check(ctx, d)
	h := healthOf(d)
	for name, want := range map[string]smart.Status{
		"sdb": smart.Failing, "nvme0n1": smart.Passed, "vda": smart.NotSupported,
		"dm-0": smart.NotSupported, "loop0": smart.NotSupported, "sdz": smart.NotSupported,
	} {
		if h[name] == nil || h[name].Status != want {
			t.Errorf("%s: health %+v, want %s", name, h[name], want)
		}
	}
	if got := h["sdb"]; got != nil && (got.PendingSectors == nil || *got.PendingSectors != 12 || !got.CheckedAt.Equal(start)) {
		t.Errorf("sdb: %+v, want 12 pending sectors checked at %s", got, start)
	}
	if m := h["loop0"].Message; !strings.Contains(m, "loop device") {
		t.Errorf("loop0: message %q does not say why", m)
	}
	// Loop, device-mapper and empty devices are answered without running
	// anything.
	if c := fake.calls(); strings.Join(c, " ") != "sdb nvme0n1 vda" {
		t.Fatalf("smartctl ran on %v, want sdb nvme0n1 vda", c)
	}

	// Within the refresh interval a scan reuses the readings.
	clock.Set(start.Add(59 * time.Minute))
	d = devs()
	s.Check(ctx, d)
	if c := fake.calls(); len(c) != 3 {
		t.Fatalf("smartctl ran %d times within the refresh interval, want no new run: %v", len(c)-3, c[3:])
	}
	if got := d[0].Health; got == nil || got.Status != smart.Failing || !got.CheckedAt.Equal(start) {
		t.Errorf("sdb from the cache: %+v", got)
	}
	// Another disk under the same name is read at once.
	d = devs()
	d[1].Links = []string{"/dev/disk/by-id/nvme-eui.0000000000000002"}
	s.Check(ctx, d)
	if c := fake.calls(); strings.Join(c[3:], " ") != "nvme0n1" {
		t.Fatalf("after nvme0n1 changed identity smartctl ran on %v, want nvme0n1", c[3:])
	}
	// After the interval the drives are read again, except the one read
	// two minutes ago.
	clock.Set(start.Add(time.Hour + time.Minute))
	s.Check(ctx, d)
	if c := fake.calls(); strings.Join(c[4:], " ") != "sdb vda" {
		t.Fatalf("after the refresh interval smartctl ran on %v, want sdb vda", c[4:])
	}
}

func TestSmartctlFailuresAreUnknown(t *testing.T) {
	fake := installFakeSmartctl(t)
	fake.raw("sdb", "smartctl 7.2 2020-12-30 r5155 [x86_64-linux] (local build)\n", "1")
	fake.hang("sdc")
	ctx := context.Background()
	s := &Smartctl{Timeout: 300 * time.Millisecond}
	d := []discovery.Device{disk("sdb", 10<<30), disk("sdc", 10<<30), disk("sdd", 10<<30)}
	began := time.Now()
	s.Check(ctx, d)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Check took %s with a hanging smartctl and a 300ms timeout", took)
	}
	for i, want := range []string{"could not be read", "did not answer within 300ms", "no output recorded for sdd"} {
		if h := d[i].Health; h == nil || h.Status != smart.Unknown || !strings.Contains(h.Message, want) {
			t.Errorf("%s: %+v, want Unknown with %q", d[i].KernelName, h, want)
		}
	}

	// Without smartctl the answer is Unknown with a clear message, and the
	// next scan does not try again before the refresh.
	missing := &Smartctl{Binary: "smartctl-not-installed"}
	d = []discovery.Device{disk("sdb", 10<<30)}
	missing.Check(ctx, d)
	if h := d[0].Health; h == nil || h.Status != smart.Unknown || !strings.Contains(h.Message, `smartctl was not found ("smartctl-not-installed"`) {
		t.Errorf("without smartctl: %+v", h)
	}
	if err := os.Symlink(filepath.Join(fake.dir, "smartctl"), filepath.Join(fake.dir, "smartctl-not-installed")); err != nil {
		t.Fatal(err)
	}
	fake.answer("sdb", "sata-healthy.json")
	before := len(fake.calls())
	d = []discovery.Device{disk("sdb", 10<<30)}
	missing.Check(ctx, d)
	if h := d[0].Health; h == nil || h.Status != smart.Unknown || len(fake.calls()) != before {
		t.Errorf("within the refresh interval the missing smartctl was looked for again: %+v", h)
	}
}

// TestAgentPublishesHealth runs the agent's loop with the fake smartctl: a
// failing disk that would be available is rejected, a failing disk holding
// an OSD stays an OSD with its health shown, and a drive's readings
// drifting does not rewrite the inventory before the periodic report.
func TestAgentPublishesHealth(t *testing.T) {
	fake := installFakeSmartctl(t)
	fake.answer("sdb", "sata-failing.json")
	fake.answer("sdc", "nvme-critical.json")
	fake.answer("sdd", "sata-healthy.json")
	start := time.Unix(1700000000, 0)
	clock := &fakeClock{t: start}

	osd := disk("sdc", 10<<30)
	osd.BlueStore = &ceph.BlueStoreLabel{OSDUUID: "u-7", WhoAmI: 7, ClusterFSID: testFSID,
		Meta: map[string]string{"whoami": "7", "osd_key": "k", "ready": "ready"}}
	osd.FSType, osd.Signatures = discovery.SigBlueStore, []string{discovery.SigBlueStore}
	loop := disk("loop3", 10<<30)
	loop.Type = discovery.TypeLoop
	scanner := newFakeScanner(disk("sdb", 10<<30), osd, disk("sdd", 10<<30), loop)
	inv := newFakeInventory(inventory("uid-1"))
	cfg := testConfig()
	cfg.ClusterFSID, cfg.AllowLoopDevices = testFSID, true
	a := startAgent(t, cfg, Deps{Scanner: scanner, Inventory: inv, Now: clock.Now,
		Health: &Smartctl{Refresh: time.Minute, Now: clock.Now}})
	wait(t, inv.applied, "the first publish")

	byName := func(st cephv1alpha1.DiskInventoryStatus) map[string]cephv1alpha1.Disk {
		out := map[string]cephv1alpha1.Disk{}
		for _, d := range st.Disks {
			out[d.Name] = d
		}
		return out
	}
	disks := byName(inv.last())
	if d := disks["sdb"]; d.Verdict.State != cephv1alpha1.DiskRejected || d.Verdict.Reason != string(discovery.FailurePredicted) ||
		d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthFailing || d.Health.PendingSectors == nil || *d.Health.PendingSectors != 12 ||
		d.Health.CheckedAt == nil || !d.Health.CheckedAt.Time.Equal(start) {
		t.Errorf("failing disk: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if d := disks["sdc"]; d.Verdict.State != cephv1alpha1.DiskOSD || d.Verdict.OSDID == nil || *d.Verdict.OSDID != 7 ||
		d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthFailing ||
		d.Health.NVMeCriticalWarning == nil || *d.Health.NVMeCriticalWarning != 5 || d.Health.PercentageUsed == nil || *d.Health.PercentageUsed != 104 {
		t.Errorf("failing OSD disk: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if d := disks["sdd"]; d.Verdict.State != cephv1alpha1.DiskAvailable || d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthPassed ||
		d.Health.TemperatureCelsius == nil || *d.Health.TemperatureCelsius != 34 {
		t.Errorf("healthy disk: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if d := disks["loop3"]; d.Verdict.State != cephv1alpha1.DiskAvailable || d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthNotSupported {
		t.Errorf("loop device: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if s := inv.last().Summary; s.Available != 2 || s.OSDs != 1 || s.Rejected != 1 {
		t.Errorf("summary %+v", s)
	}
	runs := len(fake.calls())
	if runs != 3 {
		t.Fatalf("smartctl ran %d times for three drives: %v", runs, fake.calls())
	}
	firstScan := inv.last().LastScanTime

	// The drive warms up. Its next reading is taken after the refresh
	// interval, but an idle node's inventory is not rewritten for it...
	warmer := func(s string) string {
		return strings.Replace(s, `"temperature": {"current": 34}`, `"temperature": {"current": 41}`, 1)
	}
	fake.answer("sdd", "sata-healthy.json", warmer)
	clock.Set(start.Add(2 * time.Minute))
	if res := rescan(t, a); res.Published {
		t.Errorf("a temperature change was published at once: %+v", res)
	}
	if n := len(fake.calls()); n != runs+3 {
		t.Errorf("smartctl ran %d times after the refresh interval, want 3", n-runs)
	}
	if n := inv.applyCount(); n != 1 {
		t.Errorf("%d applies, want 1", n)
	}
	// ...until the periodic report carries it, without moving
	// lastScanTime (which says the content changed).
	clock.Set(start.Add(ReportInterval))
	if res := rescan(t, a); !res.Published {
		t.Fatalf("the periodic report was not written: %+v", res)
	}
	st := inv.last()
	if d := byName(st)["sdd"]; d.Health == nil || d.Health.TemperatureCelsius == nil || *d.Health.TemperatureCelsius != 41 {
		t.Errorf("the report carries health %+v, want 41 °C", d.Health)
	}
	if !st.LastScanTime.Equal(firstScan) {
		t.Errorf("lastScanTime moved from %s to %s for a temperature change", firstScan, st.LastScanTime)
	}

	// A drive starting to fail is published at once, and rejected.
	fake.answer("sdd", "sata-failing.json")
	clock.Set(start.Add(ReportInterval + 2*time.Minute))
	if res := rescan(t, a); !res.Published {
		t.Fatalf("a drive that started failing was not published: %+v", res)
	}
	st = inv.last()
	if d := byName(st)["sdd"]; d.Verdict.Reason != string(discovery.FailurePredicted) || d.Health.Status != cephv1alpha1.DiskHealthFailing {
		t.Errorf("sdd after it started failing: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if st.LastScanTime.Equal(firstScan) {
		t.Error("lastScanTime did not move for a change of health status")
	}
}

func TestHealthConfig(t *testing.T) {
	c := DefaultConfig(func(string) string { return "" })
	c.NodeName, c.Namespace = "n", "ns"
	if s, ok := c.HealthChecker().(*Smartctl); !ok || s.Binary != "smartctl" || s.Refresh != DefaultHealthRefresh || s.Timeout != DefaultSmartctlTimeout {
		t.Fatalf("default health checker %+v", c.HealthChecker())
	}
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	c.BindFlags(fs)
	if err := fs.Parse([]string{"--smartctl", "/usr/sbin/smartctl", "--health-refresh", "30m", "--smartctl-timeout", "10s"}); err != nil {
		t.Fatal(err)
	}
	if s := c.HealthChecker().(*Smartctl); s.Binary != "/usr/sbin/smartctl" || s.Refresh != 30*time.Minute || s.Timeout != 10*time.Second {
		t.Errorf("health checker %+v", s)
	}
	c.HealthRefresh = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "health-refresh") {
		t.Errorf("Validate() = %v, want a complaint about --health-refresh", err)
	}
	c.Smartctl = ""
	if err := c.Validate(); err != nil {
		t.Errorf("with health checks off the refresh does not matter: %v", err)
	}
	if c.HealthChecker() != nil {
		t.Error("--smartctl '' still gives a health checker")
	}
}

// TestSameContentIgnoresReadings pins which health fields count as news.
func TestSameContentIgnoresReadings(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	i32 := func(v int32) *int32 { return &v }
	base := func() cephv1alpha1.DiskInventoryStatus {
		return cephv1alpha1.DiskInventoryStatus{Disks: []cephv1alpha1.Disk{{Name: "sdb", Health: &cephv1alpha1.DiskHealth{
			Status: cephv1alpha1.DiskHealthPassed, ReallocatedSectors: i64(0), TemperatureCelsius: i32(30), PowerOnHours: i64(100),
		}}}}
	}
	for _, tc := range []struct {
		name   string
		change func(*cephv1alpha1.DiskHealth)
		same   bool
	}{
		{"temperature", func(h *cephv1alpha1.DiskHealth) { h.TemperatureCelsius = i32(45) }, true},
		{"power-on hours", func(h *cephv1alpha1.DiskHealth) { h.PowerOnHours = i64(101) }, true},
		{"reallocated sectors", func(h *cephv1alpha1.DiskHealth) { h.ReallocatedSectors = i64(1) }, false},
		{"status", func(h *cephv1alpha1.DiskHealth) { h.Status = cephv1alpha1.DiskHealthFailing }, false},
		{"message", func(h *cephv1alpha1.DiskHealth) { h.Message = "something new" }, false},
	} {
		a, b := base(), base()
		tc.change(b.Disks[0].Health)
		if got := SameContent(a, b); got != tc.same {
			t.Errorf("%s changed: SameContent = %v, want %v", tc.name, got, tc.same)
		}
		if *a.Disks[0].Health.TemperatureCelsius != 30 {
			t.Fatal("SameContent changed its argument")
		}
	}
}

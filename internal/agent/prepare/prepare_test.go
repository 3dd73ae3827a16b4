package prepare

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

const fsid = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"

// fakeCephVolume records its calls and, like the real one, writes a
// BlueStore label onto each device it prepares, so `raw list` finds it.
type fakeCephVolume struct {
	root   string
	calls  [][]string
	nextID int
	osds   map[string]RawOSD
	fail   map[string]bool
}

func (f *fakeCephVolume) CephVolume(_ context.Context, args ...string) ([]byte, error) {
	f.calls = append(f.calls, args)
	if len(args) >= 2 && args[0] == "raw" && args[1] == "list" {
		return json.Marshal(f.osds)
	}
	if len(args) >= 5 && args[0] == "raw" && args[1] == "prepare" {
		dev := args[4]
		if f.fail[dev] {
			return []byte("stderr noise\n"), errors.New("exit status 1")
		}
		id := f.nextID
		f.nextID++
		uuid := "11111111-2222-3333-4444-55555555555" + string(rune('0'+id))
		label := fixture.Label(fsid, id)
		label.OSDUUID = uuid
		target, err := filepath.EvalSymlinks(filepath.Join(f.root, dev))
		if err != nil {
			return nil, err
		}
		fh, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		for _, c := range fixture.BlueStore(label) {
			if _, err := fh.WriteAt(c.Data, c.Offset); err != nil {
				return nil, err
			}
		}
		f.osds[uuid] = RawOSD{ClusterFSID: fsid, Device: "/dev/" + filepath.Base(target), OSDID: id, OSDUUID: uuid, Type: "bluestore"}
		return []byte("--> ceph-volume raw prepare successful\n"), nil
	}
	return nil, errors.New("unexpected call")
}

// fakeLocker refuses the devices in busy.
type fakeLocker struct{ busy map[string]bool }

func (l fakeLocker) Lock(path string) (func(), error) {
	if l.busy[filepath.Base(path)] {
		return nil, errors.New("device or resource busy")
	}
	return func() {}, nil
}

func wwn(name string) string { return "by-id/wwn-0x" + name }

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
		n.Add(d)
	}
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	return root, n
}

// TestRunRefusesWhatIsNoLongerEmpty prepares five planned devices of which
// one always had a filesystem, one got one after the plan, one is busy and
// one makes ceph-volume fail: only the two free ones are written.
func TestRunRefusesWhatIsNoLongerEmpty(t *testing.T) {
	root, _ := buildNode(t)
	// sdd was empty when planned; a filesystem appears before prepare runs.
	fh, err := os.OpenFile(filepath.Join(root, "dev", "sdd"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fixture.Ext4("late") {
		if _, err := fh.WriteAt(c.Data, c.Offset); err != nil {
			t.Fatal(err)
		}
	}
	fh.Close()

	cv := &fakeCephVolume{root: root, osds: map[string]RawOSD{}, fail: map[string]bool{"/dev/disk/" + wwn("sdf"): true}}
	opts := Options{
		Root:    root,
		Verdict: discovery.Options{ClusterFSID: fsid, MinSizeBytes: 1 << 30},
	}
	for _, n := range []string{"sdb", "sdc", "sdd", "sde", "sdf"} {
		class := ""
		if n == "sdb" {
			class = "ssd"
		}
		opts.Targets = append(opts.Targets, Target{Path: "/dev/disk/" + wwn(n), DeviceClass: class})
	}
	scanner := discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}
	results, err := Run(context.Background(), logr.Discard(), opts, scanner, fakeLocker{busy: map[string]bool{"sde": true}}, cv)
	if err == nil || !strings.Contains(err.Error(), "sdf") {
		t.Errorf("Run error = %v, want a failure naming sdf", err)
	}

	got := map[string]string{}
	for _, r := range results {
		got[filepath.Base(r.Path)] = r.Outcome + "/" + r.Reason
	}
	want := map[string]string{
		"wwn-0xsdb": "Prepared/",
		"wwn-0xsdc": "Refused/HasFilesystem",
		"wwn-0xsdd": "Refused/HasFilesystem",
		"wwn-0xsde": "Refused/Busy",
		"wwn-0xsdf": "Failed/",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes %v\nwant     %v", got, want)
	}
	if results[0].OSDID == nil || *results[0].OSDID != 0 || results[0].OSDUUID == "" {
		t.Errorf("prepared sdb reports OSD %v uuid %q", results[0].OSDID, results[0].OSDUUID)
	}

	// ceph-volume was called for sdb (with its class) and sdf only, then
	// listed; never for a refused device.
	wantCalls := [][]string{
		{"raw", "prepare", "--bluestore", "--data", "/dev/disk/" + wwn("sdb"), "--crush-device-class", "ssd"},
		{"raw", "prepare", "--bluestore", "--data", "/dev/disk/" + wwn("sdf")},
		{"raw", "list", "--format", "json"},
	}
	if !reflect.DeepEqual(cv.calls, wantCalls) {
		t.Errorf("ceph-volume calls %q\nwant %q", cv.calls, wantCalls)
	}

	// A second run finds sdb holding our OSD and leaves it alone.
	cv.calls = nil
	opts.Targets = opts.Targets[:1]
	results, err = Run(context.Background(), logr.Discard(), opts, scanner, fakeLocker{}, cv)
	if err != nil || len(results) != 1 || results[0].Outcome != OutcomeRefused || results[0].Reason != "AlreadyOSD" {
		t.Errorf("second run on sdb: %+v, %v", results, err)
	}
	if len(cv.calls) != 0 {
		t.Errorf("second run called ceph-volume: %q", cv.calls)
	}
}

func TestRunRefusesUnknownDevice(t *testing.T) {
	root, _ := buildNode(t)
	cv := &fakeCephVolume{root: root, osds: map[string]RawOSD{}}
	opts := Options{Root: root, Verdict: discovery.Options{ClusterFSID: fsid}, Targets: []Target{{Path: "/dev/disk/by-id/wwn-0xgone"}}}
	results, err := Run(context.Background(), logr.Discard(), opts, discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}, fakeLocker{}, cv)
	if err != nil || results[0].Outcome != OutcomeRefused || results[0].Reason != string(discovery.Unreadable) {
		t.Errorf("missing device: %+v, %v", results, err)
	}
	if len(cv.calls) != 0 {
		t.Errorf("ceph-volume called for a missing device: %q", cv.calls)
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"/dev/sdb":     {Path: "/dev/sdb"},
		"/dev/sdb:ssd": {Path: "/dev/sdb", DeviceClass: "ssd"},
		"/dev/disk/by-path/pci-0000:3b:00.0-sas-0":   {Path: "/dev/disk/by-path/pci-0000:3b:00.0-sas-0"},
		"/dev/disk/by-path/pci-0000:3b:00.0:nvme":    {Path: "/dev/disk/by-path/pci-0000:3b:00.0", DeviceClass: "nvme"},
		"/dev/disk/by-id/wwn-0x5000c500a1b2c3d4:hdd": {Path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", DeviceClass: "hdd"},
	} {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := ParseTarget("sdb"); err == nil {
		t.Error("ParseTarget accepted a path outside /dev")
	}
}

func TestParseRawList(t *testing.T) {
	out := []byte(`{
  "b2c3": {"ceph_fsid": "f", "device": "/dev/loop1", "osd_id": 1, "osd_uuid": "b2c3", "type": "bluestore"},
  "a1b2": {"ceph_fsid": "f", "device": "/dev/loop0", "osd_id": 0, "osd_uuid": "a1b2", "type": "bluestore"}
}`)
	got, err := ParseRawList(out)
	if err != nil || len(got) != 2 || got[0].OSDID != 0 || got[1].Device != "/dev/loop1" {
		t.Fatalf("ParseRawList = %+v, %v", got, err)
	}
	if got, err := ParseRawList([]byte(`{}`)); err != nil || len(got) != 0 {
		t.Errorf("empty list: %+v, %v", got, err)
	}
	for _, bad := range []string{`not json`, `{"x": {"osd_id": 1}}`, `[]`} {
		if _, err := ParseRawList([]byte(bad)); err == nil {
			t.Errorf("ParseRawList accepted %q", bad)
		}
	}
}

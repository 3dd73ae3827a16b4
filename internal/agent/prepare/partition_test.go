package prepare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

const mib = int64(1) << 20

// layoutNode is a node with a data disk sdb and a blank 4 GiB metadata
// device nvme0n1.
func layoutNode(t *testing.T, nvme fixture.Disk) (string, *fixture.Node) {
	t.Helper()
	root := t.TempDir()
	n := fixture.New(root)
	n.Add(fixture.Disk{Name: "sdb", SizeBytes: uint64(10 * fixture.GiB), Links: []string{wwn("sdb")}, Serial: "SN-sdb", WWID: "naa.5000c50000000sdb"})
	if nvme.Name == "" {
		nvme = fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(4 * fixture.GiB)}
	}
	nvme.Links, nvme.Serial = []string{"by-id/nvme-fast"}, "SN-fast"
	n.Add(nvme)
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	return root, n
}

// unchanged fails the test when a disk of n differs from its checksum in
// before.
func unchanged(t *testing.T, n *fixture.Node, before map[string]string) {
	t.Helper()
	after, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s changed", name)
		}
	}
}

// fakeKernel stands in for BLKPG on a fixture: it makes the partition's
// sysfs directory and device node, as the kernel and devtmpfs do.
type fakeKernel struct {
	root  string
	added []int
	fail  error
}

func (k *fakeKernel) add(f *os.File, number int, start, size int64) error {
	if k.fail != nil {
		return k.fail
	}
	k.added = append(k.added, number)
	disk := filepath.Base(f.Name())
	name := partitionName(disk, number)
	dir := filepath.Join(k.root, "sys", "block", disk, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for file, v := range map[string]string{"partition": strconv.Itoa(number), "start": fmt.Sprint(start / 512), "size": fmt.Sprint(size / 512), "dev": "259:" + strconv.Itoa(10+number)} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(k.root, "dev", name), make([]byte, 8192), 0o644)
}

// dbTarget is a target sdb whose DB goes to nvme0n1 partition number.
func dbTarget(number int32, start, size int64, exists bool, uuid string) Target {
	return Target{Path: byID("sdb"), DB: &TargetPartition{
		Device: PartitionDevice{Path: "/dev/disk/by-id/nvme-fast", Serial: "SN-fast", SizeBytes: 4 * fixture.GiB},
		Role:   "DB", Number: number, Label: gpt.Label(gpt.RoleDB, fsid, int(number)), StartBytes: start, SizeBytes: size,
		Exists: exists, PartUUID: uuid,
	}}
}

// dbWriter makes the fake ceph-volume write, like BlueStore, a bluefs
// label of the OSD on the --block.db device it was given.
func dbWriter(t *testing.T, root string, cv *fakeCephVolume) {
	cv.hook = func(_ context.Context, _ string) (bool, error) {
		args := cv.calls[len(cv.calls)-1]
		for i, a := range args {
			if a == "--block.db" && i+1 < len(args) {
				label := fixture.BlueFSLabel(fixture.Label(fsid, cv.nextID).OSDUUID, "bluefs db")
				if err := writeChunks(filepath.Join(root, args[i+1]), label); err != nil {
					t.Errorf("writing the DB label: %v", err)
				}
			}
		}
		return false, nil
	}
}

func TestPrepareMakesTheDBPartition(t *testing.T) {
	root, _ := layoutNode(t, fixture.Disk{})
	// Something stale in the free space where the partition goes.
	if err := writeChunks(filepath.Join(root, "dev", "nvme0n1"), []fixture.Chunk{{Offset: 1 * fixture.GiB, Data: []byte("stale")}}); err != nil {
		t.Fatal(err)
	}
	k := &fakeKernel{root: root}
	cv := &fakeCephVolume{root: root}
	dbWriter(t, root, cv)
	opts := optionsFor(root)
	opts.Targets = []Target{dbTarget(2, 1*fixture.GiB, 1*fixture.GiB, false, "")}
	opts.Partitioner = GPTPartitioner{AddToKernel: k.add, NewUUID: func() string { return "0f0e0d0c-0b0a-4908-8706-050403020100" }}
	results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)
	if len(results) != 1 || results[0].Outcome != OutcomePrepared {
		t.Fatalf("results %+v", results)
	}
	want := []string{"raw", "prepare", "--bluestore", "--data", "/dev/sdb", "--block.db", "/dev/nvme0n1p2"}
	if len(cv.calls) != 1 || strings.Join(cv.calls[0], " ") != strings.Join(want, " ") {
		t.Errorf("ceph-volume calls %q, want %q", cv.calls, want)
	}
	if fmt.Sprint(k.added) != "[2]" {
		t.Errorf("partitions told to the kernel: %v, want [2]", k.added)
	}
	f, err := os.Open(filepath.Join(root, "dev", "nvme0n1"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	table, err := gpt.Read(f, 4*fixture.GiB, 512)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := table.Partition(2)
	if !ok || len(table.Partitions) != 1 || p.Name != "ceph-db.6f1c3a3e.2" || p.Type != gpt.TypeCephDB ||
		p.UUID != "0f0e0d0c-0b0a-4908-8706-050403020100" || p.Start(512) != fixture.GiB || p.Size(512) != fixture.GiB {
		t.Errorf("partition table %+v", table)
	}
	// The stale bytes at the partition's start are gone.
	head := make([]byte, mib)
	if _, err := f.ReadAt(head, fixture.GiB); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(head, []byte("stale")) {
		t.Error("the new partition's first MiB was not zeroed")
	}
}

func TestPrepareReusesABlankPartitionAndChecksIt(t *testing.T) {
	const uuid = "11111111-2222-4333-8444-000000000001"
	made := []fixture.GPTPartition{{Number: 1, Name: gpt.Label(gpt.RoleDB, fsid, 1), Type: gpt.TypeCephDB, UUID: uuid, Start: mib, Size: fixture.GiB}}
	nvme := fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(4 * fixture.GiB), Partitions: fixture.SysfsPartitions("nvme0n1", made)}

	t.Run("blank and as planned", func(t *testing.T) {
		root, n := layoutNode(t, nvme)
		if err := n.WriteGPT("nvme0n1", made); err != nil {
			t.Fatal(err)
		}
		k := &fakeKernel{root: root}
		// The partition's device node: the kernel knows it already.
		if err := os.WriteFile(filepath.Join(root, "dev", "nvme0n1p1"), make([]byte, 8192), 0o644); err != nil {
			t.Fatal(err)
		}
		cv := &fakeCephVolume{root: root}
		dbWriter(t, root, cv)
		opts := optionsFor(root)
		opts.Targets = []Target{dbTarget(1, mib, fixture.GiB, true, uuid)}
		opts.Partitioner = GPTPartitioner{AddToKernel: k.add}
		results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)
		if results[0].Outcome != OutcomePrepared || len(k.added) != 0 {
			t.Fatalf("results %+v, kernel told of %v", results, k.added)
		}
		if got := cv.calls[0]; got[len(got)-1] != "/dev/nvme0n1p1" {
			t.Errorf("ceph-volume %q", got)
		}
	})

	// Every way the partition table can differ from the plan refuses the
	// target before ceph-volume and leaves both disks as they were.
	refusals := []struct {
		name   string
		target Target
		mod    func(t *testing.T, root string, n *fixture.Node)
		reason string
		msg    string
	}{
		{name: "partition to reuse is gone", target: dbTarget(3, 2*fixture.GiB, fixture.GiB, true, uuid), reason: ReasonPartitionMismatch, msg: "is not in the partition table"},
		{name: "another GUID", target: dbTarget(1, mib, fixture.GiB, true, "99999999-2222-4333-8444-000000000001"), reason: ReasonPartitionMismatch, msg: "is not the planned one"},
		{
			// Discovery, run first, already says so.
			name: "written since", target: dbTarget(1, mib, fixture.GiB, true, uuid), reason: ReasonMetadataDeviceNotUsable, msg: "holds data that is not a BlueStore label",
			mod: func(t *testing.T, root string, _ *fixture.Node) {
				if err := writeChunks(filepath.Join(root, "dev", "nvme0n1"), []fixture.Chunk{{Offset: mib + 4096, Data: []byte("data")}}); err != nil {
					t.Fatal(err)
				}
			},
		},
		{name: "number taken", target: dbTarget(1, 2*fixture.GiB, fixture.GiB, false, ""), reason: ReasonPartitionMismatch, msg: "exists already"},
		{name: "overlap", target: dbTarget(2, 512*mib, fixture.GiB, false, ""), reason: ReasonPartitionMismatch, msg: "overlaps partition 1"},
		{name: "past the end", target: dbTarget(2, 3*fixture.GiB, fixture.GiB, false, ""), reason: ReasonPartitionMismatch, msg: "ends past the usable end"},
		{
			name: "another disk at the path", reason: ReasonIdentityMismatch, msg: "metadata device",
			target: func() Target {
				tg := dbTarget(2, 2*fixture.GiB, fixture.GiB, false, "")
				tg.DB.Device.Serial = "SN-other"
				return tg
			}(),
		},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			root, n := layoutNode(t, nvme)
			if err := n.WriteGPT("nvme0n1", made); err != nil {
				t.Fatal(err)
			}
			if tc.mod != nil {
				tc.mod(t, root, n)
			}
			before, err := n.Checksums()
			if err != nil {
				t.Fatal(err)
			}
			k := &fakeKernel{root: root}
			cv := &fakeCephVolume{root: root}
			opts := optionsFor(root)
			opts.Targets = []Target{tc.target}
			opts.Partitioner = GPTPartitioner{AddToKernel: k.add}
			results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)
			r := results[0]
			if r.Outcome != OutcomeRefused || r.Reason != tc.reason || !strings.Contains(r.Message, tc.msg) || !strings.Contains(r.Message, "sdb was not touched") {
				t.Errorf("result %+v, want Refused/%s containing %q", r, tc.reason, tc.msg)
			}
			if len(cv.calls) != 0 || len(k.added) != 0 {
				t.Errorf("ceph-volume %q, kernel told of %v", cv.calls, k.added)
			}
			unchanged(t, n, before)
		})
	}
}

func TestPrepareRefusesAMetadataDeviceInUse(t *testing.T) {
	// nvme0n1 carries a filesystem: it is nobody's metadata device.
	root, n := layoutNode(t, fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(4 * fixture.GiB), Content: fixture.Ext4("home")})
	before, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	cv := &fakeCephVolume{root: root}
	opts := optionsFor(root)
	opts.Targets = []Target{dbTarget(1, mib, fixture.GiB, false, "")}
	opts.Partitioner = GPTPartitioner{AddToKernel: (&fakeKernel{root: root}).add}
	r := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)[0]
	if r.Outcome != OutcomeRefused || r.Reason != ReasonMetadataDeviceNotUsable || !strings.Contains(r.Message, "HasFilesystem") || len(cv.calls) != 0 {
		t.Errorf("result %+v, ceph-volume %q", r, cv.calls)
	}
	unchanged(t, n, before)
}

func TestPrepareReportsAKernelFailure(t *testing.T) {
	root, _ := layoutNode(t, fixture.Disk{})
	cv := &fakeCephVolume{root: root}
	opts := optionsFor(root)
	opts.Targets = []Target{dbTarget(1, mib, fixture.GiB, false, "")}
	opts.Partitioner = GPTPartitioner{AddToKernel: (&fakeKernel{fail: errors.New("invalid argument")}).add}
	r := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)[0]
	if r.Outcome != OutcomeFailed || r.Reason != ReasonPartitionFailed || !strings.Contains(r.Message, "telling the kernel about partition 1 of nvme0n1: invalid argument") || len(cv.calls) != 0 {
		t.Errorf("result %+v, ceph-volume %q", r, cv.calls)
	}
}

func TestParseTargetsChecksPartitions(t *testing.T) {
	ok := `[{"path":"/dev/sdb","db":{"device":{"path":"/dev/nvme0n1"},"role":"DB","number":1,"label":"ceph-db.6f1c3a3e.1","startBytes":1048576,"sizeBytes":1073741824}}]`
	if _, err := ParseTargets(ok); err != nil {
		t.Fatalf("valid targets refused: %v", err)
	}
	for name, bad := range map[string]string{
		"role":       strings.Replace(ok, `"role":"DB"`, `"role":"WAL"`, 1),
		"alignment":  strings.Replace(ok, `"startBytes":1048576`, `"startBytes":1048577`, 1),
		"number":     strings.Replace(ok, `"number":1`, `"number":0`, 1),
		"same disk":  strings.Replace(ok, `"path":"/dev/nvme0n1"`, `"path":"/dev/sdb"`, 1),
		"bad path":   strings.Replace(ok, `"path":"/dev/nvme0n1"`, `"path":"nvme0n1"`, 1),
		"unknown":    strings.Replace(ok, `"role":"DB"`, `"role":"DB","extra":1`, 1),
		"no GUID":    strings.Replace(ok, `"role":"DB"`, `"role":"DB","exists":true`, 1),
		"long label": strings.Replace(ok, `ceph-db.6f1c3a3e.1`, strings.Repeat("x", 37), 1),
	} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%s: %s accepted", name, bad)
		}
	}
}

// TestPrepareReusesTheDBOfADestroyedOSD: a replacement disk takes over the
// DB partition of the OSD destroyed in its slot; the partition must carry
// exactly that OSD's label, which is cleared before ceph-volume runs.
func TestPrepareReusesTheDBOfADestroyedOSD(t *testing.T) {
	const partUUID = "11111111-2222-4333-8444-000000000001"
	destroyed := "dddddddd-0000-4000-8000-000000000009"
	made := []fixture.GPTPartition{{Number: 1, Name: gpt.Label(gpt.RoleDB, fsid, 1), Type: gpt.TypeCephDB, UUID: partUUID, Start: mib, Size: fixture.GiB,
		Content: fixture.BlueFSLabel(destroyed, "bluefs db")}}
	nvme := fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(4 * fixture.GiB), Partitions: fixture.SysfsPartitions("nvme0n1", made)}
	for _, tc := range []struct {
		name     string
		replaces string
		outcome  string
	}{
		{"the destroyed OSD's partition", destroyed, OutcomePrepared},
		{"another OSD's partition", "eeeeeeee-0000-4000-8000-000000000009", OutcomeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, n := layoutNode(t, nvme)
			if err := n.WriteGPT("nvme0n1", made); err != nil {
				t.Fatal(err)
			}
			node := filepath.Join(root, "dev", "nvme0n1p1")
			if err := os.WriteFile(node, make([]byte, 2*mib), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := writeChunks(node, fixture.BlueFSLabel(destroyed, "bluefs db")); err != nil {
				t.Fatal(err)
			}
			cv := &fakeCephVolume{root: root, nextID: 9}
			var atCall []byte
			cv.hook = func(context.Context, string) (bool, error) {
				atCall, _ = os.ReadFile(node)
				// BlueStore labels the DB partition for the new OSD.
				return false, writeChunks(node, fixture.BlueFSLabel(fixture.Label(fsid, 9).OSDUUID, "bluefs db"))
			}
			target := dbTarget(1, mib, fixture.GiB, true, partUUID)
			target.DB.ReplacesOSDUUID = tc.replaces
			id := int32(9)
			target.OSDID = &id
			opts := optionsFor(root)
			opts.Targets = []Target{target}
			opts.Partitioner = GPTPartitioner{AddToKernel: (&fakeKernel{root: root}).add}
			r := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)[0]
			if r.Outcome != tc.outcome {
				t.Fatalf("result %+v, want %s", r, tc.outcome)
			}
			if tc.outcome == OutcomeRefused {
				if len(cv.calls) != 0 || !strings.Contains(r.Message, "was to be reused from destroyed OSD uuid eeeeeeee") {
					t.Errorf("result %+v, ceph-volume %q", r, cv.calls)
				}
				return
			}
			// The partition was cleared before ceph-volume ran.
			if len(cv.calls) != 1 || !bytes.Equal(atCall[:mib], make([]byte, mib)) {
				t.Errorf("ceph-volume %q; partition cleared before it ran: %v", cv.calls, bytes.Equal(atCall[:mib], make([]byte, mib)))
			}
		})
	}
}

// TestPrepareWaitsOutABusyMetadataDevice: a metadata device busy for an
// instant (another tool's probe) is asked again; one that stays busy is
// refused, and neither disk is touched.
func TestPrepareWaitsOutABusyMetadataDevice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		busyFor int
		outcome string
	}{{"busy for a moment", 1, OutcomePrepared}, {"busy throughout", 100, OutcomeRefused}} {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := layoutNode(t, fixture.Disk{})
			node := filepath.Join(root, "dev", "nvme0n1")
			scans := 0
			sc := scannerFor(root)
			sc.before = func(int, string) {
				scans++
				// The partition loop's scans come after the data disk's two.
				sc.Busy = discovery.StaticBusyChecker{Busy: map[string]bool{node: scans > 2 && scans <= 2+tc.busyFor}}
			}
			cv := &fakeCephVolume{root: root}
			dbWriter(t, root, cv)
			opts := optionsFor(root)
			opts.Targets = []Target{dbTarget(1, mib, fixture.GiB, false, "")}
			opts.Partitioner = GPTPartitioner{AddToKernel: (&fakeKernel{root: root}).add}
			r := Run(context.Background(), logr.Discard(), opts, sc, &fakeLocker{}, cv)[0]
			if r.Outcome != tc.outcome {
				t.Fatalf("result %+v, want %s", r, tc.outcome)
			}
			if tc.outcome == OutcomeRefused && (r.Reason != "Busy" || len(cv.calls) != 0) {
				t.Errorf("result %+v, ceph-volume %q", r, cv.calls)
			}
		})
	}
}

package prepare

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// splitSize is the size of the disk split in these tests, and splitPart
// the size of each of its two partitions (SplitLayout of the planner).
const (
	splitSize = 12 * fixture.GiB
	splitPart = 6143 * mib
)

// splitTarget is the OSD on data partition number of nvme0n1, split in two.
func splitTarget(number int32, exists bool, uuid string) Target {
	return Target{Path: "/dev/disk/by-id/nvme-fast", ID: "/dev/disk/by-id/nvme-fast-part" + string(rune('0'+number)), Serial: "SN-fast", SizeBytes: splitSize,
		Data: &TargetPartition{
			Device: PartitionDevice{Path: "/dev/disk/by-id/nvme-fast", ID: "/dev/disk/by-id/nvme-fast", Serial: "SN-fast", SizeBytes: splitSize},
			Role:   RoleData, Number: number, Label: gpt.Label(gpt.RoleOSD, fsid, int(number)), StartBytes: mib + int64(number-1)*splitPart, SizeBytes: splitPart,
			Exists: exists, PartUUID: uuid,
		}}
}

// splitNode is a node with sdb and a blank 12 GiB nvme0n1.
func splitNode(t *testing.T) (string, *fixture.Node) {
	return layoutNode(t, fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(splitSize)})
}

// mainWriter makes the fake ceph-volume write, as ceph-osd does through
// the partition's own node, the OSD's main label at the partition's
// start: on the partition's node and at its offset of the disk (one
// device on a real node, two files here).
func mainWriter(t *testing.T, root string, cv *fakeCephVolume) {
	cv.hook = func(_ context.Context, dev string) (bool, error) {
		label := fixture.BlueStore(fixture.Label(fsid, cv.nextID))
		cv.nextID++
		start := mib + int64(dev[len(dev)-1]-'1')*splitPart
		if err := writeChunks(filepath.Join(root, dev), label); err != nil {
			t.Errorf("writing the label: %v", err)
		}
		label[0].Offset += start
		return true, writeChunks(filepath.Join(root, "dev", "nvme0n1"), label)
	}
}

// TestPrepareSplitsABlankDisk: two targets on one blank disk make its two
// data partitions, one after the other, and an OSD on each: ceph-volume
// gets the partitions, never the disk; the GPT has exactly the planned
// entries; each result names its target's id.
func TestPrepareSplitsABlankDisk(t *testing.T) {
	root, n := splitNode(t)
	before, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKernel{root: root}
	cv := &fakeCephVolume{root: root, nextID: 5}
	mainWriter(t, root, cv)
	locker := &fakeLocker{}
	opts := optionsFor(root)
	opts.Targets = []Target{splitTarget(1, false, ""), splitTarget(2, false, "")}
	opts.Partitioner = GPTPartitioner{AddToKernel: k.add}
	results := Run(context.Background(), logr.Discard(), opts, scannerFor(root), locker, cv)
	if len(results) != 2 {
		t.Fatalf("results %+v", results)
	}
	for i, r := range results {
		if r.Outcome != OutcomePrepared || r.OSDID == nil || *r.OSDID != 5+i || r.ID != opts.Targets[i].ID {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if len(cv.calls) != 2 || strings.Join(cv.calls[0], " ") != "raw prepare --bluestore --data /dev/nvme0n1p1" || strings.Join(cv.calls[1], " ") != "raw prepare --bluestore --data /dev/nvme0n1p2" {
		t.Errorf("ceph-volume calls %q", cv.calls)
	}
	// Only the partitions were held, never the whole disk.
	for _, h := range locker.taken {
		if h == "nvme0n1" {
			t.Errorf("the whole disk was held exclusively: %v", locker.taken)
		}
	}
	f, err := os.Open(filepath.Join(root, "dev", "nvme0n1"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	table, err := gpt.Read(f, splitSize, 512)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Partitions) != 2 {
		t.Fatalf("partition table %+v", table)
	}
	for i, p := range table.Partitions {
		if p.Number != i+1 || p.Name != gpt.Label(gpt.RoleOSD, fsid, i+1) || p.Type != gpt.TypeCephOSD || p.Start(512) != mib+int64(i)*splitPart || p.Size(512) != splitPart {
			t.Errorf("partition %d: %+v", i+1, p)
		}
	}
	if after, _ := n.Checksums(); after["sdb"] != before["sdb"] {
		t.Error("sdb was written")
	}
}

// TestPrepareSplitRefusals: a data partition is made only on the planned
// disk when it is blank or split by this cluster, and a DB partition never
// on a split disk; a disk whose partition table another process holds is
// refused as busy. Nothing is written in any case.
func TestPrepareSplitRefusals(t *testing.T) {
	const uuid = "11111111-2222-4333-8444-000000000001"
	dbMade := []fixture.GPTPartition{{Number: 1, Name: gpt.Label(gpt.RoleDB, fsid, 1), Type: gpt.TypeCephDB, UUID: uuid, Start: mib, Size: fixture.GiB}}
	dataMade := []fixture.GPTPartition{{Number: 1, Name: gpt.Label(gpt.RoleOSD, fsid, 1), Type: gpt.TypeCephOSD, UUID: uuid, Start: mib, Size: splitPart}}
	for _, tc := range []struct {
		name   string
		made   []fixture.GPTPartition
		target Target
		// lock holds the disk's flock while the target runs.
		lock   bool
		reason string
		msg    string
	}{
		{name: "a metadata device", made: dbMade, target: splitTarget(2, false, ""), reason: ReasonSplitDiskNotUsable, msg: "disk to split nvme0n1 is MetadataDevice"},
		{name: "a DB partition on a split disk", made: dataMade, reason: ReasonMetadataDeviceNotUsable, msg: "metadata device nvme0n1 is OSDPartitions",
			target: func() Target {
				tg := dbTarget(2, 7*fixture.GiB, fixture.GiB, false, "")
				tg.DB.Device.SizeBytes = splitSize
				return tg
			}()},
		{name: "partition 1 again", made: dataMade, target: splitTarget(1, false, ""), reason: ReasonPartitionMismatch, msg: "exists already"},
		{name: "another disk at the path", target: func() Target { tg := splitTarget(1, false, ""); tg.Data.Device.Serial = "SN-other"; return tg }(), reason: ReasonIdentityMismatch, msg: "disk to split"},
		{name: "its partition table locked", target: splitTarget(1, false, ""), lock: true, reason: "Busy", msg: "its partition table is locked by another process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nvme := fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(splitSize)}
			if tc.made != nil {
				nvme.Partitions = fixture.SysfsPartitions("nvme0n1", tc.made)
			}
			root, n := layoutNode(t, nvme)
			if tc.made != nil {
				if err := n.WriteGPT("nvme0n1", tc.made); err != nil {
					t.Fatal(err)
				}
			}
			if tc.lock {
				f, err := os.Open(filepath.Join(root, "dev", "nvme0n1"))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = f.Close() }()
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
					t.Fatal(err)
				}
			}
			before, err := n.Checksums()
			if err != nil {
				t.Fatal(err)
			}
			k := &fakeKernel{root: root}
			cv := &fakeCephVolume{root: root}
			opts := optionsFor(root)
			opts.Targets = []Target{tc.target}
			opts.Partitioner = GPTPartitioner{AddToKernel: k.add, LockWait: 100 * time.Millisecond}
			r := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)[0]
			if r.Outcome != OutcomeRefused || r.Reason != tc.reason || !strings.Contains(r.Message, tc.msg) {
				t.Errorf("result %+v, want Refused/%s containing %q", r, tc.reason, tc.msg)
			}
			if len(cv.calls) != 0 || len(k.added) != 0 {
				t.Errorf("ceph-volume %q, kernel told of %v", cv.calls, k.added)
			}
			unchanged(t, n, before)
		})
	}
}

// TestPrepareSplitVerifiesTheLabel: ceph-volume's success is not proof; a
// partition that does not read back as an OSD of this cluster fails.
func TestPrepareSplitVerifiesTheLabel(t *testing.T) {
	root, _ := splitNode(t)
	cv := &fakeCephVolume{root: root}
	cv.hook = func(context.Context, string) (bool, error) { return true, nil }
	opts := optionsFor(root)
	opts.Targets = []Target{splitTarget(1, false, "")}
	opts.Partitioner = GPTPartitioner{AddToKernel: (&fakeKernel{root: root}).add}
	r := Run(context.Background(), logr.Discard(), opts, scannerFor(root), &fakeLocker{}, cv)[0]
	if r.Outcome != OutcomeFailed || r.Reason != ReasonNotVerified || !strings.Contains(r.Message, "carries no BlueStore label") {
		t.Errorf("result %+v", r)
	}
	if _, err := ceph.ParseBlueStoreLabel(make([]byte, ceph.BlueStoreLabelSize)); err == nil {
		t.Error("a blank label parses")
	}
}

func TestParseTargetsChecksDataPartitions(t *testing.T) {
	ok := `[{"path":"/dev/nvme0n1","id":"/dev/nvme0n1-part1","data":{"device":{"path":"/dev/nvme0n1"},"role":"Data","number":1,"label":"ceph-osd.6f1c3a3e.1","startBytes":1048576,"sizeBytes":6441402368}}]`
	if _, err := ParseTargets(ok); err != nil {
		t.Fatalf("valid targets refused: %v", err)
	}
	for name, bad := range map[string]string{
		"role":         strings.Replace(ok, `"role":"Data"`, `"role":"DB"`, 1),
		"another disk": strings.Replace(ok, `"device":{"path":"/dev/nvme0n1"}`, `"device":{"path":"/dev/nvme1n1"}`, 1),
		"with a DB":    strings.Replace(ok, `"id":"/dev/nvme0n1-part1",`, `"id":"x","db":{"device":{"path":"/dev/sdb"},"role":"DB","number":1,"label":"ceph-db.6f1c3a3e.1","startBytes":1048576,"sizeBytes":1073741824},`, 1),
		"replacing":    strings.Replace(ok, `"id":"/dev/nvme0n1-part1",`, `"osdID":3,`, 1),
		"misaligned":   strings.Replace(ok, `"sizeBytes":6441402368`, `"sizeBytes":6441402369`, 1),
		"reused label": strings.Replace(ok, `"role":"Data"`, `"role":"Data","exists":true,"partUUID":"11111111-2222-4333-8444-000000000001","replacesOSDUUID":"11111111-2222-4333-8444-000000000002"`, 1),
	} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%s: %s accepted", name, bad)
		}
	}
}

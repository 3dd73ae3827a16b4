package wipe

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

const (
	testFSID = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"
	mib      = int64(1) << 20
)

// splitParts are the two data partitions of a 12 GiB disk, holding OSDs 3
// and 4 of testFSID.
func splitParts() []fixture.GPTPartition {
	var out []fixture.GPTPartition
	for n := 1; n <= 2; n++ {
		out = append(out, fixture.GPTPartition{Number: n, Name: gpt.Label(gpt.RoleOSD, testFSID, n), Type: gpt.TypeCephOSD,
			UUID: "11111111-2222-4333-8444-00000000000" + string(rune('0'+n)), Start: mib + int64(n-1)*6143*mib, Size: 6143 * mib,
			Content: fixture.BlueStore(fixture.Label(testFSID, n+2))})
	}
	return out
}

// splitFixture is a node whose nvme0n1 is split in two, with each
// partition's device node holding its OSD's label.
func splitFixture(t *testing.T) (string, *fixture.Node) {
	t.Helper()
	root := t.TempDir()
	n := fixture.New(root)
	parts := splitParts()
	n.Add(fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(12 * fixture.GiB), Links: []string{"by-id/nvme-fast"}, Serial: "SN-fast",
		Partitions: fixture.SysfsPartitions("nvme0n1", parts)})
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteGPT("nvme0n1", parts); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		node := filepath.Join(root, "dev", "nvme0n1p"+string(rune('0'+p.Number)))
		b := make([]byte, 2*mib)
		copy(b, p.Content[0].Data)
		if err := os.WriteFile(node, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, n
}

func partTarget(number int32, osd int, uuid string) Target {
	return Target{Path: "/dev/disk/by-id/nvme-fast", ID: "/dev/disk/by-id/nvme-fast-part" + string(rune('0'+number)), Serial: "SN-fast", SizeBytes: 12 * fixture.GiB,
		ExpectedOSD: &ExpectedOSD{FSID: testFSID, OSDID: osd},
		Partition:   &Partition{DiskID: "/dev/disk/by-id/nvme-fast", Number: number, PartUUID: uuid, StartBytes: mib + int64(number-1)*6143*mib, SizeBytes: 6143 * mib}}
}

// TestFreeDataPartition: the partition of a purged OSD on a split disk is
// freed through its own node, and only when it is exactly the one named
// and carries exactly that OSD's label; the disk itself (its partition
// table, the sibling partition) is never written, and a partition someone
// holds is refused.
func TestFreeDataPartition(t *testing.T) {
	for _, tc := range []struct {
		name    string
		target  Target
		hold    bool
		outcome string
		msg     string
	}{
		{name: "the purged OSD's partition", target: partTarget(2, 4, "11111111-2222-4333-8444-000000000002"), outcome: OutcomeWiped, msg: "partition nvme0n1p2 of nvme0n1 (OSD 4) freed: its first MiB and 1 label copy offset(s) zeroed"},
		{name: "another OSD's label", target: partTarget(2, 3, "11111111-2222-4333-8444-000000000002"), outcome: OutcomeRefused, msg: "shows OSD 4"},
		{name: "another GUID", target: partTarget(2, 4, "11111111-2222-4333-8444-000000000009"), outcome: OutcomeRefused, msg: "is not the one named"},
		{name: "another disk", target: func() Target {
			t := partTarget(2, 4, "11111111-2222-4333-8444-000000000002")
			t.Serial = "SN-other"
			return t
		}(), outcome: OutcomeRefused, msg: "not the disk named"},
		{name: "held by its OSD", target: partTarget(2, 4, "11111111-2222-4333-8444-000000000002"), hold: true, outcome: OutcomeRefused, msg: "locked by another process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, n := splitFixture(t)
			before, err := n.Checksums()
			if err != nil {
				t.Fatal(err)
			}
			p2 := filepath.Join(root, "dev", "nvme0n1p2")
			p1, _ := os.ReadFile(filepath.Join(root, "dev", "nvme0n1p1"))
			was2, _ := os.ReadFile(p2)
			if tc.hold {
				f, err := os.Open(p2)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = f.Close() }()
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
					t.Fatal(err)
				}
			}
			o := Options{Targets: []Target{tc.target}, Root: root, Verdict: discovery.Options{ClusterFSID: testFSID, MinSizeBytes: 1 << 30}, BusyRetryDelay: time.Millisecond}
			sc := prepare.DiscoveryScanner{Scanner: discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}}
			r := Run(context.Background(), logr.Discard(), o, sc, nil)[0]
			if r.Outcome != tc.outcome || !strings.Contains(r.Message, tc.msg) || r.ID != tc.target.ID {
				t.Errorf("result %+v, want %s with %q", r, tc.outcome, tc.msg)
			}
			after, _ := n.Checksums()
			if after["nvme0n1"] != before["nvme0n1"] {
				t.Error("the disk itself was written")
			}
			if got, _ := os.ReadFile(filepath.Join(root, "dev", "nvme0n1p1")); !bytes.Equal(got, p1) {
				t.Error("the sibling partition was written")
			}
			got2, _ := os.ReadFile(p2)
			if tc.outcome == OutcomeWiped {
				if !bytes.Equal(got2[:mib], make([]byte, mib)) {
					t.Error("the partition's first MiB is not zero")
				}
			} else if !bytes.Equal(got2, was2) {
				t.Error("a refused partition was written")
			}
		})
	}
}

// TestZeroDataPartitionOnLoop: on a real split loop device, a partition
// that another process holds exclusively is refused; once free it is
// zeroed through its own node, the sibling partition and the partition
// table are unchanged. Root only; the loop device is the test's own.
func TestZeroDataPartitionOnLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup is not installed")
	}
	const size = 64 * mib
	img := filepath.Join(t.TempDir(), "split.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	var parts []gpt.NewPartition
	for n := 1; n <= 2; n++ {
		p := gpt.NewPartition{Number: n, Name: gpt.Label(gpt.RoleOSD, testFSID, n), Type: gpt.TypeCephOSD, Start: mib + int64(n-1)*31*mib, Size: 31 * mib}
		if _, err := gpt.Add(f, size, 512, p); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(ceph.EncodeBlueStoreLabel(fixture.Label(testFSID, n+2)), p.Start); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Partscan: detaching then drops the partitions BLKPG added, which
	// would otherwise stay on the free loop device for its next user.
	out, err := exec.Command("losetup", "-f", "--show", "-P", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	df, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if err := gpt.AddToKernel(df, p.Number, p.Start, p.Size); err != nil {
			_ = df.Close()
			t.Fatalf("BLKPG: %v", err)
		}
	}
	_ = df.Close()
	p1, p2 := dev+"p1", dev+"p2"
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := os.Stat(p2); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", p2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	read := func(off, n int64) []byte {
		f, err := os.Open(dev)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		if err := discovery.DropCache(f); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		return b
	}
	table, sibling := read(0, mib), read(parts[0].Start, 31*mib)

	// Held exclusively, as a running ceph-osd holds its partition.
	hold, err := os.OpenFile(p2, os.O_RDONLY|syscall.O_EXCL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zeroDataPartition(p2, &ExpectedOSD{FSID: testFSID, OSDID: 4}, 31*mib); err == nil || !strings.Contains(err.Error(), "cannot be held exclusively") {
		t.Errorf("a held partition: %v", err)
	}
	_ = hold.Close()
	if _, err := zeroDataPartition(p2, &ExpectedOSD{FSID: testFSID, OSDID: 5}, 31*mib); err == nil || !strings.Contains(err.Error(), "no longer carries the label of OSD 5") {
		t.Errorf("another OSD's label: %v", err)
	}
	if l, err := ceph.ParseBlueStoreLabel(read(parts[1].Start, ceph.BlueStoreLabelSize)); err != nil || l.WhoAmI != 4 {
		t.Fatalf("partition 2 lost its label on a refusal: %v %v", l, err)
	}
	if _, err := zeroDataPartition(p2, &ExpectedOSD{FSID: testFSID, OSDID: 4}, 31*mib); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(parts[1].Start, mib), make([]byte, mib)) {
		t.Error("partition 2's first MiB, read through the disk, is not zero")
	}
	if !bytes.Equal(read(0, mib), table) || !bytes.Equal(read(parts[0].Start, 31*mib), sibling) {
		t.Error("the partition table or the sibling partition changed")
	}
	_ = p1
}

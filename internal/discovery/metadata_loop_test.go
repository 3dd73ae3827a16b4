package discovery_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// TestMetadataDeviceOnLoop partitions image files as the prepare step
// does, attaches them as loop devices, tells the kernel of the partitions
// with gpt.AddToKernel (a kernel without GPT support, like this machine's,
// never reads them from the table itself), and scans each device through
// a root that shows only that device (the host's /proc, the device's sysfs
// entry and device nodes): the kernel's partitions and the GPT read back
// as a metadata device, another cluster's, or someone else's partitions.
// Root only; every loop device is the test's own.
func TestMetadataDeviceOnLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup is not installed")
	}
	const size = 256 * mib
	const other = "deadbeef-0000-4000-8000-000000000000"
	dbPart := func(fsid string) gpt.NewPartition {
		return gpt.NewPartition{Number: 1, Name: gpt.Label(gpt.RoleDB, fsid, 1), Type: gpt.TypeCephDB, Start: mib, Size: 64 * mib}
	}
	osdPart := func(fsid string, n int) gpt.NewPartition {
		return gpt.NewPartition{Number: n, Name: gpt.Label(gpt.RoleOSD, fsid, n), Type: gpt.TypeCephOSD, Start: int64(n-1)*64*mib + mib, Size: 64 * mib}
	}
	for _, c := range []struct {
		name    string
		parts   []gpt.NewPartition
		content map[int64][]byte
		state   string
		reason  string
		msg     string
		// untold leaves the kernel unaware of the partitions.
		untold bool
	}{
		{name: "ours", parts: []gpt.NewPartition{dbPart(clusterFSID)}, state: "MetadataDevice", msg: "it holds 1 unused partition (partition 1)"},
		{name: "ours, kernel not told", parts: []gpt.NewPartition{dbPart(clusterFSID)}, untold: true, state: "MetadataDevice", msg: "the kernel does not show partition 1 yet"},
		{name: "foreign", parts: []gpt.NewPartition{dbPart(other)}, state: "Rejected", reason: "ForeignCephCluster", msg: "deadbeef"},
		// A disk split into two OSDs: one partition holds OSD 3 of this
		// cluster, the other is blank (a prepare stopped between them).
		{
			name:    "split, one OSD and one blank",
			parts:   []gpt.NewPartition{osdPart(clusterFSID, 1), osdPart(clusterFSID, 2)},
			content: map[int64][]byte{mib: ceph.EncodeBlueStoreLabel(fixture.Label(clusterFSID, 3))},
			state:   "OSDPartitions", msg: "split into 2 OSD data partitions of this cluster: OSD 3 on partition 1, partition 2 unused",
		},
		{
			name:    "split, another cluster's OSD on a partition of ours",
			parts:   []gpt.NewPartition{osdPart(clusterFSID, 1), osdPart(clusterFSID, 2)},
			content: map[int64][]byte{mib: ceph.EncodeBlueStoreLabel(fixture.Label(other, 3))},
			state:   "Rejected", reason: "ForeignCephCluster", msg: "BlueStore label of cluster " + other,
		},
		{
			name:    "split, data on a blank partition",
			parts:   []gpt.NewPartition{osdPart(clusterFSID, 1), osdPart(clusterFSID, 2)},
			content: map[int64][]byte{65*mib + 4096: []byte("someone's data")},
			state:   "Rejected", reason: "HasUnknownData", msg: "first non-zero byte at offset 4096",
		},
		{name: "split, another cluster's partitions", parts: []gpt.NewPartition{osdPart(other, 1)}, state: "Rejected", reason: "ForeignCephCluster", msg: "OSD data partitions of another cluster"},
		{
			name:    "ext4",
			parts:   []gpt.NewPartition{dbPart(clusterFSID), {Number: 2, Name: "data", Type: "0fc63daf-8483-4772-8e79-3d69d8477de4", Start: 65 * mib, Size: 64 * mib}},
			content: map[int64][]byte{65*mib + 1024: fixture.Ext4("data")[0].Data},
			state:   "Rejected", reason: "HasPartitions", msg: "p2",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			for _, p := range c.parts {
				if _, err := gpt.Add(f, size, 512, p); err != nil {
					t.Fatal(err)
				}
			}
			for off, b := range c.content {
				if _, err := f.WriteAt(b, off); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			dev := attachLoop(t, img)
			name := filepath.Base(dev)
			kernelParts := 0
			if !c.untold {
				tellKernel(t, dev, c.parts)
				kernelParts = len(c.parts)
			}
			root := onlyDevice(t, name, kernelParts)
			devs, err := discovery.Scanner{Root: root, Busy: onlyBusy{dev: filepath.Join(root, "dev", name)}}.Scan()
			if err != nil {
				t.Fatal(err)
			}
			if len(devs) != 1 {
				t.Fatalf("scanned %d devices", len(devs))
			}
			d := devs[0]
			if len(d.Partitions) != kernelParts || len(d.GPTPartitions) != len(c.parts) {
				t.Fatalf("the kernel shows partitions %v, want %d; %d partitions found, want %d", d.Partitions, kernelParts, len(d.GPTPartitions), len(c.parts))
			}
			v := discovery.Evaluate(d, discovery.Options{ClusterFSID: clusterFSID, AllowLoop: true})
			if v.State != c.state || string(v.Reason) != c.reason || !strings.Contains(v.Message, c.msg) {
				t.Errorf("verdict %s/%s (%s), want %s/%s with %q", v.State, v.Reason, v.Message, c.state, c.reason, c.msg)
			}
			if c.state == "OSDPartitions" {
				p := d.GPTPartitions[0]
				if p.Name != name+"p1" || p.OSDID(clusterFSID) != 3 || d.GPTPartitions[1].OSDID(clusterFSID) != -1 {
					t.Errorf("partitions %+v", d.GPTPartitions)
				}
			}
			if c.name == "ours" {
				p := d.GPTPartitions[0]
				if p.Name != name+"p1" || p.KernelStartBytes != mib || p.KernelSizeBytes != 64*mib || p.Label != "ceph-db.c0ffee00.1" || !p.Probed || p.NonZero {
					t.Errorf("partition %+v", p)
				}
			}
		})
	}
}

// tellKernel adds the partitions to the kernel's view of loop device dev.
func tellKernel(t *testing.T, dev string, parts []gpt.NewPartition) {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range parts {
		if err := gpt.AddToKernel(f, p.Number, p.Start, p.Size); err != nil {
			t.Fatal(err)
		}
	}
}

// onlyBusy checks one device node for exclusive holders and reports every
// other one free, so the test never opens another's device exclusively.
type onlyBusy struct{ dev string }

func (b onlyBusy) IsBusy(p string) (bool, error) {
	if p != b.dev {
		return false, nil
	}
	return discovery.ExclusiveOpenChecker{}.IsBusy(p)
}

// onlyDevice returns a root that shows the host's /proc and, of the
// host's block devices, only loop device name with its partitions.
func onlyDevice(t *testing.T, name string, parts int) string {
	t.Helper()
	root := t.TempDir()
	links := map[string]string{
		"proc":              "/proc",
		"sys/block/" + name: "/sys/block/" + name,
		"dev/" + name:       "/dev/" + name,
	}
	for i := 1; i <= parts; i++ {
		p := name + "p" + strconv.Itoa(i)
		links["dev/"+p] = "/dev/" + p
	}
	for l, target := range links {
		p := filepath.Join(root, l)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// attachLoop attaches the image to a free loop device with partition
// scanning and detaches it when the test ends.
func attachLoop(t *testing.T, img string) string {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", "-P", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("detaching %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// TestPartitionLabelWrittenThroughItsOwnNode writes a DB label the way
// ceph-osd does, through the partition's own device node with O_DIRECT,
// while the whole disk stays open (on a real node a running OSD keeps its
// own DB partition, and so the whole metadata device, open) and after a
// scan has read the blank partition. The kernel keeps separate caches for
// a disk and its partitions, so a scan that trusted the whole disk's cache
// would go on seeing the partition blank: the label must show.
func TestPartitionLabelWrittenThroughItsOwnNode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup is not installed")
	}
	const size = 256 * mib
	part := gpt.NewPartition{Number: 1, Name: gpt.Label(gpt.RoleDB, clusterFSID, 1), Type: gpt.TypeCephDB, Start: mib, Size: 64 * mib}
	img := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := gpt.Add(f, size, 512, part); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dev := attachLoop(t, img)
	name := filepath.Base(dev)
	tellKernel(t, dev, []gpt.NewPartition{part})
	// Held open for the whole test, as a running OSD's partition holds
	// its disk: the disk's cache is not dropped at a last close.
	held, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }()
	root := onlyDevice(t, name, 1)
	scan := func() discovery.GPTPartition {
		t.Helper()
		devs, err := discovery.Scanner{Root: root, Busy: onlyBusy{dev: filepath.Join(root, "dev", name)}}.Scan()
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 1 || len(devs[0].GPTPartitions) != 1 {
			t.Fatalf("scanned %+v", devs)
		}
		return devs[0].GPTPartitions[0]
	}
	if p := scan(); !p.Probed || p.NonZero || p.BlueStore != nil {
		t.Fatalf("blank partition scanned as %+v", p)
	}

	const osdUUID = "5a5a5a5a-1111-4222-8333-444444444444"
	label := fixture.BlueFSLabel(osdUUID, "bluefs db")[0]
	pf, err := os.OpenFile(dev+"p1", os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	// O_DIRECT wants an aligned buffer: a page-aligned 4 KiB block.
	buf := alignedBlock(4096)
	copy(buf[label.Offset:], label.Data)
	if _, err := pf.WriteAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if err := pf.Close(); err != nil {
		t.Fatal(err)
	}
	p := scan()
	if p.BlueStore == nil || !strings.EqualFold(p.BlueStore.OSDUUID, osdUUID) {
		t.Fatalf("after ceph-osd's write through %sp1 the scan shows %+v, want the label of OSD uuid %s", name, p, osdUUID)
	}
}

// alignedBlock returns n zero bytes starting at a page boundary.
func alignedBlock(n int) []byte {
	const page = 4096
	b := make([]byte, n+page)
	off := page - int(uintptr(unsafe.Pointer(&b[0]))%page)
	if off == page {
		off = 0
	}
	return b[off : off+n]
}

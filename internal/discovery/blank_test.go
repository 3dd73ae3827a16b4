package discovery_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

// blankCase is one device on a fixture node with the verdict it must get.
type blankCase struct {
	disk       fixture.Disk
	wantState  string
	wantReason string
	wantMsg    []string
}

// scanCases writes the disks into one fixture node (plus whatever extra
// prepares), scans it with the real exclusive-open check and blkid, and
// checks every verdict and that nothing was written.
func scanCases(t *testing.T, opts discovery.Options, cases []blankCase, extra func(root string, n *fixture.Node)) map[string]discovery.Device {
	t.Helper()
	root := t.TempDir()
	n := fixture.New(root)
	for _, c := range cases {
		n.Add(c.disk)
	}
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	if extra != nil {
		extra(root, n)
	}
	before, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	devs, err := discovery.Scanner{Root: root}.Scan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	byName := map[string]discovery.Device{}
	for _, d := range devs {
		byName[d.KernelName] = d
	}
	for _, c := range cases {
		d, ok := byName[c.disk.Name]
		if !ok {
			t.Errorf("%s missing from the scan", c.disk.Name)
			continue
		}
		v := discovery.Evaluate(d, opts)
		if v.State != c.wantState || string(v.Reason) != c.wantReason {
			t.Errorf("%s: got %s/%s (%s), want %s/%s", c.disk.Name, v.State, v.Reason, v.Message, c.wantState, c.wantReason)
			continue
		}
		for _, m := range c.wantMsg {
			if !strings.Contains(v.Message, m) {
				t.Errorf("%s: message %q lacks %q", c.disk.Name, v.Message, m)
			}
		}
	}
	after, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed during the scan", k)
		}
	}
	return byName
}

func blankDisk(name string, size int64, content ...fixture.Chunk) fixture.Disk {
	return fixture.Disk{Name: name, SizeBytes: uint64(size), Content: content}
}

// TestUnknownDataIsNotBlank: bytes that no probe explains, anywhere in the
// first or last MiB, keep a disk from being Available.
func TestUnknownDataIsNotBlank(t *testing.T) {
	const size = 8 * fixture.GiB
	b := func(off int64) fixture.Chunk { return fixture.Chunk{Offset: off, Data: []byte{0x5a}} }
	scanCases(t, discovery.Options{}, []blankCase{
		{disk: blankDisk("sda", size), wantState: "Available"},
		{disk: blankDisk("sdb", size, b(0)), wantState: "Rejected", wantReason: "HasUnknownData", wantMsg: []string{"offset 0 ", "head"}},
		// 200 KiB is beyond where any signature we know lives.
		{disk: blankDisk("sdc", size, b(200<<10)), wantState: "Rejected", wantReason: "HasUnknownData", wantMsg: []string{"offset 204800 "}},
		{disk: blankDisk("sdd", size, b(1<<20-1)), wantState: "Rejected", wantReason: "HasUnknownData", wantMsg: []string{"offset 1048575 ", "head"}},
		{disk: blankDisk("sde", size, b(size-1)), wantState: "Rejected", wantReason: "HasUnknownData", wantMsg: []string{"offset 8589934591 ", "tail"}},
		{disk: blankDisk("sdf", size, b(size-1<<20)), wantState: "Rejected", wantReason: "HasUnknownData", wantMsg: []string{"tail"}},
		// Outside both windows nothing is read: a disk is judged by its
		// first and last MiB, as every signature lives there.
		{disk: blankDisk("sdg", size, b(1<<20), b(size-1<<20-1)), wantState: "Available"},
		// A known signature keeps its more specific reason.
		{disk: blankDisk("sdh", size, fixture.XFS("x")...), wantState: "Rejected", wantReason: "HasFilesystem", wantMsg: []string{"xfs"}},
	}, nil)
}

// TestEmptyPartitionTables: a label without partitions is still a partition
// table, and a FAT boot sector (which shares the 0x55AA signature) is not.
func TestEmptyPartitionTables(t *testing.T) {
	const size = 8 * fixture.GiB
	emptyMBR := make([]byte, 512)
	emptyMBR[440], emptyMBR[441], emptyMBR[442], emptyMBR[443] = 0x12, 0x34, 0x56, 0x78 // disk identifier, as fdisk writes it
	emptyMBR[510], emptyMBR[511] = 0x55, 0xaa
	bareMBR := make([]byte, 512)
	bareMBR[510], bareMBR[511] = 0x55, 0xaa
	gpt := fixture.GPT(size, 512)
	scanCases(t, discovery.Options{}, []blankCase{
		{disk: blankDisk("sda", size, fixture.Chunk{Data: emptyMBR}), wantState: "Rejected", wantReason: "HasPartitionTable", wantMsg: []string{"dos"}},
		{disk: blankDisk("sdb", size, fixture.Chunk{Data: bareMBR}), wantState: "Rejected", wantReason: "HasPartitionTable", wantMsg: []string{"dos"}},
		{disk: blankDisk("sdc", size, gpt...), wantState: "Rejected", wantReason: "HasPartitionTable", wantMsg: []string{"gpt"}},
		{disk: blankDisk("sdd", size, fixture.VFAT("USB")...), wantState: "Rejected", wantReason: "HasFilesystem", wantMsg: []string{"vfat"}},
		{disk: blankDisk("sde", size, fixture.MBR()...), wantState: "Rejected", wantReason: "HasPartitionTable", wantMsg: []string{"dos"}},
	}, nil)
}

// TestOpenByProcess: a process holding a device (or one of its partitions)
// open, without O_EXCL, makes it Busy, naming the process.
func TestOpenByProcess(t *testing.T) {
	const size = 8 * fixture.GiB
	part := func(name string) fixture.Disk {
		d := blankDisk(name, size)
		d.Partitions = []fixture.Partition{{Name: name + "1", StartBytes: 1 << 20, SizeBytes: uint64(fixture.GiB)}}
		return d
	}
	scanCases(t, discovery.Options{}, []blankCase{
		{disk: blankDisk("sda", size), wantState: "Available"},
		{disk: blankDisk("sdb", size), wantState: "Rejected", wantReason: "Busy", wantMsg: []string{"pid 4242 (postgres) holds sdb"}},
		{disk: part("sdc"), wantState: "Rejected", wantReason: "HasPartitions"},
		// A partition held open is the disk's business too.
		{disk: part("sdd"), wantState: "Rejected", wantReason: "Busy", wantMsg: []string{"pid 4444 (qemu-system-x86) holds sdd1"}},
	}, func(root string, _ *fixture.Node) {
		// Fixture partitions have no device node; give sdd1 one.
		if err := os.WriteFile(filepath.Join(root, "dev/sdd1"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		fakeProcess(t, root, 4242, "postgres", map[int]string{0: "/dev/null", 3: filepath.Join(root, "dev/sdb"), 4: "pipe:[123]"})
		fakeProcess(t, root, 4343, "cat", map[int]string{5: filepath.Join(root, "dev/nope")})
		fakeProcess(t, root, 4444, "qemu-system-x86", map[int]string{7: filepath.Join(root, "dev/sdd1")})
	})
}

// TestOpenByProcessIgnoresScanners: other scans (the agent's and
// prepare's, running this same program, and their blkid children) open
// every device for a moment; that does not make a device busy, while a
// blkid someone else runs does.
func TestOpenByProcessIgnoresScanners(t *testing.T) {
	const size = 8 * fixture.GiB
	const exe = "/usr/local/bin/ceph-operator"
	scanCases(t, discovery.Options{}, []blankCase{
		{disk: blankDisk("sda", size), wantState: "Available"},
		{disk: blankDisk("sdb", size), wantState: "Available"},
		{disk: blankDisk("sdc", size), wantState: "Rejected", wantReason: "Busy", wantMsg: []string{"pid 4747 (blkid) holds sdc"}},
		{disk: blankDisk("sdd", size), wantState: "Rejected", wantReason: "Busy", wantMsg: []string{"pid 4848 (ceph-operator) holds sdd"}},
	}, func(root string, _ *fixture.Node) {
		if err := os.Symlink(exe, filepath.Join(root, "proc/self/exe")); err != nil {
			t.Fatal(err)
		}
		fakeProcess(t, root, 4545, "ceph-operator", map[int]string{3: filepath.Join(root, "dev/sda")})
		fakeProcess(t, root, 4646, "blkid", map[int]string{3: filepath.Join(root, "dev/sdb")})
		fakeProcess(t, root, 4747, "blkid", map[int]string{3: filepath.Join(root, "dev/sdc")})
		// Same name, another program: not a scanner.
		fakeProcess(t, root, 4848, "ceph-operator", map[int]string{3: filepath.Join(root, "dev/sdd")})
		for pid, target := range map[int]string{4545: exe, 4646: "/usr/sbin/blkid", 4747: "/usr/sbin/blkid", 4848: "/opt/other/ceph-operator"} {
			if err := os.Symlink(target, filepath.Join(root, "proc", strconv.Itoa(pid), "exe")); err != nil {
				t.Fatal(err)
			}
		}
		for pid, ppid := range map[int]int{4646: 4545, 4747: 1} {
			stat := fmt.Sprintf("%d (blkid) S %d %d 0 0 -1 4194304\n", pid, ppid, ppid)
			if err := os.WriteFile(filepath.Join(root, "proc", strconv.Itoa(pid), "stat"), []byte(stat), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestOpenByProcessIgnoresSelf: the scanner's own descriptors (it opens
// every device it probes) do not make a device busy.
func TestOpenByProcessIgnoresSelf(t *testing.T) {
	root := t.TempDir()
	n := fixture.New(root)
	n.Add(blankDisk("sdb", 8*fixture.GiB))
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	fakeProcess(t, root, 4242, "agent", map[int]string{3: filepath.Join(root, "dev/sdb")})
	if err := os.Rename(filepath.Join(root, "proc/self/mountinfo"), filepath.Join(root, "proc/4242/mountinfo")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "proc/self")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("4242", filepath.Join(root, "proc/self")); err != nil {
		t.Fatal(err)
	}
	devs, err := discovery.Scanner{Root: root, MountinfoPath: "/proc/4242/mountinfo"}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if v := discovery.Evaluate(devs[0], discovery.Options{}); v.State != discovery.StateAvailable {
		t.Fatalf("held only by the scanner itself: %+v", v)
	}
}

// TestLoopBackingDevice: a disk that backs a loop device is in use.
func TestLoopBackingDevice(t *testing.T) {
	const size = 8 * fixture.GiB
	scanCases(t, discovery.Options{AllowLoop: true}, []blankCase{
		{disk: blankDisk("sdb", size), wantState: "Rejected", wantReason: "HasHolders", wantMsg: []string{"backs loop device loop0"}},
		{disk: fixture.Disk{Name: "loop0", SizeBytes: uint64(size), LoopBackingFile: "/dev/sdb"}, wantState: "Available"},
		{disk: blankDisk("sdc", size), wantState: "Available"},
	}, nil)
}

// TestSharedDevice: one LUN seen twice (same WWN, or same serial when there
// is no WWN, or two loop devices on one file) is never used.
func TestSharedDevice(t *testing.T) {
	const size = 8 * fixture.GiB
	wwn := func(name, id string) fixture.Disk {
		d := blankDisk(name, size)
		d.WWID = id
		return d
	}
	serial := func(name, s string) fixture.Disk {
		d := blankDisk(name, size)
		d.Serial = s
		return d
	}
	scanCases(t, discovery.Options{AllowLoop: true}, []blankCase{
		{disk: wwn("sda", "naa.5000c500c0ffee01"), wantState: "Rejected", wantReason: "SharedDevice", wantMsg: []string{"sdc"}},
		{disk: wwn("sdb", "naa.5000c500c0ffee02"), wantState: "Available"},
		{disk: wwn("sdc", "naa.5000C500C0FFEE01"), wantState: "Rejected", wantReason: "SharedDevice", wantMsg: []string{"sda"}},
		{disk: serial("sdd", "ZR500001"), wantState: "Rejected", wantReason: "SharedDevice", wantMsg: []string{"sde"}},
		{disk: serial("sde", "ZR500001"), wantState: "Rejected", wantReason: "SharedDevice", wantMsg: []string{"sdd"}},
		// Empty identities never match.
		{disk: blankDisk("sdf", size), wantState: "Available"},
		{disk: blankDisk("sdg", size), wantState: "Available"},
		{disk: fixture.Disk{Name: "loop0", SizeBytes: uint64(size), LoopBackingFile: "/var/lib/images/a.img"}, wantState: "Rejected", wantReason: "SharedDevice", wantMsg: []string{"loop1", "one file attached to several loop devices"}},
		{disk: fixture.Disk{Name: "loop1", SizeBytes: uint64(size), LoopBackingFile: "/var/lib/images/./a.img"}, wantState: "Rejected", wantReason: "SharedDevice", wantMsg: []string{"loop0"}},
		{disk: fixture.Disk{Name: "loop2", SizeBytes: uint64(size), LoopBackingFile: "/var/lib/images/b.img"}, wantState: "Available"},
	}, func(root string, _ *fixture.Node) {
		for _, f := range []string{"a.img", "b.img"} {
			p := filepath.Join(root, "var/lib/images", f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestPartiallyPrepared: a label of this cluster that ceph-osd --mkfs never
// finished is reported as such, never as an OSD of some cluster.
func TestPartiallyPrepared(t *testing.T) {
	const size = 8 * fixture.GiB
	const other = "99999999-8888-4777-8666-555555555555"
	without := func(fsid string, keys ...string) []fixture.Chunk {
		l := fixture.Label(fsid, 3)
		for _, k := range keys {
			delete(l.Meta, k)
			if k == ceph.MetaWhoAmI {
				l.WhoAmI = -1
			}
		}
		return fixture.BlueStore(l)
	}
	byName := scanCases(t, discovery.Options{ClusterFSID: clusterFSID}, []blankCase{
		{disk: blankDisk("sda", size, fixture.BlueStore(fixture.Label(clusterFSID, 3))...), wantState: "OSD"},
		{disk: blankDisk("sdb", size, without(clusterFSID, "ready")...), wantState: "Rejected", wantReason: "PartiallyPrepared", wantMsg: []string{"ready", "wipe"}},
		{disk: blankDisk("sdc", size, without(clusterFSID, ceph.MetaWhoAmI)...), wantState: "Rejected", wantReason: "PartiallyPrepared", wantMsg: []string{"whoami"}},
		{disk: blankDisk("sdd", size, without(clusterFSID, ceph.MetaOSDKey, "ready")...), wantState: "Rejected", wantReason: "PartiallyPrepared", wantMsg: []string{"osd_key"}},
		{disk: blankDisk("sde", size, without(other, ceph.MetaWhoAmI)...), wantState: "Rejected", wantReason: "ForeignCephCluster", wantMsg: []string{other}},
	}, nil)
	for name, d := range byName {
		for _, o := range []discovery.Options{{ClusterFSID: clusterFSID}, {}} {
			if v := discovery.Evaluate(d, o); strings.Contains(v.Message, "OSD -1") {
				t.Errorf("%s: %q", name, v.Message)
			}
		}
	}
}

// fakeProcess adds /proc/<pid> to a fixture root with the given command and
// file descriptors (symlinks, as the kernel shows them).
func fakeProcess(t *testing.T, root string, pid int, comm string, fds map[int]string) {
	t.Helper()
	dir := filepath.Join(root, "proc", strconv.Itoa(pid))
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for fd, target := range fds {
		if err := os.Symlink(target, filepath.Join(dir, "fd", strconv.Itoa(fd))); err != nil {
			t.Fatal(err)
		}
	}
}

package discovery

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

// blkidNode writes a fixture node with one blank 8 GiB disk "sdb" and
// returns its root.
func blkidNode(t *testing.T, content ...fixture.Chunk) string {
	t.Helper()
	root := t.TempDir()
	n := fixture.New(root)
	n.Add(fixture.Disk{Name: "sdb", SizeBytes: uint64(8 * fixture.GiB), Content: content})
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	return root
}

func scanOne(t *testing.T, s Scanner) (Device, Verdict) {
	t.Helper()
	devs, err := s.Scan()
	if err != nil || len(devs) != 1 {
		t.Fatalf("scan: %v, %d devices", err, len(devs))
	}
	return devs[0], Evaluate(devs[0], Options{})
}

// TestBlkidFindingsReject: whatever blkid reports rejects an otherwise
// all-zero device with the matching reason, and a blkid that cannot answer
// makes the device Unreadable, never blank.
func TestBlkidFindingsReject(t *testing.T) {
	root := blkidNode(t)
	node := filepath.Join(root, "dev/sdb")
	script := func(body string) string {
		p := filepath.Join(t.TempDir(), "blkid")
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		blkid  BlkidProber
		reason Reason
		msg    string
	}{
		{"zfs", StaticBlkid{Results: map[string]BlkidResult{node: {Values: map[string]string{"TYPE": "zfs_member", "USAGE": "filesystem"}}}}, HasFilesystem, "zfs_member"},
		{"lvm", StaticBlkid{Results: map[string]BlkidResult{node: {Values: map[string]string{"TYPE": "LVM2_member"}}}}, HasHolders, "LVM physical volume"},
		{"partition table", StaticBlkid{Results: map[string]BlkidResult{node: {Values: map[string]string{"PTTYPE": "atari"}}}}, HasPartitionTable, "atari"},
		{"bluestore without a label we read", StaticBlkid{Results: map[string]BlkidResult{node: {Values: map[string]string{"TYPE": "ceph_bluestore"}}}}, ForeignCephCluster, "not read"},
		{"ambivalent", StaticBlkid{Results: map[string]BlkidResult{node: {Ambivalent: true}}}, HasFilesystem, "ambivalent"},
		{"other values", StaticBlkid{Results: map[string]BlkidResult{node: {Values: map[string]string{"SBMAGIC": "x"}}}}, HasFilesystem, `SBMAGIC="x"`},
		{"failing", StaticBlkid{Errors: map[string]error{node: errors.New("EIO")}}, Unreadable, "blkid could not run"},
		{"not installed", ExecBlkid{Path: filepath.Join(t.TempDir(), "no-blkid")}, Unreadable, "blkid could not run"},
		{"usage error", ExecBlkid{Path: script("echo bad option >&2; exit 4")}, Unreadable, "bad option"},
		{"status 2 with an error message", ExecBlkid{Path: script("echo cannot open >&2; exit 2")}, Unreadable, "cannot open"},
		{"success without output", ExecBlkid{Path: script("exit 0")}, Unreadable, "printed nothing"},
		{"hangs", ExecBlkid{Path: script("exec sleep 30"), Timeout: 200 * time.Millisecond}, Unreadable, "did not finish"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, v := scanOne(t, Scanner{Root: root, Blkid: tc.blkid, Busy: StaticBusyChecker{}})
			if v.Reason != tc.reason || !strings.Contains(v.Message, tc.msg) {
				t.Fatalf("got %s: %s; want %s with %q", v.Reason, v.Message, tc.reason, tc.msg)
			}
		})
	}
	// The fake that finds nothing leaves the blank disk Available.
	if _, v := scanOne(t, Scanner{Root: root, Blkid: StaticBlkid{}, Busy: StaticBusyChecker{}}); v.State != StateAvailable {
		t.Fatalf("blank disk: %+v", v)
	}
}

// TestExecBlkidOnFiles runs the real blkid on fixture device files: it is
// what the simulated nodes and fixture scans use.
func TestExecBlkidOnFiles(t *testing.T) {
	if _, err := (ExecBlkid{}).blkidPath(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	emptyMBR := make([]byte, 512)
	emptyMBR[510], emptyMBR[511] = 0x55, 0xaa
	tests := []struct {
		name    string
		content []fixture.Chunk
		want    map[string]string
	}{
		{"blank", nil, nil},
		{"empty MBR", []fixture.Chunk{{Data: emptyMBR}}, map[string]string{"PTTYPE": "dos"}},
		{"vfat", fixture.VFAT("USBSTICK"), map[string]string{"TYPE": "vfat", "LABEL_FATBOOT": "USBSTICK"}},
		{"bluestore", fixture.BlueStore(fixture.Label("c0ffee00-1111-4222-8333-444455556666", 1)), map[string]string{"TYPE": "ceph_bluestore"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := blkidNode(t, tc.content...)
			f, err := os.Open(filepath.Join(root, "dev/sdb"))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = f.Close() }()
			res, err := ExecBlkid{}.Probe(f)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if res.Found() {
					t.Fatalf("blank file: blkid found %s", res)
				}
				return
			}
			for k, v := range tc.want {
				if res.Values[k] != v {
					t.Errorf("%s=%q, want %q (all: %s)", k, res.Values[k], v, res)
				}
			}
		})
	}
	if _, err := exec.LookPath("mkfs.ext4"); err == nil {
		p := filepath.Join(t.TempDir(), "ext4.img")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 64<<20); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", p).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.ext4: %v: %s", err, out)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		if res, err := (ExecBlkid{}).Probe(f); err != nil || res.Values["TYPE"] != "ext4" {
			t.Fatalf("ext4: %s, %v", res, err)
		}
	}
}

func TestParseBlkidExport(t *testing.T) {
	got := parseBlkidExport([]byte("DEVNAME=/proc/self/fd/3\nLABEL=my\\ disk\nTYPE=ext4\n\nnoise\n"))
	want := map[string]string{"LABEL": "my disk", "TYPE": "ext4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

// FuzzBlankWindows drives the real probe and verdict on an in-memory device
// whose head and tail carry random bytes: the device is Available exactly
// when every byte is zero. blkid is not run (it is a subprocess; its own
// rule is tested above), so this pins what our probe alone guarantees.
func FuzzBlankWindows(f *testing.F) {
	f.Add([]byte{}, []byte{}, uint32(8<<20))
	f.Add([]byte{0}, []byte{0, 0, 0}, uint32(4096))
	f.Add([]byte{1}, []byte{}, uint32(3<<20))
	f.Add(make([]byte, 600), []byte{0, 0, 7}, uint32(2<<20+5))
	f.Add(append(make([]byte, 510), 0x55, 0xaa), []byte{}, uint32(16<<20))
	f.Add([]byte("bluestore block device\n"), []byte("EFI PART"), uint32(1<<20))
	f.Fuzz(func(t *testing.T, head, tail []byte, sizeSeed uint32) {
		// Sizes from 512 bytes to 8 MiB, so the windows overlap, touch,
		// or leave a gap.
		size := int64(512 + sizeSeed%(8<<20))
		head = head[:min(int64(len(head)), size)]
		tail = tail[:min(int64(len(tail)), size)]
		dev := sparseDevice{size: size, chunks: []fixture.Chunk{{Offset: 0, Data: head}, {Offset: size - int64(len(tail)), Data: tail}}}
		res, err := ProbeSignatures(dev, size)
		if err != nil {
			t.Fatal(err)
		}
		d := Device{KernelName: "loop9", Type: TypeLoop, SizeBytes: uint64(size)}
		d.applyProbe(res)
		v := Evaluate(d, Options{ClusterFSID: "c0ffee00-1111-4222-8333-444455556666", AllowLoop: true, MinSizeBytes: 1})
		// On small devices the tail overlaps the head and wins there.
		tailStart := size - int64(len(tail))
		visibleHead := head[:min(int64(len(head)), tailStart)]
		want := int64(-1)
		if i := firstNonZero(visibleHead); i >= 0 {
			want = int64(i)
		} else if i := firstNonZero(tail); i >= 0 {
			want = tailStart + int64(i)
		}
		zero := want < 0
		if (v.State == StateAvailable) != zero {
			t.Fatalf("size %d, head %x, tail %x: all zero %v, verdict %+v", size, head, tail, zero, v)
		}
		if res.NonZero != !zero || (!zero && res.FirstNonZero != want) {
			t.Fatalf("first non-zero byte reported at %d (%v), is at %d", res.FirstNonZero, res.NonZero, want)
		}
	})
}

// TestWindowsCoverEveryProbe pins that the zero test covers every offset a
// signature probe reads: a single byte at each such place is noticed.
func TestWindowsCoverEveryProbe(t *testing.T) {
	const size = 2 * fixture.TiB
	offsets := []int64{0, 510, 4096 + 24, 32769, 65536 + 64, 0x10000, 1<<20 - 1, size - 512, size - 4096, (size &^ 65535) - 65536, (size - 8192) &^ 4095, size - 1<<20, size - 1}
	for _, off := range offsets {
		res, err := ProbeSignatures(sparseDevice{size: size, chunks: []fixture.Chunk{{Offset: off, Data: []byte{0x80}}}}, size)
		if err != nil {
			t.Fatal(err)
		}
		if !res.NonZero || res.FirstNonZero != off || res.NonZeroInTail != (off >= size-ProbeTailBytes) {
			t.Errorf("byte at %d: %+v", off, res)
		}
	}
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, 1)
	if firstNonZero(append(make([]byte, 13), b...)) != 13 {
		t.Error("firstNonZero misses a byte after an unaligned prefix")
	}
}

// TestFirstNonZero pins the zero scan at the edges of its page-sized
// compares: a single byte anywhere is found at its own index.
func TestFirstNonZero(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 4095, 4096, 4097, 3*4096 + 5} {
		b := make([]byte, n)
		if got := firstNonZero(b); got != -1 {
			t.Errorf("%d zero bytes: got %d, want -1", n, got)
		}
		for _, at := range []int{0, 1, 4095, 4096, 4097, 2 * 4096, n - 1} {
			if at < 0 || at >= n {
				continue
			}
			clear(b)
			b[at] = 0x01
			if got := firstNonZero(b); got != at {
				t.Errorf("%d bytes, byte at %d: got %d", n, at, got)
			}
			b[n-1] = 0x80
			if got := firstNonZero(b); got != at {
				t.Errorf("%d bytes, bytes at %d and %d: got %d", n, at, n-1, got)
			}
		}
	}
}

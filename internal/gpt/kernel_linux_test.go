package gpt

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAddToKernelLoop: on a loop device, Add writes the table and
// AddToKernel makes the partition appear with its size, even while the
// disk's first partition is held open (when re-reading the whole table
// would fail).
func TestAddToKernelLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a loop device")
	}
	const size = 64 * mib
	dev := attachLoop(t, size)
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	name := filepath.Base(dev)
	for i, p := range []NewPartition{
		{Number: 1, Name: "ceph-db.1b2c3d4e.1", Type: TypeCephDB, Start: mib, Size: 8 * mib},
		{Number: 2, Name: "ceph-db.1b2c3d4e.2", Type: TypeCephDB, Start: 9 * mib, Size: 16 * mib},
	} {
		if _, err := Add(f, size, 512, p); err != nil {
			t.Fatal(err)
		}
		if err := AddToKernel(f, p.Number, p.Start, p.Size); err != nil {
			t.Fatal(err)
		}
		part := name + "p" + strconv.Itoa(p.Number)
		got := waitRead(t, filepath.Join("/sys/block", name, part, "size"))
		if got != strconv.FormatInt(p.Size/512, 10) {
			t.Errorf("%s: size %s sectors, want %d", part, got, p.Size/512)
		}
		if start := waitRead(t, filepath.Join("/sys/block", name, part, "start")); start != strconv.FormatInt(p.Start/512, 10) {
			t.Errorf("%s: start %s, want %d", part, start, p.Start/512)
		}
		if i == 0 {
			// Hold partition 1 open, as an OSD would its DB.
			held, err := os.OpenFile("/dev/"+part, os.O_RDWR|os.O_EXCL, 0)
			if err != nil {
				t.Logf("opening /dev/%s: %v (no device node without devtmpfs; holding skipped)", part, err)
				continue
			}
			t.Cleanup(func() { _ = held.Close() })
		}
	}
	// The same number again is refused by the kernel.
	if err := AddToKernel(f, 1, 30*mib, mib); err == nil {
		t.Error("AddToKernel of a number the kernel has succeeded")
	}
	tab, err := Read(f, size, 512)
	if err != nil || len(tab.Partitions) != 2 {
		t.Fatalf("Read = %+v, %v", tab, err)
	}
}

// waitRead reads a sysfs attribute, waiting briefly for it to appear.
func waitRead(t *testing.T, p string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(p)
		if err == nil {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("reading %s: %v", p, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attachLoop attaches a sparse file of size bytes, under the test's temp
// dir, to a free loop device with partition scanning, and detaches it when
// the test ends. It returns the device path.
func attachLoop(t *testing.T, size int64) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
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

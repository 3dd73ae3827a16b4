// Package loopdev gives root-only tests real block devices: sparse backing
// files attached as loop devices, cleaned up when the test ends, and a
// content hash that tells whether anything was written to a device.
package loopdev

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

// RequireRoot skips the test unless it can create loop devices, and
// under go test -short (make test-unit), which changes nothing on the
// machine even as root.
func RequireRoot(tb testing.TB, tools ...string) {
	tb.Helper()
	gate.Long(tb, "skipping: real block device tests are not run with -short (make test-unit)")
	gate.Root(tb, "skipping: real block device tests need root to attach loop devices (run as root, as CI does)")
	gate.File(tb, "/dev/loop-control", "skipping: /dev/loop-control is missing, so loop devices cannot be created here")
	gate.Tools(tb, " (run hack/install-node-tools.sh)", append([]string{"losetup"}, tools...)...)
}

// Run runs a command and fails the test with its output if it fails.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// SparseFile creates a sparse file of the given size holding chunks.
func SparseFile(tb testing.TB, dir, name string, size int64, chunks ...fixture.Chunk) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	for _, c := range chunks {
		if _, err := f.WriteAt(c.Data, c.Offset); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// Device is an attached loop device.
type Device struct {
	// Name is the kernel name, e.g. "loop3".
	Name string
	// Path is the device node.
	Path string
}

// Attach attaches backing to a free loop device (read-only if asked) and
// detaches it when the test ends, whatever happens.
func Attach(tb testing.TB, backing string, readOnly bool) Device {
	tb.Helper()
	dev, err := AttachLoop(backing, readOnly)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := DetachLoop(dev); err != nil {
			tb.Errorf("cleaning up: %v", err)
		}
	})
	return dev
}

// AttachPartitioned attaches backing like Attach, with partition scanning
// on (losetup -P): the kernel then lets partitions be added to the loop
// device, as to a real disk. Without it a loop device takes none.
func AttachPartitioned(tb testing.TB, backing string) Device {
	tb.Helper()
	out, err := exec.Command("losetup", "--find", "--show", "--partscan", backing).CombinedOutput()
	if err != nil {
		tb.Fatalf("attaching %s: %v: %s", backing, err, out)
	}
	p := strings.TrimSpace(string(out))
	dev := Device{Name: filepath.Base(p), Path: p}
	tb.Cleanup(func() {
		if err := DetachLoop(dev); err != nil {
			tb.Errorf("cleaning up: %v", err)
		}
	})
	return dev
}

// AttachLoop attaches backing to a free loop device without a test to
// clean up after; the caller detaches it.
func AttachLoop(backing string, readOnly bool) (Device, error) {
	args := []string{"--find", "--show"}
	if readOnly {
		args = append(args, "-r")
	}
	out, err := exec.Command("losetup", append(args, backing)...).CombinedOutput()
	if err != nil {
		return Device{}, fmt.Errorf("attaching %s: %w: %s", backing, err, out)
	}
	p := strings.TrimSpace(string(out))
	return Device{Name: filepath.Base(p), Path: p}, nil
}

// DetachLoop detaches dev; detaching one that is already gone is not an
// error, so it is safe in cleanups after a test detached it itself.
func DetachLoop(dev Device) error {
	out, err := exec.Command("losetup", "-d", dev.Path).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such device") {
		return fmt.Errorf("detaching %s: %w: %s", dev.Path, err, out)
	}
	return nil
}

// MountDevice mounts dev on a fresh directory and unmounts it when the test
// ends (before the loop device is detached, since cleanups run last-in
// first-out).
func MountDevice(tb testing.TB, dev Device) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	Run(tb, "mount", "-t", "ext4", dev.Path, dir)
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			tb.Errorf("cleaning up: umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// FileSHA256 hashes a file's content as the list of its non-zero 4 KiB
// blocks with their offsets. Only data extents are read (found with
// SEEK_DATA/SEEK_HOLE), so multi-GiB sparse files hash in milliseconds, and
// zero blocks are skipped, so the result does not depend on how the
// filesystem represents zeros: ext4 reports preallocated (unwritten) extents
// as holes or as data depending on what is in the page cache, and reading a
// loop device fills that cache. Any write of non-zero data changes the
// result.
func FileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "size=%d\n", st.Size())
	const block = 4096
	buf := make([]byte, block)
	zero := make([]byte, block)
	fd := int(f.Fd())
	for off := int64(0); off < st.Size(); {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("finding data in %s: %w", p, err)
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return "", fmt.Errorf("finding holes in %s: %w", p, err)
		}
		for b := data &^ (block - 1); b < hole; b += block {
			n, err := f.ReadAt(buf, b)
			if err != nil && !errors.Is(err, io.EOF) {
				return "", fmt.Errorf("reading %s: %w", p, err)
			}
			if bytes.Equal(buf[:n], zero[:n]) {
				continue
			}
			fmt.Fprintf(h, "block %d\n", b)
			h.Write(buf[:n])
		}
		off = hole
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HoldOpen starts a child that holds dev open read-only, without O_EXCL,
// as a database or a raw-block volume's user would, and stops it when the
// test ends. It returns the child's pid.
func HoldOpen(t testing.TB, dev string) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", `exec 3<"$1"; exec sleep 600`, "sh", dev)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	// Wait until the shell has opened the device and become sleep.
	deadline := time.Now().Add(10 * time.Second)
	for {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", cmd.Process.Pid))
		if strings.TrimSpace(string(comm)) == "sleep" && target == dev {
			return cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder of %s did not start (comm %q, fd 3 -> %q)", dev, comm, target)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

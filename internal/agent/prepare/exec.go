package prepare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// StderrTailBytes is how much of the end of ceph-volume's standard error a
// failure keeps: enough for its traceback's last frames and the message.
const StderrTailBytes = 2048

// DefaultGracePeriod is how long ceph-volume has to stop after it was asked
// to (SIGTERM) before it and its children are killed. It stays below
// Kubernetes' default terminationGracePeriodSeconds (30 s), so the agent
// can still write its termination message.
const DefaultGracePeriod = 20 * time.Second

// CommandError is a failed ceph-volume run.
type CommandError struct {
	// Err is the exit status or start error.
	Err error
	// Stderr is the end of the standard error (at most StderrTailBytes),
	// prefixed with "…" when it was cut.
	Stderr string
}

func (e *CommandError) Error() string {
	if last := lastLine(e.Stderr); last != "" {
		return fmt.Sprintf("%v: %s", e.Err, last)
	}
	return e.Err.Error()
}

func (e *CommandError) Unwrap() error { return e.Err }

// CommandExecutor runs the real ceph-volume from PATH.
//
// Stopping: ceph-volume runs in its own process group. When ctx ends (the
// per-disk deadline, or the agent's SIGTERM/SIGINT) the whole group gets
// SIGTERM, not SIGKILL, so ceph-volume and the ceph-osd --mkfs it runs can
// stop cleanly; after GracePeriod whatever is left of the group is killed.
// Nothing it started may outlive the run: once this returns, the caller
// releases its hold on the disk and the host lock.
//
// What ceph-volume does with the signal (read in Ceph's source as of this
// writing; not tried against every release): it installs no SIGTERM
// handler, so Python's default action ends it
// at once, and the rollback in `raw prepare` (`except Exception:
// rollback_osd(...)`, which purges the OSD id allocated by `ceph osd new`)
// does not run; SIGINT would raise KeyboardInterrupt, which that `except
// Exception` does not catch either. An interrupted prepare can therefore
// leave an OSD id allocated in Ceph and a disk with an incomplete label;
// the result says so (ReasonInterrupted) and discovery reports such a disk
// as PartiallyPrepared instead of blank.
type CommandExecutor struct {
	// Env is added to the process environment, e.g.
	// CEPH_VOLUME_ALLOW_LOOP_DEVICES=1.
	Env []string
	// GracePeriod is the time between SIGTERM and SIGKILL; 0 means
	// DefaultGracePeriod.
	GracePeriod time.Duration
	// Output, when set, receives ceph-volume's standard output and error
	// as they come (the pod log).
	Output io.Writer
}

// CephVolume implements Executor. A failure is a *CommandError carrying the
// end of standard error.
func (e CommandExecutor) CephVolume(ctx context.Context, args ...string) ([]byte, error) {
	grace := e.GracePeriod
	if grace <= 0 {
		grace = DefaultGracePeriod
	}
	cmd := exec.CommandContext(ctx, "ceph-volume", args...)
	cmd.Env = append(cmd.Environ(), e.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = grace
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: StderrTailBytes}
	cmd.Stdout, cmd.Stderr = io.Writer(&stdout), io.Writer(stderr)
	if e.Output != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, e.Output), io.MultiWriter(stderr, e.Output)
	}
	err := cmd.Run()
	if err != nil && cmd.Process != nil {
		// ceph-volume is gone; its children (ceph-osd --mkfs) must not
		// go on writing after we let go of the disk. ESRCH: none left.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		return stdout.Bytes(), &CommandError{Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max  int
	buf  []byte
	lost bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.lost = true
	}
	return n, nil
}

// String returns the kept bytes, starting on a character boundary, with "…"
// in front when the beginning was dropped.
func (t *tailBuffer) String() string {
	if !t.lost {
		return string(t.buf)
	}
	return "…" + runeStart(string(t.buf))
}

// runeStart drops the continuation bytes a cut left at the start of s.
func runeStart(s string) string {
	for i := 0; i < len(s) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}

// keepEnd returns at most n bytes of the end of s, starting on a UTF-8
// character boundary.
func keepEnd(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return runeStart(s[len(s)-n:])
}

// keepStart returns at most n bytes of the start of s, ending on a UTF-8
// character boundary.
func keepStart(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// lastLine returns the last non-empty line of s, for error messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ExclusiveLocker implements Locker with an O_EXCL open, which the kernel
// refuses (EBUSY) while the block device is mounted or claimed by md,
// device-mapper, bcache, LVM tools, mkfs or another O_EXCL opener. The
// descriptor is read-only and close-on-exec: ceph-volume does not inherit
// it. O_EXCL does not stop a plain open(2) from writing; discovery's scan of
// open descriptors and the host lock cover those.
type ExclusiveLocker struct{}

// Lock implements Locker.
func (ExclusiveLocker) Lock(path string) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("%s is in use (EBUSY on an exclusive open)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s exclusively: %w", path, err)
	}
	return func() { _ = unix.Close(fd) }, nil
}

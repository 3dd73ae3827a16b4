package prepare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"

	"golang.org/x/sys/unix"
)

// CommandExecutor runs the real ceph-volume from PATH.
type CommandExecutor struct {
	// Env is added to the process environment, e.g.
	// CEPH_VOLUME_ALLOW_LOOP_DEVICES=1.
	Env []string
}

// CephVolume implements Executor. Standard error is returned inside the
// error so the caller can report why ceph-volume failed.
func (e CommandExecutor) CephVolume(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ceph-volume", args...)
	cmd.Env = append(cmd.Environ(), e.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%w: %s", err, lastLine(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// ExclusiveLocker implements Locker with an O_EXCL open, which the kernel
// refuses (EBUSY) while the block device is mounted or claimed.
type ExclusiveLocker struct{}

// Lock implements Locker.
func (ExclusiveLocker) Lock(path string) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("%s is in use (EBUSY)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s exclusively: %w", path, err)
	}
	return func() { _ = unix.Close(fd) }, nil
}

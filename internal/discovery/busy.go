package discovery

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// BusyChecker tells whether something holds a device node exclusively. It is
// an interface so tests can fake the answer: fixture device nodes are regular
// files, for which the kernel ignores O_EXCL.
type BusyChecker interface {
	// IsBusy reports whether the device at path is held by someone else.
	// An error means the check itself could not be made.
	IsBusy(path string) (bool, error)
}

// ExclusiveOpenChecker is the real BusyChecker. On Linux, opening a block
// device with O_EXCL (without O_CREAT) fails with EBUSY while the device is
// mounted or claimed by device-mapper, md, bcache or another exclusive
// opener, which catches users the mount table and holders/ do not show.
// The device is opened read-only and closed immediately.
type ExclusiveOpenChecker struct{}

// IsBusy implements BusyChecker.
func (ExclusiveOpenChecker) IsBusy(path string) (bool, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.EBUSY) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening %s exclusively: %w", path, err)
	}
	if err := unix.Close(fd); err != nil {
		return false, fmt.Errorf("closing %s: %w", path, err)
	}
	return false, nil
}

// StaticBusyChecker answers from a fixed set of device paths. It exists for
// tests and fixture-driven harnesses, where real exclusive opens mean
// nothing.
type StaticBusyChecker struct {
	// Busy holds the paths to report as busy.
	Busy map[string]bool
	// Errors holds paths for which the check itself fails.
	Errors map[string]error
}

// IsBusy implements BusyChecker.
func (c StaticBusyChecker) IsBusy(path string) (bool, error) {
	if err := c.Errors[path]; err != nil {
		return false, err
	}
	return c.Busy[path], nil
}

package wipe

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ExclusiveOpener implements Opener: it opens the device node read-write
// with O_EXCL, which the kernel refuses (EBUSY) while the disk or one of
// its partitions is mounted or claimed by md, device-mapper, bcache, LVM,
// mkfs, an OSD or another exclusive opener. The descriptor is
// close-on-exec. (On a regular file, as in tests, O_EXCL without O_CREAT
// has no effect.)
type ExclusiveOpener struct{}

// Open implements Opener.
func (ExclusiveOpener) Open(path string) (Device, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("%s is in use (EBUSY on an exclusive open)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s exclusively for writing: %w", path, err)
	}
	return &blockDevice{f: os.NewFile(uintptr(fd), path)}, nil
}

type blockDevice struct {
	f *os.File
}

func (d *blockDevice) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d *blockDevice) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d *blockDevice) Sync() error                              { return d.f.Sync() }
func (d *blockDevice) Close() error                             { return d.f.Close() }

// Discard issues BLKDISCARD over the range. A device without discard
// answers EOPNOTSUPP; a regular file ENOTTY; both mean unsupported.
func (d *blockDevice) Discard(off, n int64) error {
	if n <= 0 {
		return nil
	}
	r := [2]uint64{uint64(off), uint64(n)}
	err := ioctl(d.f, unix.BLKDISCARD, uintptr(unsafe.Pointer(&r[0])))
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) {
		return ErrDiscardUnsupported
	}
	return err
}

// RereadPartitions issues BLKRRPART, so the kernel forgets the partitions
// of the table just zeroed.
func (d *blockDevice) RereadPartitions() error {
	return ioctl(d.f, unix.BLKRRPART, 0)
}

func ioctl(f *os.File, req uint, arg uintptr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno error
	if err := rc.Control(func(fd uintptr) {
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), arg); e != 0 {
			errno = e
		}
	}); err != nil {
		return err
	}
	return errno
}

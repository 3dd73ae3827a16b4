package gpt

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AddToKernel tells the kernel about one new partition of the disk open as
// f, with the BLKPG ioctl (BLKPG_ADD_PARTITION), so that its device node
// (such as /dev/nvme0n1p3 or /dev/loop4p1) appears. Unlike asking the
// kernel to re-read the whole table (BLKRRPART), which fails with EBUSY
// while any partition of the disk is in use, this works next to partitions
// that OSDs hold open; and it works on a kernel built without GPT support,
// which never reads partitions from the table itself (so after a reboot,
// or a loop device's re-attachment, they must be added again). start and
// size are in bytes. It fails with EBUSY
// when the kernel already has a partition with that number or one
// overlapping the range.
func AddToKernel(f *os.File, number int, start, size int64) error {
	if number < 1 || start < 0 || size <= 0 {
		return fmt.Errorf("adding partition %d to the kernel: invalid number, start %d or size %d", number, start, size)
	}
	part := unix.BlkpgPartition{Start: start, Length: size, Pno: int32(number)}
	arg := unix.BlkpgIoctlArg{
		Op:      unix.BLKPG_ADD_PARTITION,
		Datalen: int32(unsafe.Sizeof(part)),
		Data:    (*byte)(unsafe.Pointer(&part)),
	}
	conn, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("adding partition %d to the kernel: %w", number, err)
	}
	var errno unix.Errno
	if err := conn.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, unix.BLKPG, uintptr(unsafe.Pointer(&arg)))
	}); err != nil {
		return fmt.Errorf("adding partition %d to the kernel: %w", number, err)
	}
	runtime.KeepAlive(&part)
	if errno != 0 {
		return fmt.Errorf("adding partition %d (bytes %d+%d) of %s to the kernel: %w", number, start, size, f.Name(), errno)
	}
	return nil
}

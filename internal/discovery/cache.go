package discovery

import (
	"os"

	"golang.org/x/sys/unix"
)

// DropCache asks the kernel to forget the clean pages it caches for the
// open device f, so that the reads that follow come from the device. The
// kernel keeps one cache per device node: a disk's cache does not see
// what is written through one of its partitions (ceph-osd writes its DB
// label through the partition's own node), nor a partition's what is
// written through the disk. While anything holds the disk open, as a
// running OSD holds its metadata device through its DB partition, a read
// through the disk could return what was there before. Every read that
// decides whether something is blank or whose it is drops the cache
// first. Dirty pages are never dropped (they are this process's own
// writes); on a regular file, as in tests, it is harmless.
func DropCache(f *os.File) error {
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

package wipe

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// freeSize is how much of a freed DB or WAL partition is zeroed: its first
// MiB, which holds BlueFS's label and superblock and is what discovery
// reads to tell a used partition from an unused one.
const freeSize = 1 << 20

// freePartitions zeroes the start of every DB and WAL partition of the
// node's metadata devices that carries the label of OSD osdUUID, the OSD
// whose disk is about to be wiped after its purge: the partition then
// reads as unused, and the planner gives it to the next disk that needs
// one. Each partition is opened exclusively and locked as BlueStore locks
// its devices, and its label checked again, before anything is written; a
// partition the kernel does not show is left as it is. It returns a note
// per partition for the result message, and the first error.
func freePartitions(rootDir string, devices []discovery.Device, osdUUID string) ([]string, error) {
	if osdUUID == "" {
		return nil, nil
	}
	var notes []string
	for _, d := range devices {
		for _, p := range d.GPTPartitions {
			if !strings.EqualFold(p.OSDUUID(), osdUUID) {
				continue
			}
			if p.Name == "" {
				notes = append(notes, fmt.Sprintf("its partition %d of %s left: the kernel does not show it", p.Number, d.KernelName))
				continue
			}
			if err := zeroPartition(filepath.Join(root(rootDir), "dev", p.Name), osdUUID); err != nil {
				return notes, fmt.Errorf("freeing partition %s of OSD uuid %s: %w", p.Name, osdUUID, err)
			}
			notes = append(notes, fmt.Sprintf("its partition %s on %s freed", p.Name, d.KernelName))
		}
	}
	return notes, nil
}

// zeroPartition zeroes the first freeSize bytes of the partition at path
// if it still carries the label of OSD osdUUID and nothing holds it.
func zeroPartition(path, osdUUID string) error {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_EXCL, 0)
	if err != nil {
		return fmt.Errorf("cannot be held exclusively: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("locked by another process (an OSD still using it?): %w", err)
	}
	if err := discovery.DropCache(f); err != nil {
		return fmt.Errorf("dropping its cached pages: %w", err)
	}
	buf := make([]byte, ceph.BlueStoreLabelSize)
	if _, err := io.ReadFull(f, buf); err != nil {
		return fmt.Errorf("reading its label: %w", err)
	}
	l, err := ceph.ParseBlueStoreLabel(buf)
	if err != nil || !strings.EqualFold(l.OSDUUID, osdUUID) {
		return fmt.Errorf("it no longer carries the label of OSD uuid %s, not touched", osdUUID)
	}
	if _, err := f.WriteAt(make([]byte, freeSize), 0); err != nil {
		return err
	}
	return f.Sync()
}

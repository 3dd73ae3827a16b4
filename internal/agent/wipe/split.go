package wipe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// Partition is the OSD data partition of a split disk that a wipe frees:
// the one its decommissioned OSD ran on, exactly as the inventory showed
// it.
type Partition struct {
	// DiskID is the split disk's stable id, checked against the disk at
	// the target's path (the target's own id is the partition's).
	DiskID string `json:"diskID,omitempty"`
	// Number is the partition's number in the GPT, PartUUID its GUID.
	Number   int32  `json:"number"`
	PartUUID string `json:"partUUID"`
	// StartBytes and SizeBytes place it on the disk.
	StartBytes int64 `json:"startBytes"`
	SizeBytes  int64 `json:"sizeBytes"`
}

func (p *Partition) validate() error {
	if p.Number < 1 || p.Number > 128 {
		return fmt.Errorf("number %d: want 1 to 128", p.Number)
	}
	if _, err := uuid.Parse(p.PartUUID); err != nil {
		return fmt.Errorf("partUUID %q: %w", p.PartUUID, err)
	}
	if p.StartBytes <= 0 || p.SizeBytes <= 0 {
		return fmt.Errorf("start %d and size %d: want positive", p.StartBytes, p.SizeBytes)
	}
	return nil
}

// freeDataPartition frees the data partition of a decommissioned OSD on a
// split disk, and nothing else of the disk: the disk must be the one
// named (its stable id, WWN, serial and size), split by this cluster; the
// partition must be the one named (number, GUID, place) and carry exactly
// the expected OSD's complete label. The partition is then opened
// exclusively and locked, as BlueStore locks its devices (so a running OSD
// keeps it), its label checked again through its own node with the cache
// dropped, and its first MiB zeroed, with the first 4 KiB at each offset
// where newer BlueStore releases keep a copy of the label: discovery then
// reads it as blank, and the planner makes a new OSD on it once the
// decommission request is removed. The partition table and the other
// partitions are not written.
func freeDataPartition(ctx context.Context, log logr.Logger, o Options, t Target, scan prepare.Scanner) Result {
	res := Result{Path: t.Path}
	refuse := func(reason, format string, args ...any) Result {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, reason, fmt.Sprintf(format, args...)
		log.Info("Not freeing partition", "reason", reason, "message", res.Message)
		return res
	}
	p, e := t.Partition, t.ExpectedOSD
	if e == nil || o.Verdict.ClusterFSID == "" || !strings.EqualFold(e.FSID, o.Verdict.ClusterFSID) {
		return refuse(ReasonNotWipeable, "partition %d of %s: no OSD of this cluster was named to free it for, not touched", p.Number, t.Path)
	}
	devices, err := scan.Scan("")
	if err != nil {
		res.Outcome, res.Reason, res.Message = OutcomeFailed, ReasonScanFailed, fmt.Sprintf("scanning the node's devices: %v; %s was not touched", err, t.Path)
		return res
	}
	name, err := kernelName(o.Root, t.Path)
	if err != nil {
		return refuse(string(discovery.Unreadable), "%v", err)
	}
	var dev *discovery.Device
	for i := range devices {
		if devices[i].KernelName == name {
			dev = &devices[i]
		}
	}
	if dev == nil {
		return refuse(string(discovery.Unreadable), "%s (%s) is not among the node's disks", t.Path, name)
	}
	whole := t
	whole.ID = p.DiskID
	if msg := identityMismatch(whole, *dev); msg != "" {
		return refuse(ReasonIdentityMismatch, "%s", msg)
	}
	if v := discovery.Evaluate(*dev, o.Verdict); v.State != discovery.StateOSDPartitions {
		return refuse(ReasonNotWipeable, "%s was to have partition %d freed as OSD %d's, but it is %s %s (%s), not touched", dev.KernelName, p.Number, e.OSDID, v.State, v.Reason, v.Message)
	}
	var part *discovery.GPTPartition
	for i := range dev.GPTPartitions {
		if dev.GPTPartitions[i].Number == int(p.Number) {
			part = &dev.GPTPartitions[i]
		}
	}
	switch {
	case part == nil || !strings.EqualFold(part.PartUUID, p.PartUUID) || part.StartBytes != p.StartBytes || part.SizeBytes != p.SizeBytes:
		return refuse(ReasonNotWipeable, "partition %d of %s is not the one named (GUID %s at %d, +%d), not touched", p.Number, dev.KernelName, p.PartUUID, p.StartBytes, p.SizeBytes)
	case part.Name == "":
		return refuse(ReasonNotWipeable, "the kernel does not show partition %d of %s, not touched", p.Number, dev.KernelName)
	case part.OSDID(o.Verdict.ClusterFSID) != e.OSDID:
		return refuse(ReasonNotWipeable, "partition %s was to be freed as OSD %d of cluster %s, but it shows OSD %d, not touched", part.Name, e.OSDID, e.FSID, part.OSDID(o.Verdict.ClusterFSID))
	}
	attempts, delay := o.BusyAttempts, o.BusyRetryDelay
	if attempts <= 0 {
		attempts = 3
	}
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	node := filepath.Join(root(o.Root), "dev", part.Name)
	var notes string
	for attempt := 1; ; attempt++ {
		notes, err = zeroDataPartition(node, e, part.SizeBytes)
		if err == nil || attempt >= attempts {
			break
		}
		select {
		case <-ctx.Done():
			res.Outcome, res.Reason, res.Message = OutcomeFailed, ReasonInterrupted, fmt.Sprintf("stopped (%v) while waiting for partition %s; not touched: %v", context.Cause(ctx), part.Name, err)
			return res
		case <-time.After(delay):
		}
	}
	if err != nil {
		return refuse(string(discovery.Busy), "partition %s of %s: %v", part.Name, dev.KernelName, err)
	}
	res.Outcome = OutcomeWiped
	res.Message = fmt.Sprintf("partition %s of %s (OSD %d) freed: %s; the disk's other partitions were not touched", part.Name, dev.KernelName, e.OSDID, notes)
	log.Info("Freed data partition", "partition", part.Name, "message", res.Message)
	return res
}

// zeroDataPartition zeroes the first MiB of the partition at path, and the
// first 4 KiB at each BlueStore label copy offset inside it, if it carries
// the complete label of OSD e and nothing holds it. It says what it
// zeroed.
func zeroDataPartition(path string, e *ExpectedOSD, size int64) (string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_EXCL, 0)
	if err != nil {
		return "", fmt.Errorf("cannot be held exclusively (its OSD still running?): %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return "", fmt.Errorf("locked by another process (its OSD still running?): %w", err)
	}
	if err := discovery.DropCache(f); err != nil {
		return "", fmt.Errorf("dropping its cached pages: %w", err)
	}
	buf := make([]byte, ceph.BlueStoreLabelSize)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return "", fmt.Errorf("reading its label: %w", err)
	}
	l, err := ceph.ParseBlueStoreLabel(buf)
	if err != nil || l.Description != "main" || l.WhoAmI != e.OSDID || !strings.EqualFold(l.ClusterFSID, e.FSID) {
		return "", fmt.Errorf("it no longer carries the label of OSD %d of cluster %s, not touched", e.OSDID, e.FSID)
	}
	if _, err := f.WriteAt(make([]byte, freeSize), 0); err != nil {
		return "", err
	}
	copies := 0
	for _, off := range labelCopies {
		if off+4096 <= size {
			if _, err := f.WriteAt(make([]byte, 4096), off); err != nil {
				return "", err
			}
			copies++
		}
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return fmt.Sprintf("its first MiB and %d label copy offset(s) zeroed", copies), nil
}

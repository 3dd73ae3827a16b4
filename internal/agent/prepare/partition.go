package prepare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// TargetPartition is a DB or WAL partition of a metadata device that a
// target's OSD uses, or the data partition of a disk split into several
// OSDs that it is made on: one to make (Exists false) or a blank one an
// earlier attempt made (Exists true), exactly where the operator planned
// it.
type TargetPartition struct {
	// Device is the metadata device, with the identity the operator saw.
	Device PartitionDevice `json:"device"`
	// Role is "DB", "WAL" or "Data".
	Role string `json:"role"`
	// Number is the partition's number in the GPT.
	Number int32 `json:"number"`
	// Label is its GPT name, such as ceph-db.1b2c3d4e.3.
	Label string `json:"label"`
	// StartBytes and SizeBytes place it.
	StartBytes int64 `json:"startBytes"`
	SizeBytes  int64 `json:"sizeBytes"`
	// Exists is true when the partition is already on the disk; PartUUID
	// is then its unique GUID.
	Exists   bool   `json:"exists,omitempty"`
	PartUUID string `json:"partUUID,omitempty"`
	// ReplacesOSDUUID, for an existing partition, is the uuid of the OSD
	// destroyed for replacement whose DB the partition held: it must carry
	// exactly that OSD's label, which is cleared before ceph-volume runs.
	ReplacesOSDUUID string `json:"replacesOSDUUID,omitempty"`
}

// PartitionDevice is the metadata device a partition is on.
type PartitionDevice struct {
	Path      string `json:"path"`
	ID        string `json:"id,omitempty"`
	WWN       string `json:"wwn,omitempty"`
	Serial    string `json:"serial,omitempty"`
	SizeBytes int64  `json:"sizeBytes,omitempty"`
}

// Reasons of a partition refusal.
const (
	// ReasonMetadataDeviceNotUsable: the metadata device is not blank and
	// not a metadata device of this cluster (or not the planned disk).
	ReasonMetadataDeviceNotUsable = "MetadataDeviceNotUsable"
	// ReasonPartitionMismatch: the partition table is not as planned: the
	// partition to make is there already, overlaps another, or the one to
	// reuse differs or is not blank.
	ReasonPartitionMismatch = "PartitionMismatch"
	// ReasonPartitionFailed: making the partition, or telling the kernel
	// about it, failed.
	ReasonPartitionFailed = "PartitionFailed"
	// ReasonSplitDiskNotUsable: the disk to split is not blank and not
	// split by this cluster (or not the planned disk).
	ReasonSplitDiskNotUsable = "SplitDiskNotUsable"
)

// partitionAlign is the alignment the operator plans partitions with.
const partitionAlign = 1 << 20

// typeOf is the GPT type GUID of a partition role.
func typeOf(role string) (string, bool) {
	switch role {
	case "DB":
		return gpt.TypeCephDB, true
	case "WAL":
		return gpt.TypeCephWAL, true
	case RoleData:
		return gpt.TypeCephOSD, true
	}
	return "", false
}

// RoleData is the role of a split disk's OSD data partition.
const RoleData = "Data"

// validate checks what the operator asked for before anything is read.
func (p *TargetPartition) validate() error {
	if err := ValidatePath(p.Device.Path); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	if _, ok := typeOf(p.Role); !ok {
		return fmt.Errorf("role %q: want DB, WAL or Data", p.Role)
	}
	if p.Number < 1 || p.Number > 128 {
		return fmt.Errorf("number %d: want 1 to 128", p.Number)
	}
	if p.Label == "" || len(p.Label) > 36 {
		return fmt.Errorf("label %q: want 1 to 36 characters", p.Label)
	}
	if p.StartBytes <= 0 || p.SizeBytes <= 0 || p.StartBytes%partitionAlign != 0 || p.SizeBytes%partitionAlign != 0 {
		return fmt.Errorf("start %d and size %d: want positive multiples of 1 MiB", p.StartBytes, p.SizeBytes)
	}
	if p.Exists {
		if _, err := uuid.Parse(p.PartUUID); err != nil {
			return fmt.Errorf("partUUID %q of an existing partition: %w", p.PartUUID, err)
		}
	}
	if p.ReplacesOSDUUID != "" {
		if _, err := uuid.Parse(p.ReplacesOSDUUID); err != nil || !p.Exists || p.Role == RoleData {
			return fmt.Errorf("replacesOSDUUID %q: want the uuid of the destroyed OSD, on an existing partition", p.ReplacesOSDUUID)
		}
	}
	return nil
}

// PartitionError is why a partition could not be had: Refused leaves the
// disks as they were; otherwise it failed on the way.
type PartitionError struct {
	Refused bool
	Reason  string
	Message string
}

func (e *PartitionError) Error() string { return e.Message }

// Partitioner makes, or finds, the partition a target's OSD keeps its DB
// or WAL on, and returns its device path. devices is a fresh scan.
type Partitioner interface {
	Ensure(ctx context.Context, o Options, p *TargetPartition, devices []discovery.Device) (string, error)
}

// GPTPartitioner is the real Partitioner: it reads and writes the GPT of
// the metadata device itself (internal/gpt) and tells the kernel about a
// new partition with BLKPG, which works while other partitions of the disk
// are in use by running OSDs.
type GPTPartitioner struct {
	// AddToKernel adds a partition to the kernel's view of the open disk;
	// nil means gpt.AddToKernel.
	AddToKernel func(f *os.File, number int, start, size int64) error
	// NewUUID makes a partition's unique GUID; nil means a random one.
	NewUUID func() string
	// DeviceWait bounds the wait for the partition's device node.
	DeviceWait time.Duration
	// LockWait bounds the wait for the disk's lock (lockDisk); 0 means
	// 30 seconds.
	LockWait time.Duration
}

// lockDisk takes an exclusive flock on the open whole-disk node f, the
// lock udev and partitioning tools take before they read or change a
// disk's partition table, waiting at most wait (0: 30 s) or until ctx
// ends. The kernel drops it when f is closed.
func lockDisk(ctx context.Context, f *os.File, wait time.Duration) error {
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still locked after %s", wait)
		}
		if sleepCtx(ctx, 50*time.Millisecond) != nil {
			return context.Cause(ctx)
		}
	}
}

// Ensure checks the disk (the planned disk; for a DB or WAL partition
// blank or a metadata device of this cluster, for a data partition blank
// or split by this cluster), locks it against every other editor of its
// partition table (an exclusive flock on the whole disk's node, which
// udev honours too), then either checks the existing partition (same
// number, name, type, GUID and place as planned, and blank) or makes the
// new one (number unused, place free): its first MiB zeroed, the GPT entry
// written, the kernel told. It returns /dev/<partition>.
func (g GPTPartitioner) Ensure(ctx context.Context, o Options, p *TargetPartition, devices []discovery.Device) (string, error) {
	refuse := func(reason, format string, args ...any) (string, error) {
		return "", &PartitionError{Refused: true, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	failed := func(format string, args ...any) (string, error) {
		return "", &PartitionError{Reason: ReasonPartitionFailed, Message: fmt.Sprintf(format, args...)}
	}
	if err := p.validate(); err != nil {
		return refuse(ReasonPartitionMismatch, "%s partition: %v", p.Role, err)
	}
	want := Target{Path: p.Device.Path, ID: p.Device.ID, WWN: p.Device.WWN, Serial: p.Device.Serial, SizeBytes: p.Device.SizeBytes}
	what, notUsable := "metadata device", ReasonMetadataDeviceNotUsable
	if p.Role == RoleData {
		what, notUsable = "disk to split", ReasonSplitDiskNotUsable
	}
	dev, ok := findDevice(o, want, devices)
	if !ok {
		return refuse(notUsable, "%s %s is not among the node's disks", what, p.Device.Path)
	}
	if msg := identityMismatch(want, dev); msg != "" {
		return refuse(ReasonIdentityMismatch, "%s: %s", what, msg)
	}
	switch v := discovery.Evaluate(dev, o.Verdict); {
	case v.State == discovery.StateAvailable:
	case p.Role == RoleData && v.State == discovery.StateOSDPartitions:
	case p.Role != RoleData && v.State == discovery.StateMetadataDevice:
	// TooSmall is the verdict of an otherwise blank disk; the minimum size
	// is for data disks.
	case p.Role != RoleData && v.State == discovery.StateRejected && v.Reason == discovery.TooSmall:
	case v.State == discovery.StateRejected && v.Reason == discovery.Busy:
		// Often a probe of an instant (the discovery agent's own);
		// prepareOne asks again a few times.
		return refuse(string(discovery.Busy), "%s %s is busy (%s), not touched", what, dev.KernelName, v.Message)
	default:
		return refuse(notUsable, "%s %s is %s (%s: %s), not touched", what, dev.KernelName, v.State, v.Reason, v.Message)
	}
	typ, _ := typeOf(p.Role)
	node := filepath.Join(root(o.Root), "dev", dev.KernelName)
	f, err := os.OpenFile(node, os.O_RDWR, 0)
	if err != nil {
		return failed("opening %s %s: %v", what, dev.KernelName, err)
	}
	defer func() { _ = f.Close() }()
	// One editor of the partition table at a time: another prepare (of
	// any cluster), or udev re-reading it. Released when f is closed.
	if err := lockDisk(ctx, f, g.LockWait); err != nil {
		return refuse(string(discovery.Busy), "%s %s: its partition table is locked by another process (%v), not touched", what, dev.KernelName, err)
	}
	// What the partitions' own nodes wrote (an earlier attempt's
	// ceph-volume) must show in the reads below.
	if err := discovery.DropCache(f); err != nil {
		return failed("dropping the cached pages of metadata device %s: %v", dev.KernelName, err)
	}
	sector := dev.LogicalSectorSize
	if sector == 0 {
		sector = 512
	}
	size := int64(dev.SizeBytes)
	table, err := gpt.Read(f, size, sector)
	switch {
	case errors.Is(err, gpt.ErrNoGPT):
		table = nil
	case err != nil:
		return refuse(ReasonMetadataDeviceNotUsable, "metadata device %s: its partition table cannot be read: %v", dev.KernelName, err)
	}
	var found *gpt.Partition
	if table != nil {
		for i := range table.Partitions {
			q := &table.Partitions[i]
			if q.Number == int(p.Number) {
				found = q
			}
		}
	}
	if p.Exists {
		if found == nil {
			return refuse(ReasonPartitionMismatch, "%s partition %d on %s, made by an earlier attempt, is not in the partition table", p.Role, p.Number, dev.KernelName)
		}
		if found.Name != p.Label || !strings.EqualFold(found.Type, typ) || !strings.EqualFold(found.UUID, p.PartUUID) ||
			found.Start(sector) != p.StartBytes || found.Size(sector) != p.SizeBytes {
			return refuse(ReasonPartitionMismatch, "partition %d on %s is not the planned one: found %q type %s GUID %s at %d (+%d), planned %q type %s GUID %s at %d (+%d)",
				p.Number, dev.KernelName, found.Name, found.Type, found.UUID, found.Start(sector), found.Size(sector), p.Label, typ, p.PartUUID, p.StartBytes, p.SizeBytes)
		}
		if p.ReplacesOSDUUID != "" {
			if owner := labelAt(f, p.StartBytes); !strings.EqualFold(owner, p.ReplacesOSDUUID) {
				return refuse(ReasonPartitionMismatch, "partition %d on %s was to be reused from destroyed OSD uuid %s, but it carries the label of %q; not touched",
					p.Number, dev.KernelName, p.ReplacesOSDUUID, owner)
			}
		} else {
			blank, err := zeroAt(f, p.StartBytes, partitionAlign)
			if err != nil {
				return failed("reading partition %d of %s: %v", p.Number, dev.KernelName, err)
			}
			if !blank {
				return refuse(ReasonPartitionMismatch, "partition %d on %s is not blank: something wrote to it since it was made; not touched", p.Number, dev.KernelName)
			}
		}
	} else {
		if found != nil {
			return refuse(ReasonPartitionMismatch, "partition %d on %s exists already (%q); the plan is out of date, nothing written", p.Number, dev.KernelName, found.Name)
		}
		if table != nil {
			for _, q := range table.Partitions {
				if p.StartBytes < q.Start(sector)+q.Size(sector) && q.Start(sector) < p.StartBytes+p.SizeBytes {
					return refuse(ReasonPartitionMismatch, "the planned %s partition %d (%d, +%d) on %s overlaps partition %d (%q); nothing written",
						p.Role, p.Number, p.StartBytes, p.SizeBytes, dev.KernelName, q.Number, q.Name)
				}
				if q.Name == p.Label {
					return refuse(ReasonPartitionMismatch, "partition %d on %s is already named %q; nothing written", q.Number, dev.KernelName, p.Label)
				}
			}
		}
		if p.StartBytes+p.SizeBytes > size-partitionAlign {
			return refuse(ReasonPartitionMismatch, "the planned %s partition %d ends past the usable end of %s; nothing written", p.Role, p.Number, dev.KernelName)
		}
		// Free space of a blank disk or of a metadata device holds
		// nothing anyone needs; the partition starts blank, so a later
		// attempt that finds it unused can tell it was never used.
		if _, err := f.WriteAt(make([]byte, partitionAlign), p.StartBytes); err != nil {
			return failed("zeroing the start of the new partition %d on %s: %v", p.Number, dev.KernelName, err)
		}
		id := uuid.NewString()
		if g.NewUUID != nil {
			id = g.NewUUID()
		}
		_, err := gpt.Add(f, size, sector, gpt.NewPartition{Number: int(p.Number), Name: p.Label, Type: typ, UUID: id, Start: p.StartBytes, Size: p.SizeBytes})
		if err != nil {
			return failed("writing partition %d to the partition table of %s: %v", p.Number, dev.KernelName, err)
		}
		if err := f.Sync(); err != nil {
			return failed("syncing the partition table of %s: %v", dev.KernelName, err)
		}
	}
	name := partitionName(dev.KernelName, int(p.Number))
	sys := filepath.Join(root(o.Root), "sys", "block", dev.KernelName, name)
	if _, err := os.Stat(sys); errors.Is(err, os.ErrNotExist) {
		add := g.AddToKernel
		if add == nil {
			add = gpt.AddToKernel
		}
		if err := add(f, int(p.Number), p.StartBytes, p.SizeBytes); err != nil {
			return failed("telling the kernel about partition %d of %s: %v", p.Number, dev.KernelName, err)
		}
	}
	path := filepath.Join(root(o.Root), "dev", name)
	wait := g.DeviceWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		if _, err := os.Stat(path); err == nil {
			if p.ReplacesOSDUUID != "" {
				if err := clearPartition(path, p.ReplacesOSDUUID); err != nil {
					return refuse(ReasonPartitionMismatch, "partition %d on %s, the DB of destroyed OSD uuid %s, cannot be cleared for its replacement: %v; not touched",
						p.Number, dev.KernelName, p.ReplacesOSDUUID, err)
				}
			}
			return "/dev/" + name, nil
		}
		if time.Now().After(deadline) {
			return failed("partition %d of %s was made but %s did not appear within %s", p.Number, dev.KernelName, "/dev/"+name, wait)
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return failed("stopped (%v) waiting for %s", context.Cause(ctx), "/dev/"+name)
		}
	}
}

// partitionName is the kernel name of partition n of disk: nvme0n1p3,
// loop4p1 (a disk whose name ends in a digit gets a p), sdb3.
func partitionName(disk string, n int) string {
	if disk != "" && disk[len(disk)-1] >= '0' && disk[len(disk)-1] <= '9' {
		return disk + "p" + strconv.Itoa(n)
	}
	return disk + strconv.Itoa(n)
}

// checkPartitionLabel reads the BlueStore label ceph-volume wrote on a
// DB or WAL partition and returns "" when it names the OSD uuid, else what
// is wrong.
func checkPartitionLabel(o Options, path, role, osdUUID string) string {
	f, err := os.Open(filepath.Join(root(o.Root), path))
	if err != nil {
		return fmt.Sprintf("its %s partition %s cannot be read back: %v", role, path, err)
	}
	defer func() { _ = f.Close() }()
	if err := discovery.DropCache(f); err != nil {
		return fmt.Sprintf("its %s partition %s cannot be read back: %v", role, path, err)
	}
	buf := make([]byte, ceph.BlueStoreLabelSize)
	if _, err := io.ReadFull(f, buf); err != nil {
		return fmt.Sprintf("its %s partition %s cannot be read back: %v", role, path, err)
	}
	l, err := ceph.ParseBlueStoreLabel(buf)
	if err != nil {
		return fmt.Sprintf("its %s partition %s carries no BlueStore label: %v", role, path, err)
	}
	if !strings.EqualFold(l.OSDUUID, osdUUID) {
		return fmt.Sprintf("its %s partition %s carries the label of OSD uuid %s, not %s", role, path, l.OSDUUID, osdUUID)
	}
	return ""
}

// labelAt returns the OSD uuid of the BlueStore label at off, or "".
func labelAt(r io.ReaderAt, off int64) string {
	buf := make([]byte, ceph.BlueStoreLabelSize)
	if _, err := r.ReadAt(buf, off); err != nil {
		return ""
	}
	l, err := ceph.ParseBlueStoreLabel(buf)
	if err != nil {
		return ""
	}
	return l.OSDUUID
}

// clearPartition zeroes the first MiB of the partition at path, which must
// carry the label of OSD osdUUID and be held by nobody: opened exclusively
// and locked as BlueStore locks its devices, so a running OSD keeps it.
func clearPartition(path, osdUUID string) error {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_EXCL, 0)
	if err != nil {
		return fmt.Errorf("cannot be held exclusively: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("locked by another process: %w", err)
	}
	if err := discovery.DropCache(f); err != nil {
		return fmt.Errorf("dropping its cached pages: %w", err)
	}
	if owner := labelAt(f, 0); !strings.EqualFold(owner, osdUUID) {
		return fmt.Errorf("it carries the label of %q, not of %s", owner, osdUUID)
	}
	if _, err := f.WriteAt(make([]byte, partitionAlign), 0); err != nil {
		return err
	}
	return f.Sync()
}

// zeroAt reports whether n bytes of r at off are all zero.
func zeroAt(r io.ReaderAt, off, n int64) (bool, error) {
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, off); err != nil {
		return false, err
	}
	return bytes.Count(buf, []byte{0}) == len(buf), nil
}

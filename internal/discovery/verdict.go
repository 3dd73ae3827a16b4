package discovery

import (
	"fmt"
	"strings"
)

// Reason is a machine-readable cause for rejecting a device. The values are
// part of the DiskInventory API and must never change.
type Reason string

// Rejection reasons, in the order the chain checks them (see Evaluate).
const (
	// NotADisk: the device is not a whole disk (loop, dm, md, rom, zram,
	// nbd, rbd, …) and its type is not allowed by Options.
	NotADisk Reason = "NotADisk"
	// Unreadable: the device could not be opened or fully inspected; it is
	// never assumed to be empty.
	Unreadable Reason = "Unreadable"
	// ForeignCephCluster: the device carries a BlueStore label of another
	// cluster (or one that cannot be attributed); it is never touched.
	ForeignCephCluster Reason = "ForeignCephCluster"
	// ReadOnly: the kernel marks the device read-only.
	ReadOnly Reason = "ReadOnly"
	// Removable: the device is removable media such as a USB stick.
	Removable Reason = "Removable"
	// Mounted: the device or one of its partitions is mounted.
	Mounted Reason = "Mounted"
	// InUseAsSwap: the device or one of its partitions is active swap.
	InUseAsSwap Reason = "InUseAsSwap"
	// HasHolders: the device is held by device-mapper, md or bcache, or is
	// an LVM physical volume or md member.
	HasHolders Reason = "HasHolders"
	// HasPartitions: the kernel sees partitions on the device.
	HasPartitions Reason = "HasPartitions"
	// HasPartitionTable: a partition table exists even without partitions.
	HasPartitionTable Reason = "HasPartitionTable"
	// HasFilesystem: a filesystem or other content signature was found.
	HasFilesystem Reason = "HasFilesystem"
	// TooSmall: the device is smaller than Options.MinSizeBytes.
	TooSmall Reason = "TooSmall"
	// Busy: an exclusive open failed; something holds the device.
	Busy Reason = "Busy"
)

// Verdict states as published in the DiskInventory status.
const (
	// StateAvailable means the device may be provisioned as an OSD.
	StateAvailable = "Available"
	// StateOSD means the device already holds an OSD of this cluster.
	StateOSD = "OSD"
	// StateRejected means the device must not be used; see Reason.
	StateRejected = "Rejected"
)

// DefaultMinSizeBytes is the smallest device accepted when
// Options.MinSizeBytes is zero: below 5 GiB BlueStore's own metadata leaves
// too little room to be worth an OSD.
const DefaultMinSizeBytes uint64 = 5 << 30

// Options are the cluster-level inputs of the verdict chain.
type Options struct {
	// ClusterFSID is this cluster's FSID. A BlueStore label with this FSID
	// marks the device as one of our OSDs; any other label is foreign. If
	// empty, every labelled device is treated as foreign (safe default).
	ClusterFSID string
	// MinSizeBytes is the smallest acceptable device; 0 means
	// DefaultMinSizeBytes.
	MinSizeBytes uint64
	// AllowLoop accepts loop devices (test clusters on loop files).
	AllowLoop bool
	// AllowTypes lists extra device types (Type* constants, e.g. "mpath")
	// accepted besides "disk".
	AllowTypes []string
}

// Verdict is the outcome of Evaluate for one device; it goes into the
// DiskInventory status verbatim.
type Verdict struct {
	// State is StateAvailable, StateOSD or StateRejected.
	State string
	// Reason is set when State is StateRejected.
	Reason Reason
	// Message explains the verdict to a human, naming the partition,
	// mount point or holder involved.
	Message string
	// OSDID is the OSD id when State is StateOSD, and -1 otherwise.
	OSDID int
	// ClusterFSID is the FSID from the device's BlueStore label, if any.
	ClusterFSID string
}

// Check is one step of the verdict chain. It returns ok=true if the device
// passes, or the reason and a human message if it does not. Checks are
// pure: they only look at the gathered Device and the Options.
type Check func(Device, Options) (reason Reason, message string, ok bool)

// NamedCheck pairs a check with the reason it can produce, so the order is
// visible and testable.
type NamedCheck struct {
	// Reason is the reason this check reports on failure.
	Reason Reason
	// Check is the check itself.
	Check Check
}

// Chain returns the ordered checks Evaluate runs, first failure wins. The
// order, and why:
//
//  1. NotADisk — the type decides whether anything else is meaningful.
//  2. Unreadable — without the device's content nothing below can be
//     trusted, and an unreadable device must never look empty.
//  3. ForeignCephCluster — a BlueStore label is the most specific fact
//     there is; it is checked before everything that only matters for new
//     provisioning, so an OSD of ours is reported as such (by Evaluate,
//     right after this step) even if it is read-only or busy.
//  4. ReadOnly, 5. Removable — properties of the hardware.
//  6. Mounted, 7. InUseAsSwap, 8. HasHolders — active use, most visible to
//     the user first; their messages name the partition involved.
//  9. HasPartitions, 10. HasPartitionTable, 11. HasFilesystem — leftover
//     content, from the most to the least structured.
//  12. TooSmall — only worth saying about an otherwise clean device.
//  13. Busy — last, because it is the least specific: an exclusive holder
//     that none of the checks above explained.
//
// A new slice is returned each time so callers cannot alter the chain.
func Chain() []NamedCheck {
	return []NamedCheck{
		{NotADisk, checkIsDisk},
		{Unreadable, checkReadable},
		{ForeignCephCluster, checkBlueStoreOwner},
		{ReadOnly, checkWritable},
		{Removable, checkFixed},
		{Mounted, checkNotMounted},
		{InUseAsSwap, checkNoSwap},
		{HasHolders, checkNoHolders},
		{HasPartitions, checkNoPartitions},
		{HasPartitionTable, checkNoPartitionTable},
		{HasFilesystem, checkNoFilesystem},
		{TooSmall, checkSize},
		{Busy, checkNotBusy},
	}
}

// Evaluate judges one device. It runs Chain in order and returns the first
// failure as a Rejected verdict. A device that passes the BlueStore step
// while carrying a label (which can only be this cluster's) is reported as
// an OSD without running the remaining checks, since those only guard new
// provisioning. Otherwise a device passing every check is Available.
func Evaluate(d Device, opts Options) Verdict {
	for _, c := range Chain() {
		if reason, msg, ok := c.Check(d, opts); !ok {
			v := Verdict{State: StateRejected, Reason: reason, Message: msg, OSDID: -1}
			if d.BlueStore != nil {
				v.ClusterFSID = d.BlueStore.ClusterFSID
			}
			return v
		}
		if c.Reason == ForeignCephCluster && d.BlueStore != nil {
			return Verdict{
				State:       StateOSD,
				Message:     fmt.Sprintf("%s holds OSD %d of this cluster (osd uuid %s)", d.KernelName, d.BlueStore.WhoAmI, d.BlueStore.OSDUUID),
				OSDID:       d.BlueStore.WhoAmI,
				ClusterFSID: d.BlueStore.ClusterFSID,
			}
		}
	}
	return Verdict{State: StateAvailable, OSDID: -1, Message: fmt.Sprintf("%s is empty and may become an OSD", d.KernelName)}
}

func checkIsDisk(d Device, o Options) (Reason, string, bool) {
	if d.Type == TypeDisk || (d.Type == TypeLoop && o.AllowLoop) {
		return "", "", true
	}
	for _, t := range o.AllowTypes {
		if t == d.Type {
			return "", "", true
		}
	}
	return NotADisk, fmt.Sprintf("%s is a %s device, not a whole disk", d.KernelName, d.Type), false
}

func checkReadable(d Device, _ Options) (Reason, string, bool) {
	if d.OpenError != "" {
		return Unreadable, fmt.Sprintf("%s could not be read, so it is not assumed empty: %s", d.KernelName, d.OpenError), false
	}
	if len(d.ScanErrors) > 0 {
		return Unreadable, fmt.Sprintf("%s could not be fully inspected: %s", d.KernelName, strings.Join(d.ScanErrors, "; ")), false
	}
	if !d.Probed && d.SizeBytes > 0 {
		return Unreadable, fmt.Sprintf("%s was not probed for signatures", d.KernelName), false
	}
	return "", "", true
}

func checkBlueStoreOwner(d Device, o Options) (Reason, string, bool) {
	if d.BlueStoreError != "" {
		return ForeignCephCluster, fmt.Sprintf("%s carries a damaged BlueStore label (%s); it cannot be attributed to this cluster", d.KernelName, d.BlueStoreError), false
	}
	if d.BlueStore == nil {
		if d.HasSignature(SigBlueStore) {
			return ForeignCephCluster, fmt.Sprintf("%s is reported as ceph_bluestore but its label was not read", d.KernelName), false
		}
		return "", "", true
	}
	l := d.BlueStore
	switch {
	case o.ClusterFSID == "":
		return ForeignCephCluster, fmt.Sprintf("%s holds OSD %d of cluster %s, and this cluster's FSID is not known yet", d.KernelName, l.WhoAmI, l.ClusterFSID), false
	case !strings.EqualFold(l.ClusterFSID, o.ClusterFSID):
		return ForeignCephCluster, fmt.Sprintf("%s holds OSD %d of another cluster (fsid %s)", d.KernelName, l.WhoAmI, l.ClusterFSID), false
	case l.WhoAmI < 0:
		return ForeignCephCluster, fmt.Sprintf("%s carries a BlueStore label of this cluster without an OSD id", d.KernelName), false
	}
	return "", "", true
}

func checkWritable(d Device, _ Options) (Reason, string, bool) {
	if d.ReadOnly {
		return ReadOnly, fmt.Sprintf("%s is read-only", d.KernelName), false
	}
	return "", "", true
}

func checkFixed(d Device, _ Options) (Reason, string, bool) {
	if d.Removable {
		return Removable, fmt.Sprintf("%s is removable media", d.KernelName), false
	}
	return "", "", true
}

func checkNotMounted(d Device, _ Options) (Reason, string, bool) {
	if len(d.Mounts) == 0 {
		return "", "", true
	}
	var parts []string
	for _, m := range d.Mounts {
		if m.Source == d.KernelName {
			parts = append(parts, fmt.Sprintf("%s is mounted at %s", m.Source, m.Target))
		} else {
			parts = append(parts, fmt.Sprintf("partition %s is mounted at %s", m.Source, m.Target))
		}
	}
	return Mounted, strings.Join(parts, "; "), false
}

func checkNoSwap(d Device, _ Options) (Reason, string, bool) {
	if !d.Swap && len(d.SwapOn) == 0 {
		return "", "", true
	}
	var parts []string
	for _, s := range d.SwapOn {
		if s == d.KernelName {
			parts = append(parts, fmt.Sprintf("%s is active swap", s))
		} else {
			parts = append(parts, fmt.Sprintf("partition %s is active swap", s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%s is active swap", d.KernelName))
	}
	return InUseAsSwap, strings.Join(parts, "; "), false
}

func checkNoHolders(d Device, _ Options) (Reason, string, bool) {
	switch {
	case len(d.Holders) > 0:
		return HasHolders, fmt.Sprintf("%s is held by %s", d.KernelName, strings.Join(d.Holders, ", ")), false
	case d.LVMPV:
		return HasHolders, fmt.Sprintf("%s is an LVM physical volume", d.KernelName), false
	case d.MDMember:
		return HasHolders, fmt.Sprintf("%s is a member of an md RAID array", d.KernelName), false
	}
	return "", "", true
}

func checkNoPartitions(d Device, _ Options) (Reason, string, bool) {
	if len(d.Partitions) > 0 {
		return HasPartitions, fmt.Sprintf("%s has partitions %s", d.KernelName, strings.Join(d.Partitions, ", ")), false
	}
	return "", "", true
}

func checkNoPartitionTable(d Device, _ Options) (Reason, string, bool) {
	if d.PartTableType != "" {
		return HasPartitionTable, fmt.Sprintf("%s has a %s partition table", d.KernelName, d.PartTableType), false
	}
	return "", "", true
}

func checkNoFilesystem(d Device, _ Options) (Reason, string, bool) {
	sigs := append([]string(nil), d.Signatures...)
	if d.FSType != "" && !contains(sigs, d.FSType) {
		sigs = append([]string{d.FSType}, sigs...)
	}
	if len(sigs) > 0 {
		return HasFilesystem, fmt.Sprintf("%s carries a %s signature", d.KernelName, strings.Join(sigs, ", ")), false
	}
	return "", "", true
}

func checkSize(d Device, o Options) (Reason, string, bool) {
	minSize := o.MinSizeBytes
	if minSize == 0 {
		minSize = DefaultMinSizeBytes
	}
	if d.SizeBytes < minSize {
		return TooSmall, fmt.Sprintf("%s has %d bytes, less than the minimum %d", d.KernelName, d.SizeBytes, minSize), false
	}
	return "", "", true
}

func checkNotBusy(d Device, _ Options) (Reason, string, bool) {
	if d.Busy {
		return Busy, fmt.Sprintf("%s is held open exclusively by another user", d.KernelName), false
	}
	return "", "", true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

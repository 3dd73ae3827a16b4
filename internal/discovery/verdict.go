package discovery

import (
	"fmt"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/smart"
)

// Reason is a machine-readable cause for rejecting a device. The values are
// part of the DiskInventory API and must never change.
type Reason string

// Rejection reasons. Chain documents the order in which they are checked.
const (
	// NotADisk: the device is not a whole disk (loop, dm, md, rom, zram,
	// nbd, rbd, …) and its type is not allowed by Options.
	NotADisk Reason = "NotADisk"
	// Unreadable: the device could not be opened or fully inspected (also
	// when blkid could not run on it, or no process's open files could be
	// read); it is never assumed to be empty.
	Unreadable Reason = "Unreadable"
	// ForeignCephCluster: the device carries a BlueStore label of another
	// cluster (or one that cannot be attributed), or DB or WAL partitions
	// whose GPT names or labels name another cluster; it is never touched.
	ForeignCephCluster Reason = "ForeignCephCluster"
	// ReadOnly: the kernel marks the device read-only.
	ReadOnly Reason = "ReadOnly"
	// Removable: the device is removable media such as a USB stick.
	Removable Reason = "Removable"
	// Mounted: the device or one of its partitions is mounted.
	Mounted Reason = "Mounted"
	// InUseAsSwap: the device or one of its partitions is active swap.
	InUseAsSwap Reason = "InUseAsSwap"
	// HasHolders: the device is held by device-mapper, md or bcache, is an
	// LVM physical volume or md member, or backs a loop device (the loop
	// driver keeps no holder link, so the scanner matches every loop
	// device's backing file against the node's devices).
	HasHolders Reason = "HasHolders"
	// HasPartitions: the kernel sees partitions on the device.
	HasPartitions Reason = "HasPartitions"
	// HasPartitionTable: a partition table exists even without partitions,
	// including an empty MBR (boot signature, four unused entries) or an
	// empty GPT, or any table blkid -p reports (PTTYPE).
	HasPartitionTable Reason = "HasPartitionTable"
	// HasFilesystem: a filesystem or other content signature was found, by
	// our probe, the udev database or blkid -p (whose TYPE, or an
	// ambivalent result, counts too).
	HasFilesystem Reason = "HasFilesystem"
	// TooSmall: the device is smaller than Options.MinSizeBytes.
	TooSmall Reason = "TooSmall"
	// Busy: something holds the device open. Either a host process has the
	// device or one of its partitions open (in any mode, found in
	// /proc/*/fd; the message names the pid and command), or an exclusive
	// open failed (a holder the other checks did not explain).
	Busy Reason = "Busy"
	// HasUnknownData: a byte of the first or last MiB of the device is not
	// zero and no signature we know explains it. The message gives the
	// absolute offset of the first such byte and whether it lies in the
	// head or the tail window. A disk is Available only when both windows
	// are all zero; a user who wants such a disk used must wipe it first.
	// A DB or WAL partition of this cluster's scheme that holds anything
	// but its OSD's DB or WAL label (non-zero bytes in its first MiB, a
	// damaged label, another kind of label) makes its device
	// HasUnknownData too, naming the partition.
	HasUnknownData Reason = "HasUnknownData"
	// SharedDevice: another device of the node is the same medium (same
	// WWN; same serial number when there is no WWN; two loop devices on one
	// backing file), e.g. one LUN reached through two paths without
	// multipathd. Every copy is rejected, since two writers, or two OSDs,
	// on one medium destroy it. The message names the other device(s).
	SharedDevice Reason = "SharedDevice"
	// PartiallyPrepared: the device carries a BlueStore label of this
	// cluster that ceph-osd --mkfs never completed (no "ready", "whoami"
	// or "osd_key" in its meta): a prepare was interrupted. No OSD ever ran
	// on it. The message says how to find and remove an OSD id Ceph may
	// have allocated for it; the disk itself is only reused after an
	// explicit wipe.
	PartiallyPrepared Reason = "PartiallyPrepared"
	// FailurePredicted: the drive reports its own health as failing
	// (Device.Health: its SMART overall-health assessment failed, an
	// attribute is at or below its failure threshold, or an NVMe critical
	// warning other than temperature is set). It is never provisioned. A
	// disk already holding an OSD of this cluster is not rejected for it:
	// it stays an OSD, and the operator flags it.
	FailurePredicted Reason = "FailurePredicted"
)

// Verdict states as published in the DiskInventory status.
const (
	// StateAvailable means the device may be provisioned as an OSD.
	StateAvailable = "Available"
	// StateOSD means the device already holds an OSD of this cluster.
	StateOSD = "OSD"
	// StateRejected means the device must not be used; see Reason.
	StateRejected = "Rejected"
	// StateMetadataDevice means the device holds a GPT whose partitions
	// are all DB or WAL partitions this cluster made for its OSDs (their
	// GPT type and name say so, with this cluster's FSID), each blank or
	// carrying the BlueStore label of its OSD's DB or WAL, and nothing
	// else: see Device.GPTPartitions. It never becomes an OSD itself.
	StateMetadataDevice = "MetadataDevice"
	// StateOSDPartitions means the device holds a GPT whose partitions are
	// all OSD data partitions this cluster made (osdsPerDevice): their GPT
	// type and name say so, with this cluster's FSID, and each is blank or
	// carries a BlueStore main label of this cluster. It is never
	// provisioned as a whole; see Device.GPTPartitions for each OSD.
	StateOSDPartitions = "OSDPartitions"
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
	// State is StateAvailable, StateOSD, StateMetadataDevice,
	// StateOSDPartitions or StateRejected.
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
	// OSDUUID is the OSD uuid from the device's BlueStore label, if any.
	OSDUUID string
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
//     trusted, and an unreadable device (or one blkid could not probe, or
//     a node whose processes' open files cannot be read) must never look
//     empty.
//  3. SharedDevice — a medium seen through two device nodes is dangerous
//     whatever it holds: even an OSD of ours must not be started twice, so
//     this precedes the BlueStore steps.
//  4. ForeignCephCluster — a BlueStore label is the most specific fact
//     there is; it is checked before everything that only matters for new
//     provisioning.
//  5. PartiallyPrepared — a label of this cluster that mkfs never
//     completed. A complete label of ours is reported as an OSD by
//     Evaluate right after this step, even if it is read-only or busy.
//  6. ReadOnly, 7. Removable — properties of the hardware.
//  8. Mounted, 9. InUseAsSwap, 10. HasHolders (including backing a loop
//     device), 11. Busy (a process holding it open, or an exclusive holder
//     none of the others explained) — active use, most visible to the user
//     first; their messages name the partition, holder or process.
//  12. HasPartitions, 13. HasPartitionTable, 14. HasFilesystem — leftover
//     content, from the most to the least structured. A device whose
//     partitions are all DB or WAL partitions of this cluster's scheme is
//     judged by Evaluate right before step 12 instead (as is one whose
//     partitions are all OSD data partitions of the scheme: OSDPartitions,
//     or the same rejections): a MetadataDevice,
//     or ForeignCephCluster (another cluster's FSID in a partition name or
//     label) or HasUnknownData (a partition of the scheme holding
//     something else). The steps of active use before it apply to it as
//     to any device, except that a process holding open a DB or WAL
//     partition that carries its OSD's label is that OSD, not a reason to
//     call the device Busy.
//  15. HasUnknownData — non-zero bytes no signature explained: after the
//     signature checks, so a known format keeps its more specific reason.
//  16. TooSmall — only worth saying about an otherwise clean device.
//  17. FailurePredicted — last, so that it only turns a disk that would
//     otherwise be Available into a rejected one: every reason above says
//     more about what is on the disk, and a disk holding an OSD was
//     reported as one before this step.
//
// A new slice is returned each time so callers cannot alter the chain.
func Chain() []NamedCheck {
	return []NamedCheck{
		{NotADisk, checkIsDisk},
		{Unreadable, checkReadable},
		{SharedDevice, checkNotShared},
		{ForeignCephCluster, checkBlueStoreOwner},
		{PartiallyPrepared, checkBlueStoreComplete},
		{ReadOnly, checkWritable},
		{Removable, checkFixed},
		{Mounted, checkNotMounted},
		{InUseAsSwap, checkNoSwap},
		{HasHolders, checkNoHolders},
		{Busy, checkNotBusyButOSDs},
		{HasPartitions, checkNoPartitions},
		{HasPartitionTable, checkNoPartitionTable},
		{HasFilesystem, checkNoFilesystem},
		{HasUnknownData, checkAllZero},
		{TooSmall, checkSize},
		{FailurePredicted, checkHealthy},
	}
}

// Evaluate judges one device. It runs Chain in order and returns the first
// failure as a Rejected verdict. A device that passes the BlueStore steps
// while carrying a label (which can only be this cluster's, complete) is
// reported as an OSD without running the remaining checks, since those only
// guard new provisioning. A device whose partitions are all this cluster's
// DB and WAL partitions is reported as a MetadataDevice once the checks of
// active use passed (see Chain). Otherwise a device passing every check is
// Available.
func Evaluate(d Device, opts Options) Verdict {
	for _, c := range Chain() {
		if c.Reason == HasPartitions {
			if v, ok := metadataVerdict(d, opts); ok {
				return v
			}
		}
		if reason, msg, ok := c.Check(d, opts); !ok {
			v := Verdict{State: StateRejected, Reason: reason, Message: msg, OSDID: -1}
			if d.BlueStore != nil {
				v.ClusterFSID, v.OSDUUID = d.BlueStore.ClusterFSID, d.BlueStore.OSDUUID
			}
			return v
		}
		if c.Reason == PartiallyPrepared && d.BlueStore != nil {
			return Verdict{
				State:       StateOSD,
				Message:     fmt.Sprintf("%s holds OSD %d of this cluster (osd uuid %s)", d.KernelName, d.BlueStore.WhoAmI, d.BlueStore.OSDUUID),
				OSDID:       d.BlueStore.WhoAmI,
				ClusterFSID: d.BlueStore.ClusterFSID,
				OSDUUID:     d.BlueStore.OSDUUID,
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
	what := fmt.Sprintf("holds OSD %d", l.WhoAmI)
	if l.WhoAmI < 0 {
		what = fmt.Sprintf("carries a BlueStore label without an OSD id (osd uuid %s)", l.OSDUUID)
	}
	switch {
	case l.ClusterFSID == "":
		// BlueStore writes its label before ceph-osd records the cluster
		// in it, so this is an OSD creation interrupted early, by this
		// cluster or another one: nothing tells which.
		return ForeignCephCluster, fmt.Sprintf("%s carries a BlueStore label (osd uuid %s) that names no cluster, left by an OSD creation interrupted early, "+
			"here or by another cluster; it cannot be attributed to this cluster and is never touched until wiped explicitly", d.KernelName, l.OSDUUID), false
	case o.ClusterFSID == "":
		return ForeignCephCluster, fmt.Sprintf("%s %s of cluster %s, and this cluster's FSID is not known yet", d.KernelName, what, l.ClusterFSID), false
	case !strings.EqualFold(l.ClusterFSID, o.ClusterFSID):
		return ForeignCephCluster, fmt.Sprintf("%s %s of another cluster (fsid %s)", d.KernelName, what, l.ClusterFSID), false
	}
	return "", "", true
}

// blueStoreCompleteKeys are the label meta keys ceph-osd --mkfs has written
// once an OSD is complete: its id and cephx key (written with the label)
// and "ready", written last, when mkfs finished.
var blueStoreCompleteKeys = []string{"whoami", "osd_key", "ready"}

// checkBlueStoreComplete runs only on labels of this cluster (the step
// before rejected every other label).
func checkBlueStoreComplete(d Device, _ Options) (Reason, string, bool) {
	l := d.BlueStore
	if l == nil {
		return "", "", true
	}
	var missing []string
	for _, k := range blueStoreCompleteKeys {
		if l.Meta[k] == "" || (k == "whoami" && l.WhoAmI < 0) {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return "", "", true
	}
	purge := "if an OSD is listed with this uuid, remove it with `ceph osd purge <id> --yes-i-really-mean-it`"
	if l.WhoAmI >= 0 {
		purge = fmt.Sprintf("if OSD %d is listed with this uuid, remove it with `ceph osd purge %d --yes-i-really-mean-it`", l.WhoAmI, l.WhoAmI)
	}
	return PartiallyPrepared, fmt.Sprintf("%s carries a BlueStore label of this cluster (osd uuid %s) that ceph-osd --mkfs never completed (missing %s): "+
		"a prepare was interrupted and no OSD can have run on it. To recover, run `ceph osd dump | grep %s`; %s. "+
		"The disk is never touched until it is wiped by hand (spec.storage.wipeDevices does not wipe a disk of this cluster)",
		d.KernelName, l.OSDUUID, strings.Join(missing, ", "), l.OSDUUID, purge), false
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
	case len(d.BacksLoops) > 0:
		return HasHolders, fmt.Sprintf("%s backs loop device %s", d.KernelName, strings.Join(d.BacksLoops, ", ")), false
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
	// Anything else blkid found (an ambivalent result, or values without
	// a TYPE or PTTYPE) is content too.
	if d.Blkid != nil && d.Blkid.Found() {
		return HasFilesystem, fmt.Sprintf("%s is not blank according to blkid -p: %s", d.KernelName, d.Blkid), false
	}
	return "", "", true
}

func checkAllZero(d Device, _ Options) (Reason, string, bool) {
	if !d.NonZeroData {
		return "", "", true
	}
	where := fmt.Sprintf("the head window (first %s)", sizeWords(d.ProbedHeadBytes))
	if d.NonZeroInTail {
		where = fmt.Sprintf("the tail window (last %s)", sizeWords(d.ProbedTailBytes))
	}
	return HasUnknownData, fmt.Sprintf("%s holds data no known signature explains: first non-zero byte at offset %d in %s. "+
		"Only a disk whose first and last MiB are all zero is taken as blank; wipe it explicitly to use it", d.KernelName, d.FirstNonZeroOffset, where), false
}

// sizeWords renders a window size for messages.
func sizeWords(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func checkNotShared(d Device, _ Options) (Reason, string, bool) {
	if len(d.SharedWith) == 0 {
		return "", "", true
	}
	how := "one LUN reached through several paths without multipath, or presented twice"
	if len(d.SharedIdentity) == 1 && d.SharedIdentity[0] == "backing file" {
		how = "one file attached to several loop devices"
	}
	return SharedDevice, fmt.Sprintf("%s is the same medium as %s (same %s: %s); no copy is used, since two writers on one medium destroy it",
		d.KernelName, strings.Join(d.SharedWith, ", "), strings.Join(d.SharedIdentity, ", "), how), false
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

func checkHealthy(d Device, _ Options) (Reason, string, bool) {
	if d.Health == nil || d.Health.Status != smart.Failing {
		return "", "", true
	}
	return FailurePredicted, fmt.Sprintf("%s reports that it is failing (%s), so it is never provisioned; replace the drive", d.KernelName, d.Health.Message), false
}

// checkNotBusyButOSDs is checkNotBusy for the verdict chain: a process
// holding open a DB or WAL partition of this cluster's scheme that carries
// its OSD's label is that OSD at work, as a running OSD holds its own
// disk, and does not make the device Busy. Every other opener does. The
// same goes for the exclusive claim: the whole device cannot be claimed
// while a partition is, and when every claimed partition is an OSD's DB or
// WAL, that OSD holds it.
func checkNotBusyButOSDs(d Device, o Options) (Reason, string, bool) {
	if d.Busy {
		claims, ours := 0, 0
		for _, p := range d.GPTPartitions {
			if p.Claimed {
				claims++
				if p.usedByOSD(o) {
					ours++
				}
			}
		}
		if claims > 0 && claims == ours {
			d.Busy = false
		}
	}
	if len(d.OpenBy) == 0 {
		return checkNotBusy(d, o)
	}
	osdParts := map[string]bool{}
	for _, p := range d.GPTPartitions {
		if p.Name != "" && p.usedByOSD(o) {
			osdParts[p.Name] = true
		}
	}
	others := d.OpenBy[:0:0]
	for _, op := range d.OpenBy {
		if !osdParts[op.Device] {
			others = append(others, op)
		}
	}
	d.OpenBy = others
	return checkNotBusy(d, o)
}

func checkNotBusy(d Device, _ Options) (Reason, string, bool) {
	if len(d.OpenBy) > 0 {
		// A handful names the culprit; the message must stay short
		// enough for the inventory's schema.
		const shown = 5
		parts := make([]string, 0, shown+1)
		for i, o := range d.OpenBy {
			if i == shown {
				parts = append(parts, fmt.Sprintf("and %d more", len(d.OpenBy)-shown))
				break
			}
			parts = append(parts, o.String())
		}
		return Busy, fmt.Sprintf("%s is open by another process: %s", d.KernelName, strings.Join(parts, "; ")), false
	}
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

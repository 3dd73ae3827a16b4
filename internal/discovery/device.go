// Package discovery scans a node's block devices from sysfs, the udev
// database, the mount table, /proc/swaps and on-disk signatures, and decides
// with an ordered chain of pure checks which devices may become Ceph OSDs.
//
// "Blank" means provably blank: a device is Available only if every byte of
// its first and last MiB is zero, util-linux's blkid (low-level probe, run
// as a subprocess on the already-open device) finds nothing, no host process
// holds it or a partition open, it backs no loop device, and no other
// device of the node is the same medium.
//
// Everything is read below a configurable root directory so that the same
// code runs against a real host ("/") and against fixture trees in tests.
// The only subprocess is blkid (see BlkidProber), and device nodes are only
// ever opened read-only.
package discovery

import (
	"path"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/smart"
)

// Device types, derived from sysfs. They are plain strings because they are
// published verbatim in the DiskInventory status and matched against
// Options.AllowTypes.
const (
	// TypeDisk is a whole physical (or virtual) disk: SCSI/SATA/NVMe/virtio.
	TypeDisk = "disk"
	// TypePart is a partition; Scan never returns these on their own.
	TypePart = "part"
	// TypeLoop is a loop device backed by a file.
	TypeLoop = "loop"
	// TypeLVM is a device-mapper device owned by LVM (dm uuid "LVM-").
	TypeLVM = "lvm"
	// TypeDM is any other device-mapper device.
	TypeDM = "dm"
	// TypeCrypt is a dm-crypt mapping (dm uuid "CRYPT-").
	TypeCrypt = "crypt"
	// TypeMpath is a dm-multipath map (dm uuid "mpath-").
	TypeMpath = "mpath"
	// TypeMD is a Linux software RAID (md) array.
	TypeMD = "md"
	// TypeROM is an optical drive (major 11, sr*).
	TypeROM = "rom"
	// TypeZram is a compressed RAM disk.
	TypeZram = "zram"
	// TypeNBD is a network block device.
	TypeNBD = "nbd"
	// TypeRBD is a Ceph RBD image mapped by the kernel client; using one
	// as an OSD would stack Ceph on itself.
	TypeRBD = "rbd"
)

// Signature names, chosen to match blkid's ID_FS_TYPE values so that a value
// from the udev database and one from our own probe compare equal.
const (
	// SigBlueStore is a Ceph BlueStore label.
	SigBlueStore = "ceph_bluestore"
	// SigExt2 is an ext2 filesystem.
	SigExt2 = "ext2"
	// SigExt3 is an ext3 filesystem.
	SigExt3 = "ext3"
	// SigExt4 is an ext4 filesystem.
	SigExt4 = "ext4"
	// SigXFS is an XFS filesystem.
	SigXFS = "xfs"
	// SigBtrfs is a btrfs filesystem.
	SigBtrfs = "btrfs"
	// SigSwap is a Linux swap area.
	SigSwap = "swap"
	// SigLUKS is a LUKS encrypted volume.
	SigLUKS = "crypto_LUKS"
	// SigLVM2 is an LVM2 physical volume.
	SigLVM2 = "LVM2_member"
	// SigBcache is a bcache backing or cache device.
	SigBcache = "bcache"
	// SigVFAT is a FAT filesystem.
	SigVFAT = "vfat"
	// SigISO9660 is a CD/DVD image filesystem.
	SigISO9660 = "iso9660"
	// SigMDRaid is a Linux software RAID member.
	SigMDRaid = "linux_raid_member"
	// SigNTFS is an NTFS filesystem (boot sector OEM id at offset 3).
	SigNTFS = "ntfs"
	// SigExFAT is an exFAT filesystem (boot sector OEM id at offset 3).
	SigExFAT = "exfat"
	// PartTableGPT is a GUID partition table (ID_PART_TABLE_TYPE value).
	PartTableGPT = "gpt"
	// PartTableDOS is an MBR partition table (ID_PART_TABLE_TYPE value).
	PartTableDOS = "dos"
)

// Mount records that a block device (the disk itself or one of its
// partitions) is mounted, so a verdict can say exactly what is mounted where.
type Mount struct {
	// Source is the kernel name of the mounted device, e.g. "sdb1".
	Source string
	// Target is the mount point as seen in the mount table.
	Target string
}

// Device is everything the scanner learned about one whole block device and
// its partitions. It is gathered once and then judged by Evaluate, so it
// holds facts only, never decisions.
type Device struct {
	// KernelName is the name under /sys/block, e.g. "sdb" or "nvme0n1".
	KernelName string
	// DevPath is the device node on the host, e.g. "/dev/sdb".
	DevPath string
	// Links are all /dev/disk/by-* symlinks to the device, sorted.
	Links []string
	// WWN is the World Wide Name (udev ID_WWN or sysfs wwid), if any.
	WWN string
	// Serial is the drive's serial number, if known.
	Serial string
	// Model is the drive model as reported by the drive.
	Model string
	// Vendor is the drive vendor, when the transport reports one.
	Vendor string
	// SizeBytes is the capacity in bytes (sysfs size * 512).
	SizeBytes uint64
	// LogicalSectorSize is the addressing unit (queue/logical_block_size).
	LogicalSectorSize int
	// PhysicalSectorSize is the media's native sector size
	// (queue/physical_block_size).
	PhysicalSectorSize int
	// Rotational is true for spinning disks; it drives the device class.
	Rotational bool
	// Removable is true for media the kernel flags removable (USB sticks).
	Removable bool
	// ReadOnly is true if the kernel marks the device read-only.
	ReadOnly bool
	// Type is one of the Type* constants.
	Type string
	// Major is the device's major number from sysfs "dev".
	Major int
	// Minor is the device's minor number from sysfs "dev".
	Minor int
	// Partitions lists the kernel names of the device's partitions, sorted.
	Partitions []string
	// GPTPartitions are the device's partitions with what the scanner read
	// of them: each partition the kernel shows (from sysfs) and each used
	// entry of the device's GPT, matched by number, in number order.
	GPTPartitions []GPTPartition
	// GPTError is set when the device carries a GPT that could not be read
	// (both copies damaged, or entries out of range or overlapping).
	GPTError string
	// Holders lists kernel names holding the device or any of its
	// partitions (dm, md, bcache), sorted.
	Holders []string
	// FSType is the whole-device signature: udev ID_FS_TYPE if present,
	// else the first signature the probe found.
	FSType string
	// FSUUID is the UUID of that signature, when known.
	FSUUID string
	// FSLabel is the label of that signature, when known.
	FSLabel string
	// PartTableType is "gpt" or "dos" if a partition table was found.
	PartTableType string
	// Signatures lists every whole-device signature found by udev or the
	// probe (e.g. a hybrid ISO carries both iso9660 and a dos table).
	Signatures []string
	// Mounts lists mounts of the device and its partitions.
	Mounts []Mount
	// Mountpoints are the sorted, de-duplicated targets of Mounts.
	Mountpoints []string
	// SwapOn lists the kernel names (device or partitions) in active swap.
	SwapOn []string
	// Swap is true if the device or a partition is active swap.
	Swap bool
	// LVMPV is true if the device or a partition is an LVM physical volume.
	LVMPV bool
	// MDMember is true if the device or a partition belongs to an md array.
	MDMember bool
	// LoopBackingFile is the file behind a loop device.
	LoopBackingFile string
	// BlueStore is the device's BlueStore label, if it has a valid one.
	BlueStore *ceph.BlueStoreLabel
	// BlueStoreError is set when a BlueStore signature is present but the
	// label could not be parsed; such a device is never treated as blank.
	BlueStoreError string
	// Probed is true if the device node was opened and its signatures read.
	Probed bool
	// OpenError is set if the device node could not be opened or read, so
	// the verdict can reject it instead of assuming it is empty.
	OpenError string
	// Busy is true if an exclusive open failed with EBUSY: something (a
	// mount, device-mapper, md, a running process) holds the device.
	Busy bool
	// ScanErrors records any other problem met while inspecting this
	// device; a device with scan errors is not considered blank.
	ScanErrors []string
	// NonZeroData is true when a byte of the windows the probe read (the
	// first and last MiB, see ProbeHeadBytes) is not zero.
	NonZeroData bool
	// FirstNonZeroOffset is the absolute offset of the first non-zero byte
	// (head window first), when NonZeroData.
	FirstNonZeroOffset int64
	// NonZeroInTail is true when that byte lies in the tail window.
	NonZeroInTail bool
	// ProbedHeadBytes and ProbedTailBytes are the sizes of the windows
	// read; the tail window ends at SizeBytes.
	ProbedHeadBytes, ProbedTailBytes int64
	// Blkid is what `blkid -p` reported for the whole device, if it found
	// anything.
	Blkid *BlkidResult
	// OpenBy lists host processes holding the device or one of its
	// partitions open (any mode), from /proc/*/fd.
	OpenBy []Opener
	// BacksLoops lists the loop devices whose backing file is this device
	// or one of its partitions.
	BacksLoops []string
	// SharedWith lists the other devices of the node that are the same
	// medium (same WWN, same serial, same loop backing file).
	SharedWith []string
	// SharedIdentity says what they share ("WWN …", "serial …", "backing
	// file"), sorted.
	SharedIdentity []string
	// ContentHash is a hex SHA-256 over the size, the non-zero blocks of
	// the probe windows and the signatures found (probe, udev and blkid);
	// empty when the device was not probed. It is stable across scans of
	// an unchanged device and changes when what was read changes.
	ContentHash string
	// Health is what the drive reports about its own health. Scan leaves
	// it nil: the agent fills it in from smartctl, which it runs far less
	// often than it scans. Nil means not checked, which no check holds
	// against the device.
	Health *smart.Health
}

// GPTPartition is one partition of a device: what the kernel shows of it
// and what its GPT entry says, with the BlueStore label or blankness of its
// start for the DB and WAL partitions (TypeDB, TypeWAL) whose start the
// scanner reads.
type GPTPartition struct {
	// Name is the kernel name, such as "nvme0n1p3"; empty when the kernel
	// does not show the partition (its GPT entry was written but the
	// kernel not told).
	Name string
	// Number is the partition's number: the kernel's (sysfs "partition"),
	// which is the GPT entry's 1-based index.
	Number int
	// KernelStartBytes and KernelSizeBytes are where the kernel has the
	// partition (sysfs start and size); zero when it does not show it.
	KernelStartBytes, KernelSizeBytes int64
	// InTable is true when the device's GPT has a used entry with Number.
	InTable bool
	// Label is the entry's GPT name.
	Label string
	// Type is the entry's type GUID, lower case.
	Type string
	// PartUUID is the entry's unique GUID, lower case.
	PartUUID string
	// StartBytes and SizeBytes are where the GPT entry places it.
	StartBytes, SizeBytes int64
	// Probed is true when the scanner read the partition's first MiB (from
	// the parent device at StartBytes); it does so for DB and WAL
	// partitions only.
	Probed bool
	// BlueStore is the BlueStore label at the partition's start, if valid.
	BlueStore *ceph.BlueStoreLabel
	// BlueStoreError is set when a BlueStore signature is there but its
	// label is damaged.
	BlueStoreError string
	// Claimed is true when the whole device is held exclusively (Busy) and
	// this partition cannot be opened exclusively either: someone claims
	// it, such as the running ceph-osd whose DB it is.
	Claimed bool
	// NonZero is true when a byte of the first MiB read is not zero;
	// FirstNonZeroOffset is its offset from the partition's start.
	NonZero            bool
	FirstNonZeroOffset int64
	// digest is a SHA-256 over what was read, for the content hash.
	digest [32]byte
}

// StableID returns the most stable identifier known for the device, so that
// the inventory can track a disk across reboots and re-enumeration. The order
// of preference is: a by-id "wwn-" (or NVMe "nvme-eui.") link, the WWN
// itself ("wwn:" prefix), a by-id link containing the serial number, any
// other by-id link, a by-path link, and finally the kernel device path. The
// last is NOT stable: kernel names can change between boots or when disks
// are added, so callers should treat such an ID as best effort.
func (d Device) StableID() string {
	var byID, byPath []string
	for _, l := range d.Links {
		switch {
		case strings.HasPrefix(l, "/dev/disk/by-id/"):
			byID = append(byID, l)
		case strings.HasPrefix(l, "/dev/disk/by-path/"):
			byPath = append(byPath, l)
		}
	}
	for _, prefix := range []string{"wwn-", "nvme-eui."} {
		for _, l := range byID {
			if strings.HasPrefix(path.Base(l), prefix) {
				return l
			}
		}
	}
	if d.WWN != "" {
		return "wwn:" + d.WWN
	}
	if d.Serial != "" {
		for _, l := range byID {
			if strings.Contains(path.Base(l), d.Serial) {
				return l
			}
		}
	}
	if len(byID) > 0 {
		return byID[0]
	}
	if len(byPath) > 0 {
		return byPath[0]
	}
	if d.DevPath != "" {
		return d.DevPath
	}
	return "/dev/" + d.KernelName
}

// HasSignature reports whether the whole device carries the named signature,
// according to udev or the probe.
func (d Device) HasSignature(name string) bool {
	if d.FSType == name {
		return true
	}
	for _, s := range d.Signatures {
		if s == name {
			return true
		}
	}
	return false
}

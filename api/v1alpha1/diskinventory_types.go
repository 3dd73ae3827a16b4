package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DiskState is the verdict on one disk.
// +kubebuilder:validation:Enum=Available;OSD;Rejected;MetadataDevice;OSDPartitions
type DiskState string

const (
	// DiskAvailable means every check found the disk empty: it may become an
	// OSD if the storage selection picks it.
	DiskAvailable DiskState = "Available"
	// DiskOSD means the disk holds a BlueStore OSD of this cluster.
	DiskOSD DiskState = "OSD"
	// DiskRejected means the disk is left alone; reason says why.
	DiskRejected DiskState = "Rejected"
	// DiskMetadataDevice means the disk holds a GPT whose partitions are
	// all DB or WAL partitions this cluster made for its OSDs (see
	// partitions); nothing else is on it.
	DiskMetadataDevice DiskState = "MetadataDevice"
	// DiskOSDPartitions means the disk holds a GPT whose partitions are
	// all OSD data partitions this cluster made (osdsPerDevice above 1),
	// each blank or carrying a BlueStore label of this cluster; see
	// partitions for the OSD on each. Nothing else is on it.
	DiskOSDPartitions DiskState = "OSDPartitions"
)

// PartitionRole is what a partition holds for an OSD.
// +kubebuilder:validation:Enum=DB;WAL;Data
type PartitionRole string

const (
	// PartitionDB holds an OSD's BlueStore DB (RocksDB).
	PartitionDB PartitionRole = "DB"
	// PartitionWAL holds an OSD's BlueStore write-ahead log.
	PartitionWAL PartitionRole = "WAL"
	// PartitionData holds an OSD's data (its BlueStore main device): one
	// of the partitions of a disk split into several OSDs.
	PartitionData PartitionRole = "Data"
)

// DiskPartition is one partition of a metadata device, or of a disk split
// into several OSDs.
type DiskPartition struct {
	// Number is the partition's number in the GPT (1-based).
	// +kubebuilder:validation:Minimum=1
	Number int32 `json:"number"`
	// Name is the partition's kernel name, such as nvme0n1p3 or loop4p1.
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`
	// PartUUID is the partition's unique GUID in the GPT; OSDs find their
	// DB partition by it, as kernel names can change.
	// +kubebuilder:validation:MaxLength=36
	PartUUID string `json:"partUUID"`
	// Label is the partition's GPT name, such as
	// "ceph-db.1b2c3d4e.3": the role, the first 8 hex digits of the
	// cluster's FSID and the slot.
	// +kubebuilder:validation:MaxLength=72
	Label string `json:"label"`
	// Role is DB, WAL or Data.
	Role PartitionRole `json:"role"`
	// StartBytes and SizeBytes place the partition on the disk.
	StartBytes int64 `json:"startBytes"`
	SizeBytes  int64 `json:"sizeBytes"`
	// OSDUUID is the uuid of the OSD the partition belongs to, from the
	// BlueStore label on it; empty while the partition is unused (made, not
	// yet given to an OSD, and still blank).
	// +kubebuilder:validation:MaxLength=64
	// +optional
	OSDUUID string `json:"osdUUID,omitempty"`
	// OSDID is the id of the OSD whose data a Data partition holds, from
	// its BlueStore label; absent while the partition is unused, or holds
	// an OSD whose creation did not complete.
	// +optional
	OSDID *int32 `json:"osdID,omitempty"`
}

// DiskInventorySpec carries requests from the operator to the node agent.
type DiskInventorySpec struct {
	// NodeName is the node this inventory describes; it equals the object's
	// name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.nodeName is immutable"
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node name",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	NodeName string `json:"nodeName"`

	// RescanRequest asks the agent for a fresh scan whenever it grows; the
	// agent echoes it in status.observedRescanRequest once it has scanned.
	// +kubebuilder:validation:Minimum=0
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Rescan request",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:number","urn:alm:descriptor:com.tectonic.ui:advanced"}
	RescanRequest int64 `json:"rescanRequest,omitempty"`
}

// DiskVerdict is the decision on one disk and why.
type DiskVerdict struct {
	// State is Available, OSD, Rejected, MetadataDevice or OSDPartitions.
	State DiskState `json:"state"`

	// Reason is a stable, machine-readable code: empty for Available and
	// OSD, otherwise one of NotADisk, Unreadable, ReadOnly, Removable,
	// TooSmall, HasPartitions, HasPartitionTable, HasFilesystem,
	// HasUnknownData, Mounted, InUseAsSwap, HasHolders, ForeignCephCluster,
	// PartiallyPrepared, SharedDevice, Busy or FailurePredicted.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message says in words what was found, for example
	// "partition sdb1 is mounted at /var/lib/docker".
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`

	// OSDID is the id of the OSD on this disk when state is OSD.
	// +optional
	OSDID *int32 `json:"osdID,omitempty"`

	// ClusterFSID is the FSID found in the disk's BlueStore label, if any.
	// +optional
	ClusterFSID string `json:"clusterFSID,omitempty"`

	// OSDUUID is the OSD uuid found in the disk's BlueStore label, if any
	// (also on a PartiallyPrepared disk, whose label has no OSD id yet).
	// +kubebuilder:validation:MaxLength=64
	// +optional
	OSDUUID string `json:"osdUUID,omitempty"`
}

// Disk describes one block device found on the node.
type Disk struct {
	// Name is the kernel name, such as sdb or nvme0n1. It can change across
	// reboots; use id to refer to a disk.
	Name string `json:"name"`

	// ID is the stable identity of the disk: a WWN or serial-based
	// /dev/disk/by-id link when the disk has one, otherwise the best
	// available link.
	ID string `json:"id"`

	// Path is the device node, such as /dev/sdb.
	Path string `json:"path"`

	// Links are all /dev/disk/by-* links to the disk.
	// +listType=set
	// +optional
	Links []string `json:"links,omitempty"`

	// WWN is the disk's World Wide Name, if it reports one.
	// +optional
	WWN string `json:"wwn,omitempty"`

	// Serial is the disk's serial number, if it reports one.
	// +optional
	Serial string `json:"serial,omitempty"`

	// Model is the disk's model string.
	// +optional
	Model string `json:"model,omitempty"`

	// Type is the kind of block device: disk, loop, lvm, crypt, mpath, md,
	// rom, zram, nbd or rbd.
	Type string `json:"type"`

	// SizeBytes is the capacity in bytes.
	SizeBytes int64 `json:"sizeBytes"`

	// Rotational is true for spinning disks.
	// +optional
	Rotational bool `json:"rotational,omitempty"`

	// ContentHash is the SHA-256 (hex) of what the agent read of the disk:
	// its head and tail windows and the signatures found. It changes only
	// when the disk's own content does, so a failed prepare attempt is
	// retried at once when this disk (not just any disk of the node)
	// changed. Empty when the disk could not be read.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	ContentHash string `json:"contentHash,omitempty"`

	// Verdict is what the agent decided about the disk and why.
	Verdict DiskVerdict `json:"verdict"`

	// Partitions are the DB, WAL and Data partitions of the operator's
	// naming scheme on the disk, in GPT order: those of a MetadataDevice,
	// of a disk split into several OSDs (OSDPartitions; each Data
	// partition names its OSD), and of a disk rejected while it holds some
	// (in use, or another cluster's).
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +optional
	Partitions []DiskPartition `json:"partitions,omitempty"`

	// Health is what the drive reports about its own health (SMART, or
	// NVMe's health log), read by the agent with smartctl. An otherwise
	// Available disk whose health is Failing is Rejected as
	// FailurePredicted; a disk holding an OSD keeps state OSD and is
	// flagged in the CephCluster's status. Absent when written by an agent
	// without health checks.
	// +optional
	Health *DiskHealth `json:"health,omitempty"`
}

// DiskInventoryStatus is what the node agent found. Only the agent writes it.
type DiskInventoryStatus struct {
	// Disks are the node's block devices, sorted by name.
	// +listType=map
	// +listMapKey=name
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks"
	Disks []Disk `json:"disks,omitempty"`

	// Summary counts the disks by state.
	// +optional
	Summary DiskInventorySummary `json:"summary,omitzero"`

	// ObservedRescanRequest is the spec.rescanRequest the last scan answered.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Observed rescan request",xDescriptors={"urn:alm:descriptor:text"}
	ObservedRescanRequest int64 `json:"observedRescanRequest,omitempty"`

	// LastScanTime is when the content last changed.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Last scan",xDescriptors={"urn:alm:descriptor:text"}
	LastScanTime *metav1.Time `json:"lastScanTime,omitempty"`

	// LastReportTime is when the agent last completed a scan and reported
	// it, whether or not the content changed: the agent's heartbeat. The
	// agent scans every few minutes but refreshes this only when it is
	// about ten minutes old (or the content changed), so an idle node
	// costs one small write per ten minutes. A node whose agent stopped
	// scanning is one where it grows old.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Last report",xDescriptors={"urn:alm:descriptor:text"}
	LastReportTime *metav1.Time `json:"lastReportTime,omitempty"`

	// AgentVersion is the version of the agent that wrote this status.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Agent version",xDescriptors={"urn:alm:descriptor:text"}
	AgentVersion string `json:"agentVersion,omitempty"`

	// CephVersion is the Ceph version of the image the agent runs in
	// (`ceph --version`, for example "16.2.15"); empty when it could not be
	// told. The operator refuses images older than the oldest supported
	// release.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Ceph version",xDescriptors={"urn:alm:descriptor:text"}
	CephVersion string `json:"cephVersion,omitempty"`

	// CephImage is the image the agent runs in, and whose Ceph version
	// cephVersion is: the CephCluster's spec.image when the discovery
	// DaemonSet last rolled. After a spec.image change the operator waits
	// until the agents report the new image before it judges its version.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Ceph image",xDescriptors={"urn:alm:descriptor:text"}
	CephImage string `json:"cephImage,omitempty"`

	// CephUser is the uid and gid of the user named ceph in the image the
	// agent runs in, read from the image's own /etc/passwd. The operator
	// runs the health reporter as this user. Absent when the image has no
	// such user, or only one with uid or gid 0.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Ceph user",xDescriptors={"urn:alm:descriptor:text"}
	CephUser *CephUser `json:"cephUser,omitempty"`

	// Plan is the operator's decision on each disk of the node: whether it
	// becomes (or would become, in Preview) an OSD, or why it is left out.
	// The operator writes it; the agent writes everything else.
	// +listType=map
	// +listMapKey=name
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Plan"
	Plan []DevicePlan `json:"plan,omitempty"`
}

// CephUser is a user of the Ceph image; never root.
type CephUser struct {
	// UID is the user's id. Kubernetes accepts run-as ids up to 2^31-1.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2147483647
	UID int64 `json:"uid"`

	// GID is the id of the user's primary group.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2147483647
	GID int64 `json:"gid"`
}

// DeviceAction is what the operator does, or would do, with one disk.
// +kubebuilder:validation:Enum=WouldProvision;Preparing;Provisioned;LeftOut;Failed;Decommissioning;Decommissioned;Missing;Wiping;Metadata;Split
type DeviceAction string

const (
	// ActionWouldProvision means the disk is selected and empty and would
	// become an OSD; shown while provisioning is Preview or the node waits
	// for its turn.
	ActionWouldProvision DeviceAction = "WouldProvision"
	// ActionPreparing means a prepare Job is turning the disk into an OSD.
	ActionPreparing DeviceAction = "Preparing"
	// ActionProvisioned means the disk holds an OSD of this cluster.
	ActionProvisioned DeviceAction = "Provisioned"
	// ActionLeftOut means the disk is not used; reason says why.
	ActionLeftOut DeviceAction = "LeftOut"
	// ActionFailed means preparing the disk failed; it is retried with
	// backoff and after its inventory changes. A wipe that failed or was
	// refused is Failed too (reason WipeFailed or WipeRefused) and is not
	// tried again until the disk's content changes.
	ActionFailed DeviceAction = "Failed"
	// ActionDecommissioning means the disk's OSD is being taken out of the
	// cluster (spec.storage.decommission); decommission says how far.
	ActionDecommissioning DeviceAction = "Decommissioning"
	// ActionDecommissioned means the disk's OSD was purged (or destroyed
	// for a replacement); the disk is left alone while its request stays.
	ActionDecommissioned DeviceAction = "Decommissioned"
	// ActionMissing means an OSD's disk is no longer found on its node
	// (pulled, failed, or its node is gone); the entry keeps its OSD id
	// and since when.
	ActionMissing DeviceAction = "Missing"
	// ActionWiping means a wipe Job, asked for in
	// spec.storage.wipeDevices, is wiping the disk, or has and waits for
	// the agent's rescan.
	ActionWiping DeviceAction = "Wiping"
	// ActionMetadata means the disk is a metadata device: it holds, or
	// would hold, the DB (and WAL) partitions of the OSDs the message
	// names, and never becomes an OSD itself.
	ActionMetadata DeviceAction = "Metadata"
	// ActionSplit means the disk is, or would be, split into several OSD
	// data partitions (osdsPerDevice): the message shows the whole layout,
	// and each partition's OSD has a plan entry of its own, named after
	// the partition, whose parent is this disk's id.
	ActionSplit DeviceAction = "Split"
)

// PartitionRef names a partition of a metadata device, or of a split
// disk, that an OSD uses or would use.
type PartitionRef struct {
	// Device is the stable id of the disk the partition is on, as in
	// status.disks.
	// +kubebuilder:validation:MaxLength=512
	Device string `json:"device"`
	// Number is the partition's number in the GPT.
	// +kubebuilder:validation:Minimum=1
	Number int32 `json:"number"`
	// SizeBytes is the partition's size.
	SizeBytes int64 `json:"sizeBytes"`
	// Exists is true when the partition is already on the disk (made by an
	// earlier attempt, or kept from a destroyed OSD); false when the
	// prepare Job will make it.
	// +optional
	Exists bool `json:"exists,omitempty"`
	// PartUUID is the partition's GPT unique GUID once it exists: the
	// OSD's pod finds the partition by it.
	// +kubebuilder:validation:MaxLength=36
	// +optional
	PartUUID string `json:"partUUID,omitempty"`
}

// DevicePlan is the operator's decision on one disk.
type DevicePlan struct {
	// Name is the disk's kernel name, as in status.disks. The entry of an
	// OSD on a partition of a split disk is named after the partition (its
	// kernel name, or the name it will get, such as nvme0n1p2).
	Name string `json:"name"`
	// ID is the disk's stable identity, as in status.disks; for an OSD on
	// a partition of a split disk, the disk's id followed by
	// "-part<number>".
	ID string `json:"id"`
	// Parent, on the entry of an OSD on a partition of a split disk, is
	// the stable id of that disk; its own entry (action Split) shows the
	// whole layout.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Parent string `json:"parent,omitempty"`
	// Partition, on the entry of an OSD on a partition of a split disk,
	// is that partition: its number, size, whether it exists yet, and its
	// GUID once it does.
	// +optional
	Partition *PartitionRef `json:"partition,omitempty"`
	// Action is what happens to the disk.
	Action DeviceAction `json:"action"`
	// Reason is a stable code: NodeNotSelected, NodeAffinityMismatch,
	// NodeTaintNotTolerated, NodeArchitectureUnsupported, FilteredOut,
	// NotListed, InvalidFilter,
	// OSDNotSelected, DuplicateOSDID, SharedDevice, PrepareFailed,
	// PrepareRefused, WaitingForTurn, WaitingForMonitors, Preview,
	// Decommission, DiskMissing, NodeGone, OSDFailing,
	// WipeConfirmationMismatch,
	// WipeNotAllowed, WipeFailed, WipeRefused, MetadataDeviceMissing,
	// MetadataDeviceUnusable, MetadataDeviceFull, DBPartitionMissing,
	// SplitTooSmall, SplitUnchanged, or a discovery reason such as
	// HasPartitions.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says it in words, for example which filter left it out.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
	// OSDID is the OSD on the disk, once provisioned.
	// +optional
	OSDID *int32 `json:"osdID,omitempty"`
	// DeviceClass is the CRUSH device class the OSD gets, when set.
	// +optional
	DeviceClass string `json:"deviceClass,omitempty"`
	// Attempts counts failed prepare attempts since the disk last changed.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LastFailureTime is when the last prepare attempt failed; the next one
	// waits for a backoff that doubles with each attempt, or for the agent
	// to report a change on the node.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`
	// Since is when the disk was first found in its current trouble: the
	// first plan that found an OSD's disk Missing.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
	// Decommission is the progress of a decommission request for the
	// disk's OSD (spec.storage.decommission).
	// +optional
	Decommission *DecommissionProgress `json:"decommission,omitempty"`
	// WipeConfirmation is what an entry of the CephCluster's
	// spec.storage.wipeDevices must give as its confirmation to wipe this
	// disk in its present state; shown only for a disk rejected as
	// ForeignCephCluster, HasFilesystem, HasPartitionTable, HasPartitions
	// or HasUnknownData. It names the disk (WWN, else serial, else stable
	// id), the start of its content hash and, for another cluster's OSD,
	// that cluster's FSID, so it changes when the disk does.
	// +kubebuilder:validation:MaxLength=600
	// +optional
	WipeConfirmation string `json:"wipeConfirmation,omitempty"`
	// DB is the partition of a metadata device that holds, or would hold,
	// the DB of this disk's OSD; absent when the DB is on the disk itself.
	// +optional
	DB *PartitionRef `json:"db,omitempty"`
	// WAL is the partition that holds, or would hold, the OSD's WAL when
	// it is apart from the DB.
	// +optional
	WAL *PartitionRef `json:"wal,omitempty"`
}

// DecommissionPhase is where a decommission stands.
// +kubebuilder:validation:Enum=MarkingOut;WaitingForSafeToDestroy;NeverSafe;Stopping;Purging;Destroying;Wiping;Done;Reverting;Invalid;Replacing;Replaced
type DecommissionPhase string

// The phases of a decommission, in order.
const (
	// DecommissionMarkingOut: `ceph osd out` is being run.
	DecommissionMarkingOut DecommissionPhase = "MarkingOut"
	// DecommissionWaiting: the OSD is out; Ceph copies its data elsewhere
	// and is asked (ceph osd safe-to-destroy) until it says it is safe.
	DecommissionWaiting DecommissionPhase = "WaitingForSafeToDestroy"
	// DecommissionNeverSafe: as it stands the data can never be safe
	// without this OSD (too few other OSDs for the pools' copies); the
	// check is repeated, so adding OSDs or lowering a pool's size lets it
	// go on.
	DecommissionNeverSafe DecommissionPhase = "NeverSafe"
	// DecommissionStopping: the OSD's Deployment is being removed.
	DecommissionStopping DecommissionPhase = "Stopping"
	// DecommissionPurging: `ceph osd purge` is being run (the point of no
	// return).
	DecommissionPurging DecommissionPhase = "Purging"
	// DecommissionDestroying: `ceph osd destroy` is being run, keeping the
	// id for a replacement disk (the point of no return).
	DecommissionDestroying DecommissionPhase = "Destroying"
	// DecommissionWiping: the OSD is purged and its disk is being wiped
	// (the request asks for wipe).
	DecommissionWiping DecommissionPhase = "Wiping"
	// DecommissionDone: the OSD is gone from Ceph (or destroyed).
	DecommissionDone DecommissionPhase = "Done"
	// DecommissionReverting: the request was removed before the point of
	// no return; the OSD runs again and is marked in.
	DecommissionReverting DecommissionPhase = "Reverting"
	// DecommissionInvalid: the request does not name one OSD of this
	// cluster (for example device and osdID disagree); nothing is done.
	DecommissionInvalid DecommissionPhase = "Invalid"
	// DecommissionReplacing: a blank disk appeared in the slot of an OSD
	// destroyed for replacement; it is being prepared with that OSD's id.
	DecommissionReplacing DecommissionPhase = "Replacing"
	// DecommissionReplaced: the replacement disk holds the OSD again; the
	// request can be removed.
	DecommissionReplaced DecommissionPhase = "Replaced"
)

// DecommissionProgress is how far a decommission went.
type DecommissionProgress struct {
	// Phase is the current step.
	Phase DecommissionPhase `json:"phase"`
	// Message says what the step waits for, or what went wrong.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
	// Replace is true when the OSD is destroyed for a replacement disk
	// rather than purged.
	// +optional
	Replace bool `json:"replace,omitempty"`
	// Slot is where a replacement disk must appear to take the OSD's id:
	// the disk's /dev/disk/by-path link on the node, or its device path
	// when it has none (a loop device).
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Slot string `json:"slot,omitempty"`
	// OSDUUID is the uuid of the OSD being decommissioned, from its disk's
	// label: a later OSD that gets the same id (Ceph reuses purged ids)
	// has another uuid, and a request left in the spec never applies to
	// it.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	OSDUUID string `json:"osdUUID,omitempty"`
	// Steps are the steps done, in order, with when each was done.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Steps []DecommissionStep `json:"steps,omitempty"`
	// Attempts counts the failed or not-yet answers of the current step;
	// the next try waits longer each time (at most two minutes).
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LastAttemptTime is when the current step last failed or answered
	// not yet.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty"`
}

// DecommissionStep is one step of a decommission that is done.
type DecommissionStep struct {
	// Name is MarkedOut, SafeToDestroy, Stopped, Purged, Destroyed, Wiped,
	// Replaced or MarkedIn.
	// +kubebuilder:validation:MaxLength=32
	Name string `json:"name"`
	// Time is when it was done.
	Time metav1.Time `json:"time"`
}

// The names of DecommissionStep.
const (
	StepMarkedOut     = "MarkedOut"
	StepSafeToDestroy = "SafeToDestroy"
	StepStopped       = "Stopped"
	StepPurged        = "Purged"
	StepDestroyed     = "Destroyed"
	StepMarkedIn      = "MarkedIn"
	StepReplaced      = "Replaced"
	StepWiped         = "Wiped"
)

// DiskInventorySummary counts the disks of one node by state.
type DiskInventorySummary struct {
	// Disks is the number of disks found.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks found",xDescriptors={"urn:alm:descriptor:text"}
	Disks int32 `json:"disks"`
	// Available is the number of empty, eligible disks.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks available",xDescriptors={"urn:alm:descriptor:text"}
	Available int32 `json:"available"`
	// OSDs is the number of disks holding an OSD of this cluster.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks holding OSDs",xDescriptors={"urn:alm:descriptor:text"}
	OSDs int32 `json:"osds"`
	// Rejected is the number of disks left alone.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks rejected",xDescriptors={"urn:alm:descriptor:text"}
	Rejected int32 `json:"rejected"`
}

// DiskInventory lists the block devices of one node with a verdict on each.
// There is one per selected node, named after the node, in the namespace of
// the CephCluster that owns it. Admission requires metadata.name to equal
// spec.nodeName (checked on create; neither can change); the operator's
// admission policy further lets a node's agent write only the inventory of
// its own node.
//
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || !has(self.spec) || !has(self.spec.nodeName) || self.metadata.name == self.spec.nodeName",optionalOldSelf=true,message="metadata.name must equal spec.nodeName: a DiskInventory is named after the node it describes"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=di;disks,categories=ceph
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.nodeName`
// +kubebuilder:printcolumn:name="Devices",type=integer,JSONPath=`.status.summary.disks`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.summary.available`
// +kubebuilder:printcolumn:name="OSDs",type=integer,JSONPath=`.status.summary.osds`
// +kubebuilder:printcolumn:name="Rejected",type=integer,JSONPath=`.status.summary.rejected`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// The resources listed are what the operator derives from an inventory: the
// Node it describes, and the prepare Jobs and OSD Deployments for its disks.
// +operator-sdk:csv:customresourcedefinitions:displayName="Disk Inventory",resources={{Node,v1},{Job,v1},{Deployment,v1}}
type DiskInventory struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DiskInventorySpec   `json:"spec"`
	Status DiskInventoryStatus `json:"status,omitempty"`
}

// DiskInventoryList is a list of DiskInventories.
//
// +kubebuilder:object:root=true
type DiskInventoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DiskInventory `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DiskInventory{}, &DiskInventoryList{})
}

// DiskHealthStatus is the overall health of a drive.
// +kubebuilder:validation:Enum=Passed;Failing;Unknown;NotSupported
type DiskHealthStatus string

const (
	// DiskHealthPassed means the drive assessed itself healthy.
	DiskHealthPassed DiskHealthStatus = "Passed"
	// DiskHealthFailing means the drive predicts, or shows, its own
	// failure: its SMART overall-health assessment failed, an attribute
	// is at or below its failure threshold, or an NVMe critical warning
	// other than temperature is set.
	DiskHealthFailing DiskHealthStatus = "Failing"
	// DiskHealthUnknown means the health could not be read this time (the
	// device could not be opened, it was in standby and not woken, SMART
	// is disabled, or smartctl is missing or did not answer); the message
	// says which.
	DiskHealthUnknown DiskHealthStatus = "Unknown"
	// DiskHealthNotSupported means the device reports no health: a loop,
	// device-mapper, md, zram, nbd, rbd or optical device (smartctl is not
	// run on those), a virtual disk, a drive behind an unknown USB bridge,
	// or a drive without SMART.
	DiskHealthNotSupported DiskHealthStatus = "NotSupported"
)

// DiskHealth summarises a drive's health as smartctl (`smartctl --json
// --all`) reads it: the overall status and the counters that predict a
// failure, with the drive's temperature and age. The agent reads it when it
// first sees the disk and then at most once per refresh interval (an hour
// by default), not at every scan. A counter the drive does not report is
// absent.
type DiskHealth struct {
	// Status is Passed, Failing, Unknown or NotSupported.
	Status DiskHealthStatus `json:"status"`

	// Message says why in words: what failed, or why nothing is known.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`

	// Protocol is how smartctl reached the drive: ATA, SCSI (SAS and other
	// SCSI drives) or NVMe.
	// +kubebuilder:validation:MaxLength=16
	// +optional
	Protocol string `json:"protocol,omitempty"`

	// ReallocatedSectors is the number of sectors the drive has remapped:
	// ATA attribute 5 (Reallocated_Sector_Ct), or a SCSI drive's grown
	// defect list.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ReallocatedSectors *int64 `json:"reallocatedSectors,omitempty"`

	// PendingSectors is ATA attribute 197 (Current_Pending_Sector):
	// unreadable sectors waiting to be remapped.
	// +kubebuilder:validation:Minimum=0
	// +optional
	PendingSectors *int64 `json:"pendingSectors,omitempty"`

	// OfflineUncorrectableSectors is ATA attribute 198
	// (Offline_Uncorrectable).
	// +kubebuilder:validation:Minimum=0
	// +optional
	OfflineUncorrectableSectors *int64 `json:"offlineUncorrectableSectors,omitempty"`

	// NVMeCriticalWarning is an NVMe drive's critical warning byte; 0 when
	// none is set. Bits: 0x01 spare below threshold, 0x02 temperature,
	// 0x04 reliability degraded, 0x08 read-only, 0x10 volatile memory
	// backup failed, 0x20 persistent memory region unreliable.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	// +optional
	NVMeCriticalWarning *int32 `json:"nvmeCriticalWarning,omitempty"`

	// MediaErrors is an NVMe drive's media and data integrity errors, or a
	// SCSI drive's uncorrected read, write and verify errors.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MediaErrors *int64 `json:"mediaErrors,omitempty"`

	// PercentageUsed is an NVMe drive's estimate of the endurance it has
	// used; it may exceed 100, and 255 means 255 or more.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	// +optional
	PercentageUsed *int32 `json:"percentageUsed,omitempty"`

	// TemperatureCelsius is the drive's temperature when it was checked.
	// It is refreshed with the health, not at every scan.
	// +optional
	TemperatureCelsius *int32 `json:"temperatureCelsius,omitempty"`

	// PowerOnHours is how many hours the drive has been powered on.
	// +kubebuilder:validation:Minimum=0
	// +optional
	PowerOnHours *int64 `json:"powerOnHours,omitempty"`

	// CheckedAt is when the agent read the health.
	// +optional
	CheckedAt *metav1.Time `json:"checkedAt,omitempty"`
}

// Findings returns h without the readings that change by themselves on a
// healthy drive (temperature, power-on hours, the time of the check), or
// nil when h is nil. The agent publishes a change of the findings at once,
// and refreshes the readings only with its periodic report, so that an idle
// node's inventory is not rewritten because a drive warmed up.
func (h *DiskHealth) Findings() *DiskHealth {
	if h == nil {
		return nil
	}
	out := h.DeepCopy()
	out.TemperatureCelsius, out.PowerOnHours, out.CheckedAt = nil, nil, nil
	return out
}

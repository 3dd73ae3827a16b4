// Package osdplan decides, without talking to the API server, which disks of
// a CephCluster's selected nodes become OSDs, what prepare Jobs run for them,
// and why the other disks are left out.
package osdplan

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// Reasons a disk is left out by the storage selection (the discovery
// reasons, such as HasPartitions, are passed through unchanged).
const (
	// ReasonFilteredOut: a deviceFilter or devicePathFilter did not match.
	ReasonFilteredOut = "FilteredOut"
	// ReasonNotListed: the node lists devices and this is not one of them,
	// or nothing (devices, filters, useAllDevices) selects it.
	ReasonNotListed = "NotListed"
	// ReasonInvalidFilter: the filter that applies is not a valid regular
	// expression, so nothing on the node is selected by it.
	ReasonInvalidFilter = "InvalidFilter"
	// ReasonOSDNotSelected: the disk holds an OSD of this cluster but the
	// selection no longer picks it; the OSD is kept, never destroyed.
	ReasonOSDNotSelected = "OSDNotSelected"
	// ReasonPrepareFailed: the last prepare attempt failed; the message
	// carries the agent's evidence (the end of ceph-volume's stderr).
	ReasonPrepareFailed = "PrepareFailed"
	// ReasonPrepareRefused: agent prepare re-checked the disk on the node
	// and refused to write it (it was not blank, or not the disk that was
	// planned). The disk is not tried again until its own content changes.
	ReasonPrepareRefused = "PrepareRefused"
	// ReasonSharedDevice: another disk, on this node or another one, has
	// the same WWN (or the same serial and size): one LUN seen through two
	// paths or by two hosts. No copy is ever prepared. It is the verdict
	// discovery gives such a disk.
	ReasonSharedDevice = string(discovery.SharedDevice)
	// ReasonWaitingForTurn: the disk waits because the cluster-wide limit
	// of nodes preparing at once is reached, or because its node still has
	// a prepare Job (a node runs one at a time); the message says which.
	ReasonWaitingForTurn = "WaitingForTurn"
	// ReasonPreview: provisioning is Preview; the disk would be prepared.
	ReasonPreview = "Preview"
	// ReasonWaitingForMonitors: the disk waits for the monitors to be up.
	ReasonWaitingForMonitors = "WaitingForMonitors"
	// ReasonDuplicateOSDID: two disks carry the same OSD id; neither gets a
	// Deployment until a human resolves it.
	ReasonDuplicateOSDID = "DuplicateOSDID"
)

// JobState is the state of a prepare Job as the planner needs it.
type JobState string

const (
	// JobRunning is a Job that has not finished.
	JobRunning JobState = "Running"
	// JobSucceeded is a Job that completed.
	JobSucceeded JobState = "Succeeded"
	// JobFailed is a Job that failed (deadline or backoff limit reached).
	JobFailed JobState = "Failed"
)

// Outcomes of one disk in a prepare Job, as agent prepare reports them in
// its termination message.
const (
	OutcomePrepared = "Prepared"
	OutcomeRefused  = "Refused"
	OutcomeFailed   = "Failed"
)

// PrepareResult is what agent prepare reported for one disk.
type PrepareResult struct {
	// Outcome is Prepared, Refused or Failed.
	Outcome string
	// Reason is the agent's code for a refusal or failure (for example
	// HasUnknownData, IdentityMismatch, Timeout).
	Reason string
	// Message says it in words.
	Message string
	// Stderr is the end of ceph-volume's stderr, for a failure.
	Stderr string
}

// PrepareJob is an existing prepare Job, reduced to what the planner needs.
type PrepareJob struct {
	// Name is the Job's name.
	Name string
	// Node is the node the Job runs on.
	Node string
	// DeviceIDs are the stable ids of the disks the Job prepares.
	DeviceIDs []string
	// State is Running, Succeeded or Failed.
	State JobState
	// FinishedAt is when the Job finished (zero while running).
	FinishedAt time.Time
	// Started is true once agent prepare may be running: a pod of the Job
	// got past Pending (its main container started), or the Job counts a
	// ready, succeeded or failed pod. A Running Job that has not started
	// is deleted when its disks are no longer to be prepared; one that
	// started is never interrupted by the planner. The reconciler errs
	// towards true when it cannot tell.
	Started bool
	// Results maps a device id to what agent prepare reported for it; empty
	// when the Job's pod left no termination message.
	Results map[string]PrepareResult
	// FailureMessage is the Job's own account of a failure (its Failed
	// condition's reason and message), for disks without a result.
	FailureMessage string
	// RescanRequest is the spec.rescanRequest the operator set on the
	// node's inventory for this Job's outcome; 0 when it asked for none.
	RescanRequest int64
	// Wipe is true for a wipe Job (see wipe.go): same name, same turn.
	Wipe bool
}

// OSD is an existing OSD Deployment, reduced to what the planner needs.
type OSD struct {
	// ID is the OSD id.
	ID int32
	// Node is the node the Deployment is pinned to.
	Node string
	// DeviceID is the stable id of the disk the OSD runs from.
	DeviceID string
	// Ready is true when the OSD's pod is ready.
	Ready bool
	// Settled is true when the Deployment controller has acted on the
	// Deployment's latest spec and its one pod runs that template.
	Settled bool
	// Outdated is true when the Deployment's pod template differs from the
	// one the operator would apply now (a change still to roll out).
	Outdated bool
	// Deleting is true when the Deployment is being deleted.
	Deleting bool
	// Crashing, when not empty, says how the OSD's daemon keeps failing:
	// its container restarted again and again (CrashLoopBackOff), for
	// example on I/O errors of a dying disk.
	Crashing string
}

// Input is everything the planner decides from. It holds no client.
type Input struct {
	// Cluster is the CephCluster (spec, generation, status.fsid).
	Cluster *cephv1alpha1.CephCluster
	// Nodes are all Nodes.
	Nodes []corev1.Node
	// Inventories are the cluster's DiskInventories (status.disks from the
	// agent, status.plan as last written by the operator).
	Inventories []cephv1alpha1.DiskInventory
	// OSDs are the existing OSD Deployments of the cluster.
	OSDs []OSD
	// Jobs are the existing prepare Jobs of the cluster.
	Jobs []PrepareJob
	// OSDJobs are the existing OSD Jobs (decommission steps) of the
	// cluster.
	OSDJobs []OSDJob
	// Now is the current time, for backoff.
	Now time.Time
	// WaitForMonitors, when not empty, says why no prepare Job may start
	// yet: a prepare registers its OSD with the monitors, so they must be
	// up first. Disks that would be prepared wait with this message.
	WaitForMonitors string
}

// Device is a disk a prepare Job or an OSD Deployment works on.
type Device struct {
	// Name is the kernel name at the time of the plan (informational).
	Name string
	// ID is the stable identity.
	ID string
	// Path is the stable path to open: a /dev/disk/by-id link when the disk
	// has one, otherwise /dev/<name>.
	Path string
	// DeviceClass is the CRUSH device class to give the OSD, if set.
	DeviceClass string
	// WWN, Serial and SizeBytes are the identity discovery reported; agent
	// prepare refuses a disk at Path whose identity differs (kernel names
	// and links can move to another disk across reboots and swaps).
	WWN       string
	Serial    string
	SizeBytes int64
	// OSDID, when set, is the id of an OSD destroyed for replacement that
	// this blank disk takes over (ceph-volume --osd-id).
	OSDID *int32
	// ExpectedOSD, in a wipe Job, is the OSD of this cluster whose disk is
	// wiped after its decommission: agent wipe wipes it only if its label
	// carries exactly that FSID and OSD id.
	ExpectedOSD *ExpectedOSD
	// WipeConfirmation is, in a wipe Job, the confirmation agent wipe
	// compares with the disk as it finds it (see wipe.go).
	WipeConfirmation string
	// DB and WAL, when set, are the partitions of a metadata device that
	// hold the OSD's DB and WAL (layout.go): in a prepare Job, to use or
	// make; for an OSD, the ones it runs with.
	DB  *Partition
	WAL *Partition
	// Data, when set, is the partition of a split disk (osdsPerDevice)
	// that holds the OSD's data (split.go): in a prepare Job, to use or
	// make on the disk at Path, whose identity is the split disk's; for an
	// OSD, the partition it runs from, found by its GUID.
	Data *Partition
}

// ExpectedOSD names the label a decommissioned disk must carry to be wiped.
type ExpectedOSD struct {
	FSID  string
	OSDID int32
}

// JobSpec is a prepare Job to create.
type JobSpec struct {
	// Node is the node to run on.
	Node string
	// Devices are the disks to prepare, sorted by ID.
	Devices []Device
	// Wipe makes it a wipe Job of Devices instead (see wipe.go).
	Wipe bool
}

// OSDSpec is an OSD Deployment that must exist.
type OSDSpec struct {
	// ID is the OSD id from the disk's BlueStore label.
	ID int32
	// Node is the node holding the disk.
	Node string
	// Device is the disk the OSD runs from.
	Device Device
	// Topology are the node's well-known topology labels (zone, region),
	// for the OSD's labels and CRUSH location.
	Topology map[string]string
}

// TopologyLabels are the Node labels copied onto OSDs.
var TopologyLabels = []string{"topology.kubernetes.io/region", "topology.kubernetes.io/zone", RackLabel}

// RackLabel is the Node label that names a node's rack; Kubernetes has no
// well-known one. An OSD's CRUSH location takes its rack from it.
const RackLabel = "topology.cephoperator.io/rack"

// Plan is what the reconciler applies.
type Plan struct {
	// CreateJobs are prepare Jobs to create, at most one per node.
	CreateJobs []JobSpec
	// DeleteJobs are names of finished Jobs whose outcome is recorded.
	DeleteJobs []string
	// Rescan are nodes whose inventory must be rescanned (a Job of theirs
	// finished) before its disks can be planned again.
	Rescan []string
	// RescanJobs maps each node of Rescan to the finished Job the rescan
	// is for: the reconciler records the request on that Job, so that one
	// Job's outcome asks for one rescan, never more.
	RescanJobs map[string]string
	// RescanResume maps a node to a rescan request that a kept Job records
	// but the node's inventory does not: the reconciler stopped between
	// the two writes of requestRescans. The reconciler sets the
	// inventory's spec.rescanRequest to that number, completing the one
	// request of the Job rather than asking for another, so a lost write
	// cannot leave the disks Preparing for ever.
	RescanResume map[string]int64
	// FailureRecords maps a node to the value its inventory's
	// FailureRecordsAnnotation must have ("" for none): the content hash
	// each failed or refused disk had when it failed. A disk is retried
	// early, or a refused one at all, only when its hash differs.
	FailureRecords map[string]string
	// OSDs are the OSD Deployments that must exist, one per OSD id.
	OSDs []OSDSpec
	// DevicePlans maps a node to the plan of each of its disks, for its
	// DiskInventory's status.plan.
	DevicePlans map[string][]cephv1alpha1.DevicePlan
	// Counts are the cluster's OSD counts.
	Counts cephv1alpha1.OSDCounts
	// CreateOSDJobs are OSD Jobs to create: one Ceph command on one OSD
	// each (see decommission).
	CreateOSDJobs []OSDJobSpec
	// DeleteOSDJobs are names of finished OSD Jobs whose outcome the
	// inventory as read already records (or that no decommission needs
	// any more).
	DeleteOSDJobs []string
	// StopOSDs are the OSDs whose Deployment must be deleted: Ceph said
	// they are safe to destroy.
	StopOSDs []int32
	// Reverted are the OSDs whose decommission was reversed by this plan.
	Reverted []int32
	// Problems are messages for a condition: invalid filters, duplicate
	// OSD ids. Empty when all is well.
	Problems []string
	// RequeueAfter is when the earliest backoff expires (0: none). Time
	// cannot be watched, so the reconciler requeues for it.
	RequeueAfter time.Duration
}

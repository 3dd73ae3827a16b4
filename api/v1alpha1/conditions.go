package v1alpha1

// This file is the one catalogue of the conditions the operator reports and
// of the reasons they give, grouped by condition. Reason values are part of
// the API: users, alerts and scripts match on them, so a released value never
// changes. A new reason is added here, under the condition that gives it,
// and the code that sets it uses the constant.

// Condition types of a CephCluster. Each is positive: True is good.
const (
	// ConditionReady summarises the others: True when the cluster has
	// converged on its spec.
	ConditionReady = "Ready"
	// ConditionProgressing is True while the operator is working towards
	// the spec.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when something prevents convergence and
	// needs attention; its message says what.
	ConditionDegraded = "Degraded"
	// ConditionConfigured is True once the cluster identity Secret and the
	// ceph.conf ConfigMap exist.
	ConditionConfigured = "Configured"
	// ConditionDisksDiscovered is True when every selected node has
	// published its DiskInventory.
	ConditionDisksDiscovered = "DisksDiscovered"
	// ConditionOSDsProvisioned is True when every selected, available disk
	// runs an OSD.
	ConditionOSDsProvisioned = "OSDsProvisioned"
	// ConditionOSDsUpdated is True when every OSD Deployment runs the pod
	// template the operator would apply now; False, with reason
	// RollingUpdate, while a change reaches the OSDs one failure domain at
	// a time (the message counts them and says what the next step waits
	// for).
	ConditionOSDsUpdated = "OSDsUpdated"
	// ConditionMonitorsReady is True when every monitor Deployment has an
	// available pod. No OSD is prepared before.
	ConditionMonitorsReady = "MonitorsReady"
	// ConditionManagerReady is True when the manager Deployment (with the
	// health reporter) has an available pod.
	ConditionManagerReady = "ManagerReady"
	// ConditionCephHealthy is True when the cluster's own health report
	// (status.ceph) is recent, of this cluster, and healthy.
	ConditionCephHealthy = "CephHealthy"
	// ConditionCephVersionSupported says whether the Ceph version of
	// spec.image (as the discovery agents report it) is supported; Unknown
	// until an agent reported it. When False, no daemon is started or
	// changed. It is also False, with reason ImageNotAllowed, when the
	// operator's --allowed-images list does not name spec.image.
	ConditionCephVersionSupported = "CephVersionSupported"
	// ConditionMonitorStoreMissing is, like Degraded, True when something
	// is wrong: a monitor of a bootstrapped cluster has lost its store and
	// no quorum could give it the cluster's maps, so the store is not
	// created again. Its message names the nodes, the host paths and how
	// to recover. It is present only while that is so.
	ConditionMonitorStoreMissing = "MonitorStoreMissing"
	// ConditionPartiallyPreparedOSDs is, like Degraded, True when something
	// is wrong: OSD ids that Ceph's OSD map holds but that never started
	// and that no disk the agents see carries (a prepare interrupted after
	// it registered the OSD). Its message lists them and how to free them;
	// nothing is done about them automatically. It is present only while
	// that is so, and needs a reporter that may read the OSD map
	// (status.ceph.osdMapMessage says when it may not).
	ConditionPartiallyPreparedOSDs = "PartiallyPreparedOSDs"
	// ConditionCleanupInProgress is present only while a CephCluster whose
	// cleanupPolicy confirms destroying the data is being deleted: True
	// while the daemons stop and the cleanup Jobs wipe this cluster's OSD
	// disks and remove its host directories (the message counts the nodes
	// and names what remains), False with the outcome just before the
	// finalizer is removed.
	ConditionCleanupInProgress = "CleanupInProgress"
	// ConditionCephxKeysMigrated is present while spec.security.cephx.keyType
	// asks for aes256k or a migration to it is under way: True once every
	// cephx key of the cluster is an AES-256 key and the monitors accept no
	// other, False with what the migration does or waits for.
	ConditionCephxKeysMigrated = "CephxKeysMigrated"
)

// Reasons of CephxKeysMigrated.
const (
	// ReasonCephxMigrated means every key is AES-256 and the monitors
	// accept AES-256 keys only.
	ReasonCephxMigrated = "Migrated"
	// ReasonCephxWaiting means the migration has not started: the daemons
	// must all run Ceph 20.2.4 or later, or a rollout is under way.
	ReasonCephxWaiting = "WaitingToStart"
	// ReasonCephxImporting means the keys the operator holds are being
	// replaced.
	ReasonCephxImporting = "ImportingKeys"
	// ReasonCephxFinishing means the OSDs' and Ceph's own users' keys are
	// being replaced, or the last step waits (the message says for what:
	// an OSD that is down, a user the operator does not hold).
	ReasonCephxFinishing = "Finishing"
	// ReasonCephxPaused means spec.security.cephx.keyType was unset during
	// the migration: it stopped before refusing AES keys.
	ReasonCephxPaused = "Paused"
	// ReasonCephxNotPossible means the migration cannot run: the identity
	// Secret, made by an earlier operator, holds no AES-256 keys.
	ReasonCephxNotPossible = "NotPossible"
)

// Reasons of CleanupInProgress; the same values are the reasons of the
// Events of a confirmed cleanup.
const (
	// ReasonStoppingDaemons means the cluster's Deployments and Jobs were
	// deleted and the cleanup waits for their pods to end.
	ReasonStoppingDaemons = "StoppingDaemons"
	// ReasonWipingDisks means the cleanup Jobs run.
	ReasonWipingDisks = "WipingDisks"
	// ReasonCleanupCompleted means every cleanup Job succeeded (or there
	// was nothing to clean).
	ReasonCleanupCompleted = "CleanupCompleted"
	// ReasonCleanupIncomplete means every cleanup Job finished and some
	// disk or host directory was refused or failed; the message names
	// them, they are left as they are.
	ReasonCleanupIncomplete = "CleanupIncomplete"
	// ReasonCleanupTimedOut means the cleanup did not finish within its
	// bound; the finalizer is removed and the message names the disks
	// and nodes left as they are.
	ReasonCleanupTimedOut = "CleanupTimedOut"
)

// Reasons of PartiallyPreparedOSDs.
const (
	// ReasonPartiallyPrepared means an OSD id is allocated in Ceph without
	// a disk (see ConditionPartiallyPreparedOSDs). The same value is the
	// discovery reason of a disk whose BlueStore label of this cluster was
	// never completed.
	ReasonPartiallyPrepared = "PartiallyPrepared"
)

// Reasons several conditions of a CephCluster give.
const (
	// ReasonReconciled means the part of the cluster the condition covers
	// matches its spec.
	ReasonReconciled = "Reconciled"
	// ReasonReconciling means work towards the spec is under way.
	ReasonReconciling = "Reconciling"
	// ReasonReconcileError (Ready, Progressing, Degraded, OSDsProvisioned)
	// means an API call failed; the message says which.
	ReasonReconcileError = "ReconcileError"
)

// Reasons of the summary conditions Ready, Progressing and Degraded. When
// another condition blocks all progress (MonitorStoreMissing,
// CephVersionSupported False), they also give that condition's reason.
const (
	// ReasonDeleting (Ready, Progressing) means the cluster is being
	// deleted.
	ReasonDeleting = "Deleting"
	// ReasonAsExpected is the reason of a healthy Degraded=False condition.
	ReasonAsExpected = "AsExpected"
	// ReasonDuplicateCluster means another CephCluster already owns this
	// namespace; this one is left alone.
	ReasonDuplicateCluster = "DuplicateCluster"
	// ReasonPodSecurityRejected (Ready, Degraded) means the namespace's Pod
	// Security admission, or an OpenShift SecurityContextConstraint,
	// refuses the privileged node pods; the message says what to change.
	ReasonPodSecurityRejected = "PodSecurityRejected"
	// ReasonPodAdmissionRejected (Ready, Degraded) means another admission
	// check (a quota, a policy) refuses the node pods.
	ReasonPodAdmissionRejected = "PodAdmissionRejected"
)

// Reasons of MonitorsReady and ManagerReady, besides Reconciled and
// Reconciling. While CephVersionSupported is not True they give its reason.
const (
	// ReasonNotEnoughNodes means there are fewer ready nodes with an
	// address than monitors to place on distinct nodes.
	ReasonNotEnoughNodes = "NotEnoughNodes"
	// ReasonMonitorCountChanged means spec.mon.count differs from the
	// monitors created when the cluster was bootstrapped.
	ReasonMonitorCountChanged = "MonitorCountChanged"
	// ReasonMonitorStoreMissing (MonitorStoreMissing, MonitorsReady, Ready,
	// Progressing, Degraded) means a monitor's store is missing after
	// bootstrap and is not re-created (see ConditionMonitorStoreMissing).
	ReasonMonitorStoreMissing = "MonitorStoreMissing"
	// ReasonMonitorFailover (MonitorsReady, and the Warning Event that
	// starts it) means a monitor whose node is gone or NotReady past
	// spec.mon.failoverTimeout is being replaced, or is down and waits to
	// be (the message says for what).
	ReasonMonitorFailover = "MonitorFailover"
)

// Reasons of OSDsUpdated.
const (
	// ReasonAllOSDsUpdated means every OSD runs its current template.
	ReasonAllOSDsUpdated = "AllOSDsUpdated"
	// ReasonRollingUpdate means a change is rolling out to the OSDs (also
	// Ready and Progressing while it rolls out to the monitors and the
	// manager, one Deployment at a time).
	ReasonRollingUpdate = "RollingUpdate"
)

// Reasons of CephVersionSupported.
const (
	// ReasonSupported means the agents report a supported Ceph version
	// for spec.image.
	ReasonSupported = "Supported"
	// ReasonVersionUnknown means no agent has reported a readable Ceph
	// version of spec.image yet; no daemon starts before one does.
	ReasonVersionUnknown = "VersionUnknown"
	// ReasonUnsupportedCephVersion (also Ready, Progressing, Degraded)
	// means spec.image runs a Ceph release older than the oldest
	// supported one: nothing is started or changed with it.
	ReasonUnsupportedCephVersion = "UnsupportedCephVersion"
	// ReasonWaitingForNewImage means spec.image changed and some discovery
	// agents still report the previous image: its version is judged, and
	// the daemons rolled to it, once every agent of a Ready node reports
	// the new one.
	ReasonWaitingForNewImage = "WaitingForNewImage"
	// ReasonCephDowngradeRefused (also Ready, Progressing, Degraded)
	// means spec.image runs an older Ceph than the daemons do
	// (status.daemonImage): Ceph cannot go back, so nothing is changed.
	ReasonCephDowngradeRefused = "CephDowngradeRefused"
	// ReasonCephUpgradeUnsupported (also Ready, Progressing, Degraded)
	// means spec.image runs a Ceph more than two major releases newer
	// than the daemons do: Ceph cannot upgrade in one step, so nothing is
	// changed.
	ReasonCephUpgradeUnsupported = "CephUpgradeUnsupported"
	// ReasonImageNotAllowed (also Ready, Progressing, Degraded) means
	// spec.image is not on the operator's --allowed-images list: nothing
	// is started or changed with it.
	ReasonImageNotAllowed = "ImageNotAllowed"
)

// Reasons of DisksDiscovered.
const (
	// ReasonAllNodesScanned means every selected node's agent has
	// published its DiskInventory.
	ReasonAllNodesScanned = "AllNodesScanned"
	// ReasonWaitingForAgents means some selected nodes have not published
	// a first scan yet; the message names them.
	ReasonWaitingForAgents = "WaitingForAgents"
	// ReasonNodeNotFound means spec.storage.nodes names nodes that do not
	// exist.
	ReasonNodeNotFound = "NodeNotFound"
	// ReasonNoNodeSelected means no node is selected for storage; the
	// message counts the skipped nodes by reason.
	ReasonNoNodeSelected = "NoNodeSelected"
)

// Reasons of OSDsProvisioned, besides ReconcileError.
const (
	// ReasonAllOSDsProvisioned means every selected, available disk runs
	// an OSD.
	ReasonAllOSDsProvisioned = "AllOSDsProvisioned"
	// ReasonProvisioning means disks are being prepared.
	ReasonProvisioning = "Provisioning"
	// ReasonInvalidStorageSpec means spec.storage has a mistake (such as
	// a filter that does not compile); the message lists them.
	ReasonInvalidStorageSpec = "InvalidStorageSpec"
	// ReasonWaitingForDiscovery means some selected nodes have not
	// published their disks yet, so what to provision is not known.
	ReasonWaitingForDiscovery = "WaitingForDiscovery"
	// ReasonPreview means provisioning is Preview: disks that would
	// become OSDs are only listed in each DiskInventory's status.plan.
	ReasonPreview = "Preview"
	// ReasonPrepareFailed means preparing some disks failed or was refused
	// on the node; each DiskInventory's status.plan says why.
	ReasonPrepareFailed = "PrepareFailed"
	// ReasonPlanWriteFailed (OSDsProvisioned=False): the API server
	// refused the plan of one or more nodes (their DiskInventory's
	// status.plan); the operator retries with backoff, and what the
	// inventories show is older than its decisions meanwhile.
	ReasonPlanWriteFailed = "PlanWriteFailed"
)

// Reasons of CephHealthy, chosen from status.ceph: a report that is recent,
// of this cluster's FSID and healthy makes it True.
const (
	// ReasonCephHealthy means Ceph reports HEALTH_OK, or only warnings
	// that a small cluster always has.
	ReasonCephHealthy = "CephHealthy"
	// ReasonCephStatusUnknown means no health report has been published
	// yet.
	ReasonCephStatusUnknown = "CephStatusUnknown"
	// ReasonCephStatusStale means the last health report is too old: the
	// reporter is not running or cannot write.
	ReasonCephStatusStale = "CephStatusStale"
	// ReasonCephStatusFailed means the reporter could not get a status
	// from Ceph (no monitor quorum, bad key, timeout); the message says
	// what `ceph status` answered.
	ReasonCephStatusFailed = "CephStatusFailed"
	// ReasonCephFSIDMismatch means the monitors that answered belong to
	// another Ceph cluster than this CephCluster's FSID.
	ReasonCephFSIDMismatch = "CephFSIDMismatch"
	// ReasonCephHealthWarn means Ceph raises a warning that needs
	// attention; the message lists the checks.
	ReasonCephHealthWarn = "CephHealthWarn"
	// ReasonCephHealthErr means Ceph raises an error.
	ReasonCephHealthErr = "CephHealthErr"
)

// Reasons of the operator's Upgradeable condition, which tells OLM (through
// the OperatorCondition) when the operator must not be upgraded.
const (
	// ReasonPreparingOSDs (False) means prepare Jobs are writing to disks.
	ReasonPreparingOSDs = "PreparingOSDs"
	// ReasonClusterDeleting (False) means a CephCluster is being deleted.
	ReasonClusterDeleting = "ClusterDeleting"
	// ReasonIdle (True) means no disk is being prepared and no cluster is
	// being deleted.
	ReasonIdle = "Idle"
)

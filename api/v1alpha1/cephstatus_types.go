package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CephHealth is Ceph's own overall health, as `ceph status` reports it.
// +kubebuilder:validation:Enum=HEALTH_OK;HEALTH_WARN;HEALTH_ERR
type CephHealth string

const (
	// CephHealthOK means Ceph raises no (unmuted) health check.
	CephHealthOK CephHealth = "HEALTH_OK"
	// CephHealthWarn means at least one warning and no error.
	CephHealthWarn CephHealth = "HEALTH_WARN"
	// CephHealthErr means at least one error: data may be unavailable.
	CephHealthErr CephHealth = "HEALTH_ERR"
)

// Limits on what status.ceph carries, so that a cluster in a bad state
// (hundreds of checks, long messages) cannot push the CephCluster past the
// API server's size limits. The reporter enforces them; the schema rejects
// anything larger.
const (
	// MaxCephHealthChecks is how many health checks status.ceph lists;
	// the rest are only counted in checksOmitted.
	MaxCephHealthChecks = 20
	// MaxCephMessageLength bounds a health check's summary and the
	// reporter's message, in bytes.
	MaxCephMessageLength = 512
	// MaxCephQuorumNames bounds the list of monitors in quorum.
	MaxCephQuorumNames = 16
	// MaxCephNeverStartedOSDs bounds the list of OSDs that never started;
	// the rest are only counted in neverStartedOSDsOmitted.
	MaxCephNeverStartedOSDs = 32
)

// CephStatus is what Ceph itself says about the cluster, from `ceph status`
// run periodically by the reporter next to the mgr. The reporter is its only
// writer (server-side apply, field manager ceph-operator-reporter).
//
// When `ceph status` fails, health is left unset (unknown), message says why,
// and the other fields are cleared rather than kept stale.
type CephStatus struct {
	// Health is Ceph's overall health: HEALTH_OK, HEALTH_WARN or
	// HEALTH_ERR. Unset when the last `ceph status` failed. Muted checks
	// do not count towards it.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Ceph health",xDescriptors={"urn:alm:descriptor:text"}
	Health CephHealth `json:"health,omitempty"`

	// Checks are Ceph's health checks (`ceph health detail` codes), errors
	// first, then by code; at most 20, the rest counted in checksOmitted.
	// +listType=map
	// +listMapKey=code
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Checks []CephHealthCheck `json:"checks,omitempty"`

	// ChecksOmitted is the number of health checks not listed in checks.
	// +optional
	ChecksOmitted int32 `json:"checksOmitted,omitempty"`

	// FSID is the id of the Ceph cluster whose monitors answered. It must
	// equal status.fsid.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	FSID string `json:"fsid,omitempty"`

	// Monitors says which monitors are in quorum.
	// +optional
	Monitors CephMonitorStatus `json:"monitors,omitzero"`

	// OSDs counts the OSDs Ceph knows, and those up and in.
	// +optional
	OSDs CephOSDStatus `json:"osds,omitzero"`

	// NeverStartedOSDs lists the OSDs of the OSD map (`ceph osd dump`) that
	// were created but never started: an id is allocated (`ceph osd new`)
	// before its disk is written, so a prepare interrupted in between
	// leaves one behind. The operator compares them with the disks the
	// agents see (PartiallyPreparedOSDs condition). At most 32, sorted by
	// id; the rest are counted in neverStartedOSDsOmitted.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=id
	// +optional
	NeverStartedOSDs []CephOSDRef `json:"neverStartedOSDs,omitempty"`

	// NeverStartedOSDsOmitted is the number of never-started OSDs not listed.
	// +optional
	NeverStartedOSDsOmitted int32 `json:"neverStartedOSDsOmitted,omitempty"`

	// OSDMapMessage says why the OSD map could not be read (neverStartedOSDs is
	// then unknown, not empty); empty when it was read. A cluster created
	// by an operator older than this field has a reporter key that may
	// only run `ceph status`: see the operations guide to widen it.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	OSDMapMessage string `json:"osdMapMessage,omitempty"`

	// Capacity is the raw capacity of all OSDs, in bytes. A change of less
	// than 1% of the total is only published with the next periodic
	// refresh (every few minutes).
	// +optional
	Capacity CephCapacity `json:"capacity,omitzero"`

	// LastChecked is when the reporter last ran `ceph status` and published
	// the result. An unchanged cluster is re-published only every few
	// minutes, so this may lag the last run by that much.
	// +optional
	LastChecked *metav1.Time `json:"lastChecked,omitempty"`

	// Message says why the last `ceph status` failed; empty when it
	// succeeded.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
}

// CephHealthCheck is one of Ceph's health checks.
type CephHealthCheck struct {
	// Code is Ceph's check code, for example TOO_FEW_OSDS or OSD_DOWN.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Code string `json:"code"`
	// Severity is HEALTH_WARN or HEALTH_ERR.
	Severity CephHealth `json:"severity"`
	// Message is Ceph's one-line summary, for example "1 osds down".
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
	// Muted is true when an operator silenced the check with
	// `ceph health mute`; muted checks do not count towards health.
	// +optional
	Muted bool `json:"muted,omitempty"`
}

// CephMonitorStatus describes the monitors' quorum.
type CephMonitorStatus struct {
	// Total is the number of monitors in the monitor map.
	Total int32 `json:"total"`
	// InQuorum is the number of monitors in quorum.
	InQuorum int32 `json:"inQuorum"`
	// Quorum names the monitors in quorum (at most 16).
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=atomic
	// +optional
	Quorum []string `json:"quorum,omitempty"`
}

// CephOSDStatus counts OSDs as the OSD map records them.
type CephOSDStatus struct {
	// Total is the number of OSDs in the OSD map.
	Total int32 `json:"total"`
	// Up is the number of OSDs running and reachable.
	Up int32 `json:"up"`
	// In is the number of OSDs that hold data.
	In int32 `json:"in"`
}

// CephOSDRef names one OSD of the OSD map.
type CephOSDRef struct {
	// ID is the OSD's id.
	// +kubebuilder:validation:Minimum=0
	ID int32 `json:"id"`
	// UUID is the OSD's uuid, which its disk's BlueStore label carries.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	UUID string `json:"uuid,omitempty"`
}

// CephCapacity is the cluster's raw capacity.
type CephCapacity struct {
	// TotalBytes is the raw size of all OSDs that are up.
	TotalBytes int64 `json:"totalBytes"`
	// UsedBytes is the raw space used, including replicas and metadata.
	UsedBytes int64 `json:"usedBytes"`
	// AvailableBytes is the raw space still free.
	AvailableBytes int64 `json:"availableBytes"`
}

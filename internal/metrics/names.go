// Package metrics names the Prometheus series the operator exports about
// the clusters it manages, beside controller-runtime's own. The names are
// the contract between the collector, the alert rules in
// config/prometheus, the dashboard and docs/metrics.md: a test checks
// that every query of the rules and the dashboard uses only these.
//
// Every series carries the labels namespace and cluster (the CephCluster's
// name). Label values come from bounded sets (states, reasons, condition
// types, health statuses, node names); no series is per disk.
package metrics

// The exported series. All are gauges computed at scrape time from the
// operator's cache.
const (
	// Disks counts disks by discovery verdict: labels state (Available,
	// OSD, Rejected) and reason (the Rejected reason, else "").
	Disks = "ceph_operator_disks"
	// DiskPlans counts disks by the operator's plan: labels action
	// (WouldProvision, Preparing, Provisioned, LeftOut, Failed) and reason.
	DiskPlans = "ceph_operator_disk_plans"
	// OSDs counts OSDs as the operator sees them: label state (desired,
	// provisioned, running, failed).
	OSDs = "ceph_operator_osds"
	// PrepareJobs counts prepare Jobs: label state (running, failed).
	PrepareJobs = "ceph_operator_prepare_jobs"
	// InventoryAge is the time in seconds since a node's agent last
	// published its inventory: label node.
	InventoryAge = "ceph_operator_inventory_age_seconds"
	// CephHealth is 1 for the health status Ceph last reported and 0 for
	// the others: label status (HEALTH_OK, HEALTH_WARN, HEALTH_ERR,
	// unknown).
	CephHealth = "ceph_operator_ceph_health"
	// CephOSDs counts OSDs as Ceph reports them: label state (total, up,
	// in).
	CephOSDs = "ceph_operator_ceph_osds"
	// MonQuorum is the number of monitors in quorum, as Ceph reports it.
	MonQuorum = "ceph_operator_mon_quorum"
	// MonsDesired is the number of monitors the CephCluster asks for.
	MonsDesired = "ceph_operator_mons_desired"
	// ClusterCondition is 1 for each condition of the CephCluster at its
	// status, 0 for its other statuses: labels type and status (True,
	// False, Unknown).
	ClusterCondition = "ceph_operator_cluster_condition"
)

// Names lists every series the operator exports about clusters.
var Names = []string{
	Disks, DiskPlans, OSDs, PrepareJobs, InventoryAge,
	CephHealth, CephOSDs, MonQuorum, MonsDesired, ClusterCondition,
}

package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// DefaultTimeout bounds the cache reads of one scrape.
const DefaultTimeout = 5 * time.Second

// Label values of the bounded sets. Every value is emitted for every
// cluster, 0 when nothing matches, so that a query never finds a series
// absent where it means zero.
var (
	// DiskStates are the verdicts of status.disks.
	DiskStates = []cephv1alpha1.DiskState{cephv1alpha1.DiskAvailable, cephv1alpha1.DiskOSD, cephv1alpha1.DiskRejected}
	// RejectedReasons are the reasons a disk is Rejected for. A reason an
	// agent reports that is not listed here is exported too when it occurs.
	RejectedReasons = []discovery.Reason{
		discovery.NotADisk, discovery.Unreadable, discovery.ForeignCephCluster, discovery.ReadOnly,
		discovery.Removable, discovery.Mounted, discovery.InUseAsSwap, discovery.HasHolders,
		discovery.HasPartitions, discovery.HasPartitionTable, discovery.HasFilesystem, discovery.TooSmall,
		discovery.Busy, discovery.HasUnknownData, discovery.SharedDevice, discovery.PartiallyPrepared, discovery.FailurePredicted,
	}
	// PlanActions are the actions of status.plan.
	PlanActions = []cephv1alpha1.DeviceAction{
		cephv1alpha1.ActionWouldProvision, cephv1alpha1.ActionPreparing, cephv1alpha1.ActionProvisioned,
		cephv1alpha1.ActionLeftOut, cephv1alpha1.ActionFailed, cephv1alpha1.ActionWiping,
		cephv1alpha1.ActionDecommissioning, cephv1alpha1.ActionDecommissioned, cephv1alpha1.ActionMissing,
	}
	// OSDStates are the states of the OSDs series.
	OSDStates = []string{"desired", "provisioned", "running", "failed", "decommissioning", "missing", "failing"}
	// JobStates are the states of the prepare Jobs series.
	JobStates = []string{"running", "failed"}
	// HealthStatuses are the values of the Ceph health series; unknown
	// stands for no report, or a failed `ceph status`.
	HealthStatuses = []string{string(cephv1alpha1.CephHealthOK), string(cephv1alpha1.CephHealthWarn), string(cephv1alpha1.CephHealthErr), "unknown"}
	// CephOSDStates are the states of the Ceph OSDs series.
	CephOSDStates = []string{"total", "up", "in"}
	// ConditionStatuses are the statuses of a condition.
	ConditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}
)

// DefaultMonCount is spec.mon.count when the CephCluster leaves it unset
// (the API's default).
const DefaultMonCount = 3

var (
	descDisks        = desc(Disks, "Disks of the cluster's DiskInventories by discovery verdict (state) and, for Rejected, reason.", "state", "reason")
	descDiskPlans    = desc(DiskPlans, "Disks of the cluster's DiskInventories by the operator's plan (status.plan): action and reason.", "action", "reason")
	descOSDs         = desc(OSDs, "OSDs as the operator counts them in the CephCluster's status.osds: desired, provisioned, running, failed, decommissioning, missing, failing.", "state")
	descPrepareJobs  = desc(PrepareJobs, "Prepare Jobs of the cluster: running (not finished) and failed.", "state")
	descInventoryAge = desc(InventoryAge, "Seconds since the node's agent last reported its inventory (the later of status.lastReportTime and status.lastScanTime, else the inventory's creation).", "node")
	descCephHealth   = desc(CephHealth, "1 for the health Ceph last reported (status.ceph.health; unknown when none or the last ceph status failed), 0 for the others.", "status")
	descCephOSDs     = desc(CephOSDs, "OSDs as Ceph reports them (status.ceph.osds): total, up, in. Absent while Ceph's health is unknown.", "state")
	descMonQuorum    = desc(MonQuorum, "Monitors in quorum as Ceph reports them (status.ceph.monitors.inQuorum). Absent while Ceph's health is unknown.")
	descMonsDesired  = desc(MonsDesired, "Monitors the CephCluster asks for (spec.mon.count).")
	descCondition    = desc(ClusterCondition, "1 for each condition of the CephCluster at its status, 0 for its other statuses.", "type", "status")
)

// desc describes a gauge with the labels namespace and cluster, then extra.
func desc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append([]string{"namespace", "cluster"}, extra...), nil)
}

// Collector computes the cluster series at scrape time from a reader,
// normally the manager's informer cache: a scrape lists CephClusters,
// DiskInventories and prepare Jobs from memory and writes nothing.
type Collector struct {
	// Reader lists the objects; the manager's cache.
	Reader client.Reader
	// Log receives one line per scrape that could not list everything.
	Log logr.Logger
	// Now tells the time for the inventory age; nil means time.Now.
	Now func() time.Time
	// Timeout bounds the reads of one scrape; zero means DefaultTimeout.
	Timeout time.Duration
}

var _ prometheus.Collector = (*Collector)(nil)

// Describe sends the descriptors of every series.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDisks, descDiskPlans, descOSDs, descPrepareJobs, descInventoryAge,
		descCephHealth, descCephOSDs, descMonQuorum, descMonsDesired, descCondition} {
		ch <- d
	}
}

// clusterKey names a cluster: its namespace and name.
type clusterKey struct{ namespace, name string }

// Collect lists the objects and sends every series. A list that fails is
// logged (once per scrape, with every failure) and its series are left out;
// the others are still sent.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	emit := func(d *prometheus.Desc, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
		if err != nil {
			errs = append(errs, err)
			return
		}
		ch <- m
	}
	defer func() {
		if len(errs) > 0 {
			c.Log.Error(errors.Join(errs...), "Some cluster metrics were left out of this scrape")
		}
	}()

	// Everything is per cluster: without the clusters there is nothing.
	var clusters cephv1alpha1.CephClusterList
	if err := c.Reader.List(ctx, &clusters, client.UnsafeDisableDeepCopy); err != nil {
		errs = append(errs, fmt.Errorf("listing CephClusters: %w", err))
		return
	}
	known := make(map[clusterKey]bool, len(clusters.Items))
	for i := range clusters.Items {
		cl := &clusters.Items[i]
		known[clusterKey{cl.Namespace, cl.Name}] = true
		collectCluster(cl, emit)
	}
	if len(known) == 0 {
		return
	}

	var inventories cephv1alpha1.DiskInventoryList
	if err := c.Reader.List(ctx, &inventories, client.UnsafeDisableDeepCopy,
		client.MatchingLabels{resources.ManagedByLabel: resources.ManagedByValue}); err != nil {
		errs = append(errs, fmt.Errorf("listing DiskInventories: %w", err))
	} else {
		collectInventories(known, inventories.Items, now(), emit)
	}

	var jobs batchv1.JobList
	if err := c.Reader.List(ctx, &jobs, client.UnsafeDisableDeepCopy, client.MatchingLabels{
		resources.ManagedByLabel: resources.ManagedByValue, resources.ComponentLabel: resources.ComponentPrepare,
	}); err != nil {
		errs = append(errs, fmt.Errorf("listing prepare Jobs: %w", err))
	} else {
		collectJobs(known, jobs.Items, emit)
	}
}

// emitFunc sends one gauge; labels start with namespace and cluster.
type emitFunc func(d *prometheus.Desc, v float64, labels ...string)

// collectCluster sends the series read from the CephCluster alone.
func collectCluster(cl *cephv1alpha1.CephCluster, emit emitFunc) {
	ns, name := cl.Namespace, cl.Name
	o := cl.Status.OSDs
	for i, v := range []int32{o.Desired, o.Provisioned, o.Running, o.Failed, o.Decommissioning, o.Missing, o.Failing} {
		emit(descOSDs, float64(v), ns, name, OSDStates[i])
	}

	health := "unknown"
	ceph := cl.Status.Ceph
	if ceph != nil && ceph.Health != "" {
		health = string(ceph.Health)
	}
	known := false
	for _, s := range HealthStatuses {
		if s == health {
			known = true
		}
	}
	if !known {
		// A value newer than this operator: said as reported, not hidden.
		emit(descCephHealth, 1, ns, name, health)
	}
	for _, s := range HealthStatuses {
		emit(descCephHealth, boolValue(s == health), ns, name, s)
	}
	if health != "unknown" {
		for i, v := range []int32{ceph.OSDs.Total, ceph.OSDs.Up, ceph.OSDs.In} {
			emit(descCephOSDs, float64(v), ns, name, CephOSDStates[i])
		}
		emit(descMonQuorum, float64(ceph.Monitors.InQuorum), ns, name)
	}

	mons := cl.Spec.Mon.Count
	if mons == 0 {
		mons = DefaultMonCount
	}
	emit(descMonsDesired, float64(mons), ns, name)

	for _, cond := range cl.Status.Conditions {
		for _, s := range ConditionStatuses {
			emit(descCondition, boolValue(cond.Status == s), ns, name, cond.Type, string(s))
		}
	}
}

// diskKey is one series of Disks or DiskPlans: a state or action, and a
// reason.
type diskKey struct{ state, reason string }

// collectInventories sends the disk, plan and inventory age series of the
// known clusters' DiskInventories (those labelled with a cluster's name in
// its namespace).
func collectInventories(known map[clusterKey]bool, items []cephv1alpha1.DiskInventory, now time.Time, emit emitFunc) {
	disks := make(map[clusterKey]map[diskKey]int, len(known))
	plans := make(map[clusterKey]map[diskKey]int, len(known))
	for k := range known {
		d := make(map[diskKey]int, len(DiskStates)+len(RejectedReasons))
		d[diskKey{string(cephv1alpha1.DiskAvailable), ""}] = 0
		d[diskKey{string(cephv1alpha1.DiskOSD), ""}] = 0
		for _, r := range RejectedReasons {
			d[diskKey{string(cephv1alpha1.DiskRejected), string(r)}] = 0
		}
		disks[k] = d
		p := make(map[diskKey]int, len(PlanActions))
		for _, a := range PlanActions {
			p[diskKey{string(a), ""}] = 0
		}
		plans[k] = p
	}
	for i := range items {
		inv := &items[i]
		k := clusterKey{inv.Namespace, inv.Labels[resources.ClusterLabel]}
		if !known[k] {
			continue
		}
		for _, d := range inv.Status.Disks {
			reason := ""
			if d.Verdict.State == cephv1alpha1.DiskRejected {
				reason = d.Verdict.Reason
			}
			disks[k][diskKey{string(d.Verdict.State), reason}]++
		}
		for _, p := range inv.Status.Plan {
			plans[k][diskKey{string(p.Action), p.Reason}]++
		}
		emit(descInventoryAge, max(0, now.Sub(LastReport(inv)).Seconds()), k.namespace, k.name, inv.Name)
	}
	for k, m := range disks {
		for dk, n := range m {
			emit(descDisks, float64(n), k.namespace, k.name, dk.state, dk.reason)
		}
	}
	for k, m := range plans {
		for pk, n := range m {
			emit(descDiskPlans, float64(n), k.namespace, k.name, pk.state, pk.reason)
		}
	}
}

// LastReport is when a node's agent last reported its inventory: the latest
// of status.lastReportTime (the agent's heartbeat, refreshed by every scan
// once it is about ten minutes old, whether or not anything changed) and
// status.lastScanTime (when the content last changed; an agent older than
// the heartbeat writes only this). An inventory no agent has written to yet
// counts from its creation, so that a node whose agent never started ages
// like one whose agent stopped.
func LastReport(inv *cephv1alpha1.DiskInventory) time.Time {
	var t time.Time
	for _, s := range []*metav1.Time{inv.Status.LastScanTime, inv.Status.LastReportTime} {
		if s != nil && s.After(t) {
			t = s.Time
		}
	}
	if t.IsZero() {
		return inv.CreationTimestamp.Time
	}
	return t
}

// collectJobs sends the prepare Job series of the known clusters.
func collectJobs(known map[clusterKey]bool, items []batchv1.Job, emit emitFunc) {
	type counts struct{ running, failed int }
	byCluster := make(map[clusterKey]*counts, len(known))
	for k := range known {
		byCluster[k] = &counts{}
	}
	for i := range items {
		job := &items[i]
		c := byCluster[clusterKey{job.Namespace, job.Labels[resources.ClusterLabel]}]
		if c == nil {
			continue
		}
		switch jobState(job) {
		case "running":
			c.running++
		case "failed":
			c.failed++
		}
	}
	for k, c := range byCluster {
		emit(descPrepareJobs, float64(c.running), k.namespace, k.name, "running")
		emit(descPrepareJobs, float64(c.failed), k.namespace, k.name, "failed")
	}
}

// jobState is "failed" for a Job whose Failed condition is True, "succeeded"
// for one whose Complete condition is True, else "running": created and not
// finished, whether or not its pod has started.
func jobState(job *batchv1.Job) string {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed:
			return "failed"
		case batchv1.JobComplete:
			return "succeeded"
		}
	}
	return "running"
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

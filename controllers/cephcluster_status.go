package controllers

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// observed is what one reconcile found and did, the input of the pure status
// functions below.
type observed struct {
	// fsid is the cluster's FSID, read from (or just written to) the
	// identity Secret.
	fsid string
	// identityKeyTypes are the cephx key types the identity Secret holds
	// keys of (an earlier operator's holds AES keys only).
	identityKeyTypes map[ceph.KeyType]bool
	// configured is true once the identity Secret and ConfigMap exist.
	configured bool
	// mon is what the monitor phases found.
	mon monState
	// now is when the reconcile ran, to judge the age of status.ceph.
	now time.Time
	// version is what the agents say about the image's Ceph version; its
	// status is empty when the daemons phase did not run.
	version versionCheck
	// deleting is true while the cluster is being deleted.
	deleting bool
	// cleanup is what a confirmed cleanup found; nil when none runs.
	cleanup *cleanupState
	// finalized is true once the finalizer was removed: the object may be
	// gone, so its status is not written.
	finalized bool
	// selection is which nodes take part in storage; nil when the
	// discovery phase did not run.
	selection *nodeselect.Selection
	// inventories are the DiskInventories of the selected nodes.
	inventories []cephv1alpha1.DiskInventory
	// notReady names the nodes whose Ready condition is not True.
	notReady map[string]bool
	// podRejected is why admission refuses the node pods; nil when they
	// are admitted or the check was not made.
	podRejected *podRejection
	// err is the error that ended the reconcile, if any.
	err error
	// cephx is what the cluster's cephx record says; nil until the
	// daemons phase read it.
	cephx *cephxRecord
	// cephxRecheck, when positive, is when a cephx step's backoff ends.
	cephxRecheck time.Duration
}

// setClusterStatus computes the CephCluster's conditions from what the
// reconcile observed. It only changes a condition's lastTransitionTime when
// its status changes.
func setClusterStatus(cluster *cephv1alpha1.CephCluster, o observed) {
	gen := cluster.Generation
	set := func(t string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&cluster.Status.Conditions, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen,
		})
	}
	if o.fsid != "" {
		cluster.Status.FSID = o.fsid
	}

	if o.deleting {
		set(cephv1alpha1.ConditionReady, metav1.ConditionFalse, cephv1alpha1.ReasonDeleting, "The cluster is being deleted; its identity, monitor stores and disk data are kept unless cleanupPolicy confirms destroying them")
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionTrue, cephv1alpha1.ReasonDeleting, "Removing the objects the operator created")
		if c := o.cleanup; c != nil {
			set(cephv1alpha1.ConditionCleanupInProgress, boolCondition(c.status), c.reason, c.message)
		}
		setDegraded(cluster, o.err)
		return
	}

	if o.configured {
		set(cephv1alpha1.ConditionConfigured, metav1.ConditionTrue, cephv1alpha1.ReasonReconciled, "Cluster identity Secret and ceph.conf ConfigMap exist")
	} else {
		set(cephv1alpha1.ConditionConfigured, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling, "Creating the cluster identity and ceph.conf")
	}
	setDegraded(cluster, o.err)
	if o.configured {
		setMonitorsStatus(cluster, o.mon, set)
		ok, reason, msg := ceph.HealthReady(cluster.Status.Ceph, cluster.Status.FSID, o.now, ceph.DefaultStatusMaxAge)
		set(cephv1alpha1.ConditionCephHealthy, boolCondition(ok), reason, msg)
	}
	if o.selection != nil {
		setDiscoveryStatus(cluster, *o.selection, o.inventories)
	}
	if o.version.status != "" {
		set(cephv1alpha1.ConditionCephVersionSupported, o.version.status, o.version.reason, o.version.message)
	}
	if o.version.accepted != nil {
		cluster.Status.DaemonImage = o.version.accepted
	}

	pending := notTrueFor(cluster, cephv1alpha1.ConditionConfigured, cephv1alpha1.ConditionMonitorsReady, cephv1alpha1.ConditionManagerReady, cephv1alpha1.ConditionDisksDiscovered, cephv1alpha1.ConditionOSDsProvisioned, cephv1alpha1.ConditionOSDsUpdated, cephv1alpha1.ConditionCephHealthy)
	switch {
	case len(o.mon.storeMissing) > 0:
		msg := storeMissingText(o.mon)
		set(cephv1alpha1.ConditionDegraded, metav1.ConditionTrue, cephv1alpha1.ReasonMonitorStoreMissing, msg)
		set(cephv1alpha1.ConditionReady, metav1.ConditionFalse, cephv1alpha1.ReasonMonitorStoreMissing, msg)
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionFalse, cephv1alpha1.ReasonMonitorStoreMissing, "Blocked until the monitor's store is restored")
	case o.err == nil && o.version.unsupported():
		set(cephv1alpha1.ConditionDegraded, metav1.ConditionTrue, o.version.reason, o.version.message)
		set(cephv1alpha1.ConditionReady, metav1.ConditionFalse, o.version.reason, o.version.message)
		blocked := "Blocked until spec.image is a supported Ceph release"
		switch o.version.reason {
		case cephv1alpha1.ReasonImageNotAllowed:
			blocked = "Blocked until spec.image is an image the operator allows"
		case cephv1alpha1.ReasonCephDowngradeRefused, cephv1alpha1.ReasonCephUpgradeUnsupported:
			blocked = "Blocked until spec.image is a release the daemons' Ceph can be upgraded to; they keep their image"
		}
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionFalse, o.version.reason, blocked)
	case o.err == nil && o.podRejected != nil:
		// Without this the cluster would only say it waits for its
		// agents, for ever.
		set(cephv1alpha1.ConditionDegraded, metav1.ConditionTrue, o.podRejected.reason, truncateMessage(o.podRejected.message))
		set(cephv1alpha1.ConditionReady, metav1.ConditionFalse, o.podRejected.reason, truncateMessage(o.podRejected.message))
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionFalse, o.podRejected.reason, "Blocked until the node pods are admitted; see the Degraded condition")
	case o.err != nil:
		set(cephv1alpha1.ConditionReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconcileError, o.err.Error())
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionFalse, cephv1alpha1.ReasonReconcileError, "Blocked by an error; see the Degraded condition")
	case o.mon.rolling != "":
		set(cephv1alpha1.ConditionReady, metav1.ConditionFalse, cephv1alpha1.ReasonRollingUpdate, "Rolling out a change to the monitors and manager: "+o.mon.rolling)
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionTrue, cephv1alpha1.ReasonRollingUpdate, o.mon.rolling)
	case len(pending) > 0:
		msg := "Waiting for " + strings.Join(pending, ", ")
		set(cephv1alpha1.ConditionReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling, msg)
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionTrue, cephv1alpha1.ReasonReconciling, msg)
	default:
		set(cephv1alpha1.ConditionReady, metav1.ConditionTrue, cephv1alpha1.ReasonReconciled, "The cluster matches its spec")
		set(cephv1alpha1.ConditionProgressing, metav1.ConditionFalse, cephv1alpha1.ReasonReconciled, "Nothing left to do")
	}
	// observedGeneration says the status describes this spec; it is only
	// advanced when the reconcile succeeded.
	if o.err == nil {
		cluster.Status.ObservedGeneration = gen
	}
}

// setDiscoveryStatus summarises the selected nodes' DiskInventories into the
// cluster's counts, per-node summaries and the DisksDiscovered condition.
func setDiscoveryStatus(cluster *cephv1alpha1.CephCluster, sel nodeselect.Selection, inventories []cephv1alpha1.DiskInventory) {
	byNode := make(map[string]*cephv1alpha1.DiskInventory, len(inventories))
	for i := range inventories {
		byNode[inventories[i].Name] = &inventories[i]
	}
	var disks cephv1alpha1.DiskCounts
	rejected := map[string]int32{}
	summaries := make([]cephv1alpha1.NodeSummary, 0, len(sel.Selected))
	var waiting []string
	for _, name := range sel.Selected {
		sum := cephv1alpha1.NodeSummary{Name: name}
		inv := byNode[name]
		if inv == nil || inv.Status.LastScanTime == nil {
			waiting = append(waiting, name)
			sum.Message = "Waiting for the discovery agent's first scan"
			summaries = append(summaries, sum)
			continue
		}
		var failing []string
		failingOSDs := false
		for _, d := range inv.Status.Disks {
			sum.Disks++
			switch d.Verdict.State {
			case cephv1alpha1.DiskAvailable:
				sum.Available++
			case cephv1alpha1.DiskOSD:
				sum.OSDs++
			default:
				rejected[d.Verdict.Reason]++
			}
			if d.Health != nil && d.Health.Status == cephv1alpha1.DiskHealthFailing {
				failing = append(failing, failingDiskName(d))
				failingOSDs = failingOSDs || d.Verdict.State == cephv1alpha1.DiskOSD
			}
		}
		if len(failing) > 0 {
			disks.Failing += int32(len(failing))
			advice := "; they are never provisioned: replace them"
			if failingOSDs {
				advice = "; their OSDs keep running: move the data off (ceph osd out <id>) and replace the drives"
			}
			sum.Message = failingDrivesPrefix + listNames(failing) + advice
		}
		disks.Discovered += sum.Disks
		disks.Available += sum.Available
		disks.OSDs += sum.OSDs
		summaries = append(summaries, sum)
	}
	disks.Rejected = disks.Discovered - disks.Available - disks.OSDs
	for reason, n := range rejected {
		disks.RejectedByReason = append(disks.RejectedByReason, cephv1alpha1.ReasonCount{Reason: reason, Count: n})
	}
	sort.Slice(disks.RejectedByReason, func(i, j int) bool {
		return disks.RejectedByReason[i].Reason < disks.RejectedByReason[j].Reason
	})
	cluster.Status.Nodes = int32(len(sel.Selected))
	cluster.Status.Disks = disks
	cluster.Status.NodeSummaries = topSummaries(summaries, maxNodeSummaries)

	c := metav1.Condition{Type: cephv1alpha1.ConditionDisksDiscovered, ObservedGeneration: cluster.Generation, Status: metav1.ConditionFalse}
	switch {
	case len(sel.Missing) > 0:
		c.Reason = cephv1alpha1.ReasonNodeNotFound
		c.Message = "spec.storage.nodes lists nodes that do not exist: " + listNames(sel.Missing)
	case len(sel.Selected) == 0:
		c.Reason = cephv1alpha1.ReasonNoNodeSelected
		c.Message = "No node is selected for storage" + skippedSummary(sel)
	case len(waiting) > 0:
		c.Reason = cephv1alpha1.ReasonWaitingForAgents
		c.Message = fmt.Sprintf("Waiting for the discovery agent on %d of %d nodes: %s", len(waiting), len(sel.Selected), listNames(waiting))
	default:
		c.Status = metav1.ConditionTrue
		c.Reason = cephv1alpha1.ReasonAllNodesScanned
		c.Message = fmt.Sprintf("%d nodes scanned: %d disks, %d available, %d OSDs, %d rejected",
			len(sel.Selected), disks.Discovered, disks.Available, disks.OSDs, disks.Rejected)
		if disks.Failing > 0 {
			c.Message += fmt.Sprintf("; %d report failing drive health (see status.nodeSummaries)", disks.Failing)
		}
	}
	meta.SetStatusCondition(&cluster.Status.Conditions, c)
}

// failingDrivesPrefix starts the node summary message of a node with
// drives whose health is Failing.
const failingDrivesPrefix = "Drives report failing health: "

// failingDiskName names a failing disk for a message, with the OSD it holds.
func failingDiskName(d cephv1alpha1.Disk) string {
	if d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.OSDID != nil {
		return fmt.Sprintf("%s (OSD %d)", d.Name, *d.Verdict.OSDID)
	}
	return d.Name
}

// failingDrives lists, from the node summaries, the nodes whose drives
// report failing health with those drives, for an Event.
func failingDrives(summaries []cephv1alpha1.NodeSummary) string {
	var parts []string
	for _, s := range summaries {
		if list, ok := strings.CutPrefix(s.Message, failingDrivesPrefix); ok {
			list, _, _ = strings.Cut(list, ";")
			parts = append(parts, s.Name+": "+list)
		}
	}
	return strings.Join(parts, "; ")
}

// maxNodeSummaries bounds status.nodeSummaries: at a thousand nodes a full
// list would make every status write hundreds of kilobytes. The counts
// always cover every node; each node's details are in its DiskInventory.
const maxNodeSummaries = 50

// topSummaries keeps at most limit summaries: nodes with a message (something
// needs attention) first, then the rest, each group in name order.
func topSummaries(all []cephv1alpha1.NodeSummary, limit int) []cephv1alpha1.NodeSummary {
	if len(all) <= limit {
		return all
	}
	out := make([]cephv1alpha1.NodeSummary, 0, limit)
	for _, attention := range []bool{true, false} {
		for _, s := range all {
			if len(out) == limit {
				break
			}
			if (s.Message != "") == attention {
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// listNames joins names for a message, eliding past ten so that messages stay
// short at a thousand nodes.
func listNames(names []string) string {
	const maxListed = 10
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListed)
}

// skippedSummary counts the skipped nodes by reason for a message.
func skippedSummary(sel nodeselect.Selection) string {
	if len(sel.Skipped) == 0 {
		return ": there are no nodes"
	}
	counts := map[string]int{}
	for _, s := range sel.Skipped {
		counts[s.Reason]++
	}
	reasons := make([]string, 0, len(counts))
	for r, n := range counts {
		reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(reasons)
	return "; nodes skipped: " + strings.Join(reasons, ", ")
}

// ownedConditions are the condition types the cluster reconciler writes.
var ownedConditions = map[string]bool{
	cephv1alpha1.ConditionReady: true, cephv1alpha1.ConditionProgressing: true, cephv1alpha1.ConditionDegraded: true,
	cephv1alpha1.ConditionConfigured: true, cephv1alpha1.ConditionDisksDiscovered: true,
	cephv1alpha1.ConditionMonitorsReady: true, cephv1alpha1.ConditionManagerReady: true, cephv1alpha1.ConditionCephHealthy: true,
	cephv1alpha1.ConditionCephVersionSupported: true, cephv1alpha1.ConditionMonitorStoreMissing: true,
	cephv1alpha1.ConditionCleanupInProgress: true, cephv1alpha1.ConditionCephxKeysMigrated: true,
}

// ownedStatus returns the part of st that the cluster reconciler writes;
// other reconcilers own the rest (OSD counts, OSDsProvisioned).
func ownedStatus(st cephv1alpha1.CephClusterStatus) cephv1alpha1.CephClusterStatus {
	out := cephv1alpha1.CephClusterStatus{
		ObservedGeneration: st.ObservedGeneration,
		FSID:               st.FSID,
		Nodes:              st.Nodes,
		Disks:              st.Disks,
		NodeSummaries:      st.NodeSummaries,
		Monitors:           st.Monitors,
		DaemonImage:        st.DaemonImage,
		Cephx:              st.Cephx,
	}
	for _, c := range st.Conditions {
		if ownedConditions[c.Type] {
			out.Conditions = append(out.Conditions, c)
		}
	}
	return out
}

// setDegraded sets Degraded from the reconcile's error.
func setDegraded(cluster *cephv1alpha1.CephCluster, err error) {
	c := metav1.Condition{
		Type: cephv1alpha1.ConditionDegraded, Status: metav1.ConditionFalse,
		Reason: cephv1alpha1.ReasonAsExpected, Message: "No problem found", ObservedGeneration: cluster.Generation,
	}
	if err != nil {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, cephv1alpha1.ReasonReconcileError, conditionText(err)
	}
	meta.SetStatusCondition(&cluster.Status.Conditions, c)
}

// setDuplicateStatus marks cluster as ignored because owner already manages
// its namespace.
func setDuplicateStatus(cluster *cephv1alpha1.CephCluster, owner string) {
	msg := "CephCluster " + owner + " already manages this namespace; only one CephCluster per namespace is reconciled. Delete this one or move it to another namespace"
	for _, c := range []metav1.Condition{
		{Type: cephv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: cephv1alpha1.ReasonDuplicateCluster, Message: msg},
		{Type: cephv1alpha1.ConditionProgressing, Status: metav1.ConditionFalse, Reason: cephv1alpha1.ReasonDuplicateCluster, Message: msg},
		{Type: cephv1alpha1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: cephv1alpha1.ReasonDuplicateCluster, Message: msg},
	} {
		c.ObservedGeneration = cluster.Generation
		meta.SetStatusCondition(&cluster.Status.Conditions, c)
	}
	cluster.Status.ObservedGeneration = cluster.Generation
}

// oldestCluster returns the CephCluster that owns a namespace: the oldest one
// not being deleted, ties broken by name; nil when there is none.
func oldestCluster(items []cephv1alpha1.CephCluster) *cephv1alpha1.CephCluster {
	live := make([]*cephv1alpha1.CephCluster, 0, len(items))
	for i := range items {
		if items[i].DeletionTimestamp.IsZero() {
			live = append(live, &items[i])
		}
	}
	if len(live) == 0 {
		return nil
	}
	sort.Slice(live, func(i, j int) bool {
		a, b := live[i].CreationTimestamp, live[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return live[i].Name < live[j].Name
	})
	return live[0]
}

// notTrueFor returns those of types that are not True for the cluster's
// current generation: missing, False, Unknown, or describing an older spec.
// Ready summarises them, so it is never True before every part of the
// operator has confirmed the current spec.
func notTrueFor(cluster *cephv1alpha1.CephCluster, types ...string) []string {
	var out []string
	for _, t := range types {
		c := meta.FindStatusCondition(cluster.Status.Conditions, t)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != cluster.Generation {
			out = append(out, t)
		}
	}
	return out
}

// isConditionTrue reports whether cluster has condition t set to True.
func isConditionTrue(cluster *cephv1alpha1.CephCluster, t string) bool {
	return meta.IsStatusConditionTrue(cluster.Status.Conditions, t)
}

// conditionMessage returns the message of condition t, or "".
func conditionMessage(cluster *cephv1alpha1.CephCluster, t string) string {
	if c := meta.FindStatusCondition(cluster.Status.Conditions, t); c != nil {
		return c.Message
	}
	return ""
}

// conditionText turns an error into a condition message, bounded in length
// as the API requires (32768 bytes).
func conditionText(err error) string {
	return truncateMessage(err.Error())
}

// maxMessage bounds the messages the operator writes, in conditions and in
// DiskInventory plans (whose schema allows 1024 bytes): one long message must
// not make a whole status write fail.
const maxMessage = 1024

// truncateMessage cuts s to at most maxMessage bytes, on a rune boundary,
// marking the cut with "...".
func truncateMessage(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

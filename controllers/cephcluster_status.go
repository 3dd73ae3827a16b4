package controllers

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// observed is what one reconcile found and did, the input of the pure status
// functions below.
type observed struct {
	// fsid is the cluster's FSID, read from (or just written to) the
	// identity Secret.
	fsid string
	// configured is true once the identity Secret and ConfigMap exist.
	configured bool
	// deleting is true while the cluster is being deleted.
	deleting bool
	// finalized is true once the finalizer was removed: the object may be
	// gone, so its status is not written.
	finalized bool
	// err is the error that ended the reconcile, if any.
	err error
}

// setClusterStatus computes the CephCluster's conditions from what the
// reconcile observed. It only changes a condition's lastTransitionTime when
// its status changes.
func setClusterStatus(cluster *cephv1.CephCluster, o observed) {
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
		set(cephv1.ConditionReady, metav1.ConditionFalse, cephv1.ReasonDeleting, "The cluster is being deleted; disk data is kept unless cleanupPolicy confirms wiping")
		set(cephv1.ConditionProgressing, metav1.ConditionTrue, cephv1.ReasonDeleting, "Removing the objects the operator created")
		setDegraded(cluster, o.err)
		return
	}

	if o.configured {
		set(cephv1.ConditionConfigured, metav1.ConditionTrue, cephv1.ReasonReconciled, "Cluster identity Secret and ceph.conf ConfigMap exist")
	} else {
		set(cephv1.ConditionConfigured, metav1.ConditionFalse, cephv1.ReasonReconciling, "Creating the cluster identity and ceph.conf")
	}
	setDegraded(cluster, o.err)

	pending := notTrue(cluster, cephv1.ConditionConfigured, cephv1.ConditionDisksDiscovered, cephv1.ConditionOSDsProvisioned)
	switch {
	case o.err != nil:
		set(cephv1.ConditionReady, metav1.ConditionFalse, cephv1.ReasonReconcileError, o.err.Error())
		set(cephv1.ConditionProgressing, metav1.ConditionFalse, cephv1.ReasonReconcileError, "Blocked by an error; see the Degraded condition")
	case len(pending) > 0:
		msg := "Waiting for " + strings.Join(pending, ", ")
		set(cephv1.ConditionReady, metav1.ConditionFalse, cephv1.ReasonReconciling, msg)
		set(cephv1.ConditionProgressing, metav1.ConditionTrue, cephv1.ReasonReconciling, msg)
	default:
		set(cephv1.ConditionReady, metav1.ConditionTrue, cephv1.ReasonReconciled, "The cluster matches its spec")
		set(cephv1.ConditionProgressing, metav1.ConditionFalse, cephv1.ReasonReconciled, "Nothing left to do")
	}
	// observedGeneration says the status describes this spec; it is only
	// advanced when the reconcile succeeded.
	if o.err == nil {
		cluster.Status.ObservedGeneration = gen
	}
}

// setDegraded sets Degraded from the reconcile's error.
func setDegraded(cluster *cephv1.CephCluster, err error) {
	c := metav1.Condition{
		Type: cephv1.ConditionDegraded, Status: metav1.ConditionFalse,
		Reason: cephv1.ReasonAsExpected, Message: "No problem found", ObservedGeneration: cluster.Generation,
	}
	if err != nil {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, cephv1.ReasonReconcileError, conditionText(err)
	}
	meta.SetStatusCondition(&cluster.Status.Conditions, c)
}

// setDuplicateStatus marks cluster as ignored because owner already manages
// its namespace.
func setDuplicateStatus(cluster *cephv1.CephCluster, owner string) {
	msg := "CephCluster " + owner + " already manages this namespace; only one CephCluster per namespace is reconciled. Delete this one or move it to another namespace"
	for _, c := range []metav1.Condition{
		{Type: cephv1.ConditionReady, Status: metav1.ConditionFalse, Reason: cephv1.ReasonDuplicateCluster, Message: msg},
		{Type: cephv1.ConditionProgressing, Status: metav1.ConditionFalse, Reason: cephv1.ReasonDuplicateCluster, Message: msg},
		{Type: cephv1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: cephv1.ReasonDuplicateCluster, Message: msg},
	} {
		c.ObservedGeneration = cluster.Generation
		meta.SetStatusCondition(&cluster.Status.Conditions, c)
	}
	cluster.Status.ObservedGeneration = cluster.Generation
}

// oldestCluster returns the CephCluster that owns a namespace: the oldest one
// not being deleted, ties broken by name; nil when there is none.
func oldestCluster(items []cephv1.CephCluster) *cephv1.CephCluster {
	live := make([]*cephv1.CephCluster, 0, len(items))
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

// notTrue returns those of types that are present and not True. A condition
// another reconciler has not set yet does not hold Ready back.
func notTrue(cluster *cephv1.CephCluster, types ...string) []string {
	var out []string
	for _, t := range types {
		if c := meta.FindStatusCondition(cluster.Status.Conditions, t); c != nil && c.Status != metav1.ConditionTrue {
			out = append(out, t)
		}
	}
	return out
}

// isConditionTrue reports whether cluster has condition t set to True.
func isConditionTrue(cluster *cephv1.CephCluster, t string) bool {
	return meta.IsStatusConditionTrue(cluster.Status.Conditions, t)
}

// conditionMessage returns the message of condition t, or "".
func conditionMessage(cluster *cephv1.CephCluster, t string) string {
	if c := meta.FindStatusCondition(cluster.Status.Conditions, t); c != nil {
		return c.Message
	}
	return ""
}

// conditionText turns an error into a condition message, bounded in length
// as the API requires (32768 bytes).
func conditionText(err error) string {
	s := err.Error()
	if len(s) > 1024 {
		s = s[:1021] + "..."
	}
	return s
}

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/hostdir"
	"github.com/ceph-operator/ceph-operator/internal/agent/wipe"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// DefaultCleanupTimeout bounds a confirmed cleanup, counted from the
// deletion request: when it has passed, the finalizer is removed whatever
// is left, and an Event names the disks and nodes not cleaned.
const DefaultCleanupTimeout = 10 * time.Minute

// cleanupRecheck is how often a running cleanup is looked at again besides
// the watches (pods stopping, the deadline).
const cleanupRecheck = 5 * time.Second

// cleanupState is what a confirmed cleanup found, for the CleanupInProgress
// condition.
type cleanupState struct {
	// status, reason and message are the condition's.
	status          bool
	reason, message string
}

// cleanupTimeout is the bound of a confirmed cleanup.
func (r *CephClusterReconciler) cleanupTimeout() time.Duration {
	if r.CleanupTimeout > 0 {
		return r.CleanupTimeout
	}
	return DefaultCleanupTimeout
}

// cleanupNode is the work of one node: the disks its Job wipes, and its
// Job once created.
type cleanupNode struct {
	name    string
	targets []resources.WipeTarget
	job     *batchv1.Job
	// refused is why no Job could be built for the node.
	refused string
}

// cleanup runs the confirmed cleanup while the finalizer is held, in
// order: (1) the daemons go: every Deployment and every Job of the cluster
// other than its cleanup Jobs is deleted, and cleanup waits until none of
// their pods runs any more (the discovery agents stay: they only read the
// disks, and they show the wiped disks Available); (2) one cleanup Job per
// node that has a DiskInventory or a monitor (resources.CleanupJob): it
// wipes the disks whose verdict is an OSD whose label carries this
// cluster's FSID, each named with that FSID and OSD id, which agent wipe
// checks again on the node before it writes, and removes the cluster's
// host directory <dataDirHostPath>/<namespace>/<name>/<fsid>; (3) it
// reports progress in the CleanupInProgress condition and Events. It
// returns done when every Job finished, or when the cleanup timeout has
// passed since the deletion; the caller then deletes the rest and removes
// the finalizer. Disks of another cluster, blank and rejected disks are
// never named, and agent wipe refuses any disk whose label is not the
// named OSD's.
func (r *CephClusterReconciler) cleanup(ctx context.Context, s *clusterScope) (done bool, requeue time.Duration, err error) {
	cluster := s.cluster
	log := ctrl.LoggerFrom(ctx)
	fsid := strings.ToLower(cluster.Status.FSID)
	if !hostdir.ValidFSID(fsid) {
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, cephv1alpha1.ReasonCleanupCompleted, "Delete",
			"The cluster has no FSID (%q): it never created a monitor store or an OSD, nothing on the hosts or disks to clean up", cluster.Status.FSID)
		s.observed.cleanup = &cleanupState{reason: cephv1alpha1.ReasonCleanupCompleted, message: "Nothing to clean up: the cluster has no FSID"}
		return true, 0, nil
	}
	// The cache may still hold a cluster whose cleanup ended and whose
	// finalizer is gone: never start Jobs for it again.
	fresh := &cephv1alpha1.CephCluster{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cluster), fresh); apierrors.IsNotFound(err) || (err == nil && !controllerutil.ContainsFinalizer(fresh, CleanupFinalizer)) {
		s.observed.finalized = true
		return false, 0, nil
	} else if err != nil {
		return false, 0, fmt.Errorf("reading the CephCluster before its cleanup: %w", err)
	}
	if c := meta.FindStatusCondition(fresh.Status.Conditions, cephv1alpha1.ConditionCleanupInProgress); c != nil && c.Status == metav1.ConditionFalse {
		// Ended in an earlier reconcile, whose finalizer removal failed.
		s.observed.cleanup = &cleanupState{reason: c.Reason, message: c.Message}
		return true, 0, nil
	}
	now := r.Clock()
	deadline := cluster.DeletionTimestamp.Add(r.cleanupTimeout())

	// (1) Stop the daemons.
	running, err := r.stopDaemons(ctx, cluster)
	if err != nil {
		return false, 0, err
	}
	if len(running) > 0 {
		msg := fmt.Sprintf("Stopping the daemons before wiping: waiting for %d pods to end (%s)", len(running), strings.Join(firstN(running, 5), ", "))
		if !now.Before(deadline) {
			return r.cleanupTimedOut(ctx, s, nil, "the daemons' pods did not end: "+strings.Join(running, ", ")), 0, nil
		}
		if meta.FindStatusCondition(cluster.Status.Conditions, cephv1alpha1.ConditionCleanupInProgress) == nil {
			r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, cephv1alpha1.ReasonStoppingDaemons, "Delete",
				"cleanupPolicy confirms destroying the data: stopping the daemons, then wiping this cluster's OSD disks (FSID %s) and its monitor stores", fsid)
		}
		s.observed.cleanup = &cleanupState{status: true, reason: cephv1alpha1.ReasonStoppingDaemons, message: msg}
		return false, min(cleanupRecheck, deadline.Sub(now)+time.Second), nil
	}

	// (2) One cleanup Job per node.
	nodes, err := r.cleanupNodes(ctx, cluster, fsid)
	if err != nil {
		return false, 0, err
	}
	created := 0
	for _, n := range nodes {
		if n.job != nil {
			continue
		}
		if !now.Before(deadline) {
			continue
		}
		job, err := resources.CleanupJob(cluster, r.Images, fsid, n.name, n.targets)
		if err != nil {
			// Refused (bad input): nothing is written on this node, and
			// it does not hold the deletion.
			log.Error(err, "Not cleaning up node", "node", n.name)
			n.refused = err.Error()
			continue
		}
		if err := apply.SetOwner(cluster, job, r.Client.Scheme()); err != nil {
			return false, 0, err
		}
		if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, 0, fmt.Errorf("creating cleanup Job for node %s: %w", n.name, err)
		}
		log.Info("Created cleanup Job", "job", job.Name, "node", n.name, "disks", len(n.targets))
		n.job = job
		created++
	}
	if created > 0 {
		disks := 0
		for _, n := range nodes {
			disks += len(n.targets)
		}
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, cephv1alpha1.ReasonWipingDisks, "Delete",
			"Cleaning up %d nodes: wiping %d OSD disks of cluster %s and removing its host directories", len(nodes), disks, fsid)
	}

	// (3) Progress.
	var remaining []string
	finished, failed := 0, 0
	for _, n := range nodes {
		if n.refused != "" {
			finished++
			failed++
			remaining = append(remaining, fmt.Sprintf("node %s, not cleaned: %s", n.name, n.refused))
			continue
		}
		left, ok, err := r.cleanupLeft(ctx, n)
		if err != nil {
			return false, 0, err
		}
		if ok {
			finished++
			if len(left) > 0 {
				failed++
			}
		}
		remaining = append(remaining, left...)
	}
	if finished == len(nodes) {
		s.observed.cleanup = &cleanupState{reason: cephv1alpha1.ReasonCleanupCompleted}
		if failed == 0 {
			s.observed.cleanup.message = fmt.Sprintf("Wiped this cluster's OSD disks and removed its host directories on %d nodes", len(nodes))
			r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, cephv1alpha1.ReasonCleanupCompleted, "Delete",
				"Cleanup of cluster %s done on %d nodes: its OSD disks are blank and its host directories removed", fsid, len(nodes))
			return true, 0, nil
		}
		s.observed.cleanup.reason = cephv1alpha1.ReasonCleanupIncomplete
		s.observed.cleanup.message = truncateMessage("Not cleaned: " + strings.Join(remaining, "; "))
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, cephv1alpha1.ReasonCleanupIncomplete, "Delete",
			"%s", truncateMessage(fmt.Sprintf("Cleanup of cluster %s finished with %d nodes not fully cleaned; left as they are: %s", fsid, failed, strings.Join(remaining, "; "))))
		return true, 0, nil
	}
	if !now.Before(deadline) {
		return r.cleanupTimedOut(ctx, s, remaining, ""), 0, nil
	}
	s.observed.cleanup = &cleanupState{status: true, reason: cephv1alpha1.ReasonWipingDisks,
		message: truncateMessage(fmt.Sprintf("%d of %d nodes cleaned; remaining: %s", finished, len(nodes), strings.Join(remaining, "; ")))}
	return false, min(cleanupRecheck, deadline.Sub(now)+time.Second), nil
}

// cleanupTimedOut ends a cleanup whose time is up, naming what is left.
func (r *CephClusterReconciler) cleanupTimedOut(ctx context.Context, s *clusterScope, remaining []string, why string) bool {
	left := strings.Join(remaining, "; ")
	if why != "" {
		left = why + "; no disk was wiped and no host directory removed"
	}
	msg := truncateMessage(fmt.Sprintf("Cleanup of cluster %s did not finish within %s of the deletion; the finalizer is removed and these are left as they are: %s",
		s.cluster.Status.FSID, r.cleanupTimeout(), left))
	ctrl.LoggerFrom(ctx).Info("Cleanup timed out", "remaining", left)
	r.Recorder.Eventf(s.cluster, nil, corev1.EventTypeWarning, cephv1alpha1.ReasonCleanupTimedOut, "Delete", "%s", msg)
	s.observed.cleanup = &cleanupState{reason: cephv1alpha1.ReasonCleanupTimedOut, message: msg}
	return true
}

// stopDaemons deletes the cluster's Deployments and its Jobs other than the
// cleanup Jobs, and returns the pods of the cluster still running other
// than the discovery agents' and the cleanup Jobs'.
func (r *CephClusterReconciler) stopDaemons(ctx context.Context, cluster *cephv1alpha1.CephCluster) ([]string, error) {
	selector := client.MatchingLabels(resources.ClusterSelector(cluster))
	in := client.InNamespace(cluster.Namespace)
	var deployments appsv1.DeploymentList
	if err := r.Client.List(ctx, &deployments, in, selector); err != nil {
		return nil, fmt.Errorf("listing Deployments to stop: %w", err)
	}
	for i := range deployments.Items {
		d := &deployments.Items[i]
		if err := r.Client.Delete(ctx, d, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("deleting Deployment %s: %w", d.Name, err)
		}
		ctrl.LoggerFrom(ctx).Info("Stopped daemon for the cleanup", "deployment", klog.KObj(d))
	}
	var jobs batchv1.JobList
	if err := r.Client.List(ctx, &jobs, in, selector); err != nil {
		return nil, fmt.Errorf("listing Jobs to stop: %w", err)
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if j.Labels[resources.ComponentLabel] == resources.ComponentCleanup {
			continue
		}
		if err := r.Client.Delete(ctx, j, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("deleting Job %s: %w", j.Name, err)
		}
	}
	// From the API server: the cache holds only the monitors' pods.
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, in, selector); err != nil {
		return nil, fmt.Errorf("listing pods to wait for: %w", err)
	}
	var running []string
	for _, p := range pods.Items {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		case p.Labels[resources.ComponentLabel] == resources.ComponentCleanup || p.Labels[resources.ComponentLabel] == resources.ComponentDiscover:
		default:
			running = append(running, p.Name)
		}
	}
	sort.Strings(running)
	return running, nil
}

// cleanupNodes is the work of every node the cluster ran on: the nodes of
// its DiskInventories and of its monitors, each with the disks whose
// verdict is an OSD with this cluster's FSID, and its cleanup Job if one
// exists (its targets are then the Job's, fixed when it was created).
func (r *CephClusterReconciler) cleanupNodes(ctx context.Context, cluster *cephv1alpha1.CephCluster, fsid string) ([]*cleanupNode, error) {
	byName := map[string]*cleanupNode{}
	add := func(name string) *cleanupNode {
		if n := byName[name]; n != nil {
			return n
		}
		n := &cleanupNode{name: name}
		byName[name] = n
		return n
	}
	var invs cephv1alpha1.DiskInventoryList
	if err := r.Client.List(ctx, &invs, client.InNamespace(cluster.Namespace), client.MatchingLabels(resources.ClusterSelector(cluster))); err != nil {
		return nil, fmt.Errorf("listing DiskInventories to clean up: %w", err)
	}
	for _, inv := range invs.Items {
		node := inv.Spec.NodeName
		if node == "" {
			node = inv.Name
		}
		n := add(node)
		for _, d := range inv.Status.Disks {
			v := d.Verdict
			path := d.ID
			if path == "" {
				path = d.Path
			}
			if v.State == cephv1alpha1.DiskOSDPartitions {
				// A split disk: each partition holding an OSD is freed,
				// as its decommission with wipe frees it (agent wipe
				// checks the partition's label carries this FSID).
				for _, p := range d.Partitions {
					if p.Role != cephv1alpha1.PartitionData || p.OSDID == nil || *p.OSDID < 0 {
						continue
					}
					n.targets = append(n.targets, resources.WipeTarget{Path: path, ID: fmt.Sprintf("%s-part%d", path, p.Number), WWN: d.WWN, Serial: d.Serial, SizeBytes: d.SizeBytes,
						ExpectedOSD: &wipe.ExpectedOSD{FSID: fsid, OSDID: int(*p.OSDID)},
						Partition:   &wipe.Partition{DiskID: d.ID, Number: p.Number, PartUUID: p.PartUUID, StartBytes: p.StartBytes, SizeBytes: p.SizeBytes}})
				}
				continue
			}
			if v.State != cephv1alpha1.DiskOSD || v.OSDID == nil || *v.OSDID < 0 || !strings.EqualFold(v.ClusterFSID, fsid) {
				continue
			}
			n.targets = append(n.targets, resources.WipeTarget{Path: path, ID: d.ID, WWN: d.WWN, Serial: d.Serial, SizeBytes: d.SizeBytes,
				ExpectedOSD: &wipe.ExpectedOSD{FSID: fsid, OSDID: int(*v.OSDID)}})
		}
	}
	for _, m := range cluster.Status.Monitors {
		if m.Node != "" {
			add(m.Node)
		}
	}
	out := make([]*cleanupNode, 0, len(byName))
	for _, n := range byName {
		var job batchv1.Job
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CleanupJobName(cluster, n.name)}, &job)
		switch {
		case err == nil:
			n.job = &job
			var targets []resources.WipeTarget
			if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &targets); err == nil {
				n.targets = targets
			}
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading cleanup Job of node %s: %w", n.name, err)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// cleanupLeft says whether node n's Job finished and what it left: every
// disk and the host directory while it runs (or was never created); after
// a failure, the disks and directory its containers did not report done.
func (r *CephClusterReconciler) cleanupLeft(ctx context.Context, n *cleanupNode) ([]string, bool, error) {
	all := func() []string {
		var out []string
		for _, t := range n.targets {
			out = append(out, fmt.Sprintf("node %s disk %s (OSD %d)", n.name, t.Path, t.ExpectedOSD.OSDID))
		}
		return append(out, fmt.Sprintf("node %s host directory", n.name))
	}
	if n.job == nil {
		return all(), false, nil
	}
	state, _, _ := jobOutcome(n.job)
	complete, failed := state == osdplan.JobSucceeded, state == osdplan.JobFailed
	switch {
	case complete:
		return nil, true, nil
	case !failed:
		return all(), false, nil
	}
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, client.InNamespace(n.job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: n.job.Name}); err != nil {
		return nil, false, fmt.Errorf("listing pods of cleanup Job %s: %w", n.job.Name, err)
	}
	done := map[string]bool{}
	dirDone := false
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated == nil {
				continue
			}
			var results []resources.PrepareResult
			if json.Unmarshal([]byte(strings.TrimSpace(cs.State.Terminated.Message)), &results) != nil {
				continue
			}
			for _, res := range results {
				switch {
				case cs.Name == resources.WipeContainer && res.Outcome == wipe.OutcomeWiped:
					// A split disk's partitions share its path.
					done[res.Path+"\x00"+res.ID] = true
				case cs.Name == resources.HostDirContainer && (res.Outcome == hostdir.OutcomeRemoved || res.Outcome == hostdir.OutcomeAbsent):
					dirDone = true
				}
			}
		}
	}
	var left []string
	for _, t := range n.targets {
		key := t.Path + "\x00"
		if t.Partition != nil {
			key += t.ID
		}
		if !done[key] {
			left = append(left, fmt.Sprintf("node %s disk %s (OSD %d)", n.name, t.Path, t.ExpectedOSD.OSDID))
		}
	}
	if !dirDone {
		left = append(left, fmt.Sprintf("node %s host directory %s", n.name, n.job.Annotations[resources.HostDirAnnotation]))
	}
	if len(left) == 0 {
		// Failed, yet every part reports done: name the Job.
		left = []string{fmt.Sprintf("node %s (Job %s failed)", n.name, n.job.Name)}
	}
	return left, true, nil
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clip(s[:n]), fmt.Sprintf("%d more", len(s)-n))
}

package world

import (
	"context"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// Run calls Step every interval until ctx ends.
func (w *World) Run(ctx context.Context, interval time.Duration) {
	Every(ctx, interval, func() { w.Step(ctx) })
}

// Every calls fn every interval until ctx ends.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fn()
	}
}

// Step plays the world once: it finishes every prepare Job (unless paused),
// makes monitor and manager Deployments available, publishes status.ceph,
// and has every agent answer a pending rescan or a change of its image's
// Ceph version or user. Errors of the API server are left for the next
// step, as a real component would retry.
func (w *World) Step(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var jobs batchv1.JobList
	if err := w.client.List(ctx, &jobs, client.InNamespace(w.ns)); err == nil && !w.paused {
		for i := range jobs.Items {
			w.runJobLocked(ctx, &jobs.Items[i])
		}
	}
	w.runDaemonsLocked(ctx)
	if w.scale == nil {
		w.collectLocked(ctx)
	}
	w.reportLocked(ctx)
	var list cephv1alpha1.DiskInventoryList
	if err := w.client.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return
	}
	image, version := w.imageLocked(ctx)
	for i := range list.Items {
		inv := &list.Items[i]
		n, ok := w.nodes[inv.Name]
		if !ok {
			continue
		}
		if inv.Status.LastScanTime != nil && inv.Spec.RescanRequest <= inv.Status.ObservedRescanRequest &&
			inv.Status.CephVersion == version && inv.Status.CephImage == image && equality.Semantic.DeepEqual(inv.Status.CephUser, w.cephUser) {
			continue
		}
		// Every answer is a new scan, with a new scan time.
		n.scanned = metav1.Now()
		// Only the agent's fields: the rest of the status is the
		// operator's (the plan).
		st := w.statusLocked(n, inv.Spec.RescanRequest)
		inv.Status.Disks, inv.Status.Summary = st.Disks, st.Summary
		inv.Status.LastScanTime, inv.Status.ObservedRescanRequest = st.LastScanTime, st.ObservedRescanRequest
		inv.Status.LastReportTime = st.LastReportTime
		inv.Status.CephVersion, inv.Status.CephUser, inv.Status.AgentVersion = version, st.CephUser, st.AgentVersion
		inv.Status.CephImage = image
		if err := w.client.Status().Update(ctx, inv); err == nil {
			n.answered = inv.Spec.RescanRequest
		}
	}
}

// imageLocked is the image the namespace's CephCluster names and the Ceph
// version the agents report for it: the version SetImageVersion gave that
// image, or the one SetCephVersion set. w.mu is held.
func (w *World) imageLocked(ctx context.Context) (image, version string) {
	var clusters cephv1alpha1.CephClusterList
	if err := w.client.List(ctx, &clusters, client.InNamespace(w.ns)); err == nil && len(clusters.Items) > 0 {
		image = clusters.Items[0].Spec.Image
	}
	if v, ok := w.imageVersions[image]; ok {
		return image, v
	}
	return image, w.cephVersion
}

// runDaemonsLocked makes the monitor, manager and OSD Deployments
// available, as their pods would be on real nodes, or keeps monitors down
// (SetMonsDown) or OSDs as they are (HoldOSDs).
func (w *World) runDaemonsLocked(ctx context.Context) {
	// At scale, OSD pods are not played: twelve thousand status writes
	// would measure the World, not the operator.
	osdsRun := !w.osdsHeld && w.scale == nil
	var list appsv1.DeploymentList
	if err := w.client.List(ctx, &list, client.InNamespace(w.ns), daemonSelector(osdsRun)); err != nil {
		return
	}
	for i := range list.Items {
		w.runDaemon(ctx, &list.Items[i], w.monsDown, osdsRun)
	}
}

// daemonSelector selects monitor and manager Deployments, and OSD
// Deployments when osds is true (the scale mode has thousands of them).
func daemonSelector(osds bool) client.ListOption {
	components := []string{resources.ComponentMon, resources.ComponentMgr}
	if osds {
		components = append(components, resources.ComponentOSD)
	}
	req, err := labels.NewRequirement(resources.ComponentLabel, selection.In, components)
	if err != nil {
		panic(err)
	}
	return client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*req)}
}

// runDaemon makes one monitor, manager or OSD Deployment available on its
// latest template, as its pod would be on a real node (a monitor
// unavailable when monsDown; OSDs left as they are unless osdsRun).
func (w *World) runDaemon(ctx context.Context, d *appsv1.Deployment, monsDown, osdsRun bool) {
	c := d.Labels[resources.ComponentLabel]
	if (c == resources.ComponentMon || c == resources.ComponentMgr) && w.daemonsHeld {
		return
	}
	if c == resources.ComponentMon && monsDown {
		if d.Status.AvailableReplicas != 0 {
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UnavailableReplicas: 1}
			w.writes.Add(1)
			_ = w.client.Status().Update(ctx, d)
		}
		return
	}
	if c == resources.ComponentOSD && !osdsRun {
		return
	}
	if (c != resources.ComponentMon && c != resources.ComponentMgr && c != resources.ComponentOSD) ||
		(d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 1) {
		return
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}
	w.writes.Add(1)
	_ = w.client.Status().Update(ctx, d)
}

// reportLocked plays the health reporter: once a
// cluster has an FSID and a manager, it publishes a healthy status.ceph for
// it, with the OSDs SetNeverStarted names and the checks SetHealthChecks
// sets.
func (w *World) reportLocked(ctx context.Context) {
	var list cephv1alpha1.CephClusterList
	if err := w.client.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return
	}
	for i := range list.Items {
		c := &list.Items[i]
		if c.Status.FSID == "" || !meta.IsStatusConditionTrue(c.Status.Conditions, cephv1alpha1.ConditionManagerReady) ||
			(c.Status.Ceph != nil && c.Status.Ceph.FSID == c.Status.FSID && reflect.DeepEqual(c.Status.Ceph.NeverStartedOSDs, w.neverStarted) &&
				reflect.DeepEqual(c.Status.Ceph.Checks, w.checks) && (!w.quorumSet || reflect.DeepEqual(c.Status.Ceph.Monitors, w.monitors))) {
			continue
		}
		now := metav1.Now()
		health := cephv1alpha1.CephHealthOK
		if len(w.checks) > 0 {
			health = cephv1alpha1.CephHealthWarn
		}
		monitors := w.monitors
		if !w.quorumSet && c.Status.Ceph != nil {
			monitors = c.Status.Ceph.Monitors
		}
		report := &cephv1alpha1.CephCluster{
			ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace},
			Status: cephv1alpha1.CephClusterStatus{Ceph: &cephv1alpha1.CephStatus{
				Health: health, FSID: c.Status.FSID, LastChecked: &now, NeverStartedOSDs: w.neverStarted, Checks: w.checks, Monitors: monitors,
			}},
		}
		w.writes.Add(1)
		_ = apply.Status(ctx, w.client, report, apply.Reporter)
	}
}

// Start returns a World for namespace ns that plays Step every 50 ms until
// the test ends.
func Start(t testing.TB, c client.Client, ns string) *World {
	w := New(c, ns)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		w.Run(ctx, 50*time.Millisecond)
	}()
	return w
}

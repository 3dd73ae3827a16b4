package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// +kubebuilder:rbac:groups=apps,namespace=ceph-operator-system,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",namespace=ceph-operator-system,resources=pods,verbs=get;list;watch

// monState is what the monitor phases found.
type monState struct {
	// mons is the recorded placement; nil until it is decided.
	mons []monplan.Mon
	// waiting says why the monitors cannot be placed yet ("" when placed).
	waiting string
	// countChanged is set when spec.mon.count differs from the placement.
	countChanged string
	// ready is, per monitor name, whether its Deployment has an available
	// pod.
	ready map[string]bool
	// mgrReady is whether the manager Deployment has an available pod.
	mgrReady bool
	// blocked says why the daemons were not reconciled ("" when they
	// were), blockedReason is the reason for the conditions.
	blocked, blockedReason string
	// bootstrapped is true once the bootstrap record exists for this
	// FSID: from then on no monitor store is created from scratch.
	bootstrapped bool
	// storeMissing is, per monitor name, why its store is missing and not
	// re-created (from its init container's termination message).
	storeMissing map[string]string
	// fsid and dirs name the cluster and each monitor's host path, for
	// the messages.
	fsid string
	dirs map[string]string
	// rolling says how far a change of the monitors' or manager's pod
	// template has got ("" when every one runs its current template).
	rolling string
	// retired are the monitors replaced so far (never used again);
	// record is the placement record that supersedes the bootstrap's
	// (nil before any replacement).
	retired []string
	record  *corev1.ConfigMap
	// failover says why a monitor that is down is not replaced (yet), or
	// that one is being replaced; recheck is when that may change with
	// time alone.
	failover string
	recheck  time.Duration
}

// reconcileMonPlacement reads the monitors' recorded placement or, on first
// bootstrap, decides it from the ready nodes and records it in an immutable
// ConfigMap. It runs before the config phase: ceph.conf's mon_host comes from
// the placement.
func (r *CephClusterReconciler) reconcileMonPlacement(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	// Once a monitor was replaced, the placement record that supersedes
	// the bootstrap's is read from the API server itself: a cache behind
	// the last replacement would bring the replaced monitor back.
	placed := &corev1.ConfigMap{}
	placedKey := client.ObjectKey{Namespace: cluster.Namespace, Name: resources.MonPlacementName(cluster)}
	switch err := r.APIReader.Get(ctx, placedKey, placed); {
	case err == nil:
		mons, err := r.readPlacement(ctx, cluster, placed)
		if err != nil {
			return err
		}
		s.observed.mon.mons, s.observed.mon.record = mons, placed
		if v := placed.Data[resources.ConfigMapKeyRetired]; v != "" {
			s.observed.mon.retired = strings.Split(v, ",")
		}
		checkMonCount(s)
		return r.monFailover(ctx, s)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading ConfigMap %s: %w", placedKey, err)
	}
	key := client.ObjectKey{Namespace: cluster.Namespace, Name: resources.MonEndpointsName(cluster)}
	cm := &corev1.ConfigMap{}
	// The cache may lag behind a create of the previous reconcile:
	// deciding again could record a different placement.
	err := r.getConfirmingAbsence(ctx, key, cm)
	switch {
	case err == nil:
		mons, err := r.readPlacement(ctx, cluster, cm)
		if err != nil {
			return err
		}
		s.observed.mon.mons = mons
		checkMonCount(s)
		return r.monFailover(ctx, s)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading ConfigMap %s: %w", key, err)
	}

	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing Nodes: %w", err)
	}
	mons, err := monplan.Place(&cluster.Spec, nodes.Items)
	var notEnough *monplan.NotEnoughNodesError
	if errors.As(err, &notEnough) {
		// Not an error: a Node event wakes the reconcile when one joins
		// or becomes ready.
		s.observed.mon.waiting = err.Error()
		return nil
	}
	if err != nil {
		return err
	}
	placement, err := monplan.Encode(mons)
	if err != nil {
		return err
	}
	// No owner reference: the placement is kept with the identity when
	// the CephCluster is deleted with the default cleanup policy.
	desired := resources.MonEndpoints(cluster, placement)
	desired.Annotations = map[string]string{resources.ClusterUIDAnnotation: string(cluster.UID)}
	if err := r.Client.Create(ctx, desired); err != nil {
		return fmt.Errorf("recording the monitor placement in ConfigMap %s: %w", desired.Name, err)
	}
	names := make([]string, 0, len(mons))
	for _, m := range mons {
		names = append(names, fmt.Sprintf("%s on %s at %s", m.Name, m.Node, m.AddrVec()))
	}
	ctrl.LoggerFrom(ctx).Info("Placed monitors", "monitors", names)
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "MonitorsPlaced", "Bootstrap",
		"Placed %d monitor(s): %s", len(mons), strings.Join(names, "; "))
	s.observed.mon.mons = mons
	return nil
}

// readPlacement checks and decodes a placement record and keeps it with
// the cluster: the placement outlives the CephCluster (default cleanup
// policy), as the monitors' addresses are in their stores' map.
func (r *CephClusterReconciler) readPlacement(ctx context.Context, cluster *cephv1alpha1.CephCluster, cm *corev1.ConfigMap) ([]monplan.Mon, error) {
	if err := checkClusterObject(cluster, "ConfigMap", cm); err != nil {
		return nil, err
	}
	mons, err := monplan.Decode(cm.Data[resources.ConfigMapKeyMons])
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
	}
	if _, err := r.adopt(ctx, cluster, cm); err != nil {
		return nil, err
	}
	return mons, nil
}

// checkMonCount notes a spec.mon.count that differs from the placement.
func checkMonCount(s *clusterScope) {
	mons := s.observed.mon.mons
	if want := int(s.cluster.Spec.Mon.Count); want != 0 && want != len(mons) {
		s.observed.mon.countChanged = fmt.Sprintf("spec.mon.count is %d but the cluster was bootstrapped with %d monitor(s); "+
			"changing the number of monitors is not supported yet, the existing monitors keep running", want, len(mons))
	}
}

// monFailover replaces a monitor whose node is gone or NotReady for longer
// than spec.mon.failoverTimeout, as monplan.Failover decides, once the
// cluster's bootstrap is recorded: it writes the new placement (the
// replacement in the failed monitor's place, the failed one retired) to
// the placement record, with the record's resourceVersion as a
// precondition, so two reconciles never decide two replacements. The
// failed monitor's Deployment goes with the next daemons phase; the
// replacement's init container removes it from the monitor map before it
// joins.
func (r *CephClusterReconciler) monFailover(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	st := &s.observed.mon
	boot := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: resources.MonBootstrapName(cluster)}, boot); err != nil {
		// Not bootstrapped (or not in the cache yet): nothing to fail over.
		return client.IgnoreNotFound(err)
	}
	if boot.Data[resources.BootstrapKeyFSID] != s.observed.fsid {
		return nil
	}
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing Nodes: %w", err)
	}
	in := monplan.FailoverInput{Spec: &cluster.Spec, Mons: st.mons, Retired: st.retired, Nodes: nodes.Items,
		Now: s.observed.now, Timeout: monplan.DefaultFailoverTimeout}
	if t := cluster.Spec.Mon.FailoverTimeout; t != nil {
		in.Timeout = t.Duration
	}
	if cs := cluster.Status.Ceph; cs != nil && cs.LastChecked != nil && cs.FSID == s.observed.fsid &&
		s.observed.now.Sub(cs.LastChecked.Time) <= ceph.DefaultStatusMaxAge {
		in.StatusKnown, in.Quorum, in.MapSize = true, cs.Monitors.Quorum, int(cs.Monitors.Total)
	}
	d := monplan.Failover(in)
	st.failover, st.recheck = d.Waiting, d.Recheck
	if d.Failed == nil {
		if st.failover == "" {
			st.failover = joining(st.mons, in.Quorum)
		}
		return nil
	}
	placement, err := monplan.Encode(d.Mons)
	if err != nil {
		return err
	}
	desired := resources.MonPlacement(cluster, placement, d.Retired)
	desired.Annotations = map[string]string{resources.ClusterUIDAnnotation: string(cluster.UID)}
	if st.record == nil {
		err = r.Client.Create(ctx, desired)
	} else {
		rec := st.record.DeepCopy()
		rec.Data = desired.Data
		// The resourceVersion read is the precondition: a record
		// changed since is not overwritten.
		err = r.Client.Update(ctx, rec)
		desired = rec
	}
	if err != nil {
		return fmt.Errorf("recording the replacement of monitor %s by %s in ConfigMap %s: %w", d.Failed.Name, d.Replacement.Name, resources.MonPlacementName(cluster), err)
	}
	msg := fmt.Sprintf("Monitor %s: %s; replacing it with monitor %s on node %s at %s, which removes %s from the monitor map and joins the quorum",
		d.Failed.Name, d.Why, d.Replacement.Name, d.Replacement.Node, d.Replacement.AddrVec(), d.Failed.Name)
	ctrl.LoggerFrom(ctx).Info("Replacing a monitor", "failed", d.Failed.Name, "node", d.Failed.Node, "replacement", d.Replacement.Name, "on", d.Replacement.Node)
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, cephv1alpha1.ReasonMonitorFailover, "Failover", "%s", msg)
	st.mons, st.retired, st.record, st.failover = d.Mons, d.Retired, desired, msg
	return nil
}

// joining says which monitor added as a replacement has not joined the
// quorum yet ("" when none, or when the quorum is not known).
func joining(mons []monplan.Mon, quorum []string) string {
	for _, m := range mons {
		if m.Replaces != "" && quorum != nil && !slices.Contains(quorum, m.Name) {
			return fmt.Sprintf("monitor %s on node %s replaces monitor %s and has not joined the quorum yet", m.Name, m.Node, m.Replaces)
		}
	}
	return ""
}

// deleteRetiredMons deletes the Deployments of monitors that were
// replaced. Only a retired name's Deployment goes: one merely missing from
// the placement read (which cannot lag, see reconcileMonPlacement) stays.
func (r *CephClusterReconciler) deleteRetiredMons(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	for _, name := range s.observed.mon.retired {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: resources.MonName(cluster, name)}}
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(d), d); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("reading Deployment %s: %w", d.Name, err)
		}
		if err := r.Client.Delete(ctx, d, client.Preconditions{UID: &d.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting Deployment %s of replaced monitor %s: %w", d.Name, name, err)
		}
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "MonitorRemoved", "Delete",
			"Deleted Deployment %s of monitor %s, which was replaced", d.Name, name)
	}
	return nil
}

// reconcileDaemons runs the monitors and the manager once the placement is
// known: one Deployment per monitor, the manager Deployment, and the health
// reporter's Deployment and RBAC.
func (r *CephClusterReconciler) reconcileDaemons(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	mons := s.observed.mon.mons
	s.observed.version = checkCephVersion(cluster.Spec.Image, cluster.Status.DaemonImage, s.observed.inventories, s.observed.notReady)
	if len(mons) == 0 {
		return nil
	}
	if s.observed.version.status != metav1.ConditionTrue {
		// Nothing is started, or rolled to, an image whose Ceph release is
		// unknown or too old.
		s.observed.mon.blocked = s.observed.version.message
		s.observed.mon.blockedReason = s.observed.version.reason
		return nil
	}
	keys, err := r.reconcileCephx(ctx, s)
	if err != nil {
		return err
	}
	// The reporter is not a Ceph daemon: it runs the operator's binary,
	// follows the operator's image and is applied outside the daemons'
	// one-at-a-time rollout.
	objs := []client.Object{
		resources.ReporterServiceAccount(cluster),
		resources.ReporterRole(cluster),
		resources.ReporterRoleBinding(cluster),
		resources.MonPodDisruptionBudget(cluster),
		resources.ReporterDeployment(cluster, r.Images, keys, reporterUser(s.observed.inventories)),
	}
	for _, obj := range objs {
		if _, err := apply.Owned(ctx, r.Client, cluster, obj); err != nil {
			return err
		}
	}
	if err := r.deleteRetiredMons(ctx, s); err != nil {
		return err
	}
	daemons := make([]*appsv1.Deployment, 0, len(mons)+1)
	for i := range mons {
		daemons = append(daemons, resources.MonDeployment(cluster, r.Images, keys, s.observed.fsid, mons, i))
	}
	daemons = append(daemons, resources.MgrDeployment(cluster, r.Images, keys))
	rolling, err := r.rollDaemons(ctx, cluster, daemons)
	if err != nil {
		return err
	}
	s.observed.mon.rolling = rolling
	if err := r.reconcileCephxMigration(ctx, s); err != nil {
		return err
	}

	s.observed.mon.ready = map[string]bool{}
	for _, m := range mons {
		ok, err := r.deploymentAvailable(ctx, cluster.Namespace, resources.MonName(cluster, m.Name))
		if err != nil {
			return err
		}
		s.observed.mon.ready[m.Name] = ok
	}
	ok, err := r.deploymentAvailable(ctx, cluster.Namespace, resources.MgrName(cluster))
	if err != nil {
		return err
	}
	s.observed.mon.mgrReady = ok
	return r.reconcileBootstrap(ctx, s)
}

// rollDaemons creates the monitor and manager Deployments that do not exist
// and rolls a change of their pod template out one Deployment at a time,
// monitors first, then the manager: the next outdated one is updated only
// when every one of them is available on its latest template and, once the
// reporter has published it, every monitor is in quorum. It returns what
// the rollout is doing or waiting for, "" when nothing is outdated.
func (r *CephClusterReconciler) rollDaemons(ctx context.Context, cluster *cephv1alpha1.CephCluster, daemons []*appsv1.Deployment) (string, error) {
	var outdated []*appsv1.Deployment
	var unsettled []string
	for _, d := range daemons {
		cur := &appsv1.Deployment{}
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(d), cur)
		if apierrors.IsNotFound(err) {
			if _, err := apply.Owned(ctx, r.Client, cluster, d); err != nil {
				return "", err
			}
			unsettled = append(unsettled, d.Name)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading Deployment %s: %w", d.Name, err)
		}
		want, err := apply.Hash(d)
		if err != nil {
			return "", err
		}
		if cur.Annotations[apply.HashAnnotation] != want {
			outdated = append(outdated, d)
		}
		if !deploymentSettled(cur) {
			unsettled = append(unsettled, d.Name)
		}
	}
	if len(outdated) == 0 {
		return "", nil
	}
	progress := fmt.Sprintf("%d of %d monitor and manager Deployments updated", len(daemons)-len(outdated), len(daemons))
	if len(unsettled) > 0 {
		return fmt.Sprintf("%s; waiting for %v to be available on its latest template", progress, unsettled), nil
	}
	if m := cluster.Status.Ceph; m != nil && m.Monitors.Total > 0 && m.Monitors.InQuorum < m.Monitors.Total {
		return fmt.Sprintf("%s; waiting for all %d monitors to be in quorum (%d are)", progress, m.Monitors.Total, m.Monitors.InQuorum), nil
	}
	next := outdated[0]
	if _, err := apply.Owned(ctx, r.Client, cluster, next); err != nil {
		return "", err
	}
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "DaemonUpdating", "RollingUpdate",
		"Updating %s (%s); the next waits until it is available", next.Name, progress)
	return fmt.Sprintf("%s; updating %s", progress, next.Name), nil
}

// deploymentSettled reports whether the Deployment controller acted on d's
// latest spec and all its replicas are updated and available.
func deploymentSettled(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

// reconcileBootstrap records the cluster's bootstrap once a majority of its
// monitors ran with their stores, and after it looks for monitors that lost
// their stores.
//
// A majority of monitors running means they formed (or are forming) the
// quorum that holds the cluster's maps: from then on a monitor without a
// store may only rejoin it, never start a cluster anew. The record is made
// before MonitorsReady can be True, so no OSD is ever prepared, and no data
// written, before it exists.
func (r *CephClusterReconciler) reconcileBootstrap(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	st := &s.observed.mon
	st.fsid = s.observed.fsid
	st.dirs = map[string]string{}
	for _, m := range st.mons {
		st.dirs[m.Name] = resources.MonDataDir(cluster, s.observed.fsid, m.Name)
	}
	key := client.ObjectKey{Namespace: cluster.Namespace, Name: resources.MonBootstrapName(cluster)}
	rec := &corev1.ConfigMap{}
	// A record the cache has not seen yet must not be written twice.
	err := r.getConfirmingAbsence(ctx, key, rec)
	switch {
	case apierrors.IsNotFound(err):
		rec = nil
	case err != nil:
		return fmt.Errorf("reading ConfigMap %s: %w", key, err)
	default:
		if err := checkClusterObject(cluster, "ConfigMap", rec); err != nil {
			return err
		}
	}

	if rec != nil && rec.Data[resources.BootstrapKeyFSID] == s.observed.fsid {
		st.bootstrapped = true
		if _, err := r.adopt(ctx, cluster, rec); err != nil {
			return err
		}
		return r.findMissingStores(ctx, s)
	}

	var running []string
	for _, m := range st.mons {
		if st.ready[m.Name] {
			running = append(running, m.Name)
		}
	}
	if len(running) <= len(st.mons)/2 {
		return nil
	}
	if rec != nil {
		// The record of a former cluster of this name, whose identity was
		// replaced: it does not apply to this FSID.
		if err := r.Client.Delete(ctx, rec, client.Preconditions{UID: &rec.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("replacing the bootstrap record %s of FSID %s: %w", key.Name, rec.Data[resources.BootstrapKeyFSID], err)
		}
	}
	when := r.Clock().UTC().Format(time.RFC3339)
	desired := resources.MonBootstrap(cluster, s.observed.fsid, when, strings.Join(running, ","))
	desired.Annotations = map[string]string{resources.ClusterUIDAnnotation: string(cluster.UID)}
	if err := r.Client.Create(ctx, desired); err != nil {
		return fmt.Errorf("recording the cluster's bootstrap in ConfigMap %s: %w", desired.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Recorded the cluster's bootstrap", "configmap", desired.Name, "fsid", s.observed.fsid, "monitors", running)
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "Bootstrapped", "Bootstrap",
		"Monitors %s run with their stores (FSID %s); from now on a monitor that loses its store may only rejoin the quorum",
		strings.Join(running, ", "), s.observed.fsid)
	st.bootstrapped = true
	return nil
}

// findMissingStores reads the termination messages of the init containers
// of monitors that are not available: one that refused to create a store
// after bootstrap says so (resources.MonStoreMissingPrefix).
func (r *CephClusterReconciler) findMissingStores(ctx context.Context, s *clusterScope) error {
	st := &s.observed.mon
	allReady := true
	for _, m := range st.mons {
		allReady = allReady && st.ready[m.Name]
	}
	if allReady {
		return nil
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(s.cluster.Namespace), client.MatchingLabels{
		resources.ClusterLabel: s.cluster.Name, resources.ComponentLabel: resources.ComponentMon,
	}); err != nil {
		return fmt.Errorf("listing the monitors' pods: %w", err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		name := pod.Labels[resources.MonNameLabel]
		if st.ready[name] {
			continue
		}
		if msg := storeMissingMessage(pod); msg != "" {
			if st.storeMissing == nil {
				st.storeMissing = map[string]string{}
			}
			st.storeMissing[name] = msg
		}
	}
	return nil
}

// storeMissingMessage returns the MonitorStoreMissing termination message of
// pod's monitor init container, from its current or its last run.
func storeMissingMessage(pod *corev1.Pod) string {
	for _, cs := range pod.Status.InitContainerStatuses {
		if cs.Name != resources.MonInitContainer {
			continue
		}
		for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if t != nil && t.ExitCode == resources.MonStoreMissingExitCode && strings.HasPrefix(t.Message, resources.MonStoreMissingPrefix) {
				return t.Message
			}
		}
	}
	return ""
}

// monPodToCluster maps a monitor pod to its CephCluster, so that a monitor
// whose init container refuses to create a store is reported at once.
func monPodToCluster(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[resources.ComponentLabel] != resources.ComponentMon || l[resources.ClusterLabel] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: l[resources.ClusterLabel]}}}
}

// storeMissingText is the MonitorStoreMissing message: per monitor, where
// its store was, why it is not re-created, and how to recover.
func storeMissingText(st monState) string {
	names := make([]string, 0, len(st.storeMissing))
	for n := range st.storeMissing {
		names = append(names, n)
	}
	sort.Strings(names)
	var where []string
	node := map[string]string{}
	for _, m := range st.mons {
		node[m.Name] = m.Node
	}
	for _, n := range names {
		where = append(where, fmt.Sprintf("monitor %s on node %s (%s)", n, node[n], st.dirs[n]))
	}
	msg := fmt.Sprintf("The store of %s is missing after the cluster (FSID %s) was bootstrapped, and no quorum of the other monitors "+
		"could give it the cluster's maps, so it is not created again: a new store would be an empty cluster under the same FSID "+
		"that knows none of its OSDs. Recover by restoring the store directory from a backup, or by rebuilding the monitor store "+
		"from the OSDs (Ceph's procedure 'recovery using OSDs', ceph-objectstore-tool --op update-mon-db), then delete the monitor's pod. "+
		"The init container said: %s", strings.Join(where, ", "), st.fsid, st.storeMissing[names[0]])
	if len(msg) > 4000 {
		msg = msg[:3997] + "..."
	}
	return msg
}

// deploymentAvailable reports whether Deployment name has an available pod
// of its current spec. A Deployment the cache has not seen yet is not.
func (r *CephClusterReconciler) deploymentAvailable(ctx context.Context, ns, name string) (bool, error) {
	d := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading Deployment %s: %w", name, err)
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas > 0, nil
}

// daemonDeployment lets through events of the monitor and manager
// Deployments only: the OSD reconciler handles the (many) OSD Deployments.
func daemonDeployment() predicate.Funcs {
	isDaemon := func(o client.Object) bool {
		c := o.GetLabels()[resources.ComponentLabel]
		return c == resources.ComponentMon || c == resources.ComponentMgr
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return isDaemon(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return isDaemon(e.ObjectNew) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return isDaemon(e.Object) },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// setMonitorsStatus sets the MonitorsReady and ManagerReady conditions and
// status.monitors.
func setMonitorsStatus(cluster *cephv1alpha1.CephCluster, st monState, set func(t string, status metav1.ConditionStatus, reason, msg string)) {
	cluster.Status.Monitors = nil
	switch {
	case st.waiting != "":
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1alpha1.ReasonNotEnoughNodes, st.waiting)
		set(cephv1alpha1.ConditionManagerReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling, "Waiting for the monitors to be placed")
		return
	case st.blocked != "":
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionFalse, st.blockedReason, st.blocked)
		set(cephv1alpha1.ConditionManagerReady, metav1.ConditionFalse, st.blockedReason, st.blocked)
		return
	case len(st.mons) == 0:
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling, "Placing the monitors")
		set(cephv1alpha1.ConditionManagerReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling, "Waiting for the monitors to be placed")
		return
	}
	// MonitorStoreMissing is there while a store is missing, and only
	// then.
	if len(st.storeMissing) > 0 {
		set(cephv1alpha1.ConditionMonitorStoreMissing, metav1.ConditionTrue, cephv1alpha1.ReasonMonitorStoreMissing, storeMissingText(st))
	} else {
		meta.RemoveStatusCondition(&cluster.Status.Conditions, cephv1alpha1.ConditionMonitorStoreMissing)
	}
	var notReady []string
	for _, m := range st.mons {
		ready := st.ready[m.Name]
		cluster.Status.Monitors = append(cluster.Status.Monitors, cephv1alpha1.MonitorStatus{
			Name: m.Name, Node: m.Node, Address: m.AddrVec(), Ready: ready, Replaces: m.Replaces,
		})
		if !ready {
			notReady = append(notReady, "monitor "+m.Name+" (node "+m.Node+")")
		}
	}
	switch {
	case len(st.storeMissing) > 0:
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1alpha1.ReasonMonitorStoreMissing, storeMissingText(st))
	case st.countChanged != "":
		set(cephv1alpha1.ConditionMonitorsReady, boolCondition(len(notReady) == 0), cephv1alpha1.ReasonMonitorCountChanged, st.countChanged)
	case st.failover != "":
		// A monitor is down and waits to be replaced, or its replacement
		// has not joined the quorum yet.
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1alpha1.ReasonMonitorFailover, st.failover)
	case len(notReady) > 0:
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling,
			"Waiting for an available pod of "+strings.Join(notReady, ", "))
	case !st.bootstrapped:
		// Not before the record: no OSD may be prepared until then.
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling, "Recording the cluster's bootstrap")
	default:
		set(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionTrue, cephv1alpha1.ReasonReconciled,
			fmt.Sprintf("%d monitor(s) available", len(st.mons)))
	}
	if st.mgrReady {
		set(cephv1alpha1.ConditionManagerReady, metav1.ConditionTrue, cephv1alpha1.ReasonReconciled, "The manager and the health reporter are available")
	} else {
		set(cephv1alpha1.ConditionManagerReady, metav1.ConditionFalse, cephv1alpha1.ReasonReconciling, "Waiting for an available pod of the manager")
	}
}

// boolCondition turns b into a condition status.
func boolCondition(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

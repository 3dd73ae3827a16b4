// Package controllers holds the operator's reconcilers. Each has one concern:
// it gathers state, calls pure code to decide, and applies the result.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/imagepolicy"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// CleanupFinalizer keeps a CephCluster until the operator has removed what it
// created for it (and, only when confirmed, wiped its disks).
const CleanupFinalizer = "ceph.cephoperator.io/cleanup"

// CephClusterReconciler owns the CephCluster's finalizer, its identity and
// configuration, and the summary in its status.
type CephClusterReconciler struct {
	// Client reads through the informer cache and writes to the API server.
	Client client.Client
	// APIReader reads straight from the API server; used where a stale
	// cache could lead to a wrong decision (the identity Secret).
	APIReader client.Reader
	// Recorder emits events on transitions.
	Recorder events.EventRecorder
	// Clock stamps generated keys; tests may fix it.
	Clock func() time.Time
	// CleanupTimeout bounds a confirmed cleanup (DefaultCleanupTimeout
	// when 0); tests shorten it.
	CleanupTimeout time.Duration
	// Random is the source of FSIDs and keys (crypto/rand when nil).
	Random io.Reader
	// Images are the operator's own images for node pods.
	Images resources.Images
	// ImagePolicy says which spec.image a cluster may run; the zero
	// policy allows every image.
	ImagePolicy imagepolicy.Policy

	// podChecks remembers whether the node pods were admitted.
	podChecks podChecks
}

// +kubebuilder:rbac:groups=ceph.cephoperator.io,namespace=ceph-operator-system,resources=cephclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=ceph.cephoperator.io,namespace=ceph-operator-system,resources=cephclusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=ceph.cephoperator.io,namespace=ceph-operator-system,resources=cephclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups="",namespace=ceph-operator-system,resources=secrets;configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,namespace=ceph-operator-system,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=policy,namespace=ceph-operator-system,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the reconciler and its watches.
func (r *CephClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.APIReader == nil || r.Recorder == nil || r.Images.Operator == "" {
		return errors.New("CephClusterReconciler needs Client, APIReader, Recorder and Images.Operator")
	}
	if r.Clock == nil {
		r.Clock = time.Now
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("cephcluster").
		For(&cephv1alpha1.CephCluster{})
	for _, kind := range ownedKinds() {
		if !kind.watchedByCluster {
			continue
		}
		t := kind.object
		if _, ok := t.(*cephv1alpha1.DiskInventory); ok {
			// Only the agent's findings change the summary; the
			// operator's own plan writes do not.
			b = b.Owns(t, builder.WithPredicates(inventoryFindingsChanged()))
			continue
		}
		if _, ok := t.(*appsv1.Deployment); ok {
			b = b.Owns(t, builder.WithPredicates(daemonDeployment()))
			continue
		}
		b = b.Owns(t)
	}
	return b.
		// Nodes joining, leaving or changing labels and taints change the
		// storage selection of every cluster; status heartbeats do not.
		// A monitor whose init container refuses to create a store is
		// reported from its pod's termination message.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(monPodToCluster)).
		// The Jobs of the cephx migration; the OSD reconciler watches
		// the others.
		Watches(&batchv1.Job{}, handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &cephv1alpha1.CephCluster{}, handler.OnlyControllerOwner()),
			builder.WithPredicates(cephxJobOnly())).
		// The kept state has no owner reference (see KeptState).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(keptStateToCluster)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(keptStateToCluster)).
		Watches(&corev1.Node{},
			handler.EnqueueRequestsFromMapFunc(r.allClusters),
			builder.WithPredicates(nodeSelectionOrReadyChanged())).
		// When a cluster goes away, a duplicate in its namespace may now be
		// the one to reconcile.
		Watches(&cephv1alpha1.CephCluster{},
			handler.EnqueueRequestsFromMapFunc(r.siblings),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return false },
				UpdateFunc:  func(e event.UpdateEvent) bool { return !e.ObjectNew.GetDeletionTimestamp().IsZero() },
				DeleteFunc:  func(event.DeleteEvent) bool { return true },
				GenericFunc: func(event.GenericEvent) bool { return false },
			})).
		Complete(r)
}

// siblings maps a CephCluster to the other CephClusters of its namespace.
// When the List fails, every known cluster of the namespace is requeued
// instead: an event must not be lost to a transient error.
func (r *CephClusterReconciler) siblings(ctx context.Context, obj client.Object) []reconcile.Request {
	var list cephv1alpha1.CephClusterList
	var reqs []reconcile.Request
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		reqs = knownClusters.requests(obj.GetNamespace())
		ctrl.LoggerFrom(ctx).Error(err, "Listing CephClusters to requeue siblings failed; requeueing every known cluster of the namespace instead", "clusters", len(reqs))
	} else {
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	out := reqs[:0]
	for _, req := range reqs {
		if req.Name != obj.GetName() {
			out = append(out, req)
		}
	}
	return out
}

// allClusters maps any object to every CephCluster the operator watches.
func (r *CephClusterReconciler) allClusters(ctx context.Context, _ client.Object) []reconcile.Request {
	return listClusterRequests(ctx, r.Client)
}

// inventoryFindingsChanged lets through DiskInventory events that change
// what the agent found (or the object's existence), not plan updates.
func inventoryFindingsChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okOld := e.ObjectOld.(*cephv1alpha1.DiskInventory)
			n, okNew := e.ObjectNew.(*cephv1alpha1.DiskInventory)
			if !okOld || !okNew {
				return true
			}
			return !o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
				!equality.Semantic.DeepEqual(o.Status.LastScanTime, n.Status.LastScanTime) ||
				o.Status.CephVersion != n.Status.CephVersion ||
				!equality.Semantic.DeepEqual(o.Status.CephUser, n.Status.CephUser) ||
				!sameDiskFindings(o.Status.Disks, n.Status.Disks)
		},
	}
}

// sameDiskFindings compares two inventories' disks, leaving out the drive
// health readings that drift on a healthy drive (DiskHealth.Findings): the
// agent refreshes them with its periodic report, and nothing the cluster
// reconciler computes depends on them.
func sameDiskFindings(a, b []cephv1alpha1.Disk) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Health, y.Health = x.Health.Findings(), y.Health.Findings()
		if !equality.Semantic.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// clusterScope is what one reconcile of one CephCluster works with.
type clusterScope struct {
	cluster  *cephv1alpha1.CephCluster
	observed observed
}

// Reconcile brings one CephCluster towards its spec. It never waits: every
// dependency it needs is watched.
func (r *CephClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)

	cluster := &cephv1alpha1.CephCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			r.podChecks.forget(req.NamespacedName)
			knownClusters.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Remembered before anything is read, so that a watch event whose
	// mapping cannot list the clusters still requeues this one.
	knownClusters.remember(req.NamespacedName)

	// A second CephCluster in a namespace is reported and otherwise left
	// alone: no finalizer, no objects. Deletion of a cluster that somehow
	// holds the finalizer still runs its cleanup below.
	owner, err := r.namespaceOwner(ctx, cluster.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	if owner != nil && owner.Name != cluster.Name && !controllerutil.ContainsFinalizer(cluster, CleanupFinalizer) {
		return ctrl.Result{}, r.reportDuplicate(ctx, cluster, owner.Name)
	}

	if cluster.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(cluster, CleanupFinalizer) {
		// A patch of the finalizers alone: an Update would also write back
		// the whole spec as this binary's types see it.
		base := cluster.DeepCopy()
		controllerutil.AddFinalizer(cluster, CleanupFinalizer)
		if err := r.Client.Patch(ctx, cluster, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		log.V(1).Info("Added finalizer")
		return ctrl.Result{}, nil
	}

	base := cluster.DeepCopy()
	scope := &clusterScope{cluster: cluster, observed: observed{now: r.Clock()}}
	defer func() {
		if scope.observed.finalized {
			return
		}
		scope.observed.err = retErr
		setClusterStatus(cluster, scope.observed)
		if err := r.patchStatus(ctx, base, cluster); err != nil {
			retErr = errors.Join(retErr, err)
		}
		if retErr == nil && result.IsZero() {
			result.RequeueAfter = healthRecheck(cluster, scope.observed.now)
			if d := scope.observed.mon.recheck; d > 0 && (result.RequeueAfter == 0 || d < result.RequeueAfter) {
				// A monitor's node reaches the failover timeout.
				result.RequeueAfter = d
			}
			if d := scope.observed.cephxRecheck; d > 0 && (result.RequeueAfter == 0 || d < result.RequeueAfter) {
				// A cephx step's backoff ends.
				result.RequeueAfter = d
			}
			if scope.observed.podRejected != nil {
				// Namespace labels are not watched: look again soon.
				result.RequeueAfter = podRecheckRejected
			}
		}
	}()

	if !cluster.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, scope)
	}

	for _, phase := range []func(context.Context, *clusterScope) error{
		r.reconcileIdentity,
		r.reconcileMonPlacement,
		r.reconcileConfig,
	} {
		if err := phase(ctx, scope); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The phases above do not run spec.image. One the operator does not
	// allow runs nowhere: no agent, monitor or manager is created or
	// changed with it, and the OSD reconciler waits for
	// CephVersionSupported, which says why.
	if !r.checkImage(scope) {
		return ctrl.Result{}, nil
	}
	for _, phase := range []func(context.Context, *clusterScope) error{
		// Discovery runs before the daemons: its agents, in the cluster's
		// Ceph image, report the image's Ceph version.
		r.reconcileDiscovery,
		r.reconcileDaemons,
	} {
		if err := phase(ctx, scope); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// healthRecheck is when the CephHealthy condition must be looked at again
// although nothing changed: when a healthy report becomes too old. Time
// cannot be watched, so this is a timer, not polling: a reporter that
// publishes on time wakes the reconcile before it fires.
func healthRecheck(cluster *cephv1alpha1.CephCluster, now time.Time) time.Duration {
	st := cluster.Status.Ceph
	if st == nil || st.LastChecked == nil || !isConditionTrue(cluster, cephv1alpha1.ConditionCephHealthy) {
		return 0
	}
	d := st.LastChecked.Add(ceph.DefaultStatusMaxAge).Sub(now) + time.Second
	if d <= 0 {
		return time.Second
	}
	return d
}

// namespaceOwner returns the CephCluster that owns namespace ns: the oldest
// one not being deleted (ties broken by name), or nil when there is none.
func (r *CephClusterReconciler) namespaceOwner(ctx context.Context, ns string) (*cephv1alpha1.CephCluster, error) {
	var list cephv1alpha1.CephClusterList
	if err := r.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing CephClusters in %s: %w", ns, err)
	}
	return oldestCluster(list.Items), nil
}

// reportDuplicate marks cluster as a duplicate of owner and touches nothing
// else.
func (r *CephClusterReconciler) reportDuplicate(ctx context.Context, cluster *cephv1alpha1.CephCluster, owner string) error {
	base := cluster.DeepCopy()
	setDuplicateStatus(cluster, owner)
	if !isConditionTrue(base, cephv1alpha1.ConditionDegraded) {
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, cephv1alpha1.ReasonDuplicateCluster, "Reconcile",
			"CephCluster %s already manages namespace %s; this one is ignored", owner, cluster.Namespace)
	}
	return r.patchStatus(ctx, base, cluster)
}

// patchStatus writes the fields of the status this reconciler owns, when
// they changed and only then, so an idle resync makes no API write. It uses
// server-side apply under its own field manager: the conditions list is keyed
// by type, so conditions owned by other reconcilers are left as they are.
func (r *CephClusterReconciler) patchStatus(ctx context.Context, base, cluster *cephv1alpha1.CephCluster) error {
	if equality.Semantic.DeepEqual(base.Status, cluster.Status) {
		return nil
	}
	r.recordTransitions(base, cluster)
	desired := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: cluster.Name, Namespace: cluster.Namespace},
		Status:     ownedStatus(cluster.Status),
	}
	return client.IgnoreNotFound(apply.Status(ctx, r.Client, desired, apply.Operator))
}

// eventDiskFailing is the reason of the Warning Event emitted when more
// disks than before report failing drive health.
const eventDiskFailing = "DiskFailing"

// recordTransitions emits an event when the Ready condition changes, and one
// when more disks report failing drive health than before; never on a
// reconcile that changes nothing.
func (r *CephClusterReconciler) recordTransitions(before, after *cephv1alpha1.CephCluster) {
	was, now := isConditionTrue(before, cephv1alpha1.ConditionReady), isConditionTrue(after, cephv1alpha1.ConditionReady)
	if n := after.Status.Disks.Failing; n > before.Status.Disks.Failing {
		msg := fmt.Sprintf("%d disks report failing drive health (%d before): %s", n, before.Status.Disks.Failing, failingDrives(after.Status.NodeSummaries))
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, eventDiskFailing, "Reconcile", "%s", truncateMessage(msg))
	}
	switch {
	case now && !was:
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, "ClusterReady", "Reconcile", "CephCluster is ready")
	case was && !now:
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, "ClusterNotReady", "Reconcile",
			"CephCluster is no longer ready: %s", conditionMessage(after, cephv1alpha1.ConditionReady))
	}
}

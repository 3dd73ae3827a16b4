package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// reconcileDelete removes what the operator created for the cluster, then
// the finalizer.
//
// With the default cleanup policy no disk is written and the cluster's kept
// state stays (resources.KeptState: the identity Secret, the monitor
// placement and the bootstrap record, stripped of any owner reference so the
// garbage collector leaves them too), as do the monitor stores on the hosts
// and the OSD data on the disks, whose BlueStore labels keep naming this
// cluster's FSID. A CephCluster created again with the same name in the same
// namespace adopts them and the cluster comes back with its data.
//
// The confirmed cleanup policy (cleanupPolicy.confirmation
// yes-really-destroy-data) first runs the cleanup while the finalizer is
// held (see cleanup: the daemons stop, then one Job per node wipes the
// disks whose BlueStore label carries this cluster's FSID and removes the
// cluster's host directory), until every Job finished or the cleanup
// timeout passed; then it also deletes the kept state, so a new CephCluster
// of this name starts a new cluster.
func (r *CephClusterReconciler) reconcileDelete(ctx context.Context, s *clusterScope) (ctrl.Result, error) {
	cluster := s.cluster
	log := ctrl.LoggerFrom(ctx)
	s.observed.deleting = true
	if !controllerutil.ContainsFinalizer(cluster, CleanupFinalizer) {
		return ctrl.Result{}, nil
	}

	destroy := cluster.Spec.CleanupPolicy.Confirmation == cephv1alpha1.CleanupConfirmation
	kept := map[string]bool{}
	for _, k := range resources.KeptState(cluster) {
		kept[k.Kind+"/"+k.Name] = true
	}
	if destroy {
		done, requeue, err := r.cleanup(ctx, s)
		if err != nil || !done {
			return ctrl.Result{RequeueAfter: requeue}, err
		}
		// The status says how the cleanup ended before its Jobs are
		// deleted, so that a reconcile that comes back here (the
		// finalizer's removal failed) does not start it again.
		prev := cluster.DeepCopy()
		setClusterStatus(cluster, s.observed)
		if err := r.patchStatus(ctx, prev, cluster); err != nil {
			return ctrl.Result{}, err
		}
	} else if err := r.keepState(ctx, cluster); err != nil {
		return ctrl.Result{}, err
	}

	selector := client.MatchingLabels(resources.ClusterSelector(cluster))
	for _, kind := range ownedKinds() {
		list := kind.list
		if err := r.Client.List(ctx, list, client.InNamespace(cluster.Namespace), selector); err != nil {
			return ctrl.Result{}, fmt.Errorf("listing %T to clean up: %w", list, err)
		}
		items, err := listItems(list)
		if err != nil {
			return ctrl.Result{}, err
		}
		for _, obj := range items {
			if kind := keptKind(obj); !destroy && kind != "" && kept[kind+"/"+obj.GetName()] {
				log.Info("Kept the cluster's state", "object", klog.KObj(obj), "kind", kind)
				continue
			}
			if err := r.Client.Delete(ctx, obj, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("deleting %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
			}
			log.Info("Deleted object of deleted cluster", "object", klog.KObj(obj))
		}
	}

	if destroy {
		// The finalizer goes from a fresh read: the status write changed
		// the resourceVersion.
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cluster), cluster); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	base := cluster.DeepCopy()
	controllerutil.RemoveFinalizer(cluster, CleanupFinalizer)
	if err := r.Client.Patch(ctx, cluster, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	s.observed.finalized = true
	if destroy {
		log.Info("Removed finalizer; cluster objects and identity deleted after the cleanup", "outcome", s.observed.cleanup.reason)
	} else {
		log.Info("Removed finalizer; cluster objects cleaned up, identity, monitor stores and disk data kept")
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "ClusterStateKept", "Delete",
			"Kept the identity (FSID %s), monitor placement and monitor stores: a CephCluster %s created again in this namespace adopts them",
			cluster.Status.FSID, cluster.Name)
	}
	return ctrl.Result{}, nil
}

// keptKind is the kind of obj if it is of a kind that holds kept state.
func keptKind(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Secret:
		return "Secret"
	case *corev1.ConfigMap:
		return "ConfigMap"
	}
	return ""
}

// keepState strips CephCluster owner references from the kept state, so
// that the garbage collector does not delete it with the cluster (an earlier
// operator set them; adopt removes them on every reconcile, this covers a
// cluster deleted before one ran).
func (r *CephClusterReconciler) keepState(ctx context.Context, cluster *cephv1alpha1.CephCluster) error {
	for _, k := range resources.KeptState(cluster) {
		var obj client.Object = &corev1.ConfigMap{}
		if k.Kind == "Secret" {
			obj = &corev1.Secret{}
		}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: k.Name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s %s to keep it: %w", k.Kind, k.Name, err)
		}
		if checkClusterObject(cluster, k.Kind, obj) != nil {
			continue
		}
		if _, err := r.adopt(ctx, cluster, obj); err != nil {
			return err
		}
	}
	return nil
}

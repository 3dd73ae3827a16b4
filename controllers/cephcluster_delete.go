package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// ownedKinds are the kinds of objects the operator creates for a cluster and
// removes when the cluster is deleted. Owner references would let the
// garbage collector do the same; deleting explicitly makes cleanup complete
// before the finalizer goes, and works where no garbage collector runs.
func ownedKinds() []client.ObjectList {
	return []client.ObjectList{
		&appsv1.DeploymentList{}, &batchv1.JobList{}, &appsv1.DaemonSetList{}, &cephv1.DiskInventoryList{}, &rbacv1.RoleBindingList{}, &rbacv1.RoleList{},
		&corev1.ServiceAccountList{}, &corev1.ConfigMapList{}, &corev1.SecretList{},
	}
}

// reconcileDelete removes what the operator created for the cluster, then
// the finalizer. With the default cleanup policy no disk is written: OSD data
// stays on the disks, whose BlueStore labels keep naming this cluster's FSID.
func (r *CephClusterReconciler) reconcileDelete(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	log := ctrl.LoggerFrom(ctx)
	s.observed.deleting = true
	if !controllerutil.ContainsFinalizer(cluster, CleanupFinalizer) {
		return nil
	}

	if cluster.Spec.CleanupPolicy.Confirmation == cephv1.CleanupConfirmation {
		// Wiping disks needs OSD provisioning (which records the disks a
		// cluster owns); until then the confirmation cannot wipe anything,
		// and we say so rather than pretend.
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, "CleanupNotPerformed", "Delete",
			"Disk wiping was requested but no OSD disks are recorded for this cluster; all disk data is kept")
	}

	selector := client.MatchingLabels(resources.ClusterSelector(cluster))
	for _, list := range ownedKinds() {
		if err := r.Client.List(ctx, list, client.InNamespace(cluster.Namespace), selector); err != nil {
			return fmt.Errorf("listing %T to clean up: %w", list, err)
		}
		items, err := listItems(list)
		if err != nil {
			return err
		}
		for _, obj := range items {
			if err := r.Client.Delete(ctx, obj, client.PropagationPolicy("Background")); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
			}
			log.Info("Deleted object of deleted cluster", "object", klog.KObj(obj))
		}
	}

	base := cluster.DeepCopy()
	controllerutil.RemoveFinalizer(cluster, CleanupFinalizer)
	if err := r.Client.Patch(ctx, cluster, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing finalizer: %w", err)
	}
	s.observed.finalized = true
	log.Info("Removed finalizer; cluster objects cleaned up, disk data kept")
	return nil
}

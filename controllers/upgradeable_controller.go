package controllers

import (
	"context"
	"errors"
	"fmt"

	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	"github.com/operator-framework/operator-lib/conditions"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// upgradeableKey is the single request the UpgradeableReconciler works on:
// the condition is one per operator, whatever changed.
var upgradeableKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "upgradeable"}}

// UpgradeableReconciler tells OLM, through the OperatorCondition, when the
// operator must not be upgraded: while prepare Jobs are writing to disks or
// a cluster is being deleted. It is only set up when OLM runs the operator.
type UpgradeableReconciler struct {
	// Client reads through the informer cache.
	Client client.Client
	// Condition is the operator's Upgradeable condition.
	Condition conditions.Condition
}

// +kubebuilder:rbac:groups=operators.coreos.com,namespace=ceph-operator-system,resources=operatorconditions,verbs=get;update;patch

// SetupWithManager registers the reconciler; any change of a CephCluster or
// a prepare Job re-evaluates the condition.
func (r *UpgradeableReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Condition == nil {
		return errors.New("UpgradeableReconciler needs Client and Condition")
	}
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{upgradeableKey}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("upgradeable").
		Watches(&cephv1alpha1.CephCluster{}, toKey).
		Watches(&batchv1.Job{}, toKey).
		Complete(r)
}

// Reconcile sets Upgradeable from the prepare Jobs and clusters it sees.
func (r *UpgradeableReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var clusters cephv1alpha1.CephClusterList
	if err := r.Client.List(ctx, &clusters); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing CephClusters: %w", err)
	}
	var jobs batchv1.JobList
	if err := r.Client.List(ctx, &jobs, client.MatchingLabels{resources.ComponentLabel: resources.ComponentPrepare}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing prepare Jobs: %w", err)
	}
	want := upgradeable(clusters.Items, jobs.Items)
	cur, err := r.Condition.Get(ctx)
	if err == nil && cur.Status == want.Status && cur.Reason == want.Reason && cur.Message == want.Message {
		return ctrl.Result{}, nil
	}
	if err := r.Condition.Set(ctx, want.Status, conditions.WithReason(want.Reason), conditions.WithMessage(want.Message)); err != nil {
		return ctrl.Result{}, fmt.Errorf("setting the Upgradeable operator condition: %w", err)
	}
	ctrl.LoggerFrom(ctx).Info("Set Upgradeable operator condition", "status", want.Status, "reason", want.Reason)
	return ctrl.Result{}, nil
}

// upgradeable decides the condition: False while a prepare Job runs or a
// cluster is being deleted, True otherwise.
func upgradeable(clusters []cephv1alpha1.CephCluster, jobs []batchv1.Job) metav1.Condition {
	for i := range clusters {
		if !clusters[i].DeletionTimestamp.IsZero() {
			return metav1.Condition{Type: apiv2.Upgradeable, Status: metav1.ConditionFalse, Reason: cephv1alpha1.ReasonClusterDeleting,
				Message: fmt.Sprintf("CephCluster %s/%s is being deleted", clusters[i].Namespace, clusters[i].Name)}
		}
	}
	running := 0
	for i := range jobs {
		if !jobFinished(&jobs[i]) {
			running++
		}
	}
	if running > 0 {
		return metav1.Condition{Type: apiv2.Upgradeable, Status: metav1.ConditionFalse, Reason: cephv1alpha1.ReasonPreparingOSDs,
			Message: fmt.Sprintf("%d prepare Jobs are writing to disks", running)}
	}
	return metav1.Condition{Type: apiv2.Upgradeable, Status: metav1.ConditionTrue, Reason: cephv1alpha1.ReasonIdle,
		Message: "No disk is being prepared and no cluster is being deleted"}
}

// jobFinished reports whether a Job completed or failed.
func jobFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

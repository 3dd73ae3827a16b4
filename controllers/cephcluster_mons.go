package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// +kubebuilder:rbac:groups=apps,namespace=ceph-operator-system,resources=deployments,verbs=get;list;watch;create;update;patch;delete

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
}

// reconcileMonPlacement reads the monitors' recorded placement or, on first
// bootstrap, decides it from the ready nodes and records it in an immutable
// ConfigMap. It runs before the config phase: ceph.conf's mon_host comes from
// the placement.
func (r *CephClusterReconciler) reconcileMonPlacement(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	key := client.ObjectKey{Namespace: cluster.Namespace, Name: resources.MonEndpointsName(cluster)}
	cm := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, key, cm)
	if apierrors.IsNotFound(err) {
		// The cache may lag behind a create of the previous reconcile:
		// deciding again could record a different placement.
		err = r.APIReader.Get(ctx, key, cm)
	}
	switch {
	case err == nil:
		if !metav1.IsControlledBy(cm, cluster) {
			return fmt.Errorf("ConfigMap %s belongs to another CephCluster (owner mismatch)", key)
		}
		mons, err := monplan.Decode(cm.Data[resources.ConfigMapKeyMons])
		if err != nil {
			return fmt.Errorf("ConfigMap %s: %w", key, err)
		}
		s.observed.mon.mons = mons
		if want := int(cluster.Spec.Mon.Count); want != 0 && want != len(mons) {
			s.observed.mon.countChanged = fmt.Sprintf("spec.mon.count is %d but the cluster was bootstrapped with %d monitor(s); "+
				"changing the number of monitors is not supported yet, the existing monitors keep running", want, len(mons))
		}
		return nil
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
	desired := resources.MonEndpoints(cluster, placement)
	if err := setOwner(cluster, desired, r.Client.Scheme()); err != nil {
		return err
	}
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

// reconcileDaemons runs the monitors and the manager once the placement is
// known: one Deployment per monitor, the manager Deployment with the health
// reporter, and the reporter's RBAC.
func (r *CephClusterReconciler) reconcileDaemons(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	mons := s.observed.mon.mons
	s.observed.version = checkCephVersion(cluster.Spec.Image, s.observed.inventories)
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
	objs := []client.Object{
		resources.ReporterServiceAccount(cluster),
		resources.ReporterRole(cluster),
		resources.ReporterRoleBinding(cluster),
	}
	for i := range mons {
		objs = append(objs, resources.MonDeployment(cluster, r.Images, s.observed.fsid, mons, i))
	}
	objs = append(objs, resources.MgrDeployment(cluster, r.Images))
	for _, obj := range objs {
		if _, err := applyOwned(ctx, r.Client, cluster, obj); err != nil {
			return err
		}
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
	return nil
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
func setMonitorsStatus(cluster *cephv1.CephCluster, st monState, set func(t string, status metav1.ConditionStatus, reason, msg string)) {
	cluster.Status.Monitors = nil
	switch {
	case st.waiting != "":
		set(cephv1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1.ReasonNotEnoughNodes, st.waiting)
		set(cephv1.ConditionManagerReady, metav1.ConditionFalse, cephv1.ReasonReconciling, "Waiting for the monitors to be placed")
		return
	case st.blocked != "":
		set(cephv1.ConditionMonitorsReady, metav1.ConditionFalse, st.blockedReason, st.blocked)
		set(cephv1.ConditionManagerReady, metav1.ConditionFalse, st.blockedReason, st.blocked)
		return
	case len(st.mons) == 0:
		set(cephv1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1.ReasonReconciling, "Placing the monitors")
		set(cephv1.ConditionManagerReady, metav1.ConditionFalse, cephv1.ReasonReconciling, "Waiting for the monitors to be placed")
		return
	}
	var notReady []string
	for _, m := range st.mons {
		ready := st.ready[m.Name]
		cluster.Status.Monitors = append(cluster.Status.Monitors, cephv1.MonitorStatus{
			Name: m.Name, Node: m.Node, Address: m.AddrVec(), Ready: ready,
		})
		if !ready {
			notReady = append(notReady, "monitor "+m.Name+" (node "+m.Node+")")
		}
	}
	switch {
	case st.countChanged != "":
		set(cephv1.ConditionMonitorsReady, boolCondition(len(notReady) == 0), cephv1.ReasonMonitorCountChanged, st.countChanged)
	case len(notReady) > 0:
		set(cephv1.ConditionMonitorsReady, metav1.ConditionFalse, cephv1.ReasonReconciling,
			"Waiting for an available pod of "+strings.Join(notReady, ", "))
	default:
		set(cephv1.ConditionMonitorsReady, metav1.ConditionTrue, cephv1.ReasonReconciled,
			fmt.Sprintf("%d monitor(s) available", len(st.mons)))
	}
	if st.mgrReady {
		set(cephv1.ConditionManagerReady, metav1.ConditionTrue, cephv1.ReasonReconciled, "The manager and the health reporter are available")
	} else {
		set(cephv1.ConditionManagerReady, metav1.ConditionFalse, cephv1.ReasonReconciling, "Waiting for an available pod of the manager")
	}
}

// boolCondition turns b into a condition status.
func boolCondition(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

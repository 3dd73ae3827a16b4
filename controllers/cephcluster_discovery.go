package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,namespace=ceph-operator-system,resources=daemonsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",namespace=ceph-operator-system,resources=serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,namespace=ceph-operator-system,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete

// The node pods' Roles grant `use` of OpenShift's privileged
// SecurityContextConstraints (resources.PrivilegedSCCRule); RBAC lets the
// operator grant only what it holds itself.
// +kubebuilder:rbac:groups=security.openshift.io,namespace=ceph-operator-system,resources=securitycontextconstraints,resourceNames=privileged,verbs=use
// +kubebuilder:rbac:groups=ceph.cephoperator.io,namespace=ceph-operator-system,resources=diskinventories,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=ceph.cephoperator.io,namespace=ceph-operator-system,resources=diskinventories/status,verbs=get;update;patch

// reconcileDiscovery runs the discovery agent on the selected nodes: its
// ServiceAccount and Role, the DaemonSet, and one DiskInventory per selected
// node (removing those of nodes that left the selection).
func (r *CephClusterReconciler) reconcileDiscovery(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	ds := resources.DiscoveryDaemonSet(cluster, r.Images, s.observed.fsid)
	dsHash, err := apply.Hash(ds)
	if err != nil {
		return err
	}
	for _, obj := range []client.Object{
		resources.AgentServiceAccount(cluster),
		resources.AgentRole(cluster),
		resources.AgentRoleBinding(cluster),
		ds,
	} {
		if _, err := apply.Owned(ctx, r.Client, cluster, obj); err != nil {
			return err
		}
	}
	// The ServiceAccount exists now, so only admission can refuse the pod.
	r.checkPodAdmission(ctx, s, ds, dsHash)

	// Read-only lists: not copied out of the cache (see OSDReconciler.gather).
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing Nodes: %w", err)
	}
	sel := nodeselect.Select(&cluster.Spec, nodes.Items)
	s.observed.selection = &sel
	s.observed.notReady = map[string]bool{}
	for i := range nodes.Items {
		if !nodeselect.Ready(&nodes.Items[i]) {
			s.observed.notReady[nodes.Items[i].Name] = true
		}
	}

	var inventories cephv1alpha1.DiskInventoryList
	if err := r.Client.List(ctx, &inventories, client.InNamespace(cluster.Namespace),
		client.MatchingLabels(resources.ClusterSelector(cluster)), client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing DiskInventories: %w", err)
	}
	existing := map[string]*cephv1alpha1.DiskInventory{}
	for i := range inventories.Items {
		existing[inventories.Items[i].Name] = &inventories.Items[i]
	}
	selected := map[string]bool{}
	var missing []string
	for _, name := range sel.Selected {
		selected[name] = true
		if _, ok := existing[name]; !ok {
			missing = append(missing, name)
		}
	}
	var gone []string
	// The selected inventories are kept in the listed slice itself (item
	// i moves to kept ≤ i after it was read): at a thousand nodes a copy
	// at every reconcile was most of this reconciler's garbage.
	kept := 0
	for i := range inventories.Items {
		inv := &inventories.Items[i]
		switch {
		case selected[inv.Name]:
			inventories.Items[kept] = *inv
			kept++
		case holdsOSDs(inv):
			// The node left the selection or was deleted, but its disks
			// hold OSDs: they keep running (or pending) and stay visible
			// there, NodeGone or OSDNotSelected, until decommissioned.
		default:
			gone = append(gone, inv.Name)
		}
	}
	s.observed.inventories = inventories.Items[:kept]
	create := func(ctx context.Context, i int) error {
		inv := resources.DiskInventory(cluster, missing[i])
		if err := apply.SetOwner(cluster, inv, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, inv); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating DiskInventory %s: %w", missing[i], err)
		}
		ctrl.LoggerFrom(ctx).Info("Created DiskInventory", "node", missing[i])
		return nil
	}
	remove := func(ctx context.Context, i int) error {
		inv := &cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: gone[i], Namespace: cluster.Namespace}}
		if err := r.Client.Delete(ctx, inv); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting DiskInventory %s of a node no longer selected: %w", gone[i], err)
		}
		ctrl.LoggerFrom(ctx).Info("Deleted DiskInventory of a node no longer selected", "node", gone[i])
		return nil
	}
	return errors.Join(apply.ForEach(ctx, len(missing), create), apply.ForEach(ctx, len(gone), remove))
}

// holdsOSDs reports whether an inventory shows an OSD of the cluster: a
// disk whose verdict is OSD, or a plan entry with an OSD id (a Missing or
// decommissioned one). Such an inventory is kept when its node leaves the
// selection or is deleted.
func holdsOSDs(inv *cephv1alpha1.DiskInventory) bool {
	for i := range inv.Status.Disks {
		if inv.Status.Disks[i].Verdict.State == cephv1alpha1.DiskOSD {
			return true
		}
	}
	for i := range inv.Status.Plan {
		if inv.Status.Plan[i].OSDID != nil {
			return true
		}
	}
	return false
}

package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// ownedKind is a kind of object the operator creates for a cluster.
type ownedKind struct {
	// object is an empty object of the kind, list an empty list of it.
	object client.Object
	list   client.ObjectList
	// watchedByCluster is true when the cluster reconciler watches the
	// kind; the OSD reconciler watches the Jobs it creates itself.
	watchedByCluster bool
}

// ownedKinds are the kinds of objects the operator creates for a cluster,
// each with a label naming the cluster, in the order the cleanup of a deleted
// cluster removes them: workloads, then their access, then configuration.
// Owner references would let the garbage collector do the same; deleting
// explicitly makes cleanup complete before the finalizer goes, and works
// where no garbage collector runs. The objects are new on every call.
func ownedKinds() []ownedKind {
	return []ownedKind{
		{&appsv1.Deployment{}, &appsv1.DeploymentList{}, true},
		{&batchv1.Job{}, &batchv1.JobList{}, false},
		{&appsv1.DaemonSet{}, &appsv1.DaemonSetList{}, true},
		{&policyv1.PodDisruptionBudget{}, &policyv1.PodDisruptionBudgetList{}, true},
		{&cephv1alpha1.DiskInventory{}, &cephv1alpha1.DiskInventoryList{}, true},
		{&rbacv1.RoleBinding{}, &rbacv1.RoleBindingList{}, true},
		{&rbacv1.Role{}, &rbacv1.RoleList{}, true},
		{&corev1.ServiceAccount{}, &corev1.ServiceAccountList{}, true},
		{&corev1.ConfigMap{}, &corev1.ConfigMapList{}, true},
		{&corev1.Secret{}, &corev1.SecretList{}, true},
	}
}

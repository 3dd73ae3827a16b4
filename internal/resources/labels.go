// Package resources builds the Kubernetes objects the operator creates, as
// pure functions of the CephCluster (and what was observed). Reconcilers set
// owner references and apply them; tests compare them with golden files.
package resources

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Label keys and values on every object the operator creates. The manager's
// informer cache only holds objects with ManagedByLabel=ManagedByValue, so
// memory does not grow with unrelated objects in the cluster.
const (
	// ManagedByLabel marks objects created by this operator.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel.
	ManagedByValue = "ceph-operator"
	// ComponentLabel names the part of the cluster an object belongs to.
	ComponentLabel = "app.kubernetes.io/component"
	// ClusterLabel names the CephCluster an object belongs to.
	ClusterLabel = "ceph.cephoperator.io/cluster"
	// ClusterUIDAnnotation is on the objects that hold a cluster's kept
	// state (identity Secret, monitor placement, bootstrap record): the
	// UID of the CephCluster that uses them. They have no owner
	// reference, so they outlive a CephCluster deleted with the default
	// cleanup policy; one created again under the same name adopts them.
	ClusterUIDAnnotation = "ceph.cephoperator.io/cluster-uid"
)

// Labels returns the labels of an object of the given component of cluster.
func Labels(cluster *cephv1alpha1.CephCluster, component string) map[string]string {
	return map[string]string{
		ManagedByLabel:              ManagedByValue,
		ClusterLabel:                cluster.Name,
		ComponentLabel:              component,
		"app.kubernetes.io/name":    "ceph",
		"app.kubernetes.io/part-of": "ceph-operator",
	}
}

// ClusterSelector returns the labels that select every object the operator
// created for cluster.
func ClusterSelector(cluster *cephv1alpha1.CephCluster) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue, ClusterLabel: cluster.Name}
}

// objectMeta is the metadata of an object the operator creates for cluster:
// its name, the cluster's namespace, labels and annotations (nil for none).
func objectMeta(cluster *cephv1alpha1.CephCluster, name string, labels, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: cluster.Namespace, Labels: labels, Annotations: annotations}
}

package resources

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// MonPDBName is the PodDisruptionBudget of cluster's monitors.
func MonPDBName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-mon"
}

// MonPodDisruptionBudget lets a voluntary disruption (a node drain, an
// eviction) take at most one monitor at a time: with three monitors two
// keep quorum. A monitor whose node is drained cannot come back elsewhere
// (it is pinned), so draining a second monitor's node waits until the
// first node is back.
func MonPodDisruptionBudget(cluster *cephv1alpha1.CephCluster) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(cluster, MonPDBName(cluster), Labels(cluster, ComponentMon), nil),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &one,
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentMon}},
		},
	}
}

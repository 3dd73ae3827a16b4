package resources

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
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

// OSDPDBName is the PodDisruptionBudget b of cluster's OSDs: one over all
// OSDs, or one per node (osdplan.OSDBudgets).
func OSDPDBName(cluster *cephv1alpha1.CephCluster, b osdplan.Budget) string {
	if b.Node == "" {
		return cluster.Name + "-osd"
	}
	return cluster.Name + "-osd-host-" + NodeHash(b.Node)
}

// OSDPodDisruptionBudget is budget b over cluster's OSD pods: all of them,
// or those of node b.Node (selected by its node hash).
func OSDPodDisruptionBudget(cluster *cephv1alpha1.CephCluster, b osdplan.Budget) *policyv1.PodDisruptionBudget {
	maxUnavailable := intstr.FromInt32(b.MaxUnavailable)
	selector := map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentOSD}
	labels := Labels(cluster, ComponentOSD)
	var annotations map[string]string
	if b.Node != "" {
		selector[NodeHashLabel] = NodeHash(b.Node)
		labels[NodeHashLabel] = NodeHash(b.Node)
		annotations = map[string]string{NodeAnnotation: b.Node}
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(cluster, OSDPDBName(cluster, b), labels, annotations),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: selector},
		},
	}
}

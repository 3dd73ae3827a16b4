package resources

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// archRequirement matches the nodes whose kubernetes.io/arch label (set by
// the kubelet) is one of nodeselect.Architectures, those the operator image
// is built for: every node pod runs the operator binary, copied out of that
// image by an init container.
func archRequirement() corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{
		Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: slices.Clone(nodeselect.Architectures),
	}
}

// withArch adds archRequirement to na's required node selector. Its terms
// are ORed, so each term gets the requirement; with no required selector
// it adds one that holds only the requirement. A required selector
// without terms (which matches no node) stays as it is.
func withArch(na *corev1.NodeAffinity) *corev1.NodeAffinity {
	req := na.RequiredDuringSchedulingIgnoredDuringExecution
	if req == nil {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{archRequirement()}}},
		}
		return na
	}
	for i := range req.NodeSelectorTerms {
		t := &req.NodeSelectorTerms[i]
		t.MatchExpressions = append(t.MatchExpressions, archRequirement())
	}
	return na
}

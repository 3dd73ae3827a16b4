package resources

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Architectures are the CPU architectures the operator image is built for
// (the PLATFORMS of make docker-buildx and the image index of make
// image-operator). Every node pod runs the operator binary, copied out of
// that image by an init container, so node pods are only scheduled on nodes
// of these architectures: on any other an init container would copy a
// binary the node cannot execute.
var Architectures = []string{"amd64", "arm64"}

// archRequirement matches the nodes whose kubernetes.io/arch label (set by
// the kubelet) is one of Architectures.
func archRequirement() corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{
		Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: slices.Clone(Architectures),
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

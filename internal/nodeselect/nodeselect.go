// Package nodeselect decides, without talking to the API server, which nodes
// take part in a CephCluster's storage and why the others do not. The
// discovery agents, the monitors and the OSDs all run on the nodes it
// selects, so every part of the operator asks it.
package nodeselect

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Node reasons say why a node takes no part in storage.
const (
	// NodeNotSelected: useAllNodes is false and the node is not listed.
	NodeNotSelected = "NodeNotSelected"
	// NodeAffinityMismatch: the node does not match placement.nodeAffinity.
	NodeAffinityMismatch = "NodeAffinityMismatch"
	// NodeTaintNotTolerated: the node has a NoSchedule or NoExecute taint
	// that placement.tolerations does not tolerate.
	NodeTaintNotTolerated = "NodeTaintNotTolerated"
	// NodeArchitectureUnsupported: the node's CPU architecture (its
	// kubernetes.io/arch label) is not one the operator image is built
	// for, so no node pod can run there.
	NodeArchitectureUnsupported = "NodeArchitectureUnsupported"
)

// Architectures are the CPU architectures the operator image is built for
// (the PLATFORMS of make docker-buildx and the image index of make
// image-operator). Every node pod runs the operator binary, copied out of
// that image by an init container, so only nodes of these architectures
// take part, and the node pods require them (internal/resources): on any
// other node an init container would copy a binary the node cannot
// execute.
var Architectures = []string{"amd64", "arm64"}

// Selection is which nodes take part in storage and why the others do
// not.
type Selection struct {
	// Selected are the names of the nodes that run discovery and OSDs,
	// sorted.
	Selected []string
	// Skipped maps a node's name to the reason it is not selected, with a
	// message; only nodes that exist are listed.
	Skipped map[string]Skip
	// Missing are names listed in spec.storage.nodes with no Node object.
	Missing []string
}

// Skip is why one node is not selected.
type Skip struct {
	// Reason is a stable code such as NodeTaintNotTolerated.
	Reason string
	// Message says it in words.
	Message string
}

// Select decides which nodes take part in storage. A node takes part
// when it is selected by useAllNodes or listed in storage.nodes, matches
// placement.nodeAffinity, is of one of Architectures, and tolerates-wise can
// run the node pods: every NoSchedule or NoExecute taint it has is
// tolerated by placement.tolerations.
// Unschedulable (cordoned) nodes still take part: DaemonSet pods ignore
// cordons, and their disks must stay visible.
func Select(spec *cephv1alpha1.CephClusterSpec, nodes []corev1.Node) Selection {
	sel := Selection{Skipped: map[string]Skip{}}
	listed := map[string]bool{}
	for _, n := range spec.Storage.Nodes {
		listed[n.Name] = true
	}
	var affinity *nodeaffinity.LazyErrorNodeSelector
	if na := spec.Placement.NodeAffinity; na != nil && na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		affinity = nodeaffinity.NewLazyErrorNodeSelector(na.RequiredDuringSchedulingIgnoredDuringExecution)
	}
	seen := map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		seen[n.Name] = true
		if !spec.Storage.UseAllNodes && !listed[n.Name] {
			sel.Skipped[n.Name] = Skip{NodeNotSelected, "useAllNodes is false and the node is not listed in spec.storage.nodes"}
			continue
		}
		if affinity != nil {
			ok, err := affinity.Match(n)
			if err != nil {
				sel.Skipped[n.Name] = Skip{NodeAffinityMismatch, fmt.Sprintf("placement.nodeAffinity cannot be evaluated: %v", err)}
				continue
			}
			if !ok {
				sel.Skipped[n.Name] = Skip{NodeAffinityMismatch, "the node does not match placement.nodeAffinity"}
				continue
			}
		}
		// The kubelet always sets the label; a Node object without it
		// (created by hand or by a test) is not judged here.
		if arch, ok := n.Labels[corev1.LabelArchStable]; ok && !slices.Contains(Architectures, arch) {
			sel.Skipped[n.Name] = Skip{NodeArchitectureUnsupported, fmt.Sprintf("the node's architecture %s is not one the operator image is built for (%s)", arch, strings.Join(Architectures, ", "))}
			continue
		}
		if t, ok := untoleratedTaint(n.Spec.Taints, spec.Placement.Tolerations); ok {
			sel.Skipped[n.Name] = Skip{NodeTaintNotTolerated, fmt.Sprintf("taint %s=%s:%s is not tolerated by placement.tolerations", t.Key, t.Value, t.Effect)}
			continue
		}
		sel.Selected = append(sel.Selected, n.Name)
	}
	for name := range listed {
		if !seen[name] {
			sel.Missing = append(sel.Missing, name)
		}
	}
	sort.Strings(sel.Selected)
	sort.Strings(sel.Missing)
	return sel
}

// daemonSetTolerated are the taints the DaemonSet controller tolerates on
// every DaemonSet pod, so they never keep node pods off a node. The node pods
// run on the host network, so network-unavailable is among them.
var daemonSetTolerated = map[string]bool{
	corev1.TaintNodeNotReady:           true,
	corev1.TaintNodeUnreachable:        true,
	corev1.TaintNodeDiskPressure:       true,
	corev1.TaintNodeMemoryPressure:     true,
	corev1.TaintNodePIDPressure:        true,
	corev1.TaintNodeUnschedulable:      true,
	corev1.TaintNodeNetworkUnavailable: true,
}

// untoleratedTaint returns the first taint that keeps pods with tolerations
// off the node.
func untoleratedTaint(taints []corev1.Taint, tolerations []corev1.Toleration) (corev1.Taint, bool) {
	for _, t := range taints {
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if daemonSetTolerated[t.Key] {
			continue
		}
		tolerated := false
		for i := range tolerations {
			if tolerations[i].ToleratesTaint(klog.Background(), &t, true) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return t, true
		}
	}
	return corev1.Taint{}, false
}

// Changed reports whether a Node's update can change a selection: Select
// reads only its labels and taints (and its existence), so the frequent
// status heartbeats change nothing.
func Changed(old, updated *corev1.Node) bool {
	return !maps.Equal(old.Labels, updated.Labels) || !equality.Semantic.DeepEqual(old.Spec.Taints, updated.Spec.Taints)
}

// Ready reports whether n's Ready condition is True.
func Ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

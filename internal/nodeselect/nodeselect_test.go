package nodeselect

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func node(name string, labels map[string]string, taints ...corev1.Taint) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func TestSelect(t *testing.T) {
	storageRole := &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
			Key: "role", Operator: corev1.NodeSelectorOpIn, Values: []string{"storage"},
		}}}},
	}}
	noSchedule := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	preferNo := corev1.Taint{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	nodes := []corev1.Node{
		node("a", map[string]string{"role": "storage"}),
		node("b", map[string]string{"role": "compute"}),
		node("c", map[string]string{"role": "storage"}, noSchedule),
		node("d", nil, preferNo, notReady),
	}

	for _, tc := range []struct {
		name     string
		spec     cephv1alpha1.CephClusterSpec
		selected []string
		skipped  map[string]string
		missing  []string
	}{
		{
			name:     "useAllNodes takes every node it can run on",
			spec:     cephv1alpha1.CephClusterSpec{Storage: cephv1alpha1.StorageSpec{UseAllNodes: true}},
			selected: []string{"a", "b", "d"},
			skipped:  map[string]string{"c": NodeTaintNotTolerated},
		},
		{
			name: "a toleration admits the tainted node",
			spec: cephv1alpha1.CephClusterSpec{
				Storage:   cephv1alpha1.StorageSpec{UseAllNodes: true},
				Placement: cephv1alpha1.PlacementSpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}}},
			},
			selected: []string{"a", "b", "c", "d"},
			skipped:  map[string]string{},
		},
		{
			name: "node affinity narrows useAllNodes",
			spec: cephv1alpha1.CephClusterSpec{
				Storage:   cephv1alpha1.StorageSpec{UseAllNodes: true},
				Placement: cephv1alpha1.PlacementSpec{NodeAffinity: storageRole},
			},
			selected: []string{"a"},
			skipped:  map[string]string{"b": NodeAffinityMismatch, "c": NodeTaintNotTolerated, "d": NodeAffinityMismatch},
		},
		{
			name:     "listed nodes only, and a listed node that does not exist",
			spec:     cephv1alpha1.CephClusterSpec{Storage: cephv1alpha1.StorageSpec{Nodes: []cephv1alpha1.NodeStorageSpec{{Name: "b"}, {Name: "zz"}}}},
			selected: []string{"b"},
			skipped:  map[string]string{"a": NodeNotSelected, "c": NodeNotSelected, "d": NodeNotSelected},
			missing:  []string{"zz"},
		},
		{
			name:     "a listed node must still tolerate-wise fit",
			spec:     cephv1alpha1.CephClusterSpec{Storage: cephv1alpha1.StorageSpec{Nodes: []cephv1alpha1.NodeStorageSpec{{Name: "c"}}}},
			selected: nil,
			skipped:  map[string]string{"a": NodeNotSelected, "b": NodeNotSelected, "c": NodeTaintNotTolerated, "d": NodeNotSelected},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Select(&tc.spec, nodes)
			if !reflect.DeepEqual(got.Selected, tc.selected) {
				t.Errorf("selected %v, want %v", got.Selected, tc.selected)
			}
			reasons := map[string]string{}
			for n, s := range got.Skipped {
				reasons[n] = s.Reason
				if s.Message == "" {
					t.Errorf("node %s skipped without a message", n)
				}
			}
			if !reflect.DeepEqual(reasons, tc.skipped) {
				t.Errorf("skipped %v, want %v", reasons, tc.skipped)
			}
			if !reflect.DeepEqual(got.Missing, tc.missing) {
				t.Errorf("missing %v, want %v", got.Missing, tc.missing)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	taint := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	base := node("a", map[string]string{"role": "storage"}, taint)
	heartbeat := base.DeepCopy()
	heartbeat.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	heartbeat.ResourceVersion = "2"
	relabelled := base.DeepCopy()
	relabelled.Labels["role"] = "compute"
	untainted := base.DeepCopy()
	untainted.Spec.Taints = nil
	for _, tc := range []struct {
		name    string
		updated *corev1.Node
		want    bool
	}{
		{"status heartbeat", heartbeat, false},
		{"label changed", relabelled, true},
		{"taint removed", untainted, true},
	} {
		if got := Changed(&base, tc.updated); got != tc.want {
			t.Errorf("%s: Changed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSelectSkipsUnsupportedArchitectures: a node whose kubelet reports an
// architecture the operator image lacks takes no part (its node pods
// could never be scheduled, and a monitor placed there would never start),
// with the reason and the architectures that are supported; amd64 and arm64
// nodes do, and so does a Node without the label (not judged), whether
// selected by useAllNodes or by name.
func TestSelectSkipsUnsupportedArchitectures(t *testing.T) {
	nodes := []corev1.Node{
		node("amd", map[string]string{corev1.LabelArchStable: "amd64"}),
		node("arm", map[string]string{corev1.LabelArchStable: "arm64"}),
		node("s390", map[string]string{corev1.LabelArchStable: "s390x"}),
		node("unlabelled", nil),
	}
	for _, spec := range []cephv1alpha1.CephClusterSpec{
		{Storage: cephv1alpha1.StorageSpec{UseAllNodes: true}},
		{Storage: cephv1alpha1.StorageSpec{Nodes: []cephv1alpha1.NodeStorageSpec{{Name: "amd"}, {Name: "arm"}, {Name: "s390"}, {Name: "unlabelled"}}}},
	} {
		sel := Select(&spec, nodes)
		if want := []string{"amd", "arm", "unlabelled"}; !reflect.DeepEqual(sel.Selected, want) {
			t.Errorf("useAllNodes=%v: selected %v, want %v", spec.Storage.UseAllNodes, sel.Selected, want)
		}
		skip, ok := sel.Skipped["s390"]
		if !ok || skip.Reason != NodeArchitectureUnsupported {
			t.Fatalf("useAllNodes=%v: s390 skipped as %+v, want %s", spec.Storage.UseAllNodes, skip, NodeArchitectureUnsupported)
		}
		if want := "the node's architecture s390x is not one the operator image is built for (amd64, arm64)"; skip.Message != want {
			t.Errorf("message %q, want %q", skip.Message, want)
		}
	}
}

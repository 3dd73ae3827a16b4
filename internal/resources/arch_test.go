package resources

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"sigs.k8s.io/yaml"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
)

// TestNodePodsOnlyOnImageArchitectures evaluates every node pod's required
// node affinity, as the scheduler does, against nodes of each
// architecture: a node of an architecture the image lacks (or without the
// label) is never a match, whatever the storage selection and placement.
func TestNodePodsOnlyOnImageArchitectures(t *testing.T) {
	storageLabel := corev1.NodeSelectorRequirement{Key: "role", Operator: corev1.NodeSelectorOpIn, Values: []string{"storage"}}
	placements := map[string]*corev1.NodeAffinity{
		"no placement": nil,
		"required placement": {RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{storageLabel}},
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "other", Operator: corev1.NodeSelectorOpExists}}},
			},
		}},
		"preferred placement only": {PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
			{Weight: 1, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{storageLabel}}},
		}},
	}
	node := func(arch string) *corev1.Node {
		labels := map[string]string{"role": "storage", "other": "x"}
		if arch != "" {
			labels[corev1.LabelArchStable] = arch
		}
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: labels}}
	}
	want := map[string]bool{"amd64": true, "arm64": true, "s390x": false, "ppc64le": false, "": false}

	for pname, placement := range placements {
		for _, useAll := range []bool{true, false} {
			cluster := testCluster()
			cluster.Spec.Placement.NodeAffinity = placement
			var before *corev1.NodeAffinity
			if placement != nil {
				before = placement.DeepCopy()
			}
			if !useAll {
				cluster.Spec.Storage.UseAllNodes = false
				cluster.Spec.Storage.Nodes = append(cluster.Spec.Storage.Nodes, cephv1alpha1.NodeStorageSpec{Name: "node-a"})
			}
			job, err := PrepareJob(cluster, Images{Operator: "operator:test"}, ceph.KeyTypeAES, "fsid", osdplan.JobSpec{Node: "node-a", Devices: []osdplan.Device{{Name: "sdb", ID: "/dev/sdb", Path: "/dev/sdb"}}})
			if err != nil {
				t.Fatal(err)
			}
			mons := []monplan.Mon{{Name: "a", Node: "node-a"}}
			pods := map[string]corev1.PodSpec{
				"discovery": DiscoveryDaemonSet(cluster, Images{Operator: "operator:test"}, "fsid").Spec.Template.Spec,
				"mgr":       MgrDeployment(cluster, Images{Operator: "operator:test"}, ceph.KeyTypeAES).Spec.Template.Spec,
				"reporter":  ReporterDeployment(cluster, Images{Operator: "operator:test"}, ceph.KeyTypeAES, cephv1alpha1.CephUser{UID: 167, GID: 167}).Spec.Template.Spec,
				"mon":       MonDeployment(cluster, Images{Operator: "operator:test"}, ceph.KeyTypeAES, "fsid", mons, 0).Spec.Template.Spec,
				"prepare":   job.Spec.Template.Spec,
				"osd":       OSDDeployment(cluster, Images{Operator: "operator:test"}, "fsid", osdplan.OSDSpec{ID: 0, Node: "node-a"}).Spec.Template.Spec,
			}
			for pod, spec := range pods {
				for arch, ok := range want {
					got, err := nodeaffinity.GetRequiredNodeAffinity(&corev1.Pod{Spec: spec}).Match(node(arch))
					if err != nil {
						t.Fatalf("%s, useAllNodes=%v, %s: %v", pname, useAll, pod, err)
					}
					if got != ok {
						t.Errorf("%s, useAllNodes=%v: %s pod matches a node of architecture %q: %v, want %v", pname, useAll, pod, arch, got, ok)
					}
				}
			}
			if placement != nil && !equality.Semantic.DeepEqual(placement, before) {
				t.Errorf("%s: building the pods changed spec.placement.nodeAffinity", pname)
			}
		}
	}
}

// TestArchitecturesMatchTheBuild: the architectures node pods may run on
// are those the image is built for (PLATFORMS in the Makefile, used by
// docker-buildx and image-operator) and those the CSV declares
// (operatorframework.io/arch.* labels, what OperatorHub shows and filters
// on).
func TestArchitecturesMatchTheBuild(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, line := range strings.Split(string(makefile), "\n") {
		if v, ok := strings.CutPrefix(line, "PLATFORMS ?= "); ok {
			platforms = strings.Split(strings.TrimSpace(v), ",")
		}
	}
	var want []string
	for _, a := range nodeselect.Architectures {
		want = append(want, "linux/"+a)
	}
	if !slices.Equal(platforms, want) {
		t.Errorf("Makefile PLATFORMS = %v, want %v (nodeselect.Architectures)", platforms, want)
	}

	b, err := os.ReadFile(filepath.Join("..", "..", "config", "manifests", "bases", "ceph-operator.clusterserviceversion.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var csv struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(b, &csv); err != nil {
		t.Fatal(err)
	}
	var declared []string
	for k, v := range csv.Metadata.Labels {
		if a, ok := strings.CutPrefix(k, "operatorframework.io/arch."); ok && v == "supported" {
			declared = append(declared, a)
		}
	}
	slices.Sort(declared)
	if !slices.Equal(declared, slices.Sorted(slices.Values(nodeselect.Architectures))) {
		t.Errorf("the CSV base declares architectures %v, want %v", declared, nodeselect.Architectures)
	}
	if csv.Metadata.Labels["operatorframework.io/os.linux"] != "supported" {
		t.Errorf("the CSV base does not declare operatorframework.io/os.linux: supported")
	}
}

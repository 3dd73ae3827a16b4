package resources

import (
	"reflect"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
)

func TestCrushLocation(t *testing.T) {
	for _, tc := range []struct {
		node     string
		topology map[string]string
		want     string
	}{
		{"node-a", nil, "root=default host=node-a"},
		{"worker-1.example.com", nil, "root=default host=worker-1.example.com"},
		{"node-a", map[string]string{
			"topology.kubernetes.io/zone":   "eu-west-1a",
			"topology.kubernetes.io/region": "eu-west-1",
			osdplan.RackLabel:               "r12",
			"unrelated":                     "x",
		}, "root=default host=node-a rack=r12 zone=eu-west-1a region=eu-west-1"},
		// Label values Ceph would refuse as bucket names are made valid.
		{"node-a", map[string]string{"topology.kubernetes.io/zone": "dc 1/hall=2"}, "root=default host=node-a zone=dc-1-hall-2"},
	} {
		if got := CrushLocation(tc.node, tc.topology); got != tc.want {
			t.Errorf("CrushLocation(%q, %v) = %q, want %q", tc.node, tc.topology, got, tc.want)
		}
	}
}

// TestOSDDeploymentIndependentOfOperatorImage: an operator upgrade (a new
// operator image) must not change any OSD's pod template, or every OSD
// would restart at once.
func TestOSDDeploymentIndependentOfOperatorImage(t *testing.T) {
	c := testCluster()
	spec := osdplan.OSDSpec{ID: 3, Node: "node-b", Device: osdplan.Device{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x1", Path: "/dev/disk/by-id/wwn-0x1"}}
	old := OSDDeployment(c, Images{Operator: "registry.invalid/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", spec)
	upgraded := OSDDeployment(c, Images{Operator: "registry.invalid/ceph-operator:v0.2.0@sha256:0123", PullPolicy: "IfNotPresent"}, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", spec)
	if !reflect.DeepEqual(old.Spec.Template, upgraded.Spec.Template) {
		t.Errorf("the OSD pod template depends on the operator image")
	}
	for _, ctr := range append(old.Spec.Template.Spec.InitContainers, old.Spec.Template.Spec.Containers...) {
		if ctr.Image != c.Spec.Image {
			t.Errorf("container %s runs %s, not the Ceph image", ctr.Name, ctr.Image)
		}
	}
}

// TestMonDeploymentIndependentOfOperatorImage: nor does an operator upgrade
// change a monitor's pod template.
func TestMonDeploymentIndependentOfOperatorImage(t *testing.T) {
	old := MonDeployment(testCluster(), Images{Operator: "registry.invalid/ceph-operator:v0.1.0"}, ceph.KeyTypeAES, testFSID, testMons, 1)
	upgraded := MonDeployment(testCluster(), Images{Operator: "registry.invalid/ceph-operator:v0.2.0"}, ceph.KeyTypeAES, testFSID, testMons, 1)
	if !reflect.DeepEqual(old.Spec.Template, upgraded.Spec.Template) {
		t.Error("the monitor pod template depends on the operator image")
	}
}

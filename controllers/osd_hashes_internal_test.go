package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// TestDesiredHashes: the remembered hash of an OSD's desired Deployment is
// the hash of the Deployment built afresh, after any change of what it is
// built from; only OSDs that have a Deployment are hashed.
func TestDesiredHashes(t *testing.T) {
	r := &OSDReconciler{Images: resources.Images{Operator: "op:1", PullPolicy: corev1.PullIfNotPresent}}
	cluster := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: "ns", UID: "u1", Generation: 1},
		Spec:       cephv1alpha1.CephClusterSpec{Image: "ceph:v18.2.4"},
		Status:     cephv1alpha1.CephClusterStatus{FSID: "00000000-0000-4000-8000-000000000000"},
	}
	osds := []osdplan.OSDSpec{
		{ID: 0, Node: "a", Device: osdplan.Device{ID: "disk-a", Path: "/dev/disk/by-id/disk-a"}},
		{ID: 1, Node: "b", Device: osdplan.Device{ID: "disk-b", Path: "/dev/disk/by-id/disk-b"}},
		{ID: 2, Node: "b", Device: osdplan.Device{ID: "disk-c", Path: "/dev/disk/by-id/disk-c"}},
	}
	existing := map[int32]string{0: "x", 1: "x"}
	check := func(step string) {
		t.Helper()
		got, err := r.desiredHashes(cluster, osds, existing)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(existing) {
			t.Errorf("%s: %d hashes, want %d (only OSDs with a Deployment)", step, len(got), len(existing))
		}
		for _, o := range osds {
			if _, ok := existing[o.ID]; !ok {
				continue
			}
			want, err := apply.Hash(resources.OSDDeployment(cluster, r.Images, cluster.Status.FSID, o))
			if err != nil {
				t.Fatal(err)
			}
			if got[o.ID] != want {
				t.Errorf("%s: OSD %d hash %s, want %s", step, o.ID, got[o.ID], want)
			}
		}
	}
	check("first")
	check("remembered")
	cluster.Spec.Image, cluster.Generation = "ceph:v18.2.5", 2
	check("new generation")
	cluster.Spec.Image = "ceph:v19.2.0" // an accepted image, same generation
	check("new accepted image")
	r.Images.Operator = "op:2"
	check("new operator image")
	osds[1].Device.Path = "/dev/disk/by-id/disk-b-part"
	check("new device path")
	osds[0].Topology = map[string]string{osdplan.RackLabel: "r1"}
	check("new topology")
	existing[2] = "x"
	check("new Deployment")
	cluster.Status.FSID = "11111111-0000-4000-8000-000000000000"
	check("new FSID")
	r.forgetHashes(client.ObjectKeyFromObject(cluster))
	check("forgotten")
}

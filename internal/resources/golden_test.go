package resources

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares obj, rendered as YAML, with testdata/<name>.yaml.
func golden(t *testing.T, name string, obj any) {
	t.Helper()
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".yaml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'go test ./internal/resources -update' to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func testCluster() *cephv1.CephCluster {
	return &cephv1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: "storage"},
		Spec: cephv1.CephClusterSpec{
			Image:           "quay.io/ceph/ceph:v18.2.4",
			DataDirHostPath: "/var/lib/ceph-operator",
			Storage:         cephv1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
}

func TestIdentitySecretGolden(t *testing.T) {
	golden(t, "identity-secret", IdentitySecret(testCluster(), Identity{
		FSID:            "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e",
		MonKey:          "AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==",
		AdminKey:        "AQAAAAAAAAAAABAAAQEBAQEBAQEBAQEBAQEBAQ==",
		BootstrapOSDKey: "AQAAAAAAAAAAABAAAgICAgICAgICAgICAgICAg==",
		MgrKey:          "AQAAAAAAAAAAABAAAwMDAwMDAwMDAwMDAwMDAw==",
		ReporterKey:     "AQAAAAAAAAAAABAABAQEBAQEBAQEBAQEBAQEBA==",
	}))
}

func TestConfigMapGolden(t *testing.T) {
	golden(t, "config-configmap", ConfigMap(testCluster(), ceph.Config{FSID: "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e",
		MonHosts: monplan.MonHosts(testMons)}))
}

// testMons are three monitors, two of them sharing a node.
var testMons = []monplan.Mon{
	{Name: "a", Node: "node-a", IP: "10.0.0.1", PortV2: 3300, PortV1: 6789},
	{Name: "b", Node: "node-b", IP: "10.0.0.2", PortV2: 3300, PortV1: 6789},
	{Name: "c", Node: "node-a", IP: "10.0.0.1", PortV2: 3301, PortV1: 6790},
}

func TestMonAndMgrGolden(t *testing.T) {
	images := Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}
	placement, err := monplan.Encode(testMons)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "mon-endpoints", MonEndpoints(testCluster(), placement))
	golden(t, "mon-deployment", MonDeployment(testCluster(), images, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", testMons, 2))
	golden(t, "mgr-deployment", MgrDeployment(testCluster(), images))
	golden(t, "reporter-rbac", []any{ReporterServiceAccount(testCluster()), ReporterRole(testCluster()), ReporterRoleBinding(testCluster())})
}

func TestFSIDFromSecret(t *testing.T) {
	const fsid = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"
	s := IdentitySecret(testCluster(), Identity{FSID: fsid, MonKey: "m", AdminKey: "a", BootstrapOSDKey: "b", MgrKey: "g", ReporterKey: "r"})
	// The API server turns stringData into data; do the same here.
	s.Data = map[string][]byte{}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	if got, err := FSIDFromSecret(s); err != nil || got != fsid {
		t.Fatalf("FSIDFromSecret = %q, %v", got, err)
	}
	for _, k := range []string{SecretKeyFSID, SecretKeyBootstrapOSDKeyring, SecretKeyMgrKeyring, SecretKeyReporterKeyring, SecretKeyMonInitialKeyring} {
		broken := s.DeepCopy()
		delete(broken.Data, k)
		if _, err := FSIDFromSecret(broken); err == nil {
			t.Errorf("secret without %q accepted", k)
		}
	}
}

func TestDiscoveryDaemonSetGolden(t *testing.T) {
	all := testCluster()
	golden(t, "discover-daemonset-all-nodes", DiscoveryDaemonSet(all, Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"))

	listed := testCluster()
	listed.Spec.Storage = cephv1.StorageSpec{
		AllowLoopDevices: true,
		Nodes:            []cephv1.NodeStorageSpec{{Name: "node-a"}, {Name: "node-b"}},
	}
	min := resource.MustParse("10Gi")
	listed.Spec.Storage.Config.MinSize = &min
	listed.Spec.Placement = cephv1.PlacementSpec{
		NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "role", Operator: corev1.NodeSelectorOpIn, Values: []string{"storage"},
			}}}},
		}},
		Tolerations: []corev1.Toleration{{Key: "storage", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
	}
	golden(t, "discover-daemonset-listed-nodes", DiscoveryDaemonSet(listed, Images{Operator: "op:1", PullPolicy: "Never"}, "f"))
}

func TestAgentRBACGolden(t *testing.T) {
	c := testCluster()
	golden(t, "agent-rbac", []any{AgentServiceAccount(c), AgentRole(c), AgentRoleBinding(c), DiskInventory(c, "node-a")})
}

func TestPrepareJobAndOSDDeploymentGolden(t *testing.T) {
	c := testCluster()
	c.Spec.Storage.AllowLoopDevices = true
	images := Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}
	spec := osdplan.JobSpec{Node: "node-a", Devices: []osdplan.Device{
		{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", Path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", DeviceClass: "hdd"},
		{Name: "sdc", ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d5", Path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d5"},
	}}
	job, err := PrepareJob(c, images, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", spec)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "prepare-job", job)
	golden(t, "osd-deployment", OSDDeployment(c, images, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e",
		osdplan.OSDSpec{ID: 7, Node: "node-a", Device: spec.Devices[0], Topology: map[string]string{"topology.kubernetes.io/zone": "zone-1"}}))

	// The Job's name depends on the node and the device set only.
	again, _ := PrepareJob(c, images, "other", spec)
	if again.Name != job.Name {
		t.Errorf("Job name changed with unrelated input: %s vs %s", again.Name, job.Name)
	}
	other := spec
	other.Devices = spec.Devices[:1]
	if j, _ := PrepareJob(c, images, "f", other); j.Name == job.Name {
		t.Errorf("two device sets share the Job name %s", j.Name)
	}
}

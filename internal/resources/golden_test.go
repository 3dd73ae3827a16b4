package resources

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
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

func testCluster() *cephv1alpha1.CephCluster {
	return &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: "storage"},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:           "quay.io/ceph/ceph:v18.2.4",
			DataDirHostPath: "/var/lib/ceph-operator",
			Storage:         cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
}

// goldenKeys are deterministic keys of type t (type, zero time, length,
// a secret of one repeated byte per entity).
func goldenKeys(t ceph.KeyType) Keys {
	var keys [5]string
	for i := range keys {
		raw := []byte{byte(t), 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(t.SecretLen()), 0}
		keys[i] = base64.StdEncoding.EncodeToString(append(raw, bytes.Repeat([]byte{byte(i)}, t.SecretLen())...))
	}
	return Keys{MonKey: keys[0], AdminKey: keys[1], BootstrapOSDKey: keys[2], MgrKey: keys[3], ReporterKey: keys[4]}
}

func TestIdentitySecretGolden(t *testing.T) {
	golden(t, "identity-secret", IdentitySecret(testCluster(), Identity{
		FSID:    "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e",
		AES:     goldenKeys(ceph.KeyTypeAES),
		AES256K: goldenKeys(ceph.KeyTypeAES256K),
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
	golden(t, "mon-deployment", MonDeployment(testCluster(), images, ceph.KeyTypeAES, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", testMons, 2))
	golden(t, "mon-deployment-aes256k", MonDeployment(testCluster(), images, ceph.KeyTypeAES256K, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", testMons, 2))
	golden(t, "mgr-deployment", MgrDeployment(testCluster(), images, ceph.KeyTypeAES))
	golden(t, "reporter-deployment", ReporterDeployment(testCluster(), images, ceph.KeyTypeAES, cephv1alpha1.CephUser{UID: 64045, GID: 64045}))
	golden(t, "reporter-rbac", []any{ReporterServiceAccount(testCluster()), ReporterRole(testCluster()), ReporterRoleBinding(testCluster())})
}

func TestFSIDFromSecret(t *testing.T) {
	const fsid = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"
	s := IdentitySecret(testCluster(), Identity{FSID: fsid, AES: Keys{MonKey: "m", AdminKey: "a", BootstrapOSDKey: "b", MgrKey: "g", ReporterKey: "r"}})
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
	listed.Spec.Storage = cephv1alpha1.StorageSpec{
		AllowLoopDevices: true,
		Nodes:            []cephv1alpha1.NodeStorageSpec{{Name: "node-a"}, {Name: "node-b"}},
	}
	minSize := resource.MustParse("10Gi")
	listed.Spec.Storage.Config.MinSize = &minSize
	listed.Spec.Placement = cephv1alpha1.PlacementSpec{
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
		{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", Path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", DeviceClass: "hdd",
			WWN: "0x5000c500a1b2c3d4", Serial: "ZA1B2C3D", SizeBytes: 4000787030016},
		// A by-path link with colons: the old PATH:CLASS flag split it.
		{Name: "sdc", ID: "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0", Path: "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0",
			DeviceClass: "ssd", SizeBytes: 960197124096},
	}}
	job, err := PrepareJob(c, images, ceph.KeyTypeAES, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", spec)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "prepare-job", job)
	golden(t, "osd-deployment", OSDDeployment(c, images, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e",
		osdplan.OSDSpec{ID: 7, Node: "node-a", Device: spec.Devices[0], Topology: map[string]string{"topology.kubernetes.io/zone": "zone-1"}}))
}

// TestOnlyThePrepareWritesSys: the prepare container, which announces the
// disks it wrote through their sysfs uevent files, mounts /sys writable;
// the OSD's containers keep it read-only.
func TestOnlyThePrepareWritesSys(t *testing.T) {
	c := testCluster()
	spec := osdplan.JobSpec{Node: "node-a", Devices: []osdplan.Device{{ID: "x", Path: "/dev/disk/by-id/x"}}}
	job, err := PrepareJob(c, Images{Operator: "op"}, ceph.KeyTypeAES, "f", spec)
	if err != nil {
		t.Fatal(err)
	}
	sys := func(ctrs []corev1.Container) map[string]bool {
		out := map[string]bool{}
		for _, ctr := range ctrs {
			for _, m := range ctr.VolumeMounts {
				if m.MountPath == "/sys" {
					out[ctr.Name] = m.ReadOnly
				}
			}
		}
		return out
	}
	if ro, ok := sys(job.Spec.Template.Spec.Containers)[PrepareContainer]; !ok || ro {
		t.Errorf("prepare container: /sys mounted %v, read-only %v; want writable", ok, ro)
	}
	osd := OSDDeployment(c, Images{Operator: "op"}, "f", osdplan.OSDSpec{ID: 1, Node: "node-a", Device: spec.Devices[0]})
	pod := osd.Spec.Template.Spec
	for name, ro := range sys(append(pod.InitContainers, pod.Containers...)) {
		if !ro {
			t.Errorf("OSD container %s mounts /sys writable", name)
		}
	}
}

// TestPrepareJobTargets decodes the Job's --targets argument and checks it
// round-trips every device's identity, whatever characters its path has.
func TestPrepareJobTargets(t *testing.T) {
	c := testCluster()
	spec := osdplan.JobSpec{Node: "node-a", Devices: []osdplan.Device{
		{ID: "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0", Path: "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0", DeviceClass: "nvme", Serial: "S1", SizeBytes: 1 << 40},
		{ID: "/dev/disk/by-id/wwn-0x5", Path: "/dev/disk/by-id/wwn-0x5", WWN: "0x5"},
	}}
	job, err := PrepareJob(c, Images{Operator: "op"}, ceph.KeyTypeAES, "f", spec)
	if err != nil {
		t.Fatal(err)
	}
	raw := targetsArg(job.Spec.Template.Spec.Containers[0])
	for _, a := range job.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--device=") {
			t.Errorf("the Job still passes %s", a)
		}
	}
	var got []PrepareTarget
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("--targets=%q: %v", raw, err)
	}
	want := []PrepareTarget{
		{Path: "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0", DeviceClass: "nvme", ID: "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0", Serial: "S1", SizeBytes: 1 << 40},
		{Path: "/dev/disk/by-id/wwn-0x5", ID: "/dev/disk/by-id/wwn-0x5", WWN: "0x5"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets %+v, want %+v", got, want)
	}
	if ann := job.Annotations[DevicesAnnotation]; ann != raw {
		t.Errorf("devices annotation %q differs from --targets %q", ann, raw)
	}
	// n disks of 15 minutes each, plus 5 minutes.
	if d := *job.Spec.ActiveDeadlineSeconds; d != 2*15*60+5*60 {
		t.Errorf("activeDeadlineSeconds %d, want %d", d, 2*15*60+5*60)
	}
	if _, err := PrepareJob(c, Images{Operator: "op"}, ceph.KeyTypeAES, "f", osdplan.JobSpec{Node: "node-a"}); err == nil {
		t.Error("a Job without devices was built")
	}
}

// TestPrepareJobName checks that a node has one Job name whatever its
// disks, that nodes do not share one, and that the name fits a label value
// for the longest cluster name allowed.
func TestPrepareJobName(t *testing.T) {
	c := testCluster()
	a := PrepareJobName(c, "node-a")
	if a != "ceph-prepare-"+NodeHash("node-a") {
		t.Errorf("Job name %s", a)
	}
	if b := PrepareJobName(c, "node-b"); b == a {
		t.Errorf("nodes node-a and node-b share the Job name %s", a)
	}
	one := osdplan.JobSpec{Node: "node-a", Devices: []osdplan.Device{{ID: "x", Path: "/dev/disk/by-id/x"}}}
	two := osdplan.JobSpec{Node: "node-a", Devices: []osdplan.Device{{ID: "x", Path: "/dev/disk/by-id/x"}, {ID: "y", Path: "/dev/disk/by-id/y"}}}
	j1, _ := PrepareJob(c, Images{Operator: "op"}, ceph.KeyTypeAES, "f", one)
	j2, _ := PrepareJob(c, Images{Operator: "op"}, ceph.KeyTypeAES, "other", two)
	if j1.Name != a || j2.Name != a {
		t.Errorf("Job names %s and %s, want %s for any disks of node-a", j1.Name, j2.Name, a)
	}
	long := testCluster()
	long.Name = strings.Repeat("c", cephv1alpha1.MaxClusterNameLength)
	name := PrepareJobName(long, strings.Repeat("n", 253))
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		t.Errorf("Job name %s for a %d-character cluster name: %v", name, cephv1alpha1.MaxClusterNameLength, errs)
	}
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		t.Errorf("Job name %s is not a valid job-name label value: %v", name, errs)
	}
}

func TestOSDJobGolden(t *testing.T) {
	c := testCluster()
	images := Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}
	job := OSDJob(c, images, ceph.KeyTypeAES, cephv1alpha1.CephUser{UID: 64045, GID: 64045}, osdplan.OSDJobSpec{OSDID: 7, Step: osdplan.OSDStepSafe})
	golden(t, "osd-job", job)
	if len(job.Name) > 63 {
		t.Fatalf("name %s is longer than a label value may be", job.Name)
	}
	c.Spec.DefaultFailureDomain = cephv1alpha1.FailureDomainOSD
	if args := OSDJob(c, images, ceph.KeyTypeAES, cephv1alpha1.CephUser{}, osdplan.OSDJobSpec{OSDID: 7, Step: osdplan.OSDStepOut}).Spec.Template.Spec.Containers[0].Args; !strings.Contains(strings.Join(args, " "), "--failure-domain=osd --") {
		t.Fatalf("args %q do not carry the cluster's failure domain", args)
	}
	// A rollout step names no single OSD: no OSD id label (a label of -1
	// is invalid), the OSDs in an annotation and the flags.
	ok := OSDJob(testCluster(), images, ceph.KeyTypeAES, cephv1alpha1.CephUser{UID: 64045, GID: 64045}, osdplan.OSDJobSpec{OSDID: -1, Step: osdplan.OSDStepOKToStop, OSDIDs: []int32{3, 4}})
	golden(t, "osd-job-ok-to-stop", ok)
	if _, has := ok.Labels[OSDIDLabel]; has || ok.Annotations[OSDIDsAnnotation] != "3,4" {
		t.Fatalf("ok-to-stop Job labels %v, annotations %v", ok.Labels, ok.Annotations)
	}
	if args := strings.Join(ok.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--step=ok-to-stop --osd-ids=3,4 ") || strings.Contains(args, "--osd-id=") {
		t.Fatalf("ok-to-stop Job args %q", args)
	}
	noout := OSDJob(testCluster(), images, ceph.KeyTypeAES, cephv1alpha1.CephUser{}, osdplan.OSDJobSpec{OSDID: -1, Step: osdplan.OSDStepSetNoOut})
	if args := strings.Join(noout.Spec.Template.Spec.Containers[0].Args, " "); strings.Contains(args, "--osd-id") || noout.Name == ok.Name {
		t.Fatalf("set-noout Job %s args %q", noout.Name, args)
	}
}

// TestMetadataDeviceLayoutGolden covers a prepare Job whose disk keeps its
// DB and WAL on partitions of a metadata device, one to make and one an
// earlier attempt made, and the OSD Deployment that finds them by GUID.
// agent prepare must accept the Job's targets as they are.
func TestMetadataDeviceLayoutGolden(t *testing.T) {
	c := testCluster()
	images := Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}
	nvme := osdplan.Device{Name: "nvme0n1", ID: "/dev/disk/by-id/nvme-eui.0025388b71b0a1c2", Path: "/dev/disk/by-id/nvme-eui.0025388b71b0a1c2",
		Serial: "S4EWNX0R123456", SizeBytes: 1000204886016}
	data := osdplan.Device{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", Path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4",
		WWN: "0x5000c500a1b2c3d4", Serial: "ZA1B2C3D", SizeBytes: 4000787030016,
		DB: &osdplan.Partition{Role: cephv1alpha1.PartitionDB, Device: nvme, Number: 3, Label: "ceph-db.6f1c3a3e.3",
			StartBytes: 1 << 20, SizeBytes: 160 << 30},
		WAL: &osdplan.Partition{Role: cephv1alpha1.PartitionWAL, Device: nvme, Number: 4, Label: "ceph-wal.6f1c3a3e.4",
			StartBytes: 1<<20 + 160<<30, SizeBytes: 2 << 30, Exists: true, PartUUID: "3b9a1f0e-5c1d-4e2a-9f3b-7c6d5e4f3a21"},
	}
	job, err := PrepareJob(c, images, ceph.KeyTypeAES, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", osdplan.JobSpec{Node: "node-a", Devices: []osdplan.Device{data}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "prepare-job-metadata", job)
	targets, err := prepare.ParseTargets(targetsArg(job.Spec.Template.Spec.Containers[0]))
	if err != nil {
		t.Fatalf("agent prepare refuses the Job's targets: %v", err)
	}
	if len(targets) != 1 || targets[0].DB == nil || targets[0].DB.Number != 3 || targets[0].DB.Exists ||
		targets[0].WAL == nil || !targets[0].WAL.Exists || targets[0].WAL.PartUUID != data.WAL.PartUUID ||
		targets[0].DB.Device.Path != nvme.Path || targets[0].DB.Device.SizeBytes != nvme.SizeBytes {
		t.Errorf("targets %+v", targets)
	}

	osd := data
	osd.DB = &osdplan.Partition{Role: cephv1alpha1.PartitionDB, Device: nvme, Number: 3, Exists: true, PartUUID: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"}
	golden(t, "osd-deployment-metadata", OSDDeployment(c, images, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", osdplan.OSDSpec{ID: 9, Node: "node-a", Device: osd}))
}

// TestSplitDiskGolden covers a prepare Job for the two OSDs of a disk split
// in two (osdsPerDevice), and the OSD Deployment that finds its data
// partition by GUID. agent prepare must accept the Job's targets as they
// are.
func TestSplitDiskGolden(t *testing.T) {
	c := testCluster()
	images := Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}
	nvme := osdplan.Device{Name: "nvme0n1", ID: "/dev/disk/by-id/nvme-eui.0025388b71b0a1c2", Path: "/dev/disk/by-id/nvme-eui.0025388b71b0a1c2",
		Serial: "S4EWNX0R123456", SizeBytes: 1000204886016}
	part := func(n int32, exists bool, uuid string) osdplan.Device {
		size := int64(476937 << 20)
		d := nvme
		d.Name, d.ID = fmt.Sprintf("nvme0n1p%d", n), fmt.Sprintf("%s-part%d", nvme.ID, n)
		d.Data = &osdplan.Partition{Role: cephv1alpha1.PartitionData, Device: nvme, Number: n, Label: fmt.Sprintf("ceph-osd.6f1c3a3e.%d", n),
			StartBytes: 1<<20 + int64(n-1)*size, SizeBytes: size, Exists: exists, PartUUID: uuid}
		return d
	}
	job, err := PrepareJob(c, images, ceph.KeyTypeAES, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", osdplan.JobSpec{Node: "node-a",
		Devices: []osdplan.Device{part(1, true, "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"), part(2, false, "")}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "prepare-job-split", job)
	targets, err := prepare.ParseTargets(targetsArg(job.Spec.Template.Spec.Containers[0]))
	if err != nil {
		t.Fatalf("agent prepare refuses the Job's targets: %v", err)
	}
	if len(targets) != 2 || targets[0].Data == nil || !targets[0].Data.Exists || targets[1].Data == nil || targets[1].Data.Number != 2 ||
		targets[1].Path != nvme.Path || targets[1].ID != nvme.ID+"-part2" || targets[1].Data.Role != prepare.RoleData {
		t.Errorf("targets %+v", targets)
	}
	osd := part(1, true, "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5")
	dep := OSDDeployment(c, images, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", osdplan.OSDSpec{ID: 12, Node: "node-a", Device: osd})
	golden(t, "osd-deployment-split", dep)
	script := strings.Join(dep.Spec.Template.Spec.InitContainers[0].Command, " ")
	if !strings.Contains(script, "blkid -o device -t PARTUUID='0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5'") ||
		!strings.Contains(script, `'--device' "$data" '--no-systemd'`) || strings.Contains(script, nvme.Path) {
		t.Errorf("the OSD is not activated from its partition by GUID: %s", script)
	}
}

// targetsArg is the value of a container's --targets= argument, "" when
// it has none.
func targetsArg(c corev1.Container) string {
	v := ""
	for _, a := range c.Args {
		if t, ok := strings.CutPrefix(a, "--targets="); ok {
			v = t
		}
	}
	return v
}

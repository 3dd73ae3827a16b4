package resources

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
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

// TestActivateLinksTheDB runs the activate script of an OSD with its DB
// and WAL on a metadata device against a ceph-volume that links them (16,
// 18) and one that leaves them unlinked (20, which takes them only from
// the devices it scans): either way the OSD's directory ends with both
// links to the partitions found by GUID, and the partitions are the ceph
// user's.
func TestActivateLinksTheDB(t *testing.T) {
	data := osdplan.Device{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", Path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4",
		DB:  &osdplan.Partition{Role: cephv1alpha1.PartitionDB, Number: 3, Exists: true, PartUUID: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"},
		WAL: &osdplan.Partition{Role: cephv1alpha1.PartitionWAL, Number: 4, Exists: true, PartUUID: "3b9a1f0e-5c1d-4e2a-9f3b-7c6d5e4f3a21"}}
	dep := OSDDeployment(testCluster(), Images{Operator: "op:1"}, testFSID, osdplan.OSDSpec{ID: 9, Node: "node-a", Device: data})
	cmd := dep.Spec.Template.Spec.InitContainers[0].Command
	if len(cmd) != 3 || cmd[0] != "sh" {
		t.Fatalf("activate command %q", cmd)
	}
	for name, linksItself := range map[string]bool{"ceph-volume 18": true, "ceph-volume 20": false} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			osdDir, bin := filepath.Join(dir, "osd"), filepath.Join(dir, "bin")
			for _, d := range []string{osdDir, bin} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cv := "#!/bin/sh\necho \"ceph-volume $*\" >>\"$LOG\"\n"
			if linksItself {
				cv += "ln -s /dev/nvme0n1p3 \"$OSD_DIR/block.db\"\nln -s /dev/nvme0n1p4 \"$OSD_DIR/block.wal\"\n"
			}
			tools := map[string]string{
				"ceph-volume": cv,
				"blkid":       "#!/bin/sh\ncase \"$*\" in *9d8c7b6a*) echo /dev/nvme0n1p3 ;; *3b9a1f0e*) echo /dev/nvme0n1p4 ;; esac\n",
				"chown":       "#!/bin/sh\necho \"chown $*\" >>\"$LOG\"\n",
			}
			for n, s := range tools {
				if err := os.WriteFile(filepath.Join(bin, n), []byte(s), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			script := strings.ReplaceAll(cmd[2], osdDataDir(9), osdDir)
			log := filepath.Join(dir, "log")
			run := exec.Command("sh", "-c", script)
			run.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "LOG=" + log, "OSD_DIR=" + osdDir}
			if out, err := run.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for link, want := range map[string]string{"block.db": "/dev/nvme0n1p3", "block.wal": "/dev/nvme0n1p4"} {
				if got, err := os.Readlink(filepath.Join(osdDir, link)); err != nil || got != want {
					t.Errorf("%s -> %q (%v), want %s", link, got, err, want)
				}
			}
			raw, _ := os.ReadFile(log)
			calls := string(raw)
			if !strings.Contains(calls, "ceph-volume raw activate --device "+data.Path+" --no-systemd --no-tmpfs --block.db /dev/nvme0n1p3 --block.wal /dev/nvme0n1p4") {
				t.Errorf("calls:\n%s", calls)
			}
			if owned := strings.Contains(calls, "chown ceph:ceph /dev/nvme0n1p3") && strings.Contains(calls, "chown ceph:ceph /dev/nvme0n1p4"); owned == linksItself {
				t.Errorf("partitions chowned by the script: %v, want %v; calls:\n%s", owned, !linksItself, calls)
			}
		})
	}
}

package v1alpha1_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// TestSchemaValidation sends invalid CephClusters and DiskInventories to a
// real API server and checks that each is rejected with a message naming the
// offending field, and that the samples are accepted.
func TestSchemaValidation(t *testing.T) {
	env := testenv.Start(t)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()

	valid := func() map[string]any {
		return map[string]any{
			"image": "quay.io/ceph/ceph:v18.2.4",
			"storage": map[string]any{
				"useAllNodes":   true,
				"useAllDevices": true,
			},
		}
	}
	node := func(fields map[string]any) map[string]any {
		n := map[string]any{"name": "node-a"}
		for k, v := range fields {
			n[k] = v
		}
		return n
	}

	cases := []struct {
		name string
		// mutate turns a valid spec into an invalid one.
		mutate func(spec map[string]any)
		// want are substrings the error must contain: the field and why.
		want []string
	}{
		{"missing image", func(s map[string]any) { delete(s, "image") }, []string{"spec.image", "Required"}},
		{"empty image", func(s map[string]any) { s["image"] = "" }, []string{"spec.image"}},
		{"image with spaces", func(s map[string]any) { s["image"] = "ceph image" }, []string{"spec.image"}},
		{"missing storage", func(s map[string]any) { delete(s, "storage") }, []string{"spec.storage", "Required"}},
		{"relative dataDirHostPath", func(s map[string]any) { s["dataDirHostPath"] = "var/lib/ceph" }, []string{"spec.dataDirHostPath"}},
		{"root dataDirHostPath", func(s map[string]any) { s["dataDirHostPath"] = "/" }, []string{"spec.dataDirHostPath"}},
		{"dataDirHostPath with ..", func(s map[string]any) { s["dataDirHostPath"] = "/var/lib/../etc" }, []string{"spec.dataDirHostPath", ".."}},
		{"system dataDirHostPath", func(s map[string]any) { s["dataDirHostPath"] = "/etc" }, []string{"spec.dataDirHostPath", "system directory"}},
		// Each of these passed the system-directory list before it was
		// checked on the normal form of the path.
		{"dataDirHostPath with a trailing slash", func(s map[string]any) { s["dataDirHostPath"] = "/etc/" }, []string{"spec.dataDirHostPath", "normal form", "write it as /var/lib/ceph-operator"}},
		{"dataDirHostPath of two slashes", func(s map[string]any) { s["dataDirHostPath"] = "//" }, []string{"spec.dataDirHostPath", "normal form", "'//' as its root"}},
		{"dataDirHostPath with //", func(s map[string]any) { s["dataDirHostPath"] = "//etc" }, []string{"spec.dataDirHostPath", "normal form"}},
		{"dataDirHostPath with a . segment", func(s map[string]any) { s["dataDirHostPath"] = "/var/./lib" }, []string{"spec.dataDirHostPath", "normal form"}},
		{"dataDirHostPath ending in /.", func(s map[string]any) { s["dataDirHostPath"] = "/var/lib/." }, []string{"spec.dataDirHostPath", "normal form"}},
		{"dataDirHostPath of /.", func(s map[string]any) { s["dataDirHostPath"] = "/." }, []string{"spec.dataDirHostPath", "normal form"}},
		{"dataDirHostPath in /tmp", func(s map[string]any) { s["dataDirHostPath"] = "/tmp/ceph" }, []string{"spec.dataDirHostPath", "in memory or cleaned by the host"}},
		{"dataDirHostPath of /tmp", func(s map[string]any) { s["dataDirHostPath"] = "/tmp" }, []string{"spec.dataDirHostPath", "in memory or cleaned by the host"}},
		{"dataDirHostPath in /dev/shm", func(s map[string]any) { s["dataDirHostPath"] = "/dev/shm/ceph" }, []string{"spec.dataDirHostPath", "in memory or cleaned by the host"}},
		{"dataDirHostPath in /run", func(s map[string]any) { s["dataDirHostPath"] = "/run/ceph" }, []string{"spec.dataDirHostPath", "in memory or cleaned by the host"}},
		{"dataDirHostPath in /var/run", func(s map[string]any) { s["dataDirHostPath"] = "/var/run/ceph" }, []string{"spec.dataDirHostPath", "in memory or cleaned by the host"}},
		{"dataDirHostPath in /proc", func(s map[string]any) { s["dataDirHostPath"] = "/proc/1/root" }, []string{"spec.dataDirHostPath", "in memory or cleaned by the host"}},
		{"dataDirHostPath in /sys", func(s map[string]any) { s["dataDirHostPath"] = "/sys/fs/ceph" }, []string{"spec.dataDirHostPath", "in memory or cleaned by the host"}},
		{"dataDirHostPath of /var/lib", func(s map[string]any) { s["dataDirHostPath"] = "/var/lib" }, []string{"spec.dataDirHostPath", "system directory"}},
		{"device link of ..", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices": []any{map[string]any{"name": "/dev/disk/by-id/.."}},
			})}
		}, []string{"spec.storage.nodes[0].devices[0].name", "should match"}},
		{"device link of .", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices": []any{map[string]any{"name": "/dev/disk/by-path/."}},
			})}
		}, []string{"spec.storage.nodes[0].devices[0].name", "should match"}},
		{"osdsPerDevice 0", func(s map[string]any) {
			s["storage"].(map[string]any)["config"] = map[string]any{"osdsPerDevice": 0}
		}, []string{"spec.storage.config.osdsPerDevice", "greater than or equal to 1"}},
		{"osdsPerDevice 9 on a disk", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices": []any{map[string]any{"name": "nvme0n1", "config": map[string]any{"osdsPerDevice": 9}}},
			})}
		}, []string{"spec.storage.nodes[0].devices[0].config.osdsPerDevice", "less than or equal to 8"}},
		{"osdsPerDevice 9 on a node", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{"config": map[string]any{"osdsPerDevice": 9}})}
		}, []string{"spec.storage.nodes[0].config.osdsPerDevice", "less than or equal to 8"}},
		{"even mon count", func(s map[string]any) { s["mon"] = map[string]any{"count": 2} }, []string{"spec.mon.count", "odd"}},
		{"zero mon count", func(s map[string]any) { s["mon"] = map[string]any{"count": 0} }, []string{"spec.mon.count"}},
		{"mon count above 9", func(s map[string]any) { s["mon"] = map[string]any{"count": 11} }, []string{"spec.mon.count"}},
		{"no node selected", func(s map[string]any) { s["storage"] = map[string]any{"useAllDevices": true} }, []string{"spec.storage", "selects no node"}},
		{"duplicate node", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(nil), node(nil)}
		}, []string{"spec.storage.nodes", "Duplicate"}},
		{"node name with capitals", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{map[string]any{"name": "Node_A"}}
		}, []string{"spec.storage.nodes[0].name"}},
		{"devices and deviceFilter on one node", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices":      []any{map[string]any{"name": "sdb"}},
				"deviceFilter": "^sd",
			})}
		}, []string{"spec.storage.nodes[0]", "explicit devices list"}},
		{"devices and useAllDevices on one node", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices":       []any{map[string]any{"name": "sdb"}},
				"useAllDevices": true,
			})}
		}, []string{"spec.storage.nodes[0]", "explicit devices list"}},
		{"device given as /dev/sdb", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices": []any{map[string]any{"name": "/dev/sdb"}},
			})}
		}, []string{"spec.storage.nodes[0].devices[0].name"}},
		{"duplicate device", func(s map[string]any) {
			s["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices": []any{map[string]any{"name": "sdb"}, map[string]any{"name": "sdb"}},
			})}
		}, []string{"spec.storage.nodes[0].devices", "Duplicate"}},
		{"deviceFilter too long", func(s map[string]any) {
			s["storage"].(map[string]any)["deviceFilter"] = strings.Repeat("a", 300)
		}, []string{"spec.storage.deviceFilter"}},
		{"bad deviceClass", func(s map[string]any) {
			s["storage"].(map[string]any)["config"] = map[string]any{"deviceClass": "Fast SSD"}
		}, []string{"spec.storage.config.deviceClass"}},
		{"minSize below 1Gi", func(s map[string]any) {
			s["storage"].(map[string]any)["config"] = map[string]any{"minSize": "100Mi"}
		}, []string{"spec.storage.config.minSize", "at least 1Gi"}},
		{"unknown cleanup confirmation", func(s map[string]any) {
			s["cleanupPolicy"] = map[string]any{"confirmation": "yes"}
		}, []string{"spec.cleanupPolicy.confirmation", "yes-really-destroy-data"}},
		{"bad toleration operator", func(s map[string]any) {
			s["placement"] = map[string]any{"tolerations": []any{map[string]any{"key": "k", "operator": 3}}}
		}, []string{"spec.placement.tolerations[0].operator"}},
		{"decommission naming neither disk nor OSD", func(s map[string]any) {
			s["storage"].(map[string]any)["decommission"] = []any{map[string]any{"node": "node-a"}}
		}, []string{"spec.storage.decommission[0]", "names the OSD's disk (device) or its OSD id"}},
		{"decommission of a negative OSD id", func(s map[string]any) {
			s["storage"].(map[string]any)["decommission"] = []any{map[string]any{"node": "node-a", "osdID": -1}}
		}, []string{"spec.storage.decommission[0].osdID"}},
		{"decommission of a directory link", func(s map[string]any) {
			s["storage"].(map[string]any)["decommission"] = []any{map[string]any{"node": "node-a", "device": "/dev/disk/by-id/.."}}
		}, []string{"spec.storage.decommission[0].device", "should match"}},
		{"wrong type for useAllNodes", func(s map[string]any) {
			s["storage"].(map[string]any)["useAllNodes"] = "yes"
		}, []string{"spec.storage.useAllNodes"}},
	}
	if len(cases) < 20 {
		t.Fatalf("only %d invalid cases", len(cases))
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := valid()
			tc.mutate(spec)
			obj := cephCluster(fmt.Sprintf("invalid-%d", i), spec)
			err := env.Client.Create(ctx, obj)
			if err == nil {
				t.Fatalf("accepted an invalid CephCluster: %v", spec)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}

	t.Run("decommission requests by id, link, loop device and OSD are accepted", func(t *testing.T) {
		spec := valid()
		spec["storage"].(map[string]any)["decommission"] = []any{
			map[string]any{"node": "node-a", "device": "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"},
			map[string]any{"node": "node-a", "device": "/dev/loop3", "replace": true},
			map[string]any{"node": "node-b", "device": "sdc", "osdID": 4},
			map[string]any{"node": "node-c", "osdID": 0},
		}
		if err := env.Client.Create(ctx, cephCluster("decommission", spec)); err != nil {
			t.Fatalf("valid decommission requests rejected: %v", err)
		}
	})

	t.Run("valid spec is accepted with defaults", func(t *testing.T) {
		obj := cephCluster("defaults", valid())
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("valid CephCluster rejected: %v", err)
		}
		if got, _, _ := unstructured.NestedString(obj.Object, "spec", "dataDirHostPath"); got != "/var/lib/ceph-operator" {
			t.Errorf("dataDirHostPath default = %q", got)
		}
		if got, _, _ := unstructured.NestedInt64(obj.Object, "spec", "mon", "count"); got != 3 {
			t.Errorf("mon.count default = %d", got)
		}
	})

	t.Run("clean paths are accepted", func(t *testing.T) {
		for i, p := range []string{"/var/lib/ceph-operator", "/srv/ceph", "/data/ceph..old", "/var/lib/.ceph", "/mnt/tmp"} {
			spec := valid()
			spec["dataDirHostPath"] = p
			spec["storage"].(map[string]any)["nodes"] = []any{node(map[string]any{
				"devices": []any{map[string]any{"name": "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"}, map[string]any{"name": "/dev/disk/by-id/nvme-eui.0025388b71b2c0a1"}},
			})}
			if err := env.Client.Create(ctx, cephCluster(fmt.Sprintf("clean-%d", i), spec)); err != nil {
				t.Errorf("dataDirHostPath %q: %v", p, err)
			}
		}
	})

	t.Run("name is bounded so every derived name fits", func(t *testing.T) {
		longest := strings.Repeat("n", cephv1alpha1.MaxClusterNameLength)
		if err := env.Client.Create(ctx, cephCluster(longest, valid())); err != nil {
			t.Fatalf("a %d-character name was refused: %v", len(longest), err)
		}
		for _, name := range []string{longest + "x", strings.Repeat("n", 62)} {
			err := env.Client.Create(ctx, cephCluster(name, valid()))
			if err == nil || !strings.Contains(err.Error(), "at most 42 characters") {
				t.Errorf("a %d-character name: want an error stating the bound of 42, got %v", len(name), err)
			}
		}
		err := env.Client.Create(ctx, cephCluster("ceph.a", valid()))
		if err == nil || !strings.Contains(err.Error(), "no '.'") {
			t.Errorf("a name with a dot: want an error, got %v", err)
		}
	})

	t.Run("a cluster named before the bound can still be updated and deleted", func(t *testing.T) {
		// Such a cluster exists where the CRD had no bound: make one by
		// removing the rules for a moment.
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		key := client.ObjectKey{Name: "cephclusters.ceph.cephoperator.io"}
		rootRules := func(set any) any {
			if err := env.Client.Get(ctx, key, crd); err != nil {
				t.Fatal(err)
			}
			versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
			schema := versions[0].(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)
			old := schema["x-kubernetes-validations"]
			if set == nil {
				delete(schema, "x-kubernetes-validations")
			} else {
				schema["x-kubernetes-validations"] = set
			}
			_ = unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions")
			if err := env.Client.Update(ctx, crd); err != nil {
				t.Fatal(err)
			}
			return old
		}
		rules := rootRules(nil)
		if rules == nil {
			t.Fatal("the CRD has no rules on its root")
		}
		old := cephCluster(strings.Repeat("o", 60), valid())
		old.SetFinalizers([]string{"ceph.cephoperator.io/cleanup"})
		testenv.Eventually(t, 10*time.Second, func() error { return env.Client.Create(ctx, old) })
		rootRules(rules)
		testenv.Eventually(t, 10*time.Second, func() error {
			err := env.Client.Create(ctx, cephCluster(strings.Repeat("p", 60), valid()))
			if err == nil {
				return errors.New("the bound is not back")
			}
			return nil
		})
		// Its spec and finalizers can change, so its deletion completes.
		_ = unstructured.SetNestedField(old.Object, true, "spec", "storage", "allowLoopDevices")
		if err := env.Client.Update(ctx, old); err != nil {
			t.Fatalf("updating a cluster named before the bound: %v", err)
		}
		if err := env.Client.Delete(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(old), old); err != nil {
			t.Fatal(err)
		}
		old.SetFinalizers(nil)
		if err := env.Client.Update(ctx, old); err != nil {
			t.Fatalf("removing the finalizer of a cluster named before the bound: %v", err)
		}
	})

	t.Run("DiskInventory name must equal its nodeName", func(t *testing.T) {
		di := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "ceph.cephoperator.io/v1alpha1", "kind": "DiskInventory",
			"metadata": map[string]any{"name": "node-p", "namespace": "default"},
			"spec":     map[string]any{"nodeName": "node-q"},
		}}
		err := env.Client.Create(ctx, di)
		if err == nil || !strings.Contains(err.Error(), "metadata.name must equal spec.nodeName") {
			t.Fatalf("DiskInventory node-p for node node-q: want a refusal, got %v", err)
		}
	})

	t.Run("dataDirHostPath is immutable", func(t *testing.T) {
		obj := cephCluster("immutable", valid())
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(obj.Object, "/srv/ceph", "spec", "dataDirHostPath")
		err := env.Client.Update(ctx, obj)
		if err == nil || !strings.Contains(err.Error(), "spec.dataDirHostPath is immutable") {
			t.Fatalf("changing dataDirHostPath: want an immutability error, got %v", err)
		}
	})

	t.Run("DiskInventory nodeName is required and immutable", func(t *testing.T) {
		di := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "ceph.cephoperator.io/v1alpha1", "kind": "DiskInventory",
			"metadata": map[string]any{"name": "node-x", "namespace": "default"},
			"spec":     map[string]any{},
		}}
		err := env.Client.Create(ctx, di)
		if err == nil || !strings.Contains(err.Error(), "spec.nodeName") {
			t.Fatalf("DiskInventory without nodeName: want an error naming spec.nodeName, got %v", err)
		}
		_ = unstructured.SetNestedField(di.Object, "node-x", "spec", "nodeName")
		if err := env.Client.Create(ctx, di); err != nil {
			t.Fatal(err)
		}
		_ = unstructured.SetNestedField(di.Object, "node-y", "spec", "nodeName")
		err = env.Client.Update(ctx, di)
		if err == nil || !strings.Contains(err.Error(), "spec.nodeName is immutable") {
			t.Fatalf("changing nodeName: want an immutability error, got %v", err)
		}
	})

	t.Run("samples are accepted", func(t *testing.T) {
		var files []string
		for _, dir := range []string{"samples", filepath.Join("manifests", "samples")} {
			dir = filepath.Join(testenv.RepoRoot(), "config", dir)
			found, err := filepath.Glob(filepath.Join(dir, "ceph_*.yaml"))
			if err != nil || len(found) == 0 {
				t.Fatalf("no samples in %s: %v", dir, err)
			}
			files = append(files, found...)
		}
		for i, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(raw, &obj.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			obj.SetNamespace("default")
			obj.SetName(fmt.Sprintf("sample%d-%s", i, obj.GetName()))
			if obj.GetKind() == "DiskInventory" {
				// An inventory is named after its node.
				_ = unstructured.SetNestedField(obj.Object, obj.GetName(), "spec", "nodeName")
			}
			if err := env.Client.Create(ctx, obj); err != nil {
				t.Errorf("sample %s rejected: %v", filepath.Base(f), err)
			}
		}
	})
}

func cephCluster(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ceph.cephoperator.io/v1alpha1",
		"kind":       "CephCluster",
		"metadata":   map[string]any{"name": name, "namespace": "default"},
		"spec":       spec,
	}}
}

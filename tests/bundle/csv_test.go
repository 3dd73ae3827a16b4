package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"sigs.k8s.io/yaml"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
)

// managerContainer returns the operator's container in the CSV's Deployment.
func managerContainer(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) (image string, env map[string]string) {
	t.Helper()
	for _, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != "manager" {
				continue
			}
			env = map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			return c.Image, env
		}
	}
	t.Fatal("the CSV's install strategy has no manager container")
	return "", nil
}

// TestOneOperatorImage: the image OLM runs the operator from, the image its
// node pods copy the binary from (RELATED_IMAGE_OPERATOR), the console's
// containerImage and the operator entry of relatedImages are one reference,
// and the default Ceph image is listed for mirroring.
func TestOneOperatorImage(t *testing.T) {
	csv := loadBundle(t).CSV
	image, env := managerContainer(t, csv)
	if image == "" {
		t.Fatal("the manager container has no image")
	}
	if got := env[manager.OperatorImageEnv]; got != image {
		t.Errorf("%s = %q, manager image %q", manager.OperatorImageEnv, got, image)
	}
	if got := csv.Annotations["containerImage"]; got != image {
		t.Errorf("containerImage annotation %q, manager image %q", got, image)
	}
	related := map[string]string{}
	for _, r := range csv.Spec.RelatedImages {
		related[r.Name] = r.Image
	}
	if got := related["operator"]; got != image {
		t.Errorf("relatedImages operator = %q, manager image %q (relatedImages %v)", got, image, csv.Spec.RelatedImages)
	}
	ceph := env["RELATED_IMAGE_CEPH"]
	if ceph == "" || related["ceph"] != ceph {
		t.Errorf("relatedImages ceph = %q, RELATED_IMAGE_CEPH %q", related["ceph"], ceph)
	}
	// The default Ceph image is the example's spec.image.
	for _, ex := range almExamples(t, csv) {
		if img, _ := ex["spec"].(map[string]any)["image"].(string); img != ceph {
			t.Errorf("alm-examples %v uses image %q, relatedImages lists %q", ex["kind"], img, ceph)
		}
	}
}

func almExamples(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) []map[string]any {
	t.Helper()
	var examples []map[string]any
	if err := json.Unmarshal([]byte(csv.Annotations["alm-examples"]), &examples); err != nil {
		t.Fatalf("alm-examples: %v", err)
	}
	return examples
}

// TestConsole checks what a user sees first in the console: DiskInventory
// hidden and without an example, a CephCluster example and first-click
// resource that only preview, an uninstall message, a Documentation link.
func TestConsole(t *testing.T) {
	csv := loadBundle(t).CSV
	var internal []string
	if err := json.Unmarshal([]byte(csv.Annotations["operators.operatorframework.io/internal-objects"]), &internal); err != nil {
		t.Fatalf("internal-objects: %v", err)
	}
	if !slices.Equal(internal, []string{"diskinventories.ceph.cephoperator.io"}) {
		t.Errorf("internal-objects = %q, want DiskInventory only", internal)
	}

	examples := almExamples(t, csv)
	var init map[string]any
	if err := json.Unmarshal([]byte(csv.Annotations["operatorframework.io/initialization-resource"]), &init); err != nil {
		t.Fatalf("initialization-resource: %v", err)
	}
	if len(examples) != 1 {
		t.Fatalf("alm-examples has %d examples, want the CephCluster only", len(examples))
	}
	for name, obj := range map[string]map[string]any{"alm-examples": examples[0], "initialization-resource": init} {
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var cluster cephv1alpha1.CephCluster
		if err := json.Unmarshal(raw, &cluster); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cluster.Kind != "CephCluster" || cluster.Spec.Storage.Provisioning != cephv1alpha1.ProvisioningPreview {
			t.Errorf("%s: kind %q, provisioning %q; want a CephCluster that previews", name, cluster.Kind, cluster.Spec.Storage.Provisioning)
		}
	}
	if !strings.Contains(fmt.Sprint(examples[0]), "Preview") || fmt.Sprint(examples[0]["spec"]) != fmt.Sprint(init["spec"]) {
		t.Errorf("the initialization resource differs from the example:\n%v\n%v", init["spec"], examples[0]["spec"])
	}

	msg := csv.Annotations["operator.openshift.io/uninstall-message"]
	if !strings.Contains(msg, "Delete every CephCluster") || !strings.Contains(msg, "kept") {
		t.Errorf("uninstall-message %q does not tell to delete CephClusters first and that data is kept", msg)
	}
	if !strings.Contains(csv.Spec.Description, "`spec.storage.provisioning: Enabled`") {
		t.Error("the description does not explain how to switch from Preview to Enabled")
	}
	if !slices.ContainsFunc(csv.Spec.Links, func(l operatorsv1alpha1.AppLink) bool {
		return l.Name == "Documentation" && strings.HasPrefix(l.URL, "https://")
	}) {
		t.Errorf("no Documentation link in %v", csv.Spec.Links)
	}
}

// TestOpenShiftVersions: the bundle declares the OpenShift versions whose
// Kubernetes is at least minKubeVersion (OpenShift 4.N ships Kubernetes
// 1.(N+13)), as the OpenShift catalogs require when minKubeVersion is set.
func TestOpenShiftVersions(t *testing.T) {
	csv := loadBundle(t).CSV
	m := regexp.MustCompile(`^1\.(\d+)\.\d+$`).FindStringSubmatch(csv.Spec.MinKubeVersion)
	if m == nil {
		t.Fatalf("minKubeVersion %q is not 1.N.P", csv.Spec.MinKubeVersion)
	}
	minor, _ := strconv.Atoi(m[1])
	raw, err := os.ReadFile(filepath.Join(bundleDir, "metadata", "annotations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	if got, want := meta.Annotations["com.redhat.openshift.versions"], fmt.Sprintf("v4.%d", minor-13); got != want {
		t.Errorf("com.redhat.openshift.versions = %q, want %q for minKubeVersion %s", got, want, csv.Spec.MinKubeVersion)
	}
}

package repocheck

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var (
	kubernetesPin  = regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes v1\.(\d+)\.(\d+)\s*$`)
	stagingReplace = regexp.MustCompile(`(?m)^\s*(k8s\.io/[a-z-]+) => k8s\.io/[a-z-]+ (v\S+)\s*$`)
	minKubeVersion = regexp.MustCompile(`(?m)^  minKubeVersion: (\S+)\s*$`)
	makeMinKube    = regexp.MustCompile(`(?m)^MIN_KUBE_VERSION \?= (\S+)\s*$`)
)

// TestMinKubeVersionIsTheTestedOne: the minKubeVersion the bundle declares
// (the Makefile's MIN_KUBE_VERSION, which make bundle writes into the
// generated CSV) is the Kubernetes minor version make
// test-minkube runs the envtests against, the one hack/tools/controlplane-min
// pins, and that module's staging modules are all of the same release.
func TestMinKubeVersionIsTheTestedOne(t *testing.T) {
	root := repoRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "hack", "tools", "controlplane-min", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	pin := kubernetesPin.FindStringSubmatch(string(gomod))
	if pin == nil {
		t.Fatal("hack/tools/controlplane-min/go.mod does not require k8s.io/kubernetes v1.x.y")
	}
	minor, patch := pin[1], pin[2]
	staging := stagingReplace.FindAllStringSubmatch(string(gomod), -1)
	if len(staging) == 0 {
		t.Error("hack/tools/controlplane-min/go.mod replaces no staging module")
	}
	for _, r := range staging {
		if r[2] != "v0."+minor+"."+patch {
			t.Errorf("hack/tools/controlplane-min/go.mod: %s is replaced by %s, want v0.%s.%s (k8s.io/kubernetes v1.%s.%s)", r[1], r[2], minor, patch, minor, patch)
		}
	}
	want := "1." + minor + ".0"
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if m := makeMinKube.FindStringSubmatch(string(mk)); m == nil {
		t.Error("the Makefile sets no MIN_KUBE_VERSION ?= default")
	} else if m[1] != want {
		t.Errorf("Makefile: MIN_KUBE_VERSION %s, but make test-minkube tests Kubernetes 1.%s (hack/tools/controlplane-min): want %s", m[1], minor, want)
	}
	csv := filepath.Join("bundle", "manifests", "ceph-operator.clusterserviceversion.yaml")
	b, err := os.ReadFile(filepath.Join(root, csv))
	if err != nil {
		t.Fatal(err)
	}
	if m := minKubeVersion.FindStringSubmatch(string(b)); m == nil {
		t.Errorf("%s has no spec.minKubeVersion", csv)
	} else if m[1] != want {
		t.Errorf("%s: minKubeVersion %s, but make test-minkube tests Kubernetes 1.%s (hack/tools/controlplane-min): want %s", csv, m[1], minor, want)
	}
}

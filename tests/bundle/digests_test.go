package bundle

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/operator-framework/api/pkg/manifests"

	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

// repoRoot is the repository's root, relative to this package.
const repoRoot = "../.."

// TestBundleImageDigests runs `make bundle USE_IMAGE_DIGESTS=true` as a
// release would, on a copy of the repository, against a registry on
// loopback holding an operator image and a Ceph image: every image
// reference of the CSV (the manager's image, RELATED_IMAGE_OPERATOR,
// RELATED_IMAGE_CEPH, containerImage, relatedImages, and the example
// CephCluster's spec.image) must become the pushed image's digest, each
// image listed once in relatedImages, and the bundle must still validate. A second run, with
// an image the registry does not have, must fail and say what to push.
func TestBundleImageDigests(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join(repoRoot, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	tools := []string{"controller-gen", "kustomize", "operator-sdk"}
	for _, tool := range tools {
		gate.File(t, filepath.Join(bin, tool), "needs bin/"+tool+": make test builds it (or make bundle)")
	}
	gate.Tools(t, "make and git", "make", "git")

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	operatorRef := host + "/ceph-operator/ceph-operator:v0.1.0"
	cephRef := host + "/ceph/ceph:v19.2.3"
	digests := map[string]string{}
	for _, ref := range []string{operatorRef, cephRef} {
		digests[ref] = push(t, ref)
	}

	work := copyRepo(t)
	out, err := makeBundle(t, work, bin, tools, "IMG="+operatorRef, "CEPH_IMAGE="+cephRef)
	if err != nil {
		t.Fatalf("make bundle USE_IMAGE_DIGESTS=true: %v\n%s", err, out)
	}
	b, err := manifests.GetBundleFromDir(filepath.Join(work, "bundle"))
	if err != nil || b.CSV == nil {
		t.Fatalf("reading the generated bundle: %v", err)
	}
	csv := b.CSV
	pinnedOperator := host + "/ceph-operator/ceph-operator@" + digests[operatorRef]
	pinnedCeph := host + "/ceph/ceph@" + digests[cephRef]
	image, env := managerContainer(t, csv)
	related := map[string]string{}
	for _, r := range csv.Spec.RelatedImages {
		related[r.Name] = r.Image
	}
	for _, c := range []struct{ what, got, want string }{
		{"manager image", image, pinnedOperator},
		{manager.OperatorImageEnv, env[manager.OperatorImageEnv], pinnedOperator},
		{"containerImage", csv.Annotations["containerImage"], pinnedOperator},
		{"relatedImages operator", related["operator"], pinnedOperator},
		{"RELATED_IMAGE_CEPH", env["RELATED_IMAGE_CEPH"], pinnedCeph},
		{"relatedImages ceph", related["ceph"], pinnedCeph},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	for _, ex := range almExamples(t, csv) {
		if img, _ := ex["spec"].(map[string]any)["image"].(string); img != pinnedCeph {
			t.Errorf("alm-examples %v: spec.image %q, want %q", ex["kind"], img, pinnedCeph)
		}
	}
	if first := csv.Annotations["operatorframework.io/initialization-resource"]; !strings.Contains(first, `"image":"`+pinnedCeph+`"`) {
		t.Errorf("the first-click resource %s does not name %s", first, pinnedCeph)
	}
	if len(csv.Spec.RelatedImages) != 2 {
		t.Errorf("relatedImages %v, want the operator and the Ceph image", csv.Spec.RelatedImages)
	}

	// An image that was never pushed: the run fails, and says so.
	out, err = makeBundle(t, work, bin, tools, "IMG="+host+"/ceph-operator/ceph-operator:v9.9.9", "CEPH_IMAGE="+cephRef)
	if err == nil {
		t.Fatalf("make bundle USE_IMAGE_DIGESTS=true with an image the registry lacks succeeded:\n%s", out)
	}
	if !strings.Contains(out, "push IMG ("+host+"/ceph-operator/ceph-operator:v9.9.9) first") {
		t.Errorf("the failed run does not say which image to push:\n%s", out)
	}
}

// push writes a small random image to ref and returns its digest.
func push(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// copyRepo copies the repository's files (tracked, and untracked ones git
// does not ignore) to a temporary directory, so that make bundle can
// rewrite bundle/ and config/ without touching the checkout. bin/ is a
// link to the checkout's, for the tools.
func copyRepo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	ls := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	list, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	work := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		if f == "" || f == "bin" || strings.HasPrefix(f, "bin/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(work, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "bin"), filepath.Join(work, "bin")); err != nil {
		t.Fatal(err)
	}
	return work
}

// makeBundle runs make bundle USE_IMAGE_DIGESTS=true in dir with vars. The
// tools are taken as they are (-o): the copy's fresh timestamps must not
// make it rebuild them into the checkout's bin/.
func makeBundle(t *testing.T, dir, bin string, tools []string, vars ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"-C", dir, "--no-print-directory"}
	for _, tool := range tools {
		args = append(args, "-o", filepath.Join(bin, tool))
	}
	args = append(args, "bundle", "USE_IMAGE_DIGESTS=true")
	args = append(args, vars...)
	cmd := exec.CommandContext(ctx, "make", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

package olm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
)

// publishV2 makes the upgrade's second release through the project's own
// release machinery, as a maintainer would: `make bundle VERSION=0.2.0
// REPLACES=ceph-operator.v0.1.0` in a copy of the source tree (the bundle
// in the tree stays as it is), running the same operator image as 0.1.0;
// then the catalog template that catalog-build staged for 0.1.0 gets the
// new bundle (hack/catalogtmpl, as `make catalog` does), and the catalog is
// rendered from it. Both images are pushed to the node's registry.
func publishV2(ctx context.Context, e *env) error {
	src := filepath.Join(e.p.work, "src-v2")
	if err := copySource(ctx, e.p.root, src); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "make", "-C", src, "--no-print-directory", "bundle",
		"VERSION=0.2.0", "REPLACES="+csvV1, "IMG="+operatorImage); err != nil {
		return err
	}
	v2 := filepath.Join(src, "bundle")
	bundleTar := filepath.Join(e.p.work, "images", "bundle-v2.tar")
	if err := packBundle(ctx, e.p, v2, bundleTar, bundleImageV2); err != nil {
		return err
	}

	root := filepath.Join(e.p.work, "catalog-v2")
	tmpl := filepath.Join(e.p.work, "catalog-v2-template.yaml")
	rendered := filepath.Join(e.p.work, "catalog-v2-bundle.yaml")
	fbc := filepath.Join(e.p.work, "catalog-v2-fbc")
	configs := filepath.Join(root, "configs", "ceph-operator")
	for _, dir := range []string{root, fbc} {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	for _, dir := range []string{configs, fbc} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if _, err := run(ctx, nil, "cp", filepath.Join(e.p.olm, "catalog-work", "template.yaml"), tmpl); err != nil {
		return err
	}
	opm := filepath.Join(e.p.bin, "opm")
	out, err := runStdout(ctx, nil, opm, "render", v2, "--alpha-image-ref-template", bundleImageV2, "--output", "yaml")
	if err != nil {
		return err
	}
	if err := os.WriteFile(rendered, []byte(out), 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "go", "-C", src, "run", "./hack/catalogtmpl", "-template", tmpl, "-bundle", rendered,
		"-csv", filepath.Join(v2, "manifests", "ceph-operator.clusterserviceversion.yaml"), "-channel", "alpha",
		"-catalog", filepath.Join(e.p.olm, "catalog-root", "configs", "ceph-operator", "catalog.yaml"),
		"-out", filepath.Join(fbc, "catalog.yaml")); err != nil {
		return err
	}
	if out, err = runStdout(ctx, nil, opm, "render", fbc, "--output", "yaml"); err != nil {
		return err
	}
	if !strings.Contains(out, "replaces: "+csvV1) {
		return fmt.Errorf("the rendered 0.2.0 catalog has no edge replacing %s:\n%s", csvV1, out)
	}
	if err := os.WriteFile(filepath.Join(configs, "catalog.yaml"), []byte(out), 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, nil, opm, "validate", filepath.Join(root, "configs")); err != nil {
		return err
	}
	if _, err := run(ctx, nil, filepath.Join(e.p.olm, "opm"), "serve", filepath.Join(root, "configs"),
		"--cache-dir", filepath.Join(root, "tmp", "cache"), "--cache-only"); err != nil {
		return err
	}
	catalogTar := filepath.Join(e.p.work, "images", "catalog-v2.tar")
	if _, err := run(ctx, nil, filepath.Join(e.p.bin, "ociimage"), "-o", catalogTar, "-ref", catalogImageV2, "-rootfs", root,
		"-file", filepath.Join(e.p.olm, "opm")+":/bin/opm:0755",
		"-file", filepath.Join(e.p.olm, "grpc_health_probe")+":/bin/grpc_health_probe:0755",
		"-env", pathEnv, "-entrypoint", `["/bin/opm"]`, "-cmd", `["serve","/configs","--cache-dir=/tmp/cache"]`,
		"-label", "operators.operatorframework.io.index.configs.v1=/configs"); err != nil {
		return err
	}
	for _, a := range [][2]string{{bundleTar, bundleImageV2}, {catalogTar, catalogImageV2}} {
		if err := push(ctx, e.cluster, a[0], a[1], a[1]); err != nil {
			return err
		}
	}
	return nil
}

// copySource copies the source tree at root (the files git tracks or would
// track, with their times, so make rebuilds nothing it need not) to dst,
// with bin/ a link to root's.
func copySource(ctx context.Context, root, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	// The test runs as root, often in a checkout another user owns.
	files, err := runStdout(ctx, nil, "git", "-c", "safe.directory="+root, "-C", root,
		"ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		if f == "" || f == "bin" || strings.HasPrefix(f, "bin/") {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, f)); errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			return err
		}
		if _, err := run(ctx, nil, "cp", "-a", filepath.Join(root, f), filepath.Join(dst, f)); err != nil {
			return err
		}
	}
	return os.Symlink(filepath.Join(root, "bin"), filepath.Join(dst, "bin"))
}

// packBundle packs a bundle directory as bundle.Dockerfile does (the same
// paths and labels), as make bundle-build does.
func packBundle(ctx context.Context, p paths, dir, archive, ref string) error {
	args := []string{"-o", archive, "-ref", ref,
		"-file", filepath.Join(dir, "metadata", "annotations.yaml") + ":/metadata/annotations.yaml:0644",
		"-file", filepath.Join(dir, "tests", "scorecard", "config.yaml") + ":/tests/scorecard/config.yaml:0644"}
	manifests, err := os.ReadDir(filepath.Join(dir, "manifests"))
	if err != nil {
		return err
	}
	for _, m := range manifests {
		args = append(args, "-file", filepath.Join(dir, "manifests", m.Name())+":/manifests/"+m.Name()+":0644")
	}
	df, err := os.Open(filepath.Join(p.root, "bundle.Dockerfile"))
	if err != nil {
		return err
	}
	defer func() { _ = df.Close() }()
	sc := bufio.NewScanner(df)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "LABEL "); ok {
			args = append(args, "-label", l)
		}
	}
	_, err = run(ctx, nil, filepath.Join(p.bin, "ociimage"), args...)
	return err
}

// runStdout runs a command and returns its standard output only (the
// standard error goes into the error).
func runStdout(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// checkScorecard fails the test unless every test of every suite passed.
func checkScorecard(t *testing.T, out string) {
	var list scapiv1alpha3.TestList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("reading the scorecard output: %v\n%s", err, out)
	}
	suites := map[string]int{}
	for _, item := range list.Items {
		suites[item.Spec.Labels["suite"]]++
		for _, r := range item.Status.Results {
			if r.State != scapiv1alpha3.PassState {
				t.Errorf("%s (%s): %s %q\n%s", r.Name, item.Spec.Labels["suite"], r.State, r.Errors, r.Log)
			} else {
				t.Logf("%s (%s): pass", r.Name, item.Spec.Labels["suite"])
			}
		}
		if len(item.Status.Results) == 0 {
			t.Errorf("%v reported no result", item.Spec.Entrypoint)
		}
	}
	for _, s := range []string{"basic", "olm", "custom"} {
		if suites[s] == 0 {
			t.Errorf("the scorecard ran no %s test", s)
		}
	}
	if len(list.Items) == 0 {
		t.Fatal(fmt.Errorf("the scorecard ran no test"))
	}
}

package olm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"sigs.k8s.io/yaml"
)

// publishV2 makes the upgrade's second release: the staged bundle
// (bundle-build) as version 0.2.0 replacing 0.1.0, and a catalog whose
// alpha channel holds both; both images are pushed to the node's registry.
func publishV2(ctx context.Context, e *env) error {
	v1 := filepath.Join(e.p.olm, "bundle")
	v2 := filepath.Join(e.p.work, "bundle-v2")
	if err := os.RemoveAll(v2); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "cp", "-a", v1, v2); err != nil {
		return err
	}
	csvPath := filepath.Join(v2, "manifests", "ceph-operator.clusterserviceversion.yaml")
	raw, err := os.ReadFile(csvPath)
	if err != nil {
		return err
	}
	var csv map[string]any
	if err := yaml.Unmarshal(raw, &csv); err != nil {
		return err
	}
	csv["metadata"].(map[string]any)["name"] = csvV2
	spec := csv["spec"].(map[string]any)
	spec["version"] = "0.2.0"
	spec["replaces"] = csvV1
	if raw, err = yaml.Marshal(csv); err != nil {
		return err
	}
	if err := os.WriteFile(csvPath, raw, 0o644); err != nil {
		return err
	}
	bundleTar := filepath.Join(e.p.work, "images", "bundle-v2.tar")
	if err := packBundle(ctx, e.p, v2, bundleTar, bundleImageV2); err != nil {
		return err
	}

	root := filepath.Join(e.p.work, "catalog-v2")
	configs := filepath.Join(root, "configs", "ceph-operator")
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(configs, 0o755); err != nil {
		return err
	}
	opm := filepath.Join(e.p.bin, "opm")
	var parts []string
	for _, args := range [][]string{
		{"init", "ceph-operator", "--default-channel=alpha", "--output", "yaml"},
		{"render", v1, "--alpha-image-ref-template", bundleImage, "--output", "yaml"},
		{"render", v2, "--alpha-image-ref-template", bundleImageV2, "--output", "yaml"},
	} {
		out, err := runStdout(ctx, nil, opm, args...)
		if err != nil {
			return err
		}
		parts = append(parts, out)
	}
	channel := "---\nschema: olm.channel\npackage: ceph-operator\nname: alpha\nentries:\n- name: " + csvV1 + "\n- name: " + csvV2 + "\n  replaces: " + csvV1 + "\n"
	catalog := parts[0] + channel + parts[1] + parts[2]
	if err := os.WriteFile(filepath.Join(configs, "catalog.yaml"), []byte(catalog), 0o644); err != nil {
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

package bundle

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	"sigs.k8s.io/yaml"

	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

// scorecardImage is the image of the built-in scorecard tests; the test
// runs the same program, built from source into bin/scorecard-test.
const scorecardImage = "quay.io/operator-framework/scorecard-test:"

// builtinScorecardTests are the six tests the scorecard-test image provides;
// the bundle's scorecard configuration must run all of them.
var builtinScorecardTests = []string{
	"basic-check-spec",
	"olm-bundle-validation",
	"olm-crds-have-validation",
	"olm-crds-have-resources",
	"olm-spec-descriptors",
	"olm-status-descriptors",
}

// TestBuiltinScorecardTests runs every built-in test listed in the bundle's
// scorecard configuration as `operator-sdk scorecard` would in a pod: the
// scorecard-test program reads the bundle from /bundle. Here /bundle exists
// only inside a private mount namespace whose root is a throwaway tmpfs
// (unshare -m, then chroot), so nothing on the host changes. That needs
// root.
func TestBuiltinScorecardTests(t *testing.T) {
	entrypoints := builtinEntrypoints(t)
	gate.Root(t, "Skipping the built-in scorecard tests: mounting the bundle at /bundle in a private mount namespace needs root")
	bin, err := filepath.Abs("../../bin/scorecard-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("bin/scorecard-test is missing (build it with 'make scorecard-test'): %v", err)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed to run the scorecard tests: %v", err)
	}
	bundle, err := filepath.Abs(bundleDir)
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range builtinScorecardTests {
		t.Run(name, func(t *testing.T) {
			status := runScorecardTest(t, bin, bundle, entrypoints[name])
			if len(status.Results) == 0 {
				t.Fatalf("%s reported no result", name)
			}
			for _, r := range status.Results {
				if r.State != scapiv1alpha3.PassState {
					t.Errorf("%s: state %q, errors %q, suggestions %q\nlog:\n%s", r.Name, r.State, r.Errors, r.Suggestions, r.Log)
				} else {
					t.Logf("%s: %s (suggestions: %q)", r.Name, r.State, r.Suggestions)
				}
			}
		})
	}
}

// builtinEntrypoints reads bundle/tests/scorecard/config.yaml and returns the
// entrypoint of each built-in test, failing when one is missing.
func builtinEntrypoints(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(bundleDir, "tests", "scorecard", "config.yaml"))
	if err != nil {
		t.Fatalf("Reading the bundle's scorecard configuration: %v", err)
	}
	var cfg scapiv1alpha3.Configuration
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		t.Fatalf("Parsing the bundle's scorecard configuration: %v", err)
	}
	found := map[string][]string{}
	for _, stage := range cfg.Stages {
		for _, test := range stage.Tests {
			if !strings.HasPrefix(test.Image, scorecardImage) || len(test.Entrypoint) < 2 {
				continue
			}
			found[test.Entrypoint[1]] = test.Entrypoint
		}
	}
	for _, name := range builtinScorecardTests {
		if _, ok := found[name]; !ok {
			t.Errorf("The scorecard configuration does not run the built-in test %s", name)
		}
	}
	for name := range found {
		if !slices.Contains(builtinScorecardTests, name) {
			t.Errorf("The scorecard configuration runs %s from %s, which is not a built-in test", name, scorecardImage)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return found
}

// runScorecardTest runs one entrypoint of the scorecard-test program with the
// bundle read-only at /bundle and returns the TestStatus it printed.
func runScorecardTest(t *testing.T, bin, bundle string, entrypoint []string) scapiv1alpha3.TestStatus {
	t.Helper()
	root := t.TempDir()
	// The new root is a tmpfs mounted over root inside the namespace; the
	// host only ever sees the empty directory t.TempDir made.
	script := `set -e
mount --make-rprivate /
mount -t tmpfs -o size=16m tmpfs "$ROOT"
mkdir "$ROOT/bundle" "$ROOT/tmp"
mount --bind "$BUNDLE" "$ROOT/bundle"
mount -o remount,bind,ro "$ROOT/bundle"
touch "$ROOT/scorecard-test"
mount --bind "$BIN" "$ROOT/scorecard-test"
cd "$ROOT"
exec chroot "$ROOT" /scorecard-test "$@"`
	// The entrypoint's first word is the program's name in the image.
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh"}, entrypoint[1:]...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), "ROOT="+root, "BUNDLE="+bundle, "BIN="+bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("Running %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(entrypoint, " "), err, stdout.String(), stderr.String())
	}
	var status scapiv1alpha3.TestStatus
	if err := json.Unmarshal(stdout.Bytes(), &status); err != nil {
		t.Fatalf("Parsing the output of %s: %v\n%s", strings.Join(entrypoint, " "), err, stdout.String())
	}
	return status
}

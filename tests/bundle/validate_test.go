// Package bundle checks the committed OLM bundle (bundle/) the way
// OperatorHub and `operator-sdk bundle validate` do, so that `make test`
// fails on a bundle that a catalog or a reviewer would refuse.
package bundle

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	validator "github.com/operator-framework/api/pkg/validation/interfaces"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// bundleDir is the committed bundle, relative to this package.
const bundleDir = "../../bundle"

// k8sVersion is the Kubernetes version the bundle must install on; the
// deprecated-API and OperatorHub validators check the manifests against it.
const k8sVersion = "1.37"

// justifiedWarnings lists every validator warning the bundle is allowed to
// produce, keyed by a substring of the warning's text, with the reason it
// stays. A warning not listed here fails the test, and so does an entry
// that no longer matches any warning, so the list stays exact.
var justifiedWarnings = map[string]string{
	// DiskInventories are written only by the operator and its node agents;
	// the CSV marks them internal (operators.operatorframework.io/
	// internal-objects, checked in TestConsole) so the console offers no
	// form for them, and an example would invite users to create one.
	"Kind=DiskInventory: provided API should have an example annotation": "DiskInventory is an internal object with no example",
	// Issue 5 and the bundle annotations fix the channel to `alpha`, which
	// matches the CSV's maturity; OLM's recommended names (candidate, fast,
	// stable) promise a support level this first release does not make.
	`channel(s) ["alpha"] are not following the recommended naming convention`: "channel alpha is required and matches maturity alpha",
}

// loadBundle reads bundle/ as OLM does.
func loadBundle(t *testing.T) *manifests.Bundle {
	t.Helper()
	b, err := manifests.GetBundleFromDir(bundleDir)
	if err != nil {
		t.Fatalf("Loading the bundle from %s: %v", bundleDir, err)
	}
	if b.CSV == nil {
		t.Fatalf("The bundle in %s has no ClusterServiceVersion", bundleDir)
	}
	return b
}

func TestBundleValidators(t *testing.T) {
	b := loadBundle(t)

	errs, warnings := runValidators(b)
	for _, e := range errs {
		t.Errorf("Validator error: %s", e)
	}

	matched := map[string]bool{}
	for _, w := range warnings {
		key := justifiedKey(w)
		if key == "" {
			t.Errorf("Unjustified validator warning (fix the bundle, or justify it in justifiedWarnings): %s", w)
			continue
		}
		matched[key] = true
		t.Logf("Justified warning: %s (%s)", w, justifiedWarnings[key])
	}
	for key := range justifiedWarnings {
		if !matched[key] {
			t.Errorf("justifiedWarnings lists %q but no validator warns about it any more; remove the entry", key)
		}
	}
}

// bundleValidators are the validators OperatorHub and `operator-sdk bundle
// validate --select-optional suite=operatorframework` run.
var bundleValidators = slices.Concat(validation.DefaultBundleValidators, validator.Validators{
	validation.OperatorHubV2Validator,
	validation.StandardCapabilitiesValidator,
	validation.StandardCategoriesValidator,
	validation.GoodPracticesValidator,
	validation.AlphaDeprecatedAPIsValidator,
})

// runValidators runs bundleValidators on b for k8sVersion and returns the
// text of every error and every warning.
func runValidators(b *manifests.Bundle) (errs, warnings []string) {
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": k8sVersion})
	for _, result := range bundleValidators.Validate(objs...) {
		for _, e := range result.Errors {
			errs = append(errs, result.Name+": "+e.Error())
		}
		for _, w := range result.Warnings {
			warnings = append(warnings, result.Name+": "+w.Error())
		}
	}
	return errs, warnings
}

// TestBundleValidatorsCatchBrokenBundle makes sure the harness above can
// fail: a CSV with an unknown category, an unknown capability level and an
// owned CRD without resources must produce errors.
func TestBundleValidatorsCatchBrokenBundle(t *testing.T) {
	b := loadBundle(t)
	b.CSV.Annotations["categories"] = "Not A Category"
	b.CSV.Annotations["capabilities"] = "Magic"
	b.CSV.Spec.MinKubeVersion = "not-a-version"
	errs, _ := runValidators(b)
	for _, want := range []string{"Not A Category", "Magic", "not-a-version"} {
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("No validator error mentions %q; errors: %q", want, errs)
		}
	}
}

// justifiedKey returns the justifiedWarnings key that matches warning, or "".
func justifiedKey(warning string) string {
	for key := range justifiedWarnings {
		if strings.Contains(warning, key) {
			return key
		}
	}
	return ""
}

// TestCSVPermissionsHaveNoWildcards enforces the design's least-privilege
// rule on what OLM grants: every rule names its API groups, resources and
// verbs explicitly.
func TestCSVPermissionsHaveNoWildcards(t *testing.T) {
	csv := loadBundle(t).CSV
	install := csv.Spec.InstallStrategy.StrategySpec
	if len(install.Permissions) == 0 {
		t.Fatalf("The CSV grants no namespaced permissions; the bundle looks incomplete")
	}
	check := func(kind string, perms []operatorsv1alpha1.StrategyDeploymentPermissions) {
		for _, p := range perms {
			for i, rule := range p.Rules {
				if hasWildcard(rule) {
					t.Errorf("%s of service account %s, rule %d uses a wildcard: %+v", kind, p.ServiceAccountName, i, rule)
				}
			}
		}
	}
	check("permissions", install.Permissions)
	check("clusterPermissions", install.ClusterPermissions)
}

func hasWildcard(rule rbacv1.PolicyRule) bool {
	for _, list := range [][]string{rule.Verbs, rule.APIGroups, rule.Resources, rule.ResourceNames, rule.NonResourceURLs} {
		if slices.Contains(list, "*") {
			return true
		}
	}
	return false
}

// TestAnnotationsMatchDockerfile checks that bundle.Dockerfile labels the
// bundle image exactly as bundle/metadata/annotations.yaml describes it:
// OLM reads the labels from the image, tools read the file.
func TestAnnotationsMatchDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(bundleDir, "metadata", "annotations.yaml"))
	if err != nil {
		t.Fatalf("Reading annotations: %v", err)
	}
	var meta struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatalf("Parsing annotations: %v", err)
	}
	if len(meta.Annotations) == 0 {
		t.Fatalf("bundle/metadata/annotations.yaml has no annotations")
	}

	f, err := os.Open(filepath.Join(bundleDir, "..", "bundle.Dockerfile"))
	if err != nil {
		t.Fatalf("Opening bundle.Dockerfile: %v", err)
	}
	defer func() { _ = f.Close() }()
	labels := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "LABEL ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			t.Errorf("bundle.Dockerfile: cannot parse %q", line)
			continue
		}
		labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("Reading bundle.Dockerfile: %v", err)
	}

	for k, v := range meta.Annotations {
		if got, ok := labels[k]; !ok {
			t.Errorf("bundle.Dockerfile lacks label %s=%s", k, v)
		} else if got != v {
			t.Errorf("bundle.Dockerfile labels %s=%s, annotations.yaml says %s", k, got, v)
		}
	}
	for k := range labels {
		if _, ok := meta.Annotations[k]; !ok {
			t.Errorf("bundle.Dockerfile has label %s that annotations.yaml lacks", k)
		}
	}
	for k, want := range map[string]string{
		"operators.operatorframework.io.bundle.channels.v1":        "alpha",
		"operators.operatorframework.io.bundle.channel.default.v1": "alpha",
		"operators.operatorframework.io.bundle.package.v1":         "ceph-operator",
	} {
		if got := meta.Annotations[k]; got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
}

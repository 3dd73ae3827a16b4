// Package prometheus checks the operator's alerting rules
// (config/prometheus/rules.yaml) and Grafana dashboard
// (config/grafana/ceph-operator-dashboard.json): every query uses only the
// series the operator exports (internal/metrics.Names), every alert of
// issue 20 exists with a severity, a duration, annotations and a runbook
// section in docs/alerts.md, and, with bin/promtool (make test,
// make test-alerts), the rules pass `promtool check rules` and the cases
// of rules_test.yaml pass `promtool test rules`; with bin/prometheus, a
// real Prometheus on loopback evaluates them on scraped series.
//
// Settings: CEPH_OPERATOR_PROMETHEUS=1 (gate.Prometheus) makes a missing
// bin/promtool or bin/prometheus a failure instead of a skip.
package prometheus

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ceph-operator/ceph-operator/internal/metrics"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

const (
	// root is the repository, relative to this package.
	root      = "../.."
	rulesPath = "config/prometheus/rules.yaml"
	alertsDoc = "docs/alerts.md"
	// runbookBase is where runbook_url points: docs/alerts.md on the
	// project's main branch, followed by the alert's section.
	runbookBase = "https://github.com/ceph-operator/ceph-operator/blob/main/docs/alerts.md#"
)

// issueAlerts are the alerts issue 20 asks for, each with what it covers.
var issueAlerts = map[string]string{
	"CephOperatorHealthNotOK":        "Ceph health not OK for N minutes",
	"CephOperatorOSDDown":            "an OSD down",
	"CephOperatorDiskPrepareFailing": "a disk whose prepare keeps failing",
	"CephOperatorOSDDiskTrouble":     "an OSD whose disk is missing or whose daemon keeps crashing (issue 15)",
	"CephOperatorInventoryStale":     "a node whose inventory is stale",
	"CephOperatorProvisioningStuck":  "provisioning stuck",
	"CephOperatorMonQuorumAtRisk":    "monitors below quorum-safe count",
}

type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type prometheusRule struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(readFile(t, rulesPath), &pr); err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Fatalf("%s is a %s %s, want a monitoring.coreos.com/v1 PrometheusRule", rulesPath, pr.APIVersion, pr.Kind)
	}
	var rules []rule
	for _, g := range pr.Spec.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", rulesPath)
	}
	return rules
}

// ruleFile writes the PrometheusRule's spec, the plain rule file Prometheus
// reads, into dir as rules.yaml: the PrometheusRule stays the one source.
func ruleFile(t *testing.T, dir string) string {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal(readFile(t, rulesPath), &obj); err != nil {
		t.Fatal(err)
	}
	spec, err := yaml.Marshal(obj["spec"])
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRulesInKustomization: config/prometheus deploys the rules with the
// ServiceMonitor.
func TestRulesInKustomization(t *testing.T) {
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(readFile(t, "config/prometheus/kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(k.Resources, "rules.yaml") {
		t.Errorf("config/prometheus/kustomization.yaml lists %q, not rules.yaml", k.Resources)
	}
}

// TestIssueAlerts: each alert of the issue exists, and every alert has a
// duration, a severity, a summary and description naming the namespace
// and cluster, and a runbook_url into a section of docs/alerts.md.
func TestIssueAlerts(t *testing.T) {
	rules := loadRules(t)
	doc := string(readFile(t, alertsDoc))
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,3} (.+)$`).FindAllStringSubmatch(doc, -1) {
		anchors[githubAnchor(m[1])] = true
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		seen[r.Alert] = true
		d, err := time.ParseDuration(r.For)
		if err != nil || d < time.Minute {
			t.Errorf("%s: for %q, want a duration of a minute or more", r.Alert, r.For)
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
		for _, a := range []string{"summary", "description"} {
			for _, l := range []string{"$labels.namespace", "$labels.cluster"} {
				if !strings.Contains(r.Annotations[a], l) {
					t.Errorf("%s: %s does not name %s: %q", r.Alert, a, l, r.Annotations[a])
				}
			}
		}
		url := r.Annotations["runbook_url"]
		if !strings.HasPrefix(url, runbookBase) {
			t.Errorf("%s: runbook_url %q is not under %s", r.Alert, url, runbookBase)
		} else if a := strings.TrimPrefix(url, runbookBase); a != strings.ToLower(r.Alert) || !anchors[a] {
			t.Errorf("%s: runbook_url points to #%s; want #%s, a section of %s", r.Alert, a, strings.ToLower(r.Alert), alertsDoc)
		}
	}
	for name, what := range issueAlerts {
		if !seen[name] {
			t.Errorf("no alert %s (%s)", name, what)
		}
	}
	for _, r := range rules {
		if r.Alert == "CephOperatorInventoryStale" && !strings.Contains(r.Annotations["summary"], "$labels.node") {
			t.Errorf("CephOperatorInventoryStale: the summary does not name the node")
		}
	}
}

// githubAnchor is the anchor GitHub gives a heading.
func githubAnchor(heading string) string {
	h := strings.ToLower(strings.TrimSpace(heading))
	h = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(h, "")
	return strings.ReplaceAll(h, " ", "-")
}

// TestRulesUseExportedMetrics: every series a rule selects is one the
// operator exports, so a renamed metric cannot leave an alert that never
// fires.
func TestRulesUseExportedMetrics(t *testing.T) {
	for _, r := range loadRules(t) {
		names, err := metricNames(r.Expr)
		if err != nil {
			t.Errorf("%s%s: %v", r.Alert, r.Record, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s%s selects no series: %q", r.Alert, r.Record, r.Expr)
		}
		for _, n := range names {
			if !slices.Contains(metrics.Names, n) {
				t.Errorf("%s%s uses %s, which the operator does not export (internal/metrics.Names)", r.Alert, r.Record, n)
			}
		}
	}
}

// promtool is the pinned promtool, built by make test and make
// test-alerts (hack/build-tools.sh promtool).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(root, "bin", "promtool"))
	if err != nil {
		t.Fatal(err)
	}
	gate.Need(t, gate.Prometheus, p, "skipping: bin/promtool is not built (make test-alerts builds it)")
	return p
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtoolCheckRules: Prometheus accepts the rule file, with promtool's
// linter.
func TestPromtoolCheckRules(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	ruleFile(t, dir)
	t.Log(run(t, dir, bin, "check", "rules", "--lint=all", "--lint-fatal", "rules.yaml"))
}

// TestPromtoolTestRules runs the recorded series of rules_test.yaml
// through the rules: each alert fires when it should, and only then.
func TestPromtoolTestRules(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	ruleFile(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yaml"), readFile(t, "tests/prometheus/rules_test.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log(run(t, dir, bin, "test", "rules", "rules_test.yaml"))
}

// TestEveryAlertIsTested: rules_test.yaml has a case where each alert
// fires.
func TestEveryAlertIsTested(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(readFile(t, "tests/prometheus/rules_test.yaml"), &tests); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert != "" && !fires[r.Alert] {
			t.Errorf("rules_test.yaml has no case where %s fires", r.Alert)
		}
	}
}

// TestBundleHasNoMonitoringObjects: the OLM bundle carries no
// PrometheusRule or ServiceMonitor. OLM creates a bundle's objects through
// API discovery and fails the whole InstallPlan when their API is missing,
// so on a cluster without the Prometheus operator's CRDs the operator
// would not install at all; docs/alerts.md says how to add the rules.
func TestBundleHasNoMonitoringObjects(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(root, "bundle", "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b := readFile(t, filepath.Join("bundle", "manifests", e.Name()))
		if regexp.MustCompile(`(?m)^apiVersion: monitoring\.coreos\.com/`).Match(b) {
			t.Errorf("bundle/manifests/%s is a monitoring.coreos.com object: OLM would fail to install the bundle where that API is missing", e.Name())
		}
	}
}

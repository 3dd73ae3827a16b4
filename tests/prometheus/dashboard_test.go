package prometheus

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/metrics"
)

const dashboardPath = "config/grafana/ceph-operator-dashboard.json"

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"` // a collapsed row's panels
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// labelValues is Grafana's variable query label_values(selector, label).
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// dashboardQueries returns every PromQL query of the dashboard, each with
// where it is: panel targets, rows' panels, and query variables.
func dashboardQueries(t *testing.T, d dashboard) map[string][]string {
	t.Helper()
	q := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				q["panel "+p.Title] = append(q["panel "+p.Title], tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var s string
		if err := json.Unmarshal(v.Query, &s); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query is neither a string nor an object: %s", v.Name, v.Query)
			}
			s = obj.Query
		}
		if m := labelValues.FindStringSubmatch(s); m != nil {
			s = m[1]
		}
		q["variable "+v.Name] = append(q["variable "+v.Name], s)
	}
	return q
}

// TestDashboardUsesExportedMetrics: every query of the dashboard selects
// only series the operator exports, every panel has a query, the key
// panels of issue 20 are there, and every exported series is on some
// panel.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardPath), &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.UID == "" {
		t.Errorf("%s has no uid: links to it would break on every import", dashboardPath)
	}
	var titles []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			titles = append(titles, p.Title)
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, want := range []string{
		"Ceph health", "OSDs by state", "Disks by verdict", "Disk plans", "Prepare Jobs",
		"Inventory age per node", "Monitors in quorum / desired", "CephCluster conditions",
	} {
		if !slices.Contains(titles, want) {
			t.Errorf("the dashboard has no panel %q (panels: %q)", want, titles)
		}
	}
	used := map[string]bool{}
	for where, exprs := range dashboardQueries(t, d) {
		for _, e := range exprs {
			names, err := metricNames(e)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if len(names) == 0 {
				t.Errorf("%s selects no series: %q", where, e)
			}
			for _, n := range names {
				if !slices.Contains(metrics.Names, n) {
					t.Errorf("%s uses %s, which the operator does not export (internal/metrics.Names)", where, n)
				}
				used[n] = true
			}
		}
	}
	for _, n := range metrics.Names {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
}

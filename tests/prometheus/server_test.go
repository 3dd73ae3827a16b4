package prometheus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/metrics"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/promserver"
)

// exposition is what a healthy operator would serve for cluster ceph in
// namespace ceph, in the Prometheus text format, with running OSDs set.
func exposition(running int) string {
	var b strings.Builder
	gauge := func(name string, series ...string) {
		fmt.Fprintf(&b, "# HELP %s See internal/metrics.\n# TYPE %s gauge\n", name, name)
		for _, s := range series {
			fmt.Fprintf(&b, "%s%s\n", name, s)
		}
	}
	const c = `namespace="ceph",cluster="ceph"`
	gauge(metrics.Disks, `{`+c+`,state="OSD",reason=""} 3`, `{`+c+`,state="Rejected",reason="HasFilesystem"} 1`)
	gauge(metrics.DiskPlans, `{`+c+`,action="Provisioned",reason=""} 3`, `{`+c+`,action="LeftOut",reason="HasFilesystem"} 1`)
	gauge(metrics.OSDs, `{`+c+`,state="desired"} 3`, `{`+c+`,state="provisioned"} 3`,
		fmt.Sprintf(`{%s,state="running"} %d`, c, running), `{`+c+`,state="failed"} 0`)
	gauge(metrics.PrepareJobs, `{`+c+`,state="running"} 0`, `{`+c+`,state="failed"} 0`)
	gauge(metrics.InventoryAge, `{`+c+`,node="n1"} 12`, `{`+c+`,node="n2"} 40`)
	gauge(metrics.CephHealth, `{`+c+`,status="HEALTH_OK"} 1`, `{`+c+`,status="HEALTH_WARN"} 0`,
		`{`+c+`,status="HEALTH_ERR"} 0`, `{`+c+`,status="unknown"} 0`)
	gauge(metrics.CephOSDs, `{`+c+`,state="total"} 3`, `{`+c+`,state="up"} 3`, `{`+c+`,state="in"} 3`)
	gauge(metrics.MonQuorum, `{`+c+`} 3`)
	gauge(metrics.MonsDesired, `{`+c+`} 3`)
	gauge(metrics.ClusterCondition, `{`+c+`,type="Ready",status="True"} 1`, `{`+c+`,type="Ready",status="False"} 0`)
	return b.String()
}

// TestPrometheusOnLoopback runs the pinned Prometheus against two
// exporters on loopback that serve what two operator replicas would (a
// recorded exposition): every rule evaluates without error on real
// scrapes, every dashboard series is queryable, no alert fires while the
// cluster is healthy, and CephOperatorOSDDown fires once (not once per
// replica) when an OSD stops running. The rules' for: is cut to 2s.
func TestPrometheusOnLoopback(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join(root, "bin", "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	gate.Need(t, gate.Prometheus, bin, "skipping: bin/prometheus is not built (make prometheus-tools builds it)")
	gate.Long(t, "skipping: runs Prometheus for about 20 seconds")

	var mu sync.Mutex
	running := 3
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(exposition(running)))
	})
	a, b := httptest.NewServer(handler), httptest.NewServer(handler)
	defer a.Close()
	defer b.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := promserver.Start(ctx, promserver.Options{
		Bin: bin, Dir: t.TempDir(), Rules: readFile(t, rulesPath), For: "2s",
		Targets: []string{strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	// Both targets scraped, every rule evaluated at least once.
	eventually(t, ctx, "both targets up and every rule evaluated without error", func() error {
		up, err := srv.Query(ctx, `sum(up{job="ceph-operator"})`)
		if err != nil {
			return err
		}
		if len(up) != 1 || up[0].Value != 2 {
			return fmt.Errorf("up: %v", up)
		}
		rules, err := srv.Rules(ctx)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.Health != "ok" {
				return fmt.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
			}
		}
		return nil
	})
	for _, n := range metrics.Names {
		got, err := srv.Query(ctx, fmt.Sprintf(`count(%s{namespace="ceph", cluster="ceph"})`, n))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Value == 0 {
			t.Errorf("no series %s in Prometheus", n)
		}
	}
	// Healthy: after several evaluations nothing is pending or firing.
	time.Sleep(4 * time.Second)
	if alerts, err := srv.Alerts(ctx); err != nil {
		t.Fatal(err)
	} else if len(alerts) != 0 {
		t.Errorf("alerts on a healthy cluster: %+v", alerts)
	}

	mu.Lock()
	running = 2
	mu.Unlock()
	start := time.Now()
	eventually(t, ctx, "CephOperatorOSDDown firing", func() error {
		alerts, err := srv.Alerts(ctx)
		if err != nil {
			return err
		}
		var firing []promserver.Alert
		for _, al := range alerts {
			if al.Labels["alertname"] == "CephOperatorOSDDown" && al.State == "firing" {
				firing = append(firing, al)
			}
		}
		if len(firing) == 0 {
			return fmt.Errorf("alerts: %+v", alerts)
		}
		if len(firing) != 1 {
			return fmt.Errorf("%d CephOperatorOSDDown alerts for one cluster: %+v", len(firing), firing)
		}
		al := firing[0]
		if al.Labels["namespace"] != "ceph" || al.Labels["cluster"] != "ceph" || al.Labels["severity"] != "warning" {
			return fmt.Errorf("labels %v", al.Labels)
		}
		if want := "1 OSD(s) of ceph/ceph down"; al.Annotations["summary"] != want {
			return fmt.Errorf("summary %q, want %q", al.Annotations["summary"], want)
		}
		return nil
	})
	t.Logf("CephOperatorOSDDown fired %s after an OSD stopped running (scrape and evaluation every 1s, for: 2s)", time.Since(start).Round(100*time.Millisecond))
}

// eventually retries check every half second until it succeeds or ctx
// ends.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/internal/metrics"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/promserver"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
)

// alertSeries are the series the simulated world must produce: everything
// the operator derives from the API. The others (Ceph's own OSD counts and
// monitor quorum, prepare Jobs, which may all be gone) are logged.
var alertSeries = []string{
	metrics.OSDs, metrics.Disks, metrics.DiskPlans, metrics.InventoryAge,
	metrics.CephHealth, metrics.MonsDesired, metrics.ClusterCondition,
}

// TestAlertOnOSDDown: the pinned Prometheus, on loopback, scrapes the
// operator's own metrics (plain HTTP on loopback) while it provisions
// three simulated nodes, and evaluates config/prometheus/rules.yaml with
// every for: cut to 5s. The series the alerts and the dashboard use are
// there, every rule evaluates without error, CephOperatorOSDDown is quiet
// while all OSDs run, and fires, for this cluster, once an OSD Deployment
// is scaled to 0.
//
// It skips when bin/prometheus is missing, unless CEPH_OPERATOR_PROMETHEUS
// is set (make test), and fails when the operator serves no cluster series.
func TestAlertOnOSDDown(t *testing.T) {
	ctx := context.Background()
	promBin := filepath.Join(testenv.RepoRoot(), "bin", "prometheus")
	gate.Need(t, gate.Prometheus, promBin, "skipping: bin/prometheus is not built (make prometheus-tools builds it)")
	rules, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	op := startOperatorMetrics(t, "alerts", true)
	cluster := createCluster(t)
	if !exports(op, metrics.OSDs, 15*time.Second) {
		t.Fatalf("the operator's metrics endpoint serves no %s within 15s", metrics.OSDs)
	}
	h := newHarness(t, cluster.Status.FSID)
	addNodes(t, h, map[string][]string{
		"alerts-1": simnode.DemoMix(0), "alerts-2": simnode.DemoMix(1), "alerts-3": simnode.DemoMix(2),
	})
	waitRunning(t, cluster, 6)

	srv, err := promserver.Start(ctx, promserver.Options{
		Bin: promBin, Dir: t.TempDir(), Rules: rules, For: "5s", Targets: []string{op.MetricsAddr},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	sel := fmt.Sprintf(`{namespace=%q, cluster=%q}`, namespace, cluster.Name)
	waitFor(t, time.Minute, "the operator's series in Prometheus, every rule evaluated", func() error {
		for _, n := range alertSeries {
			got, err := srv.Query(ctx, "count("+n+sel+")")
			if err != nil {
				return err
			}
			if len(got) == 0 {
				return fmt.Errorf("no series %s%s", n, sel)
			}
		}
		rs, err := srv.Rules(ctx)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Health != "ok" {
				return fmt.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
			}
		}
		return nil
	})
	for _, n := range metrics.Names {
		got, err := srv.Query(ctx, "count("+n+sel+")")
		if err != nil {
			t.Fatal(err)
		}
		count := 0.0
		if len(got) == 1 {
			count = got[0].Value
		}
		logf("alerts: %s: %v series", n, count)
	}
	if firing := osdDown(ctx, t, srv); len(firing) != 0 {
		t.Fatalf("CephOperatorOSDDown while every OSD runs: %+v", firing)
	}

	// Scale one OSD Deployment to 0, as an administrator would.
	var deps appsv1.DeploymentList
	if err := cp.Client.List(ctx, &deps, client.InNamespace(namespace), client.MatchingLabels{
		resources.ClusterLabel: cluster.Name, resources.ComponentLabel: resources.ComponentOSD,
	}); err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) == 0 {
		t.Fatal("no OSD Deployment")
	}
	d := &deps.Items[0]
	patch := client.MergeFrom(d.DeepCopy())
	zero := int32(0)
	d.Spec.Replicas = &zero
	if err := cp.Client.Patch(ctx, d, patch); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, 2*time.Minute, "CephOperatorOSDDown firing", func() error {
		firing := osdDown(ctx, t, srv)
		if len(firing) != 1 {
			return fmt.Errorf("%d alerts firing: %+v", len(firing), firing)
		}
		if l := firing[0].Labels; l["namespace"] != namespace || l["cluster"] != cluster.Name {
			return fmt.Errorf("alert for another cluster: %v", l)
		}
		return nil
	})
	logf("alerts: OSD Deployment %s scaled to 0 -> CephOperatorOSDDown firing in %s (scrape and evaluation every 1s, for: 5s)", d.Name, time.Since(start).Round(100*time.Millisecond))

	deleteCluster(t, cluster)
	forgetCluster(t, cluster)
}

// osdDown returns the firing CephOperatorOSDDown alerts.
func osdDown(ctx context.Context, t *testing.T, srv *promserver.Server) []promserver.Alert {
	t.Helper()
	alerts, err := srv.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []promserver.Alert
	for _, a := range alerts {
		if a.Labels["alertname"] == "CephOperatorOSDDown" && a.State == "firing" {
			out = append(out, a)
		}
	}
	return out
}

// exports reports whether the operator's metrics show a series named name
// within timeout.
func exports(op *operator, name string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + op.MetricsAddr + "/metrics")
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			for _, line := range strings.Split(string(raw), "\n") {
				if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
					return true
				}
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Second)
	}
}

package manager_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/metrics"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/promtext"
)

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestMetricsEndpoint runs the manager with its metrics endpoint and checks
// that it serves the cluster series of a CephCluster from its cache, and
// that a second manager of the process serves them once the first stopped.
func TestMetricsEndpoint(t *testing.T) {
	testenv.SetupLogging()
	env := testenv.Start(t)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cluster := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "ceph"},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:   "quay.io/ceph/ceph:v19.2.3",
			Mon:     cephv1alpha1.MonSpec{Count: 5},
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}

	for _, run := range []string{"first manager", "second manager"} {
		t.Run(run, func(t *testing.T) {
			o := manager.DefaultOptions()
			o.MetricsAddr, o.SecureMetrics, o.ProbeAddr = freeAddr(t), false, "0"
			o.LeaderElect = false
			o.ManageAdmissionPolicy = false
			o.SkipControllerNameValidation = true
			o.WatchNamespaces = []string{ns.Name}
			mgr, err := manager.New(env.Config, o)
			if err != nil {
				t.Fatal(err)
			}
			mctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- mgr.Start(mctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("manager stopped: %v", err)
				}
				// A stopped manager serves no cluster series: the next
				// one registers its own.
				families, err := crmetrics.Registry.Gather()
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range families {
					if slices.Contains(metrics.Names, f.GetName()) {
						t.Errorf("%s still registered after the manager stopped", f.GetName())
					}
				}
			}()

			url := "http://" + o.MetricsAddr + "/metrics"
			testenv.Eventually(t, 30*time.Second, func() error {
				resp, err := http.Get(url)
				if err != nil {
					return err
				}
				defer func() { _ = resp.Body.Close() }()
				raw, err := io.ReadAll(resp.Body)
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("%s: %s", url, resp.Status)
				}
				want := map[string]string{"namespace": ns.Name, "cluster": "ceph"}
				find := func(name string, extra map[string]string) (float64, error) {
					for _, s := range promtext.Parse(raw, name) {
						match := true
						for k, v := range want {
							match = match && s.Labels[k] == v
						}
						for k, v := range extra {
							match = match && s.Labels[k] == v
						}
						if match {
							return s.Value, nil
						}
					}
					return 0, fmt.Errorf("%s%v of %s/ceph not served", name, extra, ns.Name)
				}
				if v, err := find(metrics.MonsDesired, nil); err != nil || v != 5 {
					return fmt.Errorf("%s = %v, want 5 (%w)", metrics.MonsDesired, v, err)
				}
				// No reporter runs here: Ceph's health is unknown.
				if v, err := find(metrics.CephHealth, map[string]string{"status": "unknown"}); err != nil || v != 1 {
					return fmt.Errorf("%s{status=unknown} = %v, want 1 (%w)", metrics.CephHealth, v, err)
				}
				for _, name := range []string{metrics.OSDs, metrics.PrepareJobs, metrics.Disks, metrics.DiskPlans} {
					if _, err := find(name, nil); err != nil {
						return err
					}
				}
				// controller-runtime's own series are still served beside.
				if len(promtext.Parse(raw, "controller_runtime_reconcile_total")) == 0 {
					return fmt.Errorf("controller-runtime's series missing")
				}
				return nil
			})
		})
	}
}

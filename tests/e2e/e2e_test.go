// Package e2e runs the whole path on a complete local control plane: kwok
// nodes, the real agent per node on simulated disks, the operator binary as
// separate processes (leader election on, RBAC of the deployment manifests
// of the bundle's CSV, by impersonation), Jobs run by the Job controller, OSD Deployments made
// available by kwok.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/controlplane"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/operatorproc"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
)

// namespace is the operator's and the cluster's namespace (the operator is
// deployed for its own namespace, as the manifests say).
const namespace = "ceph-operator-system"

var (
	cp *controlplane.ControlPlane
	// binary is the operator binary built for the tests.
	binary string
	// operatorKubeconfig impersonates the operator's ServiceAccount.
	operatorKubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if !gate.Exists(filepath.Join(testenv.RepoRoot(), "bin", "kwok")) {
		fmt.Println("e2e: bin/kwok missing; run 'make e2e-assets' (make test does). Skipping.")
		return 0
	}
	dir, err := os.MkdirTemp("", "ceph-operator-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}()
	binary = filepath.Join(dir, "ceph-operator")
	build := exec.Command("go", "build", "-o", binary, "./cmd")
	build.Dir = testenv.RepoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the operator:", err)
		return 1
	}
	start := time.Now()
	cp, err = controlplane.Start(controlplane.Options{Dir: dir, Full: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	fmt.Printf("e2e: control plane with controller-manager, scheduler and kwok up in %s\n", time.Since(start).Round(100*time.Millisecond))
	if operatorKubeconfig, err = operatorproc.InstallRBAC(context.Background(), cp.Client, cp.Kubeconfig, namespace, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Printf("e2e: logs of the failed run are in %s (kept)\n", dir)
		dir = ""
	}
	return code
}

// operator is a running operator process.
type operator struct {
	name string
	*operatorproc.Process
}

// leads reports whether the operator has acquired the leader lease, as its
// log says. Both processes run on this host, so the lease's holder identity
// (host name and a random suffix) does not tell them apart.
func (o *operator) leads() bool { return o.LeaseAcquired(0) }

// startOperator runs the operator binary with leader election, as the
// operator's ServiceAccount.
func startOperator(t *testing.T, name string) *operator {
	t.Helper()
	return startOperatorMetrics(t, name, false)
}

// startOperatorMetrics is startOperator; with metrics, the operator also
// serves its metrics over plain HTTP on loopback (MetricsAddr).
func startOperatorMetrics(t *testing.T, name string, metrics bool) *operator {
	t.Helper()
	logPath := filepath.Join(cp.Dir, "operator-"+name+".log")
	// A new log: leads reads all of it.
	if err := os.Remove(logPath); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	args := []string{
		"--kubeconfig", operatorKubeconfig,
		"--leader-elect",
		"--leader-election-namespace", namespace,
		"--leader-election-lease-duration=6s", "--leader-election-renew-deadline=4s", "--leader-election-retry-period=500ms",
		"--watch-namespaces", namespace,
		"--health-probe-bind-address", "0",
		"--image-pull-policy", "Never",
	}
	if !metrics {
		args = append(args, "--metrics-bind-address", "0")
	}
	p, err := operatorproc.Start(binary, args, logPath, metrics)
	if err != nil {
		t.Fatal(err)
	}
	op := &operator{name: name, Process: p}
	t.Cleanup(func() {
		op.stop(syscall.SIGTERM)
		// The operator runs with the bundle's RBAC: any request it was
		// refused means the CSV grants too little.
		if raw, err := os.ReadFile(logPath); err == nil && strings.Contains(strings.ToLower(string(raw)), "forbidden") {
			t.Errorf("operator %s was refused a request (see %s); the CSV's permissions are not sufficient", name, logPath)
		}
	})
	return op
}

// stop sends sig and waits for the process to exit.
func (o *operator) stop(sig syscall.Signal) {
	if o.Signal(sig) == nil {
		<-o.Done()
	}
}

// newHarness starts simulated nodes for a cluster with fsid.
func newHarness(t *testing.T, fsid string) *simnode.Harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := simnode.NewHarness(cp.Client, simnode.AgentOptions{
		Binary: binary, Kubeconfig: cp.Kubeconfig, Namespace: namespace, FSID: fsid, LogDir: cp.Dir,
		// Fixture disks send no uevents; a short resync stands in.
		ExtraArgs: []string{"--resync-interval=2s"},
	}, t.TempDir())
	go h.Run(ctx)
	t.Cleanup(func() {
		cancel()
		h.Stop()
	})
	return h
}

// addNodes adds simulated nodes and removes their Node objects at the end.
func addNodes(t *testing.T, h *simnode.Harness, kinds map[string][]string) {
	t.Helper()
	for name, k := range kinds {
		if err := h.AddNode(context.Background(), name, k); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cp.Client.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
		})
	}
}

// createCluster creates the sample-like CephCluster and waits for its FSID.
func createCluster(t *testing.T) *cephv1alpha1.CephCluster {
	t.Helper()
	c := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ceph"},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:   "quay.io/ceph/ceph:v18.2.4",
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
	if err := cp.Client.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "FSID", func() error {
		if got(t, c).Status.FSID == "" {
			return fmt.Errorf("no FSID yet")
		}
		return nil
	})
	return got(t, c)
}

func got(t *testing.T, c *cephv1alpha1.CephCluster) *cephv1alpha1.CephCluster {
	t.Helper()
	out := &cephv1alpha1.CephCluster{}
	if err := cp.Client.Get(context.Background(), client.ObjectKeyFromObject(c), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitRunning waits until the cluster is Ready with n OSDs running.
func waitRunning(t *testing.T, c *cephv1alpha1.CephCluster, n int32) time.Duration {
	t.Helper()
	start := time.Now()
	waitFor(t, 3*time.Minute, fmt.Sprintf("Ready with %d OSDs running", n), func() error {
		cur := got(t, c)
		ready := meta.FindStatusCondition(cur.Status.Conditions, cephv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || cur.Status.OSDs.Running != n || cur.Status.ObservedGeneration != cur.Generation {
			return fmt.Errorf("Ready=%v, OSDs %+v", ready, cur.Status.OSDs)
		}
		return nil
	})
	return time.Since(start)
}

func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		if err := check(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

// deleteCluster deletes the cluster and waits until it is gone.
func deleteCluster(t *testing.T, c *cephv1alpha1.CephCluster) {
	t.Helper()
	if err := cp.Client.Delete(context.Background(), c); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "cluster deleted", func() error {
		err := cp.Client.Get(context.Background(), client.ObjectKeyFromObject(c), &cephv1alpha1.CephCluster{})
		if err == nil {
			return fmt.Errorf("still there")
		}
		return client.IgnoreNotFound(err)
	})
}

// forgetCluster deletes what deleting a CephCluster keeps (its identity,
// monitor placement and bootstrap record, resources.KeptState), as an
// administrator starting a new cluster under the same name would: a test
// that creates "ceph" again must not adopt the monitors of simulated nodes
// an earlier test removed.
func forgetCluster(t *testing.T, c *cephv1alpha1.CephCluster) {
	t.Helper()
	for _, k := range resources.KeptState(c) {
		var obj client.Object = &corev1.ConfigMap{}
		if k.Kind == "Secret" {
			obj = &corev1.Secret{}
		}
		obj.SetNamespace(c.Namespace)
		obj.SetName(k.Name)
		if err := cp.Client.Delete(context.Background(), obj); client.IgnoreNotFound(err) != nil {
			t.Fatalf("deleting the kept %s %s: %v", k.Kind, k.Name, err)
		}
	}
}

func logf(format string, args ...any) {
	fmt.Printf("e2e: "+format+"\n", args...)
}

func join(s []string) string { return strings.Join(s, ", ") }

// Command demo shows ceph-operator at work on this machine. It starts a local
// Kubernetes control plane built from source (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) with kwok simulating three nodes,
// runs the real node agent for each simulated node against a generated set
// of disks, runs the operator binary as its own process with leader election,
// applies the sample CephCluster, and prints a live table of nodes, disks,
// verdicts and OSDs as the cluster converges (the table of `kubectl ceph
// disks`, drawn by internal/plugin). Then a fourth node with two
// disks joins and its disks become OSDs. `make demo` runs it; Ctrl-C stops
// everything it started.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/plugin"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/controlplane"
	"github.com/ceph-operator/ceph-operator/tests/framework/proc"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
)

// namespace is where the demo's CephCluster lives.
const namespace = "ceph-demo"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root := testenv.RepoRoot()
	dir := filepath.Join(root, ".demo")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		return err
	}
	began := time.Now()

	say("Starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1")
	cp, err := controlplane.Start(controlplane.Options{Dir: dir, Full: true})
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping the control plane")
		_ = cp.Stop()
	}()
	say("Control plane ready in %s (logs in .demo/)", since(began))

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		// Discovery, prepare and OSD pods need privileged access to disks.
		"pod-security.kubernetes.io/enforce": "privileged",
	}}}
	if err := cp.Client.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", namespace, err)
	}

	op, err := startOperator(root, cp.Kubeconfig, filepath.Join(dir, "operator.log"))
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping the operator")
		op.Stop(30 * time.Second)
	}()
	say("Operator running as PID %d with leader election (log: .demo/operator.log)", op.Pid())

	sample := filepath.Join(root, "config", "samples", "ceph_v1alpha1_cephcluster.yaml")
	say("Applying config/samples/%s", filepath.Base(sample))
	if err := kubectl(ctx, cp, "apply", "-n", namespace, "-f", sample); err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: namespace, Name: "ceph"}
	fsid, err := waitFSID(ctx, cp.Client, key)
	if err != nil {
		return err
	}
	say("Cluster identity created: FSID %s", fsid)
	// The simulated agents report the Ceph version of the cluster's image,
	// as agents running in that image would.
	cluster := &cephv1alpha1.CephCluster{}
	if err := cp.Client.Get(ctx, key, cluster); err != nil {
		return err
	}

	harness := simnode.NewHarness(cp.Client, simnode.AgentOptions{
		Binary: filepath.Join(root, "bin", "ceph-operator"), Kubeconfig: cp.Kubeconfig,
		Namespace: namespace, FSID: fsid, LogDir: dir, Image: cluster.Spec.Image,
		// The harness writes a prepared disk's label only after kwok has
		// completed the Job (agent prepare writes it before), so the one
		// rescan the operator asks for may come first; fixture disks send
		// no uevents, and a short resync stands in for them, as in e2e.
		ExtraArgs: []string{"--resync-interval=2s"},
	}, filepath.Join(dir, "nodes"))
	harnessCtx, stopHarness := context.WithCancel(ctx)
	defer func() {
		stopHarness()
		harness.Stop()
	}()
	go harness.Run(harnessCtx)
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("node-%d", i+1)
		kinds := simnode.DemoMix(i)
		say("Node %s joins with disks: %s", name, simnode.Describe(kinds))
		if err := harness.AddNode(ctx, name, kinds); err != nil {
			return err
		}
	}

	view := &table{client: cp.Client, key: key}
	if err := view.until(ctx, 3*time.Minute, readyWithOSDs(6)); err != nil {
		return err
	}
	say("Converged %s after start", since(began))

	fmt.Println()
	say("A fourth node joins with two empty disks")
	if err := harness.AddNode(ctx, "node-4", []string{simnode.Blank, simnode.BlankSSD}); err != nil {
		return err
	}
	if err := view.until(ctx, 3*time.Minute, readyWithOSDs(8)); err != nil {
		return err
	}

	fmt.Println()
	say("kubectl get cephcluster,diskinventory -n %s", namespace)
	_ = kubectl(ctx, cp, "get", "cephcluster,diskinventory", "-n", namespace)
	fmt.Println()
	say("kubectl ceph status -n %s (the kubectl plugin, bin/kubectl-ceph)", namespace)
	if code := plugin.Main(ctx, []string{"--kubeconfig", cp.Kubeconfig, "-n", namespace, "status"}, os.Stdout, os.Stderr); code != 0 {
		return fmt.Errorf("kubectl ceph status exited %d", code)
	}
	fmt.Println()
	say("The cluster identity (FSID and cephx keys) and ceph.conf the operator created")
	_ = kubectl(ctx, cp, "get", "secret,configmap", "-n", namespace, "-l", "app.kubernetes.io/managed-by=ceph-operator")
	fmt.Println()
	say("kubectl get pods -n %s (kwok runs them on the simulated nodes)", namespace)
	_ = kubectl(ctx, cp, "get", "pods", "-n", namespace, "-o", "wide")
	if twice := harness.PreparedTwice(); len(twice) > 0 {
		return fmt.Errorf("devices prepared twice: %s", strings.Join(twice, ", "))
	}
	say("Total time %s", since(began))

	if os.Getenv("DEMO_EXIT") != "" {
		return nil
	}
	fmt.Println()
	say("Everything keeps running. In another shell:")
	fmt.Printf("    export KUBECONFIG=%s\n", cp.Kubeconfig)
	fmt.Printf("    bin/kubectl get cephcluster,diskinventory -n %s\n", namespace)
	fmt.Printf("    bin/kubectl get diskinventory node-1 -n %s -o yaml\n", namespace)
	fmt.Printf("    bin/kubectl-ceph disks -n %s -o wide    # or 'kubectl ceph' with bin/ on PATH\n", namespace)
	fmt.Printf("    bin/kubectl-ceph explain node-1/sdd -n %s\n", namespace)
	fmt.Printf("    bin/kubectl explain cephcluster.spec.storage\n")
	say("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

// readyWithOSDs is true once the cluster is Ready with n running OSDs.
func readyWithOSDs(n int32) func(*cephv1alpha1.CephCluster) bool {
	return func(c *cephv1alpha1.CephCluster) bool {
		ready := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionReady)
		return ready != nil && ready.Status == metav1.ConditionTrue &&
			c.Status.ObservedGeneration == c.Generation && c.Status.OSDs.Running == n
	}
}

// startOperator runs the operator binary as its own process, the way it runs
// in a cluster: leader election on, limited to the demo namespace.
func startOperator(root, kubeconfig, logPath string) (*proc.Process, error) {
	p, err := proc.Start(proc.Options{Name: "the operator", Bin: filepath.Join(root, "bin", "ceph-operator"), LogPath: logPath,
		// Its own process group: a Ctrl-C reaches the demo, which stops
		// the operator before the control plane.
		Group: true, Args: []string{"manager",
			"--kubeconfig", kubeconfig,
			"--leader-elect",
			"--leader-election-namespace", namespace,
			"--watch-namespaces", namespace,
			"--metrics-bind-address", "0",
			"--health-probe-bind-address", "0",
			// kwok never pulls images; Never keeps any real node from trying.
			"--image-pull-policy", "Never",
		}})
	if err != nil {
		return nil, fmt.Errorf("%w (run 'make build' first?)", err)
	}
	return p, nil
}

// waitFSID waits until the operator has created the cluster's identity.
func waitFSID(ctx context.Context, c client.Client, key client.ObjectKey) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		cluster := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, key, cluster); err == nil && cluster.Status.FSID != "" {
			return cluster.Status.FSID, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("CephCluster %s has no FSID after a minute; see .demo/operator.log", key)
}

func kubectl(ctx context.Context, cp *controlplane.ControlPlane, args ...string) error {
	cmd := exec.CommandContext(ctx, cp.Kubectl, append([]string{"--kubeconfig", cp.Kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

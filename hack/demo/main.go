// Command demo shows ceph-operator at work on this machine: it starts a local
// control plane (etcd and kube-apiserver built from source), runs the
// operator binary as a separate process with leader election, applies the
// sample CephCluster and prints its status as it converges. `make demo` runs
// it; Ctrl-C stops everything it started.
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
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/controlplane"
)

// namespace is where the demo's CephCluster lives.
const namespace = "ceph-demo"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	say("Starting etcd and kube-apiserver on 127.0.0.1 (binaries from bin/)")
	start := time.Now()
	cp, err := controlplane.Start(controlplane.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping the control plane")
		_ = cp.Stop()
	}()
	say("Control plane ready in %s; CRDs installed", time.Since(start).Round(100*time.Millisecond))

	if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", namespace, err)
	}

	logPath := filepath.Join(dir, "operator.log")
	op, err := startOperator(root, cp.Kubeconfig, logPath)
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping the operator")
		_ = op.Process.Signal(syscall.SIGTERM)
		_ = op.Wait()
	}()
	say("Operator running as PID %d with leader election (log: %s)", op.Process.Pid, rel(root, logPath))

	sample := filepath.Join(root, "config", "samples", "ceph_v1alpha1_cephcluster.yaml")
	say("Applying %s", rel(root, sample))
	if err := kubectl(ctx, cp, "apply", "-n", namespace, "-f", sample); err != nil {
		return err
	}

	if err := watchUntilReady(ctx, cp.Client, client.ObjectKey{Namespace: namespace, Name: "ceph"}); err != nil {
		return err
	}

	fmt.Println()
	say("kubectl get cephcluster -o wide")
	_ = kubectl(ctx, cp, "get", "cephcluster", "-n", namespace, "-o", "wide")
	fmt.Println()
	say("Objects the operator created (the identity Secret holds the FSID and cephx keys)")
	_ = kubectl(ctx, cp, "get", "secret,configmap", "-n", namespace, "-l", "app.kubernetes.io/managed-by=ceph-operator")

	if os.Getenv("DEMO_EXIT") != "" {
		return nil
	}
	fmt.Println()
	say("The control plane and the operator keep running. In another shell:")
	fmt.Printf("    export KUBECONFIG=%s\n", cp.Kubeconfig)
	fmt.Printf("    bin/kubectl get cephcluster -n %s\n", namespace)
	fmt.Printf("    bin/kubectl explain cephcluster.spec.storage\n")
	say("Press Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

// startOperator runs the operator binary as its own process, the way it runs
// in a cluster: leader election on, limited to the demo namespace.
func startOperator(root, kubeconfig, logPath string) (*exec.Cmd, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(root, "bin", "ceph-operator"), "manager",
		"--kubeconfig", kubeconfig,
		"--leader-elect",
		"--leader-election-namespace", namespace,
		"--watch-namespaces", namespace,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the operator (run 'make build' first?): %w", err)
	}
	return cmd, nil
}

// watchUntilReady prints the cluster's conditions whenever they change,
// until it is Ready for its current generation.
func watchUntilReady(ctx context.Context, c client.Client, key client.ObjectKey) error {
	deadline := time.Now().Add(2 * time.Minute)
	last := ""
	for {
		cluster := &cephv1.CephCluster{}
		err := c.Get(ctx, key, cluster)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err == nil {
			if table := conditionTable(cluster); table != last {
				fmt.Println()
				say("CephCluster %s (generation %d, observed %d)", key, cluster.Generation, cluster.Status.ObservedGeneration)
				fmt.Print(table)
				last = table
			}
			ready := meta.FindStatusCondition(cluster.Status.Conditions, cephv1.ConditionReady)
			if ready != nil && ready.Status == metav1.ConditionTrue && cluster.Status.ObservedGeneration == cluster.Generation {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CephCluster %s not Ready after 2 minutes; see .demo/operator.log", key)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// conditionTable renders the cluster's conditions as an aligned table.
func conditionTable(cluster *cephv1.CephCluster) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "    CONDITION\tSTATUS\tREASON\tMESSAGE")
	for _, c := range cluster.Status.Conditions {
		fmt.Fprintf(w, "    %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	if cluster.Status.FSID != "" {
		fmt.Fprintf(w, "    FSID\t%s\t\t\n", cluster.Status.FSID)
	}
	_ = w.Flush()
	return b.String()
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

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

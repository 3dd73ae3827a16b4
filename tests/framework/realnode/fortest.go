package realnode

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

// UpForTest brings the node up for t, or joins the one `make cluster-up`
// started, with its steps in t's log. A node it started is taken down when
// t ends, unless CEPH_OPERATOR_REAL_KEEP=1 keeps it for a look afterwards,
// and the images imported into it go too (PurgeImages), unless
// CEPH_OPERATOR_REAL_KEEP_IMAGES=1 keeps them for the next test.
func UpForTest(ctx context.Context, t testing.TB) *Cluster {
	t.Helper()
	return UpForTestWith(ctx, t, Options{})
}

// UpForTestWith is UpForTest with options, such as Nodes for a cluster of
// several nodes; their Log is t's.
func UpForTestWith(ctx context.Context, t testing.TB, o Options) *Cluster {
	t.Helper()
	o.Log = TestLog{t}
	start := time.Now()
	c, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !c.AlreadyRunning && !gate.On(gate.RealKeep) {
		t.Cleanup(func() {
			if err := Down(context.Background(), o); err != nil {
				t.Errorf("taking the node down: %v", err)
				return
			}
			if gate.On(gate.RealKeepImages) {
				return
			}
			freed, err := purgeImagesCounting(o)
			if err != nil {
				t.Errorf("removing the nodes' images: %v", err)
				return
			}
			t.Logf("removed the nodes' images: %s freed (CEPH_OPERATOR_REAL_KEEP_IMAGES=1 keeps them)", gib(freed))
		})
	}
	t.Logf("%d node(s) up after %.1fs, first %s (logs in %s)", len(c.Nodes), time.Since(start).Seconds(), c.Node, c.LogDir)
	return c
}

// TestLog sends what is written to it, a line at a time, to a test's log.
type TestLog struct{ T testing.TB }

func (l TestLog) Write(p []byte) (int, error) {
	l.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// WaitFor polls cond every two seconds until it returns nil, failing the
// test with the last error after timeout.
func WaitFor(t testing.TB, ctx context.Context, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = cond(); last == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, last)
		}
		time.Sleep(2 * time.Second)
	}
}

// DeploymentAvailable checks that a Deployment has an available pod and
// has rolled out its current template; otherwise the error lists the
// namespace's pods.
func DeploymentAvailable(ctx context.Context, c client.Client, ns, name string) error {
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		return err
	}
	if d.Status.AvailableReplicas == 0 || d.Status.UpdatedReplicas != d.Status.Replicas {
		var pods corev1.PodList
		_ = c.List(ctx, &pods, client.InNamespace(ns))
		return fmt.Errorf("deployment %s/%s not available; pods: %s", ns, name, PodSummary(pods.Items))
	}
	return nil
}

// PodSummary names each pod with its phase and why any container waits.
func PodSummary(pods []corev1.Pod) string {
	var parts []string
	for _, p := range pods {
		s := p.Name + "=" + string(p.Status.Phase)
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil {
				s += fmt.Sprintf("[%s: %s %s]", cs.Name, w.Reason, w.Message)
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

package realdisk

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

// hotPlugCycles is how many attach/detach cycles are timed.
const hotPlugCycles = 20

// appearTimeout is how long a hot-plugged disk may take to show up (or go)
// before the test fails; the figures themselves are only printed.
const appearTimeout = 30 * time.Second

// TestHotPlugLatency runs the real agent (kernel uevents, real scanner,
// default debounce) against a test API server and measures how long a loop
// device takes to appear as Available in the DiskInventory after it is
// attached, and to disappear after it is detached, as seen through a watch.
func TestHotPlugLatency(t *testing.T) {
	loopdev.RequireRoot(t)
	testenv.SetupLogging()
	env := testenv.Start(t)
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "hotplug-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	const node = "real-node"
	inv := &cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: ns.Name}, Spec: cephv1alpha1.DiskInventorySpec{NodeName: node}}
	if err := env.Client.Create(ctx, inv); err != nil {
		t.Fatal(err)
	}

	cfg := agent.DefaultConfig(func(string) string { return "" })
	cfg.NodeName, cfg.Namespace = node, ns.Name
	cfg.MountinfoPath = "/proc/self/mountinfo"
	cfg.AllowLoopDevices = true
	a, err := agent.NewForNode(cfg, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	agentCtx, stopAgent := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(agentCtx) }()
	defer func() {
		stopAgent()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, &cephv1alpha1.DiskInventoryList{}, client.InNamespace(ns.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// waitFor consumes watch events until cond holds for the object.
	waitFor := func(what string, cond func(*cephv1alpha1.DiskInventory) bool) time.Time {
		t.Helper()
		deadline := time.NewTimer(appearTimeout)
		defer deadline.Stop()
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.Fatalf("the watch closed while waiting for %s", what)
				}
				if ev.Type != watch.Added && ev.Type != watch.Modified {
					continue
				}
				if obj, ok := ev.Object.(*cephv1alpha1.DiskInventory); ok && cond(obj) {
					return time.Now()
				}
			case <-deadline.C:
				t.Fatalf("%s did not happen within %s", what, appearTimeout)
			}
		}
	}
	state := func(obj *cephv1alpha1.DiskInventory, name string) cephv1alpha1.DiskState {
		for _, d := range obj.Status.Disks {
			if d.Name == name {
				return d.Verdict.State
			}
		}
		return ""
	}
	waitFor("the first publish", func(o *cephv1alpha1.DiskInventory) bool { return o.Status.AgentVersion != "" })

	backing := loopdev.SparseFile(t, t.TempDir(), "hotplug.img", blankSize)
	var attachTimes, detachTimes []time.Duration
	for i := range hotPlugCycles {
		start := time.Now()
		dev, err := loopdev.AttachLoop(backing, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = loopdev.DetachLoop(dev) }) // in case the test stops early
		seen := waitFor(fmt.Sprintf("cycle %d: %s appearing as Available", i, dev.Name), func(o *cephv1alpha1.DiskInventory) bool {
			return state(o, dev.Name) == cephv1alpha1.DiskAvailable
		})
		attachTimes = append(attachTimes, seen.Sub(start))

		start = time.Now()
		if err := loopdev.DetachLoop(dev); err != nil {
			t.Fatal(err)
		}
		seen = waitFor(fmt.Sprintf("cycle %d: %s disappearing", i, dev.Name), func(o *cephv1alpha1.DiskInventory) bool {
			return state(o, dev.Name) == ""
		})
		detachTimes = append(detachTimes, seen.Sub(start))
	}
	report := func(what string, d []time.Duration) {
		p50, p95, maxD := percentiles(d)
		line := fmt.Sprintf("hot-plug %s latency over %d cycles (debounce %s): p50 %s, p95 %s, max %s",
			what, len(d), cfg.Debounce, p50.Round(time.Millisecond), p95.Round(time.Millisecond), maxD.Round(time.Millisecond))
		t.Log(line)
		fmt.Println(line)
	}
	report("attach", attachTimes)
	report("detach", detachTimes)
}

// percentiles returns the nearest-rank p50 and p95 and the maximum.
func percentiles(d []time.Duration) (p50, p95, maxD time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	return rank(0.50), rank(0.95), s[len(s)-1]
}

package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
)

// newTestManager returns a manager on the test API server with the
// operator's scheme and cache transform, and no metrics or probe server;
// adjust sets what a test changes (a client that injects errors, a cache).
func newTestManager(t *testing.T, adjust func(*ctrl.Options)) ctrl.Manager {
	t.Helper()
	scheme, err := manager.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	skip := true
	opts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
		Cache:                  cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	}
	adjust(&opts)
	mgr, err := ctrl.NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// throughPlanWrites is a client constructor whose writes of a
// DiskInventory's status (the plans) go through hook, which calls write
// to send them on.
func throughPlanWrites(hook func(ctx context.Context, write func() error) error) func(*rest.Config, client.Options) (client.Client, error) {
	return func(cfg *rest.Config, opts client.Options) (client.Client, error) {
		c, err := client.NewWithWatch(cfg, opts)
		if err != nil {
			return nil, err
		}
		return interceptor.NewClient(c, interceptor.Funcs{
			SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
				write := func() error { return c.SubResource(sub).Apply(ctx, obj, opts...) }
				if body, err := json.Marshal(obj); err == nil && strings.Contains(string(body), `"kind":"DiskInventory"`) {
					return hook(ctx, write)
				}
				return write()
			},
		}), nil
	}
}

// startStallingManager runs the cluster and OSD reconcilers with a client
// whose writes of a DiskInventory's status (the plans) do not return until
// release is closed; blocked counts the writes held.
func startStallingManager(t *testing.T, release <-chan struct{}, blocked *atomic.Int64) {
	t.Helper()
	runReconcilers(t, newTestManager(t, func(o *ctrl.Options) {
		o.NewClient = throughPlanWrites(func(ctx context.Context, write func() error) error {
			blocked.Add(1)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			return write()
		})
	}))
}

// TestCreationsDoNotWaitForPlanWrites: the API server takes the plans
// (DiskInventory status writes) but does not answer. OSD Deployments are
// still created, for the first node and for a node that joins later: no
// creation waits behind a plan write.
func TestCreationsDoNotWaitForPlanWrites(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	var blocked atomic.Int64
	startStallingManager(t, release, &blocked)
	// Let the held writes go before the manager stops.
	t.Cleanup(func() { close(release) })
	ns := newNamespace(t, "stall")
	w := playAgent(t, ns)
	w.AddNode("stall-a", "osd")
	withNodes(t, "stall-a")
	if err := env.Client.Create(ctx, newCluster(ns, "ceph")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first node's OSD Deployment while its plan write is held", func() error {
		if got := osdDeployments(t, ns); len(got) != 1 {
			return fmt.Errorf("OSD Deployments %v", got)
		}
		if blocked.Load() == 0 {
			return fmt.Errorf("no plan write held yet")
		}
		return nil
	})
	w.AddNode("stall-b", "osd", "osd")
	withNodes(t, "stall-b")
	deadline := time.Now().Add(wait)
	for {
		got := osdDeployments(t, ns)
		if len(got) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OSD Deployments %v while %d plan writes are held: the new node's OSDs wait behind them", got, blocked.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPlanWriteFailureIsShown: the API server refuses the plans
// (DiskInventory status writes) for a while. The refusal shows in the
// OSDsProvisioned condition, naming the node and the server's answer,
// not only in the operator's log; once the writes go through again the
// plan is there and the condition clears.
func TestPlanWriteFailureIsShown(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Bool
	refuse.Store(true)
	runReconcilers(t, newTestManager(t, func(o *ctrl.Options) {
		o.NewClient = throughPlanWrites(func(_ context.Context, write func() error) error {
			if refuse.Load() {
				// What a real server cannot be made to answer on
				// demand: the one fake in this test.
				return apierrors.NewServiceUnavailable("etcd is out of space")
			}
			return write()
		})
	}))
	ns := newNamespace(t, "planfail")
	w := playAgent(t, ns)
	w.AddNode("planfail-a", "osd")
	withNodes(t, "planfail-a")
	cc := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OSDsProvisioned to say the plan cannot be written", func() error {
		c := meta.FindStatusCondition(getCluster(t, cc).Status.Conditions, cephv1alpha1.ConditionOSDsProvisioned)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != cephv1alpha1.ReasonPlanWriteFailed ||
			!strings.Contains(c.Message, "planfail-a") || !strings.Contains(c.Message, "etcd is out of space") {
			return fmt.Errorf("OSDsProvisioned = %+v", c)
		}
		return nil
	})
	refuse.Store(false)
	waitFor(t, "the plan written and OSDsProvisioned clear", func() error {
		inv := &cephv1alpha1.DiskInventory{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "planfail-a"}, inv); err != nil {
			return err
		}
		if len(inv.Status.Plan) == 0 {
			return fmt.Errorf("no plan on the inventory yet")
		}
		c := meta.FindStatusCondition(getCluster(t, cc).Status.Conditions, cephv1alpha1.ConditionOSDsProvisioned)
		if c == nil || c.Reason == cephv1alpha1.ReasonPlanWriteFailed {
			return fmt.Errorf("OSDsProvisioned = %+v", c)
		}
		return nil
	})
}

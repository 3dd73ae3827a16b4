package manager_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// replica is one manager process in the failover test.
type replica struct {
	t      testing.TB
	name   string
	mgr    ctrl.Manager
	cancel context.CancelFunc
	done   chan error
	// workers counts the controllers that started their workers: only a
	// leader's controllers do, so a follower's stays 0.
	workers atomic.Int32
}

func startReplica(t *testing.T, env *testenv.Env, name string, o manager.Options) *replica {
	t.Helper()
	r := &replica{t: t, name: name, done: make(chan error, 1)}
	// Each replica logs to its own sink, which counts the controllers that
	// start reconciling.
	o.Logger = funcr.New(func(_, args string) {
		if strings.Contains(args, `"Starting workers"`) {
			r.workers.Add(1)
		}
	}, funcr.Options{})
	mgr, err := manager.New(env.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.mgr, r.cancel = mgr, cancel
	go func() { r.done <- mgr.Start(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the replica and waits for it to exit.
func (r *replica) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	// How a cancelled manager ends is not what this test measures, but
	// an error helps to read a failure.
	if err := <-r.done; err != nil {
		r.t.Logf("replica %s stopped: %v", r.name, err)
	}
}

// isLeader reports whether the replica has been elected, without blocking.
func (r *replica) isLeader() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

// leaseHolder returns the identity holding the operator's Lease.
func leaseHolder(ctx context.Context, c client.Client, ns string) (string, error) {
	lease := &coordinationv1.Lease{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: manager.LeaderElectionID}, lease); err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

// TestLeaderElectionFailover runs two managers against one API server,
// checks that only the leader reconciles, stops the leader and measures how
// long the other takes to lead and reconcile. It does so twice: a clean
// shutdown (the lease is released) and a crash (the lease must expire).
func TestLeaderElectionFailover(t *testing.T) {
	testenv.SetupLogging()
	env := testenv.Start(t)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()

	for _, tc := range []struct {
		name    string
		release bool
	}{
		{"clean shutdown", true},
		{"crash", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "leader-"}}
			if err := env.Client.Create(ctx, ns); err != nil {
				t.Fatal(err)
			}
			o := manager.DefaultOptions()
			o.MetricsAddr, o.ProbeAddr = "0", "0"
			o.SkipControllerNameValidation = true
			o.LeaderElect = true
			o.LeaderElectionNamespace = ns.Name
			o.WatchNamespaces = []string{ns.Name}
			// Short enough to keep the test quick, long enough that a leader
			// on a loaded 2-core machine does not miss its renewals.
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 6*time.Second, 4*time.Second, 500*time.Millisecond
			// A crash is a manager that stops without releasing its lease.
			o.ReleaseOnCancel = tc.release

			a := startReplica(t, env, "a", o)
			testenv.Eventually(t, 20*time.Second, func() error {
				if !a.isLeader() {
					return errors.New("first replica not elected")
				}
				return nil
			})
			b := startReplica(t, env, "b", o)

			// Only the leader reconciles: the follower's controllers have not
			// started, so a cluster created now is reconciled by a alone.
			cluster := &cephv1alpha1.CephCluster{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "ceph"},
				Spec: cephv1alpha1.CephClusterSpec{
					Image:   "quay.io/ceph/ceph:v18.2.4",
					Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
				},
			}
			if err := env.Client.Create(ctx, cluster); err != nil {
				t.Fatal(err)
			}
			waitObserved(t, env, cluster, 1)
			select {
			case err := <-a.done:
				t.Fatalf("the leader stopped on its own (lost its lease under load?): %v", err)
			default:
			}
			if b.isLeader() {
				t.Fatal("both replicas consider themselves leader")
			}
			if a.workers.Load() == 0 || b.workers.Load() != 0 {
				t.Fatalf("controllers started: %d in the leader, %d in the follower; want some, and none", a.workers.Load(), b.workers.Load())
			}
			holderBefore, err := leaseHolder(ctx, env.Client, ns.Name)
			if err != nil || holderBefore == "" {
				t.Fatalf("lease holder: %q, %v", holderBefore, err)
			}

			// Stop the leader; from then on, measure until the other replica
			// is elected and has reconciled a change.
			a.stop()
			stopped := time.Now()
			testenv.Eventually(t, 30*time.Second, func() error {
				if !b.isLeader() {
					return errors.New("second replica not elected yet")
				}
				return nil
			})
			elected := time.Since(stopped)
			holderAfter, _ := leaseHolder(ctx, env.Client, ns.Name)
			if holderAfter == holderBefore {
				t.Errorf("lease still held by the stopped replica %q", holderBefore)
			}

			got := &cephv1alpha1.CephCluster{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cluster), got); err != nil {
				t.Fatal(err)
			}
			got.Spec.Mon.Count = 5
			if err := env.Client.Update(ctx, got); err != nil {
				t.Fatal(err)
			}
			waitObserved(t, env, cluster, got.Generation)
			reconciled := time.Since(stopped)
			if b.workers.Load() == 0 {
				t.Errorf("the new leader's controllers did not start")
			}
			msg := fmt.Sprintf("leader failover (%s, lease %s, renew %s, retry %s): new leader elected after %s, reconciling after %s",
				tc.name, o.LeaseDuration, o.RenewDeadline, o.RetryPeriod, elected.Round(time.Millisecond), reconciled.Round(time.Millisecond))
			t.Log(msg)
			fmt.Println(msg)
		})
	}
}

// waitObserved waits until the cluster's status describes generation gen.
func waitObserved(t *testing.T, env *testenv.Env, cluster *cephv1alpha1.CephCluster, gen int64) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(cluster), got); err != nil {
			return err
		}
		if got.Status.ObservedGeneration < gen {
			return fmt.Errorf("observedGeneration %d < %d", got.Status.ObservedGeneration, gen)
		}
		return nil
	})
}

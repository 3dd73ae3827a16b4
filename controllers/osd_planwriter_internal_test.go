package controllers

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// TestPlanWriterWritesEachPlanOnce checks that the plan writer writes the
// newest plan of an inventory, once: not again while the cache has not
// caught up with the write, nor once the inventory holds it; and again
// when a newer inventory differs from it.
func TestPlanWriterWritesEachPlanOnce(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := cephv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var writes []string
	c := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).Build(), interceptor.Funcs{
		SubResourceApply: func(_ context.Context, _ client.Client, _ string, obj runtime.ApplyConfiguration, _ ...client.SubResourceApplyOption) error {
			var body struct {
				Status cephv1alpha1.DiskInventoryStatus `json:"status"`
			}
			raw, err := json.Marshal(obj)
			if err == nil {
				err = json.Unmarshal(raw, &body)
			}
			if err != nil {
				return err
			}
			mu.Lock()
			writes = append(writes, string(body.Status.Plan[0].Action))
			mu.Unlock()
			return nil
		},
	})
	w := newPlanWriter(c, nil)
	cluster := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: "ns"}}
	plan := func(a cephv1alpha1.DeviceAction) map[string][]cephv1alpha1.DevicePlan {
		return map[string][]cephv1alpha1.DevicePlan{"node-a": {{Name: "sdb", ID: "id-b", Action: a}}}
	}
	inv := func(rv string, a cephv1alpha1.DeviceAction) []cephv1alpha1.DiskInventory {
		i := cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Namespace: "ns", ResourceVersion: rv}}
		if a != "" {
			i.Status.Plan = plan(a)["node-a"]
		}
		return []cephv1alpha1.DiskInventory{i}
	}
	expect := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			got := append([]string(nil), writes...)
			mu.Unlock()
			if len(got) == len(want) {
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("writes %v, want %v", got, want)
					}
				}
				// Nothing more comes.
				time.Sleep(100 * time.Millisecond)
				mu.Lock()
				n := len(writes)
				mu.Unlock()
				if n != len(want) {
					t.Fatalf("%d writes, want %d", n, len(want))
				}
				return
			}
			if len(got) > len(want) || time.Now().After(deadline) {
				t.Fatalf("writes %v, want %v", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Two plans before any worker runs: the newer replaces the older.
	w.enqueue(cluster, inv("1", ""), plan(cephv1alpha1.ActionWouldProvision))
	w.enqueue(cluster, inv("1", ""), plan(cephv1alpha1.ActionPreparing))
	w.enqueue(cluster, inv("1", ""), plan(cephv1alpha1.ActionPreparing))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("plan writer: %v", err)
		}
	}()
	expect("Preparing")
	// The cache has not shown the write yet: the same plan is not
	// written again.
	w.enqueue(cluster, inv("1", ""), plan(cephv1alpha1.ActionPreparing))
	expect("Preparing")
	// The cache shows it: nothing to write.
	w.enqueue(cluster, inv("2", cephv1alpha1.ActionPreparing), plan(cephv1alpha1.ActionPreparing))
	expect("Preparing")
	// Someone else changed the plan since: it is written again.
	w.enqueue(cluster, inv("3", cephv1alpha1.ActionLeftOut), plan(cephv1alpha1.ActionPreparing))
	expect("Preparing", "Preparing")
	// A new plan.
	w.enqueue(cluster, inv("4", cephv1alpha1.ActionPreparing), plan(cephv1alpha1.ActionProvisioned))
	expect("Preparing", "Preparing", "Provisioned")
}

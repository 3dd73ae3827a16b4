package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
)

// planWriter applies the inventories' status.plan on workers of its own,
// so that a reconcile hands its plan writes over and returns: the next
// reconcile's Job and Deployment creations never wait behind a thousand
// plan writes (docs/design/0006-plan-per-node.md). A node's latest plan
// replaces one still waiting for its turn, so each inventory gets at most
// one write in flight and the newest plan wins. A write that fails is
// retried with backoff until a newer plan replaces it; a gone inventory
// is dropped.
//
// Nothing else depends on the write having happened: a finished prepare
// Job is deleted by a later reconcile that reads the plan back from the
// inventory (see recordedJobs), and the write's own watch event brings that
// reconcile.
type planWriter struct {
	client client.Client
	// written is called after a plan was applied (the events).
	written func(w planWrite)

	mu      sync.Mutex
	pending map[types.NamespacedName]planWrite
	// applied is the last plan written to each inventory, with the
	// resourceVersion of the inventory it was planned from, until the
	// cache shows it: a reconcile from a cache that has not caught up with
	// the write plans the same again, and is not written twice.
	applied map[types.NamespacedName]planWrite
	// inflight is the plan each worker is writing.
	inflight map[types.NamespacedName]planWrite
	queue    workqueue.TypedRateLimitingInterface[types.NamespacedName]
	// failing holds each inventory whose last write failed, until one
	// succeeds: the OSDsProvisioned condition shows them.
	failing map[types.NamespacedName]writeFailure
	// events wakes the cluster's reconcile when an inventory starts or
	// stops failing, so that the condition follows.
	events chan event.TypedGenericEvent[*cephv1alpha1.CephCluster]

	// creating counts the reconciles creating Jobs and Deployments: no
	// new plan write starts while one is (see holdFor), so that at the API
	// server, too, creations go first.
	gateMu   sync.Mutex
	gate     *sync.Cond
	creating int
}

// writeFailure is an inventory's failing plan write.
type writeFailure struct {
	cluster types.NamespacedName
	since   time.Time
	message string
}

// planWrite is one inventory's plan to apply.
type planWrite struct {
	cluster *cephv1alpha1.CephCluster
	// inv is the inventory as planned from, trimmed to its identity and
	// its plan then (for events): not the cache's object, which holds
	// every disk.
	inv  *cephv1alpha1.DiskInventory
	want []cephv1alpha1.DevicePlan
}

func newPlanWriter(c client.Client, written func(planWrite)) *planWriter {
	w := &planWriter{
		client:   c,
		written:  written,
		pending:  map[types.NamespacedName]planWrite{},
		applied:  map[types.NamespacedName]planWrite{},
		inflight: map[types.NamespacedName]planWrite{},
		failing:  map[types.NamespacedName]writeFailure{},
		events:   make(chan event.TypedGenericEvent[*cephv1alpha1.CephCluster], 64),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
			workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{}),
	}
	w.gate = sync.NewCond(&w.gateMu)
	return w
}

// holdFor keeps new plan writes from starting until the returned function
// is called: a reconcile holds them while it creates Jobs and Deployments.
// The writes already sent go on; the creations never wait for them.
func (w *planWriter) holdFor() (release func()) {
	w.gateMu.Lock()
	w.creating++
	w.gateMu.Unlock()
	return func() {
		w.gateMu.Lock()
		w.creating--
		if w.creating == 0 {
			w.gate.Broadcast()
		}
		w.gateMu.Unlock()
	}
}

// waitForCreations returns once no reconcile is creating.
func (w *planWriter) waitForCreations() {
	w.gateMu.Lock()
	for w.creating > 0 {
		w.gate.Wait()
	}
	w.gateMu.Unlock()
}

// enqueue hands over the plans that differ from what the inventories, as
// read, hold. It never blocks on the API server.
func (w *planWriter) enqueue(cluster *cephv1alpha1.CephCluster, inventories []cephv1alpha1.DiskInventory, plans map[string][]cephv1alpha1.DevicePlan) {
	for i := range inventories {
		inv := &inventories[i]
		want, ok := plans[inv.Name]
		if !ok {
			continue
		}
		key := types.NamespacedName{Namespace: inv.Namespace, Name: inv.Name}
		if planRecorded(inv, want) {
			w.mu.Lock()
			delete(w.applied, key)
			w.mu.Unlock()
			continue
		}
		w.mu.Lock()
		if old, ok := w.pending[key]; ok && equality.Semantic.DeepEqual(old.want, want) {
			w.mu.Unlock()
			continue
		}
		if old, ok := w.inflight[key]; ok && equality.Semantic.DeepEqual(old.want, want) {
			// Being written; a failed write is queued again by itself.
			w.mu.Unlock()
			continue
		}
		// Written already, and the cache still shows the very inventory it
		// was planned from: the write is not seen yet. Any newer version
		// of the inventory (this write, or anyone else's) is planned
		// and, when it differs, written again.
		if done, ok := w.applied[key]; ok && done.inv.ResourceVersion == inv.ResourceVersion && equality.Semantic.DeepEqual(done.want, want) {
			w.mu.Unlock()
			continue
		}
		ref := &cephv1alpha1.DiskInventory{
			ObjectMeta: metav1.ObjectMeta{Name: inv.Name, Namespace: inv.Namespace, UID: inv.UID, ResourceVersion: inv.ResourceVersion},
			Status:     cephv1alpha1.DiskInventoryStatus{Plan: inv.Status.Plan},
		}
		w.pending[key] = planWrite{cluster: cluster, inv: ref, want: want}
		w.mu.Unlock()
		w.queue.Add(key)
	}
}

// planRecorded reports whether inv, as read, already holds the plan want.
func planRecorded(inv *cephv1alpha1.DiskInventory, want []cephv1alpha1.DevicePlan) bool {
	return (len(want) == 0 && len(inv.Status.Plan) == 0) || equality.Semantic.DeepEqual(inv.Status.Plan, want)
}

// Start runs apply.Parallelism workers until ctx ends.
func (w *planWriter) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range apply.Parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	w.queue.ShutDown()
	wg.Wait()
	return nil
}

// NeedLeaderElection: only the leader writes plans.
func (w *planWriter) NeedLeaderElection() bool { return true }

// next applies one inventory's latest plan; false once the queue shut down.
func (w *planWriter) next(ctx context.Context) bool {
	key, shutdown := w.queue.Get()
	if shutdown {
		return false
	}
	defer w.queue.Done(key)
	w.mu.Lock()
	pw, ok := w.pending[key]
	delete(w.pending, key)
	if ok {
		w.inflight[key] = pw
	}
	w.mu.Unlock()
	if !ok {
		w.queue.Forget(key)
		return true
	}
	w.waitForCreations()
	found, err := w.write(ctx, pw)
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inflight, key)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Writing a DiskInventory's plan; retrying", "inventory", key)
		if _, newer := w.pending[key]; !newer {
			w.pending[key] = pw
		}
		f, was := w.failing[key]
		if !was {
			f = writeFailure{cluster: client.ObjectKeyFromObject(pw.cluster), since: time.Now()}
		}
		f.message = err.Error()
		w.failing[key] = f
		if !was {
			w.wake(pw.cluster)
		}
		w.queue.AddRateLimited(key)
		return true
	}
	if _, was := w.failing[key]; was {
		delete(w.failing, key)
		w.wake(pw.cluster)
	}
	if found {
		w.applied[key] = pw
	} else {
		delete(w.applied, key)
	}
	w.queue.Forget(key)
	return true
}

// write applies one plan and reports whether the inventory exists; a gone
// inventory is no error.
func (w *planWriter) write(ctx context.Context, pw planWrite) (bool, error) {
	desired := &cephv1alpha1.DiskInventory{
		ObjectMeta: metav1.ObjectMeta{Name: pw.inv.Name, Namespace: pw.inv.Namespace},
		Status:     cephv1alpha1.DiskInventoryStatus{Plan: pw.want},
	}
	if err := apply.Status(ctx, w.client, desired, apply.Planner); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return true, fmt.Errorf("writing plan: %w", err)
	}
	if w.written != nil {
		w.written(pw)
	}
	return true, nil
}

// wake asks for a reconcile of cluster; it never blocks (a full channel
// already holds wake-ups enough).
func (w *planWriter) wake(cluster *cephv1alpha1.CephCluster) {
	obj := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: cluster.Name, Namespace: cluster.Namespace}}
	select {
	case w.events <- event.TypedGenericEvent[*cephv1alpha1.CephCluster]{Object: obj}:
	default:
	}
}

// failures returns why the plans of cluster's inventories cannot be
// written, or nil: the nodes whose last write failed, the oldest first,
// with the API server's answer.
func (w *planWriter) failures(cluster types.NamespacedName) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	type failed struct {
		node string
		writeFailure
	}
	var list []failed
	for key, f := range w.failing {
		if f.cluster == cluster {
			list = append(list, failed{key.Name, f})
		}
	}
	if len(list) == 0 {
		return nil
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].since.Equal(list[j].since) {
			return list[i].since.Before(list[j].since)
		}
		return list[i].node < list[j].node
	})
	f := list[0]
	msg := fmt.Sprintf("the plan of %d node(s) cannot be written to their DiskInventory (what status.plan shows is out of date); %s since %s: %s; retrying with backoff",
		len(list), f.node, f.since.UTC().Format(time.RFC3339), f.message)
	return &planWriteError{msg}
}

// planWriteError is failures' error: the OSDsProvisioned condition shows
// it with reason PlanWriteFailed.
type planWriteError struct{ msg string }

func (e *planWriteError) Error() string { return e.msg }

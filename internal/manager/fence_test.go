package manager_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// leaseGets counts the GETs of Leases a rest.Config's clients send.
type leaseGets struct {
	n atomic.Int64
}

func (g *leaseGets) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/leases/") {
				g.n.Add(1)
			}
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestLeaderFence checks, against a real API server, that the fence lets a
// write through only while this process holds the Lease, trusts a check
// only for its window, and that releasing the Lease lock cannot empty a
// successor's Lease.
func TestLeaderFence(t *testing.T) {
	testenv.SetupLogging()
	env := testenv.Start(t)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()

	newNamespace := func(t *testing.T) string {
		t.Helper()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fence-"}}
		if err := env.Client.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		return ns.Name
	}
	const leaseDuration = 15 * time.Second
	// setLease makes the Lease name holder, renewed at renewed.
	setLease := func(t *testing.T, ns, holder string, renewed time.Time) {
		t.Helper()
		// An elector may renew the Lease meanwhile: retry on conflicts.
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { return writeLease(ctx, env.Client, ns, holder, renewed, leaseDuration) }); err != nil {
			t.Fatal(err)
		}
	}
	// fenced returns a client fenced on the namespace's Lease for identity
	// "me", the clock it reads and the counter of its Lease GETs.
	fenced := func(t *testing.T, ns string) (client.Client, *fakeClock, *leaseGets) {
		t.Helper()
		gets := &leaseGets{}
		cs, err := kubernetes.NewForConfig(gets.wrap(env.Config))
		if err != nil {
			t.Fatal(err)
		}
		clock := &fakeClock{now: time.Now()}
		f, err := manager.NewFence(manager.FenceOptions{
			Leases: cs.CoordinationV1(), Namespace: ns, Name: manager.LeaderElectionID, Identity: "me",
			LeaseDuration: leaseDuration, Window: manager.DefaultFenceWindow, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return f.Wrap(env.Client), clock, gets
	}
	configMap := func(ns, name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"k": "v"}}
	}
	mustRefuse := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, manager.ErrNotLeader) {
			t.Errorf("%s: got %v, want a refusal (ErrNotLeader)", what, err)
		}
	}

	t.Run("writes while the Lease is ours", func(t *testing.T) {
		ns := newNamespace(t)
		c, clock, _ := fenced(t, ns)
		setLease(t, ns, "me", clock.Now())
		cm := configMap(ns, "ours")
		if err := c.Create(ctx, cm); err != nil {
			t.Fatalf("create while leading: %v", err)
		}
		cm.Data["k"] = "w"
		if err := c.Update(ctx, cm); err != nil {
			t.Fatalf("update while leading: %v", err)
		}
		if err := c.Delete(ctx, cm); err != nil {
			t.Fatalf("delete while leading: %v", err)
		}
	})

	// Every kind of write is refused when another process holds the
	// Lease, and the API server holds what it held before.
	t.Run("refuses every write when someone else holds the Lease", func(t *testing.T) {
		ns := newNamespace(t)
		c, clock, _ := fenced(t, ns)
		setLease(t, ns, "successor", clock.Now())
		existing := configMap(ns, "existing")
		if err := env.Client.Create(ctx, existing); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}}
		if err := env.Client.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}

		mustRefuse(t, "create", c.Create(ctx, configMap(ns, "new")))
		changed := existing.DeepCopy()
		changed.Data["k"] = "changed"
		mustRefuse(t, "update", c.Update(ctx, changed.DeepCopy()))
		mustRefuse(t, "patch", c.Patch(ctx, changed.DeepCopy(), client.MergeFrom(existing)))
		mustRefuse(t, "server-side apply patch", c.Patch(ctx, changed.DeepCopy(), client.Apply, client.FieldOwner("test"))) //nolint:staticcheck // The deprecated apply patch must be refused too.
		mustRefuse(t, "apply", c.Apply(ctx, corev1ac.ConfigMap("existing", ns).WithData(map[string]string{"k": "applied"}), client.FieldOwner("test")))
		mustRefuse(t, "delete", c.Delete(ctx, existing.DeepCopy()))
		mustRefuse(t, "delete all of", c.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(ns)))
		podStatus := pod.DeepCopy()
		podStatus.Status.Message = "changed"
		mustRefuse(t, "status update", c.Status().Update(ctx, podStatus.DeepCopy()))
		mustRefuse(t, "status patch", c.Status().Patch(ctx, podStatus.DeepCopy(), client.MergeFrom(pod)))
		mustRefuse(t, "status apply", c.Status().Apply(ctx, corev1ac.Pod("p", ns).WithStatus(corev1ac.PodStatus().WithMessage("applied")), client.FieldOwner("test")))
		mustRefuse(t, "subresource create", c.SubResource("eviction").Create(ctx, pod.DeepCopy(), nil))
		mustRefuse(t, "subresource update", c.SubResource("status").Update(ctx, podStatus.DeepCopy()))

		// Reads still work, and nothing was written.
		got := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(existing), got); err != nil {
			t.Fatalf("read through the fenced client: %v", err)
		}
		if got.Data["k"] != "v" || got.ResourceVersion != existing.ResourceVersion {
			t.Errorf("the ConfigMap was changed: %v (resourceVersion %s, was %s)", got.Data, got.ResourceVersion, existing.ResourceVersion)
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "new"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused ConfigMap exists: %v", err)
		}
		gotPod := &corev1.Pod{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), gotPod); err != nil || gotPod.Status.Message != "" || gotPod.DeletionTimestamp != nil {
			t.Errorf("the Pod was changed or evicted: %v, %q, %v", err, gotPod.Status.Message, gotPod.DeletionTimestamp)
		}
	})

	t.Run("refuses when our Lease expired", func(t *testing.T) {
		ns := newNamespace(t)
		c, clock, _ := fenced(t, ns)
		setLease(t, ns, "me", clock.Now().Add(-leaseDuration-time.Second))
		mustRefuse(t, "create with an expired Lease", c.Create(ctx, configMap(ns, "late")))
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "late"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused ConfigMap exists: %v", err)
		}
		// A Lease without a holder (released) is not ours either.
		setLease(t, ns, "", clock.Now())
		clock.Step(time.Second)
		mustRefuse(t, "create with a released Lease", c.Create(ctx, configMap(ns, "late")))
	})

	// A check is trusted for the window only: a process that was frozen
	// past it (the monotonic clock runs on while stopped) reads the Lease
	// again before its next write, and finds it lost.
	t.Run("checks again after the window", func(t *testing.T) {
		ns := newNamespace(t)
		c, clock, gets := fenced(t, ns)
		setLease(t, ns, "me", clock.Now())
		if err := c.Create(ctx, configMap(ns, "before-freeze")); err != nil {
			t.Fatal(err)
		}
		// Frozen: meanwhile a successor takes the Lease.
		setLease(t, ns, "successor", clock.Now())
		clock.Step(manager.DefaultFenceWindow / 2)
		if err := c.Create(ctx, configMap(ns, "within-window")); err != nil {
			t.Fatalf("a write within the window of a passed check: %v", err)
		}
		if n := gets.n.Load(); n != 1 {
			t.Errorf("Lease read %d times within one window, want 1", n)
		}
		clock.Step(manager.DefaultFenceWindow / 2)
		mustRefuse(t, "create after the window", c.Create(ctx, configMap(ns, "after-freeze")))
		if n := gets.n.Load(); n != 2 {
			t.Errorf("Lease read %d times over two windows, want 2", n)
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "after-freeze"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused ConfigMap exists: %v", err)
		}
		// Leadership regained (a test can; a real elector exits): the next
		// window lets writes through again.
		setLease(t, ns, "me", clock.Now())
		clock.Step(manager.DefaultFenceWindow)
		if err := c.Create(ctx, configMap(ns, "regained")); err != nil {
			t.Fatalf("write with the Lease ours again: %v", err)
		}
	})

	// The trust in a check never outlives the Lease it saw: a Lease
	// renewed long ago is checked again before it would expire, even
	// within the window.
	t.Run("a check is not trusted past the Lease's expiry", func(t *testing.T) {
		ns := newNamespace(t)
		c, clock, _ := fenced(t, ns)
		setLease(t, ns, "me", clock.Now().Add(-leaseDuration+manager.DefaultFenceWindow/4))
		if err := c.Create(ctx, configMap(ns, "just-in-time")); err != nil {
			t.Fatal(err)
		}
		clock.Step(manager.DefaultFenceWindow / 2)
		mustRefuse(t, "create after the Lease expired", c.Create(ctx, configMap(ns, "expired")))
	})

	// The fence's cost does not grow with the number of writes: a burst
	// of concurrent writes within one window reads the Lease once.
	t.Run("one Lease read per window under a burst", func(t *testing.T) {
		ns := newNamespace(t)
		c, clock, gets := fenced(t, ns)
		setLease(t, ns, "me", clock.Now())
		const writes = 50
		var wg sync.WaitGroup
		errs := make(chan error, writes)
		for i := range writes {
			wg.Go(func() { errs <- c.Create(ctx, configMap(ns, fmt.Sprintf("burst-%d", i))) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := gets.n.Load(); n != 1 {
			t.Errorf("%d writes in one window read the Lease %d times, want 1", writes, n)
		}
		clock.Step(manager.DefaultFenceWindow)
		for i := range writes {
			if err := c.Delete(ctx, configMap(ns, fmt.Sprintf("burst-%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		if n := gets.n.Load(); n != 2 {
			t.Errorf("%d more writes in the next window: %d Lease reads in all, want 2", writes, n)
		}
		// Refusals are remembered for the window too, so a deposed
		// leader's burst of refused writes costs one read as well.
		setLease(t, ns, "successor", clock.Now())
		clock.Step(manager.DefaultFenceWindow)
		for i := range writes {
			mustRefuse(t, "burst while deposed", c.Create(ctx, configMap(ns, fmt.Sprintf("deposed-%d", i))))
		}
		if n := gets.n.Load(); n != 3 {
			t.Errorf("%d refused writes in one window: %d Lease reads in all, want 3", writes, n)
		}
	})

	// A caller whose context ended is refused, but that says nothing about
	// the Lease: the next caller reads it again.
	t.Run("a cancelled caller does not refuse the others", func(t *testing.T) {
		ns := newNamespace(t)
		c, clock, gets := fenced(t, ns)
		setLease(t, ns, "me", clock.Now())
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := c.Create(cancelled, configMap(ns, "cancelled")); err == nil {
			t.Fatal("a write with a cancelled context went through")
		}
		if err := c.Create(ctx, configMap(ns, "next")); err != nil {
			t.Fatalf("the next write, with the Lease ours: %v", err)
		}
		if n := gets.n.Load(); n != 1 {
			t.Errorf("Lease read %d times, want 1 (the cancelled caller sends none)", n)
		}
	})

	// The fenced transport refuses what the client's check let through
	// if the verdict expired meanwhile (a goroutine frozen between the
	// two), and writes made without the fenced client.
	t.Run("the transport fences every write", func(t *testing.T) {
		ns := newNamespace(t)
		gets := &leaseGets{}
		cs, err := kubernetes.NewForConfig(gets.wrap(env.Config))
		if err != nil {
			t.Fatal(err)
		}
		clock := &fakeClock{now: time.Now()}
		f, err := manager.NewFence(manager.FenceOptions{
			Leases: cs.CoordinationV1(), Namespace: ns, Name: manager.LeaderElectionID, Identity: "me",
			LeaseDuration: leaseDuration, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg := rest.CopyConfig(env.Config)
		cfg.Wrap(f.WrapTransport)
		raw, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		setLease(t, ns, "me", clock.Now())
		// The client-level check passes...
		if err := f.Check(ctx); err != nil {
			t.Fatal(err)
		}
		if err := raw.Create(ctx, configMap(ns, "leading")); err != nil {
			t.Fatalf("write while leading: %v", err)
		}
		// ...then the process freezes past the window and the Lease
		// changes hands before the request is sent.
		setLease(t, ns, "successor", clock.Now())
		clock.Step(manager.DefaultFenceWindow)
		mustRefuse(t, "create through the fenced transport", raw.Create(ctx, configMap(ns, "thawed")))
		mustRefuse(t, "delete through the fenced transport", raw.Delete(ctx, configMap(ns, "leading")))
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "thawed"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused ConfigMap exists: %v", err)
		}
		// Reads are not fenced.
		if err := raw.Get(ctx, client.ObjectKey{Namespace: ns, Name: "leading"}, &corev1.ConfigMap{}); err != nil {
			t.Errorf("read through the fenced transport: %v", err)
		}
	})

	// A leader frozen while its successor took the Lease must not empty
	// the successor's Lease when it releases on its way out.
	t.Run("a deposed leader's release leaves the successor's Lease alone", func(t *testing.T) {
		ns := newNamespace(t)
		cs, err := kubernetes.NewForConfig(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		newLock := func(identity string) resourcelock.Interface {
			l, err := resourcelock.New(resourcelock.LeasesResourceLock, ns, manager.LeaderElectionID, cs.CoreV1(), cs.CoordinationV1(),
				resourcelock.ResourceLockConfig{Identity: identity})
			if err != nil {
				t.Fatal(err)
			}
			return manager.GuardRelease(l, testLogger(t))
		}
		// run runs an elector until its context is cancelled; the long
		// retry period keeps it from renewing during the test, as if it
		// were frozen.
		run := func(ctx context.Context, lock resourcelock.Interface, leading chan<- struct{}) <-chan struct{} {
			le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
				Lock: lock, LeaseDuration: time.Minute, RenewDeadline: 50 * time.Second, RetryPeriod: 40 * time.Second,
				ReleaseOnCancel: true, Name: "test",
				Callbacks: leaderelection.LeaderCallbacks{
					OnStartedLeading: func(context.Context) { close(leading) },
					OnStoppedLeading: func() {},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); le.Run(ctx) }()
			return done
		}
		waitLeading := func(name string, leading <-chan struct{}) {
			select {
			case <-leading:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s not elected", name)
			}
		}

		ctxA, cancelA := context.WithCancel(ctx)
		defer cancelA()
		leadingA := make(chan struct{})
		doneA := run(ctxA, newLock("a"), leadingA)
		waitLeading("a", leadingA)

		// While a is "frozen", b takes the Lease over.
		setLease(t, ns, "b", time.Now())
		ctxB, cancelB := context.WithCancel(ctx)
		defer cancelB()
		leadingB := make(chan struct{})
		doneB := run(ctxB, newLock("b"), leadingB)
		waitLeading("b", leadingB)

		// a wakes and shuts down, releasing what it believes is its Lease.
		cancelA()
		<-doneA
		after := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: manager.LeaderElectionID}, after); err != nil {
			t.Fatal(err)
		}
		// b renews its Lease on its own (with a lease duration of a
		// minute); a release would have left no holder and a duration of
		// one second.
		if h, d := holderOf(after), after.Spec.LeaseDurationSeconds; h != "b" || d == nil || *d != 60 {
			t.Errorf("after the deposed leader's release the Lease names %q for %v s; want b's Lease untouched (b, 60 s)", h, d)
		}

		// The rightful holder still releases its own Lease.
		cancelB()
		<-doneB
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: manager.LeaderElectionID}, after); err != nil {
			t.Fatal(err)
		}
		if h := holderOf(after); h != "" {
			t.Errorf("the holder's release left the Lease to %q, want it empty", h)
		}
	})
}

// testLogger logs to the test's output.
func testLogger(t *testing.T) logr.Logger { return testr.New(t) }

// holderOf returns the Lease's holder, "" when it names none.
func holderOf(lease *coordinationv1.Lease) string {
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// writeLease creates or updates the operator's Lease in ns to name holder,
// renewed at renewed.
func writeLease(ctx context.Context, c client.Client, ns, holder string, renewed time.Time, duration time.Duration) error {
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: manager.LeaderElectionID}}
	err := c.Get(ctx, client.ObjectKeyFromObject(lease), lease)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	seconds := int32(duration / time.Second)
	lease.Spec = coordinationv1.LeaseSpec{
		HolderIdentity:       &holder,
		LeaseDurationSeconds: &seconds,
		AcquireTime:          &metav1.MicroTime{Time: renewed},
		RenewTime:            &metav1.MicroTime{Time: renewed},
	}
	if apierrors.IsNotFound(err) {
		return c.Create(ctx, lease)
	}
	return c.Update(ctx, lease)
}

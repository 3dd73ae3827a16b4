package manager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultFenceWindow is how long a successful leadership check is trusted
// before the next write checks the Lease again.
const DefaultFenceWindow = 500 * time.Millisecond

// ErrNotLeader is returned, wrapped, by every write the fence refuses.
var ErrNotLeader = errors.New("not the leader any more, not writing")

// Fence checks, before a write, that this process still holds the leader
// election Lease. Leader election alone does not stop a deposed leader from
// writing: a process frozen (SIGSTOP, a stalled VM, a long GC pause) in the
// middle of a reconcile wakes up still believing it leads and acts on the
// plan it made before it froze until its renew deadline passes, while its
// successor already acts on the same objects. The fence closes that window
// for every write made through a client it wraps (see Wrap): the write goes
// out only if an uncached read of the Lease names this process's identity as
// holder and its renew time is within the lease duration.
//
// A successful check is trusted for a short window (DefaultFenceWindow), and
// never beyond the moment the Lease would expire, both measured with the
// monotonic clock, which runs on while a process is stopped: a process
// frozen for longer than the window (any freeze long enough for a successor
// to take over is) checks again before its first write after waking. A
// failed check is also remembered for the window, refusing every write
// meanwhile. So a burst of writes costs at most one Lease GET per window,
// two per second at the default, whatever the number of nodes, disks or
// reconciles: the fence's load on the API server does not grow with the
// cluster.
//
// What remains: the check and the write are two requests. A write whose
// check passed can still be applied after a successor took over if this
// process is frozen, or its request delayed, between the check and the
// moment the API server applies the write, for longer than the lease
// duration. The API server offers no fencing token for ordinary objects
// that would let it reject such a late write, so no client can close this
// gap; it is a single write per frozen goroutine, not the seconds of work a
// deposed leader otherwise does before its renew deadline.
type Fence struct {
	leases        coordinationv1client.LeasesGetter
	namespace     string
	name          string
	identity      string
	leaseDuration time.Duration
	window        time.Duration
	now           func() time.Time
	log           logr.Logger

	mu sync.Mutex
	// until is when the last verdict stops being trusted (read with the
	// monotonic clock); err is the verdict, nil when we held the Lease.
	until time.Time
	err   error
}

// FenceOptions configure a Fence.
type FenceOptions struct {
	// Leases reads the Lease, uncached.
	Leases coordinationv1client.LeasesGetter
	// Namespace and Name locate the Lease.
	Namespace, Name string
	// Identity is this process's holder identity in the Lease.
	Identity string
	// LeaseDuration is the elector's lease duration; a Lease not renewed
	// for this long is not held, whatever it names.
	LeaseDuration time.Duration
	// Window is how long a verdict is trusted; zero means
	// DefaultFenceWindow.
	Window time.Duration
	// Now is the clock; nil means time.Now (whose readings carry the
	// monotonic clock). Tests inject their own.
	Now func() time.Time
	// Log receives the refusals.
	Log logr.Logger
}

// NewFence returns a fence for the Lease o describes.
func NewFence(o FenceOptions) (*Fence, error) {
	if o.Leases == nil || o.Namespace == "" || o.Name == "" || o.Identity == "" || o.LeaseDuration <= 0 {
		return nil, fmt.Errorf("leader fence: Lease client, namespace, name, identity and lease duration are required")
	}
	f := &Fence{
		leases: o.Leases, namespace: o.Namespace, name: o.Name, identity: o.Identity,
		leaseDuration: o.LeaseDuration, window: o.Window, now: o.Now, log: o.Log,
	}
	if f.window <= 0 {
		f.window = DefaultFenceWindow
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f, nil
}

// Identity is the holder identity the fence looks for in the Lease.
func (f *Fence) Identity() string { return f.identity }

// Check returns nil when this process holds the Lease, and an error wrapping
// ErrNotLeader when it does not or the Lease cannot be read. Concurrent
// callers share one Lease read.
func (f *Fence) Check(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := f.now()
	if start.Before(f.until) {
		return f.err
	}
	remaining, err := f.verify(ctx, start)
	if err != nil && ctx.Err() != nil {
		// This caller gave up (its context ended); that says nothing
		// about the Lease, so other callers are not refused for it.
		return err
	}
	valid := min(f.window, remaining)
	if err != nil {
		valid = f.window
		f.log.Error(err, "Not the leader any more, not writing", "lease", f.namespace+"/"+f.name, "identity", f.identity)
	}
	// Measured from before the read: whatever the read saw was true no
	// earlier than that.
	f.until, f.err = start.Add(valid), err
	return err
}

// verify reads the Lease and returns how long it stays ours from start, or
// why it is not ours.
func (f *Fence) verify(ctx context.Context, start time.Time) (time.Duration, error) {
	lease, err := f.leases.Leases(f.namespace).Get(ctx, f.name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("%w: reading Lease %s/%s: %w", ErrNotLeader, f.namespace, f.name, err)
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	if holder != f.identity {
		return 0, fmt.Errorf("%w: Lease %s/%s is held by %q, this process is %q", ErrNotLeader, f.namespace, f.name, holder, f.identity)
	}
	if lease.Spec.RenewTime == nil {
		return 0, fmt.Errorf("%w: Lease %s/%s names this process but has no renew time", ErrNotLeader, f.namespace, f.name)
	}
	duration := f.leaseDuration
	if s := lease.Spec.LeaseDurationSeconds; s != nil && time.Duration(*s)*time.Second < duration {
		duration = time.Duration(*s) * time.Second
	}
	// The renew time was written by this process, from its own wall
	// clock, so comparing it with the wall clock here involves no skew
	// between machines.
	remaining := lease.Spec.RenewTime.Add(duration).Sub(start.Round(0))
	if remaining <= 0 {
		return 0, fmt.Errorf("%w: Lease %s/%s was last renewed at %s, more than %s ago", ErrNotLeader, f.namespace, f.name,
			lease.Spec.RenewTime.UTC().Format(time.RFC3339Nano), duration)
	}
	return remaining, nil
}

// Wrap returns c with every write fenced: Create, Update, Patch, Apply,
// Delete and DeleteAllOf, and the writes of its status and other
// subresources. Reads go straight to c.
func (f *Fence) Wrap(c client.Client) client.Client {
	return fencedClient{Client: c, fence: f}
}

type fencedClient struct {
	client.Client
	fence *Fence
}

func (c fencedClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.fence.Check(ctx); err != nil {
		return refused("create", obj, err)
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c fencedClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := c.fence.Check(ctx); err != nil {
		return refused("update", obj, err)
	}
	return c.Client.Update(ctx, obj, opts...)
}

func (c fencedClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if err := c.fence.Check(ctx); err != nil {
		return refused("patch", obj, err)
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c fencedClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	if err := c.fence.Check(ctx); err != nil {
		return fmt.Errorf("not applying %T: %w", obj, err)
	}
	return c.Client.Apply(ctx, obj, opts...)
}

func (c fencedClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if err := c.fence.Check(ctx); err != nil {
		return refused("delete", obj, err)
	}
	return c.Client.Delete(ctx, obj, opts...)
}

func (c fencedClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	if err := c.fence.Check(ctx); err != nil {
		return fmt.Errorf("not deleting all of %T: %w", obj, err)
	}
	return c.Client.DeleteAllOf(ctx, obj, opts...)
}

func (c fencedClient) Status() client.SubResourceWriter {
	return fencedSubResource{SubResourceWriter: c.Client.Status(), fence: c.fence, name: "status"}
}

func (c fencedClient) SubResource(name string) client.SubResourceClient {
	sub := c.Client.SubResource(name)
	return fencedSubResourceClient{SubResourceClient: sub, w: fencedSubResource{SubResourceWriter: sub, fence: c.fence, name: name}}
}

// fencedSubResource fences the writes of one subresource.
type fencedSubResource struct {
	client.SubResourceWriter
	fence *Fence
	name  string
}

func (s fencedSubResource) Create(ctx context.Context, obj client.Object, subResource client.Object, opts ...client.SubResourceCreateOption) error {
	if err := s.fence.Check(ctx); err != nil {
		return refused("create "+s.name+" of", obj, err)
	}
	return s.SubResourceWriter.Create(ctx, obj, subResource, opts...)
}

func (s fencedSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	if err := s.fence.Check(ctx); err != nil {
		return refused("update "+s.name+" of", obj, err)
	}
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

func (s fencedSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if err := s.fence.Check(ctx); err != nil {
		return refused("patch "+s.name+" of", obj, err)
	}
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func (s fencedSubResource) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	if err := s.fence.Check(ctx); err != nil {
		return fmt.Errorf("not applying %s of %T: %w", s.name, obj, err)
	}
	return s.SubResourceWriter.Apply(ctx, obj, opts...)
}

// fencedSubResourceClient reads a subresource directly and fences its
// writes.
type fencedSubResourceClient struct {
	client.SubResourceClient
	w fencedSubResource
}

func (s fencedSubResourceClient) Create(ctx context.Context, obj client.Object, subResource client.Object, opts ...client.SubResourceCreateOption) error {
	return s.w.Create(ctx, obj, subResource, opts...)
}

func (s fencedSubResourceClient) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return s.w.Update(ctx, obj, opts...)
}

func (s fencedSubResourceClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	return s.w.Patch(ctx, obj, patch, opts...)
}

func (s fencedSubResourceClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	return s.w.Apply(ctx, obj, opts...)
}

// refused describes a write the fence stopped.
func refused(verb string, obj client.Object, err error) error {
	return fmt.Errorf("not going to %s %T %s/%s: %w", verb, obj, obj.GetNamespace(), obj.GetName(), err)
}

// WrapTransport fences the requests of an HTTP transport: every request
// that is not a read (GET, HEAD, OPTIONS) first passes Check. The manager's
// client sends its requests through such a transport, under the fenced
// client: that second check costs nothing while the verdict is fresh
// (there is one verdict per fence), and it narrows the window between the
// check and the write to the moment the request leaves the process. A
// goroutine frozen after the client's check, while client-go built and
// encoded its request, finds the verdict expired and the Lease lost when it
// wakes. It also fences a write made through the manager's client by code
// that does not use the fenced wrapper.
func (f *Fence) WrapTransport(rt http.RoundTripper) http.RoundTripper {
	return fencedTransport{next: rt, fence: f}
}

type fencedTransport struct {
	next  http.RoundTripper
	fence *Fence
}

func (t fencedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return t.next.RoundTrip(req)
	}
	if err := t.fence.Check(req.Context()); err != nil {
		// A RoundTripper closes the body it does not send.
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return t.next.RoundTrip(req)
}

package manager

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
)

// serviceAccountNamespaceFile holds the namespace of a pod's service
// account; the operator's Lease lives there unless told otherwise.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// leaderLock is the Lease lock the manager elects on, with the fence that
// checks it before every write.
type leaderLock struct {
	lock  resourcelock.Interface
	fence *Fence
}

// newLeaderLock creates the Lease resource lock (the Lease LeaderElectionID
// in the leader election namespace, as earlier releases used, so replicas of
// an older and a newer operator compete on the same Lease during an
// upgrade) under a fresh identity, and the fence for that identity.
func newLeaderLock(cfg *rest.Config, o Options, log logr.Logger) (*leaderLock, error) {
	ns := o.LeaderElectionNamespace
	if ns == "" {
		raw, err := os.ReadFile(serviceAccountNamespaceFile)
		if err != nil {
			return nil, fmt.Errorf("leader election needs a namespace for its Lease: set --leader-election-namespace when not running in a pod (%w)", err)
		}
		ns = strings.TrimSpace(string(raw))
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	identity := host + "_" + string(uuid.NewUUID())

	// A hung request must not outlast the renew deadline, or a single slow
	// answer costs the leadership.
	lcfg := rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	lcfg.Timeout = max(o.RenewDeadline/2, time.Second)
	cs, err := kubernetes.NewForConfig(lcfg)
	if err != nil {
		return nil, fmt.Errorf("leader election client: %w", err)
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, ns, LeaderElectionID, cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return nil, fmt.Errorf("leader election lock: %w", err)
	}
	fence, err := NewFence(FenceOptions{
		Leases: cs.CoordinationV1(), Namespace: ns, Name: LeaderElectionID, Identity: identity,
		LeaseDuration: o.LeaseDuration, Log: log.WithName("leader-fence"),
	})
	if err != nil {
		return nil, err
	}
	return &leaderLock{lock: GuardRelease(lock, log.WithName("leader-election")), fence: fence}, nil
}

// GuardRelease wraps a resource lock so that releasing it cannot empty a
// Lease another process holds.
//
// client-go releases a lock (on a clean shutdown, with ReleaseOnCancel) by
// reading the Lease afresh, which brings its resourceVersion up to date, and
// then, if its last observed record (not the one just read) named this
// process, updating the Lease with an empty holder. A deposed leader (one
// that was frozen while its successor took over) still has its own old
// record as the observed one, so its release overwrote the successor's
// Lease with an empty holder: the successor then lost its leadership, or a
// third replica took over while it still acted. The guard recognises a
// release (an update whose record has no holder; renewals and acquisitions
// always name one), reads the Lease again and lets the update through only
// when that record names this process; the update carries the
// resourceVersion of that read, so a Lease taken over between the read and
// the update makes it fail with a conflict instead of overwriting.
// Otherwise it writes nothing and logs why.
func GuardRelease(lock resourcelock.Interface, log logr.Logger) resourcelock.Interface {
	return &releaseGuard{Interface: lock, log: log}
}

type releaseGuard struct {
	resourcelock.Interface
	log logr.Logger
}

// Update writes a renewal or acquisition as it is, and a release only to a
// Lease this process still holds.
func (g *releaseGuard) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	if record.HolderIdentity != "" {
		return g.Interface.Update(ctx, record)
	}
	current, _, err := g.Get(ctx)
	if err != nil {
		return fmt.Errorf("reading %s before releasing it: %w", g.Describe(), err)
	}
	if current.HolderIdentity != g.Identity() {
		g.log.Info("Not releasing the leader election Lease: another process holds it now",
			"lock", g.Describe(), "holder", current.HolderIdentity, "identity", g.Identity())
		return nil
	}
	return g.Interface.Update(ctx, record)
}

// recordEvents makes the lock record its leadership changes as Events on
// the Lease, as controller-runtime's own lock does.
func (l *leaderLock) recordEvents(mgr interface {
	GetEventRecorderFor(string) record.EventRecorder
}) {
	if g, ok := l.lock.(*releaseGuard); ok {
		if ll, ok := g.Interface.(*resourcelock.LeaseLock); ok {
			ll.LockConfig.EventRecorder = mgr.GetEventRecorderFor(ll.Identity())
		}
	}
}

package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/tests/framework/operatorproc"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// replica is one operator process.
type replica struct {
	name string
	proc *operatorproc.Process
	// frozen is set while the process is stopped with SIGSTOP.
	frozen bool
	// disrupted is set once the test killed or froze it: its exit is
	// expected.
	disrupted bool
	// acquired is set once its log says it acquired the Lease (a follower
	// logs little, so reading its log until then is cheap).
	acquired bool
}

// replicas keeps a number of operator processes running with leader
// election: whenever one exits, for whatever reason, another starts.
type replicas struct {
	bin, kubeconfig, dir string
	args                 []string
	want                 int

	mu      sync.Mutex
	all     []*replica
	started int
	// unplanned lists replicas that exited without being disrupted (a
	// leader that missed its renew deadline on a loaded machine exits).
	unplanned []string
	startErr  error
	// closed stops ensure from starting replicas once the test ends.
	closed bool
	// Episodes of two replicas acting as leader at once (both logged that
	// they acquired the Lease, neither is frozen or has exited): a thawed
	// leader before it notices, or a Lease taken while its holder still
	// renews. Sampled every 100 ms, so shorter ones may be missed.
	overlapSince time.Time
	overlaps     []string
	overlapTotal time.Duration
}

// startReplicas starts want replicas and keeps that many running until ctx
// ends; at the end of the test all of them are stopped.
func startReplicas(t *testing.T, ctx context.Context, r *replicas) {
	t.Helper()
	r.ensure()
	if r.startErr != nil {
		t.Fatal(r.startErr)
	}
	go world.Every(ctx, 100*time.Millisecond, func() {
		r.ensure()
		r.sampleLeaders()
	})
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.closed = true
		for _, rep := range r.all {
			if rep.frozen {
				_ = rep.proc.Signal(syscall.SIGCONT)
			}
			rep.proc.Stop()
		}
	})
}

// ensure starts replicas until want of them have not exited; it notes the
// ones that exited unasked.
func (r *replicas) ensure() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	running := 0
	for _, rep := range r.all {
		if exited, err := rep.proc.Exited(); exited {
			if !rep.disrupted {
				rep.disrupted = true
				r.unplanned = append(r.unplanned, fmt.Sprintf("%s (%v)", rep.name, err))
			}
			continue
		}
		running++
	}
	for ; running < r.want; running++ {
		r.started++
		name := fmt.Sprintf("op%02d", r.started)
		p, err := operatorproc.Start(r.bin, append([]string{"--kubeconfig=" + r.kubeconfig}, r.args...),
			filepath.Join(r.dir, "operator-"+name+".log"), false)
		if err != nil {
			r.startErr = err
			return
		}
		r.all = append(r.all, &replica{name: name, proc: p})
	}
}

// leaders returns the replicas that run, are not frozen and have logged
// that they acquired the Lease. A replica that loses the Lease exits, so
// more than one means two replicas act as leader at once.
func (r *replicas) leaders() []*replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*replica
	for _, rep := range r.all {
		if exited, _ := rep.proc.Exited(); exited || rep.frozen {
			continue
		}
		if !rep.acquired {
			rep.acquired = rep.proc.LeaseAcquired(0)
		}
		if rep.acquired {
			out = append(out, rep)
		}
	}
	return out
}

// waitLeader waits until exactly one replica other than not leads.
func (r *replicas) waitLeader(ctx context.Context, not *replica, timeout time.Duration) (*replica, error) {
	deadline := time.Now().Add(timeout)
	for {
		ls := r.leaders()
		if len(ls) == 1 && ls[0] != not {
			return ls[0], nil
		}
		if time.Now().After(deadline) {
			names := []string{}
			for _, l := range ls {
				names = append(names, l.name)
			}
			return nil, fmt.Errorf("no single new leader after %s (leading: %v)", timeout, names)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sampleLeaders notes when two or more replicas act as leader.
func (r *replicas) sampleLeaders() {
	ls := r.leaders()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case len(ls) > 1 && r.overlapSince.IsZero():
		r.overlapSince = time.Now()
		names := []string{}
		for _, l := range ls {
			names = append(names, l.name)
		}
		r.overlaps = append(r.overlaps, strings.Join(names, "+"))
	case len(ls) <= 1 && !r.overlapSince.IsZero():
		d := time.Since(r.overlapSince)
		r.overlapTotal += d
		r.overlaps[len(r.overlaps)-1] += fmt.Sprintf(" for %.1fs", d.Seconds())
		r.overlapSince = time.Time{}
	}
}

// leaderOverlaps returns the episodes of two leaders and their total time.
func (r *replicas) leaderOverlaps() ([]string, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.overlaps...), r.overlapTotal
}

// signal sends sig to rep and notes what it did.
func (r *replicas) signal(rep *replica, sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := rep.proc.Signal(sig); err != nil {
		return err
	}
	switch sig {
	case syscall.SIGKILL:
		rep.disrupted = true
	case syscall.SIGSTOP:
		rep.disrupted, rep.frozen = true, true
	case syscall.SIGCONT:
		rep.frozen = false
	}
	return nil
}

func (r *replicas) unplannedExits() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.unplanned...)
}

// leaseHolder returns the identity holding the operator's Lease.
func leaseHolder(ctx context.Context, c client.Client) (string, error) {
	lease := &coordinationv1.Lease{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: manager.LeaderElectionID}, lease); err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

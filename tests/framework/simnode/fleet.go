package simnode

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ceph-operator/ceph-operator/internal/agent"
	"github.com/ceph-operator/ceph-operator/internal/uevent"
)

// Fleet runs the discovery agents of many simulated nodes inside this
// process: one process per node, as StartAgent runs, does not fit a
// thousand nodes on a small machine. Each node still runs the real agent
// loop of `agent discover` (internal/agent: the same scanner on its own
// fixture root, the same verdict chain, the same server-side apply of its
// DiskInventory's status through its own single-object watch); only the
// connection to the API server is shared (agent.NewSharedConnection), and
// kernel uevents come from the harness instead of a netlink socket.
type Fleet struct {
	conn *agent.Connection
	o    FleetOptions
}

// FleetOptions configure a Fleet.
type FleetOptions struct {
	// QPS and Burst bound the requests of all the fleet's agents together
	// (one shared client-side rate limiter); zero means 200 and 400. Real
	// agents each have their own limit and never come near it; a shared
	// one keeps a thousand agents starting at once from swamping the test
	// API server.
	QPS   float32
	Burst int
	// ResyncInterval is each agent's safety-net rescan; zero means the
	// agent's default (five minutes). The harness announces every disk it
	// writes with a uevent, as the kernel would, so no short resync is
	// needed.
	ResyncInterval time.Duration
	// Log receives the agents' logs; zero discards them.
	Log logr.Logger
}

// NewFleet connects a fleet to the API server described by cfg.
func NewFleet(cfg *rest.Config, o FleetOptions) (*Fleet, error) {
	if o.QPS == 0 {
		o.QPS, o.Burst = 200, 400
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = agent.DefaultResyncInterval
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	conn, err := agent.NewSharedConnection(cfg, o.QPS, o.Burst)
	if err != nil {
		return nil, err
	}
	return &Fleet{conn: conn, o: o}, nil
}

// FleetAgent is one node's agent running in a Fleet.
type FleetAgent struct {
	uevents chan uevent.Event
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
}

// Start runs the agent of node on the fixture root, for the DiskInventory
// of namespace, judging BlueStore labels against fsid and reporting the
// Ceph version of image (see CephVersionOf), until Stop or until ctx ends.
func (f *Fleet) Start(ctx context.Context, node, root, namespace, fsid, image string) (*FleetAgent, error) {
	cfg := agent.DefaultConfig(func(string) string { return "" })
	cfg.NodeName, cfg.Namespace, cfg.HostRoot, cfg.ClusterFSID = node, namespace, root, fsid
	// The fixture's mount table, as the agent processes of StartAgent read it.
	cfg.MountinfoPath = "/proc/self/mountinfo"
	cfg.ResyncInterval = f.o.ResyncInterval
	inv, err := f.conn.Inventory(namespace, node)
	if err != nil {
		return nil, err
	}
	a := &FleetAgent{uevents: make(chan uevent.Event, 16), done: make(chan struct{})}
	loop, err := agent.New(cfg, agent.Deps{Scanner: cfg.Scanner(), Inventory: inv, Uevents: a, CephVersion: CephVersionOf(image),
		CephUser: SimulatedCephUser.DeepCopy()})
	if err != nil {
		return nil, fmt.Errorf("setting up the agent of %s: %w", node, err)
	}
	ctx, a.cancel = context.WithCancel(ctrl.LoggerInto(ctx, f.o.Log.WithValues("node", node)))
	go func() {
		defer close(a.done)
		if err := loop.Run(ctx); err != nil {
			f.o.Log.Error(err, "Agent stopped", "node", node)
		}
	}()
	return a, nil
}

// Listen implements uevent.Listener with the events of DiskChanged.
func (a *FleetAgent) Listen(ctx context.Context, events chan<- uevent.Event) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-a.uevents:
			select {
			case events <- ev:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// DiskChanged sends the "change" uevent the kernel sends when a process
// that wrote to a block device closes it, as ceph-volume does.
func (a *FleetAgent) DiskChanged(kernelName string) {
	ev := uevent.Event{Action: "change", Subsystem: "block", DevName: kernelName, DevType: "disk",
		DevPath: "/devices/virtual/block/" + kernelName}
	select {
	case a.uevents <- ev:
	default:
		// A change is already pending; the debounced rescan covers both.
	}
}

// Stop stops the agent and waits for it.
func (a *FleetAgent) Stop() {
	a.once.Do(func() {
		a.cancel()
		<-a.done
	})
}

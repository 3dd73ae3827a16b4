package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Registration serves a Collector on a registry (controller-runtime's, which
// the manager's metrics endpoint serves) while the manager leads: it is a
// runnable that registers the collector when the replica is elected and
// unregisters it when the manager stops. Only the leader exports the
// cluster series, so a deployment of several replicas exports each series
// once, and sums over replicas do not count a cluster twice.
type Registration struct {
	// Collector is what is served.
	Collector prometheus.Collector
	// Registry is where it is registered.
	Registry prometheus.Registerer
	// Log says when registration has to wait.
	Log logr.Logger
}

// registerRetry is how often Start tries again while another collector of
// the same series is registered (another manager in the same process, as
// in tests, that has not stopped yet).
const registerRetry = time.Second

// Start registers the collector, waits for ctx to end and unregisters it.
func (r *Registration) Start(ctx context.Context) error {
	logged := false
	for {
		err := r.Registry.Register(r.Collector)
		if err == nil {
			break
		}
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return err
		}
		if !logged {
			r.Log.Info("Cluster metrics are still served by another manager of this process; waiting for it to stop")
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(registerRetry):
		}
	}
	<-ctx.Done()
	r.Registry.Unregister(r.Collector)
	return nil
}

// NeedLeaderElection makes only the leader serve the cluster series.
func (r *Registration) NeedLeaderElection() bool { return true }

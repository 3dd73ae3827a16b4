package operatorproc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ceph-operator/ceph-operator/tests/framework/promtext"
)

// QueueState is what the operator's metrics say about its controllers.
type QueueState struct {
	// Reconciles counts finished reconciles per controller.
	Reconciles map[string]float64
	// Busy is true while a queue holds work or a worker is reconciling.
	Busy bool
}

// Queues reads the operator's controller metrics.
func (p *Process) Queues(ctx context.Context) (QueueState, error) {
	qs := QueueState{Reconciles: map[string]float64{}}
	if p.MetricsAddr == "" {
		return qs, fmt.Errorf("the operator was started without metrics")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.MetricsAddr+"/metrics", nil)
	if err != nil {
		return qs, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return qs, fmt.Errorf("reading the operator's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return qs, fmt.Errorf("reading the operator's metrics: %w", err)
	}
	for _, s := range promtext.Parse(raw, "controller_runtime_reconcile_total") {
		qs.Reconciles[s.Labels["controller"]] += s.Value
	}
	for _, name := range []string{"workqueue_depth", "controller_runtime_active_workers"} {
		for _, s := range promtext.Parse(raw, name) {
			if s.Value > 0 {
				qs.Busy = true
			}
		}
	}
	return qs, nil
}

// WaitIdle waits until every controller has reconciled at least once more
// than in after (nil: at least once), and then neither queue nor worker has
// had work for quiet. It returns the time the last reconcile ended, as
// closely as polling tells.
func (p *Process) WaitIdle(ctx context.Context, after map[string]float64, quiet, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var last QueueState
	lastChange := time.Now()
	for {
		if exited, err := p.Exited(); exited {
			if err != nil {
				return time.Time{}, fmt.Errorf("the operator exited: %w (log %s)", err, p.LogPath)
			}
			return time.Time{}, fmt.Errorf("the operator exited (log %s)", p.LogPath)
		}
		qs, err := p.Queues(ctx)
		if err == nil {
			if qs.Busy || !equalCounts(qs.Reconciles, last.Reconciles) {
				lastChange = time.Now()
			}
			last = qs
			advanced := len(qs.Reconciles) >= 2
			for name, n := range qs.Reconciles {
				if n <= after[name] {
					advanced = false
				}
			}
			if advanced && !qs.Busy && time.Since(lastChange) >= quiet {
				return lastChange, nil
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return time.Time{}, fmt.Errorf("the operator was not idle within %s (reconciles %v, busy %v, metrics error %w)", timeout, last.Reconciles, last.Busy, err)
			}
			return time.Time{}, fmt.Errorf("the operator was not idle within %s (reconciles %v, busy %v)", timeout, last.Reconciles, last.Busy)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func equalCounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

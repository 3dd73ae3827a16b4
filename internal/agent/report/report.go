package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// Reporter is the report loop for one CephCluster. Create it with New or
// NewForCluster and call Run, or Pass for a single round.
type Reporter struct {
	cfg     Config
	source  StatusSource
	cluster Cluster
	now     func() time.Time
}

// New returns a reporter for cfg that gets Ceph's status from source and
// publishes it to cluster; now tells the time (nil means time.Now).
func New(cfg Config, source StatusSource, cluster Cluster, now func() time.Time) (*Reporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid reporter configuration: %w", err)
	}
	if source == nil || cluster == nil {
		return nil, errors.New("invalid reporter dependencies: a status source and a cluster are required")
	}
	if now == nil {
		now = time.Now
	}
	return &Reporter{cfg: cfg, source: source, cluster: cluster, now: now}, nil
}

// NewForCluster returns a reporter wired to the real ceph tool and the
// CephCluster cfg names on the API server restCfg describes.
func NewForCluster(cfg Config, restCfg *rest.Config) (*Reporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid reporter configuration: %w", err)
	}
	cluster, err := NewKubeCluster(restCfg, cfg.Namespace, cfg.ClusterName)
	if err != nil {
		return nil, err
	}
	return New(cfg, NewCommandSource(cfg), cluster, nil)
}

// Result says what one pass did.
type Result struct {
	// Status is what Ceph said, as it would be published, without
	// LastChecked unless it was published.
	Status cephv1alpha1.CephStatus
	// Published is true when the pass wrote status.ceph.
	Published bool
	// ClusterMissing is true when the CephCluster does not exist; Ceph
	// was not asked.
	ClusterMissing bool
}

// Run reports every Interval until ctx is done, then returns nil. A pass
// that fails (the API server unreachable, the write refused) is logged and
// the next one comes at the next tick; a failing `ceph status` is not a
// failure of the pass but what gets published.
func (r *Reporter) Run(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithValues("cephCluster", klog.KRef(r.cfg.Namespace, r.cfg.ClusterName))
	ctx = ctrl.LoggerInto(ctx, log)
	log.Info("Starting Ceph status reporter", "interval", r.cfg.Interval, "refresh", r.cfg.Refresh, "timeout", r.cfg.Timeout, "cephBinary", r.cfg.CephBinary)
	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	var last passLog
	for {
		res, err := r.Pass(ctx)
		if ctx.Err() != nil {
			log.Info("Stopping Ceph status reporter")
			return nil
		}
		last.record(ctx, res, err)
		select {
		case <-ctx.Done():
			log.Info("Stopping Ceph status reporter")
			return nil
		case <-ticker.C:
		}
	}
}

// passLog logs what changed between passes, not every pass: a reporter
// that logs every 15 seconds buries the one line that matters.
type passLog struct {
	health, message string
	missing, failed bool
}

func (p *passLog) record(ctx context.Context, res Result, err error) {
	log := ctrl.LoggerFrom(ctx)
	if err != nil {
		if !p.failed {
			log.Error(err, "Reporting Ceph status failed; retrying every interval")
		}
		p.failed = true
		return
	}
	if p.failed {
		log.Info("Reporting Ceph status works again")
		p.failed = false
	}
	if res.ClusterMissing {
		if !p.missing {
			log.Info("Waiting for the CephCluster to exist")
		}
		p.missing = true
		return
	}
	p.missing = false
	st := res.Status
	if string(st.Health) != p.health || st.Message != p.message {
		if st.Message != "" {
			log.Info("Ceph status failed", "message", st.Message)
		} else {
			codes := make([]string, 0, len(st.Checks))
			for _, c := range st.Checks {
				codes = append(codes, c.Code)
			}
			log.Info("Ceph health", "health", st.Health, "checks", codes, "osdsUp", st.OSDs.Up, "osdsIn", st.OSDs.In, "osds", st.OSDs.Total)
		}
		p.health, p.message = string(st.Health), st.Message
	}
	if res.Published {
		log.V(1).Info("Published status.ceph", "health", st.Health)
	}
}

// Pass runs one round: read what the CephCluster holds, ask Ceph, and
// publish if NeedsWrite says so. It returns an error only when the API
// server could not be read or written.
func (r *Reporter) Pass(ctx context.Context) (Result, error) {
	current, exists, err := r.cluster.CephStatus(ctx)
	if err != nil {
		return Result{}, err
	}
	if !exists {
		return Result{ClusterMissing: true}, nil
	}
	next := Observe(ctx, r.source)
	now := r.now()
	res := Result{Status: next}
	if !NeedsWrite(current, next, now, r.cfg.Refresh) {
		return res, nil
	}
	next.LastChecked = ceph.StatusTime(now)
	if err := r.cluster.ApplyCephStatus(ctx, next); err != nil {
		return res, err
	}
	res.Status, res.Published = next, true
	return res, nil
}

// Observe asks source for Ceph's status and returns it as status.ceph
// content. When Ceph does not answer, or answers something unreadable, the
// result has no health (unknown) and only a message saying why: figures
// from an earlier report are not carried over, since they may no longer be
// true.
func Observe(ctx context.Context, source StatusSource) cephv1alpha1.CephStatus {
	out, err := source.Status(ctx)
	if err != nil {
		return failed(err.Error())
	}
	st, err := ceph.ParseStatus(out)
	if err != nil {
		return failed(err.Error())
	}
	// The OSD map tells which OSDs were created but never started. Not
	// being able to read it (a key with the capability of older releases)
	// is said in osdMapMessage and leaves the rest of the report intact.
	dump, err := source.OSDDump(ctx)
	if err == nil {
		st.NeverStartedOSDs, st.NeverStartedOSDsOmitted, err = ceph.NeverStartedOSDs(dump)
	}
	if err != nil {
		st.NeverStartedOSDs, st.NeverStartedOSDsOmitted = nil, 0
		st.OSDMapMessage = truncate(err.Error(), cephv1alpha1.MaxCephMessageLength)
	}
	return st
}

func failed(msg string) cephv1alpha1.CephStatus {
	return cephv1alpha1.CephStatus{Message: truncate(msg, cephv1alpha1.MaxCephMessageLength)}
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// NeedsWrite reports whether next must be published over current (what
// the server holds, nil if nothing): when anything but LastChecked and the
// capacity differs, when the capacity moved by more than
// capacityTolerance, or when current was checked refresh or longer before
// now.
func NeedsWrite(current *cephv1alpha1.CephStatus, next cephv1alpha1.CephStatus, now time.Time, refresh time.Duration) bool {
	if current == nil || current.LastChecked == nil {
		return true
	}
	if now.Sub(current.LastChecked.Time) >= refresh {
		return true
	}
	return !sameContent(*current, next) || !closeCapacity(current.Capacity, next.Capacity)
}

// capacityTolerance is the share of the total capacity by which used or
// available space may drift before it is worth a write on its own. Even an
// idle cluster's used bytes move by kilobytes between two runs (metadata,
// the mgr's own pool); publishing each move would mean a write every
// interval. The exact figures are still published every refresh period.
const capacityTolerance = 0.01

// closeCapacity reports whether two capacities are the same up to
// capacityTolerance of the total.
func closeCapacity(a, b cephv1alpha1.CephCapacity) bool {
	if a.TotalBytes != b.TotalBytes {
		// OSDs came or went (or came up or went down).
		return false
	}
	tol := float64(a.TotalBytes) * capacityTolerance
	near := func(x, y int64) bool { return math.Abs(float64(x)-float64(y)) <= tol }
	return near(a.UsedBytes, b.UsedBytes) && near(a.AvailableBytes, b.AvailableBytes)
}

// sameContent compares two statuses, ignoring LastChecked and the
// capacity, through their JSON forms, so that a status read back from the
// API server (where empty lists come back absent) equals one built
// locally.
func sameContent(a, b cephv1alpha1.CephStatus) bool {
	a.LastChecked, b.LastChecked = nil, nil
	a.Capacity, b.Capacity = cephv1alpha1.CephCapacity{}, cephv1alpha1.CephCapacity{}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

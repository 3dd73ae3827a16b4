package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/uevent"
	"github.com/ceph-operator/ceph-operator/internal/version"
)

// DeviceScanner lists the node's block devices with their facts.
// discovery.Scanner is the real one; tests substitute fakes.
type DeviceScanner interface {
	// Scan returns every whole block device of the node.
	Scan() ([]discovery.Device, error)
}

// Deps are the agent's connections to the outside world.
type Deps struct {
	// Scanner reads the node's devices. Required.
	Scanner DeviceScanner
	// Inventory watches and writes the node's DiskInventory. Required.
	Inventory Inventory
	// Uevents delivers kernel uevents; nil means none, leaving the
	// periodic resync and explicit rescans.
	Uevents uevent.Listener
	// Now tells the time for LastScanTime; nil means time.Now.
	Now func() time.Time
	// AgentVersion is published in status.agentVersion; empty means
	// version.String().
	AgentVersion string
	// CephVersion is published in status.cephVersion: the Ceph version of
	// the image the agent runs in, empty when unknown.
	CephVersion string
	// CephUser is published in status.cephUser: the ceph user of the image
	// the agent runs in, nil when unknown.
	CephUser *cephv1alpha1.CephUser
	// Health reads the drives' health after each scan; nil means none is
	// read and disks carry no health.
	Health HealthChecker
}

// Retry bounds for a failed scan or publish: the first retry comes after
// minRetry and each further one waits twice as long, up to maxRetry.
const (
	minRetry = time.Second
	maxRetry = time.Minute
)

// Agent is the discover loop of one node. Create it with New or NewForNode
// and call Run once.
type Agent struct {
	cfg      Config
	deps     Deps
	opts     discovery.Options
	key      types.NamespacedName
	requests chan chan syncOutcome
	done     chan struct{}
	started  sync.Once
}

// SyncResult says what one pass of the loop did.
type SyncResult struct {
	// Scanned is true if the devices were scanned in this pass.
	Scanned bool
	// Published is true if the status was written to the API server.
	Published bool
	// WaitingForInventory is true if the DiskInventory does not exist
	// (or is not known yet), so nothing could be published.
	WaitingForInventory bool
	// Status is the status content as of this pass, whether or not it
	// was written; it is empty while waiting for the DiskInventory.
	Status cephv1alpha1.DiskInventoryStatus
}

type syncOutcome struct {
	result SyncResult
	err    error
}

// New returns an agent for cfg using deps. It fails if cfg is invalid or a
// required dependency is missing.
func New(cfg Config, deps Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid agent configuration: %w", err)
	}
	if deps.Scanner == nil || deps.Inventory == nil {
		return nil, errors.New("invalid agent dependencies: Scanner and Inventory are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.AgentVersion == "" {
		deps.AgentVersion = version.String()
	}
	return &Agent{
		cfg:      cfg,
		deps:     deps,
		opts:     cfg.VerdictOptions(),
		key:      types.NamespacedName{Namespace: cfg.Namespace, Name: cfg.NodeName},
		requests: make(chan chan syncOutcome),
		done:     make(chan struct{}),
	}, nil
}

// NewForNode returns an agent wired to the real node and API server: the
// discovery scanner on cfg.HostRoot, the kernel's uevent socket and the
// DiskInventory named cfg.NodeName in cfg.Namespace.
func NewForNode(cfg Config, restCfg *rest.Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid agent configuration: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := cephv1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering the DiskInventory kind: %w", err)
	}
	inv, err := NewKubeInventory(restCfg, scheme, cfg.Namespace, cfg.NodeName)
	if err != nil {
		return nil, err
	}
	// The agent runs in the cluster's Ceph image: its version tells the
	// operator whether the image is supported. Not knowing it is reported
	// as an empty version, not an error.
	cephVersion, err := ceph.DetectVersion(context.Background(), cfg.CephBinary)
	if err != nil {
		ctrl.Log.WithName("agent").Error(err, "Could not tell the Ceph version of this image")
	}
	return New(cfg, Deps{Scanner: cfg.Scanner(), Inventory: inv, Uevents: uevent.NetlinkListener{}, CephVersion: cephVersion,
		CephUser: DetectCephUser(cfg.PasswdPath), Health: cfg.HealthChecker()})
}

// DetectCephUser reads the ceph user from the image's passwd file at path,
// for the operator to run the health reporter as. Not knowing it (no file,
// no ceph user, or one that is root) is logged and reported as nil, not an
// error: the operator then falls back to the uid of the Ceph project's
// images.
func DetectCephUser(path string) *cephv1alpha1.CephUser {
	log := ctrl.Log.WithName("agent")
	u, err := ceph.DetectUser(path, ceph.UserName)
	if err != nil {
		log.Info("Could not tell the ceph user of this image; status.cephUser is left out", "reason", err.Error())
		return nil
	}
	log.Info("Found the ceph user of this image", "passwd", path, "uid", u.UID, "gid", u.GID)
	return &cephv1alpha1.CephUser{UID: u.UID, GID: u.GID}
}

// Rescan asks the running loop for a scan now and waits until it has been
// done and, if the content changed, published. It is how tests and
// signal handlers force a pass; it fails if ctx ends or Run has returned.
func (a *Agent) Rescan(ctx context.Context) (SyncResult, error) {
	reply := make(chan syncOutcome, 1)
	select {
	case a.requests <- reply:
	case <-a.done:
		return SyncResult{}, errors.New("the agent is not running")
	case <-ctx.Done():
		return SyncResult{}, ctx.Err()
	}
	select {
	case out := <-reply:
		return out.result, out.err
	case <-a.done:
		return SyncResult{}, errors.New("the agent stopped before answering")
	case <-ctx.Done():
		return SyncResult{}, ctx.Err()
	}
}

// loopState is what the loop remembers between passes. Only Run's
// goroutine touches it.
type loopState struct {
	// ready is true once the inventory watch has reported the object's
	// state at least once.
	ready bool
	// needScan forces a scan in the next pass: at start and after a
	// failed scan.
	needScan bool
	devices  []discovery.Device
	// answered is the spec.rescanRequest the devices were scanned for.
	answered int64
	// published is what the agent last wrote (or found on the server) for
	// the object with UID publishedUID.
	published    *cephv1alpha1.DiskInventoryStatus
	publishedUID types.UID
	// waitingLogged avoids repeating "Waiting for DiskInventory".
	waitingLogged bool
}

// Run scans and publishes until ctx is done, then returns nil. It returns
// an error only if the DiskInventory cannot be watched at all; failed scans
// and publishes are logged and retried with backoff. Run must be called
// once.
func (a *Agent) Run(ctx context.Context) error {
	first := false
	a.started.Do(func() { first = true })
	if !first {
		return errors.New("the agent's Run was called twice")
	}
	defer close(a.done)
	log := ctrl.LoggerFrom(ctx).WithValues("diskInventory", klog.KRef(a.key.Namespace, a.key.Name))
	ctx = ctrl.LoggerInto(ctx, log)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	invChanged := make(chan struct{}, 1)
	watchErr := make(chan error, 1)
	wg.Go(func() { watchErr <- a.deps.Inventory.Watch(ctx, invChanged) })

	uevents := make(chan uevent.Event, 256)
	ueventErr := make(chan error, 1)
	if a.deps.Uevents != nil {
		wg.Go(func() { ueventErr <- a.deps.Uevents.Listen(ctx, uevents) })
	} else {
		log.Info("No kernel uevent source configured; relying on periodic resync", "resyncInterval", a.cfg.ResyncInterval)
	}

	resync := time.NewTicker(a.cfg.ResyncInterval)
	defer resync.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	backoff := minRetry

	log.Info("Starting disk discovery", "hostRoot", a.cfg.HostRoot, "resyncInterval", a.cfg.ResyncInterval, "debounce", a.cfg.Debounce, "allowLoopDevices", a.cfg.AllowLoopDevices)
	st := &loopState{needScan: true}
	// pass runs one sync and handles its error: logged, then retried with
	// exponential backoff until a pass succeeds.
	pass := func(why string, scan bool) syncOutcome {
		res, err := a.sync(ctx, st, scan)
		if err != nil && ctx.Err() != nil {
			// Shutting down: the pass was cut short, nothing to retry.
			return syncOutcome{res, err}
		}
		if err != nil {
			log.Error(err, "Disk discovery pass failed; will retry", "trigger", why, "retryIn", backoff)
			retry.Reset(backoff)
			backoff = min(2*backoff, maxRetry)
		} else {
			retry.Stop()
			backoff = minRetry
		}
		return syncOutcome{res, err}
	}
	// The first scan does not wait for the watch: its result is ready to
	// publish as soon as the DiskInventory is known.
	pass("start", true)
	for {
		select {
		case <-ctx.Done():
			log.Info("Stopping disk discovery")
			return nil
		case err := <-watchErr:
			if ctx.Err() != nil {
				log.Info("Stopping disk discovery")
				return nil
			}
			if err == nil {
				err = errors.New("the watch ended unexpectedly")
			}
			return fmt.Errorf("watching DiskInventory %s: %w", a.key, err)
		case err := <-ueventErr:
			if err != nil && ctx.Err() == nil {
				log.Info("Kernel uevents unavailable; relying on periodic resync", "reason", err.Error(), "resyncInterval", a.cfg.ResyncInterval)
			}
		case <-invChanged:
			st.ready = true
			pass("inventory", false)
		case ev := <-uevents:
			if !ev.AffectsBlockDevices() {
				continue
			}
			log.V(1).Info("Block device uevent", "action", ev.Action, "device", ev.DevName, "seqnum", ev.Seqnum)
			if a.cfg.Debounce == 0 {
				pass("uevent", true)
				continue
			}
			debounce.Reset(a.cfg.Debounce)
		case <-debounce.C:
			pass("uevent", true)
		case <-resync.C:
			pass("resync", true)
		case <-retry.C:
			pass("retry", false)
		case reply := <-a.requests:
			reply <- pass("request", true)
		}
	}
}

// sync is one pass: scan when asked to, when a scan is pending or when the
// operator requested one, then publish if the content differs from what
// the server holds.
func (a *Agent) sync(ctx context.Context, st *loopState, scan bool) (SyncResult, error) {
	log := ctrl.LoggerFrom(ctx)
	var inv *cephv1alpha1.DiskInventory
	if st.ready {
		var err error
		if inv, err = a.deps.Inventory.Current(ctx); err != nil {
			return SyncResult{}, err
		}
	}
	var res SyncResult
	var requested int64
	if inv != nil {
		requested = inv.Spec.RescanRequest
	}
	if scan || st.needScan || requested > st.answered {
		devs, err := a.deps.Scanner.Scan()
		if err != nil {
			st.needScan = true
			return res, fmt.Errorf("scanning devices of %s: %w", a.cfg.NodeName, err)
		}
		if a.deps.Health != nil {
			// Cheap on most scans: readings are reused until they are
			// due for a refresh.
			a.deps.Health.Check(ctx, devs)
		}
		st.devices, st.needScan, res.Scanned = devs, false, true
		if requested > st.answered {
			log.Info("Rescanned on request", "rescanRequest", requested)
		}
	}
	if inv == nil {
		// The object was deleted (or never existed): whatever was
		// published is gone with it.
		st.published, st.publishedUID = nil, ""
		res.WaitingForInventory = true
		if !st.waitingLogged && st.ready {
			log.Info("Waiting for DiskInventory to be created by the operator")
			st.waitingLogged = true
		}
		return res, nil
	}
	st.waitingLogged = false
	st.answered = requested
	if st.publishedUID != inv.UID {
		// A new object (or first sight after a restart): compare with
		// what the server holds, not with what an earlier run wrote.
		server := inv.Status
		st.published, st.publishedUID = &server, inv.UID
	}
	content := BuildStatus(st.devices, a.opts, requested, a.deps.AgentVersion)
	content.CephVersion = a.deps.CephVersion
	content.CephImage = a.cfg.CephImage
	if a.deps.CephUser != nil {
		u := *a.deps.CephUser
		content.CephUser = &u
	}
	res.Status = content
	now := metav1.NewTime(a.deps.Now().Truncate(time.Second))
	if SameContent(content, *st.published) {
		res.Status.LastScanTime = st.published.LastScanTime
		res.Status.LastReportTime = st.published.LastReportTime
		if !res.Scanned || !reportDue(st.published.LastReportTime, now.Time) {
			return res, nil
		}
		// Nothing changed, but the last report is old: refresh the
		// heartbeat so that an idle node does not look like a dead agent.
		content.LastScanTime = st.published.LastScanTime
		content.LastReportTime = &now
		if err := a.deps.Inventory.ApplyStatus(ctx, content); err != nil {
			return res, fmt.Errorf("reporting inventory of %s: %w", a.cfg.NodeName, err)
		}
		st.published = &content
		res.Published, res.Status = true, content
		log.V(1).Info("Reported an unchanged DiskInventory status", "lastReportTime", now)
		return res, nil
	}
	content.LastScanTime = &now
	content.LastReportTime = &now
	if err := a.deps.Inventory.ApplyStatus(ctx, content); err != nil {
		return res, fmt.Errorf("publishing inventory of %s: %w", a.cfg.NodeName, err)
	}
	st.published = &content
	res.Published, res.Status = true, content
	s := content.Summary
	log.Info("Published DiskInventory status", "disks", s.Disks, "available", s.Available, "osds", s.OSDs, "rejected", s.Rejected, "observedRescanRequest", content.ObservedRescanRequest)
	return res, nil
}

// ReportInterval is how old status.lastReportTime may grow before a scan
// that found nothing new refreshes it. With the default resync of five
// minutes an idle node reports every ten: a thousand nodes make fewer than
// two writes a second.
const ReportInterval = 10 * time.Minute

// reportSlack lets a periodic scan that comes a little early still refresh
// a report that is nearly ReportInterval old (the report's time is
// truncated to the second, and scans take varying time), so an idle node
// reports every ReportInterval, not every ReportInterval plus one resync.
const reportSlack = time.Minute

// reportDue reports whether a heartbeat should be written at now, the last
// one having been written at last (nil: never).
func reportDue(last *metav1.Time, now time.Time) bool {
	return last == nil || now.Sub(last.Time) >= ReportInterval-reportSlack
}

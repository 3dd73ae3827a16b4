package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// OSDReconciler turns selected, empty disks into OSDs: it gathers the
// cluster's nodes, inventories, prepare Jobs and OSD Deployments, asks the
// pure planner what to do, and applies the plan. It never waits: Jobs,
// Deployments, inventories and Nodes are all watched.
type OSDReconciler struct {
	// Client reads through the informer cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server without a cache: the pods of
	// prepare Jobs, which are read rarely (only while a Job exists) and
	// must be current, are not worth an informer.
	APIReader client.Reader
	// Recorder emits events when an OSD is created or a prepare fails.
	Recorder events.EventRecorder
	// Images are the operator's own images for node pods.
	Images resources.Images
	// Clock returns the current time; tests may fix it.
	Clock func() time.Time

	// hashes remembers the hash of each OSD's desired Deployment with what
	// it was built from (desiredHashes), so that a reconcile builds and
	// hashes only the Deployments whose inputs changed, not every OSD's.
	hashesMu sync.Mutex
	hashes   map[types.NamespacedName]map[int32]osdHash

	// memos remember each cluster's per-node plans, so that a reconcile
	// plans again only the nodes whose inputs changed (osdplan.Memo).
	memosMu sync.Mutex
	memos   map[types.NamespacedName]*osdplan.Memo
	// plans applies the inventories' plans on workers of its own.
	plans *planWriter

	// finished is when each cluster's status was last written and its
	// finished Jobs deleted (see finishLater).
	finishedMu sync.Mutex
	finished   map[types.NamespacedName]time.Time
}

// finishEvery is how often, at most, a reconcile that created Jobs or
// Deployments also writes the cluster's status and deletes finished Jobs.
// Those writes go after its creations, and the next reconcile's creations
// would wait behind them in every reconcile while thousands of OSDs are
// created (see docs/design/0006-plan-per-node.md for what it measured). A
// reconcile that creates nothing does both at once.
const finishEvery = 2 * time.Second

// finishLater reports whether a reconcile that created something leaves
// the status write and the Job deletions to a later reconcile, and how
// soon that one must come; otherwise it records that they are done now.
func (r *OSDReconciler) finishLater(name types.NamespacedName, created bool) (bool, time.Duration) {
	r.finishedMu.Lock()
	defer r.finishedMu.Unlock()
	now := time.Now()
	if created {
		if since := now.Sub(r.finished[name]); since < finishEvery {
			return true, finishEvery - since
		}
	}
	if r.finished == nil {
		r.finished = map[types.NamespacedName]time.Time{}
	}
	r.finished[name] = now
	return false, 0
}

// forgetFinished drops the record of a cluster that is gone.
func (r *OSDReconciler) forgetFinished(name types.NamespacedName) {
	r.finishedMu.Lock()
	defer r.finishedMu.Unlock()
	delete(r.finished, name)
}

// osdHash is the hash of an OSD's desired Deployment and a digest of what
// it was built from.
type osdHash struct {
	key  [sha256.Size]byte
	hash string
}

// +kubebuilder:rbac:groups=batch,namespace=ceph-operator-system,resources=jobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",namespace=ceph-operator-system,resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,namespace=ceph-operator-system,resources=deployments,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the reconciler and its watches.
func (r *OSDReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.APIReader == nil || r.Recorder == nil || r.Images.Operator == "" {
		return errors.New("OSDReconciler needs Client, APIReader, Recorder and Images.Operator")
	}
	if r.Clock == nil {
		r.Clock = time.Now
	}
	r.plans = newPlanWriter(r.Client, r.planWritten)
	if err := mgr.Add(r.plans); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("osd").
		// The cluster's own status changes (written by both reconcilers)
		// matter here only when the FSID appears, the monitors become
		// ready (or stop being ready), the image's Ceph version is found
		// supported (or no longer), the reporter's list of OSDs that
		// never started changes, Ceph starts or stops reporting
		// degraded placement groups (the OSD disruption budgets) or that
		// every OSD runs a newer release than the OSD map requires (the end
		// of an upgrade), the accepted daemon image changes, or the type of
		// the cluster's cephx keys or the step of their migration.
		For(&cephv1alpha1.CephCluster{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
				o, okOld := e.ObjectOld.(*cephv1alpha1.CephCluster)
				n, okNew := e.ObjectNew.(*cephv1alpha1.CephCluster)
				return okOld && okNew && (o.Status.FSID != n.Status.FSID || !o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
					meta.IsStatusConditionTrue(o.Status.Conditions, cephv1alpha1.ConditionMonitorsReady) !=
						meta.IsStatusConditionTrue(n.Status.Conditions, cephv1alpha1.ConditionMonitorsReady) ||
					meta.IsStatusConditionTrue(o.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported) !=
						meta.IsStatusConditionTrue(n.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported) ||
					!equality.Semantic.DeepEqual(neverStarted(o), neverStarted(n)) ||
					!slices.Equal(osdplan.Recovering(o.Status.Ceph), osdplan.Recovering(n.Status.Ceph)) ||
					osdplan.HasCheck(o.Status.Ceph, osdplan.CheckOSDUpgradeFinished) != osdplan.HasCheck(n.Status.Ceph, osdplan.CheckOSDUpgradeFinished) ||
					!equality.Semantic.DeepEqual(o.Status.DaemonImage, n.Status.DaemonImage) ||
					cephxState(o) != cephxState(n))
			}},
		))).
		Owns(&batchv1.Job{}).
		Owns(&appsv1.Deployment{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&cephv1alpha1.DiskInventory{}, builder.WithPredicates(notHeartbeatOnly())).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(osdPodToCluster),
			builder.WithPredicates(osdPodCrashChanged())).
		Watches(&corev1.Node{},
			handler.EnqueueRequestsFromMapFunc(r.allClusters),
			builder.WithPredicates(nodeSelectionChanged())).
		// A plan write starting or stopping to fail shows in the status.
		WatchesRawSource(source.Channel(r.plans.events, &handler.TypedEnqueueRequestForObject[*cephv1alpha1.CephCluster]{})).
		Complete(r)
}

// notHeartbeatOnly drops the DiskInventory updates that only refresh the
// agent's status.lastReportTime: the planner does not read it, and at a
// thousand nodes the heartbeats alone would keep the reconciler busy.
func notHeartbeatOnly() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*cephv1alpha1.DiskInventory)
		n, okNew := e.ObjectNew.(*cephv1alpha1.DiskInventory)
		if !okOld || !okNew || o.Status.LastReportTime.Equal(n.Status.LastReportTime) {
			return true
		}
		oldStatus, newStatus := o.Status, n.Status
		oldStatus.LastReportTime, newStatus.LastReportTime = nil, nil
		return !equality.Semantic.DeepEqual(oldStatus, newStatus) || !equality.Semantic.DeepEqual(o.Spec, n.Spec) ||
			!o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
			!equality.Semantic.DeepEqual(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Annotations, n.Annotations) ||
			!equality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences) || !equality.Semantic.DeepEqual(o.Finalizers, n.Finalizers)
	}}
}

// allClusters maps any object to every CephCluster the operator watches.
func (r *OSDReconciler) allClusters(ctx context.Context, _ client.Object) []ctrl.Request {
	return listClusterRequests(ctx, r.Client)
}

// Reconcile plans and applies OSD provisioning for one CephCluster.
func (r *OSDReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	cluster := &cephv1alpha1.CephCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetHashes(req.NamespacedName)
			r.forgetMemo(req.NamespacedName)
			r.forgetFinished(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// The cluster reconciler owns the life cycle: nothing is provisioned
	// before the cluster has its identity, while it is being deleted, or
	// when it is a duplicate (it then never gets an FSID).
	if !cluster.DeletionTimestamp.IsZero() || cluster.Status.FSID == "" {
		return ctrl.Result{}, nil
	}
	// Only an image of a supported Ceph release runs anything: until the
	// agents reported its version, or when it is too old, no prepare Job
	// starts and no OSD Deployment is created or rolled to it.
	if !meta.IsStatusConditionTrue(cluster.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported) {
		log.V(1).Info("Not provisioning: the Ceph image's version is not known to be supported")
		return ctrl.Result{}, nil
	}
	// Prepare Jobs and OSDs run the image the cluster reconciler accepted
	// (status.daemonImage), never spec.image itself: right after a
	// spec.image change the condition above still describes the previous
	// image, and a refused downgrade must not reach any OSD.
	image, ok := acceptedImage(cluster)
	if !ok {
		log.V(1).Info("Not provisioning: spec.image changed and is not judged yet")
		return ctrl.Result{}, nil
	}
	cluster = cluster.DeepCopy()
	cluster.Spec.Image = image

	in, jobs, hashes, err := r.gather(ctx, cluster)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Every keyring a prepare or OSD Job mounts is of the cluster's key
	// type, which the cluster reconciler records before the first monitor.
	rec, haveKeys, err := clusterKeyType(ctx, r.Client, cluster)
	if err != nil {
		return ctrl.Result{}, err
	}
	keys := rec.keyType
	switch {
	case !haveKeys && in.WaitForMonitors == "":
		in.WaitForMonitors = "the cluster's cephx key type is not recorded yet"
	case rec.migration == cephv1alpha1.CephxMigrationImporting && in.WaitForMonitors == "":
		// A prepare registers its OSD as client.bootstrap-osd, whose
		// key changes now: none starts until the monitors have the new
		// key and prepare Jobs mount it.
		in.WaitForMonitors = "the monitors get the AES-256 keys of the users the operator holds (spec.security.cephx.keyType); prepare Jobs wait until then"
	}
	osdJobs, osdJobsByName, err := r.gatherOSDJobs(ctx, cluster)
	if err != nil {
		return ctrl.Result{}, err
	}
	var rolloutJobs []osdplan.OSDJob
	in.OSDJobs, rolloutJobs = splitOSDJobs(osdJobs)
	plan := r.memo(req.NamespacedName).Compute(in)
	waiting := unpublished(cluster, in)

	// Order matters for crash safety: a finished Job is deleted only after
	// its outcome is recorded in the inventories (failure records, then
	// plans) and its node was asked to rescan. Creating Jobs and
	// Deployments first gets disks prepared sooner; a crash before the
	// plans are written only means the same plan is computed again, and
	// finds the Jobs it created. The plans themselves are written by the
	// plan writer, not here: this reconcile, and the next one's creations,
	// never wait for them (docs/design/0006-plan-per-node.md).
	// No plan write starts while this reconcile creates (a panic
	// releases the hold too).
	release := sync.OnceFunc(r.plans.holdFor())
	defer release()
	exists, createErr := r.createJobs(ctx, cluster, keys, haveKeys, plan.CreateJobs)
	for node, name := range exists {
		plan.Unschedule(node, name)
	}
	gate, createdOSDs, ensureErr := r.ensureOSDs(ctx, cluster, plan.OSDs, in.OSDs, hashes, rolloutJobs)
	rollout := gate.Rollout
	plan.Counts.Updated = rollout.Updated
	osdJobsErr := r.createOSDJobs(ctx, cluster, keys, haveKeys, in.Inventories, append(plan.CreateOSDJobs, gate.CreateJobs...))
	release()
	created := len(plan.CreateJobs) > len(exists) || createdOSDs > 0
	errs := []error{
		createErr,
		ensureErr,
		osdJobsErr,
		r.stopOSDs(ctx, cluster, plan.StopOSDs),
		r.applyBudgets(ctx, cluster, in.OSDs),
		r.writeFailureRecords(ctx, in.Inventories, plan.FailureRecords),
	}
	if errors.Join(errs...) == nil {
		// Rescans before plans: the agents' answers are what the next
		// OSD Deployments wait for.
		errs = append(errs,
			r.requestRescans(ctx, cluster, in.Inventories, plan.Rescan, plan.RescanJobs),
			r.resumeRescans(ctx, in.Inventories, plan.RescanResume))
		r.plans.enqueue(cluster, in.Inventories, plan.DevicePlans)
	}
	err = errors.Join(errs...)
	// While OSD Deployments are being created, the status write and the
	// deletion of finished Jobs wait for a later reconcile, at most
	// finishEvery (an error is shown at once).
	later, finishIn := false, time.Duration(0)
	if err == nil {
		later, finishIn = r.finishLater(req.NamespacedName, created)
	}
	if later {
		log.V(1).Info("Creating; the status and Job deletions follow", "after", finishIn)
		return ctrl.Result{RequeueAfter: finishIn}, nil
	}
	if err == nil {
		err = errors.Join(r.deleteJobs(ctx, cluster, jobs, recordedJobs(plan, jobs, in.Inventories)),
			r.deleteJobs(ctx, cluster, osdJobsByName, append(plan.DeleteOSDJobs, gate.DeleteJobs...)))
	}
	// A failing plan write is retried by the writer; it shows in the
	// status but is no error of this reconcile.
	shown := err
	if shown == nil {
		shown = r.plans.failures(req.NamespacedName)
	}
	if serr := r.writeStatus(ctx, cluster, plan, gate, waiting, osdplan.UnclaimedOSDs(in), shown); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(exists) > 0 {
		// A Job the cache does not show yet: its creation event arrives
		// soon; requeue in case it was created and deleted meanwhile.
		log.V(1).Info("A prepare Job exists that the cache does not show yet", "nodes", len(exists))
		return ctrl.Result{RequeueAfter: jobExistsRequeue}, nil
	}
	if after := minPositive(plan.RequeueAfter, gate.RequeueAfter); after > 0 {
		// A retry waits for a backoff to expire (a prepare, a
		// decommission or rollout step); time cannot be watched, so
		// this is the one place that requeues after a delay.
		log.V(1).Info("Waiting for a backoff", "after", after)
		return ctrl.Result{RequeueAfter: after}, nil
	}
	return ctrl.Result{}, nil
}

// acceptedImage is the Ceph image the OSD reconciler may run: the cluster
// reconciler's status.daemonImage, or, for a cluster whose status has none
// yet (written by an older release), spec.image once CephVersionSupported
// describes the current generation.
func acceptedImage(cluster *cephv1alpha1.CephCluster) (string, bool) {
	if d := cluster.Status.DaemonImage; d != nil && d.Image != "" {
		return d.Image, true
	}
	c := meta.FindStatusCondition(cluster.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported)
	if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == cluster.Generation {
		return cluster.Spec.Image, true
	}
	return "", false
}

// jobExistsRequeue is how soon a plan whose Job creation met a Job of the
// same name unknown to the cache is computed again.
const jobExistsRequeue = 2 * time.Second

// gather reads everything the planner needs from the cache.
func (r *OSDReconciler) gather(ctx context.Context, cluster *cephv1alpha1.CephCluster) (osdplan.Input, map[string]*batchv1.Job, map[int32]string, error) {
	in := osdplan.Input{Cluster: cluster, Now: r.Clock()}
	// A prepare registers its OSD with the monitors: none starts before
	// they are up. Once an OSD's disk is prepared, its Deployment does not
	// wait for them (ceph-osd waits by itself).
	if c := meta.FindStatusCondition(cluster.Status.Conditions, cephv1alpha1.ConditionMonitorsReady); c == nil || c.Status != metav1.ConditionTrue {
		in.WaitForMonitors = "the monitors are not ready yet"
		if c != nil && c.Message != "" {
			in.WaitForMonitors = c.Message
		}
	}
	// Nodes and inventories are only read here and by the pure planner;
	// not copying them out of the cache saves most of a reconcile's CPU at
	// a thousand nodes. Anything that writes takes its own copy.
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return in, nil, nil, fmt.Errorf("listing Nodes: %w", err)
	}
	in.Nodes = nodes.Items

	own := client.MatchingLabels(resources.ClusterSelector(cluster))
	ns := client.InNamespace(cluster.Namespace)
	var inventories cephv1alpha1.DiskInventoryList
	if err := r.Client.List(ctx, &inventories, ns, own, client.UnsafeDisableDeepCopy); err != nil {
		return in, nil, nil, fmt.Errorf("listing DiskInventories: %w", err)
	}
	in.Inventories = inventories.Items

	var jobs batchv1.JobList
	prepare := client.MatchingLabels{resources.ComponentLabel: resources.ComponentPrepare}
	if err := r.Client.List(ctx, &jobs, ns, own, prepare, client.UnsafeDisableDeepCopy); err != nil {
		return in, nil, nil, fmt.Errorf("listing prepare Jobs: %w", err)
	}
	byName := make(map[string]*batchv1.Job, len(jobs.Items))
	var pods map[types.UID][]corev1.Pod
	if len(jobs.Items) > 0 {
		// Pods tell whether a Job started and what agent prepare reported;
		// they are read only while a prepare Job exists.
		var list corev1.PodList
		if err := r.APIReader.List(ctx, &list, ns, own, prepare); err != nil {
			return in, nil, nil, fmt.Errorf("listing prepare pods: %w", err)
		}
		pods = podsByJob(list.Items)
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		byName[job.Name] = job
		in.Jobs = append(in.Jobs, prepareJobState(job, pods[job.UID]))
	}

	var deployments appsv1.DeploymentList
	if err := r.Client.List(ctx, &deployments, ns, own, client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}, client.UnsafeDisableDeepCopy); err != nil {
		return in, nil, nil, fmt.Errorf("listing OSD Deployments: %w", err)
	}
	hashes := make(map[int32]string, len(deployments.Items))
	for i := range deployments.Items {
		if osd, ok := osdState(&deployments.Items[i]); ok {
			in.OSDs = append(in.OSDs, osd)
			hashes[osd.ID] = deployments.Items[i].Annotations[apply.HashAnnotation]
		}
	}
	if err := r.crashingOSDs(ctx, cluster, in.OSDs); err != nil {
		return in, nil, nil, err
	}
	return in, byName, hashes, nil
}

// prepareJobState reduces a Job, and its pods, to what the planner needs.
func prepareJobState(job *batchv1.Job, pods []corev1.Pod) osdplan.PrepareJob {
	pj := osdplan.PrepareJob{Name: job.Name, Node: job.Annotations[resources.NodeAnnotation], State: osdplan.JobRunning,
		Wipe: job.Annotations[resources.JobKindAnnotation] == resources.JobKindWipe}
	var targets []resources.PrepareTarget
	if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &targets); err == nil {
		for _, t := range targets {
			pj.DeviceIDs = append(pj.DeviceIDs, t.ID)
		}
	}
	pj.State, pj.FinishedAt, pj.FailureMessage = jobOutcome(job)
	if v, err := strconv.ParseInt(job.Annotations[resources.RescanRequestAnnotation], 10, 64); err == nil && v > 0 {
		pj.RescanRequest = v
	}
	pj.Started = jobStarted(job, pods)
	if pj.State != osdplan.JobRunning {
		pj.Results, pj.FailureMessage = jobResults(targets, pods, pj.FailureMessage)
	}
	return pj
}

// podsByJob groups prepare pods by the UID of the Job that owns them. Not by
// name: a node's Jobs all have the same name, and the pods of a deleted one
// linger until the garbage collector removes them.
func podsByJob(pods []corev1.Pod) map[types.UID][]corev1.Pod {
	out := map[types.UID][]corev1.Pod{}
	for _, p := range pods {
		uid := types.UID(p.Labels[batchv1.ControllerUidLabel])
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "Job" {
			uid = ref.UID
		}
		if uid != "" {
			out[uid] = append(out[uid], p)
		}
	}
	return out
}

// jobStarted reports whether agent prepare may be running, or may have run,
// in a pod of job: the Job counts a ready, succeeded or failed pod, or one
// of its pods is past Pending or has its prepare container started. A pod
// that is only scheduled, or runs its init container (the copy of the
// agent), has not started: deleting its Job cannot interrupt a write.
//
// A Job deleted as not started can still race with its pod's start (the
// pod's Running status reaches the API server after the container
// started); the delete's resourceVersion precondition fails on any change
// of the Job's status, and agent prepare, if it did start, receives SIGTERM
// and forwards it to ceph-volume, which rolls back.
func jobStarted(job *batchv1.Job, pods []corev1.Pod) bool {
	st := job.Status
	if st.Succeeded > 0 || st.Failed > 0 || (st.Ready != nil && *st.Ready > 0) {
		return true
	}
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase != corev1.PodPending && p.Status.Phase != "" {
			return true
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
				return true
			}
		}
	}
	return false
}

// jobResults reads agent prepare's termination message from the newest pod
// of a finished Job: a JSON array of resources.PrepareResult, mapped to
// device ids by the Job's targets. failure is the Job's own account of a
// failure; the pod's exit code and an unreadable message are added to it.
func jobResults(targets []resources.PrepareTarget, pods []corev1.Pod, failure string) (map[string]osdplan.PrepareResult, string) {
	var term *corev1.ContainerStateTerminated
	var newest time.Time
	for i := range pods {
		for _, cs := range pods[i].Status.ContainerStatuses {
			if (cs.Name != resources.PrepareContainer && cs.Name != resources.WipeContainer) || cs.State.Terminated == nil {
				continue
			}
			if t := cs.State.Terminated.FinishedAt.Time; term == nil || t.After(newest) {
				term, newest = cs.State.Terminated, t
			}
		}
	}
	if term == nil {
		return nil, failure
	}
	if term.ExitCode != 0 && failure != "" {
		failure = fmt.Sprintf("%s (agent prepare exited with code %d)", failure, term.ExitCode)
	}
	msg := strings.TrimSpace(term.Message)
	if msg == "" {
		return nil, failure
	}
	var reported []resources.PrepareResult
	if err := json.Unmarshal([]byte(msg), &reported); err != nil {
		// Not a result list (an older agent, or a crash): keep it as the
		// evidence of the failure.
		return nil, strings.TrimSpace(failure + "; agent prepare said: " + msg)
	}
	ids := make(map[string]string, len(targets))
	byID := make(map[string]bool, len(targets))
	for _, t := range targets {
		ids[t.Path] = t.ID
		byID[t.ID] = true
	}
	out := make(map[string]osdplan.PrepareResult, len(reported))
	for _, r := range reported {
		// The partitions of a split disk share its path: their results
		// carry their target's id.
		id, ok := ids[r.Path]
		if r.ID != "" {
			id, ok = r.ID, byID[r.ID]
		}
		if !ok {
			continue
		}
		out[id] = osdplan.PrepareResult{Outcome: r.Outcome, Reason: r.Reason, Message: r.Message, Stderr: r.Stderr}
	}
	return out, failure
}

// osdState reduces an OSD Deployment to what the planner needs.
func osdState(d *appsv1.Deployment) (osdplan.OSD, bool) {
	var id int32
	if _, err := fmt.Sscan(d.Labels[resources.OSDIDLabel], &id); err != nil {
		return osdplan.OSD{}, false
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return osdplan.OSD{
		ID:       id,
		Node:     d.Annotations[resources.NodeAnnotation],
		DeviceID: d.Annotations[resources.DeviceIDAnnotation],
		Ready:    d.Status.ReadyReplicas > 0,
		Deleting: d.DeletionTimestamp != nil,
		Settled: d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.ReadyReplicas == want && d.Status.Replicas == want,
	}, true
}

// planWritten records the events of a plan the plan writer applied.
func (r *OSDReconciler) planWritten(w planWrite) {
	r.recordPlanEvents(w.cluster, w.inv, w.want)
	r.recordDecommissionEvents(w.cluster, w.inv, w.want)
}

// recordedJobs are the prepare Jobs of plan.DeleteJobs that may be deleted
// now: a finished Job once its node's inventory, as read, already holds
// the node's plan (the Job's outcome is recorded); the others are deleted
// by a later reconcile, which the plan write's watch event brings. A Job
// that has not finished (one not started and no longer wanted) has no
// outcome to record and goes at once, before its pod starts; so does one
// with no inventory or no plan.
func recordedJobs(plan osdplan.Plan, jobs map[string]*batchv1.Job, inventories []cephv1alpha1.DiskInventory) []string {
	byName := make(map[string]*cephv1alpha1.DiskInventory, len(inventories))
	for i := range inventories {
		byName[inventories[i].Name] = &inventories[i]
	}
	var out []string
	for _, name := range plan.DeleteJobs {
		if job := jobs[name]; job != nil && jobFinished(job) {
			node := job.Annotations[resources.NodeAnnotation]
			want, planned := plan.DevicePlans[node]
			if inv := byName[node]; inv != nil && planned && !planRecorded(inv, want) {
				continue
			}
		}
		out = append(out, name)
	}
	return out
}

// memo returns the plan memo of a cluster.
func (r *OSDReconciler) memo(name types.NamespacedName) *osdplan.Memo {
	r.memosMu.Lock()
	defer r.memosMu.Unlock()
	if r.memos == nil {
		r.memos = map[types.NamespacedName]*osdplan.Memo{}
	}
	m := r.memos[name]
	if m == nil {
		m = &osdplan.Memo{}
		r.memos[name] = m
	}
	return m
}

// forgetMemo drops the plan memo of a cluster that is gone.
func (r *OSDReconciler) forgetMemo(name types.NamespacedName) {
	r.memosMu.Lock()
	defer r.memosMu.Unlock()
	delete(r.memos, name)
}

// recordPlanEvents emits events on the DiskInventory on transitions of a
// disk's plan: a prepare that failed, or was refused, at a new attempt. The
// note carries the plan's message, with the agent's evidence.
func (r *OSDReconciler) recordPlanEvents(cluster *cephv1alpha1.CephCluster, inv *cephv1alpha1.DiskInventory, want []cephv1alpha1.DevicePlan) {
	before := map[string]cephv1alpha1.DevicePlan{}
	for _, p := range inv.Status.Plan {
		before[p.ID] = p
	}
	for _, p := range want {
		old := before[p.ID]
		if recordWipeEvent(r.Recorder, cluster, inv, old, p) {
			continue
		}
		if p.Action != cephv1alpha1.ActionFailed || p.Attempts <= old.Attempts ||
			(p.Reason != osdplan.ReasonPrepareFailed && p.Reason != osdplan.ReasonPrepareRefused) {
			continue
		}
		verb := "failed"
		if p.Reason == osdplan.ReasonPrepareRefused {
			verb = "was refused"
		}
		head := fmt.Sprintf("Preparing %s (%s) on node %s %s (attempt %d): ", p.Name, p.ID, inv.Name, verb, p.Attempts)
		r.Recorder.Eventf(inv, cluster, corev1.EventTypeWarning, p.Reason, "Prepare", "%s", fitBytes(head, p.Message, maxEventNote))
	}
}

// recordWipeEvent records a Normal Event when a disk starts being wiped and
// a Warning one when its wipe failed or was refused, and reports whether p
// is a wipe's plan.
func recordWipeEvent(rec events.EventRecorder, cluster *cephv1alpha1.CephCluster, inv *cephv1alpha1.DiskInventory, old, p cephv1alpha1.DevicePlan) bool {
	switch {
	case p.Action == cephv1alpha1.ActionWiping:
		if old.Action != cephv1alpha1.ActionWiping {
			rec.Eventf(inv, cluster, corev1.EventTypeNormal, "Wiping", "Wipe", "%s", fitBytes(fmt.Sprintf("Wiping %s (%s) on node %s: ", p.Name, p.ID, inv.Name), p.Message, maxEventNote))
		}
		return true
	case p.Action == cephv1alpha1.ActionFailed && (p.Reason == osdplan.ReasonWipeFailed || p.Reason == osdplan.ReasonWipeRefused):
		if p.Attempts > old.Attempts || old.Reason != p.Reason {
			rec.Eventf(inv, cluster, corev1.EventTypeWarning, p.Reason, "Wipe", "%s", fitBytes(fmt.Sprintf("Wiping %s (%s) on node %s did not succeed: ", p.Name, p.ID, inv.Name), p.Message, maxEventNote))
		}
		return true
	}
	return false
}

// maxEventNote is the longest note the API server accepts on an Event, in
// bytes.
const maxEventNote = 1024

// fitBytes joins head and body within limit bytes; when they do not fit, the
// start of body is cut (the end of the agent's output is where its error
// is), never inside a UTF-8 sequence.
func fitBytes(head, body string, limit int) string {
	if len(head)+len(body) <= limit {
		return head + body
	}
	const cut = "…"
	room := limit - len(head) - len(cut)
	if room <= 0 {
		return osdplan.Truncate(head, limit/4)
	}
	start := len(body) - room
	for start < len(body) && !utf8.RuneStart(body[start]) {
		start++
	}
	return head + cut + body[start:]
}

// writeFailureRecords applies each inventory's FailureRecordsAnnotation
// when it changed: the content hash each failed disk had when it failed.
func (r *OSDReconciler) writeFailureRecords(ctx context.Context, inventories []cephv1alpha1.DiskInventory, records map[string]string) error {
	var changed []*cephv1alpha1.DiskInventory
	for i := range inventories {
		if v, ok := records[inventories[i].Name]; ok && v != inventories[i].Annotations[osdplan.FailureRecordsAnnotation] {
			changed = append(changed, &inventories[i])
		}
	}
	return apply.ForEach(ctx, len(changed), func(ctx context.Context, i int) error {
		inv := changed[i]
		var value any = records[inv.Name]
		if records[inv.Name] == "" {
			value = nil // a null in a merge patch removes the annotation
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{osdplan.FailureRecordsAnnotation: value},
		}})
		if err != nil {
			return err
		}
		target := &cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: inv.Name, Namespace: inv.Namespace}}
		if err := r.Client.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("recording prepare failures on DiskInventory %s: %w", inv.Name, err)
		}
		return nil
	})
}

// requestRescans asks the agents of nodes whose prepare Job reported disks
// prepared to scan again. The request is first recorded on the Job
// (RescanRequestAnnotation), so that one Job's outcome asks for one rescan
// whatever happens next: a crash between the two writes leaves a request
// that the next plan completes with the same number (resumeRescans),
// never a second one.
func (r *OSDReconciler) requestRescans(ctx context.Context, cluster *cephv1alpha1.CephCluster, inventories []cephv1alpha1.DiskInventory, nodes []string, jobs map[string]string) error {
	want := map[string]bool{}
	for _, n := range nodes {
		want[n] = true
	}
	var pending []*cephv1alpha1.DiskInventory
	for i := range inventories {
		inv := &inventories[i]
		if want[inv.Name] && inv.Spec.RescanRequest <= inv.Status.ObservedRescanRequest {
			pending = append(pending, inv)
		}
	}
	return apply.ForEach(ctx, len(pending), func(ctx context.Context, i int) error {
		// The listed inventories are the cache's own objects: write a copy.
		inv := pending[i].DeepCopy()
		base := inv.DeepCopy()
		inv.Spec.RescanRequest = inv.Status.ObservedRescanRequest + 1
		if name := jobs[inv.Name]; name != "" {
			patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
				resources.RescanRequestAnnotation: strconv.FormatInt(inv.Spec.RescanRequest, 10),
			}}})
			if err != nil {
				return err
			}
			job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cluster.Namespace}}
			if err := r.Client.Patch(ctx, job, client.RawPatch(types.MergePatchType, patch)); err != nil {
				if apierrors.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("recording the rescan request on prepare Job %s: %w", name, err)
			}
		}
		if err := r.Client.Patch(ctx, inv, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("requesting a rescan of node %s: %w", inv.Name, err)
		}
		return nil
	})
}

// resumeRescans completes rescan requests that requestRescans recorded on a
// Job but did not write to the node's inventory (the operator stopped
// between the two writes): the inventory gets the Job's request number, so
// the agent answers the one request the Job asked for.
func (r *OSDReconciler) resumeRescans(ctx context.Context, inventories []cephv1alpha1.DiskInventory, resume map[string]int64) error {
	var pending []*cephv1alpha1.DiskInventory
	for i := range inventories {
		if n, ok := resume[inventories[i].Name]; ok && n > inventories[i].Spec.RescanRequest {
			pending = append(pending, &inventories[i])
		}
	}
	return apply.ForEach(ctx, len(pending), func(ctx context.Context, i int) error {
		// The listed inventories are the cache's own objects: write a copy.
		inv := pending[i].DeepCopy()
		base := inv.DeepCopy()
		inv.Spec.RescanRequest = resume[inv.Name]
		if err := r.Client.Patch(ctx, inv, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("resuming rescan request %d of node %s: %w", inv.Spec.RescanRequest, inv.Name, err)
		}
		return nil
	})
}

// createJobs creates the planned prepare Jobs. A node's Job has a fixed
// name, so when one already exists (created moments ago and not yet in the
// cache, or by another replica during a leader-election overlap) the API
// server refuses the second: createJobs returns those nodes, with the name,
// for the plan to take the Job back, and that is not an error.
//
// keys is the cluster's cephx key type (found false while it is not
// recorded: no prepare Job is created then).
func (r *OSDReconciler) createJobs(ctx context.Context, cluster *cephv1alpha1.CephCluster, keys ceph.KeyType, found bool, specs []osdplan.JobSpec) (map[string]string, error) {
	var mu sync.Mutex
	exists := map[string]string{}
	err := apply.ForEach(ctx, len(specs), func(ctx context.Context, i int) error {
		spec := specs[i]
		var job *batchv1.Job
		var err error
		kind := "prepare"
		switch {
		case spec.Wipe:
			kind = "wipe"
			job, err = resources.WipeJob(cluster, r.Images, cluster.Status.FSID, spec)
		case !found:
			err = fmt.Errorf("not creating the prepare Job of node %s: the cluster's cephx key type is not recorded yet", spec.Node)
		default:
			job, err = resources.PrepareJob(cluster, r.Images, keys, cluster.Status.FSID, spec)
		}
		if err != nil {
			return err
		}
		if err := apply.SetOwner(cluster, job, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, job); err != nil {
			if apierrors.IsAlreadyExists(err) {
				mu.Lock()
				exists[spec.Node] = job.Name
				mu.Unlock()
				return nil
			}
			return fmt.Errorf("creating %s Job for node %s: %w", kind, spec.Node, err)
		}
		ctrl.LoggerFrom(ctx).Info("Created "+kind+" Job", "job", job.Name, "node", spec.Node, "devices", len(spec.Devices))
		return nil
	})
	return exists, err
}

// ensureOSDs creates one Deployment per OSD on disk, and rolls a change of
// their pod template out one failure domain at a time (osdplan.OSDRollout):
// an existing Deployment whose template differs from the desired one is
// only updated when the rollout says its turn has come. OSD Deployments
// are never deleted here: an OSD that leaves the selection is kept.
func (r *OSDReconciler) ensureOSDs(ctx context.Context, cluster *cephv1alpha1.CephCluster, osds []osdplan.OSDSpec, existing []osdplan.OSD, hashes map[int32]string, rolloutJobs []osdplan.OSDJob) (osdplan.Gate, int, error) {
	outdated := map[int32]bool{}
	wanted, err := r.desiredHashes(cluster, osds, hashes)
	if err != nil {
		return osdplan.Gate{Rollout: osdplan.Rollout{}, Record: cluster.Status.OSDRollout}, 0, err
	}
	for _, osd := range osds {
		if h, ok := hashes[osd.ID]; ok {
			outdated[osd.ID] = h != wanted[osd.ID]
		}
	}
	current := make([]osdplan.OSD, len(existing))
	for i, o := range existing {
		o.Outdated = outdated[o.ID]
		current[i] = o
	}
	wait, err := r.daemonsWait(ctx, cluster)
	if err != nil {
		return osdplan.Gate{Record: cluster.Status.OSDRollout}, 0, err
	}
	recovering := osdplan.Recovering(cluster.Status.Ceph)
	rollout := osdplan.OSDRollout(cluster, current, recovering, wait)
	unready := slices.ContainsFunc(current, func(o osdplan.OSD) bool { return !o.Ready || !o.Settled })
	gate := osdplan.GateRollout(osdplan.GateInput{Cluster: cluster, Rollout: rollout, Quiet: len(recovering) == 0 && !unready, Unready: unready,
		Jobs: rolloutJobs, Now: r.Clock()})
	r.recordGateEvents(cluster, gate.Record)
	if slices.ContainsFunc(gate.CreateJobs, func(j osdplan.OSDJobSpec) bool { return j.Step == osdplan.OSDStepRequireRelease }) {
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDReleaseRequired", "FinishUpgrade",
			"Ceph reports %s: every OSD runs a newer release than the OSD map requires; raising require_osd_release (ceph osd require-osd-release)",
			osdplan.CheckOSDUpgradeFinished)
	}
	rollout = gate.Rollout
	if rollout.Outdated > 0 {
		ctrl.LoggerFrom(ctx).Info("Rolling out a change to the OSDs", "updated", rollout.Updated, "outdated", rollout.Outdated,
			"updating", len(rollout.Update), "waiting", rollout.Waiting)
	}
	var createdOSDs atomic.Int32
	err = apply.ForEach(ctx, len(osds), func(ctx context.Context, i int) error {
		osd := osds[i]
		isOutdated, exists := outdated[osd.ID]
		switch {
		case exists && !isOutdated:
			return nil
		case exists && !rollout.Update[osd.ID]:
			return nil
		}
		created, err := apply.Owned(ctx, r.Client, cluster, resources.OSDDeployment(cluster, r.Images, cluster.Status.FSID, osd))
		if err != nil {
			return err
		}
		if created {
			createdOSDs.Add(1)
			r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDCreated", "Provision",
				"OSD %d runs from %s on node %s", osd.ID, osd.Device.ID, osd.Node)
		}
		return nil
	})
	if err == nil && len(rollout.Update) > 0 {
		var ids []int32
		for id := range rollout.Update {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDsUpdating", "RollingUpdate",
			"Updating OSDs %v (%s; Ceph said they may stop); %d of %d OSDs were current", ids, rollout.Domain, rollout.Updated, rollout.Updated+rollout.Outdated)
	}
	return gate, int(createdOSDs.Load()), err
}

// desiredHashes returns the hash of the desired Deployment of each OSD in
// osds that has a Deployment (hashes). A Deployment is built and hashed
// only when what it is built from changed since the last reconcile: the
// cluster's generation, its accepted image, its FSID, the operator's images
// or the OSD's own spec. At thousands of OSDs, building and hashing them all
// at every reconcile was most of its CPU time and garbage.
func (r *OSDReconciler) desiredHashes(cluster *cephv1alpha1.CephCluster, osds []osdplan.OSDSpec, hashes map[int32]string) (map[int32]string, error) {
	r.hashesMu.Lock()
	defer r.hashesMu.Unlock()
	if r.hashes == nil {
		r.hashes = map[types.NamespacedName]map[int32]osdHash{}
	}
	name := client.ObjectKeyFromObject(cluster)
	prev := r.hashes[name]
	next := make(map[int32]osdHash, len(hashes))
	out := make(map[int32]string, len(hashes))
	base := fmt.Sprintf("%s\x00%d\x00%s\x00%s\x00%s\x00%s\x00", cluster.UID, cluster.Generation, cluster.Spec.Image, cluster.Status.FSID, r.Images.Operator, r.Images.PullPolicy)
	for _, osd := range osds {
		if _, ok := hashes[osd.ID]; !ok {
			continue
		}
		spec, err := json.Marshal(osd)
		if err != nil {
			return nil, err
		}
		key := sha256.Sum256(append([]byte(base), spec...))
		h, ok := prev[osd.ID]
		if !ok || h.key != key {
			hash, err := apply.Hash(resources.OSDDeployment(cluster, r.Images, cluster.Status.FSID, osd))
			if err != nil {
				return nil, err
			}
			h = osdHash{key: key, hash: hash}
		}
		next[osd.ID] = h
		out[osd.ID] = h.hash
	}
	r.hashes[name] = next
	return out, nil
}

// forgetHashes drops what desiredHashes remembers of a cluster.
func (r *OSDReconciler) forgetHashes(name types.NamespacedName) {
	r.hashesMu.Lock()
	defer r.hashesMu.Unlock()
	delete(r.hashes, name)
}

// recordGateEvents emits an Event when the rollout's noout flag is set or
// unset, and when Ceph does not let a failure domain stop.
func (r *OSDReconciler) recordGateEvents(cluster *cephv1alpha1.CephCluster, rec *cephv1alpha1.OSDRolloutStatus) {
	old := cluster.Status.OSDRollout
	if old == nil {
		old = &cephv1alpha1.OSDRolloutStatus{}
	}
	switch {
	case rec != nil && old.NoOut == "" && rec.NoOut == cephv1alpha1.NoOutSet:
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDRolloutNoOutSet", "RollingUpdate",
			"Set Ceph's noout flag for the OSD rollout: restarting OSDs are not marked out")
	case rec != nil && old.NoOut == "" && rec.NoOut == cephv1alpha1.NoOutPreset:
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDRolloutNoOutSet", "RollingUpdate",
			"Ceph's noout flag was set already; the OSD rollout leaves it set when it ends")
	case rec == nil && old.NoOut == cephv1alpha1.NoOutSet:
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDRolloutNoOutUnset", "RollingUpdate",
			"Unset Ceph's noout flag: the OSD rollout is over and Ceph has recovered")
	case rec != nil && old.NoOut == cephv1alpha1.NoOutSet && rec.NoOut == "":
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, "OSDRolloutNoOutReleased", "RollingUpdate", "%s", osdplan.Truncate(rec.Message, maxEventNote))
	}
	if rec != nil && rec.Attempts > old.Attempts && rec.Message != "" {
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, "OSDRolloutHeld", "RollingUpdate", "%s", osdplan.Truncate(rec.Message, maxEventNote))
	}
}

// minPositive is the smaller of the positive durations among a and b (0
// when neither is).
func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0 || a < b:
		return a
	}
	return b
}

// daemonsWait says why outdated OSDs must wait for the monitors and the
// manager: Ceph is upgraded monitors first, then managers, then OSDs. It
// is empty once every monitor and manager Deployment runs the OSDs' image
// and is available on its latest template.
func (r *OSDReconciler) daemonsWait(ctx context.Context, cluster *cephv1alpha1.CephCluster) (string, error) {
	// Only the monitors' and managers' Deployments, not copied out of the
	// cache: listing every Deployment of the cluster copied thousands of
	// OSDs' at every reconcile.
	var daemons []appsv1.Deployment
	for _, component := range []string{resources.ComponentMon, resources.ComponentMgr} {
		var list appsv1.DeploymentList
		if err := r.Client.List(ctx, &list, client.InNamespace(cluster.Namespace), client.MatchingLabels(resources.ClusterSelector(cluster)),
			client.MatchingLabels{resources.ComponentLabel: component}, client.UnsafeDisableDeepCopy); err != nil {
			return "", fmt.Errorf("listing the monitor and manager Deployments: %w", err)
		}
		daemons = append(daemons, list.Items...)
	}
	var behind []string
	for i := range daemons {
		d := &daemons[i]
		// The cache keeps no pod templates: the image is read from the
		// annotation the Deployment's builder sets next to its template.
		current := d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas > 0 && d.Status.UpdatedReplicas == d.Status.Replicas &&
			d.Annotations[resources.CephImageAnnotation] == cluster.Spec.Image
		if !current {
			behind = append(behind, d.Name)
		}
	}
	if len(behind) == 0 {
		return "", nil
	}
	slices.Sort(behind)
	return fmt.Sprintf("waiting for %v to run %s and be available: monitors and managers are updated before OSDs", behind, cluster.Spec.Image), nil
}

// applyBudgets keeps the OSDs' PodDisruptionBudgets as osdplan.OSDBudgets
// decides from the OSD Deployments' readiness and Ceph's health: the
// wanted ones are applied first, then the others deleted, so no moment
// leaves an OSD uncovered that should be covered. A change of budgets is
// an Event saying why.
func (r *OSDReconciler) applyBudgets(ctx context.Context, cluster *cephv1alpha1.CephCluster, osds []osdplan.OSD) error {
	decided := osdplan.OSDBudgets(cluster, osds, osdplan.Recovering(cluster.Status.Ceph))
	want := map[string]bool{}
	changed := false
	for _, b := range decided.Budgets {
		pdb := resources.OSDPodDisruptionBudget(cluster, b)
		want[pdb.Name] = true
		var existing policyv1.PodDisruptionBudget
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(pdb), &existing)
		if err == nil && existing.Spec.MaxUnavailable != nil && *existing.Spec.MaxUnavailable == *pdb.Spec.MaxUnavailable {
			continue
		}
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("reading PodDisruptionBudget %s: %w", pdb.Name, err)
		}
		if _, err := apply.Owned(ctx, r.Client, cluster, pdb); err != nil {
			return err
		}
		changed = true
	}
	var list policyv1.PodDisruptionBudgetList
	own := client.MatchingLabels(resources.ClusterSelector(cluster))
	if err := r.Client.List(ctx, &list, client.InNamespace(cluster.Namespace), own,
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		return fmt.Errorf("listing OSD PodDisruptionBudgets: %w", err)
	}
	for i := range list.Items {
		pdb := &list.Items[i]
		if want[pdb.Name] || !metav1.IsControlledBy(pdb, cluster) {
			continue
		}
		uid := pdb.UID
		if err := r.Client.Delete(ctx, pdb, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting PodDisruptionBudget %s: %w", pdb.Name, err)
		}
		changed = true
	}
	if changed {
		ctrl.LoggerFrom(ctx).Info("OSD disruption budgets changed", "budgets", len(decided.Budgets), "why", decided.Reason)
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDDisruptionBudgets", "Protect", "%s", osdplan.Truncate(decided.Reason, maxEventNote))
	}
	return nil
}

// deleteJobs deletes the Jobs the plan is done with: finished ones whose
// outcome is recorded, and Running ones that have not started and are no
// longer wanted. Each delete carries the UID the plan saw, so a Job of the
// same name created since (the next Job of the node) is never deleted in
// its place; a Job that had not finished also carries its resourceVersion,
// so one whose status moved since (its pod started) is left alone, and the
// next plan decides again.
func (r *OSDReconciler) deleteJobs(ctx context.Context, cluster *cephv1alpha1.CephCluster, jobs map[string]*batchv1.Job, names []string) error {
	return apply.ForEach(ctx, len(names), func(ctx context.Context, i int) error {
		name := names[i]
		target := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cluster.Namespace}}
		opts := []client.DeleteOption{client.PropagationPolicy(metav1.DeletePropagationBackground)}
		if seen := jobs[name]; seen != nil {
			uid := seen.UID
			pre := client.Preconditions{UID: &uid}
			if !jobFinished(seen) {
				rv := seen.ResourceVersion
				pre.ResourceVersion = &rv
			}
			opts = append(opts, pre)
		}
		err := r.Client.Delete(ctx, target, opts...)
		switch {
		case err == nil:
			ctrl.LoggerFrom(ctx).V(1).Info("Deleted prepare Job", "job", name)
		case apierrors.IsNotFound(err):
		case apierrors.IsConflict(err):
			// Changed or replaced since the plan saw it: the watch brings
			// the change, and the next plan decides on what it is now.
			ctrl.LoggerFrom(ctx).V(1).Info("Prepare Job changed since planned; not deleted", "job", name)
		default:
			return fmt.Errorf("deleting prepare Job %s: %w", name, err)
		}
		return nil
	})
}

// neverStarted is the reporter's list of OSDs that never started.
func neverStarted(c *cephv1alpha1.CephCluster) []cephv1alpha1.CephOSDRef {
	if c.Status.Ceph == nil {
		return nil
	}
	return c.Status.Ceph.NeverStartedOSDs
}

// writeStatus applies the OSD counts, the OSDsProvisioned condition and,
// while there are OSD ids in Ceph without a disk, the
// PartiallyPreparedOSDs condition, when they changed. A condition this
// reconciler leaves out of the apply is removed, since it owns it.
func (r *OSDReconciler) writeStatus(ctx context.Context, cluster *cephv1alpha1.CephCluster, plan osdplan.Plan, gate osdplan.Gate, waiting int, unclaimed []cephv1alpha1.CephOSDRef, applyErr error) error {
	rollout := gate.Rollout
	// Only this reconciler's conditions are applied. Their transition time
	// is the reconciler's clock, kept from before when the status is the
	// same.
	var conditions []metav1.Condition
	for _, t := range []string{cephv1alpha1.ConditionOSDsProvisioned, cephv1alpha1.ConditionOSDsUpdated, cephv1alpha1.ConditionPartiallyPreparedOSDs} {
		if old := meta.FindStatusCondition(cluster.Status.Conditions, t); old != nil {
			conditions = append(conditions, *old)
		}
	}
	c := osdCondition(cluster, plan, waiting, applyErr)
	c.LastTransitionTime = metav1.NewTime(r.Clock())
	changed := meta.SetStatusCondition(&conditions, c)
	u := rolloutCondition(cluster, rollout)
	u.LastTransitionTime = metav1.NewTime(r.Clock())
	changed = meta.SetStatusCondition(&conditions, u) || changed
	if len(unclaimed) > 0 {
		p := metav1.Condition{
			Type: cephv1alpha1.ConditionPartiallyPreparedOSDs, Status: metav1.ConditionTrue, ObservedGeneration: cluster.Generation,
			Reason: cephv1alpha1.ReasonPartiallyPrepared, Message: osdplan.UnclaimedOSDsMessage(unclaimed),
			LastTransitionTime: metav1.NewTime(r.Clock()),
		}
		if meta.FindStatusCondition(conditions, p.Type) == nil {
			r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, cephv1alpha1.ReasonPartiallyPrepared, "Provision", "%s", osdplan.Truncate(p.Message, maxEventNote))
		}
		changed = meta.SetStatusCondition(&conditions, p) || changed
	} else {
		changed = meta.RemoveStatusCondition(&conditions, cephv1alpha1.ConditionPartiallyPreparedOSDs) || changed
	}
	if !changed && cluster.Status.OSDs == plan.Counts && equality.Semantic.DeepEqual(cluster.Status.OSDRollout, gate.Record) {
		return nil
	}
	st := cephv1alpha1.CephClusterStatus{OSDs: plan.Counts, Conditions: conditions, OSDRollout: gate.Record}
	desired := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: cluster.Name, Namespace: cluster.Namespace},
		Status:     st,
	}
	return client.IgnoreNotFound(apply.Status(ctx, r.Client, desired, apply.OSD))
}

// unpublished counts the selected nodes whose agent has not published an
// inventory yet: until it has, what they will provision is unknown.
func unpublished(cluster *cephv1alpha1.CephCluster, in osdplan.Input) int {
	published := map[string]bool{}
	for i := range in.Inventories {
		if in.Inventories[i].Status.LastScanTime != nil {
			published[in.Inventories[i].Name] = true
		}
	}
	n := 0
	for _, name := range nodeselect.Select(&cluster.Spec, in.Nodes).Selected {
		if !published[name] {
			n++
		}
	}
	return n
}

// rolloutCondition is the OSDsUpdated condition: how far a change of the
// OSDs' pod template has reached them.
func rolloutCondition(cluster *cephv1alpha1.CephCluster, r osdplan.Rollout) metav1.Condition {
	c := metav1.Condition{Type: cephv1alpha1.ConditionOSDsUpdated, ObservedGeneration: cluster.Generation,
		Status: metav1.ConditionTrue, Reason: cephv1alpha1.ReasonAllOSDsUpdated,
		Message: fmt.Sprintf("All %d OSDs run their current pod template", r.Updated)}
	if r.Outdated == 0 {
		return c
	}
	c.Status, c.Reason = metav1.ConditionFalse, cephv1alpha1.ReasonRollingUpdate
	total := r.Updated + r.Outdated
	if len(r.Update) > 0 {
		c.Message = fmt.Sprintf("%d of %d OSDs updated; updating %d OSDs of one failure domain (%s), which Ceph said may stop", r.Updated, total, len(r.Update), r.Domain)
	} else {
		c.Message = fmt.Sprintf("%d of %d OSDs updated; %s", r.Updated, total, r.Waiting)
	}
	return c
}

// osdCondition is the OSDsProvisioned condition for a plan.
func osdCondition(cluster *cephv1alpha1.CephCluster, plan osdplan.Plan, waiting int, applyErr error) metav1.Condition {
	c := metav1.Condition{Type: cephv1alpha1.ConditionOSDsProvisioned, ObservedGeneration: cluster.Generation, Status: metav1.ConditionFalse}
	n := plan.Counts
	preview := cluster.Spec.Storage.Provisioning == cephv1alpha1.ProvisioningPreview
	var planErr *planWriteError
	switch {
	case errors.As(applyErr, &planErr):
		c.Reason, c.Message = cephv1alpha1.ReasonPlanWriteFailed, conditionText(applyErr)
	case applyErr != nil:
		c.Reason, c.Message = cephv1alpha1.ReasonReconcileError, conditionText(applyErr)
	case len(plan.Problems) > 0:
		c.Reason, c.Message = cephv1alpha1.ReasonInvalidStorageSpec, listProblems(plan.Problems)
	case waiting > 0:
		c.Reason = cephv1alpha1.ReasonWaitingForDiscovery
		c.Message = fmt.Sprintf("%d OSDs provisioned; waiting for the discovery agent on %d nodes", n.Provisioned, waiting)
	case preview && n.Desired > n.Provisioned:
		c.Reason = cephv1alpha1.ReasonPreview
		c.Message = fmt.Sprintf("Provisioning is Preview: %d disks would become OSDs; see each DiskInventory's status.plan", n.Desired-n.Provisioned)
	case n.Failed > 0:
		c.Reason = cephv1alpha1.ReasonPrepareFailed
		refused := countReason(plan, osdplan.ReasonPrepareRefused)
		c.Message = fmt.Sprintf("%d of %d OSDs provisioned; preparing %d disks failed (retried with backoff)", n.Provisioned, n.Desired, n.Failed-refused)
		if refused > 0 {
			c.Message += fmt.Sprintf(", %d disks were refused by agent prepare on the node (not retried until their content changes)", refused)
		}
		c.Message += "; see each DiskInventory's status.plan"
	case n.Provisioned < n.Desired:
		c.Reason = cephv1alpha1.ReasonProvisioning
		c.Message = fmt.Sprintf("%d of %d OSDs provisioned, %d disks preparing", n.Provisioned, n.Desired, n.Preparing)
	default:
		c.Status, c.Reason = metav1.ConditionTrue, cephv1alpha1.ReasonAllOSDsProvisioned
		c.Message = fmt.Sprintf("%d OSDs provisioned, %d running", n.Provisioned, n.Running)
	}
	return c
}

// countReason counts the disk plans with reason.
func countReason(plan osdplan.Plan, reason string) int32 {
	var n int32
	for _, plans := range plan.DevicePlans {
		for i := range plans {
			if plans[i].Reason == reason {
				n++
			}
		}
	}
	return n
}

// listProblems joins problems into one message.
func listProblems(problems []string) string {
	out := ""
	for i, p := range problems {
		if i > 0 {
			out += "; "
		}
		out += p
	}
	return out
}

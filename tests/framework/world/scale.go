package world

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// osdSeen is an OSD Deployment as observed.
type osdSeen struct {
	osdID, device, node string
}

// StartScale runs the World for thousands of nodes: informers on the
// namespace's inventories, Jobs and (by metadata only) Deployments; workers
// agent goroutines answering first publications, rescan requests and the
// disks a prepare announced, with server-side apply under the agent's field
// manager; and, every second, the monitor and manager Deployments and the
// reporter as in Step. Prepare Jobs finish only when CompleteJobs is
// called. It returns once the informers have synced; everything stops when
// ctx ends.
func (w *World) StartScale(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, workers int) error {
	ca, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{w.ns: {}}})
	if err != nil {
		return fmt.Errorf("creating the world's cache: %w", err)
	}
	s := &scaleMode{
		cache: ca, workers: workers, queue: workqueue.NewTyped[string](),
		jobs: map[string]string{}, nodeJob: map[string]string{}, jobDisks: map[string]int{},
		deployments: map[string]osdSeen{}, osdName: map[string]string{}, diskOSD: map[string]string{},
	}
	w.mu.Lock()
	w.scale = s
	w.mu.Unlock()
	enqueue := func(obj any) {
		if o, ok := obj.(client.Object); ok {
			s.queue.Add(o.GetName())
		}
	}
	for _, h := range []struct {
		obj     client.Object
		handler toolscache.ResourceEventHandlerFuncs
	}{
		{&cephv1alpha1.DiskInventory{}, toolscache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }}},
		{&batchv1.Job{}, toolscache.ResourceEventHandlerFuncs{AddFunc: w.jobAdded, DeleteFunc: w.jobDeleted}},
		// OSD Deployments are observed by metadata only: 12,000 full pod
		// templates would cost the API server more than the operator does.
		{deploymentMeta(), toolscache.ResourceEventHandlerFuncs{AddFunc: w.deploymentAdded, DeleteFunc: w.deploymentDeleted}},
	} {
		inf, err := ca.GetInformer(ctx, h.obj)
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(h.handler); err != nil {
			return err
		}
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return fmt.Errorf("the world's cache did not sync")
	}
	for range workers {
		go w.work(ctx)
	}
	go func() { <-ctx.Done(); s.queue.ShutDown() }()
	go w.runDaemonsEvery(ctx, time.Second)
	return nil
}

func deploymentMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	return m
}

// Hold (scale mode only) stops (true) or resumes the World's writes, so
// that a test can count the operator's own; requests that arrive meanwhile
// are answered after.
func (w *World) Hold(h bool) { w.scale.held.Store(h) }

// Writes is how many API writes the World has made.
func (w *World) Writes() int64 { return w.writes.Load() }

// runDaemonsEvery plays the monitor and manager pods and the reporter in
// scale mode.
func (w *World) runDaemonsEvery(ctx context.Context, interval time.Duration) {
	Every(ctx, interval, func() {
		if w.scale.held.Load() {
			return
		}
		w.mu.Lock()
		w.runDaemonsLocked(ctx)
		w.reportLocked(ctx)
		w.mu.Unlock()
	})
}

// work answers inventories: the first publication, rescan requests, and
// the disks a prepare announced.
func (w *World) work(ctx context.Context) {
	s := w.scale
	for {
		name, shutdown := s.queue.Get()
		if shutdown {
			return
		}
		if s.held.Load() {
			s.queue.Done(name)
			go func() { time.Sleep(500 * time.Millisecond); s.queue.Add(name) }()
			continue
		}
		if err := w.answer(ctx, name); err != nil && ctx.Err() == nil {
			w.problem("agent of node %s: %v", name, err)
		}
		s.queue.Done(name)
	}
}

// answer publishes node name's inventory status when it was never
// published, a rescan is requested, or a prepare announced its disks.
func (w *World) answer(ctx context.Context, name string) error {
	s := w.scale
	var inv cephv1alpha1.DiskInventory
	if err := s.cache.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: name}, &inv); err != nil {
		return client.IgnoreNotFound(err)
	}
	w.mu.Lock()
	n := w.nodes[name]
	if n == nil || (n.answered >= 0 && inv.Spec.RescanRequest <= n.answered && !n.announced) {
		w.mu.Unlock()
		return nil
	}
	first := n.answered < 0
	n.announced = false
	st := w.statusLocked(n, inv.Spec.RescanRequest)
	w.mu.Unlock()

	if err := w.applyStatus(ctx, name, st); err != nil {
		return err
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if st.ObservedRescanRequest > n.answered {
		n.answered = st.ObservedRescanRequest
	}
	if first {
		s.published++
		if s.firstPublish.IsZero() {
			s.firstPublish = now
		}
		s.lastPublish = now
	}
	return nil
}

// applyStatus applies status the way the agent does: only the identifying
// fields and the agent's status fields, under the agent's field manager.
func (w *World) applyStatus(ctx context.Context, name string, status cephv1alpha1.DiskInventoryStatus) error {
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cephv1alpha1.GroupVersion.String(),
		"kind":       "DiskInventory",
		"metadata":   map[string]any{"name": name, "namespace": w.ns},
		"status":     st,
	}}
	w.writes.Add(1)
	if err := w.client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), apply.Agent, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying inventory status: %w", err)
	}
	return nil
}

// jobAdded records a new prepare Job.
func (w *World) jobAdded(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	nodeName := job.Annotations[resources.NodeAnnotation]
	devices, err := targetsOf(job)
	if err != nil {
		w.problem("prepare Job %s: %v", job.Name, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.scale
	s.liveJobs++
	if _, seen := s.jobs[job.Name]; seen {
		return
	}
	if other, dup := s.nodeJob[nodeName]; dup {
		w.problemLocked("node %s got a second prepare Job %s (first %s)", nodeName, job.Name, other)
	} else {
		s.nodeJob[nodeName] = job.Name
	}
	s.jobs[job.Name] = nodeName
	for _, d := range devices {
		s.jobDisks[d.ID]++
		if s.jobDisks[d.ID] > 1 {
			w.problemLocked("disk %s is listed by a second prepare Job %s", d.ID, job.Name)
		}
	}
	s.lastJob = time.Now()
}

func (w *World) jobDeleted(any) {
	w.mu.Lock()
	w.scale.liveJobs--
	w.mu.Unlock()
}

// deploymentAdded records a new OSD Deployment.
func (w *World) deploymentAdded(obj any) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok || m.Labels[resources.ComponentLabel] != resources.ComponentOSD {
		return
	}
	seen := osdSeen{osdID: m.Labels[resources.OSDIDLabel], device: m.Annotations[resources.DeviceIDAnnotation], node: m.Annotations[resources.NodeAnnotation]}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.scale
	s.liveOSDs++
	if _, dup := s.deployments[m.Name]; dup {
		return
	}
	if other, dup := s.osdName[seen.osdID]; dup {
		w.problemLocked("OSD Deployments %s and %s both run OSD %s", other, m.Name, seen.osdID)
	}
	if other, dup := s.diskOSD[seen.device]; dup {
		w.problemLocked("OSD Deployments %s and %s both run from disk %s", other, m.Name, seen.device)
	}
	s.osdName[seen.osdID], s.diskOSD[seen.device] = m.Name, m.Name
	s.deployments[m.Name] = seen
	s.lastDeployment = time.Now()
}

func (w *World) deploymentDeleted(obj any) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		if tomb, isTomb := obj.(toolscache.DeletedFinalStateUnknown); isTomb {
			m, ok = tomb.Obj.(*metav1.PartialObjectMetadata)
		}
	}
	if !ok || m.Labels[resources.ComponentLabel] != resources.ComponentOSD {
		return
	}
	w.mu.Lock()
	w.scale.liveOSDs--
	w.mu.Unlock()
}

// CompleteJobs finishes every prepare Job in the scale mode's cache as agent
// prepare would (see Step), on the scale mode's workers, writing only the
// Jobs' status (no pods: at thousands of nodes they would cost the API
// server more than the operator). It returns how many it finished when the
// last status is written.
func (w *World) CompleteJobs(ctx context.Context) (int, error) {
	var jobs batchv1.JobList
	if err := w.scale.cache.List(ctx, &jobs, client.InNamespace(w.ns)); err != nil {
		return 0, err
	}
	todo := make([]*batchv1.Job, 0, len(jobs.Items))
	for i := range jobs.Items {
		if !Finished(&jobs.Items[i]) {
			todo = append(todo, &jobs.Items[i])
		}
	}
	err := Parallel(len(todo), w.scale.workers, func(i int) error {
		if err := w.complete(ctx, todo[i]); err != nil {
			return fmt.Errorf("completing Job %s: %w", todo[i].Name, err)
		}
		return nil
	})
	return len(todo), err
}

// complete finishes one Job.
func (w *World) complete(ctx context.Context, job *batchv1.Job) error {
	w.mu.Lock()
	if w.nodes[job.Annotations[resources.NodeAnnotation]] == nil {
		w.mu.Unlock()
		return fmt.Errorf("node %s unknown", job.Annotations[resources.NodeAnnotation])
	}
	_, exit, err := w.prepareLocked(job)
	interim := w.interimJobConditions()
	if err == nil {
		// agent prepare announces the disks it wrote with a uevent before
		// it exits; the node's agent scans and publishes the labels while
		// the Job is still shown running.
		w.nodes[job.Annotations[resources.NodeAnnotation]].announced = true
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}
	w.scale.queue.Add(job.Annotations[resources.NodeAnnotation])
	job.Status = jobStatus(exit, interim)
	for {
		w.writes.Add(1)
		err := w.client.Status().Update(ctx, job)
		if !apierrors.IsConflict(err) {
			return err
		}
		fresh := &batchv1.Job{}
		if err := w.client.Get(ctx, client.ObjectKeyFromObject(job), fresh); err != nil {
			return err
		}
		fresh.Status = job.Status
		job = fresh
	}
}

// Counts is a snapshot of what the scale mode observed.
type Counts struct {
	Published, JobsSeen, LiveJobs, OSDsSeen, LiveOSDs int
	FirstPublish, LastPublish, LastJob, LastOSD       time.Time
}

// Counts returns what the scale mode observed so far (after StartScale).
func (w *World) Counts() Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.scale
	return Counts{
		Published: s.published, JobsSeen: len(s.jobs), LiveJobs: s.liveJobs,
		OSDsSeen: len(s.deployments), LiveOSDs: s.liveOSDs,
		FirstPublish: s.firstPublish, LastPublish: s.lastPublish, LastJob: s.lastJob, LastOSD: s.lastDeployment,
	}
}

func (w *World) problem(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problemLocked(format, args...)
}

func (w *World) problemLocked(format string, args ...any) {
	if s := w.scale; s != nil && len(s.problems) < 50 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

// Failures returns what went wrong so far: the scale mode's observations
// and every disk prepared more than once.
func (w *World) Failures() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	if w.scale != nil {
		out = append(out, w.scale.problems...)
	}
	for id, n := range w.prepared {
		if n > 1 {
			out = append(out, fmt.Sprintf("disk %s was prepared %d times", id, n))
		}
	}
	return out
}

// CheckOSDs (after StartScale) compares the OSD Deployments observed with the
// OSDs the Jobs made: one Deployment per OSD id, on the disk that carries
// it.
func (w *World) CheckOSDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.scale
	var out []string
	byID := map[string]osdSeen{}
	for _, d := range s.deployments {
		byID[d.osdID] = d
	}
	for id, dev := range w.osdDevice {
		d, ok := byID[fmt.Sprint(id)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("OSD %d on %s has no Deployment", id, dev))
		case d.device != dev:
			out = append(out, fmt.Sprintf("OSD %d runs from %s, but the Job put it on %s", id, d.device, dev))
		}
		if len(out) > 20 {
			break
		}
	}
	if len(s.deployments) != len(w.osdDevice) {
		out = append(out, fmt.Sprintf("%d OSD Deployments for %d OSDs", len(s.deployments), len(w.osdDevice)))
	}
	return out
}

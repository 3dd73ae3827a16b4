package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
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

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// agentFieldManager is the field manager of the real node agent
// (apply.Agent in internal/apply); the harness writes inventories as it does.
const agentFieldManager = "ceph-operator-agent"

// fleet plays, on an API server with no kubelet, no Job controller and no
// node agents, everything outside the operator for one namespace: each
// node's agent (publishing its DiskInventory status and answering rescan
// requests, with server-side apply like the real agent) and the prepare
// Jobs (completed on demand, turning their disks into OSDs). It observes the
// operator's Jobs and OSD Deployments through informers and records what
// would be wrong: a disk in two Jobs, a node with two Jobs, an OSD id or a
// disk on two Deployments.
type fleet struct {
	ns      string
	client  client.Client
	cache   cache.Cache
	queue   workqueue.TypedInterface[string]
	paused  atomic.Bool
	writes  atomic.Int64
	workers int

	mu    sync.Mutex
	nodes map[string]*simNode
	// nextOSD is the next OSD id a completed Job gives a disk.
	nextOSD int32
	// osdDevice maps an OSD id given by a Job to its disk.
	osdDevice map[int32]string
	// prepared counts, per disk, the Jobs that turned it into an OSD.
	prepared map[string]int
	// jobs maps every prepare Job seen to its node; jobDisks counts, per
	// disk, the distinct Jobs that listed it.
	jobs     map[string]string
	nodeJob  map[string]string
	jobDisks map[string]int
	liveJobs int
	// deployments maps every OSD Deployment seen to its OSD id and disk.
	deployments map[string]osdSeen
	// osdName and diskOSD map an OSD id and a disk to their Deployment.
	osdName, diskOSD map[string]string
	liveOSDs         int

	firstPublish, lastPublish, lastJob, lastDeployment time.Time
	published                                          int
	problems                                           []string
}

// simNode is one node as its agent sees it.
type simNode struct {
	disks []cephv1.Disk
	// scanned is when the disks last changed, published as lastScanTime.
	scanned metav1.Time
	// answered is the rescan request the agent last answered, -1 before
	// the first publication.
	answered int64
}

// osdSeen is an OSD Deployment as observed.
type osdSeen struct {
	osdID, device, node string
}

// newFleet starts the informers and the agents' workers.
func newFleet(ctx context.Context, cfg *rest.Config, c client.Client, ns string, workers int) (*fleet, error) {
	ca, err := cache.New(cfg, cache.Options{Scheme: testenv.Scheme(), DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return nil, fmt.Errorf("creating the harness cache: %w", err)
	}
	f := &fleet{
		ns: ns, client: c, cache: ca, workers: workers,
		queue:       workqueue.NewTyped[string](),
		nodes:       map[string]*simNode{},
		osdDevice:   map[int32]string{},
		prepared:    map[string]int{},
		jobs:        map[string]string{},
		nodeJob:     map[string]string{},
		osdName:     map[string]string{},
		diskOSD:     map[string]string{},
		jobDisks:    map[string]int{},
		deployments: map[string]osdSeen{},
	}
	inv, err := ca.GetInformer(ctx, &cephv1.DiskInventory{})
	if err != nil {
		return nil, err
	}
	enqueue := func(obj any) {
		if o, ok := obj.(client.Object); ok {
			f.queue.Add(o.GetName())
		}
	}
	if _, err := inv.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) },
	}); err != nil {
		return nil, err
	}
	jobs, err := ca.GetInformer(ctx, &batchv1.Job{})
	if err != nil {
		return nil, err
	}
	if _, err := jobs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: f.jobAdded, DeleteFunc: f.jobDeleted,
	}); err != nil {
		return nil, err
	}
	// OSD Deployments are observed by metadata only: 12,000 full pod
	// templates would cost the API server more than the operator does.
	osds, err := ca.GetInformer(ctx, deploymentMeta())
	if err != nil {
		return nil, err
	}
	if _, err := osds.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: f.deploymentAdded, DeleteFunc: f.deploymentDeleted,
	}); err != nil {
		return nil, err
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("harness cache did not sync")
	}
	for range workers {
		go f.work(ctx)
	}
	go func() { <-ctx.Done(); f.queue.ShutDown() }()
	return f, nil
}

func deploymentMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	return m
}

// addNode gives node n disks, all Available, with stable ids
// /dev/disk/by-id/wwn-<node>-<i>.
func (f *fleet) addNode(node string, n int) {
	disks := make([]cephv1.Disk, n)
	for i := range disks {
		name := diskName(i)
		id := fmt.Sprintf("/dev/disk/by-id/wwn-%s-%d", node, i)
		disks[i] = cephv1.Disk{
			Name: name, ID: id, Path: "/dev/" + name, Links: []string{id},
			Type: "disk", SizeBytes: 4 << 40, Rotational: true, Model: "BENCH-4T",
			Verdict: cephv1.DiskVerdict{State: cephv1.DiskAvailable},
		}
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].Name < disks[j].Name })
	f.mu.Lock()
	f.nodes[node] = &simNode{disks: disks, scanned: metav1.Now(), answered: -1}
	f.mu.Unlock()
}

// diskName is the kernel name of the i-th disk: sdb, sdc, … sdz, sdaa, ….
func diskName(i int) string {
	i++ // sda is the system disk
	s := ""
	for {
		s = string(rune('a'+i%26)) + s
		i = i/26 - 1
		if i < 0 {
			break
		}
	}
	return "sd" + s
}

// work answers inventories: the first publication, and rescan requests.
func (f *fleet) work(ctx context.Context) {
	for {
		name, shutdown := f.queue.Get()
		if shutdown {
			return
		}
		if f.paused.Load() {
			// Writes are held back while the harness measures the
			// operator's own; the request is retried after.
			f.queue.Done(name)
			go func() { time.Sleep(500 * time.Millisecond); f.queue.Add(name) }()
			continue
		}
		if err := f.answer(ctx, name); err != nil && ctx.Err() == nil {
			f.problem("agent of node %s: %v", name, err)
		}
		f.queue.Done(name)
	}
}

// answer publishes node name's inventory status when it was never published
// or a rescan is requested.
func (f *fleet) answer(ctx context.Context, name string) error {
	var inv cephv1.DiskInventory
	if err := f.cache.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &inv); err != nil {
		return client.IgnoreNotFound(err)
	}
	f.mu.Lock()
	node := f.nodes[name]
	if node == nil || (node.answered >= 0 && inv.Spec.RescanRequest <= node.answered) {
		f.mu.Unlock()
		return nil
	}
	first := node.answered < 0
	st := cephv1.DiskInventoryStatus{
		Disks:                 append([]cephv1.Disk(nil), node.disks...),
		ObservedRescanRequest: inv.Spec.RescanRequest,
		LastScanTime:          &node.scanned,
		AgentVersion:          "bench",
	}
	for _, d := range node.disks {
		st.Summary.Disks++
		switch d.Verdict.State {
		case cephv1.DiskAvailable:
			st.Summary.Available++
		case cephv1.DiskOSD:
			st.Summary.OSDs++
		default:
			st.Summary.Rejected++
		}
	}
	f.mu.Unlock()

	if err := f.applyStatus(ctx, name, st); err != nil {
		return err
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if st.ObservedRescanRequest > node.answered {
		node.answered = st.ObservedRescanRequest
	}
	if first {
		f.published++
		if f.firstPublish.IsZero() {
			f.firstPublish = now
		}
		f.lastPublish = now
	}
	return nil
}

// applyStatus applies status the way the agent does: only the identifying
// fields and the agent's status fields, under the agent's field manager.
func (f *fleet) applyStatus(ctx context.Context, name string, status cephv1.DiskInventoryStatus) error {
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cephv1.GroupVersion.String(),
		"kind":       "DiskInventory",
		"metadata":   map[string]any{"name": name, "namespace": f.ns},
		"status":     st,
	}}
	f.writes.Add(1)
	if err := f.client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(agentFieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying inventory status: %w", err)
	}
	return nil
}

// jobAdded records a new prepare Job.
func (f *fleet) jobAdded(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	node := job.Annotations[resources.NodeAnnotation]
	var devices []resources.PrepareTarget
	if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &devices); err != nil {
		f.problem("prepare Job %s: devices annotation: %v", job.Name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.liveJobs++
	if _, seen := f.jobs[job.Name]; seen {
		return
	}
	if other, dup := f.nodeJob[node]; dup {
		f.problemLocked("node %s got a second prepare Job %s (first %s)", node, job.Name, other)
	} else {
		f.nodeJob[node] = job.Name
	}
	f.jobs[job.Name] = node
	for _, d := range devices {
		f.jobDisks[d.ID]++
		if f.jobDisks[d.ID] > 1 {
			f.problemLocked("disk %s is listed by a second prepare Job %s", d.ID, job.Name)
		}
	}
	f.lastJob = time.Now()
}

func (f *fleet) jobDeleted(any) {
	f.mu.Lock()
	f.liveJobs--
	f.mu.Unlock()
}

// deploymentAdded records a new OSD Deployment.
func (f *fleet) deploymentAdded(obj any) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok || m.Labels[resources.ComponentLabel] != resources.ComponentOSD {
		return
	}
	seen := osdSeen{osdID: m.Labels[resources.OSDIDLabel], device: m.Annotations[resources.DeviceIDAnnotation], node: m.Annotations[resources.NodeAnnotation]}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.liveOSDs++
	if _, dup := f.deployments[m.Name]; dup {
		return
	}
	if other, dup := f.osdName[seen.osdID]; dup {
		f.problemLocked("OSD Deployments %s and %s both run OSD %s", other, m.Name, seen.osdID)
	}
	if other, dup := f.diskOSD[seen.device]; dup {
		f.problemLocked("OSD Deployments %s and %s both run from disk %s", other, m.Name, seen.device)
	}
	f.osdName[seen.osdID], f.diskOSD[seen.device] = m.Name, m.Name
	f.deployments[m.Name] = seen
	f.lastDeployment = time.Now()
}

func (f *fleet) deploymentDeleted(any) {
	f.mu.Lock()
	f.liveOSDs--
	f.mu.Unlock()
}

// completeJobs completes every prepare Job as a successful run of the
// prepare step would: each disk it lists that is still Available gets a
// BlueStore label with a new OSD id (the agent reports it at its next
// scan), and the Job's status says Complete. It returns when the last status
// is written.
func (f *fleet) completeJobs(ctx context.Context) (int, error) {
	var jobs batchv1.JobList
	if err := f.cache.List(ctx, &jobs, client.InNamespace(f.ns)); err != nil {
		return 0, err
	}
	work := make(chan *batchv1.Job)
	errs := make(chan error, len(jobs.Items))
	var wg sync.WaitGroup
	for range f.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range work {
				if err := f.complete(ctx, job); err != nil {
					errs <- fmt.Errorf("completing Job %s: %w", job.Name, err)
				}
			}
		}()
	}
	for i := range jobs.Items {
		work <- &jobs.Items[i]
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		return 0, err
	}
	return len(jobs.Items), nil
}

// complete finishes one Job.
func (f *fleet) complete(ctx context.Context, job *batchv1.Job) error {
	node := job.Annotations[resources.NodeAnnotation]
	var devices []resources.PrepareTarget
	if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &devices); err != nil {
		return err
	}
	f.mu.Lock()
	sn := f.nodes[node]
	if sn == nil {
		f.mu.Unlock()
		return fmt.Errorf("node %s unknown", node)
	}
	for _, dev := range devices {
		for i := range sn.disks {
			d := &sn.disks[i]
			if d.ID != dev.ID || d.Verdict.State != cephv1.DiskAvailable {
				continue
			}
			id := f.nextOSD
			f.nextOSD++
			d.Verdict = cephv1.DiskVerdict{State: cephv1.DiskOSD, OSDID: &id}
			f.osdDevice[id] = d.ID
			f.prepared[d.ID]++
		}
	}
	sn.scanned = metav1.Now()
	f.mu.Unlock()

	now := metav1.Now()
	job.Status.StartTime = &now
	job.Status.CompletionTime = &now
	job.Status.Succeeded = 1
	job.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	for {
		f.writes.Add(1)
		err := f.client.Status().Update(ctx, job)
		if !apierrors.IsConflict(err) {
			return err
		}
		fresh := &batchv1.Job{}
		if err := f.client.Get(ctx, client.ObjectKeyFromObject(job), fresh); err != nil {
			return err
		}
		fresh.Status = job.Status
		job = fresh
	}
}

// counts is a snapshot of what the fleet observed.
type counts struct {
	published, jobsSeen, liveJobs, osdsSeen, liveOSDs int
	firstPublish, lastPublish, lastJob, lastOSD       time.Time
}

func (f *fleet) counts() counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return counts{
		published: f.published, jobsSeen: len(f.jobs), liveJobs: f.liveJobs,
		osdsSeen: len(f.deployments), liveOSDs: f.liveOSDs,
		firstPublish: f.firstPublish, lastPublish: f.lastPublish, lastJob: f.lastJob, lastOSD: f.lastDeployment,
	}
}

func (f *fleet) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problemLocked(format, args...)
}

func (f *fleet) problemLocked(format string, args ...any) {
	if len(f.problems) < 50 {
		f.problems = append(f.problems, fmt.Sprintf(format, args...))
	}
}

// failures returns what went wrong so far.
func (f *fleet) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]string(nil), f.problems...)
	for id, n := range f.prepared {
		if n > 1 {
			out = append(out, fmt.Sprintf("disk %s was prepared %d times", id, n))
		}
	}
	return out
}

// checkOSDs compares the OSD Deployments observed with the OSDs the Jobs
// made: one Deployment per OSD id, on the disk that carries it.
func (f *fleet) checkOSDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	byID := map[string]osdSeen{}
	for _, s := range f.deployments {
		byID[s.osdID] = s
	}
	for id, dev := range f.osdDevice {
		s, ok := byID[fmt.Sprint(id)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("OSD %d on %s has no Deployment", id, dev))
		case s.device != dev:
			out = append(out, fmt.Sprintf("OSD %d runs from %s, but the Job put it on %s", id, s.device, dev))
		}
		if len(out) > 20 {
			break
		}
	}
	if len(f.deployments) != len(f.osdDevice) {
		out = append(out, fmt.Sprintf("%d OSD Deployments for %d OSDs", len(f.deployments), len(f.osdDevice)))
	}
	return out
}

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
)

// recorder watches prepare Jobs and OSD Deployments at the API server (its
// own watches, independent of any cache of the operator's) and remembers
// every one ever created, by UID, with the disks it covers.
type recorder struct {
	mu sync.Mutex
	// began is when the watches started; times in messages count from it.
	began time.Time
	// jobs and deployments are every object seen, present or gone.
	jobs        map[types.UID]*jobRecord
	deployments map[types.UID]*deploymentRecord
	// liveJobs are the Jobs present at the API server now, by disk.
	liveJobs map[string]map[types.UID]bool
	// overlaps are the disks that got a Job while an earlier Job for them
	// was still present, with the two Jobs.
	overlaps map[string]string
	// nodeOverlaps are the nodes that had two prepare Jobs at once.
	nodeOverlaps map[string]string
	// osdsByDisk and osdsByID are the OSD Deployments ever created per
	// disk (device-id annotation) and per OSD id.
	osdsByDisk, osdsByID map[string]map[types.UID]bool
}

type jobRecord struct {
	name, node string
	disks      []string
	created    time.Time
	// gone is when the API server reported it deleted; zero while present.
	gone time.Time
	// outcome is Complete or Failed once the Job finished, and finished
	// when the watch first showed it so.
	outcome  string
	finished time.Time
}

// setOutcome notes the Job's outcome from its status, once.
func (j *jobRecord) setOutcome(job *batchv1.Job) {
	if j.outcome != "" {
		return
	}
	for _, c := range job.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			j.outcome, j.finished = string(c.Type), time.Now()
		}
	}
}

// ended is when the Job was last able to prepare anything: when it
// finished, or else when it went.
func (j *jobRecord) ended() time.Time {
	if !j.finished.IsZero() {
		return j.finished
	}
	return j.gone
}

// describe names a Job and its life for the table.
func (j *jobRecord) describe(uid types.UID, began time.Time) string {
	gone := "present"
	if !j.gone.IsZero() {
		gone = fmt.Sprintf("gone at %.1fs", j.gone.Sub(began).Seconds())
	}
	outcome := j.outcome
	if outcome == "" {
		outcome = "unfinished"
	}
	return fmt.Sprintf("%s (uid %.8s, created at %.1fs, %s, %s)", j.name, uid, j.created.Sub(began).Seconds(), outcome, gone)
}

type deploymentRecord struct {
	name, disk, osdID string
	gone              time.Time
}

func newRecorder() *recorder {
	return &recorder{
		began: time.Now(),
		jobs:  map[types.UID]*jobRecord{}, deployments: map[types.UID]*deploymentRecord{},
		liveJobs: map[string]map[types.UID]bool{}, overlaps: map[string]string{}, nodeOverlaps: map[string]string{},
		osdsByDisk: map[string]map[types.UID]bool{}, osdsByID: map[string]map[types.UID]bool{},
	}
}

// start runs the two watches until ctx ends and returns once both listed.
func (r *recorder) start(ctx context.Context, cfg *rest.Config, namespace string) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	selector := func(component string) func(*metav1.ListOptions) {
		return func(o *metav1.ListOptions) { o.LabelSelector = resources.ComponentLabel + "=" + component }
	}
	jobs := toolscache.NewSharedIndexInformer(
		toolscache.NewFilteredListWatchFromClient(cs.BatchV1().RESTClient(), "jobs", namespace, selector(resources.ComponentPrepare)),
		&batchv1.Job{}, 0, toolscache.Indexers{})
	deployments := toolscache.NewSharedIndexInformer(
		toolscache.NewFilteredListWatchFromClient(cs.AppsV1().RESTClient(), "deployments", namespace, selector(resources.ComponentOSD)),
		&appsv1.Deployment{}, 0, toolscache.Indexers{})
	if _, err := jobs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.jobSeen(o) },
		UpdateFunc: func(_, o any) { r.jobSeen(o) },
		DeleteFunc: func(o any) { r.jobGone(o) },
	}); err != nil {
		return err
	}
	if _, err := deployments.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.deploymentSeen(o) },
		UpdateFunc: func(_, o any) { r.deploymentSeen(o) },
		DeleteFunc: func(o any) { r.deploymentGone(o) },
	}); err != nil {
		return err
	}
	go jobs.Run(ctx.Done())
	go deployments.Run(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), jobs.HasSynced, deployments.HasSynced) {
		return fmt.Errorf("the test's watches on Jobs and Deployments did not sync")
	}
	return nil
}

// tombstone unwraps the final state of an object deleted while the watch
// was down.
func tombstone(o any) any {
	if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return o
}

func (r *recorder) jobSeen(o any) {
	job, ok := o.(*batchv1.Job)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, seen := r.jobs[job.UID]; seen {
		rec.setOutcome(job)
		return
	}
	// The API server's creation time has whole seconds; the watch's is
	// finer and late by the watch's delay only.
	rec := &jobRecord{name: job.Name, node: job.Annotations[resources.NodeAnnotation], created: time.Now()}
	rec.setOutcome(job)
	var devices []resources.PrepareTarget
	if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &devices); err == nil {
		for _, d := range devices {
			rec.disks = append(rec.disks, simnode.DiskKey(rec.node, d.ID))
		}
	} else {
		// A Job whose disks cannot be read is recorded under its own
		// name, so it is still counted and shows up in the table.
		rec.disks = []string{"(unreadable devices of Job " + job.Name + ")"}
	}
	for uid, other := range r.jobs {
		if other.gone.IsZero() && other.node == rec.node && rec.node != "" {
			if _, dup := r.nodeOverlaps[rec.node]; !dup {
				r.nodeOverlaps[rec.node] = fmt.Sprintf("Job %s created while Job %s (uid %s) was present", rec.name, other.name, uid)
			}
		}
	}
	for _, d := range rec.disks {
		for uid := range r.liveJobs[d] {
			if _, dup := r.overlaps[d]; !dup {
				r.overlaps[d] = fmt.Sprintf("Job %s created while Job %s was present", rec.describe(job.UID, r.began), r.jobs[uid].describe(uid, r.began))
			}
		}
		addUID(r.liveJobs, d, job.UID)
	}
	r.jobs[job.UID] = rec
}

func (r *recorder) jobGone(o any) {
	job, ok := tombstone(o).(*batchv1.Job)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.jobs[job.UID]
	if rec == nil || !rec.gone.IsZero() {
		return
	}
	rec.setOutcome(job)
	rec.gone = time.Now()
	for _, d := range rec.disks {
		delete(r.liveJobs[d], job.UID)
	}
}

func (r *recorder) deploymentSeen(o any) {
	d, ok := o.(*appsv1.Deployment)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.deployments[d.UID]; seen {
		return
	}
	rec := &deploymentRecord{name: d.Name, disk: d.Annotations[resources.DeviceIDAnnotation], osdID: d.Labels[resources.OSDIDLabel]}
	r.deployments[d.UID] = rec
	addUID(r.osdsByDisk, rec.disk, d.UID)
	addUID(r.osdsByID, rec.osdID, d.UID)
}

func addUID(m map[string]map[types.UID]bool, key string, uid types.UID) {
	if m[key] == nil {
		m[key] = map[types.UID]bool{}
	}
	m[key][uid] = true
}

func (r *recorder) deploymentGone(o any) {
	d, ok := tombstone(o).(*appsv1.Deployment)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec := r.deployments[d.UID]; rec != nil && rec.gone.IsZero() {
		rec.gone = time.Now()
	}
}

// inFlight counts the prepare Jobs present now and the disks they cover.
func (r *recorder) inFlight() (jobs, disks int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.jobs {
		if rec.gone.IsZero() {
			jobs++
			disks += len(rec.disks)
		}
	}
	return jobs, disks
}

// osdDisks counts the distinct disks with an OSD Deployment present now.
func (r *recorder) osdDisks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	disks := map[string]bool{}
	for _, rec := range r.deployments {
		if rec.gone.IsZero() {
			disks[rec.disk] = true
		}
	}
	return len(disks)
}

// verdict is what the recorder found over the whole run.
type verdict struct {
	jobs, deployments int
	// secondJobWhilePresent are disks that got a prepare Job while an
	// earlier one for them was still present.
	secondJobWhilePresent []string
	// preparedAgain are disks that got a prepare Job after an earlier one
	// for them had finished without failing (or gone, its outcome unseen):
	// the disk was prepared, and a second writer was sent to it.
	preparedAgain []string
	// inSeveralJobs are disks named by more than one prepare Job over the
	// run (a retry after a failure would be one; the simulation has none).
	inSeveralJobs []string
	// nodesWithTwoJobs are nodes that had two prepare Jobs at once.
	nodesWithTwoJobs []string
	// secondDeploymentByDisk and secondDeploymentByID are disks and OSD
	// ids with more than one OSD Deployment ever created.
	secondDeploymentByDisk, secondDeploymentByID []string
}

func (r *recorder) verdict() verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := verdict{jobs: len(r.jobs), deployments: len(r.deployments)}
	for d, what := range r.overlaps {
		v.secondJobWhilePresent = append(v.secondJobWhilePresent, d+": "+what)
	}
	perDisk := map[string][]types.UID{}
	for uid, rec := range r.jobs {
		for _, d := range rec.disks {
			perDisk[d] = append(perDisk[d], uid)
		}
	}
	for d, uids := range perDisk {
		if len(uids) < 2 {
			continue
		}
		sort.Slice(uids, func(i, j int) bool { return r.jobs[uids[i]].created.Before(r.jobs[uids[j]].created) })
		var names []string
		for _, uid := range uids {
			names = append(names, r.jobs[uid].describe(uid, r.began))
		}
		v.inSeveralJobs = append(v.inSeveralJobs, fmt.Sprintf("%s: %v", d, names))
	again:
		for i, a := range uids {
			earlier := r.jobs[a]
			ended := earlier.ended()
			if earlier.outcome == string(batchv1.JobFailed) || ended.IsZero() {
				continue
			}
			for _, b := range uids[i+1:] {
				if later := r.jobs[b]; later.created.After(ended) {
					v.preparedAgain = append(v.preparedAgain, fmt.Sprintf("%s: Job %s after Job %s", d, later.describe(b, r.began), earlier.describe(a, r.began)))
					break again
				}
			}
		}
	}
	for n, what := range r.nodeOverlaps {
		v.nodesWithTwoJobs = append(v.nodesWithTwoJobs, n+": "+what)
	}
	names := func(uids map[types.UID]bool) []string {
		var out []string
		for uid := range uids {
			out = append(out, r.deployments[uid].name+" ("+string(uid)+")")
		}
		sort.Strings(out)
		return out
	}
	for d, uids := range r.osdsByDisk {
		if len(uids) > 1 {
			v.secondDeploymentByDisk = append(v.secondDeploymentByDisk, fmt.Sprintf("disk %s: %v", d, names(uids)))
		}
	}
	for id, uids := range r.osdsByID {
		if len(uids) > 1 {
			v.secondDeploymentByID = append(v.secondDeploymentByID, fmt.Sprintf("OSD %s: %v", id, names(uids)))
		}
	}
	for _, s := range [][]string{v.secondJobWhilePresent, v.preparedAgain, v.inSeveralJobs, v.nodesWithTwoJobs, v.secondDeploymentByDisk, v.secondDeploymentByID} {
		sort.Strings(s)
	}
	return v
}

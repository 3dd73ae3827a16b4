package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// world plays, for the envtest API server which has no kubelet, no Job
// controller and no node agents, the parts of the cluster outside the
// operator: each node's agent (publishing DiskInventory status, answering
// rescan requests) and the prepare Jobs (which "write" a BlueStore label on
// their disks and complete, or fail for disks listed in failing).
type world struct {
	ns string

	mu      sync.Mutex
	disks   map[string][]cephv1.Disk // node -> disks as the agent sees them
	nextOSD int32
	failing map[string]bool // disk IDs whose prepare fails
	// refusing maps disk IDs that agent prepare refuses to the reason.
	refusing map[string]string
	// stderr is what a failing prepare reports as ceph-volume's stderr.
	stderr string
	// lying holds disk IDs a Job reports prepared without writing them:
	// the agent keeps seeing them Available.
	lying map[string]bool
	// prepared counts how often each disk ID was prepared; more than one
	// is a defect.
	prepared map[string]int
	jobsRun  int
	// paused holds prepare Jobs back (they neither complete nor fail);
	// the agents go on answering.
	paused bool
	// cephVersion is what the agents report as their image's Ceph
	// version.
	cephVersion string
	// cephUser is what the agents report as their image's ceph user.
	cephUser *cephv1.CephUser
	// monsDown keeps the monitor Deployments unavailable, as when their
	// pods cannot start.
	monsDown bool
	// neverStarted is what the reporter finds in the OSD map: OSDs that
	// were created and never started.
	neverStarted []cephv1.CephOSDRef
}

// diskKinds builds a node's disks: "available", "partitioned",
// "foreign", "osd" (an OSD of this cluster prepared earlier).
func (w *world) addNode(node string, kinds ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var disks []cephv1.Disk
	for i, kind := range kinds {
		name := fmt.Sprintf("sd%c", 'b'+i)
		d := cephv1.Disk{
			Name: name, ID: "/dev/disk/by-id/wwn-" + node + "-" + name, Path: "/dev/" + name,
			Links: []string{"/dev/disk/by-id/wwn-" + node + "-" + name}, Type: "disk", SizeBytes: 100 << 30,
		}
		switch kind {
		case "available":
			d.Verdict = cephv1.DiskVerdict{State: cephv1.DiskAvailable}
		case "partitioned":
			d.Verdict = cephv1.DiskVerdict{State: cephv1.DiskRejected, Reason: "HasPartitions", Message: name + " has partitions " + name + "1"}
		case "foreign":
			d.Verdict = cephv1.DiskVerdict{State: cephv1.DiskRejected, Reason: "ForeignCephCluster", Message: "BlueStore label of cluster 0bad"}
		case "osd":
			id := w.nextOSD
			w.nextOSD++
			d.Verdict = cephv1.DiskVerdict{State: cephv1.DiskOSD, OSDID: &id}
		default:
			panic("unknown disk kind " + kind)
		}
		disks = append(disks, d)
	}
	w.disks[node] = disks
}

func newWorld(t *testing.T, ns string) *world {
	w := &world{ns: ns, disks: map[string][]cephv1.Disk{}, nextOSD: 100, failing: map[string]bool{}, prepared: map[string]int{}, cephVersion: "16.2.15",
		refusing: map[string]string{}, lying: map[string]bool{}, stderr: "stderr: boom"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			w.step(ctx)
		}
	}()
	return w
}

// setCephVersion changes the Ceph version the agents report.
func (w *world) setCephVersion(v string) {
	w.mu.Lock()
	w.cephVersion = v
	w.mu.Unlock()
}

// setCephUser changes the ceph user the agents report (nil: none).
func (w *world) setCephUser(u *cephv1.CephUser) {
	w.mu.Lock()
	w.cephUser = u
	w.mu.Unlock()
}

func (w *world) setMonsDown(down bool) {
	w.mu.Lock()
	w.monsDown = down
	w.mu.Unlock()
}

func (w *world) pause(p bool) {
	w.mu.Lock()
	w.paused = p
	w.mu.Unlock()
}

// step runs the prepare Jobs and the agents once.
func (w *world) step(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var jobs batchv1.JobList
	if err := env.Client.List(ctx, &jobs, client.InNamespace(w.ns)); err == nil && !w.paused {
		for i := range jobs.Items {
			w.runJob(ctx, &jobs.Items[i])
		}
	}
	w.runDaemons(ctx)
	w.report(ctx)
	var list cephv1.DiskInventoryList
	if err := env.Client.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return
	}
	for i := range list.Items {
		inv := &list.Items[i]
		disks, ok := w.disks[inv.Name]
		if !ok {
			continue
		}
		if inv.Status.LastScanTime != nil && inv.Spec.RescanRequest <= inv.Status.ObservedRescanRequest &&
			inv.Status.CephVersion == w.cephVersion && equality.Semantic.DeepEqual(inv.Status.CephUser, w.cephUser) {
			continue
		}
		now := metav1.Now()
		inv.Status.CephVersion = w.cephVersion
		inv.Status.CephUser = w.cephUser.DeepCopy()
		inv.Status.Disks = append([]cephv1.Disk(nil), disks...)
		inv.Status.LastScanTime = &now
		inv.Status.ObservedRescanRequest = inv.Spec.RescanRequest
		_ = env.Client.Status().Update(ctx, inv)
	}
}

// runDaemons makes the monitor and manager Deployments available, as their
// pods would be on real nodes.
func (w *world) runDaemons(ctx context.Context) {
	var list appsv1.DeploymentList
	if err := env.Client.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return
	}
	for i := range list.Items {
		d := &list.Items[i]
		c := d.Labels[resources.ComponentLabel]
		if c == resources.ComponentMon && w.monsDown {
			if d.Status.AvailableReplicas != 0 {
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UnavailableReplicas: 1}
				_ = env.Client.Status().Update(ctx, d)
			}
			continue
		}
		if (c != resources.ComponentMon && c != resources.ComponentMgr) ||
			(d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 1) {
			continue
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}
		_ = env.Client.Status().Update(ctx, d)
	}
}

// report plays the health reporter next to the manager: once a cluster
// has an FSID and a manager, it publishes a healthy status.ceph for it.
func (w *world) report(ctx context.Context) {
	var list cephv1.CephClusterList
	if err := env.Client.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return
	}
	for i := range list.Items {
		c := &list.Items[i]
		if c.Status.FSID == "" || !meta.IsStatusConditionTrue(c.Status.Conditions, cephv1.ConditionManagerReady) ||
			(c.Status.Ceph != nil && c.Status.Ceph.FSID == c.Status.FSID && reflect.DeepEqual(c.Status.Ceph.NeverStartedOSDs, w.neverStarted)) {
			continue
		}
		now := metav1.Now()
		report := &cephv1.CephCluster{
			ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace},
			Status: cephv1.CephClusterStatus{Ceph: &cephv1.CephStatus{
				Health: cephv1.CephHealthOK, FSID: c.Status.FSID, LastChecked: &now, NeverStartedOSDs: w.neverStarted,
			}},
		}
		_ = apply.Status(ctx, env.Client, report, apply.Reporter)
	}
}

// runJob finishes a prepare Job the way agent prepare would: every disk
// still Available becomes an OSD, unless it is in failing or refusing. Like
// the Job controller and the kubelet, it leaves a pod whose prepare
// container terminated with agent prepare's results as its message.
func (w *world) runJob(ctx context.Context, job *batchv1.Job) {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed {
			return
		}
	}
	// The operator may have deleted the Job (an unstarted Job whose disks
	// left the selection) since the world listed it: a deleted Job never
	// starts, so it prepares nothing.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{}); err != nil {
		return
	}
	node := job.Annotations[resources.NodeAnnotation]
	var devices []resources.PrepareTarget
	if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &devices); err != nil {
		return
	}
	var results []resources.PrepareResult
	failed, refused := false, false
	for _, dev := range devices {
		if w.failing[dev.ID] {
			failed = true
			results = append(results, resources.PrepareResult{Path: dev.Path, Outcome: "Failed", Reason: "CephVolumeFailed",
				Message: "ceph-volume raw prepare exited with status 1", Stderr: w.stderr})
			continue
		}
		if reason := w.refusing[dev.ID]; reason != "" {
			refused = true
			results = append(results, resources.PrepareResult{Path: dev.Path, Outcome: "Refused", Reason: reason,
				Message: "the re-check on the node found the disk not blank"})
			continue
		}
		results = append(results, resources.PrepareResult{Path: dev.Path, Outcome: "Prepared"})
		if w.lying[dev.ID] {
			continue
		}
		for i := range w.disks[node] {
			d := &w.disks[node][i]
			if d.ID == dev.ID && d.Verdict.State == cephv1.DiskAvailable {
				id := w.nextOSD
				w.nextOSD++
				d.Verdict = cephv1.DiskVerdict{State: cephv1.DiskOSD, OSDID: &id}
				w.prepared[dev.ID]++
			}
		}
	}
	w.jobsRun++
	exit := int32(0)
	switch {
	case failed:
		exit = 1
	case refused:
		exit = 3
	}
	msg, _ := json.Marshal(results)
	w.finishPod(ctx, job, exit, string(msg))
	now := metav1.Now()
	job.Status.StartTime = &now
	// The conditions are those the API server's own Job controller
	// writes: from Kubernetes 1.31 an interim condition (FailureTarget,
	// SuccessCriteriaMet) before the terminal one; on 1.30 the terminal
	// one alone (its API server refuses SuccessCriteriaMet on a Job
	// without a success policy). The operator reads only the terminal
	// conditions, so it works with both.
	interim := env.MinorVersion() >= 31
	if exit != 0 {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
		}
		if interim {
			job.Status.Conditions = append([]batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			}, job.Status.Conditions...)
		}
	} else {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		if interim {
			job.Status.Conditions = append([]batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}, job.Status.Conditions...)
		}
	}
	if err := env.Client.Status().Update(ctx, job); err != nil && !apierrors.IsNotFound(err) {
		panic(fmt.Sprintf("completing Job %s: %v", job.Name, err))
	}
}

// finishPod leaves the pod of a finished Job: its prepare container
// terminated with exit code and message, as the kubelet reports it.
func (w *world) finishPod(ctx context.Context, job *batchv1.Job, exit int32, message string) {
	labels := map[string]string{batchv1.JobNameLabel: job.Name, "job-name": job.Name}
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-" + string(job.UID)[:5], Namespace: job.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: resources.PrepareContainer, Image: "op"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		panic(fmt.Sprintf("creating pod of Job %s: %v", job.Name, err))
	}
	phase := corev1.PodSucceeded
	if exit != 0 {
		phase = corev1.PodFailed
	}
	pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: resources.PrepareContainer, Image: "op",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Message: message, FinishedAt: metav1.Now()}},
	}}}
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		panic(fmt.Sprintf("finishing pod of Job %s: %v", job.Name, err))
	}
}

// setNeverStarted makes the reporter find osds in the OSD map as created
// and never started.
func (w *world) setNeverStarted(osds ...cephv1.CephOSDRef) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.neverStarted = osds
}

// setDisk changes a disk of node as its agent sees it.
func (w *world) setDisk(node, name string, mod func(*cephv1.Disk)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.disks[node] {
		if w.disks[node][i].Name == name {
			mod(&w.disks[node][i])
		}
	}
}

// setContent changes what the agent reads of a disk (its content hash) and
// publishes it, as a wipe would.
func (w *world) setContent(node, disk, hash string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.disks[node] {
		if w.disks[node][i].Name == disk {
			w.disks[node][i].ContentHash = hash
		}
	}
}

// osds returns the disk IDs holding OSDs, sorted.
func (w *world) osds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, disks := range w.disks {
		for _, d := range disks {
			if d.Verdict.State == cephv1.DiskOSD {
				out = append(out, d.ID)
			}
		}
	}
	sort.Strings(out)
	return out
}

// preparedTwice returns disks prepared more than once.
func (w *world) preparedTwice() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id, n := range w.prepared {
		if n > 1 {
			out = append(out, id)
		}
	}
	return out
}

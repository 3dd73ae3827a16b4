package world

import (
	"context"
	"encoding/json"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// Exit codes of agent prepare that a Job's pod reports.
const (
	ExitPrepared = 0
	ExitFailed   = 1
	ExitRefused  = 3
)

// Finished reports whether a Job has completed or failed.
func Finished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// prepareLocked does what agent prepare does on the Job's node: every disk
// it lists that is still Available gets a BlueStore label with a new OSD id
// (the agent reports it at its next scan), unless the disk is failing,
// refused or lying. It returns the results agent prepare writes as its
// termination message and its exit code. w.mu is held.
func (w *World) prepareLocked(job *batchv1.Job) ([]resources.PrepareResult, int32, error) {
	nodeName := job.Annotations[resources.NodeAnnotation]
	devices, err := targetsOf(job)
	if err != nil {
		return nil, 0, err
	}
	// A node the World does not play has no disks to write.
	n := w.nodes[nodeName]
	if n == nil {
		n = &node{}
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
		for i := range n.disks {
			d := &n.disks[i]
			if d.ID == dev.ID && d.Verdict.State == cephv1alpha1.DiskAvailable {
				id := w.nextOSD
				w.nextOSD++
				// The label carries the cluster's FSID, as discovery
				// reports it.
				d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id, ClusterFSID: jobFSID(job)}
				w.osdDevice[id] = d.ID
				w.prepared[dev.ID]++
			}
		}
	}
	n.scanned = metav1.Now()
	w.jobsRun++
	exit := int32(ExitPrepared)
	switch {
	case failed:
		exit = ExitFailed
	case refused:
		exit = ExitRefused
	}
	return results, exit, nil
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// targetsOf reads the devices a prepare Job is to prepare.
func targetsOf(job *batchv1.Job) ([]resources.PrepareTarget, error) {
	var devices []resources.PrepareTarget
	if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &devices); err != nil {
		return nil, fmt.Errorf("devices of prepare Job %s: %w", job.Name, err)
	}
	return devices, nil
}

// jobStatus is the status the Job controller gives a Job whose one pod
// exited with exit. From Kubernetes 1.31 it writes an interim condition
// (FailureTarget, SuccessCriteriaMet) before the terminal one; 1.30 writes
// the terminal one alone (its API server refuses SuccessCriteriaMet on a
// Job without a success policy). The operator reads only the terminal
// conditions, so it works with both.
func jobStatus(exit int32, interim bool) batchv1.JobStatus {
	now := metav1.Now()
	st := batchv1.JobStatus{StartTime: &now}
	if exit != ExitPrepared {
		st.Failed = 1
		st.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
		}
		if interim {
			st.Conditions = append([]batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			}, st.Conditions...)
		}
		return st
	}
	st.Succeeded = 1
	st.CompletionTime = &now
	st.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if interim {
		st.Conditions = append([]batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}, st.Conditions...)
	}
	return st
}

// SetKubernetesMinor says which Kubernetes minor version the API server
// runs, so that finished Jobs get the conditions that version's Job
// controller writes; 0 (the default) means a recent one.
func (w *World) SetKubernetesMinor(minor int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kubeMinor = minor
}

// interimJobConditions reports whether the API server's Job controller
// writes interim conditions (1.31 and later).
func (w *World) interimJobConditions() bool {
	return w.kubeMinor == 0 || w.kubeMinor >= 31
}

// runJobLocked finishes a prepare Job the way agent prepare would and, like
// the Job controller and the kubelet, leaves a pod whose prepare container
// terminated with agent prepare's results as its message. w.mu is held.
func (w *World) runJobLocked(ctx context.Context, job *batchv1.Job) {
	if Finished(job) {
		return
	}
	// The operator may have deleted the Job (an unstarted Job whose disks
	// left the selection) since the world listed it: a deleted Job never
	// starts, so it prepares nothing.
	if err := w.client.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{}); err != nil {
		return
	}
	if job.Labels[resources.ComponentLabel] == resources.ComponentOSDJob {
		w.runOSDJobLocked(ctx, job)
		return
	}
	if job.Labels[resources.ComponentLabel] == resources.ComponentCephxJob {
		w.runCephxJobLocked(ctx, job)
		return
	}
	if job.Annotations[resources.JobKindAnnotation] == resources.JobKindCleanup {
		w.runCleanupLocked(ctx, job)
		return
	}
	run := w.prepareLocked
	if job.Annotations[resources.JobKindAnnotation] == resources.JobKindWipe {
		run = w.wipeLocked
	}
	results, exit, err := run(job)
	if err != nil {
		return
	}
	msg, _ := json.Marshal(results)
	// A test that ends cancels ctx in the middle of these writes: that
	// is the end of the world, not a failure of it.
	if err := w.finishPod(ctx, job, exit, string(msg)); err != nil {
		if ctx.Err() != nil {
			return
		}
		panic(err)
	}
	job.Status = jobStatus(exit, w.interimJobConditions())
	if err := w.client.Status().Update(ctx, job); err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		panic(fmt.Sprintf("completing Job %s: %v", job.Name, err))
	}
}

// finishPod leaves the pod of a finished Job: its prepare container
// terminated with exit code and message, as the kubelet reports it.
func (w *World) finishPod(ctx context.Context, job *batchv1.Job, exit int32, message string) error {
	container := resources.PrepareContainer
	if cs := job.Spec.Template.Spec.Containers; len(cs) > 0 {
		container = cs[0].Name
	}
	return w.finishContainer(ctx, job, container, exit, message)
}

// finishContainer leaves the pod of a finished Job whose container
// terminated with exit code and message.
func (w *World) finishContainer(ctx context.Context, job *batchv1.Job, container string, exit int32, message string) error {
	return w.finishContainers(ctx, job, []terminated{{container, exit, message}})
}

// terminated is how one container of a Job's pod ended.
type terminated struct {
	name    string
	exit    int32
	message string
}

// finishContainers leaves the pod of a finished Job whose containers
// terminated as given; the pod failed when one of them did.
func (w *World) finishContainers(ctx context.Context, job *batchv1.Job, containers []terminated) error {
	labels := map[string]string{batchv1.JobNameLabel: job.Name, "job-name": job.Name}
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-" + string(job.UID)[:5], Namespace: job.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever},
	}
	phase := corev1.PodSucceeded
	var statuses []corev1.ContainerStatus
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.name, Image: "op"})
		if c.exit != ExitPrepared {
			phase = corev1.PodFailed
		}
		statuses = append(statuses, corev1.ContainerStatus{Name: c.name, Image: "op",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: c.exit, Message: c.message, FinishedAt: metav1.Now()}}})
	}
	w.writes.Add(2)
	if err := w.client.Create(ctx, pod); err != nil {
		return fmt.Errorf("creating pod of Job %s: %w", job.Name, err)
	}
	pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: statuses}
	if err := w.client.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("finishing pod of Job %s: %w", job.Name, err)
	}
	return nil
}

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// gatherOSDJobs reads the cluster's OSD Jobs (decommission steps) and, while
// any exists, their pods, for agent osd's results.
func (r *OSDReconciler) gatherOSDJobs(ctx context.Context, cluster *cephv1alpha1.CephCluster) ([]osdplan.OSDJob, map[string]*batchv1.Job, error) {
	own := client.MatchingLabels(resources.ClusterSelector(cluster))
	ns := client.InNamespace(cluster.Namespace)
	component := client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSDJob}
	var jobs batchv1.JobList
	if err := r.Client.List(ctx, &jobs, ns, own, component); err != nil {
		return nil, nil, fmt.Errorf("listing OSD Jobs: %w", err)
	}
	if len(jobs.Items) == 0 {
		return nil, nil, nil
	}
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, ns, own, component); err != nil {
		return nil, nil, fmt.Errorf("listing OSD Job pods: %w", err)
	}
	byJob := podsByJob(pods.Items)
	byName := make(map[string]*batchv1.Job, len(jobs.Items))
	out := make([]osdplan.OSDJob, 0, len(jobs.Items))
	for i := range jobs.Items {
		job := &jobs.Items[i]
		var ids []int32
		id := int64(-1)
		if step := osdplan.OSDStep(job.Annotations[resources.OSDStepAnnotation]); osdplan.IsRolloutStep(step) {
			ids = parseOSDIDs(job.Annotations[resources.OSDIDsAnnotation])
		} else {
			var err error
			if id, err = strconv.ParseInt(job.Labels[resources.OSDIDLabel], 10, 32); err != nil {
				continue
			}
		}
		byName[job.Name] = job
		oj := osdJobState(job, int32(id), byJob[job.UID])
		oj.OSDIDs = ids
		out = append(out, oj)
	}
	return out, byName, nil
}

// parseOSDIDs reads the comma-separated OSD ids of an ok-to-stop Job;
// what is not an id is left out.
func parseOSDIDs(list string) []int32 {
	var ids []int32
	for _, f := range strings.Split(list, ",") {
		if n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32); err == nil && n >= 0 {
			ids = append(ids, int32(n))
		}
	}
	return ids
}

// splitOSDJobs separates the rollout steps' Jobs (osdplan.GateRollout)
// from the decommission steps' (osdplan.Compute).
func splitOSDJobs(jobs []osdplan.OSDJob) (decommission, rollout []osdplan.OSDJob) {
	for _, j := range jobs {
		if osdplan.IsRolloutStep(j.Step) {
			rollout = append(rollout, j)
		} else {
			decommission = append(decommission, j)
		}
	}
	return decommission, rollout
}

// osdJobState reduces an OSD Job and its pods to what the planner needs.
func osdJobState(job *batchv1.Job, id int32, pods []corev1.Pod) osdplan.OSDJob {
	oj := osdplan.OSDJob{Name: job.Name, OSDID: id, Step: osdplan.OSDStep(job.Annotations[resources.OSDStepAnnotation])}
	var failure string
	oj.State, oj.FinishedAt, failure = jobOutcome(job)
	if oj.State == osdplan.JobRunning {
		return oj
	}
	var term *corev1.ContainerStateTerminated
	var newest time.Time
	for i := range pods {
		for _, cs := range pods[i].Status.ContainerStatuses {
			if cs.Name == resources.OSDJobContainer && cs.State.Terminated != nil {
				if t := cs.State.Terminated.FinishedAt.Time; term == nil || t.After(newest) {
					term, newest = cs.State.Terminated, t
				}
			}
		}
	}
	switch {
	case term != nil && strings.TrimSpace(term.Message) != "":
		var res osdop.Result
		if err := json.Unmarshal([]byte(term.Message), &res); err == nil && res.Outcome != "" {
			oj.Outcome, oj.Message = res.Outcome, res.Message
			return oj
		}
		oj.Outcome, oj.Message = osdop.OutcomeOfExit(term.ExitCode), strings.TrimSpace(term.Message)
	case term != nil:
		oj.Outcome = osdop.OutcomeOfExit(term.ExitCode)
		oj.Message = failure
	case oj.State == osdplan.JobSucceeded:
		oj.Outcome = osdplan.OSDOutcomeDone
	default:
		oj.Outcome, oj.Message = osdplan.OSDOutcomeFailed, failure
	}
	if oj.Message == "" && oj.Outcome != osdplan.OSDOutcomeDone {
		oj.Message = "agent osd left no result"
	}
	return oj
}

// createOSDJobs creates the OSD Jobs the plan asks for. One that exists
// already (a cache that has not shown it yet) is left: the next plan sees
// it.
//
// keys is the cluster's cephx key type; while it is not recorded (found
// false) no OSD Job is created, and the error says so.
func (r *OSDReconciler) createOSDJobs(ctx context.Context, cluster *cephv1alpha1.CephCluster, keys ceph.KeyType, found bool, inventories []cephv1alpha1.DiskInventory, specs []osdplan.OSDJobSpec) error {
	if len(specs) == 0 {
		return nil
	}
	if !found {
		return fmt.Errorf("not creating %d OSD Job(s): the cluster's cephx key type is not recorded yet", len(specs))
	}
	user := reporterUser(inventories)
	return apply.ForEach(ctx, len(specs), func(ctx context.Context, i int) error {
		spec := specs[i]
		job := resources.OSDJob(cluster, r.Images, keys, user, spec)
		if err := apply.SetOwner(cluster, job, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, job); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return fmt.Errorf("creating OSD Job %s for OSD %d: %w", spec.Step, spec.OSDID, err)
		}
		ctrl.LoggerFrom(ctx).Info("Created OSD Job", "job", job.Name, "osd", spec.OSDID, "osds", spec.OSDIDs, "step", spec.Step)
		return nil
	})
}

// stopOSDs deletes the Deployments of the OSDs Ceph said are safe to
// destroy. Foreground deletion: the Deployment is gone only once its pod
// is, so the step is recorded when ceph-osd has stopped.
func (r *OSDReconciler) stopOSDs(ctx context.Context, cluster *cephv1alpha1.CephCluster, ids []int32) error {
	return apply.ForEach(ctx, len(ids), func(ctx context.Context, i int) error {
		id := ids[i]
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: resources.OSDName(cluster, id), Namespace: cluster.Namespace}}
		err := r.Client.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationForeground))
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("deleting the Deployment of OSD %d: %w", id, err)
		}
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "OSDStopped", "Decommission",
			"Removed the Deployment of OSD %d: Ceph said it is safe to destroy", id)
		return nil
	})
}

// recordDecommissionEvents emits an Event on the DiskInventory and the
// cluster for each decommission step a plan records for the first time,
// and for a reversal.
func (r *OSDReconciler) recordDecommissionEvents(cluster *cephv1alpha1.CephCluster, inv *cephv1alpha1.DiskInventory, want []cephv1alpha1.DevicePlan) {
	before := map[string]*cephv1alpha1.DecommissionProgress{}
	for i := range inv.Status.Plan {
		before[inv.Status.Plan[i].ID] = inv.Status.Plan[i].Decommission
	}
	for _, p := range want {
		if p.OSDID == nil {
			continue
		}
		old := before[p.ID]
		if p.Decommission == nil {
			if old != nil && old.Phase != cephv1alpha1.DecommissionInvalid {
				r.Recorder.Eventf(inv, cluster, corev1.EventTypeNormal, "DecommissionReversed", "Decommission",
					"OSD %d on %s runs again: its decommission request was removed before the point of no return", *p.OSDID, p.ID)
			}
			continue
		}
		seen := 0
		if old != nil {
			seen = len(old.Steps)
		}
		for _, s := range p.Decommission.Steps[min(seen, len(p.Decommission.Steps)):] {
			r.Recorder.Eventf(inv, cluster, corev1.EventTypeNormal, "Decommission"+s.Name, "Decommission",
				"OSD %d on %s (node %s): %s at %s", *p.OSDID, p.ID, inv.Name, s.Name, s.Time.UTC().Format(time.RFC3339))
		}
		if (old == nil || old.Phase != p.Decommission.Phase) && (p.Decommission.Phase == cephv1alpha1.DecommissionNeverSafe || p.Decommission.Phase == cephv1alpha1.DecommissionInvalid) {
			r.Recorder.Eventf(inv, cluster, corev1.EventTypeWarning, "Decommission"+string(p.Decommission.Phase), "Decommission",
				"%s", fitBytes(fmt.Sprintf("OSD %d on %s: ", *p.OSDID, p.ID), p.Decommission.Message, maxEventNote))
		}
	}
}

// jobOutcome reads a Job's terminal condition: Running until it has one,
// then Succeeded or Failed with when, and for a failure the Job's own
// account of it.
func jobOutcome(job *batchv1.Job) (osdplan.JobState, time.Time, string) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return osdplan.JobSucceeded, c.LastTransitionTime.Time, ""
		case batchv1.JobFailed:
			return osdplan.JobFailed, c.LastTransitionTime.Time, strings.TrimSpace(fmt.Sprintf("the Job failed: %s %s", c.Reason, c.Message))
		}
	}
	return osdplan.JobRunning, time.Time{}, ""
}

// crashRestarts is how many restarts of ceph-osd, each ending in an error,
// make an OSD failing rather than starting.
const crashRestarts = 3

// crashingOSDs fills in OSD.Crashing for the OSDs whose pod is not ready
// and whose ceph-osd container keeps exiting with an error. The OSDs' pods
// are read from the cache (trimmed to their statuses), in one list, and
// only while some OSD is not ready: none at all while every OSD runs.
func (r *OSDReconciler) crashingOSDs(ctx context.Context, cluster *cephv1alpha1.CephCluster, osds []osdplan.OSD) error {
	notReady := map[string]*osdplan.OSD{}
	for i := range osds {
		if o := &osds[i]; !o.Ready && !o.Deleting {
			notReady[strconv.Itoa(int(o.ID))] = o
		}
	}
	if len(notReady) == 0 {
		return nil
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(cluster.Namespace), client.MatchingLabels(resources.ClusterSelector(cluster)),
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing the OSDs' pods: %w", err)
	}
	for i := range pods.Items {
		o := notReady[pods.Items[i].Labels[resources.OSDIDLabel]]
		if o == nil {
			continue
		}
		if how := crashing(&pods.Items[i]); how != "" {
			o.Crashing = how
		}
	}
	return nil
}

// osdPodCrashChanged passes the updates of an OSD pod that change whether
// its daemon keeps crashing, so that such an OSD is reported at once; the
// other changes of OSD pods show in their Deployment's status, which is
// watched.
func osdPodCrashChanged() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return isOSDPod(e.Object) && crashingObj(e.Object) != "" },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return isOSDPod(e.ObjectNew) && crashingObj(e.ObjectOld) != crashingObj(e.ObjectNew)
		},
	}
}

func isOSDPod(obj client.Object) bool {
	return obj != nil && obj.GetLabels()[resources.ComponentLabel] == resources.ComponentOSD
}

func crashingObj(obj client.Object) string {
	if pod, ok := obj.(*corev1.Pod); ok {
		return crashing(pod)
	}
	return ""
}

// osdPodToCluster maps an OSD pod to its CephCluster.
func osdPodToCluster(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[resources.ClusterLabel]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
}

// crashing says how the OSD container of pod keeps failing, "" when it
// does not: it restarted at least crashRestarts times and its last run
// ended in an error.
func crashing(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		last := cs.LastTerminationState.Terminated
		if cs.Name != "osd" || cs.RestartCount < crashRestarts || last == nil || last.ExitCode == 0 {
			continue
		}
		how := fmt.Sprintf("ceph-osd restarted %d times; its last run ended with exit code %d", cs.RestartCount, last.ExitCode)
		if last.Reason != "" {
			how += " (" + last.Reason + ")"
		}
		if msg := strings.TrimSpace(last.Message); msg != "" {
			how += ": " + osdplan.Truncate(msg, 300)
		}
		return how
	}
	return ""
}

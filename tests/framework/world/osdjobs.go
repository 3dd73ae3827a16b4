package world

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// osdAnswer is one answer a safe-to-destroy Job gives.
type osdAnswer struct {
	outcome, message string
}

// SetSafeToDestroy queues the answers the next safe-to-destroy Jobs of OSD
// id give, one each (osdop.NotYet, osdop.Never, osdop.Failed or
// osdop.Done); once they are used up, it is safe.
func (w *World) SetSafeToDestroy(id int32, outcomes ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.osdAnswers == nil {
		w.osdAnswers = map[int32][]osdAnswer{}
	}
	for _, o := range outcomes {
		w.osdAnswers[id] = append(w.osdAnswers[id], osdAnswer{o, "simulated answer: " + o})
	}
}

// HoldOSDJobs leaves OSD Jobs running (h true) until released.
func (w *World) HoldOSDJobs(h bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.osdJobsHeld = h
}

// SetOKToStop queues the answers the next ok-to-stop Jobs give, one each
// (osdop.NotYet, osdop.Failed or osdop.Done); once used up, the answer is
// yes.
func (w *World) SetOKToStop(outcomes ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range outcomes {
		w.okToStop = append(w.okToStop, osdAnswer{o, "simulated answer: " + o})
	}
}

// NoOut reports whether Ceph's noout flag is set.
func (w *World) NoOut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.noout
}

// SetNoOut sets or clears the noout flag as an administrator would.
func (w *World) SetNoOut(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.noout = on
}

// OSDSteps returns every OSD Job step run so far, as "<id> <step>" (for a
// rollout step: "<ids> <step>", "-" when it names no OSD).
func (w *World) OSDSteps() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.osdSteps...)
}

// runOSDJobLocked finishes an OSD Job as agent osd would against a Ceph
// that does what it is told; safe-to-destroy answers as SetSafeToDestroy
// queued. w.mu is held.
func (w *World) runOSDJobLocked(ctx context.Context, job *batchv1.Job) {
	if w.osdJobsHeld {
		return
	}
	step := job.Annotations[resources.OSDStepAnnotation]
	var res osdop.Result
	if osdop.ClusterStep(step) {
		res = w.clusterStepLocked(step, job.Annotations[resources.OSDIDsAnnotation])
	} else {
		id, err := strconv.ParseInt(job.Labels[resources.OSDIDLabel], 10, 32)
		if err != nil {
			return
		}
		res = osdop.Result{Step: step, OSDID: int32(id), Outcome: osdop.Done}
		if step == osdop.StepSafe {
			if q := w.osdAnswers[int32(id)]; len(q) > 0 {
				res.Outcome, res.Message = q[0].outcome, q[0].message
				w.osdAnswers[int32(id)] = q[1:]
			}
		}
		w.osdSteps = append(w.osdSteps, fmt.Sprintf("%d %s", id, step))
	}
	msg, _ := json.Marshal(res)
	w.endJobLocked(ctx, job, resources.OSDJobContainer, int32(osdop.ExitCode(res.Outcome)), string(msg))
}

// endJobLocked ends a Job of one container as the kubelet and the Job
// controller would: its pod's container terminated with exit and message,
// the Job complete or failed. w.mu is held.
func (w *World) endJobLocked(ctx context.Context, job *batchv1.Job, container string, exit int32, msg string) {
	if err := w.finishContainer(ctx, job, container, exit, msg); err != nil {
		if ctx.Err() != nil {
			return
		}
		panic(err)
	}
	job.Status = jobStatus(exit, w.interimJobConditions())
	_ = w.client.Status().Update(ctx, job)
}

// clusterStepLocked plays a rollout step: the noout flag, or ok-to-stop
// answered as SetOKToStop queued. w.mu is held.
func (w *World) clusterStepLocked(step, ids string) osdop.Result {
	res := osdop.Result{Step: step, OSDID: -1, Outcome: osdop.Done}
	switch step {
	case osdop.StepSetNoOut:
		if w.noout {
			res.Message = osdop.NoOutPreset
		}
		w.noout = true
	case osdop.StepUnsetNoOut:
		w.noout = false
	case osdop.StepRequireRelease:
		// As Ceph does once the release is raised.
		w.checks = slices.DeleteFunc(slices.Clone(w.checks), func(c cephv1alpha1.CephHealthCheck) bool { return c.Code == osdplan.CheckOSDUpgradeFinished })
	case osdop.StepOKToStop:
		if len(w.okToStop) > 0 {
			res.Outcome, res.Message = w.okToStop[0].outcome, w.okToStop[0].message
			w.okToStop = w.okToStop[1:]
		}
	}
	if ids == "" {
		ids = "-"
	}
	w.osdSteps = append(w.osdSteps, ids+" "+step)
	return res
}

// collectLocked plays the garbage collector for Deployments deleted in
// the foreground: envtest runs none, and their foregroundDeletion
// finalizer would keep them for ever. Their pods are gone at once.
func (w *World) collectLocked(ctx context.Context) {
	var list appsv1.DeploymentList
	if err := w.client.List(ctx, &list, client.InNamespace(w.ns)); err != nil {
		return
	}
	for i := range list.Items {
		d := &list.Items[i]
		if d.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(d, metav1.FinalizerDeleteDependents) {
			continue
		}
		controllerutil.RemoveFinalizer(d, metav1.FinalizerDeleteDependents)
		_ = w.client.Update(ctx, d)
	}
}

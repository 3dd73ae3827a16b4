package world

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/cephxop"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// HoldCephxJobs leaves cephx Jobs running (h true) until released.
func (w *World) HoldCephxJobs(h bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cephxHeld = h
}

// SetCephxAnswers sets the outcomes (cephxop.NotYet, Failed or Done) the
// next cephx Jobs of step give, one each, in place of those not given yet;
// once they are used up, the step is done. A NotYet with progress is
// written "NotYet+".
func (w *World) SetCephxAnswers(step string, outcomes ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cephxAnswers == nil {
		w.cephxAnswers = map[string][]osdAnswer{}
	}
	w.cephxAnswers[step] = nil
	for _, o := range outcomes {
		w.cephxAnswers[step] = append(w.cephxAnswers[step], osdAnswer{o, "simulated answer: " + o})
	}
}

// CephxSteps returns every cephx Job run so far, as "<step> <outcome>
// admin:<type of the admin keyring it mounted> rotating:<replace|expire>".
func (w *World) CephxSteps() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.cephxSteps...)
}

// runCephxJobLocked finishes a cephx Job as agent cephx would against a
// Ceph that does what it is told: a done finish clears the key-type health
// checks, but for the rotating service keys when it was not asked to
// replace them. w.mu is held.
func (w *World) runCephxJobLocked(ctx context.Context, job *batchv1.Job) {
	if w.cephxHeld {
		return
	}
	step := job.Annotations[resources.CephxStepAnnotation]
	res := cephxop.Result{Step: step, Outcome: cephxop.Done, Message: "simulated: done"}
	if q := w.cephxAnswers[step]; len(q) > 0 {
		res.Outcome, res.Message = q[0].outcome, q[0].message
		if res.Outcome == "NotYet+" {
			res.Outcome, res.Changed = cephxop.NotYet, 1
		}
		w.cephxAnswers[step] = q[1:]
	}
	spec := job.Spec.Template.Spec
	admin, replace := "?", "expire"
	for _, v := range spec.Volumes {
		if v.Name == "admin-keyring" && v.Secret != nil && len(v.Secret.Items) == 1 {
			admin = ceph.KeyTypeAES.String()
			if v.Secret.Items[0].Key == resources.SecretKey(resources.SecretKeyAdminKeyring, ceph.KeyTypeAES256K) {
				admin = ceph.KeyTypeAES256K.String()
			}
		}
	}
	if len(spec.Containers) == 1 && slices.Contains(spec.Containers[0].Args, "--replace-rotating-keys") {
		replace = "replace"
	}
	w.cephxSteps = append(w.cephxSteps, fmt.Sprintf("%s %s admin:%s rotating:%s", step, res.Outcome, admin, replace))
	if step == cephxop.StepFinish && res.Outcome == cephxop.Done {
		w.checks = slices.DeleteFunc(slices.Clone(w.checks), func(c cephv1alpha1.CephHealthCheck) bool {
			return slices.Contains(ceph.KeyTypeChecks, c.Code) && (replace == "replace" || c.Code != "AUTH_INSECURE_ROTATING_SERVICE_KEY_TYPE")
		})
	}
	msg, _ := json.Marshal(res)
	w.endJobLocked(ctx, job, resources.CephxJobContainer, int32(cephxop.ExitCode(res.Outcome)), string(msg))
}

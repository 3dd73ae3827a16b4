package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/cephxop"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// Backoff of a cephx step that did not finish: 10 s, doubling up to 5 min.
const (
	cephxRetryFirst = 10 * time.Second
	cephxRetryMax   = 5 * time.Minute
)

// cephxState is the part of a cluster's status that the OSD reconciler
// follows: the key type and the migration step.
func cephxState(c *cephv1alpha1.CephCluster) string {
	if c.Status.Cephx == nil {
		return ""
	}
	return c.Status.Cephx.KeyType + "/" + c.Status.Cephx.Migration
}

// cephxJobOnly passes the events of cephx Jobs alone.
func cephxJobOnly() predicate.Funcs {
	return predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[resources.ComponentLabel] == resources.ComponentCephxJob
	})
}

// cephxJobState is a cephx Job reduced to its step and outcome.
type cephxJobState struct {
	job      *batchv1.Job
	step     string
	running  bool
	finished time.Time
	result   cephxop.Result
}

// reconcileCephxMigration moves the cluster's cephx keys to AES-256 when
// spec.security.cephx.keyType asks for it (docs/design/0009), one recorded
// step at a time, each run by a Job (agent cephx):
//
//  1. When every daemon runs Ceph 20.2.4 or later and nothing rolls out,
//     the record's step becomes Importing; prepare Jobs wait from then on.
//  2. With no prepare Job left, the import Job gives the entities the
//     operator holds their AES-256 keys. When it is done, the record
//     says aes256k and Finishing in one write: from then on every pod and
//     Job mounts the AES-256 keyrings, and the monitors, the manager and
//     the reporter roll onto them (rollDaemons, one at a time).
//  3. Once they have, finish Jobs replace the OSDs' keys while they run,
//     then make the monitors refuse AES keys; when one is done, the step
//     is removed from the record.
//
// A step is recorded before its Job is deleted (by the pass that reads the
// record back), so an operator that restarts resumes where it was, and no
// step is run again once done. A
// step that did not finish is run again after a backoff; the condition
// CephxKeysMigrated says what it waits for.
func (r *CephClusterReconciler) reconcileCephxMigration(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	rec := s.observed.cephx
	if rec == nil {
		return nil
	}
	want := cluster.Spec.Security.Cephx.KeyType == cephv1alpha1.CephxKeyTypeAES256K
	st := &cephv1alpha1.CephxStatus{KeyType: rec.keyType.String(), Migration: rec.migration}
	if old := cluster.Status.Cephx; old != nil && old.Migration == rec.migration && old.KeyType == st.KeyType {
		st.Message, st.Attempts, st.LastAttemptTime = old.Message, old.Attempts, old.LastAttemptTime
	}
	cluster.Status.Cephx = st
	set := func(status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&cluster.Status.Conditions, metav1.Condition{Type: cephv1alpha1.ConditionCephxKeysMigrated,
			Status: status, Reason: reason, Message: truncateMessage(msg), ObservedGeneration: cluster.Generation})
	}
	jobs, err := r.cephxJobs(ctx, cluster)
	if err != nil {
		return err
	}

	switch rec.migration {
	case "":
		st.Attempts, st.LastAttemptTime = 0, nil
		if err := r.deleteCephxJobs(ctx, jobs, ""); err != nil {
			return err
		}
		switch {
		case !want:
			meta.RemoveStatusCondition(&cluster.Status.Conditions, cephv1alpha1.ConditionCephxKeysMigrated)
		case rec.keyType == ceph.KeyTypeAES256K:
			set(metav1.ConditionTrue, cephv1alpha1.ReasonCephxMigrated, "Every cephx key of the cluster is an AES-256 key and the monitors accept no other")
		default:
			return r.startCephxMigration(ctx, s, set)
		}
		return nil
	case cephv1alpha1.CephxMigrationImporting:
		if err := r.deleteCephxJobs(ctx, jobs, cephxop.StepImport); err != nil {
			return err
		}
		prepares, err := r.runningPrepares(ctx, cluster)
		if err != nil {
			return err
		}
		if len(prepares) > 0 && jobs[cephxop.StepImport] == nil {
			set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxImporting, fmt.Sprintf(
				"Waiting for the prepare Jobs %s to end before the monitors get the keys the operator holds; no new one starts", strings.Join(prepares, ", ")))
			// Prepare Jobs are not watched here.
			s.observed.cephxRecheck = cephxRetryFirst
			return nil
		}
		done, err := r.runCephxStep(ctx, s, jobs[cephxop.StepImport], cephxop.StepImport, set,
			"Giving the monitors the AES-256 keys of the entities the operator holds (mon., mgr.a, client.reporter, client.bootstrap-osd, client.admin)")
		if err != nil || !done {
			return err
		}
		// The AES-256 keys are in the monitors' database: every pod and
		// Job mounts them from now on.
		if err := r.writeCephxRecord(ctx, s, ceph.KeyTypeAES256K, cephv1alpha1.CephxMigrationFinishing); err != nil {
			return staleRecord(s, err)
		}
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "CephxKeysImported", "MigrateCephxKeys",
			"The monitors have the AES-256 keys of the entities the operator holds; the monitors, the manager and the reporter roll onto their new keyrings. %s", st.Message)
		st.KeyType, st.Migration, st.Attempts, st.LastAttemptTime = ceph.KeyTypeAES256K.String(), cephv1alpha1.CephxMigrationFinishing, 0, nil
		set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxFinishing, "The monitors, the manager and the reporter roll onto their AES-256 keyrings")
		// The Job goes once the record is read back as Finishing: a pass
		// on a cache that still shows Importing finds it done, instead of
		// running the step again.
		return nil
	case cephv1alpha1.CephxMigrationFinishing:
		if err := r.deleteCephxJobs(ctx, jobs, cephxop.StepFinish); err != nil {
			return err
		}
		if !want {
			if j := jobs[cephxop.StepFinish]; j != nil && !j.running {
				if err := r.deleteCephxJob(ctx, j); err != nil {
					return err
				}
			}
			// Set again, it starts at once.
			st.Attempts, st.LastAttemptTime = 0, nil
			set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxPaused, "spec.security.cephx.keyType was unset: the keys the operator holds are AES-256, "+
				"the monitors still accept AES keys, and the OSDs' keys are left as they are until it is set again")
			return nil
		}
		if s.observed.mon.rolling != "" && jobs[cephxop.StepFinish] == nil {
			set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxFinishing, "Waiting for the monitors and the manager to run with their AES-256 keyrings: "+s.observed.mon.rolling)
			return nil
		}
		done, err := r.runCephxStep(ctx, s, jobs[cephxop.StepFinish], cephxop.StepFinish, set,
			"Replacing the OSDs' keys while they run and those of Ceph's own bootstrap users, then making the monitors accept AES-256 keys only")
		if err != nil || !done {
			return err
		}
		if err := r.writeCephxRecord(ctx, s, ceph.KeyTypeAES256K, ""); err != nil {
			return staleRecord(s, err)
		}
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "CephxKeysMigrated", "MigrateCephxKeys", "%s", st.Message)
		msg := "Every cephx key of the cluster is an AES-256 key and the monitors accept no other: " + st.Message
		st.Migration, st.Attempts, st.LastAttemptTime = "", 0, nil
		set(metav1.ConditionTrue, cephv1alpha1.ReasonCephxMigrated, msg)
		return nil
	}
	return nil
}

// startCephxMigration records the first step once nothing stands in the
// way: the identity holds AES-256 keys, the accepted image runs Ceph
// 20.2.4 or later, and no rollout of the monitors, the manager or the OSDs
// is under way (the import Job checks every daemon's version itself).
func (r *CephClusterReconciler) startCephxMigration(ctx context.Context, s *clusterScope, set func(metav1.ConditionStatus, string, string)) error {
	cluster := s.cluster
	if !s.observed.identityKeyTypes[ceph.KeyTypeAES256K] {
		set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxNotPossible, "The identity Secret was made by an earlier operator and holds AES keys only, "+
			"so the operator has no AES-256 keys to give the monitors, the manager and its own users; the keys stay AES ones")
		return nil
	}
	accepted := s.observed.version.accepted
	if accepted == nil {
		set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxWaiting, "Waiting for the Ceph version of the cluster's image to be known")
		return nil
	}
	v, err := ceph.ParseVersion(accepted.Version)
	if err != nil {
		return err
	}
	var wait string
	switch {
	case v.Less(cephxop.MinVersion):
		wait = fmt.Sprintf("AES-256 keys need Ceph %s or later on every daemon; the cluster runs %s: set spec.image to a Ceph %s or later image first",
			cephxop.MinVersion.Number(), v.Number(), cephxop.MinVersion.Number())
	case s.observed.mon.rolling != "":
		wait = "Waiting for the rollout of the monitors and the manager to end: " + s.observed.mon.rolling
	case cluster.Status.OSDRollout != nil || meta.IsStatusConditionFalse(cluster.Status.Conditions, cephv1alpha1.ConditionOSDsUpdated):
		wait = "Waiting for the OSDs' rollout to end: " + conditionMessage(cluster, cephv1alpha1.ConditionOSDsUpdated)
	}
	if wait != "" {
		set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxWaiting, wait)
		return nil
	}
	if err := r.writeCephxRecord(ctx, s, ceph.KeyTypeAES, cephv1alpha1.CephxMigrationImporting); err != nil {
		return staleRecord(s, err)
	}
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "CephxMigrationStarted", "MigrateCephxKeys",
		"Moving the cluster's cephx keys to AES-256 (spec.security.cephx.keyType); prepare Jobs wait until the monitors have the keys the operator holds")
	cluster.Status.Cephx.Migration = cephv1alpha1.CephxMigrationImporting
	set(metav1.ConditionFalse, cephv1alpha1.ReasonCephxImporting, "Starting: prepare Jobs wait while the monitors get the keys the operator holds")
	return nil
}

// runCephxStep runs step's Job: it creates it (after the backoff of the
// runs before), waits for it, and reads its result. It returns true when
// the step is done; the caller records that before it deletes the Job. A
// run that did not finish the step is counted and its Job deleted.
func (r *CephClusterReconciler) runCephxStep(ctx context.Context, s *clusterScope, j *cephxJobState, step string,
	set func(metav1.ConditionStatus, string, string), doing string) (bool, error) {
	cluster := s.cluster
	st := cluster.Status.Cephx
	reason := cephv1alpha1.ReasonCephxImporting
	if step == cephxop.StepFinish {
		reason = cephv1alpha1.ReasonCephxFinishing
	}
	switch {
	case j == nil:
		if st.LastAttemptTime != nil && st.Attempts > 0 {
			if wait := st.LastAttemptTime.Add(cephxBackoff(st.Attempts)).Sub(s.observed.now); wait > 0 {
				s.observed.cephxRecheck = wait
				set(metav1.ConditionFalse, reason, fmt.Sprintf("%s; the last run (%d in a row) did not finish: %s; the next starts in %s",
					doing, st.Attempts, st.Message, wait.Round(time.Second)))
				return false, nil
			}
		}
		keys := s.observed.cephx.keyType
		job := resources.CephxJob(cluster, r.Images, keys, reporterUser(s.observed.inventories), step,
			cluster.Spec.Security.Cephx.RotatingServiceKeys == cephv1alpha1.RotatingServiceKeysReplace)
		if err := apply.SetOwner(cluster, job, r.Client.Scheme()); err != nil {
			return false, err
		}
		if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("creating cephx Job %s: %w", job.Name, err)
		}
		ctrl.LoggerFrom(ctx).Info("Created cephx Job", "job", job.Name, "step", step)
		set(metav1.ConditionFalse, reason, doing)
		return false, nil
	case j.running:
		set(metav1.ConditionFalse, reason, doing+" (Job "+j.job.Name+")")
		return false, nil
	}
	res := j.result
	if res.Outcome == cephxop.Done {
		st.Message = res.Message
		return true, nil
	}
	set(metav1.ConditionFalse, reason, fmt.Sprintf("%s: %s", doing, res.Message))
	// The run is counted in the status first, and its Job deleted only
	// by a pass that reads that status back: a pass on a cache that has
	// not seen the count yet would otherwise start the next run at once,
	// without its backoff.
	t := metav1.NewTime(j.finished).Rfc3339Copy()
	if st.LastAttemptTime != nil && st.LastAttemptTime.Equal(&t) && st.Message == res.Message {
		return false, r.deleteCephxJob(ctx, j)
	}
	st.Message = res.Message
	st.LastAttemptTime = &t
	if res.Outcome == cephxop.NotYet && res.Changed > 0 {
		// Progress (a bounded run of OSD keys): the next goes on at once.
		st.Attempts = 0
	} else {
		st.Attempts++
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, "CephxStepNotDone", "MigrateCephxKeys",
			"agent cephx --step %s: %s: %s", step, res.Outcome, truncateMessage(res.Message))
	}
	// The status write's own event brings the pass that deletes the Job;
	// a recheck in case that pass reads a cache without it.
	s.observed.cephxRecheck = time.Second
	return false, nil
}

// cephxBackoff is the wait after attempts runs in a row that did not
// finish their step.
func cephxBackoff(attempts int32) time.Duration {
	d := cephxRetryFirst
	for i := int32(1); i < attempts && d < cephxRetryMax; i++ {
		d *= 2
	}
	return min(d, cephxRetryMax)
}

// staleRecord turns the refusal of a record write made from a record read
// before a change (a cache that lags behind the write of the pass before)
// into a pass soon, on a fresh read; any other error is returned.
func staleRecord(s *clusterScope, err error) error {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		s.observed.cephxRecheck = time.Second
		return nil
	}
	return err
}

// writeCephxRecord writes the key type and migration step into the
// migration record: it creates it (replacing one of a former cluster of
// the same name), or updates it as read, so that a record changed since
// fails the write and the next reconcile reads it again.
func (r *CephClusterReconciler) writeCephxRecord(ctx context.Context, s *clusterScope, t ceph.KeyType, migration string) error {
	cluster, c := s.cluster, s.observed.cephx
	name := resources.CephxMigrationName(cluster)
	if c.record == nil {
		if old := c.stale; old != nil {
			if err := r.Client.Delete(ctx, old, client.Preconditions{UID: &old.UID}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("replacing the cephx migration record %s of FSID %s: %w", name, old.Data[resources.CephxKeyFSID], err)
			}
		}
		rec := resources.CephxMigration(cluster, s.observed.fsid, t, migration)
		rec.Annotations = map[string]string{resources.ClusterUIDAnnotation: string(cluster.UID)}
		if err := r.Client.Create(ctx, rec); err != nil {
			return fmt.Errorf("recording cephx key type %s and migration step %q in ConfigMap %s: %w", t, migration, name, err)
		}
		return nil
	}
	rec := c.record.DeepCopy()
	if rec.Data == nil {
		rec.Data = map[string]string{}
	}
	rec.Data[resources.CephxKeyType] = t.String()
	if migration == "" {
		delete(rec.Data, resources.CephxKeyMigration)
	} else {
		rec.Data[resources.CephxKeyMigration] = migration
	}
	if err := r.Client.Update(ctx, rec); err != nil {
		return fmt.Errorf("recording cephx key type %s and migration step %q in ConfigMap %s: %w", t, migration, name, err)
	}
	return nil
}

// cephxJobs reads the cluster's cephx Jobs by step, and the results of
// those that ended from their pods.
func (r *CephClusterReconciler) cephxJobs(ctx context.Context, cluster *cephv1alpha1.CephCluster) (map[string]*cephxJobState, error) {
	own := client.MatchingLabels(resources.ClusterSelector(cluster))
	ns := client.InNamespace(cluster.Namespace)
	component := client.MatchingLabels{resources.ComponentLabel: resources.ComponentCephxJob}
	var jobs batchv1.JobList
	if err := r.Client.List(ctx, &jobs, ns, own, component); err != nil {
		return nil, fmt.Errorf("listing cephx Jobs: %w", err)
	}
	out := map[string]*cephxJobState{}
	if len(jobs.Items) == 0 {
		return out, nil
	}
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, ns, own, component); err != nil {
		return nil, fmt.Errorf("listing cephx Job pods: %w", err)
	}
	byJob := podsByJob(pods.Items)
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if !job.DeletionTimestamp.IsZero() {
			continue
		}
		out[job.Annotations[resources.CephxStepAnnotation]] = cephxJobResult(job, byJob[job.UID])
	}
	return out, nil
}

// cephxJobResult reads a cephx Job's outcome: agent cephx's termination
// message, or what the Job's condition and exit code say.
func cephxJobResult(job *batchv1.Job, pods []corev1.Pod) *cephxJobState {
	j := &cephxJobState{job: job, step: job.Annotations[resources.CephxStepAnnotation]}
	state, finished, failure := jobOutcome(job)
	if state == osdplan.JobRunning {
		j.running = true
		return j
	}
	j.finished = finished
	j.result.Step = j.step
	var term *corev1.ContainerStateTerminated
	for i := range pods {
		for _, cs := range pods[i].Status.ContainerStatuses {
			if cs.Name == resources.CephxJobContainer && cs.State.Terminated != nil &&
				(term == nil || cs.State.Terminated.FinishedAt.After(term.FinishedAt.Time)) {
				term = cs.State.Terminated
			}
		}
	}
	switch {
	case term != nil && strings.TrimSpace(term.Message) != "":
		if err := json.Unmarshal([]byte(term.Message), &j.result); err == nil && j.result.Outcome != "" {
			return j
		}
		j.result.Outcome, j.result.Message = cephxop.OutcomeOfExit(term.ExitCode), strings.TrimSpace(term.Message)
	case term != nil:
		j.result.Outcome, j.result.Message = cephxop.OutcomeOfExit(term.ExitCode), failure
	case state == osdplan.JobSucceeded:
		j.result.Outcome = cephxop.Done
	default:
		j.result.Outcome, j.result.Message = cephxop.Failed, failure
	}
	if j.result.Message == "" && j.result.Outcome != cephxop.Done {
		j.result.Message = "agent cephx left no result"
	}
	return j
}

// deleteCephxJobs deletes the cephx Jobs of other steps than keep: those
// of a step already recorded as done.
func (r *CephClusterReconciler) deleteCephxJobs(ctx context.Context, jobs map[string]*cephxJobState, keep string) error {
	for step, j := range jobs {
		if step == keep {
			continue
		}
		if err := r.deleteCephxJob(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

func (r *CephClusterReconciler) deleteCephxJob(ctx context.Context, j *cephxJobState) error {
	if j == nil {
		return nil
	}
	err := r.Client.Delete(ctx, j.job, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &j.job.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting cephx Job %s: %w", j.job.Name, err)
	}
	return nil
}

// runningPrepares names the cluster's prepare Jobs, read from the API
// server: the bootstrap key they register OSDs with must not change under
// one.
func (r *CephClusterReconciler) runningPrepares(ctx context.Context, cluster *cephv1alpha1.CephCluster) ([]string, error) {
	var jobs batchv1.JobList
	if err := r.APIReader.List(ctx, &jobs, client.InNamespace(cluster.Namespace), client.MatchingLabels(resources.ClusterSelector(cluster)),
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentPrepare}); err != nil {
		return nil, fmt.Errorf("listing prepare Jobs: %w", err)
	}
	var names []string
	for _, j := range jobs.Items {
		if state, _, _ := jobOutcome(&j); state == osdplan.JobRunning {
			names = append(names, j.Name)
		}
	}
	return names, nil
}

package osdplan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Rollout steps: OSD Jobs that act on the cluster (OSDID -1).
const (
	// OSDStepSetNoOut sets Ceph's noout flag before the first failure
	// domain restarts.
	OSDStepSetNoOut OSDStep = "set-noout"
	// OSDStepUnsetNoOut clears it once the rollout is over.
	OSDStepUnsetNoOut OSDStep = "unset-noout"
	// OSDStepOKToStop asks Ceph whether the OSDs of one failure domain may
	// stop together (ceph osd ok-to-stop).
	OSDStepOKToStop OSDStep = "ok-to-stop"
	// OSDStepRequireRelease raises the OSD map's require_osd_release to
	// the release every OSD runs (ceph osd require-osd-release), the last
	// step of a Ceph upgrade.
	OSDStepRequireRelease OSDStep = "require-osd-release"
)

// CheckOSDUpgradeFinished is Ceph's health check saying that every OSD
// runs a newer release than the OSD map's require_osd_release.
const CheckOSDUpgradeFinished = "OSD_UPGRADE_FINISHED"

// requireReleaseRetry is how long a finished require-osd-release Job
// stands while Ceph still reports OSD_UPGRADE_FINISHED (the reporter
// publishes Ceph's health on its own period); then it runs again.
const requireReleaseRetry = 2 * time.Minute

// IsRolloutStep reports whether an OSD Job's step belongs to a rollout
// (GateRollout) rather than to a decommission.
func IsRolloutStep(step OSDStep) bool {
	return step == OSDStepSetNoOut || step == OSDStepUnsetNoOut || step == OSDStepOKToStop || step == OSDStepRequireRelease
}

// okToStopValid is how long Ceph's "ok to stop" stands for a failure
// domain that has not started to restart: an older answer is asked again.
const okToStopValid = 2 * time.Minute

// noOutHoldLimit bounds how long noout is held while OSDs stay down after
// a domain was restarted: like Ceph's own mon_osd_down_out_interval, after
// it the flag is released so that Ceph marks them out and re-replicates
// their data instead of waiting for OSDs that may never come back.
const noOutHoldLimit = 10 * time.Minute

// NoOutPresetMessage is the message of a Done set-noout Job whose flag was
// set already (osdop.NoOutPreset).
const NoOutPresetMessage = "noout was set already"

// GateInput is what GateRollout decides from.
type GateInput struct {
	// Cluster is the CephCluster; its status.osdRollout is the record as
	// last written.
	Cluster *cephv1alpha1.CephCluster
	// Rollout is OSDRollout's decision.
	Rollout Rollout
	// Quiet: every OSD is ready on its current template and Ceph reports
	// nothing recovering. noout is cleared then.
	Quiet bool
	// Unready: some OSD is not ready (or not yet on its template). Held
	// that way for noOutHoldLimit after the last domain was let stop,
	// noout is released.
	Unready bool
	// Jobs are the cluster's rollout OSD Jobs (IsRolloutStep).
	Jobs []OSDJob
	// Now is the planner's clock.
	Now time.Time
}

// Gate is GateRollout's decision.
type Gate struct {
	// Rollout is the input's, with Update emptied (and Waiting saying
	// why) until noout is held and Ceph said the domain's OSDs may stop.
	Rollout Rollout
	// Record is status.osdRollout to write; nil removes it.
	Record *cephv1alpha1.OSDRolloutStatus
	// CreateJobs and DeleteJobs are rollout OSD Jobs to create and the
	// names of finished ones to delete.
	CreateJobs []OSDJobSpec
	DeleteJobs []string
	// RequeueAfter asks for a pass when a backoff ends (0: none).
	RequeueAfter time.Duration
}

// GateRollout puts Ceph's own checks in front of OSDRollout's choice of
// the next failure domain to restart:
//
//  1. before the first domain, noout is set (an OSD Job runs `ceph osd
//     set noout`), so that Ceph does not mark the restarting OSDs out and
//     start moving their data; a flag someone else set is recorded as
//     Preset and left alone at the end;
//  2. before each domain, an OSD Job asks `ceph osd ok-to-stop` for its
//     OSDs; the domain is updated only on a yes younger than two minutes
//     (or, for a domain already restarting, on the yes it got), else it
//     waits and asks again after a backoff, showing Ceph's answer;
//  3. once no OSD is outdated, every OSD is ready and Ceph has recovered,
//     noout is unset (when the operator set it) and the record dropped;
//  4. then, when Ceph says every OSD runs a newer release than the OSD
//     map requires (OSD_UPGRADE_FINISHED, after an upgrade), an OSD Job
//     raises require_osd_release (see requireRelease).
//
// Like a decommission step, each outcome is recorded (in the returned
// record) before the Job is deleted: a finished Job goes only when the
// record as read already holds its outcome, so no pass runs a command
// twice because a cache lagged.
func GateRollout(in GateInput) Gate {
	g := gateRollout(in)
	slices.Sort(g.DeleteJobs)
	g.DeleteJobs = slices.Compact(g.DeleteJobs)
	return g
}

func gateRollout(in GateInput) Gate {
	var rec *cephv1alpha1.OSDRolloutStatus
	if in.Cluster.Status.OSDRollout != nil {
		rec = in.Cluster.Status.OSDRollout.DeepCopy()
	}
	g := Gate{Rollout: in.Rollout}
	jobs := map[OSDStep]*OSDJob{}
	for i := range in.Jobs {
		jobs[in.Jobs[i].Step] = &in.Jobs[i]
	}
	// The end of an upgrade is no part of a rollout's record.
	require := jobs[OSDStepRequireRelease]
	delete(jobs, OSDStepRequireRelease)
	g.dropRecorded(in.Cluster.Status.OSDRollout, jobs)

	if in.Rollout.Outdated == 0 {
		g.Record = g.finish(in, rec, jobs)
		g.requireRelease(in, g.Record == nil, require)
		return g
	}
	g.requireRelease(in, false, require)
	if len(in.Rollout.Update) == 0 {
		// Held by OSDRollout itself (a domain restarting, Ceph
		// recovering, the monitors first): nothing to ask yet.
		g.Record = g.release(in, rec, jobs)
		return g
	}
	if rec == nil {
		rec = &cephv1alpha1.OSDRolloutStatus{}
	}
	g.Record = rec
	if rec.NoOut == "" {
		if !g.step(in, rec, jobs[OSDStepSetNoOut], OSDJobSpec{OSDID: -1, Step: OSDStepSetNoOut},
			"setting Ceph's noout flag before the first failure domain restarts (ceph osd set noout)") {
			return g
		}
		j := jobs[OSDStepSetNoOut]
		rec.NoOut, rec.NoOutTime = cephv1alpha1.NoOutSet, jobTime(j, in.Now)
		if j.Message == NoOutPresetMessage {
			rec.NoOut = cephv1alpha1.NoOutPreset
		}
	}

	ids := make([]int32, 0, len(in.Rollout.Update))
	for id := range in.Rollout.Update {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	domain := in.Rollout.Domain
	if approved(rec, domain, ids, in.Now, in.Rollout.Disrupted) {
		return g
	}
	what := fmt.Sprintf("asking Ceph whether the OSDs of %s may stop (ceph osd ok-to-stop %s)", domain, joinIDs(ids))
	j := jobs[OSDStepOKToStop]
	if j != nil && !subset(ids, j.OSDIDs) {
		// A question about another domain: it goes first.
		if j.State != JobRunning {
			g.DeleteJobs = append(g.DeleteJobs, j.Name)
		}
		g.hold(what)
		return g
	}
	if j != nil && j.State != JobRunning && j.Outcome == OSDOutcomeDone && in.Now.Sub(j.FinishedAt) > okToStopValid {
		// A yes too old to act on (the operator was away): ask again.
		g.DeleteJobs = append(g.DeleteJobs, j.Name)
		g.hold(what)
		return g
	}
	if !g.step(in, rec, j, OSDJobSpec{OSDID: -1, Step: OSDStepOKToStop, OSDIDs: ids}, what) {
		return g
	}
	rec.Domain, rec.OSDs, rec.OKToStopTime = domain, ids, jobTime(j, in.Now)
	return g
}

// finish ends a rollout's record once no OSD is outdated: noout the
// operator set is unset when every OSD is ready and Ceph has recovered.
func (g *Gate) finish(in GateInput, rec *cephv1alpha1.OSDRolloutStatus, jobs map[OSDStep]*OSDJob) *cephv1alpha1.OSDRolloutStatus {
	if j := jobs[OSDStepSetNoOut]; j != nil && (rec == nil || rec.NoOut == "") {
		// The rollout ended (its change was taken back) while noout
		// was being set: what that Job did must be undone too.
		if rec == nil {
			rec = &cephv1alpha1.OSDRolloutStatus{}
		}
		if j.State == JobRunning {
			rec.Message = "waiting for `ceph osd set noout` to end, to unset it"
			return rec
		}
		if j.Outcome == OSDOutcomeDone {
			rec.NoOut, rec.NoOutTime = cephv1alpha1.NoOutSet, jobTime(j, in.Now)
			if j.Message == NoOutPresetMessage {
				rec.NoOut = cephv1alpha1.NoOutPreset
			}
		}
	}
	if rec == nil || rec.NoOut != cephv1alpha1.NoOutSet {
		// No rollout and nothing to undo: no finished Job is needed.
		for _, j := range jobs {
			if j.State != JobRunning {
				g.DeleteJobs = append(g.DeleteJobs, j.Name)
			}
		}
		return nil
	}
	if !in.Quiet {
		if holdExpired(in, rec) {
			return g.release(in, rec, jobs)
		}
		rec.Message = "every OSD is updated; noout stays set until they are all ready and Ceph reports nothing recovering"
		return rec
	}
	if !g.step(in, rec, jobs[OSDStepUnsetNoOut], OSDJobSpec{OSDID: -1, Step: OSDStepUnsetNoOut},
		"every OSD is updated and ready; unsetting Ceph's noout flag (ceph osd unset noout)") {
		return rec
	}
	return nil
}

// requireRelease drives the last step of a Ceph upgrade. Once every OSD
// runs its current template and is ready, Ceph is quiet and the rollout
// is over (settled), and Ceph's health says every OSD runs a newer
// release than the OSD map requires (OSD_UPGRADE_FINISHED), an OSD Job
// runs `ceph osd require-osd-release` for the release they all run: until
// then Ceph keeps the cluster in HEALTH_WARN and holds back the release's
// new features. The command only raises the release, and Ceph refuses it
// while an up OSD runs an older one, so running it again is harmless: a
// finished Job is deleted once the check is gone from Ceph's health, or
// after requireReleaseRetry, after which it runs again if the check stays.
func (g *Gate) requireRelease(in GateInput, settled bool, j *OSDJob) {
	want := settled && in.Quiet && HasCheck(in.Cluster.Status.Ceph, CheckOSDUpgradeFinished)
	switch {
	case j == nil:
		if want {
			g.CreateJobs = append(g.CreateJobs, OSDJobSpec{OSDID: -1, Step: OSDStepRequireRelease})
		}
	case j.State == JobRunning:
	case !want || in.Now.Sub(j.FinishedAt) >= requireReleaseRetry:
		g.DeleteJobs = append(g.DeleteJobs, j.Name)
		if want {
			g.requeue(time.Second)
		}
	default:
		g.requeue(requireReleaseRetry - in.Now.Sub(j.FinishedAt))
	}
}

// HasCheck reports whether Ceph's health, as the reporter last published
// it, raises check code.
func HasCheck(st *cephv1alpha1.CephStatus, code string) bool {
	return st != nil && slices.ContainsFunc(st.Checks, func(c cephv1alpha1.CephHealthCheck) bool { return c.Code == code })
}

// holdExpired reports whether noout, set by the operator, has been held
// for OSDs that stay down longer than noOutHoldLimit after the last domain
// was let stop.
func holdExpired(in GateInput, rec *cephv1alpha1.OSDRolloutStatus) bool {
	return rec != nil && rec.NoOut == cephv1alpha1.NoOutSet && in.Unready && rec.OKToStopTime != nil &&
		in.Now.Sub(rec.OKToStopTime.Time) > noOutHoldLimit
}

// release unsets noout while the rollout waits for OSDs that stayed down
// past noOutHoldLimit, so that Ceph recovers their data; the next domain
// sets it again. It returns the record to keep.
func (g *Gate) release(in GateInput, rec *cephv1alpha1.OSDRolloutStatus, jobs map[OSDStep]*OSDJob) *cephv1alpha1.OSDRolloutStatus {
	if !holdExpired(in, rec) {
		return rec
	}
	waiting := g.Rollout.Waiting
	if !g.step(in, rec, jobs[OSDStepUnsetNoOut], OSDJobSpec{OSDID: -1, Step: OSDStepUnsetNoOut},
		fmt.Sprintf("OSDs stayed down for more than %s after %s was let stop: unsetting noout so that Ceph recovers their data (ceph osd unset noout)",
			noOutHoldLimit, rec.Domain)) {
		rec.Message = g.Rollout.Waiting
		g.Rollout.Waiting = waiting
		return rec
	}
	rec.NoOut, rec.NoOutTime = "", nil
	rec.Message = fmt.Sprintf("noout released: OSDs stayed down for more than %s after %s was let stop; it is set again before the next failure domain", noOutHoldLimit, rec.Domain)
	g.Rollout.Waiting = waiting
	return rec
}

// step drives one rollout command run by an OSD Job and returns true once
// it is Done. Otherwise the domain is held: the Job is created (after the
// backoff of earlier failures), waited for, or its failure recorded.
func (g *Gate) step(in GateInput, rec *cephv1alpha1.OSDRolloutStatus, j *OSDJob, spec OSDJobSpec, what string) bool {
	switch {
	case j == nil:
		if at := retryAt(rec.Attempts, rec.LastAttemptTime); !at.IsZero() && in.Now.Before(at) {
			g.requeue(at.Sub(in.Now))
			g.hold(fmt.Sprintf("%s; next try at %s", rec.Message, formatTime(at)))
			return false
		}
		g.CreateJobs = append(g.CreateJobs, spec)
		g.hold(what)
		return false
	case j.State == JobRunning:
		g.hold(what)
		return false
	case j.Outcome == OSDOutcomeDone:
		rec.Attempts, rec.LastAttemptTime, rec.Message = 0, nil, ""
		return true
	}
	at := jobTime(j, in.Now)
	if rec.LastAttemptTime == nil || rec.LastAttemptTime.Before(at) {
		rec.Attempts++
		rec.LastAttemptTime = at
	}
	msg := j.Message
	if msg == "" {
		msg = "the Job left no account"
	}
	if j.Step == OSDStepOKToStop {
		rec.Message = Truncate(fmt.Sprintf("Ceph does not let OSDs %s stop yet: %s", joinIDs(j.OSDIDs), msg), MaxMessageLength)
	} else {
		rec.Message = Truncate(fmt.Sprintf("ceph osd %s failed: %s", strings.Replace(string(j.Step), "-", " ", 1), msg), MaxMessageLength)
	}
	next := retryAt(rec.Attempts, rec.LastAttemptTime)
	g.requeue(next.Sub(in.Now))
	g.hold(fmt.Sprintf("%s; next try at %s", rec.Message, formatTime(next)))
	return false
}

// dropRecorded deletes the finished rollout Jobs whose outcome the record
// as read (prev) holds, as dropRecordedOSDJobs does for decommissions.
func (g *Gate) dropRecorded(prev *cephv1alpha1.OSDRolloutStatus, jobs map[OSDStep]*OSDJob) {
	for _, j := range jobs {
		if j.State == JobRunning {
			continue
		}
		recorded := false
		switch {
		case j.Outcome != OSDOutcomeDone:
			recorded = prev != nil && prev.LastAttemptTime != nil && !prev.LastAttemptTime.Before(jobTime(j, time.Time{}))
		case j.Step == OSDStepSetNoOut:
			recorded = prev != nil && prev.NoOut != ""
		case j.Step == OSDStepUnsetNoOut:
			recorded = prev == nil || prev.NoOut == ""
		case j.Step == OSDStepOKToStop:
			recorded = prev != nil && prev.OKToStopTime != nil && !prev.OKToStopTime.Before(jobTime(j, time.Time{})) &&
				slices.Equal(prev.OSDs, j.OSDIDs)
		}
		if recorded {
			g.DeleteJobs = append(g.DeleteJobs, j.Name)
		}
	}
}

// hold keeps the chosen domain from being updated, saying why.
func (g *Gate) hold(why string) {
	g.Rollout.Update = map[int32]bool{}
	g.Rollout.Waiting = why
}

func (g *Gate) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	if g.RequeueAfter == 0 || d < g.RequeueAfter {
		g.RequeueAfter = d
	}
}

// approved reports whether rec holds Ceph's yes for ids of domain: given
// less than okToStopValid ago, or at any time for a domain already
// restarting (its OSDs updated on that yes).
func approved(rec *cephv1alpha1.OSDRolloutStatus, domain string, ids []int32, now time.Time, disrupted bool) bool {
	if rec.OKToStopTime == nil || rec.Domain != domain || !subset(ids, rec.OSDs) {
		return false
	}
	return disrupted || now.Sub(rec.OKToStopTime.Time) <= okToStopValid
}

// retryAt is when a command that failed attempts times in a row, the last
// at last, may run again: 10s·2^(attempts-1), at most two minutes.
func retryAt(attempts int32, last *metav1.Time) time.Time {
	if attempts <= 0 || last == nil {
		return time.Time{}
	}
	d := osdStepBaseBackoff
	for i := int32(1); i < attempts && d < osdStepMaxBackoff; i++ {
		d *= 2
	}
	return last.Add(min(d, osdStepMaxBackoff))
}

// jobTime is when j finished, to the second (now when unknown).
func jobTime(j *OSDJob, now time.Time) *metav1.Time {
	t := j.FinishedAt
	if t.IsZero() {
		t = now
	}
	at := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &at
}

// subset reports whether every id of a is in b.
func subset(a, b []int32) bool {
	for _, id := range a {
		if !slices.Contains(b, id) {
			return false
		}
	}
	return len(a) > 0
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, " ")
}

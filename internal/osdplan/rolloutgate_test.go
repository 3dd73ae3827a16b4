package osdplan

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// gateWorld plays the reconciler and Ceph around GateRollout: it writes
// the record into the cluster's status, creates and deletes the rollout
// Jobs, and finishes them as the test says.
type gateWorld struct {
	t       *testing.T
	cluster *cephv1alpha1.CephCluster
	jobs    []OSDJob
	now     time.Time
	last    Gate
	steps   []string
}

func newGateWorld(t *testing.T) *gateWorld {
	return &gateWorld{t: t, cluster: cluster(nil), now: now}
}

// pass runs GateRollout on r and applies its decision.
func (w *gateWorld) pass(r Rollout, quiet bool) Gate {
	w.t.Helper()
	g := GateRollout(GateInput{Cluster: w.cluster, Rollout: r, Quiet: quiet, Jobs: w.jobs, Now: w.now})
	for _, s := range g.CreateJobs {
		name := OSDJobName("ceph", s.OSDID, s.Step)
		if slices.ContainsFunc(w.jobs, func(j OSDJob) bool { return j.Name == name }) {
			w.t.Fatalf("creates %s, which exists", s.Step)
		}
		w.jobs = append(w.jobs, OSDJob{Name: name, OSDID: s.OSDID, Step: s.Step, OSDIDs: s.OSDIDs, State: JobRunning})
		w.steps = append(w.steps, strings.TrimSpace(string(s.Step)+" "+joinIDs(s.OSDIDs)))
	}
	w.cluster.Status.OSDRollout = g.Record
	w.jobs = slices.DeleteFunc(w.jobs, func(j OSDJob) bool { return slices.Contains(g.DeleteJobs, j.Name) })
	w.last = g
	return g
}

func (w *gateWorld) finish(step OSDStep, outcome, msg string) {
	w.t.Helper()
	for i := range w.jobs {
		if j := &w.jobs[i]; j.Step == step && j.State == JobRunning {
			j.State, j.Outcome, j.Message, j.FinishedAt = JobSucceeded, outcome, msg, w.now
			if outcome != OSDOutcomeDone {
				j.State = JobFailed
			}
			return
		}
	}
	w.t.Fatalf("no running %s Job: %+v", step, w.jobs)
}

// domain is OSDRollout's choice of domain d with OSDs ids, outdated in all.
func domain(d string, outdated int32, disrupted bool, ids ...int32) Rollout {
	r := Rollout{Update: map[int32]bool{}, Outdated: outdated, Domain: d, Disrupted: disrupted}
	for _, id := range ids {
		r.Update[id] = true
	}
	return r
}

func (w *gateWorld) updates(want ...int32) {
	w.t.Helper()
	var got []int32
	for id := range w.last.Rollout.Update {
		got = append(got, id)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		w.t.Fatalf("updates %v, want %v (waiting: %s)", got, want, w.last.Rollout.Waiting)
	}
}

func (w *gateWorld) waits(says string) {
	w.t.Helper()
	if len(w.last.Rollout.Update) != 0 || !strings.Contains(w.last.Rollout.Waiting, says) {
		w.t.Fatalf("update %v, waiting %q: want none and %q", w.last.Rollout.Update, w.last.Rollout.Waiting, says)
	}
}

func TestGateRollout(t *testing.T) {
	w := newGateWorld(t)
	a := domain("node-a", 4, false, 0, 1)
	// noout first.
	w.pass(a, false)
	w.waits("ceph osd set noout")
	w.pass(a, false)
	w.waits("ceph osd set noout")
	w.finish(OSDStepSetNoOut, OSDOutcomeDone, "")
	w.pass(a, false)
	if rec := w.cluster.Status.OSDRollout; rec == nil || rec.NoOut != cephv1alpha1.NoOutSet || rec.NoOutTime == nil {
		t.Fatalf("record %+v, want noout Set", rec)
	}
	w.waits("ceph osd ok-to-stop 0 1")
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(a, false)
	w.updates(0, 1)
	if rec := w.cluster.Status.OSDRollout; rec.Domain != "node-a" || !slices.Equal(rec.OSDs, []int32{0, 1}) || rec.OKToStopTime == nil {
		t.Fatalf("record %+v, want node-a's OSDs approved", rec)
	}
	// A pass that reads the record from before that write still acts on
	// the Job's answer and asks nothing again.
	recorded := w.cluster.Status.OSDRollout
	w.cluster.Status.OSDRollout = &cephv1alpha1.OSDRolloutStatus{NoOut: cephv1alpha1.NoOutSet, NoOutTime: recorded.NoOutTime}
	w.pass(a, false)
	w.updates(0, 1)
	if len(w.last.CreateJobs) != 0 || len(w.jobs) != 1 {
		t.Fatalf("a stale pass: creates %+v, jobs %+v", w.last.CreateJobs, w.jobs)
	}
	// node-a restarts: OSDRollout waits for it; the answer's Job goes.
	w.pass(Rollout{Update: map[int32]bool{}, Outdated: 2, Waiting: "waiting for the OSDs of node-a"}, false)
	w.waits("waiting for the OSDs of node-a")
	if len(w.jobs) != 0 {
		t.Fatalf("jobs %+v after their outcomes were read back", w.jobs)
	}
	// A partly updated domain, restarting, goes on with the answer it got,
	// however old.
	w.now = w.now.Add(10 * time.Minute)
	w.pass(domain("node-a", 1, true, 1), false)
	w.updates(1)

	// The next domain asks again.
	b := domain("node-b", 2, false, 2, 3)
	w.pass(b, false)
	w.waits("ceph osd ok-to-stop 2 3")
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(b, false)
	w.updates(2, 3)

	// Everything updated: noout stays until all is ready and clean.
	done := Rollout{Updated: 4}
	w.pass(done, false)
	if rec := w.cluster.Status.OSDRollout; rec == nil || !strings.Contains(rec.Message, "noout stays set") || len(w.last.CreateJobs) != 0 {
		t.Fatalf("record %+v, creates %+v", rec, w.last.CreateJobs)
	}
	w.pass(done, true)
	w.finish(OSDStepUnsetNoOut, OSDOutcomeDone, "")
	w.pass(done, true)
	if w.cluster.Status.OSDRollout != nil {
		t.Fatalf("record %+v after noout was unset", w.cluster.Status.OSDRollout)
	}
	w.pass(done, true)
	if len(w.jobs) != 0 {
		t.Fatalf("jobs %+v left", w.jobs)
	}
	if want := []string{"set-noout", "ok-to-stop 0 1", "ok-to-stop 2 3", "unset-noout"}; !slices.Equal(w.steps, want) {
		t.Fatalf("commands %v, want %v", w.steps, want)
	}
}

func TestGateRolloutNotOKToStop(t *testing.T) {
	w := newGateWorld(t)
	w.cluster.Status.OSDRollout = &cephv1alpha1.OSDRolloutStatus{NoOut: cephv1alpha1.NoOutSet}
	a := domain("node-a", 2, false, 0, 1)
	w.pass(a, false)
	w.finish(OSDStepOKToStop, OSDOutcomeNotYet, "Error EBUSY: unsafe to stop osd(s) at this time (8 PGs are or would become offline)")
	w.pass(a, false)
	w.waits("8 PGs are or would become offline")
	w.waits("next try at")
	rec := w.cluster.Status.OSDRollout
	if rec.Attempts != 1 || rec.OKToStopTime != nil || w.last.RequeueAfter <= 0 || w.last.RequeueAfter > osdStepBaseBackoff {
		t.Fatalf("record %+v, requeue %v: want one attempt, no approval, a requeue within the backoff", rec, w.last.RequeueAfter)
	}
	// The answer's Job goes; no new question before the backoff ends.
	w.now = w.now.Add(time.Second)
	w.pass(a, false)
	w.pass(a, false)
	w.waits("next try at")
	if len(w.jobs) != 0 || w.cluster.Status.OSDRollout.Attempts != 1 {
		t.Fatalf("jobs %+v, record %+v", w.jobs, w.cluster.Status.OSDRollout)
	}
	w.now = w.now.Add(osdStepBaseBackoff)
	w.pass(a, false)
	w.waits("ceph osd ok-to-stop 0 1")
	w.finish(OSDStepOKToStop, OSDOutcomeNotYet, "still unsafe")
	w.pass(a, false)
	if got := w.cluster.Status.OSDRollout.Attempts; got != 2 {
		t.Fatalf("attempts %d, want 2", got)
	}
	w.now = w.now.Add(2 * osdStepBaseBackoff)
	w.pass(a, false)
	w.pass(a, false)
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(a, false)
	w.updates(0, 1)
	if rec := w.cluster.Status.OSDRollout; rec.Attempts != 0 || rec.Message != "" {
		t.Fatalf("record %+v after the yes", rec)
	}
}

func TestGateRolloutStaleAnswer(t *testing.T) {
	w := newGateWorld(t)
	w.cluster.Status.OSDRollout = &cephv1alpha1.OSDRolloutStatus{NoOut: cephv1alpha1.NoOutSet}
	a := domain("node-a", 2, false, 0, 1)
	w.pass(a, false)
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	// The operator was away for longer than the answer stands.
	w.now = w.now.Add(okToStopValid + time.Minute)
	w.pass(a, false)
	w.waits("ceph osd ok-to-stop 0 1")
	if len(w.jobs) != 0 {
		t.Fatalf("the old answer's Job is kept: %+v", w.jobs)
	}
	w.pass(a, false)
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(a, false)
	w.updates(0, 1)
	// A question about another domain's OSDs is not taken as this one's.
	w.pass(Rollout{Update: map[int32]bool{}, Outdated: 1}, false)
	w.cluster.Status.OSDRollout.OKToStopTime = nil
	w.jobs = append(w.jobs, OSDJob{Name: OSDJobName("ceph", -1, OSDStepOKToStop), OSDID: -1, Step: OSDStepOKToStop, OSDIDs: []int32{0, 1},
		State: JobSucceeded, Outcome: OSDOutcomeDone, FinishedAt: w.now})
	w.pass(domain("node-b", 1, false, 2), false)
	w.waits("ceph osd ok-to-stop 2")
	if len(w.jobs) != 0 {
		t.Fatalf("the other domain's answer is kept: %+v", w.jobs)
	}
}

func TestGateRolloutNoOutPreset(t *testing.T) {
	w := newGateWorld(t)
	a := domain("osd.0", 1, false, 0)
	w.pass(a, false)
	w.finish(OSDStepSetNoOut, OSDOutcomeDone, NoOutPresetMessage)
	w.pass(a, false)
	if rec := w.cluster.Status.OSDRollout; rec == nil || rec.NoOut != cephv1alpha1.NoOutPreset {
		t.Fatalf("record %+v, want noout Preset", rec)
	}
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(a, false)
	w.updates(0)
	w.pass(Rollout{Updated: 1}, true)
	if w.cluster.Status.OSDRollout != nil || len(w.last.CreateJobs) != 0 {
		t.Fatalf("an administrator's noout: record %+v, creates %+v; want it left set", w.cluster.Status.OSDRollout, w.last.CreateJobs)
	}
	if want := []string{"set-noout", "ok-to-stop 0"}; !slices.Equal(w.steps, want) {
		t.Fatalf("commands %v, want %v", w.steps, want)
	}
}

// TestGateRolloutTakenBack: a rollout whose change is undone while noout
// is being set still unsets what it set.
func TestGateRolloutTakenBack(t *testing.T) {
	w := newGateWorld(t)
	w.pass(domain("node-a", 2, false, 0, 1), false)
	w.pass(Rollout{Updated: 2}, true)
	if rec := w.cluster.Status.OSDRollout; rec == nil || !strings.Contains(rec.Message, "to unset it") {
		t.Fatalf("record %+v while set-noout runs", rec)
	}
	w.finish(OSDStepSetNoOut, OSDOutcomeDone, "")
	w.pass(Rollout{Updated: 2}, true)
	w.finish(OSDStepUnsetNoOut, OSDOutcomeDone, "")
	w.pass(Rollout{Updated: 2}, true)
	w.pass(Rollout{Updated: 2}, true)
	if w.cluster.Status.OSDRollout != nil || len(w.jobs) != 0 {
		t.Fatalf("record %+v, jobs %+v", w.cluster.Status.OSDRollout, w.jobs)
	}
	if want := []string{"set-noout", "unset-noout"}; !slices.Equal(w.steps, want) {
		t.Fatalf("commands %v, want %v", w.steps, want)
	}
}

// TestGateRolloutFailedCommand: a failing set-noout holds the rollout and
// says why; nothing restarts without it.
func TestGateRolloutFailedCommand(t *testing.T) {
	w := newGateWorld(t)
	a := domain("node-a", 2, false, 0, 1)
	w.pass(a, false)
	w.finish(OSDStepSetNoOut, OSDOutcomeFailed, "[errno 13] RADOS permission denied")
	w.pass(a, false)
	w.waits("ceph osd set noout failed: [errno 13] RADOS permission denied")
	if !reflect.DeepEqual(w.last.CreateJobs, []OSDJobSpec(nil)) {
		t.Fatalf("creates %+v during the backoff", w.last.CreateJobs)
	}
}

// TestGateRolloutReleasesNoOut: OSDs that stay down after their domain
// was restarted do not keep noout for ever: after noOutHoldLimit it is
// unset so that Ceph recovers their data, and set again before the next
// domain.
func TestGateRolloutReleasesNoOut(t *testing.T) {
	w := newGateWorld(t)
	a := domain("node-a", 4, false, 0, 1)
	w.pass(a, false)
	w.finish(OSDStepSetNoOut, OSDOutcomeDone, "")
	w.pass(a, false)
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(a, false)
	w.updates(0, 1)
	held := Rollout{Update: map[int32]bool{}, Outdated: 2, Waiting: "waiting for the OSDs of node-a to be ready"}
	unready := func() Gate {
		g := GateRollout(GateInput{Cluster: w.cluster, Rollout: held, Unready: true, Jobs: w.jobs, Now: w.now})
		w.cluster.Status.OSDRollout = g.Record
		for _, s := range g.CreateJobs {
			w.jobs = append(w.jobs, OSDJob{Name: OSDJobName("ceph", s.OSDID, s.Step), OSDID: -1, Step: s.Step, State: JobRunning})
			w.steps = append(w.steps, string(s.Step))
		}
		w.jobs = slices.DeleteFunc(w.jobs, func(j OSDJob) bool { return slices.Contains(g.DeleteJobs, j.Name) })
		return g
	}
	w.now = w.now.Add(noOutHoldLimit - time.Minute)
	if g := unready(); len(g.CreateJobs) != 0 || w.cluster.Status.OSDRollout.NoOut != cephv1alpha1.NoOutSet {
		t.Fatalf("noout released before the limit: creates %+v, record %+v", g.CreateJobs, w.cluster.Status.OSDRollout)
	}
	w.now = w.now.Add(2 * time.Minute)
	g := unready()
	if len(g.CreateJobs) != 1 || g.CreateJobs[0].Step != OSDStepUnsetNoOut || g.Rollout.Waiting != held.Waiting {
		t.Fatalf("past the limit: creates %+v, waiting %q", g.CreateJobs, g.Rollout.Waiting)
	}
	w.finish(OSDStepUnsetNoOut, OSDOutcomeDone, "")
	unready()
	if rec := w.cluster.Status.OSDRollout; rec == nil || rec.NoOut != "" || !strings.Contains(rec.Message, "noout released") {
		t.Fatalf("record %+v after the release", rec)
	}
	unready()
	if len(w.jobs) != 0 {
		t.Fatalf("jobs %+v after the release was read back", w.jobs)
	}
	// node-a is back; the next domain sets noout again first.
	b := domain("node-b", 2, false, 2, 3)
	w.pass(b, false)
	w.waits("ceph osd set noout")
	w.finish(OSDStepSetNoOut, OSDOutcomeDone, "")
	w.pass(b, false)
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(b, false)
	w.updates(2, 3)
	if want := []string{"set-noout", "ok-to-stop 0 1", "unset-noout", "set-noout", "ok-to-stop 2 3"}; !slices.Equal(w.steps, want) {
		t.Fatalf("commands %v, want %v", w.steps, want)
	}
}

// TestGateRolloutRequiresTheNewRelease: after an upgrade's rollout, once
// Ceph says every OSD runs a newer release than the OSD map requires,
// require-osd-release runs; not while OSDs are outdated, noout is held or
// Ceph is busy; a Done Job stays while the reporter's status lags, and
// runs again only if the check stays.
func TestGateRolloutRequiresTheNewRelease(t *testing.T) {
	w := newGateWorld(t)
	upgraded := func(on bool) {
		w.cluster.Status.Ceph = &cephv1alpha1.CephStatus{Health: cephv1alpha1.CephHealthOK}
		if on {
			w.cluster.Status.Ceph.Health = cephv1alpha1.CephHealthWarn
			w.cluster.Status.Ceph.Checks = []cephv1alpha1.CephHealthCheck{{Code: CheckOSDUpgradeFinished, Severity: "HEALTH_WARN",
				Message: "all OSDs are running tentacle or later but require_osd_release < tentacle"}}
		}
	}
	upgraded(true)
	// Still rolling out: the OSDs of node-b run the old release.
	w.pass(domain("node-b", 1, false, 2), false)
	w.waits("ceph osd set noout")
	if slices.Contains(w.steps, string(OSDStepRequireRelease)) {
		t.Fatalf("require-osd-release while OSDs are outdated: %v", w.steps)
	}
	w.finish(OSDStepSetNoOut, OSDOutcomeDone, "")
	w.pass(domain("node-b", 1, false, 2), false)
	w.finish(OSDStepOKToStop, OSDOutcomeDone, "")
	w.pass(domain("node-b", 1, false, 2), false)
	w.updates(2)
	// Every OSD updated, but not yet ready: noout is held, nothing else.
	done := Rollout{Updated: 3}
	w.pass(done, false)
	w.pass(done, true)
	if slices.Contains(w.steps, string(OSDStepRequireRelease)) {
		t.Fatalf("require-osd-release while noout is held: %v", w.steps)
	}
	w.finish(OSDStepUnsetNoOut, OSDOutcomeDone, "")
	w.pass(done, true)
	if w.cluster.Status.OSDRollout != nil {
		t.Fatalf("record %+v after the rollout", w.cluster.Status.OSDRollout)
	}
	// The rollout is over and Ceph quiet: the release is raised.
	w.pass(done, true)
	if want := []string{"set-noout", "ok-to-stop 2", "unset-noout", "require-osd-release"}; !slices.Equal(w.steps, want) {
		t.Fatalf("commands %v, want %v", w.steps, want)
	}
	w.pass(done, true)
	w.finish(OSDStepRequireRelease, OSDOutcomeDone, "require_osd_release raised from reef to tentacle")
	// The reporter has not published Ceph's health since: the Job stands.
	w.now = w.now.Add(30 * time.Second)
	w.pass(done, true)
	if len(w.jobs) != 1 || len(w.last.CreateJobs) != 0 || w.last.RequeueAfter != 90*time.Second {
		t.Fatalf("jobs %+v, creates %+v, requeue %s: want the Done Job kept, a pass when it expires", w.jobs, w.last.CreateJobs, w.last.RequeueAfter)
	}
	// The check is gone: the Job goes and nothing runs again.
	upgraded(false)
	w.pass(done, true)
	w.pass(done, true)
	if len(w.jobs) != 0 || len(w.steps) != 4 {
		t.Fatalf("jobs %+v, commands %v after the check cleared", w.jobs, w.steps)
	}

	// A check that stays (Ceph refused: an up OSD still ran the old
	// release) runs the command again after requireReleaseRetry.
	upgraded(true)
	w.pass(done, true)
	w.finish(OSDStepRequireRelease, OSDOutcomeFailed, "not all up OSDs have CEPH_FEATURE_SERVER_TENTACLE feature")
	w.pass(done, true)
	if len(w.jobs) != 1 {
		t.Fatalf("jobs %+v: want the failed Job kept until it may run again", w.jobs)
	}
	w.now = w.now.Add(requireReleaseRetry)
	w.pass(done, true)
	w.pass(done, true)
	if n := len(slices.DeleteFunc(slices.Clone(w.steps), func(s string) bool { return s != string(OSDStepRequireRelease) })); n != 3 {
		t.Fatalf("commands %v: want require-osd-release run 3 times", w.steps)
	}
	// Ceph busy (recovering): a running Job finishes, none starts.
	w.finish(OSDStepRequireRelease, OSDOutcomeDone, "")
	w.now = w.now.Add(requireReleaseRetry)
	w.pass(done, false)
	w.pass(done, false)
	if len(w.jobs) != 0 || len(w.steps) != 6 {
		t.Fatalf("jobs %+v, commands %v while Ceph is not quiet", w.jobs, w.steps)
	}
	// A new rollout starts: a finished Job of the last one goes.
	w.pass(done, true)
	w.finish(OSDStepRequireRelease, OSDOutcomeDone, "")
	w.pass(domain("node-a", 1, false, 0), false)
	if slices.ContainsFunc(w.jobs, func(j OSDJob) bool { return j.Step == OSDStepRequireRelease }) {
		t.Fatalf("jobs %+v: the finished require-osd-release Job stays into a rollout", w.jobs)
	}
}

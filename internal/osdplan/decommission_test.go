package osdplan

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// decomWorld plays the reconciler and Ceph around Compute for one node:
// it writes each plan back into the inventory, creates and deletes the OSD
// Jobs a plan asks for, finishes them with the outcome the test sets, and
// deletes the Deployments of StopOSDs.
type decomWorld struct {
	t       *testing.T
	storage func(*cephv1alpha1.StorageSpec)
	inv     cephv1alpha1.DiskInventory
	osds    []OSD
	jobs    []OSDJob
	now     time.Time
	last    Plan
}

func newDecomWorld(t *testing.T, disks ...cephv1alpha1.Disk) *decomWorld {
	w := &decomWorld{t: t, inv: inv("node-a", disks...), now: now}
	for _, d := range disks {
		if d.Verdict.State == cephv1alpha1.DiskOSD {
			w.osds = append(w.osds, OSD{ID: *d.Verdict.OSDID, Node: "node-a", DeviceID: d.ID, Ready: true, Settled: true})
		}
	}
	return w
}

// pass computes a plan and applies it as the reconciler would: Jobs
// created, plans written, then Jobs and Deployments deleted.
func (w *decomWorld) pass() Plan {
	w.t.Helper()
	plan := Compute(Input{
		Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{w.inv},
		OSDs: w.osds, OSDJobs: w.jobs, Now: w.now,
	})
	for _, s := range plan.CreateOSDJobs {
		name := OSDJobName("ceph", s.OSDID, s.Step)
		if slices.ContainsFunc(w.jobs, func(j OSDJob) bool { return j.Name == name }) {
			w.t.Fatalf("plan creates OSD Job %s (%d %s), which exists", name, s.OSDID, s.Step)
		}
		w.jobs = append(w.jobs, OSDJob{Name: name, OSDID: s.OSDID, Step: s.Step, State: JobRunning})
	}
	w.inv.Status.Plan = plan.DevicePlans["node-a"]
	w.jobs = slices.DeleteFunc(w.jobs, func(j OSDJob) bool { return slices.Contains(plan.DeleteOSDJobs, j.Name) })
	w.osds = slices.DeleteFunc(w.osds, func(o OSD) bool { return slices.Contains(plan.StopOSDs, o.ID) })
	w.last = plan
	return plan
}

// finish ends the running OSD Job of step on OSD id with outcome.
func (w *decomWorld) finish(id int32, step OSDStep, outcome, msg string) {
	w.t.Helper()
	for i := range w.jobs {
		j := &w.jobs[i]
		if j.OSDID == id && j.Step == step && j.State == JobRunning {
			j.State, j.Outcome, j.Message, j.FinishedAt = JobSucceeded, outcome, msg, w.now
			if outcome != OSDOutcomeDone {
				j.State = JobFailed
			}
			return
		}
	}
	w.t.Fatalf("no running OSD Job %s for OSD %d; jobs: %+v", step, id, w.jobs)
}

// entry returns the plan entry of disk name.
func (w *decomWorld) entry(name string) cephv1alpha1.DevicePlan {
	w.t.Helper()
	for _, p := range w.inv.Status.Plan {
		if p.Name == name {
			return p
		}
	}
	w.t.Fatalf("no plan entry %s in %+v", name, w.inv.Status.Plan)
	return cephv1alpha1.DevicePlan{}
}

// expect checks disk name's action and decommission phase.
func (w *decomWorld) expect(name string, action cephv1alpha1.DeviceAction, phase cephv1alpha1.DecommissionPhase, msg string) cephv1alpha1.DevicePlan {
	w.t.Helper()
	e := w.entry(name)
	if e.Action != action {
		w.t.Fatalf("%s: action %s, want %s (%s)", name, e.Action, action, e.Message)
	}
	switch {
	case phase == "" && e.Decommission != nil:
		w.t.Fatalf("%s: decommission %+v, want none", name, e.Decommission)
	case phase != "" && (e.Decommission == nil || e.Decommission.Phase != phase):
		w.t.Fatalf("%s: decommission %+v, want phase %s (%s)", name, e.Decommission, phase, e.Message)
	}
	if !strings.Contains(e.Message, msg) {
		w.t.Fatalf("%s: message %q does not contain %q", name, e.Message, msg)
	}
	return e
}

// runSteps plays n passes in which Ceph does every step asked at once.
func (w *decomWorld) runSteps(n int) {
	w.t.Helper()
	for range n {
		w.pass()
		for _, j := range w.jobs {
			if j.State == JobRunning {
				w.finish(j.OSDID, j.Step, OSDOutcomeDone, "")
			}
		}
	}
}

func (w *decomWorld) creates(want ...OSDJobSpec) {
	w.t.Helper()
	if !reflect.DeepEqual(w.last.CreateOSDJobs, want) && (len(w.last.CreateOSDJobs) != 0 || len(want) != 0) {
		w.t.Fatalf("CreateOSDJobs %+v, want %+v", w.last.CreateOSDJobs, want)
	}
}

func (w *decomWorld) runsOSD(id int32) bool {
	return slices.ContainsFunc(w.last.OSDs, func(o OSDSpec) bool { return o.ID == id })
}

func stepNames(p *cephv1alpha1.DecommissionProgress) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Name)
	}
	return out
}

func decommissionDisk(dev string, id *int32, replace bool) func(*cephv1alpha1.StorageSpec) {
	return func(s *cephv1alpha1.StorageSpec) {
		s.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "node-a", Device: dev, OSDID: id, Replace: replace}}
	}
}

func TestDecommissionSteps(t *testing.T) {
	w := newDecomWorld(t, osdDisk("sdb", 0), osdDisk("sdc", 1))
	w.pass()
	w.expect("sdb", provisioned, "", "holds OSD 0")
	if len(w.last.CreateOSDJobs) != 0 {
		t.Fatalf("no request, yet OSD Jobs %+v", w.last.CreateOSDJobs)
	}

	w.storage = decommissionDisk(wwnID("sdb"), nil, false)
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionMarkingOut, "ceph osd out")
	w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepOut})
	if !w.runsOSD(0) || !w.runsOSD(1) {
		t.Fatalf("both OSDs keep running while OSD 0 is marked out: %+v", w.last.OSDs)
	}
	if w.last.Counts.Decommissioning != 1 {
		t.Fatalf("counts %+v, want 1 decommissioning", w.last.Counts)
	}
	// Nothing new while the Job runs.
	w.pass()
	w.creates()

	w.now = w.now.Add(time.Minute)
	w.finish(0, OSDStepOut, OSDOutcomeDone, "")
	w.pass()
	e := w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionWaiting, "safe to destroy")
	if got := stepNames(e.Decommission); !slices.Equal(got, []string{cephv1alpha1.StepMarkedOut}) {
		t.Fatalf("steps %v", got)
	}
	if !e.Decommission.Steps[0].Time.Time.Equal(w.now) {
		t.Fatalf("MarkedOut at %v, want the Job's end %v", e.Decommission.Steps[0].Time, w.now)
	}
	w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepSafe})

	// Not yet: the answer is shown, and the next question waits.
	w.now = w.now.Add(time.Minute)
	w.finish(0, OSDStepSafe, OSDOutcomeNotYet, "OSD(s) 0 have 12 pgs currently mapped to them")
	w.pass()
	e = w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionWaiting, "12 pgs currently mapped")
	if e.Decommission.Attempts != 1 || w.last.RequeueAfter <= 0 {
		t.Fatalf("attempts %d, requeue %v: want one attempt and a requeue", e.Decommission.Attempts, w.last.RequeueAfter)
	}
	w.creates()
	if !w.runsOSD(0) {
		t.Fatal("OSD 0 stopped before Ceph said it is safe to destroy")
	}
	w.pass()
	w.creates()
	if got := w.entry("sdb").Decommission.Attempts; got != 1 {
		t.Fatalf("attempts grew to %d without a new answer", got)
	}
	w.now = w.now.Add(osdStepBaseBackoff)
	w.pass()
	w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepSafe})

	w.now = w.now.Add(time.Minute)
	w.finish(0, OSDStepSafe, OSDOutcomeDone, "")
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionStopping, "removing its Deployment")
	if !slices.Equal(w.last.StopOSDs, []int32{0}) || w.runsOSD(0) || !w.runsOSD(1) {
		t.Fatalf("StopOSDs %v, OSDs %+v: want OSD 0 stopped, OSD 1 running", w.last.StopOSDs, w.last.OSDs)
	}

	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionPurging, "ceph osd purge")
	w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepPurge})

	w.now = w.now.Add(time.Minute)
	w.finish(0, OSDStepPurge, OSDOutcomeDone, "")
	w.pass()
	e = w.expect("sdb", cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "purged")
	want := []string{cephv1alpha1.StepMarkedOut, cephv1alpha1.StepSafeToDestroy, cephv1alpha1.StepStopped, cephv1alpha1.StepPurged}
	if got := stepNames(e.Decommission); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	// The purge Job goes once a pass reads its record back.
	if len(w.last.DeleteOSDJobs) != 0 {
		t.Fatalf("the purge Job deleted in the pass that records it: %v", w.last.DeleteOSDJobs)
	}
	w.pass()
	if len(w.jobs) != 0 || w.runsOSD(0) {
		t.Fatalf("jobs %+v left, OSDs %+v", w.jobs, w.last.OSDs)
	}

	// Removing the request after the point of no return changes nothing.
	w.storage = nil
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "after the point of no return")
	if w.runsOSD(0) || len(w.last.CreateOSDJobs) != 0 {
		t.Fatalf("a purged OSD runs again: %+v, jobs %+v", w.last.OSDs, w.last.CreateOSDJobs)
	}
}

func TestDecommissionReversed(t *testing.T) {
	for _, stage := range []string{"while out runs", "after out", "after stop"} {
		t.Run(stage, func(t *testing.T) {
			w := newDecomWorld(t, osdDisk("sdb", 0))
			w.storage = decommissionDisk("", ptr(int32(0)), false)
			w.pass()
			if stage != "while out runs" {
				w.finish(0, OSDStepOut, OSDOutcomeDone, "")
				w.pass()
			}
			if stage == "after stop" {
				w.finish(0, OSDStepSafe, OSDOutcomeDone, "")
				w.pass()
				w.pass()
				w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionPurging, "purge")
				// The purge Job would be the point of no return: take
				// it back before it exists.
				w.jobs = nil
				w.inv.Status.Plan[0].Decommission.Phase = cephv1alpha1.DecommissionStopping
			}
			w.storage = nil
			w.pass()
			if stage == "while out runs" {
				w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionReverting, "waiting for the running")
				w.creates()
				w.finish(0, OSDStepOut, OSDOutcomeDone, "")
				w.pass()
			}
			w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionReverting, "ceph osd in")
			w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepIn})
			if !w.runsOSD(0) {
				t.Fatal("a reversed decommission does not run the OSD")
			}
			w.finish(0, OSDStepIn, OSDOutcomeDone, "")
			w.pass()
			w.expect("sdb", provisioned, "", "holds OSD 0")
			if !slices.Equal(w.last.Reverted, []int32{0}) || !w.runsOSD(0) {
				t.Fatalf("reverted %v, OSDs %+v", w.last.Reverted, w.last.OSDs)
			}
			// A safe-to-destroy question still running is left to end,
			// then removed; its answer changes nothing.
			for _, j := range w.jobs {
				if j.State == JobRunning {
					w.finish(j.OSDID, j.Step, OSDOutcomeDone, "")
				}
			}
			w.pass()
			w.expect("sdb", provisioned, "", "holds OSD 0")
			if len(w.jobs) != 0 || !w.runsOSD(0) || len(w.last.StopOSDs) != 0 {
				t.Fatalf("after the reversal: jobs %+v, OSDs %+v, stop %v", w.jobs, w.last.OSDs, w.last.StopOSDs)
			}
		})
	}
}

func TestDecommissionNeverSafeAndFailures(t *testing.T) {
	w := newDecomWorld(t, osdDisk("sdb", 0))
	w.storage = decommissionDisk("sdb", nil, true)
	w.pass()
	// A failed out is retried after a backoff, counted once.
	w.finish(0, OSDStepOut, OSDOutcomeFailed, "ceph osd out: [errno 110] RADOS timed out")
	w.pass()
	e := w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionMarkingOut, "RADOS timed out")
	if e.Decommission.Attempts != 1 {
		t.Fatalf("attempts %d", e.Decommission.Attempts)
	}
	// The failed Job goes once its attempt is read back; the next one
	// comes after the backoff, in the pass after that.
	w.now = w.now.Add(osdStepBaseBackoff)
	w.pass()
	w.creates()
	if len(w.last.DeleteOSDJobs) != 1 {
		t.Fatalf("the failed out Job whose attempt is recorded: DeleteOSDJobs %v", w.last.DeleteOSDJobs)
	}
	w.pass()
	w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepOut})
	w.finish(0, OSDStepOut, OSDOutcomeDone, "")
	w.pass()
	if got := w.entry("sdb").Decommission.Attempts; got != 0 {
		t.Fatalf("attempts %d after the step succeeded", got)
	}
	w.finish(0, OSDStepSafe, OSDOutcomeNever, "pool rbd keeps 3 copies and only 2 other OSDs are up and in")
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionNeverSafe, "cannot become safe to destroy")
	if !w.runsOSD(0) {
		t.Fatal("an OSD that can never be safe to destroy was stopped")
	}
	// While it waits to ask again, it still says so.
	w.now = w.now.Add(time.Second)
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionNeverSafe, "cannot become safe to destroy")
	// It is asked again: adding OSDs makes it possible.
	w.now = w.now.Add(osdStepMaxBackoff)
	w.pass()
	w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepSafe})
	w.finish(0, OSDStepSafe, OSDOutcomeDone, "")
	w.pass()
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionDestroying, "ceph osd destroy")
	w.creates(OSDJobSpec{OSDID: 0, Step: OSDStepDestroy})
	// Once destroy may have run, removing the request does not reverse it.
	w.storage = nil
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioning, cephv1alpha1.DecommissionDestroying, "destroy")
	w.creates()
	if w.runsOSD(0) {
		t.Fatal("an OSD being destroyed runs again")
	}
	w.finish(0, OSDStepDestroy, OSDOutcomeDone, "")
	w.pass()
	e = w.expect("sdb", cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "kept for a replacement")
	if !slices.Contains(stepNames(e.Decommission), cephv1alpha1.StepDestroyed) {
		t.Fatalf("steps %v", stepNames(e.Decommission))
	}
}

func TestDecommissionRequestsThatNameNothing(t *testing.T) {
	id := int32(1)
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.Decommission = []cephv1alpha1.DecommissionRequest{
				{Node: "node-a", Device: "sdb", OSDID: &id},
				{Node: "node-a", Device: "sdd"},
				{Node: "node-b", OSDID: ptr(int32(0))},
			}
		}),
		Nodes:       defaultNodes(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", osdDisk("sdb", 0), osdDisk("sdc", 1), avail("sdd"))},
		OSDs:        []OSD{{ID: 0, Node: "node-a", DeviceID: wwnID("sdb")}, {ID: 1, Node: "node-a", DeviceID: wwnID("sdc")}},
		Now:         now,
	}
	plan := Compute(in)
	if len(plan.CreateOSDJobs) != 0 || len(plan.StopOSDs) != 0 {
		t.Fatalf("invalid requests acted: %+v %+v", plan.CreateOSDJobs, plan.StopOSDs)
	}
	for _, name := range []string{"sdb", "sdc"} {
		var got *cephv1alpha1.DevicePlan
		for i := range plan.DevicePlans["node-a"] {
			if plan.DevicePlans["node-a"][i].Name == name {
				got = &plan.DevicePlans["node-a"][i]
			}
		}
		if got == nil || got.Decommission == nil || got.Decommission.Phase != cephv1alpha1.DecommissionInvalid {
			t.Fatalf("%s: plan %+v, want an Invalid decommission", name, got)
		}
	}
	if len(plan.OSDs) != 2 {
		t.Fatalf("OSDs %+v: an invalid request stops nothing", plan.OSDs)
	}
	joined := strings.Join(plan.Problems, "\n")
	for _, want := range []string{"sdd on node node-a) names no disk holding an OSD", "OSD 0 on node node-b) names no disk", "both name the same OSD"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems %q lack %q", joined, want)
		}
	}
}

func TestMissingDisk(t *testing.T) {
	in := Input{
		Cluster:     cluster(nil),
		Nodes:       defaultNodes(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", osdDisk("sdb", 0), avail("sdc"))},
		OSDs:        []OSD{{ID: 0, Node: "node-a", DeviceID: wwnID("sdb")}, {ID: 7, Node: "node-a", DeviceID: wwnID("sdz")}},
		Now:         now,
	}
	plan := Compute(in)
	find := func(p Plan) *cephv1alpha1.DevicePlan {
		for i := range p.DevicePlans["node-a"] {
			if p.DevicePlans["node-a"][i].ID == wwnID("sdz") {
				return &p.DevicePlans["node-a"][i]
			}
		}
		return nil
	}
	got := find(plan)
	if got == nil || got.Action != cephv1alpha1.ActionMissing || got.Reason != ReasonDiskMissing || got.OSDID == nil || *got.OSDID != 7 ||
		got.Since == nil || !got.Since.Time.Equal(now) || got.Name != wwnID("sdz") {
		t.Fatalf("missing disk planned as %+v", got)
	}
	if plan.Counts.Missing != 1 {
		t.Fatalf("counts %+v", plan.Counts)
	}
	// Since is kept from the previous plan; the Deployment is never removed.
	in.Inventories[0].Status.Plan = plan.DevicePlans["node-a"]
	in.Now = now.Add(time.Hour)
	plan = Compute(in)
	if got := find(plan); got == nil || !got.Since.Time.Equal(now) {
		t.Fatalf("since not kept: %+v", got)
	}
	if len(plan.StopOSDs) != 0 {
		t.Fatalf("a missing disk's OSD is stopped: %v", plan.StopOSDs)
	}
	// Decommissioning it works without its disk.
	in.Cluster = cluster(decommissionDisk("", ptr(int32(7)), false))
	plan = Compute(in)
	if !reflect.DeepEqual(plan.CreateOSDJobs, []OSDJobSpec{{OSDID: 7, Step: OSDStepOut}}) {
		t.Fatalf("decommissioning a missing disk's OSD: jobs %+v", plan.CreateOSDJobs)
	}
	if got := find(plan); got == nil || got.Action != cephv1alpha1.ActionDecommissioning {
		t.Fatalf("missing disk under decommission planned as %+v", got)
	}
}

// TestReplaceInSameSlot destroys an OSD for replacement, pulls its disk and
// puts a blank one in the same slot: it is prepared with the same OSD id,
// then runs as that OSD, and the request does not decommission it again.
func TestReplaceInSameSlot(t *testing.T) {
	for _, sameID := range []bool{false, true} {
		t.Run(map[bool]string{false: "new disk id", true: "same device path (loop)"}[sameID], func(t *testing.T) {
			old := osdDisk("sdb", 0)
			if sameID {
				old.ID, old.Links = "/dev/loop3", nil
				old.Path = "/dev/loop3"
			}
			w := newDecomWorld(t, old, osdDisk("sdc", 1))
			w.storage = decommissionDisk("", ptr(int32(0)), true)
			w.runSteps(4)
			w.pass()
			e := w.expect("sdb", cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "kept for a replacement")
			wantSlot := pathLink("sdb")
			if sameID {
				wantSlot = "/dev/loop3"
			}
			if e.Decommission.Slot != wantSlot {
				t.Fatalf("slot %q, want %q", e.Decommission.Slot, wantSlot)
			}

			// The disk is pulled; a blank one appears in its slot.
			fresh := avail("sdx")
			fresh.Links = []string{wwnID("sdx"), pathLink("sdb")}
			if sameID {
				fresh = avail("sdb")
				fresh.ID, fresh.Links, fresh.Path = "/dev/loop3", nil, "/dev/loop3"
			} else {
				w.inv.Status.Disks = slices.DeleteFunc(w.inv.Status.Disks, func(d cephv1alpha1.Disk) bool { return d.Name == "sdb" })
				w.pass()
				w.expect(wwnID("sdb"), cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "disk is gone")
			}
			w.inv.Status.Disks = slices.DeleteFunc(w.inv.Status.Disks, func(d cephv1alpha1.Disk) bool { return d.Name == "sdb" })
			w.inv.Status.Disks = append(w.inv.Status.Disks, fresh)
			plan := w.pass()
			name := fresh.Name
			p := w.expect(name, preparing, cephv1alpha1.DecommissionReplacing, "")
			if len(plan.CreateJobs) != 1 || len(plan.CreateJobs[0].Devices) != 1 || plan.CreateJobs[0].Devices[0].OSDID == nil || *plan.CreateJobs[0].Devices[0].OSDID != 0 {
				t.Fatalf("prepare Jobs %+v, want one reusing OSD id 0", plan.CreateJobs)
			}
			if p.OSDID == nil || *p.OSDID != 0 {
				t.Fatalf("plan %+v does not name the OSD it replaces", p)
			}
			if !sameID && len(w.inv.Status.Plan) != 2 {
				t.Fatalf("plan %+v: want the replacement and sdc, the destroyed disk's entry dropped", w.inv.Status.Plan)
			}
			// Prepared: the new disk holds OSD 0 again.
			for i := range w.inv.Status.Disks {
				if w.inv.Status.Disks[i].Name == name {
					id := int32(0)
					w.inv.Status.Disks[i].Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id, ClusterFSID: testFSID}
				}
			}
			w.pass()
			w.expect(name, provisioned, cephv1alpha1.DecommissionReplaced, "remove its decommission request")
			if !w.runsOSD(0) || len(w.last.CreateOSDJobs) != 0 || len(w.last.StopOSDs) != 0 {
				t.Fatalf("the replacement does not run as OSD 0: OSDs %+v, jobs %+v, stop %v", w.last.OSDs, w.last.CreateOSDJobs, w.last.StopOSDs)
			}
			w.pass()
			w.expect(name, provisioned, cephv1alpha1.DecommissionReplaced, "")
			w.storage = nil
			w.pass()
			w.expect(name, provisioned, "", "holds OSD 0")
			if !w.runsOSD(0) {
				t.Fatal("OSD 0 stopped after its request was removed")
			}
		})
	}
}

// TestDecommissionRequestNotReused: Ceph gives a purged OSD's id to the next
// new OSD; a request left in the spec must not take that one out too.
func TestDecommissionRequestNotReused(t *testing.T) {
	old := osdDisk("sdb", 0)
	old.Verdict.OSDUUID = "uuid-old"
	w := newDecomWorld(t, old)
	w.storage = decommissionDisk("", ptr(int32(0)), false)
	w.runSteps(4)
	w.pass()
	e := w.expect("sdb", cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "purged")
	if e.Decommission.OSDUUID != "uuid-old" {
		t.Fatalf("progress %+v does not record the OSD's uuid", e.Decommission)
	}
	// A new disk gets id 0 again, as `ceph osd new` hands out the lowest
	// free id.
	fresh := osdDisk("sdc", 0)
	fresh.Verdict.OSDUUID = "uuid-new"
	w.inv.Status.Disks = append(w.inv.Status.Disks, fresh)
	w.osds = append(w.osds, OSD{ID: 0, Node: "node-a", DeviceID: fresh.ID, Ready: true, Settled: true})
	w.pass()
	w.expect("sdc", provisioned, "", "request for OSD 0 on node node-a is done: remove it")
	if len(w.last.CreateOSDJobs) != 0 || len(w.last.StopOSDs) != 0 || !w.runsOSD(0) {
		t.Fatalf("the request reached the new OSD 0: jobs %+v, stop %v, OSDs %+v", w.last.CreateOSDJobs, w.last.StopOSDs, w.last.OSDs)
	}
}

// TestDecommissionWipeJobKept: the wipe Job of a decommissioned OSD's disk
// is what its plan asks for; it is not deleted as unwanted before it
// starts (which the real node showed as a create-delete loop).
func TestDecommissionWipeJobKept(t *testing.T) {
	disk := osdDisk("sdb", 0)
	w := newDecomWorld(t, disk)
	w.storage = func(s *cephv1alpha1.StorageSpec) {
		s.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "node-a", Device: "sdb", Wipe: true}}
	}
	w.runSteps(4)
	plan := w.pass()
	w.expect("sdb", cephv1alpha1.ActionWiping, cephv1alpha1.DecommissionWiping, "is wiping it")
	if len(plan.CreateJobs) != 1 || !plan.CreateJobs[0].Wipe || len(plan.CreateJobs[0].Devices) != 1 {
		t.Fatalf("CreateJobs %+v, want one wipe Job", plan.CreateJobs)
	}
	dev := plan.CreateJobs[0].Devices[0]
	if dev.ExpectedOSD == nil || dev.ExpectedOSD.OSDID != 0 || dev.ExpectedOSD.FSID != testFSID || dev.WipeConfirmation != "" {
		t.Fatalf("wipe target %+v: want the expected label of OSD 0 of this cluster and no confirmation", dev)
	}
	job := PrepareJob{Name: JobName("ceph", "node-a"), Node: "node-a", DeviceIDs: []string{wwnID("sdb")}, State: JobRunning, Wipe: true}
	plan = Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{w.inv},
		OSDs: w.osds, Jobs: []PrepareJob{job}, Now: w.now})
	if len(plan.DeleteJobs) != 0 || len(plan.CreateJobs) != 0 {
		t.Fatalf("the decommission's own wipe Job: delete %v, create %+v", plan.DeleteJobs, plan.CreateJobs)
	}
	var got cephv1alpha1.DevicePlan
	for _, p := range plan.DevicePlans["node-a"] {
		if p.Name == "sdb" {
			got = p
		}
	}
	if got.Action != cephv1alpha1.ActionWiping || got.Decommission == nil || got.Decommission.Phase != cephv1alpha1.DecommissionWiping {
		t.Fatalf("while the wipe Job runs: %+v", got)
	}
}

// TestDecommissionStaleInventory: the caches of Jobs and of inventories
// are not in step, so a pass may read the inventory as it was before the
// last plan write while it sees the Jobs as they are now. A finished OSD
// Job is kept until a pass reads its record back, so such a pass finds
// the Job, records the same step again, and runs no command twice.
func TestDecommissionStaleInventory(t *testing.T) {
	w := newDecomWorld(t, osdDisk("sdb", 0), osdDisk("sdc", 1))
	w.storage = decommissionDisk(wwnID("sdb"), nil, false)
	w.pass()
	var commands []OSDStep
	for range 10 {
		var running *OSDJob
		for i := range w.jobs {
			if w.jobs[i].State == JobRunning {
				running = &w.jobs[i]
			}
		}
		if running == nil {
			w.pass()
			continue
		}
		step := running.Step
		commands = append(commands, step)
		before := *w.inv.DeepCopy()
		w.now = w.now.Add(time.Minute)
		w.finish(0, step, OSDOutcomeDone, "")
		w.pass()
		if slices.ContainsFunc(w.jobs, func(j OSDJob) bool { return j.Step == step }) == false {
			t.Fatalf("the %s Job was deleted in the pass that recorded it", step)
		}
		// A pass that reads the inventory from before that write.
		fresh := w.inv
		w.inv = before
		w.pass()
		for _, s := range w.last.CreateOSDJobs {
			if s.Step == step {
				t.Fatalf("a stale pass runs %s again", step)
			}
		}
		if slices.ContainsFunc(w.last.DeleteOSDJobs, func(n string) bool { return n == OSDJobName("ceph", 0, step) }) {
			t.Fatalf("a stale pass deletes the %s Job whose record it cannot see", step)
		}
		if got := w.entry("sdb"); got.Decommission == nil || !hasStep(got.Decommission, map[OSDStep]string{OSDStepOut: cephv1alpha1.StepMarkedOut, OSDStepSafe: cephv1alpha1.StepSafeToDestroy, OSDStepPurge: cephv1alpha1.StepPurged}[step]) {
			t.Fatalf("a stale pass with the finished %s Job lost its record: %+v", step, got.Decommission)
		}
		w.inv = fresh
		w.pass()
		if slices.ContainsFunc(w.jobs, func(j OSDJob) bool { return j.Step == step }) {
			t.Fatalf("the %s Job is kept after its record was read back", step)
		}
		if w.entry("sdb").Action == cephv1alpha1.ActionDecommissioned {
			break
		}
	}
	w.expect("sdb", cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "purged")
	if want := []OSDStep{OSDStepOut, OSDStepSafe, OSDStepPurge}; !slices.Equal(commands, want) {
		t.Fatalf("commands %v, want %v", commands, want)
	}
}

// TestDecommissionWipeJobKeptWhileInventoryStale: a pass that sees the
// decommission's new wipe Job but reads the inventory from before the plan
// that created it (the caches of Jobs and inventories are not in step)
// keeps the Job. Deleting it as "not wanted" raced its pod: the disk was
// wiped, and the next plan made a second wipe Job, which the node refused
// because the disk was no longer that OSD.
func TestDecommissionWipeJobKeptWhileInventoryStale(t *testing.T) {
	w, before, plan := untilDecommissionWipe(t)
	job := PrepareJob{Name: JobName("ceph", "node-a"), Node: "node-a", DeviceIDs: []string{wwnID("sdb")}, State: JobRunning, Wipe: true}
	for _, inv := range []cephv1alpha1.DiskInventory{before, w.inv} {
		plan = Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{inv},
			OSDs: w.osds, OSDJobs: w.jobs, Jobs: []PrepareJob{job}, Now: w.now})
		if len(plan.DeleteJobs) != 0 || len(plan.CreateJobs) != 0 {
			t.Fatalf("inventory with plan %s: the decommission's own wipe Job: delete %v, create %+v", stepNames(invPlan(inv, "sdb").Decommission), plan.DeleteJobs, plan.CreateJobs)
		}
	}
	// Once the request is removed, a wipe Job that has not started is no
	// longer wanted: the purge is done, but the disk is not to be wiped.
	w.storage = nil
	plan = Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{w.inv},
		OSDs: w.osds, OSDJobs: w.jobs, Jobs: []PrepareJob{job}, Now: w.now})
	if !slices.Equal(plan.DeleteJobs, []string{job.Name}) {
		t.Fatalf("request removed: DeleteJobs %v, want the unstarted wipe Job", plan.DeleteJobs)
	}
}

// invPlan is disk name's entry in inv's plan.
func invPlan(inv cephv1alpha1.DiskInventory, name string) cephv1alpha1.DevicePlan {
	for _, p := range inv.Status.Plan {
		if p.Name == name {
			return p
		}
	}
	return cephv1alpha1.DevicePlan{}
}

// TestDecommissionWipeOutrunsItsPlan: plans are written after the pass
// that makes them, so the wipe Job can finish and the agent report the
// disk blank while the inventory still holds the plan from before the wipe
// (phase Purging). That disk is not a new blank disk to prepare: it is the
// decommissioned OSD's, wiped, and stays out while its request is listed.
// The wipe Job is kept until the plan that records it is read back.
func TestDecommissionWipeOutrunsItsPlan(t *testing.T) {
	w, before, _ := untilDecommissionWipe(t)
	// The Job wiped the disk, the agent answered the rescan asked for
	// it; the plan that made the Job is not written yet.
	stale := *before.DeepCopy()
	for i := range stale.Status.Disks {
		if stale.Status.Disks[i].Name == "sdb" {
			stale.Status.Disks[i] = avail("sdb")
		}
	}
	stale.Spec.RescanRequest, stale.Status.ObservedRescanRequest = 7, 7
	job := PrepareJob{Name: JobName("ceph", "node-a"), Node: "node-a", DeviceIDs: []string{wwnID("sdb")}, State: JobSucceeded, Started: true,
		Wipe: true, FinishedAt: w.now, RescanRequest: 7, Results: map[string]PrepareResult{wwnID("sdb"): {Outcome: OutcomeWiped}}}
	w.osds = slices.DeleteFunc(w.osds, func(o OSD) bool { return o.ID == 0 })
	compute := func(inv cephv1alpha1.DiskInventory) Plan {
		return Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{inv},
			OSDs: w.osds, OSDJobs: w.jobs, Jobs: []PrepareJob{job}, Now: w.now})
	}
	plan := compute(stale)
	got := invPlanOf(plan, "sdb")
	if len(plan.CreateJobs) != 0 || got.Action != cephv1alpha1.ActionDecommissioned || got.Decommission == nil ||
		got.Decommission.Phase != cephv1alpha1.DecommissionDone {
		t.Fatalf("wiped disk read with the plan from before its wipe: create %+v, plan %s %s %+v", plan.CreateJobs, got.Action, got.Message, got.Decommission)
	}
	if want := []string{"MarkedOut", "SafeToDestroy", "Stopped", "Purged", "Wiped"}; !slices.Equal(stepNames(got.Decommission), want) {
		t.Errorf("steps %v, want %v", stepNames(got.Decommission), want)
	}
	if slices.Contains(plan.DeleteJobs, job.Name) {
		t.Fatalf("the wipe Job was deleted before a plan recording the wipe was read back")
	}
	// That plan read back: the Job goes, the disk stays out.
	fresh := *stale.DeepCopy()
	fresh.Status.Plan = plan.DevicePlans["node-a"]
	plan = compute(fresh)
	if !slices.Contains(plan.DeleteJobs, job.Name) || len(plan.CreateJobs) != 0 || invPlanOf(plan, "sdb").Action != cephv1alpha1.ActionDecommissioned {
		t.Fatalf("plan read back: delete %v create %+v, sdb %s", plan.DeleteJobs, plan.CreateJobs, invPlanOf(plan, "sdb").Action)
	}
	fresh.Status.Plan = plan.DevicePlans["node-a"]
	plan = Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{fresh},
		OSDs: w.osds, OSDJobs: w.jobs, Now: w.now})
	if len(plan.CreateJobs) != 0 || invPlanOf(plan, "sdb").Action != cephv1alpha1.ActionDecommissioned {
		t.Fatalf("after the Job went: create %+v, sdb %s", plan.CreateJobs, invPlanOf(plan, "sdb").Action)
	}
}

// invPlanOf is disk name's entry in the plan of node-a.
func invPlanOf(p Plan, name string) cephv1alpha1.DevicePlan {
	for _, e := range p.DevicePlans["node-a"] {
		if e.Name == name {
			return e
		}
	}
	return cephv1alpha1.DevicePlan{}
}

// untilDecommissionWipe plays the decommission with wipe of sdb (OSD 0,
// beside sdc) up to the pass that makes its wipe Job: it returns the world
// after that pass, the inventory as it was before it, and its plan.
func untilDecommissionWipe(t *testing.T) (*decomWorld, cephv1alpha1.DiskInventory, Plan) {
	t.Helper()
	w := newDecomWorld(t, osdDisk("sdb", 0), osdDisk("sdc", 1))
	w.storage = func(s *cephv1alpha1.StorageSpec) {
		s.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "node-a", Device: "sdb", Wipe: true}}
	}
	w.runSteps(4)
	before := *w.inv.DeepCopy()
	plan := w.pass()
	if len(plan.CreateJobs) != 1 || !plan.CreateJobs[0].Wipe {
		t.Fatalf("CreateJobs %+v, want one wipe Job", plan.CreateJobs)
	}
	return w, before, plan
}

// TestDecommissionWipedDiskKeptWhileInventoryStale: the plan that records
// a decommission's purge and starts its wipe is written after the pass, by
// the plan writer; the wipe Job may finish, and the agent's rescan show the
// disk blank, before that write lands. A pass that then reads the older
// plan (purge not yet recorded) must neither delete the wipe Job nor
// prepare the disk: Ceph would give the new OSD the purged id, which the
// still-listed request then takes out again (the real node on Ceph 20
// showed purge, wipe, prepare and a new OSD 1 in a loop).
func TestDecommissionWipedDiskKeptWhileInventoryStale(t *testing.T) {
	w := newDecomWorld(t, osdDisk("sdb", 0), osdDisk("sdc", 1))
	w.storage = func(s *cephv1alpha1.StorageSpec) {
		s.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "node-a", OSDID: ptr(int32(0)), Wipe: true}}
	}
	w.runSteps(4)
	stale := *w.inv.DeepCopy()
	plan := w.pass()
	if len(plan.CreateJobs) != 1 || !plan.CreateJobs[0].Wipe {
		t.Fatalf("CreateJobs %+v, want one wipe Job", plan.CreateJobs)
	}
	if p := invPlan(stale, "sdb"); p.Decommission == nil || p.Decommission.Phase == cephv1alpha1.DecommissionWiping {
		t.Fatalf("the stale plan %+v must be from before the wipe", p)
	}
	// The wipe Job succeeded and the agent answered the rescan asked for
	// it: the disk is blank now.
	job := PrepareJob{Name: JobName("ceph", "node-a"), Node: "node-a", DeviceIDs: []string{wwnID("sdb")}, State: JobSucceeded,
		Wipe: true, RescanRequest: 1}
	blank := func(i cephv1alpha1.DiskInventory) cephv1alpha1.DiskInventory {
		i = *i.DeepCopy()
		for k := range i.Status.Disks {
			if i.Status.Disks[k].Name == "sdb" {
				i.Status.Disks[k] = avail("sdb")
			}
		}
		i.Status.ObservedRescanRequest = 1
		return i
	}
	plan = Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{blank(stale)},
		OSDs: w.osds, OSDJobs: w.jobs, Jobs: []PrepareJob{job}, Now: w.now})
	if len(plan.CreateJobs) != 0 || len(plan.DeleteJobs) != 0 {
		t.Fatalf("stale plan %s: create %+v, delete %v; want the wipe Job kept and nothing prepared",
			stepNames(invPlan(stale, "sdb").Decommission), plan.CreateJobs, plan.DeleteJobs)
	}
	// That pass plans the disk as wiped for the decommission; once its
	// plan is read back, the Job goes.
	fromStale := stale.DeepCopy()
	fromStale.Status.Plan = plan.DevicePlans["node-a"]
	if p := invPlan(*fromStale, "sdb"); p.Action != cephv1alpha1.ActionDecommissioned || p.Decommission == nil ||
		p.Decommission.Phase != cephv1alpha1.DecommissionDone || !slices.Equal(stepNames(p.Decommission), []string{"MarkedOut", "SafeToDestroy", "Stopped", "Purged", "Wiped"}) {
		t.Fatalf("the stale pass plans the wiped disk %+v %v", p, stepNames(p.Decommission))
	}
	plan = Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{blank(*fromStale)},
		OSDs: w.osds, OSDJobs: w.jobs, Jobs: []PrepareJob{job}, Now: w.now})
	if len(plan.CreateJobs) != 0 || !slices.Equal(plan.DeleteJobs, []string{job.Name}) {
		t.Fatalf("the stale pass's plan read back: create %+v, delete %v; want the wipe Job deleted and nothing prepared", plan.CreateJobs, plan.DeleteJobs)
	}
	// Once the plan that started the wipe is read back, the Job goes and
	// the blank disk stays out while the request is listed.
	plan = Compute(Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{blank(w.inv)},
		OSDs: w.osds, OSDJobs: w.jobs, Jobs: []PrepareJob{job}, Now: w.now})
	if len(plan.CreateJobs) != 0 || !slices.Equal(plan.DeleteJobs, []string{job.Name}) {
		t.Fatalf("plan read back: create %+v, delete %v; want the wipe Job deleted and nothing prepared", plan.CreateJobs, plan.DeleteJobs)
	}
	var got cephv1alpha1.DevicePlan
	for _, p := range plan.DevicePlans["node-a"] {
		if p.Name == "sdb" {
			got = p
		}
	}
	if got.Action != cephv1alpha1.ActionDecommissioned || got.Decommission == nil || got.Decommission.Phase != cephv1alpha1.DecommissionDone {
		t.Fatalf("the wiped disk with its request listed: %+v", got)
	}
}

package osdplan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// OSDStep is one Ceph command an OSD Job runs on one OSD.
type OSDStep string

// The steps of a decommission, and of its reversal.
const (
	// OSDStepOut marks the OSD out: Ceph starts copying its data away.
	OSDStepOut OSDStep = "out"
	// OSDStepSafe asks Ceph whether the OSD can be destroyed without
	// reducing the durability of any data (ceph osd safe-to-destroy).
	OSDStepSafe OSDStep = "safe-to-destroy"
	// OSDStepPurge removes the OSD from Ceph (ceph osd purge).
	OSDStepPurge OSDStep = "purge"
	// OSDStepDestroy destroys the OSD's key and data, keeping its id for a
	// replacement disk (ceph osd destroy).
	OSDStepDestroy OSDStep = "destroy"
	// OSDStepIn marks the OSD in again (a reversed decommission).
	OSDStepIn OSDStep = "in"
)

// Outcomes of an OSD Job, as agent osd reports them.
const (
	// OSDOutcomeDone: the command did what it says (for safe-to-destroy:
	// Ceph says it is safe).
	OSDOutcomeDone = "Done"
	// OSDOutcomeNotYet: safe-to-destroy says not yet (data is still being
	// copied away).
	OSDOutcomeNotYet = "NotYet"
	// OSDOutcomeNever: safe-to-destroy cannot become true as the cluster
	// stands: too few other OSDs hold the pools' copies.
	OSDOutcomeNever = "Never"
	// OSDOutcomeFailed: the command failed (Ceph unreachable, refused).
	OSDOutcomeFailed = "Failed"
)

// ReasonDecommission is the reason of a disk whose OSD is being (or was)
// decommissioned.
const ReasonDecommission = "Decommission"

// ReasonNodeGone is the reason of the disks of an inventory whose Node no
// longer exists: its OSDs are left alone (their Deployments stay, pending),
// and can be decommissioned.
const ReasonNodeGone = "NodeGone"

// ReasonDiskMissing is the reason of an OSD whose disk is no longer in its
// node's inventory.
const ReasonDiskMissing = "DiskMissing"

// ReasonOSDFailing is the reason of a disk whose OSD daemon keeps
// crashing; the plan's action is Failed, with since when.
const ReasonOSDFailing = "OSDFailing"

// Backoff of a decommission step that failed or answered not yet.
const (
	osdStepBaseBackoff = 10 * time.Second
	osdStepMaxBackoff  = 2 * time.Minute
)

// OSDJob is an existing OSD Job, reduced to what the planner needs.
type OSDJob struct {
	// Name is the Job's name.
	Name string
	// OSDID is the OSD the Job works on.
	OSDID int32
	// Step is the command it runs.
	Step OSDStep
	// State is Running, Succeeded or Failed.
	State JobState
	// FinishedAt is when it finished (zero while running).
	FinishedAt time.Time
	// Outcome is Done, NotYet, Never or Failed once finished: the agent's
	// report, or Failed when the Job failed without one.
	Outcome string
	// Message is the agent's account, or the Job's.
	Message string
	// OSDIDs are the OSDs of an ok-to-stop question (a rollout step,
	// whose OSDID is -1).
	OSDIDs []int32
}

// OSDJobSpec is an OSD Job to create.
type OSDJobSpec struct {
	// OSDID is the OSD to work on; -1 for a rollout step.
	OSDID int32
	// Step is the command to run.
	Step OSDStep
	// OSDIDs are the OSDs an ok-to-stop question names.
	OSDIDs []int32
}

// OSDJobName is the name of the Job that runs step on OSD id in the named
// cluster: <cluster>-osdop-<10 hex digits>, at most 59 characters for a
// cluster name admission accepts. It depends on the OSD and the step alone,
// so a step is never run twice at once.
func OSDJobName(cluster string, id int32, step OSDStep) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(int(id)) + "/" + string(step)))
	return fmt.Sprintf("%s-osdop-%s", cluster, hex.EncodeToString(sum[:5]))
}

// indexOSDJobs sorts the OSD Jobs out by OSD id and step.
func (p *planner) indexOSDJobs() {
	p.osdJobs = map[int32]map[OSDStep]*OSDJob{}
	for i := range p.in.OSDJobs {
		j := &p.in.OSDJobs[i]
		m := p.osdJobs[j.OSDID]
		if m == nil {
			m = map[OSDStep]*OSDJob{}
			p.osdJobs[j.OSDID] = m
		}
		m[j.Step] = j
	}
}

// request returns the decommission request for the OSD id on disk d of
// node ns, and why it is invalid ("" when it is valid); nil when none
// names it.
func (p *planner) request(ns *nodeState, d *cephv1alpha1.Disk, id int32) (*cephv1alpha1.DecommissionRequest, string) {
	for i := range p.storage.Decommission {
		r := &p.storage.Decommission[i]
		if r.Node != ns.name {
			continue
		}
		byDevice := r.Device != "" && namesDisk(r.Device, d)
		byID := r.OSDID != nil && *r.OSDID == id
		if !byDevice && !byID {
			continue
		}
		p.usedRequests[i] = true
		switch {
		case r.Device != "" && !byDevice:
			return r, fmt.Sprintf("the request names OSD %d and device %s, but OSD %d is on %s (%s): nothing is done until both name the same OSD", id, r.Device, id, d.Name, diskID(d))
		case r.OSDID != nil && !byID:
			return r, fmt.Sprintf("the request names device %s and OSD %d, but that disk holds OSD %d: nothing is done until both name the same OSD", r.Device, *r.OSDID, id)
		case r.Replace && d.Type == partType:
			// A replacement disk would have to be split like the one it
			// replaces, and its other partitions' OSDs are not replaced.
			return r, fmt.Sprintf("OSD %d is on partition %s of a split disk, and replace is not supported for it: decommission it without replace (with wipe: true its partition is freed, and a new OSD is made on it once the request is removed)", id, d.Name)
		}
		return r, ""
	}
	return nil, ""
}

// hasStep reports whether progress records step.
func hasStep(prog *cephv1alpha1.DecommissionProgress, step string) bool {
	for _, s := range prog.Steps {
		if s.Name == step {
			return true
		}
	}
	return false
}

// addStep records step as done at t.
func addStep(prog *cephv1alpha1.DecommissionProgress, step string, t time.Time) {
	if hasStep(prog, step) {
		return
	}
	prog.Steps = append(prog.Steps, cephv1alpha1.DecommissionStep{Name: step, Time: metav1.NewTime(t.UTC().Truncate(time.Second))})
	prog.Attempts, prog.LastAttemptTime = 0, nil
}

// pastNoReturn reports whether the OSD was, or may have been, purged or
// destroyed: from then on the decommission cannot be reversed.
func (p *planner) pastNoReturn(id int32, prog *cephv1alpha1.DecommissionProgress) bool {
	if prog != nil && (hasStep(prog, cephv1alpha1.StepPurged) || hasStep(prog, cephv1alpha1.StepDestroyed)) {
		return true
	}
	jobs := p.osdJobs[id]
	return jobs[OSDStepPurge] != nil || jobs[OSDStepDestroy] != nil
}

// decommission plans the decommission of OSD id on entry e, if one is
// asked for or under way, and returns whether its Deployment should run.
// A disk with neither a request nor a progress record is left as it is.
//
// The steps, each recorded in the disk's plan with its time before the Job
// that did it is deleted (the Job is deleted by a later pass that reads the
// record back), so that neither a crash nor a stale cache repeats a
// command:
//
//  1. out: an OSD Job runs `ceph osd out`.
//  2. safe-to-destroy: an OSD Job asks Ceph, again after a backoff while
//     it says not yet (or never, as the cluster stands).
//  3. stopped: the OSD's Deployment is deleted; the step is recorded once
//     no Deployment of it exists.
//  4. purged (or destroyed, with replace): an OSD Job runs it. Once that
//     Job exists the decommission cannot be reversed.
//
// A request removed before step 4 reverses it: the Deployment is created
// again and, when the OSD was marked out, an OSD Job marks it in; then
// the progress record is dropped.
func (p *planner) decommission(ns *nodeState, e *entry, id int32) bool {
	req, invalid := p.request(ns, e.disk, id)
	var prog *cephv1alpha1.DecommissionProgress
	if prev := ns.prev[e.device.ID]; prev != nil && prev.Decommission != nil {
		prog = prev.Decommission.DeepCopy()
	}
	p.dropRecordedOSDJobs(id, prog)
	if req == nil && prog == nil {
		p.dropOSDJobs(id)
		return true
	}
	if prog != nil && (prog.Phase == cephv1alpha1.DecommissionReplacing || prog.Phase == cephv1alpha1.DecommissionReplaced) {
		return p.replaced(e, id, req, prog)
	}
	if invalid != "" && (prog == nil || !p.pastNoReturn(id, prog)) {
		p.dropOSDJobs(id)
		e.plan.Action, e.plan.Reason = cephv1alpha1.ActionDecommissioning, ReasonDecommission
		e.plan.Decommission = &cephv1alpha1.DecommissionProgress{Phase: cephv1alpha1.DecommissionInvalid, Message: invalid}
		e.plan.Message = fmt.Sprintf("holds OSD %d; its decommission request is invalid: %s", id, invalid)
		p.problems = append(p.problems, fmt.Sprintf("decommission of OSD %d on node %s: %s", id, ns.name, invalid))
		return true
	}
	uuid := e.disk.Verdict.OSDUUID
	if req != nil && p.fulfilled(ns, e.device.ID, id, uuid, prog) {
		// The request was for an earlier OSD of that id (Ceph reuses
		// purged ids): this one is not its to take out.
		p.dropOSDJobs(id)
		e.plan.Message = fmt.Sprintf("holds OSD %d, a new OSD with the id of one already decommissioned (uuid %s); the decommission request for OSD %d on node %s is done: remove it", id, uuid, id, ns.name)
		return true
	}
	if prog == nil || prog.Phase == cephv1alpha1.DecommissionInvalid {
		prog = &cephv1alpha1.DecommissionProgress{Phase: cephv1alpha1.DecommissionMarkingOut, Replace: req.Replace, OSDUUID: uuid}
	}
	e.plan.Decommission = prog
	e.plan.Reason = ReasonDecommission
	if req == nil && !p.pastNoReturn(id, prog) {
		return p.revert(e, id, prog)
	}
	if req != nil && !p.pastNoReturn(id, prog) {
		prog.Replace = req.Replace
	}
	if prog.Replace && prog.Slot == "" {
		prog.Slot = slotOf(e.disk)
	}
	e.plan.Action = cephv1alpha1.ActionDecommissioning
	if !hasStep(prog, cephv1alpha1.StepMarkedOut) {
		prog.Phase = cephv1alpha1.DecommissionMarkingOut
		if !p.runStep(e, id, prog, OSDStepOut, cephv1alpha1.StepMarkedOut, "marking OSD %d out (ceph osd out)") {
			return true
		}
	}
	if !hasStep(prog, cephv1alpha1.StepSafeToDestroy) {
		// NeverSafe stays until Ceph answers otherwise.
		if prog.Phase != cephv1alpha1.DecommissionNeverSafe {
			prog.Phase = cephv1alpha1.DecommissionWaiting
		}
		if !p.runStep(e, id, prog, OSDStepSafe, cephv1alpha1.StepSafeToDestroy, "OSD %d is out; asking Ceph whether it is safe to destroy (ceph osd safe-to-destroy)") {
			return true
		}
	}
	if !hasStep(prog, cephv1alpha1.StepStopped) {
		prog.Phase = cephv1alpha1.DecommissionStopping
		if p.osdRunning[id] {
			if !p.osdDeleting[id] {
				p.plan.StopOSDs = append(p.plan.StopOSDs, id)
			}
			prog.Message = fmt.Sprintf("Ceph says OSD %d is safe to destroy; removing its Deployment", id)
			e.plan.Message = prog.Message
			return false
		}
		addStep(prog, cephv1alpha1.StepStopped, p.now())
	}
	step, record, phase := OSDStepPurge, cephv1alpha1.StepPurged, cephv1alpha1.DecommissionPurging
	if prog.Replace {
		step, record, phase = OSDStepDestroy, cephv1alpha1.StepDestroyed, cephv1alpha1.DecommissionDestroying
	}
	if !hasStep(prog, cephv1alpha1.StepPurged) && !hasStep(prog, cephv1alpha1.StepDestroyed) {
		prog.Phase = phase
		what := "purging OSD %d from Ceph (ceph osd purge)"
		if prog.Replace {
			what = "destroying OSD %d, keeping its id for a replacement disk (ceph osd destroy)"
		}
		if !p.runStep(e, id, prog, step, record, what) {
			return false
		}
	}
	if req != nil && req.Wipe && !prog.Replace && !hasStep(prog, cephv1alpha1.StepWiped) {
		p.wipeDecommissioned(ns, e, id, prog)
		return false
	}
	prog.Phase, prog.Attempts, prog.LastAttemptTime = cephv1alpha1.DecommissionDone, 0, nil
	e.plan.Action = cephv1alpha1.ActionDecommissioned
	if prog.Replace {
		prog.Message = fmt.Sprintf("OSD %d is destroyed and its id kept for a replacement disk; the disk still carries its label and is left alone", id)
	} else {
		prog.Message = fmt.Sprintf("OSD %d is purged from Ceph; the disk still carries its label and is left alone: pull it, or wipe it to use it again", id)
	}
	if req == nil {
		prog.Message += " (its decommission request was removed after the point of no return)"
	}
	e.plan.Message = prog.Message
	return false
}

// revert plans a decommission whose request was removed before the point
// of no return: the OSD runs again and, if it was marked out (or may have
// been), is marked in; then the record is dropped.
func (p *planner) revert(e *entry, id int32, prog *cephv1alpha1.DecommissionProgress) bool {
	jobs := p.osdJobs[id]
	if j := jobs[OSDStepSafe]; j != nil && j.State != JobRunning {
		p.plan.DeleteOSDJobs = append(p.plan.DeleteOSDJobs, j.Name)
	}
	e.plan.Action = cephv1alpha1.ActionDecommissioning
	prog.Phase = cephv1alpha1.DecommissionReverting
	if out := jobs[OSDStepOut]; out != nil && out.State == JobRunning {
		prog.Message = fmt.Sprintf("the request was removed; waiting for the running `ceph osd out` of OSD %d to finish before marking it in", id)
		e.plan.Message = prog.Message
		return true
	}
	wasOut := hasStep(prog, cephv1alpha1.StepMarkedOut) || jobs[OSDStepOut] != nil
	if wasOut && !hasStep(prog, cephv1alpha1.StepMarkedIn) {
		if !p.runStep(e, id, prog, OSDStepIn, cephv1alpha1.StepMarkedIn, "the request was removed before the point of no return; marking OSD %d in again (ceph osd in)") {
			return true
		}
	}
	if j := jobs[OSDStepOut]; j != nil && j.State != JobRunning {
		p.plan.DeleteOSDJobs = append(p.plan.DeleteOSDJobs, j.Name)
	}
	p.plan.Reverted = append(p.plan.Reverted, id)
	e.plan.Decommission, e.plan.Reason = nil, ""
	e.plan.Action = cephv1alpha1.ActionProvisioned
	return true
}

// runStep drives one step run by an OSD Job and returns true once it is
// recorded as done. A Job that finished with Done records the step at its
// end; any other outcome is recorded as an attempt, and the Job is run
// again after a backoff. what describes the step for the plan's message.
func (p *planner) runStep(e *entry, id int32, prog *cephv1alpha1.DecommissionProgress, step OSDStep, record, what string) bool {
	job := p.osdJobs[id][step]
	desc := fmt.Sprintf(what, id)
	switch {
	case job == nil:
		if at := p.stepRetryAt(prog); !at.IsZero() && p.now().Before(at) {
			p.requeueAt(at)
			e.plan.Message = fmt.Sprintf("%s; next try at %s", prog.Message, formatTime(at))
			return false
		}
		p.plan.CreateOSDJobs = append(p.plan.CreateOSDJobs, OSDJobSpec{OSDID: id, Step: step})
		if prog.Attempts == 0 {
			prog.Message = desc
		}
		e.plan.Message = desc
		return false
	case job.State == JobRunning:
		if prog.Attempts == 0 {
			prog.Message = desc
		}
		e.plan.Message = desc
		return false
	}
	// The finished Job stays until a later pass reads its outcome back
	// from the plan (dropRecordedOSDJobs).
	finished := job.FinishedAt
	if finished.IsZero() {
		finished = p.now()
	}
	if job.Outcome == OSDOutcomeDone {
		addStep(prog, record, finished)
		return true
	}
	at := metav1.NewTime(finished.UTC().Truncate(time.Second))
	// The plan was written with this Job's outcome before: count it once.
	if prog.LastAttemptTime == nil || prog.LastAttemptTime.Before(&at) {
		prog.Attempts++
		prog.LastAttemptTime = &at
	}
	msg := job.Message
	if msg == "" {
		msg = "the Job left no account"
	}
	switch job.Outcome {
	case OSDOutcomeNotYet:
		prog.Phase = cephv1alpha1.DecommissionWaiting
		prog.Message = fmt.Sprintf("OSD %d is out; Ceph says it is not yet safe to destroy: %s", id, msg)
	case OSDOutcomeNever:
		prog.Phase = cephv1alpha1.DecommissionNeverSafe
		prog.Message = fmt.Sprintf("OSD %d cannot become safe to destroy as the cluster stands: %s; add OSDs (or lower the pools' size), or remove the request to keep it", id, msg)
	default:
		prog.Message = fmt.Sprintf("%s failed: %s", desc, msg)
	}
	prog.Message = Truncate(prog.Message, MaxMessageLength)
	at2 := p.stepRetryAt(prog)
	p.requeueAt(at2)
	e.plan.Message = fmt.Sprintf("%s; next try at %s", prog.Message, formatTime(at2))
	return false
}

// stepRetryAt is when the current step may be tried again after a failed
// or not-yet answer: 10s·2^(attempts-1), at most two minutes.
func (p *planner) stepRetryAt(prog *cephv1alpha1.DecommissionProgress) time.Time {
	return retryAt(prog.Attempts, prog.LastAttemptTime)
}

// osdStepRecords is the step of the decommission record that a Done OSD
// Job of each step writes.
var osdStepRecords = map[OSDStep]string{
	OSDStepOut:     cephv1alpha1.StepMarkedOut,
	OSDStepIn:      cephv1alpha1.StepMarkedIn,
	OSDStepSafe:    cephv1alpha1.StepSafeToDestroy,
	OSDStepPurge:   cephv1alpha1.StepPurged,
	OSDStepDestroy: cephv1alpha1.StepDestroyed,
}

// dropRecordedOSDJobs deletes the finished OSD Jobs of id whose outcome
// the plan as read (prev, the record in the inventory) already holds: the
// step, for a Job that succeeded, or the attempt, for one that did not.
// A Job whose outcome is only being recorded in this pass is kept until a
// later pass reads the record back. Deleting it sooner would let a pass
// that reads an older copy of the inventory (the caches of Jobs and of
// inventories are not in step) find neither the record nor the Job, and
// run the command again.
func (p *planner) dropRecordedOSDJobs(id int32, prev *cephv1alpha1.DecommissionProgress) {
	if prev == nil {
		return
	}
	for step, j := range p.osdJobs[id] {
		if j.State == JobRunning {
			continue
		}
		recorded := false
		if j.Outcome == OSDOutcomeDone {
			recorded = hasStep(prev, osdStepRecords[step])
		} else if prev.LastAttemptTime != nil && !j.FinishedAt.IsZero() {
			at := metav1.NewTime(j.FinishedAt.UTC().Truncate(time.Second))
			recorded = !prev.LastAttemptTime.Before(&at)
		}
		if recorded {
			p.plan.DeleteOSDJobs = append(p.plan.DeleteOSDJobs, j.Name)
		}
	}
}

// dropOSDJobs deletes the finished OSD Jobs of id: no decommission needs
// them any more. A running one is left to finish.
func (p *planner) dropOSDJobs(id int32) {
	for _, j := range p.osdJobs[id] {
		if j.State != JobRunning {
			p.plan.DeleteOSDJobs = append(p.plan.DeleteOSDJobs, j.Name)
		}
	}
}

// claimedOSDJobs deletes the finished OSD Jobs of OSDs that no disk
// planned: their disk is gone, so no decommission reads them.
func (p *planner) orphanOSDJobs(planned map[int32]bool) {
	ids := make([]int32, 0, len(p.osdJobs))
	for id := range p.osdJobs {
		if !planned[id] {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		p.dropOSDJobs(id)
	}
}

// unmatchedRequests reports every decommission request that named no OSD
// disk of its node.
func (p *planner) unmatchedRequests() {
	for i := range p.storage.Decommission {
		if p.usedRequests[i] {
			continue
		}
		r := &p.storage.Decommission[i]
		what := r.Device
		if r.OSDID != nil {
			if what != "" {
				what += " / "
			}
			what += fmt.Sprintf("OSD %d", *r.OSDID)
		}
		p.problems = append(p.problems, fmt.Sprintf("spec.storage.decommission[%d] (%s on node %s) names no disk holding an OSD of this cluster; nothing is done for it", i, what, r.Node))
	}
}

// planMissing adds an entry to the plan of node ns for each OSD whose
// Deployment is pinned to it but whose disk is no longer in its inventory:
// Missing, with the OSD id and since when (carried from the previous
// plan). Its Deployment is kept (the disk may come back); it can be
// decommissioned like any other. The entry is named after the disk's
// stable id, which no kernel name can equal, so a new disk that took the
// old kernel name gets its own entry.
//
// A decommission that is done and whose disk is gone stays in the plan
// while its request is listed, so that its outcome stays visible.
func (p *planner) planMissing(ns *nodeState) {
	var osds []OSD
	for _, i := range p.osdsOf[ns.name] {
		if o := p.in.OSDs[i]; !p.planned[o.ID] && p.disks[ns.name][o.DeviceID] == nil {
			osds = append(osds, o)
		}
	}
	sort.Slice(osds, func(i, j int) bool { return osds[i].ID < osds[j].ID })
	for _, o := range osds {
		id := o.ID
		p.markPlanned(id)
		prev := ns.prev[o.DeviceID]
		disk := &cephv1alpha1.Disk{Name: o.DeviceID, ID: o.DeviceID,
			Verdict: cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id}}
		ns.entries = append(ns.entries, entry{disk: disk, device: Device{Name: o.DeviceID, ID: o.DeviceID}})
		e := &ns.entries[len(ns.entries)-1]
		since := metav1.NewTime(p.now().UTC().Truncate(time.Second))
		if prev != nil && prev.Since != nil && prev.Action == cephv1alpha1.ActionMissing {
			since = *prev.Since
		}
		var db, wal *cephv1alpha1.PartitionRef
		if prev != nil {
			db, wal = prev.DB.DeepCopy(), prev.WAL.DeepCopy()
		}
		e.plan = cephv1alpha1.DevicePlan{Name: o.DeviceID, ID: o.DeviceID, Action: cephv1alpha1.ActionMissing,
			Reason: ReasonDiskMissing, OSDID: &id, Since: &since, DB: db, WAL: wal,
			Message: fmt.Sprintf("OSD %d runs from %s, which the agent no longer finds on the node (since %s); its Deployment is kept: put the disk back, or decommission the OSD", id, o.DeviceID, formatTime(since.Time))}
		if !p.decommission(ns, e, id) {
			// Its Deployment is being removed: the request decides.
			continue
		}
		if e.plan.Decommission != nil {
			continue
		}
		e.plan.Action, e.plan.Reason = cephv1alpha1.ActionMissing, ReasonDiskMissing
	}
	for id, prev := range ns.prev {
		if prev.Action != cephv1alpha1.ActionDecommissioned || prev.Decommission == nil || prev.OSDID == nil ||
			p.disks[ns.name][id] != nil || p.planned[*prev.OSDID] {
			continue
		}
		osd := *prev.OSDID
		named := false
		for i := range p.storage.Decommission {
			r := &p.storage.Decommission[i]
			if r.Node == ns.name && ((r.OSDID != nil && *r.OSDID == osd) || (r.Device != "" && (r.Device == id || r.Device == prev.Name))) {
				p.usedRequests[i] = true
				named = true
			}
		}
		if !named {
			continue
		}
		p.markPlanned(osd)
		kept := *prev.DeepCopy()
		kept.Name = id
		kept.Message = Truncate(fmt.Sprintf("OSD %d is decommissioned and its disk is gone; remove the request from spec.storage.decommission", osd), MaxMessageLength)
		ns.entries = append(ns.entries, entry{disk: &cephv1alpha1.Disk{Name: id, ID: id}, device: Device{Name: id, ID: id}, plan: kept})
	}
}

// replaced plans the disk that took over OSD id in the slot of an OSD
// destroyed for replacement: once it holds the OSD, it runs and the
// progress says Replaced while the request is listed (the request is
// fulfilled, and must not start a decommission of the new disk); without
// the request the record is dropped.
func (p *planner) replaced(e *entry, id int32, req *cephv1alpha1.DecommissionRequest, prog *cephv1alpha1.DecommissionProgress) bool {
	p.dropOSDJobs(id)
	e.plan.Action = cephv1alpha1.ActionProvisioned
	if req == nil {
		e.plan.Decommission, e.plan.Reason = nil, ""
		return true
	}
	if prog.Phase != cephv1alpha1.DecommissionReplaced {
		prog.Phase = cephv1alpha1.DecommissionReplaced
		addStep(prog, cephv1alpha1.StepReplaced, p.now())
	}
	prog.Message = fmt.Sprintf("OSD %d runs again from the replacement disk in %s; remove its decommission request", id, prog.Slot)
	e.plan.Decommission, e.plan.Reason = prog, ReasonDecommission
	e.plan.Message = prog.Message
	return true
}

// slotOf is where disk d sits on its node: its /dev/disk/by-path link, or
// its device path when it has none.
func slotOf(d *cephv1alpha1.Disk) string {
	for _, l := range d.Links {
		if strings.HasPrefix(l, "/dev/disk/by-path/") {
			return l
		}
	}
	if d.Path != "" {
		return d.Path
	}
	return "/dev/" + d.Name
}

// reservations returns, for node ns, the slots of OSDs destroyed for
// replacement whose disk is no longer there (gone, or a different disk in
// the same slot): slot -> OSD id.
func (p *planner) reservations(ns *nodeState) map[string]int32 {
	var out map[string]int32
	for id, prev := range ns.prev {
		prog := prev.Decommission
		if prog == nil || !prog.Replace || prog.Phase != cephv1alpha1.DecommissionDone || prog.Slot == "" || prev.OSDID == nil {
			continue
		}
		if d := p.disks[ns.name][id]; d != nil && d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.OSDID != nil && *d.Verdict.OSDID == *prev.OSDID {
			continue // the destroyed OSD's own disk is still there
		}
		if out == nil {
			out = map[string]int32{}
		}
		out[prog.Slot] = *prev.OSDID
		if prev.DB != nil && prog.OSDUUID != "" {
			if p.reservedDB[ns.name] == nil {
				p.reservedDB[ns.name] = map[string]reservedPartition{}
			}
			p.reservedDB[ns.name][prog.Slot] = reservedPartition{ref: *prev.DB, osdUUID: prog.OSDUUID}
		}
	}
	return out
}

// replacement makes Available disk e the replacement of a destroyed OSD
// when it sits in that OSD's slot, or was already being prepared as one.
func (p *planner) replacement(ns *nodeState, e *entry) {
	prev := ns.prev[e.device.ID]
	if prev != nil && prev.Decommission != nil && prev.Decommission.Phase == cephv1alpha1.DecommissionReplacing && prev.OSDID != nil {
		id := *prev.OSDID
		e.plan.Decommission, e.plan.OSDID, e.device.OSDID = prev.Decommission.DeepCopy(), &id, &id
		p.markPlanned(id)
		return
	}
	slot := slotOf(e.disk)
	id, ok := p.reserved[ns.name][slot]
	if !ok || p.planned[id] {
		return
	}
	p.markPlanned(id)
	e.device.OSDID, e.plan.OSDID = &id, &id
	e.plan.Decommission = &cephv1alpha1.DecommissionProgress{Phase: cephv1alpha1.DecommissionReplacing, Replace: true, Slot: slot,
		Message: fmt.Sprintf("a blank disk in %s, the slot of OSD %d destroyed for replacement: it is prepared with that OSD's id", slot, id)}
}

// fulfilled reports whether a decommission request that names OSD id
// (uuid, on disk diskID of node ns) was already carried out for an
// earlier OSD of that id: a Done record, on this disk or another disk of
// the node, for an OSD with another uuid. Ceph gives a purged OSD's id to
// the next new OSD, and a request left in the spec must not take that one
// out too.
func (p *planner) fulfilled(ns *nodeState, diskID string, id int32, uuid string, prog *cephv1alpha1.DecommissionProgress) bool {
	if uuid == "" {
		return false
	}
	if prog != nil && prog.OSDUUID != "" && prog.OSDUUID != uuid &&
		(prog.Phase == cephv1alpha1.DecommissionDone || prog.Phase == cephv1alpha1.DecommissionWiping) {
		return true
	}
	for pid, prev := range ns.prev {
		d := prev.Decommission
		if pid == diskID || d == nil || prev.OSDID == nil || *prev.OSDID != id || d.OSDUUID == "" || d.OSDUUID == uuid {
			continue
		}
		if d.Phase == cephv1alpha1.DecommissionDone || d.Phase == cephv1alpha1.DecommissionWiping {
			return true
		}
	}
	return false
}

// wipeDecommissioned wipes the disk of purged OSD id, as its request asks:
// a wipe Job (the node's one Job at a time) that wipes it only if its
// label still carries this cluster's FSID and that OSD id. A wipe that
// failed or was refused is shown and not tried again until the disk's
// content changes.
func (p *planner) wipeDecommissioned(ns *nodeState, e *entry, id int32, prog *cephv1alpha1.DecommissionProgress) {
	prog.Phase = cephv1alpha1.DecommissionWiping
	e.plan.Decommission = prog
	if f := p.wipes.failed[ns.name][e.device.ID]; f != nil {
		p.recordWipeFailure(ns, e, f)
		prog.Message = e.plan.Message
		return
	}
	if prev := ns.prev[e.device.ID]; prev != nil && (prev.Reason == ReasonWipeFailed || prev.Reason == ReasonWipeRefused) &&
		prev.LastFailureTime != nil && !contentChanged(ns, e.disk, prev) {
		t := *prev.LastFailureTime
		e.plan.Action, e.plan.Reason, e.plan.Message = cephv1alpha1.ActionFailed, prev.Reason, prev.Message
		e.plan.Attempts, e.plan.LastFailureTime, e.record = prev.Attempts, &t, ns.records[e.device.ID]
		prog.Message = prev.Message
		return
	}
	e.plan.Action = cephv1alpha1.ActionDecommissioning
	prog.Message = fmt.Sprintf("OSD %d is purged; its disk is to be wiped", id)
	e.plan.Message = prog.Message
	e.device.DeviceClass = ""
	e.device.ExpectedOSD = &ExpectedOSD{FSID: p.in.Cluster.Status.FSID, OSDID: id}
	p.wipes.candidates[ns.name] = append(p.wipes.candidates[ns.name], e.index)
}

// decommissionedDisk plans an Available disk whose OSD was decommissioned
// (and the disk wiped) while a request still names it: it stays out of
// use, Decommissioned, until the request is removed. It returns false
// when the disk has no such record or no request names it any more.
func (p *planner) decommissionedDisk(ns *nodeState, e *entry) bool {
	prev := ns.prev[e.device.ID]
	if prev == nil || prev.Decommission == nil || prev.OSDID == nil || prev.Decommission.Replace {
		return false
	}
	prog := prev.Decommission.DeepCopy()
	// A plan from before the wipe (the write of the plan that started it
	// has not landed yet) with the wipe Job that wiped it: the wipe is
	// only started once the OSD is purged.
	_, wiped := p.wipes.unrecorded[ns.name][e.device.ID]
	if prog.Phase != cephv1alpha1.DecommissionWiping && prog.Phase != cephv1alpha1.DecommissionDone && !wiped {
		return false
	}
	id := *prev.OSDID
	if req, _ := p.request(ns, e.disk, id); req == nil {
		return false
	}
	if wiped && !hasStep(prog, cephv1alpha1.StepPurged) {
		addStep(prog, cephv1alpha1.StepPurged, p.now())
	}
	if prog.Phase != cephv1alpha1.DecommissionDone && !hasStep(prog, cephv1alpha1.StepWiped) {
		addStep(prog, cephv1alpha1.StepWiped, p.now())
	}
	prog.Phase = cephv1alpha1.DecommissionDone
	prog.Message = fmt.Sprintf("OSD %d was purged and its disk wiped; the disk is left out while its decommission request is listed: remove the request to let the storage selection use it", id)
	e.plan.Action, e.plan.Reason, e.plan.Message = cephv1alpha1.ActionDecommissioned, ReasonDecommission, prog.Message
	e.plan.OSDID, e.plan.Decommission = &id, prog
	return true
}

// purgedLabel reports whether disk d only carries the label of an OSD that
// was purged from Ceph (its decommission is done, for this very OSD): its
// id may already belong to a new OSD on another disk, which is then no
// duplicate.
func purgedLabel(ns *nodeState, d *cephv1alpha1.Disk) bool {
	prev := ns.prev[diskID(d)]
	if prev == nil || prev.Decommission == nil || prev.Decommission.Replace || prev.OSDID == nil || d.Verdict.OSDID == nil {
		return false
	}
	prog := prev.Decommission
	return (prog.Phase == cephv1alpha1.DecommissionDone || prog.Phase == cephv1alpha1.DecommissionWiping) &&
		*prev.OSDID == *d.Verdict.OSDID && (prog.OSDUUID == "" || prog.OSDUUID == d.Verdict.OSDUUID)
}

// markFailing shows an OSD whose daemon keeps crashing on its disk's entry:
// Failed with OSDFailing, the OSD id and since when (carried from the
// previous plan). Its Deployment stays; decommission it (with replace to
// keep its id) to replace the disk.
func (p *planner) markFailing(ns *nodeState, e *entry, id int32) {
	how := p.crashing[id]
	if how == "" || e.plan.Decommission != nil {
		return
	}
	since := metav1.NewTime(p.now().UTC().Truncate(time.Second))
	if prev := ns.prev[e.device.ID]; prev != nil && prev.Reason == ReasonOSDFailing && prev.Since != nil {
		since = *prev.Since
	}
	e.plan.Action, e.plan.Reason, e.plan.Since = cephv1alpha1.ActionFailed, ReasonOSDFailing, &since
	e.plan.Message = fmt.Sprintf("OSD %d keeps failing since %s: %s; check the disk (its health, the kernel log), and decommission the OSD with replace to put a new disk in its place", id, formatTime(since.Time), how)
}

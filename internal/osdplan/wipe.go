package osdplan

import (
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// Reasons of disks named in spec.storage.wipeDevices.
const (
	// ReasonWipeConfirmationMismatch: the request's confirmation is not
	// the one the disk shows now (another disk, or its content changed
	// since it was copied); nothing is wiped.
	ReasonWipeConfirmationMismatch = "WipeConfirmationMismatch"
	// ReasonWipeNotAllowed: the disk may not be wiped on request (it is in
	// use, shared, of this cluster, on a node not selected, …).
	ReasonWipeNotAllowed = "WipeNotAllowed"
	// ReasonWipeFailed: the wipe Job failed, or reported the disk wiped
	// and the agent's rescan did not show it changed.
	ReasonWipeFailed = "WipeFailed"
	// ReasonWipeRefused: agent wipe's re-check on the node refused to
	// write the disk.
	ReasonWipeRefused = "WipeRefused"
)

// OutcomeWiped is what agent wipe reports for a disk it wiped.
const OutcomeWiped = "Wiped"

// wipeState is what spec.storage.wipeDevices and the wipe Jobs mean for
// this plan.
//
// How a wipe goes: a request whose confirmation equals the disk's
// (discovery.WipeConfirmation of what the inventory shows) makes the disk a
// wipe candidate. A node's wipe candidates get one wipe Job, which has the
// name of the node's prepare Job: the API server keeps a node at one Job
// at a time, and a wipe Job counts against maxNodesPreparing like a
// prepare Job. Wipes go before prepares on a node, so that a disk wiped
// can join the next prepare Job. When the Job finished, a disk it wiped
// keeps the Job (and stays Wiping) until the agent answered the one
// rescan asked for the Job; the Job is then deleted. The disk now shows
// new content (Available, and then prepared if selected): the request's
// confirmation no longer matches it, so a request left in the spec can
// never wipe it again. A refusal or failure is recorded on the disk's plan
// with its content hash and not retried until that changes.
type wipeState struct {
	// requests maps a node and a disk id to the request naming it.
	requests map[string]map[string]wipeRequest
	// running maps a node and a disk id to the Running wipe Job on it.
	running map[string]map[string]string
	// kept maps a node and a disk id to a finished Job that wiped it and
	// waits for the rescan.
	kept map[string]map[string]*PrepareJob
	// unrecorded maps a node and a disk id to a finished Job that wiped
	// a decommissioned OSD's disk, whose rescan is in, while the
	// inventory's plan is still from before the wipe (wipeUnrecorded).
	unrecorded map[string]map[string]*PrepareJob
	// failed maps a node and a disk id to the Job that failed or refused
	// it, with what the agent said.
	failed map[string]map[string]*failure
	// candidates lists, per node, the entries to wipe now.
	candidates map[string][]int
}

// wipeRequest is one entry of spec.storage.wipeDevices.
type wipeRequest struct {
	index int
	spec  cephv1alpha1.WipeDeviceSpec
}

// resolveWipes finds the disk each request names, by id or link, in the
// published inventories. A request naming no known node or disk, or a
// disk already named, is a Problem and wipes nothing.
func (p *planner) resolveWipes(nodes []*nodeState) *wipeState {
	w := &wipeState{
		requests:   map[string]map[string]wipeRequest{},
		running:    map[string]map[string]string{},
		kept:       map[string]map[string]*PrepareJob{},
		unrecorded: map[string]map[string]*PrepareJob{},
		failed:     map[string]map[string]*failure{},
		// candidates is filled by planWipe.
		candidates: map[string][]int{},
	}
	byNode := make(map[string]*nodeState, len(nodes))
	for _, ns := range nodes {
		byNode[ns.name] = ns
	}
	for i, r := range p.storage.WipeDevices {
		ns := byNode[r.Node]
		if ns == nil {
			p.problems = append(p.problems, fmt.Sprintf("spec.storage.wipeDevices[%d]: node %s has no published DiskInventory of this cluster; nothing is wiped", i, r.Node))
			continue
		}
		id := ""
		for j := range ns.inv.Status.Disks {
			d := &ns.inv.Status.Disks[j]
			if diskID(d) == r.Device || contains(d.Links, r.Device) {
				id = diskID(d)
				break
			}
		}
		if id == "" {
			p.problems = append(p.problems, fmt.Sprintf("spec.storage.wipeDevices[%d]: node %s has no disk with id or link %s; nothing is wiped", i, r.Node, r.Device))
			continue
		}
		if w.requests[r.Node] == nil {
			w.requests[r.Node] = map[string]wipeRequest{}
		}
		if prev, dup := w.requests[r.Node][id]; dup {
			p.problems = append(p.problems, fmt.Sprintf("spec.storage.wipeDevices[%d] names disk %s of node %s, as entry %d does; only the first counts", i, id, r.Node, prev.index))
			continue
		}
		w.requests[r.Node][id] = wipeRequest{index: i, spec: r}
	}
	return w
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// confirmation is the wipe confirmation of disk d on node, "" when the disk
// may not be wiped: shared with another path or node, or not rejected for
// leftover content.
func (p *planner) confirmation(node string, d *cephv1alpha1.Disk) string {
	if d.Verdict.State != cephv1alpha1.DiskRejected || p.shared[node][diskID(d)] != "" {
		return ""
	}
	return discovery.WipeConfirmation(discovery.WipeIdentity{ID: diskID(d), WWN: d.WWN, Serial: d.Serial,
		ContentHash: d.ContentHash, Reason: discovery.Reason(d.Verdict.Reason), LabelFSID: d.Verdict.ClusterFSID})
}

// indexWipeJob sorts a wipe Job out, as indexJobs does prepare Jobs. A
// Running one that has not started is deleted when no longer wanted (the
// request was removed or changed, provisioning left Enabled). A finished
// one is kept while a disk it wiped waits for the agent's rescan, then
// deleted; its refusals and failures are recorded on the disks' plans by
// the plan that deletes it.
func (p *planner) indexWipeJob(nj *nodeJobs, job *PrepareJob) {
	w, node := p.wipes, job.Node
	switch job.State {
	case JobSucceeded, JobFailed:
		answered := job.RescanRequest != 0 && p.observed(node) >= job.RescanRequest
		keep := false
		for _, id := range job.DeviceIDs {
			r := wipeOutcome(job, id)
			if r.Outcome != OutcomeWiped {
				setIn(w.failed, node, id, &failure{job: job, result: r})
				continue
			}
			if !answered || p.wipeRecordPending(node, id) {
				// A decommission's wipe is kept until the plan that
				// records it is read back: plans are written after
				// the pass that makes them, and a disk reported blank
				// while the inventory still holds the plan from before
				// the wipe would look like a new disk to prepare.
				keep = true
				setIn(w.kept, node, id, job)
				continue
			}
			if p.wipeUnrecorded(node, id) {
				// The disk is planned Decommissioned from this Job
				// (decommissionedDisk); the Job stays, holding the
				// node's Job name, until that plan is read back.
				keep = true
				setIn(w.unrecorded, node, id, job)
				continue
			}
			// The rescan asked for this Job is in: a disk that still
			// shows the content it had is recorded as a failure, so the
			// request cannot wipe it in a loop.
			if d := p.disks[node][id]; d != nil && (d.Verdict.State == cephv1alpha1.DiskOSD || d.Verdict.State == cephv1alpha1.DiskRejected && p.wipes.requested(node, id, p.confirmation(node, d))) {
				setIn(w.failed, node, id, &failure{job: job, result: PrepareResult{Outcome: OutcomeFailed,
					Message: fmt.Sprintf("agent wipe reported it wiped, but the agent's rescan (request %d) still shows it %s: %s", job.RescanRequest, d.Verdict.Reason, d.Verdict.Message)}})
			}
		}
		if !keep {
			p.deleteJob(nj, job.Name)
			return
		}
		if nj.busy == "" {
			nj.busy = job.Name
		}
		if job.RescanRequest == 0 && p.rescan[node] == "" {
			p.rescan[node] = job.Name
		}
		if job.RescanRequest > p.recorded[node] {
			p.recorded[node] = job.RescanRequest
		}
	default:
		if !job.Started && !p.wipeWanted(job) {
			p.deleteJob(nj, job.Name)
			return
		}
		for _, id := range job.DeviceIDs {
			if _, ok := w.running[node][id]; !ok {
				setIn(w.running, node, id, job.Name)
			}
		}
		if nj.busy == "" {
			nj.busy = job.Name
		}
	}
}

// wipeOutcome is what a finished wipe Job did to disk id: the agent's
// report, or what the Job's state implies.
func wipeOutcome(job *PrepareJob, id string) PrepareResult {
	if r, ok := job.Results[id]; ok {
		switch r.Outcome {
		case OutcomeWiped, OutcomeRefused, OutcomeFailed:
			return r
		}
	}
	if job.State == JobSucceeded {
		// agent wipe exits 0 only when it wiped every disk.
		return PrepareResult{Outcome: OutcomeWiped}
	}
	msg := job.FailureMessage
	if msg == "" {
		msg = "the Job failed and agent wipe left no result for this disk"
	}
	return PrepareResult{Outcome: OutcomeFailed, Message: msg}
}

// observed is the rescan request node's agent last answered.
func (p *planner) observed(node string) int64 {
	for i := range p.in.Inventories {
		if inventoryNode(&p.in.Inventories[i]) == node {
			return p.in.Inventories[i].Status.ObservedRescanRequest
		}
	}
	return 0
}

// wipeWanted reports whether a wipe Job that has not started is still
// asked for: provisioning is Enabled, its node selected, and every one of
// its disks still requested with the confirmation it shows.
func (p *planner) wipeWanted(job *PrepareJob) bool {
	if !p.enabled || !p.selected[job.Node] {
		return false
	}
	for _, id := range job.DeviceIDs {
		d := p.disks[job.Node][id]
		if d == nil {
			return false
		}
		if !p.wipes.requested(job.Node, id, p.confirmation(job.Node, d)) && !p.decommissionWipe(job.Node, d) {
			return false
		}
	}
	return true
}

// wipeRecordPending reports whether the plan the inventory of node holds
// for disk id shows a decommission that has not reached its wipe: the plan
// recording the wipe Job that wiped it was not read back yet.
func (p *planner) wipeRecordPending(node, id string) bool {
	for i := range p.in.Inventories {
		inv := &p.in.Inventories[i]
		if inventoryNode(inv) != node {
			continue
		}
		for j := range inv.Status.Plan {
			pl := &inv.Status.Plan[j]
			if pl.ID == id && pl.Decommission != nil && !pl.Decommission.Replace &&
				pl.Decommission.Phase != cephv1alpha1.DecommissionWiping && pl.Decommission.Phase != cephv1alpha1.DecommissionDone {
				return true
			}
		}
	}
	return false
}

// decommissionWipe reports whether disk d of node is the disk of an OSD
// whose decommission request asks for a wipe (wipeDecommissioned makes
// its Job only once the OSD is purged). It reads the request in the spec,
// not the plan: the inventory a pass reads may be older than the plan
// that made the Job, and a Job deleted as unwanted may already be wiping.
func (p *planner) decommissionWipe(node string, d *cephv1alpha1.Disk) bool {
	if d.Verdict.State != cephv1alpha1.DiskOSD || d.Verdict.OSDID == nil {
		return false
	}
	id := *d.Verdict.OSDID
	for i := range p.storage.Decommission {
		r := &p.storage.Decommission[i]
		if r.Node != node || !r.Wipe || r.Replace {
			continue
		}
		byDevice := r.Device != "" && namesDisk(r.Device, d)
		byID := r.OSDID != nil && *r.OSDID == id
		if (byDevice || byID) && (r.Device == "" || byDevice) && (r.OSDID == nil || byID) {
			return true
		}
	}
	return false
}

// requested reports whether a request names disk id of node with
// confirmation conf (not empty).
func (w *wipeState) requested(node, id, conf string) bool {
	r, ok := w.requests[node][id]
	return ok && conf != "" && r.spec.Confirmation == conf
}

// planWipe plans entry i of node ns when a wipe decides it, and returns
// true then: the disk is in a wipe Job, its last wipe failed, or a request
// names it while it is not Available or an OSD. It also shows every
// wipeable disk's confirmation on its plan.
func (p *planner) planWipe(ns *nodeState, i int) bool {
	w := p.wipes
	e := &ns.entries[i]
	d := e.disk
	id := e.device.ID
	conf := p.confirmation(ns.name, d)
	e.plan.WipeConfirmation = conf
	if job, ok := w.running[ns.name][id]; ok {
		e.plan.Action, e.plan.Message = cephv1alpha1.ActionWiping, fmt.Sprintf("wipe Job %s is wiping it", job)
		return true
	}
	if job, ok := w.kept[ns.name][id]; ok {
		if d.Verdict.State == cephv1alpha1.DiskAvailable && p.decommissionedDisk(ns, e) {
			// The decommission's wipe, reported by the agent's rescan.
			return true
		}
		e.plan.Action, e.plan.Message = cephv1alpha1.ActionWiping, fmt.Sprintf("wipe Job %s wiped it; waiting for the agent to rescan the node", job.Name)
		return true
	}
	if d.Verdict.State != cephv1alpha1.DiskRejected {
		// Available or an OSD: nothing to wipe; a request naming it is
		// noted by noteSatisfiedWipes.
		return false
	}
	if f := w.failed[ns.name][id]; f != nil {
		p.recordWipeFailure(ns, e, f)
		return true
	}
	r, ok := w.requests[ns.name][id]
	if !ok {
		return false
	}
	// A wipe that failed or was refused is not tried again while the disk
	// shows the content it had then.
	if prev := ns.prev[id]; prev != nil && (prev.Reason == ReasonWipeFailed || prev.Reason == ReasonWipeRefused) && prev.LastFailureTime != nil && !contentChanged(ns, d, prev) {
		t := *prev.LastFailureTime
		e.plan.Action, e.plan.Reason, e.plan.Message = cephv1alpha1.ActionFailed, prev.Reason, prev.Message
		e.plan.Attempts, e.plan.LastFailureTime, e.record = prev.Attempts, &t, ns.records[id]
		return true
	}
	e.plan.Action = cephv1alpha1.ActionLeftOut
	entry := fmt.Sprintf("spec.storage.wipeDevices[%d]", r.index)
	switch {
	case p.shared[ns.name][id] != "":
		e.plan.Reason, e.plan.Message = ReasonWipeNotAllowed, fmt.Sprintf("%s asks to wipe it, but it is never wiped: %s", entry, p.shared[ns.name][id])
	case ns.skip != nil:
		e.plan.Reason, e.plan.Message = ReasonWipeNotAllowed, fmt.Sprintf("%s asks to wipe it, but its node is not selected: %s", entry, ns.skip.Message)
	case !discovery.Wipeable(discovery.Reason(d.Verdict.Reason)):
		e.plan.Reason, e.plan.Message = ReasonWipeNotAllowed, fmt.Sprintf("%s asks to wipe it, but it is %s (%s), which is never wiped on request; only a disk rejected as ForeignCephCluster, HasFilesystem, HasPartitionTable, HasPartitions or HasUnknownData is",
			entry, d.Verdict.Reason, d.Verdict.Message)
	case conf == "":
		e.plan.Reason, e.plan.Message = ReasonWipeNotAllowed, fmt.Sprintf("%s asks to wipe it, but the agent published no content hash for it (an older agent?), so no confirmation can be checked", entry)
	case r.spec.Confirmation != conf:
		e.plan.Reason = ReasonWipeConfirmationMismatch
		e.plan.Message = fmt.Sprintf("%s gives the confirmation %q, but the disk now shows %q (%s: %s); nothing is wiped. It is another disk, or the disk changed since the confirmation was copied: "+
			"if this is the disk to destroy, copy its wipeConfirmation", entry, r.spec.Confirmation, conf, d.Verdict.Reason, d.Verdict.Message)
	default:
		e.plan.Reason, e.plan.Message = ReasonWaitingForTurn, fmt.Sprintf("to be wiped as %s asks", entry)
		w.candidates[ns.name] = append(w.candidates[ns.name], i)
	}
	return true
}

// recordWipeFailure marks a disk whose wipe a finished Job refused or
// failed; the content hash is recorded so it is not tried again until the
// disk changes. The attempt counts once (see recordFailure).
func (p *planner) recordWipeFailure(ns *nodeState, e *entry, f *failure) {
	finished := f.job.FinishedAt
	if finished.IsZero() {
		finished = p.now()
	}
	at := metav1.NewTime(finished.Truncate(time.Second))
	prev := ns.prev[e.device.ID]
	attempts := int32(1)
	if prev != nil && prev.LastFailureTime != nil && (prev.Reason == ReasonWipeFailed || prev.Reason == ReasonWipeRefused) {
		if !prev.LastFailureTime.Before(&at) {
			attempts, at = prev.Attempts, *prev.LastFailureTime
		} else {
			attempts = prev.Attempts + 1
		}
	}
	e.plan.Action, e.plan.Attempts, e.plan.LastFailureTime = cephv1alpha1.ActionFailed, attempts, &at
	e.record = e.disk.ContentHash
	if rec, ok := ns.records[e.device.ID]; ok && prev != nil && prev.LastFailureTime != nil && prev.LastFailureTime.Equal(&at) {
		e.record = rec
	}
	what := describe(f.result)
	if what == "" {
		what = "no reason given"
	}
	e.plan.Reason = ReasonWipeFailed
	verb := "failed"
	if f.result.Outcome == OutcomeRefused {
		e.plan.Reason, verb = ReasonWipeRefused, "was refused on the node"
	}
	e.plan.Message = FitMessage(fmt.Sprintf("wipe Job %s %s (at %s): %s", f.job.Name, verb, formatTime(at.Time), what),
		"", "; it is not tried again until the disk's content changes, or until its entry is removed from the DiskInventory's annotation "+FailureRecordsAnnotation, MaxMessageLength)
}

// scheduleWipe gives node ns a wipe Job for its wipe candidates when it
// may have a Job now, and returns true then: its disks to prepare wait
// for the wipe. Otherwise the candidates wait, saying why, and the
// node's prepare is scheduled as usual (it waits for the same reasons).
func (p *planner) scheduleWipe(ns *nodeState, preparing *int, limit int) bool {
	cands := p.wipes.candidates[ns.name]
	if len(cands) == 0 {
		return false
	}
	nj := p.jobs[ns.name]
	wait := func(reason, msg string) bool {
		for _, i := range cands {
			e := &ns.entries[i]
			e.plan.Action, e.plan.Reason = cephv1alpha1.ActionLeftOut, reason
			e.plan.Message = fmt.Sprintf("%s; %s", e.plan.Message, msg)
		}
		return false
	}
	switch {
	case !p.enabled:
		return wait(ReasonPreview, "it would be wiped when provisioning is Enabled")
	case nj != nil && nj.busy != "":
		return wait(ReasonWaitingForTurn, fmt.Sprintf("waits for Job %s of this node to be done: a node runs one prepare or wipe Job at a time", nj.busy))
	case nj != nil && nj.deleted != "":
		return wait(ReasonWaitingForTurn, fmt.Sprintf("waits for the finished Job %s of this node to be removed", nj.deleted))
	case *preparing >= limit:
		return wait(ReasonWaitingForTurn, fmt.Sprintf("waits for its turn: %d nodes are preparing or wiping disks, the most spec.storage.maxNodesPreparing allows", *preparing))
	}
	*preparing++
	name := JobName(p.in.Cluster.Name, ns.name)
	job := JobSpec{Node: ns.name, Wipe: true}
	for _, i := range cands {
		e := &ns.entries[i]
		e.plan.Action, e.plan.Reason = cephv1alpha1.ActionWiping, ""
		e.plan.Message = fmt.Sprintf("wipe Job %s is wiping it", name)
		dev := e.device
		dev.DeviceClass = ""
		// The user's own words, not the planner's: agent wipe compares
		// them with the disk as it finds it, a second, independent check.
		// A decommissioned OSD's disk carries its expected label instead.
		if dev.ExpectedOSD == nil {
			dev.WipeConfirmation = p.wipes.requests[ns.name][e.device.ID].spec.Confirmation
		}
		job.Devices = append(job.Devices, dev)
	}
	sort.Slice(job.Devices, func(i, j int) bool { return job.Devices[i].ID < job.Devices[j].ID })
	p.plan.CreateJobs = append(p.plan.CreateJobs, job)
	p.wait(ns, ReasonWaitingForTurn, fmt.Sprintf("waits for wipe Job %s of this node to be done: a node runs one prepare or wipe Job at a time", name))
	return true
}

// noteSatisfiedWipes adds to the plan of every Available disk or OSD that a
// request names that the request has nothing left to do.
func (p *planner) noteSatisfiedWipes(ns *nodeState) {
	for i := range ns.entries {
		e := &ns.entries[i]
		r, ok := p.wipes.requests[ns.name][e.device.ID]
		if !ok || e.plan.Action == cephv1alpha1.ActionWiping {
			continue
		}
		switch e.disk.Verdict.State {
		case cephv1alpha1.DiskAvailable:
			e.plan.Message = joinMessage(e.plan.Message, fmt.Sprintf("spec.storage.wipeDevices[%d] names this disk, which is blank: nothing to wipe, remove the entry", r.index))
		case cephv1alpha1.DiskOSD:
			e.plan.Message = joinMessage(e.plan.Message, fmt.Sprintf("spec.storage.wipeDevices[%d] names this disk, which holds an OSD of this cluster and is never wiped on request: remove the entry", r.index))
		}
	}
}

func joinMessage(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// setIn sets m[node][id] = v.
func setIn[V any](m map[string]map[string]V, node, id string, v V) {
	if m[node] == nil {
		m[node] = map[string]V{}
	}
	m[node][id] = v
}

// wipeUnrecorded reports whether the inventory's plan of disk id on node
// still shows a decommission from before its wipe: the plan that recorded
// the purge and started the wipe Job is written after the pass that made
// it, and the Job and the agent's rescan can be quicker. Until that plan is
// read back, the wipe Job stays (and keeps the node's one Job name): a
// blank disk whose plan does not say it was wiped for a decommission would
// be prepared, and Ceph would give the new OSD the purged id.
func (p *planner) wipeUnrecorded(node, id string) bool {
	prev := p.prev[node][id]
	if prev == nil || prev.Decommission == nil || prev.Decommission.Replace {
		return false
	}
	switch prev.Decommission.Phase {
	case cephv1alpha1.DecommissionWiping, cephv1alpha1.DecommissionDone:
		return false
	}
	return true
}

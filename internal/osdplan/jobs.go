package osdplan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Backoff of failed prepare attempts: the n-th failure waits
// baseBackoff * 2^(n-1), at most maxBackoff, and after maxAttempts failures
// the disk is not retried until its inventory changes.
const (
	baseBackoff = 30 * time.Second
	maxBackoff  = 30 * time.Minute
	maxAttempts = 6
	// defaultMaxNodesPreparing applies when spec.storage.maxNodesPreparing
	// is unset; it matches the schema default.
	defaultMaxNodesPreparing = 10
)

// nodeJobs is what the existing prepare Jobs of one node mean for its disks.
type nodeJobs struct {
	// running maps a device id to the Running Job preparing it.
	running map[string]string
	// succeeded maps a device id to a finished Job that reported the disk
	// prepared and is kept because the inventory still shows it Available.
	succeeded map[string]*PrepareJob
	// failed maps a device id to the latest finished Job that failed or
	// refused it, with what the agent said.
	failed map[string]*failure
	// busy names a Running or kept Job: the node may not get another one.
	busy string
	// deleted names a Job deleted by this plan: the node gets no new Job
	// until it is gone, because deletion is asynchronous and the next Job
	// of the node has the same name.
	deleted string
}

// failure is one disk's failed or refused attempt.
type failure struct {
	job    *PrepareJob
	result PrepareResult
}

// outcome is what a finished Job did to disk id: the agent's own report
// when its termination message had one, otherwise what the Job's state
// implies (a Job that succeeded prepared all its disks; one that failed
// without a report failed them all).
func outcome(job *PrepareJob, id string) PrepareResult {
	if r, ok := job.Results[id]; ok {
		switch r.Outcome {
		case OutcomePrepared, OutcomeRefused, OutcomeFailed:
			return r
		}
	}
	if job.State == JobSucceeded {
		return PrepareResult{Outcome: OutcomePrepared}
	}
	msg := job.FailureMessage
	if msg == "" {
		msg = "the Job failed and agent prepare left no result for this disk"
	}
	return PrepareResult{Outcome: OutcomeFailed, Message: msg}
}

// indexJobs sorts the existing Jobs out per node.
//
// A finished Job is kept while a disk it reported prepared still shows
// Available: the agent has not rescanned since the Job wrote the BlueStore
// label, and deleting the Job now would let the next plan prepare the disk
// a second time. Once none of those disks is Available (they show as OSD or
// Rejected, or are gone) the Job is deleted. The disks it failed or refused
// are recorded on their plans by the plan that deletes it; the reconciler
// deletes the Job only once it reads those plans back from the inventory.
//
// A Running Job that has not started (see PrepareJob.Started) is deleted
// when it is no longer wanted (see wanted): provisioning is not Enabled, or
// its node or one of its disks left the selection. A started Job is never
// interrupted.
func (p *planner) indexJobs() {
	jobs := make([]*PrepareJob, len(p.in.Jobs))
	for i := range p.in.Jobs {
		jobs[i] = &p.in.Jobs[i]
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Name < jobs[j].Name })
	for _, job := range jobs {
		nj := p.jobsOf(job.Node)
		if job.Wipe {
			p.indexWipeJob(nj, job)
			continue
		}
		switch job.State {
		case JobSucceeded, JobFailed:
			keep := false
			for _, id := range job.DeviceIDs {
				r := outcome(job, id)
				if r.Outcome == OutcomePrepared {
					keep = keep || p.available(job.Node, id)
					continue
				}
				if prev := nj.failed[id]; prev == nil || job.FinishedAt.After(prev.job.FinishedAt) {
					nj.failed[id] = &failure{job: job, result: r}
				}
			}
			if !keep {
				p.deleteJob(nj, job.Name)
				continue
			}
			for _, id := range job.DeviceIDs {
				if _, ok := nj.succeeded[id]; !ok && outcome(job, id).Outcome == OutcomePrepared {
					nj.succeeded[id] = job
				}
			}
			if nj.busy == "" {
				nj.busy = job.Name
			}
			// One rescan per Job outcome: once the agent answered the one
			// asked for this Job, no other is asked (see planKept).
			if job.RescanRequest == 0 && p.rescan[job.Node] == "" {
				p.rescan[job.Node] = job.Name
			}
			if job.RescanRequest > p.recorded[job.Node] {
				p.recorded[job.Node] = job.RescanRequest
			}
		default:
			// Running, or a state this planner does not know: treat it as
			// running, the only choice that cannot prepare a disk twice.
			if !job.Started && !p.wanted(job) {
				p.deleteJob(nj, job.Name)
				continue
			}
			for _, id := range job.DeviceIDs {
				if _, ok := nj.running[id]; !ok {
					nj.running[id] = job.Name
				}
			}
			if nj.busy == "" {
				nj.busy = job.Name
			}
		}
	}
}

// available reports whether the inventory of node shows disk id Available.
func (p *planner) available(node, id string) bool {
	d := p.disks[node][id]
	return d != nil && d.Verdict.State == cephv1alpha1.DiskAvailable
}

// wanted reports whether a Running Job is still what the spec asks for:
// provisioning is Enabled, its node is selected, and every one of its disks
// is still in the node's inventory, selected and not shared with another
// path or node. A disk that merely stopped being Available does not count:
// the Job's own pod, starting, may be what made it Busy, and agent prepare
// re-checks every disk before it writes anyway.
func (p *planner) wanted(job *PrepareJob) bool {
	if !p.enabled || !p.selected[job.Node] {
		return false
	}
	rules := p.sel.rules(job.Node)
	for _, id := range job.DeviceIDs {
		d := p.disks[job.Node][id]
		if d != nil && d.Type == partType {
			// A partition of a split disk is selected, and shared, as
			// its disk is.
			d = p.parentDisk(job.Node, d)
		}
		if d == nil || p.shared[job.Node][diskID(d)] != "" || !rules.selectDisk(d).selected {
			return false
		}
	}
	return true
}

// jobsOf returns the Job index of node, creating it.
func (p *planner) jobsOf(node string) *nodeJobs {
	nj := p.jobs[node]
	if nj == nil {
		nj = &nodeJobs{
			running:   map[string]string{},
			succeeded: map[string]*PrepareJob{},
			failed:    map[string]*failure{},
		}
		p.jobs[node] = nj
	}
	return nj
}

// deleteJob puts a Job in the plan's DeleteJobs.
func (p *planner) deleteJob(nj *nodeJobs, name string) {
	p.plan.DeleteJobs = append(p.plan.DeleteJobs, name)
	if nj.deleted == "" {
		nj.deleted = name
	}
}

// changedSince reports whether the agent published a change on the node
// after t. LastScanTime only moves when the content of the inventory
// changes; it is the fallback for agents that publish no content hash.
func changedSince(inv *cephv1alpha1.DiskInventory, t *metav1.Time) bool {
	last := inv.Status.LastScanTime
	return last != nil && t != nil && last.After(t.Time)
}

// contentChanged reports whether disk d is no longer what it was when the
// failure recorded in prev happened. With a content hash it compares the
// disk's hash with the one recorded at the failure, so a change of another
// disk of the node does not count; a failure without a record (recorded by
// an older operator, or whose entry an administrator removed to ask for a
// retry) counts as changed. Without a hash (an older agent) any change the
// agent published on the node since the failure counts.
func contentChanged(ns *nodeState, d *cephv1alpha1.Disk, prev *cephv1alpha1.DevicePlan) bool {
	if d.ContentHash == "" {
		return changedSince(ns.inv, prev.LastFailureTime)
	}
	rec, ok := ns.records[diskID(d)]
	return !ok || rec != d.ContentHash
}

// carriedFailures carries the failure record of a disk's previous plan onto
// e: attempts, the time of the last failure and the content hash recorded
// then; nothing when there was none or the disk's content changed since.
func carriedFailures(ns *nodeState, e *entry, prev *cephv1alpha1.DevicePlan) {
	e.plan.Attempts, e.plan.LastFailureTime, e.record = 0, nil, ""
	if prev == nil || prev.LastFailureTime == nil || prev.Attempts <= 0 || contentChanged(ns, e.disk, prev) {
		return
	}
	t := *prev.LastFailureTime
	e.plan.Attempts, e.plan.LastFailureTime, e.record = prev.Attempts, &t, ns.records[e.device.ID]
}

// recordFailure marks a disk that a finished Job failed or refused. The
// attempt counts once: a plan that already recorded a failure at or after
// the Job's end (the reconciler wrote it, then crashed before deleting the
// Job) keeps its attempts and record.
func (p *planner) recordFailure(ns *nodeState, e *entry, prev *cephv1alpha1.DevicePlan, f *failure) {
	finished := f.job.FinishedAt
	if finished.IsZero() {
		// A finished Job always has an end; should one lack it, now is the
		// best estimate.
		finished = p.now()
	}
	// The plan is stored with second precision; compare at that precision.
	at := metav1.NewTime(finished.Truncate(time.Second))
	attempts := int32(0)
	if prev != nil && prev.LastFailureTime != nil && prev.Attempts > 0 && !prev.LastFailureTime.Before(&at) {
		attempts, at = prev.Attempts, *prev.LastFailureTime
		if rec, ok := ns.records[e.device.ID]; ok {
			e.record = rec
		} else {
			e.record = e.disk.ContentHash
		}
	} else {
		carriedFailures(ns, e, prev)
		attempts = e.plan.Attempts + 1
		e.record = e.disk.ContentHash
	}
	if f.result.Outcome == OutcomeRefused {
		p.markRefused(e, attempts, at, f)
		return
	}
	p.markFailed(e, attempts, at, f)
}

// markFailed sets a Failed plan for the disk with its attempts, the time of
// the last failure, when it will be retried and what the agent said, and
// asks for a requeue at that time. f is the failure when its Job is still
// known.
func (p *planner) markFailed(e *entry, attempts int32, at metav1.Time, f *failure) {
	e.plan.Action = cephv1alpha1.ActionFailed
	e.plan.Reason = ReasonPrepareFailed
	e.plan.Attempts = attempts
	e.plan.LastFailureTime = &at
	what := "preparing it failed"
	if f != nil {
		what = fmt.Sprintf("prepare Job %s failed", f.job.Name)
	}
	var next string
	if attempts >= maxAttempts {
		next = "no further attempt until the disk's content changes"
	} else {
		retry := at.Add(backoff(attempts))
		next = "next attempt after " + formatTime(retry)
		p.requeueAt(retry)
	}
	head := fmt.Sprintf("%s (attempt %d, at %s); %s", what, attempts, formatTime(at.Time), next)
	if f == nil {
		e.plan.Message = head
		return
	}
	if d := describe(f.result); d != "" {
		head += ": " + d
	}
	e.plan.Message = FitMessage(head, "ceph-volume stderr: ", f.result.Stderr, MaxMessageLength)
}

// markRefused sets the plan of a disk agent prepare refused: it is not
// tried again until its own content changes.
func (p *planner) markRefused(e *entry, attempts int32, at metav1.Time, f *failure) {
	e.plan.Action = cephv1alpha1.ActionFailed
	e.plan.Reason = ReasonPrepareRefused
	e.plan.Attempts = attempts
	e.plan.LastFailureTime = &at
	what := describe(f.result)
	if what == "" {
		what = "no reason given"
	}
	e.plan.Message = FitMessage(fmt.Sprintf("agent prepare refused to write it (Job %s, at %s): %s", f.job.Name, formatTime(at.Time), what),
		"", "; it is not tried again until its content changes (wipe it), or until its entry is removed from the DiskInventory's annotation "+FailureRecordsAnnotation, MaxMessageLength)
}

// describe joins an agent result's reason and message.
func describe(r PrepareResult) string {
	switch {
	case r.Reason != "" && r.Message != "":
		return r.Reason + ": " + r.Message
	case r.Reason != "":
		return r.Reason
	default:
		return r.Message
	}
}

// stillRefused keeps the plan of a disk agent prepare refused before, as
// long as its content has not changed since, and returns true then.
func stillRefused(ns *nodeState, e *entry, prev *cephv1alpha1.DevicePlan) bool {
	if prev == nil || prev.Reason != ReasonPrepareRefused || prev.LastFailureTime == nil || contentChanged(ns, e.disk, prev) {
		return false
	}
	t := *prev.LastFailureTime
	e.plan.Action, e.plan.Reason, e.plan.Message = cephv1alpha1.ActionFailed, ReasonPrepareRefused, prev.Message
	e.plan.Attempts, e.plan.LastFailureTime, e.record = prev.Attempts, &t, ns.records[e.device.ID]
	return true
}

// waitsForBackoff decides whether a disk that is selected, Available and
// not in any Job must wait before it is prepared again. It carries the
// failure record of the previous plan; a disk still within its backoff, or
// past maxAttempts, is marked Failed and true is returned. A change of the
// disk's content since the last failure clears the record: the disk may be
// retried at once.
func (p *planner) waitsForBackoff(ns *nodeState, e *entry, prev *cephv1alpha1.DevicePlan) bool {
	carriedFailures(ns, e, prev)
	if e.plan.LastFailureTime == nil {
		return false
	}
	attempts, at := e.plan.Attempts, *e.plan.LastFailureTime
	if attempts >= maxAttempts || p.now().Before(at.Add(backoff(attempts))) {
		p.markFailed(e, attempts, at, nil)
		if prev != nil && prev.Reason == ReasonPrepareFailed && prev.Message != "" && prev.LastFailureTime.Equal(&at) {
			// Keep the evidence of the failure recorded earlier.
			e.plan.Message = prev.Message
		}
		return true
	}
	return false
}

// backoff is how long a disk waits after its n-th failed attempt.
func backoff(n int32) time.Duration {
	d := baseBackoff
	for i := int32(1); i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// requeueAt asks for a new plan at t, if t is in the future; the earliest
// such time wins.
func (p *planner) requeueAt(t time.Time) {
	d := t.Sub(p.now())
	if d <= 0 {
		return
	}
	if p.plan.RequeueAfter == 0 || d < p.plan.RequeueAfter {
		p.plan.RequeueAfter = d
	}
}

// formatTime formats t for messages, in UTC so the text does not depend on
// where the operator runs.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// scheduleJobs decides, node by node in name order, what happens to the
// disks that would be provisioned. With provisioning Preview nothing is
// prepared. Otherwise a node gets one Job with all such disks unless it
// still has a Running or kept Succeeded Job (one Job per node at a time), a
// finished Job of it is being deleted, or maxNodesPreparing nodes already
// have a Job; its disks then wait for their turn. Disks put in a new Job
// are reported as Preparing.
func (p *planner) scheduleJobs(nodes []*nodeState) {
	limit := int(p.storage.MaxNodesPreparing)
	if limit <= 0 {
		limit = defaultMaxNodesPreparing
	}
	preparing := 0
	for _, nj := range p.jobs {
		if nj.busy != "" {
			preparing++
		}
	}
	for _, ns := range nodes {
		if p.scheduleWipe(ns, &preparing, limit) || len(ns.candidates) == 0 {
			continue
		}
		nj := p.jobs[ns.name]
		switch {
		case !p.enabled:
			p.wait(ns, ReasonPreview, "would be prepared as an OSD when provisioning is Enabled")
		case p.in.WaitForMonitors != "":
			p.wait(ns, ReasonWaitingForMonitors, "waits for the monitors: "+p.in.WaitForMonitors)
		case nj != nil && nj.busy != "":
			p.wait(ns, ReasonWaitingForTurn, fmt.Sprintf("waits for prepare Job %s of this node to be done: a node runs one prepare Job at a time", nj.busy))
		case nj != nil && nj.deleted != "":
			p.wait(ns, ReasonWaitingForTurn, fmt.Sprintf("waits for the finished prepare Job %s of this node to be removed", nj.deleted))
		case preparing >= limit:
			p.wait(ns, ReasonWaitingForTurn, fmt.Sprintf("waits for its turn: %d nodes are preparing disks, the most spec.storage.maxNodesPreparing allows", preparing))
		default:
			preparing++
			p.createJob(ns)
		}
	}
}

// wait leaves the node's candidate disks at WouldProvision with a reason.
func (p *planner) wait(ns *nodeState, reason, message string) {
	for _, i := range ns.candidates {
		e := &ns.entries[i]
		e.plan.Action, e.plan.Reason, e.plan.Message = cephv1alpha1.ActionWouldProvision, reason, message+layoutNote(ns, e)
	}
}

// createJob adds a prepare Job for all the node's candidate disks, sorted by
// id, and reports them as Preparing.
func (p *planner) createJob(ns *nodeState) {
	job := JobSpec{Node: ns.name}
	seen := map[string]bool{}
	for _, i := range ns.candidates {
		e := &ns.entries[i]
		e.plan.Action, e.plan.Reason = cephv1alpha1.ActionPreparing, ""
		if !seen[e.device.ID] {
			seen[e.device.ID] = true
			job.Devices = append(job.Devices, e.device)
		}
	}
	sort.Slice(job.Devices, func(i, j int) bool { return job.Devices[i].ID < job.Devices[j].ID })
	// The same words as once the Job runs, so the plan is written once.
	name := JobName(p.in.Cluster.Name, job.Node)
	for _, i := range ns.candidates {
		// Without the layout: a running Job's disks are planned from the
		// Job, which does not carry it.
		ns.entries[i].plan.Message = fmt.Sprintf("prepare Job %s is turning it into an OSD", name)
		ns.entries[i].plan.DB, ns.entries[i].plan.WAL = nil, nil
	}
	p.plan.CreateJobs = append(p.plan.CreateJobs, job)
}

// JobName is the name of the prepare Job of node in the named cluster. It
// depends on the node alone, not on its disks: a node has at most one
// prepare Job at a time, and the API server enforces it, because a second
// Job for the node (planned from a cache that has not shown the first one
// yet, or by a second operator during a leader-election overlap) gets the
// same name and is refused as AlreadyExists.
//
// The name is <cluster>-prepare-<10 hex digits>, at most 63 characters (it
// is also the value of the job-name label of its pods) when the cluster's
// name has at most cephv1alpha1.MaxClusterNameLength characters, which admission
// enforces.
func JobName(cluster, node string) string {
	return fmt.Sprintf("%s-prepare-%s", cluster, NodeHash(node))
}

// nodeHashBytes is how many bytes of a node name's SHA-256 NodeHash keeps.
// Two nodes whose hashes collide only share the one-Job-at-a-time turn.
const nodeHashBytes = 5

// NodeHash returns a short, label-safe hash of a node name (node names can
// be longer than a label value may be).
func NodeHash(node string) string {
	sum := sha256.Sum256([]byte(node))
	return hex.EncodeToString(sum[:nodeHashBytes])
}

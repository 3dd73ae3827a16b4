package osdplan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
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
	// succeeded maps a device id to a Succeeded Job that is kept because
	// the inventory still shows one of its disks Available.
	succeeded map[string]string
	// failed maps a device id to the latest Failed Job that listed it.
	failed map[string]*PrepareJob
	// busy names a Running or kept Succeeded Job: the node may not get
	// another one.
	busy string
	// deleted names a finished Job deleted by this plan: the node gets no
	// new Job until it is gone, because deletion is asynchronous.
	deleted string
}

// indexJobs sorts the existing Jobs out per node. available maps a node to
// the ids of its disks that its inventory shows Available; a node without a
// published inventory has none.
//
// A Succeeded Job is kept while one of its disks still shows Available: the
// agent has not rescanned since the Job wrote the BlueStore label, and
// deleting the Job now would let the next plan prepare the disk a second
// time. Once none of its disks is Available (they show as OSD or Rejected,
// or are gone) its outcome is in the inventory and it is deleted. A Failed
// Job is deleted at once; the plan that deletes it records the failure on
// its disks first.
func (p *planner) indexJobs(available map[string]map[string]bool) {
	jobs := make([]*PrepareJob, len(p.in.Jobs))
	for i := range p.in.Jobs {
		jobs[i] = &p.in.Jobs[i]
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Name < jobs[j].Name })
	for _, job := range jobs {
		nj := p.jobsOf(job.Node)
		switch job.State {
		case JobSucceeded:
			keep := false
			for _, id := range job.DeviceIDs {
				if available[job.Node][id] {
					keep = true
					break
				}
			}
			if !keep {
				p.deleteJob(nj, job.Name)
				continue
			}
			for _, id := range job.DeviceIDs {
				if _, ok := nj.succeeded[id]; !ok {
					nj.succeeded[id] = job.Name
				}
			}
			if nj.busy == "" {
				nj.busy = job.Name
			}
			p.rescan[job.Node] = true
		case JobFailed:
			p.deleteJob(nj, job.Name)
			for _, id := range job.DeviceIDs {
				if prev := nj.failed[id]; prev == nil || job.FinishedAt.After(prev.FinishedAt) {
					nj.failed[id] = job
				}
			}
		default:
			// Running, or a state this planner does not know: treat it as
			// running, the only choice that cannot prepare a disk twice.
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

// jobsOf returns the Job index of node, creating it.
func (p *planner) jobsOf(node string) *nodeJobs {
	nj := p.jobs[node]
	if nj == nil {
		nj = &nodeJobs{
			running:   map[string]string{},
			succeeded: map[string]string{},
			failed:    map[string]*PrepareJob{},
		}
		p.jobs[node] = nj
	}
	return nj
}

// deleteJob puts a finished Job in the plan's DeleteJobs.
func (p *planner) deleteJob(nj *nodeJobs, name string) {
	p.plan.DeleteJobs = append(p.plan.DeleteJobs, name)
	if nj.deleted == "" {
		nj.deleted = name
	}
}

// changedSince reports whether the agent published a change on the node
// after t. LastScanTime only moves when the content of the inventory
// changes, so a later one means the disk (or another one on the node) is
// not what it was when the attempt failed.
func changedSince(inv *cephv1.DiskInventory, t *metav1.Time) bool {
	last := inv.Status.LastScanTime
	return last != nil && t != nil && last.After(t.Time)
}

// carriedFailures returns the failure record a disk carries from its
// previous plan: attempts and the time of the last failure, or nothing
// when there was none or the inventory changed since.
func carriedFailures(inv *cephv1.DiskInventory, prev *cephv1.DevicePlan) (int32, *metav1.Time) {
	if prev == nil || prev.LastFailureTime == nil || prev.Attempts <= 0 || changedSince(inv, prev.LastFailureTime) {
		return 0, nil
	}
	t := *prev.LastFailureTime
	return prev.Attempts, &t
}

// recordFailure marks a disk of a Failed Job as Failed. The attempt counts
// once: a plan that already recorded a failure at or after the Job's end
// (the reconciler wrote it, then crashed before deleting the Job) is kept
// as it is.
func (p *planner) recordFailure(inv *cephv1.DiskInventory, e *entry, prev *cephv1.DevicePlan, job *PrepareJob) {
	finished := job.FinishedAt
	if finished.IsZero() {
		// A Failed Job always has an end; should one lack it, now is the
		// best estimate.
		finished = p.in.Now
	}
	// The plan is stored with second precision; compare at that precision.
	at := metav1.NewTime(finished.Truncate(time.Second))
	if prev != nil && prev.LastFailureTime != nil && prev.Attempts > 0 && !prev.LastFailureTime.Before(&at) {
		p.markFailed(e, prev.Attempts, *prev.LastFailureTime, job.Name)
		return
	}
	attempts, _ := carriedFailures(inv, prev)
	p.markFailed(e, attempts+1, at, job.Name)
}

// markFailed sets a Failed plan for the disk with its attempts, the time of
// the last failure and when it will be retried, and asks for a requeue at
// that time. job names the Job that failed when it is known.
func (p *planner) markFailed(e *entry, attempts int32, at metav1.Time, job string) {
	e.plan.Action = cephv1.ActionFailed
	e.plan.Reason = ReasonPrepareFailed
	e.plan.Attempts = attempts
	e.plan.LastFailureTime = &at
	what := "preparing it failed"
	if job != "" {
		what = fmt.Sprintf("prepare Job %s failed", job)
	}
	if attempts >= maxAttempts {
		e.plan.Message = fmt.Sprintf("%s (attempt %d, at %s); no further attempt until the agent reports a change on the node", what, attempts, formatTime(at.Time))
		return
	}
	retry := at.Add(backoff(attempts))
	e.plan.Message = fmt.Sprintf("%s (attempt %d, at %s); next attempt after %s", what, attempts, formatTime(at.Time), formatTime(retry))
	p.requeueAt(retry)
}

// waitsForBackoff decides whether a disk that is selected, Available and
// not in any Job must wait before it is prepared again. It carries the
// failure record of the previous plan; a disk still within its backoff, or
// past maxAttempts, is marked Failed and true is returned. A change of the
// inventory since the last failure clears the record: the disk may be
// retried at once.
func (p *planner) waitsForBackoff(inv *cephv1.DiskInventory, e *entry, prev *cephv1.DevicePlan) bool {
	attempts, at := carriedFailures(inv, prev)
	e.plan.Attempts, e.plan.LastFailureTime = attempts, at
	if at == nil {
		return false
	}
	if attempts >= maxAttempts || p.in.Now.Before(at.Add(backoff(attempts))) {
		p.markFailed(e, attempts, *at, "")
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
	d := t.Sub(p.in.Now)
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
		if len(ns.candidates) == 0 {
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
		e.plan.Action, e.plan.Reason, e.plan.Message = cephv1.ActionWouldProvision, reason, message
	}
}

// createJob adds a prepare Job for all the node's candidate disks, sorted by
// id, and reports them as Preparing.
func (p *planner) createJob(ns *nodeState) {
	job := JobSpec{Node: ns.name}
	seen := map[string]bool{}
	for _, i := range ns.candidates {
		e := &ns.entries[i]
		e.plan.Action, e.plan.Reason = cephv1.ActionPreparing, ""
		if !seen[e.device.ID] {
			seen[e.device.ID] = true
			job.Devices = append(job.Devices, e.device)
		}
	}
	sort.Slice(job.Devices, func(i, j int) bool { return job.Devices[i].ID < job.Devices[j].ID })
	// The same words as once the Job runs, so the plan is written once.
	name := JobName(p.in.Cluster.Name, job)
	for _, i := range ns.candidates {
		ns.entries[i].plan.Message = fmt.Sprintf("prepare Job %s is turning it into an OSD", name)
	}
	p.plan.CreateJobs = append(p.plan.CreateJobs, job)
}

// JobName is the name of the prepare Job for spec in the named cluster. It
// is a function of the node and its device set, so a plan computed again
// after a crash names the Job it already created instead of a second one.
func JobName(cluster string, spec JobSpec) string {
	h := sha256.New()
	h.Write([]byte(spec.Node))
	for _, d := range spec.Devices {
		h.Write([]byte{0})
		h.Write([]byte(d.ID))
	}
	return fmt.Sprintf("%s-prepare-%s", cluster, hex.EncodeToString(h.Sum(nil)[:6]))
}

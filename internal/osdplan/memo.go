package osdplan

import (
	"encoding/json"
	"strings"
	"sync"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Memo remembers, between plans of one cluster, the per-node part of each
// plan: what planNode and planMissing decided for a node's disks before the
// cluster-wide schedule. Memo.Compute returns exactly what Compute returns
// for the same Input; it only skips the per-node work of the nodes whose
// inputs did not change since the plan that remembered them. Everything
// that spans nodes (selection, shared devices, duplicate OSD ids, the
// maxNodesPreparing schedule, decommission and wipe requests, the counts)
// is computed again every time.
//
// A node's result is reused only when it can depend on nothing but:
//
//   - its inventory, identified by UID and resourceVersion (the API server
//     gives a changed object a new resourceVersion; an inventory without
//     one is always planned);
//   - whether and why the node is selected, its topology labels and its
//     device-class label;
//   - the cluster's name, FSID and spec.storage.
//
// That is so when no cluster-wide input reaches the node: the node has no
// prepare or wipe Job, no shared disk, no reserved slot, no duplicate or
// crashing OSD, no OSD Deployment whose disk is missing, no previous plan
// entry carrying a failure, a decommission or a time, the cluster has no
// decommission or wipe request and no OSD Job, and planning it read no
// clock and changed no cluster-wide part of the plan (checked after
// planning, before it is remembered). Any other node is planned in full.
// In a large, settled cluster that is almost every node; the nodes that
// do take part in cluster-wide work are few and are planned every time.
//
// A Memo is safe for concurrent use; one Memo serves one cluster.
type Memo struct {
	mu    sync.Mutex
	nodes map[string]*nodeMemo
	// hits and misses count the nodes reused and planned (tests).
	hits, misses int
}

// nodeMemo is one node's remembered result.
type nodeMemo struct {
	key nodeKey
	// entries are the disk entries as planned, before the schedule, kept
	// only for a node with disks to prepare (candidates), which the
	// schedule changes; their disk pointers are cleared (they point into
	// the inventory, which a cache replaces) and set again on reuse.
	entries    []entry
	candidates []int
	problems   []string
	osds       []OSDSpec
	planned    []int32
	// final and counts are the node's finished plans and their counts,
	// for a node without candidates: the schedule leaves it alone, so its
	// finished plans are reused as they are. They are shared with the
	// plans returned; nothing writes to them.
	final  []cephv1alpha1.DevicePlan
	counts cephv1alpha1.OSDCounts
}

// nodeKey is what a remembered node's result depends on.
type nodeKey struct {
	uid, resourceVersion string
	// context is the digest of the cluster-wide inputs (memoContext).
	context                 string
	skipped                 bool
	skipReason, skipMessage string
	// topology and class are the node's topology labels and its
	// device-class label.
	topology, class string
}

// Compute plans in as Compute does, reusing the remembered per-node
// results that still hold, and remembers the results of this plan.
func (m *Memo) Compute(in Input) Plan {
	m.mu.Lock()
	defer m.mu.Unlock()
	return compute(in, m)
}

// Reset forgets every remembered node.
func (m *Memo) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes = nil
}

// planNodes plans every node's disks (planNode, planMissing), reusing the
// remembered results of memo where they hold.
func (p *planner) planNodes(nodes []*nodeState, memo *Memo) {
	var context string
	if memo != nil {
		context = p.memoContext()
	}
	next := map[string]*nodeMemo{}
	for _, ns := range nodes {
		key, ok := nodeKey{}, false
		if context != "" {
			key, ok = p.memoKey(ns, context)
		}
		if ok {
			if old := memo.nodes[ns.name]; old != nil && old.key == key && p.replay(ns, old) {
				memo.hits++
				ns.reused = old
				next[ns.name] = old
				continue
			}
		}
		mark := p.mark()
		p.planNode(ns)
		p.layoutNode(ns)
		p.planMissing(ns)
		if memo == nil {
			continue
		}
		memo.misses++
		if ok {
			if nm := p.capture(ns, mark, key); nm != nil {
				ns.remember = nm
				next[ns.name] = nm
			}
		}
	}
	if memo != nil {
		memo.nodes = next
	}
}

// memoContext is the digest of the cluster-wide inputs a remembered node
// may depend on, "" when the cluster's state rules out reuse altogether:
// decommission and wipe requests and OSD Jobs reach across nodes.
func (p *planner) memoContext() string {
	if len(p.storage.Decommission) > 0 || len(p.storage.WipeDevices) > 0 || len(p.in.OSDJobs) > 0 {
		return ""
	}
	spec, err := json.Marshal(p.storage)
	if err != nil {
		return ""
	}
	return p.in.Cluster.Name + "\x00" + p.in.Cluster.Status.FSID + "\x00" + string(spec)
}

// memoKey is the key of node ns, and false when the node's plan may depend
// on more than the key says (see Memo).
func (p *planner) memoKey(ns *nodeState, context string) (nodeKey, bool) {
	inv := ns.inv
	if inv.UID == "" || inv.ResourceVersion == "" || p.jobs[ns.name] != nil || len(p.shared[ns.name]) > 0 || p.reserved[ns.name] != nil {
		return nodeKey{}, false
	}
	for i := range inv.Status.Plan {
		prev := &inv.Status.Plan[i]
		if prev.Decommission != nil || prev.LastFailureTime != nil || prev.Attempts != 0 || prev.Since != nil {
			return nodeKey{}, false
		}
	}
	for i := range inv.Status.Disks {
		d := &inv.Status.Disks[i]
		if d.Verdict.State != cephv1alpha1.DiskOSD {
			continue
		}
		if d.Verdict.OSDID == nil {
			return nodeKey{}, false
		}
		id := *d.Verdict.OSDID
		if len(p.osdDisks[id]) > 1 || p.crashing[id] != "" {
			return nodeKey{}, false
		}
	}
	for _, i := range p.osdsOf[ns.name] {
		o := &p.in.OSDs[i]
		if p.disks[ns.name][o.DeviceID] == nil || p.crashing[o.ID] != "" {
			return nodeKey{}, false
		}
	}
	key := nodeKey{uid: string(inv.UID), resourceVersion: inv.ResourceVersion, context: context}
	if ns.skip != nil {
		key.skipped, key.skipReason, key.skipMessage = true, ns.skip.Reason, ns.skip.Message
	}
	var topo strings.Builder
	labels := p.topology(ns.name)
	for _, k := range TopologyLabels {
		if v, ok := labels[k]; ok {
			topo.WriteString(k)
			topo.WriteByte('=')
			topo.WriteString(v)
		}
		topo.WriteByte(0)
	}
	key.topology = topo.String()
	if i, ok := p.nodeOf[ns.name]; ok {
		if v, ok := p.in.Nodes[i].Labels[DeviceClassLabel]; ok {
			key.class = "=" + v
		}
	}
	return key, true
}

// planMark is where the plan stood before a node was planned.
type planMark struct {
	clock, problems, osds, planned                              int
	createJobs, deleteJobs, createOSDJobs, deleteOSDJobs, stops int
	reverted, usedRequests, rescan, recorded                    int
	requeue                                                     int64
}

func (p *planner) mark() planMark {
	return planMark{
		clock: p.clockReads, problems: len(p.problems), osds: len(p.plan.OSDs), planned: len(p.plannedLog),
		createJobs: len(p.plan.CreateJobs), deleteJobs: len(p.plan.DeleteJobs), createOSDJobs: len(p.plan.CreateOSDJobs),
		deleteOSDJobs: len(p.plan.DeleteOSDJobs), stops: len(p.plan.StopOSDs), reverted: len(p.plan.Reverted),
		usedRequests: len(p.usedRequests), rescan: len(p.rescan), recorded: len(p.recorded), requeue: int64(p.plan.RequeueAfter),
	}
}

// capture remembers the result of planning ns since mark, or returns nil
// when planning it did more than a remembered result can replay: read the
// clock, or touched a cluster-wide part of the plan.
func (p *planner) capture(ns *nodeState, mark planMark, key nodeKey) *nodeMemo {
	now := p.mark()
	if now.clock != mark.clock || now.createJobs != mark.createJobs || now.deleteJobs != mark.deleteJobs ||
		now.createOSDJobs != mark.createOSDJobs || now.deleteOSDJobs != mark.deleteOSDJobs || now.stops != mark.stops ||
		now.reverted != mark.reverted || now.usedRequests != mark.usedRequests || now.rescan != mark.rescan ||
		now.recorded != mark.recorded || now.requeue != mark.requeue || len(ns.entries) != len(ns.inv.Status.Disks) {
		return nil
	}
	nm := &nodeMemo{
		key:        key,
		candidates: append([]int(nil), ns.candidates...),
		problems:   append([]string(nil), p.problems[mark.problems:]...),
		osds:       append([]OSDSpec(nil), p.plan.OSDs[mark.osds:]...),
		planned:    append([]int32(nil), p.plannedLog[mark.planned:]...),
	}
	if len(ns.candidates) > 0 {
		nm.entries = make([]entry, len(ns.entries))
		copy(nm.entries, ns.entries)
		for i := range nm.entries {
			nm.entries[i].disk = nil
		}
	}
	return nm
}

// replay puts a remembered result in place of planning ns; false when it
// does not fit the inventory (it then is planned).
func (p *planner) replay(ns *nodeState, m *nodeMemo) bool {
	if len(m.candidates) == 0 {
		// Nothing reads the entries of a node the schedule leaves alone
		// once its finished plans are known.
		if m.final == nil {
			return false
		}
		ns.entries = nil
	} else {
		if len(m.entries) != len(ns.inv.Status.Disks) {
			return false
		}
		for i := range m.entries {
			if m.entries[i].index < 0 || m.entries[i].index >= len(ns.inv.Status.Disks) {
				return false
			}
		}
		ns.entries = make([]entry, len(m.entries))
		copy(ns.entries, m.entries)
		for i := range ns.entries {
			ns.entries[i].disk = &ns.inv.Status.Disks[ns.entries[i].index]
		}
	}
	ns.candidates = m.candidates
	p.problems = append(p.problems, m.problems...)
	p.plan.OSDs = append(p.plan.OSDs, m.osds...)
	for _, id := range m.planned {
		p.markPlanned(id)
	}
	return true
}

package osdplan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// planner holds the state of one Compute call.
type planner struct {
	in      *Input
	storage *cephv1alpha1.StorageSpec
	plan    *Plan
	// enabled is true when provisioning is Enabled (or unset).
	enabled bool
	sel     *selector
	nodes   nodeselect.Selection
	// selected holds the names of the selected nodes.
	selected map[string]bool
	jobs     map[string]*nodeJobs
	// rescan maps a node to the kept Job it needs a rescan for.
	rescan map[string]string
	// recorded maps a node to the highest rescan request its kept Jobs
	// record (see Plan.RescanResume).
	recorded map[string]int64
	// disks maps a node to its inventory's disks by id.
	disks map[string]map[string]*cephv1alpha1.Disk
	// prev maps a node to its inventory's plan by disk id (nodeState.prev).
	prev map[string]map[string]*cephv1alpha1.DevicePlan
	// shared maps a node and a disk id to why the disk is shared with
	// another path or node (see findShared); absent when it is not.
	shared map[string]map[string]string
	// osdDisks lists, per OSD id, every disk that carries it, so that a
	// duplicate is known before any disk is planned.
	osdDisks map[int32][]osdCopy
	problems []string
	// osdJobs maps an OSD id and a step to its OSD Job.
	osdJobs map[int32]map[OSDStep]*OSDJob
	// osdRunning holds the ids of the OSDs that have a Deployment.
	osdRunning map[int32]bool
	// osdDeleting holds the ids of the OSDs whose Deployment is being
	// deleted.
	osdDeleting map[int32]bool
	// planned holds the ids of the OSDs some disk entry planned.
	planned map[int32]bool
	// usedRequests holds the indexes of the decommission requests that
	// named a disk.
	usedRequests map[int]bool
	// reserved maps a node and a slot to the OSD destroyed there for a
	// replacement disk (see reservations).
	reserved map[string]map[string]int32
	// reservedDB maps a node and a slot to the DB partition of the OSD
	// destroyed there for a replacement: the replacement disk gets it.
	reservedDB map[string]map[string]reservedPartition
	// wipes is the state of spec.storage.wipeDevices (wipe.go).
	wipes *wipeState
	// osdsOf maps a node to the indexes of its OSDs in in.OSDs, crashing
	// an OSD id to how its daemon keeps failing, and nodeOf a node's name
	// to its index in in.Nodes: looked up per disk, a scan of the whole
	// list made a plan at 12,000 OSDs quadratic.
	osdsOf   map[string][]int
	crashing map[int32]string
	nodeOf   map[string]int
	// clockReads counts the reads of in.Now, and plannedLog lists the OSD
	// ids planned, in order: a node's plan is remembered (see Memo) only
	// when planning it read no clock, and replaying it marks the same ids.
	clockReads int
	plannedLog []int32
}

// nodeState is one planned inventory and the plans of its disks.
type nodeState struct {
	name string
	inv  *cephv1alpha1.DiskInventory
	// skip says why the node is not selected; nil when it is.
	skip *nodeselect.Skip
	// prev maps a device id to its plan in the inventory's status.plan.
	prev map[string]*cephv1alpha1.DevicePlan
	// records maps a device id to the content hash recorded at its last
	// failure (FailureRecordsAnnotation).
	records map[string]string
	entries []entry
	// parts maps an OSD uuid to the DB/WAL partitions of the node's
	// metadata devices that carry it (layout.go); made on first use.
	parts map[string][]Partition
	// reused is the remembered result this node's plan was taken from,
	// and remember the one being made of it (see Memo); nil when none.
	reused, remember *nodeMemo
	// candidates indexes the entries that are selected, Available, in no
	// Job and not waiting for a backoff: the disks to prepare.
	candidates []int
	// splits maps the index of each split disk to its layout, and
	// parentOf the index of each of its partitions to the disk's
	// (split.go); nil when the node has none.
	splits   map[int]*splitDisk
	parentOf map[int]int
}

// entry is the plan of one disk under construction.
type entry struct {
	// index is the entry's place in its node's entries.
	index  int
	disk   *cephv1alpha1.Disk
	device Device
	// sel is the storage selection's decision on the disk.
	sel  diskSelection
	plan cephv1alpha1.DevicePlan
	// record is the content hash to keep in FailureRecordsAnnotation for
	// a disk whose plan carries a failure.
	record string
}

// Compute decides what the OSD reconciler does, from the CephCluster's spec
// and what is observed: Nodes, DiskInventories, OSD Deployments and prepare
// Jobs. It is pure and deterministic: it reads no clock but in.Now and
// talks to no API server.
//
// Nodes are selected by nodeselect.Select. Only inventories of selected nodes get
// new work; an inventory of a node that is not selected (any more) is still
// planned so its disks say why they are left out, and its OSDs keep their
// Deployments: changing the selection never stops an OSD.
//
// Each disk of a published inventory (status.disks) gets a DevicePlan:
//
//   - The storage selection is applied first (see nodeRules.selectDisk):
//     the node's devices list, else deviceFilter, else devicePathFilter,
//     else useAllDevices, each from the node's entry when it sets it,
//     otherwise cluster-wide. A disk not selected is LeftOut with
//     NotListed, FilteredOut or InvalidFilter; every invalid filter is also
//     reported once in Problems.
//   - A disk holding an OSD of this cluster is Provisioned and its OSD gets
//     an OSDSpec, whether or not it is still selected (reason
//     OSDNotSelected when not). Two disks carrying the same OSD id get no
//     OSDSpec, reason DuplicateOSDID, and a Problem.
//   - A disk whose WWN, or serial and size, another disk of any inventory
//     also has is LeftOut with SharedDevice (see findShared), unless it
//     holds an OSD.
//   - A selected, Rejected disk is LeftOut with discovery's reason and
//     message.
//   - An Available disk in a Running Job, or in a finished Job that
//     reported it prepared and whose result the agent has not shown yet,
//     is Preparing. One a finished Job failed is Failed (PrepareFailed,
//     with the agent's evidence), one more attempt; one it refused is
//     Failed (PrepareRefused) and not tried again. A disk that failed
//     before waits 30s·2^(attempts-1) (at most 30m) after its last failure,
//     and gives up after 6 attempts, unless its own content hash changed
//     since the failure (FailureRecordsAnnotation). Otherwise it would be
//     provisioned.
//
// Disks are matched to Jobs and to their previous plan by stable id, never
// by kernel name, which can change between scans. With provisioning Enabled
// (or unset) a node gets at most one prepare Job at a time (JobName depends
// on the node alone, so the API server refuses a second), with all its
// disks to provision, and at most spec.storage.maxNodesPreparing nodes
// (default 10) have one at once, picked in name order; the others wait for
// their turn. With Preview, no Job is created, and a Job whose pod has not
// started is deleted. Nothing is ever proposed for a disk whose verdict is
// not Available. Every plan message fits MaxMessageLength.
func Compute(in Input) Plan {
	return compute(in, nil)
}

// compute is Compute, reusing and refreshing memo's per-node results when
// memo is not nil.
func compute(in Input, memo *Memo) Plan {
	plan := Plan{DevicePlans: map[string][]cephv1alpha1.DevicePlan{}}
	if in.Cluster == nil {
		return plan
	}
	p := &planner{
		in:       &in,
		storage:  &in.Cluster.Spec.Storage,
		plan:     &plan,
		jobs:     map[string]*nodeJobs{},
		rescan:   map[string]string{},
		recorded: map[string]int64{},
		disks:    map[string]map[string]*cephv1alpha1.Disk{},
		prev:     map[string]map[string]*cephv1alpha1.DevicePlan{},
		osdDisks: map[int32][]osdCopy{},

		osdRunning:   map[int32]bool{},
		osdDeleting:  map[int32]bool{},
		planned:      map[int32]bool{},
		usedRequests: map[int]bool{},
		reserved:     map[string]map[string]int32{},
		reservedDB:   map[string]map[string]reservedPartition{},
	}
	if len(in.OSDs) > 0 {
		// Room for the OSDs the plan keeps; growing these lists was most
		// of a plan's allocations at 12,000 OSDs.
		plan.OSDs = make([]OSDSpec, 0, len(in.OSDs))
		p.plannedLog = make([]int32, 0, len(in.OSDs))
	}
	p.osdsOf = map[string][]int{}
	p.crashing = map[int32]string{}
	for i := range in.OSDs {
		o := &in.OSDs[i]
		p.osdRunning[o.ID] = true
		if o.Deleting {
			p.osdDeleting[o.ID] = true
		}
		if o.Crashing != "" {
			p.crashing[o.ID] = o.Crashing
		}
		p.osdsOf[o.Node] = append(p.osdsOf[o.Node], i)
	}
	p.nodeOf = make(map[string]int, len(in.Nodes))
	for i := range in.Nodes {
		if _, seen := p.nodeOf[in.Nodes[i].Name]; !seen {
			p.nodeOf[in.Nodes[i].Name] = i
		}
	}
	switch p.storage.Provisioning {
	case "", cephv1alpha1.ProvisioningEnabled:
		p.enabled = true
	case cephv1alpha1.ProvisioningPreview:
	default:
		p.problems = append(p.problems, fmt.Sprintf("spec.storage.provisioning %q is neither Enabled nor Preview; nothing is prepared", p.storage.Provisioning))
	}
	p.nodes = nodeselect.Select(&in.Cluster.Spec, in.Nodes)
	p.selected = make(map[string]bool, len(p.nodes.Selected))
	for _, n := range p.nodes.Selected {
		p.selected[n] = true
	}
	p.sel = newSelector(p.storage)
	p.problems = append(p.problems, p.sel.problems...)

	nodes := p.inventories()
	for _, ns := range nodes {
		byID := make(map[string]*cephv1alpha1.Disk, len(ns.inv.Status.Disks))
		for i := range ns.inv.Status.Disks {
			d := &ns.inv.Status.Disks[i]
			if _, dup := byID[diskID(d)]; !dup {
				byID[diskID(d)] = d
			}
		}
		p.disks[ns.name] = byID
		p.prev[ns.name] = ns.prev
		p.collectOSDs(ns)
	}
	p.shared = findShared(nodes)
	p.wipes = p.resolveWipes(nodes)
	p.reportDuplicates()
	p.indexJobs()
	p.indexOSDJobs()
	for _, ns := range nodes {
		if r := p.reservations(ns); r != nil {
			p.reserved[ns.name] = r
		}
	}
	p.planNodes(nodes, memo)
	p.orphanOSDJobs(p.planned)
	p.unmatchedRequests()
	p.scheduleJobs(nodes)
	p.finish(nodes)
	return plan
}

// inventories returns the published inventories, one per node, in node
// name order. An inventory the agent has not published yet (no disks, never
// scanned) is not planned: there is nothing to say about its disks.
func (p *planner) inventories() []*nodeState {
	var nodes []*nodeState
	var err error
	seen := map[string]bool{}
	invs := make([]*cephv1alpha1.DiskInventory, len(p.in.Inventories))
	for i := range p.in.Inventories {
		invs[i] = &p.in.Inventories[i]
	}
	sort.SliceStable(invs, func(i, j int) bool { return inventoryNode(invs[i]) < inventoryNode(invs[j]) })
	for _, inv := range invs {
		name := inventoryNode(inv)
		if seen[name] {
			p.problems = append(p.problems, fmt.Sprintf("more than one DiskInventory describes node %s; only the first by name is planned", name))
			continue
		}
		seen[name] = true
		if len(inv.Status.Disks) == 0 && inv.Status.LastScanTime == nil {
			continue
		}
		ns := &nodeState{name: name, inv: inv, prev: make(map[string]*cephv1alpha1.DevicePlan, len(inv.Status.Plan))}
		ns.records, err = ParseFailureRecords(inv.Annotations[FailureRecordsAnnotation])
		if err != nil {
			p.problems = append(p.problems, fmt.Sprintf("DiskInventory %s: %v; its failure records are ignored", inv.Name, err))
		}
		if !p.selected[name] {
			s, ok := p.nodes.Skipped[name]
			if !ok {
				s = nodeselect.Skip{Reason: ReasonNodeGone, Message: fmt.Sprintf("node %s no longer exists", name)}
			}
			ns.skip = &s
		}
		for i := range inv.Status.Plan {
			dp := &inv.Status.Plan[i]
			if _, dup := ns.prev[dp.ID]; !dup {
				ns.prev[dp.ID] = dp
			}
		}
		p.expandSplits(ns)
		nodes = append(nodes, ns)
	}
	return nodes
}

// inventoryNode is the node an inventory describes.
func inventoryNode(inv *cephv1alpha1.DiskInventory) string {
	if inv.Spec.NodeName != "" {
		return inv.Spec.NodeName
	}
	return inv.Name
}

// collectOSDs notes where each OSD id of this cluster is found.
func (p *planner) collectOSDs(ns *nodeState) {
	for i := range ns.inv.Status.Disks {
		d := &ns.inv.Status.Disks[i]
		if d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.OSDID != nil && !p.foreign(d) && !purgedLabel(ns, d) {
			id := *d.Verdict.OSDID
			p.osdDisks[id] = append(p.osdDisks[id], osdCopy{node: ns.name, disk: d})
		}
	}
}

// osdCopy is a disk that carries an OSD id.
type osdCopy struct {
	node string
	disk *cephv1alpha1.Disk
}

// whereIs names the disks that carry one OSD id, for messages. They are
// formatted only for a duplicate: formatting every OSD's took a tenth of a
// plan at 12,000 OSDs.
func whereIs(disks []osdCopy) string {
	names := make([]string, len(disks))
	for i, d := range disks {
		names[i] = fmt.Sprintf("%s/%s (%s)", d.node, d.disk.Name, diskID(d.disk))
	}
	return strings.Join(names, ", ")
}

// reportDuplicates adds a Problem for each OSD id found on more than one
// disk.
func (p *planner) reportDuplicates() {
	ids := make([]int32, 0, len(p.osdDisks))
	for id, where := range p.osdDisks {
		if len(where) > 1 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		p.problems = append(p.problems, fmt.Sprintf("OSD %d is found on more than one disk: %s; no OSD Deployment is managed for it until only one remains", id, whereIs(p.osdDisks[id])))
	}
}

// foreign reports whether disk d claims to hold an OSD of this cluster
// while its label carries another FSID. The agent already rejects such a
// disk; the planner checks again rather than run a stranger's OSD.
func (p *planner) foreign(d *cephv1alpha1.Disk) bool {
	fsid := p.in.Cluster.Status.FSID
	return fsid != "" && d.Verdict.ClusterFSID != "" && !strings.EqualFold(fsid, d.Verdict.ClusterFSID)
}

// planNode plans every disk of one inventory, except the decision between
// preparing and waiting, which scheduleJobs makes across nodes.
func (p *planner) planNode(ns *nodeState) {
	rules := p.rulesOf(ns.name)
	nj := p.jobs[ns.name]
	ns.entries = make([]entry, len(ns.inv.Status.Disks))
	for i := range ns.inv.Status.Disks {
		d := &ns.inv.Status.Disks[i]
		s := rules.selectDisk(d)
		e := &ns.entries[i]
		e.index = i
		e.disk = d
		pi, child := ns.parentOf[i]
		if child {
			// A partition of a split disk is selected as the disk is;
			// its OSD keeps its DB on itself.
			s = rules.selectDisk(&ns.inv.Status.Disks[pi])
			s.layout.metadata = ""
		}
		e.sel = s
		e.device = deviceOf(d, s.deviceClass)
		e.plan = cephv1alpha1.DevicePlan{Name: d.Name, ID: e.device.ID, DeviceClass: s.deviceClass}
		if child {
			e.device = childDevice(ns, i, s.deviceClass)
			e.plan.Parent = ns.inv.Status.Disks[pi].ID
			e.plan.Partition = partitionRef(e.device.Data)
			if why := p.shared[ns.name][diskID(&ns.inv.Status.Disks[pi])]; why != "" {
				if p.shared[ns.name] == nil {
					p.shared[ns.name] = map[string]string{}
				}
				p.shared[ns.name][e.device.ID] = why
			}
		}
		if sd := ns.splits[i]; sd != nil {
			e.plan.DeviceClass, e.sel.layout.metadata = "", ""
			p.planSplit(e, sd)
			continue
		}
		if p.planWipe(ns, i) {
			// A decommissioned OSD's disk being wiped keeps its record.
			if prev := ns.prev[e.device.ID]; prev != nil && prev.Decommission != nil && e.plan.Decommission == nil {
				e.plan.Decommission, e.plan.OSDID = prev.Decommission.DeepCopy(), prev.OSDID
			}
			continue
		}
		switch d.Verdict.State {
		case cephv1alpha1.DiskOSD:
			p.planOSD(ns, e, s)
			if !child && e.plan.Action == cephv1alpha1.ActionProvisioned {
				e.plan.Message += splitNote(s)
			}
		case cephv1alpha1.DiskAvailable:
			if p.planAvailable(ns, nj, e, s) {
				ns.candidates = append(ns.candidates, i)
			}
		default:
			p.planUnavailable(ns, e, s)
		}
	}
}

// planOSD plans a disk that holds an OSD of this cluster.
func (p *planner) planOSD(ns *nodeState, e *entry, s diskSelection) {
	d := e.disk
	if p.foreign(d) {
		e.plan.Action, e.plan.Reason = cephv1alpha1.ActionLeftOut, string(discovery.ForeignCephCluster)
		e.plan.Message = fmt.Sprintf("the disk's BlueStore label carries fsid %s, not this cluster's %s", d.Verdict.ClusterFSID, p.in.Cluster.Status.FSID)
		return
	}
	e.plan.Action = cephv1alpha1.ActionProvisioned
	if d.Verdict.OSDID == nil {
		e.plan.Message = "discovery found an OSD of this cluster but no OSD id; no OSD Deployment is managed for it"
		p.problems = append(p.problems, fmt.Sprintf("disk %s/%s holds an OSD of this cluster but discovery reported no OSD id", ns.name, d.Name))
		return
	}
	id := *d.Verdict.OSDID
	e.plan.OSDID = &id
	switch {
	case len(p.osdDisks[id]) > 1:
		e.plan.Reason = ReasonDuplicateOSDID
		e.plan.Message = fmt.Sprintf("OSD %d is found on more than one disk: %s; no OSD Deployment is managed for it until only one remains", id, whereIs(p.osdDisks[id]))
		return
	case ns.skip != nil && ns.skip.Reason == ReasonNodeGone:
		e.plan.Reason = ReasonNodeGone
		e.plan.Message = fmt.Sprintf("holds OSD %d, which is kept although %s: decommission it (spec.storage.decommission) to remove it", id, ns.skip.Message)
	case ns.skip != nil:
		e.plan.Reason = ReasonOSDNotSelected
		e.plan.Message = fmt.Sprintf("holds OSD %d, which is kept although the node is not selected: %s", id, ns.skip.Message)
	case !s.selected:
		e.plan.Reason = ReasonOSDNotSelected
		e.plan.Message = fmt.Sprintf("holds OSD %d, which is kept although the storage selection no longer picks the disk: %s", id, s.message)
	default:
		e.plan.Message = fmt.Sprintf("holds OSD %d", id)
	}
	p.markPlanned(id)
	// Before the decommission: a disk being decommissioned shows its DB
	// too, and the record of one destroyed for replacement keeps it.
	p.attachDB(ns, e)
	if !p.decommission(ns, e, id) {
		return
	}
	p.markFailing(ns, e, id)
	p.plan.OSDs = append(p.plan.OSDs, OSDSpec{ID: id, Node: ns.name, Device: e.device, Topology: p.topology(ns.name)})
}

// planUnavailable plans a disk that discovery rejected: the selection's
// reason comes first, as it is what the user controls, then discovery's.
func (p *planner) planUnavailable(ns *nodeState, e *entry, s diskSelection) {
	e.plan.Action = cephv1alpha1.ActionLeftOut
	switch {
	case p.shared[ns.name][e.device.ID] != "":
		e.plan.Reason, e.plan.Message = ReasonSharedDevice, p.shared[ns.name][e.device.ID]
	case ns.skip != nil:
		e.plan.Reason, e.plan.Message = ns.skip.Reason, ns.skip.Message
	case !s.selected:
		e.plan.Reason, e.plan.Message = s.reason, s.message
	default:
		e.plan.Reason, e.plan.Message = e.disk.Verdict.Reason, e.disk.Verdict.Message
		if e.disk.Verdict.State != cephv1alpha1.DiskRejected && e.plan.Message == "" {
			e.plan.Message = fmt.Sprintf("discovery reported state %q, not Available", e.disk.Verdict.State)
		}
	}
}

// planAvailable plans a disk discovery found empty and returns true when it
// is a candidate to prepare. A disk in a Running Job, or in a finished Job
// that reported it prepared and whose result the agent has not reported
// yet, is Preparing even if the selection changed meanwhile: that is what
// is happening to it.
func (p *planner) planAvailable(ns *nodeState, nj *nodeJobs, e *entry, s diskSelection) bool {
	id := e.device.ID
	prev := ns.prev[id]
	if p.decommissionedDisk(ns, e) {
		return false
	}
	if s.selected && ns.skip == nil && p.shared[ns.name][id] == "" {
		p.replacement(ns, e)
	}
	if nj != nil {
		if job, ok := nj.running[id]; ok {
			carriedFailures(ns, e, prev)
			e.plan.Action = cephv1alpha1.ActionPreparing
			e.plan.Message = fmt.Sprintf("prepare Job %s is turning it into an OSD", job)
			return false
		}
		if job, ok := nj.succeeded[id]; ok {
			carriedFailures(ns, e, prev)
			p.planKept(ns, e, job)
			return false
		}
	}
	e.plan.Action = cephv1alpha1.ActionLeftOut
	switch {
	case p.shared[ns.name][id] != "":
		e.plan.Reason, e.plan.Message = ReasonSharedDevice, p.shared[ns.name][id]
		return false
	case ns.skip != nil:
		e.plan.Reason, e.plan.Message = ns.skip.Reason, ns.skip.Message
		return false
	case !s.selected:
		e.plan.Reason, e.plan.Message = s.reason, s.message
		return false
	}
	if nj != nil {
		if f := nj.failed[id]; f != nil {
			p.recordFailure(ns, e, prev, f)
			return false
		}
	}
	if stillRefused(ns, e, prev) || p.waitsForBackoff(ns, e, prev) {
		return false
	}
	e.plan.Action = cephv1alpha1.ActionWouldProvision
	return true
}

// planKept plans a disk that a finished, kept Job reported prepared while
// the inventory still shows it Available. The node's agent is asked to
// rescan once for the Job; when it answered and the disk still shows
// Available, the plan says so and nothing more is asked: the Job stays, so
// the disk is never prepared a second time, and the agent and the operator
// do not ask each other for scans in a loop.
func (p *planner) planKept(ns *nodeState, e *entry, job *PrepareJob) {
	e.plan.Action = cephv1alpha1.ActionPreparing
	if job.RescanRequest == 0 || ns.inv.Status.ObservedRescanRequest < job.RescanRequest {
		e.plan.Message = fmt.Sprintf("prepare Job %s finished; waiting for the agent to rescan the node", job.Name)
		return
	}
	e.plan.Message = fmt.Sprintf("prepare Job %s reported it prepared, but the agent's rescan (request %d) still shows it Available; "+
		"the Job is kept so that the disk is not prepared twice and no further rescan is asked for: check the agent on node %s, "+
		"and delete the Job to let the disk be planned again", job.Name, job.RescanRequest, ns.name)
}

// finish sorts the plan and computes the counts.
func (p *planner) finish(nodes []*nodeState) {
	plan := p.plan
	for _, ns := range nodes {
		var plans []cephv1alpha1.DevicePlan
		records := map[string]string{}
		if m := ns.reused; m != nil && m.final != nil {
			plans = m.final
			addCounts(&plan.Counts, m.counts)
		} else {
			var counts cephv1alpha1.OSDCounts
			plans, counts = p.finishNode(ns, records)
			addCounts(&plan.Counts, counts)
			if m := ns.remember; m != nil && len(ns.candidates) == 0 {
				m.final, m.counts = plans, counts
			}
		}
		plan.DevicePlans[ns.name] = plans
		// An inventory that still awaits the answer to a rescan request
		// needs no new one: asking again would only make the agent scan
		// more often.
		if job := p.rescan[ns.name]; job != "" && ns.inv.Spec.RescanRequest <= ns.inv.Status.ObservedRescanRequest {
			plan.Rescan = append(plan.Rescan, ns.name)
			if plan.RescanJobs == nil {
				plan.RescanJobs = map[string]string{}
			}
			plan.RescanJobs[ns.name] = job
		}
		if n := p.recorded[ns.name]; n > ns.inv.Spec.RescanRequest {
			if plan.RescanResume == nil {
				plan.RescanResume = map[string]int64{}
			}
			plan.RescanResume[ns.name] = n
		}
		if v := FormatFailureRecords(records); v != ns.inv.Annotations[FailureRecordsAnnotation] {
			if plan.FailureRecords == nil {
				plan.FailureRecords = map[string]string{}
			}
			plan.FailureRecords[ns.name] = v
		}
	}
	plan.Counts.Desired += plan.Counts.Provisioned + plan.Counts.Preparing + plan.Counts.Failed
	for i := range p.in.OSDs {
		if p.in.OSDs[i].Ready {
			plan.Counts.Running++
		}
	}
	if len(plan.OSDs) == 0 {
		plan.OSDs = nil
	}
	sort.Slice(plan.OSDs, func(i, j int) bool { return plan.OSDs[i].ID < plan.OSDs[j].ID })
	sort.Slice(plan.CreateJobs, func(i, j int) bool { return plan.CreateJobs[i].Node < plan.CreateJobs[j].Node })
	sort.Strings(plan.DeleteJobs)
	sort.Slice(plan.CreateOSDJobs, func(i, j int) bool {
		a, b := plan.CreateOSDJobs[i], plan.CreateOSDJobs[j]
		return a.OSDID < b.OSDID || (a.OSDID == b.OSDID && a.Step < b.Step)
	})
	plan.DeleteOSDJobs = dedupe(plan.DeleteOSDJobs)
	sort.Strings(plan.DeleteOSDJobs)
	sort.Slice(plan.StopOSDs, func(i, j int) bool { return plan.StopOSDs[i] < plan.StopOSDs[j] })
	sort.Slice(plan.Reverted, func(i, j int) bool { return plan.Reverted[i] < plan.Reverted[j] })
	sort.Strings(plan.Rescan)
	plan.Problems = dedupe(p.problems)
}

// finishNode returns the sorted plans of ns and their counts, and notes
// the failure records of its disks in records.
func (p *planner) finishNode(ns *nodeState, records map[string]string) ([]cephv1alpha1.DevicePlan, cephv1alpha1.OSDCounts) {
	var counts cephv1alpha1.OSDCounts
	plans := make([]cephv1alpha1.DevicePlan, len(ns.entries))
	p.noteSatisfiedWipes(ns)
	finishSplits(ns)
	for i := range ns.entries {
		e := &ns.entries[i]
		if e.record != "" && e.plan.LastFailureTime != nil {
			records[e.device.ID] = e.record
		}
		plans[i] = e.plan
		plans[i].Message = Truncate(e.plan.Message, MaxMessageLength)
		switch plans[i].Action {
		case cephv1alpha1.ActionProvisioned:
			counts.Provisioned++
		case cephv1alpha1.ActionPreparing:
			counts.Preparing++
		case cephv1alpha1.ActionFailed:
			if plans[i].Reason == ReasonOSDFailing {
				// It holds an OSD: provisioned, and failing.
				counts.Provisioned++
				counts.Failing++
				break
			}
			counts.Failed++
		case cephv1alpha1.ActionWouldProvision:
			counts.Desired++
		case cephv1alpha1.ActionDecommissioning:
			counts.Decommissioning++
		case cephv1alpha1.ActionMissing:
			counts.Missing++
		}
	}
	sort.SliceStable(plans, func(i, j int) bool {
		if plans[i].Name != plans[j].Name {
			return plans[i].Name < plans[j].Name
		}
		return plans[i].ID < plans[j].ID
	})
	return plans, counts
}

// addCounts adds the counts of a node's disks to the cluster's.
func addCounts(to *cephv1alpha1.OSDCounts, c cephv1alpha1.OSDCounts) {
	to.Provisioned += c.Provisioned
	to.Preparing += c.Preparing
	to.Failed += c.Failed
	to.Failing += c.Failing
	to.Desired += c.Desired
	to.Decommissioning += c.Decommissioning
	to.Missing += c.Missing
}

// now is in.Now, counted: a node whose planning read the clock is not
// remembered.
func (p *planner) now() time.Time {
	p.clockReads++
	return p.in.Now
}

// markPlanned notes that a disk entry planned OSD id.
func (p *planner) markPlanned(id int32) {
	p.planned[id] = true
	p.plannedLog = append(p.plannedLog, id)
}

// dedupe returns msgs without repeats, in their first order.
func dedupe(msgs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range msgs {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// topology returns the topology labels of node, nil when it has none.
func (p *planner) topology(node string) map[string]string {
	i, ok := p.nodeOf[node]
	if !ok {
		return nil
	}
	var out map[string]string
	for _, k := range TopologyLabels {
		if v, ok := p.in.Nodes[i].Labels[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

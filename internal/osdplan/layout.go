package osdplan

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// DeviceClassLabel is the Node label that gives the CRUSH device class of
// the node's OSDs. A node's or a disk's entry in spec.storage.nodes that
// sets a class wins over it; it wins over the cluster-wide class.
const DeviceClassLabel = "ceph.cephoperator.io/device-class"

// Reasons of the metadata-device layout.
const (
	// ReasonMetadataDeviceMissing: the metadata device the disk's OSD
	// would keep its DB on names no disk of the node.
	ReasonMetadataDeviceMissing = "MetadataDeviceMissing"
	// ReasonMetadataDeviceUnusable: the metadata device is not blank and
	// holds nothing but this cluster's DB/WAL partitions (it has data, an
	// OSD, another cluster's partitions, or is in use).
	ReasonMetadataDeviceUnusable = "MetadataDeviceUnusable"
	// ReasonMetadataDeviceFull: the metadata device has no room for the
	// DB (and WAL) partitions of all its new data disks; none of them is
	// prepared.
	ReasonMetadataDeviceFull = "MetadataDeviceFull"
	// ReasonDBPartitionMissing: an OSD that kept its DB on a metadata
	// device no longer finds that partition; it cannot run without it.
	ReasonDBPartitionMissing = "DBPartitionMissing"
)

// Sizes of the layout.
const (
	mib = int64(1) << 20
	gib = int64(1) << 30
	// partitionAlign aligns every partition the operator makes.
	partitionAlign = mib
	// gptReserve is what a metadata device keeps free at each end for
	// the GPT and its backup (one aligned MiB each).
	gptReserve = mib
	// maxPartitions is the number of entries of the GPTs the operator
	// writes.
	maxPartitions = 128
	// DefaultDBPercent is the default DB partition size as a share of
	// the data disk, in percent, and MinDBSize its floor.
	DefaultDBPercent = 4
	MinDBSize        = gib
)

// Partition is a DB or WAL partition on a metadata device that an OSD uses
// or a prepare Job uses or makes for one.
type Partition struct {
	// Role is DB or WAL.
	Role cephv1alpha1.PartitionRole
	// Device is the metadata device, with the identity agent prepare
	// checks before it writes a partition table entry.
	Device Device
	// Number is the partition's number in the GPT; its label carries it
	// too.
	Number int32
	// Label is its GPT name (PartitionLabel).
	Label string
	// StartBytes and SizeBytes place it; both aligned to 1 MiB.
	StartBytes int64
	SizeBytes  int64
	// Exists is true for a partition already on the disk (a blank one an
	// earlier attempt made, or the one an OSD uses).
	Exists bool
	// ReplacesOSDUUID, for an existing partition, is the uuid of the OSD
	// destroyed for replacement whose DB it held: agent prepare clears it
	// only if it still carries exactly that OSD's label.
	ReplacesOSDUUID string
	// PartUUID is the partition's GPT unique GUID when it exists: the OSD
	// finds its DB by it.
	PartUUID string
}

// PartitionLabel is the GPT name of partition number of the given role
// that this cluster makes (gpt.Label): "ceph-db.<fsid8>.<number>", where
// fsid8 is the first 8 hex digits of the FSID. The slot in the name is
// the partition's number. Discovery recognises a metadata device by these
// names.
func PartitionLabel(role cephv1alpha1.PartitionRole, fsid string, number int32) string {
	return gpt.Label(strings.ToLower(string(role)), fsid, int(number))
}

// validClass is the pattern of a CRUSH device class (as the API's).
var validClass = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// rulesOf is the node's selection rules, with the class of the node's
// device-class label between the node entry's and the cluster's.
func (p *planner) rulesOf(node string) *nodeRules {
	r := p.sel.rules(node)
	if r.entry != nil && r.entry.Config.DeviceClass != "" {
		return r
	}
	i, ok := p.nodeOf[node]
	if !ok {
		return r
	}
	v, ok := p.in.Nodes[i].Labels[DeviceClassLabel]
	switch {
	case !ok || v == "":
	case validClass.MatchString(v):
		r.class = v
	default:
		p.problems = append(p.problems, fmt.Sprintf("node %s's label %s=%q is not a valid device class (lower-case letters, digits, '-' or '_', at most 32); it is ignored",
			node, DeviceClassLabel, v))
	}
	return r
}

// reservedPartition is the DB partition of an OSD destroyed for
// replacement: the disk that replaces it in its slot reuses it.
type reservedPartition struct {
	ref     cephv1alpha1.PartitionRef
	osdUUID string
}

// metaDevice is a metadata device of one node as the layout sees it.
type metaDevice struct {
	entry *entry
	// users are the entries whose OSD keeps, or would keep, its DB here.
	users []*entry
}

// findDisk returns the entry of the node's disk that name names (kernel
// name, link or stable id), or nil.
func findDisk(ns *nodeState, name string) *entry {
	for i := range ns.entries {
		if namesDisk(name, ns.entries[i].disk) {
			return &ns.entries[i]
		}
	}
	return nil
}

// usableMetadata reports whether a metadata device can take new DB
// partitions, and why not.
func (p *planner) usableMetadata(ns *nodeState, md *entry) (bool, string) {
	d := md.disk
	if why := p.shared[ns.name][md.device.ID]; why != "" {
		return false, why
	}
	switch d.Verdict.State {
	case cephv1alpha1.DiskAvailable, cephv1alpha1.DiskMetadataDevice:
		return true, ""
	case cephv1alpha1.DiskRejected:
		// TooSmall is the verdict of an otherwise blank disk: the minimum
		// size is for data disks, not for a metadata device.
		if d.Verdict.Reason == string(discovery.TooSmall) {
			return true, ""
		}
	case cephv1alpha1.DiskOSD:
		return false, "it holds an OSD"
	}
	msg := d.Verdict.Reason
	if d.Verdict.Message != "" {
		msg += ": " + d.Verdict.Message
	}
	return false, "discovery rejected it (" + msg + ")"
}

// dbPartitions maps the OSD uuid on each of this cluster's DB and WAL
// partitions of the node to that partition: on its metadata devices, and
// on a disk discovery rejects for now (a metadata device found busy) that
// still shows them. A running OSD keeps its DB partition whatever the
// device's verdict says at one scan.
func dbPartitions(ns *nodeState, fsid string) map[string][]Partition {
	var out map[string][]Partition
	for i := range ns.inv.Status.Disks {
		d := &ns.inv.Status.Disks[i]
		switch d.Verdict.State {
		case cephv1alpha1.DiskMetadataDevice, cephv1alpha1.DiskRejected:
		default:
			continue
		}
		dev := deviceOf(d, "")
		for _, part := range d.Partitions {
			if _, f8, _, ok := gpt.ParseLabel(part.Label); part.OSDUUID == "" || !ok || f8 != gpt.FSID8(fsid) {
				continue
			}
			if out == nil {
				out = map[string][]Partition{}
			}
			u := strings.ToLower(part.OSDUUID)
			out[u] = append(out[u], Partition{Role: part.Role, Device: dev, Number: part.Number, Label: part.Label,
				StartBytes: part.StartBytes, SizeBytes: part.SizeBytes, Exists: true, PartUUID: part.PartUUID})
		}
	}
	return out
}

// attachDB gives a provisioned OSD's device the DB and WAL partitions its
// uuid is found on. An OSD whose previous plan had a DB partition that is
// gone is reported: it cannot start without it, and the plan says which
// metadata device it depended on.
func (p *planner) attachDB(ns *nodeState, e *entry) {
	if ns.parts == nil {
		ns.parts = dbPartitions(ns, p.in.Cluster.Status.FSID)
		if ns.parts == nil {
			ns.parts = map[string][]Partition{}
		}
	}
	uuid := strings.ToLower(e.disk.Verdict.OSDUUID)
	for _, part := range ns.parts[uuid] {
		part := part
		ref := partitionRef(&part)
		switch part.Role {
		case cephv1alpha1.PartitionDB:
			e.device.DB, e.plan.DB = &part, ref
		case cephv1alpha1.PartitionWAL:
			e.device.WAL, e.plan.WAL = &part, ref
		}
	}
	if e.device.DB != nil {
		e.plan.Message += fmt.Sprintf("; its DB is on %s partition %d", metaName(ns, e.device.DB.Device.ID), e.device.DB.Number)
		return
	}
	if prev := ns.prev[e.device.ID]; prev != nil && prev.DB != nil && uuid != "" {
		e.plan.DB = prev.DB.DeepCopy()
		e.plan.DB.Exists = false
		// The OSD keeps looking for its partition by GUID: its pod
		// template, and so the OSD, does not change, and its pod says
		// which partition it misses.
		e.device.DB = &Partition{Role: cephv1alpha1.PartitionDB, Device: Device{ID: prev.DB.Device}, Number: prev.DB.Number,
			SizeBytes: prev.DB.SizeBytes, Exists: true, PartUUID: prev.DB.PartUUID}
		if prev.WAL != nil {
			e.plan.WAL = prev.WAL.DeepCopy()
			e.plan.WAL.Exists = false
			e.device.WAL = &Partition{Role: cephv1alpha1.PartitionWAL, Device: Device{ID: prev.WAL.Device}, Number: prev.WAL.Number,
				SizeBytes: prev.WAL.SizeBytes, Exists: true, PartUUID: prev.WAL.PartUUID}
		}
		e.plan.Reason = ReasonDBPartitionMissing
		e.plan.Message = fmt.Sprintf("holds OSD %d, whose DB partition %d on metadata device %s is not found on the node: the OSD cannot run without it; "+
			"if the metadata device is lost, every OSD whose DB it held is lost with it", *e.plan.OSDID, prev.DB.Number, prev.DB.Device)
	}
}

// metaName names a metadata device of the node for messages: its kernel
// name, or its id when the node no longer shows it.
func metaName(ns *nodeState, id string) string {
	for i := range ns.inv.Status.Disks {
		if diskID(&ns.inv.Status.Disks[i]) == id {
			return ns.inv.Status.Disks[i].Name
		}
	}
	return id
}

// layoutNode decides the metadata-device part of one node's plan, after
// planNode: which disks are metadata devices (they never become OSDs and
// their plan says Metadata), and for every candidate whose OSD keeps its
// DB on one, the partitions it uses or gets. A candidate whose metadata
// device is missing, unusable or full is left out with the reason; nothing
// falls back to keeping the DB on the data disk.
func (p *planner) layoutNode(ns *nodeState) {
	metas := map[*entry]*metaDevice{}
	meta := func(e *entry) *metaDevice {
		m := metas[e]
		if m == nil {
			m = &metaDevice{entry: e}
			metas[e] = m
		}
		return m
	}
	// Metadata devices: every disk some disk's rule names (also one that
	// names itself), and every disk that already is one.
	for i := range ns.entries {
		e := &ns.entries[i]
		if e.sel.layout.metadata != "" {
			if md := findDisk(ns, e.sel.layout.metadata); md != nil {
				meta(md)
			}
		}
		if e.disk.Verdict.State == cephv1alpha1.DiskMetadataDevice {
			meta(e)
		}
	}
	if len(metas) == 0 && !p.anyLayout(ns) {
		return
	}
	// A metadata device is never a candidate itself.
	isMeta := func(i int) bool { return metas[&ns.entries[i]] != nil }
	ns.candidates = filterIdx(ns.candidates, func(i int) bool { return !isMeta(i) })

	groups := map[*entry][]*entry{}
	keep := ns.candidates[:0]
	for _, i := range ns.candidates {
		e := &ns.entries[i]
		name := e.sel.layout.metadata
		if name == "" {
			keep = append(keep, i)
			continue
		}
		md := findDisk(ns, name)
		switch md {
		case nil:
			p.leaveOut(e, ReasonMetadataDeviceMissing, fmt.Sprintf("%s %q names no disk on node %s; the disk waits for it rather than keep its DB on itself", e.sel.layout.field, name, ns.name))
			continue
		case e:
			continue
		}
		if ok, why := p.usableMetadata(ns, md); !ok {
			p.leaveOut(e, ReasonMetadataDeviceUnusable, fmt.Sprintf("its metadata device %s (%s, from %s) cannot take DB partitions: %s", md.disk.Name, md.device.ID, e.sel.layout.field, why))
			continue
		}
		groups[md] = append(groups[md], e)
		keep = append(keep, i)
	}
	ns.candidates = keep
	mds := make([]*entry, 0, len(groups))
	for md := range groups {
		mds = append(mds, md)
	}
	sort.Slice(mds, func(i, j int) bool { return mds[i].device.ID < mds[j].device.ID })
	for _, md := range mds {
		if !p.assign(ns, md, groups[md]) {
			drop := map[*entry]bool{}
			for _, e := range groups[md] {
				drop[e] = true
			}
			ns.candidates = filterIdx(ns.candidates, func(i int) bool { return !drop[&ns.entries[i]] })
			continue
		}
		meta(md).users = groups[md]
	}
	for e, m := range metas {
		switch ok, _ := p.usableMetadata(ns, e); {
		case ok:
			p.planMetadata(ns, m)
		default:
			// An OSD, or a disk discovery rejected, keeps its own plan;
			// the disks that would use it say why they cannot.
		}
	}
}

// anyLayout reports whether any disk of the node has a metadata-device
// rule.
func (p *planner) anyLayout(ns *nodeState) bool {
	for i := range ns.entries {
		if ns.entries[i].sel.layout.metadata != "" {
			return true
		}
	}
	return false
}

// leaveOut takes a candidate out with a reason.
func (p *planner) leaveOut(e *entry, reason, msg string) {
	e.plan.Action, e.plan.Reason, e.plan.Message = cephv1alpha1.ActionLeftOut, reason, msg
	e.plan.DB, e.plan.WAL, e.device.DB, e.device.WAL = nil, nil, nil, nil
}

// filterIdx keeps the indexes for which keep is true.
func filterIdx(idx []int, keep func(int) bool) []int {
	out := idx[:0]
	for _, i := range idx {
		if keep(i) {
			out = append(out, i)
		}
	}
	return out
}

// span is a byte range [start, end) of a disk.
type span struct{ start, end int64 }

// DBSize is the DB partition size of a data disk of dataBytes, given the
// configured size (nil: the default rule, DefaultDBPercent of the data
// disk and at least MinDBSize), rounded up to the partition alignment.
func DBSize(configured *int64, dataBytes int64) int64 {
	n := dataBytes / 100 * DefaultDBPercent
	if configured != nil {
		n = *configured
	}
	n = max(n, MinDBSize)
	return alignUp(n)
}

func alignUp(n int64) int64   { return (n + partitionAlign - 1) / partitionAlign * partitionAlign }
func alignDown(n int64) int64 { return n / partitionAlign * partitionAlign }

// assign gives every data disk of group (sorted by id) the partitions of
// its DB (and WAL) on metadata device md: first the blank partitions
// already there, by number, then new ones in the free space, lowest free
// number and offset first. It is deterministic, so a plan made again after
// a crash (a partition made, the OSD not) gives every disk the same
// partitions. When the new partitions do not all fit, every disk of the
// group is left out and false is returned: a layout is made whole or not
// at all.
func (p *planner) assign(ns *nodeState, md *entry, group []*entry) bool {
	sort.Slice(group, func(i, j int) bool { return group[i].device.ID < group[j].device.ID })
	d := md.disk
	var used []span
	numbers := map[int32]bool{}
	free := map[cephv1alpha1.PartitionRole][]cephv1alpha1.DiskPartition{}
	if d.Verdict.State == cephv1alpha1.DiskMetadataDevice {
		for _, part := range d.Partitions {
			used = append(used, span{part.StartBytes, part.StartBytes + part.SizeBytes})
			numbers[part.Number] = true
			if part.OSDUUID == "" {
				free[part.Role] = append(free[part.Role], part)
			}
		}
	}
	for _, parts := range free {
		sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	}
	sort.Slice(used, func(i, j int) bool { return used[i].start < used[j].start })
	fsid := p.in.Cluster.Status.FSID
	var need int64
	take := func(role cephv1alpha1.PartitionRole, size int64) (*Partition, bool) {
		for i, part := range free[role] {
			if part.SizeBytes >= size {
				free[role] = append(free[role][:i:i], free[role][i+1:]...)
				return &Partition{Role: role, Device: md.device, Number: part.Number, Label: part.Label,
					StartBytes: part.StartBytes, SizeBytes: part.SizeBytes, Exists: true, PartUUID: part.PartUUID}, true
			}
		}
		need += size
		number := int32(0)
		for n := int32(1); n <= maxPartitions; n++ {
			if !numbers[n] {
				number = n
				break
			}
		}
		start, ok := firstFit(used, d.SizeBytes, size)
		if number == 0 || !ok {
			return nil, false
		}
		numbers[number] = true
		used = append(used, span{start, start + size})
		sort.Slice(used, func(i, j int) bool { return used[i].start < used[j].start })
		return &Partition{Role: role, Device: md.device, Number: number, Label: PartitionLabel(role, fsid, number), StartBytes: start, SizeBytes: size}, true
	}
	avail := freeBytes(used, d.SizeBytes)
	full := false
	for _, e := range group {
		if db := p.reusedDB(ns, md, e); db != nil {
			e.device.DB = db
		} else {
			db, ok := take(cephv1alpha1.PartitionDB, DBSize(e.sel.layout.dbSize, e.disk.SizeBytes))
			full = full || !ok
			e.device.DB = db
		}
		if w := e.sel.layout.walSize; w != nil && *w > 0 {
			wal, ok := take(cephv1alpha1.PartitionWAL, alignUp(*w))
			full = full || !ok
			e.device.WAL = wal
		}
	}
	if full {
		for _, e := range group {
			p.leaveOut(e, ReasonMetadataDeviceFull, fmt.Sprintf("metadata device %s (%s) has no room for the DB/WAL partitions of all %d new disks whose OSDs would keep their DB on it: "+
				"their new partitions need %s, it has %s free; none of them is prepared (set databaseSizeBytes smaller, or use a larger metadata device)",
				d.Name, md.device.ID, len(group), formatBytes(need), formatBytes(avail)))
		}
		return false
	}
	for _, e := range group {
		e.plan.DB = partitionRef(e.device.DB)
		e.plan.WAL = partitionRef(e.device.WAL)
	}
	return true
}

// reusedDB is the DB partition on md of the OSD that replacement disk e
// takes over (destroyed for replacement, with its DB there), when the
// partition still carries that OSD's label; nil otherwise.
func (p *planner) reusedDB(ns *nodeState, md, e *entry) *Partition {
	if e.device.OSDID == nil {
		return nil
	}
	r, ok := p.reservedDB[ns.name][slotOf(e.disk)]
	if !ok || r.ref.Device != md.device.ID {
		return nil
	}
	for _, part := range md.disk.Partitions {
		if part.Number == r.ref.Number && part.PartUUID == r.ref.PartUUID && part.Role == cephv1alpha1.PartitionDB &&
			strings.EqualFold(part.OSDUUID, r.osdUUID) {
			return &Partition{Role: part.Role, Device: md.device, Number: part.Number, Label: part.Label, StartBytes: part.StartBytes,
				SizeBytes: part.SizeBytes, Exists: true, PartUUID: part.PartUUID, ReplacesOSDUUID: part.OSDUUID}
		}
	}
	return nil
}

// firstFit returns the lowest aligned start of size free bytes on a disk
// of diskBytes whose used ranges are used (sorted), keeping gptReserve
// free at both ends.
func firstFit(used []span, diskBytes, size int64) (int64, bool) {
	start := gptReserve
	end := alignDown(diskBytes - gptReserve)
	for _, u := range used {
		if u.start-start >= size {
			break
		}
		start = max(start, alignUp(u.end))
	}
	if end-start >= size {
		return start, true
	}
	return 0, false
}

// freeBytes is the aligned free space of a disk of diskBytes whose used
// ranges are used (sorted), without the GPT's reserve at both ends.
func freeBytes(used []span, diskBytes int64) int64 {
	var n int64
	start, end := gptReserve, alignDown(diskBytes-gptReserve)
	for _, u := range used {
		if u.start > start {
			n += min(u.start, end) - start
		}
		start = max(start, alignUp(u.end))
	}
	if end > start {
		n += end - start
	}
	return max(n, 0)
}

// partitionRef is the plan's view of a partition.
func partitionRef(part *Partition) *cephv1alpha1.PartitionRef {
	if part == nil {
		return nil
	}
	return &cephv1alpha1.PartitionRef{Device: part.Device.ID, Number: part.Number, SizeBytes: part.SizeBytes, Exists: part.Exists, PartUUID: part.PartUUID}
}

// planMetadata writes the plan of a metadata device: which OSDs keep their
// DB on it, which disks would, and what losing it means.
func (p *planner) planMetadata(ns *nodeState, m *metaDevice) {
	e := m.entry
	e.plan.Action, e.plan.Reason = cephv1alpha1.ActionMetadata, ""
	e.plan.OSDID, e.plan.DB, e.plan.WAL = nil, nil, nil
	var held []string
	if e.disk.Verdict.State == cephv1alpha1.DiskMetadataDevice {
		osdOf := map[string]string{}
		for i := range ns.inv.Status.Disks {
			d := &ns.inv.Status.Disks[i]
			if d.Verdict.OSDUUID != "" {
				who := d.Name
				if d.Verdict.OSDID != nil {
					who = fmt.Sprintf("OSD %d (%s)", *d.Verdict.OSDID, d.Name)
				}
				osdOf[strings.ToLower(d.Verdict.OSDUUID)] = who
			}
		}
		unused := 0
		for _, part := range e.disk.Partitions {
			if part.OSDUUID == "" {
				unused++
				continue
			}
			who := osdOf[strings.ToLower(part.OSDUUID)]
			if who == "" {
				who = "OSD uuid " + part.OSDUUID + " (its data disk is not on the node)"
			}
			held = append(held, fmt.Sprintf("%s of %s on partition %d", part.Role, who, part.Number))
		}
		if unused > 0 {
			held = append(held, strconv.Itoa(unused)+" unused partition(s)")
		}
	}
	var would []string
	for _, u := range m.users {
		s := fmt.Sprintf("%s of %s on partition %d", cephv1alpha1.PartitionDB, u.disk.Name, u.device.DB.Number)
		if !u.device.DB.Exists {
			s += " (new, " + formatBytes(u.device.DB.SizeBytes) + ")"
		}
		would = append(would, s)
	}
	var parts []string
	if len(held) > 0 {
		parts = append(parts, "holds the "+strings.Join(held, ", "))
	}
	if len(would) > 0 {
		parts = append(parts, "would hold the "+strings.Join(would, ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, "holds no partition yet")
	}
	e.plan.Message = "metadata device: " + strings.Join(parts, "; ") + "; losing it loses every OSD whose DB it holds"
}

// layoutNote is what a candidate's plan message adds about its DB and WAL.
func layoutNote(ns *nodeState, e *entry) string {
	if part := e.device.Data; part != nil {
		s := fmt.Sprintf("; on partition %d of %s", part.Number, metaName(ns, part.Device.ID))
		if !part.Exists {
			s += fmt.Sprintf(" (to be made, %s)", formatBytes(part.SizeBytes))
		}
		return s
	}
	if e.device.DB == nil {
		return ""
	}
	note := func(part *Partition) string {
		s := fmt.Sprintf("%s partition %d", metaName(ns, part.Device.ID), part.Number)
		if !part.Exists {
			s += fmt.Sprintf(" (to be made, %s)", formatBytes(part.SizeBytes))
		}
		return s
	}
	s := "; its DB on " + note(e.device.DB)
	if e.device.WAL != nil {
		s += ", its WAL on " + note(e.device.WAL)
	}
	return s
}

// formatBytes prints n in the largest binary unit that keeps one decimal.
func formatBytes(n int64) string {
	switch {
	case n >= gib:
		return strconv.FormatFloat(float64(n)/float64(gib), 'f', 1, 64) + " GiB"
	default:
		return strconv.FormatFloat(float64(n)/float64(mib), 'f', 1, 64) + " MiB"
	}
}

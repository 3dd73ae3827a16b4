package osdplan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// Reasons of the split layout (osdsPerDevice).
const (
	// ReasonSplitTooSmall: the blank disk would be split into
	// osdsPerDevice partitions, but each would be smaller than the minimum
	// OSD size; nothing is made on it.
	ReasonSplitTooSmall = "SplitTooSmall"
	// ReasonSplitUnchanged: the disk is split already (wholly or partly),
	// and the osdsPerDevice that applies to it now asks for another
	// layout: it keeps the partitions it has, none is made or removed.
	ReasonSplitUnchanged = "SplitUnchanged"
)

// MaxOSDsPerDevice is the most OSDs one disk is split into (the API's
// bound).
const MaxOSDsPerDevice = 8

// partType is the Type of the disk the planner makes up for a partition
// of a split disk (see expandSplits).
const partType = "part"

// SplitLayout is the layout of a blank disk of diskBytes split into n OSD
// data partitions: n partitions of one size, numbered 1 to n in disk
// order, the first at 1 MiB, each right after the one before. The size is
// the space from 1 MiB to the last whole MiB that leaves at least 1 MiB at
// the disk's end (the GPT and its backup keep those), divided by n and
// rounded down to a whole MiB; what the rounding leaves (less than n MiB)
// stays unused at the end. It returns size 0 when the disk has no room.
func SplitLayout(diskBytes int64, n int) (size int64, starts []int64) {
	if n < 1 {
		return 0, nil
	}
	usable := alignDown(diskBytes-gptReserve) - gptReserve
	size = alignDown(usable / int64(n))
	if size <= 0 {
		return 0, nil
	}
	for i := range n {
		starts = append(starts, gptReserve+int64(i)*size)
	}
	return size, starts
}

// DataPartitionLabel is the GPT name of OSD data partition number of a
// disk split for the cluster with fsid: "ceph-osd.<fsid8>.<number>".
func DataPartitionLabel(fsid string, number int32) string {
	return gpt.Label(gpt.RoleOSD, fsid, int(number))
}

// splitDisk is a disk of a node that is, or would be, split into OSD data
// partitions; each partition is planned as a disk of its own.
type splitDisk struct {
	// parent is the disk's index in the node's disks (see expandSplits),
	// and children are the indexes of its partitions, in number order.
	parent   int
	children []int
	// want is the osdsPerDevice that applies to the disk now, and field
	// the spec field it comes from.
	want  int
	field string
	// reason and note are what the disk's own plan says besides its
	// partitions: SplitUnchanged and why, a metadataDevice that does not
	// apply.
	reason, note string
	// tooSmall says why a blank disk is left out: its partitions would be
	// smaller than the minimum OSD size.
	tooSmall string
}

// osdsWanted is the osdsPerDevice of a disk's selection, 1 when unset.
func osdsWanted(s diskSelection) int {
	if s.layout.osds == nil || *s.layout.osds < 1 {
		return 1
	}
	return int(min(*s.layout.osds, MaxOSDsPerDevice))
}

// minOSDBytes is the smallest partition that may become an OSD: the
// minimum disk size of spec.storage.config.minSize, as discovery applies
// it to whole disks.
func (p *planner) minOSDBytes() int64 {
	if ms := p.storage.Config.MinSize; ms != nil && ms.Value() > 0 {
		return ms.Value()
	}
	return int64(discovery.DefaultMinSizeBytes)
}

// childID is the id the plan, Jobs and Deployments know partition number
// of a split disk by: the disk's id followed by "-part<number>", as udev
// names the by-id links of partitions.
func childID(parent *cephv1alpha1.Disk, number int32) string {
	return diskID(parent) + "-part" + strconv.Itoa(int(number))
}

// parentDisk is the split disk of node whose partition part stands for,
// or nil.
func (p *planner) parentDisk(node string, part *cephv1alpha1.Disk) *cephv1alpha1.Disk {
	if len(part.Partitions) != 1 {
		return nil
	}
	id, ok := strings.CutSuffix(diskID(part), "-part"+strconv.Itoa(int(part.Partitions[0].Number)))
	if !ok {
		return nil
	}
	return p.disks[node][id]
}

// partitionName is the kernel name of partition n of disk: nvme0n1p3,
// loop4p1 (a disk whose name ends in a digit gets a p), sdb3.
func partitionName(disk string, n int32) string {
	if disk != "" && disk[len(disk)-1] >= '0' && disk[len(disk)-1] <= '9' {
		return disk + "p" + strconv.Itoa(int(n))
	}
	return disk + strconv.Itoa(int(n))
}

// expandSplits adds to the node's disks one disk per OSD data partition of
// every disk that is, or would be, split, so that the rest of the planner
// plans each partition's OSD as it plans a whole disk's: its selection,
// Job, failures and backoff, Deployment and decommission, all by the
// partition's own id (childID). The split disk itself keeps its entry,
// planned Split (see planSplit). The inventory is not changed: ns.inv
// becomes a copy with the longer list.
//
//   - A disk discovery found split (OSDPartitions) keeps exactly the
//     partitions it has, whatever osdsPerDevice says now; only when they
//     are the first ones of the layout osdsPerDevice asks for (a prepare
//     stopped after making some) are the missing ones of that layout
//     added. Nothing is ever re-split.
//   - A blank (Available), selected disk with osdsPerDevice above 1 that
//     no disk names as its metadata device gets the partitions of
//     SplitLayout, all to be made, unless they would be smaller than the
//     minimum OSD size.
func (p *planner) expandSplits(ns *nodeState) {
	disks := ns.inv.Status.Disks
	rules := p.sel.rules(ns.name)
	sels := make([]diskSelection, len(disks))
	split := false
	for i := range disks {
		sels[i] = rules.selectDisk(&disks[i])
		split = split || disks[i].Verdict.State == cephv1alpha1.DiskOSDPartitions || osdsWanted(sels[i]) > 1
	}
	if !split {
		return
	}
	// A disk some disk names as its metadata device is never split.
	meta := map[int]bool{}
	for i := range disks {
		if name := sels[i].layout.metadata; name != "" {
			for j := range disks {
				if namesDisk(name, &disks[j]) {
					meta[j] = true
				}
			}
		}
	}
	fsid := p.in.Cluster.Status.FSID
	out := append(make([]cephv1alpha1.Disk, 0, len(disks)+8), disks...)
	for i := range disks {
		d, s := &disks[i], sels[i]
		want := osdsWanted(s)
		var sd *splitDisk
		var children []cephv1alpha1.Disk
		switch {
		case d.Verdict.State == cephv1alpha1.DiskOSDPartitions:
			sd, children = p.existingSplit(ns, d, s, want)
		case d.Verdict.State == cephv1alpha1.DiskAvailable && want > 1 && s.selected && ns.skip == nil && !meta[i]:
			sd, children = p.newSplit(d, s, want, fsid)
		default:
			continue
		}
		if s.layout.metadata != "" && !meta[i] {
			sd.note = fmt.Sprintf("%s %q does not apply to a split disk: each of its OSDs keeps its DB on its own partition", s.layout.field, s.layout.metadata)
		}
		sd.parent = i
		for _, c := range children {
			out = append(out, c)
			sd.children = append(sd.children, len(out)-1)
		}
		if ns.splits == nil {
			ns.splits, ns.parentOf = map[int]*splitDisk{}, map[int]int{}
		}
		ns.splits[i] = sd
		for _, c := range sd.children {
			ns.parentOf[c] = i
		}
	}
	if ns.splits == nil {
		return
	}
	inv := *ns.inv
	inv.Status.Disks = out
	ns.inv = &inv
}

// newSplit is the layout of a blank disk split into want partitions.
func (p *planner) newSplit(d *cephv1alpha1.Disk, s diskSelection, want int, fsid string) (*splitDisk, []cephv1alpha1.Disk) {
	sd := &splitDisk{want: want, field: s.layout.osdsField}
	size, starts := SplitLayout(d.SizeBytes, want)
	if size < p.minOSDBytes() {
		sd.tooSmall = fmt.Sprintf("%s %d would split %s (%s) into %d partitions of %s each, less than the minimum OSD size of %s (spec.storage.config.minSize); nothing is made on it: lower osdsPerDevice, or use a larger disk",
			sd.field, want, d.Name, formatBytes(d.SizeBytes), want, formatBytes(size), formatBytes(p.minOSDBytes()))
		return sd, nil
	}
	children := make([]cephv1alpha1.Disk, 0, want)
	for n, start := range starts {
		number := int32(n + 1)
		children = append(children, childDisk(d, cephv1alpha1.DiskPartition{Number: number, Label: DataPartitionLabel(fsid, number),
			Role: cephv1alpha1.PartitionData, StartBytes: start, SizeBytes: size}, false))
	}
	return sd, children
}

// existingSplit is the layout of a disk discovery found split: its
// partitions, and the missing ones of the layout osdsPerDevice asks for
// when the ones it has are the first of that layout.
func (p *planner) existingSplit(ns *nodeState, d *cephv1alpha1.Disk, s diskSelection, want int) (*splitDisk, []cephv1alpha1.Disk) {
	sd := &splitDisk{want: want, field: s.layout.osdsField}
	var parts []cephv1alpha1.DiskPartition
	for _, part := range d.Partitions {
		if part.Role == cephv1alpha1.PartitionData {
			parts = append(parts, part)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	size, starts := SplitLayout(d.SizeBytes, want)
	extend := want > 1 && s.selected && ns.skip == nil && len(parts) < want && size >= p.minOSDBytes()
	have := map[int32]bool{}
	for _, part := range parts {
		have[part.Number] = true
		if part.Number < 1 || int(part.Number) > len(starts) || part.StartBytes != starts[part.Number-1] || part.SizeBytes != size {
			extend = false
		}
	}
	children := make([]cephv1alpha1.Disk, 0, max(want, len(parts)))
	for _, part := range parts {
		children = append(children, childDisk(d, part, true))
	}
	if extend {
		fsid := p.in.Cluster.Status.FSID
		for n, start := range starts {
			number := int32(n + 1)
			if !have[number] {
				children = append(children, childDisk(d, cephv1alpha1.DiskPartition{Number: number, Label: DataPartitionLabel(fsid, number),
					Role: cephv1alpha1.PartitionData, StartBytes: start, SizeBytes: size}, false))
			}
		}
		sort.Slice(children, func(i, j int) bool { return children[i].Name < children[j].Name })
		return sd, children
	}
	if s.selected && ns.skip == nil && (want != len(parts) || !uniform(parts, size)) {
		sd.reason = ReasonSplitUnchanged
		sd.note = fmt.Sprintf("osdsPerDevice is %d for this disk now (%s), but it is split into %s already: it keeps them as they are, nothing is re-split",
			want, fieldOr(sd.field), plural(len(parts), "partition", "partitions"))
	}
	return sd, children
}

// uniform reports whether every partition has the given size.
func uniform(parts []cephv1alpha1.DiskPartition, size int64) bool {
	for _, part := range parts {
		if part.SizeBytes != size {
			return false
		}
	}
	return true
}

// fieldOr is the spec field osdsPerDevice comes from, or says it is unset.
func fieldOr(field string) string {
	if field == "" {
		return "unset, so 1"
	}
	return "from " + field
}

// plural is "1 partition" or "n partitions".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// childDisk is the disk the planner makes up for data partition part of
// split disk parent: named after the partition (its kernel name once the
// kernel shows it), with the verdict its label gives it. exists is false
// for a partition a prepare Job is to make.
func childDisk(parent *cephv1alpha1.Disk, part cephv1alpha1.DiskPartition, exists bool) cephv1alpha1.Disk {
	name := part.Name
	if name == "" {
		name = partitionName(parent.Name, part.Number)
	}
	c := cephv1alpha1.Disk{Name: name, ID: childID(parent, part.Number), Path: "/dev/" + name, Type: partType, SizeBytes: part.SizeBytes,
		Rotational: parent.Rotational, ContentHash: parent.ContentHash, Health: parent.Health, Partitions: []cephv1alpha1.DiskPartition{part}}
	switch {
	case !exists:
		c.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable,
			Message: fmt.Sprintf("partition %d of %s, to be made (%s)", part.Number, parent.Name, formatBytes(part.SizeBytes))}
	case part.OSDID != nil:
		id := *part.OSDID
		c.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id, ClusterFSID: parent.Verdict.ClusterFSID, OSDUUID: part.OSDUUID,
			Message: fmt.Sprintf("partition %d of %s holds OSD %d of this cluster (osd uuid %s)", part.Number, parent.Name, id, part.OSDUUID)}
	case part.OSDUUID != "":
		c.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: string(discovery.PartiallyPrepared), OSDUUID: part.OSDUUID,
			Message: fmt.Sprintf("partition %d of %s carries the label of an OSD whose creation did not complete (osd uuid %s); it is left alone", part.Number, parent.Name, part.OSDUUID)}
	default:
		c.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable,
			Message: fmt.Sprintf("partition %d of %s is blank (%s)", part.Number, parent.Name, formatBytes(part.SizeBytes))}
	}
	return c
}

// childDevice is the Device of a partition's OSD: the split disk's path
// and identity, which agent prepare checks before it writes the partition
// table, and the partition itself.
func childDevice(ns *nodeState, i int, class string) Device {
	d := &ns.inv.Status.Disks[i]
	parent := &ns.inv.Status.Disks[ns.parentOf[i]]
	pd := deviceOf(parent, "")
	part := d.Partitions[0]
	exists := part.PartUUID != ""
	return Device{Name: d.Name, ID: diskID(d), Path: pd.Path, DeviceClass: class, WWN: pd.WWN, Serial: pd.Serial, SizeBytes: pd.SizeBytes,
		Data: &Partition{Role: cephv1alpha1.PartitionData, Device: pd, Number: part.Number, Label: part.Label, StartBytes: part.StartBytes,
			SizeBytes: part.SizeBytes, Exists: exists, PartUUID: part.PartUUID}}
}

// planSplit plans a split disk's own entry: Split, with the layout filled
// in by finishSplits once its partitions are planned; LeftOut when its
// partitions would be too small.
func (p *planner) planSplit(e *entry, sd *splitDisk) {
	if sd.tooSmall != "" {
		e.plan.Action, e.plan.Reason, e.plan.Message = cephv1alpha1.ActionLeftOut, ReasonSplitTooSmall, sd.tooSmall
		return
	}
	e.plan.Action, e.plan.Reason = cephv1alpha1.ActionSplit, sd.reason
}

// finishSplits writes each split disk's message: the whole layout, and
// what each partition's OSD is, or would be. For example
// "2 OSDs on nvme0n1 (partitions 1 and 2, 6.0 GiB each; 2 to be made):
// nvme0n1p1 WouldProvision, nvme0n1p2 WouldProvision".
func finishSplits(ns *nodeState) {
	for i, sd := range ns.splits {
		e := &ns.entries[i]
		if sd.tooSmall != "" {
			continue
		}
		var numbers []string
		var toMake int
		sizes := map[int64]bool{}
		var size int64
		states := make([]string, 0, len(sd.children))
		for _, c := range sd.children {
			ce := &ns.entries[c]
			part := ce.device.Data
			numbers = append(numbers, strconv.Itoa(int(part.Number)))
			sizes[part.SizeBytes], size = true, part.SizeBytes
			if !part.Exists {
				toMake++
			}
			st := string(ce.plan.Action)
			if ce.plan.OSDID != nil {
				st += fmt.Sprintf(" (OSD %d)", *ce.plan.OSDID)
			}
			states = append(states, ce.plan.Name+" "+st)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s on %s", plural(len(sd.children), "OSD", "OSDs"), e.disk.Name)
		switch {
		case len(numbers) == 0:
			b.WriteString(" (no partition)")
		default:
			b.WriteString(" (" + partitionList(numbers))
			if len(sizes) == 1 {
				fmt.Fprintf(&b, ", %s each", formatBytes(size))
			} else {
				b.WriteString(", of different sizes")
			}
			if toMake > 0 {
				fmt.Fprintf(&b, "; %d to be made", toMake)
			}
			b.WriteString(")")
		}
		if len(states) > 0 {
			b.WriteString(": " + strings.Join(states, ", "))
		}
		if sd.note != "" {
			b.WriteString("; " + sd.note)
		}
		e.plan.Message = b.String()
	}
}

// partitionList is "partition 1", "partitions 1 and 2" or "partitions 1,
// 2 and 3".
func partitionList(ns []string) string {
	switch len(ns) {
	case 1:
		return "partition " + ns[0]
	default:
		return "partitions " + strings.Join(ns[:len(ns)-1], ", ") + " and " + ns[len(ns)-1]
	}
}

// splitNote is what a whole-disk OSD's plan adds when osdsPerDevice above
// 1 applies to it: the disk is one OSD, and stays one.
func splitNote(s diskSelection) string {
	if want := osdsWanted(s); want > 1 {
		return fmt.Sprintf("; osdsPerDevice %d (%s) does not apply: the disk already is one OSD, and nothing is re-split", want, fieldOr(s.layout.osdsField))
	}
	return ""
}

package discovery

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// The descriptions BlueStore writes into the label of an OSD's DB and WAL
// devices.
const (
	bluefsDBDescription  = "bluefs db"
	bluefsWALDescription = "bluefs wal"
	// mainDescription is what BlueStore writes into the label of an
	// OSD's main (data) device.
	mainDescription = "main"
)

// readPartitions reads the GPT of a device open as r (size bytes) and
// merges its entries into d.GPTPartitions, which holds what sysfs showed;
// for each DB and WAL partition it reads the first MiB, from the device at
// the partition's offset, for a BlueStore label or blankness. A device
// without a GPT (an MBR) keeps the kernel's view alone; a damaged GPT is
// recorded in d.GPTError.
func readPartitions(d *Device, r io.ReaderAt, size int64) {
	ss := d.LogicalSectorSize
	if ss == 0 {
		ss = 512
	}
	tab, err := gpt.Read(r, size, ss)
	switch {
	case errors.Is(err, gpt.ErrNoGPT):
		return
	case err != nil:
		d.GPTError = err.Error()
		return
	}
	byNumber := map[int]int{}
	for i, p := range d.GPTPartitions {
		byNumber[p.Number] = i
	}
	for _, e := range tab.Partitions {
		i, ok := byNumber[e.Number]
		if !ok {
			d.GPTPartitions = append(d.GPTPartitions, GPTPartition{Number: e.Number})
			i = len(d.GPTPartitions) - 1
		}
		p := &d.GPTPartitions[i]
		p.InTable = true
		p.Label, p.Type, p.PartUUID = e.Name, e.Type, e.UUID
		p.StartBytes, p.SizeBytes = e.Start(ss), e.Size(ss)
		if roleOfType(p.Type) != "" {
			if err := probePartition(p, r); err != nil {
				d.ScanErrors = append(d.ScanErrors, err.Error())
			}
		}
	}
	sort.SliceStable(d.GPTPartitions, func(a, b int) bool { return d.GPTPartitions[a].Number < d.GPTPartitions[b].Number })
}

// probePartition reads the first MiB of a partition (less when it is
// smaller) from its parent device.
func probePartition(p *GPTPartition, r io.ReaderAt) error {
	n := min(p.SizeBytes, ProbeHeadBytes)
	buf, err := readFull(r, p.StartBytes, int(n))
	if err != nil {
		return fmt.Errorf("reading the start of partition %d at offset %d: %w", p.Number, p.StartBytes, err)
	}
	p.Probed = true
	p.digest = sha256.Sum256(buf)
	if l, err := ceph.ParseBlueStoreLabel(buf[:min(len(buf), ceph.BlueStoreLabelSize)]); err == nil {
		p.BlueStore = l
	} else if !errors.Is(err, ceph.ErrNoBlueStoreLabel) {
		p.BlueStoreError = err.Error()
	}
	if i := firstNonZero(buf); i >= 0 {
		p.NonZero, p.FirstNonZeroOffset = true, int64(i)
	}
	return nil
}

// roleOfType returns gpt.RoleDB, gpt.RoleWAL or gpt.RoleOSD for the type
// GUIDs of the operator's partitions, else "".
func roleOfType(typ string) string {
	switch strings.ToLower(typ) {
	case gpt.TypeCephDB:
		return gpt.RoleDB
	case gpt.TypeCephWAL:
		return gpt.RoleWAL
	case gpt.TypeCephOSD:
		return gpt.RoleOSD
	}
	return ""
}

// Role returns gpt.RoleDB, gpt.RoleWAL or gpt.RoleOSD when the partition
// is of the operator's scheme (a DB, WAL or OSD data type GUID and a GPT
// name made by gpt.Label for the same role), and the first eight hex digits of the
// cluster FSID its name carries; ok is false for any other partition.
func (p GPTPartition) Role() (role, fsid8 string, ok bool) {
	if !p.InTable {
		return "", "", false
	}
	role = roleOfType(p.Type)
	r, f8, _, parsed := gpt.ParseLabel(p.Label)
	if role == "" || !parsed || r != role {
		return "", "", false
	}
	return role, f8, true
}

// OSDUUID returns the uuid of the OSD whose BlueStore label lies at the
// partition's start, or "".
func (p GPTPartition) OSDUUID() string {
	if p.BlueStore == nil {
		return ""
	}
	return p.BlueStore.OSDUUID
}

// describe names a partition for messages: its number, kernel name and
// GPT name when it has them.
func (p GPTPartition) describe() string {
	var extra []string
	if p.Name != "" {
		extra = append(extra, p.Name)
	}
	if p.Label != "" {
		extra = append(extra, strconv.Quote(p.Label))
	}
	if len(extra) == 0 {
		return fmt.Sprintf("partition %d", p.Number)
	}
	return fmt.Sprintf("partition %d (%s)", p.Number, strings.Join(extra, ", "))
}

// usedByOSD reports whether the partition is a DB, WAL or OSD data
// partition of this cluster's scheme carrying the BlueStore label of the
// role it was made for: the partition an OSD uses. Such a partition is
// expected to be held open by its OSD.
func (p GPTPartition) usedByOSD(o Options) bool {
	role, f8, ok := p.Role()
	return ok && o.ClusterFSID != "" && f8 == gpt.FSID8(o.ClusterFSID) && p.BlueStore != nil &&
		p.BlueStore.Description == bluefsDescription(role) &&
		(p.BlueStore.ClusterFSID == "" || strings.EqualFold(p.BlueStore.ClusterFSID, o.ClusterFSID))
}

func bluefsDescription(role string) string {
	switch role {
	case gpt.RoleWAL:
		return bluefsWALDescription
	case gpt.RoleOSD:
		return mainDescription
	}
	return bluefsDBDescription
}

// OSDID returns the id of the OSD whose complete BlueStore main label of
// the cluster fsid lies at the start of an OSD data partition, or -1.
func (p GPTPartition) OSDID(fsid string) int {
	if l := p.BlueStore; l != nil && l.Description == mainDescription && l.WhoAmI >= 0 && fsid != "" && strings.EqualFold(l.ClusterFSID, fsid) {
		return l.WhoAmI
	}
	return -1
}

// hasGPTEntries reports whether the device's GPT has a used entry.
func (d Device) hasGPTEntries() bool {
	for _, p := range d.GPTPartitions {
		if p.InTable {
			return true
		}
	}
	return false
}

// metadataVerdict judges a device with partitions (as the kernel shows
// them, or as its GPT lists them) that every check of active use has
// passed. It returns the verdict and true when the device is a metadata
// device of this cluster (MetadataDevice), holds DB or WAL partitions of
// another cluster (ForeignCephCluster), or holds a partition of the
// operator's scheme with something else on it (HasUnknownData). It
// returns false for every other device, which the rest of the chain
// judges (HasPartitions, HasPartitionTable, ...).
func metadataVerdict(d Device, o Options) (Verdict, bool) {
	if !d.hasGPTEntries() || d.GPTError != "" || len(d.Signatures) > 0 {
		return Verdict{}, false
	}
	fsid8 := gpt.FSID8(o.ClusterFSID)
	var foreign, unknown []string
	data, meta := 0, 0
	for _, p := range d.GPTPartitions {
		role, _, ok := p.Role()
		switch {
		case !ok:
			// Not of the operator's scheme: the chain says
			// HasPartitions (or HasPartitionTable).
			return Verdict{}, false
		case role == gpt.RoleOSD:
			data++
		default:
			meta++
		}
	}
	if data > 0 && meta > 0 {
		// The operator never puts both on one disk.
		return Verdict{State: StateRejected, Reason: HasUnknownData, OSDID: -1,
			Message: fmt.Sprintf("%s holds both OSD data partitions and DB or WAL partitions of the operator's scheme, which the operator never makes on one disk; it is left alone", d.KernelName)}, true
	}
	for _, p := range d.GPTPartitions {
		role, f8, _ := p.Role()
		if p.Name != "" && (p.KernelStartBytes != p.StartBytes || p.KernelSizeBytes != p.SizeBytes) {
			// The kernel's partition is not the GPT's: someone changed
			// one without the other.
			return Verdict{}, false
		}
		if o.ClusterFSID == "" || f8 != fsid8 {
			foreign = append(foreign, fmt.Sprintf("%s of a cluster whose FSID begins %s", p.describe(), f8))
			continue
		}
		switch l := p.BlueStore; {
		case p.BlueStoreError != "":
			unknown = append(unknown, fmt.Sprintf("%s carries a damaged BlueStore label (%s)", p.describe(), p.BlueStoreError))
		case l != nil && l.ClusterFSID != "" && !strings.EqualFold(l.ClusterFSID, o.ClusterFSID):
			foreign = append(foreign, fmt.Sprintf("%s carries a BlueStore label of cluster %s", p.describe(), l.ClusterFSID))
		case l != nil && l.Description != bluefsDescription(role):
			unknown = append(unknown, fmt.Sprintf("%s, made for a %s, carries a BlueStore label %q (osd uuid %s), not %q",
				p.describe(), strings.ToUpper(role), l.Description, l.OSDUUID, bluefsDescription(role)))
		case l != nil:
		case !p.Probed:
			unknown = append(unknown, fmt.Sprintf("%s was not read", p.describe()))
		case p.NonZero:
			unknown = append(unknown, fmt.Sprintf("%s holds data that is not a BlueStore label: first non-zero byte at offset %d of the partition", p.describe(), p.FirstNonZeroOffset))
		}
	}
	switch {
	case len(foreign) > 0:
		this := "this cluster's begins " + fsid8
		if o.ClusterFSID == "" {
			this = "this cluster's FSID is not known yet"
		}
		return Verdict{State: StateRejected, Reason: ForeignCephCluster, OSDID: -1,
			Message: fmt.Sprintf("%s holds %s partitions of another cluster (%s): %s; it is never touched until wiped explicitly", d.KernelName, kinds(data > 0), this, strings.Join(foreign, "; "))}, true
	case len(unknown) > 0:
		return Verdict{State: StateRejected, Reason: HasUnknownData, OSDID: -1,
			Message: fmt.Sprintf("%s has %s partitions of this cluster, but %s", d.KernelName, kinds(data > 0), strings.Join(unknown, "; "))}, true
	case data > 0:
		return Verdict{State: StateOSDPartitions, OSDID: -1, Message: splitMessage(d, o)}, true
	}
	return Verdict{State: StateMetadataDevice, OSDID: -1, Message: metadataMessage(d)}, true
}

// kinds names the partitions a verdict is about.
func kinds(data bool) string {
	if data {
		return "OSD data"
	}
	return "DB or WAL"
}

// splitMessage says what a disk split into OSD data partitions holds, for
// example "loop5 is split into 2 OSD data partitions of this cluster: OSD
// 3 on partition 1, partition 2 unused".
func splitMessage(d Device, o Options) string {
	var parts, notInKernel []string
	for _, p := range d.GPTPartitions {
		if p.Name == "" {
			notInKernel = append(notInKernel, strconv.Itoa(p.Number))
		}
		switch id := p.OSDID(o.ClusterFSID); {
		case id >= 0:
			parts = append(parts, fmt.Sprintf("OSD %d on partition %d", id, p.Number))
		case p.BlueStore != nil:
			parts = append(parts, fmt.Sprintf("partition %d with an incomplete OSD (osd uuid %s)", p.Number, p.BlueStore.OSDUUID))
		default:
			parts = append(parts, fmt.Sprintf("partition %d unused", p.Number))
		}
	}
	msg := fmt.Sprintf("%s is split into %s of this cluster: %s", d.KernelName, plural(len(d.GPTPartitions), "OSD data partition", "OSD data partitions"), strings.Join(parts, ", "))
	if len(notInKernel) > 0 {
		msg += "; the kernel does not show partition(s) " + strings.Join(notInKernel, ", ") + " yet"
	}
	return msg
}

// metadataMessage says what a metadata device holds, for example "loop4
// is a metadata device of this cluster: it holds the DB partitions of 3
// OSDs (partitions 1–3) and 1 unused partition (4)".
func metadataMessage(d Device) string {
	type group struct {
		numbers []int
		osds    map[string]bool
	}
	groups := map[string]*group{gpt.RoleDB: {osds: map[string]bool{}}, gpt.RoleWAL: {osds: map[string]bool{}}}
	var unused []int
	var notInKernel []int
	for _, p := range d.GPTPartitions {
		role, _, _ := p.Role()
		if p.Name == "" {
			notInKernel = append(notInKernel, p.Number)
		}
		if p.BlueStore == nil {
			unused = append(unused, p.Number)
			continue
		}
		g := groups[role]
		g.numbers = append(g.numbers, p.Number)
		g.osds[p.BlueStore.OSDUUID] = true
	}
	var parts []string
	for _, role := range []string{gpt.RoleDB, gpt.RoleWAL} {
		g := groups[role]
		if len(g.numbers) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("the %s partitions of %s (%s)", strings.ToUpper(role), plural(len(g.osds), "OSD", "OSDs"), numberList(g.numbers)))
	}
	if len(unused) > 0 {
		parts = append(parts, fmt.Sprintf("%s (%s)", plural(len(unused), "unused partition", "unused partitions"), numberList(unused)))
	}
	msg := fmt.Sprintf("%s is a metadata device of this cluster: it holds %s", d.KernelName, strings.Join(parts, " and "))
	if len(notInKernel) > 0 {
		msg += fmt.Sprintf("; the kernel does not show %s yet", numberList(notInKernel))
	}
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// numberList renders partition numbers with runs shortened, such as
// "partitions 1–3, 5" or "partition 4".
func numberList(ns []int) string {
	ns = append([]int(nil), ns...)
	sort.Ints(ns)
	var out []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		switch j {
		case i:
			out = append(out, strconv.Itoa(ns[i]))
		case i + 1:
			out = append(out, strconv.Itoa(ns[i]), strconv.Itoa(ns[j]))
		default:
			out = append(out, fmt.Sprintf("%d–%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	if len(ns) == 1 {
		return "partition " + out[0]
	}
	return "partitions " + strings.Join(out, ", ")
}

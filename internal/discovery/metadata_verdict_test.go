package discovery

import (
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

const mib = 1 << 20

// dbLabel is the BlueStore label ceph-osd writes at the start of an OSD's
// DB (or WAL) device: the OSD's uuid and a description, no cluster.
func dbLabel(osdUUID, description string) *ceph.BlueStoreLabel {
	return &ceph.BlueStoreLabel{OSDUUID: osdUUID, Description: description, WhoAmI: -1, Meta: map[string]string{}}
}

// metaPart is partition n of sdb as the scanner reports an operator-made
// partition of the given role for the cluster with fsid, at n GiB.
func metaPart(n int, role, fsid string, label *ceph.BlueStoreLabel) GPTPartition {
	typ := gpt.TypeCephDB
	if role == gpt.RoleWAL {
		typ = gpt.TypeCephWAL
	}
	start, size := int64(n)<<30, int64(1)<<30
	return GPTPartition{
		Name: "sdb" + string(rune('0'+n)), Number: n, KernelStartBytes: start, KernelSizeBytes: size,
		InTable: true, Label: gpt.Label(role, fsid, n), Type: typ, PartUUID: "11111111-2222-4333-8444-00000000000" + string(rune('0'+n)),
		StartBytes: start, SizeBytes: size, Probed: true, BlueStore: label,
	}
}

// metadataDevice is sdb with the given partitions and a GPT.
func metadataDevice(parts ...GPTPartition) Device {
	d := cleanDevice()
	d.PartTableType = PartTableGPT
	d.NonZeroData, d.FirstNonZeroOffset, d.ProbedHeadBytes, d.ProbedTailBytes = true, 446, mib, mib
	for _, p := range parts {
		if p.Name != "" {
			d.Partitions = append(d.Partitions, p.Name)
		}
	}
	d.GPTPartitions = parts
	return d
}

func TestMetadataDeviceVerdict(t *testing.T) {
	const other = "deadbeef-0000-4000-8000-000000000000"
	db := func(n int, osd string) GPTPartition {
		return metaPart(n, gpt.RoleDB, ourFSID, dbLabel(osd, "bluefs db"))
	}
	unused := func(n int) GPTPartition { return metaPart(n, gpt.RoleDB, ourFSID, nil) }
	with := func(p GPTPartition, f func(*GPTPartition)) GPTPartition { f(&p); return p }
	opts := Options{ClusterFSID: ourFSID}
	for name, c := range map[string]struct {
		dev    Device
		opts   *Options
		state  string
		reason Reason
		msg    []string
	}{
		"three OSDs and one unused": {
			dev: metadataDevice(db(1, "a"), db(2, "b"), db(3, "c"), unused(4)), state: StateMetadataDevice,
			msg: []string{"sdb is a metadata device of this cluster: it holds the DB partitions of 3 OSDs (partitions 1–3) and 1 unused partition (partition 4)"},
		},
		"one unused partition": {
			dev: metadataDevice(unused(1)), state: StateMetadataDevice, msg: []string{"holds 1 unused partition (partition 1)"},
		},
		"DB and WAL": {
			dev:   metadataDevice(db(1, "a"), metaPart(2, gpt.RoleWAL, ourFSID, dbLabel("a", "bluefs wal")), unused(3), unused(5)),
			state: StateMetadataDevice,
			msg:   []string{"the DB partitions of 1 OSD (partition 1) and the WAL partitions of 1 OSD (partition 2) and 2 unused partitions (partitions 3, 5)"},
		},
		"written but not yet in the kernel": {
			dev:   metadataDevice(db(1, "a"), with(unused(2), func(p *GPTPartition) { p.Name, p.KernelStartBytes, p.KernelSizeBytes = "", 0, 0 })),
			state: StateMetadataDevice, msg: []string{"the kernel does not show partition 2 yet"},
		},
		"another cluster's partition": {
			dev:   metadataDevice(db(1, "a"), metaPart(2, gpt.RoleDB, other, nil)),
			state: StateRejected, reason: ForeignCephCluster, msg: []string{"partition 2 (sdb2, \"ceph-db.deadbeef.2\") of a cluster whose FSID begins deadbeef", "this cluster's begins c0ffee00"},
		},
		"this cluster's FSID unknown": {
			dev: metadataDevice(unused(1)), opts: &Options{}, state: StateRejected, reason: ForeignCephCluster, msg: []string{"not known yet"},
		},
		"a label of another cluster": {
			dev: metadataDevice(with(db(1, "a"), func(p *GPTPartition) {
				p.BlueStore.ClusterFSID = other
			})),
			state: StateRejected, reason: ForeignCephCluster, msg: []string{"BlueStore label of cluster " + other},
		},
		"other data on an unused partition": {
			dev: metadataDevice(db(1, "a"), with(unused(2), func(p *GPTPartition) {
				p.NonZero, p.FirstNonZeroOffset = true, 1024
			})),
			state: StateRejected, reason: HasUnknownData, msg: []string{"partition 2 (sdb2", "offset 1024 of the partition"},
		},
		"an OSD's main label on a DB partition": {
			dev:   metadataDevice(metaPart(1, gpt.RoleDB, ourFSID, dbLabel("a", "main"))),
			state: StateRejected, reason: HasUnknownData, msg: []string{"partition 1 (sdb1", `"main"`},
		},
		"a WAL label on a DB partition": {
			dev:   metadataDevice(metaPart(1, gpt.RoleDB, ourFSID, dbLabel("a", "bluefs wal"))),
			state: StateRejected, reason: HasUnknownData, msg: []string{"made for a DB"},
		},
		"a damaged label": {
			dev:   metadataDevice(with(unused(1), func(p *GPTPartition) { p.BlueStoreError = "corrupt BlueStore label" })),
			state: StateRejected, reason: HasUnknownData, msg: []string{"damaged BlueStore label"},
		},
		"a partition not read": {
			dev:   metadataDevice(with(unused(1), func(p *GPTPartition) { p.Probed = false })),
			state: StateRejected, reason: HasUnknownData, msg: []string{"not read"},
		},
		"a Linux partition besides": {
			dev: metadataDevice(db(1, "a"), with(unused(2), func(p *GPTPartition) {
				p.Type, p.Label = "0fc63daf-8483-4772-8e79-3d69d8477de4", "data"
			})),
			state: StateRejected, reason: HasPartitions, msg: []string{"sdb1, sdb2"},
		},
		"a DB type with another name": {
			dev:   metadataDevice(with(unused(1), func(p *GPTPartition) { p.Label = "ceph block.db" })),
			state: StateRejected, reason: HasPartitions,
		},
		"a WAL type with a DB name": {
			dev:   metadataDevice(with(unused(1), func(p *GPTPartition) { p.Type = gpt.TypeCephWAL })),
			state: StateRejected, reason: HasPartitions,
		},
		"a kernel partition not in the GPT": {
			dev:   metadataDevice(db(1, "a"), GPTPartition{Name: "sdb2", Number: 2, KernelStartBytes: 9 << 30, KernelSizeBytes: mib}),
			state: StateRejected, reason: HasPartitions,
		},
		"the kernel's partition differs from the GPT's": {
			dev:   metadataDevice(with(db(1, "a"), func(p *GPTPartition) { p.KernelSizeBytes = mib })),
			state: StateRejected, reason: HasPartitions,
		},
		"a damaged GPT": {
			dev:   func() Device { d := metadataDevice(db(1, "a")); d.GPTError = "damaged GPT"; return d }(),
			state: StateRejected, reason: HasPartitions,
		},
		"a filesystem signature on the whole disk": {
			dev:   func() Device { d := metadataDevice(db(1, "a")); d.Signatures = []string{SigXFS}; return d }(),
			state: StateRejected, reason: HasPartitions,
		},
		"a mounted partition": {
			dev: func() Device {
				d := metadataDevice(db(1, "a"), unused(2))
				d.Mounts = []Mount{{Source: "sdb2", Target: "/mnt"}}
				return d
			}(),
			state: StateRejected, reason: Mounted, msg: []string{"sdb2 is mounted at /mnt"},
		},
		"a partition in swap": {
			dev:   func() Device { d := metadataDevice(unused(1)); d.Swap, d.SwapOn = true, []string{"sdb1"}; return d }(),
			state: StateRejected, reason: InUseAsSwap,
		},
		"a partition held by device-mapper": {
			dev:   func() Device { d := metadataDevice(unused(1)); d.Holders = []string{"dm-0"}; return d }(),
			state: StateRejected, reason: HasHolders,
		},
		"an OSD holding its DB partition open": {
			dev: func() Device {
				d := metadataDevice(db(1, "a"), unused(2))
				d.OpenBy = []Opener{{PID: 42, Command: "ceph-osd", Device: "sdb1"}}
				return d
			}(),
			state: StateMetadataDevice,
		},
		"a process holding an unused partition open": {
			dev: func() Device {
				d := metadataDevice(db(1, "a"), unused(2))
				d.OpenBy = []Opener{{PID: 42, Command: "ceph-osd", Device: "sdb1"}, {PID: 43, Command: "dd", Device: "sdb2"}}
				return d
			}(),
			state: StateRejected, reason: Busy, msg: []string{"pid 43 (dd) holds sdb2"},
		},
		"a process holding the disk open": {
			dev: func() Device {
				d := metadataDevice(db(1, "a"))
				d.OpenBy = []Opener{{PID: 43, Command: "dd", Device: "sdb"}}
				return d
			}(),
			state: StateRejected, reason: Busy,
		},
		"held exclusively": {
			dev:   func() Device { d := metadataDevice(db(1, "a")); d.Busy = true; return d }(),
			state: StateRejected, reason: Busy,
		},
		"unreadable": {
			dev: func() Device {
				d := metadataDevice(db(1, "a"))
				d.ScanErrors = []string{"reading the start of partition 1"}
				return d
			}(),
			state: StateRejected, reason: Unreadable,
		},
	} {
		o := opts
		if c.opts != nil {
			o = *c.opts
		}
		v := Evaluate(c.dev, o)
		if v.State != c.state || v.Reason != c.reason {
			t.Errorf("%s: got %s/%s (%s), want %s/%s", name, v.State, v.Reason, v.Message, c.state, c.reason)
			continue
		}
		for _, m := range c.msg {
			if !strings.Contains(v.Message, m) {
				t.Errorf("%s: message %q lacks %q", name, v.Message, m)
			}
		}
		if v.State == StateMetadataDevice && v.OSDID != -1 {
			t.Errorf("%s: OSDID %d", name, v.OSDID)
		}
	}
}

// TestMetadataDeviceIsNeverWiped: a metadata device is not a wipeable
// verdict, and says why.
func TestMetadataDeviceIsNeverWiped(t *testing.T) {
	v := Evaluate(metadataDevice(metaPart(1, gpt.RoleDB, ourFSID, nil)), Options{ClusterFSID: ourFSID})
	if v.State != StateMetadataDevice {
		t.Fatalf("verdict %+v", v)
	}
	if r := WipeRefusal(v); !strings.Contains(r, "metadata device") {
		t.Errorf("WipeRefusal = %q", r)
	}
	if WipeConfirmation(WipeIdentity{ContentHash: "abc", Reason: v.Reason}) != "" {
		t.Error("a metadata device has a wipe confirmation")
	}
}

// TestMetadataDeviceClaimedByItsOSDs: a running ceph-osd claims its DB
// partition exclusively, so the whole metadata device cannot be opened
// exclusively either. That is the OSD at work, as with its own disk, and
// the device stays a MetadataDevice; a claim on a partition that is not an
// OSD's, or on the whole disk alone, still makes it Busy.
func TestMetadataDeviceClaimedByItsOSDs(t *testing.T) {
	osd := "aaaaaaaa-0000-4000-8000-000000000001"
	db := metaPart(1, gpt.RoleDB, ourFSID, dbLabel(osd, "bluefs db"))
	unused := metaPart(2, gpt.RoleDB, ourFSID, nil)
	opts := Options{ClusterFSID: ourFSID}
	claimed := func(p GPTPartition) GPTPartition { p.Claimed = true; return p }
	for name, c := range map[string]struct {
		dev   Device
		state string
	}{
		"its OSD claims its DB partition": {dev: metadataDevice(claimed(db), unused), state: StateMetadataDevice},
		"an unused partition is claimed":  {dev: metadataDevice(db, claimed(unused)), state: StateRejected},
		"the whole disk alone is claimed": {dev: metadataDevice(db, unused), state: StateRejected},
	} {
		t.Run(name, func(t *testing.T) {
			c.dev.Busy = true
			v := Evaluate(c.dev, opts)
			if v.State != c.state || (c.state == StateRejected && v.Reason != Busy) {
				t.Errorf("%s %s: %s, want %s", v.State, v.Reason, v.Message, c.state)
			}
		})
	}
}

// osdDataPart is partition n of sdb as an OSD data partition of the
// cluster with fsid, carrying label (nil: blank).
func osdDataPart(n int, fsid string, label *ceph.BlueStoreLabel) GPTPartition {
	p := metaPart(n, gpt.RoleOSD, fsid, label)
	p.Type = gpt.TypeCephOSD
	return p
}

// TestSplitDiskVerdict: a disk whose partitions are all OSD data
// partitions of this cluster is OSDPartitions, also while the OSDs on them
// run (each claims its partition, so the whole disk is busy); a claim by
// anyone else, a mix with DB partitions, or a label that is not an OSD's
// main label rejects it.
func TestSplitDiskVerdict(t *testing.T) {
	osd := func(id int) *ceph.BlueStoreLabel {
		l := fixture.Label(ourFSID, id)
		return &l
	}
	opts := Options{ClusterFSID: ourFSID}
	claimed := func(p GPTPartition) GPTPartition { p.Claimed = true; return p }
	for name, c := range map[string]struct {
		dev    Device
		busy   bool
		state  string
		reason Reason
		msg    string
	}{
		"two OSDs":                   {dev: metadataDevice(osdDataPart(1, ourFSID, osd(3)), osdDataPart(2, ourFSID, osd(4))), state: StateOSDPartitions, msg: "OSD 3 on partition 1, OSD 4 on partition 2"},
		"two OSDs running":           {dev: metadataDevice(claimed(osdDataPart(1, ourFSID, osd(3))), claimed(osdDataPart(2, ourFSID, osd(4)))), busy: true, state: StateOSDPartitions},
		"a blank partition claimed":  {dev: metadataDevice(claimed(osdDataPart(1, ourFSID, osd(3))), claimed(osdDataPart(2, ourFSID, nil))), busy: true, state: StateRejected, reason: Busy},
		"a DB label on a data part":  {dev: metadataDevice(osdDataPart(1, ourFSID, dbLabel("a", "bluefs db"))), state: StateRejected, reason: HasUnknownData, msg: `not "main"`},
		"mixed with a DB partition":  {dev: metadataDevice(osdDataPart(1, ourFSID, nil), metaPart(2, gpt.RoleDB, ourFSID, nil)), state: StateRejected, reason: HasUnknownData, msg: "both OSD data partitions and DB or WAL"},
		"an incomplete OSD is shown": {dev: metadataDevice(osdDataPart(1, ourFSID, dbLabel("a", "main"))), state: StateOSDPartitions, msg: "incomplete OSD (osd uuid a)"},
	} {
		t.Run(name, func(t *testing.T) {
			c.dev.Busy = c.busy
			v := Evaluate(c.dev, opts)
			if v.State != c.state || v.Reason != c.reason || !strings.Contains(v.Message, c.msg) {
				t.Errorf("%s %s: %s, want %s %s with %q", v.State, v.Reason, v.Message, c.state, c.reason, c.msg)
			}
			if v.State == StateOSDPartitions && WipeRefusal(v) == "" {
				t.Error("a split disk may be wiped on request")
			}
		})
	}
}

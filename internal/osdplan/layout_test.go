package osdplan

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// hdd is an empty spinning disk of size GiB.
func hdd(name string, size int64) cephv1alpha1.Disk {
	d := avail(name)
	d.SizeBytes, d.Rotational = size<<30, true
	return d
}

// fast is an empty non-rotational disk of size GiB.
func fast(name string, size int64) cephv1alpha1.Disk {
	d := avail(name)
	d.SizeBytes = size << 30
	return d
}

// metaDisk is a metadata device of size GiB holding parts.
func metaDisk(name string, size int64, parts ...cephv1alpha1.DiskPartition) cephv1alpha1.Disk {
	d := fast(name, size)
	d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskMetadataDevice}
	d.Partitions = parts
	return d
}

// dbPart is DB partition number n of size GiB at start GiB (plus the 1 MiB
// the GPT keeps), used by the OSD of uuid ("" for unused).
func dbPart(n int32, startGiB, sizeGiB int64, uuid string) cephv1alpha1.DiskPartition {
	return cephv1alpha1.DiskPartition{Number: n, Name: fmt.Sprintf("nvme0n1p%d", n), PartUUID: fmt.Sprintf("0000000%d-0000-4000-8000-000000000000", n),
		Label: PartitionLabel(cephv1alpha1.PartitionDB, testFSID, n), Role: cephv1alpha1.PartitionDB,
		StartBytes: startGiB<<30 + mib, SizeBytes: sizeGiB << 30, OSDUUID: uuid}
}

// osdWith is a disk holding OSD id with the given uuid.
func osdWith(name string, id int32, uuid string) cephv1alpha1.Disk {
	d := hdd(name, 100)
	d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id, ClusterFSID: testFSID, OSDUUID: uuid}
	return d
}

func metaOn(name string, dbGiB int64) func(*cephv1alpha1.StorageSpec) {
	return func(s *cephv1alpha1.StorageSpec) {
		s.Config.MetadataDevice = name
		if dbGiB > 0 {
			s.Config.DatabaseSizeBytes = ptr(dbGiB << 30)
		}
	}
}

func onlyNodeA() []corev1.Node { return []corev1.Node{node("node-a", nil)} }

// planOf returns the plan entry of disk name on node.
func planOf(t *testing.T, p Plan, node, name string) cephv1alpha1.DevicePlan {
	t.Helper()
	for _, dp := range p.DevicePlans[node] {
		if dp.Name == name {
			return dp
		}
	}
	t.Fatalf("no plan for %s/%s in %+v", node, name, p.DevicePlans[node])
	return cephv1alpha1.DevicePlan{}
}

// wantRef checks a plan's partition reference; an existing partition's
// GUID is the one dbPart gives it.
func wantRef(t *testing.T, what string, got *cephv1alpha1.PartitionRef, device string, number int32, sizeGiB int64, exists bool) {
	t.Helper()
	want := &cephv1alpha1.PartitionRef{Device: wwnID(device), Number: number, SizeBytes: sizeGiB << 30, Exists: exists}
	if exists {
		want.PartUUID = dbPart(number, 0, 0, "").PartUUID
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: partition %+v, want %+v", what, got, want)
	}
}

func TestLayoutMixedNode(t *testing.T) {
	in := Input{
		Cluster:     cluster(metaOn("nvme0n1", 10)),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", hdd("sdb", 100), hdd("sdc", 100), hdd("sdd", 100), fast("nvme0n1", 100))},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 3 {
		t.Fatalf("jobs %+v, want one Job with the three HDDs", got.CreateJobs)
	}
	for i, d := range got.CreateJobs[0].Devices {
		want := &Partition{Role: cephv1alpha1.PartitionDB, Device: deviceOf(&in.Inventories[0].Status.Disks[3], ""), Number: int32(i + 1),
			Label: fmt.Sprintf("ceph-db.8a5d3e1c.%d", i+1), StartBytes: mib + int64(i)*(10<<30), SizeBytes: 10 << 30}
		if !reflect.DeepEqual(d.DB, want) {
			t.Errorf("%s: DB %+v, want %+v", d.Name, d.DB, want)
		}
		if d.WAL != nil {
			t.Errorf("%s: WAL %+v, want none", d.Name, d.WAL)
		}
	}
	nv := planOf(t, got, "node-a", "nvme0n1")
	if nv.Action != cephv1alpha1.ActionMetadata || !strings.Contains(nv.Message, "would hold the DB of sdb on partition 1 (new, 10.0 GiB)") ||
		!strings.Contains(nv.Message, "losing it loses every OSD") {
		t.Errorf("nvme0n1: %s %q", nv.Action, nv.Message)
	}
	for _, n := range []string{"sdb", "sdc", "sdd"} {
		if dp := planOf(t, got, "node-a", n); dp.Action != preparing || dp.DB != nil {
			t.Errorf("%s: %s db %+v, want Preparing without a partition (a running Job does not carry it)", n, dp.Action, dp.DB)
		}
	}
}

func TestLayoutPreviewShowsEveryDisk(t *testing.T) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			metaOn("nvme0n1", 0)(s)
			s.Provisioning = cephv1alpha1.ProvisioningPreview
		}),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", hdd("sdb", 100), hdd("sdc", 10), fast("nvme0n1", 100))},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 0 {
		t.Fatalf("jobs in Preview: %+v", got.CreateJobs)
	}
	// The default rule: 4% of the data disk, at least 1 GiB.
	b := planOf(t, got, "node-a", "sdb")
	wantRef(t, "sdb", b.DB, "nvme0n1", 1, 4, false)
	if b.Action != wouldProvision || !strings.Contains(b.Message, "its DB on nvme0n1 partition 1 (to be made, 4.0 GiB)") {
		t.Errorf("sdb: %s %q", b.Action, b.Message)
	}
	c := planOf(t, got, "node-a", "sdc")
	wantRef(t, "sdc", c.DB, "nvme0n1", 2, 1, false)
}

func TestLayoutTooSmallRefusesAll(t *testing.T) {
	in := Input{
		Cluster:     cluster(metaOn("nvme0n1", 10)),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", hdd("sdb", 100), hdd("sdc", 100), hdd("sdd", 100), fast("nvme0n1", 25))},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 0 {
		t.Fatalf("jobs %+v, want none: the layout does not fit", got.CreateJobs)
	}
	for _, n := range []string{"sdb", "sdc", "sdd"} {
		dp := planOf(t, got, "node-a", n)
		if dp.Action != leftOut || dp.Reason != ReasonMetadataDeviceFull || dp.DB != nil ||
			!strings.Contains(dp.Message, "need 30.0 GiB, it has 25.0 GiB free") {
			t.Errorf("%s: %s/%s %q db %+v", n, dp.Action, dp.Reason, dp.Message, dp.DB)
		}
	}
	if nv := planOf(t, got, "node-a", "nvme0n1"); nv.Action != cephv1alpha1.ActionMetadata || !strings.Contains(nv.Message, "holds no partition yet") {
		t.Errorf("nvme0n1: %s %q", nv.Action, nv.Message)
	}
}

const (
	uuidA = "aaaaaaaa-0000-4000-8000-000000000001"
	uuidB = "bbbbbbbb-0000-4000-8000-000000000002"
)

func TestLayoutAddingADiskLater(t *testing.T) {
	nvme := metaDisk("nvme0n1", 100, dbPart(1, 0, 10, uuidA), dbPart(2, 10, 10, uuidB))
	in := Input{
		Cluster: cluster(metaOn("nvme0n1", 10)),
		Nodes:   onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a",
			osdWith("sdb", 0, uuidA), osdWith("sdc", 1, strings.ToUpper(uuidB)), hdd("sdd", 100), nvme)},
		Now: now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 1 {
		t.Fatalf("jobs %+v, want one for sdd", got.CreateJobs)
	}
	db := got.CreateJobs[0].Devices[0].DB
	if db == nil || db.Number != 3 || db.StartBytes != 20<<30+mib || db.Exists {
		t.Errorf("sdd's DB %+v, want new partition 3 after partition 2", db)
	}
	if len(got.OSDs) != 2 {
		t.Fatalf("OSDs %+v", got.OSDs)
	}
	for i, o := range got.OSDs {
		want := nvme.Partitions[i].PartUUID
		if o.Device.DB == nil || o.Device.DB.PartUUID != want || !o.Device.DB.Exists {
			t.Errorf("OSD %d: DB %+v, want partition %s", o.ID, o.Device.DB, want)
		}
		dp := planOf(t, got, "node-a", o.Device.Name)
		wantRef(t, o.Device.Name, dp.DB, "nvme0n1", int32(i+1), 10, true)
		if !strings.Contains(dp.Message, fmt.Sprintf("its DB is on nvme0n1 partition %d", i+1)) {
			t.Errorf("%s: %q", o.Device.Name, dp.Message)
		}
	}
	nv := planOf(t, got, "node-a", "nvme0n1")
	for _, s := range []string{"DB of OSD 0 (sdb) on partition 1", "DB of OSD 1 (sdc) on partition 2", "would hold the DB of sdd on partition 3"} {
		if !strings.Contains(nv.Message, s) {
			t.Errorf("nvme0n1: %q lacks %q", nv.Message, s)
		}
	}

	// With no room left, the new disk says why and nothing else changes.
	in.Inventories[0].Status.Disks[3] = metaDisk("nvme0n1", 21, dbPart(1, 0, 10, uuidA), dbPart(2, 10, 10, uuidB))
	got = Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 0 || len(got.OSDs) != 2 {
		t.Fatalf("jobs %+v osds %d", got.CreateJobs, len(got.OSDs))
	}
	if dp := planOf(t, got, "node-a", "sdd"); dp.Reason != ReasonMetadataDeviceFull {
		t.Errorf("sdd: %s/%s %q", dp.Action, dp.Reason, dp.Message)
	}
}

func TestLayoutReplanAfterCrashReusesPartition(t *testing.T) {
	// An attempt made partition 1 for sdb and stopped before ceph-volume:
	// the partition is there, blank. The next plan gives sdb the same one.
	nvme := metaDisk("nvme0n1", 100, dbPart(1, 0, 10, ""))
	in := Input{
		Cluster:     cluster(metaOn("nvme0n1", 10)),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", hdd("sdb", 100), hdd("sdc", 100), nvme)},
		Now:         now,
	}
	first := Compute(in)
	checkSafety(t, in, first)
	if len(first.CreateJobs) != 1 {
		t.Fatalf("jobs %+v", first.CreateJobs)
	}
	devs := first.CreateJobs[0].Devices
	if devs[0].DB.Number != 1 || !devs[0].DB.Exists || devs[0].DB.PartUUID != nvme.Partitions[0].PartUUID {
		t.Errorf("sdb: DB %+v, want the existing partition 1", devs[0].DB)
	}
	if devs[1].DB.Number != 2 || devs[1].DB.Exists || devs[1].DB.StartBytes != 10<<30+mib {
		t.Errorf("sdc: DB %+v, want new partition 2", devs[1].DB)
	}
	again := Compute(in)
	if !reflect.DeepEqual(first.CreateJobs, again.CreateJobs) || !reflect.DeepEqual(first.DevicePlans, again.DevicePlans) {
		t.Errorf("a second plan differs")
	}
	// A partition too small for the DB now configured is not reused.
	in.Cluster = cluster(metaOn("nvme0n1", 20))
	got := Compute(in)
	checkSafety(t, in, got)
	if d := got.CreateJobs[0].Devices[0].DB; d.Number != 2 || d.Exists {
		t.Errorf("sdb with a 20 GiB DB: %+v, want new partition 2", d)
	}
}

func TestLayoutUnusableOrMissingMetadataDevice(t *testing.T) {
	cases := []struct {
		name   string
		nvme   cephv1alpha1.Disk
		meta   string
		reason string
		msg    string
		nvmeDP wantDP
	}{
		{
			name: "has a filesystem", nvme: rejected("nvme0n1", "HasFilesystem", "nvme0n1 has an ext4 filesystem"), meta: "nvme0n1",
			reason: ReasonMetadataDeviceUnusable, msg: "cannot take DB partitions: discovery rejected it (HasFilesystem: nvme0n1 has an ext4 filesystem)",
			nvmeDP: dp("nvme0n1", leftOut, "HasFilesystem"),
		},
		{
			name: "another cluster's partitions", nvme: rejected("nvme0n1", "ForeignCephCluster", "partitions of another cluster"), meta: "nvme0n1",
			reason: ReasonMetadataDeviceUnusable, msg: "ForeignCephCluster", nvmeDP: dp("nvme0n1", leftOut, "ForeignCephCluster"),
		},
		{
			name: "an OSD", nvme: osdDisk("nvme0n1", 7), meta: "nvme0n1",
			reason: ReasonMetadataDeviceUnusable, msg: "it holds an OSD", nvmeDP: dp("nvme0n1", provisioned, "").osd(7),
		},
		{
			name: "no such disk", nvme: fast("nvme0n1", 100), meta: "nvme9n1",
			reason: ReasonMetadataDeviceMissing, msg: `spec.storage.config.metadataDevice "nvme9n1" names no disk on node node-a`,
			// The cluster-wide rule applies to every disk of the node.
			nvmeDP: dp("nvme0n1", leftOut, ReasonMetadataDeviceMissing),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{
				Cluster:     cluster(metaOn(tc.meta, 10)),
				Nodes:       onlyNodeA(),
				Inventories: []cephv1alpha1.DiskInventory{inv("node-a", hdd("sdb", 100), tc.nvme)},
				Now:         now,
			}
			got := Compute(in)
			checkSafety(t, in, got)
			dp := planOf(t, got, "node-a", "sdb")
			if dp.Action != leftOut || dp.Reason != tc.reason || !strings.Contains(dp.Message, tc.msg) || dp.DB != nil {
				t.Errorf("sdb: %s/%s %q, want LeftOut/%s containing %q", dp.Action, dp.Reason, dp.Message, tc.reason, tc.msg)
			}
			nv := planOf(t, got, "node-a", "nvme0n1")
			if nv.Action != tc.nvmeDP.action || nv.Reason != tc.nvmeDP.reason {
				t.Errorf("nvme0n1: %s/%s %q, want %s/%s", nv.Action, nv.Reason, nv.Message, tc.nvmeDP.action, tc.nvmeDP.reason)
			}
			for _, j := range got.CreateJobs {
				for _, d := range j.Devices {
					if d.Name == "sdb" || d.DB != nil {
						t.Errorf("Job prepares %s with DB %+v", d.Name, d.DB)
					}
				}
			}
		})
	}
}

// TestLayoutSmallMetadataDevice: the minimum size is for data disks; a
// blank disk below it (TooSmall) can still hold DB partitions.
func TestLayoutSmallMetadataDevice(t *testing.T) {
	small := rejected("nvme0n1", "TooSmall", "nvme0n1 is 4.0 GiB, below the minimum of 5.0 GiB")
	small.SizeBytes = 4 << 30
	in := Input{
		Cluster:     cluster(metaOn("nvme0n1", 1)),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", hdd("sdb", 6), hdd("sdc", 6), hdd("sdd", 6), small)},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 3 {
		t.Fatalf("jobs %+v", got.CreateJobs)
	}
	if last := got.CreateJobs[0].Devices[2].DB; last.Number != 3 || last.StartBytes != mib+2*gib {
		t.Errorf("sdd's DB %+v", last)
	}
	if nv := planOf(t, got, "node-a", "nvme0n1"); nv.Action != cephv1alpha1.ActionMetadata {
		t.Errorf("nvme0n1: %s/%s %q", nv.Action, nv.Reason, nv.Message)
	}
}

func TestLayoutOverridesAndWAL(t *testing.T) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			metaOn("nvme0n1", 2)(s)
			s.Config.WALSizeBytes = ptr(int64(1 << 30))
			s.Nodes = []cephv1alpha1.NodeStorageSpec{
				// node-b keeps every DB on its own disk.
				{Name: "node-b", Config: cephv1alpha1.OSDOverrides{MetadataDevice: ptr("")}},
				// On node-c, sdc keeps its DB on itself and sdb gets a
				// bigger one without a WAL.
				{Name: "node-c", Devices: []cephv1alpha1.DeviceSpec{
					{Name: "sdb", Config: cephv1alpha1.OSDOverrides{DatabaseSizeBytes: ptr(int64(3 << 30)), WALSizeBytes: ptr(int64(0))}},
					{Name: "sdc", Config: cephv1alpha1.OSDOverrides{MetadataDevice: ptr("")}},
				}},
			}
		}),
		Inventories: []cephv1alpha1.DiskInventory{
			inv("node-a", hdd("sdb", 100), hdd("sdc", 100), fast("nvme0n1", 100)),
			inv("node-b", hdd("sdb", 100), fast("nvme0n1", 100)),
			inv("node-c", hdd("sdb", 100), hdd("sdc", 100), fast("nvme0n1", 100)),
		},
		Now: now,
	}
	in.Nodes = defaultNodes()
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 3 {
		t.Fatalf("jobs %+v", got.CreateJobs)
	}
	a := got.CreateJobs[0]
	type part struct {
		n     int32
		start int64
		size  int64
	}
	wantA := [][2]part{{{1, mib, 2 << 30}, {2, mib + 2<<30, 1 << 30}}, {{3, mib + 3<<30, 2 << 30}, {4, mib + 5<<30, 1 << 30}}}
	for i, d := range a.Devices {
		if d.DB == nil || d.WAL == nil {
			t.Fatalf("node-a %s: DB %+v WAL %+v", d.Name, d.DB, d.WAL)
		}
		for k, p := range []*Partition{d.DB, d.WAL} {
			w := wantA[i][k]
			if p.Number != w.n || p.StartBytes != w.start || p.SizeBytes != w.size {
				t.Errorf("node-a %s %s: %+v, want %+v", d.Name, p.Role, p, w)
			}
		}
		if d.WAL.Role != cephv1alpha1.PartitionWAL || d.WAL.Label != fmt.Sprintf("ceph-wal.8a5d3e1c.%d", wantA[i][1].n) {
			t.Errorf("node-a %s WAL: %+v", d.Name, d.WAL)
		}
	}
	b := got.CreateJobs[1]
	if len(b.Devices) != 2 || b.Devices[0].DB != nil || b.Devices[1].DB != nil {
		t.Errorf("node-b: %+v, want both disks as OSDs with their DB on themselves (nvme0n1 is a data disk there)", b.Devices)
	}
	c := got.CreateJobs[2]
	if len(c.Devices) != 2 {
		t.Fatalf("node-c: %+v", c.Devices)
	}
	for _, d := range c.Devices {
		switch d.Name {
		case "sdb":
			if d.DB == nil || d.DB.SizeBytes != 3<<30 || d.WAL != nil {
				t.Errorf("node-c sdb: DB %+v WAL %+v, want a 3 GiB DB and no WAL", d.DB, d.WAL)
			}
		case "sdc":
			if d.DB != nil {
				t.Errorf("node-c sdc: DB %+v, want none", d.DB)
			}
		default:
			t.Errorf("node-c prepares %s", d.Name)
		}
	}
}

func TestLayoutLostDBPartition(t *testing.T) {
	// sdb's OSD kept its DB on nvme0n1 partition 1; the metadata device
	// is gone from the node.
	i := withPlan(inv("node-a", osdWith("sdb", 0, uuidA)), cephv1alpha1.DevicePlan{
		Name: "sdb", ID: wwnID("sdb"), Action: provisioned, OSDID: ptr(int32(0)),
		DB: &cephv1alpha1.PartitionRef{Device: wwnID("nvme0n1"), Number: 1, SizeBytes: 10 << 30, Exists: true, PartUUID: "01234567-89ab-4cde-8f01-23456789abcd"},
	})
	in := Input{Cluster: cluster(metaOn("nvme0n1", 10)), Nodes: onlyNodeA(), Inventories: []cephv1alpha1.DiskInventory{i}, Now: now}
	got := Compute(in)
	checkSafety(t, in, got)
	dp := planOf(t, got, "node-a", "sdb")
	if dp.Action != provisioned || dp.Reason != ReasonDBPartitionMissing || dp.DB == nil || dp.DB.Exists ||
		!strings.Contains(dp.Message, "whose DB partition 1 on metadata device "+wwnID("nvme0n1")+" is not found") {
		t.Errorf("sdb: %s/%s %q db %+v", dp.Action, dp.Reason, dp.Message, dp.DB)
	}
	// Its Deployment keeps looking for the partition by GUID.
	if len(got.OSDs) != 1 || got.OSDs[0].Device.DB == nil || got.OSDs[0].Device.DB.PartUUID != "01234567-89ab-4cde-8f01-23456789abcd" {
		t.Errorf("OSDs %+v, want OSD 0 still with its DB partition's GUID", got.OSDs)
	}
}

func TestLayoutMetadataDeviceNoLongerNamed(t *testing.T) {
	// The spec no longer names nvme0n1, which still holds sdb's DB: it
	// stays a metadata device, never a data disk.
	nvme := metaDisk("nvme0n1", 100, dbPart(1, 0, 10, uuidA), dbPart(2, 10, 10, ""))
	in := Input{
		Cluster:     cluster(nil),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", osdWith("sdb", 0, uuidA), hdd("sdc", 100), nvme)},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	nv := planOf(t, got, "node-a", "nvme0n1")
	if nv.Action != cephv1alpha1.ActionMetadata || !strings.Contains(nv.Message, "holds the DB of OSD 0 (sdb) on partition 1, 1 unused partition(s)") {
		t.Errorf("nvme0n1: %s %q", nv.Action, nv.Message)
	}
	if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 1 || got.CreateJobs[0].Devices[0].Name != "sdc" || got.CreateJobs[0].Devices[0].DB != nil {
		t.Errorf("jobs %+v, want sdc alone with its DB on itself", got.CreateJobs)
	}
	if len(got.OSDs) != 1 || got.OSDs[0].Device.DB == nil {
		t.Errorf("OSDs %+v, want OSD 0 with its DB partition", got.OSDs)
	}
}

func TestDeviceClassFromNodeLabel(t *testing.T) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.Config.DeviceClass = "hdd"
			s.Nodes = []cephv1alpha1.NodeStorageSpec{
				{Name: "node-b", Config: cephv1alpha1.OSDOverrides{DeviceClass: "archive"}},
				{Name: "node-c", Devices: []cephv1alpha1.DeviceSpec{{Name: "sdb", Config: cephv1alpha1.OSDOverrides{DeviceClass: "fast"}}}},
			}
		}),
		Nodes: []corev1.Node{
			node("node-a", map[string]string{DeviceClassLabel: "ssd"}),
			node("node-b", map[string]string{DeviceClassLabel: "ssd"}),
			node("node-c", map[string]string{DeviceClassLabel: "nvme"}),
			node("node-d", map[string]string{DeviceClassLabel: "Not Valid"}),
		},
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb")), inv("node-b", avail("sdb")), inv("node-c", avail("sdb")), inv("node-d", avail("sdb"))},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	want := map[string]string{"node-a": "ssd", "node-b": "archive", "node-c": "fast", "node-d": "hdd"}
	for n, class := range want {
		if dp := planOf(t, got, n, "sdb"); dp.DeviceClass != class {
			t.Errorf("%s: class %q, want %q", n, dp.DeviceClass, class)
		}
	}
	for _, j := range got.CreateJobs {
		if j.Devices[0].DeviceClass != want[j.Node] {
			t.Errorf("Job on %s: class %q, want %q", j.Node, j.Devices[0].DeviceClass, want[j.Node])
		}
	}
	if len(got.Problems) != 1 || !strings.Contains(got.Problems[0], `node node-d's label ceph.cephoperator.io/device-class="Not Valid" is not a valid device class`) {
		t.Errorf("problems %q", got.Problems)
	}
}

func TestFirstFitAndFreeBytes(t *testing.T) {
	disk := 10 * gib
	used := []span{{mib, mib + gib}, {3 * gib, 4 * gib}}
	cases := []struct {
		size  int64
		start int64
		ok    bool
	}{
		{gib, mib + gib, true},         // the gap between the two
		{2*gib - mib, mib + gib, true}, // exactly the gap
		{2 * gib, 4 * gib, true},       // after the second
		{6*gib - mib, 4 * gib, true},   // to the reserve at the end
		{6 * gib, 0, false},
	}
	for _, tc := range cases {
		start, ok := firstFit(used, disk, tc.size)
		if start != tc.start || ok != tc.ok {
			t.Errorf("firstFit(%d): %d %v, want %d %v", tc.size, start, ok, tc.start, tc.ok)
		}
	}
	if got, want := freeBytes(used, disk), (2*gib-mib)+(6*gib-mib); got != want {
		t.Errorf("freeBytes %d, want %d", got, want)
	}
	if got := DBSize(nil, 10*gib); got != gib {
		t.Errorf("DBSize of 10 GiB: %d, want the 1 GiB floor", got)
	}
	if got := DBSize(nil, 1000*gib); got != 40*gib {
		t.Errorf("DBSize of 1000 GiB: %d, want 4%%", got)
	}
	if got := DBSize(ptr(int64(gib+1)), 100*gib); got != gib+mib {
		t.Errorf("DBSize rounds up to the MiB: %d", got)
	}
}

// TestReplaceReusesTheDBPartition: an OSD with its DB on a metadata device
// is destroyed for replacement; the blank disk put in its slot gets the
// same OSD id and the same DB partition, to be cleared of the destroyed
// OSD's label first.
func TestReplaceReusesTheDBPartition(t *testing.T) {
	old := osdWith("sdb", 0, uuidA)
	nvme := metaDisk("nvme0n1", 100, dbPart(1, 0, 10, uuidA), dbPart(2, 10, 10, uuidB))
	w := newDecomWorld(t, old, osdWith("sdc", 1, uuidB), nvme)
	w.storage = func(s *cephv1alpha1.StorageSpec) {
		decommissionDisk("", ptr(int32(0)), true)(s)
		metaOn("nvme0n1", 10)(s)
	}
	w.pass()
	if e := w.entry("sdb"); e.DB == nil || e.DB.Number != 1 {
		t.Fatalf("sdb's plan while decommissioning %+v, want its DB partition shown", e)
	}
	w.runSteps(4)
	w.pass()
	w.expect("sdb", cephv1alpha1.ActionDecommissioned, cephv1alpha1.DecommissionDone, "kept for a replacement")

	fresh := hdd("sdx", 100)
	fresh.Links = []string{wwnID("sdx"), pathLink("sdb")}
	w.inv.Status.Disks = slices.DeleteFunc(w.inv.Status.Disks, func(d cephv1alpha1.Disk) bool { return d.Name == "sdb" })
	w.pass()
	w.inv.Status.Disks = append(w.inv.Status.Disks, fresh)
	plan := w.pass()
	if len(plan.CreateJobs) != 1 || len(plan.CreateJobs[0].Devices) != 1 {
		t.Fatalf("jobs %+v", plan.CreateJobs)
	}
	d := plan.CreateJobs[0].Devices[0]
	if d.OSDID == nil || *d.OSDID != 0 || d.DB == nil || d.DB.Number != 1 || !d.DB.Exists ||
		d.DB.PartUUID != nvme.Partitions[0].PartUUID || d.DB.ReplacesOSDUUID != uuidA {
		t.Errorf("replacement %+v DB %+v, want OSD 0 reusing partition 1 of OSD uuid %s", d, d.DB, uuidA)
	}
	in := Input{Cluster: cluster(w.storage), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{w.inv}, OSDs: w.osds, Now: w.now}
	checkSafety(t, in, plan)
}

// TestLayoutBusyMetadataDeviceKeepsItsOSDs: a metadata device discovery
// finds busy for a scan still shows its partitions, and the OSDs whose DB
// is there keep it: a Deployment made then must not lose its DB. Another
// cluster's partitions never give an OSD its DB.
func TestLayoutBusyMetadataDeviceKeepsItsOSDs(t *testing.T) {
	busy := metaDisk("nvme0n1", 100, dbPart(1, 0, 10, uuidA))
	busy.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "Busy", Message: "nvme0n1 is held open exclusively by another user"}
	foreign := metaDisk("nvme1n1", 100, dbPart(1, 0, 10, uuidB))
	foreign.Partitions[0].Label = PartitionLabel(cephv1alpha1.PartitionDB, otherFSID, 1)
	foreign.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "ForeignCephCluster"}
	in := Input{
		Cluster:     cluster(metaOn("nvme0n1", 10)),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", osdWith("sdb", 0, uuidA), osdWith("sdc", 1, uuidB), hdd("sdd", 100), busy, foreign)},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.OSDs) != 2 || got.OSDs[0].Device.DB == nil || got.OSDs[0].Device.DB.PartUUID != busy.Partitions[0].PartUUID {
		t.Fatalf("OSDs %+v, want OSD 0 with its DB on the busy metadata device", got.OSDs)
	}
	if got.OSDs[1].Device.DB != nil {
		t.Errorf("OSD 1 got %+v from another cluster's partition", got.OSDs[1].Device.DB)
	}
	// The new disk waits: its metadata device is in use by something else.
	if dp := planOf(t, got, "node-a", "sdd"); dp.Reason != ReasonMetadataDeviceUnusable || !strings.Contains(dp.Message, "Busy") {
		t.Errorf("sdd: %s/%s %q", dp.Action, dp.Reason, dp.Message)
	}
}

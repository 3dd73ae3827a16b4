package osdplan

import (
	"fmt"
	"strings"
	"testing"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// splitOn sets osdsPerDevice cluster-wide.
func splitOn(n int32) func(*cephv1alpha1.StorageSpec) {
	return func(s *cephv1alpha1.StorageSpec) { s.Config.OSDsPerDevice = ptr(n) }
}

// splitDiskOf is nvme0n1 of sizeBytes, split by this cluster into parts.
func splitDiskOf(sizeBytes int64, parts ...cephv1alpha1.DiskPartition) cephv1alpha1.Disk {
	d := avail("nvme0n1")
	d.SizeBytes = sizeBytes
	d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSDPartitions}
	d.Partitions = parts
	return d
}

// dataPart is data partition n of a disk of sizeBytes split in want, as
// discovery shows it: blank, or holding OSD id (osd >= 0).
func dataPart(sizeBytes int64, want int, n int32, osd int32) cephv1alpha1.DiskPartition {
	size, starts := SplitLayout(sizeBytes, want)
	p := cephv1alpha1.DiskPartition{Number: n, Name: fmt.Sprintf("nvme0n1p%d", n), PartUUID: fmt.Sprintf("d000000%d-0000-4000-8000-000000000000", n),
		Label: DataPartitionLabel(testFSID, n), Role: cephv1alpha1.PartitionData, StartBytes: starts[n-1], SizeBytes: size}
	if osd >= 0 {
		p.OSDID, p.OSDUUID = ptr(osd), fmt.Sprintf("a000000%d-0000-4000-8000-000000000000", n)
	}
	return p
}

// TestSplitLayout: for every disk size around the interesting boundaries
// and every osdsPerDevice, the partitions are 1 MiB aligned, of one size,
// in order without overlap, inside the disk with 1 MiB kept at each end,
// and what is left unused is less than one MiB per partition beyond the
// alignment of the disk's end.
func TestSplitLayout(t *testing.T) {
	for _, size := range []int64{12 << 30, 12<<30 + 1, 12<<30 - 1, 10<<30 + 123456, 3*mib + 511, 2 * mib, 1<<40 + 7*512, 16<<30 + 3*mib} {
		for n := 1; n <= MaxOSDsPerDevice; n++ {
			psize, starts := SplitLayout(size, n)
			if psize == 0 {
				if alignDown(size-mib)-mib >= int64(n)*mib {
					t.Errorf("%d bytes in %d: no layout, yet there is room", size, n)
				}
				continue
			}
			if len(starts) != n || psize%mib != 0 {
				t.Fatalf("%d bytes in %d: size %d, %d starts", size, n, psize, len(starts))
			}
			for i, s := range starts {
				if s%mib != 0 || s != mib+int64(i)*psize {
					t.Errorf("%d bytes in %d: partition %d at %d", size, n, i+1, s)
				}
			}
			end := starts[n-1] + psize
			if end > size-mib {
				t.Errorf("%d bytes in %d: ends at %d, past %d", size, n, end, size-mib)
			}
			if unused := alignDown(size-mib) - end; unused < 0 || unused >= int64(n)*mib {
				t.Errorf("%d bytes in %d: %d bytes left unused", size, n, unused)
			}
		}
	}
	// The rule in figures: a 12 GiB disk in two is 2 × 6143 MiB.
	if size, starts := SplitLayout(12<<30, 2); size != 6143*mib || starts[0] != mib || starts[1] != mib+6143*mib {
		t.Errorf("12 GiB in 2: %d at %v", size, starts)
	}
}

func TestSplitBlankDisk(t *testing.T) {
	const size = 12 << 30
	for _, preview := range []bool{false, true} {
		t.Run(fmt.Sprintf("preview=%v", preview), func(t *testing.T) {
			in := Input{
				Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
					splitOn(2)(s)
					if preview {
						s.Provisioning = cephv1alpha1.ProvisioningPreview
					}
				}),
				Nodes:       onlyNodeA(),
				Inventories: []cephv1alpha1.DiskInventory{inv("node-a", fast("nvme0n1", 12), hdd("sdb", 100))},
				Now:         now,
			}
			in.Inventories[0].Status.Disks[1].Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "HasFilesystem"}
			got := Compute(in)
			checkSafety(t, in, got)
			parent := planOf(t, got, "node-a", "nvme0n1")
			state := "Preparing"
			if preview {
				state = "WouldProvision"
			}
			want := fmt.Sprintf("2 OSDs on nvme0n1 (partitions 1 and 2, 6.0 GiB each; 2 to be made): nvme0n1p1 %s, nvme0n1p2 %s", state, state)
			if parent.Action != cephv1alpha1.ActionSplit || parent.Message != want || parent.OSDID != nil || parent.Partition != nil {
				t.Errorf("nvme0n1: %s %q, want Split %q", parent.Action, parent.Message, want)
			}
			size, starts := SplitLayout(size, 2)
			for n := int32(1); n <= 2; n++ {
				name := fmt.Sprintf("nvme0n1p%d", n)
				dp := planOf(t, got, "node-a", name)
				wantPart := &cephv1alpha1.PartitionRef{Device: wwnID("nvme0n1"), Number: n, SizeBytes: size}
				if dp.Parent != wwnID("nvme0n1") || dp.ID != wwnID("nvme0n1")+fmt.Sprintf("-part%d", n) || fmt.Sprint(dp.Partition) != fmt.Sprint(wantPart) || string(dp.Action) != state {
					t.Errorf("%s: %+v", name, dp)
				}
				if preview && !strings.Contains(dp.Message, fmt.Sprintf("on partition %d of nvme0n1 (to be made, 6.0 GiB)", n)) {
					t.Errorf("%s: %q does not say which partition", name, dp.Message)
				}
			}
			if preview {
				if len(got.CreateJobs) != 0 {
					t.Errorf("preview created %+v", got.CreateJobs)
				}
				if got.Counts.Desired != 2 {
					t.Errorf("counts %+v, want 2 desired", got.Counts)
				}
				return
			}
			if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 2 {
				t.Fatalf("jobs %+v, want one with both partitions", got.CreateJobs)
			}
			if got.Counts.Preparing != 2 {
				t.Errorf("counts %+v, want 2 preparing (the disk itself is not counted)", got.Counts)
			}
			disk := deviceOf(&in.Inventories[0].Status.Disks[0], "")
			for i, d := range got.CreateJobs[0].Devices {
				n := int32(i + 1)
				want := &Partition{Role: cephv1alpha1.PartitionData, Device: disk, Number: n, Label: fmt.Sprintf("ceph-osd.8a5d3e1c.%d", n), StartBytes: starts[i], SizeBytes: size}
				if fmt.Sprint(d.Data) != fmt.Sprint(want) || d.Path != disk.Path || d.SizeBytes != 12<<30 {
					t.Errorf("device %d: %+v data %+v, want %+v", i, d, d.Data, want)
				}
			}
			if gpt.Label(gpt.RoleOSD, testFSID, 1) != "ceph-osd.8a5d3e1c.1" {
				t.Error("label scheme")
			}
		})
	}
}

// TestSplitOddSize: a size not divisible by osdsPerDevice leaves the rest
// unused at the end; every partition still has the one size.
func TestSplitOddSize(t *testing.T) {
	const size = 17<<30 + 5*mib + 4096
	in := Input{
		Cluster:     cluster(splitOn(3)),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", func() cephv1alpha1.Disk { d := avail("nvme0n1"); d.SizeBytes = size; return d }())},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 3 {
		t.Fatalf("jobs %+v", got.CreateJobs)
	}
	// (17 GiB + 5 MiB rounded down, less 1 MiB at each end) / 3, rounded
	// down to a MiB: 5803 MiB; 1 MiB of the 17413 MiB between is unused.
	for i, d := range got.CreateJobs[0].Devices {
		if d.Data.SizeBytes != 5803*mib || d.Data.StartBytes != mib+int64(i)*5803*mib {
			t.Errorf("partition %d: [%d, +%d)", i+1, d.Data.StartBytes, d.Data.SizeBytes)
		}
	}
}

func TestSplitTooSmall(t *testing.T) {
	in := Input{
		Cluster:     cluster(splitOn(3)),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", fast("nvme0n1", 12))},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 0 {
		t.Fatalf("jobs %+v for a disk too small to split", got.CreateJobs)
	}
	dp := planOf(t, got, "node-a", "nvme0n1")
	if dp.Action != cephv1alpha1.ActionLeftOut || dp.Reason != ReasonSplitTooSmall ||
		!strings.Contains(dp.Message, "spec.storage.config.osdsPerDevice 3 would split nvme0n1 (12.0 GiB) into 3 partitions of 4.0 GiB each, less than the minimum OSD size of 5.0 GiB") {
		t.Errorf("nvme0n1: %s/%s %q", dp.Action, dp.Reason, dp.Message)
	}
	if len(got.DevicePlans["node-a"]) != 1 {
		t.Errorf("plans %+v, want the disk's alone", got.DevicePlans["node-a"])
	}
}

// TestSplitAfterCrash: a prepare that stopped after making the first
// partition (with or without its OSD) or both leaves a disk discovery
// shows split; the plan made again keeps every partition there as it is,
// makes only the missing one, at the same place, and never prepares the
// whole disk.
func TestSplitAfterCrash(t *testing.T) {
	const size = 12 << 30
	for name, c := range map[string]struct {
		parts []cephv1alpha1.DiskPartition
		// prepared are the partitions the Job prepares, made says which of
		// them it makes.
		prepared []int32
		made     []bool
		osd      bool
	}{
		"first made, blank":   {parts: []cephv1alpha1.DiskPartition{dataPart(size, 2, 1, -1)}, prepared: []int32{1, 2}, made: []bool{false, true}},
		"first made, its OSD": {parts: []cephv1alpha1.DiskPartition{dataPart(size, 2, 1, 4)}, prepared: []int32{2}, made: []bool{true}, osd: true},
		"both made, blank":    {parts: []cephv1alpha1.DiskPartition{dataPart(size, 2, 1, -1), dataPart(size, 2, 2, -1)}, prepared: []int32{1, 2}, made: []bool{false, false}},
		"second made, blank":  {parts: []cephv1alpha1.DiskPartition{dataPart(size, 2, 2, -1)}, prepared: []int32{1, 2}, made: []bool{true, false}},
	} {
		t.Run(name, func(t *testing.T) {
			in := Input{
				Cluster:     cluster(splitOn(2)),
				Nodes:       onlyNodeA(),
				Inventories: []cephv1alpha1.DiskInventory{inv("node-a", splitDiskOf(size, c.parts...))},
				Now:         now,
			}
			got := Compute(in)
			checkSafety(t, in, got)
			if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != len(c.prepared) {
				t.Fatalf("jobs %+v, want one preparing partitions %v", got.CreateJobs, c.prepared)
			}
			for i, d := range got.CreateJobs[0].Devices {
				if d.Data.Number != c.prepared[i] || d.Data.Exists == c.made[i] {
					t.Errorf("device %d: partition %d exists=%v, want %d to be made=%v", i, d.Data.Number, d.Data.Exists, c.prepared[i], c.made[i])
				}
				if d.Data.Exists && d.Data.PartUUID != dataPart(size, 2, d.Data.Number, -1).PartUUID {
					t.Errorf("device %d: GUID %s", i, d.Data.PartUUID)
				}
			}
			if c.osd {
				if len(got.OSDs) != 1 || got.OSDs[0].ID != 4 || got.OSDs[0].Device.Data == nil || got.OSDs[0].Device.Data.PartUUID != c.parts[0].PartUUID ||
					got.OSDs[0].Device.ID != wwnID("nvme0n1")+"-part1" {
					t.Errorf("OSDs %+v, want OSD 4 on partition 1 by its GUID", got.OSDs)
				}
				if dp := planOf(t, got, "node-a", "nvme0n1p1"); dp.Action != cephv1alpha1.ActionProvisioned || *dp.OSDID != 4 || !dp.Partition.Exists {
					t.Errorf("nvme0n1p1: %+v", dp)
				}
			}
			// The plan is the same when made again from itself.
			again := in
			again.Inventories = []cephv1alpha1.DiskInventory{withPlan(in.Inventories[0], got.DevicePlans["node-a"]...)}
			again.Jobs = []PrepareJob{running(JobName("ceph", "node-a"), "node-a", ids(nil)...)}
			for _, d := range got.CreateJobs[0].Devices {
				again.Jobs[0].DeviceIDs = append(again.Jobs[0].DeviceIDs, d.ID)
			}
			next := Compute(again)
			if len(next.CreateJobs) != 0 {
				t.Errorf("a second Job %+v while the first runs", next.CreateJobs)
			}
			for _, n := range c.prepared {
				if dp := planOf(t, next, "node-a", fmt.Sprintf("nvme0n1p%d", n)); dp.Action != cephv1alpha1.ActionPreparing {
					t.Errorf("nvme0n1p%d: %s while its Job runs", n, dp.Action)
				}
			}
		})
	}
}

// TestSplitChangeOfN: changing osdsPerDevice never re-splits. A split disk
// keeps its partitions and OSDs and says so; a whole-disk OSD stays one.
func TestSplitChangeOfN(t *testing.T) {
	const size = 24 << 30
	two := []cephv1alpha1.DiskPartition{dataPart(size, 2, 1, 3), dataPart(size, 2, 2, 4)}
	for name, c := range map[string]struct {
		mod  func(*cephv1alpha1.StorageSpec)
		disk cephv1alpha1.Disk
		// reason and msg are the disk's own plan.
		action cephv1alpha1.DeviceAction
		reason string
		msg    string
		osds   int
	}{
		"split in 2, now 3": {mod: splitOn(3), disk: splitDiskOf(size, two...), action: cephv1alpha1.ActionSplit, reason: ReasonSplitUnchanged, osds: 2,
			msg: "2 OSDs on nvme0n1 (partitions 1 and 2, 12.0 GiB each): nvme0n1p1 Provisioned (OSD 3), nvme0n1p2 Provisioned (OSD 4); osdsPerDevice is 3 for this disk now (from spec.storage.config.osdsPerDevice), but it is split into 2 partitions already: it keeps them as they are, nothing is re-split"},
		"split in 2, now unset": {disk: splitDiskOf(size, two...), action: cephv1alpha1.ActionSplit, reason: ReasonSplitUnchanged, osds: 2,
			msg: "osdsPerDevice is 1 for this disk now (unset, so 1), but it is split into 2 partitions already"},
		"split in 2, still 2": {mod: splitOn(2), disk: splitDiskOf(size, two...), action: cephv1alpha1.ActionSplit, osds: 2,
			msg: "2 OSDs on nvme0n1 (partitions 1 and 2, 12.0 GiB each): nvme0n1p1 Provisioned (OSD 3), nvme0n1p2 Provisioned (OSD 4)"},
		"split in 4, 2 made, now 2": {mod: splitOn(2), disk: splitDiskOf(size, dataPart(size, 4, 1, 3), dataPart(size, 4, 2, -1)), action: cephv1alpha1.ActionSplit, reason: ReasonSplitUnchanged, osds: 1,
			msg: "split into 2 partitions already"},
		"a whole-disk OSD, now 2": {mod: splitOn(2), disk: osdDisk("nvme0n1", 7), action: cephv1alpha1.ActionProvisioned, osds: 1,
			msg: "holds OSD 7; osdsPerDevice 2 (from spec.storage.config.osdsPerDevice) does not apply: the disk already is one OSD, and nothing is re-split"},
	} {
		t.Run(name, func(t *testing.T) {
			in := Input{Cluster: cluster(c.mod), Nodes: onlyNodeA(), Inventories: []cephv1alpha1.DiskInventory{inv("node-a", c.disk)}, Now: now}
			got := Compute(in)
			checkSafety(t, in, got)
			dp := planOf(t, got, "node-a", "nvme0n1")
			if dp.Action != c.action || dp.Reason != c.reason || !strings.Contains(dp.Message, c.msg) {
				t.Errorf("nvme0n1: %s/%s %q, want %s/%s with %q", dp.Action, dp.Reason, dp.Message, c.action, c.reason, c.msg)
			}
			if len(got.OSDs) != c.osds {
				t.Errorf("OSDs %+v, want %d", got.OSDs, c.osds)
			}
			if name == "split in 4, 2 made, now 2" {
				// Its blank partition (of the old layout) still becomes an
				// OSD: it is there, and nothing is re-split.
				if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 1 || got.CreateJobs[0].Devices[0].Data.Number != 2 || !got.CreateJobs[0].Devices[0].Data.Exists {
					t.Errorf("jobs %+v, want the blank partition 2 alone", got.CreateJobs)
				}
				return
			}
			if len(got.CreateJobs) != 0 {
				t.Errorf("jobs %+v, want none", got.CreateJobs)
			}
		})
	}
}

// TestSplitPerDiskAndNode: a disk's override wins over its node's, which
// wins over the cluster's; disks it does not name stay whole.
func TestSplitPerDiskAndNode(t *testing.T) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.UseAllDevices = false
			s.Config.OSDsPerDevice = ptr(int32(4))
			s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", Config: cephv1alpha1.OSDOverrides{OSDsPerDevice: ptr(int32(3))}, Devices: []cephv1alpha1.DeviceSpec{
				{Name: "nvme0n1", Config: cephv1alpha1.OSDOverrides{OSDsPerDevice: ptr(int32(2))}},
				{Name: "nvme1n1"},
				{Name: "sdb", Config: cephv1alpha1.OSDOverrides{OSDsPerDevice: ptr(int32(1))}},
			}}}
		}),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", fast("nvme0n1", 100), fast("nvme1n1", 100), hdd("sdb", 100))},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 6 {
		t.Fatalf("jobs %+v, want 2 + 3 partitions and sdb whole", got.CreateJobs)
	}
	count := map[string]int{}
	for _, d := range got.CreateJobs[0].Devices {
		switch {
		case d.Data != nil:
			count[d.Data.Device.ID]++
		default:
			count[d.ID] += 100
		}
	}
	if count[wwnID("nvme0n1")] != 2 || count[wwnID("nvme1n1")] != 3 || count[wwnID("sdb")] != 100 {
		t.Errorf("targets per disk %v", count)
	}
}

// TestSplitWithMetadataDevice: a split disk's OSDs keep their DB on their
// own partition; the whole disks beside it still get theirs on the
// metadata device.
func TestSplitWithMetadataDevice(t *testing.T) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			metaOn("nvme1n1", 5)(s)
			s.UseAllDevices = false
			s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", Devices: []cephv1alpha1.DeviceSpec{
				{Name: "nvme0n1", Config: cephv1alpha1.OSDOverrides{OSDsPerDevice: ptr(int32(2))}},
				{Name: "nvme1n1"}, {Name: "sdb"},
			}}}
		}),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", fast("nvme0n1", 100), fast("nvme1n1", 50), hdd("sdb", 100))},
		Now:         now,
	}
	got := Compute(in)
	checkSafety(t, in, got)
	if len(got.CreateJobs) != 1 || len(got.CreateJobs[0].Devices) != 3 {
		t.Fatalf("jobs %+v", got.CreateJobs)
	}
	for _, d := range got.CreateJobs[0].Devices {
		switch {
		case d.Data != nil && d.DB != nil:
			t.Errorf("%s: a partition's OSD gets a DB partition %+v", d.Name, d.DB)
		case d.Data == nil && (d.DB == nil || d.DB.Device.ID != wwnID("nvme1n1")):
			t.Errorf("%s: DB %+v, want one on nvme1n1", d.Name, d.DB)
		}
	}
	if dp := planOf(t, got, "node-a", "nvme0n1"); !strings.Contains(dp.Message, `spec.storage.config.metadataDevice "nvme1n1" does not apply to a split disk`) {
		t.Errorf("nvme0n1: %q", dp.Message)
	}
}

// TestSplitPartitionReplaceRefused: replace is not supported for an OSD on
// a partition; the request is Invalid and nothing is done to the OSD.
func TestSplitPartitionReplaceRefused(t *testing.T) {
	const size = 24 << 30
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "node-a", OSDID: ptr(int32(4)), Replace: true}}
		}),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", splitDiskOf(size, dataPart(size, 2, 1, 3), dataPart(size, 2, 2, 4)))},
		OSDs:        []OSD{{ID: 3, Node: "node-a", DeviceID: wwnID("nvme0n1") + "-part1", Ready: true}, {ID: 4, Node: "node-a", DeviceID: wwnID("nvme0n1") + "-part2", Ready: true}},
		Now:         now,
	}
	got := Compute(in)
	dp := planOf(t, got, "node-a", "nvme0n1p2")
	if dp.Decommission == nil || dp.Decommission.Phase != cephv1alpha1.DecommissionInvalid || !strings.Contains(dp.Decommission.Message, "replace is not supported") {
		t.Errorf("nvme0n1p2: %+v", dp)
	}
	if len(got.CreateOSDJobs) != 0 || len(got.StopOSDs) != 0 || len(got.OSDs) != 2 {
		t.Errorf("OSD jobs %+v, stops %v, OSDs %d: the OSD must be left as it is", got.CreateOSDJobs, got.StopOSDs, len(got.OSDs))
	}
}

// TestSplitPartitionPurgeWipesItsPartition: a purged OSD on a partition is
// wiped as that partition alone: the wipe Job's device is the partition,
// with the label it must carry; its sibling keeps running.
func TestSplitPartitionPurgeWipesItsPartition(t *testing.T) {
	const size = 24 << 30
	disk := splitDiskOf(size, dataPart(size, 2, 1, 3), dataPart(size, 2, 2, 4))
	id := wwnID("nvme0n1") + "-part2"
	prev := cephv1alpha1.DevicePlan{Name: "nvme0n1p2", ID: id, Action: cephv1alpha1.ActionDecommissioning, OSDID: ptr(int32(4)),
		Decommission: &cephv1alpha1.DecommissionProgress{Phase: cephv1alpha1.DecommissionPurging, OSDUUID: disk.Partitions[1].OSDUUID, Steps: []cephv1alpha1.DecommissionStep{
			{Name: cephv1alpha1.StepMarkedOut}, {Name: cephv1alpha1.StepSafeToDestroy}, {Name: cephv1alpha1.StepStopped}, {Name: cephv1alpha1.StepPurged}}}}
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "node-a", Device: "nvme0n1p2", Wipe: true}}
		}),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{withPlan(inv("node-a", disk), prev)},
		OSDs:        []OSD{{ID: 3, Node: "node-a", DeviceID: wwnID("nvme0n1") + "-part1", Ready: true}},
		Now:         now,
	}
	got := Compute(in)
	if len(got.CreateJobs) != 1 || !got.CreateJobs[0].Wipe || len(got.CreateJobs[0].Devices) != 1 {
		t.Fatalf("jobs %+v, want one wipe Job", got.CreateJobs)
	}
	d := got.CreateJobs[0].Devices[0]
	if d.ID != id || d.Data == nil || d.Data.Number != 2 || d.Data.PartUUID != disk.Partitions[1].PartUUID || d.ExpectedOSD == nil || d.ExpectedOSD.OSDID != 4 {
		t.Errorf("wipe device %+v data %+v, want partition 2 of OSD 4", d, d.Data)
	}
	if len(got.OSDs) != 1 || got.OSDs[0].ID != 3 {
		t.Errorf("OSDs %+v, want OSD 3 kept", got.OSDs)
	}
}

// TestSplitJobKeptWhileItStarts: a prepare Job for a split disk's
// partitions whose pod has not started yet is kept while the disk stays
// selected, also when a node's devices list selects the disk by name (the
// partitions' own names are in no list): deleting it would make a new Job
// at once, and again, without end.
func TestSplitJobKeptWhileItStarts(t *testing.T) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.UseAllDevices = false
			s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", Devices: []cephv1alpha1.DeviceSpec{
				{Name: "nvme0n1", Config: cephv1alpha1.OSDOverrides{OSDsPerDevice: ptr(int32(2))}},
			}}}
		}),
		Nodes:       onlyNodeA(),
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", fast("nvme0n1", 12))},
		Now:         now,
	}
	first := Compute(in)
	if len(first.CreateJobs) != 1 {
		t.Fatalf("jobs %+v", first.CreateJobs)
	}
	job := unstarted(JobName("ceph", "node-a"), "node-a")
	for _, d := range first.CreateJobs[0].Devices {
		job.DeviceIDs = append(job.DeviceIDs, d.ID)
	}
	in.Jobs = []PrepareJob{job}
	in.Inventories = []cephv1alpha1.DiskInventory{withPlan(in.Inventories[0], first.DevicePlans["node-a"]...)}
	next := Compute(in)
	if len(next.DeleteJobs) != 0 || len(next.CreateJobs) != 0 {
		t.Errorf("deletes %v and creates %+v, want the unstarted Job kept", next.DeleteJobs, next.CreateJobs)
	}
	for _, n := range []string{"nvme0n1p1", "nvme0n1p2"} {
		if dp := planOf(t, next, "node-a", n); dp.Action != cephv1alpha1.ActionPreparing {
			t.Errorf("%s: %s %q", n, dp.Action, dp.Message)
		}
	}
	// Once the disk leaves the selection, the unstarted Job goes.
	in.Cluster.Spec.Storage.Nodes[0].Devices[0].Name = "nvme9n9"
	if gone := Compute(in); len(gone.DeleteJobs) != 1 {
		t.Errorf("deletes %v, want the Job of a disk no longer selected", gone.DeleteJobs)
	}
}

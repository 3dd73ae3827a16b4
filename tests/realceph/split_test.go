package realceph

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// splitSize is the "NVMe" of the osdsPerDevice scenario: split in two,
// each partition (6143 MiB) is above the 5 GiB minimum OSD size.
const splitSize = 12 << 30

// checkOSDsPerDevice adds one 12 GiB "NVMe" loop device (attached with
// partscan) and selects it with osdsPerDevice: 2 as an override of that
// disk alone: the node's entry in spec.storage.nodes lists every disk the
// cluster-wide filter selects there now, and the new one with the
// override. It checks the whole path: the plan shows the split before the
// OSDs exist, two OSDs come up and in (Ceph's own OSD map), each on its
// own partition of that device (as Ceph itself reports it), discovery
// shows the device split with each partition's OSD, the metadata device
// set cluster-wide does not apply to it, and objects still read back. It
// returns the new device, for the later checks.
func checkOSDsPerDevice(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, node string, tl *tools, objs testObjects) []*device {
	start := time.Now()
	b := loopdev.SparseFile(t, t.TempDir(), "nvme.img", splitSize)
	nv := &device{kind: "split", backing: b, dev: loopdev.AttachPartitioned(t, b)}

	// Wait for discovery to report the new disk, blank, so that the
	// node's devices list below can be made from what it sees.
	inv := &cephv1alpha1.DiskInventory{}
	realnode.WaitFor(t, ctx, 3*time.Minute, nv.dev.Name+" reported Available", func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: node}, inv); err != nil {
			return err
		}
		for _, d := range inv.Status.Disks {
			if d.Name == nv.dev.Name {
				if d.Verdict.State != cephv1alpha1.DiskAvailable {
					return fmt.Errorf("%s is %s/%s: %s", d.Name, d.Verdict.State, d.Verdict.Reason, d.Verdict.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("%s not in the inventory", nv.dev.Name)
	})

	cur := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cc), cur); err != nil {
		t.Fatal(err)
	}
	filter, err := regexp.Compile(cur.Spec.Storage.DeviceFilter)
	if err != nil {
		t.Fatalf("the cluster's deviceFilter %q: %v", cur.Spec.Storage.DeviceFilter, err)
	}
	var devices []cephv1alpha1.DeviceSpec
	for _, d := range inv.Status.Disks {
		if d.Name != nv.dev.Name && filter.MatchString(d.Name) {
			devices = append(devices, cephv1alpha1.DeviceSpec{Name: d.Name})
		}
	}
	devices = append(devices, cephv1alpha1.DeviceSpec{Name: nv.dev.Name, Config: cephv1alpha1.OSDOverrides{OSDsPerDevice: ptr(int32(2))}})
	cur.Spec.Storage.Nodes = append(cur.Spec.Storage.Nodes, cephv1alpha1.NodeStorageSpec{Name: node, Devices: devices})
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	t.Logf("osdsPerDevice: %s (%d MiB) split in 2 by its devices entry; node %s lists %d disks", nv.dev.Name, splitSize>>20, node, len(devices))

	// The plan shows the split disk and its partitions' OSDs; then Ceph's
	// own OSD map shows both up and in.
	parts := []string{nv.dev.Name + "p1", nv.dev.Name + "p2"}
	var ids []int32
	var firstPlan string
	realnode.WaitFor(t, ctx, convergeTimeout, "2 OSDs up and in on the partitions of "+nv.dev.Name, func() error {
		inv = &cephv1alpha1.DiskInventory{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: node}, inv); err != nil {
			return err
		}
		if dp := planByName(inv, nv.dev.Name); dp != nil && firstPlan == "" && dp.Action == cephv1alpha1.ActionSplit {
			firstPlan = dp.Message
			t.Logf("first plan of %s (%.1fs): %s %s", nv.dev.Name, time.Since(start).Seconds(), dp.Action, dp.Message)
		}
		ids = ids[:0]
		for _, n := range parts {
			dp := planByName(inv, n)
			if dp == nil || dp.Action != cephv1alpha1.ActionProvisioned || dp.OSDID == nil || dp.Partition == nil || !dp.Partition.Exists || dp.Parent == "" {
				return fmt.Errorf("plans %s", planSummary(inv, append([]string{nv.dev.Name}, parts...)))
			}
			ids = append(ids, *dp.OSDID)
		}
		return upAndIn(ctx, tl, ids)
	})
	t.Logf("FIGURE osdsPerDevice: 1 blank %d GiB device, osdsPerDevice 2 -> 2 OSDs (%v) up and in on its partitions: %.1fs", splitSize>>30, ids, time.Since(start).Seconds())
	if firstPlan == "" {
		errorf(t, "the plan never showed %s as Split", nv.dev.Name)
	}

	// Discovery: the device is split by this cluster, each partition
	// naming its OSD; its plan shows the layout.
	var disk *cephv1alpha1.Disk
	for i := range inv.Status.Disks {
		if inv.Status.Disks[i].Name == nv.dev.Name {
			disk = &inv.Status.Disks[i]
		}
	}
	switch {
	case disk == nil:
		errorf(t, "%s is missing from the inventory", nv.dev.Name)
	case disk.Verdict.State != cephv1alpha1.DiskOSDPartitions || len(disk.Partitions) != 2:
		errorf(t, "%s: %s/%s %q with %d partitions, want OSDPartitions with 2", nv.dev.Name, disk.Verdict.State, disk.Verdict.Reason, disk.Verdict.Message, len(disk.Partitions))
	default:
		t.Logf("verdict %s: %s %s", nv.dev.Name, disk.Verdict.State, disk.Verdict.Message)
		for i, p := range disk.Partitions {
			t.Logf("FIGURE %s partition %d (%s, %s, start %d MiB, %d MiB, GUID %s): %s of OSD %v", nv.dev.Name, p.Number, p.Name, p.Label, p.StartBytes>>20, p.SizeBytes>>20, p.PartUUID, p.Role, deref(p.OSDID))
			if p.Role != cephv1alpha1.PartitionData || p.OSDID == nil || *p.OSDID != ids[i] || p.SizeBytes != 6143<<20 || p.Name != parts[i] {
				errorf(t, "partition %d of %s: %+v, want partition %s of 6143 MiB holding OSD %d", p.Number, nv.dev.Name, p, parts[i], ids[i])
			}
		}
	}
	if dp := planByName(inv, nv.dev.Name); dp == nil || dp.Action != cephv1alpha1.ActionSplit || !strings.Contains(dp.Message, "2 OSDs on "+nv.dev.Name+" (partitions 1 and 2, 6.0 GiB each)") {
		errorf(t, "plan of %s: %+v, want Split showing both partitions", nv.dev.Name, dp)
	} else {
		t.Logf("plan of %s: %s", nv.dev.Name, dp.Message)
	}

	// Ceph's own account: each OSD runs from its partition of the device,
	// with its DB on it (the cluster-wide metadata device does not apply).
	for i, id := range ids {
		var md map[string]any
		out := tl.admin(ctx, "osd", "metadata", fmt.Sprint(id), "--format", "json")
		if err := json.Unmarshal([]byte(out), &md); err != nil {
			errorf(t, "ceph osd metadata %d: %v: %s", id, err, out)
			continue
		}
		where := fmt.Sprint(md["bluestore_bdev_partition_path"], " ", md["bluestore_bdev_dev_node"], " ", md["devices"])
		t.Logf("FIGURE osd.%d: bluestore_bdev_partition_path=%v bluestore_bdev_dev_node=%v devices=%v bluefs_dedicated_db=%v bluestore_bdev_size=%v",
			id, md["bluestore_bdev_partition_path"], md["bluestore_bdev_dev_node"], md["devices"], md["bluefs_dedicated_db"], md["bluestore_bdev_size"])
		if !strings.Contains(where, nv.dev.Name) {
			errorf(t, "osd.%d does not run from %s (partition %s): %s", id, nv.dev.Name, parts[i], where)
		}
		if fmt.Sprint(md["bluefs_dedicated_db"]) == "1" {
			errorf(t, "osd.%d has a dedicated DB, but a split device's OSDs keep theirs on their partition", id)
		}
	}
	osds := append([]int32(nil), ids...)
	sort.Slice(osds, func(i, j int) bool { return osds[i] < osds[j] })
	t.Logf("FIGURE ceph osd tree after the split:\n%s", tl.admin(ctx, "osd", "tree"))

	realnode.WaitFor(t, ctx, 5*time.Minute, "the objects to read back with the split device's OSDs in", func() error { return readBack(ctx, tl, objs) })
	waitHealthy(t, ctx, c, cc, "with the split device's OSDs in")
	t.Logf("FIGURE osdsPerDevice scenario: %.1fs", time.Since(start).Seconds())
	return []*device{nv}
}

// checkDataPartitionsFreed checks that no partition of split device d
// carries a BlueStore label any more, and that its partition table is
// still there.
func checkDataPartitionsFreed(t *testing.T, d *device) {
	parts, err := filepath.Glob(filepath.Join("/sys/block", d.dev.Name, d.dev.Name+"p*"))
	if err != nil || len(parts) != 2 {
		errorf(t, "split device %s shows partitions %v after the confirmed cleanup (%v), want its 2", d.dev.Name, parts, err)
		return
	}
	for _, p := range parts {
		node := "/dev/" + filepath.Base(p)
		if l, err := readLabel(node); err == nil {
			errorf(t, "%s (OSD data partition of %s) still carries the label of OSD %d after the confirmed cleanup", node, d.dev.Name, l.WhoAmI)
		} else {
			t.Logf("%s (OSD data partition of %s) freed: %v", node, d.dev.Name, err)
		}
	}
}

func deref(p *int32) any {
	if p == nil {
		return "none"
	}
	return *p
}

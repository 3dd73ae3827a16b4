package realceph

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// metadataDBSize is the DB partition of each OSD in the layout scenario.
const metadataDBSize = 1 << 30

// checkMetadataLayout adds three "slow" data disks and one small "fast"
// disk, names the fast one the metadata device, and checks the production
// layout end to end: the plan shows it first, three OSDs come up with
// their DB on their own GPT partition of the fast disk (as Ceph itself
// reports it), discovery shows the fast disk as a MetadataDevice of those
// OSDs, and objects still read back. It returns the new devices, for the
// later checks (the fast disk is never an OSD, and is left as it is).
func checkMetadataLayout(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, node string, tl *tools, objs testObjects) []*device {
	start := time.Now()
	dir := t.TempDir()
	var added []*device
	var names []string
	for i := range 3 {
		b := loopdev.SparseFile(t, dir, fmt.Sprintf("slow%d.img", i), blankSize)
		d := &device{kind: "layout-data", backing: b, dev: loopdev.Attach(t, b, false)}
		added = append(added, d)
		names = append(names, d.dev.Name)
	}
	// Three 1 GiB DB partitions and the GPT fit; below the 5 GiB minimum
	// for data disks, which does not apply to a metadata device.
	fb := loopdev.SparseFile(t, dir, "fast.img", 3*metadataDBSize+8<<20)
	fast := &device{kind: "metadata", backing: fb, dev: loopdev.AttachPartitioned(t, fb)}
	added = append(added, fast)
	names = append(names, fast.dev.Name)

	// The selection takes the new disks too; their DB goes on the fast
	// one. The OSDs there already keep their DB on their own disks.
	cur := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cc), cur); err != nil {
		t.Fatal(err)
	}
	filter := strings.TrimSuffix(cur.Spec.Storage.DeviceFilter, ")$") + "|" + strings.Join(names, "|") + ")$"
	cur.Spec.Storage.DeviceFilter = filter
	cur.Spec.Storage.Config.MetadataDevice = fast.dev.Name
	cur.Spec.Storage.Config.DatabaseSizeBytes = ptr(int64(metadataDBSize))
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	t.Logf("layout: data disks %s, metadata device %s (%d MiB)", strings.Join(names[:3], ", "), fast.dev.Name, (3*metadataDBSize+8<<20)>>20)

	// Every new disk's plan names its partition, and Ceph's own OSD map
	// shows its OSD up and in (the status's counts lag by the reporter's
	// period, and other disks' OSDs are counted there too).
	var inv *cephv1alpha1.DiskInventory
	realnode.WaitFor(t, ctx, convergeTimeout, "3 more OSDs up with their DB on the metadata device", func() error {
		inv = &cephv1alpha1.DiskInventory{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: node}, inv); err != nil {
			return err
		}
		var ids []int32
		for _, n := range names[:3] {
			dp := planByName(inv, n)
			if dp == nil || dp.Action != cephv1alpha1.ActionProvisioned || dp.OSDID == nil || dp.DB == nil || !dp.DB.Exists {
				return fmt.Errorf("plans %s", planSummary(inv, names))
			}
			ids = append(ids, *dp.OSDID)
		}
		return upAndIn(ctx, tl, ids)
	})
	t.Logf("FIGURE layout: 3 data disks + 1 metadata device -> 3 OSDs up and in with their DB on it: %.1fs", time.Since(start).Seconds())

	// Discovery: the fast disk is a metadata device of exactly these
	// OSDs, and is planned as one.
	osdOfUUID := map[string]int32{}
	for _, d := range inv.Status.Disks {
		for _, n := range names[:3] {
			if d.Name == n && d.Verdict.OSDID != nil {
				osdOfUUID[strings.ToLower(d.Verdict.OSDUUID)] = *d.Verdict.OSDID
			}
		}
	}
	var meta *cephv1alpha1.Disk
	for i := range inv.Status.Disks {
		if inv.Status.Disks[i].Name == fast.dev.Name {
			meta = &inv.Status.Disks[i]
		}
	}
	switch {
	case meta == nil:
		errorf(t, "metadata device %s is missing from the inventory", fast.dev.Name)
	case meta.Verdict.State != cephv1alpha1.DiskMetadataDevice || len(meta.Partitions) != 3:
		errorf(t, "metadata device %s: %s/%s %q with %d partitions, want MetadataDevice with 3", fast.dev.Name, meta.Verdict.State, meta.Verdict.Reason, meta.Verdict.Message, len(meta.Partitions))
	default:
		for _, p := range meta.Partitions {
			id, ok := osdOfUUID[strings.ToLower(p.OSDUUID)]
			t.Logf("metadata device %s partition %d (%s, %s, %d MiB, GUID %s): %s of OSD %d", fast.dev.Name, p.Number, p.Name, p.Label, p.SizeBytes>>20, p.PartUUID, p.Role, id)
			if !ok || p.Role != cephv1alpha1.PartitionDB || p.SizeBytes != metadataDBSize {
				errorf(t, "partition %d of %s: %+v, want a 1 GiB DB partition of one of the new OSDs", p.Number, fast.dev.Name, p)
			}
		}
	}
	if dp := planByName(inv, fast.dev.Name); dp == nil || dp.Action != cephv1alpha1.ActionMetadata {
		errorf(t, "metadata device %s's plan %+v, want Metadata", fast.dev.Name, dp)
	} else {
		t.Logf("plan of %s: %s", fast.dev.Name, dp.Message)
	}

	// Ceph's own account: each new OSD has a dedicated DB on a partition
	// of the fast disk.
	ids := make([]int32, 0, len(osdOfUUID))
	for _, id := range osdOfUUID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) != 3 {
		errorf(t, "OSD ids of the new disks: %v, want 3", ids)
	}
	for _, id := range ids {
		var md map[string]any
		out := tl.admin(ctx, "osd", "metadata", fmt.Sprint(id), "--format", "json")
		if err := json.Unmarshal([]byte(out), &md); err != nil {
			errorf(t, "ceph osd metadata %d: %v: %s", id, err, out)
			continue
		}
		dedicated, node := fmt.Sprint(md["bluefs_dedicated_db"]), fmt.Sprint(md["bluefs_db_dev_node"])
		t.Logf("FIGURE osd.%d: bluefs_dedicated_db=%s bluefs_db_dev_node=%s bluefs_db_partition_path=%v bluefs_db_size=%v devices=%v",
			id, dedicated, node, md["bluefs_db_partition_path"], md["bluefs_db_size"], md["devices"])
		if dedicated != "1" || !strings.Contains(fmt.Sprint(md["bluefs_db_partition_path"], " ", node), fast.dev.Name) {
			errorf(t, "osd.%d does not run with its DB on %s: bluefs_dedicated_db=%s bluefs_db_dev_node=%s", id, fast.dev.Name, dedicated, node)
		}
	}
	t.Logf("FIGURE ceph osd tree after the layout:\n%s", tl.admin(ctx, "osd", "tree"))

	realnode.WaitFor(t, ctx, 5*time.Minute, "the objects to read back with the new OSDs in", func() error { return readBack(ctx, tl, objs) })
	waitHealthy(t, ctx, c, cc, "with the layout's OSDs in")
	return added
}

// osdMapEntry is one OSD of Ceph's OSD map.
type osdMapEntry struct {
	OSD int32 `json:"osd"`
	Up  int   `json:"up"`
	In  int   `json:"in"`
}

// readOSDMap returns the OSDs of `ceph osd dump`.
func readOSDMap(ctx context.Context, tl *tools) ([]osdMapEntry, error) {
	out, err := tl.run(ctx, nil, "timeout", "60", "ceph", "--keyring", tl.keyring, "--connect-timeout", "30", "osd", "dump", "--format", "json")
	if err != nil {
		return nil, err
	}
	var dump struct {
		OSDs []osdMapEntry `json:"osds"`
	}
	if err := json.Unmarshal(out, &dump); err != nil {
		return nil, err
	}
	return dump.OSDs, nil
}

// upAndIn returns nil when Ceph's OSD map shows every OSD of ids up and
// in, else what it shows.
func upAndIn(ctx context.Context, tl *tools, ids []int32) error {
	osds, err := readOSDMap(ctx, tl)
	if err != nil {
		return err
	}
	state := map[int32]string{}
	for _, o := range osds {
		state[o.OSD] = fmt.Sprintf("up=%d in=%d", o.Up, o.In)
	}
	for _, id := range ids {
		if state[id] != "up=1 in=1" {
			return fmt.Errorf("osd.%d: %q in the OSD map", id, state[id])
		}
	}
	return nil
}

// planByName returns the plan of the disk named name, or nil.
func planByName(inv *cephv1alpha1.DiskInventory, name string) *cephv1alpha1.DevicePlan {
	for i := range inv.Status.Plan {
		if inv.Status.Plan[i].Name == name {
			return &inv.Status.Plan[i]
		}
	}
	return nil
}

// planSummary lists the plans of the named disks, for a wait's message.
func planSummary(inv *cephv1alpha1.DiskInventory, names []string) string {
	var out []string
	for _, n := range names {
		if dp := planByName(inv, n); dp != nil {
			out = append(out, fmt.Sprintf("%s %s/%s %q", n, dp.Action, dp.Reason, dp.Message))
		} else {
			out = append(out, n+" not planned")
		}
	}
	return strings.Join(out, "; ")
}

func ptr[T any](v T) *T { return &v }

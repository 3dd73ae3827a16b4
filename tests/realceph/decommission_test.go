package realceph

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// checkDecommission takes the OSD of the first blank device out of the
// running three-OSD cluster through spec.storage.decommission, on real
// Ceph. With the pools keeping three copies it can never be safe (two
// other OSDs) and must say so while the OSD keeps running; once the pools
// keep two copies, Ceph moves the data, says it is safe, the Deployment
// goes and the OSD is purged. The objects read back throughout, the steps
// are recorded in order, and removing the request afterwards changes
// nothing. It returns the decommissioned device.
func checkDecommission(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, node string, tl *tools, devices []*device, objs testObjects) *device {
	var target *device
	for _, d := range devices {
		if d.kind == "blank" {
			target = d
			break
		}
	}
	inv := &cephv1alpha1.DiskInventory{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: node}, inv); err != nil {
		t.Fatal(err)
	}
	var disk *cephv1alpha1.Disk
	for i := range inv.Status.Disks {
		if inv.Status.Disks[i].Name == target.dev.Name {
			disk = &inv.Status.Disks[i]
		}
	}
	if disk == nil || disk.Verdict.OSDID == nil {
		t.Fatalf("%s holds no OSD in the inventory: %+v", target.dev.Name, disk)
	}
	osd := *disk.Verdict.OSDID
	t.Logf("decommissioning osd.%d on %s (%s)", osd, target.dev.Name, disk.ID)

	plan := func() (cephv1alpha1.DevicePlan, error) {
		inv := &cephv1alpha1.DiskInventory{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: node}, inv); err != nil {
			return cephv1alpha1.DevicePlan{}, err
		}
		for _, p := range inv.Status.Plan {
			if p.ID == disk.ID {
				return p, nil
			}
		}
		return cephv1alpha1.DevicePlan{}, fmt.Errorf("no plan entry for %s", disk.ID)
	}
	update := func(mutate func(*cephv1alpha1.CephCluster)) {
		t.Helper()
		for range 10 {
			got := &cephv1alpha1.CephCluster{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
				t.Fatal(err)
			}
			mutate(got)
			if err := c.Update(ctx, got); err == nil {
				return
			}
			time.Sleep(time.Second)
		}
		t.Fatal("could not update the CephCluster")
	}

	start := time.Now()
	update(func(got *cephv1alpha1.CephCluster) {
		got.Spec.Storage.Decommission = []cephv1alpha1.DecommissionRequest{{Node: node, Device: disk.ID}}
	})
	realnode.WaitFor(t, ctx, 5*time.Minute, "the decommission to say it can never be safe with three copies", func() error {
		p, err := plan()
		if err != nil {
			return err
		}
		if p.Decommission == nil || p.Decommission.Phase != cephv1alpha1.DecommissionNeverSafe {
			return fmt.Errorf("plan %s %+v: %s", p.Action, p.Decommission, p.Message)
		}
		return nil
	})
	p, _ := plan()
	t.Logf("FIGURE decommission request -> NeverSafe: %.1fs: %s", time.Since(start).Seconds(), p.Message)
	if !strings.Contains(p.Message, "copies") {
		t.Errorf("the never-safe message does not say why: %s", p.Message)
	}
	if err := readBack(ctx, tl, objs); err != nil {
		t.Fatalf("objects while osd.%d is out: %v", osd, err)
	}
	if out := tl.admin(ctx, "osd", "dump", "--format", "json"); !strings.Contains(out, fmt.Sprintf(`"osd":%d,`, osd)) {
		t.Fatalf("osd.%d left the OSD map before it was safe", osd)
	}

	// Two copies: the two other OSDs can hold them.
	for _, pool := range strings.Fields(tl.admin(ctx, "osd", "pool", "ls")) {
		tl.admin(ctx, "osd", "pool", "set", pool, "size", "2", "--yes-i-really-mean-it")
	}
	safeStart := time.Now()
	realnode.WaitFor(t, ctx, 10*time.Minute, "the decommission to be done", func() error {
		p, err := plan()
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionDecommissioned || p.Decommission == nil || p.Decommission.Phase != cephv1alpha1.DecommissionDone {
			return fmt.Errorf("plan %s %+v: %s", p.Action, p.Decommission, p.Message)
		}
		return nil
	})
	p, _ = plan()
	var steps []string
	for _, s := range p.Decommission.Steps {
		steps = append(steps, s.Name+"@"+s.Time.UTC().Format(time.TimeOnly))
	}
	t.Logf("FIGURE two copies -> osd.%d purged: %.1fs; whole decommission %.1fs; steps %s", osd,
		time.Since(safeStart).Seconds(), time.Since(start).Seconds(), strings.Join(steps, " "))
	var names []string
	for _, s := range p.Decommission.Steps {
		names = append(names, s.Name)
	}
	if want := []string{"MarkedOut", "SafeToDestroy", "Stopped", "Purged"}; !slices.Equal(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
	if out := tl.admin(ctx, "osd", "dump", "--format", "json"); strings.Contains(out, fmt.Sprintf(`"osd":%d,`, osd)) {
		t.Errorf("osd.%d is still in the OSD map after the purge", osd)
	}
	realnode.WaitFor(t, ctx, 5*time.Minute, "the objects to read back from the two other OSDs", func() error { return readBack(ctx, tl, objs) })
	waitHealthy(t, ctx, c, cc, "after the decommission")

	// After the point of no return, removing the request changes nothing.
	update(func(got *cephv1alpha1.CephCluster) { got.Spec.Storage.Decommission = nil })
	time.Sleep(5 * time.Second)
	if p, err := plan(); err != nil || p.Action != cephv1alpha1.ActionDecommissioned {
		t.Errorf("after the request was removed: %+v %v", p, err)
	}
	got := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
		t.Fatal(err)
	}
	if st := got.Status.Ceph; st == nil || st.OSDs.Total != 2 || st.OSDs.Up != 2 {
		t.Errorf("status.ceph after the decommission: %+v", st)
	}
	return target
}

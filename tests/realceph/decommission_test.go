package realceph

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// lifecycle drives decommissions on the real node.
type lifecycle struct {
	t    *testing.T
	ctx  context.Context
	c    client.Client
	cc   *cephv1alpha1.CephCluster
	node string
	tl   *tools
	objs testObjects
}

// disk returns the inventory's disk named name.
func (l *lifecycle) disk(name string) cephv1alpha1.Disk {
	l.t.Helper()
	inv := &cephv1alpha1.DiskInventory{}
	if err := l.c.Get(l.ctx, client.ObjectKey{Namespace: namespace, Name: l.node}, inv); err != nil {
		l.t.Fatal(err)
	}
	for _, d := range inv.Status.Disks {
		if d.Name == name {
			return d
		}
	}
	l.t.Fatalf("no disk %s in the inventory", name)
	return cephv1alpha1.Disk{}
}

// plan returns the plan entry of the disk with stable id id.
func (l *lifecycle) plan(id string) (cephv1alpha1.DevicePlan, error) {
	inv := &cephv1alpha1.DiskInventory{}
	if err := l.c.Get(l.ctx, client.ObjectKey{Namespace: namespace, Name: l.node}, inv); err != nil {
		return cephv1alpha1.DevicePlan{}, err
	}
	for _, p := range inv.Status.Plan {
		if p.ID == id {
			return p, nil
		}
	}
	return cephv1alpha1.DevicePlan{}, fmt.Errorf("no plan entry for %s", id)
}

// waitPlan waits until the plan of disk id passes ok and returns it.
func (l *lifecycle) waitPlan(timeout time.Duration, what, id string, ok func(p cephv1alpha1.DevicePlan) bool) cephv1alpha1.DevicePlan {
	l.t.Helper()
	var got cephv1alpha1.DevicePlan
	realnode.WaitFor(l.t, l.ctx, timeout, what, func() error {
		p, err := l.plan(id)
		if err != nil {
			return err
		}
		if !ok(p) {
			return fmt.Errorf("plan %s %+v: %s", p.Action, p.Decommission, p.Message)
		}
		got = p
		return nil
	})
	return got
}

// setRequests replaces spec.storage.decommission.
func (l *lifecycle) setRequests(reqs ...cephv1alpha1.DecommissionRequest) {
	l.t.Helper()
	var err error
	for range 10 {
		got := &cephv1alpha1.CephCluster{}
		if err := l.c.Get(l.ctx, client.ObjectKeyFromObject(l.cc), got); err != nil {
			l.t.Fatal(err)
		}
		got.Spec.Storage.Decommission = reqs
		if err = l.c.Update(l.ctx, got); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	l.t.Fatalf("could not update the CephCluster: %v", err)
}

// osdMap returns `ceph osd dump` as the test's admin sees it.
func (l *lifecycle) inOSDMap(id int32) (bool, string) {
	out := l.tl.admin(l.ctx, "osd", "dump")
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, fmt.Sprintf("osd.%d ", id)) {
			return true, line
		}
	}
	return false, ""
}

// steps names the recorded steps of p and their times.
func steps(p cephv1alpha1.DevicePlan) ([]string, string) {
	var names, timed []string
	for _, s := range p.Decommission.Steps {
		names = append(names, s.Name)
		timed = append(timed, s.Name+"@"+s.Time.UTC().Format(time.TimeOnly))
	}
	return names, strings.Join(timed, " ")
}

// checkLifecycle runs the disk lifecycle on the running three-OSD cluster
// through spec.storage.decommission, on real Ceph:
//
//  1. the OSD of the first blank device is decommissioned for replacement.
//     With the pools keeping three copies it can never be safe (two other
//     OSDs) and must say so while the OSD keeps running; once they keep
//     two, it is destroyed, keeping its id. Its loop device is then
//     detached and a new blank file attached in the same slot (the same
//     loop device): it is prepared as the same OSD id, which comes back up.
//  2. the OSD of the second blank device is decommissioned and purged.
//
// The objects read back after each, and the steps are recorded in order.
func checkLifecycle(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, node string, tl *tools, devices []*device, objs testObjects) {
	l := &lifecycle{t: t, ctx: ctx, c: c, cc: cc, node: node, tl: tl, objs: objs}
	var blanks []*device
	for _, d := range devices {
		if d.kind == "blank" {
			blanks = append(blanks, d)
		}
	}
	l.replace(blanks[0])
	l.purge(blanks[1])
	for _, d := range devices {
		if d.kind == "foreign" {
			l.wipeForeign(d)
		}
	}
}

// osdsUp waits until Ceph reports n OSDs, all up and in.
func (l *lifecycle) osdsUp(n int32, what string) {
	l.t.Helper()
	realnode.WaitFor(l.t, l.ctx, 10*time.Minute, what, func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := l.c.Get(l.ctx, client.ObjectKeyFromObject(l.cc), got); err != nil {
			return err
		}
		if st := got.Status.Ceph; st == nil || st.OSDs.Up != n || st.OSDs.In != n || st.OSDs.Total != n {
			return fmt.Errorf("status.ceph %+v", st)
		}
		return nil
	})
}

// wipeForeign wipes the device carrying another cluster's OSD through
// spec.storage.wipeDevices: a wrong confirmation changes nothing, the one
// the plan shows makes it blank, and it becomes an OSD of this cluster.
func (l *lifecycle) wipeForeign(d *device) {
	t := l.t
	disk := l.disk(d.dev.Name)
	p, err := l.plan(disk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.WipeConfirmation == "" || !strings.Contains(p.WipeConfirmation, foreignFSID) {
		t.Fatalf("the foreign disk's plan shows no usable wipe confirmation: %+v", p)
	}
	set := func(conf string) {
		for range 10 {
			got := &cephv1alpha1.CephCluster{}
			if err := l.c.Get(l.ctx, client.ObjectKeyFromObject(l.cc), got); err != nil {
				t.Fatal(err)
			}
			got.Spec.Storage.WipeDevices = nil
			if conf != "" {
				got.Spec.Storage.WipeDevices = []cephv1alpha1.WipeDeviceSpec{{Node: l.node, Device: disk.ID, Confirmation: conf}}
			}
			if err := l.c.Update(l.ctx, got); err == nil {
				return
			}
			time.Sleep(time.Second)
		}
		t.Fatal("could not update the CephCluster")
	}
	wrong := strings.Replace(p.WipeConfirmation, foreignFSID, "99999999-8888-4777-8666-000000000000", 1)
	start := time.Now()
	set(wrong)
	l.waitPlan(3*time.Minute, "the wrong confirmation refused", disk.ID, func(p cephv1alpha1.DevicePlan) bool {
		return p.Reason == "WipeConfirmationMismatch"
	})
	t.Logf("FIGURE wrong wipe confirmation -> WipeConfirmationMismatch: %.1fs", time.Since(start).Seconds())
	sum, err := loopdev.FileSHA256(d.backing)
	if err != nil {
		t.Fatal(err)
	}
	if sum != d.sum {
		t.Fatalf("%s changed under a wrong wipe confirmation", d.dev.Name)
	}
	start = time.Now()
	set(p.WipeConfirmation)
	l.waitPlan(10*time.Minute, "the wiped foreign disk to become an OSD", disk.ID, func(p cephv1alpha1.DevicePlan) bool {
		return p.Action == cephv1alpha1.ActionProvisioned && p.OSDID != nil
	})
	l.osdsUp(4, "4 OSDs up and in with the wiped foreign disk")
	t.Logf("FIGURE right wipe confirmation -> foreign disk wiped and up as an OSD of this cluster: %.1fs", time.Since(start).Seconds())
	set("")
	// It is now this cluster's OSD: no longer the untouched foreign disk.
	d.kind, d.sum = "blank", ""
}

// replace decommissions d's OSD for replacement and replaces its disk.
func (l *lifecycle) replace(d *device) {
	t := l.t
	disk := l.disk(d.dev.Name)
	if disk.Verdict.OSDID == nil {
		t.Fatalf("%s holds no OSD: %+v", d.dev.Name, disk.Verdict)
	}
	osd := *disk.Verdict.OSDID
	t.Logf("decommissioning osd.%d on %s (%s) for replacement", osd, d.dev.Name, disk.ID)
	start := time.Now()
	l.setRequests(cephv1alpha1.DecommissionRequest{Node: l.node, Device: disk.ID, Replace: true})
	p := l.waitPlan(5*time.Minute, "NeverSafe while the pools keep three copies", disk.ID, func(p cephv1alpha1.DevicePlan) bool {
		return p.Decommission != nil && p.Decommission.Phase == cephv1alpha1.DecommissionNeverSafe
	})
	t.Logf("FIGURE decommission request -> NeverSafe: %.1fs: %s", time.Since(start).Seconds(), p.Message)
	if y, err := yaml.Marshal(p); err == nil {
		t.Logf("the disk's plan entry while the decommission waits, as kubectl get diskinventory %s -o yaml shows it:\n%s", l.node, y)
	}
	if !strings.Contains(p.Message, "copies") {
		errorf(t, "the never-safe message does not say why: %s", p.Message)
	}
	if err := readBack(l.ctx, l.tl, l.objs); err != nil {
		t.Fatalf("objects while osd.%d is out: %v", osd, err)
	}
	if in, line := l.inOSDMap(osd); !in || !strings.Contains(line, " up ") {
		t.Fatalf("osd.%d is not up in the OSD map before it was safe: %q", osd, line)
	}

	// Two copies: the two other OSDs can hold them.
	for _, pool := range strings.Fields(l.tl.admin(l.ctx, "osd", "pool", "ls")) {
		l.tl.admin(l.ctx, "osd", "pool", "set", pool, "size", "2", "--yes-i-really-mean-it")
	}
	safeStart := time.Now()
	p = l.waitPlan(10*time.Minute, "the OSD destroyed", disk.ID, func(p cephv1alpha1.DevicePlan) bool {
		return p.Action == cephv1alpha1.ActionDecommissioned && p.Decommission != nil && p.Decommission.Phase == cephv1alpha1.DecommissionDone
	})
	names, timed := steps(p)
	t.Logf("FIGURE two copies -> osd.%d destroyed: %.1fs; request -> destroyed: %.1fs; steps %s", osd,
		time.Since(safeStart).Seconds(), time.Since(start).Seconds(), timed)
	if want := []string{"MarkedOut", "SafeToDestroy", "Stopped", "Destroyed"}; !slices.Equal(names, want) {
		errorf(t, "steps %v, want %v", names, want)
	}
	if in, line := l.inOSDMap(osd); !in || !strings.Contains(line, "destroyed") {
		errorf(t, "osd.%d after destroy: %q, want it kept with the destroyed flag", osd, line)
	}
	realnode.WaitFor(t, l.ctx, 5*time.Minute, "the objects to read back from the two other OSDs", func() error { return readBack(l.ctx, l.tl, l.objs) })

	// The disk dies; a blank one goes in the same slot.
	swapStart := time.Now()
	if err := loopdev.DetachLoop(d.dev); err != nil {
		t.Fatal(err)
	}
	fresh := loopdev.SparseFile(t, t.TempDir(), "replacement.img", blankSize)
	realnode.WaitFor(t, l.ctx, time.Minute, "a blank file attached at "+d.dev.Path, func() error {
		out, err := exec.Command("losetup", d.dev.Path, fresh).CombinedOutput()
		if err != nil {
			return fmt.Errorf("losetup %s: %w: %s", d.dev.Path, err, out)
		}
		return nil
	})
	d.backing = fresh
	p = l.waitPlan(10*time.Minute, "the replacement to run as osd."+fmt.Sprint(osd), disk.ID, func(p cephv1alpha1.DevicePlan) bool {
		return p.Decommission != nil && p.Decommission.Phase == cephv1alpha1.DecommissionReplaced && p.OSDID != nil && *p.OSDID == osd
	})
	realnode.WaitFor(t, l.ctx, 10*time.Minute, "3 OSDs up and in with the replacement", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := l.c.Get(l.ctx, client.ObjectKeyFromObject(l.cc), got); err != nil {
			return err
		}
		if st := got.Status.Ceph; st == nil || st.OSDs.Up != 3 || st.OSDs.In != 3 || st.OSDs.Total != 3 {
			return fmt.Errorf("status.ceph %+v", st)
		}
		return nil
	})
	if in, line := l.inOSDMap(osd); !in || strings.Contains(line, "destroyed") || !strings.Contains(line, " up ") {
		errorf(t, "osd.%d after the replacement: %q", osd, line)
	}
	t.Logf("FIGURE blank disk in the slot -> osd.%d up again from it: %.1fs; %s", osd, time.Since(swapStart).Seconds(), p.Message)
	waitHealthy(t, l.ctx, l.c, l.cc, "after the replacement")
	if err := readBack(l.ctx, l.tl, l.objs); err != nil {
		t.Fatal(err)
	}
	l.setRequests()
	l.waitPlan(time.Minute, "the replaced OSD's record dropped with its request", disk.ID, func(p cephv1alpha1.DevicePlan) bool {
		return p.Action == cephv1alpha1.ActionProvisioned && p.Decommission == nil
	})
}

// purge decommissions d's OSD for good.
func (l *lifecycle) purge(d *device) {
	t := l.t
	disk := l.disk(d.dev.Name)
	osd := *disk.Verdict.OSDID
	t.Logf("decommissioning osd.%d on %s (%s)", osd, d.dev.Name, disk.ID)
	start := time.Now()
	l.setRequests(cephv1alpha1.DecommissionRequest{Node: l.node, OSDID: &osd, Wipe: true})
	p := l.waitPlan(10*time.Minute, "the OSD purged and its disk wiped", disk.ID, func(p cephv1alpha1.DevicePlan) bool {
		return p.Action == cephv1alpha1.ActionDecommissioned && p.Decommission != nil && p.Decommission.Phase == cephv1alpha1.DecommissionDone
	})
	names, timed := steps(p)
	t.Logf("FIGURE request -> osd.%d purged and its disk wiped: %.1fs; steps %s", osd, time.Since(start).Seconds(), timed)
	if want := []string{"MarkedOut", "SafeToDestroy", "Stopped", "Purged", "Wiped"}; !slices.Equal(names, want) {
		errorf(t, "steps %v, want %v", names, want)
	}
	if v := l.disk(d.dev.Name).Verdict; v.State != cephv1alpha1.DiskAvailable {
		errorf(t, "the wiped disk is %s %s: %s", v.State, v.Reason, v.Message)
	}
	if err := blankWindows(d.dev.Path); err != nil {
		errorf(t, "%s after the wipe: %v", d.dev.Name, err)
	}
	if in, line := l.inOSDMap(osd); in {
		errorf(t, "osd.%d is still in the OSD map after the purge: %q", osd, line)
	}
	realnode.WaitFor(t, l.ctx, 5*time.Minute, "the objects to read back", func() error { return readBack(l.ctx, l.tl, l.objs) })
	waitHealthy(t, l.ctx, l.c, l.cc, "after the purge")

	// The reporter publishes Ceph's status on its own period.
	realnode.WaitFor(t, l.ctx, 2*time.Minute, "status.ceph to count the 2 remaining OSDs", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := l.c.Get(l.ctx, client.ObjectKeyFromObject(l.cc), got); err != nil {
			return err
		}
		if st := got.Status.Ceph; st == nil || st.OSDs.Total != 2 || st.OSDs.Up != 2 {
			return fmt.Errorf("status.ceph after the purge: %+v", st)
		}
		return nil
	})
	// The wiped disk stays out of use while the request is listed; once
	// it is removed, the selection makes it an OSD again.
	time.Sleep(5 * time.Second)
	if p, err := l.plan(disk.ID); err != nil || p.Action != cephv1alpha1.ActionDecommissioned {
		errorf(t, "the wiped disk with its request listed: %+v %v", p, err)
	}
	start = time.Now()
	l.setRequests()
	l.osdsUp(3, "the wiped disk provisioned again once its request is removed")
	t.Logf("FIGURE request removed -> the wiped disk is an OSD again: %.1fs", time.Since(start).Seconds())
}

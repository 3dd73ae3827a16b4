package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// diskPlan returns the plan of disk on node in ns, read from the API server.
func diskPlan(t *testing.T, ns, node, disk string) (cephv1alpha1.DevicePlan, error) {
	t.Helper()
	inv := &cephv1alpha1.DiskInventory{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: node}, inv); err != nil {
		return cephv1alpha1.DevicePlan{}, err
	}
	for _, p := range inv.Status.Plan {
		if p.Name == disk {
			return p, nil
		}
	}
	return cephv1alpha1.DevicePlan{}, fmt.Errorf("no plan for %s/%s", node, disk)
}

// wipeJobs counts the wipe Jobs in ns.
func wipeJobs(t *testing.T, ns string) int {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(context.Background(), &jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs.Items {
		if j.Annotations[resources.JobKindAnnotation] == resources.JobKindWipe {
			n++
		}
	}
	return n
}

// rescan asks node's agent for a scan, as the operator does after a Job.
func rescan(t *testing.T, ns, node string) {
	t.Helper()
	inv := &cephv1alpha1.DiskInventory{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: node}, inv); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(inv.DeepCopy())
	inv.Spec.RescanRequest++
	if err := env.Client.Patch(context.Background(), inv, patch); err != nil {
		t.Fatal(err)
	}
}

// TestWipeConfirmation: a foreign OSD is wiped only with the confirmation
// its plan shows. A wrong confirmation, or one copied before the disk
// changed identity, creates no Job and the plan says what is expected; a
// mounted disk is refused whatever is given; the right confirmation wipes
// it once, after which it is Available and prepared like any blank disk.
func TestWipeConfirmation(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "wipe")
	w := playAgent(t, ns)
	const node = "wipe-a"
	w.AddNode(node, "foreign", "partitioned", "available")
	w.SetDisk(node, "sdb", func(d *cephv1alpha1.Disk) {
		d.WWN, d.ContentHash, d.Verdict.ClusterFSID = "0x5000c500000000b1", strings.Repeat("a1", 32), "99999999-8888-4777-8666-555555555555"
	})
	w.SetDisk(node, "sdc", func(d *cephv1alpha1.Disk) {
		d.ContentHash = strings.Repeat("c1", 32)
		d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "Mounted", Message: "partition sdc1 is mounted at /srv"}
	})
	withNodes(t, node)
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}

	var first string
	waitFor(t, "the foreign disk's confirmation and the blank disk's OSD", func() error {
		p, err := diskPlan(t, ns, node, "sdb")
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionLeftOut || p.Reason != "ForeignCephCluster" || !strings.HasSuffix(p.WipeConfirmation, "/fsid=99999999-8888-4777-8666-555555555555") {
			return fmt.Errorf("sdb plan %+v", p)
		}
		first = p.WipeConfirmation
		if m, err := diskPlan(t, ns, node, "sdc"); err != nil || m.WipeConfirmation != "" {
			return fmt.Errorf("the mounted disk shows a confirmation: %+v %w", m, err)
		}
		if d, err := diskPlan(t, ns, node, "sdd"); err != nil || d.Action != cephv1alpha1.ActionProvisioned {
			return fmt.Errorf("sdd plan %+v %w", d, err)
		}
		return nil
	})

	// A wrong confirmation (another cluster's FSID) and a mounted disk.
	wrong := strings.Replace(first, "/fsid=9", "/fsid=8", 1)
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		c.Spec.Storage.WipeDevices = []cephv1alpha1.WipeDeviceSpec{
			{Node: node, Device: id(node, "sdb"), Confirmation: wrong},
			{Node: node, Device: id(node, "sdc"), Confirmation: "wwn=x/content=c1c1c1c1c1c1"},
		}
	})
	waitFor(t, "the mismatch and the refusal in the plans", func() error {
		p, err := diskPlan(t, ns, node, "sdb")
		if err != nil {
			return err
		}
		if p.Reason != osdplan.ReasonWipeConfirmationMismatch || !strings.Contains(p.Message, first) || !strings.Contains(p.Message, wrong) {
			return fmt.Errorf("sdb plan %+v", p)
		}
		m, err := diskPlan(t, ns, node, "sdc")
		if err != nil {
			return err
		}
		if m.Reason != osdplan.ReasonWipeNotAllowed || !strings.Contains(m.Message, "Mounted") {
			return fmt.Errorf("sdc plan %+v", m)
		}
		return nil
	})
	if n := wipeJobs(t, ns); n != 0 || w.Wiped(id(node, "sdb"))+w.Wiped(id(node, "sdc")) != 0 {
		t.Fatalf("%d wipe Jobs, %d wipes after a wrong confirmation", n, w.Wiped(id(node, "sdb")))
	}

	// The disk behind the id changes identity (another WWN): the
	// confirmation copied before no longer matches.
	w.SetDisk(node, "sdb", func(d *cephv1alpha1.Disk) { d.WWN = "0x5000c500000000b2" })
	rescan(t, ns, node)
	var second string
	waitFor(t, "the new identity's confirmation", func() error {
		p, err := diskPlan(t, ns, node, "sdb")
		if err != nil {
			return err
		}
		if p.WipeConfirmation == first || !strings.HasPrefix(p.WipeConfirmation, "wwn=0x5000c500000000b2/") {
			return fmt.Errorf("sdb plan %+v", p)
		}
		second = p.WipeConfirmation
		return nil
	})
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		c.Spec.Storage.WipeDevices = []cephv1alpha1.WipeDeviceSpec{{Node: node, Device: id(node, "sdb"), Confirmation: first}}
	})
	waitFor(t, "the stale request refused", func() error {
		p, err := diskPlan(t, ns, node, "sdb")
		if err != nil {
			return err
		}
		if p.Reason != osdplan.ReasonWipeConfirmationMismatch || !strings.Contains(p.Message, second) {
			return fmt.Errorf("sdb plan %+v", p)
		}
		return nil
	})
	if n := wipeJobs(t, ns); n != 0 || w.Wiped(id(node, "sdb")) != 0 {
		t.Fatalf("%d wipe Jobs, %d wipes after a stale confirmation", n, w.Wiped(id(node, "sdb")))
	}

	// The right confirmation: wiped, rescanned, Available, prepared.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		c.Spec.Storage.WipeDevices = []cephv1alpha1.WipeDeviceSpec{{Node: node, Device: id(node, "sdb"), Confirmation: second}}
	})
	waitFor(t, "the wiped disk to become an OSD", func() error {
		p, err := diskPlan(t, ns, node, "sdb")
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionProvisioned || !strings.Contains(p.Message, "wipeDevices[0] names this disk") {
			return fmt.Errorf("sdb plan %+v", p)
		}
		return nil
	})
	if n := w.Wiped(id(node, "sdb")); n != 1 {
		t.Errorf("sdb wiped %d times, want once", n)
	}
	// The request left in the spec never wipes it again.
	time.Sleep(2 * time.Second)
	if n := w.Wiped(id(node, "sdb")); n != 1 || wipeJobs(t, ns) != 0 {
		t.Errorf("sdb wiped %d times and %d wipe Jobs with the request left in the spec", n, wipeJobs(t, ns))
	}
	if w.Wiped(id(node, "sdc")) != 0 {
		t.Error("the mounted disk was wiped")
	}
}

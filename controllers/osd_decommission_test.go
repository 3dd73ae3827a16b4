package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// TestDecommission takes one of three OSDs out declaratively through the
// real API server: the steps run in order, each recorded with its time and
// an Event; the OSD stays running while Ceph says not yet; a second
// request removed before the point of no return is reversed; and the
// other OSDs are never touched.
func TestDecommission(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "decom")
	w := playAgent(t, ns)
	w.AddNode("decom-a", "available", "available", "available")
	withNodes(t, "decom-a")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.DefaultFailureDomain = cephv1alpha1.FailureDomainOSD
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitReady(t, cluster)
	osds := osdDeployments(t, ns)
	if len(osds) != 3 {
		t.Fatalf("OSDs %v", osds)
	}
	sdbID := ""
	for osd, dev := range osds {
		if dev == id("decom-a", "sdb") {
			sdbID = osd
		}
	}
	before := snapshotDeployments(t, ns)

	// Ceph says "not yet" twice: the OSD keeps running meanwhile.
	var osdID int32
	if _, err := fmt.Sscan(sdbID, &osdID); err != nil {
		t.Fatal(err)
	}
	w.SetSafeToDestroy(osdID, osdop.NotYet, osdop.NotYet)
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		c.Spec.Storage.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "decom-a", Device: id("decom-a", "sdb"), Wipe: true}}
	})
	waitFor(t, "not yet safe", func() error {
		p, err := diskPlan(t, ns, "decom-a", "sdb")
		if err != nil {
			return err
		}
		if p.Decommission == nil || p.Decommission.Phase != cephv1alpha1.DecommissionWaiting || !strings.Contains(p.Message, "not yet safe") {
			return fmt.Errorf("plan %+v", p)
		}
		return nil
	})
	if _, ok := osdDeployments(t, ns)[sdbID]; !ok {
		t.Fatal("the OSD was stopped before Ceph said it is safe to destroy")
	}
	waitFor(t, "decommission done", func() error {
		p, err := diskPlan(t, ns, "decom-a", "sdb")
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionDecommissioned || p.Decommission == nil || p.Decommission.Phase != cephv1alpha1.DecommissionDone {
			return fmt.Errorf("plan %s %+v: %s", p.Action, p.Decommission, p.Message)
		}
		return nil
	})
	p, _ := diskPlan(t, ns, "decom-a", "sdb")
	var names []string
	for i, s := range p.Decommission.Steps {
		names = append(names, s.Name)
		if i > 0 && s.Time.Before(&p.Decommission.Steps[i-1].Time) {
			t.Errorf("step %s at %v is before %s", s.Name, s.Time, p.Decommission.Steps[i-1].Name)
		}
	}
	if want := []string{"MarkedOut", "SafeToDestroy", "Stopped", "Purged", "Wiped"}; !slices.Equal(names, want) {
		t.Fatalf("steps %v, want %v", names, want)
	}
	if n := w.Wiped(id("decom-a", "sdb")); n != 1 {
		t.Fatalf("the decommissioned disk was wiped %d times, want once", n)
	}
	// Exactly these, in order: out, safe-to-destroy until Ceph said yes
	// (twice not yet), then purge. A finished OSD Job is kept until a
	// plan read back from the cache records it, so a cache that lags
	// repeats no command.
	wantSteps := []string{sdbID + " out", sdbID + " safe-to-destroy", sdbID + " safe-to-destroy", sdbID + " safe-to-destroy", sdbID + " purge"}
	if got := w.OSDSteps(); !slices.Equal(got, wantSteps) {
		t.Fatalf("Ceph commands %v, want %v", got, wantSteps)
	}
	waitFor(t, "the decommissioned OSD's Deployment gone, the others untouched", func() error {
		after := snapshotDeployments(t, ns)
		if _, ok := osdDeployments(t, ns)[sdbID]; ok {
			return fmt.Errorf("OSD %s still has a Deployment", sdbID)
		}
		for name, rv := range before {
			if strings.HasSuffix(name, "-osd-"+sdbID) {
				continue
			}
			if after[name] != rv {
				return fmt.Errorf("Deployment %s changed: %s, was %s", name, after[name], rv)
			}
		}
		return nil
	})
	waitFor(t, "counts and Events", func() error {
		if jobs := listOSDJobs(t, ns); len(jobs) != 0 {
			return fmt.Errorf("OSD Jobs left: %v", jobs)
		}
		return hasEventReasons(ctx, ns, "DecommissionMarkedOut", "DecommissionSafeToDestroy", "DecommissionStopped", "DecommissionPurged", "OSDStopped")
	})

	// A second decommission, removed while Ceph still says not yet, is
	// reversed: the OSD is marked in and keeps running.
	var sdcID int32
	for osd, dev := range osdDeployments(t, ns) {
		if dev == id("decom-a", "sdc") {
			if _, err := fmt.Sscan(osd, &sdcID); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.SetSafeToDestroy(sdcID, osdop.NotYet, osdop.NotYet, osdop.NotYet, osdop.NotYet, osdop.NotYet, osdop.NotYet)
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		c.Spec.Storage.Decommission = append(c.Spec.Storage.Decommission, cephv1alpha1.DecommissionRequest{Node: "decom-a", OSDID: &sdcID})
	})
	waitFor(t, "second decommission waiting", func() error {
		p, err := diskPlan(t, ns, "decom-a", "sdc")
		if err != nil {
			return err
		}
		if p.Decommission == nil || p.Decommission.Phase != cephv1alpha1.DecommissionWaiting {
			return fmt.Errorf("plan %+v", p)
		}
		return nil
	})
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Storage.Decommission = c.Spec.Storage.Decommission[:1] })
	waitFor(t, "reversed", func() error {
		p, err := diskPlan(t, ns, "decom-a", "sdc")
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionProvisioned || p.Decommission != nil {
			return fmt.Errorf("plan %s %+v: %s", p.Action, p.Decommission, p.Message)
		}
		if got := w.OSDSteps(); !slices.Contains(got, fmt.Sprintf("%d in", sdcID)) {
			return fmt.Errorf("never marked in: %v", got)
		}
		return nil
	})
	if _, ok := osdDeployments(t, ns)[fmt.Sprint(sdcID)]; !ok {
		t.Fatal("a reversed decommission stopped its OSD")
	}
	// The counts are written after the plans, at the end of the same
	// reconcile.
	waitFor(t, "no OSD counted as decommissioning", func() error {
		if c := getCluster(t, cluster); c.Status.OSDs.Decommissioning != 0 {
			return fmt.Errorf("counts %+v", c.Status.OSDs)
		}
		return nil
	})
	// The wiped disk stays out of use while its request is listed, and
	// becomes a new OSD once it is removed.
	if p, _ := diskPlan(t, ns, "decom-a", "sdb"); p.Action != cephv1alpha1.ActionDecommissioned || !slices.Contains(osdDeploymentsDevices(t, ns), id("decom-a", "sdc")) {
		t.Fatalf("sdb after the wipe, request listed: %s %s", p.Action, p.Message)
	}
	if slices.Contains(osdDeploymentsDevices(t, ns), id("decom-a", "sdb")) {
		t.Fatal("the wiped disk became an OSD while its decommission request is listed")
	}
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Storage.Decommission = nil })
	waitFor(t, "the wiped disk provisioned again", func() error {
		p, err := diskPlan(t, ns, "decom-a", "sdb")
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionProvisioned || p.Decommission != nil || !slices.Contains(osdDeploymentsDevices(t, ns), id("decom-a", "sdb")) {
			return fmt.Errorf("plan %s %+v: %s", p.Action, p.Decommission, p.Message)
		}
		return nil
	})
}

// osdDeploymentsDevices lists the disks the OSD Deployments in ns run from.
func osdDeploymentsDevices(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, dev := range osdDeployments(t, ns) {
		out = append(out, dev)
	}
	return out
}

// listOSDJobs names the OSD Jobs in ns.
func listOSDJobs(t *testing.T, ns string) []string {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(context.Background(), &jobs, client.InNamespace(ns), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSDJob}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range jobs.Items {
		out = append(out, j.Name)
	}
	return out
}

// hasEventReasons returns an error unless ns has an Event of every reason.
func hasEventReasons(ctx context.Context, ns string, reasons ...string) error {
	var events corev1.EventList
	if err := env.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range events.Items {
		seen[e.Reason] = true
	}
	for _, r := range reasons {
		if !seen[r] {
			return fmt.Errorf("no %s Event among %v", r, seen)
		}
	}
	return nil
}

package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// otherFSID is the FSID of another cluster.
const otherFSID = "0bad0bad-0bad-4bad-8bad-0bad0bad0bad"

// setVerdictFSID gives disk name of node the label FSID fsid, as the
// agent reports it at its next scan, and waits until the inventory shows
// it.
func setVerdictFSID(t *testing.T, w *world.World, ns, node, name, fsid string) {
	t.Helper()
	ctx := context.Background()
	w.SetDisk(node, name, func(d *cephv1alpha1.Disk) { d.Verdict.ClusterFSID = fsid })
	testenv.Eventually(t, wait, func() error {
		var inv cephv1alpha1.DiskInventory
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: node}, &inv); err != nil {
			return err
		}
		for _, d := range inv.Status.Disks {
			if d.Name == name && d.Verdict.ClusterFSID == fsid {
				return nil
			}
		}
		inv.Spec.RescanRequest++
		if err := env.Client.Update(ctx, &inv); err != nil {
			return err
		}
		return fmt.Errorf("%s/%s does not show FSID %s yet", node, name, fsid)
	})
}

// eventsOf returns the Events of the namespace by reason.
func eventsOf(t *testing.T, ns string) map[string][]string {
	t.Helper()
	var events corev1.EventList
	if err := env.Client.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range events.Items {
		out[e.Reason] = append(out[e.Reason], e.Message)
	}
	return out
}

// TestConfirmedCleanupWipesOnlyThisCluster deletes a cluster whose
// cleanupPolicy confirms destroying the data: the daemons go first, then
// every disk whose verdict is an OSD of this cluster's FSID is wiped and
// its host directory removed on every node; a blank disk, a partitioned
// one, one of another cluster and an OSD verdict naming another FSID are
// not touched; the finalizer goes.
func TestConfirmedCleanupWipesOnlyThisCluster(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "wipeall")
	a, b := "wipeall-a", "wipeall-b"
	withNodes(t, a, b)
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	// a: sdb available (becomes an OSD), sdc partitioned, sdd foreign,
	// sde an OSD of this cluster; b: sdb available, sdc an OSD verdict
	// naming another FSID.
	w.AddNode(a, "available", "partitioned", "foreign", "osd")
	w.AddNode(b, "available", "osd")

	cluster := newCluster(ns, "ceph")
	cluster.Spec.CleanupPolicy.Confirmation = cephv1alpha1.CleanupConfirmation
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	fsid := got.Status.FSID
	setVerdictFSID(t, w, ns, a, "sde", fsid)
	setVerdictFSID(t, w, ns, b, "sdc", otherFSID)
	for _, n := range []string{a, b} {
		if p := w.Prepared(world.DiskID(n, "sdb")); p != 1 {
			t.Fatalf("%s/sdb prepared %d times, want once before the deletion", n, p)
		}
	}
	var deployments appsv1.DeploymentList
	if err := env.Client.List(ctx, &deployments, client.InNamespace(ns)); err != nil || len(deployments.Items) == 0 {
		t.Fatalf("no Deployments before the deletion (err=%v): the sequencing check below would prove nothing", err)
	}

	deleteAndWait(t, got)

	for id, want := range map[string]int{
		world.DiskID(a, "sdb"): 1, world.DiskID(a, "sde"): 1, world.DiskID(b, "sdb"): 1,
		world.DiskID(a, "sdc"): 0, world.DiskID(a, "sdd"): 0, world.DiskID(b, "sdc"): 0,
	} {
		if n := w.Wiped(id); n != want {
			t.Errorf("%s wiped %d times, want %d", id, n, want)
		}
	}
	for _, n := range []string{a, b} {
		want := "/var/lib/ceph-operator/" + ns + "/ceph/" + fsid
		if dirs := w.HostDirsRemoved(n); !slices.Equal(dirs, []string{want}) {
			t.Errorf("host directories removed on %s: %v, want [%s]", n, dirs, want)
		}
	}
	if refused := w.CleanupRefused(); len(refused) > 0 {
		t.Errorf("cleanup Jobs named disks that are not OSDs of this cluster: %v", refused)
	}
	if beside := w.CleanupBesideDaemons(); len(beside) > 0 {
		t.Errorf("cleanup ran before the daemons were gone: %v", beside)
	}
	events := eventsOf(t, ns)
	if len(events[cephv1alpha1.ReasonWipingDisks]) == 0 || len(events[cephv1alpha1.ReasonCleanupCompleted]) == 0 {
		t.Errorf("Events %v, want %s and %s", events, cephv1alpha1.ReasonWipingDisks, cephv1alpha1.ReasonCleanupCompleted)
	}
	if e := events[cephv1alpha1.ReasonCleanupTimedOut]; len(e) > 0 {
		t.Errorf("cleanup timed out: %v", e)
	}
}

// TestConfirmedCleanupTimesOut plays a node whose cleanup Job never
// finishes: after the bound the finalizer goes all the same, and an Event
// names that node's disk, not the one of the node that finished.
func TestConfirmedCleanupTimesOut(t *testing.T) {
	ctx := context.Background()
	const bound = 15 * time.Second
	startManagerWith(t, func(o *manager.Options) { o.CleanupTimeout = bound })
	ns := newNamespace(t, "wipestuck")
	a, b := "wipestuck-a", "wipestuck-b"
	withNodes(t, a, b)
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	w.AddNode(a, "available")
	w.AddNode(b, "available")
	w.HoldCleanup(b, true)

	cluster := newCluster(ns, "ceph")
	cluster.Spec.CleanupPolicy.Confirmation = cephv1alpha1.CleanupConfirmation
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	if err := env.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// While b's Job runs, the finalizer is held and the status says what
	// is left.
	testenv.Eventually(t, wait, func() error {
		c := getCluster(t, got)
		for _, cond := range c.Status.Conditions {
			if cond.Type == cephv1alpha1.ConditionCleanupInProgress && cond.Status == "True" && cond.Reason == cephv1alpha1.ReasonWipingDisks &&
				strings.Contains(cond.Message, world.DiskID(b, "sdb")) {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", c.Status.Conditions)
	})
	if w.Wiped(world.DiskID(a, "sdb")) != 1 {
		testenv.Eventually(t, wait, func() error {
			if w.Wiped(world.DiskID(a, "sdb")) != 1 {
				return errors.New("a/sdb not wiped yet")
			}
			return nil
		})
	}
	testenv.Eventually(t, wait, func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(got), &cephv1alpha1.CephCluster{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("CephCluster still there (err=%w)", err)
	})
	if took := time.Since(start); took < bound-2*time.Second {
		t.Errorf("the finalizer went after %s, before the bound of %s", took, bound)
	}
	if n := w.Wiped(world.DiskID(b, "sdb")); n != 0 {
		t.Errorf("b/sdb wiped %d times by a held Job", n)
	}
	timedOut := eventsOf(t, ns)[cephv1alpha1.ReasonCleanupTimedOut]
	if len(timedOut) != 1 {
		t.Fatalf("%s Events: %v, want one", cephv1alpha1.ReasonCleanupTimedOut, timedOut)
	}
	if msg := timedOut[0]; !strings.Contains(msg, world.DiskID(b, "sdb")) || !strings.Contains(msg, "node "+b+" host directory") || strings.Contains(msg, world.DiskID(a, "sdb")) {
		t.Errorf("timeout Event %q should name %s and its host directory, and not %s", msg, world.DiskID(b, "sdb"), world.DiskID(a, "sdb"))
	}
}

// TestDefaultCleanupWipesNothing deletes a cluster with the default
// cleanup policy: no disk is wiped, no host directory removed, the state
// is kept.
func TestDefaultCleanupWipesNothing(t *testing.T) {
	ctx := context.Background()
	ns, w := oneNodeWorld(t, "keepall")
	node := "keepall-1"
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	if w.Prepared(world.DiskID(node, "sdb")) != 1 {
		t.Fatalf("sdb not prepared: nothing here would be wiped anyway")
	}
	deleteAndWait(t, got)
	// Leave the world time to play a Job created at the end.
	time.Sleep(time.Second)
	for _, name := range []string{"sdb", "sdc", "sdd"} {
		if n := w.Wiped(world.DiskID(node, name)); n != 0 {
			t.Errorf("%s wiped %d times with the default policy", name, n)
		}
	}
	if dirs := w.HostDirsRemoved(node); len(dirs) > 0 {
		t.Errorf("host directories removed with the default policy: %v", dirs)
	}
	events := eventsOf(t, ns)
	if len(events["ClusterStateKept"]) == 0 || len(events[cephv1alpha1.ReasonWipingDisks]) > 0 {
		t.Errorf("Events %v, want ClusterStateKept and no %s", events, cephv1alpha1.ReasonWipingDisks)
	}
}

// TestConfirmedCleanupReportsRefusedDisk plays a disk that is no longer
// the named OSD when its cleanup Job runs: agent wipe refuses it, the Job
// fails, and the finalizer goes with an Event naming that disk only.
func TestConfirmedCleanupReportsRefusedDisk(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "wiperef")
	node := "wiperef-1"
	withNodes(t, node)
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	w.AddNode(node, "available", "available")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.CleanupPolicy.Confirmation = cephv1alpha1.CleanupConfirmation
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	w.HoldCleanup(node, true)
	if err := env.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		var jobs batchv1.JobList
		if err := env.Client.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{resources.ComponentLabel: resources.ComponentCleanup}); err != nil {
			return err
		}
		if len(jobs.Items) != 1 {
			return fmt.Errorf("%d cleanup Jobs", len(jobs.Items))
		}
		return nil
	})
	// sdc is blank again before the Job runs: not the named OSD any more.
	w.SetDisk(node, "sdc", func(d *cephv1alpha1.Disk) { d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable} })
	w.HoldCleanup(node, false)
	testenv.Eventually(t, wait, func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(got), &cephv1alpha1.CephCluster{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("CephCluster still there (err=%w)", err)
	})
	if w.Wiped(world.DiskID(node, "sdb")) != 1 || w.Wiped(world.DiskID(node, "sdc")) != 0 {
		t.Errorf("wiped sdb %d, sdc %d times; want 1 and 0", w.Wiped(world.DiskID(node, "sdb")), w.Wiped(world.DiskID(node, "sdc")))
	}
	incomplete := eventsOf(t, ns)[cephv1alpha1.ReasonCleanupIncomplete]
	if len(incomplete) != 1 || !strings.Contains(incomplete[0], world.DiskID(node, "sdc")) || strings.Contains(incomplete[0], world.DiskID(node, "sdb")) {
		t.Errorf("%s Events %v, want one naming sdc and not sdb", cephv1alpha1.ReasonCleanupIncomplete, incomplete)
	}
}

package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/controllers"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// planOf returns the plan entry of disk on node, read from the API server.
func planOf(t *testing.T, ns, node, disk string) cephv1alpha1.DevicePlan {
	t.Helper()
	inv := &cephv1alpha1.DiskInventory{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: node}, inv); err != nil {
		if apierrors.IsNotFound(err) {
			return cephv1alpha1.DevicePlan{}
		}
		t.Fatal(err)
	}
	for _, p := range inv.Status.Plan {
		if p.Name == disk {
			return p
		}
	}
	return cephv1alpha1.DevicePlan{}
}

// inventoryEvents returns the Events regarding node's DiskInventory, by
// reason.
func inventoryEvents(t *testing.T, ns, node string) map[string][]eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]eventsv1.Event{}
	for _, e := range list.Items {
		if e.Regarding.Kind == "DiskInventory" && e.Regarding.Name == node {
			out[e.Reason] = append(out[e.Reason], e)
		}
	}
	return out
}

// prepareJobs returns the prepare Jobs in ns, straight from the API server.
func prepareJobs(t *testing.T, ns string) []batchv1.Job {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(context.Background(), &jobs, client.InNamespace(ns),
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentPrepare}); err != nil {
		t.Fatal(err)
	}
	return jobs.Items
}

// TestPrepareRefusalAndFailureReported: one Job prepares three disks;
// agent prepare refuses the first, ceph-volume fails on the second with a
// long stderr, the third is prepared. The refusal and the failure, with the
// end of the stderr, reach the plans and Events on the DiskInventory; the
// Job is deleted only after that; neither disk is retried while its own
// content is unchanged, even when the node's inventory changes; a wiped
// disk is retried.
func TestPrepareRefusalAndFailureReported(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "refuse")
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	const node = "refuse-a"
	w.AddNode(node, "available", "available", "available")
	for _, d := range []string{"sdb", "sdc", "sdd"} {
		w.SetContent(node, d, "hash-"+d+"-1")
	}
	w.SetRefusing(id(node, "sdb"), "HasUnknownData")
	w.SetFailing(id(node, "sdc"), true)
	w.SetStderr(strings.Repeat("é", 3000) + "\nstderr: _write_bdev_label failed: (5) Input/output error")
	withNodes(t, node)
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "refusal, failure and OSD in the plan", func() error {
		p := plans(t, ns)
		if p[node+"/sdb"] != "Failed/PrepareRefused" || p[node+"/sdc"] != "Failed/PrepareFailed" || p[node+"/sdd"] != "Provisioned/" {
			return fmt.Errorf("plans %v", p)
		}
		return nil
	})
	refused, failed := planOf(t, ns, node, "sdb"), planOf(t, ns, node, "sdc")
	if !strings.Contains(refused.Message, "HasUnknownData: the re-check on the node found the disk not blank") {
		t.Errorf("refused disk's message %q", refused.Message)
	}
	if !strings.HasSuffix(failed.Message, "_write_bdev_label failed: (5) Input/output error") ||
		!strings.Contains(failed.Message, "CephVolumeFailed: ceph-volume raw prepare exited with status 1") ||
		utf8.RuneCountInString(failed.Message) > osdplan.MaxMessageLength {
		t.Errorf("failed disk's message (%d characters) does not carry the evidence: %.200q", utf8.RuneCountInString(failed.Message), failed.Message)
	}
	waitFor(t, "Events on the DiskInventory", func() error {
		ev := inventoryEvents(t, ns, node)
		if len(ev["PrepareRefused"]) == 0 || len(ev["PrepareFailed"]) == 0 {
			return fmt.Errorf("events %v", ev)
		}
		note := ev["PrepareFailed"][0].Note
		if !strings.HasSuffix(note, "Input/output error") || len(note) > 1024 {
			return fmt.Errorf("PrepareFailed note (%d bytes) %.120q", len(note), note)
		}
		return nil
	})
	waitFor(t, "the finished Job deleted", func() error {
		if jobs := prepareJobs(t, ns); len(jobs) != 0 {
			return fmt.Errorf("%d Jobs left", len(jobs))
		}
		return nil
	})
	waitFor(t, "the refusal in the condition", func() error {
		c := meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionOSDsProvisioned)
		if c == nil || c.Reason != "PrepareFailed" || !strings.Contains(c.Message, "1 disks were refused by agent prepare") {
			return fmt.Errorf("OSDsProvisioned = %+v", c)
		}
		return nil
	})

	// The node's inventory changes (a rescan answers with a new scan
	// time), but neither disk's content: no retry.
	runs := w.JobsRun()
	bumpRescan(t, ns, node)
	time.Sleep(3 * time.Second)
	if n := w.JobsRun(); n != runs {
		inv := &cephv1alpha1.DiskInventory{}
		_ = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: node}, inv)
		t.Errorf("%d more prepare runs after a change of the node that left the refused and failed disks as they were; annotations %v, plan %+v", n-runs, inv.Annotations, inv.Status.Plan)
	}
	// The refused disk is wiped: its content changes and it is retried.
	w.SetRefusing(id(node, "sdb"), "")
	w.SetContent(node, "sdb", "hash-sdb-2")
	bumpRescan(t, ns, node)
	waitFor(t, "the wiped disk prepared", func() error {
		if p := plans(t, ns); p[node+"/sdb"] != "Provisioned/" || p[node+"/sdc"] != "Failed/PrepareFailed" {
			return fmt.Errorf("plans %v", p)
		}
		return nil
	})
	if twice := w.PreparedTwice(); len(twice) != 0 {
		t.Errorf("disks prepared twice: %v", twice)
	}
}

// TestRescansBounded: a Job reports its disk prepared but the agent keeps
// seeing it Available. The operator asks for one rescan for that Job, never
// more, keeps the Job (no second prepare) and says why in the plan.
func TestRescansBounded(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "rescan")
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	const node = "rescan-a"
	w.AddNode(node, "available")
	w.SetLying(id(node, "sdb"), true)
	withNodes(t, node)
	if err := env.Client.Create(ctx, newCluster(ns, "ceph")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the plan saying the rescan did not confirm the prepare", func() error {
		if p := planOf(t, ns, node, "sdb"); !strings.Contains(p.Message, "still shows it Available") {
			return fmt.Errorf("plan %+v", p)
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	inv := &cephv1alpha1.DiskInventory{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: node}, inv); err != nil {
		t.Fatal(err)
	}
	if inv.Spec.RescanRequest != 1 {
		t.Errorf("spec.rescanRequest = %d after 3s, want 1: the operator asked for more than one rescan for one Job", inv.Spec.RescanRequest)
	}
	jobs := prepareJobs(t, ns)
	runs := w.JobsRun()
	if len(jobs) != 1 || runs != 1 {
		t.Errorf("%d Jobs exist and %d ran, want the one Job kept", len(jobs), runs)
	}
}

// TestUnstartedJobDeleted: a Job whose pod has not started is deleted when
// provisioning switches to Preview or its disks leave the selection; the
// disk that left is never prepared.
func TestUnstartedJobDeleted(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "unstarted")
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	const node = "unstarted-a"
	w.AddNode(node, "available", "available")
	w.Pause(true)
	withNodes(t, node)
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Storage.DeviceFilter = "^sdc$"
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a Job for sdc", func() error {
		if got := jobDevices(t, ns)[node]; strings.Join(got, ",") != id(node, "sdc") {
			return fmt.Errorf("Jobs %v", got)
		}
		return nil
	})

	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Storage.Provisioning = cephv1alpha1.ProvisioningPreview })
	waitFor(t, "the unstarted Job deleted under Preview", func() error {
		if jobs := prepareJobs(t, ns); len(jobs) != 0 {
			return fmt.Errorf("%d Jobs", len(jobs))
		}
		if p := plans(t, ns)[node+"/sdc"]; p != "WouldProvision/Preview" {
			return fmt.Errorf("sdc plan %s", p)
		}
		return nil
	})

	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Storage.Provisioning = cephv1alpha1.ProvisioningEnabled })
	waitFor(t, "a Job for sdc again", func() error {
		if got := jobDevices(t, ns)[node]; strings.Join(got, ",") != id(node, "sdc") {
			return fmt.Errorf("Jobs %v", got)
		}
		return nil
	})
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Storage.DeviceFilter = "^sdb$" })
	waitFor(t, "the Job for sdc replaced by one for sdb", func() error {
		if got := jobDevices(t, ns)[node]; strings.Join(got, ",") != id(node, "sdb") {
			return fmt.Errorf("Jobs %v", got)
		}
		return nil
	})
	w.Pause(false)
	waitFor(t, "sdb prepared", func() error {
		if p := plans(t, ns); p[node+"/sdb"] != "Provisioned/" || p[node+"/sdc"] != "LeftOut/FilteredOut" {
			return fmt.Errorf("plans %v", p)
		}
		return nil
	})
	if n := w.Prepared(id(node, "sdc")); n != 0 {
		t.Errorf("sdc, deselected before its Job started, was prepared %d times", n)
	}
}

// hidingCache is the manager's cache, except that prepare Jobs younger
// than hide are invisible to Get and List, as with an informer lagging
// behind the API server.
type hidingCache struct {
	cache.Cache
	hide time.Duration
}

func (c *hidingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Cache.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if job, ok := obj.(*batchv1.Job); ok && time.Since(job.CreationTimestamp.Time) < c.hide {
		return errNotFoundJob(key.Name)
	}
	return nil
}

func (c *hidingCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.Cache.List(ctx, list, opts...); err != nil {
		return err
	}
	if jobs, ok := list.(*batchv1.JobList); ok {
		kept := jobs.Items[:0]
		for _, j := range jobs.Items {
			if time.Since(j.CreationTimestamp.Time) >= c.hide {
				kept = append(kept, j)
			}
		}
		jobs.Items = kept
	}
	return nil
}

// runReconcilers runs the cluster and OSD reconcilers on mgr until the
// test ends.
func runReconcilers(t *testing.T, mgr ctrl.Manager) {
	t.Helper()
	images := resources.Images{Operator: "ceph-operator:test"}
	rec := mgr.GetEventRecorder("ceph-operator")
	if err := (&controllers.CephClusterReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Images: images}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controllers.OSDReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: rec, Images: images}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

// startHidingManager runs the cluster and OSD reconcilers with a cache that
// hides new Jobs for hide.
func startHidingManager(t *testing.T, hide time.Duration) {
	t.Helper()
	mgr := newTestManager(t, func(o *ctrl.Options) {
		o.NewCache = func(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
			c, err := cache.New(cfg, opts)
			return &hidingCache{Cache: c, hide: hide}, err
		}
	})
	runReconcilers(t, mgr)
}

// TestHiddenJobNeverDuplicated: the operator's cache does not show a new
// prepare Job for five seconds, while disks keep appearing on the node and
// the inventory changes. Polled straight from the API server, no node ever
// has more than one prepare Job, and no disk is prepared twice.
func TestHiddenJobNeverDuplicated(t *testing.T) {
	ctx := context.Background()
	startHidingManager(t, 5*time.Second)
	ns := newNamespace(t, "hidden")
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	nodes := []string{"hidden-a", "hidden-b"}
	for _, n := range nodes {
		w.AddNode(n, "available")
	}
	w.Pause(true)
	withNodes(t, nodes...)

	var mu sync.Mutex
	most := map[string]int{}
	seen := map[string]sets.Set[string]{}
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var jobs batchv1.JobList
			if err := env.Client.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
				continue
			}
			per := map[string]int{}
			mu.Lock()
			for _, j := range jobs.Items {
				n := j.Annotations[resources.NodeAnnotation]
				per[n]++
				if seen[n] == nil {
					seen[n] = sets.New[string]()
				}
				seen[n].Insert(string(j.UID))
			}
			for n, c := range per {
				most[n] = max(most[n], c)
			}
			mu.Unlock()
		}
	}()

	if err := env.Client.Create(ctx, newCluster(ns, "ceph")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first Jobs", func() error {
		if got := jobDevices(t, ns); len(got) != len(nodes) {
			return fmt.Errorf("Jobs %v", got)
		}
		return nil
	})
	// While the Jobs are hidden, each node gets more disks, and its
	// inventory changes every time: every change is a reconcile that sees
	// no Job for the node.
	for i := 2; i <= 4; i++ {
		kinds := make([]string, i)
		for k := range kinds {
			kinds[k] = "available"
		}
		for _, n := range nodes {
			w.AddNode(n, kinds...)
			bumpRescan(t, ns, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)
	w.Pause(false)
	waitFor(t, "every disk prepared", func() error {
		if got := w.OSDs(); len(got) != 4*len(nodes) {
			return fmt.Errorf("OSD disks %v", got)
		}
		return nil
	})
	close(stop)
	<-polled
	mu.Lock()
	defer mu.Unlock()
	for _, n := range nodes {
		if most[n] != 1 {
			t.Errorf("node %s had %d prepare Jobs at once at the API server, want 1", n, most[n])
		}
		t.Logf("node %s: %d prepare Jobs over the test, at most %d at once", n, seen[n].Len(), most[n])
	}
	if twice := w.PreparedTwice(); len(twice) != 0 {
		t.Errorf("disks prepared twice: %v", twice)
	}
}

// errNotFoundJob is the NotFound a cache returns for a Job it does not
// hold.
func errNotFoundJob(name string) error {
	return apierrors.NewNotFound(batchv1.Resource("jobs"), name)
}

// TestOSDIDWithoutDiskReported: an OSD id that Ceph's OSD map holds but that
// never started and that no disk carries (a prepare interrupted after
// `ceph osd new`) is reported as PartiallyPreparedOSDs, with the recovery
// and an Event; an id a disk carries is not; the condition goes when a
// disk shows the uuid or the id leaves the map.
func TestOSDIDWithoutDiskReported(t *testing.T) {
	ctx := context.Background()
	ns, w := oneNodeWorld(t, "partial")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitReady(t, cluster)
	const node = "partial-1"
	// The world's "osd" disk (sdd) carries OSD 100.
	w.SetNeverStarted(cephv1alpha1.CephOSDRef{ID: 100, UUID: "uuid-100"}, cephv1alpha1.CephOSDRef{ID: 7, UUID: "uuid-7"})
	var got *metav1.Condition
	waitFor(t, "PartiallyPreparedOSDs", func() error {
		got = meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionPartiallyPreparedOSDs)
		if got == nil {
			return fmt.Errorf("no condition")
		}
		return nil
	})
	if got.Status != metav1.ConditionTrue || got.Reason != cephv1alpha1.ReasonPartiallyPrepared ||
		!strings.Contains(got.Message, "osd.7 (uuid uuid-7)") || !strings.Contains(got.Message, "ceph osd purge 7 --yes-i-really-mean-it") ||
		strings.Contains(got.Message, "osd.100") {
		t.Errorf("condition %+v", got)
	}
	waitFor(t, "a PartiallyPrepared Event on the cluster", func() error {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Kind == "CephCluster" && e.Reason == cephv1alpha1.ReasonPartiallyPrepared && strings.Contains(e.Note, "osd.7") {
				return nil
			}
		}
		return fmt.Errorf("%d events, none about osd.7", len(list.Items))
	})

	// The agent finds the disk it was meant for: its half-written label
	// carries the uuid. The disk's own verdict now tells the story.
	w.SetDisk(node, "sdc", func(d *cephv1alpha1.Disk) {
		d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "PartiallyPrepared", Message: "label without whoami",
			ClusterFSID: getCluster(t, cluster).Status.FSID, OSDUUID: "UUID-7"}
	})
	bumpRescan(t, ns, node)
	waitFor(t, "the condition removed once a disk carries the uuid", func() error {
		if c := meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionPartiallyPreparedOSDs); c != nil {
			return fmt.Errorf("still %s: %s", c.Status, c.Message)
		}
		return nil
	})

	// Another id appears, then is purged from the map.
	w.SetNeverStarted(cephv1alpha1.CephOSDRef{ID: 8, UUID: "uuid-8"})
	waitFor(t, "osd.8 reported", func() error {
		c := meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionPartiallyPreparedOSDs)
		if c == nil || !strings.Contains(c.Message, "osd.8") {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	w.SetNeverStarted()
	waitFor(t, "the condition removed once the id is purged", func() error {
		if c := meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionPartiallyPreparedOSDs); c != nil {
			return fmt.Errorf("still there: %s", c.Message)
		}
		return nil
	})
}

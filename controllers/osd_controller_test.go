package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// jobDevices returns, per node, the disk IDs of the prepare Jobs in ns.
func jobDevices(t *testing.T, ns string) map[string][]string {
	t.Helper()
	var jobs batchv1.JobList
	if err := env.Client.List(context.Background(), &jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, j := range jobs.Items {
		var devs []resources.PrepareTarget
		if err := json.Unmarshal([]byte(j.Annotations[resources.DevicesAnnotation]), &devs); err != nil {
			t.Fatal(err)
		}
		node := j.Annotations[resources.NodeAnnotation]
		for _, d := range devs {
			out[node] = append(out[node], d.ID)
		}
	}
	return out
}

// osdDeployments returns OSD id -> device id of the OSD Deployments in ns.
func osdDeployments(t *testing.T, ns string) map[string]string {
	t.Helper()
	var list appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns),
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range list.Items {
		out[d.Labels[resources.OSDIDLabel]] = d.Annotations[resources.DeviceIDAnnotation]
	}
	return out
}

// plans returns "node/disk" -> "Action/Reason" from every inventory's plan.
func plans(t *testing.T, ns string) map[string]string {
	t.Helper()
	var list cephv1alpha1.DiskInventoryList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, inv := range list.Items {
		for _, p := range inv.Status.Plan {
			out[inv.Name+"/"+p.Name] = string(p.Action) + "/" + p.Reason
		}
	}
	return out
}

func id(node, disk string) string { return "/dev/disk/by-id/wwn-" + node + "-" + disk }

func updateCluster(t *testing.T, c *cephv1alpha1.CephCluster, mutate func(*cephv1alpha1.CephCluster)) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got := getCluster(t, c)
		mutate(got)
		return env.Client.Update(context.Background(), got)
	}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	testenv.Eventually(t, wait, func() error {
		if err := check(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

func equalMaps[V comparable](got, want map[string]V) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("got %v, want %v", got, want)
		}
	}
	return nil
}

// TestProvisioningFlow is the seed scenario on a real API server: three nodes
// with four disks each (available, partitioned, another cluster's, and one a
// filter leaves out), previewed, then provisioned; a fourth node joins with
// two new disks; the filter changes; a prepare fails and is retried.
func TestProvisioningFlow(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "flow")
	w := playAgent(t, ns)
	nodes := []string{"flow-a", "flow-b", "flow-c"}
	for _, n := range nodes {
		w.AddNode(n, "available", "partitioned", "foreign", "available")
	}
	withNodes(t, nodes...)

	cluster := newCluster(ns, "ceph")
	cluster.Spec.Storage.DeviceFilter = "^sd[b-d]$"
	cluster.Spec.Storage.Provisioning = cephv1alpha1.ProvisioningPreview
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}

	// Preview: every disk says what would happen, and no Job exists.
	wantPreview := map[string]string{}
	for _, n := range nodes {
		wantPreview[n+"/sdb"] = "WouldProvision/Preview"
		wantPreview[n+"/sdc"] = "LeftOut/HasPartitions"
		wantPreview[n+"/sdd"] = "LeftOut/ForeignCephCluster"
		wantPreview[n+"/sde"] = "LeftOut/FilteredOut"
	}
	waitFor(t, "preview plan", func() error { return equalMaps(plans(t, ns), wantPreview) })
	waitFor(t, "preview condition", func() error {
		c := meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionOSDsProvisioned)
		if c == nil || c.Reason != "Preview" || !strings.Contains(c.Message, "3 disks would become OSDs") {
			return fmt.Errorf("OSDsProvisioned = %+v", c)
		}
		return nil
	})
	if jobs := jobDevices(t, ns); len(jobs) != 0 {
		t.Fatalf("preview created Jobs: %v", jobs)
	}

	// Enabling provisions exactly what the preview showed: one Job per
	// node with its sdb, then one OSD per prepared disk.
	w.Pause(true)
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Storage.Provisioning = cephv1alpha1.ProvisioningEnabled })
	waitFor(t, "prepare Jobs", func() error {
		got := jobDevices(t, ns)
		want := map[string]string{}
		gotFlat := map[string]string{}
		for _, n := range nodes {
			want[n] = id(n, "sdb")
			gotFlat[n] = strings.Join(got[n], ",")
		}
		return equalMaps(gotFlat, want)
	})
	w.Pause(false)
	waitReady(t, cluster)
	deployments := osdDeployments(t, ns)
	if len(deployments) != 3 {
		t.Fatalf("OSD Deployments %v, want one per prepared disk", deployments)
	}
	for _, n := range nodes {
		if !containsValue(deployments, id(n, "sdb")) {
			t.Errorf("no OSD Deployment for %s", id(n, "sdb"))
		}
	}
	waitFor(t, "finished Jobs deleted", func() error {
		if jobs := jobDevices(t, ns); len(jobs) != 0 {
			return fmt.Errorf("Jobs left: %v", jobs)
		}
		return nil
	})

	// A fourth node joins with two new disks: exactly two more OSDs, and
	// nothing else changes.
	before := snapshotDeployments(t, ns)
	w.AddNode("flow-d", "available", "available")
	withNodes(t, "flow-d")
	waitFor(t, "OSDs of the new node", func() error {
		got := osdDeployments(t, ns)
		if len(got) != 5 || !containsValue(got, id("flow-d", "sdb")) || !containsValue(got, id("flow-d", "sdc")) {
			return fmt.Errorf("OSD Deployments %v", got)
		}
		return nil
	})
	waitReady(t, cluster)
	after := snapshotDeployments(t, ns)
	for name, rv := range before {
		if after[name] != rv {
			t.Errorf("OSD Deployment %s changed when an unrelated node joined: %s, was %s", name, after[name], rv)
		}
	}

	// Narrowing the filter keeps every existing OSD and says why.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Storage.DeviceFilter = "^sdc$" })
	waitFor(t, "reasons after the filter change", func() error {
		p := plans(t, ns)
		if p["flow-a/sdb"] != "Provisioned/OSDNotSelected" || p["flow-d/sdc"] != "Provisioned/" || p["flow-a/sde"] != "LeftOut/FilteredOut" {
			return fmt.Errorf("plans %v", p)
		}
		return nil
	})
	if got := osdDeployments(t, ns); len(got) != 5 {
		t.Errorf("OSD Deployments after the filter change: %v, want all 5 kept", got)
	}

	// A prepare that fails is reported, not retried at once, and retried
	// when the node's inventory changes.
	w.SetFailing(id("flow-e", "sdc"), true)
	w.AddNode("flow-e", "available", "available")
	withNodes(t, "flow-e")
	waitFor(t, "failure reported", func() error {
		p := plans(t, ns)
		if !strings.HasPrefix(p["flow-e/sdc"], "Failed/PrepareFailed") {
			return fmt.Errorf("flow-e/sdc plan %q", p["flow-e/sdc"])
		}
		return nil
	})
	runs := w.JobsRun()
	time.Sleep(2 * time.Second)
	if w.JobsRun() != runs {
		t.Errorf("a failed prepare was retried within 2s (backoff starts at 30s)")
	}
	w.SetFailing(id("flow-e", "sdc"), false)
	// The node changes (a rescan answers with a new scan time): retried.
	bumpRescan(t, ns, "flow-e")
	waitFor(t, "retry after the inventory changed", func() error {
		if got := osdDeployments(t, ns); !containsValue(got, id("flow-e", "sdc")) {
			return fmt.Errorf("OSD Deployments %v", got)
		}
		return nil
	})
	if twice := w.PreparedTwice(); len(twice) != 0 {
		t.Errorf("disks prepared twice: %v", twice)
	}
}

// bumpRescan asks a node's agent to scan again, as an administrator could.
func bumpRescan(t *testing.T, ns, node string) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		inv := &cephv1alpha1.DiskInventory{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: node}, inv); err != nil {
			return err
		}
		inv.Spec.RescanRequest = inv.Status.ObservedRescanRequest + 1
		return env.Client.Update(context.Background(), inv)
	}); err != nil {
		t.Fatal(err)
	}
}

// snapshotDeployments returns, per Deployment in ns, what the operator
// writes: its generation (which moves with every spec change), labels and
// annotations. Not the resourceVersion: the simulated kubelet writes the
// status of a new Deployment in its own time, and that is no change of the
// operator's.
func snapshotDeployments(t *testing.T, ns string) map[string]string {
	t.Helper()
	var list appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range list.Items {
		out[d.Name] = fmt.Sprintf("generation %d, labels %v, annotations %v", d.Generation, d.Labels, d.Annotations)
	}
	return out
}

func containsValue(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

// TestCrashSafety restarts the manager again and again while nodes are being
// provisioned, including between Job creation and completion and between
// completion and OSD Deployment creation, and checks the end state: one OSD
// Deployment per prepared disk, and no disk prepared twice.
func TestCrashSafety(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "crash")
	w := playAgent(t, ns)
	var nodes []string
	for i := 0; i < 4; i++ {
		n := fmt.Sprintf("crash-%d", i)
		nodes = append(nodes, n)
		w.AddNode(n, "available", "available", "partitioned")
	}
	withNodes(t, nodes...)
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Storage.MaxNodesPreparing = 2

	// Point 1: the operator creates Jobs, then dies before they finish.
	w.Pause(true)
	stop := startManager(t)
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first Jobs", func() error {
		if n := len(jobDevices(t, ns)); n != 2 {
			return fmt.Errorf("%d nodes with Jobs, want 2 (the limit)", n)
		}
		return nil
	})
	stop()
	w.Pause(false)
	// The Jobs finish while no operator runs; the agents are not asked to
	// rescan, so the inventories still say Available.
	waitFor(t, "Jobs finished", func() error {
		if n := w.JobsRun(); n < 2 {
			return fmt.Errorf("%d Jobs run", n)
		}
		return nil
	})

	// Point 2: a new operator starts, sees finished Jobs and disks still
	// Available, must not prepare them again; it is stopped as soon as the
	// first OSD disks show up, before or while it creates Deployments.
	stop = startManager(t)
	waitFor(t, "first OSDs in the inventories", func() error {
		var list cephv1alpha1.DiskInventoryList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, inv := range list.Items {
			for _, d := range inv.Status.Disks {
				if d.Verdict.State == cephv1alpha1.DiskOSD {
					return nil
				}
			}
		}
		return fmt.Errorf("no inventory shows an OSD yet")
	})
	stop()

	// More restarts at arbitrary points until everything converges.
	for i := 0; i < 4; i++ {
		stop = startManager(t)
		time.Sleep(time.Duration(150+100*i) * time.Millisecond)
		stop()
	}
	startManager(t)
	t.Cleanup(func() {
		if t.Failed() {
			dumpProvisioning(t, ns)
		}
	})
	waitReady(t, cluster)

	osdDisks := w.OSDs()
	if len(osdDisks) != 8 {
		t.Errorf("%d OSD disks, want 8 (2 per node): %v", len(osdDisks), osdDisks)
	}
	got := osdDeployments(t, ns)
	var deployed []string
	for _, dev := range got {
		deployed = append(deployed, dev)
	}
	sort.Strings(deployed)
	if strings.Join(deployed, ",") != strings.Join(osdDisks, ",") {
		t.Errorf("OSD Deployments for %v, want exactly one per OSD disk %v", deployed, osdDisks)
	}
	if twice := w.PreparedTwice(); len(twice) != 0 {
		t.Errorf("disks prepared twice: %v", twice)
	}
}

// dumpProvisioning logs every disk's verdict and plan, and every prepare
// Job, of a namespace: what a failed provisioning test was stuck on.
func dumpProvisioning(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	var invs cephv1alpha1.DiskInventoryList
	if err := env.Client.List(ctx, &invs, client.InNamespace(ns)); err != nil {
		t.Logf("listing inventories: %v", err)
	}
	for _, inv := range invs.Items {
		t.Logf("inventory %s: rescan %d observed %d", inv.Name, inv.Spec.RescanRequest, inv.Status.ObservedRescanRequest)
		for _, d := range inv.Status.Disks {
			t.Logf("  disk %s verdict %s/%s", d.ID, d.Verdict.State, d.Verdict.Reason)
		}
		for _, p := range inv.Status.Plan {
			t.Logf("  plan %s %s/%s attempts %d: %s", p.ID, p.Action, p.Reason, p.Attempts, p.Message)
		}
	}
	var jobs batchv1.JobList
	if err := env.Client.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
		t.Logf("listing Jobs: %v", err)
	}
	for _, j := range jobs.Items {
		t.Logf("Job %s uid %s annotations %v conditions %v", j.Name, j.UID, j.Annotations, j.Status.Conditions)
	}
}

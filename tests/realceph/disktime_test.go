package realceph

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// diskTimingDisks is how many blank disks the disk-to-OSD figure adds, one
// at a time. Each costs about a minute of the run.
const diskTimingDisks = 5

// stamp is one object state as the test's own watch received it, at the
// test's clock (the node's: everything runs on this machine).
type stamp[T any] struct {
	at  time.Time
	obj T
}

// timeline records every state of the node's DiskInventory, the prepare
// Jobs and the OSD Deployments, with the time the test received it, and
// every OSD map poll.
type timeline struct {
	mu          sync.Mutex
	inventories []stamp[*cephv1alpha1.DiskInventory]
	jobs        []stamp[*batchv1.Job]
	deployments []stamp[*appsv1.Deployment]
	// upIn is, per OSD id, the end of the first poll that showed it up
	// and in.
	upIn map[int]time.Time
	// polls and pollTime: how many OSD map polls ran and how long they
	// took in all, for the resolution of the last stage.
	polls    int
	pollTime time.Duration
}

// record watches list in the operator's namespace until ctx ends, calling
// add with each received object and its receive time. A watch the server
// closes is opened again; the objects it lists again are recorded again,
// which changes no "first time seen" below.
func record[L client.ObjectList](ctx context.Context, t *testing.T, wc client.WithWatch, newList func() L, opts []client.ListOption, add func(client.Object, time.Time)) {
	for ctx.Err() == nil {
		w, err := wc.Watch(ctx, newList(), append([]client.ListOption{client.InNamespace(namespace)}, opts...)...)
		if err != nil {
			if ctx.Err() == nil {
				t.Logf("disk timing: watch: %v; again in 1s", err)
				time.Sleep(time.Second)
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error || ev.Type == watch.Bookmark {
				continue
			}
			if obj, ok := ev.Object.(client.Object); ok {
				add(obj, time.Now())
			}
		}
		w.Stop()
	}
}

// disk-to-OSD stages, in order, as the figure names them.
var diskStages = []string{
	"losetup -> inventory Available",
	"inventory Available -> prepare Job created",
	"prepare Job created -> Job finished",
	"Job finished -> inventory shows the OSD",
	"inventory shows the OSD -> OSD Deployment created",
	"OSD Deployment created -> OSD up and in",
	"total: losetup -> OSD up and in",
}

// checkDiskToOSD measures, on the running cluster, the time from a blank
// disk appearing to its OSD up and in, for diskTimingDisks disks added one
// at a time into the slot devices (loop devices holding a too-small file
// until now, inside the cluster's deviceFilter since its creation): the
// placeholder is detached and a blank file attached in its place with
// losetup. Each disk's path is timed from what the test's watches received
// and from `ceph osd dump` polled while its OSD starts; the figures are
// p50 and p95 per stage over the disks. It is a benchmark, not a timed
// assertion: it fails only when a disk does not become an OSD up and in.
func checkDiskToOSD(t *testing.T, ctx context.Context, wc client.WithWatch, node string, tl *tools, devices []*device) {
	var slots []*device
	for _, d := range devices {
		if d.kind == "slot" {
			slots = append(slots, d)
		}
	}
	if len(slots) == 0 {
		t.Fatal("disk timing: no slot devices")
	}
	start := time.Now()
	tlog := &timeline{upIn: map[int]time.Time{}}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() {
		record(wctx, t, wc, func() *cephv1alpha1.DiskInventoryList { return &cephv1alpha1.DiskInventoryList{} }, nil, func(o client.Object, at time.Time) {
			if inv, ok := o.(*cephv1alpha1.DiskInventory); ok && inv.Name == node {
				tlog.mu.Lock()
				tlog.inventories = append(tlog.inventories, stamp[*cephv1alpha1.DiskInventory]{at, inv})
				tlog.mu.Unlock()
			}
		})
	})
	wg.Go(func() {
		record(wctx, t, wc, func() *batchv1.JobList { return &batchv1.JobList{} },
			[]client.ListOption{client.MatchingLabels{resources.ComponentLabel: resources.ComponentPrepare}}, func(o client.Object, at time.Time) {
				if j, ok := o.(*batchv1.Job); ok {
					tlog.mu.Lock()
					tlog.jobs = append(tlog.jobs, stamp[*batchv1.Job]{at, j})
					tlog.mu.Unlock()
				}
			})
	})
	wg.Go(func() {
		record(wctx, t, wc, func() *appsv1.DeploymentList { return &appsv1.DeploymentList{} },
			[]client.ListOption{client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}}, func(o client.Object, at time.Time) {
				if d, ok := o.(*appsv1.Deployment); ok {
					tlog.mu.Lock()
					tlog.deployments = append(tlog.deployments, stamp[*appsv1.Deployment]{at, d})
					tlog.mu.Unlock()
				}
			})
	})

	var rows [][]float64
	for i, d := range slots[:min(len(slots), diskTimingDisks)] {
		row, ok := addDisk(t, ctx, d, i, tlog, tl)
		if !ok {
			return
		}
		rows = append(rows, row)
	}
	// The machine's load moves every stage; the figure says what it was.
	raw, _ := os.ReadFile("/proc/loadavg")
	load := strings.Fields(string(raw))
	load = load[:min(len(load), 3)]
	t.Logf("FIGURE disk -> OSD up and in, %d blank disks added one at a time in %.1fs (nearest-rank percentiles; with 5 disks p95 is the slowest); OSD map polled %d times, %.2fs each on average; load average %s",
		len(rows), time.Since(start).Seconds(), tlog.polls, tlog.pollTime.Seconds()/float64(max(tlog.polls, 1)), strings.Join(load, " "))
	for s, name := range diskStages {
		var xs []float64
		for _, r := range rows {
			xs = append(xs, r[s])
		}
		t.Logf("FIGURE disk -> OSD: %-52s p50 %6.1fs  p95 %6.1fs  (each: %s)", name, percentile(xs, 50), percentile(xs, 95), secs(xs))
	}
}

// addDisk puts a blank disk in slot d, waits until its OSD is up and in and
// returns the time of each stage (diskStages).
func addDisk(t *testing.T, ctx context.Context, d *device, i int, tlog *timeline, tl *tools) ([]float64, bool) {
	if err := loopdev.DetachLoop(d.dev); err != nil {
		t.Fatal(err)
	}
	blank := loopdev.SparseFile(t, t.TempDir(), fmt.Sprintf("timed%d.img", i), blankSize)
	var t0 time.Time
	realnode.WaitFor(t, ctx, time.Minute, "a blank file attached at "+d.dev.Path, func() error {
		out, err := exec.Command("losetup", d.dev.Path, blank).CombinedOutput()
		if err != nil {
			return fmt.Errorf("losetup %s: %w: %s", d.dev.Path, err, out)
		}
		t0 = time.Now()
		return nil
	})
	// From here on it is one of the cluster's OSD disks: the later
	// checks (deletion keeps its data, the confirmed cleanup wipes it)
	// cover it too.
	d.kind, d.backing, d.sum = "blank", blank, ""

	// The disk's OSD id and stable id, from the inventory.
	var id string
	osd := -1
	deadline := time.Now().Add(10 * time.Minute)
	for osd < 0 || tlog.upAt(osd).IsZero() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			errorf(t, "disk timing: %s (disk %d) not an OSD up and in 10 minutes after losetup; inventory: %s", d.dev.Name, i, tlog.diskState(d.dev.Name))
			return nil, false
		}
		if osd < 0 {
			id, osd = tlog.osdOf(d.dev.Name, t0)
			if osd < 0 {
				time.Sleep(200 * time.Millisecond)
				continue
			}
		}
		// Polled only once the OSD's Deployment exists, so the polls
		// cost nothing while the earlier stages run.
		if tlog.first(t0, func(s stamp[*appsv1.Deployment]) bool {
			return s.obj.Annotations[resources.DeviceIDAnnotation] == id
		}).IsZero() {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		tlog.pollOSDMap(ctx, t, tl)
		time.Sleep(500 * time.Millisecond)
	}
	tInv := tlog.firstInventory(t0, d.dev.Name, cephv1alpha1.DiskAvailable)
	tLabel := tlog.firstInventory(t0, d.dev.Name, cephv1alpha1.DiskOSD)
	var jobUID string
	tJob := tlog.firstJob(t0, func(j *batchv1.Job) bool {
		if j.Annotations[resources.JobKindAnnotation] != "" {
			return false // a wipe Job
		}
		var targets []resources.PrepareTarget
		if json.Unmarshal([]byte(j.Annotations[resources.DevicesAnnotation]), &targets) != nil {
			return false
		}
		if slices.ContainsFunc(targets, func(pt resources.PrepareTarget) bool { return pt.ID == id }) {
			jobUID = string(j.UID)
			return true
		}
		return false
	})
	tJobDone := tlog.firstJob(t0, func(j *batchv1.Job) bool { return string(j.UID) == jobUID && jobFinished(j) })
	tDeploy := tlog.first(t0, func(s stamp[*appsv1.Deployment]) bool {
		return s.obj.Annotations[resources.DeviceIDAnnotation] == id
	})
	tUp := tlog.upAt(osd)
	marks := []time.Time{t0, tInv, tJob, tJobDone, tLabel, tDeploy, tUp}
	row := make([]float64, len(diskStages))
	for s := range len(marks) - 1 {
		if marks[s].IsZero() || marks[s+1].IsZero() {
			errorf(t, "disk timing: %s (osd.%d): no time for %q", d.dev.Name, osd, diskStages[s])
			row[s] = math.NaN()
			continue
		}
		row[s] = marks[s+1].Sub(marks[s]).Seconds()
	}
	row[len(row)-1] = tUp.Sub(t0).Seconds()
	var parts []string
	for s, name := range diskStages {
		parts = append(parts, fmt.Sprintf("%s %.1fs", name, row[s]))
	}
	t.Logf("disk timing: %s -> osd.%d: %s", d.dev.Name, osd, strings.Join(parts, "; "))
	return row, true
}

// jobFinished reports whether a Job has its terminal condition.
func jobFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// osdOf returns the stable id of the disk named name and its OSD id, once
// an inventory received after t0 shows it as an OSD (-1 until then).
func (tl *timeline) osdOf(name string, t0 time.Time) (string, int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, s := range tl.inventories {
		if s.at.Before(t0) {
			continue
		}
		for _, d := range s.obj.Status.Disks {
			if d.Name == name && d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.OSDID != nil {
				return d.ID, int(*d.Verdict.OSDID)
			}
		}
	}
	return "", -1
}

// diskState is the last received verdict of the disk named name.
func (tl *timeline) diskState(name string) string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.inventories) == 0 {
		return "none received"
	}
	for _, d := range tl.inventories[len(tl.inventories)-1].obj.Status.Disks {
		if d.Name == name {
			return fmt.Sprintf("%s %s %s", d.Verdict.State, d.Verdict.Reason, d.Verdict.Message)
		}
	}
	return "not listed"
}

// firstInventory is when an inventory received after t0 first showed the
// disk named name in state.
func (tl *timeline) firstInventory(t0 time.Time, name string, state cephv1alpha1.DiskState) time.Time {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, s := range tl.inventories {
		if s.at.Before(t0) {
			continue
		}
		for _, d := range s.obj.Status.Disks {
			if d.Name == name && d.Verdict.State == state {
				return s.at
			}
		}
	}
	return time.Time{}
}

// firstJob is when a Job state received after t0 first passed ok.
func (tl *timeline) firstJob(t0 time.Time, ok func(*batchv1.Job) bool) time.Time {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, s := range tl.jobs {
		if !s.at.Before(t0) && ok(s.obj) {
			return s.at
		}
	}
	return time.Time{}
}

// first is when a Deployment state received after t0 first passed ok.
func (tl *timeline) first(t0 time.Time, ok func(stamp[*appsv1.Deployment]) bool) time.Time {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, s := range tl.deployments {
		if !s.at.Before(t0) && ok(s) {
			return s.at
		}
	}
	return time.Time{}
}

// upAt is the end of the first poll that showed OSD id up and in.
func (tl *timeline) upAt(id int) time.Time {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.upIn[id]
}

// pollOSDMap reads `ceph osd dump` once and records every OSD it shows up
// and in that was not yet, at the time the answer arrived.
func (tl *timeline) pollOSDMap(ctx context.Context, t *testing.T, tools *tools) {
	start := time.Now()
	osds, err := readOSDMap(ctx, tools)
	at := time.Now()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.polls++
	tl.pollTime += at.Sub(start)
	if err != nil {
		t.Logf("disk timing: ceph osd dump: %v", err)
		return
	}
	for _, o := range osds {
		if _, seen := tl.upIn[int(o.OSD)]; !seen && o.Up == 1 && o.In == 1 {
			tl.upIn[int(o.OSD)] = at
		}
	}
}

// percentile is the nearest-rank p-th percentile of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// secs lists xs in seconds.
func secs(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.1f", x))
	}
	return strings.Join(parts, " ")
}

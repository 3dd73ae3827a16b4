package realceph

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// reader reads the test objects one after another until stopped, counting
// reads, errors and the longest read, and noting every read slower than
// slowRead (when it started and how long it took).
type reader struct {
	mu      sync.Mutex
	reads   int
	errs    []string
	longest time.Duration
	slow    []string
	stop    chan struct{}
	done    chan struct{}
}

// slowRead is the read time above which a reader notes a read: one read
// (a kubectl exec and a new rados client) takes about a second here.
const slowRead = 3 * time.Second

func startReader(ctx context.Context, tl *tools, objs testObjects) *reader {
	r := &reader{stop: make(chan struct{}), done: make(chan struct{})}
	names := make([]string, 0, len(objs))
	for n := range objs {
		names = append(names, n)
	}
	slices.Sort(names)
	go func() {
		defer close(r.done)
		for i := 0; ; i++ {
			select {
			case <-r.stop:
				return
			default:
			}
			name := names[i%len(names)]
			start := time.Now()
			err := readBack(ctx, tl, testObjects{name: objs[name]})
			took := time.Since(start)
			r.mu.Lock()
			r.reads++
			r.longest = max(r.longest, took)
			if took > slowRead {
				r.slow = append(r.slow, fmt.Sprintf("%s %.1fs", start.UTC().Format("15:04:05.0"), took.Seconds()))
			}
			if err != nil && ctx.Err() == nil {
				r.errs = append(r.errs, fmt.Sprintf("%s at %s: %v", name, start.UTC().Format(time.TimeOnly), err))
			}
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *reader) end() (reads int, errs []string, longest time.Duration) {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads, r.errs, r.longest
}

// checkOSDRollout changes the OSDs' pod template (their resources) on the
// running cluster and follows the rollout on real Ceph. First the pools
// keep two copies and need both (min_size 2): no OSD may stop without
// making data unavailable, so Ceph's ok-to-stop says no and the rollout
// waits, showing Ceph's answer, with every OSD untouched. Then the pools
// keep three copies of which two suffice: the OSDs (failure domain osd)
// restart one at a time, each after Ceph's yes, with noout set for the
// rollout and unset after it, while a reader keeps reading the objects
// without an error.
func checkOSDRollout(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, tl *tools, objs testObjects) {
	var before appsv1.DeploymentList
	if err := c.List(ctx, &before, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		t.Fatal(err)
	}
	hashes := map[string]string{}
	for _, d := range before.Items {
		hashes[d.Name] = d.Annotations[apply.HashAnnotation]
	}
	n := len(before.Items)
	if n < 3 {
		t.Fatalf("%d OSD Deployments: the rollout needs three copies to stop one", n)
	}
	pools := strings.Fields(tl.admin(ctx, "osd", "pool", "ls"))
	setPools := func(size, minSize string) {
		for _, pool := range pools {
			tl.admin(ctx, "osd", "pool", "set", pool, "size", size, "--yes-i-really-mean-it")
			tl.admin(ctx, "osd", "pool", "set", pool, "min_size", minSize)
		}
	}
	setPools("2", "2")
	waitHealthy(t, ctx, c, cc, "with two copies, both needed")
	changed := func() (int, error) {
		var list appsv1.DeploymentList
		if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
			return 0, err
		}
		k := 0
		for _, d := range list.Items {
			if d.Annotations[apply.HashAnnotation] != hashes[d.Name] {
				k++
			}
		}
		return k, nil
	}

	r := startReader(ctx, tl, objs)
	start := time.Now()
	var gen int64
	var err error
	for range 10 {
		got := &cephv1alpha1.CephCluster{}
		if err = c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			t.Fatal(err)
		}
		got.Spec.Resources.OSD = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}
		if err = c.Update(ctx, got); err == nil {
			gen = got.Generation
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("changing the OSDs' resources: %v", err)
	}

	// Held: Ceph says no, nothing restarts.
	var held string
	realnode.WaitFor(t, ctx, 5*time.Minute, "the rollout held by Ceph's ok-to-stop", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if rec := got.Status.OSDRollout; rec != nil && strings.Contains(rec.Message, "Ceph does not let OSDs") {
			held = rec.Message
			return nil
		}
		return fmt.Errorf("osdRollout %+v", got.Status.OSDRollout)
	})
	t.Logf("FIGURE resources.osd changed with min_size = size = 2 -> rollout held by Ceph after %.1fs: %s", time.Since(start).Seconds(), held)
	if k, err := changed(); err != nil || k != 0 {
		errorf(t, "%d OSD Deployments changed while Ceph said no (%v)", k, err)
	}

	// Three copies, two needed: one OSD at a time may stop.
	released := time.Now()
	setPools("3", "2")
	var sawNoOut bool
	realnode.WaitFor(t, ctx, 20*time.Minute, "every OSD updated, noout unset", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if rec := got.Status.OSDRollout; rec != nil && rec.NoOut == cephv1alpha1.NoOutSet {
			sawNoOut = true
		}
		u := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionOSDsUpdated)
		if u == nil || u.ObservedGeneration < gen || u.Status != metav1.ConditionTrue || got.Status.OSDs.Updated != int32(n) || got.Status.OSDRollout != nil {
			return fmt.Errorf("OSDsUpdated %+v, updated %d, osdRollout %+v", u, got.Status.OSDs.Updated, got.Status.OSDRollout)
		}
		if k, err := changed(); err != nil {
			return err
		} else if k != n {
			return fmt.Errorf("%d of %d OSD Deployments updated", k, n)
		}
		return nil
	})
	took := time.Since(released)
	reads, errs, longest := r.end()
	t.Logf("FIGURE three copies -> %d OSDs rolled one at a time, noout unset: %.1fs (whole change %.1fs); reader: %d reads, %d errors, longest read %.1fs",
		n, took.Seconds(), time.Since(start).Seconds(), reads, len(errs), longest.Seconds())
	for _, e := range errs {
		errorf(t, "a read failed during the OSD rollout: %s", e)
	}
	if !sawNoOut {
		// The record may have come and gone between two polls; the
		// Events below still prove it.
		t.Logf("status.osdRollout was not seen with noout Set")
	}

	// Every OSD Deployment changed, once each, and no other.
	var after appsv1.DeploymentList
	if err := c.List(ctx, &after, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		t.Fatal(err)
	}
	for _, d := range after.Items {
		if old, ok := hashes[d.Name]; !ok || old == d.Annotations[apply.HashAnnotation] {
			errorf(t, "OSD Deployment %s: template %s, before %s: want every OSD updated", d.Name, d.Annotations[apply.HashAnnotation], old)
		}
	}

	// Ceph's view: the flag is gone, every OSD is up and in.
	var dump struct {
		Flags string `json:"flags"`
	}
	if err := json.Unmarshal([]byte(tl.admin(ctx, "osd", "dump", "--format", "json")), &dump); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(strings.Split(dump.Flags, ","), "noout") {
		errorf(t, "noout is still set after the rollout: %s", dump.Flags)
	}

	// The Events tell the order: noout set, then one OSDsUpdating per
	// OSD, each after Ceph's yes, then noout unset.
	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(events.Items, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	var seq []string
	updated := map[string]bool{}
	for _, e := range events.Items {
		if eventTime(e).Before(start.Add(-time.Second)) {
			continue
		}
		switch e.Reason {
		case "OSDRolloutNoOutSet", "OSDRolloutNoOutUnset", "OSDRolloutHeld":
			seq = append(seq, e.Reason)
			t.Logf("Event %s: %s", e.Reason, e.Message)
		case "OSDsUpdating":
			seq = append(seq, e.Reason)
			t.Logf("Event %s: %s", e.Reason, e.Message)
			// "Updating OSDs [3] (osd.3; ...": one OSD at a time with
			// failure domain osd.
			m := updatingIDs.FindStringSubmatch(e.Message)
			if m == nil || strings.Contains(m[1], " ") {
				errorf(t, "OSDsUpdating %q does not name exactly one OSD", e.Message)
				continue
			}
			updated[m[1]] = true
		}
	}
	if len(updated) != n {
		errorf(t, "OSDsUpdating Events named OSDs %v: want each of the %d OSDs; sequence %v", updated, n, seq)
	}
	if len(seq) < 2 || seq[0] != "OSDRolloutNoOutSet" || seq[len(seq)-1] != "OSDRolloutNoOutUnset" || !slices.Contains(seq, "OSDRolloutHeld") {
		errorf(t, "Events %v: want noout set first, the rollout held by Ceph, noout unset last", seq)
	}
	waitHealthy(t, ctx, c, cc, "after the OSD rollout")
}

// updatingIDs finds the OSD ids an OSDsUpdating Event names.
var updatingIDs = regexp.MustCompile(`^Updating OSDs \[([0-9 ]+)\]`)

// eventTime is when an Event last happened.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// operatorDeployment is the operator's Deployment as config/default names
// it.
const operatorDeployment = "ceph-operator-controller-manager"

// daemonState returns the monitor, manager and OSD pods of the cluster (by
// name, with their uid) and their Deployments' generations.
func daemonState(t *testing.T, ctx context.Context, c client.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, comp := range []string{resources.ComponentMon, resources.ComponentMgr, resources.ComponentOSD} {
		sel := client.MatchingLabels{resources.ComponentLabel: comp}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(namespace), sel); err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			out["pod "+p.Name] = string(p.UID)
		}
		var deps appsv1.DeploymentList
		if err := c.List(ctx, &deps, client.InNamespace(namespace), sel); err != nil {
			t.Fatal(err)
		}
		for _, d := range deps.Items {
			out["deployment "+d.Name] = fmt.Sprintf("generation %d", d.Generation)
		}
	}
	return out
}

// checkOperatorUpgrade upgrades the operator in place (its Deployment to
// another image of the same build, as an upgrade changes it) and checks
// that no Ceph daemon restarts: the discovery agents and the reporter
// follow the new image, no monitor, manager or OSD pod is replaced and
// their Deployments keep their generation.
func checkOperatorUpgrade(t *testing.T, ctx context.Context, c client.Client, cluster *realnode.Cluster) {
	op := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: operatorDeployment}, op); err != nil {
		t.Fatal(err)
	}
	var old string
	for _, ctr := range op.Spec.Template.Spec.Containers {
		if ctr.Name == "manager" {
			old = ctr.Image
		}
	}
	if old == "" {
		t.Fatalf("no manager container in %s", op.Name)
	}
	upgraded := old + "-upgrade"
	if err := cluster.TagImage(ctx, old, upgraded); err != nil {
		t.Fatal(err)
	}
	before := daemonState(t, ctx, c)
	if len(before) < 6 {
		t.Fatalf("daemons before the upgrade: %v", before)
	}

	start := time.Now()
	patched := op.DeepCopy()
	for i := range patched.Spec.Template.Spec.Containers {
		ctr := &patched.Spec.Template.Spec.Containers[i]
		if ctr.Name != "manager" {
			continue
		}
		ctr.Image = upgraded
		for j := range ctr.Env {
			if ctr.Env[j].Name == "RELATED_IMAGE_OPERATOR" {
				ctr.Env[j].Value = upgraded
			}
		}
	}
	if err := c.Patch(ctx, patched, client.MergeFrom(op)); err != nil {
		t.Fatalf("upgrading the operator: %v", err)
	}
	// The new operator acted on the cluster: the agents and the reporter
	// run its image.
	realnode.WaitFor(t, ctx, 5*time.Minute, "the agents and the reporter on the new operator image", func() error {
		var ds appsv1.DaemonSetList
		if err := c.List(ctx, &ds, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentDiscover}); err != nil {
			return err
		}
		var rep appsv1.DeploymentList
		if err := c.List(ctx, &rep, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentReporter}); err != nil {
			return err
		}
		if len(ds.Items) != 1 || len(rep.Items) != 1 {
			return fmt.Errorf("%d discovery DaemonSets, %d reporter Deployments", len(ds.Items), len(rep.Items))
		}
		d, r := ds.Items[0], rep.Items[0]
		if img := initImage(d.Spec.Template.Spec); img != upgraded {
			return fmt.Errorf("discovery DaemonSet copies the agent from %s", img)
		}
		if img := initImage(r.Spec.Template.Spec); img != upgraded {
			return fmt.Errorf("reporter copies the agent from %s", img)
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedNumberScheduled != d.Status.DesiredNumberScheduled || d.Status.NumberAvailable != d.Status.DesiredNumberScheduled {
			return fmt.Errorf("discovery DaemonSet rolling: %+v", d.Status)
		}
		if r.Status.ObservedGeneration < r.Generation || r.Status.UpdatedReplicas != 1 || r.Status.AvailableReplicas != 1 {
			return fmt.Errorf("reporter rolling: %+v", r.Status)
		}
		return nil
	})
	took := time.Since(start)
	// And for a while after: no daemon pod replaced, no Deployment changed.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if after := daemonState(t, ctx, c); !maps.Equal(after, before) {
			for k, v := range before {
				if after[k] != v {
					errorf(t, "operator upgrade: %s was %s, now %q", k, v, after[k])
				}
			}
			for k := range after {
				if _, ok := before[k]; !ok {
					errorf(t, "operator upgrade: new %s", k)
				}
			}
			break
		}
		time.Sleep(3 * time.Second)
	}
	t.Logf("FIGURE operator image %s -> %s: agents and reporter updated in %.1fs; %d monitor, manager and OSD pods and Deployments unchanged",
		old, upgraded, took.Seconds(), len(before))
}

// initImage is the image of a pod's first init container ("" when none).
func initImage(spec corev1.PodSpec) string {
	if len(spec.InitContainers) == 0 {
		return ""
	}
	return spec.InitContainers[0].Image
}

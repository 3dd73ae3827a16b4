package controllers_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// osdBudgets returns the OSD PodDisruptionBudgets of ns as
// "node:maxUnavailable" ("*" for the budget over all OSDs), sorted.
func osdBudgets(t *testing.T, ns string) string {
	t.Helper()
	var list policyv1.PodDisruptionBudgetList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns),
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		node := p.Annotations[resources.NodeAnnotation]
		hash := p.Spec.Selector.MatchLabels[resources.NodeHashLabel]
		switch {
		case node == "" && hash == "":
			node = "*"
		case hash != resources.NodeHash(node):
			t.Errorf("budget %s for node %q selects node hash %q", p.Name, node, hash)
		}
		out = append(out, fmt.Sprintf("%s:%s", node, p.Spec.MaxUnavailable.String()))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// setOSDsReady marks the OSD Deployments of node ready or not, as the
// Deployment controller would once their pods are (or stop being) ready.
func setOSDsReady(t *testing.T, ns, node string, ready bool) {
	t.Helper()
	var list appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns),
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD, resources.NodeHashLabel: resources.NodeHash(node)}); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) == 0 {
		t.Fatalf("no OSD Deployment on node %s", node)
	}
	for i := range list.Items {
		d := &list.Items[i]
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UnavailableReplicas: 1}
		if ready {
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}
		}
		if err := env.Client.Status().Update(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOSDDisruptionBudgets drives the OSD budgets through a node drain:
// one budget over all OSDs while everything is ready and clean; once a
// node's OSDs go down, budgets of 0 on every other node and none on it;
// one budget of 0 while Ceph still reports degraded placement groups, or
// OSDs are down on two nodes.
func TestOSDDisruptionBudgets(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "budgets")
	w := playAgent(t, ns)
	w.HoldOSDs(true)
	nodes := []string{"budget-a", "budget-b", "budget-c"}
	for _, n := range nodes {
		w.AddNode(n, "available", "available")
	}
	withNodes(t, nodes...)
	if err := env.Client.Create(ctx, newCluster(ns, "ceph")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "six OSD Deployments", func() error {
		if n := len(osdDeployments(t, ns)); n != 6 {
			return fmt.Errorf("%d OSD Deployments", n)
		}
		return nil
	})
	expect := func(what, want string) {
		t.Helper()
		waitFor(t, what, func() error {
			if got := osdBudgets(t, ns); got != want {
				return fmt.Errorf("budgets %q, want %q", got, want)
			}
			return nil
		})
	}
	// No OSD pod is ready yet: they are down on three nodes.
	expect("nothing may go while OSDs are down on several nodes", "*:0")
	for _, n := range nodes {
		setOSDsReady(t, ns, n, true)
	}
	expect("one OSD anywhere when all are ready", "*:1")

	setOSDsReady(t, ns, "budget-b", false)
	expect("node b drains, a and c may not", "budget-a:0,budget-c:0")

	setOSDsReady(t, ns, "budget-b", true)
	w.SetHealthChecks(cephv1alpha1.CephHealthCheck{Code: "PG_DEGRADED", Severity: cephv1alpha1.CephHealthWarn, Message: "Degraded data redundancy"})
	expect("nothing while placement groups recover", "*:0")

	w.SetHealthChecks()
	expect("one OSD anywhere once Ceph is clean", "*:1")

	setOSDsReady(t, ns, "budget-a", false)
	setOSDsReady(t, ns, "budget-c", false)
	expect("nothing more when two nodes are down", "*:0")
}

// osdTemplates returns, per node, how many of its OSD Deployments carry
// the template hash of before (old) and a new one.
func osdTemplates(t *testing.T, ns string, before map[string]string) map[string]string {
	t.Helper()
	var list appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns),
		client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		t.Fatal(err)
	}
	counts := map[string][2]int{}
	for _, d := range list.Items {
		node := d.Annotations[resources.NodeAnnotation]
		c := counts[node]
		if d.Annotations[apply.HashAnnotation] == before[d.Name] {
			c[0]++
		} else {
			c[1]++
		}
		counts[node] = c
	}
	out := map[string]string{}
	for n, c := range counts {
		out[n] = fmt.Sprintf("old=%d new=%d", c[0], c[1])
	}
	return out
}

// TestOSDRollout changes the OSDs' pod template on three nodes and
// follows the rollout: one node's OSDs at a time, the next only once they
// are ready on the new template and Ceph reports no degraded placement
// groups, with OSDsUpdated counting.
func TestOSDRollout(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "rollout")
	w := playAgent(t, ns)
	nodes := []string{"roll-a", "roll-b", "roll-c"}
	for _, n := range nodes {
		w.AddNode(n, "available", "available")
	}
	withNodes(t, nodes...)
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "six OSDs, all current", func() error {
		c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionOSDsUpdated)
		if n := len(osdDeployments(t, ns)); n != 6 || c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "All 6 OSDs") {
			return fmt.Errorf("%d OSD Deployments, OSDsUpdated %+v", n, c)
		}
		return nil
	})
	before := map[string]string{}
	var list appsv1.DeploymentList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		t.Fatal(err)
	}
	for _, d := range list.Items {
		before[d.Name] = d.Annotations[apply.HashAnnotation]
	}

	// From here the test plays the OSD pods. Ceph first says the first
	// node's OSDs may not stop.
	w.HoldOSDs(true)
	w.SetOKToStop(osdop.NotYet)
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		c.Spec.Resources.OSD = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
	})
	expect := func(what string, want map[string]string, says string) {
		t.Helper()
		waitFor(t, what, func() error {
			if got := osdTemplates(t, ns, before); !reflect.DeepEqual(got, want) {
				return fmt.Errorf("templates %v, want %v", got, want)
			}
			c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionOSDsUpdated)
			if c == nil || !strings.Contains(c.Message, says) {
				return fmt.Errorf("OSDsUpdated %+v does not say %q", c, says)
			}
			return nil
		})
	}
	expect("nothing while Ceph says no", map[string]string{"roll-a": "old=2 new=0", "roll-b": "old=2 new=0", "roll-c": "old=2 new=0"},
		"Ceph does not let OSDs")
	if rec := getCluster(t, cluster).Status.OSDRollout; rec == nil || rec.NoOut != cephv1alpha1.NoOutSet || rec.Attempts != 1 || !w.NoOut() {
		t.Fatalf("while Ceph says no: status.osdRollout %+v, noout %v; want noout set by the operator and one attempt", rec, w.NoOut())
	}
	expect("the first node only, once Ceph says yes", map[string]string{"roll-a": "old=0 new=2", "roll-b": "old=2 new=0", "roll-c": "old=2 new=0"},
		"2 of 6 OSDs updated")
	// Its pods restart: it stays the only one until they are ready.
	setOSDsReady(t, ns, "roll-a", false)
	expect("still the first node only", map[string]string{"roll-a": "old=0 new=2", "roll-b": "old=2 new=0", "roll-c": "old=2 new=0"},
		"waiting for the OSDs of roll-a to be ready")
	w.SetHealthChecks(cephv1alpha1.CephHealthCheck{Code: "PG_DEGRADED", Severity: cephv1alpha1.CephHealthWarn})
	waitFor(t, "the reporter publishing PG_DEGRADED", func() error {
		if st := getCluster(t, cluster).Status.Ceph; st == nil || len(st.Checks) == 0 {
			return fmt.Errorf("status.ceph %+v", st)
		}
		return nil
	})
	setOSDsReady(t, ns, "roll-a", true)
	expect("no next node while Ceph recovers", map[string]string{"roll-a": "old=0 new=2", "roll-b": "old=2 new=0", "roll-c": "old=2 new=0"},
		"waiting for Ceph to report no PG_DEGRADED")
	w.SetHealthChecks()
	expect("then the second node", map[string]string{"roll-a": "old=0 new=2", "roll-b": "old=0 new=2", "roll-c": "old=2 new=0"},
		"4 of 6 OSDs updated")
	setOSDsReady(t, ns, "roll-b", true)
	expect("then the third", map[string]string{"roll-a": "old=0 new=2", "roll-b": "old=0 new=2", "roll-c": "old=0 new=2"},
		"")
	setOSDsReady(t, ns, "roll-c", true)
	waitFor(t, "all updated, noout unset", func() error {
		got := getCluster(t, cluster)
		c := condition(t, got, cephv1alpha1.ConditionOSDsUpdated)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("OSDsUpdated %+v", c)
		}
		if got.Status.OSDs.Updated != 6 {
			return fmt.Errorf("status.osds.updated = %d", got.Status.OSDs.Updated)
		}
		if got.Status.OSDRollout != nil || w.NoOut() {
			return fmt.Errorf("status.osdRollout %+v, noout %v", got.Status.OSDRollout, w.NoOut())
		}
		return nil
	})
	// Ceph was asked before each node: once no, then yes for each.
	var steps []string
	for _, s := range w.OSDSteps() {
		steps = append(steps, s[strings.LastIndex(s, " ")+1:])
	}
	want := []string{"set-noout", "ok-to-stop", "ok-to-stop", "ok-to-stop", "ok-to-stop", "unset-noout"}
	if !slices.Equal(steps, want) {
		t.Fatalf("Ceph commands %v, want %v", w.OSDSteps(), want)
	}
	waitFor(t, "the rollout's Events", func() error {
		return hasEventReasons(ctx, ns, "OSDRolloutNoOutSet", "OSDRolloutHeld", "OSDRolloutNoOutUnset", "OSDsUpdating")
	})
}

package controllers_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
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

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// setNodeReady sets node's Ready condition, as the node lifecycle
// controller does when the kubelet stops (or resumes) reporting.
func setNodeReady(t *testing.T, name string, ready bool) {
	t.Helper()
	n := &corev1.Node{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, n); err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status = st
			n.Status.Conditions[i].LastTransitionTime = metav1.Now()
		}
	}
	if err := env.Client.Status().Update(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

// monDeployments maps the monitor Deployments of ns to their nodes.
func monDeployments(t *testing.T, ns string) map[string]*appsv1.Deployment {
	t.Helper()
	var list appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{resources.ComponentLabel: resources.ComponentMon}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.Deployment{}
	for i := range list.Items {
		out[list.Items[i].Labels[resources.MonNameLabel]] = &list.Items[i]
	}
	return out
}

// TestMonitorFailover: a monitor whose node is NotReady is left alone while
// Ceph counts it in the quorum and until the timeout; then it is replaced
// by a new monitor, under a new name, on the node that runs none. The new
// placement is recorded, the old monitor's Deployment goes, the new one's
// init container is told which monitor to remove from the map, and the
// status shows the replacement until it is in quorum. Nothing comes back
// once the node is Ready again, and a restarted operator keeps it so.
func TestMonitorFailover(t *testing.T) {
	ctx := context.Background()
	stop := startManager(t)
	ns := newNamespace(t, "failover")
	nodes := []string{"mfo-1", "mfo-2", "mfo-3", "mfo-4"}
	withNodes(t, nodes...)
	w := playAgent(t, ns, nodes...)
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Mon = cephv1alpha1.MonSpec{Count: 3, FailoverTimeout: &metav1.Duration{Duration: 3 * time.Second}}
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	w.SetQuorum(3, "a", "b", "c")
	waitReady(t, cluster)
	mons := monDeployments(t, ns)
	if len(mons) != 3 || mons["c"] == nil || mons["c"].Annotations[resources.NodeAnnotation] != "mfo-3" {
		t.Fatalf("monitors %v, want a, b, c on mfo-1..3", mons)
	}

	// NotReady, but Ceph counts monitor c in the quorum (its daemon runs,
	// only the kubelet stopped): it is not replaced, however long.
	setNodeReady(t, "mfo-3", false)
	waitFor(t, "monitor c shown down but in quorum", func() error {
		c := meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionMonitorsReady)
		if c == nil || c.Reason != cephv1alpha1.ReasonMonitorFailover || !strings.Contains(c.Message, "counts it in the quorum") {
			return fmt.Errorf("MonitorsReady %+v", c)
		}
		return nil
	})
	placed := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: ns, Name: "ceph-mon-placement"}
	if err := env.Client.Get(ctx, key, placed); !apierrors.IsNotFound(err) {
		t.Fatalf("a placement record was written while monitor c is in quorum: %v %v", err, placed.Data)
	}

	// Out of the quorum: replaced once the timeout passed.
	w.SetQuorum(3, "a", "b")
	waitFor(t, "monitor c replaced by d on mfo-4", func() error {
		if err := env.Client.Get(ctx, key, placed); err != nil {
			return err
		}
		got, err := monplan.Decode(placed.Data[resources.ConfigMapKeyMons])
		if err != nil {
			return err
		}
		names := []string{}
		for _, m := range got {
			names = append(names, m.Name+"@"+m.Node+"/"+m.Replaces)
		}
		if want := []string{"a@mfo-1/", "b@mfo-2/", "d@mfo-4/c"}; !slices.Equal(names, want) || placed.Data[resources.ConfigMapKeyRetired] != "c" {
			return fmt.Errorf("placement %v retired %q, want %v retired c", names, placed.Data[resources.ConfigMapKeyRetired], want)
		}
		return nil
	})
	if len(placed.OwnerReferences) != 0 || placed.Annotations[resources.ClusterUIDAnnotation] != string(getCluster(t, cluster).UID) {
		t.Errorf("placement record owners %v annotations %v: it must outlive the CephCluster like the bootstrap's", placed.OwnerReferences, placed.Annotations)
	}
	waitFor(t, "monitor c's Deployment gone, d's there with what it replaces", func() error {
		mons = monDeployments(t, ns)
		if mons["c"] != nil {
			return fmt.Errorf("monitor c's Deployment is still there")
		}
		d := mons["d"]
		if d == nil {
			return fmt.Errorf("no Deployment of monitor d: %v", mons)
		}
		init := d.Spec.Template.Spec.InitContainers[0]
		if !slices.Contains(init.Env, corev1.EnvVar{Name: "MON_REPLACES", Value: "c"}) || d.Annotations[resources.NodeAnnotation] != "mfo-4" {
			return fmt.Errorf("monitor d: env %v node %s", init.Env, d.Annotations[resources.NodeAnnotation])
		}
		return nil
	})
	waitFor(t, "the replacement shown until it joins", func() error {
		got := getCluster(t, cluster)
		c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionMonitorsReady)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "monitor d on node mfo-4 replaces monitor c") {
			return fmt.Errorf("MonitorsReady %+v", c)
		}
		if !slices.ContainsFunc(got.Status.Monitors, func(m cephv1alpha1.MonitorStatus) bool {
			return m.Name == "d" && m.Replaces == "c" && m.Node == "mfo-4"
		}) {
			return fmt.Errorf("status.monitors %+v", got.Status.Monitors)
		}
		return nil
	})
	var events eventsv1.EventList
	if err := env.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events.Items, func(e eventsv1.Event) bool {
		return e.Reason == cephv1alpha1.ReasonMonitorFailover && e.Type == corev1.EventTypeWarning && strings.Contains(e.Note, "replacing it with monitor d on node mfo-4")
	}) {
		t.Errorf("no Warning event %s naming the replacement", cephv1alpha1.ReasonMonitorFailover)
	}

	// d joins the quorum (and c left the map): Ready again.
	w.SetQuorum(3, "a", "b", "d")
	waitReady(t, cluster)

	// The node comes back, and the operator restarts: c stays replaced.
	setNodeReady(t, "mfo-3", true)
	stop()
	startManager(t)
	waitReady(t, cluster)
	time.Sleep(2 * time.Second)
	mons = monDeployments(t, ns)
	if mons["c"] != nil || mons["d"] == nil || len(mons) != 3 {
		t.Fatalf("after the node came back and a restart: monitors %v", mons)
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.ConfigMapName(cluster)}, cm); err != nil {
		t.Fatal(err)
	}
	if conf := cm.Data["ceph.conf"]; strings.Contains(conf, placedIP(t, ns, "c")) || !strings.Contains(conf, placedIP(t, ns, "d")) {
		t.Errorf("ceph.conf mon_host does not follow the placement:\n%s", conf)
	}
}

// placedIP is the address the Deployment of monitor name was given
// (through its node's InternalIP).
func placedIP(t *testing.T, ns, name string) string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "ceph-mon-endpoints"}, cm); err != nil {
		t.Fatal(err)
	}
	placed := &corev1.ConfigMap{}
	_ = env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "ceph-mon-placement"}, placed)
	for _, data := range []string{cm.Data[resources.ConfigMapKeyMons], placed.Data[resources.ConfigMapKeyMons]} {
		mons, _ := monplan.Decode(data)
		for _, m := range mons {
			if m.Name == name {
				return m.IP + ":"
			}
		}
	}
	t.Fatalf("monitor %s in no placement", name)
	return ""
}

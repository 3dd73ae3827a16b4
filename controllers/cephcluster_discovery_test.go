package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

func inventoryNames(t *testing.T, ns string) []string {
	t.Helper()
	var list cephv1alpha1.DiskInventoryList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list.Items {
		names = append(names, i.Name)
	}
	return names
}

func waitInventories(t *testing.T, ns string, want ...string) {
	t.Helper()
	testenv.Eventually(t, wait, func() error {
		if got := strings.Join(inventoryNames(t, ns), ","); got != strings.Join(want, ",") {
			return fmt.Errorf("DiskInventories %q, want %q", got, strings.Join(want, ","))
		}
		return nil
	})
}

func discovered(t *testing.T, c *cephv1alpha1.CephCluster) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(getCluster(t, c).Status.Conditions, cephv1alpha1.ConditionDisksDiscovered)
}

// TestDiscoveryFollowsNodes checks that DiskInventories follow the storage
// selection as nodes join and leave, that a missing listed node is reported,
// and that a reconcile with nothing to do writes nothing.
func TestDiscoveryFollowsNodes(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "follow")
	withNodes(t, "follow-1")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitInventories(t, ns, "follow-1")

	// Until the agent publishes, discovery waits and says for which node.
	testenv.Eventually(t, wait, func() error {
		c := discovered(t, cluster)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "follow-1") {
			return fmt.Errorf("DisksDiscovered = %+v, want False naming follow-1", c)
		}
		return nil
	})
	ds := &appsv1.DaemonSet{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.DiscoveryName(cluster)}, ds); err != nil {
		t.Fatal(err)
	}
	fsid := getCluster(t, cluster).Status.FSID
	if !strings.Contains(strings.Join(ds.Spec.Template.Spec.Containers[0].Args, " "), "--cluster-fsid="+fsid) {
		t.Errorf("DaemonSet does not pass the cluster's FSID: %v", ds.Spec.Template.Spec.Containers[0].Args)
	}

	// A node joins: it gets an inventory within one reconcile.
	w := playAgent(t, ns, "follow-1", "follow-2")
	withNodes(t, "follow-2")
	waitInventories(t, ns, "follow-1", "follow-2")
	waitReady(t, cluster)

	// Idle: a Node event that changes nothing selected triggers a reconcile
	// that writes nothing.
	snapshot := func() map[string]string {
		out := map[string]string{}
		out["cluster"] = getCluster(t, cluster).ResourceVersion
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds)
		out["daemonset"] = ds.ResourceVersion
		var invs cephv1alpha1.DiskInventoryList
		_ = env.Client.List(ctx, &invs, client.InNamespace(ns))
		for _, i := range invs.Items {
			out[i.Name] = i.ResourceVersion
		}
		return out
	}
	before := snapshot()
	node := &corev1.Node{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "follow-1"}, node); err != nil {
		t.Fatal(err)
	}
	node.Labels["unrelated"] = "label"
	if err := env.Client.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	// A second change we can observe proves the first was processed: a
	// node that joins gets an inventory only after the reconcile queue has
	// moved past the label change.
	w.AddNode("follow-3", "partitioned")
	withNodes(t, "follow-3")
	waitInventories(t, ns, "follow-1", "follow-2", "follow-3")
	waitReady(t, cluster)
	after := snapshot()
	for _, k := range []string{"daemonset", "follow-1", "follow-2"} {
		if before[k] != after[k] {
			t.Errorf("%s was written by a reconcile with nothing to do (resourceVersion %s -> %s)", k, before[k], after[k])
		}
	}

	// A node without OSDs leaves: its inventory goes.
	if err := env.Client.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "follow-3"}}); err != nil {
		t.Fatal(err)
	}
	waitInventories(t, ns, "follow-1", "follow-2")

	// Listing a node that does not exist is reported, and its inventory is
	// not created; unlisted nodes lose theirs, unless their disks hold
	// OSDs (follow-2's do): those stay visible until decommissioned.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got := getCluster(t, cluster)
		got.Spec.Storage = cephv1alpha1.StorageSpec{Nodes: []cephv1alpha1.NodeStorageSpec{{Name: "follow-1"}, {Name: "no-such-node"}}}
		return env.Client.Update(ctx, got)
	}); err != nil {
		t.Fatal(err)
	}
	waitInventories(t, ns, "follow-1", "follow-2")
	testenv.Eventually(t, wait, func() error {
		c := discovered(t, cluster)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "NodeNotFound" || !strings.Contains(c.Message, "no-such-node") {
			return fmt.Errorf("DisksDiscovered = %+v, want False/NodeNotFound naming no-such-node", c)
		}
		return nil
	})
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "no-such-node"}, &cephv1alpha1.DiskInventory{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("inventory created for a node that does not exist (err=%v)", err)
	}
}

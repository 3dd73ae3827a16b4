package controllers_test

import (
	"context"
	"fmt"
	"testing"

	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	"github.com/operator-framework/operator-lib/conditions"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
)

// testConditionFactory finds the OperatorCondition at a fixed name, where
// OLM's in-cluster factory reads it from the environment and the pod's
// service-account namespace.
type testConditionFactory struct{ key types.NamespacedName }

func (f testConditionFactory) GetNamespacedName() (*types.NamespacedName, error) { return &f.key, nil }

func (f testConditionFactory) NewCondition(t apiv2.ConditionType) (conditions.Condition, error) {
	return &testCondition{key: f.key, condType: string(t)}, nil
}

// testCondition reads and writes one condition of the OperatorCondition's
// spec, as operator-lib's does.
type testCondition struct {
	key      types.NamespacedName
	condType string
}

func (c *testCondition) Get(ctx context.Context) (*metav1.Condition, error) {
	oc := &apiv2.OperatorCondition{}
	if err := env.Client.Get(ctx, c.key, oc); err != nil {
		return nil, err
	}
	if got := meta.FindStatusCondition(oc.Spec.Conditions, c.condType); got != nil {
		return got, nil
	}
	return nil, fmt.Errorf("condition %s not set", c.condType)
}

func (c *testCondition) Set(ctx context.Context, status metav1.ConditionStatus, opts ...conditions.Option) error {
	oc := &apiv2.OperatorCondition{}
	if err := env.Client.Get(ctx, c.key, oc); err != nil {
		return err
	}
	cond := metav1.Condition{Type: c.condType, Status: status}
	for _, o := range opts {
		o(&cond)
	}
	meta.SetStatusCondition(&oc.Spec.Conditions, cond)
	return env.Client.Update(ctx, oc)
}

// TestUpgradeableCondition checks that the operator tells OLM not to upgrade
// it while prepare Jobs run or a cluster is being deleted, and that it may
// otherwise.
func TestUpgradeableCondition(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "olm")
	oc := &apiv2.OperatorCondition{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ceph-operator.v0.1.0"}}
	if err := env.Client.Create(ctx, oc); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(oc)
	startManagerWith(t, func(o *manager.Options) {
		o.ConditionFactory = testConditionFactory{key: key}
		o.WatchNamespaces = []string{ns}
	})
	upgradeable := func(want metav1.ConditionStatus, reason string) {
		t.Helper()
		waitFor(t, "Upgradeable "+string(want)+"/"+reason, func() error {
			got := &apiv2.OperatorCondition{}
			if err := env.Client.Get(ctx, key, got); err != nil {
				return err
			}
			c := meta.FindStatusCondition(got.Spec.Conditions, apiv2.Upgradeable)
			if c == nil || c.Status != want || c.Reason != reason {
				return fmt.Errorf("Upgradeable = %+v", c)
			}
			return nil
		})
	}

	w := playAgent(t, ns)
	w.AddNode("olm-1", "available")
	withNodes(t, "olm-1")
	w.Pause(true)
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	upgradeable(metav1.ConditionFalse, "PreparingOSDs")
	w.Pause(false)
	waitReady(t, cluster)
	upgradeable(metav1.ConditionTrue, "Idle")

	// A finalizer of someone else's holds the deletion open.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Finalizers = append(c.Finalizers, "example.com/hold") })
	if err := env.Client.Delete(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	upgradeable(metav1.ConditionFalse, "ClusterDeleting")
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		var keep []string
		for _, f := range c.Finalizers {
			if f != "example.com/hold" {
				keep = append(keep, f)
			}
		}
		c.Finalizers = keep
	})
	upgradeable(metav1.ConditionTrue, "Idle")
}

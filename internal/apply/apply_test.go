package apply_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// managers returns the field managers of obj that applied (to the status
// subresource when status is true).
func managers(obj client.Object, status bool) map[string]bool {
	out := map[string]bool{}
	for _, mf := range obj.GetManagedFields() {
		if mf.Operation == metav1.ManagedFieldsOperationApply && (mf.Subresource == "status") == status {
			out[mf.Manager] = true
		}
	}
	return out
}

func TestOwnedAndStatus(t *testing.T) {
	env := testenv.Start(t)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	c := env.Client

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "apply-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cluster := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: ns.Name},
		Spec:       cephv1alpha1.CephClusterSpec{Image: "quay.io/ceph/ceph:v19.2.3", Storage: cephv1alpha1.StorageSpec{UseAllNodes: true}},
	}
	if err := c.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}

	configMap := func(v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: ns.Name},
			Data:       map[string]string{"k": v},
		}
	}
	read := func() *corev1.ConfigMap {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "conf"}, &cm); err != nil {
			t.Fatal(err)
		}
		return &cm
	}

	// First call: created, owned by the cluster, hash recorded.
	created, err := apply.Owned(ctx, c, cluster, configMap("1"))
	if err != nil || !created {
		t.Fatalf("first Owned: created=%v err=%v", created, err)
	}
	cm := read()
	if ref := metav1.GetControllerOf(cm); ref == nil || ref.UID != cluster.UID {
		t.Errorf("controller of the ConfigMap = %+v, want the CephCluster", ref)
	}
	if cm.Annotations[apply.HashAnnotation] == "" {
		t.Error("no desired hash recorded")
	}

	// Same desired object: no write at all.
	rv := cm.ResourceVersion
	if created, err := apply.Owned(ctx, c, cluster, configMap("1")); err != nil || created {
		t.Fatalf("unchanged Owned: created=%v err=%v", created, err)
	}
	if got := read().ResourceVersion; got != rv {
		t.Errorf("an unchanged object was written: resourceVersion %s -> %s", rv, got)
	}

	// Changed: applied under the Operator field manager.
	if created, err := apply.Owned(ctx, c, cluster, configMap("2")); err != nil || created {
		t.Fatalf("changed Owned: created=%v err=%v", created, err)
	}
	cm = read()
	if cm.Data["k"] != "2" {
		t.Errorf("data = %v, want the applied value", cm.Data)
	}
	if m := managers(cm, false); !m[string(apply.Operator)] {
		t.Errorf("apply managers %v, want %s", m, apply.Operator)
	}

	// Two managers share the status: each owns what it applies, and one
	// does not remove the other's condition.
	withCondition := func(t string) *cephv1alpha1.CephCluster {
		return &cephv1alpha1.CephCluster{
			ObjectMeta: metav1.ObjectMeta{Name: cluster.Name, Namespace: cluster.Namespace},
			Status: cephv1alpha1.CephClusterStatus{Conditions: []metav1.Condition{{
				Type: t, Status: metav1.ConditionTrue, Reason: cephv1alpha1.ReasonReconciled, Message: "m",
				LastTransitionTime: metav1.Now(),
			}}},
		}
	}
	if err := apply.Status(ctx, c, withCondition(cephv1alpha1.ConditionConfigured), apply.Operator); err != nil {
		t.Fatal(err)
	}
	if err := apply.Status(ctx, c, withCondition(cephv1alpha1.ConditionOSDsProvisioned), apply.OSD); err != nil {
		t.Fatal(err)
	}
	var got cephv1alpha1.CephCluster
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), &got); err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{cephv1alpha1.ConditionConfigured, cephv1alpha1.ConditionOSDsProvisioned} {
		if !meta.IsStatusConditionTrue(got.Status.Conditions, ct) {
			t.Errorf("condition %s missing after both applies: %+v", ct, got.Status.Conditions)
		}
	}
	if m := managers(&got, true); !m[string(apply.Operator)] || !m[string(apply.OSD)] {
		t.Errorf("status apply managers %v, want %s and %s", m, apply.Operator, apply.OSD)
	}
	if got.Spec.Image != cluster.Spec.Image {
		t.Errorf("a status apply changed the spec: image %q", got.Spec.Image)
	}
	if m := managers(&got, false); len(m) != 0 {
		t.Errorf("a status apply took fields of the main resource: %v", m)
	}

	// A condition its manager stops applying is removed; the other stays.
	empty := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: cluster.Name, Namespace: cluster.Namespace}}
	if err := apply.Status(ctx, c, empty, apply.OSD); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), &got); err != nil {
		t.Fatal(err)
	}
	if meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionOSDsProvisioned) != nil ||
		!meta.IsStatusConditionTrue(got.Status.Conditions, cephv1alpha1.ConditionConfigured) {
		t.Errorf("after the OSD manager applied nothing: %+v", got.Status.Conditions)
	}

	// An object that is gone is reported as NotFound.
	gone := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: ns.Name}}
	if err := apply.Status(ctx, c, gone, apply.Operator); !apierrors.IsNotFound(err) {
		t.Errorf("status of a missing object: %v, want NotFound", err)
	}
}

func TestForEach(t *testing.T) {
	var running, most, calls atomic.Int32
	release := make(chan struct{})
	go func() {
		// Hold every call until the limit is reached (or for long enough
		// to see that it is not), so the count below is the true maximum.
		for deadline := time.Now().Add(5 * time.Second); running.Load() < apply.Parallelism && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	err := apply.ForEach(context.Background(), 3*apply.Parallelism, func(_ context.Context, i int) error {
		calls.Add(1)
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		if i%5 == 0 {
			return errors.New("failed")
		}
		return nil
	})
	if calls.Load() != 3*apply.Parallelism {
		t.Errorf("%d calls, want every one of %d despite failures", calls.Load(), 3*apply.Parallelism)
	}
	if most.Load() != apply.Parallelism {
		t.Errorf("at most %d calls at once, want %d", most.Load(), apply.Parallelism)
	}
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if e.Error() == "failed" {
			n++
		}
	}
	if want := (3*apply.Parallelism + 4) / 5; n != want {
		t.Errorf("%d errors joined, want %d", n, want)
	}
}

package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// keptState returns the cluster's kept state as the API server has it.
func keptState(t *testing.T, c *cephv1alpha1.CephCluster) []client.Object {
	t.Helper()
	var out []client.Object
	for _, k := range resources.KeptState(c) {
		var obj client.Object = &corev1.ConfigMap{}
		if k.Kind == "Secret" {
			obj = &corev1.Secret{}
		}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: c.Namespace, Name: k.Name}, obj); err != nil {
			if k.Optional && apierrors.IsNotFound(err) {
				continue
			}
			t.Fatalf("%s %s: %v", k.Kind, k.Name, err)
		}
		out = append(out, obj)
	}
	return out
}

// deleteAndWait deletes c and waits until it is gone.
func deleteAndWait(t *testing.T, c *cephv1alpha1.CephCluster) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(c), &cephv1alpha1.CephCluster{})
		if err == nil {
			return errors.New("CephCluster still exists")
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("CephCluster still exists? %w", err)
		}
		return nil
	})
}

// TestDeleteKeepsIdentity deletes a CephCluster with the default cleanup
// policy and creates it again: the identity, the monitor placement and the
// bootstrap record survive, also when an earlier operator had given them an
// owner reference, and the new CephCluster adopts them: same FSID, same
// keys, same monitors, and the OSDs of the disks come back.
func TestDeleteKeepsIdentity(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "keep")
	withNodes(t, "keep-1", "keep-2")
	playAgent(t, ns, "keep-1", "keep-2")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	first := waitReady(t, cluster)
	before := keptState(t, first)
	secret := before[0].(*corev1.Secret)
	osdsBefore := osdDeployments(t, ns)
	if len(osdsBefore) != 4 {
		t.Fatalf("OSD Deployments %v, want 4", osdsBefore)
	}
	for _, obj := range before {
		if len(obj.GetOwnerReferences()) != 0 {
			t.Errorf("%s has owner references %v: the garbage collector would delete it with the cluster", obj.GetName(), obj.GetOwnerReferences())
		}
		if obj.GetAnnotations()[resources.ClusterUIDAnnotation] != string(first.UID) {
			t.Errorf("%s does not name the CephCluster that uses it: %v", obj.GetName(), obj.GetAnnotations())
		}
	}
	if rec := before[2].(*corev1.ConfigMap); rec.Data[resources.BootstrapKeyFSID] != first.Status.FSID {
		t.Errorf("bootstrap record %v does not hold FSID %s", rec.Data, first.Status.FSID)
	}

	// An earlier operator made the cluster the Secret's controller; the
	// garbage collector (which envtest does not run) would then delete it
	// with the cluster. The operator takes the reference off.
	base := secret.DeepCopy()
	secret.OwnerReferences = []metav1.OwnerReference{{APIVersion: cephv1alpha1.GroupVersion.String(), Kind: "CephCluster",
		Name: first.Name, UID: first.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
	if err := env.Client.Patch(ctx, secret, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}

	deleteAndWait(t, first)
	after := keptState(t, first)
	for i, obj := range after {
		if obj.GetUID() != before[i].GetUID() {
			t.Errorf("%s was re-created by deletion", obj.GetName())
		}
		if len(obj.GetOwnerReferences()) != 0 {
			t.Errorf("%s kept owner references %v", obj.GetName(), obj.GetOwnerReferences())
		}
	}
	for _, obj := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.MonName(first, "a")}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.MgrName(first)}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.ConfigMapName(first)}},
	} {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("%s survived the deletion (err=%v)", obj.GetName(), err)
		}
	}
	if osds := osdDeployments(t, ns); len(osds) != 0 {
		t.Errorf("OSD Deployments %v survived the deletion", osds)
	}

	// Created again: the same cluster.
	again := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	second := waitReady(t, again)
	if second.UID == first.UID {
		t.Fatal("the CephCluster was not created anew")
	}
	if second.Status.FSID != first.Status.FSID {
		t.Errorf("FSID %s after re-creation, want the kept %s", second.Status.FSID, first.Status.FSID)
	}
	adopted := keptState(t, second)
	for i, obj := range adopted {
		if obj.GetUID() != before[i].GetUID() {
			t.Errorf("%s was replaced instead of adopted", obj.GetName())
		}
		if obj.GetAnnotations()[resources.ClusterUIDAnnotation] != string(second.UID) {
			t.Errorf("%s was not adopted: %v", obj.GetName(), obj.GetAnnotations())
		}
	}
	if string(adopted[0].(*corev1.Secret).Data[resources.SecretKeyAdminKeyring]) != string(secret.Data[resources.SecretKeyAdminKeyring]) {
		t.Error("the keys changed")
	}
	if fmt.Sprint(second.Status.Monitors) != fmt.Sprint(first.Status.Monitors) {
		t.Errorf("monitors %+v, want the kept placement %+v", second.Status.Monitors, first.Status.Monitors)
	}
	if osds := osdDeployments(t, ns); fmt.Sprint(osds) != fmt.Sprint(osdsBefore) {
		t.Errorf("OSD Deployments %v after re-creation, want %v", osds, osdsBefore)
	}
}

// TestConfirmedCleanupRemovesIdentity deletes a CephCluster whose cleanup
// policy confirms destroying the data: its kept state goes, and one created
// again is a new cluster.
func TestConfirmedCleanupRemovesIdentity(t *testing.T) {
	ctx := context.Background()
	ns, _ := oneNodeWorld(t, "destroy")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.CleanupPolicy.Confirmation = cephv1alpha1.CleanupConfirmation
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	first := waitReady(t, cluster)
	keptState(t, first)
	deleteAndWait(t, first)
	for _, k := range resources.KeptState(first) {
		var obj client.Object = &corev1.ConfigMap{}
		if k.Kind == "Secret" {
			obj = &corev1.Secret{}
		}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: k.Name}, obj); !apierrors.IsNotFound(err) {
			t.Errorf("%s %s survived a confirmed cleanup (err=%v)", k.Kind, k.Name, err)
		}
	}
	again := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	if second := waitReady(t, again); second.Status.FSID == first.Status.FSID {
		t.Errorf("FSID %s kept after a confirmed cleanup", second.Status.FSID)
	}
}

// TestMissingIdentityIsNotReplaced checks that a cluster whose identity
// Secret disappears is not given a new FSID.
func TestMissingIdentityIsNotReplaced(t *testing.T) {
	ctx := context.Background()
	ns, _ := oneNodeWorld(t, "lost")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	if err := env.Client.Delete(ctx, getSecret(t, got)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		c := meta.FindStatusCondition(getCluster(t, cluster).Status.Conditions, cephv1alpha1.ConditionDegraded)
		if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "is missing") || !strings.Contains(c.Message, got.Status.FSID) {
			return fmt.Errorf("Degraded = %+v", c)
		}
		return nil
	})
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.IdentitySecretName(cluster)}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a new identity Secret was created (err=%v)", err)
	}
	if fsid := getCluster(t, cluster).Status.FSID; fsid != got.Status.FSID {
		t.Errorf("FSID changed to %s", fsid)
	}
}

// TestMonitorStoreMissing plays a monitor whose init container refused to
// create a store after bootstrap: the cluster says so, naming node and host
// path, and is not Ready; when the monitor is back the condition goes.
func TestMonitorStoreMissing(t *testing.T) {
	ctx := context.Background()
	ns, w := oneNodeWorld(t, "monstore")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	dir := "/var/lib/ceph-operator/" + ns + "/ceph/" + got.Status.FSID + "/mon-a"

	// The monitor's pod fails in its init container as the script does.
	w.SetMonsDown(true)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ceph-mon-a-x", Labels: map[string]string{
			resources.ManagedByLabel: resources.ManagedByValue, resources.ClusterLabel: "ceph",
			resources.ComponentLabel: resources.ComponentMon, resources.MonNameLabel: "a",
		}},
		Spec: corev1.PodSpec{NodeName: "monstore-1", Containers: []corev1.Container{{Name: "mon", Image: "ceph"}},
			InitContainers: []corev1.Container{{Name: resources.MonInitContainer, Image: "ceph"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	msg := resources.MonStoreMissingPrefix + " monitor a on node monstore-1 has no store in " + dir + ": no quorum of the other monitors answered within 30s"
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{
		Name: resources.MonInitContainer, Image: "ceph", ImageID: "ceph",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: resources.MonStoreMissingExitCode, Reason: "Error", Message: msg,
		}},
	}}}
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		c := getCluster(t, cluster)
		missing := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionMonitorStoreMissing)
		if missing == nil || missing.Status != metav1.ConditionTrue || !strings.Contains(missing.Message, "monitor a on node monstore-1 ("+dir+")") ||
			!strings.Contains(missing.Message, "from a backup") || !strings.Contains(missing.Message, "update-mon-db") {
			return fmt.Errorf("MonitorStoreMissing = %+v", missing)
		}
		for _, typ := range []string{cephv1alpha1.ConditionReady, cephv1alpha1.ConditionMonitorsReady} {
			if x := meta.FindStatusCondition(c.Status.Conditions, typ); x == nil || x.Status != metav1.ConditionFalse || x.Reason != cephv1alpha1.ReasonMonitorStoreMissing {
				return fmt.Errorf("%s = %+v", typ, x)
			}
		}
		return nil
	})

	// Restored: the monitor runs again and the condition goes.
	if err := env.Client.Delete(ctx, pod); err != nil {
		t.Fatal(err)
	}
	w.SetMonsDown(false)
	got = waitReady(t, cluster)
	if c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionMonitorStoreMissing); c != nil {
		t.Errorf("MonitorStoreMissing = %+v after the monitor is back", c)
	}
}

func ptr[T any](v T) *T { return &v }

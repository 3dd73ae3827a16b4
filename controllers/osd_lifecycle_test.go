package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// TestOSDTroubleVisible: an OSD whose disk disappeared is Missing, one
// whose daemon keeps crashing is Failed (OSDFailing), both with the OSD id
// and since when and in the cluster's counts; the OSDs of a deleted Node
// are NodeGone. No Deployment is removed by any of it.
func TestOSDTroubleVisible(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "trouble")
	w := playAgent(t, ns)
	w.AddNode("trouble-a", "available", "available", "available")
	// A second node keeps an agent reporting the image's Ceph version once
	// trouble-a is deleted.
	w.AddNode("trouble-b", "partitioned")
	withNodes(t, "trouble-a", "trouble-b")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitReady(t, cluster)
	osds := osdDeployments(t, ns)
	osdOf := map[string]string{}
	for osd, dev := range osds {
		osdOf[dev] = osd
	}

	// sdd is pulled.
	w.RemoveDisk("trouble-a", "sdd")
	bumpRescan(t, ns, "trouble-a")
	missing := id("trouble-a", "sdd")
	waitFor(t, "sdd Missing", func() error {
		p, err := diskPlan(t, ns, "trouble-a", missing)
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionMissing || p.Reason != "DiskMissing" || p.OSDID == nil || fmt.Sprint(*p.OSDID) != osdOf[missing] || p.Since == nil {
			return fmt.Errorf("plan %+v", p)
		}
		if c := getCluster(t, cluster); c.Status.OSDs.Missing != 1 {
			return fmt.Errorf("counts %+v", c.Status.OSDs)
		}
		return nil
	})

	// The OSD of sdc keeps crashing.
	w.HoldOSDs(true)
	crashing := osdOf[id("trouble-a", "sdc")]
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ceph-osd-" + crashing}, d); err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, UnavailableReplicas: 1}
	if err := env.Client.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph-osd-" + crashing + "-x", Namespace: ns, Labels: d.Spec.Template.Labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "osd", Image: "ceph"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "osd", Image: "ceph", RestartCount: 5,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "bluestore: _read_bdev_label failed: (5) Input/output error"}},
	}}}
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	// The Deployment's status change wakes the reconciler.
	waitFor(t, "sdc Failed with OSDFailing", func() error {
		p, err := diskPlan(t, ns, "trouble-a", "sdc")
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionFailed || p.Reason != "OSDFailing" || p.Since == nil || !strings.Contains(p.Message, "Input/output error") || !strings.Contains(p.Message, "OSD "+crashing) {
			return fmt.Errorf("plan %+v", p)
		}
		if c := getCluster(t, cluster); c.Status.OSDs.Failing != 1 || c.Status.OSDs.Failed != 0 {
			return fmt.Errorf("counts %+v", c.Status.OSDs)
		}
		return nil
	})

	// The Node is deleted: its OSDs stay, NodeGone.
	if err := env.Client.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "trouble-a"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sdb NodeGone", func() error {
		p, err := diskPlan(t, ns, "trouble-a", "sdb")
		if err != nil {
			return err
		}
		if p.Action != cephv1alpha1.ActionProvisioned || p.Reason != "NodeGone" || p.OSDID == nil {
			return fmt.Errorf("plan %+v", p)
		}
		return nil
	})
	if got := osdDeployments(t, ns); len(got) != 3 {
		t.Fatalf("OSD Deployments %v: trouble must remove none", got)
	}
}

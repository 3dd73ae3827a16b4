package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/controllers"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// condition returns condition t of the cluster as the API server has it.
func condition(t *testing.T, c *cephv1alpha1.CephCluster, typ string) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(getCluster(t, c).Status.Conditions, typ)
}

// images lists the container images of the namespace's DaemonSets and
// Deployments, by object name.
func images(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var ds appsv1.DaemonSetList
	var deps appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &ds, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.List(context.Background(), &deps, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds.Items {
		out["DaemonSet/"+d.Name] = d.Spec.Template.Spec.Containers[0].Image
	}
	for _, d := range deps.Items {
		out["Deployment/"+d.Name] = d.Spec.Template.Spec.Containers[0].Image
	}
	return out
}

func TestImageAllowList(t *testing.T) {
	ctx := context.Background()
	startManagerWith(t, func(o *manager.Options) { o.AllowedImages = "quay.io/ceph/ceph, registry.example.com/ceph/" })
	ns := newNamespace(t, "allow")
	withNodes(t, "allow-1")
	playAgent(t, ns, "allow-1")

	// A cluster created with an image off the list: nothing runs.
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Image = "quay.io/ceph/ceph-evil:v18.2.4"
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		c := condition(t, cluster, cephv1alpha1.ConditionCephVersionSupported)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "ImageNotAllowed" ||
			!strings.Contains(c.Message, "quay.io/ceph/ceph-evil:v18.2.4") || !strings.Contains(c.Message, "quay.io/ceph/ceph, registry.example.com/ceph/") {
			return fmt.Errorf("CephVersionSupported = %+v", c)
		}
		if r := condition(t, cluster, cephv1alpha1.ConditionReady); r == nil || r.Reason != "ImageNotAllowed" {
			return fmt.Errorf("Ready = %+v", r)
		}
		if d := condition(t, cluster, cephv1alpha1.ConditionDegraded); d == nil || d.Status != metav1.ConditionTrue || d.Reason != "ImageNotAllowed" {
			return fmt.Errorf("Degraded = %+v", d)
		}
		return nil
	})
	// The identity is made (it runs no image); nothing that runs one is.
	if got := images(t, ns); len(got) != 0 {
		t.Errorf("workloads exist for a refused image: %v", got)
	}
	var jobs batchv1.JobList
	if err := env.Client.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 0 {
		t.Errorf("%d Jobs exist for a refused image", len(jobs.Items))
	}

	// An allowed image runs.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = "registry.example.com/ceph/ceph:v18.2.4" })
	waitReady(t, cluster)
	before := images(t, ns)
	if len(before) < 3 {
		t.Fatalf("workloads %v: want the discovery DaemonSet, a monitor and the manager", before)
	}

	// Switching a running cluster to a refused image changes none of the
	// operator's workloads.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = "docker.io/library/busybox:latest" })
	testenv.Eventually(t, wait, func() error {
		got := getCluster(t, cluster)
		c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionReady)
		if c == nil || c.Reason != "ImageNotAllowed" || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("Ready = %+v", c)
		}
		return nil
	})
	for name, image := range images(t, ns) {
		if strings.Contains(image, "busybox") {
			t.Errorf("%s was changed to the refused image %s", name, image)
		} else if before[name] != "" && before[name] != image {
			t.Errorf("%s changed from %s to %s", name, before[name], image)
		}
	}
}

func TestPodSecurityRejected(t *testing.T) {
	ctx := context.Background()
	defer controllers.SetPodRecheckRejected(time.Second)()
	startManager(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "restricted-", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	}}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	withNodes(t, "psa-1")
	playAgent(t, ns.Name, "psa-1")
	cluster := newCluster(ns.Name, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		for _, typ := range []string{cephv1alpha1.ConditionReady, cephv1alpha1.ConditionDegraded} {
			c := condition(t, cluster, typ)
			if c == nil || c.Reason != "PodSecurityRejected" ||
				!strings.Contains(c.Message, "kubectl label namespace "+ns.Name+" pod-security.kubernetes.io/enforce=privileged") ||
				!strings.Contains(c.Message, "restricted") {
				return fmt.Errorf("%s = %+v", typ, c)
			}
		}
		return nil
	})
	// The dry run left no pod behind.
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns.Name)); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("pods left in the namespace: %d", len(pods.Items))
	}

	// Once the namespace allows privileged pods, the cause goes away.
	ns.Labels["pod-security.kubernetes.io/enforce"] = "privileged"
	if err := env.Client.Update(ctx, ns); err != nil {
		t.Fatal(err)
	}
	waitReady(t, cluster)
}

// TestWatchMappingListErrors checks that a watch event whose mapping cannot
// list the CephClusters still requeues the clusters it may concern, instead
// of being dropped. The List error is injected: the API server's cache
// does not fail on demand.
func TestWatchMappingListErrors(t *testing.T) {
	ctx := context.Background()
	direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	failing := interceptor.NewClient(direct, interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("injected: cache not synced")
		},
	})
	a := types.NamespacedName{Namespace: "ns-x", Name: "a"}
	b := types.NamespacedName{Namespace: "ns-x", Name: "b"}
	other := types.NamespacedName{Namespace: "ns-y", Name: "c"}
	for _, k := range []types.NamespacedName{a, b, other} {
		controllers.RememberCluster(k)
		t.Cleanup(func() { controllers.ForgetCluster(k) })
	}
	got := map[types.NamespacedName]bool{}
	for _, r := range controllers.ListClusterRequests(ctx, failing) {
		got[r.NamespacedName] = true
	}
	for _, k := range []types.NamespacedName{a, b, other} {
		if !got[k] {
			t.Errorf("a Node event with a failing List did not requeue cluster %s: %v", k, got)
		}
	}

	sib := controllers.Siblings(ctx, failing, &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-x", Name: "a"}})
	if len(sib) != 1 || sib[0].NamespacedName != b {
		t.Errorf("siblings of ns-x/a with a failing List = %v, want [ns-x/b]", sib)
	}
}

// TestLongestClusterName creates a cluster whose name has the longest length
// admission accepts and checks that every kind of object the operator
// derives from it is created.
func TestLongestClusterName(t *testing.T) {
	ctx := context.Background()
	ns, w := oneNodeWorld(t, "longname")
	w.Pause(true)
	name := strings.Repeat("c", cephv1alpha1.MaxClusterNameLength-len("-end")) + "-end"
	cluster := newCluster(ns, name)
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatalf("a %d-character name: %v", len(name), err)
	}
	// The prepare Job exists while the world holds it back.
	var jobName string
	testenv.Eventually(t, wait, func() error {
		var jobs batchv1.JobList
		if err := env.Client.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(jobs.Items) == 0 {
			return errors.New("no prepare Job yet")
		}
		jobName = jobs.Items[0].Name
		return nil
	})
	if len(jobName) > 63 {
		t.Errorf("prepare Job name %s has %d characters", jobName, len(jobName))
	}
	w.Pause(false)
	waitReady(t, cluster)

	sel := client.MatchingLabels(resources.ClusterSelector(cluster))
	lists := map[string]client.ObjectList{
		"Secret": &corev1.SecretList{}, "ConfigMap": &corev1.ConfigMapList{}, "ServiceAccount": &corev1.ServiceAccountList{},
		"Role": &rbacv1.RoleList{}, "RoleBinding": &rbacv1.RoleBindingList{}, "DaemonSet": &appsv1.DaemonSetList{},
		"Deployment": &appsv1.DeploymentList{}, "DiskInventory": &cephv1alpha1.DiskInventoryList{},
	}
	for kind, list := range lists {
		if err := env.Client.List(ctx, list, client.InNamespace(ns), sel); err != nil {
			t.Fatal(err)
		}
		if meta.LenList(list) == 0 {
			t.Errorf("no %s was created for the cluster %s", kind, name)
		}
	}
	deps := lists["Deployment"].(*appsv1.DeploymentList)
	var components []string
	for _, d := range deps.Items {
		components = append(components, d.Labels[resources.ComponentLabel])
	}
	for _, want := range []string{resources.ComponentMon, resources.ComponentMgr, resources.ComponentOSD} {
		if !strings.Contains(strings.Join(components, ","), want) {
			t.Errorf("no %s Deployment among %v", want, components)
		}
	}
}

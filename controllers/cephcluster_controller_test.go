package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/controllers"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// wait bounds how long a test waits for the operator to converge. It is a
// liveness bound, not a performance claim: on a loaded 2-core machine a
// crash-and-restart scenario took longer than 20 seconds to converge, and a
// test that passes never waits for the bound.
const wait = 60 * time.Second

// env is the API server shared by the tests of this package; each test uses
// its own namespace.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.SetupLogging()
	olm, err := testenv.OLMOperatorConditionCRD()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if env, err = testenv.New(olm); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// startManager runs the operator's manager against env until the returned
// stop function is called; stop waits for it to finish.
func startManager(t *testing.T) (stop func()) {
	t.Helper()
	return startManagerWith(t, func(*manager.Options) {})
}

// startManagerWith is startManager with options changed by edit.
func startManagerWith(t *testing.T, edit func(*manager.Options)) (stop func()) {
	t.Helper()
	opts := manager.DefaultOptions()
	opts.LeaderElect = false
	opts.MetricsAddr = "0"
	opts.ProbeAddr = "0"
	opts.SkipControllerNameValidation = true
	opts.OperatorImage = "ceph-operator:test"
	edit(&opts)
	mgr, err := manager.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager stopped with an error: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func newNamespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func newCluster(ns, name string) *cephv1alpha1.CephCluster {
	return &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:   "quay.io/ceph/ceph:v18.2.4",
			Mon:     cephv1alpha1.MonSpec{Count: 1},
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
}

// getCluster reads a CephCluster straight from the API server.
func getCluster(t *testing.T, c *cephv1alpha1.CephCluster) *cephv1alpha1.CephCluster {
	t.Helper()
	out := &cephv1alpha1.CephCluster{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(c), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// readyAt fails unless cluster is Ready for its current generation.
func readyAt(c *cephv1alpha1.CephCluster) error {
	if c.Status.ObservedGeneration != c.Generation {
		return fmt.Errorf("observedGeneration %d, generation %d", c.Status.ObservedGeneration, c.Generation)
	}
	ready := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != c.Generation {
		return fmt.Errorf("not Ready for generation %d: %+v", c.Generation, c.Status.Conditions)
	}
	return nil
}

func waitReady(t *testing.T, c *cephv1alpha1.CephCluster) *cephv1alpha1.CephCluster {
	t.Helper()
	var got *cephv1alpha1.CephCluster
	testenv.Eventually(t, wait, func() error {
		got = getCluster(t, c)
		return readyAt(got)
	})
	return got
}

// withNodes creates Ready Nodes with an InternalIP for the test and deletes
// them when it ends. The addresses are loopback ones: data, never dialled.
func withNodes(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		node, err := world.CreateNode(context.Background(), env.Client, n, world.NodeIP(int(nodeIPs.Add(1))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })
	}
}

// nodeIPs numbers the Nodes' addresses.
var nodeIPs atomic.Int64

// oneNodeWorld starts the manager and gives the test a namespace name with
// one Node, name-1, whose agent the test plays.
func oneNodeWorld(t *testing.T, name string) (string, *world.World) {
	t.Helper()
	startManager(t)
	ns := newNamespace(t, name)
	withNodes(t, name+"-1")
	return ns, playAgent(t, ns, name+"-1")
}

// playAgent plays the node agents and prepare Jobs of the given nodes, each
// with one available disk, one partitioned disk and one existing OSD.
func playAgent(t *testing.T, ns string, nodes ...string) *world.World {
	t.Helper()
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	for _, n := range nodes {
		w.AddNode(n, "available", "partitioned", "osd")
	}
	return w
}

func getSecret(t *testing.T, c *cephv1alpha1.CephCluster) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	key := client.ObjectKey{Namespace: c.Namespace, Name: resources.IdentitySecretName(c)}
	if err := env.Client.Get(context.Background(), key, s); err != nil {
		t.Fatalf("reading identity Secret: %v", err)
	}
	return s
}

func TestClusterLifecycle(t *testing.T) {
	ctx := context.Background()
	stop := startManager(t)
	ns := newNamespace(t, "lifecycle")
	withNodes(t, "lifecycle-1", "lifecycle-2")
	playAgent(t, ns, "lifecycle-1", "lifecycle-2")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}

	got := waitReady(t, cluster)
	// Ready means both reconcilers confirmed this generation; the counts
	// they wrote are final.
	if got.Generation != 1 {
		t.Errorf("generation %d after the operator's first reconcile: it wrote to the spec", got.Generation)
	}
	if len(got.Finalizers) != 1 || got.Finalizers[0] != controllers.CleanupFinalizer {
		t.Errorf("finalizers = %v, want [%s]", got.Finalizers, controllers.CleanupFinalizer)
	}
	for typ, want := range map[string]metav1.ConditionStatus{
		cephv1alpha1.ConditionReady:       metav1.ConditionTrue,
		cephv1alpha1.ConditionConfigured:  metav1.ConditionTrue,
		cephv1alpha1.ConditionProgressing: metav1.ConditionFalse,
		cephv1alpha1.ConditionDegraded:    metav1.ConditionFalse,
	} {
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		if c == nil || c.Status != want || c.ObservedGeneration != got.Generation {
			t.Errorf("condition %s = %+v, want status %s at generation %d", typ, c, want, got.Generation)
		}
	}

	// Each node's available disk became an OSD next to the existing one.
	if got.Status.Nodes != 2 || got.Status.Disks.Discovered != 6 || got.Status.Disks.Available != 0 ||
		got.Status.Disks.OSDs != 4 || got.Status.Disks.Rejected != 2 || len(got.Status.NodeSummaries) != 2 ||
		got.Status.OSDs.Provisioned != 4 || got.Status.OSDs.Desired != 4 {
		t.Errorf("counts: nodes %d, disks %+v, osds %+v, summaries %+v", got.Status.Nodes, got.Status.Disks, got.Status.OSDs, got.Status.NodeSummaries)
	}
	if r := got.Status.Disks.RejectedByReason; len(r) != 1 || r[0].Reason != "HasPartitions" || r[0].Count != 2 {
		t.Errorf("rejectedByReason = %+v", r)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionDisksDiscovered); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("DisksDiscovered = %+v", c)
	}

	secret := getSecret(t, got)
	if secret.Immutable == nil || !*secret.Immutable {
		t.Error("identity Secret is not immutable")
	}
	for _, k := range []string{resources.SecretKeyFSID, resources.SecretKeyMonKeyring, resources.SecretKeyAdminKeyring,
		resources.SecretKeyBootstrapOSDKeyring, resources.SecretKeyMgrKeyring, resources.SecretKeyReporterKeyring, resources.SecretKeyMonInitialKeyring} {
		if len(secret.Data[k]) == 0 {
			t.Errorf("identity Secret lacks %q", k)
		}
	}
	if fsid := string(secret.Data[resources.SecretKeyFSID]); got.Status.FSID != fsid {
		t.Errorf("status.fsid %q != Secret's %q", got.Status.FSID, fsid)
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.ConfigMapName(got)}, cm); err != nil {
		t.Fatalf("reading ConfigMap: %v", err)
	}
	if want := "fsid = " + got.Status.FSID; !strings.Contains(cm.Data["ceph.conf"], want) {
		t.Errorf("ceph.conf lacks %q:\n%s", want, cm.Data["ceph.conf"])
	}
	for _, v := range cm.Data {
		if strings.Contains(v, "key =") || strings.Contains(v, "AQ") {
			t.Errorf("ConfigMap holds key material: %q", v)
		}
	}

	// One monitor (spec.mon.count 1) on the first node in name order, its
	// address in ceph.conf and in the status, and a manager.
	if len(got.Status.Monitors) != 1 || got.Status.Monitors[0].Name != "a" || !got.Status.Monitors[0].Ready {
		t.Fatalf("status.monitors = %+v, want one ready monitor a", got.Status.Monitors)
	}
	mon := got.Status.Monitors[0]
	if want := "mon_host = " + mon.Address; !strings.Contains(cm.Data["ceph.conf"], want) {
		t.Errorf("ceph.conf lacks %q:\n%s", want, cm.Data["ceph.conf"])
	}
	monDep := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.MonName(got, "a")}, monDep); err != nil {
		t.Fatalf("reading monitor Deployment: %v", err)
	}
	if !monDep.Spec.Template.Spec.HostNetwork || monDep.Annotations[resources.NodeAnnotation] != mon.Node {
		t.Errorf("monitor Deployment: hostNetwork %v, node %q, want host network on %q",
			monDep.Spec.Template.Spec.HostNetwork, monDep.Annotations[resources.NodeAnnotation], mon.Node)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.MgrName(got)}, &appsv1.Deployment{}); err != nil {
		t.Errorf("reading manager Deployment: %v", err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.ReporterName(got)}, &appsv1.Deployment{}); err != nil {
		t.Errorf("reading the reporter's Deployment: %v", err)
	}
	// A drain may take at most one monitor at a time.
	pdb := &policyv1.PodDisruptionBudget{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.MonPDBName(got)}, pdb); err != nil {
		t.Errorf("reading the monitors' PodDisruptionBudget: %v", err)
	} else if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.Selector == nil ||
		pdb.Spec.Selector.MatchLabels[resources.ComponentLabel] != resources.ComponentMon {
		t.Errorf("monitors' PodDisruptionBudget: %+v", pdb.Spec)
	}

	// The node pods' and the reporter's Roles let their pods be admitted
	// under OpenShift's privileged SCC; a plain API server stores the rule.
	for _, name := range []string{resources.AgentServiceAccountName(got), resources.ReporterName(got)} {
		role := &rbacv1.Role{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, role); err != nil {
			t.Fatalf("reading Role %s: %v", name, err)
		}
		if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return equality.Semantic.DeepEqual(r, resources.PrivilegedSCCRule())
		}) {
			t.Errorf("Role %s lacks the privileged SCC rule: %+v", name, role.Rules)
		}
	}
	if sa := monDep.Spec.Template.Spec.ServiceAccountName; sa != resources.AgentServiceAccountName(got) {
		t.Errorf("monitor Deployment runs as ServiceAccount %q, want the agent's", sa)
	}

	// A spec change is observed, and the identity is left as it was.
	updateCluster(t, got, func(c *cephv1alpha1.CephCluster) { c.Spec.Mon.Count = 5 })
	got = waitReady(t, getCluster(t, got))
	if again := getSecret(t, got); again.ResourceVersion != secret.ResourceVersion {
		t.Errorf("identity Secret was rewritten on a spec change (resourceVersion %s -> %s)", secret.ResourceVersion, again.ResourceVersion)
	}

	// An operator restart does not change the identity either.
	stop()
	startManager(t)
	got.Spec.Mon.Count = 3
	if err := env.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	got = waitReady(t, got)
	again := getSecret(t, got)
	if again.UID != secret.UID || again.ResourceVersion != secret.ResourceVersion || string(again.Data["fsid"]) != string(secret.Data["fsid"]) {
		t.Errorf("identity Secret changed across an operator restart")
	}

	// Everything the operator created exists before deletion.
	for _, obj := range []client.Object{
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.DiscoveryName(got)}},
		&cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lifecycle-2"}},
	} {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatalf("%T %s: %v", obj, obj.GetName(), err)
		}
	}

	// Deletion removes what the operator created, then the finalizer; the
	// identity Secret (kept state, see TestDeleteKeepsIdentity) and an
	// unrelated Secret in the namespace stay.
	unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "user-secret"}, StringData: map[string]string{"a": "b"}}
	if err := env.Client.Create(ctx, unrelated); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(got), &cephv1alpha1.CephCluster{})
		if err == nil {
			return errors.New("CephCluster still exists")
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("CephCluster still exists? %w", err)
		}
		return nil
	})
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), &corev1.Secret{}); err != nil {
		t.Errorf("identity Secret did not survive deletion with the default cleanup policy: %v", err)
	}
	owned := []client.Object{cm,
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.DiscoveryName(got)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.AgentServiceAccountName(got)}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.AgentServiceAccountName(got)}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.AgentServiceAccountName(got)}},
		&cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lifecycle-1"}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.MonPDBName(got)}},
	}
	for _, obj := range owned {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s survived cluster deletion (err=%v)", obj, obj.GetName(), err)
		}
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(unrelated), &corev1.Secret{}); err != nil {
		t.Errorf("unrelated Secret was touched by deletion: %v", err)
	}
}

func TestDuplicateCluster(t *testing.T) {
	ctx := context.Background()
	ns, _ := oneNodeWorld(t, "duplicate")
	first := newCluster(ns, "first")
	if err := env.Client.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitReady(t, first)
	// Creation timestamps have one-second resolution; make the second
	// cluster unambiguously younger.
	time.Sleep(1100 * time.Millisecond)

	second := newCluster(ns, "second")
	if err := env.Client.Create(ctx, second); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		got := getCluster(t, second)
		c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != cephv1alpha1.ReasonDuplicateCluster {
			return fmt.Errorf("Ready = %+v, want False/DuplicateCluster", c)
		}
		if !strings.Contains(c.Message, "first") {
			return fmt.Errorf("message %q does not name the owning cluster", c.Message)
		}
		return nil
	})
	got := getCluster(t, second)
	if len(got.Finalizers) != 0 {
		t.Errorf("duplicate got finalizers %v", got.Finalizers)
	}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.IdentitySecretName(second)}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("duplicate got an identity Secret (err=%v)", err)
	}

	// When the first cluster goes, the second one takes the namespace over.
	if err := env.Client.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	got = waitReady(t, second)
	if got.Status.FSID == "" {
		t.Error("second cluster has no FSID after taking over")
	}
}

func TestForeignSecretIsReportedNotOverwritten(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "foreign")
	cluster := newCluster(ns, "ceph")
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.IdentitySecretName(cluster)},
		StringData: map[string]string{"note": "made by hand"},
	}
	if err := env.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		got := getCluster(t, cluster)
		c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionDegraded)
		if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "not created by ceph-operator") {
			return fmt.Errorf("Degraded = %+v, want True naming the foreign Secret", c)
		}
		if r := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionFalse {
			return fmt.Errorf("Ready = %+v, want False", r)
		}
		return nil
	})
	after := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(foreign), after); err != nil {
		t.Fatal(err)
	}
	if string(after.Data["note"]) != "made by hand" || len(after.Data) != 1 {
		t.Errorf("foreign Secret was modified: %v", after.Data)
	}
}

// TestUnsupportedCephImage checks that an image whose Ceph release is too
// old runs nothing, says so, and that a supported image then proceeds.
func TestUnsupportedCephImage(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "old-image")
	startManager(t)
	withNodes(t, "old-1")
	w := playAgent(t, ns, "old-1")
	w.SetCephVersion("15.2.17")
	// The agents report the version before the cluster exists, as they
	// would on their first scan.
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		got := getCluster(t, cluster)
		c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "15.2.17 (octopus)") {
			return fmt.Errorf("CephVersionSupported = %+v; conditions %+v", c, got.Status.Conditions)
		}
		if r := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionReady); r == nil || r.Reason != "UnsupportedCephVersion" {
			return fmt.Errorf("Ready = %+v", r)
		}
		return nil
	})
	var deps appsv1.DeploymentList
	if err := env.Client.List(ctx, &deps, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var jobs batchv1.JobList
	if err := env.Client.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 0 || len(jobs.Items) != 0 {
		t.Errorf("%d Deployments and %d Jobs exist for an unsupported image, want none: %+v", len(deps.Items), len(jobs.Items), deps.Items)
	}

	w.SetCephVersion("16.2.15")
	got := waitReady(t, cluster)
	if c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("CephVersionSupported = %+v after the upgrade", c)
	}
}

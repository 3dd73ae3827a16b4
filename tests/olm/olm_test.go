// Package olm installs the operator through OLM itself on the real node of
// tests/framework/realnode, as users do: `operator-sdk run bundle`, a CatalogSource
// with an OperatorGroup and a Subscription, an upgrade through the catalog
// that honours the operator's Upgradeable condition, and `operator-sdk
// scorecard` with every suite. OLM (olm, catalog, packageserver), opm, the
// registry, CoreDNS and the helper utilities are built from pinned sources
// (make olm-tools) into local images; OLM is installed from its own
// quickstart manifests with only the image references changed. It is
// `make test-olm`, root only, and skipped unless CEPH_OPERATOR_OLM=1.
package olm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	operatorsv2 "github.com/operator-framework/api/pkg/operators/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

const (
	// namespace is the operator's namespace (the CSV's suggested one).
	namespace = "ceph-operator-system"
	// dataDir is the CephClusters' dataDirHostPath, a tmpfs for the test.
	dataDir = "/var/lib/ceph-operator-olmtest"
	// holdFinalizer keeps a CephCluster being deleted for as long as the
	// upgrade test needs (see TestOLM/Upgrade).
	holdFinalizer = "tests.cephoperator.io/hold"
	csvV1         = "ceph-operator.v0.1.0"
	csvV2         = "ceph-operator.v0.2.0"
)

// env is what every install path works with.
type env struct {
	cluster *realnode.Cluster
	c       client.Client
	p       paths
	// sdkEnv makes operator-sdk trust the node's registry.
	sdkEnv []string
	// devices are the loop devices the CephCluster of the upgrade and the
	// scorecard takes. The run bundle path attaches its own for its
	// lifetime: each cluster gets blank devices, not the OSDs of the one
	// before, and none is left Available for the scorecard's
	// osds-provisioned.
	devices []loopdev.Device
	cephImg string
}

func TestOLM(t *testing.T) {
	gate.Env(t, gate.OLM, "skipping: OLM on the real node runs with CEPH_OPERATOR_OLM=1 (make test-olm)")
	loopdev.RequireRoot(t, "mount")
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	total := time.Now()
	e := setup(t, ctx)
	t.Logf("FIGURE setup (node, images, registry, DNS, OLM): %.1fs", time.Since(total).Seconds())

	paths := []struct {
		name string
		fn   func(*testing.T, context.Context, *env)
	}{
		{"RunBundle", testRunBundle},
		{"Subscription", testSubscription},
		{"Upgrade", testUpgrade},
		{"Scorecard", testScorecard},
	}
	for _, p := range paths {
		start := time.Now()
		ok := t.Run(p.name, func(t *testing.T) { p.fn(t, ctx, e) })
		t.Logf("FIGURE %s: %.1fs (passed: %v)", p.name, time.Since(start).Seconds(), ok)
		if !ok && p.name == "Subscription" {
			// The upgrade and the scorecard need the installed operator.
			break
		}
	}
	t.Logf("FIGURE total: %.1fs", time.Since(total).Seconds())
}

func setup(t *testing.T, ctx context.Context) *env {
	work := filepath.Join(newPaths("").olm, "test")
	p := newPaths(work)
	cephImg := os.Getenv("CEPH_TEST_IMG")
	if cephImg == "" {
		cephImg = "localhost/ceph-operator/ceph-test:v16.2"
	}
	cephArchive := os.Getenv("CEPH_ARCHIVE")
	if cephArchive == "" {
		cephArchive = filepath.Join(p.images, "ceph-test-v16.2.tar")
	}
	for _, a := range []string{"ceph-operator.tar", "ceph-operator-bundle.tar", "ceph-operator-catalog.tar"} {
		if _, err := os.Stat(filepath.Join(p.images, a)); err != nil {
			t.Fatalf("%v: make test-olm builds it", err)
		}
	}
	if _, err := os.Stat(cephArchive); err != nil {
		t.Fatalf("%v: make test-olm builds it", err)
	}

	cluster := realnode.UpForTest(ctx, t)

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, cephv1alpha1.AddToScheme, apiextensionsv1.AddToScheme,
		operatorsv1alpha1.AddToScheme, operatorsv1.AddToScheme, operatorsv2.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cluster: cluster, c: c, p: p, cephImg: cephImg,
		sdkEnv: []string{"SSL_CERT_FILE=" + cluster.CAFile, "KUBECONFIG=" + cluster.Kubeconfig}}

	start := time.Now()
	archives, err := buildImages(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE images packed: %.1fs", time.Since(start).Seconds())

	// The registry first, from its imported image.
	start = time.Now()
	if err := cluster.ImportImage(ctx, archives[registryImage]); err != nil {
		t.Fatal(err)
	}
	m, err := registryManifest(cluster)
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(ctx, cluster, m); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 2*time.Minute, "the registry", func() error { return podReady(ctx, c, "kube-system", "node-registry") })
	pushes := [][3]string{
		{filepath.Join(p.images, "ceph-operator.tar"), "quay.io/ceph-operator/ceph-operator:" + operatorVersion, operatorImage},
		{filepath.Join(p.images, "ceph-operator-bundle.tar"), bundleImage, bundleImage},
		{filepath.Join(p.images, "ceph-operator-catalog.tar"), catalogImage, catalogImage},
	}
	for ref, a := range archives {
		if ref != registryImage {
			pushes = append(pushes, [3]string{a, ref, ref})
		}
	}
	for _, ps := range pushes {
		if err := push(ctx, cluster, ps[0], ps[1], ps[2]); err != nil {
			t.Fatal(err)
		}
	}
	// The Ceph image is large and only run by the kubelet: imported.
	if err := cluster.ImportImage(ctx, cephArchive); err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE registry up and %d images pushed: %.1fs", len(pushes), time.Since(start).Seconds())

	start = time.Now()
	if err := apply(ctx, cluster, corednsManifest()); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 3*time.Minute, "CoreDNS", func() error { return realnode.DeploymentAvailable(ctx, c, "kube-system", "coredns") })
	t.Logf("FIGURE CoreDNS available: %.1fs", time.Since(start).Seconds())

	start = time.Now()
	installOLM(t, ctx, e)
	t.Logf("FIGURE OLM installed (olm-operator, catalog-operator, packageserver Succeeded): %.1fs", time.Since(start).Seconds())

	mountTmpfs(t, dataDir)
	e.devices = makeDevices(t, "b")
	return e
}

// installOLM applies OLM's quickstart manifests with local images and waits
// for its operators and the packageserver CSV.
func installOLM(t *testing.T, ctx context.Context, e *env) {
	crds, olm, err := upstreamOLM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	olm, err = localOLM(olm)
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(ctx, e.cluster, crds); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(ctx, e.cluster, "", "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.p.work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.p.work, "olm.yaml"), []byte(olm), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := apply(ctx, e.cluster, olm); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"olm-operator", "catalog-operator"} {
		realnode.WaitFor(t, ctx, 5*time.Minute, d, func() error { return realnode.DeploymentAvailable(ctx, e.c, "olm", d) })
	}
	realnode.WaitFor(t, ctx, 5*time.Minute, "the packageserver CSV", func() error { return csvSucceeded(ctx, e.c, "olm", "packageserver") })
	realnode.WaitFor(t, ctx, 2*time.Minute, "the packagemanifests API", func() error {
		_, err := kubectl(ctx, e.cluster, "", "get", "packagemanifests", "-n", "olm")
		return err
	})
	// OLM resolves every Subscription against all catalogs its namespace
	// sees, the global ones in "olm" included; while one cannot be reached
	// resolution fails and its retries back off to many minutes. On a
	// production cluster the default catalog is served long before anyone
	// installs; here it is waited for.
	realnode.WaitFor(t, ctx, 3*time.Minute, "the default catalog", func() error {
		return catalogReady(ctx, e.c, "olm", "operatorhubio-catalog")
	})
}

// testRunBundle: `operator-sdk run bundle` with the local opm image as the
// index, the CSV Succeeded, the operator's pod running, a CephCluster
// reaching DisksDiscovered, and `operator-sdk cleanup` removing it all.
func testRunBundle(t *testing.T, ctx context.Context, e *env) {
	ensureNamespace(t, ctx, e)
	cleanedUp := false
	t.Cleanup(func() {
		// A failed run must not leave its OperatorGroup behind: OLM refuses
		// a namespace with two, and the Subscription path would fail for it.
		if cleanedUp {
			return
		}
		out, err := run(context.Background(), e.sdkEnv, filepath.Join(e.p.bin, "operator-sdk"), "cleanup", "ceph-operator",
			"--namespace", namespace, "--timeout", "4m", "--kubeconfig", e.cluster.Kubeconfig)
		t.Logf("operator-sdk cleanup after the failure (err %v):\n%s", err, out)
	})
	out, err := run(ctx, e.sdkEnv, filepath.Join(e.p.bin, "operator-sdk"), "run", "bundle", bundleImage,
		"--index-image", opmImage, "--decompression-image", opmImage,
		"--namespace", namespace, "--timeout", "8m", "--kubeconfig", e.cluster.Kubeconfig)
	t.Logf("operator-sdk run bundle:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, time.Minute, "the CSV", func() error { return csvSucceeded(ctx, e.c, namespace, csvV1) })
	realnode.WaitFor(t, ctx, 3*time.Minute, "the operator", func() error {
		return realnode.DeploymentAvailable(ctx, e.c, namespace, "ceph-operator-controller-manager")
	})
	devices := makeDevices(t, "a")
	cc := newCluster(e, "ceph-run-bundle", devices)
	applyClusterUntil(t, ctx, e, cc, cephv1alpha1.ConditionDisksDiscovered, devices)
	deleteCluster(t, ctx, e, cc)

	out, err = run(ctx, e.sdkEnv, filepath.Join(e.p.bin, "operator-sdk"), "cleanup", "ceph-operator",
		"--namespace", namespace, "--timeout", "4m", "--kubeconfig", e.cluster.Kubeconfig)
	t.Logf("operator-sdk cleanup:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	cleanedUp = true
	realnode.WaitFor(t, ctx, 3*time.Minute, "everything run bundle created to be gone", func() error { return installGone(ctx, e) })
}

// installGone checks that no trace of an install is left in the namespace
// and that the CRDs are gone.
func installGone(ctx context.Context, e *env) error {
	var left []string
	for _, l := range []struct {
		name string
		list client.ObjectList
	}{
		{"CSVs", &operatorsv1alpha1.ClusterServiceVersionList{}},
		{"Subscriptions", &operatorsv1alpha1.SubscriptionList{}},
		{"CatalogSources", &operatorsv1alpha1.CatalogSourceList{}},
		{"InstallPlans", &operatorsv1alpha1.InstallPlanList{}},
		{"OperatorGroups", &operatorsv1.OperatorGroupList{}},
		{"Deployments", &appsv1.DeploymentList{}},
		{"Pods", &corev1.PodList{}},
	} {
		if err := e.c.List(ctx, l.list, client.InNamespace(namespace)); err != nil {
			return err
		}
		if n := meta.LenList(l.list); n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, l.name))
		}
	}
	for _, crd := range []string{"cephclusters.ceph.cephoperator.io", "diskinventories.ceph.cephoperator.io"} {
		err := e.c.Get(ctx, client.ObjectKey{Name: crd}, &apiextensionsv1.CustomResourceDefinition{})
		if err == nil {
			left = append(left, "CRD "+crd)
		} else if !apierrors.IsNotFound(err) {
			return err
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left: %s", strings.Join(left, ", "))
	}
	return nil
}

// testSubscription installs the operator as OperatorHub would: a
// CatalogSource for the catalog image, an OperatorGroup for the namespace
// and a Subscription to the alpha channel.
func testSubscription(t *testing.T, ctx context.Context, e *env) {
	ensureNamespace(t, ctx, e)
	cs := &operatorsv1alpha1.CatalogSource{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph-operator", Namespace: "olm"},
		Spec: operatorsv1alpha1.CatalogSourceSpec{SourceType: operatorsv1alpha1.SourceTypeGrpc, Image: catalogImage,
			DisplayName: "ceph-operator", Publisher: "ceph-operator"},
	}
	og := &operatorsv1.OperatorGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph-operator", Namespace: namespace},
		Spec:       operatorsv1.OperatorGroupSpec{TargetNamespaces: []string{namespace}},
	}
	sub := &operatorsv1alpha1.Subscription{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph-operator", Namespace: namespace},
		Spec: &operatorsv1alpha1.SubscriptionSpec{Package: "ceph-operator", Channel: "alpha",
			CatalogSource: "ceph-operator", CatalogSourceNamespace: "olm", InstallPlanApproval: operatorsv1alpha1.ApprovalAutomatic},
	}
	// As on OperatorHub, the package is chosen once its catalog serves it.
	for _, o := range []client.Object{cs, og} {
		if err := e.c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	realnode.WaitFor(t, ctx, 3*time.Minute, "the catalog", func() error { return catalogReady(ctx, e.c, "olm", cs.Name) })
	if err := e.c.Create(ctx, sub); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 8*time.Minute, csvV1+" Succeeded", func() error {
		if err := csvSucceeded(ctx, e.c, namespace, csvV1); err != nil {
			return fmt.Errorf("%w; subscription: %s", err, subscriptionSummary(ctx, e.c))
		}
		return nil
	})
	realnode.WaitFor(t, ctx, 3*time.Minute, "the operator", func() error {
		return realnode.DeploymentAvailable(ctx, e.c, namespace, "ceph-operator-controller-manager")
	})
}

// testUpgrade publishes a second bundle that replaces the first and moves
// the Subscription to it while a CephCluster exists. The Upgradeable
// condition is held False by a real state the operator reports: a
// CephCluster being deleted. A second CephCluster in the namespace (a
// duplicate, which the operator leaves alone) is deleted while the test's
// own finalizer keeps it, as a slow cleanup would; OLM must keep the new CSV
// from replacing the old one until the finalizer goes.
func testUpgrade(t *testing.T, ctx context.Context, e *env) {
	cc := newCluster(e, "ceph", e.devices)
	applyClusterUntil(t, ctx, e, cc, cephv1alpha1.ConditionDisksDiscovered, e.devices)

	// The same spec: a duplicate is reported and never acted on.
	hold := newCluster(e, "upgrade-hold", e.devices)
	hold.Finalizers = []string{holdFinalizer}
	if err := e.c.Create(ctx, hold); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseHold(context.Background(), e, hold) })
	if err := e.c.Delete(ctx, hold); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 2*time.Minute, "Upgradeable=False", func() error {
		return upgradeableIs(ctx, e.c, csvV1, metav1.ConditionFalse)
	})

	start := time.Now()
	if err := publishV2(ctx, e); err != nil {
		t.Fatal(err)
	}
	cs := &operatorsv1alpha1.CatalogSource{}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: "olm", Name: "ceph-operator"}, cs); err != nil {
		t.Fatal(err)
	}
	cs.Spec.Image = catalogImageV2
	if err := e.c.Update(ctx, cs); err != nil {
		t.Fatal(err)
	}
	// OLM resolves the new version and creates its CSV, but holds it.
	realnode.WaitFor(t, ctx, 8*time.Minute, csvV2+" held back", func() error {
		csv := &operatorsv1alpha1.ClusterServiceVersion{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: csvV2}, csv); err != nil {
			return fmt.Errorf("%w; subscription: %s", err, subscriptionSummary(ctx, e.c))
		}
		if csv.Status.Phase == operatorsv1alpha1.CSVPhaseSucceeded {
			return fmt.Errorf("%s Succeeded while Upgradeable=False", csvV2)
		}
		if csv.Status.Reason != operatorsv1alpha1.CSVReasonOperatorConditionNotUpgradeable {
			return fmt.Errorf("%s is %s/%s: %s", csvV2, csv.Status.Phase, csv.Status.Reason, csv.Status.Message)
		}
		return nil
	})
	t.Logf("%s found after %.1fs and held back: the operator is not upgradeable", csvV2, time.Since(start).Seconds())
	// And it stays held for as long as the condition is False: the new CSV
	// stays Pending for that reason, and the old operator keeps running
	// (OLM marks the old CSV Replacing as soon as its successor exists).
	for range 15 {
		time.Sleep(2 * time.Second)
		csv := &operatorsv1alpha1.ClusterServiceVersion{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: csvV2}, csv); err != nil {
			t.Fatal(err)
		}
		if csv.Status.Phase != operatorsv1alpha1.CSVPhasePending || csv.Status.Reason != operatorsv1alpha1.CSVReasonOperatorConditionNotUpgradeable {
			t.Fatalf("%s is %s/%s while Upgradeable=False: %s", csvV2, csv.Status.Phase, csv.Status.Reason, csv.Status.Message)
		}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: csvV1}, &operatorsv1alpha1.ClusterServiceVersion{}); err != nil {
			t.Fatalf("%s while the upgrade is held: %v", csvV1, err)
		}
		if err := realnode.DeploymentAvailable(ctx, e.c, namespace, "ceph-operator-controller-manager"); err != nil {
			t.Fatalf("the operator while the upgrade is held: %v", err)
		}
	}

	released := time.Now()
	releaseHold(ctx, e, hold)
	realnode.WaitFor(t, ctx, 8*time.Minute, csvV2+" Succeeded", func() error { return csvSucceeded(ctx, e.c, namespace, csvV2) })
	realnode.WaitFor(t, ctx, 3*time.Minute, csvV1+" replaced", func() error {
		err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: csvV1}, &operatorsv1alpha1.ClusterServiceVersion{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("still there? %w", err)
		}
		return errors.New("still there")
	})
	t.Logf("upgrade done %.1fs after the hold was released", time.Since(released).Seconds())
	sub := &operatorsv1alpha1.Subscription{}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "ceph-operator"}, sub); err != nil {
		t.Fatal(err)
	}
	if sub.Status.InstalledCSV != csvV2 {
		t.Errorf("Subscription installed %q, want %s", sub.Status.InstalledCSV, csvV2)
	}
	realnode.WaitFor(t, ctx, 3*time.Minute, "the upgraded operator", func() error {
		return realnode.DeploymentAvailable(ctx, e.c, namespace, "ceph-operator-controller-manager")
	})
	// The cluster lived through the upgrade and the new operator serves it.
	realnode.WaitFor(t, ctx, 3*time.Minute, "the CephCluster under the new operator", func() error {
		return clusterCondition(ctx, e.c, cc, cephv1alpha1.ConditionDisksDiscovered)
	})
}

func releaseHold(ctx context.Context, e *env, hold *cephv1alpha1.CephCluster) {
	cur := &cephv1alpha1.CephCluster{}
	if err := e.c.Get(ctx, client.ObjectKeyFromObject(hold), cur); err != nil {
		return
	}
	patch := client.MergeFrom(cur.DeepCopy())
	var keep []string
	for _, f := range cur.Finalizers {
		if f != holdFinalizer {
			keep = append(keep, f)
		}
	}
	cur.Finalizers = keep
	_ = e.c.Patch(ctx, cur, patch)
}

// upgradeableIs checks the Upgradeable condition the operator reports in
// its OperatorCondition (named after the CSV).
func upgradeableIs(ctx context.Context, c client.Client, csv string, want metav1.ConditionStatus) error {
	oc := &operatorsv2.OperatorCondition{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: csv}, oc); err != nil {
		return err
	}
	cond := meta.FindStatusCondition(oc.Spec.Conditions, operatorsv2.Upgradeable)
	if cond == nil || cond.Status != want {
		return fmt.Errorf("Upgradeable is %+v, want %s", cond, want)
	}
	return nil
}

// testScorecard runs `operator-sdk scorecard` on the bundle against the
// installed operator with the bundle's configuration, images swapped for the
// local builds; every test must pass. The JSON output is kept.
func testScorecard(t *testing.T, ctx context.Context, e *env) {
	cfg, err := os.ReadFile(filepath.Join(e.p.root, "bundle", "tests", "scorecard", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer(
		"quay.io/operator-framework/scorecard-test:"+scorecardVersion, scorecardTestImage,
		"quay.io/ceph-operator/ceph-operator-scorecard-tests:"+operatorVersion, customTestsImage,
	).Replace(string(cfg))
	if strings.Contains(local, "quay.io/") {
		t.Fatalf("the scorecard configuration names an image not built here:\n%s", local)
	}
	cfgFile := filepath.Join(e.p.work, "scorecard-config.yaml")
	if err := os.WriteFile(cfgFile, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := apply(ctx, e.cluster, scorecardRBAC); err != nil {
		t.Fatal(err)
	}
	out, err := runStdout(ctx, e.sdkEnv, filepath.Join(e.p.bin, "operator-sdk"), "scorecard", filepath.Join(e.p.olm, "bundle"),
		"--config", cfgFile, "--namespace", namespace, "--service-account", "scorecard",
		"--untar-image", scorecardUntarImage, "--storage-image", opmImage,
		"--wait-time", "15m", "--output", "json", "--kubeconfig", e.cluster.Kubeconfig)
	artifact := filepath.Join(e.p.work, "scorecard.json")
	_ = os.WriteFile(artifact, []byte(out), 0o644)
	t.Logf("scorecard output kept in %s", artifact)
	if err != nil {
		t.Fatalf("operator-sdk scorecard: %v", err)
	}
	checkScorecard(t, out)
}

// scorecardRBAC is what the custom suite's tests do in the namespace.
const scorecardRBAC = `apiVersion: v1
kind: ServiceAccount
metadata: {name: scorecard, namespace: ceph-operator-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scorecard, namespace: ceph-operator-system}
rules:
- apiGroups: [ceph.cephoperator.io]
  resources: [cephclusters, diskinventories]
  verbs: [get, list, watch, create]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scorecard, namespace: ceph-operator-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scorecard}
subjects:
- {kind: ServiceAccount, name: scorecard, namespace: ceph-operator-system}
`

func ensureNamespace(t *testing.T, ctx context.Context, e *env) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}
	if err := e.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// newCluster is a CephCluster on the test's loop devices only, with the
// local Ceph image.
func newCluster(e *env, name string, devices []loopdev.Device) *cephv1alpha1.CephCluster {
	var names []string
	for _, d := range devices {
		names = append(names, d.Name)
	}
	return &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:           e.cephImg,
			DataDirHostPath: filepath.Join(dataDir, name),
			Mon:             cephv1alpha1.MonSpec{Count: 1},
			Storage: cephv1alpha1.StorageSpec{
				UseAllNodes: true, UseAllDevices: true, AllowLoopDevices: true,
				DeviceFilter: "^(" + strings.Join(names, "|") + ")$",
			},
		},
	}
}

func applyClusterUntil(t *testing.T, ctx context.Context, e *env, cc *cephv1alpha1.CephCluster, cond string, devices []loopdev.Device) {
	start := time.Now()
	if err := e.c.Create(ctx, cc.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 8*time.Minute, cc.Name+" "+cond, func() error { return clusterCondition(ctx, e.c, cc, cond) })
	t.Logf("CephCluster %s %s after %.1fs", cc.Name, cond, time.Since(start).Seconds())
	inv := &cephv1alpha1.DiskInventory{}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: e.cluster.Node}, inv); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range inv.Status.Disks {
		seen[d.Name] = true
		t.Logf("disk %s: %s %s", d.Name, d.Verdict.State, d.Verdict.Reason)
	}
	for _, d := range devices {
		if !seen[d.Name] {
			t.Errorf("loop device %s is not in the node's DiskInventory", d.Name)
		}
	}
}

func clusterCondition(ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, cond string) error {
	got := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
		return err
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, cond) {
		return fmt.Errorf("%s not True: %+v", cond, got.Status.Conditions)
	}
	return nil
}

func deleteCluster(t *testing.T, ctx context.Context, e *env, cc *cephv1alpha1.CephCluster) {
	if err := e.c.Delete(ctx, cc); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 5*time.Minute, "CephCluster "+cc.Name+" gone", func() error {
		err := e.c.Get(ctx, client.ObjectKeyFromObject(cc), &cephv1alpha1.CephCluster{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("still there? %w", err)
		}
		return errors.New("still there")
	})
}

// makeDevices attaches two blank loop devices above the 5 GiB minimum.
func makeDevices(t *testing.T, set string) []loopdev.Device {
	dir := t.TempDir()
	var out []loopdev.Device
	for i := range 2 {
		out = append(out, loopdev.Attach(t, loopdev.SparseFile(t, dir, fmt.Sprintf("olm-%s%d.img", set, i), 6*fixture.GiB), false))
	}
	return out
}

func mountTmpfs(t *testing.T, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	loopdev.Run(t, "mount", "-t", "tmpfs", "-o", "size=2g", "ceph-operator-olmtest", dir)
	t.Cleanup(func() {
		loopdev.Run(t, "umount", dir)
		_ = os.Remove(dir)
	})
}

func csvSucceeded(ctx context.Context, c client.Client, ns, name string) error {
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, csv); err != nil {
		return err
	}
	if csv.Status.Phase != operatorsv1alpha1.CSVPhaseSucceeded {
		return fmt.Errorf("CSV %s is %s/%s: %s", name, csv.Status.Phase, csv.Status.Reason, csv.Status.Message)
	}
	return nil
}

// catalogReady checks that OLM's connection to a catalog's registry is
// READY.
func catalogReady(ctx context.Context, c client.Client, ns, name string) error {
	cs := &operatorsv1alpha1.CatalogSource{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cs); err != nil {
		return err
	}
	if st := cs.Status.GRPCConnectionState; st == nil || st.LastObservedState != "READY" {
		return fmt.Errorf("CatalogSource %s/%s connection: %+v", ns, name, st)
	}
	return nil
}

func subscriptionSummary(ctx context.Context, c client.Client) string {
	sub := &operatorsv1alpha1.Subscription{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "ceph-operator"}, sub); err != nil {
		return err.Error()
	}
	var conds []string
	for _, x := range sub.Status.Conditions {
		conds = append(conds, fmt.Sprintf("%s=%s(%s)", x.Type, x.Status, x.Message))
	}
	return fmt.Sprintf("state %q current %q installed %q; %s", sub.Status.State, sub.Status.CurrentCSV, sub.Status.InstalledCSV, strings.Join(conds, "; "))
}

func podReady(ctx context.Context, c client.Client, ns, name string) error {
	p := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
		return err
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("pod %s: %s", name, realnode.PodSummary([]corev1.Pod{*p}))
}

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
)

// TestSeedScenario: three nodes with a mix of disks become OSDs; a fourth
// node joins and its disks become OSDs; a disk hot-added to a running node
// becomes an OSD. Then the cluster is deleted with the default cleanup
// policy: every object the operator made goes except the cluster's kept
// state (identity, monitor placement, bootstrap record), and no disk is
// written.
func TestSeedScenario(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	startOperator(t, "a")
	cluster := createCluster(t)
	h := newHarness(t, cluster.Status.FSID)
	addNodes(t, h, map[string][]string{
		"seed-1": simnode.DemoMix(0), "seed-2": simnode.DemoMix(1), "seed-3": simnode.DemoMix(2),
	})
	took := waitRunning(t, cluster, 6)
	logf("seed: 3 nodes, 16 disks -> 6 OSDs running in %s (%s since the operator started)", took.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond))

	// The operator runs with the CSV's permissions only, so RBAC let it
	// write the privileged-SCC rule into the node pods' Roles only because
	// the CSV grants it that rule too.
	for _, name := range []string{resources.AgentServiceAccountName(cluster), resources.ReporterName(cluster)} {
		role := &rbacv1.Role{}
		if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, role); err != nil {
			t.Fatalf("reading Role %s: %v", name, err)
		}
		if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return equality.Semantic.DeepEqual(r, resources.PrivilegedSCCRule())
		}) {
			t.Errorf("Role %s lacks the privileged SCC rule: %+v", name, role.Rules)
		}
	}

	addNodes(t, h, map[string][]string{"seed-4": {simnode.Blank, simnode.BlankSSD}})
	took = waitRunning(t, cluster, 8)
	logf("seed: a fourth node with 2 disks -> 8 OSDs running in %s", took.Round(10*time.Millisecond))

	name, err := h.HotPlug("seed-2", simnode.Blank)
	if err != nil {
		t.Fatal(err)
	}
	took = waitRunning(t, cluster, 9)
	logf("seed: disk %s hot-added to seed-2 -> 9 OSDs running in %s", name, took.Round(10*time.Millisecond))
	if twice := h.PreparedTwice(); len(twice) > 0 {
		t.Errorf("devices prepared twice: %s", join(twice))
	}

	// Deletion keeps the data: checksum every simulated device, delete,
	// and compare.
	before := deviceSums(t, h)
	deleteCluster(t, cluster)
	kept := map[string]bool{}
	optional := map[string]bool{}
	for _, k := range resources.KeptState(cluster) {
		kept[k.Name] = true
		optional[k.Name] = k.Optional
	}
	for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.DaemonSetList{}, &cephv1alpha1.DiskInventoryList{}, &corev1.SecretList{}, &corev1.ConfigMapList{}} {
		if err := cp.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels(map[string]string{resources.ManagedByLabel: resources.ManagedByValue})); err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, o := range mustItems(t, list) {
			obj := o.(client.Object)
			if !kept[obj.GetName()] {
				left = append(left, obj.GetName())
			}
			delete(kept, obj.GetName())
		}
		if len(left) != 0 {
			t.Errorf("%T: %d objects left after deletion: %v", list, len(left), left)
		}
	}
	// The cluster's identity, monitor placement and bootstrap record are
	// kept for a CephCluster created again (default cleanup policy).
	for name := range kept {
		if optional[name] {
			// Made only by something this scenario does not do (a
			// monitor failover).
			delete(kept, name)
		}
	}
	if len(kept) != 0 {
		t.Errorf("the cluster's kept state is gone: %v", kept)
	}
	after := deviceSums(t, h)
	for dev, sum := range before {
		if after[dev] != sum {
			t.Errorf("device %s changed during deletion", dev)
		}
	}
	logf("seed: cluster deleted; %d simulated devices unchanged", len(before))
	forgetCluster(t, cluster)
}

// TestLeaderFailover runs two operator processes, kills the leader with
// SIGKILL while it provisions, and checks that the other takes over and the
// cluster converges with no device prepared twice and one Deployment per OSD.
func TestLeaderFailover(t *testing.T) {
	ctx := context.Background()
	a := startOperator(t, "a")
	b := startOperator(t, "b")
	cluster := createCluster(t)
	leader, err := leaseHolder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cluster.Status.FSID)
	nodes := map[string][]string{}
	for i := 0; i < 6; i++ {
		nodes[fmt.Sprintf("failover-%d", i)] = []string{simnode.Blank, simnode.BlankSSD, simnode.Ext4}
	}
	addNodes(t, h, nodes)

	// Kill the leader as soon as provisioning is under way.
	waitFor(t, time.Minute, "provisioning under way", func() error {
		if st := got(t, cluster).Status.OSDs; st.Preparing == 0 && st.Provisioned == 0 {
			return fmt.Errorf("nothing preparing yet")
		}
		return nil
	})
	killed, survivor := a, b
	if b.leads() {
		killed, survivor = b, a
	}
	if !killed.leads() || survivor.leads() {
		t.Fatalf("cannot tell the leader: a leads %v, b leads %v", a.leads(), b.leads())
	}
	killed.stop(syscall.SIGKILL)
	killedAt := time.Now()
	logf("failover: killed the leader (operator %s, lease holder %q) with SIGKILL while provisioning", killed.name, leader)
	waitFor(t, time.Minute, "the other operator leads", func() error {
		if !survivor.leads() {
			return fmt.Errorf("operator %s has not acquired the lease", survivor.name)
		}
		return nil
	})
	logf("failover: operator %s leads %s after the kill (lease duration 6s)", survivor.name, time.Since(killedAt).Round(10*time.Millisecond))
	if now, _ := leaseHolder(ctx); now == leader {
		t.Errorf("lease still names the killed leader %q", leader)
	}
	waitRunning(t, cluster, 12)
	logf("failover: converged to 12 OSDs %s after the kill", time.Since(killedAt).Round(10*time.Millisecond))

	if twice := h.PreparedTwice(); len(twice) > 0 {
		t.Errorf("devices prepared twice: %s", join(twice))
	}
	var deps appsv1.DeploymentList
	if err := cp.Client.List(ctx, &deps, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil {
		t.Fatal(err)
	}
	byDevice := map[string]string{}
	for _, d := range deps.Items {
		dev := d.Annotations[resources.DeviceIDAnnotation]
		if other, dup := byDevice[dev]; dup {
			t.Errorf("device %s has two OSD Deployments: %s and %s", dev, other, d.Name)
		}
		byDevice[dev] = d.Name
	}
	if len(deps.Items) != 12 {
		t.Errorf("%d OSD Deployments, want 12", len(deps.Items))
	}
	deleteCluster(t, cluster)
	forgetCluster(t, cluster)
}

// leaseHolder returns the identity holding the operator's Lease.
func leaseHolder(ctx context.Context) (string, error) {
	lease := &coordinationv1.Lease{}
	if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: manager.LeaderElectionID}, lease); err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

// deviceSums hashes every simulated device file of the harness's nodes.
func deviceSums(t *testing.T, h *simnode.Harness) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(h.Dir, "*", "dev", "sd*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.New()
		// The first MiB holds every signature and label the fixtures write.
		if _, err := io.CopyN(sum, fh, 1<<20); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		_ = fh.Close()
		out[f] = hex.EncodeToString(sum.Sum(nil))
	}
	return out
}

func mustItems(t *testing.T, list client.ObjectList) []runtime.Object {
	t.Helper()
	items, err := meta.ExtractList(list)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestCustomScorecard runs the operator's custom scorecard tests (the binary
// the scorecard image runs) in their configured order against the control
// plane, with the operator running and simulated nodes with disks; each must
// print a passing TestStatus.
func TestCustomScorecard(t *testing.T) {
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "ceph-scorecard-tests")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ceph-scorecard-tests")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the scorecard tests: %v\n%s", err, out)
	}
	startOperator(t, "a")
	run := func(name string) (scapiv1alpha3.TestStatus, error) {
		cmd := exec.Command(bin, name)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+cp.Kubeconfig, "SCORECARD_NAMESPACE="+namespace,
			"SCORECARD_BUNDLE_DIR="+filepath.Join(testenv.RepoRoot(), "bundle"), "SCORECARD_TEST_TIMEOUT=2m")
		out, err := cmd.Output()
		var st scapiv1alpha3.TestStatus
		if err == nil {
			err = json.Unmarshal(out, &st)
		}
		return st, err
	}
	check := func(name string, st scapiv1alpha3.TestStatus, err error) {
		t.Helper()
		if err != nil || len(st.Results) != 1 || st.Results[0].State != scapiv1alpha3.PassState {
			t.Fatalf("%s: %+v, %v", name, st, err)
		}
		logf("scorecard: %s: %s (%s)", name, st.Results[0].State, st.Results[0].Log)
	}

	// The first test creates the example CephCluster and waits for Ready;
	// the simulated nodes join once its FSID exists, as agents would once
	// the discovery DaemonSet runs.
	type result struct {
		st  scapiv1alpha3.TestStatus
		err error
	}
	ready := make(chan result, 1)
	go func() { st, err := run("cephcluster-becomes-ready"); ready <- result{st, err} }()
	example := &cephv1alpha1.CephCluster{}
	waitFor(t, time.Minute, "the example CephCluster's FSID", func() error {
		var list cephv1alpha1.CephClusterList
		if err := cp.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return fmt.Errorf("no FSID yet: %w", err)
		}
		if len(list.Items) != 1 || list.Items[0].Status.FSID == "" {
			return errors.New("no FSID yet")
		}
		*example = list.Items[0]
		return nil
	})
	h := newHarness(t, example.Status.FSID)
	// Three nodes: the example asks for three monitors on distinct nodes.
	addNodes(t, h, map[string][]string{"scorecard-1": simnode.DemoMix(0), "scorecard-2": simnode.DemoMix(1), "scorecard-3": simnode.DemoMix(2)})
	r := <-ready
	check("cephcluster-becomes-ready", r.st, r.err)
	st, err := run("disks-discovered")
	check("disks-discovered", st, err)
	st, err = run("osds-provisioned")
	check("osds-provisioned", st, err)
	deleteCluster(t, example)
	forgetCluster(t, example)
}

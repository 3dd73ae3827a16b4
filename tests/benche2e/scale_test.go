package benche2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/benchtable"
	"github.com/ceph-operator/ceph-operator/tests/framework/controlplane"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/operatorproc"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
)

// namespace holds the operator, its CephCluster and everything it makes.
const namespace = "ceph-bench"

// harnessWorkers is how many Nodes the harness registers or labels at once.
const harnessWorkers = 8

// phaseTimeout bounds every wait; it is a guard against a hung run, not a
// target.
const phaseTimeout = 90 * time.Minute

// result holds the figures of one size.
type result struct {
	nodes, disks int
	// register is how long registering the Nodes (and writing their
	// fixture roots and starting their agents) took.
	register time.Duration
	// available runs from the last Node registered to the last OSD
	// Deployment available; ready to the CephCluster reporting Ready with
	// every OSD running.
	available, ready time.Duration
	provision        operatorproc.Requests
	provisionUsage   operatorproc.Usage
	// touch is the resync after an unrelated label on every Node: its
	// requests and the CPU time it cost.
	touch    operatorproc.Requests
	touchCPU time.Duration
	// restart is the resync of a restarted operator, which lists
	// everything again and reconciles it.
	restart      operatorproc.Requests
	restartUsage operatorproc.Usage
}

// TestScaleE2E provisions nodes×disks OSDs for each size in
// BENCH_E2E_NODES and prints the figures. It fails only on wrong results.
func TestScaleE2E(t *testing.T) {
	gate.Env(t, gate.BenchE2E, "scale run on a full control plane; run it with make bench-e2e")
	if !gate.Exists(filepath.Join(testenv.RepoRoot(), "bin", "kwok")) {
		t.Fatal("bin/kwok missing; run 'make e2e-assets' first")
	}
	testenv.SetupLogging()
	var sizes []int
	for _, s := range strings.Split(envOr("BENCH_E2E_NODES", "100,1000"), ",") {
		sizes = append(sizes, positive(t, "BENCH_E2E_NODES", strings.TrimSpace(s)))
	}
	disks := positive(t, "BENCH_E2E_DISKS", envOr("BENCH_E2E_DISKS", "12"))
	header := []string{"figure"}
	for _, n := range sizes {
		header = append(header, fmt.Sprintf("%d x %d", n, disks))
	}
	// Started now, so that it shows the load average before the run.
	tab := benchtable.New("make bench-e2e: nodes x disks on a full control plane (kwok nodes, simulated agents)", append(header, "target")...)
	var results []result
	for _, n := range sizes {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			results = append(results, runSize(t, n, disks))
		})
	}
	printTable(t, tab, results)
}

// runSize runs the whole scenario for one size on a new control plane.
func runSize(t *testing.T, nodes, disks int) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := result{nodes: nodes, disks: disks}
	osds := nodes * disks
	dir := runDir(t, nodes)
	logf("%d nodes x %d disks; logs in %s", nodes, disks, dir)

	bin, err := operatorproc.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := controlPlaneArgs(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cp, err := controlplane.Start(controlplane.Options{Dir: dir, Full: true, ExtraArgs: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	logf("control plane up in %s", secs(time.Since(start)))
	// The harness's own requests are not limited on the client side: the
	// figures are the operator's, and the harness should not hold it up.
	adminCfg := rest.CopyConfig(cp.Config)
	adminCfg.QPS, adminCfg.Burst = -1, 0
	admin, err := client.New(adminCfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	operatorKubeconfig, err := operatorproc.InstallRBAC(ctx, admin, cp.Kubeconfig, namespace, dir)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := operatorproc.InstallRequestCounter(ctx, admin, adminCfg, namespace)
	if err != nil {
		t.Fatal(err)
	}
	before, err := counter.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	op := startOperator(t, bin, operatorKubeconfig, filepath.Join(dir, "operator.log"))

	cluster := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ceph"},
		Spec: cephv1alpha1.CephClusterSpec{
			Image: "quay.io/ceph/ceph:v18.2.4",
			Storage: cephv1alpha1.StorageSpec{
				UseAllNodes: true, UseAllDevices: true,
				// Every node may prepare at once (the API allows up to
				// 1,000), as in tests/bench, so the figure is the
				// operator's and the control plane's, not a queue's.
				MaxNodesPreparing: int32(min(nodes, 1000)),
			},
		},
	}
	if err := admin.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	fsid := waitCluster(t, ctx, admin, op, "an FSID", func(c *cephv1alpha1.CephCluster) bool { return c.Status.FSID != "" }).Status.FSID

	watch, err := startWatch(ctx, adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	agentLog, err := os.Create(filepath.Join(dir, "agents.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = agentLog.Close() }()
	fleet, err := simnode.NewFleet(cp.Config, simnode.FleetOptions{Log: zap.New(zap.WriteTo(agentLog))})
	if err != nil {
		t.Fatal(err)
	}
	h := simnode.NewHarness(admin, simnode.AgentOptions{Namespace: namespace, FSID: fsid}, filepath.Join(dir, "nodes"))
	h.Fleet, h.Cache = fleet, watch
	harnessCtx, stopHarness := context.WithCancel(ctx)
	go h.Run(harnessCtx)
	defer func() { stopHarness(); h.Stop() }()

	kinds := make([]string, disks)
	for i := range kinds {
		kinds[i] = simnode.Blank
	}
	start = time.Now()
	if err := parallel(ctx, nodes, func(_ context.Context, i int) error {
		// The agent lives as long as the harness, not the errgroup.
		return h.AddNode(harnessCtx, nodeName(i), kinds)
	}); err != nil {
		t.Fatalf("registering nodes: %v", err)
	}
	registered := time.Now()
	res.register = registered.Sub(start)
	logf("registered %d Nodes and started their agents in %s", nodes, secs(res.register))

	waitAvailable(t, ctx, admin, watch, op, osds)
	res.available = time.Since(registered)
	logf("all %d OSD Deployments available %s after the last Node was registered", osds, secs(res.available))
	waitCluster(t, ctx, admin, op, fmt.Sprintf("Ready with %d OSDs running", osds), func(c *cephv1alpha1.CephCluster) bool {
		ready := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionReady)
		return ready != nil && ready.Status == metav1.ConditionTrue && c.Status.OSDs.Running == int32(osds) &&
			c.Status.ObservedGeneration == c.Generation
	})
	res.ready = time.Since(registered)
	if _, err := op.WaitIdle(ctx, nil, 3*time.Second, phaseTimeout); err != nil {
		t.Fatal(err)
	}
	checkResults(t, ctx, watch, h, osds)
	after, err := counter.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res.provision = after.Since(before)
	if res.provisionUsage, err = op.Usage(); err != nil {
		t.Fatal(err)
	}
	logf("CephCluster Ready %s after the last Node was registered; operator %s; requests %s",
		secs(res.ready), res.provisionUsage, byVerb(res.provision))

	// Resync 1: an unrelated label on every Node makes the reconcilers
	// run over everything with nothing to do. The harness writes nothing
	// but these labels meanwhile (its agents publish only changes).
	q0, err := op.Queues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u0, _ := op.Usage()
	before, _ = counter.Read(ctx)
	if err := parallel(ctx, nodes, func(ctx context.Context, i int) error {
		patch := []byte(`{"metadata":{"labels":{"bench.cephoperator.io/touched":"1"}}}`)
		return admin.Patch(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(i)}}, client.RawPatch("application/merge-patch+json", patch))
	}); err != nil {
		t.Fatalf("labelling Nodes: %v", err)
	}
	if _, err := op.WaitIdle(ctx, q0.Reconciles, 3*time.Second, phaseTimeout); err != nil {
		t.Fatal(err)
	}
	after, _ = counter.Read(ctx)
	u1, _ := op.Usage()
	res.touch, res.touchCPU = after.Since(before), u1.CPU-u0.CPU
	logf("resync after labelling every Node: %d writes (%s), leader election %s; requests %s; CPU %.1fs",
		idleWrites(res.touch).Total(), idleWrites(res.touch), electionWrites(res.touch), byVerb(res.touch), res.touchCPU.Seconds())

	// Resync 2: a restarted operator lists everything again and
	// reconciles it. Its predecessor releases the lease on the way out.
	op.Stop()
	if final, ok := op.FinalUsage(); ok {
		res.provisionUsage.PeakRSSBytes = max(res.provisionUsage.PeakRSSBytes, final.PeakRSSBytes)
	}
	before, _ = counter.Read(ctx)
	op2 := startOperator(t, bin, operatorKubeconfig, filepath.Join(dir, "operator-restarted.log"))
	if _, err := op2.WaitIdle(ctx, nil, 3*time.Second, phaseTimeout); err != nil {
		t.Fatal(err)
	}
	after, _ = counter.Read(ctx)
	res.restart = after.Since(before)
	res.restartUsage, _ = op2.Usage()
	logf("resync after a restart: %d writes (%s), leader election %s, dry runs %s; requests %s; restarted operator %s",
		idleWrites(res.restart).Total(), idleWrites(res.restart), electionWrites(res.restart), dryRunWrites(res.restart), byVerb(res.restart), res.restartUsage)
	op2.Stop()
	return res
}

// leaderElection are the resources only leader election writes, left out
// of the writes of an idle resync and counted on their own: the leader
// renews its Lease every few seconds whatever it has to do, and records a
// core/v1 Event when it becomes leader (the reconcilers record theirs with
// the events.k8s.io API).
var leaderElection = []string{"leases.coordination.k8s.io", "events"}

// dryRun are the resources the operator only ever writes with dryRun=All:
// the CSV lets it create pods for one purpose, the Pod Security check of
// its discovery pods (checkPodAdmission), which a restarted operator
// makes once per cluster. The flow-control metrics cannot tell a dry run
// from a write, so these are counted on their own.
var dryRun = []string{"pods"}

// idleWrites are the writes of a resync that are neither leader election's
// nor dry runs.
func idleWrites(r operatorproc.Requests) operatorproc.Requests {
	return r.Writes(append(slices.Clone(leaderElection), dryRun...)...)
}

// electionWrites are leader election's writes.
func electionWrites(r operatorproc.Requests) operatorproc.Requests {
	return r.Writes(dryRun...).Only(leaderElection...)
}

// dryRunWrites are the dry-run requests counted among the writes.
func dryRunWrites(r operatorproc.Requests) operatorproc.Requests {
	return r.Writes(leaderElection...).Only(dryRun...)
}

// controlPlaneArgs raises the limits of the controller-manager, the
// scheduler and kwok, whose defaults suit a handful of nodes: at 1,000
// nodes the control plane makes about 13,000 pods, 12,000 ReplicaSets and
// 1,000 Jobs run, and at the controller-manager's default 20 requests per
// second that alone would take most of an hour.
func controlPlaneArgs(dir string) (map[string][]string, error) {
	kwokConfig := filepath.Join(dir, "kwok-bench.yaml")
	raw := `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 16
  nodePlayStageParallelism: 16
`
	if err := os.WriteFile(kwokConfig, []byte(raw), 0o644); err != nil {
		return nil, fmt.Errorf("writing kwok configuration: %w", err)
	}
	return map[string][]string{
		"kube-controller-manager": {
			"--kube-api-qps=500", "--kube-api-burst=1000",
			"--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20",
			"--concurrent-job-syncs=20", "--concurrent-daemonset-syncs=5",
			// kwok renews no node leases and posts node status every
			// 10 to 20 minutes; a run longer than the default grace
			// would see its nodes tainted and their pods evicted.
			"--node-monitor-grace-period=3h", "--node-startup-grace-period=3h",
		},
		"kube-scheduler": {"--kube-api-qps=500", "--kube-api-burst=1000"},
		"kwok":           {"--config=" + kwokConfig},
	}, nil
}

// startOperator runs the operator as its ServiceAccount (kubeconfig), with
// leader election as deployed, and its metrics on loopback for WaitIdle.
// With operatorproc.ProfileEnv set it keeps, next to the log, the heap
// profile taken nearest the operator's peak RSS.
func startOperator(t *testing.T, bin, kubeconfig, logPath string) *operatorproc.Process {
	t.Helper()
	prof, flags, err := operatorproc.NewProfiler()
	if err != nil {
		t.Fatal(err)
	}
	op, err := operatorproc.Start(bin, append([]string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect",
		"--leader-election-namespace=" + namespace,
		"--watch-namespaces=" + namespace,
		"--health-probe-bind-address=0",
		"--image-pull-policy=Never",
	}, flags...), logPath, true)
	if err != nil {
		t.Fatal(err)
	}
	if prof != nil {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go prof.KeepPeakHeap(ctx, op, strings.TrimSuffix(logPath, ".log")+".heap-peak.pprof", 5*time.Second)
	}
	t.Cleanup(func() {
		op.Stop()
		if t.Failed() {
			t.Logf("operator log %s (last lines):\n%s", logPath, op.LogTail(30))
		}
	})
	return op
}

// startWatch starts an informer cache of the prepare Jobs (which the
// harness reads instead of listing them from the API server ten times a
// second) and of the OSD Deployments (to see them become available), without
// their pod templates.
func startWatch(ctx context.Context, cfg *rest.Config) (cache.Cache, error) {
	component := func(c string) labels.Selector {
		return labels.SelectorFromSet(labels.Set{resources.ComponentLabel: c})
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme:            testenv.Scheme(),
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform:  manager.DropPodTemplate,
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}:       {Label: component(resources.ComponentPrepare)},
			&appsv1.Deployment{}: {Label: component(resources.ComponentOSD)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the harness cache: %w", err)
	}
	for _, obj := range []client.Object{&batchv1.Job{}, &appsv1.Deployment{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the harness cache did not sync")
	}
	return c, nil
}

// waitAvailable waits until osds OSD Deployments are available, printing
// progress every 30 seconds.
func waitAvailable(t *testing.T, ctx context.Context, admin client.Client, watch cache.Cache, op *operatorproc.Process, osds int) {
	t.Helper()
	deadline := time.Now().Add(phaseTimeout)
	progress := time.Now()
	for {
		if exited, err := op.Exited(); exited {
			t.Fatalf("the operator exited: %v", err)
		}
		var list appsv1.DeploymentList
		if err := watch.List(ctx, &list); err != nil {
			t.Fatal(err)
		}
		available := 0
		for _, d := range list.Items {
			if d.Status.AvailableReplicas > 0 {
				available++
			}
		}
		if available >= osds {
			return
		}
		if time.Since(progress) >= 30*time.Second {
			progress = time.Now()
			var jobs batchv1.JobList
			_ = watch.List(ctx, &jobs)
			c := &cephv1alpha1.CephCluster{}
			_ = admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "ceph"}, c)
			logf("… %d disks discovered, %d prepare Jobs, %d OSD Deployments, %d available (cluster: %+v)",
				c.Status.Disks.Discovered, len(jobs.Items), len(list.Items), available, c.Status.OSDs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d OSD Deployments available after %s", available, osds, phaseTimeout)
		}
		time.Sleep(time.Second)
	}
}

// waitCluster polls the CephCluster until done holds and returns it.
func waitCluster(t *testing.T, ctx context.Context, c client.Client, op *operatorproc.Process, what string, done func(*cephv1alpha1.CephCluster) bool) *cephv1alpha1.CephCluster {
	t.Helper()
	deadline := time.Now().Add(phaseTimeout)
	for {
		if exited, err := op.Exited(); exited {
			t.Fatalf("waiting for %s: the operator exited: %v", what, err)
		}
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "ceph"}, got); err != nil {
			t.Fatal(err)
		}
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not done after %s: status %+v", what, phaseTimeout, got.Status.OSDs)
		}
		time.Sleep(time.Second)
	}
}

// checkResults fails on wrong results: a disk prepared twice, an OSD id on
// two Deployments, or not one Deployment per disk.
func checkResults(t *testing.T, ctx context.Context, watch cache.Cache, h *simnode.Harness, osds int) {
	t.Helper()
	if twice := h.PreparedTwice(); len(twice) > 0 {
		t.Errorf("%d devices prepared twice, e.g. %s", len(twice), twice[0])
	}
	var list appsv1.DeploymentList
	if err := watch.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, d := range list.Items {
		id := d.Labels[resources.OSDIDLabel]
		if other, dup := ids[id]; dup {
			t.Errorf("OSD id %s on Deployments %s and %s", id, other, d.Name)
		}
		ids[id] = d.Name
	}
	if len(list.Items) != osds {
		t.Errorf("%d OSD Deployments, want %d", len(list.Items), osds)
	}
}

// printTable prints the figures of every size side by side, and writes
// them to bin/bench/scale-e2e-<sizes>.txt.
func printTable(t *testing.T, tab *benchtable.Table, results []result) {
	if len(results) == 0 {
		return
	}
	var sizes []string
	for _, r := range results {
		sizes = append(sizes, strconv.Itoa(r.nodes))
	}
	add := func(name, target string, cell func(r result) string) {
		row := []string{name}
		for _, r := range results {
			row = append(row, cell(r))
		}
		tab.Row(append(row, target)...)
	}
	add("register Nodes, start agents", "", func(r result) string { return secs(r.register) })
	add("registered -> all OSDs available", "", func(r result) string { return secs(r.available) })
	add("registered -> CephCluster Ready", "", func(r result) string { return secs(r.ready) })
	for _, v := range operatorproc.Verbs {
		add("operator requests: "+v, "", func(r result) string { return strconv.Itoa(r.provision.ByVerb()[v]) })
	}
	add("operator requests: non-resource", "", func(r result) string { return strconv.Itoa(r.provision.ByVerb()["*"]) })
	add("operator peak RSS", "< 250 MB", func(r result) string { return mb(r.provisionUsage.PeakRSSBytes) })
	add("operator CPU", "", func(r result) string { return secs(r.provisionUsage.CPU) })
	add("resync, Nodes labelled: writes", "0", func(r result) string { return strconv.Itoa(idleWrites(r.touch).Total()) })
	add("  + leader election writes", "", func(r result) string { return strconv.Itoa(electionWrites(r.touch).Total()) })
	add("  + dry-run pod creates (Pod Security check)", "", func(r result) string { return strconv.Itoa(dryRunWrites(r.touch).Total()) })
	add("resync, Nodes labelled: requests", "", func(r result) string { return byVerb(r.touch) })
	add("resync, Nodes labelled: CPU", "", func(r result) string { return secs(r.touchCPU) })
	add("resync, restart: writes", "0", func(r result) string { return strconv.Itoa(idleWrites(r.restart).Total()) })
	add("  + leader election writes", "", func(r result) string { return strconv.Itoa(electionWrites(r.restart).Total()) })
	add("  + dry-run pod creates (Pod Security check)", "", func(r result) string { return strconv.Itoa(dryRunWrites(r.restart).Total()) })
	add("resync, restart: requests", "", func(r result) string { return byVerb(r.restart) })
	add("resync, restart: peak RSS", "", func(r result) string { return mb(r.restartUsage.PeakRSSBytes) })
	add("resync, restart: CPU", "", func(r result) string { return secs(r.restartUsage.CPU) })
	tab.Note("requests are the operator's own, from the API server's flow-control metrics; resync writes leave out leader election's Lease renewals and Event and the Pod Security check's dry-run pod create, counted on the next lines")
	tab.Note("no plain-client column: here the time to available includes the scheduler, kwok and the agents, which a plain client's writes do not; make bench measures the ratio")
	path, err := tab.Save("scale-e2e-" + strings.Join(sizes, "-"))
	if err != nil {
		t.Errorf("writing the figures: %v", err)
		return
	}
	logf("figures written to %s", path)
}

// byVerb lists the requests per verb, the non-resource ones as "other".
func byVerb(r operatorproc.Requests) string {
	counts := r.ByVerb()
	var parts []string
	for _, v := range append(append([]string{}, operatorproc.Verbs...), "*") {
		if n := counts[v]; n > 0 {
			if v == "*" {
				v = "non-resource"
			}
			parts = append(parts, fmt.Sprintf("%s %d", v, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// parallel runs do(0..n-1) on harnessWorkers goroutines and returns the
// first error.
func parallel(ctx context.Context, n int, do func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(harnessWorkers)
	for i := range n {
		g.Go(func() error { return do(ctx, i) })
	}
	return g.Wait()
}

// runDir is where a size's logs go: BENCH_E2E_DIR/<nodes> when set (kept),
// a temporary directory otherwise.
func runDir(t *testing.T, nodes int) string {
	t.Helper()
	base := os.Getenv("BENCH_E2E_DIR")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, strconv.Itoa(nodes))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func nodeName(i int) string { return fmt.Sprintf("bench-%04d", i) }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func positive(t *testing.T, key, v string) int {
	t.Helper()
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want positive integers", key, v)
	}
	return n
}

func logf(format string, args ...any) {
	fmt.Printf("bench-e2e: "+format+"\n", args...)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

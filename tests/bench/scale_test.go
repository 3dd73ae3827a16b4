package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/benchtable"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// Namespaces of the operator's cluster and of the plain-client baseline.
const (
	operatorNS = "bench-op"
	plainNS    = "bench-plain"
)

// harnessWorkers is how many writers the harness uses to play many agents
// or Jobs at once.
const harnessWorkers = 8

// phaseTimeout bounds every wait of the benchmark.
const phaseTimeout = 30 * time.Minute

// TestScale provisions nodes×disks OSDs through the operator and prints how
// long it took, compared with a plain client making the same writes, how
// many API writes an idle resync makes, and the operator's peak RSS and CPU
// time. It fails only on wrong results.
func TestScale(t *testing.T) {
	gate.Env(t, gate.Bench, "scale benchmark; run it with CEPH_OPERATOR_BENCH=1 go test ./tests/bench -run TestScale -v -timeout 60m (or make bench)")
	runBench(t, envInt(t, "CEPH_OPERATOR_BENCH_NODES", 1000), envInt(t, "CEPH_OPERATOR_BENCH_DISKS", 12))
}

// TestBenchSmall runs the whole benchmark at 10 nodes × 12 disks, so that
// `make test` notices when it no longer runs to the end. Its figures are
// printed like TestScale's and never checked: it fails only on wrong
// results or when a phase does not finish.
func TestBenchSmall(t *testing.T) {
	testenv.SkipShort(t)
	runBench(t, 10, 12)
}

// runBench is the benchmark at nodeCount nodes × diskCount disks.
func runBench(t *testing.T, nodeCount, diskCount int) {
	osdCount := nodeCount * diskCount
	dir := os.Getenv("CEPH_OPERATOR_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.SetupLogging()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &report{t: t}
	tab := benchtable.New(fmt.Sprintf("make bench: %d nodes x %d disks, operator and plain client on one test API server", nodeCount, diskCount),
		"figure", "operator", "plain client", "ratio", "target")
	r.printf("%d nodes x %d disks; logs in %s", nodeCount, diskCount, dir)

	bin := buildOperator(t, dir)
	api := startAPIServer(t, dir)
	c, err := client.New(api.config, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{operatorNS, plainNS} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	cluster := benchCluster(operatorNS, nodeCount)
	f := world.New(c, operatorNS)
	f.SetCephVersion(simnode.CephVersionOf(cluster.Spec.Image))
	if err := f.StartScale(ctx, api.config, testenv.Scheme(), harnessWorkers); err != nil {
		t.Fatal(err)
	}
	nodes := make([]string, nodeCount)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%04d", i)
		f.AddNode(nodes[i], world.Kinds("available", diskCount)...)
	}
	// Ready Nodes with an InternalIP each, as the kubelet leaves them:
	// without them no monitor is placed and nothing is provisioned.
	start := time.Now()
	if err := world.Parallel(len(nodes), harnessWorkers, func(i int) error {
		_, err := world.CreateNode(ctx, c, nodes[i], world.NodeIP(i))
		return err
	}); err != nil {
		t.Fatalf("creating Nodes: %v", err)
	}
	r.printf("created %d Nodes in %s", nodeCount, secs(time.Since(start)))

	op := startOperator(t, bin, api.kubeconfig, operatorNS, filepath.Join(dir, "operator.log"))
	defer func() {
		if t.Failed() {
			t.Logf("operator log (last lines):\n%s", op.LogTail(40))
		}
	}()
	created := time.Now()
	if err := c.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}

	// Phase 1: the agents publish each inventory as soon as it exists; the
	// operator plans and creates one prepare Job per node.
	waitFor(t, api, op, f, "every inventory published and every prepare Job created", func(n world.Counts) bool {
		return n.Published == nodeCount && n.JobsSeen == nodeCount
	})
	n := f.Counts()
	jobsTime := n.LastJob.Sub(n.LastPublish)
	r.printf("inventories published: first %s, last %s after the CephCluster was created",
		secs(n.FirstPublish.Sub(created)), secs(n.LastPublish.Sub(created)))
	r.printf("prepare Jobs: %d created, the last %s after the CephCluster was created",
		n.JobsSeen, secs(n.LastJob.Sub(created)))
	checkJobs(t, ctx, c, nodes, diskCount)
	if _, err := op.WaitIdle(ctx, nil, 2*time.Second, phaseTimeout); err != nil {
		t.Fatal(err)
	}
	st, _ := op.Usage()
	cpu1 := st.CPU
	r.printf("operator after phase 1: %s", st)

	// Phase 2: every Job completes; the operator asks for rescans, the
	// agents report OSDs, and the operator creates their Deployments and
	// deletes the Jobs.
	start = time.Now()
	server0, serverErr := serverCPU()
	opStart, _ := op.Usage()
	completed, err := f.CompleteJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jobsDone := time.Now()
	r.printf("completed %d prepare Jobs in %s; %d OSD Deployments existed by then", completed, secs(jobsDone.Sub(start)), f.Counts().OSDsSeen)
	waitFor(t, api, op, f, "every OSD Deployment created", func(n world.Counts) bool { return n.OSDsSeen >= osdCount })
	server1, err := serverCPU()
	serverErr = errors.Join(serverErr, err)
	opEnd, _ := op.Usage()
	n = f.Counts()
	osdTime := n.LastOSD.Sub(jobsDone)
	osdTimeAll := n.LastOSD.Sub(start)
	waitFor(t, api, op, f, "every finished prepare Job deleted", func(n world.Counts) bool { return n.LiveJobs == 0 })
	converged := time.Now()
	if _, err := op.WaitIdle(ctx, nil, 2*time.Second, phaseTimeout); err != nil {
		t.Fatal(err)
	}
	if problems := f.CheckOSDs(); len(problems) > 0 {
		t.Fatalf("OSD Deployments do not match the OSDs:\n%s", strings.Join(problems, "\n"))
	}
	checkCluster(t, ctx, c, osdCount)
	r.printf("OSD Deployments: %d created %s after the last Job completed; Jobs all deleted after %s",
		n.OSDsSeen, secs(osdTime), secs(converged.Sub(jobsDone)))
	st, _ = op.Usage()
	cpu2 := st.CPU
	r.printf("operator after phase 2: %s (RSS now %.0f MB)", st, float64(st.RSSBytes)/(1<<20))
	if profiling() {
		if err := op.saveProfile(strings.TrimSuffix(op.LogPath, ".log")+".heap.pprof", "heap"); err != nil {
			t.Log(err)
		}
	}

	// Phase 4a: an unrelated label on every Node makes both reconcilers
	// run with nothing to do. The harness writes only Nodes, which are
	// left out of the count; leases are the API server's own heartbeats.
	f.Hold(true)
	harnessWrites := f.Writes()
	q0, err := op.Queues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := api.writes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := world.Parallel(len(nodes), harnessWorkers, func(i int) error {
		patch := []byte(`{"metadata":{"labels":{"bench.cephoperator.io/touched":"1"}}}`)
		return c.Patch(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodes[i]}}, client.RawPatch("application/merge-patch+json", patch))
	}); err != nil {
		t.Fatalf("labelling Nodes: %v", err)
	}
	idleAt, err := op.WaitIdle(ctx, q0.Reconciles, 3*time.Second, phaseTimeout)
	if err != nil {
		t.Fatal(err)
	}
	after, err := api.writes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q1, _ := op.Queues(ctx)
	touchWrites := after.since(before, "nodes", "leases")
	r.printf("resync after labelling every Node: %d operator writes (%s); %s reconciles; idle %s after the first label",
		touchWrites.total(), touchWrites, reconcileDelta(q0.Reconciles, q1.Reconciles), secs(idleAt.Sub(start)))
	st, _ = op.Usage()
	cpuTouch := st.CPU
	peak := st

	// Phase 4b: a restarted operator lists everything again and
	// reconciles it. The harness writes nothing meanwhile.
	op.Stop()
	if fs, ok := op.FinalUsage(); ok {
		peak = fs
	}
	before, err = api.writes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	op2 := startOperator(t, bin, api.kubeconfig, operatorNS, filepath.Join(dir, "operator-restarted.log"))
	idleAt, err = op2.WaitIdle(ctx, nil, 3*time.Second, phaseTimeout)
	if err != nil {
		t.Fatal(err)
	}
	after, err = api.writes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	restartWrites := after.since(before, "leases")
	if held := f.Writes() - harnessWrites; held != 0 {
		t.Errorf("the harness wrote %d times while it measured the operator's writes", held)
	}
	st2, _ := op2.Usage()
	r.printf("resync after a restart: %d writes (%s); idle %s after start; restarted operator %s",
		restartWrites.total(), restartWrites, secs(idleAt.Sub(start)), st2)
	op2.Stop()
	f.Hold(false)

	// Phase 3: a plain client writes the same objects with as many writes
	// in flight as the operator allows itself.
	plain, err := plainWrites(ctx, c, plainNS, nodes, diskCount)
	if err != nil {
		t.Fatal(err)
	}

	if problems := f.Failures(); len(problems) > 0 {
		t.Fatalf("wrong results:\n%s", strings.Join(problems, "\n"))
	}
	if lat, err := api.latencies(ctx, 50); err == nil {
		r.printf("API server time by request kind (whole run, harness and baseline included):")
		for _, l := range lat {
			r.printf("  %s", l)
		}
	}
	tab.Row("prepare Jobs: last inventory published -> last Job created", benchtable.Secs(jobsTime), benchtable.Secs(plain.jobs),
		benchtable.Ratio(jobsTime, plain.jobs), "<= 1.2")
	tab.Row("OSD Deployments: last Job completed -> last Deployment created", benchtable.Secs(osdTime), benchtable.Secs(plain.deployments),
		benchtable.Ratio(osdTime, plain.deployments), "<= 1.2")
	tab.Row("OSD Deployments: first Job completed -> last Deployment created", benchtable.Secs(osdTimeAll), benchtable.Secs(plain.deployments),
		benchtable.Ratio(osdTimeAll, plain.deployments), "")
	if serverErr == nil {
		cores := func(cpu, wall time.Duration) string {
			return fmt.Sprintf("%s (%.2f cores)", benchtable.Secs(cpu), cpu.Seconds()/wall.Seconds())
		}
		tab.Row("API server + etcd CPU: first Job completed -> last Deployment", cores(server1-server0, osdTimeAll), cores(plain.deploymentsServerCPU, plain.deployments), "", "")
		tab.Row("operator CPU: first Job completed -> last Deployment", cores(opEnd.CPU-opStart.CPU, osdTimeAll), "", "", "")
	} else {
		r.printf("API server CPU not measured: %v", serverErr)
	}
	tab.Row("API writes on an idle resync: every Node labelled", strconv.Itoa(touchWrites.total()), "", "", "0")
	tab.Row("API writes on an idle resync: operator restarted", strconv.Itoa(restartWrites.total()), "", "", "0")
	tab.Row("operator peak RSS (whole run)", benchtable.MB(peak.PeakRSSBytes), "", "", "< 250 MB")
	tab.Row("operator CPU: phase 1 (inventories -> Jobs)", benchtable.Secs(cpu1), "", "", "")
	tab.Row("operator CPU: phase 2 (Jobs done -> Deployments, Jobs deleted)", benchtable.Secs(cpu2-cpu1), "", "", "")
	tab.Row("operator CPU: resync after every Node labelled", benchtable.Secs(cpuTouch-cpu2), "", "", "")
	tab.Row("operator CPU: whole run", benchtable.Secs(peak.CPU), "", "", "")
	tab.Row("restarted operator: peak RSS, CPU to idle", benchtable.MB(st2.PeakRSSBytes)+", "+benchtable.Secs(st2.CPU), "", "", "")
	tab.Note("idle resync writes, Nodes labelled: %s", touchWrites)
	tab.Note("idle resync writes, restart: %s", restartWrites)
	tab.Note("the plain client keeps as many writes in flight as the operator (apply.Parallelism) and builds the same objects")
	if path, err := tab.Save(fmt.Sprintf("scale-%dx%d", nodeCount, diskCount)); err != nil {
		t.Logf("writing the figures: %v", err)
	} else {
		r.printf("figures written to %s", path)
	}
}

// checkJobs reads the prepare Jobs from the API server: one per node, each
// with all its disks.
func checkJobs(t *testing.T, ctx context.Context, c client.Client, nodes []string, disks int) {
	t.Helper()
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(batchv1.SchemeGroupVersion.WithKind("JobList"))
	if err := c.List(ctx, &list, client.InNamespace(operatorNS)); err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, j := range list.Items {
		perNode[j.Annotations[resources.NodeAnnotation]]++
		if got := strings.Count(j.Annotations[resources.DevicesAnnotation], `"id"`); got != disks {
			t.Errorf("prepare Job %s lists %d devices, want %d", j.Name, got, disks)
		}
	}
	if len(list.Items) != len(nodes) {
		t.Errorf("%d prepare Jobs, want %d", len(list.Items), len(nodes))
	}
	for _, n := range nodes {
		if perNode[n] != 1 {
			t.Errorf("node %s has %d prepare Jobs, want 1", n, perNode[n])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// checkCluster reads the CephCluster: every OSD provisioned.
func checkCluster(t *testing.T, ctx context.Context, c client.Client, osds int) {
	t.Helper()
	testenv.Eventually(t, time.Minute, func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: "ceph"}, got); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionOSDsProvisioned)
		if cond == nil || cond.Status != metav1.ConditionTrue || got.Status.OSDs.Provisioned != int32(osds) {
			return fmt.Errorf("OSDsProvisioned %+v, counts %+v; want True with %d provisioned", cond, got.Status.OSDs, osds)
		}
		return nil
	})
}

// waitFor polls the fleet's observations until done, failing at once on a
// wrong result or when the operator exits.
func waitFor(t *testing.T, api *apiServer, op *operator, f *world.World, what string, done func(world.Counts) bool) {
	t.Helper()
	deadline := time.Now().Add(phaseTimeout)
	progress := time.Now()
	for {
		if time.Since(progress) > 30*time.Second {
			progress = time.Now()
			if err := api.ready(); err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			n := f.Counts()
			fmt.Printf("bench: … waiting for %s: %d inventories published, %d Jobs seen (%d left), %d OSD Deployments\n",
				what, n.Published, n.JobsSeen, n.LiveJobs, n.OSDsSeen)
		}
		if problems := f.Failures(); len(problems) > 0 {
			t.Fatalf("waiting for %s: wrong results:\n%s", what, strings.Join(problems, "\n"))
		}
		if exited, err := op.Exited(); exited {
			t.Fatalf("waiting for %s: the operator exited: %v", what, err)
		}
		n := f.Counts()
		if done(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not done after %s: %+v", what, phaseTimeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// report prints the benchmark's figures as "bench: …" lines.
type report struct{ t *testing.T }

func (r *report) printf(format string, args ...any) {
	fmt.Printf("bench: "+format+"\n", args...)
}

func envInt(t *testing.T, key string, def int) int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", key, v)
	}
	return n
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func reconcileDelta(before, after map[string]float64) string {
	var parts []string
	for _, name := range []string{"cephcluster", "osd"} {
		parts = append(parts, fmt.Sprintf("%s %d", name, int(after[name]-before[name])))
	}
	return strings.Join(parts, ", ")
}

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/controlplane"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/operatorproc"
	"github.com/ceph-operator/ceph-operator/tests/framework/simnode"
)

// namespace holds the operator, its CephCluster and everything it makes (the
// namespace the bundle's RBAC is written for).
const namespace = "ceph-operator-system"

// Leader election of the replicas: short, so that forty takeovers fit the
// test's budget, and still well above a loaded machine's pauses. A leader
// that misses its renew deadline anyway exits and is replaced; the table
// counts such exits.
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

// Guards against a hung run, not targets: times are printed, never
// asserted.
const (
	takeoverTimeout    = time.Minute
	convergenceTimeout = 3 * time.Minute
	// deposedExitTimeout bounds how long a thawed leader may take to notice
	// it lost the Lease and exit.
	deposedExitTimeout = 30 * time.Second
)

// initialNodes join before the first disruption; the others join one per
// disruption.
const initialNodes = 10

// settings are the run's size and seed.
type settings struct {
	seed                  uint64
	nodes, kills, freezes int
}

func readSettings(t *testing.T) settings {
	s := settings{seed: uint64(time.Now().UnixNano()), nodes: 50, kills: 20, freezes: 20}
	for _, v := range []struct {
		env string
		dst *int
	}{{"CHAOS_NODES", &s.nodes}, {"CHAOS_KILLS", &s.kills}, {"CHAOS_FREEZES", &s.freezes}} {
		if raw := os.Getenv(v.env); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a count", v.env, raw)
			}
			*v.dst = n
		}
	}
	if raw := os.Getenv("CHAOS_SEED"); raw != "" {
		seed, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: want an unsigned integer", raw)
		}
		s.seed = seed
	}
	if s.nodes < initialNodes {
		t.Fatalf("CHAOS_NODES=%d: want at least %d", s.nodes, initialNodes)
	}
	return s
}

// disruption is one kill or freeze of the leader and what followed.
type disruption struct {
	n    int
	kind string
	// at is when it happened, from the start of the test's watches;
	// delay is the random wait after the wave of work before it.
	at, delay time.Duration
	// nodes and osds are the simulated nodes and the blank disks so far.
	nodes, osds int
	// jobs and jobDisks are the prepare Jobs present when it happened and
	// the disks they cover; missing are the blank disks without an OSD
	// Deployment then.
	jobs, jobDisks, missing int
	leader, successor       string
	// takeover is how long until another replica logged that it acquired
	// the Lease; converged until every blank disk had its OSD Deployment
	// and OSDsProvisioned was True.
	takeover, converged time.Duration
	// Freezes only: how long the leader was frozen, how long after the
	// thaw it exited (negative: it did not), and how many prepare Jobs it
	// logged creating after the thaw.
	frozen, exitAfterThaw time.Duration
	deposedJobs           int
	// deposedLines counts the reconcilers' log lines after the thaw: work
	// the deposed leader did before it noticed.
	deposedLines int
	// leaseCleared is set when, once the thawed leader exited, the Lease no
	// longer named the replica that had taken it over: releasing the Lease
	// on the way out, the deposed leader emptied its successor's.
	leaseCleared bool
}

func TestLeaderChaos(t *testing.T) {
	gate.Env(t, gate.Chaos, "leader chaos on a full control plane takes minutes; run it with make test-chaos (CEPH_OPERATOR_CHAOS=1)")
	gate.File(t, filepath.Join(testenv.RepoRoot(), "bin", "kwok"), "bin/kwok missing; run 'make e2e-assets' (make test does). Skipping.")
	testenv.SetupLogging()
	s := readSettings(t)
	rng := rand.New(rand.NewPCG(s.seed, s.seed))
	logf("seed %d (CHAOS_SEED=%d repeats this run's choices): %d nodes, %d SIGKILLs, %d SIGSTOPs", s.seed, s.seed, s.nodes, s.kills, s.freezes)
	began := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := runDir(t)

	bin, err := operatorproc.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.Start(controlplane.Options{Dir: dir, Full: true, ExtraArgs: map[string][]string{
		"kube-controller-manager": {
			// kwok renews no node leases: a run longer than the default
			// grace would see its nodes tainted and their pods evicted.
			"--node-monitor-grace-period=3h", "--node-startup-grace-period=3h",
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	adminCfg := rest.CopyConfig(cp.Config)
	adminCfg.QPS, adminCfg.Burst = -1, 0
	admin, err := client.New(adminCfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := operatorproc.InstallRBAC(ctx, admin, cp.Kubeconfig, namespace, dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	watchCtx, stopWatch := context.WithCancel(ctx)
	t.Cleanup(stopWatch)
	if err := rec.start(watchCtx, adminCfg, namespace); err != nil {
		t.Fatal(err)
	}
	logf("control plane up in %s; logs in %s", secs(time.Since(began)), dir)

	reps := &replicas{bin: bin, kubeconfig: kubeconfig, dir: dir, want: 2, args: []string{
		"--leader-elect",
		"--leader-election-namespace=" + namespace,
		"--leader-election-lease-duration=" + leaseDuration.String(),
		"--leader-election-renew-deadline=" + renewDeadline.String(),
		"--leader-election-retry-period=" + retryPeriod.String(),
		"--watch-namespaces=" + namespace,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--image-pull-policy=Never",
	}}
	startReplicas(t, ctx, reps)

	cluster := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ceph"},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:   "quay.io/ceph/ceph:v18.2.4",
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
	if err := admin.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	fsid := ""
	wait(t, ctx, takeoverTimeout, "the cluster's FSID", func() error {
		c := &cephv1alpha1.CephCluster{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(cluster), c); err != nil {
			return err
		}
		if fsid = c.Status.FSID; fsid == "" {
			return fmt.Errorf("no FSID yet")
		}
		return nil
	})

	agentLog, err := os.Create(filepath.Join(dir, "agents.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agentLog.Close() })
	fleet, err := simnode.NewFleet(cp.Config, simnode.FleetOptions{
		// The harness announces every disk it writes or plugs with a
		// uevent; the resync is only a safety net.
		ResyncInterval: 30 * time.Second,
		Log:            zap.New(zap.WriteTo(agentLog)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := simnode.NewHarness(admin, simnode.AgentOptions{Namespace: namespace, FSID: fsid}, filepath.Join(dir, "nodes"))
	h.Fleet = fleet
	harnessCtx, stopHarness := context.WithCancel(ctx)
	go h.Run(harnessCtx)
	t.Cleanup(func() { stopHarness(); h.Stop() })

	w := &workload{h: h, rng: rng}
	for i := 0; i < initialNodes; i++ {
		if err := w.addNode(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, ctx, 2*time.Minute, "the first prepare Job", func() error {
		if jobs, _ := rec.inFlight(); jobs == 0 && rec.osdDisks() == 0 {
			return fmt.Errorf("no prepare Job yet")
		}
		return nil
	})
	logf("%d nodes with %d blank disks; provisioning under way %s after the start", w.nodes, w.osds, secs(time.Since(began)))

	kinds := make([]string, 0, s.kills+s.freezes)
	for i := 0; i < s.kills; i++ {
		kinds = append(kinds, "SIGKILL")
	}
	for i := 0; i < s.freezes; i++ {
		kinds = append(kinds, "SIGSTOP")
	}
	var table []disruption
	t.Cleanup(func() { report(t, dir, s, table, rec, h, reps, time.Since(began)) })
	for i, kind := range kinds {
		// A wave of work, spread so the last node joins with the last
		// disruption, and one to four disks hot-plugged on running nodes.
		joins := (s.nodes-initialNodes)*(i+1)/len(kinds) - (s.nodes-initialNodes)*i/len(kinds)
		for j := 0; j < joins; j++ {
			if err := w.addNode(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for j := 1 + rng.IntN(4); j > 0; j-- {
			if err := w.hotPlug(); err != nil {
				t.Fatal(err)
			}
		}
		// Short enough that the disruption usually lands while the wave
		// is being prepared (the table shows the work in flight).
		d := disruption{n: i + 1, kind: kind, delay: time.Duration(rng.Int64N(int64(1500 * time.Millisecond))), nodes: w.nodes, osds: w.osds}
		sleep(ctx, d.delay)
		leader, err := reps.waitLeader(ctx, nil, takeoverTimeout)
		if err != nil {
			t.Fatal(err)
		}
		d.leader = leader.name
		d.jobs, d.jobDisks = rec.inFlight()
		d.missing = w.osds - rec.osdDisks()
		at := time.Now()
		d.at = at.Sub(rec.began)
		switch kind {
		case "SIGKILL":
			if err := reps.signal(leader, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			next, err := reps.waitLeader(ctx, leader, takeoverTimeout)
			if err != nil {
				t.Fatal(err)
			}
			d.takeover, d.successor = time.Since(at), next.name
		case "SIGSTOP":
			if err := freeze(ctx, t, admin, reps, leader, w, at, &d); err != nil {
				t.Fatal(err)
			}
		}
		wait(t, ctx, convergenceTimeout, fmt.Sprintf("convergence after disruption %d (%s)", d.n, kind), func() error {
			return converged(ctx, admin, rec, w.osds)
		})
		d.converged = time.Since(at)
		table = append(table, d)
		logf("%2d %s of %s: %d Jobs (%d disks) in flight, %d OSDs missing; %s led after %s; converged after %s",
			d.n, kind, d.leader, d.jobs, d.jobDisks, d.missing, d.successor, secs(d.takeover), secs(d.converged))
	}
}

// freeze stops the leader with SIGSTOP until another replica holds the
// Lease, plugs a few disks meanwhile, so the thawed leader wakes to work
// its cache has not seen yet, lets it run again after a random moment, and
// waits for it to exit as a deposed leader must.
func freeze(ctx context.Context, t *testing.T, admin client.Client, reps *replicas, leader *replica, w *workload, at time.Time, d *disruption) error {
	holder, err := leaseHolder(ctx, admin)
	if err != nil {
		return err
	}
	if err := reps.signal(leader, syscall.SIGSTOP); err != nil {
		return err
	}
	next, err := reps.waitLeader(ctx, leader, takeoverTimeout)
	if err != nil {
		return err
	}
	d.takeover, d.successor = time.Since(at), next.name
	// The successor logs its acquisition after writing the Lease; make sure
	// the Lease no longer names the frozen leader before thawing it.
	successor := ""
	wait(t, ctx, takeoverTimeout, "the Lease to name another holder", func() error {
		now, err := leaseHolder(ctx, admin)
		if err == nil && (now == holder || now == "") {
			err = fmt.Errorf("the Lease still names %q", now)
		}
		successor = now
		return err
	})
	for j := 1 + w.rng.IntN(3); j > 0; j-- {
		if err := w.hotPlug(); err != nil {
			return err
		}
	}
	d.osds = w.osds
	sleep(ctx, time.Duration(w.rng.Int64N(int64(2*time.Second))))
	thawLog := leader.proc.LogSize()
	if err := reps.signal(leader, syscall.SIGCONT); err != nil {
		return err
	}
	thawed := time.Now()
	d.frozen = thawed.Sub(at)
	select {
	case <-leader.proc.Done():
		d.exitAfterThaw = time.Since(thawed)
	case <-time.After(deposedExitTimeout):
		d.exitAfterThaw = -1
		t.Errorf("disruption %d: the thawed leader %s still runs %s after it lost the Lease", d.n, leader.name, deposedExitTimeout)
		_ = reps.signal(leader, syscall.SIGKILL)
	}
	if now, err := leaseHolder(ctx, admin); err == nil && now != successor {
		d.leaseCleared = true
	}
	raw, _ := leader.proc.LogSince(thawLog)
	d.deposedJobs = strings.Count(string(raw), "Created prepare Job")
	d.deposedLines = strings.Count(string(raw), `"reconcileID"`)
	return nil
}

// converged reports whether every blank disk has its OSD Deployment and the
// cluster says all of them are provisioned.
func converged(ctx context.Context, c client.Client, rec *recorder, osds int) error {
	if n := rec.osdDisks(); n != osds {
		return fmt.Errorf("%d of %d disks have an OSD Deployment", n, osds)
	}
	cluster := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "ceph"}, cluster); err != nil {
		return err
	}
	cond := meta.FindStatusCondition(cluster.Status.Conditions, cephv1alpha1.ConditionOSDsProvisioned)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != cluster.Generation ||
		cluster.Status.OSDs.Provisioned != int32(osds) {
		return fmt.Errorf("OSDsProvisioned %v, OSDs %+v", cond, cluster.Status.OSDs)
	}
	return nil
}

// workload adds simulated nodes and disks.
type workload struct {
	h   *simnode.Harness
	rng *rand.Rand
	// names are the nodes added; osds counts the blank disks among all
	// their disks, each of which must become one OSD.
	names       []string
	nodes, osds int
}

// addNode adds a node with two to four blank disks and, on some nodes, a
// disk that must be left alone.
func (w *workload) addNode(ctx context.Context) error {
	kinds := []string{simnode.Blank, simnode.BlankSSD}
	for i := w.rng.IntN(3); i > 0; i-- {
		kinds = append(kinds, simnode.Blank)
	}
	w.osds += len(kinds)
	switch w.rng.IntN(4) {
	case 0:
		kinds = append(kinds, simnode.Ext4)
	case 1:
		kinds = append(kinds, simnode.Small)
	}
	w.nodes++
	name := fmt.Sprintf("chaos-%02d", w.nodes)
	w.names = append(w.names, name)
	return w.h.AddNode(ctx, name, kinds)
}

// hotPlug adds a blank disk to a random running node.
func (w *workload) hotPlug() error {
	if _, err := w.h.HotPlug(w.names[w.rng.IntN(len(w.names))], simnode.Blank); err != nil {
		return err
	}
	w.osds++
	return nil
}

// report prints the table and fails the test on a second writer.
func report(t *testing.T, dir string, s settings, table []disruption, rec *recorder, h *simnode.Harness, reps *replicas, took time.Duration) {
	v := rec.verdict()
	twice := h.PreparedTwice()
	var b strings.Builder
	fmt.Fprintf(&b, "leader chaos, seed %d: %d nodes, %d SIGKILLs, %d SIGSTOPs; lease %s, renew deadline %s, retry %s\n",
		s.seed, s.nodes, s.kills, s.freezes, leaseDuration, renewDeadline, retryPeriod)
	fmt.Fprintf(&b, "%3s %-7s %8s %6s %5s %5s %9s %7s %-11s %9s %9s %8s %9s %7s\n",
		"#", "signal", "at", "delay", "nodes", "osds", "jobs/dsk", "missing", "leader->new", "takeover", "converged", "frozen", "exit", "deposed")
	landed, cleared := 0, 0
	var kill, stop []time.Duration
	for _, d := range table {
		if d.jobs > 0 || d.missing > 0 {
			landed++
		}
		frozen, exit, deposed := "-", "-", "-"
		if d.leaseCleared {
			cleared++
		}
		if d.kind == "SIGSTOP" {
			frozen, exit, deposed = secs(d.frozen), secs(d.exitAfterThaw), fmt.Sprintf("%d/%d", d.deposedJobs, d.deposedLines)
			if d.exitAfterThaw < 0 {
				exit = "no"
			}
			if d.leaseCleared {
				deposed += " cleared"
			}
			stop = append(stop, d.converged)
		} else {
			kill = append(kill, d.converged)
		}
		fmt.Fprintf(&b, "%3d %-7s %8s %6s %5d %5d %9s %7d %-11s %9s %9s %8s %9s %7s\n",
			d.n, d.kind, secs(d.at), secs(d.delay), d.nodes, d.osds, fmt.Sprintf("%d/%d", d.jobs, d.jobDisks), d.missing,
			d.leader+"->"+d.successor, secs(d.takeover), secs(d.converged), frozen, exit, deposed)
	}
	fmt.Fprintf(&b, "jobs/dsk: prepare Jobs present and their disks, missing: blank disks without an OSD Deployment, at the disruption;\n"+
		"at: since the test's watches started (the times in the findings below count from there too);\n"+
		"exit: how long a thawed leader ran on before exiting; deposed: prepare Jobs it created / reconciler log lines it wrote meanwhile\n"+
		"(\"cleared\": on its way out it emptied the Lease its successor held)\n")
	fmt.Fprintf(&b, "disruptions that landed with provisioning under way: %d of %d\n", landed, len(table))
	fmt.Fprintf(&b, "convergence after SIGKILL: %s; after SIGSTOP: %s\n", spread(kill), spread(stop))
	fmt.Fprintf(&b, "prepare Jobs created: %d; OSD Deployments created: %d\n", v.jobs, v.deployments)
	fmt.Fprintf(&b, "disks with a second prepare Job while an earlier one was present: %d\n", len(v.secondJobWhilePresent))
	fmt.Fprintf(&b, "disks given a prepare Job after an earlier one for them had ended without failing (prepared again): %d\n", len(v.preparedAgain))
	fmt.Fprintf(&b, "disks the harness saw two successful prepare Jobs for: %d\n", len(twice))
	fmt.Fprintf(&b, "disks with a second OSD Deployment: %d; OSD ids with a second OSD Deployment: %d\n",
		len(v.secondDeploymentByDisk), len(v.secondDeploymentByID))
	fmt.Fprintf(&b, "(for information) disks named by more than one prepare Job: %d; nodes with two prepare Jobs at once: %d\n",
		len(v.inSeveralJobs), len(v.nodesWithTwoJobs))
	fmt.Fprintf(&b, "replicas started: %d; exits nobody asked for (a missed renew deadline): %d %v\n",
		reps.started, len(reps.unplannedExits()), reps.unplannedExits())
	fmt.Fprintf(&b, "thawed leaders that emptied their successor's Lease on the way out (\"cleared\"): %d\n", cleared)
	overlaps, overlapTotal := reps.leaderOverlaps()
	fmt.Fprintf(&b, "episodes of two replicas acting as leader at once: %d, %s in all %v\n", len(overlaps), secs(overlapTotal), overlaps)
	fmt.Fprintf(&b, "whole test %s\n", secs(took))
	for _, l := range [][]string{v.secondJobWhilePresent, v.preparedAgain, twice, v.secondDeploymentByDisk, v.secondDeploymentByID, v.inSeveralJobs, v.nodesWithTwoJobs} {
		for _, s := range l {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	out := b.String()
	fmt.Print(out)
	t.Log("\n" + out)
	path := filepath.Join(dir, "chaos-table.txt")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Error(err)
	} else {
		logf("table written to %s", path)
	}

	if len(v.secondJobWhilePresent) > 0 {
		t.Errorf("%d disks got a second prepare Job while an earlier one for them was present", len(v.secondJobWhilePresent))
	}
	if len(v.preparedAgain) > 0 {
		t.Errorf("%d disks got a prepare Job after an earlier one for them had ended without failing", len(v.preparedAgain))
	}
	if len(twice) > 0 {
		t.Errorf("%d disks were prepared twice: %v", len(twice), twice)
	}
	if len(v.secondDeploymentByDisk) > 0 || len(v.secondDeploymentByID) > 0 {
		t.Errorf("%d disks and %d OSD ids got a second OSD Deployment", len(v.secondDeploymentByDisk), len(v.secondDeploymentByID))
	}
	if len(table) < s.kills+s.freezes && !t.Failed() {
		t.Errorf("only %d of %d disruptions ran", len(table), s.kills+s.freezes)
	}
}

// spread is the minimum, median and maximum of ds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	sorted := append([]time.Duration(nil), ds...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] < sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	return fmt.Sprintf("min %s, median %s, max %s", secs(sorted[0]), secs(sorted[len(sorted)/2]), secs(sorted[len(sorted)-1]))
}

// runDir is CHAOS_DIR, or a temporary directory kept when the test fails.
func runDir(t *testing.T) string {
	if d := os.Getenv("CHAOS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "ceph-operator-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logf("logs of the failed run are in %s (kept)", d)
			return
		}
		_ = os.RemoveAll(d)
	})
	return d
}

// wait polls check until it succeeds, failing the test after timeout.
func wait(t *testing.T, ctx context.Context, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v after %s", what, err, timeout)
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func logf(format string, args ...any) { fmt.Printf("chaos: "+format+"\n", args...) }

package realceph

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// multiNodes is how many real nodes of TestRealCephNodes run a monitor and
// an OSD; one more node, the last by name, has neither until a monitor
// fails over to it (checkMonFailover).
const multiNodes = 3

// TestRealCephNodes runs the operator and real Ceph on three real nodes on
// this machine, each in namespaces of its own and seeing only its own
// disk, and checks what only shows with several nodes: three monitors on
// three nodes in quorum; each OSD filed under a CRUSH host bucket named
// after its node, unchanged by an OSD pod restart and an operator upgrade;
// a pool keeping three copies, one per host, HEALTH_OK with every
// placement group active+clean and objects read back; and each node
// drained in turn (kubectl drain, through the operator's disruption
// budgets) while a reader keeps reading every object, with no read
// failing. It reports the memory and CPU the three nodes use with Ceph
// running.
func TestRealCephNodes(t *testing.T) {
	gate.Env(t, gate.Real, "skipping: the real-node Ceph test runs with CEPH_OPERATOR_REAL=1 (make test-real)")
	failures.Lock()
	failures.msgs, failures.diagnoses = nil, nil
	failures.Unlock()
	summarizeFailures(t)
	cephImage := env("CEPH_TEST_IMG", "localhost/ceph-operator/ceph-test:v16.2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// The monitors go to the first nodes by name; the last one is spare.
	m := startNodes(t, ctx, multiNodes+1, env("CEPH_ARCHIVE", filepath.Join(testenv.RepoRoot(), "bin", "images", "ceph-test-v16.2.tar")))
	nodeNames := m.nodeNames
	spare := m.nodeNames[multiNodes]
	cluster, c, diskOf, devices := m.cluster, m.c, m.diskOf, m.devices
	cc := m.createCluster(t, ctx, cephImage)

	// The tools pod runs on the spare node, which no failover cuts off.
	tl := startToolsOn(t, ctx, c, cluster, cc, spare)
	checkMonitorsSpread(t, ctx, c, tl)
	osdOf := nodeOSDs(t, ctx, c, cluster, diskOf)
	topology := checkHostBuckets(t, ctx, tl, osdOf)

	objs := writeReplicated(t, ctx, tl)
	// Ceph's own account first: the status's condition may still be the
	// reporter's last word from before the pool.
	cleanStart := time.Now()
	realnode.WaitFor(t, ctx, 5*time.Minute, "every placement group active+clean", func() error { return allClean(ctx, tl) })
	t.Logf("FIGURE pool created, objects written -> every PG active+clean: %.1fs", time.Since(cleanStart).Seconds())
	waitHealthy(t, ctx, c, cc, "with a pool keeping 3 copies on 3 hosts")
	checkPGsSpread(t, ctx, tl, osdOf)
	if err := readBack(ctx, tl, objs); err != nil {
		t.Fatal(err)
	}
	measureNodes(t, cluster)

	// An OSD pod restart and an operator upgrade change no CRUSH location.
	restartOSDPod(t, ctx, c, tl)
	checkOperatorUpgrade(t, ctx, c, cluster)
	if after := hostBuckets(t, ctx, tl); !equalBuckets(after, topology) {
		errorf(t, "host buckets after an OSD pod restart and an operator upgrade: %v, before %v", after, topology)
	}

	for _, n := range nodeNames[:multiNodes] {
		drainNode(t, ctx, c, cc, cluster, tl, n, objs)
	}
	if after := hostBuckets(t, ctx, tl); !equalBuckets(after, topology) {
		errorf(t, "host buckets after the drains: %v, before %v", after, topology)
	}
	checkMonFailover(t, ctx, c, cc, cluster, tl, spare, objs)
	tl.stop(c)
	checkUntouched(t, devices)
}

// nodesCluster is the real cluster of a multi-node test: its nodes, each
// of the first multiNodes of them (by name) with one blank disk shown to
// it only, and the operator running.
type nodesCluster struct {
	cluster   *realnode.Cluster
	c         client.Client
	nodeNames []string // sorted
	diskOf    map[string]*device
	devices   []*device
	names     []string // the disks' kernel names
}

// startNodes starts n real nodes (n > multiNodes leaves the last ones
// spare), imports the operator image and the Ceph images of archives into
// each, gives each of the first multiNodes nodes one blank disk and
// deploys the operator.
func startNodes(t *testing.T, ctx context.Context, n int, archives ...string) *nodesCluster {
	t.Helper()
	loopdev.RequireRoot(t, "losetup", "mount")
	operatorArchive := env("OPERATOR_ARCHIVE", filepath.Join(testenv.RepoRoot(), "bin", "images", "ceph-operator.tar"))
	archives = append([]string{operatorArchive}, archives...)
	for _, p := range archives {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: build the images first (make images; make test-real does)", err)
		}
	}
	// Before the nodes: each node's mount namespace starts as a copy of
	// the machine's, so the monitors' directory must be mounted first.
	mountTmpfs(t, dataDir)
	cluster := realnode.UpForTestWith(ctx, t, realnode.Options{Nodes: n})
	if cluster.AlreadyRunning {
		t.Fatalf("a real cluster is already up in %s; this test starts its own %d nodes: run 'make cluster-down' first", cluster.Dir, n)
	}
	if len(cluster.Nodes) != n {
		t.Fatalf("%d nodes up, want %d", len(cluster.Nodes), n)
	}
	m := &nodesCluster{cluster: cluster, diskOf: map[string]*device{}}
	for _, node := range cluster.Nodes {
		m.nodeNames = append(m.nodeNames, node.Name)
	}
	sort.Strings(m.nodeNames)
	diagnoseOnFailure(t, cluster.Clientset)
	importStart := time.Now()
	for _, a := range archives {
		if err := cluster.ImportImage(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("images imported into %d nodes in %.1fs", len(cluster.Nodes), time.Since(importStart).Seconds())

	m.c = newClient(t, cluster)

	// One blank disk per node but the spare ones, shown to that node only.
	dir := t.TempDir()
	for i, node := range m.nodeNames[:multiNodes] {
		b := loopdev.SparseFile(t, dir, fmt.Sprintf("node%d.img", i), blankSize)
		d := &device{kind: "blank", backing: b, dev: loopdev.Attach(t, b, false)}
		if err := cluster.AddDisk(node, d.dev.Path); err != nil {
			t.Fatal(err)
		}
		m.diskOf[node] = d
		m.devices = append(m.devices, d)
		m.names = append(m.names, d.dev.Name)
	}

	deployOperator(t, ctx, cluster)
	t.Cleanup(func() { undeployOperator(t, cluster) })
	realnode.WaitFor(t, ctx, 5*time.Minute, "the operator to be available", func() error {
		return realnode.DeploymentAvailable(ctx, m.c, namespace, "ceph-operator-controller-manager")
	})
	return m
}

// createCluster creates the CephCluster of a multi-node test on image:
// multiNodes monitors, copies on distinct hosts, every test disk an OSD.
// It returns once the monitors are in quorum and the OSDs up and in.
func (m *nodesCluster) createCluster(t *testing.T, ctx context.Context, image string) *cephv1alpha1.CephCluster {
	t.Helper()
	cc := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: namespace},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:           image,
			DataDirHostPath: dataDir,
			Mon:             cephv1alpha1.MonSpec{Count: multiNodes},
			// The default, said: copies on distinct nodes.
			DefaultFailureDomain: "host",
			Storage: cephv1alpha1.StorageSpec{
				UseAllNodes: true, UseAllDevices: true, AllowLoopDevices: true,
				DeviceFilter: "^(" + strings.Join(m.names, "|") + ")$",
			},
		},
	}
	applyStart := time.Now()
	if err := m.c.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteCluster(t, m.c, cc) })
	realnode.WaitFor(t, ctx, convergeTimeout, fmt.Sprintf("%d monitors in quorum and %d OSDs up and in", multiNodes, multiNodes), func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := m.c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		st := got.Status.Ceph
		if st == nil || st.Monitors.InQuorum != multiNodes || st.OSDs.Up != multiNodes || st.OSDs.In != multiNodes {
			return fmt.Errorf("status.ceph = %+v; conditions %s", st, conditionSummary(got))
		}
		return nil
	})
	t.Logf("FIGURE %d nodes: apply -> %d monitors in quorum, %d OSDs up and in: %.1fs", multiNodes, multiNodes, multiNodes, time.Since(applyStart).Seconds())
	return cc
}

// checkMonitorsSpread checks that Ceph's quorum holds every monitor and
// that the monitors' pods run on distinct nodes.
func checkMonitorsSpread(t *testing.T, ctx context.Context, c client.Client, tl *tools) {
	var q struct {
		Names []string `json:"quorum_names"`
	}
	out := tl.admin(ctx, "quorum_status", "--format", "json")
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("ceph quorum_status: %v: %s", err, out)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentMon}); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			nodes[p.Name] = p.Spec.NodeName
		}
	}
	distinct := map[string]bool{}
	for _, n := range nodes {
		distinct[n] = true
	}
	t.Logf("FIGURE quorum %v; monitor pods on nodes %v", q.Names, nodes)
	if len(q.Names) != multiNodes || len(distinct) != multiNodes {
		errorf(t, "quorum %v and monitor pods on %v: want %d monitors in quorum on %d distinct nodes", q.Names, nodes, multiNodes, multiNodes)
	}
}

// nodeOSDs returns each node's OSD id, as its node's inventory reports the
// node's one disk; a node without a disk (the spare) must list none of the
// test's disks.
func nodeOSDs(t *testing.T, ctx context.Context, c client.Client, cluster *realnode.Cluster, diskOf map[string]*device) map[string]int {
	out := map[string]int{}
	for _, n := range cluster.Nodes {
		inv := &cephv1alpha1.DiskInventory{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: n.Name}, inv); err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, d := range inv.Status.Disks {
			seen = append(seen, d.Name)
			if own := diskOf[n.Name]; own != nil && d.Name == own.dev.Name && d.Verdict.OSDID != nil {
				out[n.Name] = int(*d.Verdict.OSDID)
			}
		}
		if _, ok := out[n.Name]; !ok && diskOf[n.Name] != nil {
			t.Fatalf("node %s: no OSD on its disk %s in its inventory (disks %v)", n.Name, diskOf[n.Name].dev.Name, seen)
		}
		// Each node's agent sees only the node's own disk among the
		// test's disks.
		for other, d := range diskOf {
			if other != n.Name && slices.Contains(seen, d.dev.Name) {
				errorf(t, "node %s's inventory lists %s, the disk of node %s", n.Name, d.dev.Name, other)
			}
		}
	}
	return out
}

// hostBuckets returns `ceph osd tree`'s host buckets under root default,
// each with its OSDs.
func hostBuckets(t *testing.T, ctx context.Context, tl *tools) map[string][]int {
	var tree struct {
		Nodes []struct {
			ID       int    `json:"id"`
			Name     string `json:"name"`
			Type     string `json:"type"`
			Children []int  `json:"children"`
		} `json:"nodes"`
	}
	out := tl.admin(ctx, "osd", "tree", "--format", "json")
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		t.Fatalf("ceph osd tree: %v: %s", err, out)
	}
	underRoot := map[int]bool{}
	for _, n := range tree.Nodes {
		if n.Type == "root" && n.Name == "default" {
			for _, c := range n.Children {
				underRoot[c] = true
			}
		}
	}
	got := map[string][]int{}
	for _, n := range tree.Nodes {
		if n.Type != "host" {
			continue
		}
		if !underRoot[n.ID] {
			errorf(t, "host bucket %s is not under root default: %s", n.Name, out)
		}
		children := append([]int(nil), n.Children...)
		sort.Ints(children)
		got[n.Name] = children
	}
	return got
}

func equalBuckets(a, b map[string][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// checkHostBuckets checks that there is one host bucket per node, named
// after it, holding exactly that node's OSD, and returns the buckets.
func checkHostBuckets(t *testing.T, ctx context.Context, tl *tools, osdOf map[string]int) map[string][]int {
	got := hostBuckets(t, ctx, tl)
	t.Logf("FIGURE ceph osd tree (%d nodes):\n%s", len(osdOf), strings.TrimRight(tl.admin(ctx, "osd", "tree"), "\n"))
	want := map[string][]int{}
	for node, id := range osdOf {
		// The test's node names are valid CRUSH names as they are.
		want[node] = []int{id}
	}
	if !equalBuckets(got, want) {
		errorf(t, "host buckets %v, want %v (one per node, each holding its node's OSD)", got, want)
	}
	return got
}

// writeReplicated creates the test pool with the default rule (copies on
// distinct hosts), three copies of which two suffice, and writes objects.
func writeReplicated(t *testing.T, ctx context.Context, tl *tools) testObjects {
	tl.admin(ctx, "osd", "pool", "create", "idtest", "16", "16", "replicated")
	tl.admin(ctx, "osd", "pool", "set", "idtest", "size", "3")
	tl.admin(ctx, "osd", "pool", "set", "idtest", "min_size", "2")
	tl.admin(ctx, "osd", "pool", "application", "enable", "idtest", "rados")
	return putObjects(t, ctx, tl, 16)
}

// checkPGsSpread checks that every placement group of the cluster keeps
// its copies on distinct nodes.
func checkPGsSpread(t *testing.T, ctx context.Context, tl *tools, osdOf map[string]int) {
	nodeOf := map[int]string{}
	for n, id := range osdOf {
		nodeOf[id] = n
	}
	var pgs struct {
		Stats []struct {
			PGID   string `json:"pgid"`
			State  string `json:"state"`
			Acting []int  `json:"acting"`
		} `json:"pg_stats"`
	}
	out := tl.admin(ctx, "pg", "dump", "pgs_brief", "--format", "json")
	if err := json.Unmarshal([]byte(out), &pgs); err != nil {
		t.Fatalf("ceph pg dump pgs_brief: %v: %s", err, shorten(out))
	}
	bad := 0
	for _, pg := range pgs.Stats {
		hosts := map[string]bool{}
		for _, id := range pg.Acting {
			hosts[nodeOf[id]] = true
		}
		if pg.State != "active+clean" || len(pg.Acting) != multiNodes || len(hosts) != multiNodes {
			bad++
			if bad <= 5 {
				errorf(t, "placement group %s: %s, acting %v: want active+clean on %d nodes", pg.PGID, pg.State, pg.Acting, multiNodes)
			}
		}
	}
	t.Logf("FIGURE %d placement groups, %d not active+clean on %d distinct nodes", len(pgs.Stats), bad, multiNodes)
	if len(pgs.Stats) == 0 {
		errorf(t, "no placement groups in the PG map")
	}
}

func shorten(s string) string {
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}

// restartOSDPod deletes one OSD's pod and waits until a new incarnation of
// that OSD is up and the cluster is clean again; it returns the pod's name.
func restartOSDPod(t *testing.T, ctx context.Context, c client.Client, tl *tools) string {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentOSD}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("OSD pods: %v (%d)", err, len(pods.Items))
	}
	victim := pods.Items[0]
	id, _ := strconv.Atoi(victim.Labels[resources.OSDIDLabel])
	_, from := osdUpFrom(t, ctx, tl, id)
	start := time.Now()
	if err := c.Delete(ctx, &victim); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 5*time.Minute, fmt.Sprintf("osd.%d up again after its pod's restart, every PG active+clean", id), func() error {
		if up, now := osdUpFrom(t, ctx, tl, id); !up || now <= from {
			return fmt.Errorf("osd.%d up %v, up_from %d (was %d)", id, up, now, from)
		}
		return allClean(ctx, tl)
	})
	t.Logf("FIGURE OSD pod restart on node %s -> osd.%d up again, PGs active+clean: %.1fs", victim.Spec.NodeName, id, time.Since(start).Seconds())
	return victim.Name
}

// osdUpFrom returns whether OSD id is up and the epoch it came up in.
func osdUpFrom(t *testing.T, ctx context.Context, tl *tools, id int) (bool, int) {
	var dump struct {
		OSDs []struct {
			OSD    int `json:"osd"`
			Up     int `json:"up"`
			UpFrom int `json:"up_from"`
		} `json:"osds"`
	}
	if err := json.Unmarshal([]byte(tl.admin(ctx, "osd", "dump", "--format", "json")), &dump); err != nil {
		t.Fatal(err)
	}
	for _, o := range dump.OSDs {
		if o.OSD == id {
			return o.Up == 1, o.UpFrom
		}
	}
	return false, 0
}

// allClean returns nil when every placement group is active+clean.
func allClean(ctx context.Context, tl *tools) error {
	type summary struct {
		NumPGs  int `json:"num_pgs"`
		ByState []struct {
			Name string `json:"name"`
			Num  int    `json:"num"`
		} `json:"num_pg_by_state"`
	}
	// Releases differ: the summary is at the top or under pg_summary.
	var pgs struct {
		summary
		PGSummary *summary `json:"pg_summary"`
	}
	out, err := tl.run(ctx, nil, "timeout", "120", "ceph", "--keyring", tl.keyring, "--connect-timeout", "60", "pg", "stat", "--format", "json")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, &pgs); err != nil {
		return fmt.Errorf("pg stat: %w: %s", err, out)
	}
	sum := pgs.summary
	if pgs.PGSummary != nil {
		sum = *pgs.PGSummary
	}
	for _, st := range sum.ByState {
		if st.Name == "active+clean" && st.Num == sum.NumPGs && sum.NumPGs > 0 {
			return nil
		}
	}
	return fmt.Errorf("placement groups: %s", strings.TrimSpace(string(out)))
}

// drainNode drains one node with kubectl (which evicts through the
// disruption budgets) while a reader reads every object, checks that
// reads go on, then uncordons it and waits until its daemons are back and
// the cluster is healthy again.
func drainNode(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, cluster *realnode.Cluster, tl *tools, node string, objs testObjects) {
	rp := startReaders(t, ctx, tl, objs)
	start := time.Now()
	// The tools pod, which the reader reads through, is the test's own
	// and has no controller: it stays.
	out, err := kubectl(ctx, cluster, nil, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
		"--pod-selector", toolsLabel+"!="+toolsPodName, "--timeout", "5m")
	drained := time.Since(start)
	if err != nil {
		rp.end(t, ctx, tl, "while draining "+node, start)
		t.Fatalf("kubectl drain %s: %v\n%s", node, err, out)
	}
	// Reads go on while the node's monitor and OSD are away.
	time.Sleep(20 * time.Second)
	if out, err := kubectl(ctx, cluster, nil, "uncordon", node); err != nil {
		rp.end(t, ctx, tl, "while draining "+node, start)
		t.Fatalf("kubectl uncordon %s: %v\n%s", node, err, out)
	}
	back := time.Now()
	realnode.WaitFor(t, ctx, 10*time.Minute, "every monitor in quorum and every OSD up after draining "+node, func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if st := got.Status.Ceph; st == nil || st.Monitors.InQuorum != multiNodes || st.OSDs.Up != multiNodes || st.OSDs.In != multiNodes {
			return fmt.Errorf("status.ceph = %+v", st)
		}
		return allClean(ctx, tl)
	})
	returned := time.Since(back)
	readers := rp.end(t, ctx, tl, "while draining "+node, start)
	t.Logf("FIGURE drain %s: kubectl drain %.1fs (evicted: %s); uncordon -> quorum, OSDs up, PGs active+clean %.1fs; %s",
		node, drained.Seconds(), evictedPods(string(out)), returned.Seconds(), readers)
	waitHealthy(t, ctx, c, cc, "after draining "+node)
}

// evictedPods lists the pods kubectl drain reports as evicted.
func evictedPods(out string) string {
	var pods []string
	for _, l := range strings.Split(out, "\n") {
		if name, ok := strings.CutSuffix(strings.TrimSpace(l), " evicted"); ok {
			pods = append(pods, strings.TrimPrefix(name, "pod/"))
		}
	}
	sort.Strings(pods)
	return strings.Join(pods, ", ")
}

// measureNodes reports the memory and CPU of every process of the
// cluster: those in the control plane's and the nodes' network namespaces
// and all their descendants (containers, whose pods have namespaces of
// their own, descend from their node's containerd shims). RSS is summed
// per process, so pages shared between processes count more than once.
func measureNodes(t *testing.T, cluster *realnode.Cluster) {
	netns := map[string]bool{}
	for _, f := range append([]string{cluster.ControlPlaneNetns}, nsFiles(cluster)...) {
		var st statIno
		if ino, err := st.of(f); err == nil {
			netns[ino] = true
		}
	}
	pids := clusterPIDs(netns)
	rss1, cpu1 := usage(pids)
	const window = 30 * time.Second
	time.Sleep(window)
	pids = clusterPIDs(netns)
	rss2, cpu2 := usage(pids)
	ticks := float64(100) // USER_HZ on Linux
	cores := float64(cpu2-cpu1) / ticks / window.Seconds()
	t.Logf("FIGURE %d nodes with Ceph running (3 monitors, 1 manager, 3 OSDs, agents, operator, reporter): %d processes, RSS %d MiB (summed per process), CPU %.2f cores over %s (idle cluster)",
		len(cluster.Nodes), len(pids), max(rss1, rss2)>>20, cores, window)
}

func nsFiles(cluster *realnode.Cluster) []string {
	var out []string
	for _, n := range cluster.Nodes {
		out = append(out, n.Netns)
	}
	return out
}

type statIno struct{}

// of returns the inode of a namespace file, as /proc/<pid>/ns/net names
// it ("net:[<inode>]").
func (statIno) of(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("net:[%d]", inode(fi)), nil
}

// clusterPIDs returns the processes in one of the network namespaces, and
// their descendants.
func clusterPIDs(netns map[string]bool) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	in := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && netns[l] {
			in[pid] = true
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if f := statFields(string(b)); len(f) > 1 {
				parent[pid], _ = strconv.Atoi(f[1])
			}
		}
	}
	var out []int
	for pid := range parent {
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if in[p] {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// statFields returns the fields of /proc/<pid>/stat after the command
// name: state, ppid, ... (field 3 onwards of proc(5)).
func statFields(s string) []string {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// usage sums the resident memory (bytes) and CPU time (clock ticks, user
// and system) of pids.
func usage(pids []int) (rss int64, ticks int64) {
	page := int64(os.Getpagesize())
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid)); err == nil {
			if f := strings.Fields(string(b)); len(f) > 1 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				rss += n * page
			}
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// utime and stime are fields 14 and 15; after the name,
			// index 11 and 12.
			if f := statFields(string(b)); len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				ticks += u + s
			}
		}
	}
	return rss, ticks
}

// inode is a file's inode number.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// clusterLog is the cluster log's lines from..to that say how daemons
// came and went: OSDs down, up or failed, elections and quorum changes.
func clusterLog(ctx context.Context, tl *tools, from, to time.Time) string {
	out, err := tl.run(ctx, nil, "timeout", "60", "ceph", "--keyring", tl.keyring, "--connect-timeout", "30",
		"log", "last", "300", "debug", "cluster")
	if err != nil {
		return "  (cluster log unreadable: " + err.Error() + ")"
	}
	var lines []string
	all := strings.Split(strings.TrimSpace(string(out)), "\n")
	parsed := 0
	for _, l := range all {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.999999-0700", f[0])
		if err != nil {
			continue
		}
		parsed++
		if at.Before(from) || at.After(to) {
			continue
		}
		for _, k := range []string{"down", "boot", "failed", "election", "quorum", "marked"} {
			if strings.Contains(l, k) {
				lines = append(lines, "  "+at.UTC().Format("15:04:05.000")+" "+strings.Join(f[1:], " "))
				break
			}
		}
	}
	if parsed == 0 {
		// A format this test does not know: the last lines as they are.
		return "  " + strings.Join(all[max(0, len(all)-30):], "\n  ")
	}
	if len(lines) == 0 {
		return "  (no such line)"
	}
	return strings.Join(lines, "\n")
}

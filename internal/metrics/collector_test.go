package metrics_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/metrics"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/promtext"
)

// env is the package's API server, started by TestMain unless -short.
var env *testenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			testenv.SetupLogging()
			var err error
			if env, err = testenv.New(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer func() { _ = env.Stop() }()
		}
		return m.Run()
	}()
	os.Exit(code)
}

// needEnv skips a test that needs the API server under -short.
func needEnv(t *testing.T) {
	t.Helper()
	testenv.SkipShort(t)
}

// scrape collects c through a fresh registry and returns every sample of
// the cluster series, as `name{label="value",...}` (labels sorted) to
// value, read back from the text exposition.
func scrape(t *testing.T, c prometheus.Collector) (map[string]float64, []byte) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	raw, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, metrics.Names...)
	if err != nil {
		t.Fatal(err)
	}
	// The pedantic registry checks the series against their descriptors.
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, name := range metrics.Names {
		for _, s := range promtext.Parse(raw, name) {
			key := seriesKey(name, s.Labels)
			if _, dup := out[key]; dup {
				t.Errorf("series %s sent twice", key)
			}
			out[key] = s.Value
		}
	}
	return out, raw
}

func seriesKey(name string, labels map[string]string) string {
	var kv []string
	for k, v := range labels {
		kv = append(kv, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}

// series builds the expected key of one series of cluster ns/name.
func series(name, ns, cluster string, kv ...string) string {
	labels := map[string]string{"namespace": ns, "cluster": cluster}
	for i := 0; i+1 < len(kv); i += 2 {
		labels[kv[i]] = kv[i+1]
	}
	return seriesKey(name, labels)
}

// zeroSeries is every series a cluster with no inventory, no Job, no
// condition and no Ceph report has, with its value.
func zeroSeries(ns, cluster string, mons float64) map[string]float64 {
	want := map[string]float64{}
	for _, s := range metrics.DiskStates {
		if s != cephv1alpha1.DiskRejected {
			want[series(metrics.Disks, ns, cluster, "state", string(s), "reason", "")] = 0
		}
	}
	for _, r := range metrics.RejectedReasons {
		want[series(metrics.Disks, ns, cluster, "state", "Rejected", "reason", string(r))] = 0
	}
	for _, a := range metrics.PlanActions {
		want[series(metrics.DiskPlans, ns, cluster, "action", string(a), "reason", "")] = 0
	}
	for _, s := range metrics.OSDStates {
		want[series(metrics.OSDs, ns, cluster, "state", s)] = 0
	}
	for _, s := range metrics.JobStates {
		want[series(metrics.PrepareJobs, ns, cluster, "state", s)] = 0
	}
	for _, s := range metrics.HealthStatuses {
		want[series(metrics.CephHealth, ns, cluster, "status", s)] = 0
	}
	want[series(metrics.CephHealth, ns, cluster, "status", "unknown")] = 1
	want[series(metrics.MonsDesired, ns, cluster)] = mons
	return want
}

// compare fails the test with every difference between got and want.
func compare(t *testing.T, got, want map[string]float64, raw []byte) {
	t.Helper()
	var diffs []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+k)
		case g != v:
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", k, g, v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %s = %v", k, v))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("%d differences:\n%s\nscrape:\n%s", len(diffs), strings.Join(diffs, "\n"), raw)
	}
}

func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// createCluster creates a CephCluster and writes status.
func createCluster(t *testing.T, ns, name string, mons int32, status cephv1alpha1.CephClusterStatus) *cephv1alpha1.CephCluster {
	t.Helper()
	ctx := context.Background()
	c := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:   "quay.io/ceph/ceph:v19.2.3",
			Mon:     cephv1alpha1.MonSpec{Count: mons},
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
	if err := env.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Status = status
	if err := env.Client.Status().Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// disk is a disk of an inventory with its verdict and plan.
type disk struct {
	state  cephv1alpha1.DiskState
	reason string
	action cephv1alpha1.DeviceAction
	plan   string // the plan's reason
}

// createInventory creates the DiskInventory of node for cluster, with the
// disks' verdicts and plans and lastScanTime scanned (nil: none).
func createInventory(t *testing.T, cluster *cephv1alpha1.CephCluster, node string, scanned *metav1.Time, disks ...disk) {
	t.Helper()
	createReportedInventory(t, cluster, node, scanned, nil, disks...)
}

// createReportedInventory is createInventory with lastReportTime reported
// (nil: none).
func createReportedInventory(t *testing.T, cluster *cephv1alpha1.CephCluster, node string, scanned, reported *metav1.Time, disks ...disk) {
	t.Helper()
	ctx := context.Background()
	inv := resources.DiskInventory(cluster, node)
	if err := env.Client.Create(ctx, inv); err != nil {
		t.Fatal(err)
	}
	inv.Status.LastScanTime, inv.Status.LastReportTime = scanned, reported
	for i, d := range disks {
		name := fmt.Sprintf("sd%c%d", 'a'+i%26, i/26)
		inv.Status.Disks = append(inv.Status.Disks, cephv1alpha1.Disk{Name: name, ID: "/dev/disk/by-id/" + node + "-" + name,
			Path: "/dev/" + name, Type: "disk", SizeBytes: 10 << 30, Verdict: cephv1alpha1.DiskVerdict{State: d.state, Reason: d.reason}})
		if d.action != "" {
			inv.Status.Plan = append(inv.Status.Plan, cephv1alpha1.DevicePlan{Name: name, ID: "/dev/disk/by-id/" + node + "-" + name,
				Action: d.action, Reason: d.plan})
		}
	}
	if err := env.Client.Status().Update(ctx, inv); err != nil {
		t.Fatal(err)
	}
}

// createJob creates a prepare Job of cluster for node; failed makes it
// failed the way the Job controller does, else it stays running.
func createJob(t *testing.T, cluster *cephv1alpha1.CephCluster, node string, failed bool) {
	t.Helper()
	ctx := context.Background()
	labels := resources.Labels(cluster, resources.ComponentPrepare)
	labels[resources.NodeHashLabel] = resources.NodeHash(node)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: resources.PrepareJobName(cluster, node), Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: resources.PrepareContainer, Image: "quay.io/ceph/ceph:v19.2.3"}},
			}},
		},
	}
	if err := env.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	if !failed {
		return
	}
	now := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &now, Failed: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
	}}
	if env.MinorVersion() >= 31 {
		// From 1.31 the API server wants the interim condition first.
		job.Status.Conditions = append([]batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
		}, job.Status.Conditions...)
	}
	if err := env.Client.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
}

// inNamespaces is a reader limited to some namespaces, as the manager's
// cache is with --watch-namespaces, so that tests sharing the API server
// do not see each other's clusters.
type inNamespaces struct {
	client.Reader
	namespaces []string
}

func (r inNamespaces) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	switch l := list.(type) {
	case *cephv1alpha1.CephClusterList:
		var all []cephv1alpha1.CephCluster
		for _, ns := range r.namespaces {
			var part cephv1alpha1.CephClusterList
			if err := r.Reader.List(ctx, &part, append(opts, client.InNamespace(ns))...); err != nil {
				return err
			}
			all = append(all, part.Items...)
		}
		l.Items = all
	case *cephv1alpha1.DiskInventoryList:
		var all []cephv1alpha1.DiskInventory
		for _, ns := range r.namespaces {
			var part cephv1alpha1.DiskInventoryList
			if err := r.Reader.List(ctx, &part, append(opts, client.InNamespace(ns))...); err != nil {
				return err
			}
			all = append(all, part.Items...)
		}
		l.Items = all
	case *batchv1.JobList:
		var all []batchv1.Job
		for _, ns := range r.namespaces {
			var part batchv1.JobList
			if err := r.Reader.List(ctx, &part, append(opts, client.InNamespace(ns))...); err != nil {
				return err
			}
			all = append(all, part.Items...)
		}
		l.Items = all
	default:
		return fmt.Errorf("unexpected list %T", list)
	}
	return nil
}

// TestCollectorOneCluster checks every series of one cluster with disks in
// each state, plans, Jobs, conditions and a Ceph report, exactly.
func TestCollectorOneCluster(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t, "metrics-one")
	cl := createCluster(t, ns, "ceph", 3, cephv1alpha1.CephClusterStatus{
		OSDs: cephv1alpha1.OSDCounts{Desired: 5, Preparing: 1, Provisioned: 3, Running: 2, Failed: 1},
		Conditions: []metav1.Condition{
			{Type: cephv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: cephv1alpha1.ReasonReconciling, LastTransitionTime: metav1.Now()},
			{Type: cephv1alpha1.ConditionMonitorsReady, Status: metav1.ConditionTrue, Reason: cephv1alpha1.ReasonReconciled, LastTransitionTime: metav1.Now()},
		},
		Ceph: &cephv1alpha1.CephStatus{
			Health:   cephv1alpha1.CephHealthWarn,
			Monitors: cephv1alpha1.CephMonitorStatus{Total: 3, InQuorum: 2, Quorum: []string{"a", "b"}},
			OSDs:     cephv1alpha1.CephOSDStatus{Total: 3, Up: 2, In: 3},
		},
	})
	now := time.Now().Truncate(time.Second)
	scanned := metav1.NewTime(now.Add(-90 * time.Second))
	createInventory(t, cl, "node-a", &scanned,
		disk{cephv1alpha1.DiskOSD, "", cephv1alpha1.ActionProvisioned, ""},
		disk{cephv1alpha1.DiskOSD, "", cephv1alpha1.ActionProvisioned, ""},
		disk{cephv1alpha1.DiskAvailable, "", cephv1alpha1.ActionPreparing, ""},
		disk{cephv1alpha1.DiskRejected, "Mounted", cephv1alpha1.ActionLeftOut, "Mounted"},
	)
	// node-b's content changed 90s ago, its agent's heartbeat is newer.
	reported := metav1.NewTime(now.Add(-30 * time.Second))
	createReportedInventory(t, cl, "node-b", &scanned, &reported,
		disk{cephv1alpha1.DiskOSD, "", cephv1alpha1.ActionProvisioned, ""},
		disk{cephv1alpha1.DiskAvailable, "", cephv1alpha1.ActionFailed, cephv1alpha1.ReasonPrepareFailed},
		disk{cephv1alpha1.DiskRejected, "Mounted", cephv1alpha1.ActionLeftOut, "Mounted"},
		disk{cephv1alpha1.DiskRejected, "SomeFutureReason", "", ""},
	)
	// An agent that never published: counts from the inventory's creation.
	createInventory(t, cl, "node-c", nil)
	createJob(t, cl, "node-a", false)
	createJob(t, cl, "node-b", true)

	c := &metrics.Collector{Reader: inNamespaces{env.Client, []string{ns}}, Now: func() time.Time { return now }}
	got, raw := scrape(t, c)
	t.Logf("scrape:\n%s", raw)

	// node-c's age depends on when the API server created it: checked
	// apart, then replaced by the expected value.
	ageC := series(metrics.InventoryAge, ns, "ceph", "node", "node-c")
	if v, ok := got[ageC]; !ok || v < 0 || v > 120 {
		t.Errorf("%s = %v (present %v), want the seconds since the test created it", ageC, v, ok)
	}
	got[ageC] = -1

	want := zeroSeries(ns, "ceph", 3)
	for k, v := range map[string]float64{
		series(metrics.Disks, ns, "ceph", "state", "OSD", "reason", ""):                      3,
		series(metrics.Disks, ns, "ceph", "state", "Available", "reason", ""):                2,
		series(metrics.Disks, ns, "ceph", "state", "Rejected", "reason", "Mounted"):          2,
		series(metrics.Disks, ns, "ceph", "state", "Rejected", "reason", "SomeFutureReason"): 1,
		series(metrics.DiskPlans, ns, "ceph", "action", "Provisioned", "reason", ""):         3,
		series(metrics.DiskPlans, ns, "ceph", "action", "Preparing", "reason", ""):           1,
		series(metrics.DiskPlans, ns, "ceph", "action", "LeftOut", "reason", "Mounted"):      2,
		series(metrics.DiskPlans, ns, "ceph", "action", "Failed", "reason", "PrepareFailed"): 1,
		series(metrics.OSDs, ns, "ceph", "state", "desired"):                                 5,
		series(metrics.OSDs, ns, "ceph", "state", "provisioned"):                             3,
		series(metrics.OSDs, ns, "ceph", "state", "running"):                                 2,
		series(metrics.OSDs, ns, "ceph", "state", "failed"):                                  1,
		series(metrics.PrepareJobs, ns, "ceph", "state", "running"):                          1,
		series(metrics.PrepareJobs, ns, "ceph", "state", "failed"):                           1,
		series(metrics.InventoryAge, ns, "ceph", "node", "node-a"):                           90,
		series(metrics.InventoryAge, ns, "ceph", "node", "node-b"):                           30,
		ageC: -1,
		series(metrics.CephHealth, ns, "ceph", "status", "HEALTH_WARN"):                            1,
		series(metrics.CephHealth, ns, "ceph", "status", "unknown"):                                0,
		series(metrics.CephOSDs, ns, "ceph", "state", "total"):                                     3,
		series(metrics.CephOSDs, ns, "ceph", "state", "up"):                                        2,
		series(metrics.CephOSDs, ns, "ceph", "state", "in"):                                        3,
		series(metrics.MonQuorum, ns, "ceph"):                                                      2,
		series(metrics.ClusterCondition, ns, "ceph", "type", "Ready", "status", "True"):            0,
		series(metrics.ClusterCondition, ns, "ceph", "type", "Ready", "status", "False"):           1,
		series(metrics.ClusterCondition, ns, "ceph", "type", "Ready", "status", "Unknown"):         0,
		series(metrics.ClusterCondition, ns, "ceph", "type", "MonitorsReady", "status", "True"):    1,
		series(metrics.ClusterCondition, ns, "ceph", "type", "MonitorsReady", "status", "False"):   0,
		series(metrics.ClusterCondition, ns, "ceph", "type", "MonitorsReady", "status", "Unknown"): 0,
	} {
		want[k] = v
	}
	compare(t, got, want, raw)
}

// TestCollectorTwoClusters: two clusters in two namespaces, one of them
// brand new (no status at all), keep their series apart; objects of a
// CephCluster that does not exist are not exported.
func TestCollectorTwoClusters(t *testing.T) {
	needEnv(t)
	ns1, ns2 := newNamespace(t, "metrics-two"), newNamespace(t, "metrics-two")
	a := createCluster(t, ns1, "alpha", 1, cephv1alpha1.CephClusterStatus{
		OSDs: cephv1alpha1.OSDCounts{Desired: 1, Provisioned: 1, Running: 1},
		Ceph: &cephv1alpha1.CephStatus{Health: cephv1alpha1.CephHealthOK,
			Monitors: cephv1alpha1.CephMonitorStatus{Total: 1, InQuorum: 1}, OSDs: cephv1alpha1.CephOSDStatus{Total: 1, Up: 1, In: 1}},
	})
	b := createCluster(t, ns2, "beta", 5, cephv1alpha1.CephClusterStatus{
		// The last `ceph status` failed: health unknown, other fields
		// cleared, so no Ceph OSD or quorum series.
		Ceph: &cephv1alpha1.CephStatus{Message: "timed out"},
	})
	now := time.Now().Truncate(time.Second)
	scanned := metav1.NewTime(now.Add(-10 * time.Second))
	createInventory(t, a, "node-1", &scanned, disk{cephv1alpha1.DiskOSD, "", cephv1alpha1.ActionProvisioned, ""})
	createInventory(t, b, "node-1", &scanned, disk{cephv1alpha1.DiskAvailable, "", cephv1alpha1.ActionWouldProvision, cephv1alpha1.ReasonPreview})
	createJob(t, b, "node-1", false)
	// An inventory and a Job labelled for a cluster that does not exist
	// in ns2 (left behind by a deleted one).
	ghost := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns2, Name: "ghost"}}
	createInventory(t, ghost, "node-2", &scanned, disk{cephv1alpha1.DiskOSD, "", "", ""})
	createJob(t, ghost, "node-2", true)

	c := &metrics.Collector{Reader: inNamespaces{env.Client, []string{ns1, ns2}}, Now: func() time.Time { return now }}
	got, raw := scrape(t, c)

	want := zeroSeries(ns1, "alpha", 1)
	for k, v := range zeroSeries(ns2, "beta", 5) {
		want[k] = v
	}
	for k, v := range map[string]float64{
		series(metrics.Disks, ns1, "alpha", "state", "OSD", "reason", ""):                       1,
		series(metrics.DiskPlans, ns1, "alpha", "action", "Provisioned", "reason", ""):          1,
		series(metrics.OSDs, ns1, "alpha", "state", "desired"):                                  1,
		series(metrics.OSDs, ns1, "alpha", "state", "provisioned"):                              1,
		series(metrics.OSDs, ns1, "alpha", "state", "running"):                                  1,
		series(metrics.InventoryAge, ns1, "alpha", "node", "node-1"):                            10,
		series(metrics.CephHealth, ns1, "alpha", "status", "HEALTH_OK"):                         1,
		series(metrics.CephHealth, ns1, "alpha", "status", "unknown"):                           0,
		series(metrics.CephOSDs, ns1, "alpha", "state", "total"):                                1,
		series(metrics.CephOSDs, ns1, "alpha", "state", "up"):                                   1,
		series(metrics.CephOSDs, ns1, "alpha", "state", "in"):                                   1,
		series(metrics.MonQuorum, ns1, "alpha"):                                                 1,
		series(metrics.Disks, ns2, "beta", "state", "Available", "reason", ""):                  1,
		series(metrics.DiskPlans, ns2, "beta", "action", "WouldProvision", "reason", "Preview"): 1,
		series(metrics.PrepareJobs, ns2, "beta", "state", "running"):                            1,
		series(metrics.InventoryAge, ns2, "beta", "node", "node-1"):                             10,
	} {
		want[k] = v
	}
	compare(t, got, want, raw)
}

// TestCollectorCardinality: the number of series does not grow with the
// disks, only the values do.
func TestCollectorCardinality(t *testing.T) {
	needEnv(t)
	count := func(disks int) (int, map[string]float64) {
		ns := newNamespace(t, "metrics-card")
		cl := createCluster(t, ns, "ceph", 3, cephv1alpha1.CephClusterStatus{})
		var ds []disk
		for i := range disks {
			switch i % 3 {
			case 0:
				ds = append(ds, disk{cephv1alpha1.DiskOSD, "", cephv1alpha1.ActionProvisioned, ""})
			case 1:
				ds = append(ds, disk{cephv1alpha1.DiskAvailable, "", cephv1alpha1.ActionFailed, cephv1alpha1.ReasonPrepareFailed})
			default:
				ds = append(ds, disk{cephv1alpha1.DiskRejected, "HasPartitions", cephv1alpha1.ActionLeftOut, "HasPartitions"})
			}
		}
		scanned := metav1.Now()
		createInventory(t, cl, "node", &scanned, ds...)
		got, _ := scrape(t, &metrics.Collector{Reader: inNamespaces{env.Client, []string{ns}}})
		return len(got), got
	}
	small, _ := count(3)
	large, got := count(51)
	if small != large {
		t.Errorf("1 node with 3 disks: %d series; with 51 disks of the same states: %d", small, large)
	}
	var osds float64
	for k, v := range got {
		if strings.HasPrefix(k, metrics.Disks+"{") && strings.Contains(k, `state="OSD"`) {
			osds += v
		}
	}
	if osds != 17 {
		t.Errorf("51 disks, a third of them OSDs: %v counted", osds)
	}
}

// failingReader fails the lists of some kinds.
type failingReader struct {
	client.Reader
	fail map[string]bool
}

func (r failingReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	kind := strings.TrimPrefix(fmt.Sprintf("%T", list), "*")
	if r.fail[kind] {
		return errors.New("cache not synced")
	}
	switch l := list.(type) {
	case *cephv1alpha1.CephClusterList:
		l.Items = []cephv1alpha1.CephCluster{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ceph"}}}
	case *cephv1alpha1.DiskInventoryList:
		l.Items = nil
	case *batchv1.JobList:
		l.Items = nil
	}
	return nil
}

// TestCollectorListErrors: a list that fails leaves its series out, keeps
// the others, and is logged once per scrape; nothing panics.
func TestCollectorListErrors(t *testing.T) {
	for _, tc := range []struct {
		fail     string
		absent   []string
		present  []string
		anything bool
	}{
		{fail: "v1alpha1.CephClusterList", absent: metrics.Names},
		{fail: "v1alpha1.DiskInventoryList", absent: []string{metrics.Disks, metrics.DiskPlans},
			present: []string{metrics.OSDs, metrics.PrepareJobs, metrics.CephHealth, metrics.MonsDesired}},
		{fail: "v1.JobList", absent: []string{metrics.PrepareJobs},
			present: []string{metrics.OSDs, metrics.Disks, metrics.DiskPlans, metrics.CephHealth, metrics.MonsDesired}},
	} {
		t.Run(tc.fail, func(t *testing.T) {
			var logged []string
			log := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})
			c := &metrics.Collector{Reader: failingReader{fail: map[string]bool{tc.fail: true}}, Log: log}
			got, raw := scrape(t, c)
			for _, name := range tc.absent {
				for k := range got {
					if strings.HasPrefix(k, name+"{") {
						t.Errorf("%s sent although its list failed", k)
					}
				}
			}
			for _, name := range tc.present {
				found := false
				for k := range got {
					found = found || strings.HasPrefix(k, name+"{")
				}
				if !found {
					t.Errorf("%s missing: its list did not fail\n%s", name, raw)
				}
			}
			// scrape collects twice (text and the pedantic gather).
			if len(logged) != 2 || !strings.Contains(logged[0], "cache not synced") {
				t.Errorf("logged %q, want the failure once per scrape", logged)
			}
		})
	}
}

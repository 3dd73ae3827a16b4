package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/report"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// env is the API server shared by this package's envtest tests, started by
// the first test that needs one.
var (
	env     *testenv.Env
	envOnce sync.Once
	envErr  error
)

func TestMain(m *testing.M) {
	testenv.SetupLogging()
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// newCluster creates a CephCluster named "ceph" in a namespace of its own
// and returns the namespace.
func newCluster(t *testing.T) string {
	t.Helper()
	testenv.SkipShort(t)
	envOnce.Do(func() { env, envErr = testenv.New() })
	if envErr != nil {
		t.Fatal(envErr)
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "report-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	createCluster(t, ns.Name)
	return ns.Name
}

func createCluster(t *testing.T, ns string) {
	t.Helper()
	cc := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: ns},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:   "quay.io/ceph/ceph:v18.2.4",
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
	}
	if err := env.Client.Create(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
}

func getCluster(t *testing.T, ns string) *cephv1alpha1.CephCluster {
	t.Helper()
	var cc cephv1alpha1.CephCluster
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "ceph"}, &cc); err != nil {
		t.Fatal(err)
	}
	return &cc
}

func reporterConfig(ns string, fake *fakeCeph) report.Config {
	cfg := report.DefaultConfig(func(string) string { return ns })
	cfg.ClusterName, cfg.CephBinary, cfg.Conf = "ceph", fake.path, ""
	return cfg
}

// parsed is what status.ceph must hold for a capture.
func parsed(t *testing.T, name string) cephv1alpha1.CephStatus {
	t.Helper()
	st, err := ceph.ParseStatus(capture(t, name+".status.json"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestEnvReport publishes real captured outputs, through a fake ceph tool,
// to a real API server, and checks what the server holds after each pass:
// the content, the field manager, that an unchanged report writes nothing,
// that the refresh period does, and that fields the reporter stops setting
// are removed.
func TestEnvReport(t *testing.T) {
	ctx := context.Background()
	ns := newCluster(t)
	// The operator's own status fields, written under another manager,
	// must survive the reporter's applies.
	cc := getCluster(t, ns)
	before := cc.DeepCopy()
	cc.Status.FSID, cc.Status.Nodes = captureFSID, 1
	if err := env.Client.Status().Patch(ctx, cc, client.MergeFrom(before), client.FieldOwner("test-operator")); err != nil {
		t.Fatal(err)
	}

	fake := newFakeCeph(t)
	fake.prints(t, capture(t, "one-osd-up.status.json"))
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	cfg := reporterConfig(ns, fake)
	cluster, err := report.NewKubeCluster(env.Config, ns, "ceph")
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.New(cfg, report.NewCommandSource(cfg), cluster, clock)
	if err != nil {
		t.Fatal(err)
	}
	pass := func(wantPublished bool) *cephv1alpha1.CephCluster {
		t.Helper()
		res, err := r.Pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Published != wantPublished {
			t.Fatalf("published %v, want %v", res.Published, wantPublished)
		}
		return getCluster(t, ns)
	}
	wantStatus := func(cc *cephv1alpha1.CephCluster, want cephv1alpha1.CephStatus) {
		t.Helper()
		want.LastChecked = &metav1.Time{Time: now}
		got := cc.Status.Ceph
		if got == nil || !reflect.DeepEqual(normalize(t, *got), normalize(t, want)) {
			t.Fatalf("status.ceph on the server:\n got %+v\nwant %+v", got, want)
		}
	}

	cc = pass(true)
	wantStatus(cc, parsed(t, "one-osd-up"))
	if cc.Status.FSID != captureFSID || cc.Status.Nodes != 1 {
		t.Errorf("the operator's fields changed: fsid %q, nodes %d", cc.Status.FSID, cc.Status.Nodes)
	}
	var owned bool
	for _, mf := range cc.ManagedFields {
		if mf.Manager == string(apply.Reporter) && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "status" {
			owned = true
			var fields struct {
				Status map[string]any `json:"f:status"`
			}
			if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil || len(fields.Status) != 1 || fields.Status["f:ceph"] == nil {
				t.Errorf("the reporter owns more or less than status.ceph: %s", mf.FieldsV1.GetRawBytes())
			}
		}
	}
	if !owned {
		t.Errorf("status.ceph is not applied by %s on the status subresource: %+v", string(apply.Reporter), cc.ManagedFields)
	}
	if got := strings.Join(fake.args(t), " "); got != "--connect-timeout 10 status --format json" {
		t.Errorf("ceph called with %q", got)
	}

	// Unchanged, 15 seconds later: no write at all.
	rv := cc.ResourceVersion
	now = now.Add(15 * time.Second)
	if cc = pass(false); cc.ResourceVersion != rv {
		t.Errorf("an unchanged report changed the object: resourceVersion %s -> %s", rv, cc.ResourceVersion)
	}
	// Unchanged but as old as the refresh period: written again, with
	// only the time changed.
	now = now.Add(ceph.DefaultStatusRefresh)
	cc = pass(true)
	wantStatus(cc, parsed(t, "one-osd-up"))

	// The OSD goes down: the earlier checks are gone from the server,
	// the new ones are there.
	now = now.Add(15 * time.Second)
	fake.prints(t, capture(t, "warn-osd-down.status.json"))
	wantStatus(pass(true), parsed(t, "warn-osd-down"))

	// The monitors stop answering: health unknown, the CLI's verdict in
	// the message, and no stale figures left on the server.
	now = now.Add(15 * time.Second)
	fake.fails(t, capture(t, "mon-down.stderr"))
	cc = pass(true)
	wantStatus(cc, cephv1alpha1.CephStatus{Message: fake.path + " status: exit status 1: timed out"})
	if ok, reason, _ := ceph.HealthReady(cc.Status.Ceph, captureFSID, now, ceph.DefaultStatusMaxAge); ok || reason != cephv1alpha1.ReasonCephStatusFailed {
		t.Errorf("HealthReady on a failed report: %v %s", ok, reason)
	}
	now = now.Add(15 * time.Second)
	pass(false)

	// Back to healthy; the rule reads what the server holds.
	now = now.Add(15 * time.Second)
	fake.prints(t, capture(t, "ok-one-osd.status.json"))
	cc = pass(true)
	if ok, reason, msg := ceph.HealthReady(cc.Status.Ceph, captureFSID, now, ceph.DefaultStatusMaxAge); !ok {
		t.Errorf("HealthReady on a healthy report: %s %s", reason, msg)
	}

	// An OSD id allocated and never started is published at once; the
	// OSD map read with its own command.
	now = now.Add(15 * time.Second)
	fake.dumps(t, []byte(`{"epoch":9,"fsid":"`+captureFSID+`","osds":[`+
		`{"osd":0,"uuid":"a0","up":1,"in":1,"up_from":5,"state":["exists","up"]},`+
		`{"osd":1,"uuid":"b1","up":0,"in":1,"up_from":0,"state":["exists","new"]}]}`), nil)
	want := parsed(t, "ok-one-osd")
	want.NeverStartedOSDs = []cephv1alpha1.CephOSDRef{{ID: 1, UUID: "b1"}}
	wantStatus(pass(true), want)
	if got := strings.Join(fake.dumpArgs(t), " "); got != "--connect-timeout 10 osd dump --format json" {
		t.Errorf("ceph called with %q", got)
	}

	// A key that may not read the OSD map: the rest of the report stands,
	// osdMapMessage says why the list is unknown.
	now = now.Add(15 * time.Second)
	fake.dumps(t, nil, []byte("Error EACCES: access denied\n"))
	want = parsed(t, "ok-one-osd")
	want.OSDMapMessage = fake.path + " osd dump: exit status 13: Error EACCES: access denied"
	wantStatus(pass(true), want)
}

// normalize compares statuses the way the server stores them.
func normalize(t *testing.T, st cephv1alpha1.CephStatus) string {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEnvReportWithinSchema publishes the largest status the parser can
// produce; the API server must accept it, so the parser's bounds and the
// schema's agree.
func TestEnvReportWithinSchema(t *testing.T) {
	ns := newCluster(t)
	checks := map[string]any{}
	long := strings.Repeat("ü", 1000)
	for i := range 40 {
		code := fmt.Sprintf("CHECK_%02d_%s", i, strings.Repeat("X", 80))
		checks[code] = map[string]any{"severity": "HEALTH_ERR", "summary": map[string]any{"message": long}, "muted": i%2 == 0}
	}
	var mons []string
	for i := range 30 {
		mons = append(mons, fmt.Sprintf("mon-%02d-%s", i, strings.Repeat("m", 80)))
	}
	out, _ := json.Marshal(map[string]any{
		"fsid":         strings.Repeat("f", 100),
		"health":       map[string]any{"status": "HEALTH_ERR", "checks": checks},
		"quorum_names": mons,
		"monmap":       map[string]any{"num_mons": 30},
		"osdmap":       map[string]any{"num_osds": 5000, "num_up_osds": 4999, "num_in_osds": 5000},
		"pgmap":        map[string]any{"bytes_total": int64(1) << 62, "bytes_used": int64(1) << 61, "bytes_avail": int64(1) << 61},
	})
	fake := newFakeCeph(t)
	fake.prints(t, out)
	cluster, err := report.NewKubeCluster(env.Config, ns, "ceph")
	if err != nil {
		t.Fatal(err)
	}
	cfg := reporterConfig(ns, fake)
	r, err := report.New(cfg, report.NewCommandSource(cfg), cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Pass(context.Background())
	if err != nil {
		t.Fatalf("the API server refused the largest status: %v", err)
	}
	st := getCluster(t, ns).Status.Ceph
	if !res.Published || st == nil || len(st.Checks) != cephv1alpha1.MaxCephHealthChecks || st.ChecksOmitted != 40-cephv1alpha1.MaxCephHealthChecks {
		t.Fatalf("published %v: %+v", res.Published, st)
	}

	// A failure message longer than the schema allows is cut, not refused.
	fake.fails(t, []byte(strings.Repeat("é", 2000)))
	if _, err := r.Pass(context.Background()); err != nil {
		t.Fatalf("a long failure message was refused: %v", err)
	}
	if st := getCluster(t, ns).Status.Ceph; st.Message == "" || len(st.Message) > cephv1alpha1.MaxCephMessageLength {
		t.Errorf("message of %d bytes", len(st.Message))
	}
}

// TestEnvRun runs the loop as the command does, starting before the
// CephCluster exists, and checks that it publishes once the object appears
// and then leaves an idle cluster alone.
func TestEnvRun(t *testing.T) {
	ns := newCluster(t)
	if err := env.Client.Delete(context.Background(), getCluster(t, ns)); err != nil {
		t.Fatal(err)
	}
	fake := newFakeCeph(t)
	fake.prints(t, capture(t, "ok-one-osd.status.json"))
	cfg := reporterConfig(ns, fake)
	cfg.Interval = 100 * time.Millisecond
	r, err := report.NewForCluster(cfg, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	time.Sleep(3 * cfg.Interval)
	createCluster(t, ns)
	var cc *cephv1alpha1.CephCluster
	testenv.Eventually(t, 20*time.Second, func() error {
		cc = getCluster(t, ns)
		if cc.Status.Ceph == nil || cc.Status.Ceph.Health != cephv1alpha1.CephHealthOK {
			return fmt.Errorf("status.ceph %+v", cc.Status.Ceph)
		}
		return nil
	})
	rv := cc.ResourceVersion
	time.Sleep(10 * cfg.Interval)
	if cc = getCluster(t, ns); cc.ResourceVersion != rv {
		t.Errorf("an idle cluster was written to: resourceVersion %s -> %s, status.ceph %+v", rv, cc.ResourceVersion, cc.Status.Ceph)
	}
}

package report_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/report"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// captureFSID is the FSID of the cluster the captures come from.
const captureFSID = "5d9c5368-791c-456a-90e7-2fc64c5c085d"

// capture returns a file captured from a real Ceph 16.2 cluster
// (internal/ceph/testdata/status).
func capture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "internal", "ceph", "testdata", "status", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeCeph is a ceph executable that records its arguments and prints
// what the test put in its files: stdout, or stderr with exit status 1
// when a stderr file exists.
type fakeCeph struct {
	dir, path string
}

func newFakeCeph(t *testing.T) *fakeCeph {
	t.Helper()
	dir := t.TempDir()
	// `osd dump` prints dump-stdout when a test set one (dumps), else the
	// same output as `status` (which holds no OSD list: none never started).
	script := `#!/bin/sh
case " $* " in *" osd dump "*)
	printf '%s\n' "$@" > "` + dir + `/dump-args"
	if [ -e "` + dir + `/dump-stdout" ]; then cat "` + dir + `/dump-stdout"; exit; fi
	if [ -e "` + dir + `/dump-stderr" ]; then cat "` + dir + `/dump-stderr" >&2; exit 13; fi;;
*) printf '%s\n' "$@" > "` + dir + `/args";;
esac
if [ -e "` + dir + `/sleep" ]; then sleep "$(cat "` + dir + `/sleep")"; fi
if [ -e "` + dir + `/stderr" ]; then cat "` + dir + `/stderr" >&2; exit 1; fi
cat "` + dir + `/stdout"
`
	path := filepath.Join(dir, "ceph")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &fakeCeph{dir: dir, path: path}
}

// prints makes the fake print out on stdout and succeed.
func (f *fakeCeph) prints(t *testing.T, out []byte) {
	t.Helper()
	_ = os.Remove(filepath.Join(f.dir, "stderr"))
	if err := os.WriteFile(filepath.Join(f.dir, "stdout"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dumps makes the fake's `osd dump` print out, or, with out nil, print
// stderr and exit 13 (as Ceph does when the key may not run it).
func (f *fakeCeph) dumps(t *testing.T, out, stderr []byte) {
	t.Helper()
	for name, b := range map[string][]byte{"dump-stdout": out, "dump-stderr": stderr} {
		_ = os.Remove(filepath.Join(f.dir, name))
		if b != nil {
			if err := os.WriteFile(filepath.Join(f.dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fails makes the fake print stderr and exit 1.
func (f *fakeCeph) fails(t *testing.T, stderr []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "stderr"), stderr, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeCeph) args(t *testing.T) []string { return f.readArgs(t, "args") }

func (f *fakeCeph) dumpArgs(t *testing.T) []string { return f.readArgs(t, "dump-args") }

func (f *fakeCeph) readArgs(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func validConfig() report.Config {
	cfg := report.DefaultConfig(func(string) string { return "ns" })
	cfg.ClusterName = "ceph"
	return cfg
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg := report.DefaultConfig(func(string) string { return "" })
	cfg.CephBinary, cfg.Interval, cfg.Timeout, cfg.Refresh = "", 0, 500*time.Millisecond, -1
	err := cfg.Validate()
	for _, want := range []string{"namespace is required", "--cluster-name is required", "--ceph-binary", "--interval", "--timeout", "--refresh"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestCommandSource(t *testing.T) {
	ctx := context.Background()
	fake := newFakeCeph(t)
	src := report.CommandSource{Binary: fake.path, Conf: "/etc/ceph/ceph.conf", Keyring: "/keys/keyring", ID: "reporter", Timeout: 2500 * time.Millisecond}

	out := capture(t, "ok-one-osd.status.json")
	fake.prints(t, out)
	got, err := src.Status(ctx)
	if err != nil || string(got) != string(out) {
		t.Fatalf("Status() = %q, %v", got, err)
	}
	want := "--conf /etc/ceph/ceph.conf --keyring /keys/keyring --id reporter --connect-timeout 3 status --format json"
	if args := strings.Join(fake.args(t), " "); args != want {
		t.Errorf("args %q, want %q", args, want)
	}

	// Real failures: the message is the tool's verdict, without the log
	// lines' timestamps, so the same failure always reads the same.
	for _, tc := range []struct{ capture, want string }{
		{"mon-down.stderr", "exit status 1: timed out"},
		{"no-keyring.stderr", "exit status 1: [errno 2] RADOS object not found (error connecting to the cluster)"},
	} {
		fake.fails(t, capture(t, tc.capture))
		_, err := src.Status(ctx)
		if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one ending in %q", tc.capture, err, tc.want)
		}
	}
	fake.fails(t, []byte("2026-11-27T02:32:01.062+0000 7efe719ff6c0 -1 monclient: authenticate NOTE: no keyring found\n"))
	if _, err := src.Status(ctx); err == nil || !strings.HasSuffix(err.Error(), ": monclient: authenticate NOTE: no keyring found") {
		t.Errorf("log-only stderr: %v", err)
	}

	missing := report.CommandSource{Binary: filepath.Join(t.TempDir(), "nope"), Timeout: time.Second}
	if _, err := missing.Status(ctx); err == nil {
		t.Error("a missing binary did not fail")
	}
}

func TestCommandSourceTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the kill grace period")
	}
	fake := newFakeCeph(t)
	fake.prints(t, capture(t, "ok-one-osd.status.json"))
	if err := os.WriteFile(filepath.Join(fake.dir, "sleep"), []byte("60"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := report.CommandSource{Binary: fake.path, Timeout: time.Second}
	start := time.Now()
	_, err := src.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "did not finish within") {
		t.Errorf("error %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("a hung ceph tool held the reporter for %s", d)
	}
}

func TestNeedsWrite(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-ago)} }
	healthy := cephv1alpha1.CephStatus{
		Health: cephv1alpha1.CephHealthOK, FSID: captureFSID,
		OSDs:     cephv1alpha1.CephOSDStatus{Total: 3, Up: 3, In: 3},
		Capacity: cephv1alpha1.CephCapacity{TotalBytes: 100 << 30, UsedBytes: 1 << 30, AvailableBytes: 99 << 30},
	}
	published := func(ago time.Duration, change func(*cephv1alpha1.CephStatus)) *cephv1alpha1.CephStatus {
		st := healthy
		st.LastChecked = at(ago)
		if change != nil {
			change(&st)
		}
		return &st
	}
	cases := []struct {
		name    string
		current *cephv1alpha1.CephStatus
		next    cephv1alpha1.CephStatus
		want    bool
	}{
		{"nothing published", nil, healthy, true},
		{"published without a time", &cephv1alpha1.CephStatus{Health: cephv1alpha1.CephHealthOK}, healthy, true},
		{"unchanged and recent", published(time.Minute, nil), healthy, false},
		{"unchanged, empty lists from the server", published(time.Minute, func(s *cephv1alpha1.CephStatus) { s.Checks = []cephv1alpha1.CephHealthCheck{} }), healthy, false},
		{"unchanged but due for refresh", published(5*time.Minute, nil), healthy, true},
		{"health changed", published(time.Second, func(s *cephv1alpha1.CephStatus) { s.Health = cephv1alpha1.CephHealthWarn }), healthy, true},
		{"an OSD went down", published(time.Second, func(s *cephv1alpha1.CephStatus) { s.OSDs.Up = 2 }), healthy, true},
		{"a check message changed", published(time.Second, func(s *cephv1alpha1.CephStatus) {
			s.Checks = []cephv1alpha1.CephHealthCheck{{Code: "PG_DEGRADED", Severity: cephv1alpha1.CephHealthWarn, Message: "10 pgs degraded"}}
		}), func() cephv1alpha1.CephStatus {
			st := healthy
			st.Checks = []cephv1alpha1.CephHealthCheck{{Code: "PG_DEGRADED", Severity: cephv1alpha1.CephHealthWarn, Message: "9 pgs degraded"}}
			return st
		}(), true},
		{"used space drifted a little", published(time.Minute, func(s *cephv1alpha1.CephStatus) {
			s.Capacity.UsedBytes += 160 << 10
			s.Capacity.AvailableBytes -= 160 << 10
		}), healthy, false},
		{"used space moved by more than 1%", published(time.Minute, func(s *cephv1alpha1.CephStatus) {
			s.Capacity.UsedBytes += 2 << 30
			s.Capacity.AvailableBytes -= 2 << 30
		}), healthy, true},
		{"total capacity changed", published(time.Minute, func(s *cephv1alpha1.CephStatus) { s.Capacity.TotalBytes++ }), healthy, true},
		{"ceph status started failing", published(time.Minute, nil), cephv1alpha1.CephStatus{Message: "timed out"}, true},
		{"still failing the same way", &cephv1alpha1.CephStatus{Message: "timed out", LastChecked: at(time.Minute)}, cephv1alpha1.CephStatus{Message: "timed out"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := report.NeedsWrite(tc.current, tc.next, now, 5*time.Minute); got != tc.want {
				t.Errorf("NeedsWrite = %v, want %v", got, tc.want)
			}
		})
	}
}

// memCluster is a Cluster in memory that counts writes.
type memCluster struct {
	exists  bool
	st      *cephv1alpha1.CephStatus
	writes  int
	readErr error
}

func (m *memCluster) CephStatus(context.Context) (*cephv1alpha1.CephStatus, bool, error) {
	return m.st, m.exists, m.readErr
}

func (m *memCluster) ApplyCephStatus(_ context.Context, st cephv1alpha1.CephStatus) error {
	m.writes++
	m.st = &st
	return nil
}

type staticSource struct {
	out     []byte
	err     error
	dump    []byte
	dumpErr error
}

func (s *staticSource) Status(context.Context) ([]byte, error) { return s.out, s.err }

func (s *staticSource) OSDDump(context.Context) ([]byte, error) {
	if s.dump == nil && s.dumpErr == nil {
		return []byte(`{"fsid":"` + captureFSID + `","osds":[]}`), nil
	}
	return s.dump, s.dumpErr
}

func TestPass(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cluster := &memCluster{}
	src := &staticSource{out: capture(t, "ok-one-osd.status.json")}
	r, err := report.New(validConfig(), src, cluster, clock)
	if err != nil {
		t.Fatal(err)
	}

	res, err := r.Pass(ctx)
	if err != nil || !res.ClusterMissing || cluster.writes != 0 {
		t.Fatalf("without a CephCluster: %+v, %v, %d writes", res, err, cluster.writes)
	}
	cluster.exists = true
	if res, err = r.Pass(ctx); err != nil || !res.Published || cluster.writes != 1 {
		t.Fatalf("first report: %+v, %v, %d writes", res, err, cluster.writes)
	}
	if cluster.st.Health != cephv1alpha1.CephHealthOK || !cluster.st.LastChecked.Time.Equal(now) {
		t.Errorf("published %+v", cluster.st)
	}
	// An idle cluster: one write per refresh period, not per interval.
	for range 20 {
		now = now.Add(15 * time.Second)
		if _, err := r.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if cluster.writes != 2 {
		t.Errorf("%d writes over 5 idle minutes, want 2 (the first and one refresh)", cluster.writes)
	}

	// Ceph stops answering: health unknown, the message says why, and the
	// figures of the last report are dropped.
	src.out, src.err = nil, errors.New("ceph status: exit status 1: timed out")
	if res, err = r.Pass(ctx); err != nil || !res.Published {
		t.Fatalf("failing ceph status: %+v, %v", res, err)
	}
	want := cephv1alpha1.CephStatus{Message: "ceph status: exit status 1: timed out", LastChecked: cluster.st.LastChecked}
	if cluster.st.Health != "" || cluster.st.Message != want.Message || cluster.st.OSDs != (cephv1alpha1.CephOSDStatus{}) || cluster.st.FSID != "" {
		t.Errorf("published %+v, want %+v", cluster.st, want)
	}
	writes := cluster.writes
	now = now.Add(15 * time.Second)
	if res, _ = r.Pass(ctx); res.Published || cluster.writes != writes {
		t.Errorf("the same failure was written again")
	}

	// Output that is not a status is a failure too, never a verdict.
	src.out, src.err = []byte("Error initializing cluster client"), nil
	if res, _ = r.Pass(ctx); !res.Published || cluster.st.Health != "" || !strings.Contains(cluster.st.Message, "decoding ceph status output") {
		t.Errorf("garbage output published as %+v", cluster.st)
	}

	// An API server error is the pass's error.
	cluster.readErr = errors.New("connection refused")
	if _, err := r.Pass(ctx); err == nil {
		t.Error("a read error was not returned")
	}
}

// TestObserveOSDMap: the never-started OSDs come from `ceph osd dump`; when
// it fails, or prints something else than an OSD map, the list is unknown
// (osdMapMessage says why) and the rest of the status is kept.
func TestObserveOSDMap(t *testing.T) {
	ctx := context.Background()
	status := capture(t, "ok-one-osd.status.json")
	base, err := ceph.ParseStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	src := &staticSource{out: status, dump: []byte(`{"fsid":"` + captureFSID + `","osds":[` +
		`{"osd":3,"uuid":"c3","up":0,"up_from":0,"state":["exists","new"]}]}`)}
	st := report.Observe(ctx, src)
	if len(st.NeverStartedOSDs) != 1 || st.NeverStartedOSDs[0] != (cephv1alpha1.CephOSDRef{ID: 3, UUID: "c3"}) || st.OSDMapMessage != "" {
		t.Errorf("never started: %+v, message %q", st.NeverStartedOSDs, st.OSDMapMessage)
	}
	for name, s := range map[string]*staticSource{
		"refused": {out: status, dumpErr: errors.New("ceph osd dump: exit status 13: Error EACCES: access denied")},
		"garbage": {out: status, dump: []byte("Error initializing cluster client")},
	} {
		st := report.Observe(ctx, s)
		if st.OSDMapMessage == "" || st.NeverStartedOSDs != nil {
			t.Errorf("%s: list %+v, message %q", name, st.NeverStartedOSDs, st.OSDMapMessage)
		}
		st.OSDMapMessage = ""
		if !reflect.DeepEqual(st, base) {
			t.Errorf("%s: the rest of the status changed:\n got %+v\nwant %+v", name, st, base)
		}
	}
}

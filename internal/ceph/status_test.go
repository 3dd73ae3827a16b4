package ceph

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// captureFSID is the FSID of the test cluster the captures in
// testdata/status come from.
const captureFSID = "5d9c5368-791c-456a-90e7-2fc64c5c085d"

func readCapture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "status", name+".status.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check is a compact way to write an expected health check.
func check(code, sev, msg string, muted bool) cephv1alpha1.CephHealthCheck {
	return cephv1alpha1.CephHealthCheck{Code: code, Severity: cephv1alpha1.CephHealth("HEALTH_" + sev), Message: msg, Muted: muted}
}

var (
	insecureReclaim = check("AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED", "WARN", "mon is allowing insecure global_id reclaim", false)
	monDiskLow      = check("MON_DISK_LOW", "WARN", "mon a is low on available space", false)
	tooFewOSDs      = check("TOO_FEW_OSDS", "WARN", "OSD count 1 < osd_pool_default_size 3", false)
	oneMon          = cephv1alpha1.CephMonitorStatus{Total: 1, InQuorum: 1, Quorum: []string{"a"}}
	oneOSDUp        = cephv1alpha1.CephOSDStatus{Total: 1, Up: 1, In: 1}
)

func capacity(used, avail int64) cephv1alpha1.CephCapacity {
	return cephv1alpha1.CephCapacity{TotalBytes: 6442450944, UsedBytes: used, AvailableBytes: avail}
}

// TestParseStatusCaptures parses every real `ceph status --format json`
// output in testdata/status (Ceph 16.2.15; see the README there for the
// state each was taken in) and compares the whole result.
func TestParseStatusCaptures(t *testing.T) {
	cases := []struct {
		capture string
		want    cephv1alpha1.CephStatus
	}{
		{"mon-only", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{insecureReclaim, monDiskLow},
			Monitors: oneMon,
		}},
		{"mon-only-hardened", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthOK, FSID: "ec96dd2f-1f13-4dfe-a848-8756e8389612", Monitors: oneMon,
		}},
		{"mon-mgr", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{insecureReclaim, monDiskLow, check("TOO_FEW_OSDS", "WARN", "OSD count 0 < osd_pool_default_size 3", false)},
			Monitors: oneMon,
		}},
		{"osd-created-down", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{insecureReclaim, monDiskLow, tooFewOSDs},
			Monitors: oneMon, OSDs: cephv1alpha1.CephOSDStatus{Total: 1, Up: 0, In: 1},
		}},
		{"one-osd-up", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{insecureReclaim, monDiskLow, tooFewOSDs},
			Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304283648, 6138167296),
		}},
		{"pool-size3-one-osd", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{insecureReclaim, monDiskLow,
				check("PG_AVAILABILITY", "WARN", "Reduced data availability: 32 pgs inactive", false), tooFewOSDs},
			Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304332800, 6138118144),
		}},
		{"pool-size1", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{insecureReclaim, monDiskLow,
				check("POOL_NO_REDUNDANCY", "WARN", "1 pool(s) have no replicas configured", false), tooFewOSDs},
			Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304357376, 6138093568),
		}},
		{"warn-one-muted", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{
				check("POOL_NO_REDUNDANCY", "WARN", "1 pool(s) have no replicas configured", false),
				check("TOO_FEW_OSDS", "WARN", "OSD count 1 < osd_pool_default_size 3", true)},
			Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304357376, 6138093568),
		}},
		{"ok-all-muted", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthOK, Checks: []cephv1alpha1.CephHealthCheck{
				check("POOL_NO_REDUNDANCY", "WARN", "1 pool(s) have no replicas configured", true),
				check("TOO_FEW_OSDS", "WARN", "OSD count 1 < osd_pool_default_size 3", true)},
			Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304357376, 6138093568),
		}},
		{"ok-one-osd", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthOK, Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304451584, 6137999360),
		}},
		{"err-osd-full", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthErr, Checks: []cephv1alpha1.CephHealthCheck{
				check("OSD_FULL", "ERR", "1 full osd(s)", false),
				check("POOL_FULL", "WARN", "1 pool(s) full", false)},
			Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304418816, 6138032128),
		}},
		{"warn-osd-down", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{
				check("OSD_DOWN", "WARN", "1 osds down", false),
				check("OSD_HOST_DOWN", "WARN", "1 host (1 osds) down", false),
				check("OSD_ROOT_DOWN", "WARN", "1 root (1 osds) down", false)},
			Monitors: oneMon, OSDs: cephv1alpha1.CephOSDStatus{Total: 1, Up: 0, In: 1}, Capacity: capacity(304451584, 6137999360),
		}},
		{"warn-mgr-down", cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{check("MGR_DOWN", "WARN", "no active mgr", false)},
			Monitors: oneMon, OSDs: oneOSDUp, Capacity: capacity(304451584, 6137999360),
		}},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "status", "*.status.json"))
	if len(files) != len(cases) {
		t.Errorf("%d captures in testdata/status, %d cases: every capture needs a case", len(files), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.capture, func(t *testing.T) {
			got, err := ParseStatus(readCapture(t, tc.capture))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want.FSID == "" {
				want.FSID = captureFSID
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseStatus:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestParseStatusCapturesMatchHealthDetail checks the parsed checks against
// `ceph health detail --format json` taken at the same moment: the same
// codes, severities and mutes.
func TestParseStatusCapturesMatchHealthDetail(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "status", "*.health.json"))
	if len(files) == 0 {
		t.Fatal("no health captures")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".health.json")
		st, err := ParseStatus(readCapture(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var detail struct {
			Status string `json:"status"`
			Checks map[string]struct {
				Severity string `json:"severity"`
				Muted    bool   `json:"muted"`
			} `json:"checks"`
		}
		if err := json.Unmarshal(b, &detail); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if string(st.Health) != detail.Status || len(st.Checks) != len(detail.Checks) {
			t.Errorf("%s: status has %s with %d checks, health detail %s with %d", name, st.Health, len(st.Checks), detail.Status, len(detail.Checks))
		}
		for _, c := range st.Checks {
			d, ok := detail.Checks[c.Code]
			if !ok || d.Severity != string(c.Severity) || d.Muted != c.Muted {
				t.Errorf("%s: check %+v, health detail %+v (present %v)", name, c, d, ok)
			}
		}
	}
}

func TestParseStatusShapes(t *testing.T) {
	t.Run("nautilus nests the OSD map", func(t *testing.T) {
		// Synthetic: the shape of Ceph 14.2's osdmap section.
		in := `{"fsid":"f","health":{"status":"HEALTH_OK","checks":{}},"osdmap":{"osdmap":{"epoch":9,"num_osds":3,"num_up_osds":2,"num_in_osds":3}}}`
		st, err := ParseStatus([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if st.OSDs != (cephv1alpha1.CephOSDStatus{Total: 3, Up: 2, In: 3}) {
			t.Errorf("OSDs %+v", st.OSDs)
		}
	})
	t.Run("the CLI's leading newline and unknown fields", func(t *testing.T) {
		in := "\n" + `{"fsid":"f","health":{"status":"HEALTH_WARN","checks":{"X":{"severity":"HEALTH_WARN","summary":{"message":"m","count":1},"detail":[],"muted":false,"new":1}},"mutes":[]},"future":{"a":1}}` + "\n"
		st, err := ParseStatus([]byte(in))
		if err != nil || len(st.Checks) != 1 || st.Checks[0].Code != "X" {
			t.Fatalf("%+v, %v", st, err)
		}
	})
	t.Run("odd numbers are clamped, not fatal", func(t *testing.T) {
		in := `{"fsid":"f","health":{"status":"HEALTH_OK"},"monmap":{"num_mons":-3},"osdmap":{"num_osds":1e12,"num_up_osds":2.5},"pgmap":{"bytes_total":1e40,"bytes_used":-1}}`
		st, err := ParseStatus([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if st.Monitors.Total != 0 || st.OSDs.Total != 1<<31-1 || st.OSDs.Up != 2 || st.Capacity.TotalBytes != 1<<63-1 || st.Capacity.UsedBytes != 0 {
			t.Errorf("%+v", st)
		}
	})

	for _, tc := range []struct{ name, in, wantErr string }{
		{"empty", "", "decoding"},
		{"stderr text", "[errno 110] RADOS timed out error connecting to the cluster", "decoding"},
		{"truncated", `{"fsid":"f","health":{"status":"HEALTH_OK"`, "decoding"},
		{"no fsid", `{"health":{"status":"HEALTH_OK"}}`, "no fsid"},
		{"no health", `{"fsid":"f"}`, "no health"},
		{"unknown health", `{"fsid":"f","health":{"status":"HEALTH_SO_SO"}}`, `unknown health "HEALTH_SO_SO"`},
		{"unknown severity", `{"fsid":"f","health":{"status":"HEALTH_WARN","checks":{"X":{"severity":"HEALTH_OK"}}}}`, "unknown severity"},
		{"wrong type", `{"fsid":"f","health":{"status":"HEALTH_OK"},"quorum_names":"a"}`, "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStatus([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestParseStatusBounds checks that a cluster raising many checks with long
// messages still yields a status within the schema's limits, keeping the
// errors.
func TestParseStatusBounds(t *testing.T) {
	st, err := ParseStatus([]byte(manyChecks(30, 2000, 40)))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Checks) != cephv1alpha1.MaxCephHealthChecks || st.ChecksOmitted != 30+1-cephv1alpha1.MaxCephHealthChecks {
		t.Fatalf("%d checks, %d omitted", len(st.Checks), st.ChecksOmitted)
	}
	if st.Checks[0].Code != "AN_ERROR" || st.Checks[0].Severity != cephv1alpha1.CephHealthErr {
		t.Errorf("the error is not first: %+v", st.Checks[0])
	}
	for _, c := range st.Checks {
		if len(c.Message) > cephv1alpha1.MaxCephMessageLength || !utf8.ValidString(c.Message) || !strings.HasSuffix(c.Message, "…") {
			t.Errorf("message of %s: %d bytes, valid UTF-8 %v", c.Code, len(c.Message), utf8.ValidString(c.Message))
		}
	}
	if len(st.Monitors.Quorum) != cephv1alpha1.MaxCephQuorumNames || st.Monitors.InQuorum != 40 {
		t.Errorf("quorum: %d names, %d in quorum", len(st.Monitors.Quorum), st.Monitors.InQuorum)
	}
}

// manyChecks returns a ceph status output with n warnings and one error,
// each message msgLen bytes of multi-byte text, and mons monitors in quorum.
func manyChecks(n, msgLen, mons int) string {
	checks := map[string]any{}
	msg := strings.Repeat("é", msgLen/2)
	for i := range n {
		checks[fmt.Sprintf("WARNING_%02d", i)] = map[string]any{"severity": "HEALTH_WARN", "summary": map[string]any{"message": msg}, "muted": false}
	}
	checks["AN_ERROR"] = map[string]any{"severity": "HEALTH_ERR", "summary": map[string]any{"message": msg}, "muted": false}
	var names []string
	for i := range mons {
		names = append(names, fmt.Sprintf("mon-%d", i))
	}
	b, _ := json.Marshal(map[string]any{
		"fsid":         captureFSID,
		"health":       map[string]any{"status": "HEALTH_ERR", "checks": checks},
		"quorum_names": names,
		"monmap":       map[string]any{"num_mons": mons},
	})
	return string(b)
}

func TestHealthReady(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	parsed := func(capture string) *cephv1alpha1.CephStatus {
		st, err := ParseStatus(readCapture(t, capture))
		if err != nil {
			t.Fatal(err)
		}
		st.LastChecked = &metav1.Time{Time: now.Add(-time.Minute)}
		return &st
	}
	with := func(capture string, change func(*cephv1alpha1.CephStatus)) *cephv1alpha1.CephStatus {
		st := parsed(capture)
		change(st)
		return st
	}
	cases := []struct {
		name        string
		st          *cephv1alpha1.CephStatus
		fsid        string
		wantOK      bool
		wantReason  string
		wantMessage string
	}{
		{"no report", nil, captureFSID, false, cephv1alpha1.ReasonCephStatusUnknown, "No Ceph health report yet"},
		{"never checked", &cephv1alpha1.CephStatus{}, captureFSID, false, cephv1alpha1.ReasonCephStatusUnknown, "No Ceph health report yet"},
		{"healthy", parsed("ok-one-osd"), captureFSID, true, cephv1alpha1.ReasonCephHealthy, "HEALTH_OK"},
		{"healthy without an FSID to compare", parsed("ok-one-osd"), "", true, cephv1alpha1.ReasonCephHealthy, "HEALTH_OK"},
		{"healthy, checked in the future (clock skew)", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.LastChecked = &metav1.Time{Time: now.Add(time.Minute)}
		}), captureFSID, true, cephv1alpha1.ReasonCephHealthy, "HEALTH_OK"},
		{"just within max age", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.LastChecked = &metav1.Time{Time: now.Add(-DefaultStatusMaxAge)}
		}), captureFSID, true, cephv1alpha1.ReasonCephHealthy, "HEALTH_OK"},
		{"stale", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.LastChecked = &metav1.Time{Time: now.Add(-DefaultStatusMaxAge - time.Second)}
		}), captureFSID, false, cephv1alpha1.ReasonCephStatusStale, "10m1s old (more than 10m0s)"},
		{"ceph status failed", &cephv1alpha1.CephStatus{LastChecked: &metav1.Time{Time: now}, Message: "exit status 1: timed out"},
			captureFSID, false, cephv1alpha1.ReasonCephStatusFailed, "ceph status failed: exit status 1: timed out"},
		{"no health, no message", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) { s.Health = "" }),
			captureFSID, false, cephv1alpha1.ReasonCephStatusFailed, "no health in the report"},
		{"another cluster", parsed("ok-one-osd"), "00000000-1111-2222-3333-444444444444", false, cephv1alpha1.ReasonCephFSIDMismatch,
			"belong to Ceph cluster " + captureFSID + ", not 00000000-1111-2222-3333-444444444444"},
		{"all warnings muted", parsed("ok-all-muted"), captureFSID, true, cephv1alpha1.ReasonCephHealthy, "HEALTH_OK (muted: POOL_NO_REDUNDANCY, TOO_FEW_OSDS)"},
		{"allowed warning, another muted", parsed("warn-one-muted"), captureFSID, true, cephv1alpha1.ReasonCephHealthy,
			"only warnings a small cluster always has: POOL_NO_REDUNDANCY (1 pool(s) have no replicas configured) (muted: TOO_FEW_OSDS)"},
		{"fresh cluster: insecure reclaim and low disk block", parsed("one-osd-up"), captureFSID, false, cephv1alpha1.ReasonCephHealthWarn,
			"HEALTH_WARN: AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED (mon is allowing insecure global_id reclaim); MON_DISK_LOW (mon a is low on available space); TOO_FEW_OSDS"},
		{"only allowed warnings", with("pool-size1", func(s *cephv1alpha1.CephStatus) {
			s.Checks = s.Checks[2:] // drop the insecure-reclaim and disk warnings
		}), captureFSID, true, cephv1alpha1.ReasonCephHealthy, "POOL_NO_REDUNDANCY (1 pool(s) have no replicas configured); TOO_FEW_OSDS (OSD count 1 < osd_pool_default_size 3)"},
		{"inactive PGs block", with("pool-size3-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.Checks = s.Checks[2:]
		}), captureFSID, false, cephv1alpha1.ReasonCephHealthWarn, "HEALTH_WARN: PG_AVAILABILITY (Reduced data availability: 32 pgs inactive); TOO_FEW_OSDS"},
		{"OSD down", parsed("warn-osd-down"), captureFSID, false, cephv1alpha1.ReasonCephHealthWarn, "OSD_DOWN (1 osds down)"},
		{"mgr down", parsed("warn-mgr-down"), captureFSID, false, cephv1alpha1.ReasonCephHealthWarn, "HEALTH_WARN: MGR_DOWN (no active mgr)"},
		{"error", parsed("err-osd-full"), captureFSID, false, cephv1alpha1.ReasonCephHealthErr, "HEALTH_ERR: OSD_FULL (1 full osd(s)); POOL_FULL (1 pool(s) full)"},
		{"error even if only allowed codes", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.Health = cephv1alpha1.CephHealthErr
			s.Checks = []cephv1alpha1.CephHealthCheck{check("TOO_FEW_OSDS", "ERR", "", false)}
		}), captureFSID, false, cephv1alpha1.ReasonCephHealthErr, "HEALTH_ERR: TOO_FEW_OSDS"},
		// An upgrade to 20.2.4 of a cluster created earlier: the status
		// says only the key type is at fault, and where to read more.
		{"only the key-type errors of an upgrade to 20.2.4", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.Health = cephv1alpha1.CephHealthErr
			s.Checks = []cephv1alpha1.CephHealthCheck{check("AUTH_INSECURE_SERVICE_KEY_TYPE", "ERR", "4 auth service entities with insecure key types", false),
				check("AUTH_INSECURE_KEYS_ALLOWED", "ERR", "Monitors are configured to allow auth using insecure key types", false)}
		}), captureFSID, false, cephv1alpha1.ReasonCephHealthErr, "AUTH_INSECURE_KEYS_ALLOWED (Monitors are configured to allow auth using insecure key types). Only the cephx key type is at fault"},
		{"key-type errors and another", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.Health = cephv1alpha1.CephHealthErr
			s.Checks = []cephv1alpha1.CephHealthCheck{check("AUTH_INSECURE_SERVICE_KEY_TYPE", "ERR", "", false), check("OSD_FULL", "ERR", "1 full osd(s)", false)}
		}), captureFSID, false, cephv1alpha1.ReasonCephHealthErr, "HEALTH_ERR: AUTH_INSECURE_SERVICE_KEY_TYPE; OSD_FULL (1 full osd(s))"},
		// After the keys moved to AES-256: only the rotating service
		// keys are left, which pass by themselves.
		{"only the rotating service keys after a key migration", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.Health = cephv1alpha1.CephHealthWarn
			s.Checks = []cephv1alpha1.CephHealthCheck{check(CheckRotatingKeys, "WARN", "4 rotating auth service keys using insecure key types", false)}
		}), captureFSID, false, cephv1alpha1.ReasonCephHealthWarn, "using insecure key types). Only the monitors' rotating service keys are still AES ones"},
		{"the rotating service keys and another warning", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) {
			s.Health = cephv1alpha1.CephHealthWarn
			s.Checks = []cephv1alpha1.CephHealthCheck{check(CheckRotatingKeys, "WARN", "", false), check("MON_DISK_LOW", "WARN", "", false)}
		}), captureFSID, false, cephv1alpha1.ReasonCephHealthWarn, "MON_DISK_LOW"},
		{"warning without a listed check", with("ok-one-osd", func(s *cephv1alpha1.CephStatus) { s.Health = cephv1alpha1.CephHealthWarn }),
			captureFSID, false, cephv1alpha1.ReasonCephHealthWarn, "HEALTH_WARN: no check listed"},
		{"allowed warnings but some left out of the list", with("pool-size1", func(s *cephv1alpha1.CephStatus) {
			s.Checks, s.ChecksOmitted = s.Checks[3:], 2
		}), captureFSID, false, cephv1alpha1.ReasonCephHealthWarn, "TOO_FEW_OSDS (OSD count 1 < osd_pool_default_size 3); and 2 more"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason, msg := HealthReady(tc.st, tc.fsid, now, DefaultStatusMaxAge)
			if ok != tc.wantOK || reason != tc.wantReason || !strings.Contains(msg, tc.wantMessage) {
				t.Errorf("HealthReady = %v, %s, %q; want %v, %s, containing %q", ok, reason, msg, tc.wantOK, tc.wantReason, tc.wantMessage)
			}
		})
	}
}

// FuzzParseStatus checks that the parser never panics and that whatever it
// accepts is within the limits the CephCluster schema enforces, so the
// reporter can never publish a status the API server rejects.
func FuzzParseStatus(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "status", "*.status.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(manyChecks(25, 600, 20)))
	f.Add([]byte(`{"fsid":"f","health":{"status":"HEALTH_OK"},"osdmap":{"osdmap":{"num_osds":3}}}`))
	f.Add([]byte("timed out"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatus(b)
		if err != nil {
			if !reflect.DeepEqual(st, cephv1alpha1.CephStatus{}) {
				t.Fatalf("non-empty status with error %v", err)
			}
			return
		}
		if _, ok := parseHealth(string(st.Health)); !ok || st.FSID == "" || len(st.FSID) > 64 {
			t.Fatalf("health %q, fsid %q", st.Health, st.FSID)
		}
		if len(st.Checks) > cephv1alpha1.MaxCephHealthChecks || st.ChecksOmitted < 0 || len(st.Monitors.Quorum) > cephv1alpha1.MaxCephQuorumNames {
			t.Fatalf("%d checks, %d omitted, %d quorum names", len(st.Checks), st.ChecksOmitted, len(st.Monitors.Quorum))
		}
		codes := map[string]bool{}
		for _, c := range st.Checks {
			if c.Code == "" || len(c.Code) > maxCheckCodeLength || codes[c.Code] || !utf8.ValidString(c.Code) {
				t.Fatalf("bad or duplicate code %q", c.Code)
			}
			codes[c.Code] = true
			if c.Severity != cephv1alpha1.CephHealthWarn && c.Severity != cephv1alpha1.CephHealthErr {
				t.Fatalf("severity %q", c.Severity)
			}
			if len(c.Message) > cephv1alpha1.MaxCephMessageLength || !utf8.ValidString(c.Message) {
				t.Fatalf("message of %d bytes", len(c.Message))
			}
		}
		for _, n := range st.Monitors.Quorum {
			if len(n) > 64 {
				t.Fatalf("quorum name of %d bytes", len(n))
			}
		}
		if st.OSDs.Total < 0 || st.OSDs.Up < 0 || st.OSDs.In < 0 || st.Monitors.Total < 0 || st.Capacity.TotalBytes < 0 || st.Capacity.UsedBytes < 0 || st.Capacity.AvailableBytes < 0 {
			t.Fatalf("negative figure: %+v", st)
		}
		// The rule must not panic on anything the parser produces.
		st.LastChecked = &metav1.Time{Time: time.Unix(0, 0)}
		HealthReady(&st, st.FSID, time.Unix(1, 0), time.Minute)
	})
}

// TestKeyTypeHintOnlyAlone: the key-type hint is given only when nothing
// else is wrong, and never for the insecure global_id reclaim warning of
// earlier releases.
func TestKeyTypeHintOnlyAlone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks []cephv1alpha1.CephHealthCheck
		want   bool
	}{
		{"key types only", []cephv1alpha1.CephHealthCheck{check("AUTH_INSECURE_CLIENT_KEY_TYPE", "ERR", "", false), check("AUTH_INSECURE_SERVICE_TICKETS", "ERR", "", false)}, true},
		{"with a muted other", []cephv1alpha1.CephHealthCheck{check("AUTH_INSECURE_CLIENT_KEY_TYPE", "ERR", "", false), check("OSD_FULL", "ERR", "", true)}, true},
		{"with another error", []cephv1alpha1.CephHealthCheck{check("AUTH_INSECURE_CLIENT_KEY_TYPE", "ERR", "", false), check("OSD_FULL", "ERR", "", false)}, false},
		{"global_id reclaim", []cephv1alpha1.CephHealthCheck{check("AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED", "ERR", "", false)}, false},
		{"none", nil, false},
	} {
		st := &cephv1alpha1.CephStatus{Health: cephv1alpha1.CephHealthErr, Checks: tc.checks}
		if got := OnlyKeyTypeChecks(st); got != tc.want {
			t.Errorf("%s: OnlyKeyTypeChecks = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRotatingKeysHintOnlyAlone: the hint about the rotating service keys
// is given only when they are all that is left.
func TestRotatingKeysHintOnlyAlone(t *testing.T) {
	st := &cephv1alpha1.CephStatus{Health: cephv1alpha1.CephHealthWarn, Checks: []cephv1alpha1.CephHealthCheck{
		{Code: CheckRotatingKeys, Severity: cephv1alpha1.CephHealthWarn}, {Code: "MON_DISK_LOW", Severity: cephv1alpha1.CephHealthWarn}}}
	if onlyRotatingKeys(st, AllowedWarnings()) {
		t.Error("the hint is given beside MON_DISK_LOW")
	}
	st.Checks[1].Muted = true
	if !onlyRotatingKeys(st, AllowedWarnings()) {
		t.Error("no hint when the other check is muted")
	}
}

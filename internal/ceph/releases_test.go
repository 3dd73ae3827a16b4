package ceph

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// TestReleaseCaptures reads, with the operator's parsers, what the ceph CLI
// of each Ceph release the real-node tests run printed on a one-node
// cluster of three OSDs (testdata/releases; see the README there): the
// version, the status and its health checks, the OSD map.
func TestReleaseCaptures(t *testing.T) {
	cases := []struct {
		dir     string
		version Version
		health  cephv1alpha1.CephHealth
		checks  []string
		healthy bool
	}{
		// Debian trixie's Reef as packaged: every manager module fails
		// to import bcrypt in its subinterpreter. Ceph says so, and the
		// cluster is not taken as healthy.
		{"18.2.7-mgr-modules-failed", Version{18, 2, 7}, cephv1alpha1.CephHealthWarn, []string{"MGR_MODULE_DEPENDENCY"}, false},
		// The image with the import moved and the operator without
		// restful: every module loads, the cluster is healthy.
		{"18.2.7", Version{18, 2, 7}, cephv1alpha1.CephHealthOK, nil, true},
	}
	dirs, _ := filepath.Glob(filepath.Join("testdata", "releases", "*", "status.json"))
	if len(dirs) != len(cases) {
		t.Errorf("%d captures in testdata/releases, %d cases: every capture needs a case", len(dirs), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			read := func(name string) []byte {
				t.Helper()
				b, err := os.ReadFile(filepath.Join("testdata", "releases", tc.dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			if v, err := ParseVersion(string(read("version.txt"))); err != nil || v != tc.version {
				t.Errorf("ParseVersion = %v, %v; want %v", v, err, tc.version)
			}
			if v := tc.version; v.Less(MinSupportedVersion) {
				t.Errorf("%v is below the minimum supported version %v", v, MinSupportedVersion)
			}

			st, err := ParseStatus(read("status.json"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Health != tc.health || st.OSDs != (cephv1alpha1.CephOSDStatus{Total: 3, Up: 3, In: 3}) ||
				st.Monitors.Total != 1 || st.Monitors.InQuorum != 1 || st.Capacity.TotalBytes == 0 {
				t.Errorf("ParseStatus = %+v; want %s, 3 OSDs up and in, 1 monitor in quorum, a capacity", st, tc.health)
			}
			var codes []string
			for _, c := range st.Checks {
				codes = append(codes, c.Code)
			}
			if !slices.Equal(codes, tc.checks) {
				t.Errorf("checks %v, want %v", codes, tc.checks)
			}
			// The same checks as `ceph health detail` taken next.
			var detail struct {
				Status string                     `json:"status"`
				Checks map[string]json.RawMessage `json:"checks"`
			}
			if err := json.Unmarshal(read("health.json"), &detail); err != nil {
				t.Fatal(err)
			}
			if detail.Status != string(st.Health) || len(detail.Checks) != len(st.Checks) {
				t.Errorf("health detail %s with %d checks, status %s with %d", detail.Status, len(detail.Checks), st.Health, len(st.Checks))
			}
			now := time.Now()
			st.LastChecked = &metav1.Time{Time: now}
			ok, reason, msg := HealthReady(&st, st.FSID, now, DefaultStatusMaxAge)
			if ok != tc.healthy {
				t.Errorf("HealthReady = %v (%s: %s), want %v", ok, reason, msg, tc.healthy)
			}
			for _, c := range tc.checks {
				if !tc.healthy && !strings.Contains(msg, c) {
					t.Errorf("HealthReady's message does not name %s: %s", c, msg)
				}
			}

			never, _, err := NeverStartedOSDs(read("osd-dump.json"))
			if err != nil || len(never) != 0 {
				t.Errorf("NeverStartedOSDs = %v, %v; want none: all three OSDs started", never, err)
			}
		})
	}
}

package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// conds returns a cluster's conditions as type -> "Status/Reason", the part
// of a condition the tests compare (lastTransitionTime is ignored).
func conds(c *cephv1alpha1.CephCluster) map[string]string {
	out := map[string]string{}
	for _, x := range c.Status.Conditions {
		out[x.Type] = string(x.Status) + "/" + x.Reason
		if x.ObservedGeneration != c.Generation {
			out[x.Type] += "/stale"
		}
	}
	return out
}

// testNow is when the status tests' reconciles run.
var testNow = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

// monsUp is a monitor state with one available monitor and manager.
var monsUp = monState{mons: []monplan.Mon{{Name: "a", Node: "n", IP: "127.2.0.1", PortV2: 3300, PortV1: 6789}}, ready: map[string]bool{"a": true}, mgrReady: true, bootstrapped: true}

// partsDone are DisksDiscovered and OSDsProvisioned, True for generation gen.
func partsDone(gen int64) []metav1.Condition {
	return []metav1.Condition{
		{Type: cephv1alpha1.ConditionDisksDiscovered, Status: metav1.ConditionTrue, Reason: "Done", ObservedGeneration: gen},
		{Type: cephv1alpha1.ConditionOSDsProvisioned, Status: metav1.ConditionTrue, Reason: "Done", ObservedGeneration: gen},
		{Type: cephv1alpha1.ConditionOSDsUpdated, Status: metav1.ConditionTrue, Reason: "Done", ObservedGeneration: gen},
	}
}

func TestSetClusterStatus(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing []metav1.Condition
		observed observed
		// report is status.ceph; a fresh HEALTH_OK one when nil.
		report  *cephv1alpha1.CephStatus
		want    map[string]string
		wantGen int64
	}{
		{
			name:     "configured, discovered and provisioned is ready",
			existing: partsDone(3),
			observed: observed{fsid: "f", configured: true, mon: monsUp},
			want: map[string]string{
				"Ready": "True/Reconciled", "Progressing": "False/Reconciled",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "True/Reconciled", "ManagerReady": "True/Reconciled",
				"CephHealthy":     "True/CephHealthy",
				"DisksDiscovered": "True/Done", "OSDsProvisioned": "True/Done", "OSDsUpdated": "True/Done",
			},
			wantGen: 3,
		},
		{
			name: "an OSD rollout in progress is not ready",
			existing: append(partsDone(3)[:2], metav1.Condition{Type: cephv1alpha1.ConditionOSDsUpdated, Status: metav1.ConditionFalse,
				Reason: cephv1alpha1.ReasonRollingUpdate, ObservedGeneration: 3}),
			observed: observed{fsid: "f", configured: true, mon: monsUp},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "True/Reconciled", "ManagerReady": "True/Reconciled",
				"CephHealthy":     "True/CephHealthy",
				"DisksDiscovered": "True/Done", "OSDsProvisioned": "True/Done", "OSDsUpdated": "False/RollingUpdate",
			},
			wantGen: 3,
		},
		{
			name:     "a part not yet reported holds Ready back",
			existing: partsDone(3)[:1],
			observed: observed{fsid: "f", configured: true, mon: monsUp},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "True/Reconciled", "ManagerReady": "True/Reconciled",
				"CephHealthy":     "True/CephHealthy",
				"DisksDiscovered": "True/Done",
			},
			wantGen: 3,
		},
		{
			name:     "a part that confirmed an older spec holds Ready back",
			existing: partsDone(2),
			observed: observed{fsid: "f", configured: true, mon: monsUp},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "True/Reconciled", "ManagerReady": "True/Reconciled",
				"CephHealthy":     "True/CephHealthy",
				"DisksDiscovered": "True/Done/stale", "OSDsProvisioned": "True/Done/stale", "OSDsUpdated": "True/Done/stale",
			},
			wantGen: 3,
		},
		{
			name:     "monitors not yet available hold Ready back",
			existing: partsDone(3),
			observed: observed{fsid: "f", configured: true, mon: monState{mons: monsUp.mons, ready: map[string]bool{}}},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "False/Reconciling", "ManagerReady": "False/Reconciling",
				"CephHealthy":     "True/CephHealthy",
				"DisksDiscovered": "True/Done", "OSDsProvisioned": "True/Done", "OSDsUpdated": "True/Done",
			},
			wantGen: 3,
		},
		{
			name:     "too few nodes for the monitors",
			existing: partsDone(3),
			observed: observed{fsid: "f", configured: true, mon: monState{waiting: "spec.mon.count is 3 but only 1 selected node(s) are Ready"}},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "False/NotEnoughNodes", "ManagerReady": "False/Reconciling",
				"CephHealthy":     "True/CephHealthy",
				"DisksDiscovered": "True/Done", "OSDsProvisioned": "True/Done", "OSDsUpdated": "True/Done",
			},
			wantGen: 3,
		},
		{
			name:     "a stale health report holds Ready back",
			existing: partsDone(3),
			observed: observed{fsid: "f", configured: true, mon: monsUp},
			report:   &cephv1alpha1.CephStatus{Health: cephv1alpha1.CephHealthOK, FSID: "f", LastChecked: &metav1.Time{Time: testNow.Add(-time.Hour)}},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "True/Reconciled", "ManagerReady": "True/Reconciled",
				"CephHealthy":     "False/CephStatusStale",
				"DisksDiscovered": "True/Done", "OSDsProvisioned": "True/Done", "OSDsUpdated": "True/Done",
			},
			wantGen: 3,
		},
		{
			name:     "an unsupported Ceph image degrades and blocks the daemons",
			existing: partsDone(3),
			observed: observed{fsid: "f", configured: true,
				mon:     monState{mons: monsUp.mons, blocked: "too old", blockedReason: cephv1alpha1.ReasonUnsupportedCephVersion},
				version: versionCheck{status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonUnsupportedCephVersion, message: "too old"}},
			want: map[string]string{
				"Ready": "False/UnsupportedCephVersion", "Progressing": "False/UnsupportedCephVersion",
				"Degraded": "True/UnsupportedCephVersion", "Configured": "True/Reconciled",
				"MonitorsReady": "False/UnsupportedCephVersion", "ManagerReady": "False/UnsupportedCephVersion",
				"CephHealthy": "True/CephHealthy", "CephVersionSupported": "False/UnsupportedCephVersion",
				"DisksDiscovered": "True/Done", "OSDsProvisioned": "True/Done", "OSDsUpdated": "True/Done",
			},
			wantGen: 3,
		},
		{
			name:     "not yet configured is progressing",
			observed: observed{},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "False/Reconciling",
			},
			wantGen: 3,
		},
		{
			name:     "an error degrades and keeps the observed generation",
			observed: observed{err: errors.New("boom")},
			want: map[string]string{
				"Ready": "False/ReconcileError", "Progressing": "False/ReconcileError",
				"Degraded": "True/ReconcileError", "Configured": "False/Reconciling",
			},
			wantGen: 2,
		},
		{
			name: "a pending condition of another reconciler holds Ready back",
			existing: []metav1.Condition{{
				Type: cephv1alpha1.ConditionDisksDiscovered, Status: metav1.ConditionFalse, Reason: "Waiting", ObservedGeneration: 3,
			}},
			observed: observed{fsid: "f", configured: true, mon: monsUp},
			want: map[string]string{
				"Ready": "False/Reconciling", "Progressing": "True/Reconciling",
				"Degraded": "False/AsExpected", "Configured": "True/Reconciled",
				"MonitorsReady": "True/Reconciled", "ManagerReady": "True/Reconciled",
				"CephHealthy":     "True/CephHealthy",
				"DisksDiscovered": "False/Waiting",
			},
			wantGen: 3,
		},
		{
			name:     "deleting",
			observed: observed{deleting: true},
			want: map[string]string{
				"Ready": "False/Deleting", "Progressing": "True/Deleting", "Degraded": "False/AsExpected",
			},
			wantGen: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
			c.Status.ObservedGeneration = 2
			c.Status.Conditions = tc.existing
			c.Status.Ceph = tc.report
			if c.Status.Ceph == nil {
				c.Status.Ceph = &cephv1alpha1.CephStatus{Health: cephv1alpha1.CephHealthOK, FSID: "f", LastChecked: &metav1.Time{Time: testNow.Add(-time.Minute)}}
			}
			tc.observed.now = testNow
			setClusterStatus(c, tc.observed)
			got := conds(c)
			if len(got) != len(tc.want) {
				t.Errorf("conditions %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if c.Status.ObservedGeneration != tc.wantGen {
				t.Errorf("observedGeneration %d, want %d", c.Status.ObservedGeneration, tc.wantGen)
			}
		})
	}
}

func TestSetClusterStatusKeepsTransitionTime(t *testing.T) {
	c := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	setClusterStatus(c, observed{configured: true})
	old := metav1.NewTime(time.Now().Add(-time.Hour))
	for i := range c.Status.Conditions {
		c.Status.Conditions[i].LastTransitionTime = old
	}
	setClusterStatus(c, observed{configured: true})
	for _, x := range c.Status.Conditions {
		if !x.LastTransitionTime.Equal(&old) {
			t.Errorf("%s: lastTransitionTime changed without a status change", x.Type)
		}
	}
}

func TestDuplicateStatusAndOwner(t *testing.T) {
	c := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: "b", Generation: 4}}
	setDuplicateStatus(c, "a")
	if got := conds(c); got["Ready"] != "False/DuplicateCluster" || got["Degraded"] != "True/DuplicateCluster" {
		t.Errorf("duplicate conditions %v", got)
	}

	t0 := metav1.NewTime(time.Unix(1000, 0))
	t1 := metav1.NewTime(time.Unix(2000, 0))
	now := metav1.Now()
	items := []cephv1alpha1.CephCluster{
		{ObjectMeta: metav1.ObjectMeta{Name: "young", CreationTimestamp: t1}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b-old", CreationTimestamp: t0}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a-old", CreationTimestamp: t0}},
		{ObjectMeta: metav1.ObjectMeta{Name: "0-deleting", CreationTimestamp: t0, DeletionTimestamp: &now}},
	}
	if got := oldestCluster(items); got == nil || got.Name != "a-old" {
		t.Errorf("owner = %v, want a-old (oldest, then by name, ignoring the one being deleted)", got)
	}
	if got := oldestCluster(nil); got != nil {
		t.Errorf("owner of empty namespace = %v", got.Name)
	}
}

func TestTopSummaries(t *testing.T) {
	var all []cephv1alpha1.NodeSummary
	for i := 0; i < 120; i++ {
		s := cephv1alpha1.NodeSummary{Name: fmt.Sprintf("node-%03d", i)}
		if i%40 == 7 {
			s.Message = "Waiting for the discovery agent's first scan"
		}
		all = append(all, s)
	}
	got := topSummaries(all, 50)
	if len(got) != 50 {
		t.Fatalf("%d summaries, want 50", len(got))
	}
	attention := 0
	for i, s := range got {
		if s.Message != "" {
			attention++
		}
		if i > 0 && got[i-1].Name >= s.Name {
			t.Errorf("not sorted at %d: %s, %s", i, got[i-1].Name, s.Name)
		}
	}
	if attention != 3 {
		t.Errorf("%d nodes needing attention kept, want all 3", attention)
	}
	if short := topSummaries(all[:10], 50); len(short) != 10 {
		t.Errorf("a short list was cut to %d", len(short))
	}
}

// TestDiscoveryStatusFailingDrives checks that drives reporting failing
// health are counted and named per node, with the OSD they hold, and that
// a drive whose health is anything else is not.
func TestDiscoveryStatusFailingDrives(t *testing.T) {
	health := func(s cephv1alpha1.DiskHealthStatus) *cephv1alpha1.DiskHealth {
		return &cephv1alpha1.DiskHealth{Status: s}
	}
	osd := func(name string, id int32, h *cephv1alpha1.DiskHealth) cephv1alpha1.Disk {
		return cephv1alpha1.Disk{Name: name, Verdict: cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id}, Health: h}
	}
	rejected := func(name string, h *cephv1alpha1.DiskHealth) cephv1alpha1.Disk {
		return cephv1alpha1.Disk{Name: name, Verdict: cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "FailurePredicted"}, Health: h}
	}
	scanned := metav1.NewTime(testNow)
	inv := func(node string, disks ...cephv1alpha1.Disk) cephv1alpha1.DiskInventory {
		return cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: node},
			Status: cephv1alpha1.DiskInventoryStatus{Disks: disks, LastScanTime: &scanned}}
	}
	cluster := &cephv1alpha1.CephCluster{}
	setDiscoveryStatus(cluster, nodeselect.Selection{Selected: []string{"n1", "n2", "n3"}}, []cephv1alpha1.DiskInventory{
		inv("n1", osd("sdb", 4, health(cephv1alpha1.DiskHealthFailing)), rejected("sdc", health(cephv1alpha1.DiskHealthFailing)), osd("sdd", 5, health(cephv1alpha1.DiskHealthPassed))),
		inv("n2", rejected("sdb", health(cephv1alpha1.DiskHealthFailing)), osd("sdc", 6, nil)),
		inv("n3", osd("sdb", 7, health(cephv1alpha1.DiskHealthUnknown)), osd("sdc", 8, health(cephv1alpha1.DiskHealthNotSupported))),
	})
	if got := cluster.Status.Disks.Failing; got != 3 {
		t.Errorf("status.disks.failing = %d, want 3", got)
	}
	msgs := map[string]string{}
	for _, s := range cluster.Status.NodeSummaries {
		msgs[s.Name] = s.Message
	}
	for node, want := range map[string][]string{
		"n1": {"Drives report failing health: sdb (OSD 4), sdc;", "their OSDs keep running"},
		"n2": {"Drives report failing health: sdb;", "never provisioned"},
		"n3": nil,
	} {
		if want == nil && msgs[node] != "" {
			t.Errorf("%s: message %q, want none", node, msgs[node])
		}
		for _, w := range want {
			if !strings.Contains(msgs[node], w) {
				t.Errorf("%s: message %q lacks %q", node, msgs[node], w)
			}
		}
	}
	if c := meta.FindStatusCondition(cluster.Status.Conditions, cephv1alpha1.ConditionDisksDiscovered); c == nil || !strings.Contains(c.Message, "3 report failing drive health") {
		t.Errorf("DisksDiscovered = %+v", c)
	}
	if got, want := failingDrives(cluster.Status.NodeSummaries), "n1: sdb (OSD 4), sdc; n2: sdb"; got != want {
		t.Errorf("failingDrives = %q, want %q", got, want)
	}
}

func TestSameDiskFindings(t *testing.T) {
	temp := func(v int32) *int32 { return &v }
	disk := func(s cephv1alpha1.DiskHealthStatus, t int32) []cephv1alpha1.Disk {
		return []cephv1alpha1.Disk{{Name: "sdb", Health: &cephv1alpha1.DiskHealth{Status: s, TemperatureCelsius: temp(t)}}}
	}
	if !sameDiskFindings(disk(cephv1alpha1.DiskHealthPassed, 30), disk(cephv1alpha1.DiskHealthPassed, 45)) {
		t.Error("a temperature change counts as a finding")
	}
	if sameDiskFindings(disk(cephv1alpha1.DiskHealthPassed, 30), disk(cephv1alpha1.DiskHealthFailing, 30)) {
		t.Error("a health status change does not count")
	}
	if sameDiskFindings(disk(cephv1alpha1.DiskHealthPassed, 30), nil) {
		t.Error("a disk disappearing does not count")
	}
}

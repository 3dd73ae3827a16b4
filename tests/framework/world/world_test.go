package world

import (
	"encoding/json"
	"reflect"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

func TestDiskName(t *testing.T) {
	for i, want := range map[int]string{0: "sdb", 24: "sdz", 25: "sdaa", 26: "sdab", 51: "sdba"} {
		if got := DiskName(i); got != want {
			t.Errorf("DiskName(%d) = %s, want %s", i, got, want)
		}
	}
}

// prepareJob is a prepare Job for the named disks of node.
func prepareJob(t *testing.T, node string, disks ...string) *batchv1.Job {
	t.Helper()
	var targets []resources.PrepareTarget
	for _, d := range disks {
		targets = append(targets, resources.PrepareTarget{Path: DiskID(node, d), ID: DiskID(node, d)})
	}
	b, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "prepare-" + node, Annotations: map[string]string{
		resources.NodeAnnotation: node, resources.DevicesAnnotation: string(b),
	}}}
}

// TestPrepare checks what a prepare Job does to the World's disks and what
// it reports, for each fault switch.
func TestPrepare(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(w *World)
		exit     int32
		outcomes []string
		osds     []string
	}{
		{"all prepared", func(*World) {}, ExitPrepared, []string{"Prepared", "Prepared"},
			[]string{DiskID("n", "sdb"), DiskID("n", "sdc")}},
		{"one fails", func(w *World) { w.SetFailing(DiskID("n", "sdc"), true) }, ExitFailed,
			[]string{"Prepared", "Failed"}, []string{DiskID("n", "sdb")}},
		{"one refused", func(w *World) { w.SetRefusing(DiskID("n", "sdb"), "HasUnknownData") }, ExitRefused,
			[]string{"Refused", "Prepared"}, []string{DiskID("n", "sdc")}},
		{"failure wins over refusal", func(w *World) {
			w.SetRefusing(DiskID("n", "sdb"), "HasUnknownData")
			w.SetFailing(DiskID("n", "sdc"), true)
		}, ExitFailed, []string{"Refused", "Failed"}, nil},
		{"a lie writes nothing", func(w *World) { w.SetLying(DiskID("n", "sdb"), true) }, ExitPrepared,
			[]string{"Prepared", "Prepared"}, []string{DiskID("n", "sdc")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := New(nil, "ns")
			w.AddNode("n", "available", "available", "partitioned")
			tc.setup(w)
			w.mu.Lock()
			results, exit, err := w.prepareLocked(prepareJob(t, "n", "sdb", "sdc"))
			w.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			var outcomes []string
			for _, r := range results {
				outcomes = append(outcomes, r.Outcome)
			}
			if exit != tc.exit || !reflect.DeepEqual(outcomes, tc.outcomes) {
				t.Errorf("exit %d, outcomes %v; want %d, %v", exit, outcomes, tc.exit, tc.outcomes)
			}
			if got := w.OSDs(); !reflect.DeepEqual(got, tc.osds) {
				t.Errorf("OSDs %v, want %v", got, tc.osds)
			}
			if w.JobsRun() != 1 || len(w.PreparedTwice()) != 0 {
				t.Errorf("%d Jobs run, prepared twice %v", w.JobsRun(), w.PreparedTwice())
			}
		})
	}
}

// TestPrepareTwice checks that a second Job for a disk already prepared
// leaves it alone, and that the agent's status then reports the OSD.
func TestPrepareTwice(t *testing.T) {
	w := New(nil, "ns")
	w.AddNode("n", "available")
	for range 2 {
		w.mu.Lock()
		_, exit, err := w.prepareLocked(prepareJob(t, "n", "sdb"))
		w.mu.Unlock()
		if err != nil || exit != ExitPrepared {
			t.Fatalf("exit %d, %v", exit, err)
		}
	}
	if got := w.Prepared(DiskID("n", "sdb")); got != 1 {
		t.Errorf("sdb prepared %d times, want 1", got)
	}
	w.mu.Lock()
	st := w.statusLocked(w.nodes["n"], 3)
	w.mu.Unlock()
	if st.Summary.OSDs != 1 || st.Summary.Available != 0 || st.ObservedRescanRequest != 3 ||
		st.CephVersion != DefaultCephVersion || st.Disks[0].Verdict.State != cephv1alpha1.DiskOSD {
		t.Errorf("status %+v", st)
	}
}

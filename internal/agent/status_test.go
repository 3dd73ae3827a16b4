package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

const testFSID = "c0ffee00-1111-4222-8333-444455556666"

// scenarioScanner returns a scanner over the standard fixture scenarios,
// with the busy ones reported busy, and the scenarios themselves.
func scenarioScanner(t *testing.T) (discovery.Scanner, []fixture.Scenario) {
	t.Helper()
	root := t.TempDir()
	_, scs, err := fixture.BuildScenarios(root, testFSID)
	if err != nil {
		t.Fatal(err)
	}
	busy := discovery.StaticBusyChecker{Busy: map[string]bool{}}
	for _, sc := range scs {
		if sc.Busy {
			busy.Busy[filepath.Join(root, "dev", sc.Disk.Name)] = true
		}
	}
	return discovery.Scanner{Root: root, Busy: busy}, scs
}

func TestBuildStatusFromScenarios(t *testing.T) {
	s, scs := scenarioScanner(t)
	devs, err := s.Scan()
	if err != nil {
		t.Fatal(err)
	}
	st := BuildStatus(devs, discovery.Options{ClusterFSID: testFSID}, 7, "v1.2.3")
	if st.ObservedRescanRequest != 7 || st.AgentVersion != "v1.2.3" || st.LastScanTime != nil {
		t.Errorf("header fields: %+v", st)
	}
	if len(st.Disks) != len(scs) {
		t.Fatalf("%d disks, want %d", len(st.Disks), len(scs))
	}
	byName := map[string]cephv1alpha1.Disk{}
	var sum cephv1alpha1.DiskInventorySummary
	for i, d := range st.Disks {
		if i > 0 && st.Disks[i-1].Name >= d.Name {
			t.Errorf("disks not sorted: %s before %s", st.Disks[i-1].Name, d.Name)
		}
		byName[d.Name] = d
		sum.Disks++
		switch d.Verdict.State {
		case cephv1alpha1.DiskAvailable:
			sum.Available++
		case cephv1alpha1.DiskOSD:
			sum.OSDs++
		case cephv1alpha1.DiskRejected:
			sum.Rejected++
		}
	}
	if st.Summary != sum || sum.Available == 0 || sum.OSDs == 0 || sum.Rejected == 0 {
		t.Errorf("summary %+v, counted %+v (every state should occur in the scenarios)", st.Summary, sum)
	}
	for _, sc := range scs {
		d := byName[sc.Disk.Name]
		if string(d.Verdict.State) != sc.WantState || d.Verdict.Reason != sc.WantReason {
			t.Errorf("%s (%s): %s/%s, want %s/%s", sc.Name, sc.Disk.Name, d.Verdict.State, d.Verdict.Reason, sc.WantState, sc.WantReason)
		}
		if !strings.Contains(d.Verdict.Message, sc.WantMessage) {
			t.Errorf("%s: message %q lacks %q", sc.Name, d.Verdict.Message, sc.WantMessage)
		}
		if d.ID == "" || d.Path != "/dev/"+d.Name || d.Type == "" {
			t.Errorf("%s: identity %q path %q type %q", sc.Name, d.ID, d.Path, d.Type)
		}
		if (d.Verdict.State == cephv1alpha1.DiskOSD) != (d.Verdict.OSDID != nil) {
			t.Errorf("%s: state %s with OSD id %v", sc.Name, d.Verdict.State, d.Verdict.OSDID)
		}
		if d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.ClusterFSID != testFSID {
			t.Errorf("%s: OSD with FSID %q", sc.Name, d.Verdict.ClusterFSID)
		}
	}
	for _, d := range devs {
		if got := byName[d.KernelName].ID; got != d.StableID() {
			t.Errorf("%s: ID %q, want StableID %q", d.KernelName, got, d.StableID())
		}
	}
}

func TestBuildStatusDetails(t *testing.T) {
	long := strings.Repeat("é", 1000)
	devs := []discovery.Device{
		{KernelName: "sdb", Type: discovery.TypeDisk, SizeBytes: 10 << 30, Probed: true, OpenError: long},
		{KernelName: "loop1", Type: discovery.TypeLoop}, // unattached: left out
		{KernelName: "loop0", Type: discovery.TypeLoop, SizeBytes: 10 << 30, Probed: true},
		{KernelName: "sda", Type: discovery.TypeDisk, SizeBytes: 10 << 30, Probed: true, Rotational: true, WWN: "0x5000"},
	}
	st := BuildStatus(devs, discovery.Options{AllowLoop: true}, 0, "dev")
	var names []string
	for _, d := range st.Disks {
		names = append(names, d.Name)
	}
	if got := strings.Join(names, ","); got != "loop0,sda,sdb" {
		t.Fatalf("disks %s, want loop0,sda,sdb", got)
	}
	if st.Summary != (cephv1alpha1.DiskInventorySummary{Disks: 3, Available: 2, Rejected: 1}) {
		t.Errorf("summary %+v", st.Summary)
	}
	sda, sdb := st.Disks[1], st.Disks[2]
	if sda.ID != "wwn:0x5000" || !sda.Rotational || sda.SizeBytes != 10<<30 {
		t.Errorf("sda: %+v", sda)
	}
	if m := sdb.Verdict.Message; len(m) > maxMessageBytes || !strings.HasSuffix(m, "…") || !strings.HasPrefix(m, "sdb could not be read") {
		t.Errorf("message of %d bytes not truncated to %d: %q…", len(m), maxMessageBytes, m[:40])
	}
}

func TestSameContent(t *testing.T) {
	now := metav1.Now()
	a := cephv1alpha1.DiskInventoryStatus{Disks: []cephv1alpha1.Disk{{Name: "sda", Links: []string{}}}, AgentVersion: "x", LastScanTime: &now}
	b := cephv1alpha1.DiskInventoryStatus{Disks: []cephv1alpha1.Disk{{Name: "sda"}}, AgentVersion: "x"}
	if !SameContent(a, b) {
		t.Error("statuses differing only in LastScanTime and empty-vs-nil lists must be the same")
	}
	b.Plan = []cephv1alpha1.DevicePlan{{Name: "sda", Action: cephv1alpha1.ActionWouldProvision}}
	if !SameContent(a, b) {
		t.Error("the operator's plan is not the agent's content")
	}
	b.ObservedRescanRequest = 1
	if SameContent(a, b) {
		t.Error("a different observedRescanRequest is a change")
	}
	b.ObservedRescanRequest = 0
	b.Disks[0].Verdict.Reason = "TooSmall"
	if SameContent(a, b) {
		t.Error("a different verdict is a change")
	}
}

// TestBuildStatusContentHash: each probed disk publishes the hash of what
// was read of it; it is stable across scans of unchanged disks and changes
// for exactly the disk whose content changed.
func TestBuildStatusContentHash(t *testing.T) {
	root := t.TempDir()
	n := fixture.New(root)
	n.Add(fixture.Disk{Name: "sda", SizeBytes: uint64(8 * fixture.GiB)})
	n.Add(fixture.Disk{Name: "sdb", SizeBytes: uint64(8 * fixture.GiB)})
	n.Add(fixture.Disk{Name: "sdc", SizeBytes: uint64(8 * fixture.GiB), NoNode: true})
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	s := discovery.Scanner{Root: root}
	hashes := func() map[string]string {
		devs, err := s.Scan()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range BuildStatus(devs, discovery.Options{}, 0, "v").Disks {
			out[d.Name] = d.ContentHash
		}
		return out
	}
	first, again := hashes(), hashes()
	if len(first["sda"]) != 64 || first["sda"] != first["sdb"] || first["sdc"] != "" {
		t.Fatalf("hashes %v: want equal 64-hex hashes for the two blank disks, none for the unreadable one", first)
	}
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("hashes changed without a change: %v then %v", first, again)
	}
	f, err := os.OpenFile(filepath.Join(root, "dev/sdb"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1}, 8*fixture.GiB-4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	changed := hashes()
	if changed["sda"] != first["sda"] || changed["sdb"] == first["sdb"] {
		t.Fatalf("after writing to sdb: %v, before %v", changed, first)
	}
}

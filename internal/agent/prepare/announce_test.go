package prepare

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

// TestAnnounceWritesChangeForTouchedDisks: a disk reported Prepared or
// Failed gets "change" written to its sysfs uevent file (through its by-id
// link, once even when two results name it); a Refused disk, which was not
// touched, keeps its file as it was; a disk without a uevent file is
// skipped, not created.
func TestAnnounceWritesChangeForTouchedDisks(t *testing.T) {
	root := t.TempDir()
	n := fixture.New(root)
	for _, d := range []fixture.Disk{
		{Name: "sdb", SizeBytes: uint64(10 * fixture.GiB), Links: []string{"by-id/wwn-0xsdb"}},
		{Name: "sdc", SizeBytes: uint64(10 * fixture.GiB), Links: []string{"by-id/wwn-0xsdc"}},
		{Name: "sdd", SizeBytes: uint64(10 * fixture.GiB), Links: []string{"by-id/wwn-0xsdd"}},
		{Name: "sde", SizeBytes: uint64(10 * fixture.GiB)},
	} {
		n.Add(d)
	}
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	uevent := func(name string) string { return filepath.Join(root, "sys", "block", name, "uevent") }
	before, err := os.ReadFile(uevent("sdc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(uevent("sde")); err != nil {
		t.Fatal(err)
	}
	id := 3
	got := Announce(logr.Discard(), root, []Result{
		{Path: "/dev/disk/by-id/wwn-0xsdb", Outcome: OutcomePrepared, OSDID: &id},
		{Path: "/dev/sdb", Outcome: OutcomePrepared, Reason: ReasonAlreadyOSD, OSDID: &id},
		{Path: "/dev/disk/by-id/wwn-0xsdc", Outcome: OutcomeRefused, Reason: "HasFilesystem"},
		{Path: "/dev/disk/by-id/wwn-0xsdd", Outcome: OutcomeFailed, Reason: ReasonCephVolumeFailed},
		{Path: "/dev/sde", Outcome: OutcomePrepared, OSDID: &id},
		{Path: "/dev/disk/by-id/gone", Outcome: OutcomeFailed, Reason: ReasonNotVerified},
	})
	if want := []string{"sdb", "sdd"}; !slices.Equal(got, want) {
		t.Errorf("announced %v, want %v", got, want)
	}
	for _, name := range []string{"sdb", "sdd"} {
		if b, err := os.ReadFile(uevent(name)); err != nil || string(b) != "change" {
			t.Errorf("%s uevent holds %q (%v), want %q", name, b, err, "change")
		}
	}
	if b, err := os.ReadFile(uevent("sdc")); err != nil || string(b) != string(before) {
		t.Errorf("the refused disk's uevent holds %q (%v), want it untouched %q", b, err, before)
	}
	if _, err := os.Stat(uevent("sde")); !os.IsNotExist(err) {
		t.Errorf("a uevent file was created for sde: %v", err)
	}
}

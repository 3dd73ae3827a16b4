package discovery_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

// TestEmptyUdevRecordsSayNothing: a udev database whose records are empty
// (a valid record that says nothing, as the real-node harness keeps on a
// machine without a udev daemon) gives every device the verdict it has
// with no udev database at all: an empty record never makes a disk look
// blank that the other probes reject.
func TestEmptyUdevRecordsSayNothing(t *testing.T) {
	root := t.TempDir()
	if _, _, err := fixture.BuildScenarios(root, clusterFSID); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(root, "run/udev/data")
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	verdicts := func() map[string]string {
		t.Helper()
		devs, err := discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}.Scan()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range devs {
			v := discovery.Evaluate(d, discovery.Options{ClusterFSID: clusterFSID})
			out[d.KernelName] = string(v.State) + "/" + string(v.Reason)
		}
		return out
	}
	none := verdicts()

	// An empty record for every device and partition the fixture has.
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	records := 0
	err := filepath.WalkDir(filepath.Join(root, "sys"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "dev" {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		records++
		return os.WriteFile(filepath.Join(data, "b"+strings.TrimSpace(string(raw))), nil, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	empty := verdicts()

	rejected := 0
	for name, want := range none {
		if strings.HasPrefix(want, string(discovery.StateRejected)) {
			rejected++
		}
		if got := empty[name]; got != want {
			t.Errorf("%s: %s with empty udev records, %s without a udev database", name, got, want)
		}
	}
	if records < len(none) || rejected == 0 {
		t.Fatalf("%d records for %d devices, %d of them rejected: the fixture no longer tests this", records, len(none), rejected)
	}
}

package prepare

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// TestRunRefusesMetadataDevice: a disk that holds this cluster's DB
// partitions is never prepared as an OSD's data disk, and the refusal
// says what it is.
func TestRunRefusesMetadataDevice(t *testing.T) {
	root := t.TempDir()
	n := fixture.New(root)
	parts := []fixture.GPTPartition{{Number: 1, Name: gpt.Label(gpt.RoleDB, fsid, 1), Type: gpt.TypeCephDB, Start: 1 << 20, Size: 1 << 30}}
	n.Add(fixture.Disk{Name: "sdg", SizeBytes: uint64(10 * fixture.GiB), Links: []string{wwn("sdg")}, Partitions: fixture.SysfsPartitions("sdg", parts)})
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteGPT("sdg", parts); err != nil {
		t.Fatal(err)
	}
	cv := &fakeCephVolume{root: root}
	results := Run(context.Background(), logr.Discard(), optionsFor(root, "sdg"), scannerFor(root), &fakeLocker{}, cv)
	if len(results) != 1 || results[0].Outcome != OutcomeRefused || results[0].Reason != "MetadataDevice" || !strings.Contains(results[0].Message, "metadata device") {
		t.Errorf("results %+v, want Refused/MetadataDevice", results)
	}
	if len(cv.calls) != 0 {
		t.Errorf("ceph-volume called: %q", cv.calls)
	}
}

package agent

import (
	"reflect"
	"testing"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

// TestBuildStatusMetadataDevice: a metadata device is published with its
// DB and WAL partitions, their roles and the OSDs on them, and is counted
// neither as available nor as rejected.
func TestBuildStatusMetadataDevice(t *testing.T) {
	part := func(n int, name, role, typ, osd string) discovery.GPTPartition {
		p := discovery.GPTPartition{
			Name: name, Number: n, KernelStartBytes: int64(n) << 30, KernelSizeBytes: 1 << 30,
			InTable: true, Label: gpt.Label(role, testFSID, n), Type: typ, PartUUID: "11111111-2222-4333-8444-55555555555" + string(rune('0'+n)),
			StartBytes: int64(n) << 30, SizeBytes: 1 << 30, Probed: true,
		}
		if osd != "" {
			desc := "bluefs db"
			if role == gpt.RoleWAL {
				desc = "bluefs wal"
			}
			p.BlueStore = &ceph.BlueStoreLabel{OSDUUID: osd, Description: desc, WhoAmI: -1}
		}
		return p
	}
	dev := discovery.Device{
		KernelName: "nvme0n1", Type: discovery.TypeDisk, SizeBytes: 100 << 30, Probed: true, PartTableType: discovery.PartTableGPT,
		Partitions: []string{"nvme0n1p1", "nvme0n1p2", "nvme0n1p3"},
		GPTPartitions: []discovery.GPTPartition{
			part(1, "nvme0n1p1", gpt.RoleDB, gpt.TypeCephDB, "aaaaaaaa-0000-4000-8000-000000000001"),
			part(2, "nvme0n1p2", gpt.RoleWAL, gpt.TypeCephWAL, "aaaaaaaa-0000-4000-8000-000000000001"),
			part(3, "nvme0n1p3", gpt.RoleDB, gpt.TypeCephDB, ""),
		},
	}
	st := BuildStatus([]discovery.Device{dev}, discovery.Options{ClusterFSID: testFSID}, 0, "dev")
	if len(st.Disks) != 1 {
		t.Fatalf("disks %+v", st.Disks)
	}
	d := st.Disks[0]
	if d.Verdict.State != cephv1alpha1.DiskMetadataDevice || d.Verdict.Reason != "" || d.Verdict.OSDID != nil {
		t.Fatalf("verdict %+v", d.Verdict)
	}
	want := []cephv1alpha1.DiskPartition{
		{Number: 1, Name: "nvme0n1p1", PartUUID: "11111111-2222-4333-8444-555555555551", Label: "ceph-db.c0ffee00.1", Role: cephv1alpha1.PartitionDB,
			StartBytes: 1 << 30, SizeBytes: 1 << 30, OSDUUID: "aaaaaaaa-0000-4000-8000-000000000001"},
		{Number: 2, Name: "nvme0n1p2", PartUUID: "11111111-2222-4333-8444-555555555552", Label: "ceph-wal.c0ffee00.2", Role: cephv1alpha1.PartitionWAL,
			StartBytes: 2 << 30, SizeBytes: 1 << 30, OSDUUID: "aaaaaaaa-0000-4000-8000-000000000001"},
		{Number: 3, Name: "nvme0n1p3", PartUUID: "11111111-2222-4333-8444-555555555553", Label: "ceph-db.c0ffee00.3", Role: cephv1alpha1.PartitionDB,
			StartBytes: 3 << 30, SizeBytes: 1 << 30},
	}
	if !reflect.DeepEqual(d.Partitions, want) {
		t.Errorf("partitions\n got %+v\nwant %+v", d.Partitions, want)
	}
	if st.Summary != (cephv1alpha1.DiskInventorySummary{Disks: 1}) {
		t.Errorf("summary %+v", st.Summary)
	}
	// Another cluster's FSID: rejected; its partitions are shown (the
	// planner only takes those named after its own cluster).
	st = BuildStatus([]discovery.Device{dev}, discovery.Options{ClusterFSID: "deadbeef-0000-4000-8000-000000000000"}, 0, "dev")
	if d := st.Disks[0]; d.Verdict.Reason != string(discovery.ForeignCephCluster) || !reflect.DeepEqual(d.Partitions, want) {
		t.Errorf("foreign: %+v", d)
	}
}

package plugin

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func TestSize(t *testing.T) {
	for b, want := range map[int64]string{
		0: "0B", 512: "512B", 1 << 20: "1Mi", 512 << 20: "512Mi", 100 << 30: "100Gi",
		1<<40 + 1<<39: "1.5Ti", 4<<40 - 1: "3.9Ti", 4 << 40: "4Ti",
	} {
		if got := Size(b); got != want {
			t.Errorf("Size(%d) = %s, want %s", b, got, want)
		}
	}
}

// TestDiskEvents checks that a disk's events are those of its node that
// name it as a word, and those of the cluster that name its id or its name
// with its node.
func TestDiskEvents(t *testing.T) {
	cluster := &cephv1alpha1.CephCluster{}
	cluster.Name = "ceph"
	row := DiskRow{Node: "n1", Disk: &cephv1alpha1.Disk{Name: "sdb", ID: "/dev/disk/by-id/wwn-1", Path: "/dev/sdb"}}
	ev := func(kind, name, msg string) corev1.Event {
		return corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name}, Message: msg}
	}
	events := []corev1.Event{
		ev("DiskInventory", "n1", "Preparing sdb failed"),                             // yes
		ev("DiskInventory", "n1", "sdb1 is mounted"),                                  // a partition
		ev("DiskInventory", "n2", "Preparing sdb failed"),                             // another node
		ev("CephCluster", "ceph", "OSD 1 runs from /dev/disk/by-id/wwn-1 on node n1"), // yes, by id
		ev("CephCluster", "ceph", "preparing n1/sdb failed"),                          // yes, name and node
		ev("CephCluster", "ceph", "preparing n2/sdb failed"),                          // another node
		ev("CephCluster", "other", "/dev/disk/by-id/wwn-1"),                           // another cluster
		ev("Pod", "n1", "sdb"),                                                        // another kind
	}
	got := DiskEvents(events, cluster, row)
	var msgs []string
	for _, e := range got {
		msgs = append(msgs, e.Message)
	}
	want := []string{"Preparing sdb failed", "OSD 1 runs from /dev/disk/by-id/wwn-1 on node n1", "preparing n1/sdb failed"}
	if len(msgs) != len(want) {
		t.Fatalf("DiskEvents = %q, want %q", msgs, want)
	}
	for i := range want {
		if msgs[i] != want[i] {
			t.Errorf("DiskEvents = %q, want %q", msgs, want)
		}
	}
}

package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// TestNotHeartbeatOnly: an update that only refreshes the agent's
// lastReportTime does not wake the OSD reconciler; any other change with
// it, or without it, does.
func TestNotHeartbeatOnly(t *testing.T) {
	then := metav1.NewTime(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	now := metav1.NewTime(then.Add(10 * time.Minute))
	old := &cephv1alpha1.DiskInventory{
		ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1"},
		Spec:       cephv1alpha1.DiskInventorySpec{NodeName: "n"},
		Status: cephv1alpha1.DiskInventoryStatus{LastScanTime: &then, LastReportTime: &then,
			Disks: []cephv1alpha1.Disk{{Name: "sdb", Verdict: cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable}}}},
	}
	p := notHeartbeatOnly()
	for _, tc := range []struct {
		name string
		edit func(*cephv1alpha1.DiskInventory)
		want bool
	}{
		{"heartbeat only", func(n *cephv1alpha1.DiskInventory) { n.Status.LastReportTime = &now }, false},
		{"heartbeat cleared", func(n *cephv1alpha1.DiskInventory) { n.Status.LastReportTime = nil }, false},
		{"heartbeat and content", func(n *cephv1alpha1.DiskInventory) {
			n.Status.LastReportTime, n.Status.LastScanTime = &now, &now
			n.Status.Disks[0].Verdict.State = cephv1alpha1.DiskOSD
		}, true},
		{"heartbeat and rescan request", func(n *cephv1alpha1.DiskInventory) {
			n.Status.LastReportTime = &now
			n.Spec.RescanRequest = 2
		}, true},
		{"heartbeat and deletion", func(n *cephv1alpha1.DiskInventory) {
			n.Status.LastReportTime = &now
			n.DeletionTimestamp = &now
		}, true},
		{"plan only", func(n *cephv1alpha1.DiskInventory) {
			n.Status.Plan = []cephv1alpha1.DevicePlan{{Name: "sdb", Action: cephv1alpha1.ActionPreparing}}
		}, true},
	} {
		n := old.DeepCopy()
		n.ResourceVersion = "2"
		tc.edit(n)
		if got := p.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: n}); got != tc.want {
			t.Errorf("%s: reconcile %v, want %v", tc.name, got, tc.want)
		}
	}
}

package main

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/plugin"
)

// TestRenderIsThePluginTable checks that the demo's frame is the table of
// `kubectl ceph disks` followed by the plugin's summary, indented.
func TestRenderIsThePluginTable(t *testing.T) {
	osd := int32(0)
	cluster := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: "ceph"}}
	invs := []cephv1alpha1.DiskInventory{
		{ObjectMeta: metav1.ObjectMeta{Name: "node-2"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: cephv1alpha1.DiskInventoryStatus{
			Disks: []cephv1alpha1.Disk{{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x1", SizeBytes: 100 << 30,
				Verdict: cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &osd}}},
			Plan: []cephv1alpha1.DevicePlan{{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x1", Action: cephv1alpha1.ActionProvisioned, OSDID: &osd}},
		}},
	}
	var table strings.Builder
	if err := plugin.RenderDisks(&table, plugin.Rows(invs), plugin.OutputTable); err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, line := range strings.SplitAfter(table.String()+plugin.Summary(cluster), "\n") {
		if line != "" {
			want += "    " + line
		}
	}
	got := render(cluster, invs)
	if got != want {
		t.Errorf("render =\n%s\nwant\n%s", got, want)
	}
	for _, s := range []string{"node-1  sdb   wwn-0x1  100Gi", "node-2  (waiting for the agent's first scan)", "CephCluster ceph: Ready=Unknown"} {
		if !strings.Contains(got, s) {
			t.Errorf("render does not show %q:\n%s", s, got)
		}
	}
}

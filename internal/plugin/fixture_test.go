package plugin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// base is the fixed time the fixture's timestamps count from; the commands
// run with their clock at now, so the ages they print are fixed too.
var (
	base = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	now  = base.Add(time.Hour)
)

func at(d time.Duration) metav1.Time { return metav1.NewTime(base.Add(d)) }

func ptr[T any](v T) *T { return &v }

const (
	fsid        = "6a1c3b0e-8f2d-4c55-9d1e-3f0a2b4c5d6e"
	foreignFSID = "0badc0de-0000-4000-8000-000000000000"
	gi          = int64(1) << 30
)

func id(node, disk int) string {
	return fmt.Sprintf("/dev/disk/by-id/wwn-0x5000c500a%02d%04d", node, disk)
}

func disk(node, n int, name string, size int64, v cephv1alpha1.DiskVerdict) cephv1alpha1.Disk {
	return cephv1alpha1.Disk{
		Name: name, ID: id(node, n), Path: "/dev/" + name, Type: "disk", SizeBytes: size, Rotational: true,
		Links:  []string{id(node, n), fmt.Sprintf("/dev/disk/by-path/pci-0000:00:1f.2-ata-%d", n)},
		WWN:    fmt.Sprintf("0x5000c500a%02d%04d", node, n),
		Serial: fmt.Sprintf("ZA%02d%04d", node, n), Model: "ST4000NM0035", Verdict: v,
	}
}

// createFixture writes a CephCluster and the inventories of three nodes, with
// their status, and the events of a failed prepare, into namespace ns: a
// cluster that is not Ready because one disk failed to prepare and one node
// has not scanned.
func createFixture(ctx context.Context, t *testing.T, c client.Client, ns string) {
	t.Helper()
	cluster := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: ns},
		Spec: cephv1alpha1.CephClusterSpec{
			Image: "quay.io/ceph/ceph:v19.2.3",
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true,
				Config: cephv1alpha1.OSDConfig{MinSize: ptr(resource.MustParse("1Gi"))}},
		},
	}
	must(t, c.Create(ctx, cluster))
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string, d time.Duration) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: at(d),
			ObservedGeneration: cluster.Generation}
	}
	cluster.Status = cephv1alpha1.CephClusterStatus{
		ObservedGeneration: cluster.Generation,
		// Written in another order than status prints them: Ready,
		// Degraded and Progressing first.
		Conditions: []metav1.Condition{
			cond(cephv1alpha1.ConditionConfigured, metav1.ConditionTrue, cephv1alpha1.ReasonReconciled, "identity and ceph.conf exist", 0),
			cond(cephv1alpha1.ConditionReady, metav1.ConditionFalse, cephv1alpha1.ReasonPrepareFailed,
				"OSDsProvisioned: preparing node-2/sdc failed (attempt 2); DisksDiscovered: node-3 has not published its inventory", 50*time.Minute),
			cond(cephv1alpha1.ConditionDegraded, metav1.ConditionTrue, cephv1alpha1.ReasonPrepareFailed,
				"preparing node-2/sdc failed twice; see kubectl describe diskinventory node-2", 50*time.Minute),
			cond(cephv1alpha1.ConditionMonitorsReady, metav1.ConditionTrue, cephv1alpha1.ReasonReconciled, "3 of 3 monitors available", 5*time.Minute),
			cond(cephv1alpha1.ConditionManagerReady, metav1.ConditionTrue, cephv1alpha1.ReasonReconciled, "the manager is available", 6*time.Minute),
			cond(cephv1alpha1.ConditionDisksDiscovered, metav1.ConditionFalse, cephv1alpha1.ReasonWaitingForAgents,
				"node-3 has not published its inventory", 30*time.Minute),
			cond(cephv1alpha1.ConditionOSDsProvisioned, metav1.ConditionFalse, cephv1alpha1.ReasonPrepareFailed,
				"3 of 4 OSDs provisioned; node-2/sdc failed", 50*time.Minute),
			cond(cephv1alpha1.ConditionCephHealthy, metav1.ConditionFalse, cephv1alpha1.ReasonCephHealthWarn,
				"HEALTH_WARN: TOO_FEW_OSDS", 10*time.Minute),
		},
		FSID:  fsid,
		Nodes: 3,
		Disks: cephv1alpha1.DiskCounts{Discovered: 9, Available: 2, OSDs: 3, Rejected: 4,
			RejectedByReason: []cephv1alpha1.ReasonCount{{Reason: "ForeignCephCluster", Count: 1}, {Reason: "HasFilesystem", Count: 1},
				{Reason: "Mounted", Count: 1}, {Reason: "TooSmall", Count: 1}}},
		OSDs: cephv1alpha1.OSDCounts{Desired: 4, Provisioned: 3, Running: 3, Failed: 1},
		NodeSummaries: []cephv1alpha1.NodeSummary{
			{Name: "node-1", Disks: 4, Available: 1, OSDs: 1},
			{Name: "node-2", Disks: 5, Available: 1, OSDs: 2, Message: "sdc: prepare failed 2 times"},
		},
		Ceph: &cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthWarn, FSID: fsid,
			Checks: []cephv1alpha1.CephHealthCheck{{Code: "TOO_FEW_OSDS", Severity: cephv1alpha1.CephHealthWarn,
				Message: "OSD count 3 < osd_pool_default_size 4"}},
			Monitors:    cephv1alpha1.CephMonitorStatus{Total: 3, InQuorum: 3, Quorum: []string{"a", "b", "c"}},
			OSDs:        cephv1alpha1.CephOSDStatus{Total: 3, Up: 3, In: 3},
			Capacity:    cephv1alpha1.CephCapacity{TotalBytes: 12 * 1024 * gi, UsedBytes: 3 * gi, AvailableBytes: 12*1024*gi - 3*gi},
			LastChecked: ptr(at(59*time.Minute + 30*time.Second)),
		},
		Monitors: []cephv1alpha1.MonitorStatus{
			{Name: "a", Node: "node-1", Address: "10.0.0.1:6789", Ready: true},
			{Name: "b", Node: "node-2", Address: "10.0.0.2:6789", Ready: true},
			{Name: "c", Node: "node-3", Address: "10.0.0.3:6789", Ready: true},
		},
	}
	must(t, c.Status().Update(ctx, cluster))

	available := cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable}
	osd := func(n int32) cephv1alpha1.DiskVerdict {
		return cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: ptr(n), ClusterFSID: fsid,
			OSDUUID: fmt.Sprintf("3f2a0c1e-0000-4000-8000-%012d", n)}
	}
	rejected := func(reason, msg string) cephv1alpha1.DiskVerdict {
		return cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: reason, Message: msg}
	}
	foreign := rejected("ForeignCephCluster", "BlueStore label of cluster "+foreignFSID)
	foreign.ClusterFSID = foreignFSID
	ssd := disk(2, 5, "sde", 960*gi, osd(2))
	ssd.Rotational, ssd.Model = false, "SAMSUNG MZ7LH960"

	createInventory(ctx, t, c, ns, "node-1", cephv1alpha1.DiskInventoryStatus{
		LastScanTime: ptr(at(20 * time.Minute)), AgentVersion: "0.1.0", CephVersion: "19.2.3",
		Disks: []cephv1alpha1.Disk{
			disk(1, 1, "sdb", 4096*gi, osd(0)),
			disk(1, 2, "sdc", 4096*gi, rejected("HasFilesystem", "ext4 filesystem (label \"backup\") at offset 0")),
			disk(1, 3, "sdd", 4096*gi, foreign),
			disk(1, 4, "sde", 4096*gi, available),
		},
		Plan: []cephv1alpha1.DevicePlan{
			{Name: "sdb", ID: id(1, 1), Action: cephv1alpha1.ActionProvisioned, OSDID: ptr(int32(0))},
			{Name: "sdc", ID: id(1, 2), Action: cephv1alpha1.ActionLeftOut, Reason: "HasFilesystem", Message: "the agent rejected the disk"},
			{Name: "sdd", ID: id(1, 3), Action: cephv1alpha1.ActionLeftOut, Reason: "ForeignCephCluster", Message: "the agent rejected the disk"},
			{Name: "sde", ID: id(1, 4), Action: cephv1alpha1.ActionLeftOut, Reason: "FilteredOut",
				Message: "spec.storage.nodes[node-1].deviceFilter ^sd[bcd]$ does not match sde"},
		},
	})
	createInventory(ctx, t, c, ns, "node-2", cephv1alpha1.DiskInventoryStatus{
		LastScanTime: ptr(at(45 * time.Minute)), AgentVersion: "0.1.0", CephVersion: "19.2.3",
		Disks: []cephv1alpha1.Disk{
			disk(2, 1, "sdb", 4096*gi, osd(1)),
			disk(2, 2, "sdc", 4096*gi, available),
			disk(2, 3, "sdd", 4096*gi, rejected("Mounted", "partition sdd1 is mounted at /var/lib/docker")),
			ssd,
			disk(2, 6, "sdf", 512<<20, rejected("TooSmall", "512 MiB is smaller than spec.storage.config.minSize 1Gi")),
		},
		Plan: []cephv1alpha1.DevicePlan{
			{Name: "sdb", ID: id(2, 1), Action: cephv1alpha1.ActionProvisioned, OSDID: ptr(int32(1))},
			{Name: "sdc", ID: id(2, 2), Action: cephv1alpha1.ActionFailed, Reason: "PrepareFailed", Attempts: 2,
				LastFailureTime: ptr(at(50 * time.Minute)),
				Message:         "ceph-volume lvm prepare exited 1: stderr: blkdiscard: /dev/sdc: BLKDISCARD ioctl failed: Input/output error"},
			{Name: "sdd", ID: id(2, 3), Action: cephv1alpha1.ActionLeftOut, Reason: "Mounted", Message: "the agent rejected the disk"},
			{Name: "sde", ID: id(2, 5), Action: cephv1alpha1.ActionProvisioned, OSDID: ptr(int32(2)), DeviceClass: "ssd"},
			{Name: "sdf", ID: id(2, 6), Action: cephv1alpha1.ActionLeftOut, Reason: "TooSmall", Message: "the agent rejected the disk"},
		},
	})
	// node-3's agent has not scanned: its inventory has no status.
	must(t, c.Create(ctx, &cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: "node-3", Namespace: ns},
		Spec: cephv1alpha1.DiskInventorySpec{NodeName: "node-3"}}))

	event := func(name, kind, object, typ, reason, msg string, d time.Duration, count int32) {
		t.Helper()
		apiVersion := cephv1alpha1.GroupVersion.String()
		must(t, c.Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: object, Namespace: ns, APIVersion: apiVersion},
			Type:           typ, Reason: reason, Message: msg, Count: count,
			FirstTimestamp: at(d), LastTimestamp: at(d),
			Source: corev1.EventSource{Component: "ceph-operator"},
		}))
	}
	event("prepare-1", "DiskInventory", "node-2", corev1.EventTypeWarning, "PrepareFailed",
		"Preparing sdc ("+id(2, 2)+") on node node-2 failed (attempt 2): ceph-volume lvm prepare exited 1", 50*time.Minute, 1)
	event("prepare-0", "DiskInventory", "node-2", corev1.EventTypeWarning, "PrepareFailed",
		"Preparing sdc ("+id(2, 2)+") on node node-2 failed (attempt 1): ceph-volume lvm prepare exited 1", 40*time.Minute, 1)
	event("osd-1", "CephCluster", "ceph", corev1.EventTypeNormal, "OSDCreated",
		"OSD 1 runs from "+id(2, 1)+" on node node-2", 15*time.Minute, 1)
	// Mentions sdd1, a partition: not an event of sdd.
	event("rescan", "DiskInventory", "node-2", corev1.EventTypeNormal, "Rescanned",
		"rescanned after sdd1 was unmounted", 44*time.Minute, 3)
	// About sdc of node-1, not of node-2.
	event("node-1-sdc", "DiskInventory", "node-1", corev1.EventTypeNormal, "Rescanned",
		"rescanned after sdc changed", 20*time.Minute, 1)
	event("ready", "CephCluster", "ceph", corev1.EventTypeWarning, "ClusterNotReady",
		"preparing node-2/sdc failed", 50*time.Minute, 2)
}

// createPreviewFixture writes a CephCluster in Preview with one node whose
// empty disk would become an OSD.
func createPreviewFixture(ctx context.Context, t *testing.T, c client.Client, ns string) {
	t.Helper()
	cluster := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "preview", Namespace: ns},
		Spec: cephv1alpha1.CephClusterSpec{Image: "quay.io/ceph/ceph:v19.2.3",
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true, Provisioning: cephv1alpha1.ProvisioningPreview}},
	}
	must(t, c.Create(ctx, cluster))
	createInventory(ctx, t, c, ns, "node-1", cephv1alpha1.DiskInventoryStatus{
		LastScanTime: ptr(at(0)),
		Disks: []cephv1alpha1.Disk{
			disk(1, 1, "sdb", 4096*gi, cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable}),
			disk(1, 2, "sdc", 4096*gi, cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "HasPartitions",
				Message: "partition table with 2 partitions"}),
		},
		Plan: []cephv1alpha1.DevicePlan{
			{Name: "sdb", ID: id(1, 1), Action: cephv1alpha1.ActionWouldProvision, Reason: "Preview",
				Message: "provisioning is Preview"},
			{Name: "sdc", ID: id(1, 2), Action: cephv1alpha1.ActionLeftOut, Reason: "HasPartitions", Message: "the agent rejected the disk"},
		},
	})
}

func createInventory(ctx context.Context, t *testing.T, c client.Client, ns, node string, status cephv1alpha1.DiskInventoryStatus) {
	t.Helper()
	inv := &cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: ns},
		Spec: cephv1alpha1.DiskInventorySpec{NodeName: node}}
	must(t, c.Create(ctx, inv))
	inv.Status = status
	must(t, c.Status().Update(ctx, inv))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

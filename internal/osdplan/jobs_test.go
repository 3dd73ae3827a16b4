package osdplan

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// renamed is disk d after the kernel gave it another name: same identity
// and links, another device node.
func renamed(d cephv1alpha1.Disk, name string) cephv1alpha1.Disk {
	d.Name, d.Path = name, "/dev/"+name
	return d
}

// TestComputeJobs covers prepare Jobs, failures, backoff and the limit of
// nodes preparing at once.
func TestComputeJobs(t *testing.T) {
	lateID := avail("sdb")
	lateID.ID, lateID.Links = "/dev/disk/by-id/wwn-0x9", []string{"/dev/disk/by-id/wwn-0x9"}
	pending := inv("node-a", avail("sdb"))
	pending.Spec.RescanRequest, pending.Status.ObservedRescanRequest = 3, 2
	answered := inv("node-a", avail("sdb"))
	answered.Spec.RescanRequest, answered.Status.ObservedRescanRequest = 3, 3
	newDisk := avail("sdb")
	newDisk.ID, newDisk.Links = wwnID("new"), []string{wwnID("new")}
	fin := now.Add(-10 * time.Second)
	// A Job's end can carry sub-second precision; the stored plan cannot.
	finNanos := now.Add(-9*time.Second - 500*time.Millisecond)
	manyNodes, manyInvs, manyPlans := limitDefaults(11)

	runCases(t, []planCase{
		{
			name: "Enabled: one Job per node with all its disks, sorted by id",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", lateID, avail("sdc")), inv("node-b", avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, "").withID(lateID.ID).says("is turning it into an OSD"), dp("sdc", preparing, "")},
				"node-b": {dp("sdb", preparing, "")},
			},
			create: []JobSpec{
				job("node-a", dev("sdc", ""), Device{Name: "sdb", ID: lateID.ID, Path: lateID.ID, SizeBytes: 100 << 30}),
				job("node-b", dev("sdb", "")),
			},
			counts: &cephv1alpha1.OSDCounts{Desired: 3, Preparing: 3},
		},
		{
			name: "a running Job makes its disks Preparing and the node waits",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"))},
			jobs: []PrepareJob{running("prep-a", "node-a", "sdb")},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, "").says("prepare Job prep-a is turning it into an OSD"),
				dp("sdc", wouldProvision, ReasonWaitingForTurn).says("waits for prepare Job prep-a of this node"),
			}},
			counts: &cephv1alpha1.OSDCounts{Desired: 2, Preparing: 1},
		},
		{
			name:    "a running Job's disk stays Preparing when deselected, and a rejected one is left out",
			storage: func(s *cephv1alpha1.StorageSpec) { s.DeviceFilter = "^sd[cd]$" },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"), rejected("sdd", "Busy", "sdd is held exclusively"))},
			jobs:    []PrepareJob{running("prep-a", "node-a", "sdb", "sdd")},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, ""),
				dp("sdc", wouldProvision, ReasonWaitingForTurn),
				dp("sdd", leftOut, "Busy").says("held exclusively"),
			}},
		},
		{
			name: "a succeeded Job whose disk still shows Available is kept and the node rescanned",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), osdDisk("sdc", 0))},
			jobs: []PrepareJob{succeeded("prep-a", "node-a", fin, "sdb", "sdc")},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, "").says("prepare Job prep-a finished; waiting for the agent to rescan"),
				dp("sdc", provisioned, "").osd(0),
			}},
			rescan:   []string{"node-a"},
			osdSpecs: []OSDSpec{osdSpec(0, "node-a", "sdc", "")},
			counts:   &cephv1alpha1.OSDCounts{Desired: 2, Preparing: 1, Provisioned: 1},
		},
		{
			name:   "a kept Job asks for no rescan while one is pending",
			invs:   []cephv1alpha1.DiskInventory{pending},
			jobs:   []PrepareJob{succeeded("prep-a", "node-a", fin, "sdb")},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
			rescan: nil,
		},
		{
			name:   "a kept Job asks again once the last rescan was answered",
			invs:   []cephv1alpha1.DiskInventory{answered},
			jobs:   []PrepareJob{succeeded("prep-a", "node-a", fin, "sdb")},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
			rescan: []string{"node-a"},
		},
		{
			name: "a succeeded Job whose disks now show as OSD or rejected is deleted; new disks wait for it to go",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", osdDisk("sdb", 0), rejected("sdc", "HasFilesystem", "bluestore"), avail("sdd"))},
			jobs: []PrepareJob{succeeded("prep-a", "node-a", fin, "sdb", "sdc")},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", provisioned, "").osd(0),
				dp("sdc", leftOut, "HasFilesystem"),
				dp("sdd", wouldProvision, ReasonWaitingForTurn).says("prep-a of this node to be removed"),
			}},
			del:      []string{"prep-a"},
			osdSpecs: []OSDSpec{osdSpec(0, "node-a", "sdb", "")},
		},
		{
			name: "a finished Job of a node without inventory is deleted",
			jobs: []PrepareJob{succeeded("prep-x", "node-x", fin, "sdb"), failedJob("prep-y", "node-y", fin, "sdb")},
			del:  []string{"prep-x", "prep-y"},
		},
		{
			name:    "a failed Job: its disk is Failed, attempt 1, and the Job deleted",
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"))},
			jobs:    []PrepareJob{failedJob("prep-a", "node-a", fin, "sdb")},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(1, fin).says("prepare Job prep-a failed (attempt 1, at 2025-03-01T12:59:50Z); next attempt after 2025-03-01T13:00:20Z")}},
			del:     []string{"prep-a"},
			requeue: 20 * time.Second,
			counts:  &cephv1alpha1.OSDCounts{Desired: 1, Failed: 1},
		},
		{
			name:    "a failed Job seen twice counts once",
			invs:    []cephv1alpha1.DiskInventory{withPlan(inv("node-a", avail("sdb")), prevFailed("sdb", 2, finNanos.Truncate(time.Second)))},
			jobs:    []PrepareJob{failedJob("prep-a", "node-a", finNanos, "sdb")},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(2, fin)}},
			del:     []string{"prep-a"},
			requeue: 50 * time.Second,
		},
		{
			name: "a failed Job adds to the attempts carried by the plan",
			invs: []cephv1alpha1.DiskInventory{withPlan(inv("node-a", avail("sdb")), func() cephv1alpha1.DevicePlan {
				p := prevFailed("sdb", 2, t0.Add(30*time.Minute))
				p.Action, p.Reason = preparing, ""
				return p
			}())},
			jobs:    []PrepareJob{failedJob("prep-a", "node-a", fin, "sdb")},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(3, fin)}},
			del:     []string{"prep-a"},
			requeue: 110 * time.Second,
		},
		{
			name:  "a failed Job's disk that is no longer empty records no failure",
			invs:  []cephv1alpha1.DiskInventory{inv("node-a", rejected("sdb", "HasFilesystem", "xfs"))},
			jobs:  []PrepareJob{failedJob("prep-a", "node-a", fin, "sdb")},
			plans: map[string][]wantDP{"node-a": {dp("sdb", leftOut, "HasFilesystem")}},
			del:   []string{"prep-a"},
		},
		{
			name: "disks in backoff stay Failed and the earliest expiry is requeued",
			invs: []cephv1alpha1.DiskInventory{
				withPlan(inv("node-a", avail("sdb")), prevFailed("sdb", 3, now.Add(-time.Minute))),
				withPlan(inv("node-b", avail("sdb")), prevFailed("sdb", 1, fin)),
			},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(3, now.Add(-time.Minute)).says("next attempt after 2025-03-01T13:01:00Z")},
				"node-b": {dp("sdb", failed, ReasonPrepareFailed).fails(1, fin)},
			},
			requeue: 20 * time.Second,
			counts:  &cephv1alpha1.OSDCounts{Desired: 2, Failed: 2},
		},
		{
			name:   "an expired backoff gives a new Job, the attempts carried",
			invs:   []cephv1alpha1.DiskInventory{withPlan(inv("node-a", avail("sdb")), prevFailed("sdb", 3, now.Add(-3*time.Minute)))},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "").fails(3, now.Add(-3*time.Minute))}},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name:   "a change of the inventory after the failure retries at once",
			invs:   []cephv1alpha1.DiskInventory{withPlan(scannedAt(inv("node-a", avail("sdb")), now.Add(-30*time.Second)), prevFailed("sdb", 3, now.Add(-time.Minute)))},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name:  "after six attempts the disk is not retried",
			invs:  []cephv1alpha1.DiskInventory{withPlan(inv("node-a", avail("sdb")), prevFailed("sdb", 6, t0.Add(10*time.Minute)))},
			plans: map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(6, t0.Add(10*time.Minute)).says("no further attempt until the disk's content changes")}},
		},
		{
			name:   "after six attempts a change of the inventory retries",
			invs:   []cephv1alpha1.DiskInventory{withPlan(scannedAt(inv("node-a", avail("sdb")), t0.Add(20*time.Minute)), prevFailed("sdb", 6, t0.Add(10*time.Minute)))},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name:    "maxNodesPreparing counts every node with a Job and picks nodes in name order",
			storage: func(s *cephv1alpha1.StorageSpec) { s.MaxNodesPreparing = 3 },
			invs:    []cephv1alpha1.DiskInventory{inv("node-b", avail("sdb")), inv("node-a", avail("sdb")), inv("node-c", avail("sdb"))},
			jobs:    []PrepareJob{running("prep-c", "node-c", "sdb"), running("prep-z", "node-z", "sdb")},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, "")},
				"node-b": {dp("sdb", wouldProvision, ReasonWaitingForTurn).says("3 nodes are preparing disks")},
				"node-c": {dp("sdb", preparing, "")},
			},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
			counts: &cephv1alpha1.OSDCounts{Desired: 3, Preparing: 2},
		},
		{
			name:   "maxNodesPreparing defaults to 10",
			nodes:  manyNodes,
			invs:   manyInvs,
			plans:  manyPlans,
			create: limitJobs(10),
		},
		{
			name: "a renamed disk keeps its plan by id, and its old name does not",
			invs: []cephv1alpha1.DiskInventory{
				withPlan(inv("node-a", newDisk, renamed(avail("sdb"), "sdc")), prevFailed("sdb", 2, now.Add(-50*time.Second))),
				inv("node-b", renamed(avail("sdd"), "sde")),
			},
			jobs: []PrepareJob{running("prep-b", "node-b", "sdd")},
			plans: map[string][]wantDP{
				"node-a": {
					dp("sdb", preparing, "").withID(wwnID("new")),
					dp("sdc", failed, ReasonPrepareFailed).withID(wwnID("sdb")).fails(2, now.Add(-50*time.Second)),
				},
				"node-b": {dp("sde", preparing, "").withID(wwnID("sdd")).says("prep-b")},
			},
			create:  []JobSpec{job("node-a", Device{Name: "sdb", ID: wwnID("new"), Path: wwnID("new"), SizeBytes: 100 << 30})},
			requeue: 10 * time.Second,
		},
		{
			name: "counts",
			invs: []cephv1alpha1.DiskInventory{withPlan(inv("node-a",
				osdDisk("sdb", 0), avail("sdc"), rejected("sdd", "TooSmall", "1 GiB"), avail("sde"),
			), prevFailed("sde", 1, fin))},
			osds: []OSD{{ID: 0, Node: "node-a", DeviceID: wwnID("sdb"), Ready: true}, {ID: 1, Node: "node-b", DeviceID: wwnID("sdb")}},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", provisioned, "").osd(0),
				dp("sdc", preparing, ""),
				dp("sdd", leftOut, "TooSmall"),
				dp("sde", failed, ReasonPrepareFailed).fails(1, fin),
			}},
			create:   []JobSpec{job("node-a", dev("sdc", ""))},
			osdSpecs: []OSDSpec{osdSpec(0, "node-a", "sdb", "")},
			requeue:  20 * time.Second,
			counts:   &cephv1alpha1.OSDCounts{Desired: 3, Preparing: 1, Provisioned: 1, Running: 1, Failed: 1},
		},
	})
}

// limitDefaults builds n nodes with one empty disk each, and the plans
// expected with the default limit: the first ten in name order prepare.
func limitDefaults(n int) ([]corev1.Node, []cephv1alpha1.DiskInventory, map[string][]wantDP) {
	var nodes []corev1.Node
	var invs []cephv1alpha1.DiskInventory
	plans := map[string][]wantDP{}
	for i := range n {
		name := fmt.Sprintf("node-%02d", i)
		nodes = append(nodes, node(name, nil))
		invs = append(invs, inv(name, avail("sdb")))
		if i < defaultMaxNodesPreparing {
			plans[name] = []wantDP{dp("sdb", preparing, "")}
		} else {
			plans[name] = []wantDP{dp("sdb", wouldProvision, ReasonWaitingForTurn).says("10 nodes are preparing")}
		}
	}
	return nodes, invs, plans
}

func limitJobs(n int) []JobSpec {
	var jobs []JobSpec
	for i := range n {
		jobs = append(jobs, job(fmt.Sprintf("node-%02d", i), dev("sdb", "")))
	}
	return jobs
}

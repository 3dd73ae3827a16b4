package osdplan

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// hashed is disk d with a content hash, as a current agent publishes it.
func hashed(d cephv1alpha1.Disk, hash string) cephv1alpha1.Disk {
	d.ContentHash = hash
	return d
}

// withRecords sets the inventory's failure records annotation.
func withRecords(i cephv1alpha1.DiskInventory, records map[string]string) cephv1alpha1.DiskInventory {
	i.Annotations = map[string]string{FailureRecordsAnnotation: FormatFailureRecords(records)}
	return i
}

// withIdentity gives disk d a WWN and a serial.
func withIdentity(d cephv1alpha1.Disk, wwn, serial string) cephv1alpha1.Disk {
	d.WWN, d.Serial = wwn, serial
	return d
}

// finishedWith is a finished Job whose pod reported results, by disk name.
func finishedWith(name, node string, state JobState, at time.Time, results map[string]PrepareResult) PrepareJob {
	j := PrepareJob{Name: name, Node: node, State: state, FinishedAt: at, Results: map[string]PrepareResult{}}
	for disk, r := range results {
		j.DeviceIDs = append(j.DeviceIDs, wwnID(disk))
		j.Results[wwnID(disk)] = r
	}
	return j
}

func prevRefused(name string, attempts int32, at time.Time) cephv1alpha1.DevicePlan {
	p := prevFailed(name, attempts, at)
	p.Reason, p.Message = ReasonPrepareRefused, "agent prepare refused to write it (Job x): HasUnknownData: non-zero byte at offset 1048575"
	return p
}

// TestComputeSafety covers the rules that keep one writer per disk and
// report what agent prepare refused or failed, without loops.
func TestComputeSafety(t *testing.T) {
	fin := now.Add(-10 * time.Second)
	kernelOnly := avail("sdc")
	kernelOnly.ID, kernelOnly.Links = "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0", []string{"/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0"}
	identified := withIdentity(avail("sdb"), "0x5000c500sdb", "ZA1")
	longStderr := strings.Repeat("é", 4000) + "\nstderr: _read_bdev_label failed: (5) Input/output error"
	longMsg := strings.Repeat("x", 5000)
	answered := inv("node-a", avail("sdb"))
	answered.Spec.RescanRequest, answered.Status.ObservedRescanRequest = 4, 4
	waitingAnswer := inv("node-a", avail("sdb"))
	waitingAnswer.Spec.RescanRequest, waitingAnswer.Status.ObservedRescanRequest = 4, 3
	askedOnce := func(j PrepareJob) PrepareJob { j.RescanRequest = 4; return j }
	// The operator stopped between recording request 4 on the Job and
	// writing it to the inventory, which still has request 3 answered.
	lostWrite := inv("node-a", avail("sdb"))
	lostWrite.Spec.RescanRequest, lostWrite.Status.ObservedRescanRequest = 3, 3
	otherChanged := scannedAt(inv("node-a", hashed(avail("sdb"), "h1"), hashed(avail("sdc"), "new")), now.Add(-10*time.Second))

	runCases(t, []planCase{
		{
			name: "a device named by kernel name is planned by its stable id and path, with its identity",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.UseAllDevices = false
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", Devices: []cephv1alpha1.DeviceSpec{{Name: "sdb"}, {Name: "sdc"}}}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", identified, kernelOnly)},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, "").says("prepare Job ceph-prepare-" + NodeHash("node-a") + " is turning it"),
				dp("sdc", preparing, "").withID(kernelOnly.ID),
			}},
			create: []JobSpec{job("node-a",
				Device{Name: "sdb", ID: wwnID("sdb"), Path: wwnID("sdb"), WWN: "0x5000c500sdb", Serial: "ZA1", SizeBytes: 100 << 30},
				Device{Name: "sdc", ID: kernelOnly.ID, Path: kernelOnly.ID, SizeBytes: 100 << 30},
			)},
		},
		{
			name: "the same WWN on two nodes: every copy is left out as SharedDevice, naming the other",
			invs: []cephv1alpha1.DiskInventory{
				inv("node-a", withIdentity(avail("sdb"), "0x5000AA", ""), avail("sdc")),
				inv("node-b", withIdentity(renamed(avail("sdx"), "sdd"), " 0x5000aa ", "")),
			},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", leftOut, ReasonSharedDevice).says("the same WWN 0x5000aa is also seen as node-b/sdd (" + wwnID("sdx") + ")"), dp("sdc", preparing, "")},
				"node-b": {dp("sdd", leftOut, ReasonSharedDevice).withID(wwnID("sdx")).says("node-a/sdb")},
			},
			create: []JobSpec{job("node-a", dev("sdc", ""))},
		},
		{
			name: "the same serial and size on one node is shared; another size, or empty identities, are not",
			invs: []cephv1alpha1.DiskInventory{
				inv("node-a", withIdentity(avail("sdb"), "", "S1"), withIdentity(avail("sdc"), "", "S1"),
					func() cephv1alpha1.Disk { d := withIdentity(avail("sdd"), "", "S2"); return d }(),
					func() cephv1alpha1.Disk { d := withIdentity(avail("sde"), "", "S2"); d.SizeBytes = 200 << 30; return d }(),
					rejected("sdf", "HasPartitions", "sdf1")),
				inv("node-b", withIdentity(rejected("sdb", "HasFilesystem", "xfs"), "", "S1")),
			},
			plans: map[string][]wantDP{
				"node-a": {
					dp("sdb", leftOut, ReasonSharedDevice).says("serial s1 and size 107374182400"),
					dp("sdc", leftOut, ReasonSharedDevice).says("node-a/sdb"),
					dp("sdd", preparing, ""),
					dp("sde", preparing, ""),
					dp("sdf", leftOut, "HasPartitions"),
				},
				"node-b": {dp("sdb", leftOut, ReasonSharedDevice).says("node-a/sdb")},
			},
			create: []JobSpec{job("node-a",
				func() Device { d := dev("sdd", ""); d.Serial = "S2"; return d }(),
				func() Device { d := dev("sde", ""); d.Serial, d.SizeBytes = "S2", 200<<30; return d }())},
		},
		{
			name:    "an unstarted Job whose disk left the selection is deleted; the node waits for it to go",
			storage: func(s *cephv1alpha1.StorageSpec) { s.DeviceFilter = "^sdc$" },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"))},
			jobs:    []PrepareJob{unstarted("prep-a", "node-a", "sdb", "sdc")},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", leftOut, ReasonFilteredOut),
				dp("sdc", wouldProvision, ReasonWaitingForTurn).says("prep-a of this node to be removed"),
			}},
			del: []string{"prep-a"},
		},
		{
			name:    "an unstarted Job is deleted when provisioning switches to Preview",
			storage: func(s *cephv1alpha1.StorageSpec) { s.Provisioning = cephv1alpha1.ProvisioningPreview },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"))},
			jobs:    []PrepareJob{unstarted("prep-a", "node-a", "sdb")},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", wouldProvision, ReasonPreview)}},
			del:     []string{"prep-a"},
		},
		{
			name: "an unstarted Job whose node or disk is gone is deleted; one whose disk turned Busy is not (its own pod may hold it)",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", rejected("sdb", "Busy", "held")), inv("node-b", avail("sdc"))},
			jobs: []PrepareJob{unstarted("prep-a", "node-a", "sdb"), unstarted("prep-b", "node-b", "sdb"), unstarted("prep-z", "node-z", "sdb")},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", leftOut, "Busy")},
				"node-b": {dp("sdc", wouldProvision, ReasonWaitingForTurn).says("prep-b of this node to be removed")},
			},
			del: []string{"prep-b", "prep-z"},
		},
		{
			name: "an unstarted Job whose disk turned out to be shared with another node is deleted",
			invs: []cephv1alpha1.DiskInventory{
				inv("node-a", withIdentity(avail("sdb"), "0x5000bb", "")),
				inv("node-b", withIdentity(avail("sdc"), "0x5000BB", "")),
			},
			jobs: []PrepareJob{unstarted("prep-a", "node-a", "sdb")},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", leftOut, ReasonSharedDevice).says("node-b/sdc")},
				"node-b": {dp("sdc", leftOut, ReasonSharedDevice).says("node-a/sdb")},
			},
			del: []string{"prep-a"},
		},
		{
			name:  "a half-prepared disk is left out with discovery's PartiallyPrepared and its recovery",
			invs:  []cephv1alpha1.DiskInventory{inv("node-a", rejected("sdb", "PartiallyPrepared", "label of this cluster without a complete OSD; run ceph osd purge 3, then wipe"))},
			plans: map[string][]wantDP{"node-a": {dp("sdb", leftOut, "PartiallyPrepared").says("ceph osd purge 3")}},
		},
		{
			name:  "an unstarted Job still wanted is kept",
			invs:  []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"))},
			jobs:  []PrepareJob{unstarted("prep-a", "node-a", "sdb")},
			plans: map[string][]wantDP{"node-a": {dp("sdb", preparing, "").says("prep-a")}},
		},
		{
			name: "a started Job is never deleted, even with its disk deselected",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.Provisioning = cephv1alpha1.ProvisioningPreview
				s.DeviceFilter = "^sdc$"
			},
			invs:  []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"))},
			jobs:  []PrepareJob{running("prep-a", "node-a", "sdb")},
			plans: map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
		},
		{
			name: "a refusal is reported with the agent's reason, recorded with the disk's hash, and not retried",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", hashed(avail("sdb"), "h1"))},
			jobs: []PrepareJob{finishedWith("prep-a", "node-a", JobFailed, fin, map[string]PrepareResult{
				"sdb": {Outcome: OutcomeRefused, Reason: "HasUnknownData", Message: "non-zero byte at offset 1048575"},
			})},
			plans: map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareRefused).fails(1, fin).
				says("agent prepare refused to write it (Job prep-a, at 2025-03-01T12:59:50Z): HasUnknownData: non-zero byte at offset 1048575; it is not tried again until its content changes")}},
			del:     []string{"prep-a"},
			records: map[string]string{"node-a": `{"` + wwnID("sdb") + `":"h1"}`},
		},
		{
			name:    "a refused disk stays refused a day later while its content is the same, even if another disk changed",
			invs:    []cephv1alpha1.DiskInventory{withRecords(withPlan(otherChanged, prevRefused("sdb", 1, fin)), map[string]string{wwnID("sdb"): "h1"})},
			now:     now.Add(24 * time.Hour),
			plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareRefused).fails(1, fin).says("HasUnknownData"), dp("sdc", preparing, "")}},
			create:  []JobSpec{job("node-a", dev("sdc", ""))},
			records: map[string]string{},
		},
		{
			name:   "a refused disk whose content changed is tried again, its attempts reset",
			invs:   []cephv1alpha1.DiskInventory{withRecords(withPlan(inv("node-a", hashed(avail("sdb"), "h2")), prevRefused("sdb", 1, fin)), map[string]string{wwnID("sdb"): "h1"})},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
			// The record goes with the failure.
			records: map[string]string{"node-a": ""},
		},
		{
			name:    "a refused disk whose record an administrator removed is tried again",
			invs:    []cephv1alpha1.DiskInventory{withPlan(inv("node-a", hashed(avail("sdb"), "h1")), prevRefused("sdb", 1, fin))},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
			create:  []JobSpec{job("node-a", dev("sdb", ""))},
			records: map[string]string{},
		},
		{
			name: "a failure carries the end of ceph-volume's stderr, cut to the schema's length",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", hashed(avail("sdb"), "h1"))},
			jobs: []PrepareJob{finishedWith("prep-a", "node-a", JobFailed, fin, map[string]PrepareResult{
				"sdb": {Outcome: OutcomeFailed, Reason: "CephVolumeFailed", Message: "ceph-volume raw prepare exited with 1", Stderr: longStderr},
			})},
			plans: map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(1, fin).
				says("prepare Job prep-a failed (attempt 1, at 2025-03-01T12:59:50Z); next attempt after 2025-03-01T13:00:20Z: CephVolumeFailed: ceph-volume raw prepare exited with 1; ceph-volume stderr: …")}},
			del:     []string{"prep-a"},
			requeue: 20 * time.Second,
			records: map[string]string{"node-a": `{"` + wwnID("sdb") + `":"h1"}`},
		},
		{
			name: "a 5000-character agent message is cut to fit",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"))},
			jobs: []PrepareJob{finishedWith("prep-a", "node-a", JobFailed, fin, map[string]PrepareResult{
				"sdb": {Outcome: OutcomeRefused, Reason: "HasUnknownData", Message: longMsg},
			})},
			plans: map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareRefused).fails(1, fin).says("HasUnknownData: xxxx")}},
			del:   []string{"prep-a"},
		},
		{
			name:    "backoff holds when another disk of the node changed, not this one",
			invs:    []cephv1alpha1.DiskInventory{withRecords(withPlan(otherChanged, prevFailed("sdb", 3, now.Add(-time.Minute))), map[string]string{wwnID("sdb"): "h1"})},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(3, now.Add(-time.Minute)), dp("sdc", preparing, "")}},
			create:  []JobSpec{job("node-a", dev("sdc", ""))},
			requeue: 60 * time.Second,
			records: map[string]string{},
		},
		{
			name:    "after six attempts a change of another disk does not retry this one",
			invs:    []cephv1alpha1.DiskInventory{withRecords(withPlan(otherChanged, prevFailed("sdb", 6, t0)), map[string]string{wwnID("sdb"): "h1"})},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(6, t0).says("no further attempt"), dp("sdc", preparing, "")}},
			create:  []JobSpec{job("node-a", dev("sdc", ""))},
			records: map[string]string{},
		},
		{
			name:   "a change of this disk's content resets attempts and backoff",
			invs:   []cephv1alpha1.DiskInventory{withRecords(withPlan(inv("node-a", hashed(avail("sdb"), "h2")), prevFailed("sdb", 6, now.Add(-time.Minute))), map[string]string{wwnID("sdb"): "h1"})},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "")}},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name: "a failed Job that prepared one disk is kept for it, and records the other's failure",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"), avail("sdd"))},
			jobs: []PrepareJob{finishedWith("prep-a", "node-a", JobFailed, fin, map[string]PrepareResult{
				"sdb": {Outcome: OutcomePrepared},
				"sdc": {Outcome: OutcomeFailed, Reason: "Timeout", Message: "ceph-volume ran longer than 15m0s"},
			})},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, "").says("prepare Job prep-a finished; waiting for the agent to rescan"),
				dp("sdc", failed, ReasonPrepareFailed).fails(1, fin).says("Timeout: ceph-volume ran longer than 15m0s"),
				dp("sdd", wouldProvision, ReasonWaitingForTurn),
			}},
			rescan:     []string{"node-a"},
			rescanJobs: map[string]string{"node-a": "prep-a"},
			requeue:    20 * time.Second,
		},
		{
			name: "a failed Job without a result fails every disk with the Job's own account",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"))},
			jobs: []PrepareJob{func() PrepareJob {
				j := failedJob("prep-a", "node-a", fin, "sdb")
				j.FailureMessage = "the Job failed: DeadlineExceeded Job was active longer than specified deadline"
				return j
			}()},
			plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonPrepareFailed).fails(1, fin).says("DeadlineExceeded")}},
			del:     []string{"prep-a"},
			requeue: 20 * time.Second,
		},
		{
			name:   "a kept Job whose rescan is not answered yet asks for none",
			invs:   []cephv1alpha1.DiskInventory{waitingAnswer},
			jobs:   []PrepareJob{askedOnce(succeeded("prep-a", "node-a", fin, "sdb"))},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "").says("waiting for the agent to rescan")}},
			rescan: nil,
		},
		{
			name:   "a kept Job whose request never reached the inventory has that same request written, not a new one",
			invs:   []cephv1alpha1.DiskInventory{lostWrite},
			jobs:   []PrepareJob{askedOnce(succeeded("prep-a", "node-a", fin, "sdb"))},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "").says("waiting for the agent to rescan")}},
			rescan: nil,
			resume: map[string]int64{"node-a": 4},
		},
		{
			name:   "a kept Job whose one rescan was answered asks for no other, and says why it waits",
			invs:   []cephv1alpha1.DiskInventory{answered},
			jobs:   []PrepareJob{askedOnce(succeeded("prep-a", "node-a", fin, "sdb"))},
			plans:  map[string][]wantDP{"node-a": {dp("sdb", preparing, "").says("still shows it Available; the Job is kept so that the disk is not prepared twice")}},
			rescan: nil,
		},
	})
}

// TestRescansAreBounded replays an agent that answers every rescan with
// the disk still Available: the planner asks once for the Job's outcome,
// then never again, however many times it plans.
func TestRescansAreBounded(t *testing.T) {
	i := inv("node-a", avail("sdb"))
	j := succeeded("prep-a", "node-a", now.Add(-time.Minute), "sdb")
	asked := 0
	for round := 0; round < 50; round++ {
		got := Compute(Input{Cluster: cluster(nil), Nodes: defaultNodes(), Inventories: []cephv1alpha1.DiskInventory{i}, Jobs: []PrepareJob{j}, Now: now})
		if len(got.CreateJobs) != 0 || len(got.DeleteJobs) != 0 {
			t.Fatalf("round %d: created %v, deleted %v while the Job is kept", round, got.CreateJobs, got.DeleteJobs)
		}
		if len(got.Rescan) > 0 {
			asked++
			// What the reconciler does: record the request on the Job and
			// the inventory; the agent answers at once.
			i.Spec.RescanRequest = i.Status.ObservedRescanRequest + 1
			j.RescanRequest = i.Spec.RescanRequest
			i.Status.ObservedRescanRequest = i.Spec.RescanRequest
		}
	}
	if asked != 1 {
		t.Errorf("asked for %d rescans in 50 plans, want 1", asked)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789", 10, "0123456789"},
		{"0123456789a", 10, "012345678…"},
		{"ééééé", 3, "éé…"},
		{"ab\xffcd", 10, "ab\uFFFDcd"},
	} {
		if got := Truncate(tc.in, tc.max); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	got := FitMessage("head", "stderr: ", strings.Repeat("ü", 2000)+"END", 300)
	if n := utf8.RuneCountInString(got); n != 300 || !strings.HasPrefix(got, "head; stderr: …") || !strings.HasSuffix(got, "üEND") {
		t.Errorf("FitMessage kept %d characters: %.40q…%q", n, got, got[len(got)-10:])
	}
	got = FitMessage(strings.Repeat("h", 2000), "stderr: ", strings.Repeat("t", 2000), 1024)
	if n := utf8.RuneCountInString(got); n > 1024 || !strings.HasSuffix(got, "tttt") || !strings.Contains(got, "h…; stderr: …t") {
		t.Errorf("FitMessage with a long head: %d characters", n)
	}
}

func TestUnschedule(t *testing.T) {
	in := Input{Cluster: cluster(nil), Nodes: defaultNodes(), Now: now, Inventories: []cephv1alpha1.DiskInventory{
		inv("node-a", avail("sdb"), avail("sdc")), inv("node-b", avail("sdb")),
	}}
	plan := Compute(in)
	if len(plan.CreateJobs) != 2 || plan.Counts.Preparing != 3 {
		t.Fatalf("plan %+v", plan)
	}
	plan.Unschedule("node-a", "ceph-prepare-x")
	if len(plan.CreateJobs) != 1 || plan.CreateJobs[0].Node != "node-b" {
		t.Errorf("jobs after Unschedule: %+v", plan.CreateJobs)
	}
	for _, p := range plan.DevicePlans["node-a"] {
		if p.Action != wouldProvision || p.Reason != ReasonWaitingForTurn || !strings.Contains(p.Message, "ceph-prepare-x") {
			t.Errorf("node-a/%s: %s/%s %q", p.Name, p.Action, p.Reason, p.Message)
		}
	}
	if plan.Counts.Preparing != 1 || plan.Counts.Desired != 3 {
		t.Errorf("counts %+v", plan.Counts)
	}
}

package osdplan

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

const wiping = cephv1alpha1.ActionWiping

// hashA and hashB are content hashes of a disk before and after a change.
const (
	hashA = "aaaaaaaaaaaa0123456789abcdef0123456789abcdef0123456789abcdef0123"
	hashB = "bbbbbbbbbbbb0123456789abcdef0123456789abcdef0123456789abcdef0123"
)

// foreign is a disk carrying another cluster's OSD, with content hash.
func foreign(name, hash string) cephv1alpha1.Disk {
	d := rejected(name, string(discovery.ForeignCephCluster), name+" holds OSD 7 of another cluster (fsid "+otherFSID+")")
	d.WWN, d.ContentHash, d.Verdict.ClusterFSID = "0x5000c500"+name, hash, otherFSID
	return d
}

// confirm is the confirmation the plan shows for disk d.
func confirm(d cephv1alpha1.Disk) string {
	return discovery.WipeConfirmation(discovery.WipeIdentity{ID: d.ID, WWN: d.WWN, Serial: d.Serial, ContentHash: d.ContentHash,
		Reason: discovery.Reason(d.Verdict.Reason), LabelFSID: d.Verdict.ClusterFSID})
}

func wipeReq(node, device, confirmation string) func(*cephv1alpha1.StorageSpec) {
	return func(s *cephv1alpha1.StorageSpec) {
		s.WipeDevices = append(s.WipeDevices, cephv1alpha1.WipeDeviceSpec{Node: node, Device: device, Confirmation: confirmation})
	}
}

func wipeJobSpec(node string, disks ...cephv1alpha1.Disk) JobSpec {
	j := JobSpec{Node: node, Wipe: true}
	for _, d := range disks {
		dv := dev(d.Name, "")
		dv.WWN, dv.WipeConfirmation = d.WWN, confirm(d)
		j.Devices = append(j.Devices, dv)
	}
	return j
}

func wipeJob(pj PrepareJob) PrepareJob {
	pj.Wipe = true
	return pj
}

func TestWipePlans(t *testing.T) {
	sdb := foreign("sdb", hashA)
	right := confirm(sdb)
	wrong := right[:len(right)-1] + "0"
	mounted := rejected("sdd", string(discovery.Mounted), "sdd is mounted at /srv")
	mounted.ContentHash = hashA
	wiped := avail("sdb")
	wiped.ContentHash = hashB
	// After the wipe, the same disk with other leftover content.
	reused := foreign("sdb", hashB)
	// The id now names another disk (another WWN) with the same content.
	swapped := foreign("sdb", hashA)
	swapped.WWN = "0x5000c500ffff"
	jobName := JobName("ceph", "node-a")
	answered := func(i cephv1alpha1.DiskInventory, n int64) cephv1alpha1.DiskInventory {
		i.Spec.RescanRequest, i.Status.ObservedRescanRequest = n, n
		return i
	}
	refusedJob := wipeJob(failedJob(jobName, "node-a", t0, "sdb"))
	refusedJob.Results = map[string]PrepareResult{wwnID("sdb"): {Outcome: OutcomeRefused, Reason: "Mounted", Message: "sdb is in use"}}
	doneJob := wipeJob(succeeded(jobName, "node-a", t0, "sdb"))
	doneJob.Results = map[string]PrepareResult{wwnID("sdb"): {Outcome: OutcomeWiped}}
	doneAsked := doneJob
	doneAsked.RescanRequest = 4

	runCases(t, []planCase{{
		name:    "the right confirmation gets a wipe Job; the node's blank disk waits for it",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", sdb, avail("sdc"))},
		plans: map[string][]wantDP{"node-a": {
			dp("sdb", wiping, "").says("wipe Job " + jobName + " is wiping it"),
			dp("sdc", wouldProvision, ReasonWaitingForTurn).says("waits for wipe Job " + jobName),
		}},
		create: []JobSpec{wipeJobSpec("node-a", sdb)},
	}, {
		name:    "a link of the disk names it too",
		storage: wipeReq("node-a", pathLink("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", sdb)},
		plans:   map[string][]wantDP{"node-a": {dp("sdb", wiping, "")}},
		create:  []JobSpec{wipeJobSpec("node-a", sdb)},
	}, {
		name:    "a wrong confirmation wipes nothing and says what is expected",
		storage: wipeReq("node-a", wwnID("sdb"), wrong),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", sdb, avail("sdc"))},
		plans: map[string][]wantDP{"node-a": {
			dp("sdb", leftOut, ReasonWipeConfirmationMismatch).says(right),
			dp("sdc", preparing, ""),
		}},
		create: []JobSpec{job("node-a", dev("sdc", ""))},
	}, {
		name:    "a stale request after the id moved to another disk wipes nothing",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", swapped)},
		plans:   map[string][]wantDP{"node-a": {dp("sdb", leftOut, ReasonWipeConfirmationMismatch).says(confirm(swapped))}},
	}, {
		name:    "a stale request after the disk was wiped and written again wipes nothing",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", reused)},
		plans:   map[string][]wantDP{"node-a": {dp("sdb", leftOut, ReasonWipeConfirmationMismatch)}},
	}, {
		name:    "a mounted disk is never wiped",
		storage: wipeReq("node-a", wwnID("sdd"), "wwn=x/content=aaaaaaaaaaaa"),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", mounted)},
		plans:   map[string][]wantDP{"node-a": {dp("sdd", leftOut, ReasonWipeNotAllowed).says("Mounted")}},
	}, {
		name:     "an OSD of this cluster is never wiped; the request is noted",
		storage:  wipeReq("node-a", wwnID("sdb"), right),
		invs:     []cephv1alpha1.DiskInventory{inv("node-a", osdDisk("sdb", 1))},
		plans:    map[string][]wantDP{"node-a": {dp("sdb", provisioned, "").osd(1).says("holds OSD 1; spec.storage.wipeDevices[0] names this disk, which holds an OSD of this cluster and is never wiped on request: remove the entry")}},
		osdSpecs: []OSDSpec{osdSpec(1, "node-a", "sdb", "")},
	}, {
		name: "Preview wipes nothing",
		storage: func(s *cephv1alpha1.StorageSpec) {
			wipeReq("node-a", wwnID("sdb"), right)(s)
			s.Provisioning = cephv1alpha1.ProvisioningPreview
		},
		invs:  []cephv1alpha1.DiskInventory{inv("node-a", sdb)},
		plans: map[string][]wantDP{"node-a": {dp("sdb", leftOut, ReasonPreview)}},
	}, {
		name:    "a node running a prepare Job waits before wiping",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", sdb, avail("sdc"))},
		jobs:    []PrepareJob{running(jobName, "node-a", "sdc")},
		plans: map[string][]wantDP{"node-a": {
			dp("sdb", leftOut, ReasonWaitingForTurn).says("waits for Job " + jobName),
			dp("sdc", preparing, ""),
		}},
	}, {
		name:    "maxNodesPreparing counts wipe Jobs",
		storage: func(s *cephv1alpha1.StorageSpec) { wipeReq("node-b", wwnID("sdb"), right)(s); s.MaxNodesPreparing = 1 },
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdc")), inv("node-b", sdb)},
		jobs:    []PrepareJob{running(jobName, "node-a", "sdc")},
		plans: map[string][]wantDP{
			"node-a": {dp("sdc", preparing, "")},
			"node-b": {dp("sdb", leftOut, ReasonWaitingForTurn).says("1 nodes are preparing or wiping")},
		},
	}, {
		name: "unknown node and disk are problems",
		storage: func(s *cephv1alpha1.StorageSpec) {
			wipeReq("node-x", wwnID("sdb"), right)(s)
			wipeReq("node-a", wwnID("sdz"), right)(s)
		},
		invs:  []cephv1alpha1.DiskInventory{inv("node-a", sdb)},
		plans: map[string][]wantDP{"node-a": {dp("sdb", leftOut, string(discovery.ForeignCephCluster))}},
		problems: []string{"wipeDevices[0]: node node-x has no published DiskInventory",
			"wipeDevices[1]: node node-a has no disk with id or link " + wwnID("sdz")},
	}, {
		name:    "a running wipe Job keeps the node's turn",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", sdb, avail("sdc"))},
		jobs:    []PrepareJob{wipeJob(running(jobName, "node-a", "sdb"))},
		plans: map[string][]wantDP{"node-a": {
			dp("sdb", wiping, "").says("wipe Job " + jobName + " is wiping it"),
			dp("sdc", wouldProvision, ReasonWaitingForTurn),
		}},
	}, {
		name:  "an unstarted wipe Job whose request was removed is deleted",
		invs:  []cephv1alpha1.DiskInventory{inv("node-a", sdb)},
		jobs:  []PrepareJob{wipeJob(unstarted(jobName, "node-a", "sdb"))},
		plans: map[string][]wantDP{"node-a": {dp("sdb", leftOut, string(discovery.ForeignCephCluster))}},
		del:   []string{jobName},
	}, {
		name:       "a finished wipe asks for one rescan and keeps the Job",
		storage:    wipeReq("node-a", wwnID("sdb"), right),
		invs:       []cephv1alpha1.DiskInventory{inv("node-a", sdb, avail("sdc"))},
		jobs:       []PrepareJob{doneJob},
		plans:      map[string][]wantDP{"node-a": {dp("sdb", wiping, "").says("waiting for the agent to rescan"), dp("sdc", wouldProvision, ReasonWaitingForTurn)}},
		rescan:     []string{"node-a"},
		rescanJobs: map[string]string{"node-a": jobName},
	}, {
		name:    "after the rescan the wiped disk is Available and the Job is deleted",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{answered(inv("node-a", wiped), 4)},
		jobs:    []PrepareJob{doneAsked},
		plans: map[string][]wantDP{"node-a": {
			dp("sdb", wouldProvision, ReasonWaitingForTurn).says("waits for the finished prepare Job " + jobName + " of this node to be removed; spec.storage.wipeDevices[0] names this disk, which is blank: nothing to wipe, remove the entry"),
		}},
		del: []string{jobName},
	}, {
		name:    "a wipe reported done whose rescan shows the same content is a failure, not a loop",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{answered(inv("node-a", sdb), 4)},
		jobs:    []PrepareJob{doneAsked},
		plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonWipeFailed).fails(1, t0).says("still shows it ForeignCephCluster")}},
		del:     []string{jobName},
		records: map[string]string{"node-a": FormatFailureRecords(map[string]string{wwnID("sdb"): hashA})},
	}, {
		name:    "a refused wipe is recorded and the Job deleted",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs:    []cephv1alpha1.DiskInventory{inv("node-a", sdb)},
		jobs:    []PrepareJob{refusedJob},
		plans:   map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonWipeRefused).fails(1, t0).says("Mounted: sdb is in use")}},
		del:     []string{jobName},
		records: map[string]string{"node-a": FormatFailureRecords(map[string]string{wwnID("sdb"): hashA})},
	}, {
		name:    "a refused wipe is not tried again while the disk is unchanged",
		storage: wipeReq("node-a", wwnID("sdb"), right),
		invs: []cephv1alpha1.DiskInventory{withRecords(withPlan(inv("node-a", sdb),
			cephv1alpha1.DevicePlan{Name: "sdb", ID: wwnID("sdb"), Action: failed, Reason: ReasonWipeRefused, Attempts: 1, LastFailureTime: ptr(metav1.NewTime(t0)), Message: "refused"}),
			map[string]string{wwnID("sdb"): hashA})},
		plans: map[string][]wantDP{"node-a": {dp("sdb", failed, ReasonWipeRefused).fails(1, t0).says("refused")}},
	}})
}

// checkWipeSafety asserts that a wipe Job only lists disks its node's
// inventory shows rejected for a wipeable reason, on a selected node, each
// with the confirmation the disk shows and a request that gives it.
func checkWipeSafety(t *testing.T, in Input, j JobSpec) {
	t.Helper()
	for _, d := range j.Devices {
		ok := false
		for _, i := range in.Inventories {
			for _, disk := range i.Status.Disks {
				if inventoryNode(&i) != j.Node || diskID(&disk) != d.ID {
					continue
				}
				conf := confirm(disk)
				requested := false
				for _, r := range in.Cluster.Spec.Storage.WipeDevices {
					requested = requested || (r.Node == j.Node && r.Confirmation == conf)
				}
				ok = disk.Verdict.State == cephv1alpha1.DiskRejected && discovery.Wipeable(discovery.Reason(disk.Verdict.Reason)) &&
					conf != "" && d.WipeConfirmation == conf && requested
			}
		}
		if !ok {
			t.Errorf("wipe Job for %s lists %s, which is not a confirmed, wipeable disk of the node", j.Node, d.ID)
		}
	}
}

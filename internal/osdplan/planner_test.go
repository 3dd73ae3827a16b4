package osdplan

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// TestComputeSelection covers device selection, device classes and the
// verdicts of discovery.
func TestComputeSelection(t *testing.T) {
	noLinks := avail("sdd")
	noLinks.Links = nil
	ataOnly := avail("sdc")
	ataOnly.ID, ataOnly.Links = ataLink("sdc"), []string{ataLink("sdc"), pathLink("sdc")}
	bare := avail("sdd")
	bare.ID, bare.Links = "/dev/sdd", nil
	noID := avail("sdb")
	noID.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, ClusterFSID: testFSID}
	foreign := osdDisk("sdb", 2)
	foreign.Verdict.ClusterFSID = otherFSID
	tainted := node("node-c", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
	unpublished := inv("node-a")
	unpublished.Status = cephv1alpha1.DiskInventoryStatus{}

	runCases(t, []planCase{
		{
			name: "devices list by kernel name",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.UseAllDevices = false
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", Devices: []cephv1alpha1.DeviceSpec{{Name: "sdb"}}}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"))},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, ""),
				dp("sdc", leftOut, ReasonNotListed).says("not in spec.storage.nodes[node-a].devices"),
			}},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name: "devices list by a by-id link and by stable id",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", Devices: []cephv1alpha1.DeviceSpec{{Name: ataLink("sdc")}, {Name: wwnID("sdd")}}}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"), avail("sdd"))},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", leftOut, ReasonNotListed),
				dp("sdc", preparing, ""),
				dp("sdd", preparing, ""),
			}},
			create: []JobSpec{job("node-a", dev("sdc", ""), dev("sdd", ""))},
		},
		{
			name: "a devices list wins over the cluster-wide filter",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.DeviceFilter = "^nvme"
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", Devices: []cephv1alpha1.DeviceSpec{{Name: "sdb"}}}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("nvme0n1"), avail("sdb")), inv("node-b", avail("nvme0n1"), avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("nvme0n1", leftOut, ReasonNotListed), dp("sdb", preparing, "")},
				"node-b": {dp("nvme0n1", preparing, ""), dp("sdb", leftOut, ReasonFilteredOut)},
			},
			create: []JobSpec{job("node-a", dev("sdb", "")), job("node-b", dev("nvme0n1", ""))},
		},
		{
			name:    "deviceFilter matches kernel names",
			storage: func(s *cephv1alpha1.StorageSpec) { s.DeviceFilter = "^sd[bc]$" },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("nvme0n1"), avail("sdb"), avail("sdc"), avail("sdd"))},
			plans: map[string][]wantDP{"node-a": {
				dp("nvme0n1", leftOut, ReasonFilteredOut).says(`kernel name "nvme0n1" does not match spec.storage.deviceFilter "^sd[bc]$"`),
				dp("sdb", preparing, ""),
				dp("sdc", preparing, ""),
				dp("sdd", leftOut, ReasonFilteredOut).says(`spec.storage.deviceFilter "^sd[bc]$"`),
			}},
			create: []JobSpec{job("node-a", dev("sdb", ""), dev("sdc", ""))},
		},
		{
			name: "a node overrides deviceFilter and messages say where the filter came from",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.DeviceFilter = "^sdb$"
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", DeviceFilter: ptr("^nvme")}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("nvme0n1"), avail("sdb")), inv("node-b", avail("nvme0n1"), avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("nvme0n1", preparing, ""), dp("sdb", leftOut, ReasonFilteredOut).says(`spec.storage.nodes[node-a].deviceFilter "^nvme"`)},
				"node-b": {dp("nvme0n1", leftOut, ReasonFilteredOut).says(`spec.storage.deviceFilter "^sdb$"`), dp("sdb", preparing, "")},
			},
			create: []JobSpec{job("node-a", dev("nvme0n1", "")), job("node-b", dev("sdb", ""))},
		},
		{
			name: "an empty node deviceFilter switches the cluster-wide one off",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.DeviceFilter = "^nvme"
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", DeviceFilter: ptr("")}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb")), inv("node-b", avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, "")},
				"node-b": {dp("sdb", leftOut, ReasonFilteredOut)},
			},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name:    "devicePathFilter matches any link",
			storage: func(s *cephv1alpha1.StorageSpec) { s.DevicePathFilter = "^/dev/disk/by-path/.*-ata-sd[bd]$" },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"), noLinks)},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, ""),
				dp("sdc", leftOut, ReasonFilteredOut).says("no /dev/disk/by-* link of the disk matches spec.storage.devicePathFilter"),
				dp("sdd", leftOut, ReasonFilteredOut).says("has no /dev/disk/by-* link"),
			}},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name: "deviceFilter comes before devicePathFilter",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.DeviceFilter = "^sdc$"
				s.DevicePathFilter = "-ata-sdb$"
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"))},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", leftOut, ReasonFilteredOut).says("deviceFilter"),
				dp("sdc", preparing, ""),
			}},
			create: []JobSpec{job("node-a", dev("sdc", ""))},
		},
		{
			name:    "useAllDevices false and nothing else selects",
			storage: func(s *cephv1alpha1.StorageSpec) { s.UseAllDevices = false },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), osdDisk("sdc", 0))},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", leftOut, ReasonNotListed).says("nothing in spec.storage selects it: set useAllDevices, a filter or devices"),
				dp("sdc", provisioned, ReasonOSDNotSelected).osd(0),
			}},
			osdSpecs: []OSDSpec{osdSpec(0, "node-a", "sdc", "")},
			counts:   &cephv1alpha1.OSDCounts{Desired: 1, Provisioned: 1},
		},
		{
			name: "a node turns useAllDevices on",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.UseAllDevices = false
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", UseAllDevices: ptr(true)}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb")), inv("node-b", avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, "")},
				"node-b": {dp("sdb", leftOut, ReasonNotListed).says("nothing in spec.storage selects it")},
			},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name: "a node turns useAllDevices off",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-b", UseAllDevices: ptr(false)}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb")), inv("node-b", avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, "")},
				"node-b": {dp("sdb", leftOut, ReasonNotListed).says("spec.storage.nodes[node-b].useAllDevices is false")},
			},
			create: []JobSpec{job("node-a", dev("sdb", ""))},
		},
		{
			name:    "an invalid cluster-wide deviceFilter selects nothing and is reported once",
			storage: func(s *cephv1alpha1.StorageSpec) { s.DeviceFilter = "[" },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc")), inv("node-b", avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {
					dp("sdb", leftOut, ReasonInvalidFilter).says(`spec.storage.deviceFilter "[" is not a valid regular expression`),
					dp("sdc", leftOut, ReasonInvalidFilter),
				},
				"node-b": {dp("sdb", leftOut, ReasonInvalidFilter)},
			},
			problems: []string{`spec.storage.deviceFilter "[" is not a valid regular expression: error parsing regexp: missing closing ]`},
		},
		{
			name: "an invalid node devicePathFilter only governs its node",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", DevicePathFilter: ptr("(")}}
			},
			invs:     []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb")), inv("node-b", avail("sdb"))},
			plans:    map[string][]wantDP{"node-a": {dp("sdb", leftOut, ReasonInvalidFilter).says(`spec.storage.nodes[node-a].devicePathFilter "("`)}, "node-b": {dp("sdb", preparing, "")}},
			create:   []JobSpec{job("node-b", dev("sdb", ""))},
			problems: []string{`spec.storage.nodes[node-a].devicePathFilter "(" is not a valid regular expression`},
		},
		{
			name: "invalid filters are reported even where overridden or without inventory",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.DevicePathFilter = "["
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a", DeviceFilter: ptr("^sdb$")}, {Name: "node-c", DeviceFilter: ptr("*")}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc")), inv("node-b", avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, ""), dp("sdc", leftOut, ReasonFilteredOut)},
				"node-b": {dp("sdb", leftOut, ReasonInvalidFilter).says(`spec.storage.devicePathFilter "["`)},
			},
			create:   []JobSpec{job("node-a", dev("sdb", ""))},
			problems: []string{`spec.storage.devicePathFilter "["`, `spec.storage.nodes[node-c].deviceFilter "*"`},
		},
		{
			name: "deviceClass: device entry, then node, then cluster",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.Config.DeviceClass = "hdd"
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{
					Name:    "node-a",
					Config:  cephv1alpha1.OSDOverrides{DeviceClass: "ssd"},
					Devices: []cephv1alpha1.DeviceSpec{{Name: "sdb", Config: cephv1alpha1.OSDOverrides{DeviceClass: "nvme"}}, {Name: "sdc"}},
				}}
			},
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc"), avail("sdd")), inv("node-b", avail("sdb"))},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, "").cls("nvme"), dp("sdc", preparing, "").cls("ssd"), dp("sdd", leftOut, ReasonNotListed).cls("ssd")},
				"node-b": {dp("sdb", preparing, "").cls("hdd")},
			},
			create: []JobSpec{job("node-a", dev("sdb", "nvme"), dev("sdc", "ssd")), job("node-b", dev("sdb", "hdd"))},
		},
		{
			name:    "discovery's rejections pass through, after the selection",
			storage: func(s *cephv1alpha1.StorageSpec) { s.DeviceFilter = "^sd[bcd]$" },
			invs: []cephv1alpha1.DiskInventory{inv("node-a",
				rejected("sdb", "HasPartitions", "partition sdb1 holds an ext4 filesystem"),
				rejected("sdc", "ForeignCephCluster", "sdc holds OSD 3 of another cluster (fsid "+otherFSID+")"),
				avail("sdd"),
				rejected("sde", "Mounted", "sde is mounted at /data"),
			)},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", leftOut, "HasPartitions").says("partition sdb1 holds an ext4 filesystem"),
				dp("sdc", leftOut, "ForeignCephCluster").says("sdc holds OSD 3 of another cluster"),
				dp("sdd", preparing, ""),
				dp("sde", leftOut, ReasonFilteredOut),
			}},
			create: []JobSpec{job("node-a", dev("sdd", ""))},
		},
		{
			name:    "OSD disks are provisioned and get OSD Deployments",
			storage: func(s *cephv1alpha1.StorageSpec) { s.Config.DeviceClass = "hdd" },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", osdDisk("sdb", 3), osdDisk("sdc", 4))},
			osds:    []OSD{{ID: 3, Node: "node-a", DeviceID: wwnID("sdb"), Ready: true}, {ID: 4, Node: "node-a", DeviceID: wwnID("sdc")}},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", provisioned, "").osd(3).cls("hdd").says("holds OSD 3"),
				dp("sdc", provisioned, "").osd(4).cls("hdd"),
			}},
			osdSpecs: []OSDSpec{osdSpec(3, "node-a", "sdb", "hdd"), osdSpec(4, "node-a", "sdc", "hdd")},
			counts:   &cephv1alpha1.OSDCounts{Desired: 2, Provisioned: 2, Running: 1},
		},
		{
			name:    "an OSD disk no longer selected keeps its OSD",
			storage: func(s *cephv1alpha1.StorageSpec) { s.DeviceFilter = "^nvme" },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("nvme0n1"), osdDisk("sdb", 1))},
			plans: map[string][]wantDP{"node-a": {
				dp("nvme0n1", preparing, ""),
				dp("sdb", provisioned, ReasonOSDNotSelected).osd(1).says("kept"),
			}},
			create:   []JobSpec{job("node-a", dev("nvme0n1", ""))},
			osdSpecs: []OSDSpec{osdSpec(1, "node-a", "sdb", "")},
			counts:   &cephv1alpha1.OSDCounts{Desired: 2, Preparing: 1, Provisioned: 1},
		},
		{
			name: "two disks with the same OSD id get no Deployment",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", osdDisk("sdb", 5), osdDisk("sdc", 6)), inv("node-b", osdDisk("sdc", 5))},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", provisioned, ReasonDuplicateOSDID).osd(5).says("node-b/sdc"), dp("sdc", provisioned, "").osd(6)},
				"node-b": {dp("sdc", provisioned, ReasonDuplicateOSDID).osd(5)},
			},
			osdSpecs: []OSDSpec{osdSpec(6, "node-a", "sdc", "")},
			problems: []string{"OSD 5 is found on more than one disk: node-a/sdb"},
			counts:   &cephv1alpha1.OSDCounts{Desired: 3, Provisioned: 3},
		},
		{
			name: "a node no longer selected keeps its OSDs and gets nothing new",
			storage: func(s *cephv1alpha1.StorageSpec) {
				s.UseAllNodes = false
				s.Nodes = []cephv1alpha1.NodeStorageSpec{{Name: "node-a"}}
			},
			invs: []cephv1alpha1.DiskInventory{
				inv("node-a", avail("sdb")),
				inv("node-b", osdDisk("sdb", 7), avail("sdc"), rejected("sdd", "HasFilesystem", "xfs")),
			},
			plans: map[string][]wantDP{
				"node-a": {dp("sdb", preparing, "")},
				"node-b": {
					dp("sdb", provisioned, ReasonOSDNotSelected).osd(7).says("node is not selected"),
					dp("sdc", leftOut, nodeselect.NodeNotSelected).says("not listed in spec.storage.nodes"),
					dp("sdd", leftOut, nodeselect.NodeNotSelected),
				},
			},
			create:   []JobSpec{job("node-a", dev("sdb", ""))},
			osdSpecs: []OSDSpec{osdSpec(7, "node-b", "sdb", "")},
		},
		{
			name:  "a node with a taint that is not tolerated gets no Job",
			nodes: []corev1.Node{node("node-a", nil), tainted},
			invs:  []cephv1alpha1.DiskInventory{inv("node-c", avail("sdb"), osdDisk("sdc", 2))},
			plans: map[string][]wantDP{"node-c": {
				dp("sdb", leftOut, nodeselect.NodeTaintNotTolerated).says("taint dedicated=db:NoSchedule"),
				dp("sdc", provisioned, ReasonOSDNotSelected).osd(2),
			}},
			osdSpecs: []OSDSpec{osdSpec(2, "node-c", "sdc", "")},
		},
		{
			name: "the inventory of a deleted node keeps its OSDs",
			invs: []cephv1alpha1.DiskInventory{inv("node-z", osdDisk("sdb", 9), avail("sdc"))},
			plans: map[string][]wantDP{"node-z": {
				dp("sdb", provisioned, ReasonNodeGone).osd(9).says("kept although node node-z no longer exists: decommission it"),
				dp("sdc", leftOut, ReasonNodeGone).says("node node-z no longer exists"),
			}},
			osdSpecs: []OSDSpec{osdSpec(9, "node-z", "sdb", "")},
		},
		{
			name:  "an OSD of another cluster is never run",
			invs:  []cephv1alpha1.DiskInventory{inv("node-a", foreign)},
			plans: map[string][]wantDP{"node-a": {dp("sdb", leftOut, "ForeignCephCluster").says(otherFSID)}},
		},
		{
			name:     "an OSD disk without an OSD id gets no Deployment",
			invs:     []cephv1alpha1.DiskInventory{inv("node-a", noID)},
			plans:    map[string][]wantDP{"node-a": {dp("sdb", provisioned, "").says("no OSD id")}},
			problems: []string{"node-a/sdb holds an OSD of this cluster but discovery reported no OSD id"},
			counts:   &cephv1alpha1.OSDCounts{Desired: 1, Provisioned: 1},
		},
		{
			name:  "no plan without a published inventory",
			invs:  []cephv1alpha1.DiskInventory{unpublished, inv("node-c")},
			plans: map[string][]wantDP{"node-c": {}},
		},
		{
			name:    "Preview creates no Job and still reports a running one",
			storage: func(s *cephv1alpha1.StorageSpec) { s.Provisioning = cephv1alpha1.ProvisioningPreview },
			invs:    []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), avail("sdc")), inv("node-b", osdDisk("sdb", 1), avail("sdc"))},
			jobs:    []PrepareJob{running("prep-a", "node-a", "sdc")},
			plans: map[string][]wantDP{
				"node-a": {
					dp("sdb", wouldProvision, ReasonPreview).says("would be prepared as an OSD when provisioning is Enabled"),
					dp("sdc", preparing, ""),
				},
				"node-b": {dp("sdb", provisioned, "").osd(1), dp("sdc", wouldProvision, ReasonPreview)},
			},
			osdSpecs: []OSDSpec{osdSpec(1, "node-b", "sdb", "")},
			counts:   &cephv1alpha1.OSDCounts{Desired: 4, Preparing: 1, Provisioned: 1},
		},
		{
			name: "jobs open disks by a by-id link, preferring WWN, else by device node",
			invs: []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), ataOnly, bare)},
			plans: map[string][]wantDP{"node-a": {
				dp("sdb", preparing, ""),
				dp("sdc", preparing, "").withID(ataLink("sdc")),
				dp("sdd", preparing, "").withID("/dev/sdd"),
			}},
			create: []JobSpec{job("node-a",
				Device{Name: "sdc", ID: ataLink("sdc"), Path: ataLink("sdc"), SizeBytes: 100 << 30},
				dev("sdb", ""),
				Device{Name: "sdd", ID: "/dev/sdd", Path: "/dev/sdd", SizeBytes: 100 << 30},
			)},
		},
	})
}

// TestComputeIsDeterministic checks that the order of the inputs does not
// change the plan.
func TestComputeIsDeterministic(t *testing.T) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) { s.MaxNodesPreparing = 2 }),
		Nodes:   defaultNodes(),
		Inventories: []cephv1alpha1.DiskInventory{
			inv("node-a", avail("sdb"), osdDisk("sdc", 1), avail("sdd")),
			withPlan(inv("node-b", avail("sdb"), avail("sdc")), prevFailed("sdc", 1, now.Add(-10*time.Second))),
			inv("node-c", avail("sdb"), osdDisk("sdc", 1)),
		},
		Jobs: []PrepareJob{running("prep-b", "node-b", "sdb"), failedJob("old-a", "node-a", now.Add(-time.Hour), "sdd")},
		OSDs: []OSD{{ID: 1, Ready: true}},
		Now:  now,
	}
	want := Compute(in)
	rng := rand.New(rand.NewSource(1))
	for i := range 20 {
		shuffled := in
		shuffled.Inventories = append([]cephv1alpha1.DiskInventory(nil), in.Inventories...)
		shuffled.Jobs = append([]PrepareJob(nil), in.Jobs...)
		shuffled.Nodes = append([]corev1.Node(nil), in.Nodes...)
		rng.Shuffle(len(shuffled.Inventories), func(i, j int) {
			shuffled.Inventories[i], shuffled.Inventories[j] = shuffled.Inventories[j], shuffled.Inventories[i]
		})
		rng.Shuffle(len(shuffled.Jobs), func(i, j int) { shuffled.Jobs[i], shuffled.Jobs[j] = shuffled.Jobs[j], shuffled.Jobs[i] })
		rng.Shuffle(len(shuffled.Nodes), func(i, j int) { shuffled.Nodes[i], shuffled.Nodes[j] = shuffled.Nodes[j], shuffled.Nodes[i] })
		if got := Compute(shuffled); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d changed the plan:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

// TestComputeWithoutCluster checks the degenerate input.
func TestComputeWithoutCluster(t *testing.T) {
	got := Compute(Input{Now: now})
	if got.DevicePlans == nil || len(got.DevicePlans) != 0 || got.CreateJobs != nil || got.OSDs != nil {
		t.Fatalf("plan without a cluster: %+v", got)
	}
}

// TestBackoff checks the backoff schedule.
func TestBackoff(t *testing.T) {
	for n, want := range map[int32]time.Duration{
		1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 4: 4 * time.Minute,
		5: 8 * time.Minute, 6: 16 * time.Minute, 7: 30 * time.Minute, 40: 30 * time.Minute,
	} {
		if got := backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

// BenchmarkCompute1000Nodes12Disks plans a large cluster in which every
// disk is waiting to be prepared.
func BenchmarkCompute1000Nodes12Disks(b *testing.B) {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.MaxNodesPreparing = 1000
			s.DeviceFilter = "^sd"
			s.Provisioning = cephv1alpha1.ProvisioningEnabled
		}),
		Now: now,
	}
	for n := range 1000 {
		name := fmt.Sprintf("node-%04d", n)
		in.Nodes = append(in.Nodes, node(name, nil))
		var disks []cephv1alpha1.Disk
		for d := range 12 {
			disk := avail(fmt.Sprintf("sd%c", 'b'+d))
			disk.ID = fmt.Sprintf("%s-%s", disk.ID, name)
			disks = append(disks, disk)
		}
		in.Inventories = append(in.Inventories, inv(name, disks...))
	}
	b.ReportAllocs()
	for b.Loop() {
		plan := Compute(in)
		if len(plan.CreateJobs) != 1000 {
			b.Fatalf("%d jobs, want 1000", len(plan.CreateJobs))
		}
	}
}

// settled12000 is 1,000 nodes of 12 disks, every disk holding an OSD with
// a Deployment that is not ready yet; each inventory has a uid and a
// resourceVersion, as the API server gives them.
func settled12000() Input {
	in := Input{
		Cluster: cluster(func(s *cephv1alpha1.StorageSpec) {
			s.MaxNodesPreparing = 1000
			s.DeviceFilter = "^sd"
		}),
		Now: now,
	}
	id := int32(0)
	for n := range 1000 {
		name := fmt.Sprintf("node-%04d", n)
		in.Nodes = append(in.Nodes, node(name, map[string]string{"topology.kubernetes.io/zone": "z1"}))
		var disks []cephv1alpha1.Disk
		for d := range 12 {
			disk := osdDisk(fmt.Sprintf("sd%c", 'b'+d), id)
			disk.ID = fmt.Sprintf("%s-%s", disk.ID, name)
			disks = append(disks, disk)
			in.OSDs = append(in.OSDs, OSD{ID: id, Node: name, DeviceID: disk.ID})
			id++
		}
		i := inv(name, disks...)
		i.UID, i.ResourceVersion = types.UID("uid-"+name), "1"
		in.Inventories = append(in.Inventories, i)
	}
	return in
}

// BenchmarkCompute12000OSDs plans a large cluster once every disk holds an
// OSD with a Deployment that is not ready yet (right after provisioning):
// the planner's lookups per OSD are what this measures.
func BenchmarkCompute12000OSDs(b *testing.B) {
	in := settled12000()
	b.ReportAllocs()
	for b.Loop() {
		plan := Compute(in)
		if len(plan.OSDs) != 12000 {
			b.Fatalf("%d OSDs, want 12000", len(plan.OSDs))
		}
	}
}

// TestOSDTopology checks that an OSD carries its node's zone and region, and
// nothing else of the node's labels.
func TestOSDTopology(t *testing.T) {
	nodes := defaultNodes()
	for i := range nodes {
		if nodes[i].Name == "node-a" {
			nodes[i].Labels = map[string]string{"topology.kubernetes.io/zone": "z1", "topology.kubernetes.io/region": "r1", "other": "x"}
		}
	}
	got := Compute(Input{
		Cluster:     cluster(nil),
		Nodes:       nodes,
		Inventories: []cephv1alpha1.DiskInventory{inv("node-a", osdDisk("sdb", 4)), inv("node-b", osdDisk("sdb", 5))},
		Now:         now,
	})
	if len(got.OSDs) != 2 {
		t.Fatalf("OSDs %+v", got.OSDs)
	}
	want := map[string]string{"topology.kubernetes.io/zone": "z1", "topology.kubernetes.io/region": "r1"}
	if !reflect.DeepEqual(got.OSDs[0].Topology, want) || got.OSDs[1].Topology != nil {
		t.Errorf("topology %v and %v, want %v and none", got.OSDs[0].Topology, got.OSDs[1].Topology, want)
	}
}

// TestComputeWaitsForMonitors checks that no prepare Job starts before the
// monitors are up, that waiting disks say so, and that disks that already
// hold OSDs still get their Deployments.
func TestComputeWaitsForMonitors(t *testing.T) {
	got := Compute(Input{
		Cluster:         cluster(nil),
		Nodes:           defaultNodes(),
		Inventories:     []cephv1alpha1.DiskInventory{inv("node-a", avail("sdb"), osdDisk("sdc", 1))},
		Now:             now,
		WaitForMonitors: "monitor a is not available",
	})
	if len(got.CreateJobs) != 0 {
		t.Fatalf("CreateJobs = %+v, want none while the monitors are not up", got.CreateJobs)
	}
	if len(got.OSDs) != 1 || got.OSDs[0].ID != 1 {
		t.Errorf("OSDs = %+v, want the existing OSD 1", got.OSDs)
	}
	var found bool
	for _, p := range got.DevicePlans["node-a"] {
		if p.Name == "sdb" {
			found = true
			if p.Reason != ReasonWaitingForMonitors || p.Message != "waits for the monitors: monitor a is not available" {
				t.Errorf("sdb plan = %+v, want WaitingForMonitors with the monitors' message", p)
			}
		}
	}
	if !found {
		t.Errorf("no plan for sdb in %+v", got.DevicePlans["node-a"])
	}
}

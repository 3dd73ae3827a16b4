package osdplan

import (
	"fmt"
	"math/rand"
	"reflect"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// sim is a small cluster that changes the way a real one does: agents
// rescan, Jobs start and finish, Deployments come and go, plans are written
// back (some of them late), the spec changes, time passes. Every change of
// an inventory gives it a new resourceVersion, as the API server does.
type sim struct {
	rng *rand.Rand
	in  Input
	rv  int
	// nextID is the next OSD id a prepare gives.
	nextID int32
	// split sets osdsPerDevice 2, and makes some disks split already.
	split bool
}

func newSim(seed int64) *sim {
	s := &sim{rng: rand.New(rand.NewSource(seed)), nextID: 100, split: seed%2 == 1}
	s.in = Input{Cluster: cluster(func(st *cephv1alpha1.StorageSpec) {
		st.MaxNodesPreparing = 2
		if s.split {
			st.Config.OSDsPerDevice = ptr(int32(2))
		}
	}), Now: now}
	for n := range 2 + s.rng.Intn(5) {
		name := fmt.Sprintf("node-%d", n)
		s.in.Nodes = append(s.in.Nodes, node(name, s.zone()))
		var disks []cephv1alpha1.Disk
		for d := range s.rng.Intn(5) {
			disks = append(disks, s.disk(name, d))
		}
		i := inv(name, disks...)
		i.UID = types.UID("uid-" + name)
		s.in.Inventories = append(s.in.Inventories, i)
		s.bump(len(s.in.Inventories) - 1)
	}
	s.syncDeployments()
	return s
}

// zone is a random set of a Node's labels: a zone, a device class (now and
// then an invalid one), both or none.
func (s *sim) zone() map[string]string {
	labels := map[string]string{}
	if s.rng.Intn(2) == 0 {
		labels["topology.kubernetes.io/zone"] = fmt.Sprintf("z%d", s.rng.Intn(2))
	}
	if s.rng.Intn(3) == 0 {
		labels[DeviceClassLabel] = []string{"ssd", "nvme", "Not Valid"}[s.rng.Intn(3)]
	}
	if len(labels) == 0 {
		return nil
	}
	return labels
}

// disk is a random disk d of node: empty, an OSD (ids from a small pool,
// so duplicates happen), rejected, or a stranger's OSD; a few share a WWN
// across nodes.
func (s *sim) disk(node string, d int) cephv1alpha1.Disk {
	name := fmt.Sprintf("sd%c", 'b'+d)
	var disk cephv1alpha1.Disk
	switch r := s.rng.Intn(20); {
	case r < 8:
		disk = avail(name)
		if s.split && s.rng.Intn(3) == 0 {
			// Split by an earlier plan: an OSD on partition 1, partition
			// 2 blank.
			p1, p2 := dataPart(disk.SizeBytes, 2, 1, int32(s.rng.Intn(12))), dataPart(disk.SizeBytes, 2, 2, -1)
			p1.Name, p2.Name = name+"1", name+"2"
			disk.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSDPartitions}
			disk.Partitions = []cephv1alpha1.DiskPartition{p1, p2}
		}
	case r < 15:
		disk = osdDisk(name, int32(s.rng.Intn(12)))
	case r < 19:
		disk = rejected(name, "HasFilesystem", "has an ext4 filesystem")
	default:
		disk = osdDisk(name, int32(s.rng.Intn(12)))
		disk.Verdict.ClusterFSID = otherFSID
	}
	disk.ID = wwnID(name + "-" + node)
	disk.WWN = "0x5000" + node + name
	if s.rng.Intn(15) == 0 {
		disk.WWN = "0x5000shared"
	}
	return disk
}

// bump gives inventory i a new resourceVersion.
func (s *sim) bump(i int) {
	s.rv++
	s.in.Inventories[i].ResourceVersion = strconv.Itoa(s.rv)
}

// edit replaces inventory i by a changed copy, as a cache does.
func (s *sim) edit(i int, change func(*cephv1alpha1.DiskInventory)) {
	c := s.in.Inventories[i].DeepCopy()
	change(c)
	s.in.Inventories = append([]cephv1alpha1.DiskInventory(nil), s.in.Inventories...)
	s.in.Inventories[i] = *c
	s.bump(i)
}

// syncDeployments gives every OSD disk of this cluster a Deployment, and
// drops those whose disk is gone, most of the time.
func (s *sim) syncDeployments() {
	var osds []OSD
	seen := map[int32]bool{}
	for i := range s.in.Inventories {
		inv := &s.in.Inventories[i]
		for _, d := range inv.Status.Disks {
			if d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.OSDID != nil && d.Verdict.ClusterFSID == testFSID && !seen[*d.Verdict.OSDID] {
				seen[*d.Verdict.OSDID] = true
				osds = append(osds, OSD{ID: *d.Verdict.OSDID, Node: inv.Name, DeviceID: d.ID, Ready: s.rng.Intn(3) > 0})
			}
		}
	}
	// A Deployment whose disk vanished stays now and then (DiskMissing).
	for _, o := range s.in.OSDs {
		if !seen[o.ID] && s.rng.Intn(3) == 0 {
			seen[o.ID] = true
			osds = append(osds, o)
		}
	}
	s.in.OSDs = osds
}

// writePlans writes plan back into the inventories that it changes, each
// with probability 3/4: the others are late.
func (s *sim) writePlans(plan Plan) {
	for i := range s.in.Inventories {
		want, ok := plan.DevicePlans[s.in.Inventories[i].Name]
		if !ok || reflect.DeepEqual(want, s.in.Inventories[i].Status.Plan) || s.rng.Intn(4) == 0 {
			continue
		}
		s.edit(i, func(inv *cephv1alpha1.DiskInventory) {
			inv.Status.Plan = nil
			for _, p := range want {
				inv.Status.Plan = append(inv.Status.Plan, *p.DeepCopy())
			}
		})
	}
	for node, v := range plan.FailureRecords {
		for i := range s.in.Inventories {
			if s.in.Inventories[i].Name == node && s.rng.Intn(4) > 0 {
				s.edit(i, func(inv *cephv1alpha1.DiskInventory) {
					if inv.Annotations == nil {
						inv.Annotations = map[string]string{}
					}
					inv.Annotations[FailureRecordsAnnotation] = v
				})
			}
		}
	}
}

// change makes one random change.
func (s *sim) change(plan Plan) {
	i := s.rng.Intn(len(s.in.Inventories))
	name := s.in.Inventories[i].Name
	switch s.rng.Intn(12) {
	case 0, 1: // the agent reports a changed, new or removed disk
		s.edit(i, func(inv *cephv1alpha1.DiskInventory) {
			n := len(inv.Status.Disks)
			switch d := s.rng.Intn(n + 2); {
			case d < n:
				nd := s.disk(name, d)
				nd.Name, nd.ID, nd.WWN = inv.Status.Disks[d].Name, inv.Status.Disks[d].ID, inv.Status.Disks[d].WWN
				inv.Status.Disks[d] = nd
			case d == n && n < 6:
				inv.Status.Disks = append(inv.Status.Disks, s.disk(name, n))
			case n > 0:
				inv.Status.Disks = inv.Status.Disks[:n-1]
			}
			scan := metav1.NewTime(s.in.Now)
			inv.Status.LastScanTime = &scan
		})
	case 2: // a node leaves, comes back, or changes zone
		var nodes []corev1.Node
		found := false
		for _, n := range s.in.Nodes {
			if n.Name == name {
				found = true
				if s.rng.Intn(2) == 0 {
					continue
				}
				n = node(name, s.zone())
			}
			nodes = append(nodes, n)
		}
		if !found {
			nodes = append(nodes, node(name, s.zone()))
		}
		s.in.Nodes = nodes
	case 3, 4: // the Jobs move on
		s.jobs(plan)
	case 5: // an OSD starts or stops crashing
		if len(s.in.OSDs) > 0 {
			s.in.OSDs = append([]OSD(nil), s.in.OSDs...)
			o := &s.in.OSDs[s.rng.Intn(len(s.in.OSDs))]
			if o.Crashing == "" {
				o.Crashing = "CrashLoopBackOff"
			} else {
				o.Crashing = ""
			}
		}
	case 6: // the spec changes
		c := s.in.Cluster.DeepCopy()
		c.Generation++
		switch s.rng.Intn(5) {
		case 4:
			c.Spec.Storage.Config.MetadataDevice = []string{"", "sdb", "sde"}[s.rng.Intn(3)]
		case 0:
			c.Spec.Storage.MaxNodesPreparing = int32(1 + s.rng.Intn(3))
		case 1:
			c.Spec.Storage.DeviceFilter = []string{"", "^sd[bc]", "^sdb"}[s.rng.Intn(3)]
		case 2:
			c.Spec.Storage.Provisioning = []cephv1alpha1.ProvisioningMode{"", cephv1alpha1.ProvisioningPreview}[s.rng.Intn(2)]
		case 3:
			if len(c.Spec.Storage.Decommission) > 0 {
				c.Spec.Storage.Decommission = nil
			} else if len(s.in.OSDs) > 0 {
				o := s.in.OSDs[s.rng.Intn(len(s.in.OSDs))]
				c.Spec.Storage.Decommission = []cephv1alpha1.DecommissionRequest{{Node: o.Node, OSDID: ptr(o.ID)}}
			}
		}
		s.in.Cluster = c
	case 7, 8:
		s.syncDeployments()
	case 9:
		s.in.WaitForMonitors = []string{"", "monitor a is not available"}[s.rng.Intn(2)]
	default: // time passes
		s.in.Now = s.in.Now.Add(time.Duration(s.rng.Intn(600)) * time.Second)
	}
}

// jobs creates what the plan asks for, or moves one Job on: it finishes
// (the agent may rescan and show the disks prepared), or it is deleted as
// the plan asks.
func (s *sim) jobs(plan Plan) {
	var jobs []PrepareJob
	deleted := map[string]bool{}
	for _, n := range plan.DeleteJobs {
		deleted[n] = s.rng.Intn(2) == 0
	}
	for _, j := range s.in.Jobs {
		if !deleted[j.Name] {
			jobs = append(jobs, j)
		}
	}
	for _, js := range plan.CreateJobs {
		if s.rng.Intn(2) == 0 {
			j := running(JobName(s.in.Cluster.Name, js.Node), js.Node)
			j.Started = s.rng.Intn(2) == 0
			for _, d := range js.Devices {
				j.DeviceIDs = append(j.DeviceIDs, d.ID)
			}
			jobs = append(jobs, j)
		}
	}
	if len(jobs) > 0 {
		j := &jobs[s.rng.Intn(len(jobs))]
		if j.State == JobRunning {
			j.State, j.FinishedAt = JobSucceeded, s.in.Now
			if s.rng.Intn(3) == 0 {
				j.State, j.FailureMessage = JobFailed, "ceph-volume failed"
			}
		} else {
			// The agent rescans: the prepared disks show their OSDs.
			for i := range s.in.Inventories {
				if s.in.Inventories[i].Name != j.Node {
					continue
				}
				s.edit(i, func(inv *cephv1alpha1.DiskInventory) {
					for k := range inv.Status.Disks {
						d := &inv.Status.Disks[k]
						for _, id := range j.DeviceIDs {
							if d.ID == id && j.State == JobSucceeded && d.Verdict.State == cephv1alpha1.DiskAvailable {
								d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: ptr(s.nextID), ClusterFSID: testFSID}
								s.nextID++
							}
						}
					}
					inv.Status.ObservedRescanRequest = inv.Spec.RescanRequest
				})
			}
		}
	}
	s.in.Jobs = jobs
}

// TestMemoEqualsCompute runs random sequences of changes and checks, after
// each, that the plan reusing remembered nodes is the full plan, and that
// nodes were reused at all.
func TestMemoEqualsCompute(t *testing.T) {
	hits := 0
	for seed := range int64(300) {
		s := newSim(seed)
		var m Memo
		for step := range 40 {
			got := m.Compute(s.in)
			want := Compute(s.in)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d step %d: the remembered plan differs from the full plan:\n got %+v\nwant %+v", seed, step, got, want)
			}
			checkSafety(t, s.in, got)
			s.writePlans(got)
			for range 1 + s.rng.Intn(2) {
				s.change(got)
			}
		}
		hits += m.hits
	}
	if hits == 0 {
		t.Fatal("no node was ever reused")
	}
}

// memoFleet is n nodes with disks disks each, all Available, every
// inventory with a UID and resourceVersion.
func memoFleet(n, disks int, limit int32) Input {
	in := Input{Cluster: cluster(func(s *cephv1alpha1.StorageSpec) { s.MaxNodesPreparing = limit }), Now: now}
	for i := range n {
		name := fmt.Sprintf("node-%03d", i)
		in.Nodes = append(in.Nodes, node(name, nil))
		var ds []cephv1alpha1.Disk
		for d := range disks {
			disk := avail(fmt.Sprintf("sd%c", 'b'+d))
			disk.ID = disk.ID + "-" + name
			ds = append(ds, disk)
		}
		iv := inv(name, ds...)
		iv.UID, iv.ResourceVersion = types.UID("uid-"+name), "1"
		in.Inventories = append(in.Inventories, iv)
	}
	return in
}

// TestMemoKeepsMaxNodesPreparing checks that reused nodes still take their
// turn under spec.storage.maxNodesPreparing exactly: the schedule is made
// across all nodes at every plan, whether a node was reused or planned.
func TestMemoKeepsMaxNodesPreparing(t *testing.T) {
	for _, tc := range []struct {
		name         string
		nodes, limit int
		running      int
		want         int
	}{
		{"limit below the nodes", 10, 3, 0, 3},
		{"limit above the nodes", 4, 10, 0, 4},
		{"some Jobs running", 10, 3, 2, 1},
		{"limit reached", 10, 3, 3, 0},
		{"default limit", 30, 0, 0, defaultMaxNodesPreparing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := memoFleet(tc.nodes, 3, int32(tc.limit))
			var m Memo
			// Remember every node: the first plan, written back.
			first := m.Compute(in)
			for i := range in.Inventories {
				in.Inventories[i].Status.Plan = first.DevicePlans[in.Inventories[i].Name]
				in.Inventories[i].ResourceVersion = "2"
			}
			m.Compute(in)
			for i := tc.nodes - tc.running; i < tc.nodes; i++ {
				n := in.Inventories[i].Name
				in.Jobs = append(in.Jobs, PrepareJob{Name: JobName("ceph", n), Node: n, State: JobRunning, Started: true,
					DeviceIDs: []string{in.Inventories[i].Status.Disks[0].ID}})
			}
			m.hits = 0
			got := m.Compute(in)
			if want := Compute(in); !reflect.DeepEqual(got, want) {
				t.Fatalf("the remembered plan differs from the full plan:\n got %+v\nwant %+v", got, want)
			}
			if len(got.CreateJobs) != tc.want {
				t.Errorf("%d Jobs created, want %d", len(got.CreateJobs), tc.want)
			}
			if want := tc.nodes - tc.running; m.hits != want {
				t.Errorf("%d nodes reused, want %d (every node without a Job)", m.hits, want)
			}
			waiting := 0
			for _, plans := range got.DevicePlans {
				for _, p := range plans {
					if p.Reason == ReasonWaitingForTurn {
						waiting++
					}
				}
			}
			// The nodes left out by the limit, and the disks of a running
			// Job's node that are not in it, wait.
			if want := (tc.nodes-tc.running-tc.want)*3 + tc.running*2; waiting != want {
				t.Errorf("%d disks wait for their turn, want %d", waiting, want)
			}
		})
	}
}

// TestMemoReplansWhatChanged checks what is planned again after each kind
// of change: only the changed node for a change of its own, every node for
// a cluster-wide one.
func TestMemoReplansWhatChanged(t *testing.T) {
	base := func() Input {
		in := memoFleet(5, 2, 10)
		for i := range in.Inventories {
			for d := range in.Inventories[i].Status.Disks {
				disk := &in.Inventories[i].Status.Disks[d]
				disk.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: ptr(int32(i*2 + d)), ClusterFSID: testFSID}
				in.OSDs = append(in.OSDs, OSD{ID: int32(i*2 + d), Node: in.Inventories[i].Name, DeviceID: disk.ID, Ready: true})
			}
		}
		return in
	}
	for _, tc := range []struct {
		name   string
		change func(in *Input)
		misses int
	}{
		{"nothing", func(*Input) {}, 0},
		{"one inventory", func(in *Input) {
			in.Inventories[1].ResourceVersion = "9"
			in.Inventories[1].Status.Disks = in.Inventories[1].Status.Disks[:1]
		}, 1},
		{"time passes", func(in *Input) { in.Now = in.Now.Add(time.Hour) }, 0},
		{"one node's zone", func(in *Input) { in.Nodes[2].Labels = map[string]string{"topology.kubernetes.io/zone": "z9"} }, 1},
		{"one node's device class", func(in *Input) { in.Nodes[2].Labels = map[string]string{DeviceClassLabel: "nvme"} }, 1},
		{"one node leaves", func(in *Input) { in.Nodes = append(in.Nodes[:2:2], in.Nodes[3:]...) }, 1},
		{"a duplicate OSD id on another node", func(in *Input) {
			in.Inventories[4].ResourceVersion = "9"
			in.Inventories[4].Status.Disks[0].Verdict.OSDID = ptr(int32(0))
		}, 2},
		{"an OSD crashing", func(in *Input) { in.OSDs[6].Crashing = "CrashLoopBackOff" }, 1},
		{"a Job on one node", func(in *Input) {
			in.Jobs = []PrepareJob{{Name: JobName("ceph", "node-002"), Node: "node-002", State: JobRunning}}
		}, 1},
		{"the device filter", func(in *Input) { in.Cluster.Spec.Storage.DeviceFilter = "^sdb" }, 5},
		{"a decommission request", func(in *Input) {
			in.Cluster.Spec.Storage.Decommission = []cephv1alpha1.DecommissionRequest{{Node: "node-000", OSDID: ptr(int32(0))}}
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			var m Memo
			first := m.Compute(in)
			for i := range in.Inventories {
				in.Inventories[i].Status.Plan = first.DevicePlans[in.Inventories[i].Name]
				in.Inventories[i].ResourceVersion = "2"
			}
			m.Compute(in)
			in.Cluster = in.Cluster.DeepCopy()
			in.Inventories = append([]cephv1alpha1.DiskInventory(nil), in.Inventories...)
			for i := range in.Inventories {
				in.Inventories[i] = *in.Inventories[i].DeepCopy()
			}
			in.Nodes = append([]corev1.Node(nil), in.Nodes...)
			in.OSDs = append([]OSD(nil), in.OSDs...)
			tc.change(&in)
			m.hits, m.misses = 0, 0
			got := m.Compute(in)
			if want := Compute(in); !reflect.DeepEqual(got, want) {
				t.Fatalf("the remembered plan differs from the full plan:\n got %+v\nwant %+v", got, want)
			}
			if m.misses != tc.misses {
				t.Errorf("%d nodes planned, %d reused; want %d planned", m.misses, m.hits, tc.misses)
			}
		})
	}
}

// BenchmarkMemoCompute12000OSDsOneChange plans the settled cluster of
// BenchmarkCompute12000OSDs again after one inventory changed, reusing
// the other nodes.
func BenchmarkMemoCompute12000OSDsOneChange(b *testing.B) {
	in := settled12000()
	var m Memo
	plan := m.Compute(in)
	for i := range in.Inventories {
		in.Inventories[i].Status.Plan = plan.DevicePlans[in.Inventories[i].Name]
	}
	b.ReportAllocs()
	rv := 1
	for b.Loop() {
		rv++
		in.Inventories[rv%1000].ResourceVersion = strconv.Itoa(rv)
		plan := m.Compute(in)
		if len(plan.OSDs) != 12000 {
			b.Fatalf("%d OSDs, want 12000", len(plan.OSDs))
		}
	}
}

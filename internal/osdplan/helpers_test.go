package osdplan

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// Shorthands for the actions, to keep the tables readable.
const (
	wouldProvision = cephv1alpha1.ActionWouldProvision
	preparing      = cephv1alpha1.ActionPreparing
	provisioned    = cephv1alpha1.ActionProvisioned
	leftOut        = cephv1alpha1.ActionLeftOut
	failed         = cephv1alpha1.ActionFailed
)

const (
	testFSID  = "8a5d3e1c-0b7e-4a51-9d1e-3f2b6c7d8e90"
	otherFSID = "11111111-2222-3333-4444-555555555555"
)

var (
	// t0 is when the agents last published their inventories, unless a case
	// says otherwise.
	t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	// now is when the plan is computed, unless a case says otherwise.
	now = t0.Add(time.Hour)
)

func wwnID(name string) string    { return "/dev/disk/by-id/wwn-0x5000c500" + name }
func ataLink(name string) string  { return "/dev/disk/by-id/ata-VBOX_HARDDISK_" + name }
func pathLink(name string) string { return "/dev/disk/by-path/pci-0000:00:1f.2-ata-" + name }

// avail is an empty disk; its WWN link comes after another by-id link so
// that tests see the WWN one preferred.
func avail(name string) cephv1alpha1.Disk {
	return cephv1alpha1.Disk{
		Name: name, ID: wwnID(name), Path: "/dev/" + name, Type: "disk", SizeBytes: 100 << 30,
		Links:   []string{ataLink(name), wwnID(name), pathLink(name)},
		Verdict: cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable},
	}
}

func osdDisk(name string, id int32) cephv1alpha1.Disk {
	d := avail(name)
	d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id, ClusterFSID: testFSID}
	return d
}

func rejected(name, reason, msg string) cephv1alpha1.Disk {
	d := avail(name)
	d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: reason, Message: msg}
	return d
}

// inv is a published inventory scanned at t0.
func inv(node string, disks ...cephv1alpha1.Disk) cephv1alpha1.DiskInventory {
	scan := metav1.NewTime(t0)
	return cephv1alpha1.DiskInventory{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: "ceph"},
		Spec:       cephv1alpha1.DiskInventorySpec{NodeName: node},
		Status:     cephv1alpha1.DiskInventoryStatus{Disks: disks, LastScanTime: &scan},
	}
}

func scannedAt(i cephv1alpha1.DiskInventory, t time.Time) cephv1alpha1.DiskInventory {
	mt := metav1.NewTime(t)
	i.Status.LastScanTime = &mt
	return i
}

func withPlan(i cephv1alpha1.DiskInventory, plans ...cephv1alpha1.DevicePlan) cephv1alpha1.DiskInventory {
	i.Status.Plan = plans
	return i
}

// prevFailed is a plan entry an earlier Compute wrote for a failed disk.
func prevFailed(name string, attempts int32, at time.Time) cephv1alpha1.DevicePlan {
	mt := metav1.NewTime(at)
	return cephv1alpha1.DevicePlan{Name: name, ID: wwnID(name), Action: failed, Reason: ReasonPrepareFailed, Attempts: attempts, LastFailureTime: &mt}
}

func running(name, node string, disks ...string) PrepareJob {
	return PrepareJob{Name: name, Node: node, DeviceIDs: ids(disks), State: JobRunning, Started: true}
}

// unstarted is a Running Job whose pod has not started agent prepare.
func unstarted(name, node string, disks ...string) PrepareJob {
	j := running(name, node, disks...)
	j.Started = false
	return j
}

func succeeded(name, node string, at time.Time, disks ...string) PrepareJob {
	return PrepareJob{Name: name, Node: node, DeviceIDs: ids(disks), State: JobSucceeded, FinishedAt: at}
}

func failedJob(name, node string, at time.Time, disks ...string) PrepareJob {
	return PrepareJob{Name: name, Node: node, DeviceIDs: ids(disks), State: JobFailed, FinishedAt: at}
}

func ids(disks []string) []string {
	out := make([]string, len(disks))
	for i, d := range disks {
		out[i] = wwnID(d)
	}
	return out
}

func dev(name, class string) Device {
	return Device{Name: name, ID: wwnID(name), Path: wwnID(name), DeviceClass: class, SizeBytes: 100 << 30}
}

func job(node string, devs ...Device) JobSpec { return JobSpec{Node: node, Devices: devs} }

func osdSpec(id int32, node, disk, class string) OSDSpec {
	return OSDSpec{ID: id, Node: node, Device: dev(disk, class)}
}

func ptr[T any](v T) *T { return &v }

// wantDP is an expected DevicePlan. The message is checked as a substring
// when set; every other field is compared exactly.
type wantDP struct {
	name, id    string
	action      cephv1alpha1.DeviceAction
	reason      string
	msg         string
	osdID       *int32
	class       string
	attempts    int32
	lastFailure *time.Time
}

func dp(name string, action cephv1alpha1.DeviceAction, reason string) wantDP {
	return wantDP{name: name, id: wwnID(name), action: action, reason: reason}
}

func (w wantDP) says(msg string) wantDP  { w.msg = msg; return w }
func (w wantDP) osd(id int32) wantDP     { w.osdID = &id; return w }
func (w wantDP) cls(class string) wantDP { w.class = class; return w }
func (w wantDP) withID(id string) wantDP { w.id = id; return w }
func (w wantDP) fails(n int32, at time.Time) wantDP {
	w.attempts, w.lastFailure = n, &at
	return w
}

func (w wantDP) check(t *testing.T, node string, got cephv1alpha1.DevicePlan) {
	t.Helper()
	where := fmt.Sprintf("%s/%s", node, w.name)
	if got.Name != w.name || got.ID != w.id {
		t.Errorf("%s: got disk %s (%s), want %s (%s)", where, got.Name, got.ID, w.name, w.id)
	}
	if got.Action != w.action || got.Reason != w.reason {
		t.Errorf("%s: got %s/%q (%q), want %s/%q", where, got.Action, got.Reason, got.Message, w.action, w.reason)
	}
	if w.msg != "" && !strings.Contains(got.Message, w.msg) {
		t.Errorf("%s: message %q does not contain %q", where, got.Message, w.msg)
	}
	if !reflect.DeepEqual(got.OSDID, w.osdID) {
		t.Errorf("%s: osdID %v, want %v", where, deref(got.OSDID), deref(w.osdID))
	}
	if got.DeviceClass != w.class {
		t.Errorf("%s: deviceClass %q, want %q", where, got.DeviceClass, w.class)
	}
	if got.Attempts != w.attempts {
		t.Errorf("%s: attempts %d, want %d", where, got.Attempts, w.attempts)
	}
	switch {
	case w.lastFailure == nil && got.LastFailureTime != nil:
		t.Errorf("%s: lastFailureTime %v, want none", where, got.LastFailureTime)
	case w.lastFailure != nil && (got.LastFailureTime == nil || !got.LastFailureTime.Time.Equal(*w.lastFailure)):
		t.Errorf("%s: lastFailureTime %v, want %v", where, got.LastFailureTime, *w.lastFailure)
	}
}

func deref(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}

// planCase is one table case: an input built from a few helpers and every
// part of the expected plan. Nil expectations mean "must be empty"; only
// counts are optional.
type planCase struct {
	name     string
	storage  func(*cephv1alpha1.StorageSpec)
	nodes    []corev1.Node
	invs     []cephv1alpha1.DiskInventory
	jobs     []PrepareJob
	osds     []OSD
	now      time.Time
	plans    map[string][]wantDP
	create   []JobSpec
	del      []string
	rescan   []string
	osdSpecs []OSDSpec
	problems []string
	requeue  time.Duration
	counts   *cephv1alpha1.OSDCounts
	// records and rescanJobs are checked when set: the expected
	// FailureRecords and RescanJobs of the plan.
	records    map[string]string
	rescanJobs map[string]string
	// resume is the plan's RescanResume, always checked (nil for none).
	resume map[string]int64
}

// cluster is a CephCluster using all nodes and all devices, provisioning
// left at its default, changed by mod.
func cluster(mod func(*cephv1alpha1.StorageSpec)) *cephv1alpha1.CephCluster {
	c := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: "ceph", Generation: 1},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:   "quay.io/ceph/ceph:v18.2.4",
			Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true},
		},
		Status: cephv1alpha1.CephClusterStatus{FSID: testFSID},
	}
	if mod != nil {
		mod(&c.Spec.Storage)
	}
	return c
}

func node(name string, labels map[string]string, taints ...corev1.Taint) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func defaultNodes() []corev1.Node {
	return []corev1.Node{node("node-a", nil), node("node-b", nil), node("node-c", nil)}
}

func (tc planCase) input() Input {
	in := Input{
		Cluster:     cluster(tc.storage),
		Nodes:       tc.nodes,
		Inventories: tc.invs,
		OSDs:        tc.osds,
		Jobs:        tc.jobs,
		Now:         tc.now,
	}
	if in.Nodes == nil {
		in.Nodes = defaultNodes()
	}
	if in.Now.IsZero() {
		in.Now = now
	}
	return in
}

func runCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.input()
			got := Compute(in)
			checkPlan(t, tc, got)
			checkSafety(t, in, got)
		})
	}
}

func checkPlan(t *testing.T, tc planCase, got Plan) {
	t.Helper()
	if len(got.DevicePlans) != len(tc.plans) {
		t.Errorf("plans for %d nodes (%v), want %d", len(got.DevicePlans), keys(got.DevicePlans), len(tc.plans))
	}
	for node, want := range tc.plans {
		plans, ok := got.DevicePlans[node]
		if !ok {
			t.Errorf("no plans for %s", node)
			continue
		}
		if len(plans) != len(want) {
			t.Errorf("%s: %d plans, want %d: %+v", node, len(plans), len(want), plans)
			continue
		}
		for i := range want {
			want[i].check(t, node, plans[i])
		}
	}
	same(t, "createJobs", got.CreateJobs, tc.create)
	same(t, "deleteJobs", got.DeleteJobs, tc.del)
	same(t, "rescan", got.Rescan, tc.rescan)
	same(t, "osds", got.OSDs, tc.osdSpecs)
	if len(got.Problems) != len(tc.problems) {
		t.Errorf("problems %q, want %d matching %q", got.Problems, len(tc.problems), tc.problems)
	} else {
		for i, p := range tc.problems {
			if !strings.Contains(got.Problems[i], p) {
				t.Errorf("problem %q does not contain %q", got.Problems[i], p)
			}
		}
	}
	if got.RequeueAfter != tc.requeue {
		t.Errorf("requeueAfter %v, want %v", got.RequeueAfter, tc.requeue)
	}
	if tc.records != nil && (len(got.FailureRecords) != 0 || len(tc.records) != 0) && !reflect.DeepEqual(got.FailureRecords, tc.records) {
		t.Errorf("failure records %q, want %q", got.FailureRecords, tc.records)
	}
	if (len(got.RescanResume) != 0 || len(tc.resume) != 0) && !reflect.DeepEqual(got.RescanResume, tc.resume) {
		t.Errorf("rescan requests to resume %v, want %v", got.RescanResume, tc.resume)
	}
	if tc.rescanJobs != nil && !reflect.DeepEqual(got.RescanJobs, tc.rescanJobs) {
		t.Errorf("rescan Jobs %v, want %v", got.RescanJobs, tc.rescanJobs)
	}
	for node, plans := range got.DevicePlans {
		for _, p := range plans {
			if n := utf8.RuneCountInString(p.Message); n > MaxMessageLength || !utf8.ValidString(p.Message) {
				t.Errorf("%s/%s: message of %d characters (valid UTF-8: %v), the schema allows %d", node, p.Name, n, utf8.ValidString(p.Message), MaxMessageLength)
			}
		}
	}
	if tc.counts != nil && got.Counts != *tc.counts {
		t.Errorf("counts %+v, want %+v", got.Counts, *tc.counts)
	}
}

// same compares two slices, an empty one equal to nil.
func same[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkSafety asserts, whatever a case expects, that a new Job only lists
// disks that its node's inventory shows Available, on a selected node, and
// that no node gets two Jobs.
func checkSafety(t *testing.T, in Input, got Plan) {
	t.Helper()
	sel := nodeselect.Select(&in.Cluster.Spec, in.Nodes)
	selected := map[string]bool{}
	for _, n := range sel.Selected {
		selected[n] = true
	}
	jobs := map[string]bool{}
	for _, j := range got.CreateJobs {
		if jobs[j.Node] || !selected[j.Node] {
			t.Errorf("job for %s: second job, or node not selected", j.Node)
		}
		jobs[j.Node] = true
		if j.Wipe {
			checkWipeSafety(t, in, j)
			continue
		}
		for _, d := range j.Devices {
			if d.Data != nil {
				// Checked by checkSplitSafety.
				continue
			}
			ok := false
			for _, i := range in.Inventories {
				for _, disk := range i.Status.Disks {
					if inventoryNode(&i) == j.Node && diskID(&disk) == d.ID && disk.Verdict.State == cephv1alpha1.DiskAvailable {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("job for %s lists %s, which is not an Available disk of the node", j.Node, d.ID)
			}
		}
		checkPartitionSafety(t, in, j)
		checkSplitSafety(t, in, j)
	}
}

// checkPartitionSafety checks the DB and WAL partitions of a prepare Job:
// each on a disk of the node that is blank or a metadata device of this
// cluster and is not one of the Job's data disks; an existing partition
// used by no OSD; new ones inside the disk, aligned, overlapping nothing.
func checkPartitionSafety(t *testing.T, in Input, j JobSpec) {
	t.Helper()
	disks := nodeDisks(in, j.Node)
	data := map[string]bool{}
	for _, d := range j.Devices {
		data[d.ID] = true
	}
	taken := placedPartitions{}
	numbers := partitionNumbers{}
	for _, d := range j.Devices {
		for _, p := range []*Partition{d.DB, d.WAL} {
			if p == nil {
				continue
			}
			md := disks[p.Device.ID]
			where := fmt.Sprintf("job for %s: %s's %s partition %d on %s", j.Node, d.Name, p.Role, p.Number, p.Device.ID)
			blankSmall := md != nil && md.Verdict.State == cephv1alpha1.DiskRejected && md.Verdict.Reason == "TooSmall"
			if md == nil || data[p.Device.ID] || (md.Verdict.State != cephv1alpha1.DiskAvailable && md.Verdict.State != cephv1alpha1.DiskMetadataDevice && !blankSmall) {
				t.Errorf("%s: not a usable metadata device of the node", where)
				continue
			}
			numbers.once(t, where, p)
			if p.ReplacesOSDUUID != "" {
				if d.OSDID == nil {
					t.Errorf("%s: clears the label of OSD uuid %s for a disk that replaces no OSD", where, p.ReplacesOSDUUID)
				}
				for _, other := range disks {
					if other.Verdict.State == cephv1alpha1.DiskOSD && strings.EqualFold(other.Verdict.OSDUUID, p.ReplacesOSDUUID) {
						t.Errorf("%s: clears the DB of OSD uuid %s, whose disk %s is still on the node", where, p.ReplacesOSDUUID, other.Name)
					}
				}
			}
			if p.Exists {
				found := false
				for _, q := range md.Partitions {
					if q.Number == p.Number && q.PartUUID == p.PartUUID && q.OSDUUID == p.ReplacesOSDUUID && q.Role == p.Role {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: not an unused partition of that role on the disk", where)
				}
				continue
			}
			taken.place(t, where, md, p)
		}
	}
}

// checkSplitSafety checks the OSD data partitions of a prepare Job: each
// on a disk of the node that is blank or split by this cluster, with the
// disk's identity; an existing one blank and exactly as the disk shows
// it; new ones inside the disk, aligned, overlapping nothing (neither the
// disk's partitions nor each other), numbered and named as the scheme
// says; and never the whole disk in the same Job, nor a split disk's
// whole disk in any.
func checkSplitSafety(t *testing.T, in Input, j JobSpec) {
	t.Helper()
	disks := nodeDisks(in, j.Node)
	whole := map[string]bool{}
	for _, d := range j.Devices {
		if d.Data == nil {
			whole[d.ID] = true
			if disk := disks[d.ID]; disk != nil && disk.Verdict.State == cephv1alpha1.DiskOSDPartitions {
				t.Errorf("job for %s: prepares split disk %s as a whole", j.Node, d.ID)
			}
		}
	}
	taken := placedPartitions{}
	numbers := partitionNumbers{}
	for _, d := range j.Devices {
		p := d.Data
		if p == nil {
			continue
		}
		where := fmt.Sprintf("job for %s: %s's data partition %d on %s", j.Node, d.Name, p.Number, p.Device.ID)
		disk := disks[p.Device.ID]
		if disk == nil || (disk.Verdict.State != cephv1alpha1.DiskAvailable && disk.Verdict.State != cephv1alpha1.DiskOSDPartitions) {
			t.Errorf("%s: not a blank or split disk of the node", where)
			continue
		}
		if whole[p.Device.ID] {
			t.Errorf("%s: the same Job prepares the whole disk", where)
		}
		if d.Path != p.Device.Path || d.SizeBytes != disk.SizeBytes || d.WWN != disk.WWN || d.Serial != disk.Serial {
			t.Errorf("%s: the target's identity %s/%d/%s/%s is not the disk's", where, d.Path, d.SizeBytes, d.WWN, d.Serial)
		}
		if d.ID != p.Device.ID+fmt.Sprintf("-part%d", p.Number) || d.DB != nil || d.WAL != nil || d.OSDID != nil {
			t.Errorf("%s: id %s, DB %v, WAL %v, replaces %v", where, d.ID, d.DB, d.WAL, d.OSDID)
		}
		if p.Role != cephv1alpha1.PartitionData || p.Label != DataPartitionLabel(testFSID, p.Number) {
			t.Errorf("%s: role %s label %q", where, p.Role, p.Label)
		}
		numbers.once(t, where, p)
		if p.Exists {
			found := false
			for _, q := range disk.Partitions {
				if q.Number == p.Number && q.PartUUID == p.PartUUID && q.OSDUUID == "" && q.OSDID == nil && q.Role == p.Role &&
					q.StartBytes == p.StartBytes && q.SizeBytes == p.SizeBytes {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: not an unused data partition of the disk", where)
			}
			continue
		}
		if p.SizeBytes < 5<<30 {
			t.Errorf("%s: %d bytes, below the minimum OSD size", where, p.SizeBytes)
		}
		taken.place(t, where, disk, p)
	}
}

// nodeDisks returns the disks the inventories show for node, by id.
func nodeDisks(in Input, node string) map[string]*cephv1alpha1.Disk {
	disks := map[string]*cephv1alpha1.Disk{}
	for i := range in.Inventories {
		if inventoryNode(&in.Inventories[i]) != node {
			continue
		}
		for k := range in.Inventories[i].Status.Disks {
			d := &in.Inventories[i].Status.Disks[k]
			disks[diskID(d)] = d
		}
	}
	return disks
}

// partitionNumbers are the partition numbers a Job gives, per disk.
type partitionNumbers map[string]map[int32]bool

// once reports a number the Job gives twice on one disk.
func (n partitionNumbers) once(t *testing.T, where string, p *Partition) {
	t.Helper()
	if n[p.Device.ID] == nil {
		n[p.Device.ID] = map[int32]bool{}
	}
	if n[p.Device.ID][p.Number] {
		t.Errorf("%s: number given twice", where)
	}
	n[p.Device.ID][p.Number] = true
}

// placedPartitions are the new partitions a Job makes, per disk.
type placedPartitions map[string][]span

// place checks a new partition on disk: 1 MiB aligned, inside the disk
// less its GPT's MiB at each end, numbered apart from and overlapping
// neither the disk's partitions nor the Job's other new ones.
func (taken placedPartitions) place(t *testing.T, where string, disk *cephv1alpha1.Disk, p *Partition) {
	t.Helper()
	if p.StartBytes%mib != 0 || p.SizeBytes%mib != 0 || p.StartBytes < mib || p.StartBytes+p.SizeBytes > disk.SizeBytes-mib {
		t.Errorf("%s: [%d, +%d) misaligned or outside the disk", where, p.StartBytes, p.SizeBytes)
	}
	mine := span{p.StartBytes, p.StartBytes + p.SizeBytes}
	others := taken[p.Device.ID]
	for _, q := range disk.Partitions {
		others = append(others, span{q.StartBytes, q.StartBytes + q.SizeBytes})
		if q.Number == p.Number {
			t.Errorf("%s: the number is in use", where)
		}
	}
	for _, o := range others {
		if mine.start < o.end && o.start < mine.end {
			t.Errorf("%s: overlaps [%d, %d)", where, o.start, o.end)
		}
	}
	taken[p.Device.ID] = append(taken[p.Device.ID], mine)
}

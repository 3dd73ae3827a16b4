// Package world plays, on an API server with no kubelet, no Job controller
// and no node agents, everything outside the operator for one namespace:
// each node's agent (publishing DiskInventory status with the image's Ceph
// version and user, answering rescan requests), the prepare Jobs (turning
// their disks into OSDs and completing the way agent prepare does, with its
// results as the termination message of a pod and exit code 0, 1 or 3), the
// monitor and manager Deployments becoming available, and the health
// reporter publishing status.ceph. Tests switch failures on: a prepare that
// fails, refuses or lies, Jobs held back, monitors down, another Ceph
// version, OSDs that never started.
//
// It plays the agent by writing status rather than running it, which keeps
// it fast and deterministic; tests/framework/simnode runs the real agent on
// fixture roots instead. A World runs in one of two modes:
//
//   - Run (or Step): a ticker lists the namespace's Jobs, Deployments,
//     inventories and clusters and answers all of it; prepare Jobs finish
//     as soon as they exist, unless paused. The controller envtests use it.
//   - StartScale: informers drive a pool of agent workers, prepare Jobs
//     finish only when CompleteJobs is called, and the World records what
//     would be wrong at scale (a disk in two Jobs, a node with two Jobs, an
//     OSD id or a disk on two Deployments). The scale benchmark uses it.
package world

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent"
)

// DefaultCephVersion is what the agents report until SetCephVersion: the
// oldest supported Ceph line.
const DefaultCephVersion = "16.2.15"

// AgentVersion is what the simulated agents publish as status.agentVersion.
const AgentVersion = "world"

// World is the simulated outside of the operator for one namespace. Its
// methods are safe for concurrent use.
type World struct {
	ns     string
	client client.Client

	mu    sync.Mutex
	nodes map[string]*node
	// kubeMinor is the API server's Kubernetes minor version; 0 for a
	// recent one (see SetKubernetesMinor).
	kubeMinor int
	// nextOSD is the next OSD id a prepare gives a disk.
	nextOSD int32
	// osdDevice maps an OSD id given by a prepare to its disk.
	osdDevice map[int32]string
	// prepared counts how often each disk ID was prepared; more than one
	// is a defect.
	prepared map[string]int
	// wiped counts how often each disk ID was wiped.
	wiped    map[string]int
	jobsRun  int
	failing  map[string]bool
	refusing map[string]string
	lying    map[string]bool
	stderr   string
	paused   bool

	cephVersion  string
	cephUser     *cephv1alpha1.CephUser
	monsDown     bool
	neverStarted []cephv1alpha1.CephOSDRef
	// osdsHeld leaves OSD Deployments' status to the test (HoldOSDs).
	osdsHeld bool
	// daemonsHeld leaves monitor and manager Deployments' status to the
	// test (HoldDaemons).
	daemonsHeld bool
	// imageVersions maps an image to the Ceph version agents report for it.
	imageVersions map[string]string
	// checks are the health checks the reporter publishes.
	checks []cephv1alpha1.CephHealthCheck
	// monitors is what the reporter publishes of the quorum once
	// SetQuorum set it (quorumSet); until then a test may publish its own.
	monitors  cephv1alpha1.CephMonitorStatus
	quorumSet bool
	// osdAnswers maps an OSD id to what its next safe-to-destroy Jobs
	// answer (SetSafeToDestroy); absent: Done.
	osdAnswers map[int32][]osdAnswer
	// osdSteps lists every OSD Job step run, as "<id> <step>", in order.
	osdSteps []string
	// osdJobsHeld leaves OSD Jobs running (HoldOSDJobs).
	osdJobsHeld bool
	// noout is Ceph's noout flag, as rollout Jobs set and unset it.
	noout bool
	// okToStop are the answers the next ok-to-stop Jobs give
	// (SetOKToStop); once used up, the answer is yes.
	okToStop []osdAnswer
	// cephxHeld leaves cephx Jobs running (HoldCephxJobs); cephxAnswers
	// are the outcomes the next ones of a step give (SetCephxAnswers);
	// cephxSteps lists those run (CephxSteps).
	cephxHeld    bool
	cephxAnswers map[string][]osdAnswer
	cephxSteps   []string

	// scale is set by StartScale.
	scale *scaleMode
	// writes counts the World's own API writes in scale mode.
	writes atomic.Int64

	// holdCleanup names the nodes whose cleanup Jobs never finish;
	// hostDirsRemoved lists, per node, the host directories its cleanup
	// Jobs removed.
	holdCleanup     map[string]bool
	hostDirsRemoved map[string][]string
	// cleanupBeside records cleanup Jobs that ran beside a Deployment.
	cleanupBeside []string
	// cleanupRefused records disks of cleanup Jobs the agent refused.
	cleanupRefused []string
}

// node is one node as its agent sees it.
type node struct {
	disks []cephv1alpha1.Disk
	// scanned is when the disks last changed, published as lastScanTime.
	scanned metav1.Time
	// answered is the rescan request the agent last answered, -1 before
	// the first publication.
	answered int64
	// announced is set (scale mode) when a prepare wrote labels and
	// announced its disks with a uevent: the agent scans and publishes
	// without waiting for a rescan request, as since design 0005.
	announced bool
}

// scaleMode is the informer-driven state of StartScale.
type scaleMode struct {
	cache   cache.Cache
	queue   workqueue.TypedInterface[string]
	workers int
	held    atomic.Bool

	// jobs maps every prepare Job seen to its node; jobDisks counts, per
	// disk, the distinct Jobs that listed it.
	jobs     map[string]string
	nodeJob  map[string]string
	jobDisks map[string]int
	liveJobs int
	// deployments maps every OSD Deployment seen to its OSD id and disk.
	deployments map[string]osdSeen
	// osdName and diskOSD map an OSD id and a disk to their Deployment.
	osdName, diskOSD map[string]string
	liveOSDs         int

	firstPublish, lastPublish, lastJob, lastDeployment time.Time
	published                                          int
	problems                                           []string
}

// New returns a World for namespace ns that reads and writes through c.
// Nothing runs until Run, Step or StartScale.
func New(c client.Client, ns string) *World {
	return &World{
		ns: ns, client: c, nodes: map[string]*node{}, nextOSD: 100,
		osdDevice: map[int32]string{}, prepared: map[string]int{}, wiped: map[string]int{},
		holdCleanup: map[string]bool{}, hostDirsRemoved: map[string][]string{},
		failing: map[string]bool{}, refusing: map[string]string{}, lying: map[string]bool{},
		stderr: "stderr: boom", cephVersion: DefaultCephVersion,
	}
}

// Namespace is the namespace the World plays.
func (w *World) Namespace() string { return w.ns }

// DiskName is the kernel name of a node's i-th data disk: sdb, sdc, … sdz,
// sdaa, … (sda is the system disk).
func DiskName(i int) string {
	i++
	s := ""
	for {
		s = string(rune('a'+i%26)) + s
		i = i/26 - 1
		if i < 0 {
			break
		}
	}
	return "sd" + s
}

// DiskID is the stable id of disk name on node, as the agents report it.
func DiskID(node, name string) string { return "/dev/disk/by-id/wwn-" + node + "-" + name }

// Kinds returns n times kind, for AddNode.
func Kinds(kind string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = kind
	}
	return out
}

// AddNode gives node (or replaces) its disks, one per kind, named sdb, sdc,
// …: "available" (blank), "partitioned" (rejected: HasPartitions),
// "foreign" (rejected: a BlueStore label of another cluster), "osd" (an OSD
// of this cluster prepared earlier), "failing" (rejected: its drive health
// is Failing, FailurePredicted) and "failing-osd" (an OSD whose drive
// health is Failing). It panics on another kind.
func (w *World) AddNode(nodeName string, kinds ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	disks := make([]cephv1alpha1.Disk, 0, len(kinds))
	for i, kind := range kinds {
		name := DiskName(i)
		id := DiskID(nodeName, name)
		d := cephv1alpha1.Disk{Name: name, ID: id, Path: "/dev/" + name, Links: []string{id}, Type: "disk", SizeBytes: 100 << 30}
		switch kind {
		case "available":
			d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskAvailable}
		case "partitioned":
			d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "HasPartitions", Message: name + " has partitions " + name + "1"}
		case "foreign":
			d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "ForeignCephCluster", Message: "BlueStore label of cluster 0bad"}
		case "osd", "failing-osd":
			id := w.nextOSD
			w.nextOSD++
			d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskOSD, OSDID: &id}
			if kind == "failing-osd" {
				d.Health = failingHealth()
			}
		case "failing":
			d.Verdict = cephv1alpha1.DiskVerdict{State: cephv1alpha1.DiskRejected, Reason: "FailurePredicted", Message: name + " reports that it is failing"}
			d.Health = failingHealth()
		default:
			panic("world: unknown disk kind " + kind)
		}
		disks = append(disks, d)
	}
	n := w.nodes[nodeName]
	if n == nil {
		n = &node{answered: -1}
		w.nodes[nodeName] = n
	}
	n.disks = disks
	n.scanned = metav1.Now()
}

// failingHealth is the health of a drive that reports it is failing.
func failingHealth() *cephv1alpha1.DiskHealth {
	pending := int64(12)
	return &cephv1alpha1.DiskHealth{Status: cephv1alpha1.DiskHealthFailing, Protocol: "ATA",
		Message: "the drive's SMART overall-health self-assessment failed", PendingSectors: &pending}
}

// ReadyNode is a Node as the kubelet leaves it: the hostname label, Ready,
// and ip as its InternalIP (monitors need both).
func ReadyNode(name, ip string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		},
	}
}

// CreateNode creates a ReadyNode (the API server drops status on create, so
// the status is written after).
func CreateNode(ctx context.Context, c client.Client, name, ip string) (*corev1.Node, error) {
	n := ReadyNode(name, ip)
	status := n.Status
	if err := c.Create(ctx, n); err != nil {
		return nil, fmt.Errorf("creating Node %s: %w", name, err)
	}
	n.Status = status
	if err := c.Status().Update(ctx, n); err != nil {
		return nil, fmt.Errorf("making Node %s Ready: %w", name, err)
	}
	return n, nil
}

// NodeIP is a loopback InternalIP for the i-th simulated Node (i ≥ 0).
func NodeIP(i int) string { return fmt.Sprintf("127.2.%d.%d", i/250, 1+i%250) }

// SetCephVersion changes the Ceph version the agents report.
func (w *World) SetCephVersion(v string) {
	w.mu.Lock()
	w.cephVersion = v
	w.mu.Unlock()
}

// SetCephUser changes the ceph user the agents report (nil: none).
func (w *World) SetCephUser(u *cephv1alpha1.CephUser) {
	w.mu.Lock()
	w.cephUser = u.DeepCopy()
	w.mu.Unlock()
}

// SetQuorum makes the reporter publish a monitor map of total monitors of
// which those named are in quorum.
func (w *World) SetQuorum(total int, names ...string) {
	w.mu.Lock()
	w.monitors = cephv1alpha1.CephMonitorStatus{Total: int32(total), InQuorum: int32(len(names)), Quorum: names}
	w.quorumSet = true
	w.mu.Unlock()
}

// SetMonsDown keeps the monitor Deployments unavailable, as when their pods
// cannot start, or lets them become available again.
func (w *World) SetMonsDown(down bool) {
	w.mu.Lock()
	w.monsDown = down
	w.mu.Unlock()
}

// Pause holds prepare Jobs back (they neither complete nor fail) or lets
// them run; the agents go on answering.
func (w *World) Pause(p bool) {
	w.mu.Lock()
	w.paused = p
	w.mu.Unlock()
}

// SetFailing makes the prepare of disk id fail (ceph-volume exits 1, the Job
// fails with exit code 1), or succeed again.
func (w *World) SetFailing(id string, on bool) { w.setFlag(w.failing, id, on) }

// SetRefusing makes agent prepare refuse disk id for reason (exit code 3);
// an empty reason lets it prepare again.
func (w *World) SetRefusing(id, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if reason != "" {
		w.refusing[id] = reason
	} else {
		delete(w.refusing, id)
	}
}

// SetStderr sets what a failing prepare reports as ceph-volume's stderr.
func (w *World) SetStderr(s string) {
	w.mu.Lock()
	w.stderr = s
	w.mu.Unlock()
}

// SetLying makes a Job report disk id prepared without writing it: the agent
// keeps seeing it Available.
func (w *World) SetLying(id string, on bool) { w.setFlag(w.lying, id, on) }

// setFlag adds id to a set of disks, or removes it.
func (w *World) setFlag(set map[string]bool, id string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if on {
		set[id] = true
	} else {
		delete(set, id)
	}
}

// HoldOSDs stops the World from making OSD Deployments available, for a
// test that sets their status itself.
func (w *World) HoldOSDs(h bool) {
	w.mu.Lock()
	w.osdsHeld = h
	w.mu.Unlock()
}

// HoldDaemons stops the World from changing the status of monitor and
// manager Deployments, so that an updated one stays unavailable.
func (w *World) HoldDaemons(h bool) {
	w.mu.Lock()
	w.daemonsHeld = h
	w.mu.Unlock()
}

// SetImageVersion makes the agents report Ceph version v while their
// CephCluster names image.
func (w *World) SetImageVersion(image, v string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.imageVersions == nil {
		w.imageVersions = map[string]string{}
	}
	w.imageVersions[image] = v
}

// SetHealthChecks makes the reporter publish checks as Ceph's health
// checks (HEALTH_WARN when there are any).
func (w *World) SetHealthChecks(checks ...cephv1alpha1.CephHealthCheck) {
	w.mu.Lock()
	w.checks = checks
	w.mu.Unlock()
}

// SetNeverStarted makes the reporter find osds in the OSD map as created and
// never started.
func (w *World) SetNeverStarted(osds ...cephv1alpha1.CephOSDRef) {
	w.mu.Lock()
	w.neverStarted = osds
	w.mu.Unlock()
}

// SetDisk changes disk name of node as its agent sees it; the agent
// publishes it at its next answer.
func (w *World) SetDisk(nodeName, name string, mod func(*cephv1alpha1.Disk)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.nodes[nodeName]
	if n == nil {
		return
	}
	for i := range n.disks {
		if n.disks[i].Name == name {
			mod(&n.disks[i])
		}
	}
	n.scanned = metav1.Now()
}

// RemoveDisk takes disk name out of node, as when it is pulled or dies;
// the agent publishes it at its next answer.
func (w *World) RemoveDisk(nodeName, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.nodes[nodeName]
	if n == nil {
		return
	}
	for i := range n.disks {
		if n.disks[i].Name == name {
			n.disks = append(n.disks[:i], n.disks[i+1:]...)
			break
		}
	}
	n.scanned = metav1.Now()
}

// SetContent changes what the agent reads of a disk (its content hash), as a
// wipe would.
func (w *World) SetContent(nodeName, disk, hash string) {
	w.SetDisk(nodeName, disk, func(d *cephv1alpha1.Disk) { d.ContentHash = hash })
}

// JobsRun is how many prepare Jobs have finished (in either mode).
func (w *World) JobsRun() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.jobsRun
}

// Prepared is how often disk id was turned into an OSD.
func (w *World) Prepared(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.prepared[id]
}

// OSDs returns the disk IDs holding OSDs, sorted.
func (w *World) OSDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range w.nodes {
		for _, d := range n.disks {
			if d.Verdict.State == cephv1alpha1.DiskOSD {
				out = append(out, d.ID)
			}
		}
	}
	sort.Strings(out)
	return out
}

// PreparedTwice returns the disks prepared more than once, sorted.
func (w *World) PreparedTwice() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id, n := range w.prepared {
		if n > 1 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// statusLocked is the inventory status node n's agent publishes now, with
// rescan as the request it answers; w.mu is held.
func (w *World) statusLocked(n *node, rescan int64) cephv1alpha1.DiskInventoryStatus {
	scanned := n.scanned
	// Every publication is a report, as the real agent's are.
	reported := metav1.NewTime(time.Now().Truncate(time.Second))
	st := cephv1alpha1.DiskInventoryStatus{
		Disks:                 append([]cephv1alpha1.Disk(nil), n.disks...),
		ObservedRescanRequest: rescan,
		LastScanTime:          &scanned,
		LastReportTime:        &reported,
		CephVersion:           w.cephVersion,
		CephUser:              w.cephUser.DeepCopy(),
		AgentVersion:          AgentVersion,
		Summary:               agent.Summarize(n.disks),
	}
	return st
}

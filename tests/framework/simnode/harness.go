package simnode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// Harness runs simulated nodes for one CephCluster on a control plane with
// kwok: it registers Node objects (kwok makes them Ready and runs their
// pods), runs one real agent per node against the node's fixture root (a
// process, or part of a Fleet), and, when a prepare Job has run, writes
// BlueStore labels onto the Job's devices as ceph-volume would.
type Harness struct {
	// Client talks to the API server as an administrator.
	Client client.Client
	// Agent configures the agents: Namespace and FSID always, the rest
	// only for agent processes.
	Agent AgentOptions
	// Fleet, when set, runs the agents inside this process instead of one
	// process per node.
	Fleet *Fleet
	// Cache, when set, is where the harness lists prepare Jobs and OSD
	// Deployments (an informer cache, say); nil means Client, which asks
	// the API server each time.
	Cache client.Reader
	// Dir holds one fixture root per node.
	Dir string

	mu      sync.Mutex
	nodes   map[string]*simNode
	nextOSD int
	// scheduled counts prepare Jobs per device; more than one that ran
	// means the operator prepared a device twice.
	scheduled map[string]int
	done      map[string]bool
	// lastReport is when the harness last played the health reporter.
	lastReport time.Time
}

type simNode struct {
	root  *Root
	agent nodeAgent
}

// nodeAgent is a simulated node's running discovery agent.
type nodeAgent interface {
	// DiskChanged tells the agent that the harness wrote to a disk, as
	// the kernel would with a uevent.
	DiskChanged(kernelName string)
	// Stop stops the agent and waits for it.
	Stop()
}

// NewHarness returns a harness; call AddNode, then Run.
func NewHarness(c client.Client, agent AgentOptions, dir string) *Harness {
	return &Harness{Client: c, Agent: agent, Dir: dir, nodes: map[string]*simNode{}, scheduled: map[string]int{}, done: map[string]bool{}}
}

// AddNode writes a fixture root with disks of the given kinds, registers the
// Node and starts its agent.
func (h *Harness) AddNode(ctx context.Context, name string, kinds []string) error {
	root, err := WriteRoot(filepath.Join(h.Dir, name), kinds)
	if err != nil {
		return err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		// The labels a kubelet sets on an amd64 Linux node: node pods
		// require an architecture the operator image is built for.
		Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "type": "kwok",
		},
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
	}}
	if err := h.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("registering node %s: %w", name, err)
	}
	var agent nodeAgent
	if h.Fleet != nil {
		agent, err = h.Fleet.Start(ctx, name, root.Dir, h.Agent.Namespace, h.Agent.FSID, h.Agent.Image)
	} else {
		agent, err = StartAgent(ctx, h.Agent, name, root.Dir)
	}
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.nodes[name] = &simNode{root: root, agent: agent}
	h.mu.Unlock()
	return nil
}

// HotPlug adds a disk of kind to a running node and returns its kernel name.
// The node's agent is told as the kernel would tell it, with a uevent (an
// agent process, which gets none from the harness, sees the disk at its
// next resync).
func (h *Harness) HotPlug(name, kind string) (string, error) {
	h.mu.Lock()
	n, ok := h.nodes[name]
	h.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("no simulated node %s", name)
	}
	kernelName, err := n.root.AddDisk(kind)
	if err != nil {
		return "", err
	}
	n.agent.DiskChanged(kernelName)
	return kernelName, nil
}

// Run plays ceph-volume for every prepare Job that has run, and the health
// reporter, until ctx ends.
func (h *Harness) Run(ctx context.Context) {
	world.Every(ctx, 100*time.Millisecond, func() {
		if err := h.step(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "simnode:", err)
		}
	})
}

// step writes labels for Jobs whose pod finished.
func (h *Harness) step(ctx context.Context) error {
	if time.Since(h.lastReport) >= reportInterval {
		h.lastReport = time.Now()
		if err := h.report(ctx); err != nil {
			return err
		}
	}
	var jobs batchv1.JobList
	reader := h.Cache
	if reader == nil {
		reader = h.Client
	}
	if err := reader.List(ctx, &jobs, client.MatchingLabels{resources.ComponentLabel: resources.ComponentPrepare}); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if h.done[string(job.UID)] || job.Status.Succeeded == 0 {
			continue
		}
		nodeName := job.Annotations[resources.NodeAnnotation]
		node := h.nodes[nodeName]
		if node == nil {
			continue
		}
		var devices []resources.PrepareTarget
		if err := json.Unmarshal([]byte(job.Annotations[resources.DevicesAnnotation]), &devices); err != nil {
			return fmt.Errorf("reading devices of Job %s: %w", job.Name, err)
		}
		free, err := availableDevices(node.root.Dir, h.Agent.FSID)
		if err != nil {
			return err
		}
		for _, d := range devices {
			h.scheduled[DiskKey(nodeName, d.ID)]++
			// Like agent prepare, only an empty device is written.
			kernelName, err := kernelNameOf(node.root.Dir, d.Path)
			if err != nil {
				return err
			}
			if !free[kernelName] {
				continue
			}
			if err := WriteOSD(node.root.Dir, d.Path, h.Agent.FSID, h.nextOSD); err != nil {
				return err
			}
			h.nextOSD++
			node.agent.DiskChanged(kernelName)
		}
		h.done[string(job.UID)] = true
	}
	return nil
}

// DiskKey names a disk across the cluster: its stable id when that is a
// hardware identity (a by-id link or a WWN, the same on whichever node the
// disk is plugged into), else the node and the id, for an id that only
// names a device on its node (a kernel name or a by-path link, which a
// disk seen before udev made its links has).
func DiskKey(node, id string) string {
	if strings.HasPrefix(id, "/dev/disk/by-id/") || strings.HasPrefix(id, "wwn:") {
		return id
	}
	return node + ":" + id
}

// PreparedTwice returns the disks (DiskKey) that a prepare Job ran for more
// than once.
func (h *Harness) PreparedTwice() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id, n := range h.scheduled {
		if n > 1 {
			out = append(out, id)
		}
	}
	return out
}

// availableDevices re-checks a node's devices the way agent prepare does
// and returns the kernel names of those still available.
func availableDevices(root, fsid string) (map[string]bool, error) {
	devices, err := discovery.Scanner{Root: root}.Scan()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, d := range devices {
		if discovery.Evaluate(d, discovery.Options{ClusterFSID: fsid}).State == discovery.StateAvailable {
			out[d.KernelName] = true
		}
	}
	return out, nil
}

// kernelNameOf resolves a /dev path (usually a by-id link) under root to
// the device's kernel name.
func kernelNameOf(root, devPath string) (string, error) {
	target, err := filepath.EvalSymlinks(filepath.Join(root, devPath))
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", devPath, err)
	}
	return filepath.Base(target), nil
}

// Stop stops every agent.
func (h *Harness) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.nodes {
		n.agent.Stop()
	}
}

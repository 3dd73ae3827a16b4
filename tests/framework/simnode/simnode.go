// Package simnode simulates the disks of nodes on this machine: each node gets
// a fixture root (sysfs, udev database, /dev with sparse device files and real
// on-disk signatures, mount table) and the real `agent discover` binary runs
// against it as a local process, or, for many nodes, the same agent loop runs
// inside the test process (Fleet). When a prepare Job for a node succeeds, the
// harness plays ceph-volume by writing a BlueStore label onto the node's
// fixture device, exactly the format the scanner reads on a real disk.
package simnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/proc"
)

// GiB is 2^30 bytes.
const GiB = uint64(1) << 30

// Disk kinds a simulated node can carry.
const (
	// Blank is an empty disk: it becomes an OSD.
	Blank = "blank"
	// BlankSSD is an empty non-rotational disk.
	BlankSSD = "blank-ssd"
	// MountedPartition has a partition mounted at /var/lib/data.
	MountedPartition = "mounted-partition"
	// Ext4 carries a filesystem on the whole disk.
	Ext4 = "ext4"
	// Foreign carries a BlueStore OSD of another Ceph cluster.
	Foreign = "foreign"
	// Small is below the default minimum size.
	Small = "small"
)

// DemoMix is the mix of disks of the demo's first nodes: two that become
// OSDs and one of each common reason to leave a disk alone.
func DemoMix(node int) []string {
	mix := []string{Blank, BlankSSD, MountedPartition, Ext4, Small}
	if node == 0 {
		mix = append(mix, Foreign)
	}
	return mix
}

// foreignFSID is the FSID of "another cluster" on Foreign disks.
const foreignFSID = "0badc0de-0000-4000-8000-000000000000"

// Root is a simulated node's fixture root.
type Root struct {
	// Dir is the directory the fixture is written to.
	Dir  string
	node *fixture.Node
}

// WriteRoot writes a fixture root for a node with the given disk kinds,
// named sdb, sdc, … in order.
func WriteRoot(dir string, kinds []string) (*Root, error) {
	r := &Root{Dir: dir, node: fixture.New(dir)}
	for _, kind := range kinds {
		d, mount, err := disk(dir, r.nextName(), kind)
		if err != nil {
			return nil, err
		}
		r.node.Add(d)
		if mount != nil {
			r.node.Mount(*mount)
		}
	}
	if err := r.node.Write(); err != nil {
		return nil, fmt.Errorf("writing fixture root %s: %w", dir, err)
	}
	return r, nil
}

// nextName is the kernel name of the next disk: sdb, sdc, …
func (r *Root) nextName() string {
	return "sd" + string(rune('b'+len(r.node.Disks())))
}

// AddDisk hot-plugs one more disk of kind and returns its kernel name. The
// running agent sees it at its next scan.
func (r *Root) AddDisk(kind string) (string, error) {
	name := r.nextName()
	d, _, err := disk(r.Dir, name, kind)
	if err != nil {
		return "", err
	}
	if err := r.node.Plug(d); err != nil {
		return "", err
	}
	return name, nil
}

// disk describes one disk of a kind. Every disk has a WWN by-id link, the
// stable identity the operator uses.
func disk(root, name, kind string) (fixture.Disk, *fixture.MountEntry, error) {
	wwn := fmt.Sprintf("0x5000c500%08x", hashName(root+name))
	d := fixture.Disk{
		Name: name, SizeBytes: 100 * GiB, Rotational: true, Model: "SIM-HDD", Serial: "SIM" + wwn[10:],
		Links: []string{"by-id/wwn-" + wwn},
	}
	switch kind {
	case Blank:
	case BlankSSD:
		d.Rotational, d.Model = false, "SIM-SSD"
	case MountedPartition:
		d.Content = fixture.GPT(int64(d.SizeBytes), 512)
		d.Partitions = []fixture.Partition{{Name: name + "1", StartBytes: 1 << 20, SizeBytes: 50 * GiB}}
		return d, &fixture.MountEntry{Device: name + "1", Target: "/var/lib/data", FSType: "ext4"}, nil
	case Ext4:
		d.Content = fixture.Ext4("backup")
	case Foreign:
		d.Content = fixture.BlueStore(fixture.Label(foreignFSID, 3))
	case Small:
		d.SizeBytes = 2 * GiB
	default:
		return d, nil, fmt.Errorf("unknown disk kind %q", kind)
	}
	return d, nil, nil
}

func hashName(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// WriteOSD plays `ceph-volume raw prepare`: it writes a BlueStore label of
// cluster fsid with OSD id onto the device at devPath (a /dev path, usually a
// by-id link) under root.
func WriteOSD(root, devPath, fsid string, id int) error {
	target, err := filepath.EvalSymlinks(filepath.Join(root, devPath))
	if err != nil {
		return fmt.Errorf("resolving %s: %w", devPath, err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", target, err)
	}
	label := fixture.Label(fsid, id)
	if _, err := f.WriteAt(ceph.EncodeBlueStoreLabel(label), 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing BlueStore label to %s: %w", target, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing BlueStore label to %s: %w", target, err)
	}
	return nil
}

// Agent is a running `agent discover` process for one simulated node.
type Agent struct {
	// Node is the node's name.
	Node string
	// Root is the node's fixture root.
	Root string
	proc *proc.Process
	once sync.Once
}

// agentStopGrace is how long an agent process has to exit after SIGTERM
// before Stop kills it.
const agentStopGrace = 30 * time.Second

// AgentOptions configure StartAgent.
type AgentOptions struct {
	// Binary is the ceph-operator binary.
	Binary string
	// Kubeconfig is the kubeconfig the agent uses.
	Kubeconfig string
	// Namespace is the CephCluster's namespace.
	Namespace string
	// FSID is the cluster's FSID.
	FSID string
	// LogDir receives <node>.log.
	LogDir string
	// ExtraArgs are added to the command line (e.g. --resync-interval).
	ExtraArgs []string
	// Image is the Ceph image the CephCluster names (spec.image). The
	// agents report the Ceph version it carries, as a real agent reports
	// the version of the image it runs in; see CephVersionOf.
	Image string
}

// StartAgent runs the real agent binary for node against root.
// It sends the agent SIGTERM when ctx ends; Stop stops it and waits.
func StartAgent(ctx context.Context, o AgentOptions, node, root string) (*Agent, error) {
	args := append([]string{"agent", "discover",
		"--kubeconfig", o.Kubeconfig,
		"--node-name", node,
		"--namespace", o.Namespace,
		"--host-root", root,
		"--mountinfo", "/proc/self/mountinfo",
		"--cluster-fsid", o.FSID,
	}, o.ExtraArgs...)
	ceph, err := simulatedCeph(o.LogDir, CephVersionOf(o.Image))
	if err != nil {
		return nil, err
	}
	passwd, err := simulatedPasswd(o.LogDir)
	if err != nil {
		return nil, err
	}
	args = append(args, "--ceph-binary", ceph, "--passwd-file", passwd)
	// A simulated node's disks are files, not drives: the host's smartctl
	// has nothing to say about them.
	args = append(args, "--smartctl=")
	if o.Image != "" {
		args = append(args, "--ceph-image", o.Image)
	}
	p, err := proc.Start(proc.Options{Name: "the agent of " + node, Bin: o.Binary, Args: args,
		LogPath: filepath.Join(o.LogDir, "agent-"+node+".log")})
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Signal(syscall.SIGTERM)
		case <-p.Done():
		}
	}()
	return &Agent{Node: node, Root: root, proc: p}, nil
}

// SimulatedCephVersion is the Ceph version simulated nodes report when
// their image's tag names no release (latest, a digest, no image at all):
// the oldest release line the operator supports, which the real-node
// tests run.
const SimulatedCephVersion = "16.2.15"

// SimulatedCephUser is the ceph user of simulated nodes' image: that of
// the Ceph project's images.
var SimulatedCephUser = cephv1alpha1.CephUser{UID: 167, GID: 167}

// releaseTag matches a Ceph release tag: v19.2.3 or 19.2.3, optionally
// with a build suffix (v19.2.3-20250717).
var releaseTag = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(?:-[0-9A-Za-z.-]+)?$`)

// CephVersionOf returns the Ceph version ("19.2.3") a simulated node
// reports when it runs image: the version its tag names when the tag is a
// release tag, and SimulatedCephVersion otherwise. So a demo or test never
// shows a node running a Ceph release other than the one its image holds.
func CephVersionOf(image string) string {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	// The tag follows the last colon after the last slash; a colon before
	// it separates a registry's port.
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		if m := releaseTag.FindStringSubmatch(ref[i+1:]); m != nil {
			return m[1]
		}
	}
	return SimulatedCephVersion
}

// simulatedCeph writes, once per version, a ceph tool into dir that
// answers --version as a Ceph image of that version would, and returns its
// path.
func simulatedCeph(dir, version string) (string, error) {
	script := "#!/bin/sh\necho 'ceph version " + version + " (simulated)'\n"
	return writeShared(dir, "simulated-ceph-"+version, script, 0o755)
}

// simulatedPasswd writes, once, the passwd file of a simulated node's
// image into dir, with its ceph user, and returns its path: the agent
// does not read the machine's own.
func simulatedPasswd(dir string) (string, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\nceph:x:%d:%d:Ceph daemons:/var/lib/ceph:/sbin/nologin\n",
		SimulatedCephUser.UID, SimulatedCephUser.GID)
	return writeShared(dir, "simulated-passwd", passwd, 0o644)
}

// writeShared writes content to dir/name and returns its path. Several
// agents may start at once: each writes its own copy and renames it.
func writeShared(dir, name, content string, mode os.FileMode) (string, error) {
	p := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, name+"-")
	if err == nil {
		_, err = f.WriteString(content)
		err = errors.Join(err, f.Chmod(mode), f.Close())
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

// DiskChanged does nothing: a separate agent process gets no uevents from
// the harness; its --resync-interval stands in for them.
func (a *Agent) DiskChanged(string) {}

// Stop stops the agent and waits for it.
func (a *Agent) Stop() {
	a.once.Do(func() {
		a.proc.Stop(agentStopGrace)
	})
}

// Describe lists a node's disk kinds for messages.
func Describe(kinds []string) string { return strings.Join(kinds, ", ") }

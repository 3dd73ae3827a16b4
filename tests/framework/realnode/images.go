package realnode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// Ctr returns a `ctr` command in the node containerd's Kubernetes namespace
// (k8s.io), where the kubelet finds images; e.g. c.Ctr(ctx, "images", "ls").
// In a cluster of several nodes it is the first node's containerd.
func (c *Cluster) Ctr(ctx context.Context, args ...string) *exec.Cmd {
	return ctr(ctx, c.ContainerdSocket, args...)
}

// TagImage gives the image src the further name dst on every node.
func (c *Cluster) TagImage(ctx context.Context, src, dst string) error {
	for _, n := range c.Nodes {
		if out, err := ctr(ctx, n.ContainerdSocket, "images", "tag", "--force", src, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("ctr images tag %s %s on %s: %w: %s", src, dst, n.Name, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// ctr returns a `ctr` command for the containerd on socket, in its
// Kubernetes namespace.
func ctr(ctx context.Context, socket string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ctr", append([]string{"--address", socket, "--namespace", "k8s.io"}, args...)...)
}

// ImportImage imports an OCI or Docker image archive into the node's
// containerd, so pods can run it with imagePullPolicy Never or IfNotPresent
// under the exact name the archive carries. Every platform's content is
// kept (--all-platforms): the operator image is an index of amd64 and arm64
// images, and pushing it on to a registry (the OLM tests) needs all of it;
// the kubelet runs the node's own platform's image either way. In a
// cluster of several nodes the image goes to every node.
func (c *Cluster) ImportImage(ctx context.Context, archive string) error {
	for _, n := range c.Nodes {
		out, err := ctr(ctx, n.ContainerdSocket, "images", "import", "--all-platforms", archive).CombinedOutput()
		if err != nil {
			return c.layout.explainFull(fmt.Errorf("importing %s on %s: %w: %s", archive, n.Name, err, strings.TrimSpace(string(out))), string(out))
		}
	}
	return nil
}

// BuildGoImage builds the main package pkg of this repository (e.g.
// "./tests/framework/realnode/pause") as a static binary and imports it into the
// node's containerd as ref, a one-file image (packed by hack/ociimage, as
// the operator's image is) whose entry point is the binary followed by
// args. It is how the harness makes its pause image, and how tests make
// small probe images.
func (c *Cluster) BuildGoImage(ctx context.Context, ref, pkg string, args ...string) error {
	if err := os.MkdirAll(c.layout.images(), 0o755); err != nil {
		return fmt.Errorf("creating image directory: %w", err)
	}
	name := filepath.Base(pkg)
	bin := filepath.Join(c.layout.images(), name)
	archive := bin + ".oci.tar"
	entrypoint, err := json.Marshal(append([]string{"/" + name}, args...))
	if err != nil {
		return fmt.Errorf("encoding entry point: %w", err)
	}
	for _, cmd := range [][]string{
		{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg},
		{"go", "run", "./hack/ociimage", "-o", archive, "-ref", ref, "-compression", "none",
			"-file", bin + ":/" + name + ":0755", "-entrypoint", string(entrypoint)},
	} {
		step := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
		step.Dir = testenv.RepoRoot()
		step.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := step.CombinedOutput(); err != nil {
			return fmt.Errorf("making image %s: %s: %w: %s", ref, strings.Join(cmd, " "), err, out)
		}
	}
	return c.ImportImage(ctx, archive)
}

// AddDisk shows the block device dev (e.g. /dev/loop3, attached in this
// process's namespaces) to the node named node of a cluster of several:
// its device node goes into the node's /dev and its link into the node's
// /sys/block, so the node's pods (the operator's agents) find it. A disk
// must be given to one node only. A single node sees the machine's devices
// already; AddDisk does nothing there.
func (c *Cluster) AddDisk(node, dev string) error {
	var info *NodeInfo
	for i := range c.Nodes {
		if c.Nodes[i].Name == node {
			info = &c.Nodes[i]
		}
	}
	if info == nil {
		return fmt.Errorf("no node %q in the cluster", node)
	}
	if info.Mntns == "" {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dev, &st); err != nil {
		return fmt.Errorf("adding disk %s to %s: %w", dev, node, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFBLK {
		return fmt.Errorf("adding disk %s to %s: not a block device", dev, node)
	}
	name := filepath.Base(dev)
	if _, err := os.Stat(filepath.Join("/sys/block", name)); err != nil {
		return fmt.Errorf("adding disk %s to %s: not a whole disk (no /sys/block/%s): %w", dev, node, name, err)
	}
	major, minor := unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))
	in := func(args ...string) error {
		cmd := append([]string{"nsenter", "--mount=" + info.Mntns, "--"}, args...)
		return run(cmd[0], cmd[1:]...)
	}
	if err := in("mknod", "-m", "0660", "/dev/"+name, "b", strconv.FormatUint(uint64(major), 10), strconv.FormatUint(uint64(minor), 10)); err != nil {
		return fmt.Errorf("adding disk %s to %s: %w", dev, node, err)
	}
	target, err := os.Readlink(filepath.Join("/sys/block", name))
	if err != nil {
		return fmt.Errorf("adding disk %s to %s: %w", dev, node, err)
	}
	if err := in("ln", "-s", target, "/sys/block/"+name); err != nil {
		return fmt.Errorf("adding disk %s to %s: %w", dev, node, err)
	}
	return nil
}

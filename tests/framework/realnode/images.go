package realnode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// Ctr returns a `ctr` command in the node containerd's Kubernetes namespace
// (k8s.io), where the kubelet finds images; e.g. c.Ctr(ctx, "images", "ls").
func (c *Cluster) Ctr(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ctr", append([]string{"--address", c.ContainerdSocket, "--namespace", "k8s.io"}, args...)...)
}

// ImportImage imports an OCI or Docker image archive into the node's
// containerd, so pods can run it with imagePullPolicy Never or IfNotPresent
// under the exact name the archive carries. Every platform's content is
// kept (--all-platforms): the operator image is an index of amd64 and arm64
// images, and pushing it on to a registry (the OLM tests) needs all of it;
// the kubelet runs the node's own platform's image either way.
func (c *Cluster) ImportImage(ctx context.Context, archive string) error {
	out, err := c.Ctr(ctx, "images", "import", "--all-platforms", archive).CombinedOutput()
	if err != nil {
		return fmt.Errorf("importing %s: %w: %s", archive, err, strings.TrimSpace(string(out)))
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

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/plugin"
)

// table prints the cluster's disks and their fate whenever it changes.
type table struct {
	client client.Client
	key    client.ObjectKey
	last   string
}

// until prints the table as it changes until done says the cluster is where
// it should be, or the timeout passes.
func (t *table) until(ctx context.Context, timeout time.Duration, done func(*cephv1alpha1.CephCluster) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		cluster := &cephv1alpha1.CephCluster{}
		if err := t.client.Get(ctx, t.key, cluster); err != nil {
			return fmt.Errorf("reading CephCluster %s: %w", t.key, err)
		}
		var invs cephv1alpha1.DiskInventoryList
		if err := t.client.List(ctx, &invs, client.InNamespace(t.key.Namespace)); err != nil {
			return fmt.Errorf("listing DiskInventories: %w", err)
		}
		if out := render(cluster, invs.Items); out != t.last {
			fmt.Println()
			fmt.Print(out)
			t.last = out
		}
		if done(cluster) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CephCluster %s did not converge within %s; see .demo/operator.log", t.key, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// render draws one frame: the table of `kubectl ceph disks`, drawn by the
// plugin's own code so the two cannot differ, then the cluster's summary,
// indented under the demo's messages.
func render(cluster *cephv1alpha1.CephCluster, inventories []cephv1alpha1.DiskInventory) string {
	var b strings.Builder
	if err := plugin.RenderDisks(&b, plugin.Rows(inventories), plugin.OutputTable); err != nil {
		fmt.Fprintf(&b, "rendering the disks: %v\n", err)
	}
	b.WriteString(plugin.Summary(cluster))
	return indent(b.String())
}

// indent puts four spaces before each line.
func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "")
}

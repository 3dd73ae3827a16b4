package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
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

// render draws one frame: a line per disk, then the cluster's summary.
func render(cluster *cephv1alpha1.CephCluster, inventories []cephv1alpha1.DiskInventory) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "    NODE\tDISK\tSIZE\tVERDICT\tREASON\tPLAN\tOSD")
	for _, inv := range inventories {
		plan := map[string]cephv1alpha1.DevicePlan{}
		for _, p := range inv.Status.Plan {
			plan[p.Name] = p
		}
		if len(inv.Status.Disks) == 0 {
			fmt.Fprintf(w, "    %s\t(waiting for the agent's first scan)\t\t\t\t\t\n", inv.Name)
		}
		for _, d := range inv.Status.Disks {
			p := plan[d.Name]
			osd := ""
			if d.Verdict.OSDID != nil {
				osd = fmt.Sprintf("osd.%d", *d.Verdict.OSDID)
			}
			action := string(p.Action)
			if p.Reason != "" && p.Reason != d.Verdict.Reason {
				action += " (" + p.Reason + ")"
			}
			fmt.Fprintf(w, "    %s\t%s\t%dGi\t%s\t%s\t%s\t%s\n", inv.Name, d.Name, d.SizeBytes>>30,
				d.Verdict.State, d.Verdict.Reason, action, osd)
		}
	}
	_ = w.Flush()
	ready := meta.FindStatusCondition(cluster.Status.Conditions, cephv1alpha1.ConditionReady)
	readyText := "Ready=Unknown"
	if ready != nil {
		readyText = fmt.Sprintf("Ready=%s (%s)", ready.Status, ready.Message)
	}
	s := cluster.Status
	fmt.Fprintf(&b, "    CephCluster %s: %s\n    nodes %d, disks %d (available %d, OSD %d, rejected %d), OSDs %d provisioned / %d desired, %d running\n",
		cluster.Name, readyText, s.Nodes, s.Disks.Discovered, s.Disks.Available, s.Disks.OSDs, s.Disks.Rejected,
		s.OSDs.Provisioned, s.OSDs.Desired, s.OSDs.Running)
	return b.String()
}

// printConditions prints the cluster's conditions as a table.
func printConditions(ctx context.Context, c client.Client, key client.ObjectKey) error {
	cluster := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, key, cluster); err != nil {
		return fmt.Errorf("reading CephCluster %s: %w", key, err)
	}
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "    TYPE\tSTATUS\tREASON\tMESSAGE")
	for _, cond := range cluster.Status.Conditions {
		fmt.Fprintf(w, "    %s\t%s\t%s\t%s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	return w.Flush()
}

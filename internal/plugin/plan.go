package plugin

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// actionOrder is the order the plan's actions are counted in.
var actionOrder = []cephv1alpha1.DeviceAction{
	cephv1alpha1.ActionProvisioned, cephv1alpha1.ActionPreparing, cephv1alpha1.ActionWouldProvision,
	cephv1alpha1.ActionWiping, cephv1alpha1.ActionFailed, cephv1alpha1.ActionLeftOut,
}

// RenderPlan writes `kubectl ceph plan`: the operator's decision on every
// disk (status.plan of each DiskInventory), grouped by node, with counts per
// action. In Preview those decisions are what provisioning would do.
func RenderPlan(w io.Writer, cluster *cephv1alpha1.CephCluster, inventories []cephv1alpha1.DiskInventory) error {
	prov := cluster.Spec.Storage.Provisioning
	if prov == "" {
		prov = cephv1alpha1.ProvisioningEnabled
	}
	fmt.Fprintf(w, "CephCluster %s/%s: provisioning %s\n", cluster.Namespace, cluster.Name, prov)
	if prov == cephv1alpha1.ProvisioningPreview {
		fmt.Fprintln(w, "Preview writes no disk: WouldProvision marks each disk that provisioning Enabled would turn into an OSD.")
	}
	rows := Rows(inventories)
	fmt.Fprintf(w, "Plan: %s\n", countActions(rows))

	byNode := map[string][]DiskRow{}
	var nodes []string
	for _, r := range rows {
		if _, ok := byNode[r.Node]; !ok {
			nodes = append(nodes, r.Node)
		}
		byNode[r.Node] = append(byNode[r.Node], r)
	}
	for _, node := range nodes {
		var planned []DiskRow
		for _, r := range byNode[node] {
			if r.Plan != nil {
				planned = append(planned, r)
			}
		}
		fmt.Fprintln(w)
		if len(planned) == 0 {
			if len(byNode[node]) == 1 && byNode[node][0].WaitingForScan {
				fmt.Fprintf(w, "%s: no plan yet (waiting for the agent's first scan)\n", node)
			} else {
				fmt.Fprintf(w, "%s: no plan yet\n", node)
			}
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", node, countActions(planned))
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ACTION\tDISK\tSIZE\tID\tCLASS\tOSD\tREASON\tMESSAGE")
		for _, r := range planned {
			p := r.Plan
			size := "-"
			if r.Disk != nil {
				size = Size(r.Disk.SizeBytes)
			}
			osd := "-"
			if p.OSDID != nil {
				osd = fmt.Sprintf("osd.%d", *p.OSDID)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Action, p.Name, size, dash(p.ID), dash(p.DeviceClass), osd,
				dash(p.Reason), dash(p.Message))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// countActions is "2 Provisioned, 1 WouldProvision, 3 LeftOut", or "no
// disks planned".
func countActions(rows []DiskRow) string {
	counts := map[cephv1alpha1.DeviceAction]int{}
	for _, r := range rows {
		if r.Plan != nil {
			counts[r.Plan.Action]++
		}
	}
	var parts []string
	for _, a := range actionOrder {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	if len(parts) == 0 {
		return "no disks planned"
	}
	return strings.Join(parts, ", ")
}

package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// DiskRow is one line of `kubectl ceph disks`: a disk an agent found and
// the operator's plan for it. Disk is nil when only the plan names the disk
// (the agent no longer reports it); both are nil for a node whose agent has
// not scanned yet.
type DiskRow struct {
	Node string `json:"node"`
	// WaitingForScan is true for a node whose agent has published no scan.
	WaitingForScan bool                     `json:"waitingForFirstScan,omitempty"`
	Disk           *cephv1alpha1.Disk       `json:"disk,omitempty"`
	Plan           *cephv1alpha1.DevicePlan `json:"plan,omitempty"`
}

// Name is the disk's kernel name, from the agent's scan or else the plan.
func (r DiskRow) Name() string {
	switch {
	case r.Disk != nil:
		return r.Disk.Name
	case r.Plan != nil:
		return r.Plan.Name
	}
	return ""
}

// ID is the disk's stable identity.
func (r DiskRow) ID() string {
	switch {
	case r.Disk != nil:
		return r.Disk.ID
	case r.Plan != nil:
		return r.Plan.ID
	}
	return ""
}

// Rows lists the disks of the inventories, node by node in name order and
// each node's disks in the order its agent reports them, followed by the
// disks only its plan still names.
func Rows(inventories []cephv1alpha1.DiskInventory) []DiskRow {
	invs := append([]cephv1alpha1.DiskInventory(nil), inventories...)
	sort.Slice(invs, func(i, j int) bool { return invs[i].Name < invs[j].Name })
	var rows []DiskRow
	for i := range invs {
		inv := &invs[i]
		plans := map[string]*cephv1alpha1.DevicePlan{}
		for j := range inv.Status.Plan {
			plans[inv.Status.Plan[j].Name] = &inv.Status.Plan[j]
		}
		if len(inv.Status.Disks) == 0 && len(inv.Status.Plan) == 0 {
			rows = append(rows, DiskRow{Node: inv.Name, WaitingForScan: inv.Status.LastScanTime == nil})
			continue
		}
		seen := map[string]bool{}
		for j := range inv.Status.Disks {
			d := &inv.Status.Disks[j]
			seen[d.Name] = true
			rows = append(rows, DiskRow{Node: inv.Name, Disk: d, Plan: plans[d.Name]})
		}
		for j := range inv.Status.Plan {
			if p := &inv.Status.Plan[j]; !seen[p.Name] {
				rows = append(rows, DiskRow{Node: inv.Name, Plan: p})
			}
		}
	}
	return rows
}

// DiskFilter narrows the rows of `kubectl ceph disks`.
type DiskFilter struct {
	// Node keeps the disks of this node only.
	Node string
	// Reason keeps the disks whose verdict or plan gives this reason
	// (case-insensitive).
	Reason string
}

// Filter returns the rows f keeps.
func (f DiskFilter) Filter(rows []DiskRow) []DiskRow {
	var out []DiskRow
	for _, r := range rows {
		if f.Node != "" && r.Node != f.Node {
			continue
		}
		if f.Reason != "" {
			verdict, plan := "", ""
			if r.Disk != nil {
				verdict = r.Disk.Verdict.Reason
			}
			if r.Plan != nil {
				plan = r.Plan.Reason
			}
			if !strings.EqualFold(verdict, f.Reason) && !strings.EqualFold(plan, f.Reason) {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// Output formats of `kubectl ceph disks`.
const (
	OutputTable = ""
	OutputWide  = "wide"
	OutputJSON  = "json"
)

// RenderDisks writes the rows as a table (output "" or "wide") or as a
// JSON array (output "json"). The demo prints its live table with it.
func RenderDisks(w io.Writer, rows []DiskRow, output string) error {
	switch output {
	case OutputJSON:
		if rows == nil {
			rows = []DiskRow{}
		}
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case OutputTable, OutputWide:
	default:
		return fmt.Errorf("unknown output format %q: use wide or json", output)
	}
	wide := output == OutputWide
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if wide {
		fmt.Fprintln(tw, "NODE\tDISK\tID\tSIZE\tTYPE\tMODEL\tVERDICT\tREASON\tPLAN\tOSD\tCLASS\tATTEMPTS\tMESSAGE")
	} else {
		fmt.Fprintln(tw, "NODE\tDISK\tID\tSIZE\tVERDICT\tREASON\tPLAN\tOSD")
	}
	for _, r := range rows {
		if r.Disk == nil && r.Plan == nil {
			note := "(no disks)"
			if r.WaitingForScan {
				note = "(waiting for the agent's first scan)"
			}
			// The note is the line's last cell, which takes no column's width.
			fmt.Fprintf(tw, "%s\t%s\n", r.Node, note)
			continue
		}
		c := cells(r)
		if wide {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Node, c.name, dash(r.ID()), c.size,
				c.typ, c.model, c.verdict, c.reason, c.plan, c.osd, c.class, c.attempts, c.message)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Node, c.name, ShortID(r.ID()), c.size, c.verdict, c.reason, c.plan, c.osd)
		}
	}
	return tw.Flush()
}

// rowCells are a row's table cells, "-" where there is nothing to show.
type rowCells struct {
	name, size, typ, model, verdict, reason, plan, osd, class, attempts, message string
}

func cells(r DiskRow) rowCells {
	c := rowCells{name: r.Name(), size: "-", typ: "-", model: "-", verdict: "-", reason: "-", plan: "-", osd: "-",
		class: "-", attempts: "-", message: "-"}
	var osd *int32
	if d := r.Disk; d != nil {
		c.size, c.typ, c.model = Size(d.SizeBytes), dash(d.Type), dash(d.Model)
		c.verdict, c.reason = string(d.Verdict.State), dash(d.Verdict.Reason)
		c.message = dash(d.Verdict.Message)
		osd = d.Verdict.OSDID
	} else {
		c.verdict = "(not reported)"
	}
	if p := r.Plan; p != nil {
		c.plan = PlanText(r)
		c.class = dash(p.DeviceClass)
		if p.Attempts > 0 {
			c.attempts = fmt.Sprint(p.Attempts)
		}
		if p.Message != "" {
			c.message = p.Message
		}
		if osd == nil {
			osd = p.OSDID
		}
	}
	if osd != nil {
		c.osd = fmt.Sprintf("osd.%d", *osd)
	}
	return c
}

// PlanText is the plan's action, with its reason when that adds to the
// verdict's: "LeftOut (FilteredOut)", but "LeftOut" for a disk rejected as
// HasFilesystem whose plan gives the same reason.
func PlanText(r DiskRow) string {
	if r.Plan == nil {
		return "-"
	}
	text := string(r.Plan.Action)
	if r.Plan.Reason != "" && (r.Disk == nil || r.Plan.Reason != r.Disk.Verdict.Reason) {
		text += " (" + r.Plan.Reason + ")"
	}
	return text
}

// ShortID is a disk's stable id without the /dev/disk/by-id/ every such
// id starts with: wwn-0x5000c500a0b1c2d3.
func ShortID(id string) string {
	return dash(strings.TrimPrefix(id, "/dev/disk/by-id/"))
}

// Size prints a disk size in binary units, rounded down to a tenth: 4Ti,
// 3.6Ti, 100Gi, 512Mi.
func Size(b int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if b < u.size {
			continue
		}
		if tenths := b * 10 / u.size; tenths%10 != 0 && b < math.MaxInt64/10 {
			return fmt.Sprintf("%d.%d%s", tenths/10, tenths%10, u.name)
		}
		return fmt.Sprintf("%d%s", b/u.size, u.name)
	}
	return fmt.Sprintf("%dB", b)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

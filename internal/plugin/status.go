package plugin

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Summary is the cluster in two lines: Ready with its message, then the
// counts of nodes, disks and OSDs.
func Summary(cluster *cephv1alpha1.CephCluster) string {
	s := cluster.Status
	return fmt.Sprintf("CephCluster %s: %s\nnodes %d, disks %d (available %d, OSD %d, rejected %d), OSDs %d provisioned / %d desired, %d running\n",
		cluster.Name, readyText(cluster), s.Nodes, s.Disks.Discovered, s.Disks.Available, s.Disks.OSDs, s.Disks.Rejected,
		s.OSDs.Provisioned, s.OSDs.Desired, s.OSDs.Running)
}

func readyText(cluster *cephv1alpha1.CephCluster) string {
	ready := meta.FindStatusCondition(cluster.Status.Conditions, cephv1alpha1.ConditionReady)
	if ready == nil {
		return "Ready=Unknown (no status yet)"
	}
	text := fmt.Sprintf("Ready=%s (%s)", ready.Status, ready.Reason)
	if ready.Message != "" {
		text += " " + ready.Message
	}
	return text
}

// WaitingFor lists what keeps the cluster from Ready, or from healthy: the
// Ready message, conditions that report a problem (Degraded,
// MonitorStoreMissing, PartiallyPreparedOSDs), a status older than the spec,
// and the nodes whose summary carries a message. Empty means nothing.
func WaitingFor(cluster *cephv1alpha1.CephCluster) []string {
	var out []string
	s := cluster.Status
	if s.ObservedGeneration != cluster.Generation {
		out = append(out, fmt.Sprintf("the operator to observe generation %d of the spec (status is of generation %d)",
			cluster.Generation, s.ObservedGeneration))
	}
	ready := meta.FindStatusCondition(s.Conditions, cephv1alpha1.ConditionReady)
	switch {
	case ready == nil:
		out = append(out, "the operator's first status (is the operator running in this namespace?)")
	case ready.Status != metav1.ConditionTrue:
		out = append(out, fmt.Sprintf("Ready (%s): %s", ready.Reason, dash(ready.Message)))
	}
	for _, t := range []string{cephv1alpha1.ConditionDegraded, cephv1alpha1.ConditionMonitorStoreMissing, cephv1alpha1.ConditionPartiallyPreparedOSDs} {
		if c := meta.FindStatusCondition(s.Conditions, t); c != nil && c.Status == metav1.ConditionTrue {
			out = append(out, fmt.Sprintf("%s (%s): %s", c.Type, c.Reason, dash(c.Message)))
		}
	}
	for _, n := range s.NodeSummaries {
		if n.Message != "" {
			out = append(out, fmt.Sprintf("node %s: %s", n.Name, n.Message))
		}
	}
	return out
}

// RenderStatus writes `kubectl ceph status`: the cluster's identity, what it
// waits for, its counts, Ceph's own health, its monitors and its conditions.
// Ages are relative to now.
func RenderStatus(w io.Writer, cluster *cephv1alpha1.CephCluster, now time.Time) error {
	s := cluster.Status
	fmt.Fprintf(w, "CephCluster %s/%s\n", cluster.Namespace, cluster.Name)
	ready := "Unknown (no status yet)"
	if c := meta.FindStatusCondition(s.Conditions, cephv1alpha1.ConditionReady); c != nil {
		ready = fmt.Sprintf("%s (%s)", c.Status, c.Reason)
	}
	fmt.Fprintf(w, "  %-13s %s\n", "Ready:", ready)
	fmt.Fprintf(w, "  %-13s %s\n", "FSID:", dash(s.FSID))
	fmt.Fprintf(w, "  %-13s %s\n", "Image:", cluster.Spec.Image)
	prov := cluster.Spec.Storage.Provisioning
	if prov == "" {
		prov = cephv1alpha1.ProvisioningEnabled
	}
	fmt.Fprintf(w, "  %-13s %s\n", "Provisioning:", prov)
	fmt.Fprintf(w, "  %-13s %d (observed %d)\n", "Generation:", cluster.Generation, s.ObservedGeneration)

	fmt.Fprintln(w, "\nWaiting for:")
	waits := WaitingFor(cluster)
	if len(waits) == 0 {
		fmt.Fprintln(w, "  nothing: the cluster is Ready")
	}
	for _, line := range waits {
		fmt.Fprintf(w, "  - %s\n", line)
	}

	fmt.Fprintln(w, "\nCounts:")
	fmt.Fprintf(w, "  %-7s %d\n", "Nodes:", s.Nodes)
	disks := fmt.Sprintf("%d discovered, %d available, %d OSD, %d rejected", s.Disks.Discovered, s.Disks.Available, s.Disks.OSDs, s.Disks.Rejected)
	if len(s.Disks.RejectedByReason) > 0 {
		var parts []string
		for _, r := range s.Disks.RejectedByReason {
			parts = append(parts, fmt.Sprintf("%s %d", r.Reason, r.Count))
		}
		disks += " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(w, "  %-7s %s\n", "Disks:", disks)
	fmt.Fprintf(w, "  %-7s %d desired, %d preparing, %d provisioned, %d running, %d failed\n", "OSDs:",
		s.OSDs.Desired, s.OSDs.Preparing, s.OSDs.Provisioned, s.OSDs.Running, s.OSDs.Failed)

	fmt.Fprintln(w, "\nCeph:")
	renderCeph(w, s.Ceph, now)

	fmt.Fprintln(w, "\nMonitors:")
	if len(s.Monitors) == 0 {
		fmt.Fprintln(w, "  none yet")
	} else {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tNODE\tADDRESS\tREADY")
		for _, m := range s.Monitors {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%t\n", m.Name, m.Node, dash(m.Address), m.Ready)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nConditions:")
	if len(s.Conditions) == 0 {
		fmt.Fprintln(w, "  none yet")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
	for _, c := range sortedConditions(s.Conditions) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, age(now, c.LastTransitionTime.Time), dash(c.Message))
	}
	return tw.Flush()
}

func renderCeph(w io.Writer, c *cephv1alpha1.CephStatus, now time.Time) {
	if c == nil {
		fmt.Fprintln(w, "  no report yet (the health reporter runs next to the manager once monitors are up)")
		return
	}
	health := string(c.Health)
	if health == "" {
		health = "unknown"
	}
	if c.LastChecked != nil {
		health += fmt.Sprintf(" (checked %s ago)", age(now, c.LastChecked.Time))
	}
	fmt.Fprintf(w, "  %-10s %s\n", "Health:", health)
	if c.Message != "" {
		fmt.Fprintf(w, "  %-10s %s\n", "Message:", c.Message)
	}
	for i, chk := range c.Checks {
		label := ""
		if i == 0 {
			label = "Checks:"
		}
		muted := ""
		if chk.Muted {
			muted = " (muted)"
		}
		fmt.Fprintf(w, "  %-10s %s %s: %s%s\n", label, chk.Severity, chk.Code, chk.Message, muted)
	}
	if c.ChecksOmitted > 0 {
		fmt.Fprintf(w, "  %-10s and %d more\n", "", c.ChecksOmitted)
	}
	quorum := fmt.Sprintf("%d/%d in quorum", c.Monitors.InQuorum, c.Monitors.Total)
	if c.Monitors.Total == 0 {
		quorum = "not reported"
	}
	if len(c.Monitors.Quorum) > 0 {
		quorum += " (" + strings.Join(c.Monitors.Quorum, ", ") + ")"
	}
	fmt.Fprintf(w, "  %-10s %s\n", "Monitors:", quorum)
	fmt.Fprintf(w, "  %-10s %d total, %d up, %d in\n", "OSDs:", c.OSDs.Total, c.OSDs.Up, c.OSDs.In)
	if c.Capacity.TotalBytes > 0 {
		fmt.Fprintf(w, "  %-10s %s raw, %s used, %s available\n", "Capacity:",
			Size(c.Capacity.TotalBytes), Size(c.Capacity.UsedBytes), Size(c.Capacity.AvailableBytes))
	}
	if len(c.NeverStartedOSDs) > 0 {
		var ids []string
		for _, o := range c.NeverStartedOSDs {
			ids = append(ids, fmt.Sprintf("osd.%d", o.ID))
		}
		fmt.Fprintf(w, "  %-10s %s\n", "Never started:", strings.Join(ids, ", "))
	}
}

// age is how long ago t was, as kubectl prints ages; "-" for an unset time.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return duration.HumanDuration(d)
}

// sortedConditions puts Ready, Degraded and Progressing first, the others
// after them in the order the operator wrote them.
func sortedConditions(conds []metav1.Condition) []metav1.Condition {
	rank := func(t string) int {
		switch t {
		case cephv1alpha1.ConditionReady:
			return 0
		case cephv1alpha1.ConditionDegraded:
			return 1
		case cephv1alpha1.ConditionProgressing:
			return 2
		}
		return 3
	}
	out := append([]metav1.Condition(nil), conds...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Type) < rank(out[j].Type) })
	return out
}

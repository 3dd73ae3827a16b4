package monplan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// DefaultFailoverTimeout is how long a monitor's node may stay NotReady
// before the monitor is replaced, when spec.mon.failoverTimeout is not set.
const DefaultFailoverTimeout = 10 * time.Minute

// FailoverInput is what Failover decides from.
type FailoverInput struct {
	// Spec is the cluster's spec: its node selection and monitor settings.
	Spec *cephv1alpha1.CephClusterSpec
	// Mons is the current placement; Retired the names of monitors
	// replaced before, never used again.
	Mons    []Mon
	Retired []string
	// Nodes are the cluster's nodes.
	Nodes []corev1.Node
	// Quorum names the monitors in quorum and MapSize counts the monitor
	// map, from a `ceph status` no older than the caller accepts;
	// StatusKnown is false when there is none such.
	Quorum      []string
	MapSize     int
	StatusKnown bool
	// Now is the time; Timeout how long a node may be NotReady (0
	// disables failover).
	Now     time.Time
	Timeout time.Duration
}

// FailoverDecision is what Failover decided.
type FailoverDecision struct {
	// Failed is the monitor to replace, nil when none is; Why says why.
	Failed *Mon
	Why    string
	// Replacement is the monitor that replaces it.
	Replacement *Mon
	// Mons is the new placement (Failed replaced by Replacement, in its
	// place) and Retired the retired names with Failed's added.
	Mons    []Mon
	Retired []string
	// Waiting says why a monitor that is down is not replaced (yet):
	// empty when nothing is down or a replacement was decided.
	Waiting string
	// Recheck is when the decision may change with time alone (a node's
	// NotReady time reaching the timeout); zero when it cannot.
	Recheck time.Duration
}

// Failover decides whether a monitor is to be replaced: one whose node is
// gone, or NotReady for Timeout or longer, and that the last `ceph status`
// does not count in the quorum. It is replaced only while every other
// monitor is in quorum and the monitor map lists exactly the placement,
// so the map keeps a majority of running monitors at every step (the
// failed one leaves it before the new one joins), and one at a time. The
// replacement runs on the first node, in name order, of the storage
// selection that is Ready, has an InternalIP and runs no monitor, under
// the first name neither in use nor retired.
func Failover(in FailoverInput) FailoverDecision {
	var d FailoverDecision
	inQuorum := map[string]bool{}
	for _, q := range in.Quorum {
		inQuorum[q] = true
	}
	nodes := map[string]*corev1.Node{}
	for i := range in.Nodes {
		nodes[in.Nodes[i].Name] = &in.Nodes[i]
	}
	failed := -1
	var why string
	for i, m := range in.Mons {
		n := nodes[m.Node]
		down, since := nodeDown(n)
		if !down {
			continue
		}
		left := in.Timeout - in.Now.Sub(since)
		if n != nil && left > 0 {
			if d.Recheck == 0 || left < d.Recheck {
				d.Recheck = left
			}
			d.Waiting = fmt.Sprintf("monitor %s: node %s NotReady since %s; it is replaced after %s", m.Name, m.Node, since.UTC().Format(time.RFC3339), in.Timeout)
			continue
		}
		if failed >= 0 {
			// One at a time: the second waits for the first.
			continue
		}
		failed = i
		why = fmt.Sprintf("node %s is gone", m.Node)
		if n != nil {
			why = fmt.Sprintf("node %s NotReady since %s (more than %s)", m.Node, since.UTC().Format(time.RFC3339), in.Timeout)
		}
	}
	if failed < 0 {
		return d
	}
	m := in.Mons[failed]
	d.Recheck = 0
	switch {
	case in.Timeout <= 0:
		d.Waiting = fmt.Sprintf("monitor %s: %s; monitor failover is disabled (spec.mon.failoverTimeout is 0)", m.Name, why)
		return d
	case !in.StatusKnown:
		d.Waiting = fmt.Sprintf("monitor %s: %s; waiting for a current ceph status to confirm it is out of the quorum", m.Name, why)
		return d
	case inQuorum[m.Name]:
		d.Waiting = fmt.Sprintf("monitor %s: %s, but Ceph counts it in the quorum; it is not replaced", m.Name, why)
		return d
	}
	var missing []string
	for _, o := range in.Mons {
		if o.Name != m.Name && !inQuorum[o.Name] {
			missing = append(missing, o.Name)
		}
	}
	if len(missing) > 0 {
		d.Waiting = fmt.Sprintf("monitor %s: %s; it is replaced once every other monitor is in quorum (%s are not)", m.Name, why, strings.Join(missing, ", "))
		return d
	}
	if in.MapSize != len(in.Mons) {
		d.Waiting = fmt.Sprintf("monitor %s: %s; it is replaced once the monitor map lists the %d monitors of the placement (it lists %d)", m.Name, why, len(in.Mons), in.MapSize)
		return d
	}
	node, ip := replacementNode(in, m)
	if node == "" {
		d.Waiting = fmt.Sprintf("monitor %s: %s; no Ready node of the storage selection with an InternalIP is without a monitor to replace it on", m.Name, why)
		return d
	}
	used := map[string]bool{}
	for _, o := range in.Mons {
		used[o.Name] = true
	}
	for _, r := range in.Retired {
		used[r] = true
	}
	name := ""
	for i := 0; name == ""; i++ {
		if !used[Name(i)] {
			name = Name(i)
		}
	}
	repl := Mon{Name: name, Node: node, IP: ip, PortV2: PortV2, PortV1: PortV1, Replaces: m.Name}
	d.Failed, d.Replacement = &m, &repl
	d.Mons = slices.Clone(in.Mons)
	d.Mons[failed] = repl
	d.Retired = append(slices.Clone(in.Retired), m.Name)
	d.Why = why
	return d
}

// nodeDown reports whether node n is gone (nil) or not Ready, and since
// when its Ready condition says so.
func nodeDown(n *corev1.Node) (bool, time.Time) {
	if n == nil {
		return true, time.Time{}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status != corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	// No Ready condition yet: a node that never reported is not a
	// monitor's node that went down.
	return false, time.Time{}
}

// replacementNode is the node and address a replacement for m runs on.
func replacementNode(in FailoverInput, m Mon) (string, string) {
	sel := nodeselect.Select(in.Spec, in.Nodes)
	selected := map[string]bool{}
	for _, n := range sel.Selected {
		selected[n] = true
	}
	hasMon := map[string]bool{m.Node: true}
	for _, o := range in.Mons {
		hasMon[o.Node] = true
	}
	var cands []*corev1.Node
	for i := range in.Nodes {
		n := &in.Nodes[i]
		if selected[n.Name] && !hasMon[n.Name] && nodeselect.Ready(n) && internalIP(n) != "" {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return "", ""
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Name < cands[j].Name })
	return cands[0].Name, internalIP(cands[0])
}

// Package monplan decides where a cluster's monitors run and at which
// addresses. It is pure: nodes in, placement out. The placement is decided
// once, when the cluster is bootstrapped, and then kept: a monitor's address
// is part of the cluster's monitor map and cannot simply change.
package monplan

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// Default ports of a monitor: msgr2 and the legacy protocol. A second
// monitor on the same node (allowMultiplePerNode) takes the next port of
// each.
const (
	PortV2 = 3300
	PortV1 = 6789
)

// Mon is one monitor: its name, the node it is pinned to and the address it
// binds there (the node's InternalIP, on the host network).
type Mon struct {
	// Name is the monitor's id: "a", "b", ...
	Name string `json:"name"`
	// Node is the node the monitor runs on.
	Node string `json:"node"`
	// IP is the node's address the monitor binds.
	IP string `json:"ip"`
	// PortV2 is the msgr2 port.
	PortV2 int32 `json:"portV2"`
	// PortV1 is the legacy protocol port.
	PortV1 int32 `json:"portV1"`
	// Replaces names the monitor this one was added to replace (see
	// Failover); empty for a monitor placed at bootstrap. Such a monitor
	// is not in the initial monitor map: it starts with its own address,
	// removes the one it replaces from the map if that is still listed,
	// and joins the quorum.
	Replaces string `json:"replaces,omitempty"`
}

// AddrVec is the monitor's address vector as Ceph writes it, for example
// "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]".
func (m Mon) AddrVec() string {
	return fmt.Sprintf("[v2:%s,v1:%s]",
		net.JoinHostPort(m.IP, strconv.Itoa(int(m.PortV2))),
		net.JoinHostPort(m.IP, strconv.Itoa(int(m.PortV1))))
}

// NotEnoughNodesError says why monitors cannot be placed yet. It is a state
// to wait in (nodes may join), not a failure.
type NotEnoughNodesError struct {
	// Want is the number of monitors.
	Want int
	// Have is the number of usable nodes.
	Have int
	// Multiple is spec.mon.allowMultiplePerNode.
	Multiple bool
}

func (e *NotEnoughNodesError) Error() string {
	if e.Have == 0 {
		return "no selected node is Ready with an InternalIP to run monitors on"
	}
	return fmt.Sprintf("spec.mon.count is %d but only %d selected node(s) are Ready with an InternalIP; "+
		"monitors run on distinct nodes unless spec.mon.allowMultiplePerNode is true (test clusters only)", e.Want, e.Have)
}

// Place chooses the nodes and addresses of spec.mon.count monitors among
// the nodes of the storage selection that are Ready and have an
// InternalIP, in name order: one monitor per node, or round-robin over the
// nodes when allowMultiplePerNode is set. It returns a *NotEnoughNodesError
// when there are not enough such nodes.
func Place(spec *cephv1alpha1.CephClusterSpec, nodes []corev1.Node) ([]Mon, error) {
	want := int(spec.Mon.Count)
	if want <= 0 {
		want = 3
	}
	sel := nodeselect.Select(spec, nodes)
	selected := make(map[string]bool, len(sel.Selected))
	for _, n := range sel.Selected {
		selected[n] = true
	}
	type candidate struct{ name, ip string }
	var cands []candidate
	for i := range nodes {
		n := &nodes[i]
		if !selected[n.Name] || !nodeselect.Ready(n) {
			continue
		}
		if ip := internalIP(n); ip != "" {
			cands = append(cands, candidate{n.Name, ip})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].name < cands[j].name })
	if len(cands) == 0 || (len(cands) < want && !spec.Mon.AllowMultiplePerNode) {
		return nil, &NotEnoughNodesError{Want: want, Have: len(cands), Multiple: spec.Mon.AllowMultiplePerNode}
	}
	mons := make([]Mon, 0, want)
	for i := 0; i < want; i++ {
		c := cands[i%len(cands)]
		slot := int32(i / len(cands))
		mons = append(mons, Mon{Name: Name(i), Node: c.name, IP: c.ip, PortV2: PortV2 + slot, PortV1: PortV1 + slot})
	}
	return mons, nil
}

// Name is the name of the i-th monitor: a..z, then a1..z1 and so on.
func Name(i int) string {
	name := string(rune('a' + i%26))
	if i >= 26 {
		name += strconv.Itoa(i / 26)
	}
	return name
}

// MonHosts returns the mon_host entries of mons, in order.
func MonHosts(mons []Mon) []string {
	out := make([]string, 0, len(mons))
	for _, m := range mons {
		out = append(out, m.AddrVec())
	}
	return out
}

// Encode serialises mons for the ConfigMap that records the placement.
func Encode(mons []Mon) (string, error) {
	b, err := json.Marshal(mons)
	if err != nil {
		return "", fmt.Errorf("encoding monitor placement: %w", err)
	}
	return string(b), nil
}

// Decode reads a placement written by Encode and checks it, so a
// hand-edited record is reported instead of being deployed.
func Decode(s string) ([]Mon, error) {
	var mons []Mon
	if err := json.Unmarshal([]byte(s), &mons); err != nil {
		return nil, fmt.Errorf("monitor placement is not valid JSON: %w", err)
	}
	if len(mons) == 0 {
		return nil, fmt.Errorf("monitor placement lists no monitor")
	}
	seen := map[string]bool{}
	for _, m := range mons {
		switch {
		case m.Name == "" || strings.ContainsAny(m.Name, " /"):
			return nil, fmt.Errorf("monitor placement has an invalid name %q", m.Name)
		case seen[m.Name]:
			return nil, fmt.Errorf("monitor placement lists %q twice", m.Name)
		case m.Node == "":
			return nil, fmt.Errorf("monitor %q has no node", m.Name)
		case net.ParseIP(m.IP) == nil:
			return nil, fmt.Errorf("monitor %q has an invalid IP %q", m.Name, m.IP)
		case m.PortV2 <= 0 || m.PortV2 > 65535 || m.PortV1 <= 0 || m.PortV1 > 65535:
			return nil, fmt.Errorf("monitor %q has an invalid port", m.Name)
		case strings.ContainsAny(m.Replaces, " /") || m.Replaces == m.Name:
			return nil, fmt.Errorf("monitor %q replaces an invalid name %q", m.Name, m.Replaces)
		}
		seen[m.Name] = true
	}
	for _, m := range mons {
		if m.Replaces != "" && seen[m.Replaces] {
			return nil, fmt.Errorf("monitor %q replaces %q, which the placement still lists", m.Name, m.Replaces)
		}
	}
	return mons, nil
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address) != nil {
			return a.Address
		}
	}
	return ""
}

package realnode

import (
	"fmt"
	"os/exec"
)

// disconnectComment marks the rules DisconnectNode adds, so ReconnectNode
// removes exactly those.
const disconnectComment = "ceph-operator-test-disconnected"

// disconnectRules are the filter rules that cut a node off: nothing in or
// out of its link to the node network, for the node itself (its kubelet,
// host-network pods such as monitors) and for its pods' forwarded traffic.
var disconnectRules = [][]string{
	{"INPUT", "-i", NodeLink},
	{"OUTPUT", "-o", NodeLink},
	{"FORWARD", "-i", NodeLink},
	{"FORWARD", "-o", NodeLink},
}

// DisconnectNode cuts the named node of a cluster of several off the node
// network, as a failed switch port or a hung machine would from the
// others' side: its kubelet no longer reaches the API server (the node
// becomes NotReady once the node lifecycle controller's grace period
// passes) and its daemons no longer reach the other nodes' — while
// everything on it keeps running. ReconnectNode undoes it. The rules live
// in the node's network namespace and go with it.
func (c *Cluster) DisconnectNode(name string) error {
	n, err := c.nodeInfo(name)
	if err != nil {
		return err
	}
	for _, r := range disconnectRules {
		args := append([]string{"--net=" + n.Netns, "--", "iptables", "-w", "-I", r[0], "1"}, r[1:]...)
		args = append(args, "-m", "comment", "--comment", disconnectComment, "-j", "DROP")
		if err := run("nsenter", args...); err != nil {
			return fmt.Errorf("disconnecting node %s: %w", name, err)
		}
	}
	return nil
}

// ReconnectNode removes what DisconnectNode added to the node.
func (c *Cluster) ReconnectNode(name string) error {
	n, err := c.nodeInfo(name)
	if err != nil {
		return err
	}
	for _, r := range disconnectRules {
		rule := append(append([]string{}, r[1:]...), "-m", "comment", "--comment", disconnectComment, "-j", "DROP")
		for {
			check := append([]string{"--net=" + n.Netns, "--", "iptables", "-w", "-C", r[0]}, rule...)
			if exec.Command("nsenter", check...).Run() != nil {
				break
			}
			del := append([]string{"--net=" + n.Netns, "--", "iptables", "-w", "-D", r[0]}, rule...)
			if err := run("nsenter", del...); err != nil {
				return fmt.Errorf("reconnecting node %s: %w", name, err)
			}
		}
	}
	return nil
}

// nodeInfo is the named node of the cluster.
func (c *Cluster) nodeInfo(name string) (*NodeInfo, error) {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			if c.Nodes[i].Netns == "" {
				return nil, fmt.Errorf("node %s has no network namespace of its own", name)
			}
			return &c.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("no node %q in the cluster", name)
}

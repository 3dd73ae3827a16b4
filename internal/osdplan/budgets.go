package osdplan

import (
	"fmt"
	"sort"
	"strings"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Budget is one PodDisruptionBudget over OSD pods: every OSD of the
// cluster (Node empty), or the OSDs of one node (a host failure domain).
type Budget struct {
	// Node is the failure domain the budget covers; empty for all OSDs.
	Node string
	// MaxUnavailable is how many of its pods may be unavailable.
	MaxUnavailable int32
}

// Budgets is what OSDBudgets decided, and why.
type Budgets struct {
	// Budgets are the PodDisruptionBudgets that must exist; every other
	// OSD budget of the cluster is removed. Each OSD pod is covered by
	// at most one (the eviction API refuses a pod covered by two).
	Budgets []Budget
	// Reason says in words which rule chose them.
	Reason string
}

// recoveringChecks are Ceph health checks that mean some placement groups
// are not active+clean, or OSDs are down: another voluntary disruption
// would take away more copies of data that already lacks some.
var recoveringChecks = map[string]bool{
	"PG_AVAILABILITY": true, "PG_DEGRADED": true, "PG_DEGRADED_FULL": true, "PG_DAMAGED": true,
	"PG_RECOVERY_FULL": true, "PG_BACKFILL_FULL": true,
	"OSD_DOWN": true, "OSD_HOST_DOWN": true, "OSD_ROOT_DOWN": true,
	"OSD_RACK_DOWN": true, "OSD_ZONE_DOWN": true, "OSD_REGION_DOWN": true, "OSD_DATACENTER_DOWN": true,
}

// Recovering returns the health checks of the reporter's last Ceph status
// that make placement groups not all active+clean; nil when there are
// none, or no status yet.
func Recovering(status *cephv1alpha1.CephStatus) []string {
	if status == nil {
		return nil
	}
	var codes []string
	for _, c := range status.Checks {
		// A muted check still means degraded data: it counts.
		if recoveringChecks[c.Code] {
			codes = append(codes, c.Code)
		}
	}
	sort.Strings(codes)
	return codes
}

// OSDBudgets decides the PodDisruptionBudgets of a cluster's OSDs so that
// voluntary disruptions (a node drain, an eviction) take the OSDs of at
// most one failure domain at a time, and none while Ceph recovers:
//
//   - every OSD ready and Ceph not recovering: one budget over all OSDs
//     with maxUnavailable 1, so the first eviction anywhere is allowed;
//   - the unready OSDs all on one node (a node being drained, or down):
//     one budget per other node with maxUnavailable 0, none on that node,
//     so the node can be drained to its end and no other node can;
//   - unready OSDs on several nodes, or every OSD ready while Ceph still
//     reports degraded placement groups or down OSDs: one budget over all
//     OSDs with maxUnavailable 0, until Ceph is clean again.
//
// With failure domain osd (a one-node cluster) an OSD is its own failure
// domain: one budget over all OSDs with maxUnavailable 1, or 0 while Ceph
// recovers. Without a Ceph status (the reporter has not reported) only
// the OSD pods' readiness is known, and it alone decides.
func OSDBudgets(cluster *cephv1alpha1.CephCluster, osds []OSD, recovering []string) Budgets {
	if len(osds) == 0 {
		return Budgets{Reason: "no OSD"}
	}
	down := map[string][]int32{}
	nodes := map[string]bool{}
	for _, o := range osds {
		nodes[o.Node] = true
		if !o.Ready {
			down[o.Node] = append(down[o.Node], o.ID)
		}
	}
	all := func(maxUnavailable int32, reason string) Budgets {
		return Budgets{Budgets: []Budget{{MaxUnavailable: maxUnavailable}}, Reason: reason}
	}
	waitClean := fmt.Sprintf("Ceph reports %s: no OSD may be disrupted until it is clean", strings.Join(recovering, ", "))
	if cluster.Spec.DefaultFailureDomain == cephv1alpha1.FailureDomainOSD {
		if len(recovering) > 0 {
			return all(0, waitClean)
		}
		return all(1, "failure domain osd: one OSD at a time")
	}
	switch len(down) {
	case 0:
		if len(recovering) > 0 {
			return all(0, waitClean)
		}
		return all(1, "every OSD ready: the first disruption may take any one OSD")
	case 1:
		var drained string
		for n := range down {
			drained = n
		}
		var others []string
		for n := range nodes {
			if n != drained {
				others = append(others, n)
			}
		}
		sort.Strings(others)
		b := Budgets{Reason: fmt.Sprintf("OSDs %v of node %s are not ready: that node may be drained, no other", down[drained], drained)}
		for _, n := range others {
			b.Budgets = append(b.Budgets, Budget{Node: n, MaxUnavailable: 0})
		}
		return b
	default:
		var names []string
		for n := range down {
			names = append(names, n)
		}
		sort.Strings(names)
		return all(0, fmt.Sprintf("OSDs are not ready on %d nodes (%s): no further OSD may be disrupted", len(names), strings.Join(names, ", ")))
	}
}

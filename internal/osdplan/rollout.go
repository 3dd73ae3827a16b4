package osdplan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Rollout is which outdated OSD Deployments may be updated now.
type Rollout struct {
	// Update are the ids of the outdated OSDs to update now: all those of
	// one failure domain, or none.
	Update map[int32]bool
	// Updated counts the OSDs whose Deployment is current (not Outdated).
	Updated int32
	// Outdated counts those still to update.
	Outdated int32
	// Waiting says why no OSD is updated while some are outdated; empty
	// when Update is not empty or nothing is outdated.
	Waiting string
	// Domain is the failure domain of Update, and Disrupted says whether
	// its OSDs were already restarting (not all ready) when it was chosen.
	Domain    string
	Disrupted bool
}

// failureDomain is the failure domain of o: its node, or the OSD itself
// with failure domain osd.
func failureDomain(cluster *cephv1alpha1.CephCluster, o OSD) string {
	if cluster.Spec.DefaultFailureDomain == cephv1alpha1.FailureDomainOSD {
		return "osd." + strconv.Itoa(int(o.ID))
	}
	return o.Node
}

// OSDRollout decides how a change of the OSD Deployments' pod template (a
// new image, resources, CRUSH location) reaches running OSDs without
// taking more than one failure domain down: the outdated OSDs of one
// domain are updated together, and the next domain only once every OSD is
// ready on its current template (Settled) and Ceph reports no degraded
// placement groups (recovering). A domain already disrupted (its OSDs the
// only ones not settled) is finished first. daemonsWait, when not empty,
// says why the monitors and manager must be updated first, and holds every
// OSD back.
func OSDRollout(cluster *cephv1alpha1.CephCluster, osds []OSD, recovering []string, daemonsWait string) Rollout {
	r := Rollout{Update: map[int32]bool{}}
	pending := map[string][]int32{}
	unsettled := map[string]bool{}
	for _, o := range osds {
		d := failureDomain(cluster, o)
		if o.Outdated {
			r.Outdated++
			pending[d] = append(pending[d], o.ID)
		} else {
			r.Updated++
		}
		if !o.Ready || !o.Settled {
			unsettled[d] = true
		}
	}
	if len(pending) == 0 {
		return r
	}
	if daemonsWait != "" {
		r.Waiting = daemonsWait
		return r
	}
	var next string
	switch {
	case len(unsettled) == 0 && len(recovering) > 0:
		r.Waiting = fmt.Sprintf("waiting for Ceph to report no %s before the next failure domain", strings.Join(recovering, ", "))
		return r
	case len(unsettled) == 0:
		domains := make([]string, 0, len(pending))
		for d := range pending {
			domains = append(domains, d)
		}
		sort.Strings(domains)
		next = domains[0]
	case len(unsettled) == 1:
		for d := range unsettled {
			next = d
		}
		if pending[next] == nil {
			r.Waiting = fmt.Sprintf("waiting for the OSDs of %s to be ready before the next failure domain", next)
			return r
		}
	default:
		names := make([]string, 0, len(unsettled))
		for d := range unsettled {
			names = append(names, d)
		}
		sort.Strings(names)
		r.Waiting = fmt.Sprintf("waiting for OSDs to be ready in %d failure domains (%s); one is updated at a time", len(names), shortNames(names, 5))
		return r
	}
	for _, id := range pending[next] {
		r.Update[id] = true
	}
	r.Domain, r.Disrupted = next, unsettled[next]
	return r
}

// shortNames joins at most n names and says how many more there are.
func shortNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

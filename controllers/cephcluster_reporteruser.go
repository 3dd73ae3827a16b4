package controllers

import (
	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// reporterUser chooses the user the health reporter runs as: the ceph user
// of the cluster's image, as the discovery agents (which run in that image)
// found it in its /etc/passwd. The user most agents reported wins; a tie
// goes to the smallest uid, then gid, so the choice does not depend on the
// order of the inventories. Agents may disagree while their DaemonSet rolls
// to a new image. When no agent reported one (an image without a ceph user,
// or agents that predate status.cephUser), it is resources.CephUID, the
// ceph user of the Ceph project's images. It is never root: the schema
// refuses ids below 1, and such a report is ignored here too.
func reporterUser(inventories []cephv1alpha1.DiskInventory) cephv1alpha1.CephUser {
	votes := map[cephv1alpha1.CephUser]int{}
	for i := range inventories {
		u := inventories[i].Status.CephUser
		if u == nil || u.UID < 1 || u.GID < 1 {
			continue
		}
		votes[*u]++
	}
	best := cephv1alpha1.CephUser{UID: resources.CephUID, GID: resources.CephUID}
	bestVotes := 0
	for u, n := range votes {
		if n > bestVotes || n == bestVotes && (u.UID < best.UID || u.UID == best.UID && u.GID < best.GID) {
			best, bestVotes = u, n
		}
	}
	return best
}

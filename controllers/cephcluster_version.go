package controllers

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// versionCheck is what the discovery agents, which run in the cluster's
// Ceph image, say about its Ceph version.
type versionCheck struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

// unsupported reports whether the image must not run any daemon.
func (v versionCheck) unsupported() bool { return v.status == metav1.ConditionFalse }

// checkCephVersion judges the Ceph versions the agents published: the
// oldest one decides. Daemons start only once it is True: no report yet
// (the agents have not run) leaves it Unknown, and a version older than
// ceph.MinSupportedVersion makes it False.
func checkCephVersion(image string, inventories []cephv1alpha1.DiskInventory) versionCheck {
	type report struct {
		node string
		v    ceph.Version
	}
	var reports []report
	var unreadable []string
	for i := range inventories {
		s := inventories[i].Status.CephVersion
		if s == "" {
			continue
		}
		v, err := ceph.ParseVersion(s)
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("%s (%q)", inventories[i].Name, s))
			continue
		}
		reports = append(reports, report{inventories[i].Name, v})
	}
	sort.Slice(reports, func(i, j int) bool {
		if reports[i].v != reports[j].v {
			return reports[i].v.Less(reports[j].v)
		}
		return reports[i].node < reports[j].node
	})
	switch {
	case len(reports) > 0 && reports[0].v.Less(ceph.MinSupportedVersion):
		return versionCheck{metav1.ConditionFalse, cephv1alpha1.ReasonUnsupportedCephVersion, fmt.Sprintf(
			"%s runs Ceph %s (reported on node %s); the oldest supported release is %s: set spec.image to a newer Ceph image. "+
				"No monitor, manager or OSD is started or changed with it", image, reports[0].v, reports[0].node, ceph.MinSupportedVersion)}
	case len(reports) > 0:
		return versionCheck{metav1.ConditionTrue, cephv1alpha1.ReasonSupported, fmt.Sprintf("%s runs Ceph %s", image, reports[0].v)}
	case len(unreadable) > 0:
		return versionCheck{metav1.ConditionUnknown, cephv1alpha1.ReasonVersionUnknown, fmt.Sprintf(
			"The discovery agents reported no readable Ceph version: %v", unreadable)}
	default:
		return versionCheck{metav1.ConditionUnknown, cephv1alpha1.ReasonVersionUnknown,
			"Waiting for the discovery agents to report the Ceph version of " + image + "; no daemon starts before"}
	}
}

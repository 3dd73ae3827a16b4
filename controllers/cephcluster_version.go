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
	// accepted is the image and version the daemons may run, when status
	// is True: it becomes status.daemonImage.
	accepted *cephv1alpha1.DaemonImage
}

// unsupported reports whether the image must not run any daemon.
func (v versionCheck) unsupported() bool { return v.status == metav1.ConditionFalse }

// maxMajorJump is how many major releases Ceph can be upgraded by in one
// step (for example Reef 18 to Tentacle 20).
const maxMajorJump = 2

// checkCephVersion judges the Ceph version of image from what the agents
// published. Only reports made in image count: after a spec.image change,
// agents still reporting another image (on Ready nodes; notReady names
// the others, whose agents cannot roll) make it wait, so that the version
// judged is the new image's, not the old one's. An inventory that names no
// image comes from an agent older than this check and counts as image's.
// The oldest version reported decides. It is False when that version is
// older than ceph.MinSupportedVersion, older than the version the daemons
// run (daemon, a downgrade Ceph cannot make) or more than maxMajorJump
// major releases newer; True otherwise, and then accepted is image with
// its version. Daemons start, or roll, only once it is True.
func checkCephVersion(image string, daemon *cephv1alpha1.DaemonImage, inventories []cephv1alpha1.DiskInventory, notReady map[string]bool) versionCheck {
	type report struct {
		node string
		v    ceph.Version
	}
	var reports []report
	var unreadable, behind []string
	for i := range inventories {
		inv := &inventories[i]
		if inv.Status.CephImage != "" && inv.Status.CephImage != image {
			if !notReady[inv.Name] {
				behind = append(behind, inv.Name)
			}
			continue
		}
		s := inv.Status.CephVersion
		if s == "" {
			continue
		}
		v, err := ceph.ParseVersion(s)
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("%s (%q)", inv.Name, s))
			continue
		}
		reports = append(reports, report{inv.Name, v})
	}
	sort.Slice(reports, func(i, j int) bool {
		if reports[i].v != reports[j].v {
			return reports[i].v.Less(reports[j].v)
		}
		return reports[i].node < reports[j].node
	})
	sort.Strings(behind)
	if len(behind) > 0 {
		return versionCheck{status: metav1.ConditionUnknown, reason: cephv1alpha1.ReasonWaitingForNewImage, message: fmt.Sprintf(
			"Waiting for the discovery agents of %d node(s) (%s) to report the Ceph version of %s; they still report another image. "+
				"The monitors, manager and OSDs keep their image until then", len(behind), shortList(behind, 5), image)}
	}
	switch {
	case len(reports) > 0 && reports[0].v.Less(ceph.MinSupportedVersion):
		return versionCheck{status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonUnsupportedCephVersion, message: fmt.Sprintf(
			"%s runs Ceph %s (reported on node %s); the oldest supported release is %s: set spec.image to a newer Ceph image. "+
				"No monitor, manager or OSD is started or changed with it", image, reports[0].v, reports[0].node, ceph.MinSupportedVersion)}
	case len(reports) > 0:
		oldest := reports[0]
		if daemon != nil && daemon.Image != image {
			if running, err := ceph.ParseVersion(daemon.Version); err == nil {
				switch {
				case oldest.v.Less(running):
					return versionCheck{status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonCephDowngradeRefused, message: fmt.Sprintf(
						"%s runs Ceph %s, older than Ceph %s that the daemons run (%s): Ceph cannot be downgraded. "+
							"Set spec.image back to %s, or to a release not older than %s; nothing is changed meanwhile",
						image, oldest.v, running, daemon.Image, daemon.Image, running)}
				case oldest.v.Major-running.Major > maxMajorJump:
					return versionCheck{status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonCephUpgradeUnsupported, message: fmt.Sprintf(
						"%s runs Ceph %s, %d major releases after Ceph %s that the daemons run (%s): Ceph upgrades by at most %d at a time. "+
							"Upgrade to an intermediate release first; nothing is changed meanwhile",
						image, oldest.v, oldest.v.Major-running.Major, running, daemon.Image, maxMajorJump)}
				}
			}
		}
		return versionCheck{status: metav1.ConditionTrue, reason: cephv1alpha1.ReasonSupported,
			message:  fmt.Sprintf("%s runs Ceph %s", image, oldest.v),
			accepted: &cephv1alpha1.DaemonImage{Image: image, Version: oldest.v.Number()}}
	case len(unreadable) > 0:
		return versionCheck{status: metav1.ConditionUnknown, reason: cephv1alpha1.ReasonVersionUnknown, message: fmt.Sprintf(
			"The discovery agents reported no readable Ceph version: %v", unreadable)}
	default:
		return versionCheck{status: metav1.ConditionUnknown, reason: cephv1alpha1.ReasonVersionUnknown,
			message: "Waiting for the discovery agents to report the Ceph version of " + image + "; no daemon starts before"}
	}
}

// shortList joins at most n names, and says how many more there are.
func shortList(names []string, n int) string {
	if len(names) <= n {
		return fmt.Sprint(names)
	}
	return fmt.Sprintf("%v and %d more", names[:n], len(names)-n)
}

package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func TestCheckCephVersion(t *testing.T) {
	inv := func(node, version string) cephv1alpha1.DiskInventory {
		i := cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: node}}
		i.Status.CephVersion = version
		return i
	}
	in := func(image string, i cephv1alpha1.DiskInventory) cephv1alpha1.DiskInventory {
		i.Status.CephImage = image
		return i
	}
	reef := &cephv1alpha1.DaemonImage{Image: "reef", Version: "18.2.7"}
	for _, tc := range []struct {
		name     string
		daemon   *cephv1alpha1.DaemonImage
		invs     []cephv1alpha1.DiskInventory
		notReady map[string]bool
		status   metav1.ConditionStatus
		reason   string
		message  string
		accepted string
	}{
		{name: "no report yet", invs: []cephv1alpha1.DiskInventory{inv("a", "")},
			status: metav1.ConditionUnknown, reason: cephv1alpha1.ReasonVersionUnknown, message: "Waiting for the discovery agents to report"},
		{name: "supported", invs: []cephv1alpha1.DiskInventory{inv("a", "16.2.15"), inv("b", "")},
			status: metav1.ConditionTrue, reason: cephv1alpha1.ReasonSupported, message: "img runs Ceph 16.2.15 (pacific)", accepted: "img 16.2.15"},
		{name: "the oldest decides", invs: []cephv1alpha1.DiskInventory{inv("b", "18.2.4"), inv("a", "15.2.17")},
			status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonUnsupportedCephVersion,
			message: "img runs Ceph 15.2.17 (octopus) (reported on node a); the oldest supported release is 16.2.0 (pacific)"},
		{name: "unreadable", invs: []cephv1alpha1.DiskInventory{inv("a", "garbage")},
			status: metav1.ConditionUnknown, reason: cephv1alpha1.ReasonVersionUnknown, message: `a ("garbage")`},
		{name: "agents still on the old image: wait, whatever it says", daemon: reef,
			invs:   []cephv1alpha1.DiskInventory{in("img", inv("a", "20.2.4")), in("reef", inv("b", "18.2.7")), in("reef", inv("c", "18.2.7"))},
			status: metav1.ConditionUnknown, reason: cephv1alpha1.ReasonWaitingForNewImage, message: "2 node(s) ([b c]) to report the Ceph version of img"},
		{name: "an agent of a NotReady node does not hold the upgrade back", daemon: reef,
			invs:     []cephv1alpha1.DiskInventory{in("img", inv("a", "20.2.4")), in("reef", inv("b", "18.2.7"))},
			notReady: map[string]bool{"b": true},
			status:   metav1.ConditionTrue, reason: cephv1alpha1.ReasonSupported, message: "img runs Ceph 20.2.4 (tentacle)", accepted: "img 20.2.4"},
		{name: "an upgrade by two major releases", daemon: reef,
			invs:   []cephv1alpha1.DiskInventory{in("img", inv("a", "20.2.4")), in("img", inv("b", "20.2.4"))},
			status: metav1.ConditionTrue, reason: cephv1alpha1.ReasonSupported, accepted: "img 20.2.4"},
		{name: "a downgrade is refused, naming both", daemon: &cephv1alpha1.DaemonImage{Image: "tentacle", Version: "20.2.4"},
			invs:   []cephv1alpha1.DiskInventory{in("img", inv("a", "18.2.7"))},
			status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonCephDowngradeRefused,
			message: "img runs Ceph 18.2.7 (reef), older than Ceph 20.2.4 (tentacle) that the daemons run (tentacle)"},
		{name: "a point-release downgrade is refused too", daemon: reef,
			invs:   []cephv1alpha1.DiskInventory{in("img", inv("a", "18.2.4"))},
			status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonCephDowngradeRefused, message: "Ceph cannot be downgraded"},
		{name: "a jump of three major releases is refused", daemon: &cephv1alpha1.DaemonImage{Image: "pacific", Version: "16.2.15"},
			invs:   []cephv1alpha1.DiskInventory{in("img", inv("a", "19.2.3"))},
			status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonCephUpgradeUnsupported, message: "3 major releases after Ceph 16.2.15 (pacific)"},
		{name: "the daemons' own image is judged as any other", daemon: reef,
			invs:   []cephv1alpha1.DiskInventory{in("reef", inv("a", "18.2.7"))},
			status: metav1.ConditionTrue, reason: cephv1alpha1.ReasonSupported, accepted: "reef 18.2.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			image := "img"
			if tc.name == "the daemons' own image is judged as any other" {
				image = "reef"
			}
			got := checkCephVersion(image, tc.daemon, tc.invs, tc.notReady)
			if got.status != tc.status || got.reason != tc.reason || !strings.Contains(got.message, tc.message) {
				t.Errorf("checkCephVersion = %+v, want %s/%s containing %q", got, tc.status, tc.reason, tc.message)
			}
			if got.unsupported() != (tc.status == metav1.ConditionFalse) {
				t.Errorf("unsupported() = %v", got.unsupported())
			}
			accepted := ""
			if got.accepted != nil {
				accepted = got.accepted.Image + " " + got.accepted.Version
			}
			if accepted != tc.accepted {
				t.Errorf("accepted %q, want %q", accepted, tc.accepted)
			}
		})
	}
}

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
	for _, tc := range []struct {
		name    string
		invs    []cephv1alpha1.DiskInventory
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		{"no report yet", []cephv1alpha1.DiskInventory{inv("a", "")}, metav1.ConditionUnknown, cephv1alpha1.ReasonVersionUnknown, "Waiting for the discovery agents to report"},
		{"supported", []cephv1alpha1.DiskInventory{inv("a", "16.2.15"), inv("b", "")}, metav1.ConditionTrue, cephv1alpha1.ReasonSupported, "img runs Ceph 16.2.15 (pacific)"},
		{"the oldest decides", []cephv1alpha1.DiskInventory{inv("b", "18.2.4"), inv("a", "15.2.17")}, metav1.ConditionFalse, cephv1alpha1.ReasonUnsupportedCephVersion,
			"img runs Ceph 15.2.17 (octopus) (reported on node a); the oldest supported release is 16.2.0 (pacific)"},
		{"unreadable", []cephv1alpha1.DiskInventory{inv("a", "garbage")}, metav1.ConditionUnknown, cephv1alpha1.ReasonVersionUnknown, `a ("garbage")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkCephVersion("img", tc.invs)
			if got.status != tc.status || got.reason != tc.reason || !strings.Contains(got.message, tc.message) {
				t.Errorf("checkCephVersion = %+v, want %s/%s containing %q", got, tc.status, tc.reason, tc.message)
			}
			if got.unsupported() != (tc.status == metav1.ConditionFalse) {
				t.Errorf("unsupported() = %v", got.unsupported())
			}
		})
	}
}

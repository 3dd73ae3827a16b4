package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

func TestReporterUser(t *testing.T) {
	inv := func(node string, u *cephv1alpha1.CephUser) cephv1alpha1.DiskInventory {
		i := cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: node}}
		i.Status.CephUser = u
		return i
	}
	debian := &cephv1alpha1.CephUser{UID: 64045, GID: 64045}
	upstream := &cephv1alpha1.CephUser{UID: 167, GID: 167}
	fallback := cephv1alpha1.CephUser{UID: resources.CephUID, GID: resources.CephUID}
	for _, tc := range []struct {
		name string
		invs []cephv1alpha1.DiskInventory
		want cephv1alpha1.CephUser
	}{
		{"no inventory", nil, fallback},
		{"none reported", []cephv1alpha1.DiskInventory{inv("a", nil), inv("b", nil)}, fallback},
		{"one reported", []cephv1alpha1.DiskInventory{inv("a", nil), inv("b", debian)}, *debian},
		{"the most reported", []cephv1alpha1.DiskInventory{inv("a", upstream), inv("b", debian), inv("c", debian)}, *debian},
		{"a tie goes to the smallest uid", []cephv1alpha1.DiskInventory{inv("a", debian), inv("b", upstream)}, *upstream},
		{"a tie goes to the smallest uid, either order", []cephv1alpha1.DiskInventory{inv("a", upstream), inv("b", debian)}, *upstream},
		{"then the smallest gid", []cephv1alpha1.DiskInventory{inv("a", &cephv1alpha1.CephUser{UID: 500, GID: 600}), inv("b", &cephv1alpha1.CephUser{UID: 500, GID: 100})},
			cephv1alpha1.CephUser{UID: 500, GID: 100}},
		{"root is ignored", []cephv1alpha1.DiskInventory{inv("a", &cephv1alpha1.CephUser{UID: 0, GID: 0}), inv("b", &cephv1alpha1.CephUser{UID: 0, GID: 0}),
			inv("c", &cephv1alpha1.CephUser{UID: 64045, GID: 0}), inv("d", debian)}, *debian},
		{"only root reported", []cephv1alpha1.DiskInventory{inv("a", &cephv1alpha1.CephUser{})}, fallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reporterUser(tc.invs); got != tc.want {
				t.Errorf("reporterUser = %+v, want %+v", got, tc.want)
			}
		})
	}
}

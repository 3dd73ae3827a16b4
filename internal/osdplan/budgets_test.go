package osdplan

import (
	"reflect"
	"strings"
	"testing"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func TestOSDBudgets(t *testing.T) {
	osd := func(id int32, node string, ready bool) OSD { return OSD{ID: id, Node: node, Ready: ready} }
	healthy := []OSD{osd(0, "a", true), osd(1, "a", true), osd(2, "b", true), osd(3, "c", true)}
	host := cluster(nil)
	single := cluster(nil)
	single.Spec.DefaultFailureDomain = cephv1alpha1.FailureDomainOSD
	for _, tc := range []struct {
		name       string
		cluster    *cephv1alpha1.CephCluster
		osds       []OSD
		recovering []string
		want       []Budget
		reason     string
	}{
		{name: "no OSD, no budget", cluster: host},
		{name: "all ready and clean: one budget, one OSD anywhere", cluster: host, osds: healthy,
			want: []Budget{{MaxUnavailable: 1}}, reason: "every OSD ready"},
		{name: "all ready but Ceph degraded: nothing may go", cluster: host, osds: healthy, recovering: []string{"PG_DEGRADED"},
			want: []Budget{{MaxUnavailable: 0}}, reason: "PG_DEGRADED"},
		{name: "one OSD of node a down: a may drain to its end, b and c not", cluster: host,
			osds: []OSD{osd(0, "a", false), osd(1, "a", true), osd(2, "b", true), osd(3, "c", true)},
			want: []Budget{{Node: "b"}, {Node: "c"}}, reason: "of node a are not ready: that node may be drained, no other"},
		{name: "node a down while Ceph degrades because of it: still only a", cluster: host,
			osds:       []OSD{osd(0, "a", false), osd(1, "a", false), osd(2, "b", true), osd(3, "c", true)},
			recovering: []string{"OSD_DOWN", "PG_DEGRADED"},
			want:       []Budget{{Node: "b"}, {Node: "c"}}, reason: "OSDs [0 1] of node a"},
		{name: "OSDs down on two nodes: nothing more may go", cluster: host,
			osds: []OSD{osd(0, "a", false), osd(1, "a", true), osd(2, "b", false), osd(3, "c", true)},
			want: []Budget{{MaxUnavailable: 0}}, reason: "2 nodes (a, b)"},
		{name: "failure domain osd: one OSD at a time", cluster: single,
			osds: []OSD{osd(0, "a", false), osd(1, "a", true)},
			want: []Budget{{MaxUnavailable: 1}}, reason: "failure domain osd"},
		{name: "failure domain osd while Ceph recovers: none", cluster: single, osds: healthy, recovering: []string{"PG_AVAILABILITY"},
			want: []Budget{{MaxUnavailable: 0}}, reason: "PG_AVAILABILITY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := OSDBudgets(tc.cluster, tc.osds, tc.recovering)
			if !reflect.DeepEqual(got.Budgets, tc.want) {
				t.Errorf("budgets %+v, want %+v", got.Budgets, tc.want)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", got.Reason, tc.reason)
			}
		})
	}
}

func TestRecovering(t *testing.T) {
	if got := Recovering(nil); got != nil {
		t.Errorf("no status: %v, want none", got)
	}
	st := &cephv1alpha1.CephStatus{Checks: []cephv1alpha1.CephHealthCheck{
		{Code: "PG_DEGRADED"}, {Code: "MON_CLOCK_SKEW"}, {Code: "OSD_DOWN", Muted: true}, {Code: "PG_AVAILABILITY"},
	}}
	if got := Recovering(st); !reflect.DeepEqual(got, []string{"OSD_DOWN", "PG_AVAILABILITY", "PG_DEGRADED"}) {
		t.Errorf("Recovering = %v, want the PG and OSD checks, muted or not, sorted", got)
	}
}

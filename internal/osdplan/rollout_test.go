package osdplan

import (
	"reflect"
	"strings"
	"testing"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func TestOSDRollout(t *testing.T) {
	o := func(id int32, node string, ready, outdated bool) OSD {
		return OSD{ID: id, Node: node, Ready: ready, Settled: ready, Outdated: outdated}
	}
	host := cluster(nil)
	single := cluster(nil)
	single.Spec.DefaultFailureDomain = cephv1alpha1.FailureDomainOSD
	for _, tc := range []struct {
		name       string
		cluster    *cephv1alpha1.CephCluster
		osds       []OSD
		recovering []string
		daemons    string
		update     []int32
		waiting    string
		updated    int32
	}{
		{name: "nothing outdated", cluster: host, osds: []OSD{o(0, "a", true, false)}, updated: 1},
		{name: "all ready and clean: every OSD of the first node", cluster: host,
			osds:   []OSD{o(0, "a", true, true), o(1, "a", true, true), o(2, "b", true, true)},
			update: []int32{0, 1}},
		{name: "monitors first", cluster: host, osds: []OSD{o(0, "a", true, true)}, daemons: "the monitors run the old image",
			waiting: "the monitors run the old image"},
		{name: "a node rolling is finished before the next", cluster: host,
			osds:    []OSD{o(0, "a", false, false), o(1, "a", true, true), o(2, "b", true, true)},
			update:  []int32{1},
			updated: 1},
		{name: "a node done but not ready yet: wait", cluster: host,
			osds:    []OSD{o(0, "a", false, false), o(1, "a", true, false), o(2, "b", true, true)},
			waiting: "waiting for the OSDs of a to be ready", updated: 2},
		{name: "ready, but Ceph still recovering: wait", cluster: host,
			osds:       []OSD{o(0, "a", true, false), o(2, "b", true, true)},
			recovering: []string{"PG_DEGRADED"}, waiting: "no PG_DEGRADED", updated: 1},
		{name: "OSDs down on two nodes: wait", cluster: host,
			osds:    []OSD{o(0, "a", false, true), o(2, "b", false, true)},
			waiting: "2 failure domains (a, b)"},
		{name: "settled means the pod runs the latest template", cluster: host,
			osds:    []OSD{{ID: 0, Node: "a", Ready: true, Settled: false}, o(2, "b", true, true)},
			waiting: "OSDs of a to be ready", updated: 1},
		{name: "failure domain osd: one OSD at a time", cluster: single,
			osds:   []OSD{o(0, "a", true, true), o(1, "a", true, true)},
			update: []int32{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := OSDRollout(tc.cluster, tc.osds, tc.recovering, tc.daemons)
			want := map[int32]bool{}
			for _, id := range tc.update {
				want[id] = true
			}
			if !reflect.DeepEqual(got.Update, want) {
				t.Errorf("update %v, want %v (waiting %q)", got.Update, want, got.Waiting)
			}
			if (tc.waiting == "") != (got.Waiting == "") || !strings.Contains(got.Waiting, tc.waiting) {
				t.Errorf("waiting %q, want %q", got.Waiting, tc.waiting)
			}
			if got.Updated != tc.updated {
				t.Errorf("updated %d, want %d", got.Updated, tc.updated)
			}
		})
	}
}

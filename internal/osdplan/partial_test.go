package osdplan

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func TestUnclaimedOSDs(t *testing.T) {
	partial := rejected("sdd", "PartiallyPrepared", "label without whoami")
	partial.Verdict.OSDUUID, partial.Verdict.ClusterFSID = "UUID-5", testFSID
	foreign := osdDisk("sde", 6)
	foreign.Verdict.ClusterFSID = "0bad0bad-0000-0000-0000-000000000000"
	base := func() Input {
		c := cluster(nil)
		c.Status.Ceph = &cephv1alpha1.CephStatus{FSID: testFSID, NeverStartedOSDs: []cephv1alpha1.CephOSDRef{
			{ID: 2, UUID: "uuid-2"}, // its disk carries id 2
			{ID: 3, UUID: "uuid-3"}, // its Deployment exists
			{ID: 5, UUID: "uuid-5"}, // a PartiallyPrepared disk carries the uuid
			{ID: 6, UUID: "uuid-6"}, // only another cluster's disk has id 6
			{ID: 7, UUID: "uuid-7"}, // nothing has it
		}}
		return Input{
			Cluster: c, Nodes: defaultNodes(), Now: now,
			Inventories: []cephv1alpha1.DiskInventory{
				inv("node-a", osdDisk("sdb", 2), partial),
				inv("node-b", avail("sdb"), foreign),
				inv("node-c"),
			},
			OSDs: []OSD{{ID: 3, Node: "node-c", DeviceID: wwnID("sdx")}},
		}
	}
	want := []cephv1alpha1.CephOSDRef{{ID: 6, UUID: "uuid-6"}, {ID: 7, UUID: "uuid-7"}}
	if got := UnclaimedOSDs(base()); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	msg := UnclaimedOSDsMessage(want)
	for _, s := range []string{"osd.6 (uuid uuid-6)", "osd.7 (uuid uuid-7)", "ceph osd purge 6 --yes-i-really-mean-it"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q: %s", s, msg)
		}
	}

	// Whenever a fresh id could be a prepare in progress, or the view is
	// not this cluster's, nothing is reported.
	for name, mod := range map[string]func(*Input){
		"a prepare Job runs":          func(in *Input) { in.Jobs = []PrepareJob{running("p", "node-b", "sdb")} },
		"a finished Job is kept":      func(in *Input) { in.Jobs = []PrepareJob{succeeded("p", "node-b", now, "sdb")} },
		"a node has not published":    func(in *Input) { in.Inventories[2].Status.LastScanTime = nil },
		"a node has no inventory":     func(in *Input) { in.Inventories = in.Inventories[:2] },
		"the report is of a stranger": func(in *Input) { in.Cluster.Status.Ceph.FSID = "0bad0bad-0000-0000-0000-000000000000" },
		"no report":                   func(in *Input) { in.Cluster.Status.Ceph = nil },
		"no FSID yet":                 func(in *Input) { in.Cluster.Status.FSID = "" },
	} {
		in := base()
		mod(&in)
		if got := UnclaimedOSDs(in); got != nil {
			t.Errorf("%s: got %v", name, got)
		}
	}
}

func TestUnclaimedOSDsMessageBounded(t *testing.T) {
	var many []cephv1alpha1.CephOSDRef
	for i := range cephv1alpha1.MaxCephNeverStartedOSDs {
		many = append(many, cephv1alpha1.CephOSDRef{ID: int32(i), UUID: strings.Repeat("f", 36)})
	}
	if msg := UnclaimedOSDsMessage(many); utf8.RuneCountInString(msg) > MaxMessageLength || !strings.HasSuffix(msg, "…") {
		t.Errorf("message of %d characters: %s", utf8.RuneCountInString(msg), msg)
	}
}

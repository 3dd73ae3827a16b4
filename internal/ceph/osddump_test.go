package ceph

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// osdDump renders a minimal `ceph osd dump --format json` with the given
// OSD entries (JSON objects).
func osdDump(osds ...string) []byte {
	return []byte(`{"epoch":12,"fsid":"` + captureFSID + `","pools":[],"osds":[` + strings.Join(osds, ",") + `],"osd_xinfo":[]}`)
}

func TestNeverStartedOSDs(t *testing.T) {
	running := `{"osd":0,"uuid":"u0","up":1,"in":1,"up_from":8,"up_thru":9,"down_at":0,"state":["exists","up"]}`
	stopped := `{"osd":1,"uuid":"u1","up":0,"in":1,"up_from":8,"up_thru":9,"down_at":11,"state":["exists"]}`
	fresh := `{"osd":2,"uuid":"u2","up":0,"in":1,"up_from":0,"up_thru":0,"down_at":0,"state":["exists","new"]}`
	destroyed := `{"osd":3,"uuid":"00000000-0000-0000-0000-000000000000","up":0,"in":0,"up_from":0,"state":["destroyed","exists","new"]}`
	legacy := `{"osd":4,"uuid":"u4","up":0,"in":0,"up_from":0,"state":["exists"]}`

	got, omitted, err := NeverStartedOSDs(osdDump(legacy, running, stopped, fresh, destroyed))
	if err != nil {
		t.Fatal(err)
	}
	want := []cephv1alpha1.CephOSDRef{{ID: 2, UUID: "u2"}, {ID: 4, UUID: "u4"}}
	if !reflect.DeepEqual(got, want) || omitted != 0 {
		t.Errorf("got %v (+%d), want %v", got, omitted, want)
	}

	got, _, err = NeverStartedOSDs(osdDump(running, stopped))
	if err != nil || len(got) != 0 {
		t.Errorf("a map whose OSDs all started: got %v, %v", got, err)
	}
}

func TestNeverStartedOSDsBounded(t *testing.T) {
	var osds []string
	for i := 99; i >= 0; i-- {
		osds = append(osds, fmt.Sprintf(`{"osd":%d,"uuid":"u%d","up":0,"up_from":0,"state":["exists","new"]}`, i, i))
	}
	got, omitted, err := NeverStartedOSDs(osdDump(osds...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != cephv1alpha1.MaxCephNeverStartedOSDs || omitted != int32(100-cephv1alpha1.MaxCephNeverStartedOSDs) {
		t.Fatalf("listed %d, omitted %d", len(got), omitted)
	}
	for i, r := range got {
		if r.ID != int32(i) {
			t.Fatalf("entry %d is OSD %d: not sorted by id", i, r.ID)
		}
	}
}

func TestNeverStartedOSDsRejectsGarbage(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":       `error: EACCES`,
		"no fsid":        `{"osds":[]}`,
		"no id":          `{"fsid":"x","osds":[{"uuid":"u","up":0}]}`,
		"a negative id":  `{"fsid":"x","osds":[{"osd":-1,"uuid":"u","up":0}]}`,
		"status instead": `{"fsid":"x","health":{},"osds":{}}`,
	} {
		if got, _, err := NeverStartedOSDs([]byte(in)); err == nil {
			t.Errorf("%s: no error, got %v", name, got)
		}
	}
}

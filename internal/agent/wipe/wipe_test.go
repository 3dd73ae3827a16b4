package wipe

import (
	"reflect"
	"testing"
)

// TestSpans: the discovery windows at both ends, each partition's first and
// last MiB, and the BlueStore label copies that lie on the disk; nothing
// outside the disk.
func TestSpans(t *testing.T) {
	const mib = 1 << 20
	got := Spans(20<<30, []Span{{Off: mib, Len: 4 << 30}, {Off: 5 << 30, Len: 512 << 10}})
	want := []Span{
		{0, mib}, {20<<30 - mib, mib},
		{mib, mib}, {mib + 4<<30 - mib, mib},
		{5 << 30, 512 << 10}, {5 << 30, 512 << 10},
		{1 << 30, 4096}, {10 << 30, 4096},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Spans = %v\nwant    %v", got, want)
	}
	// A disk smaller than the windows: each window is cut to the disk.
	if got := Spans(mib/2, nil); !reflect.DeepEqual(got, []Span{{0, mib / 2}, {0, mib / 2}}) {
		t.Errorf("small disk: %v", got)
	}
}

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets(`[{"path":"/dev/disk/by-id/wwn-1","confirmation":"wwn=1/content=ab"},{"path":"/dev/sdb","expectedOSD":{"fsid":"f","osdID":0}}]`)
	if err != nil || len(ts) != 2 || ts[1].ExpectedOSD == nil || ts[1].ExpectedOSD.OSDID != 0 {
		t.Fatalf("ParseTargets = %+v, %v", ts, err)
	}
	for _, bad := range []string{
		`[{"path":"/dev/sdb"}]`,
		`[{"path":"/dev/sdb","expectedOSD":{"fsid":"","osdID":1}}]`,
		`[{"path":"/dev/sdb","expectedOSD":{"fsid":"f","osdID":-1}}]`,
		`[{"path":"sdb","confirmation":"x"}]`,
		`[{"path":"/dev/sdb","confirmation":"x","sizeBytes":-1}]`,
		`[{"path":"/dev/sdb","confirmation":"x"}] []`,
	} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("ParseTargets(%s) accepted", bad)
		}
	}
}

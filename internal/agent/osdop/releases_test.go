package osdop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseCaptures reads the real answers of each Ceph release the
// real-node tests run (internal/ceph/testdata/releases): safe-to-destroy
// for osd.0 and, from the OSD map and tree, whether it can ever be safe
// with failure domain host and osd on the one-node cluster.
func TestReleaseCaptures(t *testing.T) {
	cases := []struct {
		dir                 string
		safe                bool
		neverHost, neverOSD string // "" when it can become safe
	}{
		// No pool yet: nothing holds data on osd.0.
		{dir: "18.2.7-mgr-modules-failed", safe: true},
		// The manager's .mgr pool, three copies, one PG on osd.0: not
		// safe, and never with one host or with only two other OSDs.
		{dir: "18.2.7", neverHost: "pool .mgr keeps 3 copies and only 1 other hosts are up and in", neverOSD: "pool .mgr keeps 3 copies and only 2 other OSDs are up and in"},
	}
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "ceph", "testdata", "releases", "*", "safe-to-destroy-0.json"))
	if len(dirs) != len(cases) {
		t.Errorf("%d captures in internal/ceph/testdata/releases, %d cases: every capture needs a case", len(dirs), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			read := func(name string) []byte {
				t.Helper()
				b, err := os.ReadFile(filepath.Join("..", "..", "ceph", "testdata", "releases", tc.dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			if ok, why := safeAnswer(read("safe-to-destroy-0.json"), 0); ok != tc.safe {
				t.Errorf("safeAnswer = %v (%s), want %v", ok, why, tc.safe)
			}
			dump, tree := read("osd-dump.json"), read("osd-tree.json")
			for _, c := range []struct {
				domain, want string
				tree         []byte
			}{{"host", tc.neverHost, tree}, {"osd", tc.neverOSD, nil}} {
				got := NeverSafe(dump, c.tree, 0)
				if (got == "") != (c.want == "") || !strings.Contains(got, c.want) {
					t.Errorf("NeverSafe (failure domain %s) = %q, want %q", c.domain, got, c.want)
				}
			}
		})
	}
}

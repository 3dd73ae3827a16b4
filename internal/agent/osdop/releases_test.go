package osdop

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReleaseCaptures reads the real answers of each Ceph release the
// real-node tests run (internal/ceph/testdata/releases): on three OSDs
// up and in with no pool, osd.0 is safe to destroy, and nothing makes it
// never safe, whatever the failure domain.
func TestReleaseCaptures(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "ceph", "testdata", "releases", "*", "safe-to-destroy-0.json"))
	if len(dirs) == 0 {
		t.Fatal("no captures in internal/ceph/testdata/releases")
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			read := func(name string) []byte {
				t.Helper()
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			if ok, why := safeAnswer(read("safe-to-destroy-0.json"), 0); !ok {
				t.Errorf("safeAnswer = false (%s), want osd.0 safe", why)
			}
			dump, tree := read("osd-dump.json"), read("osd-tree.json")
			if never := NeverSafe(dump, tree, 0); never != "" {
				t.Errorf("NeverSafe (failure domain host) = %q, want it possible", never)
			}
			if never := NeverSafe(dump, nil, 0); never != "" {
				t.Errorf("NeverSafe (failure domain osd) = %q, want it possible", never)
			}
		})
	}
}

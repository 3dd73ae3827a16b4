package hostdir

import (
	"os"
	"path/filepath"
	"testing"
)

const fsid = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "1b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")
	outside := t.TempDir()
	for _, p := range []string{filepath.Join(dir, fsid, "mon-a", "store.db"), other} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link inside is removed as a link; its target stays.
	if err := os.Symlink(outside, filepath.Join(dir, fsid, "mon-a", "link")); err != nil {
		t.Fatal(err)
	}
	if r := Remove(dir, fsid); r.Outcome != OutcomeRemoved || r.ExitCode() != ExitRemoved {
		t.Fatalf("Remove = %+v", r)
	}
	if _, err := os.Lstat(filepath.Join(dir, fsid)); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", fsid, err)
	}
	for _, p := range []string{other, filepath.Join(outside, "keep")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if r := Remove(dir, fsid); r.Outcome != OutcomeAbsent || r.ExitCode() != ExitRemoved {
		t.Errorf("second Remove = %+v", r)
	}
}

func TestRemoveRefuses(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "mon-a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, fsid)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, fsid string }{
		{dir, fsid},                           // a link named as the FSID
		{dir, "../" + filepath.Base(outside)}, // not a UUID
		{dir, ""},
		{dir, "0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9"},
		{"relative", fsid},
		{"/", fsid},
		{filepath.Join(dir, "f"), fsid},
		{dir + "/", fsid},
	} {
		if r := Remove(c.dir, c.fsid); r.Outcome != OutcomeRefused || r.ExitCode() != ExitRefused {
			t.Errorf("Remove(%q, %q) = %+v, want refused", c.dir, c.fsid, r)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "mon-a")); err != nil {
		t.Errorf("the link's target lost its content: %v", err)
	}
}

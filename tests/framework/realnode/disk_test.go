package realnode

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestUsedBytesCountsHardLinksOnce(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(dir, "a"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	one := usedBytes(dir)
	if one < 1<<20 {
		t.Fatalf("a 1 MiB file takes %d bytes, want at least 1 MiB", one)
	}
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if got := usedBytes(dir); got != one {
		t.Errorf("with a hard link: %d bytes, want %d (the same blocks)", got, one)
	}
	if err := os.WriteFile(filepath.Join(dir, "c"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := usedBytes(dir); got < one+1<<20 {
		t.Errorf("with a second 1 MiB file: %d bytes, want at least %d", got, one+1<<20)
	}
	if got := usedBytes(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("a missing directory takes %d bytes, want 0", got)
	}
}

func TestExplainFull(t *testing.T) {
	l := newLayout(t.TempDir())
	other := errors.New("ctr: image not found")
	if got := l.explainFull(other, "ctr: image not found"); !errors.Is(got, other) || got.Error() != other.Error() {
		t.Errorf("an error that is not a full disk changed: %v", got)
	}
	full := errors.New("importing x on realnode: exit status 1")
	got := l.explainFull(full, "failed to copy: write /x/data: no space left on device: unknown")
	if !errors.Is(got, full) {
		t.Errorf("the explained error lost the original: %v", got)
	}
	for _, want := range []string{"the disk is full", "GiB available", l.dir, "down -purge"} {
		if !strings.Contains(got.Error(), want) {
			t.Errorf("the explained error lacks %q: %v", want, got)
		}
	}
}

// The space reported is what df calls available: on a file system whose
// reserved blocks are not root's, free blocks overstate what can be
// written (on this project's machine by about 160 GiB).
func TestFreeBytesIsWhatCanBeWritten(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("df", "-B1", "--output=avail", dir).Output()
	if err != nil {
		t.Skipf("df: %v", err)
	}
	fields := strings.Fields(string(out))
	want, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	if err != nil {
		t.Fatalf("df said %q: %v", out, err)
	}
	got, size, err := freeBytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Other processes write meanwhile.
	if diff := got - want; diff > 256<<20 || diff < -256<<20 {
		t.Errorf("available %d bytes, df says %d", got, want)
	}
	if size < got {
		t.Errorf("size %d below the available %d", size, got)
	}
}

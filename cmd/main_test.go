package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "Usage") {
		t.Errorf("no command: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"version"}, &out, &errOut); code != 0 || out.Len() == 0 {
		t.Errorf("version: exit %d, stdout %q", code, out.String())
	}
}

func TestManagerRefusesBadFlags(t *testing.T) {
	var errOut bytes.Buffer
	code := run([]string{"manager", "--allowed-images=quay.io/ceph/ceph,@sha256:short"}, &bytes.Buffer{}, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "--allowed-images") || !strings.Contains(errOut.String(), "@sha256:short") {
		t.Errorf("a malformed --allowed-images: exit %d, stderr %q", code, errOut.String())
	}
}

func TestCopyBinary(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "ceph-operator")
	var errOut bytes.Buffer
	if code := run([]string{"copy-binary", dst}, &bytes.Buffer{}, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	self, _ := os.Executable()
	want, _ := os.ReadFile(self)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("copy differs from the executable (err=%v)", err)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("copy is not executable: %v", fi.Mode())
	}
	if code := run([]string{"copy-binary"}, &bytes.Buffer{}, &errOut); code != 2 {
		t.Errorf("copy-binary without destination: exit %d", code)
	}
	if code := run([]string{"copy-binary", "/nonexistent/dir/x"}, &bytes.Buffer{}, &errOut); code != 1 {
		t.Errorf("copy-binary to a missing directory: exit %d", code)
	}
}

// TestSetManagerGC: the manager collects at managerGCPercent unless GOGC
// says otherwise.
func TestSetManagerGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	if v, ok := os.LookupEnv("GOGC"); ok {
		t.Cleanup(func() { _ = os.Setenv("GOGC", v) })
	}
	_ = os.Unsetenv("GOGC")
	if got := setManagerGC(); got != strconv.Itoa(managerGCPercent) {
		t.Errorf("without GOGC: %q, want %d", got, managerGCPercent)
	}
	if got := debug.SetGCPercent(100); got != managerGCPercent {
		t.Errorf("GC percent %d, want %d", got, managerGCPercent)
	}
	t.Setenv("GOGC", "200")
	if got := setManagerGC(); got != "GOGC=200" {
		t.Errorf("with GOGC=200: %q", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d", got)
	}
}

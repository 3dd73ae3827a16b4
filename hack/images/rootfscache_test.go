// Package images holds the scripts that build the real-node tests' Ceph
// images; this test runs the two that manage the root file system cache,
// with a stand-in for the build itself (ceph-rootfs.sh), which needs root,
// debootstrap and Debian's archive.
package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stubBuild is a ceph-rootfs.sh that takes a moment, writes a root file
// system and its package list as the real one does, and counts its runs.
const stubBuild = `#!/usr/bin/env bash
set -e
echo "$1" >>"$(dirname "$0")/builds"
sleep "${STUB_SLEEP:-0}"
mkdir -p "$2"
echo root >"$2/file"
echo "ceph-osd 1.0" >"$2.packages"
`

// scripts copies the cache scripts next to the stand-in build into a
// temporary directory and returns it.
func scripts(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	for _, s := range []string{"ceph-rootfs-cached.sh", "ceph-rootfs-prefetch.sh"} {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ceph-rootfs.sh"), []byte(stubBuild), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func builds(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "builds"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestCachedBuildKeepsOnePerSuite(t *testing.T) {
	dir := scripts(t)
	cache := filepath.Join(t.TempDir(), "cache")
	// An older build of the same suite, one of another suite, a killed
	// build's work directory and a file the cache does not own.
	stale := filepath.Join(cache, "ceph-rootfs-sid-0ld")
	other := filepath.Join(cache, "ceph-rootfs-trixie-0ld")
	work := filepath.Join(cache, ".ceph-rootfs.Ab12Cd")
	foreign := filepath.Join(cache, "notes.txt")
	mkdirs(t, stale, other, filepath.Join(work, "root", "proc"))
	touch(t, stale+".packages", other+".packages", foreign)

	out := filepath.Join(cache, "ceph-rootfs-sid-n3w")
	if msg, err := run(t, nil, filepath.Join(dir, "ceph-rootfs-cached.sh"), "sid", out); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	if !exists(out+".packages") || !exists(filepath.Join(out, "file")) {
		t.Errorf("the new root file system or its package list is missing")
	}
	for _, gone := range []string{stale, stale + ".packages", work} {
		if exists(gone) {
			t.Errorf("%s is still there", filepath.Base(gone))
		}
	}
	for _, kept := range []string{other, other + ".packages", foreign} {
		if !exists(kept) {
			t.Errorf("%s was removed; it is not a stale build of this suite", filepath.Base(kept))
		}
	}

	// Built already: nothing runs again.
	if msg, err := run(t, nil, filepath.Join(dir, "ceph-rootfs-cached.sh"), "sid", out); err != nil {
		t.Fatalf("second call: %v\n%s", err, msg)
	}
	if got := builds(t, dir); len(got) != 1 {
		t.Errorf("builds %v, want one", got)
	}

	// A name outside the cache's pattern is refused, touching nothing.
	msg, err := run(t, nil, filepath.Join(dir, "ceph-rootfs-cached.sh"), "sid", filepath.Join(cache, "mine"))
	if err == nil || !strings.Contains(msg, "is not named ceph-rootfs-sid-<hash>") {
		t.Errorf("a name outside the pattern: err %v, output %q", err, msg)
	}
	if !exists(out) || !exists(other) {
		t.Errorf("a refused call removed something")
	}
}

func TestPrefetchBuildsInTheBackground(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the prefetch does nothing without root")
	}
	dir := scripts(t)
	cache := filepath.Join(t.TempDir(), "cache")
	have := filepath.Join(cache, "ceph-rootfs-bookworm-h4ve")
	missing := filepath.Join(cache, "ceph-rootfs-sid-m1ss")
	mkdirs(t, have)
	touch(t, have+".packages")
	// debootstrap on PATH, so that the prefetch installs nothing.
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "debootstrap"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "STUB_SLEEP=2"}
	log := filepath.Join(t.TempDir(), "prefetch.log")

	start := time.Now()
	msg, err := run(t, env, filepath.Join(dir, "ceph-rootfs-prefetch.sh"), log, "bookworm:"+have, "sid:"+missing)
	if err != nil {
		t.Fatalf("prefetch: %v\n%s", err, msg)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the prefetch took %s: it waited for the build", took)
	}
	if !strings.Contains(msg, "building 1 Ceph root file system(s) in the background") {
		t.Errorf("prefetch said %q", msg)
	}
	// What the image rule does meanwhile: take the lock after the
	// background build and find the root file system built, or take it
	// first and build it, which the background build then skips.
	if msg, err := run(t, env, filepath.Join(dir, "ceph-rootfs-cached.sh"), "sid", missing); err != nil {
		t.Fatalf("the foreground build: %v\n%s", err, msg)
	}
	if !exists(missing + ".packages") {
		t.Fatal("the missing root file system was not built")
	}
	if got := builds(t, dir); len(got) != 1 || got[0] != "sid" {
		t.Errorf("builds %v, want the missing one once", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		if strings.Contains(string(b), " done") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background build's log never said done:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Nothing missing: nothing starts, nothing is said.
	msg, err = run(t, env, filepath.Join(dir, "ceph-rootfs-prefetch.sh"), log, "bookworm:"+have, "sid:"+missing)
	if err != nil || msg != "" {
		t.Errorf("with nothing missing: err %v, output %q", err, msg)
	}
}

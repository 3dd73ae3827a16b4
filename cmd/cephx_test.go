package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// TestAgentCephxFlags: bad flags and keyrings that are missing or not
// AES-256 are refused before any ceph command runs.
func TestAgentCephxFlags(t *testing.T) {
	dir := t.TempDir()
	aes256, err := ceph.NewCephxKey(nil, time.Now(), ceph.KeyTypeAES256K)
	if err != nil {
		t.Fatal(err)
	}
	aes, err := ceph.NewCephxKey(nil, time.Now(), ceph.KeyTypeAES)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good")
	old := filepath.Join(dir, "old")
	for _, n := range cephxImportOrder {
		for d, k := range map[string]string{good: aes256, old: aes} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, n+".keyring"), []byte(ceph.Keyring("client."+n, k, nil)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tool := filepath.Join(dir, "ceph")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho ran >> "+filepath.Join(dir, "ran")+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"unknown step", []string{"--step=rotate", "--keyring=k", "--new-keys=" + good}, "--step must be import or finish"},
		{"no keyring", []string{"--step=import", "--new-keys=" + good}, "--step must be import or finish"},
		{"no new keys", []string{"--step=finish", "--keyring=k"}, "--step must be import or finish"},
		{"a missing keyring", []string{"--step=import", "--keyring=k", "--new-keys=" + dir}, "mon.keyring"},
		{"an AES keyring", []string{"--step=import", "--keyring=k", "--new-keys=" + old}, "not an AES-256 key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"agent", "cephx", "--report=", "--ceph-binary=" + tool}, tc.args...)
			if code := run(args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.says) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tc.says)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Fatal("the ceph tool ran although the flags were refused")
	}
	// Good flags: the step runs, and reports the tool's failure.
	var out, errOut bytes.Buffer
	report := filepath.Join(dir, "report")
	code := run([]string{"agent", "cephx", "--step=finish", "--keyring=k", "--new-keys=" + good, "--ceph-binary=" + tool, "--report=" + report, "--timeout=5s"}, &out, &errOut)
	b, _ := os.ReadFile(report)
	if code != 1 || !strings.Contains(string(b), `"outcome":"Failed"`) {
		t.Fatalf("exit %d, report %s, stderr %q; want 1 and a Failed report", code, b, errOut.String())
	}
}

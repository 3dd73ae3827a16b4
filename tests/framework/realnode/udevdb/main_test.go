package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestSyncEntries: every device listed gets an empty entry, partitions
// that appear later too; an entry it did not make is left as it is, and
// one it made goes with its device.
func TestSyncEntries(t *testing.T) {
	root := t.TempDir()
	sys, data := filepath.Join(root, "sys"), filepath.Join(root, "data")
	for _, d := range []string{sys, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	device := func(name, dev string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(sys, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sys, name, "dev"), []byte(dev+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries := func() string {
		t.Helper()
		ents, err := os.ReadDir(data)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			raw, err := os.ReadFile(filepath.Join(data, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e.Name()+"="+string(raw))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	// A record a real daemon wrote is kept as it is.
	if err := os.WriteFile(filepath.Join(data, "b8:0"), []byte("E:ID_SERIAL=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	device("sda", "8:0")
	device("loop3", "7:3")
	made := map[string]bool{}
	if err := syncEntries(sys, data, made); err != nil {
		t.Fatal(err)
	}
	if got, want := entries(), "b7:3= b8:0=E:ID_SERIAL=x\n"; got != want {
		t.Fatalf("entries %q, want %q", got, want)
	}
	device("loop3p1", "259:0")
	if err := syncEntries(sys, data, made); err != nil {
		t.Fatal(err)
	}
	if got, want := entries(), "b259:0= b7:3= b8:0=E:ID_SERIAL=x\n"; got != want {
		t.Fatalf("after a partition appeared: entries %q, want %q", got, want)
	}
	for _, name := range []string{"loop3p1", "sda"} {
		if err := os.RemoveAll(filepath.Join(sys, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syncEntries(sys, data, made); err != nil {
		t.Fatal(err)
	}
	if got, want := entries(), "b7:3= b8:0=E:ID_SERIAL=x\n"; got != want {
		t.Fatalf("after devices went: entries %q, want %q", got, want)
	}
	if err := syncEntries(filepath.Join(root, "missing"), data, made); err == nil {
		t.Error("no error for a missing device list")
	}
}

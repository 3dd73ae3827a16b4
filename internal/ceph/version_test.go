package ceph

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"ceph version 16.2.15 (618f440892089921c3e944a991122ddc44e60516) pacific (stable)\n": {16, 2, 15},
		"ceph version 18.2.4 (e7ad5345525c7aa95470c26863873b581076945d) reef (stable)":       {18, 2, 4},
		// Debian trixie's ceph 18.2.7+ds-1+deb13u1 (the v18.2 test image).
		"ceph version 18.2.7 (6b0e988052ec84cf2d4a54ff9bbbc5e720b621ad) reef (stable)\n":   {18, 2, 7},
		"ceph version 15.2.17 (8a82819d84cf884bd39c17e3236e0632ac146dc4) octopus (stable)": {15, 2, 17},
		"16.2.15": {16, 2, 15},
		"v19.2.0": {19, 2, 0},
	} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ceph version unknown", "bash: ceph: command not found", "1.2"} {
		if v, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", bad, v)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	if !(Version{15, 2, 17}).Less(MinSupportedVersion) || (Version{16, 2, 0}).Less(MinSupportedVersion) || (Version{17, 0, 0}).Less(MinSupportedVersion) {
		t.Error("the minimum supported version does not split octopus from pacific")
	}
	if got := (Version{16, 2, 15}).String(); got != "16.2.15 (pacific)" {
		t.Errorf("String = %q", got)
	}
	// The releases of the test images are supported.
	for _, v := range []Version{{16, 2, 15}, {18, 2, 7}, {20, 2, 4}} {
		if v.Less(MinSupportedVersion) {
			t.Errorf("%v is below the minimum supported version", v)
		}
	}
	if got := (Version{20, 2, 4}).String(); got != "20.2.4 (tentacle)" {
		t.Errorf("String = %q", got)
	}
	if got := (Version{20, 2, 4}).Number(); got != "20.2.4" {
		t.Errorf("Number = %q", got)
	}
	if got := (Version{21, 1, 0}).String(); got != "21.1.0" {
		t.Errorf("String of a release without a known name = %q", got)
	}
}

func TestDetectVersion(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-ceph")
	script := "#!/bin/sh\necho 'ceph version 17.2.7 (b12291d110049b2f35e32e0de30d70e9a4c060d2) quincy (stable)'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if v, err := DetectVersion(context.Background(), fake); err != nil || v != "17.2.7" {
		t.Errorf("DetectVersion = %q, %v", v, err)
	}
	if v, err := DetectVersion(context.Background(), filepath.Join(dir, "missing")); err != nil || v != "" {
		t.Errorf("DetectVersion of a missing binary = %q, %v; want no version and no error", v, err)
	}
	broken := filepath.Join(dir, "broken-ceph")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho oops; exit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := DetectVersion(context.Background(), broken); err == nil {
		t.Error("DetectVersion of a failing binary gave no error")
	}
}

// Package lib holds the shell libraries of hack/; this test runs them.
package lib

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// aptArchive runs apt_archive SUITE from apt-mirror.sh against the apt
// configuration in dir, with own as the machine's release.
func aptArchive(t *testing.T, dir, own, suite string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", `. ./apt-mirror.sh && apt_archive "$1"`, "bash", suite)
	cmd.Env = append(os.Environ(), "APT_SOURCES_DIR="+dir, "APT_OWN_SUITE="+own)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), stderr.String(), err
}

func TestAptArchive(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The machine's release and its updates in one stanza, its security
	// suite in another, a disabled stanza for trixie (which must not
	// count) and a one-line source of another project.
	deb822 := `Types: deb
URIs: http://archive.example/pkgs/
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.example/pkgs-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/pkgs
Suites: trixie
Components: main
`
	if err := os.WriteFile(filepath.Join(dir, "sources.list.d", "debian.sources"), []byte(deb822), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sources.list"), []byte("deb [arch=amd64] http://other.example/apt other main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ suite, want string }{
		// Listed suites: their own source.
		{"bookworm", "http://archive.example/pkgs"},
		{"bookworm-updates", "http://archive.example/pkgs"},
		{"bookworm-security", "http://security.example/pkgs-security"},
		{"other", "http://other.example/apt"},
		// Not listed (trixie only in a disabled stanza): the archive of
		// the machine's release with the same suffix.
		{"trixie", "http://archive.example/pkgs"},
		{"trixie-updates", "http://archive.example/pkgs"},
		{"trixie-security", "http://security.example/pkgs-security"},
		{"sid", "http://archive.example/pkgs"},
	} {
		got, stderr, err := aptArchive(t, dir, "bookworm", tc.suite)
		if err != nil || got != tc.want {
			t.Errorf("apt_archive %s = %q, %v (%s); want %q", tc.suite, got, err, stderr, tc.want)
		}
	}
	// A machine whose release has no source: a clear error, no archive.
	got, stderr, err := aptArchive(t, dir, "bullseye", "trixie")
	if err == nil || got != "" || !strings.Contains(stderr, "serves trixie or bullseye") {
		t.Errorf("apt_archive trixie on a bullseye machine without its source = %q, %v, %q; want an error naming both", got, err, stderr)
	}
}

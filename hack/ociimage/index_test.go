package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// crossCompile builds a trivial static Go program for linux/arch and
// returns its path: a real executable of that architecture, as make
// image-operator builds the operator for each architecture of PLATFORMS.
func crossCompile(t *testing.T, dir, arch string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"go.mod":  "module hello\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() { println(\"hello\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, arch, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cross-compiling for %s: %v: %s", arch, err, b)
	}
	return out
}

// TestIndexOfArchitectures builds an image for amd64 and arm64, each
// with its own cross-compiled binary ({arch} in -file), and checks the
// layout a containerd imports: index.json names one image index carrying
// the image's name, the index lists one manifest per architecture with
// its platform, each manifest's configuration says the same platform, and
// each manifest's layer holds the binary of that architecture (its ELF
// machine), not the other's.
func TestIndexOfArchitectures(t *testing.T) {
	dir := t.TempDir()
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for arch := range machines {
		crossCompile(t, dir, arch)
	}
	out := filepath.Join(dir, "image.tar")
	var stdout, stderr bytes.Buffer
	code := run([]string{
		"-o", out, "-ref", "quay.io/example/op:v1.2.3", "-arch", "amd64,arm64",
		"-file", filepath.Join(dir, "{arch}", "hello") + ":/hello:0755",
		"-dir", "/tmp:1777", "-entrypoint", `["/hello"]`, "-epoch", "1700000000",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}

	files, _ := layoutContents(t, out)
	var top index
	if err := json.Unmarshal(files["index.json"], &top); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != mediaTypeIndex {
		t.Fatalf("index.json does not name exactly one image index: %s", files["index.json"])
	}
	if got := top.Manifests[0].Annotations[annotationImageName]; got != "quay.io/example/op:v1.2.3" {
		t.Errorf("image name annotation = %q", got)
	}
	if got := strings.Fields(stdout.String()); len(got) != 2 || got[1] != "quay.io/example/op:v1.2.3@"+top.Manifests[0].Digest {
		t.Errorf("stdout %q does not name the image index's digest %s", stdout.String(), top.Manifests[0].Digest)
	}
	var nested index
	if err := json.Unmarshal(blob(t, files, top.Manifests[0]), &nested); err != nil {
		t.Fatalf("image index: %v", err)
	}
	if nested.SchemaVersion != 2 || nested.MediaType != mediaTypeIndex || len(nested.Manifests) != 2 {
		t.Fatalf("image index does not list two manifests: %+v", nested)
	}

	seen := map[string]bool{}
	for _, md := range nested.Manifests {
		if md.MediaType != mediaTypeManifest || md.Platform == nil || md.Platform.OS != "linux" {
			t.Fatalf("manifest descriptor %+v: want an image manifest for linux", md)
		}
		arch := md.Platform.Architecture
		want, ok := machines[arch]
		if !ok || seen[arch] {
			t.Fatalf("manifest for architecture %q: want amd64 and arm64 once each", arch)
		}
		seen[arch] = true

		var man manifest
		if err := json.Unmarshal(blob(t, files, md), &man); err != nil {
			t.Fatalf("%s manifest: %v", arch, err)
		}
		var cfg imageConfigFile
		if err := json.Unmarshal(blob(t, files, man.Config), &cfg); err != nil {
			t.Fatalf("%s config: %v", arch, err)
		}
		if cfg.Architecture != arch || cfg.OS != "linux" || !reflect.DeepEqual(cfg.Config.Entrypoint, []string{"/hello"}) {
			t.Errorf("%s config: architecture %q, os %q, entrypoint %v", arch, cfg.Architecture, cfg.OS, cfg.Config.Entrypoint)
		}
		if len(man.Layers) != 1 {
			t.Fatalf("%s manifest has %d layers", arch, len(man.Layers))
		}
		_, entries := readLayer(t, blob(t, files, man.Layers[0]), true)
		bin, ok := entries["hello"]
		if !ok {
			t.Fatalf("%s layer has no /hello: %v", arch, entries)
		}
		if bin.mode&0o111 == 0 {
			t.Errorf("%s: /hello mode %o is not executable", arch, bin.mode)
		}
		f, err := elf.NewFile(strings.NewReader(bin.content))
		if err != nil {
			t.Fatalf("%s: /hello is not an ELF executable: %v", arch, err)
		}
		if f.Machine != want {
			t.Errorf("%s image: /hello is built for %s, want %s", arch, f.Machine, want)
		}
		if _, ok := entries["tmp/"]; !ok {
			t.Errorf("%s layer has no /tmp", arch)
		}
	}
}

// TestIndexRejectsDuplicatePlatform: one architecture twice would make
// the image a runtime picks depend on the order of the list.
func TestIndexRejectsDuplicatePlatform(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-o", filepath.Join(dir, "i.tar"), "-ref", "example.com/a:b", "-arch", "amd64,amd64", "-file", f + ":/f"}, &stdout, &stderr); code == 0 {
		t.Fatal("accepted amd64 twice")
	}
	if !strings.Contains(stderr.String(), "two images for linux/amd64") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

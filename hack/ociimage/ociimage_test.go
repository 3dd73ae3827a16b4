package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// layoutContents reads an OCI layout archive into name -> content and
// fails unless the names are in sorted order.
func layoutContents(t *testing.T, archive string) (map[string][]byte, []string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	files := map[string][]byte{}
	var names []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			if files[hdr.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("archive entries are not sorted: %v", names)
	}
	return files, names
}

// blob returns the blob d names, failing unless its content has that
// digest and the descriptor's size.
func blob(t *testing.T, files map[string][]byte, d descriptor) []byte {
	t.Helper()
	b, ok := files[blobPath(d.Digest)]
	if !ok {
		t.Fatalf("blob %s (%s) is missing", d.Digest, d.MediaType)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(b)); got != d.Digest {
		t.Errorf("blob %s has digest %s", d.Digest, got)
	}
	if int64(len(b)) != d.Size {
		t.Errorf("blob %s: descriptor size %d, content %d bytes", d.Digest, d.Size, len(b))
	}
	return b
}

type layerEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	linkname string
	content  string
	modTime  time.Time
	uname    string
}

// readLayer returns the layer's entries in order.
func readLayer(t *testing.T, b []byte, gzipped bool) ([]string, map[string]layerEntry) {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	var names []string
	entries := map[string]layerEntry{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		entries[hdr.Name] = layerEntry{typ: hdr.Typeflag, mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid,
			linkname: hdr.Linkname, content: string(content), modTime: hdr.ModTime, uname: hdr.Uname + hdr.Gname}
	}
	return names, entries
}

// testRoot makes a small root file system: a directory, a plain and an
// executable file, a symlink and two hard links to one file.
func testRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/tool"), []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/data"), []byte("data"), 0o600))
	must(os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool-alias")))
	must(os.Symlink("usr/bin", filepath.Join(root, "bin")))
	must(os.Chmod(filepath.Join(root, "usr/bin"), 0o750))
	return root
}

func TestLayout(t *testing.T) {
	for _, c := range []Compression{Gzip, Uncompressed} {
		t.Run(string(c), func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "binary")
			if err := os.WriteFile(bin, []byte("ELF"), 0o775); err != nil {
				t.Fatal(err)
			}
			passwd := filepath.Join(dir, "passwd")
			if err := os.WriteFile(passwd, []byte("root:x:0:0::/:/bin/false\n"), 0o664); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "image.tar")
			var stdout, stderr bytes.Buffer
			code := run([]string{
				"-o", out, "-ref", "quay.io/example/op:v1.2.3", "-compression", string(c),
				"-rootfs", testRoot(t), "-chown", "7:8",
				"-file", bin + ":/op",
				"-file", passwd + ":/etc/passwd:0644",
				"-dir", "/tmp:1777", "-dir", "/home/nonroot:0700:65532:65532",
				"-entrypoint", `["/op"]`, "-cmd", `["manager","--x"]`, "-user", "65532:65532",
				"-env", "PATH=/usr/bin:/bin", "-workdir", "/", "-label", "a=b", "-epoch", "1700000000",
			}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}

			files, names := layoutContents(t, out)
			if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
				t.Errorf("oci-layout = %s", got)
			}
			var idx index
			if err := json.Unmarshal(files["index.json"], &idx); err != nil {
				t.Fatalf("index.json: %v", err)
			}
			if idx.SchemaVersion != 2 || idx.MediaType != mediaTypeIndex || len(idx.Manifests) != 1 {
				t.Fatalf("index.json = %s", files["index.json"])
			}
			md := idx.Manifests[0]
			if md.MediaType != mediaTypeManifest {
				t.Errorf("manifest descriptor media type %q", md.MediaType)
			}
			wantAnn := map[string]string{
				annotationImageName: "quay.io/example/op:v1.2.3",
				annotationRefName:   "v1.2.3",
				annotationCreated:   "2023-11-14T22:13:20Z",
			}
			if !reflect.DeepEqual(md.Annotations, wantAnn) {
				t.Errorf("annotations = %v, want %v", md.Annotations, wantAnn)
			}
			if !strings.Contains(stdout.String(), "quay.io/example/op:v1.2.3@"+md.Digest) {
				t.Errorf("stdout %q does not name the manifest digest %s", stdout.String(), md.Digest)
			}

			var man manifest
			if err := json.Unmarshal(blob(t, files, md), &man); err != nil {
				t.Fatal(err)
			}
			if man.SchemaVersion != 2 || man.MediaType != mediaTypeManifest || man.Config.MediaType != mediaTypeConfig || len(man.Layers) != 1 {
				t.Fatalf("manifest = %+v", man)
			}
			wantLayerType := map[Compression]string{Gzip: mediaTypeLayerGzip, Uncompressed: mediaTypeLayer}[c]
			if man.Layers[0].MediaType != wantLayerType {
				t.Errorf("layer media type %q, want %q", man.Layers[0].MediaType, wantLayerType)
			}
			var cfg imageConfigFile
			if err := json.Unmarshal(blob(t, files, man.Config), &cfg); err != nil {
				t.Fatal(err)
			}
			wantCfg := ImageConfig{User: "65532:65532", Env: []string{"PATH=/usr/bin:/bin"}, Entrypoint: []string{"/op"},
				Cmd: []string{"manager", "--x"}, WorkingDir: "/", Labels: map[string]string{"a": "b"}}
			if !reflect.DeepEqual(cfg.Config, wantCfg) {
				t.Errorf("config = %+v, want %+v", cfg.Config, wantCfg)
			}
			if cfg.OS != "linux" || cfg.Architecture == "" || cfg.RootFS.Type != "layers" || len(cfg.RootFS.DiffIDs) != 1 {
				t.Errorf("config file = %+v", cfg)
			}
			if cfg.Created != "2023-11-14T22:13:20Z" {
				t.Errorf("created = %q", cfg.Created)
			}
			if md.Platform == nil || md.Platform.OS != cfg.OS || md.Platform.Architecture != cfg.Architecture {
				t.Errorf("index platform %+v differs from the config's %s/%s", md.Platform, cfg.OS, cfg.Architecture)
			}

			layer := blob(t, files, man.Layers[0])
			raw := layer
			if c == Gzip {
				zr, err := gzip.NewReader(bytes.NewReader(layer))
				if err != nil {
					t.Fatal(err)
				}
				if raw, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if got := fmt.Sprintf("sha256:%x", sha256.Sum256(raw)); got != cfg.RootFS.DiffIDs[0] {
				t.Errorf("diff_id %s, uncompressed layer digest %s", cfg.RootFS.DiffIDs[0], got)
			}
			wantBlobs := []string{blobPath(man.Config.Digest), blobPath(md.Digest), blobPath(man.Layers[0].Digest)}
			sort.Strings(wantBlobs)
			wantNames := append(append([]string{"blobs/", "blobs/sha256/"}, wantBlobs...), "index.json", "oci-layout")
			if !reflect.DeepEqual(names, wantNames) {
				t.Errorf("archive entries %v, want %v", names, wantNames)
			}

			order, entries := readLayer(t, layer, c == Gzip)
			wantOrder := []string{"bin", "etc/", "etc/passwd", "home/", "home/nonroot/", "op", "tmp/",
				"usr/", "usr/bin/", "usr/bin/data", "usr/bin/tool", "usr/bin/tool-alias"}
			if !reflect.DeepEqual(order, wantOrder) {
				t.Errorf("layer entries %v, want %v", order, wantOrder)
			}
			epoch := time.Unix(1700000000, 0)
			want := map[string]layerEntry{
				"bin":                {typ: tar.TypeSymlink, mode: 0o777, uid: 7, gid: 8, linkname: "usr/bin"},
				"etc/":               {typ: tar.TypeDir, mode: 0o755},
				"etc/passwd":         {typ: tar.TypeReg, mode: 0o644, content: "root:x:0:0::/:/bin/false\n"},
				"home/":              {typ: tar.TypeDir, mode: 0o755},
				"home/nonroot/":      {typ: tar.TypeDir, mode: 0o700, uid: 65532, gid: 65532},
				"op":                 {typ: tar.TypeReg, mode: 0o755, content: "ELF"},
				"tmp/":               {typ: tar.TypeDir, mode: 0o1777},
				"usr/":               {typ: tar.TypeDir, mode: 0o755, uid: 7, gid: 8},
				"usr/bin/":           {typ: tar.TypeDir, mode: 0o750, uid: 7, gid: 8},
				"usr/bin/data":       {typ: tar.TypeReg, mode: 0o600, uid: 7, gid: 8, content: "data"},
				"usr/bin/tool":       {typ: tar.TypeReg, mode: 0o755, uid: 7, gid: 8, content: "#!/bin/sh\n"},
				"usr/bin/tool-alias": {typ: tar.TypeLink, mode: 0o755, uid: 7, gid: 8, linkname: "usr/bin/tool"},
			}
			for name, w := range want {
				w.modTime = epoch
				got := entries[name]
				got.modTime = got.modTime.UTC()
				w.modTime = w.modTime.UTC()
				if got != w {
					t.Errorf("layer entry %s = %+v, want %+v", name, got, w)
				}
			}
		})
	}
}

// TestReproducible builds the same inputs twice, with the source files'
// times changed in between, and expects the same bytes.
func TestReproducible(t *testing.T) {
	root := testRoot(t)
	dir := t.TempDir()
	build := func(out string) []byte {
		t.Helper()
		var stderr bytes.Buffer
		if code := run([]string{"-o", out, "-ref", "docker.io/library/x:1", "-rootfs", root,
			"-cmd", `["x"]`}, io.Discard, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := build(filepath.Join(dir, "a.tar"))
	later := time.Now().Add(time.Hour)
	if err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, later, later)
	}); err != nil {
		t.Fatal(err)
	}
	second := build(filepath.Join(dir, "b.tar"))
	if !bytes.Equal(first, second) {
		t.Error("two builds of the same inputs differ")
	}
}

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" when in must be rejected
	}{
		{"quay.io/ceph-operator/ceph-operator:v0.1.0", "quay.io/ceph-operator/ceph-operator:v0.1.0"},
		{"docker.io/ceph-operator/ceph-test:16.2", "docker.io/ceph-operator/ceph-test:16.2"},
		{"docker.io/library/pause:3", "docker.io/library/pause:3"},
		{"localhost:5000/a/b:c", "localhost:5000/a/b:c"},
		{"localhost/a:c", "localhost/a:c"},
		{"ceph/ceph:v18", ""},               // short name: the kubelet says docker.io/ceph/ceph:v18
		{"busybox:1", ""},                   // short name
		{"docker.io/busybox:1", ""},         // the kubelet says docker.io/library/busybox:1
		{"quay.io/ceph/ceph", ""},           // no tag
		{"quay.io/ceph/ceph@sha256:00", ""}, // digests name content, not a name to import under
		{"quay.io/Ceph/ceph:v1", ""},        // upper case path
		{"quay.io/ceph/ceph:", ""},
		{"quay.io//ceph:v1", ""},
	} {
		got, err := parseReference(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("parseReference(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("parseReference(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestInvalidInputs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.tar")
	for name, args := range map[string][]string{
		"added twice":         {"-file", f + ":/a", "-file", f + ":/a"},
		"file under file":     {"-file", f + ":/a", "-file", f + ":/a/b"},
		"relative path":       {"-file", f + ":a"},
		"bad mode":            {"-dir", "/tmp:999"},
		"bad owner":           {"-dir", "/tmp:0755:x:1"},
		"bad env":             {"-env", "NOEQUALS"},
		"bad compression":     {"-compression", "zstd"},
		"missing file":        {"-file", filepath.Join(dir, "nope") + ":/a"},
		"entrypoint not JSON": {"-entrypoint", "/op"},
		"short reference":     {"-ref", "op:v1"},
	} {
		t.Run(name, func(t *testing.T) {
			full := append([]string{"-o", out, "-ref", "quay.io/x/y:1"}, args...)
			if code := run(full, io.Discard, io.Discard); code == 0 {
				t.Errorf("run(%v) succeeded", full)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("run(%v) left %s behind", full, out)
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, ".ociimage-*"))
			if len(leftovers) != 0 {
				t.Errorf("run(%v) left staging files %v", full, leftovers)
			}
		})
	}
}

// An explicit directory may replace one made implicitly for its contents,
// keeping its own mode and owner.
func TestExplicitDirAfterContents(t *testing.T) {
	tree := NewTree()
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tree.AddFile(f, "/home/nonroot/f", 0, Owner{}); err != nil {
		t.Fatal(err)
	}
	if err := tree.AddDir("/home/nonroot", 0o700, Owner{UID: 65532, GID: 65532}); err != nil {
		t.Fatal(err)
	}
	e := tree.entries["home/nonroot"]
	if e.implicit || e.mode != 0o700 || e.uid != 65532 {
		t.Errorf("home/nonroot = %+v", e)
	}
	if err := tree.AddDir("/home/nonroot", 0o700, Owner{}); err == nil {
		t.Error("adding an explicit directory twice succeeded")
	}
}

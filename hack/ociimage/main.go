// Command ociimage writes a single-layer container image as a tar archive of
// an OCI image layout, the format `ctr -n k8s.io images import` reads, from
// host directories and files, without a container engine or a registry.
// The real-node tests use it for the operator image and the Ceph test image
// (make image-operator, make image-ceph).
//
// The output is reproducible: entries are sorted, every timestamp is the
// fixed -epoch (SOURCE_DATE_EPOCH, or 0), owners are numeric, and the same
// inputs give the same bytes and so the same image digest.
//
// Example:
//
//	ociimage -o bin/images/op.tar -ref quay.io/org/op:v1 \
//	  -file bin/op:/op -file passwd:/etc/passwd:0644 -dir /tmp:1777 \
//	  -entrypoint '["/op"]' -cmd '["run"]' -user 65532:65532
//
// With several architectures (-arch amd64,arm64) it writes one image per
// architecture and an image index listing them, the layout of a
// multi-platform image; {arch} in a -file or -rootfs source is replaced by
// each image's architecture:
//
//	ociimage -o bin/images/op.tar -ref quay.io/org/op:v1 -arch amd64,arm64 \
//	  -file bin/{arch}/op:/op -entrypoint '["/op"]'
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// jsonList is a flag holding a JSON array of strings, like a Dockerfile's
// exec-form ENTRYPOINT and CMD.
type jsonList struct{ v []string }

func (l *jsonList) String() string {
	b, _ := json.Marshal(l.v)
	return string(b)
}

func (l *jsonList) Set(s string) error {
	return json.Unmarshal([]byte(s), &l.v)
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var (
		out         = fl.String("o", "", "output `file` (the layout's tar archive)")
		ref         = fl.String("ref", "", "fully qualified image `reference` to import the image as")
		user        = fl.String("user", "", "user (and group) the container runs as, e.g. 65532:65532")
		workdir     = fl.String("workdir", "", "working directory")
		arch        = fl.String("arch", runtime.GOARCH, "architecture (GOARCH spelling), or a comma-separated `list` for an image index with one image per architecture")
		osName      = fl.String("os", "linux", "operating system")
		compression = fl.String("compression", string(Gzip), "layer compression: gzip or none")
		chown       = fl.String("chown", "", "`uid:gid` owning everything added with -rootfs (default: as on disk)")
		epoch       = fl.Int64("epoch", defaultEpoch(), "creation time and every file's time, in seconds since 1970 (default $SOURCE_DATE_EPOCH or 0)")
		entrypoint  jsonList
		cmd         jsonList
		env, labels stringList
		rootfs      stringList
		files, dirs stringList
	)
	fl.Var(&entrypoint, "entrypoint", "entrypoint as a JSON array")
	fl.Var(&cmd, "cmd", "command (arguments to the entrypoint) as a JSON array")
	fl.Var(&env, "env", "`KEY=VALUE` environment variable (repeatable)")
	fl.Var(&labels, "label", "`KEY=VALUE` image label (repeatable)")
	fl.Var(&rootfs, "rootfs", "host `directory` whose contents go at / (repeatable)")
	fl.Var(&files, "file", "`SRC:DEST[:MODE[:UID:GID]]` host file SRC at image path DEST, octal MODE, root-owned by default (repeatable)")
	fl.Var(&dirs, "dir", "`DEST[:MODE[:UID:GID]]` empty directory, 0755 root-owned by default (repeatable)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *out == "" || *ref == "" || fl.NArg() != 0 {
		fmt.Fprintln(stderr, "ociimage: -o and -ref are required, and no arguments")
		fl.Usage()
		return 2
	}

	archs := strings.Split(*arch, ",")
	var imgs []*Image
	for _, a := range archs {
		if a == "" {
			fmt.Fprintf(stderr, "ociimage: -arch %q: empty architecture\n", *arch)
			return 2
		}
		img := &Image{
			Ref:          *ref,
			Architecture: a,
			OS:           *osName,
			Created:      time.Unix(*epoch, 0),
			Compression:  Compression(*compression),
			Config: ImageConfig{
				User:       *user,
				Env:        env,
				Entrypoint: entrypoint.v,
				Cmd:        cmd.v,
				WorkingDir: *workdir,
			},
			Files: NewTree(),
		}
		if err := fillImage(img, labels, forArch(rootfs, a), forArch(files, a), dirs, *chown); err != nil {
			fmt.Fprintln(stderr, "ociimage:", err)
			return 1
		}
		imgs = append(imgs, img)
	}
	var digest string
	var err error
	if len(imgs) == 1 {
		digest, err = WriteLayout(imgs[0], *out)
	} else {
		digest, err = WriteIndexLayout(imgs, *out)
	}
	if err != nil {
		fmt.Fprintln(stderr, "ociimage:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s %s@%s\n", *out, *ref, digest)
	return 0
}

// forArch replaces {arch} in each flag value by arch: the sources of one
// architecture's image.
func forArch(values stringList, arch string) stringList {
	out := make(stringList, len(values))
	for i, v := range values {
		out[i] = strings.ReplaceAll(v, "{arch}", arch)
	}
	return out
}

func defaultEpoch() int64 {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return 0
}

// fillImage adds the labels and file system content the flags name.
func fillImage(img *Image, labels, rootfs, files, dirs stringList, chown string) error {
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return fmt.Errorf("-label %q: want KEY=VALUE", l)
		}
		if img.Config.Labels == nil {
			img.Config.Labels = map[string]string{}
		}
		img.Config.Labels[k] = v
	}
	for _, e := range img.Config.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("-env %q: want KEY=VALUE", e)
		}
	}
	var owner *Owner
	if chown != "" {
		o, err := parseOwner(chown)
		if err != nil {
			return fmt.Errorf("-chown: %w", err)
		}
		owner = &o
	}
	for _, dir := range rootfs {
		if err := img.Files.AddTree(dir, owner); err != nil {
			return fmt.Errorf("-rootfs %s: %w", dir, err)
		}
	}
	for _, f := range files {
		parts := strings.Split(f, ":")
		if len(parts) != 2 && len(parts) != 3 && len(parts) != 5 {
			return fmt.Errorf("-file %q: want SRC:DEST[:MODE[:UID:GID]]", f)
		}
		mode, o, err := parseModeOwner(parts[2:], 0)
		if err != nil {
			return fmt.Errorf("-file %q: %w", f, err)
		}
		if err := img.Files.AddFile(parts[0], parts[1], mode, o); err != nil {
			return fmt.Errorf("-file %q: %w", f, err)
		}
	}
	for _, d := range dirs {
		parts := strings.Split(d, ":")
		if len(parts) != 1 && len(parts) != 2 && len(parts) != 4 {
			return fmt.Errorf("-dir %q: want DEST[:MODE[:UID:GID]]", d)
		}
		mode, o, err := parseModeOwner(parts[1:], 0o755)
		if err != nil {
			return fmt.Errorf("-dir %q: %w", d, err)
		}
		if err := img.Files.AddDir(parts[0], mode, o); err != nil {
			return fmt.Errorf("-dir %q: %w", d, err)
		}
	}
	return nil
}

// parseModeOwner reads the optional [MODE[:UID:GID]] fields of -file and
// -dir; the owner defaults to root.
func parseModeOwner(fields []string, defaultMode fs.FileMode) (fs.FileMode, Owner, error) {
	mode, owner := defaultMode, Owner{}
	if len(fields) >= 1 {
		m, err := parseMode(fields[0])
		if err != nil {
			return 0, Owner{}, err
		}
		mode = m
	}
	if len(fields) == 3 {
		o, err := parseOwner(fields[1] + ":" + fields[2])
		if err != nil {
			return 0, Owner{}, err
		}
		owner = o
	}
	return mode, owner, nil
}

// parseMode reads an octal mode such as 0644 or 1777.
func parseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("mode %q is not an octal file mode", s)
	}
	mode := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode, nil
}

// parseOwner reads a numeric uid:gid.
func parseOwner(s string) (Owner, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || errors.Join(err1, err2) != nil || uid < 0 || gid < 0 {
		return Owner{}, fmt.Errorf("owner %q: want numeric UID:GID", s)
	}
	return Owner{UID: uid, GID: gid}, nil
}

// Command untar is the tar of the scorecard-untar image the OLM test builds:
// `operator-sdk scorecard` unpacks the bundle in each test pod with
// `tar xvzf <archive> -C <dir>`, and no tar built from pinned Go source
// takes those arguments. It extracts directories and regular files only,
// and refuses paths that leave the target directory.
package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tar:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 || !strings.Contains(args[0], "x") || !strings.HasSuffix(args[0], "f") {
		return errors.New("usage: tar x[v][z]f ARCHIVE [-C DIR]")
	}
	mode, archive, dir := args[0], args[1], "."
	if len(args) == 4 && args[2] == "-C" {
		dir = args[3]
	} else if len(args) != 2 {
		return fmt.Errorf("unexpected arguments %q", args[2:])
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	var r io.Reader = f
	if strings.Contains(mode, "z") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("reading %s: %w", archive, err)
		}
		r = gz
	}
	return extract(tar.NewReader(r), dir, strings.Contains(mode, "v"))
}

func extract(tr *tar.Reader, dir string, verbose bool) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, h.Name)
		if rel, err := filepath.Rel(dir, target); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s leaves %s", h.Name, dir)
		}
		if verbose {
			fmt.Println(h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o200)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				_ = out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
	}
}

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// runCopyBinary copies this executable to the path in args. Node pods run the
// operator binary inside the Ceph image: an init container from the
// operator's distroless image (which has no shell or cp) calls this to put
// the binary in a shared emptyDir.
func runCopyBinary(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "Usage: ceph-operator copy-binary <destination>")
		return 2
	}
	if err := copyExecutable(args[0]); err != nil {
		fmt.Fprintln(stderr, "ceph-operator copy-binary:", err)
		return 1
	}
	return 0
}

// copyExecutable writes this process's executable to dst, atomically.
func copyExecutable(dst string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding own executable: %w", err)
	}
	in, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("opening %s: %w", self, err)
	}
	defer func() { _ = in.Close() }()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".ceph-operator-*")
	if err != nil {
		return fmt.Errorf("creating a file next to %s: %w", dst, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("copying to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("making %s executable: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("moving binary to %s: %w", dst, err)
	}
	return nil
}

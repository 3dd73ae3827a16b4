package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// kind is what a file system entry of the image is.
type kind int

const (
	kindDir kind = iota
	kindFile
	kindSymlink
	kindCharDevice
	kindBlockDevice
	kindFifo
)

// entry is one path of the image's file system. Its content, for a regular
// file, is read from source when the layer is written, so a large root file
// system is never held in memory.
type entry struct {
	kind     kind
	mode     fs.FileMode // permission bits plus setuid, setgid and sticky
	uid, gid int
	// source is the host file a regular file's content is read from.
	source string
	// linkname is a symlink's target.
	linkname string
	// devMajor and devMinor identify a device node.
	devMajor, devMinor int64
	// inode identifies a host file with more than one link, so that the
	// layer stores its content once and hard links to it.
	inode *inodeKey
	// implicit marks a directory made only because something was added
	// below it; an explicit entry for the same path replaces it.
	implicit bool
}

type inodeKey struct{ dev, ino uint64 }

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// Tree is the file system of a single-layer image: paths relative to the
// root ("etc/passwd"), each added once.
type Tree struct {
	entries map[string]*entry
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	return &Tree{entries: map[string]*entry{}}
}

// cleanDest turns an absolute image path into the tree's key.
func cleanDest(dest string) (string, error) {
	if !strings.HasPrefix(dest, "/") {
		return "", fmt.Errorf("image path %q is not absolute", dest)
	}
	p := strings.TrimPrefix(path.Clean(dest), "/")
	if p == "" {
		return "", fmt.Errorf("image path %q is the root", dest)
	}
	return p, nil
}

// add records e at p, making missing parent directories (root-owned, 0755).
// Adding a path twice is an error, except that an explicit directory may
// replace an implicit one.
func (t *Tree) add(p string, e *entry) error {
	if old, ok := t.entries[p]; ok {
		if !old.implicit || e.kind != kindDir {
			return fmt.Errorf("/%s is added twice", p)
		}
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		parent, ok := t.entries[dir]
		if !ok {
			t.entries[dir] = &entry{kind: kindDir, mode: 0o755, implicit: true}
			continue
		}
		if parent.kind != kindDir {
			return fmt.Errorf("/%s is under /%s, which is not a directory", p, dir)
		}
	}
	t.entries[p] = e
	return nil
}

// AddFile adds the host file src at dest with the given mode and owner.
// A zero mode means 0755 when src is executable by its owner and 0644
// otherwise, so the image does not depend on the builder's umask.
func (t *Tree) AddFile(src, dest string, mode fs.FileMode, owner Owner) error {
	p, err := cleanDest(dest)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	if mode == 0 {
		mode = 0o644
		if info.Mode()&0o100 != 0 {
			mode = 0o755
		}
	}
	return t.add(p, &entry{kind: kindFile, mode: mode, uid: owner.UID, gid: owner.GID, source: src})
}

// AddDir adds an empty directory at dest.
func (t *Tree) AddDir(dest string, mode fs.FileMode, owner Owner) error {
	p, err := cleanDest(dest)
	if err != nil {
		return err
	}
	return t.add(p, &entry{kind: kindDir, mode: mode, uid: owner.UID, gid: owner.GID})
}

// AddTree adds everything under the host directory root at the image's
// root, with the modes and owners it has on disk, or owned by *owner when
// owner is not nil. Sockets are left out: they cannot be stored in a layer
// and are meaningless outside the process that made them. Extended
// attributes (file capabilities, SELinux labels) are not kept.
func (t *Tree) AddTree(root string, owner *Owner) error {
	return filepath.WalkDir(root, func(hostPath string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, hostPath)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information on this platform", hostPath)
		}
		e := &entry{mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			uid: int(st.Uid), gid: int(st.Gid)}
		if owner != nil {
			e.uid, e.gid = owner.UID, owner.GID
		}
		switch m := info.Mode(); {
		case m.IsDir():
			e.kind = kindDir
		case m.IsRegular():
			e.kind, e.source = kindFile, hostPath
			if st.Nlink > 1 {
				e.inode = &inodeKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
			}
		case m&fs.ModeSymlink != 0:
			e.kind = kindSymlink
			if e.linkname, err = os.Readlink(hostPath); err != nil {
				return err
			}
		case m&fs.ModeNamedPipe != 0:
			e.kind = kindFifo
		case m&fs.ModeDevice != 0:
			e.kind = kindBlockDevice
			if m&fs.ModeCharDevice != 0 {
				e.kind = kindCharDevice
			}
			rdev := uint64(st.Rdev)
			// Linux's encoding of a device number (see makedev(3)).
			e.devMajor = int64((rdev>>8)&0xfff | (rdev>>32)&^0xfff)
			e.devMinor = int64(rdev&0xff | (rdev>>12)&^0xff)
		case m&fs.ModeSocket != 0:
			return nil
		default:
			return fmt.Errorf("%s: unsupported file type %v", hostPath, m.Type())
		}
		return t.add(filepath.ToSlash(rel), e)
	})
}

// paths returns the tree's paths in the order the layer stores them: sorted
// byte-wise, which also puts every directory before what it contains.
func (t *Tree) paths() []string {
	ps := make([]string, 0, len(t.entries))
	for p := range t.entries {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

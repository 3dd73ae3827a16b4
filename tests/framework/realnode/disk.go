package realnode

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The nodes' images take the most disk a real-node run uses: every node
// keeps, in its own containerd, the image's compressed layers and their
// unpacked copy (about 0.7 GB for each Ceph image, on each node). A full
// disk makes containerd fail an import with a bare "no space left on
// device"; these helpers say how much space was available, what this
// harness holds and how to free it.

// usedBytes is the disk space the files under dir take (allocated blocks,
// each hard-linked file counted once); what cannot be read is left out.
func usedBytes(dir string) int64 {
	var total int64
	seen := map[[2]uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if st.Nlink > 1 {
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total
}

// freeBytes is the space available for new files on the file system
// holding dir, and that file system's size. Available, not free: blocks
// an ext4 file system reserves need not be root's (resuid, resv_strict),
// and a machine can reserve most of its disk that way.
func freeBytes(dir string) (avail, size int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// imageRoots are the containerd roots of every node that ever ran in l,
// whose images Down keeps.
func (l layout) imageRoots() []string {
	roots, _ := filepath.Glob(filepath.Join(l.dir, "containerd-*"))
	if _, err := os.Stat(l.containerdRoot); err == nil {
		roots = append([]string{l.containerdRoot}, roots...)
	}
	return roots
}

// diskReport describes the disk of l.dir: the space available, and what
// the nodes' kept images take there.
func (l layout) diskReport() string {
	avail, size, err := freeBytes(l.dir)
	if err != nil {
		return fmt.Sprintf("space available on %s unknown: %v", l.dir, err)
	}
	return fmt.Sprintf("%s available (file system of %s, size %s); the nodes' images take %s", gib(avail), l.dir, gib(size), gib(l.imagesBytes()))
}

// imagesBytes is the space the nodes' kept images take.
func (l layout) imagesBytes() int64 {
	var held int64
	for _, r := range l.imageRoots() {
		held += usedBytes(r)
	}
	return held
}

// explainFull turns containerd's "no space left on device" into an error
// that says so, with the figures and what frees space; other errors pass
// unchanged.
func (l layout) explainFull(err error, out string) error {
	if !strings.Contains(out, "no space left on device") {
		return err
	}
	return fmt.Errorf("%w: the disk is full: %s. Each node unpacks its own copy of every image (about 0.7 GB per Ceph image); "+
		"free space, e.g. the images earlier runs kept (go run ./tests/framework/realnode/cmd down -purge)", err, l.diskReport())
}

// purgeImagesCounting is PurgeImages, also returning the space it freed.
func purgeImagesCounting(o Options) (int64, error) {
	o = o.withDefaults()
	held := newLayout(o.Dir).imagesBytes()
	if err := PurgeImages(o); err != nil {
		return 0, err
	}
	return held, nil
}

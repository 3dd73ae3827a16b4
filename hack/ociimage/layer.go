package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"time"
)

// Compression is how the layer blob is stored.
type Compression string

const (
	// Gzip stores the layer as application/vnd.oci.image.layer.v1.tar+gzip.
	Gzip Compression = "gzip"
	// Uncompressed stores it as application/vnd.oci.image.layer.v1.tar.
	Uncompressed Compression = "none"
)

// mediaType is the layer media type for c.
func (c Compression) mediaType() (string, error) {
	switch c {
	case Gzip:
		return mediaTypeLayerGzip, nil
	case Uncompressed:
		return mediaTypeLayer, nil
	}
	return "", fmt.Errorf("unknown compression %q (want %q or %q)", c, Gzip, Uncompressed)
}

// layerResult describes a written layer: DiffID is the digest of the
// uncompressed tar (the config's rootfs.diff_ids), Digest and Size those of
// the blob as stored.
type layerResult struct {
	DiffID string
	Digest string
	Size   int64
}

// countingHash is a sha256 that also counts what it was given.
type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.Hash.Write(p)
}

// writeLayer writes t as one tar layer to w, every timestamp set to mtime,
// entries sorted, owners numeric without names, so that the same tree gives
// the same bytes on any machine.
func writeLayer(t *Tree, w io.Writer, c Compression, mtime time.Time) (layerResult, error) {
	blob := &countingHash{Hash: sha256.New()}
	diff := sha256.New()
	var (
		sink  = io.MultiWriter(w, blob)
		zw    *gzip.Writer
		tarTo io.Writer
	)
	switch c {
	case Gzip:
		// A gzip header with no name and a zero time is the same on every
		// build; compress/gzip writes nothing else that varies.
		zw = gzip.NewWriter(sink)
		tarTo = io.MultiWriter(zw, diff)
	case Uncompressed:
		tarTo = io.MultiWriter(sink, diff)
	default:
		_, err := c.mediaType()
		return layerResult{}, err
	}
	tw := tar.NewWriter(tarTo)
	linked := map[inodeKey]string{}
	for _, p := range t.paths() {
		e := t.entries[p]
		hdr := &tar.Header{
			Name:    p,
			Mode:    tarMode(e.mode),
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: mtime,
		}
		var content string
		switch e.kind {
		case kindDir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, p+"/"
		case kindFile:
			if e.inode != nil {
				if first, ok := linked[*e.inode]; ok {
					hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
					break
				}
				linked[*e.inode] = p
			}
			info, err := os.Stat(e.source)
			if err != nil {
				return layerResult{}, err
			}
			hdr.Typeflag, hdr.Size, content = tar.TypeReg, info.Size(), e.source
		case kindSymlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.linkname
		case kindCharDevice:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = tar.TypeChar, e.devMajor, e.devMinor
		case kindBlockDevice:
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = tar.TypeBlock, e.devMajor, e.devMinor
		case kindFifo:
			hdr.Typeflag = tar.TypeFifo
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return layerResult{}, fmt.Errorf("writing /%s: %w", p, err)
		}
		if content != "" {
			if err := copyFile(tw, content, hdr.Size); err != nil {
				return layerResult{}, fmt.Errorf("writing /%s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return layerResult{}, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return layerResult{}, err
		}
	}
	return layerResult{
		DiffID: "sha256:" + fmt.Sprintf("%x", diff.Sum(nil)),
		Digest: "sha256:" + fmt.Sprintf("%x", blob.Sum(nil)),
		Size:   blob.n,
	}, nil
}

// copyFile copies exactly size bytes of the file at src to w: a file that
// changed size since it was looked at is an error, not a corrupt layer.
func copyFile(w io.Writer, src string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s shrank while being read (%d of %d bytes)", src, n, size)
	}
	return nil
}

// tarMode is the tar header mode for m: permission bits plus the setuid,
// setgid and sticky bits in their traditional octal places.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Media types and annotations of the OCI image specification, and the
// annotation containerd reads an imported image's name from.
const (
	mediaTypeIndex     = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest  = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig    = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer     = "application/vnd.oci.image.layer.v1.tar"
	mediaTypeLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"

	// annotationRefName is the OCI annotation for a manifest's name in a
	// layout; by convention it holds the tag only, as containerd's own
	// export writes it.
	annotationRefName = "org.opencontainers.image.ref.name"
	// annotationImageName is the name `ctr images import` gives the image,
	// as is. Without it, containerd 1.6 takes a full reference from
	// annotationRefName but turns a bare tag into "import-<date>:<tag>",
	// which no pod names (checked with containerd 1.6.20).
	annotationImageName = "io.containerd.image.name"
	// annotationCreated is the image's creation time.
	annotationCreated = "org.opencontainers.image.created"
)

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// ImageConfig is the part of the OCI image configuration a container runs
// with.
type ImageConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type imageConfigFile struct {
	Created      string      `json:"created"`
	Architecture string      `json:"architecture"`
	OS           string      `json:"os"`
	Config       ImageConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []history `json:"history"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// Image is everything an image layout is made from.
type Image struct {
	// Ref is the fully qualified name the image is imported under.
	Ref    string
	Config ImageConfig
	// Architecture and OS of the platform the image runs on (GOARCH and
	// GOOS spelling).
	Architecture, OS string
	// Created is the image's creation time and every file's modification
	// time; a fixed value makes the layout reproducible.
	Created     time.Time
	Compression Compression
	Files       *Tree
}

// WriteLayout writes img as a tar archive of an OCI image layout to out,
// replacing it only once the archive is complete: index.json names the
// image's manifest. It returns the manifest's digest.
func WriteLayout(img *Image, out string) (manifestDigest string, err error) {
	return writeLayout([]*Image{img}, out)
}

// WriteIndexLayout writes imgs, the same image for different platforms, as
// a tar archive of an OCI image layout to out: index.json names one image
// index (the blob a registry serves for a multi-platform image), which
// lists each platform's manifest. A runtime pulling or importing it takes
// the manifest of its own platform. Every image must have img[0]'s Ref,
// and no two the same platform. It returns the image index's digest.
func WriteIndexLayout(imgs []*Image, out string) (indexDigest string, err error) {
	if len(imgs) == 0 {
		return "", fmt.Errorf("no image")
	}
	seen := map[platform]bool{}
	for _, img := range imgs {
		if img.Ref != imgs[0].Ref {
			return "", fmt.Errorf("the images of one index have different references: %s and %s", imgs[0].Ref, img.Ref)
		}
		p := platform{Architecture: img.Architecture, OS: img.OS}
		if seen[p] {
			return "", fmt.Errorf("two images for %s/%s", p.OS, p.Architecture)
		}
		seen[p] = true
	}
	return writeLayout(imgs, out)
}

// member is one file of the archive: small ones in memory, a layer from
// its staging file.
type member struct {
	data []byte
	file *os.File
	size int64
}

// writeManifest adds img's layer, configuration and manifest to members,
// staging the layer next to out (a layer's size must be known before its
// tar header), and returns the manifest's descriptor, with its platform.
func writeManifest(img *Image, out string, created time.Time, members map[string]member) (descriptor, error) {
	layerMediaType, err := img.Compression.mediaType()
	if err != nil {
		return descriptor{}, err
	}
	stamp := created.Format(time.RFC3339)
	layerFile, err := os.CreateTemp(filepath.Dir(out), ".ociimage-layer-*")
	if err != nil {
		return descriptor{}, err
	}
	// Removed now: the open file stays readable until writeLayout closes it.
	if err := os.Remove(layerFile.Name()); err != nil {
		_ = layerFile.Close()
		return descriptor{}, err
	}
	layer, err := writeLayer(img.Files, layerFile, img.Compression, created)
	if err != nil {
		_ = layerFile.Close()
		return descriptor{}, fmt.Errorf("writing the layer: %w", err)
	}
	if _, dup := members[blobPath(layer.Digest)]; dup {
		// The same layer as another platform's: stored once.
		_ = layerFile.Close()
	} else {
		members[blobPath(layer.Digest)] = member{file: layerFile, size: layer.Size}
	}

	cfg := imageConfigFile{Created: stamp, Architecture: img.Architecture, OS: img.OS, Config: img.Config}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{layer.DiffID}
	cfg.History = []history{{Created: stamp, CreatedBy: "hack/ociimage"}}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return descriptor{}, err
	}
	man := manifest{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        descriptor{MediaType: mediaTypeConfig, Digest: digestOf(cfgJSON), Size: int64(len(cfgJSON))},
		Layers:        []descriptor{{MediaType: layerMediaType, Digest: layer.Digest, Size: layer.Size}},
	}
	manJSON, err := json.Marshal(man)
	if err != nil {
		return descriptor{}, err
	}
	members[blobPath(man.Config.Digest)] = member{data: cfgJSON}
	members[blobPath(digestOf(manJSON))] = member{data: manJSON}
	return descriptor{
		MediaType: mediaTypeManifest,
		Digest:    digestOf(manJSON),
		Size:      int64(len(manJSON)),
		Platform:  &platform{Architecture: img.Architecture, OS: img.OS},
	}, nil
}

// writeLayout writes the layout of one image (index.json names its
// manifest) or, for several, of an image index, and returns the digest of
// what index.json names.
func writeLayout(imgs []*Image, out string) (digest string, err error) {
	name, err := parseReference(imgs[0].Ref)
	if err != nil {
		return "", err
	}
	created := imgs[0].Created.UTC().Truncate(time.Second)
	stamp := created.Format(time.RFC3339)

	members := map[string]member{}
	defer func() {
		for _, m := range members {
			if m.file != nil {
				_ = m.file.Close()
			}
		}
	}()
	var manifests []descriptor
	for _, img := range imgs {
		d, err := writeManifest(img, out, created, members)
		if err != nil {
			return "", err
		}
		manifests = append(manifests, d)
	}
	top := manifests[0]
	if len(imgs) > 1 {
		nested, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: manifests})
		if err != nil {
			return "", err
		}
		members[blobPath(digestOf(nested))] = member{data: nested}
		top = descriptor{MediaType: mediaTypeIndex, Digest: digestOf(nested), Size: int64(len(nested))}
	}
	top.Annotations = map[string]string{
		annotationImageName: name.String(),
		annotationRefName:   name.Tag,
		annotationCreated:   stamp,
	}
	idxJSON, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{top}})
	if err != nil {
		return "", err
	}
	members["oci-layout"] = member{data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	members["index.json"] = member{data: idxJSON}

	// Sorted by name, so the archive is reproducible.
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	sort.Strings(names)

	tmp, err := os.CreateTemp(filepath.Dir(out), ".ociimage-out-*")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	defer func() { _ = tmp.Close() }()
	tw := tar.NewWriter(tmp)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: created}); err != nil {
			return "", err
		}
	}
	for _, n := range names {
		m := members[n]
		var r io.Reader = bytes.NewReader(m.data)
		size := int64(len(m.data))
		if m.file != nil {
			if _, err := m.file.Seek(0, io.SeekStart); err != nil {
				return "", err
			}
			r, size = m.file, m.size
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: size, ModTime: created}); err != nil {
			return "", err
		}
		if _, err := io.CopyN(tw, r, size); err != nil {
			return "", fmt.Errorf("writing %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return top.Digest, nil
}

func digestOf(b []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}

// blobPath is where a layout stores the blob with digest d.
func blobPath(d string) string {
	return "blobs/" + strings.Replace(d, ":", "/", 1)
}

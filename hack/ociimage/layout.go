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
// replacing it only once the archive is complete. Blobs are staged next to
// out, because a layer's size must be known before its tar header.
func WriteLayout(img *Image, out string) (manifestDigest string, err error) {
	name, err := parseReference(img.Ref)
	if err != nil {
		return "", err
	}
	layerMediaType, err := img.Compression.mediaType()
	if err != nil {
		return "", err
	}
	created := img.Created.UTC().Truncate(time.Second)
	stamp := created.Format(time.RFC3339)

	layerFile, err := os.CreateTemp(filepath.Dir(out), ".ociimage-layer-*")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.Remove(layerFile.Name()) }()
	defer func() { _ = layerFile.Close() }()
	layer, err := writeLayer(img.Files, layerFile, img.Compression, created)
	if err != nil {
		return "", fmt.Errorf("writing the layer: %w", err)
	}

	cfg := imageConfigFile{Created: stamp, Architecture: img.Architecture, OS: img.OS, Config: img.Config}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{layer.DiffID}
	cfg.History = []history{{Created: stamp, CreatedBy: "hack/ociimage"}}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	man := manifest{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        descriptor{MediaType: mediaTypeConfig, Digest: digestOf(cfgJSON), Size: int64(len(cfgJSON))},
		Layers:        []descriptor{{MediaType: layerMediaType, Digest: layer.Digest, Size: layer.Size}},
	}
	manJSON, err := json.Marshal(man)
	if err != nil {
		return "", err
	}
	manifestDigest = digestOf(manJSON)
	idx := index{
		SchemaVersion: 2,
		MediaType:     mediaTypeIndex,
		Manifests: []descriptor{{
			MediaType: mediaTypeManifest,
			Digest:    manifestDigest,
			Size:      int64(len(manJSON)),
			Platform:  &platform{Architecture: img.Architecture, OS: img.OS},
			Annotations: map[string]string{
				annotationImageName: name.String(),
				annotationRefName:   name.Tag,
				annotationCreated:   stamp,
			},
		}},
	}
	idxJSON, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}

	// Every member of the archive: small ones in memory, the layer from
	// its staging file. Sorted by name, so the archive is reproducible.
	type member struct {
		data []byte
		file *os.File
		size int64
	}
	members := map[string]member{
		"oci-layout":                {data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		"index.json":                {data: idxJSON},
		blobPath(man.Config.Digest): {data: cfgJSON},
		blobPath(manifestDigest):    {data: manJSON},
		blobPath(layer.Digest):      {file: layerFile, size: layer.Size},
	}
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
	return manifestDigest, nil
}

func digestOf(b []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}

// blobPath is where a layout stores the blob with digest d.
func blobPath(d string) string {
	return "blobs/" + strings.Replace(d, ":", "/", 1)
}

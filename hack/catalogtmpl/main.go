// Command catalogtmpl keeps the catalog template (an olm.template.basic
// file) and renders the file-based catalog from it without a registry.
//
// The template lists every released bundle by image, the package and the
// channel with its upgrade edges. catalogtmpl adds the bundle being
// released (or refreshes it, when its version is already there): its image
// entry, and its channel entry with the edges its CSV declares
// (spec.replaces, spec.skips, olm.skipRange). Every other entry stays.
//
// It then renders what `opm alpha render-template basic` renders, but
// offline: that command pulls every bundle image, while here the bundle
// being released comes from `opm render ./bundle` and every earlier one
// from the committed catalog, which holds each bundle as rendered when it
// was released. A bundle found in neither is an error.
//
//	opm render ./bundle --output yaml >bundle.yaml
//	catalogtmpl -template config/catalog/template.yaml -bundle bundle.yaml \
//	  -csv bundle/manifests/ceph-operator.clusterserviceversion.yaml -channel alpha \
//	  -catalog catalog/ceph-operator/catalog.yaml -out rendered/catalog.yaml
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	templatePath := flag.String("template", "", "the olm.template.basic file to update in place")
	bundlePath := flag.String("bundle", "", "the bundle being released as `opm render` writes it (one olm.bundle in YAML)")
	csvPath := flag.String("csv", "", "the bundle's ClusterServiceVersion, for its upgrade edges")
	channel := flag.String("channel", "", "the channel to add the bundle to")
	catalogPath := flag.String("catalog", "", "the committed catalog, holding the earlier bundles as rendered (may be absent)")
	out := flag.String("out", "", "where to write the rendered catalog")
	flag.Parse()
	if err := run(*templatePath, *bundlePath, *csvPath, *channel, *catalogPath, *out); err != nil {
		fmt.Fprintln(os.Stderr, "catalogtmpl:", err)
		os.Exit(1)
	}
}

// Template is an olm.template.basic document.
type Template struct {
	Schema  string           `json:"schema"`
	Entries []map[string]any `json:"entries"`
}

// TemplateSchema is the schema of a basic catalog template.
const TemplateSchema = "olm.template.basic"

// Header heads the template file (the YAML is rewritten, so comments in it
// would not survive).
const Header = `# The catalog template (olm.template.basic): every released bundle of
# ceph-operator by image, and the channel with its upgrade edges. ` + "`make\n" +
	"# catalog`" + ` (hack/catalogtmpl) adds or refreshes the bundle in bundle/ and
# keeps the others; catalog/ is rendered from it. Never remove a released
# bundle: subscriptions on it would have no upgrade path.
`

// Edges are the upgrade edges a CSV declares.
type Edges struct {
	Name      string
	Replaces  string
	Skips     []string
	SkipRange string
}

func run(templatePath, bundlePath, csvPath, channel, catalogPath, outPath string) error {
	if templatePath == "" || bundlePath == "" || csvPath == "" || channel == "" || catalogPath == "" || outPath == "" {
		return errors.New("-template, -bundle, -csv, -channel, -catalog and -out are required")
	}
	var t Template
	if err := readYAML(templatePath, &t); err != nil {
		return err
	}
	bundles, err := readDocs(bundlePath)
	if err != nil {
		return err
	}
	if len(bundles) != 1 {
		return fmt.Errorf("%s holds %d documents, want one olm.bundle", bundlePath, len(bundles))
	}
	var csv struct {
		Metadata struct {
			Name        string            `json:"name"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Replaces string   `json:"replaces"`
			Skips    []string `json:"skips"`
		} `json:"spec"`
	}
	if err := readYAML(csvPath, &csv); err != nil {
		return err
	}
	var released []map[string]any
	if _, err := os.Stat(catalogPath); err == nil {
		if released, err = readDocs(catalogPath); err != nil {
			return err
		}
	}
	edges := Edges{Name: csv.Metadata.Name, Replaces: csv.Spec.Replaces, Skips: csv.Spec.Skips,
		SkipRange: csv.Metadata.Annotations["olm.skipRange"]}
	if err := Add(&t, bundles[0], channel, edges, released); err != nil {
		return err
	}
	docs, err := Render(t, bundles[0], released)
	if err != nil {
		return err
	}
	raw, err := yaml.Marshal(t)
	if err != nil {
		return err
	}
	if err := os.WriteFile(templatePath, append([]byte(Header), raw...), 0o644); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, d := range docs {
		raw, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(raw)
	}
	return os.WriteFile(outPath, buf.Bytes(), 0o644)
}

// Add puts the image of bundle (a rendered olm.bundle) into t, replacing
// an entry that renders to a bundle of the same name (the same version
// built again, perhaps under another image name), and gives it an entry
// with edges in channel. Every other entry stays as it was. released are
// the documents of the committed catalog.
func Add(t *Template, bundle map[string]any, channel string, edges Edges, released []map[string]any) error {
	if t.Schema != TemplateSchema {
		return fmt.Errorf("the template's schema is %q, want %s", t.Schema, TemplateSchema)
	}
	name, _ := bundle["name"].(string)
	image, _ := bundle["image"].(string)
	if bundle["schema"] != "olm.bundle" || name == "" || image == "" {
		return fmt.Errorf("the bundle is not a rendered olm.bundle with a name and an image (schema %v, name %q, image %q)", bundle["schema"], name, image)
	}
	if name != edges.Name {
		return fmt.Errorf("the rendered bundle is %s but the CSV is %s", name, edges.Name)
	}
	if edges.Replaces == name || slices.Contains(edges.Skips, name) {
		return fmt.Errorf("%s replaces or skips itself", name)
	}

	var ch map[string]any
	var entries []map[string]any
	added := false
	for _, e := range t.Entries {
		if e["schema"] == "olm.channel" && e["name"] == channel {
			ch = e
		}
		if e["schema"] == "olm.bundle" {
			img, _ := e["image"].(string)
			if b := find(released, img); img == image || (b != nil && b["name"] == name) {
				if !added {
					entries = append(entries, map[string]any{"schema": "olm.bundle", "image": image})
					added = true
				}
				continue
			}
		}
		entries = append(entries, e)
	}
	if !added {
		entries = append(entries, map[string]any{"schema": "olm.bundle", "image": image})
	}
	t.Entries = entries
	if ch == nil {
		return fmt.Errorf("the template has no olm.channel %q; add it by hand first", channel)
	}

	entry := map[string]any{"name": name}
	if edges.Replaces != "" {
		entry["replaces"] = edges.Replaces
	}
	if len(edges.Skips) > 0 {
		skips := make([]any, len(edges.Skips))
		for i, s := range edges.Skips {
			skips[i] = s
		}
		entry["skips"] = skips
	}
	if edges.SkipRange != "" {
		entry["skipRange"] = edges.SkipRange
	}
	chEntries, _ := ch["entries"].([]any)
	for i, e := range chEntries {
		if m, _ := e.(map[string]any); m["name"] == name {
			chEntries[i] = entry
			return nil
		}
	}
	ch["entries"] = append(chEntries, entry)
	return nil
}

// Render returns the catalog t describes: its package and channels as they
// are, and each bundle image rendered: bundle when it is that image,
// otherwise the bundle of that image in released.
func Render(t Template, bundle map[string]any, released []map[string]any) ([]map[string]any, error) {
	var docs, rendered []map[string]any
	for _, e := range t.Entries {
		if e["schema"] != "olm.bundle" {
			docs = append(docs, e)
			continue
		}
		img, _ := e["image"].(string)
		b := find(released, img)
		if img == bundle["image"] {
			b = bundle
		}
		if b == nil {
			return nil, fmt.Errorf("bundle image %s is in the template but neither in bundle/ nor in the committed catalog; render it from the registry (make catalog-from-registry)", img)
		}
		rendered = append(rendered, b)
	}
	return append(docs, rendered...), nil
}

// find returns the olm.bundle of image in docs, or nil.
func find(docs []map[string]any, image string) map[string]any {
	for _, d := range docs {
		if d["schema"] == "olm.bundle" && d["image"] == image {
			return d
		}
	}
	return nil
}

func readYAML(path string, out any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readDocs reads every document of a multi-document YAML file.
func readDocs(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			return docs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

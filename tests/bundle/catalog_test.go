package bundle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// catalogFile and templateFile are the committed catalog and the template
// it is rendered from, relative to this package.
var (
	catalogFile  = filepath.Join("..", "..", "catalog", "ceph-operator", "catalog.yaml")
	templateFile = filepath.Join("..", "..", "config", "catalog", "template.yaml")
)

// channelEntry is one entry of an olm.channel.
type channelEntry struct {
	Name      string   `json:"name"`
	Replaces  string   `json:"replaces,omitempty"`
	Skips     []string `json:"skips,omitempty"`
	SkipRange string   `json:"skipRange,omitempty"`
}

// fbc is the part of a file-based catalog (or a basic template's entries)
// the graph checks read.
type fbc struct {
	packages map[string]string // package name -> default channel
	channels map[string][]channelEntry
	bundles  map[string]string // bundle name -> image ("" in a template)
	images   []string          // bundle images, in order
}

func parseFBC(docs []map[string]any) (fbc, error) {
	f := fbc{packages: map[string]string{}, channels: map[string][]channelEntry{}, bundles: map[string]string{}}
	for _, d := range docs {
		raw, err := yaml.Marshal(d)
		if err != nil {
			return f, err
		}
		var m struct {
			Schema         string         `json:"schema"`
			Name           string         `json:"name"`
			Image          string         `json:"image"`
			DefaultChannel string         `json:"defaultChannel"`
			Entries        []channelEntry `json:"entries"`
		}
		if err := yaml.Unmarshal(raw, &m); err != nil {
			return f, err
		}
		switch m.Schema {
		case "olm.package":
			f.packages[m.Name] = m.DefaultChannel
		case "olm.channel":
			f.channels[m.Name] = m.Entries
		case "olm.bundle":
			if m.Name != "" {
				f.bundles[m.Name] = m.Image
			}
			f.images = append(f.images, m.Image)
		default:
			return f, fmt.Errorf("unknown schema %q", m.Schema)
		}
	}
	return f, nil
}

func readDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			return docs
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// checkGraph returns what is wrong with the upgrade graph of catalog c whose
// newest release is head: every channel entry must be a bundle of the
// catalog and every bundle in a channel; every replaces and skips must name
// an entry of the same channel (a dangling edge means a release is gone and
// subscriptions on it are stranded); the default channel must lead to head;
// and every entry must be reachable from its channel's single head, so
// every installed release has an upgrade path.
func checkGraph(c fbc, head string) []error {
	var errs []error
	if len(c.packages) != 1 {
		errs = append(errs, fmt.Errorf("%d packages, want one", len(c.packages)))
	}
	inChannel := map[string]bool{}
	for pkg, def := range c.packages {
		if _, ok := c.channels[def]; !ok {
			errs = append(errs, fmt.Errorf("package %s: default channel %q does not exist", pkg, def))
		} else if !slices.ContainsFunc(c.channels[def], func(e channelEntry) bool { return e.Name == head }) {
			errs = append(errs, fmt.Errorf("the default channel %s lacks %s, the bundle in bundle/", def, head))
		}
	}
	for name, entries := range c.channels {
		names := map[string]bool{}
		for _, e := range entries {
			names[e.Name] = true
			inChannel[e.Name] = true
			if _, ok := c.bundles[e.Name]; !ok {
				errs = append(errs, fmt.Errorf("channel %s: entry %s has no bundle in the catalog", name, e.Name))
			}
		}
		// Edges of the graph: from the replacing bundle to the replaced.
		edges := map[string][]string{}
		replaced := map[string]bool{}
		for _, e := range entries {
			for _, to := range append([]string{e.Replaces}, e.Skips...) {
				if to == "" {
					continue
				}
				if !names[to] {
					errs = append(errs, fmt.Errorf("channel %s: %s replaces or skips %s, which is not in the channel (dangling edge)", name, e.Name, to))
				}
				edges[e.Name] = append(edges[e.Name], to)
				replaced[to] = true
			}
		}
		var heads []string
		for n := range names {
			if !replaced[n] {
				heads = append(heads, n)
			}
		}
		sort.Strings(heads)
		if len(heads) != 1 {
			errs = append(errs, fmt.Errorf("channel %s has heads %v, want exactly one", name, heads))
			continue
		}
		seen := map[string]bool{}
		var walk func(string)
		walk = func(n string) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, to := range edges[n] {
				walk(to)
			}
		}
		walk(heads[0])
		for n := range names {
			if !seen[n] {
				errs = append(errs, fmt.Errorf("channel %s: %s is not reachable from the head %s: its subscriptions cannot upgrade", name, n, heads[0]))
			}
		}
	}
	for b := range c.bundles {
		if !inChannel[b] {
			errs = append(errs, fmt.Errorf("bundle %s is in no channel", b))
		}
	}
	return errs
}

// TestCatalogGraph checks the committed catalog's upgrade graph, and that
// it is exactly what the template describes: the same channels and edges,
// the same bundle images, so no released bundle is dropped on the way.
func TestCatalogGraph(t *testing.T) {
	head := loadBundle(t).CSV.Name
	catalog, err := parseFBC(readDocs(t, catalogFile))
	if err != nil {
		t.Fatalf("%s: %v", catalogFile, err)
	}
	for _, err := range checkGraph(catalog, head) {
		t.Errorf("%s: %v", catalogFile, err)
	}

	var tmpl struct {
		Schema  string           `json:"schema"`
		Entries []map[string]any `json:"entries"`
	}
	raw, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil {
		t.Fatalf("%s: %v", templateFile, err)
	}
	if tmpl.Schema != "olm.template.basic" {
		t.Fatalf("%s: schema %q, want olm.template.basic", templateFile, tmpl.Schema)
	}
	template, err := parseFBC(tmpl.Entries)
	if err != nil {
		t.Fatalf("%s: %v", templateFile, err)
	}
	if fmt.Sprint(template.channels) != fmt.Sprint(catalog.channels) || fmt.Sprint(template.packages) != fmt.Sprint(catalog.packages) {
		t.Errorf("the catalog's package and channels differ from the template's (run make catalog):\ncatalog  %v %v\ntemplate %v %v",
			catalog.packages, catalog.channels, template.packages, template.channels)
	}
	a, b := slices.Sorted(slices.Values(template.images)), slices.Sorted(slices.Values(catalog.images))
	if !slices.Equal(a, b) {
		t.Errorf("bundle images: template %v, catalog %v", a, b)
	}
	t.Logf("channels %v, bundles %v", catalog.channels, catalog.bundles)
}

// TestCatalogGraphCatchesBreaks makes sure checkGraph fails a graph that
// lost a release or strands one, starting from a good two-release graph.
func TestCatalogGraphCatchesBreaks(t *testing.T) {
	good := func() fbc {
		return fbc{
			packages: map[string]string{"p": "alpha"},
			channels: map[string][]channelEntry{"alpha": {{Name: "p.v0.1.0"}, {Name: "p.v0.2.0", Replaces: "p.v0.1.0"}}},
			bundles:  map[string]string{"p.v0.1.0": "i:1", "p.v0.2.0": "i:2"},
		}
	}
	if errs := checkGraph(good(), "p.v0.2.0"); len(errs) != 0 {
		t.Fatalf("a good graph fails: %v", errs)
	}
	for name, tc := range map[string]struct {
		edit func(*fbc)
		head string
		want string
	}{
		"release dropped": {func(c *fbc) {
			c.channels["alpha"] = c.channels["alpha"][1:]
			delete(c.bundles, "p.v0.1.0")
		}, "p.v0.2.0", "dangling edge"},
		"bundle dropped, entry kept": {func(c *fbc) { delete(c.bundles, "p.v0.1.0") }, "p.v0.2.0", "has no bundle"},
		"skips a missing release": {func(c *fbc) {
			c.channels["alpha"][1].Skips = []string{"p.v0.0.9"}
		}, "p.v0.2.0", "p.v0.0.9, which is not in the channel"},
		"no edge: two heads":   {func(c *fbc) { c.channels["alpha"][1].Replaces = "" }, "p.v0.2.0", "want exactly one"},
		"bundle/ not released": {func(*fbc) {}, "p.v0.3.0", "lacks p.v0.3.0"},
		"orphan bundle":        {func(c *fbc) { c.bundles["p.v0.0.1"] = "i:0" }, "p.v0.2.0", "in no channel"},
	} {
		c := good()
		tc.edit(&c)
		errs := checkGraph(c, tc.head)
		if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), tc.want) }) {
			t.Errorf("%s: want an error with %q, got %v", name, tc.want, errs)
		}
	}
}

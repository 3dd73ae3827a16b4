package main

import (
	"fmt"
	"strings"
	"testing"
)

func template() Template {
	return Template{Schema: TemplateSchema, Entries: []map[string]any{
		{"schema": "olm.package", "name": "p", "defaultChannel": "alpha"},
		{"schema": "olm.channel", "package": "p", "name": "alpha", "entries": []any{map[string]any{"name": "p.v0.1.0"}}},
		{"schema": "olm.bundle", "image": "r/p-bundle:v0.1.0"},
	}}
}

var released = []map[string]any{
	{"schema": "olm.bundle", "name": "p.v0.1.0", "image": "r/p-bundle:v0.1.0", "package": "p"},
}

// TestAddKeepsReleases: a new version is appended with its edges, and
// rendering keeps the earlier release from the committed catalog.
func TestAddKeepsReleases(t *testing.T) {
	tmpl := template()
	v2 := map[string]any{"schema": "olm.bundle", "name": "p.v0.2.0", "image": "r/p-bundle:v0.2.0", "package": "p"}
	if err := Add(&tmpl, v2, "alpha", Edges{Name: "p.v0.2.0", Replaces: "p.v0.1.0", SkipRange: "<0.2.0"}, released); err != nil {
		t.Fatal(err)
	}
	docs, err := Render(tmpl, v2, released)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(docs)
	for _, want := range []string{"name:p.v0.1.0", "name:p.v0.2.0 replaces:p.v0.1.0 skipRange:<0.2.0", "image:r/p-bundle:v0.1.0", "image:r/p-bundle:v0.2.0"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered catalog lacks %q:\n%s", want, got)
		}
	}
	if len(docs) != 4 {
		t.Errorf("%d documents, want package, channel and two bundles: %v", len(docs), docs)
	}
}

// TestAddRefreshesSameVersion: the same version built again under another
// image name replaces its entry instead of adding a second one.
func TestAddRefreshesSameVersion(t *testing.T) {
	tmpl := template()
	again := map[string]any{"schema": "olm.bundle", "name": "p.v0.1.0", "image": "local/p-bundle:v0.1.0", "package": "p"}
	if err := Add(&tmpl, again, "alpha", Edges{Name: "p.v0.1.0"}, released); err != nil {
		t.Fatal(err)
	}
	docs, err := Render(tmpl, again, released)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 || docs[2]["image"] != "local/p-bundle:v0.1.0" {
		t.Errorf("want one bundle, local/p-bundle:v0.1.0; got %v", docs)
	}
}

// TestRenderFailsOnUnknownBundle: a template bundle that neither bundle/
// nor the committed catalog holds cannot be rendered offline.
func TestRenderFailsOnUnknownBundle(t *testing.T) {
	tmpl := template()
	cur := map[string]any{"schema": "olm.bundle", "name": "p.v0.2.0", "image": "r/p-bundle:v0.2.0"}
	if _, err := Render(tmpl, cur, nil); err == nil || !strings.Contains(err.Error(), "r/p-bundle:v0.1.0") {
		t.Errorf("want an error naming r/p-bundle:v0.1.0, got %v", err)
	}
	if err := Add(&tmpl, cur, "alpha", Edges{Name: "p.v0.2.0", Replaces: "p.v0.2.0"}, nil); err == nil {
		t.Error("a bundle replacing itself was accepted")
	}
	if err := Add(&tmpl, cur, "beta", Edges{Name: "p.v0.2.0"}, nil); err == nil {
		t.Error("a missing channel was accepted")
	}
}

package main

import (
	"strings"
	"testing"
)

func csv(image, env string) map[string]any {
	container := map[string]any{"name": "manager", "image": image, "env": []any{
		map[string]any{"name": "OTHER", "value": "x"},
		map[string]any{"name": operatorImageEnv, "value": env},
		map[string]any{"name": "RELATED_IMAGE_CEPH", "value": "r/ceph@sha256:2"},
	}}
	return map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{"containerImage": "old", "olm.skipRange": "<0.0.1",
			"alm-examples": `[{"apiVersion":"x/v1","kind":"CephCluster","metadata":{"name":"ceph"},"spec":{"image":"r/ceph@sha256:2"}}]`}},
		"spec": map[string]any{"replaces": "p.v0.0.1", "install": map[string]any{"spec": map[string]any{"deployments": []any{
			map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{container}}}}},
		}}}},
	}
}

func TestEdit(t *testing.T) {
	c := csv("r/op@sha256:1", "r/op@sha256:1")
	if err := edit(c, "1.30.0", "p.v0.1.0", ""); err != nil {
		t.Fatal(err)
	}
	ann := c["metadata"].(map[string]any)["annotations"].(map[string]any)
	spec := c["spec"].(map[string]any)
	if ann["containerImage"] != "r/op@sha256:1" || spec["minKubeVersion"] != "1.30.0" || spec["replaces"] != "p.v0.1.0" {
		t.Errorf("containerImage %v, minKubeVersion %v, replaces %v", ann["containerImage"], spec["minKubeVersion"], spec["replaces"])
	}
	if _, ok := ann["olm.skipRange"]; ok {
		t.Error("an empty -skip-range kept the old olm.skipRange")
	}
	want := `{"apiVersion":"x/v1","kind":"CephCluster","metadata":{"name":"ceph"},"spec":{"image":"r/ceph@sha256:2"}}`
	if got := ann[initializationResource]; got != want {
		t.Errorf("%s = %v, want the CephCluster example %s", initializationResource, got, want)
	}
}

func TestEditKeepsEachRelatedImageOnce(t *testing.T) {
	c := csv("r/op@sha256:1", "r/op@sha256:1")
	// Pinning lists the entries in no fixed order: the one named after a
	// RELATED_IMAGE_ variable is kept wherever it stands.
	c["spec"].(map[string]any)["relatedImages"] = []any{
		map[string]any{"name": "manager", "image": "r/op@sha256:1"},
		map[string]any{"name": "operator", "image": "r/op@sha256:1"},
		map[string]any{"name": "ceph-2-annotation", "image": "r/ceph@sha256:2"},
		map[string]any{"name": "ceph", "image": "r/ceph@sha256:2"},
	}
	if err := edit(c, "1.30.0", "", ""); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range c["spec"].(map[string]any)["relatedImages"].([]any) {
		names = append(names, r.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "operator,ceph" {
		t.Errorf("relatedImages %v, want operator,ceph", names)
	}
}

func TestEditRefusesNoClusterExample(t *testing.T) {
	c := csv("r/op:v1", "r/op:v1")
	c["metadata"].(map[string]any)["annotations"].(map[string]any)["alm-examples"] = "[]"
	if err := edit(c, "1.30.0", "", ""); err == nil || !strings.Contains(err.Error(), "no CephCluster") {
		t.Errorf("want an error about the missing CephCluster example, got %v", err)
	}
}

func TestEditRefusesTwoReferences(t *testing.T) {
	err := edit(csv("r/op:v2", "r/op:v1"), "1.30.0", "", "")
	if err == nil || !strings.Contains(err.Error(), "one reference") {
		t.Errorf("want an error about one reference, got %v", err)
	}
}

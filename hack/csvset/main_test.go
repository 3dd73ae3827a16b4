package main

import (
	"strings"
	"testing"
)

func csv(image, env string) map[string]any {
	container := map[string]any{"name": "manager", "image": image, "env": []any{
		map[string]any{"name": "OTHER", "value": "x"},
		map[string]any{"name": operatorImageEnv, "value": env},
	}}
	return map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{"containerImage": "old", "olm.skipRange": "<0.0.1"}},
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
}

func TestEditRefusesTwoReferences(t *testing.T) {
	err := edit(csv("r/op:v2", "r/op:v1"), "1.30.0", "", "")
	if err == nil || !strings.Contains(err.Error(), "one reference") {
		t.Errorf("want an error about one reference, got %v", err)
	}
}

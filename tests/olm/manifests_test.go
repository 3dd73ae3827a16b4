package olm

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLocalOLMManifests is the part of `make test-olm` that runs everywhere
// (`make test`): OLM's quickstart manifests, as pinned (with the catalog
// operator's flags spelled as its binary needs), differ from what the real
// node installs only in image references, and name no remote image.
func TestLocalOLMManifests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, upstream, err := upstreamOLM(ctx)
	if err != nil {
		t.Skipf("OLM's module is not available (offline?): %v", err)
	}
	local, err := localOLM(upstream)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range olmFlagFixes() {
		upstream = strings.ReplaceAll(upstream, f[0], f[1])
	}
	up, lo := strings.Split(upstream, "\n"), strings.Split(local, "\n")
	added := 0
	for i, j := 0, 0; i < len(up); i, j = i+1, j+1 {
		if up[i] == lo[j] {
			continue
		}
		// The one added line sets the catalog operator's opm image.
		if strings.TrimSpace(lo[j+1]) == "- --opmImage="+opmImage {
			added++
			j++
		}
		for _, l := range []string{up[i], lo[j]} {
			if !strings.Contains(l, "image") && !strings.Contains(l, "Image") && !strings.HasPrefix(strings.TrimSpace(l), "-  ") {
				t.Errorf("line %d changed beyond an image reference:\n  upstream: %s\n  local:    %s", i+1, up[i], lo[j])
			}
		}
	}
	if added != 1 || len(lo) != len(up)+1 {
		t.Errorf("want exactly one added line (--opmImage), got %d (%d -> %d lines)", added, len(up), len(lo))
	}
	for _, want := range []string{olmImage, opmImage, catalogImage} {
		if !strings.Contains(local, want) {
			t.Errorf("the local manifests do not use %s", want)
		}
	}
}

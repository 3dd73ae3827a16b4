package realdisk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/agent"
	"github.com/ceph-operator/ceph-operator/internal/smart"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

// TestRealLoopHealth attaches a loop device, scans the real host and reads
// drive health as the agent does: the loop device is NotSupported, and
// smartctl is never run on it (a smartctl on PATH that records its calls
// proves it). When the real smartctl is installed, its own answer for the
// loop device parses as NotSupported too.
func TestRealLoopHealth(t *testing.T) {
	loopdev.RequireRoot(t)
	realSmartctl, _ := exec.LookPath("smartctl")
	dev := loopdev.Attach(t, loopdev.SparseFile(t, t.TempDir(), "health.img", smallSize), false)

	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	script := "#!/bin/sh\nfor a; do dev=\"$a\"; done\necho \"$dev\" >> " + calls + "\nexit 2\n"
	if err := os.WriteFile(filepath.Join(bin, "smartctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	devs, err := realScanner().Scan()
	if err != nil {
		t.Fatal(err)
	}
	(&agent.Smartctl{HostRoot: "/"}).Check(context.Background(), devs)
	found := false
	for _, d := range devs {
		if d.KernelName != dev.Name {
			continue
		}
		found = true
		if d.Health == nil || d.Health.Status != smart.NotSupported || !strings.Contains(d.Health.Message, "loop device") {
			t.Errorf("%s: health %+v, want NotSupported naming the loop device", dev.Name, d.Health)
		}
	}
	if !found {
		t.Fatalf("%s not found by the scan", dev.Name)
	}
	if b, _ := os.ReadFile(calls); strings.Contains(string(b), dev.Path+"\n") {
		t.Errorf("smartctl was run on the loop device: calls %q", b)
	}

	if realSmartctl == "" {
		t.Log("smartctl is not installed: its own answer for a loop device is not checked (the parser's test covers a recorded one)")
		return
	}
	out, _ := exec.Command(realSmartctl, "--json", "--all", "--nocheck=standby", dev.Path).Output()
	h, err := smart.Parse(out)
	if err != nil || h.Status != smart.NotSupported {
		t.Errorf("smartctl on %s: parsed %+v (%v) from %s", dev.Path, h, err, out)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
)

func TestAgentOSDFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"unknown step", []string{"--step=scrub", "--osd-id=1"}, "--step must be"},
		{"one OSD without id", []string{"--step=out"}, "needs --osd-id"},
		{"ok-to-stop without ids", []string{"--step=ok-to-stop"}, "needs --osd-ids"},
		{"ok-to-stop with a bad id", []string{"--step=ok-to-stop", "--osd-ids=1,x"}, "needs --osd-ids"},
		{"ok-to-stop with a negative id", []string{"--step=ok-to-stop", "--osd-ids=-1"}, "needs --osd-ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(append([]string{"agent", "osd", "--report="}, tc.args...), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.says) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tc.says)
			}
		})
	}
}

// TestAgentOSDOKToStop runs agent osd against a stand-in ceph tool that
// records its arguments and answers as Ceph does when the OSDs may stop,
// then when they may not (an error status).
func TestAgentOSDOKToStop(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	tool := filepath.Join(dir, "ceph")
	script := "#!/bin/sh\necho \"$@\" >>" + args + "\n" +
		"if [ -e " + filepath.Join(dir, "unsafe") + " ]; then echo 'Error EBUSY: unsafe to stop osd(s) at this time (8 PGs are or would become offline)' >&2; exit 16; fi\n" +
		// The manager's PG map and the OSD map, which a yes is checked
		// against: ready, and every PG of the pool known.
		"case \"$*\" in *'pg dump'*) echo '{\"pg_ready\":true,\"pg_stats\":[{\"pgid\":\"1.0\",\"state\":\"active+clean\",\"up\":[3,4],\"acting\":[3,4]}]}'; exit 0;; esac\n" +
		"case \"$*\" in *'osd dump'*) echo '{\"pools\":[{\"pool_name\":\"rbd\",\"size\":2,\"pg_num\":1}]}'; exit 0;; esac\n" +
		"echo '{\"ok_to_stop\":true,\"osds\":[3,4],\"num_ok_pgs\":12,\"num_not_ok_pgs\":0}'\n"
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report")
	flags := []string{"agent", "osd", "--step=ok-to-stop", "--osd-ids=3,4", "--ceph-binary=" + tool, "--report=" + report}
	var out, errOut bytes.Buffer
	if code := run(flags, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	var res osdop.Result
	b, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(b, &res) != nil || res.Outcome != osdop.Done || len(res.OSDIDs) != 2 {
		t.Fatalf("report %q (%v): want Done for OSDs 3 and 4", b, err)
	}
	called, _ := os.ReadFile(args)
	if !strings.Contains(string(called), "osd ok-to-stop 3 4") {
		t.Fatalf("the tool ran with %q, want osd ok-to-stop 3 4", called)
	}

	if err := os.WriteFile(filepath.Join(dir, "unsafe"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(flags, &out, &errOut); code != osdop.ExitCode(osdop.NotYet) || !strings.Contains(out.String(), "unsafe to stop") {
		t.Fatalf("exit %d, stdout %q: want %d and Ceph's reason", code, out.String(), osdop.ExitCode(osdop.NotYet))
	}
}

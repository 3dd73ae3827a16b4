package prepare

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeCephVolumeOnPath installs script as ceph-volume in a fresh directory
// put first on PATH for the test.
func fakeCephVolumeOnPath(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ceph-volume"), []byte("#!/bin/bash\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

// waitFile waits for path to exist (the script reached a point).
func waitFile(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// gone waits a little for pid to end: signals are delivered
// asynchronously.
func gone(pid int) bool {
	for i := 0; i < 250; i++ {
		if !alive(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func alive(pid int) bool {
	// Signal 0 checks existence; a zombie is gone for our purpose.
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestCommandExecutorStderrTail: a failure carries the end of stderr (not
// only the last line), bounded, and the error names the last line.
func TestCommandExecutorStderrTail(t *testing.T) {
	fakeCephVolumeOnPath(t, `
for i in $(seq 1 400); do echo "noise line $i ééé" >&2; done
echo "Traceback (most recent call last):" >&2
echo "RuntimeError: command returned non-zero exit status: 1" >&2
echo "partial stdout"
exit 1
`)
	out, err := CommandExecutor{}.CephVolume(context.Background(), "raw", "prepare")
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want *CommandError", err, err)
	}
	if !strings.HasSuffix(ce.Stderr, "Traceback (most recent call last):\nRuntimeError: command returned non-zero exit status: 1\n") {
		t.Errorf("stderr tail does not end with the traceback: %q", ce.Stderr[max(0, len(ce.Stderr)-200):])
	}
	if !strings.HasPrefix(ce.Stderr, "…") || len(ce.Stderr) > StderrTailBytes+len("…") {
		t.Errorf("stderr tail: %d bytes, prefix %q; want at most %d and a cut mark", len(ce.Stderr), ce.Stderr[:10], StderrTailBytes)
	}
	if !strings.Contains(ce.Stderr, "noise line 399") || !strings.Contains(err.Error(), "RuntimeError: command returned") {
		t.Errorf("error %q / tail lacks the last lines", err)
	}
	if string(out) != "partial stdout\n" {
		t.Errorf("stdout %q", out)
	}
}

// TestCommandExecutorForwardsSIGTERM: stopping the context sends SIGTERM to
// ceph-volume and its children (not SIGKILL), so it can clean up.
func TestCommandExecutorForwardsSIGTERM(t *testing.T) {
	dir := t.TempDir()
	fakeCephVolumeOnPath(t, `
trap 'echo "got TERM" > "$MARK/term"; echo "stopping on TERM" >&2; exit 143' TERM
sleep 300 &
echo $! > "$MARK/child"
touch "$MARK/started"
wait
`)
	t.Setenv("MARK", dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := CommandExecutor{GracePeriod: 30 * time.Second}.CephVolume(ctx, "raw", "prepare")
		done <- err
	}()
	waitFile(t, filepath.Join(dir, "started"))
	cancel()
	err := <-done
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Stderr, "stopping on TERM") {
		t.Errorf("error %v, want a CommandError with the script's stderr", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "term")); err != nil || string(b) != "got TERM\n" {
		t.Errorf("the script did not get SIGTERM: %q, %v", b, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "child"))
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid == 0 || !gone(pid) {
		t.Errorf("child %q of ceph-volume outlived it", b)
	}
}

// TestCommandExecutorKillsAfterGrace: a ceph-volume that ignores SIGTERM is
// killed after the grace period, its children with it.
func TestCommandExecutorKillsAfterGrace(t *testing.T) {
	dir := t.TempDir()
	fakeCephVolumeOnPath(t, `
trap '' TERM
sleep 300 &
echo $! > "$MARK/child"
touch "$MARK/started"
while true; do sleep 1; done
`)
	t.Setenv("MARK", dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := CommandExecutor{GracePeriod: 300 * time.Millisecond}.CephVolume(ctx, "raw", "prepare")
		done <- err
	}()
	waitFile(t, filepath.Join(dir, "started"))
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a killed ceph-volume reported success")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("ceph-volume ignoring SIGTERM was never killed")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "child"))
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid == 0 || !gone(pid) {
		t.Errorf("child %q of ceph-volume outlived the kill", b)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 8}
	_, _ = tb.Write([]byte("abc"))
	if tb.String() != "abc" {
		t.Errorf("short: %q", tb.String())
	}
	_, _ = tb.Write([]byte("défghijk")) // é is two bytes
	if got := tb.String(); got != "…éfghijk" {
		t.Errorf("cut: %q", got)
	}
	tb = &tailBuffer{max: 4}
	_, _ = tb.Write([]byte("xxééé")) // the cut falls inside an é
	if got := tb.String(); got != "…éé" {
		t.Errorf("cut inside a character: %q", got)
	}
}

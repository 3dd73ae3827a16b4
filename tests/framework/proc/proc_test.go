package proc

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	// The command name holds a space and a parenthesis.
	line := "4488 (etc d) x) S 1 4488 4488 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 9 0 959332 11111 222 0"
	got, err := ParseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if got != (Stat{PPID: 1, State: 'S', UserTicks: 1, SystemTicks: 2, StartTime: 959332}) {
		t.Errorf("ParseStat = %+v", got)
	}
	if _, err := ParseStat("12 (x) S 1"); err == nil {
		t.Error("ParseStat accepted a short line")
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	dir := t.TempDir()
	// The shell ignores SIGTERM, so Stop has to kill it.
	p, err := Start(Options{Name: "stubborn", Bin: "/bin/sh", Args: []string{"-c", `trap "" TERM; echo up; while :; do sleep 0.1; done`},
		LogPath: filepath.Join(dir, "stubborn.log")})
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "up")
	start := time.Now()
	p.Stop(300 * time.Millisecond)
	if exited, err := p.Exited(); !exited || err == nil {
		t.Fatalf("after Stop: exited %v, %v; want killed", exited, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Stop returned after %s, before the grace period", d)
	}
	if p.Rusage() == nil {
		t.Error("no rusage for an exited process")
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal to an exited process succeeded")
	}
}

func TestStartDetachedOutlivesAndIsFoundByStat(t *testing.T) {
	dir := t.TempDir()
	pid, startTime, err := StartDetached(Options{Name: "sleep", Bin: "sleep", Args: []string{"30"}, LogPath: filepath.Join(dir, "sleep.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_, _ = syscall.Wait4(pid, nil, 0, nil)
	}()
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.StartTime != startTime || st.PPID != os.Getpid() {
		t.Errorf("stat of the detached process: %+v, want start time %d, parent %d", st, startTime, os.Getpid())
	}
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Errorf("detached process is in session %d, want its own (%d)", sid, pid)
	}
}

func waitLog(t *testing.T, p *Process, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.LogTail(1), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not log %q", p.Name, want)
}

// Package operatorproc runs the operator binary as a separate process for
// the benchmarks and end-to-end tests, and observes it from outside: its
// peak RSS and CPU time from /proc, its work queues from its metrics, the
// API requests it makes from the API server's metrics, and the RBAC it runs
// with (that of the bundle's CSV, by impersonation).
package operatorproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Build builds ./cmd into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "ceph-operator")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the operator: %w\n%s", err, out)
	}
	return bin, nil
}

// Process is one run of the operator's manager as a separate process.
type Process struct {
	// Cmd is the running command.
	Cmd *exec.Cmd
	// MetricsAddr is the loopback address of its plain-HTTP metrics, if
	// Start was asked to serve them.
	MetricsAddr string
	// LogPath receives its standard output and error.
	LogPath string
	done    chan struct{}
	// usage is the process's resource usage, set once it has exited.
	usage *syscall.Rusage
	err   error
}

// Start runs `bin manager args…` with its output appended to logPath. With
// metrics, it also serves its metrics over plain HTTP on a free loopback
// port (MetricsAddr), which Queues and WaitIdle read.
func Start(bin string, args []string, logPath string, metrics bool) (*Process, error) {
	p := &Process{LogPath: logPath, done: make(chan struct{})}
	args = append([]string{"manager"}, args...)
	if metrics {
		addr, err := FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		p.MetricsAddr = addr
		args = append(args, "--metrics-bind-address="+addr, "--metrics-secure=false")
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Stdout, p.Cmd.Stderr = logf, logf
	if err := p.Cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	go func() {
		defer close(p.done)
		p.err = p.Cmd.Wait()
		_ = logf.Close()
		if ru, ok := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.usage = ru
		}
	}()
	return p, nil
}

// FreeLoopbackAddr returns a loopback address with a port free right now.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// 30 seconds.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Usage is a process's memory and CPU time.
type Usage struct {
	// PeakRSSBytes is the high-water mark of the resident set (VmHWM).
	PeakRSSBytes int64
	// RSSBytes is the resident set now (VmRSS); zero once exited.
	RSSBytes int64
	// CPU is user plus system time.
	CPU time.Duration
}

func (u Usage) String() string {
	return fmt.Sprintf("peak RSS %.0f MB, CPU %.1fs", float64(u.PeakRSSBytes)/(1<<20), u.CPU.Seconds())
}

// Usage reads VmHWM and VmRSS from /proc/<pid>/status and utime+stime
// from /proc/<pid>/stat of the running process.
func (p *Process) Usage() (Usage, error) {
	var u Usage
	pid := p.Cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("reading status of the operator: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			u.PeakRSSBytes = kb << 10
		case "VmRSS:":
			u.RSSBytes = kb << 10
		}
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("reading stat of the operator: %w", err)
	}
	// The command name in parentheses may hold spaces; the fields after
	// it are fixed: utime and stime are the 14th and 15th of the line,
	// the 12th and 13th after the closing parenthesis.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	if len(f) < 13 {
		return u, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	u.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	return u, nil
}

// FinalUsage is the usage of the exited process, from wait4's rusage.
func (p *Process) FinalUsage() (Usage, bool) {
	if p.usage == nil {
		return Usage{}, false
	}
	ru := p.usage
	return Usage{PeakRSSBytes: ru.Maxrss << 10, CPU: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}, true
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
	raw, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

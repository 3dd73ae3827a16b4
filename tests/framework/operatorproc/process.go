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
	"time"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/proc"
)

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

// Process is one run of the operator's manager as a separate process;
// proc.Process gives its command, log, exit and signals.
type Process struct {
	*proc.Process
	// MetricsAddr is the loopback address of its plain-HTTP metrics, if
	// Start was asked to serve them.
	MetricsAddr string
}

// Start runs `bin manager args…` with its output appended to logPath, and
// with the Go runtime settings of the bundle's manager container (its
// GOMEMLIMIT). With metrics, it also serves its metrics over plain HTTP on
// a free loopback port (MetricsAddr), which Queues and WaitIdle read.
func Start(bin string, args []string, logPath string, metrics bool) (*Process, error) {
	p := &Process{}
	env, err := runtimeEnv()
	if err != nil {
		return nil, err
	}
	args = append([]string{"manager"}, args...)
	if metrics {
		addr, err := FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		p.MetricsAddr = addr
		args = append(args, "--metrics-bind-address="+addr, "--metrics-secure=false")
	}
	p.Process, err = proc.Start(proc.Options{Name: "the operator", Bin: bin, Args: args, LogPath: logPath, Append: true, Env: env})
	if err != nil {
		return nil, err
	}
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
func (p *Process) Stop() { p.Process.Stop(30 * time.Second) }

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
	pid := p.Pid()
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
	st, err := proc.ReadStat(pid)
	if err != nil {
		return u, fmt.Errorf("reading stat of the operator: %w", err)
	}
	u.CPU = st.CPU()
	return u, nil
}

// FinalUsage is the usage of the exited process, from wait4's rusage.
func (p *Process) FinalUsage() (Usage, bool) {
	ru := p.Rusage()
	if ru == nil {
		return Usage{}, false
	}
	return Usage{PeakRSSBytes: ru.Maxrss << 10, CPU: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}, true
}

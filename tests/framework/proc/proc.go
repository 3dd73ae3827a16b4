// Package proc starts, observes and stops the programs the test harnesses
// run as separate processes: the control plane (controlplane), the
// operator (operatorproc), simulated nodes' agents (simnode) and the real
// node's daemons (realnode). Each process logs to a file of its own.
//
// A process started by Start lives and dies with the Go process that
// started it: Stop ends it, and its exit is observed with Done. One
// started by StartDetached outlives it (make cluster-up returns while the
// real node runs) and is found again by PID and start time (Stat), so a
// later process reusing the PID is never signalled.
package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options says what to run and how.
type Options struct {
	// Name names the process in errors.
	Name string
	// Bin and Args are the command line.
	Bin  string
	Args []string
	// Env is added to this process's environment.
	Env []string
	// LogPath receives standard output and error. It is truncated unless
	// Append is set.
	LogPath string
	Append  bool
	// ExtraFiles are passed to the process as file descriptors 3, 4, ...
	// (e.g. a listening socket it is to serve).
	ExtraFiles []*os.File
	// Group starts the process in a process group of its own, so a Ctrl-C
	// at the terminal reaches only the Go process, which then stops its
	// children in order.
	Group bool
}

// Process is a running (or exited) process started by Start.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string
	done    chan struct{}
	err     error
	usage   *syscall.Rusage
}

func (o Options) command() (*exec.Cmd, *os.File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if o.Append {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logf, err := os.OpenFile(o.LogPath, flags, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("creating %s: %w", o.LogPath, err)
	}
	cmd := exec.Command(o.Bin, o.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = o.ExtraFiles
	if len(o.Env) > 0 {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	return cmd, logf, nil
}

// Start runs the process and returns at once.
func Start(o Options) (*Process, error) {
	cmd, logf, err := o.command()
	if err != nil {
		return nil, err
	}
	if o.Group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", o.Name, err)
	}
	p := &Process{Name: o.Name, Cmd: cmd, LogPath: o.LogPath, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
		_ = logf.Close()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.usage = ru
		}
	}()
	return p, nil
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Signal sends sig to the running process: SIGKILL to crash it, SIGSTOP to
// freeze it, SIGCONT to let a frozen process run on.
func (p *Process) Signal(sig syscall.Signal) error {
	if exited, _ := p.Exited(); exited {
		return fmt.Errorf("%s (pid %d) has exited", p.Name, p.Pid())
	}
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("sending %s to %s (pid %d): %w", sig, p.Name, p.Pid(), err)
	}
	return nil
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// grace. It returns at once when the process has already exited.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Rusage is the exited process's resource usage from wait4, or nil while
// it runs.
func (p *Process) Rusage() *syscall.Rusage {
	select {
	case <-p.done:
		return p.usage
	default:
		return nil
	}
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

// StartDetached runs the process in a session of its own, so that neither
// a Ctrl-C nor the end of the Go process that started it reaches it, and
// returns its PID and start time (Stat.StartTime) without waiting for it.
func StartDetached(o Options) (pid int, startTime uint64, err error) {
	cmd, logf, err := o.command()
	if err != nil {
		return 0, 0, err
	}
	// The child keeps its own descriptor of the log; closing ours is
	// best effort.
	defer func() { _ = logf.Close() }()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("starting %s: %w", o.Name, err)
	}
	pid = cmd.Process.Pid
	_ = cmd.Process.Release()
	st, err := ReadStat(pid)
	if err != nil {
		return pid, 0, fmt.Errorf("%s exited at once; see %s", o.Name, o.LogPath)
	}
	return pid, st.StartTime, nil
}

// Stat is the part of /proc/PID/stat the harnesses use.
type Stat struct {
	// PPID is the parent's PID (field 4).
	PPID int
	// State is R, S, D, Z, T, ... (field 3).
	State byte
	// UserTicks and SystemTicks are the CPU times in clock ticks (fields
	// 14 and 15); see ClockTicks.
	UserTicks, SystemTicks int64
	// StartTime is when the process started, in clock ticks since boot
	// (field 22): with the PID it names one process.
	StartTime uint64
}

// ClockTicks is USER_HZ, the unit of Stat's times; it is 100 on every
// Linux architecture Go supports.
const ClockTicks = 100

// CPU is the process's user plus system time.
func (s Stat) CPU() time.Duration {
	return time.Duration(s.UserTicks+s.SystemTicks) * time.Second / ClockTicks
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(string(raw))
}

// ParseStat parses a /proc/PID/stat line. The command name (field 2) may
// hold spaces and parentheses, so fields are counted from its closing one.
func ParseStat(s string) (Stat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Stat{}, errors.New("malformed stat")
	}
	// f[0] is field 3 (state), f[1] field 4, f[11] and f[12] fields 14 and
	// 15, f[19] field 22.
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return Stat{}, errors.New("malformed stat")
	}
	var st Stat
	var err error
	st.State = f[0][0]
	if st.PPID, err = strconv.Atoi(f[1]); err != nil {
		return Stat{}, fmt.Errorf("malformed stat: %w", err)
	}
	if st.UserTicks, err = strconv.ParseInt(f[11], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("malformed stat: %w", err)
	}
	if st.SystemTicks, err = strconv.ParseInt(f[12], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("malformed stat: %w", err)
	}
	if st.StartTime, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("malformed stat: %w", err)
	}
	return st, nil
}

package operatorproc

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"
)

// leaseAcquiredLine is what client-go's leader election logs once this
// process holds the Lease. Replicas on one host share the host name that
// starts a holder identity, so the log is what tells them apart.
var leaseAcquiredLine = []byte("successfully acquired lease")

// Signal sends sig to the running process: SIGKILL to crash it, SIGSTOP to
// freeze it, SIGCONT to let a frozen process run on.
func (p *Process) Signal(sig syscall.Signal) error {
	if exited, _ := p.Exited(); exited {
		return fmt.Errorf("the operator (pid %d) has exited", p.Cmd.Process.Pid)
	}
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("sending %s to the operator (pid %d): %w", sig, p.Cmd.Process.Pid, err)
	}
	return nil
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// LogSize is the current size of the process's log: an offset to pass to
// LeaseAcquired or LogSince to look only at what it logs from now on.
func (p *Process) LogSize() int64 {
	fi, err := os.Stat(p.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogSince returns what the process logged from offset on.
func (p *Process) LogSince(offset int64) ([]byte, error) {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// LeaseAcquired reports whether the process logged, at or after offset,
// that it acquired the leader election Lease.
func (p *Process) LeaseAcquired(offset int64) bool {
	raw, err := p.LogSince(offset)
	return err == nil && bytes.Contains(bytes.ToLower(raw), leaseAcquiredLine)
}

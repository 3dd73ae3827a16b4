package operatorproc

import (
	"bytes"
	"io"
	"os"
)

// leaseAcquiredLine is what client-go's leader election logs once this
// process holds the Lease. Replicas on one host share the host name that
// starts a holder identity, so the log is what tells them apart.
var leaseAcquiredLine = []byte("successfully acquired lease")

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

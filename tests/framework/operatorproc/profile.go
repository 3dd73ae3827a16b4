package operatorproc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// ProfileEnv is the environment variable that, when set, makes the
// benchmarks profile the operator: it serves Go's profiles on a loopback
// port (--pprof-bind-address), and the benchmark saves a CPU profile and
// heap profiles next to its log.
const ProfileEnv = "CEPH_OPERATOR_BENCH_PROFILE"

// Profiling reports whether ProfileEnv is set.
func Profiling() bool { return os.Getenv(ProfileEnv) != "" }

// Profiler fetches Go's profiles from an operator started with
// --pprof-bind-address=Addr.
type Profiler struct{ Addr string }

// NewProfiler returns a Profiler on a free loopback port and the flag that
// makes the operator serve it, or a nil Profiler and no flag when not
// Profiling.
func NewProfiler() (*Profiler, []string, error) {
	if !Profiling() {
		return nil, nil, nil
	}
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return nil, nil, err
	}
	return &Profiler{Addr: addr}, []string{"--pprof-bind-address=" + addr}, nil
}

// Save fetches /debug/pprof/<what> into path. A nil Profiler saves nothing.
func (pr *Profiler) Save(path, what string) error {
	if pr == nil {
		return nil
	}
	// The operator may not be listening yet right after it started.
	var resp *http.Response
	var err error
	for try := 0; try < 50; try++ {
		if resp, err = http.Get("http://" + pr.Addr + "/debug/pprof/" + what); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("fetching %s profile: %w", what, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s profile: %s", what, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// KeepPeakHeap saves a heap profile to path every time p's resident set
// is found above its highest value so far (checked every interval), until
// ctx ends or p exits, so that path holds the heap closest to the peak
// RSS. A nil Profiler does nothing.
func (pr *Profiler) KeepPeakHeap(ctx context.Context, p *Process, path string, interval time.Duration) {
	if pr == nil {
		return
	}
	var highest int64
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if exited, _ := p.Exited(); exited {
			return
		}
		u, err := p.Usage()
		if err != nil || u.RSSBytes <= highest {
			continue
		}
		highest = u.RSSBytes
		_ = pr.Save(path, "heap")
	}
}

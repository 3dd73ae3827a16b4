package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// profiling is true when the benchmark profiles the operator
// (CEPH_OPERATOR_BENCH_PROFILE set): it serves Go's profiles on a loopback
// port (--pprof-bind-address), and the benchmark saves a CPU profile of the
// provisioning and a heap profile once everything is provisioned.
func profiling() bool { return os.Getenv("CEPH_OPERATOR_BENCH_PROFILE") != "" }

// buildOperator builds ./cmd into dir and returns the binary's path.
func buildOperator(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "ceph-operator")
	pkg := "./cmd"
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the operator: %v\n%s", err, out)
	}
	return bin
}

// operator is one run of the operator's manager as a separate process.
type operator struct {
	cmd         *exec.Cmd
	metricsAddr string
	// pprofAddr serves Go's profiles when profiling.
	pprofAddr string
	logPath   string
	done      chan struct{}
	// usage is the process's resource usage, set once it has exited.
	usage *syscall.Rusage
	err   error
}

// startOperator runs `ceph-operator manager` against the API server,
// watching namespace ns, with its metrics served over plain HTTP on a
// loopback port (read for its work queues) and its log in logPath.
func startOperator(t *testing.T, bin, kubeconfig, ns, logPath string) *operator {
	t.Helper()
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "manager",
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address="+addr,
		"--metrics-secure=false",
		"--health-probe-bind-address=0",
		"--watch-namespaces="+ns,
		"--operator-image=ceph-operator:bench",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	var pprofAddr string
	if profiling() {
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			t.Fatal(err)
		}
		cmd.Args = append(cmd.Args, "--pprof-bind-address="+pprofAddr)
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("starting the operator: %v", err)
	}
	op := &operator{cmd: cmd, metricsAddr: addr, pprofAddr: pprofAddr, logPath: logPath, done: make(chan struct{})}
	if profiling() {
		// A CPU profile of the first minutes, the provisioning.
		go func() {
			_ = op.saveProfile(strings.TrimSuffix(logPath, ".log")+".cpu.pprof", "profile?seconds="+cpuProfileSeconds())
		}()
	}
	go func() {
		defer close(op.done)
		op.err = cmd.Wait()
		_ = logf.Close()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			op.usage = ru
		}
	}()
	t.Cleanup(func() { op.stop() })
	return op
}

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// stop sends SIGTERM and waits for the process to exit.
func (o *operator) stop() {
	select {
	case <-o.done:
		return
	default:
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
	case <-time.After(30 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.done
	}
}

// exited reports whether the process has exited, and how.
func (o *operator) exited() (bool, error) {
	select {
	case <-o.done:
		return true, o.err
	default:
		return false, nil
	}
}

// procStats are the process's peak RSS and CPU time.
type procStats struct {
	peakRSSBytes int64
	rssBytes     int64
	cpu          time.Duration
}

func (s procStats) String() string {
	return fmt.Sprintf("peak RSS %.0f MB, CPU %.1fs", float64(s.peakRSSBytes)/(1<<20), s.cpu.Seconds())
}

// stats reads VmHWM, VmRSS and utime+stime of the running process.
func (o *operator) stats() (procStats, error) {
	var st procStats
	pid := o.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, fmt.Errorf("reading status of the operator: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			st.peakRSSBytes = kb << 10
		case "VmRSS:":
			st.rssBytes = kb << 10
		}
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, fmt.Errorf("reading stat of the operator: %w", err)
	}
	// The command name in parentheses may hold spaces; the fields after
	// it are fixed: utime and stime are the 14th and 15th of the line,
	// the 12th and 13th after the closing parenthesis.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	if len(f) < 13 {
		return st, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	st.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	return st, nil
}

// finalStats are the stats of the exited process, from wait4's rusage.
func (o *operator) finalStats() (procStats, bool) {
	if o.usage == nil {
		return procStats{}, false
	}
	ru := o.usage
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return procStats{peakRSSBytes: ru.Maxrss << 10, cpu: cpu}, true
}

// queueState is what the operator's metrics say about its controllers.
type queueState struct {
	// reconciles counts finished reconciles per controller.
	reconciles map[string]float64
	// busy is true while a queue holds work or a worker is reconciling.
	busy bool
}

// queues reads the operator's controller metrics.
func (o *operator) queues(ctx context.Context) (queueState, error) {
	qs := queueState{reconciles: map[string]float64{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.metricsAddr+"/metrics", nil)
	if err != nil {
		return qs, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return qs, fmt.Errorf("reading the operator's metrics: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return qs, fmt.Errorf("reading the operator's metrics: %w", err)
	}
	for _, s := range parseMetric(raw, "controller_runtime_reconcile_total") {
		qs.reconciles[s.labels["controller"]] += s.value
	}
	for _, name := range []string{"workqueue_depth", "controller_runtime_active_workers"} {
		for _, s := range parseMetric(raw, name) {
			if s.value > 0 {
				qs.busy = true
			}
		}
	}
	return qs, nil
}

// waitIdle waits until every controller has reconciled at least once more
// than in after (nil: at least once), and then neither queue nor worker has
// had work for quiet. It returns the time the last reconcile ended, as
// closely as polling tells.
func (o *operator) waitIdle(ctx context.Context, after map[string]float64, quiet, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var last queueState
	lastChange := time.Now()
	for {
		if exited, err := o.exited(); exited {
			return time.Time{}, fmt.Errorf("the operator exited: %v (log %s)", err, o.logPath)
		}
		qs, err := o.queues(ctx)
		if err == nil {
			if qs.busy || !equalCounts(qs.reconciles, last.reconciles) {
				lastChange = time.Now()
			}
			last = qs
			advanced := len(qs.reconciles) >= 2
			for name, n := range qs.reconciles {
				if n <= after[name] {
					advanced = false
				}
			}
			if advanced && !qs.busy && time.Since(lastChange) >= quiet {
				return lastChange, nil
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("the operator was not idle within %s (reconciles %v, busy %v, metrics error %v)", timeout, last.reconciles, last.busy, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func equalCounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// logTail returns the last n lines of the operator's log.
func (o *operator) logTail(n int) string {
	raw, err := os.ReadFile(o.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cpuProfileSeconds is how long the CPU profile runs
// (CEPH_OPERATOR_BENCH_CPU_SECONDS, default 180).
func cpuProfileSeconds() string {
	if s := os.Getenv("CEPH_OPERATOR_BENCH_CPU_SECONDS"); s != "" {
		return s
	}
	return "180"
}

// saveProfile fetches /debug/pprof/<what> from the operator into path.
func (o *operator) saveProfile(path, what string) error {
	if o.pprofAddr == "" {
		return nil
	}
	// The operator may not be listening yet right after it started.
	var resp *http.Response
	var err error
	for try := 0; try < 50; try++ {
		if resp, err = http.Get("http://" + o.pprofAddr + "/debug/pprof/" + what); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("fetching %s profile: %w", what, err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/tests/framework/operatorproc"
)

// profiling is true when the benchmark profiles the operator
// (CEPH_OPERATOR_BENCH_PROFILE set): it serves Go's profiles on a loopback
// port (--pprof-bind-address), and the benchmark saves a CPU profile of the
// provisioning and a heap profile once everything is provisioned.
func profiling() bool { return os.Getenv("CEPH_OPERATOR_BENCH_PROFILE") != "" }

// buildOperator builds ./cmd into dir and returns the binary's path.
func buildOperator(t *testing.T, dir string) string {
	t.Helper()
	bin, err := operatorproc.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// operator is one run of the operator's manager as a separate process.
type operator struct {
	*operatorproc.Process
	// pprofAddr serves Go's profiles when profiling.
	pprofAddr string
}

// startOperator runs `ceph-operator manager` against the API server,
// watching namespace ns, with its metrics served over plain HTTP on a
// loopback port (read for its work queues) and its log in logPath.
func startOperator(t *testing.T, bin, kubeconfig, ns, logPath string) *operator {
	t.Helper()
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--health-probe-bind-address=0",
		"--watch-namespaces=" + ns,
		"--operator-image=ceph-operator:bench",
	}
	var pprofAddr string
	if profiling() {
		var err error
		if pprofAddr, err = operatorproc.FreeLoopbackAddr(); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	p, err := operatorproc.Start(bin, args, logPath, true)
	if err != nil {
		t.Fatal(err)
	}
	op := &operator{Process: p, pprofAddr: pprofAddr}
	if profiling() {
		// A CPU profile of the first minutes, the provisioning.
		go func() {
			_ = op.saveProfile(strings.TrimSuffix(logPath, ".log")+".cpu.pprof", "profile?seconds="+cpuProfileSeconds())
		}()
	}
	t.Cleanup(op.Stop)
	return op
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
	defer func() { _ = resp.Body.Close() }()
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

package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/tests/framework/operatorproc"
)

// profiling is true when the benchmark profiles the operator
// (operatorproc.ProfileEnv set): it saves a CPU profile of the
// provisioning, a heap profile once everything is provisioned, and the heap
// profile taken nearest the peak RSS.
func profiling() bool { return operatorproc.Profiling() }

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
	// prof fetches Go's profiles when profiling.
	prof *operatorproc.Profiler
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
	prof, flags, err := operatorproc.NewProfiler()
	if err != nil {
		t.Fatal(err)
	}
	p, err := operatorproc.Start(bin, append(args, flags...), logPath, true)
	if err != nil {
		t.Fatal(err)
	}
	op := &operator{Process: p, prof: prof}
	if prof != nil {
		base := strings.TrimSuffix(logPath, ".log")
		// A CPU profile of the first minutes, the provisioning.
		go func() { _ = prof.Save(base+".cpu.pprof", "profile?seconds="+cpuProfileSeconds()) }()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go prof.KeepPeakHeap(ctx, p, base+".heap-peak.pprof", 2*time.Second)
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
func (o *operator) saveProfile(path, what string) error { return o.prof.Save(path, what) }

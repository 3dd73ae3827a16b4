// Package gate decides, in one place, whether a test runs on this machine.
//
// A suite that is slow, needs root, or changes the machine runs only when
// its switch (an environment variable the make target sets) is on; tests
// that need root, a device or a host tool skip with a message that says
// what is missing and which command provides it. Every such check in
// tests/ goes through this package, so tests/README.md can list each
// suite's requirements from the calls below.
//
// A switch is on when its variable is set to anything but "" or "0":
// `make test-chaos` sets CEPH_OPERATOR_CHAOS=1, `make test-real`
// CEPH_OPERATOR_REAL=1, and so on.
package gate

import (
	"os"
	"os/exec"
	"testing"
)

// The suite switches and the make targets that turn them on.
const (
	// Chaos runs the leader chaos test (make test-chaos).
	Chaos = "CEPH_OPERATOR_CHAOS"
	// Real runs the real-node suites: the node itself (make test-realnode)
	// and real Ceph on it (make test-real). Needs root.
	Real = "CEPH_OPERATOR_REAL"
	// RealKeep leaves a real node a test started up when the test ends,
	// for a look afterwards (make cluster-down stops it).
	RealKeep = "CEPH_OPERATOR_REAL_KEEP"
	// RealKeepImages keeps the images a real-node test imported when the
	// test takes its nodes down, so the next test starts without
	// importing them again. Off by default: each node keeps its own
	// unpacked copy of every image (about 0.7 GB per Ceph image and
	// node), and a run of every real suite would hold them all at once.
	RealKeepImages = "CEPH_OPERATOR_REAL_KEEP_IMAGES"
	// OLM runs OLM on the real node (make test-olm). Needs root.
	OLM = "CEPH_OPERATOR_OLM"
	// Bench runs the envtest scale benchmark (make bench).
	Bench = "CEPH_OPERATOR_BENCH"
	// BenchE2E runs the scale run on a full control plane (make bench-e2e).
	BenchE2E = "CEPH_OPERATOR_BENCH_E2E"
	// Prometheus says promtool and prometheus were built into bin/ for
	// this run (make test, make test-alerts): the alerting-rule tests that
	// execute them fail rather than skip when one is missing.
	Prometheus = "CEPH_OPERATOR_PROMETHEUS"
)

// On reports whether the switch named name is on: its environment
// variable is set to something other than "" or "0".
func On(name string) bool {
	v := os.Getenv(name)
	return v != "" && v != "0"
}

// Env skips the test with why unless the switch name is on.
func Env(tb testing.TB, name, why string) {
	tb.Helper()
	if !On(name) {
		tb.Skip(why)
	}
}

// IsRoot reports whether the test runs as root.
func IsRoot() bool { return os.Geteuid() == 0 }

// Root skips the test with why unless it runs as root.
func Root(tb testing.TB, why string) {
	tb.Helper()
	if !IsRoot() {
		tb.Skip(why)
	}
}

// MustRoot fails the test with why unless it runs as root: for a suite
// whose switch is on, where running without root is a mistake to report
// rather than a reason to skip.
func MustRoot(tb testing.TB, why string) {
	tb.Helper()
	if !IsRoot() {
		tb.Fatal(why)
	}
}

// Exists reports whether path exists, for checks made before there is a
// test (TestMain).
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// File skips the test with why unless path exists.
func File(tb testing.TB, path, why string) {
	tb.Helper()
	if !Exists(path) {
		tb.Skip(why)
	}
}

// Need skips the test with why unless path exists, or fails it when the
// switch name is on: the make target that set the switch built path, so
// its absence is a failure to report, not a reason to skip.
func Need(tb testing.TB, name, path, why string) {
	tb.Helper()
	if Exists(path) {
		return
	}
	if On(name) {
		tb.Fatalf("%s is missing although %s is set: %s", path, name, why)
	}
	tb.Skip(why)
}

// Tools skips the test unless every tool is on PATH. The message names the
// first missing tool and then says hint, e.g. " (run
// hack/install-node-tools.sh)".
func Tools(tb testing.TB, hint string, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("skipping: %s is not installed%s", tool, hint)
		}
	}
}

// Long skips the test with why under go test -short (make test-unit).
func Long(tb testing.TB, why string) {
	tb.Helper()
	if testing.Short() {
		tb.Skip(why)
	}
}

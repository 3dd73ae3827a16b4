package realdisk

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

// lsblkOutput is the part of `lsblk --json` the shell-out approach needs.
type lsblkOutput struct {
	BlockDevices []struct {
		Name string `json:"name"`
	} `json:"blockdevices"`
}

// shellOutScan gathers what the Go scanner gathers the way many node agents
// do: one lsblk for the device tree and one udevadm per device for its
// properties. It returns the number of devices seen.
func shellOutScan() (int, error) {
	out, err := exec.Command("lsblk", "--json", "-b", "-O").Output()
	if err != nil {
		return 0, fmt.Errorf("running lsblk: %w", err)
	}
	var parsed lsblkOutput
	if err := json.Unmarshal(out, &parsed); err != nil {
		return 0, fmt.Errorf("parsing lsblk output: %w", err)
	}
	for _, d := range parsed.BlockDevices {
		if _, err := exec.Command("udevadm", "info", "--query=property", "--name="+d.Name).Output(); err != nil {
			return 0, fmt.Errorf("running udevadm for %s: %w", d.Name, err)
		}
	}
	return len(parsed.BlockDevices), nil
}

func requireShellOutTools(tb testing.TB) {
	tb.Helper()
	gate.Tools(tb, ", so the shell-out approach cannot be measured (run hack/install-node-tools.sh)", "lsblk", "udevadm")
}

// BenchmarkRealRootGoScanner scans this machine's real block devices with
// the Go scanner (sysfs, mount table, udev database, signature probe).
func BenchmarkRealRootGoScanner(b *testing.B) {
	loopdev.RequireRoot(b)
	s := realScanner()
	for b.Loop() {
		if _, err := s.Scan(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRealRootShellOut gathers the same devices with lsblk plus one
// udevadm call per device.
func BenchmarkRealRootShellOut(b *testing.B) {
	loopdev.RequireRoot(b)
	requireShellOutTools(b)
	for b.Loop() {
		if _, err := shellOutScan(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanFixture60Disks is discovery's BenchmarkScan60Disks under the
// name the performance figures use: a dense 60-disk server as a fixture.
func BenchmarkScanFixture60Disks(b *testing.B) {
	root := b.TempDir()
	if _, err := fixture.ManyDisks(root, 60); err != nil {
		b.Fatal(err)
	}
	s := discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}
	for b.Loop() {
		if devs, err := s.Scan(); err != nil || len(devs) != 60 {
			b.Fatalf("scan: %d devices, %v", len(devs), err)
		}
	}
}

// TestScanVersusShellOutFigures measures both approaches on this machine's
// real devices and prints the figures and their ratio. It asserts nothing
// about speed (that depends on the machine); it fails only if either
// approach fails or they disagree on how many devices there are.
func TestScanVersusShellOutFigures(t *testing.T) {
	loopdev.RequireRoot(t)
	requireShellOutTools(t)
	gate.Long(t, "skipping: timing figures are not needed with -short")
	devs, err := realScanner().Scan()
	if err != nil {
		t.Fatal(err)
	}
	n, err := shellOutScan()
	if err != nil {
		t.Fatal(err)
	}
	// lsblk hides unattached (zero-sized) loop devices, as the agent does;
	// sysfs lists them.
	listed := 0
	for _, d := range devs {
		if d.Type != discovery.TypeLoop || d.SizeBytes > 0 {
			listed++
		}
	}
	if listed != n {
		t.Errorf("the Go scanner lists %d devices, lsblk %d", listed, n)
	}
	goScan := testing.Benchmark(BenchmarkRealRootGoScanner)
	shell := testing.Benchmark(BenchmarkRealRootShellOut)
	if goScan.N == 0 || shell.N == 0 {
		t.Fatal("a benchmark did not run")
	}
	g, s := time.Duration(goScan.NsPerOp()), time.Duration(shell.NsPerOp())
	line := fmt.Sprintf("real-root scan of %d sysfs devices (%d listed by lsblk): Go scanner %s/op, lsblk+udevadm %s/op, shell-out is %.1fx slower",
		len(devs), n, g, s, float64(s)/float64(g))
	t.Log(line)
	fmt.Println(line)
}

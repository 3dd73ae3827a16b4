package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain runs main when the test binary is started as the plugin by
// runPlugin, so the tests see its real exit code and output.
func TestMain(m *testing.M) {
	if os.Getenv("KUBECTL_CEPH_TEST_AS_PLUGIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func runPlugin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KUBECTL_CEPH_TEST_AS_PLUGIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestExitCodes checks the binary's contract with kubectl and scripts: 0
// and the output on stdout on success, 1 and "error: ..." on stderr on
// failure.
func TestExitCodes(t *testing.T) {
	stdout, _, code := runPlugin(t, "--help")
	if code != 0 || !strings.Contains(stdout, "kubectl ceph [command]") {
		t.Errorf("--help: exit %d, output:\n%s", code, stdout)
	}
	stdout, stderr, code := runPlugin(t, "--kubeconfig", t.TempDir()+"/missing", "status")
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "error: loading the kubeconfig: ") {
		t.Errorf("status with a missing kubeconfig: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, stderr, code = runPlugin(t, "frobnicate")
	if code != 1 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
}

package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestAgentReportFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"agent", "report", "-h"}, &out, &errOut); code != 2 {
		t.Errorf("agent report -h: exit %d", code)
	}
	for _, flag := range []string{"-cluster-name", "-namespace", "-ceph-binary", "-conf", "-keyring", "-ceph-id", "-interval", "-timeout", "-refresh", "-kubeconfig"} {
		if !strings.Contains(errOut.String(), flag) {
			t.Errorf("agent report -h does not list %s:\n%s", flag, errOut.String())
		}
	}
	errOut.Reset()
	t.Setenv("POD_NAMESPACE", "")
	if code := run([]string{"agent", "report", "--interval", "0s"}, &out, &errOut); code != 2 {
		t.Errorf("agent report without a cluster name: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"agent", "help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "report") {
		t.Errorf("agent help does not list report: %q", out.String())
	}
}

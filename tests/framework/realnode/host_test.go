package realnode

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

func TestSplitRule(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{`-A INPUT -j KUBE-FIREWALL`, []string{"-A", "INPUT", "-j", "KUBE-FIREWALL"}},
		{`-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`,
			[]string{"-A", "FORWARD", "-m", "comment", "--comment", "kubernetes forwarding rules", "-j", "KUBE-FORWARD"}},
		{`-A X -m comment --comment "say \"hi\"" -j Y`, []string{"-A", "X", "-m", "comment", "--comment", `say "hi"`, "-j", "Y"}},
		{`-A X -m comment --comment "" -j Y`, []string{"-A", "X", "-m", "comment", "--comment", "", "-j", "Y"}},
		{``, nil},
	}
	for _, tt := range tests {
		if got := splitRule(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestNewKubeChainsAndJumps(t *testing.T) {
	before := chains("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-N KUBE-OLD\n-N DOCKER\n")
	rules := `-P INPUT ACCEPT
-P FORWARD ACCEPT
-N CEPHRN-FORWARD
-N DOCKER
-N KUBE-FIREWALL
-N KUBE-OLD
-N OTHER-NEW
-A INPUT -j KUBE-FIREWALL
-A INPUT -j KUBE-OLD
-A FORWARD -m comment --comment "kubernetes forwarding rules" -g KUBE-FIREWALL
-A KUBE-FIREWALL -j DROP
-A DOCKER -j RETURN
`
	added := newChains(before, chains(rules), "KUBE-")
	if want := []string{"KUBE-FIREWALL"}; !reflect.DeepEqual(added, want) {
		t.Fatalf("new KUBE chains = %q, want %q (pre-existing and foreign chains must be kept)", added, want)
	}
	got := jumpsTo(rules, map[string]bool{"KUBE-FIREWALL": true})
	want := [][]string{
		{"INPUT", "-j", "KUBE-FIREWALL"},
		{"FORWARD", "-m", "comment", "--comment", "kubernetes forwarding rules", "-g", "KUBE-FIREWALL"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("jumpsTo = %q, want %q", got, want)
	}
}

func TestMountPoint(t *testing.T) {
	line := `812 27 0:92 / /work/bin/realnode/run/kubelet/pods/a\040b/volumes rw,relatime shared:1 - tmpfs tmpfs rw`
	got, ok := mountPoint(line)
	if !ok || got != "/work/bin/realnode/run/kubelet/pods/a b/volumes" {
		t.Errorf("mountPoint = %q, %v", got, ok)
	}
	if _, ok := mountPoint("short line"); ok {
		t.Error("mountPoint accepted a malformed line")
	}
}

// TestMountsUnderThroughSymlink mounts a tmpfs below a directory and looks
// for it, and unmounts it, through a symbolic link to that directory, as a
// clone whose bin/ links to another clone's does.
func TestMountsUnderThroughSymlink(t *testing.T) {
	gate.Root(t, "skipping: mounting a tmpfs needs root")
	target := t.TempDir()
	link := filepath.Join(t.TempDir(), "bin")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(target, "run", "kubelet")
	if err := os.MkdirAll(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mp, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mp, syscall.MNT_DETACH) })
	got, err := mountsUnder(link)
	if err != nil || !reflect.DeepEqual(got, []string{mp}) {
		t.Fatalf("mountsUnder(%s) = %v, %v; want [%s]", link, got, err, mp)
	}
	if err := unmountAll(link); err != nil {
		t.Fatalf("unmountAll(%s): %v", link, err)
	}
	if got, err := mountsUnder(target); err != nil || len(got) != 0 {
		t.Errorf("after unmountAll through the link: %v, %v", got, err)
	}
}

package realnode

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

// probeImage is built from ./probe and imported by the test.
const probeImage = "localhost/ceph-operator/realnode-probe:test"

// TestRealNode brings the real node up, checks that the machine's root
// network namespace got no address, link or chain of it, runs a privileged
// host-network pod and a restricted pod-network pod that both reach the API
// server through the kubernetes Service, then tears the node down and
// checks that nothing is left. It needs root and runs only with CEPH_OPERATOR_REAL=1 (`make
// test-realnode`), because it changes the machine's network while it runs.
func TestRealNode(t *testing.T) {
	gate.Env(t, gate.Real, "set CEPH_OPERATOR_REAL=1 (as root) to run the real node: make test-realnode")
	gate.MustRoot(t, "CEPH_OPERATOR_REAL=1 needs root")
	ctx := context.Background()
	o := Options{Log: TestLog{t}}
	sysctlsBefore := snapshotSysctls()
	chainsBefore := snapshotChains()
	linksBefore := links(t)
	addrsBefore := rootAddresses(t)
	nsfsBefore := nsfsMounts(t)
	missingBefore := missingDirs(hostDirs())
	_, udevDaemon := os.Stat(udevDaemonFile)

	start := time.Now()
	c, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if c.AlreadyRunning {
		t.Fatalf("a real node is already up in %s; this test starts and stops its own: run 'make cluster-down' first", c.Dir)
	}
	upTime := time.Since(start)
	tornDown := false
	t.Cleanup(func() {
		if !tornDown {
			if err := c.Down(context.Background()); err != nil {
				t.Errorf("tearing down after a failure: %v", err)
			}
			t.Logf("logs kept in %s", c.LogDir)
		}
	})
	t.Logf("up in %s; logs in %s", upTime.Round(100*time.Millisecond), c.LogDir)

	// Every address of the cluster is in its own namespaces: the root
	// namespace has the addresses, links and chains it had before, and the
	// API server answers here on loopback only.
	checkRootUntouched(t, "while the node is up", addrsBefore, linksBefore, chainsBefore)
	if udevDaemon != nil {
		checkUdevDatabase(t)
	}
	if !strings.HasPrefix(c.Config.Host, "https://127.0.0.1:") {
		t.Errorf("kubeconfig server = %s, want one on 127.0.0.1", c.Config.Host)
	}
	for file, want := range map[string]string{c.ControlPlaneNetns: ControlPlaneIP, c.NodeNetns: NodeIP} {
		if addrs := netnsAddresses(t, file); !containsPrefix(addrs, want+"/") {
			t.Errorf("namespace %s: addresses %v, want %s", file, addrs, want)
		}
	}

	// Up returned: the node is Ready. Say so through the API as well.
	node, err := c.Clientset.CoreV1().Nodes().Get(ctx, c.Node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ip := internalIP(node); ip != NodeIP {
		t.Errorf("node InternalIP = %q, want %s", ip, NodeIP)
	}
	if !nodeReady(node) {
		t.Errorf("node not Ready: %+v", node.Status.Conditions)
	}

	if err := c.BuildGoImage(ctx, probeImage, "./tests/framework/realnode/probe"); err != nil {
		t.Fatal(err)
	}
	ns := "realnode-test"
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The default service account is created by kube-controller-manager.
	if err := waitFor(ctx, time.Minute, "the default service account", func() error {
		_, err := c.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hostPod := probePod("host", []string{"loops", "api"})
	hostPod.Spec.HostNetwork = true
	hostPod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptrTo(true)}
	podPod := probePod("pod", []string{"api"})
	// As the operator's own pods run: the restricted Pod Security profile.
	podPod.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot: ptrTo(true), RunAsUser: ptrTo[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	podPod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptrTo(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	for _, p := range []*corev1.Pod{hostPod, podPod} {
		if _, err := c.Clientset.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{
		"host": {"loops: ", "api: " + net.JoinHostPort(kubernetesServiceIP, "443") + " answered as system:serviceaccount:" + ns + ":default"},
		"pod":  {"api: " + net.JoinHostPort(kubernetesServiceIP, "443") + " answered as system:serviceaccount:" + ns + ":default"},
	}
	for name, lines := range want {
		p := c.waitPodDone(t, ns, name)
		// The logs come through the API server from the kubelet on NodeIP.
		logs, err := c.Clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Errorf("%s: reading logs: %v", name, err)
		}
		t.Logf("pod %s (IP %s):\n%s", name, p.Status.PodIP, logs)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s: phase %s, want Succeeded", name, p.Status.Phase)
		}
		for _, l := range lines {
			if !strings.Contains(string(logs), l) {
				t.Errorf("pod %s: no %q in its logs", name, l)
			}
		}
		switch name {
		case "host":
			if p.Status.PodIP != NodeIP {
				t.Errorf("host-network pod IP = %s, want the node's %s", p.Status.PodIP, NodeIP)
			}
		case "pod":
			_, cidr, _ := net.ParseCIDR(PodCIDR)
			if ip := net.ParseIP(p.Status.PodIP); ip == nil || !cidr.Contains(ip) || p.Status.PodIP == podGateway {
				t.Errorf("pod-network pod IP = %q, want one from %s", p.Status.PodIP, PodCIDR)
			}
		}
	}
	// No image was ever pulled: every image came from an import.
	if ctrdLog, err := os.ReadFile(filepath.Join(c.LogDir, "containerd.log")); err != nil {
		t.Error(err)
	} else if strings.Contains(string(ctrdLog), "PullImage") {
		t.Error("containerd was asked to pull an image; see containerd.log")
	}

	// Teardown leaves nothing behind, even with pods still running.
	if _, err := c.Clientset.CoreV1().Pods(ns).Create(ctx, longRunningPod(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.waitPodRunning(t, ns, "sleeper"); err != nil {
		t.Fatal(err)
	}
	st, err := readState(c.layout.stateFile())
	if err != nil {
		t.Fatal(err)
	}
	// What teardown must remove is there now, so the checks below can fail:
	// a pod's network namespace and rootfs mounted under the node's
	// directory, and its veth on the pod bridge.
	if mps := newEntries(nsfsBefore, nsfsMounts(t)); len(mps) == 0 || !strings.HasPrefix(mps[0], c.Dir+"/") {
		t.Errorf("no pod network namespace under %s while pods run: %v", c.Dir, mps)
	}
	if out, err := exec.Command("nsenter", "--net="+c.NodeNetns, "ip", "-o", "link", "show", "master", PodBridge).CombinedOutput(); err != nil || !strings.Contains(string(out), "veth") {
		t.Errorf("no veth on %s in the node's namespace while a pod runs: %v %s", PodBridge, err, out)
	}
	checkRootUntouched(t, "while pods run", addrsBefore, linksBefore, chainsBefore)
	// Forwarding is on in the node's namespace only.
	if now := snapshotSysctls()["net/ipv4/ip_forward"]; now != sysctlsBefore["net/ipv4/ip_forward"] {
		t.Errorf("net.ipv4.ip_forward changed to %s while the node runs", now)
	}
	start = time.Now()
	tornDown = true
	if err := c.Down(ctx); err != nil {
		t.Fatalf("teardown: %v (logs in %s)", err, c.LogDir)
	}
	t.Logf("down in %s", time.Since(start).Round(100*time.Millisecond))
	for _, p := range st.Procs {
		if p.alive() {
			t.Errorf("%s (pid %d) still runs", p.Name, p.PID)
		}
	}
	if pids := processesMentioning(c.Dir); len(pids) > 0 {
		t.Errorf("processes still refer to %s: %v", c.Dir, pids)
	}
	if mps, err := mountsUnder(c.Dir); err != nil || len(mps) > 0 {
		t.Errorf("mounts left under %s: %v %v", c.Dir, mps, err)
	}
	checkRootUntouched(t, "after teardown", addrsBefore, linksBefore, chainsBefore)
	if added := newEntries(nsfsBefore, nsfsMounts(t)); len(added) > 0 {
		t.Errorf("network namespaces still mounted: %v", added)
	}
	for _, f := range []string{c.ControlPlaneNetns, c.NodeNetns} {
		if _, ok := netnsID(f); ok {
			t.Errorf("namespace %s left", f)
		}
	}
	if _, err := os.Stat(c.layout.run); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", c.layout.run, err)
	}
	for s, v := range sysctlsBefore {
		if now := snapshotSysctls()[s]; now != v {
			t.Errorf("sysctl %s = %s after teardown, was %s", s, now, v)
		}
	}
	if left := newEntries(missingDirs(hostDirs()), missingBefore); len(left) > 0 {
		t.Errorf("directories the node created outside %s are left: %v", c.Dir, left)
	}
	if _, err := os.Stat(c.LogDir); err != nil {
		t.Errorf("logs not kept: %v", err)
	}
	if mps, err := udevMounts(); err != nil || len(mps) > 0 {
		t.Errorf("the node's udev database is still mounted: %v %v", mps, err)
	}
}

// checkUdevDatabase checks, on a machine without a udev daemon, that the
// node keeps a udev record for every block device, for a partition added
// while it runs too, and removes the record its device takes with it.
func checkUdevDatabase(t *testing.T) {
	t.Helper()
	if mps, err := udevMounts(); err != nil || len(mps) != 1 {
		t.Errorf("the node's udev database is not mounted on %s: %v %v", udevDir, mps, err)
		return
	}
	backing := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(backing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, 64<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", "--partscan", backing).CombinedOutput()
	if err != nil {
		t.Fatalf("attaching %s: %v: %s", backing, err, out)
	}
	dev := strings.TrimSpace(string(out))
	defer func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("detaching %s: %v: %s", dev, err, out)
		}
	}()
	record := func(name string) (string, error) {
		raw, err := os.ReadFile(filepath.Join("/sys/class/block", name, "dev"))
		if err != nil {
			return "", err
		}
		return filepath.Join(udevDir, "data", "b"+strings.TrimSpace(string(raw))), nil
	}
	waitRecord := func(name string, want bool) {
		t.Helper()
		p, err := record(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitFor(context.Background(), 10*time.Second, "the udev record of "+name, func() error {
			_, err := os.Stat(p)
			switch {
			case want && err != nil:
				return err
			case !want && err == nil:
				return fmt.Errorf("%s is still there", p)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	name := filepath.Base(dev)
	waitRecord(name, true)
	// A partition added while the node runs (a dynamic major 259 number).
	if out, err := exec.Command("addpart", dev, "1", "2048", "4096").CombinedOutput(); err != nil {
		t.Fatalf("addpart %s: %v: %s", dev, err, out)
	}
	part := name + "p1"
	p, err := record(part)
	if err != nil {
		t.Fatalf("partition %s: %v", part, err)
	}
	waitRecord(part, true)
	if out, err := exec.Command("delpart", dev, "1").CombinedOutput(); err != nil {
		t.Fatalf("delpart %s: %v: %s", dev, err, out)
	}
	if err := waitFor(context.Background(), 10*time.Second, "the udev record of "+part+" to go", func() error {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s is still there", p)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// probePod runs the probe image once with checks as arguments.
func probePod(name string, checks []string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptrTo[int64](1),
			Containers: []corev1.Container{{
				Name:            "probe",
				Image:           probeImage,
				ImagePullPolicy: corev1.PullNever,
				Args:            checks,
			}},
		},
	}
}

// longRunningPod holds a container (the pause binary as a workload) and a
// network namespace open while the node is torn down.
func longRunningPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "sleep", Image: PauseImage, ImagePullPolicy: corev1.PullNever}},
		},
	}
}

func (c *Cluster) waitPodDone(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := waitFor(context.Background(), 3*time.Minute, "pod "+name+" to finish", func() error {
		p, err := c.Clientset.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = p
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return nil
		}
		return fmt.Errorf("phase %s %s", p.Status.Phase, containerWaiting(p))
	})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

func (c *Cluster) waitPodRunning(t *testing.T, ns, name string) (*corev1.Pod, error) {
	t.Helper()
	var pod *corev1.Pod
	err := waitFor(context.Background(), 2*time.Minute, "pod "+name+" to run", func() error {
		p, err := c.Clientset.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = p
		if p.Status.Phase == corev1.PodRunning {
			return nil
		}
		return fmt.Errorf("phase %s %s", p.Status.Phase, containerWaiting(p))
	})
	return pod, err
}

func containerWaiting(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil {
			return s.State.Waiting.Reason + ": " + s.State.Waiting.Message
		}
	}
	return ""
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// links lists this machine's network links.
func links(t *testing.T) []string {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// newEntries returns what is in now and not in before.
func newEntries(before, now []string) []string {
	had := map[string]bool{}
	for _, b := range before {
		had[b] = true
	}
	var out []string
	for _, n := range now {
		if !had[n] {
			out = append(out, n)
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// nsfsMounts lists the namespace mounts (nsfs: pinned network namespaces)
// of this machine.
func nsfsMounts(t *testing.T) []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Contains(line, " - nsfs ") {
			if mp, ok := mountPoint(line); ok {
				out = append(out, mp)
			}
		}
	}
	return out
}

// clusterNet holds every address the cluster uses.
var clusterNet = mustCIDR("10.213.0.0/16")

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// checkRootUntouched fails t when the root network namespace has an
// address, link or iptables chain it did not have before, or any address
// of the cluster's range.
func checkRootUntouched(t *testing.T, when string, addrs, linkNames []string, chainsBefore map[string][]string) {
	t.Helper()
	now := rootAddresses(t)
	if added := newEntries(addrs, now); len(added) > 0 {
		t.Errorf("%s: addresses in the root namespace that were not there before: %v", when, added)
	}
	for _, a := range now {
		if ip, _, err := net.ParseCIDR(a); err == nil && clusterNet.Contains(ip) {
			t.Errorf("%s: cluster address %s in the root namespace", when, a)
		}
	}
	if added := newEntries(linkNames, links(t)); len(added) > 0 {
		t.Errorf("%s: links in the root namespace that were not there before: %v", when, added)
	}
	for key, prior := range chainsBefore {
		if added := newChains(prior, snapshotChains()[key], ""); len(added) > 0 {
			t.Errorf("%s: %s: chains in the root namespace that were not there before: %v", when, key, added)
		}
	}
}

// rootAddresses lists the addresses (address/prefix) in this process's
// network namespace, the root one.
func rootAddresses(t *testing.T) []string {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range ifaces {
		addrs, err := i.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			out = append(out, a.String())
		}
	}
	return out
}

// netnsAddresses lists the IPv4 addresses (address/prefix) in the network
// namespace mounted on file.
// linkMAC is the MAC address of link in the network namespace mounted on
// file.
func linkMAC(t *testing.T, file, link string) string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+file, "ip", "-o", "link", "show", link).CombinedOutput()
	if err != nil {
		t.Fatalf("reading %s in %s: %v: %s", link, file, err, out)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "link/ether" {
			return f[i+1]
		}
	}
	t.Fatalf("no MAC address for %s in %s: %s", link, file, out)
	return ""
}

func netnsAddresses(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+file, "ip", "-o", "-4", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("listing the addresses in %s: %v: %s", file, err, out)
	}
	var addrs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				addrs = append(addrs, f[i+1])
			}
		}
	}
	return addrs
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

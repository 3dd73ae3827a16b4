package realnode

import (
	"context"
	"fmt"
	"net"
	"os"
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

// TestRealNode brings the real node up, runs a privileged host-network pod
// and a restricted pod-network pod that both reach the API server through
// the kubernetes Service, then tears the node down and checks that nothing
// is left. It needs root and runs only with CEPH_OPERATOR_REAL=1 (`make
// test-realnode`), because it changes the machine's network while it runs.
func TestRealNode(t *testing.T) {
	gate.Env(t, gate.Real, "set CEPH_OPERATOR_REAL=1 (as root) to run the real node: make test-realnode")
	gate.MustRoot(t, "CEPH_OPERATOR_REAL=1 needs root")
	ctx := context.Background()
	o := Options{Log: TestLog{t}}
	sysctlsBefore := snapshotSysctls()
	chainsBefore := snapshotChains()
	linksBefore := links(t)
	nsfsBefore := nsfsMounts(t)
	missingBefore := missingDirs(hostDirs())

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
	if ports, err := os.ReadDir(filepath.Join("/sys/class/net", PodBridge, "brif")); err != nil || len(ports) == 0 {
		t.Errorf("no veth on %s while a pod runs: %v", PodBridge, err)
	}
	// The pod network did not turn on forwarding: pods reach the node and
	// Services by local delivery only.
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
	for _, l := range []string{NodeLink, PodBridge} {
		if linkExists(l) {
			t.Errorf("link %s left", l)
		}
	}
	if added := newEntries(linksBefore, links(t)); len(added) > 0 {
		t.Errorf("links left: %v", added)
	}
	if added := newEntries(nsfsBefore, nsfsMounts(t)); len(added) > 0 {
		t.Errorf("network namespaces still mounted: %v", added)
	}
	if _, err := os.Stat(c.layout.run); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", c.layout.run, err)
	}
	for key, prior := range chainsBefore {
		now := snapshotChains()[key]
		if added := newChains(prior, now, ""); len(added) > 0 {
			t.Errorf("%s: chains left: %v", key, added)
		}
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

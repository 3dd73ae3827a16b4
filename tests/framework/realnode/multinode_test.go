package realnode

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

// TestRealNodes brings up a cluster of three nodes and checks what only
// shows with several: each node is Ready at its own address, each node's
// pods see only the disk given to that node in /dev and /sys/block, pods
// reach the other nodes across the nodes' links and the API server through
// the kubernetes Service, the root network namespace gains nothing, and
// teardown leaves nothing behind. Like TestRealNode it needs root and
// CEPH_OPERATOR_REAL=1.
func TestRealNodes(t *testing.T) {
	gate.Env(t, gate.Real, "set CEPH_OPERATOR_REAL=1 (as root) to run the real nodes: make test-realnode")
	gate.MustRoot(t, "CEPH_OPERATOR_REAL=1 needs root")
	loopdev.RequireRoot(t, "losetup")
	ctx := context.Background()
	o := Options{Nodes: 3, Log: TestLog{t}}
	chainsBefore := snapshotChains()
	linksBefore := links(t)
	addrsBefore := rootAddresses(t)
	nsfsBefore := nsfsMounts(t)

	start := time.Now()
	c, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if c.AlreadyRunning {
		t.Fatalf("a real node is already up in %s; this test starts and stops its own: run 'make cluster-down' first", c.Dir)
	}
	tornDown := false
	t.Cleanup(func() {
		if !tornDown {
			if err := c.Down(context.Background()); err != nil {
				t.Errorf("tearing down after a failure: %v", err)
			}
			t.Logf("logs kept in %s", c.LogDir)
		}
	})
	t.Logf("%d nodes up in %s; logs in %s", len(c.Nodes), time.Since(start).Round(100*time.Millisecond), c.LogDir)
	checkRootUntouched(t, "while the nodes are up", addrsBefore, linksBefore, chainsBefore)
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(c.Nodes))
	}
	for _, n := range c.Nodes {
		node, err := c.Clientset.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ip := internalIP(node); ip != n.IP || !nodeReady(node) {
			t.Errorf("node %s: InternalIP %q (want %s), Ready %v", n.Name, ip, n.IP, nodeReady(node))
		}
		if addrs := netnsAddresses(t, n.Netns); !containsPrefix(addrs, n.IP+"/") {
			t.Errorf("node %s: addresses %v in its namespace, want %s", n.Name, addrs, n.IP)
		}
	}

	// One disk per node, each shown to its node only.
	dir := t.TempDir()
	disk := map[string]string{}
	for i, n := range c.Nodes {
		d := loopdev.Attach(t, loopdev.SparseFile(t, dir, fmt.Sprintf("disk%d.img", i), 64<<20), false)
		if err := c.AddDisk(n.Name, d.Path); err != nil {
			t.Fatal(err)
		}
		disk[n.Name] = d.Name
	}
	if err := c.AddDisk("no-such-node", "/dev/null"); err == nil {
		t.Error("AddDisk on an unknown node succeeded")
	}
	if err := c.AddDisk(c.Nodes[0].Name, "/dev/null"); err == nil {
		t.Error("AddDisk of a character device succeeded")
	}

	if err := c.BuildGoImage(ctx, probeImage, "./tests/framework/realnode/probe"); err != nil {
		t.Fatal(err)
	}
	ns := "realnodes-test"
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, time.Minute, "the default service account", func() error {
		_, err := c.Clientset.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	api := "api: 10.213.128.1:443 answered as system:serviceaccount:" + ns + ":default"
	for i, n := range c.Nodes {
		next := c.Nodes[(i+1)%len(c.Nodes)]
		host := probePod("host-"+n.Name, []string{"loops", "blocks", "api"})
		host.Spec.NodeName = n.Name
		host.Spec.HostNetwork = true
		host.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptrTo(true)}
		hostPathDir := corev1.HostPathDirectory
		host.Spec.Volumes = []corev1.Volume{{Name: "sys", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/sys", Type: &hostPathDir}}}}
		host.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "sys", MountPath: "/host/sys", ReadOnly: true}}
		// A pod-network pod reaches the next node's kubelet: across its
		// node's forwarding, the link and the next node's route back.
		pod := probePod("pod-"+n.Name, []string{"api", "dial=" + next.IP + ":10250"})
		pod.Spec.NodeName = n.Name
		for _, p := range []*corev1.Pod{host, pod} {
			if _, err := c.Clientset.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		want[host.Name] = []string{
			fmt.Sprintf("loops: 1 devices: [/dev/%s]", disk[n.Name]),
			fmt.Sprintf("blocks: [%s]", disk[n.Name]),
			api,
		}
		want[pod.Name] = []string{api, "dial: " + next.IP + ":10250 connected"}
	}
	for name, lines := range want {
		p := c.waitPodDone(t, ns, name)
		logs, err := c.Clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Errorf("%s: reading logs: %v", name, err)
		}
		t.Logf("pod %s on %s (IP %s):\n%s", name, p.Spec.NodeName, p.Status.PodIP, logs)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s: phase %s, want Succeeded", name, p.Status.Phase)
		}
		for _, l := range lines {
			if !strings.Contains(string(logs), l) {
				t.Errorf("pod %s: no %q in its logs", name, l)
			}
		}
	}
	checkRootUntouched(t, "while pods run", addrsBefore, linksBefore, chainsBefore)
	// Pods came and went on every node's bridge: the gateway's address
	// must not have followed them.
	for i, n := range c.Nodes {
		if got, want := linkMAC(t, n.Netns, PodBridge), (node{index: i}).podBridgeMAC(); got != want {
			t.Errorf("node %s: %s has MAC %s, want the fixed %s", n.Name, PodBridge, got, want)
		}
	}
	if got := linkMAC(t, c.ControlPlaneNetns, NodeNet); got != nodeNetMAC {
		t.Errorf("%s has MAC %s, want the fixed %s", NodeNet, got, nodeNetMAC)
	}

	st, err := readState(c.layout.stateFile())
	if err != nil {
		t.Fatal(err)
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
		t.Errorf("namespaces still mounted: %v", added)
	}
}

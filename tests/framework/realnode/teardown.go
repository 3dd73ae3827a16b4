package realnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// down tears down whatever a cluster in l left, with or without a state
// file, in an order that lets each step work:
//
//  1. stop kube-proxy and the kubelet, so no container is restarted;
//  2. kill and delete every container through containerd while it runs
//     (a pod's open watch would hold up the API server's shutdown);
//  3. stop the control plane, newest first, and containerd; then kill any
//     shim containerd left, with its containers (found by our socket path
//     in their command line), and any process left in the cluster's
//     network namespaces;
//  4. unmount everything under Options.Dir (rootfs, volumes, the pods' and
//     the cluster's network namespaces): with no process and no mount
//     left, each namespace goes, with its links, addresses and rules; and
//     the node's udev database on /run/udev (setupUdev);
//  5. remove what an earlier harness left in the root namespace, put
//     changed sysctls back;
//  6. remove the run directory — only when nothing is mounted below it.
//
// It goes on after a failed step and reports every failure at the end.
func down(ctx context.Context, o Options, l layout) error {
	var errs []error
	s, err := readState(l.stateFile())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if s == nil {
		s = &state{}
	}
	begin := time.Now()
	step := func(what string) {
		fmt.Fprintf(o.Log, "realnode: %s (%.1fs)\n", what, time.Since(begin).Seconds())
	}
	// The node's processes first, so nothing restarts a container; then the
	// containers, so no pod holds a watch that the API server would wait
	// for at shutdown; then the control plane, newest first; containerd
	// last.
	stopped := map[int]bool{}
	stop := func(p proc) {
		if !stopped[p.PID] {
			stopped[p.PID] = true
			p.stop(15 * time.Second)
			step("stopped " + p.Name)
		}
	}
	first := s.Node
	if first == "" {
		first = o.Node
	}
	nodes := l.nodes(first, max(s.Nodes, 1))
	containerds := map[string]proc{}
	for i := len(s.Procs) - 1; i >= 0; i-- {
		switch s.Procs[i].role() {
		case "kube-proxy", "kubelet":
			stop(s.Procs[i])
		case "containerd":
			containerds[s.Procs[i].Name] = s.Procs[i]
		}
	}
	for _, n := range nodes {
		if p, ok := containerds[procName("containerd", n)]; ok && p.alive() {
			errs = append(errs, removeContainers(ctx, n.containerdSock())...)
			step("removed the containers of " + n.name)
		}
	}
	for i := len(s.Procs) - 1; i >= 0; i-- {
		if s.Procs[i].role() != "containerd" {
			stop(s.Procs[i])
		}
	}
	for _, p := range containerds {
		stop(p)
	}
	for _, n := range nodes {
		for _, pid := range processesMentioning(n.containerdSock()) {
			for _, d := range descendants(pid) {
				_ = syscall.Kill(d, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			reap(pid)
		}
	}
	// Whatever still runs in the cluster's namespaces (a process that
	// outlived its parent, or one of a run whose state was lost).
	netnsFiles, _ := filepath.Glob(l.netns("*"))
	ids := map[nsID]bool{}
	for _, f := range netnsFiles {
		if id, ok := netnsID(f); ok {
			ids[id] = true
		}
	}
	if len(ids) > 0 {
		for _, pid := range processesIn(ids) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			reap(pid)
		}
		if err := waitFor(ctx, 10*time.Second, "the processes in the cluster's namespaces to end", func() error {
			if left := processesIn(ids); len(left) > 0 {
				return fmt.Errorf("still running: %v", left)
			}
			return nil
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unmountAll(l.dir); err != nil {
		errs = append(errs, err)
	}
	if err := teardownUdev(); err != nil {
		errs = append(errs, err)
	}
	// Chains in the root namespace that a cluster of an earlier harness,
	// whose kubelet and kube-proxy ran there, added.
	if s.Chains != nil {
		errs = append(errs, removeNewKubeChains(s.Chains)...)
	}
	errs = append(errs, teardownLegacyNetwork()...)
	errs = append(errs, restoreSysctls(s.Sysctls)...)
	if s.LogDir != "" {
		for _, n := range nodes {
			removeContainerLogLinks(n.podLogs(s.LogDir))
		}
	}
	removeCNIResults("/var/lib/cni/results")
	for _, d := range s.CreatedDirs {
		removeEmptyTree(d)
	}
	if mps, err := mountsUnder(l.dir); err != nil || len(mps) > 0 {
		errs = append(errs, fmt.Errorf("not removing %s: still mounted below it: %s", l.run, strings.Join(mps, ", ")))
	} else {
		if err := os.RemoveAll(l.run); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", l.run, err))
		}
		_ = os.Remove(l.kubeconfig())
	}
	if len(errs) == 0 {
		if err := os.Remove(l.stateFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if raw, err := os.ReadFile(ownerFile); err == nil && strings.TrimSpace(string(raw)) == l.dir {
			_ = os.Remove(ownerFile)
		}
	}
	return errors.Join(errs...)
}

// removeContainers kills every task in containerd's k8s.io namespace and
// deletes every container (with its snapshot), so the next start finds no
// stale sandboxes and the kept image store holds only images.
func removeContainers(ctx context.Context, socket string) []error {
	c := &Cluster{ContainerdSocket: socket}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var errs []error
	tasks, err := c.Ctr(ctx, "tasks", "ls", "-q").Output()
	if err != nil {
		return []error{fmt.Errorf("listing tasks: %w", err)}
	}
	for _, id := range strings.Fields(string(tasks)) {
		_ = c.Ctr(ctx, "tasks", "kill", "--all", "--signal", "SIGKILL", id).Run()
	}
	// containerd's CRI plugin deletes the tasks of killed containers
	// itself; delete what it has not after a while, and take a task it
	// deleted meanwhile ("not found") as done.
	_ = waitFor(ctx, 10*time.Second, "killed tasks to go", func() error {
		out, err := c.Ctr(ctx, "tasks", "ls", "-q").Output()
		if err == nil && len(strings.Fields(string(out))) > 0 {
			return errors.New("tasks left")
		}
		return err
	})
	if tasks, err = c.Ctr(ctx, "tasks", "ls", "-q").Output(); err != nil {
		return []error{fmt.Errorf("listing tasks: %w", err)}
	}
	for _, id := range strings.Fields(string(tasks)) {
		if out, err := c.Ctr(ctx, "tasks", "delete", "--force", id).CombinedOutput(); err != nil && !strings.Contains(string(out), "not found") {
			errs = append(errs, fmt.Errorf("deleting task %s: %w: %s", id, err, strings.TrimSpace(string(out))))
		}
	}
	containers, err := c.Ctr(ctx, "containers", "ls", "-q").Output()
	if err != nil {
		return append(errs, fmt.Errorf("listing containers: %w", err))
	}
	if ids := strings.Fields(string(containers)); len(ids) > 0 {
		if out, err := c.Ctr(ctx, append([]string{"containers", "delete"}, ids...)...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting containers: %w: %s", err, strings.TrimSpace(string(out))))
		}
	}
	return errs
}

// removeContainerLogLinks removes the kubelet's /var/log/containers links
// into podLogs (that directory's place is fixed in the kubelet).
func removeContainerLogLinks(podLogs string) {
	entries, err := os.ReadDir("/var/log/containers")
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join("/var/log/containers", e.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, podLogs+"/") {
			_ = os.Remove(p)
		}
	}
}

// removeCNIResults removes the results the CNI library cached for this
// node's sandboxes (its place is fixed in containerd 1.6), which a killed
// sandbox leaves behind: <network>-<sandbox>-eth0 and the loopback's
// cni-loopback-<sandbox>-lo.
func removeCNIResults(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, cniNetwork+"-") {
			continue
		}
		sandbox := strings.TrimPrefix(name, cniNetwork+"-")
		if i := strings.LastIndexByte(sandbox, '-'); i > 0 {
			sandbox = sandbox[:i]
		}
		_ = os.Remove(filepath.Join(dir, name))
		_ = os.Remove(filepath.Join(dir, "cni-loopback-"+sandbox+"-lo"))
	}
}

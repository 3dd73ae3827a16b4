package realnode

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// run runs a host command and returns its error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// nsenterWrap returns the start of a command line that runs a program in
// the network namespace mounted on netns and, when mntns is set, the mount
// namespace mounted there (only those change: with no mount namespace the
// process sees this machine's files, devices and cgroups).
func nsenterWrap(netns, mntns string) []string {
	cmd := []string{"nsenter", "--net=" + netns}
	if mntns != "" {
		cmd = append(cmd, "--mount="+mntns)
	}
	return append(cmd, "--")
}

// inNetns returns the command line that runs name with args in the network
// namespace mounted on nsFile.
func inNetns(nsFile, name string, args ...string) []string {
	return append(append(nsenterWrap(nsFile, ""), name), args...)
}

// runIn runs a command in the network namespace mounted on nsFile.
func runIn(nsFile, name string, args ...string) error {
	c := inNetns(nsFile, name, args...)
	return run(c[0], c[1:]...)
}

// newNetns creates a network namespace mounted on file (which must not be
// a mount already) with its loopback up.
func newNetns(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(file), err)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		return fmt.Errorf("creating %s: %w", file, err)
	}
	if err := run("unshare", "--net="+file, "true"); err != nil {
		return err
	}
	return runIn(file, "ip", "link", "set", "lo", "up")
}

// setupNetwork creates the cluster's network namespaces and links; nothing
// of it is in the root namespace:
//
//   - the control plane's namespace, with the NodeNet bridge holding
//     ControlPlaneIP and a route to each node's pods through it (the API
//     server reaches webhooks and aggregated API servers at pod
//     addresses). Forwarding stays off there.
//   - each node's namespace, linked to NodeNet by a veth pair whose node end
//     (NodeLink) holds NodeIP; the route to ServiceCIDR leaves through it,
//     so a Service address kube-proxy did not rewrite goes to the control
//     plane's namespace, which drops it.
//   - PodBridge in the node's namespace with podGateway, to which the
//     bridge plugin attaches pods. Both bridges get a fixed MAC address:
//     a Linux bridge whose address was never set takes the lowest of its
//     ports', so a pod starting or stopping could change the gateway's
//     address under every pod of the node, whose cached neighbour entry
//     then sent traffic nowhere for tens of seconds (a drain's read pause
//     of 57 s was that). Creating it here (isGateway false in
//     the CNI configuration) keeps the plugin from changing sysctls.
//     Forwarding is on in the node's namespace: pods reach the API server
//     in the control plane's namespace, and a Service backed by a pod
//     (CoreDNS, OLM's catalogs) needs the packet routed back onto the
//     bridge after kube-proxy rewrote it, and pods reach the other
//     nodes' pods through their nodes. The namespace has no route off the
//     machine, so nothing is forwarded anywhere but between these
//     namespaces.
func setupNetwork(l layout, nodes []node) error {
	cp := l.netns(controlPlaneNetns)
	if err := newNetns(cp); err != nil {
		return fmt.Errorf("setting up the cluster network: %w", err)
	}
	cmds := [][]string{
		inNetns(cp, "ip", "link", "add", NodeNet, "type", "bridge"),
		inNetns(cp, "ip", "link", "set", NodeNet, "address", nodeNetMAC),
		inNetns(cp, "ip", "addr", "add", ControlPlaneIP+"/"+nodeNetPrefix, "dev", NodeNet),
		inNetns(cp, "ip", "link", "set", NodeNet, "up"),
	}
	for _, n := range nodes {
		nn := l.netns(n.name)
		if err := newNetns(nn); err != nil {
			return fmt.Errorf("setting up the cluster network: %w", err)
		}
		// The control plane's end of the node's veth pair; a link name has
		// at most 15 characters.
		peer := fmt.Sprintf("node%d", n.index)
		cmds = append(cmds,
			inNetns(cp, "ip", "link", "add", peer, "type", "veth", "peer", "name", NodeLink, "netns", nn),
			inNetns(cp, "ip", "link", "set", peer, "master", NodeNet, "up"),
			inNetns(cp, "ip", "route", "add", n.podCIDR, "via", n.ip),
			inNetns(nn, "ip", "addr", "add", n.ip+"/"+nodeNetPrefix, "dev", NodeLink),
			inNetns(nn, "ip", "link", "set", NodeLink, "up"),
			inNetns(nn, "ip", "route", "add", ServiceCIDR, "dev", NodeLink, "src", n.ip),
			inNetns(nn, "ip", "link", "add", PodBridge, "type", "bridge"),
			inNetns(nn, "ip", "link", "set", PodBridge, "address", n.podBridgeMAC()),
			inNetns(nn, "ip", "addr", "add", n.gateway+"/24", "dev", PodBridge),
			inNetns(nn, "ip", "link", "set", PodBridge, "up"),
			inNetns(nn, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"),
			inNetns(nn, "sysctl", "-q", "-w", "net.ipv4.conf.all.send_redirects=0"),
			inNetns(nn, "sysctl", "-q", "-w", "net.ipv4.conf."+PodBridge+".send_redirects=0"),
		)
		// The other nodes' pods, through their nodes.
		for _, o := range nodes {
			if o.index != n.index {
				cmds = append(cmds, inNetns(nn, "ip", "route", "add", o.podCIDR, "via", o.ip))
			}
		}
	}
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return fmt.Errorf("setting up the cluster network: %w", err)
		}
	}
	return nil
}

// linkExists tells whether a network link of that name exists in the root
// namespace.
func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// nsID identifies a namespace: the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

// netnsID returns the identity of the namespace mounted on file, or false
// when no namespace is mounted there.
func netnsID(file string) (nsID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(file, &st); err != nil {
		return nsID{}, false
	}
	var fs syscall.Statfs_t
	// NSFS_MAGIC: the file is a namespace, not the empty file below it.
	if err := syscall.Statfs(file, &fs); err != nil || fs.Type != 0x6e736673 {
		return nsID{}, false
	}
	return nsID{uint64(st.Dev), st.Ino}, true
}

// processesIn returns the processes whose network namespace is one of ids.
func processesIn(ids map[nsID]bool) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st); err != nil {
			continue
		}
		if ids[nsID{uint64(st.Dev), st.Ino}] {
			out = append(out, n)
		}
	}
	return out
}

// teardownLegacyNetwork removes what an earlier harness created in the
// root namespace (its node link, pod bridge with the pods' veth ends, and
// forwarding guard), should a cluster it started still be up. It does what
// it can and reports every failure.
func teardownLegacyNetwork() []error {
	var errs []error
	if ports, err := os.ReadDir(filepath.Join("/sys/class/net", legacyPodBridge, "brif")); err == nil {
		for _, p := range ports {
			if err := run("ip", "link", "del", p.Name()); err != nil && linkExists(p.Name()) {
				errs = append(errs, err)
			}
		}
	}
	for _, l := range []string{legacyPodBridge, legacyNodeLink} {
		if linkExists(l) {
			if err := run("ip", "link", "del", l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// -D removes one jump at a time and fails once none is left.
	deleteJump := func() bool {
		return exec.Command("iptables", "-w", "-D", "FORWARD", "-j", legacyGuardChain).Run() == nil
	}
	for deleteJump() {
	}
	if chainExists("iptables", "filter", legacyGuardChain) {
		if err := run("iptables", "-w", "-F", legacyGuardChain); err != nil {
			errs = append(errs, err)
		}
		if err := run("iptables", "-w", "-X", legacyGuardChain); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// The tables whose chains the kubelet and kube-proxy add to.
var chainTables = []struct{ cmd, table string }{
	{"iptables", "filter"}, {"iptables", "nat"}, {"iptables", "mangle"},
	{"ip6tables", "filter"}, {"ip6tables", "nat"}, {"ip6tables", "mangle"},
}

// snapshotChains lists the chains of every table before the cluster starts.
func snapshotChains() map[string][]string {
	out := map[string][]string{}
	for _, t := range chainTables {
		rules, err := exec.Command(t.cmd, "-w", "-t", t.table, "-S").Output()
		if err != nil {
			continue
		}
		out[t.cmd+" "+t.table] = chains(string(rules))
	}
	return out
}

func chainExists(cmd, table, chain string) bool {
	return exec.Command(cmd, "-w", "-t", table, "-S", chain).Run() == nil
}

// chains returns the chain names declared in `iptables -S` output: built-in
// ones (-P) and user-defined ones (-N).
func chains(rules string) []string {
	var out []string
	for _, line := range strings.Split(rules, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "-N" || f[0] == "-P") {
			out = append(out, f[1])
		}
	}
	return out
}

// removeNewKubeChains deletes the KUBE-* chains that did not exist before
// the cluster started (the kubelet's canaries, whatever kube-proxy's own
// clean-up left), and the rules that jump to them. Chains of anyone else,
// and KUBE-* chains that were there before, are left alone.
func removeNewKubeChains(before map[string][]string) []error {
	var errs []error
	for _, t := range chainTables {
		key := t.cmd + " " + t.table
		prior, known := before[key]
		if !known {
			continue
		}
		raw, err := exec.Command(t.cmd, "-w", "-t", t.table, "-S").Output()
		if err != nil {
			continue
		}
		rules := string(raw)
		added := newChains(prior, chains(rules), "KUBE-")
		if len(added) == 0 {
			continue
		}
		isAdded := map[string]bool{}
		for _, c := range added {
			isAdded[c] = true
		}
		for _, args := range jumpsTo(rules, isAdded) {
			if err := run(t.cmd, append([]string{"-w", "-t", t.table, "-D"}, args...)...); err != nil {
				errs = append(errs, err)
			}
		}
		for _, c := range added {
			if err := run(t.cmd, "-w", "-t", t.table, "-F", c); err != nil {
				errs = append(errs, err)
			}
		}
		for _, c := range added {
			if err := run(t.cmd, "-w", "-t", t.table, "-X", c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// newChains returns the chains of now, with the prefix, that are not in
// before.
func newChains(before, now []string, prefix string) []string {
	had := map[string]bool{}
	for _, c := range before {
		had[c] = true
	}
	var out []string
	for _, c := range now {
		if !had[c] && strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// jumpsTo returns, as arguments for `iptables -D`, the rules in chains
// other than targets that jump to one of targets.
func jumpsTo(rules string, targets map[string]bool) [][]string {
	var out [][]string
	for _, line := range strings.Split(rules, "\n") {
		args := splitRule(line)
		if len(args) < 2 || args[0] != "-A" || targets[args[1]] {
			continue
		}
		for i := 2; i+1 < len(args); i++ {
			if (args[i] == "-j" || args[i] == "-g") && targets[args[i+1]] {
				out = append(out, args[1:])
				break
			}
		}
	}
	return out
}

// splitRule splits one line of `iptables -S` output into arguments, undoing
// its double quoting (comments with spaces are printed as "a b").
func splitRule(line string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote, have = !inQuote, true
		case c == ' ' && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// tunedSysctls are the settings the kubelet changes at start (its kernel
// tunables, with protectKernelDefaults off) and the pod network may change;
// teardown puts back the values recorded before.
var tunedSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet",
}

func snapshotSysctls() map[string]string {
	out := map[string]string{}
	for _, s := range tunedSysctls {
		if v, err := os.ReadFile(filepath.Join("/proc/sys", s)); err == nil {
			out[s] = strings.TrimSpace(string(v))
		}
	}
	return out
}

func restoreSysctls(before map[string]string) []error {
	var errs []error
	for s, v := range before {
		path := filepath.Join("/proc/sys", s)
		now, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(now)) == v {
			continue
		}
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s to %s: %w", s, v, err))
		}
	}
	return errs
}

// mountsUnder returns the mount points at or below dir, deepest first, from
// /proc/self/mountinfo. The kernel lists mount points by their real path,
// so dir is resolved first: through a symbolic link (a clone whose bin/ is
// a link to another's) nothing would match, and teardown would leave the
// node's mounts behind.
func mountsUnder(dir string) ([]string, error) {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if mp, ok := mountPoint(sc.Text()); ok && (mp == dir || strings.HasPrefix(mp, dir+"/")) {
			out = append(out, mp)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, sc.Err()
}

// mountPoint returns field 5 of a mountinfo line, unescaping the octal
// escapes (\040 for a space) the kernel writes.
func mountPoint(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) < 5 {
		return "", false
	}
	s := f[4]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}

// unmountAll unmounts everything at or below dir, deepest first; a mount
// that stays busy is detached.
func unmountAll(dir string) error {
	for pass := 0; pass < 5; pass++ {
		mps, err := mountsUnder(dir)
		if err != nil {
			return fmt.Errorf("reading mounts: %w", err)
		}
		if len(mps) == 0 {
			return nil
		}
		for _, mp := range mps {
			if err := syscall.Unmount(mp, 0); err != nil {
				_ = syscall.Unmount(mp, syscall.MNT_DETACH)
			}
		}
	}
	mps, err := mountsUnder(dir)
	if err != nil {
		return fmt.Errorf("reading mounts: %w", err)
	}
	if len(mps) > 0 {
		return fmt.Errorf("still mounted: %s", strings.Join(mps, ", "))
	}
	return nil
}

// hostDirs are the directories outside Options.Dir that containerd, runc,
// the CNI library and the kubelet create at fixed places: containerd's shim
// sockets and FIFOs (/run/containerd), the CNI result cache (/var/lib/cni),
// the kubelet's container log links (/var/log/containers) and the pods'
// cgroups (k8s.io under each cgroup controller).
func hostDirs() []string {
	dirs := []string{"/run/containerd", "/var/lib/cni", "/var/log/containers"}
	controllers, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, c := range controllers {
		dirs = append(dirs, filepath.Join(c, "k8s.io"))
	}
	return dirs
}

// missingDirs returns the directories of dirs that do not exist.
func missingDirs(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			out = append(out, d)
		}
	}
	return out
}

// removeEmptyTree removes dir and the directories below it, deepest first,
// as far as they are empty: rmdir never removes a file, so anything someone
// else put there stays (on cgroupfs, rmdir removes a cgroup without
// processes, control files and all).
func removeEmptyTree(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			removeEmptyTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = syscall.Rmdir(dir)
}

// dialIn connects to addr (TCP) from inside the network namespace mounted
// on nsFile. The socket is made on a thread of its own that enters the
// namespace; should the thread fail to return to its own namespace, it is
// not reused (a goroutine that exits locked ends its thread).
func dialIn(ctx context.Context, nsFile, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer func() { _ = own.Close() }()
		target, err := os.Open(nsFile)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer func() { _ = target.Close() }()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("entering %s: %w", nsFile, err)}
			return
		}
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
		done <- result{conn, err}
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	r := <-done
	return r.conn, r.err
}

// buildForwarder builds ./forward into the run directory.
func buildForwarder(ctx context.Context, l layout) (string, error) {
	bin := l.bin("forward")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./tests/framework/realnode/forward")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the API server forwarder: %w: %s", err, out)
	}
	return bin, nil
}

// listenFile listens on addr (TCP, in this process's namespace) and
// returns the socket as a file to hand to a forwarder; what names the
// service in errors.
func listenFile(addr, what string) (*os.File, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for %s: %w", addr, what, err)
	}
	defer func() { _ = ln.Close() }()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, fmt.Errorf("listening on %s for %s: %w", addr, what, err)
	}
	return f, nil
}

// listenerAddr returns the local address of a listening socket file.
func listenerAddr(f *os.File) (*net.TCPAddr, error) {
	sa, err := unix.Getsockname(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("reading a listener's address: %w", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return nil, fmt.Errorf("listener address %T is not IPv4", sa)
	}
	return &net.TCPAddr{IP: net.IP(in4.Addr[:]), Port: in4.Port}, nil
}

// setupNodeMounts gives a node of a cluster of several a mount namespace
// of its own, mounted on l.mntns(n.name), in which its containerd, kubelet
// and kube-proxy run: its /dev is a tmpfs holding the usual character
// devices and no disk, and /sys/block an empty tmpfs; Cluster.AddDisk puts
// a disk's node and link in. The namespace's mounts are private: nothing
// mounted there (the pods' volumes and root filesystems) appears in the
// machine's mount namespace, and all of it goes with the namespace.
func setupNodeMounts(l layout, n node) error {
	dir := l.mntnsDir()
	if mps, err := mountsUnder(dir); err != nil {
		return err
	} else if len(mps) == 0 {
		// A namespace file can only be mounted on a private mount.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("mounting %s on itself: %w", dir, err)
		}
		if err := syscall.Mount("", dir, "", syscall.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("making %s private: %w", dir, err)
		}
	}
	file := l.mntns(n.name)
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		return fmt.Errorf("creating %s: %w", file, err)
	}
	if err := run("unshare", "--mount="+file, "--propagation", "private", "true"); err != nil {
		return err
	}
	in := func(args ...string) []string {
		return append([]string{"nsenter", "--mount=" + file, "--"}, args...)
	}
	cmds := [][]string{
		in("mount", "-t", "tmpfs", "-o", "mode=0755,size=16m,nosuid", "tmpfs", "/dev"),
		in("mknod", "-m", "0666", "/dev/null", "c", "1", "3"),
		in("mknod", "-m", "0666", "/dev/zero", "c", "1", "5"),
		in("mknod", "-m", "0666", "/dev/full", "c", "1", "7"),
		in("mknod", "-m", "0666", "/dev/random", "c", "1", "8"),
		in("mknod", "-m", "0666", "/dev/urandom", "c", "1", "9"),
		in("mknod", "-m", "0666", "/dev/tty", "c", "5", "0"),
		// The kubelet's OOM watcher reads the kernel log.
		in("mknod", "-m", "0600", "/dev/kmsg", "c", "1", "11"),
		in("mkdir", "/dev/pts", "/dev/shm", "/dev/mqueue"),
		in("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620", "devpts", "/dev/pts"),
		in("ln", "-s", "pts/ptmx", "/dev/ptmx"),
		in("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/dev/shm"),
		in("mount", "-t", "mqueue", "mqueue", "/dev/mqueue"),
		in("ln", "-s", "/proc/self/fd", "/dev/fd"),
		in("ln", "-s", "/proc/self/fd/0", "/dev/stdin"),
		in("ln", "-s", "/proc/self/fd/1", "/dev/stdout"),
		in("ln", "-s", "/proc/self/fd/2", "/dev/stderr"),
		in("mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "tmpfs", "/sys/block"),
	}
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return fmt.Errorf("setting up the mounts of node %s: %w", n.name, err)
		}
	}
	return nil
}

// nodeWrap returns the start of a command line that runs a program in n's
// namespaces: its network namespace, and its mount namespace when it has
// one.
func nodeWrap(l layout, n node) []string {
	mnt := ""
	if n.private {
		mnt = l.mntns(n.name)
	}
	return nsenterWrap(l.netns(n.name), mnt)
}

// The node's udev database. ceph-volume from Ceph 20 refuses every block
// device that has no record in /run/udev/data, and a node always has a
// udev daemon that keeps one; this machine has none. So, when no daemon
// runs (no /run/udev/control), the harness mounts a tmpfs of its own on
// /run/udev for the node's lifetime, which hides the machine's (empty)
// directory without writing to it, and runs udevdb, which keeps an empty
// record for every block device the kernel shows, partitions made later
// included, as the daemon would. Teardown stops udevdb and unmounts the
// tmpfs, found by its source name. Nodes with a mount namespace of their
// own get theirs after it is mounted, so they share it.
const (
	udevDir        = "/run/udev"
	udevMountName  = "ceph-operator-realnode-udev"
	udevDaemonFile = "/run/udev/control"
)

// setupUdev mounts the node's udev database and reports whether it did:
// false when a udev daemon keeps the machine's.
func setupUdev() (bool, error) {
	if _, err := os.Stat(udevDaemonFile); err == nil {
		return false, nil
	}
	if mps, err := udevMounts(); err != nil {
		return false, err
	} else if len(mps) > 0 {
		return false, fmt.Errorf("%s is already mounted from %s; run 'make cluster-down' first", udevDir, udevMountName)
	}
	if err := os.MkdirAll(udevDir, 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", udevDir, err)
	}
	if err := syscall.Mount(udevMountName, udevDir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=0755,size=4m"); err != nil {
		return false, fmt.Errorf("mounting the node's udev database on %s: %w", udevDir, err)
	}
	if err := os.Mkdir(filepath.Join(udevDir, "data"), 0o755); err != nil {
		return true, fmt.Errorf("creating the node's udev database: %w", err)
	}
	return true, nil
}

// udevMounts lists the mounts of the node's udev database (at most one
// unless a run was interrupted between two mounts).
func udevMounts() ([]string, error) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		mp, ok := mountPoint(line)
		if !ok || mp != udevDir {
			continue
		}
		// The fields after " - " are the type and the source.
		_, tail, ok := strings.Cut(line, " - ")
		if f := strings.Fields(tail); ok && len(f) >= 2 && f[0] == "tmpfs" && f[1] == udevMountName {
			out = append(out, mp)
		}
	}
	return out, nil
}

// teardownUdev unmounts the node's udev database, every mount of it.
func teardownUdev() error {
	for pass := 0; pass < 5; pass++ {
		mps, err := udevMounts()
		if err != nil {
			return fmt.Errorf("reading mounts: %w", err)
		}
		if len(mps) == 0 {
			return nil
		}
		if err := syscall.Unmount(udevDir, 0); err != nil {
			_ = syscall.Unmount(udevDir, syscall.MNT_DETACH)
		}
	}
	mps, err := udevMounts()
	if err != nil {
		return fmt.Errorf("reading mounts: %w", err)
	}
	if len(mps) > 0 {
		return fmt.Errorf("the node's udev database is still mounted on %s", udevDir)
	}
	return nil
}

// buildUdevDB builds the program that keeps the node's udev database.
func buildUdevDB(ctx context.Context, l layout) (string, error) {
	bin := l.bin("udevdb")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./tests/framework/realnode/udevdb")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building udevdb: %w: %s", err, out)
	}
	return bin, nil
}

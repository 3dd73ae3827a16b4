package realnode

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// run runs a host command and returns its error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setupNetwork creates the node's links and the forwarding guard:
//
//   - NodeLink, a bridge without ports holding NodeIP/32 and the route to
//     ServiceCIDR: a Service address that kube-proxy has not rewritten is
//     sent into a bridge with no ports, that is dropped, never to the
//     default route.
//   - PodBridge with podGateway/24, to which the bridge plugin attaches pods.
//     Creating it here (isGateway false in the CNI configuration) keeps the
//     plugin from turning on IP forwarding for the whole machine: pods reach
//     NodeIP and Services backed by host-network pods by local delivery.
//     A Service backed by a pod (CoreDNS, OLM's catalogs) needs the packet
//     routed back onto the bridge after kube-proxy rewrote it, so forwarding
//     is on for packets arriving on PodBridge only (the link's own setting,
//     gone with the link), without ICMP redirects.
//   - guardChain, jumped to first from FORWARD, which drops pod traffic
//     that would leave the pod bridge, and anything forwarded into it.
func setupNetwork() error {
	cmds := [][]string{
		{"ip", "link", "add", NodeLink, "type", "bridge"},
		{"ip", "addr", "add", NodeIP + "/32", "dev", NodeLink},
		{"ip", "link", "set", NodeLink, "up"},
		{"ip", "route", "add", ServiceCIDR, "dev", NodeLink, "src", NodeIP},
		{"ip", "link", "add", PodBridge, "type", "bridge"},
		{"ip", "addr", "add", podGateway + "/24", "dev", PodBridge},
		{"ip", "link", "set", PodBridge, "up"},
		{"sysctl", "-q", "-w", "net.ipv4.conf." + PodBridge + ".send_redirects=0"},
		{"sysctl", "-q", "-w", "net.ipv4.conf." + PodBridge + ".forwarding=1"},
		{"iptables", "-w", "-N", guardChain},
		{"iptables", "-w", "-A", guardChain, "-i", PodBridge, "-o", PodBridge, "-j", "RETURN"},
		{"iptables", "-w", "-A", guardChain, "-i", PodBridge, "-j", "DROP"},
		{"iptables", "-w", "-A", guardChain, "-o", PodBridge, "-j", "DROP"},
		{"iptables", "-w", "-I", "FORWARD", "1", "-j", guardChain},
	}
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return fmt.Errorf("setting up the node network: %w", err)
		}
	}
	return nil
}

// linkExists tells whether a network link of that name exists.
func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// teardownNetwork deletes what setupNetwork created and the pods' veth ends
// still attached to PodBridge. It does what it can and reports every failure.
func teardownNetwork() []error {
	var errs []error
	if ports, err := os.ReadDir(filepath.Join("/sys/class/net", PodBridge, "brif")); err == nil {
		for _, p := range ports {
			if err := run("ip", "link", "del", p.Name()); err != nil && linkExists(p.Name()) {
				errs = append(errs, err)
			}
		}
	}
	for _, l := range []string{PodBridge, NodeLink} {
		if linkExists(l) {
			if err := run("ip", "link", "del", l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// -D removes one jump at a time and fails once none is left.
	deleteJump := func() bool { return exec.Command("iptables", "-w", "-D", "FORWARD", "-j", guardChain).Run() == nil }
	for deleteJump() {
	}
	if chainExists("iptables", "filter", guardChain) {
		if err := run("iptables", "-w", "-F", guardChain); err != nil {
			errs = append(errs, err)
		}
		if err := run("iptables", "-w", "-X", guardChain); err != nil {
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

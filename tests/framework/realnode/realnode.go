// Package realnode runs a real one-node Kubernetes cluster on this machine
// for tests: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// a kubelet and kube-proxy built from the pinned Kubernetes source into bin/
// (make realnode-assets), and Debian's containerd, runc and CNI plugins
// (hack/install-realnode-tools.sh). Pods are real containers; images come
// only from local imports (ImportImage, BuildGoImage), never a registry.
//
// Up starts a cluster that outlives the calling process (`make cluster-up`
// runs it) and records it in Options.Dir; Up when one is running attaches to
// it; Down stops it by the recorded PIDs and puts the machine back as it was
// (`make cluster-down`). Both need root.
//
// The network follows the rule that every address stays on this machine
// and out of its root network namespace (docs/testing.md, "Network"); see
// the constants in config.go. etcd, the API server, the controller manager
// and the scheduler run in a network namespace of their own; containerd,
// the kubelet, kube-proxy and the pods in the node's. The API server
// listens on ControlPlaneIP and is the endpoint of the kubernetes Service,
// which kube-proxy (iptables mode) maps for pod-network and host-network
// pods alike, so in-cluster clients work unchanged. In the root namespace
// a forwarder (./forward) serves it on 127.0.0.1, the server named in the
// kubeconfig.
package realnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
)

// Options configure a real node.
type Options struct {
	// Dir holds the cluster's files; default <repo>/bin/realnode. The
	// kubeconfig is Dir/kubeconfig, the logs Dir/logs/<start time>/.
	Dir string
	// BinDir holds the Kubernetes binaries; default <repo>/bin.
	BinDir string
	// Node is the (first) node's name; default "realnode".
	Node string
	// Nodes is how many nodes to run, at most 8; default 1. The nodes after
	// the first are named Node-2, Node-3, ... In a cluster of several, each
	// node's processes also have a mount namespace of their own, whose
	// /dev and /sys/block show only the disks given to the node
	// (Cluster.AddDisk); a single node sees the machine's.
	Nodes int
	// Log receives one line per step; default nowhere.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = filepath.Join(testenv.RepoRoot(), "bin", "realnode")
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join(testenv.RepoRoot(), "bin")
	}
	// Mount points are compared with the kernel's paths, which have no
	// symbolic links (bin/ may be one).
	if parent, err := filepath.EvalSymlinks(filepath.Dir(o.Dir)); err == nil {
		o.Dir = filepath.Join(parent, filepath.Base(o.Dir))
	}
	if o.Node == "" {
		o.Node = "realnode"
	}
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Cluster is a running real node.
type Cluster struct {
	// Dir is Options.Dir.
	Dir string
	// Kubeconfig is an administrator kubeconfig (system:masters) for
	// kubectl and separate processes.
	Kubeconfig string
	// Config connects as that administrator.
	Config *rest.Config
	// Clientset uses Config.
	Clientset kubernetes.Interface
	// Node is the (first) node's name; NodeIP its InternalIP.
	Node, NodeIP string
	// ControlPlaneNetns and NodeNetns are the files the control plane's
	// and the (first) node's network namespaces are mounted on, for
	// `nsenter --net=<file>`.
	ControlPlaneNetns, NodeNetns string
	// ContainerdSocket is the (first) node containerd's socket, for
	// `ctr --address <socket> --namespace k8s.io images import`.
	ContainerdSocket string
	// Nodes describes every node, the first one first.
	Nodes []NodeInfo
	// CAFile is the cluster's certificate authority; it also signs
	// RegistryCertFile, so clients of a registry at RegistryHost trust it
	// (containerd does already).
	CAFile string
	// RegistryCertFile and RegistryKeyFile are the serving key pair for a
	// registry at RegistryHost.
	RegistryCertFile, RegistryKeyFile string
	// RegistryHostsDir is containerd's registry host configuration
	// directory (for `ctr images push --hosts-dir`).
	RegistryHostsDir string
	// LogDir holds every process's log and, under pods/, the containers'
	// logs; it is kept after Down.
	LogDir string
	// AlreadyRunning is true when Up found the cluster running and
	// attached to it.
	AlreadyRunning bool

	layout layout
	opts   Options
}

// NodeInfo describes one node of a cluster.
type NodeInfo struct {
	// Name is the node's name; IP its InternalIP.
	Name, IP string
	// Netns is the file its network namespace is mounted on; Mntns the
	// one of its mount namespace, empty for a single node, which has
	// none of its own.
	Netns, Mntns string
	// ContainerdSocket is its containerd's socket.
	ContainerdSocket string
}

// The binaries the node runs from BinDir, and the host tools it needs.
var (
	kubeBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"}
	hostTools    = []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip6tables", "ip", "sysctl", "nsenter", "unshare", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"}
)

// Up starts the node and returns when it is Ready and kube-proxy has
// programmed the kubernetes Service. When a cluster recorded in o.Dir is
// running, it returns that one with AlreadyRunning set. A failed start is
// torn down again; its logs stay in the LogDir named in the error.
func Up(ctx context.Context, o Options) (*Cluster, error) {
	o = o.withDefaults()
	if err := preflight(o); err != nil {
		return nil, err
	}
	l := newLayout(o.Dir)
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", l.dir, err)
	}
	unlock, err := lock(l)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if s, err := readState(l.stateFile()); err == nil {
		dead := deadProcs(s)
		if len(dead) == 0 {
			c, err := attach(ctx, o, l, s)
			if err == nil {
				c.AlreadyRunning = true
				return c, nil
			}
			return nil, fmt.Errorf("a cluster is recorded in %s and its processes run, but it does not answer (%w); run 'make cluster-down' first", l.stateFile(), err)
		}
		fmt.Fprintf(o.Log, "realnode: the previous cluster's %s stopped; tearing it down first (its logs stay in %s)\n", strings.Join(dead, ", "), s.LogDir)
	}
	if err := checkOwner(l); err != nil {
		return nil, err
	}
	// Whatever a crashed run left (links, mounts, processes on our
	// socket), with or without a state file.
	if err := down(ctx, o, l); err != nil {
		return nil, fmt.Errorf("cleaning up a previous cluster: %w", err)
	}

	if o.Nodes < 1 || o.Nodes > maxNodes {
		return nil, fmt.Errorf("%d nodes asked for; a cluster has 1 to %d", o.Nodes, maxNodes)
	}
	c := &Cluster{Dir: l.dir, Kubeconfig: l.kubeconfig(), Node: o.Node, NodeIP: NodeIP, layout: l, opts: o}
	c.setFiles()
	if err := c.start(ctx); err != nil {
		logDir := c.LogDir
		if derr := down(context.WithoutCancel(ctx), o, l); derr != nil {
			err = fmt.Errorf("%w (and tearing it down: %w)", err, derr)
		}
		return nil, fmt.Errorf("starting the real node: %w; logs in %s", err, logDir)
	}
	return c, nil
}

// Load attaches to the cluster recorded in o.Dir, failing when none runs.
func Load(ctx context.Context, o Options) (*Cluster, error) {
	o = o.withDefaults()
	l := newLayout(o.Dir)
	s, err := readState(l.stateFile())
	if err != nil {
		return nil, fmt.Errorf("no real node recorded in %s (run 'make cluster-up'): %w", l.dir, err)
	}
	if dead := deadProcs(s); len(dead) > 0 {
		return nil, fmt.Errorf("the real node recorded in %s is broken: %s not running; logs in %s", l.dir, strings.Join(dead, ", "), s.LogDir)
	}
	return attach(ctx, o, l, s)
}

// Down stops the cluster recorded in o.Dir, if any, and removes what it
// added to the machine: processes (by recorded PID), containers, mounts
// under o.Dir, network namespaces, links, iptables chains and changed
// sysctls. It keeps the logs and the imported images. Down with nothing
// running does nothing and succeeds.
func Down(ctx context.Context, o Options) error {
	o = o.withDefaults()
	if !gate.IsRoot() {
		return errors.New("the real node needs root")
	}
	l := newLayout(o.Dir)
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", l.dir, err)
	}
	unlock, err := lock(l)
	if err != nil {
		return err
	}
	defer unlock()
	if err := checkOwner(l); err != nil {
		return err
	}
	return down(ctx, o, l)
}

// Down stops c; see the package function Down.
func (c *Cluster) Down(ctx context.Context) error { return Down(ctx, c.opts) }

// PurgeImages removes the images Down keeps (containerd's content and
// snapshots, of every node that ever ran). The cluster must be down.
func PurgeImages(o Options) error {
	o = o.withDefaults()
	l := newLayout(o.Dir)
	if _, err := os.Stat(l.stateFile()); err == nil {
		return errors.New("the real node is up; run 'make cluster-down' first")
	}
	for _, root := range l.imageRoots() {
		mps, err := mountsUnder(root)
		if err != nil {
			return fmt.Errorf("refusing to remove %s: finding mounts below it: %w", root, err)
		}
		if len(mps) > 0 {
			return fmt.Errorf("refusing to remove %s: mounts below it: %s", root, strings.Join(mps, ", "))
		}
		if err := os.RemoveAll(root); err != nil {
			return err
		}
	}
	return nil
}

func preflight(o Options) error {
	if !gate.IsRoot() {
		return errors.New("the real node needs root")
	}
	var missing []string
	for _, b := range kubeBinaries {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			missing = append(missing, filepath.Join(o.BinDir, b))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run 'make realnode-assets'", strings.Join(missing, ", "))
	}
	for _, t := range hostTools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run 'hack/install-realnode-tools.sh'", strings.Join(missing, ", "))
	}
	return nil
}

// lock serialises Up and Down on one directory.
func lock(l layout) (func(), error) {
	f, err := os.OpenFile(filepath.Join(l.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", l.dir, err)
	}
	return func() { _ = f.Close() }, nil
}

func deadProcs(s *state) []string {
	var dead []string
	for _, p := range s.Procs {
		if !p.alive() {
			dead = append(dead, p.Name)
		}
	}
	return dead
}

// attach connects to a running cluster and checks that it answers.
func attach(ctx context.Context, o Options, l layout, s *state) (*Cluster, error) {
	o.Node = s.Node
	o.Nodes = max(s.Nodes, 1)
	c := &Cluster{Dir: l.dir, Kubeconfig: l.kubeconfig(), Node: s.Node, NodeIP: NodeIP, LogDir: s.LogDir, layout: l, opts: o}
	c.setFiles()
	if err := c.connect(); err != nil {
		return nil, err
	}
	if err := c.waitAPIReady(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) setFiles() {
	c.ControlPlaneNetns, c.NodeNetns = c.layout.netns(controlPlaneNetns), c.layout.netns(c.Node)
	c.ContainerdSocket = c.nodes()[0].containerdSock()
	c.Nodes = nil
	for _, n := range c.nodes() {
		info := NodeInfo{Name: n.name, IP: n.ip, Netns: c.layout.netns(n.name), ContainerdSocket: n.containerdSock()}
		if n.private {
			info.Mntns = c.layout.mntns(n.name)
		}
		c.Nodes = append(c.Nodes, info)
	}
	c.CAFile = c.layout.pkiFile("ca.crt")
	c.RegistryCertFile, c.RegistryKeyFile = c.layout.pkiFile("registry.crt"), c.layout.pkiFile("registry.key")
	c.RegistryHostsDir = c.layout.registryHosts()
}

// nodes lists the cluster's nodes.
func (c *Cluster) nodes() []node { return c.layout.nodes(c.opts.Node, c.opts.Nodes) }

func (c *Cluster) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.Kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	c.Config, c.Clientset = cfg, cs
	return nil
}

// start brings every part up in order, recording each process in the state
// file as soon as it runs, so a failure at any step can be torn down.
func (c *Cluster) start(ctx context.Context) error {
	l, o := c.layout, c.opts
	begin := time.Now()
	logDir, err := newLogDir(l)
	if err != nil {
		return err
	}
	c.LogDir = logDir
	fmt.Fprintf(o.Log, "realnode: logs in %s\n", logDir)
	fmt.Fprintf(o.Log, "realnode: disk: %s\n", l.diskReport())
	s := &state{Node: o.Node, Nodes: o.Nodes, StartedAt: begin, LogDir: logDir, Sysctls: snapshotSysctls(), Chains: snapshotChains(), CreatedDirs: missingDirs(hostDirs())}
	if err := s.write(l.stateFile()); err != nil {
		return err
	}
	if err := claimOwner(l); err != nil {
		return err
	}
	dirs := []string{l.pki(), filepath.Dir(l.conf("x")), l.etcdData()}
	for _, n := range c.nodes() {
		dirs = append(dirs, filepath.Dir(n.conf("x")), n.kubeletRoot(), n.containerdState(), n.containerdRoot, n.cniConfDir(), n.cniIPAM(), n.podLogs(logDir))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := setupNetwork(l, c.nodes()); err != nil {
		return err
	}
	// Before the nodes' own mount namespaces, which then share it.
	ownUdev, err := setupUdev()
	if err != nil {
		return err
	}
	for _, n := range c.nodes() {
		if n.private {
			if err := setupNodeMounts(l, n); err != nil {
				return err
			}
		}
	}
	// The forwarders' listening sockets, made here in the root namespace
	// and handed to the forwarders, which run in the cluster's.
	apiLn, err := listenFile("127.0.0.1:0", "the API server")
	if err != nil {
		return err
	}
	defer func() { _ = apiLn.Close() }()
	registryLn, err := listenFile(net.JoinHostPort("127.0.0.1", strconv.Itoa(registryPort)), "the node's registry")
	if err != nil {
		return err
	}
	defer func() { _ = registryLn.Close() }()
	apiAddr, err := listenerAddr(apiLn)
	if err != nil {
		return err
	}
	if err := c.writeFiles(apiAddr.Port); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	// launch starts a process in the namespaces wrap enters (nsenter and
	// its arguments) and records it; bin defaults to BinDir/<role>, the
	// name up to an "@".
	launch := func(name string, wrap []string, bin string, args, env []string, extra ...*os.File) error {
		if bin == "" {
			role, _, _ := strings.Cut(name, "@")
			bin = filepath.Join(o.BinDir, role)
		}
		p, err := startDetached(name, wrap, bin, args, env, extra, filepath.Join(logDir, name+".log"))
		if p.PID != 0 {
			s.Procs = append(s.Procs, p)
			if werr := s.write(l.stateFile()); werr != nil && err == nil {
				err = werr
			}
		}
		return err
	}
	step := func(what string, t time.Time) {
		fmt.Fprintf(o.Log, "realnode: %s (%.1fs)\n", what, time.Since(t).Seconds())
	}

	t := time.Now()
	if ownUdev {
		udevdb, err := buildUdevDB(ctx, l)
		if err != nil {
			return err
		}
		if err := launch("udevdb", nil, udevdb, []string{"-dir", filepath.Join(udevDir, "data")}, nil); err != nil {
			return err
		}
		step("udev database kept in "+udevDir+" (no udev daemon)", t)
		t = time.Now()
	}
	forward, err := buildForwarder(ctx, l)
	if err != nil {
		return err
	}
	cp := nsenterWrap(c.ControlPlaneNetns, "")
	if err := launch("forward-apiserver", cp, forward, []string{"-to", net.JoinHostPort(ControlPlaneIP, strconv.Itoa(APIServerPort))}, nil, apiLn); err != nil {
		return err
	}
	if err := launch("forward-registry", nsenterWrap(c.NodeNetns, ""), forward, []string{"-to", net.JoinHostPort("127.0.0.1", strconv.Itoa(registryPort))}, nil, registryLn); err != nil {
		return err
	}
	_ = apiLn.Close()
	_ = registryLn.Close()
	step(fmt.Sprintf("forwarders on 127.0.0.1:%d (API server) and 127.0.0.1:%d (registry)", apiAddr.Port, registryPort), t)
	t = time.Now()
	etcdURL, err := c.startEtcd(ctx, launch)
	if err != nil {
		return err
	}
	step("etcd ready", t)
	t = time.Now()
	if err := launch("kube-apiserver", cp, "", apiServerArgs(l, etcdURL), nil); err != nil {
		return err
	}
	if err := c.waitAPIReady(ctx, 2*time.Minute); err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	step("kube-apiserver ready on "+apiServerURL()+", here on "+c.Config.Host, t)
	if err := launch("kube-controller-manager", cp, "", controllerManagerArgs(l), nil); err != nil {
		return err
	}
	if err := launch("kube-scheduler", cp, "", schedulerArgs(l), nil); err != nil {
		return err
	}

	t = time.Now()
	for _, n := range c.nodes() {
		wrap := nodeWrap(l, n)
		// containerd is Debian's, from PATH. A registry pull must never
		// happen (pods use images imported here); should one be tried
		// anyway, the proxy on the discard port makes it fail on this
		// machine, without even a name lookup of the registry.
		if err := launch(procName("containerd", n), wrap, mustLookPath("containerd"), []string{"--config", n.conf("containerd.toml")},
			[]string{"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=", "http_proxy=", "https_proxy=", "no_proxy="}); err != nil {
			return err
		}
	}
	for _, n := range c.nodes() {
		if err := waitFor(ctx, time.Minute, "containerd of "+n.name, func() error {
			return ctr(ctx, n.containerdSock(), "version").Run()
		}); err != nil {
			return err
		}
	}
	step("containerd ready", t)
	t = time.Now()
	if err := c.BuildGoImage(ctx, PauseImage, "./tests/framework/realnode/pause"); err != nil {
		return err
	}
	step("pause image imported", t)

	t = time.Now()
	for _, n := range c.nodes() {
		wrap := nodeWrap(l, n)
		if err := launch(procName("kubelet", n), wrap, "", kubeletArgs(n), nil); err != nil {
			return err
		}
		if err := launch(procName("kube-proxy", n), wrap, "", []string{"--config=" + n.conf("kube-proxy.yaml")}, nil); err != nil {
			return err
		}
	}
	for _, n := range c.nodes() {
		if err := c.waitNodeReady(ctx, n.name, 3*time.Minute); err != nil {
			return err
		}
		step("node "+n.name+" Ready", t)
		if err := waitFor(ctx, time.Minute, "kube-proxy of "+n.name+" to program the kubernetes Service", func() error {
			cmd := inNetns(c.layout.netns(n.name), "iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES")
			out, err := exec.CommandContext(ctx, cmd[0], cmd[1:]...).Output()
			if err != nil {
				return err
			}
			if !strings.Contains(string(out), kubernetesServiceIP+"/32") {
				return errors.New("no rule yet")
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if err := c.createDNSService(ctx); err != nil {
		return err
	}
	for _, p := range s.Procs {
		if !p.alive() {
			return fmt.Errorf("%s exited; see %s", p.Name, p.Log)
		}
	}
	step("up", begin)
	return nil
}

// createDNSService creates the kube-dns Service at ClusterDNSIP, the name
// server the kubelet gives pods, without a DNS server behind it: kube-proxy
// then rejects lookups at once (rather than dropping them, which would make
// every lookup wait for its timeout). A test that needs Service names runs
// a server with the label k8s-app=kube-dns in kube-system (tests/olm does).
func (c *Cluster) createDNSService(ctx context.Context) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: ClusterDNSIP,
			Selector:  map[string]string{"k8s-app": "kube-dns"},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			},
		},
	}
	err := waitFor(ctx, time.Minute, "the kube-dns Service", func() error {
		_, err := c.Clientset.CoreV1().Services("kube-system").Create(ctx, svc, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	return err
}

// writeFiles writes the certificates, kubeconfigs and configuration files.
// The administrator kubeconfig names the forwarder on loopbackPort.
func (c *Cluster) writeFiles(loopbackPort int) error {
	l := c.layout
	ids := identities(net.ParseIP(ControlPlaneIP), net.ParseIP(kubernetesServiceIP))
	for _, n := range c.nodes() {
		ids = append(ids, nodeIdentities(n)...)
	}
	if err := writePKI(l.pki(), ids); err != nil {
		return err
	}
	ca := l.pkiFile("ca.crt")
	files := map[string]string{
		l.kubeconfig(): kubeconfig(loopbackURL(loopbackPort), ca, l.pkiFile("admin.crt"), l.pkiFile("admin.key")),
		// An empty upstream resolver configuration: pods get no name server
		// but ClusterDNSIP.
		l.conf("resolv.conf"): "",
		filepath.Join(l.registryHosts(), RegistryHost, "hosts.toml"): registryHostsTOML(l),
	}
	for _, id := range []string{"kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		files[l.conf(id+".kubeconfig")] = kubeconfig(apiServerURL(), ca, l.pkiFile(id+".crt"), l.pkiFile(id+".key"))
	}
	for _, n := range c.nodes() {
		files[n.conf("containerd.toml")] = containerdConfig(l, n)
		files[filepath.Join(n.cniConfDir(), "10-cephrn.conflist")] = cniConfig(n)
		files[n.conf("kubelet.yaml")] = kubeletConfig(l, n, n.podLogs(c.LogDir))
		files[n.conf("kube-proxy.yaml")] = kubeProxyConfig(l, n)
		cert := n.pki("kubelet-client")
		files[n.conf("kubelet.kubeconfig")] = kubeconfig(apiServerURL(), ca, l.pkiFile(cert+".crt"), l.pkiFile(cert+".key"))
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// startEtcd runs etcd on loopback in the control plane's namespace (a
// namespace of its own: any port is free there).
func (c *Cluster) startEtcd(ctx context.Context, launch func(name string, wrap []string, bin string, args, env []string, extra ...*os.File) error) (string, error) {
	client := "http://127.0.0.1:2379"
	peer := "http://127.0.0.1:2380"
	args := flagList(
		"name", "realnode",
		"data-dir", c.layout.etcdData(),
		"listen-client-urls", client,
		"advertise-client-urls", client,
		"listen-peer-urls", peer,
		"initial-advertise-peer-urls", peer,
		"initial-cluster", "realnode="+peer,
		// A test cluster: speed over durability.
		"unsafe-no-fsync", "true",
		"log-level", "warn",
	)
	if err := launch("etcd", nsenterWrap(c.ControlPlaneNetns, ""), "", args, nil); err != nil {
		return "", err
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialIn(ctx, c.ControlPlaneNetns, addr)
		},
	}}
	err := waitFor(ctx, time.Minute, "etcd", func() error {
		resp, err := hc.Get(client + "/health")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
	return client, err
}

func mustLookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return name
	}
	return p
}

// waitFor polls check every half second until it succeeds or d passes.
func waitFor(ctx context.Context, d time.Duration, what string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %w)", what, ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Cluster) waitAPIReady(ctx context.Context, d time.Duration) error {
	return waitFor(ctx, d, "kube-apiserver /readyz", func() error {
		_, err := c.Clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

func (c *Cluster) waitNodeReady(ctx context.Context, name string, d time.Duration) error {
	return waitFor(ctx, d, "node "+name+" to be Ready", func() error {
		n, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return errors.New("not registered yet")
		}
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("condition Ready=%s: %s", cond.Status, cond.Message)
			}
		}
		return errors.New("no Ready condition yet")
	})
}

// newLogDir creates logs/<start time>/, points logs/latest at it and keeps
// the five newest runs.
func newLogDir(l layout) (string, error) {
	dir := filepath.Join(l.logs(), time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	latest := filepath.Join(l.logs(), "latest")
	_ = os.Remove(latest)
	_ = os.Symlink(filepath.Base(dir), latest)
	entries, _ := os.ReadDir(l.logs())
	var runs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "latest" {
			runs = append(runs, e.Name())
		}
	}
	sort.Strings(runs)
	for len(runs) > 5 {
		_ = os.RemoveAll(filepath.Join(l.logs(), runs[0]))
		runs = runs[1:]
	}
	return dir, nil
}

// ownerFile names the directory of the cluster that holds this machine's
// node network (its links, addresses and chains have fixed names, so one
// cluster at a time can run). It lives in /run, so a reboot forgets it.
const ownerFile = "/run/ceph-operator-realnode.owner"

// checkOwner fails when a cluster in another directory is up on this
// machine: starting or tearing down this one would take its network away.
func checkOwner(l layout) error {
	raw, err := os.ReadFile(ownerFile)
	if err != nil {
		return nil
	}
	other := strings.TrimSpace(string(raw))
	// The same directory, maybe named through a symbolic link.
	if parent, err := filepath.EvalSymlinks(filepath.Dir(other)); err == nil && filepath.Join(parent, filepath.Base(other)) == l.dir {
		return nil
	}
	if other == l.dir {
		return nil
	}
	if _, err := os.Stat(newLayout(other).stateFile()); err != nil {
		return nil
	}
	return fmt.Errorf("another real node, in %s, is up on this machine; stop it first ('go run ./tests/framework/realnode/cmd down -dir %s')", other, other)
}

func claimOwner(l layout) error {
	if err := os.WriteFile(ownerFile, []byte(l.dir+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", ownerFile, err)
	}
	return nil
}

// procName names a node's process: its role, and for nodes after the first
// the node ("kubelet@realnode-2").
func procName(role string, n node) string {
	if n.index == 0 {
		return role
	}
	return role + "@" + n.name
}

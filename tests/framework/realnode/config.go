package realnode

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// The cluster's network (docs/testing.md, "Network"). Every address lives
// in a network namespace the harness creates and removes; the machine's
// root namespace gets none (tests reach the API server on loopback, through
// the forwarder, or by entering a namespace). The control plane has a
// namespace of its own holding ControlPlaneIP on the NodeNet bridge; each
// node has one, linked to that bridge by a veth pair, holding its node
// address, its pod bridge and its pods' host ends. No namespace has a
// route off the machine.
const (
	// NodeIP is the (first) node's InternalIP: the kubelet and every
	// host-network pod (mons) listen here, on NodeLink in the node's
	// namespace. Further nodes have the next addresses (see layout.nodes).
	NodeIP = "10.213.255.1"
	// ControlPlaneIP is where kube-apiserver listens, on NodeNet in the
	// control plane's namespace; it is the kubernetes Service's endpoint.
	ControlPlaneIP = "10.213.255.254"
	// nodeNetPrefix is the prefix length of the network NodeIP and
	// ControlPlaneIP share.
	nodeNetPrefix = "24"
	// PodCIDR is where the bridge plugin takes the (first) node's pod
	// addresses from; further nodes have the next /24s.
	PodCIDR = "10.213.0.0/24"
	// podGateway is the PodBridge's own address, the pods' default route.
	podGateway = "10.213.0.1"
	// ServiceCIDR holds the cluster IPs. In the node's namespace its route
	// points at NodeLink: what kube-proxy has not rewritten goes to the
	// control plane's namespace, which forwards nothing, and is dropped.
	ServiceCIDR = "10.213.128.0/24"
	// kubernetesServiceIP is the first address of ServiceCIDR.
	kubernetesServiceIP = "10.213.128.1"
	// APIServerPort is the API server's port on ControlPlaneIP. From the
	// root namespace the API server is at 127.0.0.1 on a port chosen at
	// start (the server in Cluster.Kubeconfig).
	APIServerPort = 6443
	// NodeNet is the bridge in the control plane's namespace that the
	// nodes' links are attached to.
	NodeNet = "cephrn-net"
	// NodeLink is the node's end of its veth pair, in its namespace.
	NodeLink = "eth0"
	// PodBridge is the bridge, in the node's namespace, the CNI bridge
	// plugin attaches pods to.
	PodBridge = "cephrn-pods"
	// legacyNodeLink, legacyPodBridge and legacyGuardChain are what an
	// earlier harness created in the root namespace; teardown removes them
	// when a cluster it started is still up.
	legacyNodeLink   = "cephrn-node"
	legacyPodBridge  = "cephrn-pods"
	legacyGuardChain = "CEPHRN-FORWARD"
	// PauseImage is the sandbox image, imported at start. Its registry is
	// localhost, so even an accidental pull would stay on this machine.
	PauseImage = "localhost/ceph-operator/pause:realnode"
	// cniNetwork names the pod network (host-local keeps its leases under
	// this name).
	cniNetwork = "cephrn"
	// ClusterDNSIP is the cluster IP the kubelet gives pods as their name
	// server. The harness runs no DNS server: a test that needs Service
	// names deploys one behind a Service with this address (tests/olm
	// does); until then lookups fail on this machine.
	ClusterDNSIP = "10.213.128.10"
	// RegistryHost is where a test may run an image registry for the node,
	// on the host network, listening on registryPort on loopback in the
	// node's namespace: containerd pulls from it over TLS with the
	// harness's CA (hosts.toml under certs.d), and the harness issues its
	// serving certificate (Cluster.RegistryCertFile). Go's proxy rules never
	// send loopback traffic through containerd's proxy, so this is the one
	// place a pull can succeed. A forwarder serves the same port on
	// loopback in the root namespace, so tools there (ctr images push,
	// operator-sdk) reach the registry under the same name.
	RegistryHost = "localhost:5000"
	registryPort = 5000
	// frontProxyClient is the user name of the API server's front-proxy
	// client certificate.
	frontProxyClient = "front-proxy-client"
)

// layout is where a cluster keeps its files, under Options.Dir.
type layout struct {
	// dir is Options.Dir; it holds the administrator kubeconfig, the state
	// file and the logs, which survive a teardown.
	dir string
	// run holds everything that only lives as long as the cluster and is
	// removed by Down: certificates, configuration, etcd's data, the
	// kubelet's root directory, containerd's state, the CNI leases.
	run string
	// containerdRoot holds containerd's content and snapshots (the imported
	// images); it survives Down so the next start need not import again.
	containerdRoot string
}

func newLayout(dir string) layout {
	return layout{dir: dir, run: filepath.Join(dir, "run"), containerdRoot: filepath.Join(dir, "containerd")}
}

func (l layout) kubeconfig() string      { return filepath.Join(l.dir, "kubeconfig") }
func (l layout) stateFile() string       { return filepath.Join(l.dir, "state.json") }
func (l layout) logs() string            { return filepath.Join(l.dir, "logs") }
func (l layout) pki() string             { return filepath.Join(l.run, "pki") }
func (l layout) pkiFile(f string) string { return filepath.Join(l.run, "pki", f) }
func (l layout) conf(f string) string    { return filepath.Join(l.run, "conf", f) }
func (l layout) etcdData() string        { return filepath.Join(l.run, "etcd") }
func (l layout) images() string          { return filepath.Join(l.run, "images") }
func (l layout) registryHosts() string   { return filepath.Join(l.run, "certs.d") }
func (l layout) bin(f string) string     { return filepath.Join(l.run, "bin", f) }

// netns is the file a network namespace of the cluster is mounted on
// ("control-plane", or a node's name); unmounting it (Down unmounts
// everything under Options.Dir) lets the namespace go once no process is
// left in it.
func (l layout) netns(name string) string { return filepath.Join(l.run, "netns", name) }

// controlPlaneNetns names the control plane's namespace in layout.netns.
const controlPlaneNetns = "control-plane"

// mntns is the file a node's mount namespace is mounted on (clusters of
// several nodes only); the directory holding it is a private mount, as the
// kernel requires.
func (l layout) mntns(node string) string { return filepath.Join(l.mntnsDir(), node) }
func (l layout) mntnsDir() string         { return filepath.Join(l.run, "mntns") }

// node is one node of a cluster: its name, addresses and files. The first
// node of a cluster keeps its files where a one-node cluster always had
// them (Options.Dir/run, Options.Dir/containerd); the others have theirs
// under run/nodes/<name> and containerd-<name>.
type node struct {
	index int
	name  string
	// ip is the node's InternalIP on NodeLink; podCIDR and gateway its pod
	// network on PodBridge.
	ip, podCIDR, gateway string
	// private is set in a cluster of several nodes: the node's processes
	// run in a mount namespace of its own, whose /dev and /sys/block show
	// only the disks given to the node (Cluster.AddDisk).
	private bool
	// dir holds the node's files that live as long as the cluster;
	// containerdRoot its images, which survive Down.
	dir, containerdRoot string
}

// maxNodes is how many nodes fit the address plan: node i (from 0) has
// 10.213.255.(i+1) and pods in 10.213.i.0/24, below ServiceCIDR.
const maxNodes = 8

// clusterCIDR holds every node's pod network.
const clusterCIDR = "10.213.0.0/17"

// nodes lists the n nodes of a cluster whose first node is named first;
// the others are first-2, first-3, ...
func (l layout) nodes(first string, n int) []node {
	out := make([]node, 0, n)
	for i := 0; i < n; i++ {
		nd := node{index: i, name: first, private: n > 1,
			ip: fmt.Sprintf("10.213.255.%d", i+1), podCIDR: fmt.Sprintf("10.213.%d.0/24", i), gateway: fmt.Sprintf("10.213.%d.1", i),
			dir: l.run, containerdRoot: l.containerdRoot}
		if i > 0 {
			nd.name = fmt.Sprintf("%s-%d", first, i+1)
			nd.dir = filepath.Join(l.run, "nodes", nd.name)
			nd.containerdRoot = filepath.Join(l.dir, "containerd-"+nd.name)
		}
		out = append(out, nd)
	}
	return out
}

func (n node) conf(f string) string {
	if n.index == 0 {
		return filepath.Join(n.dir, "conf", f)
	}
	return filepath.Join(n.dir, f)
}
func (n node) kubeletRoot() string     { return filepath.Join(n.dir, "kubelet") }
func (n node) containerdState() string { return filepath.Join(n.dir, "containerd") }
func (n node) containerdSock() string  { return filepath.Join(n.dir, "containerd.sock") }
func (n node) cniConfDir() string      { return filepath.Join(n.dir, "cni", "net.d") }
func (n node) cniIPAM() string         { return filepath.Join(n.dir, "cni", "ipam") }

// nodeNetMAC is NodeNet's MAC address, and podBridgeMAC a node's
// PodBridge's: fixed, locally administered (setupNetwork says why).
const nodeNetMAC = "02:00:0a:d5:ff:fe"

func (n node) podBridgeMAC() string { return fmt.Sprintf("02:00:0a:d5:%02x:01", n.index) }

// pki names the node's key pairs: the first node's keep the one-node
// cluster's names.
func (n node) pki(f string) string {
	if n.index == 0 {
		return f
	}
	return f + "-" + n.name
}

// podLogs is where the kubelet writes the node's containers' logs, under
// the run's log directory.
func (n node) podLogs(logDir string) string {
	if n.index == 0 {
		return filepath.Join(logDir, "pods")
	}
	return filepath.Join(logDir, "pods-"+n.name)
}

// apiServerURL is where the control plane and the node reach the API
// server; pods reach it through the kubernetes Service.
func apiServerURL() string { return fmt.Sprintf("https://%s:%d", ControlPlaneIP, APIServerPort) }

// loopbackURL is where clients in the root namespace reach the API server:
// the forwarder's port on loopback.
func loopbackURL(port int) string { return fmt.Sprintf("https://127.0.0.1:%d", port) }

// kubeconfig renders a kubeconfig for the identity whose key pair is
// certFile and keyFile.
func kubeconfig(server, caFile, certFile, keyFile string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: realnode
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: realnode
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: realnode
  context: {cluster: realnode, user: realnode}
current-context: realnode
`, server, caFile, certFile, keyFile)
}

// containerdConfig renders containerd's configuration: its own socket, root
// and state, the CRI plugin with the local pause image, the pod network from
// cniConfDir, and the settings this machine's node needs (docs/testing.md,
// "What this machine needs").
func containerdConfig(l layout, n node) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
oom_score = 0

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  # The pause image is imported at start; a short name would be normalised
  # to docker.io before lookup.
  sandbox_image = %[5]q
  # Sandboxes cannot set a negative oom_score_adj here; without this every
  # sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Network namespaces under our own state directory, so teardown finds
  # exactly the ones this node made.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        # runc's state, by default in /run/containerd/runc.
        Root = %[7]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[6]q
    max_conf_num = 1
  # Registry hosts: only RegistryHost has a configuration (registryHostsTOML);
  # every other registry keeps the defaults, and its pulls fail at the proxy.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[8]q
`, n.containerdRoot, n.containerdState(), n.containerdSock(), filepath.Join(n.dir, "containerd-opt"), PauseImage, n.cniConfDir(),
		filepath.Join(n.containerdState(), "runc"), l.registryHosts())
}

// registryHostsTOML renders containerd's host configuration for
// RegistryHost: TLS, verified with the harness's CA. `ctr images push
// --hosts-dir` reads it too.
func registryHostsTOML(l layout) string {
	// containerd 1.6 refuses a file without a host table.
	return fmt.Sprintf(`server = "https://%[1]s"

[host."https://%[1]s"]
  capabilities = ["pull", "resolve", "push"]
  ca = %[2]q
`, RegistryHost, l.pkiFile("ca.crt"))
}

// cniConfig renders the pod network: the bridge plugin on PodBridge (which
// the harness creates with podGateway, so the plugin neither assigns the
// gateway nor turns on IP forwarding), host-local addresses from PodCIDR
// with their leases under the run directory, and no masquerading: pod
// traffic never leaves this machine.
func cniConfig(n node) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q, "gateway": %q}]],
        "routes": [{"dst": "0.0.0.0/0", "gw": %q}]
      }
    }
  ]
}
`, cniNetwork, PodBridge, n.cniIPAM(), n.podCIDR, n.gateway, n.gateway)
}

// kubeletConfig renders the kubelet's configuration for this machine
// (cgroup v1, no swap accounting, no QoS cgroups; docs/testing.md, "What
// this machine needs"), serving
// on NodeIP with certificates from our CA, and with every directory it
// writes (pod logs, plugins) under the run or log directories.
func kubeletConfig(l layout, n node, podLogs string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
localStorageCapacityIsolation: false
containerRuntimeEndpoint: unix://%[1]s
address: %[2]s
port: 10250
readOnlyPort: 0
healthzBindAddress: %[2]s
healthzPort: 10248
tlsCertFile: %[3]s
tlsPrivateKeyFile: %[4]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[5]s}
authorization:
  mode: Webhook
clusterDomain: cluster.local
# Pods ask ClusterDNSIP, which only answers when a test deploys a DNS
# server; there is no upstream resolver: a pod's name lookups must not
# leave this machine.
clusterDNS: [%[9]s]
resolvConf: %[6]s
podLogsDir: %[7]s
volumePluginDir: %[8]s
# Images come from imports, not registries: a collected image could never
# come back, so image garbage collection is off.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# The disk is shared with other work; only a nearly full one evicts.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  imagefs.available: 1%%
  nodefs.inodesFree: 1%%
serializeImagePulls: false
`, n.containerdSock(), n.ip, l.pkiFile(n.pki("kubelet-serving")+".crt"), l.pkiFile(n.pki("kubelet-serving")+".key"),
		l.pkiFile("ca.crt"), l.conf("resolv.conf"), podLogs, filepath.Join(n.dir, "kubelet-volume-plugins"), ClusterDNSIP)
}

// kubeProxyConfig renders kube-proxy's configuration: iptables mode, every
// listener on NodeIP, node ports only on NodeIP (so it need not enable
// route_localnet), and conntrack settings left as the machine has them.
func kubeProxyConfig(l layout, n node) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: %[1]s
bindAddress: %[2]s
healthzBindAddress: %[2]s:10256
metricsBindAddress: %[2]s:10249
clusterCIDR: %[3]s
detectLocalMode: ClusterCIDR
nodePortAddresses: [%[2]s/32]
clientConnection:
  kubeconfig: %[4]s
iptables:
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, n.name, n.ip, clusterCIDR, l.conf("kube-proxy.kubeconfig"))
}

func apiServerArgs(l layout, etcdURL string) []string {
	return flagList(
		"etcd-servers", etcdURL,
		"bind-address", ControlPlaneIP,
		"secure-port", strconv.Itoa(APIServerPort),
		"advertise-address", ControlPlaneIP,
		// The control plane's namespace has no kube-proxy: the API server
		// reaches webhooks and aggregated API servers (OLM's package
		// server) at their endpoints' pod addresses, routed through the
		// node, rather than at Service addresses.
		"enable-aggregator-routing", "true",
		"service-cluster-ip-range", ServiceCIDR,
		"tls-cert-file", l.pkiFile("kube-apiserver.crt"),
		"tls-private-key-file", l.pkiFile("kube-apiserver.key"),
		"client-ca-file", l.pkiFile("ca.crt"),
		"kubelet-client-certificate", l.pkiFile("apiserver-kubelet-client.crt"),
		"kubelet-client-key", l.pkiFile("apiserver-kubelet-client.key"),
		"kubelet-certificate-authority", l.pkiFile("ca.crt"),
		"kubelet-preferred-address-types", "InternalIP",
		"service-account-key-file", l.pkiFile("sa.pub"),
		"service-account-signing-key-file", l.pkiFile("sa.key"),
		"service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"authorization-mode", joinComma("Node", "RBAC"),
		"enable-admission-plugins", "NodeRestriction",
		// Node pods (discovery, prepare, OSDs) are privileged.
		"allow-privileged", "true",
		"cert-dir", l.pki(),
		"profiling", "false",
		// Aggregated API servers (OLM's package server) authenticate the
		// API server's proxied requests by this client certificate and
		// take the user from these headers.
		"proxy-client-cert-file", l.pkiFile("front-proxy-client.crt"),
		"proxy-client-key-file", l.pkiFile("front-proxy-client.key"),
		"requestheader-client-ca-file", l.pkiFile("ca.crt"),
		"requestheader-allowed-names", frontProxyClient,
		"requestheader-username-headers", "X-Remote-User",
		"requestheader-group-headers", "X-Remote-Group",
		"requestheader-extra-headers-prefix", "X-Remote-Extra-",
	)
}

func controllerManagerArgs(l layout) []string {
	kc := l.conf("kube-controller-manager.kubeconfig")
	return flagList(
		"kubeconfig", kc,
		"authentication-kubeconfig", kc,
		"authorization-kubeconfig", kc,
		"leader-elect", "false",
		"bind-address", "127.0.0.1",
		"secure-port", "0",
		"service-account-private-key-file", l.pkiFile("sa.key"),
		"root-ca-file", l.pkiFile("ca.crt"),
		// Each controller with its own service account and RBAC, as in
		// production.
		"use-service-account-credentials", "true",
		"allocate-node-cidrs", "false",
		// Its default is under /usr/libexec, which it would create.
		"flex-volume-plugin-dir", filepath.Join(l.run, "kcm-volume-plugins"),
		"profiling", "false",
	)
}

func schedulerArgs(l layout) []string {
	kc := l.conf("kube-scheduler.kubeconfig")
	return flagList(
		"kubeconfig", kc,
		"authentication-kubeconfig", kc,
		"authorization-kubeconfig", kc,
		"leader-elect", "false",
		"bind-address", "127.0.0.1",
		"secure-port", "0",
		"profiling", "false",
	)
}

func kubeletArgs(n node) []string {
	return flagList(
		"config", n.conf("kubelet.yaml"),
		"kubeconfig", n.conf("kubelet.kubeconfig"),
		"root-dir", n.kubeletRoot(),
		"cert-dir", filepath.Join(n.kubeletRoot(), "pki"),
		"hostname-override", n.name,
		"node-ip", n.ip,
		"v", "1",
	)
}

// flagList turns name=value pairs into --name=value flags, in order.
func flagList(pairs ...string) []string {
	if len(pairs)%2 != 0 {
		panic("flagList: odd number of arguments")
	}
	out := make([]string, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, "--"+pairs[i]+"="+pairs[i+1])
	}
	return out
}

// joinComma joins values for list-valued flags.
func joinComma(v ...string) string { return strings.Join(v, ",") }

package olm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// kubectl runs bin/kubectl against the node with stdin.
func kubectl(ctx context.Context, c *realnode.Cluster, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(testenv.RepoRoot(), "bin", "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func apply(ctx context.Context, c *realnode.Cluster, manifest string) error {
	_, err := kubectl(ctx, c, manifest, "apply", "--server-side", "--force-conflicts", "-f", "-")
	return err
}

// registryManifest runs the registry on the node's host network, listening
// on loopback only (realnode.RegistryHost), from its imported image.
func registryManifest(c *realnode.Cluster) (string, error) {
	crt, err := os.ReadFile(c.RegistryCertFile)
	if err != nil {
		return "", err
	}
	key, err := os.ReadFile(c.RegistryKeyFile)
	if err != nil {
		return "", err
	}
	indent := func(b []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n    ")
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: node-registry-tls, namespace: kube-system}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
---
apiVersion: v1
kind: Pod
metadata:
  name: node-registry
  namespace: kube-system
  labels: {app: node-registry}
spec:
  hostNetwork: true
  containers:
  - name: registry
    image: %s
    imagePullPolicy: Never
    volumeMounts:
    - {name: tls, mountPath: /certs, readOnly: true}
    - {name: data, mountPath: /var/lib/registry}
    readinessProbe:
      tcpSocket: {host: 127.0.0.1, port: 5000}
      periodSeconds: 1
  volumes:
  - name: tls
    secret: {secretName: node-registry-tls}
  - name: data
    emptyDir: {}
`, indent(crt), indent(key), registryImage), nil
}

// corednsManifest is cluster DNS for Service names, as a kubeadm cluster
// has it: CoreDNS behind the kube-dns Service at realnode.ClusterDNSIP
// (which the node creates, so lookups fail fast until CoreDNS runs). It
// answers for cluster.local only and forwards nothing: a name outside the
// cluster fails on this machine.
func corednsManifest() string {
	return fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: system:coredns}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: system:coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
      - name: coredns
        image: %s
        imagePullPolicy: IfNotPresent
        args: [-conf, /etc/coredns/Corefile]
        volumeMounts:
        - {name: config, mountPath: /etc/coredns, readOnly: true}
        ports:
        - {containerPort: 53, name: dns, protocol: UDP}
        - {containerPort: 53, name: dns-tcp, protocol: TCP}
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 2
      volumes:
      - name: config
        configMap: {name: coredns}
`, corednsImage)
}

// upstreamOLM reads OLM's manifests from the module cache (the version
// pinned in hack/tools/olm), unchanged: the CRDs from the Helm chart's
// crds/ directory, because v0.46.0's quickstart crds.yaml lacks the
// OLMConfig CRD its olm-operator waits for, and the deployments, RBAC and
// packageserver CSV from quickstart/olm.yaml.
func upstreamOLM(ctx context.Context) (crds, olm string, err error) {
	out, err := run(ctx, []string{"GOFLAGS=-mod=readonly"}, "go", "-C", "hack/tools/olm", "list", "-m", "-f", "{{.Dir}}",
		"github.com/operator-framework/operator-lifecycle-manager")
	if err != nil {
		return "", "", err
	}
	deploy := filepath.Join(strings.TrimSpace(out), "deploy")
	files, err := filepath.Glob(filepath.Join(deploy, "chart", "crds", "*.yaml"))
	if err != nil {
		return "", "", fmt.Errorf("listing the CRDs in %s: %w", filepath.Join(deploy, "chart", "crds"), err)
	}
	if len(files) == 0 {
		return "", "", fmt.Errorf("no CRDs in %s", filepath.Join(deploy, "chart", "crds"))
	}
	var b strings.Builder
	for _, f := range files {
		c, err := os.ReadFile(f)
		if err != nil {
			return "", "", err
		}
		b.WriteString("---\n")
		b.Write(c)
		b.WriteString("\n")
	}
	o, err := os.ReadFile(filepath.Join(deploy, "upstream", "quickstart", "olm.yaml"))
	if err != nil {
		return "", "", err
	}
	return b.String(), string(o), nil
}

// olmImageChanges are the changes made to OLM's olm.yaml besides
// olmFlagFixes: each upstream image reference becomes the locally built
// image in the node's registry. The catalog operator's opm image (bundle
// unpacking) has no reference in the manifest, only a compiled-in default
// (quay.io/operator-framework/opm:latest), so it is set with its flag next
// to the configmap server image's. The community catalog's image becomes
// this operator's catalog.
func olmImageChanges() [][2]string {
	const upstreamOLMImage = "quay.io/operator-framework/olm@sha256:e74b2ac57963c7f3ba19122a8c31c9f2a0deb3c0c5cac9e5323ccffd0ca198ed"
	return [][2]string{
		{upstreamOLMImage, olmImage},
		{"- --configmapServerImage=quay.io/operator-framework/configmap-operator-registry:latest",
			"- --configmapServerImage=" + opmImage + "\n          - --opmImage=" + opmImage},
		{"quay.io/operatorhubio/catalog:latest", catalogImage},
	}
}

// olmFlagFixes repair the catalog operator's arguments: v0.46.0's
// quickstart olm.yaml still spells them with one dash, which its own
// binary (cobra) rejects ("unknown shorthand flag: 'n' in -namespace");
// the Helm chart of the same tag, from which releases are rendered, has two.
func olmFlagFixes() [][2]string {
	return [][2]string{
		{"- '-namespace'", "- '--namespace'"},
		{"- -configmapServerImage=", "- --configmapServerImage="},
		{"- -util-image", "- --util-image"},
	}
}

// localOLM applies olmFlagFixes and olmImageChanges to olm.yaml, failing
// when a reference is missing (a new OLM version) or one from a registry is
// left.
func localOLM(olm string) (string, error) {
	for _, ch := range append(olmFlagFixes(), olmImageChanges()...) {
		if !strings.Contains(olm, ch[0]) {
			return "", fmt.Errorf("olm.yaml has no %q", ch[0])
		}
		olm = strings.ReplaceAll(olm, ch[0], ch[1])
	}
	for _, line := range strings.Split(olm, "\n") {
		if strings.Contains(line, "quay.io/") || strings.Contains(line, "docker.io/") {
			return "", fmt.Errorf("olm.yaml still names a remote image: %s", strings.TrimSpace(line))
		}
	}
	return olm, nil
}

// Package controlplane starts a local Kubernetes control plane from the
// binaries in bin/ (built from source by hack/build-tools.sh), all on
// loopback, for the demo and end-to-end tests. It writes an administrator
// kubeconfig so separate processes (the operator, kubectl) can connect.
package controlplane

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/proc"
)

// Options configure a control plane.
type Options struct {
	// BinDir holds etcd, kube-apiserver and kubectl; default <repo>/bin.
	BinDir string
	// Dir receives the kubeconfig and the logs; default a new temporary
	// directory.
	Dir string
	// Full also starts kube-controller-manager, kube-scheduler and kwok,
	// so Deployments, DaemonSets and Jobs get pods that run on simulated
	// nodes.
	Full bool
	// ExtraArgs adds command-line flags to the processes a Full control
	// plane starts, by process name ("kube-controller-manager",
	// "kube-scheduler", "kwok"), after the default ones: a flag given
	// again here overrides its default (kwok's --config adds a file).
	// Benchmarks raise client rate limits and parallelism this way.
	ExtraArgs map[string][]string
}

// ControlPlane is a running etcd and kube-apiserver with this project's CRDs.
type ControlPlane struct {
	// Config connects as a cluster administrator.
	Config *rest.Config
	// Client is an uncached client with this project's scheme.
	Client client.Client
	// Kubeconfig is the path of an administrator kubeconfig file.
	Kubeconfig string
	// Kubectl is the path of the kubectl binary built with the control plane.
	Kubectl string
	// Dir holds the kubeconfig and the logs of the processes.
	Dir   string
	env   *envtest.Environment
	procs []*proc.Process
}

// Start starts etcd and kube-apiserver on loopback ports and installs the
// CRDs of config/crd/bases.
func Start(o Options) (*ControlPlane, error) {
	if o.BinDir == "" {
		o.BinDir = filepath.Join(testenv.RepoRoot(), "bin")
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "ceph-operator-cp-")
		if err != nil {
			return nil, fmt.Errorf("creating control-plane directory: %w", err)
		}
		o.Dir = d
	}
	bins := []string{"etcd", "kube-apiserver", "kubectl"}
	if o.Full {
		bins = append(bins, "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml")
	}
	for _, b := range bins {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run 'make envtest-assets' (or 'make e2e-assets' for the full control plane) first", b, o.BinDir)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: o.BinDir,
		CRDDirectoryPaths:     []string{filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	api := env.ControlPlane.GetAPIServer()
	// Service addresses are data, never dialled; should one be, it lands on
	// loopback.
	api.Configure().Set("service-cluster-ip-range", "127.96.0.0/16")
	api.Configure().Set("advertise-address", "127.0.0.1")
	api.Configure().Set("endpoint-reconciler-type", "none")
	cfg, err := env.Start()
	if err != nil {
		// Start leaves etcd and kube-apiserver running when a later step
		// (installing the CRDs) fails.
		_ = env.Stop()
		return nil, fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	cp := &ControlPlane{Config: cfg, env: env, Kubectl: filepath.Join(o.BinDir, "kubectl"), Dir: o.Dir}
	if err := cp.writeKubeconfig(o.Dir); err != nil {
		_ = env.Stop()
		return nil, err
	}
	if o.Full {
		if err := cp.startControllers(o.BinDir, api.CertDir, o.ExtraArgs); err != nil {
			_ = cp.Stop()
			return nil, err
		}
	}
	if cp.Client, err = client.New(cfg, client.Options{Scheme: testenv.Scheme()}); err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return cp, nil
}

// writeKubeconfig writes an administrator kubeconfig into dir.
func (c *ControlPlane) writeKubeconfig(dir string) error {
	user, err := c.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding administrator: %w", err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering kubeconfig: %w", err)
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, raw, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

// Stop stops every process of the control plane, newest first, then
// kube-apiserver and etcd, and removes their data.
func (c *ControlPlane) Stop() error {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].Stop(stopGrace)
	}
	c.procs = nil
	if err := c.env.Stop(); err != nil {
		return fmt.Errorf("stopping control plane: %w", err)
	}
	return nil
}

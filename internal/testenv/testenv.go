// Package testenv starts a real kube-apiserver and etcd (built from source
// into bin/ by hack/build-tools.sh) for tests, with this project's
// CRDs installed.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	apiv2 "github.com/operator-framework/api/pkg/operators/v2"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Env is a running test API server.
type Env struct {
	// Config connects to the API server as an administrator.
	Config *rest.Config
	// Client reads and writes straight to the API server (no cache), so
	// tests assert what the server holds.
	Client client.Client
	// Version is the API server's Kubernetes version: tests that play a
	// built-in controller (the Job controller, say) write what that
	// version's controller writes. make test-minkube runs them against
	// the oldest supported version.
	Version *version.Info
	env     *envtest.Environment
}

// MinorVersion is the API server's Kubernetes minor version (30 for
// v1.30.14).
func (e *Env) MinorVersion() int {
	var major, minor int
	if _, err := fmt.Sscanf(e.Version.GitVersion, "v%d.%d", &major, &minor); err != nil {
		panic(fmt.Sprintf("API server version %q: %v", e.Version.GitVersion, err))
	}
	return minor
}

// RepoRoot returns the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SkipShort skips a test that needs the API server under go test -short
// (make test-unit, the inner loop without a control plane).
func SkipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping: needs an API server (etcd, kube-apiserver), which go test -short (make test-unit) does not start")
	}
}

// Start starts etcd and kube-apiserver with the CRDs of config/crd/bases and
// returns when the API server is ready, failing the test with a clear message
// when it cannot; under go test -short it skips the test (SkipShort). Stop
// it with Env.Stop.
func Start(tb testing.TB, extraCRDs ...string) *Env {
	tb.Helper()
	SkipShort(tb)
	env, err := New(extraCRDs...)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// New is Start for callers without a testing.TB, such as TestMain.
// extraCRDs are more CRD files or directories to install (e.g. OLM's).
func New(extraCRDs ...string) (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(RepoRoot(), "bin")
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run 'make envtest-assets' (or 'make test', which builds it) first", b, assets)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join(RepoRoot(), "config", "crd", "bases")}, extraCRDs...),
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start leaves etcd and kube-apiserver running when a later step
		// (installing the CRDs) fails.
		_ = env.Stop()
		return nil, fmt.Errorf("starting test API server: %w", err)
	}
	v, err := serverVersion(cfg)
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Version: v, env: env}, nil
}

// serverVersion reads the API server's version and fails unless it is the
// Kubernetes version TEST_KUBE_VERSION names (such as v1.30.14), when that
// is set: make test-minkube sets it, so its tests cannot pass against
// another API server than the oldest supported one by mistake (a
// KUBEBUILDER_ASSETS pointing elsewhere).
func serverVersion(cfg *rest.Config) (*version.Info, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating discovery client: %w", err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reading the API server's version: %w", err)
	}
	if want := os.Getenv("TEST_KUBE_VERSION"); want != "" && v.GitVersion != want {
		return nil, fmt.Errorf("the test API server is Kubernetes %s, but TEST_KUBE_VERSION wants %s", v.GitVersion, want)
	}
	return v, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error {
	if err := e.env.Stop(); err != nil {
		return fmt.Errorf("stopping test API server: %w", err)
	}
	return nil
}

// AddUser returns a rest.Config for a user with the given name and groups,
// for tests that check permissions.
func (e *Env) AddUser(name string, groups ...string) (*rest.Config, error) {
	u, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding user %s: %w", name, err)
	}
	return u.Config(), nil
}

// Scheme returns a scheme with the built-in kinds and this project's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := cephv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiv2.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Eventually calls check until it returns nil or timeout passes, then fails
// the test with check's last error. Tests wait on the API server's state this
// way; the interval is short because every wait is for a watch-driven change.
func Eventually(tb testing.TB, timeout time.Duration, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// OLMOperatorConditionCRD returns the path of OLM's OperatorCondition CRD in
// the module cache (the operator-framework/api module the project requires).
func OLMOperatorConditionCRD() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/operator-framework/api")
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating github.com/operator-framework/api: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "crds", "operators.coreos.com_operatorconditions.yaml"), nil
}

// SetupLogging sends the operator's logs to stderr: errors only, or
// everything when TEST_VERBOSE is set.
func SetupLogging() {
	level := zapcore.ErrorLevel
	if os.Getenv("TEST_VERBOSE") != "" {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(level)))
}

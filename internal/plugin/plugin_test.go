package plugin_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/plugin"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ with the commands' output")

// Namespaces of the fixtures.
const (
	nsMain    = "ceph"
	nsPreview = "ceph-preview"
	nsEmpty   = "empty"
	nsTwo     = "two-clusters"
)

var (
	envOnce sync.Once
	env     *testenv.Env
	envErr  error
	// envReady is set once every fixture is written: a fixture that failed
	// the first test fails the others too.
	envReady bool
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

// setup starts the package's API server once and writes the fixtures.
func setup(t *testing.T) *testenv.Env {
	t.Helper()
	testenv.SkipShort(t)
	envOnce.Do(func() {
		if env, envErr = testenv.New(); envErr != nil {
			return
		}
		ctx := context.Background()
		for _, ns := range []string{nsMain, nsPreview, nsEmpty, nsTwo} {
			if envErr = env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); envErr != nil {
				return
			}
		}
		createFixture(ctx, t, env.Client, nsMain)
		createPreviewFixture(ctx, t, env.Client, nsPreview)
		for _, name := range []string{"blue", "green"} {
			if envErr = env.Client.Create(ctx, &cephv1alpha1.CephCluster{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nsTwo},
				Spec: cephv1alpha1.CephClusterSpec{Image: "quay.io/ceph/ceph:v19.2.3",
					Storage: cephv1alpha1.StorageSpec{UseAllNodes: true, UseAllDevices: true}},
			}); envErr != nil {
				return
			}
		}
		envReady = true
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	if !envReady {
		t.Fatal("writing the fixtures failed in an earlier test")
	}
	return env
}

// kubeconfig writes a kubeconfig for cfg with two contexts, "main" (the
// current one, namespace nsMain) and "preview" (namespace nsPreview).
func kubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
		Token: cfg.BearerToken}
	kc.Contexts["main"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "user", Namespace: nsMain}
	kc.Contexts["preview"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "user", Namespace: nsPreview}
	kc.CurrentContext = "main"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs `kubectl ceph args` in-process against the kubeconfig and
// returns what it printed, and its exit code.
func run(t *testing.T, kubeconfigPath string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = plugin.Run(ctx, &plugin.Options{Stdout: &out, Stderr: &errOut, Now: func() time.Time { return now }},
		append([]string{"--kubeconfig", kubeconfigPath}, args...))
	return out.String(), errOut.String(), code
}

// A golden case: the command, and whether it should fail.
type goldenCase struct {
	name string
	args []string
	fail bool
}

var goldenCases = []goldenCase{
	{"status", []string{"status"}, false},
	{"disks", []string{"disks"}, false},
	{"disks-wide", []string{"disks", "-o", "wide"}, false},
	{"disks-json", []string{"disks", "-o", "json"}, false},
	{"disks-node-reason", []string{"disks", "--node", "node-2", "--reason", "PrepareFailed"}, false},
	{"disks-reason", []string{"disks", "--reason", "hasfilesystem"}, false},
	{"plan", []string{"plan"}, false},
	{"plan-preview", []string{"--context", "preview", "plan"}, false},
	{"explain-failed", []string{"explain", "node-2/sdc"}, false},
	{"explain-node-flag", []string{"explain", "sdd", "--node", "node-2"}, false},
	{"explain-by-id", []string{"explain", id(1, 1)}, false},
	{"explain-foreign", []string{"-n", nsMain, "--cluster", "ceph", "explain", "node-1/sdd"}, false},
	{"error-explain-unknown", []string{"explain", "sdz"}, true},
	{"error-explain-ambiguous", []string{"explain", "sdc"}, true},
	{"error-disks-unknown-node", []string{"disks", "--node", "node-9"}, true},
	{"error-disks-output", []string{"disks", "-o", "yaml"}, true},
	{"error-no-cluster", []string{"-n", nsEmpty, "status"}, true},
	{"error-two-clusters", []string{"-n", nsTwo, "plan"}, true},
	{"error-unknown-cluster", []string{"-n", nsTwo, "--cluster", "red", "disks"}, true},
}

// TestGolden runs every command against the fixtures on a real API server
// and compares its output with testdata/<case>.golden; go test -update
// rewrites them.
func TestGolden(t *testing.T) {
	e := setup(t)
	kc := kubeconfig(t, e.Config)
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, kc, tc.args...)
			if (code != 0) != tc.fail {
				t.Fatalf("kubectl ceph %s: exit code %d, want failure %t\nstdout:\n%s\nstderr:\n%s",
					strings.Join(tc.args, " "), code, tc.fail, stdout, stderr)
			}
			got := fmt.Sprintf("$ kubectl ceph %s\n%s", strings.Join(tc.args, " "), stdout)
			if tc.fail {
				got += fmt.Sprintf("(exit %d)\n%s", code, stderr)
			} else if stderr != "" {
				t.Errorf("stderr of a successful command: %s", stderr)
			}
			compareGolden(t, filepath.Join("testdata", tc.name+".golden"), got)
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestReadOnly runs every command as a user who may only get, list and watch
// the API group's resources and events in the namespace: each prints what it
// prints for an administrator.
func TestReadOnly(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"cephclusters", "diskinventories"},
			Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
	}
	reader := userWithRole(ctx, t, e, "reader", nsMain, rules)
	admin := kubeconfig(t, e.Config)
	// RBAC takes effect once the API server's authorizer has seen the binding.
	testenv.Eventually(t, 10*time.Second, func() error {
		if _, stderr, code := run(t, reader, "status"); code != 0 {
			return fmt.Errorf("status as reader: %s", stderr)
		}
		return nil
	})
	for _, tc := range goldenCases {
		if tc.fail || strings.Contains(strings.Join(tc.args, " "), "preview") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			want, _, _ := run(t, admin, tc.args...)
			got, stderr, code := run(t, reader, tc.args...)
			if code != 0 {
				t.Fatalf("kubectl ceph %s as a read-only user: exit %d: %s", strings.Join(tc.args, " "), code, stderr)
			}
			if got != want {
				t.Errorf("kubectl ceph %s as a read-only user prints\n%s\nan administrator gets\n%s", strings.Join(tc.args, " "), got, want)
			}
		})
	}
}

// TestForbidden checks that a user without permission gets an error naming
// the verb and resource refused, and that explain without access to events
// still tells the rest of the disk's story.
func TestForbidden(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	nobody := userWithRole(ctx, t, e, "nobody", nsMain, nil)
	for _, args := range [][]string{{"status"}, {"disks"}, {"plan"}, {"explain", "node-2/sdc"}} {
		_, stderr, code := run(t, nobody, args...)
		if code == 0 {
			t.Fatalf("kubectl ceph %s succeeded for a user without permissions", strings.Join(args, " "))
		}
		for _, want := range []string{"forbidden: you may not list cephclusters.ceph.cephoperator.io in namespace ceph", `User "nobody"`} {
			if !strings.Contains(stderr, want) {
				t.Errorf("kubectl ceph %s: error %q does not say %q", strings.Join(args, " "), stderr, want)
			}
		}
	}

	noEvents := userWithRole(ctx, t, e, "no-events", nsMain, []rbacv1.PolicyRule{
		{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"cephclusters", "diskinventories"},
			Verbs: []string{"get", "list"}},
	})
	var stdout, stderr string
	testenv.Eventually(t, 10*time.Second, func() error {
		var code int
		if stdout, stderr, code = run(t, noEvents, "explain", "node-2/sdc"); code != 0 {
			return fmt.Errorf("explain without events: exit %d: %s", code, stderr)
		}
		return nil
	})
	for _, want := range []string{"Action:          Failed (PrepareFailed)", "not shown: forbidden: you may not list events in namespace ceph"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("explain without access to events does not say %q:\n%s", want, stdout)
		}
	}
}

// userWithRole adds a user bound to a Role with rules in ns (no binding when
// rules is empty) and returns a kubeconfig for it.
func userWithRole(ctx context.Context, t *testing.T, e *testenv.Env, name, ns string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	cfg, err := e.AddUser(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) > 0 {
		must(t, e.Client.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: rules}))
		must(t, e.Client.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
		}))
	}
	return kubeconfig(t, cfg)
}

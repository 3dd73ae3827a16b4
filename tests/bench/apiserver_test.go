package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/proc"
	"github.com/ceph-operator/ceph-operator/tests/framework/promtext"
)

// apiServer is a test etcd and kube-apiserver with the project's CRDs.
type apiServer struct {
	env *envtest.Environment
	// config connects as an administrator, without client-side rate
	// limiting (the operator has none either).
	config *rest.Config
	// kubeconfig is an administrator kubeconfig file for the operator
	// process.
	kubeconfig string
	metrics    *kubernetes.Clientset
}

// startAPIServer starts etcd and kube-apiserver on loopback. It does not use
// testenv.Start because the benchmark sets API server flags.
func startAPIServer(t *testing.T, dir string) *apiServer {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(testenv.RepoRoot(), "bin")
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	api := env.ControlPlane.GetAPIServer()
	api.Configure().Set("advertise-address", "127.0.0.1")
	api.Configure().Set("service-cluster-ip-range", "127.96.0.0/16")
	api.Configure().Set("endpoint-reconciler-type", "none")
	// Every client here is in system:masters, which priority and
	// fairness exempts from these limits; they are raised anyway so that
	// no request of the harness's parallel writers waits in a queue.
	api.Configure().Set("max-requests-inflight", "1600")
	api.Configure().Set("max-mutating-requests-inflight", "800")
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting test API server (run 'make envtest-assets' first): %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping test API server: %v", err)
		}
	})
	user, err := env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("adding administrator: %v", err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		t.Fatalf("rendering kubeconfig: %v", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
		t.Fatalf("writing kubeconfig: %v", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("creating metrics client: %v", err)
	}
	return &apiServer{env: env, config: cfg, kubeconfig: kubeconfig, metrics: cs}
}

// ready fails when the API server or its etcd is down; the benchmark then
// stops with that, rather than waiting for its timeout.
func (a *apiServer) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.metrics.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("the API server is not ready (was its etcd stopped from outside?): %w", err)
	}
	return nil
}

// writeVerbs are the apiserver_request_total verbs that change state.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "DELETECOLLECTION": true, "APPLY": true}

// writeCounts maps "VERB resource[/subresource]" to a request count.
type writeCounts map[string]float64

// writes reads the API server's write request counters, dry runs left out.
func (a *apiServer) writes(ctx context.Context) (writeCounts, error) {
	raw, err := a.metrics.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading API server metrics: %w", err)
	}
	out := writeCounts{}
	for _, s := range promtext.Parse(raw, "apiserver_request_total") {
		// A dry run (the operator's pod admission check) stores nothing.
		if !writeVerbs[s.Labels["verb"]] || s.Labels["dry_run"] != "" {
			continue
		}
		res := s.Labels["resource"]
		if sub := s.Labels["subresource"]; sub != "" {
			res += "/" + sub
		}
		out[s.Labels["verb"]+" "+res] += s.Value
	}
	return out, nil
}

// latencies returns, per "VERB resource[/subresource]" with at least min
// requests, the count and the mean latency the API server measured, as
// "VERB resource: n × mean" sorted by total time, longest first.
func (a *apiServer) latencies(ctx context.Context, minCount float64) ([]string, error) {
	raw, err := a.metrics.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading API server metrics: %w", err)
	}
	key := func(s promtext.Sample) string {
		k := s.Labels["verb"] + " " + s.Labels["resource"]
		if sub := s.Labels["subresource"]; sub != "" {
			k += "/" + sub
		}
		return k
	}
	sums, counts := map[string]float64{}, map[string]float64{}
	for _, s := range promtext.Parse(raw, "apiserver_request_duration_seconds_sum") {
		sums[key(s)] += s.Value
	}
	for _, s := range promtext.Parse(raw, "apiserver_request_duration_seconds_count") {
		counts[key(s)] += s.Value
	}
	var keys []string
	for k, n := range counts {
		if n >= minCount && !strings.HasPrefix(k, "WATCH") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return sums[keys[i]] > sums[keys[j]] })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s: %d requests, mean %.1fms, total %.1fs", k, int(counts[k]), 1000*sums[k]/counts[k], sums[k]))
	}
	return out, nil
}

// since returns the counts that grew from before to w, dropping those
// excluded by resource name (the part after the verb, before any "/").
func (w writeCounts) since(before writeCounts, exclude ...string) writeCounts {
	skip := map[string]bool{}
	for _, e := range exclude {
		skip[e] = true
	}
	out := writeCounts{}
	for k, v := range w {
		res := strings.SplitN(strings.SplitN(k, " ", 2)[1], "/", 2)[0]
		if d := v - before[k]; d > 0 && !skip[res] {
			out[k] = d
		}
	}
	return out
}

// total sums the counts.
func (w writeCounts) total() int {
	n := 0.0
	for _, v := range w {
		n += v
	}
	return int(n)
}

// String lists the counts as "VERB resource=n", sorted.
func (w writeCounts) String() string {
	if len(w) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, int(w[k])))
	}
	return strings.Join(parts, ", ")
}

// serverCPU is the CPU time the test's etcd and kube-apiserver (children of
// this process) have used so far: with the operator's own CPU it shows
// whether a phase was bound by the API server.
func serverCPU() (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total time.Duration
	found := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		if name := strings.TrimSpace(string(comm)); name != "etcd" && name != "kube-apiserver" {
			continue
		}
		st, err := proc.ReadStat(pid)
		if err != nil || st.PPID != os.Getpid() {
			continue
		}
		total += st.CPU()
		found++
	}
	if found != 2 {
		return total, fmt.Errorf("found %d of etcd and kube-apiserver among this test's processes", found)
	}
	return total, nil
}

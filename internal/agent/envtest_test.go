package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

const clusterFSID = "c0ffee00-1111-4222-8333-444455556666"

// env is the API server shared by this package's envtest tests; starting
// one per test would dominate the run time. It is started by the first test
// that needs it (startEnv), so unit tests and fuzz workers run without one.
var (
	env     *testenv.Env
	envOnce sync.Once
	envErr  error
)

func startEnv(t *testing.T) {
	t.Helper()
	testenv.SkipShort(t)
	envOnce.Do(func() { env, envErr = testenv.New() })
	if envErr != nil {
		t.Fatal(envErr)
	}
}

func TestMain(m *testing.M) {
	testenv.SetupLogging()
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// newNamespace creates a namespace unique to the test.
func newNamespace(t *testing.T) string {
	t.Helper()
	startEnv(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "agent-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func createInventory(t *testing.T, ns, node string) {
	t.Helper()
	inv := &cephv1alpha1.DiskInventory{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: ns},
		Spec:       cephv1alpha1.DiskInventorySpec{NodeName: node},
	}
	if err := env.Client.Create(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
}

func getInventory(ns, node string) (*cephv1alpha1.DiskInventory, error) {
	var inv cephv1alpha1.DiskInventory
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: node}, &inv)
	return &inv, err
}

// runAgent starts an agent on the fixture root for node in ns, against the
// test API server, and stops it at the end of the test.
func runAgent(t *testing.T, ns, node string, scanner discovery.Scanner) *agent.Agent {
	t.Helper()
	cfg := agent.DefaultConfig(func(string) string { return "" })
	cfg.NodeName, cfg.Namespace, cfg.ClusterFSID = node, ns, clusterFSID
	inv, err := agent.NewKubeInventory(env.Config, testenv.Scheme(), ns, node)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Deps{Scanner: scanner, Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return a
}

// scenarioScanner writes the standard fixture scenarios and returns a
// scanner over them whose busy checker reports the busy scenarios.
func scenarioScanner(t *testing.T) (discovery.Scanner, []fixture.Scenario) {
	t.Helper()
	root := t.TempDir()
	_, scs, err := fixture.BuildScenarios(root, clusterFSID)
	if err != nil {
		t.Fatal(err)
	}
	busy := discovery.StaticBusyChecker{Busy: map[string]bool{}}
	for _, sc := range scs {
		if sc.Busy {
			busy.Busy[filepath.Join(root, "dev", sc.Disk.Name)] = true
		}
	}
	return discovery.Scanner{Root: root, Busy: busy}, scs
}

func TestEnvPublishesVerdicts(t *testing.T) {
	ns := newNamespace(t)
	createInventory(t, ns, "node-a")
	scanner, scs := scenarioScanner(t)
	runAgent(t, ns, "node-a", scanner)

	var inv *cephv1alpha1.DiskInventory
	testenv.Eventually(t, 20*time.Second, func() error {
		var err error
		if inv, err = getInventory(ns, "node-a"); err != nil {
			return err
		}
		if len(inv.Status.Disks) != len(scs) {
			return fmt.Errorf("%d disks published, want %d", len(inv.Status.Disks), len(scs))
		}
		return nil
	})
	byName := map[string]cephv1alpha1.Disk{}
	for _, d := range inv.Status.Disks {
		byName[d.Name] = d
	}
	for _, sc := range scs {
		d := byName[sc.Disk.Name]
		if string(d.Verdict.State) != sc.WantState || d.Verdict.Reason != sc.WantReason || !strings.Contains(d.Verdict.Message, sc.WantMessage) {
			t.Errorf("%s: published %s/%s %q, want %s/%s containing %q", sc.Name, d.Verdict.State, d.Verdict.Reason, d.Verdict.Message, sc.WantState, sc.WantReason, sc.WantMessage)
		}
		if sc.WantState == "OSD" && (d.Verdict.OSDID == nil || d.Verdict.ClusterFSID != clusterFSID) {
			t.Errorf("%s: OSD verdict without id or FSID: %+v", sc.Name, d.Verdict)
		}
	}
	s := inv.Status.Summary
	if s.Disks != int32(len(scs)) || s.Available+s.OSDs+s.Rejected != s.Disks || s.OSDs == 0 {
		t.Errorf("summary %+v", s)
	}
	if inv.Status.LastScanTime == nil || inv.Status.AgentVersion == "" {
		t.Errorf("lastScanTime %v, agentVersion %q", inv.Status.LastScanTime, inv.Status.AgentVersion)
	}
	var owned bool
	for _, mf := range inv.ManagedFields {
		if mf.Manager == string(apply.Agent) && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "status" {
			owned = true
		}
	}
	if !owned {
		t.Errorf("status is not applied by %s on the status subresource: %+v", string(apply.Agent), inv.ManagedFields)
	}
}

func TestEnvWaitsForInventory(t *testing.T) {
	ns := newNamespace(t)
	scanner, scs := scenarioScanner(t)
	a := runAgent(t, ns, "node-b", scanner)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Once the watch has reported the object absent, a pass says so.
	testenv.Eventually(t, 10*time.Second, func() error {
		res, err := a.Rescan(ctx)
		if err != nil {
			return err
		}
		if !res.WaitingForInventory {
			return fmt.Errorf("not waiting: %+v", res)
		}
		return nil
	})
	createInventory(t, ns, "node-b")
	testenv.Eventually(t, 20*time.Second, func() error {
		inv, err := getInventory(ns, "node-b")
		if err != nil {
			return err
		}
		if len(inv.Status.Disks) != len(scs) {
			return fmt.Errorf("%d disks published, want %d", len(inv.Status.Disks), len(scs))
		}
		return nil
	})
}

func TestEnvRescanRequestAndHotPlug(t *testing.T) {
	ns := newNamespace(t)
	createInventory(t, ns, "node-c")
	root := t.TempDir()
	node := fixture.New(root)
	node.Add(fixture.Disk{Name: "sdb", SizeBytes: uint64(100 * fixture.GiB), Model: "QEMU HARDDISK"})
	if err := node.Write(); err != nil {
		t.Fatal(err)
	}
	a := runAgent(t, ns, "node-c", discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}})
	testenv.Eventually(t, 20*time.Second, func() error {
		inv, err := getInventory(ns, "node-c")
		if err != nil {
			return err
		}
		if len(inv.Status.Disks) != 1 || inv.Status.Disks[0].Verdict.State != cephv1alpha1.DiskAvailable {
			return fmt.Errorf("published %+v", inv.Status.Disks)
		}
		return nil
	})

	inv, err := getInventory(ns, "node-c")
	if err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(inv.DeepCopy())
	inv.Spec.RescanRequest = 2
	if err := env.Client.Patch(context.Background(), inv, patch); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		inv, err := getInventory(ns, "node-c")
		if err != nil {
			return err
		}
		if inv.Status.ObservedRescanRequest != 2 {
			return fmt.Errorf("observedRescanRequest %d, want 2", inv.Status.ObservedRescanRequest)
		}
		return nil
	})

	node.Add(fixture.Disk{Name: "sdc", SizeBytes: uint64(200 * fixture.GiB), Model: "QEMU HARDDISK", Content: fixture.Ext4("data")})
	if err := node.Write(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := a.Rescan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Published {
		t.Fatalf("a new disk did not cause a publish: %+v", res)
	}
	inv, err = getInventory(ns, "node-c")
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Status.Disks) != 2 || inv.Status.Disks[1].Name != "sdc" || inv.Status.Disks[1].Verdict.Reason != "HasFilesystem" {
		t.Fatalf("after adding sdc: %+v", inv.Status.Disks)
	}
	if inv.Status.ObservedRescanRequest != 2 {
		t.Errorf("observedRescanRequest went from 2 to %d", inv.Status.ObservedRescanRequest)
	}
}

// diskInventoryWrites returns how many write requests on diskinventories
// (any subresource) the API server has served, from its own /metrics.
func diskInventoryWrites(t *testing.T) int {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("scraping the API server's metrics: %v", err)
	}
	total := 0
	found := false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="diskinventories"`) {
			continue
		}
		found = true
		write := false
		for _, v := range []string{"APPLY", "PATCH", "UPDATE", "POST", "CREATE", "DELETE"} {
			write = write || strings.Contains(line, `verb="`+v+`"`)
		}
		if !write {
			continue
		}
		n, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("parsing metric line %q: %v", line, err)
		}
		total += int(n)
	}
	if !found {
		t.Fatal("the API server reports no requests on diskinventories at all")
	}
	return total
}

func TestEnvIdleResyncMakesNoWrite(t *testing.T) {
	ns := newNamespace(t)
	createInventory(t, ns, "node-d")
	scanner, scs := scenarioScanner(t)
	before := diskInventoryWrites(t)
	a := runAgent(t, ns, "node-d", scanner)
	testenv.Eventually(t, 20*time.Second, func() error {
		inv, err := getInventory(ns, "node-d")
		if err != nil {
			return err
		}
		if len(inv.Status.Disks) != len(scs) {
			return fmt.Errorf("%d disks published, want %d", len(inv.Status.Disks), len(scs))
		}
		return nil
	})
	// The first publish is counted, which shows the count can move.
	var published int
	testenv.Eventually(t, 10*time.Second, func() error {
		if published = diskInventoryWrites(t); published <= before {
			return fmt.Errorf("writes %d, want more than %d", published, before)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 5 {
		res, err := a.Rescan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Scanned || res.Published {
			t.Fatalf("idle resync %d: %+v", i, res)
		}
	}
	if after := diskInventoryWrites(t); after != published {
		t.Fatalf("idle resyncs wrote to diskinventories: %d writes before, %d after", published, after)
	}
}

// TestEnvLeastPrivilege runs the agent as a user holding only the RBAC the
// agent documents: list and watch on diskinventories and patch on
// diskinventories/status, in its namespace.
func TestEnvLeastPrivilege(t *testing.T) {
	ns := newNamespace(t)
	createInventory(t, ns, "node-e")
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"diskinventories"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"diskinventories/status"}, Verbs: []string{"patch"}},
		},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "agent"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "agent-" + ns}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	userCfg, err := env.AddUser("agent-" + ns)
	if err != nil {
		t.Fatal(err)
	}
	scanner, scs := scenarioScanner(t)
	cfg := agent.DefaultConfig(func(string) string { return "" })
	cfg.NodeName, cfg.Namespace, cfg.ClusterFSID = "node-e", ns, clusterFSID
	inv, err := agent.NewKubeInventory(userCfg, testenv.Scheme(), ns, "node-e")
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Deps{Scanner: scanner, Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	testenv.Eventually(t, 20*time.Second, func() error {
		inv, err := getInventory(ns, "node-e")
		if err != nil {
			return err
		}
		if len(inv.Status.Disks) != len(scs) {
			return fmt.Errorf("%d disks published with least privilege, want %d", len(inv.Status.Disks), len(scs))
		}
		return nil
	})
}

// TestEnvPublishesCephUserFromPasswd runs agents wired as on a node
// (NewForNode) with the image's passwd file injected: the ceph user found
// there is published in status.cephUser, and left out when the image has
// none. The API server refuses a root cephUser.
func TestEnvPublishesCephUserFromPasswd(t *testing.T) {
	ns := newNamespace(t)
	dir := t.TempDir()
	for node, passwd := range map[string]string{
		"node-debian": "root:x:0:0:root:/root:/bin/bash\nceph:x:64045:64045:Ceph storage service:/var/lib/ceph:/usr/sbin/nologin\n",
		"node-none":   "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
	} {
		createInventory(t, ns, node)
		root := filepath.Join(dir, node)
		if _, _, err := fixture.BuildScenarios(root, clusterFSID); err != nil {
			t.Fatal(err)
		}
		cfg := agent.DefaultConfig(func(string) string { return "" })
		cfg.NodeName, cfg.Namespace, cfg.ClusterFSID, cfg.HostRoot = node, ns, clusterFSID, root
		cfg.MountinfoPath = "/proc/self/mountinfo"
		cfg.CephBinary = filepath.Join(dir, "no-ceph-tool")
		cfg.PasswdPath = filepath.Join(dir, node+".passwd")
		if err := os.WriteFile(cfg.PasswdPath, []byte(passwd), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := agent.NewForNode(cfg, env.Config)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run of %s: %v", node, err)
			}
		})
	}
	published := func(node string) *cephv1alpha1.DiskInventory {
		var inv *cephv1alpha1.DiskInventory
		testenv.Eventually(t, 20*time.Second, func() error {
			var err error
			if inv, err = getInventory(ns, node); err != nil {
				return err
			}
			if inv.Status.LastScanTime == nil {
				return fmt.Errorf("%s: nothing published yet", node)
			}
			return nil
		})
		return inv
	}
	if u := published("node-debian").Status.CephUser; u == nil || *u != (cephv1alpha1.CephUser{UID: 64045, GID: 64045}) {
		t.Errorf("node-debian: status.cephUser %+v, want uid and gid 64045", u)
	}
	inv := published("node-none")
	if u := inv.Status.CephUser; u != nil {
		t.Errorf("node-none: status.cephUser %+v, want none: its passwd has no ceph user", u)
	}

	inv.Status.CephUser = &cephv1alpha1.CephUser{UID: 0, GID: 64045}
	err := env.Client.Status().Update(context.Background(), inv)
	// The error names the field status.cephUser.uid on Kubernetes 1.37
	// and cephUser.uid on 1.30 (make test-minkube).
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "cephUser.uid") {
		t.Errorf("a cephUser with uid 0 was not refused: %v", err)
	}
}

// TestEnvPublishesHealth runs the agent with a smartctl on PATH that answers
// with recorded outputs: the API server accepts the health it publishes, a
// blank disk whose drive is failing is rejected, an OSD's stays an OSD.
func TestEnvPublishesHealth(t *testing.T) {
	ns := newNamespace(t)
	createInventory(t, ns, "node-h")
	scanner, _ := scenarioScanner(t)
	bin := t.TempDir()
	for name, recorded := range map[string]string{"sda": "sata-failing.json", "sdr": "nvme-critical.json", "nvme0n1": "nvme-healthy.json"} {
		b, err := os.ReadFile(filepath.Join("..", "smart", "testdata", recorded))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\nfor a; do dev=\"$a\"; done\nexec cat \"" + bin + "/$(basename \"$dev\").json\"\n"
	if err := os.WriteFile(filepath.Join(bin, "smartctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	cfg := agent.DefaultConfig(func(string) string { return "" })
	cfg.NodeName, cfg.Namespace, cfg.ClusterFSID = "node-h", ns, clusterFSID
	inv, err := agent.NewKubeInventory(env.Config, testenv.Scheme(), ns, "node-h")
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Deps{Scanner: scanner, Inventory: inv, Health: &agent.Smartctl{HostRoot: scanner.Root}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	var got *cephv1alpha1.DiskInventory
	testenv.Eventually(t, 20*time.Second, func() error {
		var err error
		if got, err = getInventory(ns, "node-h"); err != nil {
			return err
		}
		if got.Status.LastScanTime == nil {
			return fmt.Errorf("nothing published yet")
		}
		return nil
	})
	byName := map[string]cephv1alpha1.Disk{}
	for _, d := range got.Status.Disks {
		byName[d.Name] = d
	}
	if d := byName["sda"]; d.Verdict.Reason != string(discovery.FailurePredicted) || d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthFailing ||
		d.Health.ReallocatedSectors == nil || *d.Health.ReallocatedSectors != 2376 || d.Health.CheckedAt == nil {
		t.Errorf("sda: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if d := byName["sdr"]; d.Verdict.State != cephv1alpha1.DiskOSD || d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthFailing ||
		d.Health.MediaErrors == nil || *d.Health.MediaErrors != 1<<63-1 {
		t.Errorf("sdr: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if d := byName["nvme0n1"]; d.Verdict.State != cephv1alpha1.DiskAvailable || d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthPassed {
		t.Errorf("nvme0n1: verdict %+v, health %+v", d.Verdict, d.Health)
	}
	if d := byName["md127"]; d.Health == nil || d.Health.Status != cephv1alpha1.DiskHealthNotSupported {
		t.Errorf("md127: health %+v, want NotSupported", d.Health)
	}

	// The schema bounds what a writer may claim.
	bad := got.DeepCopy()
	for i := range bad.Status.Disks {
		if bad.Status.Disks[i].Name == "sdr" {
			w := int32(256)
			bad.Status.Disks[i].Health.NVMeCriticalWarning = &w
		}
	}
	if err := env.Client.Status().Update(context.Background(), bad); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "nvmeCriticalWarning") {
		t.Errorf("a critical warning of 256 was not refused: %v", err)
	}
}

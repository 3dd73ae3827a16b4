// Package realceph runs the operator for real: on the real node of
// tests/framework/realnode (kubelet, containerd), deployed from config/default with its
// own image, against real loop devices, with real Ceph daemons from the local
// Ceph test image. It is `make test-real`, root only, and skipped unless
// CEPH_OPERATOR_REAL=1.
//
// Settings: CEPH_TEST_IMG and CEPH_ARCHIVE name the Ceph image and its
// archive (make test-real passes those of CEPH_RELEASE), CEPH_VERSION the
// Ceph version its daemons must run, OPERATOR_ARCHIVE the operator image's
// archive; CEPH_CAPTURE_DIR, when set, receives the outputs of the ceph
// commands the operator parses, as internal/ceph/testdata/releases holds.
package realceph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/gate"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

const (
	// namespace is where config/default deploys the operator; the
	// operator manages clusters in its own namespace.
	namespace = "ceph-operator-system"
	// foreignFSID is the FSID of "another cluster" on one device.
	foreignFSID = "99999999-8888-4777-8666-555555555555"
	// blankSize is above the default 5 GiB minimum size (sparse files).
	blankSize = 6 * fixture.GiB
	// smallSize is below it.
	smallSize = 1 * fixture.GiB
	// dataDir is the cluster's dataDirHostPath. A tmpfs is mounted there
	// for the test so the monitor's free-space check sees an empty disk.
	dataDir = "/var/lib/ceph-operator-realtest"
	// convergeTimeout bounds the wait for three OSDs up and in.
	convergeTimeout = 15 * time.Minute
)

// env returns the value of an environment variable or def.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// device is one of the test's loop devices and what must become of it.
type device struct {
	kind    string // blank, ext4, foreign, small
	backing string
	dev     loopdev.Device
	sum     string // content hash before the test, for untouched devices
}

func TestRealCeph(t *testing.T) {
	gate.Env(t, gate.Real, "skipping: the real-node Ceph test runs with CEPH_OPERATOR_REAL=1 (make test-real)")
	summarizeFailures(t)
	loopdev.RequireRoot(t, "mkfs.ext4", "mount")
	root := testenv.RepoRoot()
	operatorArchive := env("OPERATOR_ARCHIVE", filepath.Join(root, "bin", "images", "ceph-operator.tar"))
	cephArchive := env("CEPH_ARCHIVE", filepath.Join(root, "bin", "images", "ceph-test-v16.2.tar"))
	cephImage := env("CEPH_TEST_IMG", "localhost/ceph-operator/ceph-test:v16.2")
	// The Ceph version the image holds (make test-real passes the version
	// of its ceph-osd package): the cluster must run exactly it, so a run
	// meant for one release cannot pass on another.
	wantVersion := os.Getenv("CEPH_VERSION")
	for _, p := range []string{operatorArchive, cephArchive} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: build the images first (make images; make test-real does)", err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	cluster := realnode.UpForTest(ctx, t)
	diagnoseOnFailure(t, cluster.Clientset)

	importStart := time.Now()
	for _, a := range []string{operatorArchive, cephArchive} {
		if err := cluster.ImportImage(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("images imported in %.1fs", time.Since(importStart).Seconds())

	c := newClient(t, cluster)

	mountTmpfs(t, dataDir)
	devices := makeDevices(t)

	deployStart := time.Now()
	deployOperator(t, ctx, cluster)
	t.Cleanup(func() { undeployOperator(t, cluster) })
	realnode.WaitFor(t, ctx, 5*time.Minute, "the operator to be available", func() error {
		return realnode.DeploymentAvailable(ctx, c, namespace, "ceph-operator-controller-manager")
	})
	t.Logf("operator available %.1fs after kubectl apply", time.Since(deployStart).Seconds())

	var names []string
	for _, d := range devices {
		names = append(names, d.dev.Name)
	}
	cc := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: namespace},
		Spec: cephv1alpha1.CephClusterSpec{
			Image:           cephImage,
			DataDirHostPath: dataDir,
			Mon:             cephv1alpha1.MonSpec{Count: 1},
			// One node: replicas on distinct OSDs of it.
			DefaultFailureDomain: "osd",
			Storage: cephv1alpha1.StorageSpec{
				UseAllNodes: true, UseAllDevices: true, AllowLoopDevices: true,
				// Only this test's loop devices: other loop devices on a
				// developer's machine are not the test's to take.
				DeviceFilter: "^(" + strings.Join(names, "|") + ")$",
			},
		},
	}
	applyStart := time.Now()
	if err := c.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteCluster(t, c, cc) })

	var got *cephv1alpha1.CephCluster
	realnode.WaitFor(t, ctx, convergeTimeout, "3 OSDs up and in", func() error {
		got = &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		st := got.Status.Ceph
		if st == nil || st.OSDs.Up != 3 || st.OSDs.In != 3 {
			return fmt.Errorf("status.ceph = %+v; conditions %s", st, conditionSummary(got))
		}
		// A manager still loading its modules (minutes on a loaded
		// machine) is a passing state, not a one-host warning.
		for _, ch := range st.Checks {
			if ch.Code == "MGR_DOWN" {
				return fmt.Errorf("3 OSDs up and in, but %s (%s)", ch.Code, ch.Message)
			}
		}
		return nil
	})
	upAfter := time.Since(applyStart)
	t.Logf("FIGURE apply -> 3 OSDs up and in, manager active: %.1fs", upAfter.Seconds())
	st := got.Status.Ceph
	t.Logf("FIGURE health %s, checks %s", st.Health, checkList(st))
	t.Logf("conditions: %s", conditionSummary(got))
	checkVersion(t, got, cephImage, wantVersion)
	if st.FSID != got.Status.FSID {
		errorf(t, "status.ceph.fsid %q != status.fsid %q", st.FSID, got.Status.FSID)
	}
	if st.OSDs.Total != 3 {
		errorf(t, "Ceph knows %d OSDs, want exactly 3", st.OSDs.Total)
	}
	if st.Health == cephv1alpha1.CephHealthErr {
		errorf(t, "health is HEALTH_ERR: %s", checkList(st))
	}
	// A check a one-host cluster does not always have may show for a
	// moment while the OSDs start (slow ops on a loaded machine, a daemon
	// not yet reported); it must clear.
	healthStart := time.Now()
	var passing []string
	realnode.WaitFor(t, ctx, 5*time.Minute, "only the health checks a one-host cluster always has", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		var other []string
		for _, ch := range got.Status.Ceph.Checks {
			if !oneHostWarnings[ch.Code] {
				other = append(other, ch.Code+" ("+ch.Message+")")
			}
		}
		if len(other) > 0 {
			if passing == nil {
				t.Logf("health checks that must clear: %s", strings.Join(other, ", "))
			}
			passing = other
			return fmt.Errorf("health %s: %s", got.Status.Ceph.Health, strings.Join(other, ", "))
		}
		return nil
	})
	if passing != nil {
		t.Logf("FIGURE passing health checks %s cleared after %.1fs", strings.Join(passing, ", "), time.Since(healthStart).Seconds())
	}

	// Every verdict, as the discovery pod published it.
	inv := &cephv1alpha1.DiskInventory{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cluster.Node}, inv); err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]cephv1alpha1.DiskVerdict{}
	for _, d := range inv.Status.Disks {
		verdicts[d.Name] = d.Verdict
	}
	want := map[string]string{"blank": "OSD", "ext4": "HasFilesystem", "foreign": "ForeignCephCluster", "small": "TooSmall", "slot": "TooSmall"}
	for _, d := range devices {
		v, ok := verdicts[d.dev.Name]
		if !ok {
			errorf(t, "%s (%s) is missing from the DiskInventory", d.dev.Name, d.kind)
			continue
		}
		t.Logf("verdict %s (%s): %s %s %s", d.dev.Name, d.kind, v.State, v.Reason, v.Message)
		switch w := want[d.kind]; {
		case w == "OSD" && v.State != cephv1alpha1.DiskOSD:
			errorf(t, "%s (%s) is %s/%s, want an OSD", d.dev.Name, d.kind, v.State, v.Reason)
		case w != "OSD" && (v.State != cephv1alpha1.DiskRejected || v.Reason != w):
			errorf(t, "%s (%s) is %s/%s, want Rejected/%s", d.dev.Name, d.kind, v.State, v.Reason, w)
		}
	}
	checkUntouched(t, devices)

	// Data written to a pool survives the deletion of the CephCluster
	// with the default cleanup policy and its creation again.
	tl := startTools(t, ctx, c, cluster, cc)
	if d := got.Status.DaemonImage; d != nil {
		checkKeyType(t, ctx, c, cc, tl, d.Version)
	}
	captureOutputs(t, ctx, tl, os.Getenv("CEPH_CAPTURE_DIR"))
	checkReporter(t, ctx, c, cluster, tl)
	checkUnclaimedOSD(t, ctx, c, cc, tl)
	objs := writeData(t, ctx, tl)
	t.Logf("wrote %d objects to pool idtest", len(objs))
	waitHealthy(t, ctx, c, cc, "with the pools replicated over the host's OSDs")
	checkCrushTopology(t, ctx, c, cluster.Node, tl)
	tl.stop(c)
	fsid := got.Status.FSID
	keptStart := time.Now()
	deleteCluster(t, c, cc)
	deleted := time.Since(keptStart)
	realnode.WaitFor(t, ctx, 3*time.Minute, "the daemons to be gone", func() error { return daemonsGone(ctx, c) })
	if kept := keptState(t, ctx, c, cc); kept != fsid {
		t.Fatalf("identity Secret holds FSID %q after deletion, want %s", kept, fsid)
	}
	if _, err := os.Stat(filepath.Join(monStore(fsid), "kv_backend")); err != nil {
		t.Fatalf("monitor store after deletion: %v", err)
	}
	t.Logf("FIGURE delete -> CephCluster gone: %.1fs; daemons gone at %.1fs; identity, placement, bootstrap record and monitor store kept",
		deleted.Seconds(), time.Since(keptStart).Seconds())
	checkUntouched(t, devices)

	recreateStart := time.Now()
	cc = &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: cc.Name, Namespace: namespace}, Spec: cc.Spec}
	if err := c.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, convergeTimeout, "3 OSDs up and in after re-creation", func() error {
		got = &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		st := got.Status.Ceph
		if st == nil || st.OSDs.Up != 3 || st.OSDs.In != 3 || st.FSID != fsid {
			return fmt.Errorf("status.ceph = %+v; conditions %s", st, conditionSummary(got))
		}
		return nil
	})
	upAgain := time.Since(recreateStart)
	if got.Status.FSID != fsid {
		errorf(t, "FSID %s after re-creation, want %s", got.Status.FSID, fsid)
	}
	if st := got.Status.Ceph; st.OSDs.Total != 3 {
		errorf(t, "Ceph knows %d OSDs after re-creation, want the same 3", st.OSDs.Total)
	}
	waitHealthy(t, ctx, c, cc, "after re-creation")
	tl = startTools(t, ctx, c, cluster, cc)
	realnode.WaitFor(t, ctx, 5*time.Minute, "the objects to read back", func() error { return readBack(ctx, tl, objs) })
	t.Logf("FIGURE re-create -> 3 OSDs up and in (same FSID %s): %.1fs; -> %d objects read back intact: %.1fs; delete -> readable: %.1fs",
		fsid, upAgain.Seconds(), len(objs), time.Since(recreateStart).Seconds(), time.Since(keptStart).Seconds())
	checkLifecycle(t, ctx, c, cc, cluster.Node, tl, devices, objs)
	checkOSDRollout(t, ctx, c, cc, tl, objs)
	checkOperatorUpgrade(t, ctx, c, cluster)
	// Before the layout: once a metadata device is set, every new data
	// disk would want a DB partition on it.
	checkDiskToOSD(t, ctx, c, cluster.Node, tl, devices)
	// The layout's devices join the list: its data disks are this
	// cluster's OSDs from now on, its metadata device is hashed by the
	// confirmed cleanup's check like every disk that is not an OSD.
	devices = append(devices, checkMetadataLayout(t, ctx, c, cc, cluster.Node, tl, objs)...)
	// One fast device split into two OSDs, beside the layout's disks: its
	// OSDs keep their DB on their own partition although a metadata device
	// is set cluster-wide now.
	devices = append(devices, checkOSDsPerDevice(t, ctx, c, cc, cluster.Node, tl, objs)...)
	tl.stop(c)
	checkUntouched(t, devices)

	// The only monitor loses its store: nothing is created again.
	loseMonStore(t, ctx, c, cc, cluster.Node, fsid)

	// Deletion with the default cleanup policy keeps the OSDs' data.
	delStart := time.Now()
	deleteCluster(t, c, cc)
	t.Logf("CephCluster deleted in %.1fs", time.Since(delStart).Seconds())
	for _, d := range devices {
		if d.kind != "blank" {
			continue
		}
		label, err := readLabel(d.dev.Path)
		if err != nil {
			errorf(t, "%s after deletion: %v", d.dev.Name, err)
			continue
		}
		if label.ClusterFSID != got.Status.FSID {
			errorf(t, "%s after deletion holds cluster %s, want %s", d.dev.Name, label.ClusterFSID, got.Status.FSID)
		}
	}
	checkUntouched(t, devices)

	// Deletion with the confirmed cleanup policy wipes exactly this
	// cluster's disks and removes its host directory.
	checkConfirmedCleanup(t, ctx, c, cluster.Node, cc.Spec, devices, fsid)
}

// checkVersion checks that the daemons run the Ceph version of the image:
// status.daemonImage names the image and the version the agents reported,
// which must be want's upstream part (a Debian package version such as
// 18.2.7+ds-1 runs Ceph 18.2.7) when want is set.
func checkVersion(t *testing.T, cc *cephv1alpha1.CephCluster, image, want string) {
	t.Helper()
	d := cc.Status.DaemonImage
	if d == nil {
		errorf(t, "status.daemonImage is unset with the daemons running")
		return
	}
	t.Logf("FIGURE daemons run %s: Ceph %s", d.Image, d.Version)
	if d.Image != image {
		errorf(t, "status.daemonImage.image = %q, want %q", d.Image, image)
	}
	if want == "" {
		return
	}
	wv, err := ceph.ParseVersion(want)
	if err != nil {
		t.Fatalf("CEPH_VERSION: %v", err)
	}
	if gv, err := ceph.ParseVersion(d.Version); err != nil || gv != wv {
		errorf(t, "the daemons run Ceph %q (%v), want %s from CEPH_VERSION=%s", d.Version, err, wv, want)
	}
}

// captureOutputs writes, when dir is set, what this release's CLI prints
// for the commands whose output the operator reads, so that parsers can be
// tested on a release's real output (internal/ceph/testdata).
func captureOutputs(t *testing.T, ctx context.Context, tl *tools, dir string) {
	t.Helper()
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"version.txt":            {"--version"},
		"status.json":            {"status", "--format", "json"},
		"health.json":            {"health", "detail", "--format", "json"},
		"osd-dump.json":          {"osd", "dump", "--format", "json"},
		"osd-tree.json":          {"osd", "tree", "--format", "json"},
		"safe-to-destroy-0.json": {"osd", "safe-to-destroy", "0", "--format", "json"},
		"mgr-module-ls.json":     {"mgr", "module", "ls", "--format", "json"},
	} {
		out, err := tl.run(ctx, nil, append([]string{"timeout", "120", "ceph", "--keyring", tl.keyring, "--connect-timeout", "60"}, args...)...)
		if err != nil {
			t.Logf("capture %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("captured the CLI's outputs in %s", dir)
}

// oneHostWarnings are the health checks a cluster of three OSDs on one host
// always raises with the default replicated size of 3 and a host failure
// domain: the pools' placement groups cannot place three copies on three
// different hosts.
var oneHostWarnings = map[string]bool{
	"PG_DEGRADED":        true,
	"PG_AVAILABILITY":    true,
	"TOO_FEW_OSDS":       true,
	"POOL_NO_REDUNDANCY": true,
}

// makeDevices attaches the test's loop devices: three blank ones, one with
// an ext4 filesystem, one with another cluster's BlueStore label, one too
// small, and the slots of the disk-to-OSD figure (checkDiskToOSD): loop
// devices holding a file too small to be an OSD until the figure puts a
// blank disk in their place, so that their names are in the cluster's
// deviceFilter from the start. It records the content hash of those that
// must stay untouched.
func makeDevices(t *testing.T) []*device {
	dir := t.TempDir()
	var out []*device
	add := func(kind, name string, size int64, chunks ...fixture.Chunk) *device {
		backing := loopdev.SparseFile(t, dir, name, size, chunks...)
		d := &device{kind: kind, backing: backing, dev: loopdev.Attach(t, backing, false)}
		out = append(out, d)
		return d
	}
	for i := range 3 {
		add("blank", fmt.Sprintf("blank%d.img", i), blankSize)
	}
	ext4 := add("ext4", "ext4.img", blankSize)
	loopdev.Run(t, "mkfs.ext4", "-q", "-F", ext4.dev.Path)
	add("foreign", "foreign.img", blankSize, fixture.BlueStore(fixture.Label(foreignFSID, 7))...)
	add("small", "small.img", smallSize)
	for i := range diskTimingDisks {
		add("slot", fmt.Sprintf("slot%d.img", i), smallSize)
	}
	for _, d := range out {
		if d.kind == "blank" {
			continue
		}
		sum, err := loopdev.FileSHA256(d.backing)
		if err != nil {
			t.Fatal(err)
		}
		d.sum = sum
	}
	return out
}

// checkUntouched fails the test when a device that must be left alone
// changed.
func checkUntouched(t *testing.T, devices []*device) {
	t.Helper()
	for _, d := range devices {
		if d.sum == "" {
			continue
		}
		sum, err := loopdev.FileSHA256(d.backing)
		if err != nil {
			t.Fatal(err)
		}
		if sum != d.sum {
			errorf(t, "%s (%s) was written to", d.dev.Name, d.kind)
		} else {
			t.Logf("%s (%s) unchanged: %s", d.dev.Name, d.kind, sum[:16])
		}
	}
}

// readLabel reads the BlueStore label at the start of a device.
func readLabel(path string) (*ceph.BlueStoreLabel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, err
	}
	return ceph.ParseBlueStoreLabel(buf)
}

// mountTmpfs mounts a tmpfs at dir for the test.
func mountTmpfs(t *testing.T, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	loopdev.Run(t, "mount", "-t", "tmpfs", "-o", "size=2g", "ceph-operator-realtest", dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			errorf(t, "umount %s: %v: %s", dir, err, out)
		}
		_ = os.Remove(dir)
	})
}

// manifests renders config/default, as `make deploy` does.
func manifests(t *testing.T) []byte {
	root := testenv.RepoRoot()
	out, err := exec.Command(filepath.Join(root, "bin", "kustomize"), "build", filepath.Join(root, "config", "default")).Output()
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	return out
}

// kubectl runs bin/kubectl against the node with stdin.
func kubectl(ctx context.Context, cluster *realnode.Cluster, stdin []byte, args ...string) ([]byte, error) {
	cmd := kubectlCmd(ctx, cluster, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd.CombinedOutput()
}

// kubectlCmd is bin/kubectl against the node.
func kubectlCmd(ctx context.Context, cluster *realnode.Cluster, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, filepath.Join(testenv.RepoRoot(), "bin", "kubectl"), append([]string{"--kubeconfig", cluster.Kubeconfig}, args...)...)
}

func deployOperator(t *testing.T, ctx context.Context, cluster *realnode.Cluster) {
	if out, err := kubectl(ctx, cluster, manifests(t), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply config/default: %v\n%s", err, out)
	}
}

func undeployOperator(t *testing.T, cluster *realnode.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := kubectl(ctx, cluster, manifests(t), "delete", "--ignore-not-found", "--wait=true", "-f", "-"); err != nil {
		errorf(t, "kubectl delete config/default: %v\n%s", err, out)
	}
}

// deleteCluster deletes the CephCluster and waits until it is gone (the
// operator removes its finalizer after cleaning up).
func deleteCluster(t *testing.T, c client.Client, cc *cephv1alpha1.CephCluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Delete(ctx, cc); err != nil && !apierrors.IsNotFound(err) {
		errorf(t, "deleting the CephCluster: %v", err)
		return
	}
	realnode.WaitFor(t, ctx, 5*time.Minute, "the CephCluster to be gone", func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(cc), &cephv1alpha1.CephCluster{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("still there? %w", err)
		}
		return errors.New("still there")
	})
}

func conditionSummary(c *cephv1alpha1.CephCluster) string {
	var parts []string
	for _, x := range c.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", x.Type, x.Status, x.Reason, x.Message))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func checkList(st *cephv1alpha1.CephStatus) string {
	if len(st.Checks) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range st.Checks {
		parts = append(parts, c.Code+" ("+c.Message+")")
	}
	return strings.Join(parts, ", ")
}

// newClient is a client of the cluster's API server, with watches, for
// the Kubernetes and the operator's types.
func newClient(t *testing.T, cluster *realnode.Cluster) client.WithWatch {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := cephv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewWithWatch(cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

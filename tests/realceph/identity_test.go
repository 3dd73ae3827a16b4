package realceph

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// toolsPodName is the pod the test runs Ceph's command-line tools in.
const toolsPodName = "ceph-test-tools"

// toolsLabel labels the tools pod with its name, so a drain can leave it.
const toolsLabel = "ceph-operator-test"

// tools is a pod with the Ceph image, the cluster's ceph.conf and the admin
// and reporter keyrings, in which the test runs ceph and rados.
type tools struct {
	t       *testing.T
	cluster *realnode.Cluster
	// keyring is client.admin's keyring in the pod: the one of the
	// cluster's key type when the pod started, or adminAES256K once the
	// cluster's keys moved to AES-256.
	keyring string
	// reader is who the readers (readBack, startReaders) read as: "" for
	// client.admin, else an entity whose keyring is readerKeyring.
	reader, readerKeyring string
}

// Keyrings of client.admin in the tools pod: of the cluster's key type
// when it started, and the AES-256 one (absent from an identity that has
// none).
const (
	adminKeyring       = "/etc/ceph-admin/keyring"
	adminAES256Keyring = "/etc/ceph-admin-aes256k/keyring"
)

// readerArgs are the ceph and rados flags that read as tl.reader.
func (tl *tools) readerArgs() []string {
	if tl.reader == "" {
		return []string{"--keyring", tl.keyring}
	}
	return []string{"--name", tl.reader, "--keyring", tl.readerKeyring}
}

// startTools creates the tools pod for cc and waits until it runs. It must
// be removed (stop) before cc is deleted: its ceph.conf goes with cc.
func startTools(t *testing.T, ctx context.Context, c client.Client, cluster *realnode.Cluster, cc *cephv1alpha1.CephCluster) *tools {
	t.Helper()
	return startToolsOn(t, ctx, c, cluster, cc, "")
}

// startToolsOn is startTools with the pod on the named node ("" lets the
// scheduler choose).
func startToolsOn(t *testing.T, ctx context.Context, c client.Client, cluster *realnode.Cluster, cc *cephv1alpha1.CephCluster, node string) *tools {
	t.Helper()
	// The keyrings of the cluster's key type, as the operator's pods
	// mount them.
	keys := recordedKeyType(t, ctx, c, cc)
	never := corev1.PullNever
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: toolsPodName, Namespace: namespace, Labels: map[string]string{toolsLabel: toolsPodName}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			HostNetwork:                   true,
			AutomountServiceAccountToken:  ptrTo(false),
			TerminationGracePeriodSeconds: ptrTo(int64(1)),
			Containers: []corev1.Container{{
				Name: "tools", Image: cc.Spec.Image, ImagePullPolicy: never,
				Command: []string{"sleep", "infinity"},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "conf", MountPath: "/etc/ceph", ReadOnly: true},
					{Name: "admin", MountPath: "/etc/ceph-admin", ReadOnly: true},
					{Name: "admin-aes256k", MountPath: "/etc/ceph-admin-aes256k", ReadOnly: true},
					{Name: "reporter", MountPath: "/etc/ceph-reporter", ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: resources.ConfigMapName(cc)}}}},
				{Name: "admin", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: resources.IdentitySecretName(cc),
					Items: []corev1.KeyToPath{{Key: resources.SecretKey(resources.SecretKeyAdminKeyring, keys), Path: "keyring"}}}}},
				{Name: "admin-aes256k", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: resources.IdentitySecretName(cc),
					Items:    []corev1.KeyToPath{{Key: resources.SecretKey(resources.SecretKeyAdminKeyring, ceph.KeyTypeAES256K), Path: "keyring"}},
					Optional: ptrTo(true)}}},
				{Name: "reporter", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: resources.IdentitySecretName(cc),
					Items: []corev1.KeyToPath{{Key: resources.SecretKey(resources.SecretKeyReporterKeyring, keys), Path: "keyring"}}}}},
			},
		},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	tl := &tools{t: t, cluster: cluster, keyring: adminKeyring}
	t.Cleanup(func() { tl.stop(c) })
	realnode.WaitFor(t, ctx, 3*time.Minute, "the tools pod to run", func() error {
		got := &corev1.Pod{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
			return err
		}
		if got.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("tools pod: %s", realnode.PodSummary([]corev1.Pod{*got}))
		}
		return nil
	})
	return tl
}

// stop deletes the tools pod and waits until it is gone.
func (tl *tools) stop(c client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: toolsPodName, Namespace: namespace}}
	if err := c.Delete(ctx, pod); apierrors.IsNotFound(err) {
		return
	}
	for ctx.Err() == nil {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(time.Second)
	}
}

// run runs a command in the tools pod with stdin and returns its standard
// output, and its standard error in the error.
func (tl *tools) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := append([]string{"exec", "-i", "-n", namespace, toolsPodName, "-c", "tools", "--"}, args...)
	var stdout, stderr bytes.Buffer
	k := kubectlCmd(ctx, tl.cluster, cmd...)
	k.Stdin = bytes.NewReader(stdin)
	k.Stdout, k.Stderr = &stdout, &stderr
	if err := k.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// admin runs the ceph tool as client.admin.
func (tl *tools) admin(ctx context.Context, args ...string) string {
	tl.t.Helper()
	out, err := tl.run(ctx, nil, append([]string{"timeout", "120", "ceph", "--keyring", tl.keyring, "--connect-timeout", "60"}, args...)...)
	if err != nil {
		tl.t.Fatal(err)
	}
	return string(out)
}

// checkUnclaimedOSD allocates an OSD id in Ceph the way an interrupted
// prepare leaves one (`ceph osd new` and nothing written to any disk): the
// cluster must report it as PartiallyPreparedOSDs, naming the id and the
// purge, and drop the condition once the id is purged. Nothing is removed
// by the operator itself.
func checkUnclaimedOSD(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, tl *tools) {
	const uuid = "5e1f0c1a-7b0d-4c8e-9d2a-0a11ce0f0511"
	id := strings.TrimSpace(tl.admin(ctx, "osd", "new", uuid))
	start := time.Now()
	t.Logf("allocated osd.%s (uuid %s) without a disk", id, uuid)
	var cond *metav1.Condition
	realnode.WaitFor(t, ctx, 3*time.Minute, "PartiallyPreparedOSDs naming osd."+id, func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		cond = meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionPartiallyPreparedOSDs)
		if cond == nil || !strings.Contains(cond.Message, "osd."+id+" (uuid "+uuid+")") {
			msg := ""
			if got.Status.Ceph != nil {
				msg = fmt.Sprintf("never started %v, osd map message %q", got.Status.Ceph.NeverStartedOSDs, got.Status.Ceph.OSDMapMessage)
			}
			return fmt.Errorf("condition %v; %s", cond, msg)
		}
		return nil
	})
	t.Logf("FIGURE osd new without a disk -> PartiallyPreparedOSDs: %.1fs: %s", time.Since(start).Seconds(), cond.Message)
	if !strings.Contains(cond.Message, "ceph osd purge "+id+" --yes-i-really-mean-it") {
		errorf(t, "the message does not give the purge: %s", cond.Message)
	}
	if out := tl.admin(ctx, "osd", "dump", "--format", "json"); !strings.Contains(out, uuid) {
		errorf(t, "the operator removed the id itself: %s", out)
	}
	tl.admin(ctx, "osd", "purge", id, "--yes-i-really-mean-it")
	realnode.WaitFor(t, ctx, 3*time.Minute, "PartiallyPreparedOSDs gone after the purge", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionPartiallyPreparedOSDs); c != nil {
			return fmt.Errorf("still %s", c.Message)
		}
		return nil
	})
}

// checkCrushTopology proves that every OSD is filed in CRUSH under a host
// bucket named after its node (not its pod), and that restarting an OSD's
// pod changes nothing: no new bucket, no OSD moved.
func checkCrushTopology(t *testing.T, ctx context.Context, c client.Client, node string, tl *tools) {
	before := hostBuckets(t, ctx, tl)
	t.Logf("FIGURE ceph osd tree host buckets: %v", before)
	if len(before) != 1 || len(before[node]) != 3 {
		t.Fatalf("host buckets %v, want exactly one, %q, holding the 3 OSDs", before, node)
	}
	// The restarted OSD counts as back once a new incarnation of it is up
	// (a later up_from epoch) and every placement group is active+clean
	// again: with all OSDs in one host bucket, only that tells the old
	// process's end from the new one's start.
	victim := restartOSDPod(t, ctx, c, tl)
	if after := hostBuckets(t, ctx, tl); !equalBuckets(after, before) {
		errorf(t, "host buckets after restarting pod %s: %v, before %v", victim, after, before)
	}
}

// testObjects are the objects written before the deletion, by name.
type testObjects map[string][]byte

// writeData creates a pool replicated over the OSDs of the one host (a
// CRUSH rule with failure domain osd, so its placement groups become clean
// with three copies on one host) and writes objects of random content.
func writeData(t *testing.T, ctx context.Context, tl *tools) testObjects {
	tl.admin(ctx, "osd", "crush", "rule", "create-replicated", "idtest-osd", "default", "osd")
	tl.admin(ctx, "osd", "pool", "create", "idtest", "8", "8", "replicated", "idtest-osd")
	tl.admin(ctx, "osd", "pool", "application", "enable", "idtest", "rados")
	// Every pool (the manager creates device_health_metrics) on that rule,
	// so that the one-host cluster can be HEALTH_OK.
	for _, pool := range strings.Fields(tl.admin(ctx, "osd", "pool", "ls")) {
		tl.admin(ctx, "osd", "pool", "set", pool, "crush_rule", "idtest-osd")
	}
	return putObjects(t, ctx, tl, 16)
}

// putObjects writes n objects of random content to pool idtest.
func putObjects(t *testing.T, ctx context.Context, tl *tools, n int) testObjects {
	objs := testObjects{}
	for i := range n {
		data := make([]byte, 64<<10+i)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("obj-%02d", i)
		if _, err := tl.run(ctx, data, "timeout", "120", "rados", "--keyring", tl.keyring, "-p", "idtest", "put", name, "-"); err != nil {
			t.Fatal(err)
		}
		objs[name] = data
	}
	return objs
}

// waitHealthy waits until the CephCluster's CephHealthy condition is True:
// Ceph's own report, of this FSID, recent and healthy.
func waitHealthy(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, when string) {
	start := time.Now()
	var got *cephv1alpha1.CephCluster
	realnode.WaitFor(t, ctx, 10*time.Minute, "CephHealthy "+when, func() error {
		got = &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if h := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionCephHealthy); h == nil || h.Status != metav1.ConditionTrue {
			return fmt.Errorf("CephHealthy = %+v", h)
		}
		return nil
	})
	t.Logf("FIGURE CephHealthy %s after %.1fs: %s, checks %s", when, time.Since(start).Seconds(), got.Status.Ceph.Health, checkList(got.Status.Ceph))
}

// readBack reads every object and compares it with what was written.
func readBack(ctx context.Context, tl *tools, objs testObjects) error {
	for name, want := range objs {
		got, err := tl.run(ctx, nil, append(append([]string{"timeout", "60", "rados"}, tl.readerArgs()...), "-p", "idtest", "get", name, "-")...)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("object %s: read %d bytes that differ from the %d written", name, len(got), len(want))
		}
	}
	return nil
}

// checkReporter proves the reporter's narrowed cephx capability on real
// Ceph: `ceph status --format json` works with it, reading anything else is
// refused. It also checks that the reporter runs as the image's own ceph
// user (as the agents published it) and that only its container has the
// API token.
func checkReporter(t *testing.T, ctx context.Context, c client.Client, cluster *realnode.Cluster, tl *tools) {
	reporter := []string{"timeout", "60", "ceph", "--id", resources.ReporterID, "--keyring", "/etc/ceph-reporter/keyring", "--connect-timeout", "30"}
	out, err := tl.run(ctx, nil, append(reporter, "status", "--format", "json")...)
	if err != nil || !strings.Contains(string(out), `"fsid"`) {
		errorf(t, "ceph status as client.reporter (caps mon %q): %v %s", resources.ReporterMonCap, err, out)
	} else {
		t.Logf("ceph status as client.reporter with mon %q: %d bytes of JSON", resources.ReporterMonCap, len(out))
	}
	if out, err := tl.run(ctx, nil, append(reporter, "osd", "dump", "--format", "json")...); err != nil || !strings.Contains(string(out), `"osds"`) {
		errorf(t, "ceph osd dump as client.reporter: %v %s", err, out)
	}
	for _, denied := range [][]string{{"config-key", "ls"}, {"auth", "ls"}, {"auth", "get", "client.admin"}, {"mon", "dump"}, {"osd", "pool", "create", "x", "8"}} {
		out, err := tl.run(ctx, nil, append(reporter, denied...)...)
		switch {
		case err == nil:
			errorf(t, "client.reporter may run 'ceph %s': %s", strings.Join(denied, " "), out)
		case !strings.Contains(err.Error(), "EACCES"):
			errorf(t, "'ceph %s' as client.reporter failed, but not for want of a capability: %v", strings.Join(denied, " "), err)
		default:
			t.Logf("client.reporter refused 'ceph %s': EACCES", strings.Join(denied, " "))
		}
	}

	var pods, mgrs corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentReporter}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("reporter pod: %v (%d pods)", err, len(pods.Items))
	}
	if err := c.List(ctx, &mgrs, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentMgr}); err != nil || len(mgrs.Items) == 0 {
		t.Fatalf("manager pod: %v (%d pods)", err, len(mgrs.Items))
	}
	reporterPod, mgr := pods.Items[0].Name, mgrs.Items[0].Name
	uid, gid := imageCephUser(t, ctx, tl)
	var invs cephv1alpha1.DiskInventoryList
	if err := c.List(ctx, &invs, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	for _, inv := range invs.Items {
		if u := inv.Status.CephUser; u == nil || u.UID != uid || u.GID != gid {
			errorf(t, "DiskInventory %s: status.cephUser %+v, want the image's ceph %d:%d", inv.Name, u, uid, gid)
		}
	}
	for _, ctr := range pods.Items[0].Spec.Containers {
		if sc := ctr.SecurityContext; ctr.Name == "reporter" && (sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != uid || sc.RunAsGroup == nil || *sc.RunAsGroup != gid) {
			errorf(t, "reporter runAsUser/runAsGroup %+v, want the image's ceph %d:%d", sc, uid, gid)
		}
	}
	id, err := kubectl(ctx, cluster, nil, "exec", "-n", namespace, reporterPod, "-c", "reporter", "--", "id")
	t.Logf("reporter container: id = %s (ceph is %d:%d in the image)", strings.TrimSpace(string(id)), uid, gid)
	if err != nil || !strings.HasPrefix(string(id), fmt.Sprintf("uid=%d(ceph) gid=%d", uid, gid)) {
		errorf(t, "reporter container id: %v %s", err, id)
	}
	if out, err := kubectl(ctx, cluster, nil, "exec", "-n", namespace, reporterPod, "-c", "reporter", "--", "ls", "/var/run/secrets/kubernetes.io/serviceaccount"); err != nil || !strings.Contains(string(out), "token") {
		errorf(t, "reporter container has no token: %v %s", err, out)
	}
	if out, err := kubectl(ctx, cluster, nil, "exec", "-n", namespace, mgr, "-c", "mgr", "--", "ls", "/var/run/secrets/kubernetes.io/serviceaccount"); err == nil {
		errorf(t, "the ceph-mgr container sees the reporter's token: %s", out)
	}
	// Only the Ceph image (the reporter container's): an operator
	// upgrade must not restart the manager.
	cephImage := pods.Items[0].Spec.Containers[0].Image
	for _, ctr := range append(mgrs.Items[0].Spec.InitContainers, mgrs.Items[0].Spec.Containers...) {
		if ctr.Image != cephImage {
			errorf(t, "the manager's container %s runs %s, not only the Ceph image %s", ctr.Name, ctr.Image, cephImage)
		}
	}
}

// imageCephUser returns the uid and gid of ceph in the Ceph image, as the
// image's own tools tell them.
func imageCephUser(t *testing.T, ctx context.Context, tl *tools) (uid, gid int64) {
	t.Helper()
	for _, f := range []struct {
		flag string
		id   *int64
	}{{"-u", &uid}, {"-g", &gid}} {
		out, err := tl.run(ctx, nil, "id", f.flag, "ceph")
		if err == nil {
			*f.id, err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		}
		if err != nil {
			t.Fatalf("id %s ceph in the Ceph image: %v %s", f.flag, err, out)
		}
	}
	return uid, gid
}

// keptState checks that the cluster's kept state is there and returns the
// identity Secret's FSID.
func keptState(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster) string {
	t.Helper()
	var fsid string
	for _, k := range resources.KeptState(cc) {
		var obj client.Object = &corev1.ConfigMap{}
		if k.Kind == "Secret" {
			obj = &corev1.Secret{}
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: k.Name}, obj); err != nil {
			if k.Optional && apierrors.IsNotFound(err) {
				continue
			}
			t.Fatalf("%s %s after deletion: %v", k.Kind, k.Name, err)
		}
		if len(obj.GetOwnerReferences()) != 0 {
			errorf(t, "%s %s has owner references %v", k.Kind, k.Name, obj.GetOwnerReferences())
		}
		if s, ok := obj.(*corev1.Secret); ok {
			fsid = string(s.Data[resources.SecretKeyFSID])
		}
	}
	return fsid
}

// daemonsGone checks that no monitor, manager or OSD pod is left.
func daemonsGone(ctx context.Context, c client.Client) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.ManagedByLabel: resources.ManagedByValue}); err != nil {
		return err
	}
	if len(pods.Items) > 0 {
		return fmt.Errorf("pods left: %s", realnode.PodSummary(pods.Items))
	}
	return nil
}

// monStore is the host directory of monitor a's store.
func monStore(fsid string) string {
	return filepath.Join(dataDir, namespace, "ceph", fsid, "mon-a")
}

// loseMonStore removes the only monitor's store on the host and deletes its
// pod: the new pod must not create a store, and the cluster must say so.
func loseMonStore(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, node, fsid string) {
	store := monStore(fsid)
	entries, err := os.ReadDir(store)
	if err != nil || len(entries) == 0 {
		t.Fatalf("monitor store %s: %v (%d entries)", store, err, len(entries))
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(store, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	lost := time.Now()
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentMon}); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if err := c.Delete(ctx, &pods.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	var cond *metav1.Condition
	realnode.WaitFor(t, ctx, 5*time.Minute, "MonitorStoreMissing", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		cond = meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionMonitorStoreMissing)
		if cond == nil || cond.Status != metav1.ConditionTrue {
			var pods corev1.PodList
			_ = c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentMon})
			return fmt.Errorf("no MonitorStoreMissing yet; monitor pods: %s", realnode.PodSummary(pods.Items))
		}
		if r := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionFalse {
			return fmt.Errorf("Ready = %+v", r)
		}
		return nil
	})
	t.Logf("FIGURE store removed -> MonitorStoreMissing: %.1fs", time.Since(lost).Seconds())
	t.Logf("MonitorStoreMissing: %s", cond.Message)
	for _, want := range []string{"node " + node, store, "backup", "update-mon-db"} {
		if !strings.Contains(cond.Message, want) {
			errorf(t, "MonitorStoreMissing does not name %q", want)
		}
	}
	// The monitor that ran on the store until its pod stopped may still
	// write into its directory after the removal (Ceph 20 writes
	// external_log_to there): what must not appear is a store, which
	// ceph-mon --mkfs starts with kv_backend and store.db.
	entries, err = os.ReadDir(store)
	if err != nil {
		errorf(t, "monitor store %s: %v", store, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if e.Name() == "kv_backend" || e.Name() == "store.db" {
			errorf(t, "monitor store %s was re-created: it holds %s", store, e.Name())
		}
	}
	if len(names) > 0 {
		t.Logf("monitor store %s holds no store, but %v", store, names)
	}
}

func ptrTo[T any](v T) *T { return &v }

// recordedKeyType reads the cephx key type the operator recorded for cc.
func recordedKeyType(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster) ceph.KeyType {
	t.Helper()
	rec := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: resources.CephxRecordName(cc)}, rec); err != nil {
		t.Fatalf("the cluster's cephx record: %v", err)
	}
	kt, err := ceph.ParseKeyType(rec.Data[resources.CephxKeyType])
	if err != nil {
		t.Fatalf("the cluster's cephx record: %v", err)
	}
	return kt
}

// checkKeyType checks that a cluster created on release version uses keys
// of the type that release makes (AES-256 from 20 on): the record, and the
// keys Ceph itself holds for the operator's entities and for an OSD, whose
// key ceph-volume made.
func checkKeyType(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, tl *tools, version string) {
	t.Helper()
	v, err := ceph.ParseVersion(version)
	if err != nil {
		errorf(t, "the daemons' version %q: %v", version, err)
		return
	}
	want := ceph.KeyTypeForRelease(v.Major)
	got := recordedKeyType(t, ctx, c, cc)
	t.Logf("FIGURE cephx key type %s (Ceph %s)", got, v)
	if got != want {
		errorf(t, "the cluster created on Ceph %s records cephx keys of type %s, want %s", v, got, want)
	}
	for _, entity := range []string{"client.admin", "mgr." + resources.MgrID, "client." + resources.ReporterID, "client.bootstrap-osd", "osd.0"} {
		out, err := tl.run(ctx, nil, "timeout", "60", "ceph", "--keyring", tl.keyring, "--connect-timeout", "30", "auth", "get-key", entity)
		if err != nil {
			errorf(t, "ceph auth get-key %s: %v", entity, err)
			continue
		}
		kt, err := ceph.ValidateCephxKey(strings.TrimSpace(string(out)))
		if err != nil || kt != want {
			errorf(t, "Ceph holds a key of type %s for %s (%v), want %s", kt, entity, err, want)
		}
	}
}

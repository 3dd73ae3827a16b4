package realceph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// otherStoreFSID names a directory of another cluster of the same name
// beside this one's under dataDirHostPath: the cleanup must leave it.
const otherStoreFSID = "77777777-6666-4555-8444-333333333333"

// checkConfirmedCleanup creates the cluster again (it adopts the kept
// identity fsid; its only monitor lost its store, so Ceph does not run:
// the cleanup must not need it), then deletes it with the confirmed
// cleanup policy: every disk whose label carries fsid reads blank (first
// and last MiB zero, no BlueStore label), every other device's sha256 is
// unchanged, the cluster's host directory is gone and nothing else under
// dataDirHostPath is.
func checkConfirmedCleanup(t *testing.T, ctx context.Context, c client.Client, node string, spec cephv1alpha1.CephClusterSpec, devices []*device, fsid string) {
	start := time.Now()
	// Which devices are this cluster's OSDs, from their labels; the hash
	// of every other one.
	ours := map[string]bool{}
	sums := map[string]string{}
	for _, d := range devices {
		if l, err := readLabel(d.dev.Path); err == nil && l.ClusterFSID == fsid {
			ours[d.dev.Name] = true
			continue
		}
		sum, err := loopdev.FileSHA256(d.backing)
		if err != nil {
			t.Fatal(err)
		}
		sums[d.dev.Name] = sum
	}
	if len(ours) == 0 {
		t.Fatalf("no device carries FSID %s before the confirmed cleanup: nothing would be tested", fsid)
	}

	cc := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: namespace}, Spec: *spec.DeepCopy()}
	cc.Spec.CleanupPolicy.Confirmation = cephv1alpha1.CleanupConfirmation
	if err := c.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	realnode.WaitFor(t, ctx, 5*time.Minute, "the re-created cluster to adopt its identity and see its OSD disks", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if got.Status.FSID != fsid {
			return fmt.Errorf("FSID %q, want %s; conditions %s", got.Status.FSID, fsid, conditionSummary(got))
		}
		inv := &cephv1alpha1.DiskInventory{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: node}, inv); err != nil {
			return err
		}
		seen := 0
		for _, d := range inv.Status.Disks {
			if ours[d.Name] && d.Verdict.State == cephv1alpha1.DiskOSD && d.Verdict.ClusterFSID == fsid {
				seen++
			}
		}
		if seen != len(ours) {
			return fmt.Errorf("%d of the %d OSD disks reported as OSDs of %s", seen, len(ours), fsid)
		}
		var deps appsv1.DeploymentList
		if err := c.List(ctx, &deps, client.InNamespace(namespace), client.MatchingLabels{resources.ManagedByLabel: resources.ManagedByValue}); err != nil {
			return err
		}
		if len(deps.Items) == 0 {
			return errors.New("no daemon Deployment yet")
		}
		return nil
	})
	t.Logf("FIGURE re-create with the confirmed cleanup policy -> identity adopted, OSD disks reported: %.1fs", time.Since(start).Seconds())

	// The store of the lost monitor is empty (loseMonStore): give it
	// content, and put another FSID's directory beside it.
	store := monStore(fsid)
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "marker"), []byte("store"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dataDir, namespace, "ceph", otherStoreFSID, "mon-a")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}

	delStart := time.Now()
	if err := c.Delete(ctx, cc); err != nil {
		t.Fatal(err)
	}
	var last *cephv1alpha1.CephCluster
	realnode.WaitFor(t, ctx, 12*time.Minute, "the CephCluster to be cleaned up and gone", func() error {
		got := &cephv1alpha1.CephCluster{}
		err := c.Get(ctx, client.ObjectKeyFromObject(cc), got)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		last = got
		if cond := meta.FindStatusCondition(got.Status.Conditions, cephv1alpha1.ConditionCleanupInProgress); cond != nil {
			return fmt.Errorf("CleanupInProgress %s %s: %s", cond.Status, cond.Reason, cond.Message)
		}
		return errors.New("still there")
	})
	took := time.Since(delStart)
	if last != nil {
		t.Logf("last status seen: %s", conditionSummary(last))
	}

	// Events are posted asynchronously: the last one may reach the API
	// server after the finalizer was removed.
	reasons := map[string]string{}
	eventsStart := time.Now()
	realnode.WaitFor(t, ctx, time.Minute, "the "+cephv1alpha1.ReasonCleanupCompleted+" Event", func() error {
		var events corev1.EventList
		if err := c.List(ctx, &events, client.InNamespace(namespace)); err != nil {
			return err
		}
		reasons = map[string]string{}
		for _, e := range events.Items {
			switch e.Reason {
			case cephv1alpha1.ReasonStoppingDaemons, cephv1alpha1.ReasonWipingDisks, cephv1alpha1.ReasonCleanupCompleted,
				cephv1alpha1.ReasonCleanupIncomplete, cephv1alpha1.ReasonCleanupTimedOut:
				reasons[e.Reason] = e.Message
			}
		}
		if _, ok := reasons[cephv1alpha1.ReasonCleanupCompleted]; !ok {
			return fmt.Errorf("no %s Event: %v", cephv1alpha1.ReasonCleanupCompleted, reasons)
		}
		return nil
	})
	for r, m := range reasons {
		t.Logf("Event %s: %s", r, m)
	}
	t.Logf("the %s Event listed %.1fs after the CephCluster was gone", cephv1alpha1.ReasonCleanupCompleted, time.Since(eventsStart).Seconds())

	for _, d := range devices {
		if d.kind == "metadata" {
			// Wiping each OSD's disk first frees its DB partition: the
			// metadata device keeps its partition table, each partition's
			// label is gone.
			checkPartitionsFreed(t, d)
			continue
		}
		if d.kind == "split" {
			// Each OSD of a split device is freed as its partition: the
			// device keeps its partition table, each partition's label
			// is gone.
			checkDataPartitionsFreed(t, d)
			continue
		}
		if !ours[d.dev.Name] {
			sum, err := loopdev.FileSHA256(d.backing)
			if err != nil {
				t.Fatal(err)
			}
			if sum != sums[d.dev.Name] {
				errorf(t, "%s (%s) is not an OSD of %s, yet it was written to", d.dev.Name, d.kind, fsid)
			} else {
				t.Logf("%s (%s) unchanged: %s", d.dev.Name, d.kind, sum[:16])
			}
			continue
		}
		if err := blankWindows(d.dev.Path); err != nil {
			errorf(t, "%s (OSD of %s) after the confirmed cleanup: %v", d.dev.Name, fsid, err)
		} else if l, err := readLabel(d.dev.Path); err == nil {
			errorf(t, "%s still has a BlueStore label: %+v", d.dev.Name, l)
		} else {
			t.Logf("%s (OSD of %s) reads blank", d.dev.Name, fsid)
		}
	}
	if _, err := os.Lstat(filepath.Join(dataDir, namespace, "ceph", fsid)); !os.IsNotExist(err) {
		errorf(t, "the cluster's host directory %s is still there (err=%v)", filepath.Join(dataDir, namespace, "ceph", fsid), err)
	}
	if b, err := os.ReadFile(filepath.Join(other, "keep")); err != nil || string(b) != "keep" {
		errorf(t, "another FSID's directory lost its content: %q, %v", b, err)
	}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: resources.IdentitySecretName(cc)}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		errorf(t, "identity Secret after the confirmed cleanup: %v", err)
	}
	t.Logf("FIGURE confirmed cleanup: delete -> CephCluster gone with %d OSD disks wiped and the host directory removed: %.1fs; scenario %.1fs",
		len(ours), took.Seconds(), time.Since(start).Seconds())
}

// checkPartitionsFreed checks that no partition of metadata device d
// carries a BlueStore label any more.
func checkPartitionsFreed(t *testing.T, d *device) {
	parts, err := filepath.Glob(filepath.Join("/sys/block", d.dev.Name, d.dev.Name+"p*"))
	if err != nil || len(parts) == 0 {
		errorf(t, "metadata device %s shows no partitions after the confirmed cleanup (%v)", d.dev.Name, err)
		return
	}
	for _, p := range parts {
		node := "/dev/" + filepath.Base(p)
		if l, err := readLabel(node); err == nil {
			errorf(t, "%s (DB partition of metadata device %s) still carries the label of OSD uuid %s after the confirmed cleanup", node, d.dev.Name, l.OSDUUID)
		} else {
			t.Logf("%s (DB partition of metadata device %s) freed: %v", node, d.dev.Name, err)
		}
	}
}

// blankWindows checks that the first and last MiB of a device read zero.
func blankWindows(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	size, err := f.Seek(0, 2)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	zero := make([]byte, 1<<20)
	for _, off := range []int64{0, size - 1<<20} {
		if _, err := f.ReadAt(buf, off); err != nil {
			return fmt.Errorf("reading at %d: %w", off, err)
		}
		if !bytes.Equal(buf, zero) {
			i := bytes.IndexFunc(buf, func(r rune) bool { return r != 0 })
			return fmt.Errorf("the MiB at offset %d is not zero (first non-zero byte near %d)", off, off+int64(i))
		}
	}
	return nil
}

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/cephxop"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// cephxRecordData reads what a cluster's cephx records say: the
// migration record once there is one, else the first (immutable) one.
func cephxRecordData(t *testing.T, cluster *cephv1alpha1.CephCluster) map[string]string {
	t.Helper()
	rec := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxMigrationName(cluster)}, rec); err == nil {
		return rec.Data
	}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxRecordName(cluster)}, rec); err != nil {
		t.Fatal(err)
	}
	return rec.Data
}

// cephxJob returns the cluster's cephx Job of step, or nil.
func cephxJob(t *testing.T, cluster *cephv1alpha1.CephCluster, step string) *batchv1.Job {
	t.Helper()
	j := &batchv1.Job{}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxJobName(cluster, step)}, j)
	if err != nil {
		return nil
	}
	return j
}

// keyChecks are the health checks Ceph 20.2.4 raises on a cluster with AES
// keys.
func keyChecks() []cephv1alpha1.CephHealthCheck {
	var out []cephv1alpha1.CephHealthCheck
	for _, c := range ceph.KeyTypeChecks {
		out = append(out, cephv1alpha1.CephHealthCheck{Code: c, Severity: cephv1alpha1.CephHealthErr, Message: "simulated " + c})
	}
	return out
}

// upgradedToTentacle makes a one-node cluster on Reef, with its OSD, and
// upgrades it to Tentacle, whose Ceph then reports the key-type checks.
func upgradedToTentacle(t *testing.T, prefix string) (*cephv1alpha1.CephCluster, *world.World, func()) {
	t.Helper()
	ctx := context.Background()
	ns := newNamespace(t, prefix)
	stop := startManager(t)
	node := prefix + "-1"
	withNodes(t, node)
	w := playAgent(t, ns, node)
	const reef, tentacle = "quay.io/ceph/ceph:v18.2.7", "quay.io/ceph/ceph:v20.2.4"
	w.SetImageVersion(reef, "18.2.7")
	w.SetImageVersion(tentacle, "20.2.4")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Image = reef
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitReadyWithOSDs(t, cluster)
	// Asked for on Reef: refused with the release it needs, and nothing
	// is recorded.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Security.Cephx.KeyType = cephv1alpha1.CephxKeyTypeAES256K })
	waitFor(t, "the migration refused on Reef", func() error {
		c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionCephxKeysMigrated)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != cephv1alpha1.ReasonCephxWaiting ||
			!strings.Contains(c.Message, "20.2.4 or later") || !strings.Contains(c.Message, "18.2.7") {
			return fmt.Errorf("CephxKeysMigrated = %+v", c)
		}
		return nil
	})
	if m := cephxRecordData(t, cluster)[resources.CephxKeyMigration]; m != "" || cephxJob(t, cluster, cephxop.StepImport) != nil {
		t.Fatalf("on Reef the record says migration %q, or an import Job exists", m)
	}
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = tentacle })
	w.SetHealthChecks(keyChecks()...)
	return cluster, w, stop
}

// TestCephxMigration: a cluster created on Reef and upgraded to Tentacle
// moves to AES-256 keys when asked: the record goes through Importing
// (prepare Jobs held) and Finishing, the import Job runs with the AES admin
// keyring and the finish Job with the AES-256 one, each once, and at the
// end every pod mounts AES-256 keyrings, the condition is True, and a disk
// that appeared while the keys changed is prepared with the new bootstrap
// key. An operator restarted during the import resumes it.
func TestCephxMigration(t *testing.T) {
	ctx := context.Background()
	cluster, w, stop := upgradedToTentacle(t, "cxmig")
	w.HoldCephxJobs(true)
	waitFor(t, "the import Job, with prepares held", func() error {
		if m := cephxRecordData(t, cluster)[resources.CephxKeyMigration]; m != cephv1alpha1.CephxMigrationImporting {
			return fmt.Errorf("record migration %q", m)
		}
		if cephxJob(t, cluster, cephxop.StepImport) == nil {
			return fmt.Errorf("no import Job")
		}
		c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionCephxKeysMigrated)
		if c == nil || c.Reason != cephv1alpha1.ReasonCephxImporting {
			return fmt.Errorf("CephxKeysMigrated = %+v", c)
		}
		return nil
	})
	// A node with a disk appears now: its prepare waits for the new
	// bootstrap key.
	withNodes(t, "cxmig-2")
	w.AddNode("cxmig-2", "available")
	waitFor(t, "the new disk waiting for the keys", func() error {
		inv := &cephv1alpha1.DiskInventory{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: "cxmig-2"}, inv); err != nil {
			return err
		}
		for _, p := range inv.Status.Plan {
			if strings.Contains(p.Message, "prepare Jobs wait until then") {
				return nil
			}
		}
		return fmt.Errorf("plan %+v", inv.Status.Plan)
	})
	var prepares batchv1.JobList
	if err := env.Client.List(ctx, &prepares, client.InNamespace(cluster.Namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentPrepare}); err != nil {
		t.Fatal(err)
	}
	for _, j := range prepares.Items {
		if j.Status.Succeeded == 0 && j.Status.Failed == 0 {
			t.Fatalf("prepare Job %s runs while the keys change", j.Name)
		}
	}

	// The operator restarts in the middle of the import: the new one
	// finds the step in the record and goes on.
	stop()
	startManager(t)
	w.HoldCephxJobs(false)
	waitFor(t, "the migration done", func() error {
		got := getCluster(t, cluster)
		c := condition(t, got, cephv1alpha1.ConditionCephxKeysMigrated)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != cephv1alpha1.ReasonCephxMigrated {
			return fmt.Errorf("CephxKeysMigrated = %+v", c)
		}
		if st := got.Status.Cephx; st == nil || st.KeyType != "aes256k" || st.Migration != "" {
			return fmt.Errorf("status.cephx = %+v", st)
		}
		if d := cephxRecordData(t, cluster); d[resources.CephxKeyType] != "aes256k" || d[resources.CephxKeyMigration] != "" {
			return fmt.Errorf("record %v", d)
		}
		if cephxJob(t, cluster, cephxop.StepImport) != nil || cephxJob(t, cluster, cephxop.StepFinish) != nil {
			return fmt.Errorf("a cephx Job is left")
		}
		return checkKeyrings(t, cluster, ceph.KeyTypeAES256K)
	})
	if got, want := w.CephxSteps(), []string{"import Done admin:aes rotating:expire", "finish Done admin:aes256k rotating:expire"}; !slices.Equal(got, want) {
		t.Errorf("cephx Jobs run %v, want %v", got, want)
	}
	waitFor(t, "the new disk's OSD, prepared with the AES-256 bootstrap key", func() error {
		if got := getCluster(t, cluster).Status.OSDs.Running; got < 2 {
			return fmt.Errorf("%d OSDs running", got)
		}
		return nil
	})
	if err := hasEventReasons(ctx, cluster.Namespace, "CephxMigrationStarted", "CephxKeysImported", "CephxKeysMigrated"); err != nil {
		t.Error(err)
	}
	// Expire was asked for: Ceph still warns about the rotating keys,
	// and CephHealthy says it passes by itself.
	waitFor(t, "CephHealthy explaining the rotating keys", func() error {
		c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionCephHealthy)
		if c == nil || !strings.Contains(c.Message, "AUTH_INSECURE_ROTATING_SERVICE_KEY_TYPE") || !strings.Contains(c.Message, "expire") {
			return fmt.Errorf("CephHealthy = %+v", c)
		}
		return nil
	})
}

// TestCephxMigrationRetriesPausesAndReplaces: a step that is not done yet
// is shown and run again after a backoff; unsetting keyType during the
// last step pauses it before the monitors refuse AES keys; set again with
// rotatingServiceKeys Replace, it ends with Ceph healthy.
func TestCephxMigrationRetriesPausesAndReplaces(t *testing.T) {
	cluster, w, _ := upgradedToTentacle(t, "cxretry")
	w.SetCephxAnswers(cephxop.StepImport, cephxop.NotYet)
	w.SetCephxAnswers(cephxop.StepFinish, "NotYet+", cephxop.NotYet, cephxop.NotYet)
	waitFor(t, "the import's answer shown, and a retry after it", func() error {
		steps := w.CephxSteps()
		if len(steps) < 2 || steps[0] != "import NotYet admin:aes rotating:expire" || steps[1] != "import Done admin:aes rotating:expire" {
			return fmt.Errorf("cephx Jobs %v", steps)
		}
		return nil
	})
	waitFor(t, "the finish step not done yet, with its backoff", func() error {
		got := getCluster(t, cluster)
		st := got.Status.Cephx
		c := condition(t, got, cephv1alpha1.ConditionCephxKeysMigrated)
		if st == nil || st.Migration != cephv1alpha1.CephxMigrationFinishing || st.Attempts < 1 || c == nil ||
			!strings.Contains(c.Message, "simulated answer: NotYet") || !strings.Contains(c.Message, "the next starts in") {
			return fmt.Errorf("status.cephx %+v, CephxKeysMigrated %+v", st, c)
		}
		return nil
	})
	// The run with progress was followed at once by the next one.
	if steps := w.CephxSteps(); len(steps) < 4 || steps[2] != "finish NotYet admin:aes256k rotating:expire" {
		t.Fatalf("cephx Jobs %v", steps)
	}

	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Security.Cephx.KeyType = "" })
	waitFor(t, "the migration paused", func() error {
		c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionCephxKeysMigrated)
		if c == nil || c.Reason != cephv1alpha1.ReasonCephxPaused {
			return fmt.Errorf("CephxKeysMigrated = %+v", c)
		}
		return nil
	})
	n := len(w.CephxSteps())
	time.Sleep(3 * time.Second)
	if got := w.CephxSteps(); len(got) != n || cephxJob(t, cluster, cephxop.StepFinish) != nil {
		t.Fatalf("cephx Jobs ran while paused: %v", got[n:])
	}

	w.SetCephxAnswers(cephxop.StepFinish) // nothing left to answer: done
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) {
		c.Spec.Security.Cephx = cephv1alpha1.CephxSpec{KeyType: cephv1alpha1.CephxKeyTypeAES256K, RotatingServiceKeys: cephv1alpha1.RotatingServiceKeysReplace}
	})
	waitFor(t, "the migration done and Ceph healthy", func() error {
		got := getCluster(t, cluster)
		if c := condition(t, got, cephv1alpha1.ConditionCephxKeysMigrated); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("CephxKeysMigrated = %+v", c)
		}
		if c := condition(t, got, cephv1alpha1.ConditionCephHealthy); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("CephHealthy = %+v", c)
		}
		return nil
	})
	steps := w.CephxSteps()
	if last := steps[len(steps)-1]; last != "finish Done admin:aes256k rotating:replace" {
		t.Errorf("last cephx Job %q, want a finish that replaces the rotating keys", last)
	}
	// Unset afterwards: nothing to do, no condition.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Security.Cephx = cephv1alpha1.CephxSpec{} })
	waitFor(t, "the condition gone", func() error {
		if c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionCephxKeysMigrated); c != nil {
			return fmt.Errorf("CephxKeysMigrated = %+v", c)
		}
		return nil
	})
	if err := checkKeyrings(t, cluster, ceph.KeyTypeAES256K); err != nil {
		t.Error(err)
	}
}

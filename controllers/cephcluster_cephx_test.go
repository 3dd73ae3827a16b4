package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// keyringItems returns, for every monitor, manager, reporter and prepare
// pod template of ns, the identity Secret keys it mounts.
func keyringItems(t *testing.T, cluster *cephv1alpha1.CephCluster) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	add := func(what string, pod corev1.PodSpec) {
		for _, v := range pod.Volumes {
			if v.Secret == nil || v.Secret.SecretName != resources.IdentitySecretName(cluster) {
				continue
			}
			for _, it := range v.Secret.Items {
				out[what] = append(out[what], it.Key)
			}
		}
	}
	var deps appsv1.DeploymentList
	if err := env.Client.List(ctx, &deps, client.InNamespace(cluster.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		add(d.Labels[resources.ComponentLabel]+"/"+d.Name, d.Spec.Template.Spec)
	}
	var jobs batchv1.JobList
	if err := env.Client.List(ctx, &jobs, client.InNamespace(cluster.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		add(j.Labels[resources.ComponentLabel]+"/"+j.Name, j.Spec.Template.Spec)
	}
	return out
}

// checkKeyrings fails unless the cluster's record says want and every
// keyring its pods mount is of that type (the monitors', the manager's,
// the reporter's and, once one exists, a prepare Job's).
func checkKeyrings(t *testing.T, cluster *cephv1alpha1.CephCluster, want ceph.KeyType) error {
	t.Helper()
	rec := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxRecordName(cluster)}, rec); err != nil {
		return fmt.Errorf("cephx record: %w", err)
	}
	// A migration record, once there is one, supersedes the first.
	mig := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxMigrationName(cluster)}, mig); err == nil {
		rec = mig
	}
	if got := rec.Data[resources.CephxKeyType]; got != want.String() {
		return fmt.Errorf("cephx record says %q, want %q", got, want)
	}
	items := keyringItems(t, cluster)
	seen := map[string]bool{}
	for what, keys := range items {
		seen[strings.SplitN(what, "/", 2)[0]] = true
		for _, k := range keys {
			var ok bool
			for _, base := range []string{resources.SecretKeyMonInitialKeyring, resources.SecretKeyMgrKeyring, resources.SecretKeyReporterKeyring, resources.SecretKeyBootstrapOSDKeyring, resources.SecretKeyAdminKeyring} {
				ok = ok || k == resources.SecretKey(base, want)
			}
			if !ok {
				return fmt.Errorf("%s mounts %q, not a keyring of type %s (all: %v)", what, k, want, items)
			}
		}
	}
	for _, c := range []string{resources.ComponentMon, resources.ComponentMgr, resources.ComponentReporter} {
		if !seen[c] {
			return fmt.Errorf("no %s mounts a keyring yet: %v", c, items)
		}
	}
	return nil
}

// TestKeyTypeOfANewCluster: a cluster whose image is Ceph 20 or later when
// its first monitor is created uses AES-256 keys in every pod; one created
// on an earlier release AES keys. The identity Secret holds both.
func TestKeyTypeOfANewCluster(t *testing.T) {
	for version, want := range map[string]ceph.KeyType{"18.2.7": ceph.KeyTypeAES, "20.2.4": ceph.KeyTypeAES256K} {
		t.Run(version, func(t *testing.T) {
			ctx := context.Background()
			ns := newNamespace(t, "keytype")
			startManager(t)
			node := "keytype-" + strings.ReplaceAll(version, ".", "-")
			withNodes(t, node)
			w := playAgent(t, ns, node)
			cluster := newCluster(ns, "ceph")
			cluster.Spec.Image = "quay.io/ceph/ceph:v" + version
			w.SetImageVersion(cluster.Spec.Image, version)
			// Prepare Jobs stay, so that their keyrings can be seen.
			w.Pause(true)
			if err := env.Client.Create(ctx, cluster); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "keyrings of type "+want.String(), func() error {
				if err := checkKeyrings(t, cluster, want); err != nil {
					return err
				}
				if items := keyringItems(t, cluster); len(items) < 4 {
					return fmt.Errorf("no prepare Job yet: %v", items)
				}
				return nil
			})
			secret := getSecret(t, cluster)
			for _, kt := range []ceph.KeyType{ceph.KeyTypeAES, ceph.KeyTypeAES256K} {
				if err := resources.CheckSecretKeys(secret, kt); err != nil {
					t.Errorf("identity Secret, keys of type %s: %v", kt, err)
				}
			}
		})
	}
}

// TestKeyTypeOfAnEarlierIdentity: an identity Secret made by an earlier
// operator holds AES keys only; a cluster that adopts it keeps AES keys
// even when its first monitor starts on Ceph 20.
func TestKeyTypeOfAnEarlierIdentity(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "keytype-old")
	startManager(t)
	withNodes(t, "keytype-old-1")
	w := playAgent(t, ns, "keytype-old-1")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Image = "quay.io/ceph/ceph:v20.2.4"
	w.SetImageVersion(cluster.Spec.Image, "20.2.4")
	var keys resources.Keys
	for _, k := range []*string{&keys.MonKey, &keys.AdminKey, &keys.BootstrapOSDKey, &keys.MgrKey, &keys.ReporterKey} {
		var err error
		if *k, err = ceph.NewCephxKey(nil, time.Now(), ceph.KeyTypeAES); err != nil {
			t.Fatal(err)
		}
	}
	old := resources.IdentitySecret(cluster, resources.Identity{FSID: "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", AES: keys})
	if err := env.Client.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitReady(t, cluster)
	waitFor(t, "AES keyrings", func() error { return checkKeyrings(t, cluster, ceph.KeyTypeAES) })

	// Such an identity has no AES-256 keys to give: the migration is
	// refused, and nothing is recorded or run.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Security.Cephx.KeyType = cephv1alpha1.CephxKeyTypeAES256K })
	waitFor(t, "the migration refused", func() error {
		c := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionCephxKeysMigrated)
		if c == nil || c.Reason != cephv1alpha1.ReasonCephxNotPossible || !strings.Contains(c.Message, "holds AES keys only") {
			return fmt.Errorf("CephxKeysMigrated = %+v", c)
		}
		return nil
	})
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.CephxMigrationName(cluster)}, &corev1.ConfigMap{}); err == nil {
		t.Error("a migration record was written for an identity without AES-256 keys")
	}
	var jobs batchv1.JobList
	if err := env.Client.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{resources.ComponentLabel: resources.ComponentCephxJob}); err != nil || len(jobs.Items) > 0 {
		t.Errorf("cephx Jobs %v (%v) for an identity without AES-256 keys", jobs.Items, err)
	}
}

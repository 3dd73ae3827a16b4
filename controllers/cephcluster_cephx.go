package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// reconcileCephx returns the type of cephx keys the cluster uses, which
// every keyring mounted into its pods must be of, and records it once
// (resources.CephxRecord), before the first monitor is created: from then
// on its keys are in the monitors' auth database and the type changes only
// when the administrator asks for AES-256 keys
// (docs/design/0007-the-key-type-follows-the-first-release.md,
// docs/design/0009-migrating-cephx-keys-to-aes256k.md). It leaves what the
// record says in s.observed.cephx.
//
// A cluster gets AES-256 keys when the image the operator accepted (its
// version is known here) is of Ceph 20 or later and its identity holds
// such keys; AES keys otherwise. A cluster that already has monitors but
// no record (it was bootstrapped by an earlier operator, which made AES
// keys only) gets a record of AES.
func (r *CephClusterReconciler) reconcileCephx(ctx context.Context, s *clusterScope) (ceph.KeyType, error) {
	cluster := s.cluster
	key := client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxRecordName(cluster)}
	rec := &corev1.ConfigMap{}
	// A record the cache has not seen yet must not be written twice.
	err := r.getConfirmingAbsence(ctx, key, rec)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return 0, fmt.Errorf("reading ConfigMap %s: %w", key, err)
	default:
		if err := checkClusterObject(cluster, "ConfigMap", rec); err != nil {
			return 0, err
		}
		if rec.Data[resources.CephxKeyFSID] == s.observed.fsid {
			c, err := readCephxRecord(rec, s.observed.fsid)
			if err != nil {
				return 0, fmt.Errorf("%w; the record is never rewritten: restore it from a backup", err)
			}
			if _, err := r.adopt(ctx, cluster, rec); err != nil {
				return 0, err
			}
			if c, err = overlayMigration(ctx, r.getConfirmingAbsence, cluster, s.observed.fsid, c); err != nil {
				return 0, err
			}
			if c.record != nil {
				if _, err := r.adopt(ctx, cluster, c.record); err != nil {
					return 0, err
				}
			}
			s.observed.cephx = &c
			return c.keyType, nil
		}
		// The record of a former cluster of this name, whose identity
		// was replaced: it does not apply to this FSID.
		if err := r.Client.Delete(ctx, rec, client.Preconditions{UID: &rec.UID}); client.IgnoreNotFound(err) != nil {
			return 0, fmt.Errorf("replacing the cephx record %s of FSID %s: %w", key.Name, rec.Data[resources.CephxKeyFSID], err)
		}
	}

	t, why, err := r.chooseKeyType(ctx, s)
	if err != nil {
		return 0, err
	}
	desired := resources.CephxRecord(cluster, s.observed.fsid, t)
	desired.Annotations = map[string]string{resources.ClusterUIDAnnotation: string(cluster.UID)}
	if err := r.Client.Create(ctx, desired); err != nil {
		return 0, fmt.Errorf("recording the cluster's cephx key type in ConfigMap %s: %w", desired.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Recorded the cluster's cephx key type", "configmap", desired.Name, "keyType", t.String(), "why", why)
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "CephxKeyType", "Record",
		"The cluster uses cephx keys of type %s: %s", t, why)
	s.observed.cephx = &cephxRecord{keyType: t}
	return t, nil
}

// cephxRecord is what the cephx records say: the type of the keyrings the
// pods mount, and the step of a migration to AES-256 keys under way.
type cephxRecord struct {
	keyType   ceph.KeyType
	migration string
	// record is the migration record of this cluster as read; nil when
	// there is none (the immutable record alone says the type).
	record *corev1.ConfigMap
	// stale is a migration record of a former cluster of the same name,
	// to replace when the first is written.
	stale *corev1.ConfigMap
}

// overlayMigration returns base, what the immutable record of cluster
// (FSID fsid) says, overridden by the migration record when there is one
// of the same FSID; one of another FSID is kept in stale. get reads it.
func overlayMigration(ctx context.Context, get func(context.Context, client.ObjectKey, client.Object) error,
	cluster *cephv1alpha1.CephCluster, fsid string, base cephxRecord) (cephxRecord, error) {
	base.record = nil
	mig := &corev1.ConfigMap{}
	err := get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxMigrationName(cluster)}, mig)
	switch {
	case apierrors.IsNotFound(err):
		return base, nil
	case err != nil:
		return cephxRecord{}, fmt.Errorf("reading the cephx migration record %s: %w", resources.CephxMigrationName(cluster), err)
	case mig.Data[resources.CephxKeyFSID] != fsid:
		base.stale = mig
		return base, nil
	}
	c, err := readCephxRecord(mig, fsid)
	if err != nil {
		return cephxRecord{}, fmt.Errorf("%w; restore it from a backup, or delete it if no migration of the cephx keys was started", err)
	}
	return c, nil
}

// readCephxRecord reads a record made for fsid, and checks that its
// migration step goes with its key type: Importing with aes (the pods
// still mount AES keyrings), Finishing with aes256k.
func readCephxRecord(rec *corev1.ConfigMap, fsid string) (cephxRecord, error) {
	t, err := resources.CephxRecordKeyType(rec, fsid)
	if err != nil {
		return cephxRecord{}, err
	}
	m, err := resources.CephxRecordMigration(rec)
	if err != nil {
		return cephxRecord{}, err
	}
	if (m == cephv1alpha1.CephxMigrationImporting && t != ceph.KeyTypeAES) || (m == cephv1alpha1.CephxMigrationFinishing && t != ceph.KeyTypeAES256K) {
		return cephxRecord{}, fmt.Errorf("ConfigMap %s/%s records the migration step %s with key type %s, which never go together", rec.Namespace, rec.Name, m, t)
	}
	return cephxRecord{keyType: t, migration: m, record: rec}, nil
}

// chooseKeyType decides the key type of a cluster that has no record yet,
// and says why.
func (r *CephClusterReconciler) chooseKeyType(ctx context.Context, s *clusterScope) (ceph.KeyType, string, error) {
	cluster := s.cluster
	bootstrap := &corev1.ConfigMap{}
	err := r.getConfirmingAbsence(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: resources.MonBootstrapName(cluster)}, bootstrap)
	switch {
	case err == nil && bootstrap.Data[resources.BootstrapKeyFSID] == s.observed.fsid:
		return ceph.KeyTypeAES, "it was bootstrapped before the operator recorded key types, with AES keys", nil
	case err != nil && !apierrors.IsNotFound(err):
		return 0, "", fmt.Errorf("reading the bootstrap record: %w", err)
	}
	for _, m := range s.observed.mon.mons {
		d := &appsv1.Deployment{}
		err := r.getConfirmingAbsence(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: resources.MonName(cluster, m.Name)}, d)
		if err == nil {
			return ceph.KeyTypeAES, fmt.Sprintf("its monitor %s was created before the operator recorded key types, with AES keys", m.Name), nil
		}
		if !apierrors.IsNotFound(err) {
			return 0, "", fmt.Errorf("reading the Deployment of monitor %s: %w", m.Name, err)
		}
	}
	accepted := s.observed.version.accepted
	if accepted == nil {
		return 0, "", fmt.Errorf("no accepted Ceph version to choose the cephx key type from")
	}
	v, err := ceph.ParseVersion(accepted.Version)
	if err != nil {
		return 0, "", fmt.Errorf("choosing the cephx key type: %w", err)
	}
	t := ceph.KeyTypeForRelease(v.Major)
	if t != ceph.KeyTypeAES && !s.observed.identityKeyTypes[t] {
		return ceph.KeyTypeAES, fmt.Sprintf("it starts on Ceph %s, but its identity Secret was made by an earlier operator and holds AES keys only", v), nil
	}
	return t, fmt.Sprintf("it starts on Ceph %s", v), nil
}

// clusterKeyType reads the cluster's cephx record for the reconcilers that
// create pods with a keyring after the monitors exist: the key type, and
// the migration step under way. found is false while there is no record
// for the cluster's FSID: the CephCluster reconciler writes it before the
// first monitor.
func clusterKeyType(ctx context.Context, c client.Reader, cluster *cephv1alpha1.CephCluster) (rec cephxRecord, found bool, err error) {
	cm := &corev1.ConfigMap{}
	err = c.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: resources.CephxRecordName(cluster)}, cm)
	if apierrors.IsNotFound(err) {
		return cephxRecord{}, false, nil
	}
	if err != nil {
		return cephxRecord{}, false, fmt.Errorf("reading the cephx record of cluster %s: %w", cluster.Name, err)
	}
	if cm.Data[resources.CephxKeyFSID] != cluster.Status.FSID {
		return cephxRecord{}, false, nil
	}
	rec, err = readCephxRecord(cm, cluster.Status.FSID)
	if err != nil {
		return cephxRecord{}, false, err
	}
	get := func(ctx context.Context, key client.ObjectKey, obj client.Object) error { return c.Get(ctx, key, obj) }
	rec, err = overlayMigration(ctx, get, cluster, cluster.Status.FSID, rec)
	return rec, err == nil, err
}

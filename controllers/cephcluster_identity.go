package controllers

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// reconcileIdentity makes sure the cluster identity Secret exists. It is
// created once and never rewritten: the FSID and keys identify the cluster on
// every disk it owns, so a new identity would orphan them.
//
// The Secret has no owner reference, so deleting the CephCluster with the
// default cleanup policy keeps it; a CephCluster created again with the same
// name in the same namespace adopts it (same FSID, same keys), and with the
// kept monitor placement and monitor stores the old cluster comes back.
func (r *CephClusterReconciler) reconcileIdentity(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	key := client.ObjectKey{Namespace: cluster.Namespace, Name: resources.IdentitySecretName(cluster)}

	secret := &corev1.Secret{}
	// The cache only holds Secrets labelled as ours; a stale cache or an
	// unlabelled Secret of the same name must not lead to a new identity.
	err := r.getConfirmingAbsence(ctx, key, secret)
	if apierrors.IsNotFound(err) {
		if cluster.Status.FSID != "" {
			// This CephCluster already had an identity: a new one would
			// make every monitor store and OSD of the old one foreign.
			return fmt.Errorf("identity Secret %s of this cluster (FSID %s) is missing; a new identity would orphan its monitors and OSDs, "+
				"so none is created: restore the Secret from a backup", key, cluster.Status.FSID)
		}
		return r.createIdentity(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("reading identity Secret %s: %w", key, err)
	}
	if err := checkClusterObject(cluster, "Secret", secret); err != nil {
		return err
	}
	fsid, err := resources.FSIDFromSecret(secret)
	if err != nil {
		return err
	}
	adopted, err := r.adopt(ctx, cluster, secret)
	if err != nil {
		return err
	}
	if adopted {
		ctrl.LoggerFrom(ctx).Info("Adopted the identity of a former CephCluster of this name", "secret", secret.Name, "fsid", fsid)
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "IdentityAdopted", "Adopt",
			"Adopted the identity (FSID %s) a former CephCluster %s left in Secret %s; its monitors and OSDs come back with their data",
			fsid, cluster.Name, secret.Name)
	}
	s.observed.fsid = fsid
	s.observed.identityKeyTypes = map[ceph.KeyType]bool{}
	for _, t := range []ceph.KeyType{ceph.KeyTypeAES, ceph.KeyTypeAES256K} {
		s.observed.identityKeyTypes[t] = resources.CheckSecretKeys(secret, t) == nil
	}
	return nil
}

// checkClusterObject fails unless obj was created by the operator for a
// CephCluster of cluster's name: the same CephCluster, or a former one of the
// same name in the same namespace, whose kept state it adopts.
func checkClusterObject(cluster *cephv1alpha1.CephCluster, kind string, obj client.Object) error {
	if obj.GetLabels()[resources.ManagedByLabel] != resources.ManagedByValue {
		return fmt.Errorf("%s %s exists but was not created by ceph-operator; rename or remove it", kind, obj.GetName())
	}
	if owner := obj.GetLabels()[resources.ClusterLabel]; owner != cluster.Name {
		return fmt.Errorf("%s %s belongs to CephCluster %q, not %q", kind, obj.GetName(), owner, cluster.Name)
	}
	if ref := metav1.GetControllerOf(obj); ref != nil && ref.Kind != "CephCluster" {
		return fmt.Errorf("%s %s is controlled by %s %s, not by a CephCluster", kind, obj.GetName(), ref.Kind, ref.Name)
	}
	return nil
}

// adopt makes obj, an object of the cluster's kept state (identity, monitor
// placement, bootstrap record), survive the cluster's deletion and records
// which CephCluster uses it: it removes CephCluster owner references (which
// an earlier operator set, and which would let the garbage collector delete
// it with the cluster) and sets the cluster-UID annotation. It reports
// whether obj came from a former CephCluster of the same name.
func (r *CephClusterReconciler) adopt(ctx context.Context, cluster *cephv1alpha1.CephCluster, obj client.Object) (bool, error) {
	var keep []metav1.OwnerReference
	owned := false
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == "CephCluster" && ref.APIVersion == cephv1alpha1.GroupVersion.String() {
			owned = true
			continue
		}
		keep = append(keep, ref)
	}
	previous := obj.GetAnnotations()[resources.ClusterUIDAnnotation]
	if !owned && previous == string(cluster.UID) {
		return false, nil
	}
	adopted := previous != "" && previous != string(cluster.UID)
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == "CephCluster" && ref.UID != cluster.UID {
			adopted = true
		}
	}
	base := obj.DeepCopyObject().(client.Object)
	obj.SetOwnerReferences(keep)
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[resources.ClusterUIDAnnotation] = string(cluster.UID)
	obj.SetAnnotations(annotations)
	// Only metadata changes: immutable Secrets and ConfigMaps allow it.
	if err := r.Client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("keeping %s %s with the cluster's state: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	return adopted, nil
}

// keptStateToCluster maps an object of a cluster's kept state (identity,
// monitor placement, bootstrap record), which has no owner reference, to
// its CephCluster.
func keptStateToCluster(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[resources.ClusterLabel]
	if name == "" {
		return nil
	}
	cluster := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: obj.GetNamespace()}}
	for _, k := range resources.KeptState(cluster) {
		if k.Name == obj.GetName() {
			return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(cluster)}}
		}
	}
	return nil
}

// createIdentity generates an FSID and the bootstrap keys and stores them.
func (r *CephClusterReconciler) createIdentity(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	now := r.Clock()
	var id resources.Identity
	var err error
	if id.FSID, err = ceph.NewFSID(r.Random); err != nil {
		return err
	}
	// Keys of both types: which one the cluster uses is decided before
	// its first monitor, once its image's Ceph version is known
	// (reconcileCephx).
	for t, keys := range map[ceph.KeyType]*resources.Keys{ceph.KeyTypeAES: &id.AES, ceph.KeyTypeAES256K: &id.AES256K} {
		for _, k := range []*string{&keys.MonKey, &keys.AdminKey, &keys.BootstrapOSDKey, &keys.MgrKey, &keys.ReporterKey} {
			if *k, err = ceph.NewCephxKey(r.Random, now, t); err != nil {
				return err
			}
		}
	}
	// No owner reference: the identity outlives the CephCluster unless
	// its cleanup policy confirms destroying the data.
	secret := resources.IdentitySecret(cluster, id)
	secret.Annotations = map[string]string{resources.ClusterUIDAnnotation: string(cluster.UID)}
	if err := r.Client.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating identity Secret %s: %w", secret.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Created cluster identity Secret", "secret", secret.Name, "fsid", id.FSID)
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "IdentityCreated", "Create",
		"Created cluster identity (FSID %s) in Secret %s", id.FSID, secret.Name)
	s.observed.fsid = id.FSID
	s.observed.identityKeyTypes = map[ceph.KeyType]bool{ceph.KeyTypeAES: true, ceph.KeyTypeAES256K: true}
	return nil
}

// reconcileConfig keeps the ceph.conf ConfigMap equal to what the spec and
// the identity say, writing only when it differs.
func (r *CephClusterReconciler) reconcileConfig(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	desired := resources.ConfigMap(cluster, ceph.Config{FSID: s.observed.fsid, MonHosts: monplan.MonHosts(s.observed.mon.mons), FailureDomain: cluster.Spec.DefaultFailureDomain})
	if err := controllerutil.SetControllerReference(cluster, desired, r.Client.Scheme()); err != nil {
		return fmt.Errorf("setting owner of ConfigMap %s: %w", desired.Name, err)
	}
	current := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), current)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, desired); err != nil {
			return fmt.Errorf("creating ConfigMap %s: %w", desired.Name, err)
		}
		ctrl.LoggerFrom(ctx).Info("Created ConfigMap", "configmap", desired.Name)
	case err != nil:
		return fmt.Errorf("reading ConfigMap %s: %w", desired.Name, err)
	case !maps.Equal(current.Data, desired.Data) || !labelsContain(current.Labels, desired.Labels):
		base := current.DeepCopy()
		current.Data = desired.Data
		for k, v := range desired.Labels {
			if current.Labels == nil {
				current.Labels = map[string]string{}
			}
			current.Labels[k] = v
		}
		if err := r.Client.Patch(ctx, current, client.MergeFrom(base)); err != nil {
			return fmt.Errorf("updating ConfigMap %s: %w", desired.Name, err)
		}
		ctrl.LoggerFrom(ctx).Info("Updated ConfigMap", "configmap", desired.Name)
	}
	s.observed.configured = true
	return nil
}

// labelsContain reports whether have carries every label of want.
func labelsContain(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

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

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// reconcileIdentity makes sure the cluster identity Secret exists. It is
// created once and never rewritten: the FSID and keys identify the cluster on
// every disk it owns, so a new identity would orphan them.
func (r *CephClusterReconciler) reconcileIdentity(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	key := client.ObjectKey{Namespace: cluster.Namespace, Name: resources.IdentitySecretName(cluster)}

	secret := &corev1.Secret{}
	err := r.Client.Get(ctx, key, secret)
	if apierrors.IsNotFound(err) {
		// The cache only holds Secrets labelled as ours; a stale cache or an
		// unlabelled Secret of the same name must not lead to a new identity.
		err = r.APIReader.Get(ctx, key, secret)
		if apierrors.IsNotFound(err) {
			return r.createIdentity(ctx, s)
		}
		if err == nil && secret.Labels[resources.ManagedByLabel] != resources.ManagedByValue {
			return fmt.Errorf("secret %s exists but was not created by ceph-operator; rename or remove it", key)
		}
	}
	if err != nil {
		return fmt.Errorf("reading identity Secret %s: %w", key, err)
	}
	if !metav1.IsControlledBy(secret, cluster) {
		return fmt.Errorf("secret %s belongs to another CephCluster (owner mismatch)", key)
	}
	fsid, err := resources.FSIDFromSecret(secret)
	if err != nil {
		return err
	}
	s.observed.fsid = fsid
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
	for _, k := range []*string{&id.MonKey, &id.AdminKey, &id.BootstrapOSDKey, &id.MgrKey, &id.ReporterKey} {
		if *k, err = ceph.NewCephxKey(r.Random, now); err != nil {
			return err
		}
	}
	secret := resources.IdentitySecret(cluster, id)
	if err := controllerutil.SetControllerReference(cluster, secret, r.Client.Scheme()); err != nil {
		return fmt.Errorf("setting owner of Secret %s: %w", secret.Name, err)
	}
	if err := r.Client.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating identity Secret %s: %w", secret.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Created cluster identity Secret", "secret", secret.Name, "fsid", id.FSID)
	r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, "IdentityCreated", "Create",
		"Created cluster identity (FSID %s) in Secret %s", id.FSID, secret.Name)
	s.observed.fsid = id.FSID
	return nil
}

// reconcileConfig keeps the ceph.conf ConfigMap equal to what the spec and
// the identity say, writing only when it differs.
func (r *CephClusterReconciler) reconcileConfig(ctx context.Context, s *clusterScope) error {
	cluster := s.cluster
	desired := resources.ConfigMap(cluster, ceph.Config{FSID: s.observed.fsid, MonHosts: monplan.MonHosts(s.observed.mon.mons)})
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

package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Internals the external tests reach.

// ListClusterRequests is listClusterRequests.
func ListClusterRequests(ctx context.Context, c client.Client) []reconcile.Request {
	return listClusterRequests(ctx, c)
}

// Siblings is the siblings watch mapping of a reconciler using c.
func Siblings(ctx context.Context, c client.Client, obj client.Object) []reconcile.Request {
	return (&CephClusterReconciler{Client: c}).siblings(ctx, obj)
}

// RememberCluster records key as reconciled.
func RememberCluster(key types.NamespacedName) { knownClusters.remember(key) }

// ForgetCluster drops key from the reconciled clusters.
func ForgetCluster(key types.NamespacedName) { knownClusters.forget(key) }

// SetPodRecheckRejected changes how soon a pod admission rejection is
// checked again, and returns a function that restores it.
func SetPodRecheckRejected(d time.Duration) (restore func()) {
	old := podRecheckRejected
	podRecheckRejected = d
	return func() { podRecheckRejected = old }
}

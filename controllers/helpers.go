package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/nodeselect"
)

// listItems returns the items of a typed list as client.Objects.
func listItems(list client.ObjectList) ([]client.Object, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("reading %T: %w", list, err)
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		obj, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%T is not a client.Object", o)
		}
		out = append(out, obj)
	}
	return out, nil
}

// listClusterRequests returns a request for every CephCluster the operator
// watches. A watch mapping cannot return an error, and an event dropped on a
// failed List would never be seen again (a Node that joined would stay
// unselected until something else changed). So when the List fails, every
// cluster this process has reconciled is requeued instead: a superset, which
// costs reconciles that find nothing to do. A cluster not yet reconciled
// needs no request: its first reconcile reads the cache after the event.
func listClusterRequests(ctx context.Context, c client.Client) []reconcile.Request {
	var list cephv1alpha1.CephClusterList
	if err := c.List(ctx, &list); err != nil {
		reqs := knownClusters.requests("")
		ctrl.LoggerFrom(ctx).Error(err, "Listing CephClusters for a watch event failed; requeueing every known cluster instead", "clusters", len(reqs))
		return reqs
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// clusterSet is a set of CephCluster keys, safe for concurrent use.
type clusterSet struct {
	mu sync.Mutex
	m  map[types.NamespacedName]struct{}
}

// knownClusters are the CephClusters this process has reconciled and not
// seen deleted: the fallback of the watch mappings when a List fails.
var knownClusters clusterSet

func (s *clusterSet) remember(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[types.NamespacedName]struct{}{}
	}
	s.m[key] = struct{}{}
}

func (s *clusterSet) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// requests returns a request for each known cluster of namespace ns, or of
// every namespace when ns is empty, sorted.
func (s *clusterSet) requests(ns string) []reconcile.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	reqs := make([]reconcile.Request, 0, len(s.m))
	for key := range s.m {
		if ns == "" || key.Namespace == ns {
			reqs = append(reqs, reconcile.Request{NamespacedName: key})
		}
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].String() < reqs[j].String() })
	return reqs
}

// nodeSelectionChanged lets through Node events that can change which nodes
// a storage selection takes: creation, deletion, and changes of labels or
// taints (see nodeselect.Changed). The frequent status heartbeats are
// filtered out.
func nodeSelectionChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okOld := e.ObjectOld.(*corev1.Node)
			n, okNew := e.ObjectNew.(*corev1.Node)
			return okOld && okNew && nodeselect.Changed(o, n)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// nodeSelectionOrReadyChanged is nodeSelectionChanged, and also lets
// through a change of a node's Ready condition: a monitor's node that goes
// NotReady starts its failover timer (monplan.Failover).
func nodeSelectionOrReadyChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okOld := e.ObjectOld.(*corev1.Node)
			n, okNew := e.ObjectNew.(*corev1.Node)
			return okOld && okNew && (nodeselect.Changed(o, n) || nodeselect.Ready(o) != nodeselect.Ready(n))
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// getConfirmingAbsence reads obj through the cache and, when the cache does
// not have it, from the API server, so that NotFound means it does not
// exist. It is for the objects whose absence makes
// the reconciler create something that must exist once (the identity, the
// monitor placement, the bootstrap record): the cache may not have seen an
// earlier reconcile's create yet, or may not hold the object at all.
func (r *CephClusterReconciler) getConfirmingAbsence(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	err := r.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, obj)
	}
	return err
}

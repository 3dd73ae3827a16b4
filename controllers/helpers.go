package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
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

// setOwner makes cluster the controller of obj, so obj is watched as the
// cluster's and garbage-collected with it.
func setOwner(cluster *cephv1.CephCluster, obj client.Object, scheme *runtime.Scheme) error {
	if err := controllerutil.SetControllerReference(cluster, obj, scheme); err != nil {
		return fmt.Errorf("setting owner of %s: %w", obj.GetName(), err)
	}
	return nil
}

// applyOwned creates obj, owned by cluster, or updates it with server-side
// apply, under the operator's field manager. It writes only when the desired object
// differs from the one last applied (recorded as a hash annotation), so a
// reconcile with nothing to do makes no API write. created reports whether
// the object did not exist before.
func applyOwned(ctx context.Context, c client.Client, cluster *cephv1.CephCluster, obj client.Object) (created bool, err error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	hash, err := desiredHash(obj)
	if err != nil {
		return false, err
	}
	current, err := c.Scheme().New(gvk)
	if err != nil {
		return false, fmt.Errorf("creating %s: %w", gvk.Kind, err)
	}
	cur, ok := current.(client.Object)
	if !ok {
		return false, fmt.Errorf("%s is not a client.Object", gvk.Kind)
	}
	err = c.Get(ctx, client.ObjectKeyFromObject(obj), cur)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	created = apierrors.IsNotFound(err)
	if !created && cur.GetAnnotations()[specHashAnnotation] == hash {
		return false, nil
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[specHashAnnotation] = hash
	obj.SetAnnotations(annotations)
	if err := setOwner(cluster, obj, c.Scheme()); err != nil {
		return false, err
	}
	if created {
		// A plain create costs the API server half of an apply, which
		// matters at twelve thousand OSDs; later changes are applied.
		err := c.Create(ctx, obj, fieldOwner)
		if err == nil {
			ctrl.LoggerFrom(ctx).Info("Created "+gvk.Kind, "object", klog.KObj(obj))
			return true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("creating %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		// The cache had not seen it yet: apply over it below.
	}
	//nolint:staticcheck // Typed objects with TypeMeta are applied as a whole.
	if err := c.Patch(ctx, obj, client.Apply, fieldOwner, client.ForceOwnership); err != nil {
		return false, fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	ctrl.LoggerFrom(ctx).Info("Applied "+gvk.Kind, "object", klog.KObj(obj))
	return false, nil
}

// listClusterRequests returns a request for every CephCluster the operator
// watches. A watch mapping cannot return an error, and an event dropped on a
// failed List would never be seen again (a Node that joined would stay
// unselected until something else changed). So when the List fails, every
// cluster this process has reconciled is requeued instead: a superset, which
// costs reconciles that find nothing to do. A cluster not yet reconciled
// needs no request: its first reconcile reads the cache after the event.
func listClusterRequests(ctx context.Context, c client.Client) []reconcile.Request {
	var list cephv1.CephClusterList
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

// WriteParallelism bounds how many writes one reconcile sends at once. At a
// thousand nodes a reconcile creates or updates thousands of objects; sent
// one by one they take minutes, and more at once only queue in the API
// server of a small control plane.
const WriteParallelism = 8

// forEach calls fn for 0..n-1 with at most WriteParallelism calls at once and
// returns the errors joined. Every call runs even when some fail, so one bad
// object does not hold the others back.
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(WriteParallelism)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			if err := fn(gctx, i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

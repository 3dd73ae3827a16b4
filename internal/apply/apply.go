// Package apply is how the operator, its agents and its reporter write to the
// API server: server-side apply under fixed field managers, writes skipped
// when nothing changed, and many writes of one reconcile sent a few at once.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Field managers. Each owns the fields it applies; server-side apply removes
// a field its owner stops applying and leaves other owners' fields alone. A
// released name never changes: a new name would leave the old one owning
// fields nobody removes.
const (
	// Operator owns what the cluster reconciler applies: the objects it
	// creates for a cluster, the CephCluster status apart from the parts
	// named below, and the inventory admission policy.
	Operator = client.FieldOwner("ceph-operator")
	// OSD owns the CephCluster's status.osds and its OSDsProvisioned
	// condition.
	OSD = client.FieldOwner("ceph-operator-osd")
	// Planner owns each DiskInventory's status.plan.
	Planner = client.FieldOwner("ceph-operator-planner")
	// Agent owns the rest of a DiskInventory's status: what the node's
	// discovery agent found.
	Agent = client.FieldOwner("ceph-operator-agent")
	// Reporter owns the CephCluster's status.ceph, Ceph's own view.
	Reporter = client.FieldOwner("ceph-operator-reporter")
)

// HashAnnotation records the hash of the desired object the operator last
// applied, so an unchanged object is not written again.
const HashAnnotation = "ceph.cephoperator.io/desired-hash"

// Hash is a short hash of the desired object as built.
func Hash(obj client.Object) (string, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", obj.GetName(), err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8]), nil
}

// SetOwner makes owner the controller of obj, so obj is watched as the
// owner's and garbage-collected with it.
func SetOwner(owner, obj client.Object, scheme *runtime.Scheme) error {
	if err := controllerutil.SetControllerReference(owner, obj, scheme); err != nil {
		return fmt.Errorf("setting owner of %s: %w", obj.GetName(), err)
	}
	return nil
}

// Owned creates obj, controlled by owner, or updates it with server-side
// apply, under the Operator field manager. It writes only when the desired
// object differs from the one last applied (recorded in HashAnnotation), so
// a reconcile with nothing to do makes no API write. created reports whether
// the object did not exist before.
func Owned(ctx context.Context, c client.Client, owner, obj client.Object) (created bool, err error) {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return false, err
	}
	hash, err := Hash(obj)
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
	if !created && cur.GetAnnotations()[HashAnnotation] == hash {
		return false, nil
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[HashAnnotation] = hash
	obj.SetAnnotations(annotations)
	if err := SetOwner(owner, obj, c.Scheme()); err != nil {
		return false, err
	}
	if created {
		// A plain create costs the API server half of an apply, which
		// matters at twelve thousand OSDs; later changes are applied.
		err := c.Create(ctx, obj, Operator)
		if err == nil {
			ctrl.LoggerFrom(ctx).Info("Created "+gvk.Kind, "object", klog.KObj(obj))
			return true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("creating %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		// The cache had not seen it yet: apply over it below.
	}
	if err := Object(ctx, c, obj, Operator); err != nil {
		return false, err
	}
	ctrl.LoggerFrom(ctx).Info("Applied "+gvk.Kind, "object", klog.KObj(obj))
	return false, nil
}

// Object applies obj as a whole under the field manager owner, taking
// ownership of every field it sets.
func Object(ctx context.Context, c client.Client, obj client.Object, owner client.FieldOwner) error {
	u, err := toUnstructured(obj, c.Scheme())
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), owner, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", u.GetKind(), obj.GetName(), err)
	}
	return nil
}

// Status applies the status of obj under the field manager owner. The
// request carries only obj's kind, name, namespace and status, so owner owns
// exactly the status fields obj sets: a field it set before and no longer
// sets is removed by the server, and fields of other managers (the rest of
// the conditions list, which is keyed by type) are left as they are. An
// object that is gone is not an error.
func Status(ctx context.Context, c client.Client, obj client.Object, owner client.FieldOwner) error {
	full, err := toUnstructured(obj, c.Scheme())
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": full.GetAPIVersion(),
		"kind":       full.GetKind(),
		"metadata":   map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
	}}
	if st, ok := full.Object["status"]; ok {
		u.Object["status"] = st
	}
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), owner, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying status of %s %s: %w", full.GetKind(), client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// toUnstructured renders a typed object as the body of an apply request,
// with its apiVersion and kind.
func toUnstructured(obj client.Object, scheme *runtime.Scheme) (*unstructured.Unstructured, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// Parallelism bounds how many writes one reconcile sends at once. At a
// thousand nodes a reconcile creates or updates thousands of objects; sent
// one by one they take minutes, and more at once only queue in the API
// server of a small control plane.
const Parallelism = 8

// ForEach calls fn for 0..n-1 with at most Parallelism calls at once and
// returns the errors joined. Every call runs even when some fail, so one bad
// object does not hold the others back.
func ForEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Parallelism)
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

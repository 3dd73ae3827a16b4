package imagepolicy

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Guard wraps the client the reconcilers write with, so that no workload
// (Pod, Deployment, DaemonSet, StatefulSet, Job) is created, updated or
// patched or applied with an image the policy refuses. The reconcilers check the
// policy themselves and report it; the guard makes sure that no code path
// (another reconciler that has not seen the refusal yet, a race with a
// spec change) starts or changes anything with such an image. exempt are
// images always allowed: the operator's own.
func (p Policy) Guard(c client.Client, exempt ...string) client.Client {
	if p.AllowAll() {
		return c
	}
	ex := map[string]bool{}
	for _, e := range exempt {
		ex[e] = true
	}
	return guardedClient{Client: c, policy: p, exempt: ex}
}

type guardedClient struct {
	client.Client
	policy Policy
	exempt map[string]bool
}

func (g guardedClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := g.check(obj); err != nil {
		return err
	}
	return g.Client.Create(ctx, obj, opts...)
}

func (g guardedClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := g.check(obj); err != nil {
		return err
	}
	return g.Client.Update(ctx, obj, opts...)
}

func (g guardedClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if err := g.check(obj); err != nil {
		return err
	}
	return g.Client.Patch(ctx, obj, patch, opts...)
}

func (g guardedClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	workload, err := workloadOf(obj)
	if err != nil {
		return err
	}
	if workload != nil {
		if err := g.check(workload); err != nil {
			return err
		}
	}
	return g.Client.Apply(ctx, obj, opts...)
}

// workloadOf reads an apply configuration as the typed workload it
// describes, so that it is checked like one; nil when it is of another kind.
func workloadOf(obj runtime.ApplyConfiguration) (client.Object, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("not applying %T: reading it to check its images: %w", obj, err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, fmt.Errorf("not applying %T: reading its kind to check its images: %w", obj, err)
	}
	var out client.Object
	switch gk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind).GroupKind(); gk {
	case corev1.SchemeGroupVersion.WithKind("Pod").GroupKind():
		out = &corev1.Pod{}
	case appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind():
		out = &appsv1.Deployment{}
	case appsv1.SchemeGroupVersion.WithKind("DaemonSet").GroupKind():
		out = &appsv1.DaemonSet{}
	case appsv1.SchemeGroupVersion.WithKind("StatefulSet").GroupKind():
		out = &appsv1.StatefulSet{}
	case batchv1.SchemeGroupVersion.WithKind("Job").GroupKind():
		out = &batchv1.Job{}
	default:
		return nil, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("not applying %s: reading it to check its images: %w", tm.Kind, err)
	}
	return out, nil
}

// check refuses obj when a container of its pod spec runs a refused image.
func (g guardedClient) check(obj client.Object) error {
	spec := podSpec(obj)
	if spec == nil {
		return nil
	}
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range list {
			if g.exempt[c.Image] {
				continue
			}
			if err := g.policy.Check(c.Image); err != nil {
				return fmt.Errorf("not writing %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
			}
		}
	}
	return nil
}

// podSpec returns the pod spec of a workload object, or nil.
func podSpec(obj client.Object) *corev1.PodSpec {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.Spec
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	}
	return nil
}

package imagepolicy

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestCheck(t *testing.T) {
	cases := []struct {
		rules string
		image string
		allow bool
	}{
		{"", "evil.example.com/miner:latest", true},
		{"quay.io/ceph/ceph", "quay.io/ceph/ceph:v19.2.3", true},
		{"quay.io/ceph/ceph", "quay.io/ceph/ceph@" + digest, true},
		{"quay.io/ceph/ceph", "quay.io/ceph/ceph", true},
		// A repository rule is not a string prefix.
		{"quay.io/ceph/ceph", "quay.io/ceph/ceph-evil:v19", false},
		{"quay.io/ceph/ceph", "quay.io/ceph:v19", false},
		{"quay.io/ceph/", "quay.io/ceph/ceph:v19.2.3", true},
		{"quay.io/ceph/", "quay.io/cephx/ceph:v19.2.3", false},
		{"registry.local:5000/ceph/", "registry.local:5000/ceph/ceph:v19", true},
		{"registry.local:5000/ceph/ceph", "registry.local:5000/ceph/ceph:v19", true},
		{"@" + digest, "anything.example.com/ceph@" + digest, true},
		{"@" + digest, "quay.io/ceph/ceph:v19.2.3", false},
		{"quay.io/ceph/ceph@" + digest, "quay.io/ceph/ceph@" + digest, true},
		{"quay.io/ceph/ceph@" + digest, "other.io/ceph/ceph@" + digest, false},
		{"quay.io/ceph/ceph:v19.2.3", "quay.io/ceph/ceph:v19.2.3", true},
		{"quay.io/ceph/ceph:v19.2.3", "quay.io/ceph/ceph:v19.2.3@" + digest, true},
		{"quay.io/ceph/ceph:v19.2.3", "quay.io/ceph/ceph:v19.2.4", false},
		{"quay.io/ceph/ceph:v19.2.3", "quay.io/ceph/ceph", false},
		{"other.io/x, quay.io/ceph/", "quay.io/ceph/ceph:v19", true},
		{"ceph/ceph", "docker.io/ceph/ceph:v19", false},
	}
	for _, tc := range cases {
		p, err := Parse(tc.rules)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.rules, err)
		}
		err = p.Check(tc.image)
		if (err == nil) != tc.allow {
			t.Errorf("rules %q, image %q: allowed=%v, want %v (%v)", tc.rules, tc.image, err == nil, tc.allow, err)
		}
		if err != nil && (!strings.Contains(err.Error(), tc.image) || !strings.Contains(err.Error(), "--allowed-images")) {
			t.Errorf("refusal does not name the image and the rule: %v", err)
		}
	}
}

func TestParseRefusesMalformedRules(t *testing.T) {
	for _, rules := range []string{
		"@sha256:abc",
		"@md5:0123",
		"quay.io/ceph/ceph@sha256:xyz",
		"quay.io//ceph/",
		"ceph image",
		"@",
	} {
		if _, err := Parse(rules); err == nil {
			t.Errorf("Parse(%q) accepted a malformed rule", rules)
		}
	}
}

func TestGuardRefusesWorkloadsWithRefusedImages(t *testing.T) {
	p, err := Parse("quay.io/ceph/ceph")
	if err != nil {
		t.Fatal(err)
	}
	g := p.Guard(nil, "quay.io/ceph-operator/ceph-operator:v0.1.0").(guardedClient)
	dep := func(images ...string) *appsv1.Deployment {
		d := &appsv1.Deployment{}
		d.Spec.Template.Spec.InitContainers = []corev1.Container{{Image: "quay.io/ceph-operator/ceph-operator:v0.1.0"}}
		for _, i := range images {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Image: i})
		}
		return d
	}
	if err := g.check(dep("quay.io/ceph/ceph:v19.2.3")); err != nil {
		t.Errorf("allowed image refused: %v", err)
	}
	if err := g.check(dep("quay.io/ceph/ceph:v19.2.3", "evil.io/miner")); err == nil || !strings.Contains(err.Error(), "evil.io/miner") {
		t.Errorf("a refused image in the second container: %v", err)
	}
	job := &batchv1.Job{}
	job.Spec.Template.Spec.Containers = []corev1.Container{{Image: "evil.io/miner"}}
	if err := g.check(job); err == nil {
		t.Error("a Job with a refused image passed")
	}
	if err := g.check(&corev1.ConfigMap{}); err != nil {
		t.Errorf("a ConfigMap: %v", err)
	}
	if all, _ := Parse(""); all.Guard(nil) != nil {
		t.Error("allow-all policy wrapped the client")
	}

	// Server-side apply is checked too, whether the apply configuration
	// is typed or built from an unstructured object. A refused one never
	// reaches the wrapped client (nil here).
	applied := func(image string) runtime.ApplyConfiguration {
		d := dep(image)
		d.APIVersion, d.Kind, d.Name = "apps/v1", "Deployment", "osd"
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		return client.ApplyConfigurationFromUnstructured(u)
	}
	if err := g.Apply(context.Background(), applied("evil.io/miner")); err == nil || !strings.Contains(err.Error(), "evil.io/miner") {
		t.Errorf("an unstructured apply with a refused image: %v", err)
	}
	typed := appsv1ac.Deployment("osd", "ceph").WithSpec(appsv1ac.DeploymentSpec().WithTemplate(
		corev1ac.PodTemplateSpec().WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithImage("evil.io/miner")))))
	if err := g.Apply(context.Background(), typed); err == nil || !strings.Contains(err.Error(), "evil.io/miner") {
		t.Errorf("a typed apply with a refused image: %v", err)
	}
	for _, ac := range []runtime.ApplyConfiguration{applied("quay.io/ceph/ceph:v19.2.3"), corev1ac.ConfigMap("c", "ceph")} {
		w, err := workloadOf(ac)
		if err != nil {
			t.Fatal(err)
		}
		if w != nil {
			if err := g.check(w); err != nil {
				t.Errorf("an allowed apply refused: %v", err)
			}
		}
	}
	if w, _ := workloadOf(applied("quay.io/ceph/ceph:v19.2.3")); w == nil {
		t.Error("an applied Deployment was not read as a workload")
	}
}

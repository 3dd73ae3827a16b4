package manager

import (
	"flag"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ceph-operator/ceph-operator/internal/resources"
)

func TestDropPodTemplate(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "osd"}}}}
	meta := metav1.ObjectMeta{Name: "x", Annotations: map[string]string{"a": "b"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "osd"}}
	replicas := int32(1)
	d := &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tmpl, Selector: sel, Replicas: &replicas}, Status: appsv1.DeploymentStatus{ReadyReplicas: 1}}
	j := &batchv1.Job{ObjectMeta: *meta.DeepCopy(), Spec: batchv1.JobSpec{Template: tmpl, Selector: sel.DeepCopy()}, Status: batchv1.JobStatus{Succeeded: 1}}
	for _, obj := range []any{d, j} {
		if _, err := DropPodTemplate(obj); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.Spec.Template.Spec.Containers) != 0 || len(j.Spec.Template.Spec.Containers) != 0 {
		t.Error("pod templates kept")
	}
	if d.Spec.Selector != nil || j.Spec.Selector != nil {
		t.Error("selectors kept")
	}
	if d.ManagedFields != nil || j.ManagedFields != nil {
		t.Error("managed fields kept")
	}
	if d.Annotations["a"] != "b" || d.Status.ReadyReplicas != 1 || d.Spec.Replicas == nil || j.Status.Succeeded != 1 {
		t.Error("what the reconcilers read was dropped")
	}
}

func TestValidate(t *testing.T) {
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for name, edit := range map[string]func(*Options){
		"renew not shorter than lease": func(o *Options) { o.RenewDeadline = o.LeaseDuration },
		"retry not shorter than renew": func(o *Options) { o.RetryPeriod = o.RenewDeadline },
		"unknown pull policy":          func(o *Options) { o.ImagePullPolicy = "Sometimes" },
		"no operator image":            func(o *Options) { o.OperatorImage = "" },
		"malformed allowed image":      func(o *Options) { o.AllowedImages = "quay.io/ceph/ceph, @sha256:short" },
	} {
		bad := DefaultOptions()
		edit(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestOperatorImageSources: the deployment's RELATED_IMAGE_OPERATOR wins
// over OPERATOR_IMAGE, which wins over the compiled-in default, and the
// flag over all of them.
func TestOperatorImageSources(t *testing.T) {
	for _, tc := range []struct {
		related, legacy, flag string
		want, source          string
	}{
		{want: DefaultOperatorImage, source: "default"},
		{legacy: "legacy:1", want: "legacy:1", source: "$" + LegacyOperatorImageEnv},
		{related: "related:1", legacy: "legacy:1", want: "related:1", source: "$" + OperatorImageEnv},
		{related: "related:1", flag: "flag:1", want: "flag:1", source: "--operator-image"},
	} {
		t.Setenv(OperatorImageEnv, tc.related)
		t.Setenv(LegacyOperatorImageEnv, tc.legacy)
		o := DefaultOptions()
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		o.BindFlags(fs)
		var args []string
		if tc.flag != "" {
			args = []string{"--operator-image", tc.flag}
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if o.OperatorImage != tc.want || o.OperatorImageSource != tc.source {
			t.Errorf("%+v: image %q from %q, want %q from %q", tc, o.OperatorImage, o.OperatorImageSource, tc.want, tc.source)
		}
	}
}

func TestTrimOSDPod(t *testing.T) {
	status := corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "osd", Image: "ceph", RestartCount: 4,
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "crashed"}}}}}
	pod := func(component string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: component, Labels: map[string]string{resources.ComponentLabel: component, resources.OSDIDLabel: "7"},
				Annotations: map[string]string{"a": "b"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "osd"}}},
			Status: *status.DeepCopy(),
		}
	}
	osd, mon := pod(resources.ComponentOSD), pod(resources.ComponentMon)
	for _, p := range []*corev1.Pod{osd, mon} {
		if _, err := TrimOSDPod(p); err != nil {
			t.Fatal(err)
		}
		if p.ManagedFields != nil {
			t.Errorf("%s pod: managed fields kept", p.Name)
		}
	}
	if len(osd.Spec.Containers) != 0 || osd.Annotations != nil || osd.Status.Conditions != nil || osd.Status.ContainerStatuses[0].Image != "" {
		t.Errorf("OSD pod not trimmed: %+v", osd)
	}
	cs := osd.Status.ContainerStatuses[0]
	if osd.Labels[resources.OSDIDLabel] != "7" || osd.Status.Phase != corev1.PodRunning || cs.Name != "osd" || cs.RestartCount != 4 ||
		cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.Message != "crashed" {
		t.Errorf("what crash detection reads was dropped: %+v", osd)
	}
	if len(mon.Spec.Containers) != 1 || mon.Annotations["a"] != "b" || len(mon.Status.Conditions) != 1 || mon.Status.ContainerStatuses[0].Image != "ceph" {
		t.Errorf("monitor pod trimmed: %+v", mon)
	}
}

// TestTrimNode: a cached Node keeps its labels, taints, conditions and
// addresses, and loses its images, volumes, capacity, annotations and
// managed fields.
func TestTrimNode(t *testing.T) {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"topology.kubernetes.io/zone": "z1"},
			Annotations: map[string]string{"a": "b"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24", ProviderID: "p", Unschedulable: true,
			Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.Now()}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}},
			Images:     []corev1.ContainerImage{{Names: []string{"quay.io/ceph/ceph:v18"}, SizeBytes: 1}},
			Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			NodeInfo:   corev1.NodeSystemInfo{KernelVersion: "6.1"},
		},
	}
	if _, err := TrimNode(n); err != nil {
		t.Fatal(err)
	}
	if n.Labels["topology.kubernetes.io/zone"] != "z1" || !n.Spec.Unschedulable || len(n.Spec.Taints) != 1 ||
		len(n.Status.Conditions) != 1 || n.Status.Conditions[0].LastTransitionTime.IsZero() || len(n.Status.Addresses) != 1 {
		t.Errorf("what selection, placement or failover reads was dropped: %+v", n)
	}
	if n.Annotations != nil || n.ManagedFields != nil || n.Status.Images != nil || n.Status.Capacity != nil ||
		n.Status.NodeInfo.KernelVersion != "" || n.Spec.PodCIDR != "" {
		t.Errorf("not trimmed: %+v", n)
	}
}

package manager

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// TestInventoryProvenance writes DiskInventories with the token a node's
// agent pod gets (a service account token bound to the pod, which carries
// the pod's node) and checks that, once the policy is applied, the agent
// may write its own node's inventory and no other.
func TestInventoryProvenance(t *testing.T) {
	env := testenv.Start(t)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	c := env.Client

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "provenance"}}
	cluster := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: ns.Name}}
	objs := []client.Object{ns,
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}},
		resources.AgentServiceAccount(cluster), resources.AgentRole(cluster), resources.AgentRoleBinding(cluster),
		resources.DiskInventory(cluster, "node-a"), resources.DiskInventory(cluster, "node-b"),
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "discover-a", Namespace: ns.Name},
		Spec: corev1.PodSpec{
			NodeName:           "node-a",
			ServiceAccountName: resources.AgentServiceAccountName(cluster),
			Containers:         []corev1.Container{{Name: "discover", Image: "agent:test"}},
		},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}

	// The agent's token, as the kubelet requests it for the pod.
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns.Name).CreateToken(ctx, resources.AgentServiceAccountName(cluster), &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting the agent's pod-bound token: %v", err)
	}
	agentCfg := rest.AnonymousClientConfig(env.Config)
	agentCfg.BearerToken = tr.Status.Token
	agent, err := client.New(agentCfg, client.Options{Scheme: c.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	// The API server says who the token is: the agent, on node-a.
	review, err := kubernetes.NewForConfigOrDie(agentCfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := review.Status.UserInfo.Extra[NodeNameExtra]; len(got) != 1 || got[0] != "node-a" {
		t.Fatalf("the pod-bound token carries %s=%v, want [node-a]; user %+v", NodeNameExtra, got, review.Status.UserInfo)
	}

	report := func(node string, disks int) error {
		inv := &cephv1alpha1.DiskInventory{
			ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: ns.Name},
			Status:     cephv1alpha1.DiskInventoryStatus{Summary: cephv1alpha1.DiskInventorySummary{Disks: int32(disks), Available: int32(disks)}},
		}
		return apply.Status(ctx, agent, inv, apply.Agent)
	}

	// Without the policy, RBAC alone lets the agent of node-a forge the
	// inventory of node-b: this is what the policy closes.
	if err := report("node-b", 1); err != nil {
		t.Fatalf("before the policy, RBAC should let the agent write any inventory of its namespace: %v", err)
	}

	// The applies are counted (the client is the test API server's,
	// observed, not faked).
	applies := 0
	direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: c.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	counting := interceptor.NewClient(direct, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			applies++
			return c.Apply(ctx, obj, opts...)
		},
	})
	if err := EnsureInventoryPolicy(ctx, counting, c); err != nil {
		t.Fatal(err)
	}
	if applies != 2 {
		t.Fatalf("%d applies for a new policy and binding, want 2", applies)
	}
	// Ensuring again writes nothing: a restarted operator finds both
	// current.
	if err := EnsureInventoryPolicy(ctx, counting, c); err != nil {
		t.Fatal(err)
	}
	if applies != 2 {
		t.Fatalf("%d applies in all after ensuring a current policy again, want still 2", applies)
	}

	// The API server loads policies asynchronously.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := report("node-b", 2)
		if err != nil {
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "runs on node node-a and may not write DiskInventory node-b") {
				t.Fatalf("forged inventory: want Forbidden naming both nodes, got %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent of node-a still writes node-b's inventory 30s after the policy was applied")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := report("node-a", 3); err != nil {
		t.Fatalf("the agent may not write its own node's inventory: %v", err)
	}

	// A token that is not bound to a pod carries no node: refused.
	unbound, err := cs.CoreV1().ServiceAccounts(ns.Name).CreateToken(ctx, resources.AgentServiceAccountName(cluster), &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	agentCfg.BearerToken = unbound.Status.Token
	if agent, err = client.New(agentCfg, client.Options{Scheme: c.Scheme()}); err != nil {
		t.Fatal(err)
	}
	if err := report("node-a", 4); !apierrors.IsForbidden(err) {
		t.Errorf("a token bound to no pod: want Forbidden, got %v", err)
	}

	// The operator (here the administrator) still writes every inventory.
	inv := &cephv1alpha1.DiskInventory{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "node-b"}, inv); err != nil {
		t.Fatal(err)
	}
	inv.Spec.RescanRequest++
	if err := c.Update(ctx, inv); err != nil {
		t.Errorf("the operator may no longer write node-b's inventory: %v", err)
	}
}

// TestInventoryPolicyManifest checks that config/admission, applied by
// kustomize, holds the same policy the operator applies.
func TestInventoryPolicyManifest(t *testing.T) {
	policy, binding := InventoryPolicy()
	dir := filepath.Join(testenv.RepoRoot(), "config", "admission")
	for file, want := range map[string]any{"policy.yaml": policy, "binding.yaml": binding} {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(want).Elem()).Interface()
		if err := yaml.UnmarshalStrict(raw, got); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// config/default adds its namePrefix to the names, not to the
		// binding's policyName.
		obj := got.(client.Object)
		if obj.GetName() != strings.TrimPrefix(InventoryPolicyName, "ceph-operator-") {
			t.Errorf("%s is named %s; with the prefix ceph-operator- it must become %s", file, obj.GetName(), InventoryPolicyName)
		}
		obj.SetName(InventoryPolicyName)
		if !reflect.DeepEqual(got, want) {
			wantYAML, _ := yaml.Marshal(want)
			t.Errorf("%s differs from what the operator applies; want:\n%s", file, wantYAML)
		}
	}
}

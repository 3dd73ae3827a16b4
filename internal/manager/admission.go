package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// InventoryPolicyName names the ValidatingAdmissionPolicy, and its binding,
// that lets a node's agent write only its own node's DiskInventory.
const InventoryPolicyName = "ceph-operator-inventory-provenance"

// NodeNameExtra is the user-info extra the API server adds to requests made
// with a service account token bound to a pod: the name of the pod's node.
// The kubelet only ever hands a pod a token bound to that pod, so a node
// (or whoever took it over) holds tokens of its own name only.
const NodeNameExtra = "authentication.kubernetes.io/node-name"

// agentUserPattern matches the users of the discovery agents' service
// accounts (resources.AgentServiceAccountName, one per cluster namespace).
const agentUserPattern = `^system:serviceaccount:[^:]+:[^:]+-ceph-agent$`

// InventoryPolicy returns the ValidatingAdmissionPolicy and its binding that
// make the API server refuse a DiskInventory write by an agent unless the
// inventory is the one of the node the agent's pod runs on. Without it, one
// compromised node could report another node's disks as empty and eligible,
// and the operator would prepare OSDs on them. config/admission holds the
// same objects for kustomize; OLM bundles cannot carry them, so the
// operator applies them when it starts (see EnsureInventoryPolicy).
func InventoryPolicy() (*admissionv1.ValidatingAdmissionPolicy, *admissionv1.ValidatingAdmissionPolicyBinding) {
	fail := admissionv1.Fail
	forbidden := metav1.StatusReasonForbidden
	labels := map[string]string{resources.ManagedByLabel: resources.ManagedByValue, "app.kubernetes.io/part-of": "ceph-operator"}
	policy := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: InventoryPolicyName, Labels: labels},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				ResourceRules: []admissionv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionv1.RuleWithOperations{
						Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
						Rule: admissionv1.Rule{
							APIGroups:   []string{cephv1alpha1.GroupVersion.Group},
							APIVersions: []string{"*"},
							Resources:   []string{"diskinventories", "diskinventories/status"},
						},
					},
				}},
			},
			// Only the agents are restricted: the operator creates every
			// inventory and writes every plan.
			MatchConditions: []admissionv1.MatchCondition{{
				Name:       "discovery-agent",
				Expression: "request.userInfo.username.matches('" + agentUserPattern + "')",
			}},
			Validations: []admissionv1.Validation{{
				Expression: "'" + NodeNameExtra + "' in request.userInfo.extra && " +
					"size(request.userInfo.extra['" + NodeNameExtra + "']) == 1 && " +
					"object.metadata.name == request.userInfo.extra['" + NodeNameExtra + "'][0]",
				Message: "a discovery agent may write only the DiskInventory of the node its pod runs on, " +
					"with a service account token bound to that pod (the token carries no node name)",
				MessageExpression: "'a discovery agent may write only the DiskInventory of the node its pod runs on: " +
					"' + request.userInfo.username + ' runs on node ' + request.userInfo.extra['" + NodeNameExtra + "'][0] + " +
					"' and may not write DiskInventory ' + object.metadata.name",
				Reason: &forbidden,
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: InventoryPolicyName, Labels: labels},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        InventoryPolicyName,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	return policy, binding
}

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=create
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,resourceNames=ceph-operator-inventory-provenance,verbs=get;patch;update

// EnsureInventoryPolicy applies the inventory policy and its binding with
// server-side apply, under the operator's field manager, each only when
// what r reads of it differs: a restarted operator writes nothing when
// both are current.
func EnsureInventoryPolicy(ctx context.Context, c client.Client, r client.Reader) error {
	policy, binding := InventoryPolicy()
	current, err := policyCurrent(ctx, r, policy, &admissionv1.ValidatingAdmissionPolicy{}, func(o client.Object) any {
		return o.(*admissionv1.ValidatingAdmissionPolicy).Spec
	})
	if err != nil {
		return err
	}
	if !current {
		if err := apply.Object(ctx, c, policy, apply.Operator); err != nil {
			return err
		}
	}
	current, err = policyCurrent(ctx, r, binding, &admissionv1.ValidatingAdmissionPolicyBinding{}, func(o client.Object) any {
		return o.(*admissionv1.ValidatingAdmissionPolicyBinding).Spec
	})
	if err != nil || current {
		return err
	}
	return apply.Object(ctx, c, binding, apply.Operator)
}

// policyCurrent reads the object named like want into into and reports
// whether it already has every label and every spec field want sets (the
// server's defaults for the fields want leaves out do not count).
func policyCurrent(ctx context.Context, r client.Reader, want, into client.Object, spec func(client.Object) any) (bool, error) {
	if err := r.Get(ctx, client.ObjectKeyFromObject(want), into); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading %s: %w", want.GetName(), err)
	}
	return equality.Semantic.DeepDerivative(want.GetLabels(), into.GetLabels()) &&
		equality.Semantic.DeepDerivative(spec(want), spec(into)), nil
}

// inventoryPolicyRunnable applies the inventory policy once the manager is
// the leader, retrying with backoff until it succeeds: an API server
// without ValidatingAdmissionPolicy (before Kubernetes 1.30) or missing RBAC
// is logged, and the operator goes on without the protection.
type inventoryPolicyRunnable struct {
	client client.Client
	// reader reads the policy from the API server: the operator does not
	// cache (or watch) admission policies.
	reader client.Reader
	log    logr.Logger
}

var _ manager.LeaderElectionRunnable = inventoryPolicyRunnable{}

func (inventoryPolicyRunnable) NeedLeaderElection() bool { return true }

func (r inventoryPolicyRunnable) Start(ctx context.Context) error {
	log := r.log.WithName("admission-policy")
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Steps: 100, Cap: 5 * time.Minute}
	for {
		err := EnsureInventoryPolicy(ctx, r.client, r.reader)
		if err == nil {
			log.Info("Applied the DiskInventory provenance policy", "policy", InventoryPolicyName)
			return nil
		}
		log.Error(err, "Applying the DiskInventory provenance policy failed; agents can write any node's inventory until it is applied")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff.Step()):
		}
	}
}

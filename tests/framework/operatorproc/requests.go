package operatorproc

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/tests/framework/promtext"
)

// The API server's request metrics (apiserver_request_total) have no label
// that names the client, so the operator's requests cannot be told from the
// controller-manager's, kwok's or the agents' there. Its API Priority and
// Fairness metrics do name the FlowSchema that classified each request
// (apiserver_flowcontrol_dispatched_requests_total{flow_schema}), and
// FlowSchemas match on the user after impersonation. InstallRequestCounter
// therefore adds FlowSchemas that match only the operator's ServiceAccount:
// one per verb and resource the CSV grants it, then one per verb for
// anything else, then one for non-resource URLs (discovery). They all send
// the requests to the workload-low priority level, where the default
// service-accounts FlowSchema would have sent them, so the operator is
// throttled exactly as without them.

// Verbs are the request verbs of API Priority and Fairness, as Kubernetes
// names them for authorization.
var Verbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// writeVerbs are the verbs that change state.
var writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

// flowSchemaPrefix starts the name of every FlowSchema added here.
const flowSchemaPrefix = "ceph-operator-requests-"

// RequestKind is a verb and what it was made on.
type RequestKind struct {
	// Verb is one of Verbs, or "*" for a non-resource request.
	Verb string
	// Resource is "resource[/subresource]" (with ".group" after the
	// resource for other groups than the core one), "*" for any other
	// resource, or a non-resource URL pattern.
	Resource string
}

func (k RequestKind) String() string { return k.Verb + " " + k.Resource }

// RequestCounter counts the API requests of the operator's ServiceAccount
// from the API server's metrics.
type RequestCounter struct {
	kinds   map[string]RequestKind
	metrics rest.Interface
}

// InstallRequestCounter creates the FlowSchemas that attribute the requests
// of the operator's ServiceAccount in namespace, through the administrator
// client c, and waits until the API server uses them. cfg connects as an
// administrator, to read the metrics.
func InstallRequestCounter(ctx context.Context, c client.Client, cfg *rest.Config, namespace string) (*RequestCounter, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating metrics client: %w", err)
	}
	granted, err := rules()
	if err != nil {
		return nil, err
	}
	rc := &RequestCounter{kinds: map[string]RequestKind{}, metrics: cs.RESTClient()}
	subject := flowcontrolv1.Subject{Kind: flowcontrolv1.SubjectKindServiceAccount,
		ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Namespace: namespace, Name: ServiceAccount}}
	add := func(kind RequestKind, precedence int32, rule flowcontrolv1.PolicyRulesWithSubjects) error {
		slug := strings.NewReplacer("/", ".", "*", "any")
		name := flowSchemaPrefix + slug.Replace(kind.Verb) + "-" + strings.Trim(slug.Replace(kind.Resource), ".")
		if _, dup := rc.kinds[name]; dup {
			return nil
		}
		rc.kinds[name] = kind
		rule.Subjects = []flowcontrolv1.Subject{subject}
		fs := &flowcontrolv1.FlowSchema{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-low"},
				MatchingPrecedence:         precedence,
				DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
				Rules:                      []flowcontrolv1.PolicyRulesWithSubjects{rule},
			},
		}
		if err := c.Create(ctx, fs); err != nil {
			return fmt.Errorf("creating FlowSchema %s: %w", name, err)
		}
		return nil
	}
	resourceRule := func(verb, group, resource string) flowcontrolv1.PolicyRulesWithSubjects {
		return flowcontrolv1.PolicyRulesWithSubjects{ResourceRules: []flowcontrolv1.ResourcePolicyRule{{
			Verbs: []string{verb}, APIGroups: []string{group}, Resources: []string{resource},
			ClusterScope: true, Namespaces: []string{flowcontrolv1.NamespaceEvery},
		}}}
	}
	for _, r := range granted {
		for _, group := range r.APIGroups {
			for _, res := range r.Resources {
				for _, verb := range r.Verbs {
					// A verb that is no API request (the "use" of an
					// OpenShift SecurityContextConstraints) cannot be
					// matched by a FlowSchema, and is never counted.
					if !slices.Contains(Verbs, verb) {
						continue
					}
					if err := add(RequestKind{verb, qualified(group, res)}, 1000, resourceRule(verb, group, res)); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	for _, verb := range Verbs {
		if err := add(RequestKind{verb, "*"}, 1001, resourceRule(verb, "*", "*")); err != nil {
			return nil, err
		}
	}
	if err := add(RequestKind{"*", "/*"}, 1002, flowcontrolv1.PolicyRulesWithSubjects{NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{
		Verbs: []string{"*"}, NonResourceURLs: []string{"*"},
	}}}); err != nil {
		return nil, err
	}
	return rc, rc.waitActive(ctx, c)
}

// qualified names a resource as kubectl does: "deployments.apps",
// "leases.coordination.k8s.io", "nodes" for the core group; a subresource
// follows after a slash.
func qualified(group, resource string) string {
	if group == "" {
		return resource
	}
	res, sub, ok := strings.Cut(resource, "/")
	if ok {
		return res + "." + group + "/" + sub
	}
	return resource + "." + group
}

// waitActive waits until the API server's flow control has taken in every
// FlowSchema added (it then sets their Dangling condition).
func (rc *RequestCounter) waitActive(ctx context.Context, c client.Client) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var list flowcontrolv1.FlowSchemaList
		if err := c.List(ctx, &list); err != nil {
			return fmt.Errorf("listing FlowSchemas: %w", err)
		}
		active := 0
		for _, fs := range list.Items {
			if _, ours := rc.kinds[fs.Name]; !ours {
				continue
			}
			for _, cond := range fs.Status.Conditions {
				if cond.Type == flowcontrolv1.FlowSchemaConditionDangling && cond.Status == flowcontrolv1.ConditionFalse {
					active++
				}
			}
		}
		if active == len(rc.kinds) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d FlowSchemas taken in by the API server after a minute", active, len(rc.kinds))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Requests counts requests by kind.
type Requests map[RequestKind]float64

// Read returns the operator's requests so far, dispatched and rejected (by
// flow control, with 429) together.
func (rc *RequestCounter) Read(ctx context.Context) (Requests, error) {
	raw, err := rc.metrics.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading API server metrics: %w", err)
	}
	out := Requests{}
	for _, name := range []string{"apiserver_flowcontrol_dispatched_requests_total", "apiserver_flowcontrol_rejected_requests_total"} {
		for _, s := range promtext.Parse(raw, name) {
			if kind, ok := rc.kinds[s.Labels["flow_schema"]]; ok {
				out[kind] += s.Value
			}
		}
	}
	return out, nil
}

// Since returns the requests made after before.
func (r Requests) Since(before Requests) Requests {
	out := Requests{}
	for k, v := range r {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// ByVerb sums the requests per verb.
func (r Requests) ByVerb() map[string]int {
	out := map[string]int{}
	for k, v := range r {
		out[k.Verb] += int(v)
	}
	return out
}

// Writes returns the requests that change state, leaving out those on the
// resources listed in exclude (e.g. "leases.coordination.k8s.io").
func (r Requests) Writes(exclude ...string) Requests {
	skip := map[string]bool{}
	for _, e := range exclude {
		skip[e] = true
	}
	out := Requests{}
	for k, v := range r {
		if writeVerbs[k.Verb] && !skip[k.Resource] {
			out[k] = v
		}
	}
	return out
}

// Only returns the requests on the resources listed.
func (r Requests) Only(resources ...string) Requests {
	out := Requests{}
	for k, v := range r {
		if slices.Contains(resources, k.Resource) {
			out[k] = v
		}
	}
	return out
}

// Total sums the requests.
func (r Requests) Total() int {
	n := 0.0
	for _, v := range r {
		n += v
	}
	return int(n)
}

// String lists the counts as "verb resource=n", sorted.
func (r Requests) String() string {
	if len(r) == 0 {
		return "none"
	}
	keys := make([]RequestKind, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, int(r[k])))
	}
	return strings.Join(parts, ", ")
}

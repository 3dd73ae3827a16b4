package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// checkImage refuses spec.image when the operator's allow-list does not
// name it. It is reported through the CephVersionSupported condition, which
// every part of the operator requires before it starts or changes a daemon.
func (r *CephClusterReconciler) checkImage(s *clusterScope) bool {
	err := r.ImagePolicy.Check(s.cluster.Spec.Image)
	if err == nil {
		return true
	}
	s.observed.version = versionCheck{status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonImageNotAllowed,
		message: err.Error() + ". No monitor, manager, OSD or discovery agent is started or changed with it: set spec.image to an allowed image, or ask the operator's administrator to allow it"}
	s.observed.mon.blocked = s.observed.version.message
	s.observed.mon.blockedReason = cephv1alpha1.ReasonImageNotAllowed
	return false
}

// podRejection is why admission refuses the cluster's node pods.
type podRejection struct {
	reason  string
	message string
}

// podCheck is the last pod admission check of one cluster.
type podCheck struct {
	// hash is the desired hash of the DaemonSet whose template was checked.
	hash string
	at   time.Time
	// rejected is nil when the pod was admitted.
	rejected *podRejection
	// failed is true when the check could not be made.
	failed bool
}

// How long a pod admission check stands. Namespace labels and admission
// configuration are not watched (that would take a cluster-wide watch of
// Namespaces), so a rejection is checked again soon, to notice the fix,
// and an admission now and then, to notice a new restriction.
var (
	podRecheckRejected = 30 * time.Second
	podRecheckAdmitted = 10 * time.Minute
)

// podChecks remembers the pod admission checks per cluster.
type podChecks struct {
	mu sync.Mutex
	m  map[types.NamespacedName]podCheck
}

func (p *podChecks) get(key types.NamespacedName) (podCheck, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.m[key]
	return c, ok
}

func (p *podChecks) set(key types.NamespacedName, c podCheck) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[types.NamespacedName]podCheck{}
	}
	p.m[key] = c
}

func (p *podChecks) forget(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
}

// +kubebuilder:rbac:groups="",namespace=ceph-operator-system,resources=pods,verbs=create

// checkPodAdmission asks the API server, with a dry-run create, whether a
// pod of the discovery DaemonSet would be admitted in the cluster's
// namespace. The DaemonSet itself is admitted either way (Pod Security only
// warns about workload objects), and its pods are then refused one by one
// where nobody looks; every node pod of the cluster (prepare Jobs, OSDs,
// monitors) needs the same privileges, so this one check names the cause
// for all of them instead of the cluster waiting forever.
// hash identifies the DaemonSet's desired state, so a changed template is
// checked at once.
func (r *CephClusterReconciler) checkPodAdmission(ctx context.Context, s *clusterScope, ds *appsv1.DaemonSet, hash string) {
	key := client.ObjectKeyFromObject(s.cluster)
	if last, ok := r.podChecks.get(key); ok && last.hash == hash {
		recheck := podRecheckAdmitted
		if last.rejected != nil || last.failed {
			recheck = podRecheckRejected
		}
		if s.observed.now.Sub(last.at) < recheck {
			s.observed.podRejected = last.rejected
			return
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ds.Name + "-admission-check",
			Namespace:   ds.Namespace,
			Labels:      ds.Spec.Template.Labels,
			Annotations: ds.Spec.Template.Annotations,
		},
		Spec: *ds.Spec.Template.Spec.DeepCopy(),
	}
	err := r.Client.Create(ctx, pod, client.DryRunAll)
	rejected, err := classifyPodAdmission(s.cluster, err)
	if err != nil {
		// The check could not be made (the operator may not create pods,
		// the API server is unavailable): say nothing rather than
		// something wrong, and try again a little later, not on every
		// reconcile.
		ctrl.LoggerFrom(ctx).Error(err, "Checking whether the node pods would be admitted")
		r.podChecks.set(key, podCheck{hash: hash, at: s.observed.now, failed: true})
		return
	}
	r.podChecks.set(key, podCheck{hash: hash, at: s.observed.now, rejected: rejected})
	s.observed.podRejected = rejected
}

// classifyPodAdmission turns the result of the dry-run create into the
// cause to report, or into an error when it says nothing about the pod.
func classifyPodAdmission(cluster *cephv1alpha1.CephCluster, err error) (*podRejection, error) {
	if err == nil || apierrors.IsAlreadyExists(err) {
		return nil, nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "cannot create resource"):
		// RBAC refuses the operator itself, not the pod.
		return nil, err
	case strings.Contains(msg, "PodSecurity"):
		return &podRejection{cephv1alpha1.ReasonPodSecurityRejected, fmt.Sprintf(
			"Pod Security admission refuses the node pods in namespace %s, so no discovery agent, OSD or monitor can start. "+
				"They need privileged mode, the host's PID and network namespaces and host paths to reach the disks. "+
				"Allow privileged pods in this namespace: kubectl label namespace %s pod-security.kubernetes.io/enforce=privileged --overwrite. The API server said: %s",
			cluster.Namespace, cluster.Namespace, msg)}, nil
	case strings.Contains(msg, "security context constraint"):
		return &podRejection{cephv1alpha1.ReasonPodSecurityRejected, fmt.Sprintf(
			"No SecurityContextConstraint admits the node pods in namespace %s, so no discovery agent, OSD or monitor can start. "+
				"Grant the privileged SCC to the agent's service account: oc adm policy add-scc-to-user privileged -z %s -n %s. The API server said: %s",
			cluster.Namespace, resources.AgentServiceAccountName(cluster), cluster.Namespace, msg)}, nil
	default:
		return &podRejection{cephv1alpha1.ReasonPodAdmissionRejected, fmt.Sprintf(
			"Admission refuses the node pods in namespace %s, so no discovery agent, OSD or monitor can start. The API server said: %s",
			cluster.Namespace, msg)}, nil
	}
}

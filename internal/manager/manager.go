// Package manager assembles the operator's controller-runtime manager: the
// scheme, an informer cache limited to the operator's own objects, leader
// election, probes, secured metrics and the reconcilers.
package manager

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	"github.com/operator-framework/operator-lib/conditions"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/controllers"
	"github.com/ceph-operator/ceph-operator/internal/imagepolicy"
	clustermetrics "github.com/ceph-operator/ceph-operator/internal/metrics"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// DefaultOperatorImage is the operator image of this release, the last
// fallback when neither --operator-image nor OperatorImageEnv nor
// LegacyOperatorImageEnv names one: the deployment manifests and the CSV
// always set OperatorImageEnv to the manager's own image.
const DefaultOperatorImage = "quay.io/ceph-operator/ceph-operator:v0.1.0"

// OperatorImageEnv names the operator's own image. The RELATED_IMAGE_
// prefix makes OLM list it in the CSV's relatedImages, so digest pinning
// and mirroring for disconnected clusters cover it.
const OperatorImageEnv = "RELATED_IMAGE_OPERATOR"

// LegacyOperatorImageEnv is read when OperatorImageEnv is unset.
const LegacyOperatorImageEnv = "OPERATOR_IMAGE"

// LeaderElectionID is the name of the Lease replicas compete for.
const LeaderElectionID = "ceph-operator.ceph.cephoperator.io"

// Options configure the manager; every field has a command-line flag.
type Options struct {
	// MetricsAddr is where metrics are served ("0" disables them).
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS, for authenticated and
	// authorised callers only.
	SecureMetrics bool
	// ProbeAddr is where /healthz and /readyz are served ("0" disables).
	ProbeAddr string
	// PprofAddr is where Go's /debug/pprof profiles are served; empty or
	// "0" (the default) disables them. Meant for profiling on loopback.
	PprofAddr string
	// LeaderElect turns on leader election, so that only one replica
	// reconciles at a time, and fences every write on the Lease (see
	// Fence): a replica that lost the Lease without noticing yet (it was
	// frozen) writes nothing.
	LeaderElect bool
	// LeaderElectionNamespace is where the Lease lives; empty means the
	// namespace the operator runs in.
	LeaderElectionNamespace string
	// LeaseDuration is how long followers wait before taking over a lease
	// that is not renewed.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps trying to renew before it
	// gives up leadership.
	RenewDeadline time.Duration
	// RetryPeriod is how often candidates try to acquire or renew.
	RetryPeriod time.Duration
	// ReleaseOnCancel gives the lease up on a clean shutdown so another
	// replica takes over at once. Only a Lease that, read afresh, still
	// names this replica is released (see GuardRelease).
	ReleaseOnCancel bool
	// WatchNamespaces limits the operator to these namespaces; empty means
	// all namespaces.
	WatchNamespaces []string
	// OperatorImage is the operator's own image; node pods copy the binary
	// from it.
	OperatorImage string
	// CleanupTimeout bounds a confirmed cleanup on deletion
	// (controllers.DefaultCleanupTimeout when 0); tests shorten it.
	CleanupTimeout time.Duration
	// OperatorImageSource says where OperatorImage came from (an
	// environment variable, the default, or the flag), for the log.
	OperatorImageSource string
	// ImagePullPolicy applies to the node pods' containers.
	ImagePullPolicy string
	// AllowedImages restricts spec.image of every CephCluster to the
	// images it names: a comma-separated list of repositories
	// ("quay.io/ceph/ceph"), path prefixes ending in "/"
	// ("registry.example.com/ceph/"), exact references
	// ("quay.io/ceph/ceph:v19.2.3", "quay.io/ceph/ceph@sha256:...") or
	// digests ("@sha256:..."). Empty (the default) allows every image.
	AllowedImages string
	// ManageAdmissionPolicy makes the operator apply, when it becomes the
	// leader, the ValidatingAdmissionPolicy that lets a node's agent write
	// only its own node's DiskInventory.
	ManageAdmissionPolicy bool
	// Logger is the manager's logger; zero means controller-runtime's
	// global logger (set by the command's --zap flags).
	Logger logr.Logger
	// ConditionFactory finds the OperatorCondition; nil means OLM's
	// in-cluster conventions. Tests point it at their own object.
	ConditionFactory conditions.Factory
	// SkipControllerNameValidation lets tests run several managers in one
	// process; controller-runtime otherwise refuses a second controller of
	// the same name.
	SkipControllerNameValidation bool
}

// DefaultOptions returns the options used when no flag is given.
func DefaultOptions() Options {
	operatorImage, imageSource := defaultOperatorImage()
	return Options{
		MetricsAddr:         ":8443",
		SecureMetrics:       true,
		ProbeAddr:           ":8081",
		LeaderElect:         true,
		LeaseDuration:       15 * time.Second,
		RenewDeadline:       10 * time.Second,
		RetryPeriod:         2 * time.Second,
		ReleaseOnCancel:     true,
		WatchNamespaces:     splitNamespaces(os.Getenv("WATCH_NAMESPACE")),
		OperatorImage:       operatorImage,
		OperatorImageSource: imageSource,
		ImagePullPolicy:     string(corev1.PullIfNotPresent),
		AllowedImages:       os.Getenv("ALLOWED_IMAGES"),

		ManageAdmissionPolicy: true,
	}
}

// BindFlags registers the options' flags on fs.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "Address of the metrics endpoint; \"0\" disables it.")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", o.SecureMetrics, "Serve metrics over HTTPS to authenticated, authorised callers only.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", o.PprofAddr, "Address of Go's /debug/pprof profiles (default off); keep it on loopback.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader on a Lease so only one replica reconciles.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader election Lease (default: the operator's namespace).")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", o.LeaseDuration, "How long followers wait before taking over an unrenewed lease.")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", o.RenewDeadline, "How long the leader retries renewing before giving up leadership.")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", o.RetryPeriod, "How often candidates try to acquire or renew the lease.")
	fs.BoolVar(&o.ReleaseOnCancel, "leader-election-release-on-cancel", o.ReleaseOnCancel, "Release the lease on clean shutdown so failover is immediate.")
	fs.Func("operator-image", "The operator's own image, from which node pods copy the binary (default: $"+OperatorImageEnv+", else $"+LegacyOperatorImageEnv+", else "+DefaultOperatorImage+").", func(s string) error {
		o.OperatorImage, o.OperatorImageSource = s, "--operator-image"
		return nil
	})
	fs.StringVar(&o.ImagePullPolicy, "image-pull-policy", o.ImagePullPolicy, "Pull policy of the node pods' containers: Always, IfNotPresent or Never.")
	fs.StringVar(&o.AllowedImages, "allowed-images", o.AllowedImages, "Comma-separated images a CephCluster's spec.image may name: repositories (quay.io/ceph/ceph), "+
		"path prefixes ending in / (registry.example.com/ceph/), exact references (repo:tag, repo@sha256:...) or digests (@sha256:...). "+
		"Empty (the default, or $ALLOWED_IMAGES) allows every image; whoever can write a CephCluster then chooses what runs privileged on the nodes.")
	fs.BoolVar(&o.ManageAdmissionPolicy, "manage-admission-policy", o.ManageAdmissionPolicy, "Apply the ValidatingAdmissionPolicy "+InventoryPolicyName+
		" that lets a node's agent write only its own node's DiskInventory (needs Kubernetes 1.30 or later).")
	fs.Func("watch-namespaces", "Comma-separated namespaces to watch (default: $WATCH_NAMESPACE, or all namespaces when empty).", func(s string) error {
		o.WatchNamespaces = splitNamespaces(s)
		return nil
	})
}

// Validate reports options that cannot work together.
func (o Options) Validate() error {
	switch corev1.PullPolicy(o.ImagePullPolicy) {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("--image-pull-policy %q: want Always, IfNotPresent or Never", o.ImagePullPolicy)
	}
	if o.OperatorImage == "" {
		return fmt.Errorf("--operator-image is empty")
	}
	if _, err := imagepolicy.Parse(o.AllowedImages); err != nil {
		return fmt.Errorf("--allowed-images: %w", err)
	}
	if o.LeaderElect {
		if o.RenewDeadline >= o.LeaseDuration {
			return fmt.Errorf("--leader-election-renew-deadline (%s) must be shorter than --leader-election-lease-duration (%s)", o.RenewDeadline, o.LeaseDuration)
		}
		if o.RetryPeriod <= 0 || o.RetryPeriod >= o.RenewDeadline {
			return fmt.Errorf("--leader-election-retry-period (%s) must be positive and shorter than --leader-election-renew-deadline (%s)", o.RetryPeriod, o.RenewDeadline)
		}
	}
	return nil
}

// NewScheme returns a scheme with the built-in kinds and this operator's.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding built-in kinds to scheme: %w", err)
	}
	if err := cephv1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding ceph.cephoperator.io kinds to scheme: %w", err)
	}
	if err := apiv2.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding OLM's OperatorCondition to scheme: %w", err)
	}
	return s, nil
}

// New builds the manager with every reconciler registered. It does not start
// it.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}

	metrics := metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: o.SecureMetrics}
	if o.SecureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	// With leader election, the operator creates the Lease lock itself, so
	// that it knows its identity: every write then goes through a fence
	// that checks the Lease still names it (see Fence), and releasing the
	// lock cannot empty a successor's Lease (see GuardRelease).
	var leader *leaderLock
	var lock resourcelock.Interface
	var newClient client.NewClientFunc
	if o.LeaderElect {
		log := o.Logger
		if log.GetSink() == nil {
			log = ctrl.Log
		}
		if leader, err = newLeaderLock(cfg, o, log); err != nil {
			return nil, err
		}
		lock = leader.lock
		// The manager's client sends its writes through a fenced
		// transport too, right before they leave the process.
		fenced := rest.CopyConfig(cfg)
		fenced.Wrap(leader.fence.WrapTransport)
		httpClient, err := rest.HTTPClientFor(fenced)
		if err != nil {
			return nil, fmt.Errorf("creating the fenced HTTP client: %w", err)
		}
		newClient = func(config *rest.Config, co client.Options) (client.Client, error) {
			co.HTTPClient = httpClient
			return client.New(config, co)
		}
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        o.Logger,
		Cache:                         cacheOptions(o.WatchNamespaces),
		Metrics:                       metrics,
		HealthProbeBindAddress:        o.ProbeAddr,
		PprofBindAddress:              o.PprofAddr,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: o.ReleaseOnCancel,
		// nil without leader election: the manager then makes none.
		LeaderElectionResourceLockInterface: lock,
		// nil without leader election: the manager's default client.
		NewClient:     newClient,
		LeaseDuration: &o.LeaseDuration,
		RenewDeadline: &o.RenewDeadline,
		RetryPeriod:   &o.RetryPeriod,
		Controller:    config.Controller{SkipNameValidation: &o.SkipControllerNameValidation},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	// The client every reconciler and runnable writes through: fenced by
	// the Lease when there is leader election. Without it (one replica, or
	// --leader-elect=false) there is nothing to fence on.
	base := mgr.GetClient()
	if leader != nil {
		leader.recordEvents(mgr)
		base = leader.fence.Wrap(base)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding readiness check: %w", err)
	}

	images := resources.Images{Operator: o.OperatorImage, PullPolicy: corev1.PullPolicy(o.ImagePullPolicy)}
	if o.OperatorImageSource == "default" {
		mgr.GetLogger().Info("Node pods copy the operator binary from the compiled-in default image; the deployment should set "+OperatorImageEnv+" to the operator's own image",
			"image", o.OperatorImage)
	} else {
		mgr.GetLogger().Info("Node pods copy the operator binary from this image", "image", o.OperatorImage, "from", o.OperatorImageSource)
	}
	allowed, err := imagepolicy.Parse(o.AllowedImages)
	if err != nil {
		return nil, fmt.Errorf("--allowed-images: %w", err)
	}
	if allowed.AllowAll() {
		mgr.GetLogger().Info("Every spec.image is allowed; set --allowed-images to restrict what CephClusters may run on the nodes")
	} else {
		mgr.GetLogger().Info("CephClusters may only run allowed images", "allowedImages", allowed.String())
	}
	if o.ManageAdmissionPolicy {
		if err := mgr.Add(inventoryPolicyRunnable{client: base, reader: mgr.GetAPIReader(), log: mgr.GetLogger()}); err != nil {
			return nil, fmt.Errorf("adding the admission policy runnable: %w", err)
		}
	}
	// Every write of a workload goes through the allow-list, whichever
	// reconciler makes it; the operator's own image (node pods copy its
	// binary) is always allowed.
	writer := allowed.Guard(base, o.OperatorImage)
	recorder := mgr.GetEventRecorder("ceph-operator")
	if err := (&controllers.CephClusterReconciler{
		Client:         writer,
		APIReader:      mgr.GetAPIReader(),
		Recorder:       recorder,
		Images:         images,
		ImagePolicy:    allowed,
		CleanupTimeout: o.CleanupTimeout,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up CephCluster reconciler: %w", err)
	}
	if err := (&controllers.OSDReconciler{
		Client:    writer,
		APIReader: mgr.GetAPIReader(),
		Recorder:  recorder,
		Images:    images,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up OSD reconciler: %w", err)
	}
	if err := setupUpgradeable(mgr, o, leader); err != nil {
		return nil, err
	}
	// The cluster series (docs/metrics.md), computed at each scrape from
	// the cache the reconcilers read, served by the leader.
	metricsLog := mgr.GetLogger().WithName("metrics")
	if err := mgr.Add(&clustermetrics.Registration{
		Collector: &clustermetrics.Collector{Reader: mgr.GetCache(), Log: metricsLog},
		Registry:  crmetrics.Registry,
		Log:       metricsLog,
	}); err != nil {
		return nil, fmt.Errorf("adding the cluster metrics: %w", err)
	}
	return mgr, nil
}

// cacheOptions limits the informer cache: to the watched namespaces, and for
// the built-in kinds the operator creates, to objects carrying its
// managed-by label, so memory does not grow with unrelated Secrets,
// ConfigMaps or workloads in the cluster.
func cacheOptions(namespaces []string) cache.Options {
	ownedLabel := labels.SelectorFromSet(labels.Set{resources.ManagedByLabel: resources.ManagedByValue})
	owned := cache.ByObject{Label: ownedLabel}
	// The reconcilers read OSD Deployments and prepare Jobs only for their
	// labels, annotations and status (desired state is compared by hash),
	// so their pod templates are not kept: at twelve thousand OSDs they
	// would be most of the cache.
	withoutTemplate := cache.ByObject{Label: ownedLabel, Transform: DropPodTemplate}
	opts := cache.Options{
		// Managed fields are never read by the operator.
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                owned,
			&corev1.ConfigMap{}:             owned,
			&appsv1.DaemonSet{}:             owned,
			&appsv1.Deployment{}:            withoutTemplate,
			&batchv1.Job{}:                  withoutTemplate,
			&corev1.ServiceAccount{}:        owned,
			&rbacv1.Role{}:                  owned,
			&rbacv1.RoleBinding{}:           owned,
			&policyv1.PodDisruptionBudget{}: owned,
			// The monitors' pods (a few per cluster), whose init
			// containers' termination messages the operator reads, and
			// the OSDs' pods, whose restarts tell an OSD that keeps
			// crashing: one cached list instead of a request per OSD
			// that is not ready, which at thousands of new OSDs held up
			// every reconcile. OSD pods are trimmed (TrimOSDPod).
			&corev1.Pod{}: {Label: podSelector(), Transform: TrimOSDPod},
			// Every Node of the cluster is cached; only what selection,
			// monitor placement and failover read is kept (TrimNode).
			&corev1.Node{}: {Transform: TrimNode},
		},
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// DropPodTemplate empties the pod template and the selector of cached
// Deployments and Jobs, and their managed fields. Tests that watch the operator's many objects
// use it too.
func DropPodTemplate(obj any) (any, error) {
	if o, ok := obj.(client.Object); ok {
		o.SetManagedFields(nil)
	}
	// Their label selectors are never read either (a sixth of the cached
	// OSD Deployments' size).
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Template = corev1.PodTemplateSpec{}
		o.Spec.Selector = nil
	case *batchv1.Job:
		o.Spec.Template = corev1.PodTemplateSpec{}
		o.Spec.Selector = nil
	}
	return obj, nil
}

// podSelector selects the pods the operator caches: its monitors' and its
// OSDs'.
func podSelector() labels.Selector {
	managed, err := labels.NewRequirement(resources.ManagedByLabel, selection.Equals, []string{resources.ManagedByValue})
	if err != nil {
		panic(err)
	}
	component, err := labels.NewRequirement(resources.ComponentLabel, selection.In, []string{resources.ComponentMon, resources.ComponentOSD})
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*managed, *component)
}

// TrimOSDPod keeps of a cached OSD pod only what tells whether its daemon
// keeps crashing: its metadata (without managed fields and annotations)
// and its containers' statuses. Monitor pods are kept whole but for their
// managed fields. At twelve thousand OSDs a whole pod each would be most
// of the cache.
func TrimOSDPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	pod.SetManagedFields(nil)
	if pod.Labels[resources.ComponentLabel] != resources.ComponentOSD {
		return pod, nil
	}
	pod.Annotations = nil
	pod.Spec = corev1.PodSpec{}
	pod.Status = corev1.PodStatus{Phase: pod.Status.Phase, ContainerStatuses: pod.Status.ContainerStatuses}
	for i := range pod.Status.ContainerStatuses {
		cs := &pod.Status.ContainerStatuses[i]
		cs.Image, cs.ImageID, cs.ContainerID = "", "", ""
		cs.VolumeMounts, cs.Resources, cs.AllocatedResources, cs.User = nil, nil, nil, nil
	}
	return pod, nil
}

// TrimNode keeps of a cached Node what the reconcilers read: its metadata
// (labels for selection and topology, without managed fields and
// annotations), its taints and its Ready condition's history
// (status.conditions) and addresses (a monitor's InternalIP). A real
// node's status lists every image it holds and its volumes; at a thousand
// nodes they would be a large part of the cache.
func TrimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	n.SetManagedFields(nil)
	n.Annotations = nil
	n.Spec = corev1.NodeSpec{Taints: n.Spec.Taints, Unschedulable: n.Spec.Unschedulable}
	n.Status = corev1.NodeStatus{Conditions: n.Status.Conditions, Addresses: n.Status.Addresses}
	return n, nil
}

// splitNamespaces parses a comma-separated namespace list.
func splitNamespaces(s string) []string {
	var out []string
	for _, ns := range strings.Split(s, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// defaultOperatorImage returns the operator image named by
// OperatorImageEnv, else by LegacyOperatorImageEnv, else
// DefaultOperatorImage, and where it came from.
func defaultOperatorImage() (image, source string) {
	for _, key := range []string{OperatorImageEnv, LegacyOperatorImageEnv} {
		if v := os.Getenv(key); v != "" {
			return v, "$" + key
		}
	}
	return DefaultOperatorImage, "default"
}

// setupUpgradeable manages the OperatorCondition's Upgradeable when OLM runs
// the operator (OLM sets OPERATOR_CONDITION_NAME); elsewhere it does nothing.
func setupUpgradeable(mgr ctrl.Manager, o Options, leader *leaderLock) error {
	factory := o.ConditionFactory
	if factory == nil {
		// An uncached client: the manager's cached one would list and
		// watch every OperatorCondition, which the operator's RBAC (get,
		// update and patch of its own) rightly does not allow.
		direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
		if err != nil {
			return fmt.Errorf("creating a client for the operator condition: %w", err)
		}
		if leader != nil {
			direct = leader.fence.Wrap(direct)
		}
		factory = conditions.InClusterFactory{Client: direct}
	}
	if _, err := factory.GetNamespacedName(); err != nil {
		mgr.GetLogger().Info("Not running under OLM; the Upgradeable operator condition is not managed", "reason", err.Error())
		return nil
	}
	cond, err := factory.NewCondition(apiv2.ConditionType(apiv2.Upgradeable))
	if err != nil {
		return fmt.Errorf("creating the Upgradeable operator condition: %w", err)
	}
	c := mgr.GetClient()
	if leader != nil {
		c = leader.fence.Wrap(c)
	}
	if err := (&controllers.UpgradeableReconciler{Client: c, Condition: cond}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up Upgradeable reconciler: %w", err)
	}
	return nil
}

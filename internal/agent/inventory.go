package agent

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
)

// Inventory is the agent's view of its node's DiskInventory object: it
// watches the object, reads it and publishes its status. It is an interface
// so the agent's loop can be tested without an API server.
type Inventory interface {
	// Watch blocks until ctx is done. Once the object's current state is
	// known (present or absent), and after every later change to it, it
	// sends on changed without blocking (a pending signal is enough). It
	// returns an error only if watching cannot start or fails for good.
	Watch(ctx context.Context, changed chan<- struct{}) error
	// Current returns the object as last observed by Watch, or nil if it
	// does not exist. It must only be called after Watch signalled once.
	Current(ctx context.Context) (*cephv1alpha1.DiskInventory, error)
	// ApplyStatus publishes status as the whole of what the agent owns in
	// the object's status.
	ApplyStatus(ctx context.Context, status cephv1alpha1.DiskInventoryStatus) error
}

// KubeInventory is the real Inventory. It watches the single DiskInventory
// named after the node through a controller-runtime cache restricted by
// field selector to that name, so the agent's RBAC and memory cover one
// object, and it writes with server-side apply on the status subresource.
type KubeInventory struct {
	key    types.NamespacedName
	cache  cache.Cache
	writer client.Client
}

// NewKubeInventory connects to the API server described by cfg and prepares
// a watch on the DiskInventory namespace/name. Nothing is contacted until
// Watch runs, apart from API discovery.
func NewKubeInventory(cfg *rest.Config, scheme *runtime.Scheme, namespace, name string) (*KubeInventory, error) {
	return (&Connection{Config: cfg, Scheme: scheme}).Inventory(namespace, name)
}

// Connection is how KubeInventories reach the API server. A real agent, one
// per node, makes one for its single inventory (NewKubeInventory). A
// simulated fleet running the agents of many nodes in one process shares one
// (NewSharedConnection), so that its agents share a connection pool, one API
// discovery and one client-side rate limiter instead of a thousand of each.
type Connection struct {
	// Config describes the API server; its RateLimiter, when set, is
	// shared by every client made from it.
	Config *rest.Config
	// Scheme knows the DiskInventory kind.
	Scheme *runtime.Scheme
	// HTTPClient and Mapper are shared when set; nil means each inventory
	// makes its own.
	HTTPClient *http.Client
	Mapper     meta.RESTMapper
}

// NewSharedConnection returns a Connection whose inventories share one HTTP
// client, one REST mapper and one token-bucket rate limiter of qps requests
// per second with bursts of burst (cfg's own RateLimiter if it has one).
func NewSharedConnection(cfg *rest.Config, qps float32, burst int) (*Connection, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.RateLimiter == nil {
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	}
	scheme := runtime.NewScheme()
	if err := cephv1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering the DiskInventory kind: %w", err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the shared HTTP client: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("creating the shared REST mapper: %w", err)
	}
	return &Connection{Config: cfg, Scheme: scheme, HTTPClient: hc, Mapper: mapper}, nil
}

// Inventory prepares a watch on the DiskInventory namespace/name over the
// connection. Nothing is contacted until Watch runs, apart from API
// discovery when the connection has no shared mapper.
func (c *Connection) Inventory(namespace, name string) (*KubeInventory, error) {
	ca, err := cache.New(c.Config, cache.Options{
		HTTPClient:        c.HTTPClient,
		Mapper:            c.Mapper,
		Scheme:            c.Scheme,
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&cephv1alpha1.DiskInventory{}: {Field: fields.OneTermEqualSelector("metadata.name", name)},
		},
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating cache for DiskInventory %s/%s: %w", namespace, name, err)
	}
	w, err := client.New(c.Config, client.Options{HTTPClient: c.HTTPClient, Mapper: c.Mapper, Scheme: c.Scheme})
	if err != nil {
		return nil, fmt.Errorf("creating client for DiskInventory %s/%s: %w", namespace, name, err)
	}
	return &KubeInventory{key: types.NamespacedName{Namespace: namespace, Name: name}, cache: ca, writer: w}, nil
}

// Watch implements Inventory.
func (k *KubeInventory) Watch(ctx context.Context, changed chan<- struct{}) error {
	inf, err := k.cache.GetInformer(ctx, &cephv1alpha1.DiskInventory{})
	if err != nil {
		return fmt.Errorf("watching DiskInventory %s: %w", k.key, err)
	}
	kick := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { kick() },
		UpdateFunc: func(any, any) { kick() },
		DeleteFunc: func(any) { kick() },
	})
	if err != nil {
		return fmt.Errorf("watching DiskInventory %s: %w", k.key, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- k.cache.Start(ctx) }()
	if !k.cache.WaitForCacheSync(ctx) {
		// Either ctx ended (Start then returns nil) or the cache failed
		// to start; Start's result tells which.
		if err := <-errc; err != nil {
			return fmt.Errorf("watching DiskInventory %s: %w", k.key, err)
		}
		return nil
	}
	kick()
	if err := <-errc; err != nil {
		return fmt.Errorf("watching DiskInventory %s: %w", k.key, err)
	}
	return nil
}

// Current implements Inventory.
func (k *KubeInventory) Current(ctx context.Context) (*cephv1alpha1.DiskInventory, error) {
	var inv cephv1alpha1.DiskInventory
	if err := k.cache.Get(ctx, k.key, &inv); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading DiskInventory %s: %w", k.key, err)
	}
	return &inv, nil
}

// ApplyStatus implements Inventory. The applied object carries only the
// identifying fields and the status, so the agent's field manager owns
// exactly the status fields it sets, and fields it stops setting (a disk
// that disappeared) are removed by the server.
func (k *KubeInventory) ApplyStatus(ctx context.Context, status cephv1alpha1.DiskInventoryStatus) error {
	inv := &cephv1alpha1.DiskInventory{
		ObjectMeta: metav1.ObjectMeta{Name: k.key.Name, Namespace: k.key.Namespace},
		Status:     status,
	}
	return apply.Status(ctx, k.writer, inv, apply.Agent)
}

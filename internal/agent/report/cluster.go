package report

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
)

// Cluster is the reporter's view of its CephCluster. It is an interface so
// the loop can be tested without an API server.
type Cluster interface {
	// CephStatus returns the object's status.ceph as the API server holds
	// it, or exists=false when there is no such CephCluster.
	CephStatus(ctx context.Context) (st *cephv1alpha1.CephStatus, exists bool, err error)
	// ApplyCephStatus publishes st as the whole of what the reporter owns
	// in the object: status.ceph.
	ApplyCephStatus(ctx context.Context, st cephv1alpha1.CephStatus) error
}

// KubeCluster is the real Cluster. It reads the object with a plain GET on
// every pass rather than through a watch: one small read per interval is
// cheap, needs only `get` in the reporter's Role, and always compares with
// what the server holds (after a restart, or if the object was re-created).
type KubeCluster struct {
	key    types.NamespacedName
	client client.Client
}

// NewKubeCluster returns the CephCluster namespace/name on the API server
// described by cfg.
func NewKubeCluster(cfg *rest.Config, namespace, name string) (*KubeCluster, error) {
	scheme := runtime.NewScheme()
	if err := cephv1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering the CephCluster kind: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating client for CephCluster %s/%s: %w", namespace, name, err)
	}
	return &KubeCluster{key: types.NamespacedName{Namespace: namespace, Name: name}, client: c}, nil
}

// CephStatus implements Cluster.
func (k *KubeCluster) CephStatus(ctx context.Context) (*cephv1alpha1.CephStatus, bool, error) {
	var cc cephv1alpha1.CephCluster
	if err := k.client.Get(ctx, k.key, &cc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading CephCluster %s: %w", k.key, err)
	}
	return cc.Status.Ceph, true, nil
}

// ApplyCephStatus implements Cluster. The applied object carries only the
// identifying fields and status.ceph, so the reporter's field manager owns
// exactly the fields it sets: one it stops setting (checks that cleared,
// figures dropped after a failed `ceph status`) is removed by the server,
// and nothing another writer owns in the status is touched.
func (k *KubeCluster) ApplyCephStatus(ctx context.Context, st cephv1alpha1.CephStatus) error {
	cc := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: k.key.Name, Namespace: k.key.Namespace},
		Status:     cephv1alpha1.CephClusterStatus{Ceph: &st},
	}
	return apply.Status(ctx, k.client, cc, apply.Reporter)
}

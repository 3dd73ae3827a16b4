package simnode

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// reportInterval is how often the harness plays the reporter: often enough
// for tests, rarely enough not to load the API server at a thousand nodes.
const reportInterval = time.Second

// report plays the health reporter (its own Deployment on a real node;
// kwok's pods run no program): for every CephCluster whose manager is available it publishes,
// under the real reporter's field manager, a healthy status.ceph with the
// FSID and the OSDs whose Deployment is available counted as up and in. It writes only when that changes, as the
// real reporter does, and
// re-publishes an unchanged status as often as the real one.
func (h *Harness) report(ctx context.Context) error {
	var clusters cephv1alpha1.CephClusterList
	if err := h.Client.List(ctx, &clusters); err != nil {
		return err
	}
	for i := range clusters.Items {
		c := &clusters.Items[i]
		if c.Status.FSID == "" || !meta.IsStatusConditionTrue(c.Status.Conditions, cephv1alpha1.ConditionManagerReady) {
			continue
		}
		var osds appsv1.DeploymentList
		reader := h.Cache
		if reader == nil {
			reader = h.Client
		}
		if err := reader.List(ctx, &osds, client.InNamespace(c.Namespace),
			client.MatchingLabels{resources.ClusterLabel: c.Name, resources.ComponentLabel: resources.ComponentOSD}); err != nil {
			return err
		}
		var up int32
		for _, d := range osds.Items {
			if d.Status.AvailableReplicas > 0 {
				up++
			}
		}
		want := cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthOK,
			FSID:   c.Status.FSID,
			OSDs:   cephv1alpha1.CephOSDStatus{Total: int32(len(osds.Items)), Up: up, In: up},
		}
		if cur := c.Status.Ceph; cur != nil {
			got := *cur
			got.LastChecked = nil
			if equality.Semantic.DeepEqual(got, want) && cur.LastChecked != nil &&
				time.Since(cur.LastChecked.Time) < ceph.DefaultStatusRefresh {
				continue
			}
		}
		now := metav1.Now()
		want.LastChecked = &now
		desired := &cephv1alpha1.CephCluster{
			ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace},
			Status:     cephv1alpha1.CephClusterStatus{Ceph: &want},
		}
		if err := apply.Status(ctx, h.Client, desired, apply.Reporter); err != nil {
			return fmt.Errorf("publishing status.ceph of %s/%s: %w", c.Namespace, c.Name, err)
		}
	}
	return nil
}

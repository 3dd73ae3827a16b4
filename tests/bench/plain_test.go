package bench

import (
	"context"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// plainTimes are how long a plain client took.
type plainTimes struct {
	jobs, deployments time.Duration
	// deploymentsServerCPU is the CPU time etcd and the API server used
	// while the Deployments were created.
	deploymentsServerCPU time.Duration
}

// plainWrites creates, with a client sending as many writes at once as the
// operator does (apply.Parallelism), the objects the operator creates: one prepare Job per
// node with all its disks, then one OSD Deployment per disk, built by the
// project's builders and owned by a CephCluster in namespace ns (which the
// operator does not watch).
func plainWrites(ctx context.Context, c client.Client, ns string, nodes []string, disks int) (plainTimes, error) {
	var times plainTimes
	cluster := benchCluster(ns, len(nodes))
	if err := c.Create(ctx, cluster); err != nil {
		return times, fmt.Errorf("creating baseline CephCluster: %w", err)
	}
	images := resources.Images{Operator: "ceph-operator:bench", PullPolicy: corev1.PullIfNotPresent}
	// The length of a real FSID (a UUID).
	fsid := "00000000-0000-4000-8000-000000000000"
	devicesOf := func(node string) []osdplan.Device {
		out := make([]osdplan.Device, disks)
		for i := range out {
			name := world.DiskName(i)
			id := world.DiskID(node, name)
			out[i] = osdplan.Device{Name: name, ID: id, Path: id}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return out
	}

	// The same number of writes in flight as the operator allows itself.
	parallel := func(n int, fn func(i int) error) error {
		g := new(errgroup.Group)
		g.SetLimit(apply.Parallelism)
		for i := 0; i < n; i++ {
			g.Go(func() error { return fn(i) })
		}
		return g.Wait()
	}

	start := time.Now()
	err := parallel(len(nodes), func(i int) error {
		job, err := resources.PrepareJob(cluster, images, ceph.KeyTypeAES, fsid, osdplan.JobSpec{Node: nodes[i], Devices: devicesOf(nodes[i])})
		if err != nil {
			return err
		}
		if err := controllerutil.SetControllerReference(cluster, job, c.Scheme()); err != nil {
			return err
		}
		if err := c.Create(ctx, job); err != nil {
			return fmt.Errorf("creating baseline Job: %w", err)
		}
		return nil
	})
	if err != nil {
		return times, err
	}
	times.jobs = time.Since(start)

	type osd struct {
		node string
		dev  osdplan.Device
	}
	var osds []osd
	for _, node := range nodes {
		for _, dev := range devicesOf(node) {
			osds = append(osds, osd{node, dev})
		}
	}
	start = time.Now()
	server0, err := serverCPU()
	if err != nil {
		return times, err
	}
	err = parallel(len(osds), func(i int) error {
		d := resources.OSDDeployment(cluster, images, fsid, osdplan.OSDSpec{ID: int32(i), Node: osds[i].node, Device: osds[i].dev})
		// The operator annotates what it applies; the baseline too, so the
		// objects are the same size.
		d.Annotations[apply.HashAnnotation] = "0123456789abcdef"
		if err := controllerutil.SetControllerReference(cluster, d, c.Scheme()); err != nil {
			return err
		}
		if err := c.Create(ctx, d); err != nil {
			return fmt.Errorf("creating baseline Deployment: %w", err)
		}
		return nil
	})
	if err != nil {
		return times, err
	}
	times.deployments = time.Since(start)
	server1, err := serverCPU()
	if err != nil {
		return times, err
	}
	times.deploymentsServerCPU = server1 - server0
	return times, nil
}

// benchCluster is the benchmark's CephCluster: every node, every disk, and
// as many nodes preparing at once as there are (at most the API's 1000).
func benchCluster(ns string, nodes int) *cephv1alpha1.CephCluster {
	return &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ceph"},
		Spec: cephv1alpha1.CephClusterSpec{
			Image: "quay.io/ceph/ceph:v18.2.4",
			Storage: cephv1alpha1.StorageSpec{
				UseAllNodes: true, UseAllDevices: true,
				MaxNodesPreparing: int32(min(max(nodes, 1), 1000)),
			},
		},
	}
}

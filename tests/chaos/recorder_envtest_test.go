package chaos

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// TestRecorderCountsSecondWriters proves that the chaos test can fail: on a
// real API server, a prepare Job created for a disk while an earlier one for
// it is present, and a second OSD Deployment for a disk or for an OSD id
// (also one deleted and created again under the same name) are counted,
// and a Job for a disk whose earlier Job is gone counts as preparing it
// again, not as an overlap.
func TestRecorderCountsSecondWriters(t *testing.T) {
	env := testenv.Start(t)
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if err := rec.start(ctx, env.Config, namespace); err != nil {
		t.Fatal(err)
	}

	create := func(obj client.Object) {
		t.Helper()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(obj client.Object) {
		t.Helper()
		// No garbage collector runs here: delete in the background, or
		// the orphan finalizer would keep the object.
		if err := c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatal(err)
		}
	}
	// Each step waits until the watch has delivered it, so the order the
	// recorder sees is the order of the API server.
	seen := func(jobs, deployments, liveJobs int) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, func() error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			live := 0
			for _, j := range rec.jobs {
				if j.gone.IsZero() {
					live++
				}
			}
			if len(rec.jobs) != jobs || len(rec.deployments) != deployments || live != liveJobs {
				return fmt.Errorf("recorded %d Jobs (%d present) and %d Deployments, want %d (%d) and %d",
					len(rec.jobs), live, len(rec.deployments), jobs, liveJobs, deployments)
			}
			return nil
		})
	}

	a := prepareJob("a", "node-1", "disk-1", "disk-2")
	create(a)
	seen(1, 0, 1)
	create(prepareJob("b", "node-1", "disk-2", "disk-3"))
	seen(2, 0, 2)
	remove(a)
	seen(2, 0, 1)
	// disk-1's Job is gone: a new one for it is no overlap, but a second
	// writer sent to a disk whose first Job ended without failing (a
	// by-id link names the disk on whichever node it is plugged into).
	create(prepareJob("c", "node-2", "disk-1"))
	seen(3, 0, 2)
	// A kernel name or a by-path link names a device of its node only
	// (a disk seen before udev made its links): the same one on two
	// nodes is two disks, neither prepared again.
	create(prepareJob("d", "node-3", "/dev/sde"))
	seen(4, 0, 3)
	create(prepareJob("e", "node-4", "/dev/sde"))
	seen(5, 0, 4)

	osd0 := osdDeployment("osd-0", "0", "disk-1")
	create(osd0)
	create(osdDeployment("osd-1", "1", "disk-1"))
	seen(5, 2, 4)
	remove(osd0)
	testenv.Eventually(t, 30*time.Second, func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(osd0), &appsv1.Deployment{})
		if err == nil {
			return fmt.Errorf("osd-0 still there")
		}
		return client.IgnoreNotFound(err)
	})
	create(osdDeployment("osd-0", "0", "disk-4"))
	seen(5, 3, 4)

	v := rec.verdict()
	got := map[string][]string{
		"second Job while present": firstWords(v.secondJobWhilePresent),
		"prepared again":           firstWords(v.preparedAgain),
		"in several Jobs":          firstWords(v.inSeveralJobs),
		"nodes with two Jobs":      firstWords(v.nodesWithTwoJobs),
		"second OSD by disk":       firstWords(v.secondDeploymentByDisk),
		"second OSD by id":         firstWords(v.secondDeploymentByID),
	}
	want := map[string][]string{
		"second Job while present": {"/dev/disk/by-id/disk-2:"},
		"prepared again":           {"/dev/disk/by-id/disk-1:"},
		"in several Jobs":          {"/dev/disk/by-id/disk-1:", "/dev/disk/by-id/disk-2:"},
		"nodes with two Jobs":      {"node-1:"},
		"second OSD by disk":       {"disk disk-1:"},
		"second OSD by id":         {"OSD 0:"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("verdict %v\nwant    %v", got, want)
	}
	if jobs, disks := rec.inFlight(); jobs != 4 || disks != 5 {
		t.Errorf("in flight: %d Jobs, %d disks; want 4 and 5", jobs, disks)
	}
	if n := rec.osdDisks(); n != 2 {
		t.Errorf("%d disks with an OSD Deployment present, want 2 (disk-1, disk-4)", n)
	}
}

// firstWords keeps what names the disk, node or OSD of each entry.
func firstWords(entries []string) []string {
	var out []string
	for _, e := range entries {
		f := strings.Fields(e)
		if strings.HasPrefix(e, "disk ") || strings.HasPrefix(e, "OSD ") {
			out = append(out, f[0]+" "+f[1])
		} else {
			out = append(out, f[0])
		}
	}
	return out
}

// prepareJob is a prepare Job as the recorder sees one: its label, node and
// devices annotation.
func prepareJob(name, node string, disks ...string) *batchv1.Job {
	devices := make([]string, len(disks))
	for i, d := range disks {
		id := d
		if !strings.HasPrefix(d, "/dev/") {
			id = "/dev/disk/by-id/" + d
		}
		devices[i] = fmt.Sprintf(`{"id":%q,"path":%q}`, id, id)
	}
	labels := map[string]string{resources.ComponentLabel: resources.ComponentPrepare}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels, Annotations: map[string]string{
			resources.NodeAnnotation: node, resources.DevicesAnnotation: "[" + strings.Join(devices, ",") + "]",
		}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "prepare", Image: "prepare"}}},
		}},
	}
}

// osdDeployment is an OSD Deployment as the recorder sees one.
func osdDeployment(name, id, disk string) *appsv1.Deployment {
	labels := map[string]string{resources.ComponentLabel: resources.ComponentOSD, resources.OSDIDLabel: id}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels,
			Annotations: map[string]string{resources.DeviceIDAnnotation: disk}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "osd", Image: "osd"}}},
			},
		},
	}
}

package world

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// runCleanupLocked finishes a cleanup Job the way its two containers
// would: agent wipe on its disks (wipeLocked: only a disk whose verdict is
// the named OSD is wiped) and agent remove-host-dir, which the World
// records. A node held by HoldCleanup never finishes its Job. w.mu is held.
func (w *World) runCleanupLocked(ctx context.Context, job *batchv1.Job) {
	node := job.Annotations[resources.NodeAnnotation]
	if w.holdCleanup[node] {
		return
	}
	// The operator deletes the daemons before it starts a cleanup Job.
	var deployments appsv1.DeploymentList
	if err := w.client.List(ctx, &deployments, client.InNamespace(job.Namespace)); err == nil {
		for _, d := range deployments.Items {
			w.cleanupBeside = append(w.cleanupBeside, job.Name+" ran beside Deployment "+d.Name)
		}
	}
	var containers []terminated
	if len(job.Spec.Template.Spec.Containers) > 1 {
		results, exit, err := w.wipeLocked(job)
		if err != nil {
			return
		}
		for _, r := range results {
			if r.Outcome != "Wiped" {
				w.cleanupRefused = append(w.cleanupRefused, r.Path+": "+r.Message)
			}
		}
		msg, _ := json.Marshal(results)
		containers = append(containers, terminated{resources.WipeContainer, exit, string(msg)})
	}
	dir := job.Annotations[resources.HostDirAnnotation]
	w.hostDirsRemoved[node] = append(w.hostDirsRemoved[node], dir)
	msg, _ := json.Marshal([]resources.PrepareResult{{Path: dir, Outcome: "Removed", Message: dir + " removed"}})
	containers = append(containers, terminated{resources.HostDirContainer, ExitPrepared, string(msg)})
	exit := int32(ExitPrepared)
	for _, c := range containers {
		if c.exit != ExitPrepared {
			exit = c.exit
		}
	}
	if err := w.finishContainers(ctx, job, containers); err != nil {
		if ctx.Err() != nil {
			return
		}
		panic(err)
	}
	job.Status = jobStatus(exit, w.interimJobConditions())
	if err := w.client.Status().Update(ctx, job); err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		panic(fmt.Sprintf("completing Job %s: %v", job.Name, err))
	}
}

// HoldCleanup keeps the cleanup Jobs of node from ever finishing (or lets
// them finish again).
func (w *World) HoldCleanup(node string, hold bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.holdCleanup[node] = hold
}

// HostDirsRemoved is the host directories the cleanup Jobs of node removed.
func (w *World) HostDirsRemoved(node string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.hostDirsRemoved[node]...)
}

// jobFSID is the --cluster-fsid a Job's first container is given.
func jobFSID(job *batchv1.Job) string {
	for _, c := range job.Spec.Template.Spec.Containers {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--cluster-fsid="); ok {
				return v
			}
		}
	}
	return ""
}

// CleanupBesideDaemons lists the cleanup Jobs that ran while a Deployment
// of their namespace still existed.
func (w *World) CleanupBesideDaemons() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.cleanupBeside...)
}

// CleanupRefused lists the disks cleanup Jobs named that agent wipe would
// refuse (not the named OSD of the cluster): the operator should never
// name one.
func (w *World) CleanupRefused() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.cleanupRefused...)
}

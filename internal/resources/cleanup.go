package resources

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/hostdir"
)

const (
	// ComponentCleanup labels the Jobs of a confirmed cleanup.
	ComponentCleanup = "cleanup"
	// JobKindCleanup is the JobKindAnnotation value of a cleanup Job.
	JobKindCleanup = "cleanup"
	// HostDirContainer is the container of a cleanup Job's pod that runs
	// agent remove-host-dir; its termination message holds the result.
	HostDirContainer = "remove-host-dir"
	// HostDirAnnotation on a cleanup Job is the host directory it removes.
	HostDirAnnotation = "ceph.cephoperator.io/host-dir"
	// clusterDirMount is where a cleanup Job mounts the cluster's host
	// directory.
	clusterDirMount = "/cluster-dir"
)

// CleanupJobName is the cleanup Job of node in cluster.
func CleanupJobName(cluster *cephv1alpha1.CephCluster, node string) string {
	return fmt.Sprintf("%s-cleanup-%s", cluster.Name, NodeHash(node))
}

// ClusterHostDir is the host directory of everything this CephCluster's
// name keeps on a host, <dataDirHostPath>/<namespace>/<name>; the daemons'
// state is below it, per FSID (see dataDir). It refuses a dataDirHostPath,
// namespace or name that would make it anything else.
func ClusterHostDir(cluster *cephv1alpha1.CephCluster) (string, error) {
	base := cluster.Spec.DataDirHostPath
	if base == "" {
		base = "/var/lib/ceph-operator"
	}
	if !path.IsAbs(base) || path.Clean(base) != base || base == "/" {
		return "", fmt.Errorf("spec.dataDirHostPath %q is not an absolute path in normal form other than /", base)
	}
	for _, s := range []string{cluster.Namespace, cluster.Name} {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
			return "", fmt.Errorf("namespace %q and name %q do not make a host directory", cluster.Namespace, cluster.Name)
		}
	}
	return path.Join(base, cluster.Namespace, cluster.Name), nil
}

// CleanupJob builds the Job of a confirmed cleanup on node: its "wipe"
// container (when targets is not empty) is the one of WipeJob, agent wipe
// with targets, each of which must carry ExpectedOSD, so that the agent
// wipes a disk only when its BlueStore label carries exactly this cluster's
// FSID and that OSD id; its "remove-host-dir" container removes
// <dataDirHostPath>/<namespace>/<cluster>/<fsid>, the cluster's state on the
// host (the monitor stores), with agent remove-host-dir, mounting only
// <dataDirHostPath>/<namespace>/<cluster>. The two run side by side; the Job
// succeeds when both did.
func CleanupJob(cluster *cephv1alpha1.CephCluster, images Images, fsid, node string, targets []WipeTarget) (*batchv1.Job, error) {
	if !hostdir.ValidFSID(fsid) {
		return nil, fmt.Errorf("cleanup Job for node %s: FSID %q is not a canonical UUID", node, fsid)
	}
	for _, t := range targets {
		if t.ExpectedOSD == nil || t.Confirmation != "" || !strings.EqualFold(t.ExpectedOSD.FSID, fsid) {
			return nil, fmt.Errorf("cleanup Job for node %s: device %s is not named as an OSD of cluster %s", node, t.Path, fsid)
		}
	}
	dir, err := ClusterHostDir(cluster)
	if err != nil {
		return nil, fmt.Errorf("cleanup Job for node %s: %w", node, err)
	}
	list, err := json.Marshal(targets)
	if err != nil {
		return nil, fmt.Errorf("encoding devices of cleanup Job: %w", err)
	}
	var pod corev1.PodSpec
	deadline := int64((prepareDeadlineMargin) / time.Second)
	if len(targets) > 0 {
		wj, err := wipeJob(cluster, images, fsid, node, targets)
		if err != nil {
			return nil, err
		}
		pod = wj.Spec.Template.Spec
		deadline = *wj.Spec.ActiveDeadlineSeconds
	} else {
		noToken := false
		pod = corev1.PodSpec{
			ServiceAccountName:           AgentServiceAccountName(cluster),
			AutomountServiceAccountToken: &noToken,
			Affinity:                     pinnedTo(node),
			Tolerations:                  cluster.Spec.Placement.Tolerations,
			InitContainers:               []corev1.Container{copyBinaryContainer(images)},
			RestartPolicy:                corev1.RestartPolicyNever,
			Volumes:                      []corev1.Volume{{Name: operatorBinVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		}
	}
	// DirectoryOrCreate: a node that never ran a monitor has no such
	// directory, and the pod must start there all the same (the agent
	// then finds nothing to remove).
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	pod.Volumes = append(pod.Volumes, corev1.Volume{
		Name:         "cluster-dir",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirOrCreate}},
	})
	pod.Containers = append(pod.Containers, corev1.Container{
		Name:                     HostDirContainer,
		Image:                    cluster.Spec.Image,
		ImagePullPolicy:          images.PullPolicy,
		Command:                  []string{AgentBinary},
		Args:                     []string{"agent", "remove-host-dir", "--dir=" + clusterDirMount, "--fsid=" + fsid},
		SecurityContext:          privileged(),
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts: []corev1.VolumeMount{
			{Name: operatorBinVolume, MountPath: agentBinDir, ReadOnly: true},
			{Name: "cluster-dir", MountPath: clusterDirMount},
		},
	})
	labels := Labels(cluster, ComponentCleanup)
	labels[NodeHashLabel] = NodeHash(node)
	backoff := int32(0)
	ttl := int32(prepareTTLSeconds)
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: objectMeta(cluster, CleanupJobName(cluster, node), labels, map[string]string{
			NodeAnnotation: node, DevicesAnnotation: string(list), JobKindAnnotation: JobKindCleanup,
			HostDirAnnotation: path.Join(dir, fsid),
		}),
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			ActiveDeadlineSeconds:   &deadline,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       pod,
			},
		},
	}, nil
}

package resources

import (
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
)

// Labels and annotations of OSD Jobs.
const (
	// ComponentOSDJob is the component of the Jobs that run one Ceph
	// command on one OSD (a decommission step).
	ComponentOSDJob = "osd-job"
	// OSDStepAnnotation names the step an OSD Job runs.
	OSDStepAnnotation = "ceph.cephoperator.io/osd-step"
	// OSDIDsAnnotation lists the OSDs (comma-separated) an ok-to-stop
	// Job asks about.
	OSDIDsAnnotation = "ceph.cephoperator.io/osd-ids"
	// OSDJobContainer is the OSD Job's container, whose termination
	// message is agent osd's result.
	OSDJobContainer = "osd"
)

// Bounds of an OSD Job: one command, retried by the planner.
const (
	osdJobDeadlineSeconds = int64(300)
	osdJobTTLSeconds      = int32(24 * 3600)
)

// OSDJob builds the Job that runs one decommission step on one OSD, or one
// rollout step (the noout flag, ok-to-stop for spec.OSDIDs): `agent osd`
// as client.admin (out, purge, destroy and the flags change the OSD map),
// in a pod of adminJobPod.
func OSDJob(cluster *cephv1alpha1.CephCluster, images Images, keys ceph.KeyType, user cephv1alpha1.CephUser, spec osdplan.OSDJobSpec) *batchv1.Job {
	labels := Labels(cluster, ComponentOSDJob)
	annotations := map[string]string{OSDStepAnnotation: string(spec.Step)}
	domain := cluster.Spec.DefaultFailureDomain
	if domain == "" {
		domain = cephv1alpha1.FailureDomainHost
	}
	args := []string{"agent", "osd", "--step=" + string(spec.Step)}
	if osdplan.IsRolloutStep(spec.Step) {
		if len(spec.OSDIDs) > 0 {
			ids := make([]string, len(spec.OSDIDs))
			for i, id := range spec.OSDIDs {
				ids[i] = strconv.Itoa(int(id))
			}
			annotations[OSDIDsAnnotation] = strings.Join(ids, ",")
			args = append(args, "--osd-ids="+annotations[OSDIDsAnnotation])
		}
	} else {
		id := strconv.Itoa(int(spec.OSDID))
		labels[OSDIDLabel] = id
		args = append(args, "--osd-id="+id, "--failure-domain="+domain)
	}
	args = append(args, "--keyring=/etc/ceph-admin/keyring", "--ceph-id=admin")
	pod := adminJobPod(cluster, images, keys, user, OSDJobContainer, args)
	return adminJob(cluster, osdplan.OSDJobName(cluster.Name, spec.OSDID, spec.Step), labels, annotations, osdJobDeadlineSeconds, pod)
}

// adminJob wraps pod in a Job of one attempt, kept a day after it ended
// (the operator deletes it once it recorded the outcome).
func adminJob(cluster *cephv1alpha1.CephCluster, name string, labels, annotations map[string]string, deadline int64, pod corev1.PodSpec) *batchv1.Job {
	backoff := int32(0)
	ttl := osdJobTTLSeconds
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: objectMeta(cluster, name, labels, annotations),
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			ActiveDeadlineSeconds:   &deadline,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       pod,
			},
		},
	}
}

// adminJobPod is the pod of a Job that runs `agent` (args) in the Ceph
// image as client.admin, whose keyring of type keys is mounted at
// /etc/ceph-admin/keyring, with the cluster's ceph.conf: on the pod
// network on any node the placement allows, unprivileged, with no API
// token, as user (the image's ceph user); its result is the termination
// message of container name.
func adminJobPod(cluster *cephv1alpha1.CephCluster, images Images, keys ceph.KeyType, user cephv1alpha1.CephUser, name string, args []string) corev1.PodSpec {
	if user.UID < 1 || user.GID < 1 {
		user = cephv1alpha1.CephUser{UID: CephUID, GID: CephUID}
	}
	return corev1.PodSpec{
		ServiceAccountName:           AgentServiceAccountName(cluster),
		AutomountServiceAccountToken: ptrTo(false),
		RestartPolicy:                corev1.RestartPolicyNever,
		Affinity:                     nodeAffinity(cluster),
		Tolerations:                  cluster.Spec.Placement.Tolerations,
		InitContainers:               []corev1.Container{copyBinaryContainer(images)},
		Containers: []corev1.Container{{
			Name:                     name,
			Image:                    cluster.Spec.Image,
			ImagePullPolicy:          images.PullPolicy,
			Command:                  []string{AgentBinary},
			Args:                     args,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptrTo(true),
				RunAsUser:                ptrTo(user.UID),
				RunAsGroup:               ptrTo(user.GID),
				AllowPrivilegeEscalation: ptrTo(false),
				ReadOnlyRootFilesystem:   ptrTo(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: operatorBinVolume, MountPath: agentBinDir, ReadOnly: true},
				{Name: "admin-keyring", MountPath: "/etc/ceph-admin", ReadOnly: true},
				{Name: "ceph-conf", MountPath: "/etc/ceph", ReadOnly: true},
				{Name: "tmp", MountPath: "/tmp"},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: operatorBinVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			cephConfVolume(cluster),
			{Name: "admin-keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName:  IdentitySecretName(cluster),
				Items:       []corev1.KeyToPath{{Key: SecretKey(SecretKeyAdminKeyring, keys), Path: "keyring"}},
				DefaultMode: ptrTo(int32(0o444)),
			}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
}

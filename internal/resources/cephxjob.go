package resources

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/cephxop"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// Labels and annotations of cephx Jobs.
const (
	// ComponentCephxJob is the component of the Jobs that run a step of
	// the migration of the cluster's cephx keys to AES-256.
	ComponentCephxJob = "cephx-job"
	// CephxStepAnnotation names the step a cephx Job runs.
	CephxStepAnnotation = "ceph.cephoperator.io/cephx-step"
	// CephxJobContainer is the cephx Job's container, whose termination
	// message is agent cephx's result.
	CephxJobContainer = "cephx"
)

// cephxJobDeadlineSeconds bounds a cephx Job: a finish run replaces at
// most CephxMaxOSDsPerJob OSD keys, three commands each.
const cephxJobDeadlineSeconds = int64(600)

// CephxMaxOSDsPerJob is how many OSD keys one finish Job replaces at most.
const CephxMaxOSDsPerJob = 64

// cephxNewKeys are the identity Secret's AES-256 keyrings a cephx Job
// mounts, by the file name agent cephx reads (--new-keys).
var cephxNewKeys = []struct{ secretKey, file string }{
	{SecretKeyMonKeyring, "mon.keyring"},
	{SecretKeyReporterKeyring, "reporter.keyring"},
	{SecretKeyBootstrapOSDKeyring, "bootstrap-osd.keyring"},
	{SecretKeyMgrKeyring, "mgr.keyring"},
	{SecretKeyAdminKeyring, "admin.keyring"},
}

// CephxJobName is the name of the cephx Job of step.
func CephxJobName(cluster *cephv1alpha1.CephCluster, step string) string {
	return cluster.Name + "-cephx-" + step
}

// CephxJob builds the Job that runs one step of the migration of the
// cluster's cephx keys to AES-256 (`agent cephx --step`, import or
// finish) as client.admin with its keyring of type keys, the type the
// cluster's pods mount now. Besides it gets the identity Secret's AES-256
// keyrings of the entities the operator holds, at /etc/ceph-new.
// replaceRotating asks finish to replace the rotating service keys at the
// end.
func CephxJob(cluster *cephv1alpha1.CephCluster, images Images, keys ceph.KeyType, user cephv1alpha1.CephUser, step string, replaceRotating bool) *batchv1.Job {
	labels := Labels(cluster, ComponentCephxJob)
	args := []string{"agent", "cephx", "--step=" + step, "--keyring=/etc/ceph-admin/keyring", "--new-keys=/etc/ceph-new"}
	if replaceRotating {
		args = append(args, "--replace-rotating-keys")
	}
	if step == cephxop.StepFinish {
		args = append(args, "--max-osds="+strconv.Itoa(CephxMaxOSDsPerJob))
	}
	pod := adminJobPod(cluster, images, keys, user, CephxJobContainer, args)
	items := make([]corev1.KeyToPath, len(cephxNewKeys))
	for i, k := range cephxNewKeys {
		items[i] = corev1.KeyToPath{Key: SecretKey(k.secretKey, ceph.KeyTypeAES256K), Path: k.file}
	}
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "new-keyrings", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName:  IdentitySecretName(cluster),
		Items:       items,
		DefaultMode: ptrTo(int32(0o444)),
	}}})
	c := &pod.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "new-keyrings", MountPath: "/etc/ceph-new", ReadOnly: true})
	return adminJob(cluster, CephxJobName(cluster, step), labels, map[string]string{CephxStepAnnotation: step}, cephxJobDeadlineSeconds, pod)
}

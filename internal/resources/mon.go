package resources

import (
	"path"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	cephv1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
)

// Components of the cluster's daemons.
const (
	ComponentMon = "mon"
	ComponentMgr = "mgr"
	// MonNameLabel is the name of the monitor a Deployment runs.
	MonNameLabel = "ceph.cephoperator.io/mon"
	// ConfigMapKeyMons is the placement key of the monitors ConfigMap.
	ConfigMapKeyMons = "mons.json"
)

// monInitScript creates a monitor's store on first start: the initial
// monitor map from the recorded placement (passed as "--addv name addrvec"
// arguments), then `ceph-mon --mkfs` with the keyring that holds every key
// the operator generated. A store that exists is never touched again.
const monInitScript = `set -eu
data="/var/lib/ceph/mon/ceph-${MON_NAME}"
if [ -e "${data}/kv_backend" ]; then
  echo "monitor ${MON_NAME}: store exists in ${data}"
  exit 0
fi
tmp="$(mktemp -d)"
monmaptool --create --fsid "${FSID}" "$@" "${tmp}/monmap"
ceph-mon --mkfs -i "${MON_NAME}" --monmap "${tmp}/monmap" --keyring /etc/ceph-keys/keyring --mon-data "${data}"
chown -R ceph:ceph "${data}"
rm -rf "${tmp}"
echo "monitor ${MON_NAME}: created its store in ${data}"
`

// MonEndpointsName is the ConfigMap recording where the monitors run.
func MonEndpointsName(cluster *cephv1.CephCluster) string {
	return cluster.Name + "-mon-endpoints"
}

// MonEndpoints builds the ConfigMap that records the monitors' placement. It
// is written once, when the cluster is bootstrapped, and is immutable: a
// monitor's address is part of the cluster's monitor map.
func MonEndpoints(cluster *cephv1.CephCluster, placement string) *corev1.ConfigMap {
	immutable := true
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      MonEndpointsName(cluster),
			Namespace: cluster.Namespace,
			Labels:    Labels(cluster, ComponentMon),
		},
		Immutable: &immutable,
		Data:      map[string]string{ConfigMapKeyMons: placement},
	}
}

// MonName is the Deployment of monitor mon.
func MonName(cluster *cephv1.CephCluster, mon string) string {
	return cluster.Name + "-mon-" + mon
}

// MgrName is the Deployment of the manager.
func MgrName(cluster *cephv1.CephCluster) string {
	return cluster.Name + "-mgr"
}

// dataDir is the host directory of one daemon's state: per namespace,
// cluster name and FSID, so two clusters sharing nodes never share state,
// and a cluster created again under the same name (a new FSID) never starts
// from the store of the one deleted before, whose data is kept.
func dataDir(cluster *cephv1.CephCluster, fsid, daemon string) string {
	base := cluster.Spec.DataDirHostPath
	if base == "" {
		base = "/var/lib/ceph-operator"
	}
	return path.Join(base, cluster.Namespace, cluster.Name, fsid, daemon)
}

// MonDeployment builds the Deployment of monitor mons[i]: pinned to its node,
// on the host network so that its address is the node's, with its store in
// a host directory. An init container creates the store on first start.
func MonDeployment(cluster *cephv1.CephCluster, images Images, fsid string, mons []monplan.Mon, i int) *appsv1.Deployment {
	mon := mons[i]
	labels := Labels(cluster, ComponentMon)
	labels[MonNameLabel] = mon.Name
	labels[NodeHashLabel] = NodeHash(mon.Node)
	selector := map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentMon, MonNameLabel: mon.Name}
	replicas := int32(1)
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	data := "/var/lib/ceph/mon/ceph-" + mon.Name

	initArgs := []string{"-c", monInitScript, "mon-init"}
	for _, m := range mons {
		initArgs = append(initArgs, "--addv", m.Name, m.AddrVec())
	}
	env := []corev1.EnvVar{{Name: "MON_NAME", Value: mon.Name}, {Name: "FSID", Value: fsid}}
	mounts := []corev1.VolumeMount{
		{Name: "mon-data", MountPath: data},
		{Name: "ceph-conf", MountPath: "/etc/ceph", ReadOnly: true},
	}

	pod := corev1.PodSpec{
		// The monitor's address is the node's: clients and daemons find it
		// through the monitor map, which holds addresses, not names.
		HostNetwork:                  true,
		DNSPolicy:                    corev1.DNSClusterFirstWithHostNet,
		AutomountServiceAccountToken: ptrTo(false),
		Affinity:                     pinnedTo(mon.Node),
		Tolerations:                  cluster.Spec.Placement.Tolerations,
		InitContainers: []corev1.Container{{
			Name:            "init-mon",
			Image:           cluster.Spec.Image,
			ImagePullPolicy: images.PullPolicy,
			Command:         []string{"/bin/sh"},
			Args:            initArgs,
			Env:             env,
			VolumeMounts: append(mounts, corev1.VolumeMount{
				Name: "mon-initial-keyring", MountPath: "/etc/ceph-keys", ReadOnly: true,
			}),
		}},
		Containers: []corev1.Container{{
			Name:            "mon",
			Image:           cluster.Spec.Image,
			ImagePullPolicy: images.PullPolicy,
			Command:         []string{"ceph-mon"},
			Args: []string{"--foreground", "--id", mon.Name, "--mon-data", data,
				"--setuser", "ceph", "--setgroup", "ceph"},
			Ports: []corev1.ContainerPort{
				{Name: "msgr2", ContainerPort: mon.PortV2, Protocol: corev1.ProtocolTCP},
				{Name: "msgr1", ContainerPort: mon.PortV1, Protocol: corev1.ProtocolTCP},
			},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{
					Host: mon.IP, Port: intstr.FromInt32(mon.PortV2),
				}},
				PeriodSeconds: 5,
			},
			Resources:    cluster.Spec.Resources.Mon,
			VolumeMounts: mounts,
		}},
		Volumes: []corev1.Volume{
			{Name: "mon-data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: dataDir(cluster, fsid, "mon-"+mon.Name), Type: &dirOrCreate,
			}}},
			cephConfVolume(cluster),
			{Name: "mon-initial-keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: IdentitySecretName(cluster),
				Items:      []corev1.KeyToPath{{Key: SecretKeyMonInitialKeyring, Path: "keyring"}},
			}}},
		},
	}

	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        MonName(cluster, mon.Name),
			Namespace:   cluster.Namespace,
			Labels:      labels,
			Annotations: map[string]string{NodeAnnotation: mon.Node},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			// Two pods of one monitor must never run at once on one store.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
}

// ReporterName is the ServiceAccount, Role and RoleBinding of the health
// reporter.
func ReporterName(cluster *cephv1.CephCluster) string {
	return cluster.Name + "-ceph-reporter"
}

// MgrDeployment builds the Deployment of the manager, with the health
// reporter next to it: `agent report` runs `ceph status` with a key that may
// only read the monitors' state (client.reporter) and applies the result to
// the CephCluster's status.ceph.
func MgrDeployment(cluster *cephv1.CephCluster, images Images) *appsv1.Deployment {
	labels := Labels(cluster, ComponentMgr)
	selector := map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentMgr}
	replicas := int32(1)
	data := "/var/lib/ceph/mgr/ceph-" + MgrID

	pod := corev1.PodSpec{
		ServiceAccountName: ReporterName(cluster),
		Affinity:           nodeAffinity(cluster),
		Tolerations:        cluster.Spec.Placement.Tolerations,
		InitContainers:     []corev1.Container{copyBinaryContainer(images)},
		Containers: []corev1.Container{
			{
				Name:            "mgr",
				Image:           cluster.Spec.Image,
				ImagePullPolicy: images.PullPolicy,
				Command:         []string{"ceph-mgr"},
				Args:            []string{"--foreground", "--id", MgrID, "--setuser", "ceph", "--setgroup", "ceph"},
				Resources:       cluster.Spec.Resources.Mgr,
				VolumeMounts: []corev1.VolumeMount{
					{Name: "mgr-keyring", MountPath: data, ReadOnly: true},
					{Name: "ceph-conf", MountPath: "/etc/ceph", ReadOnly: true},
				},
			},
			{
				Name:            "reporter",
				Image:           cluster.Spec.Image,
				ImagePullPolicy: images.PullPolicy,
				Command:         []string{AgentBinary},
				Args: []string{"agent", "report",
					"--namespace=$(POD_NAMESPACE)",
					"--cluster-name=" + cluster.Name,
					"--keyring=/etc/ceph-reporter/keyring",
					"--ceph-id=" + ReporterID,
				},
				Env: []corev1.EnvVar{
					{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				},
				SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptrTo(true), AllowPrivilegeEscalation: ptrTo(false)},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "operator-bin", MountPath: agentBinDir, ReadOnly: true},
					{Name: "reporter-keyring", MountPath: "/etc/ceph-reporter", ReadOnly: true},
					{Name: "ceph-conf", MountPath: "/etc/ceph", ReadOnly: true},
					// The ceph tool may write temporary files.
					{Name: "reporter-tmp", MountPath: "/tmp"},
				},
			},
		},
		Volumes: []corev1.Volume{
			{Name: "operator-bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			cephConfVolume(cluster),
			{Name: "mgr-keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: IdentitySecretName(cluster),
				Items:      []corev1.KeyToPath{{Key: SecretKeyMgrKeyring, Path: "keyring"}},
			}}},
			{Name: "reporter-keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: IdentitySecretName(cluster),
				Items:      []corev1.KeyToPath{{Key: SecretKeyReporterKeyring, Path: "keyring"}},
			}}},
			{Name: "reporter-tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: MgrName(cluster), Namespace: cluster.Namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
}

// ReporterServiceAccount builds the health reporter's ServiceAccount.
func ReporterServiceAccount(cluster *cephv1.CephCluster) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: ReporterName(cluster), Namespace: cluster.Namespace, Labels: Labels(cluster, ComponentMgr)},
	}
}

// ReporterRole lets the reporter read its CephCluster and apply its status.
func ReporterRole(cluster *cephv1.CephCluster) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: ReporterName(cluster), Namespace: cluster.Namespace, Labels: Labels(cluster, ComponentMgr)},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{cephv1.GroupVersion.Group}, Resources: []string{"cephclusters"}, ResourceNames: []string{cluster.Name}, Verbs: []string{"get"}},
			{APIGroups: []string{cephv1.GroupVersion.Group}, Resources: []string{"cephclusters/status"}, ResourceNames: []string{cluster.Name}, Verbs: []string{"get", "patch"}},
		},
	}
}

// ReporterRoleBinding binds ReporterRole to ReporterServiceAccount.
func ReporterRoleBinding(cluster *cephv1.CephCluster) *rbacv1.RoleBinding {
	name := ReporterName(cluster)
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cluster.Namespace, Labels: Labels(cluster, ComponentMgr)},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: cluster.Namespace}},
	}
}

// cephConfVolume is the cluster's ceph.conf ConfigMap as a volume.
func cephConfVolume(cluster *cephv1.CephCluster) corev1.Volume {
	return corev1.Volume{Name: "ceph-conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(cluster)},
	}}}
}

// pinnedTo is a required node affinity to exactly one node.
func pinnedTo(node string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
				Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		},
	}}
}

func ptrTo[T any](v T) *T { return &v }

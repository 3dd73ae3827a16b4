package resources

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

// Images are the container images the operator runs besides the Ceph image
// chosen by each CephCluster.
type Images struct {
	// Operator is the operator's own image. Its binary is copied into the
	// Ceph image's pods by an init container, so node-side tools match the
	// cluster's Ceph version.
	Operator string
	// PullPolicy applies to every container the operator creates.
	PullPolicy corev1.PullPolicy
}

// Paths inside node pods.
const (
	// agentBinDir is the emptyDir that receives the operator binary.
	agentBinDir = "/opt/ceph-operator/bin"
	// AgentBinary is the operator binary inside node pods.
	AgentBinary = agentBinDir + "/ceph-operator"
)

// ComponentDiscover labels the discovery agents.
const ComponentDiscover = "discover"

// DiscoveryName is the name of the discovery DaemonSet of cluster.
func DiscoveryName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-discover"
}

// AgentServiceAccountName is the ServiceAccount of cluster's node pods:
// discovery, prepare, OSD and monitor pods.
func AgentServiceAccountName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-ceph-agent"
}

// DiscoveryDaemonSet builds the DaemonSet that runs `agent discover` on every
// node of the storage selection. fsid lets the agent tell this cluster's
// OSDs from another cluster's.
func DiscoveryDaemonSet(cluster *cephv1alpha1.CephCluster, images Images, fsid string) *appsv1.DaemonSet {
	labels := Labels(cluster, ComponentDiscover)
	selector := map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentDiscover}
	args := []string{
		"agent", "discover",
		"--node-name=$(NODE_NAME)",
		"--namespace=$(POD_NAMESPACE)",
		"--cluster-fsid=" + fsid,
		// The pod shares the host's PID namespace, so PID 1's mount table is
		// the host's and mounted disks are seen as mounted.
		"--mountinfo=/proc/1/mountinfo",
	}
	if cluster.Spec.Storage.AllowLoopDevices {
		args = append(args, "--allow-loop-devices")
	}
	if ms := cluster.Spec.Storage.Config.MinSize; ms != nil {
		args = append(args, "--min-size-bytes="+strconv.FormatInt(ms.Value(), 10))
	}
	privileged := true
	readOnly := true
	maxUnavailable := intstr.FromString("25%")
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	dir := corev1.HostPathDirectory

	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: objectMeta(cluster, DiscoveryName(cluster), labels, nil),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: AgentServiceAccountName(cluster),
					HostPID:            true,
					Affinity:           nodeAffinity(cluster),
					Tolerations:        cluster.Spec.Placement.Tolerations,
					InitContainers:     []corev1.Container{copyBinaryContainer(images)},
					Containers: []corev1.Container{{
						Name:            "discover",
						Image:           cluster.Spec.Image,
						ImagePullPolicy: images.PullPolicy,
						Command:         []string{AgentBinary},
						Args:            args,
						// /dev is the host's, mounted read-only, so the
						// termination message cannot live in it; the
						// runtime creates this file before the root file
						// system becomes read-only.
						TerminationMessagePath: "/termination-log",
						Env: []corev1.EnvVar{
							{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
							{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
							// Which image the agent's Ceph version report is
							// about: the operator judges spec.image only
							// from reports that name it.
							{Name: "CEPH_IMAGE", Value: cluster.Spec.Image},
						},
						// Reading block devices, their exclusive-open state
						// and the kernel's uevents requires a privileged
						// container; nothing here writes to a device, and the
						// host paths are mounted read-only.
						SecurityContext: &corev1.SecurityContext{
							Privileged:             &privileged,
							ReadOnlyRootFilesystem: &readOnly,
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("10m"),
								corev1.ResourceMemory: resource.MustParse("32Mi"),
							},
							Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: operatorBinVolume, MountPath: agentBinDir, ReadOnly: true},
							{Name: "dev", MountPath: "/dev", ReadOnly: true},
							{Name: "sys", MountPath: "/sys", ReadOnly: true},
							{Name: "udev", MountPath: "/run/udev", ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: operatorBinVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "dev", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/dev", Type: &dir}}},
						{Name: "sys", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/sys", Type: &dir}}},
						// Hosts without a udev daemon have no /run/udev; the
						// agent then probes devices itself.
						{Name: "udev", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/run/udev", Type: &dirOrCreate}}},
					},
				},
			},
		},
	}
}

// copyBinaryContainer copies the operator binary into the shared emptyDir so
// the Ceph image can run it.
func copyBinaryContainer(images Images) corev1.Container {
	nonRoot := false
	readOnly := true
	return corev1.Container{
		Name:            "install-agent",
		Image:           images.Operator,
		ImagePullPolicy: images.PullPolicy,
		Command:         []string{"/ceph-operator", "copy-binary", AgentBinary},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             &nonRoot,
			ReadOnlyRootFilesystem:   &readOnly,
			AllowPrivilegeEscalation: &nonRoot,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: operatorBinVolume, MountPath: agentBinDir}},
	}
}

// nodeAffinity combines the storage selection with placement.nodeAffinity
// and the image's architectures (withArch): with useAllNodes the placement
// alone decides; otherwise the pods are pinned to the listed nodes by name. A node field selector takes a single name, so
// each of the placement's required terms (which are ORed) is repeated once
// per listed node.
func nodeAffinity(cluster *cephv1alpha1.CephCluster) *corev1.Affinity {
	placement := cluster.Spec.Placement.NodeAffinity
	na := &corev1.NodeAffinity{}
	if placement != nil {
		na = placement.DeepCopy()
	}
	if cluster.Spec.Storage.UseAllNodes {
		return &corev1.Affinity{NodeAffinity: withArch(na)}
	}
	base := []corev1.NodeSelectorTerm{{}}
	if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil && len(req.NodeSelectorTerms) > 0 {
		base = req.NodeSelectorTerms
	}
	terms := make([]corev1.NodeSelectorTerm, 0, len(base)*len(cluster.Spec.Storage.Nodes))
	for _, n := range cluster.Spec.Storage.Nodes {
		for _, b := range base {
			term := *b.DeepCopy()
			term.MatchFields = append(term.MatchFields, corev1.NodeSelectorRequirement{
				Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{n.Name},
			})
			terms = append(terms, term)
		}
	}
	na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: terms}
	return &corev1.Affinity{NodeAffinity: withArch(na)}
}

// AgentServiceAccount builds the ServiceAccount of cluster's node pods.
func AgentServiceAccount(cluster *cephv1alpha1.CephCluster) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(cluster, AgentServiceAccountName(cluster), Labels(cluster, "agent"), nil),
	}
}

// AgentRole builds the Role of the node agent: it watches DiskInventories
// and applies only their status.
func AgentRole(cluster *cephv1alpha1.CephCluster) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: objectMeta(cluster, AgentServiceAccountName(cluster), Labels(cluster, "agent"), nil),
		Rules: []rbacv1.PolicyRule{
			// The agent watches its own inventory (list+watch with a name
			// field selector) and applies its status; nothing more.
			{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"diskinventories"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"diskinventories/status"}, Verbs: []string{"patch"}},
			// The discovery, prepare, OSD and monitor pods run under this
			// ServiceAccount and are privileged (host PID or host network,
			// host paths); on OpenShift admission needs this.
			PrivilegedSCCRule(),
		},
	}
}

// PrivilegedSCCRule lets a ServiceAccount's pods be admitted under
// OpenShift's "privileged" SecurityContextConstraints. Other Kubernetes
// distributions have no such resource: the API server stores the rule and
// nothing ever checks it.
func PrivilegedSCCRule() rbacv1.PolicyRule {
	return rbacv1.PolicyRule{
		APIGroups:     []string{"security.openshift.io"},
		Resources:     []string{"securitycontextconstraints"},
		ResourceNames: []string{"privileged"},
		Verbs:         []string{"use"},
	}
}

// AgentRoleBinding binds AgentRole to AgentServiceAccount.
func AgentRoleBinding(cluster *cephv1alpha1.CephCluster) *rbacv1.RoleBinding {
	name := AgentServiceAccountName(cluster)
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(cluster, name, Labels(cluster, "agent"), nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: cluster.Namespace}},
	}
}

// DiskInventory builds the (spec of the) DiskInventory of one node. Its
// status belongs to the node's agent.
func DiskInventory(cluster *cephv1alpha1.CephCluster, node string) *cephv1alpha1.DiskInventory {
	return &cephv1alpha1.DiskInventory{
		TypeMeta:   metav1.TypeMeta{APIVersion: cephv1alpha1.GroupVersion.String(), Kind: "DiskInventory"},
		ObjectMeta: objectMeta(cluster, node, Labels(cluster, "inventory"), nil),
		Spec:       cephv1alpha1.DiskInventorySpec{NodeName: node},
	}
}

package resources

import (
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
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

// MonStoreMissingPrefix starts the termination message of a monitor's init
// container that refused to create a store: the operator turns it into the
// MonitorStoreMissing condition.
const MonStoreMissingPrefix = "MonitorStoreMissing:"

// MonStoreMissingExitCode is the init container's exit code then.
const MonStoreMissingExitCode = 42

// MonInitContainer is the name of the monitor's init container.
const MonInitContainer = "init-mon"

// MonJoinTimeoutSeconds bounds the init container's wait for a quorum that
// can hand it the monitor map.
const MonJoinTimeoutSeconds = 30

// monInitScript creates a monitor's store when it has none, and never
// creates a second cluster:
//
//   - A store that exists (kv_backend written by --mkfs) is never touched.
//   - Before the cluster's bootstrap is recorded (BOOTSTRAP_DIR/fsid holds
//     this FSID once a majority of the monitors ran with their stores, see
//     MonBootstrap), the store is made from the initial monitor map of the
//     recorded placement ("--addv name addrvec" arguments) and the keyring
//     that holds every key the operator generated.
//   - After bootstrap, a missing store may only be rebuilt by joining a
//     quorum that still holds the cluster's maps: the monitor map is
//     fetched from it (`ceph mon getmap`, as client.admin), checked to be
//     this cluster's and to list this monitor, and the store is made from
//     it; the monitor then syncs everything else from the quorum. When no
//     quorum answers (this was the only monitor, or a majority lost their
//     stores) nothing is created: a store made from scratch would be an
//     empty cluster under the old FSID, whose OSDs it does not know. The
//     container fails with a message starting with MonStoreMissingPrefix
//     and exit code MonStoreMissingExitCode, and the operator reports it.
//   - A monitor added to replace another (MON_REPLACES names that one,
//     see monplan.Failover) is not in the initial map: it makes its store
//     from the quorum's map, as above, after removing the monitor it
//     replaces from that map if it is still listed (`ceph mon remove`,
//     so the map keeps a majority of running monitors when it joins);
//     then it may be missing from the map, and joins the quorum.
//   - The initial monitor map of a cluster with AES-128 cephx keys allows
//     them besides AES-256 ones on releases that know both (20 on), whose
//     monitor maps otherwise allow only AES-256. A cluster with AES-256
//     keys (CEPHX_KEY_TYPE=aes256k, see CephxRecord) keeps the release's
//     default, AES-256 only.
//
// The environment: MON_NAME, FSID, MON_REPLACES (optional), MON_DATA (the store in the container),
// HOST_PATH and NODE_NAME (where the store lives, for messages),
// BOOTSTRAP_DIR, KEYRING, JOIN_TIMEOUT, TERMINATION_LOG and, unless the
// keys are AES-128 ones, CEPHX_KEY_TYPE.
const monInitScript = `set -eu
data="${MON_DATA}"
if [ -e "${data}/kv_backend" ]; then
  echo "monitor ${MON_NAME}: store exists in ${HOST_PATH} on ${NODE_NAME}"
  exit 0
fi
refuse() {
  msg="MonitorStoreMissing: monitor ${MON_NAME} on node ${NODE_NAME} has no store in ${HOST_PATH}: $*"
  echo "${msg}" >&2
  printf '%s' "${msg}" >"${TERMINATION_LOG}" || true
  exit 42
}
bootstrapped=""
if [ -r "${BOOTSTRAP_DIR}/fsid" ] && [ "$(cat "${BOOTSTRAP_DIR}/fsid")" = "${FSID}" ]; then
  bootstrapped="$(cat "${BOOTSTRAP_DIR}/bootstrapped" 2>/dev/null || echo yes)"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
if [ -z "${bootstrapped}" ] && [ -n "${MON_REPLACES:-}" ]; then
  refuse "it replaces monitor ${MON_REPLACES}, but the cluster's bootstrap is not recorded (${BOOTSTRAP_DIR}/fsid); it is not created"
fi
if [ -z "${bootstrapped}" ]; then
  # AES-128 cephx keys are the type every supported release reads. A
  # release that also has AES-256 keys (20 on) makes a monitor map that
  # allows only those unless told; with AES-128 keys allow both, as the
  # map of a cluster upgraded from an older release does.
  ciphers=""
  if [ "${CEPHX_KEY_TYPE:-aes}" = aes ] && monmaptool --help 2>&1 | grep -q -e '--auth-allowed-ciphers'; then
    ciphers="--auth-allowed-ciphers aes,aes256k"
  fi
  # shellcheck disable=SC2086 # ciphers is empty or two words
  monmaptool --create --fsid "${FSID}" ${ciphers} "$@" "${tmp}/monmap"
  ceph-mon --mkfs -i "${MON_NAME}" --monmap "${tmp}/monmap" --keyring "${KEYRING}" --mon-data "${data}"
  chown -R ceph:ceph "${data}"
  echo "monitor ${MON_NAME}: created its store in ${HOST_PATH} on ${NODE_NAME} (cluster bootstrap)"
  exit 0
fi
echo "monitor ${MON_NAME}: no store in ${HOST_PATH}; the cluster was bootstrapped ${bootstrapped}, so it may only rejoin a quorum"
if [ -n "$(ls -A "${data}" 2>/dev/null)" ]; then
  refuse "the directory holds an incomplete store ($(ls -A "${data}" | head -n 5 | tr '\n' ' ')); it is left as it is. Restore the store from a backup, or move these files aside so the monitor can rejoin the quorum"
fi
cephq() {
  ceph --conf /etc/ceph/ceph.conf --name client.admin --keyring "${KEYRING}" --connect-timeout "${JOIN_TIMEOUT}" "$@"
}
getmap() {
  if ! cephq mon getmap -o "${tmp}/monmap" >"${tmp}/getmap.log" 2>&1; then
    why="$(grep -v '^[0-9-]*T[0-9:.+-]* ' "${tmp}/getmap.log" | tail -n 1)"
    refuse "no quorum of the other monitors answered within ${JOIN_TIMEOUT}s (${why:-no answer}), so the store is not re-created: a new store would start an empty cluster under this FSID. If this was the only monitor, or a majority of the monitors lost their stores, restore ${HOST_PATH} on ${NODE_NAME} from a backup, or rebuild the monitor store from the OSDs (Ceph's procedure 'recovery using OSDs', ceph-objectstore-tool --op update-mon-db), then delete this pod"
  fi
  monmaptool --print "${tmp}/monmap" >"${tmp}/monmap.txt"
  if ! grep -q "^fsid ${FSID}\$" "${tmp}/monmap.txt"; then
    refuse "the quorum that answered holds the monitor map of another cluster ($(grep '^fsid' "${tmp}/monmap.txt")); not joining it"
  fi
}
getmap
if [ -n "${MON_REPLACES:-}" ] && grep -q " mon\.${MON_REPLACES}\$" "${tmp}/monmap.txt"; then
  echo "monitor ${MON_NAME}: removing monitor ${MON_REPLACES}, which it replaces, from the monitor map"
  if ! cephq mon remove "${MON_REPLACES}" >"${tmp}/remove.log" 2>&1; then
    refuse "removing monitor ${MON_REPLACES}, which it replaces, from the monitor map failed: $(tail -n 1 "${tmp}/remove.log")"
  fi
  getmap
fi
if ! grep -q " mon\.${MON_NAME}\$" "${tmp}/monmap.txt" && [ -z "${MON_REPLACES:-}" ]; then
  refuse "the quorum's monitor map does not list monitor ${MON_NAME}; it was removed from the cluster, not joining"
fi
ceph-mon --mkfs -i "${MON_NAME}" --monmap "${tmp}/monmap" --keyring "${KEYRING}" --mon-data "${data}"
chown -R ceph:ceph "${data}"
echo "monitor ${MON_NAME}: rebuilt its store in ${HOST_PATH} on ${NODE_NAME} from the quorum's monitor map; it syncs the rest from the quorum"
`

// MonBootstrapName is the ConfigMap recording that the cluster was
// bootstrapped.
func MonBootstrapName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-mon-bootstrap"
}

// Keys of the bootstrap record.
const (
	// BootstrapKeyFSID is the FSID of the cluster that was bootstrapped:
	// a record of another FSID does not apply.
	BootstrapKeyFSID = "fsid"
	// BootstrapKeyTime is when the bootstrap was recorded (RFC 3339).
	BootstrapKeyTime = "bootstrapped"
	// BootstrapKeyMonitors lists the monitors that ran with their stores
	// when it was recorded.
	BootstrapKeyMonitors = "monitors"
)

// MonBootstrap builds the record that the cluster was bootstrapped: written
// once a majority of its monitors ran with their stores (so they formed a
// quorum and hold the cluster's maps) and before any OSD is prepared. From
// then on a monitor without a store is never created from scratch (see
// monInitScript, which reads it through an optional volume). Like the
// identity Secret it has no owner reference and survives the deletion of
// the CephCluster under the default cleanup policy.
func MonBootstrap(cluster *cephv1alpha1.CephCluster, fsid, when, monitors string) *corev1.ConfigMap {
	return keptMonRecord(cluster, MonBootstrapName(cluster),
		map[string]string{BootstrapKeyFSID: fsid, BootstrapKeyTime: when, BootstrapKeyMonitors: monitors})
}

// keptMonRecord is an immutable ConfigMap of the monitors' kept state
// (placement, bootstrap record), without an owner reference.
func keptMonRecord(cluster *cephv1alpha1.CephCluster, name string, data map[string]string) *corev1.ConfigMap {
	immutable := true
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(cluster, name, Labels(cluster, ComponentMon), nil),
		Immutable:  &immutable,
		Data:       data,
	}
}

// MonEndpointsName is the ConfigMap recording where the monitors run.
func MonEndpointsName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-mon-endpoints"
}

// MonEndpoints builds the ConfigMap that records the monitors' placement. It
// is written once, when the cluster is bootstrapped, and is immutable: a
// monitor's address is part of the cluster's monitor map. It has no owner
// reference: like the identity Secret it outlives a CephCluster deleted with
// the default cleanup policy, and one created again adopts it.
func MonEndpoints(cluster *cephv1alpha1.CephCluster, placement string) *corev1.ConfigMap {
	return keptMonRecord(cluster, MonEndpointsName(cluster), map[string]string{ConfigMapKeyMons: placement})
}

// MonPlacementName is the ConfigMap recording the monitors' placement once
// a monitor was replaced (monplan.Failover): it supersedes the immutable
// MonEndpointsName record, which keeps the placement of the bootstrap.
// Unlike that one it is updated (with its resourceVersion as a
// precondition), at each replacement.
func MonPlacementName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-mon-placement"
}

// Keys of the placement record besides ConfigMapKeyMons.
const (
	// ConfigMapKeyRetired lists, comma-separated, the monitors replaced
	// so far: their names are never used again.
	ConfigMapKeyRetired = "retired"
)

// MonPlacement builds the placement record of a cluster whose monitors
// were replaced: placement as monplan.Encode writes it, and the retired
// monitors' names.
func MonPlacement(cluster *cephv1alpha1.CephCluster, placement string, retired []string) *corev1.ConfigMap {
	cm := keptMonRecord(cluster, MonPlacementName(cluster), map[string]string{ConfigMapKeyMons: placement, ConfigMapKeyRetired: strings.Join(retired, ",")})
	cm.Immutable = nil
	return cm
}

// MonName is the Deployment of monitor mon.
func MonName(cluster *cephv1alpha1.CephCluster, mon string) string {
	return cluster.Name + "-mon-" + mon
}

// MgrName is the Deployment of the manager.
func MgrName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-mgr"
}

// dataDir is the host directory of one daemon's state: per namespace,
// cluster name and FSID, so two clusters sharing nodes never share state. A
// CephCluster created again under the same name adopts the kept identity,
// so the same FSID finds the same stores; a cluster with a new FSID never
// starts from the store of another.
func dataDir(cluster *cephv1alpha1.CephCluster, fsid, daemon string) string {
	base := cluster.Spec.DataDirHostPath
	if base == "" {
		base = "/var/lib/ceph-operator"
	}
	return path.Join(base, cluster.Namespace, cluster.Name, fsid, daemon)
}

// MonDataDir is the host directory of monitor mon's store.
func MonDataDir(cluster *cephv1alpha1.CephCluster, fsid, mon string) string {
	return dataDir(cluster, fsid, "mon-"+mon)
}

// MonDeployment builds the Deployment of monitor mons[i]: pinned to its node,
// on the host network so that its address is the node's, with its store in
// a host directory. An init container creates the store on first start.
func MonDeployment(cluster *cephv1alpha1.CephCluster, images Images, keys ceph.KeyType, fsid string, mons []monplan.Mon, i int) *appsv1.Deployment {
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
	args := []string{"--foreground", "--id", mon.Name, "--mon-data", data, "--setuser", "ceph", "--setgroup", "ceph"}
	if mon.Replaces != "" {
		// Not in the initial monitor map: it binds its own address and
		// joins the quorum; its store is made from the quorum's map
		// after the monitor it replaces was removed from it.
		env = append(env, corev1.EnvVar{Name: "MON_REPLACES", Value: mon.Replaces})
		args = append(args, "--public-addrv", mon.AddrVec())
	}
	initEnv := append(append([]corev1.EnvVar(nil), env...),
		corev1.EnvVar{Name: "MON_DATA", Value: data},
		corev1.EnvVar{Name: "HOST_PATH", Value: MonDataDir(cluster, fsid, mon.Name)},
		corev1.EnvVar{Name: "NODE_NAME", Value: mon.Node},
		corev1.EnvVar{Name: "BOOTSTRAP_DIR", Value: "/etc/ceph-bootstrap"},
		corev1.EnvVar{Name: "KEYRING", Value: "/etc/ceph-keys/keyring"},
		corev1.EnvVar{Name: "JOIN_TIMEOUT", Value: strconv.Itoa(MonJoinTimeoutSeconds)},
		corev1.EnvVar{Name: "TERMINATION_LOG", Value: corev1.TerminationMessagePathDefault},
	)
	if keys != ceph.KeyTypeAES {
		// Only then: the monitors of a cluster with AES keys keep the
		// template they had before the operator knew other key types.
		initEnv = append(initEnv, corev1.EnvVar{Name: "CEPHX_KEY_TYPE", Value: keys.String()})
	}
	mounts := []corev1.VolumeMount{
		{Name: "mon-data", MountPath: data},
		{Name: "ceph-conf", MountPath: "/etc/ceph", ReadOnly: true},
	}

	pod := corev1.PodSpec{
		// The monitor's address is the node's: clients and daemons find it
		// through the monitor map, which holds addresses, not names.
		HostNetwork: true,
		DNSPolicy:   corev1.DNSClusterFirstWithHostNet,
		// The agent's ServiceAccount, for the privileged SCC on OpenShift;
		// the pod itself never calls the API.
		ServiceAccountName:           AgentServiceAccountName(cluster),
		AutomountServiceAccountToken: ptrTo(false),
		Affinity:                     pinnedTo(mon.Node),
		Tolerations:                  cluster.Spec.Placement.Tolerations,
		InitContainers: []corev1.Container{{
			Name:            MonInitContainer,
			Image:           cluster.Spec.Image,
			ImagePullPolicy: images.PullPolicy,
			Command:         []string{"/bin/sh"},
			Args:            initArgs,
			Env:             initEnv,
			VolumeMounts: append(mounts,
				corev1.VolumeMount{Name: "mon-initial-keyring", MountPath: "/etc/ceph-keys", ReadOnly: true},
				corev1.VolumeMount{Name: "mon-bootstrap", MountPath: "/etc/ceph-bootstrap", ReadOnly: true},
			),
		}},
		Containers: []corev1.Container{{
			Name:            "mon",
			Image:           cluster.Spec.Image,
			ImagePullPolicy: images.PullPolicy,
			Command:         []string{"ceph-mon"},
			Args:            args,
			Ports: []corev1.ContainerPort{
				{Name: "msgr2", ContainerPort: mon.PortV2, Protocol: corev1.ProtocolTCP},
				{Name: "msgr1", ContainerPort: mon.PortV1, Protocol: corev1.ProtocolTCP},
			},
			// Ready means in quorum (leader or peon), as the monitor's
			// own admin socket says, not merely listening: the
			// monitors' rollout and their PodDisruptionBudget count a
			// monitor as available only once the quorum includes it.
			ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c",
					MonQuorumProbe(mon.Name)}}},
				PeriodSeconds:  5,
				TimeoutSeconds: 5,
			},
			// Before it stops, the monitor leaves the quorum, so the
			// others elect a quorum of their own at once instead of
			// noticing its loss at the end of a lease; first it waits a
			// moment, so that OSDs stopping with it (a drain evicts a
			// node's pods together) report themselves down to a full
			// quorum. See MonPreStop.
			Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c",
				MonPreStop(mon.Name)}}}},
			Resources:    cluster.Spec.Resources.Mon,
			VolumeMounts: mounts,
		}},
		Volumes: []corev1.Volume{
			{Name: "mon-data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: MonDataDir(cluster, fsid, mon.Name), Type: &dirOrCreate,
			}}},
			cephConfVolume(cluster),
			{Name: "mon-initial-keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: IdentitySecretName(cluster),
				Items:      []corev1.KeyToPath{{Key: SecretKey(SecretKeyMonInitialKeyring, keys), Path: "keyring"}},
			}}},
			// Optional: it exists only once the cluster was bootstrapped,
			// and a pod started before that reads an empty directory.
			{Name: "mon-bootstrap", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: MonBootstrapName(cluster)},
				Optional:             ptrTo(true),
			}}},
		},
	}

	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(cluster, MonName(cluster, mon.Name), labels, map[string]string{NodeAnnotation: mon.Node, CephImageAnnotation: cluster.Spec.Image}),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			// Two pods of one monitor must never run at once on one store.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
}

// CephImageAnnotation names, on a monitor or manager Deployment, the Ceph
// image its pod template runs: the operator's cache keeps no pod
// templates, and the OSDs wait until every monitor and manager runs the
// accepted image.
const CephImageAnnotation = "ceph.cephoperator.io/ceph-image"

// MonQuorumProbe is the shell command of monitor name's readiness probe:
// it succeeds when `mon_status` on its admin socket says it is the leader
// or a peon of the quorum.
func MonQuorumProbe(name string) string {
	return `ceph --admin-daemon /var/run/ceph/ceph-mon.` + name + `.asok mon_status 2>/dev/null | grep -Eq '"state": *"(leader|peon)"'`
}

// MonLeaveDelaySeconds is how long a stopping monitor stays in the quorum
// before it leaves it (MonPreStop): time for an OSD stopped with it to be
// marked down, which takes about a second.
const MonLeaveDelaySeconds = 5

// MonPreStop is the shell command monitor name runs before it is stopped:
// it waits MonLeaveDelaySeconds, then, if it is in the quorum, leaves it
// through its admin socket (`quorum exit`, which starts an election
// without it). A monitor that simply stops is noticed by the others only
// when its lease expires, and until they elect a new quorum no map
// changes: an OSD stopped at the same moment stays marked up, and reads
// of its placement groups wait. A monitor out of the quorum (cut off, or
// replaced) calls no election: it would only disturb the others. It never
// fails: a monitor that cannot answer is stopped all the same.
func MonPreStop(name string) string {
	return `sleep ` + strconv.Itoa(MonLeaveDelaySeconds) + `; if ` + MonQuorumProbe(name) + `; then ceph --admin-daemon /var/run/ceph/ceph-mon.` + name + `.asok quorum exit >/dev/null 2>&1; fi; exit 0`
}

// ReporterName is the ServiceAccount, Role and RoleBinding of the health
// reporter.
func ReporterName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-ceph-reporter"
}

// MgrDeployment builds the Deployment of the manager: ceph-mgr alone, from
// the Ceph image, so that an operator upgrade never changes it. It runs
// under the reporter's ServiceAccount (whose Role admits it on OpenShift)
// with no API token.
func MgrDeployment(cluster *cephv1alpha1.CephCluster, images Images, keys ceph.KeyType) *appsv1.Deployment {
	labels := Labels(cluster, ComponentMgr)
	selector := map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentMgr}
	replicas := int32(1)
	data := "/var/lib/ceph/mgr/ceph-" + MgrID

	pod := corev1.PodSpec{
		ServiceAccountName: ReporterName(cluster),
		// ceph-mgr's modules run code that has no business with the
		// Kubernetes API.
		AutomountServiceAccountToken: ptrTo(false),
		Affinity:                     nodeAffinity(cluster),
		Tolerations:                  cluster.Spec.Placement.Tolerations,
		Containers: []corev1.Container{{
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
		}},
		Volumes: []corev1.Volume{
			cephConfVolume(cluster),
			{Name: "mgr-keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: IdentitySecretName(cluster),
				Items:      []corev1.KeyToPath{{Key: SecretKey(SecretKeyMgrKeyring, keys), Path: "keyring"}},
			}}},
		},
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(cluster, MgrName(cluster), labels, map[string]string{CephImageAnnotation: cluster.Spec.Image}),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
}

// ComponentReporter is the component of the health reporter's Deployment.
const ComponentReporter = "reporter"

// ReporterDeployment builds the Deployment of the health reporter, apart
// from the manager because it runs the operator's binary (copied in by an
// init container): an operator upgrade restarts it and no Ceph daemon.
// `agent report` runs `ceph status` with a key that may only read the
// monitors' state (client.reporter) and applies the result to the
// CephCluster's status.ceph. It runs as reporter, the ceph user of the
// image; an id below 1 (never root) means CephUID.
func ReporterDeployment(cluster *cephv1alpha1.CephCluster, images Images, keys ceph.KeyType, reporter cephv1alpha1.CephUser) *appsv1.Deployment {
	if reporter.UID < 1 || reporter.GID < 1 {
		reporter = cephv1alpha1.CephUser{UID: CephUID, GID: CephUID}
	}
	labels := Labels(cluster, ComponentReporter)
	selector := map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentReporter}
	replicas := int32(1)
	pod := corev1.PodSpec{
		ServiceAccountName: ReporterName(cluster),
		// The API token is mounted into the reporter container only (a
		// projected volume), not into the init container.
		AutomountServiceAccountToken: ptrTo(false),
		Affinity:                     nodeAffinity(cluster),
		Tolerations:                  cluster.Spec.Placement.Tolerations,
		InitContainers:               []corev1.Container{copyBinaryContainer(images)},
		Containers: []corev1.Container{{
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
			// It reads world-readable files only (its keyring, ceph.conf,
			// the token) and writes to its own emptyDir.
			SecurityContext: &corev1.SecurityContext{
				RunAsUser:                ptrTo(reporter.UID),
				RunAsGroup:               ptrTo(reporter.GID),
				RunAsNonRoot:             ptrTo(true),
				ReadOnlyRootFilesystem:   ptrTo(true),
				AllowPrivilegeEscalation: ptrTo(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "reporter-token", MountPath: serviceAccountDir, ReadOnly: true},
				{Name: operatorBinVolume, MountPath: agentBinDir, ReadOnly: true},
				{Name: "reporter-keyring", MountPath: "/etc/ceph-reporter", ReadOnly: true},
				{Name: "ceph-conf", MountPath: "/etc/ceph", ReadOnly: true},
				// The ceph tool may write temporary files.
				{Name: "reporter-tmp", MountPath: "/tmp"},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: operatorBinVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			cephConfVolume(cluster),
			{Name: "reporter-keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: IdentitySecretName(cluster),
				Items:      []corev1.KeyToPath{{Key: SecretKey(SecretKeyReporterKeyring, keys), Path: "keyring"}},
			}}},
			{Name: "reporter-tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			reporterTokenVolume(),
		},
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(cluster, ReporterName(cluster), labels, nil),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			// One reporter at a time writes status.ceph.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
}

// CephUID is the uid and gid of the ceph user in the Ceph project's
// container images (quay.io/ceph/ceph, built from the project's RPM
// packages, which fix ceph at 167). The health reporter runs as the ceph
// user the discovery agents find in the cluster's image (Debian's packages
// create it as 64045), and as CephUID when none was found: the images most
// clusters run, and for any other a uid that is not root, which is all the
// reporter needs (it reads world-readable files and writes its own
// emptyDir).
const CephUID int64 = 167

// serviceAccountDir is where client-go looks for the in-cluster token.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// reporterTokenExpiry is the lifetime of the reporter's token; the kubelet
// renews it at 80% and client-go rereads the file.
const reporterTokenExpiry = int64(3607)

// reporterTokenVolume is the projected volume with what an automounted
// service-account token provides (token, the cluster's CA, the namespace),
// mounted into the reporter container alone.
func reporterTokenVolume() corev1.Volume {
	return corev1.Volume{Name: "reporter-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptrTo(int32(0o444)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptrTo(reporterTokenExpiry)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}}}
}

// ReporterServiceAccount builds the health reporter's ServiceAccount.
func ReporterServiceAccount(cluster *cephv1alpha1.CephCluster) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(cluster, ReporterName(cluster), Labels(cluster, ComponentMgr), nil),
	}
}

// ReporterRole lets the reporter read its CephCluster and apply its status,
// and the manager and reporter pods be admitted on OpenShift.
func ReporterRole(cluster *cephv1alpha1.CephCluster) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: objectMeta(cluster, ReporterName(cluster), Labels(cluster, ComponentMgr), nil),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"cephclusters"}, ResourceNames: []string{cluster.Name}, Verbs: []string{"get"}},
			{APIGroups: []string{cephv1alpha1.GroupVersion.Group}, Resources: []string{"cephclusters/status"}, ResourceNames: []string{cluster.Name}, Verbs: []string{"get", "patch"}},
			// The manager pod runs as root with host paths.
			PrivilegedSCCRule(),
		},
	}
}

// ReporterRoleBinding binds ReporterRole to ReporterServiceAccount.
func ReporterRoleBinding(cluster *cephv1alpha1.CephCluster) *rbacv1.RoleBinding {
	name := ReporterName(cluster)
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(cluster, name, Labels(cluster, ComponentMgr), nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: cluster.Namespace}},
	}
}

// cephConfVolume is the cluster's ceph.conf ConfigMap as a volume.
func cephConfVolume(cluster *cephv1alpha1.CephCluster) corev1.Volume {
	return corev1.Volume{Name: "ceph-conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(cluster)},
	}}}
}

// pinnedTo is a required node affinity to exactly one node, of one of the
// image's architectures (withArch).
func pinnedTo(node string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: withArch(&corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
				Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		},
	})}
}

func ptrTo[T any](v T) *T { return &v }

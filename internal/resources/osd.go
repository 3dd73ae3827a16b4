package resources

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/agent/wipe"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
)

// Labels and annotations of prepare Jobs and OSD Deployments.
const (
	// NodeHashLabel holds a hash of the node name (node names can be longer
	// than a label value may be); NodeAnnotation holds the name itself.
	NodeHashLabel = "ceph.cephoperator.io/node-hash"
	// NodeAnnotation is the name of the node a Job or OSD runs on.
	NodeAnnotation = "ceph.cephoperator.io/node"
	// DevicesAnnotation lists a prepare Job's devices as JSON: the same
	// array of PrepareTarget as its --targets argument.
	DevicesAnnotation = "ceph.cephoperator.io/devices"
	// RescanRequestAnnotation on a finished prepare Job is the
	// spec.rescanRequest the operator set on the node's inventory for this
	// Job's outcome: one Job asks for one rescan.
	RescanRequestAnnotation = "ceph.cephoperator.io/rescan-request"
	// OSDIDLabel is the id of the OSD a Deployment runs.
	OSDIDLabel = "ceph.cephoperator.io/osd-id"
	// DeviceIDAnnotation is the stable id of an OSD's disk.
	DeviceIDAnnotation = "ceph.cephoperator.io/device-id"
	// DeviceClassLabel is an OSD's CRUSH device class.
	DeviceClassLabel = "ceph.cephoperator.io/device-class"
)

// PrepareContainer is the container of a prepare Job's pod that runs agent
// prepare; its termination message holds the results.
const PrepareContainer = "prepare"

// Components of node-side objects.
const (
	ComponentPrepare = "prepare"
	ComponentOSD     = "osd"
)

// Limits that keep prepare Jobs from piling up or hanging.
const (
	// PrepareDeviceTimeout bounds the preparation of one disk (agent
	// prepare --device-timeout); ceph-volume takes well under a minute per
	// disk, the rest is room for slow disks and a busy monitor.
	PrepareDeviceTimeout = 15 * time.Minute
	// prepareDeadlineMargin is added to the Job's deadline beyond n disks
	// times PrepareDeviceTimeout: the pod's start, the copy of the agent,
	// and the rescans between disks.
	prepareDeadlineMargin = 5 * time.Minute
	// prepareTTLSeconds removes a finished Job the operator did not delete
	// (for example while it was down).
	prepareTTLSeconds = 24 * 3600
	// PrepareLockDir is the host directory (hostPath, created when missing)
	// where agent prepare holds an flock on prepare.lock for its whole
	// run, so two prepares on one host never overlap, whatever cluster or
	// namespace they come from.
	PrepareLockDir = "/run/ceph-operator"
)

// NodeHash returns a short, label-safe hash of a node name (node names can
// be longer than a label value may be).
func NodeHash(node string) string {
	return osdplan.NodeHash(node)
}

// PrepareJobName is the one prepare Job of node in cluster (see
// osdplan.JobName): the API server refuses a second one.
func PrepareJobName(cluster *cephv1alpha1.CephCluster, node string) string {
	return osdplan.JobName(cluster.Name, node)
}

// OSDName is the Deployment of OSD id.
func OSDName(cluster *cephv1alpha1.CephCluster, id int32) string {
	return fmt.Sprintf("%s-osd-%d", cluster.Name, id)
}

// PrepareTarget is one disk of a prepare Job: an element of the JSON array
// of agent prepare's --targets flag and of the Job's DevicesAnnotation. It
// is the agent's own type, so the two sides of the flag cannot drift:
// agent prepare opens Path and refuses the disk unless its identity (the
// stable id, WWN, serial and size, each when set) is the one planned.
type PrepareTarget = prepare.Target

// PrepareResult is one element of the JSON array agent prepare writes as
// its termination message (at most 4096 bytes), the agent's own type. Its
// exit code is 0 when every target was prepared, 1 when one failed, 3 when
// one was refused and none failed.
type PrepareResult = prepare.Result

// PrepareTargets are the targets of a prepare Job for spec, in its order.
func PrepareTargets(spec osdplan.JobSpec) []PrepareTarget {
	out := make([]PrepareTarget, 0, len(spec.Devices))
	for _, d := range spec.Devices {
		out = append(out, PrepareTarget{Path: d.Path, DeviceClass: d.DeviceClass, ID: d.ID, WWN: d.WWN, Serial: d.Serial, SizeBytes: d.SizeBytes, OSDID: d.OSDID,
			DB: targetPartition(d.DB), WAL: targetPartition(d.WAL), Data: targetPartition(d.Data)})
	}
	return out
}

// targetPartition is agent prepare's view of a planned DB, WAL or data
// partition.
func targetPartition(p *osdplan.Partition) *prepare.TargetPartition {
	if p == nil {
		return nil
	}
	m := p.Device
	return &prepare.TargetPartition{
		Device: prepare.PartitionDevice{Path: m.Path, ID: m.ID, WWN: m.WWN, Serial: m.Serial, SizeBytes: m.SizeBytes},
		Role:   string(p.Role), Number: p.Number, Label: p.Label, StartBytes: p.StartBytes, SizeBytes: p.SizeBytes,
		Exists: p.Exists, PartUUID: p.PartUUID, ReplacesOSDUUID: p.ReplacesOSDUUID,
	}
}

// PrepareJob builds the Job that turns spec.Devices on spec.Node into OSDs:
// `agent prepare` takes the host's prepare lock, then, for each target in
// turn, re-checks it on the node and runs ceph-volume. The Job's name
// depends on the node alone (see PrepareJobName).
func PrepareJob(cluster *cephv1alpha1.CephCluster, images Images, keys ceph.KeyType, fsid string, spec osdplan.JobSpec) (*batchv1.Job, error) {
	if len(spec.Devices) == 0 {
		return nil, fmt.Errorf("prepare Job for node %s: no devices", spec.Node)
	}
	list, err := json.Marshal(PrepareTargets(spec))
	if err != nil {
		return nil, fmt.Errorf("encoding devices of prepare Job: %w", err)
	}
	args := []string{"agent", "prepare", "--node-name=" + spec.Node, "--cluster-fsid=" + fsid,
		// With the host's PID namespace, PID 1's mount table is the host's:
		// the re-check sees a disk mounted on the host as mounted.
		"--mountinfo=/proc/1/mountinfo",
		"--targets=" + string(list),
		"--device-timeout=" + PrepareDeviceTimeout.String(),
	}
	if cluster.Spec.Storage.AllowLoopDevices {
		args = append(args, "--allow-loop-devices")
	}
	if ms := cluster.Spec.Storage.Config.MinSize; ms != nil {
		args = append(args, "--min-size-bytes="+strconv.FormatInt(ms.Value(), 10))
	}
	labels := Labels(cluster, ComponentPrepare)
	labels[NodeHashLabel] = NodeHash(spec.Node)
	backoff := int32(0)
	// Each disk has its own deadline in the agent; the Job's covers them
	// all, so it only fires when the agent itself hangs.
	deadline := int64((time.Duration(len(spec.Devices))*PrepareDeviceTimeout + prepareDeadlineMargin) / time.Second)
	ttl := int32(prepareTTLSeconds)

	// The prepare announces each disk it wrote with a "change" uevent
	// (prepare.Announce), written to the disk's uevent file in sysfs:
	// the only container with /sys writable.
	mounts := nodeVolumeMounts()
	for i := range mounts {
		if mounts[i].Name == "sys" {
			mounts[i].ReadOnly = false
		}
	}
	pod := nodePodSpec(cluster, images, spec.Node)
	pod.RestartPolicy = corev1.RestartPolicyNever
	pod.HostPID = true
	pod.Containers = []corev1.Container{{
		Name:                     PrepareContainer,
		Image:                    cluster.Spec.Image,
		ImagePullPolicy:          images.PullPolicy,
		Command:                  []string{AgentBinary},
		Args:                     args,
		Env:                      cephVolumeEnv(cluster),
		SecurityContext:          privileged(),
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts: append(mounts,
			corev1.VolumeMount{Name: "bootstrap-osd-keyring", MountPath: "/var/lib/ceph/bootstrap-osd", ReadOnly: true},
			corev1.VolumeMount{Name: "prepare-lock", MountPath: PrepareLockDir},
		),
	}}
	lockDir := corev1.HostPathDirectoryOrCreate
	pod.Volumes = append(pod.Volumes, corev1.Volume{
		Name: "bootstrap-osd-keyring",
		VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: IdentitySecretName(cluster),
			// Only the key this pod needs.
			Items: []corev1.KeyToPath{{Key: SecretKey(SecretKeyBootstrapOSDKeyring, keys), Path: "ceph.keyring"}},
		}},
	}, corev1.Volume{
		// The host-wide prepare lock: one directory for every cluster and
		// namespace on the host.
		Name:         "prepare-lock",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: PrepareLockDir, Type: &lockDir}},
	})

	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: objectMeta(cluster, PrepareJobName(cluster, spec.Node), labels, map[string]string{NodeAnnotation: spec.Node, DevicesAnnotation: string(list)}),
		Spec: batchv1.JobSpec{
			// One pod run: retries are the planner's, with backoff, so the
			// outcome is recorded in the DiskInventory between attempts.
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

// activateCommand activates OSD id from its disk. An OSD that keeps its
// DB (or WAL) on a metadata device finds that partition by its GPT unique
// GUID when the pod starts (blkid), as kernel names can change between
// boots; the pod template, and so the OSD, stays the same. An OSD on a
// partition of a split disk finds its data partition the same way.
//
// ceph-volume 20 (Tentacle) takes an OSD's DB and WAL only from the
// devices it is given to scan, and not from --block.db and --block.wal,
// so it leaves them unlinked, and ceph-osd then reads BlueFS from the data
// device and aborts ("Malformed input"). After it, the script links each
// one the OSD's directory lacks, as ceph-volume does (a symlink, the
// device owned by ceph); with earlier releases there is nothing to do.
func activateCommand(d osdplan.Device, id int32) []string {
	base := []string{"ceph-volume", "raw", "activate", "--device", d.Path, "--no-systemd", "--no-tmpfs"}
	data := d.Data != nil && d.Data.PartUUID != ""
	if d.DB == nil && d.WAL == nil && !data {
		return base
	}
	script := "set -eu\n"
	args, links := "", ""
	device := shellQuote(d.Path)
	if data {
		script += fmt.Sprintf("data=$(blkid -o device -t PARTUUID=%s | head -n 1)\n", shellQuote(d.Data.PartUUID))
		script += fmt.Sprintf("[ -n \"$data\" ] || { echo \"the data partition of this OSD (PARTUUID %s, partition %d of its disk) is not found on the node\" >&2; exit 1; }\n",
			d.Data.PartUUID, d.Data.Number)
		device = `"$data"`
	}
	for _, p := range []*osdplan.Partition{d.DB, d.WAL} {
		if p == nil || p.PartUUID == "" {
			continue
		}
		v := strings.ToLower(string(p.Role))
		// PartUUIDs come from the GPT and are checked as UUIDs by the
		// agent; quoting keeps the script safe whatever they hold.
		script += fmt.Sprintf("%s=$(blkid -o device -t PARTUUID=%s | head -n 1)\n", v, shellQuote(p.PartUUID))
		script += fmt.Sprintf("[ -n \"$%s\" ] || { echo \"the %s partition of this OSD (PARTUUID %s) is not found on the node\" >&2; exit 1; }\n", v, p.Role, p.PartUUID)
		args += fmt.Sprintf(" --block.%s \"$%s\"", v, v)
		link := shellQuote(fmt.Sprintf("%s/block.%s", osdDataDir(id), v))
		links += fmt.Sprintf("if [ ! -L %s ]; then ln -s \"$%s\" %s; chown ceph:ceph \"$%s\"; echo \"linked block.%s to $%s\"; fi\n", link, v, link, v, v, v)
	}
	if links == "" {
		script += "exec "
	}
	script += strings.Join(quoteAll(base[:4]), " ") + " " + device + " " + strings.Join(quoteAll(base[5:]), " ") + args + "\n" + links
	return []string{"sh", "-c", script}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}

// OSDDeployment builds the Deployment that runs one OSD: an init container
// activates it from its disk (ceph-volume raw activate, no systemd), then
// ceph-osd runs in the foreground.
func OSDDeployment(cluster *cephv1alpha1.CephCluster, images Images, fsid string, osd osdplan.OSDSpec) *appsv1.Deployment {
	id := strconv.Itoa(int(osd.ID))
	labels := Labels(cluster, ComponentOSD)
	labels[OSDIDLabel] = id
	labels[NodeHashLabel] = NodeHash(osd.Node)
	if osd.Device.DeviceClass != "" {
		labels[DeviceClassLabel] = osd.Device.DeviceClass
	}
	for k, v := range osd.Topology {
		labels[k] = v
	}
	selector := map[string]string{ClusterLabel: cluster.Name, ComponentLabel: ComponentOSD, OSDIDLabel: id}
	replicas := int32(1)

	// The OSD runs Ceph alone: no operator binary is copied in, so an
	// operator upgrade leaves its pod template, and the OSD, untouched.
	pod := nodePodSpec(cluster, images, osd.Node)
	pod.InitContainers = nil
	pod.Volumes = slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == operatorBinVolume })
	mounts := slices.DeleteFunc(nodeVolumeMounts(), func(m corev1.VolumeMount) bool { return m.Name == operatorBinVolume })
	osdDir := corev1.VolumeMount{Name: "osd-data", MountPath: osdDataDir(osd.ID)}
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "osd-data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	pod.InitContainers = append(pod.InitContainers, corev1.Container{
		Name:            "activate",
		Image:           cluster.Spec.Image,
		ImagePullPolicy: images.PullPolicy,
		Command:         activateCommand(osd.Device, osd.ID),
		Env:             cephVolumeEnv(cluster),
		SecurityContext: privileged(),
		VolumeMounts:    append(mounts, osdDir),
	})
	pod.Containers = []corev1.Container{{
		Name:            "osd",
		Image:           cluster.Spec.Image,
		ImagePullPolicy: images.PullPolicy,
		Command:         []string{"ceph-osd"},
		Args: []string{"--foreground", "--id", id, "--fsid", fsid, "--setuser", "ceph", "--setgroup", "ceph",
			// Where CRUSH files the OSD: its node, never its pod, so
			// replicas land on distinct nodes and a restart moves no data.
			"--crush-location=" + CrushLocation(osd.Node, osd.Topology)},
		SecurityContext: privileged(),
		Resources:       cluster.Spec.Resources.OSD,
		VolumeMounts:    append(mounts, osdDir),
	}}

	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(cluster, OSDName(cluster, osd.ID), labels, map[string]string{
			NodeAnnotation:     osd.Node,
			DeviceIDAnnotation: osd.Device.ID,
		}),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			// Two pods of one OSD must never run at once.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       pod,
			},
		},
	}
}

// CrushLocation is an OSD's CRUSH location: root=default, host=<node>, and
// rack, zone and region from the node's topology labels
// (osdplan.TopologyLabels) when it has them, each made a valid CRUSH name.
// The root must be named: a location without one files a new host bucket
// under no root, where no rule finds it and no placement group maps.
func CrushLocation(node string, topology map[string]string) string {
	loc := "root=default host=" + crushName(node)
	for _, kv := range []struct{ bucket, label string }{
		{"rack", osdplan.RackLabel},
		{"zone", "topology.kubernetes.io/zone"},
		{"region", "topology.kubernetes.io/region"},
	} {
		if v := topology[kv.label]; v != "" {
			loc += " " + kv.bucket + "=" + crushName(v)
		}
	}
	return loc
}

// crushName makes s a valid CRUSH bucket name: Ceph accepts letters, digits,
// '-', '_' and '.'; anything else becomes '-'.
func crushName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			b[i] = '-'
		}
	}
	return string(b)
}

// operatorBinVolume is the emptyDir the operator binary is copied into.
const operatorBinVolume = "operator-bin"

// nodePodSpec is the part common to prepare and OSD pods: pinned to node,
// tolerating what the placement tolerates, with the operator binary copied
// in and the cluster's ceph.conf mounted.
func nodePodSpec(cluster *cephv1alpha1.CephCluster, images Images, node string) corev1.PodSpec {
	dir := corev1.HostPathDirectory
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	noToken := false
	return corev1.PodSpec{
		// Prepare and OSD pods never call the Kubernetes API: a prepare
		// Job reports through its termination message. The agent's
		// ServiceAccount is only for the privileged SCC on OpenShift.
		ServiceAccountName:           AgentServiceAccountName(cluster),
		AutomountServiceAccountToken: &noToken,
		Affinity:                     pinnedTo(node),
		Tolerations:                  cluster.Spec.Placement.Tolerations,
		InitContainers:               []corev1.Container{copyBinaryContainer(images)},
		Volumes: []corev1.Volume{
			{Name: operatorBinVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "dev", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/dev", Type: &dir}}},
			{Name: "sys", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/sys", Type: &dir}}},
			{Name: "udev", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/run/udev", Type: &dirOrCreate}}},
			cephConfVolume(cluster),
		},
	}
}

// nodeVolumeMounts are the mounts of containers that work on disks. /dev is
// writable because ceph-volume and ceph-osd write to the block device.
func nodeVolumeMounts() []corev1.VolumeMount {
	return []corev1.VolumeMount{
		{Name: operatorBinVolume, MountPath: agentBinDir, ReadOnly: true},
		{Name: "dev", MountPath: "/dev"},
		{Name: "sys", MountPath: "/sys", ReadOnly: true},
		{Name: "udev", MountPath: "/run/udev", ReadOnly: true},
		{Name: "ceph-conf", MountPath: "/etc/ceph", ReadOnly: true},
	}
}

// cephVolumeEnv lets ceph-volume use loop devices when the cluster allows
// them (tests and demonstrations).
func cephVolumeEnv(cluster *cephv1alpha1.CephCluster) []corev1.EnvVar {
	if !cluster.Spec.Storage.AllowLoopDevices {
		return nil
	}
	return []corev1.EnvVar{{Name: "CEPH_VOLUME_ALLOW_LOOP_DEVICES", Value: "1"}}
}

// privileged is the security context of containers that open block devices
// for writing, which requires a privileged container.
func privileged() *corev1.SecurityContext {
	p := true
	return &corev1.SecurityContext{Privileged: &p}
}

// JobKindAnnotation on a Job of the node's prepare name says what it
// does: "wipe" for a wipe Job; absent for a prepare Job.
const JobKindAnnotation = "ceph.cephoperator.io/job-kind"

// JobKindWipe is the JobKindAnnotation value of a wipe Job.
const JobKindWipe = "wipe"

// WipeContainer is the container of a wipe Job's pod that runs agent wipe;
// its termination message holds the results.
const WipeContainer = "wipe"

// WipeDeviceTimeout bounds the wipe of one disk (agent wipe
// --device-timeout): a whole-disk discard of a large SSD takes a while.
const WipeDeviceTimeout = 10 * time.Minute

// WipeTarget is one disk of a wipe Job, agent wipe's own type (see
// wipe.Target): the Job's --targets and DevicesAnnotation are arrays of it.
type WipeTarget = wipe.Target

// WipeTargets are the targets of a wipe Job for spec, in its order.
func WipeTargets(spec osdplan.JobSpec) []WipeTarget {
	out := make([]WipeTarget, 0, len(spec.Devices))
	for _, d := range spec.Devices {
		t := WipeTarget{Path: d.Path, ID: d.ID, WWN: d.WWN, Serial: d.Serial, SizeBytes: d.SizeBytes, Confirmation: d.WipeConfirmation}
		if d.ExpectedOSD != nil {
			t.Confirmation = ""
			t.ExpectedOSD = &wipe.ExpectedOSD{FSID: d.ExpectedOSD.FSID, OSDID: int(d.ExpectedOSD.OSDID)}
		}
		if p := d.Data; p != nil {
			// The partition of a split disk alone: the disk's identity,
			// the partition's own id.
			t.Partition = &wipe.Partition{DiskID: p.Device.ID, Number: p.Number, PartUUID: p.PartUUID, StartBytes: p.StartBytes, SizeBytes: p.SizeBytes}
		}
		out = append(out, t)
	}
	return out
}

// WipeJob builds the Job that wipes spec.Devices on spec.Node: `agent
// wipe` takes the host's prepare lock, then, for each target in turn,
// re-checks it on the node (identity, not in use, the confirmation still
// matching) and wipes it. It has the node's prepare Job name, so a node
// never runs a wipe and a prepare at once, and the prepare component
// label, so the OSD reconciler reads its outcome as it reads a prepare's.
// It mounts no Ceph configuration or key: it never talks to Ceph.
func WipeJob(cluster *cephv1alpha1.CephCluster, images Images, fsid string, spec osdplan.JobSpec) (*batchv1.Job, error) {
	return wipeJob(cluster, images, fsid, spec.Node, WipeTargets(spec))
}

// wipeJob builds a wipe Job of targets on node.
func wipeJob(cluster *cephv1alpha1.CephCluster, images Images, fsid, node string, targets []WipeTarget) (*batchv1.Job, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("wipe Job for node %s: no devices", node)
	}
	list, err := json.Marshal(targets)
	if err != nil {
		return nil, fmt.Errorf("encoding devices of wipe Job: %w", err)
	}
	args := []string{"agent", "wipe", "--node-name=" + node, "--cluster-fsid=" + fsid,
		"--mountinfo=/proc/1/mountinfo",
		"--targets=" + string(list),
		"--device-timeout=" + WipeDeviceTimeout.String(),
	}
	if cluster.Spec.Storage.AllowLoopDevices {
		args = append(args, "--allow-loop-devices")
	}
	if ms := cluster.Spec.Storage.Config.MinSize; ms != nil {
		args = append(args, "--min-size-bytes="+strconv.FormatInt(ms.Value(), 10))
	}
	labels := Labels(cluster, ComponentPrepare)
	labels[NodeHashLabel] = NodeHash(node)
	backoff := int32(0)
	deadline := int64((time.Duration(len(targets))*WipeDeviceTimeout + prepareDeadlineMargin) / time.Second)
	ttl := int32(prepareTTLSeconds)

	pod := nodePodSpec(cluster, images, node)
	pod.RestartPolicy = corev1.RestartPolicyNever
	pod.HostPID = true
	// No ceph.conf: agent wipe never talks to Ceph.
	pod.Volumes = slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "ceph-conf" })
	mounts := slices.DeleteFunc(nodeVolumeMounts(), func(m corev1.VolumeMount) bool { return m.Name == "ceph-conf" })
	pod.Containers = []corev1.Container{{
		Name:                     WipeContainer,
		Image:                    cluster.Spec.Image,
		ImagePullPolicy:          images.PullPolicy,
		Command:                  []string{AgentBinary},
		Args:                     args,
		SecurityContext:          privileged(),
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts:             append(mounts, corev1.VolumeMount{Name: "prepare-lock", MountPath: PrepareLockDir}),
	}}
	lockDir := corev1.HostPathDirectoryOrCreate
	pod.Volumes = append(pod.Volumes, corev1.Volume{
		Name:         "prepare-lock",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: PrepareLockDir, Type: &lockDir}},
	})
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: objectMeta(cluster, PrepareJobName(cluster, node), labels,
			map[string]string{NodeAnnotation: node, DevicesAnnotation: string(list), JobKindAnnotation: JobKindWipe}),
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

// osdDataDir is where OSD id's directory is in its pod.
func osdDataDir(id int32) string { return "/var/lib/ceph/osd/ceph-" + strconv.Itoa(int(id)) }

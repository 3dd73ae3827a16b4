package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CleanupConfirmation is the exact phrase that confirms destroying a
// cluster's data when its CephCluster is deleted: the daemons are stopped,
// the disks whose BlueStore label carries this cluster's FSID are wiped,
// the cluster's directory on every host (its monitor stores) is removed,
// and the identity Secret, monitor placement and bootstrap record are
// deleted too, so the cluster can no longer be adopted. Any other value
// keeps everything.
const CleanupConfirmation = "yes-really-destroy-data"

// CephClusterSpec describes the Ceph cluster a user wants: which image runs
// it, where it keeps its state on the hosts, and which nodes and disks become
// OSDs.
//
// Cross-field rules enforced at admission:
//   - storage.nodes lists each node once; a node with an explicit devices
//     list cannot also set deviceFilter, devicePathFilter or useAllDevices.
//   - storage must select at least one node (useAllNodes or nodes).
//   - dataDirHostPath cannot change once set.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.dataDirHostPath) || (has(self.dataDirHostPath) && self.dataDirHostPath == oldSelf.dataDirHostPath)",message="spec.dataDirHostPath is immutable: the monitors' and OSDs' state lives there on every host"
type CephClusterSpec struct {
	// Image is the Ceph container image that runs the monitors, the OSDs and
	// the node agent (the operator copies its own binary into it), for
	// example quay.io/ceph/ceph:v19.2.3. Every node-side tool then matches
	// the cluster's Ceph version.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$`
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Ceph image",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	Image string `json:"image"`

	// DataDirHostPath is the directory on each host where monitors and OSDs
	// keep their configuration and state. It cannot be changed after the
	// cluster is created, and it must be:
	//   - an absolute path written in its normal form: no trailing "/", no
	//     "//" and no "." or ".." segment ("/var/lib//ceph" and
	//     "/var/lib/./ceph" are refused: a host resolves "//" to its root,
	//     and a path that is not in normal form escapes the checks below);
	//   - on persistent storage: not /tmp, /var/tmp, /dev, /run, /var/run,
	//     /proc or /sys, nor anything below them (they are in memory or
	//     cleaned by the host, and the monitors' stores would be lost);
	//   - not a system directory itself (/, /etc, /boot, /usr, /bin, /sbin,
	//     /lib, /lib64, /opt, /srv, /home, /var, /var/lib, /root).
	// +kubebuilder:default="/var/lib/ceph-operator"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^/[a-zA-Z0-9._/-]+$`
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('/') && !self.contains('//') && !self.matches('(^|/)[.][.]?(/|$)')",message="spec.dataDirHostPath must be an absolute path in normal form, without a trailing '/', '//', or '.' or '..' segments (a host reads '//' as its root): write it as /var/lib/ceph-operator"
	// +kubebuilder:validation:XValidation:rule="!['/tmp', '/var/tmp', '/dev', '/run', '/var/run', '/proc', '/sys'].exists(p, self == p || self.startsWith(p + '/'))",message="spec.dataDirHostPath must not be /tmp, /var/tmp, /dev, /run, /var/run, /proc, /sys or below them: these are in memory or cleaned by the host, and the monitors' stores would be lost; use a directory on persistent storage such as /var/lib/ceph-operator"
	// +kubebuilder:validation:XValidation:rule="!(self in ['/etc', '/boot', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/opt', '/srv', '/home', '/var', '/var/lib', '/root'])",message="spec.dataDirHostPath must not be a system directory itself (/etc, /boot, /usr, /bin, /sbin, /lib, /lib64, /opt, /srv, /home, /var, /var/lib, /root): use a directory of its own such as /var/lib/ceph-operator"
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Data directory on hosts",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	DataDirHostPath string `json:"dataDirHostPath,omitempty"`

	// DefaultFailureDomain is the CRUSH level that the default replicated
	// rule, and Ceph's failure detection, spread over: host (the default;
	// no two replicas on one node) or osd, for a cluster of a single node,
	// where host would leave every pool undersized and a dead OSD unnoticed
	// (its peers all report from one host). The rule is created when the
	// monitors are bootstrapped, so a later change does not alter it (pools
	// keep the rule they have; change it with ceph osd pool set).
	// +kubebuilder:validation:Enum=host;osd
	// +kubebuilder:default=host
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Default failure domain",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:select:host","urn:alm:descriptor:com.tectonic.ui:select:osd","urn:alm:descriptor:com.tectonic.ui:advanced"}
	DefaultFailureDomain string `json:"defaultFailureDomain,omitempty"`

	// Mon configures the Ceph monitors.
	// +kubebuilder:default={count: 3}
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Monitors"
	Mon MonSpec `json:"mon,omitzero"`

	// Storage selects the nodes and disks that become OSDs.
	//
	// Nodes: useAllNodes selects every node that matches the placement and
	// whose taints the placement tolerates; otherwise only the nodes listed
	// in nodes are used. With useAllNodes, entries in nodes act as per-node
	// overrides.
	//
	// Disks on a selected node, first rule that applies wins: the node's
	// devices list, then deviceFilter, then devicePathFilter, then
	// useAllDevices (each taken from the node's entry when it sets one,
	// otherwise from this cluster-wide level). A disk is only ever used when
	// discovery also finds it empty, and a disk that already holds an OSD of
	// this cluster keeps it even if the selection no longer picks it.
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Storage"
	Storage StorageSpec `json:"storage"`

	// Placement constrains where the node-side pods (discovery, prepare and
	// OSD pods) run, in addition to the node selection in storage.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Placement"
	Placement PlacementSpec `json:"placement,omitzero"`

	// Resources sets the compute resources of the OSD pods.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Resources"
	Resources ResourcesSpec `json:"resources,omitzero"`

	// CleanupPolicy says what deleting this CephCluster does to the
	// cluster's data. By default everything the operator created in
	// Kubernetes is removed except the cluster's identity Secret, monitor
	// placement and bootstrap record; the monitor stores on the hosts and
	// all disk data are kept. A CephCluster created again with the same name
	// in the same namespace adopts them: same FSID, the monitors and OSDs
	// come back with their data.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Cleanup policy"
	CleanupPolicy CleanupPolicySpec `json:"cleanupPolicy,omitzero"`

	// Security configures how the cluster's daemons and users
	// authenticate.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Security"
	Security SecuritySpec `json:"security,omitzero"`
}

// SecuritySpec configures authentication.
type SecuritySpec struct {
	// Cephx configures the cluster's cephx keys.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Cephx keys"
	Cephx CephxSpec `json:"cephx,omitzero"`
}

// The values of CephxSpec.KeyType and CephxSpec.RotatingServiceKeys.
const (
	// CephxKeyTypeAES256K is Ceph's AES-256 key type.
	CephxKeyTypeAES256K = "aes256k"
	// RotatingServiceKeysExpire lets the monitors replace their rotating
	// service keys as each one expires.
	RotatingServiceKeysExpire = "Expire"
	// RotatingServiceKeysReplace replaces them at once.
	RotatingServiceKeysReplace = "Replace"
)

// CephxSpec configures the cluster's cephx keys.
type CephxSpec struct {
	// KeyType aes256k asks for every cephx key of the cluster to be an
	// AES-256 key, the type Ceph 20.2.4 and later create, and for the
	// monitors to accept no other. A cluster created on Ceph 20 has such
	// keys from the start; one created on an earlier release keeps its AES
	// keys, which Ceph 20.2.4 reports as insecure (HEALTH_ERR), until this
	// is set. Then, once every daemon runs Ceph 20.2.4 or later and no
	// rollout is under way, the operator replaces the keys without
	// stopping any OSD: first those it holds (the monitors', the
	// manager's, its own users'), rolling the monitors, the manager and
	// the reporter onto their new keyrings one at a time; then each OSD's
	// while it runs (the new key also goes into the OSD's BlueStore
	// label) and those of Ceph's own unused bootstrap users; last, the
	// monitors stop accepting AES keys. Prepare Jobs wait while the keys
	// the operator holds change. A user the operator did not create that
	// still has an AES key holds the last step back, named in the
	// CephxKeysMigrated condition: its users would be locked out, so
	// replace its key (and give them the new one) or remove it. Clients
	// that cannot use AES-256 keys (librados before Ceph 20.2.4, Linux
	// kernel clients before 7.0) can no longer connect afterwards.
	// Unsetting it stops the migration before its last step; keys already
	// replaced stay AES-256. Empty (the default) keeps the keys' type.
	// +kubebuilder:validation:Enum="";aes256k
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Key type",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:select:aes256k","urn:alm:descriptor:com.tectonic.ui:advanced"}
	KeyType string `json:"keyType,omitempty"`

	// RotatingServiceKeys says what happens, at the end of a migration to
	// aes256k, to the monitors' rotating service keys (with which they
	// sign the tickets daemons give each other), still AES ones: Expire
	// (the default) leaves them to expire, each replaced by an AES-256
	// one within three times auth_service_ticket_ttl (3 h by default),
	// while Ceph warns AUTH_INSECURE_ROTATING_SERVICE_KEY_TYPE; Replace
	// replaces them at once (ceph auth wipe-rotating-service-keys), which
	// makes every daemon fetch new ones and clients renew their tickets.
	// +kubebuilder:validation:Enum="";Expire;Replace
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Rotating service keys",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:select:Expire","urn:alm:descriptor:com.tectonic.ui:select:Replace","urn:alm:descriptor:com.tectonic.ui:advanced"}
	RotatingServiceKeys string `json:"rotatingServiceKeys,omitempty"`
}

// The values of CephClusterSpec.DefaultFailureDomain.
const (
	// FailureDomainHost spreads replicas over nodes (the default).
	FailureDomainHost = "host"
	// FailureDomainOSD spreads replicas over OSDs, for one-node clusters.
	FailureDomainOSD = "osd"
)

// MonSpec configures the Ceph monitors.
type MonSpec struct {
	// Count is the number of monitors. It must be odd (1, 3, 5, 7 or 9) so a
	// majority can always be formed; 3 tolerates the loss of one.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	// +kubebuilder:validation:XValidation:rule="self % 2 == 1",message="spec.mon.count must be odd (1, 3, 5, 7 or 9) so the monitors can form a majority"
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Monitor count",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:podCount"}
	Count int32 `json:"count,omitempty"`

	// AllowMultiplePerNode lets several monitors run on one node, each on
	// its own ports. Only for test clusters with fewer nodes than monitors:
	// losing that node loses the majority. By default every monitor runs on
	// its own node and the monitors wait until enough nodes are ready.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Allow several monitors per node",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:booleanSwitch","urn:alm:descriptor:com.tectonic.ui:advanced"}
	AllowMultiplePerNode bool `json:"allowMultiplePerNode,omitempty"`

	// FailoverTimeout is how long a monitor's node may stay NotReady (or
	// be gone) before the monitor is replaced by a new one on a Ready
	// node of the storage selection that runs no monitor. A monitor is
	// replaced only while Ceph counts it out of the quorum and every
	// other monitor in it, one at a time; the old one is removed from
	// the monitor map and its name is not used again. 0 disables
	// failover.
	// +kubebuilder:default="10m"
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Monitor failover timeout",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text","urn:alm:descriptor:com.tectonic.ui:advanced"}
	FailoverTimeout *metav1.Duration `json:"failoverTimeout,omitempty"`
}

// StorageSpec selects the nodes and disks that become OSDs.
//
// Node selection: useAllNodes selects every schedulable node that matches the
// placement; otherwise only the nodes listed in nodes are used. With
// useAllNodes, entries in nodes act as per-node overrides.
//
// Device selection on a node, first match wins: the node's devices list, then
// deviceFilter, then devicePathFilter, then useAllDevices (each taken from the
// node entry when it sets one, otherwise from this cluster-wide level). A disk
// is only ever used when discovery also finds it empty.
//
// +kubebuilder:validation:XValidation:rule="self.useAllNodes || (has(self.nodes) && size(self.nodes) > 0)",message="spec.storage selects no node: set useAllNodes: true or list nodes"
type StorageSpec struct {
	// UseAllNodes selects every node that matches the placement.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Use all nodes",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:booleanSwitch"}
	UseAllNodes bool `json:"useAllNodes,omitempty"`

	// UseAllDevices selects every disk that discovery finds empty on a
	// selected node.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Use all devices",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:booleanSwitch"}
	UseAllDevices bool `json:"useAllDevices,omitempty"`

	// DeviceFilter is a regular expression (RE2 syntax) matched against the
	// kernel name of each disk, for example "^sd[b-d]$" or "^nvme".
	// +kubebuilder:validation:MaxLength=256
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Device filter",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	DeviceFilter string `json:"deviceFilter,omitempty"`

	// DevicePathFilter is a regular expression (RE2 syntax) matched against
	// every /dev/disk/by-* link of each disk, for example
	// "^/dev/disk/by-path/pci-0000:03:00.0-sas-.*".
	// +kubebuilder:validation:MaxLength=256
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Device path filter",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	DevicePathFilter string `json:"devicePathFilter,omitempty"`

	// AllowLoopDevices lets loop devices become OSDs. Meant for tests and
	// demonstrations only; production clusters leave it off.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Allow loop devices",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:booleanSwitch","urn:alm:descriptor:com.tectonic.ui:advanced"}
	AllowLoopDevices bool `json:"allowLoopDevices,omitempty"`

	// Provisioning says what happens to selected, empty disks. Enabled (the
	// default) turns them into OSDs. Preview only shows the plan: each
	// DiskInventory's status.plan says WouldProvision, or why a disk would
	// be left out, and nothing is written to any disk. Switching from
	// Preview to Enabled provisions exactly the disks the preview showed
	// (unless discovery has since found them in use).
	// +kubebuilder:validation:Enum=Enabled;Preview
	// +kubebuilder:default=Enabled
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Provisioning",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:select:Enabled","urn:alm:descriptor:com.tectonic.ui:select:Preview"}
	Provisioning ProvisioningMode `json:"provisioning,omitempty"`

	// MaxNodesPreparing bounds how many nodes prepare disks at the same
	// time across the cluster. A node never runs more than one prepare Job
	// at a time.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Nodes preparing at once",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:number","urn:alm:descriptor:com.tectonic.ui:advanced"}
	MaxNodesPreparing int32 `json:"maxNodesPreparing,omitempty"`

	// Config holds the OSD settings that apply to every selected disk unless
	// a node or device overrides them.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="OSD settings"
	Config OSDConfig `json:"config,omitzero"`

	// Nodes lists nodes by name: the nodes to use when useAllNodes is false,
	// and per-node overrides in either case.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=5000
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Nodes"
	Nodes []NodeStorageSpec `json:"nodes,omitempty"`

	// Decommission lists OSDs to take out of the cluster, each named by its
	// node and its disk (the stable id shown in the node's DiskInventory)
	// or its OSD id. Each moves through visible steps, shown in its disk's
	// status.plan[].decommission with timestamps and in Events: marked out,
	// then waiting until Ceph says it is safe to destroy (its data has been
	// copied elsewhere), then its Deployment is removed, then it is purged
	// from Ceph (or destroyed, keeping its id, with replace: true). A step
	// that would make data unavailable is never taken; a request that can
	// never become safe (there is nowhere for the data to go) says so.
	// Removing a request before the purge (or destroy) started reverses it:
	// the OSD runs again and is marked in. After that the disk stays out of
	// use while its request is listed. Deselecting a disk from the storage
	// selection never removes an OSD: only this list does.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Decommission OSDs",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:advanced"}
	Decommission []DecommissionRequest `json:"decommission,omitempty"`

	// WipeDevices asks the operator to wipe disks that discovery rejected
	// for leftover content (ForeignCephCluster, HasFilesystem,
	// HasPartitionTable, HasPartitions or HasUnknownData), so that they
	// become Available and, if selected, OSDs. Each entry names the node,
	// the disk, and a confirmation that must repeat what the disk's plan
	// shows in its DiskInventory (status.plan[].wipeConfirmation): the
	// disk's WWN (else serial, else stable id), the start of its content
	// hash and, for another cluster's OSD, that cluster's FSID. A
	// confirmation that does not match the disk as the agent last saw it
	// wipes nothing and the plan says WipeConfirmationMismatch; a copied or
	// stale entry therefore never wipes another disk, or the same disk
	// again once its content changed. Mounted, swap, held or busy disks,
	// and this cluster's OSDs, are never wiped this way. A wipe Job
	// re-checks all of it on the node before writing; it counts as the
	// node's one prepare Job at a time. Remove an entry once its disk is
	// Available.
	// +listType=map
	// +listMapKey=node
	// +listMapKey=device
	// +kubebuilder:validation:MaxItems=256
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Wipe devices",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:advanced"}
	WipeDevices []WipeDeviceSpec `json:"wipeDevices,omitempty"`
}

// DecommissionRequest names one OSD to take out of the cluster.
//
// +kubebuilder:validation:XValidation:rule="has(self.device) || has(self.osdID)",message="a decommission request names the OSD's disk (device) or its OSD id (osdID), or both"
// +kubebuilder:validation:XValidation:rule="!(has(self.wipe) && self.wipe && has(self.replace) && self.replace)",message="a decommission request cannot both wipe the disk and keep its OSD id for a replacement: a wiped disk left in the slot would become the replacement"
type DecommissionRequest struct {
	// Node is the node that holds the OSD's disk.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Node string `json:"node"`

	// Device is the disk, as its stable id in the node's DiskInventory
	// (status.disks[].id, which is /dev/<name> for a disk without
	// /dev/disk links, such as a loop device), any of its /dev/disk/by-*
	// links, or its kernel name. When osdID is also set, both must name
	// the same OSD, or nothing is done and the plan says why.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^((/dev/)?[a-z][a-z0-9_-]*|/dev/disk/by-[a-z-]+/([^/.][^/]*|[.][^/.][^/]*|[.][.][^/]+))$`
	// +optional
	Device string `json:"device,omitempty"`

	// OSDID is the OSD's id, as in ceph osd tree.
	// +kubebuilder:validation:Minimum=0
	// +optional
	OSDID *int32 `json:"osdID,omitempty"`

	// Replace keeps the OSD's id for a replacement disk: the OSD is
	// destroyed (ceph osd destroy) rather than purged, and a blank disk
	// that later appears in the same slot (the same /dev/disk/by-path link
	// on the node) is prepared as the same OSD id.
	// +optional
	Replace bool `json:"replace,omitempty"`

	// Wipe makes the disk blank once the OSD is purged: its signatures are
	// removed and its first and last MiB zeroed, by a Job that re-checks on
	// the node that the disk still carries exactly this OSD's label and
	// that nothing uses it. The disk then stays out of use while the
	// request is listed; removing the request lets the storage selection
	// use it again.
	// +optional
	Wipe bool `json:"wipe,omitempty"`
}

// WipeDeviceSpec is a request to wipe one disk.
type WipeDeviceSpec struct {
	// Node is the name of the node holding the disk.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node"`

	// Device is the disk's id exactly as the DiskInventory shows it
	// (status.disks[].id, usually a /dev/disk/by-id link), or any of its
	// /dev/disk/by-* links (status.disks[].links). A bare kernel name such
	// as sdb is not accepted.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/dev/') || self.startsWith('wwn:')",message="device must be the disk's id or one of its /dev/disk/by-* links as the DiskInventory shows them"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/./') && !self.contains('/../') && !self.endsWith('/.') && !self.endsWith('/..')",message="device must not contain '.' or '..' segments"
	Device string `json:"device"`

	// Confirmation must equal the disk's status.plan[].wipeConfirmation in
	// its DiskInventory, for example
	// "wwn=0x5000c500a1b2c3d4/content=3f2a9c1b7d4e/fsid=<other cluster's fsid>".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Confirmation string `json:"confirmation"`
}

// NodeStorageSpec selects disks on one node and overrides cluster-wide
// settings for it.
//
// +kubebuilder:validation:XValidation:rule="!has(self.devices) || size(self.devices) == 0 || (!has(self.deviceFilter) && !has(self.devicePathFilter) && !has(self.useAllDevices))",message="a node with an explicit devices list cannot also set deviceFilter, devicePathFilter or useAllDevices"
type NodeStorageSpec struct {
	// Name is the node's name as in its Node object (kubernetes.io/hostname).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node name",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	Name string `json:"name"`

	// Devices lists exactly the disks to use on this node, by kernel name
	// ("sdb", "nvme0n1") or by a /dev/disk/by-* link. Prefer by-id links:
	// kernel names can change across reboots.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node devices",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:advanced"}
	Devices []DeviceSpec `json:"devices,omitempty"`

	// UseAllDevices overrides the cluster-wide useAllDevices on this node.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Use all devices on the node",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:booleanSwitch","urn:alm:descriptor:com.tectonic.ui:advanced"}
	UseAllDevices *bool `json:"useAllDevices,omitempty"`

	// DeviceFilter overrides the cluster-wide deviceFilter on this node.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node device filter",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text","urn:alm:descriptor:com.tectonic.ui:advanced"}
	DeviceFilter *string `json:"deviceFilter,omitempty"`

	// DevicePathFilter overrides the cluster-wide devicePathFilter on this
	// node.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node device path filter",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text","urn:alm:descriptor:com.tectonic.ui:advanced"}
	DevicePathFilter *string `json:"devicePathFilter,omitempty"`

	// Config overrides the cluster-wide OSD settings on this node.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node OSD settings",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:advanced"}
	Config OSDOverrides `json:"config,omitzero"`
}

// DeviceSpec names one disk on a node.
type DeviceSpec struct {
	// Name is the kernel name ("sdb", "nvme0n1") or a /dev/disk/by-* link
	// ("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"). A link's last segment
	// may not be "." or "..": "/dev/disk/by-id/.." names a directory, not a
	// disk. (The pattern says so rather than a CEL rule: a rule on every
	// device of every node exceeds the API server's cost budget.)
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^([a-z][a-z0-9_-]*|/dev/disk/by-[a-z-]+/([^/.][^/]*|[.][^/.][^/]*|[.][.][^/]+))$`
	Name string `json:"name"`

	// Config overrides the node's OSD settings for this disk.
	// +optional
	Config OSDOverrides `json:"config,omitzero"`
}

// OSDOverrides holds the OSD settings that a node or a single disk can
// override. The minimum disk size is cluster-wide only.
type OSDOverrides struct {
	// DeviceClass is the CRUSH device class of the OSDs here, overriding
	// the enclosing level's.
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9_-]{0,31}$`
	// +optional
	DeviceClass string `json:"deviceClass,omitempty"`

	// MetadataDevice overrides the enclosing level's metadataDevice for the
	// OSDs here; the empty string keeps their DB on their own disk.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^(|[a-z][a-z0-9_-]*|/dev/disk/by-[a-z-]+/([^/.][^/]*|[.][^/.][^/]*|[.][.][^/]+))$`
	// +optional
	MetadataDevice *string `json:"metadataDevice,omitempty"`

	// DatabaseSizeBytes overrides the enclosing level's databaseSizeBytes.
	// +kubebuilder:validation:Minimum=1073741824
	// +optional
	DatabaseSizeBytes *int64 `json:"databaseSizeBytes,omitempty"`

	// WALSizeBytes overrides the enclosing level's walSizeBytes.
	// +kubebuilder:validation:Minimum=0
	// +optional
	WALSizeBytes *int64 `json:"walSizeBytes,omitempty"`

	// OSDsPerDevice overrides the enclosing level's osdsPerDevice for the
	// disks here.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=8
	// +optional
	OSDsPerDevice *int32 `json:"osdsPerDevice,omitempty"`
}

// ProvisioningMode says whether selected disks become OSDs or are only
// previewed.
type ProvisioningMode string

const (
	// ProvisioningEnabled turns selected, empty disks into OSDs.
	ProvisioningEnabled ProvisioningMode = "Enabled"
	// ProvisioningPreview computes and shows the plan without acting on it.
	ProvisioningPreview ProvisioningMode = "Preview"
)

// OSDConfig holds the cluster-wide OSD settings. Nodes and disks can
// override some of them (OSDOverrides).
type OSDConfig struct {
	// DeviceClass is the CRUSH device class of the OSD ("hdd", "ssd",
	// "nvme" or a custom class). A node labelled
	// ceph.cephoperator.io/device-class gives its OSDs that class instead;
	// a node's or a disk's entry in spec.storage.nodes overrides both.
	// When none is set Ceph detects it.
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9_-]{0,31}$`
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Device class",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	DeviceClass string `json:"deviceClass,omitempty"`

	// MinSize is the smallest disk that may become an OSD; smaller disks are
	// reported as TooSmall. Defaults to 5Gi; must be at least 1Gi.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0",message="minSize must be at least 1Gi"
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Minimum disk size",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text"}
	MinSize *resource.Quantity `json:"minSize,omitempty"`

	// MetadataDevice names, on each node, a fast disk (SSD, NVMe) that
	// holds the BlueStore DB (RocksDB, and the WAL with it unless
	// walSizeBytes is set) of the OSDs on the node's other selected disks:
	// its kernel name ("nvme0n1"), one of its /dev/disk/by-* links or its
	// stable id. The operator gives each such OSD a GPT partition of its
	// own on it, named after this cluster, and shows every disk's part in
	// its plan before anything is written. The metadata device must be
	// blank, or hold only partitions this cluster made; it never becomes
	// an OSD itself. A node without such a disk provisions nothing that
	// would need it, and says why. Losing the metadata device loses every
	// OSD whose DB it holds. Nodes and disks can override it; unset keeps
	// each OSD's DB on its own disk.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^(|[a-z][a-z0-9_-]*|/dev/disk/by-[a-z-]+/([^/.][^/]*|[.][^/.][^/]*|[.][.][^/]+))$`
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Metadata device",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text","urn:alm:descriptor:com.tectonic.ui:advanced"}
	MetadataDevice string `json:"metadataDevice,omitempty"`

	// DatabaseSizeBytes is the size of each OSD's DB partition on the
	// metadata device. Unset: 4% of the OSD's data disk, at least 1 GiB
	// (Ceph's guidance for the DB of object-storage workloads; block
	// storage alone needs less). A metadata device without room for the DB
	// partitions of all its new data disks provisions none of them, and
	// their plans say how much is missing.
	// +kubebuilder:validation:Minimum=1073741824
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="DB partition size (bytes)",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:number","urn:alm:descriptor:com.tectonic.ui:advanced"}
	DatabaseSizeBytes *int64 `json:"databaseSizeBytes,omitempty"`

	// WALSizeBytes, when set and not 0, gives each OSD with a metadata
	// device a separate WAL partition of this size there too. Unset, the
	// WAL lives in the DB partition, which is what Ceph recommends unless
	// a third, faster device holds it.
	// +kubebuilder:validation:Minimum=0
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="WAL partition size (bytes)",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:number","urn:alm:descriptor:com.tectonic.ui:advanced"}
	WALSizeBytes *int64 `json:"walSizeBytes,omitempty"`

	// OSDsPerDevice is how many OSDs a blank selected disk becomes (1 to
	// 8; default 1). Above 1 the operator splits the disk into that many
	// GPT partitions of equal size (1 MiB aligned; the rest of a size not
	// divisible is left unused at the end), named
	// ceph-osd.<fsid8>.<number> with Ceph's OSD data type GUID, and
	// prepares one OSD on each; every partition must reach minSize, or the
	// disk is left out and its plan says so. It is meant for fast devices
	// (NVMe) that one OSD cannot keep busy. The plan shows the whole
	// layout before anything is written. A disk already split keeps its
	// partitions, and a disk that already is one OSD stays one: changing
	// the value never re-splits anything. A split disk keeps its OSDs'
	// DB on their own partition: a metadataDevice does not apply to it.
	// Nodes and disks can override it.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=8
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="OSDs per device",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:number","urn:alm:descriptor:com.tectonic.ui:advanced"}
	OSDsPerDevice *int32 `json:"osdsPerDevice,omitempty"`
}

// PlacementSpec constrains where node-side pods run.
type PlacementSpec struct {
	// NodeAffinity restricts the nodes that may run discovery and OSDs.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Node affinity",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:nodeAffinity"}
	NodeAffinity *corev1.NodeAffinity `json:"nodeAffinity,omitempty"`

	// Tolerations let node-side pods run on tainted nodes.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Tolerations",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:advanced"}
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
}

// ResourcesSpec sets compute resources of Ceph daemons.
type ResourcesSpec struct {
	// OSD is applied to every OSD container.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="OSD resources",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:resourceRequirements"}
	OSD corev1.ResourceRequirements `json:"osd,omitempty"`

	// Mon is applied to every monitor container.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Monitor resources",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:resourceRequirements"}
	Mon corev1.ResourceRequirements `json:"mon,omitempty"`

	// Mgr is applied to the manager container.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Manager resources",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:resourceRequirements"}
	Mgr corev1.ResourceRequirements `json:"mgr,omitempty"`
}

// CleanupPolicySpec says what deletion does to disk data.
type CleanupPolicySpec struct {
	// Confirmation "yes-really-destroy-data" makes deletion destroy the
	// cluster's data while the finalizer is held: the monitors, manager
	// and OSDs are stopped; then one Job per node wipes every disk whose
	// verdict is an OSD whose BlueStore label carries this cluster's FSID
	// (the agent checks the label again on the node and writes nothing
	// else: blank disks, rejected disks and disks of other clusters are
	// never touched) and removes <dataDirHostPath>/<namespace>/<name>/<fsid>,
	// the monitor stores; the identity Secret, monitor placement and
	// bootstrap record are deleted, so the cluster can no longer be
	// adopted. The condition CleanupInProgress and Events report the
	// progress. The finalizer goes when every Job finished, or 10 minutes
	// after the deletion whatever is left; an Event then names the disks
	// and host directories not cleaned. Any other value, including the
	// default empty one, changes nothing on any disk or host and keeps the
	// identity.
	// +kubebuilder:validation:Enum="";yes-really-destroy-data
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=spec,displayName="Cleanup confirmation",xDescriptors={"urn:alm:descriptor:com.tectonic.ui:text","urn:alm:descriptor:com.tectonic.ui:advanced"}
	Confirmation string `json:"confirmation,omitempty"`
}

// DaemonImage is a Ceph image and the Ceph version it runs.
type DaemonImage struct {
	// Image is the image reference, as in spec.image.
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image"`
	// Version is its Ceph version, as the discovery agents reported it.
	// +kubebuilder:validation:MaxLength=64
	Version string `json:"version"`
}

// NoOut values of OSDRolloutStatus.
const (
	// NoOutSet: the operator set Ceph's noout flag for the rollout, and
	// unsets it once the rollout is over and Ceph has recovered.
	NoOutSet = "Set"
	// NoOutPreset: the flag was set already (by an administrator); the
	// operator leaves it set.
	NoOutPreset = "Preset"
)

// OSDRolloutStatus records the Ceph side of an OSD rollout. Before the
// OSDs of a failure domain restart, the operator sets noout (so Ceph does
// not start moving their data while they restart) and asks Ceph whether
// they may stop without making data unavailable (`ceph osd ok-to-stop`);
// each command runs in a short OSD Job.
type OSDRolloutStatus struct {
	// NoOut says whether the noout flag is held for the rollout: Set (by
	// the operator, which unsets it at the end) or Preset (set by someone
	// else, left as it is). Empty until the flag is set.
	// +kubebuilder:validation:Enum=Set;Preset
	// +optional
	NoOut string `json:"noout,omitempty"`
	// NoOutTime is when noout was set or found set.
	// +optional
	NoOutTime *metav1.Time `json:"noOutTime,omitempty"`
	// Domain is the failure domain (a node, or osd.N with failure domain
	// osd) whose OSDs Ceph last said may stop, and OSDs are their ids.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Domain string `json:"domain,omitempty"`
	// +kubebuilder:validation:MaxItems=1024
	// +listType=atomic
	// +optional
	OSDs []int32 `json:"osds,omitempty"`
	// OKToStopTime is when Ceph said so.
	// +optional
	OKToStopTime *metav1.Time `json:"okToStopTime,omitempty"`
	// Message is what holds the rollout back: Ceph's last answer when it
	// did not let the next failure domain stop, or why noout stays set.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
	// Attempts counts the questions or commands in a row that did not
	// succeed; they are asked again after 10 s, doubling up to 2 min.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LastAttemptTime is when the last of them ended.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty"`
}

// CephClusterStatus is what the operator observed and did.
type CephClusterStatus struct {
	// ObservedGeneration is the generation of the spec the status describes.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Observed generation",xDescriptors={"urn:alm:descriptor:text"}
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready, Progressing, Degraded and the specific
	// Configured, CephVersionSupported, MonitorsReady, ManagerReady,
	// DisksDiscovered, OSDsProvisioned and CephHealthy, and
	// MonitorStoreMissing.
	// +listType=map
	// +listMapKey=type
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Conditions",xDescriptors={"urn:alm:descriptor:io.kubernetes.conditions"}
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// FSID is the Ceph cluster's unique id. Disks whose BlueStore label
	// carries another FSID belong to another cluster and are never used.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="FSID",xDescriptors={"urn:alm:descriptor:text"}
	FSID string `json:"fsid,omitempty"`

	// Nodes is the number of nodes selected for storage.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Nodes",xDescriptors={"urn:alm:descriptor:text"}
	Nodes int32 `json:"nodes,omitempty"`

	// Disks counts the disks discovered on selected nodes.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks"
	Disks DiskCounts `json:"disks,omitzero"`

	// OSDs counts the OSDs.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="OSDs"
	OSDs OSDCounts `json:"osds,omitzero"`

	// NodeSummaries is a short per-node account of at most 50 nodes: those
	// that need attention first, then the others, sorted by name. The counts
	// above cover every node; details per disk are in the DiskInventory
	// named after the node.
	// +listType=map
	// +listMapKey=name
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Per-node summary"
	NodeSummaries []NodeSummary `json:"nodeSummaries,omitempty"`

	// DaemonImage is the Ceph image the monitors, the manager and the OSDs
	// run, or are being rolled to, and its Ceph version: the last
	// spec.image the operator accepted. A later spec.image whose Ceph is
	// older (a downgrade) or more than two major releases newer is
	// refused (CephVersionSupported False) and the daemons stay on this
	// one.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Daemon image"
	DaemonImage *DaemonImage `json:"daemonImage,omitempty"`

	// OSDRollout is how the operator keeps data available while it rolls a
	// change of the OSDs' pod template out, one failure domain at a time:
	// the noout flag it set for the rollout and Ceph's last answer to
	// `ceph osd ok-to-stop`. Absent when no rollout needs it.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="OSD rollout"
	OSDRollout *OSDRolloutStatus `json:"osdRollout,omitempty"`

	// Ceph is Ceph's own view of the cluster (health, checks, OSDs up and
	// in, capacity), published by the reporter next to the mgr.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Ceph status"
	Ceph *CephStatus `json:"ceph,omitempty"`

	// Cephx is the type of the cluster's cephx keys and, while they move
	// to AES-256 (spec.security.cephx.keyType), the migration's progress.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Cephx keys"
	Cephx *CephxStatus `json:"cephx,omitempty"`

	// Monitors are the cluster's monitors: name, node and address. A
	// monitor never moves; one whose node failed is replaced by a new one
	// (spec.mon.failoverTimeout), which names it in replaces.
	// +listType=map
	// +listMapKey=name
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Monitors"
	Monitors []MonitorStatus `json:"monitors,omitempty"`
}

// Steps of CephxStatus.Migration.
const (
	// CephxMigrationImporting: the keys the operator holds are being
	// replaced (one Job, `agent cephx --step import`); prepare Jobs wait.
	CephxMigrationImporting = "Importing"
	// CephxMigrationFinishing: the OSDs' keys and Ceph's own bootstrap
	// users' are being replaced, then AES keys refused (`agent cephx
	// --step finish`).
	CephxMigrationFinishing = "Finishing"
)

// CephxStatus is the type of the cluster's cephx keys and the progress of
// their migration.
type CephxStatus struct {
	// KeyType is the type of the keys the cluster's pods mount: aes or
	// aes256k (from the kept record, ConfigMap <name>-cephx).
	// +kubebuilder:validation:Enum=aes;aes256k
	KeyType string `json:"keyType"`
	// Migration is the step of a migration to aes256k under way:
	// Importing or Finishing; empty when none is.
	// +kubebuilder:validation:Enum="";Importing;Finishing
	// +optional
	Migration string `json:"migration,omitempty"`
	// Message is the last step's outcome or what it waits for.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Message string `json:"message,omitempty"`
	// Attempts counts the runs in a row of the current step that did not
	// finish it; the next waits 10 s, doubling up to 5 min.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LastAttemptTime is when the last of them ended.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty"`
}

// MonitorStatus is one monitor.
type MonitorStatus struct {
	// Name is the monitor's name ("a", "b", ...).
	Name string `json:"name"`
	// Node is the node the monitor is pinned to.
	Node string `json:"node"`
	// Address is the monitor's address vector, as in ceph.conf's mon_host.
	Address string `json:"address"`
	// Ready is true when the monitor's pod is available.
	Ready bool `json:"ready"`
	// Replaces names the monitor this one replaced, if any.
	// +optional
	Replaces string `json:"replaces,omitempty"`
}

// DiskCounts counts disks by verdict.
type DiskCounts struct {
	// Discovered is every disk found on selected nodes.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks discovered",xDescriptors={"urn:alm:descriptor:text"}
	Discovered int32 `json:"discovered"`
	// Available is the disks found empty and eligible.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks available",xDescriptors={"urn:alm:descriptor:text"}
	Available int32 `json:"available"`
	// OSDs is the disks that already hold an OSD of this cluster.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks holding OSDs",xDescriptors={"urn:alm:descriptor:text"}
	OSDs int32 `json:"osds"`
	// Rejected is the disks left alone.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks rejected",xDescriptors={"urn:alm:descriptor:text"}
	Rejected int32 `json:"rejected"`
	// RejectedByReason counts rejected disks per reason code.
	// +listType=map
	// +listMapKey=reason
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Rejected disks by reason"
	RejectedByReason []ReasonCount `json:"rejectedByReason,omitempty"`
	// Failing is the number of disks whose drive reports its health as
	// Failing (status.disks[].health in the node's DiskInventory): those
	// rejected as FailurePredicted, and those holding an OSD, whose data
	// should be moved off before the drive dies. The node summaries name
	// them.
	// +optional
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks failing",xDescriptors={"urn:alm:descriptor:text"}
	Failing int32 `json:"failing,omitempty"`
}

// ReasonCount is a count of disks rejected for one reason.
type ReasonCount struct {
	// Reason is a DiskInventory reason code such as HasPartitions.
	Reason string `json:"reason"`
	// Count is the number of disks rejected for that reason.
	Count int32 `json:"count"`
}

// OSDCounts counts OSDs by state.
type OSDCounts struct {
	// Desired is the number of OSDs the storage selection asks for.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="OSDs desired",xDescriptors={"urn:alm:descriptor:text"}
	Desired int32 `json:"desired"`
	// Preparing is the number of disks being prepared.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks preparing",xDescriptors={"urn:alm:descriptor:text"}
	Preparing int32 `json:"preparing"`
	// Provisioned is the number of OSDs that exist on disk.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="OSDs provisioned",xDescriptors={"urn:alm:descriptor:text"}
	Provisioned int32 `json:"provisioned"`
	// Running is the number of OSDs whose pod is ready.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="OSDs running",xDescriptors={"urn:alm:descriptor:text"}
	Running int32 `json:"running"`
	// Failed is the number of disks whose preparation failed.
	// +operator-sdk:csv:customresourcedefinitions:type=status,displayName="Disks failed",xDescriptors={"urn:alm:descriptor:text"}
	Failed int32 `json:"failed"`
	// Updated counts the OSD Deployments that run the current pod
	// template; while a change rolls out it is below the number of OSD
	// Deployments.
	// +optional
	Updated int32 `json:"updated,omitempty"`
	// Decommissioning is the number of OSDs being taken out of the
	// cluster (spec.storage.decommission).
	// +optional
	Decommissioning int32 `json:"decommissioning,omitempty"`
	// Missing is the number of OSDs whose disk is no longer found on its
	// node.
	// +optional
	Missing int32 `json:"missing,omitempty"`
	// Failing is the number of OSDs whose daemon keeps crashing (their
	// disk's plan says Failed with OSDFailing); they are also counted as
	// provisioned.
	// +optional
	Failing int32 `json:"failing,omitempty"`
}

// NodeSummary is a short account of one node.
type NodeSummary struct {
	// Name is the node's name.
	Name string `json:"name"`
	// Disks is the number of disks discovered on the node.
	Disks int32 `json:"disks"`
	// Available is the number of disks found empty and eligible.
	Available int32 `json:"available"`
	// OSDs is the number of OSDs on the node.
	OSDs int32 `json:"osds"`
	// Message explains anything that needs attention on this node.
	// +optional
	Message string `json:"message,omitempty"`
}

// MaxClusterNameLength is the longest CephCluster name admission accepts.
// Every object the operator derives from a cluster is named
// "<cluster>-<suffix>", and the longest suffix is the prepare Job's
// "-prepare-" and a 10-hex-digit hash of its node (19 characters). A Job's
// name is also the value of its pods' job-name label, which may not exceed
// 63 characters: 63 - 19 = 44, and the bound keeps two characters spare so
// that a longer suffix can come without stranding existing clusters. With
// it every derived name (Jobs, OSD Deployments
// "<cluster>-osd-<id>" up to id 2147483647, monitors, manager, reporter,
// discovery DaemonSet, ServiceAccounts, Roles, ConfigMaps, Secrets) and the
// cluster label's value stay within 63 characters.
const MaxClusterNameLength = 42

// CephCluster is a Ceph cluster whose OSDs are made from the disks of this
// Kubernetes cluster's nodes. At most one CephCluster per namespace is
// reconciled; another one is reported with reason DuplicateCluster.
//
// Its name is at most 42 characters (MaxClusterNameLength) of lowercase
// letters, digits and '-', starting and ending with a letter or digit, so
// that the names and label values derived from it are valid.
//
// The name is checked on create only (names cannot change): a cluster
// created before the bound existed can still be updated and deleted.
//
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.size() <= 42",optionalOldSelf=true,message="metadata.name must be at most 42 characters: the operator names objects after the cluster, and the longest, the prepare Job <name>-prepare-<hash of the node>, is also a label value limited to 63 characters"
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",optionalOldSelf=true,message="metadata.name must consist of lowercase letters, digits and '-', and start and end with a letter or digit (no '.'): it is used in label values and DNS names"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ceph;cc,categories=ceph
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodes`
// +kubebuilder:printcolumn:name="Disks",type=integer,JSONPath=`.status.disks.discovered`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.disks.available`,priority=1
// +kubebuilder:printcolumn:name="OSDs",type=integer,JSONPath=`.status.osds.running`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.osds.desired`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +operator-sdk:csv:customresourcedefinitions:displayName="Ceph Cluster",resources={{Secret,v1},{ConfigMap,v1},{DaemonSet,v1},{Deployment,v1},{Job,v1},{DiskInventory,v1alpha1}}
type CephCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CephClusterSpec   `json:"spec"`
	Status CephClusterStatus `json:"status,omitempty"`
}

// CephClusterList is a list of CephClusters.
//
// +kubebuilder:object:root=true
type CephClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CephCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CephCluster{}, &CephClusterList{})
}

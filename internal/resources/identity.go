package resources

import (
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// Keys of the identity Secret. Each keyring is its own key so that a pod
// mounts only the keyring it needs (Secret volume items).
const (
	SecretKeyFSID                = "fsid"
	SecretKeyMonKeyring          = "mon.keyring"
	SecretKeyAdminKeyring        = "admin.keyring"
	SecretKeyBootstrapOSDKeyring = "bootstrap-osd.keyring"
	SecretKeyMgrKeyring          = "mgr.keyring"
	SecretKeyReporterKeyring     = "reporter.keyring"
	// SecretKeyMonInitialKeyring holds every entity above with its
	// capabilities: the keyring the monitors are created with, which puts
	// all keys in the monitors' auth database from the start.
	SecretKeyMonInitialKeyring = "mon-initial.keyring"
	// ConfigMapKeyCephConf is the ceph.conf key of the config ConfigMap.
	ConfigMapKeyCephConf = "ceph.conf"
)

// Identity is a cluster's FSID and cephx keys, generated once.
type Identity struct {
	// FSID is the cluster's unique id.
	FSID string
	// MonKey is the monitors' shared "mon." key.
	MonKey string
	// AdminKey is client.admin's key.
	AdminKey string
	// BootstrapOSDKey is client.bootstrap-osd's key, used by prepare Jobs
	// to register new OSDs.
	BootstrapOSDKey string
	// MgrKey is the manager's key (mgr.a).
	MgrKey string
	// ReporterKey is the health reporter's key (client.reporter): it may
	// only read the monitors' state.
	ReporterKey string
}

// ReporterID is the cephx id of the health reporter.
const ReporterID = "reporter"

// MgrID is the id of the cluster's manager.
const MgrID = "a"

// Capabilities of each entity the operator creates.
var (
	monCaps          = map[string]string{"mon": "allow *"}
	adminCaps        = map[string]string{"mon": "allow *", "mgr": "allow *", "osd": "allow *", "mds": "allow *"}
	bootstrapOSDCaps = map[string]string{"mon": "allow profile bootstrap-osd"}
	mgrCaps          = map[string]string{"mon": "allow profile mgr", "osd": "allow *", "mds": "allow *"}
	// reporterCaps are the health reporter's: `ceph status` and `ceph osd
	// dump` only. "allow r" would also let it read every config-key (which
	// may hold other services' secrets); see ReporterMonCap.
	reporterCaps = map[string]string{"mon": ReporterMonCap}
)

// ReporterMonCap is client.reporter's monitor capability: the two commands
// the reporter sends, `ceph status` (health, quorum, counts) and `ceph osd
// dump` (which OSDs were created and never started; it holds no key). The
// real-node test proves that it is enough for the report and that a read
// of anything else is refused.
//
// Clusters bootstrapped by a release whose reporter may only run `ceph
// status` keep that key; their reporter says in status.ceph.osdMapMessage
// that it cannot read the OSD map (see docs/data-safety.md to widen it).
const ReporterMonCap = `allow command "status", allow command "osd dump"`

// IdentitySecretName is the name of the Secret holding cluster's identity.
func IdentitySecretName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-ceph-identity"
}

// ConfigMapName is the name of the ConfigMap holding cluster's ceph.conf.
func ConfigMapName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-ceph-config"
}

// IdentitySecret builds the Secret that holds the cluster identity. It is
// immutable: the FSID and keys are created once and never rewritten.
//
// It has no owner reference: deleting the CephCluster with the default
// cleanup policy keeps it (with the monitor placement and the monitors'
// stores on the hosts), and a CephCluster created again with the same name
// in the same namespace adopts it, so the OSDs on the disks, whose labels
// carry this FSID, come back with their data. Only the confirmed cleanup
// policy removes it.
func IdentitySecret(cluster *cephv1alpha1.CephCluster, id Identity) *corev1.Secret {
	immutable := true
	mon := ceph.Keyring("mon.", id.MonKey, monCaps)
	admin := ceph.Keyring("client.admin", id.AdminKey, adminCaps)
	bootstrapOSD := ceph.Keyring("client.bootstrap-osd", id.BootstrapOSDKey, bootstrapOSDCaps)
	mgr := ceph.Keyring("mgr."+MgrID, id.MgrKey, mgrCaps)
	reporter := ceph.Keyring("client."+ReporterID, id.ReporterKey, reporterCaps)
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(cluster, IdentitySecretName(cluster), Labels(cluster, "identity"), nil),
		Immutable:  &immutable,
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{
			SecretKeyFSID:                id.FSID,
			SecretKeyMonKeyring:          mon,
			SecretKeyAdminKeyring:        admin,
			SecretKeyBootstrapOSDKeyring: bootstrapOSD,
			SecretKeyMgrKeyring:          mgr,
			SecretKeyReporterKeyring:     reporter,
			SecretKeyMonInitialKeyring:   mon + admin + bootstrapOSD + mgr + reporter,
		},
	}
}

// fsidPattern is a UUID in the form Ceph writes FSIDs (lower-case hex).
var fsidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidateFSID reports whether fsid is a UUID as Ceph writes it. The FSID
// becomes part of host paths and of ceph.conf, so anything else (a "/", a
// "..", a newline) must never get that far.
func ValidateFSID(fsid string) error {
	if !fsidPattern.MatchString(fsid) {
		return fmt.Errorf("FSID %q is not a UUID in lower-case hex (like 6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e)", truncate(fsid, 64))
	}
	return nil
}

// truncate shortens s for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// FSIDFromSecret reads and checks the identity stored in secret. It returns
// an error naming what is wrong when the Secret was edited by hand, so the
// problem is reported instead of being spread to the daemons: the FSID must
// be a UUID before it reaches a host path or ceph.conf.
func FSIDFromSecret(secret *corev1.Secret) (string, error) {
	fsid := string(secret.Data[SecretKeyFSID])
	if fsid == "" {
		return "", fmt.Errorf("secret %s/%s has no %q key", secret.Namespace, secret.Name, SecretKeyFSID)
	}
	if err := ValidateFSID(fsid); err != nil {
		return "", fmt.Errorf("secret %s/%s: %w; the identity is never rewritten: restore the Secret from a backup", secret.Namespace, secret.Name, err)
	}
	for _, k := range []string{SecretKeyMonKeyring, SecretKeyAdminKeyring, SecretKeyBootstrapOSDKeyring, SecretKeyMgrKeyring, SecretKeyReporterKeyring, SecretKeyMonInitialKeyring} {
		if len(secret.Data[k]) == 0 {
			return "", fmt.Errorf("secret %s/%s has no %q key; it was made by an earlier version of the operator "+
				"that did not deploy monitors, and an identity is never rewritten: recreate the CephCluster", secret.Namespace, secret.Name, k)
		}
	}
	return fsid, nil
}

// ConfigMap builds the ConfigMap holding the cluster's ceph.conf, which holds
// no secret.
func ConfigMap(cluster *cephv1alpha1.CephCluster, conf ceph.Config) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(cluster, ConfigMapName(cluster), Labels(cluster, "config"), nil),
		Data:       map[string]string{ConfigMapKeyCephConf: conf.Render()},
	}
}

// KeptObject names an object of a cluster's kept state.
type KeptObject struct {
	// Kind is Secret or ConfigMap.
	Kind string
	// Name is the object's name.
	Name string
	// Optional is true for an object that exists only once something
	// happened (the placement record after a monitor failover).
	Optional bool
}

// KeptState lists the objects that hold what makes a Ceph cluster itself
// and cannot be derived again: the identity Secret (FSID and keys), the
// monitor placement (the addresses in the monitor map) and the bootstrap
// record. Deleting a CephCluster with the default cleanup policy keeps them,
// as it keeps the monitor stores on the hosts and the OSDs on the disks; a
// CephCluster created again with the same name in the same namespace adopts
// them. Only the confirmed cleanup policy deletes them.
func KeptState(cluster *cephv1alpha1.CephCluster) []KeptObject {
	return []KeptObject{
		{Kind: "Secret", Name: IdentitySecretName(cluster)},
		{Kind: "ConfigMap", Name: MonEndpointsName(cluster)},
		{Kind: "ConfigMap", Name: MonBootstrapName(cluster)},
		{Kind: "ConfigMap", Name: MonPlacementName(cluster), Optional: true},
	}
}

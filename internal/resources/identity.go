package resources

import (
	"fmt"
	"regexp"
	"strings"

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
	// AES are the keys of type AES-128, the only type Ceph 16 and 18 read.
	AES Keys
	// AES256K are the same entities' keys of type AES-256, which a
	// cluster created by Ceph 20 or later uses. Empty in the identity of
	// an earlier operator, which made AES keys only.
	AES256K Keys
}

// Keys are the cephx keys of the entities the operator creates, all of one
// type. Which type a cluster uses is decided once, just before its first
// monitor is created (see CephxRecord).
type Keys struct {
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

// keyringKeys are the Secret keys of every keyring, in the names of the
// AES variants.
var keyringKeys = []string{SecretKeyMonKeyring, SecretKeyAdminKeyring, SecretKeyBootstrapOSDKeyring, SecretKeyMgrKeyring, SecretKeyReporterKeyring, SecretKeyMonInitialKeyring}

// SecretKey is the key of the identity Secret that holds keyring (one of
// the SecretKey*Keyring names) with keys of type t: the name itself for
// AES, which every identity holds under the names it always had, and
// "<entity>.aes256k.keyring" for AES-256.
func SecretKey(keyring string, t ceph.KeyType) string {
	if t == ceph.KeyTypeAES {
		return keyring
	}
	return strings.TrimSuffix(keyring, ".keyring") + "." + t.String() + ".keyring"
}

// keyrings renders the keyrings of keys under the Secret keys of type t.
func (k Keys) keyrings(t ceph.KeyType, into map[string]string) {
	mon := ceph.Keyring("mon.", k.MonKey, monCaps)
	admin := ceph.Keyring("client.admin", k.AdminKey, adminCaps)
	bootstrapOSD := ceph.Keyring("client.bootstrap-osd", k.BootstrapOSDKey, bootstrapOSDCaps)
	mgr := ceph.Keyring("mgr."+MgrID, k.MgrKey, mgrCaps)
	reporter := ceph.Keyring("client."+ReporterID, k.ReporterKey, reporterCaps)
	into[SecretKey(SecretKeyMonKeyring, t)] = mon
	into[SecretKey(SecretKeyAdminKeyring, t)] = admin
	into[SecretKey(SecretKeyBootstrapOSDKeyring, t)] = bootstrapOSD
	into[SecretKey(SecretKeyMgrKeyring, t)] = mgr
	into[SecretKey(SecretKeyReporterKeyring, t)] = reporter
	into[SecretKey(SecretKeyMonInitialKeyring, t)] = mon + admin + bootstrapOSD + mgr + reporter
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
//
// It holds every keyring twice, with AES keys and with AES-256 keys: it is
// made before any agent reported the Ceph version of the cluster's image,
// and the type the cluster uses is only chosen before its first monitor is
// created (CephxRecord). An identity without AES-256 keys (id.AES256K
// empty) has the AES keyrings only, as the Secrets of earlier operators.
func IdentitySecret(cluster *cephv1alpha1.CephCluster, id Identity) *corev1.Secret {
	immutable := true
	data := map[string]string{SecretKeyFSID: id.FSID}
	id.AES.keyrings(ceph.KeyTypeAES, data)
	if id.AES256K != (Keys{}) {
		id.AES256K.keyrings(ceph.KeyTypeAES256K, data)
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(cluster, IdentitySecretName(cluster), Labels(cluster, "identity"), nil),
		Immutable:  &immutable,
		Type:       corev1.SecretTypeOpaque,
		StringData: data,
	}
}

// CheckSecretKeys reports whether secret holds every keyring with keys of
// type t, each of which Ceph can read (ceph.ValidateCephxKey) and is of
// that type. An identity Secret of an earlier operator has no AES-256
// keyrings.
func CheckSecretKeys(secret *corev1.Secret, t ceph.KeyType) error {
	for _, k := range keyringKeys {
		name := SecretKey(k, t)
		keyring := string(secret.Data[name])
		if keyring == "" {
			return fmt.Errorf("secret %s/%s has no %q key", secret.Namespace, secret.Name, name)
		}
		if k == SecretKeyMonInitialKeyring {
			// Every entity's: checked through their own keyrings,
			// which hold the same keys.
			continue
		}
		_, got, err := ceph.KeyringKey(keyring)
		if err != nil {
			return fmt.Errorf("secret %s/%s, %q: %w", secret.Namespace, secret.Name, name, err)
		}
		if got != t {
			return fmt.Errorf("secret %s/%s, %q: holds a key of type %s, want %s", secret.Namespace, secret.Name, name, got, t)
		}
	}
	return nil
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
	for _, k := range keyringKeys {
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
// record, and the record of the cluster's cephx key type. Deleting a CephCluster with the default cleanup policy keeps them,
// as it keeps the monitor stores on the hosts and the OSDs on the disks; a
// CephCluster created again with the same name in the same namespace adopts
// them. Only the confirmed cleanup policy deletes them.
func KeptState(cluster *cephv1alpha1.CephCluster) []KeptObject {
	return []KeptObject{
		{Kind: "Secret", Name: IdentitySecretName(cluster)},
		{Kind: "ConfigMap", Name: MonEndpointsName(cluster)},
		{Kind: "ConfigMap", Name: MonBootstrapName(cluster)},
		{Kind: "ConfigMap", Name: CephxRecordName(cluster)},
		{Kind: "ConfigMap", Name: MonPlacementName(cluster), Optional: true},
		{Kind: "ConfigMap", Name: CephxMigrationName(cluster), Optional: true},
	}
}

// CephxRecordName is the ConfigMap recording which type of cephx keys the
// cluster uses.
func CephxRecordName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-cephx"
}

// Keys of the cephx record.
const (
	// CephxKeyFSID is the FSID of the cluster the record is of: a record
	// of another FSID does not apply.
	CephxKeyFSID = "fsid"
	// CephxKeyType is the key type, as ceph.KeyType.String names it.
	CephxKeyType = "keyType"
	// CephxKeyMigration is the step of a migration to AES-256 keys under
	// way (cephv1alpha1.CephxMigrationImporting or Finishing); absent
	// when none is. The type the pods mount is keyType all the same.
	CephxKeyMigration = "migration"
)

// CephxRecord builds the record of the cephx key type the cluster uses:
// written once, just before its first monitor is created, from the Ceph
// release of the image the operator accepted (ceph.KeyTypeForRelease), and
// immutable. Every keyring mounted into a pod is the record's type, until
// a migration to AES-256 keys the administrator asked for
// (spec.security.cephx.keyType, docs/design/0009) writes the migration
// record (CephxMigrationName), which supersedes it. Like the identity
// Secret it has no owner reference and survives the deletion of the
// CephCluster under the default cleanup policy.
func CephxRecord(cluster *cephv1alpha1.CephCluster, fsid string, t ceph.KeyType) *corev1.ConfigMap {
	return keptMonRecord(cluster, CephxRecordName(cluster), map[string]string{CephxKeyFSID: fsid, CephxKeyType: t.String()})
}

// CephxMigrationName is the ConfigMap recording a migration of the
// cluster's keys to AES-256: it supersedes the immutable CephxRecordName
// record once it exists, and holds the same keys (fsid, keyType) and the
// step under way (CephxKeyMigration), so that the migration survives an
// operator restart and the deletion of the CephCluster. The type it says
// goes from aes to aes256k once the monitors have the AES-256 keys of
// every entity the operator holds. Unlike the first record it is updated,
// with its resourceVersion as a precondition.
func CephxMigrationName(cluster *cephv1alpha1.CephCluster) string {
	return cluster.Name + "-cephx-migration"
}

// CephxMigration builds the migration record of the cluster of fsid: its
// keys are of type t, and migration is the step under way ("" when none).
func CephxMigration(cluster *cephv1alpha1.CephCluster, fsid string, t ceph.KeyType, migration string) *corev1.ConfigMap {
	data := map[string]string{CephxKeyFSID: fsid, CephxKeyType: t.String()}
	if migration != "" {
		data[CephxKeyMigration] = migration
	}
	cm := keptMonRecord(cluster, CephxMigrationName(cluster), data)
	cm.Immutable = nil
	return cm
}

// CephxRecordMigration reads the migration step a cephx record holds (""
// when none); it fails on a value the operator does not know (edited by
// hand).
func CephxRecordMigration(rec *corev1.ConfigMap) (string, error) {
	switch m := rec.Data[CephxKeyMigration]; m {
	case "", cephv1alpha1.CephxMigrationImporting, cephv1alpha1.CephxMigrationFinishing:
		return m, nil
	default:
		return "", fmt.Errorf("ConfigMap %s/%s: %q is no migration step (want %q or %q)", rec.Namespace, rec.Name,
			truncate(m, 64), cephv1alpha1.CephxMigrationImporting, cephv1alpha1.CephxMigrationFinishing)
	}
}

// CephxRecordKeyType reads the key type of a cephx record made for fsid.
// It fails when the record is of another FSID or names no type the
// operator knows (edited by hand).
func CephxRecordKeyType(rec *corev1.ConfigMap, fsid string) (ceph.KeyType, error) {
	if got := rec.Data[CephxKeyFSID]; got != fsid {
		return 0, fmt.Errorf("ConfigMap %s/%s records the cephx key type of FSID %q, not of this cluster's %s", rec.Namespace, rec.Name, truncate(got, 64), fsid)
	}
	t, err := ceph.ParseKeyType(rec.Data[CephxKeyType])
	if err != nil {
		return 0, fmt.Errorf("ConfigMap %s/%s: %w", rec.Namespace, rec.Name, err)
	}
	return t, nil
}

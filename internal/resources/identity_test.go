package resources

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// TestFSIDFromSecretRejectsNonUUID checks that an FSID that is not a UUID as
// Ceph writes it never leaves the Secret: it becomes part of host paths and
// of ceph.conf.
func TestFSIDFromSecretRejectsNonUUID(t *testing.T) {
	for _, bad := range []string{
		"f",
		"../../etc",
		"6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e/../x",
		"6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e\nmon_host = 10.0.0.9",
		"6F1C3A3E-3B0E-4C7E-9D1E-0A5B2F3C4D5E",
		" 6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e",
		"6f1c3a3e3b0e4c7e9d1e0a5b2f3c4d5e",
		"6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5",
		"6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5eg",
		strings.Repeat("a", 500),
	} {
		s := IdentitySecret(testCluster(), Identity{FSID: bad, AES: Keys{MonKey: "m", AdminKey: "a", BootstrapOSDKey: "b", MgrKey: "g", ReporterKey: "r"}})
		s.Data = map[string][]byte{}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
		fsid, err := FSIDFromSecret(s)
		if err == nil {
			t.Errorf("FSID %q accepted as %q", bad, fsid)
			continue
		}
		if !strings.Contains(err.Error(), "not a UUID") || len(err.Error()) > 400 {
			t.Errorf("FSID %q: error %q does not say why, or is unbounded", bad, err)
		}
	}
}

// TestCheckSecretKeys: an identity holds each keyring with keys of both
// types, an earlier operator's only with AES ones; a hand-edited keyring
// is named.
func TestCheckSecretKeys(t *testing.T) {
	secret := func(id Identity) *corev1.Secret {
		s := IdentitySecret(testCluster(), id)
		s.Data = map[string][]byte{}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
		return s
	}
	both := secret(Identity{FSID: testFSID, AES: goldenKeys(ceph.KeyTypeAES), AES256K: goldenKeys(ceph.KeyTypeAES256K)})
	for _, kt := range []ceph.KeyType{ceph.KeyTypeAES, ceph.KeyTypeAES256K} {
		if err := CheckSecretKeys(both, kt); err != nil {
			t.Errorf("%s: %v", kt, err)
		}
	}
	older := secret(Identity{FSID: testFSID, AES: goldenKeys(ceph.KeyTypeAES)})
	if err := CheckSecretKeys(older, ceph.KeyTypeAES); err != nil {
		t.Errorf("AES keys of an earlier identity: %v", err)
	}
	if err := CheckSecretKeys(older, ceph.KeyTypeAES256K); err == nil || !strings.Contains(err.Error(), `"mon.aes256k.keyring"`) {
		t.Errorf("AES-256 keys of an earlier identity: %v", err)
	}
	swapped := secret(Identity{FSID: testFSID, AES: goldenKeys(ceph.KeyTypeAES), AES256K: goldenKeys(ceph.KeyTypeAES)})
	if err := CheckSecretKeys(swapped, ceph.KeyTypeAES256K); err == nil || !strings.Contains(err.Error(), "type aes, want aes256k") {
		t.Errorf("AES keys under the AES-256 names: %v", err)
	}
	edited := both.DeepCopy()
	edited.Data[SecretKey(SecretKeyAdminKeyring, ceph.KeyTypeAES256K)] = []byte("[client.admin]\n\tkey = AgAA\n")
	if err := CheckSecretKeys(edited, ceph.KeyTypeAES256K); err == nil || !strings.Contains(err.Error(), "admin.aes256k.keyring") {
		t.Errorf("edited keyring: %v", err)
	}
}

func TestCephxRecordKeyType(t *testing.T) {
	for _, kt := range []ceph.KeyType{ceph.KeyTypeAES, ceph.KeyTypeAES256K} {
		got, err := CephxRecordKeyType(CephxRecord(testCluster(), testFSID, kt), testFSID)
		if err != nil || got != kt {
			t.Errorf("%s: read back %s, %v", kt, got, err)
		}
	}
	if _, err := CephxRecordKeyType(CephxRecord(testCluster(), "99999999-8888-4777-8666-555555555555", ceph.KeyTypeAES256K), testFSID); err == nil {
		t.Error("accepted the record of another FSID")
	}
	rec := CephxRecord(testCluster(), testFSID, ceph.KeyTypeAES256K)
	rec.Data[CephxKeyType] = "des"
	if _, err := CephxRecordKeyType(rec, testFSID); err == nil || !strings.Contains(err.Error(), `"des"`) {
		t.Errorf("unknown type: %v", err)
	}
	if rec.Immutable == nil || !*rec.Immutable || len(rec.OwnerReferences) != 0 {
		t.Error("the record must be immutable and have no owner")
	}
}

package resources

import (
	"strings"
	"testing"
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
		s := IdentitySecret(testCluster(), Identity{FSID: bad, MonKey: "m", AdminKey: "a", BootstrapOSDKey: "b", MgrKey: "g", ReporterKey: "r"})
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

package ceph

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewCephxKeyFormat(t *testing.T) {
	created := time.Unix(1700000000, 123)
	for _, tc := range []struct {
		kind   KeyType
		prefix string
		secret int
	}{
		// Every AES cephx key starts with "AQ" (type 1, little-endian) and
		// is 28 bytes, 40 base64 characters; every AES-256 one starts
		// with "Ag" (type 2) and is 44 bytes, 60 characters.
		{KeyTypeAES, "AQ", 16},
		{KeyTypeAES256K, "Ag", 32},
	} {
		key, err := NewCephxKey(bytes.NewReader(bytes.Repeat([]byte{0xab}, tc.secret)), created, tc.kind)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, tc.prefix) || len(key) != base64.StdEncoding.EncodedLen(12+tc.secret) {
			t.Fatalf("%s key %q: want %d characters starting with %s", tc.kind, key, base64.StdEncoding.EncodedLen(12+tc.secret), tc.prefix)
		}
		raw, _ := base64.StdEncoding.DecodeString(key)
		if got := binary.LittleEndian.Uint32(raw[2:6]); got != 1700000000 {
			t.Errorf("%s key: created %d, want 1700000000", tc.kind, got)
		}
		if got := binary.LittleEndian.Uint16(raw[10:12]); int(got) != tc.secret {
			t.Errorf("%s key: length field %d, want %d", tc.kind, got, tc.secret)
		}
		if !bytes.Equal(raw[12:], bytes.Repeat([]byte{0xab}, tc.secret)) {
			t.Fatalf("%s key: secret bytes not at the end: %x", tc.kind, raw)
		}
		got, err := ValidateCephxKey(key)
		if err != nil || got != tc.kind {
			t.Fatalf("own %s key: type %s, %v", tc.kind, got, err)
		}
	}
	if _, err := NewCephxKey(nil, created, 3); err == nil {
		t.Error("made a key of unknown type 3")
	}
}

// Keys printed by each release's own `ceph-authtool --gen-print-key`
// (16.2.15 and 20.2.4 of the Ceph test images).
func TestValidateCephxKeyOfCeph(t *testing.T) {
	for key, want := range map[string]KeyType{
		"AQADUw1rN9IpFxAA08PPKqqyWD/GYaPM7Y+8Qw==":                     KeyTypeAES,
		"AgADUw1rdJMsEiAAzazZytElWw2GUz4A1ltHqtA/vhRZdOoiiOXXsbdwlSc=": KeyTypeAES256K,
	} {
		got, err := ValidateCephxKey(key)
		if err != nil || got != want {
			t.Errorf("%s: type %s, %v; want %s", key, got, err, want)
		}
	}
}

func TestNewCephxKeyRandom(t *testing.T) {
	for _, kind := range []KeyType{KeyTypeAES, KeyTypeAES256K} {
		a, err := NewCephxKey(nil, time.Now(), kind)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewCephxKey(nil, time.Now(), kind)
		if a == b {
			t.Fatalf("two %s keys from crypto/rand are equal", kind)
		}
	}
}

func TestValidateCephxKeyRejects(t *testing.T) {
	header := func(kind, n byte) []byte { return []byte{kind, 0, 0, 0, 0, 0, 0, 0, 0, 0, n, 0} }
	for name, key := range map[string]string{
		"not base64":          "not base64!",
		"too short":           base64.StdEncoding.EncodeToString([]byte{1, 0, 0}),
		"unknown type":        base64.StdEncoding.EncodeToString(append(header(3, 16), make([]byte, 16)...)),
		"wrong len":           base64.StdEncoding.EncodeToString(append(header(1, 16), make([]byte, 8)...)),
		"AES with 32 bytes":   base64.StdEncoding.EncodeToString(append(header(1, 32), make([]byte, 32)...)),
		"AES-256 with 16":     base64.StdEncoding.EncodeToString(append(header(2, 16), make([]byte, 16)...)),
		"AES-256 short":       base64.StdEncoding.EncodeToString(append(header(2, 32), make([]byte, 16)...)),
		"AES-256 extra bytes": base64.StdEncoding.EncodeToString(append(header(2, 32), make([]byte, 33)...)),
	} {
		if _, err := ValidateCephxKey(key); err == nil {
			t.Errorf("%s: accepted %q", name, key)
		}
	}
}

func TestKeyTypeNames(t *testing.T) {
	for _, kind := range []KeyType{KeyTypeAES, KeyTypeAES256K} {
		got, err := ParseKeyType(kind.String())
		if err != nil || got != kind {
			t.Errorf("ParseKeyType(%q) = %s, %v", kind.String(), got, err)
		}
	}
	if _, err := ParseKeyType("aes128"); err == nil {
		t.Error("ParseKeyType accepted aes128")
	}
	for major, want := range map[int]KeyType{16: KeyTypeAES, 18: KeyTypeAES, 19: KeyTypeAES, 20: KeyTypeAES256K, 21: KeyTypeAES256K} {
		if got := KeyTypeForRelease(major); got != want {
			t.Errorf("KeyTypeForRelease(%d) = %s, want %s", major, got, want)
		}
	}
}

func TestKeyringKey(t *testing.T) {
	key, _ := NewCephxKey(nil, time.Now(), KeyTypeAES256K)
	got, kind, err := KeyringKey(Keyring("client.admin", key, map[string]string{"mon": "allow *"}))
	if err != nil || got != key || kind != KeyTypeAES256K {
		t.Fatalf("KeyringKey = %q, %s, %v; want %q", got, kind, err, key)
	}
	for name, keyring := range map[string]string{
		"no key":   "[client.admin]\n",
		"two keys": Keyring("a", key, nil) + Keyring("b", key, nil),
		"bad key":  Keyring("a", "AQAA", nil),
	} {
		if _, _, err := KeyringKey(keyring); err == nil {
			t.Errorf("%s: accepted %q", name, keyring)
		}
	}
}

func TestNewFSID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, err := NewFSID(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewFSID(nil)
	if !re.MatchString(a) || a == b {
		t.Fatalf("FSIDs %q %q: want two distinct version-4 UUIDs", a, b)
	}
}

func TestKeyringAndConfig(t *testing.T) {
	kr := Keyring("client.bootstrap-osd", "AQkey==", map[string]string{"mon": "allow profile bootstrap-osd"})
	want := "[client.bootstrap-osd]\n\tkey = AQkey==\n\tcaps mon = \"allow profile bootstrap-osd\"\n"
	if kr != want {
		t.Fatalf("keyring:\n%s\nwant:\n%s", kr, want)
	}
	conf := Config{FSID: "f", MonHosts: []string{"v2:127.0.0.1:3300"}}.Render()
	for _, line := range []string{"fsid = f\n", "mon_host = v2:127.0.0.1:3300\n", "auth_cluster_required = cephx\n"} {
		if !strings.Contains(conf, line) {
			t.Errorf("ceph.conf lacks %q:\n%s", line, conf)
		}
	}
	// A new cluster's manager starts without restful (whatever the
	// release's default), the module that cannot load on Debian's 18.2.
	if !strings.Contains(conf, "mgr_initial_modules = iostat nfs\n") || strings.Contains(conf, "restful") {
		t.Errorf("ceph.conf does not start the manager with exactly iostat and nfs:\n%s", conf)
	}
	if strings.Contains(Config{FSID: "f"}.Render(), "mon_host") {
		t.Error("ceph.conf has mon_host with no monitors")
	}
	// The default failure domain host changes nothing in ceph.conf (so
	// existing clusters see the same file); osd spreads over OSDs.
	for _, fd := range []string{"", "host"} {
		if got := (Config{FSID: "f", FailureDomain: fd}).Render(); got != (Config{FSID: "f"}).Render() || strings.Contains(got, "chooseleaf") {
			t.Errorf("failure domain %q changed ceph.conf:\n%s", fd, got)
		}
	}
	one := Config{FSID: "f", FailureDomain: "osd"}.Render()
	for _, line := range []string{"osd_crush_chooseleaf_type = 0\n", "mon_osd_reporter_subtree_level = osd\n"} {
		if !strings.Contains(one, line) {
			t.Errorf("one-node ceph.conf lacks %q:\n%s", line, one)
		}
	}
}

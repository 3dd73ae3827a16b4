package ceph

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewCephxKeyFormat(t *testing.T) {
	created := time.Unix(1700000000, 123)
	key, err := NewCephxKey(bytes.NewReader(bytes.Repeat([]byte{0xab}, 16)), created)
	if err != nil {
		t.Fatal(err)
	}
	// Every AES cephx key starts with "AQ" (type 1, little-endian) and is
	// 28 bytes, 40 base64 characters.
	if !strings.HasPrefix(key, "AQ") || len(key) != 40 {
		t.Fatalf("key %q: want 40 characters starting with AQ", key)
	}
	raw, _ := base64.StdEncoding.DecodeString(key)
	if !bytes.Equal(raw[12:], bytes.Repeat([]byte{0xab}, 16)) {
		t.Fatalf("secret bytes not at the end: %x", raw)
	}
	if err := ValidateCephxKey(key); err != nil {
		t.Fatalf("own key invalid: %v", err)
	}
}

func TestNewCephxKeyRandom(t *testing.T) {
	a, err := NewCephxKey(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewCephxKey(nil, time.Now())
	if a == b {
		t.Fatal("two keys from crypto/rand are equal")
	}
}

func TestValidateCephxKeyRejects(t *testing.T) {
	for name, key := range map[string]string{
		"not base64": "not base64!",
		"too short":  base64.StdEncoding.EncodeToString([]byte{1, 0, 0}),
		"wrong type": base64.StdEncoding.EncodeToString(append([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0}, make([]byte, 16)...)),
		"wrong len":  base64.StdEncoding.EncodeToString(append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0}, make([]byte, 8)...)),
	} {
		if err := ValidateCephxKey(key); err == nil {
			t.Errorf("%s: accepted %q", name, key)
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

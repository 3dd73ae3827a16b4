// Package ceph holds what the operator knows about Ceph itself: cephx keys,
// ceph.conf, the BlueStore label and ceph-volume's output.
package ceph

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
)

// KeyType is the type of a cephx secret, as Ceph encodes it in a CryptoKey.
type KeyType uint16

// The cephx key types the operator knows.
const (
	// KeyTypeAES is AES-128 (CEPH_CRYPTO_AES, a 16-byte secret): the only
	// type Ceph 16 and 18 read, and the type of every key of a cluster
	// created by one of them.
	KeyTypeAES KeyType = 1
	// KeyTypeAES256K is AES-256 (a 32-byte secret), added by Ceph 20
	// (Tentacle). A cluster created by 20 allows only this type and
	// reports AES keys as insecure; 16 and 18 cannot read it.
	KeyTypeAES256K KeyType = 2
)

// String is the name Ceph gives the type (auth_allowed_ciphers).
func (t KeyType) String() string {
	switch t {
	case KeyTypeAES:
		return "aes"
	case KeyTypeAES256K:
		return "aes256k"
	}
	return fmt.Sprintf("unknown(%d)", uint16(t))
}

// SecretLen is the length of a secret of type t, 0 for a type the operator
// does not know.
func (t KeyType) SecretLen() int {
	switch t {
	case KeyTypeAES:
		return 16
	case KeyTypeAES256K:
		return 32
	}
	return 0
}

// ParseKeyType reads a type by the name String gives it.
func ParseKeyType(s string) (KeyType, error) {
	for _, t := range []KeyType{KeyTypeAES, KeyTypeAES256K} {
		if s == t.String() {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown cephx key type %q (want %q or %q)", s, KeyTypeAES, KeyTypeAES256K)
}

// KeyTypeForRelease is the key type of a cluster created on Ceph major
// release major: AES-256 from 20 (Tentacle) on, AES-128 before.
func KeyTypeForRelease(major int) KeyType {
	if major >= 20 {
		return KeyTypeAES256K
	}
	return KeyTypeAES
}

// NewCephxKey returns a new cephx secret of type t in the form Ceph keyrings
// carry (base64): the encoded CryptoKey, that is a little-endian u16 key
// type, a utime_t creation time (u32 seconds, u32 nanoseconds), a u16 secret
// length and the secret bytes. Randomness comes from r (crypto/rand when nil)
// so tests can make keys deterministic.
func NewCephxKey(r io.Reader, created time.Time, t KeyType) (string, error) {
	n := t.SecretLen()
	if n == 0 {
		return "", fmt.Errorf("cannot make a cephx key of type %s", t)
	}
	if r == nil {
		r = rand.Reader
	}
	secret := make([]byte, n)
	if _, err := io.ReadFull(r, secret); err != nil {
		return "", fmt.Errorf("reading random bytes for a cephx key: %w", err)
	}
	buf := make([]byte, 0, 2+8+2+n)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(t))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(created.Unix()))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(created.Nanosecond()))
	buf = binary.LittleEndian.AppendUint16(buf, uint16(n))
	buf = append(buf, secret...)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// ValidateCephxKey reports whether key is a cephx secret Ceph can read, and
// its type: an AES key with a 16-byte secret or an AES-256 key with a
// 32-byte one. The operator checks keys it reads back from the identity
// Secret so that a hand-edited Secret is reported rather than propagated to
// daemons.
func ValidateCephxKey(key string) (KeyType, error) {
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return 0, fmt.Errorf("cephx key is not base64: %w", err)
	}
	if len(raw) < 12 {
		return 0, fmt.Errorf("cephx key is %d bytes, too short", len(raw))
	}
	t := KeyType(binary.LittleEndian.Uint16(raw[0:2]))
	want := t.SecretLen()
	if want == 0 {
		return 0, fmt.Errorf("cephx key has type %d, want %d (%s) or %d (%s)", uint16(t), KeyTypeAES, KeyTypeAES, KeyTypeAES256K, KeyTypeAES256K)
	}
	n := int(binary.LittleEndian.Uint16(raw[10:12]))
	if n != want || len(raw) != 12+n {
		return 0, fmt.Errorf("cephx key of type %s holds a %d-byte secret in %d bytes, want %d", t, n, len(raw), want)
	}
	return t, nil
}

// NewFSID returns a random (version 4) UUID to identify a new Ceph cluster.
func NewFSID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var u [16]byte
	if _, err := io.ReadFull(r, u[:]); err != nil {
		return "", fmt.Errorf("reading random bytes for an FSID: %w", err)
	}
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// Keyring renders a keyring file holding one entity's key and capabilities,
// in the INI form ceph tools read. caps maps a daemon type ("mon", "osd",
// "mgr", "mds") to its capability string and is written in that order.
func Keyring(entity, key string, caps map[string]string) string {
	out := fmt.Sprintf("[%s]\n\tkey = %s\n", entity, key)
	for _, daemon := range []string{"mon", "mgr", "osd", "mds"} {
		if c, ok := caps[daemon]; ok {
			out += fmt.Sprintf("\tcaps %s = %q\n", daemon, c)
		}
	}
	return out
}

// KeyringKey returns the key of the one entity a keyring rendered by
// Keyring holds, checked with ValidateCephxKey.
func KeyringKey(keyring string) (string, KeyType, error) {
	var key string
	found := 0
	for _, line := range strings.Split(keyring, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && strings.TrimSpace(k) == "key" {
			key = strings.TrimSpace(v)
			found++
		}
	}
	if found != 1 {
		return "", 0, fmt.Errorf("keyring holds %d keys, want 1", found)
	}
	t, err := ValidateCephxKey(key)
	if err != nil {
		return "", 0, err
	}
	return key, t, nil
}

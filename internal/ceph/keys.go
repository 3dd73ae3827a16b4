// Package ceph holds what the operator knows about Ceph itself: cephx keys,
// ceph.conf, the BlueStore label and ceph-volume's output.
package ceph

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// cephxKeyTypeAES is the only key type Ceph's cephx uses (CEPH_CRYPTO_AES).
const cephxKeyTypeAES = 1

// cephxSecretLen is the length of an AES-128 cephx secret.
const cephxSecretLen = 16

// NewCephxKey returns a new cephx secret in the form Ceph keyrings carry
// ("AQ..." base64): the encoded CryptoKey, that is a little-endian u16 key
// type, a utime_t creation time (u32 seconds, u32 nanoseconds), a u16 secret
// length and the secret bytes. Randomness comes from r (crypto/rand when nil)
// so tests can make keys deterministic.
func NewCephxKey(r io.Reader, created time.Time) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	secret := make([]byte, cephxSecretLen)
	if _, err := io.ReadFull(r, secret); err != nil {
		return "", fmt.Errorf("reading random bytes for a cephx key: %w", err)
	}
	buf := make([]byte, 0, 2+8+2+cephxSecretLen)
	buf = binary.LittleEndian.AppendUint16(buf, cephxKeyTypeAES)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(created.Unix()))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(created.Nanosecond()))
	buf = binary.LittleEndian.AppendUint16(buf, cephxSecretLen)
	buf = append(buf, secret...)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// ValidateCephxKey reports whether key is a cephx secret Ceph can read. The
// operator checks keys it reads back from the identity Secret so that a
// hand-edited Secret is reported rather than propagated to daemons.
func ValidateCephxKey(key string) error {
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return fmt.Errorf("cephx key is not base64: %w", err)
	}
	if len(raw) < 12 {
		return fmt.Errorf("cephx key is %d bytes, too short", len(raw))
	}
	if t := binary.LittleEndian.Uint16(raw[0:2]); t != cephxKeyTypeAES {
		return fmt.Errorf("cephx key has type %d, want %d (AES)", t, cephxKeyTypeAES)
	}
	n := int(binary.LittleEndian.Uint16(raw[10:12]))
	if n != cephxSecretLen || len(raw) != 12+n {
		return fmt.Errorf("cephx key holds a %d-byte secret in %d bytes, want %d", n, len(raw), cephxSecretLen)
	}
	return nil
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

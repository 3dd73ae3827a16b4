package ceph

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BlueStoreLabelSize is the size of the block that holds the BlueStore label
// at offset 0 of an OSD's main device. The label, its checksum and zero
// padding always fit in it, so readers never need more than this many bytes.
const BlueStoreLabelSize = 4096

// blueStoreMagic is the human-readable text BlueStore writes first so that
// someone looking at a raw device can tell what it is; it is also the
// signature this package keys on.
const blueStoreMagic = "bluestore block device\n"

// blueStoreSignatureLen is the length of the plain-text signature: the magic,
// the 36-character OSD UUID and a newline.
const blueStoreSignatureLen = len(blueStoreMagic) + 36 + 1

// blueStoreStructV is the encoding version this package writes. Version 2
// added the meta map, which is where the cluster FSID and OSD id live.
const blueStoreStructV = 2

// Well-known keys of the BlueStore label's meta map. They are exported so
// that callers (fixtures, the prepare step) name them consistently.
const (
	// MetaWhoAmI holds the OSD id as a decimal string.
	MetaWhoAmI = "whoami"
	// MetaCephFSID holds the FSID of the cluster the OSD belongs to.
	MetaCephFSID = "ceph_fsid"
	// MetaOSDKey holds the OSD's cephx secret; it must never be printed.
	MetaOSDKey = "osd_key"
)

// ErrNoBlueStoreLabel reports that the bytes do not start with a BlueStore
// signature at all. Callers treat it as "not an OSD" and keep looking for
// other signatures, whereas any other parse error means a label is present
// but damaged, which must not be mistaken for a blank device.
var ErrNoBlueStoreLabel = errors.New("no BlueStore label")

// castagnoli is the CRC-32C table used for the label checksum. It is
// created on use rather than kept as package state.
func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// blueStoreCRC computes Ceph's crc32c with seed -1 and no final inversion,
// which is how BlueStore checksums its label. Go's crc32 inverts on the way
// in and out, so inverting its result yields Ceph's value.
func blueStoreCRC(b []byte) uint32 { return ^crc32.Checksum(b, castagnoli()) }

// BlueStoreLabel is the decoded label that ceph-volume and ceph-osd write at
// the start of an OSD's block device. The operator treats it as the source of
// truth for which OSD (and which cluster) owns a disk, so nothing is lost if
// the Kubernetes objects are.
type BlueStoreLabel struct {
	// OSDUUID is the OSD's UUID in canonical lower-case 36-character form.
	OSDUUID string
	// Size is the device size in bytes recorded when the OSD was created.
	Size uint64
	// BirthTime is when the label was written; the zero time if unset.
	BirthTime time.Time
	// Description is a free-form text; BlueStore writes "main" for the
	// main block device.
	Description string
	// Meta is the label's key/value map. It contains the OSD's cephx secret
	// under MetaOSDKey, so never log it; use String instead.
	Meta map[string]string
	// WhoAmI is the OSD id from Meta["whoami"], or -1 if absent.
	WhoAmI int
	// ClusterFSID is the cluster FSID from Meta["ceph_fsid"].
	ClusterFSID string
}

// String renders the label for logs and errors with the osd_key secret
// redacted, so that accidentally printing a label never leaks a key.
func (l BlueStoreLabel) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "BlueStoreLabel{osd_uuid=%s size=%d whoami=%d ceph_fsid=%s description=%q",
		l.OSDUUID, l.Size, l.WhoAmI, l.ClusterFSID, l.Description)
	keys := make([]string, 0, len(l.Meta))
	for k := range l.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := l.Meta[k]
		if k == MetaOSDKey {
			v = "<redacted>"
		}
		fmt.Fprintf(&sb, " %s=%q", k, v)
	}
	sb.WriteString("}")
	return sb.String()
}

// GoString makes %#v print the redacted form too, because %#v would
// otherwise dump the Meta map, secret included.
func (l BlueStoreLabel) GoString() string { return l.String() }

// labelDecoder reads little-endian Ceph encodings from a byte slice and
// bounds every length by the bytes that remain, so a corrupt or hostile
// label can neither panic the parser nor make it allocate much memory.
type labelDecoder struct {
	b   []byte
	off int
}

func (d *labelDecoder) remaining() int { return len(d.b) - d.off }

func (d *labelDecoder) take(n int, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, fmt.Errorf("truncated BlueStore label: %s needs %d bytes at offset %d, %d left", what, n, d.off, d.remaining())
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *labelDecoder) u8(what string) (uint8, error) {
	p, err := d.take(1, what)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (d *labelDecoder) u32(what string) (uint32, error) {
	p, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(p), nil
}

func (d *labelDecoder) u64(what string) (uint64, error) {
	p, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(p), nil
}

func (d *labelDecoder) str(what string) (string, error) {
	n, err := d.u32(what + " length")
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(d.remaining()) {
		return "", fmt.Errorf("truncated BlueStore label: %s length %d exceeds the %d bytes left", what, n, d.remaining())
	}
	p, err := d.take(int(n), what)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// ParseBlueStoreLabel decodes the BlueStore label from the first bytes of a
// device (only the first BlueStoreLabelSize bytes are considered). It returns
// ErrNoBlueStoreLabel when the signature is absent and a descriptive error
// when the signature is present but the rest is damaged, so callers can
// refuse to treat a damaged OSD as a blank disk. Errors never contain meta
// values, so the OSD's secret cannot leak through them.
func ParseBlueStoreLabel(b []byte) (*BlueStoreLabel, error) {
	if len(b) > BlueStoreLabelSize {
		b = b[:BlueStoreLabelSize]
	}
	if len(b) < len(blueStoreMagic) || string(b[:len(blueStoreMagic)]) != blueStoreMagic {
		return nil, ErrNoBlueStoreLabel
	}
	if len(b) < blueStoreSignatureLen {
		return nil, errors.New("truncated BlueStore label: signature is cut short")
	}
	sigUUID := string(b[len(blueStoreMagic) : len(blueStoreMagic)+36])
	if b[blueStoreSignatureLen-1] != '\n' {
		return nil, errors.New("malformed BlueStore label: OSD UUID in signature is not followed by a newline")
	}
	sigRaw, ok := parseUUID(sigUUID)
	if !ok {
		return nil, fmt.Errorf("malformed BlueStore label: signature OSD UUID %q is not a UUID", sigUUID)
	}

	d := &labelDecoder{b: b, off: blueStoreSignatureLen}
	structV, err := d.u8("struct_v")
	if err != nil {
		return nil, err
	}
	compatV, err := d.u8("compat_v")
	if err != nil {
		return nil, err
	}
	structLen, err := d.u32("struct_len")
	if err != nil {
		return nil, err
	}
	if structV < 1 {
		return nil, fmt.Errorf("malformed BlueStore label: struct_v %d", structV)
	}
	if compatV > blueStoreStructV {
		return nil, fmt.Errorf("unsupported BlueStore label: compat_v %d is newer than %d", compatV, blueStoreStructV)
	}
	if uint64(structLen) > uint64(d.remaining()) {
		return nil, fmt.Errorf("truncated BlueStore label: struct_len %d exceeds the %d bytes left", structLen, d.remaining())
	}
	bodyEnd := d.off + int(structLen)
	// Decode the body from a window that ends at struct_len, so that no
	// field can read into the checksum or padding.
	body := &labelDecoder{b: b[:bodyEnd], off: d.off}

	rawUUID, err := body.take(16, "osd_uuid")
	if err != nil {
		return nil, err
	}
	var raw [16]byte
	copy(raw[:], rawUUID)
	if raw != sigRaw {
		return nil, fmt.Errorf("malformed BlueStore label: encoded OSD UUID %s differs from signature %s", formatUUID(raw), formatUUID(sigRaw))
	}
	l := &BlueStoreLabel{OSDUUID: formatUUID(raw), WhoAmI: -1}
	if l.Size, err = body.u64("size"); err != nil {
		return nil, err
	}
	sec, err := body.u32("btime.sec")
	if err != nil {
		return nil, err
	}
	nsec, err := body.u32("btime.nsec")
	if err != nil {
		return nil, err
	}
	if sec != 0 || nsec != 0 {
		if nsec >= 1e9 {
			return nil, fmt.Errorf("malformed BlueStore label: btime nanoseconds %d out of range", nsec)
		}
		l.BirthTime = time.Unix(int64(sec), int64(nsec)).UTC()
	}
	if l.Description, err = body.str("description"); err != nil {
		return nil, err
	}
	l.Meta = map[string]string{}
	if structV >= 2 {
		n, err := body.u32("meta count")
		if err != nil {
			return nil, err
		}
		// Every pair needs at least two 4-byte lengths.
		if uint64(n)*8 > uint64(body.remaining()) {
			return nil, fmt.Errorf("truncated BlueStore label: meta count %d cannot fit in %d bytes", n, body.remaining())
		}
		for i := uint32(0); i < n; i++ {
			k, err := body.str("meta key")
			if err != nil {
				return nil, err
			}
			v, err := body.str("meta value")
			if err != nil {
				return nil, err
			}
			l.Meta[k] = v
		}
	}
	// Fields added by newer encodings are skipped, as Ceph's own decoder
	// does, by jumping to the end announced in the header.
	d.off = bodyEnd
	crcEnd := d.off
	want, err := d.u32("crc")
	if err != nil {
		return nil, err
	}
	if got := blueStoreCRC(b[:crcEnd]); got != want {
		return nil, fmt.Errorf("corrupt BlueStore label: crc32c 0x%08x does not match stored 0x%08x", got, want)
	}

	if v, ok := l.Meta[MetaWhoAmI]; ok {
		id, err := strconv.Atoi(v)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("malformed BlueStore label: whoami %q is not an OSD id", v)
		}
		l.WhoAmI = id
	}
	l.ClusterFSID = strings.ToLower(l.Meta[MetaCephFSID])
	return l, nil
}

// EncodeBlueStoreLabel renders a label exactly as BlueStore lays it out on
// disk (signature, versioned body, crc32c), zero-padded to
// BlueStoreLabelSize bytes. Tests, fixtures and the e2e harness use it to put
// a label onto a device the way ceph-volume would. WhoAmI (when >= 0) and
// ClusterFSID (when set) override the matching Meta keys; meta keys are
// written in sorted order as Ceph's std::map does. OSDUUID must be a
// canonical UUID; any other value produces a label that ParseBlueStoreLabel
// rejects, which is occasionally what a test wants. If the meta map is too
// large to fit, the result is longer than BlueStoreLabelSize and unpadded.
func EncodeBlueStoreLabel(l BlueStoreLabel) []byte {
	meta := make(map[string]string, len(l.Meta)+2)
	for k, v := range l.Meta {
		meta[k] = v
	}
	if l.WhoAmI >= 0 {
		meta[MetaWhoAmI] = strconv.Itoa(l.WhoAmI)
	}
	if l.ClusterFSID != "" {
		meta[MetaCephFSID] = l.ClusterFSID
	}
	raw, _ := parseUUID(l.OSDUUID)
	sigUUID := l.OSDUUID
	if len(sigUUID) > 36 {
		sigUUID = sigUUID[:36]
	}
	sigUUID += strings.Repeat(" ", 36-len(sigUUID))

	var body []byte
	body = append(body, raw[:]...)
	body = binary.LittleEndian.AppendUint64(body, l.Size)
	var sec, nsec uint32
	if !l.BirthTime.IsZero() {
		sec = uint32(l.BirthTime.Unix())
		nsec = uint32(l.BirthTime.Nanosecond())
	}
	body = binary.LittleEndian.AppendUint32(body, sec)
	body = binary.LittleEndian.AppendUint32(body, nsec)
	body = appendString(body, l.Description)
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(keys)))
	for _, k := range keys {
		body = appendString(body, k)
		body = appendString(body, meta[k])
	}

	out := make([]byte, 0, BlueStoreLabelSize)
	out = append(out, blueStoreMagic...)
	out = append(out, sigUUID...)
	out = append(out, '\n')
	out = append(out, blueStoreStructV, 1)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	out = append(out, body...)
	out = binary.LittleEndian.AppendUint32(out, blueStoreCRC(out))
	if len(out) < BlueStoreLabelSize {
		out = append(out, make([]byte, BlueStoreLabelSize-len(out))...)
	}
	return out
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// parseUUID parses the canonical 8-4-4-4-12 hexadecimal form.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return [16]byte{}, false
	}
	return u, true
}

// formatUUID renders 16 bytes in canonical lower-case form, as Ceph's
// stringify(uuid_d) does.
func formatUUID(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

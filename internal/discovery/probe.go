package discovery

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// Probe window sizes. Every signature we look for lives in the first 128 KiB
// (the btrfs superblock at 64 KiB is the furthest) or in the last 128 KiB
// (GPT backup header, md 1.0 and 0.90 superblocks), so this is all the probe
// ever reads.
const (
	probeHeadBytes = 128 * 1024
	probeTailBytes = 128 * 1024
)

// ProbeResult is what reading a device's first and last bytes revealed. It
// fills in whatever the udev database does not say (or when there is no
// udev at all) and is the only source for the BlueStore label.
type ProbeResult struct {
	// Signatures lists every content signature found, most specific first.
	Signatures []string
	// FSUUID is the UUID of the first signature, when it has one.
	FSUUID string
	// FSLabel is the label of the first signature, when it has one.
	FSLabel string
	// PartTableType is "gpt" or "dos", if a partition table was found.
	PartTableType string
	// BlueStore is the parsed BlueStore label, if valid.
	BlueStore *ceph.BlueStoreLabel
	// BlueStoreError is set when a BlueStore signature is present but its
	// label is damaged.
	BlueStoreError string
}

// probeWindow gives bounded access to the bytes read from the head and the
// tail of a device.
type probeWindow struct {
	head    []byte
	tail    []byte
	tailOff int64
	size    int64
}

// at returns n bytes at off if they were read, else nil.
func (w probeWindow) at(off int64, n int) []byte {
	if off < 0 || n < 0 {
		return nil
	}
	end := off + int64(n)
	if end <= int64(len(w.head)) {
		return w.head[off:end]
	}
	if off >= w.tailOff && end <= w.tailOff+int64(len(w.tail)) {
		return w.tail[off-w.tailOff : end-w.tailOff]
	}
	return nil
}

func (w probeWindow) hasAt(off int64, magic string) bool {
	b := w.at(off, len(magic))
	return b != nil && string(b) == magic
}

// readFull reads n bytes at off, accepting a short read only at EOF.
func readFull(r io.ReaderAt, off int64, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := r.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:got], nil
}

// ProbeSignatures reads at most the first and last 128 KiB of a device of
// the given size and reports the signatures it carries. It only reads, and
// it reads through the given ReaderAt, so callers decide how the device is
// opened (read-only). A read error is returned so the caller can mark the
// device unreadable rather than empty.
func ProbeSignatures(r io.ReaderAt, size int64) (ProbeResult, error) {
	var res ProbeResult
	if size < 0 {
		size = 0
	}
	headLen := int64(probeHeadBytes)
	if size < headLen {
		headLen = size
	}
	head, err := readFull(r, 0, int(headLen))
	if err != nil {
		return res, fmt.Errorf("reading first %d bytes: %w", headLen, err)
	}
	w := probeWindow{head: head, size: size, tailOff: size}
	if size > headLen {
		tailOff := size - probeTailBytes
		if tailOff < headLen {
			tailOff = headLen
		}
		tail, err := readFull(r, tailOff, int(size-tailOff))
		if err != nil {
			return res, fmt.Errorf("reading last %d bytes: %w", size-tailOff, err)
		}
		w.tail, w.tailOff = tail, tailOff
	}

	type finding struct{ sig, uuid, label string }
	var found []finding
	add := func(sig, uuid, label string) { found = append(found, finding{sig, uuid, label}) }

	if l, err := ceph.ParseBlueStoreLabel(w.at(0, min(len(head), ceph.BlueStoreLabelSize))); err == nil {
		res.BlueStore = l
		add(SigBlueStore, l.OSDUUID, "")
	} else if !errors.Is(err, ceph.ErrNoBlueStoreLabel) {
		res.BlueStoreError = err.Error()
		add(SigBlueStore, "", "")
	}
	if probeMD(w) {
		add(SigMDRaid, "", "")
	}
	if w.hasAt(0, "LUKS\xba\xbe") {
		add(SigLUKS, cString(w.at(168, 40)), "")
	} else {
		for _, off := range []int64{0x4000, 0x8000, 0x10000} {
			if w.hasAt(off, "SKUL\xba\xbe") {
				add(SigLUKS, "", "")
				break
			}
		}
	}
	for s := int64(0); s < 4; s++ {
		if w.hasAt(s*512, "LABELONE") && w.hasAt(s*512+24, "LVM2 001") {
			add(SigLVM2, "", "")
			break
		}
	}
	if w.hasAt(4096+24, "\xc6\x85\x73\xf6\x4e\x1a\x45\xca\x82\x65\xf5\x7f\x48\xba\x6d\x81") {
		add(SigBcache, "", "")
	}
	for _, ps := range []int64{4096, 8192, 16384, 65536} {
		if w.hasAt(ps-10, "SWAPSPACE2") {
			add(SigSwap, uuidString(w.at(1024+12, 16)), cString(w.at(1024+28, 16)))
			break
		}
		if w.hasAt(ps-10, "SWAP-SPACE") {
			add(SigSwap, "", "")
			break
		}
	}
	if w.hasAt(0, "XFSB") {
		add(SigXFS, uuidString(w.at(32, 16)), cString(w.at(108, 12)))
	}
	if sig := probeExt(w); sig != "" {
		add(sig, uuidString(w.at(1024+0x68, 16)), cString(w.at(1024+0x78, 16)))
	}
	if w.hasAt(65536+64, "_BHRfS_M") {
		add(SigBtrfs, uuidString(w.at(65536+0x20, 16)), cString(w.at(65536+0x12b, 256)))
	}
	vfat := probeVFAT(w)
	if vfat != nil {
		add(SigVFAT, vfat[0], vfat[1])
	}
	if w.hasAt(32769, "CD001") {
		add(SigISO9660, "", strings.TrimSpace(cString(w.at(32768+40, 32))))
	}

	for i, f := range found {
		res.Signatures = append(res.Signatures, f.sig)
		if i == 0 {
			res.FSUUID, res.FSLabel = f.uuid, f.label
		}
	}
	switch {
	case probeGPT(w):
		res.PartTableType = PartTableGPT
	case vfat == nil && probeDOS(w):
		res.PartTableType = PartTableDOS
	}
	return res, nil
}

// mdMagic is the md superblock magic, stored little-endian by 1.x metadata.
const mdMagic = 0xa92b4efc

// probeMD looks for md RAID superblocks: 1.1 at 0, 1.2 at 4 KiB, 1.0 near
// the end, and 0.90 in the last 64 KiB-aligned block (host byte order, so
// both orders are accepted).
func probeMD(w probeWindow) bool {
	v1 := func(off int64) bool {
		b := w.at(off, 8)
		return b != nil && binary.LittleEndian.Uint32(b) == mdMagic && binary.LittleEndian.Uint32(b[4:]) == 1
	}
	if v1(0) || v1(4096) {
		return true
	}
	if w.size >= 8192 && v1((w.size-8192)&^4095) {
		return true
	}
	if w.size >= 2*65536 {
		b := w.at((w.size&^65535)-65536, 8)
		if b != nil && (binary.LittleEndian.Uint32(b) == mdMagic || binary.BigEndian.Uint32(b) == mdMagic) {
			return true
		}
	}
	return false
}

// probeExt recognises ext2/3/4 by the superblock magic at 1080 plus a sane
// block size, and tells them apart by feature flags as blkid does.
func probeExt(w probeWindow) string {
	sb := w.at(1024, 0x80)
	if sb == nil || binary.LittleEndian.Uint16(sb[0x38:]) != 0xEF53 {
		return ""
	}
	if binary.LittleEndian.Uint32(sb[0x18:]) > 6 { // log2(block size) - 10
		return ""
	}
	compat := binary.LittleEndian.Uint32(sb[0x5C:])
	incompat := binary.LittleEndian.Uint32(sb[0x60:])
	const (
		hasJournal = 0x4
		extents    = 0x40
		bit64      = 0x80
		flexBG     = 0x200
	)
	switch {
	case incompat&(extents|bit64|flexBG) != 0:
		return SigExt4
	case compat&hasJournal != 0:
		return SigExt3
	default:
		return SigExt2
	}
}

// probeVFAT recognises a FAT boot sector and returns its volume id and
// label, or nil.
func probeVFAT(w probeWindow) []string {
	if !w.hasAt(510, "\x55\xaa") {
		return nil
	}
	if w.hasAt(82, "FAT32   ") {
		return []string{fatSerial(w.at(67, 4)), strings.TrimSpace(cString(w.at(71, 11)))}
	}
	if w.hasAt(54, "FAT12   ") || w.hasAt(54, "FAT16   ") || w.hasAt(54, "FAT     ") {
		return []string{fatSerial(w.at(39, 4)), strings.TrimSpace(cString(w.at(43, 11)))}
	}
	return nil
}

func fatSerial(b []byte) string {
	if len(b) != 4 {
		return ""
	}
	return fmt.Sprintf("%04X-%04X", binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint16(b))
}

// probeGPT looks for the primary GPT header at LBA 1 (512- and 4096-byte
// sectors) and for the backup header in the last sector, so a disk whose
// primary header was wiped is still recognised as partitioned.
func probeGPT(w probeWindow) bool {
	for _, off := range []int64{512, 4096, w.size - 512, w.size - 4096} {
		if off > 0 && w.hasAt(off, "EFI PART") {
			return true
		}
	}
	return false
}

// probeDOS recognises an MBR partition table: the boot signature plus at
// least one non-empty entry whose boot flag is valid.
func probeDOS(w probeWindow) bool {
	if !w.hasAt(510, "\x55\xaa") {
		return false
	}
	tab := w.at(446, 64)
	if tab == nil {
		return false
	}
	nonEmpty := false
	for i := 0; i < 4; i++ {
		e := tab[i*16 : i*16+16]
		if e[0] != 0 && e[0] != 0x80 {
			return false
		}
		if e[4] != 0 {
			nonEmpty = true
		}
	}
	return nonEmpty
}

// cString returns b up to its first NUL byte, or "" for nil.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// uuidString formats 16 raw bytes as a UUID, or "" if they are all zero.
func uuidString(b []byte) string {
	if len(b) != 16 || bytes.Equal(b, make([]byte, 16)) {
		return ""
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

package discovery

import (
	"bytes"
	"crypto/sha256"
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
// (GPT backup header, md 1.0 and 0.90 superblocks). The probe nevertheless
// reads the first and the last MiB, and requires every byte of both to be
// zero before it calls a device blank: formats we do not recognise (ZFS
// labels at 0, 256 KiB and in the last 512 KiB, fake-RAID metadata near the
// end, a database's own header) leave non-zero bytes there too. Everything
// any probe reads lies inside these windows.
const (
	// ProbeHeadBytes is how much of the start of a device is read.
	ProbeHeadBytes = 1 << 20
	// ProbeTailBytes is how much of the end of a device is read.
	ProbeTailBytes = 1 << 20
)

// zeroBlockSize is the granularity of the all-zero test and of the content
// digest.
const zeroBlockSize = 4096

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
	// NonZero is true when any byte of the head or tail window is not zero.
	NonZero bool
	// FirstNonZero is the absolute offset of the first non-zero byte of
	// the windows (head first), when NonZero.
	FirstNonZero int64
	// NonZeroInTail is true when the first non-zero byte lies in the tail
	// window (the head window is all zero).
	NonZeroInTail bool
	// HeadBytes and TailBytes are how many bytes were read at each end;
	// the tail window starts at Size-TailBytes.
	HeadBytes, TailBytes int64
	// WindowDigest is a SHA-256 over the device size and the non-zero 4 KiB
	// blocks of both windows with their offsets: it changes exactly when
	// what was read changes.
	WindowDigest [sha256.Size]byte
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

// ProbeSignatures reads at most the first and last MiB of a device of the
// given size and reports the signatures it carries, whether any byte read is
// not zero (and the first such offset), and a digest of what it read. It only reads, and
// it reads through the given ReaderAt, so callers decide how the device is
// opened (read-only). A read error is returned so the caller can mark the
// device unreadable rather than empty.
func ProbeSignatures(r io.ReaderAt, size int64) (ProbeResult, error) {
	var res ProbeResult
	if size < 0 {
		size = 0
	}
	headLen := int64(ProbeHeadBytes)
	if size < headLen {
		headLen = size
	}
	head, err := readFull(r, 0, int(headLen))
	if err != nil {
		return res, fmt.Errorf("reading first %d bytes: %w", headLen, err)
	}
	w := probeWindow{head: head, size: size, tailOff: size}
	if size > headLen {
		tailOff := size - ProbeTailBytes
		if tailOff < headLen {
			tailOff = headLen
		}
		tail, err := readFull(r, tailOff, int(size-tailOff))
		if err != nil {
			return res, fmt.Errorf("reading last %d bytes: %w", size-tailOff, err)
		}
		w.tail, w.tailOff = tail, tailOff
	}
	res.HeadBytes, res.TailBytes = int64(len(w.head)), int64(len(w.tail))
	scanWindows(&res, w)

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
	bootSector := vfat != nil
	switch {
	case w.hasAt(3, "NTFS    "):
		add(SigNTFS, "", "")
		bootSector = true
	case w.hasAt(3, "EXFAT   "):
		add(SigExFAT, "", "")
		bootSector = true
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
	case !bootSector && probeDOS(w):
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

// probeDOS recognises an MBR partition table: the boot signature plus four
// entries whose boot flags are valid (0 or 0x80). An empty table (all four
// entries unused, as "fdisk" or "parted mklabel msdos" leave a disk) counts:
// the disk is labelled, and blkid reports PTTYPE="dos" for it. Boot sectors
// of filesystems (FAT, NTFS, exFAT) carry the same 0x55AA signature; the
// caller excludes those first.
func probeDOS(w probeWindow) bool {
	if !w.hasAt(510, "\x55\xaa") {
		return false
	}
	tab := w.at(446, 64)
	if tab == nil {
		return false
	}
	for i := 0; i < 4; i++ {
		e := tab[i*16 : i*16+16]
		if e[0] != 0 && e[0] != 0x80 {
			return false
		}
	}
	return true
}

// scanWindows finds the first non-zero byte of the windows and digests the
// non-zero blocks. Zero blocks are skipped so that the digest of a blank
// disk costs little beyond the zero test itself.
func scanWindows(res *ProbeResult, w probeWindow) {
	h := sha256.New()
	var hdr [16]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(w.size))
	h.Write(hdr[:8])
	walk := func(buf []byte, base int64, tail bool) {
		for off := 0; off < len(buf); off += zeroBlockSize {
			blk := buf[off:min(off+zeroBlockSize, len(buf))]
			i := firstNonZero(blk)
			if i < 0 {
				continue
			}
			if !res.NonZero {
				res.NonZero, res.FirstNonZero, res.NonZeroInTail = true, base+int64(off+i), tail
			}
			binary.LittleEndian.PutUint64(hdr[:8], uint64(base+int64(off)))
			binary.LittleEndian.PutUint64(hdr[8:], uint64(len(blk)))
			h.Write(hdr[:])
			h.Write(blk)
		}
	}
	walk(w.head, 0, false)
	walk(w.tail, w.tailOff, true)
	copy(res.WindowDigest[:], h.Sum(nil))
}

// firstNonZero returns the index of the first non-zero byte of b, or -1.
// Runs of zeroPage bytes are compared with bytes.Equal, which the runtime
// does in vector instructions: the windows are almost always zero, and this
// is most of a probe's CPU time.
func firstNonZero(b []byte) int {
	i := 0
	for ; i+len(zeroPage) <= len(b); i += len(zeroPage) {
		if !bytes.Equal(b[i:i+len(zeroPage)], zeroPage[:]) {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}

// zeroPage is compared against by firstNonZero.
var zeroPage [4096]byte

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

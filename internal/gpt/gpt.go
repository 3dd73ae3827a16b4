// Package gpt reads GUID partition tables and adds partitions to them, in
// pure Go, for the metadata devices that hold the BlueStore DB and WAL
// partitions of OSDs.
//
// It does only what the operator needs: read a table (both copies checked
// by their CRCs), create a table on a disk that has none, and add one entry
// at a time, writing the backup copy before the primary one so that a crash
// between the two leaves one valid copy. It never removes or moves
// partitions. Everything it makes is aligned to Alignment (1 MiB).
package gpt

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"unicode/utf16"
)

// The partition type GUIDs of the partitions the operator makes: Ceph's
// long-standing type codes for a BlueStore DB, a BlueStore WAL and an OSD's
// data partition, which tools such as sgdisk and blkid name as such.
const (
	// TypeCephDB is the type GUID of a BlueStore DB partition.
	TypeCephDB = "30cd0809-c2b2-499c-8879-2d6b78529876"
	// TypeCephWAL is the type GUID of a BlueStore WAL partition.
	TypeCephWAL = "5ce17fce-4087-4169-b7ff-056cc58473f9"
	// TypeCephOSD is the type GUID of an OSD's data partition (its
	// BlueStore main device), one of the partitions of a disk split into
	// several OSDs.
	TypeCephOSD = "4fbd7e29-9d25-41b8-afd0-062c0ceff05d"
)

// Alignment is the boundary every partition made here starts on, and the
// unit of its size.
const Alignment = 1 << 20

// Layout of a table created by Add: 128 entries of 128 bytes, as every
// common partitioning tool makes them.
const (
	newEntryCount = 128
	entrySize     = 128
	headerSize    = 92
	nameUnits     = 36 // UTF-16 code units of an entry's name
	signature     = "EFI PART"
	revision      = 0x00010000
)

// Limits on what Read accepts, far above any real table, so a damaged or
// hostile header cannot make it allocate or read without bound.
const (
	maxEntryCount = 4096
	maxEntrySize  = 4096
	maxEntryBytes = 1 << 20
)

// ErrNoGPT reports that the disk carries no GPT header at all, neither the
// primary nor the backup one. A header that is present but damaged is
// reported by another error.
var ErrNoGPT = errors.New("no GPT")

// Rand is the source of the random GUIDs Add makes (a new table's disk
// GUID, and a partition's when none is given). Tests replace it to get
// reproducible tables.
var Rand = rand.Reader

// Partition is one used entry of a table.
type Partition struct {
	// Number is the entry's 1-based index, the kernel's partition number.
	Number int
	// Name is the entry's GPT name (the partition label).
	Name string
	// Type is the partition type GUID, lower case.
	Type string
	// UUID is the partition's unique GUID (PARTUUID), lower case.
	UUID string
	// FirstLBA and LastLBA are the first and last sector, inclusive.
	FirstLBA, LastLBA uint64
}

// Start returns the partition's offset in bytes.
func (p Partition) Start(sectorSize int) int64 {
	return int64(p.FirstLBA) * int64(sectorSize)
}

// Size returns the partition's size in bytes.
func (p Partition) Size(sectorSize int) int64 {
	return int64(p.LastLBA-p.FirstLBA+1) * int64(sectorSize)
}

// Table is a disk's partition table.
type Table struct {
	// SectorSize is the logical sector size the table was read with.
	SectorSize int
	// DiskGUID is the disk's GUID, lower case.
	DiskGUID string
	// FirstUsableLBA and LastUsableLBA bound where partitions may lie.
	FirstUsableLBA, LastUsableLBA uint64
	// Partitions are the used entries, by Number.
	Partitions []Partition
}

// Partition returns the partition with the given number, if used.
func (t *Table) Partition(number int) (Partition, bool) {
	for _, p := range t.Partitions {
		if p.Number == number {
			return p, true
		}
	}
	return Partition{}, false
}

// header is a decoded GPT header.
type header struct {
	myLBA, altLBA           uint64
	firstUsable, lastUsable uint64
	diskGUID                [16]byte
	entriesLBA              uint64
	entryCount, entrySize   uint32
	entriesCRC              uint32
	headerSize              uint32
	entries                 []byte // the raw entry array
	sectorSize              int
	lastLBA                 uint64
	decodedFrom             string // "primary" or "backup", for messages
}

// ReadWriterAt is what Add needs of a disk.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// Read reads the GPT of a disk of diskSize bytes with the given logical
// sector size. It uses the primary header and entries when their CRCs are
// right, else the backup ones (found through the primary header, or in the
// disk's last sector). It returns ErrNoGPT when neither header's signature
// is there, and another error when a table is there but neither copy is
// valid, or its entries make no sense (out of range, overlapping).
func Read(r io.ReaderAt, diskSize int64, sectorSize int) (*Table, error) {
	h, err := readHeaders(r, diskSize, sectorSize)
	if err != nil {
		return nil, err
	}
	return h.table()
}

// readHeaders returns the valid header to use: the primary one, else the
// backup one (with decodedFrom saying which).
func readHeaders(r io.ReaderAt, diskSize int64, sectorSize int) (*header, error) {
	if sectorSize < 512 || sectorSize > 65536 || sectorSize&(sectorSize-1) != 0 {
		return nil, fmt.Errorf("sector size %d is not a power of two between 512 and 65536", sectorSize)
	}
	ss := int64(sectorSize)
	if diskSize < 3*ss {
		return nil, ErrNoGPT
	}
	lastLBA := uint64(diskSize/ss) - 1
	primary, perr := readHeader(r, 1, sectorSize, lastLBA)
	if perr == nil {
		primary.decodedFrom = "primary"
		return primary, nil
	}
	// A damaged primary header is not trusted to say where its backup
	// lies: the backup header belongs in the last sector.
	backup, berr := readHeader(r, lastLBA, sectorSize, lastLBA)
	if berr == nil {
		backup.decodedFrom = "backup"
		return backup, nil
	}
	if errors.Is(perr, ErrNoGPT) && errors.Is(berr, ErrNoGPT) {
		return nil, ErrNoGPT
	}
	var parts []string
	if !errors.Is(perr, ErrNoGPT) {
		parts = append(parts, "primary: "+perr.Error())
	} else {
		parts = append(parts, "primary header missing")
	}
	if !errors.Is(berr, ErrNoGPT) {
		parts = append(parts, "backup: "+berr.Error())
	} else {
		parts = append(parts, "backup header missing")
	}
	return nil, fmt.Errorf("damaged GPT: %s", strings.Join(parts, "; "))
}

// readHeader reads and checks the header at lba and its entry array. It
// returns ErrNoGPT when the signature is absent.
func readHeader(r io.ReaderAt, lba uint64, sectorSize int, lastLBA uint64) (*header, error) {
	ss := int64(sectorSize)
	raw := make([]byte, sectorSize)
	if _, err := r.ReadAt(raw, int64(lba)*ss); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading LBA %d: %w", lba, err)
	}
	if string(raw[:8]) != signature {
		return nil, ErrNoGPT
	}
	le := binary.LittleEndian
	h := &header{sectorSize: sectorSize, lastLBA: lastLBA}
	h.headerSize = le.Uint32(raw[12:])
	if h.headerSize < headerSize || int(h.headerSize) > sectorSize {
		return nil, fmt.Errorf("header at LBA %d: size %d out of range", lba, h.headerSize)
	}
	stored := le.Uint32(raw[16:])
	chk := append([]byte(nil), raw[:h.headerSize]...)
	le.PutUint32(chk[16:], 0)
	if got := crc32.ChecksumIEEE(chk); got != stored {
		return nil, fmt.Errorf("header at LBA %d: CRC 0x%08x does not match stored 0x%08x", lba, got, stored)
	}
	h.myLBA, h.altLBA = le.Uint64(raw[24:]), le.Uint64(raw[32:])
	h.firstUsable, h.lastUsable = le.Uint64(raw[40:]), le.Uint64(raw[48:])
	copy(h.diskGUID[:], raw[56:72])
	h.entriesLBA = le.Uint64(raw[72:])
	h.entryCount, h.entrySize = le.Uint32(raw[80:]), le.Uint32(raw[84:])
	h.entriesCRC = le.Uint32(raw[88:])
	switch {
	case h.myLBA != lba:
		return nil, fmt.Errorf("header at LBA %d says it is at LBA %d", lba, h.myLBA)
	case h.entrySize < entrySize || h.entrySize > maxEntrySize || h.entrySize%8 != 0:
		return nil, fmt.Errorf("header at LBA %d: entry size %d out of range", lba, h.entrySize)
	case h.entryCount == 0 || h.entryCount > maxEntryCount || uint64(h.entryCount)*uint64(h.entrySize) > maxEntryBytes:
		return nil, fmt.Errorf("header at LBA %d: %d entries out of range", lba, h.entryCount)
	case h.firstUsable > h.lastUsable || h.lastUsable > lastLBA || h.firstUsable < 2:
		return nil, fmt.Errorf("header at LBA %d: usable LBAs %d-%d out of the disk's 0-%d", lba, h.firstUsable, h.lastUsable, lastLBA)
	}
	n := int64(h.entryCount) * int64(h.entrySize)
	sectors := uint64((n + ss - 1) / ss)
	if h.entriesLBA < 2 || h.entriesLBA > lastLBA || h.entriesLBA+sectors-1 > lastLBA {
		return nil, fmt.Errorf("header at LBA %d: entries at LBA %d do not fit on the disk", lba, h.entriesLBA)
	}
	// The entries must not lie in the usable area, nor under the header.
	if h.entriesLBA <= h.lastUsable && h.entriesLBA+sectors-1 >= h.firstUsable {
		return nil, fmt.Errorf("header at LBA %d: entries at LBA %d overlap the usable LBAs %d-%d", lba, h.entriesLBA, h.firstUsable, h.lastUsable)
	}
	if lba >= h.entriesLBA && lba <= h.entriesLBA+sectors-1 {
		return nil, fmt.Errorf("header at LBA %d lies within its own entries", lba)
	}
	h.entries = make([]byte, n)
	if _, err := r.ReadAt(h.entries, int64(h.entriesLBA)*ss); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the entries at LBA %d: %w", h.entriesLBA, err)
	}
	if got := crc32.ChecksumIEEE(h.entries); got != h.entriesCRC {
		return nil, fmt.Errorf("entries at LBA %d: CRC 0x%08x does not match stored 0x%08x", h.entriesLBA, got, h.entriesCRC)
	}
	return h, nil
}

// table decodes the entries, checking that every used one lies in the
// usable area and that none overlap.
func (h *header) table() (*Table, error) {
	t := &Table{
		SectorSize:     h.sectorSize,
		DiskGUID:       formatGUID(h.diskGUID[:]),
		FirstUsableLBA: h.firstUsable,
		LastUsableLBA:  h.lastUsable,
	}
	le := binary.LittleEndian
	for i := 0; i < int(h.entryCount); i++ {
		e := h.entries[i*int(h.entrySize):]
		if allZero(e[:16]) {
			continue
		}
		p := Partition{
			Number:   i + 1,
			Type:     formatGUID(e[0:16]),
			UUID:     formatGUID(e[16:32]),
			FirstLBA: le.Uint64(e[32:]),
			LastLBA:  le.Uint64(e[40:]),
			Name:     decodeName(e[56:128]),
		}
		if p.FirstLBA > p.LastLBA || p.FirstLBA < h.firstUsable || p.LastLBA > h.lastUsable {
			return nil, fmt.Errorf("GPT (%s) entry %d: LBAs %d-%d outside the usable %d-%d", h.decodedFrom, p.Number, p.FirstLBA, p.LastLBA, h.firstUsable, h.lastUsable)
		}
		t.Partitions = append(t.Partitions, p)
	}
	byStart := append([]Partition(nil), t.Partitions...)
	sort.Slice(byStart, func(a, b int) bool { return byStart[a].FirstLBA < byStart[b].FirstLBA })
	for i := 1; i < len(byStart); i++ {
		if byStart[i].FirstLBA <= byStart[i-1].LastLBA {
			return nil, fmt.Errorf("GPT (%s): entries %d and %d overlap", h.decodedFrom, byStart[i-1].Number, byStart[i].Number)
		}
	}
	return t, nil
}

// NewPartition is the partition Add makes.
type NewPartition struct {
	// Number is the entry to use, from 1 to the table's entry count; it
	// must be unused.
	Number int
	// Name is the GPT name, at most 36 UTF-16 code units.
	Name string
	// Type is the type GUID, such as TypeCephDB.
	Type string
	// UUID is the partition's unique GUID; empty makes a random one.
	UUID string
	// Start and Size place it in bytes; both must be multiples of
	// Alignment.
	Start, Size int64
}

// Add adds one partition to the disk's GPT, first creating a GPT (a
// protective MBR and an empty table of 128 entries with a random disk GUID)
// when the disk has none. It refuses a used number, an overlap with another
// partition, a range outside the usable area, a start or size not aligned
// to Alignment, a table whose primary copy is damaged or that does not end
// at the disk's end (the disk was resized), and any table Read rejects. It
// writes the backup entries and header before the primary ones, syncing in
// between when f can (an *os.File), so a crash leaves one valid copy: the
// old table or the new one. It returns the partition as written.
//
// Add writes only the table: the kernel learns of the new partition from
// AddToKernel (or a re-read of the table).
func Add(f ReadWriterAt, diskSize int64, sectorSize int, p NewPartition) (Partition, error) {
	if err := checkNew(p); err != nil {
		return Partition{}, err
	}
	h, err := readHeaders(f, diskSize, sectorSize)
	created := false
	switch {
	case errors.Is(err, ErrNoGPT):
		if h, err = newHeader(diskSize, sectorSize); err != nil {
			return Partition{}, err
		}
		created = true
	case err != nil:
		return Partition{}, fmt.Errorf("not adding partition %d: %w", p.Number, err)
	case h.decodedFrom != "primary":
		return Partition{}, fmt.Errorf("not adding partition %d: the primary GPT is damaged and only the backup copy is valid", p.Number)
	case h.altLBA != h.lastLBA:
		return Partition{}, fmt.Errorf("not adding partition %d: the GPT's backup header is at LBA %d, not at the disk's last LBA %d (was the disk resized?)", p.Number, h.altLBA, h.lastLBA)
	case h.lastUsable >= h.backupEntriesLBA():
		return Partition{}, fmt.Errorf("not adding partition %d: the GPT's layout leaves no room for its entries outside the usable LBAs %d-%d", p.Number, h.firstUsable, h.lastUsable)
	}
	t, err := h.table()
	if err != nil {
		return Partition{}, fmt.Errorf("not adding partition %d: %w", p.Number, err)
	}
	if p.Number > int(h.entryCount) {
		return Partition{}, fmt.Errorf("partition number %d exceeds the table's %d entries", p.Number, h.entryCount)
	}
	if q, used := t.Partition(p.Number); used {
		return Partition{}, fmt.Errorf("partition number %d is in use (%q, type %s)", p.Number, q.Name, q.Type)
	}
	ss := int64(sectorSize)
	if p.Start%ss != 0 || p.Size%ss != 0 {
		return Partition{}, fmt.Errorf("partition %d is not aligned to the %d-byte sectors", p.Number, sectorSize)
	}
	np := Partition{
		Number:   p.Number,
		Name:     p.Name,
		Type:     strings.ToLower(p.Type),
		FirstLBA: uint64(p.Start / ss),
		LastLBA:  uint64((p.Start+p.Size)/ss) - 1,
	}
	if np.FirstLBA < h.firstUsable || np.LastLBA > h.lastUsable {
		return Partition{}, fmt.Errorf("partition %d (bytes %d-%d) lies outside the usable area (bytes %d-%d)",
			p.Number, p.Start, p.Start+p.Size-1, int64(h.firstUsable)*ss, int64(h.lastUsable+1)*ss-1)
	}
	for _, q := range t.Partitions {
		if np.FirstLBA <= q.LastLBA && q.FirstLBA <= np.LastLBA {
			return Partition{}, fmt.Errorf("partition %d (bytes %d-%d) overlaps partition %d (bytes %d-%d)",
				p.Number, p.Start, p.Start+p.Size-1, q.Number, q.Start(sectorSize), q.Start(sectorSize)+q.Size(sectorSize)-1)
		}
	}
	uuid := p.UUID
	if uuid == "" {
		u, err := randomGUID()
		if err != nil {
			return Partition{}, err
		}
		uuid = formatGUID(u[:])
	}
	np.UUID = strings.ToLower(uuid)

	e := h.entries[(p.Number-1)*int(h.entrySize) : p.Number*int(h.entrySize)]
	for i := range e {
		e[i] = 0
	}
	typ, _ := parseGUID(np.Type)
	uid, _ := parseGUID(np.UUID)
	copy(e[0:16], typ[:])
	copy(e[16:32], uid[:])
	binary.LittleEndian.PutUint64(e[32:], np.FirstLBA)
	binary.LittleEndian.PutUint64(e[40:], np.LastLBA)
	copy(e[56:128], encodeName(np.Name))

	if err := h.write(f, created); err != nil {
		return Partition{}, fmt.Errorf("adding partition %d: %w", p.Number, err)
	}
	return np, nil
}

// checkNew validates what can be checked without the disk.
func checkNew(p NewPartition) error {
	switch {
	case p.Number < 1:
		return fmt.Errorf("partition number %d is not positive", p.Number)
	case p.Size <= 0 || p.Start <= 0:
		return fmt.Errorf("partition %d: start %d and size %d must be positive", p.Number, p.Start, p.Size)
	case p.Start%Alignment != 0 || p.Size%Alignment != 0:
		return fmt.Errorf("partition %d: start %d and size %d must be multiples of %d bytes (1 MiB)", p.Number, p.Start, p.Size, Alignment)
	case len(utf16.Encode([]rune(p.Name))) > nameUnits:
		return fmt.Errorf("partition %d: name %q is longer than %d UTF-16 code units", p.Number, p.Name, nameUnits)
	}
	if typ, ok := parseGUID(p.Type); !ok || allZero(typ[:]) {
		return fmt.Errorf("partition %d: type %q is not a non-zero GUID", p.Number, p.Type)
	}
	if p.UUID != "" {
		if u, ok := parseGUID(p.UUID); !ok || allZero(u[:]) {
			return fmt.Errorf("partition %d: UUID %q is not a non-zero GUID", p.Number, p.UUID)
		}
	}
	return nil
}

// newHeader lays out an empty table of 128 entries on a disk without one:
// primary header at LBA 1 and its entries right after, backup entries
// before the backup header in the last sector.
func newHeader(diskSize int64, sectorSize int) (*header, error) {
	ss := int64(sectorSize)
	entrySectors := uint64((newEntryCount*entrySize + ss - 1) / ss)
	if diskSize/ss < int64(2*entrySectors+3) || diskSize < 2*Alignment {
		return nil, fmt.Errorf("a disk of %d bytes is too small for a GPT and a partition", diskSize)
	}
	lastLBA := uint64(diskSize/ss) - 1
	g, err := randomGUID()
	if err != nil {
		return nil, err
	}
	return &header{
		myLBA:       1,
		altLBA:      lastLBA,
		firstUsable: 2 + entrySectors,
		lastUsable:  lastLBA - entrySectors - 1,
		diskGUID:    g,
		entriesLBA:  2,
		entryCount:  newEntryCount,
		entrySize:   entrySize,
		headerSize:  headerSize,
		entries:     make([]byte, newEntryCount*entrySize),
		sectorSize:  sectorSize,
		lastLBA:     lastLBA,
		decodedFrom: "primary",
	}, nil
}

// encode renders the header sector of the copy at myLBA with its entries
// at entriesLBA.
func (h *header) encode(myLBA, altLBA, entriesLBA uint64) []byte {
	raw := make([]byte, h.sectorSize)
	le := binary.LittleEndian
	copy(raw[0:8], signature)
	le.PutUint32(raw[8:], revision)
	le.PutUint32(raw[12:], h.headerSize)
	le.PutUint32(raw[16:], 0)
	le.PutUint32(raw[20:], 0)
	le.PutUint64(raw[24:], myLBA)
	le.PutUint64(raw[32:], altLBA)
	le.PutUint64(raw[40:], h.firstUsable)
	le.PutUint64(raw[48:], h.lastUsable)
	copy(raw[56:72], h.diskGUID[:])
	le.PutUint64(raw[72:], entriesLBA)
	le.PutUint32(raw[80:], h.entryCount)
	le.PutUint32(raw[84:], h.entrySize)
	le.PutUint32(raw[88:], crc32.ChecksumIEEE(h.entries))
	le.PutUint32(raw[16:], crc32.ChecksumIEEE(raw[:h.headerSize]))
	return raw
}

// write stores both copies of the table: the backup entries and header
// first, then (with the protective MBR of a new table) the primary ones.
func (h *header) write(f ReadWriterAt, created bool) error {
	ss := int64(h.sectorSize)
	backupEntriesLBA := h.backupEntriesLBA()
	if _, err := f.WriteAt(h.entries, int64(backupEntriesLBA)*int64(ss)); err != nil {
		return fmt.Errorf("writing the backup entries: %w", err)
	}
	if _, err := f.WriteAt(h.encode(h.lastLBA, 1, backupEntriesLBA), int64(h.lastLBA)*int64(ss)); err != nil {
		return fmt.Errorf("writing the backup header: %w", err)
	}
	if err := syncIfFile(f); err != nil {
		return err
	}
	if created {
		if _, err := f.WriteAt(protectiveMBR(h.lastLBA), 0); err != nil {
			return fmt.Errorf("writing the protective MBR: %w", err)
		}
	}
	if _, err := f.WriteAt(h.entries, int64(h.entriesLBA)*int64(ss)); err != nil {
		return fmt.Errorf("writing the primary entries: %w", err)
	}
	if _, err := f.WriteAt(h.encode(1, h.lastLBA, h.entriesLBA), ss); err != nil {
		return fmt.Errorf("writing the primary header: %w", err)
	}
	return syncIfFile(f)
}

// backupEntriesLBA is where the backup entries go: right before the
// backup header in the last sector, as every common tool puts them.
func (h *header) backupEntriesLBA() uint64 {
	ss := uint64(h.sectorSize)
	return h.lastLBA - (uint64(len(h.entries))+ss-1)/ss
}

func syncIfFile(f ReadWriterAt) error {
	if s, ok := f.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("syncing: %w", err)
		}
	}
	return nil
}

// protectiveMBR returns the first 512 bytes of a GPT disk: one partition
// of type 0xEE covering the disk (or as much of it as 32 bits count).
func protectiveMBR(lastLBA uint64) []byte {
	b := make([]byte, 512)
	e := b[446:462]
	e[1], e[2], e[3] = 0x00, 0x02, 0x00 // CHS of LBA 1
	e[4] = 0xEE
	e[5], e[6], e[7] = 0xFF, 0xFF, 0xFF
	binary.LittleEndian.PutUint32(e[8:], 1)
	binary.LittleEndian.PutUint32(e[12:], uint32(min(lastLBA, 0xFFFFFFFF)))
	b[510], b[511] = 0x55, 0xAA
	return b
}

// NextFree returns the start of the first range of size bytes, aligned to
// Alignment, that no partition of t uses and that lies in the usable area
// of a disk of diskSize bytes. A nil t is an empty disk that Add would give
// a new table. ok is false when there is no such range.
func NextFree(t *Table, diskSize int64, size int64) (start int64, ok bool) {
	if size <= 0 || diskSize <= 0 {
		return 0, false
	}
	var first, end int64 // usable bytes [first, end)
	var parts []Partition
	ss := int64(512)
	if t == nil {
		// A new table's backup copy takes 32 sectors of entries and a
		// header at the end with 512-byte sectors, 4 and 1 with 4 KiB
		// ones: leave room for the larger.
		first, end = Alignment, diskSize-(newEntryCount*entrySize+4096)
	} else {
		ss = int64(t.SectorSize)
		first, end = int64(t.FirstUsableLBA)*ss, int64(t.LastUsableLBA+1)*ss
		parts = append(parts, t.Partitions...)
	}
	sort.Slice(parts, func(a, b int) bool { return parts[a].FirstLBA < parts[b].FirstLBA })
	start = alignUp(first)
	for _, p := range parts {
		ps, pe := p.Start(int(ss)), p.Start(int(ss))+p.Size(int(ss))
		if pe <= start {
			continue
		}
		if start+size <= ps {
			break
		}
		start = alignUp(pe)
	}
	if start+size > end {
		return 0, false
	}
	return start, true
}

func alignUp(n int64) int64 { return (n + Alignment - 1) / Alignment * Alignment }

// parseGUID parses the canonical text form into the on-disk mixed-endian
// bytes: the first three fields little-endian, the rest as written.
func parseGUID(s string) ([16]byte, bool) {
	var g [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, false
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(s[0:8]+s[9:13]+s[14:18]+s[19:23]+s[24:36])); err != nil {
		return g, false
	}
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g, true
}

// formatGUID renders on-disk GUID bytes in canonical lower-case text.
func formatGUID(g []byte) string {
	b := []byte{g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6]}
	b = append(b, g[8:16]...)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomGUID makes a version 4 GUID from Rand, in on-disk byte order.
func randomGUID() ([16]byte, error) {
	var b [16]byte
	if _, err := io.ReadFull(Rand, b[:]); err != nil {
		return b, fmt.Errorf("making a random GUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	g, _ := parseGUID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
	return g, nil
}

// decodeName decodes an entry's UTF-16LE name up to its first NUL.
func decodeName(b []byte) string {
	u := make([]uint16, 0, nameUnits)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// encodeName encodes a name as UTF-16LE (checkNew bounds its length).
func encodeName(s string) []byte {
	var out []byte
	for _, c := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, c)
	}
	return out
}

func allZero(b []byte) bool { return len(bytes.TrimLeft(b, "\x00")) == 0 }

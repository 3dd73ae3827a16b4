package gpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mib = 1 << 20

// seeded makes Add's random GUIDs reproducible for one test.
func seeded(t *testing.T) {
	t.Helper()
	old := Rand
	Rand = rand.NewChaCha8([32]byte{1, 2, 3})
	t.Cleanup(func() { Rand = old })
}

// disk returns a sparse file of size bytes in the test's temp dir.
func disk(t *testing.T, size int64) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReadBlankDisk(t *testing.T) {
	f := disk(t, 64*mib)
	if _, err := Read(f, 64*mib, 512); !errors.Is(err, ErrNoGPT) {
		t.Fatalf("Read of a blank disk = %v, want ErrNoGPT", err)
	}
}

func TestAddRoundTrip(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		t.Run(map[int]string{512: "512", 4096: "4096"}[ss], func(t *testing.T) {
			seeded(t)
			const size = 256 * mib
			f := disk(t, size)
			p1, err := Add(f, size, ss, NewPartition{Number: 1, Name: Label(RoleDB, "1B2C3D4E-0000-4000-8000-000000000000", 1), Type: TypeCephDB, Start: mib, Size: 64 * mib})
			if err != nil {
				t.Fatal(err)
			}
			p3, err := Add(f, size, ss, NewPartition{Number: 3, Name: "ceph-wal.1b2c3d4e.1", Type: strings.ToUpper(TypeCephWAL),
				UUID: "AABBCCDD-1122-4334-8556-778899AABBCC", Start: 65 * mib, Size: 8 * mib})
			if err != nil {
				t.Fatal(err)
			}
			if p3.UUID != "aabbccdd-1122-4334-8556-778899aabbcc" || p3.Type != TypeCephWAL {
				t.Errorf("Add returned %+v, want lower-case GUIDs", p3)
			}
			tab, err := Read(f, size, ss)
			if err != nil {
				t.Fatal(err)
			}
			if len(tab.Partitions) != 2 || tab.Partitions[0] != p1 || tab.Partitions[1] != p3 {
				t.Fatalf("read back %+v, want %+v and %+v", tab.Partitions, p1, p3)
			}
			if p1.Name != "ceph-db.1b2c3d4e.1" || p1.Type != TypeCephDB || p1.Start(ss) != mib || p1.Size(ss) != 64*mib {
				t.Errorf("partition 1 = %+v", p1)
			}
			if len(p1.UUID) != 36 || p1.UUID[14] != '4' {
				t.Errorf("random partition UUID %q is not a version 4 GUID", p1.UUID)
			}
			if tab.DiskGUID == "" || tab.DiskGUID == p1.UUID {
				t.Errorf("disk GUID %q", tab.DiskGUID)
			}
			// The protective MBR covers the disk.
			mbr := make([]byte, 512)
			if _, err := f.ReadAt(mbr, 0); err != nil {
				t.Fatal(err)
			}
			if mbr[446+4] != 0xEE || mbr[510] != 0x55 || mbr[511] != 0xAA || binary.LittleEndian.Uint32(mbr[446+8:]) != 1 {
				t.Errorf("no protective MBR: % x", mbr[446:])
			}
			// The backup copy alone gives the same table.
			zero := make([]byte, ss)
			if _, err := f.WriteAt(zero, int64(ss)); err != nil {
				t.Fatal(err)
			}
			back, err := Read(f, size, ss)
			if err != nil {
				t.Fatalf("reading the backup copy: %v", err)
			}
			if len(back.Partitions) != 2 || back.Partitions[0] != p1 || back.DiskGUID != tab.DiskGUID {
				t.Errorf("backup copy reads %+v", back)
			}
			// ... but Add refuses to build on it.
			if _, err := Add(f, size, ss, NewPartition{Number: 2, Type: TypeCephDB, Start: 100 * mib, Size: mib}); err == nil || !strings.Contains(err.Error(), "primary") {
				t.Errorf("Add on a table with a damaged primary copy = %v, want a refusal", err)
			}
		})
	}
}

func TestAddRefuses(t *testing.T) {
	seeded(t)
	const size = 128 * mib
	f := disk(t, size)
	if _, err := Add(f, size, 512, NewPartition{Number: 2, Name: "x", Type: TypeCephDB, Start: 10 * mib, Size: 10 * mib}); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]NewPartition{
		"used number":        {Number: 2, Type: TypeCephDB, Start: 40 * mib, Size: mib},
		"overlap":            {Number: 1, Type: TypeCephDB, Start: 19 * mib, Size: 2 * mib},
		"overlap inside":     {Number: 1, Type: TypeCephDB, Start: 12 * mib, Size: mib},
		"unaligned start":    {Number: 1, Type: TypeCephDB, Start: mib + 512, Size: mib},
		"unaligned size":     {Number: 1, Type: TypeCephDB, Start: mib, Size: mib - 512},
		"zero start":         {Number: 1, Type: TypeCephDB, Start: 0, Size: mib},
		"past the end":       {Number: 1, Type: TypeCephDB, Start: 127 * mib, Size: mib},
		"number 0":           {Number: 0, Type: TypeCephDB, Start: 40 * mib, Size: mib},
		"number 129":         {Number: 129, Type: TypeCephDB, Start: 40 * mib, Size: mib},
		"bad type":           {Number: 1, Type: "not-a-guid", Start: 40 * mib, Size: mib},
		"zero type":          {Number: 1, Type: "00000000-0000-0000-0000-000000000000", Start: 40 * mib, Size: mib},
		"bad uuid":           {Number: 1, Type: TypeCephDB, UUID: "x", Start: 40 * mib, Size: mib},
		"name too long":      {Number: 1, Type: TypeCephDB, Name: strings.Repeat("n", 37), Start: 40 * mib, Size: mib},
		"negative size":      {Number: 1, Type: TypeCephDB, Start: 40 * mib, Size: -mib},
		"overflowing number": {Number: 1 << 40, Type: TypeCephDB, Start: 40 * mib, Size: mib},
	} {
		before := snapshot(t, f, size)
		if _, err := Add(f, size, 512, p); err == nil {
			t.Errorf("%s: Add(%+v) succeeded", name, p)
		}
		if !bytes.Equal(before, snapshot(t, f, size)) {
			t.Errorf("%s: a refused Add changed the disk", name)
		}
	}
	// A resized disk: the backup header is no longer in the last sector.
	if _, err := Add(f, size+mib, 512, NewPartition{Number: 1, Type: TypeCephDB, Start: 40 * mib, Size: mib}); err == nil {
		t.Error("Add on a grown disk succeeded")
	}
}

// snapshot returns the disk's first and last MiB.
func snapshot(t *testing.T, f *os.File, size int64) []byte {
	t.Helper()
	b := make([]byte, 2*mib)
	if _, err := f.ReadAt(b[:mib], 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(b[mib:], size-mib); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadDamaged(t *testing.T) {
	seeded(t)
	const size = 64 * mib
	f := disk(t, size)
	if _, err := Add(f, size, 512, NewPartition{Number: 1, Name: "a", Type: TypeCephDB, Start: mib, Size: mib}); err != nil {
		t.Fatal(err)
	}
	// Flip a byte of the primary entries: the backup copy is used.
	if _, err := f.WriteAt([]byte{0xff}, 2*512+100); err != nil {
		t.Fatal(err)
	}
	if tab, err := Read(f, size, 512); err != nil || len(tab.Partitions) != 1 {
		t.Fatalf("Read with damaged primary entries = %+v, %v; want the backup copy", tab, err)
	}
	// Damage the backup header too: an error, not ErrNoGPT.
	if _, err := f.WriteAt([]byte{0xff}, size-512+60); err != nil {
		t.Fatal(err)
	}
	_, err := Read(f, size, 512)
	if err == nil || errors.Is(err, ErrNoGPT) {
		t.Fatalf("Read with both copies damaged = %v, want a damage error", err)
	}
	if !strings.Contains(err.Error(), "primary") || !strings.Contains(err.Error(), "backup") {
		t.Errorf("error %q does not name both copies", err)
	}
	if _, err := Add(f, size, 512, NewPartition{Number: 2, Type: TypeCephDB, Start: 8 * mib, Size: mib}); err == nil || errors.Is(err, ErrNoGPT) {
		t.Errorf("Add on a damaged table = %v, want a refusal (never a new table)", err)
	}
	if _, err := Read(f, size, 1000); err == nil {
		t.Error("Read with a sector size of 1000 succeeded")
	}
}

func TestNextFree(t *testing.T) {
	seeded(t)
	const size = 64 * mib
	if s, ok := NextFree(nil, size, 10*mib); !ok || s != mib {
		t.Errorf("NextFree(nil) = %d, %v; want 1 MiB", s, ok)
	}
	if _, ok := NextFree(nil, size, 63*mib); ok {
		t.Error("NextFree(nil) found 63 MiB on a 64 MiB disk")
	}
	if s, ok := NextFree(nil, size, 62*mib); !ok || s != mib {
		t.Errorf("NextFree(nil, 62 MiB) = %d, %v", s, ok)
	}
	for _, c := range []struct {
		size, want int64
		ok         bool
	}{
		{3 * mib, 5 * mib, true},
		{4 * mib, 12 * mib, true},
		{52 * mib, 0, false},
		{51 * mib, 12 * mib, true},
		{0, 0, false},
	} {
		// Partitions at 1-5 MiB and 8-12 MiB.
		f := disk(t, size)
		for _, p := range []NewPartition{
			{Number: 1, Type: TypeCephDB, Start: mib, Size: 4 * mib},
			{Number: 2, Type: TypeCephDB, Start: 8 * mib, Size: 4 * mib},
		} {
			if _, err := Add(f, size, 512, p); err != nil {
				t.Fatal(err)
			}
		}
		tab, err := Read(f, size, 512)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := NextFree(tab, size, c.size)
		if ok != c.ok || (ok && s != c.want) {
			t.Errorf("NextFree(%d MiB) = %d, %v; want %d, %v", c.size/mib, s, ok, c.want, c.ok)
		}
		if ok {
			if _, err := Add(f, size, 512, NewPartition{Number: 9, Type: TypeCephDB, Start: s, Size: c.size}); err != nil {
				t.Errorf("Add at NextFree's %d: %v", s, err)
			}
		}
	}
}

func TestLabel(t *testing.T) {
	if got := Label(RoleDB, "1B2C3D4E-5F60-4718-8293-a4b5c6d7e8f9", 3); got != "ceph-db.1b2c3d4e.3" {
		t.Errorf("Label = %q", got)
	}
	if got := Label(RoleWAL, "deadbeef-0000-4000-8000-000000000000", 12); got != "ceph-wal.deadbeef.12" {
		t.Errorf("Label = %q", got)
	}
	for name, want := range map[string]struct {
		role, fsid8 string
		slot        int
		ok          bool
	}{
		"ceph-db.1b2c3d4e.3":       {RoleDB, "1b2c3d4e", 3, true},
		"ceph-wal.deadbeef.128":    {RoleWAL, "deadbeef", 128, true},
		"ceph-osd.deadbeef.2":      {RoleOSD, "deadbeef", 2, true},
		"ceph-osd.deadbeef.0":      {},
		"ceph-data.deadbeef.2":     {},
		"ceph-db.1B2C3D4E.3":       {},
		"ceph-db.1b2c3d4e.0":       {},
		"ceph-db.1b2c3d4e.03":      {},
		"ceph-db.1b2c3d4e.-1":      {},
		"ceph-db.1b2c3d4e.3.x":     {},
		"ceph-db.1b2c3d4.3":        {},
		"ceph-db.1b2c3d4g.3":       {},
		"ceph-journal.1b2c3d4e.3":  {},
		"ceph-db.1b2c3d4e.":        {},
		"ceph-db.1b2c3d4e":         {},
		"":                         {},
		"EFI System":               {},
		"ceph-db.1b2c3d4e.+3":      {},
		"ceph-db.1b2c3d4e.9999999": {},
	} {
		role, fsid8, slot, ok := ParseLabel(name)
		if role != want.role || fsid8 != want.fsid8 || slot != want.slot || ok != want.ok {
			t.Errorf("ParseLabel(%q) = %q, %q, %d, %v; want %+v", name, role, fsid8, slot, ok, want)
		}
	}
}

// FuzzRead builds a 4 MiB disk from a fuzzed header (put at LBA 1, or in
// the last sector) and fuzzed entries (put where the header says), fixing
// up both CRCs when fix is set so that the fuzzer gets past them, with one
// of four sector sizes. Read must never panic, and a table it accepts holds
// only entries inside its usable area, in order, none overlapping.
func FuzzRead(f *testing.F) {
	img := &memDisk{b: make([]byte, 4*mib)}
	old := Rand
	Rand = rand.NewChaCha8([32]byte{})
	_, err := Add(img, int64(len(img.b)), 512, NewPartition{Number: 1, Name: "ceph-db.00000000.1", Type: TypeCephDB, Start: mib, Size: mib})
	Rand = old
	if err != nil {
		f.Fatal(err)
	}
	f.Add(img.b[512:512+92], img.b[1024:1024+256], uint8(0), false)
	f.Add(img.b[len(img.b)-512:len(img.b)-512+92], img.b[1024:1024+256], uint8(4), true)
	f.Add([]byte("EFI PART"), []byte{}, uint8(3), true)
	f.Fuzz(func(t *testing.T, hdr, entries []byte, mode uint8, fix bool) {
		ss := 512 << (mode % 4)
		const size = 4 * mib
		d := &sparseDisk{head: make([]byte, 64*1024), tail: make([]byte, 64*1024), size: size}
		at := int64(ss)
		if mode&4 != 0 {
			at = size - int64(ss)
		}
		sector := make([]byte, ss)
		copy(sector, hdr)
		le := binary.LittleEndian
		entLBA, n := le.Uint64(sector[72:]), int64(le.Uint32(sector[80:]))*int64(le.Uint32(sector[84:]))
		if entLBA < size/uint64(ss) {
			d.write(entries, int64(entLBA)*int64(ss))
			if fix && n > 0 && n <= maxEntryBytes {
				buf := make([]byte, n)
				if _, err := d.ReadAt(buf, int64(entLBA)*int64(ss)); err == nil {
					le.PutUint32(sector[88:], crc32.ChecksumIEEE(buf))
				}
			}
		}
		if hs := le.Uint32(sector[12:]); fix && hs >= 20 && int(hs) <= ss {
			le.PutUint32(sector[16:], 0)
			le.PutUint32(sector[16:], crc32.ChecksumIEEE(sector[:hs]))
		}
		d.write(sector, at)
		tab, err := Read(d, size, ss)
		if err != nil {
			return
		}
		for i, p := range tab.Partitions {
			if p.FirstLBA > p.LastLBA || p.FirstLBA < tab.FirstUsableLBA || p.LastLBA > tab.LastUsableLBA {
				t.Fatalf("accepted partition %+v outside %d-%d", p, tab.FirstUsableLBA, tab.LastUsableLBA)
			}
			if i > 0 && p.Number <= tab.Partitions[i-1].Number {
				t.Fatalf("partitions out of order: %+v", tab.Partitions)
			}
			for _, q := range tab.Partitions[:i] {
				if p.FirstLBA <= q.LastLBA && q.FirstLBA <= p.LastLBA {
					t.Fatalf("accepted overlapping partitions %+v and %+v", q, p)
				}
			}
		}
	})
}

// memDisk is a disk in memory.
type memDisk struct{ b []byte }

func (m *memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m.b)) {
		return 0, errors.New("out of range")
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, errors.New("short read")
	}
	return n, nil
}

func (m *memDisk) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("out of range")
	}
	return copy(m.b[off:], p), nil
}

// sparseDisk is a disk of size bytes of which only the head and the tail
// hold data; the middle reads as zeros.
type sparseDisk struct {
	head, tail []byte
	size       int64
}

func (d *sparseDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > d.size {
		return 0, errors.New("out of range")
	}
	clear(p)
	end := off + int64(len(p))
	if off < int64(len(d.head)) {
		copy(p, d.head[off:])
	}
	tailOff := d.size - int64(len(d.tail))
	if end > tailOff {
		from := max(off, tailOff)
		copy(p[from-off:], d.tail[from-tailOff:])
	}
	return len(p), nil
}

// write stores what falls into the head or tail of p at off, and drops the
// rest.
func (d *sparseDisk) write(p []byte, off int64) {
	for i, c := range p {
		o := off + int64(i)
		switch tailOff := d.size - int64(len(d.tail)); {
		case o < int64(len(d.head)):
			d.head[o] = c
		case o >= tailOff && o < d.size:
			d.tail[o-tailOff] = c
		}
	}
}

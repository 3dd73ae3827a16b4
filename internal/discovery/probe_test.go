package discovery

import (
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

// sparseDevice is an in-memory ReaderAt of a given size made of chunks over
// zeros, so probe tests can model terabyte devices.
type sparseDevice struct {
	size   int64
	chunks []fixture.Chunk
	reads  *[][2]int64
}

func (s sparseDevice) ReadAt(p []byte, off int64) (int, error) {
	if s.reads != nil {
		*s.reads = append(*s.reads, [2]int64{off, int64(len(p))})
	}
	if off >= s.size {
		return 0, io.EOF
	}
	n := len(p)
	if off+int64(n) > s.size {
		n = int(s.size - off)
	}
	clear(p[:n])
	for _, c := range s.chunks {
		for i, b := range c.Data {
			if o := c.Offset + int64(i) - off; o >= 0 && o < int64(n) {
				p[o] = b
			}
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("EIO") }

func TestProbeSignatures(t *testing.T) {
	const size = 2 * fixture.TiB
	swap64k := fixture.Swap()
	swap64k[0].Data = append(make([]byte, 0), swap64k[0].Data[:4086]...)
	swap64k = append(swap64k, fixture.Chunk{Offset: 65536 - 10, Data: []byte("SWAPSPACE2")})
	md090 := func(order binary.ByteOrder) []fixture.Chunk {
		b := make([]byte, 8)
		order.PutUint32(b, 0xa92b4efc)
		return []fixture.Chunk{{Offset: (size &^ 65535) - 65536, Data: b}}
	}
	md11 := fixture.MDMember()
	md11[0].Offset = 0
	luks2 := []fixture.Chunk{{Offset: 0x4000, Data: []byte("SKUL\xba\xbe")}}
	gptBackupOnly := fixture.GPT(size, 512)[2:]
	hybrid := fixture.Join(fixture.ISO9660("LIVE"), fixture.MBR())

	tests := []struct {
		name   string
		size   int64
		chunks []fixture.Chunk
		sigs   []string
		table  string
		uuid   string
		label  string
	}{
		{name: "blank", size: size},
		{name: "ext4", size: size, chunks: fixture.Ext4("root"), sigs: []string{SigExt4}, uuid: fixture.FixtureUUID, label: "root"},
		{name: "ext3", size: size, chunks: fixture.Ext3(), sigs: []string{SigExt3}, uuid: fixture.FixtureUUID},
		{name: "ext2", size: size, chunks: func() []fixture.Chunk {
			c := fixture.Ext3()
			binary.LittleEndian.PutUint32(c[0].Data[0x5C:], 0)
			return c
		}(), sigs: []string{SigExt2}, uuid: fixture.FixtureUUID},
		{name: "ext magic with absurd block size is ignored", size: size, chunks: func() []fixture.Chunk {
			c := fixture.Ext4("")
			binary.LittleEndian.PutUint32(c[0].Data[0x18:], 40)
			return c
		}()},
		{name: "xfs", size: size, chunks: fixture.XFS("scratch"), sigs: []string{SigXFS}, uuid: fixture.FixtureUUID, label: "scratch"},
		{name: "btrfs", size: size, chunks: fixture.Btrfs(), sigs: []string{SigBtrfs}, uuid: fixture.FixtureUUID},
		{name: "swap 4k", size: size, chunks: fixture.Swap(), sigs: []string{SigSwap}, uuid: fixture.FixtureUUID},
		{name: "swap 64k pages", size: size, chunks: swap64k, sigs: []string{SigSwap}, uuid: fixture.FixtureUUID},
		{name: "old swap", size: size, chunks: []fixture.Chunk{{Offset: 4086, Data: []byte("SWAP-SPACE")}}, sigs: []string{SigSwap}},
		{name: "luks1", size: size, chunks: fixture.LUKS(), sigs: []string{SigLUKS}, uuid: fixture.FixtureUUID},
		{name: "luks2 secondary header only", size: size, chunks: luks2, sigs: []string{SigLUKS}},
		{name: "lvm2 pv", size: size, chunks: fixture.LVM2PV(), sigs: []string{SigLVM2}},
		{name: "LABELONE without LVM2 type", size: size, chunks: []fixture.Chunk{{Offset: 512, Data: []byte("LABELONE")}}},
		{name: "bcache", size: size, chunks: fixture.Bcache(), sigs: []string{SigBcache}},
		{name: "md 1.2", size: size, chunks: fixture.MDMember(), sigs: []string{SigMDRaid}},
		{name: "md 1.1", size: size, chunks: md11, sigs: []string{SigMDRaid}},
		{name: "md 1.0", size: size, chunks: fixture.MDMember10(size), sigs: []string{SigMDRaid}},
		{name: "md 0.90 little endian", size: size, chunks: md090(binary.LittleEndian), sigs: []string{SigMDRaid}},
		{name: "md 0.90 big endian", size: size, chunks: md090(binary.BigEndian), sigs: []string{SigMDRaid}},
		{name: "md 1.0 wins over the ext4 inside it", size: size, chunks: fixture.Join(fixture.Ext4(""), fixture.MDMember10(size)), sigs: []string{SigMDRaid, SigExt4}},
		{name: "vfat", size: size, chunks: fixture.VFAT("EFI"), sigs: []string{SigVFAT}, uuid: "1234-5678", label: "EFI"},
		{name: "iso9660 hybrid", size: size, chunks: hybrid, sigs: []string{SigISO9660}, table: PartTableDOS, label: "LIVE"},
		{name: "gpt 512", size: size, chunks: fixture.GPT(size, 512), table: PartTableGPT},
		{name: "gpt 4096", size: size, chunks: fixture.GPT(size, 4096), table: PartTableGPT},
		{name: "gpt backup only", size: size, chunks: gptBackupOnly, table: PartTableGPT},
		{name: "mbr", size: size, chunks: fixture.MBR(), table: PartTableDOS},
		// An empty MBR (labelled, no partitions yet) is still a table:
		// blkid -p reports PTTYPE="dos" for it.
		{name: "boot signature with empty table", size: size, chunks: []fixture.Chunk{{Offset: 510, Data: []byte{0x55, 0xaa}}}, table: PartTableDOS},
		{name: "ntfs boot sector is no table", size: size, chunks: []fixture.Chunk{{Offset: 3, Data: []byte("NTFS    ")}, {Offset: 510, Data: []byte{0x55, 0xaa}}}, sigs: []string{SigNTFS}},
		{name: "boot signature with invalid boot flag", size: size, chunks: func() []fixture.Chunk {
			c := fixture.MBR()
			c[0].Data[446] = 0x12
			return c
		}()},
		{name: "tiny device", size: 3000, chunks: fixture.Ext4("tiny")[:1], sigs: []string{SigExt4}, uuid: fixture.FixtureUUID, label: "tiny"},
		{name: "empty device", size: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var reads [][2]int64
			res, err := ProbeSignatures(sparseDevice{size: tc.size, chunks: tc.chunks, reads: &reads}, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Signatures, tc.sigs) || res.PartTableType != tc.table || res.FSUUID != tc.uuid || res.FSLabel != tc.label {
				t.Fatalf("got %+v\nwant sigs=%v table=%q uuid=%q label=%q", res, tc.sigs, tc.table, tc.uuid, tc.label)
			}
			var total int64
			for _, r := range reads {
				total += r[1]
			}
			if total > ProbeHeadBytes+ProbeTailBytes {
				t.Errorf("read %d bytes, more than the probe window", total)
			}
		})
	}
}

func TestProbeBlueStore(t *testing.T) {
	const size = fixture.TiB
	l := fixture.Label("fsid-1", 5)
	res, err := ProbeSignatures(sparseDevice{size: size, chunks: fixture.BlueStore(l)}, size)
	if err != nil || res.BlueStore == nil || res.BlueStore.WhoAmI != 5 || res.Signatures[0] != SigBlueStore {
		t.Fatalf("got %+v, %v", res, err)
	}
	bad := fixture.BlueStore(l)
	bad[0].Data[100] ^= 1
	res, err = ProbeSignatures(sparseDevice{size: size, chunks: bad}, size)
	if err != nil || res.BlueStore != nil || res.BlueStoreError == "" || res.Signatures[0] != SigBlueStore {
		t.Fatalf("damaged: got %+v, %v", res, err)
	}
}

func TestProbeReadError(t *testing.T) {
	if _, err := ProbeSignatures(failingReader{}, 1<<30); err == nil {
		t.Fatal("read error not reported")
	}
}

package ceph

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	testOSDUUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	testFSID    = "7d2a1f0e-3c4b-4a59-8e6f-112233445566"
	testSecret  = "AQBsecretsecretsecretsecretsecret0000=="
)

func sampleLabel() BlueStoreLabel {
	return BlueStoreLabel{
		OSDUUID:     testOSDUUID,
		Size:        1920383410176,
		BirthTime:   time.Unix(1700000000, 123456789).UTC(),
		Description: "main",
		Meta: map[string]string{
			"bfm_blocks":          "468843600",
			"kv_backend":          "rocksdb",
			"magic":               "ceph osd volume v026",
			"mkfs_done":           "yes",
			MetaOSDKey:            testSecret,
			"ready":               "ready",
			"require_osd_release": "19",
		},
		WhoAmI:      12,
		ClusterFSID: testFSID,
	}
}

func TestBlueStoreRoundTrip(t *testing.T) {
	in := sampleLabel()
	b := EncodeBlueStoreLabel(in)
	if len(b) != BlueStoreLabelSize {
		t.Fatalf("encoded length %d, want %d", len(b), BlueStoreLabelSize)
	}
	if !bytes.HasPrefix(b, []byte("bluestore block device\n"+testOSDUUID+"\n")) {
		t.Fatalf("encoded label does not start with the signature: %q", b[:60])
	}
	got, err := ParseBlueStoreLabel(b)
	if err != nil {
		t.Fatalf("ParseBlueStoreLabel: %v", err)
	}
	want := in
	want.Meta = map[string]string{}
	for k, v := range in.Meta {
		want.Meta[k] = v
	}
	want.Meta[MetaWhoAmI] = "12"
	want.Meta[MetaCephFSID] = testFSID
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("round trip mismatch:\n got %#v\nwant %#v\nmeta got %v", *got, want, len(got.Meta))
	}
	// Re-encoding the parsed label must give identical bytes.
	if again := EncodeBlueStoreLabel(*got); !bytes.Equal(again, b) {
		t.Fatal("re-encoding a parsed label changed its bytes")
	}
	// Longer input (a whole first MiB) parses the same.
	big := append(append([]byte{}, b...), bytes.Repeat([]byte{0xff}, 1<<20)...)
	if got2, err := ParseBlueStoreLabel(big); err != nil || got2.WhoAmI != 12 {
		t.Fatalf("parsing with trailing data: %v, %v", got2, err)
	}
}

func TestBlueStoreMinimalLabel(t *testing.T) {
	b := EncodeBlueStoreLabel(BlueStoreLabel{OSDUUID: testOSDUUID, WhoAmI: -1})
	got, err := ParseBlueStoreLabel(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.WhoAmI != -1 || got.ClusterFSID != "" || !got.BirthTime.IsZero() || len(got.Meta) != 0 {
		t.Fatalf("unexpected minimal label: %v", got)
	}
}

// encodeRaw builds a label with full control over the header, for the
// malformed-input table.
func encodeRaw(structV, compatV uint8, body []byte, lenDelta int, fixCRC bool) []byte {
	out := []byte(blueStoreMagic + testOSDUUID + "\n")
	out = append(out, structV, compatV)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)+lenDelta))
	out = append(out, body...)
	crc := uint32(0xdeadbeef)
	if fixCRC {
		crc = blueStoreCRC(out)
	}
	out = binary.LittleEndian.AppendUint32(out, crc)
	return append(out, make([]byte, 64)...)
}

func v1Body(desc string) []byte {
	raw, _ := parseUUID(testOSDUUID)
	b := append([]byte{}, raw[:]...)
	b = binary.LittleEndian.AppendUint64(b, 4096)
	b = binary.LittleEndian.AppendUint64(b, 0)
	return appendString(b, desc)
}

func TestParseBlueStoreLabelTable(t *testing.T) {
	good := EncodeBlueStoreLabel(sampleLabel())
	flip := func(off int) []byte {
		c := append([]byte{}, good...)
		c[off] ^= 0x01
		return c
	}
	metaWith := func(k, v string) []byte {
		l := sampleLabel()
		l.WhoAmI = -1
		l.Meta = map[string]string{k: v}
		return EncodeBlueStoreLabel(l)
	}
	hugeMeta := binary.LittleEndian.AppendUint32(v1Body("main"), 0xffffffff)
	hugeStr := binary.LittleEndian.AppendUint32(v1Body("main")[:32], 0x7fffffff)
	otherUUID := append([]byte{}, good...)
	copy(otherUUID[23:], "00000000-0000-0000-0000-000000000000")

	tests := []struct {
		name    string
		in      []byte
		noLabel bool   // expect ErrNoBlueStoreLabel
		errSub  string // expect another error containing this
		check   func(*BlueStoreLabel) error
	}{
		{name: "empty", in: nil, noLabel: true},
		{name: "zeros", in: make([]byte, 4096), noLabel: true},
		{name: "xfs", in: append([]byte("XFSB"), make([]byte, 4092)...), noLabel: true},
		{name: "magic prefix only", in: []byte("bluestore block dev"), noLabel: true},
		{name: "signature cut", in: []byte(blueStoreMagic + testOSDUUID[:10]), errSub: "signature is cut short"},
		{name: "bad uuid", in: append([]byte(blueStoreMagic+strings.Repeat("z", 36)+"\n"), make([]byte, 100)...), errSub: "not a UUID"},
		{name: "no newline", in: append([]byte(blueStoreMagic+testOSDUUID+"X"), make([]byte, 100)...), errSub: "newline"},
		{name: "header truncated", in: []byte(blueStoreMagic + testOSDUUID + "\n\x02"), errSub: "truncated"},
		{name: "struct_len too big", in: encodeRaw(2, 1, v1Body("main"), 5000, true), errSub: "struct_len"},
		{name: "compat too new", in: encodeRaw(3, 3, v1Body("main"), 0, true), errSub: "compat_v"},
		{name: "struct_v zero", in: encodeRaw(0, 0, v1Body("main"), 0, true), errSub: "struct_v"},
		{name: "crc mismatch", in: encodeRaw(1, 1, v1Body("main"), 0, false), errSub: "crc32c"},
		{name: "flipped size bit", in: flip(84), errSub: "crc32c"},
		{name: "uuid differs from signature", in: otherUUID, errSub: "differs"},
		{name: "meta count huge", in: encodeRaw(2, 1, hugeMeta, 0, true), errSub: "meta count"},
		{name: "description length huge", in: encodeRaw(2, 1, hugeStr, 0, true), errSub: "description length"},
		{name: "body shorter than fields", in: encodeRaw(2, 1, v1Body("main")[:20], 0, true), errSub: "truncated"},
		{name: "whoami not a number", in: metaWith(MetaWhoAmI, "osd.3"), errSub: "whoami"},
		{name: "whoami negative", in: metaWith(MetaWhoAmI, "-2"), errSub: "whoami"},
		{name: "v1 label without meta", in: encodeRaw(1, 1, v1Body("main"), 0, true), check: func(l *BlueStoreLabel) error {
			if l.WhoAmI != -1 || l.Description != "main" || l.Size != 4096 {
				return fmt.Errorf("got %v", l)
			}
			return nil
		}},
		{name: "future version with extra field is skipped", in: encodeRaw(3, 1, append(binary.LittleEndian.AppendUint32(v1Body("main"), 0), 1, 2, 3, 4), 0, true), check: func(l *BlueStoreLabel) error {
			if l.Description != "main" {
				return fmt.Errorf("got %v", l)
			}
			return nil
		}},
		{name: "fsid is lower-cased", in: metaWith(MetaCephFSID, strings.ToUpper(testFSID)), check: func(l *BlueStoreLabel) error {
			if l.ClusterFSID != testFSID {
				return fmt.Errorf("fsid %q", l.ClusterFSID)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseBlueStoreLabel(tc.in)
			switch {
			case tc.noLabel:
				if !errors.Is(err, ErrNoBlueStoreLabel) {
					t.Fatalf("want ErrNoBlueStoreLabel, got %v, %v", l, err)
				}
			case tc.errSub != "":
				if err == nil || errors.Is(err, ErrNoBlueStoreLabel) || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("want error containing %q, got %v", tc.errSub, err)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if err := tc.check(l); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestBlueStoreLabelStringRedactsKey(t *testing.T) {
	l := sampleLabel()
	for _, s := range []string{l.String(), fmt.Sprintf("%v", l), fmt.Sprintf("%+v", &l), fmt.Sprintf("%#v", l), fmt.Sprint(l)} {
		if strings.Contains(s, testSecret) {
			t.Fatalf("secret leaked: %s", s)
		}
		if !strings.Contains(s, "whoami=12") || !strings.Contains(s, "<redacted>") {
			t.Fatalf("unexpected rendering: %s", s)
		}
	}
	// Errors from a damaged label must not carry meta values either.
	b := EncodeBlueStoreLabel(l)
	b[100] ^= 0xff
	if _, err := ParseBlueStoreLabel(b); err == nil || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("unexpected error %v", err)
	}
}

func FuzzParseBlueStoreLabel(f *testing.F) {
	f.Add(EncodeBlueStoreLabel(sampleLabel()))
	f.Add(EncodeBlueStoreLabel(BlueStoreLabel{OSDUUID: testOSDUUID, WhoAmI: -1}))
	f.Add(encodeRaw(1, 1, v1Body("main"), 0, true))
	f.Add(encodeRaw(2, 1, binary.LittleEndian.AppendUint32(v1Body("x"), 0xffffffff), 0, true))
	f.Add([]byte(blueStoreMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseBlueStoreLabel(b)
		if err != nil {
			if l != nil {
				t.Fatal("non-nil label with error")
			}
			return
		}
		// Anything that parses must re-encode to something that parses
		// to the same label.
		again, err := ParseBlueStoreLabel(EncodeBlueStoreLabel(*l))
		if err != nil {
			if len(EncodeBlueStoreLabel(*l)) > BlueStoreLabelSize {
				return // does not fit in one label block; acceptable
			}
			t.Fatalf("re-parse failed: %v", err)
		}
		if again.OSDUUID != l.OSDUUID || again.WhoAmI != l.WhoAmI || again.ClusterFSID != l.ClusterFSID || again.Size != l.Size || len(again.Meta) != len(l.Meta) {
			t.Fatalf("re-parse differs: %v vs %v", again, l)
		}
	})
}

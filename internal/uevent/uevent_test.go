package uevent

import (
	"strings"
	"testing"
)

func msg(parts ...string) []byte { return []byte(strings.Join(parts, "\x00") + "\x00") }

func TestParse(t *testing.T) {
	add := msg("add@/devices/virtual/block/loop3", "ACTION=add", "DEVPATH=/devices/virtual/block/loop3",
		"SUBSYSTEM=block", "MAJOR=7", "MINOR=3", "DEVNAME=loop3", "DEVTYPE=disk", "DISKSEQ=13", "SEQNUM=819")
	ev, err := Parse(add)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "add" || ev.DevPath != "/devices/virtual/block/loop3" || ev.Subsystem != "block" ||
		ev.DevName != "loop3" || ev.DevType != "disk" || ev.Seqnum != 819 || ev.Env["DISKSEQ"] != "13" {
		t.Fatalf("parsed %+v", ev)
	}
	if !ev.AffectsBlockDevices() {
		t.Error("a block add must trigger a rescan")
	}

	for name, tc := range map[string]struct {
		in      []byte
		wantErr string
		affects bool
	}{
		"header only":          {in: []byte("remove@/devices/x"), affects: false},
		"partition change":     {in: msg("change@/devices/pci/sdb/sdb1", "ACTION=change", "SUBSYSTEM=block", "DEVTYPE=partition"), affects: true},
		"block remove":         {in: msg("remove@/devices/pci/sdb", "SUBSYSTEM=block"), affects: true},
		"bind is noise":        {in: msg("bind@/devices/pci/0000", "ACTION=bind", "SUBSYSTEM=block")},
		"other subsystem":      {in: msg("add@/devices/net/eth0", "ACTION=add", "SUBSYSTEM=net")},
		"empty":                {in: nil, wantErr: "empty"},
		"no header":            {in: msg("ACTION=add", "SUBSYSTEM=block"), wantErr: "not action@devpath"},
		"header without path":  {in: msg("add@", "SUBSYSTEM=block"), wantErr: "not action@devpath"},
		"field without equals": {in: msg("add@/devices/x", "SUBSYSTEM"), wantErr: "not KEY=VALUE"},
		"contradicting action": {in: msg("add@/devices/x", "ACTION=remove"), wantErr: "disagrees"},
		"contradicting path":   {in: msg("add@/devices/x", "DEVPATH=/devices/y"), wantErr: "disagrees"},
		"bad seqnum":           {in: msg("add@/devices/x", "SEQNUM=abc"), wantErr: "SEQNUM"},
		"udevd message":        {in: append([]byte("libudev\x00\xfe\xed\xca\xfe"), msg("ACTION=add")...), wantErr: "not a kernel uevent"},
		"oversized":            {in: append([]byte("add@/x\x00A="), make([]byte, maxSize)...), wantErr: "exceeds"},
	} {
		t.Run(name, func(t *testing.T) {
			ev, err := Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.AffectsBlockDevices(); got != tc.affects {
				t.Errorf("AffectsBlockDevices = %v, want %v (%+v)", got, tc.affects, ev)
			}
		})
	}
}

// FuzzParse checks that the parser never panics, and that whatever it
// accepts is self-consistent: the header's action and path are the event's,
// and the well-known keys mirror Env.
func FuzzParse(f *testing.F) {
	f.Add(msg("add@/devices/virtual/block/loop3", "ACTION=add", "DEVPATH=/devices/virtual/block/loop3", "SUBSYSTEM=block", "DEVNAME=loop3", "DEVTYPE=disk", "SEQNUM=819"))
	f.Add(msg("change@/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1", "ACTION=change", "SUBSYSTEM=block", "DEVTYPE=partition", "PARTN=1"))
	f.Add(msg("remove@/devices/virtual/block/dm-0", "SUBSYSTEM=block", "DM_NAME=vg-lv", "SEQNUM=18446744073709551615"))
	f.Add([]byte("libudev\x00\xfe\xed\xca\xfe\x28\x00\x00\x00"))
	f.Add([]byte("add@/x\x00=\x00"))
	f.Add([]byte("@\x00\x00\x00"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, in []byte) {
		ev, err := Parse(in)
		if err != nil {
			return
		}
		header, _, _ := strings.Cut(string(in), "\x00")
		if header != ev.Action+"@"+ev.DevPath {
			t.Fatalf("header %q but parsed action %q path %q", header, ev.Action, ev.DevPath)
		}
		if ev.Action == "" || ev.DevPath == "" {
			t.Fatalf("accepted an event without action or path: %+v", ev)
		}
		if ev.Subsystem != ev.Env["SUBSYSTEM"] || ev.DevName != ev.Env["DEVNAME"] || ev.DevType != ev.Env["DEVTYPE"] {
			t.Fatalf("fields disagree with Env: %+v", ev)
		}
		if a, ok := ev.Env["ACTION"]; ok && a != ev.Action {
			t.Fatalf("ACTION %q accepted with header action %q", a, ev.Action)
		}
	})
}

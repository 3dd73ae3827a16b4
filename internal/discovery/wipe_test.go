package discovery

import (
	"strings"
	"testing"
)

func TestWipeConfirmation(t *testing.T) {
	const hash = "3f2a9c1b7d4e00112233445566778899aabbccddeeff00112233445566778899"
	base := WipeIdentity{ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", WWN: "0x5000c500a1b2c3d4", Serial: "ZA1B2C3D", ContentHash: hash, Reason: HasFilesystem}
	cases := []struct {
		name string
		mod  func(*WipeIdentity)
		want string
	}{
		{"wwn first", func(*WipeIdentity) {}, "wwn=0x5000c500a1b2c3d4/content=3f2a9c1b7d4e"},
		{"serial without wwn", func(w *WipeIdentity) { w.WWN = "" }, "serial=ZA1B2C3D/content=3f2a9c1b7d4e"},
		{"id without either", func(w *WipeIdentity) { w.WWN, w.Serial = "", "" }, "id=/dev/disk/by-id/wwn-0x5000c500a1b2c3d4/content=3f2a9c1b7d4e"},
		{"foreign carries the fsid", func(w *WipeIdentity) { w.Reason, w.LabelFSID = ForeignCephCluster, "9999AAAA-0000" },
			"wwn=0x5000c500a1b2c3d4/content=3f2a9c1b7d4e/fsid=9999aaaa-0000"},
		{"foreign without fsid", func(w *WipeIdentity) { w.Reason = ForeignCephCluster }, "wwn=0x5000c500a1b2c3d4/content=3f2a9c1b7d4e/fsid=none"},
		{"no content hash", func(w *WipeIdentity) { w.ContentHash = "" }, ""},
		{"mounted never", func(w *WipeIdentity) { w.Reason = Mounted }, ""},
		{"busy never", func(w *WipeIdentity) { w.Reason = Busy }, ""},
		{"partially prepared never", func(w *WipeIdentity) { w.Reason = PartiallyPrepared }, ""},
		{"shared never", func(w *WipeIdentity) { w.Reason = SharedDevice }, ""},
		{"available never", func(w *WipeIdentity) { w.Reason = "" }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := base
			c.mod(&w)
			if got := WipeConfirmation(w); got != c.want {
				t.Errorf("WipeConfirmation = %q, want %q", got, c.want)
			}
		})
	}
	// Another disk, or the same disk with other content, never gives the
	// same confirmation.
	other := base
	other.WWN = "0x5000c500a1b2c3d5"
	changed := base
	changed.ContentHash = "4" + hash[1:]
	for _, w := range []WipeIdentity{other, changed} {
		if WipeConfirmation(w) == WipeConfirmation(base) {
			t.Errorf("%+v confirms like %+v", w, base)
		}
	}
}

// TestWipeableReasons pins the set: each reason of the chain is wipeable
// exactly when it is one of the five of leftover content.
func TestWipeableReasons(t *testing.T) {
	want := map[Reason]bool{ForeignCephCluster: true, HasFilesystem: true, HasPartitionTable: true, HasPartitions: true, HasUnknownData: true}
	for _, c := range Chain() {
		if Wipeable(c.Reason) != want[c.Reason] {
			t.Errorf("Wipeable(%s) = %v, want %v", c.Reason, Wipeable(c.Reason), want[c.Reason])
		}
	}
	if msg := WipeRefusal(Verdict{State: StateRejected, Reason: Mounted}); !strings.Contains(msg, "Mounted") || !strings.Contains(msg, "HasUnknownData") {
		t.Errorf("refusal of a mounted disk: %q", msg)
	}
	if msg := WipeRefusal(Verdict{State: StateOSD, OSDID: 3}); !strings.Contains(msg, "OSD 3") {
		t.Errorf("refusal of an OSD: %q", msg)
	}
	if msg := WipeRefusal(Verdict{State: StateRejected, Reason: HasPartitions}); msg != "" {
		t.Errorf("HasPartitions refused: %q", msg)
	}
}

// TestInUse feeds each fault of active use and checks it is found on a
// disk whatever else it carries (here a foreign label, which the verdict
// chain reports first).
func TestInUse(t *testing.T) {
	f := faults()
	for _, r := range []Reason{ReadOnly, Mounted, InUseAsSwap, HasHolders, Busy} {
		d := cleanDevice()
		f[ForeignCephCluster].apply(&d)
		f[r].apply(&d)
		if got, msg, ok := InUse(d); ok || got != r || !strings.Contains(msg, f[r].msg) {
			t.Errorf("%s: InUse = %s %q %v", r, got, msg, ok)
		}
	}
	d := cleanDevice()
	d.OpenBy = []Opener{{PID: 42, Command: "dd"}}
	if got, _, ok := InUse(d); ok || got != Busy {
		t.Errorf("open by a process: InUse = %s %v", got, ok)
	}
	d = cleanDevice()
	f[HasPartitions].apply(&d)
	f[ForeignCephCluster].apply(&d)
	if _, _, ok := InUse(d); !ok {
		t.Error("a disk with partitions and a label but no use is reported in use")
	}
}

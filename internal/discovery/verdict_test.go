package discovery

import (
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/smart"
)

const ourFSID = "c0ffee00-1111-4222-8333-444455556666"

func cleanDevice() Device {
	return Device{
		KernelName: "sdb", DevPath: "/dev/sdb", Type: TypeDisk,
		SizeBytes: 1 << 40, LogicalSectorSize: 512, PhysicalSectorSize: 512, Probed: true,
	}
}

// faults maps each reason to a mutation that makes a clean device fail
// exactly that check, with a substring the message must contain.
func faults() map[Reason]struct {
	apply func(*Device)
	msg   string
} {
	type f = struct {
		apply func(*Device)
		msg   string
	}
	return map[Reason]f{
		NotADisk:   {func(d *Device) { d.Type = TypeZram }, "zram"},
		Unreadable: {func(d *Device) { d.OpenError = "opening /dev/sdb: permission denied" }, "permission denied"},
		ForeignCephCluster: {func(d *Device) {
			d.BlueStore = &ceph.BlueStoreLabel{WhoAmI: 4, ClusterFSID: "other-fsid", Meta: map[string]string{"osd_key": "SECRET"}}
		}, "other-fsid"},
		ReadOnly:          {func(d *Device) { d.ReadOnly = true }, "read-only"},
		Removable:         {func(d *Device) { d.Removable = true }, "removable"},
		Mounted:           {func(d *Device) { d.Mounts = []Mount{{Source: "sdb1", Target: "/var/lib/x"}} }, "partition sdb1 is mounted at /var/lib/x"},
		InUseAsSwap:       {func(d *Device) { d.Swap, d.SwapOn = true, []string{"sdb2"} }, "partition sdb2 is active swap"},
		HasHolders:        {func(d *Device) { d.Holders = []string{"dm-3"} }, "held by dm-3"},
		HasPartitions:     {func(d *Device) { d.Partitions = []string{"sdb1", "sdb2"} }, "sdb1, sdb2"},
		HasPartitionTable: {func(d *Device) { d.PartTableType = PartTableGPT }, "gpt"},
		HasFilesystem:     {func(d *Device) { d.FSType, d.Signatures = SigXFS, []string{SigXFS} }, "xfs"},
		TooSmall:          {func(d *Device) { d.SizeBytes = 4 << 30 }, "less than the minimum"},
		Busy:              {func(d *Device) { d.Busy = true }, "exclusively"},
		SharedDevice: {func(d *Device) {
			d.SharedWith, d.SharedIdentity = []string{"sdc"}, []string{"WWN 5000c500c0ffee01"}
		}, "same medium as sdc (same WWN 5000c500c0ffee01: one LUN"},
		PartiallyPrepared: {func(d *Device) {
			d.BlueStore = &ceph.BlueStoreLabel{OSDUUID: "u-1", WhoAmI: 4, ClusterFSID: ourFSID, Meta: map[string]string{"whoami": "4", "osd_key": "SECRET"}}
		}, "missing ready"},
		HasUnknownData: {func(d *Device) {
			d.NonZeroData, d.FirstNonZeroOffset, d.ProbedHeadBytes, d.ProbedTailBytes = true, 4096, 1<<20, 1<<20
		}, "offset 4096 in the head window (first 1 MiB)"},
		FailurePredicted: {func(d *Device) {
			d.Health = &smart.Health{Status: smart.Failing, Message: "NVMe critical warning 0x04: reliability degraded"}
		}, "sdb reports that it is failing (NVMe critical warning 0x04: reliability degraded)"},
	}
}

// Only Failing refuses a disk: a health that could not be read, or a
// device that reports none, says nothing against it.
func TestEvaluateHealthNotFailing(t *testing.T) {
	for _, st := range []smart.Status{smart.Passed, smart.Unknown, smart.NotSupported} {
		d := cleanDevice()
		d.Health = &smart.Health{Status: st, Message: "whatever"}
		if v := Evaluate(d, Options{ClusterFSID: ourFSID}); v.State != StateAvailable {
			t.Errorf("health %s: got %+v, want Available", st, v)
		}
	}
}

func TestEvaluateEachCheck(t *testing.T) {
	opts := Options{ClusterFSID: ourFSID}
	if v := Evaluate(cleanDevice(), opts); v.State != StateAvailable || v.Reason != "" || v.OSDID != -1 {
		t.Fatalf("clean device: %+v", v)
	}
	fs := faults()
	if len(fs) != len(Chain()) {
		t.Fatalf("%d faults for %d checks: every check needs a test", len(fs), len(Chain()))
	}
	for reason, f := range fs {
		t.Run(string(reason), func(t *testing.T) {
			d := cleanDevice()
			f.apply(&d)
			v := Evaluate(d, opts)
			if v.State != StateRejected || v.Reason != reason || !strings.Contains(v.Message, f.msg) {
				t.Fatalf("got %+v, want %s with %q", v, reason, f.msg)
			}
			if strings.Contains(v.Message, "SECRET") {
				t.Fatalf("message leaks the OSD key: %q", v.Message)
			}
		})
	}
}

// TestEvaluatePrecedence applies every pair of faults and checks that the
// one earlier in the chain wins, which pins the documented order.
func TestEvaluatePrecedence(t *testing.T) {
	opts := Options{ClusterFSID: ourFSID}
	chain := Chain()
	fs := faults()
	for i := range chain {
		for j := i + 1; j < len(chain); j++ {
			first, second := chain[i].Reason, chain[j].Reason
			t.Run(string(first)+"_over_"+string(second), func(t *testing.T) {
				d := cleanDevice()
				fs[second].apply(&d)
				fs[first].apply(&d)
				if v := Evaluate(d, opts); v.Reason != first {
					t.Fatalf("got %s (%s), want %s", v.Reason, v.Message, first)
				}
			})
		}
	}
}

func TestEvaluateOwnOSD(t *testing.T) {
	opts := Options{ClusterFSID: ourFSID}
	own := func(d *Device) {
		d.BlueStore = &ceph.BlueStoreLabel{OSDUUID: "u", WhoAmI: 12, ClusterFSID: ourFSID,
			Meta: map[string]string{"whoami": "12", "osd_key": "SECRET", "ready": "ready"}}
		d.FSType, d.Signatures = SigBlueStore, []string{SigBlueStore}
	}
	d := cleanDevice()
	own(&d)
	v := Evaluate(d, opts)
	if v.State != StateOSD || v.OSDID != 12 || v.ClusterFSID != ourFSID || v.Reason != "" {
		t.Fatalf("own OSD: %+v", v)
	}
	// Our OSD wins over every check after the BlueStore steps, and loses
	// to those before them.
	fs := faults()
	seenOwner := false
	for _, c := range Chain() {
		if c.Reason == ForeignCephCluster {
			continue
		}
		if c.Reason == PartiallyPrepared {
			seenOwner = true
			continue
		}
		d := cleanDevice()
		own(&d)
		fs[c.Reason].apply(&d)
		v := Evaluate(d, opts)
		if seenOwner && v.State != StateOSD {
			t.Errorf("own OSD plus %s: got %+v, want OSD", c.Reason, v)
		}
		if !seenOwner && v.Reason != c.Reason {
			t.Errorf("own OSD plus %s: got %+v, want %s", c.Reason, v, c.Reason)
		}
	}
	// FSID comparison ignores case.
	opts.ClusterFSID = strings.ToUpper(ourFSID)
	if v := Evaluate(d, opts); v.State != StateOSD {
		t.Errorf("upper-case FSID: %+v", v)
	}
}

func TestEvaluateBlueStoreEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		apply  func(*Device)
		reason Reason
		msg    string
	}{
		{"label but no cluster FSID configured", Options{}, func(d *Device) {
			d.BlueStore = &ceph.BlueStoreLabel{WhoAmI: 1, ClusterFSID: ourFSID}
		}, ForeignCephCluster, "not known yet"},
		{"damaged label", Options{ClusterFSID: ourFSID}, func(d *Device) { d.BlueStoreError = "corrupt BlueStore label: crc32c" }, ForeignCephCluster, "damaged"},
		{"udev says bluestore but no label read", Options{ClusterFSID: ourFSID}, func(d *Device) { d.FSType = SigBlueStore }, ForeignCephCluster, "not read"},
		// A label of ours without an OSD id is a prepare that stopped
		// half-way, not "OSD -1" of anything.
		{"our FSID without OSD id", Options{ClusterFSID: ourFSID}, func(d *Device) {
			d.BlueStore = &ceph.BlueStoreLabel{OSDUUID: "u-2", WhoAmI: -1, ClusterFSID: ourFSID}
		}, PartiallyPrepared, "missing whoami, osd_key, ready"},
		{"no OSD id, FSID not configured", Options{}, func(d *Device) {
			d.BlueStore = &ceph.BlueStoreLabel{OSDUUID: "u-2", WhoAmI: -1, ClusterFSID: ourFSID}
		}, ForeignCephCluster, "without an OSD id (osd uuid u-2) of cluster " + ourFSID},
		{"label naming no cluster", Options{ClusterFSID: ourFSID}, func(d *Device) {
			d.BlueStore = &ceph.BlueStoreLabel{OSDUUID: "u-3", WhoAmI: 2}
		}, ForeignCephCluster, "names no cluster"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := cleanDevice()
			tc.apply(&d)
			v := Evaluate(d, tc.opts)
			if v.Reason != tc.reason || !strings.Contains(v.Message, tc.msg) || strings.Contains(v.Message, "OSD -1") {
				t.Fatalf("got %+v", v)
			}
			// The label's osd uuid goes with the verdict, so the operator
			// can match the disk with an OSD id allocated in Ceph.
			if d.BlueStore != nil && v.OSDUUID != d.BlueStore.OSDUUID {
				t.Errorf("verdict osd uuid %q, label's %q", v.OSDUUID, d.BlueStore.OSDUUID)
			}
		})
	}
}

func TestEvaluateOtherRejections(t *testing.T) {
	opts := Options{ClusterFSID: ourFSID}
	tests := []struct {
		name   string
		apply  func(*Device)
		opts   Options
		reason Reason
		msg    string
	}{
		{"scan error is unreadable", func(d *Device) { d.ScanErrors = []string{"reading size: EIO"} }, opts, Unreadable, "EIO"},
		{"not probed is unreadable", func(d *Device) { d.Probed = false }, opts, Unreadable, "not probed"},
		{"LVM PV without holders", func(d *Device) { d.LVMPV = true }, opts, HasHolders, "LVM physical volume"},
		{"md member without holders", func(d *Device) { d.MDMember = true }, opts, HasHolders, "md RAID"},
		{"whole disk mounted", func(d *Device) { d.Mounts = []Mount{{Source: "sdb", Target: "/srv"}} }, opts, Mounted, "sdb is mounted at /srv"},
		{"whole disk swap", func(d *Device) { d.SwapOn = []string{"sdb"} }, opts, InUseAsSwap, "sdb is active swap"},
		{"custom min size", func(d *Device) { d.SizeBytes = 50 << 30 }, Options{MinSizeBytes: 100 << 30}, TooSmall, "107374182400"},
		{"loop without AllowLoop", func(d *Device) { d.Type = TypeLoop }, opts, NotADisk, "loop"},
		{"mpath not allowed", func(d *Device) { d.Type = TypeMpath }, Options{AllowTypes: []string{TypeLVM}}, NotADisk, "mpath"},
		{"signature only in list", func(d *Device) { d.Signatures = []string{SigBcache} }, opts, HasFilesystem, "bcache"},
		{"held open by a process", func(d *Device) { d.OpenBy = []Opener{{PID: 77, Command: "mysqld", Device: "sdb"}} }, opts, Busy, "pid 77 (mysqld) holds sdb"},
		{"held open by many", func(d *Device) {
			for i := 0; i < 40; i++ {
				d.OpenBy = append(d.OpenBy, Opener{PID: 100 + i, Command: "worker", Device: "sdb"})
			}
		}, opts, Busy, "pid 104 (worker) holds sdb; and 35 more"},
		{"backs a loop device", func(d *Device) { d.BacksLoops = []string{"loop3", "loop4"} }, opts, HasHolders, "backs loop device loop3, loop4"},
		{"blkid ambivalent", func(d *Device) { d.Blkid = &BlkidResult{Ambivalent: true} }, opts, HasFilesystem, "ambivalent"},
		{"unknown data in the tail", func(d *Device) {
			d.NonZeroData, d.NonZeroInTail, d.FirstNonZeroOffset, d.ProbedHeadBytes, d.ProbedTailBytes = true, true, 1<<40-5, 1<<20, 1<<20
		}, opts, HasUnknownData, "offset 1099511627771 in the tail window (last 1 MiB)"},
		{"shared by serial", func(d *Device) { d.SharedWith, d.SharedIdentity = []string{"sdc", "sdd"}, []string{"serial Z1"} }, opts, SharedDevice, "sdc, sdd (same serial Z1: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := cleanDevice()
			tc.apply(&d)
			v := Evaluate(d, tc.opts)
			if v.Reason != tc.reason || !strings.Contains(v.Message, tc.msg) {
				t.Fatalf("got %+v, want %s with %q", v, tc.reason, tc.msg)
			}
		})
	}
	// Allowed non-disk types pass the first check.
	d := cleanDevice()
	d.Type = TypeLoop
	if v := Evaluate(d, Options{AllowLoop: true}); v.State != StateAvailable {
		t.Errorf("loop with AllowLoop: %+v", v)
	}
	d.Type = TypeMpath
	if v := Evaluate(d, Options{AllowTypes: []string{TypeMpath}}); v.State != StateAvailable {
		t.Errorf("mpath allowed: %+v", v)
	}
	// The zero Device (nothing gathered) is never Available.
	if v := Evaluate(Device{Type: TypeDisk, SizeBytes: 1 << 40}, opts); v.Reason != Unreadable {
		t.Errorf("unprobed device: %+v", v)
	}
}

func TestStableID(t *testing.T) {
	tests := []struct {
		name string
		d    Device
		want string
	}{
		{"wwn link first", Device{Links: []string{"/dev/disk/by-id/ata-X_123", "/dev/disk/by-id/wwn-0x5000", "/dev/disk/by-path/pci-1"}, WWN: "0x5000", Serial: "123"}, "/dev/disk/by-id/wwn-0x5000"},
		{"nvme eui link", Device{Links: []string{"/dev/disk/by-id/nvme-M_S1", "/dev/disk/by-id/nvme-eui.0025"}, Serial: "S1"}, "/dev/disk/by-id/nvme-eui.0025"},
		{"wwn without link", Device{Links: []string{"/dev/disk/by-id/ata-X_123"}, WWN: "0x5000"}, "wwn:0x5000"},
		{"serial link", Device{Links: []string{"/dev/disk/by-id/aaa-other", "/dev/disk/by-id/ata-X_123"}, Serial: "123"}, "/dev/disk/by-id/ata-X_123"},
		{"any by-id", Device{Links: []string{"/dev/disk/by-id/usb-stick", "/dev/disk/by-path/p"}}, "/dev/disk/by-id/usb-stick"},
		{"by-path", Device{Links: []string{"/dev/disk/by-diskseq/4", "/dev/disk/by-path/p"}}, "/dev/disk/by-path/p"},
		{"kernel name last", Device{KernelName: "sdq", DevPath: "/dev/sdq"}, "/dev/sdq"},
		{"kernel name without dev path", Device{KernelName: "sdq"}, "/dev/sdq"},
	}
	for _, tc := range tests {
		if got := tc.d.StableID(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

package discovery_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
)

const clusterFSID = "c0ffee00-1111-4222-8333-444455556666"

// scanScenarios builds the standard scenario node and scans it with a fake
// BusyChecker that reports the scenarios marked Busy.
func scanScenarios(t *testing.T) (string, []fixture.Scenario, map[string]discovery.Device) {
	t.Helper()
	root := t.TempDir()
	_, scs, err := fixture.BuildScenarios(root, clusterFSID)
	if err != nil {
		t.Fatal(err)
	}
	busy := discovery.StaticBusyChecker{Busy: map[string]bool{}}
	for _, sc := range scs {
		if sc.Busy {
			busy.Busy[filepath.Join(root, "dev", sc.Disk.Name)] = true
		}
	}
	devs, err := discovery.Scanner{Root: root, Busy: busy}.Scan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	byName := map[string]discovery.Device{}
	for i, d := range devs {
		if i > 0 && devs[i-1].KernelName >= d.KernelName {
			t.Errorf("devices not sorted: %s before %s", devs[i-1].KernelName, d.KernelName)
		}
		byName[d.KernelName] = d
	}
	if len(devs) != len(scs) {
		t.Errorf("scan returned %d devices, want %d", len(devs), len(scs))
	}
	return root, scs, byName
}

func TestScanScenarioVerdicts(t *testing.T) {
	_, scs, byName := scanScenarios(t)
	opts := discovery.Options{ClusterFSID: clusterFSID}
	for _, sc := range scs {
		t.Run(sc.Name, func(t *testing.T) {
			d, ok := byName[sc.Disk.Name]
			if !ok {
				t.Fatalf("device %s missing from scan", sc.Disk.Name)
			}
			v := discovery.Evaluate(d, opts)
			if v.State != sc.WantState || string(v.Reason) != sc.WantReason {
				t.Fatalf("verdict %s/%s (%s), want %s/%s\ndevice: %+v", v.State, v.Reason, v.Message, sc.WantState, sc.WantReason, d)
			}
			if !strings.Contains(v.Message, sc.WantMessage) {
				t.Errorf("message %q does not contain %q", v.Message, sc.WantMessage)
			}
			if strings.Contains(v.Message, "fixturesecret") {
				t.Errorf("message leaks the OSD key: %q", v.Message)
			}
		})
	}
}

// TestScanFacts asserts what the scanner gathered for each situation, so a
// verdict cannot be right for the wrong reason.
func TestScanFacts(t *testing.T) {
	_, _, devs := scanScenarios(t)
	check := func(name string, f func(d discovery.Device) []string) {
		t.Run(name, func(t *testing.T) {
			d, ok := devs[name]
			if !ok {
				t.Fatalf("device %s missing", name)
			}
			for _, problem := range f(d) {
				t.Error(problem)
			}
			if t.Failed() {
				t.Logf("device: %+v", d)
			}
		})
	}
	expect := func(problems *[]string, what string, got, want any) {
		if !reflect.DeepEqual(got, want) {
			*problems = append(*problems, what+": got "+strings.TrimSpace(fmtAny(got))+", want "+fmtAny(want))
		}
	}
	check("sdb", func(d discovery.Device) (p []string) {
		expect(&p, "rotational", d.Rotational, true)
		expect(&p, "links", d.Links, []string{
			"/dev/disk/by-id/ata-ST8000NM000A-2KE101_WKD3ABCD",
			"/dev/disk/by-id/wwn-0x5000c500c0ffee01",
			"/dev/disk/by-path/pci-0000:00:17.0-ata-2",
		})
		expect(&p, "stable id", d.StableID(), "/dev/disk/by-id/wwn-0x5000c500c0ffee01")
		expect(&p, "size", d.SizeBytes, uint64(8<<40))
		expect(&p, "model", d.Model, "ST8000NM000A")
		return p
	})
	check("sda", func(d discovery.Device) (p []string) {
		expect(&p, "wwn", d.WWN, "0x55cd2e414d1c2f3a")
		expect(&p, "serial", d.Serial, "PHYF8123004L1P9DGN")
		expect(&p, "rotational", d.Rotational, false)
		expect(&p, "stable id", d.StableID(), "/dev/disk/by-id/wwn-0x55cd2e414d1c2f3a")
		return p
	})
	check("sdc", func(d discovery.Device) (p []string) {
		expect(&p, "holders", d.Holders, []string{"dm-0"})
		return p
	})
	check("dm-0", func(d discovery.Device) (p []string) {
		expect(&p, "type", d.Type, discovery.TypeMpath)
		return p
	})
	check("sdd", func(d discovery.Device) (p []string) {
		expect(&p, "fstype (udev)", d.FSType, "LVM2_member")
		expect(&p, "fsuuid (udev)", d.FSUUID, "abcdef-1234")
		expect(&p, "lvm pv", d.LVMPV, true)
		return p
	})
	check("sde", func(d discovery.Device) (p []string) {
		expect(&p, "fstype (probe)", d.FSType, "LVM2_member")
		expect(&p, "lvm pv", d.LVMPV, true)
		return p
	})
	check("sdf", func(d discovery.Device) (p []string) {
		expect(&p, "partitions", d.Partitions, []string{"sdf1", "sdf2"})
		expect(&p, "mounts", d.Mounts, []discovery.Mount{{Source: "sdf1", Target: "/var/lib/my data"}})
		expect(&p, "mountpoints", d.Mountpoints, []string{"/var/lib/my data"})
		expect(&p, "part table", d.PartTableType, "gpt")
		return p
	})
	check("sdh", func(d discovery.Device) (p []string) {
		expect(&p, "logical sector", d.LogicalSectorSize, 4096)
		expect(&p, "part table", d.PartTableType, "gpt")
		return p
	})
	check("sdi", func(d discovery.Device) (p []string) {
		expect(&p, "part table", d.PartTableType, "dos")
		expect(&p, "signatures", d.Signatures, []string(nil))
		return p
	})
	check("sdk", func(d discovery.Device) (p []string) {
		expect(&p, "fstype", d.FSType, "vfat")
		expect(&p, "label", d.FSLabel, "USBSTICK")
		expect(&p, "part table (a FAT boot sector is not an MBR)", d.PartTableType, "")
		expect(&p, "removable", d.Removable, true)
		return p
	})
	check("sdm", func(d discovery.Device) (p []string) {
		expect(&p, "fstype", d.FSType, "ext4")
		expect(&p, "uuid", d.FSUUID, fixture.FixtureUUID)
		expect(&p, "label", d.FSLabel, "data")
		expect(&p, "stable id (no links)", d.StableID(), "/dev/sdm")
		return p
	})
	check("sdn", func(d discovery.Device) (p []string) {
		expect(&p, "fstype", d.FSType, "xfs")
		expect(&p, "signatures", d.Signatures, []string{"xfs"})
		return p
	})
	check("sdo", func(d discovery.Device) (p []string) {
		expect(&p, "swap", d.Swap, true)
		expect(&p, "swapon", d.SwapOn, []string{"sdo"})
		expect(&p, "fstype", d.FSType, "swap")
		return p
	})
	check("sdp", func(d discovery.Device) (p []string) {
		expect(&p, "fstype", d.FSType, "crypto_LUKS")
		expect(&p, "uuid", d.FSUUID, fixture.FixtureUUID)
		return p
	})
	check("sdq", func(d discovery.Device) (p []string) {
		expect(&p, "md member", d.MDMember, true)
		expect(&p, "fstype", d.FSType, "linux_raid_member")
		return p
	})
	check("sdr", func(d discovery.Device) (p []string) {
		if d.BlueStore == nil {
			return []string{"no BlueStore label"}
		}
		expect(&p, "whoami", d.BlueStore.WhoAmI, 7)
		expect(&p, "fsid", d.BlueStore.ClusterFSID, clusterFSID)
		expect(&p, "fstype", d.FSType, "ceph_bluestore")
		return p
	})
	check("sdt", func(d discovery.Device) (p []string) {
		if !strings.Contains(d.OpenError, "no such file") {
			p = append(p, "open error: "+d.OpenError)
		}
		return p
	})
	check("sdw", func(d discovery.Device) (p []string) {
		expect(&p, "mounts", d.Mounts, []discovery.Mount{{Source: "sdw", Target: "/mnt/btr"}})
		expect(&p, "fstype", d.FSType, "btrfs")
		return p
	})
	check("sdx", func(d discovery.Device) (p []string) {
		if d.BlueStore != nil || d.BlueStoreError == "" {
			p = append(p, "damaged label not reported")
		}
		return p
	})
	check("loop0", func(d discovery.Device) (p []string) {
		expect(&p, "type", d.Type, discovery.TypeLoop)
		expect(&p, "backing file", d.LoopBackingFile, "/var/lib/images/disk.img")
		return p
	})
	for name, typ := range map[string]string{"sr0": discovery.TypeROM, "zram0": discovery.TypeZram, "nbd0": discovery.TypeNBD, "rbd0": discovery.TypeRBD, "md127": discovery.TypeMD} {
		check(name, func(d discovery.Device) (p []string) {
			expect(&p, "type", d.Type, typ)
			return p
		})
	}
}

// TestScanFullDevice compares one device field by field, so no gathered
// fact goes untested.
func TestScanFullDevice(t *testing.T) {
	_, _, devs := scanScenarios(t)
	got := devs["nvme0n1"]
	want := discovery.Device{
		KernelName: "nvme0n1",
		DevPath:    "/dev/nvme0n1",
		Links: []string{
			"/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T123456A",
			"/dev/disk/by-id/nvme-eui.002538b411b2c3d4",
			"/dev/disk/by-path/pci-0000:01:00.0-nvme-1",
		},
		WWN:                "eui.002538b411b2c3d4",
		Serial:             "S5GXNX0T123456A",
		Model:              "Samsung SSD 980 PRO 1TB",
		SizeBytes:          1 << 40,
		LogicalSectorSize:  512,
		PhysicalSectorSize: 512,
		Type:               discovery.TypeDisk,
		Major:              259,
		Minor:              0,
		Probed:             true,
		ProbedHeadBytes:    1 << 20,
		ProbedTailBytes:    1 << 20,
		ContentHash:        got.ContentHash,
	}
	if len(got.ContentHash) != 64 {
		t.Errorf("content hash %q is not a hex SHA-256", got.ContentHash)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("nvme0n1:\n got %+v\nwant %+v", got, want)
	}
	if id := got.StableID(); id != "/dev/disk/by-id/nvme-eui.002538b411b2c3d4" {
		t.Errorf("stable id %q", id)
	}
}

func TestScanNeverModifiesDevices(t *testing.T) {
	root := t.TempDir()
	n, _, err := fixture.BuildScenarios(root, clusterFSID)
	if err != nil {
		t.Fatal(err)
	}
	before, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) < 20 {
		t.Fatalf("only %d device nodes fingerprinted", len(before))
	}
	// The real ExclusiveOpenChecker is used here on purpose.
	for i := 0; i < 2; i++ {
		if _, err := (discovery.Scanner{Root: root}).Scan(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		for k := range before {
			if before[k] != after[k] {
				t.Errorf("%s changed during scan", k)
			}
		}
		t.Fatal("scan modified device nodes")
	}
}

func TestScanAllowLoopAndTypes(t *testing.T) {
	_, _, devs := scanScenarios(t)
	v := discovery.Evaluate(devs["loop0"], discovery.Options{ClusterFSID: clusterFSID, AllowLoop: true})
	if v.State != discovery.StateAvailable {
		t.Errorf("loop0 with AllowLoop: %+v", v)
	}
	v = discovery.Evaluate(devs["dm-0"], discovery.Options{ClusterFSID: clusterFSID, AllowTypes: []string{discovery.TypeMpath}})
	if v.State != discovery.StateAvailable {
		t.Errorf("dm-0 with mpath allowed: %+v", v)
	}
	// Without our FSID, our own OSD is treated as foreign (safe default).
	v = discovery.Evaluate(devs["sdr"], discovery.Options{})
	if v.Reason != discovery.ForeignCephCluster {
		t.Errorf("sdr without cluster FSID: %+v", v)
	}
}

// TestScanRecordsPerDeviceErrors checks that one broken device does not fail
// the scan, is rejected as Unreadable, and that a node without any udev
// database scans fine.
func TestScanRecordsPerDeviceErrors(t *testing.T) {
	root := t.TempDir()
	n := fixture.New(root)
	n.Add(fixture.Disk{Name: "sda", SizeBytes: uint64(fixture.TiB)})
	n.Add(fixture.Disk{Name: "sdb", SizeBytes: uint64(fixture.TiB)})
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sys/block/sdb/size"), []byte("lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	devs, err := discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("%d devices", len(devs))
	}
	if v := discovery.Evaluate(devs[0], discovery.Options{}); v.State != discovery.StateAvailable {
		t.Errorf("sda: %+v", v)
	}
	if v := discovery.Evaluate(devs[1], discovery.Options{}); v.Reason != discovery.Unreadable || !strings.Contains(v.Message, "sector count") {
		t.Errorf("sdb: %+v", v)
	}
	// A failing busy check is recorded, and also makes the device unreadable.
	busyErr := discovery.StaticBusyChecker{Errors: map[string]error{filepath.Join(root, "dev/sda"): errors.New("EACCES")}}
	devs, err = discovery.Scanner{Root: root, Busy: busyErr}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if v := discovery.Evaluate(devs[0], discovery.Options{}); v.Reason != discovery.Unreadable || !strings.Contains(v.Message, "EACCES") {
		t.Errorf("sda with failing busy check: %+v", v)
	}
}

func TestScanErrors(t *testing.T) {
	if _, err := (discovery.Scanner{Root: t.TempDir()}).Scan(); err == nil || !strings.Contains(err.Error(), "sys/block") {
		t.Fatalf("scan of an empty root: %v", err)
	}
}

func BenchmarkScan60Disks(b *testing.B) {
	root := b.TempDir()
	if _, err := fixture.ManyDisks(root, 60); err != nil {
		b.Fatal(err)
	}
	s := discovery.Scanner{Root: root, Busy: discovery.StaticBusyChecker{}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		devs, err := s.Scan()
		if err != nil || len(devs) != 60 {
			b.Fatalf("scan: %d devices, %v", len(devs), err)
		}
	}
}

func fmtAny(v any) string { return fmt.Sprintf("%#v", v) }

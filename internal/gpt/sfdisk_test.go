package gpt

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// sfdiskPath returns util-linux's sfdisk, or skips the test.
func sfdiskPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/sfdisk", "/sbin/sfdisk"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("sfdisk"); err == nil {
		return p
	}
	t.Skip("sfdisk (util-linux) is not installed")
	return ""
}

// TestReadsSfdiskTable: a table sfdisk made reads back with the same
// partitions, names, types, GUIDs and positions.
func TestReadsSfdiskTable(t *testing.T) {
	sfdisk := sfdiskPath(t)
	const size = 256 * mib
	f := disk(t, size)
	script := `label: gpt
label-id: 0B9A3C41-6E1D-4C55-9A8E-3D2C1B0A9F8E
sector-size: 512
start=2048, size=131072, type=30CD0809-C2B2-499C-8879-2D6B78529876, uuid=11111111-2222-4333-8444-555555555555, name="ceph-db.1b2c3d4e.1"
start=133120, size=16384, type=5CE17FCE-4087-4169-B7FF-056CC58473F9, uuid=66666666-7777-4888-9999-aaaaaaaaaaaa, name="ceph-wal.1b2c3d4e.1"
start=206848, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=bbbbbbbb-cccc-4ddd-8eee-ffffffffffff, name="data é"
`
	cmd := exec.Command(sfdisk, "--no-reread", "--no-tell-kernel", f.Name())
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	tab, err := Read(f, size, 512)
	if err != nil {
		t.Fatal(err)
	}
	want := []Partition{
		{Number: 1, Name: "ceph-db.1b2c3d4e.1", Type: TypeCephDB, UUID: "11111111-2222-4333-8444-555555555555", FirstLBA: 2048, LastLBA: 2048 + 131072 - 1},
		{Number: 2, Name: "ceph-wal.1b2c3d4e.1", Type: TypeCephWAL, UUID: "66666666-7777-4888-9999-aaaaaaaaaaaa", FirstLBA: 133120, LastLBA: 133120 + 16384 - 1},
		{Number: 3, Name: "data é", Type: "0fc63daf-8483-4772-8e79-3d69d8477de4", UUID: "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff", FirstLBA: 206848, LastLBA: 206848 + 2048 - 1},
	}
	if tab.DiskGUID != "0b9a3c41-6e1d-4c55-9a8e-3d2c1b0a9f8e" {
		t.Errorf("disk GUID %q", tab.DiskGUID)
	}
	if len(tab.Partitions) != len(want) {
		t.Fatalf("read %+v, want %+v", tab.Partitions, want)
	}
	for i := range want {
		if tab.Partitions[i] != want[i] {
			t.Errorf("partition %d = %+v, want %+v", i+1, tab.Partitions[i], want[i])
		}
	}
	// Add builds on sfdisk's table, and sfdisk still accepts it.
	start, ok := NextFree(tab, size, 4*mib)
	if !ok || start != 73*mib {
		t.Fatalf("NextFree = %d, %v; want 73 MiB (the gap after partition 2)", start, ok)
	}
	if _, err := Add(f, size, 512, NewPartition{Number: 4, Name: "ceph-db.1b2c3d4e.2", Type: TypeCephDB, Start: start, Size: 4 * mib}); err != nil {
		t.Fatal(err)
	}
	verify(t, sfdisk, f.Name())
}

// TestSfdiskAcceptsAdd: sfdisk reads what Add wrote (the table it creates
// and the entries it adds) exactly, and verifies it without complaint.
func TestSfdiskAcceptsAdd(t *testing.T) {
	sfdisk := sfdiskPath(t)
	seeded(t)
	const size = 128 * mib
	f := disk(t, size)
	if _, err := Add(f, size, 512, NewPartition{Number: 1, Name: "ceph-db.1b2c3d4e.1", Type: TypeCephDB, UUID: "11111111-2222-4333-8444-555555555555", Start: mib, Size: 32 * mib}); err != nil {
		t.Fatal(err)
	}
	if _, err := Add(f, size, 512, NewPartition{Number: 2, Name: "ceph-wal.1b2c3d4e.1", Type: TypeCephWAL, UUID: "66666666-7777-4888-9999-aaaaaaaaaaaa", Start: 33 * mib, Size: 8 * mib}); err != nil {
		t.Fatal(err)
	}
	tab, err := Read(f, size, 512)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sfdisk, "--dump", f.Name()).CombinedOutput()
	if err != nil {
		t.Fatalf("sfdisk --dump: %v\n%s", err, out)
	}
	dump := string(out)
	for _, w := range []string{
		"label: gpt",
		"label-id: " + strings.ToUpper(tab.DiskGUID),
		"first-lba: 34",
		"last-lba: " + strconv.FormatInt(size/512-34, 10),
		"start=        2048, size=       65536, type=30CD0809-C2B2-499C-8879-2D6B78529876, uuid=11111111-2222-4333-8444-555555555555, name=\"ceph-db.1b2c3d4e.1\"",
		"start=       67584, size=       16384, type=5CE17FCE-4087-4169-B7FF-056CC58473F9, uuid=66666666-7777-4888-9999-AAAAAAAAAAAA, name=\"ceph-wal.1b2c3d4e.1\"",
	} {
		if !strings.Contains(dump, w) {
			t.Errorf("sfdisk --dump lacks %q:\n%s", w, dump)
		}
	}
	verify(t, sfdisk, f.Name())
}

// verify runs sfdisk --verify and fails on any complaint.
func verify(t *testing.T, sfdisk, path string) {
	t.Helper()
	out, err := exec.Command(sfdisk, "--verify", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors detected") || strings.Contains(strings.ToLower(string(out)), "warning") {
		t.Errorf("sfdisk --verify: %v\n%s", err, out)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/agent/wipe"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

const otherFSID = "99999999-8888-4777-8666-555555555555"

// wipeFixture is a node with a foreign OSD (sdb), an ext4 disk (sdc), an
// OSD of this cluster (sdd), a GPT disk with a partition (sde), an ext4
// disk mounted (sdf) and a blank disk (sdg).
func wipeFixture(t *testing.T) (root string, n *fixture.Node) {
	t.Helper()
	root = t.TempDir()
	n = fixture.New(root)
	size := int64(10 * fixture.GiB)
	for _, d := range []fixture.Disk{
		{Name: "sdb", SizeBytes: uint64(size), Links: []string{"by-id/wwn-0xsdb"}, WWID: "naa.5000c500000000b1",
			Content: fixture.BlueStore(fixture.Label(otherFSID, 7))},
		{Name: "sdc", SizeBytes: uint64(size), Links: []string{"by-id/wwn-0xsdc"}, Content: fixture.Ext4("data")},
		{Name: "sdd", SizeBytes: uint64(size), Links: []string{"by-id/wwn-0xsdd"}, Content: fixture.BlueStore(fixture.Label(testFSID, 3))},
		{Name: "sde", SizeBytes: uint64(size), Links: []string{"by-id/wwn-0xsde"},
			Content:    fixture.Join(fixture.GPT(size, 512), []fixture.Chunk{{Offset: 1<<20 + 1024, Data: []byte("partition data")}}),
			Partitions: []fixture.Partition{{Name: "sde1", StartBytes: 1 << 20, SizeBytes: 4 << 30}}},
		{Name: "sdf", SizeBytes: uint64(size), Links: []string{"by-id/wwn-0xsdf"}, Content: fixture.Ext4("busy")},
		{Name: "sdg", SizeBytes: uint64(size), Links: []string{"by-id/wwn-0xsdg"}},
	} {
		n.Add(d)
	}
	n.Mount(fixture.MountEntry{Device: "sdf", Target: "/srv/data", FSType: "ext4"})
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	return root, n
}

// scanOne scans the fixture and returns disk name with its verdict.
func scanOne(t *testing.T, root, name string) (discovery.Device, discovery.Verdict) {
	t.Helper()
	devs, err := discovery.Scanner{Root: root}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.KernelName == name {
			return d, discovery.Evaluate(d, discovery.Options{ClusterFSID: testFSID})
		}
	}
	t.Fatalf("%s not found", name)
	return discovery.Device{}, discovery.Verdict{}
}

// confirmationOf is what the disk's plan would show.
func confirmationOf(t *testing.T, root, name string) string {
	d, v := scanOne(t, root, name)
	return discovery.WipeConfirmation(discovery.DeviceWipeIdentity(d, v))
}

func runWipeTest(t *testing.T, root string, targets ...wipe.Target) (int, []wipe.Result, string) {
	t.Helper()
	return runWipeArgs(t, root, nil, targets...)
}

// runWipeArgs runs agent wipe with extra flags and reads back its
// termination message.
func runWipeArgs(t *testing.T, root string, extra []string, targets ...wipe.Target) (int, []wipe.Result, string) {
	t.Helper()
	dir := t.TempDir()
	report := filepath.Join(dir, "termination-log")
	b, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--cluster-fsid=" + testFSID, "--host-root=" + root, "--report=" + report,
		"--lock-file=" + filepath.Join(dir, "prepare.lock"), "--targets=" + string(b)}
	args = append(args, extra...)
	var out, errOut bytes.Buffer
	code := runWipe(args, &out, &errOut)
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no termination message: %v (stderr %s)", err, errOut.String())
	}
	var results []wipe.Result
	if err := json.Unmarshal(raw, &results); err != nil || len(raw) > prepare.TerminationMessageLimit {
		t.Fatalf("termination message %q: %v", raw, err)
	}
	return code, results, errOut.String()
}

// TestWipeForeignOSD: the right confirmation wipes the disk (it then scans
// Available); a wrong one, or one copied from another disk, is refused and
// the disk is unchanged.
func TestWipeForeignOSD(t *testing.T) {
	root, n := wipeFixture(t)
	right := confirmationOf(t, root, "sdb")
	if !strings.HasPrefix(right, "wwn=") || !strings.HasSuffix(right, "/fsid="+otherFSID) {
		t.Fatalf("confirmation of the foreign OSD: %q", right)
	}
	before, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{
		strings.Replace(right, otherFSID, "11111111-8888-4777-8666-555555555555", 1),
		confirmationOf(t, root, "sdc"),
		"yes",
	} {
		code, results, stderr := runWipeTest(t, root, wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdb", Confirmation: wrong})
		if code != wipe.ExitRefused || results[0].Reason != wipe.ReasonConfirmationMismatch || !strings.Contains(results[0].Message, right) {
			t.Errorf("confirmation %q: exit %d, %+v\n%s", wrong, code, results, stderr)
		}
	}
	after, _ := n.Checksums()
	for name, sum := range before {
		if after[name] != sum {
			t.Fatalf("a refused wipe wrote to %s", name)
		}
	}

	code, results, stderr := runWipeTest(t, root, wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdb", ID: "/dev/disk/by-id/wwn-0xsdb", SizeBytes: 10 * fixture.GiB, Confirmation: right})
	if code != wipe.ExitWiped || results[0].Outcome != wipe.OutcomeWiped {
		t.Fatalf("right confirmation: exit %d, %+v\n%s", code, results, stderr)
	}
	if _, v := scanOne(t, root, "sdb"); v.State != discovery.StateAvailable {
		t.Errorf("after the wipe sdb is %s %s: %s", v.State, v.Reason, v.Message)
	}
	after, _ = n.Checksums()
	for name, sum := range before {
		if filepath.Base(name) != "sdb" && after[name] != sum {
			t.Errorf("wiping sdb changed %s", name)
		}
	}
	// The same request again: the disk changed, so the confirmation no
	// longer matches anything (it is Available: not wiped again).
	code, results, _ = runWipeTest(t, root, wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdb", Confirmation: right})
	if code != wipe.ExitRefused || results[0].Reason != wipe.ReasonNotWipeable {
		t.Errorf("stale request: exit %d, %+v", code, results)
	}
}

// TestWipeRefusals: a mounted disk, an OSD of this cluster, a blank disk
// and a wrong identity are never written, whatever confirmation is given.
func TestWipeRefusals(t *testing.T) {
	root, n := wipeFixture(t)
	before, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	// What the mounted disk would confirm if it were not mounted.
	d, v := scanOne(t, root, "sdf")
	v.Reason = discovery.HasFilesystem
	mounted := discovery.WipeConfirmation(discovery.DeviceWipeIdentity(d, v))
	cases := []struct {
		target wipe.Target
		reason string
	}{
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdf", Confirmation: mounted}, "Mounted"},
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdd", Confirmation: "wwn=x"}, wipe.ReasonNotWipeable},
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdd", ExpectedOSD: &wipe.ExpectedOSD{FSID: testFSID, OSDID: 4}}, wipe.ReasonNotWipeable},
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdd", ExpectedOSD: &wipe.ExpectedOSD{FSID: otherFSID, OSDID: 3}}, wipe.ReasonNotWipeable},
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdb", ExpectedOSD: &wipe.ExpectedOSD{FSID: otherFSID, OSDID: 7}}, wipe.ReasonNotWipeable},
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdg", Confirmation: "id=x"}, wipe.ReasonNotWipeable},
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdc", SizeBytes: 1234, Confirmation: confirmationOf(t, root, "sdc")}, wipe.ReasonIdentityMismatch},
		{wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdc", ID: "/dev/disk/by-id/wwn-0xsdb", Confirmation: confirmationOf(t, root, "sdc")}, wipe.ReasonIdentityMismatch},
	}
	for _, c := range cases {
		code, results, stderr := runWipeTest(t, root, c.target)
		if code != wipe.ExitRefused || results[0].Outcome != wipe.OutcomeRefused || results[0].Reason != c.reason {
			t.Errorf("%+v: exit %d, %+v, want refused %s\n%s", c.target, code, results, c.reason, stderr)
		}
	}
	after, _ := n.Checksums()
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s was written to", name)
		}
	}
}

// TestWipeExpectedOSDAndPartitions: an OSD of this cluster is wiped when
// its label is exactly the expected one; a GPT disk loses both tables and
// its partition's signature area; the exit code is 0.
func TestWipeExpectedOSDAndPartitions(t *testing.T) {
	root, _ := wipeFixture(t)
	code, results, stderr := runWipeTest(t, root,
		wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdd", ExpectedOSD: &wipe.ExpectedOSD{FSID: strings.ToUpper(testFSID), OSDID: 3}},
		wipe.Target{Path: "/dev/disk/by-id/wwn-0xsde", Confirmation: confirmationOf(t, root, "sde")})
	if code != wipe.ExitWiped || len(results) != 2 || results[0].Outcome != wipe.OutcomeWiped || results[1].Outcome != wipe.OutcomeWiped {
		t.Fatalf("exit %d, %+v\n%s", code, results, stderr)
	}
	if _, v := scanOne(t, root, "sdd"); v.State != discovery.StateAvailable {
		t.Errorf("after the wipe sdd is %s %s", v.State, v.Reason)
	}
	f, err := os.Open(filepath.Join(root, "dev", "sde"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	size := int64(10 * fixture.GiB)
	for _, off := range []int64{0, 512, 1024, 1<<20 + 1024, size - 512, size - 33*512} {
		b := make([]byte, 16)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, make([]byte, 16)) {
			t.Errorf("sde at %d still reads %x", off, b)
		}
	}
}

func TestWipeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--cluster-fsid=x"},
		{"--cluster-fsid=x", `--targets=[{"path":"/dev/sdb"}]`},
		{"--cluster-fsid=x", `--targets=[{"path":"/dev/sdb","confirmation":"a","expectedOSD":{"fsid":"x","osdID":1}}]`},
		{"--cluster-fsid=x", `--targets=[{"path":"/dev/sdb","confirmation":"a","typo":1}]`},
		{"--cluster-fsid=x", `--targets=[{"path":"/dev/../sdb","confirmation":"a"}]`},
		{`--targets=[{"path":"/dev/sdb","confirmation":"a"}]`},
	} {
		var out, errOut bytes.Buffer
		if code := runWipe(append(args, "--report="), &out, &errOut); code != wipe.ExitBadFlags {
			t.Errorf("%q: exit %d, want %d", args, code, wipe.ExitBadFlags)
		}
	}
}

// TestWipeExpectedOSDFreesItsDBPartition: wiping a purged OSD's disk first
// frees the DB partition on the metadata device that carries that OSD's
// label, and leaves the partitions of other OSDs alone.
func TestWipeExpectedOSDFreesItsDBPartition(t *testing.T) {
	root := t.TempDir()
	n := fixture.New(root)
	size := int64(10 * fixture.GiB)
	ours := fixture.Label(testFSID, 3)
	other := fixture.Label(testFSID, 4)
	db := func(num int, uuid string) fixture.GPTPartition {
		return fixture.GPTPartition{Number: num, Name: gpt.Label(gpt.RoleDB, testFSID, num), Type: gpt.TypeCephDB,
			UUID: fmt.Sprintf("11111111-2222-4333-8444-00000000000%d", num), Start: int64(num) << 30, Size: 1 << 30,
			Content: fixture.BlueFSLabel(uuid, "bluefs db")}
	}
	parts := []fixture.GPTPartition{db(1, ours.OSDUUID), db(2, other.OSDUUID)}
	n.Add(fixture.Disk{Name: "sdd", SizeBytes: uint64(size), Links: []string{"by-id/wwn-0xsdd"}, Content: fixture.BlueStore(ours)})
	n.Add(fixture.Disk{Name: "nvme0n1", SizeBytes: uint64(4 * fixture.GiB), Partitions: fixture.SysfsPartitions("nvme0n1", parts)})
	if err := n.Write(); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteGPT("nvme0n1", parts); err != nil {
		t.Fatal(err)
	}
	// The partitions' device nodes, as devtmpfs shows them.
	for _, p := range parts {
		node := filepath.Join(root, "dev", fmt.Sprintf("nvme0n1p%d", p.Number))
		if err := os.WriteFile(node, make([]byte, 2<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(node, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Content {
			if _, err := f.WriteAt(c.Data, c.Offset); err != nil {
				t.Fatal(err)
			}
		}
		_ = f.Close()
	}
	code, results, stderr := runWipeTest(t, root, wipe.Target{Path: "/dev/disk/by-id/wwn-0xsdd", ExpectedOSD: &wipe.ExpectedOSD{FSID: testFSID, OSDID: 3}})
	if code != wipe.ExitWiped || results[0].Outcome != wipe.OutcomeWiped || !strings.Contains(results[0].Message, "its partition nvme0n1p1 on nvme0n1 freed") {
		t.Fatalf("exit %d, %+v\n%s", code, results, stderr)
	}
	for num, wantZero := range map[int]bool{1: true, 2: false} {
		b, err := os.ReadFile(filepath.Join(root, "dev", fmt.Sprintf("nvme0n1p%d", num)))
		if err != nil {
			t.Fatal(err)
		}
		zero := bytes.Equal(b[:1<<20], make([]byte, 1<<20))
		if zero != wantZero {
			t.Errorf("nvme0n1p%d: first MiB zero %v, want %v", num, zero, wantZero)
		}
	}
}

// TestWipeSplitDiskTargets: two partitions of one split disk are two
// targets; one partition twice, or a disk with one of its partitions, is
// refused as bad flags.
func TestWipeSplitDiskTargets(t *testing.T) {
	part := func(n int) string {
		return fmt.Sprintf(`{"path":"/dev/sdb","id":"/dev/sdb-part%d","expectedOSD":{"fsid":"x","osdID":%d},"partition":{"number":%d,"partUUID":"11111111-2222-4333-8444-00000000000%d","startBytes":1048576,"sizeBytes":1048576}}`, n, n, n, n)
	}
	whole := `{"path":"/dev/sdb","expectedOSD":{"fsid":"x","osdID":1}}`
	for name, c := range map[string]struct {
		targets string
		bad     bool
	}{
		"one partition twice":           {targets: "[" + part(1) + "," + part(1) + "]", bad: true},
		"the disk and one of its parts": {targets: "[" + whole + "," + part(1) + "]", bad: true},
		"a part and then its disk":      {targets: "[" + part(1) + "," + whole + "]", bad: true},
		"two partitions":                {targets: "[" + part(1) + "," + part(2) + "]"},
	} {
		var out, errOut bytes.Buffer
		code := runWipe([]string{"--cluster-fsid=x", "--targets=" + c.targets, "--report=", "--lock-file=" + filepath.Join(t.TempDir(), "lock"), "--host-root=" + t.TempDir()}, &out, &errOut)
		if (code == wipe.ExitBadFlags) != c.bad {
			t.Errorf("%s: exit %d (stderr %q), want bad flags %v", name, code, errOut.String(), c.bad)
		}
	}
}

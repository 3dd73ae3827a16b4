package discovery_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/internal/gpt"
)

const mib = int64(1) << 20

// metaDisk is a fixture disk whose sysfs shows parts; its GPT is written
// by WriteGPT after the node is.
func metaDisk(name string, size int64, parts []fixture.GPTPartition) fixture.Disk {
	return fixture.Disk{Name: name, SizeBytes: uint64(size), Partitions: fixture.SysfsPartitions(name, parts)}
}

// TestScanMetadataDevices: GPTs written as the prepare step writes them,
// with labels as ceph-osd writes them, read back through the scanner.
func TestScanMetadataDevices(t *testing.T) {
	const size = 4 * fixture.GiB
	const other = "deadbeef-0000-4000-8000-000000000000"
	osdA := "aaaaaaaa-0000-4000-8000-000000000001"
	db := func(n int, fsid string, content ...fixture.Chunk) fixture.GPTPartition {
		return fixture.GPTPartition{Number: n, Name: gpt.Label(gpt.RoleDB, fsid, n), Type: gpt.TypeCephDB,
			UUID: "11111111-2222-4333-8444-00000000000" + string(rune('0'+n)), Start: int64(n) * 64 * mib, Size: 64 * mib, Content: content}
	}
	layouts := map[string][]fixture.GPTPartition{
		"sdb": {db(1, clusterFSID, fixture.BlueFSLabel(osdA, "bluefs db")...), db(2, clusterFSID)},
		"sdc": {db(1, clusterFSID), db(2, other)},
		"sdd": {db(1, clusterFSID), {Number: 2, Name: "data", Type: "0fc63daf-8483-4772-8e79-3d69d8477de4", Start: 512 * mib, Size: 64 * mib}},
		"sde": {db(1, clusterFSID, fixture.Ext4("x")...)},
	}
	cases := []blankCase{
		{disk: metaDisk("sdb", size, layouts["sdb"]), wantState: "MetadataDevice", wantMsg: []string{"the DB partitions of 1 OSD (partition 1) and 1 unused partition (partition 2)"}},
		{disk: metaDisk("sdc", size, layouts["sdc"]), wantState: "Rejected", wantReason: "ForeignCephCluster", wantMsg: []string{"partition 2 (sdc2", "deadbeef"}},
		{disk: metaDisk("sdd", size, layouts["sdd"]), wantState: "Rejected", wantReason: "HasPartitions", wantMsg: []string{"sdd1, sdd2"}},
		{disk: metaDisk("sde", size, layouts["sde"]), wantState: "Rejected", wantReason: "HasUnknownData", wantMsg: []string{"partition 1 (sde1"}},
	}
	var root string
	var node *fixture.Node
	byName := scanCases(t, discovery.Options{ClusterFSID: clusterFSID}, cases, func(r string, n *fixture.Node) {
		root, node = r, n
		for name, parts := range layouts {
			if err := n.WriteGPT(name, parts); err != nil {
				t.Fatal(err)
			}
		}
	})
	d := byName["sdb"]
	if len(d.GPTPartitions) != 2 {
		t.Fatalf("sdb partitions: %+v", d.GPTPartitions)
	}
	p := d.GPTPartitions[0]
	if p.Name != "sdb1" || p.Number != 1 || p.PartUUID != "11111111-2222-4333-8444-000000000001" || p.Label != "ceph-db.c0ffee00.1" ||
		p.Type != gpt.TypeCephDB || p.StartBytes != 64*mib || p.SizeBytes != 64*mib || p.OSDUUID() != osdA {
		t.Errorf("sdb1 = %+v", p)
	}
	if role, f8, ok := p.Role(); role != gpt.RoleDB || f8 != "c0ffee00" || !ok {
		t.Errorf("sdb1 role %q %q %v", role, f8, ok)
	}
	if q := d.GPTPartitions[1]; q.OSDUUID() != "" || q.NonZero || !q.Probed {
		t.Errorf("sdb2 = %+v, want blank and read", q)
	}

	// The content hash follows the partitions and their labels.
	rescan := func() discovery.Device {
		t.Helper()
		devs, err := discovery.Scanner{Root: root}.Scan()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			if d.KernelName == "sdb" {
				return d
			}
		}
		t.Fatal("sdb missing")
		return discovery.Device{}
	}
	if h := rescan().ContentHash; h != d.ContentHash || h == "" {
		t.Fatalf("content hash of an unchanged disk changed: %s, then %s", d.ContentHash, h)
	}
	label := fixture.BlueFSLabel("bbbbbbbb-0000-4000-8000-000000000002", "bluefs db")
	if err := writeAt(root, "sdb", 128*mib, label[0].Data); err != nil {
		t.Fatal(err)
	}
	afterLabel := rescan()
	if afterLabel.ContentHash == d.ContentHash {
		t.Error("an OSD's label on partition 2 left the content hash unchanged")
	}
	if v := discovery.Evaluate(afterLabel, discovery.Options{ClusterFSID: clusterFSID}); v.State != discovery.StateMetadataDevice || v.Message != "sdb is a metadata device of this cluster: it holds the DB partitions of 2 OSDs (partitions 1, 2)" {
		t.Errorf("after a second OSD: %+v", v)
	}
	if err := node.WriteGPT("sdb", []fixture.GPTPartition{db(3, clusterFSID)}); err != nil {
		t.Fatal(err)
	}
	afterPart := rescan()
	if afterPart.ContentHash == afterLabel.ContentHash {
		t.Error("a new partition left the content hash unchanged")
	}
	// The kernel was not told of partition 3: it is listed without a name.
	if v := discovery.Evaluate(afterPart, discovery.Options{ClusterFSID: clusterFSID}); v.State != discovery.StateMetadataDevice || len(afterPart.GPTPartitions) != 3 || afterPart.GPTPartitions[2].Name != "" {
		t.Errorf("after partition 3 in the GPT only: %+v, %+v", v, afterPart.GPTPartitions)
	}
}

// writeAt writes data into a fixture device node at off.
func writeAt(root, name string, off int64, data []byte) error {
	f, err := os.OpenFile(filepath.Join(root, "dev", name), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, off); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

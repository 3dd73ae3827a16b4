package realdisk

import (
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

const (
	clusterFSID = "c0ffee00-1111-4222-8333-444455556666"
	otherFSID   = "99999999-8888-4777-8666-555555555555"
	// blankSize is above the default 5 GiB minimum; the files are sparse,
	// so they cost no disk space.
	blankSize = 6 * fixture.GiB
	smallSize = 64 << 20
)

// realScanner scans the real host as the agent does on a node, but with
// this process's own mount table (the test mounts in its namespace).
func realScanner() discovery.Scanner {
	return discovery.Scanner{Root: "/", MountinfoPath: "/proc/self/mountinfo"}
}

// TestRealLoopVerdicts attaches one loop device per situation, scans the
// real host and checks each device's facts and verdict, then checks that
// scanning wrote nothing to any backing file.
func TestRealLoopVerdicts(t *testing.T) {
	loopdev.RequireRoot(t, "mkfs.ext4", "mount", "umount")
	dir := t.TempDir()
	type tc struct {
		name       string
		size       int64
		chunks     []fixture.Chunk
		ext4       bool
		readOnly   bool
		mount      bool
		wantState  string
		wantReason []string // any of these; the first is the documented one
		wantMsg    string
	}
	cases := []tc{
		{name: "blank", size: blankSize, wantState: discovery.StateAvailable},
		{name: "ext4", size: smallSize, ext4: true, wantState: discovery.StateRejected, wantReason: []string{"HasFilesystem"}, wantMsg: "ext4"},
		// Without partition scanning (losetup -P) the kernel lists no
		// partitions, so the table itself is what the probe finds.
		{name: "gpt", size: smallSize, chunks: fixture.GPT(smallSize, 512), wantState: discovery.StateRejected, wantReason: []string{"HasPartitionTable", "HasPartitions"}, wantMsg: "gpt"},
		{name: "readonly", size: blankSize, readOnly: true, wantState: discovery.StateRejected, wantReason: []string{"ReadOnly"}},
		// Mounted precedes HasFilesystem and Busy in the chain (see
		// discovery.Chain), although a mounted device is all three.
		{name: "mounted", size: smallSize, ext4: true, mount: true, wantState: discovery.StateRejected, wantReason: []string{"Mounted"}, wantMsg: "is mounted at"},
		{name: "small", size: smallSize, wantState: discovery.StateRejected, wantReason: []string{"TooSmall"}},
		{name: "bluestore-ours", size: smallSize, chunks: fixture.BlueStore(fixture.Label(clusterFSID, 3)), wantState: discovery.StateOSD},
		{name: "bluestore-foreign", size: smallSize, chunks: fixture.BlueStore(fixture.Label(otherFSID, 5)), wantState: discovery.StateRejected, wantReason: []string{"ForeignCephCluster"}, wantMsg: otherFSID},
	}
	devs := map[string]loopdev.Device{}
	files := map[string]string{}
	mounts := map[string]string{}
	for _, c := range cases {
		f := loopdev.SparseFile(t, dir, c.name+".img", c.size, c.chunks...)
		if c.ext4 {
			loopdev.Run(t, "mkfs.ext4", "-F", "-q", "-E", "lazy_itable_init=0,lazy_journal_init=0", f)
		}
		files[c.name] = f
		devs[c.name] = loopdev.Attach(t, f, c.readOnly)
		if c.mount {
			mounts[c.name] = loopdev.MountDevice(t, devs[c.name])
		}
	}
	sums := func() map[string]string {
		out := map[string]string{}
		for name, f := range files {
			if _, mounted := mounts[name]; mounted {
				// A mounted ext4 writes its journal and superblock on
				// its own schedule, so its file proves nothing here.
				continue
			}
			s, err := loopdev.FileSHA256(f)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = s
		}
		return out
	}
	before := sums()

	found, err := realScanner().Scan()
	if err != nil {
		t.Fatalf("scanning the host: %v", err)
	}
	byName := map[string]discovery.Device{}
	for _, d := range found {
		byName[d.KernelName] = d
	}
	opts := discovery.Options{ClusterFSID: clusterFSID, AllowLoop: true}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dev := devs[c.name]
			d, ok := byName[dev.Name]
			if !ok {
				t.Fatalf("%s (%s) missing from the scan", dev.Name, c.name)
			}
			if d.Type != discovery.TypeLoop || d.SizeBytes != uint64(c.size) || !d.Probed || d.LoopBackingFile == "" {
				t.Errorf("facts: type %s size %d (want %d) probed %v backing %q open error %q", d.Type, d.SizeBytes, c.size, d.Probed, d.LoopBackingFile, d.OpenError)
			}
			v := discovery.Evaluate(d, opts)
			ok = v.State == c.wantState
			if len(c.wantReason) > 0 {
				ok = ok && contains(c.wantReason, string(v.Reason))
			} else {
				ok = ok && v.Reason == ""
			}
			if !ok {
				t.Fatalf("verdict %s/%s (%s), want %s/%v\ndevice: %+v", v.State, v.Reason, v.Message, c.wantState, c.wantReason, d)
			}
			if !strings.Contains(v.Message, c.wantMsg) {
				t.Errorf("message %q lacks %q", v.Message, c.wantMsg)
			}
			if c.mount && !strings.Contains(v.Message, mounts[c.name]) {
				t.Errorf("message %q does not name the mount point %s", v.Message, mounts[c.name])
			}
			if c.name == "bluestore-ours" && (v.OSDID != 3 || v.ClusterFSID != clusterFSID) {
				t.Errorf("OSD verdict %+v, want OSD 3 of %s", v, clusterFSID)
			}
		})
	}
	// The label probe and the real kernel agree with the encoder.
	if l := byName[devs["bluestore-ours"].Name].BlueStore; l == nil || l.WhoAmI != 3 || l.ClusterFSID != clusterFSID || l.Meta[ceph.MetaOSDKey] == "" {
		t.Errorf("BlueStore label read back as %v", l)
	}

	after := sums()
	for name, s := range before {
		if after[name] != s {
			t.Errorf("scanning changed the backing file of %s", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

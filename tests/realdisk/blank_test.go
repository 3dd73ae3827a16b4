package realdisk_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

const clusterFSID = "c0ffee00-1111-4222-8333-444455556666"

// devSize is small: the verdicts below are run with a 1 MiB minimum, so
// TooSmall never hides the reason under test.
const devSize = 64 << 20

// backingDir is where the test's backing files live; they are removed when
// the test ends.
func backingDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("LOOPDEV_DIR")
	if base == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "blank-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestRealBlankMeansBlank attaches one loop device per situation that looks
// blank to a signature-only probe, scans the real host as the agent does,
// and checks each is rejected with the right reason, and that the scan
// wrote nothing to any of them.
func TestRealBlankMeansBlank(t *testing.T) {
	loopdev.RequireRoot(t)
	dir := backingDir(t)
	one := func(off int64) fixture.Chunk { return fixture.Chunk{Offset: off, Data: []byte{0xa5}} }
	emptyMBR := make([]byte, 512)
	binary := []byte{0xde, 0xad, 0xbe, 0xef}
	copy(emptyMBR[440:], binary) // disk identifier, as fdisk writes it
	emptyMBR[510], emptyMBR[511] = 0x55, 0xaa

	files := map[string]string{}
	devs := map[string]loopdev.Device{}
	attach := func(name string, chunks ...fixture.Chunk) {
		files[name] = loopdev.SparseFile(t, dir, name+".img", devSize, chunks...)
		devs[name] = loopdev.Attach(t, files[name], false)
	}
	attach("blank")
	attach("byte-at-0", one(0))
	attach("byte-below-1MiB", one(1<<20-1))
	attach("byte-in-tail", one(devSize-1))
	attach("empty-mbr", fixture.Chunk{Data: emptyMBR})
	attach("held-open")
	attach("loop-backing")
	devs["loop-on-loop"] = loopdev.Attach(t, devs["loop-backing"].Path, false)
	attach("same-file")
	devs["same-file-twice"] = loopdev.Attach(t, files["same-file"], false)
	half := fixture.Label(clusterFSID, 4)
	delete(half.Meta, "ready")
	attach("half-prepared", fixture.BlueStore(half)...)
	holder := loopdev.HoldOpen(t, devs["held-open"].Path)

	type want struct {
		state, reason string
		msg           []string
	}
	wants := map[string]want{
		"blank":           {discovery.StateAvailable, "", nil},
		"byte-at-0":       {discovery.StateRejected, "HasUnknownData", []string{"offset 0 ", "head"}},
		"byte-below-1MiB": {discovery.StateRejected, "HasUnknownData", []string{"offset 1048575 ", "head"}},
		"byte-in-tail":    {discovery.StateRejected, "HasUnknownData", []string{"offset " + strconv.Itoa(devSize-1) + " ", "tail"}},
		"empty-mbr":       {discovery.StateRejected, "HasPartitionTable", []string{"dos"}},
		"held-open":       {discovery.StateRejected, "Busy", []string{"pid " + strconv.Itoa(holder) + " (sleep)"}},
		"loop-backing":    {discovery.StateRejected, "HasHolders", []string{"backs loop device " + devs["loop-on-loop"].Name}},
		"loop-on-loop":    {discovery.StateAvailable, "", nil},
		"same-file":       {discovery.StateRejected, "SharedDevice", []string{devs["same-file-twice"].Name}},
		"same-file-twice": {discovery.StateRejected, "SharedDevice", []string{devs["same-file"].Name}},
		"half-prepared":   {discovery.StateRejected, "PartiallyPrepared", []string{"missing ready", "ceph osd dump | grep " + half.OSDUUID}},
	}

	sums := func() map[string]string {
		out := map[string]string{}
		for name, f := range files {
			s, err := loopdev.FileSHA256(f)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = s
		}
		return out
	}
	before := sums()
	found, err := discovery.Scanner{Root: "/", MountinfoPath: "/proc/self/mountinfo"}.Scan()
	if err != nil {
		t.Fatalf("scanning the host: %v", err)
	}
	byName := map[string]discovery.Device{}
	for _, d := range found {
		byName[d.KernelName] = d
	}
	opts := discovery.Options{ClusterFSID: clusterFSID, AllowLoop: true, MinSizeBytes: 1 << 20}
	for name, w := range wants {
		t.Run(name, func(t *testing.T) {
			dev := devs[name]
			d, ok := byName[dev.Name]
			if !ok {
				t.Fatalf("%s (%s) missing from the scan", dev.Name, name)
			}
			v := discovery.Evaluate(d, opts)
			if v.State != w.state || string(v.Reason) != w.reason {
				t.Fatalf("%s: verdict %s/%s (%s), want %s/%s", dev.Name, v.State, v.Reason, v.Message, w.state, w.reason)
			}
			for _, m := range w.msg {
				if !strings.Contains(v.Message, m) {
					t.Errorf("%s: message %q lacks %q", dev.Name, v.Message, m)
				}
			}
			t.Logf("%s %s: %s/%s: %s", name, dev.Name, v.State, v.Reason, v.Message)
		})
	}
	after := sums()
	for name, s := range before {
		if after[name] != s {
			t.Errorf("scanning changed the content of %s", name)
		} else {
			t.Logf("%s: sha256 %s unchanged (bytes changed: 0)", name, s[:16])
		}
	}
	if len(before) != len(files) {
		t.Fatalf("hashed %d of %d backing files", len(before), len(files))
	}
}

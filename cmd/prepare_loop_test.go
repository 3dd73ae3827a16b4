package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

// loopWorkDir is where this package's tests keep loop-device backing files.
const loopWorkDir = "/tmp/work/prepare"

// TestTwoPreparesOnOneLoopDevice runs two `agent prepare` at once, for two
// different clusters, on one real loop device. The stand-in ceph-volume
// writes the device slowly. The host lock makes the second wait for the
// whole first run: it then finds the first cluster's OSD on the disk and
// refuses it (a scan during the first run would have seen a blank disk, or
// failed the O_EXCL hold as Busy). The device is written exactly once.
//
// It runs twice: as with Ceph 16/17, whose ceph-osd leaves our O_EXCL hold
// in place during ceph-volume, and as with Ceph 18+ (a stand-in ceph-osd
// reports 18.2.4), where the hold is released before ceph-volume and only
// the host lock keeps the second prepare off the disk.
func TestTwoPreparesOnOneLoopDevice(t *testing.T) {
	loopdev.RequireRoot(t)
	for _, version := range []string{"", "18.2.4"} {
		name := "hold kept"
		if version != "" {
			name = "hold released for ceph " + version
		}
		t.Run(name, func(t *testing.T) { twoPrepares(t, version) })
	}
}

func twoPrepares(t *testing.T, cephVersion string) {
	if err := os.MkdirAll(loopWorkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(loopWorkDir, "two-prepares-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // runs after the detach below
	backing := loopdev.SparseFile(t, dir, "disk.img", 64<<20)
	dev := loopdev.Attach(t, backing, false)

	e := installFakeCephVolume(t, "")
	t.Setenv("CV_SLOW", "1")
	if cephVersion != "" {
		script := "#!/bin/sh\necho 'ceph version " + cephVersion + " (0000000000000000000000000000000000000000) reef (stable)'\n"
		if err := os.WriteFile(filepath.Join(e.dir, "ceph-osd"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const otherFSID = "0b7d9c4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
	args := []string{"--device=" + dev.Path, "--allow-loop-devices", "--min-size-bytes=1048576"}

	type run struct {
		code    int
		results []prepare.Result
		stderr  string
		err     error
	}
	first, second := make(chan run, 1), make(chan run, 1)
	go func() {
		var r run
		r.code, r.results, r.stderr, r.err = runPrepareReport(t.TempDir(), "/", e, testFSID, args...)
		first <- r
	}()
	// Start the second once the first's ceph-volume is writing.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(readFile(e.log), "start ") {
		if time.Now().After(deadline) {
			t.Fatalf("the first prepare never started ceph-volume; log %q", readFile(e.log))
		}
		time.Sleep(20 * time.Millisecond)
	}
	go func() {
		var r run
		r.code, r.results, r.stderr, r.err = runPrepareReport(t.TempDir(), "/", e, otherFSID, args...)
		second <- r
	}()
	a, b := <-first, <-second
	for _, r := range []run{a, b} {
		if r.err != nil {
			t.Fatal(r.err)
		}
	}
	t.Logf("first: exit %d %+v", a.code, a.results)
	t.Logf("second: exit %d %+v", b.code, b.results)
	if a.code != 0 || a.results[0].Outcome != prepare.OutcomePrepared || a.results[0].OSDID == nil || *a.results[0].OSDID != 0 {
		t.Errorf("first prepare: exit %d, %+v; want Prepared OSD 0\n%s", a.code, a.results, a.stderr)
	}
	if b.code != 3 || b.results[0].Outcome != prepare.OutcomeRefused || b.results[0].Reason != "ForeignCephCluster" {
		t.Errorf("second prepare: exit %d, %+v; want Refused ForeignCephCluster\n%s", b.code, b.results, b.stderr)
	}
	// ceph-volume ran once, start to end, never twice.
	if log := strings.Split(strings.TrimSpace(readFile(e.log)), "\n"); len(log) != 2 ||
		!strings.HasPrefix(log[0], "start "+dev.Path) || log[1] != "end "+dev.Path {
		t.Errorf("ceph-volume log %q, want one start and one end on %s", log, dev.Path)
	}
	// The device holds exactly what the one write put there.
	want := loopdev.SparseFile(t, dir, "want.img", 64<<20, fixture.BlueStore(fixture.Label(testFSID, 0))...)
	gotSum, err1 := loopdev.FileSHA256(backing)
	wantSum, err2 := loopdev.FileSHA256(want)
	if err1 != nil || err2 != nil || gotSum != wantSum {
		t.Errorf("device content sha256 %s, want %s (the one label write) (%v, %v)", gotSum, wantSum, err1, err2)
	}
	head := make([]byte, 4096)
	f, err := os.Open(dev.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	label := ceph.EncodeBlueStoreLabel(fixture.Label(testFSID, 0))
	if !bytes.HasPrefix(head, label) {
		t.Errorf("the device does not start with the first cluster's label")
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestPrepareRefusesRealDevicesUntouched runs `agent prepare` on real loop
// devices that must not be written: a filesystem, another cluster's OSD, a
// device another holder has open with O_EXCL, and a blank device whose size
// is not the planned one. Each is refused with its reason, ceph-volume never
// runs on it, and the sha256 of each device's content is unchanged. A
// blank device planned as it is, in the same run, is prepared: the stand-in
// can write, it was simply never asked to.
func TestPrepareRefusesRealDevicesUntouched(t *testing.T) {
	loopdev.RequireRoot(t)
	if err := os.MkdirAll(loopWorkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(loopWorkDir, "refusals-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	const size = 64 << 20
	one := func(off int64) []fixture.Chunk { return []fixture.Chunk{{Offset: off, Data: []byte{0xa5}}} }
	emptyMBR := make([]byte, 512)
	emptyMBR[510], emptyMBR[511] = 0x55, 0xaa
	cases := []struct {
		name       string
		chunks     []fixture.Chunk
		holdExcl   bool
		holdOpen   bool // held without O_EXCL, as a raw-block volume's user would
		loopOnTop  bool // backs another loop device
		sameFile   bool // its backing file is behind a second loop device too
		wrongSize  bool
		wantReason string
	}{
		{name: "byte-at-0", chunks: one(0), wantReason: "HasUnknownData"},
		{name: "byte-below-1MiB", chunks: one(1<<20 - 1), wantReason: "HasUnknownData"},
		{name: "byte-in-tail", chunks: one(size - 1), wantReason: "HasUnknownData"},
		{name: "empty-mbr", chunks: []fixture.Chunk{{Data: emptyMBR}}, wantReason: "HasPartitionTable"},
		{name: "held-open", holdOpen: true, wantReason: "Busy"},
		{name: "loop-backing", loopOnTop: true, wantReason: "HasHolders"},
		{name: "same-file", sameFile: true, wantReason: "SharedDevice"},
		{name: "ext4", chunks: fixture.Ext4("data"), wantReason: "HasFilesystem"},
		{name: "foreign-osd", chunks: fixture.BlueStore(fixture.Label("0b7d9c4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", 4)), wantReason: "ForeignCephCluster"},
		{name: "held", holdExcl: true, wantReason: "Busy"},
		{name: "other-size", wrongSize: true, wantReason: prepare.ReasonIdentityMismatch},
		{name: "blank"},
	}
	type disk struct {
		backing, path, sum string
	}
	disks := make([]disk, len(cases))
	var targets []prepare.Target
	for i, c := range cases {
		backing := loopdev.SparseFile(t, dir, c.name+".img", size, c.chunks...)
		dev := loopdev.Attach(t, backing, false)
		sum, err := loopdev.FileSHA256(backing)
		if err != nil {
			t.Fatal(err)
		}
		disks[i] = disk{backing: backing, path: dev.Path, sum: sum}
		tgt := prepare.Target{Path: dev.Path, SizeBytes: size}
		if c.wrongSize {
			tgt.SizeBytes = 2 * size
		}
		targets = append(targets, tgt)
		switch {
		case c.holdOpen:
			loopdev.HoldOpen(t, dev.Path)
		case c.loopOnTop:
			loopdev.Attach(t, dev.Path, false)
		case c.sameFile:
			loopdev.Attach(t, backing, false)
		}
		if c.holdExcl {
			fd, err := unix.Open(dev.Path, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatalf("holding %s: %v", dev.Path, err)
			}
			t.Cleanup(func() { _ = unix.Close(fd) }) // before the detach
		}
	}
	e := installFakeCephVolume(t, "")
	js, _ := json.Marshal(targets)
	code, results, stderr, err := runPrepareReport(t.TempDir(), "/", e, testFSID, "--targets="+string(js), "--allow-loop-devices", "--min-size-bytes=1048576")
	if err != nil {
		t.Fatal(err)
	}
	if code != prepare.ExitRefused || len(results) != len(cases) {
		t.Fatalf("exit %d, %d results, want 3 and %d\n%s", code, len(results), len(cases), stderr)
	}
	for i, c := range cases {
		r := results[i]
		after, err := loopdev.FileSHA256(disks[i].backing)
		if err != nil {
			t.Fatal(err)
		}
		if c.wantReason == "" {
			if r.Outcome != prepare.OutcomePrepared || after == disks[i].sum {
				t.Errorf("%s: %+v, content changed %v; want Prepared and written", c.name, r, after != disks[i].sum)
			}
			continue
		}
		t.Logf("%s (%s): %s %s: %s", c.name, disks[i].path, r.Outcome, r.Reason, r.Message)
		if r.Outcome != prepare.OutcomeRefused || r.Reason != c.wantReason {
			t.Errorf("%s: %s %s, want Refused %s (%s)", c.name, r.Outcome, r.Reason, c.wantReason, r.Message)
		}
		if after != disks[i].sum {
			t.Errorf("%s: device content changed (sha256 %s -> %s)", c.name, disks[i].sum, after)
		}
	}
	if calls := e.calls(t); len(calls) != 2 || !strings.HasPrefix(calls[0], "start "+disks[len(disks)-1].path+" ") {
		t.Errorf("ceph-volume calls %q, want only the blank device", calls)
	}
}

package main

import (
	"os"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/agent/wipe"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/discovery/fixture"
	"github.com/ceph-operator/ceph-operator/tests/framework/loopdev"
)

// TestWipeRealLoopDevices runs agent wipe on real loop devices (root): a
// foreign OSD with a wrong confirmation, a mounted ext4 and a held-open
// foreign OSD are refused with their device's sha256 unchanged; the foreign
// OSD with the confirmation discovery shows is wiped (real O_EXCL,
// BLKDISCARD, BLKRRPART) and then scans Available.
func TestWipeRealLoopDevices(t *testing.T) {
	loopdev.RequireRoot(t, "mkfs.ext4", "mount")
	if err := os.MkdirAll(loopWorkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(loopWorkDir, "wipe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	const size = 64 << 20
	label := fixture.BlueStore(fixture.Label(otherFSID, 7))
	attach := func(name string, chunks ...fixture.Chunk) (string, loopdev.Device) {
		backing := loopdev.SparseFile(t, dir, name+".img", size, chunks...)
		return backing, loopdev.Attach(t, backing, false)
	}
	foreignFile, foreignDev := attach("foreign", label...)
	heldFile, heldDev := attach("held", label...)
	extFile, extDev := attach("ext4")
	loopdev.Run(t, "mkfs.ext4", "-q", "-F", extDev.Path)
	loopdev.MountDevice(t, extDev)
	loopdev.HoldOpen(t, heldDev.Path)

	opts := discovery.Options{ClusterFSID: testFSID, AllowLoop: true, MinSizeBytes: 1 << 20}
	devs, err := discovery.Scanner{}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	confirm := map[string]string{}
	for _, d := range devs {
		v := discovery.Evaluate(d, opts)
		if v.Reason == discovery.Mounted || v.Reason == discovery.Busy {
			// What it would confirm were it not in use.
			v.Reason = discovery.HasFilesystem
			if d.BlueStore != nil {
				v.Reason = discovery.ForeignCephCluster
			}
		}
		confirm["/dev/"+d.KernelName] = discovery.WipeConfirmation(discovery.DeviceWipeIdentity(d, v))
	}
	sums := map[string]string{}
	for _, f := range []string{foreignFile, heldFile, extFile} {
		if sums[f], err = loopdev.FileSHA256(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		target wipe.Target
		reason string
	}{
		{"wrong confirmation", wipe.Target{Path: foreignDev.Path, Confirmation: confirm[heldDev.Path]}, wipe.ReasonConfirmationMismatch},
		{"mounted", wipe.Target{Path: extDev.Path, Confirmation: confirm[extDev.Path]}, string(discovery.Mounted)},
		{"held open", wipe.Target{Path: heldDev.Path, Confirmation: confirm[heldDev.Path]}, string(discovery.Busy)},
	} {
		code, results, stderr := runWipeArgs(t, "/", loopFlags, c.target)
		if code != wipe.ExitRefused || results[0].Reason != c.reason {
			t.Errorf("%s: exit %d, %+v, want refused %s\n%s", c.name, code, results, c.reason, stderr)
		}
	}
	for f, sum := range sums {
		if got, _ := loopdev.FileSHA256(f); got != sum {
			t.Errorf("%s changed after refusals", f)
		}
	}
	code, results, stderr := runWipeArgs(t, "/", loopFlags, wipe.Target{Path: foreignDev.Path, SizeBytes: size, Confirmation: confirm[foreignDev.Path]})
	if code != wipe.ExitWiped || results[0].Outcome != wipe.OutcomeWiped {
		t.Fatalf("right confirmation: exit %d, %+v\n%s", code, results, stderr)
	}
	t.Logf("%s: %s", foreignDev.Path, results[0].Message)
	devs, err = discovery.Scanner{}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if "/dev/"+d.KernelName == foreignDev.Path {
			if v := discovery.Evaluate(d, opts); v.State != discovery.StateAvailable {
				t.Errorf("after the wipe %s is %s %s: %s", foreignDev.Path, v.State, v.Reason, v.Message)
			}
		}
	}
	for _, f := range []string{heldFile, extFile} {
		if got, _ := loopdev.FileSHA256(f); got != sums[f] {
			t.Errorf("%s changed by the wipe of another device", f)
		}
	}
}

// loopFlags judge small loop devices as disks.
var loopFlags = []string{"--allow-loop-devices", "--min-size-bytes=1048576"}

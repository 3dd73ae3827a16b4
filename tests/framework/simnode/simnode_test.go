package simnode

import (
	"context"
	"reflect"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

const fsid = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"

func verdicts(t *testing.T, dir string) map[string]string {
	t.Helper()
	devices, err := discovery.Scanner{Root: dir}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range devices {
		v := discovery.Evaluate(d, discovery.Options{ClusterFSID: fsid})
		out[d.KernelName] = v.State + "/" + string(v.Reason)
	}
	return out
}

// TestDemoMixVerdicts checks that the simulated disks get the verdicts the
// demo and the end-to-end tests expect from the real scanner, and that a
// label written by WriteOSD turns a disk into an OSD of the cluster.
func TestDemoMixVerdicts(t *testing.T) {
	dir := t.TempDir()
	root, err := WriteRoot(dir, DemoMix(0))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sdb": "Available/", "sdc": "Available/", "sdd": "Rejected/Mounted",
		"sde": "Rejected/HasFilesystem", "sdf": "Rejected/TooSmall", "sdg": "Rejected/ForeignCephCluster",
	}
	if got := verdicts(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("verdicts %v\nwant     %v", got, want)
	}

	name, err := root.AddDisk(Blank)
	if err != nil || name != "sdh" {
		t.Fatalf("AddDisk = %q, %v", name, err)
	}
	devices, _ := discovery.Scanner{Root: dir}.Scan()
	var link string
	for _, d := range devices {
		if d.KernelName == "sdb" {
			link = d.StableID()
		}
	}
	if err := WriteOSD(dir, link, fsid, 4); err != nil {
		t.Fatal(err)
	}
	want["sdh"] = "Available/"
	want["sdb"] = "OSD/"
	if got := verdicts(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("after hot-plug and OSD: %v\nwant %v", got, want)
	}
}

// TestSimulatedImageFiles checks that the files an agent process of a
// simulated node reads as its image's tell the simulated release and ceph
// user.
func TestSimulatedImageFiles(t *testing.T) {
	dir := t.TempDir()
	passwd, err := simulatedPasswd(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := ceph.DetectUser(passwd, ceph.UserName); err != nil || u.UID != SimulatedCephUser.UID || u.GID != SimulatedCephUser.GID {
		t.Errorf("ceph user of the simulated image: %+v, %v; want %+v", u, err, SimulatedCephUser)
	}
	tool, err := simulatedCeph(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ceph.DetectVersion(context.Background(), tool); err != nil || v != SimulatedCephVersion {
		t.Errorf("Ceph version of the simulated image: %q, %v; want %s", v, err, SimulatedCephVersion)
	}
}

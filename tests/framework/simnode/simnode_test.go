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
	tool, err := simulatedCeph(dir, SimulatedCephVersion)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ceph.DetectVersion(context.Background(), tool); err != nil || v != SimulatedCephVersion {
		t.Errorf("Ceph version of the simulated image: %q, %v; want %s", v, err, SimulatedCephVersion)
	}
}

func TestCephVersionOf(t *testing.T) {
	for image, want := range map[string]string{
		"quay.io/ceph/ceph:v19.2.3":               "19.2.3",
		"quay.io/ceph/ceph:v18.2.7-20250717":      "18.2.7",
		"localhost:5000/ceph/ceph:17.2.8":         "17.2.8",
		"quay.io/ceph/ceph:v19.2.3@sha256:0123ab": "19.2.3",
		// No release in the tag: the documented fallback.
		"quay.io/ceph/ceph:latest":                SimulatedCephVersion,
		"quay.io/ceph/ceph:v19":                   SimulatedCephVersion,
		"quay.io/ceph/ceph@sha256:0123ab":         SimulatedCephVersion,
		"localhost:5000/ceph/ceph":                SimulatedCephVersion,
		"localhost/ceph-operator/ceph-test:v16.2": SimulatedCephVersion,
		"": SimulatedCephVersion,
	} {
		if got := CephVersionOf(image); got != want {
			t.Errorf("CephVersionOf(%q) = %q, want %q", image, got, want)
		}
	}
}

// TestSimulatedCephReportsImageVersion runs the ceph tool an agent process
// is given and reads its version as the agent does.
func TestSimulatedCephReportsImageVersion(t *testing.T) {
	for _, v := range []string{"19.2.3", SimulatedCephVersion} {
		p, err := simulatedCeph(t.TempDir(), v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ceph.DetectVersion(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if got != v {
			t.Errorf("simulated ceph for %s reports %q", v, got)
		}
	}
}

package resources

import (
	"strings"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/agent/wipe"
)

func TestCleanupJob(t *testing.T) {
	const fsid = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"
	c := testCluster()
	images := Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}
	osd := WipeTarget{Path: "/dev/disk/by-id/wwn-0x1", ID: "/dev/disk/by-id/wwn-0x1", SizeBytes: 1 << 40,
		ExpectedOSD: &wipe.ExpectedOSD{FSID: fsid, OSDID: 3}}
	job, err := CleanupJob(c, images, fsid, "node-a", []WipeTarget{osd})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "cleanup-job", job)
	if job.Name != CleanupJobName(c, "node-a") || job.Labels[ComponentLabel] != ComponentCleanup || job.Annotations[JobKindAnnotation] != JobKindCleanup {
		t.Errorf("name %s, labels %v, annotations %v", job.Name, job.Labels, job.Annotations)
	}
	dir, _ := ClusterHostDir(c)
	cs := job.Spec.Template.Spec.Containers
	if len(cs) != 2 || cs[0].Name != WipeContainer || cs[1].Name != HostDirContainer {
		t.Fatalf("containers %v", cs)
	}
	if ts, err := wipe.ParseTargets(targetsArg(cs[0])); err != nil || len(ts) != 1 || ts[0].ExpectedOSD == nil || ts[0].ExpectedOSD.OSDID != 3 || ts[0].ExpectedOSD.FSID != fsid {
		t.Errorf("targets %+v, %v", ts, err)
	}
	// The only host directory it writes is the cluster's own, mounted
	// where the agent is told to look, and the agent removes only <fsid>.
	mounted := ""
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Name == "cluster-dir" {
			mounted = v.HostPath.Path
		}
	}
	if mounted != dir || dir != "/var/lib/ceph-operator/"+c.Namespace+"/"+c.Name {
		t.Errorf("mounts %q, the cluster's directory is %q", mounted, dir)
	}
	if got := strings.Join(cs[1].Args, " "); got != "agent remove-host-dir --dir="+clusterDirMount+" --fsid="+fsid {
		t.Errorf("remove-host-dir args %q", got)
	}

	// A node without disks still gets its directory removed.
	job, err = CleanupJob(c, images, fsid, "node-b", nil)
	if err != nil || len(job.Spec.Template.Spec.Containers) != 1 || job.Spec.Template.Spec.Containers[0].Name != HostDirContainer {
		t.Fatalf("cleanup Job without disks: %v, %+v", err, job)
	}
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.HostPath != nil && v.Name != "cluster-dir" {
			t.Errorf("a cleanup Job without disks mounts host path %s", v.HostPath.Path)
		}
	}

	// Refused: a disk not named as an OSD of this cluster, an FSID that is
	// not a UUID, a data directory that is not in normal form.
	confirmed := osd
	confirmed.ExpectedOSD, confirmed.Confirmation = nil, "wwn=x/content=y"
	other := osd
	other.ExpectedOSD = &wipe.ExpectedOSD{FSID: "0bad0bad-0bad-4bad-8bad-0bad0bad0bad", OSDID: 3}
	for name, targets := range map[string][]WipeTarget{"confirmation": {confirmed}, "other FSID": {other}} {
		if _, err := CleanupJob(c, images, fsid, "node-a", targets); err == nil {
			t.Errorf("%s: a cleanup Job was built", name)
		}
	}
	if _, err := CleanupJob(c, images, "../..", "node-a", nil); err == nil {
		t.Error("a cleanup Job with FSID ../.. was built")
	}
	for _, p := range []string{"/", "relative", "/var/lib/../..", "/var/lib/x/"} {
		bad := c.DeepCopy()
		bad.Spec.DataDirHostPath = p
		if _, err := CleanupJob(bad, images, fsid, "node-a", nil); err == nil {
			t.Errorf("dataDirHostPath %q: a cleanup Job was built", p)
		}
	}
}

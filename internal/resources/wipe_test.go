package resources

import (
	"encoding/json"
	"testing"

	"github.com/ceph-operator/ceph-operator/internal/agent/wipe"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
)

func TestWipeJobGolden(t *testing.T) {
	c := testCluster()
	c.Spec.Storage.AllowLoopDevices = true
	images := Images{Operator: "quay.io/ceph-operator/ceph-operator:v0.1.0", PullPolicy: "IfNotPresent"}
	spec := osdplan.JobSpec{Node: "node-a", Wipe: true, Devices: []osdplan.Device{
		{Name: "sdb", ID: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", Path: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4",
			WWN: "0x5000c500a1b2c3d4", Serial: "ZA1B2C3D", SizeBytes: 4000787030016,
			WipeConfirmation: "wwn=0x5000c500a1b2c3d4/content=3f2a9c1b7d4e/fsid=99999999-8888-4777-8666-555555555555"},
	}}
	job, err := WipeJob(c, images, "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e", spec)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "wipe-job", job)

	// Same name and component as the node's prepare Job: one at a time.
	if job.Name != PrepareJobName(c, "node-a") || job.Labels[ComponentLabel] != ComponentPrepare || job.Annotations[JobKindAnnotation] != JobKindWipe {
		t.Errorf("name %s, labels %v, annotations %v", job.Name, job.Labels, job.Annotations)
	}
	// The agent's own parser accepts the targets, with the confirmation.
	ts, err := wipe.ParseTargets(targetsArg(job.Spec.Template.Spec.Containers[0]))
	if err != nil || len(ts) != 1 || ts[0].Confirmation != spec.Devices[0].WipeConfirmation || ts[0].WWN != "0x5000c500a1b2c3d4" {
		t.Errorf("targets %+v, %v", ts, err)
	}
	var annotated []WipeTarget
	if err := json.Unmarshal([]byte(job.Annotations[DevicesAnnotation]), &annotated); err != nil || len(annotated) != 1 || annotated[0].ID != spec.Devices[0].ID {
		t.Errorf("devices annotation %+v, %v", annotated, err)
	}
	// No Ceph key or configuration reaches a wipe Job.
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.Secret != nil || v.ConfigMap != nil {
			t.Errorf("wipe Job mounts %s", v.Name)
		}
	}
	if _, err := WipeJob(c, images, "f", osdplan.JobSpec{Node: "node-a", Wipe: true}); err == nil {
		t.Error("a wipe Job without devices was built")
	}
}

package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ceph-operator/ceph-operator/internal/testenv"
	"github.com/ceph-operator/ceph-operator/tests/framework/world"
)

// TestClusterFlagsFailingDrives plays an agent that reports one OSD and one
// blank disk whose drives are failing, next to a healthy OSD: the cluster's
// status counts both, the node's summary names them with the OSD id, and a
// Warning Event says so once.
func TestClusterFlagsFailingDrives(t *testing.T) {
	ctx := context.Background()
	startManager(t)
	ns := newNamespace(t, "failing")
	withNodes(t, "failing-1")
	w := world.Start(t, env.Client, ns)
	w.SetKubernetesMinor(env.MinorVersion())
	// sdb: OSD 100, healthy; sdc: OSD 101, failing; sdd: failing, rejected.
	w.AddNode("failing-1", "osd", "failing-osd", "failing")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() error {
		got := getCluster(t, cluster)
		if got.Status.Disks.Failing != 2 {
			return fmt.Errorf("status.disks.failing = %d, want 2", got.Status.Disks.Failing)
		}
		if len(got.Status.NodeSummaries) != 1 || !strings.Contains(got.Status.NodeSummaries[0].Message, "Drives report failing health: sdc (OSD 101), sdd;") {
			return fmt.Errorf("node summaries %+v do not name sdc (OSD 101) and sdd", got.Status.NodeSummaries)
		}
		if got.Status.Disks.OSDs != 2 {
			return fmt.Errorf("status.disks.osds = %d, want 2: a failing drive's OSD is still an OSD", got.Status.Disks.OSDs)
		}
		return nil
	})
	testenv.Eventually(t, wait, func() error {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var notes []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "CephCluster" && e.Reason == "DiskFailing" {
				notes = append(notes, e.Note)
			}
		}
		if len(notes) != 1 || !strings.Contains(notes[0], "failing-1: sdc (OSD 101), sdd") {
			return fmt.Errorf("DiskFailing events %q, want one naming failing-1: sdc (OSD 101), sdd", notes)
		}
		return nil
	})
}

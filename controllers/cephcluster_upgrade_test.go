package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/apply"
	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/manager"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// daemonImages returns "component:image" for every monitor, manager and OSD
// Deployment of ns, sorted and deduplicated.
func daemonImages(t *testing.T, ns string) string {
	t.Helper()
	var list appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range list.Items {
		if d.Labels[resources.ComponentLabel] == resources.ComponentReporter {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			seen[d.Labels[resources.ComponentLabel]+":"+c.Image] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestCephImageUpgradeAndDowngrade: a spec.image two major releases newer
// is accepted and rolled to, and recorded in status.daemonImage; a later
// spec.image back to the older release is refused with a condition naming
// both versions, and no daemon's image changes; a jump of three major
// releases is refused the same way.
func TestCephImageUpgradeAndDowngrade(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "upgrade")
	startManager(t)
	withNodes(t, "upgrade-1")
	w := playAgent(t, ns, "upgrade-1")
	const reef, tentacle, squid = "quay.io/ceph/ceph:v18.2.7", "quay.io/ceph/ceph:v20.2.4", "quay.io/ceph/ceph:v19.2.3"
	w.SetImageVersion(reef, "18.2.7")
	w.SetImageVersion(tentacle, "20.2.4")
	w.SetImageVersion(squid, "19.2.3")
	w.SetImageVersion("example.org/ceph:v23.2.0", "23.2.0")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Image = reef
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	if d := got.Status.DaemonImage; d == nil || d.Image != reef || d.Version != "18.2.7" {
		t.Fatalf("status.daemonImage = %+v, want %s 18.2.7", d, reef)
	}
	onReef := daemonImages(t, ns)
	if !strings.Contains(onReef, "mon:"+reef) || strings.Contains(onReef, tentacle) {
		t.Fatalf("daemon images %s, want the monitors on %s", onReef, reef)
	}

	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = tentacle })
	waitFor(t, "the upgrade to Tentacle", func() error {
		c := getCluster(t, cluster)
		if d := c.Status.DaemonImage; d == nil || d.Image != tentacle || d.Version != "20.2.4" {
			return fmt.Errorf("status.daemonImage = %+v", d)
		}
		if imgs := daemonImages(t, ns); strings.Contains(imgs, reef) {
			return fmt.Errorf("daemon images %s still name %s", imgs, reef)
		}
		return nil
	})
	onTentacle := daemonImages(t, ns)
	// Created on Reef, the cluster keeps its AES keys on Tentacle.
	if err := checkKeyrings(t, cluster, ceph.KeyTypeAES); err != nil {
		t.Errorf("after the upgrade to Tentacle: %v", err)
	}

	refused := func(image, reason string, says ...string) {
		t.Helper()
		updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = image })
		waitFor(t, "refusing "+image, func() error {
			c := getCluster(t, cluster)
			v := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionCephVersionSupported)
			if v == nil || v.Status != metav1.ConditionFalse || v.Reason != reason {
				return fmt.Errorf("CephVersionSupported = %+v", v)
			}
			for _, s := range says {
				if !strings.Contains(v.Message, s) {
					return fmt.Errorf("message %q does not say %q", v.Message, s)
				}
			}
			if r := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionReady); r == nil || r.Reason != reason {
				return fmt.Errorf("Ready = %+v", r)
			}
			return nil
		})
		c := getCluster(t, cluster)
		if d := c.Status.DaemonImage; d == nil || d.Image != tentacle {
			t.Errorf("status.daemonImage = %+v after refusing %s, want %s kept", d, image, tentacle)
		}
		if imgs := daemonImages(t, ns); imgs != onTentacle {
			t.Errorf("daemon images %s after refusing %s, want them unchanged: %s", imgs, image, onTentacle)
		}
	}
	refused(reef, cephv1alpha1.ReasonCephDowngradeRefused, "18.2.7 (reef)", "20.2.4 (tentacle)", "cannot be downgraded")
	refused(squid, cephv1alpha1.ReasonCephDowngradeRefused, "19.2.3 (squid)", "20.2.4 (tentacle)")
	refused("example.org/ceph:v23.2.0", cephv1alpha1.ReasonCephUpgradeUnsupported, "23.2.0", "3 major releases")

	// Back to the daemons' own image: nothing to refuse.
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = tentacle })
	waitReady(t, cluster)
}

// TestDaemonRollout: an accepted new image reaches the monitors one at a
// time, then the manager: while the first updated monitor is not available
// again, no other daemon changes and the cluster says it is rolling.
func TestDaemonRollout(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "daemon-roll")
	startManager(t)
	nodes := []string{"droll-1", "droll-2", "droll-3"}
	withNodes(t, nodes...)
	w := playAgent(t, ns, nodes...)
	const reef, squid = "quay.io/ceph/ceph:v18.2.7", "quay.io/ceph/ceph:v19.2.3"
	w.SetImageVersion(reef, "18.2.7")
	w.SetImageVersion(squid, "19.2.3")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Image = reef
	cluster.Spec.Mon.Count = 3
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitReady(t, cluster)

	w.HoldDaemons(true)
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = squid })
	waitFor(t, "one monitor updated, and the rollout waiting for it", func() error {
		imgs := daemonImages(t, ns)
		r := condition(t, getCluster(t, cluster), cephv1alpha1.ConditionReady)
		if imgs != "mgr:"+reef+",mon:"+reef+",mon:"+squid+",osd:"+reef {
			return fmt.Errorf("daemon images %s", imgs)
		}
		if r == nil || r.Reason != cephv1alpha1.ReasonRollingUpdate || !strings.Contains(r.Message, "1 of 4 monitor and manager Deployments updated; waiting for") {
			return fmt.Errorf("Ready = %+v", r)
		}
		return nil
	})
	var mons appsv1.DeploymentList
	if err := env.Client.List(ctx, &mons, client.InNamespace(ns), client.MatchingLabels{resources.ComponentLabel: resources.ComponentMon}); err != nil {
		t.Fatal(err)
	}
	updated := 0
	for _, d := range mons.Items {
		if d.Spec.Template.Spec.Containers[0].Image == squid {
			updated++
			if d.Name != resources.MonName(cluster, "a") {
				t.Errorf("monitor %s was updated first, want monitor a", d.Name)
			}
		}
	}
	if updated != 1 {
		t.Errorf("%d monitors updated while the first is unavailable, want 1", updated)
	}

	w.HoldDaemons(false)
	waitFor(t, "every daemon on the new image", func() error {
		if imgs := daemonImages(t, ns); imgs != "mgr:"+squid+",mon:"+squid+",osd:"+squid {
			return fmt.Errorf("daemon images %s", imgs)
		}
		return nil
	})
	waitReady(t, getCluster(t, cluster))

	// Ceph then says every OSD runs a newer release than the OSD map
	// requires: the operator raises it, once.
	w.SetHealthChecks(cephv1alpha1.CephHealthCheck{Code: osdplan.CheckOSDUpgradeFinished, Severity: cephv1alpha1.CephHealthWarn,
		Message: "all OSDs are running squid or later but require_osd_release < squid"})
	waitFor(t, "require-osd-release run and Ceph's check gone", func() error {
		if !slices.Contains(w.OSDSteps(), "- require-osd-release") {
			return fmt.Errorf("Ceph commands %v", w.OSDSteps())
		}
		if st := getCluster(t, cluster).Status.Ceph; st == nil || len(st.Checks) != 0 {
			return fmt.Errorf("status.ceph %+v", st)
		}
		return hasEventReasons(ctx, ns, "OSDReleaseRequired")
	})
	time.Sleep(2 * time.Second)
	if n := len(slices.DeleteFunc(w.OSDSteps(), func(s string) bool { return s != "- require-osd-release" })); n != 1 {
		t.Errorf("require-osd-release ran %d times, want once: %v", n, w.OSDSteps())
	}
}

// daemonDeployments returns, for every monitor, manager and OSD Deployment
// of ns, its generation and template hash, and fails the test if one of
// them carries image anywhere in its pod template.
func daemonDeployments(t *testing.T, ns, image string) map[string]string {
	t.Helper()
	var list appsv1.DeploymentList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range list.Items {
		switch d.Labels[resources.ComponentLabel] {
		case resources.ComponentMon, resources.ComponentMgr, resources.ComponentOSD:
		default:
			continue
		}
		spec := d.Spec.Template.Spec
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			if c.Image == image {
				t.Fatalf("Deployment %s runs the operator image %s in container %s: an operator upgrade would restart it", d.Name, image, c.Name)
			}
		}
		out[d.Name] = fmt.Sprintf("generation %d, template %s", d.Generation, d.Annotations[apply.HashAnnotation])
	}
	return out
}

// waitReadyWithOSDs waits until cluster is Ready and runs an OSD.
func waitReadyWithOSDs(t *testing.T, cluster *cephv1alpha1.CephCluster) {
	t.Helper()
	waitFor(t, "the cluster Ready with its OSDs", func() error {
		got := getCluster(t, cluster)
		if !meta.IsStatusConditionTrue(got.Status.Conditions, cephv1alpha1.ConditionReady) || got.Status.OSDs.Running == 0 {
			return fmt.Errorf("conditions %v, osds %+v", got.Status.Conditions, got.Status.OSDs)
		}
		return nil
	})
}

// TestOperatorUpgradeLeavesDaemons: an operator upgrade (a new operator
// image, as OLM installs it) changes no monitor, manager or OSD
// Deployment: none of them carries the operator image, and the new
// operator, which updates the discovery agents and provisions a node added
// after the upgrade, leaves the existing daemons' templates as they were.
func TestOperatorUpgradeLeavesDaemons(t *testing.T) {
	ctx := context.Background()
	const v1, v2 = "ceph-operator:v1", "ceph-operator:v2"
	ns := newNamespace(t, "opupgrade")
	stop := startManagerWith(t, func(o *manager.Options) { o.OperatorImage = v1 })
	withNodes(t, "opup-a", "opup-b")
	w := playAgent(t, ns, "opup-a", "opup-b")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	waitReadyWithOSDs(t, cluster)
	before := daemonDeployments(t, ns, v1)
	stop()

	startManagerWith(t, func(o *manager.Options) { o.OperatorImage = v2 })
	waitFor(t, "the discovery agents on the new operator image", func() error {
		var ds appsv1.DaemonSetList
		if err := env.Client.List(ctx, &ds, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, d := range ds.Items {
			for _, c := range d.Spec.Template.Spec.InitContainers {
				if c.Image == v2 {
					return nil
				}
			}
		}
		return fmt.Errorf("no DaemonSet runs %s yet", v2)
	})
	// A node added now is provisioned by the new operator: its OSD
	// reconciler has run over the cluster.
	withNodes(t, "opup-c")
	w.AddNode("opup-c", "available")
	waitFor(t, "the new node's OSD", func() error {
		after := daemonDeployments(t, ns, v2)
		if len(after) != len(before)+1 {
			return fmt.Errorf("%d daemon Deployments, want %d", len(after), len(before)+1)
		}
		return nil
	})
	after := daemonDeployments(t, ns, v2)
	for name, was := range before {
		if after[name] != was {
			t.Errorf("Deployment %s changed with the operator upgrade: %s, was %s", name, after[name], was)
		}
	}
	if len(before) < 4 {
		t.Fatalf("only %d daemon Deployments before the upgrade: %v", len(before), before)
	}
}

// TestOSDsWaitForMonitorsOnNewImage: after a new spec.image is accepted,
// the OSDs stay on the old image for as long as a monitor or manager has
// not been updated to the new one. Here the monitors' rollout is held
// (Ceph reports a monitor out of quorum), so no monitor is updated: the
// OSDs must wait, whatever the cache keeps of the Deployments.
func TestOSDsWaitForMonitorsOnNewImage(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "monsfirst")
	startManager(t)
	withNodes(t, "monsfirst-1")
	w := playAgent(t, ns, "monsfirst-1")
	const reef, tentacle = "quay.io/ceph/ceph:v18.2.7", "quay.io/ceph/ceph:v20.2.4"
	w.SetImageVersion(reef, "18.2.7")
	w.SetImageVersion(tentacle, "20.2.4")
	cluster := newCluster(ns, "ceph")
	cluster.Spec.Image = reef
	if err := env.Client.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, cluster)
	if imgs := daemonImages(t, ns); !strings.Contains(imgs, "osd:"+reef) {
		t.Fatalf("daemon images %s, want OSDs on %s", imgs, reef)
	}
	// Ceph says a monitor is out of quorum: the monitors' rollout waits
	// before updating the first one.
	now := metav1.Now()
	report := &cephv1alpha1.CephCluster{
		ObjectMeta: metav1.ObjectMeta{Name: got.Name, Namespace: got.Namespace},
		Status: cephv1alpha1.CephClusterStatus{Ceph: &cephv1alpha1.CephStatus{
			Health: cephv1alpha1.CephHealthOK, FSID: got.Status.FSID, LastChecked: &now,
			Monitors: cephv1alpha1.CephMonitorStatus{Total: 3, InQuorum: 2},
		}},
	}
	if err := apply.Status(ctx, env.Client, report, apply.Reporter); err != nil {
		t.Fatal(err)
	}
	updateCluster(t, cluster, func(c *cephv1alpha1.CephCluster) { c.Spec.Image = tentacle })
	waitFor(t, "the OSDs held for the monitors", func() error {
		c := getCluster(t, cluster)
		if d := c.Status.DaemonImage; d == nil || d.Image != tentacle {
			return fmt.Errorf("status.daemonImage = %+v", d)
		}
		u := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionOSDsUpdated)
		if u == nil || u.Status != metav1.ConditionFalse || !strings.Contains(u.Message, "monitors and managers are updated before OSDs") {
			return fmt.Errorf("OSDsUpdated %+v", u)
		}
		return nil
	})
	for range 5 {
		if imgs := daemonImages(t, ns); strings.Contains(imgs, "osd:"+tentacle) || strings.Contains(imgs, "mon:"+tentacle) {
			t.Fatalf("daemon images %s while the monitors' rollout is held: the OSDs went first", imgs)
		}
		time.Sleep(time.Second)
	}
	// Quorum back: monitors, manager, then OSDs reach the new image.
	report.Status.Ceph.Monitors = cephv1alpha1.CephMonitorStatus{Total: 3, InQuorum: 3}
	if err := apply.Status(ctx, env.Client, report, apply.Reporter); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "everything on the new image", func() error {
		if imgs := daemonImages(t, ns); strings.Contains(imgs, reef) {
			return fmt.Errorf("daemon images %s", imgs)
		}
		return nil
	})
}

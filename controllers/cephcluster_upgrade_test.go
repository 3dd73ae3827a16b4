package controllers_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
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
}

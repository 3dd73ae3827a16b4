package realceph

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/monplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/tests/framework/realnode"
)

// failoverTimeout is spec.mon.failoverTimeout in checkMonFailover.
const failoverTimeout = 20 * time.Second

// quorumWatch asks Ceph for its quorum every two seconds until stopped,
// counting the answers and the failures and noting each change.
type quorumWatch struct {
	mu       sync.Mutex
	asked    int
	failures []string
	changes  []string
	last     string
	stop     chan struct{}
	done     chan struct{}
}

func watchQuorum(ctx context.Context, tl *tools) *quorumWatch {
	q := &quorumWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			start := time.Now()
			out, err := tl.run(ctx, nil, "timeout", "30", "ceph", "--keyring", tl.keyring, "--connect-timeout", "20",
				"quorum_status", "--format", "json")
			var st struct {
				Names []string `json:"quorum_names"`
			}
			if err == nil {
				err = json.Unmarshal(out, &st)
			}
			q.mu.Lock()
			q.asked++
			at := start.UTC().Format("15:04:05")
			if err != nil {
				if ctx.Err() == nil {
					q.failures = append(q.failures, fmt.Sprintf("%s: %v", at, err))
				}
			} else if now := strings.Join(st.Names, ","); now != q.last {
				q.changes = append(q.changes, fmt.Sprintf("%s %s (%.1fs)", at, now, time.Since(start).Seconds()))
				q.last = now
			}
			q.mu.Unlock()
			select {
			case <-q.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return q
}

func (q *quorumWatch) end() (int, []string, []string) {
	close(q.stop)
	<-q.done
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.asked, q.failures, q.changes
}

// checkMonFailover cuts a monitor's node off the network (its daemons keep
// running) and checks that, once the node is NotReady past
// spec.mon.failoverTimeout, the operator replaces the monitor with a new
// one on the spare node: the new monitor joins the quorum, the old one
// leaves the monitor map, the placement record says so, and the quorum
// answers throughout while readers keep reading. Then the node comes back:
// its old monitor does not.
func checkMonFailover(t *testing.T, ctx context.Context, c client.Client, cc *cephv1alpha1.CephCluster, cluster *realnode.Cluster, tl *tools, spare string, objs testObjects) {
	// The node to cut runs a monitor, and neither the operator nor the
	// reporter, whose work the failover needs (the tools pod is on the
	// spare node).
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	busy := map[string]bool{spare: true}
	monNode := map[string]string{}
	for _, p := range pods.Items {
		switch {
		case p.Labels[resources.ComponentLabel] == resources.ComponentMon:
			monNode[p.Spec.NodeName] = p.Labels[resources.MonNameLabel]
		case p.Labels["control-plane"] == "controller-manager", p.Labels[resources.ComponentLabel] == resources.ComponentReporter:
			busy[p.Spec.NodeName] = true
		}
	}
	node, failed := "", ""
	for n, m := range monNode {
		if !busy[n] && (node == "" || n < node) {
			node, failed = n, m
		}
	}
	if node == "" {
		t.Fatalf("no monitor node free of the operator and the reporter: monitors %v, busy %v", monNode, busy)
	}

	got := &cephv1alpha1.CephCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
		t.Fatal(err)
	}
	got.Spec.Mon.FailoverTimeout = &metav1.Duration{Duration: failoverTimeout}
	if err := c.Update(ctx, got); err != nil {
		t.Fatal(err)
	}

	qw := watchQuorum(ctx, tl)
	rp := startReaders(t, ctx, tl, objs)
	cut := time.Now()
	if err := cluster.DisconnectNode(node); err != nil {
		t.Fatal(err)
	}
	reconnected := false
	defer func() {
		if !reconnected {
			_ = cluster.ReconnectNode(node)
		}
	}()
	t.Logf("cut node %s (monitor %s) off the network at %s", node, failed, cut.UTC().Format("15:04:05"))

	realnode.WaitFor(t, ctx, 5*time.Minute, "node "+node+" NotReady", func() error {
		n := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: node}, n); err != nil {
			return err
		}
		if nodeReady(n) {
			return fmt.Errorf("still Ready")
		}
		return nil
	})
	notReady := time.Since(cut)
	var replacement monplan.Mon
	realnode.WaitFor(t, ctx, 5*time.Minute, "monitor "+failed+" replaced in the placement record", func() error {
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: resources.MonPlacementName(cc)}, cm); err != nil {
			return err
		}
		mons, err := monplan.Decode(cm.Data[resources.ConfigMapKeyMons])
		if err != nil {
			return err
		}
		for _, m := range mons {
			if m.Replaces == failed {
				replacement = m
				return nil
			}
		}
		return fmt.Errorf("placement %v", mons)
	})
	replaced := time.Since(cut)
	if replacement.Node != spare {
		errorf(t, "monitor %s replaced by %s on node %s, want the spare node %s", failed, replacement.Name, replacement.Node, spare)
	}
	var monDump string
	realnode.WaitFor(t, ctx, 5*time.Minute, "monitor "+replacement.Name+" in quorum, "+failed+" out of the monitor map", func() error {
		var q struct {
			Names  []string `json:"quorum_names"`
			MonMap struct {
				Mons []struct {
					Name string `json:"name"`
				} `json:"mons"`
			} `json:"monmap"`
		}
		out, err := tl.run(ctx, nil, "timeout", "60", "ceph", "--keyring", tl.keyring, "--connect-timeout", "30", "quorum_status", "--format", "json")
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, &q); err != nil {
			return err
		}
		var inMap []string
		for _, m := range q.MonMap.Mons {
			inMap = append(inMap, m.Name)
		}
		monDump = fmt.Sprintf("quorum %v, monitor map %v", q.Names, inMap)
		if len(q.Names) != multiNodes || !slices.Contains(q.Names, replacement.Name) || slices.Contains(inMap, failed) || len(inMap) != multiNodes {
			return fmt.Errorf("%s", monDump)
		}
		return nil
	})
	joined := time.Since(cut)
	t.Logf("FIGURE monitor failover: node %s cut off -> NotReady %.1fs -> monitor %s replaced by %s on %s %.1fs (timeout %s) -> %s in quorum, %s out of the map %.1fs; %s",
		node, notReady.Seconds(), failed, replacement.Name, replacement.Node, replaced.Seconds(), failoverTimeout, replacement.Name, failed, joined.Seconds(), monDump)

	// The node comes back; its old monitor must not.
	if err := cluster.ReconnectNode(node); err != nil {
		t.Fatal(err)
	}
	reconnected = true
	back := time.Now()
	realnode.WaitFor(t, ctx, 5*time.Minute, "node "+node+" Ready again and its old monitor's pod gone", func() error {
		n := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: node}, n); err != nil {
			return err
		}
		if !nodeReady(n) {
			return fmt.Errorf("node %s not Ready", node)
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{resources.MonNameLabel: failed}); err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("pod %s of monitor %s is still there", pods.Items[0].Name, failed)
		}
		d := &appsv1.Deployment{}
		switch err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: resources.MonName(cc, failed)}, d); {
		case err == nil:
			return fmt.Errorf("Deployment %s of the replaced monitor is still there", d.Name)
		case !apierrors.IsNotFound(err):
			return err
		}
		return nil
	})
	realnode.WaitFor(t, ctx, 10*time.Minute, "every monitor in quorum and every OSD up after the node came back", func() error {
		got := &cephv1alpha1.CephCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if st := got.Status.Ceph; st == nil || st.Monitors.InQuorum != multiNodes || st.Monitors.Total != multiNodes || st.OSDs.Up != multiNodes || st.OSDs.In != multiNodes {
			return fmt.Errorf("status.ceph = %+v", st)
		}
		if slices.Contains(got.Status.Ceph.Monitors.Quorum, failed) {
			return fmt.Errorf("monitor %s is back in the quorum %v", failed, got.Status.Ceph.Monitors.Quorum)
		}
		return allClean(ctx, tl)
	})
	returned := time.Since(back)
	readers := rp.end(t, ctx, tl, "during the failover", cut)
	asked, qfail, changes := qw.end()
	t.Logf("FIGURE monitor failover: node back -> quorum of %d, OSDs up, PGs active+clean %.1fs; quorum asked %d times, %d failed, changes: %s; %s",
		multiNodes, returned.Seconds(), asked, len(qfail), strings.Join(changes, "; "), readers)
	for _, f := range qfail {
		errorf(t, "the quorum did not answer during the failover: %s", f)
	}
	mons := map[string]bool{}
	var deps corev1.PodList
	if err := c.List(ctx, &deps, client.InNamespace(namespace), client.MatchingLabels{resources.ComponentLabel: resources.ComponentMon}); err != nil {
		t.Fatal(err)
	}
	for _, p := range deps.Items {
		mons[p.Labels[resources.MonNameLabel]] = true
	}
	if mons[failed] || !mons[replacement.Name] {
		errorf(t, "monitor pods after the failover: %v (want %s, not %s)", mons, replacement.Name, failed)
	}
	waitHealthy(t, ctx, c, cc, "after the monitor failover")
}

// nodeReady reports whether n's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

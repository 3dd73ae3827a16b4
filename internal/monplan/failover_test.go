package monplan

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// downNode is a node whose Ready condition went False at since.
func downNode(name, ip string, since time.Time) corev1.Node {
	n := node(name, ip, false)
	n.Status.Conditions[0].LastTransitionTime = metav1.NewTime(since)
	return n
}

func threeMons() []Mon {
	return []Mon{
		{Name: "a", Node: "n1", IP: "10.0.0.1", PortV2: 3300, PortV1: 6789},
		{Name: "b", Node: "n2", IP: "10.0.0.2", PortV2: 3300, PortV1: 6789},
		{Name: "c", Node: "n3", IP: "10.0.0.3", PortV2: 3300, PortV1: 6789},
	}
}

func TestFailover(t *testing.T) {
	ready := []corev1.Node{node("n1", "10.0.0.1", true), node("n2", "10.0.0.2", true), node("n3", "10.0.0.3", true), node("n4", "10.0.0.4", true)}
	n3down := func(since time.Time) []corev1.Node {
		out := append([]corev1.Node(nil), ready...)
		out[2] = downNode("n3", "10.0.0.3", since)
		return out
	}
	base := func() FailoverInput {
		return FailoverInput{Spec: spec(3, false), Mons: threeMons(), Nodes: ready, Quorum: []string{"a", "b", "c"}, MapSize: 3,
			StatusKnown: true, Now: t0, Timeout: 10 * time.Minute}
	}
	replaced := []Mon{threeMons()[0], threeMons()[1], {Name: "d", Node: "n4", IP: "10.0.0.4", PortV2: 3300, PortV1: 6789, Replaces: "c"}}
	tests := []struct {
		name        string
		change      func(*FailoverInput)
		wantMons    []Mon
		wantRetired []string
		waiting     string
		recheck     time.Duration
	}{
		{name: "all Ready: nothing", change: func(*FailoverInput) {}},
		{
			name:    "NotReady for less than the timeout: wait, and look again when it is reached",
			change:  func(in *FailoverInput) { in.Nodes = n3down(t0.Add(-4 * time.Minute)); in.Quorum = []string{"a", "b"} },
			waiting: "it is replaced after 10m0s", recheck: 6 * time.Minute,
		},
		{
			name:     "NotReady past the timeout and out of quorum: replaced on the node without a monitor, under a new name",
			change:   func(in *FailoverInput) { in.Nodes = n3down(t0.Add(-11 * time.Minute)); in.Quorum = []string{"a", "b"} },
			wantMons: replaced, wantRetired: []string{"c"},
		},
		{
			name: "node deleted: replaced",
			change: func(in *FailoverInput) {
				in.Nodes = []corev1.Node{ready[0], ready[1], ready[3]}
				in.Quorum = []string{"a", "b"}
			},
			wantMons: replaced, wantRetired: []string{"c"},
		},
		{
			name: "retired names are never used again",
			change: func(in *FailoverInput) {
				in.Nodes = n3down(t0.Add(-11 * time.Minute))
				in.Quorum = []string{"a", "b"}
				in.Retired = []string{"d", "e"}
			},
			wantMons:    []Mon{threeMons()[0], threeMons()[1], {Name: "f", Node: "n4", IP: "10.0.0.4", PortV2: 3300, PortV1: 6789, Replaces: "c"}},
			wantRetired: []string{"d", "e", "c"},
		},
		{
			name:    "NotReady but Ceph counts it in quorum (the daemon runs, the kubelet does not): not replaced",
			change:  func(in *FailoverInput) { in.Nodes = n3down(t0.Add(-time.Hour)) },
			waiting: "Ceph counts it in the quorum",
		},
		{
			name: "no current ceph status: wait",
			change: func(in *FailoverInput) {
				in.Nodes = n3down(t0.Add(-time.Hour))
				in.StatusKnown = false
				in.Quorum = nil
			},
			waiting: "waiting for a current ceph status",
		},
		{
			name:    "another monitor out of quorum too: replacing would leave no majority, wait",
			change:  func(in *FailoverInput) { in.Nodes = n3down(t0.Add(-time.Hour)); in.Quorum = []string{"a"} },
			waiting: "b are not",
		},
		{
			name: "the monitor map does not match the placement (a replaced monitor still listed): wait",
			change: func(in *FailoverInput) {
				in.Nodes = n3down(t0.Add(-time.Hour))
				in.Quorum = []string{"a", "b"}
				in.MapSize = 4
			},
			waiting: "it lists 4",
		},
		{
			name: "no node to move to: wait, saying so",
			change: func(in *FailoverInput) {
				in.Nodes = n3down(t0.Add(-time.Hour))[:3]
				in.Quorum = []string{"a", "b"}
			},
			waiting: "no Ready node",
		},
		{
			name: "a node outside the storage selection is not used",
			change: func(in *FailoverInput) {
				in.Nodes = n3down(t0.Add(-time.Hour))
				in.Nodes[3].Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
				in.Quorum = []string{"a", "b"}
			},
			waiting: "no Ready node",
		},
		{
			name: "failover disabled",
			change: func(in *FailoverInput) {
				in.Nodes = n3down(t0.Add(-time.Hour))
				in.Quorum = []string{"a", "b"}
				in.Timeout = 0
			},
			waiting: "disabled",
		},
		{
			name: "two down: one at a time (the first in the placement)",
			change: func(in *FailoverInput) {
				in.Nodes = n3down(t0.Add(-time.Hour))
				in.Nodes[1] = downNode("n2", "10.0.0.2", t0.Add(-time.Hour))
				in.Quorum = []string{"a"}
			},
			waiting: "c are not",
		},
	}
	for _, tc := range tests {
		in := base()
		tc.change(&in)
		got := Failover(in)
		if tc.wantMons != nil {
			if got.Failed == nil || got.Failed.Name != "c" || !reflect.DeepEqual(got.Mons, tc.wantMons) || !reflect.DeepEqual(got.Retired, tc.wantRetired) || got.Why == "" {
				t.Errorf("%s: got %+v, want mons %+v retired %v", tc.name, got, tc.wantMons, tc.wantRetired)
			}
			if got.Replacement == nil || !reflect.DeepEqual(*got.Replacement, tc.wantMons[2]) {
				t.Errorf("%s: replacement %+v", tc.name, got.Replacement)
			}
			continue
		}
		if got.Failed != nil || got.Mons != nil {
			t.Errorf("%s: replaced %+v with %+v, want no replacement", tc.name, got.Failed, got.Replacement)
		}
		if (tc.waiting == "") != (got.Waiting == "") || !strings.Contains(got.Waiting, tc.waiting) {
			t.Errorf("%s: waiting %q, want it to contain %q", tc.name, got.Waiting, tc.waiting)
		}
		if got.Recheck != tc.recheck {
			t.Errorf("%s: recheck %s, want %s", tc.name, got.Recheck, tc.recheck)
		}
	}
}

func TestDecodeReplaces(t *testing.T) {
	ok := `[{"name":"a","node":"n1","ip":"10.0.0.1","portV2":3300,"portV1":6789},{"name":"d","node":"n4","ip":"10.0.0.4","portV2":3300,"portV1":6789,"replaces":"c"}]`
	mons, err := Decode(ok)
	if err != nil || mons[1].Replaces != "c" {
		t.Fatalf("Decode: %+v, %v", mons, err)
	}
	for _, bad := range []string{
		`[{"name":"a","node":"n1","ip":"10.0.0.1","portV2":3300,"portV1":6789,"replaces":"a"}]`,
		`[{"name":"a","node":"n1","ip":"10.0.0.1","portV2":3300,"portV1":6789},{"name":"d","node":"n4","ip":"10.0.0.4","portV2":3300,"portV1":6789,"replaces":"a"}]`,
		`[{"name":"a","node":"n1","ip":"10.0.0.1","portV2":3300,"portV1":6789,"replaces":"x y"}]`,
	} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%s) accepted", bad)
		}
	}
}

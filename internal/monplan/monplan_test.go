package monplan

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func node(name, ip string, ready bool) corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

func spec(count int32, multiple bool) *cephv1alpha1.CephClusterSpec {
	return &cephv1alpha1.CephClusterSpec{
		Mon:     cephv1alpha1.MonSpec{Count: count, AllowMultiplePerNode: multiple},
		Storage: cephv1alpha1.StorageSpec{UseAllNodes: true},
	}
}

func TestPlace(t *testing.T) {
	nodes := []corev1.Node{
		node("n3", "10.0.0.3", true),
		node("n1", "10.0.0.1", true),
		node("n2", "10.0.0.2", true),
		node("n0-notready", "10.0.0.9", false),
		node("n0-noip", "", true),
	}
	tests := []struct {
		name    string
		spec    *cephv1alpha1.CephClusterSpec
		nodes   []corev1.Node
		want    []Mon
		wantErr string
	}{
		{
			name:  "three on distinct nodes, name order, unready and address-less nodes skipped",
			spec:  spec(3, false),
			nodes: nodes,
			want: []Mon{
				{Name: "a", Node: "n1", IP: "10.0.0.1", PortV2: 3300, PortV1: 6789},
				{Name: "b", Node: "n2", IP: "10.0.0.2", PortV2: 3300, PortV1: 6789},
				{Name: "c", Node: "n3", IP: "10.0.0.3", PortV2: 3300, PortV1: 6789},
			},
		},
		{
			name:  "one",
			spec:  spec(1, false),
			nodes: nodes,
			want:  []Mon{{Name: "a", Node: "n1", IP: "10.0.0.1", PortV2: 3300, PortV1: 6789}},
		},
		{
			name:    "too few nodes",
			spec:    spec(5, false),
			nodes:   nodes,
			wantErr: "spec.mon.count is 5 but only 3 selected node(s) are Ready with an InternalIP; monitors run on distinct nodes unless spec.mon.allowMultiplePerNode is true (test clusters only)",
		},
		{
			name:  "several per node take the next ports",
			spec:  spec(3, true),
			nodes: []corev1.Node{node("only", "fd00::1", true)},
			want: []Mon{
				{Name: "a", Node: "only", IP: "fd00::1", PortV2: 3300, PortV1: 6789},
				{Name: "b", Node: "only", IP: "fd00::1", PortV2: 3301, PortV1: 6790},
				{Name: "c", Node: "only", IP: "fd00::1", PortV2: 3302, PortV1: 6791},
			},
		},
		{
			name:    "no usable node even with several per node",
			spec:    spec(1, true),
			nodes:   []corev1.Node{node("x", "10.0.0.1", false)},
			wantErr: "no selected node is Ready with an InternalIP to run monitors on",
		},
		{
			name: "only selected nodes",
			spec: &cephv1alpha1.CephClusterSpec{
				Mon:     cephv1alpha1.MonSpec{Count: 1},
				Storage: cephv1alpha1.StorageSpec{Nodes: []cephv1alpha1.NodeStorageSpec{{Name: "n2"}}},
			},
			nodes: nodes,
			want:  []Mon{{Name: "a", Node: "n2", IP: "10.0.0.2", PortV2: 3300, PortV1: 6789}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Place(tt.spec, tt.nodes)
			if tt.wantErr != "" {
				var nee *NotEnoughNodesError
				if !errors.As(err, &nee) || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Place = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAddrVecAndHosts(t *testing.T) {
	mons := []Mon{{Name: "a", IP: "10.0.0.1", PortV2: 3300, PortV1: 6789}, {Name: "b", IP: "fd00::2", PortV2: 3301, PortV1: 6790}}
	want := []string{"[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "[v2:[fd00::2]:3301,v1:[fd00::2]:6790]"}
	if got := MonHosts(mons); !reflect.DeepEqual(got, want) {
		t.Errorf("MonHosts = %q, want %q", got, want)
	}
}

func TestEncodeDecode(t *testing.T) {
	mons := []Mon{{Name: "a", Node: "n1", IP: "10.0.0.1", PortV2: 3300, PortV1: 6789}}
	s, err := Encode(mons)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(s)
	if err != nil || !reflect.DeepEqual(got, mons) {
		t.Fatalf("Decode(Encode) = %+v, %v", got, err)
	}
	for _, bad := range []string{
		``, `[]`, `{`,
		`[{"name":"a","node":"n","ip":"x","portV2":3300,"portV1":6789}]`,
		`[{"name":"","node":"n","ip":"10.0.0.1","portV2":3300,"portV1":6789}]`,
		`[{"name":"a","node":"","ip":"10.0.0.1","portV2":3300,"portV1":6789}]`,
		`[{"name":"a","node":"n","ip":"10.0.0.1","portV2":0,"portV1":6789}]`,
		`[{"name":"a","node":"n","ip":"10.0.0.1","portV2":3300,"portV1":6789},{"name":"a","node":"m","ip":"10.0.0.2","portV2":3300,"portV1":6789}]`,
	} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) accepted a bad placement", bad)
		}
	}
}

func TestName(t *testing.T) {
	for i, want := range map[int]string{0: "a", 1: "b", 25: "z", 26: "a1", 27: "b1"} {
		if got := Name(i); got != want {
			t.Errorf("Name(%d) = %q, want %q", i, got, want)
		}
	}
}

package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

func TestMonitorsNotReadyBeforeBootstrapIsRecorded(t *testing.T) {
	st := monsUp
	st.bootstrapped = false
	c := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	setClusterStatus(c, observed{fsid: "f", configured: true, mon: st, now: testNow})
	if got := conds(c)[cephv1alpha1.ConditionMonitorsReady]; got != "False/Reconciling" {
		t.Errorf("MonitorsReady = %s before the bootstrap is recorded: OSDs could be prepared", got)
	}
}

func TestMonitorStoreMissingStatus(t *testing.T) {
	st := monsUp
	st.ready = map[string]bool{}
	st.fsid = "6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e"
	st.dirs = map[string]string{"a": "/var/lib/ceph-operator/ns/ceph/6f1c3a3e-3b0e-4c7e-9d1e-0a5b2f3c4d5e/mon-a"}
	st.storeMissing = map[string]string{"a": resources.MonStoreMissingPrefix + " " + strings.Repeat("x", 5000)}
	c := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	setClusterStatus(c, observed{fsid: st.fsid, configured: true, mon: st, now: testNow})
	got := conds(c)
	for typ, want := range map[string]string{
		cephv1alpha1.ConditionMonitorStoreMissing: "True/MonitorStoreMissing",
		cephv1alpha1.ConditionMonitorsReady:       "False/MonitorStoreMissing",
		cephv1alpha1.ConditionReady:               "False/MonitorStoreMissing",
		cephv1alpha1.ConditionDegraded:            "True/MonitorStoreMissing",
		cephv1alpha1.ConditionProgressing:         "False/MonitorStoreMissing",
	} {
		if got[typ] != want {
			t.Errorf("%s = %s, want %s", typ, got[typ], want)
		}
	}
	msg := meta.FindStatusCondition(c.Status.Conditions, cephv1alpha1.ConditionMonitorStoreMissing).Message
	for _, want := range []string{"monitor a on node n (" + st.dirs["a"] + ")", st.fsid, "from a backup", "update-mon-db"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if len(msg) > 4000 {
		t.Errorf("message of %d bytes is not bounded", len(msg))
	}

	// Resolved: the condition goes.
	setClusterStatus(c, observed{fsid: st.fsid, configured: true, mon: monsUp, now: testNow})
	if _, ok := conds(c)[cephv1alpha1.ConditionMonitorStoreMissing]; ok {
		t.Errorf("MonitorStoreMissing kept after the monitor is back: %v", conds(c))
	}
}

func TestStoreMissingMessage(t *testing.T) {
	msg := resources.MonStoreMissingPrefix + " monitor a on node n has no store"
	term := func(code int32, m string) *corev1.ContainerStateTerminated {
		return &corev1.ContainerStateTerminated{ExitCode: code, Message: m}
	}
	for name, tc := range map[string]struct {
		status corev1.ContainerStatus
		want   string
	}{
		"current run":          {corev1.ContainerStatus{Name: resources.MonInitContainer, State: corev1.ContainerState{Terminated: term(resources.MonStoreMissingExitCode, msg)}}, msg},
		"last run":             {corev1.ContainerStatus{Name: resources.MonInitContainer, LastTerminationState: corev1.ContainerState{Terminated: term(resources.MonStoreMissingExitCode, msg)}}, msg},
		"other exit code":      {corev1.ContainerStatus{Name: resources.MonInitContainer, State: corev1.ContainerState{Terminated: term(1, msg)}}, ""},
		"other message":        {corev1.ContainerStatus{Name: resources.MonInitContainer, State: corev1.ContainerState{Terminated: term(resources.MonStoreMissingExitCode, "mkfs failed")}}, ""},
		"other container":      {corev1.ContainerStatus{Name: "install-agent", State: corev1.ContainerState{Terminated: term(resources.MonStoreMissingExitCode, msg)}}, ""},
		"running, never ended": {corev1.ContainerStatus{Name: resources.MonInitContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}, ""},
	} {
		pod := &corev1.Pod{Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{tc.status}}}
		if got := storeMissingMessage(pod); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

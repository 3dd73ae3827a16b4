package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// TestOSDPodCrashChanged: only an OSD pod's update that changes whether it
// keeps crashing wakes the OSD reconciler.
func TestOSDPodCrashChanged(t *testing.T) {
	pod := func(component string, restarts int32) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{resources.ComponentLabel: component}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "osd", RestartCount: restarts}}}}
		if restarts > 0 {
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1}
		}
		return p
	}
	p := osdPodCrashChanged()
	for _, tc := range []struct {
		name     string
		old, new *corev1.Pod
		want     bool
	}{
		{"starts crashing", pod(resources.ComponentOSD, 2), pod(resources.ComponentOSD, 3), true},
		{"crashes again (the message counts restarts)", pod(resources.ComponentOSD, 3), pod(resources.ComponentOSD, 4), true},
		{"restarted below the threshold", pod(resources.ComponentOSD, 0), pod(resources.ComponentOSD, 1), false},
		{"recovers", pod(resources.ComponentOSD, 3), pod(resources.ComponentOSD, 0), true},
		{"monitor pod", pod(resources.ComponentMon, 2), pod(resources.ComponentMon, 3), false},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if p.Create(event.CreateEvent{Object: pod(resources.ComponentOSD, 0)}) || !p.Create(event.CreateEvent{Object: pod(resources.ComponentOSD, 5)}) {
		t.Error("a new OSD pod wakes the reconciler only when it is crashing")
	}
}

package controllers

import (
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// TestRecordedJobs checks that a finished prepare Job is deleted only once
// its node's inventory holds the node's plan, and that an unfinished one
// (not started, no longer wanted) is deleted at once.
func TestRecordedJobs(t *testing.T) {
	job := func(name, node string, finished bool) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{resources.NodeAnnotation: node}}}
		if finished {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		}
		return j
	}
	newPlan := []cephv1alpha1.DevicePlan{{Name: "sdb", ID: "id-b", Action: cephv1alpha1.ActionProvisioned}}
	oldPlan := []cephv1alpha1.DevicePlan{{Name: "sdb", ID: "id-b", Action: cephv1alpha1.ActionPreparing}}
	inv := func(name string, plan []cephv1alpha1.DevicePlan) cephv1alpha1.DiskInventory {
		return cephv1alpha1.DiskInventory{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: cephv1alpha1.DiskInventoryStatus{Plan: plan}}
	}
	jobs := map[string]*batchv1.Job{
		"recorded":   job("recorded", "a", true),
		"unrecorded": job("unrecorded", "b", true),
		"unstarted":  job("unstarted", "c", false),
		"no-inv":     job("no-inv", "d", true),
	}
	plan := osdplan.Plan{
		DeleteJobs:  []string{"no-inv", "recorded", "unrecorded", "unstarted", "unknown"},
		DevicePlans: map[string][]cephv1alpha1.DevicePlan{"a": newPlan, "b": newPlan, "c": newPlan, "d": newPlan},
	}
	got := recordedJobs(plan, jobs, []cephv1alpha1.DiskInventory{inv("a", newPlan), inv("b", oldPlan), inv("c", oldPlan)})
	if want := []string{"no-inv", "recorded", "unstarted", "unknown"}; !slices.Equal(got, want) {
		t.Errorf("recordedJobs = %v, want %v", got, want)
	}
}

package controllers

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ceph-operator/ceph-operator/internal/agent/osdop"
	"github.com/ceph-operator/ceph-operator/internal/osdplan"
	"github.com/ceph-operator/ceph-operator/internal/resources"
)

// prepareJobFixture is a finished or running Job of node-a for two disks,
// one of them named by a by-path link with colons.
func prepareJobFixture(uid types.UID, failed bool) *batchv1.Job {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: "ceph-prepare-0123456789", UID: uid,
		Annotations: map[string]string{
			resources.NodeAnnotation: "node-a",
			resources.DevicesAnnotation: `[{"path":"/dev/disk/by-id/wwn-0x5","id":"/dev/disk/by-id/wwn-0x5"},` +
				`{"path":"/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0","deviceClass":"ssd","id":"/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0"}]`,
			resources.RescanRequestAnnotation: "7",
		},
	}}
	if failed {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded",
			Message: "Job has reached the specified backoff limit", LastTransitionTime: metav1.Now()}}
	}
	return job
}

// terminatedPod is a pod of the Job with uid whose prepare container ended.
func terminatedPod(uid types.UID, exit int32, message string, at time.Time) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-" + string(uid), Labels: map[string]string{batchv1.JobNameLabel: "ceph-prepare-0123456789"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "ceph-prepare-0123456789", UID: uid, Controller: ptrTo(true)}}}}
	p.Status.Phase = corev1.PodFailed
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: resources.PrepareContainer,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Message: message, FinishedAt: metav1.NewTime(at)}}}}
	return p
}

func ptrTo[T any](v T) *T { return &v }

func TestPrepareJobStateReadsResults(t *testing.T) {
	now := time.Now()
	msg := `[{"path":"/dev/disk/by-id/wwn-0x5","outcome":"Prepared","osdID":3,"osdUUID":"u"},` +
		`{"path":"/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0","outcome":"Refused","reason":"IdentityMismatch","message":"serial S2, planned S1"},` +
		`{"path":"/dev/sdz","outcome":"Failed","reason":"NotPlanned"}]`
	// A pod of an earlier Job of the same name lingers; it must not count.
	old := terminatedPod("old", 1, `[{"path":"/dev/disk/by-id/wwn-0x5","outcome":"Failed","stderr":"old"}]`, now.Add(time.Minute))
	pods := podsByJob([]corev1.Pod{old, terminatedPod("new", 3, msg, now)})
	pj := prepareJobState(prepareJobFixture("new", true), pods["new"])
	if pj.State != osdplan.JobFailed || pj.Node != "node-a" || pj.RescanRequest != 7 || !pj.Started {
		t.Errorf("state %+v", pj)
	}
	want := map[string]osdplan.PrepareResult{
		"/dev/disk/by-id/wwn-0x5":                         {Outcome: osdplan.OutcomePrepared},
		"/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0": {Outcome: osdplan.OutcomeRefused, Reason: "IdentityMismatch", Message: "serial S2, planned S1"},
	}
	if len(pj.Results) != len(want) {
		t.Fatalf("results %+v, want %+v", pj.Results, want)
	}
	for id, r := range want {
		if pj.Results[id] != r {
			t.Errorf("result of %s: %+v, want %+v", id, pj.Results[id], r)
		}
	}
	if !strings.Contains(pj.FailureMessage, "BackoffLimitExceeded") || !strings.Contains(pj.FailureMessage, "exited with code 3") {
		t.Errorf("failure message %q", pj.FailureMessage)
	}
}

func TestPrepareJobStateWithoutResults(t *testing.T) {
	// Not JSON: kept as evidence.
	pj := prepareJobState(prepareJobFixture("u", true), []corev1.Pod{terminatedPod("u", 1, "panic: runtime error", time.Now())})
	if pj.Results != nil || !strings.Contains(pj.FailureMessage, "agent prepare said: panic: runtime error") {
		t.Errorf("results %+v, failure %q", pj.Results, pj.FailureMessage)
	}
	// A running Job is not read for results.
	running := prepareJobState(prepareJobFixture("u", false), nil)
	if running.State != osdplan.JobRunning || running.Results != nil || running.Started {
		t.Errorf("running Job %+v", running)
	}
}

func TestJobStarted(t *testing.T) {
	job := prepareJobFixture("u", false)
	pending := corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "copy", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	running := corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	startedContainer := corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{Name: resources.PrepareContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	for _, tc := range []struct {
		name string
		job  func(*batchv1.Job)
		pods []corev1.Pod
		want bool
	}{
		{"no pod", nil, nil, false},
		{"a pod copying the agent in its init container", nil, []corev1.Pod{pending}, false},
		{"a running pod", nil, []corev1.Pod{running}, true},
		{"a pod whose prepare container started", nil, []corev1.Pod{startedContainer}, true},
		{"a ready pod counted by the Job", func(j *batchv1.Job) { j.Status.Ready = ptrTo(int32(1)) }, nil, true},
		{"a failed pod counted by the Job", func(j *batchv1.Job) { j.Status.Failed = 1 }, nil, true},
	} {
		j := job.DeepCopy()
		if tc.job != nil {
			tc.job(j)
		}
		if got := jobStarted(j, tc.pods); got != tc.want {
			t.Errorf("%s: started %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFitBytes(t *testing.T) {
	body := strings.Repeat("é", 2000) + "END"
	got := fitBytes("head: ", body, 1024)
	if len(got) > 1024 || !strings.HasPrefix(got, "head: …") || !strings.HasSuffix(got, "éEND") || !utf8Valid(got) {
		t.Errorf("fitBytes: %d bytes %.20q…", len(got), got)
	}
	if got := fitBytes("a", "b", 10); got != "ab" {
		t.Errorf("fitBytes short: %q", got)
	}
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// TestRolloutStepsAgree: the planner and agent osd name the same rollout
// steps and mean the same by a preset noout.
func TestRolloutStepsAgree(t *testing.T) {
	for _, s := range []osdplan.OSDStep{osdplan.OSDStepSetNoOut, osdplan.OSDStepUnsetNoOut, osdplan.OSDStepOKToStop} {
		if !osdop.ClusterStep(string(s)) || !osdop.ValidStep(string(s)) {
			t.Errorf("agent osd does not run the rollout step %s", s)
		}
	}
	for _, s := range []osdplan.OSDStep{osdplan.OSDStepOut, osdplan.OSDStepIn, osdplan.OSDStepSafe, osdplan.OSDStepPurge, osdplan.OSDStepDestroy} {
		if osdop.ClusterStep(string(s)) || osdplan.IsRolloutStep(s) || !osdop.ValidStep(string(s)) {
			t.Errorf("decommission step %s taken for a rollout step, or unknown to agent osd", s)
		}
	}
	if osdop.NoOutPreset != osdplan.NoOutPresetMessage {
		t.Errorf("agent osd says %q for a preset noout, the planner looks for %q", osdop.NoOutPreset, osdplan.NoOutPresetMessage)
	}
	if got := parseOSDIDs("3,4, 5,x,-1"); len(got) != 3 || got[0] != 3 || got[2] != 5 {
		t.Errorf("parseOSDIDs = %v", got)
	}
}

// TestPrepareJobStateSplitDiskResults: the partitions of a split disk share
// its path; each result is matched to its target by id, so one
// partition's failure is never taken for its sibling's.
func TestPrepareJobStateSplitDiskResults(t *testing.T) {
	job := prepareJobFixture("split", true)
	job.Annotations[resources.DevicesAnnotation] = `[{"path":"/dev/loop5","id":"/dev/loop5-part1"},{"path":"/dev/loop5","id":"/dev/loop5-part2"}]`
	msg := `[{"path":"/dev/loop5","id":"/dev/loop5-part1","outcome":"Prepared","osdID":3},` +
		`{"path":"/dev/loop5","id":"/dev/loop5-part2","outcome":"Failed","reason":"CephVolumeFailed"},` +
		`{"path":"/dev/loop5","id":"/dev/loop5-part9","outcome":"Failed","reason":"NotPlanned"}]`
	pj := prepareJobState(job, []corev1.Pod{terminatedPod("split", 1, msg, time.Now())})
	want := map[string]osdplan.PrepareResult{
		"/dev/loop5-part1": {Outcome: osdplan.OutcomePrepared},
		"/dev/loop5-part2": {Outcome: osdplan.OutcomeFailed, Reason: "CephVolumeFailed"},
	}
	if len(pj.Results) != len(want) || pj.Results["/dev/loop5-part1"] != want["/dev/loop5-part1"] || pj.Results["/dev/loop5-part2"] != want["/dev/loop5-part2"] {
		t.Errorf("results %+v, want %+v", pj.Results, want)
	}
	if got := strings.Join(pj.DeviceIDs, ","); got != "/dev/loop5-part1,/dev/loop5-part2" {
		t.Errorf("device ids %s", got)
	}
}

package controllers

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
)

func TestClassifyPodAdmission(t *testing.T) {
	cluster := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Name: "ceph", Namespace: "storage"}}
	pods := schema.GroupResource{Resource: "pods"}
	for _, tc := range []struct {
		name       string
		err        error
		wantReason string
		wantText   string
		wantErr    bool
	}{
		{name: "admitted"},
		{name: "pod security", err: apierrors.NewForbidden(pods, "x", errors.New(`violates PodSecurity "restricted:latest": privileged`)),
			wantReason: cephv1alpha1.ReasonPodSecurityRejected, wantText: "kubectl label namespace storage pod-security.kubernetes.io/enforce=privileged"},
		{name: "openshift scc", err: apierrors.NewForbidden(pods, "x", errors.New("unable to validate against any security context constraint: [privileged: Invalid value: true]")),
			wantReason: cephv1alpha1.ReasonPodSecurityRejected, wantText: "oc adm policy add-scc-to-user privileged -z ceph-ceph-agent -n storage"},
		{name: "quota", err: apierrors.NewForbidden(pods, "x", errors.New("exceeded quota: pods")),
			wantReason: cephv1alpha1.ReasonPodAdmissionRejected, wantText: "exceeded quota"},
		{name: "operator lacks RBAC", err: apierrors.NewForbidden(pods, "x", errors.New(`User "system:serviceaccount:x:y" cannot create resource "pods"`)), wantErr: true},
		{name: "server unavailable", err: apierrors.NewServiceUnavailable("etcd"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := classifyPodAdmission(cluster, tc.err)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantReason == "" {
				if got != nil {
					t.Errorf("got a rejection %+v", got)
				}
				return
			}
			if got == nil || got.reason != tc.wantReason || !strings.Contains(got.message, tc.wantText) {
				t.Errorf("got %+v, want reason %s and a message with %q", got, tc.wantReason, tc.wantText)
			}
		})
	}
}

func TestStatusNamesTheCause(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    observed
		want map[string]string
	}{
		{
			name: "pods refused by Pod Security",
			o:    observed{fsid: "f", configured: true, mon: monsUp, podRejected: &podRejection{cephv1alpha1.ReasonPodSecurityRejected, "refused"}},
			want: map[string]string{"Ready": "False/PodSecurityRejected", "Degraded": "True/PodSecurityRejected", "Progressing": "False/PodSecurityRejected"},
		},
		{
			name: "image not allowed",
			o: observed{fsid: "f", configured: true,
				version: versionCheck{status: metav1.ConditionFalse, reason: cephv1alpha1.ReasonImageNotAllowed, message: "spec.image x is not allowed"},
				mon:     monState{blocked: "spec.image x is not allowed", blockedReason: cephv1alpha1.ReasonImageNotAllowed}},
			want: map[string]string{"Ready": "False/ImageNotAllowed", "Degraded": "True/ImageNotAllowed", "Progressing": "False/ImageNotAllowed",
				"CephVersionSupported": "False/ImageNotAllowed", "MonitorsReady": "False/ImageNotAllowed"},
		},
		{
			// An API error is the more urgent cause.
			name: "error first",
			o:    observed{fsid: "f", configured: true, mon: monsUp, err: errors.New("boom"), podRejected: &podRejection{cephv1alpha1.ReasonPodSecurityRejected, "refused"}},
			want: map[string]string{"Ready": "False/ReconcileError", "Degraded": "True/ReconcileError"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cephv1alpha1.CephCluster{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
			tc.o.now = testNow
			setClusterStatus(c, tc.o)
			got := conds(c)
			for typ, want := range tc.want {
				if got[typ] != want {
					t.Errorf("%s = %s, want %s (all: %v)", typ, got[typ], want, got)
				}
			}
		})
	}
}

func TestTruncateMessage(t *testing.T) {
	if got := truncateMessage("short"); got != "short" {
		t.Errorf("short message changed: %q", got)
	}
	long := strings.Repeat("é", 1000) // 2000 bytes
	got := truncateMessage(long)
	if len(got) > maxMessage || !strings.HasSuffix(got, "...") || !utf8.ValidString(got) {
		t.Errorf("truncated to %d bytes, valid UTF-8 %v, suffix %q", len(got), utf8.ValidString(got), got[len(got)-5:])
	}
}

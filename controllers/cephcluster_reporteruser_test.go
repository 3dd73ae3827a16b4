package controllers_test

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cephv1alpha1 "github.com/ceph-operator/ceph-operator/api/v1alpha1"
	"github.com/ceph-operator/ceph-operator/internal/resources"
	"github.com/ceph-operator/ceph-operator/internal/testenv"
)

// TestReporterRunsAsImageCephUser checks that the health reporter runs as the ceph user the agents found in the image: 167
// (the Ceph project's images) while they report none, and the reported
// user, here Debian's 64045, once they do.
func TestReporterRunsAsImageCephUser(t *testing.T) {
	ns, w := oneNodeWorld(t, "reporter-uid")
	cluster := newCluster(ns, "ceph")
	if err := env.Client.Create(context.Background(), cluster); err != nil {
		t.Fatal(err)
	}
	waitReporterUser := func(uid, gid int64) {
		t.Helper()
		testenv.Eventually(t, wait, func() error {
			var d appsv1.Deployment
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: resources.ReporterName(cluster)}, &d); err != nil {
				return err
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if c.Name != "reporter" {
					continue
				}
				sc := c.SecurityContext
				if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil || *sc.RunAsUser != uid || *sc.RunAsGroup != gid {
					return fmt.Errorf("reporter security context %+v, want uid %d gid %d", sc, uid, gid)
				}
				return nil
			}
			return fmt.Errorf("no reporter container in %s", d.Name)
		})
	}
	waitReporterUser(resources.CephUID, resources.CephUID)

	w.SetCephUser(&cephv1alpha1.CephUser{UID: 64045, GID: 64045})
	waitReporterUser(64045, 64045)
}

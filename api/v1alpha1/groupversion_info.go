// Package v1alpha1 contains the API of ceph-operator: the CephCluster a user
// writes and the DiskInventory each node's agent publishes.
// +kubebuilder:object:generate=true
// +groupName=ceph.cephoperator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "ceph.cephoperator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a scheme; each
	// kind's file registers it from init.
	SchemeBuilder = &kinds{}

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// kinds collects the kinds of this package. It depends on apimachinery
// alone, so importing the API brings in no controller library.
// +kubebuilder:object:generate=false
type kinds struct {
	runtime.SchemeBuilder
}

// Register adds objects, kinds of this package, to every scheme the builder
// is applied to.
func (k *kinds) Register(objects ...runtime.Object) {
	k.SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, objects...)
		metav1.AddToGroupVersion(s, GroupVersion)
		return nil
	})
}

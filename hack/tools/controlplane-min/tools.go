//go:build tools

// Package controlplanemin only records the main packages built by
// hack/build-tools.sh so that `go mod tidy` keeps them.
package controlplanemin

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)

//go:build tools

// Package gen only records the generator main packages so that `go mod tidy`
// keeps them.
package gen

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)

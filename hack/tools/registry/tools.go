//go:build tools

// Package registry only records the image registry that serves bundle and
// catalog images on the real node (tests/olm), so `go mod tidy` keeps it.
package registry

import _ "github.com/distribution/distribution/v3/cmd/registry"

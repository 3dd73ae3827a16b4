//go:build tools

// Package olm only records the main packages the OLM install on the real
// node runs (tests/olm), so `go mod tidy` keeps them: OLM's operators, its
// package server and content-copy utilities, and the gRPC health probe its
// catalog pods run.
package olm

import (
	_ "github.com/grpc-ecosystem/grpc-health-probe"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/catalog"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/copy-content"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/package-server"
	_ "github.com/operator-framework/operator-lifecycle-manager/util/cpb"
)

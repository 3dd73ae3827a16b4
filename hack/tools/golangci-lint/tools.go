//go:build tools

// Package golangcilint only records the linter's main package so that
// `go mod tidy` keeps it.
package golangcilint

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)

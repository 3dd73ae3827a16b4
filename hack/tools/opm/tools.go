//go:build tools

// Package opm only records the opm main package so `go mod tidy` keeps it.
package opm

import _ "github.com/operator-framework/operator-registry/cmd/opm"

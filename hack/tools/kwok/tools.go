//go:build tools

// Package kwok only records the kwok main package so `go mod tidy` keeps it.
package kwok

import _ "sigs.k8s.io/kwok/cmd/kwok"

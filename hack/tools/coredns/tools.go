//go:build tools

// Package coredns only records the cluster DNS server the real node runs for
// OLM (tests/olm), so `go mod tidy` keeps it.
package coredns

import _ "github.com/coredns/coredns"

//go:build tools

// Package prometheus only records the prometheus and promtool main packages
// so `go mod tidy` keeps them.
package prometheus

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)

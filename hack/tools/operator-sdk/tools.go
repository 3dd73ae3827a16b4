//go:build tools

// Package operatorsdk only records the operator-sdk main packages (the CLI
// and the built-in scorecard test binary) so that `go mod tidy` keeps them.
package operatorsdk

import (
	_ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"
	_ "github.com/operator-framework/operator-sdk/images/scorecard-test"
)

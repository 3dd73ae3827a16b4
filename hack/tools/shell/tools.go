//go:build tools

// Package shell only records the shell and the few file utilities that OLM
// and operator-sdk run inside their helper containers (sh, cp and cat; the
// test builds its own gzip and tar), so `go mod tidy` keeps them.
package shell

import (
	_ "github.com/u-root/u-root/cmds/core/cat"
	_ "github.com/u-root/u-root/cmds/core/cp"
	_ "mvdan.cc/sh/v3/cmd/gosh"
)

package main

import (
	"flag"
	"fmt"
	"io"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// parseCommand adds the flags every subcommand shares (logging, and the
// kubeconfig for those that talk to the API server) to fs, parses args,
// refuses positional arguments and sets up structured logging. It returns
// false when the command must exit with status 2.
func parseCommand(fs *flag.FlagSet, args []string, stderr io.Writer, kubeconfig bool) bool {
	fs.SetOutput(stderr)
	if kubeconfig {
		config.RegisterFlags(fs)
	}
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ceph-operator %s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return false
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	return true
}

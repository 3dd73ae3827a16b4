package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ceph-operator/ceph-operator/internal/version"
)

// dispatch runs the subcommand that args[0] names among commands, with the
// arguments after it, and returns its exit code. Asked for help it prints
// usage to stdout; a missing or unknown command prints usage to stderr and
// exits with 2. prog names the command in messages.
func dispatch(prog, usage string, commands map[string]func(args []string) int, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", prog, args[0], usage)
		return 2
	}
	return cmd(args[1:])
}

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

// runner is a long-lived node component: the discovery agent, the health
// reporter.
type runner interface {
	Run(ctx context.Context) error
}

// nodeCommand describes a long-lived node command for runNodeCommand.
type nodeCommand struct {
	// name is the command as typed, logName names its logger and what
	// names the component in messages.
	name, logName, what string
	// config binds the command's flags and validates them once parsed.
	config interface {
		BindFlags(fs *flag.FlagSet)
		Validate() error
	}
	// started returns the key/value pairs of the start message.
	started func() []any
	// build creates the component for the API server of cfg.
	build func(cfg *rest.Config) (runner, error)
}

// runNodeCommand parses args into the command's configuration, validates
// it, builds the component and runs it until SIGTERM/SIGINT with the
// command's logger in its context. It returns the exit code: 2 for bad flags
// or configuration, 1 when setting up or running fails.
func runNodeCommand(args []string, stderr io.Writer, c nodeCommand) int {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.config.BindFlags(fs)
	if !parseCommand(fs, args, stderr, true) {
		return 2
	}
	log := ctrl.Log.WithName(c.logName)
	if err := c.config.Validate(); err != nil {
		log.Error(err, "Invalid configuration")
		return 2
	}
	log.Info("Starting ceph-operator "+c.name, append([]any{"version", version.String()}, c.started()...)...)
	return serve(log, c.what, func(cfg *rest.Config) (func(context.Context) error, error) {
		r, err := c.build(cfg)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return r.Run(ctrl.LoggerInto(ctx, log)) }, nil
	})
}

// serve loads the client configuration, sets up a component with build and
// runs it until SIGTERM/SIGINT, logging what fails. It returns the exit
// code.
func serve(log logr.Logger, what string, build func(cfg *rest.Config) (func(context.Context) error, error)) int {
	cfg, err := config.GetConfig()
	if err != nil {
		log.Error(err, "Loading Kubernetes client configuration")
		return 1
	}
	run, err := build(cfg)
	if err != nil {
		log.Error(err, "Setting up the "+what)
		return 1
	}
	if err := run(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Running the "+what)
		return 1
	}
	return 0
}

package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatusSource gets Ceph's status. CommandSource is the real one; tests
// substitute fakes.
type StatusSource interface {
	// Status returns the output of `ceph status --format json`, or an
	// error whose text says why Ceph did not answer. The text is
	// published in status.ceph.message, so it must be the same for the
	// same cause (no timestamps or process ids).
	Status(ctx context.Context) ([]byte, error)
	// OSDDump returns the output of `ceph osd dump --format json`, with
	// errors as Status has them.
	OSDDump(ctx context.Context) ([]byte, error)
}

// CommandSource runs the ceph command-line tool.
type CommandSource struct {
	// Binary is the tool to run, by path or looked up on PATH.
	Binary string
	// Conf, Keyring and ID are passed as --conf, --keyring and --id when
	// set.
	Conf, Keyring, ID string
	// Timeout bounds one call. The tool is told to give up connecting
	// after it (--connect-timeout), and is killed shortly after that if
	// it has not exited.
	Timeout time.Duration
}

// NewCommandSource returns the source for cfg.
func NewCommandSource(cfg Config) CommandSource {
	return CommandSource{Binary: cfg.CephBinary, Conf: cfg.Conf, Keyring: cfg.Keyring, ID: cfg.CephID, Timeout: cfg.Timeout}
}

// killGrace is how long past its own connect timeout the tool may take to
// exit (it prints "timed out" and exits by itself) before it is killed.
const killGrace = 5 * time.Second

// Args returns the ceph tool's arguments for `ceph status`.
func (s CommandSource) Args() []string {
	return s.args("status")
}

// args returns the ceph tool's arguments for the command words.
func (s CommandSource) args(words ...string) []string {
	var args []string
	if s.Conf != "" {
		args = append(args, "--conf", s.Conf)
	}
	if s.Keyring != "" {
		args = append(args, "--keyring", s.Keyring)
	}
	if s.ID != "" {
		args = append(args, "--id", s.ID)
	}
	secs := int(math.Ceil(s.Timeout.Seconds()))
	args = append(args, "--connect-timeout", strconv.Itoa(max(secs, 1)))
	args = append(args, words...)
	return append(args, "--format", "json")
}

// Status implements StatusSource.
func (s CommandSource) Status(ctx context.Context) ([]byte, error) {
	return s.run(ctx, "status")
}

// OSDDump implements StatusSource.
func (s CommandSource) OSDDump(ctx context.Context) ([]byte, error) {
	return s.run(ctx, "osd", "dump")
}

// Run runs the ceph tool with the command words (and --format json) and
// returns its standard output, or an error that ends with the tool's own
// reason, for commands other than the reporter's (agent osd).
func (s CommandSource) Run(ctx context.Context, words ...string) ([]byte, error) {
	return s.run(ctx, words...)
}

// RunInput is Run for a command that reads input (`-i -`, a keyring or a
// key): input, when not nil, is written to the tool's standard input, so
// that no secret is ever put on its command line or in a file.
func (s CommandSource) RunInput(ctx context.Context, input []byte, words ...string) ([]byte, error) {
	if input == nil {
		return s.run(ctx, words...)
	}
	return s.runWith(ctx, input, append(slices.Clone(words), "-i", "-")...)
}

// run runs the ceph tool with the command words and returns its standard
// output, or an error naming the command and the tool's own reason.
func (s CommandSource) run(ctx context.Context, words ...string) ([]byte, error) {
	return s.runWith(ctx, nil, words...)
}

// runWith is run with input on the tool's standard input (none when nil).
func (s CommandSource) runWith(ctx context.Context, input []byte, words ...string) ([]byte, error) {
	what := strings.Join(words, " ")
	ctx, cancel := context.WithTimeout(ctx, s.Timeout+killGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Binary, s.args(words...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if input != nil {
		cmd.Stdin = bytes.NewReader(input)
	}
	// A child that inherited the pipes must not keep Wait waiting.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("%s %s did not finish within %s", s.Binary, what, s.Timeout+killGrace)
	case err != nil:
		if why := lastLine(stderr.Bytes()); why != "" {
			return nil, fmt.Errorf("%s %s: %w: %s", s.Binary, what, err, why)
		}
		return nil, fmt.Errorf("%s %s: %w", s.Binary, what, err)
	}
	return stdout.Bytes(), nil
}

// cephLogPrefix matches the timestamp, thread id and level Ceph's logging
// puts before each message ("2026-11-27T02:32:01.062+0000 7efe719ff6c0 -1 ").
var cephLogPrefix = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d{4} [0-9a-f]+ +-?\d+ `)

// lastLine returns the line of the ceph tool's standard error that says
// why it failed: the last one that is not a log line (the tool's own
// verdict, such as "[errno 2] RADOS object not found (error connecting to
// the cluster)"), or else the last log line without its timestamp, so
// that the same failure always gives the same text.
func lastLine(stderr []byte) string {
	var lastLog string
	lines := strings.Split(strings.TrimSpace(string(stderr)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "":
		case cephLogPrefix.MatchString(l):
			if lastLog == "" {
				lastLog = cephLogPrefix.ReplaceAllString(l, "")
			}
		default:
			return l
		}
	}
	return lastLog
}

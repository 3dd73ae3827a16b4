// Package hostdir is the node-side `agent remove-host-dir` step of a
// confirmed cleanup: it removes one cluster's state directory on the host,
// <dataDirHostPath>/<namespace>/<cluster>/<fsid>, which holds the monitor
// stores. The cleanup Job mounts exactly <dataDirHostPath>/<namespace>/<cluster>
// (the directory of this CephCluster's name) and names the FSID; Remove
// deletes only the child named by a canonical UUID, refusing any other
// name, a symbolic link or anything that is not a directory.
package hostdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// Outcomes of Remove.
const (
	// OutcomeRemoved: the directory existed and is gone.
	OutcomeRemoved = "Removed"
	// OutcomeAbsent: there was nothing to remove.
	OutcomeAbsent = "Absent"
	// OutcomeRefused: a check failed; nothing was removed.
	OutcomeRefused = "Refused"
	// OutcomeFailed: the removal started and failed; part of the directory
	// may be gone.
	OutcomeFailed = "Failed"
)

// Exit codes of agent remove-host-dir.
const (
	ExitRemoved  = 0
	ExitFailed   = 1
	ExitBadFlags = 2
	ExitRefused  = 3
)

// Result is what Remove did, written as the container's termination
// message.
type Result struct {
	Path    string `json:"path"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
}

// ExitCode maps a result to the process exit code.
func (r Result) ExitCode() int {
	switch r.Outcome {
	case OutcomeRemoved, OutcomeAbsent:
		return ExitRemoved
	case OutcomeRefused:
		return ExitRefused
	}
	return ExitFailed
}

var canonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidFSID reports whether fsid is a canonical lower-case UUID, the only
// form a cluster directory's name takes.
func ValidFSID(fsid string) bool { return canonicalUUID.MatchString(fsid) }

// Remove removes dir/fsid and everything below it. dir must be an absolute
// directory (the mount of the cluster's host directory) and not a symbolic
// link; fsid must be a canonical UUID; dir/fsid must be a directory, not a
// link. Links inside are removed as links, never followed.
func Remove(dir, fsid string) Result {
	target := filepath.Join(dir, fsid)
	res := Result{Path: target}
	refuse := func(format string, a ...any) Result {
		res.Outcome, res.Message = OutcomeRefused, fmt.Sprintf(format, a...)+"; nothing removed"
		return res
	}
	if !ValidFSID(fsid) {
		return refuse("%q is not a cluster FSID (a canonical lower-case UUID)", fsid)
	}
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || dir == "/" {
		return refuse("%q is not an absolute directory in normal form other than /", dir)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return refuse("%s: %v", dir, err)
	}
	if !info.IsDir() {
		return refuse("%s is not a directory (mode %s)", dir, info.Mode())
	}
	info, err = os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Outcome, res.Message = OutcomeAbsent, target+" does not exist; nothing to remove"
		return res
	case err != nil:
		return refuse("%s: %v", target, err)
	case !info.IsDir():
		return refuse("%s is not a directory (mode %s)", target, info.Mode())
	}
	if err := os.RemoveAll(target); err != nil {
		res.Outcome, res.Message = OutcomeFailed, fmt.Sprintf("removing %s: %v; part of it may be gone", target, err)
		return res
	}
	res.Outcome, res.Message = OutcomeRemoved, target+" removed"
	return res
}

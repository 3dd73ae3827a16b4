package prepare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
)

// DefaultHostLockPath is the host-wide lock of `agent prepare`. The prepare
// Job mounts the host's /run/ceph-operator there, so every prepare on the
// host, of any cluster and namespace, locks the same file.
const DefaultHostLockPath = "/run/ceph-operator/prepare.lock"

// HostLock takes an exclusive flock on path (creating it and its directory)
// and returns the function that releases it. While another process holds
// it, HostLock logs once who holds it and waits, polling every poll (0
// means 250 ms), until the lock is free or ctx ends.
//
// The lock is a BSD flock on an ordinary file: it is released by the kernel
// when the holder exits, even by SIGKILL, so a crashed prepare never leaves
// the host locked. After taking it, the holder writes its description
// (pid, and what the caller passes as who) into the file for the next
// waiter's log line.
func HostLock(ctx context.Context, log logr.Logger, path, who string, poll time.Duration) (func(), error) {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the directory of the host lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the host lock %s: %w", path, err)
	}
	logged := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		holder := readHolder(path)
		if !logged {
			log.Info("Waiting for the host lock: another agent prepare runs on this host; prepares never overlap on one host", "lock", path, "holder", holder)
			logged = true
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for the host lock %s (held by %s): %w", path, holder, context.Cause(ctx))
		case <-time.After(poll):
		}
	}
	desc := fmt.Sprintf("pid %d %s since %s\n", os.Getpid(), who, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(desc), 0)
	}
	if logged {
		log.Info("Took the host lock", "lock", path)
	}
	return func() {
		_ = f.Truncate(0)
		_ = f.Close()
	}, nil
}

// readHolder returns the lock holder's description, for log lines.
func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "an unknown process"
	}
	return strings.TrimSpace(keepStart(string(b), 200))
}

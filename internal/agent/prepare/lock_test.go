package prepare

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// TestHostLock: a second taker waits while the first holds the lock, is
// told who holds it, gives up when its context ends, and gets the lock
// once it is released.
func TestHostLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "ceph-operator", "prepare.lock")
	release, err := HostLock(context.Background(), logr.Discard(), path, "cluster A", 0)
	if err != nil {
		t.Fatal(err)
	}

	var logged []string
	log := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = HostLock(ctx, log, path, "cluster B", 20*time.Millisecond)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "cluster A") {
		t.Fatalf("second lock while held: %v, want a timeout naming the holder", err)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "Waiting for the host lock") || !strings.Contains(logged[0], "cluster A") {
		t.Errorf("log lines %q, want one naming the holder", logged)
	}

	got := make(chan error, 1)
	go func() {
		r, err := HostLock(context.Background(), logr.Discard(), path, "cluster B", 20*time.Millisecond)
		if err == nil {
			defer r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("took the lock while it was held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	if err := <-got; err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestHostLockCannotCreate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := HostLock(context.Background(), logr.Discard(), filepath.Join(file, "prepare.lock"), "x", 0); err == nil {
		t.Error("HostLock under a regular file succeeded")
	}
}

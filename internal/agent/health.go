package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
	"github.com/ceph-operator/ceph-operator/internal/smart"
)

// HealthChecker reads the health of the node's drives.
type HealthChecker interface {
	// Check sets Health on every device of devs (kernel names unique). It
	// may answer from readings it took earlier; it never fails, a health
	// it could not read is reported as smart.Unknown.
	Check(ctx context.Context, devs []discovery.Device)
}

// Defaults of the health checker.
const (
	// DefaultHealthRefresh is how long a drive's health reading is reused
	// before smartctl reads it again. The agent scans every few minutes;
	// SMART data moves slowly, and reading it costs each drive commands
	// (and the agent a process) per scan.
	DefaultHealthRefresh = time.Hour
	// DefaultSmartctlTimeout bounds one smartctl run; a drive that does
	// not answer within it is reported Unknown until the next refresh.
	DefaultSmartctlTimeout = 30 * time.Second
	// maxSmartctlOutput bounds what is read of smartctl's output: a full
	// report is tens of kilobytes.
	maxSmartctlOutput = 4 << 20
)

// Smartctl reads drive health with `smartctl --json --all`, once per drive
// per Refresh. It runs smartctl only on whole disks (discovery.TypeDisk of
// non-zero size); loop, device-mapper, md, optical, zram, nbd and rbd
// devices have no drive of their own and are reported NotSupported without
// running anything. A drive in standby is not woken (--nocheck=standby).
//
// A reading is kept per kernel name and stable id, so a different disk
// appearing under the same name is read at once. Use one value from one
// goroutine at a time (the agent's loop); its methods lock anyway.
type Smartctl struct {
	// Binary is the smartctl program: a name looked up on PATH or a path.
	Binary string
	// HostRoot is prepended to /dev/<name>. smartctl tells the device's
	// type from its /dev name, so with a HostRoot other than "/" it may
	// not recognise the device and report it NotSupported.
	HostRoot string
	// Timeout bounds one run; 0 means DefaultSmartctlTimeout.
	Timeout time.Duration
	// Refresh is how long a reading is reused; 0 means
	// DefaultHealthRefresh.
	Refresh time.Duration
	// Now tells the time; nil means time.Now.
	Now func() time.Time

	mu            sync.Mutex
	cache         map[string]healthReading
	missingWarned bool
}

// healthReading is a drive's last reading and the identity it was taken of.
type healthReading struct {
	id     string
	health smart.Health
}

// smartctlTypes are the device types smartctl is run on.
var smartctlTypes = map[string]bool{discovery.TypeDisk: true}

// Check implements HealthChecker.
func (s *Smartctl) Check(ctx context.Context, devs []discovery.Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	log := ctrl.LoggerFrom(ctx)
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	refresh := s.Refresh
	if refresh <= 0 {
		refresh = DefaultHealthRefresh
	}
	if s.cache == nil {
		s.cache = map[string]healthReading{}
	}
	seen := make(map[string]bool, len(devs))
	for i := range devs {
		d := &devs[i]
		if !smartctlTypes[d.Type] {
			d.Health = &smart.Health{Status: smart.NotSupported,
				Message: fmt.Sprintf("a %s device has no drive of its own to report health; smartctl is not run on it", d.Type)}
			continue
		}
		if d.SizeBytes == 0 {
			d.Health = &smart.Health{Status: smart.NotSupported, Message: "the device has no medium; smartctl is not run on it"}
			continue
		}
		seen[d.KernelName] = true
		id := d.StableID()
		t := now()
		prev, had := s.cache[d.KernelName]
		if had && prev.id == id && !t.Before(prev.health.CheckedAt) && t.Sub(prev.health.CheckedAt) < refresh {
			h := prev.health
			d.Health = &h
			continue
		}
		h := s.read(ctx, d.KernelName)
		h.CheckedAt = t
		s.cache[d.KernelName] = healthReading{id: id, health: h}
		switch {
		case had && prev.id == id && prev.health.Status != h.Status:
			log.Info("Drive health changed", "disk", d.KernelName, "id", id, "from", prev.health.Status, "to", h.Status, "message", h.Message)
		case (!had || prev.id != id) && h.Status == smart.Failing:
			log.Info("Drive reports that it is failing", "disk", d.KernelName, "id", id, "message", h.Message)
		default:
			log.V(1).Info("Read drive health", "disk", d.KernelName, "id", id, "status", h.Status, "message", h.Message)
		}
		hc := h
		d.Health = &hc
	}
	for name := range s.cache {
		if !seen[name] {
			delete(s.cache, name)
		}
	}
}

// read runs smartctl on one device and summarises its answer.
func (s *Smartctl) read(ctx context.Context, name string) smart.Health {
	bin := s.Binary
	if bin == "" {
		bin = "smartctl"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		if !s.missingWarned {
			s.missingWarned = true
			ctrl.LoggerFrom(ctx).Info("smartctl not found: drive health is reported Unknown", "smartctl", bin, "reason", err.Error())
		}
		return smart.Health{Status: smart.Unknown,
			Message: fmt.Sprintf("smartctl was not found (%q, looked up on PATH), so drive health cannot be read on this node", bin)}
	}
	root := s.HostRoot
	if root == "" {
		root = "/"
	}
	dev := filepath.Join(root, "dev", name)
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSmartctlTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, path, "--json", "--all", "--nocheck=standby", dev)
	cmd.WaitDelay = time.Second
	var stdout, stderr limitedBuffer
	stdout.limit, stderr.limit = maxSmartctlOutput, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if rctx.Err() != nil && ctx.Err() == nil {
		return smart.Health{Status: smart.Unknown, Message: fmt.Sprintf("smartctl did not answer within %s", timeout)}
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return smart.Health{Status: smart.Unknown, Message: "smartctl could not run: " + runErr.Error()}
	}
	// A non-zero exit is normal: smartctl's exit status is a bit mask,
	// repeated in its JSON, that Parse reads.
	h, err := smart.Parse(stdout.Bytes())
	if err != nil {
		msg := fmt.Sprintf("smartctl's answer could not be read: %v", err)
		if e := strings.TrimSpace(stderr.String()); e != "" {
			msg += "; it said: " + e
		}
		return smart.Health{Status: smart.Unknown, Message: truncateUTF8(msg, smart.MaxMessageBytes)}
	}
	return h
}

// limitedBuffer keeps the first limit bytes written to it and discards the
// rest, so that a runaway child cannot exhaust the agent's memory.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Package prepare is the node-side `agent prepare` step: it re-checks each
// device it was asked to prepare on the node itself, right before touching
// it, and only then runs `ceph-volume raw prepare --bluestore`. A device that
// is no longer empty is refused and reported, never written.
package prepare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// Target is one device to prepare.
type Target struct {
	// Path is the stable path to the device, usually a /dev/disk/by-id link.
	Path string
	// DeviceClass is the CRUSH device class to give the OSD, if any.
	DeviceClass string
}

// ParseTarget parses a --device flag value, "PATH" or "PATH:CLASS".
func ParseTarget(s string) (Target, error) {
	// by-path links can contain ':'; the class is the part after the last
	// ':' only when it looks like a device class.
	var path, class string
	if i := strings.LastIndex(s, ":"); i > 0 && validClass(s[i+1:]) && strings.HasPrefix(s, "/dev/") {
		path, class = s[:i], s[i+1:]
	} else {
		path, class = s, ""
	}
	if !strings.HasPrefix(path, "/dev/") {
		return Target{}, fmt.Errorf("device %q: want a path under /dev/", s)
	}
	return Target{Path: path, DeviceClass: class}, nil
}

// validClass reports whether s looks like a CRUSH device class (the API's
// pattern): short, lower case, no '/'.
func validClass(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Options configure one prepare run.
type Options struct {
	// Targets are the devices to prepare.
	Targets []Target
	// Verdict holds the cluster's FSID and the discovery options; a device
	// is prepared only if discovery.Evaluate says Available.
	Verdict discovery.Options
	// Root is the host root the scanner reads ("/" in a pod).
	Root string
	// MountinfoPath is the mount table to read, relative to Root.
	MountinfoPath string
}

// Scanner lists the node's devices; discovery.Scanner implements it.
type Scanner interface {
	Scan() ([]discovery.Device, error)
}

// Executor runs ceph-volume. It is an interface so tests can record the
// calls instead of writing to disks.
type Executor interface {
	// CephVolume runs ceph-volume with args and returns its standard output.
	CephVolume(ctx context.Context, args ...string) ([]byte, error)
}

// Locker holds a device exclusively; the real one opens it with O_EXCL,
// which fails while anything mounts or claims it.
type Locker interface {
	// Lock opens path exclusively and returns a function that releases it.
	Lock(path string) (release func(), err error)
}

// Outcome of one device.
const (
	// OutcomePrepared: ceph-volume made an OSD on the device.
	OutcomePrepared = "Prepared"
	// OutcomeRefused: the re-check found the device not Available; it was
	// not touched.
	OutcomeRefused = "Refused"
	// OutcomeFailed: ceph-volume failed.
	OutcomeFailed = "Failed"
)

// Result is what happened to one device; the Job's termination message
// carries the list as JSON.
type Result struct {
	// Path is the target path.
	Path string `json:"path"`
	// Outcome is Prepared, Refused or Failed.
	Outcome string `json:"outcome"`
	// Reason is the discovery reason of a refusal.
	Reason string `json:"reason,omitempty"`
	// Message explains a refusal or failure.
	Message string `json:"message,omitempty"`
	// OSDID is the new OSD's id.
	OSDID *int `json:"osdID,omitempty"`
	// OSDUUID is the new OSD's uuid.
	OSDUUID string `json:"osdUUID,omitempty"`
}

// Run prepares every target that is still Available and returns one Result
// per target. It returns an error when a device could not be prepared (the
// Job then fails and the planner retries with backoff); refusals are not
// errors: leaving a disk alone is the right outcome.
func Run(ctx context.Context, log logr.Logger, o Options, scan Scanner, lock Locker, exec Executor) ([]Result, error) {
	devices, err := scan.Scan()
	if err != nil {
		return nil, fmt.Errorf("scanning devices: %w", err)
	}
	byName := map[string]discovery.Device{}
	for _, d := range devices {
		byName[d.KernelName] = d
	}
	results := make([]Result, 0, len(o.Targets))
	var failed []string
	prepared := false
	for _, t := range o.Targets {
		res := prepareOne(ctx, log, o, t, byName, lock, exec)
		if res.Outcome == OutcomeFailed {
			failed = append(failed, t.Path)
		}
		prepared = prepared || res.Outcome == OutcomePrepared
		results = append(results, res)
	}
	if prepared {
		if err := fillOSDIDs(ctx, o, exec, results); err != nil {
			return results, err
		}
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("preparing %s failed", strings.Join(failed, ", "))
	}
	return results, nil
}

// prepareOne re-checks and prepares one target.
func prepareOne(ctx context.Context, log logr.Logger, o Options, t Target, byName map[string]discovery.Device, lock Locker, exec Executor) Result {
	res := Result{Path: t.Path}
	name, err := kernelName(o.Root, t.Path)
	if err != nil {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, string(discovery.Unreadable), err.Error()
		return res
	}
	dev, ok := byName[name]
	if !ok {
		res.Outcome, res.Reason = OutcomeRefused, string(discovery.Unreadable)
		res.Message = fmt.Sprintf("%s (%s) is not among the node's disks", t.Path, name)
		return res
	}
	v := discovery.Evaluate(dev, o.Verdict)
	if v.State != discovery.StateAvailable {
		res.Outcome, res.Reason = OutcomeRefused, string(v.Reason)
		res.Message = fmt.Sprintf("%s is no longer empty, not touched: %s", name, v.Message)
		if v.State == discovery.StateOSD {
			res.Reason, res.Message = "AlreadyOSD", fmt.Sprintf("%s already holds OSD %d of this cluster", name, v.OSDID)
		}
		log.Info("Refusing device", "device", t.Path, "kernelName", name, "reason", res.Reason, "message", v.Message)
		return res
	}

	// Hold the device exclusively for the last check: nothing may have
	// mounted or claimed it since the scan. ceph-volume opens it after the
	// lock is released; nothing else is given the chance to in between
	// within this pod.
	release, err := lock.Lock(filepath.Join(root(o.Root), "dev", name))
	if err != nil {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, string(discovery.Busy), fmt.Sprintf("%s cannot be opened exclusively: %v", name, err)
		log.Info("Refusing device", "device", t.Path, "reason", res.Reason, "message", res.Message)
		return res
	}
	release()

	args := []string{"raw", "prepare", "--bluestore", "--data", t.Path}
	if t.DeviceClass != "" {
		args = append(args, "--crush-device-class", t.DeviceClass)
	}
	log.Info("Preparing OSD", "device", t.Path, "kernelName", name, "deviceClass", t.DeviceClass)
	if out, err := exec.CephVolume(ctx, args...); err != nil {
		res.Outcome = OutcomeFailed
		res.Message = fmt.Sprintf("ceph-volume raw prepare on %s: %v: %s", name, err, lastLine(out))
		return res
	}
	res.Outcome = OutcomePrepared
	return res
}

// fillOSDIDs reads `ceph-volume raw list` and sets the OSD id and uuid of
// every prepared device.
func fillOSDIDs(ctx context.Context, o Options, exec Executor, results []Result) error {
	out, err := exec.CephVolume(ctx, "raw", "list", "--format", "json")
	if err != nil {
		return fmt.Errorf("ceph-volume raw list: %w", err)
	}
	osds, err := ParseRawList(out)
	if err != nil {
		return err
	}
	byDevice := map[string]RawOSD{}
	for _, osd := range osds {
		if osd.ClusterFSID != o.Verdict.ClusterFSID {
			continue
		}
		if n, err := kernelName(o.Root, osd.Device); err == nil {
			byDevice[n] = osd
		}
	}
	for i := range results {
		if results[i].Outcome != OutcomePrepared {
			continue
		}
		name, err := kernelName(o.Root, results[i].Path)
		if err != nil {
			continue
		}
		if osd, ok := byDevice[name]; ok {
			id := osd.OSDID
			results[i].OSDID, results[i].OSDUUID = &id, osd.OSDUUID
		}
	}
	return nil
}

// RawOSD is one entry of `ceph-volume raw list --format json`.
type RawOSD struct {
	// ClusterFSID is the cluster the OSD belongs to.
	ClusterFSID string `json:"ceph_fsid"`
	// Device is the block device.
	Device string `json:"device"`
	// OSDID is the OSD id.
	OSDID int `json:"osd_id"`
	// OSDUUID is the OSD's uuid.
	OSDUUID string `json:"osd_uuid"`
	// Type is the object store, "bluestore".
	Type string `json:"type"`
}

// ParseRawList parses `ceph-volume raw list --format json`: an object whose
// values describe one OSD each (keyed by OSD uuid or id, depending on the
// release). The result is sorted by OSD id.
func ParseRawList(out []byte) ([]RawOSD, error) {
	var m map[string]RawOSD
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("parsing ceph-volume raw list output: %w", err)
	}
	list := make([]RawOSD, 0, len(m))
	for _, osd := range m {
		if osd.Device == "" || osd.OSDUUID == "" {
			return nil, errors.New("parsing ceph-volume raw list output: an entry lacks device or osd_uuid")
		}
		list = append(list, osd)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].OSDID < list[j].OSDID })
	return list, nil
}

// kernelName resolves a /dev path (following by-id links) to a kernel name,
// under root.
func kernelName(rootDir, devPath string) (string, error) {
	p, err := filepath.EvalSymlinks(filepath.Join(root(rootDir), devPath))
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", devPath, err)
	}
	return filepath.Base(p), nil
}

func root(r string) string {
	if r == "" {
		return "/"
	}
	return r
}

// lastLine returns the last non-empty line of out, for error messages.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

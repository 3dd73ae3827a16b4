// Package prepare is the node-side `agent prepare` step. For each disk it
// was asked to prepare it scans the node afresh, checks that the disk is
// still the one the operator planned (same stable id, WWN, serial and size)
// and still blank, holds it, checks again, and only then runs
// `ceph-volume raw prepare --bluestore`. Afterwards it reads the disk back:
// only a disk that now carries a complete OSD of this cluster is reported
// Prepared. A disk that fails any check is refused and reported, never
// written.
//
// The caller (cmd/prepare.go) additionally holds a host-wide lock (see
// HostLock) for the whole run, so two prepares on one host, of any cluster
// or namespace, never overlap.
package prepare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// Target is one device to prepare, with the identity the operator saw in the
// DiskInventory when it planned it. Empty identity fields are not checked.
type Target struct {
	// Path is the stable path to the device, usually a /dev/disk/by-id
	// link. Required.
	Path string `json:"path"`
	// DeviceClass is the CRUSH device class to give the OSD, if any.
	DeviceClass string `json:"deviceClass,omitempty"`
	// ID is the disk's stable id as published in the DiskInventory
	// (discovery.Device.StableID).
	ID string `json:"id,omitempty"`
	// WWN is the disk's World Wide Name.
	WWN string `json:"wwn,omitempty"`
	// Serial is the disk's serial number.
	Serial string `json:"serial,omitempty"`
	// SizeBytes is the disk's capacity in bytes.
	SizeBytes int64 `json:"sizeBytes,omitempty"`
	// OSDID, when set, is the id of a destroyed OSD the disk replaces:
	// ceph-volume reuses it (--osd-id), and the disk must read back as
	// that OSD.
	OSDID *int32 `json:"osdID,omitempty"`
	// DB and WAL, when set, are the partitions of a metadata device the
	// OSD keeps its DB and WAL on (ceph-volume --block.db, --block.wal):
	// made first when they do not exist yet.
	DB  *TargetPartition `json:"db,omitempty"`
	WAL *TargetPartition `json:"wal,omitempty"`
	// Data, when set, is the partition of the disk at Path (split into
	// several OSDs) that the OSD is made on: made first when it does not
	// exist yet, under the same checks as a DB partition. The disk's
	// other partitions, and their OSDs, are left as they are.
	Data *TargetPartition `json:"data,omitempty"`
}

// ParseTargets parses the --targets flag: a JSON array of Target objects.
// Unknown fields are refused, so a typo in the Job builder cannot silently
// drop an identity check.
func ParseTargets(s string) ([]Target, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var ts []Target
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf("--targets: want a JSON array of {\"path\": ..., \"deviceClass\": ..., \"id\": ..., \"wwn\": ..., \"serial\": ..., \"sizeBytes\": ...}: %w", err)
	}
	if dec.More() {
		return nil, errors.New("--targets: unexpected data after the JSON array")
	}
	for i, t := range ts {
		if err := ValidatePath(t.Path); err != nil {
			return nil, fmt.Errorf("--targets[%d]: %w", i, err)
		}
		if t.DeviceClass != "" && !ValidDeviceClass(t.DeviceClass) {
			return nil, fmt.Errorf("--targets[%d]: device class %q: want lower-case letters, digits, '-' or '_', at most 32", i, t.DeviceClass)
		}
		if t.SizeBytes < 0 {
			return nil, fmt.Errorf("--targets[%d]: sizeBytes %d is negative", i, t.SizeBytes)
		}
		for _, part := range []struct {
			p    *TargetPartition
			role string
		}{{t.DB, "DB"}, {t.WAL, "WAL"}} {
			if part.p == nil {
				continue
			}
			if part.p.Role != part.role {
				return nil, fmt.Errorf("--targets[%d].%s: role %q, want %s", i, strings.ToLower(part.role), part.p.Role, part.role)
			}
			if err := part.p.validate(); err != nil {
				return nil, fmt.Errorf("--targets[%d].%s: %w", i, strings.ToLower(part.role), err)
			}
			if part.p.Device.Path == t.Path {
				return nil, fmt.Errorf("--targets[%d].%s: the metadata device is the data disk itself", i, strings.ToLower(part.role))
			}
		}
		if d := t.Data; d != nil {
			switch {
			case d.Role != RoleData:
				return nil, fmt.Errorf("--targets[%d].data: role %q, want %s", i, d.Role, RoleData)
			case d.Device.Path != t.Path:
				return nil, fmt.Errorf("--targets[%d].data: the partition is on %s, not on the target's disk %s", i, d.Device.Path, t.Path)
			case t.DB != nil || t.WAL != nil || t.OSDID != nil:
				return nil, fmt.Errorf("--targets[%d].data: an OSD on a partition keeps its DB on it and replaces no OSD", i)
			}
			if err := d.validate(); err != nil {
				return nil, fmt.Errorf("--targets[%d].data: %w", i, err)
			}
		}
	}
	return ts, nil
}

// ValidatePath checks a device path given on the command line: absolute,
// under /dev/, clean (no "." or ".." segments, no doubled '/'). The path
// is taken whole: by-path links such as
// /dev/disk/by-path/pci-0000:00:1f.2-ata-1-scsi-0:0:0:0 contain ':'.
func ValidatePath(p string) error {
	if p == "" {
		return errors.New("device path is empty")
	}
	if !strings.HasPrefix(p, "/dev/") || filepath.Clean(p) != p {
		return fmt.Errorf("device %q: want a clean absolute path under /dev/ (no '.', '..' or '//')", p)
	}
	return nil
}

// ValidDeviceClass reports whether s looks like a CRUSH device class (the
// API's pattern): short, lower case, no '/'.
func ValidDeviceClass(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !deviceClassRune(r) {
			return false
		}
	}
	return true
}

// deviceClassRune reports whether r may appear in a device class.
func deviceClassRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// DefaultDeviceTimeout bounds the work on one disk, ceph-volume included.
const DefaultDeviceTimeout = 15 * time.Minute

// Options configure one prepare run.
type Options struct {
	// Targets are the devices to prepare, in order.
	Targets []Target
	// Partitioner makes or finds DB and WAL partitions; nil means
	// GPTPartitioner.
	Partitioner Partitioner
	// Verdict holds the cluster's FSID and the discovery options; a device
	// is prepared only if discovery.Evaluate says Available.
	Verdict discovery.Options
	// Root is the host root the scanner reads ("/" in a pod).
	Root string
	// DeviceTimeout is the deadline for one disk; 0 means
	// DefaultDeviceTimeout. Each disk gets its own, so one slow disk does
	// not eat the others' time.
	DeviceTimeout time.Duration
	// BusyAttempts is how many times a device found busy is checked
	// before it is refused; 0 means 3.
	BusyAttempts int
	// BusyRetryDelay is the pause between those checks; 0 means 500 ms.
	BusyRetryDelay time.Duration
	// ReleaseBeforeCephVolume drops this process's O_EXCL hold on a disk
	// right before ceph-volume runs instead of keeping it for the whole
	// run. agent prepare always sets it; only tests leave it unset.
	//
	// What ceph-volume and BlueStore tolerate: `ceph-volume raw prepare`
	// never opens the data device exclusively itself (it runs `ceph osd
	// new`, links the device, fetches the monmap, then `ceph-osd --mkfs`).
	// ceph-osd opens the device through BlueStore's KernelDevice with
	// O_EXCL and then locks it. Reading Ceph's source suggested that only
	// Reef (18) and later take O_EXCL, but on the real node Ceph 16.2.15's
	// `ceph-osd --mkfs` failed with EBUSY while this process held the disk
	// (and succeeded without the hold), so the exclusive open reached
	// Pacific point releases too and no version can be trusted to tolerate
	// the hold. So the hold is dropped right before ceph-volume starts, and
	// ceph-osd's own O_EXCL protects the disk while it writes. The gap
	// between the release and ceph-osd's open (ceph-volume's `ceph osd
	// new`, a few seconds) is covered by the host lock against other
	// prepares, by the re-check under the hold just before it, and by the
	// read-back afterwards: a disk that does not then carry a complete OSD
	// of this cluster is reported Failed, never Prepared.
	ReleaseBeforeCephVolume bool
}

func busyAttempts(o Options) int {
	if o.BusyAttempts <= 0 {
		return 3
	}
	return o.BusyAttempts
}

func (o Options) busyRetryDelay() time.Duration {
	if o.BusyRetryDelay <= 0 {
		return 500 * time.Millisecond
	}
	return o.BusyRetryDelay
}

// sleepCtx waits d or until ctx ends, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (o Options) partitioner() Partitioner {
	if o.Partitioner == nil {
		return GPTPartitioner{}
	}
	return o.Partitioner
}

func (o Options) deviceTimeout() time.Duration {
	if o.DeviceTimeout <= 0 {
		return DefaultDeviceTimeout
	}
	return o.DeviceTimeout
}

// Scanner lists the node's devices; DiscoveryScanner adapts
// discovery.Scanner.
type Scanner interface {
	// Scan lists the node's devices. held is the device node (below the
	// host root) that this process holds open with O_EXCL, or "": the
	// scanner must not take that hold for another user's.
	Scan(held string) ([]discovery.Device, error)
}

// DiscoveryScanner is the real Scanner.
type DiscoveryScanner struct {
	discovery.Scanner
}

// Scan implements Scanner. While this process holds a device with O_EXCL,
// discovery's own exclusive-open probe of that device would fail with
// EBUSY; our successful O_EXCL open already proved that nobody else claims
// it, so the probe answers "not busy" for that one node and asks the real
// checker for every other.
func (s DiscoveryScanner) Scan(held string) ([]discovery.Device, error) {
	sc := s.Scanner
	if held != "" {
		next := sc.Busy
		if next == nil {
			next = discovery.ExclusiveOpenChecker{}
		}
		sc.Busy = heldBusyChecker{held: held, next: next}
	}
	return sc.Scan()
}

type heldBusyChecker struct {
	held string
	next discovery.BusyChecker
}

func (c heldBusyChecker) IsBusy(path string) (bool, error) {
	if path == c.held {
		return false, nil
	}
	return c.next.IsBusy(path)
}

// Executor runs ceph-volume. It is an interface so tests can record the
// calls instead of writing to disks. A failing run should return a
// *CommandError so the result carries the end of ceph-volume's stderr.
type Executor interface {
	// CephVolume runs ceph-volume with args and returns its standard output.
	CephVolume(ctx context.Context, args ...string) ([]byte, error)
}

// Locker holds a device exclusively; ExclusiveLocker opens it with O_EXCL,
// which fails while anything mounts or claims it.
type Locker interface {
	// Lock opens path exclusively and returns a function that releases it.
	Lock(path string) (release func(), err error)
}

// Outcome of one device.
const (
	// OutcomePrepared: the disk now holds a complete OSD of this cluster,
	// made by this run or found already there (Reason AlreadyOSD).
	OutcomePrepared = "Prepared"
	// OutcomeRefused: a check found the device not Available or not the
	// planned disk; it was not written.
	OutcomeRefused = "Refused"
	// OutcomeFailed: ceph-volume failed, was interrupted, or the disk did
	// not read back as a complete OSD; the disk may have been written.
	OutcomeFailed = "Failed"
)

// Reasons this package adds to discovery's.
const (
	// ReasonIdentityMismatch: the disk at the path is not the planned one
	// (stable id, WWN, serial or size differ).
	ReasonIdentityMismatch = "IdentityMismatch"
	// ReasonAlreadyOSD: the disk already holds an OSD of this cluster.
	ReasonAlreadyOSD = "AlreadyOSD"
	// ReasonCephVolumeFailed: ceph-volume exited non-zero.
	ReasonCephVolumeFailed = "CephVolumeFailed"
	// ReasonInterrupted: ceph-volume was stopped by the per-disk deadline
	// or a termination signal, or the disk was not reached.
	ReasonInterrupted = "Interrupted"
	// ReasonNotVerified: ceph-volume succeeded but the disk does not read
	// back as a complete OSD of this cluster.
	ReasonNotVerified = "NotVerified"
	// ReasonScanFailed: the node's devices could not be listed.
	ReasonScanFailed = "ScanFailed"
)

// Result is what happened to one device; the Job's termination message
// carries the list as JSON (see TerminationMessage).
type Result struct {
	// Path is the target path.
	Path string `json:"path"`
	// Outcome is Prepared, Refused or Failed.
	Outcome string `json:"outcome"`
	// Reason is a stable code: a discovery reason for a refusal, or one of
	// the Reason* constants.
	Reason string `json:"reason,omitempty"`
	// Message explains a refusal or failure.
	Message string `json:"message,omitempty"`
	// OSDID is the OSD's id when Prepared.
	OSDID *int `json:"osdID,omitempty"`
	// OSDUUID is the OSD's uuid when Prepared.
	OSDUUID string `json:"osdUUID,omitempty"`
	// ID is the target's id, for a target on a partition of a split disk:
	// its path is the disk's, which its other partitions share.
	ID string `json:"id,omitempty"`
	// Stderr is the end of ceph-volume's standard error for a failure.
	Stderr string `json:"stderr,omitempty"`
}

// Exit codes of `agent prepare`.
const (
	// ExitPrepared: every target is Prepared.
	ExitPrepared = 0
	// ExitFailed: at least one target Failed.
	ExitFailed = 1
	// ExitBadFlags: the command line was invalid; nothing was done.
	ExitBadFlags = 2
	// ExitRefused: at least one target was Refused and none Failed.
	ExitRefused = 3
)

// ExitCode maps results to the process exit code.
func ExitCode(results []Result) int {
	code := ExitPrepared
	for _, r := range results {
		switch r.Outcome {
		case OutcomeFailed:
			return ExitFailed
		case OutcomeRefused:
			code = ExitRefused
		case OutcomePrepared:
		default:
			return ExitFailed
		}
	}
	return code
}

// Run prepares every target that is still the planned disk and still
// blank, one after the other, and returns one Result per target in order.
// Each disk gets its own deadline (Options.DeviceTimeout). When ctx ends (a
// termination signal), the running ceph-volume is asked to stop and the
// disks not yet reached are reported Failed without being touched.
func Run(ctx context.Context, log logr.Logger, o Options, scan Scanner, lock Locker, exec Executor) []Result {
	results := make([]Result, 0, len(o.Targets))
	for _, t := range o.Targets {
		if err := ctx.Err(); err != nil {
			r := Result{Path: t.Path, Outcome: OutcomeFailed, Reason: ReasonInterrupted,
				Message: fmt.Sprintf("not attempted: the prepare was stopped (%v) before reaching %s; the disk was not touched", context.Cause(ctx), t.Path)}
			if t.Data != nil {
				r.ID = t.ID
			}
			results = append(results, r)
			continue
		}
		dctx, cancel := context.WithTimeoutCause(ctx, o.deviceTimeout(),
			fmt.Errorf("the per-disk deadline of %s passed", o.deviceTimeout()))
		var res Result
		if t.Data != nil {
			res = prepareData(dctx, log.WithValues("device", t.Path, "partition", t.Data.Number), o, t, scan, lock, exec)
			res.ID = t.ID
		} else {
			res = prepareOne(dctx, log.WithValues("device", t.Path), o, t, scan, lock, exec)
		}
		cancel()
		results = append(results, res)
	}
	return results
}

// prepareOne re-checks and prepares one target.
func prepareOne(ctx context.Context, log logr.Logger, o Options, t Target, scan Scanner, lock Locker, exec Executor) Result {
	res := Result{Path: t.Path}
	refuse := func(reason, msg string) Result {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, reason, msg
		log.Info("Refusing device", "reason", reason, "message", msg)
		return res
	}
	fail := func(reason, msg string) Result {
		res.Outcome, res.Reason, res.Message = OutcomeFailed, reason, msg
		log.Info("Device failed", "reason", reason, "message", msg)
		return res
	}

	// 1. A fresh scan right before this disk, not one for the whole run:
	// earlier disks may have taken minutes, and kernel names move.
	// 2. Hold the device with O_EXCL: from here on nothing can mount it or
	// claim it exclusively (md, device-mapper, LVM, mkfs, another OSD).
	//
	// Busy is retried a few times: other tools (the discovery agent's own
	// probe, udev's blkid) open a disk for an instant, and a refusal is
	// not retried until the disk's content changes.
	var (
		dev     discovery.Device
		release func()
		node    string
	)
	for attempt := 1; ; attempt++ {
		var r Result
		var ok bool
		dev, r, ok = checkDevice(o, t, scan, "")
		busy := r.Outcome == OutcomeRefused && r.Reason == string(discovery.Busy)
		if !ok && !busy {
			if r.Outcome == OutcomePrepared {
				log.Info("Device already holds an OSD of this cluster", "osdID", *r.OSDID)
			}
			return r
		}
		var err error
		if ok {
			node = filepath.Join(root(o.Root), "dev", dev.KernelName)
			if release, err = lock.Lock(node); err == nil {
				break
			}
			r = Result{Path: t.Path, Outcome: OutcomeRefused, Reason: string(discovery.Busy),
				Message: fmt.Sprintf("%s cannot be held exclusively, not touched: %v", dev.KernelName, err)}
		}
		if attempt >= busyAttempts(o) {
			return refuse(r.Reason, r.Message)
		}
		if sleepCtx(ctx, o.busyRetryDelay()) != nil {
			return fail(ReasonInterrupted, fmt.Sprintf("stopped (%v) while waiting for a busy device; not touched: %s", context.Cause(ctx), r.Message))
		}
		log.V(1).Info("Device busy, checking again", "attempt", attempt, "message", r.Message)
	}
	held := node
	defer func() {
		if release != nil {
			release()
		}
	}()

	// 3. Check again under the hold: whatever happened between the first
	// scan and the hold (a filesystem written, the disk swapped) shows now.
	again, r, ok := checkDevice(o, t, scan, held)
	if !ok {
		return r
	}
	if again.KernelName != dev.KernelName {
		return refuse(ReasonIdentityMismatch, fmt.Sprintf("%s moved from %s to %s while it was being checked, not touched", t.Path, dev.KernelName, again.KernelName))
	}

	// 5. ceph-volume, on the very device node checked and held (not the
	// link, which udev could re-point meanwhile). What ceph-volume and
	// BlueStore tolerate decides whether our hold stays during the run;
	// see Options.ReleaseBeforeCephVolume.
	if o.ReleaseBeforeCephVolume {
		release()
		release, held = nil, ""
	}
	// 4. The DB and WAL partitions on the metadata device: checked as
	// planned and blank, or made, while the data disk is held.
	var parts []string
	made := map[string]string{}
	for _, part := range []*TargetPartition{t.DB, t.WAL} {
		if part == nil {
			continue
		}
		var path string
		var err error
		for attempt := 1; ; attempt++ {
			devices, serr := scan.Scan(held)
			if serr != nil {
				return fail(ReasonScanFailed, fmt.Sprintf("scanning the node's devices before making the %s partition: %v; %s was not touched", part.Role, serr, dev.KernelName))
			}
			path, err = o.partitioner().Ensure(ctx, o, part, devices)
			var busy *PartitionError
			if !errors.As(err, &busy) || busy.Reason != string(discovery.Busy) || attempt >= busyAttempts(o) {
				break
			}
			if sleepCtx(ctx, o.busyRetryDelay()) != nil {
				return fail(ReasonInterrupted, fmt.Sprintf("stopped (%v) while waiting for a busy metadata device; %s was not touched", context.Cause(ctx), dev.KernelName))
			}
		}
		var pe *PartitionError
		switch {
		case errors.As(err, &pe) && pe.Refused:
			return refuse(pe.Reason, fmt.Sprintf("%s; %s was not touched", pe.Message, dev.KernelName))
		case errors.As(err, &pe):
			return fail(pe.Reason, fmt.Sprintf("%s; %s was not touched", pe.Message, dev.KernelName))
		case err != nil:
			return fail(ReasonPartitionFailed, fmt.Sprintf("%s partition: %v; %s was not touched", part.Role, err, dev.KernelName))
		}
		log.Info("Partition ready", "role", part.Role, "number", part.Number, "path", path, "existed", part.Exists)
		parts = append(parts, "--block."+strings.ToLower(part.Role), path)
		made[part.Role] = path
	}

	args := []string{"raw", "prepare", "--bluestore", "--data", "/dev/" + dev.KernelName}
	args = append(args, parts...)
	if t.DeviceClass != "" {
		args = append(args, "--crush-device-class", t.DeviceClass)
	}
	if t.OSDID != nil {
		args = append(args, "--osd-id", strconv.Itoa(int(*t.OSDID)))
	}
	log.Info("Preparing OSD", "kernelName", dev.KernelName, "deviceClass", t.DeviceClass, "deadline", o.deviceTimeout())
	if _, err := exec.CephVolume(ctx, args...); err != nil {
		var ce *CommandError
		if errors.As(err, &ce) {
			res.Stderr = ce.Stderr
		}
		after := describeAfter(o, t, scan, held)
		if ctx.Err() != nil {
			return fail(ReasonInterrupted, fmt.Sprintf("ceph-volume raw prepare on %s was stopped: %v; the disk may be half-prepared (an OSD id may be allocated in Ceph without a complete disk)%s", dev.KernelName, context.Cause(ctx), after))
		}
		return fail(ReasonCephVolumeFailed, fmt.Sprintf("ceph-volume raw prepare on %s failed: %v; the disk may be half-prepared%s", dev.KernelName, err, after))
	}

	// 6. Read the disk back: ceph-volume's exit status alone is not proof
	// (releases whose --data check runs `ceph-bluestore-tool show-label`
	// exit 0 without writing when they find any BlueStore label, of any
	// cluster).
	devices, err := scan.Scan(held)
	if err != nil {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume succeeded on %s but the node could not be rescanned to verify it: %v", dev.KernelName, err))
	}
	after, found := findDevice(o, t, devices)
	if !found {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume succeeded on %s but %s no longer resolves to a disk", dev.KernelName, t.Path))
	}
	v := discovery.Evaluate(after, o.Verdict)
	if v.State != discovery.StateOSD || after.BlueStore == nil {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume reported success on %s but the disk does not read back as a complete OSD of this cluster: %s %s: %s", after.KernelName, v.State, v.Reason, v.Message))
	}
	id := v.OSDID
	if t.OSDID != nil && int(*t.OSDID) != id {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume was asked to reuse OSD id %d on %s but the disk reads back as OSD %d", *t.OSDID, after.KernelName, id))
	}
	for _, role := range []string{"DB", "WAL"} {
		if path := made[role]; path != "" {
			if msg := checkPartitionLabel(o, path, role, after.BlueStore.OSDUUID); msg != "" {
				return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume reported success on %s (OSD %d) but %s", after.KernelName, id, msg))
			}
		}
	}
	res.Outcome, res.OSDID, res.OSDUUID = OutcomePrepared, &id, after.BlueStore.OSDUUID
	log.Info("Prepared OSD", "kernelName", after.KernelName, "osdID", id, "osdUUID", res.OSDUUID)
	return res
}

// checkDevice scans, finds the target, checks its identity and verdict. It
// returns ok=true with the device when it may be prepared; otherwise the
// Result to report (Refused, Failed, or Prepared for an OSD of ours).
func checkDevice(o Options, t Target, scan Scanner, held string) (discovery.Device, Result, bool) {
	res := Result{Path: t.Path}
	devices, err := scan.Scan(held)
	if err != nil {
		res.Outcome, res.Reason, res.Message = OutcomeFailed, ReasonScanFailed, fmt.Sprintf("scanning the node's devices: %v; %s was not touched", err, t.Path)
		return discovery.Device{}, res, false
	}
	name, err := kernelName(o.Root, t.Path)
	if err != nil {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, string(discovery.Unreadable), err.Error()
		return discovery.Device{}, res, false
	}
	dev, ok := findDevice(o, t, devices)
	if !ok {
		res.Outcome, res.Reason = OutcomeRefused, string(discovery.Unreadable)
		res.Message = fmt.Sprintf("%s (%s) is not among the node's disks", t.Path, name)
		return discovery.Device{}, res, false
	}
	if msg := identityMismatch(t, dev); msg != "" {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, ReasonIdentityMismatch, msg
		return dev, res, false
	}
	v := discovery.Evaluate(dev, o.Verdict)
	switch v.State {
	case discovery.StateAvailable:
		return dev, res, true
	case discovery.StateOSD:
		id := v.OSDID
		res.Outcome, res.Reason, res.OSDID = OutcomePrepared, ReasonAlreadyOSD, &id
		if dev.BlueStore != nil {
			res.OSDUUID = dev.BlueStore.OSDUUID
		}
		res.Message = fmt.Sprintf("%s already holds OSD %d of this cluster; left as it is", dev.KernelName, id)
		return dev, res, false
	}
	res.Outcome, res.Reason = OutcomeRefused, string(v.Reason)
	if v.State == discovery.StateMetadataDevice || v.State == discovery.StateOSDPartitions {
		// Not a rejection, so there is no reason code: the state says it.
		res.Reason = v.State
	}
	res.Message = fmt.Sprintf("%s is not blank, not touched: %s", dev.KernelName, v.Message)
	return dev, res, false
}

// findDevice resolves the target path to a kernel name and returns that
// device of the scan.
func findDevice(o Options, t Target, devices []discovery.Device) (discovery.Device, bool) {
	name, err := kernelName(o.Root, t.Path)
	if err != nil {
		return discovery.Device{}, false
	}
	for _, d := range devices {
		if d.KernelName == name {
			return d, true
		}
	}
	return discovery.Device{}, false
}

// identityMismatch compares what the operator planned with the disk now at
// the path; it returns "" when every given field matches.
func identityMismatch(t Target, d discovery.Device) string {
	var diffs []string
	if t.ID != "" && t.ID != d.StableID() {
		diffs = append(diffs, fmt.Sprintf("stable id %q, found %q", t.ID, d.StableID()))
	}
	if t.WWN != "" && t.WWN != d.WWN {
		diffs = append(diffs, fmt.Sprintf("WWN %q, found %q", t.WWN, d.WWN))
	}
	if t.Serial != "" && t.Serial != d.Serial {
		diffs = append(diffs, fmt.Sprintf("serial %q, found %q", t.Serial, d.Serial))
	}
	if t.SizeBytes != 0 && uint64(t.SizeBytes) != d.SizeBytes {
		diffs = append(diffs, fmt.Sprintf("size %d bytes, found %d", t.SizeBytes, d.SizeBytes))
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s (%s) is not the disk that was planned, not touched: expected %s", t.Path, d.KernelName, strings.Join(diffs, "; expected "))
}

// describeAfter rescans after a failed ceph-volume and says what the disk
// shows now, so the failure names the state to recover from.
func describeAfter(o Options, t Target, scan Scanner, held string) string {
	devices, err := scan.Scan(held)
	if err != nil {
		return fmt.Sprintf("; rescanning afterwards failed: %v", err)
	}
	d, ok := findDevice(o, t, devices)
	if !ok {
		return "; afterwards the path no longer resolves to a disk"
	}
	v := discovery.Evaluate(d, o.Verdict)
	if v.State == discovery.StateAvailable {
		return "; afterwards the disk still reads as blank"
	}
	return fmt.Sprintf("; afterwards the disk reads as %s %s: %s", v.State, v.Reason, v.Message)
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

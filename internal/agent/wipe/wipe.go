// Package wipe is the node-side `agent wipe` step: it makes a disk that a
// user asked to have wiped blank again, so that discovery finds it
// Available. For each target it scans the node afresh, checks that the disk
// is still the one named (stable id, WWN, serial, size), that the wipe is
// still allowed (see Authorize: the user's confirmation still matches what
// the disk shows, or, for a caller that decommissions an OSD of this
// cluster, the disk's label names exactly that OSD), and that nothing uses
// it. It then holds the disk with an exclusive open, checks everything
// again, and only then writes: it discards the whole disk when the device
// supports it, zeroes every window discovery reads (the first and last
// MiB, which hold every partition table and signature any probe looks
// for), the first and last MiB of every partition, and the places newer
// BlueStore releases keep copies of their label, syncs, reads the windows
// back, and asks the kernel to re-read the partition table.
//
// The caller (cmd/wipe.go) holds the same host-wide lock as agent prepare
// for the whole run, so a wipe and a prepare never overlap on one host.
package wipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// ExpectedOSD permits wiping a disk whose verdict is an OSD of this
// cluster: exactly when its BlueStore label carries this FSID and OSD id.
// It is for decommissioning an OSD that Ceph no longer uses; user requests
// never carry it.
type ExpectedOSD struct {
	// FSID is the cluster FSID the label must carry; it must also be the
	// cluster's own (--cluster-fsid).
	FSID string `json:"fsid"`
	// OSDID is the OSD id (whoami) the label must carry.
	OSDID int `json:"osdID"`
}

// Target is one disk to wipe, with the identity the operator saw in the
// DiskInventory and what permits the wipe: a user's Confirmation (see
// discovery.WipeConfirmation) or an ExpectedOSD, exactly one of them.
type Target struct {
	// Path is the stable path to the device, usually a /dev/disk/by-id
	// link. Required.
	Path string `json:"path"`
	// ID is the disk's stable id as published in the DiskInventory.
	ID string `json:"id,omitempty"`
	// WWN, Serial and SizeBytes are the identity the inventory showed;
	// empty fields are not checked.
	WWN       string `json:"wwn,omitempty"`
	Serial    string `json:"serial,omitempty"`
	SizeBytes int64  `json:"sizeBytes,omitempty"`
	// Confirmation is the user's confirmation; it must equal
	// discovery.WipeConfirmation of the disk as scanned now.
	Confirmation string `json:"confirmation,omitempty"`
	// ExpectedOSD permits wiping an OSD of this cluster (see ExpectedOSD).
	ExpectedOSD *ExpectedOSD `json:"expectedOSD,omitempty"`
	// Partition, when set, limits the wipe to that OSD data partition of
	// the split disk at Path (see Partition): only its start is freed,
	// the disk's partition table and other partitions are left as they
	// are. It needs ExpectedOSD.
	Partition *Partition `json:"partition,omitempty"`
}

// ParseTargets parses the --targets flag: a JSON array of Target objects.
// Unknown fields are refused, so a typo cannot drop a check.
func ParseTargets(s string) ([]Target, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var ts []Target
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf("--targets: want a JSON array of {\"path\", \"id\", \"wwn\", \"serial\", \"sizeBytes\", \"confirmation\" or \"expectedOSD\"}: %w", err)
	}
	if dec.More() {
		return nil, errors.New("--targets: unexpected data after the JSON array")
	}
	for i, t := range ts {
		if err := prepare.ValidatePath(t.Path); err != nil {
			return nil, fmt.Errorf("--targets[%d]: %w", i, err)
		}
		if (t.Confirmation == "") == (t.ExpectedOSD == nil) {
			return nil, fmt.Errorf("--targets[%d]: give exactly one of confirmation and expectedOSD", i)
		}
		if t.ExpectedOSD != nil && (t.ExpectedOSD.FSID == "" || t.ExpectedOSD.OSDID < 0) {
			return nil, fmt.Errorf("--targets[%d]: expectedOSD needs an fsid and an OSD id >= 0", i)
		}
		if t.SizeBytes < 0 {
			return nil, fmt.Errorf("--targets[%d]: sizeBytes %d is negative", i, t.SizeBytes)
		}
		if p := t.Partition; p != nil {
			if t.ExpectedOSD == nil {
				return nil, fmt.Errorf("--targets[%d]: a partition is wiped only as the partition of a decommissioned OSD (expectedOSD)", i)
			}
			if err := p.validate(); err != nil {
				return nil, fmt.Errorf("--targets[%d].partition: %w", i, err)
			}
		}
	}
	return ts, nil
}

// Outcomes of one device.
const (
	// OutcomeWiped: the disk was wiped and its windows read back as zero.
	OutcomeWiped = "Wiped"
	// OutcomeRefused: a check failed; the disk was not written.
	OutcomeRefused = prepare.OutcomeRefused
	// OutcomeFailed: a write, the sync or the read-back failed, or the run
	// was stopped; the disk may be partly wiped.
	OutcomeFailed = prepare.OutcomeFailed
)

// Reasons this package adds to discovery's (a disk in use is refused with
// discovery's reason: Mounted, InUseAsSwap, HasHolders, Busy, ReadOnly).
const (
	// ReasonIdentityMismatch: the disk at the path is not the one named.
	ReasonIdentityMismatch = prepare.ReasonIdentityMismatch
	// ReasonConfirmationMismatch: the confirmation does not match what the
	// disk shows now (another disk, or its content changed).
	ReasonConfirmationMismatch = "WipeConfirmationMismatch"
	// ReasonNotWipeable: the disk's verdict is not one a wipe is allowed
	// for, or it is an OSD whose label is not the expected one.
	ReasonNotWipeable = "NotWipeable"
	// ReasonScanFailed: the node's devices could not be listed.
	ReasonScanFailed = prepare.ReasonScanFailed
	// ReasonInterrupted: the run was stopped before or while the disk was
	// written.
	ReasonInterrupted = prepare.ReasonInterrupted
	// ReasonWriteFailed: writing, syncing or reading back failed.
	ReasonWriteFailed = "WriteFailed"
)

// Exit codes of `agent wipe`, those of agent prepare.
const (
	ExitWiped    = prepare.ExitPrepared
	ExitFailed   = prepare.ExitFailed
	ExitBadFlags = prepare.ExitBadFlags
	ExitRefused  = prepare.ExitRefused
)

// Result is what happened to one device, agent prepare's type (Outcome is
// Wiped, Refused or Failed).
type Result = prepare.Result

// ExitCode maps results to the process exit code: 0 when every target was
// wiped, 1 when one failed, 3 when one was refused and none failed.
func ExitCode(results []Result) int {
	code := ExitWiped
	for _, r := range results {
		switch r.Outcome {
		case OutcomeFailed:
			return ExitFailed
		case OutcomeRefused:
			code = ExitRefused
		case OutcomeWiped:
		default:
			return ExitFailed
		}
	}
	return code
}

// DefaultDeviceTimeout bounds the work on one disk (a whole-disk discard
// of a large SSD can take minutes).
const DefaultDeviceTimeout = 10 * time.Minute

// Options configure one wipe run.
type Options struct {
	// Targets are the devices to wipe, in order.
	Targets []Target
	// Verdict holds the cluster's FSID and the discovery options the
	// verdicts are recomputed with.
	Verdict discovery.Options
	// Root is the host root the scanner reads ("/" in a pod).
	Root string
	// DeviceTimeout is the deadline for one disk; 0 means
	// DefaultDeviceTimeout.
	DeviceTimeout time.Duration
	// BusyAttempts is how many times a device found busy is checked before
	// it is refused; 0 means 3.
	BusyAttempts int
	// BusyRetryDelay is the pause between those checks; 0 means 500 ms.
	BusyRetryDelay time.Duration
}

// Device is a disk opened for the wipe, exclusively.
type Device interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Discard discards the byte range; ErrDiscardUnsupported when the
	// device has no discard.
	Discard(off, n int64) error
	// Sync flushes the writes to the medium.
	Sync() error
	// RereadPartitions asks the kernel to read the partition table again.
	RereadPartitions() error
	Close() error
}

// ErrDiscardUnsupported is what Device.Discard returns for a device without
// discard; the wipe goes on without it.
var ErrDiscardUnsupported = errors.New("discard not supported")

// Opener opens a device node for the wipe; ExclusiveOpener opens it
// read-write with O_EXCL, which fails while anything mounts or claims the
// disk or one of its partitions.
type Opener interface {
	Open(path string) (Device, error)
}

// Authorize decides whether disk d, judged v, may be wiped for target t,
// and returns the reason and message of a refusal, or ok. It checks, in
// order: the identity (stable id, WWN, serial, size), that the disk is
// not in use (whatever its verdict: a label is reported before any use),
// then what permits the wipe: with t.ExpectedOSD, a complete OSD of this
// cluster whose label carries exactly that FSID and id; otherwise a
// verdict discovery.Wipeable allows and a confirmation equal to the one
// the disk shows now.
func Authorize(t Target, d discovery.Device, v discovery.Verdict, o discovery.Options) (reason, message string, ok bool) {
	if msg := identityMismatch(t, d); msg != "" {
		return ReasonIdentityMismatch, msg, false
	}
	if r, msg, free := discovery.InUse(d); !free {
		return string(r), fmt.Sprintf("%s is in use, not touched: %s", d.KernelName, msg), false
	}
	if e := t.ExpectedOSD; e != nil {
		l := d.BlueStore
		switch {
		case v.State != discovery.StateOSD || l == nil:
			return ReasonNotWipeable, fmt.Sprintf("%s was to be wiped as OSD %d of cluster %s, but it is %s %s, not touched", d.KernelName, e.OSDID, e.FSID, v.State, v.Reason), false
		case o.ClusterFSID == "" || !strings.EqualFold(e.FSID, o.ClusterFSID) || !strings.EqualFold(l.ClusterFSID, e.FSID) || l.WhoAmI != e.OSDID:
			return ReasonNotWipeable, fmt.Sprintf("%s was to be wiped as OSD %d of cluster %s, but its label carries OSD %d of cluster %s (this cluster: %s), not touched",
				d.KernelName, e.OSDID, e.FSID, l.WhoAmI, l.ClusterFSID, o.ClusterFSID), false
		}
		return "", "", true
	}
	if refusal := discovery.WipeRefusal(v); refusal != "" {
		return ReasonNotWipeable, fmt.Sprintf("%s is not wiped: %s", d.KernelName, refusal), false
	}
	if want := discovery.WipeConfirmation(discovery.DeviceWipeIdentity(d, v)); want == "" || want != t.Confirmation {
		return ReasonConfirmationMismatch, fmt.Sprintf("%s is not wiped: the confirmation given is %q, but the disk now shows %q (%s: %s); it is another disk, or its content changed since the confirmation was copied",
			d.KernelName, t.Confirmation, want, v.Reason, v.Message), false
	}
	return "", "", true
}

// identityMismatch compares the named identity with the disk now at the
// path; "" when every given field matches.
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
	return fmt.Sprintf("%s (%s) is not the disk named, not touched: expected %s", t.Path, d.KernelName, strings.Join(diffs, "; expected "))
}

// Run wipes every target that passes every check, one after the other,
// and returns one Result per target in order. When ctx ends the disks not
// yet reached are reported Failed without being touched.
func Run(ctx context.Context, log logr.Logger, o Options, scan prepare.Scanner, open Opener) []Result {
	results := make([]Result, 0, len(o.Targets))
	timeout := o.DeviceTimeout
	if timeout <= 0 {
		timeout = DefaultDeviceTimeout
	}
	for _, t := range o.Targets {
		if err := ctx.Err(); err != nil {
			results = append(results, Result{Path: t.Path, Outcome: OutcomeFailed, Reason: ReasonInterrupted,
				Message: fmt.Sprintf("not attempted: the wipe was stopped (%v) before reaching %s; the disk was not touched", context.Cause(ctx), t.Path)})
			continue
		}
		dctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the per-disk deadline of %s passed", timeout))
		var res Result
		if t.Partition != nil {
			res = freeDataPartition(dctx, log.WithValues("device", t.Path, "partition", t.Partition.Number), o, t, scan)
			res.ID = t.ID
		} else {
			res = wipeOne(dctx, log.WithValues("device", t.Path), o, t, scan, open)
		}
		cancel()
		results = append(results, res)
	}
	return results
}

// check scans, finds the target and authorizes the wipe. held is the device
// node this process holds, or "".
func check(o Options, t Target, scan prepare.Scanner, held string) (discovery.Device, Result, bool) {
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
	var dev discovery.Device
	found := false
	for _, d := range devices {
		if d.KernelName == name {
			dev, found = d, true
			break
		}
	}
	if !found {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, string(discovery.Unreadable), fmt.Sprintf("%s (%s) is not among the node's disks", t.Path, name)
		return discovery.Device{}, res, false
	}
	v := discovery.Evaluate(dev, o.Verdict)
	if reason, msg, ok := Authorize(t, dev, v, o.Verdict); !ok {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, reason, msg
		return dev, res, false
	}
	return dev, res, true
}

// wipeOne checks, holds, checks again and wipes one target.
func wipeOne(ctx context.Context, log logr.Logger, o Options, t Target, scan prepare.Scanner, open Opener) Result {
	attempts := o.BusyAttempts
	if attempts <= 0 {
		attempts = 3
	}
	delay := o.BusyRetryDelay
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	var (
		dev  discovery.Device
		disk Device
		node string
	)
	for attempt := 1; ; attempt++ {
		d, r, ok := check(o, t, scan, "")
		busy := r.Outcome == OutcomeRefused && r.Reason == string(discovery.Busy)
		if !ok && !busy {
			log.Info("Not wiping device", "outcome", r.Outcome, "reason", r.Reason, "message", r.Message)
			return r
		}
		if ok {
			dev = d
			node = filepath.Join(root(o.Root), "dev", dev.KernelName)
			var err error
			if disk, err = open.Open(node); err == nil {
				break
			}
			r = Result{Path: t.Path, Outcome: OutcomeRefused, Reason: string(discovery.Busy),
				Message: fmt.Sprintf("%s cannot be held exclusively, not touched: %v", dev.KernelName, err)}
		}
		if attempt >= attempts {
			log.Info("Not wiping device", "outcome", r.Outcome, "reason", r.Reason, "message", r.Message)
			return r
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{Path: r.Path, Outcome: OutcomeFailed, Reason: ReasonInterrupted,
				Message: fmt.Sprintf("stopped (%v) while waiting for a busy device; not touched: %s", context.Cause(ctx), r.Message)}
		case <-t.C:
		}
	}
	defer func() { _ = disk.Close() }()

	// Check again under the hold: whatever happened between the first
	// scan and the hold shows now, and from here on nothing can mount or
	// claim the disk.
	again, r, ok := check(o, t, scan, node)
	if !ok {
		log.Info("Not wiping device", "outcome", r.Outcome, "reason", r.Reason, "message", r.Message)
		return r
	}
	if again.KernelName != dev.KernelName || again.SizeBytes != dev.SizeBytes {
		return Result{Path: t.Path, Outcome: OutcomeRefused, Reason: ReasonIdentityMismatch,
			Message: fmt.Sprintf("%s moved from %s to %s while it was being checked, not touched", t.Path, dev.KernelName, again.KernelName)}
	}
	if err := ctx.Err(); err != nil {
		return Result{Path: t.Path, Outcome: OutcomeFailed, Reason: ReasonInterrupted, Message: fmt.Sprintf("stopped (%v) before writing; not touched", context.Cause(ctx))}
	}
	// A purged OSD's DB and WAL partitions on a metadata device are freed
	// first: should the wipe stop after them, the disk still carries the
	// label that permits it, and the next attempt wipes it; the other way
	// round, the partitions would stay used by an OSD nobody knows.
	var freed []string
	if t.ExpectedOSD != nil && again.BlueStore != nil {
		devs, err := scan.Scan(node)
		if err == nil {
			freed, err = freePartitions(o.Root, devs, again.BlueStore.OSDUUID)
		}
		if err != nil {
			return Result{Path: t.Path, Outcome: OutcomeFailed, Reason: ReasonWriteFailed,
				Message: fmt.Sprintf("%s was not wiped: its OSD's DB/WAL partitions could not be freed first: %v", again.KernelName, err)}
		}
	}
	parts := partitions(o.Root, again.KernelName)
	log.Info("Wiping device", "kernelName", again.KernelName, "sizeBytes", again.SizeBytes, "partitions", len(parts), "freed", freed)
	notes, err := Wipe(ctx, disk, int64(again.SizeBytes), parts)
	notes = append(notes, freed...)
	if err != nil {
		return Result{Path: t.Path, Outcome: OutcomeFailed, Reason: ReasonWriteFailed,
			Message: fmt.Sprintf("wiping %s failed: %v; the disk may be partly wiped", again.KernelName, err)}
	}
	// What discovery will see: the rescan under the hold (the kernel may
	// still list partitions until it re-read the table).
	after := ""
	if devs, err := scan.Scan(node); err == nil {
		for _, d := range devs {
			if d.KernelName == again.KernelName {
				v := discovery.Evaluate(d, o.Verdict)
				after = strings.TrimSpace(fmt.Sprintf("; it now reads as %s %s", v.State, v.Reason))
			}
		}
	}
	msg := fmt.Sprintf("%s wiped: %s%s", again.KernelName, strings.Join(notes, ", "), after)
	log.Info("Wiped device", "kernelName", again.KernelName, "message", msg)
	return Result{Path: t.Path, Outcome: OutcomeWiped, Message: msg}
}

// Span is a byte range of a disk.
type Span struct {
	Off, Len int64
}

// labelCopies are the offsets where BlueStore releases that keep several
// copies of their label (Squid and later) put them besides offset 0;
// a copy left there could be taken for an OSD. Each gets its first 4 KiB
// zeroed when it lies on the disk.
var labelCopies = []int64{1 << 30, 10 << 30, 100 << 30, 1000 << 30}

// Spans returns the ranges Wipe zeroes on a disk of size bytes with the
// given partitions: the head and tail windows discovery reads
// (discovery.ProbeHeadBytes, discovery.ProbeTailBytes), which hold the
// MBR, both GPT headers and tables and every signature any probe reads;
// the first and last MiB of each partition; and the first 4 KiB of every
// BlueStore label copy offset on the disk.
func Spans(size int64, parts []Span) []Span {
	var out []Span
	add := func(off, n int64) {
		if off < 0 {
			n += off
			off = 0
		}
		if off+n > size {
			n = size - off
		}
		if n > 0 {
			out = append(out, Span{off, n})
		}
	}
	add(0, discovery.ProbeHeadBytes)
	add(size-discovery.ProbeTailBytes, discovery.ProbeTailBytes)
	for _, p := range parts {
		add(p.Off, min(p.Len, 1<<20))
		add(p.Off+p.Len-min(p.Len, 1<<20), min(p.Len, 1<<20))
	}
	for _, off := range labelCopies {
		add(off, 4096)
	}
	return out
}

// Wipe discards the disk (when it supports it), zeroes Spans, syncs, reads
// every span back and asks the kernel to re-read the partition table. It
// returns notes for the result message.
func Wipe(ctx context.Context, disk Device, size int64, parts []Span) ([]string, error) {
	var notes []string
	switch err := disk.Discard(0, size); {
	case err == nil:
		notes = append(notes, "discarded")
	case errors.Is(err, ErrDiscardUnsupported):
		notes = append(notes, "no discard (not supported)")
	default:
		return notes, fmt.Errorf("discard: %w", err)
	}
	spans := Spans(size, parts)
	zero := make([]byte, 1<<20)
	for _, s := range spans {
		if err := ctx.Err(); err != nil {
			return notes, fmt.Errorf("stopped: %w", context.Cause(ctx))
		}
		for done := int64(0); done < s.Len; {
			n := min(s.Len-done, int64(len(zero)))
			if _, err := disk.WriteAt(zero[:n], s.Off+done); err != nil {
				return notes, fmt.Errorf("zeroing %d bytes at offset %d: %w", n, s.Off+done, err)
			}
			done += n
		}
	}
	if err := disk.Sync(); err != nil {
		return notes, fmt.Errorf("sync: %w", err)
	}
	buf := make([]byte, 1<<20)
	for _, s := range spans {
		for done := int64(0); done < s.Len; {
			n := min(s.Len-done, int64(len(buf)))
			if _, err := disk.ReadAt(buf[:n], s.Off+done); err != nil {
				return notes, fmt.Errorf("reading back %d bytes at offset %d: %w", n, s.Off+done, err)
			}
			for i, b := range buf[:n] {
				if b != 0 {
					return notes, fmt.Errorf("offset %d reads back %#x after zeroing", s.Off+done+int64(i), b)
				}
			}
			done += n
		}
	}
	notes = append(notes, fmt.Sprintf("%d ranges zeroed and read back as zero", len(spans)))
	if err := disk.RereadPartitions(); err != nil {
		notes = append(notes, fmt.Sprintf("the kernel did not re-read the partition table (%v)", err))
	}
	return notes, nil
}

// partitions reads the start and size of each partition of disk name from
// sysfs (in 512-byte sectors, whatever the disk's sector size). A partition
// whose numbers cannot be read is left out: the head and tail windows of
// the disk are zeroed anyway.
func partitions(rootDir, name string) []Span {
	dir := filepath.Join(root(rootDir), "sys", "block", name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Span
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "partition")); err != nil {
			continue
		}
		start, err1 := readInt(filepath.Join(dir, e.Name(), "start"))
		size, err2 := readInt(filepath.Join(dir, e.Name(), "size"))
		if err1 != nil || err2 != nil || size <= 0 {
			continue
		}
		out = append(out, Span{start * 512, size * 512})
	}
	return out
}

func readInt(p string) (int64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
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

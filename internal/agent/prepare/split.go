package prepare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// prepareData prepares the OSD of a target on a partition of a disk split
// into several OSDs (t.Data):
//
//  1. The partition is made, or the blank one an earlier attempt made is
//     checked, by the Partitioner: the disk must be the planned one, and
//     blank or split by this cluster; its partition table is edited under
//     the disk's lock. The disk's other partitions are not touched.
//  2. The partition is held exclusively and read, from its own node with
//     the cache dropped: its first MiB must be zero, as a partition made
//     by the operator starts and nothing wrote since.
//  3. The hold is dropped and `ceph-volume raw prepare --data
//     /dev/<partition>` runs: ceph-osd opens the partition exclusively
//     itself (as with a whole disk, see Options.ReleaseBeforeCephVolume).
//     The whole disk is never held exclusively here: that would make every
//     exclusive open of its partitions fail, ceph-osd's included, and the
//     OSDs running on its other partitions make it impossible anyway.
//  4. The partition is read back: it must carry a complete BlueStore main
//     label of this cluster, and a rescan must show the disk split with
//     that OSD on that partition.
func prepareData(ctx context.Context, log logr.Logger, o Options, t Target, scan Scanner, lock Locker, exec Executor) Result {
	res := Result{Path: t.Path}
	refuse := func(reason, msg string) Result {
		res.Outcome, res.Reason, res.Message = OutcomeRefused, reason, msg
		log.Info("Refusing partition", "reason", reason, "message", msg)
		return res
	}
	fail := func(reason, msg string) Result {
		res.Outcome, res.Reason, res.Message = OutcomeFailed, reason, msg
		log.Info("Partition failed", "reason", reason, "message", msg)
		return res
	}
	p := t.Data
	var path string
	var err error
	for attempt := 1; ; attempt++ {
		devices, serr := scan.Scan("")
		if serr != nil {
			return fail(ReasonScanFailed, fmt.Sprintf("scanning the node's devices before making data partition %d: %v; %s was not touched", p.Number, serr, t.Path))
		}
		path, err = o.partitioner().Ensure(ctx, o, p, devices)
		var busy *PartitionError
		if !errors.As(err, &busy) || busy.Reason != string(discovery.Busy) || attempt >= busyAttempts(o) {
			break
		}
		if sleepCtx(ctx, o.busyRetryDelay()) != nil {
			return fail(ReasonInterrupted, fmt.Sprintf("stopped (%v) while waiting for busy disk %s; not touched", context.Cause(ctx), t.Path))
		}
	}
	var pe *PartitionError
	switch {
	case errors.As(err, &pe) && pe.Refused:
		return refuse(pe.Reason, pe.Message)
	case errors.As(err, &pe):
		return fail(pe.Reason, pe.Message)
	case err != nil:
		return fail(ReasonPartitionFailed, fmt.Sprintf("data partition %d: %v", p.Number, err))
	}
	log.Info("Partition ready", "role", p.Role, "number", p.Number, "path", path, "existed", p.Exists)

	// 2. Held, and blank under the hold.
	node := filepath.Join(root(o.Root), path)
	var release func()
	for attempt := 1; ; attempt++ {
		if release, err = lock.Lock(node); err == nil {
			break
		}
		if attempt >= busyAttempts(o) {
			return refuse(string(discovery.Busy), fmt.Sprintf("partition %s cannot be held exclusively, not touched: %v", path, err))
		}
		if sleepCtx(ctx, o.busyRetryDelay()) != nil {
			return fail(ReasonInterrupted, fmt.Sprintf("stopped (%v) while waiting for busy partition %s; not touched", context.Cause(ctx), path))
		}
	}
	blank, err := blankStart(node)
	release()
	switch {
	case err != nil:
		return fail(ReasonPartitionFailed, fmt.Sprintf("reading partition %s: %v; not touched", path, err))
	case !blank:
		return refuse(ReasonPartitionMismatch, fmt.Sprintf("partition %s is not blank: something wrote to it since it was made; not touched", path))
	}

	// 3. ceph-volume on the partition.
	args := []string{"raw", "prepare", "--bluestore", "--data", path}
	if t.DeviceClass != "" {
		args = append(args, "--crush-device-class", t.DeviceClass)
	}
	log.Info("Preparing OSD", "partition", path, "deviceClass", t.DeviceClass, "deadline", o.deviceTimeout())
	if _, err := exec.CephVolume(ctx, args...); err != nil {
		var ce *CommandError
		if errors.As(err, &ce) {
			res.Stderr = ce.Stderr
		}
		if ctx.Err() != nil {
			return fail(ReasonInterrupted, fmt.Sprintf("ceph-volume raw prepare on %s was stopped: %v; the partition may be half-prepared (an OSD id may be allocated in Ceph without a complete OSD)", path, context.Cause(ctx)))
		}
		return fail(ReasonCephVolumeFailed, fmt.Sprintf("ceph-volume raw prepare on %s failed: %v; the partition may be half-prepared", path, err))
	}

	// 4. Read back: the label on the partition, and the disk as
	// discovery sees it.
	l, err := readPartitionLabel(node)
	if err != nil {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume reported success on %s but %v", path, err))
	}
	if l.Description != "main" || l.WhoAmI < 0 || o.Verdict.ClusterFSID == "" || !strings.EqualFold(l.ClusterFSID, o.Verdict.ClusterFSID) {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume reported success on %s but it does not read back as a complete OSD of this cluster: %s", path, l))
	}
	devices, err := scan.Scan("")
	if err != nil {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume succeeded on %s but the node could not be rescanned to verify it: %v", path, err))
	}
	disk, found := findDevice(o, t, devices)
	if !found {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume succeeded on %s but %s no longer resolves to a disk", path, t.Path))
	}
	if v := discovery.Evaluate(disk, o.Verdict); v.State != discovery.StateOSDPartitions {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume reported success on %s but its disk %s does not read back as split by this cluster: %s %s: %s", path, disk.KernelName, v.State, v.Reason, v.Message))
	}
	shown := -1
	for _, q := range disk.GPTPartitions {
		if q.Number == int(p.Number) {
			shown = q.OSDID(o.Verdict.ClusterFSID)
		}
	}
	if shown != l.WhoAmI {
		return fail(ReasonNotVerified, fmt.Sprintf("ceph-volume reported success on %s (OSD %d) but a scan of %s shows OSD %d on partition %d", path, l.WhoAmI, disk.KernelName, shown, p.Number))
	}
	id := l.WhoAmI
	res.Outcome, res.OSDID, res.OSDUUID = OutcomePrepared, &id, l.OSDUUID
	log.Info("Prepared OSD", "partition", path, "osdID", id, "osdUUID", l.OSDUUID)
	return res
}

// blankStart reports whether the first MiB of the device at path (all of
// it, when it is smaller) reads zero, with its cached pages dropped first.
func blankStart(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }()
	if err := discovery.DropCache(f); err != nil {
		return false, err
	}
	buf := make([]byte, partitionAlign)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	return n > 0 && bytes.Count(buf[:n], []byte{0}) == n, nil
}

// readPartitionLabel reads the BlueStore label at the start of the
// device at path, with its cached pages dropped first.
func readPartitionLabel(path string) (*ceph.BlueStoreLabel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("it cannot be read back: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := discovery.DropCache(f); err != nil {
		return nil, fmt.Errorf("it cannot be read back: %w", err)
	}
	buf := make([]byte, ceph.BlueStoreLabelSize)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("it cannot be read back: %w", err)
	}
	l, err := ceph.ParseBlueStoreLabel(buf)
	if err != nil {
		return nil, fmt.Errorf("it carries no BlueStore label: %w", err)
	}
	return l, nil
}

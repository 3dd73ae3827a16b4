package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/agent/wipe"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// runWipe re-checks the given devices on this node and wipes those still
// the named disk, still allowed to be wiped (the confirmation matches what
// the disk shows, or its label is the expected OSD's) and not in use,
// holding the host-wide prepare lock for the whole run. Exit status: 0 when
// every device was wiped, 1 when at least one failed, 3 when at least one
// was refused and none failed, 2 on bad flags. The results go to stdout
// and, size-bounded, to --report.
func runWipe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent wipe", flag.ContinueOnError)
	var (
		node, fsid, hostRoot, mountinfo, report, lockFile string
		minSize                                           uint64
		allowLoop                                         bool
		deviceTimeout, lockTimeout                        time.Duration
		targets                                           []wipe.Target
	)
	fs.StringVar(&node, "node-name", os.Getenv("NODE_NAME"), "Name of this node, for logs.")
	fs.StringVar(&fsid, "cluster-fsid", "", "FSID of this Ceph cluster; required: a disk carrying it is never wiped unless --targets names its OSD.")
	fs.StringVar(&hostRoot, "host-root", "/", "Directory under which the host's /sys, /dev and /proc are found.")
	fs.StringVar(&mountinfo, "mountinfo", discovery.DefaultMountinfoPath, "Mount table to read, relative to --host-root.")
	fs.StringVar(&report, "report", terminationLog, "File to write the per-device results to, as a JSON array of at most 4096 bytes (the termination message); empty: none.")
	fs.StringVar(&lockFile, "lock-file", prepare.DefaultHostLockPath, "Host-wide lock file, the one agent prepare takes: one disk writer at a time per host.")
	fs.DurationVar(&lockTimeout, "lock-timeout", 0, "Give up waiting for the host lock after this long; 0: wait until stopped.")
	fs.DurationVar(&deviceTimeout, "device-timeout", wipe.DefaultDeviceTimeout, "Deadline for each device.")
	fs.Uint64Var(&minSize, "min-size-bytes", 0, "Smallest device accepted, in bytes, as discovery judges it; 0 means 5 GiB.")
	fs.BoolVar(&allowLoop, "allow-loop-devices", false, "Judge loop devices as disks (test clusters only).")
	fs.Func("targets", `Devices to wipe, as a JSON array of {"path", "id", "wwn", "serial", "sizeBytes"} with exactly one of "confirmation" (what the disk's plan shows as wipeConfirmation) or "expectedOSD" ({"fsid", "osdID"}: the label of an OSD of this cluster to remove); only path and that are required.`, func(s string) error {
		ts, err := wipe.ParseTargets(s)
		if err == nil {
			targets = append(targets, ts...)
		}
		return err
	})
	if !parseCommand(fs, args, stderr, false) {
		return wipe.ExitBadFlags
	}
	if fsid == "" || len(targets) == 0 {
		fmt.Fprintln(stderr, "ceph-operator agent wipe: --cluster-fsid and --targets are required")
		return wipe.ExitBadFlags
	}
	seen := map[string]bool{}
	for _, t := range targets {
		// The partitions of a split disk share its path; a disk and one
		// of its partitions are never in one run.
		key, what := t.Path, t.Path
		if t.Partition != nil {
			key, what = fmt.Sprintf("%s\x00%d", t.Path, t.Partition.Number), fmt.Sprintf("%s partition %d", t.Path, t.Partition.Number)
		}
		if seen[key] || (t.Partition == nil && seen["part\x00"+t.Path]) || (t.Partition != nil && seen[t.Path]) {
			fmt.Fprintf(stderr, "ceph-operator agent wipe: device %s is given twice\n", what)
			return wipe.ExitBadFlags
		}
		seen[key] = true
		if t.Partition != nil {
			seen["part\x00"+t.Path] = true
		}
	}
	if lockFile == "" {
		fmt.Fprintln(stderr, "ceph-operator agent wipe: --lock-file is required: writers of one host's disks must never overlap")
		return wipe.ExitBadFlags
	}
	if deviceTimeout <= 0 {
		fmt.Fprintln(stderr, "ceph-operator agent wipe: --device-timeout must be positive")
		return wipe.ExitBadFlags
	}
	log := ctrl.Log.WithName("wipe").WithValues("node", node)
	ctx, stop := signalContext()
	defer stop()

	var results []wipe.Result
	defer func() { writeResults(log, stdout, report, results) }()

	lockCtx, cancelLock := ctx, context.CancelFunc(func() {})
	if lockTimeout > 0 {
		lockCtx, cancelLock = context.WithTimeout(ctx, lockTimeout)
	}
	unlock, err := prepare.HostLock(lockCtx, log, lockFile, fmt.Sprintf("wipe, cluster %s node %s", fsid, node), 0)
	cancelLock()
	if err != nil {
		log.Error(err, "Not wiping any device")
		for _, t := range targets {
			results = append(results, wipe.Result{Path: t.Path, Outcome: wipe.OutcomeFailed, Reason: wipe.ReasonInterrupted,
				Message: fmt.Sprintf("not attempted, the disk was not touched: %v", err)})
		}
		return wipe.ExitCode(results)
	}
	defer unlock()

	opts := wipe.Options{
		Targets:       targets,
		Root:          hostRoot,
		DeviceTimeout: deviceTimeout,
		Verdict:       discovery.Options{ClusterFSID: fsid, MinSizeBytes: minSize, AllowLoop: allowLoop},
	}
	log.Info("Wiping devices", "count", len(targets))
	scanner := prepare.DiscoveryScanner{Scanner: discovery.Scanner{Root: hostRoot, MountinfoPath: mountinfo}}
	results = wipe.Run(ctx, log, opts, scanner, wipe.ExclusiveOpener{})
	return wipe.ExitCode(results)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// terminationLog is where Kubernetes reads a container's termination
// message; the prepare Job reports its per-device results there.
const terminationLog = "/dev/termination-log"

// runPrepare re-checks the given devices on this node and prepares those
// still the planned disk and still blank as BlueStore OSDs, holding the
// host-wide prepare lock for the whole run. Exit status: 0 when every
// device is Prepared (or already an OSD of this cluster), 1 when at least
// one Failed, 3 when at least one was Refused and none Failed, 2 on bad
// flags. The results go to stdout and, size-bounded, to --report.
func runPrepare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent prepare", flag.ContinueOnError)
	var (
		node, fsid, hostRoot, mountinfo, report, lockFile, deviceClass string
		minSize                                                        uint64
		allowLoop                                                      bool
		deviceTimeout, lockTimeout                                     time.Duration
		targets                                                        []prepare.Target
		devices                                                        []string
	)
	fs.StringVar(&node, "node-name", os.Getenv("NODE_NAME"), "Name of this node, for logs.")
	fs.StringVar(&fsid, "cluster-fsid", "", "FSID of the Ceph cluster; required.")
	fs.StringVar(&hostRoot, "host-root", "/", "Directory under which the host's /sys, /dev and /proc are found.")
	fs.StringVar(&mountinfo, "mountinfo", discovery.DefaultMountinfoPath, "Mount table to read, relative to --host-root.")
	fs.StringVar(&report, "report", terminationLog, "File to write the per-device results to, as a JSON array of at most 4096 bytes (the termination message); empty: none (when run by hand).")
	fs.StringVar(&lockFile, "lock-file", prepare.DefaultHostLockPath, "Host-wide lock file: one agent prepare at a time per host, whatever the cluster or namespace.")
	fs.DurationVar(&lockTimeout, "lock-timeout", 0, "Give up waiting for the host lock after this long; 0: wait until stopped.")
	fs.DurationVar(&deviceTimeout, "device-timeout", prepare.DefaultDeviceTimeout, "Deadline for each device, ceph-volume included.")
	fs.Uint64Var(&minSize, "min-size-bytes", 0, "Smallest device accepted, in bytes; 0 means 5 GiB.")
	fs.BoolVar(&allowLoop, "allow-loop-devices", false, "Accept loop devices (test clusters only).")
	fs.Func("targets", `Devices to prepare with the identity they were planned with, as a JSON array of {"path", "deviceClass", "id", "wwn", "serial", "sizeBytes"}; only path is required, empty fields are not checked.`, func(s string) error {
		ts, err := prepare.ParseTargets(s)
		if err == nil {
			targets = append(targets, ts...)
		}
		return err
	})
	fs.Func("device", "Device path to prepare, for manual use; repeat for several. The value is the path only (by-path links contain ':'). No identity is checked beyond the path.", func(s string) error {
		if err := prepare.ValidatePath(s); err != nil {
			return err
		}
		devices = append(devices, s)
		return nil
	})
	fs.StringVar(&deviceClass, "device-class", "", "CRUSH device class for the --device devices.")
	if !parseCommand(fs, args, stderr, false) {
		return prepare.ExitBadFlags
	}
	if deviceClass != "" && !prepare.ValidDeviceClass(deviceClass) {
		fmt.Fprintf(stderr, "ceph-operator agent prepare: --device-class %q: want lower-case letters, digits, '-' or '_', at most 32\n", deviceClass)
		return prepare.ExitBadFlags
	}
	if deviceClass != "" && len(devices) == 0 {
		fmt.Fprintln(stderr, "ceph-operator agent prepare: --device-class applies to --device devices; give the class of --targets devices in their JSON")
		return prepare.ExitBadFlags
	}
	for _, d := range devices {
		targets = append(targets, prepare.Target{Path: d, DeviceClass: deviceClass})
	}
	if fsid == "" || len(targets) == 0 {
		fmt.Fprintln(stderr, "ceph-operator agent prepare: --cluster-fsid and at least one device (--targets or --device) are required")
		return prepare.ExitBadFlags
	}
	seen := map[string]bool{}
	for _, t := range targets {
		// The partitions of a split disk share its path: each is one
		// target.
		key, what := t.Path, t.Path
		if t.Data != nil {
			key, what = fmt.Sprintf("%s\x00%d", t.Path, t.Data.Number), fmt.Sprintf("%s partition %d", t.Path, t.Data.Number)
		}
		if seen[key] {
			fmt.Fprintf(stderr, "ceph-operator agent prepare: device %s is given twice\n", what)
			return prepare.ExitBadFlags
		}
		seen[key] = true
	}
	if lockFile == "" {
		fmt.Fprintln(stderr, "ceph-operator agent prepare: --lock-file is required: prepares on one host must never overlap")
		return prepare.ExitBadFlags
	}
	if deviceTimeout <= 0 {
		fmt.Fprintln(stderr, "ceph-operator agent prepare: --device-timeout must be positive")
		return prepare.ExitBadFlags
	}
	log := ctrl.Log.WithName("prepare").WithValues("node", node)

	// SIGTERM (the Job's pod deleted, the node drained) and SIGINT stop the
	// run: the running ceph-volume gets SIGTERM and a grace period, the
	// remaining devices are not touched, and the results are written.
	ctx, stop := signalContext()
	defer stop()

	var results []prepare.Result
	defer func() { writeResults(log, stdout, report, results) }()

	lockCtx, cancelLock := ctx, context.CancelFunc(func() {})
	if lockTimeout > 0 {
		lockCtx, cancelLock = context.WithTimeout(ctx, lockTimeout)
	}
	unlock, err := prepare.HostLock(lockCtx, log, lockFile, fmt.Sprintf("cluster %s node %s", fsid, node), 0)
	cancelLock()
	if err != nil {
		log.Error(err, "Not preparing any device")
		for _, t := range targets {
			results = append(results, prepare.Result{Path: t.Path, Outcome: prepare.OutcomeFailed, Reason: prepare.ReasonInterrupted,
				Message: fmt.Sprintf("not attempted, the disk was not touched: %v", err)})
		}
		return prepare.ExitCode(results)
	}
	defer unlock()

	opts := prepare.Options{
		Targets:       targets,
		Root:          hostRoot,
		DeviceTimeout: deviceTimeout,
		// ceph-osd opens the disk with O_EXCL itself (Ceph 16.2.15 too):
		// see prepare.Options.ReleaseBeforeCephVolume.
		ReleaseBeforeCephVolume: true,
		Verdict:                 discovery.Options{ClusterFSID: fsid, MinSizeBytes: minSize, AllowLoop: allowLoop},
	}
	var env []string
	if allowLoop {
		env = append(env, "CEPH_VOLUME_ALLOW_LOOP_DEVICES=1")
	}
	log.Info("Preparing devices", "count", len(targets), "deviceTimeout", deviceTimeout)
	scanner := prepare.DiscoveryScanner{Scanner: discovery.Scanner{Root: hostRoot, MountinfoPath: mountinfo}}
	results = prepare.Run(ctx, log, opts, scanner, prepare.ExclusiveLocker{}, prepare.CommandExecutor{Env: env, Output: stderr})
	// The node's agent rescans on the uevents this sends, so the disks'
	// new labels reach the DiskInventory without waiting for the operator
	// to see this Job finish and ask for a rescan.
	prepare.Announce(log, hostRoot, results)
	code := prepare.ExitCode(results)
	switch code {
	case prepare.ExitFailed:
		log.Info("Prepare failed for at least one device")
	case prepare.ExitRefused:
		log.Info("At least one device was refused and left untouched")
	}
	return code
}

// writeResults prints the full results on stdout (the pod log) and the
// size-bounded termination message to report.
func writeResults(log logr.Logger, stdout io.Writer, report string, results []prepare.Result) {
	full := prepare.TerminationMessage(results, 1<<30)
	fmt.Fprintln(stdout, string(full))
	if report == "" {
		return
	}
	if err := os.WriteFile(report, prepare.TerminationMessage(results, prepare.TerminationMessageLimit), 0o644); err != nil {
		log.Error(err, "Writing the termination message", "path", report)
	}
}

// signalContext returns a context cancelled, with the signal as its cause,
// on the first SIGTERM or SIGINT. Later signals are ignored until stop is
// called: the kubelet's SIGKILL after the grace period is the hard stop, so
// the results are still written.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(fmt.Errorf("received %v", sig))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(context.Canceled)
	}
}

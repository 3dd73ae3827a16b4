package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ceph-operator/ceph-operator/internal/agent/prepare"
	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// terminationLog is where Kubernetes reads a container's termination
// message; the prepare Job reports its per-device results there.
const terminationLog = "/dev/termination-log"

// runPrepare re-checks the given devices on this node and prepares those
// still empty as BlueStore OSDs. It exits 1 when a device could not be
// prepared, 2 on bad flags, 0 otherwise (refusing a device that is no longer
// empty is a success: it is left alone, as it must be).
func runPrepare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent prepare", flag.ContinueOnError)
	var (
		node, fsid, hostRoot, mountinfo, report string
		minSize                                 uint64
		allowLoop                               bool
		targets                                 []prepare.Target
	)
	fs.StringVar(&node, "node-name", os.Getenv("NODE_NAME"), "Name of this node, for logs.")
	fs.StringVar(&fsid, "cluster-fsid", "", "FSID of the Ceph cluster; required.")
	fs.StringVar(&hostRoot, "host-root", "/", "Directory under which the host's /sys, /dev and /proc are found.")
	fs.StringVar(&mountinfo, "mountinfo", discovery.DefaultMountinfoPath, "Mount table to read, relative to --host-root.")
	fs.StringVar(&report, "report", terminationLog, "File to write the per-device results to, as JSON.")
	fs.Uint64Var(&minSize, "min-size-bytes", 0, "Smallest device accepted, in bytes; 0 means 5 GiB.")
	fs.BoolVar(&allowLoop, "allow-loop-devices", false, "Accept loop devices (test clusters only).")
	fs.Func("device", "Device to prepare, PATH or PATH:DEVICE_CLASS; repeat for several.", func(s string) error {
		t, err := prepare.ParseTarget(s)
		if err == nil {
			targets = append(targets, t)
		}
		return err
	})
	if !parseCommand(fs, args, stderr, false) {
		return 2
	}
	if fsid == "" || len(targets) == 0 {
		fmt.Fprintln(stderr, "ceph-operator agent prepare: --cluster-fsid and at least one --device are required")
		return 2
	}
	log := ctrl.Log.WithName("prepare").WithValues("node", node)

	opts := prepare.Options{
		Targets:       targets,
		Root:          hostRoot,
		MountinfoPath: mountinfo,
		Verdict:       discovery.Options{ClusterFSID: fsid, MinSizeBytes: minSize, AllowLoop: allowLoop},
	}
	var env []string
	if allowLoop {
		env = append(env, "CEPH_VOLUME_ALLOW_LOOP_DEVICES=1")
	}
	scanner := discovery.Scanner{Root: hostRoot, MountinfoPath: mountinfo}
	results, err := prepare.Run(ctrl.SetupSignalHandler(), log, opts, scanner, prepare.ExclusiveLocker{}, prepare.CommandExecutor{Env: env})
	out, _ := json.Marshal(results)
	fmt.Fprintln(stdout, string(out))
	if report != "" {
		if werr := os.WriteFile(report, out, 0o644); werr != nil {
			log.Error(werr, "Writing the termination message")
		}
	}
	if err != nil {
		log.Error(err, "Prepare failed")
		return 1
	}
	return 0
}

// Package agent is the node-side program of the operator. Its discover
// subcommand scans the node's block devices, judges each with the discovery
// verdict chain and publishes the node's DiskInventory status with
// server-side apply, only when the content changed. It rescans on kernel
// uevents (debounced), when the operator bumps spec.rescanRequest, and
// periodically as a safety net.
//
// Every interaction with the operating system or the API server goes
// through a small interface (DeviceScanner, uevent.Listener, Inventory) so
// the loop is tested with fakes; the real implementations are wired by
// NewForNode.
package agent

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/discovery"
)

// Defaults of the discover command's flags.
const (
	// DefaultResyncInterval is how often the agent rescans without being
	// asked, to catch anything the kernel's uevents did not announce.
	DefaultResyncInterval = 5 * time.Minute
	// DefaultDebounce is how long the agent waits after the last uevent of
	// a burst before rescanning, so that a shelf of disks appearing
	// together costs one scan.
	DefaultDebounce = 300 * time.Millisecond
	// DefaultMountinfoPath is the host's mount table as seen from a pod
	// running with hostPID: PID 1 is the host's init.
	DefaultMountinfoPath = "/proc/1/mountinfo"
	// DefaultPasswdPath is the user database of the image the agent runs
	// in.
	DefaultPasswdPath = "/etc/passwd"
)

// Config is the discover command's configuration.
type Config struct {
	// NodeName is the node this agent runs on; the DiskInventory it
	// publishes to has the same name. Required.
	NodeName string
	// Namespace is the namespace of the DiskInventory. Required.
	Namespace string
	// HostRoot is prepended to every host path the scanner reads: "/" when
	// the host's /dev, /sys and /run/udev are mounted at their own paths.
	HostRoot string
	// MountinfoPath is the mount table to read, relative to HostRoot.
	MountinfoPath string
	// ClusterFSID tells this cluster's BlueStore labels from foreign ones.
	ClusterFSID string
	// AllowLoopDevices accepts loop devices as OSD candidates (test
	// clusters on loop files).
	AllowLoopDevices bool
	// MinSizeBytes is the smallest acceptable device; 0 means
	// discovery.DefaultMinSizeBytes.
	MinSizeBytes uint64
	// ResyncInterval is the period of the safety-net rescan.
	ResyncInterval time.Duration
	// CephBinary is the ceph tool whose --version tells the image's Ceph
	// version.
	CephBinary string
	// Debounce is the quiet time after a uevent before rescanning.
	Debounce time.Duration
	// CephImage is the image the agent runs in, as the operator named it
	// (the CephCluster's spec.image), published with the Ceph version so
	// that the operator knows which image a version report is about.
	CephImage string
	// PasswdPath is the passwd file of the agent's own container (not the
	// host's: it is not under HostRoot) whose ceph user is published as
	// the image's.
	PasswdPath string
	// Smartctl is the program that reads drive health (smartmontools'
	// smartctl, in the Ceph image): a name looked up on PATH or a path.
	// Empty turns health checks off; disks then carry no health.
	Smartctl string
	// HealthRefresh is how long a drive's health reading is reused before
	// smartctl reads it again.
	HealthRefresh time.Duration
	// SmartctlTimeout bounds one smartctl run.
	SmartctlTimeout time.Duration
}

// DefaultConfig returns a Config with every default filled in and the node
// name and namespace taken from getenv("NODE_NAME") and
// getenv("POD_NAMESPACE"), as the DaemonSet sets them through the downward
// API. getenv is a parameter so tests need not touch the process
// environment; pass os.Getenv.
func DefaultConfig(getenv func(string) string) Config {
	return Config{
		NodeName:       getenv("NODE_NAME"),
		Namespace:      getenv("POD_NAMESPACE"),
		CephImage:      getenv("CEPH_IMAGE"),
		HostRoot:       "/",
		MountinfoPath:  DefaultMountinfoPath,
		ResyncInterval: DefaultResyncInterval,
		CephBinary:     "ceph",
		Debounce:       DefaultDebounce,
		PasswdPath:     DefaultPasswdPath,

		Smartctl:        "smartctl",
		HealthRefresh:   DefaultHealthRefresh,
		SmartctlTimeout: DefaultSmartctlTimeout,
	}
}

// BindFlags registers the discover command's flags on fs, with c's current
// values as defaults.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "Name of this node and of its DiskInventory (default $NODE_NAME).")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "Namespace of the DiskInventory (default $POD_NAMESPACE).")
	fs.StringVar(&c.CephImage, "ceph-image", c.CephImage, "The image this agent runs in, published with its Ceph version (default $CEPH_IMAGE).")
	fs.StringVar(&c.HostRoot, "host-root", c.HostRoot, "Directory under which the host's /sys, /dev, /run/udev and /proc are found.")
	fs.StringVar(&c.MountinfoPath, "mountinfo", c.MountinfoPath, "Mount table to read, relative to --host-root (the host's is /proc/1/mountinfo with hostPID).")
	fs.StringVar(&c.ClusterFSID, "cluster-fsid", c.ClusterFSID, "FSID of this Ceph cluster; BlueStore labels with another FSID are reported as foreign.")
	fs.BoolVar(&c.AllowLoopDevices, "allow-loop-devices", c.AllowLoopDevices, "Accept loop devices as OSD candidates (test clusters only).")
	fs.Uint64Var(&c.MinSizeBytes, "min-size-bytes", c.MinSizeBytes, "Smallest device accepted, in bytes; 0 means 5 GiB.")
	fs.DurationVar(&c.ResyncInterval, "resync-interval", c.ResyncInterval, "Period of the safety-net rescan.")
	fs.StringVar(&c.CephBinary, "ceph-binary", c.CephBinary, "The ceph tool whose --version is published as the image's Ceph version.")
	fs.DurationVar(&c.Debounce, "debounce", c.Debounce, "Quiet time after a kernel uevent before rescanning.")
	fs.StringVar(&c.PasswdPath, "passwd-file", c.PasswdPath, "The image's passwd file, whose ceph user is published as the image's (not read under --host-root).")
	fs.StringVar(&c.Smartctl, "smartctl", c.Smartctl, "smartctl program reading drive health (a name looked up on PATH, or a path); empty turns health checks off.")
	fs.DurationVar(&c.HealthRefresh, "health-refresh", c.HealthRefresh, "How long a drive's health reading is reused before smartctl reads it again.")
	fs.DurationVar(&c.SmartctlTimeout, "smartctl-timeout", c.SmartctlTimeout, "Time limit of one smartctl run.")
}

// Validate reports every problem with c at once, so a misconfigured
// DaemonSet shows all its mistakes in one log line.
func (c Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("the node name is required (--node-name or NODE_NAME)"))
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("the namespace is required (--namespace or POD_NAMESPACE)"))
	}
	if c.HostRoot == "" {
		errs = append(errs, errors.New("--host-root must not be empty"))
	}
	if c.ResyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("--resync-interval must be positive, got %s", c.ResyncInterval))
	}
	if c.Debounce < 0 {
		errs = append(errs, fmt.Errorf("--debounce must not be negative, got %s", c.Debounce))
	}
	if c.Smartctl != "" && c.HealthRefresh <= 0 {
		errs = append(errs, fmt.Errorf("--health-refresh must be positive, got %s", c.HealthRefresh))
	}
	if c.Smartctl != "" && c.SmartctlTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--smartctl-timeout must be positive, got %s", c.SmartctlTimeout))
	}
	return errors.Join(errs...)
}

// VerdictOptions returns the verdict chain's options for this node.
func (c Config) VerdictOptions() discovery.Options {
	return discovery.Options{
		ClusterFSID:  c.ClusterFSID,
		MinSizeBytes: c.MinSizeBytes,
		AllowLoop:    c.AllowLoopDevices,
	}
}

// Scanner returns the discovery scanner for this node's host root.
func (c Config) Scanner() discovery.Scanner {
	return discovery.Scanner{Root: c.HostRoot, MountinfoPath: c.MountinfoPath}
}

// HealthChecker returns the drive health checker for this node, or nil when
// health checks are off (Smartctl empty).
func (c Config) HealthChecker() HealthChecker {
	if c.Smartctl == "" {
		return nil
	}
	return &Smartctl{Binary: c.Smartctl, HostRoot: c.HostRoot, Timeout: c.SmartctlTimeout, Refresh: c.HealthRefresh}
}

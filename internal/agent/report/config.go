// Package report is the `agent report` subcommand: it runs next to the
// Ceph mgr, inside the Ceph image, asks Ceph for its status every few
// seconds and publishes it in the CephCluster's status.ceph with
// server-side apply under its own field manager. It writes only when
// something other than the time of the check changed, or when the
// published report is getting old, so an idle healthy cluster costs one
// write every few minutes.
//
// Ceph is reached through a StatusSource (the real one runs the ceph CLI)
// and the API server through a Cluster (the real one is KubeCluster), so
// the loop is tested with fakes and the pieces against the real things.
package report

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ceph-operator/ceph-operator/internal/ceph"
)

// Defaults of the report command's flags.
const (
	// DefaultInterval is how often `ceph status` runs. Ceph's own view
	// changes within seconds of a daemon failing; this keeps status.ceph
	// about as fresh while costing Ceph one cheap monitor command.
	DefaultInterval = 15 * time.Second
	// DefaultTimeout bounds one `ceph status`. Without a bound the CLI
	// waits minutes for a monitor quorum that is not there.
	DefaultTimeout = 10 * time.Second
	// DefaultCephBinary is the ceph CLI, found on PATH in the Ceph image.
	DefaultCephBinary = "ceph"
	// DefaultConf is where the Ceph image's pods mount ceph.conf.
	DefaultConf = "/etc/ceph/ceph.conf"
)

// Config is the report command's configuration.
type Config struct {
	// Namespace and ClusterName name the CephCluster to report on.
	// Required.
	Namespace   string
	ClusterName string
	// CephBinary is the ceph CLI to run.
	CephBinary string
	// Conf is the ceph.conf to pass with --conf; empty leaves the CLI's
	// default.
	Conf string
	// Keyring is the keyring to pass with --keyring; empty leaves the
	// CLI's default search path.
	Keyring string
	// CephID is the cephx user (without "client.") to pass with --id;
	// empty means the CLI's default, admin.
	CephID string
	// Interval is the time between two runs of `ceph status`.
	Interval time.Duration
	// Timeout bounds one run of `ceph status`.
	Timeout time.Duration
	// Refresh is the age at which an unchanged status is published again
	// so that readers see the reporter is alive.
	Refresh time.Duration
}

// DefaultConfig returns a Config with every default filled in and the
// namespace taken from getenv("POD_NAMESPACE"), as the mgr's pod sets it
// through the downward API; pass os.Getenv.
func DefaultConfig(getenv func(string) string) Config {
	return Config{
		Namespace:  getenv("POD_NAMESPACE"),
		CephBinary: DefaultCephBinary,
		Conf:       DefaultConf,
		Interval:   DefaultInterval,
		Timeout:    DefaultTimeout,
		Refresh:    ceph.DefaultStatusRefresh,
	}
}

// BindFlags registers the report command's flags on fs, with c's current
// values as defaults.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "Namespace of the CephCluster (default $POD_NAMESPACE).")
	fs.StringVar(&c.ClusterName, "cluster-name", c.ClusterName, "Name of the CephCluster whose status.ceph to publish; required.")
	fs.StringVar(&c.CephBinary, "ceph-binary", c.CephBinary, "The ceph command-line tool to run.")
	fs.StringVar(&c.Conf, "conf", c.Conf, "ceph.conf to use (--conf); empty for the ceph tool's default.")
	fs.StringVar(&c.Keyring, "keyring", c.Keyring, "Keyring to use (--keyring); empty for the ceph tool's default search path.")
	fs.StringVar(&c.CephID, "ceph-id", c.CephID, "Cephx user to connect as, without 'client.' (--id); empty for the ceph tool's default (admin).")
	fs.DurationVar(&c.Interval, "interval", c.Interval, "Time between two runs of 'ceph status'.")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "Longest a run of 'ceph status' may take.")
	fs.DurationVar(&c.Refresh, "refresh", c.Refresh, "Age at which an unchanged status is published again.")
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Namespace == "" {
		errs = append(errs, errors.New("the namespace is required (--namespace or POD_NAMESPACE)"))
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("--cluster-name is required"))
	}
	if c.CephBinary == "" {
		errs = append(errs, errors.New("--ceph-binary must not be empty"))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("--interval must be positive, got %s", c.Interval))
	}
	if c.Timeout < time.Second {
		// The ceph tool's --connect-timeout counts whole seconds.
		errs = append(errs, fmt.Errorf("--timeout must be at least 1s, got %s", c.Timeout))
	}
	if c.Refresh < c.Interval {
		errs = append(errs, fmt.Errorf("--refresh (%s) must not be shorter than --interval (%s)", c.Refresh, c.Interval))
	}
	return errors.Join(errs...)
}

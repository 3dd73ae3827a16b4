package ceph

import (
	"fmt"
	"strings"
)

// Config is what goes into the cluster's ceph.conf. It holds no secrets:
// keys are only ever in Secrets.
type Config struct {
	// FSID is the cluster's unique id.
	FSID string
	// MonHosts are the monitors' addresses ("v2:10.0.0.1:3300"); empty until
	// monitors run.
	MonHosts []string
	// FailureDomain is "osd" for a one-node cluster, where the default rule
	// and failure detection must not wait for a second host; anything else
	// keeps Ceph's default, host.
	FailureDomain string
}

// Render returns the ceph.conf text. The output is deterministic for a given
// Config so that the ConfigMap is only written when something changed.
func (c Config) Render() string {
	var b strings.Builder
	b.WriteString("[global]\n")
	fmt.Fprintf(&b, "fsid = %s\n", c.FSID)
	if len(c.MonHosts) > 0 {
		fmt.Fprintf(&b, "mon_host = %s\n", strings.Join(c.MonHosts, ","))
	}
	b.WriteString("auth_cluster_required = cephx\n")
	b.WriteString("auth_service_required = cephx\n")
	b.WriteString("auth_client_required = cephx\n")
	b.WriteString("ms_bind_msgr2 = true\n")
	// A new cluster has no client that predates the global_id fix
	// (CVE-2021-20288): refuse the insecure reclaim from the start.
	b.WriteString("auth_allow_insecure_global_id_reclaim = false\n")
	// Daemons run in containers: logs go to stderr, where the container
	// runtime keeps them, not to files inside the container.
	b.WriteString("log_to_file = false\n")
	b.WriteString("log_to_stderr = true\n")
	b.WriteString("err_to_stderr = true\n")
	b.WriteString("mon_cluster_log_to_file = false\n")
	// The manager modules a new cluster starts with: Ceph's default less
	// restful, a REST API the operator does not use, removed from Ceph
	// after Squid. Reef's restful imports pyOpenSSL when it loads, which
	// fails where python3-cryptography refuses the manager's Python
	// subinterpreters (Debian trixie's Ceph 18.2.7), and the failed module
	// keeps the cluster at HEALTH_WARN (MGR_MODULE_DEPENDENCY). Read only
	// when the monitors create the cluster: an existing one keeps its
	// modules.
	b.WriteString("mgr_initial_modules = iostat nfs\n")
	b.WriteString("osd_pool_default_size = 3\n")
	b.WriteString("osd_pool_default_min_size = 2\n")
	if c.FailureDomain == "osd" {
		// The default rule (made at the monitors' bootstrap) places
		// replicas on distinct OSDs, and two OSDs of the one host suffice
		// to report a third one down.
		b.WriteString("osd_crush_chooseleaf_type = 0\n")
		b.WriteString("mon_osd_reporter_subtree_level = osd\n")
	}
	b.WriteString("\n[osd]\n")
	b.WriteString("osd_objectstore = bluestore\n")
	// A stopping OSD (a drain, a rollout, a node shut down) tells the
	// monitors it is going, so clients turn to the other copies at once.
	// Pacific's default is not to: its monitors learned of the OSD only
	// after the heartbeat grace, and on three real nodes reads paused
	// for up to 37 s during a drain. Quincy and later do so by default.
	b.WriteString("osd_fast_shutdown_notify_mon = true\n")
	return b.String()
}

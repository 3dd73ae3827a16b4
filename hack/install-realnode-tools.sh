#!/usr/bin/env bash
# Installs what the real node (tests/framework/realnode, `make cluster-up`) runs besides
# the binaries built from source: Debian's containerd and runc (the container
# runtime), containernetworking-plugins (the bridge, host-local and loopback
# CNI plugins in /usr/lib/cni), iptables and conntrack (kube-proxy's iptables
# mode), iproute2 (the harness's dummy link and bridge clean-up) and
# util-linux/mount (the kubelet's mounts).
#
# It is idempotent (hack/lib/apt-install.sh). It needs root and fails
# without it, because the real node cannot run without root anyway.
#
# Debian's containerd package ships a systemd unit; nothing here starts it,
# and the harness runs its own containerd with its own socket and state.
set -euo pipefail

. "$(dirname "$0")/lib/apt-install.sh"

# The real node cannot run without root, so anything missing is an error.
apt_install install-realnode-tools containerd runc containernetworking-plugins iptables conntrack iproute2 util-linux mount

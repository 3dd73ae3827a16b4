#!/usr/bin/env bash
# Installs what the real node (tests/realnode, `make cluster-up`) runs besides
# the binaries built from source: Debian's containerd and runc (the container
# runtime), containernetworking-plugins (the bridge, host-local and loopback
# CNI plugins in /usr/lib/cni), iptables and conntrack (kube-proxy's iptables
# mode), iproute2 (the harness's dummy link and bridge clean-up) and
# util-linux/mount (the kubelet's mounts).
#
# It is idempotent: packages already installed are skipped, and 'apt-get
# update' runs (first) only when something must be installed. It needs root
# and fails without it, because the real node cannot run without root anyway.
# Other processes may run apt at the same time, so both apt calls wait for
# the dpkg lock instead of failing.
#
# Debian's containerd package ships a systemd unit; nothing here starts it,
# and the harness runs its own containerd with its own socket and state.
set -euo pipefail

packages=(containerd runc containernetworking-plugins iptables conntrack iproute2 util-linux mount)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-realnode-tools: must run as root (the real node needs root)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
	echo "install-realnode-tools: apt-get/dpkg not found; install ${packages[*]} by hand" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-realnode-tools: all of ${packages[*]} already installed"
	exit 0
fi

echo "install-realnode-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"

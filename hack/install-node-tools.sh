#!/usr/bin/env bash
# Installs the host tools the node-side tests use (tests/realdisk): losetup,
# lsblk and mount (util-linux), mkfs.ext4 (e2fsprogs), udevadm (udev) and
# sfdisk (fdisk). It is idempotent (hack/lib/apt-install.sh). Without root
# (or without apt) it changes nothing and exits 0, because the tests that
# need these tools skip themselves when not run as root anyway.
set -euo pipefail

. "$(dirname "$0")/lib/apt-install.sh"

packages=(util-linux mount e2fsprogs udev fdisk)
if [ "$(id -u)" -ne 0 ]; then
	echo "install-node-tools: not root; skipping (the root-only real-disk tests will skip too)"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-node-tools: apt-get not found; install ${packages[*]} by hand"
	exit 0
fi
apt_install install-node-tools "${packages[@]}"

#!/usr/bin/env bash
# Installs the host tools the node-side tests use (tests/realdisk): losetup,
# lsblk and mount (util-linux), mkfs.ext4 (e2fsprogs), udevadm (udev) and
# sfdisk (fdisk). It is idempotent: packages already installed are skipped
# and 'apt-get update' runs only when something must be installed. Without
# root it changes nothing and exits 0, because the tests that need these
# tools skip themselves when not run as root anyway.
set -euo pipefail

packages=(util-linux mount e2fsprogs udev fdisk)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-node-tools: not root; skipping (the root-only real-disk tests will skip too)"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
	echo "install-node-tools: apt-get/dpkg not found; install ${packages[*]} by hand"
	exit 0
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-node-tools: all of ${packages[*]} already installed"
	exit 0
fi

echo "install-node-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

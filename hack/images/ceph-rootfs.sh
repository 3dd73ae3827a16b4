#!/usr/bin/env bash
# Builds the root file system of the Ceph image the real-node tests run
# (make image-ceph): a Debian bookworm minbase from debootstrap with Debian's
# Ceph 16.2 packages, without apt caches, documentation or logs. The result
# is a plain directory that hack/ociimage packs into an OCI image layout.
#
# Usage (as root): hack/images/ceph-rootfs.sh <output-dir>
#
# The output directory is replaced only when the build succeeds. Debian
# packages come from the archives this machine's own apt configuration uses
# for bookworm and bookworm-security (hack/lib/apt-mirror.sh), or from
# DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR when set.
#
# Changing the package list below changes this file, which is what makes
# `make image-ceph` rebuild the image.
set -euo pipefail

# What the node pods run inside this image: the mons, the mgr (with the
# core modules it always loads), ceph-volume raw prepare/activate (in
# ceph-osd, with the tools it calls: lsblk, blkid, udevadm, ceph-bluestore-
# tool, and lvm2, which ceph-volume imports even in raw mode), the ceph CLI
# (ceph-common), and the file system tools the tests look at disks with.
packages=(
	ceph-common
	ceph-mgr
	ceph-mgr-modules-core
	ceph-mon
	ceph-osd
	e2fsprogs
	lvm2
	udev
	util-linux
)

suite=bookworm
# shellcheck source=../lib/apt-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-mirror.sh"
mirror=${DEBIAN_MIRROR:-$(apt_mirror "$suite")}
security_mirror=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror "$suite-security")}

if [ $# -ne 1 ]; then
	echo "usage: $0 <output-dir>" >&2
	exit 2
fi
out=$1
if [ "$(id -u)" -ne 0 ]; then
	echo "ceph-rootfs: debootstrap and chroot need root" >&2
	exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
	echo "ceph-rootfs: installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap \
		|| { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap; }
fi

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.ceph-rootfs.XXXXXX")
root=$work/root
cleanup() {
	# The proc mount must go before the tree is removed.
	if mountpoint -q "$root/proc" 2>/dev/null; then umount "$root/proc"; fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "ceph-rootfs: debootstrap $suite (minbase) from $mirror"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -50 "$work/debootstrap.log" "$root/debootstrap/debootstrap.log" 2>/dev/null; exit 1; }

cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES
# Keep package installs from starting daemons, and from installing
# recommended packages or documentation the image does not need.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/apt.conf.d/90image" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT
cat >"$root/etc/dpkg/dpkg.cfg.d/90image-nodoc" <<'DPKG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
DPKG
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"

echo "ceph-rootfs: installing ${packages[*]}"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	sh -ec 'apt-get update -qq && apt-get install -y -qq "$@" && apt-get clean' sh "${packages[@]}" \
	>"$work/install.log" 2>&1 || { tail -50 "$work/install.log"; exit 1; }

# A container does not boot, so nothing applies the packages' tmpfiles.d:
# make their run-time directories now (/run/ceph for the daemons' admin
# sockets, /run/lvm and /run/lock/lvm for the LVM tools ceph-volume calls).
awk '$1 == "d" && $2 ~ "^/run/" {print $2, $3, $4, $5}' "$root"/usr/lib/tmpfiles.d/*.conf |
	while read -r dir mode user group; do
		chroot "$root" install -d -m "$mode" -o "$user" -g "$group" "$dir"
	done

umount "$root/proc"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$work/packages.txt"

# Trim what only a package manager or a person at a console uses, and what
# differs between two builds of the same packages (logs, caches, ids).
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf" "$root/etc/machine-id" "$root/etc/hostname" "$root/run/adduser"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
	"$root"/var/cache/ldconfig/* "$root"/var/lib/dpkg/*-old \
	"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
	"$root"/tmp/* "$root"/var/tmp/* "$root"/run/mount/* "$root"/debootstrap
# Log files go, the directories the packages made (/var/log/ceph) stay.
find "$root/var/log" -type f -delete
# The container runtime provides /dev; keep only the directory.
find "$root/dev" -mindepth 1 -delete
: >"$root/etc/machine-id"

rm -rf "$out"
mv "$root" "$out"
mv "$work/packages.txt" "$out.packages"
echo "ceph-rootfs: done: $out ($(du -sh "$out" | cut -f1)); package versions in $out.packages"

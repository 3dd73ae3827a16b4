#!/usr/bin/env bash
# Builds the root file system of a Ceph image the real-node tests run
# (make image-ceph): a Debian minbase from debootstrap with that release's
# Ceph packages, without apt caches, documentation or logs. The result is a
# plain directory that hack/ociimage packs into an OCI image layout.
#
# Usage (as root): hack/images/ceph-rootfs.sh <suite> <output-dir>
#
# The suite picks the Ceph release: bookworm (16.2), trixie (18.2) or sid
# (20.2). The output directory is replaced only when the build succeeds.
# Debian packages come from the archive this machine's own apt
# configuration uses for the suite and its -updates and -security suites,
# or, for a suite it does not list, the archive it uses for its own release
# (hack/lib/apt-mirror.sh); DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR, when
# set, replace them.
#
# Changing the package lists below changes this file, which is what makes
# `make image-ceph` rebuild the images.
set -euo pipefail

# What the node pods run inside this image: the mons, the mgr (with the
# core modules it always loads), ceph-volume raw prepare/activate (with the
# tools it calls: lsblk, blkid, udevadm, ceph-bluestore-tool, and lvm2,
# which ceph-volume imports even in raw mode), the ceph CLI (ceph-common),
# and the file system tools the tests look at disks with.
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
# The commands the image must have, checked after the install so that a
# package split in a later release fails the build, not a test.
commands=(ceph ceph-mon ceph-mgr ceph-osd ceph-volume ceph-bluestore-tool lsblk blkid udevadm)

if [ $# -ne 2 ]; then
	echo "usage: $0 <suite: bookworm, trixie or sid> <output-dir>" >&2
	exit 2
fi
suite=$1
out=$2
# Per suite: the suites next to it (sid, the unstable suite, has no -updates
# and no -security) and the packages that moved. From 18.2 on ceph-volume
# is a package of its own instead of a part of ceph-osd.
case $suite in
bookworm) extra_suites=(updates security) ;;
trixie) extra_suites=(updates security) packages+=(ceph-volume) ;;
sid) extra_suites=() packages+=(ceph-volume) ;;
*)
	echo "ceph-rootfs: unknown suite '$suite': bookworm (Ceph 16.2), trixie (18.2) or sid (20.2)" >&2
	exit 2
	;;
esac

# shellcheck source=../lib/apt-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-mirror.sh"
mirror=${DEBIAN_MIRROR:-$(apt_archive "$suite")}
security_mirror=""
for s in "${extra_suites[@]}"; do
	[ "$s" = security ] && security_mirror=${DEBIAN_SECURITY_MIRROR:-$(apt_archive "$suite-security")}
done

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

{
	echo "deb $mirror $suite main"
	for s in "${extra_suites[@]}"; do
		case $s in
		updates) echo "deb $mirror $suite-updates main" ;;
		security) echo "deb $security_mirror $suite-security main" ;;
		esac
	done
} >"$root/etc/apt/sources.list"
# Keep package installs from starting daemons, and from installing
# recommended packages or documentation the image does not need.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/apt.conf.d/90image" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT
# sid's Release file is valid for a week only: an archive that serves a
# dated snapshot of it (as the mirror this machine uses may) has it expired.
# apt still checks its signature; only the date is not held against it.
cat >"$root/etc/apt/apt.conf.d/91image-build" <<'APT'
Acquire::Check-Valid-Until "false";
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
# A field left out or "-" means tmpfiles.d's default: 0755, root, root.
awk '$1 == "d" && $2 ~ "^/run/" && $2 !~ "%" {print $2, $3, $4, $5}' "$root"/usr/lib/tmpfiles.d/*.conf |
	while read -r dir mode user group; do
		case $mode in '' | -) mode=0755 ;; esac
		case $user in '' | -) user=root ;; esac
		case $group in '' | -) group=root ;; esac
		chroot "$root" install -d -m "$mode" -o "$user" -g "$group" "$dir"
	done

for c in "${commands[@]}"; do
	chroot "$root" /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c 'command -v "$1"' sh "$c" >/dev/null ||
		{ echo "ceph-rootfs: $suite: the packages installed no $c; the package list needs it" >&2; exit 1; }
done

# The manager runs each module in a Python subinterpreter, where Debian's
# python3-bcrypt (built with PyO3) refuses to load. Reef's mgr_util.py, which
# every module imports, imports bcrypt at its top for the one function that
# hashes passwords, so on trixie every module fails (MGR_MODULE_DEPENDENCY)
# and the cluster never reaches HEALTH_OK; Ceph's own images carry a bcrypt
# that loads, and later releases dropped the import. Move the import into
# that function, and check that the module still compiles.
mgr_util=$root/usr/share/ceph/mgr/mgr_util.py
if [ -f "$mgr_util" ] && grep -qx 'import bcrypt' "$mgr_util"; then
	echo "ceph-rootfs: $suite: mgr_util.py imports bcrypt where the manager loads it; importing it where it is used"
	sed -i -e '/^import bcrypt$/d' -e 's/^def password_hash(.*:$/&\n    import bcrypt/' "$mgr_util"
	if grep -q '^import bcrypt' "$mgr_util" || [ "$(grep -c '^    import bcrypt$' "$mgr_util")" -ne 1 ] ||
		! chroot "$root" python3 -m py_compile /usr/share/ceph/mgr/mgr_util.py; then
		echo "ceph-rootfs: $suite: could not move mgr_util.py's bcrypt import into password_hash" >&2
		exit 1
	fi
fi

umount "$root/proc"
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$work/packages.txt"

# Trim what only a package manager or a person at a console uses, and what
# differs between two builds of the same packages (logs, caches, ids).
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/apt/apt.conf.d/91image-build" "$root/etc/resolv.conf" "$root/etc/machine-id" "$root/etc/hostname" "$root/run/adduser"
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

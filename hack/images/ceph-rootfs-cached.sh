#!/usr/bin/env bash
# Builds a Ceph root file system into the cache (make image-ceph calls it):
# hack/images/ceph-rootfs.sh does the build; this keeps the cache bounded.
#
# Usage (as root): hack/images/ceph-rootfs-cached.sh <suite> <cache-dir>/ceph-rootfs-<suite>-<hash>
#
# The cache lives outside the clone and across runs, and each version of
# the build scripts names its root file systems anew, so without pruning a
# machine that keeps its cache (CI's, a developer's) gathers one stale root
# file system per suite and version, about half a gigabyte each, until its
# disk is full. So, one build at a time per cache directory:
#   - a work directory ceph-rootfs.sh left there (.ceph-rootfs.*, with the
#     lock held) is a killed build's, and goes, with its proc mount;
#   - after a build succeeds, the cache's other root file systems of the
#     same suite go: nothing names them any more.
# It touches only names of the cache's own pattern.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 <suite> <cache-dir>/ceph-rootfs-<suite>-<hash>" >&2
	exit 2
fi
suite=$1
out=$2
cache=$(dirname "$out")
name=$(basename "$out")
case $name in
ceph-rootfs-"$suite"-*) ;;
*)
	echo "ceph-rootfs-cached: $out is not named ceph-rootfs-$suite-<hash>" >&2
	exit 2
	;;
esac

mkdir -p "$cache"
exec 9>"$cache/.ceph-rootfs.lock"
flock 9
# Another make may have built it while this one waited for the lock.
if [ -e "$out.packages" ]; then
	exit 0
fi
for old in "$cache"/.ceph-rootfs.*/; do
	[ -d "$old" ] || continue
	if mountpoint -q "${old}root/proc" 2>/dev/null; then umount "${old}root/proc"; fi
	echo "ceph-rootfs-cached: removing ${old%/}, left by a build that did not finish"
	rm -rf "$old"
done

"$(dirname "${BASH_SOURCE[0]}")/ceph-rootfs.sh" "$suite" "$out"

for stale in "$cache/ceph-rootfs-$suite-"*; do
	case $stale in "$out" | "$out.packages") continue ;; esac
	echo "ceph-rootfs-cached: removing $stale, built by an earlier version of the build scripts"
	rm -rf "$stale"
done

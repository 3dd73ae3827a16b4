#!/usr/bin/env bash
# make test's first step: starts building, in the background, the Ceph root
# file systems missing from the cache, so that on a machine without them
# (a fresh CI machine) the ten or so minutes they take, mostly spent
# downloading Debian's packages, pass while the tools compile. The real
# tests' image rules find them built, or wait for the build under the
# cache's lock (hack/images/ceph-rootfs-cached.sh). A build that fails here
# is only logged: the image rule builds it again in the foreground, where
# its error stops make. Without root it does nothing, as the real tests
# then skip.
#
# Usage: hack/images/ceph-rootfs-prefetch.sh <log> <suite>:<cache-dir>/ceph-rootfs-<suite>-<hash> ...
set -euo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 <log> <suite>:<rootfs>..." >&2
	exit 2
fi
log=$1
shift
if [ "$(id -u)" -ne 0 ]; then
	exit 0
fi
todo=()
for a in "$@"; do
	[ -e "${a#*:}.packages" ] || todo+=("$a")
done
if [ "${#todo[@]}" -eq 0 ]; then
	exit 0
fi
here=$(dirname "${BASH_SOURCE[0]}")
# In the foreground, so that apt runs while nothing else of make test does.
if ! command -v debootstrap >/dev/null 2>&1; then
	# shellcheck source=../lib/apt-install.sh
	. "$here/../lib/apt-install.sh"
	apt_install ceph-rootfs debootstrap
fi
mkdir -p "$(dirname "$log")"
echo "ceph-rootfs: building ${#todo[@]} Ceph root file system(s) in the background (log: $log)"
(
	for a in "${todo[@]}"; do
		echo "== $(date +%T) ${a%%:*}"
		"$here/ceph-rootfs-cached.sh" "${a%%:*}" "${a#*:}" || echo "== ${a%%:*} failed; the image rule builds it again"
	done
	echo "== $(date +%T) done"
) >"$log" 2>&1 </dev/null &

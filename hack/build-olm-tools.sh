#!/usr/bin/env bash
# Builds, from the versions pinned in hack/tools/*/go.mod and through the Go
# module proxy only, every program the OLM install on the real node runs
# inside its images (make olm-tools; tests/olm packs them with hack/ociimage):
#
#   olm, catalog, package-server, copy-content, cpb   OLM v0.46.0 (hack/tools/olm)
#   grpc_health_probe                                 catalog pods' probe (hack/tools/olm)
#   opm                                               operator-registry, static (hack/tools/opm)
#   registry                                          distribution v3 (hack/tools/registry)
#   coredns                                           cluster DNS, five plugins (hack/tools/coredns)
#   sh, cp, cat                                       helper-container utilities (hack/tools/shell)
#
# into bin/olm/. Every binary is static (CGO_ENABLED=0): the images have no C
# library. The go.sum files are committed, so a build needs neither the
# checksum database nor anything but the module proxy (or the module cache).
#
# Usage: hack/build-olm-tools.sh    A module whose binaries are all in
# bin/olm/ and newer than its go.mod is not rebuilt; delete one to force it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${OLM_TOOLS_DIR:-$root/bin/olm}
mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOSUMDB=off

olmpkg=github.com/operator-framework/operator-lifecycle-manager
olmver=$(cd "$root/hack/tools/olm" && go list -m -f '{{.Version}}' $olmpkg)
# opm's tags keep the container-image libraries free of cgo (no gpgme,
# btrfs or devicemapper); json1 is the tag its release build sets for its
# SQLite index format, which without cgo is compiled out.
opmtags=json1,containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper

# build MODULE "BINARIES" [go build flags...] -- PACKAGES...: one go build
# per module, so the packages share the compile work.
build() {
  local mod=$1 bins=$2; shift 2
  local fresh=1 b
  for b in $bins; do
    if [ ! -x "$out/$b" ] || [ "$root/hack/tools/$mod/go.mod" -nt "$out/$b" ]; then fresh=0; fi
  done
  [ $fresh = 1 ] && return 0
  echo "build-olm-tools: building $bins from hack/tools/$mod"
  local start tmp
  start=$(date +%s)
  tmp=$(mktemp -d "$out/.build.XXXXXX")
  (cd "$root/hack/tools/$mod" && go build -trimpath -o "$tmp/" "$@")
  for b in $bins; do mv "$tmp/$b" "$out/$b"; done
  rm -rf "$tmp"
  echo "build-olm-tools: built $bins in $(( $(date +%s) - start ))s"
}

build olm "olm catalog package-server copy-content cpb grpc-health-probe" \
  -ldflags "-s -w -X $olmpkg/pkg/version.OLMVersion=$olmver" \
  $olmpkg/cmd/olm $olmpkg/cmd/catalog $olmpkg/cmd/package-server $olmpkg/cmd/copy-content $olmpkg/util/cpb \
  github.com/grpc-ecosystem/grpc-health-probe
# OLM's probes call it by this name.
[ -x "$out/grpc_health_probe" ] && [ ! "$out/grpc-health-probe" -nt "$out/grpc_health_probe" ] || cp "$out/grpc-health-probe" "$out/grpc_health_probe"
build opm opm -tags "$opmtags" -ldflags "-s -w" github.com/operator-framework/operator-registry/cmd/opm
build registry registry -ldflags "-s -w" github.com/distribution/distribution/v3/cmd/registry
build coredns coredns -ldflags "-s -w" .
build shell "gosh cp cat" -ldflags "-s -w" \
  mvdan.cc/sh/v3/cmd/gosh github.com/u-root/u-root/cmds/core/cp github.com/u-root/u-root/cmds/core/cat

#!/usr/bin/env bash
# Builds the OLM tooling that `make bundle` and the bundle tests use from
# pinned sources through the Go module proxy into bin/: operator-sdk and the
# binary of its scorecard test image (scorecard-test), both from the versions
# pinned in hack/tools/operator-sdk/go.mod, and opm (file-based catalogs)
# from hack/tools/opm/go.mod. Prebuilt release downloads are not used.
#
# Usage: hack/build-tools.sh [binary...]   (default: operator-sdk)
# A binary that is already in bin/ is not rebuilt; delete it to force a build.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bindir=${BIN_DIR:-$root/bin}
mod=$root/hack/tools/operator-sdk
mkdir -p "$bindir"

declare -A pkg=(
  [operator-sdk]=github.com/operator-framework/operator-sdk/cmd/operator-sdk
  [scorecard-test]=github.com/operator-framework/operator-sdk/images/scorecard-test
  [opm]=github.com/operator-framework/operator-registry/cmd/opm
)

# The tags keep the container-image libraries operator-sdk links free of cgo
# (no gpgme, btrfs or devicemapper), so the build is static.
tags=containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper

# operator-sdk stamps its version into the bundle it generates (the
# operators.operatorframework.io.metrics.builder annotation), so set it as its
# release build does. The Kubernetes version is the one its Makefile names.
sdkver=$(cd "$mod" && go list -m -f '{{.Version}}' github.com/operator-framework/operator-sdk)
vpkg=github.com/operator-framework/operator-sdk/internal/version
ldflags="-s -w -X $vpkg.Version=$sdkver -X $vpkg.GitVersion=$sdkver -X $vpkg.ImageVersion=$sdkver -X $vpkg.KubernetesVersion=v1.33.1"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(operator-sdk)

for name in "${targets[@]}"; do
  p=${pkg[$name]:-}
  if [ -z "$p" ]; then
    echo "build-tools: unknown binary '$name' (known: ${!pkg[*]})" >&2
    exit 2
  fi
  if [ -x "$bindir/$name" ]; then
    continue
  fi
  echo "build-tools: building $name from $p (first build takes several minutes)"
  start=$(date +%s)
  if [ "$name" = opm ]; then
    # Static, with the flags hack/build-olm-tools.sh builds bin/olm/opm
    # with, so the second build only links. Without cgo opm has no SQLite
    # (the older index format); the file-based catalog commands do not use it.
    (cd "$root/hack/tools/opm" && CGO_ENABLED=0 go build -trimpath -tags "json1,$tags" -ldflags "-s -w" -o "$bindir/$name.tmp" "$p")
  else
    (cd "$mod" && CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$bindir/$name.tmp" "$p")
  fi
  mv "$bindir/$name.tmp" "$bindir/$name"
  echo "build-tools: built $name in $(( $(date +%s) - start ))s"
done

#!/usr/bin/env bash
# Builds every program the project runs but does not write, from the
# versions pinned in hack/tools/<module>/go.mod, through the Go module proxy
# only (no prebuilt release downloads), into bin/. The table below says,
# for each, which module pins it, which package is built, with which flags
# and tags, and where it goes.
#
#   code generation and lint      controller-gen, kustomize, golangci-lint
#   control plane (tests, demo)   etcd, kube-apiserver, kubectl,
#                                 kube-controller-manager, kube-scheduler, kwok
#   oldest supported control      minkube/etcd, minkube/kube-apiserver (the
#   plane (make test-minkube)     minKubeVersion of the CSV)
#   real node                     kubelet, kube-proxy
#   OLM bundle and catalog        operator-sdk, scorecard-test, opm
#   alerting rules (tests)        promtool, prometheus
#   OLM on the real node          olm/*: programs packed into its images
#
# Every binary is static (CGO_ENABLED=0): the images have no C library. The
# go.sum files are committed, so a build needs neither the checksum database
# nor anything but the module proxy (or the module cache).
#
# Usage: hack/build-tools.sh NAME...
#   NAME is an output (etcd, olm/registry) or a directory of outputs (olm:
#   everything under bin/olm/). An output that exists is kept unless its
#   module's go.mod changed after it was built (a newer pin); delete it to
#   force a build. BIN_DIR moves bin/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bindir=${BIN_DIR:-$root/bin}
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOSUMDB=off

olmpkg=github.com/operator-framework/operator-lifecycle-manager
sdkpkg=github.com/operator-framework/operator-sdk

# The table. Columns: outputs (comma-separated, relative to bin/; the
# first is built, the others are copies under the names other tools call
# it by), module (hack/tools/<module>), flags (ldflags set, see ldflags()),
# tags (see tags()), package.
table() {
  cat <<'EOF'
controller-gen              gen           plain  -      sigs.k8s.io/controller-tools/cmd/controller-gen
kustomize                   gen           plain  -      sigs.k8s.io/kustomize/kustomize/v5
golangci-lint               golangci-lint lint   -      github.com/golangci/golangci-lint/v2/cmd/golangci-lint
etcd                        controlplane  plain  -      go.etcd.io/etcd/server/v3
kube-apiserver              controlplane  k8s    -      k8s.io/kubernetes/cmd/kube-apiserver
kube-controller-manager     controlplane  k8s    -      k8s.io/kubernetes/cmd/kube-controller-manager
kube-scheduler              controlplane  k8s    -      k8s.io/kubernetes/cmd/kube-scheduler
kubectl                     controlplane  k8s    -      k8s.io/kubernetes/cmd/kubectl
minkube/etcd                controlplane-min plain -    go.etcd.io/etcd/server/v3
minkube/kube-apiserver      controlplane-min k8s   -    k8s.io/kubernetes/cmd/kube-apiserver
kubelet                     controlplane  k8s    -      k8s.io/kubernetes/cmd/kubelet
kube-proxy                  controlplane  k8s    -      k8s.io/kubernetes/cmd/kube-proxy
kwok                        kwok          plain  -      sigs.k8s.io/kwok/cmd/kwok
operator-sdk                operator-sdk  sdk    image  github.com/operator-framework/operator-sdk/cmd/operator-sdk
scorecard-test              operator-sdk  sdk    image  github.com/operator-framework/operator-sdk/images/scorecard-test
opm,olm/opm                 opm           plain  opm    github.com/operator-framework/operator-registry/cmd/opm
promtool                    prometheus    prom   prom   github.com/prometheus/prometheus/cmd/promtool
prometheus                  prometheus    prom   prom   github.com/prometheus/prometheus/cmd/prometheus
olm/olm                     olm           olm    -      github.com/operator-framework/operator-lifecycle-manager/cmd/olm
olm/catalog                 olm           olm    -      github.com/operator-framework/operator-lifecycle-manager/cmd/catalog
olm/package-server          olm           olm    -      github.com/operator-framework/operator-lifecycle-manager/cmd/package-server
olm/copy-content            olm           olm    -      github.com/operator-framework/operator-lifecycle-manager/cmd/copy-content
olm/cpb                     olm           olm    -      github.com/operator-framework/operator-lifecycle-manager/util/cpb
olm/grpc-health-probe,olm/grpc_health_probe olm plain - github.com/grpc-ecosystem/grpc-health-probe
olm/registry                registry      plain  -      github.com/distribution/distribution/v3/cmd/registry
olm/coredns                 coredns       plain  -      .
olm/gosh                    shell         plain  -      mvdan.cc/sh/v3/cmd/gosh
olm/cp                      shell         plain  -      github.com/u-root/u-root/cmds/core/cp
olm/cat                     shell         plain  -      github.com/u-root/u-root/cmds/core/cat
EOF
}

# modversion MODULE PATH prints the version MODULE's go.mod pins for PATH.
modversion() { (cd "$root/hack/tools/$1" && go list -m -f '{{.Version}}' "$2"); }

# ldflags SET MODULE prints the linker flags of a flags set.
ldflags() {
  local v major minor vpkg
  case $1 in
  plain) echo "-s -w" ;;
  k8s)
    # Stamp the version as Kubernetes' release build does: clients read it
    # from /version (OLM checks a CSV's minKubeVersion against it), and an
    # unstamped build reports v0.0.0.
    v=$(modversion "$2" k8s.io/kubernetes)
    major=${v#v}; major=${major%%.*}
    minor=${v#v*.}; minor=${minor%%.*}
    vpkg=k8s.io/component-base/version
    echo "-s -w -X $vpkg.gitVersion=$v -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean" ;;
  sdk)
    # operator-sdk stamps its version into the bundle it generates (the
    # operators.operatorframework.io.metrics.builder annotation), so set it
    # as its release build does; the Kubernetes version is the one its
    # Makefile names.
    v=$(modversion "$2" $sdkpkg)
    vpkg=$sdkpkg/internal/version
    echo "-s -w -X $vpkg.Version=$v -X $vpkg.GitVersion=$v -X $vpkg.ImageVersion=$v -X $vpkg.KubernetesVersion=v1.33.1" ;;
  olm) echo "-s -w -X $olmpkg/pkg/version.OLMVersion=$(modversion "$2" $olmpkg)" ;;
  prom)
    # Prometheus reports its version (prometheus --version, the build_info
    # metric) from the linker flags its release build sets; the version is
    # the one its module ships in VERSION.
    v=$(cat "$(cd "$root/hack/tools/$2" && go list -m -f '{{.Dir}}' github.com/prometheus/prometheus)/VERSION")
    vpkg=github.com/prometheus/common/version
    echo "-s -w -X $vpkg.Version=$v -X $vpkg.Branch=HEAD -X $vpkg.BuildUser=build-tools -X $vpkg.BuildDate=unknown" ;;
  lint)
    # golangci-lint's main package reads its version from the linker flags
    # (its release build sets them); without them it says "(devel)".
    v=$(modversion "$2" github.com/golangci/golangci-lint/v2)
    echo "-s -w -X main.version=${v#v} -X main.date=unknown" ;;
  *) echo "build-tools: unknown flags set '$1'" >&2; return 2 ;;
  esac
}

# tags SET prints the build tags of a tags set. image keeps the
# container-image libraries free of cgo (no gpgme, btrfs or devicemapper);
# opm adds json1, the tag its release build sets for its SQLite index
# format, which without cgo is compiled out (file-based catalogs do not
# use it). prom leaves out every service discovery but the file and HTTP
# ones (the tests scrape static targets on loopback), so the cloud
# providers' SDKs are not compiled; the web UI is not embedded either (no builtinassets tag), so
# Prometheus serves its API but no UI pages.
tags() {
  local image=containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper
  case $1 in
  -) echo "" ;;
  image) echo "$image" ;;
  opm) echo "json1,$image" ;;
  prom) echo "remove_all_sd" ;;
  *) echo "build-tools: unknown tags set '$1'" >&2; return 2 ;;
  esac
}

# pinned FILE prints when FILE (a go.mod) last changed: its last commit, or
# its modification time when it has uncommitted changes or no history.
# Commit time, not the file's, so a fresh checkout does not look newer
# than the tools already built.
pinned() {
  local t=
  if git -C "$root" diff --quiet HEAD -- "$1" 2>/dev/null; then
    t=$(git -C "$root" log -1 --format=%ct -- "$1" 2>/dev/null || true)
  fi
  [ -n "$t" ] && echo "$t" || stat -c %Y "$1"
}

# fresh OUTPUT MODULE: the output exists and was built after the pin.
fresh() {
  [ -x "$bindir/$1" ] && [ "$(stat -c %Y "$bindir/$1")" -ge "$(pinned "$root/hack/tools/$2/go.mod")" ]
}

# build OUTPUTS MODULE FLAGS TAGS PACKAGE
build() {
  local outs=$1 mod=$2 flagset=$3 tagset=$4 pkg=$5
  local -a names
  IFS=, read -r -a names <<<"$outs"
  local first=${names[0]} n stale=0
  for n in "${names[@]}"; do fresh "$n" "$mod" || stale=1; done
  [ $stale = 1 ] || return 0
  if ! fresh "$first" "$mod"; then
    local start lf tg
    start=$(date +%s)
    lf=$(ldflags "$flagset" "$mod")
    tg=$(tags "$tagset")
    echo "build-tools: building $first from $pkg (hack/tools/$mod; a first build takes minutes)"
    mkdir -p "$(dirname "$bindir/$first")"
    (cd "$root/hack/tools/$mod" && go build -trimpath -tags "$tg" -ldflags "$lf" -o "$bindir/$first.tmp" "$pkg")
    mv "$bindir/$first.tmp" "$bindir/$first"
    echo "build-tools: built $first in $(( $(date +%s) - start ))s"
  fi
  for n in "${names[@]:1}"; do
    if ! fresh "$n" "$mod" || [ "$bindir/$first" -nt "$bindir/$n" ]; then
      mkdir -p "$(dirname "$bindir/$n")"
      cp -p "$bindir/$first" "$bindir/$n.tmp" && mv "$bindir/$n.tmp" "$bindir/$n"
    fi
  done
}

# kwok needs its stage definitions (how simulated nodes and pods move
# through their life cycle); they ship in its module and are joined into
# one file.
kwok_stages() {
  [ -x "$bindir/kwok" ] && [ ! -f "$bindir/kwok-stages.yaml" ] || return 0
  local kwokdir f
  kwokdir=$(cd "$root/hack/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  for f in "$kwokdir"/kustomize/stage/node/fast/node-*.yaml \
           "$kwokdir"/kustomize/stage/node/heartbeat-with-lease/node-*.yaml \
           "$kwokdir"/kustomize/stage/pod/fast/pod-*.yaml; do
    echo "---"
    cat "$f"
  done >"$bindir/kwok-stages.yaml.tmp"
  mv "$bindir/kwok-stages.yaml.tmp" "$bindir/kwok-stages.yaml"
}

if [ $# -eq 0 ]; then
  echo "usage: hack/build-tools.sh NAME...   (an output of the table, or a directory such as olm)" >&2
  exit 2
fi
mkdir -p "$bindir"
for want in "$@"; do
  found=0
  while read -r -u 3 outs mod flagset tagset pkg; do
    case ,$outs, in
    *,"$want",* | *,"$want"/*) found=1; build "$outs" "$mod" "$flagset" "$tagset" "$pkg" ;;
    esac
  done 3< <(table)
  if [ $found = 0 ]; then
    echo "build-tools: unknown name '$want' (known: $(table | awk '{print $1}' | tr '\n' ' '))" >&2
    exit 2
  fi
done
kwok_stages

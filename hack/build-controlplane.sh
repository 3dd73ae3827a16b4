#!/usr/bin/env bash
# Builds the control-plane binaries that tests and the demo run (etcd,
# kube-apiserver, and on request kube-controller-manager, kube-scheduler,
# kubectl, and for the real node (tests/framework/realnode) kubelet and kube-proxy) from
# pinned sources through the Go module proxy into bin/.
# Prebuilt downloads (setup-envtest, release assets) are not used: every
# binary comes from the versions pinned in hack/tools/controlplane/go.mod.
#
# kwok (simulated nodes) is built from its own module, hack/tools/kwok, since
# it requires an older k8s.io line.
#
# Usage: hack/build-controlplane.sh [binary...]   (default: etcd kube-apiserver kubectl)
# A binary that is already in bin/ is not rebuilt; delete it to force a build.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bindir=${BIN_DIR:-$root/bin}
mod=$root/hack/tools/controlplane
mkdir -p "$bindir"

declare -A pkg=(
  [etcd]=go.etcd.io/etcd/server/v3
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [kubelet]=k8s.io/kubernetes/cmd/kubelet
  [kube-proxy]=k8s.io/kubernetes/cmd/kube-proxy
  [kwok]=sigs.k8s.io/kwok/cmd/kwok
)
declare -A module=(
  [kwok]=$root/hack/tools/kwok
)

# k8s_version_ldflags sets component-base's version variables to the
# pinned k8s.io/kubernetes version.
k8s_version_ldflags() {
  local v major minor vpkg=k8s.io/component-base/version
  v=$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  echo "-X $vpkg.gitVersion=$v -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(etcd kube-apiserver kubectl)

for name in "${targets[@]}"; do
  p=${pkg[$name]:-}
  if [ -z "$p" ]; then
    echo "build-controlplane: unknown binary '$name' (known: ${!pkg[*]})" >&2
    exit 2
  fi
  if [ -x "$bindir/$name" ]; then
    continue
  fi
  echo "build-controlplane: building $name from $p (first build takes several minutes)"
  start=$(date +%s)
  ldflags='-s -w'
  if [[ $p == k8s.io/kubernetes/* ]]; then
    # Stamp the version as Kubernetes' release build does: clients read it
    # from /version (OLM checks a CSV's minKubeVersion against it), and an
    # unstamped build reports v0.0.0.
    ldflags="$ldflags $(k8s_version_ldflags)"
  fi
  (cd "${module[$name]:-$mod}" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$bindir/$name.tmp" "$p")
  mv "$bindir/$name.tmp" "$bindir/$name"
  echo "build-controlplane: built $name in $(( $(date +%s) - start ))s"
done

# kwok needs its stage definitions (how simulated nodes and pods move through
# their life cycle); they ship in its module and are joined into one file.
if [ -x "$bindir/kwok" ] && [ ! -f "$bindir/kwok-stages.yaml" ]; then
  kwokdir=$(cd "$root/hack/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  {
    for f in "$kwokdir"/kustomize/stage/node/fast/node-*.yaml \
             "$kwokdir"/kustomize/stage/node/heartbeat-with-lease/node-*.yaml \
             "$kwokdir"/kustomize/stage/pod/fast/pod-*.yaml; do
      echo "---"
      cat "$f"
    done
  } > "$bindir/kwok-stages.yaml.tmp"
  mv "$bindir/kwok-stages.yaml.tmp" "$bindir/kwok-stages.yaml"
fi

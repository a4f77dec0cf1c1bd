#!/usr/bin/env bash
# Build the real control plane the tests run against, from Go modules:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok.
# The versions are pinned once, in tests/cluster/go/*/go.mod (with go.sum).
#
#   hack/control-plane-build.sh          build what is missing, print the bin directory
#   hack/control-plane-build.sh --path   print the bin directory, fail if it is not built
#
# Binaries live outside the work tree, keyed by the go.mod/go.sum contents and the Go version, so a
# fresh clone on the same machine (CI) reuses them; Go's module and build caches are Go's own
# (~/go/pkg/mod, ~/.cache/go-build). Override the location with MATIH_HELM_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
MODULES=tests/cluster/go
CACHE=${MATIH_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/matih-helm}/control-plane

if ! command -v go >/dev/null 2>&1; then
  echo "error: the real control plane is built with Go 1.26+, and 'go' is not on PATH (try /usr/local/go/bin)" >&2
  exit 1
fi
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

pinned() {  # pinned <module dir> <module path>: the version the go.mod requires
  awk -v m="$2" '$1 == "require" && $2 == m {print $3} $1 == m && $2 ~ /^v/ {print $2}' "$MODULES/$1/go.mod" | head -n 1
}
KUBERNETES_VERSION=$(pinned kubernetes k8s.io/kubernetes)
ETCD_VERSION=$(pinned etcd go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(pinned kwok sigs.k8s.io/kwok)
key=$( { go env GOVERSION; cat "$MODULES"/*/go.mod "$MODULES"/*/go.sum "$0"; } | sha256sum | cut -c1-12)
BIN=$CACHE/k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$key/bin

if [ "${1:-}" = --path ]; then
  if [ ! -f "$BIN/.complete" ]; then
    echo "error: the control plane is not built at $BIN; run 'make control-plane' (or hack/control-plane-build.sh)" >&2
    exit 1
  fi
  echo "$BIN"; exit 0
fi
if [ -f "$BIN/.complete" ]; then echo "$BIN"; exit 0; fi

work=$BIN.partial.$$
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
started=$SECONDS
build() {  # build <module dir> <ldflags> <package>...
  local dir=$1 ldflags=$2; shift 2
  echo "control-plane: building $* ($dir)" >&2
  (cd "$MODULES/$dir" && go build -trimpath -tags selinux,notest -ldflags "-s -w $ldflags" -o "$work/" "$@")
}
# Unstamped, /version says v0.0.0-master and Helm's kubeVersion checks see a wrong cluster.
minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  stamp+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=release-$KUBERNETES_VERSION"
done
build etcd "" go.etcd.io/etcd/server/v3
mv "$work/server" "$work/etcd"  # the main package of go.etcd.io/etcd/server/v3 builds as "server"
build kubernetes "$stamp" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
build kwok "" sigs.k8s.io/kwok/cmd/kwok

got=$("$work/kube-apiserver" --version)
if [ "$got" != "Kubernetes $KUBERNETES_VERSION" ]; then
  echo "error: kube-apiserver reports '$got', expected 'Kubernetes $KUBERNETES_VERSION'" >&2; exit 1
fi
touch "$work/.complete"
mkdir -p "$(dirname "$BIN")"
rm -rf "$BIN"
mv "$work" "$BIN"
trap - EXIT
echo "control-plane: built in $((SECONDS - started)) s: $(du -sh "$BIN" | cut -f1) in $BIN" >&2
echo "$BIN"

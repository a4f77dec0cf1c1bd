#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for a person or a script:
#   hack/cluster.sh up DIR     build it if needed, start it, print the admin kubeconfig's path
#   hack/cluster.sh down DIR   stop it (DIR keeps the certificates and etcd's data: 'up' again restarts it)
# DIR/token.kubeconfig authenticates with a bearer token instead; DIR/logs has every component's log.
set -euo pipefail
if [ $# -ne 2 ] || { [ "$1" != up ] && [ "$1" != down ]; }; then
  echo "usage: $0 up|down DIR" >&2; exit 2
fi
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "error: no .venv; run 'make bootstrap' first" >&2; exit 1
fi
if [ "$action" = up ]; then
  MATIH_CONTROL_PLANE_BIN=$(hack/control-plane-build.sh)
  export MATIH_CONTROL_PLANE_BIN
fi
exec .venv/bin/python tests/cluster/controlplane.py "$action" "$dir"

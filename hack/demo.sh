#!/usr/bin/env bash
# make demo: run the main job (fleet remediation) against the embedded test cluster
# (MATIH_DEMO_CLUSTER=controlplane: against the real control plane instead).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tree=$(hack/collection-tree.sh)
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${tree%/ansible_collections/matih/helm}:$root/.cache/collections"
export ANSIBLE_LOCAL_TEMP="$root/.cache/ansible-tmp"
# The emulator starts at once; the real control plane is built on first use (minutes, then cached).
if [ "${MATIH_DEMO_CLUSTER:-emulator}" = controlplane ] || [[ " $* " == *" --cluster controlplane "* ]]; then
  MATIH_CONTROL_PLANE_BIN=$(hack/control-plane-build.sh)
  export MATIH_CONTROL_PLANE_BIN
fi
cd tests/testbed
exec python demo.py "$@"

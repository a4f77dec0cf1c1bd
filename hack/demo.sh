#!/usr/bin/env bash
# make demo: run the main job (fleet remediation) against the embedded test cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tree=$(hack/collection-tree.sh)
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${tree%/ansible_collections/matih/helm}:$root/.cache/collections"
export ANSIBLE_LOCAL_TEMP="$root/.cache/ansible-tmp"
cd tests/testbed
exec python demo.py "$@"

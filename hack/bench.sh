#!/usr/bin/env bash
# Benchmark the matih.helm modules against bare Helm 3 and 4 on the test bed's emulator:
# hack/bench.sh [--quick] [--helm 3|4|both] [--only a,b,c] ... (see tests/bench/bench.py --help).
# Not part of make test; results go to .cache/bench/bench.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
TREE=$(hack/collection-tree.sh)
# The mirror is .../ansible_collections/matih/helm: the collections root is three levels up.
ANSIBLE_COLLECTIONS_PATH="$(dirname "$(dirname "$(dirname "$TREE")")"):$ROOT/.cache/collections"
export ANSIBLE_COLLECTIONS_PATH ANSIBLE_LOCAL_TEMP=$ROOT/.cache/ansible-tmp ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
exec python tests/bench/bench.py "$@"

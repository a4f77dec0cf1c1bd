#!/usr/bin/env bash
# Run ansible-test on a fresh mirror of the collection: hack/ansible-test.sh sanity|units [args...]
# Uses the project venv (--local: --venv would download get-pip, which cannot work offline).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${MATIH_VENV:-$here/.venv}
tree=$("$here/hack/collection-tree.sh")
cd "$tree"
export PATH="$venv/bin:$PATH"
pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
command=$1; shift
exec "$venv/bin/ansible-test" "$command" --local --python "$pyver" --color no "$@"

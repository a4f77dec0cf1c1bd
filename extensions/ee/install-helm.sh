#!/bin/sh
# Install Helm $HELM_VERSION into <dir> (default /usr/local/bin), the execution environment's
# build step: download helm-v$HELM_VERSION-linux-<arch>.tar.gz from $HELM_BASE_URL for this
# machine's architecture and refuse it unless its sha256 is $HELM_SHA256_AMD64 or
# $HELM_SHA256_ARM64. The values come from the ARGs of execution-environment.yml.
set -eu
dest=${1:-/usr/local/bin}
: "${HELM_VERSION:?set HELM_VERSION}"
case $(uname -m) in
  x86_64) arch=amd64 arg=HELM_SHA256_AMD64 sha256=${HELM_SHA256_AMD64:-} ;;
  aarch64 | arm64) arch=arm64 arg=HELM_SHA256_ARM64 sha256=${HELM_SHA256_ARM64:-} ;;
  *) echo "install-helm: no Helm sha256 is pinned for $(uname -m) (amd64 and arm64 are)" >&2; exit 1 ;;
esac
if [ -z "$sha256" ]; then
  echo "install-helm: the sha256 of Helm $HELM_VERSION for linux-$arch is empty; set --build-arg $arg" >&2
  exit 1
fi
archive=helm-v$HELM_VERSION-linux-$arch.tar.gz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 3 -o "$work/$archive" "${HELM_BASE_URL:-https://get.helm.sh}/$archive"
# a mismatch fails the build here, before anything is unpacked
(cd "$work" && echo "$sha256  $archive" | sha256sum -c -)
tar -xzf "$work/$archive" -C "$work" "linux-$arch/helm"
install -m 0755 "$work/linux-$arch/helm" "$dest/helm"
reported=$("$dest/helm" version --template '{{.Version}}')
if [ "$reported" != "v$HELM_VERSION" ]; then
  echo "install-helm: the installed Helm reports $reported, expected v$HELM_VERSION" >&2
  exit 1
fi
echo "install-helm: Helm $reported (linux-$arch, sha256 $sha256) in $dest"

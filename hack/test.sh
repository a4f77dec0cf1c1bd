#!/usr/bin/env bash
# Every quality gate of matih.helm, in one run: hack/test.sh [gate ...] (default: all gates).
# Expects hack/bootstrap.sh to have run (make does that).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
VENV=$ROOT/.venv
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH
TREE=$(hack/collection-tree.sh) || exit 1
ANSIBLE_COLLECTIONS_PATH="$(dirname "$(dirname "$(dirname "$TREE")")"):$ROOT/.cache/collections"
export ANSIBLE_LOCAL_TEMP=$ROOT/.cache/ansible-tmp ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
JOBS=${MATIH_TEST_JOBS:-$(nproc)}
# The integration tests and molecule run on the real control plane (one per pytest worker); the
# test bed's own tests run on the emulator they test. A missing build fails, it never falls back.
MATIH_CONTROL_PLANE_BIN=$(hack/control-plane-build.sh --path) || exit 1
export MATIH_CONTROL_PLANE_BIN

gate_sanity()   { hack/ansible-test.sh sanity; }
gate_units()    { hack/ansible-test.sh units --num-workers "$JOBS"; }
gate_oldest() {
  if [ ! -x "$ROOT/.venv-oldest/bin/ansible-test" ]; then echo "oldest: skipped, no Python 3.11 venv (see bootstrap)"; return 0; fi
  MATIH_VENV=$ROOT/.venv-oldest hack/ansible-test.sh units --num-workers "$JOBS" &&
    MATIH_VENV=$ROOT/.venv-oldest hack/ansible-test.sh sanity
}
gate_changelog() { antsibull-changelog lint; }
gate_lint()     { ansible-lint --profile production --offline; }
gate_testbed()  { MATIH_TEST_CLUSTER=emulator python -m pytest -q -p no:cacheprovider -n "$JOBS" tests/testbed; }
# the control plane's launcher and fault proxy, and the test bed's Helm scenarios on the real control plane
gate_cluster()  { MATIH_TEST_CLUSTER=controlplane python -m pytest -q -p no:cacheprovider -n "$JOBS" tests/cluster tests/testbed/test_helm_on_testbed.py; }
gate_integration() { MATIH_TEST_CLUSTER=controlplane python -m pytest -q -p no:cacheprovider -n "$JOBS" tests/integration; }
# the roles on the oldest ansible-core they support (2.16, AAP's execution environments): every
# recovery path and the fleets, on Helm 3
gate_roles_oldest() {
  if [ ! -x "$ROOT/.venv-oldest/bin/ansible-playbook" ]; then echo "roles_oldest: skipped, no Python 3.11 venv (see bootstrap)"; return 0; fi
  "$ROOT/.venv-oldest/bin/ansible-playbook" --version | head -1
  MATIH_TEST_ANSIBLE_BIN=$ROOT/.venv-oldest/bin MATIH_TEST_CLUSTER=controlplane python -m pytest -q -p no:cacheprovider -n "$JOBS" \
    -k helm3 tests/integration/test_release_recovery.py tests/integration/test_fleet_remediation.py
}
# on each version of the Helm matrix (hack/helm-matrix.sh): every flag the Helm client emits exists
# (a unit test), then the smoke tests (marker helm_matrix) on the real control plane
gate_helm_matrix() {
  local binaries matrix
  binaries=$(hack/helm-matrix.sh --path) || return 1
  matrix=$(awk '{printf "%s=%s ", $1, $2}' <<<"$binaries")
  MATIH_HELM_MATRIX=$matrix PYTHONPATH=$(dirname "$(dirname "$(dirname "$TREE")")") \
    python -m pytest -q -p no:cacheprovider "$TREE/tests/unit/plugins/module_utils/test_helm_client.py" -k emitted_flag &&
    MATIH_HELM_MATRIX=$matrix MATIH_TEST_CLUSTER=controlplane \
      python -m pytest -q -p no:cacheprovider -n "$JOBS" -m helm_matrix tests/integration
}
gate_molecule() {
  # every scenario on the real control plane, once per Helm major
  local scenario helm status=0
  for helm in "$ROOT/.cache/helm/v3.17.3/helm" "$ROOT/.cache/helm/v4.3.1/helm"; do
    for scenario in extensions/molecule/*/molecule.yml; do
      [ -e "$scenario" ] || continue
      scenario=$(basename "$(dirname "$scenario")")
      echo "--> molecule $scenario on $("$helm" version --short)"
      (cd extensions && MATIH_HELM=$helm molecule test -s "$scenario") || status=1
    done
  done
  return $status
}
gate_build() {
  local out; out=$(mktemp -d)
  ansible-galaxy collection build --force --output-path "$out" . >/dev/null &&
    ansible-galaxy collection install --force --no-deps -p "$out/installed" "$out"/matih-helm-*.tar.gz >/dev/null &&
    test -f "$out/installed/ansible_collections/matih/helm/MANIFEST.json" &&
    tar -tzf "$out"/matih-helm-*.tar.gz | grep -x 'LICENSES/GPL-3.0-or-later.txt' >/dev/null &&
    grep -q 'Version 3, 29 June 2007' "$out/installed/ansible_collections/matih/helm/LICENSES/GPL-3.0-or-later.txt" &&
    ! tar -tzf "$out"/matih-helm-*.tar.gz | grep -E '(^|/)(\.venv|\.cache|tests/output|tests/testbed|tests/cluster|\.ansible)/' &&
    echo "build: $(basename "$out"/matih-helm-*.tar.gz) builds and installs cleanly"
  local rc=$?; rm -rf "$out"; return $rc
}

ALL=(changelog build sanity units oldest lint testbed cluster integration helm_matrix roles_oldest molecule)
gates=("$@"); [ ${#gates[@]} -gt 0 ] || gates=("${ALL[@]}")
declare -a results
failed=0
start_all=$(date +%s)
for gate in "${gates[@]}"; do
  if ! declare -F "gate_$gate" >/dev/null; then echo "unknown gate: $gate (known: ${ALL[*]})" >&2; exit 2; fi
  echo "==> $gate"
  start=$(date +%s)
  if "gate_$gate"; then outcome=ok; else outcome=FAILED; failed=$((failed + 1)); fi
  results+=("$(printf '%-12s %-6s %4ss' "$gate" "$outcome" $(( $(date +%s) - start )))")
done
echo "==> summary ($(( $(date +%s) - start_all ))s)"
printf '    %s\n' "${results[@]}"
echo "$(( ${#gates[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]

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
# antsibull-docs on the modules, filters and role argument_specs: schema, markup, every reference to this
# collection, its dependencies and ansible.builtin (unknown collections refused), rstcheck of the generated
# RST; then the RETURN rules it does not check (hack/check-return-docs.py)
gate_docs() {
  antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all \
    --disallow-unknown-collection-refs "$TREE" &&
    echo "docs: antsibull-docs lint-collection-docs --plugin-docs found nothing" &&
    python hack/check-return-docs.py "$TREE"
}
# galaxy-importer, the checks Galaxy and Automation Hub run on an upload, on the built tarball: ansible-doc
# on every plugin, flake8, ansible-lint (production), the metadata, changelog and tags (hack/galaxy-importer.cfg;
# ansible-test needs a container engine there, the sanity gate runs it). Any WARNING or ERROR fails the gate.
# Its own venv, made on first use: galaxy-importer needs attrs<24, which constraints-dev.txt cannot meet.
gate_importer() {
  local venv=$ROOT/.cache/venv-importer out rc findings files
  local want; want=$(cat hack/importer-requirements.txt hack/importer-constraints.txt | sha256sum | cut -c1-16)
  if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]; then
    echo "importer: creating $venv"
    rm -rf "$venv" && python -m venv "$venv" &&
      "$venv/bin/pip" install --quiet --disable-pip-version-check -r hack/importer-requirements.txt \
        -c hack/importer-constraints.txt 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2) &&
      echo "$want" > "$venv/.stamp" || return 1
  fi
  out=$(mktemp -d)
  ansible-galaxy collection build --force --output-path "$out" . >/dev/null || { rm -rf "$out"; return 1; }
  # kubernetes.core, a dependency in galaxy.yml, on sys.path (where ansible finds collections too): the importer
  # points ANSIBLE_COLLECTIONS_PATH at the upload only, which would leave release_deploy's tasks unresolved
  (cd "$out" && env -u ANSIBLE_COLLECTIONS_PATH PATH="$venv/bin:$PATH" PYTHONPATH="$ROOT/.cache/collections" \
    GALAXY_IMPORTER_CONFIG="$ROOT/hack/galaxy-importer.cfg" ANSIBLE_LOCAL_TEMP="$out/tmp" \
    "$venv/bin/python" -m galaxy_importer.main "$out"/matih-helm-*.tar.gz) >"$out/log" 2>&1
  rc=$?
  # Not ours to fix, so allowed: galaxy-importer gives ansible-lint ANSIBLE_COLLECTIONS_PATH=<tmp>/ansible_collections,
  # under which ansible-lint cannot resolve import_playbook matih.helm.<name> (only for playbooks the tarball has),
  # and its flake8 reads the YAML documentation of filter plugins (plugins/filter/*.yml) as Python
  files=$(tar -tzf "$out"/matih-helm-*.tar.gz)
  findings=$(grep -E '^(WARNING|ERROR)' "$out/log" | while IFS= read -r line; do
    if [[ $line =~ ^WARNING:\ ERROR\ +Failed\ to\ find\ matih\.helm\.([a-z_]+)\ playbook\.$ ]] &&
      grep -qx "playbooks/${BASH_REMATCH[1]}.yml" <<<"$files"; then continue; fi
    [[ $line =~ ^WARNING:\ plugins/filter/[a-z_]+\.yml:[0-9]+:[0-9]+:\ E999\ SyntaxError: ]] && continue
    echo "$line"
  done)
  if [ $rc -ne 0 ] || [ -n "$findings" ] || ! grep -q '^Importer processing completed successfully' "$out/log"; then
    echo "importer: galaxy-importer $(grep -m1 -o 'galaxy-importer [0-9.]*' "$out/log" | cut -d' ' -f2) (exit $rc) reports:"
    if [ -n "$findings" ]; then echo "$findings"; else tail -20 "$out/log"; fi
    rm -rf "$out"; return 1
  fi
  echo "importer: $(basename "$out"/matih-helm-*.tar.gz) imports cleanly ($(grep -c '^Loading ' "$out/log") contents loaded)"
  rm -rf "$out"
}
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
# the collection's meta/execution-environment.yml as ansible-builder introspects it, and the sample
# EE (extensions/ee) through `ansible-builder create` and its Containerfile; no container engine
gate_ee()       { python hack/ee-check.py; }

ALL=(changelog docs importer build ee sanity units oldest lint testbed cluster integration helm_matrix roles_oldest molecule)
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

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
# --durations: the slowest tests of every gate, to see where time goes (MATIH_TEST_DURATIONS=0 and
# MATIH_TEST_DURATIONS_MIN=0 list them all)
PYTEST_ARGS=(-q -p no:cacheprovider --durations="${MATIH_TEST_DURATIONS:-10}"
  --durations-min="${MATIH_TEST_DURATIONS_MIN:-5}")
PYTEST_GATE_ARGS=("${PYTEST_ARGS[@]}" -n "$JOBS")
# The control plane gates spend much of their time in Helm waits (a third of the CPU idle with one
# worker per core), so they run one worker more than there are cores, each with its control plane.
CLUSTER_JOBS=${MATIH_TEST_CLUSTER_JOBS:-$(( JOBS + 1 ))}
PYTEST_CLUSTER_ARGS=("${PYTEST_ARGS[@]}" -n "$CLUSTER_JOBS")
# The integration tests and molecule run on the real control plane (one per pytest worker); the
# test bed's own tests run on the emulator they test. A missing build fails, it never falls back.
MATIH_CONTROL_PLANE_BIN=$(hack/control-plane-build.sh --path) || exit 1
export MATIH_CONTROL_PLANE_BIN

gate_sanity()   { hack/ansible-test.sh sanity; }
gate_units()    { hack/ansible-test.sh units --num-workers "$JOBS"; }
# a mirror of its own, so that it can run beside the sanity gate (ansible-test writes tests/output there)
gate_oldest() {
  if [ ! -x "$ROOT/.venv-oldest/bin/ansible-test" ]; then echo "oldest: skipped, no Python 3.11 venv (see bootstrap)"; return 0; fi
  local root=${XDG_CACHE_HOME:-$HOME/.cache}/matih.helm-tree-oldest
  MATIH_COLLECTION_ROOT=$root MATIH_VENV=$ROOT/.venv-oldest hack/ansible-test.sh units --num-workers "$JOBS" &&
    MATIH_COLLECTION_ROOT=$root MATIH_VENV=$ROOT/.venv-oldest hack/ansible-test.sh sanity
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
  # XDG_CACHE_HOME and ANSIBLE_HOME of its own: an offline ansible-lint writes its mock modules (awx.awx.*) under
  # $ANSIBLE_HOME/ansible-lint-mocks and deletes them when it exits, under the lint gate running in the other lane
  # (CI's lint gate then failed: a run lost awx.awx.credential_type that way, another the whole gate)
  (cd "$out" && env -u ANSIBLE_COLLECTIONS_PATH PATH="$venv/bin:$PATH" PYTHONPATH="$ROOT/.cache/collections" \
    GALAXY_IMPORTER_CONFIG="$ROOT/hack/galaxy-importer.cfg" ANSIBLE_LOCAL_TEMP="$out/tmp" XDG_CACHE_HOME="$out/cache" \
    ANSIBLE_HOME="$out/ansible-home" \
    "$venv/bin/python" -m galaxy_importer.main "$out"/matih-helm-*.tar.gz) >"$out/log" 2>&1
  rc=$?
  # Not ours to fix, so allowed: galaxy-importer gives ansible-lint ANSIBLE_COLLECTIONS_PATH=<tmp>/ansible_collections,
  # under which ansible-lint cannot resolve import_playbook matih.helm.<name> (only for playbooks the tarball has),
  # its flake8 reads the YAML documentation of filter plugins (plugins/filter/*.yml) as Python, and awx.awx's
  # modules are mocks (.ansible-lint), which its ansible-lint did not always load
  files=$(tar -tzf "$out"/matih-helm-*.tar.gz)
  findings=$(grep -E '^(WARNING|ERROR)' "$out/log" | while IFS= read -r line; do
    if [[ $line =~ ^WARNING:\ ERROR\ +Failed\ to\ find\ matih\.helm\.([a-z_]+)\ playbook\.$ ]] &&
      grep -qx "playbooks/${BASH_REMATCH[1]}.yml" <<<"$files"; then continue; fi
    [[ $line =~ ^WARNING:\ plugins/filter/[a-z_]+\.yml:[0-9]+:[0-9]+:\ E999\ SyntaxError: ]] && continue
    # awx.awx is not installed here: .ansible-lint mocks its modules, which the lint gate checks with; the
    # importer's ansible-lint once ran without the mocks
    [[ $line =~ ^WARNING:\ extensions/awx/[a-z_]+\.yml:[0-9]+:[0-9]+:\ syntax-check\[unknown-module\]:\ couldn\'t\ resolve\ module/action\ \'awx\.awx\.[a-z_]+\' ]] && continue
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
# an ANSIBLE_HOME of its own, for the same reason as the importer's (its mock modules)
gate_lint()     { ANSIBLE_HOME=$ROOT/.cache/ansible-lint-home ansible-lint --profile production --offline; }
gate_testbed()  { MATIH_TEST_CLUSTER=emulator python -m pytest "${PYTEST_GATE_ARGS[@]}" tests/testbed; }
# the control plane's launcher and fault proxy, and the test bed's Helm scenarios on the real control plane
gate_cluster()  { MATIH_TEST_CLUSTER=controlplane python -m pytest "${PYTEST_CLUSTER_ARGS[@]}" tests/cluster tests/testbed/test_helm_on_testbed.py; }
# which tests run on both Helm majors and which on one: tests/integration/helm_majors.py. The Helm 3
# runs of the role files are roles_oldest's (ROLE_FILES below: every test of them on Helm 3, with the
# oldest ansible-core), so this gate runs those files on Helm 4 only
ROLE_FILES=(test_release_recovery.py test_fleet_remediation.py)
gate_integration() {
  local files=${ROLE_FILES[*]}
  MATIH_TEST_CLUSTER=controlplane python -m pytest "${PYTEST_CLUSTER_ARGS[@]}" tests/integration \
    -k "not (helm3 and (${files// / or }))"
}
# the roles on the oldest ansible-core they support (2.16, AAP's execution environments): every
# recovery path and the fleets, on Helm 3
# (these are also the only Helm 3 runs of the role tests helm_majors.py runs once: without the
# oldest venv they run on Helm 3 with the main ansible-core, so Helm 3 keeps its coverage)
gate_roles_oldest() {
  local bin=$ROOT/.venv-oldest/bin
  if [ ! -x "$bin/ansible-playbook" ]; then
    echo "roles_oldest: WARNING: no Python 3.11 venv (see bootstrap): the role tests run on Helm 3 with the main ansible-core"
    bin=$VENV/bin
  fi
  "$bin/ansible-playbook" --version | head -1
  MATIH_TEST_ANSIBLE_BIN=$bin MATIH_TEST_HELM=helm3 MATIH_TEST_CLUSTER=controlplane \
    python -m pytest "${PYTEST_CLUSTER_ARGS[@]}" "${ROLE_FILES[@]/#/tests/integration/}"
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
      python -m pytest "${PYTEST_CLUSTER_ARGS[@]}" -m helm_matrix tests/integration
}
# every scenario on the real control plane, on Helm 4 (the roles' Helm 3 runs are roles_oldest's), the
# scenarios side by side (each starts a control plane of its own and mostly waits on it), each with its
# own molecule state; a scenario's output is shown when all are done, with its time
MOLECULE_HELM=v4.3.1
molecule_scenario() {  # molecule_scenario SCENARIO HELM STATE-DIR
  local scenario=$1 helm=$2 state=$3 start status=0
  start=$(date +%s)
  echo "--> molecule $scenario on $("$helm" version --short)"
  (cd extensions && MATIH_HELM=$helm MOLECULE_EPHEMERAL_DIRECTORY=$state/$scenario molecule test -s "$scenario") || status=1
  echo "<-- molecule $scenario: $(( $(date +%s) - start ))s"
  return $status
}
gate_molecule() {
  # state outside the work tree, the same each run: a scenario's first step (destroy) stops a
  # control plane an interrupted run left behind
  local state=${XDG_CACHE_HOME:-$HOME/.cache}/matih.helm-molecule status=0 scenario pid pids=() scenarios=()
  mkdir -p "$state"
  for scenario in extensions/molecule/*/molecule.yml; do
    [ -e "$scenario" ] || continue
    scenario=$(basename "$(dirname "$scenario")")
    scenarios+=("$scenario")
    molecule_scenario "$scenario" "$ROOT/.cache/helm/$MOLECULE_HELM/helm" "$state" >"$state/$scenario.log" 2>&1 &
    pids+=($!)
  done
  [ ${#scenarios[@]} -gt 0 ] || { echo "molecule: no scenario in extensions/molecule"; return 1; }
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  for scenario in "${scenarios[@]}"; do cat "$state/$scenario.log"; done
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

# make check, the loop for every edit: what the change touched, in at most five minutes
gate_sanity_changed() {
  local base changed files=()
  # the change: commits not on main (on another branch) plus what is not committed yet
  base=${MATIH_CHECK_BASE:-$(if [ "$(git rev-parse --abbrev-ref HEAD)" = main ]; then echo HEAD; else git merge-base HEAD main; fi)} ||
    base=
  if [ -z "$base" ] || ! changed=$(git diff --name-only "$base"); then
    echo "sanity_changed: cannot tell what changed (no merge base with main); set MATIH_CHECK_BASE to a commit" >&2
    return 1
  fi
  mapfile -t files < <({ echo "$changed"; git ls-files --others --exclude-standard; } | sort -u |
    while IFS= read -r file; do [ -n "$file" ] && [ -f "$file" ] && echo "$file"; done)
  if [ ${#files[@]} -eq 0 ]; then echo "sanity_changed: no file changed since $base"; return 0; fi
  echo "sanity_changed: ${#files[@]} file(s) changed since $base"
  hack/ansible-test.sh sanity "${files[@]}"
}
# one integration target on each Helm major (MATIH_CHECK_TARGET, default helm_release_rollback)
gate_smoke() {
  MATIH_TEST_HELM=both MATIH_TEST_CLUSTER=controlplane python -m pytest "${PYTEST_CLUSTER_ARGS[@]}" \
    tests/integration/test_targets.py -k "${MATIH_CHECK_TARGET:-helm_release_rollback}"
}

ALL=(changelog docs importer build ee sanity units oldest lint testbed cluster integration helm_matrix roles_oldest molecule)
CHECK=(units lint sanity_changed smoke)
# Budgets in seconds, for an idle 2-core machine with the control plane and the Helm versions built
# (make builds them first, outside the gates). Over budget is said loudly, never a failure: the
# machine's speed drifts, so a timed assertion would fail for the wrong reason.
BUDGET_ALL=$((35 * 60))
BUDGET_CHECK=$((5 * 60))
# Gates that only read the tree, most on one core; a whole run splits them in two lanes that run side
# by side (about four minutes instead of eight), each gate's output held until both lanes end. What
# reads the collection mirror shares a lane with sanity and units, which write tests/output there;
# oldest has a mirror of its own.
LANE_A=(sanity units docs importer)
LANE_B=(oldest changelog build ee lint)

# each gate's outcome, and the output of the gates that ran in lanes (kept after the run)
SUMMARY=$ROOT/.cache/test-logs
rm -rf "$SUMMARY" && mkdir -p "$SUMMARY"
run_gate() {  # run_gate GATE [LOG]: run it and write "GATE OUTCOME SECONDS" to $SUMMARY/GATE; with LOG, its output goes there
  local gate=$1 log=${2:-} start outcome
  start=$(date +%s)
  if [ -n "$log" ]; then
    if "gate_$gate" >"$log" 2>&1; then outcome=ok; else outcome=FAILED; fi
  else
    echo "==> $gate"
    if "gate_$gate"; then outcome=ok; else outcome=FAILED; fi
  fi
  echo "$gate $outcome $(( $(date +%s) - start ))" > "$SUMMARY/$gate"
}
run_lane() {  # run_lane GATE...: the gates one after the other, output held in $SUMMARY/GATE.log
  local gate
  for gate in "$@"; do run_gate "$gate" "$SUMMARY/$gate.log"; done
}

gates=("$@"); [ ${#gates[@]} -gt 0 ] || gates=("${ALL[@]}")
for gate in "${gates[@]}"; do
  if ! declare -F "gate_$gate" >/dev/null; then echo "unknown gate: $gate (known: ${ALL[*]} sanity_changed smoke)" >&2; exit 2; fi
done
order=("${gates[@]}")
budget=
if [ "${gates[*]}" = "${ALL[*]}" ]; then budget=$BUDGET_ALL; elif [ "${gates[*]}" = "${CHECK[*]}" ]; then budget=$BUDGET_CHECK; fi
start_all=$(date +%s)
if [ "${gates[*]}" = "${ALL[*]}" ] && [ "${MATIH_TEST_LANES:-2}" -ge 2 ]; then
  echo "==> ${LANE_A[*]} | ${LANE_B[*]}: two lanes side by side, each gate's output when both lanes are done"
  run_lane "${LANE_A[@]}" & lane_a=$!
  run_lane "${LANE_B[@]}" & lane_b=$!
  wait "$lane_a" "$lane_b"
  for gate in "${LANE_A[@]}" "${LANE_B[@]}"; do
    echo "==> $gate"; cat "$SUMMARY/$gate.log"
  done
  gates=()
  for gate in "${ALL[@]}"; do
    [[ " ${LANE_A[*]} ${LANE_B[*]} " == *" $gate "* ]] || gates+=("$gate")
  done
  order=("${LANE_A[@]}" "${LANE_B[@]}" "${gates[@]}")
fi
for gate in "${gates[@]}"; do run_gate "$gate"; done
total=$(( $(date +%s) - start_all ))
failed=0
echo "==> summary (${total}s)"
for gate in "${order[@]}"; do
  name=$gate outcome=MISSING seconds=-
  [ -f "$SUMMARY/$gate" ] && read -r name outcome seconds < "$SUMMARY/$gate"
  printf '    %-14s %-7s %4ss\n' "$name" "$outcome" "$seconds"
  [ "$outcome" = ok ] || failed=$((failed + 1))
done
echo "$(( ${#order[@]} - failed )) passed, $failed failed"
if [ -n "$budget" ]; then
  if [ "$total" -le "$budget" ]; then
    echo "time: ${total}s of a ${budget}s budget ($(( total * 100 / budget ))%)"
  else
    echo "!!! OVER BUDGET: ${total}s against a budget of ${budget}s ($(( total * 100 / budget ))%)."
    echo "!!! The slowest tests of each gate are listed above ('slowest durations'); README, Development, says how to pay for new ones."
  fi
fi
[ "$failed" -eq 0 ]

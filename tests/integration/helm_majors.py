"""Which integration tests run on both Helm majors, and why: the one place the suite reads it.

A test whose outcome depends on the Helm major (the argv the modules build per major, the records
each Helm writes, the words of each Helm's errors, how each Helm waits, lists, dry-runs or races)
runs on Helm 3 and on Helm 4. Every other test that takes ``helm_binary`` runs once, on
``ONE_MAJOR``: what it proves is Ansible's side (validation before any Helm call, no_log,
set_stats, module_defaults, report files, the AWX job's shape) or a major-dependent path that a
test listed here already proves on both. Helm 4 is the one major because it is the current one
and its waiter reacts to events instead of polling every two seconds.

Keys are ``FILE::FUNCTION`` (every parameter set) or ``FILE::FUNCTION[PARAMS]`` (one parameter set,
its id without the Helm part). ``MATIH_TEST_HELM`` overrides the policy for a run: ``both`` runs
every test on both majors, ``helm3`` or ``helm4`` runs every test once on that major (the
``roles_oldest`` gate runs the role files on Helm 3 this way, and the ``integration`` gate then runs
those files on Helm 4 only: ``ROLE_FILES`` in hack/test.sh). The Helm version matrix
(``MATIH_HELM_MATRIX``) is not affected: its smoke tests run on every version it names.
"""

import os
import re

HELM_IDS = ("helm3", "helm4")
ONE_MAJOR = "helm4"
POLICIES = ("policy", "both") + HELM_IDS

_ARGV = "the argv helm_client builds differs per major (--wait or --wait=watcher, --dry-run or --dry-run=server)"
_RECORDS = "the records each Helm writes differ (Helm 4.3 keeps a failed rollback's rollback_revision)"
_ERRORS = "error_kind comes from each Helm's own error text, worded differently per major"

BOTH_MAJORS = {
    # the module targets: every path of history, rollback and drift against what each Helm wrote
    "test_targets.py::test_target[helm_release_history]": _RECORDS + "; records read against helm history",
    "test_targets.py::test_target[helm_release_rollback]": _ARGV + "; pending and failed rollbacks",
    "test_targets.py::test_target[helm_release_drift]":
        "live objects after Helm 3's three-way merge differ from Helm 4's server-side apply; repair uses --force-conflicts on 4",
    # bad input that reaches Helm or the records it wrote
    "test_bad_input.py::test_playbook_output_has_no_traceback": "screens each Helm's output of the major-dependent cases",
    "test_bad_input.py::test_bad_input[api-server-unreachable]": _ERRORS + " (cluster unreachable)",
    "test_bad_input.py::test_bad_input[api-server-unreachable-history]": _ERRORS + " (cluster unreachable)",
    "test_bad_input.py::test_bad_input[wrong-namespace]": _ERRORS + " (release: not found)",
    "test_bad_input.py::test_bad_input[corrupt-release-history]": _ERRORS + " (each Helm's panic on a corrupt record)",
    "test_bad_input.py::test_bad_input[corrupt-release-rollback]": _ERRORS + " (each Helm's panic on a corrupt record)",
    "test_bad_input.py::test_bad_input[revision-beyond-history]": "refused on a history each Helm wrote",
    "test_bad_input.py::test_bad_input[revision-pruned]": "refused on a history each Helm pruned (--history-max)",
    "test_bad_input.py::test_bad_input[revision-failed-target]": "refused on failed revisions each Helm wrote",
    "test_bad_input.py::test_bad_input[last-successful-all-failed]": "refused on failed revisions each Helm wrote",
    # races and faults: how each Helm meets them. Once, because the module meets them before Helm runs: two
    # of our own rollbacks (the lease), an API server down before the rollback (the lease's request), 429 on
    # the target's objects and their refusal by admission (the preflight's dry runs), and a fleet whose
    # revisions cannot be stored (the words of a 503 are client-go's, the same in both majors;
    # test_helm_client.py classifies them)
    "test_concurrency.py::test_upgrade_racing_a_rollback": "whether each Helm's upgrade refuses a pending rollback",
    "test_concurrency.py::test_a_taken_revision_number_stops_helm": _ERRORS + " (revision_taken)",
    "test_faults.py::test_api_server_down_while_helm_waits": "each Helm's waiter meets the outage differently (pending-rollback or failed)",
    "test_faults.py::test_api_errors_for_a_while[500_on_creating_the_revision]": "how each Helm reports a 500 and which revision it leaves",
    "test_faults.py::test_api_errors_for_a_while[500_on_reading_the_history]": "how each Helm's history reports a 500",
    "test_faults.py::test_wait_times_out": _ERRORS + " (the two waiters word a timeout differently)",
    "test_faults.py::test_killed_mid_rollback_leaves_pending_rollback": "the pending-rollback record each Helm leaves, freed through Helm",
    # credentials: a version-gated flag
    "test_credentials.py::test_bearer_token_credential_without_ca_skips_verification":
        "--kube-insecure-skip-tls-verify with HELM_KUBETOKEN against each Helm",
    # fleets
    "test_fleet_remediation.py::test_remediate_fleet":
        "check-mode dry runs (--dry-run or --dry-run=server) and the statuses each Helm leaves on a whole fleet",
    "test_fleet_remediation.py::test_young_pending_left_alone_stale_pending_freed":
        "the pending record's time as each Helm writes it, found through list --all on Helm 3",
    "test_fleet_remediation.py::test_drifted_releases_are_repaired_through_the_brakes":
        "repair_drift rolls back with --force-conflicts on Helm 4, a three-way merge on Helm 3",
    # the deploy role: kubernetes.core.helm branches on the major
    "test_release_deploy.py::test_atomic_install_upgrade_and_unchanged_rerun":
        "kubernetes.core.helm's flags and release status per major (idempotence)",
    "test_release_deploy.py::test_failing_upgrade_is_rolled_back_atomically_and_handed_to_recovery":
        "--atomic (Helm 3) or --rollback-on-failure (Helm 4) and the history each leaves",
    "test_release_deploy.py::test_non_atomic_failure_is_recovered_by_release_recovery": _ARGV,
    "test_release_deploy.py::test_pending_release_is_refused_or_freed_first": "freeing a pending-upgrade through each Helm's rollback",
    # the recovery role's writes
    "test_release_recovery.py::test_failed_upgrade_rolled_back_to_last_successful": _ARGV,
    "test_release_recovery.py::test_failing_rollback_falls_back_to_previous_good": _ARGV + "; " + _RECORDS,
    "test_release_recovery.py::test_upgrade_with_caller_configuration_when_no_rollback_works": _ARGV + " for upgrade",
    "test_release_recovery.py::test_upgrade_only_defaults_to_last_good_chart_version_and_values":
        "upgrade_argv with --repo, --version and --reset-values and the wait flag per major",
    "test_release_recovery.py::test_failed_install_is_reinstalled_with_given_chart":
        "uninstall_argv's wait flag; the status after uninstall differs per major",
    "test_release_recovery.py::test_pending_release_is_freed_with_unlock":
        "a rollback over pending-upgrade; the interrupted revision's status differs per major",
    "test_release_recovery.py::test_check_mode_plans_and_changes_nothing": "--dry-run or --dry-run=server for rollback and uninstall",
    # event-driven recovery: what the event source reads is what each Helm wrote and left
    "test_eda_remediate.py::test_failed_and_stale_releases_are_recovered_across_an_outage":
        "the labels each Helm writes on its records (modifiedAt), the pending-upgrade each Helm leaves when killed, "
        "freed through each Helm's rollback",
    # secrets in each Helm's own output
    "test_secrets.py::test_secrets_never_leak": "screens each Helm's stdout, stderr and dry-run output; access_denied on its message",
}


def split_helm_id(params_id):
    """(helm3 or helm4 or None, the parameter id without it) of a test's parameter id, e.g. "helm3-2"."""
    for helm_id in HELM_IDS:
        rest, found = re.subn(r"(^|-)%s(?=-|$)" % helm_id, "", params_id)
        if found:
            return helm_id, rest.strip("-")
    return None, params_id


def policy():
    value = os.environ.get("MATIH_TEST_HELM", "policy")
    if value not in POLICIES:
        raise ValueError("MATIH_TEST_HELM=%s: expected one of %s" % (value, ", ".join(POLICIES)))
    return value


def depends_on_major(file_name, function, params_id=""):
    """True when the test (its parameter set ``params_id``, without the Helm part) runs on both majors."""
    return "%s::%s" % (file_name, function) in BOTH_MAJORS or "%s::%s[%s]" % (file_name, function, params_id) in BOTH_MAJORS


def runs_on(helm_id, file_name, function, params_id=""):
    """Whether the test runs on Helm ``helm_id`` (helm3 or helm4) in this run."""
    chosen = policy()
    if chosen in HELM_IDS:
        return helm_id == chosen
    return chosen == "both" or helm_id == ONE_MAJOR or depends_on_major(file_name, function, params_id)

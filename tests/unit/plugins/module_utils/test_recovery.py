# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The recovery planner, path by path: verdicts, steps and targets, step outcomes, the report entry."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.matih.helm.plugins.module_utils import release_store
from ansible_collections.matih.helm.plugins.module_utils.drift import drift_digest
from ansible_collections.matih.helm.plugins.module_utils.release import parse_history
from ansible_collections.matih.helm.plugins.module_utils.recovery import (
    DEFER, DEFERRED, DRIFTED, ESCALATE, FAILED, HEALTHY, HELD, MISSING, PENDING, PLANNED, QUARANTINED, RECOVER,
    RECOVERED, REFUSED, SKIPPED, STOP, UNINSTALLED, WOULD_FAIL, Attempt, Options, Step, attempt_summary, changed_since,
    ends_ladder, failure_verdict,
    foreign_change, format_duration, known_good, outage_seen, plan_recovery, previous_good_target, recheck_step,
    release_outcome, remembered_outcome, repair_outcome, report_entry, revision_age, step_outcome, strategy_problems,
)

INSTALLED, UPGRADED = "Install complete", "Upgrade complete"
UPGRADE_FAILED = 'Upgrade "web" failed: context deadline exceeded'
INSTALL_FAILED = 'Release "web" failed: context deadline exceeded'
ROLLBACK_FAILED = 'Rollback "web" failed: context deadline exceeded'
NOW = datetime.datetime(2025, 1, 31, 12, 0, 0, tzinfo=datetime.timezone.utc)


def history(*revisions):
    """Revisions as (status, chart version, description[, updated]) from 1 on."""
    return parse_history([
        {"revision": number, "updated": spec[3] if len(spec) > 3 else "2025-01-31T10:00:00Z", "status": spec[0],
         "chart": "web-%s" % spec[1], "app_version": spec[1], "description": spec[2]}
        for number, spec in enumerate(revisions, start=1)
    ])


GOOD_THEN_FAILED = history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.1.0", UPGRADED),
                           ("failed", "1.2.0", UPGRADE_FAILED))
GOOD_VALUES = {1: {"config": {"revision": "1"}}, 2: {"config": {"revision": "2"}}}
# Revision 2 is a copy of 1 (same chart, same values): previous-good must look past it.
SAME_AS_LAST = history(("superseded", "1.0.0", INSTALLED), ("superseded", "1.0.0", UPGRADED),
                       ("deployed", "1.0.0", UPGRADED), ("failed", "1.2.0", UPGRADE_FAILED))
# The rollback to 2 failed (revision 4); 2 was superseded by it but still reached deployed.
AFTER_FAILED_ROLLBACK = history(("superseded", "1.0.0", INSTALLED), ("superseded", "1.1.0", UPGRADED),
                                ("failed", "1.2.0", UPGRADE_FAILED), ("failed", "1.1.0", ROLLBACK_FAILED))
ALL_FAILED = history(("failed", "1.0.0", INSTALL_FAILED))
UNINSTALLED_KEPT = history(("superseded", "1.0.0", INSTALLED), ("uninstalled", "1.1.0", "Uninstallation complete"))
HEALTHY_HISTORY = history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.1.0", UPGRADED))
FRESH_PENDING = history(("deployed", "1.0.0", INSTALLED), ("pending-upgrade", "1.1.0", "Preparing upgrade",
                                                           "2025-01-31T11:55:00Z"))
STALE_PENDING = history(("deployed", "1.0.0", INSTALLED), ("pending-upgrade", "1.1.0", "Preparing upgrade",
                                                           "2025-01-31T09:00:00Z"))
ALL = ("rollback_last_successful", "rollback_previous_good", "upgrade", "reinstall")


def targets(plan):
    return [(step.action, step.target_revision if step.runnable else "skip") for step in plan.steps]


@pytest.mark.parametrize("label, revisions, values, options, verdict, steps", [
    ("healthy", HEALTHY_HISTORY, GOOD_VALUES, Options(), HEALTHY, []),
    ("missing", [], {}, Options(), MISSING, []),
    ("held by a brake", GOOD_THEN_FAILED, GOOD_VALUES, Options(hold="more than 2 unhealthy"), HELD, []),
    ("failed upgrade", GOOD_THEN_FAILED, GOOD_VALUES, Options(strategies=ALL), RECOVER,
     [("rollback_last_successful", 2), ("rollback_previous_good", 1), ("upgrade", "skip"), ("reinstall", "skip")]),
    ("failed upgrade, repository known, reinstall not a default", GOOD_THEN_FAILED, GOOD_VALUES,
     Options(chart_repo_url="https://charts"),
     RECOVER, [("rollback_last_successful", 2), ("rollback_previous_good", 1), ("upgrade", None)]),
    ("identical older revisions are passed over", SAME_AS_LAST, {1: {"a": 1}, 2: {"a": 1}, 3: {"a": 1}},
     Options(), RECOVER, [("rollback_last_successful", 3), ("rollback_previous_good", "skip"), ("upgrade", "skip")]),
    ("older revision with other values is a target", SAME_AS_LAST, {1: {"a": 0}, 2: {"a": 1}, 3: {"a": 1}},
     Options(), RECOVER, [("rollback_last_successful", 3), ("rollback_previous_good", 1), ("upgrade", "skip")]),
    ("failed rollback", AFTER_FAILED_ROLLBACK, GOOD_VALUES, Options(strategies=ALL[:2]), RECOVER,
     [("rollback_last_successful", 2), ("rollback_previous_good", 1)]),
    ("every revision failed", ALL_FAILED, {}, Options(chart_ref="oci://charts/web", strategies=ALL), RECOVER,
     [("rollback_last_successful", "skip"), ("rollback_previous_good", "skip"), ("upgrade", "skip"),
      ("reinstall", "skip")]),
    ("every revision failed, caller's configuration", ALL_FAILED, {},
     Options(chart_ref="oci://c/web", values={}, strategies=ALL),
     RECOVER, [("rollback_last_successful", "skip"), ("rollback_previous_good", "skip"), ("upgrade", None),
               ("reinstall", None)]),
    ("uninstalled on purpose is left alone", UNINSTALLED_KEPT, GOOD_VALUES, Options(), UNINSTALLED, []),
    ("uninstalling is left alone", history(("deployed", "1.0.0", INSTALLED), ("uninstalling", "1.0.0", "Deletion")),
     {}, Options(), UNINSTALLED, []),
    ("uninstalled, recovery asked for", UNINSTALLED_KEPT, GOOD_VALUES,
     Options(recover_uninstalled=True, strategies=ALL[:1]), RECOVER, [("rollback_last_successful", 1)]),
    ("fresh pending left alone", FRESH_PENDING, {1: {}}, Options(unlock_pending_after=1800), PENDING, []),
    ("stale pending freed", STALE_PENDING, {1: {}}, Options(unlock_pending_after=1800, strategies=ALL[:1]), RECOVER,
     [("rollback_last_successful", 1)]),
    ("pending without a limit left alone", STALE_PENDING, {1: {}}, Options(), PENDING, []),
    ("pending freed by the override", FRESH_PENDING, {1: {}}, Options(unlock_pending=True, unlock_pending_after=1800,
                                                                      strategies=ALL[:1]),
     RECOVER, [("rollback_last_successful", 1)]),
    ("steps in the caller's order", GOOD_THEN_FAILED, GOOD_VALUES,
     Options(strategies=("upgrade", "rollback_previous_good"), chart_ref="./web"), RECOVER,
     [("upgrade", None), ("rollback_previous_good", 1)]),
])
def test_plan(label, revisions, values, options, verdict, steps):
    plan = plan_recovery(revisions, values, options, now=NOW)
    assert (plan.verdict, targets(plan)) == (verdict, steps), label


@pytest.mark.parametrize("options, words", [
    (Options(), ["latest revision 2 is pending-upgrade", "set unlock_pending=true to free it"]),
    (Options(unlock_pending_after=1800), ["for 5m", "younger than unlock_pending_after 30m", "left alone"]),
])
def test_pending_reason_names_the_way_out(options, words):
    plan = plan_recovery(FRESH_PENDING, {}, options, now=NOW)
    assert plan.verdict == PENDING and all(word in plan.reason for word in words), plan.reason
    assert plan.pending_age == 300


def test_stale_pending_reason_says_it_was_freed():
    plan = plan_recovery(STALE_PENDING, {}, Options(unlock_pending_after=1800), now=NOW)
    assert "for 3h, older than unlock_pending_after 30m: freed as stale" in plan.reason, plan.reason


def test_pending_without_a_recorded_time_is_left_alone():
    revisions = history(("deployed", "1.0.0", INSTALLED), ("pending-install", "1.0.0", "x", ""))
    plan = plan_recovery(revisions, {}, Options(unlock_pending_after=60), now=NOW)
    assert plan.verdict == PENDING and "age is unknown" in plan.reason, plan


@pytest.mark.parametrize("options, expected", [
    # the last good revision's chart name (in the caller's repository), version and values
    (Options(chart_repo_url="https://charts"), ("web", "https://charts", "1.1.0", {"config": {"revision": "2"}}, "")),
    (Options(chart_ref="oci://r/web", chart_version="2.0.0", values={"a": 1}), ("oci://r/web", "", "2.0.0", {"a": 1}, "")),
    (Options(), ("", "", "1.1.0", {"config": {"revision": "2"}}, "no chart reference")),
])
def test_known_good_configuration(options, expected):
    good = known_good(GOOD_THEN_FAILED, GOOD_VALUES, options)
    problem = good.problem.split(":", maxsplit=1)[0]
    assert (good.chart_ref, good.chart_repo_url, good.chart_version, good.values, problem) == expected
    assert good.last_good_revision == 2


@pytest.mark.parametrize("metadata, expected", [
    ({"name": "app-2", "version": "1.0.0"}, ("app-2", "1.0.0")),
    ({"name": "app", "version": "2-1.0.0"}, ("app", "2-1.0.0")),  # the same text, app-2-1.0.0
    ({"name": "my-chart", "version": "1.2.3-rc.1+build.5"}, ("my-chart", "1.2.3-rc.1+build.5")),
])
def test_known_good_chart_comes_from_the_release_record(metadata, expected):
    """From the records (release_store.history_entry), the known-good upgrade asks the repository for the chart the
    record names, not for a name split from Helm's "name-version" text."""
    records = [{"version": 1, "info": {"status": "superseded", "description": INSTALLED},
                "chart": {"metadata": dict(metadata, appVersion="1")}},
               {"version": 2, "info": {"status": "failed", "description": UPGRADE_FAILED},
                "chart": {"metadata": {"name": metadata["name"], "version": "9.9.9", "appVersion": "1"}}}]
    revisions = parse_history([release_store.history_entry(record) for record in records])
    good = known_good(revisions, {1: {}}, Options(chart_repo_url="https://charts"))
    assert (good.chart_ref, good.chart_version, good.last_good_revision) == expected + (1,)


def test_no_known_good_configuration_without_a_deployed_revision_or_values():
    good = known_good(ALL_FAILED, {}, Options(chart_ref="./web"))
    assert not good.usable and "no revision reached deployed" in good.problem and good.values is None


def test_previous_good_ignores_revisions_newer_than_the_last_successful():
    assert previous_good_target(AFTER_FAILED_ROLLBACK, GOOD_VALUES) == 1
    assert previous_good_target(ALL_FAILED, {}) is None


@pytest.mark.parametrize("check_mode, failed, changed, status, expected", [
    (False, False, True, "deployed", RECOVERED),
    (False, True, True, "deployed", RECOVERED),  # Helm complained, but the release is deployed: that counts
    (False, False, True, "failed", FAILED),
    (False, True, True, "failed", FAILED),
    (False, True, False, None, FAILED),  # no history left
    (True, False, True, "failed", PLANNED),  # the dry run succeeded
    (True, True, False, "failed", WOULD_FAIL),  # the dry run failed: the next step is planned instead
])
def test_step_outcome(check_mode, failed, changed, status, expected):
    latest = history(("superseded", "1.0.0", INSTALLED), (status, "1.0.0", "x"))[-1] if status else None
    assert step_outcome(check_mode, failed, changed, latest) == expected


def test_recheck_skips_a_pruned_target():
    step = recheck_step(Step("rollback_previous_good", target_revision=1), GOOD_THEN_FAILED[1:])
    assert not step.runnable and "pruned" in step.skip_reason
    kept = Step("rollback_previous_good", target_revision=2)
    assert recheck_step(kept, GOOD_THEN_FAILED) is kept


def test_report_of_a_rollback_that_failed_then_one_that_recovered():
    plan = plan_recovery(GOOD_THEN_FAILED, GOOD_VALUES, Options(strategies=ALL[:2]), now=NOW)
    after_first = AFTER_FAILED_ROLLBACK[-1]
    recovered = history(*[("superseded", "1.0.0", INSTALLED)] * 4 + [("deployed", "1.0.0", "Rollback to 1")])[-1]
    attempts = [Attempt(plan.steps[0], changed=True, error="Helm timed out", latest=after_first, outcome=FAILED),
                Attempt(plan.steps[1], changed=True, latest=recovered, outcome=RECOVERED)]
    entry = report_entry("web", "shop", plan, attempts, GOOD_THEN_FAILED[-1], recovered, Options(), False, "3.17.3")
    assert entry["outcome"] == RECOVERED and entry["action"] == "rollback_previous_good"
    assert entry["reason"] == "latest revision 3 is failed; rollback_previous_good recovered it"
    assert entry["before"] == {"revision": 3, "status": "failed", "chart_version": "1.2.0", "app_version": "1.2.0"}
    assert entry["after"] == {"revision": 5, "status": "deployed", "chart_version": "1.0.0", "app_version": "1.0.0"}
    assert entry["actions"] == [
        {"action": "rollback_last_successful", "target_revision": 2, "outcome": FAILED, "changed": True, "revision": 4,
         "status": "failed", "chart_version": "1.1.0", "error": "Helm timed out", "error_kind": ""},
        {"action": "rollback_previous_good", "target_revision": 1, "outcome": RECOVERED, "changed": True,
         "revision": 5, "status": "deployed", "chart_version": "1.0.0", "error": "", "error_kind": ""},
    ]


def test_report_in_check_mode_names_the_planned_step_after_skipped_ones():
    plan = plan_recovery(ALL_FAILED, {}, Options(chart_ref="./web", values={}, keep_history=False), now=NOW)
    attempts = [Attempt(plan.steps[0], outcome=SKIPPED), Attempt(plan.steps[1], outcome=SKIPPED),
                Attempt(plan.steps[2], changed=True, latest=ALL_FAILED[-1], outcome=PLANNED)]
    entry = report_entry("web", "shop", plan, attempts, ALL_FAILED[-1], ALL_FAILED[-1], Options(), True, "4.3.1")
    assert (entry["outcome"], entry["action"], entry["check_mode"]) == (PLANNED, "upgrade", True)
    assert entry["reason"].endswith("; upgrade would run (check mode)")
    assert [a["outcome"] for a in entry["actions"]] == [SKIPPED, SKIPPED, PLANNED]
    assert entry["actions"][0] == {"action": "rollback_last_successful", "outcome": SKIPPED,
                                   "reason": "no revision of this release ever reached deployed"}
    assert entry["actions"][2]["chart_ref"] == "./web" and "values" not in entry["actions"][2]


@pytest.mark.parametrize("revisions, options, outcome", [
    (HEALTHY_HISTORY, Options(), HEALTHY),
    ([], Options(), FAILED),
    (FRESH_PENDING, Options(), FAILED),  # left alone, as before unlock_pending_after existed
    (FRESH_PENDING, Options(unlock_pending_after=3600), PENDING),
    (GOOD_THEN_FAILED, Options(hold="canary web failed"), HELD),
    (GOOD_THEN_FAILED, Options(), FAILED),  # no step ran
])
def test_outcome_without_a_settling_step(revisions, options, outcome):
    plan = plan_recovery(revisions, GOOD_VALUES, options, now=NOW)
    latest = revisions[-1] if revisions else None
    entry = report_entry("web", "shop", plan, [], latest, latest, options, False, None)
    assert entry["outcome"] == outcome and entry["actions"] == [] and entry["action"] == "none", entry
    assert ("pending_age" in entry) == (plan.verdict == PENDING)


def test_failed_report_reason():
    plan = plan_recovery(GOOD_THEN_FAILED, GOOD_VALUES, Options(strategies=ALL[:1]), now=NOW)
    attempts = [Attempt(plan.steps[0], changed=True, error="boom", latest=AFTER_FAILED_ROLLBACK[-1], outcome=FAILED)]
    entry = report_entry("web", "shop", plan, attempts, GOOD_THEN_FAILED[-1], AFTER_FAILED_ROLLBACK[-1], Options(),
                         False, None)
    assert entry["outcome"] == FAILED and entry["action"] == "rollback_last_successful"
    assert entry["reason"].endswith("no recovery step brought the release back to deployed")


@pytest.mark.parametrize("seconds, text", [(None, "an unknown time"), (0, "0s"), (59.9, "59s"), (60, "1m"),
                                           (750, "12m30s"), (3600, "1h"), (7500, "2h5m"), (86400 * 3 + 3600 * 4, "3d4h")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_revision_age():
    assert revision_age(FRESH_PENDING[-1], NOW) == 300
    assert revision_age(FRESH_PENDING[-1], None) is None


@pytest.mark.parametrize("strategies, problem", [
    (["upgrade", "upgrade"], "must not repeat a step (upgrade"),
    (["rollback"], "unknown recovery step(s) 'rollback'"),
    (list(ALL), None),
])
def test_strategy_problems(strategies, problem):
    problems = strategy_problems(strategies)
    assert (problem is None and problems == []) or (problem is not None and problem in problems[0]), problems


# --- drift ---------------------------------------------------------------------------------------

SCALED = {"revision": 2, "drifted": True, "summary": {"objects": 2, "missing": 0, "modified": 1, "in_sync": 1},
          "api_requests": 4, "objects": [
              {"kind": "Deployment", "namespace": "shop", "name": "web", "state": "modified",
               "fields": [{"path": "spec.replicas", "desired": 1, "live": 0}]},
              {"kind": "Service", "namespace": "shop", "name": "web", "state": "in_sync", "fields": []}]}
IN_SYNC = dict(SCALED, drifted=False, objects=[dict(SCALED["objects"][1])])
DELETED = dict(SCALED, objects=[{"kind": "Service", "namespace": "shop", "name": "web", "state": "missing",
                                 "fields": []}])


@pytest.mark.parametrize("label, check, verdict, steps, reason", [
    ("no check made", None, HEALTHY, [], "latest revision 2 is deployed"),
    ("in sync", IN_SYNC, HEALTHY, [], "latest revision 2 is deployed and its objects match it"),
    ("scaled by hand", SCALED, DRIFTED, [("repair_drift", 2)],
     "latest revision 2 is deployed, but its objects drifted: Deployment/web modified (spec.replicas)"),
    ("deleted", DELETED, DRIFTED, [("repair_drift", 2)],
     "latest revision 2 is deployed, but its objects drifted: Service/web missing"),
    # a check of another revision than the latest (a concurrent upgrade) does not decide
    ("stale check", dict(SCALED, revision=1), HEALTHY, [], "latest revision 2 is deployed and its objects match it"),
])
def test_a_deployed_release_is_drifted_only_when_the_check_of_its_latest_revision_says_so(label, check, verdict,
                                                                                          steps, reason):
    plan = plan_recovery(HEALTHY_HISTORY, GOOD_VALUES, Options(), now=NOW,
                         drift=drift_digest(check) if check else None)
    assert (plan.verdict, targets(plan), plan.reason) == (verdict, steps, reason), label
    assert plan.needs_recovery is (verdict == DRIFTED)


def test_a_held_release_is_held_even_when_drifted():
    plan = plan_recovery(HEALTHY_HISTORY, GOOD_VALUES, Options(hold="brake"), now=NOW, drift=drift_digest(SCALED))
    assert plan.verdict == HELD and plan.steps == ()


@pytest.mark.parametrize("outcome, after, expected", [
    (RECOVERED, drift_digest(IN_SYNC), (RECOVERED, "")),
    (RECOVERED, drift_digest(SCALED), (FAILED, "after the repair, objects still drift: Deployment/web modified "
                                               "(spec.replicas)")),
    (PLANNED, None, (PLANNED, "")),
    (FAILED, drift_digest(SCALED), (FAILED, "")),
])
def test_a_repair_recovered_the_release_only_when_nothing_drifts_after_it(outcome, after, expected):
    assert repair_outcome(outcome, after) == expected


def test_the_report_entry_of_a_repair_holds_the_drift_and_names_the_step():
    plan = plan_recovery(HEALTHY_HISTORY, GOOD_VALUES, Options(), now=NOW, drift=drift_digest(SCALED))
    after = history(("superseded", "1.0.0", INSTALLED), ("superseded", "1.1.0", UPGRADED),
                    ("deployed", "1.1.0", "Rollback to 2"))
    attempt = Attempt(plan.steps[0], changed=True, latest=after[-1], outcome=RECOVERED)
    drift = dict(drift_digest(SCALED), after=drift_digest(IN_SYNC))
    entry = report_entry("web", "shop", plan, [attempt], HEALTHY_HISTORY[-1], after[-1], Options(), False, "4.3.1",
                         drift=drift)
    assert entry["outcome"] == RECOVERED and entry["action"] == "repair_drift"
    assert entry["actions"][0]["target_revision"] == 2 and entry["after"]["revision"] == 3
    assert entry["drift"]["objects"][0]["fields"] == ["spec.replicas"] and entry["drift"]["after"]["drifted"] is False
    assert entry["reason"].endswith("; repair_drift recovered it")


# --- safe recovery: what the ladder does after a step, and what the memory says -------------------------

@pytest.mark.parametrize("error_kind, wrote_failed, expected", [
    ("cluster_unreachable", False, DEFER),
    ("cluster_unreachable", True, DEFER),  # Helm wrote a revision, then lost the API server: no verdict
    ("throttled", False, DEFER),
    ("api_error", False, DEFER),
    ("revision_taken", False, DEFER),  # another writer got there first
    ("operation_in_progress", False, DEFER),
    ("locked", False, DEFER),
    ("concurrent_change", True, DEFER),
    ("timeout", False, DEFER),  # Helm never wrote the revision: an outage, a slow API server
    ("timeout", True, ESCALATE),  # the rollout did not get ready in time: a verdict on the target
    ("rejected", False, ESCALATE),  # admission refused the target
    ("rollout_failed", True, ESCALATE),
    ("helm_failed", True, ESCALATE),  # whatever Helm said, it wrote the target and it failed
    ("access_denied", False, STOP),  # the next step needs the same rights
    ("helm_failed", False, STOP),
    ("chart_not_found", False, STOP),
    ("", False, STOP),
])
def test_failure_verdict(error_kind, wrote_failed, expected):
    assert failure_verdict(error_kind, wrote_failed) == expected


def statuses(*pairs):
    """A history whose revisions not named in ``pairs`` ((status, number)...) are superseded."""
    named = {number: status for status, number in pairs}
    return history(*[(named.get(number, "superseded"), "1.0.0", "x") for number in range(1, max(named) + 1)])


@pytest.mark.parametrize("label, before, after, wrote, words", [
    ("our revision", 3, [("failed", 3), ("failed", 4)], True, None),
    ("nothing written", 3, [("failed", 3)], False, None),
    ("another writer after ours", 3, [("failed", 4), ("deployed", 5)], True, "revision 5 was written by another"),
    ("another writer instead of ours", 3, [("deployed", 4)], False, "revision 4 was written by another"),
    ("another operation pending", 3, [("pending-upgrade", 4)], True, "revision 4 is pending-upgrade"),
    ("the pending revision we freed is still the latest", 3, [("pending-upgrade", 3)], False, None),
    ("history unreadable", 3, [], True, None),
])
def test_foreign_change(label, before, after, wrote, words):
    latest_before = statuses(("failed", before))[-1]
    reason = foreign_change(latest_before, statuses(*after) if after else [], wrote)
    assert (words in reason) if words else reason == "", (label, reason)


@pytest.mark.parametrize("text, seen", [
    ("Error: timed out waiting for the condition", False),
    ('W1206 reflector.go: Get "https://127.0.0.1:6443/apis": dial tcp: connect: connection refused\n'
     "Error: context deadline exceeded", True),
    ("Error: Kubernetes cluster unreachable: Get ...", True),
    ("", False),
])
def test_outage_seen(text, seen):
    assert outage_seen(text) is seen


def attempt_of(outcome, then=ESCALATE, kind=""):
    return Attempt(Step("rollback_last_successful", target_revision=2), outcome=outcome, then=then, error_kind=kind,
                   error="boom" if kind else "")


@pytest.mark.parametrize("attempt, ends", [
    (attempt_of(RECOVERED), True),
    (attempt_of(PLANNED), True),
    (attempt_of(DEFERRED, DEFER, "cluster_unreachable"), True),
    (attempt_of(FAILED, STOP, "access_denied"), True),
    (attempt_of(FAILED, ESCALATE, "rollout_failed"), False),
    (attempt_of(REFUSED, ESCALATE, "rejected"), False),
    (attempt_of(WOULD_FAIL, ESCALATE, "rejected"), False),
])
def test_ends_ladder(attempt, ends):
    assert ends_ladder(attempt) is ends


@pytest.mark.parametrize("attempts, check_mode, outcome, kind, words", [
    ([attempt_of(DEFERRED, DEFER, "cluster_unreachable")], False, DEFERRED, "cluster_unreachable",
     "rollback_last_successful was deferred, nothing escalated (cluster_unreachable: boom); retry later"),
    ([attempt_of(REFUSED, ESCALATE, "rejected"), attempt_of(DEFERRED, DEFER, "throttled")], False, DEFERRED,
     "throttled", "deferred"),
    ([attempt_of(FAILED, STOP, "access_denied")], False, FAILED, "access_denied",
     "failed in a way the next steps would meet too (access_denied: boom)"),
    ([attempt_of(REFUSED, ESCALATE, "rejected"), attempt_of(FAILED, ESCALATE, "rollout_failed")], False, FAILED, None,
     "no recovery step brought the release back"),
    ([attempt_of(WOULD_FAIL, ESCALATE, "rejected")], True, WOULD_FAIL, None, "would bring the release back"),
    ([attempt_of(WOULD_FAIL, ESCALATE, "rejected"), attempt_of(PLANNED)], True, PLANNED, None, "would run"),
])
def test_outcome_after_the_ladder(attempts, check_mode, outcome, kind, words):
    plan = plan_recovery(GOOD_THEN_FAILED, GOOD_VALUES, Options(strategies=ALL[:2]), now=NOW)
    entry = report_entry("web", "shop", plan, attempts, GOOD_THEN_FAILED[-1], GOOD_THEN_FAILED[-1], Options(),
                         check_mode, "4.3.1")
    assert (entry["outcome"], entry.get("error_kind")) == (outcome, kind), entry
    assert words in entry["reason"], entry["reason"]
    assert release_outcome(plan, attempts, Options(), check_mode) == outcome


class Gate(object):  # attempts.Gate's shape, as plan_recovery reads it
    def __init__(self, verdict, reason="", retry_in=None):
        self.verdict, self.reason, self.retry_in = verdict, reason, retry_in


@pytest.mark.parametrize("revisions, gate, verdict", [
    (GOOD_THEN_FAILED, Gate("quarantined", "3 recoveries of revision 3 failed"), QUARANTINED),
    (GOOD_THEN_FAILED, Gate("deferred", "the backoff has 4m left", 240), DEFERRED),
    (GOOD_THEN_FAILED, Gate("proceed"), RECOVER),
    (HEALTHY_HISTORY, Gate("quarantined", "x"), HEALTHY),  # the memory applies only to a release that needs recovery
    (UNINSTALLED_KEPT, Gate("deferred", "x", 5), UNINSTALLED),
])
def test_the_memory_gates_only_a_recovery(revisions, gate, verdict):
    plan = plan_recovery(revisions, GOOD_VALUES, Options(), now=NOW, gate=gate)
    assert plan.verdict == verdict
    if verdict in (QUARANTINED, DEFERRED):
        assert plan.steps == () and gate.reason in plan.reason and plan.retry_in == gate.retry_in
        entry = report_entry("web", "shop", plan, [], revisions[-1], revisions[-1], Options(), False, "4.3.1")
        assert entry["outcome"] == verdict


def test_a_pending_revision_ages_from_the_last_lease_renewal():
    renewed = datetime.datetime(2025, 1, 31, 11, 58, 0, tzinfo=datetime.timezone.utc)
    plan = plan_recovery(STALE_PENDING, {1: {}}, Options(unlock_pending_after=1800), now=NOW, lease_renewed=renewed)
    assert plan.verdict == PENDING and plan.pending_age == 120, plan
    older = datetime.datetime(2025, 1, 31, 1, 0, 0, tzinfo=datetime.timezone.utc)  # before the revision's update
    plan = plan_recovery(STALE_PENDING, {1: {}}, Options(unlock_pending_after=1800), now=NOW, lease_renewed=older)
    assert plan.verdict == RECOVER and plan.pending_age == 3 * 3600


@pytest.mark.parametrize("kind, freeing, expected", [
    ("operation_in_progress", True, ESCALATE),  # the pending revision we free: an upgrade cannot run over it
    ("operation_in_progress", False, DEFER),  # someone else's operation
    ("cluster_unreachable", True, DEFER),
])
def test_an_operation_in_progress_is_ours_to_free_or_anothers(kind, freeing, expected):
    assert failure_verdict(kind, False, freeing) == expected


@pytest.mark.parametrize("label, seen, now, words", [
    ("unchanged", ("failed", 3), [("failed", 3)], None),
    ("still the pending revision being freed", ("pending-upgrade", 3), [("pending-upgrade", 3)], None),
    ("a new revision", ("failed", 3), [("deployed", 4)], "revision 4 was written by another operation"),
    ("a new pending revision", ("failed", 3), [("pending-rollback", 4)], "revision 4 was written by another"),
    ("the pending operation finished after all", ("pending-upgrade", 3), [("deployed", 3)],
     "revision 3 went from pending-upgrade to deployed"),
    ("purged", ("failed", 3), [], "was removed"),
])
def test_changed_since(label, seen, now, words):
    reason = changed_since(statuses(seen)[-1], statuses(*now) if now else [])
    assert (words in reason) if words else reason == "", (label, reason)


def test_the_memory_keeps_fixed_words_never_an_errors_text():
    attempts = [Attempt(Step("rollback_last_successful", target_revision=2), outcome=REFUSED, error_kind="rejected",
                        error='ConfigMap "web" is invalid: data.password: Invalid value: "hunter2"'),
                Attempt(Step("rollback_previous_good"), outcome=SKIPPED),
                Attempt(Step("upgrade"), outcome=FAILED, error_kind="rollout_failed", error="x")]
    summary = attempt_summary(attempts)
    assert summary == "rollback_last_successful refused (rejected); upgrade failed (rollout_failed)"
    assert "hunter2" not in summary


def tried(outcome, changed=False):
    return Attempt(Step("rollback_last_successful", target_revision=2), outcome=outcome, changed=changed)


@pytest.mark.parametrize("label, verdict, attempts, outcome, learned", [
    ("healthy forgets", HEALTHY, [], HEALTHY, HEALTHY),
    ("recovered", RECOVER, [tried(RECOVERED, True)], RECOVERED, RECOVERED),
    ("a failed ladder is an attempt", RECOVER, [tried(FAILED, True)], FAILED, FAILED),
    ("a refusal wrote nothing but was tried", RECOVER, [tried(REFUSED)], FAILED, FAILED),
    ("deferred before any write: no attempt", RECOVER, [tried(DEFERRED)], DEFERRED, DEFERRED),
    ("deferred after a write: an attempt", RECOVER, [tried(FAILED, True), tried(DEFERRED)], DEFERRED, FAILED),
    ("only skipped steps: nothing tried", RECOVER, [Attempt(Step("upgrade"), outcome=SKIPPED)], FAILED, None),
    ("a pending release left alone", PENDING, [], FAILED, None),
    ("quarantined", QUARANTINED, [], QUARANTINED, None),
])
def test_what_the_memory_learns_from_a_run(label, verdict, attempts, outcome, learned):
    assert remembered_outcome(verdict, attempts, outcome) == learned, label

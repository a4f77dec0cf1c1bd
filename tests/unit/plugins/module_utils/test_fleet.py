# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet decisions: overrides, the brakes, the report rows and summary, and the roles' words."""

from __future__ import annotations

import os

import pytest

from ansible_collections.matih.helm.plugins.module_utils.fleet import (
    CONNECTION_OPTIONS, ROLE_VARIABLES, brake_counts, canary_hold, event_connection, fleet_clusters, fleet_discovered, fleet_plan,
    host_failure, host_pattern_problem,
    host_row, inventory_plan,
    not_recovered, outcome_row, override_problems, report, role_report, role_terms, unhealthy_limit,
)
from ansible_collections.matih.helm.plugins.module_utils.recovery import OUTCOMES


def release(namespace, name, status="failed"):
    return {"name": name, "namespace": namespace, "revision": 3, "status": status, "chart_version": "1.2.0",
            "app_version": "1.2.0"}


FLEET = [release("b", "web"), release("a", "db", "pending-upgrade"), release("a", "api")]


@pytest.mark.parametrize("overrides, problems", [
    ({}, []),
    ({"shop/web": {"timeout": "1m", "unlock_pending_after": "30m"}}, []),
    ({"shop/web": {"clear_quarantine": True, "recover_uninstalled": True}}, []),
    ({"shop/web": {"max_attempts": 5}}, ["unknown setting 'max_attempts'"]),
    ({"web": {}}, ["key 'web' is not namespace/name (or cluster/namespace/name)"]),
    ({"eu-1/shop/web": {"timeout": "1m"}}, []),
    ({"a/b/c/d": {}}, ["key 'a/b/c/d' is not namespace/name (or cluster/namespace/name)"]),
    ({"shop/web": "x"}, ["'shop/web' is not a dictionary of settings"]),
    ({"shop/web": {"timout": "1m"}}, ["unknown setting 'timout'"]),
    ([], ["must be a dictionary keyed \"namespace/name\", got list"]),
])
def test_override_problems(overrides, problems):
    assert override_problems(overrides) == problems


@pytest.mark.parametrize("limit, scanned, expected", [
    (None, 100, None), ("", 100, None), (3, 100, 3), ("3", 100, 3), ("20%", 100, 20), ("20%", 9, 1), ("0", 5, 0),
])
def test_unhealthy_limit(limit, scanned, expected):
    assert unhealthy_limit(limit, scanned) == expected


@pytest.mark.parametrize("limit", ["many", "2.5", True, "-1", "20 %%"])
def test_unhealthy_limit_refuses_what_it_cannot_read(limit):
    with pytest.raises(ValueError, match="fleet_remediation_max_unhealthy"):
        unhealthy_limit(limit, 10)


def test_over_the_limit_every_release_is_held():
    plan = fleet_plan(FLEET, 10, "20%")
    assert plan["canary"] == plan["rest"] == []
    assert [row["outcome"] for row in plan["held"]] == ["held"] * 3
    assert [row["release"] for row in plan["held"]] == ["api", "db", "web"]  # by namespace, then name
    assert "3 releases are unhealthy, more than fleet_remediation_max_unhealthy 20% allows (2 of 10 listed)" in \
        plan["hold_reason"]
    assert plan["held"][1]["before"] == plan["held"][1]["after"] == {
        "revision": 3, "status": "pending-upgrade", "chart_version": "1.2.0", "app_version": "1.2.0"}


@pytest.mark.parametrize("limit, canary, first, rest", [
    (None, 0, [], ["api", "db", "web"]),
    (3, 0, [], ["api", "db", "web"]),  # at the limit is not over it
    (None, 1, ["api"], ["db", "web"]),
    (None, 5, ["api", "db", "web"], []),
])
def test_within_the_limit_canaries_come_first(limit, canary, first, rest):
    plan = fleet_plan(FLEET, 10, limit, canary)
    assert [r["name"] for r in plan["canary"]] == first and [r["name"] for r in plan["rest"]] == rest
    assert plan["held"] == [] and plan["hold_reason"] == ""


def test_negative_canary_is_refused():
    with pytest.raises(ValueError, match="fleet_remediation_canary"):
        fleet_plan(FLEET, 10, None, -1)


@pytest.mark.parametrize("outcomes, held", [
    ([], False), (["recovered"], False), (["recovered", "healthy", "planned"], False), (["recovered", "failed"], True),
    (["pending"], True), (["held"], True), (["would_fail"], True),
    # a deferred canary (an outage, another actor, its own backoff) could not run: it proves nothing
    (["deferred"], True), (["recovered", "deferred"], True),
    # left alone on purpose: not counted, either way
    (["quarantined"], False), (["uninstalled"], False), (["quarantined", "recovered"], False),
    (["quarantined", "failed"], True), (["uninstalled", "deferred"], True),
])
def test_canary_hold(outcomes, held):
    rows = [{"namespace": "a", "release": "r%d" % i, "outcome": outcome} for i, outcome in enumerate(outcomes)]
    reason = canary_hold(rows)
    assert bool(reason) == held
    if held:
        assert "fleet_remediation_canary" in reason and "(%s)" % outcomes[-1] in reason


def test_canary_hold_names_why_a_canary_was_deferred():
    reason = canary_hold([{"namespace": "a", "release": "web", "outcome": "deferred", "error_kind": "cluster_unreachable"},
                          {"namespace": "a", "release": "db", "outcome": "quarantined", "error_kind": ""}])
    assert reason == ("canary release(s) not recovered: a/web (deferred: cluster_unreachable); the other releases were "
                      "held (fleet_remediation_canary)")


def test_rows_of_hosts_that_did_not_report():
    listed = release("shop", "web")
    failed = outcome_row({"failed": True, "msg": "cluster unreachable"}, listed, "shop/web")
    assert (failed["outcome"], failed["reason"], failed["before"]["status"]) == ("failed", "cluster unreachable", "failed")
    assert "error_kind" not in failed
    lost = host_row("shop/api", {})
    assert (lost["namespace"], lost["release"], lost["outcome"]) == ("shop", "api", "failed")
    assert "did not report back" in lost["reason"]
    kept = {"release": "web", "namespace": "shop", "outcome": "recovered"}
    assert outcome_row({"report": kept}, listed) == kept and host_row("shop/web", {"fleet_remediation_outcome": kept}) is kept


@pytest.mark.parametrize("error_kind, outcome", [
    # nothing is known about the target: retry later, nothing escalated
    ("cluster_unreachable", "deferred"), ("throttled", "deferred"), ("api_error", "deferred"), ("locked", "deferred"),
    ("operation_in_progress", "deferred"), ("revision_taken", "deferred"), ("timeout", "deferred"),
    # a problem the next run meets too
    ("access_denied", "failed"), ("helm_failed", "failed"), ("binary_not_found", "failed"), ("", "failed"),
])
def test_a_failed_recovery_task_is_deferred_when_its_error_is_transient(error_kind, outcome):
    task = {"failed": True, "msg": "the release could not be read", "error_kind": error_kind}
    row = outcome_row(task, release("shop", "web"), "shop/web")
    assert row["outcome"] == outcome, row
    assert row.get("error_kind", "") == error_kind
    assert ("retry later" in row["reason"]) == (outcome == "deferred"), row["reason"]
    assert row["actions"] == [] and row["before"] == row["after"]


def test_rows_name_the_fleet_variables():
    module_report = {"release": "web", "namespace": "shop", "outcome": "failed",
                     "reason": "latest revision 2 is pending-upgrade; set unlock_pending=true to free it",
                     "actions": [{"action": "upgrade", "outcome": "skipped", "reason": "no chart reference: set chart_ref"},
                                 {"action": "rollback_last_successful", "outcome": "failed", "error": "chart_ref timeout"}]}
    row = outcome_row({"report": module_report}, release("shop", "web"), "shop/web")
    assert row["reason"] == "latest revision 2 is pending-upgrade; set fleet_remediation_unlock_pending=true to free it"
    assert row["actions"][0]["reason"] == "no chart reference: set fleet_remediation_release_overrides['shop/web'].chart_ref"
    assert row["actions"][1] == module_report["actions"][1]  # Helm's error is Helm's
    assert module_report["reason"].endswith("set unlock_pending=true to free it")  # the module's report is not changed


def test_report_counts_every_outcome_and_names_the_failed_and_held():
    rows = [{"namespace": "b", "release": "x", "outcome": "failed"}, {"namespace": "a", "release": "y", "outcome": "recovered"},
            {"namespace": "a", "release": "z", "outcome": "held", "reason": "canary a/q failed"},
            {"namespace": "a", "release": "p", "outcome": "pending", "check_mode": False}]
    result = report(rows, ["a", "b"], False, "2025-01-31T10:00:00Z", "/tmp/r")
    summary = result["summary"]
    assert [row["release"] for row in result["releases"]] == ["p", "y", "z", "x"]
    assert (summary["total"], summary["recovered"], summary["failed"], summary["held"], summary["pending"],
            summary["healthy"], summary["planned"]) == (4, 1, 1, 1, 1, 0, 0)
    assert summary["failed_releases"] == ["b/x"] and summary["held_releases"] == ["a/z"]
    assert summary["hold_reason"] == "canary a/q failed" and summary["check_mode"] is False
    assert summary["report_json"] == "/tmp/r/fleet-remediation.json"
    assert report([{"outcome": "planned", "check_mode": True}], [], False, "", "/r")["summary"]["check_mode"] is True


def test_report_counts_each_outcome_of_the_module():
    rows = [{"namespace": "n", "release": "r%d" % index, "outcome": outcome} for index, outcome in enumerate(OUTCOMES)]
    summary = report(rows + rows[-3:], ["n"], False, "", "")["summary"]
    assert {outcome: summary[outcome] for outcome in OUTCOMES} == dict(
        {outcome: 1 for outcome in OUTCOMES}, **{outcome: 2 for outcome in OUTCOMES[-3:]})
    for outcome in ("deferred", "quarantined", "uninstalled", "would_fail"):
        assert outcome in OUTCOMES and summary[outcome] >= 1


DEFERRED_ROW = {"namespace": "b", "release": "api", "outcome": "deferred", "error_kind": "backoff", "retry_in": 240,
                "reason": "1 recovery of revision 3 failed; backing off 5m"}
QUARANTINED_ROW = {"namespace": "a", "release": "db", "outcome": "quarantined",
                   "attempts": {"revision": 5, "attempts": 3, "last_attempt": "2026-01-31T10:00:00Z",
                                "last_outcome": "failed", "reason": "no step brought it back"}}


@pytest.mark.parametrize("rows, deferred, quarantined, not_recovered", [
    ([], [], [], ""),
    ([{"namespace": "a", "release": "web", "outcome": "recovered"}, DEFERRED_ROW], ["b/api"], [], ""),
    ([DEFERRED_ROW, {"namespace": "a", "release": "x", "outcome": "uninstalled"},
      {"namespace": "a", "release": "p", "outcome": "pending"}], ["b/api"], [], ""),
    ([{"namespace": "a", "release": "web", "outcome": "failed"}, DEFERRED_ROW], ["b/api"], [],
     "Not recovered: a/web failed (see /r/fleet-remediation.md)"),
    ([{"namespace": "a", "release": "web", "outcome": "would_fail", "check_mode": True}], [], [],
     "Not recovered: a/web would_fail (see /r/fleet-remediation.md)"),
    ([QUARANTINED_ROW, DEFERRED_ROW], ["b/api"], ["a/db"],
     "Not recovered: a/db quarantined (see /r/fleet-remediation.md). A quarantined release is left alone until its "
     "latest revision changes (a deployment), or until a run with fleet_remediation_clear_quarantine=true (one "
     "release: clear_quarantine in fleet_remediation_release_overrides)"),
])
def test_report_lists_deferred_and_quarantined_and_says_what_fails_the_run(rows, deferred, quarantined, not_recovered):
    result = report(rows, ["a", "b"], False, "", "/r")
    summary = result["summary"]
    assert (summary["deferred_releases"], summary["quarantined_releases"]) == (deferred, quarantined)
    assert result["messages"]["not_recovered"] == not_recovered
    # the rows keep what the module said about the deferral and the memory
    assert [row for row in result["releases"] if row["outcome"] in ("deferred", "quarantined")] == sorted(
        [row for row in rows if row["outcome"] in ("deferred", "quarantined")], key=lambda row: row["namespace"])


def test_without_a_report_directory_the_message_points_at_the_rows():
    rows = [{"namespace": "a", "release": "web", "outcome": "failed"}]
    assert report(rows, [], False, "", "")["messages"]["not_recovered"] == "Not recovered: a/web failed (see the rows above)"


@pytest.mark.parametrize("outcomes, drifted, counts", [
    ([], 0, "0 unhealthy release(s)"),
    (["recovered", "recovered", "deferred"], 0, "3 unhealthy release(s): 2 recovered, 1 deferred (retry later)"),
    (["quarantined", "healthy", "would_fail", "uninstalled"], 0,
     "4 unhealthy release(s): 1 healthy again, 1 would fail (check mode), 1 quarantined (left alone), "
     "1 uninstalled (left alone)"),
    (["failed", "held"], 1, "2 unhealthy release(s) (1 drifted): 1 failed, 1 held"),
])
def test_report_counts_in_words(outcomes, drifted, counts):
    rows = [{"namespace": "a", "release": "r%d" % index, "outcome": outcome} for index, outcome in enumerate(outcomes)]
    for row in rows[:drifted]:
        row["drift"] = {"revision": 1, "drifted": True, "objects": []}
    assert report(rows, [], False, "", "")["messages"]["counts"] == counts


DRIFT = {"revision": 3, "drifted": True, "summary": {"modified": 1},
         "objects": [{"kind": "ConfigMap", "namespace": "a", "name": "web", "state": "modified", "fields": ["data.mode"]}]}


def test_rows_keep_the_drift_discovery_found_unless_the_recovery_checked_again():
    listed = dict(release("a", "web", "deployed"), drifted=True, drift=DRIFT)
    assert over_limit_rows([listed])[0]["drift"] == DRIFT
    held = {"release": "web", "namespace": "a", "outcome": "held", "reason": "canary a/q failed"}
    assert outcome_row({"report": held}, listed)["drift"] == DRIFT and "drift" not in held
    assert outcome_row({"failed": True, "msg": "forbidden"}, listed)["drift"] == DRIFT
    checked = dict(held, outcome="recovered", drift=dict(DRIFT, after={"revision": 4, "drifted": False, "objects": []}))
    assert outcome_row({"report": checked}, listed) == checked
    assert "drift" not in outcome_row({"failed": True}, release("a", "api"))


def over_limit_rows(releases):
    return fleet_plan(releases, len(releases), max_unhealthy=0)["held"]


@pytest.mark.parametrize("after, outcome, still_drifted", [
    ({"revision": 4, "drifted": False, "objects": []}, "recovered", False),
    ({"revision": 4, "drifted": True, "objects": DRIFT["objects"]}, "failed", True),
    (None, "planned", None),  # check mode: no repair ran
])
def test_report_drift_section(after, outcome, still_drifted):
    rows = [{"namespace": "a", "release": "web", "outcome": outcome, "drift": dict(DRIFT, after=after)},
            {"namespace": "a", "release": "db", "outcome": "healthy",
             "drift": {"revision": 2, "drifted": False, "objects": [], "after": None}},
            {"namespace": "b", "release": "api", "outcome": "recovered"}]
    summary = report(rows, ["a", "b"], False, "", "")["summary"]
    assert summary["drifted"] == 1
    assert summary["drift"] == [{"release": "a/web", "revision": 3, "outcome": outcome, "objects": DRIFT["objects"],
                                 "still_drifted": still_drifted}]
    assert report(rows[2:], [], False, "", "")["summary"]["drift"] == []


@pytest.mark.parametrize("report_dir, expected_json", [
    ("/srv/reports", "/srv/reports/fleet-remediation.json"),
    # relative: from the directory ansible-playbook runs in, not the playbook's (Ansible's module cwd)
    ("reports/today", os.path.join(os.getcwd(), "reports/today/fleet-remediation.json")),
    ("~/reports", os.path.join(os.path.expanduser("~"), "reports/fleet-remediation.json")),
    ("", ""),
])
def test_report_paths_are_absolute(report_dir, expected_json):
    summary = report([], [], False, "", report_dir)["summary"]
    assert summary["report_json"] == expected_json
    assert summary["report_markdown"] == (expected_json[:-len("json")] + "md" if expected_json else "")


# --- the roles' words ----------------------------------------------------------------------------

PENDING_REASON = ("latest revision 2 is pending-upgrade (an operation may still be running); set unlock_pending=true "
                  "to free it, or unlock_pending_after to free it once it is older than that")


@pytest.mark.parametrize("text, role, expected", [
    (PENDING_REASON, "release_recovery",
     "latest revision 2 is pending-upgrade (an operation may still be running); set release_recovery_unlock_pending=true "
     "to free it, or release_recovery_unlock_pending_after to free it once it is older than that"),
    (PENDING_REASON, "fleet_remediation",
     "latest revision 2 is pending-upgrade (an operation may still be running); set fleet_remediation_unlock_pending=true "
     "to free it, or fleet_remediation_unlock_pending_after to free it once it is older than that"),
    # release_deploy frees a pending release with on_pending=recover; it has no unlock_pending_after
    (PENDING_REASON, "release_deploy",
     "latest revision 2 is pending-upgrade (an operation may still be running); set release_deploy_on_pending=recover "
     "to free it, or unlock_pending_after to free it once it is older than that"),
    ("no chart reference: set chart_ref or chart_repo_url", "fleet_remediation",
     "no chart reference: set fleet_remediation_release_overrides['shop/web'].chart_ref or "
     "fleet_remediation_release_overrides['shop/web'].chart_repo_url"),
    ("no chart reference: set chart_ref or chart_repo_url", "release_deploy",
     "no chart reference: set release_deploy_recovery_chart_ref or release_deploy_chart_repo_url"),
    ("quarantined until its latest revision changes or clear_quarantine=true", "release_recovery",
     "quarantined until its latest revision changes or release_recovery_clear_quarantine=true"),
    ("quarantined until its latest revision changes or clear_quarantine=true", "release_deploy",
     "quarantined until its latest revision changes or release_deploy_recovery_clear_quarantine=true"),
    ("left alone (set recover_uninstalled=true to bring it back)", "fleet_remediation",
     "left alone (set fleet_remediation_recover_uninstalled=true to bring it back)"),
    # one-word options only as option=value: as words they are prose (and Helm's error text)
    ("no values are given (values, or backoff=0s); timeout: Helm timed out", "release_recovery",
     "no values are given (values, or release_recovery_backoff=0s); timeout: Helm timed out"),
    ("values={} and max_attempts 3", "fleet_remediation",
     "fleet_remediation_release_overrides['shop/web'].values={} and fleet_remediation_max_attempts 3"),
    # already a role's words: left as they are (so twice is once)
    ("set release_recovery_unlock_pending=true", "release_recovery", "set release_recovery_unlock_pending=true"),
    ("set fleet_remediation_release_overrides['shop/web'].chart_ref", "fleet_remediation",
     "set fleet_remediation_release_overrides['shop/web'].chart_ref"),
    ("set unlock_pending=true", "some_role", "set unlock_pending=true"),
    ("", "release_recovery", ""),
])
def test_role_terms(text, role, expected):
    assert role_terms(text, role, "shop/web") == expected
    assert role_terms(expected, role, "shop/web") == expected


def test_every_role_names_the_memory_options():
    for role, table in ROLE_VARIABLES.items():
        for option in ("max_attempts", "backoff", "clear_quarantine", "history_max", "strategies"):
            assert table[option].startswith(role + "_"), (role, option)


def test_role_report_keys_the_fleet_overrides_by_the_release():
    module_report = {"release": "api", "namespace": "b", "outcome": "failed", "reason": "set chart_ref",
                     "actions": [{"action": "upgrade", "outcome": "skipped", "reason": "set chart_repo_url"}]}
    row = role_report(module_report, "fleet_remediation")
    assert row["reason"] == "set fleet_remediation_release_overrides['b/api'].chart_ref"
    assert row["actions"][0]["reason"] == "set fleet_remediation_release_overrides['b/api'].chart_repo_url"
    assert module_report["reason"] == "set chart_ref"


def shop(names, cluster_releases=None, cluster=None):
    """Failed releases of namespace shop by host, with the inventory's cluster_releases when given."""
    hosts = {}
    for name in names:
        one = release("shop", name)
        if cluster:
            one["cluster"] = cluster
        if cluster_releases is not None:
            one["cluster_releases"] = cluster_releases
        hosts[("%s/shop/%s" % (cluster, name)) if cluster else "shop/" + name] = one
    return hosts


def test_inventory_plan_without_cluster_releases_counts_within_the_run():
    # a static inventory: the run's hosts are all it knows (2 unhealthy of 2, over 50%: held)
    hosts = shop(["a", "b"])
    plan = inventory_plan(["shop/a", "shop/b"], hosts, ["shop/a", "shop/b"], "50%", 0)
    assert sorted(plan["held_hosts"]) == ["shop/a", "shop/b"] and (plan["scanned"], plan["unhealthy"]) == (2, 2)


@pytest.mark.parametrize("run", [["shop/a", "shop/b"], ["shop/a"], ["shop/b"]])
def test_a_relaunch_on_failed_hosts_gets_the_answer_of_the_whole_inventory(run):
    # the relaunch (or a Limit) of the failed hosts of a cluster of 10 releases: 2 unhealthy of 10, under 50%.
    # Counted against the run (2 of 2, 100%) it was held, failed its hosts, and the next relaunch held them again.
    hosts = shop(["a", "b"], cluster_releases=10)
    plan = inventory_plan(run, hosts, ["shop/a", "shop/b"], "50%", 0)
    assert (plan["rest"], plan["held"], plan["hold_reason"]) == (run, [], "")
    assert (plan["scanned"], plan["unhealthy"]) == (10, 2)


@pytest.mark.parametrize("run", [["shop/a", "shop/b", "shop/c"], ["shop/a"], ["shop/c"]])
def test_a_limit_is_held_when_the_whole_inventory_is(run):
    # 3 unhealthy of 4 releases in the cluster: over 50% whatever the Limit
    hosts = shop(["a", "b", "c"], cluster_releases=4)
    plan = inventory_plan(run, hosts, sorted(hosts), "50%", 0)
    assert sorted(plan["held_hosts"]) == run and plan["rest"] == []
    assert plan["hold_reason"].startswith("3 releases are unhealthy") and "(2 of 4 listed)" in plan["hold_reason"]


def test_brake_counts_sum_the_clusters_of_the_run():
    hosts = dict(shop(["a", "b"], 10, "eu"), **shop(["c"], 30, "us"))
    hosts.update(shop(["d"], None, "static"))
    hosts["eu/shop/ok"] = dict(release("shop", "ok", "deployed"), cluster="eu", cluster_releases=10)
    targets = ["eu/shop/a", "eu/shop/b", "us/shop/c", "static/shop/d"]
    # a Limit on eu/shop/ok: the eu cluster only (its 10 releases, its 2 unhealthy in the inventory)
    assert brake_counts(["eu/shop/ok"], hosts, targets) == (10, 2)
    # eu and us: 40 releases, 3 unhealthy; a cluster without cluster_releases counts its hosts of the run
    assert brake_counts(["eu/shop/a", "us/shop/c"], hosts, targets) == (40, 3)
    assert brake_counts(["eu/shop/a", "static/shop/d"], hosts, targets) == (11, 3)
    # a count never below the unhealthy releases, nor the run's hosts; a bad value is as if absent
    assert brake_counts(["x/shop/a"], shop(["a"], 0, "x"), ["x/shop/a"]) == (1, 1)
    assert brake_counts(["x/shop/a"], shop(["a"], "many", "x"), ["x/shop/a"]) == (1, 1)
    assert brake_counts(["x/shop/a"], shop(["a"], True, "x"), ["x/shop/a"]) == (1, 1)
    assert brake_counts(["x/shop/a"], shop(["a"], "7", "x"), ["x/shop/a"]) == (7, 1)
    assert brake_counts([], hosts, targets) == (0, 0)


GROUPS = {"all": ["eu/shop/a", "eu/shop/ok"], "ungrouped": [], "helm_unhealthy": ["eu/shop/a"], "helm_failed": ["eu/shop/a"],
          "helm_deployed": ["eu/shop/ok"], "helm_namespace_shop": ["eu/shop/a", "eu/shop/ok"], "helm_pending": []}


@pytest.mark.parametrize("terms, unknown", [
    (["helm_unhealthy"], []),
    (["helm_pending"], []),  # an existing group with no host: nothing to do
    (["eu/shop/a"], []),
    (["helm_namespace_shop", "&helm_unhealthy", "!eu/shop/ok"], []),
    (["eu/shop/*"], []),
    (["~eu/.*/a$"], []),
    (["helm_namespace_shop[0]"], []),
    (["all"], []),
    (["helm_unhealty"], ["helm_unhealty"]),
    (["helm_unhealthy", "&helm_namespace_shpo"], ["&helm_namespace_shpo"]),
    (["us/shop/*"], ["us/shop/*"]),
    (["~us/"], ["~us/"]),
])
def test_host_pattern_problem(terms, unknown):
    problem = host_pattern_problem(terms, GROUPS, ":".join(terms))
    if not unknown:
        assert problem == ""
        return
    assert problem.startswith("helm_recover_hosts '%s' names no group or host of the inventory: %s. Its groups: "
                              % (":".join(terms), ", ".join(unknown))), problem
    assert "helm_deployed, helm_failed, helm_namespace_shop, helm_pending, helm_unhealthy (" in problem
    assert "ungrouped" not in problem.partition("Its groups")[2].partition("(")[0]


def test_host_pattern_problem_lists_at_most_40_groups():
    groups = {"all": [], "helm_unhealthy": []}
    groups.update({"helm_namespace_%02d" % index: [] for index in range(50)})
    problem = host_pattern_problem(["typo"], groups, "typo", "the pattern")
    assert problem.startswith("the pattern 'typo' names no group or host") and " and 11 more (" in problem


@pytest.mark.parametrize("outcome, fails", [
    ("failed", True), ("would_fail", True), ("quarantined", True),
    ("deferred", False), ("pending", False), ("uninstalled", False), ("held", False), ("healthy", False),
    ("recovered", False), ("planned", False),
])
def test_not_recovered(outcome, fails):
    result = {"release": "web", "namespace": "shop", "outcome": outcome, "reason": "set unlock_pending=true to free it",
              "actions": [{"action": "upgrade", "outcome": "skipped"}]}
    message = not_recovered(result, "release_recovery")
    assert bool(message) == fails
    if fails:
        assert message == ('Release shop/web was not recovered (%s): set release_recovery_unlock_pending=true to free '
                           'it. Actions: [{"action": "upgrade", "outcome": "skipped"}]' % outcome)


# --- several clusters, and inventory hosts -------------------------------------------------------------

@pytest.mark.parametrize("clusters, connection, expected, problems, secret", [
    ([], {"kubeconfig": "/k"}, [{"name": "", "connection": {"kubeconfig": "/k"}}], [], False),
    (None, None, [{"name": "", "connection": {}}], [], False),
    ([], {"api_key": "t"}, [{"name": "", "connection": {"api_key": "t"}}], [], True),
    ([{"name": "eu", "kubeconfig": "/eu"}, {"name": "us", "host": "https://us", "api_key": "t"}], {"ignored": 1},
     [{"name": "eu", "connection": {"kubeconfig": "/eu"}}, {"name": "us", "connection": {"host": "https://us", "api_key": "t"}}],
     [], True),
    ([{"name": "eu", "kubeconfig": {"apiVersion": "v1"}}], {}, [{"name": "eu", "connection": {"kubeconfig": {"apiVersion": "v1"}}}],
     [], True),
    ([{"kubeconfig": "/x"}], {}, [], ["clusters[0] has no name (each cluster is a dictionary with a name and connection options)"],
     False),
    ([{"name": "eu"}, {"name": "eu"}], {}, [], ["two clusters are named eu; give each a name of its own"], False),
    ([{"name": "e/u", "token": "x"}], {}, [],
     ["cluster e/u has unknown option(s) token; a cluster takes name and binary_path, kubeconfig, kubeconfig_path, context, "
      "kube_context, host, api_key, ca_cert, ssl_ca_cert, validate_certs, verify_ssl",
      "cluster name 'e/u' must be letters, digits, '-', '_' and '.' (it prefixes host names)"], False),
    ("eu", {}, [], ["fleet_remediation_clusters must be a list of clusters, each a dictionary with a name and connection "
                    "options, got str"], False),
])
def test_fleet_clusters(clusters, connection, expected, problems, secret):
    assert fleet_clusters(clusters, connection) == {"clusters": expected, "problems": problems, "secret": secret}


@pytest.mark.parametrize("clusters, cluster, connection, expected", [
    ([], "default", {"kubeconfig": "/k"}, {"connection": {"kubeconfig": "/k"}, "problem": "", "secret": False}),
    ([], "default", None, {"connection": {}, "problem": "", "secret": False}),
    ([], "us", {"kubeconfig": "/k"},
     {"connection": {}, "secret": False, "problem": "the event names cluster 'us', and no clusters were given (only the "
                                                    "source's one cluster, 'default', is known); give the playbook the "
                                                    "clusters the event source watches"}),
    ([{"name": "eu", "api_key": "t"}, {"name": "us", "context": "us"}], "us", {"kubeconfig": "/ignored"},
     {"connection": {"context": "us"}, "problem": "", "secret": True}),
    ([{"name": "eu", "api_key": "t"}], "us", None,
     {"connection": {}, "secret": True, "problem": "the event names cluster 'us', which is none of the clusters given (eu); "
                                                   "give the playbook the clusters the event source watches"}),
    ([{"name": "eu", "token": "t"}], "eu", None,
     {"connection": {}, "secret": False, "problem": "cluster eu has unknown option(s) token; a cluster takes name and "
                                                    + ", ".join(CONNECTION_OPTIONS)}),
])
def test_event_connection(clusters, cluster, connection, expected):
    assert event_connection(clusters, cluster, connection) == expected


def listed_result(cluster, connection, releases, scanned, problems=(), drift=None, **failure):
    result = {"item": {"name": cluster, "connection": connection}, "releases": releases, "scanned": scanned,
              "problems": list(problems)}
    if drift is not None:
        result["drift_scan"] = drift
    result.update(failure)
    return result


def test_fleet_discovered_joins_the_clusters():
    problem = {"namespace": "b", "error_kind": "access_denied", "msg": "forbidden"}
    joined = fleet_discovered([
        listed_result("us", {"api_key": "t"}, [release("a", "web")], 5, [problem], {"releases": 2, "drifted": 1, "api_requests": 4, "dry_runs": 1}),
        listed_result("eu", {"kubeconfig": "/eu"}, [release("a", "web"), release("a", "api")], 7,
                      drift={"releases": 1, "drifted": 0, "api_requests": 3, "dry_runs": 0}),
    ])
    assert [item["host"] for item in joined["releases"]] == ["eu/a/api", "eu/a/web", "us/a/web"]
    assert [item["cluster"] for item in joined["releases"]] == ["eu", "eu", "us"]
    assert joined["scanned"] == 12 and joined["problems"] == [dict(problem, cluster="us")]
    assert joined["drift_scan"] == {"releases": 3, "drifted": 1, "api_requests": 7, "dry_runs": 1}
    assert joined["connections"] == {"us": {"api_key": "t"}, "eu": {"kubeconfig": "/eu"}}
    assert (joined["secret"], joined["error"]) == (True, None)


def test_fleet_discovered_of_one_cluster_keeps_the_host_names():
    joined = fleet_discovered([listed_result("", {}, [release("a", "web")], 1)])
    assert [(item["host"], "cluster" in item) for item in joined["releases"]] == [("a/web", False)]
    assert (joined["drift_scan"], joined["connections"], joined["secret"]) == (None, {"": {}}, False)
    one_named = fleet_discovered([listed_result("eu", {}, [release("a", "web")], 1)])
    assert [(item["host"], item["cluster"]) for item in one_named["releases"]] == [("a/web", "eu")]


def test_fleet_discovered_recovers_no_release_whose_drift_could_not_be_checked():
    """helm_release_list returns it with statuses [drifted] as a row with its error_kind, and its problem: the problem
    is reported, the release is not recovered."""
    unjudged = dict(release("a", "wide", "deployed"), drifted=None, drift=None, error_kind="access_denied",
                    msg="could not read ClusterRole")
    problem = {"namespace": "a", "release": "wide", "error_kind": "access_denied", "msg": "could not read ClusterRole"}
    joined = fleet_discovered([listed_result("", {}, [release("a", "web"), unjudged], 2, [problem])])
    assert [item["host"] for item in joined["releases"]] == ["a/web"]
    assert joined["problems"] == [problem]


def test_fleet_discovered_names_the_cluster_that_failed():
    joined = fleet_discovered([listed_result("eu", {}, [], 0),
                               listed_result("us", {}, None, None, failed=True, msg="unreachable", error_kind="cluster_unreachable")])
    assert joined["error"] == {"msg": "cluster us: unreachable", "error_kind": "cluster_unreachable"}
    alone = fleet_discovered([listed_result("", {}, None, None, failed=True, msg="bad option")])
    assert alone["error"] == {"msg": "bad option", "error_kind": "invalid_input"}


def test_rows_name_their_cluster():
    listed = dict(release("a", "web"), cluster="us")
    failed = outcome_row({"failed": True, "msg": "boom"}, listed, "us/a/web")
    assert (failed["cluster"], failed["namespace"], failed["release"], failed["outcome"]) == ("us", "a", "web", "failed")
    rows = [failed, outcome_row({"failed": True, "msg": "boom"}, release("a", "web"), "a/web")]
    summary = report(rows, [], False, "now", "", problems=[{"namespace": "b", "cluster": "us"}])["summary"]
    assert summary["failed_releases"] == ["a/web", "us/a/web"]
    assert summary["discovery_problems"] == [{"namespace": "b", "cluster": "us"}]


HOSTS = {"eu/a/web": dict(release("a", "web"), cluster="eu"), "eu/a/ok": dict(release("a", "ok", "deployed"), cluster="eu"),
         "us/b/api": dict(release("b", "api"), cluster="us"), "us/b/db": dict(release("b", "db", "pending-install"), cluster="us")}
UNHEALTHY_HOSTS = ["eu/a/web", "us/b/api", "us/b/db"]


@pytest.mark.parametrize("hosts, max_unhealthy, canary, expected_canary, expected_rest, held", [
    (sorted(HOSTS), None, 0, [], ["eu/a/web", "us/b/api", "us/b/db"], []),
    (sorted(HOSTS), None, 1, ["eu/a/web"], ["us/b/api", "us/b/db"], []),
    # a slice: the brakes count within its hosts (2 unhealthy of 3 here: 66% > 50%)
    (["eu/a/ok", "us/b/api", "us/b/db"], "50%", 0, [], [], ["us/b/api", "us/b/db"]),
    (["eu/a/ok", "eu/a/web"], "50%", 1, ["eu/a/web"], [], []),
    (["us/b/db"], None, 1, ["us/b/db"], [], []),
])
def test_inventory_plan(hosts, max_unhealthy, canary, expected_canary, expected_rest, held):
    plan = inventory_plan(hosts, {host: HOSTS[host] for host in hosts}, UNHEALTHY_HOSTS, max_unhealthy, canary)
    assert (plan["canary"], plan["rest"], sorted(plan["held_hosts"])) == (expected_canary, expected_rest, held)
    assert [row["cluster"] for row in plan["held"]] == [HOSTS[host]["cluster"] for host in held]
    assert all(plan["held_hosts"][host]["release"] == HOSTS[host]["name"] for host in held)
    assert plan["namespaces"] == sorted({HOSTS[host]["namespace"] for host in hosts if host in UNHEALTHY_HOSTS})


@pytest.mark.parametrize("outcome, fails", [
    ("recovered", False), ("healthy", False), ("planned", False), ("deferred", False), ("pending", False),
    ("uninstalled", False), ("failed", True), ("would_fail", True), ("quarantined", True), ("held", True),
])
def test_host_failure(outcome, fails):
    message = host_failure({"cluster": "eu", "namespace": "a", "release": "web", "outcome": outcome, "reason": "why"})
    assert message == ("Release eu/a/web %s: why" % outcome if fails else "")
    assert host_failure(None) == ""

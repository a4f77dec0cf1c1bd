# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet decisions: overrides, the brakes, the report rows and summary."""

from __future__ import annotations

import os

import pytest

from ansible_collections.matih.helm.plugins.module_utils.fleet import (
    canary_hold, fleet_plan, host_row, outcome_row, override_problems, report, unhealthy_limit,
)


def release(namespace, name, status="failed"):
    return {"name": name, "namespace": namespace, "revision": 3, "status": status, "chart_version": "1.2.0",
            "app_version": "1.2.0"}


FLEET = [release("b", "web"), release("a", "db", "pending-upgrade"), release("a", "api")]


@pytest.mark.parametrize("overrides, problems", [
    ({}, []),
    ({"shop/web": {"timeout": "1m", "unlock_pending_after": "30m"}}, []),
    ({"web": {}}, ["key 'web' is not namespace/name"]),
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
    (["pending"], True), (["held"], True),
])
def test_canary_hold(outcomes, held):
    rows = [{"namespace": "a", "release": "r%d" % i, "outcome": outcome} for i, outcome in enumerate(outcomes)]
    reason = canary_hold(rows)
    assert bool(reason) == held
    if held:
        assert "fleet_remediation_canary" in reason and "(%s)" % outcomes[-1] in reason


def test_rows_of_hosts_that_did_not_report():
    listed = release("shop", "web")
    failed = outcome_row({"failed": True, "msg": "cluster unreachable"}, listed, "shop/web")
    assert (failed["outcome"], failed["reason"], failed["before"]["status"]) == ("failed", "cluster unreachable", "failed")
    lost = host_row("shop/api", {})
    assert (lost["namespace"], lost["release"], lost["outcome"]) == ("shop", "api", "failed")
    assert "did not report back" in lost["reason"]
    kept = {"release": "web", "namespace": "shop", "outcome": "recovered"}
    assert outcome_row({"report": kept}, listed) is kept and host_row("shop/web", {"fleet_remediation_outcome": kept}) is kept


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


DRIFT = {"revision": 3, "drifted": True, "summary": {"modified": 1},
         "objects": [{"kind": "ConfigMap", "namespace": "a", "name": "web", "state": "modified", "fields": ["data.mode"]}]}


def test_rows_keep_the_drift_discovery_found_unless_the_recovery_checked_again():
    listed = dict(release("a", "web", "deployed"), drifted=True, drift=DRIFT)
    assert over_limit_rows([listed])[0]["drift"] == DRIFT
    held = {"release": "web", "namespace": "a", "outcome": "held", "reason": "canary a/q failed"}
    assert outcome_row({"report": held}, listed)["drift"] == DRIFT and "drift" not in held
    assert outcome_row({"failed": True, "msg": "forbidden"}, listed)["drift"] == DRIFT
    checked = dict(held, outcome="recovered", drift=dict(DRIFT, after={"revision": 4, "drifted": False, "objects": []}))
    assert outcome_row({"report": checked}, listed) is checked
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

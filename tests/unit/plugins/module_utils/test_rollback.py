# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.matih.helm.plugins.module_utils.args import timeout_problem
from ansible_collections.matih.helm.plugins.module_utils.durations import duration_nanoseconds
from ansible_collections.matih.helm.plugins.module_utils.masking import MASK, MASK_CHANGED, mask_secret_data, mask_values
from ansible_collections.matih.helm.plugins.module_utils.release import parse_history
from ansible_collections.matih.helm.plugins.module_utils.rollback import (
    LAST_SUCCESSFUL, RollbackRefused, build_diff, created_revision, parse_requested_revision, plan_rollback, select_target,
    values_needed, verify_rollback,
)

INSTALLED = "Install complete"
UPGRADED = "Upgrade complete"
UPGRADE_FAILED = 'Upgrade "web" failed: context deadline exceeded'
ROLLBACK_FAILED = 'Rollback "web" failed: configmaps "web" is forbidden'


def make_history(*revisions, first=1):
    """Revisions as (status, chart version, description) from revision ``first`` on."""
    return parse_history([
        {"revision": number, "updated": "2025-01-31T10:00:00Z", "status": status, "chart": "web-%s" % version,
         "app_version": version, "description": description}
        for number, (status, version, description) in enumerate(revisions, start=first)
    ])


HEALTHY = make_history(("superseded", "1.0.0", INSTALLED), ("superseded", "1.1.0", UPGRADED),
                       ("deployed", "1.2.0", UPGRADED))
AFTER_FAILED_UPGRADE = make_history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.1.0", UPGRADED),
                                    ("failed", "1.2.0", UPGRADE_FAILED))
# A failed rollback supersedes the deployed revision 2: it still counts as reached DEPLOYED.
AFTER_FAILED_ROLLBACK = make_history(("superseded", "1.0.0", INSTALLED), ("superseded", "1.1.0", UPGRADED),
                                     ("failed", "1.0.0", ROLLBACK_FAILED))
PRUNED = make_history(("superseded", "1.5.0", UPGRADED), ("deployed", "1.6.0", UPGRADED), first=7)
ALL_FAILED = make_history(("superseded", "1.0.0", 'Release "web" failed: timed out'), ("failed", "1.1.0", UPGRADE_FAILED))
PENDING = make_history(("deployed", "1.0.0", INSTALLED), ("pending-upgrade", "1.1.0", "Preparing upgrade"))


@pytest.mark.parametrize("history, requested, allow_failed_target, on_pending, expected", [
    pytest.param(HEALTHY, 1, False, "fail", 1, id="number"),
    pytest.param(HEALTHY, LAST_SUCCESSFUL, False, "fail", 3, id="last-successful-healthy-is-latest"),
    pytest.param(AFTER_FAILED_UPGRADE, LAST_SUCCESSFUL, False, "fail", 2, id="last-successful-after-failed-upgrade"),
    pytest.param(AFTER_FAILED_ROLLBACK, LAST_SUCCESSFUL, False, "fail", 2, id="superseded-by-failed-rollback-counts"),
    pytest.param(AFTER_FAILED_UPGRADE, 3, True, "fail", 3, id="failed-target-allowed"),
    pytest.param(PRUNED, 7, False, "fail", 7, id="pruned-history-stored-revision"),
    pytest.param(PENDING, LAST_SUCCESSFUL, False, "rollback", 1, id="pending-with-on-pending-rollback"),
    pytest.param(PENDING, 1, False, "rollback", 1, id="pending-number-with-on-pending-rollback"),
])
def test_select_target(history, requested, allow_failed_target, on_pending, expected):
    assert select_target(history, requested, allow_failed_target, on_pending).revision == expected


@pytest.mark.parametrize("history, requested, allow_failed_target, on_pending, fragments", [
    pytest.param(HEALTHY, 9, False, "fail", ["revision 9 is not in the history", "stored revisions: 1-3",
                                             "newer than the latest revision 3", "Safe targets: 3, 2, 1"], id="missing"),
    pytest.param(PRUNED, 2, False, "fail", ["stored revisions: 7-8", "older than the oldest stored revision 7",
                                            "pruned", "--history-max"], id="pruned"),
    pytest.param(AFTER_FAILED_UPGRADE, 3, False, "fail", ["revision 3 never reached DEPLOYED", "status failed",
                                                          UPGRADE_FAILED, "(2, 1)", "allow_failed_target"],
                 id="failed-target"),
    pytest.param(ALL_FAILED, LAST_SUCCESSFUL, False, "fail", ["no stored revision ever reached DEPLOYED",
                                                              "1 superseded, 2 failed", "fresh upgrade",
                                                              "known-good", "uninstall and reinstall"], id="all-failed"),
    pytest.param(ALL_FAILED, 1, False, "fail", ["revision 1 never reached DEPLOYED", "(none)"],
                 id="superseded-but-never-deployed"),
    pytest.param(PENDING, LAST_SUCCESSFUL, False, "fail", ["latest revision 2 is pending-upgrade",
                                                           "another Helm operation may still be running", "Wait",
                                                           "on_pending: rollback"], id="pending"),
    pytest.param(PENDING, 2, True, "rollback", [], id="pending-target-with-allow-is-fine"),
    pytest.param([], 1, False, "fail", ["no revisions"], id="empty"),
])
def test_select_target_refuses(history, requested, allow_failed_target, on_pending, fragments):
    if not fragments:
        assert select_target(history, requested, allow_failed_target, on_pending).revision == requested
        return
    with pytest.raises(RollbackRefused) as refusal:
        select_target(history, requested, allow_failed_target, on_pending)
    for fragment in fragments:
        assert fragment in str(refusal.value)


@pytest.mark.parametrize("history, target, values, changed, reason", [
    pytest.param(HEALTHY, 3, {3: {"a": 1}}, False, "latest revision and is deployed", id="healthy-last-successful"),
    pytest.param(make_history(("superseded", "1.0.0", INSTALLED), ("superseded", "1.1.0", UPGRADED),
                              ("deployed", "1.0.0", "Rollback to 1")),
                 1, {1: {"a": 1}, 3: {"a": 1}}, False, "already has the chart web-1.0.0 and the values of revision 1",
                 id="already-rolled-back"),
    pytest.param(make_history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.0.0", UPGRADED)),
                 1, {1: None, 2: {}}, False, "already has", id="null-values-equal-empty"),
    pytest.param(make_history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.0.0", UPGRADED)),
                 1, {1: {"a": 1}, 2: {"a": 2}}, True, "other values than revision 1", id="different-values"),
    pytest.param(HEALTHY, 1, {1: {}, 3: {}}, True, "runs chart web-1.2.0, revision 1 had web-1.0.0",
                 id="different-chart"),
    pytest.param(AFTER_FAILED_UPGRADE, 2, {2: {}, 3: {}}, True, "latest revision 3 is failed", id="latest-failed"),
    pytest.param(AFTER_FAILED_UPGRADE, 3, {3: {}}, True, "latest revision but is failed", id="reapply-failed-latest"),
    pytest.param(PENDING, 1, {1: {}, 2: {}}, True, "is pending-upgrade", id="pending"),
])
def test_plan_rollback(history, target, values, changed, reason):
    target_revision = next(rev for rev in history if rev.revision == target)
    plan = plan_rollback(history, target_revision, values)
    assert plan.changed is changed
    assert reason in plan.reason
    assert plan.previous.revision == history[-1].revision
    assert plan.new_revision == history[-1].revision + 1


@pytest.mark.parametrize("history, target, diff, expected", [
    pytest.param(HEALTHY, 1, False, [1], id="deployed-on-another-chart"),
    pytest.param(AFTER_FAILED_UPGRADE, 2, False, [2], id="latest-failed"),
    pytest.param(PENDING, 1, False, [1], id="latest-pending"),
    pytest.param(make_history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.0.0", UPGRADED)), 1, False, [1, 2],
                 id="deployed-on-the-target-chart-decides-by-values"),
    pytest.param(HEALTHY, 3, False, [3], id="target-is-latest"),
    pytest.param(HEALTHY, 1, True, [1, 3], id="diff-shows-both"),
])
def test_values_needed(history, target, diff, expected):
    target_revision = next(rev for rev in history if rev.revision == target)
    assert values_needed(history, target_revision, diff) == expected


@pytest.mark.parametrize("history, target", [
    (HEALTHY, 1), (HEALTHY, 3), (AFTER_FAILED_UPGRADE, 2), (AFTER_FAILED_UPGRADE, 3), (PENDING, 1),
    (make_history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.0.0", UPGRADED)), 1),
])
def test_plan_rollback_needs_only_the_values_it_asks_for(history, target):
    target_revision = next(rev for rev in history if rev.revision == target)
    every = {rev.revision: {"revision": rev.revision} for rev in history}
    needed = {rev: every[rev] for rev in values_needed(history, target_revision)}
    assert plan_rollback(history, target_revision, needed) == plan_rollback(history, target_revision, every)


def test_plan_rollback_same_chart_different_name_is_a_change():
    history = parse_history([
        {"revision": 1, "status": "superseded", "chart": "api-1.0.0", "description": INSTALLED},
        {"revision": 2, "status": "deployed", "chart": "web-1.0.0", "description": UPGRADED},
    ])
    assert plan_rollback(history, history[0], {1: {}, 2: {}}).changed


def _plan_to_2_of_failed_upgrade():
    return plan_rollback(AFTER_FAILED_UPGRADE, AFTER_FAILED_UPGRADE[1], {2: {"tag": "a"}, 3: {"tag": "b"}})


ROLLED_BACK = AFTER_FAILED_UPGRADE[:2] + make_history(
    ("failed", "1.2.0", UPGRADE_FAILED), ("deployed", "1.1.0", "Rollback to 2"), first=3)


@pytest.mark.parametrize("history_after, new_values, failures", [
    pytest.param(ROLLED_BACK, {"tag": "a"}, [], id="good"),
    pytest.param(AFTER_FAILED_UPGRADE, None, ["no revision 4 was created (the latest revision is 3)"], id="none"),
    pytest.param(AFTER_FAILED_UPGRADE[:2] + make_history(("failed", "1.2.0", UPGRADE_FAILED),
                                                         ("failed", "1.1.0", 'Release "web" failed: timed out'), first=3),
                 {"tag": "a"}, ["revision 4 has status failed, not deployed (Release \"web\" failed: timed out)",
                                "revision 4 is described as 'Release \"web\" failed: timed out', not 'Rollback to 2'"],
                 id="failed"),
    pytest.param(ROLLED_BACK[:3] + make_history(("deployed", "1.2.0", "Rollback to 3"), first=4),
                 {"tag": "b"}, ["revision 4 runs chart web-1.2.0, not the target's web-1.1.0",
                                "revision 4 has other user values than revision 2",
                                "revision 4 is described as 'Rollback to 3', not 'Rollback to 2'"], id="wrong-copy"),
    pytest.param(ROLLED_BACK[:3] + make_history(("superseded", "1.1.0", "Rollback to 2"),
                                                ("deployed", "1.2.0", UPGRADED), first=4),
                 {"tag": "a"}, ["revision 4 is not the latest (5 is): another Helm operation ran at the same time",
                                "revision 4 has status superseded, not deployed (Rollback to 2)"], id="concurrent"),
])
def test_verify_rollback(history_after, new_values, failures):
    assert verify_rollback(_plan_to_2_of_failed_upgrade(), history_after, {"tag": "a"}, new_values) == failures


def test_verify_rollback_accepts_helm4_rollback_revision_field():
    history_after = parse_history([
        {"revision": 3, "status": "failed", "chart": "web-1.2.0", "description": UPGRADE_FAILED},
        {"revision": 4, "status": "deployed", "chart": "web-1.1.0", "description": "custom", "rollback_revision": 2},
    ])
    assert verify_rollback(_plan_to_2_of_failed_upgrade(), history_after, {"tag": "a"}, {"tag": "a"}) == []


def test_created_revision():
    plan = _plan_to_2_of_failed_upgrade()
    assert created_revision(plan, ROLLED_BACK).revision == 4
    assert created_revision(plan, AFTER_FAILED_UPGRADE) is None


SECRET_VALUES = {"password": "hunter2", "image": {"tag": "1.4.2", "pull": True}, "hosts": ["a.example", "b.example"],
                 "replicas": 3, "empty": None}


def test_mask_values_without_comparison_masks_every_scalar():
    assert mask_values(SECRET_VALUES) == {"password": MASK, "image": {"tag": MASK, "pull": MASK},
                                          "hosts": [MASK, MASK], "replicas": MASK, "empty": MASK}


CHANGED = MASK_CHANGED


# compared_to is the other side of the diff (before the rollback); the result is the masked after side.
@pytest.mark.parametrize("values, compared_to, expected", [
    pytest.param(SECRET_VALUES, SECRET_VALUES, {"password": MASK, "image": {"tag": MASK, "pull": MASK},
                                                "hosts": [MASK, MASK], "replicas": MASK, "empty": MASK}, id="same"),
    pytest.param({"a": {"b": 2, "c": 3}, "d": [1, 2]}, {"a": {"b": 2, "c": 4}, "d": [1]},
                 {"a": {"b": MASK, "c": CHANGED}, "d": [MASK, CHANGED]}, id="nested-change-and-added-item"),
    pytest.param({"a": "new"}, {"a": None}, {"a": CHANGED}, id="null-to-value"),
    pytest.param({"a": None}, {"a": "old"}, {"a": CHANGED}, id="value-to-null"),
    pytest.param({"a": None}, {"a": None}, {"a": MASK}, id="null-both"),
    pytest.param({"a": 1, "b": 2}, {"a": 1}, {"a": MASK, "b": CHANGED}, id="added-key"),
    pytest.param({"a": 1}, {"a": 1, "b": 2}, {"a": MASK}, id="removed-key-is-a-missing-line"),
    pytest.param({"a": 1}, {"a": {"b": 1}}, {"a": CHANGED}, id="dict-to-scalar"),
    pytest.param({"a": {"b": 1, "c": {"d": "x"}}}, {"a": 1}, {"a": {"b": CHANGED, "c": {"d": CHANGED}}},
                 id="scalar-to-dict"),
    pytest.param({"a": [1, 2]}, {"a": "1,2"}, {"a": [CHANGED, CHANGED]}, id="scalar-to-list"),
    pytest.param({"a": "1,2"}, {"a": [1, 2]}, {"a": CHANGED}, id="list-to-scalar"),
    pytest.param({"a": [{"b": 1}]}, {"a": {"b": 1}}, {"a": [{"b": CHANGED}]}, id="dict-to-list"),
    pytest.param({"a": [2, 1]}, {"a": [1, 2]}, {"a": [CHANGED, CHANGED]}, id="list-reordered"),
    pytest.param({"a": [1]}, {"a": [1, 2]}, {"a": [MASK]}, id="removed-item-is-a-missing-line"),
    pytest.param({"a": 1, "b": 1, "c": "1"}, {"a": True, "b": 1.0, "c": 1}, {"a": CHANGED, "b": CHANGED, "c": CHANGED},
                 id="equal-in-python-but-another-type"),
    pytest.param({"a": {"b": {"c": "new"}}}, {"a": {"b": {}}}, {"a": {"b": {"c": CHANGED}}}, id="deep-added-key"),
    pytest.param({}, {}, {}, id="empty"),
    pytest.param({"a": 1}, None, {"a": CHANGED}, id="no-values-before"),
])
def test_mask_values(values, compared_to, expected):
    assert mask_values(values, compared_to) == expected


SECRET_MANIFEST = """---
# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: web
  labels:
    app: web
type: Opaque
data:
  password: aHVudGVyMg==
  cert: |
    -----BEGIN CERTIFICATE-----
    MIIB
stringData:
  token: "s3cr3t"
---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: flow
data: {key: czNjcjN0}
"""


def test_mask_secret_data():
    masked = mask_secret_data(SECRET_MANIFEST)
    for secret in ("aHVudGVyMg==", "BEGIN CERTIFICATE", "MIIB", "s3cr3t", "czNjcjN0"):
        assert secret not in masked
    for kept in ("  password: ********\n", "  cert: ********\n", "  token: ********\n", "data: ********\n",
                 "  greeting: hello\n", "    app: web\n", "type: Opaque\n"):
        assert kept in masked
    assert masked.count("---\n") == 3


def _diff_plan():
    history = make_history(("superseded", "1.0.0", INSTALLED), ("deployed", "1.1.0", UPGRADED))
    values = {1: {"password": "old-secret", "tag": "same"}, 2: {"password": "new-secret", "tag": "same"}}
    return plan_rollback(history, history[0], values), values


def test_build_diff_masks_values_and_names_revisions():
    plan, values = _diff_plan()
    manifests = {1: SECRET_MANIFEST.replace("s3cr3t", "old-token"), 2: SECRET_MANIFEST}
    diff = build_diff("web", plan, values, manifests)
    text = json.dumps(diff)
    for secret in ("old-secret", "new-secret", "old-token", "s3cr3t", "same", "aHVudGVyMg=="):
        assert secret not in text
    chart_diff, manifest_diff = diff
    assert chart_diff["before_header"] == "web revision 2 (deployed): chart and user values"
    assert chart_diff["after_header"] == "web revision 3 (rollback to 1): chart and user values"
    assert chart_diff["before"] == {"chart": "web-1.1.0", "chart_version": "1.1.0", "app_version": "1.1.0",
                                    "values": {"password": MASK, "tag": MASK}}
    assert chart_diff["after"]["chart_version"] == "1.0.0"
    assert chart_diff["after"]["values"] == {"password": MASK_CHANGED, "tag": MASK}
    assert manifest_diff["before_header"] == "web revision 2 (deployed): rendered manifest"
    assert manifest_diff["after_header"] == "web revision 3 (rollback to 1): rendered manifest of revision 1"


def test_build_diff_shows_values_when_asked():
    plan, values = _diff_plan()
    diff = build_diff("web", plan, values, {1: SECRET_MANIFEST, 2: ""}, show_values=True)
    assert diff[0]["before"]["values"]["password"] == "new-secret"
    assert diff[0]["after"]["values"]["password"] == "old-secret"
    assert diff[1]["after"] == SECRET_MANIFEST


def test_build_diff_without_change_is_identical():
    history = HEALTHY
    plan = plan_rollback(history, history[-1], {3: {"a": "b"}})
    diff = build_diff("web", plan, {3: {"a": "b"}})
    assert len(diff) == 1
    assert diff[0]["before"] == diff[0]["after"]
    assert diff[0]["before_header"] == diff[0]["after_header"]


@pytest.mark.parametrize("value, expected", [
    (1, 1), (12, 12), ("3", 3), (" 4 ", 4), ("last_successful", LAST_SUCCESSFUL),
])
def test_parse_requested_revision(value, expected):
    assert parse_requested_revision(value) == expected


@pytest.mark.parametrize("value, fragment", [
    (0, "must be 1 or more, got 0: Helm reads 0"),
    ("0", "must be 1 or more"),
    (-2, "must be 1 or more, got -2"),
    ("latest", "revision number (1 or more) or 'last_successful', got 'latest'"),
    ("1.5", "got '1.5'"),
    (1.5, "got 1.5"),
    (True, "got True"),
    (None, "got None"),
    ("", "got ''"),
    (["last_successful", 3], "revision takes one target, got ['last_successful', 3]"),
    ({"last_successful": True, "revision": 3}, "revision takes one target"),
    ("last_successful,3", "revision takes one target, got 'last_successful,3'"),
    ("2 3", "a second task (block/rescue)"),
])
def test_parse_requested_revision_refuses(value, fragment):
    with pytest.raises(ValueError) as error:
        parse_requested_revision(value)
    assert fragment in str(error.value)


ZERO = "timeout must be a Go duration greater than zero, e.g. 5m or 90s"


# The rows agree with Helm's --timeout flag (Go's time.ParseDuration), except that a sign is refused.
@pytest.mark.parametrize("timeout, fragment", [
    ("5m", None), ("90s", None), ("1h30m", None), ("1.5h", None), ("300ms", None), ("5m0s", None), ("05m", None),
    (".5s", None), ("5.s", None), ("2\u00b5s", None), ("2\u03bcs", None), ("1ns", None), ("2562047h", None),
    # zero: Helm takes it, then gives up at once and leaves a failed revision
    ("0", ZERO + "; got '0'"), ("00", ZERO + "; got '00'"), ("0s", ZERO + "; got '0s'"), ("0m0s", ZERO),
    ("0.0h", ZERO), ("0.1ns", ZERO),
    # malformed: Go refuses them
    ("300", "timeout '300' is not a Helm duration (a unit is required, e.g. 300s)"), ("5 m", "not a Helm duration"),
    ("-5m", "not a Helm duration"), ("+5m", "not a Helm duration"), ("5min", "not a Helm duration"),
    ("5m0", "not a Helm duration"), ("5.", "not a Helm duration"), ("5m\n", "not a Helm duration"),
    ("1e3s", "not a Helm duration"), ("\u0665m", "not a Helm duration"), ("2562048h", "not a Helm duration"),
    ("", "not a Helm duration"), (None, "not a Helm duration"),
])
def test_timeout_problem(timeout, fragment):
    problem = timeout_problem(timeout)
    assert (problem is None) if fragment is None else (fragment in problem)


@pytest.mark.parametrize("text, expected", [
    ("90s", 90 * 10 ** 9), ("1h30m", 5400 * 10 ** 9), ("1.5h", 5400 * 10 ** 9), (".5s", 5 * 10 ** 8),
    ("300ms", 3 * 10 ** 8), ("2\u00b5s", 2000), ("1.9ns", 1), ("0.1ns", 0), ("0s", 0),
    ("2562047h", 2562047 * 3600 * 10 ** 9), ("2562048h", None), ("0", None), ("5", None), ("5m0", None), ("", None),
])
def test_duration_nanoseconds(text, expected):
    assert duration_nanoseconds(text) == expected

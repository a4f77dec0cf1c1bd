# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.matih.helm.plugins.module_utils.release import (
    STATUSES,
    derive_operation,
    deployed_revision,
    is_pending,
    iso8601,
    last_successful,
    list_entry,
    listed_matches,
    newest,
    parse_history,
    parse_revision,
    rollback_candidates,
    split_chart,
    to_result,
    values_to_read,
)

DESCRIPTION_BY_STATUS = {
    "unknown": "",
    "deployed": "Upgrade complete",
    "uninstalled": "Uninstallation complete",
    "superseded": "Upgrade complete",
    "failed": 'Upgrade "web" failed: context deadline exceeded',
    "uninstalling": "Deletion in progress (or silently failed)",
    "pending-install": "Initial install underway",
    "pending-upgrade": "Preparing upgrade",
    "pending-rollback": "Rollback to 1",
}


def entry(revision, status, description=None, chart="web-1.0.0", **extra):
    item = {
        "revision": revision,
        "updated": "2025-01-31T10:00:%02d.5Z" % (revision % 60),
        "status": status,
        "chart": chart,
        "app_version": "1.0",
        "description": DESCRIPTION_BY_STATUS[status] if description is None else description,
    }
    item.update(extra)
    return item


def history_of(*statuses):
    return parse_history([entry(number, status) for number, status in enumerate(statuses, start=1)])


@pytest.mark.parametrize(
    "status, reached, pending",
    [
        ("unknown", False, False),
        ("deployed", True, False),
        ("uninstalled", False, False),
        ("superseded", True, False),
        ("failed", False, False),
        ("uninstalling", False, False),
        ("pending-install", False, True),
        ("pending-upgrade", False, True),
        ("pending-rollback", False, True),
        ("DEPLOYED", True, False),
    ],
)
def test_status(status, reached, pending):
    raw = entry(2, status.lower())
    raw["status"] = status
    rev = parse_revision(raw)
    assert rev.status == status.lower()
    assert rev.reached_deployed is reached
    assert rev.is_pending is pending


def test_every_helm_status_is_covered():
    assert set(DESCRIPTION_BY_STATUS) == set(STATUSES)


@pytest.mark.parametrize(
    "description, reached",
    [
        ("Upgrade complete", True),
        ("Install complete", True),
        ("Rollback to 2", True),
        ("custom text from --description", True),
        # Helm supersedes the latest revision on a failed rollback or on an upgrade after a
        # failed install, whatever it was; the kept description shows it never deployed.
        ('Upgrade "web" failed: timed out waiting for the condition', False),
        ('Release "web" failed: context deadline exceeded', False),
        ('Rollback "web" failed: conflict', False),
        ("Preparing upgrade", False),
        ("Initial install underway", False),
    ],
)
def test_superseded_counts_only_when_it_deployed(description, reached):
    assert parse_revision(entry(3, "superseded", description)).reached_deployed is reached


@pytest.mark.parametrize(
    "chart, name, version",
    [
        ("web-1.0.0", "web", "1.0.0"),
        ("my-app-1.2.3", "my-app", "1.2.3"),
        ("my-app-1.2.3-rc.1", "my-app", "1.2.3-rc.1"),
        ("my-app-1.2.3-rc.1+build.5", "my-app", "1.2.3-rc.1+build.5"),
        ("my-app-1.2.3+20250131", "my-app", "1.2.3+20250131"),
        ("app-2-1.0.0", "app-2", "1.0.0"),
        ("kube-prometheus-stack-45.7.1", "kube-prometheus-stack", "45.7.1"),
        ("cert-manager-v1.14.4", "cert-manager", "v1.14.4"),
        ("ingress-nginx-4.10.0-beta-2", "ingress-nginx", "4.10.0-beta-2"),
        ("legacy-1.2", "legacy", "1.2"),
        ("nochartversion", "nochartversion", None),
        ("", "", None),
        (None, "", None),
        # the version is the longest suffix after a '-' that is SemVer 2 (Helm requires SemVer)
        ("app-2-1.0.0", "app-2", "1.0.0"),
        ("app-2-1.0", "app-2", "1.0"),  # "2-1.0" is no MAJOR.MINOR; the old split gave ('app', '2-1.0')
        ("redis-7-7.2.4", "redis-7", "7.2.4"),
        ("app-1.0.0-1.0.0", "app", "1.0.0-1.0.0"),  # ambiguous in the text: the longest wins (records say)
        ("db-10-2.0.0-alpha-1.beta+exp.sha.5114f85", "db-10", "2.0.0-alpha-1.beta+exp.sha.5114f85"),
        ("web-1.0.0-rc.01", "web-1.0.0-rc.01", None),
        ("web-3", "web", "3"),  # Helm reads MAJOR alone as 3.0.0
        ("web-v2-1.0.0", "web-v2", "1.0.0"),
        ("-1.0.0", "-1.0.0", None),  # no name before the dash
        ("web-1.0.0-", "web-1.0.0-", None),
    ],
)
def test_split_chart(chart, name, version):
    assert split_chart(chart) == (name, version)


@pytest.mark.parametrize(
    "chart, chart_name, chart_version",
    [
        ("app-2-1.0.0", "app", "2-1.0.0"),  # what the text alone would split as ('app-2', '1.0.0')
        ("app-2-1.0.0", "app-2", "1.0.0"),
        ("my-chart-1.2.3-rc.1+build.5", "my-chart", "1.2.3-rc.1+build.5"),
        ("web-1.0.0", "web", "1.0.0"),
        ("app-1.0.0-1.0.0", "app-1.0.0", "1.0.0"),
    ],
)
def test_the_record_chart_name_and_version_win_over_the_text(chart, chart_name, chart_version):
    """An entry made from a release record (release_store.history_entry) carries the chart's metadata: it is used
    as it is, in history and list entries alike; the text is split only when the entry has no chart_name."""
    revision = parse_revision(entry(1, "deployed", chart=chart, chart_name=chart_name, chart_version=chart_version))
    assert (revision.chart, revision.chart_name, revision.chart_version) == (chart, chart_name, chart_version)
    listed = list_entry(dict(entry(1, "deployed", chart=chart, chart_name=chart_name, chart_version=chart_version),
                             name="web", namespace="shop"))
    assert (listed["chart"], listed["chart_name"], listed["chart_version"]) == (chart, chart_name, chart_version)
    text_only = parse_revision(entry(1, "deployed", chart=chart))
    assert (text_only.chart_name, text_only.chart_version) == split_chart(chart)


@pytest.mark.parametrize(
    "helm_time, expected",
    [
        ("2025-01-31T10:00:00.123456789Z", "2025-01-31T10:00:00.123456Z"),
        ("2025-01-31T10:00:00Z", "2025-01-31T10:00:00.000000Z"),
        ("2025-01-31T12:30:00.5+02:30", "2025-01-31T10:00:00.500000Z"),
        ("2025-01-31T05:00:00-05:00", "2025-01-31T10:00:00.000000Z"),
        ("2025-01-31 10:00:00.123456789 +0000 UTC", "2025-01-31T10:00:00.123456Z"),
        ("2025-01-31 11:00:00.1 +0100 CET", "2025-01-31T10:00:00.100000Z"),
        ("2025-01-31 15:30:00 +0530 +0530", "2025-01-31T10:00:00.000000Z"),
        ("2025-01-01 00:30:00 +0100 CET", "2024-12-31T23:30:00.000000Z"),
        ("2025-01-31 10:00:00.1 +0000 UTC m=+0.012345", "2025-01-31T10:00:00.100000Z"),
        ("not a time", "not a time"),
        ("", None),
        (None, None),
    ],
)
def test_iso8601(helm_time, expected):
    assert iso8601(helm_time) == expected


@pytest.mark.parametrize(
    "revision, status, description, rollback_revision, operation, rollback_to",
    [
        (1, "deployed", "Install complete", None, "install", None),
        (1, "pending-install", "Initial install underway", None, "install", None),
        (1, "failed", 'Release "web" failed: timed out waiting for the condition', None, "install", None),
        (1, "deployed", "my own description", None, "install", None),
        (2, "deployed", "Upgrade complete", None, "upgrade", None),
        (2, "pending-upgrade", "Preparing upgrade", None, "upgrade", None),
        (2, "failed", 'Upgrade "web" failed: context deadline exceeded', None, "upgrade", None),
        (3, "deployed", "Rollback to 1", None, "rollback", 1),
        (12, "superseded", "Rollback to 10", None, "rollback", 10),
        (3, "failed", 'Rollback "web" failed: conflict', None, "rollback", None),
        (3, "failed", 'Release "web" failed: context deadline exceeded', 2, "rollback", 2),
        (3, "deployed", "Rollback to 1", 1, "rollback", 1),
        (3, "failed", 'Release "web" failed: context deadline exceeded', None, "unknown", None),
        (4, "uninstalled", "Uninstallation complete", None, "uninstall", None),
        (4, "uninstalling", "Deletion in progress (or silently failed)", None, "uninstall", None),
        (4, "uninstalled", "uninstallation completed with 1 error(s): boom", None, "uninstall", None),
        (4, "uninstalled", "", None, "uninstall", None),
        (5, "deployed", "my own description", None, "unknown", None),
    ],
)
def test_operation_and_rollback_target(revision, status, description, rollback_revision, operation, rollback_to):
    raw = entry(revision, status, description)
    if rollback_revision is not None:
        raw["rollback_revision"] = rollback_revision  # Helm 4.3
    rev = parse_revision(raw)
    assert (rev.operation, rev.rollback_to) == (operation, rollback_to)
    assert derive_operation(revision, status, description, rollback_to) == operation


@pytest.mark.parametrize(
    "statuses, first, deployed, last_good, candidates, pending",
    [
        (["deployed"], 1, 1, 1, [], False),
        (["superseded", "superseded", "deployed"], 1, 3, 3, [2, 1], False),
        # a failed upgrade keeps the previous revision deployed; it is the first candidate
        (["superseded", "deployed", "failed"], 1, 2, 2, [2, 1], False),
        (["failed"], 1, None, None, [], False),
        (["failed", "failed", "failed"], 1, None, None, [], False),
        (["superseded", "deployed", "pending-upgrade"], 1, 2, 2, [2, 1], True),
        (["pending-install"], 1, None, None, [], True),
        (["superseded", "deployed", "failed", "pending-rollback"], 1, 2, 2, [2, 1], True),
        (["uninstalled"], 1, None, None, [], False),
        # pruned by --history-max: numbering starts later, only stored revisions count
        (["superseded", "superseded", "deployed"], 8, 10, 10, [9, 8], False),
        (["failed", "superseded", "failed"], 20, None, 21, [21], False),
    ],
)
def test_decisions(statuses, first, deployed, last_good, candidates, pending):
    history = parse_history([entry(number, status) for number, status in enumerate(statuses, start=first)])
    assert deployed_revision(history) == deployed
    good = last_successful(history)
    assert (good.revision if good else None) == last_good
    assert rollback_candidates(history) == candidates
    assert is_pending(history) is pending


def test_failed_rollback_keeps_superseded_revision_as_target():
    # rev 2 deployed; rollback to 1 fails: Helm writes rev 3 failed and marks rev 2 superseded
    history = parse_history([
        entry(1, "superseded", "Install complete"),
        entry(2, "superseded", "Upgrade complete"),
        entry(3, "failed", 'Rollback "web" failed: admission webhook denied the request'),
    ])
    assert deployed_revision(history) is None
    assert last_successful(history).revision == 2
    assert rollback_candidates(history) == [2, 1]


def test_failed_rollback_after_failed_upgrade_does_not_promote_the_failure():
    # rev 3 failed upgrade; rollback to 2 fails: Helm marks rev 3 (the latest) superseded
    history = parse_history([
        entry(1, "superseded", "Install complete"),
        entry(2, "deployed", "Upgrade complete"),
        entry(3, "superseded", 'Upgrade "web" failed: context deadline exceeded'),
        entry(4, "failed", 'Rollback "web" failed: conflict'),
    ])
    assert last_successful(history).revision == 2
    assert rollback_candidates(history) == [2, 1]


def test_parse_history_sorts_oldest_first_and_accepts_none():
    assert [rev.revision for rev in parse_history([entry(3, "deployed"), entry(1, "superseded")])] == [1, 3]
    assert parse_history(None) == []


@pytest.mark.parametrize(
    "count, expected",
    [(None, [1, 2, 3, 4]), (2, [3, 4]), (10, [1, 2, 3, 4]), (1, [4]), (0, [])],
)
def test_newest(count, expected):
    history = history_of("superseded", "superseded", "superseded", "deployed")
    assert [rev.revision for rev in newest(history, count)] == expected


@pytest.mark.parametrize(
    "statuses, scope, expected",
    [
        (["superseded", "deployed", "failed"], "all", [1, 2, 3]),
        (["superseded", "deployed", "failed"], "successful", [1, 2]),
        # a failed upgrade (3) then a failed rollback (4): Helm supersedes 3, which never deployed
        ([("superseded", None), ("deployed", None), ("superseded", 'Upgrade "web" failed: timed out'), ("failed", None)],
         "successful", [1, 2]),
        (["superseded", "deployed", "pending-upgrade"], "successful", [1, 2]),
        (["failed", "failed"], "successful", []),
        (["failed", "failed"], "all", [1, 2]),
        (["pending-install"], "successful", []),
        (["deployed"], "successful", [1]),
        ([], "all", []),
    ],
)
def test_values_to_read(statuses, scope, expected):
    described = [item if isinstance(item, tuple) else (item, None) for item in statuses]
    history = parse_history([entry(number, status, description) for number, (status, description) in enumerate(described, start=1)])
    assert values_to_read(history, scope) == expected


def test_to_result_uses_whole_history_and_attaches_values_to_shown_entries():
    history = history_of("superseded", "deployed", "failed")
    result = to_result(history, newest(history, 1), {3: {"image": {"tag": "broken"}}})
    assert result["exists"] is True
    assert [item["revision"] for item in result["history"]] == [3]
    assert result["history"][0]["values"] == {"image": {"tag": "broken"}}
    assert result["current"]["revision"] == 3
    assert result["current"]["values"] == {"image": {"tag": "broken"}}
    assert (result["deployed_revision"], result["last_successful_revision"]) == (2, 2)
    assert result["rollback_candidates"] == [2, 1]
    assert result["pending"] is False


def test_to_result_without_values_has_no_values_key():
    result = to_result(history_of("deployed"))
    assert "values" not in result["history"][0]
    assert set(result["current"]) == {
        "revision", "updated", "status", "chart", "chart_name", "chart_version", "app_version",
        "description", "operation", "rollback_to",
    }


def test_to_result_for_missing_release():
    assert to_result([]) == {
        "exists": False, "history": [], "current": None, "deployed_revision": None,
        "last_successful_revision": None, "rollback_candidates": [], "pending": False,
    }


def test_list_entry():
    raw = {
        "name": "web", "namespace": "shop", "revision": "7", "status": "pending-upgrade",
        "updated": "2025-01-31 10:00:00.1 +0000 UTC", "chart": "web-1.4.0", "app_version": "",
    }
    assert list_entry(raw) == {
        "name": "web", "namespace": "shop", "revision": 7, "updated": "2025-01-31T10:00:00.100000Z",
        "status": "pending-upgrade", "pending": True, "chart": "web-1.4.0", "chart_name": "web",
        "chart_version": "1.4.0", "app_version": None,
    }


SUPERSEDED_DESCRIPTIONS = st.sampled_from([
    "Upgrade complete", "Rollback to 1", 'Upgrade "web" failed: boom', "Preparing upgrade",
])


@given(st.lists(st.tuples(st.sampled_from(STATUSES), SUPERSEDED_DESCRIPTIONS), max_size=30), st.integers(1, 50))
def test_last_successful_is_newest_that_reached_deployed(revisions, first):
    history = parse_history([
        entry(number, status, description if status == "superseded" else None)
        for number, (status, description) in enumerate(revisions, start=first)
    ])
    good = last_successful(history)
    reached = [rev.revision for rev in history if rev.reached_deployed]
    if good is None:
        assert reached == []
    else:
        assert good.reached_deployed
        assert good.status in ("deployed", "superseded")
        assert good.revision == max(reached)
    candidates = rollback_candidates(history)
    assert candidates == sorted(candidates, reverse=True)
    assert history == [] or max(rev.revision for rev in history) not in candidates


@pytest.mark.parametrize("release, statuses, selected", [
    ({"status": "failed"}, [], True),
    ({"status": "failed"}, ["failed"], True),
    ({"status": "pending-upgrade"}, ["pending"], True),
    ({"status": "pending-upgrade"}, ["pending-install"], False),
    ({"status": "deployed", "drifted": True}, ["drifted"], True),
    ({"status": "deployed", "drifted": False}, ["drifted"], False),
    ({"status": "deployed", "drifted": None}, ["drifted"], False),
    # its drift could not be checked: a failed row (its problem says why), not a hidden release
    ({"status": "deployed", "drifted": None, "error_kind": "access_denied"}, ["drifted"], True),
    ({"status": "deployed", "drifted": None, "error_kind": "access_denied"}, ["failed"], False),
    ({"status": "deployed"}, ["drifted", "failed"], False),
    ({"status": "failed"}, ["drifted", "failed"], True),
    ({"status": "deployed", "drifted": False}, ["drifted", "deployed"], True),
])
def test_listed_matches(release, statuses, selected):
    assert listed_matches(release, statuses) is selected

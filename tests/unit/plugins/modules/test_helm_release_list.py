# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    CommandResult,
    HelmClient,
    HelmError,
    HelmVersion,
    list_argv,
)
from ansible_collections.matih.helm.plugins.modules import helm_release_list
from ansible_collections.matih.helm.tests.unit.plugins.module_args import main_result


def listed(name, namespace, status, revision="1", chart="web-1.0.0", updated="2025-01-31 10:00:00.5 +0000 UTC"):
    return {"name": name, "namespace": namespace, "revision": revision, "updated": updated, "status": status,
            "chart": chart, "app_version": "1.0"}


# What `helm list --all-namespaces` prints (Helm sorts by name; the module sorts by namespace, name).
CLUSTER = [
    listed("api", "team-b", "failed", "3"),
    listed("db", "team-a", "superseded", "2"),
    listed("web", "team-a", "deployed", "12", chart="web-2.0.0-rc.1"),
    listed("web", "team-c", "pending-upgrade", "5"),
    listed("web-canary", "team-b", "pending-rollback", "7"),
    listed("worker", "team-c", "pending-install", "1"),
    listed("old", "team-a", "uninstalled", "4"),
]


class FakeHelm(HelmClient):
    """HelmClient whose `helm list` answers from CLUSTER; list_releases' filtering is the real one."""

    calls = []
    error = None
    major = 3

    def __init__(self, module):  # pylint: disable=super-init-not-called
        self.module = module
        self._flags, self._environ = [], {}
        self._version = HelmVersion(FakeHelm.major, 0, 0)

    def run(self, args, read_only=False):
        FakeHelm.calls.append(list(args))
        if FakeHelm.error is not None:
            raise FakeHelm.error  # pylint: disable=raising-bad-type
        entries = CLUSTER
        if "--namespace" in args:
            namespace = args[args.index("--namespace") + 1]
            entries = [entry for entry in CLUSTER if entry["namespace"] == namespace]
        return CommandResult(["helm"] + list(args), 0, json.dumps(entries), "")


@pytest.fixture
def fake_helm(monkeypatch):
    FakeHelm.calls = []
    FakeHelm.error = None
    FakeHelm.major = 3
    monkeypatch.setattr(helm_release_list, "HelmClient", FakeHelm)
    return FakeHelm


def run_module(args, capsys):
    return main_result(helm_release_list.main, args, capsys)


def names(result):
    return ["%s/%s" % (release["namespace"], release["name"]) for release in result["releases"]]


ALL = ["team-a/db", "team-a/old", "team-a/web", "team-b/api", "team-b/web-canary", "team-c/web", "team-c/worker"]


@pytest.mark.parametrize(
    "args, expected, namespace_flags",
    [
        ({}, ALL, [None]),
        ({"namespaces": []}, ALL, [None]),
        ({"namespaces": ["team-a"]}, ["team-a/db", "team-a/old", "team-a/web"], ["team-a"]),
        ({"namespaces": ["team-a", "team-a"]}, ["team-a/db", "team-a/old", "team-a/web"], ["team-a"]),
        ({"namespaces": ["team-b", "team-c"]}, ["team-b/api", "team-b/web-canary", "team-c/web", "team-c/worker"], ["team-b", "team-c"]),
        ({"namespaces": ["nowhere", "team-z"]}, [], ["nowhere", "team-z"]),
        ({"statuses": ["failed"]}, ["team-b/api"], [None]),
        ({"statuses": ["pending"]}, ["team-b/web-canary", "team-c/web", "team-c/worker"], [None]),
        ({"statuses": ["pending-install", "deployed"]}, ["team-a/web", "team-c/worker"], [None]),
        ({"statuses": ["superseded", "uninstalled"]}, ["team-a/db", "team-a/old"], [None]),
        ({"statuses": ["unknown"]}, [], [None]),
        ({"namespaces": ["team-a", "team-b"], "statuses": ["failed", "pending"]}, ["team-b/api", "team-b/web-canary"], ["team-a", "team-b"]),
        ({"name_regex": "web"}, ["team-a/web", "team-b/web-canary", "team-c/web"], [None]),
        ({"name_regex": "^web$"}, ["team-a/web", "team-c/web"], [None]),
        ({"name_regex": "^w(eb|orker)$", "namespaces": ["team-c"]}, ["team-c/web", "team-c/worker"], ["team-c"]),
        ({"name_regex": "", "statuses": ["failed"]}, ["team-b/api"], [None]),
        ({"name_regex": "(?i)^API"}, ["team-b/api"], [None]),
    ],
)
@pytest.mark.parametrize("major", [3, 4])
def test_one_helm_list_per_namespace(fake_helm, capsys, args, expected, namespace_flags, major):
    fake_helm.major = major
    result = run_module(args, capsys)
    assert result["changed"] is False and not result.get("failed")
    assert names(result) == expected
    assert sorted(fake_helm.calls) == sorted(list_argv(major, namespace) for namespace in namespace_flags)
    assert all(("--all" in call) is (major == 3) for call in fake_helm.calls)
    assert result["helm_version"] == "%d.0.0" % major


def test_entries_are_normalised(fake_helm, capsys):
    result = run_module({"namespaces": ["team-a", "team-c"], "name_regex": "^web$"}, capsys)
    assert result["releases"] == [
        {"name": "web", "namespace": "team-a", "revision": 12, "updated": "2025-01-31T10:00:00.500000Z",
         "status": "deployed", "pending": False, "chart": "web-2.0.0-rc.1", "chart_name": "web",
         "chart_version": "2.0.0-rc.1", "app_version": "1.0"},
        {"name": "web", "namespace": "team-c", "revision": 5, "updated": "2025-01-31T10:00:00.500000Z",
         "status": "pending-upgrade", "pending": True, "chart": "web-1.0.0", "chart_name": "web",
         "chart_version": "1.0.0", "app_version": "1.0"},
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name_regex": "web("}, "name_regex 'web(' is not a valid regular expression"),
        ({"name": "*web"}, "not a valid regular expression"),  # the deprecated alias still works
        ({"namespaces": ["team_a"]}, "namespace 'team_a' is invalid"),
        ({"namespaces": ["team-a", "Team-B"]}, "uppercase"),
        ({"namespaces": [""]}, "namespace must not be empty"),
        ({"namespaces": ["--all-namespaces"]}, "command-line option"),
        ({"namespaces": ["n" * 64]}, "at most 63"),
        ({"statuses": ["broken"]}, "value of statuses must be one or more of"),
        ({"statuses": ["pending_upgrade"]}, "value of statuses must be one or more of"),
        ({"namespaces": ["a;b"], "name": "["}, "never valid"),
    ],
)
def test_bad_input_fails_before_helm_runs(fake_helm, capsys, args, message):
    result = run_module(args, capsys)
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert fake_helm.calls == []


def test_both_problems_are_reported_at_once(fake_helm, capsys):
    result = run_module({"namespaces": ["a;b"], "name": "["}, capsys)
    assert "never valid" in result["msg"] and "regular expression" in result["msg"]


def test_helm_failure_fails_with_details(fake_helm, capsys):
    fake_helm.error = HelmError("access_denied", "The Kubernetes API rejected the credentials", 1, "",
                                'Error: secrets is forbidden', ["helm", "list", "--all-namespaces"])
    result = run_module({"namespaces": ["team-a", "team-b"]}, capsys)
    assert result["failed"] is True and result["error_kind"] == "access_denied"
    assert result["command"] == ["helm", "list", "--all-namespaces"]


def test_check_mode_is_the_same_read(fake_helm, capsys):
    normal = run_module({"statuses": ["pending"]}, capsys)
    checked = run_module({"statuses": ["pending"], "_ansible_check_mode": True}, capsys)
    assert checked == normal and len(fake_helm.calls) == 2


def test_name_is_a_deprecated_alias_of_name_regex(fake_helm, capsys):
    result = run_module({"name": "^web$"}, capsys)
    assert names(result) == ["team-a/web", "team-c/web"]
    assert any("name" in str(item) and "1.0.0" in str(item) for item in result.get("deprecations", [])), result

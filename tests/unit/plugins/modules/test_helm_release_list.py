# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from ansible_collections.matih.helm.plugins.module_utils.errors import ACCESS_DENIED, KubeError
from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    CommandResult,
    HelmClient,
    HelmError,
    HelmVersion,
    list_argv,
)
from ansible_collections.matih.helm.plugins.module_utils import release_store
from ansible_collections.matih.helm.plugins.modules import helm_release_list
from ansible_collections.matih.helm.tests.unit.plugins.module_args import main_result
from ansible_collections.matih.helm.tests.unit.plugins.modules.kube_fakes import (
    FakeApi, StandInConnection, object_path, release_secret, use_fake_client,
)


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


# A kubeconfig our API client does not reproduce: the module lists through Helm (the drift scan refuses).
HELM_ONLY = "the kubeconfig user 'ci' authenticates with auth-provider oidc (deprecated)"


class FakeHelm(HelmClient):
    """HelmClient whose `helm list` answers from CLUSTER; list_releases' filtering is the real one."""

    calls = []
    error = None
    major = 3
    connection = None  # a StandInConnection: HELM_ONLY (fake_helm), or the FakeApi's (fake_api)

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
    FakeHelm.connection = StandInConnection(api_problem=HELM_ONLY)
    monkeypatch.setattr(helm_release_list, "HelmClient", FakeHelm)
    return FakeHelm


def run_module(args, capsys):
    return main_result(helm_release_list.main, args, capsys)


def names(result):
    return ["%s/%s" % (release["namespace"], release["name"]) for release in result["releases"]]


ALL = ["team-a/db", "team-a/old", "team-a/web", "team-b/api", "team-b/web-canary", "team-c/web", "team-c/worker"]


LISTINGS = [
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
]


@pytest.mark.parametrize("args, expected, namespace_flags", LISTINGS)
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


# --- statuses: drifted ---------------------------------------------------------------------------

SETTINGS = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"greeting": "hello"}}
TOKEN = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"}, "data": {"token": "c2VjcmV0LXRva2Vu"}}
WEB_MANIFEST = "---\n" + yaml.safe_dump(SETTINGS) + "---\n" + yaml.safe_dump(TOKEN)


def record(entry, version=None):
    """The release record of a CLUSTER entry (its revision, or ``version``), as Helm stores it."""
    chart_name, _dash, chart_version = entry["chart"].rpartition("-")
    if chart_name.endswith("-2.0.0"):  # web-2.0.0-rc.1
        chart_name, chart_version = "web", "2.0.0-rc.1"
    status = entry["status"] if version is None else "superseded"
    return {"name": entry["name"], "namespace": entry["namespace"], "version": int(version or entry["revision"]),
            "info": {"status": status, "last_deployed": "2025-01-31T10:00:00.5Z"},
            "chart": {"metadata": {"name": chart_name, "version": chart_version, "appVersion": entry["app_version"]}},
            "manifest": WEB_MANIFEST if (entry["name"], entry["namespace"]) == ("web", "team-a") else ""}


# Every release of CLUSTER with its latest revision and an older one.
CLUSTER_RECORDS = [record(entry) for entry in CLUSTER] + [record(entry, 1) for entry in CLUSTER if entry["revision"] != "1"]


ALL_SECRETS = "/api/v1/secrets"
SECRETS_OF = {namespace: "/api/v1/namespaces/%s/secrets" % namespace for namespace in ("team-a", "team-b", "team-c")}
DEPLOYED = "owner=helm,status=deployed"
SETTINGS_PATH = object_path("ConfigMap", "settings", "team-a")
TOKEN_PATH = object_path("Secret", "token", "team-a")
REFUSAL = "statuses: drifted reads Helm's release records and live objects from the Kubernetes API, which is not " \
          "possible here: "


def live(obj, **changes):
    found = copy.deepcopy(obj)
    found["metadata"].update(namespace="team-a", uid="u-" + obj["metadata"]["name"])
    found.update(changes)
    return found


@pytest.fixture
def fake_api(fake_helm, monkeypatch):
    """The API of the drift scan, from memory: the module's real ReleaseStore and LiveObjects (and the real
    check_records_drift) over a FakeKubeClient, through the Helm client's connection."""
    api = FakeApi()
    api.releases = copy.deepcopy(CLUSTER_RECORDS)
    api.live = {("ConfigMap", "settings"): live(SETTINGS), ("Secret", "token"): live(TOKEN)}
    fake_helm.connection = StandInConnection(api)
    use_fake_client(monkeypatch)
    monkeypatch.delenv("HELM_DRIVER", raising=False)
    return api


def test_drifted_selects_the_deployed_releases_whose_objects_drifted(fake_api, capsys):
    fake_api.live[("ConfigMap", "settings")] = live(SETTINGS, data={"greeting": "edited by hand"})
    del fake_api.live[("Secret", "token")]
    result = run_module({"statuses": ["failed", "drifted"]}, capsys)
    assert names(result) == ["team-a/web", "team-b/api"]
    web = result["releases"][0]
    assert (web["status"], web["drifted"]) == ("deployed", True)
    assert web["drift"] == {"revision": 12, "drifted": True, "summary": {"objects": 2, "missing": 1, "modified": 1, "in_sync": 0},
                            "objects": [{"kind": "ConfigMap", "namespace": "team-a", "name": "settings", "state": "modified",
                                         "fields": ["data.greeting"]},
                                        {"kind": "Secret", "namespace": "team-a", "name": "token", "state": "missing", "fields": []}]}
    assert "drifted" not in result["releases"][1]  # failed: not checked
    # the metadata LIST; every namespace: one LIST of the deployed records, one read per kind (at once), one dry run
    # for the flagged object; the failed release's chart from its latest record (web's from the deployed record)
    assert fake_api.calls[:2] == [("list_metadata", ALL_SECRETS, "owner=helm"), ("list", ALL_SECRETS, DEPLOYED)]
    assert sorted(fake_api.calls[2:4]) == [("get", SETTINGS_PATH), ("get", TOKEN_PATH)]
    assert fake_api.calls[4:] == [("apply", SETTINGS_PATH), ("get", SECRETS_OF["team-b"] + "/sh.helm.release.v1.api.v3")]
    assert result["drift_scan"] == {"releases": 1, "drifted": 1, "failed": 0, "api_requests": 4, "dry_runs": 1}
    assert (web["chart"], result["releases"][1]["chart"]) == ("web-2.0.0-rc.1", "web-1.0.0")
    assert result["scanned"] == len(ALL)
    assert result["discovery"] == {"source": "api", "scope": "cluster", "api_requests": 6}


def test_deployed_releases_in_sync_are_not_drifted(fake_api, capsys):
    result = run_module({"namespaces": ["team-a", "team-c"], "statuses": ["deployed", "drifted"]}, capsys)
    assert names(result) == ["team-a/web"] and result["releases"][0]["drifted"] is False
    assert result["releases"][0]["drift"]["objects"] == []
    # only the named namespaces that hold a deployed release
    assert fake_api.calls[1] == ("list", "/api/v1/namespaces/team-a/secrets", DEPLOYED)
    assert run_module({"statuses": ["drifted"]}, capsys)["releases"] == []


def test_ignored_fields_are_not_drift(fake_api, capsys):
    fake_api.live[("ConfigMap", "settings")] = live(SETTINGS, data={"greeting": "edited by hand"})
    result = run_module({"statuses": ["drifted"], "drift_ignore_fields": {"ConfigMap": ["data.greeting"]}}, capsys)
    assert result["releases"] == [] and result["drift_scan"]["drifted"] == 0


def test_a_release_that_changed_during_the_scan_is_not_judged(fake_api, capsys, monkeypatch):
    records = [dict(release, version=11) if release["version"] == 12 else release for release in fake_api.releases]
    listed = FakeApi.items

    def items(api, path):  # the metadata LIST saw revision 12, the records LIST reads an older one
        found = listed(api, path)
        if api.calls and api.calls[-1][0] == "list":
            found = [item for item in found if item["metadata"]["name"] != "sh.helm.release.v1.web.v12"]
            found += [item for item in (release_secret(one) for one in records) if item["metadata"]["name"].endswith(".web.v11")
                      and path in (ALL_SECRETS, SECRETS_OF["team-a"])]
        return found
    monkeypatch.setattr(FakeApi, "items", items)
    result = run_module({"namespaces": ["team-a"], "statuses": ["deployed", "drifted"]}, capsys)
    assert (result["releases"][0]["drifted"], result["releases"][0]["drift"]) == (None, None)
    assert result["drift_scan"]["releases"] == 0


def test_no_deployed_release_sends_no_request(fake_api, capsys):
    result = run_module({"namespaces": ["team-b"], "statuses": ["drifted", "failed"]}, capsys)
    assert names(result) == ["team-b/api"]
    # the metadata LIST and the failed release's record: no drift request
    assert [call[0] for call in fake_api.calls] == ["list_metadata", "get"]
    assert result["drift_scan"] == {"releases": 0, "drifted": 0, "failed": 0, "api_requests": 0, "dry_runs": 0}


def test_the_secret_values_read_are_masked(fake_api, capsys):
    fake_api.live[("Secret", "token")] = live(TOKEN, data={"token": "c2VjcmV0LXRva2VuLTI="})
    result = run_module({"statuses": ["drifted"]}, capsys)
    assert result["releases"][0]["drift"]["objects"][0]["fields"] == ["data.token"]
    assert "secret-token" not in json.dumps(result)


def test_without_drifted_no_drift_is_checked(fake_api, capsys):
    result = run_module({"statuses": ["deployed"]}, capsys)
    assert "drift_scan" not in result and "drifted" not in result["releases"][0]
    assert [call[0] for call in fake_api.calls] == ["list_metadata", "get"]  # the listing and web's chart


@pytest.mark.parametrize("args, environ, message", [
    ({"statuses": ["failed"], "drift_ignore_fields": {"Deployment": ["spec.replicas"]}}, {},
     "drift_ignore_fields is used only by the drift check: add drifted to statuses"),
    ({"statuses": ["drifted"], "drift_ignore_fields": {"Deployment": ["spec..replicas"]}}, {}, "spec..replicas"),
    ({"statuses": ["drifted"]}, {"HELM_DRIVER": "configmap"},
     "HELM_DRIVER=configmap keeps Helm's release records elsewhere than in Secrets; statuses: drifted reads them from "
     "Helm's default Secrets driver only: unset HELM_DRIVER"),
])
def test_drift_option_problems_fail_before_helm_runs(fake_api, capsys, monkeypatch, args, environ, message):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = run_module(args, capsys)
    assert result["failed"] is True and message in result["msg"], result["msg"]
    assert fake_api.calls == [] and FakeHelm.calls == []


def test_drifted_with_a_kubeconfig_only_helm_can_use_fails_as_unsupported(fake_api, capsys):
    FakeHelm.connection.api_problem = HELM_ONLY
    result = run_module({"statuses": ["drifted"]}, capsys)
    assert (result["failed"], result["error_kind"], result["msg"]) == (True, "unsupported_kubeconfig", REFUSAL + HELM_ONLY)
    assert "releases" not in result and fake_api.calls == []


def test_drifted_fails_with_what_the_api_answered(fake_api, capsys):
    denied = KubeError(ACCESS_DENIED, 'secrets is forbidden: User "ci" cannot list resource "secrets" in API group "" at '
                                      'the cluster scope', status=403, reason="Forbidden")
    fake_api.errors[ALL_SECRETS] = denied
    result = run_module({"statuses": ["drifted"]}, capsys)
    assert (result["failed"], result["error_kind"], result["msg"], result["api_status"]) == (
        True, "access_denied", denied.message, 403)
    assert fake_api.calls == [("list_metadata", ALL_SECRETS, "owner=helm")]


# --- from the API: one metadata LIST, the chart of each release returned -----------------------------------

@pytest.mark.parametrize("args, expected, namespace_flags", LISTINGS)
def test_from_the_api_one_list_for_the_cluster(fake_api, capsys, args, expected, namespace_flags):
    result = run_module(args, capsys)
    assert names(result) == expected and not result.get("failed"), result
    assert fake_helm_lists() == []
    # one metadata LIST of every namespace, whatever the namespaces named; then one GET per release returned
    assert fake_api.calls[0] == ("list_metadata", ALL_SECRETS, "owner=helm")
    assert sorted(call[1].rsplit(".", 1)[0] for call in fake_api.calls[1:]) == sorted(
        "%s/sh.helm.release.v1.%s" % (SECRETS_OF[key.partition("/")[0]], key.partition("/")[2]) for key in expected)
    assert result["discovery"] == {"source": "api", "scope": "cluster", "api_requests": 1 + len(expected)}
    assert result["problems"] == [] and result["scanned"] == len(
        [key for key in ALL if not args.get("namespaces") or key.partition("/")[0] in args["namespaces"]
         if not args.get("name_regex") or re.search(args["name_regex"], key.partition("/")[2])])
    assert None in namespace_flags or {key.partition("/")[0] for key in names(result)} <= set(namespace_flags)  # as Helm's


def fake_helm_lists():
    return [call for call in FakeHelm.calls if call[:1] == ["list"]]


def test_from_the_api_entries_are_those_of_helm_list(fake_api, capsys):
    result = run_module({"namespaces": ["team-a", "team-c"], "name_regex": "^web$"}, capsys)
    # the time is the label's (whole seconds): the fake records have none, so the Secret's creation; none here
    for release in result["releases"]:
        assert release.pop("updated") is None
    assert result["releases"] == [
        {"name": "web", "namespace": "team-a", "revision": 12, "status": "deployed", "pending": False,
         "chart": "web-2.0.0-rc.1", "chart_name": "web", "chart_version": "2.0.0-rc.1", "app_version": "1.0"},
        {"name": "web", "namespace": "team-c", "revision": 5, "status": "pending-upgrade", "pending": True,
         "chart": "web-1.0.0", "chart_name": "web", "chart_version": "1.0.0", "app_version": "1.0"},
    ]


@pytest.mark.parametrize("statuses", [[], ["drifted"]], ids=["chart-of-the-latest-record", "record-of-the-drift-scan"])
def test_from_the_api_the_chart_name_and_version_are_the_records(fake_api, capsys, statuses):
    """Chart app version 2-1.0.0 prints as app-2-1.0.0, which the text alone splits as app-2 1.0.0: the chart
    fields come from the record's metadata, whether the listing GETs the latest record or the drift scan read it."""
    for stored in fake_api.releases:
        if (stored["name"], stored["namespace"]) == ("web", "team-a"):
            stored["chart"]["metadata"].update(name="app", version="2-1.0.0")
    del fake_api.live[("Secret", "token")]  # drifted: listed with statuses [drifted]
    result = run_module({"namespaces": ["team-a"], "name_regex": "^web$", "statuses": statuses}, capsys)
    assert not result.get("failed"), result
    (release,) = result["releases"]
    assert (release["chart"], release["chart_name"], release["chart_version"]) == ("app-2-1.0.0", "app", "2-1.0.0"), release


def test_from_the_api_an_unreadable_namespace_is_a_problem(fake_api, capsys):
    denied = KubeError(ACCESS_DENIED, "secrets is forbidden at the cluster scope", status=403)
    fake_api.errors[ALL_SECRETS] = denied
    fake_api.errors[SECRETS_OF["team-b"]] = KubeError(ACCESS_DENIED, "secrets is forbidden in team-b", status=403)
    result = run_module({"namespaces": ["team-a", "team-b"], "statuses": ["deployed", "failed"]}, capsys)
    assert not result.get("failed") and names(result) == ["team-a/web"], result
    assert result["problems"] == [{"namespace": "team-b", "error_kind": "access_denied", "msg": "secrets is forbidden in team-b"}]
    assert result["discovery"] == {"source": "api", "scope": "namespaces", "api_requests": 4}
    # no namespace readable: the task fails, naming each
    failed = run_module({"namespaces": ["team-b"]}, capsys)
    assert (failed["failed"], failed["error_kind"]) == (True, "access_denied")
    assert failed["msg"] == "No namespace could be read: team-b (access_denied): secrets is forbidden in team-b"


def test_from_the_api_an_unreadable_record_leaves_the_chart_null(fake_api, capsys):
    fake_api.errors[SECRETS_OF["team-b"] + "/sh.helm.release.v1.api.v3"] = KubeError(ACCESS_DENIED, "get is forbidden")
    result = run_module({"statuses": ["failed"]}, capsys)
    assert [(release["name"], release["chart"], release["app_version"]) for release in result["releases"]] == [("api", None, None)]
    assert result["problems"] == [{"namespace": "team-b", "release": "api", "error_kind": "access_denied", "msg": "get is forbidden"}]


def test_from_the_api_without_chart_only_the_list_is_sent(fake_api, capsys):
    result = run_module({"statuses": ["failed", "pending"], "include_chart": False}, capsys)
    assert names(result) == ["team-b/api", "team-b/web-canary", "team-c/web", "team-c/worker"] and not result.get("failed"), result
    assert fake_api.calls == [("list_metadata", ALL_SECRETS, "owner=helm")]
    assert result["discovery"] == {"source": "api", "scope": "cluster", "api_requests": 1}
    for release in result["releases"]:
        assert [release[field] for field in ("chart", "chart_name", "chart_version", "app_version")] == [None] * 4, release
        assert release["revision"] and release["status"] != "deployed", release


def test_without_chart_the_fields_helm_list_prints_are_kept(fake_api, capsys, monkeypatch):
    monkeypatch.setenv("MATIH_HELM_READS", "helm")
    result = run_module({"statuses": ["failed"], "include_chart": False}, capsys)
    assert [(release["name"], release["chart"]) for release in result["releases"]] == [("api", "web-1.0.0")], result
    assert fake_api.calls == []


def test_helm_driver_or_helm_reads_list_through_helm(fake_api, capsys, monkeypatch):
    for name, value in (("HELM_DRIVER", "configmap"), ("MATIH_HELM_READS", "helm")):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            FakeHelm.calls = []
            result = run_module({"statuses": ["failed"]}, capsys)
            assert names(result) == ["team-b/api"] and fake_helm_lists() == [list_argv(3, None)]
            assert result["discovery"] == {"source": "helm", "scope": None, "api_requests": 0}
    assert fake_api.calls == []


# --- statuses: drifted over tenants: what cannot be read is a failed row, the rest is scanned --------------------

SHOP_SETTINGS = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop-settings", "namespace": "team-c"},
                 "data": {"greeting": "hello"}}


def deployed_record(name, namespace, manifest=""):
    return {"name": name, "namespace": namespace, "version": 2, "info": {"status": "deployed"},
            "chart": {"metadata": {"name": name, "version": "1.0.0"}}, "manifest": manifest}


@pytest.fixture
def tenants_api(fake_api):
    """fake_api with a second deployed release, shop in team-c (a ConfigMap, in sync), beside web in team-a."""
    fake_api.releases.append(deployed_record("shop", "team-c", "---\n" + yaml.safe_dump(SHOP_SETTINGS)))
    fake_api.live[("ConfigMap", "shop-settings")] = dict(copy.deepcopy(SHOP_SETTINGS),
                                                         metadata=dict(SHOP_SETTINGS["metadata"], uid="u-shop"))
    return fake_api


def rows(result):
    return {(release["namespace"], release["name"]): release for release in result["releases"]}


def test_drifted_a_kind_that_cannot_be_read_is_a_failed_row_and_the_rest_is_scanned(tenants_api, capsys):
    denied = KubeError(ACCESS_DENIED, 'secrets "token" is forbidden: User "t" cannot get resource "secrets"', status=403)
    tenants_api.errors[TOKEN_PATH] = denied
    fake_api = tenants_api
    fake_api.live[("ConfigMap", "shop-settings")]["data"] = {"greeting": "edited by hand"}
    result = run_module({"namespaces": ["team-a", "team-c"], "statuses": ["drifted"]}, capsys)
    assert not result.get("failed"), result.get("msg")
    found = rows(result)
    assert sorted(found) == [("team-a", "web"), ("team-c", "shop")]
    web = found[("team-a", "web")]
    assert (web["drifted"], web["drift"], web["error_kind"]) == (None, None, "access_denied")
    assert web["msg"] == "could not read v1 Secret in namespace team-a: " + denied.message
    assert found[("team-c", "shop")]["drifted"] is True and "error_kind" not in found[("team-c", "shop")]
    assert result["problems"] == [{"namespace": "team-a", "release": "web", "error_kind": "access_denied", "msg": web["msg"]}]
    assert (result["drift_scan"]["releases"], result["drift_scan"]["drifted"], result["drift_scan"]["failed"]) == (1, 1, 1)


def test_drifted_a_corrupt_record_in_one_namespace_cannot_hide_the_others(tenants_api, capsys, monkeypatch):
    """The README's promise, for the drift scan's one LIST of every namespace's deployed records."""
    tenants_api.releases.append(deployed_record("broken", "team-b"))
    tenants_api.live[("ConfigMap", "settings")] = live(SETTINGS, data={"greeting": "edited by hand"})
    listed_items = FakeApi.items

    def items(api, path):
        found = listed_items(api, path)
        for item in found:
            if item["metadata"]["name"] == "sh.helm.release.v1.broken.v2":
                item["data"]["release"] = "garbage"
        return found
    monkeypatch.setattr(FakeApi, "items", items)
    result = run_module({"statuses": ["drifted"]}, capsys)
    assert not result.get("failed"), result.get("msg")
    found = rows(result)
    assert sorted(found) == [("team-a", "web"), ("team-b", "broken")]
    assert found[("team-a", "web")]["drifted"] is True
    broken = found[("team-b", "broken")]
    assert (broken["drifted"], broken["error_kind"], broken["chart"]) == (None, "invalid_release_record", None)
    assert "team-b/sh.helm.release.v1.broken.v2 cannot be read" in broken["msg"]
    assert [(problem["namespace"], problem.get("release"), problem["error_kind"]) for problem in result["problems"]] == [
        ("team-b", "broken", "invalid_release_record")]
    assert result["drift_scan"]["releases"] == 2 and result["drift_scan"]["failed"] == 1
    # no GET of the record that could not be read, for its chart
    assert ("get", SECRETS_OF["team-b"] + "/sh.helm.release.v1.broken.v2") not in tenants_api.calls


def test_drifted_a_namespace_whose_records_cannot_be_listed_is_a_problem_and_the_rest_is_scanned(tenants_api, capsys,
                                                                                                 monkeypatch):
    denied = KubeError(ACCESS_DENIED, "secrets is forbidden in team-a", status=403)
    request = FakeApi.request

    def refuse(api, call):  # the metadata LIST passes, the records' LIST is refused
        request(api, call)
        if call == ("list", SECRETS_OF["team-a"], DEPLOYED):
            raise denied
    monkeypatch.setattr(FakeApi, "request", refuse)
    result = run_module({"namespaces": ["team-a", "team-c"], "statuses": ["drifted", "deployed"]}, capsys)
    assert not result.get("failed"), result.get("msg")
    found = rows(result)
    web, shop = found[("team-a", "web")], found[("team-c", "shop")]
    assert (web["drifted"], web["error_kind"], web["msg"]) == (None, "access_denied", denied.message)
    assert (shop["drifted"], shop.get("error_kind")) == (False, None)
    assert result["problems"] == [{"namespace": "team-a", "error_kind": "access_denied", "msg": denied.message}]
    assert (result["drift_scan"]["releases"], result["drift_scan"]["failed"]) == (1, 1)


def test_drifted_an_unreachable_server_still_fails_the_task(tenants_api, capsys):
    tenants_api.errors[TOKEN_PATH] = KubeError("cluster_unreachable", "The Kubernetes API server did not answer")
    result = run_module({"namespaces": ["team-a", "team-c"], "statuses": ["drifted"]}, capsys)
    assert (result["failed"], result["error_kind"]) == (True, "cluster_unreachable")


@pytest.mark.parametrize("check, problem, in_records, fields, reported", [
    # judged
    ({"drifted": True, "revision": 2, "objects": [], "summary": {}}, None, True,
     {"drifted": True}, []),
    # a read failed: a failed row and its problem
    ({"drifted": None, "error_kind": "access_denied", "msg": "could not read x"}, None, True,
     {"drifted": None, "drift": None, "error_kind": "access_denied", "msg": "could not read x"},
     [{"namespace": "a", "release": "web", "error_kind": "access_denied", "msg": "could not read x"}]),
    # its record could not be decoded: a failed row, chart null (the problem comes from the records' LIST)
    (None, ("a", "web", "invalid_release_record", "bad record"), False,
     {"drifted": None, "drift": None, "error_kind": "invalid_release_record", "msg": "bad record", "chart": None},
     [{"namespace": "a", "release": "web", "error_kind": "invalid_release_record", "msg": "bad record"}]),
    # its namespace's records could not be listed
    (None, ("a", None, "access_denied", "forbidden"), False,
     {"drifted": None, "error_kind": "access_denied", "msg": "forbidden"},
     [{"namespace": "a", "error_kind": "access_denied", "msg": "forbidden"}]),
    # another namespace's problem: this release changed during the scan (no record), null without error
    (None, ("b", None, "access_denied", "forbidden"), False, {"drifted": None, "drift": None},
     [{"namespace": "b", "error_kind": "access_denied", "msg": "forbidden"}]),
])
def test_scan_rows(check, problem, in_records, fields, reported):
    row = {"namespace": "a", "name": "web", "revision": 2, "status": "deployed"}
    checks = [dict(check, namespace="a", release="web")] if check else []
    problems = [release_store.RecordProblem(*problem)] if problem else []
    records = {("a", "web", 2): {}} if in_records else {}
    assert helm_release_list.scan_rows([row], records, checks, problems) == reported
    assert {key: row[key] for key in fields} == fields
    assert ("error_kind" in row) is ("error_kind" in fields)


def test_from_the_api_a_corrupt_record_leaves_its_chart_null_and_hides_no_other_release(fake_api, capsys, monkeypatch):
    """The README's promise for the listing: a record that cannot be decoded gives null chart fields and a problem."""
    find = FakeApi.find
    corrupt_path = SECRETS_OF["team-b"] + "/sh.helm.release.v1.api.v3"

    def found(api, path):
        secret = find(api, path)
        if path == corrupt_path:
            secret = dict(secret, data={"release": "garbage"})
        return secret
    monkeypatch.setattr(FakeApi, "find", found)
    result = run_module({"statuses": ["failed", "pending"]}, capsys)
    assert not result.get("failed"), result.get("msg")
    charts = {(release["namespace"], release["name"]): release["chart"] for release in result["releases"]}
    assert charts[("team-b", "api")] is None
    assert names(result) == ["team-b/api", "team-b/web-canary", "team-c/web", "team-c/worker"]
    assert all(chart for key, chart in charts.items() if key != ("team-b", "api")), charts
    assert [(problem["namespace"], problem["release"], problem["error_kind"]) for problem in result["problems"]] == [
        ("team-b", "api", "invalid_release_record")]

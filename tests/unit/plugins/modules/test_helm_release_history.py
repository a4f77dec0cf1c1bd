# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.matih.helm.plugins.module_utils.errors import ACCESS_DENIED, KubeError
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmClient, HelmError, HelmVersion
from ansible_collections.matih.helm.plugins.modules import helm_release_history
from ansible_collections.matih.helm.tests.unit.plugins.module_args import main_result
from ansible_collections.matih.helm.tests.unit.plugins.modules.kube_fakes import FakeApi, StandInConnection, use_fake_client

HISTORY = [
    {"revision": 1, "updated": "2025-01-31T10:00:00Z", "status": "superseded", "chart": "web-1.0.0",
     "app_version": "1.0", "description": "Install complete"},
    {"revision": 2, "updated": "2025-01-31T11:00:00Z", "status": "deployed", "chart": "web-1.1.0",
     "app_version": "1.1", "description": "Upgrade complete"},
    {"revision": 3, "updated": "2025-01-31T12:00:00Z", "status": "failed", "chart": "web-1.2.0-rc.1",
     "app_version": "1.2", "description": 'Upgrade "web" failed: context deadline exceeded'},
]


def stored(entry, values):
    """The release record (decoded) that ``helm history`` shows as ``entry``."""
    name, version = entry["chart"].split("-", 1)
    return {"name": "web", "namespace": "shop", "version": entry["revision"], "config": values,
            "info": {"last_deployed": entry["updated"], "status": entry["status"], "description": entry["description"]},
            "chart": {"metadata": {"name": name, "version": version, "appVersion": entry["app_version"]}}}


RECORDS = [stored(entry, {"replicas": entry["revision"]}) for entry in HISTORY]
SECRETS = "/api/v1/namespaces/shop/secrets"
RECORDS_LIST = ("list", SECRETS, "owner=helm,name=web")
# What makes the release store read through Helm: a kubeconfig feature only Helm supports (connection.py)
HELM_ONLY = "the kubeconfig user 'ci' authenticates with auth-provider oidc (deprecated)"


class FakeHelm(HelmClient):
    """HelmClient with the Helm calls answered from memory (integration tests run real Helm). The module's
    ReleaseStore reads the records from ``api`` (the real store over a FakeKubeClient) when the connection
    has no api_problem, else through these Helm calls."""

    history_error = None
    calls = []
    api = None  # the FakeApi behind ``connection``
    connection = None  # a StandInConnection; its api_problem (HELM_ONLY by default) sends the store to Helm

    def __init__(self, module):  # pylint: disable=super-init-not-called
        self.module = module
        self._version = HelmVersion(3, 17, 3)

    def history(self, name, namespace, max=None):  # pylint: disable=redefined-builtin
        FakeHelm.calls.append(("history", name, namespace))
        if self.history_error is not None:
            raise self.history_error  # pylint: disable=raising-bad-type
        return HISTORY

    def get_values_many(self, name, namespace, revisions, all_values=False):
        FakeHelm.calls.append(("get_values_many", name, namespace, list(revisions)))
        return {rev: {"replicas": rev} for rev in revisions}


@pytest.fixture
def fake_helm(monkeypatch):
    FakeHelm.calls = []
    FakeHelm.history_error = None
    FakeHelm.api = FakeApi()
    FakeHelm.connection = StandInConnection(FakeHelm.api, api_problem=HELM_ONLY)
    use_fake_client(monkeypatch)
    monkeypatch.delenv("HELM_DRIVER", raising=False)
    monkeypatch.setattr(helm_release_history, "HelmClient", FakeHelm)
    return FakeHelm


def read_records(fake_helm, releases):
    """The store reads the records from the API, where ``releases`` are stored."""
    fake_helm.connection.api_problem = None
    fake_helm.api.releases = releases


def run_module(args, capsys):
    return main_result(helm_release_history.main, dict({"name": "web", "release_namespace": "shop"}, **args), capsys)


def test_reads_history_and_names_targets(fake_helm, capsys):
    result = run_module({}, capsys)
    assert result["changed"] is False and result["exists"] is True
    assert [entry["revision"] for entry in result["history"]] == [1, 2, 3]
    assert result["current"]["status"] == "failed"
    assert result["current"]["chart_version"] == "1.2.0-rc.1"
    assert (result["deployed_revision"], result["last_successful_revision"]) == (2, 2)
    assert result["rollback_candidates"] == [2, 1]
    assert result["pending"] is False
    assert result["helm_version"] == "3.17.3"
    assert all("values" not in entry for entry in result["history"])
    assert fake_helm.calls == [("history", "web", "shop")]


def test_values_only_for_the_returned_revisions(fake_helm, capsys):
    result = run_module({"namespace": "shop", "max": 2, "include_values": True}, capsys)
    assert [entry["revision"] for entry in result["history"]] == [2, 3]
    assert [entry["values"] for entry in result["history"]] == [{"replicas": 2}, {"replicas": 3}]
    assert result["current"]["values"] == {"replicas": 3}
    assert result["rollback_candidates"] == [2, 1]
    assert fake_helm.calls[-1] == ("get_values_many", "web", "shop", [2, 3])


def test_values_only_for_revisions_that_reached_deployed(fake_helm, capsys):
    result = run_module({"include_values": True, "values_revisions": "successful"}, capsys)
    assert [(entry["revision"], entry.get("values")) for entry in result["history"]] == [
        (1, {"replicas": 1}), (2, {"replicas": 2}), (3, None)]
    assert "values" not in result["current"]
    assert fake_helm.calls[-1] == ("get_values_many", "web", "shop", [1, 2])


def test_values_from_release_records_only_for_the_revisions_asked(fake_helm, capsys):
    read_records(fake_helm, RECORDS)
    result = run_module({"include_values": True, "values_revisions": "successful"}, capsys)
    assert [(entry["revision"], entry.get("values")) for entry in result["history"]] == [
        (1, {"replicas": 1}), (2, {"replicas": 2}), (3, None)]
    assert result["values_source"] == result["history_source"] == "release_records"
    assert fake_helm.calls == [] and fake_helm.api.calls == [RECORDS_LIST]


def test_no_values_call_when_no_revision_qualifies(fake_helm, capsys):
    result = run_module({"include_values": True, "values_revisions": "successful", "max": 1}, capsys)
    assert [entry["revision"] for entry in result["history"]] == [3]
    assert "values" not in result["history"][0] and "values_source" not in result
    assert [call[0] for call in fake_helm.calls] == ["history"]


def test_missing_release_is_not_a_failure(fake_helm, capsys):
    fake_helm.history_error = HelmError("release_not_found", "The release does not exist", 1, "", "Error: release: not found")
    result = run_module({"include_values": True}, capsys)
    assert result.get("failed") is not True
    assert result["changed"] is False and result["exists"] is False
    assert result["history"] == [] and result["current"] is None and result["rollback_candidates"] == []
    assert "get_values_many" not in [call[0] for call in fake_helm.calls]


def test_helm_failure_fails_with_details(fake_helm, capsys):
    fake_helm.history_error = HelmError("cluster_unreachable", "The Kubernetes API server could not be reached", 1,
                                        "", "Error: Kubernetes cluster unreachable", ["helm", "history", "web"])
    result = run_module({}, capsys)
    assert result["failed"] is True
    assert result["error_kind"] == "cluster_unreachable"
    assert (result["rc"], result["command"]) == (1, ["helm", "history", "web"])


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name": "Web"}, "uppercase"),
        ({"name": "--kubeconfig=/tmp/x"}, "command-line option"),
        ({"name": "web;reboot"}, "never valid"),
        ({"name": "w" * 54}, "at most 53"),
        ({"release_namespace": "team_a"}, "namespace 'team_a' is invalid"),
        ({"release_namespace": "n" * 64}, "at most 63"),
        ({"max": 0}, "max must be at least 1"),
    ],
)
def test_bad_input_fails_before_helm_runs(fake_helm, capsys, args, message):
    result = run_module(args, capsys)
    assert result["failed"] is True and message in result["msg"]
    assert fake_helm.calls == []


def test_check_mode_is_the_same_read(fake_helm, capsys):
    normal = run_module({}, capsys)
    checked = run_module({"_ansible_check_mode": True}, capsys)
    assert checked == normal


@pytest.mark.parametrize("releases, api_problem, environ, error, source", [
    pytest.param(RECORDS, None, {}, None, "release_records", id="listed"),
    pytest.param([], None, {}, None, "helm", id="nothing-listed"),
    # the LIST fails: Helm reads instead, and would report the problem in its own words
    pytest.param(RECORDS, None, {}, KubeError(ACCESS_DENIED, "secrets is forbidden", status=403), "helm",
                 id="list-refused"),
    pytest.param(RECORDS, HELM_ONLY, {}, None, "helm", id="kubeconfig-only-helm-supports"),
    pytest.param(RECORDS, None, {"HELM_DRIVER": "configmap"}, None, "helm", id="records-not-in-secrets"),
])
def test_history_and_values_from_release_records_or_helm(fake_helm, capsys, monkeypatch, releases, api_problem,
                                                         environ, error, source):
    read_records(fake_helm, releases)
    fake_helm.connection.api_problem = api_problem
    if error is not None:
        fake_helm.api.errors[SECRETS] = error
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = run_module({"include_values": True}, capsys)
    assert not result.get("failed"), result
    assert [entry["values"] for entry in result["history"]] == [{"replicas": 1}, {"replicas": 2}, {"replicas": 3}]
    assert result["values_source"] == result["history_source"] == source
    helm_calls = [call[0] for call in fake_helm.calls]
    assert helm_calls == ([] if source == "release_records" else ["history", "get_values_many"])
    # one LIST where the records can be read, none where they cannot
    assert fake_helm.api.calls == ([] if api_problem or environ else [RECORDS_LIST])


def test_release_records_read_as_helm_reads_them(fake_helm, capsys):
    through_helm = run_module({"include_values": True}, capsys)
    read_records(fake_helm, RECORDS)
    from_records = run_module({"include_values": True}, capsys)
    assert from_records["history_source"] == "release_records" and fake_helm.api.calls == [RECORDS_LIST]
    for result in (through_helm, from_records):
        del result["history_source"], result["values_source"]
    assert from_records == through_helm


def test_no_release_records_without_values(fake_helm, capsys):
    result = run_module({}, capsys)
    assert "values_source" not in result
    assert [call[0] for call in fake_helm.calls] == ["history"]

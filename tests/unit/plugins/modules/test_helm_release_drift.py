# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import copy
import json

import pytest
import yaml

from ansible_collections.matih.helm.plugins.module_utils import drift, kube_api
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmError
from ansible_collections.matih.helm.plugins.modules import helm_release_drift
from ansible_collections.matih.helm.tests.unit.plugins.module_args import main_result

PASSWORD = "s3cret-password"
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"greeting": "hello"}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "credentials"}, "stringData": {"password": PASSWORD}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "demo:1"}]}}}}
MANIFEST = "---\n" + "---\n".join(yaml.safe_dump(obj) for obj in (CONFIGMAP, SECRET, DEPLOYMENT))


def stored(obj, **changes):
    live = copy.deepcopy(obj)
    live.pop("apiVersion")
    live.pop("kind")
    live["metadata"].update(namespace="shop", uid="u-" + obj["metadata"]["name"], resourceVersion="1")
    if "stringData" in live:
        live["data"] = {key: base64.b64encode(value.encode()).decode() for key, value in live.pop("stringData").items()}
    live.update(changes)
    return live


class FakeKubeApi(object):
    """helm_release_drift's API, from memory (the integration target runs it on a real control plane)."""

    records = []
    live = {}
    calls = []

    def __init__(self):
        self.requests = 0

    @classmethod
    def from_module(cls, module, kubeconfig_path):
        FakeKubeApi.calls.append(("connect", module.params["name"], kubeconfig_path))
        return cls()

    @staticmethod
    def run_concurrently(function, items):
        return [function(item) for item in items]

    def release_records(self, name, namespace):
        self.requests += 1
        return FakeKubeApi.records

    def resource(self, api_version, kind):
        return drift.KNOWN_RESOURCES[(api_version, kind)]

    def read(self, resource, read):
        self.requests += 1
        return {name: copy.deepcopy(FakeKubeApi.live[(read.kind, name)]) for name in read.names
                if (read.kind, name) in FakeKubeApi.live}

    def dry_run(self, resource, ref, body):
        self.requests += 1
        FakeKubeApi.calls.append(("dry_run", ref.kind, ref.name))
        applied = copy.deepcopy(FakeKubeApi.live[(ref.kind, ref.name)])
        if ref.kind == "Deployment":
            applied["spec"]["replicas"] = body["spec"].get("replicas", applied["spec"]["replicas"])
        elif ref.kind == "ConfigMap":
            applied["data"] = body["data"]
        elif ref.kind == "Secret":
            applied["data"] = drift.desired_object(body, ref)["data"]
        return applied


@pytest.fixture
def fake_api(monkeypatch):
    FakeKubeApi.records = [{"name": "web", "namespace": "shop", "version": 1, "info": {"status": "superseded"},
                            "manifest": MANIFEST},
                           {"name": "web", "namespace": "shop", "version": 2, "info": {"status": "deployed"},
                            "manifest": MANIFEST}]
    FakeKubeApi.live = {("ConfigMap", "settings"): stored(CONFIGMAP), ("Secret", "credentials"): stored(SECRET),
                        ("Deployment", "web"): stored(DEPLOYMENT)}
    FakeKubeApi.calls = []
    monkeypatch.setattr(helm_release_drift, "KubeApi", FakeKubeApi)
    monkeypatch.setattr(kube_api, "HAS_KUBERNETES", True)
    monkeypatch.delenv("HELM_DRIVER", raising=False)
    return FakeKubeApi


def run_module(args, capsys):
    return main_result(helm_release_drift.main, dict({"name": "web", "release_namespace": "shop"}, **args), capsys)


def test_a_release_in_sync(fake_api, capsys):
    result = run_module({}, capsys)
    assert result["changed"] is False and result["drifted"] is False
    assert (result["release"], result["namespace"], result["revision"], result["status"]) == ("web", "shop", 2, "deployed")
    assert [(obj["kind"], obj["name"], obj["state"]) for obj in result["objects"]] == [
        ("ConfigMap", "settings", "in_sync"), ("Secret", "credentials", "in_sync"), ("Deployment", "web", "in_sync")]
    assert result["summary"] == {"objects": 3, "missing": 0, "modified": 0, "in_sync": 3}
    assert (result["dry_runs"], result["api_requests"]) == (0, 4)
    assert fake_api.calls == [("connect", "web", None)]


def test_check_mode_is_the_same_check(fake_api, capsys):
    fake_api.live[("Deployment", "web")]["spec"]["replicas"] = 4
    normal = run_module({}, capsys)
    checked = run_module({"_ansible_check_mode": True}, capsys)
    for result in (normal, checked):
        result.pop("invocation", None)
    assert checked == normal and normal["drifted"] is True and normal["changed"] is False


def test_drifted_objects_and_their_fields(fake_api, capsys):
    del fake_api.live[("ConfigMap", "settings")]
    fake_api.live[("Deployment", "web")]["spec"]["replicas"] = 0
    fake_api.live[("Secret", "credentials")]["data"]["password"] = base64.b64encode(b"edited-by-hand").decode()
    result = run_module({"show_values": True, "revision": 1}, capsys)
    assert result["revision"] == 1 and result["status"] == "superseded" and result["drifted"] is True
    assert [(obj["kind"], obj["state"], obj["fields"]) for obj in result["objects"]] == [
        ("ConfigMap", "missing", []),
        ("Secret", "modified", [{"path": "data.password"}]),
        ("Deployment", "modified", [{"path": "spec.replicas", "desired": 1, "live": 0}])]
    assert result["summary"] == {"objects": 3, "missing": 1, "modified": 2, "in_sync": 0}
    assert result["dry_runs"] == 2


def test_ignore_fields(fake_api, capsys):
    fake_api.live[("Deployment", "web")]["spec"]["replicas"] = 7
    result = run_module({"ignore_fields": {"Deployment": ["spec.replicas"]}}, capsys)
    assert result["drifted"] is False and ("dry_run", "Deployment", "web") not in fake_api.calls


def test_secret_values_are_masked_even_where_a_value_is_shown(fake_api, capsys):
    # the same text as a ConfigMap value, which show_values returns: the module masks what it read in Secrets
    fake_api.live[("ConfigMap", "settings")]["data"]["greeting"] = PASSWORD
    result = run_module({"show_values": True}, capsys)
    text = json.dumps(result)
    assert PASSWORD not in text and base64.b64encode(PASSWORD.encode()).decode() not in text
    [field] = result["objects"][0]["fields"]
    assert (field["path"], field["desired"]) == ("data.greeting", "hello")
    assert field["live"] in ("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "********")  # as ansible-core masks a whole value


@pytest.mark.parametrize("args, environ, message", [
    ({"revision": 0}, {}, "revision must be at least 1, got 0"),
    ({"ignore_fields": {"Deployment": ["spec..replicas"]}}, {}, "ignore_fields[Deployment]: 'spec..replicas' has an empty key"),
    ({"name": "Web"}, {}, "release name 'Web' contains uppercase letters"),
    ({}, {"HELM_DRIVER": "configmap"}, "HELM_DRIVER=configmap keeps Helm's release records elsewhere than in Secrets"),
])
def test_option_problems_fail_before_connecting(fake_api, capsys, monkeypatch, args, environ, message):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = run_module(args, capsys)
    assert result["failed"] is True and message in result["msg"] and "error_kind" not in result
    assert fake_api.calls == []


def test_a_missing_library_names_the_install_command(fake_api, capsys, monkeypatch):
    monkeypatch.setattr(kube_api, "HAS_KUBERNETES", False)
    result = run_module({}, capsys)
    assert result["failed"] is True
    assert "Failed to import the required Python library (kubernetes)" in result["msg"]
    assert "-m pip install kubernetes" in result["msg"]


@pytest.mark.parametrize("records, revision, kind, message", [
    ([], None, "release_not_found", "Release web not found in namespace shop"),
    (None, 9, "revision_not_found", "the stored revisions are 1, 2"),
])
def test_nothing_to_compare_fails_with_its_kind(fake_api, capsys, records, revision, kind, message):
    if records is not None:
        fake_api.records = records
    result = run_module({"revision": revision} if revision else {}, capsys)
    assert result["failed"] is True and result["error_kind"] == kind and message in result["msg"]
    assert set(result) >= {"msg", "error_kind"} and "stderr" not in result and "command" not in result


def test_a_connection_failure_fails_with_its_kind(fake_api, capsys, monkeypatch):
    def unreachable(module, kubeconfig_path):
        raise HelmError("cluster_unreachable", "The Kubernetes API server https://10.0.0.1 could not be reached")
    monkeypatch.setattr(FakeKubeApi, "from_module", staticmethod(unreachable))
    result = run_module({}, capsys)
    assert (result["failed"], result["error_kind"]) == (True, "cluster_unreachable")


def test_an_inline_kubeconfig_is_written_privately_and_its_token_masked(fake_api, capsys):
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
              "users": [{"name": "u", "user": {"token": "kubeconfig-token-123"}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    result = run_module({"kubeconfig": config}, capsys)
    assert result["drifted"] is False
    _call, _name, path = fake_api.calls[0]
    assert path and path.endswith(".json")
    assert "kubeconfig-token-123" not in json.dumps(result)

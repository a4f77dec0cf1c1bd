# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import copy
import json
import os

import pytest
import yaml

from ansible_collections.matih.helm.plugins.module_utils.connection import Connection
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, CLUSTER_UNREACHABLE, NO_API_SERVER, KubeError,
)
from ansible_collections.matih.helm.plugins.modules import helm_release_drift
from ansible_collections.matih.helm.tests.unit.plugins.module_args import main_result
from ansible_collections.matih.helm.tests.unit.plugins.modules.kube_fakes import FakeApi, object_path, use_fake_client

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


SECRETS = "/api/v1/namespaces/shop/secrets"
RECORDS_LIST = ("list", SECRETS, "owner=helm,name=web")
CONFIGMAP_PATH = object_path("ConfigMap", "settings", "shop")
SECRET_PATH = object_path("Secret", "credentials", "shop")
DEPLOYMENT_PATH = object_path("Deployment", "web", "shop")
REFUSAL = "helm_release_drift reads Helm's release records and live objects from the Kubernetes API, which is not " \
          "possible here: "


@pytest.fixture
def fake_api(monkeypatch):
    """helm_release_drift's API, from memory (the integration target runs it on a real control plane). The module
    runs the real ReleaseStore and LiveObjects over a FakeKubeClient; its Connection resolves the kubeconfig option
    for real (Connection.from_module) and connects to the FakeApi."""
    api = FakeApi()
    api.releases = [{"name": "web", "namespace": "shop", "version": 1, "info": {"status": "superseded"},
                     "manifest": MANIFEST},
                    {"name": "web", "namespace": "shop", "version": 2, "info": {"status": "deployed"},
                     "manifest": MANIFEST}]
    api.live = {("ConfigMap", "settings"): stored(CONFIGMAP), ("Secret", "credentials"): stored(SECRET),
                ("Deployment", "web"): stored(DEPLOYMENT)}
    use_fake_client(monkeypatch)
    monkeypatch.setattr(helm_release_drift, "Connection", api.connection_class())
    monkeypatch.delenv("HELM_DRIVER", raising=False)
    return api


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
    assert fake_api.connections == [("web", None)]
    # the records in one LIST, then one GET per object (each kind holds one here), read concurrently
    assert fake_api.calls[0] == RECORDS_LIST
    assert sorted(fake_api.calls[1:]) == sorted([("get", CONFIGMAP_PATH), ("get", SECRET_PATH), ("get", DEPLOYMENT_PATH)])


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
    dry_runs = sorted(call for call in fake_api.calls if call[0] == "apply")
    assert dry_runs == [("apply", SECRET_PATH), ("apply", DEPLOYMENT_PATH)]
    assert result["api_requests"] == 1 + 3 + 2


def test_ignore_fields(fake_api, capsys):
    fake_api.live[("Deployment", "web")]["spec"]["replicas"] = 7
    result = run_module({"ignore_fields": {"Deployment": ["spec.replicas"]}}, capsys)
    assert result["drifted"] is False and ("apply", DEPLOYMENT_PATH) not in fake_api.calls


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
    ({}, {"HELM_DRIVER": "configmap"}, "HELM_DRIVER=configmap keeps Helm's release records elsewhere than in Secrets; "
                                       "helm_release_drift reads them from Helm's default Secrets driver only: unset "
                                       "HELM_DRIVER"),
])
def test_option_problems_fail_before_connecting(fake_api, capsys, monkeypatch, args, environ, message):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = run_module(args, capsys)
    assert result["failed"] is True and message in result["msg"] and "error_kind" not in result
    assert fake_api.connections == [] and fake_api.calls == []


def test_a_kubeconfig_only_helm_can_use_fails_as_unsupported(fake_api, capsys, monkeypatch):
    # the real Connection: the kubeconfig's auth-provider is a feature our API client lacks (connection.api_problem)
    monkeypatch.setattr(helm_release_drift, "Connection", Connection)
    for name in list(os.environ):
        if name.startswith(("HELM_KUBE", "K8S_AUTH_")) or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
              "users": [{"name": "u", "user": {"auth-provider": {"name": "oidc", "config": {
                  "id-token": "oidc-id-token-123456", "client-id": "kubernetes"}}}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    result = run_module({"kubeconfig": config}, capsys)
    assert (result["failed"], result["error_kind"]) == (True, "unsupported_kubeconfig")
    assert result["msg"].startswith(REFUSAL) and "auth-provider oidc" in result["msg"]
    assert "oidc-id-token-123456" not in json.dumps(result)
    assert fake_api.calls == []


@pytest.mark.parametrize("records, revision, kind, message", [
    ([], None, "release_not_found", "Release web not found in namespace shop"),
    (None, 9, "revision_not_found", "the stored revisions are 1, 2"),
])
def test_nothing_to_compare_fails_with_its_kind(fake_api, capsys, records, revision, kind, message):
    if records is not None:
        fake_api.releases = records
    result = run_module({"revision": revision} if revision else {}, capsys)
    assert result["failed"] is True and result["error_kind"] == kind and message in result["msg"]
    assert set(result) >= {"msg", "error_kind"} and "stderr" not in result and "command" not in result


@pytest.mark.parametrize("where, error", [
    ("connection", KubeError(NO_API_SERVER, "No API server is configured: there is no kubeconfig and no host")),
    (SECRETS, KubeError(CLUSTER_UNREACHABLE, "The Kubernetes API server https://10.0.0.1 could not be reached")),
    (DEPLOYMENT_PATH, KubeError(ACCESS_DENIED, 'deployments.apps "web" is forbidden: User "ci" cannot get resource '
                                               '"deployments"', status=403, reason="Forbidden")),
], ids=["connection", "records", "live-object"])
def test_an_api_failure_fails_with_its_kind(fake_api, capsys, where, error):
    if where == "connection":
        fake_api.broken = error
    else:
        fake_api.errors[where] = error
    result = run_module({}, capsys)
    assert (result["failed"], result["error_kind"], result["msg"]) == (True, error.kind, error.message)
    assert result.get("api_status") == error.status
    assert "objects" not in result and "drifted" not in result


def test_an_inline_kubeconfig_is_written_privately_and_its_token_masked(fake_api, capsys):
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
              "users": [{"name": "u", "user": {"token": "kubeconfig-token-123"}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    result = run_module({"kubeconfig": config}, capsys)
    assert result["drifted"] is False
    [(_name, path)] = fake_api.connections
    assert path and path.endswith(".json")
    assert "kubeconfig-token-123" not in json.dumps(result)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import gzip
import json

import pytest

from ansible_collections.matih.helm.plugins.module_utils import kube


def record(release, compress=True, secret_type=kube.RELEASE_SECRET_TYPE):
    """A release Secret as the API returns it: Helm's base64 of the gzipped JSON, base64-encoded again."""
    payload = json.dumps(release).encode()
    helm_encoded = base64.b64encode(gzip.compress(payload) if compress else payload)
    return {"type": secret_type, "data": {"release": base64.b64encode(helm_encoded).decode()}}


def release(version, config, name="web", namespace="shop"):
    return {"name": name, "namespace": namespace, "version": version, "config": config,
            "info": {"status": "deployed"}, "manifest": "---\n"}


@pytest.mark.parametrize("compress", [True, False])
def test_decode_release(compress):
    encoded = record(release(3, {"image": {"tag": "1.2"}}), compress)["data"]["release"]
    assert kube.decode_release(encoded)["config"] == {"image": {"tag": "1.2"}}


@pytest.mark.parametrize("encoded", [
    "not base64!", base64.b64encode(b"not base64 either").decode(),
    base64.b64encode(base64.b64encode(b"\x1f\x8bbroken gzip")).decode(),
    base64.b64encode(base64.b64encode(json.dumps({"name": "web"}).encode())).decode(),
])
def test_decode_release_refuses_what_is_not_a_release(encoded):
    with pytest.raises(ValueError, match="not a Helm release record"):
        kube.decode_release(encoded)


def test_values_by_revision_keeps_only_this_release():
    secrets = [
        record(release(1, {"a": 1})),
        record(release(2, None)),  # installed without values: helm get values prints null
        record(release(3, {"a": 3}, name="other")),
        record(release(4, {"a": 4}, namespace="elsewhere")),
        record(release(5, {"a": 5}), secret_type="Opaque"),
        {"type": kube.RELEASE_SECRET_TYPE, "data": {"release": "garbage"}},
        {"type": kube.RELEASE_SECRET_TYPE},
    ]
    assert kube.values_by_revision(secrets, "web", "shop") == {1: {"a": 1}, 2: {}}


@pytest.mark.parametrize("environ, fragment", [
    ({}, None),
    ({"HELM_DRIVER": "secret"}, None),
    ({"HELM_DRIVER": "Secrets"}, None),
    ({"HELM_DRIVER": "configmap"}, "HELM_DRIVER=configmap"),
    ({"HELM_DRIVER": "sql"}, "HELM_DRIVER=sql"),
    ({"HELM_KUBECONTEXT": "prod"}, "HELM_KUBECONTEXT changes how Helm connects"),
    ({"HELM_KUBEAPISERVER": "https://x", "HELM_KUBEASUSER": "me"}, "HELM_KUBEAPISERVER, HELM_KUBEASUSER"),
    ({"HELM_KUBETOKEN": "set by the module itself"}, None),
])
def test_shortcut_blocker(environ, fragment, monkeypatch):
    monkeypatch.setattr(kube, "HAS_KUBERNETES", True)
    blocker = kube.shortcut_blocker(environ)
    assert blocker is None if fragment is None else fragment in blocker


def test_shortcut_blocked_without_the_library(monkeypatch):
    monkeypatch.setattr(kube, "HAS_KUBERNETES", False)
    assert "kubernetes Python library is not installed" in kube.shortcut_blocker({})
    assert kube.release_records({}, None, "web", "shop") is None


KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "one",
    "clusters": [{"name": "c1", "cluster": {"server": "https://one.example:6443"}},
                 {"name": "c2", "cluster": {"server": "https://two.example:6443"}}],
    "users": [{"name": "u1", "user": {"token": "kubeconfig-token"}}],
    "contexts": [{"name": "one", "context": {"cluster": "c1", "user": "u1"}},
                 {"name": "two", "context": {"cluster": "c2", "user": "u1"}}],
}


@pytest.fixture
def kubeconfig(tmp_path):
    pytest.importorskip("kubernetes")
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(KUBECONFIG))
    return str(path)


@pytest.mark.parametrize("params, host, token, verify", [
    ({}, "https://one.example:6443", "Bearer kubeconfig-token", True),
    ({"context": "two"}, "https://two.example:6443", "Bearer kubeconfig-token", True),
    ({"host": "https://three.example", "api_key": "option-token", "validate_certs": False},
     "https://three.example", "Bearer option-token", False),
])
def test_connection_follows_the_module_options(kubeconfig, params, host, token, verify):
    configuration = kube.connection(params, kubeconfig)
    assert configuration.host == host
    assert kube.auth_headers(configuration) == {"authorization": token}
    assert configuration.verify_ssl is verify


def test_connection_with_host_and_token_needs_no_kubeconfig(tmp_path):
    pytest.importorskip("kubernetes")
    configuration = kube.connection({"host": "https://api.example", "api_key": "t"}, str(tmp_path / "absent"))
    assert configuration.host == "https://api.example"
    assert kube.auth_headers(configuration) == {"authorization": "Bearer t"}


def test_unreachable_cluster_means_no_records(kubeconfig, monkeypatch):
    monkeypatch.setattr(kube, "shortcut_blocker", lambda environ: None)
    assert kube.release_records({"host": "https://127.0.0.1:9", "api_key": "t"}, kubeconfig, "web", "shop") is None

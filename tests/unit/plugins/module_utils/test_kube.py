# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import gzip
import http.server
import json
import os
import threading

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


def test_releases_of_reads_every_listed_record_oldest_first():
    secrets = [record(release(2, None)),  # installed without values: helm get values prints null
               record(release(1, {"a": 1}), compress=False)]
    releases = kube.releases_of(secrets)
    assert [entry["version"] for entry in releases] == [1, 2]
    assert [kube.user_values(entry) for entry in releases] == [{"a": 1}, {}]


@pytest.mark.parametrize("bad", [
    {"type": kube.RELEASE_SECRET_TYPE, "data": {"release": "garbage"}},
    {"type": kube.RELEASE_SECRET_TYPE},
    record(dict(release(3, {}), info=None)),  # Helm panics on it
])
def test_releases_of_refuses_what_helm_could_not_read(bad):
    with pytest.raises(ValueError):
        kube.releases_of([record(release(1, {})), bad])


@pytest.mark.parametrize("stored, entry", [
    ({"version": 3, "info": {"last_deployed": "2026-12-02T07:35:00.123456789Z", "status": "failed",
                             "description": "Upgrade \"web\" failed"},
      "chart": {"metadata": {"name": "web", "version": "1.2.0", "appVersion": "2.0"}}},
     {"revision": 3, "updated": "2026-12-02T07:35:00.123456789Z", "status": "failed", "chart": "web-1.2.0",
      "app_version": "2.0", "description": "Upgrade \"web\" failed"}),
    # Helm's formatChartname/formatAppVersion: no chart is MISSING; a chart without appVersion is ""
    ({"version": 1, "info": {"status": "deployed"}},
     {"revision": 1, "updated": "", "status": "deployed", "chart": "MISSING", "app_version": "MISSING",
      "description": ""}),
    ({"version": 2, "info": {}, "chart": {"metadata": {"name": "web", "version": "1.0.0"}}},
     {"revision": 2, "updated": "", "status": "", "chart": "web-1.0.0", "app_version": "", "description": ""}),
    # Helm 4.3 stores a rollback's target (printed even when the rollback failed); 0 means not a rollback
    ({"version": 4, "info": {"status": "failed", "description": "Rollback \"web\" failed", "rollback_revision": 2}},
     {"revision": 4, "updated": "", "status": "failed", "chart": "MISSING", "app_version": "MISSING",
      "description": "Rollback \"web\" failed", "rollback_revision": 2}),
    ({"version": 5, "info": {"status": "deployed", "rollback_revision": 0}},
     {"revision": 5, "updated": "", "status": "deployed", "chart": "MISSING", "app_version": "MISSING",
      "description": ""}),
])
def test_history_entry_as_helm_history_prints_it(stored, entry):
    assert kube.history_entry(stored) == entry


@pytest.mark.parametrize("environ, fragment", [
    ({}, None),
    ({"HELM_DRIVER": "secret"}, None),
    ({"HELM_DRIVER": "Secrets"}, None),
    ({"HELM_DRIVER": "configmap"}, "HELM_DRIVER=configmap"),
    ({"HELM_DRIVER": "sql"}, "HELM_DRIVER=sql"),
    ({"HELM_KUBECONTEXT": "prod"}, "HELM_KUBECONTEXT changes how Helm connects"),
    ({"HELM_KUBEAPISERVER": "https://x", "HELM_KUBEASUSER": "me"}, "HELM_KUBEAPISERVER, HELM_KUBEASUSER"),
    ({"HTTPS_PROXY": "http://proxy:3128"}, "HTTPS_PROXY"),
    ({"http_proxy": "http://proxy:3128"}, "http_proxy"),
    ({"HELM_KUBETOKEN": "the token, read like api_key"}, None),
])
def test_shortcut_blocker(environ, fragment):
    blocker = kube.shortcut_blocker(environ)
    assert blocker is None if fragment is None else fragment in blocker


@pytest.mark.parametrize("path, environ, expected", [
    ("/given", {"KUBECONFIG": "/env"}, "/given"),
    (None, {"KUBECONFIG": "/env"}, "/env"),
    (None, {"KUBECONFIG": "/env" + os.pathsep}, "/env"),
    (None, {"KUBECONFIG": "/one" + os.pathsep + "/two"}, None),  # client-go merges them: Helm reads
    (None, {}, os.path.join(os.path.expanduser("~"), ".kube", "config")),
])
def test_kubeconfig_file(path, environ, expected):
    assert kube.kubeconfig_file(path, environ) == expected


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
CA_DATA = base64.b64encode(CA_PEM.encode()).decode()


def kubeconfig(cluster=None, user=None, **extra):
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "one",
        "clusters": [{"name": "c1", "cluster": dict({"server": "https://one.example:6443"}, **(cluster or {}))},
                     {"name": "c2", "cluster": {"server": "https://two.example:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u1", "user": user if user is not None else {"token": "kubeconfig-token"}}],
        "contexts": [{"name": "one", "context": {"cluster": "c1", "user": "u1"}},
                     {"name": "two", "context": {"cluster": "c2", "user": "u1"}}],
    }
    config.update(extra)
    return config


E = kube.Endpoint
BEARER = "Bearer kubeconfig-token"


@pytest.mark.parametrize("config, params, environ, expected", [
    pytest.param(kubeconfig(), {}, {}, E("https://one.example:6443", None, None, False, None, None, BEARER),
                 id="current-context"),
    pytest.param(kubeconfig(), {"context": "two"}, {}, E("https://two.example:6443", None, None, True, None, None, BEARER),
                 id="context-option"),
    pytest.param(kubeconfig({"certificate-authority-data": CA_DATA}), {}, {},
                 E("https://one.example:6443", None, CA_PEM, False, None, None, BEARER), id="ca-data"),
    pytest.param(kubeconfig({"certificate-authority": "pki/ca.crt"}), {}, {},
                 E("https://one.example:6443", "/conf/pki/ca.crt", None, False, None, None, BEARER), id="ca-relative"),
    pytest.param(kubeconfig({"certificate-authority": "/etc/ca.crt", "certificate-authority-data": CA_DATA}), {}, {},
                 E("https://one.example:6443", None, CA_PEM, False, None, None, BEARER), id="ca-data-wins"),
    pytest.param(kubeconfig({"certificate-authority-data": CA_DATA}), {"ca_cert": "/opt/ca.pem"}, {},
                 E("https://one.example:6443", "/opt/ca.pem", None, False, None, None, BEARER), id="ca-cert-option"),
    pytest.param(kubeconfig(), {"host": "https://three.example", "api_key": "option-token", "validate_certs": False},
                 {}, E("https://three.example", None, None, True, None, None, "Bearer option-token"), id="options"),
    pytest.param(kubeconfig(), {}, {"HELM_KUBETOKEN": "env-token"},
                 E("https://one.example:6443", None, None, False, None, None, "Bearer env-token"), id="helm-kubetoken"),
    pytest.param(None, {"host": "https://api.example", "api_key": "t"}, {},
                 E("https://api.example", None, None, False, None, None, "Bearer t"), id="no-kubeconfig"),
    pytest.param(kubeconfig(user={"client-certificate-data": CA_DATA, "client-key": "u.key"}), {}, {},
                 E("https://one.example:6443", None, None, False, (None, CA_PEM), ("/conf/u.key", None), None),
                 id="client-certificate"),
    pytest.param(kubeconfig(user={"username": "admin", "password": "pw"}), {}, {},
                 E("https://one.example:6443", None, None, False, None, None,
                   "Basic " + base64.b64encode(b"admin:pw").decode()), id="basic-auth"),
    # client-go reads no credentials and no TLS settings for a plain-HTTP server
    pytest.param(kubeconfig({"server": "http://127.0.0.1:8080"}), {"api_key": "t"}, {},
                 E("http://127.0.0.1:8080", None, None, False, None, None, None), id="plain-http"),
    pytest.param(kubeconfig(user={"exec": {"command": "aws"}}), {}, {}, "the user authenticates with exec", id="exec"),
    pytest.param(kubeconfig(user={"auth-provider": {"name": "oidc"}}), {}, {}, "auth-provider", id="auth-provider"),
    pytest.param(kubeconfig(user={"token": "t", "as": "someone"}), {}, {}, "with as", id="impersonation"),
    pytest.param(kubeconfig({"proxy-url": "http://proxy"}), {}, {}, "proxy-url", id="proxy-url"),
    pytest.param(kubeconfig({"tls-server-name": "api.internal"}), {}, {}, "tls-server-name", id="tls-server-name"),
    pytest.param(kubeconfig({"certificate-authority-data": CA_DATA, "insecure-skip-tls-verify": True}), {}, {},
                 "client-go refuses that", id="ca-and-insecure"),
    pytest.param(kubeconfig(), {"context": "absent"}, {}, "no API server for context 'absent'", id="unknown-context"),
    pytest.param(kubeconfig({"server": "unix:///run/api.sock"}), {}, {}, "neither https nor http", id="odd-scheme"),
])
def test_endpoint_is_the_one_client_go_would_use(config, params, environ, expected):
    target = kube.endpoint(config, "/conf", params, environ)
    if isinstance(expected, str):  # why the reader leaves it to Helm
        assert isinstance(target, str) and expected in target
    else:
        assert target == expected


def test_token_file_is_read(tmp_path):
    (tmp_path / "token").write_text("file-token\n")
    target = kube.endpoint(kubeconfig(user={"tokenFile": "token"}), str(tmp_path), {}, {})
    assert target.authorization == "Bearer file-token"


class _Api(http.server.BaseHTTPRequestHandler):
    """A Secrets LIST endpoint that records what it was asked."""
    secrets = []
    seen = []

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        _Api.seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"kind": "SecretList", "items": _Api.secrets}).encode()
        self.send_response(200 if "/namespaces/shop/" in self.path else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def api():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.secrets = [record(release(2, {"a": 2})), record(release(1, {"a": 1}))]
    _Api.seen = []
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_stored_revisions_from_one_list(api, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(kubeconfig({"server": api})))
    stored = kube.stored_revisions({}, str(path), "web", "shop", environ={})
    assert [(entry["version"], entry["config"]) for entry in stored] == [(1, {"a": 1}), (2, {"a": 2})]
    # Helm's label selector; no token over plain HTTP, as client-go
    assert _Api.seen == [("/api/v1/namespaces/shop/secrets?labelSelector=owner%3Dhelm%2Cname%3Dweb", None)]


def test_yaml_kubeconfig(api, tmp_path):
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig({"server": api + "/prefix/"})))
    assert len(kube.stored_revisions({}, str(path), "web", "shop", environ={})) == 2
    assert _Api.seen[0][0].startswith("/prefix/api/v1/namespaces/shop/secrets?")


@pytest.mark.parametrize("case", ["refused", "forbidden", "blocked", "exec-user", "no-kubeconfig", "corrupt"])
def test_no_records_whenever_helm_must_read(api, tmp_path, case):
    path = tmp_path / "kubeconfig"
    server = "http://127.0.0.1:9" if case == "refused" else api
    user = {"exec": {"command": "x"}} if case == "exec-user" else None
    path.write_text(json.dumps(kubeconfig({"server": server}, user=user)))
    namespace = "other" if case == "forbidden" else "shop"
    environ = {"HELM_DRIVER": "configmap"} if case == "blocked" else {}
    kubeconfig_path = str(tmp_path / "absent") if case == "no-kubeconfig" else str(path)
    if case == "corrupt":
        _Api.secrets.append({"type": kube.RELEASE_SECRET_TYPE, "data": {"release": "garbage"}})
    assert kube.stored_revisions({}, kubeconfig_path, "web", namespace, environ=environ) is None

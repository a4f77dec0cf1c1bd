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
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.matih.helm.plugins.module_utils import kube_api
from ansible_collections.matih.helm.plugins.module_utils.drift import FIELD_MANAGER, ObjectRef, Read, RequestFailed, Resource
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmError

needs_kubernetes = pytest.mark.skipif(not kube_api.HAS_KUBERNETES, reason="the kubernetes library is not installed")


@pytest.mark.parametrize("params, environ, expected", [
    ({}, {}, {"context": None, "host": None, "api_key": None, "ca_cert": None, "insecure": False, "tls_server_name": None}),
    # Helm's variables where the options are not set, as Helm's flags win over them
    ({"validate_certs": True}, {"HELM_KUBECONTEXT": "c", "HELM_KUBEAPISERVER": "https://h", "HELM_KUBETOKEN": "t",
                                "HELM_KUBECAFILE": "/ca", "HELM_KUBEINSECURE_SKIP_TLS_VERIFY": "true",
                                "HELM_KUBETLS_SERVER_NAME": "api"},
     {"context": "c", "host": "https://h", "api_key": "t", "ca_cert": "/ca", "insecure": True, "tls_server_name": "api"}),
    ({"context": "mine", "host": "https://mine", "api_key": "k", "ca_cert": "/mine", "validate_certs": False},
     {"HELM_KUBECONTEXT": "c", "HELM_KUBEAPISERVER": "https://h", "HELM_KUBETOKEN": "t"},
     {"context": "mine", "host": "https://mine", "api_key": "k", "ca_cert": "/mine", "insecure": True,
      "tls_server_name": None}),
])
def test_connection_settings(params, environ, expected):
    assert kube_api.connection_settings(params, environ) == expected


@pytest.mark.parametrize("environ, problem", [
    ({}, None),
    ({"HELM_DRIVER": "secrets"}, None),
    ({"HELM_DRIVER": "configmap"}, "HELM_DRIVER=configmap keeps Helm's release records elsewhere"),
    ({"HELM_KUBEASUSER": "bob"}, "HELM_KUBEASUSER makes Helm act as another user"),
])
def test_environment_problem(environ, problem):
    found = kube_api.environment_problem(environ)
    assert (found is None) if problem is None else found.startswith(problem)


def test_kubeconfig_files(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("{}")
    second.write_text("{}")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kube_api.kubeconfig_files("/given", {"KUBECONFIG": str(first)}) == "/given"
    assert kube_api.kubeconfig_files(None, {"KUBECONFIG": os.pathsep.join([str(first), str(tmp_path / "gone"), str(second)])}) \
        == os.pathsep.join([str(first), str(second)])
    # KUBECONFIG set replaces ~/.kube/config, as in client-go
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    assert kube_api.kubeconfig_files(None, {"KUBECONFIG": str(tmp_path / "gone")}) is None
    assert kube_api.kubeconfig_files(None, {}) == str(tmp_path / ".kube" / "config")


def kubeconfig(path, server="https://127.0.0.1:6443", token="kubeconfig-token", context="main"):
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}],
    }))
    return str(path)


@needs_kubernetes
def test_build_configuration_from_the_kubeconfig_then_the_options(tmp_path):
    path = kubeconfig(tmp_path / "config")
    settings = kube_api.connection_settings({}, {})
    configuration = kube_api.build_configuration(settings, path)
    assert configuration.host == "https://127.0.0.1:6443"
    assert kube_api.KubeApi(configuration)._authorization() == {"authorization": "Bearer kubeconfig-token"}  # pylint: disable=protected-access
    settings = kube_api.connection_settings({"host": "https://other:443/", "api_key": "option-token",
                                             "ca_cert": "/etc/ca.pem", "validate_certs": False, "context": "other"}, {})
    configuration = kube_api.build_configuration(settings, path)
    assert (configuration.host, configuration.ssl_ca_cert, configuration.verify_ssl) == ("https://other:443", "/etc/ca.pem", False)
    assert kube_api.KubeApi(configuration)._authorization() == {"authorization": "Bearer option-token"}  # pylint: disable=protected-access


@needs_kubernetes
def test_build_configuration_failures(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(HelmError) as failure:
        kube_api.build_configuration(kube_api.connection_settings({"context": "missing"}, {}), kubeconfig(tmp_path / "c"))
    assert failure.value.kind == "invalid_kubeconfig" and "missing" in failure.value.message
    with pytest.raises(HelmError) as failure:
        kube_api.build_configuration(kube_api.connection_settings({}, {}), None)
    assert failure.value.kind == "no_api_server"
    with pytest.raises(HelmError) as failure:
        kube_api.build_configuration(kube_api.connection_settings({"context": "main"}, {}), None)
    assert failure.value.kind == "invalid_kubeconfig"
    # the host alone is enough (kubernetes.core's k8s modules connect so too)
    configuration = kube_api.build_configuration(kube_api.connection_settings({"host": "http://127.0.0.1:1"}, {}), None)
    assert configuration.host == "http://127.0.0.1:1"


# --- requests against a local server -----------------------------------------------------------------

def release_secret(version, manifest="", status="deployed"):
    record = {"name": "web", "namespace": "shop", "version": version, "info": {"status": status}, "manifest": manifest}
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(record).encode()))
    return {"metadata": {"name": "sh.helm.release.v1.web.v%d" % version}, "type": "helm.sh/release.v1",
            "data": {"release": base64.b64encode(helm_encoded).decode()}}


class FakeApiServer(http.server.BaseHTTPRequestHandler):
    """Answers from ``routes``: {(method, path): (status, body) or a list of them, served in turn}."""

    routes = {}
    seen = []

    def _answer(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        FakeApiServer.seen.append((self.command, url.path, parse_qs(url.query), dict(self.headers),
                                   self.rfile.read(length).decode() if length else None))
        answer = FakeApiServer.routes.get((self.command, url.path), (404, {"kind": "Status", "message": "not found"}))
        if isinstance(answer, list):
            answer = answer.pop(0)
        status, body = answer
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PATCH = _answer

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def server():
    FakeApiServer.routes, FakeApiServer.seen = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def api_for(httpd, token="t0ken"):
    settings = kube_api.connection_settings({"host": "http://127.0.0.1:%d" % httpd.server_address[1], "api_key": token}, {})
    return kube_api.KubeApi(kube_api.build_configuration(settings, None))


@needs_kubernetes
def test_release_records_one_list_with_helm_selector_and_the_token(server):
    FakeApiServer.routes[("GET", "/api/v1/namespaces/shop/secrets")] = (200, {"items": [release_secret(2), release_secret(1)]})
    api = api_for(server)
    assert [record["version"] for record in api.release_records("web", "shop")] == [1, 2]
    method, path, query, headers, _body = FakeApiServer.seen[0]
    assert (method, path, query["labelSelector"]) == ("GET", "/api/v1/namespaces/shop/secrets", ["owner=helm,name=web"])
    assert headers["authorization"] == "Bearer t0ken" and api.requests == 1


@needs_kubernetes
def test_a_broken_release_record(server):
    FakeApiServer.routes[("GET", "/api/v1/namespaces/shop/secrets")] = (
        200, {"items": [{"type": "helm.sh/release.v1", "data": {"release": "garbage"}}]})
    with pytest.raises(HelmError) as failure:
        api_for(server).release_records("web", "shop")
    assert failure.value.kind == "invalid_release_record"


@needs_kubernetes
def test_read_one_object_is_a_get_and_missing_is_empty(server):
    FakeApiServer.routes[("GET", "/apis/apps/v1/namespaces/shop/deployments/web")] = (200, {"metadata": {"name": "web"}})
    api = api_for(server)
    assert api.read(Resource("deployments", True), Read("apps/v1", "Deployment", "shop", ("web",))) == {
        "web": {"metadata": {"name": "web"}}}
    assert api.read(Resource("services", True), Read("v1", "Service", "shop", ("web",))) == {}
    assert api.requests == 2


@needs_kubernetes
def test_read_several_objects_is_one_list_per_page_matched_by_name(server):
    FakeApiServer.routes[("GET", "/api/v1/namespaces/shop/secrets")] = [
        (200, {"metadata": {"continue": "next"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "other"}}]}),
        (200, {"metadata": {}, "items": [{"metadata": {"name": "b"}}]}),
    ]
    api = api_for(server)
    found = api.read(Resource("secrets", True), Read("v1", "Secret", "shop", ("a", "b", "c")))
    assert sorted(found) == ["a", "b"] and api.requests == 2
    first, second = FakeApiServer.seen[0][2], FakeApiServer.seen[1][2]
    assert first["fieldSelector"] == ["type!=helm.sh/release.v1"] and first["limit"] == ["500"]
    assert second["continue"] == ["next"]


@needs_kubernetes
def test_cluster_scoped_read_and_discovery_once_per_group_version(server):
    FakeApiServer.routes[("GET", "/apis/example.com/v1")] = (200, {"resources": [
        {"name": "widgets", "kind": "Widget", "namespaced": True}, {"name": "widgets/status", "kind": "Widget"},
        {"name": "gadgets", "kind": "Gadget", "namespaced": False}]})
    api = api_for(server)
    assert api.resource("v1", "ConfigMap") == Resource("configmaps", True) and api.requests == 0
    assert api.resource("example.com/v1", "Widget") == Resource("widgets", True)
    assert api.resource("example.com/v1", "Gadget") == Resource("gadgets", False)
    assert api.resource("example.org/v2", "Thing") is None  # not served (404)
    assert api.requests == 2
    FakeApiServer.routes[("GET", "/apis/example.com/v1/gadgets/g")] = (200, {"metadata": {"name": "g"}})
    assert api.read(Resource("gadgets", False), Read("example.com/v1", "Gadget", "", ("g",))) == {"g": {"metadata": {"name": "g"}}}


@needs_kubernetes
def test_dry_run_is_a_forced_server_side_apply_that_stores_nothing(server):
    path = "/apis/apps/v1/namespaces/shop/deployments/web"
    FakeApiServer.routes[("PATCH", path)] = [(200, {"metadata": {"name": "web"}, "spec": {"replicas": 1}}),
                                             (422, {"kind": "Status", "message": "field is immutable"})]
    api = api_for(server)
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1}}
    ref = ObjectRef("apps/v1", "Deployment", "shop", "web")
    assert api.dry_run(Resource("deployments", True), ref, body)["spec"] == {"replicas": 1}
    method, _path, query, headers, sent = FakeApiServer.seen[0]
    assert method == "PATCH" and headers["Content-Type"] == "application/apply-patch+yaml"
    assert query == {"dryRun": ["All"], "fieldManager": [FIELD_MANAGER], "force": ["true"], "fieldValidation": ["Ignore"]}
    assert json.loads(sent) == body
    with pytest.raises(RequestFailed) as refused:
        api.dry_run(Resource("deployments", True), ref, body)
    assert (refused.value.status, refused.value.message) == (422, "field is immutable")


@needs_kubernetes
@pytest.mark.parametrize("status, kind", [(401, "access_denied"), (403, "access_denied"), (500, "api_error")])
def test_read_failures_are_classified(server, status, kind):
    FakeApiServer.routes[("GET", "/api/v1/namespaces/shop/secrets")] = (status, {"kind": "Status", "message": "nope"})
    with pytest.raises(HelmError) as failure:
        api_for(server).release_records("web", "shop")
    assert failure.value.kind == kind and "nope" in failure.value.message


@needs_kubernetes
def test_an_unreachable_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = kube_api.connection_settings({"host": "http://127.0.0.1:%d" % port}, {})
    api = kube_api.KubeApi(kube_api.build_configuration(settings, None))
    api.configuration.retries = False
    api.rest = kube_api.ApiClient(api.configuration).rest_client
    with pytest.raises(HelmError) as failure:
        api.release_records("web", "shop")
    assert failure.value.kind == "cluster_unreachable" and "127.0.0.1:%d" % port in failure.value.message

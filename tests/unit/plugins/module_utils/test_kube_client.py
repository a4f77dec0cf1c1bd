# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kube_client against a real HTTP server on 127.0.0.1: a tiny scripted Kubernetes API whose routes
answer as the API server does, and record what they were sent."""

from __future__ import annotations

import base64
import contextlib
import datetime
import gc
import http.client
import http.server
import json
import select
import socket
import ssl
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.matih.helm.plugins.module_utils import kube_client, kube_types
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, API_ERROR, CLUSTER_UNREACHABLE, CONFLICT, INVALID_KUBECONFIG, NOT_FOUND, REJECTED, THROTTLED,
    UNSUPPORTED_KUBECONFIG, KubeError,
)
from ansible_collections.matih.helm.plugins.module_utils.kube_client import KubeClient

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

SECRETS = "/api/v1/namespaces/shop/secrets"
CONFIGMAPS = "/api/v1/namespaces/shop/configmaps"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"
RBAC_DENIAL = ('secrets is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource "secrets" in API '
               'group "" in the namespace "shop"')
QUOTA_DENIAL = 'configmaps "web" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: 10, limited: 10'


# --- the stand-ins ------------------------------------------------------------------------------------

class StandInAccess(object):
    """What connection.ApiAccess gives the client; ``fresh_token`` is what invalidate() refreshes to, once."""

    def __init__(self, server, token="old-token", fresh_token=None, context=None, tls_server_name=None,
                 proxy_url=None, groups=()):
        self.server = server
        self.tls_server_name = tls_server_name
        self.proxy_url = proxy_url
        self.token = token
        self.fresh_token = fresh_token
        self.context = context
        self.groups = groups
        self.invalidations = 0

    def ssl_context(self):
        return self.context

    def headers(self):
        headers = [("Authorization", "Bearer " + self.token)]
        if self.groups:
            headers.append(("Impersonate-User", "ops"))
            headers.extend(("Impersonate-Group", group) for group in self.groups)
        return headers

    def invalidate(self):
        self.invalidations += 1
        if self.fresh_token is None:
            return False
        self.token, self.fresh_token = self.fresh_token, None
        return True

    def describe(self):
        return "%s (context test)" % self.server


class Seen(NamedTuple):
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Any
    body: bytes
    port: int  # the client's end of the connection: one port per connection

    def json(self):
        return json.loads(self.body)


class FakeApi(object):
    """Routes by (method, path), and what was asked of them."""

    def __init__(self):
        self.routes = {}
        self.seen = []
        self.lock = threading.Lock()
        self.disconnected = threading.Event()  # a connection was closed, by either end
        self.url = ""

    def route(self, method, path):
        def register(answer):
            self.routes[(method, path)] = answer
            return answer
        return register

    def to(self, path):
        return [seen for seen in self.seen if seen.path == path]


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message}


def configmap(name, resource_version="1"):
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name, "namespace": "shop",
                                                                  "resourceVersion": resource_version}}


def reply(handler, code, payload, headers=(), content_type="application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def start_stream(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()


def send_chunks(handler, pieces):
    for piece in pieces:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))


def end_stream(handler):
    handler.wfile.write(b"0\r\n\r\n")


def watch_lines(events):
    return b"".join(json.dumps({"type": kind, "object": found}).encode() + b"\n" for kind, found in events)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API server
    timeout = 5
    disable_nagle_algorithm = True  # headers and body are written apart: no delayed-ACK wait between them

    def _serve(self):
        api = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(self.command, url.path, parse_qs(url.query), self.headers, self.rfile.read(length),
                    self.client_address[1])
        with api.lock:
            api.seen.append(seen)
        answer = api.routes.get((self.command, url.path))
        if answer is None:
            reply(self, 404, status(404, "NotFound", "the server could not find the requested resource"))
        else:
            answer(self, seen)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


class _Tunnel(http.server.BaseHTTPRequestHandler):
    """An HTTP CONNECT proxy that wants the credentials user / p@ss."""
    timeout = 5

    def do_CONNECT(self):  # noqa: N802  pylint: disable=invalid-name
        authorization = self.headers.get("Proxy-Authorization")
        self.server.state.append((self.path, authorization))
        self.close_connection = True
        if authorization != "Basic " + base64.b64encode(b"user:p@ss").decode():
            self.send_response(407, "Proxy Authentication Required")
            self.end_headers()
            return
        host, port = self.path.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            relay(self.connection, upstream)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def relay(one, other):
    while True:
        readable, _writable, _failed = select.select([one, other], [], [], 5)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (other if source is one else one).sendall(data)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler, state, tls=None):
        super(_Server, self).__init__(("127.0.0.1", 0), handler)
        self.state = state
        self.tls = tls

    def get_request(self):
        connection, address = self.socket.accept()
        if self.tls is None:
            return connection, address
        connection.settimeout(5)
        try:
            return self.tls.wrap_socket(connection, server_side=True), address
        except OSError:  # a client that refused the certificate: socketserver drops it
            connection.close()
            raise

    def shutdown_request(self, request):
        super(_Server, self).shutdown_request(request)
        if isinstance(self.state, FakeApi):
            self.state.disconnected.set()

    def handle_error(self, request, client_address):
        pass  # a client hanging up mid-answer is what some tests do


@contextlib.contextmanager
def serving(handler, state, tls=None):
    server = _Server(handler, state, tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api():
    fake = FakeApi()
    with serving(_Handler, fake) as port:
        fake.url = "http://127.0.0.1:%d" % port
        yield fake


@pytest.fixture
def client(api):
    with KubeClient(StandInAccess(api.url), timeout=(2, 5)) as made:
        yield made


def failure(call, *args, **kwargs):
    with pytest.raises(KubeError) as raised:
        call(*args, **kwargs)
    return raised.value


# --- requests on kept connections ---------------------------------------------------------------------

def test_requests_share_one_kept_connection_with_the_access_headers(api):
    api.route("GET", CONFIGMAPS + "/web")(lambda handler, seen: reply(handler, 200, configmap("web")))
    client = KubeClient(StandInAccess(api.url, groups=("dev", "ops")), user_agent="matih.helm/test")
    assert [client.get(CONFIGMAPS + "/web")["metadata"]["name"] for _request in range(3)] == ["web"] * 3
    assert client.requests == 3
    assert len({seen.port for seen in api.seen}) == 1
    headers = api.seen[0].headers
    assert headers["Authorization"] == "Bearer old-token"
    assert headers.get_all("Impersonate-Group") == ["dev", "ops"]
    assert (headers["Accept"], headers["User-Agent"]) == ("application/json", "matih.helm/test")
    api.disconnected.clear()
    client.close()
    assert api.disconnected.wait(5)
    # a closed client connects again if it is used again
    client.get(CONFIGMAPS + "/web")
    assert len({seen.port for seen in api.seen}) == 2
    client.close()


def test_the_server_path_prefix_comes_before_every_path(api):
    api.route("GET", "/clusters/east" + CONFIGMAPS + "/web")(lambda handler, seen: reply(handler, 200, configmap("web")))
    with KubeClient(StandInAccess(api.url + "/clusters/east")) as client:
        assert client.get(CONFIGMAPS + "/web")["metadata"]["name"] == "web"


def test_query_lists_repeat_and_booleans_are_lowercase(api, client):
    api.route("GET", "/apis")(lambda handler, seen: reply(handler, 200, {"kind": "APIGroupList"}))
    client.request("GET", "/apis", {"names": ["a", "b"], "pretty": True, "dryRun": None, "limit": 5})
    assert api.seen[0].query == {"names": ["a", "b"], "pretty": ["true"], "limit": ["5"]}


def test_list_follows_continue_tokens(api, client):
    names = ["a", "b", "c", "d", "e"]

    @api.route("GET", CONFIGMAPS)
    def pages(handler, seen):
        start = int(seen.query.get("continue", ["0"])[0])
        limit = int(seen.query["limit"][0])
        token = str(start + limit) if start + limit < len(names) else ""
        reply(handler, 200, {"kind": "ConfigMapList", "metadata": {"resourceVersion": "40", "continue": token},
                             "items": [configmap(name) for name in names[start:start + limit]]})

    selector = kube_client.label_selector({"owner": "helm", "name": "web"})
    listed = [item["metadata"]["name"] for item in client.list(CONFIGMAPS, label_selector=selector, limit=2)]
    assert listed == names
    assert [seen.query.get("continue") for seen in api.seen] == [None, ["2"], ["4"]]
    assert all(seen.query["labelSelector"] == ["owner=helm,name=web"] for seen in api.seen)
    assert client.requests == 3


def test_list_metadata_asks_for_partial_objects_and_returns_the_resource_version(api, client):
    @api.route("GET", SECRETS)
    def metadata_only(handler, seen):
        page = seen.query.get("continue", ["first"])[0]
        reply(handler, 200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                             "metadata": {"resourceVersion": "41", "continue": "next" if page == "first" else ""},
                             "items": [{"metadata": {"name": "s-" + page}}]})

    items, resource_version = client.list_metadata(SECRETS, field_selector="type=helm.sh/release.v1")
    assert [item["metadata"]["name"] for item in items] == ["s-first", "s-next"]
    assert resource_version == "41"
    assert [seen.headers["Accept"] for seen in api.seen] == [kube_client.METADATA_LIST] * 2
    assert api.seen[0].query["fieldSelector"] == ["type=helm.sh/release.v1"]


def test_apply_dry_run_is_a_forced_server_side_apply_that_stores_nothing(api, client):
    path = kube_types.object_path("apps/v1", "deployments", "shop", "web")
    api.route("PATCH", path)(lambda handler, seen: reply(handler, 200, dict(seen.json(), status={})))
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    assert client.apply_dry_run(path, body, "matih.helm")["spec"] == {"replicas": 2}
    seen = api.seen[0]
    assert seen.query == {"dryRun": ["All"], "fieldManager": ["matih.helm"], "force": ["true"],
                          "fieldValidation": ["Ignore"]}
    assert seen.headers["Content-Type"] == kube_client.APPLY_PATCH
    assert seen.json() == body


def test_create_of_an_existing_name_is_a_conflict(api, client):
    names = set()

    @api.route("POST", LEASES)
    def create(handler, seen):
        name = seen.json()["metadata"]["name"]
        if name in names:
            return reply(handler, 409, status(409, "AlreadyExists", 'leases.coordination.k8s.io "%s" already exists' % name))
        names.add(name)
        return reply(handler, 201, dict(seen.json(), metadata={"name": name, "resourceVersion": "1"}))

    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "web"}}
    assert client.create(LEASES, lease)["metadata"]["resourceVersion"] == "1"
    error = failure(client.create, LEASES, lease)
    assert (error.kind, error.status, error.reason) == (CONFLICT, 409, "AlreadyExists")
    assert 'POST %s (409: leases.coordination.k8s.io "web" already exists)' % LEASES in error.message


def leases_with_preconditions(api):
    """A Lease at resourceVersion 1 that PUT and DELETE change only when their precondition holds."""
    lease = {"current": "1"}
    conflict = status(409, "Conflict", 'Operation cannot be fulfilled on leases.coordination.k8s.io "web": the object '
                      'has been modified; please apply your changes to the latest version and try again')

    @api.route("PUT", LEASES + "/web")
    def update(handler, seen):
        if seen.json()["metadata"].get("resourceVersion") != lease["current"]:
            return reply(handler, 409, conflict)
        lease["current"] = str(int(lease["current"]) + 1)
        return reply(handler, 200, {"metadata": {"name": "web", "resourceVersion": lease["current"]}})

    @api.route("DELETE", LEASES + "/web")
    def delete(handler, seen):
        wanted = (json.loads(seen.body or b"{}").get("preconditions") or {}).get("resourceVersion")
        if wanted not in (None, lease["current"]):
            return reply(handler, 409, conflict)
        return reply(handler, 200, {"kind": "Status", "status": "Success"})

    return lease


def test_update_with_a_stale_resource_version_is_a_conflict(api, client):
    leases_with_preconditions(api)
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "web", "resourceVersion": "1"}}
    assert client.update(LEASES + "/web", body)["metadata"]["resourceVersion"] == "2"
    error = failure(client.update, LEASES + "/web", body)
    assert (error.kind, error.status, error.reason) == (CONFLICT, 409, "Conflict")
    assert "changed since it was read" in error.message


def test_delete_sends_its_precondition(api, client):
    leases_with_preconditions(api)
    error = failure(client.delete, LEASES + "/web", resource_version="7")
    assert error.kind == CONFLICT
    assert client.delete(LEASES + "/web", resource_version="1") == {"kind": "Status", "status": "Success"}
    assert client.delete(LEASES + "/web") == {"kind": "Status", "status": "Success"}
    assert [seen.body and seen.json() for seen in api.seen] == [
        {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": "7"}},
        {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": "1"}},
        b""]
    assert api.seen[0].headers["Content-Type"] == "application/json"
    assert failure(client.delete, LEASES + "/gone").kind == NOT_FOUND


# --- credentials, throttling, errors ------------------------------------------------------------------

def only_the_fresh_token(handler, seen):
    if seen.headers["Authorization"] != "Bearer new-token":
        return reply(handler, 401, status(401, "Unauthorized", "Unauthorized"))
    return reply(handler, 200, configmap("web"))


def test_a_401_is_retried_once_with_the_refreshed_credential_on_a_new_connection(api):
    api.route("GET", CONFIGMAPS + "/web")(only_the_fresh_token)
    access = StandInAccess(api.url, fresh_token="new-token")
    with KubeClient(access) as client:
        assert client.get(CONFIGMAPS + "/web")["metadata"]["name"] == "web"
        assert client.requests == 2
    assert access.invalidations == 1
    assert [seen.headers["Authorization"] for seen in api.seen] == ["Bearer old-token", "Bearer new-token"]
    # a refreshed client certificate would only be used on a new connection
    assert api.seen[0].port != api.seen[1].port


def test_a_401_without_a_refreshed_credential_is_access_denied(api, client):
    api.route("GET", CONFIGMAPS + "/web")(only_the_fresh_token)
    error = failure(client.get, CONFIGMAPS + "/web")
    assert (error.kind, error.status, error.reason) == (ACCESS_DENIED, 401, "Unauthorized")
    assert client.requests == 1 and client.access.invalidations == 1
    assert "old-token" not in error.message and "api_key" in error.message


def test_a_header_with_a_line_break_fails_without_showing_it(api):
    with KubeClient(StandInAccess(api.url, token="secret\nvalue")) as client:
        error = failure(client.get, CONFIGMAPS)
        assert client.requests == 0
    assert error.kind == INVALID_KUBECONFIG
    assert "secret" not in error.message and "Authorization header" in error.message


def test_a_403_from_rbac_is_access_denied_and_from_a_quota_rejected(api, client):
    api.route("GET", SECRETS)(lambda handler, seen: reply(handler, 403, status(403, "Forbidden", RBAC_DENIAL)))
    api.route("POST", CONFIGMAPS)(lambda handler, seen: reply(handler, 403, status(403, "Forbidden", QUOTA_DENIAL)))
    denied = failure(client.get, SECRETS)
    assert (denied.kind, denied.reason) == (ACCESS_DENIED, "Forbidden")
    assert denied.message.startswith("The Kubernetes API server %s (context test) refused GET %s (403: %s); check "
                                     "api_key" % (api.url, SECRETS, RBAC_DENIAL))
    assert denied.message.endswith("RBAC rights to list secrets in namespace shop")
    rejected = failure(client.create, CONFIGMAPS, configmap("web"))
    assert (rejected.kind, rejected.status) == (REJECTED, 403)
    assert "exceeded quota" in rejected.message


def test_a_throttled_get_waits_for_retry_after_and_is_sent_again(api, client):
    answers = [429, 200]

    @api.route("GET", CONFIGMAPS + "/web")
    def throttled_once(handler, seen):
        code = answers.pop(0)
        reply(handler, code, configmap("web") if code == 200 else status(429, "TooManyRequests", "slow down"),
              headers=[("Retry-After", "0")])

    assert client.get(CONFIGMAPS + "/web")["metadata"]["name"] == "web"
    assert client.requests == 2


def test_throttling_ends_after_two_retries_for_reads_and_writes_alike(api, client):
    # API priority and fairness answers 429 before it carries a request out: a write is safe to send again
    def always(handler, seen):
        reply(handler, 429, status(429, "TooManyRequests", "too many requests"), headers=[("Retry-After", "0")])

    api.route("GET", CONFIGMAPS)(always)
    api.route("POST", CONFIGMAPS)(always)
    error = failure(client.get, CONFIGMAPS)
    assert (error.kind, error.status, len(api.seen)) == (THROTTLED, 429, 3)
    error = failure(client.create, CONFIGMAPS, configmap("web"))
    assert (error.kind, len(api.seen)) == (THROTTLED, 6)


@pytest.mark.parametrize("code, payload, kind, reason", [
    (404, status(404, "NotFound", 'configmaps "web" not found'), NOT_FOUND, "NotFound"),
    (422, status(422, "Invalid", 'ConfigMap "web" is invalid: metadata.name: Invalid value'), REJECTED, "Invalid"),
    (500, status(500, "InternalError", "etcdserver: request timed out"), API_ERROR, "InternalError"),
    (503, b"<html><body>upstream unavailable</body></html>", CLUSTER_UNREACHABLE, "ServiceUnavailable"),
])
def test_error_answers_of_the_server(api, client, code, payload, kind, reason):
    api.route("GET", CONFIGMAPS + "/web")(lambda handler, seen: reply(handler, code, payload))
    error = failure(client.get, CONFIGMAPS + "/web")
    assert (error.kind, error.status, error.reason) == (kind, code, reason)
    assert "GET %s (%d: " % (CONFIGMAPS + "/web", code) in error.message
    assert error.fail_kwargs()["error_kind"] == kind


def test_an_answer_that_is_not_json_is_an_api_error(api, client):
    api.route("GET", "/api/v1/namespaces")(
        lambda handler, seen: reply(handler, 200, b"<html>Log in</html>", content_type="text/html"))
    error = failure(client.get, "/api/v1/namespaces")
    assert (error.kind, error.status) == (API_ERROR, 200)
    assert "not JSON (text/html: <html>Log in</html>)" in error.message


def test_a_refused_connection_is_cluster_unreachable():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with KubeClient(StandInAccess("http://127.0.0.1:%d" % port)) as client:
        error = failure(client.get, CONFIGMAPS)
    assert (error.kind, error.status) == (CLUSTER_UNREACHABLE, None)
    assert "refused the connection" in error.message and "ConnectionRefusedError" in error.message


# --- kept connections the server closed ---------------------------------------------------------------

def hangs_up_on_the_second_request(api, method, path):
    calls = []

    def answer(handler, seen):
        calls.append(seen.port)
        if len(calls) == 2:
            handler.close_connection = True  # as a server whose idle timeout expired as the request came
            return
        reply(handler, 200, configmap("web"))

    api.route(method, path)(answer)
    return calls


def test_a_get_is_sent_again_when_the_server_closed_the_kept_connection(api, client):
    calls = hangs_up_on_the_second_request(api, "GET", CONFIGMAPS + "/web")
    client.get(CONFIGMAPS + "/web")
    assert client.get(CONFIGMAPS + "/web")["metadata"]["name"] == "web"
    assert len(calls) == 3 and calls[0] == calls[1] != calls[2]
    assert client.requests == 3


def test_a_post_is_not_sent_again(api, client):
    calls = hangs_up_on_the_second_request(api, "POST", CONFIGMAPS)
    client.create(CONFIGMAPS, configmap("web"))
    error = failure(client.create, CONFIGMAPS, configmap("web"))
    assert error.kind == CLUSTER_UNREACHABLE and "RemoteDisconnected" in error.message
    assert len(calls) == 2


def test_a_post_after_the_server_closed_an_idle_connection_goes_on_a_new_one(api, client):
    @api.route("GET", CONFIGMAPS + "/web")
    def answer_and_close(handler, seen):
        reply(handler, 200, configmap("web"))
        handler.close_connection = True  # without a Connection: close header, as an idle timeout

    api.route("POST", CONFIGMAPS)(lambda handler, seen: reply(handler, 201, seen.json()))
    client.get(CONFIGMAPS + "/web")
    assert api.disconnected.wait(5)
    assert client.create(CONFIGMAPS, configmap("new"))["metadata"]["name"] == "new"
    assert api.seen[0].port != api.seen[1].port


def test_the_request_counter_and_one_connection_per_thread(api, client):
    api.route("GET", CONFIGMAPS + "/web")(lambda handler, seen: reply(handler, 200, configmap("web")))

    def get_in_thread(_index):
        client.get(CONFIGMAPS + "/web")
        return threading.get_ident()

    with ThreadPoolExecutor(max_workers=4) as pool:
        threads = set(pool.map(get_in_thread, range(24)))
    assert client.requests == 24
    assert len({seen.port for seen in api.seen}) == len(threads)


# --- watches ------------------------------------------------------------------------------------------

EVENTS = [
    ("ADDED", configmap("web", "10")),
    ("MODIFIED", configmap("web", "11")),
    ("BOOKMARK", {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "12"}}),
]


def test_a_watch_reads_events_split_across_chunks(api, client):
    @api.route("GET", CONFIGMAPS)
    def watch(handler, seen):
        text = watch_lines(EVENTS).rstrip(b"\n")  # the last line without its newline too
        start_stream(handler)
        send_chunks(handler, [text[index:index + 7] for index in range(0, len(text), 7)])
        end_stream(handler)

    events = list(client.watch(CONFIGMAPS, label_selector="owner=helm", resource_version="9", timeout_seconds=30))
    assert events == EVENTS
    assert api.seen[0].query == {"watch": ["true"], "labelSelector": ["owner=helm"], "resourceVersion": ["9"],
                                 "allowWatchBookmarks": ["true"], "timeoutSeconds": ["30"]}
    assert client.requests == 1


def test_a_metadata_watch_sends_its_accept_header(api, client):
    @api.route("GET", SECRETS)
    def watch(handler, seen):
        start_stream(handler)
        send_chunks(handler, [watch_lines([("DELETED", {"metadata": {"name": "s"}})])])
        end_stream(handler)

    assert list(client.watch(SECRETS, allow_bookmarks=False, accept=kube_client.METADATA_WATCH)) == \
        [("DELETED", {"metadata": {"name": "s"}})]
    assert api.seen[0].headers["Accept"] == kube_client.METADATA_WATCH
    assert api.seen[0].query["timeoutSeconds"] == [str(kube_client.WATCH_SECONDS)]
    assert "allowWatchBookmarks" not in api.seen[0].query


def test_an_expired_resource_version_ends_the_watch_as_rejected_410(api, client):
    @api.route("GET", CONFIGMAPS)
    def watch(handler, seen):
        start_stream(handler)
        send_chunks(handler, [watch_lines([EVENTS[0], ("ERROR", status(410, "Expired", "too old resource version: "
                                                                                       "9 (15)"))])])
        end_stream(handler)

    events = client.watch(CONFIGMAPS, resource_version="9")
    assert next(events) == EVENTS[0]
    error = failure(next, events)
    assert (error.kind, error.status, error.reason) == (REJECTED, 410, "Expired")
    assert "too old resource version" in error.message and "list again" in error.message


def test_closing_a_watch_early_closes_its_connection(api, client):
    api.route("GET", CONFIGMAPS + "/web")(lambda handler, seen: reply(handler, 200, configmap("web")))

    @api.route("GET", CONFIGMAPS)
    def endless(handler, seen):
        start_stream(handler)
        send_chunks(handler, [watch_lines(EVENTS[:1])])
        handler.close_connection = True
        handler.rfile.read(1)  # returns when the client closes the connection

    client.get(CONFIGMAPS + "/web")
    api.disconnected.clear()
    events = client.watch(CONFIGMAPS)
    assert next(events) == EVENTS[0]
    gc.collect()  # what earlier tests left is not this watch's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        events.close()
        del events
        gc.collect()
    # closed by the generator, not left for the garbage collector to find open
    assert not [warning for warning in caught if issubclass(warning.category, ResourceWarning)]
    assert api.disconnected.wait(5)
    # its own connection, not the thread's kept one, which still serves
    assert api.seen[1].port != api.seen[0].port
    client.get(CONFIGMAPS + "/web")
    assert api.seen[2].port == api.seen[0].port


def test_a_refused_watch_fails_on_the_first_event(api, client):
    denial = 'configmaps is forbidden: User "ci" cannot watch resource "configmaps" in API group "" in the namespace "shop"'
    api.route("GET", CONFIGMAPS)(lambda handler, seen: reply(handler, 403, status(403, "Forbidden", denial)))
    events = client.watch(CONFIGMAPS)
    error = failure(next, events)
    assert error.kind == ACCESS_DENIED
    assert error.message.endswith("RBAC rights to watch configmaps in namespace shop")


# --- proxy and TLS ------------------------------------------------------------------------------------

@pytest.fixture
def proxy():
    tunnels = []
    with serving(_Tunnel, tunnels) as port:
        yield port, tunnels


def test_requests_go_through_the_proxy_tunnel_with_its_credentials(api, proxy):
    port, tunnels = proxy
    api.route("GET", CONFIGMAPS + "/web")(lambda handler, seen: reply(handler, 200, configmap("web")))
    access = StandInAccess(api.url, proxy_url="http://user:p%%40ss@127.0.0.1:%d" % port)
    with KubeClient(access) as client:
        assert client.get(CONFIGMAPS + "/web")["metadata"]["name"] == "web"
        assert client.get(CONFIGMAPS + "/web")["metadata"]["name"] == "web"
    assert tunnels == [(urlsplit(api.url).netloc, "Basic " + base64.b64encode(b"user:p@ss").decode())]
    assert api.seen[0].headers["Proxy-Authorization"] is None


def test_a_proxy_that_refuses_the_tunnel(api, proxy):
    port, _tunnels = proxy
    with KubeClient(StandInAccess(api.url, proxy_url="http://user:wrong@127.0.0.1:%d" % port)) as client:
        error = failure(client.get, CONFIGMAPS)
    assert error.kind == CLUSTER_UNREACHABLE
    assert "407" in error.message and "proxy-url" in error.message and "wrong" not in error.message
    assert not api.seen


def write_certificates(directory):
    """A CA, and a server certificate it signed for kube.test only (not for 127.0.0.1)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "matih test CA")])

    def certificate(subject, key, extensions):
        builder = x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(key.public_key()) \
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1)) \
            .not_valid_after(now + datetime.timedelta(days=1))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate(ca_name, ca_key, [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                       key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False,
                       decipher_only=False), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)])
    server = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube.test")]), server_key, [
        (x509.SubjectAlternativeName([x509.DNSName("kube.test")]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)])
    paths = {name: str(directory / name) for name in ("ca.crt", "server.crt", "server.key")}
    for name, data in (("ca.crt", ca.public_bytes(serialization.Encoding.PEM)),
                       ("server.crt", server.public_bytes(serialization.Encoding.PEM)),
                       ("server.key", server_key.private_bytes(serialization.Encoding.PEM,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))):
        with open(paths[name], "wb") as written:
            written.write(data)
    return paths


@pytest.fixture
def tls_api(tmp_path):
    if not HAS_CRYPTOGRAPHY:
        pytest.skip("the cryptography package is not installed: no certificate to serve TLS with")
    paths = write_certificates(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(paths["server.crt"], paths["server.key"])
    names = []
    server_context.sni_callback = lambda connection, name, context: names.append(name)
    fake = FakeApi()
    fake.route("GET", CONFIGMAPS + "/web")(lambda handler, seen: reply(handler, 200, configmap("web")))
    with serving(_Handler, fake, tls=server_context) as port:
        fake.url = "https://127.0.0.1:%d" % port
        yield fake, ssl.create_default_context(cafile=paths["ca.crt"]), names


@pytest.mark.parametrize("through_proxy", [False, True])
def test_tls_server_name_sets_sni_and_the_verified_name(tls_api, proxy, through_proxy):
    fake, context, names = tls_api
    proxy_url = "http://user:p%%40ss@127.0.0.1:%d" % proxy[0] if through_proxy else None
    with KubeClient(StandInAccess(fake.url, context=context, tls_server_name="kube.test", proxy_url=proxy_url)) as client:
        assert client.get(CONFIGMAPS + "/web")["metadata"]["name"] == "web"
    assert names == ["kube.test"]
    assert len(proxy[1]) == (1 if through_proxy else 0)


def test_a_certificate_that_does_not_name_the_server_fails_verification(tls_api):
    fake, context, _names = tls_api
    with KubeClient(StandInAccess(fake.url, context=context)) as client:
        error = failure(client.get, CONFIGMAPS + "/web")
    assert error.kind == CLUSTER_UNREACHABLE
    assert "certificate verify failed" in error.message and "ca_cert" in error.message
    assert not fake.seen


# --- the pure parts, table-driven ---------------------------------------------------------------------

def status_text(code, reason, message):
    return json.dumps(status(code, reason, message))


@pytest.mark.parametrize("code, payload, method, path, kind, reason, says", [
    (401, status_text(401, "Unauthorized", "Unauthorized"), "GET", SECRETS, ACCESS_DENIED, "Unauthorized",
     ["did not accept the credentials of GET %s (401: Unauthorized)" % SECRETS, "may have expired"]),
    (403, status_text(403, "Forbidden", RBAC_DENIAL), "GET", SECRETS, ACCESS_DENIED, "Forbidden",
     [RBAC_DENIAL, "RBAC rights to list secrets in namespace shop"]),
    (403, status_text(403, "Forbidden", 'forbidden: User "system:anonymous" cannot get path "/apis"'), "GET", "/apis",
     ACCESS_DENIED, "Forbidden", ["RBAC rights to GET /apis"]),
    (403, status_text(403, "Forbidden", QUOTA_DENIAL), "POST", CONFIGMAPS, REJECTED, "Forbidden",
     ["exceeded quota", "resource quota"]),
    (403, status_text(403, "", 'admission webhook "validate.kyverno.svc" denied the request: no latest tags'), "PATCH",
     CONFIGMAPS + "/web", REJECTED, "Forbidden", ["admission webhook", "no latest tags"]),
    (403, status_text(403, "Forbidden", 'configmaps "web" is forbidden: unable to create new content in namespace shop '
                      'because it is being terminated'), "POST", CONFIGMAPS, REJECTED, "Forbidden",
     ["being terminated"]),
    (404, status_text(404, "NotFound", 'secrets "x" not found'), "GET", SECRETS + "/x", NOT_FOUND, "NotFound",
     ['found nothing for GET %s/x (404: secrets "x" not found)' % SECRETS]),
    (409, status_text(409, "AlreadyExists", "exists"), "POST", LEASES, CONFLICT, "AlreadyExists", ["exists already"]),
    (409, status_text(409, "Conflict", "the object has been modified"), "PUT", LEASES + "/web", CONFLICT, "Conflict",
     ["read it again and retry"]),
    (429, status_text(429, "TooManyRequests", "storage is (re)initializing"), "GET", SECRETS, THROTTLED,
     "TooManyRequests", ["throttled GET"]),
    (400, status_text(400, "BadRequest", "unable to parse requirement"), "GET", SECRETS, REJECTED, "BadRequest",
     ["selectors"]),
    (405, status_text(405, "MethodNotAllowed", "the server does not allow this method"), "DELETE", SECRETS, REJECTED,
     "MethodNotAllowed", ["does not support this operation"]),
    (410, status_text(410, "Gone", "The provided continue parameter is too old"), "GET", SECRETS, REJECTED, "Expired",
     ["list again"]),
    (413, "request entity too large", "PUT", SECRETS + "/big", REJECTED, "RequestEntityTooLarge",
     ["(413: request entity too large)", "1.5 MiB"]),
    (415, status_text(415, "UnsupportedMediaType", "the body of the request was in an unknown format"), "PATCH",
     SECRETS + "/x", REJECTED, "UnsupportedMediaType", ["content type"]),
    (422, status_text(422, "Invalid", 'Secret "x" is invalid: data[k]: Invalid value'), "POST", SECRETS, REJECTED,
     "Invalid", ["fix the fields"]),
    (502, "<html>\n<h1>502 Bad Gateway</h1>\n</html>", "GET", SECRETS, CLUSTER_UNREACHABLE, None,
     ["(502: <html> <h1>502 Bad Gateway</h1> </html>)", "load balancer"]),
    (503, status_text(503, "ServiceUnavailable", "the server is currently unable to handle the request"), "GET",
     SECRETS, CLUSTER_UNREACHABLE, "ServiceUnavailable", ["did not answer"]),
    (504, "", "GET", SECRETS, CLUSTER_UNREACHABLE, "Timeout", ["(504: no message)"]),
    (500, status_text(500, "InternalError", "etcdserver: leader changed"), "GET", SECRETS, API_ERROR, "InternalError",
     ["failed GET"]),
    (418, "I'm a teapot", "GET", SECRETS, API_ERROR, None, ["(418: I'm a teapot)"]),
])
def test_error_for(code, payload, method, path, kind, reason, says):
    error = kube_client.error_for(code, payload, method, path, "https://10.0.0.1:6443 (context prod)")
    assert (error.kind, error.status, error.reason) == (kind, code, reason)
    assert "https://10.0.0.1:6443 (context prod)" in error.message
    for text in says:
        assert text in error.message


def test_error_for_keeps_the_first_300_characters_of_the_message():
    error = kube_client.error_for(422, status_text(422, "Invalid", "x" * 1000), "POST", SECRETS, "server")
    assert "(422: %s)" % ("x" * 300) in error.message
    assert "x" * 301 not in error.message


@pytest.mark.parametrize("error, says", [
    (ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
                                     "certificate"), ["could not be verified", "certificate verify failed", "ca_cert",
                                                      "validate_certs=false"]),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), ["TLS connection", "speaks HTTPS"]),
    (socket.timeout("timed out"), ["did not answer in time"]),
    (socket.gaierror(-2, "Name or service not known"), ["could not be resolved", "DNS"]),
    (ConnectionRefusedError(111, "Connection refused"), ["refused the connection"]),
    (OSError("Tunnel connection failed: 407 Proxy Authentication Required"), ["proxy-url"]),
    (http.client.RemoteDisconnected("Remote end closed connection without response"),
     ["could not be reached", "RemoteDisconnected: Remote end closed connection"]),
])
def test_unreachable(error, says):
    found = kube_client.unreachable(error, "GET", SECRETS, "https://10.0.0.1:6443 (context prod)")
    assert (found.kind, found.status, found.reason) == (CLUSTER_UNREACHABLE, None, None)
    assert "https://10.0.0.1:6443 (context prod)" in found.message and "GET %s" % SECRETS in found.message
    for text in says:
        assert text in found.message


@pytest.mark.parametrize("made, expected", [
    (kube_types.collection_path("v1", "secrets", "shop"), "/api/v1/namespaces/shop/secrets"),
    (kube_types.collection_path("v1", "namespaces"), "/api/v1/namespaces"),
    (kube_types.collection_path("apps/v1", "deployments", ""), "/apis/apps/v1/deployments"),
    (kube_types.object_path("v1", "namespaces", None, "shop"), "/api/v1/namespaces/shop"),
    (kube_types.object_path("coordination.k8s.io/v1", "leases", "shop", "matih.helm/web lock"),
     "/apis/coordination.k8s.io/v1/namespaces/shop/leases/matih.helm%2Fweb%20lock"),
    (kube_types.object_path("rbac.authorization.k8s.io/v1", "clusterroles", None, "system:admin"),
     "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aadmin"),
    (kube_client.label_selector({"owner": "helm", "name": "web", "status": None}), "owner=helm,name=web,status"),
    (kube_client.query_string({"labelSelector": "a=b,c!=d", "force": False, "x": [1, None, 2]}),
     "labelSelector=a%3Db%2Cc%21%3Dd&force=false&x=1&x=2"),
])
def test_path_and_query_helpers(made, expected):
    assert made == expected


@pytest.mark.parametrize("arguments", [
    ("v1", "secrets", "shop", ""), ("v1", "secrets", "shop", ".."), ("v1", "", "shop", "x"),
    ("a/b/c", "secrets", None, "x"), ("", "secrets", None, "x"),
])
def test_path_helpers_refuse_what_would_name_another_path(arguments):
    with pytest.raises(ValueError):
        kube_types.object_path(*arguments)


@pytest.mark.parametrize("method, path, right", [
    ("GET", SECRETS, "list secrets in namespace shop"),
    ("GET", SECRETS + "/x", "get secrets in namespace shop"),
    ("GET", CONFIGMAPS + "?watch=true", "watch configmaps in namespace shop"),
    ("POST", LEASES, "create leases.coordination.k8s.io in namespace shop"),
    ("PUT", LEASES + "/web", "update leases.coordination.k8s.io in namespace shop"),
    ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", "patch deployments.apps in namespace shop"),
    ("DELETE", SECRETS, "deletecollection secrets in namespace shop"),
    ("DELETE", SECRETS + "/x", "delete secrets in namespace shop"),
    ("GET", "/api/v1/namespaces", "list namespaces cluster-wide"),
    ("GET", "/api/v1/namespaces/shop", "get namespaces cluster-wide"),
    ("PUT", "/api/v1/namespaces/shop/finalize", "update namespaces/finalize cluster-wide"),
    ("POST", "/api/v1/namespaces/shop/pods/web/eviction", "create pods/eviction in namespace shop"),
    ("GET", "/version", "GET /version"),
])
def test_rbac_right(method, path, right):
    assert kube_client.rbac_right(method, path) == right


@pytest.mark.parametrize("retry_after, seconds", [
    ("0", 0.0), ("2", 2.0), ("1.5", 1.5), ("30", 5.0), ("-3", 0.0), (None, 1.0),
    ("Wed, 21 Oct 2026 07:28:00 GMT", 1.0), ("nan", 1.0),
])
def test_retry_delay(retry_after, seconds):
    assert kube_client.retry_delay(retry_after) == seconds


@pytest.mark.parametrize("server, proxy_url, expected", [
    ("https://10.0.0.1:6443", None, ("https", "10.0.0.1", 6443, "", None, {})),
    ("https://kube.example/k8s/clusters/c-1/", None, ("https", "kube.example", 443, "/k8s/clusters/c-1", None, {})),
    ("http://127.0.0.1", "http://proxy:3128", ("http", "127.0.0.1", 80, "", ("proxy", 3128), {})),
    ("https://[fd00::1]:6443", "http://u%3Ax:p@proxy", ("https", "fd00::1", 6443, "", ("proxy", 80),
                                                        {"Proxy-Authorization": "Basic " + base64.b64encode(b"u:x:p").decode()})),
])
def test_endpoint_of(server, proxy_url, expected):
    assert tuple(kube_client.endpoint_of(server, proxy_url)) == expected


@pytest.mark.parametrize("server, proxy_url, kind", [
    ("10.0.0.1:6443", None, INVALID_KUBECONFIG),
    ("https://user:secret@:6443", None, INVALID_KUBECONFIG),
    ("https://10.0.0.1:port", None, INVALID_KUBECONFIG),
    ("https://10.0.0.1", "socks5://user:secret@proxy:1080", UNSUPPORTED_KUBECONFIG),
    ("https://10.0.0.1", "https://user:secret@proxy", UNSUPPORTED_KUBECONFIG),
])
def test_endpoint_of_refuses_what_it_cannot_connect_to(server, proxy_url, kind):
    error = failure(kube_client.endpoint_of, server, proxy_url)
    assert error.kind == kind
    assert "secret" not in error.message


@pytest.mark.parametrize("line", [b"not json\n", b'{"type": "ADDED"}\n', b"[1, 2]\n"])
def test_watch_event_refuses_what_is_not_an_event(line):
    error = failure(kube_client.watch_event, line, "GET", CONFIGMAPS, "server")
    assert error.kind == API_ERROR and "not a watch event" in error.message

"""FaultProxy against a small HTTPS upstream made here: no kube-apiserver needed.

The upstream echoes each request (method, path, headers, body, the client certificate's common
name) and serves two streams: ``/stream`` sends one chunk, then waits for the test to release the
rest; ``/hang`` sends one chunk and then nothing, until the connection to it ends.
"""

import http.client
import http.server
import json
import os
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import pytest

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS_DIR, "testbed"))  # kubeemu
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubeemu  # noqa: E402  pylint: disable=wrong-import-position
from faultproxy import FaultProxy, stats_key  # noqa: E402  pylint: disable=wrong-import-position

TIMEOUT = 5


def _write(path, data, mode=0o600):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
        handle.write(data)
    return str(path)


def _common_name(certificate):
    for rdn in (certificate or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class _UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def setup(self):
        super().setup()
        self.server.connections.add(self.connection)

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": body.decode("utf-8"),
            "client_cn": _common_name(self.connection.getpeercert()),
            "port": self.client_address[1],
        }
        self.server.requests.append(record)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/stream":
            self._stream()
        elif path == "/hang":
            self._hang()
        else:
            payload = json.dumps(record).encode("utf-8")
            self.send_response(201 if self.command == "POST" else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Keep-Alive", "timeout=30")
            self.send_header("X-Upstream", "echo")
            self.end_headers()
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # pylint: disable=invalid-name

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _stream(self):
        self._start_stream()
        self._chunk(b"one\n")
        self.server.released.append(self.server.release.wait(TIMEOUT))
        self._chunk(b"two\n")
        self._chunk(b"three\n")
        self._chunk(b"")

    def _hang(self):
        self._start_stream()
        self._chunk(b"first\n")
        # Nothing more, like an idle watch, until the proxy ends this connection.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not select.select([self.connection], [], [], 0.05)[0]:
            pass
        self.server.hang_ended.set()
        self.close_connection = True


class Upstream:
    """An HTTPS echo server trusting the test CA for (optional) client certificates."""

    def __init__(self, authority, directory):
        cert_pem, key_pem = authority.issue("upstream", dns_names=("localhost",), ip_addresses=("127.0.0.1",))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=authority.ca_pem.decode("ascii"))
        context.load_cert_chain(_write(directory / "upstream.crt", cert_pem), _write(directory / "upstream.key", key_pem))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _UpstreamHandler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.requests = []
        self.server.connections = set()
        self.server.release = threading.Event()
        self.server.released = []
        self.server.hang_ended = threading.Event()
        self.url = "https://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def requests(self):
        return self.server.requests

    def drop_connections(self):
        """End the open connections, as a server closing idle keep-alive connections does."""
        for connection in list(self.server.connections):
            try:
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        """Down for good: the port closes and every open connection ends."""
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.drop_connections()
        self._thread.join(TIMEOUT)


class Setup:
    def __init__(self, tmp_path):
        self.authority = kubeemu.tls.CertificateAuthority("faultproxy-test-ca")
        self.ca_path = self.authority.write_ca(str(tmp_path / "ca.crt"))
        admin_cert, admin_key = self.authority.issue("admin", organizations=("system:masters",), client=True)
        self.admin_paths = (_write(tmp_path / "admin.crt", admin_cert), _write(tmp_path / "admin.key", admin_key))
        self.proxy_pem = self.authority.issue("faultproxy", dns_names=("localhost",), ip_addresses=("127.0.0.1",))
        self.upstream = Upstream(self.authority, tmp_path)
        self.tmp_path = tmp_path

    def proxy(self, upstream_url=None):
        return FaultProxy(upstream_url or self.upstream.url, self.ca_path, self.proxy_pem[0], self.proxy_pem[1], *self.admin_paths)

    def client_context(self, cert=None):
        context = ssl.create_default_context(cadata=self.authority.ca_pem.decode("ascii"))
        if cert is not None:
            name = "client-%d" % len(os.listdir(self.tmp_path))
            context.load_cert_chain(_write(self.tmp_path / (name + ".crt"), cert[0]), _write(self.tmp_path / (name + ".key"), cert[1]))
        return context


@pytest.fixture(name="setup")
def setup_fixture(tmp_path):
    setup = Setup(tmp_path)
    yield setup
    setup.upstream.stop()


@pytest.fixture(name="proxy")
def proxy_fixture(setup):
    with setup.proxy() as proxy:
        yield proxy


class Client:
    """One keep-alive connection to the proxy."""

    def __init__(self, proxy, context, timeout=TIMEOUT):
        port = urllib.parse.urlsplit(proxy.url).port
        self.connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)

    def call(self, method, path, body=None, headers=None, **kwargs):
        data = json.dumps(body).encode("utf-8") if isinstance(body, (dict, list)) else body
        self.connection.request(method, path, body=data, headers=headers or {}, **kwargs)
        response = self.connection.getresponse()
        payload = response.read()
        return response, json.loads(payload) if payload else None

    def close(self):
        self.connection.close()


@pytest.fixture(name="client")
def client_fixture(setup, proxy):
    client = Client(proxy, setup.client_context())
    yield client
    client.close()


def _proxy_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("faultproxy-") and thread.is_alive()]


def _eventually(predicate, seconds=TIMEOUT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# --- pass-through ---------------------------------------------------------------------------

def test_get_post_patch_pass_through_with_bodies_and_status(setup, client):
    response, echo = client.call("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dweb&limit=5")
    assert (response.status, echo["method"], echo["path"]) == (200, "GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dweb&limit=5")
    assert response.getheader("X-Upstream") == "echo" and response.getheader("Content-Length") is not None

    created, echo = client.call("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a"}},
                                headers={"Content-Type": "application/json"})
    assert (created.status, echo["method"], json.loads(echo["body"])) == (201, "POST", {"metadata": {"name": "a"}})
    assert echo["headers"]["content-type"] == "application/json"

    patch = '{"data":{"k":"v"}}'
    _response, echo = client.call("PATCH", "/api/v1/namespaces/default/configmaps/a", patch.encode(),
                                  headers={"Content-Type": "application/merge-patch+json"})
    assert (echo["method"], echo["body"], echo["headers"]["content-length"]) == ("PATCH", patch, str(len(patch)))
    assert echo["headers"]["content-type"] == "application/merge-patch+json"

    # A chunked request body goes upstream with a length.
    _response, echo = client.call("PUT", "/api/v1/namespaces/default/configmaps/a", iter([b"ab", b"cd"]), encode_chunked=True,
                                  headers={"Transfer-Encoding": "chunked"})
    assert (echo["body"], echo["headers"]["content-length"]) == ("abcd", "4") and "transfer-encoding" not in echo["headers"]
    assert len(setup.upstream.requests) == 4


def test_hop_by_hop_headers_are_dropped_and_connections_kept_alive(setup, client):
    headers = {"Connection": "keep-alive, X-Private", "X-Private": "secret", "Keep-Alive": "300",
               "Proxy-Authorization": "Basic eDp5", "X-Custom": "kept"}
    response, first = client.call("GET", "/version", headers=headers)
    _response, second = client.call("GET", "/version")

    sent = first["headers"]
    assert sent["x-custom"] == "kept" and sent["host"] == urllib.parse.urlsplit(setup.upstream.url).netloc
    assert not {"connection", "x-private", "keep-alive", "proxy-authorization"} & set(sent)
    assert response.getheader("Keep-Alive") is None  # the upstream's own hop-by-hop header
    assert first["port"] == second["port"]  # one upstream connection per client connection


# --- identity -------------------------------------------------------------------------------

def test_admin_certificate_without_authorization_and_token_without_certificate(setup, proxy, client):
    _response, admin = client.call("GET", "/api/v1/namespaces")
    _response, token = client.call("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer t0ken"})

    assert (admin["client_cn"], "authorization" in admin["headers"]) == ("admin", False)
    assert (token["client_cn"], token["headers"]["authorization"]) == (None, "Bearer t0ken")
    assert admin["port"] != token["port"]

    # A client with its own certificate from the CA is accepted (and still acts as the admin);
    # one whose certificate the CA did not sign is refused.
    alice = Client(proxy, setup.client_context(setup.authority.issue("alice", client=True)))
    assert alice.call("GET", "/version")[1]["client_cn"] == "admin"
    alice.close()
    stranger = Client(proxy, setup.client_context(kubeemu.tls.CertificateAuthority("other-ca").issue("eve", client=True)))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        stranger.call("GET", "/version")
    stranger.close()


# --- faults ---------------------------------------------------------------------------------

def test_500_fault_answers_count_times_then_passes_through(setup, proxy, client):
    path = "/api/v1/namespaces/default/secrets"
    proxy.faults.add(kubeemu.faults.Fault(status=500, count=2, path_regex="/secrets$"))
    answers = [client.call("GET", path) for _attempt in range(3)]

    assert [response.status for response, _body in answers] == [500, 500, 200]
    status = answers[0][1]
    assert (status["kind"], status["status"], status["reason"], status["code"]) == ("Status", "Failure", "InternalError", 500)
    assert answers[0][0].getheader("Content-Type") == "application/json"
    assert len(setup.upstream.requests) == 1  # the failed ones were not forwarded
    assert client.call("GET", "/api/v1/namespaces/default/configmaps")[0].status == 200  # the regex did not match


def test_429_fault_carries_retry_after(proxy, client):
    proxy.faults.add(kubeemu.faults.Fault(status=429, count=1, path_regex="/configmaps", retry_after=3, method="POST"))
    assert client.call("GET", "/api/v1/namespaces/default/configmaps")[0].status == 200  # other method
    response, status = client.call("POST", "/api/v1/namespaces/default/configmaps", {})

    assert (response.status, response.getheader("Retry-After"), status["reason"]) == (429, "3", "TooManyRequests")
    assert status["details"] == {"retryAfterSeconds": 3}


def test_delay_fault_delays_then_forwards(setup, proxy, client):
    proxy.faults.add(kubeemu.faults.Fault(delay=0.3, count=1, path_regex="/pods"))
    started = time.monotonic()
    response, echo = client.call("GET", "/api/v1/namespaces/default/pods")

    assert time.monotonic() - started >= 0.3
    assert (response.status, echo["path"], len(setup.upstream.requests)) == (200, "/api/v1/namespaces/default/pods", 1)


def test_seconds_fault_is_an_outage_for_that_long(proxy, client):
    proxy.faults.add(kubeemu.faults.Fault(status=503, seconds=0.4, count=1, path_regex="/services"))
    during = [client.call("GET", "/api/v1/namespaces/default/services")[0].status for _attempt in range(3)]
    time.sleep(0.5)

    assert during == [503, 503, 503]  # count is ignored with seconds
    assert client.call("GET", "/api/v1/namespaces/default/services")[0].status == 200


# --- streaming ------------------------------------------------------------------------------

def test_streams_arrive_chunk_by_chunk(setup, client):
    client.connection.request("GET", "/stream?watch=true")
    response = client.connection.getresponse()
    first = response.read1(100)  # times out (TIMEOUT) if the proxy waits for the whole body
    setup.upstream.server.release.set()
    rest = response.read()

    assert (response.status, response.getheader("Transfer-Encoding")) == (200, "chunked")
    assert (first, rest) == (b"one\n", b"two\nthree\n")
    assert setup.upstream.server.released == [True]  # the upstream was released, not timed out
    assert client.call("GET", "/version")[0].status == 200  # the connection is still usable


def test_client_hanging_up_mid_stream_ends_the_upstream_stream(setup, proxy):
    client = Client(proxy, setup.client_context())
    client.connection.request("GET", "/hang")
    assert client.connection.getresponse().read1(100) == b"first\n"
    client.close()

    assert setup.upstream.server.hang_ended.wait(TIMEOUT)
    assert _eventually(lambda: [thread.name for thread in _proxy_threads()] == ["faultproxy-accept"])
    fresh = Client(proxy, setup.client_context())
    assert fresh.call("GET", "/version")[0].status == 200
    fresh.close()


def test_stop_ends_a_hanging_stream_and_joins_the_threads(setup):
    proxy = setup.proxy().start()
    client = Client(proxy, setup.client_context())
    client.connection.request("GET", "/hang")
    response = client.connection.getresponse()
    assert response.read1(100) == b"first\n"

    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 3
    with pytest.raises((http.client.IncompleteRead, OSError)):
        response.read()  # cut off: no final chunk
    assert setup.upstream.server.hang_ended.wait(TIMEOUT)
    assert _proxy_threads() == []
    client.close()

    url = proxy.url
    with proxy:  # a restart serves the same URL
        assert proxy.url == url and Client(proxy, setup.client_context()).call("GET", "/version")[0].status == 200


# --- the API server going away --------------------------------------------------------------

def test_an_upstream_connection_closed_while_idle_is_replaced(setup, client):
    _response, first = client.call("GET", "/version")
    setup.upstream.drop_connections()
    time.sleep(0.1)  # let the proxy's side see the end
    response, second = client.call("POST", "/api/v1/namespaces", {"metadata": {"name": "once"}})

    assert response.status == 201 and second["port"] != first["port"]
    assert [request["method"] for request in setup.upstream.requests] == ["GET", "POST"]  # sent once


def test_upstream_down_closes_the_client_connection_without_an_answer(setup, client):
    assert client.call("GET", "/version")[0].status == 200
    setup.upstream.stop()

    with pytest.raises(ConnectionError):  # http.client.RemoteDisconnected on a kept-alive connection
        client.call("GET", "/version")
    client.close()
    with pytest.raises(ConnectionError):  # and on a new one
        client.call("GET", "/version")


def test_unreachable_upstream_at_start(setup):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with setup.proxy("https://127.0.0.1:%d" % port) as proxy:
        client = Client(proxy, setup.client_context())
        with pytest.raises(ConnectionError):
            client.call("GET", "/version")
        client.close()
        assert proxy.stats.snapshot() == {"GET /version": 1}


# --- stats and admin endpoints --------------------------------------------------------------

def test_stats_keys_match_kubeemu():
    assert stats_key("GET", "/api/v1/namespaces/ns1/secrets") == "GET /api/v1/namespaces/*/secrets"
    assert stats_key("GET", "/api/v1/namespaces/ns1/secrets/s1") == "GET /api/v1/namespaces/*/secrets/*"
    assert stats_key("GET", "/apis/apps/v1/namespaces/ns/deployments", "watch=true&resourceVersion=5") == \
        "GET /apis/apps/v1/namespaces/*/deployments (watch)"
    assert stats_key("GET", "/api/v1/namespaces/ns1") == "GET /api/v1/namespaces/*"
    assert stats_key("PUT", "/api/v1/namespaces/ns1/finalize") == "PUT /api/v1/namespaces/*/finalize"
    # Unknown to kubeemu: custom resources, other subresources, the legacy watch paths.
    assert stats_key("PATCH", "/apis/example.com/v1/namespaces/ns/widgets/w1/status") == "PATCH /apis/example.com/v1/namespaces/*/widgets/*/status"
    assert stats_key("GET", "/apis/example.com/v1/clusterwidgets/c1") == "GET /apis/example.com/v1/clusterwidgets/*"
    assert stats_key("GET", "/api/v1/namespaces/ns/pods/p1/log", "follow=true") == "GET /api/v1/namespaces/*/pods/*/log"
    assert stats_key("GET", "/api/v1/watch/namespaces/ns/pods") == "GET /api/v1/namespaces/*/pods (watch)"
    # Non-resource paths, discovery included.
    assert stats_key("GET", "/version") == "GET /version"
    assert stats_key("GET", "/apis/apps/v1") == "GET /apis/apps/v1"
    assert stats_key("GET", "/openapi/v3/apis/apps/v1") == "GET /openapi/v3/apis/apps/v1"


def test_stats_count_forwarded_and_failed_requests_but_not_admin_ones(proxy, client):
    proxy.faults.add(kubeemu.faults.Fault(status=500, count=1, path_regex="/secrets/"))
    client.call("GET", "/api/v1/namespaces/a/secrets/s1")
    client.call("GET", "/api/v1/namespaces/b/secrets/s2")
    client.call("GET", "/apis/apps/v1/namespaces/a/deployments?watch=1")
    client.call("GET", "/_emulator/stats")

    assert client.call("GET", "/_emulator/stats")[1] == {
        "GET /api/v1/namespaces/*/secrets/*": 2,
        "GET /apis/apps/v1/namespaces/*/deployments (watch)": 1,
    }


def _admin_answers(call):
    """The same admin conversation, as (code, JSON) pairs."""
    answers = [
        call("POST", "/_emulator/faults", {"status": 500, "count": 2, "path_regex": "/nothing-matches"}),
        call("POST", "/_emulator/faults", {"delay": 0.5, "method": "get", "path_regex": "/nothing-either"}),
        call("GET", "/_emulator/state"),
        call("POST", "/_emulator/faults", {"count": 1}),  # neither status nor delay
        call("POST", "/_emulator/faults", {"status": 500, "colour": "red"}),
        call("POST", "/_emulator/faults", b"{not json"),
        call("DELETE", "/_emulator/faults"),
        call("GET", "/_emulator/state"),
        call("GET", "/api/v1/namespaces/default/secrets"),
        call("GET", "/_emulator/stats"),
        call("POST", "/_emulator/reset"),
        call("GET", "/_emulator/stats"),
        call("GET", "/_emulator/nothing"),
    ]
    for index in (2, 7):  # kubeemu's state has more than the faults
        answers[index] = (answers[index][0], answers[index][1]["faults"])
    answers[8] = answers[8][0]
    return answers


def test_admin_endpoints_answer_as_kubeemu_does(setup, client):
    def through_proxy(method, path, body=None):
        response, document = client.call(method, path, body, headers={"Content-Type": "application/json"})
        return response.status, document

    with kubeemu.Emulator() as emulator:
        port = urllib.parse.urlsplit(emulator.url).port

        def from_kubeemu(method, path, body=None):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            data = json.dumps(body).encode("utf-8") if isinstance(body, dict) else body
            connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.status, json.loads(response.read())
            connection.close()
            return answer

        expected = _admin_answers(from_kubeemu)
    answers = _admin_answers(through_proxy)

    assert answers == expected
    assert answers[0] == (201, {"faults": [{"status": 500, "remaining": 2, "path_regex": "/nothing-matches", "method": None}]})
    assert answers[3][0] == answers[4][0] == answers[5][0] == 400
    assert answers[9][1] == {"GET /api/v1/namespaces/*/secrets": 1} and answers[11][1] == {}
    assert [request["path"] for request in setup.upstream.requests] == ["/api/v1/namespaces/default/secrets"]

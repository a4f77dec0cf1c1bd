"""A fault-injecting HTTPS reverse proxy in front of a real kube-apiserver, for tests only.

The tests used to run against kubeemu, which can fail requests on demand (``/_emulator/faults``)
and count them (``/_emulator/stats``).  A real API server can do neither, so this proxy sits
between the client (Helm, kubectl, the tests) and the API server: it forwards every request,
streams every answer back as it arrives (watches event by event), and on the way applies
kubeemu's own ``FaultInjector`` and ``RequestStats``, served on the same admin endpoints, so a
test can drive either backend the same way.

Identity -- an admin-or-token pass-through, for tests and never for production:

- a request that carries ``Authorization`` is forwarded with that header over an upstream
  connection that presents no client certificate, so the API server itself authenticates the
  token (a bad token gets the API server's own 401);
- any other request is forwarded over a connection that presents the admin client certificate
  given to the proxy, whoever the client is.  The proxy asks clients for a certificate (so
  kubeconfigs with client certificates work unchanged) and rejects one its CA did not sign,
  but does not require one, and it does not pass the client's certificate identity on: every
  request without a token acts as the admin.

Admin endpoints, answered by the proxy itself (no authentication, never forwarded), as kubeemu:
``POST /_emulator/faults`` (body: ``kubeemu.faults.Fault`` keyword arguments), ``DELETE
/_emulator/faults``, ``GET /_emulator/stats``, ``POST /_emulator/reset`` (drops faults and
counts) and ``GET /_emulator/state`` (only ``{"faults": [...]}``: the proxy has no store).

When the API server cannot be reached, the proxy closes the client's connection without an
answer: the client sees the end of the connection, as from a server that died, rather than an
answer no API server would give.  When the API server dies in the middle of a response, the
client's response is cut off the same way.

Not supported: protocol upgrades (exec, attach, port-forward), HTTP/2, pipelined requests.
"""

import http.client
import http.server
import json
import logging
import os
import select
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

from kubeemu import errors
from kubeemu.faults import FaultInjector, RequestStats, admin_answer
from kubeemu.server import decode_body, parse_resource_path

LOGGER = logging.getLogger("faultproxy")

HANDSHAKE_SECONDS = 10
CONNECT_SECONDS = 10
JOIN_SECONDS = 5
READ_SIZE = 64 * 1024
MAX_LINE = 65536

# RFC 9110 section 7.6.1: these describe one hop, not the message; each side sets its own.
HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
    "proxy-connection", "proxy-authenticate", "proxy-authorization",
))
# Set by the proxy for the upstream request rather than copied from the client's.
REWRITTEN = frozenset(("host", "content-length", "expect"))

ADMIN_PREFIX = "/_emulator/"


def _is_watch(query):
    values = urllib.parse.parse_qs(query, keep_blank_values=True).get("watch", ["false"])
    return values[0].lower() in ("true", "1")


def _generic_route(path):
    """Replace the namespace and the object name of any API resource path with ``*``.

    For resources kubeemu does not know (custom resources, subresources like ``log``) and for
    the legacy ``/watch/`` paths; returns (route, watch) or None for non-resource paths.
    """
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        route, rest = parts[:2], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        route, rest = parts[:3], parts[3:]
    else:
        return None
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    # As kubeemu: /namespaces/NS/status and /finalize are subresources of a namespace.
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        route += ["namespaces", "*"]
        rest = rest[2:]
    if not rest:
        return None
    route.append(rest[0])
    if len(rest) > 1:
        route += ["*"] + rest[2:]
    return "/" + "/".join(route), watch


def stats_key(method, path, query=""):
    """The RequestStats key kubeemu would count this request under.

    ``"GET /api/v1/namespaces/*/secrets/*"``, with `` (watch)`` for watches; non-resource paths
    count as ``"METHOD /path"``.
    """
    watch = _is_watch(query)
    route = parse_resource_path(path)
    if route is not None:
        return route.stats_key(method, watch)
    generic = _generic_route(path)
    if generic is None:
        return "%s %s" % (method, path)
    route, legacy_watch = generic
    return "%s %s%s" % (method, route, " (watch)" if watch or legacy_watch else "")


def _server_context(ca_cert_path, cert_pem, key_pem):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Go clients would otherwise negotiate HTTP/2, which this proxy does not speak.
    context.set_alpn_protocols(["http/1.1"])
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cafile=ca_cert_path)
    # ssl only loads keys from files: the key lives for a moment in a private (0700) directory.
    with tempfile.TemporaryDirectory(prefix="faultproxy-tls-") as private:
        chain, key = os.path.join(private, "server.crt"), os.path.join(private, "server.key")
        with open(chain, "wb") as handle:
            handle.write(cert_pem)
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(key_pem)
        context.load_cert_chain(chain, key)
    return context


def _upstream_context(ca_cert_path, cert_path=None, key_path=None):
    context = ssl.create_default_context(cafile=ca_cert_path)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if cert_path:
        context.load_cert_chain(cert_path, key_path)
    return context


def _shutdown(sock):
    try:
        # socket.socket.shutdown directly: SSLSocket.shutdown would drop its TLS state under
        # the feet of the thread still reading from it, which must see the end instead.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class FaultProxy:
    """Forwards HTTPS requests to ``upstream_url``, failing or delaying those ``faults`` match.

    ``port=0`` picks a free port; ``url`` is known once started, and stays the same when
    ``start()`` follows ``stop()`` (a proxy outage).  ``faults`` and ``stats`` exist from the
    start, so faults can be armed before the proxy or its clients have started.
    """

    def __init__(self, upstream_url, ca_cert_path, server_cert_pem, server_key_pem,
                 upstream_client_cert_path, upstream_client_key_path, host="127.0.0.1", port=0):
        upstream = urllib.parse.urlsplit(upstream_url)
        if upstream.scheme != "https" or not upstream.hostname:
            raise ValueError("the upstream must be an https:// URL, not %r" % upstream_url)
        self.upstream_host = upstream.hostname
        self.upstream_port = upstream.port or 443
        self.upstream_prefix = upstream.path.rstrip("/")
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self.url = None
        # Built here so that a wrong path or key fails at construction, not at the first request.
        self.server_context = _server_context(ca_cert_path, server_cert_pem, server_key_pem)
        self.upstream_contexts = {
            "admin": _upstream_context(ca_cert_path, upstream_client_cert_path, upstream_client_key_path),
            "token": _upstream_context(ca_cert_path),
        }
        self._address = (host, port)
        self._server = None
        self._thread = None

    def start(self):
        if self._server is not None:
            raise RuntimeError("the proxy is already serving %s" % self.url)
        self._server = _ProxyServer(self._address, self)
        host, port = self._server.server_address[:2]
        self.url = "https://%s:%d" % (host, port)
        self._address = (host, port)  # a start() after stop() serves the same URL again
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="faultproxy-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, end every open connection (watches included) and join the threads."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        self._thread.join(JOIN_SECONDS)
        server.join_handlers(JOIN_SECONDS)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class _ProxyServer(http.server.ThreadingHTTPServer):
    """Accepts client connections; remembers every socket and thread so stop() can end them."""

    daemon_threads = True
    block_on_close = False  # join_handlers() joins, with a time limit

    def __init__(self, address, proxy):
        self.proxy = proxy
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets = set()
        self._handler_threads = set()
        super().__init__(address, _ProxyHandler)

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        connection, address = super().get_request()
        # Without TCP_NODELAY, Nagle plus delayed ACKs stall every small response by ~40 ms.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake runs in the connection's thread (_ProxyHandler.setup), not here.
        return self.proxy.server_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name="faultproxy-connection", daemon=True)
        with self._lock:
            self._handler_threads.add(thread)
        self.track(request, True)
        thread.start()

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._handler_threads.discard(threading.current_thread())

    def shutdown_request(self, request):
        self.track(request, False)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients hanging up, failed handshakes and stop() cutting connections are all expected;
        # anything else is a bug worth its traceback.
        if isinstance(sys.exc_info()[1], (OSError, http.client.HTTPException)):
            LOGGER.debug("%s: connection ended", client_address[0], exc_info=True)
            return
        super().handle_error(request, client_address)

    def track(self, sock, is_open):
        """Remember an open client or upstream socket; one opened while stopping is ended at once."""
        with self._lock:
            if not is_open:
                self._sockets.discard(sock)
                return
            self._sockets.add(sock)
            stopping = self.stopping.is_set()
        if stopping:
            _shutdown(sock)

    def close_connections(self):
        with self._lock:
            self.stopping.set()
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def join_handlers(self, timeout):
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [thread for thread in threads if thread.is_alive()]
        if left:
            LOGGER.warning("%d proxy connection threads still running after stop()", len(left))


class _Upstream:
    """The connection to the API server that one client connection uses for one identity."""

    def __init__(self, server, identity):
        self._server = server
        proxy = server.proxy
        self.connection = http.client.HTTPSConnection(proxy.upstream_host, proxy.upstream_port,
                                                      timeout=CONNECT_SECONDS, context=proxy.upstream_contexts[identity])
        self.sock = None

    def open(self):
        """Connect unless still connected; returns True when the connection is a reused one."""
        if self.connection.sock is not None:
            return True
        self._forget()
        try:
            self.connection.connect()
        except OSError:
            self.connection.close()  # a failed handshake leaves the plain socket behind
            raise
        self.sock = self.connection.sock
        self.sock.settimeout(None)  # the connect timeout must not cut a quiet watch
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._server.track(self.sock, True)
        return False

    def close(self):
        self.connection.close()
        self._forget()

    def _forget(self):
        if self.sock is not None:
            self._server.track(self.sock, False)
            self.sock.close()
            self.sock = None


class _HangupWatch:
    """While a response of unknown length streams, ends it upstream when the client hangs up.

    The relaying thread blocks reading from the API server, and an idle watch may send nothing
    for minutes: without this, a client that went away would hold the thread and the upstream
    watch until the next event.  HTTP/1.1 clients send nothing while a response streams, so the
    client's socket turning readable means it closed (or stop() shut it down).
    """

    def __init__(self, client, upstream):
        self._client = client
        self._upstream = upstream
        self._lock = threading.Lock()
        self._done = False
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="faultproxy-hangup", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            select.select([self._client, self._wake_read], [], [])
        except (OSError, ValueError):
            pass  # the client socket is already closed: ended all the same
        with self._lock:
            if not self._done:
                _shutdown(self._upstream)

    def finish(self):
        """Stop watching (idempotent); call it before the last chunk goes out, since the client's
        next request may follow that chunk at once and must not be taken for a hang-up."""
        with self._lock:
            if self._done:
                return
            self._done = True
        os.write(self._wake_write, b"x")
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """One client connection, kept alive; its upstream connections live as long as it does."""

    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"

    def __init__(self, *args, **kwargs):
        self._upstreams = {}
        super().__init__(*args, **kwargs)

    def setup(self):
        self.request.settimeout(HANDSHAKE_SECONDS)
        self.request.do_handshake()
        self.request.settimeout(None)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            for upstream in self._upstreams.values():
                upstream.close()
            self._upstreams.clear()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # signature of the base class
        LOGGER.debug("%s " + format, self.address_string(), *args)

    def _serve(self):
        url = urllib.parse.urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError as error:
            self.close_connection = True  # the rest of the stream cannot be framed
            self._send_status(errors.bad_request("cannot read the request body: %s" % error))
            return
        if url.path.startswith(ADMIN_PREFIX):
            try:
                self._admin(url.path, body)
            except errors.ApiError as error:
                self._send_status(error)
            return
        proxy = self.server.proxy
        proxy.stats.count(stats_key(self.command, url.path, url.query))
        fault = proxy.faults.take(self.command, url.path)
        if fault is not None:
            if fault.delay and self.server.stopping.wait(fault.delay):
                self.close_connection = True
                return
            error = fault.error()  # None for a delay-only fault: served after the delay
            if error is not None:
                self._send_status(error)
                return
        target = self.path if self.path.startswith("/") else urllib.parse.urlunsplit(("", "", url.path, url.query, ""))
        self._forward(proxy.upstream_prefix + target, body)

    # BaseHTTPRequestHandler looks the methods up by name.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve  # pylint: disable=invalid-name

    # --- the request ----------------------------------------------------------------------

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self):
        parts = []
        while True:
            size_line = self.rfile.readline(MAX_LINE).split(b";", 1)[0].strip()
            if not size_line:
                raise ValueError("truncated chunked body")
            size = int(size_line, 16)
            if size < 0:
                raise ValueError("negative chunk size")
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline(MAX_LINE)
        while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields: nothing upstream needs them
        return b"".join(parts)

    def _upstream_headers(self, body):
        listed = {token.strip().lower() for token in (self.headers.get("Connection") or "").split(",")}
        headers = [(name, value) for name, value in self.headers.items()
                   if name.lower() not in HOP_BY_HOP | REWRITTEN | listed]
        proxy = self.server.proxy
        host = "[%s]" % proxy.upstream_host if ":" in proxy.upstream_host else proxy.upstream_host
        headers.append(("Host", "%s:%d" % (host, proxy.upstream_port)))
        if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
            headers.append(("Content-Length", str(len(body))))
        return headers

    def _forward(self, target, body):
        identity = "token" if "Authorization" in self.headers else "admin"
        headers = self._upstream_headers(body)
        upstream = self._upstreams.get(identity)
        if upstream is None:
            upstream = self._upstreams[identity] = _Upstream(self.server, identity)
        response = None
        while response is None:
            try:
                reused = upstream.open()
            except (OSError, http.client.HTTPException) as error:
                LOGGER.debug("API server unreachable: %s", error)
                self.close_connection = True  # no answer at all, as from a dead server
                return
            try:
                connection = upstream.connection
                connection.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                connection.endheaders(body or None)
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as error:
                upstream.close()
                if not reused:
                    LOGGER.debug("API server failed the request: %s", error)
                    self.close_connection = True
                    return
                # The API server closed this idle keep-alive connection before reading the
                # request; it was not served, so sending it again on a new connection is safe.
                LOGGER.debug("reused upstream connection failed (%s); reconnecting", error)
        self._relay(upstream, response)

    # --- the response ---------------------------------------------------------------------

    def _relay(self, upstream, response):
        listed = {token.strip().lower() for token in (response.getheader("Connection") or "").split(",")}
        has_body = not (self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200)
        bounded = not response.chunked and response.getheader("Content-Length") is not None
        rechunk = has_body and not bounded and self.request_version == "HTTP/1.1"
        if has_body and not bounded and not rechunk:
            self.close_connection = True  # an HTTP/1.0 client: the end of the connection ends the body
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in listed or (lower == "content-length" and response.chunked):
                continue
            self.send_header(name, value)
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        watch = _HangupWatch(self.connection, upstream.sock) if has_body and not bounded else None
        try:
            self._copy_body(response, rechunk, watch)
        except (OSError, http.client.HTTPException) as error:
            # Either side went away mid-response; the upstream connection must go too, as it
            # may still be streaming a watch.  The client gets no final chunk: a cut-off body.
            LOGGER.debug("response relay ended: %s", error)
            upstream.close()
            self.close_connection = True
        finally:
            if watch is not None:
                watch.finish()
        if self.server.stopping.is_set():
            self.close_connection = True

    def _copy_body(self, response, rechunk, watch):
        while True:
            # read1 returns what has arrived (at most one upstream chunk): watch events go out one by one.
            data = response.read1(READ_SIZE)
            if not data:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if rechunk else data)
        # http.client ends a short Content-Length body quietly (a cut chunked one raises), and
        # leaves a complete one open, which would keep the connection from its next request.
        truncated = response.length or (response.chunked and not response.isclosed())
        response.close()
        if truncated:
            raise http.client.IncompleteRead(b"")
        if watch is not None:
            watch.finish()
        if rechunk:
            self.wfile.write(b"0\r\n\r\n")

    def _send_status(self, error):
        payload = json.dumps(error.status(), separators=(",", ":")).encode("utf-8")
        self.send_response(error.code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if error.retry_after is not None:
            self.send_header("Retry-After", str(error.retry_after))
        self.end_headers()
        self.wfile.write(payload)

    # --- admin ----------------------------------------------------------------------------

    def _send_json(self, code, document):
        payload = json.dumps(document, separators=(",", ":")).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _admin(self, path, body):
        """kubeemu's admin API, with the same answers (``state`` has only the faults)."""
        proxy, method = self.server.proxy, self.command
        spec = decode_body("application/json", body) if (method, path) == ("POST", "/_emulator/faults") else None
        self._send_json(*admin_answer(method, path, spec, proxy.faults, proxy.stats))

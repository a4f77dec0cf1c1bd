"""The HTTP side: routing of Kubernetes API paths, content negotiation, watches, the admin API.

Admin endpoints (no authentication, not part of the Kubernetes API):
- ``GET /_emulator/state``: resourceVersion, object counts, pending faults;
- ``GET /_emulator/stats``: request counts per "METHOD route";
- ``POST /_emulator/faults`` with ``{"status": 500|429|422|..., "count": N, "path_regex": "...",
  "method": "GET"}``: answer the next N matching API requests with that status (429 carries
  ``Retry-After: retry_after``); ``"seconds": S`` instead answers every match for S seconds
  from the first match on; ``"delay": D`` holds each match D seconds first (without a status,
  then serves it: a slow API server);
  ``DELETE /_emulator/faults`` drops pending faults;
- ``POST /_emulator/reset``: drops faults and request counts (objects stay).

With ``require_token``, every other request must carry ``Authorization: Bearer TOKEN``; the
others get the 401 ``Unauthorized`` Status a real API server sends.  Helm (client-go) only sends
a bearer token over TLS, so ``require_token`` goes together with TLS (``ssl_context``).
"""

import http.server
import json
import logging
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import yaml

from . import discovery, errors, protobuf
from .faults import admin_answer
from .selectors import SelectorError, parse_field_selector, parse_label_selector
from .store import APPLY_PATCH_TYPE

LOGGER = logging.getLogger("kubeemu")

# client-go's reflectors pick 5-10 minutes; a cap keeps an unbounded watch from outliving a test.
DEFAULT_WATCH_SECONDS = 1800
INITIAL_EVENTS_END_ANNOTATION = "k8s.io/initial-events-end"
HANDSHAKE_SECONDS = 10


class ResourceRoute:
    """A parsed resource URL: /api/v1/namespaces/NS/PLURAL/NAME/SUBRESOURCE and friends."""

    def __init__(self, resource, namespace, name, subresource):
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.subresource = subresource

    def stats_key(self, method, watch):
        route = discovery.url_prefix(self.resource.group, self.resource.version)
        if self.namespace is not None:
            route += "/namespaces/*"
        route += "/" + self.resource.plural
        if self.name is not None:
            route += "/*"
        if self.subresource:
            route += "/" + self.subresource
        return "%s %s%s" % (method, route, " (watch)" if watch else "")


def parse_resource_path(path):
    """Return a ResourceRoute, or None when ``path`` is not a resource URL we serve."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    # /namespaces/NS/status is a subresource of a namespace, not a collection named "status".
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    resource = discovery.BY_PATH.get((group, version, rest[0]))
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    if name is not None and resource.namespaced and namespace is None:
        return None
    return ResourceRoute(resource, namespace, name, rest[2] if len(rest) > 2 else None)


def decode_body(content_type, body):
    """Turn a request body (JSON, YAML or k8s protobuf) into a dict."""
    if not body:
        return {}
    media_type = (content_type or "application/json").split(";")[0].strip().lower()
    try:
        if media_type == protobuf.CONTENT_TYPE:
            return protobuf.decode_object(body)
        if media_type in (APPLY_PATCH_TYPE, "application/yaml"):
            return yaml.safe_load(body.decode("utf-8"))
        return json.loads(body.decode("utf-8"))
    except protobuf.ProtobufError as error:
        raise errors.ApiError(415, "UnsupportedMediaType", str(error)) from error
    except (ValueError, yaml.YAMLError) as error:
        raise errors.bad_request("cannot decode the %s body: %s" % (media_type, error)) from error


def _first(query, name, default=None):
    return query.get(name, [default])[0]


def _truthy(query, name):
    return _first(query, name, "false").lower() in ("true", "1")


class ApiServer(http.server.ThreadingHTTPServer):
    """Serves one Store; remembers open connections so stop() can end idle keep-alives."""

    # socketserver's listen backlog is 5: a fleet recovered at --forks 10 (each module's preflight and Helm
    # connecting at once) overflowed it and the kernel reset connections, which no API server does (Go listens
    # with the system's somaxconn)
    request_queue_size = 1024

    def __init__(self, address, store, faults, stats, token, require_token, ssl_context=None):
        self.store = store
        self.ssl_context = ssl_context
        self.faults = faults
        self.stats = stats
        self.token = token
        self.require_token = require_token
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, ApiRequestHandler)

    def get_request(self):
        connection, address = super().get_request()
        if self.ssl_context is not None:
            # The handshake runs in the request thread (ApiRequestHandler.setup), not in the accept loop.
            connection = self.ssl_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def handle_error(self, request, client_address):
        # Clients that reject our certificate or hang up mid-handshake are expected (tests do it).
        error = sys.exc_info()[1]
        if isinstance(error, (ssl.SSLError, ConnectionError, socket.timeout)):
            LOGGER.debug("%s: connection ended: %s", client_address[0], error)
            return
        super().handle_error(request, client_address)

    def track(self, connection, is_open):
        with self._connections_lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self):
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                # socket.socket.shutdown directly: SSLSocket.shutdown would drop its TLS state
                # under the feet of the request thread still reading from it.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client


class ApiRequestHandler(http.server.BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, so every response carries a length or is chunked."""

    protocol_version = "HTTP/1.1"
    server_version = "kubeemu"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(HANDSHAKE_SECONDS)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        # Without TCP_NODELAY, Nagle plus delayed ACKs stall every small response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # signature of the base class
        LOGGER.debug("%s " + format, self.address_string(), *args)

    def do_GET(self):  # pylint: disable=invalid-name  # name required by BaseHTTPRequestHandler
        self._dispatch("GET")

    def do_POST(self):  # pylint: disable=invalid-name
        self._dispatch("POST")

    def do_PUT(self):  # pylint: disable=invalid-name
        self._dispatch("PUT")

    def do_PATCH(self):  # pylint: disable=invalid-name
        self._dispatch("PATCH")

    def do_DELETE(self):  # pylint: disable=invalid-name
        self._dispatch("DELETE")

    # --- plumbing -------------------------------------------------------------------------

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if url.path.startswith("/_emulator/"):
                self._admin(method, url.path, body)
                return
            self._authenticate()
            route = parse_resource_path(url.path)
            watch = _truthy(query, "watch")
            self.server.stats.count(route.stats_key(method, watch) if route else "%s %s" % (method, url.path))
            fault = self.server.faults.take(method, url.path)
            if fault:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.error():
                    raise fault.error()
            if route is None:
                self._serve_non_resource(method, url.path)
            else:
                self._serve_resource(method, route, query, body, watch)
        except errors.ApiError as error:
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
            self._send_json(error.code, error.status(), headers=headers)

    def _send_json(self, code, body, content_type="application/json", headers=None):
        payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _authenticate(self):
        if self.server.require_token and self.headers.get("Authorization") != "Bearer %s" % self.server.token:
            raise errors.ApiError(401, "Unauthorized", "Unauthorized")

    # --- non-resource endpoints -----------------------------------------------------------

    def _serve_non_resource(self, method, path):
        if method != "GET":
            raise errors.ApiError(405, "MethodNotAllowed", "%s is not supported on %s" % (method, path))
        aggregated = "as=APIGroupDiscoveryList" in (self.headers.get("Accept") or "")
        parts = [part for part in path.split("/") if part]
        document, content_type = None, "application/json"
        if path == "/version":
            document = discovery.KUBERNETES_VERSION
        elif path in ("/healthz", "/livez", "/readyz"):
            document = "ok"
        elif path in ("/api", "/apis") and aggregated:
            document, content_type = discovery.aggregated_discovery(core=path == "/api"), discovery.AGGREGATED_DISCOVERY_TYPE
        elif path == "/api":
            document = discovery.legacy_api_versions()
        elif path == "/apis":
            document = discovery.legacy_group_list()
        elif len(parts) == 2 and parts[0] == "api":
            document = discovery.legacy_resource_list("", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            document = discovery.legacy_group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            document = discovery.legacy_resource_list(parts[1], parts[2])
        elif path == "/openapi/v3":
            document = discovery.openapi_root()
        elif path.startswith("/openapi/v3/"):
            document = discovery.openapi_for_key(path[len("/openapi/v3/"):])
        if document is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        self._send_json(200, document, content_type)

    # --- resources ------------------------------------------------------------------------

    def _matcher(self, query):
        try:
            labels = parse_label_selector(_first(query, "labelSelector", ""))
            fields = parse_field_selector(_first(query, "fieldSelector", ""))
        except SelectorError as error:
            raise errors.bad_request(str(error)) from error
        return lambda obj: labels(obj["metadata"].get("labels")) and fields(obj)

    def _serve_resource(self, method, route, query, body, watch):
        store, resource = self.server.store, route.resource
        namespace = route.namespace if resource.namespaced else ""
        dry_run = _first(query, "dryRun") == "All"
        if route.subresource not in (None, "status"):
            raise errors.ApiError(404, "NotFound", "subresource %r is not served by the emulator" % route.subresource)
        if route.name is None:
            matches = self._matcher(query)
            if method == "GET" and watch:
                self._watch(route, query, matches)
            elif method == "GET":
                items, version = store.list(resource, route.namespace if resource.namespaced else None, matches)
                self._send_list(resource, items, version)
            elif method == "POST":
                self._send_json(201, store.create(resource, namespace, decode_body(self.headers.get("Content-Type"), body), dry_run))
            elif method == "DELETE":
                items = store.delete_collection(resource, route.namespace if resource.namespaced else None, matches, _first(query, "propagationPolicy"))
                self._send_list(resource, items, str(store.resource_version))
            else:
                raise errors.ApiError(405, "MethodNotAllowed", "%s is not supported on a collection" % method)
            return
        if method == "GET":
            self._send_json(200, store.get(resource, namespace, route.name))
        elif method == "PUT":
            obj = decode_body(self.headers.get("Content-Type"), body)
            self._send_json(200, store.update(resource, namespace, route.name, obj, route.subresource, dry_run))
        elif method == "PATCH":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            patch = decode_body(content_type, body)
            obj, created = store.patch(resource, namespace, route.name, content_type, patch, _first(query, "fieldManager"), dry_run)
            self._send_json(201 if created else 200, obj)
        elif method == "DELETE":
            options = decode_body(self.headers.get("Content-Type"), body)
            propagation = options.get("propagationPolicy") or _first(query, "propagationPolicy")
            if options.get("orphanDependents"):
                propagation = "Orphan"
            dry_run = dry_run or "All" in (options.get("dryRun") or [])
            self._send_json(200, store.delete(resource, namespace, route.name, propagation, options.get("preconditions"), dry_run))
        else:
            raise errors.ApiError(405, "MethodNotAllowed", "%s is not supported" % method)

    def _send_list(self, resource, items, version):
        self._send_json(200, {
            "kind": resource.kind + "List",
            "apiVersion": discovery.api_version_of(resource),
            "metadata": {"resourceVersion": version},
            "items": items,
        })

    # --- watches --------------------------------------------------------------------------

    def _client_gone(self):
        try:
            readable = select.select([self.connection], [], [], 0)[0]
            if isinstance(self.connection, ssl.SSLSocket):
                # HTTP/1.1 clients send nothing while a watch streams: anything readable is the
                # TLS close_notify alert or the end of the connection (ssl cannot MSG_PEEK).
                return bool(readable)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _watch(self, route, query, matches):
        resource = route.resource
        timeout = int(_first(query, "timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        events = self.server.store.watch(
            resource,
            route.namespace if resource.namespaced else None,
            matches,
            _first(query, "resourceVersion"),
            _truthy(query, "sendInitialEvents"),
            time.monotonic() + timeout,
            self._client_gone,
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event_type, obj in events:
                if event_type == "INITIAL_END":
                    event_type, obj = "BOOKMARK", {
                        "kind": resource.kind,
                        "apiVersion": discovery.api_version_of(resource),
                        "metadata": {"resourceVersion": obj, "annotations": {INITIAL_EVENTS_END_ANNOTATION: "true"}},
                    }
                self._write_chunk(json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode("utf-8") + b"\n")
            self._write_chunk(b"")
        except OSError:
            self.close_connection = True  # the client hung up mid-stream

    def _write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # --- admin ----------------------------------------------------------------------------

    def _admin(self, method, path, body):
        server = self.server
        spec = decode_body("application/json", body) if (method, path) == ("POST", "/_emulator/faults") else None
        state = {"resourceVersion": str(server.store.resource_version), "objects": server.store.counts()}
        self._send_json(*admin_answer(method, path, spec, server.faults, server.stats, state))

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small Kubernetes API client on Python's standard library.

It replaces the ``kubernetes`` Python client, which costs more to import than a Helm process costs
to run, and whose models and discovery this collection never needed: requests go out as JSON and
come back decoded as they are. How to connect (server, TLS, credentials, impersonation, proxy)
comes from an ``ApiAccess`` (module_utils/connection.py); this module only speaks HTTP with it:

* one keep-alive connection per thread (callers run requests on a small thread pool), opened again
  once when the server closed an idle one, and after a credential was refreshed;
* a 401 is retried once when ``access.invalidate()`` refreshed a credential; a 429 on a GET is
  retried twice after the server's Retry-After (at most 5 s);
* paged LISTs, metadata-only LISTs, server-side apply dry runs, create, update and delete with
  preconditions, and watches read as a stream of JSON lines;
* every failure is a ``KubeError`` whose kind says what went wrong (``error_for`` and
  ``unreachable`` classify them, as pure functions) and whose message says what to fix. Messages
  never carry a header: credentials stay out of task results.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import re
import select
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple
from urllib.parse import unquote, urlencode, urlsplit

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, API_ERROR, CLUSTER_UNREACHABLE, CONFLICT, INVALID_KUBECONFIG, NOT_FOUND, REJECTED, THROTTLED,
    UNSUPPORTED_KUBECONFIG, KubeError,
)
from ansible_collections.matih.helm.plugins.module_utils.kube_types import without_userinfo

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
# Metadata-only answers: names, labels and resourceVersions without the objects' contents
# (a Secret's data above all), for callers that only need to know what exists.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
DEFAULT_TIMEOUT = (10, 60)  # (connect, read) seconds: a LIST of a busy namespace can take a while to send
LIST_PAGE = 500
THROTTLE_RETRIES = 2
MAX_RETRY_AFTER = 5.0  # a task should fail as throttled rather than wait on a busy server for long
DEFAULT_RETRY_AFTER = 1.0
# A watch always asks the server to end it after this long (when the caller gives no time), so
# that a connection lost without a FIN cannot leave it waiting for ever; the read timeout is longer
# by WATCH_GRACE, since the server sends nothing while nothing changes.
WATCH_SECONDS = 300
WATCH_GRACE = 15
MESSAGE_LIMIT = 300
# Sent again on a fresh connection when a reused one turned out to be closed, as Go's transport does:
# they change nothing (nor does a dry run). A PUT or DELETE the server carried out before it closed
# would come back as a false conflict or not_found, so those are not sent twice.
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
# What the server's closing an idle keep-alive connection looks like on the next request
STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                           ssl.SSLEOFError, ssl.SSLZeroReturnError)
# The RBAC authorizer's denial ("secrets is forbidden: User "x" cannot list resource ..."; for a
# path: "forbidden: User "x" cannot get path ..."). Admission and quota denials are 403s too,
# reason Forbidden as well, but say something else after "forbidden:".
RBAC_DENIAL = re.compile(r'forbidden: User ".*?" cannot ')
REJECTED_STATUSES = frozenset((400, 405, 410, 413, 415, 422))
GATEWAY_STATUSES = frozenset((502, 503, 504))
# The Kubernetes Status reason of each status, for answers without a Status (a proxy's, say)
DEFAULT_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}
REJECTED_HINTS = {
    400: "check the request's selectors, query and body",
    405: "the resource does not support this operation",
    410: "the resourceVersion is too old: list again and start from the list's resourceVersion",
    413: "the object is larger than the API server accepts (etcd keeps objects up to about 1.5 MiB)",
    415: "the API server does not accept this content type",
    422: "fix the fields the message names",
}
VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


class MetadataList(NamedTuple):
    """What list_metadata returns: the items (metadata only) and the list's resourceVersion, from
    which a watch of the same collection starts. Unpacks as ``items, resource_version``."""
    items: List[Dict[str, Any]]
    resource_version: str


class _Endpoint(NamedTuple):
    """Where requests go: the API server, and the proxy that tunnels to it."""
    scheme: str
    host: str
    port: int
    prefix: str  # the server URL's path, before every API path
    proxy: Optional[Tuple[str, int]]
    proxy_headers: Dict[str, str]  # Proxy-Authorization for the CONNECT, never sent to the API server


class _Answer(NamedTuple):
    status: int
    headers: Any  # http.client.HTTPMessage
    body: bytes
    stream: Optional[Tuple[http.client.HTTPConnection, http.client.HTTPResponse]]  # a watch's open response


class _StaleConnection(Exception):
    """A reused keep-alive connection that the server had closed: the request may be sent again."""

    def __init__(self, error: Exception):
        super(_StaleConnection, self).__init__(str(error))
        self.error = error


class _PlainConnection(http.client.HTTPConnection):
    """HTTP to the API server, or to the proxy that tunnels to it. The connect timeout applies until
    the connection is made, the read timeout afterwards (http.client knows one timeout only)."""

    def __init__(self, host: str, port: int, timeout: Tuple[float, float]):
        super(_PlainConnection, self).__init__(host, port, timeout=timeout[0])
        self.read_timeout = timeout[1]
        self.generation = 0

    def connect(self):
        super(_PlainConnection, self).connect()
        self.sock.settimeout(self.read_timeout)


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS whose SNI and certificate check use ``server_name``: the kubeconfig's tls-server-name
    when the certificate names another host than the server URL does, else the URL's host."""

    def __init__(self, host: str, port: int, timeout: Tuple[float, float], context: Optional[ssl.SSLContext],
                 server_name: str):
        super(_TLSConnection, self).__init__(host, port, timeout=timeout[0], context=context)
        self.read_timeout = timeout[1]
        self.server_name = server_name
        self.generation = 0

    def connect(self):
        # HTTPConnection's connect: the TCP connection, and the proxy's tunnel when there is one
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_name)
        self.sock.settimeout(self.read_timeout)


class KubeClient(object):
    """Counted JSON requests to one Kubernetes API server, safe to share between threads.

    ``access`` is a connection.ApiAccess; ``timeout`` is (connect, read) seconds. ``requests``
    counts the HTTP requests sent (retries included). Call close(), or use it as a context
    manager, to close its connections."""

    def __init__(self, access, user_agent: str = "matih.helm", timeout: Tuple[float, float] = DEFAULT_TIMEOUT):
        self.access = access
        self.user_agent = user_agent
        self.timeout = (float(timeout[0]), float(timeout[1]))
        self.endpoint = endpoint_of(access.server, access.proxy_url)
        self.requests = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._open = set()
        # Bumped when a credential is refreshed: a client certificate may have changed, and pooled
        # connections made with the old one would go on using it.
        self._generation = 0

    def __enter__(self) -> "KubeClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's pooled connection (a request in flight on one fails)."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()

    # --- requests -------------------------------------------------------------------------------

    def request(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, body: Any = None,
                content_type: str = JSON, accept: str = JSON) -> Any:
        """One API request on this thread's keep-alive connection; the decoded JSON answer (None for
        an empty 204). ``query`` values may be lists (repeated parameters), booleans become
        true/false, None values are left out. ``body`` is sent as JSON unless it is bytes or text.
        KubeError for an error status, a connection failure, or an answer that is not JSON."""
        method = method.upper()
        payload = _encoded(body)

        def exchange():
            return self._pooled_exchange(method, path, query, payload, content_type, accept)
        return self._decoded(self._with_retries(method, exchange), method, path)

    def get(self, path: str, query: Optional[Dict[str, Any]] = None) -> Any:
        return self.request("GET", path, query)

    def list_pages(self, path: str, label_selector: Optional[str] = None, field_selector: Optional[str] = None,
                   limit: int = LIST_PAGE, accept: str = JSON) -> Iterator[Tuple[List[Dict[str, Any]], Dict[str, Any]]]:
        """(items, list metadata) of each page of a LIST, ``limit`` items a request, following the
        ``continue`` token. A token that expired between pages fails as rejected with status 410."""
        query = _without_none({"labelSelector": label_selector or None, "fieldSelector": field_selector or None,
                               "limit": limit or None})
        while True:
            listing = self.request("GET", path, query, accept=accept)
            if not isinstance(listing, dict):
                raise KubeError(API_ERROR, "The Kubernetes API server %s answered GET %s with something that is not "
                                "a list; check that it is a Kubernetes API server" % (self.access.describe(), path))
            metadata = listing.get("metadata") or {}
            yield listing.get("items") or [], metadata
            token = metadata.get("continue")
            if not token:
                return
            query = dict(query, **{"continue": token})

    def list(self, path: str, label_selector: Optional[str] = None, field_selector: Optional[str] = None,
             limit: int = LIST_PAGE) -> Iterator[Dict[str, Any]]:
        """The items of a LIST, across its pages."""
        for items, _metadata in self.list_pages(path, label_selector, field_selector, limit):
            yield from items

    def list_metadata(self, path: str, label_selector: Optional[str] = None, field_selector: Optional[str] = None,
                      limit: int = LIST_PAGE) -> MetadataList:
        """Every item of a LIST with its metadata only (PartialObjectMetadata), and the list's
        resourceVersion for a watch that follows it (watch(..., accept=METADATA_WATCH))."""
        items, resource_version = [], ""
        for page, metadata in self.list_pages(path, label_selector, field_selector, limit, accept=METADATA_LIST):
            items.extend(page)
            # every page of a paged LIST is read from the first page's snapshot
            resource_version = resource_version or str(metadata.get("resourceVersion") or "")
        return MetadataList(items, resource_version)

    def apply_dry_run(self, path: str, body: Dict[str, Any], field_manager: str, force: bool = True,
                      field_validation: str = "Ignore") -> Any:
        """The object a server-side apply of ``body`` to the object at ``path`` would make; nothing is
        stored (dryRun=All). The JSON body is valid YAML, which the apply patch type is."""
        query = {"dryRun": "All", "fieldManager": field_manager, "fieldValidation": field_validation,
                 "force": True if force else None}
        return self.request("PATCH", path, query, body, content_type=APPLY_PATCH)

    def create(self, path: str, body: Dict[str, Any]) -> Any:
        """POST to the collection at ``path``; conflict (reason AlreadyExists) when the name is taken."""
        return self.request("POST", path, body=body)

    def update(self, path: str, body: Dict[str, Any]) -> Any:
        """PUT to the object at ``path``. The body's metadata.resourceVersion, when set, is the
        precondition: conflict (reason Conflict) when the object changed since it was read."""
        return self.request("PUT", path, body=body)

    def delete(self, path: str, resource_version: Optional[str] = None) -> Any:
        """DELETE the object at ``path``; with ``resource_version``, only if it is still that version
        (conflict otherwise). not_found when it is gone already."""
        body = None
        if resource_version is not None:
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": resource_version}}
        return self.request("DELETE", path, body=body)

    def watch(self, path: str, label_selector: Optional[str] = None, resource_version: Optional[str] = None,
              allow_bookmarks: bool = True, timeout_seconds: Optional[int] = None, accept: str = JSON,
              field_selector: Optional[str] = None) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """(event type, object) of each change of the collection at ``path`` after ``resource_version``:
        ADDED, MODIFIED, DELETED and, with ``allow_bookmarks``, BOOKMARK (only its resourceVersion is
        meaningful: remember it to watch on from there). A generator on a connection of its own, sent
        on the first next(); it ends when the server ends the watch after ``timeout_seconds``
        (WATCH_SECONDS when None), and closing it early closes the connection.

        An ERROR event fails as KubeError; when the resourceVersion is too old to watch from, kind
        rejected with status 410 and reason Expired: LIST again and watch from the list's version."""
        seconds = WATCH_SECONDS if timeout_seconds is None else int(timeout_seconds)
        query = _without_none({
            "watch": True, "labelSelector": label_selector or None, "fieldSelector": field_selector or None,
            "resourceVersion": resource_version or None, "allowWatchBookmarks": True if allow_bookmarks else None,
            "timeoutSeconds": seconds})
        return self._events(path, query, accept, seconds + WATCH_GRACE)

    # --- transport ------------------------------------------------------------------------------

    def _events(self, path: str, query: Dict[str, Any], accept: str,
                read_timeout: float) -> Iterator[Tuple[str, Dict[str, Any]]]:
        described = path + "?watch=true"  # what messages name: the watch, not a GET of the collection
        answer = self._with_retries("GET", lambda: self._send(
            self._new_connection(read_timeout), "GET", path, query, None, JSON, accept, stream=True))
        if answer.stream is None:
            raise self._failure(answer, "GET", described)
        connection, response = answer.stream
        try:
            for line in self._stream_lines(response, described):
                yield watch_event(line, "GET", described, self.access.describe())
        finally:  # also on GeneratorExit: a watch closed early must not leave its connection open
            response.close()
            connection.close()

    def _stream_lines(self, response: http.client.HTTPResponse, path: str) -> Iterator[bytes]:
        """The lines of a streamed answer; readline joins what the chunks split."""
        while True:
            try:
                line = response.readline()
            except (OSError, http.client.HTTPException) as error:
                raise unreachable(error, "GET", path, self.access.describe()) from error
            if not line:
                return
            if line.strip():
                yield line

    def _with_retries(self, method: str, attempt: Callable[[], _Answer]) -> _Answer:
        """The answer of ``attempt()``, made again once after a 401 when a credential was refreshed,
        and up to THROTTLE_RETRIES times after a 429, as client-go does: API priority and fairness
        answers 429 before the request is carried out, so even a write is safe to send again."""
        refreshed, throttled = False, 0
        while True:
            answer = attempt()
            if answer.status == 401 and not refreshed:
                refreshed = True
                if self._refresh_credentials():
                    continue
            elif answer.status == 429 and throttled < THROTTLE_RETRIES:
                throttled += 1
                time.sleep(retry_delay(answer.headers.get("Retry-After")))
                continue
            return answer

    def _refresh_credentials(self) -> bool:
        if not self.access.invalidate():
            return False
        with self._lock:
            self._generation += 1
        return True

    def _pooled_exchange(self, method: str, path: str, query: Optional[Dict[str, Any]], payload: Optional[bytes],
                         content_type: str, accept: str) -> _Answer:
        try:
            return self._send(self._pooled_connection(), method, path, query, payload, content_type, accept)
        except _StaleConnection as stale:
            if method not in IDEMPOTENT_METHODS and (query or {}).get("dryRun") != "All":
                # the server may have acted on it before closing: sending it again could do it twice
                raise unreachable(stale.error, method, path, self.access.describe()) from stale.error
            # the stale connection was discarded: this one is new
            return self._send(self._pooled_connection(), method, path, query, payload, content_type, accept)

    def _send(self, connection: http.client.HTTPConnection, method: str, path: str,
              query: Optional[Dict[str, Any]], payload: Optional[bytes], content_type: str, accept: str,
              stream: bool = False) -> _Answer:
        """One HTTP exchange. With ``stream``, a 2xx answer is left open to read (and the connection
        is the caller's); otherwise the whole body is read. _StaleConnection when a reused connection
        had been closed by the server, KubeError for any other connection failure."""
        headers = self._headers(accept, content_type, payload)
        reused = connection.sock is not None  # http.client connects when it sends, if it is not connected
        self._count()
        try:
            connection.putrequest(method, self._target(path, query), skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(payload)
            response = connection.getresponse()
            if stream and 200 <= response.status < 300:
                return _Answer(response.status, response.headers, b"", (connection, response))
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            self._discard(connection)
            if reused and isinstance(error, STALE_CONNECTION_ERRORS):
                raise _StaleConnection(error) from error
            raise unreachable(error, method, path, self.access.describe()) from error
        except BaseException:
            self._discard(connection)  # half-way through a request: no later request could use it
            raise
        if stream:
            connection.close()
        return _Answer(response.status, response.headers, body, None)

    def _decoded(self, answer: _Answer, method: str, path: str) -> Any:
        if not 200 <= answer.status < 300:
            raise self._failure(answer, method, path)
        if answer.status == 204 and not answer.body.strip():
            return None
        try:
            return json.loads(answer.body)
        except ValueError:
            raise KubeError(API_ERROR, "The Kubernetes API server %s answered %s %s with something that is not JSON "
                            "(%s: %s); check that the server address points at a Kubernetes API server, not at "
                            "another web server or a proxy's page" % (
                                self.access.describe(), method, path, answer.headers.get("Content-Type") or "no type",
                                _one_line(to_text(answer.body, errors="surrogate_or_replace"))[:100]),
                            status=answer.status) from None

    def _failure(self, answer: _Answer, method: str, path: str) -> KubeError:
        return error_for(answer.status, to_text(answer.body, errors="surrogate_or_replace"), method, path,
                         self.access.describe())

    def _headers(self, accept: str, content_type: str, payload: Optional[bytes]) -> List[Tuple[str, str]]:
        headers = [("Accept", accept), ("User-Agent", self.user_agent)]
        if payload is not None:
            headers += [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
        credentials = list(self.access.headers())  # none over plain http: connection.py decides that, once
        encoded = []
        for name, value in credentials:
            if any(character in str(value) for character in "\r\n\0"):
                # http.client would refuse it with the value in its message: a token in a task result
                raise KubeError(INVALID_KUBECONFIG, "The %s header for %s has a line break or NUL in its value; check "
                                "api_key or the kubeconfig user's token" % (name, self.access.describe()))
            # as client-go sends them: UTF-8 (http.client would encode text as Latin-1, or fail)
            encoded.append((name, str(value).encode("utf-8")))
        return headers + encoded

    def _target(self, path: str, query: Optional[Dict[str, Any]]) -> str:
        if not path.startswith("/"):
            raise ValueError("an API path starts with /: %r" % path)
        encoded = query_string(query or {})
        return self.endpoint.prefix + path + ("?" + encoded if encoded else "")

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    # --- connections ----------------------------------------------------------------------------

    def _pooled_connection(self) -> http.client.HTTPConnection:
        """This thread's keep-alive connection, new when there is none, when credentials were
        refreshed since it was made, or when the server has closed it meanwhile."""
        connection = getattr(self._local, "connection", None)
        if connection is not None and not self._reusable(connection):
            self._discard(connection)
            connection = None
        if connection is None:
            connection = self._new_connection(self.timeout[1])
            with self._lock:
                self._open.add(connection)
            self._local.connection = connection
        return connection

    def _reusable(self, connection: http.client.HTTPConnection) -> bool:
        with self._lock:
            kept = connection in self._open  # close() may have closed it from another thread
        return kept and connection.generation == self._generation and not _closed_by_server(connection)

    def _new_connection(self, read_timeout: float) -> http.client.HTTPConnection:
        """A connection to the server, or to the proxy with a tunnel to the server (not connected yet)."""
        endpoint = self.endpoint
        host, port = endpoint.proxy or (endpoint.host, endpoint.port)
        timeout = (self.timeout[0], read_timeout)
        if endpoint.scheme == "https":
            connection = _TLSConnection(host, port, timeout, self.access.ssl_context(),
                                        self.access.tls_server_name or endpoint.host)
        else:
            connection = _PlainConnection(host, port, timeout)
        if endpoint.proxy:
            connection.set_tunnel(endpoint.host, endpoint.port, headers=endpoint.proxy_headers)
        connection.generation = self._generation
        return connection

    def _discard(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        with self._lock:
            self._open.discard(connection)
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """Whether the server closed this idle keep-alive connection (it is readable: at its end, since
    nothing is due between requests). Checked before reuse, so that a POST, which is never sent twice,
    does not go out on a connection already closed."""
    if connection.sock is None or not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(connection.sock, select.POLLIN)
    return bool(poller.poll(0))


# --- what the client is built from ----------------------------------------------------------------

def endpoint_of(server: str, proxy_url: Optional[str]) -> _Endpoint:
    """Where to connect for ``server`` (http or https, maybe with a path prefix), through the HTTP
    CONNECT proxy at ``proxy_url`` when set. KubeError when either is not such a URL."""
    url = urlsplit(server)
    try:
        port = url.port
    except ValueError:
        port = -1
    if url.scheme not in ("http", "https") or not url.hostname or port == -1:
        raise KubeError(INVALID_KUBECONFIG, "The API server address %s is not an http:// or https:// URL; check host "
                        "or the kubeconfig cluster's server" % without_userinfo(server))
    proxy, proxy_headers = None, {}
    if proxy_url:
        proxy, proxy_headers = _proxy_of(proxy_url)
    return _Endpoint(url.scheme, url.hostname, port or (443 if url.scheme == "https" else 80),
                     url.path.rstrip("/"), proxy, proxy_headers)


def _proxy_of(proxy_url: str) -> Tuple[Tuple[str, int], Dict[str, str]]:
    proxy = urlsplit(proxy_url)
    try:
        port = proxy.port or 80
    except ValueError:
        port = -1
    if proxy.scheme != "http" or not proxy.hostname or port == -1:
        raise KubeError(UNSUPPORTED_KUBECONFIG, "The proxy %s is not an http://host:port proxy, the only kind this "
                        "collection tunnels through; use an HTTP CONNECT proxy" % without_userinfo(proxy_url))
    headers = {}
    if proxy.username is not None:
        credentials = "%s:%s" % (unquote(proxy.username), unquote(proxy.password or ""))
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return (proxy.hostname, port), headers


# --- requests' parts --------------------------------------------------------------------------------

def _encoded(body: Any) -> Optional[bytes]:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _without_none(query: Dict[str, Any]) -> Dict[str, Any]:
    return dict((name, value) for name, value in query.items() if value is not None)


def query_string(query: Dict[str, Any]) -> str:
    """The query of a request: lists repeat the parameter, booleans are true/false as the API
    expects them, None leaves the parameter out."""
    pairs = []
    for name, value in query.items():
        for one in value if isinstance(value, (list, tuple)) else [value]:
            if one is not None:
                pairs.append((name, ("true" if one else "false") if isinstance(one, bool) else str(one)))
    return urlencode(pairs)


def retry_delay(retry_after: Optional[str]) -> float:
    """Seconds to wait before a throttled GET is sent again: the server's Retry-After (seconds; a date
    or nothing counts as DEFAULT_RETRY_AFTER), at most MAX_RETRY_AFTER."""
    try:
        seconds = float(retry_after)
    except (TypeError, ValueError):
        seconds = DEFAULT_RETRY_AFTER
    if not math.isfinite(seconds):
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def watch_event(line: bytes, method: str, path: str, server_description: str) -> Tuple[str, Dict[str, Any]]:
    """(type, object) of one line of a watch; KubeError for an ERROR event (a 410 one: rejected,
    reason Expired) and for a line that is not a watch event."""
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or \
            not isinstance(event.get("object"), dict):
        raise KubeError(API_ERROR, "The Kubernetes API server %s sent something that is not a watch event in answer "
                        "to %s %s: %s" % (server_description, method, path,
                                          _one_line(to_text(line, errors="surrogate_or_replace"))[:100]))
    if event["type"] == "ERROR":
        status = event["object"]
        code = status.get("code") if isinstance(status.get("code"), int) else 500
        raise error_for(code, json.dumps(status), method, path, server_description)
    return event["type"], event["object"]


# --- paths ------------------------------------------------------------------------------------------

def label_selector(labels: Dict[str, Optional[str]]) -> str:
    """``{"owner": "helm", "name": "web"}`` → ``owner=helm,name=web``; a None value selects on the
    label's presence."""
    return ",".join(key if value is None else "%s=%s" % (key, value) for key, value in labels.items())


# --- errors -----------------------------------------------------------------------------------------

def error_for(status: int, payload_text: str, method: str, path: str, server_description: str) -> KubeError:
    """The KubeError of an error answer; ``payload_text`` is its body (a Kubernetes Status, or anything
    a proxy sends). ``reason`` is the Status reason, else the status's usual one; a 410 always has
    reason Expired, which is what callers look for to list again."""
    message, reason = _status_of(payload_text)
    reason = "Expired" if status == 410 else reason or DEFAULT_REASONS.get(status)
    answered = "%s %s (%d: %s)" % (method, path, status, message or "no message")
    kind, text = _classified(status, message, reason, method, path, answered, server_description)
    return KubeError(kind, text, status=status, reason=reason, server_message=message or "no message")


def _classified(status: int, message: str, reason: Optional[str], method: str, path: str, answered: str,
                server: str) -> Tuple[str, str]:
    """(kind, message) of an error answer."""
    if status == 401:
        return ACCESS_DENIED, ("The Kubernetes API server %s did not accept the credentials of %s; check api_key or the "
                               "kubeconfig user's token or client certificate, which may have expired" % (server, answered))
    if status == 403 and RBAC_DENIAL.search(message):
        return ACCESS_DENIED, ("The Kubernetes API server %s refused %s; check api_key or the kubeconfig user and its "
                               "RBAC rights to %s" % (server, answered, rbac_right(method, path)))
    if status == 403:
        return REJECTED, ("The Kubernetes API server %s refused %s: an admission webhook or policy, a resource quota or "
                          "a terminating namespace forbids it, as the message says; change the object or that "
                          "policy" % (server, answered))
    if status == 404:
        return NOT_FOUND, ("The Kubernetes API server %s found nothing for %s; check the name and namespace, and that the "
                           "cluster serves this resource and API version" % (server, answered))
    if status == 409:
        if reason == "AlreadyExists":
            return CONFLICT, "The Kubernetes API server %s refused %s: the object exists already" % (server, answered)
        return CONFLICT, ("The Kubernetes API server %s refused %s: the object changed since it was read; read it again "
                          "and retry" % (server, answered))
    if status == 429:
        return THROTTLED, ("The Kubernetes API server %s throttled %s; retry later, or send fewer requests at "
                           "once" % (server, answered))
    if status in REJECTED_STATUSES:
        return REJECTED, "The Kubernetes API server %s rejected %s; %s" % (server, answered, REJECTED_HINTS[status])
    if status in GATEWAY_STATUSES:
        return CLUSTER_UNREACHABLE, ("The Kubernetes API server %s did not answer %s; check that it is up, and the proxy "
                                     "or load balancer in front of it" % (server, answered))
    return API_ERROR, "The Kubernetes API server %s failed %s" % (server, answered)


def _status_of(payload_text: str) -> Tuple[str, Optional[str]]:
    """(message, reason) of a Kubernetes Status answer; the start of any other body as the message."""
    try:
        status = json.loads(payload_text)
    except ValueError:
        status = None
    if isinstance(status, dict) and (status.get("message") or status.get("reason")):
        reason = status.get("reason") if isinstance(status.get("reason"), str) else None
        return _one_line(str(status.get("message") or reason))[:MESSAGE_LIMIT], reason or None
    return _one_line(payload_text or "")[:MESSAGE_LIMIT], None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def rbac_right(method: str, path: str) -> str:
    """The RBAC right a request needs, in words: "list secrets in namespace shop", "create
    leases.coordination.k8s.io in namespace shop", "get namespaces cluster-wide"."""
    url = urlsplit(path)
    resource = _resource_of(url.path)
    if resource is None:
        return "%s %s" % (method, url.path)
    group, namespace, plural, name = resource
    if "watch=true" in url.query:
        verb = "watch"
    elif method in ("GET", "HEAD"):
        verb = "get" if name else "list"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = VERBS.get(method, method.lower())
    where = "in namespace %s" % namespace if namespace else "cluster-wide"
    return "%s %s%s %s" % (verb, plural, "." + group if group else "", where)


def _resource_of(path: str) -> Optional[Tuple[str, Optional[str], str, Optional[str]]]:
    """(group, namespace, resource with its subresource, name) of an API path, or None."""
    parts = [unquote(part) for part in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or not rest[0]:
        return None
    plural = rest[0] + ("/" + rest[2] if len(rest) > 2 else "")
    return group, namespace, plural, rest[1] if len(rest) > 1 else None


def unreachable(error: Exception, method: str, path: str, server_description: str) -> KubeError:
    """The KubeError (cluster_unreachable) of a request that got no answer: refused, name not
    resolved, TLS failed (a certificate that could not be verified above all), timed out, cut."""
    detail = "%s: %s" % (type(error).__name__, _one_line(str(error))[:MESSAGE_LIMIT])
    request = "%s %s" % (method, path)
    if isinstance(error, ssl.SSLCertVerificationError):
        text = ("The TLS certificate of the Kubernetes API server %s could not be verified (%s, %s: certificate verify "
                "failed); set ca_cert (or the kubeconfig cluster's certificate-authority) to the CA that signed it, or "
                "validate_certs=false to skip the check" % (server_description, request, detail))
    elif isinstance(error, (socket.timeout, TimeoutError)):
        text = ("The Kubernetes API server %s did not answer in time (%s, %s); check that it is up and reachable from "
                "here" % (server_description, request, detail))
    elif isinstance(error, ssl.SSLError):
        text = ("The TLS connection to the Kubernetes API server %s failed (%s, %s); check ca_cert, validate_certs, the "
                "kubeconfig user's client certificate, and that the server speaks HTTPS" % (
                    server_description, request, detail))
    elif isinstance(error, socket.gaierror):
        text = ("The host name of the Kubernetes API server %s could not be resolved (%s, %s); check host or the "
                "kubeconfig cluster's server, and DNS" % (server_description, request, detail))
    elif isinstance(error, ConnectionRefusedError):
        text = ("The Kubernetes API server %s refused the connection (%s, %s); check host or the kubeconfig cluster's "
                "server, and that the API server is running" % (server_description, request, detail))
    elif "Tunnel connection failed" in str(error):
        text = ("The proxy to the Kubernetes API server %s refused to connect to it (%s, %s); check the kubeconfig "
                "cluster's proxy-url and its credentials" % (server_description, request, detail))
    else:
        text = ("The Kubernetes API server %s could not be reached (%s, %s); check host or the kubeconfig cluster's "
                "server, the network and any proxy" % (server_description, request, detail))
    return KubeError(CLUSTER_UNREACHABLE, text)

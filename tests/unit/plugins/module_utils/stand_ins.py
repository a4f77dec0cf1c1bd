# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-ins for connection.Connection and its ApiAccess over plain HTTP, for the tests of what reads
through the API client (the release store, the live objects)."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from typing import Any, Dict, List, NamedTuple
from urllib.parse import parse_qs, urlsplit

from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError


class StandInAccess(object):
    """What connection.ApiAccess gives the client: plain HTTP, no credentials."""

    def __init__(self, server):
        self.server = server
        self.tls_server_name = None
        self.proxy_url = None

    def ssl_context(self):
        return None

    def headers(self):
        return []

    def invalidate(self):
        return False

    def describe(self):
        return "%s (stand-in)" % self.server


class StandInConnection(object):
    """connection.Connection as the store uses it: api_problem, and api_access(), which refuses as the
    real one does when there is an api_problem (or ``broken``, a kubeconfig that cannot work at all)."""

    def __init__(self, server, api_problem=None, broken=None):
        self.server = server
        self.api_problem = api_problem
        self.broken = broken
        self.accesses = 0

    def api_access(self):
        self.accesses += 1
        if self.broken is not None:
            raise self.broken
        if self.api_problem:
            raise KubeError("unsupported_kubeconfig", self.api_problem)
        return StandInAccess(self.server)


NOT_FOUND_STATUS = {"kind": "Status", "code": 404, "reason": "NotFound",
                    "message": "the server could not find the requested resource"}


# --- a scripted API server ----------------------------------------------------------------------------

class Seen(NamedTuple):
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Any
    body: bytes


class Asked(NamedTuple):
    method: str
    path: str
    query: Dict[str, List[str]]


class ScriptedApi(object):
    """Answers from ``routes``: {(method, path): (status, body), a list of them served in turn, or a function
    of the request (a Seen) that returns one}, else 404; ``seen`` is every request, ``asked`` the same
    without headers and body."""

    def __init__(self):
        self.routes = {}
        self.seen = []
        self.lock = threading.Lock()
        self.url = ""

    @property
    def asked(self):
        return [Asked(seen.method, seen.path, seen.query) for seen in self.seen]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API server
    disable_nagle_algorithm = True  # headers and body are written apart: no delayed-ACK wait between them
    timeout = 5

    def _serve(self):
        api = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        with api.lock:
            seen = Seen(self.command, url.path, parse_qs(url.query), self.headers, self.rfile.read(length))
            api.seen.append(seen)
            answer = api.routes.get((self.command, url.path), (404, NOT_FOUND_STATUS))
            if isinstance(answer, list):
                answer = answer.pop(0)
            elif callable(answer):
                answer = answer(seen)
        status, payload = answer
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state):
        super(_Server, self).__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request, client_address):
        pass  # a client closing its keep-alive connection at the end of a test


@contextlib.contextmanager
def scripted_api():
    """A ScriptedApi served on 127.0.0.1 (its ``url``) for the ``with`` block."""
    state = ScriptedApi()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

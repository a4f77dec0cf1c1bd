"""Injected HTTP failures and request counters, driven through the ``/_emulator`` endpoints."""

import collections
import re
import threading
import time

from .errors import ApiError, bad_request

_REASONS = {
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
    403: "Forbidden",
    401: "Unauthorized",
    409: "Conflict",
    404: "NotFound",
    422: "Invalid",
}


class Fault:
    """Answer the next ``count`` requests matching ``path_regex`` (and ``method``) with ``status``.

    With ``seconds``, answer every matching request for that long instead (``count`` is then
    ignored): an outage "for a while", whose clock starts with the first matching request, so
    a fault can be armed before the client that should meet it has even started.  429 answers carry ``Retry-After: retry_after``, which
    client-go honours by retrying the same request up to 10 times.  422 is an admission-style
    rejection (reason ``Invalid``).  ``delay`` holds each matching request that long first;
    without ``status`` the request is then served normally (a slow API server).
    """

    def __init__(self, status=None, count=1, path_regex=".*", method=None, retry_after=1, message=None, seconds=None, delay=0):
        self.status = int(status) if status is not None else None
        self.delay = float(delay)
        if self.status is None and not self.delay:
            raise ValueError("a fault needs a status, a delay or both")
        self.remaining = int(count)
        self.path_regex = path_regex
        self.pattern = re.compile(path_regex)
        self.method = method.upper() if method else None
        self.retry_after = int(retry_after)
        self.message = message or "fault injected by kubeemu (status %s)" % self.status
        self.seconds = float(seconds) if seconds is not None else None
        self.deadline = None  # set by the first match when ``seconds`` is given

    @property
    def expired(self):
        if self.seconds is not None:
            return self.deadline is not None and time.monotonic() >= self.deadline
        return self.remaining <= 0

    def matches(self, method, path):
        return not self.expired and (self.method in (None, method)) and bool(self.pattern.search(path))

    def consume(self):
        if self.seconds is None:
            self.remaining -= 1
        elif self.deadline is None:
            self.deadline = time.monotonic() + self.seconds

    def error(self):
        """The ApiError to answer with, or None for a delay-only fault."""
        if self.status is None:
            return None
        retry_after = self.retry_after if self.status == 429 else None
        return ApiError(self.status, _REASONS.get(self.status, "InternalError"), self.message, retry_after=retry_after)

    def describe(self):
        description = {"status": self.status, "remaining": self.remaining, "path_regex": self.path_regex, "method": self.method}
        if self.delay:
            description["delay"] = self.delay
        if self.seconds is not None:
            left = self.seconds if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            description["seconds_left"] = round(left, 3)
        return description


class FaultInjector:
    """Pending faults, consumed in the order they were added."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, fault):
        with self._lock:
            self._faults.append(fault)

    def take(self, method, path):
        """Return the matching Fault, or None; consumes one use of it."""
        with self._lock:
            self._faults = [fault for fault in self._faults if not fault.expired]
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.consume()
                    if fault.expired:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self):
        with self._lock:
            self._faults = [fault for fault in self._faults if not fault.expired]
            return [fault.describe() for fault in self._faults]

    def clear(self):
        with self._lock:
            self._faults.clear()


class RequestStats:
    """Requests counted per "METHOD route", where route has namespaces and names replaced by ``*``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = collections.Counter()

    def count(self, key):
        with self._lock:
            self._counts[key] += 1

    def snapshot(self):
        with self._lock:
            return dict(sorted(self._counts.items()))

    def clear(self):
        with self._lock:
            self._counts.clear()


def admin_answer(method, path, spec, faults, stats, state=None):
    """The ``/_emulator`` endpoints shared by the emulator and the control plane's fault proxy:
    (HTTP code, JSON document) for ``method path`` with the decoded body ``spec``; ``state`` is
    what ``GET /_emulator/state`` adds to the faults. Raises ApiError for what it does not know."""
    if (method, path) == ("GET", "/_emulator/state"):
        return 200, dict(state or {}, faults=faults.pending())
    if (method, path) == ("GET", "/_emulator/stats"):
        return 200, stats.snapshot()
    if (method, path) == ("POST", "/_emulator/faults"):
        try:
            faults.add(Fault(**spec))
        except (TypeError, ValueError) as error:
            raise bad_request("invalid fault %r: %s" % (spec, error)) from error
        return 201, {"faults": faults.pending()}
    if (method, path) == ("DELETE", "/_emulator/faults"):
        faults.clear()
        return 200, {"faults": []}
    if (method, path) == ("POST", "/_emulator/reset"):
        faults.clear()
        stats.clear()
        return 200, {"faults": [], "stats": {}}
    raise ApiError(404, "NotFound", "unknown emulator endpoint %s %s" % (method, path))

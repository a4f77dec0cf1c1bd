"""Injected HTTP failures and request counters, driven through the ``/_emulator`` endpoints."""

import collections
import re
import threading

from .errors import ApiError

_REASONS = {
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
    403: "Forbidden",
    401: "Unauthorized",
    409: "Conflict",
    404: "NotFound",
}


class Fault:
    """Answer the next ``count`` requests matching ``path_regex`` (and ``method``) with ``status``."""

    def __init__(self, status, count=1, path_regex=".*", method=None, retry_after=1, message=None):
        self.status = int(status)
        self.remaining = int(count)
        self.path_regex = path_regex
        self.pattern = re.compile(path_regex)
        self.method = method.upper() if method else None
        self.retry_after = int(retry_after)
        self.message = message or "fault injected by kubeemu (status %d)" % self.status

    def matches(self, method, path):
        return self.remaining > 0 and (self.method in (None, method)) and bool(self.pattern.search(path))

    def error(self):
        retry_after = self.retry_after if self.status == 429 else None
        return ApiError(self.status, _REASONS.get(self.status, "InternalError"), self.message, retry_after=retry_after)

    def describe(self):
        return {"status": self.status, "remaining": self.remaining, "path_regex": self.path_regex, "method": self.method}


class FaultInjector:
    """Pending faults, consumed in the order they were added."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, fault):
        with self._lock:
            self._faults.append(fault)

    def take(self, method, path):
        """Return the ApiError to answer with, or None; consumes one use of the matching fault."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.error()
        return None

    def pending(self):
        with self._lock:
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

"""The object store: every object of every kind, one global resourceVersion, and a change log
for watches.

One re-entrant lock guards everything, so a write and the controller reactions it triggers
happen atomically and receive consecutive resourceVersions; a condition on the same lock wakes
the watches.  Objects are plain JSON-shaped dicts and only copies ever leave the store.
"""

import base64
import bisect
import copy
import datetime
import itertools
import threading
import time
import uuid

from . import errors
from .discovery import BY_PATH, api_version_of
from .patch import PatchError, json_merge_patch, json_patch, server_side_apply, strategic_merge_patch

NAMESPACES = BY_PATH[("", "v1", "namespaces")]

PATCH_TYPES = {
    "application/json-patch+json": json_patch,
    "application/merge-patch+json": json_merge_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
}
APPLY_PATCH_TYPE = "application/apply-patch+yaml"

# Enough history for any test; a watch older than this gets 410 Gone, as on a real server.
EVENT_LOG_LIMIT = 20000


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_owned_by(obj, uid):
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


class WatchEvent:
    """One entry of the change log."""

    __slots__ = ("resource_version", "type", "resource", "obj")

    def __init__(self, resource_version, event_type, resource, obj):
        self.resource_version = resource_version
        self.type = event_type
        self.resource = resource
        self.obj = obj


class Store:
    """Objects keyed by resource type, then (namespace, name); namespace is "" when cluster-scoped.

    ``cluster`` is the controller simulation (see controller.py): it admits each user write
    and reacts to it, as admission plugins and controllers do on a real cluster.
    """

    def __init__(self, cluster=None):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.cluster = cluster
        self.closed = False
        self._objects = {}
        self._resource_version = 0
        self._events = []
        self._event_versions = []
        self._oldest_watchable = 0
        self._applied = {}
        self._name_suffixes = itertools.count(1)

    # --- reading --------------------------------------------------------------------------

    @property
    def resource_version(self):
        with self.lock:
            return self._resource_version

    def get(self, resource, namespace, name):
        with self.lock:
            return copy.deepcopy(self._require(resource, namespace, name))

    def list(self, resource, namespace=None, matches=None):
        """Return (items, list resourceVersion); ``namespace`` None means all namespaces."""
        with self.lock:
            return [copy.deepcopy(obj) for obj in self._select(resource, namespace, matches)], str(self._resource_version)

    def namespace_exists(self, name):
        with self.lock:
            return ("", name) in self._bucket(NAMESPACES)

    def counts(self):
        """Number of objects per resource (``plural`` or ``plural.group``), for diagnostics."""
        with self.lock:
            return {("%s.%s" % (r.plural, r.group) if r.group else r.plural): len(b) for r, b in self._objects.items() if b}

    # --- writing --------------------------------------------------------------------------

    def create(self, resource, namespace, obj, dry_run=False):
        with self.lock:
            obj = self._prepare_new(resource, namespace, obj)
            if self.cluster:
                self.cluster.admit(self, resource, obj, None)
            if dry_run:
                return obj
            self._commit(resource, obj, "ADDED")
            self._react(resource, obj)
            return self.get(resource, namespace, obj["metadata"]["name"])

    def update(self, resource, namespace, name, obj, subresource=None, dry_run=False):
        with self.lock:
            live = self._require(resource, namespace, name)
            sent_version = (obj.get("metadata") or {}).get("resourceVersion")
            if sent_version and sent_version != live["metadata"]["resourceVersion"]:
                raise errors.conflict(resource, name)
            if subresource == "status":
                updated = copy.deepcopy(live)
                updated["status"] = copy.deepcopy(obj.get("status") or {})
            else:
                updated = self._prepare_update(resource, live, obj)
            return self._finish_update(resource, live, updated, dry_run)

    def patch(self, resource, namespace, name, content_type, body, field_manager=None, dry_run=False):
        """Return (object, created); only server-side apply can create."""
        with self.lock:
            if content_type == APPLY_PATCH_TYPE:
                return self._apply(resource, namespace, name, body, field_manager, dry_run)
            live = self._require(resource, namespace, name)
            try:
                patched = PATCH_TYPES[content_type](live, body)
            except (PatchError, KeyError, TypeError, AttributeError) as error:
                raise errors.ApiError(422, "Invalid", "the patch cannot be applied: %s" % error) from error
            updated = self._prepare_update(resource, live, patched)
            return self._finish_update(resource, live, updated, dry_run), False

    def delete(self, resource, namespace, name, propagation=None, preconditions=None, dry_run=False):
        with self.lock:
            live = self._require(resource, namespace, name)
            preconditions = preconditions or {}
            for field in ("uid", "resourceVersion"):
                if preconditions.get(field) and preconditions[field] != live["metadata"].get(field):
                    raise errors.conflict(resource, name)
            if dry_run:
                return copy.deepcopy(live)
            self._remove(resource, live, propagation or "Background")
            return copy.deepcopy(live)

    def delete_collection(self, resource, namespace, matches, propagation=None):
        with self.lock:
            doomed = list(self._select(resource, namespace, matches))
            for obj in doomed:
                self._remove(resource, obj, propagation or "Background")
            return [copy.deepcopy(obj) for obj in doomed]

    def close(self):
        """End every watch; the store stays readable."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def reopen(self):
        """Accept watches again after ``close`` (an API server restart over the same data)."""
        with self.changed:
            self.closed = False

    # --- watching -------------------------------------------------------------------------

    def watch(self, resource, namespace, matches, resource_version, send_initial_events, deadline, client_gone):
        """Return an iterator of (type, object) pairs ending at ``deadline``, when the store closes
        or when ``client_gone()``; a bad ``resource_version`` raises at once, before any event.

        ``send_initial_events`` starts with ADDED events for what exists and a ("INITIAL_END",
        resourceVersion) marker, which the server turns into the watch-list bookmark.  Without it
        the watch starts after ``resource_version``, or at "now" with synthetic ADDED events when
        that is "" or "0", as the real API does.
        """
        with self.lock:
            if send_initial_events or resource_version in (None, "", "0"):
                initial = [copy.deepcopy(obj) for obj in self._select(resource, namespace, matches)]
                cursor = self._resource_version
            else:
                initial = []
                try:
                    cursor = int(resource_version)
                except ValueError as error:
                    raise errors.bad_request("invalid resourceVersion %r" % resource_version) from error
                if cursor < self._oldest_watchable:
                    raise errors.ApiError(410, "Expired", "too old resource version: %d (%d)" % (cursor, self._oldest_watchable))
        return self._follow(resource, namespace, matches, initial, cursor, send_initial_events, deadline, client_gone)

    def _follow(self, resource, namespace, matches, initial, cursor, send_initial_events, deadline, client_gone):
        for obj in initial:
            yield "ADDED", obj
        if send_initial_events:
            yield "INITIAL_END", str(cursor)
        while True:
            with self.changed:
                while not self.closed and self._resource_version <= cursor and time.monotonic() < deadline and not client_gone():
                    # Wake at least once a second to notice clients that went away.
                    self.changed.wait(min(1.0, max(0.0, deadline - time.monotonic())))
                if self.closed or time.monotonic() >= deadline or client_gone():
                    return
                start = bisect.bisect_right(self._event_versions, cursor)
                batch = [
                    (event.type, copy.deepcopy(event.obj))
                    for event in self._events[start:]
                    if event.resource == resource
                    and (namespace is None or event.obj["metadata"].get("namespace", "") == namespace)
                    and (matches is None or matches(event.obj))
                ]
                cursor = self._resource_version
            yield from batch

    # --- used by the controller simulation ------------------------------------------------

    def find(self, resource, namespace=None, matches=None):
        """Live objects (not copies): callers hold ``lock`` and treat them as read-only."""
        return list(self._select(resource, namespace, matches))

    def owned_by(self, resource, namespace, owner_uid):
        return self.find(resource, namespace, lambda obj: _is_owned_by(obj, owner_uid))

    def put(self, resource, obj):
        """Create or replace ``obj`` as a controller does: no admission, no reaction, new version."""
        with self.lock:
            obj = copy.deepcopy(obj)
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            existing = self._bucket(resource).get(key)
            if existing is None:
                obj = self._prepare_new(resource, key[0], obj, keep_status=True)
            elif existing == obj:
                return existing
            self._commit(resource, obj, "MODIFIED" if existing is not None else "ADDED")
            return obj

    def remove(self, resource, obj):
        with self.lock:
            self._remove(resource, obj, "Background")

    def unique_suffix(self):
        return "%05x" % next(self._name_suffixes)

    # --- internals ------------------------------------------------------------------------

    def _bucket(self, resource):
        return self._objects.setdefault(resource, {})

    def _require(self, resource, namespace, name):
        obj = self._bucket(resource).get((namespace or "", name))
        if obj is None:
            raise errors.not_found(resource, name)
        return obj

    def _select(self, resource, namespace, matches):
        entries = self._bucket(resource).items()
        if namespace is not None:
            # one namespace's objects sorted, not every namespace's: a fleet of 10,000 records made each
            # namespaced LIST sort them all under the store's lock (a real API server indexes by namespace)
            entries = [(key, obj) for key, obj in entries if key[0] == namespace]
        for _key, obj in sorted(entries, key=lambda entry: entry[0]):
            if matches is None or matches(obj):
                yield obj

    def _prepare_new(self, resource, namespace, obj, keep_status=False):
        obj = copy.deepcopy(obj)
        metadata = obj.setdefault("metadata", {})
        if resource.namespaced:
            if metadata.get("namespace") not in (None, "", namespace):
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            if not self.namespace_exists(namespace):
                raise errors.namespace_not_found(namespace)
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name"):
            if not metadata.get("generateName"):
                raise errors.invalid(resource.kind, "", "metadata.name", "Required value: name or generateName is required")
            metadata["name"] = metadata["generateName"] + self.unique_suffix()
        if (metadata.get("namespace", ""), metadata["name"]) in self._bucket(resource):
            raise errors.already_exists(resource, metadata["name"])
        obj["apiVersion"] = api_version_of(resource)
        obj["kind"] = resource.kind
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = now_rfc3339()
        metadata.pop("resourceVersion", None)
        if "spec" in obj:
            metadata["generation"] = 1
        if not keep_status:
            obj.pop("status", None)
        _fold_string_data(obj)
        return obj

    def _prepare_update(self, resource, live, obj):
        """The new object of a PUT or PATCH: system fields and status stay the server's."""
        updated = copy.deepcopy(obj)
        metadata = updated.setdefault("metadata", {})
        for field in ("uid", "creationTimestamp", "namespace", "name", "resourceVersion", "generation"):
            if field in live["metadata"]:
                metadata[field] = live["metadata"][field]
        updated["apiVersion"] = api_version_of(resource)
        updated["kind"] = resource.kind
        if "status" in live:
            updated["status"] = copy.deepcopy(live["status"])
        else:
            updated.pop("status", None)
        if updated.get("spec") != live.get("spec") and "generation" in metadata:
            metadata["generation"] = live["metadata"]["generation"] + 1
        _fold_string_data(updated)
        return updated

    def _finish_update(self, resource, live, updated, dry_run):
        if self.cluster:
            self.cluster.admit(self, resource, updated, live)
        if dry_run or updated == live:
            return copy.deepcopy(updated)
        self._commit(resource, updated, "MODIFIED")
        self._react(resource, updated)
        return self.get(resource, updated["metadata"].get("namespace", ""), updated["metadata"]["name"])

    def _apply(self, resource, namespace, name, applied, field_manager, dry_run):
        if not field_manager:
            raise errors.bad_request("PATCH requests with apply-patch content must set the fieldManager query parameter")
        if not isinstance(applied, dict) or (applied.get("metadata") or {}).get("name", name) != name:
            raise errors.bad_request("the name of the applied object does not match the name in the URL")
        live = self._bucket(resource).get((namespace or "", name))
        if live is None:
            created = self.create(resource, namespace, applied, dry_run)
            if not dry_run:
                self._applied[created["metadata"]["uid"]] = {field_manager: copy.deepcopy(applied)}
            return created, True
        previous = self._applied.get(live["metadata"]["uid"], {}).get(field_manager)
        merged = server_side_apply(live, applied, previous)
        updated = self._prepare_update(resource, live, merged)
        result = self._finish_update(resource, live, updated, dry_run)
        if not dry_run:
            self._applied.setdefault(live["metadata"]["uid"], {})[field_manager] = copy.deepcopy(applied)
        return result, False

    def _react(self, resource, obj):
        if self.cluster:
            self.cluster.reconcile(self, resource, obj)

    def _commit(self, resource, obj, event_type):
        self._resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self._resource_version)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if event_type == "DELETED":
            self._bucket(resource).pop(key, None)
            self._applied.pop(obj["metadata"]["uid"], None)
        else:
            self._bucket(resource)[key] = obj
        self._events.append(WatchEvent(self._resource_version, event_type, resource, copy.deepcopy(obj)))
        self._event_versions.append(self._resource_version)
        if len(self._events) > EVENT_LOG_LIMIT:
            drop = EVENT_LOG_LIMIT // 2
            self._oldest_watchable = self._event_versions[drop]
            del self._events[:drop], self._event_versions[:drop]
        self.changed.notify_all()

    def _remove(self, resource, obj, propagation):
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        obj = self._bucket(resource).get(key)
        if obj is None:
            return  # already gone through another owner's cascade
        uid = obj["metadata"]["uid"]
        if resource is NAMESPACES:
            # Namespace deletion empties the namespace; the real API does this in the background.
            for other in list(self._objects):
                if other.namespaced:
                    for item in list(self._select(other, obj["metadata"]["name"], None)):
                        self._remove(other, item, "Background")
        for other in list(self._objects):
            for dependent in [item for item in self._bucket(other).values() if _is_owned_by(item, uid)]:
                if propagation == "Orphan":
                    orphan = copy.deepcopy(dependent)
                    orphan["metadata"]["ownerReferences"] = [r for r in orphan["metadata"]["ownerReferences"] if r.get("uid") != uid]
                    self._commit(other, orphan, "MODIFIED")
                else:
                    self._remove(other, dependent, propagation)
        self._commit(resource, copy.deepcopy(obj), "DELETED")


def _fold_string_data(obj):
    """Secrets: stringData is write-only and lands base64-encoded in data."""
    if obj.get("kind") == "Secret" and obj.get("stringData"):
        data = obj.setdefault("data", {}) or {}
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(value.encode("utf-8")).decode("ascii")
        obj["data"] = data
    elif obj.get("kind") == "Secret":
        obj.pop("stringData", None)

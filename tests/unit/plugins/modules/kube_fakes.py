# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Kubernetes API in memory for the module tests, behind the seams the modules use.

The modules read through the real module_utils/release_store.py ReleaseStore and module_utils/live_objects.py
LiveObjects; only the HTTP client under them (kube_client.KubeClient, which the store makes from
``connection.api_access()``) is replaced by FakeKubeClient, answering from a FakeApi. The store and the live
objects are tested against a scripted HTTP server in tests/unit/plugins/module_utils (test_release_store.py,
test_live_objects.py), the connection in test_connection.py.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import threading

from ansible_collections.matih.helm.plugins.module_utils import release_store
from ansible_collections.matih.helm.plugins.module_utils.connection import Connection
from ansible_collections.matih.helm.plugins.module_utils.drift import desired_object
from ansible_collections.matih.helm.plugins.module_utils.errors import NOT_FOUND, UNSUPPORTED_KUBECONFIG, KubeError
from ansible_collections.matih.helm.plugins.module_utils.kube_client import MetadataList
from ansible_collections.matih.helm.plugins.module_utils.kube_types import KNOWN_RESOURCES, ObjectRef, resource_collection_path

# The built-in kinds the tests' manifests use: kind -> (apiVersion, Resource)
KINDS = dict((kind, (api_version, resource)) for (api_version, kind), resource in KNOWN_RESOURCES.items())


def release_secret(release):
    """A decoded release record as Helm's Secrets driver stores it and the API returns it: labelled
    owner=helm,name,status,version; data.release is Helm's base64 of the gzipped JSON, base64-encoded again."""
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return {"apiVersion": "v1", "kind": "Secret", "type": release_store.RELEASE_SECRET_TYPE,
            "metadata": {"name": "sh.helm.release.v1.%s.v%s" % (release["name"], release["version"]),
                         "namespace": release["namespace"],
                         "labels": {"owner": "helm", "name": release["name"], "version": str(release["version"]),
                                    "status": str((release.get("info") or {}).get("status") or "")}},
            "data": {"release": base64.b64encode(helm_encoded).decode()}}


def object_path(kind, name, namespace=""):
    """The API path of a live object of a built-in kind."""
    api_version, resource = KINDS[kind]
    return resource_collection_path(api_version, resource, namespace) + "/" + name


def applied(live, body):
    """What a server-side apply of ``body`` makes of ``live``, as far as these tests need it: the body, as the
    server stores it (a Secret's stringData in data), merged into the live object (maps key by key, anything
    else replaced)."""
    metadata = body["metadata"]
    ref = ObjectRef(body["apiVersion"], body["kind"], metadata.get("namespace"), metadata["name"])
    result = copy.deepcopy(live)
    _merge(result, desired_object(body, ref))
    return result


def _merge(into, patch):
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _matches(item, label_selector, field_selector):
    labels = (item.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (label_selector or "").split(",")):
        key, _equals, value = term.partition("=")
        if labels.get(key) != value:
            return False
    for term in filter(None, (field_selector or "").split(",")):
        if term.startswith("type!="):
            if item.get("type") == term[len("type!="):]:
                return False
        else:
            raise NotImplementedError("field selector %r" % term)
    return True


class FakeApi(object):
    """What the API server holds and what it was asked.

    ``releases``: decoded release records (one Secret each, as release_secret makes it); ``live``: live objects
    by (kind, name), each in its metadata.namespace; ``errors``: {path: KubeError} raised by every request to
    that path; ``broken``: a KubeError the connection's api_access() raises (a connection that cannot work);
    ``apply(live, body)``: the server-side apply dry run. ``calls`` are the requests, ("list", path,
    label_selector), ("list_metadata", path, label_selector), ("get", path) or ("apply", path); ``connections``
    are (release name, kubeconfig path) of each Connection.from_module (connection_class)."""

    def __init__(self):
        self.releases = []
        self.live = {}
        self.errors = {}
        self.broken = None
        self.apply = applied
        self.calls = []
        self.connections = []
        self.lock = threading.Lock()

    def connection_class(self):
        """connection.Connection whose from_module is the real one (the kubeconfig option checked, an inline one
        written to a private file, its secrets masked), connected to this API: what Connection.from_module
        returns in a module's namespace."""
        api = self

        class FakeConnection(Connection):
            @classmethod
            def from_module(cls, module, environ=None):
                connection = super(FakeConnection, cls).from_module(module, environ)
                api.connections.append((module.params["name"], connection.kubeconfig_path))
                return connection

            @property
            def api_problem(self):
                return None

            def api_access(self):
                return StandInConnection(api).api_access()

        return FakeConnection

    # --- what FakeKubeClient asks -----------------------------------------------------------------------

    def request(self, call):
        with self.lock:
            self.calls.append(call)
        error = self.errors.get(call[1])
        if error is not None:
            raise error

    def items(self, path):
        """The objects of the collection at ``path``: release records for a Secrets collection (of every
        namespace for /api/v1/secrets), and the live objects directly under it."""
        found = []
        if path == release_store.secrets_path(None):
            found += [release_secret(release) for release in self.releases]
        else:
            found += [release_secret(release) for release in self.releases
                      if release_store.secrets_path(release["namespace"]) == path]
        for (kind, name), obj in self.live.items():
            if object_path(kind, name, obj["metadata"].get("namespace") or "").rsplit("/", 1)[0] == path:
                found.append(obj)
        return copy.deepcopy(found)

    def find(self, path):
        for release in self.releases:
            secret = release_secret(release)
            if release_store.secrets_path(release["namespace"]) + "/" + secret["metadata"]["name"] == path:
                return secret
        for (kind, name), obj in self.live.items():
            if object_path(kind, name, obj["metadata"].get("namespace") or "") == path:
                return obj
        raise KubeError(NOT_FOUND, "%s not found" % path, status=404, reason="NotFound")


class StandInAccess(object):
    """What connection.ApiAccess gives the client; here, the FakeApi behind it."""

    def __init__(self, api):
        self.api = api
        self.server = "https://fake-api.example:6443"
        self.proxy_url = None

    def describe(self):
        return "%s (fake)" % self.server


class StandInConnection(object):
    """connection.Connection as a HelmClient's ``connection`` and the ReleaseStore use it. ``api_problem``: a
    feature our API client lacks (then the store reads through Helm, and api_access() refuses as the real one
    does), None to read the records from ``api``."""

    kubeconfig_path = None

    def __init__(self, api=None, api_problem=None):
        self.api = api
        self.api_problem = api_problem

    def api_access(self):
        if self.api_problem:
            raise KubeError(UNSUPPORTED_KUBECONFIG, self.api_problem)
        if self.api is None:
            raise AssertionError("no API behind this connection: give it an api_problem or a FakeApi")
        if self.api.broken is not None:
            raise self.api.broken
        return StandInAccess(self.api)

    def helm_flags(self):
        return []

    def helm_environ(self):
        return {}


class FakeKubeClient(object):
    """kube_client.KubeClient's reads and dry run, answered by the FakeApi behind ``access``; counts its
    requests as the real one does (LiveObjects.requests, the modules' api_requests)."""

    def __init__(self, access, *args, **kwargs):
        self.access = access
        self.api = access.api
        self.requests = 0
        self._lock = threading.Lock()

    def _request(self, call):
        with self._lock:
            self.requests += 1
        self.api.request(call)

    def list_pages(self, path, label_selector=None, field_selector=None, limit=500, accept=None):
        self._request(("list", path, label_selector))
        yield [item for item in self.api.items(path) if _matches(item, label_selector, field_selector)], {}

    def list(self, path, label_selector=None, field_selector=None, limit=500):
        for items, _metadata in self.list_pages(path, label_selector, field_selector, limit):
            yield from items

    def list_metadata(self, path, label_selector=None, field_selector=None, limit=500):
        """The items with their metadata only, as a PartialObjectMetadataList gives them."""
        self._request(("list_metadata", path, label_selector))
        items = [{"metadata": item["metadata"]} for item in self.api.items(path)
                 if _matches(item, label_selector, field_selector)]
        return MetadataList(items, "1")

    def get(self, path, query=None):
        self._request(("get", path))
        return copy.deepcopy(self.api.find(path))

    def apply_dry_run(self, path, body, field_manager, force=True, field_validation="Ignore"):
        self._request(("apply", path))
        return self.api.apply(self.api.find(path), body)

    def close(self):
        pass


def use_fake_client(monkeypatch):
    """The KubeClient the release store makes is a FakeKubeClient (for the rest of the test)."""
    monkeypatch.setattr(release_store, "KubeClient", FakeKubeClient)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The live objects of a release, read from the Kubernetes API: the ``api`` drift.py's checks drive.

Reads go through the one API client (kube_client.py) and the release records through the one
release store (release_store.py). Kinds are resolved without the discovery cache other clients keep
(several requests a run): known for the common built-in kinds, else one request per group version.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Sequence

from ansible_collections.matih.helm.plugins.module_utils.errors import API_ERROR, NOT_FOUND, KubeError
from ansible_collections.matih.helm.plugins.module_utils.helm_client import run_concurrently
from ansible_collections.matih.helm.plugins.module_utils.kube_types import (
    FIELD_MANAGER, KNOWN_RESOURCES, ObjectRef, Read, Resource, group_of, resource_collection_path, resource_object_path,
    right_words,
)
from ansible_collections.matih.helm.plugins.module_utils.release_store import RELEASE_SECRET_TYPE

ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
RULES_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
# Masking shorter Secret values would blank out words and numbers all over the output.
MIN_MASKED_LENGTH = 6


def secret_masker(module) -> Callable[[List[str]], None]:
    """The ``on_secret_values`` of drift's checks: the Secret values they read become the module's
    no_log values, masked in all its output."""
    def mask(values):
        module.no_log_values.update(value for value in values if len(value) >= MIN_MASKED_LENGTH)
    return mask


class LiveObjects(object):
    """What drift.check_release_drift and check_records_drift need, over one KubeClient and one ReleaseStore."""

    run_concurrently = staticmethod(run_concurrently)

    def __init__(self, store):
        self.store = store
        self.client = store.client
        self._discovery_lock = threading.Lock()
        self._group_versions = {}

    @property
    def requests(self) -> int:
        """How many API requests the task sent so far (the release records' included)."""
        return self.client.requests

    def release_records(self, name: str, namespace: str) -> List[Dict[str, Any]]:
        return self.store.records(name, namespace)

    def deployed_records(self, namespaces: Sequence[str]) -> List[Dict[str, Any]]:
        return self.store.deployed_records(namespaces)

    def resource(self, api_version: str, kind: str) -> Optional[Resource]:
        """How the API serves ``kind``; None when the server does not serve it."""
        known = KNOWN_RESOURCES.get((api_version, kind))
        if known is not None:
            return known
        with self._discovery_lock:
            if api_version not in self._group_versions:
                self._group_versions[api_version] = self._discover(api_version)
            return self._group_versions[api_version].get(kind)

    def _discover(self, api_version: str) -> Dict[str, Resource]:
        path = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        try:
            listing = self.client.get(path)
        except KubeError as error:
            if error.kind != NOT_FOUND:
                raise
            listing = {}
        return {str(entry.get("kind")): Resource(str(entry["name"]), bool(entry.get("namespaced")))
                for entry in (listing or {}).get("resources") or [] if "/" not in str(entry.get("name", "/"))}

    def read(self, resource: Resource, read: Read) -> Dict[str, Dict[str, Any]]:
        """{name: live object} for one Read: a GET for one object (missing when not found), else a LIST of the
        kind in the namespace (paged), matched by name."""
        if len(read.names) == 1:
            path = resource_object_path(read.api_version, resource, read.namespace, read.names[0])
            try:
                return {read.names[0]: self.client.get(path)}
            except KubeError as error:
                if error.kind == NOT_FOUND:
                    return {}
                raise
        field_selector = None
        if read.kind == "Secret" and group_of(read.api_version) == "":
            # Helm's release records are Secrets too, and the biggest ones there
            field_selector = "type!=%s" % RELEASE_SECRET_TYPE
        wanted, found = set(read.names), {}
        base = resource_collection_path(read.api_version, resource, read.namespace)
        for items, _metadata in self.client.list_pages(base, field_selector=field_selector):
            found.update((item["metadata"]["name"], item) for item in items
                         if (item.get("metadata") or {}).get("name") in wanted)
            if len(found) == len(wanted):
                break
        return found

    def allowed(self, verb: str, group: str, resource: str, namespace: Optional[str], name: str = "") -> bool:
        """Whether the credentials may ``verb`` ``resource`` (a plural) of ``group`` in ``namespace`` (None:
        cluster-wide), the object ``name`` when given (a Role's ``resourceNames`` then count), as the API server's
        authorizer answers a SelfSubjectAccessReview (which every authenticated identity may create; nothing is
        stored). KubeError when it could not be asked, and (API_ERROR, retried later) when the authorizer could not
        decide: ``allowed: false`` with an ``evaluationError`` and no ``denied`` is no denial. It is no verdict either:
        a webhook authorizer that failed passes, but Kubernetes RBAC says so for good while a binding of the identity
        names a Role or ClusterRole that does not exist (``role.rbac.authorization.k8s.io "x" not found``), so the
        message names the evaluationError and says where to look."""
        attributes = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        review = self.client.create(ACCESS_REVIEWS, {"apiVersion": "authorization.k8s.io/v1",
                                                     "kind": "SelfSubjectAccessReview",
                                                     "spec": {"resourceAttributes": attributes}})
        answer = (review or {}).get("status") or {}
        if answer.get("allowed"):
            return True
        if answer.get("evaluationError") and not answer.get("denied"):
            what = right_words(verb, group, resource, namespace, name)
            reason = " ".join(str(answer["evaluationError"]).split())[:300]
            raise KubeError(API_ERROR, "The Kubernetes API server's authorizer could not decide whether the "
                                       "credentials may %s (%s): likely a configuration problem, check the identity's "
                                       "RoleBindings and ClusterRoleBindings (one that names a missing Role or "
                                       "ClusterRole gives this) or its authorization webhook; no denial: a later run asks again" % (
                                           what, reason),
                            server_message=reason)
        return False

    def rules(self, namespace: str) -> Optional[List[Dict[str, Any]]]:
        """The resource rules the credentials hold in ``namespace`` (theirs there and cluster-wide), as the API server
        lists them in a SelfSubjectRulesReview (which every authenticated identity may create; nothing is stored):
        each a dict of ``verbs``, ``apiGroups``, ``resources`` and ``resourceNames``. None when the list is not to be
        trusted: ``incomplete`` (an authorizer that cannot list its rules, such as a webhook, may allow or deny more)
        or an ``evaluationError`` (a binding the authorizer could not resolve). Only evidence that a right is held
        (preflight.rules_grant); a right it does not show is asked with a SelfSubjectAccessReview. KubeError when it
        could not be asked."""
        review = self.client.create(RULES_REVIEWS, {"apiVersion": "authorization.k8s.io/v1",
                                                    "kind": "SelfSubjectRulesReview",
                                                    "spec": {"namespace": namespace}})
        answer = (review or {}).get("status") or {}
        rules = answer.get("resourceRules")
        if answer.get("incomplete") is not False or answer.get("evaluationError") or not isinstance(rules, list):
            return None
        return [rule for rule in rules if isinstance(rule, dict)]

    def dry_run(self, resource: Resource, ref: ObjectRef, body: Dict[str, Any]) -> Dict[str, Any]:
        """The object a server-side apply of ``body`` would make (nothing is stored), forced, with a field
        manager of our own. KubeError, with the server's status, when the server refuses it."""
        path = resource_object_path(ref.api_version, resource, ref.namespace, ref.name)
        return self.client.apply_dry_run(path, body, FIELD_MANAGER)

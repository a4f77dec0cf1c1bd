# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the Kubernetes API names what it serves: shared by the API layer and the pure checks that
drive it, one level below both. Pure, no I/O."""

from __future__ import annotations

from collections import namedtuple
from typing import Optional
from urllib.parse import quote

# The field manager of the dry run: its own, so the dry run takes no field from Helm's manager.
FIELD_MANAGER = "matih-helm-drift"

Resource = namedtuple("Resource", "plural namespaced")
ObjectRef = namedtuple("ObjectRef", "api_version kind namespace name")
# One read of live objects: a GET when the group holds one object, else one LIST of the kind
Read = namedtuple("Read", "api_version kind namespace names")

# Kinds of the built-in APIs a chart ships most, so that no discovery request is needed for them.
# GA API groups never change a resource's name or scope; anything else is discovered.
KNOWN_RESOURCES = {
    ("v1", "ConfigMap"): Resource("configmaps", True),
    ("v1", "Secret"): Resource("secrets", True),
    ("v1", "Service"): Resource("services", True),
    ("v1", "ServiceAccount"): Resource("serviceaccounts", True),
    ("v1", "PersistentVolumeClaim"): Resource("persistentvolumeclaims", True),
    ("v1", "Pod"): Resource("pods", True),
    ("v1", "Endpoints"): Resource("endpoints", True),
    ("v1", "LimitRange"): Resource("limitranges", True),
    ("v1", "ResourceQuota"): Resource("resourcequotas", True),
    ("v1", "Namespace"): Resource("namespaces", False),
    ("v1", "PersistentVolume"): Resource("persistentvolumes", False),
    ("apps/v1", "Deployment"): Resource("deployments", True),
    ("apps/v1", "StatefulSet"): Resource("statefulsets", True),
    ("apps/v1", "DaemonSet"): Resource("daemonsets", True),
    ("apps/v1", "ReplicaSet"): Resource("replicasets", True),
    ("batch/v1", "Job"): Resource("jobs", True),
    ("batch/v1", "CronJob"): Resource("cronjobs", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): Resource("horizontalpodautoscalers", True),
    ("policy/v1", "PodDisruptionBudget"): Resource("poddisruptionbudgets", True),
    ("networking.k8s.io/v1", "Ingress"): Resource("ingresses", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): Resource("networkpolicies", True),
    ("networking.k8s.io/v1", "IngressClass"): Resource("ingressclasses", False),
    ("rbac.authorization.k8s.io/v1", "Role"): Resource("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): Resource("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): Resource("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): Resource("clusterrolebindings", False),
    ("storage.k8s.io/v1", "StorageClass"): Resource("storageclasses", False),
    ("scheduling.k8s.io/v1", "PriorityClass"): Resource("priorityclasses", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): Resource("customresourcedefinitions", False),
}


def right_words(verb: str, group: str, resource: str, namespace: Optional[str], name: str = "") -> str:
    """An RBAC right as people read it: "list replicasets.apps in namespace shop", "get clusterroles.rbac... cluster-wide",
    and the object's name after it when there is one ("update secrets in namespace shop named sh.helm.release.v1.web.v3")."""
    return "%s %s%s %s%s" % (verb, resource, "." + group if group else "",
                             "in namespace %s" % namespace if namespace else "cluster-wide", " named " + name if name else "")


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def api_path(api_version: str) -> str:
    """/api/v1 for the core group's ``v1``, /apis/<group>/<version> for a group's."""
    parts = (api_version or "").split("/")
    if len(parts) > 2:
        raise ValueError("not an apiVersion: %r" % api_version)
    if len(parts) == 1:
        return "/api/" + _segment(parts[0], "apiVersion")
    return "/apis/%s/%s" % (_segment(parts[0], "API group"), _segment(parts[1], "API version"))


def collection_path(api_version: str, plural: str, namespace: Optional[str] = None) -> str:
    """The path of a collection: in ``namespace``, or cluster-wide (or cluster-scoped) without one."""
    path = api_path(api_version)
    if namespace:
        path += "/namespaces/" + _segment(namespace, "namespace")
    return path + "/" + _segment(plural, "resource")


def object_path(api_version: str, plural: str, namespace: Optional[str], name: str) -> str:
    """The path of one object (``namespace`` None or empty for a cluster-scoped one)."""
    return collection_path(api_version, plural, namespace) + "/" + _segment(name, "name")


def _segment(value: str, what: str) -> str:
    # an empty name would turn an object's path into its collection's: a DELETE into deletecollection
    if not value or value in (".", ".."):
        raise ValueError("not a valid %s for an API path: %r" % (what, value))
    return quote(value, safe="")


def resource_collection_path(api_version: str, resource: Resource, namespace: str = "") -> str:
    """The path of the kind's collection: in ``namespace`` when the kind is namespaced and one is given."""
    return collection_path(api_version, resource.plural, namespace if resource.namespaced else None)


def resource_object_path(api_version: str, resource: Resource, namespace: str, name: str) -> str:
    """The path of one object of the kind: in ``namespace`` when the kind is namespaced."""
    return object_path(api_version, resource.plural, namespace if resource.namespaced else None, name)


def without_userinfo(url: str) -> str:
    """A URL fit for a message: any user:password@ taken out (also from a URL too broken to parse)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    netloc, slash, path = rest.partition("/")
    return "%s://%s%s%s" % (scheme, netloc.rpartition("@")[2], slash, path)

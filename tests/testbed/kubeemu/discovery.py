"""The resource types the emulator serves, and the discovery and OpenAPI documents built from them.

client-go asks for aggregated discovery (apidiscovery.k8s.io/v2) first and falls back to the
legacy per-group lists; both are served.  Helm then needs ``/openapi/v3``: the kubectl resource
builder reads it to learn whether the server accepts the ``fieldValidation`` query parameter, and
a 404 there fails the install.  Minimal documents with a ``patch`` operation per kind are enough.
"""

import collections
import hashlib
import json

AGGREGATED_DISCOVERY_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

KUBERNETES_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0",
    "gitCommit": "kubeemu",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

ResourceType = collections.namedtuple("ResourceType", "group version plural kind namespaced short_names")


def _types(group, version, *rows):
    return [ResourceType(group, version, plural, kind, namespaced, tuple(short)) for plural, kind, namespaced, short in rows]


RESOURCE_TYPES = (
    _types(
        "", "v1",
        ("namespaces", "Namespace", False, ["ns"]),
        ("secrets", "Secret", True, []),
        ("configmaps", "ConfigMap", True, ["cm"]),
        ("services", "Service", True, ["svc"]),
        ("pods", "Pod", True, ["po"]),
        ("serviceaccounts", "ServiceAccount", True, ["sa"]),
        ("events", "Event", True, ["ev"]),
        ("endpoints", "Endpoints", True, ["ep"]),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"]),
        ("persistentvolumes", "PersistentVolume", False, ["pv"]),
        ("nodes", "Node", False, ["no"]),
    )
    + _types(
        "apps", "v1",
        ("deployments", "Deployment", True, ["deploy"]),
        ("replicasets", "ReplicaSet", True, ["rs"]),
        ("statefulsets", "StatefulSet", True, ["sts"]),
        ("daemonsets", "DaemonSet", True, ["ds"]),
        ("controllerrevisions", "ControllerRevision", True, []),
    )
    + _types("batch", "v1", ("jobs", "Job", True, []), ("cronjobs", "CronJob", True, ["cj"]))
    + _types(
        "networking.k8s.io", "v1",
        ("ingresses", "Ingress", True, ["ing"]),
        ("networkpolicies", "NetworkPolicy", True, ["netpol"]),
    )
    + _types(
        "rbac.authorization.k8s.io", "v1",
        ("roles", "Role", True, []),
        ("rolebindings", "RoleBinding", True, []),
        ("clusterroles", "ClusterRole", False, []),
        ("clusterrolebindings", "ClusterRoleBinding", False, []),
    )
    + _types("policy", "v1", ("poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"]))
    + _types("coordination.k8s.io", "v1", ("leases", "Lease", True, []))
    + _types("autoscaling", "v2", ("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"]))
    + _types("apiextensions.k8s.io", "v1", ("customresourcedefinitions", "CustomResourceDefinition", False, ["crd"]))
)

BY_PATH = {(t.group, t.version, t.plural): t for t in RESOURCE_TYPES}


def group_versions():
    """Ordered mapping group -> list of versions (the core group is "")."""
    result = collections.OrderedDict()
    for resource in RESOURCE_TYPES:
        versions = result.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return result


def api_version_of(resource):
    return "%s/%s" % (resource.group, resource.version) if resource.group else resource.version


def url_prefix(group, version):
    return "/apis/%s/%s" % (group, version) if group else "/api/%s" % version


def aggregated_discovery(core):
    """The v2 APIGroupDiscoveryList of either /api (core=True) or /apis."""
    items = []
    for group, versions in group_versions().items():
        if (group == "") != core:
            continue
        version_entries = []
        for version in versions:
            resources = [
                {
                    "resource": t.plural,
                    "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                    "scope": "Namespaced" if t.namespaced else "Cluster",
                    "singularResource": t.kind.lower(),
                    "verbs": VERBS,
                    "shortNames": list(t.short_names),
                }
                for t in RESOURCE_TYPES if (t.group, t.version) == (group, version)
            ]
            version_entries.append({"version": version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group}, "versions": version_entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def legacy_api_versions():
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def legacy_group(group):
    versions = group_versions().get(group)
    if not versions:
        return None
    entries = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def legacy_group_list():
    groups = [legacy_group(group) for group in group_versions() if group]
    for entry in groups:
        del entry["kind"], entry["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def legacy_resource_list(group, version):
    resources = [
        {
            "name": t.plural,
            "singularName": t.kind.lower(),
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": VERBS,
            "shortNames": list(t.short_names),
        }
        for t in RESOURCE_TYPES if (t.group, t.version) == (group, version)
    ]
    if not resources:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "%s/%s" % (group, version) if group else version, "resources": resources}


def _openapi_key(group, version):
    return url_prefix(group, version).lstrip("/")


def openapi_document(group, version):
    """A minimal OpenAPI v3 document for one group/version."""
    paths = {}
    field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for t in RESOURCE_TYPES:
        if (t.group, t.version) != (group, version):
            continue
        scope = "/namespaces/{namespace}" if t.namespaced else ""
        path = "%s%s/%s/{name}" % (url_prefix(group, version), scope, t.plural)
        paths[path] = {
            "patch": {
                "operationId": "patch%s" % t.kind,
                "parameters": [field_validation],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
            }
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION["gitVersion"]}, "paths": paths, "components": {"schemas": {}}}


def _document_hash(group, version):
    text = json.dumps(openapi_document(group, version), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32].upper()


def openapi_root():
    paths = {}
    for group, versions in group_versions().items():
        for version in versions:
            key = _openapi_key(group, version)
            paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, _document_hash(group, version))}
    return {"paths": paths}


def openapi_for_key(key):
    """The document for ``api/v1`` or ``apis/apps/v1``; None when unknown."""
    for group, versions in group_versions().items():
        for version in versions:
            if _openapi_key(group, version) == key:
                return openapi_document(group, version)
    return None

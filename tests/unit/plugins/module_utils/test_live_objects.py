# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""live_objects: the API drift's checks drive, over a real KubeClient talking to a scripted API server
on 127.0.0.1."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError
from ansible_collections.matih.helm.plugins.module_utils.kube_types import FIELD_MANAGER, ObjectRef, Read, Resource
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects, secret_masker
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore
from ansible_collections.matih.helm.tests.unit.plugins.module_utils.stand_ins import StandInConnection, scripted_api

SECRETS = "/api/v1/namespaces/shop/secrets"
DEPLOYMENT = "/apis/apps/v1/namespaces/shop/deployments/web"
RBAC_DENIAL = ('deployments.apps "web" is forbidden: User "system:serviceaccount:ci:deployer" cannot get resource '
               '"deployments" in API group "apps" in the namespace "shop"')


# --- stand-ins ----------------------------------------------------------------------------------------

class StandInModule(object):
    def __init__(self):
        self.no_log_values = set()


@pytest.fixture
def api():
    with scripted_api() as state:
        yield state


@pytest.fixture
def live(api):
    objects = LiveObjects(ReleaseStore(StandInConnection(api.url), environ={}))
    yield objects
    objects.client.close()


def named(name, **extra):
    return dict({"metadata": {"name": name, "namespace": "shop"}}, **extra)


def release_secret(version, name="web"):
    record = {"name": name, "namespace": "shop", "version": version, "info": {"status": "deployed"}, "manifest": ""}
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(record).encode()))
    return {"metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, version), "namespace": "shop"},
            "type": "helm.sh/release.v1", "data": {"release": base64.b64encode(helm_encoded).decode()}}


# --- kinds ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("api_version, kind, resource", [
    ("v1", "ConfigMap", Resource("configmaps", True)),
    ("v1", "Secret", Resource("secrets", True)),
    ("v1", "Namespace", Resource("namespaces", False)),
    ("apps/v1", "Deployment", Resource("deployments", True)),
    ("networking.k8s.io/v1", "IngressClass", Resource("ingressclasses", False)),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", Resource("customresourcedefinitions", False)),
])
def test_known_kinds_need_no_request(api, live, api_version, kind, resource):
    assert live.resource(api_version, kind) == resource
    assert live.requests == 0 and api.seen == []


def test_discovery_once_per_group_version(api, live):
    api.routes[("GET", "/apis/example.com/v1")] = (200, {"kind": "APIResourceList", "groupVersion": "example.com/v1",
                                                         "resources": [
                                                             {"name": "widgets", "kind": "Widget", "namespaced": True},
                                                             {"name": "widgets/status", "kind": "Widget", "namespaced": True},
                                                             {"name": "gadgets", "kind": "Gadget", "namespaced": False}]})
    api.routes[("GET", "/api/v1")] = (200, {"resources": [{"name": "bindings", "kind": "Binding", "namespaced": True}]})
    assert live.resource("example.com/v1", "Widget") == Resource("widgets", True)  # not its status subresource
    assert live.resource("example.com/v1", "Gadget") == Resource("gadgets", False)
    assert live.resource("example.com/v1", "Gizmo") is None  # the group version does not serve it
    assert live.resource("example.org/v2", "Thing") is None  # the group version is not served (404)
    assert live.resource("example.org/v2", "Other") is None
    assert live.resource("v1", "Binding") == Resource("bindings", True)  # a core kind not known in advance
    assert [(seen.method, seen.path) for seen in api.seen] == [
        ("GET", "/apis/example.com/v1"), ("GET", "/apis/example.org/v2"), ("GET", "/api/v1")]
    assert live.requests == 3


def test_discovery_from_many_threads_asks_once(api, live):
    api.routes[("GET", "/apis/example.com/v1")] = (200, {"resources": [
        {"name": "widgets", "kind": "Widget", "namespaced": True}]})
    found = live.run_concurrently(lambda kind: live.resource("example.com/v1", kind), ["Widget"] * 4 + ["Gizmo"] * 4)
    assert found == [Resource("widgets", True)] * 4 + [None] * 4
    assert len(api.seen) == 1


def test_discovery_raises_what_is_not_a_missing_group_version(api, live):
    api.routes[("GET", "/apis/example.com/v1")] = (403, {"kind": "Status", "code": 403, "reason": "Forbidden",
                                                         "message": 'forbidden: User "ci" cannot get path "/apis/example.com/v1"'})
    with pytest.raises(KubeError) as failure:
        live.resource("example.com/v1", "Widget")
    assert (failure.value.kind, failure.value.status) == ("access_denied", 403)


# --- reads ----------------------------------------------------------------------------------------------

def test_read_one_object_is_a_get_and_missing_is_empty(api, live):
    api.routes[("GET", DEPLOYMENT)] = (200, named("web", spec={"replicas": 2}))
    assert live.read(Resource("deployments", True), Read("apps/v1", "Deployment", "shop", ("web",))) == {
        "web": named("web", spec={"replicas": 2})}
    assert live.read(Resource("services", True), Read("v1", "Service", "shop", ("web",))) == {}
    assert [(seen.method, seen.path, seen.query) for seen in api.seen] == [
        ("GET", DEPLOYMENT, {}), ("GET", "/api/v1/namespaces/shop/services/web", {})]
    assert live.requests == 2


def test_read_one_object_raises_what_is_not_missing(api, live):
    api.routes[("GET", DEPLOYMENT)] = (403, {"kind": "Status", "code": 403, "reason": "Forbidden", "message": RBAC_DENIAL})
    with pytest.raises(KubeError) as failure:
        live.read(Resource("deployments", True), Read("apps/v1", "Deployment", "shop", ("web",)))
    assert (failure.value.kind, failure.value.status) == ("access_denied", 403)


@pytest.mark.parametrize("resource, read, path", [
    (Resource("gadgets", False), Read("example.com/v1", "Gadget", "", ("g",)), "/apis/example.com/v1/gadgets/g"),
    # a cluster-scoped kind in a namespaced release: no namespace in the path
    (Resource("clusterroles", False), Read("rbac.authorization.k8s.io/v1", "ClusterRole", "shop", ("g",)),
     "/apis/rbac.authorization.k8s.io/v1/clusterroles/g"),
    (Resource("configmaps", True), Read("v1", "ConfigMap", "shop", ("a:b",)), "/api/v1/namespaces/shop/configmaps/a%3Ab"),
])
def test_read_one_object_path(api, live, resource, read, path):
    api.routes[("GET", path)] = (200, named(read.names[0]))
    assert live.read(resource, read) == {read.names[0]: named(read.names[0])}
    assert [(seen.method, seen.path) for seen in api.seen] == [("GET", path)]


def test_read_several_objects_is_one_list_per_page_matched_by_name(api, live):
    api.routes[("GET", SECRETS)] = [
        (200, {"metadata": {"continue": "next"}, "items": [named("a"), named("other")]}),
        (200, {"metadata": {}, "items": [named("b")]}),
    ]
    found = live.read(Resource("secrets", True), Read("v1", "Secret", "shop", ("a", "b", "c")))
    assert found == {"a": named("a"), "b": named("b")}
    assert live.requests == 2
    first, second = api.seen[0].query, api.seen[1].query
    # Helm's release records are left out of a Secrets LIST
    assert first == {"fieldSelector": ["type!=helm.sh/release.v1"], "limit": ["500"]}
    assert second == dict(first, **{"continue": ["next"]})


def test_a_list_stops_once_every_name_is_found(api, live):
    api.routes[("GET", "/api/v1/namespaces/shop/configmaps")] = [
        (200, {"metadata": {"continue": "next"}, "items": [named("a"), named("b")]}),
        (200, {"metadata": {}, "items": [named("c")]}),
    ]
    assert sorted(live.read(Resource("configmaps", True), Read("v1", "ConfigMap", "shop", ("a", "b")))) == ["a", "b"]
    assert len(api.seen) == 1


@pytest.mark.parametrize("resource, read, path, field_selector", [
    (Resource("secrets", True), Read("v1", "Secret", "shop", ("a", "b")), SECRETS, ["type!=helm.sh/release.v1"]),
    (Resource("configmaps", True), Read("v1", "ConfigMap", "shop", ("a", "b")), "/api/v1/namespaces/shop/configmaps", None),
    # a Secret kind of another group is not where Helm keeps its records
    (Resource("secrets", True), Read("example.com/v1", "Secret", "shop", ("a", "b")),
     "/apis/example.com/v1/namespaces/shop/secrets", None),
])
def test_only_core_secrets_are_listed_without_release_records(api, live, resource, read, path, field_selector):
    api.routes[("GET", path)] = (200, {"metadata": {}, "items": [named("a")]})
    assert live.read(resource, read) == {"a": named("a")}
    assert [(seen.path, seen.query.get("fieldSelector")) for seen in api.seen] == [(path, field_selector)]


# --- dry runs -------------------------------------------------------------------------------------------

def test_dry_run_is_a_forced_server_side_apply_that_stores_nothing(api, live):
    api.routes[("PATCH", DEPLOYMENT)] = [
        (200, named("web", spec={"replicas": 1})),
        (422, {"kind": "Status", "code": 422, "reason": "Invalid", "message": "spec.selector: field is immutable"}),
    ]
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 1}}
    ref = ObjectRef("apps/v1", "Deployment", "shop", "web")
    assert live.dry_run(Resource("deployments", True), ref, body) == named("web", spec={"replicas": 1})
    sent = api.seen[0]
    assert (sent.method, sent.path) == ("PATCH", DEPLOYMENT)
    assert sent.headers["Content-Type"] == "application/apply-patch+yaml"
    assert sent.query == {"dryRun": ["All"], "fieldManager": [FIELD_MANAGER], "force": ["true"],
                          "fieldValidation": ["Ignore"]}
    assert FIELD_MANAGER == "matih-helm-drift"
    assert json.loads(sent.body) == body

    with pytest.raises(KubeError) as refused:
        live.dry_run(Resource("deployments", True), ref, body)
    # what drift reports a refused dry run with: the status, and the server's message
    assert (refused.value.status, refused.value.kind) == (422, "rejected")
    assert refused.value.server_message == "spec.selector: field is immutable"
    assert live.requests == 2


def test_dry_run_of_a_cluster_scoped_object(api, live):
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/web"
    api.routes[("PATCH", path)] = (200, {"metadata": {"name": "web"}})
    ref = ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "shop", "web")
    assert live.dry_run(Resource("clusterroles", False), ref, {"metadata": {"name": "web"}}) == {"metadata": {"name": "web"}}
    assert api.seen[0].path == path


# --- release records and requests -----------------------------------------------------------------------

def test_release_records_and_every_request_are_counted(api, live):
    api.routes[("GET", SECRETS)] = (200, {"metadata": {}, "items": [release_secret(2), release_secret(1)]})
    api.routes[("GET", "/api/v1/secrets")] = (200, {"metadata": {}, "items": [release_secret(2)]})
    api.routes[("GET", DEPLOYMENT)] = (200, named("web"))
    assert [record["version"] for record in live.release_records("web", "shop")] == [1, 2]
    assert api.seen[0].query == {"labelSelector": ["owner=helm,name=web"], "limit": ["500"]}
    assert [record["version"] for record in live.deployed_records([])] == [2]
    assert api.seen[1].query == {"labelSelector": ["owner=helm,status=deployed"], "limit": ["500"]}
    live.read(Resource("deployments", True), Read("apps/v1", "Deployment", "shop", ("web",)))
    live.resource("apps/v1", "Deployment")
    assert live.requests == 3 == len(api.seen) == live.store.client.requests
    assert live.client is live.store.client  # one client for the records and the live objects


# --- masking --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, masked", [
    ([], set()),
    (["12345"], set()),  # short values would blank out words and numbers all over the output
    (["123456"], {"123456"}),
    (["s3cr3t-password", "no", "true", "admin"], {"s3cr3t-password"}),
    (["", "abcdef", "abcdef"], {"abcdef"}),
])
def test_secret_masker(values, masked):
    module = StandInModule()
    module.no_log_values.add("already")
    secret_masker(module)(values)
    assert module.no_log_values == {"already"} | masked


# --- access reviews -------------------------------------------------------------------------------------------

ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@pytest.mark.parametrize("status, args, attributes, expected", [
    ({"allowed": True}, ("get", "apps", "deployments", "shop", "web"),
     {"verb": "get", "group": "apps", "resource": "deployments", "namespace": "shop", "name": "web"}, True),
    # no name for a verb on the collection; none for a cluster-wide right
    ({"allowed": False}, ("list", "", "pods", "shop"),
     {"verb": "list", "group": "", "resource": "pods", "namespace": "shop"}, False),
    ({"allowed": False, "reason": "no RBAC policy matched"}, ("get", "", "namespaces", None),
     {"verb": "get", "group": "", "resource": "namespaces"}, False),
    # an authorizer that said no and could not evaluate something else: still a denial
    ({"allowed": False, "denied": True, "evaluationError": "x"}, ("create", "", "secrets", "shop"),
     {"verb": "create", "group": "", "resource": "secrets", "namespace": "shop"}, False),
    # no decision (allowed false, an evaluationError, not denied): transient, never a denial
    ({"allowed": False, "evaluationError": "webhook: connection refused"}, ("create", "", "secrets", "shop"),
     {"verb": "create", "group": "", "resource": "secrets", "namespace": "shop"}, "api_error"),
    ({"allowed": False, "denied": False, "evaluationError": "role.rbac \"x\" not found"}, ("delete", "", "secrets", "shop", "s"),
     {"verb": "delete", "group": "", "resource": "secrets", "namespace": "shop", "name": "s"}, "api_error"),
    # an evaluationError beside allowed: true is no concern
    ({"allowed": True, "evaluationError": "x"}, ("list", "", "pods", "shop"),
     {"verb": "list", "group": "", "resource": "pods", "namespace": "shop"}, True),
])
def test_allowed(api, live, status, args, attributes, expected):
    api.routes[("POST", ACCESS_REVIEWS)] = (201, {"kind": "SelfSubjectAccessReview", "status": status})
    if isinstance(expected, bool):
        assert live.allowed(*args) is expected
    else:
        with pytest.raises(KubeError) as failure:
            live.allowed(*args)
        assert failure.value.kind == expected and status["evaluationError"] in failure.value.message
        assert "could not decide whether the credentials may %s %s in namespace shop%s (%s): likely a " \
               "configuration problem, check the identity's RoleBindings and ClusterRoleBindings" % (
                   args[0], args[2], " named " + args[4] if len(args) > 4 else "", status["evaluationError"]) \
            in failure.value.message
    sent = json.loads(api.seen[-1].body)
    assert sent["kind"] == "SelfSubjectAccessReview" and sent["spec"]["resourceAttributes"] == attributes

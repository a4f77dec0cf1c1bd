# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""preflight: the API server's verdict on a target, object by object, through a real LiveObjects and
KubeClient talking to a scripted API server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError
from ansible_collections.matih.helm.plugins.module_utils.kube_types import FIELD_MANAGER, Resource
from ansible_collections.matih.helm.plugins.module_utils.kube_client import THROTTLE_RETRIES
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects
from ansible_collections.matih.helm.plugins.module_utils.preflight import (
    Preflight, Right, Write, preflight, rule_grants, wait_verbs, write_rights,
)
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore
from ansible_collections.matih.helm.tests.unit.plugins.module_utils.stand_ins import StandInConnection, scripted_api

CONFIG = "/api/v1/namespaces/shop/configmaps/web-config"
SERVICE = "/api/v1/namespaces/shop/services/web"
DEPLOYMENT = "/apis/apps/v1/namespaces/shop/deployments/web"
CHART = """\
---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1"}]}
"""


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
                  "message": message}


ADMISSION = ('configmaps "web-config" is forbidden: ValidatingAdmissionPolicy \'no-reject\' with binding \'no-reject\' '
             'denied request: refused by the admission policy')
IMMUTABLE = ('Deployment.apps "web" is invalid: spec.selector: Invalid value: {"matchLabels":{"app":"web2"}}: '
             'field is immutable')
RBAC = ('deployments.apps "web" is forbidden: User "system:serviceaccount:ci:deployer" cannot patch resource '
        '"deployments" in API group "apps" in the namespace "shop"')


@pytest.fixture
def api():
    with scripted_api() as state:
        for path in (CONFIG, SERVICE, DEPLOYMENT):
            state.routes[("PATCH", path)] = (200, {})
        yield state


@pytest.fixture
def live(api):
    objects = LiveObjects(ReleaseStore(StandInConnection(api.url), environ={}))
    yield objects
    objects.client.close()


def patched(api):
    """(path, query, body) of every PATCH the server saw, in path order."""
    return sorted((seen.path, seen.query, json.loads(seen.body)) for seen in api.seen if seen.method == "PATCH")


# --- passing ---------------------------------------------------------------------------------------------

def test_a_clean_manifest_passes_with_one_dry_run_per_object(api, live):
    checked = preflight(live, CHART, "shop")
    assert checked == Preflight(objects=3, refusals=[], unchecked=[], requests=3)
    assert checked.passed and checked.summary() == "all 3 objects pass the API server's dry run"
    # the built-in kinds need no discovery; each object is a server-side apply dry run, forced, as our manager
    assert [seen.method for seen in api.seen] == ["PATCH"] * 3
    for path, query, body in patched(api):
        assert query == {"dryRun": ["All"], "fieldManager": [FIELD_MANAGER], "fieldValidation": ["Ignore"],
                         "force": ["true"]}
        assert body["metadata"]["namespace"] == "shop" and path.endswith("/" + body["metadata"]["name"])
    assert api.seen[0].headers["Content-Type"] == "application/apply-patch+yaml"


def test_the_release_adds_helms_ownership_metadata(api, live):
    preflight(live, CHART, "shop", release="web")
    for _path, _query, body in patched(api):
        assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert body["metadata"]["annotations"] == {"meta.helm.sh/release-name": "web",
                                                   "meta.helm.sh/release-namespace": "shop"}


def test_an_empty_manifest_costs_nothing(api, live):
    checked = preflight(live, "---\n# Source: web/templates/nothing.yaml\n", "shop")
    assert (checked.passed, checked.objects, checked.requests, api.seen) == (True, 0, 0, [])
    assert checked.summary() == "no object to check"


def test_discovery_is_counted_once_per_group_version(api, live):
    api.routes[("GET", "/apis/example.com/v1")] = (200, {"resources": [
        {"name": "widgets", "kind": "Widget", "namespaced": True}]})
    for name in ("a", "b"):
        api.routes[("PATCH", "/apis/example.com/v1/namespaces/shop/widgets/" + name)] = (200, {})
    manifest = CHART + "".join("---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: %s}\n" % name
                               for name in ("a", "b"))
    checked = preflight(live, manifest, "shop")
    assert (checked.passed, checked.objects, checked.requests) == (True, 5, 6)


def test_a_cluster_scoped_object_goes_without_namespace(api, live):
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/web"
    api.routes[("PATCH", path)] = (200, {})
    manifest = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: web, namespace: x}\n"
    assert preflight(live, manifest, "shop").passed
    assert patched(api)[0][0] == path and "namespace" not in patched(api)[0][2]["metadata"]


def test_yaml_dates_are_sent_as_text(api, live):
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  annotations: {released: 2026-01-02}\n"
    assert preflight(live, manifest, "shop").passed
    assert patched(api)[0][2]["metadata"]["annotations"] == {"released": "2026-01-02"}


def test_secret_values_are_given_to_mask(api, live):
    api.routes[("PATCH", "/api/v1/namespaces/shop/secrets/web")] = (200, {})
    manifest = "apiVersion: v1\nkind: Secret\nmetadata: {name: web}\ndata: {password: c2VjcmV0LXZhbHVl}\n" \
               "stringData: {token: plain-token}\n"
    masked = []
    assert preflight(live, manifest, "shop", on_secret_values=masked.extend).passed
    assert set(masked) == {"c2VjcmV0LXZhbHVl", "secret-value", "plain-token"}


# --- refusals and what is no verdict ---------------------------------------------------------------------------

@pytest.mark.parametrize("path, answer, replace, error_kind, reason", [
    # admission: a ValidatingAdmissionPolicy answers 422, a webhook 400, a quota 403
    (CONFIG, status(422, "Invalid", ADMISSION), False, "rejected", ADMISSION),
    (CONFIG, status(400, "BadRequest", 'admission webhook "policy.example.com" denied the request: no'), False,
     "rejected", 'admission webhook "policy.example.com" denied the request: no'),
    (CONFIG, status(403, "Forbidden", 'configmaps "web-config" is forbidden: exceeded quota: q, requested: count/configmaps=1'),
     False, "rejected", 'configmaps "web-config" is forbidden: exceeded quota: q, requested: count/configmaps=1'),
    # an immutable field, unless the objects are deleted before they are created again
    (DEPLOYMENT, status(422, "Invalid", IMMUTABLE), False, "rejected", IMMUTABLE),
    (DEPLOYMENT, status(422, "Invalid", IMMUTABLE), True, None, None),
    (SERVICE, status(422, "Invalid", 'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.0.0.9"]: '
                     'may not change once set'), True, None, None),
    # with replace, other validation errors stay refusals
    (CONFIG, status(422, "Invalid", 'ConfigMap "web-config" is invalid: data[a b]: Invalid value: "a b"'), True,
     "rejected", 'ConfigMap "web-config" is invalid: data[a b]: Invalid value: "a b"'),
    # a body the schema cannot type: a verdict, although answered with a 500
    (DEPLOYMENT, status(500, "InternalError", "failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): "
                        ".spec.replicas: expected numeric (int or float), got string"), False, "rejected",
     "failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric "
     "(int or float), got string"),
    (DEPLOYMENT, status(403, "Forbidden", RBAC), False, "access_denied",
     "the credentials may not patch deployments.apps in namespace shop (RBAC)"),
    # an object the apply would create: the API server authorizes create too (seen on the real control plane)
    (CONFIG, status(403, "Forbidden", 'configmaps "web-config" is forbidden: User "system:serviceaccount:ci:deployer" '
                    'cannot create resource "configmaps" in API group "" in the namespace "shop"'), False, "access_denied",
     "the credentials may not create configmaps in namespace shop (RBAC)"),
    (CONFIG, status(404, "NotFound", 'namespaces "shop" not found'), False, "not_found", "namespace shop does not exist"),
    # a kind known without discovery that this server does not serve (an old or trimmed cluster)
    (DEPLOYMENT, status(404, "NotFound", "the server could not find the requested resource"), False, "not_found",
     "apps/v1 Deployment is not served by this API server (removed or never installed)"),
])
def test_refusals(api, live, path, answer, replace, error_kind, reason):
    api.routes[("PATCH", path)] = answer
    checked = preflight(live, CHART, "shop", replace=replace)
    assert (checked.objects, checked.requests, checked.unchecked) == (3, 3, [])
    if error_kind is None:
        assert checked.passed and checked.refusals == []
        return
    kind, name = {CONFIG: ("ConfigMap", "web-config"), SERVICE: ("Service", "web"), DEPLOYMENT: ("Deployment", "web")}[path]
    assert not checked.passed
    assert checked.refusals == [{"api_version": "apps/v1" if kind == "Deployment" else "v1", "kind": kind, "name": name,
                                 "namespace": "shop", "error_kind": error_kind, "reason": reason}]
    assert checked.summary() == "1 of 3 objects refused: %s/%s: %s" % (kind, name, reason)


@pytest.mark.parametrize("answer, kind", [
    ((503, {"kind": "Status", "code": 503, "reason": "ServiceUnavailable", "message": "etcdserver: leader changed"}),
     "cluster_unreachable"),
    ((429, {"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "too many requests"}), "throttled"),
    ((500, {"kind": "Status", "code": 500, "reason": "InternalError",
            "message": 'Internal error occurred: failed calling webhook "policy.example.com": connection refused'}),
     "api_error"),
    ((401, {"kind": "Status", "code": 401, "reason": "Unauthorized", "message": "Unauthorized"}), "access_denied"),
    ((409, {"kind": "Status", "code": 409, "reason": "Conflict", "message": "the object has been modified"}), "conflict"),
    ((415, {"kind": "Status", "code": 415, "reason": "UnsupportedMediaType", "message": "no apply"}), "rejected"),
])
def test_no_verdict_raises_after_every_dry_run(api, live, answer, kind):
    api.routes[("PATCH", CONFIG)] = status(422, "Invalid", ADMISSION)  # a refusal does not hide the failure
    api.routes[("PATCH", DEPLOYMENT)] = answer
    with pytest.raises(KubeError) as failure:
        preflight(live, CHART, "shop")
    assert (failure.value.kind, failure.value.status) == (kind, answer[0])
    # every object was tried; a throttled one again, as the client retries a 429
    assert len(patched(api)) == 3 + (THROTTLE_RETRIES if answer[0] == 429 else 0)


def test_an_unreachable_server_raises(live, api):
    api.routes.clear()
    live.client.endpoint = live.client.endpoint._replace(port=1)  # nothing listens there
    with pytest.raises(KubeError) as failure:
        preflight(live, CHART, "shop")
    assert (failure.value.kind, failure.value.status) == ("cluster_unreachable", None)


def test_discovery_failures_raise(api, live):
    api.routes[("GET", "/apis/example.com/v1")] = status(503, "ServiceUnavailable", "down")
    with pytest.raises(KubeError) as failure:
        preflight(live, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a}\n", "shop")
    assert failure.value.kind == "cluster_unreachable"


def test_kinds_not_served_are_refused_without_a_dry_run(api, live):
    manifest = CHART.replace("apiVersion: apps/v1", "apiVersion: apps/v1beta1")
    checked = preflight(live, manifest, "shop")
    assert checked.refusals == [{"api_version": "apps/v1beta1", "kind": "Deployment", "name": "web", "namespace": "shop",
                                 "error_kind": "not_found",
                                 "reason": "apps/v1beta1 Deployment is not served by this API server (removed or never "
                                           "installed)"}]
    # one discovery request (404: the group version is gone) and the two other objects' dry runs
    assert [(seen.method, seen.path) for seen in api.seen if seen.method == "GET"] == [("GET", "/apis/apps/v1beta1")]
    assert (checked.objects, checked.requests, len(patched(api))) == (3, 3, 2)


def test_a_manifest_that_is_not_yaml_is_refused(api, live):
    checked = preflight(live, "apiVersion: v1\nkind: [unclosed\n", "shop")
    assert not checked.passed and checked.objects == 0 and api.seen == []
    assert checked.refusals[0]["kind"] == "manifest" and checked.refusals[0]["reason"].startswith("the manifest is not YAML")
    assert checked.summary().startswith("refused: manifest: the manifest is not YAML")


# --- what cannot be checked yet ----------------------------------------------------------------------------------

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: a}
"""


def test_kinds_defined_in_the_manifest_are_unchecked_and_not_looked_up(api, live):
    api.routes[("PATCH", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")] = (200, {})
    checked = preflight(live, CRD, "shop")
    assert checked.passed and (checked.objects, checked.requests) == (1, 1)
    assert checked.unchecked == [{"api_version": "example.com/v1", "kind": "Widget", "name": "a", "namespace": "shop",
                                  "reason": "its CustomResourceDefinition is in this manifest: the server serves the kind "
                                            "with that schema only once it is applied"}]
    assert checked.summary().startswith("all 1 objects pass the API server's dry run; 1 not checked: Widget/a: its "
                                        "CustomResourceDefinition")


def test_objects_in_a_namespace_the_manifest_creates(api, live):
    api.routes[("PATCH", "/api/v1/namespaces/new")] = (200, {})
    api.routes[("PATCH", "/api/v1/namespaces/new/configmaps/a")] = status(404, "NotFound", 'namespaces "new" not found')
    api.routes[("PATCH", "/api/v1/namespaces/old/configmaps/b")] = status(404, "NotFound", 'namespaces "old" not found')
    manifest = ("apiVersion: v1\nkind: Namespace\nmetadata: {name: new}\n---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: new}\n---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: old}\n")
    checked = preflight(live, manifest, "shop")
    assert checked.unchecked == [{"api_version": "v1", "kind": "ConfigMap", "name": "a", "namespace": "new",
                                  "reason": "its namespace new is created by this manifest"}]
    assert checked.refusals == [{"api_version": "v1", "kind": "ConfigMap", "name": "b", "namespace": "old",
                                 "error_kind": "not_found", "reason": "namespace old does not exist"}]
    # while the namespace does not exist, its objects are tried (and cost a request) to find out
    assert (checked.objects, checked.requests) == (2, 3)


# --- results ---------------------------------------------------------------------------------------------------

def test_as_dict_and_a_long_summary():
    refusals = [{"api_version": "v1", "kind": "ConfigMap", "name": "c%d" % index, "namespace": "shop",
                 "error_kind": "rejected", "reason": "no"} for index in range(7)]
    checked = Preflight(objects=9, refusals=refusals, unchecked=[], requests=10)
    assert checked.summary() == ("7 of 9 objects refused: ConfigMap/c0: no; ConfigMap/c1: no; ConfigMap/c2: no; "
                                 "ConfigMap/c3: no; ConfigMap/c4: no; and 2 more")
    assert checked.as_dict() == {"passed": False, "objects": 9, "refusals": refusals, "unchecked": [], "requests": 10,
                                 "summary": checked.summary()}
    json.dumps(checked.as_dict())  # as a module returns it


# --- the rights Helm's write needs (access reviews) ------------------------------------------------------------

REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
CONFIGMAPS, SERVICES = Resource("configmaps", True), Resource("services", True)
DEPLOYMENTS, CLUSTER_ROLES = Resource("deployments", True), Resource("clusterroles", False)
STATEFULSETS, REPLICASETS = Resource("statefulsets", True), Resource("replicasets", True)
CONTROLLERS = Resource("replicationcontrollers", True)
CM = ("", "ConfigMap", CONFIGMAPS, "shop", "web-config")
DEPLOY = ("apps", "Deployment", DEPLOYMENTS, "shop", "web")
OLD_CM = ("", "ConfigMap", CONFIGMAPS, "shop", "old-config")


@pytest.mark.parametrize("major, wait, verbs", [
    (4, True, ("list", "watch")),  # Helm 4's watcher: informers
    (5, True, ("list", "watch")),
    (3, True, ("get",)),  # Helm 3's waiter gets each object
    (3, False, ()),
    (4, False, ()),
])
def test_wait_verbs(major, wait, verbs):
    assert wait_verbs(major, wait) == verbs


RECORDS = [("create", "", "secrets", "shop", ""), ("update", "", "secrets", "shop", "")]
NAMED_RECORDS = [("create", "", "secrets", "shop", ""), ("update", "", "secrets", "shop", "sh.helm.release.v1.web.v3"),
                 ("update", "", "secrets", "shop", "sh.helm.release.v1.web.v4")]


@pytest.mark.parametrize("targets, write, current, expected", [
    ([], Write(4, False), [], RECORDS),
    # get names the object (a Role's resourceNames count)
    ([CM], Write(4, False), [], RECORDS + [("get", "", "configmaps", "shop", "web-config")]),
    # Helm 4's wait: list and watch the kind, unnamed
    ([CM], Write(4, True), [], RECORDS + [("get", "", "configmaps", "shop", "web-config"),
                                          ("list", "", "configmaps", "shop", ""), ("watch", "", "configmaps", "shop", "")]),
    # Helm 3's wait gets each object (already asked) and lists a Deployment's ReplicaSets
    ([DEPLOY], Write(3, True), [], RECORDS + [("get", "apps", "deployments", "shop", "web"),
                                              ("list", "apps", "replicasets", "shop", "")]),
    # Helm 4 lists a Deployment's ReplicaSets, without watching them
    ([DEPLOY], Write(4, True), [], RECORDS + [
        ("get", "apps", "deployments", "shop", "web"), ("list", "apps", "deployments", "shop", ""),
        ("watch", "apps", "deployments", "shop", ""), ("list", "apps", "replicasets", "shop", "")]),
    # without wait, no ReplicaSets
    ([DEPLOY], Write(4, False), [], RECORDS + [("get", "apps", "deployments", "shop", "web")]),
    # Helm 4 lists a StatefulSet's and a ReplicaSet's Pods (cli-utils' pod controller status reader)
    ([("apps", "StatefulSet", STATEFULSETS, "shop", "db")], Write(4, True), [], RECORDS + [
        ("get", "apps", "statefulsets", "shop", "db"), ("list", "apps", "statefulsets", "shop", ""),
        ("watch", "apps", "statefulsets", "shop", ""), ("list", "", "pods", "shop", "")]),
    ([("apps", "ReplicaSet", REPLICASETS, "shop", "rs")], Write(4, True), [], RECORDS + [
        ("get", "apps", "replicasets", "shop", "rs"), ("list", "apps", "replicasets", "shop", ""),
        ("watch", "apps", "replicasets", "shop", ""), ("list", "", "pods", "shop", "")]),
    # Helm 3's ReadyChecker: a StatefulSet by its status only; a ReplicaSet and a ReplicationController by their Pods
    ([("apps", "StatefulSet", STATEFULSETS, "shop", "db")], Write(3, True), [],
     RECORDS + [("get", "apps", "statefulsets", "shop", "db")]),
    ([("apps", "ReplicaSet", REPLICASETS, "shop", "rs")], Write(3, True), [],
     RECORDS + [("get", "apps", "replicasets", "shop", "rs"), ("list", "", "pods", "shop", "")]),
    ([("", "ReplicationController", CONTROLLERS, "shop", "rc")], Write(3, True), [],
     RECORDS + [("get", "", "replicationcontrollers", "shop", "rc"), ("list", "", "pods", "shop", "")]),
    # force replaces each object with a PUT: update, named
    ([CM], Write(3, False, force=True), [], RECORDS + [("get", "", "configmaps", "shop", "web-config"),
                                                       ("update", "", "configmaps", "shop", "web-config")]),
    ([DEPLOY], Write(4, False, force=True), [], RECORDS + [("get", "apps", "deployments", "shop", "web"),
                                                           ("update", "apps", "deployments", "shop", "web")]),
    # Helm 4's update deletes what the current release has and the target does not (named); Helm 3 only logs a
    # failed delete: nothing asked
    ([CM], Write(4, False), [CM, OLD_CM, DEPLOY], RECORDS + [
        ("delete", "", "configmaps", "shop", "old-config"), ("delete", "apps", "deployments", "shop", "web"),
        ("get", "", "configmaps", "shop", "web-config")]),
    ([CM], Write(3, False), [CM, OLD_CM, DEPLOY], RECORDS + [("get", "", "configmaps", "shop", "web-config")]),
    # the same name in another namespace or of another kind is another object
    ([CM], Write(4, False), [("", "ConfigMap", CONFIGMAPS, "other", "web-config"),
                             ("", "Secret", Resource("secrets", True), "shop", "web-config")], RECORDS + [
        ("delete", "", "configmaps", "other", "web-config"), ("delete", "", "secrets", "shop", "web-config"),
        ("get", "", "configmaps", "shop", "web-config")]),
    # the records Helm marks, by name when known
    ([], Write(4, False, records=(3, 4)), [], NAMED_RECORDS),
    # a reinstall: its uninstall deletes the current objects, its install gets (conflict check) and creates the
    # target's; the new record is created, the records the install marks by name (the uninstalled one, the new one)
    ([CM], Write(4, False, current="x", records=(3, 4), reinstall=True), [OLD_CM], NAMED_RECORDS + [
        ("delete", "", "configmaps", "shop", "old-config"), ("get", "", "configmaps", "shop", "web-config"),
        ("create", "", "configmaps", "shop", "")]),
    # not known: unnamed
    ([CM], Write(4, False, current="x", reinstall=True), [OLD_CM], RECORDS + [
        ("delete", "", "configmaps", "shop", "old-config"), ("get", "", "configmaps", "shop", "web-config"),
        ("create", "", "configmaps", "shop", "")]),
    # without --keep-history, the uninstall deletes the records too: by name when their revisions are known
    ([CM], Write(3, False, reinstall=True, purge=True), [OLD_CM], [
        ("create", "", "secrets", "shop", ""), ("update", "", "secrets", "shop", ""),
        ("delete", "", "secrets", "shop", ""), ("delete", "", "configmaps", "shop", "old-config"),
        ("get", "", "configmaps", "shop", "web-config"), ("create", "", "configmaps", "shop", "")]),
    ([], Write(3, False, reinstall=True, purge=True, records=(1,), purged=(1, 2)), [], [
        ("create", "", "secrets", "shop", ""), ("update", "", "secrets", "shop", "sh.helm.release.v1.web.v1"),
        ("delete", "", "secrets", "shop", "sh.helm.release.v1.web.v1"),
        ("delete", "", "secrets", "shop", "sh.helm.release.v1.web.v2")]),
    # a reinstall that waits: its uninstall waits until the current objects are gone; Helm 3 gets each of them
    ([], Write(3, True, reinstall=True), [OLD_CM, DEPLOY], RECORDS + [
        ("delete", "", "configmaps", "shop", "old-config"), ("get", "", "configmaps", "shop", "old-config"),
        ("delete", "apps", "deployments", "shop", "web"), ("get", "apps", "deployments", "shop", "web")]),
    # Helm 4's watcher lists and watches each of their kinds
    ([], Write(4, True, reinstall=True), [OLD_CM, DEPLOY], RECORDS + [
        ("delete", "", "configmaps", "shop", "old-config"), ("list", "", "configmaps", "shop", ""),
        ("watch", "", "configmaps", "shop", ""), ("delete", "apps", "deployments", "shop", "web"),
        ("list", "apps", "deployments", "shop", ""), ("watch", "apps", "deployments", "shop", "")]),
    # without wait, only the deletes
    ([], Write(4, False, reinstall=True), [OLD_CM, DEPLOY], RECORDS + [
        ("delete", "", "configmaps", "shop", "old-config"), ("delete", "apps", "deployments", "shop", "web")]),
    # a reinstall with wait waits as an update does
    ([DEPLOY], Write(3, True, reinstall=True), [], RECORDS + [
        ("get", "apps", "deployments", "shop", "web"), ("create", "apps", "deployments", "shop", ""),
        ("list", "apps", "replicasets", "shop", "")]),
    # cluster-scoped kinds cluster-wide; an object in another namespace there; each right once
    ([("rbac.authorization.k8s.io", "ClusterRole", CLUSTER_ROLES, "", "reader"),
      ("", "ConfigMap", CONFIGMAPS, "other", "a"), ("", "ConfigMap", CONFIGMAPS, "other", "a")], Write(4, False), [],
     RECORDS + [("get", "rbac.authorization.k8s.io", "clusterroles", None, "reader"),
                ("get", "", "configmaps", "other", "a")]),
])
def test_write_rights(targets, write, current, expected):
    rights = write_rights(targets, "shop", write, "web", current)
    assert [(right.verb, right.group, right.resource, right.namespace, right.name) for right in rights] == expected
    assert all(right.why for right in rights)


def test_right_words():
    assert Right("update", "", "secrets", "shop").words() == "update secrets in namespace shop"
    assert Right("list", "apps", "replicasets", "t1").words() == "list replicasets.apps in namespace t1"
    assert Right("get", "rbac.authorization.k8s.io", "clusterroles", None).words() == (
        "get clusterroles.rbac.authorization.k8s.io cluster-wide")
    # the name after the words rbac_right has ("delete deployments.apps in namespace t1")
    assert Right("delete", "apps", "deployments", "t1", name="web").words() == (
        "delete deployments.apps in namespace t1 named web")
    assert Right("get", "rbac.authorization.k8s.io", "clusterroles", None, name="reader").words() == (
        "get clusterroles.rbac.authorization.k8s.io cluster-wide named reader")


def reviews(denied_rights, extra=None):
    """An access review route: allowed unless (verb, group, resource, namespace, name) is in ``denied_rights``;
    ``extra``: more of the review's status when denied."""
    def answer(seen):
        attributes = json.loads(seen.body)["spec"]["resourceAttributes"]
        key = (attributes["verb"], attributes["group"], attributes["resource"], attributes.get("namespace"),
               attributes.get("name", ""))
        allowed = key not in denied_rights
        return 201, {"kind": "SelfSubjectAccessReview", "status": dict({"allowed": allowed},
                                                                       **({} if allowed else extra or {}))}
    return answer


def asked(api):
    """The attributes of every SelfSubjectAccessReview the server saw."""
    return [json.loads(seen.body)["spec"]["resourceAttributes"] for seen in api.seen if seen.method == "POST" and
            seen.path == REVIEWS]


def test_a_write_is_checked_with_an_access_review_per_right(api, live):
    api.routes[("POST", REVIEWS)] = reviews({("update", "", "secrets", "shop", ""),
                                             ("list", "apps", "replicasets", "shop", "")})
    checked = preflight(live, CHART, "shop", writes=Write(4, True))
    attributes = asked(api)
    # the records' create and update, get (named), list and watch of the three kinds, list of ReplicaSets
    assert len(attributes) == 2 + 3 * 3 + 1
    assert {"verb": "get", "group": "", "resource": "configmaps", "namespace": "shop", "name": "web-config"} in attributes
    assert {"verb": "list", "group": "", "resource": "configmaps", "namespace": "shop"} in attributes
    assert not any(item["verb"] == "watch" and item["resource"] == "replicasets" for item in attributes)
    # the dry runs, the rules review (which this server does not serve: every right is then asked) and the access
    # reviews
    assert not checked.passed and checked.objects == 3 and checked.requests == 3 + 1 + len(attributes)
    assert [(refusal["kind"], refusal["namespace"], refusal["error_kind"]) for refusal in checked.refusals] == [
        ("SelfSubjectAccessReview", "shop", "access_denied")] * 2
    assert checked.refusals[0]["reason"] == (
        "the credentials may not update secrets in namespace shop (RBAC; Helm marks the revision it supersedes, and "
        "the new one when it is done)")
    assert checked.summary() == (
        "all 3 objects pass the API server's dry run; but the credentials lack rights Helm's write needs, so it would "
        "fail after storing the new revision: the credentials may not update secrets in namespace shop (RBAC; Helm "
        "marks the revision it supersedes, and the new one when it is done); the credentials may not list "
        "replicasets.apps in namespace shop (RBAC; Helm's wait reads a Deployment's replicasets); grant them "
        "(extensions/rbac/recoverer.yml grants them for the demo chart's kinds; add the chart's own kinds)")


OLD_CONFIG = "/api/v1/namespaces/shop/configmaps/old-config"
OLD = CHART + """\
---
# Source: web/templates/old.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: old-config
"""


@pytest.mark.parametrize("major, force, expected", [
    # Helm 4 deletes old-config (dropped by the target): delete, named; records named; force: update, named
    (4, False, [("delete", "configmaps", "old-config"), ("update", "secrets", "sh.helm.release.v1.web.v3"),
                ("update", "secrets", "sh.helm.release.v1.web.v4")]),
    (3, True, [("update", "configmaps", "web-config"), ("update", "deployments", "web"),
               ("update", "secrets", "sh.helm.release.v1.web.v3"), ("update", "secrets", "sh.helm.release.v1.web.v4"),
               ("update", "services", "web")]),
])
def test_deletes_force_and_records_are_asked_by_name(api, live, major, force, expected):
    api.routes[("POST", REVIEWS)] = reviews(set())
    api.routes[("GET", OLD_CONFIG)] = (200, {"kind": "ConfigMap", "metadata": {"name": "old-config"}})
    checked = preflight(live, CHART, "shop", release="web",
                        writes=Write(major, False, force=force, current=OLD, records=(3, 4)))
    assert checked.passed
    assert sorted((item["verb"], item["resource"], item.get("name")) for item in asked(api)
                  if item["verb"] in ("delete", "update")) == expected


def test_a_role_with_resource_names_is_not_refused(api, live):
    """A Role that names the objects: the per-object verbs are asked with the name, so they pass."""
    def answer(seen):
        attributes = json.loads(seen.body)["spec"]["resourceAttributes"]
        per_object = attributes["verb"] in ("get", "update", "delete")
        return 201, {"kind": "SelfSubjectAccessReview", "status": {"allowed": bool(attributes.get("name")) or not per_object}}
    api.routes[("POST", REVIEWS)] = answer
    assert preflight(live, CHART, "shop", release="web", writes=Write(3, True, current=CHART, records=(1, 2))).passed


def test_a_refused_object_and_a_missing_right(api, live):
    api.routes[("PATCH", DEPLOYMENT)] = status(403, "Forbidden", RBAC)
    api.routes[("POST", REVIEWS)] = reviews({("create", "", "secrets", "shop", "")})
    checked = preflight(live, CHART, "shop", writes=Write(4, False))
    assert [refusal["kind"] for refusal in checked.refusals] == ["Deployment", "SelfSubjectAccessReview"]
    assert checked.summary().startswith("1 of 3 objects refused: Deployment/web: the credentials may not patch "
                                        "deployments.apps in namespace shop (RBAC); but the credentials lack rights "
                                        "Helm's write needs, so it would fail after storing the new revision: the "
                                        "credentials may not create secrets in namespace shop (RBAC; ")


def test_no_object_and_a_missing_right(api, live):
    api.routes[("POST", REVIEWS)] = reviews({("create", "", "secrets", "shop", "")})
    checked = preflight(live, "---\n# Source: web/templates/nothing.yaml\n", "shop", writes=Write(4, False))
    assert not checked.passed and checked.summary().startswith(
        "no object to check; but the credentials lack rights Helm's write needs")


def test_every_right_held_passes(api, live):
    api.routes[("POST", REVIEWS)] = reviews(set())
    checked = preflight(live, CHART, "shop", writes=Write(4, False))
    assert checked.passed and checked.summary() == "all 3 objects pass the API server's dry run"
    # the rules review (not served here), then an access review per right
    assert [seen.path for seen in api.seen if seen.method == "POST"] == [RULES_REVIEWS] + [REVIEWS] * (2 + 3)


def test_check_mode_asks_no_access_review(api, live):
    checked = preflight(live, CHART, "shop")
    assert checked.passed and [seen.method for seen in api.seen] == ["PATCH"] * 3


@pytest.mark.parametrize("answer", [
    status(403, "Forbidden", 'selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "x" cannot create '
                             'resource "selfsubjectaccessreviews" in API group "authorization.k8s.io" at the cluster '
                             'scope'),
    (404, {"kind": "Status", "code": 404, "reason": "NotFound",
           "message": "the server could not find the requested resource"}),
    # a server that does not serve the authorization API's create (the test bed's emulator): every recovery on it
    # was deferred before this row
    (405, {"kind": "Status", "code": 405, "reason": "MethodNotAllowed",
           "message": "POST is not supported on /apis/authorization.k8s.io/v1/selfsubjectaccessreviews"}),
])
def test_access_reviews_the_server_does_not_answer_are_said_unchecked(api, live, answer):
    api.routes[("POST", REVIEWS)] = answer
    checked = preflight(live, CHART, "shop", writes=Write(4, False))
    assert checked.passed and checked.objects == 3
    assert [(entry["kind"], entry["namespace"]) for entry in checked.unchecked] == [("SelfSubjectAccessReview", "shop")]
    assert checked.unchecked[0]["reason"].startswith("rights not checked: access reviews unavailable (%d " % answer[0])
    assert "1 not checked: SelfSubjectAccessReview: rights not checked: access reviews unavailable" in checked.summary()


@pytest.mark.parametrize("answer, kind", [
    (status(503, "ServiceUnavailable", "etcdserver: leader changed"), "cluster_unreachable"),
    # credentials the server did not accept: no verdict on the rights, for the caller to defer
    (status(401, "Unauthorized", "Unauthorized"), "access_denied"),
    # the authorizer could not decide (allowed false, an evaluationError, not denied): transient, never a denial
    ((201, {"kind": "SelfSubjectAccessReview",
            "status": {"allowed": False, "evaluationError": "webhook authorizer: connection refused"}}), "api_error"),
])
def test_an_access_review_without_an_answer_raises(api, live, answer, kind):
    api.routes[("POST", REVIEWS)] = answer
    with pytest.raises(KubeError) as failure:
        preflight(live, CHART, "shop", writes=Write(4, False))
    assert failure.value.kind == kind


def test_a_denial_with_an_evaluation_error_is_a_denial(api, live):
    api.routes[("POST", REVIEWS)] = reviews({("create", "", "secrets", "shop", "")},
                                            {"denied": True, "evaluationError": "a rule could not be resolved"})
    checked = preflight(live, CHART, "shop", writes=Write(4, False))
    assert [refusal["error_kind"] for refusal in checked.refusals] == ["access_denied"]


# --- what Helm's write deletes: the objects Helm 4's update can read, the ones not kept ------------------------------

KEPT = CHART + """\
---
# Source: web/templates/kept.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: old-config
  annotations: {"helm.sh/resource-policy": " Keep "}
"""


def deletes(api):
    return sorted((item["resource"], item.get("name")) for item in asked(api) if item["verb"] == "delete")


def gets(api):
    return [seen.path for seen in api.seen if seen.method == "GET"]


def config_map(annotations=None):
    return 200, {"kind": "ConfigMap", "metadata": dict({"name": "old-config"},
                                                       **({"annotations": annotations} if annotations else {}))}


@pytest.mark.parametrize("answer, expected", [
    # the object exists: Helm 4 deletes it
    (config_map(), [("configmaps", "old-config")]),
    # never created (the latest revision failed before it), or gone: Helm 4 skips it; no delete asked
    ((404, {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'configmaps "old-config" not found'}), []),
    # a GET the identity may not do: Helm 4's GET fails the same way and it skips the object
    (status(403, "Forbidden", 'configmaps "old-config" is forbidden: User "x" cannot get resource "configmaps"'), []),
    # the live object is kept (Helm 4 compares the live annotation with "keep")
    (config_map({"helm.sh/resource-policy": "keep"}), []),
    (config_map({"helm.sh/resource-policy": "Keep"}), [("configmaps", "old-config")]),
])
def test_helm_4_deletes_only_dropped_objects_it_can_read(api, live, answer, expected):
    api.routes[("POST", REVIEWS)] = reviews(set())
    api.routes[("GET", OLD_CONFIG)] = answer
    assert preflight(live, CHART, "shop", release="web", writes=Write(4, False, current=OLD)).passed
    assert deletes(api) == expected
    assert gets(api) == [OLD_CONFIG]  # one GET, the dropped object's only


def test_a_role_without_delete_passes_a_rollback_over_a_failed_revision(api, live):
    """The shipped recoverer Role has no delete: a rollback over a failed revision whose new object was never
    created is no refusal (Helm 4 skips what it cannot find); the same object in the cluster is one."""
    api.routes[("POST", REVIEWS)] = lambda seen: reviews(set())(seen) if json.loads(seen.body)["spec"][
        "resourceAttributes"]["verb"] != "delete" else (201, {"kind": "SelfSubjectAccessReview",
                                                              "status": {"allowed": False}})
    assert preflight(live, CHART, "shop", release="web", writes=Write(4, False, current=OLD)).passed
    api.routes[("GET", OLD_CONFIG)] = config_map()
    checked = preflight(live, CHART, "shop", release="web", writes=Write(4, False, current=OLD))
    assert [refusal["name"] for refusal in checked.refusals] == ["old-config"]


@pytest.mark.parametrize("answer, kind", [
    (status(503, "ServiceUnavailable", "etcdserver: leader changed"), "cluster_unreachable"),
    (status(401, "Unauthorized", "Unauthorized"), "access_denied"),
])
def test_a_dropped_object_the_server_gave_no_answer_for_raises(api, live, answer, kind):
    api.routes[("POST", REVIEWS)] = reviews(set())
    api.routes[("GET", OLD_CONFIG)] = answer
    with pytest.raises(KubeError) as failure:
        preflight(live, CHART, "shop", release="web", writes=Write(4, False, current=OLD))
    assert failure.value.kind == kind


@pytest.mark.parametrize("write, expected_gets", [
    # Helm 3's update deletes nothing it could fail on: nothing read
    (Write(3, False, current=OLD), []),
    # check mode (no write) reads nothing either: see test_check_mode_asks_no_access_review
])
def test_helm_3_reads_no_dropped_object(api, live, write, expected_gets):
    api.routes[("POST", REVIEWS)] = reviews(set())
    assert preflight(live, CHART, "shop", release="web", writes=write).passed
    assert gets(api) == expected_gets and deletes(api) == []


@pytest.mark.parametrize("manifest, expected", [
    # the uninstall deletes every object of the current manifest, whether it exists or not (the authorizer judges
    # a delete before the object is looked up), so nothing is read
    (OLD, [("configmaps", "old-config"), ("configmaps", "web-config"), ("deployments", "web"), ("services", "web")]),
    # but not one the manifest keeps (trimmed, any case: Helm's filterManifestsToKeep)
    (KEPT, [("configmaps", "web-config"), ("deployments", "web"), ("services", "web")]),
])
def test_a_reinstalls_uninstall_deletes_what_is_not_kept(api, live, manifest, expected):
    api.routes[("POST", REVIEWS)] = reviews(set())
    assert preflight(live, CHART, "shop", release="web", replace=True,
                     writes=Write(4, False, current=manifest, reinstall=True)).passed
    assert deletes(api) == expected and gets(api) == []


def test_helm_4_update_keeps_what_the_live_object_keeps(api, live):
    """Helm 4's update reads the keep annotation on the live object, not the manifest's."""
    api.routes[("POST", REVIEWS)] = reviews(set())
    api.routes[("GET", OLD_CONFIG)] = config_map()
    preflight(live, CHART, "shop", release="web", writes=Write(4, False, current=KEPT))
    assert deletes(api) == [("configmaps", "old-config")]


@pytest.mark.parametrize("major, expected", [
    (3, [("get", "configmaps", "old-config"), ("get", "deployments", "web")]),
    (4, [("list", "configmaps", None), ("list", "deployments", None), ("watch", "configmaps", None),
         ("watch", "deployments", None)]),
])
def test_a_reinstall_that_waits_asks_for_the_uninstalls_wait(api, live, major, expected):
    """helm uninstall --wait: Helm 3 gets each deleted object until it is gone, Helm 4 lists and watches their kinds."""
    api.routes[("POST", REVIEWS)] = reviews(set())
    current = OLD.replace("kind: Service", "kind: Endpoints")  # not in the target: its wait is the uninstall's
    preflight(live, "---\n# Source: web/templates/nothing.yaml\n", "shop", release="web", replace=True,
              writes=Write(major, True, current=current, reinstall=True))
    assert sorted((item["verb"], item["resource"], item.get("name")) for item in asked(api)
                  if item["verb"] in ("get", "list", "watch") and item["resource"] in ("configmaps", "deployments")
                  and item.get("name") in (None, "old-config", "web")) == expected


def test_denials_are_kept_beside_reviews_the_server_does_not_answer(api, live):
    """One review unavailable (a 403 on the review itself) and one a denial: both are said."""
    def answer(seen):
        attributes = json.loads(seen.body)["spec"]["resourceAttributes"]
        if attributes["verb"] == "create":
            return status(403, "Forbidden", 'selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "x" '
                                            'cannot create resource "selfsubjectaccessreviews" in API group '
                                            '"authorization.k8s.io" at the cluster scope')
        return 201, {"kind": "SelfSubjectAccessReview",
                     "status": {"allowed": not (attributes["verb"] == "get" and attributes["resource"] == "services")}}
    api.routes[("POST", REVIEWS)] = answer
    checked = preflight(live, CHART, "shop", writes=Write(4, False))
    assert not checked.passed
    assert [(refusal["kind"], refusal["reason"].split(" (")[0]) for refusal in checked.refusals] == [
        ("SelfSubjectAccessReview", "the credentials may not get services in namespace shop named web")]
    assert [entry["kind"] for entry in checked.unchecked] == ["SelfSubjectAccessReview"]
    assert checked.unchecked[0]["reason"].startswith("rights not checked: access reviews unavailable (403 ")


# --- one SelfSubjectRulesReview per namespace: evidence that a right is held, never of one lacking -------------------

RULES_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"


def rule(verbs, groups, resources, names=None):
    return dict({"verbs": verbs, "apiGroups": groups, "resources": resources}, **({"resourceNames": names} if names else {}))


@pytest.mark.parametrize("granting, right, expected", [
    (rule(["get"], [""], ["secrets"]), Right("get", "", "secrets", "shop"), True),
    (rule(["get"], [""], ["secrets"]), Right("get", "", "secrets", "shop", name="a"), True),
    # each of verb, group and resource must match, or be "*"
    (rule(["list"], [""], ["secrets"]), Right("get", "", "secrets", "shop"), False),
    (rule(["*"], [""], ["secrets"]), Right("delete", "", "secrets", "shop"), True),
    (rule(["get"], ["apps"], ["secrets"]), Right("get", "", "secrets", "shop"), False),
    (rule(["get"], ["*"], ["deployments"]), Right("get", "apps", "deployments", "shop"), True),
    (rule(["get"], ["apps"], ["replicasets"]), Right("get", "apps", "deployments", "shop"), False),
    (rule(["get"], ["apps"], ["*"]), Right("get", "apps", "deployments", "shop"), True),
    # resource names: only a right on one of them; a list or a create names no object, so it is not granted
    (rule(["get", "update"], [""], ["secrets"], ["a", "b"]), Right("update", "", "secrets", "shop", name="b"), True),
    (rule(["get", "update"], [""], ["secrets"], ["a", "b"]), Right("update", "", "secrets", "shop", name="c"), False),
    (rule(["list", "create"], [""], ["secrets"], ["a"]), Right("list", "", "secrets", "shop"), False),
    (rule(["list", "create"], [""], ["secrets"], ["a"]), Right("create", "", "secrets", "shop"), False),
    # subresources: "resource/sub" or "*/sub"; the resource alone grants none of its subresources, "*" grants them
    (rule(["update"], ["apps"], ["deployments/scale"]), Right("update", "apps", "deployments/scale", "shop"), True),
    (rule(["update"], ["apps"], ["*/scale"]), Right("update", "apps", "deployments/scale", "shop"), True),
    (rule(["update"], ["apps"], ["deployments"]), Right("update", "apps", "deployments/scale", "shop"), False),
    (rule(["update"], ["apps"], ["*/scale"]), Right("update", "apps", "deployments", "shop"), False),
    (rule(["update"], ["apps"], ["*"]), Right("update", "apps", "deployments/scale", "shop"), True),
    # what a rule lacks or has in the wrong shape grants nothing
    ({"verbs": ["get"], "resources": ["secrets"]}, Right("get", "", "secrets", "shop"), False),
    ({"verbs": "*", "apiGroups": ["*"], "resources": ["*"]}, Right("get", "", "secrets", "shop"), False),
    ({}, Right("get", "", "secrets", "shop"), False),
])
def test_rule_grants(granting, right, expected):
    assert rule_grants(granting, right) is expected


def rules_review(rules, incomplete=False, evaluation_error=None):
    status = {"resourceRules": rules, "nonResourceRules": [], "incomplete": incomplete}
    if evaluation_error:
        status["evaluationError"] = evaluation_error
    return 201, {"kind": "SelfSubjectRulesReview", "status": status}


EVERYTHING = [rule(["*"], ["*"], ["*"])]
# What the preflight of test_a_write_is_checked_with_an_access_review_per_right asks, less the records' update and
# the wait's list of ReplicaSets
MOST = [rule(["create"], [""], ["secrets"]),
        rule(["get", "list", "watch"], ["", "apps"], ["configmaps", "services", "deployments"])]


def rules_asked(api):
    return [json.loads(seen.body)["spec"] for seen in api.seen if seen.path == RULES_REVIEWS]


def test_a_complete_rules_review_stands_for_the_access_reviews(api, live):
    api.routes[("POST", RULES_REVIEWS)] = rules_review(EVERYTHING)
    checked = preflight(live, CHART, "shop", writes=Write(4, True))
    assert checked.passed and checked.unchecked == [] and checked.requests == 3 + 1
    assert rules_asked(api) == [{"namespace": "shop"}] and asked(api) == []


@pytest.mark.parametrize("answer", [
    rules_review(MOST),
    # not to be trusted: every right is asked, as without a rules review
    rules_review(EVERYTHING, incomplete=True),
    rules_review(EVERYTHING, evaluation_error='role.rbac.authorization.k8s.io "gone" not found'),
    (201, {"kind": "SelfSubjectRulesReview", "status": {"resourceRules": EVERYTHING}}),
    # no rules review (RBAC forbids it, the server does not serve it, or it could not answer): the same
    status(403, "Forbidden", "selfsubjectrulesreviews.authorization.k8s.io is forbidden"),
    (404, {"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"}),
    status(503, "ServiceUnavailable", "etcdserver: leader changed"),
])
def test_a_right_the_rules_review_does_not_show_is_asked(api, live, answer):
    """Only positive evidence: the denials, their messages and the summary are those of the access reviews."""
    api.routes[("POST", RULES_REVIEWS)] = answer
    api.routes[("POST", REVIEWS)] = reviews({("update", "", "secrets", "shop", ""),
                                             ("list", "apps", "replicasets", "shop", "")})
    checked = preflight(live, CHART, "shop", writes=Write(4, True))
    every = 2 + 3 * 3 + 1
    assert len(asked(api)) == (2 if answer == rules_review(MOST) else every)
    assert [refusal["reason"] for refusal in checked.refusals] == [
        "the credentials may not update secrets in namespace shop (RBAC; Helm marks the revision it supersedes, and "
        "the new one when it is done)",
        "the credentials may not list replicasets.apps in namespace shop (RBAC; Helm's wait reads a Deployment's "
        "replicasets)"]


def test_a_right_cluster_wide_is_asked_whatever_the_rules_review_says(api, live):
    """A namespace's rules review lists its RoleBindings' rules too, which grant nothing cluster-wide."""
    api.routes[("POST", RULES_REVIEWS)] = rules_review(EVERYTHING)
    api.routes[("POST", REVIEWS)] = reviews({("get", "rbac.authorization.k8s.io", "clusterroles", None, "reader")})
    manifest = """\
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
"""
    api.routes[("PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/reader")] = (200, {})
    checked = preflight(live, manifest, "shop", writes=Write(4, False))
    assert asked(api) == [{"verb": "get", "group": "rbac.authorization.k8s.io", "resource": "clusterroles",
                           "name": "reader"}]
    assert [refusal["reason"] for refusal in checked.refusals] == [
        "the credentials may not get clusterroles.rbac.authorization.k8s.io cluster-wide named reader (RBAC; Helm "
        "reads each object before it writes it)"]


def test_an_access_review_error_after_a_partial_rules_review_still_raises(api, live):
    api.routes[("POST", RULES_REVIEWS)] = rules_review(MOST)
    api.routes[("POST", REVIEWS)] = (201, {"kind": "SelfSubjectAccessReview",
                                           "status": {"allowed": False, "evaluationError": "webhook: refused"}})
    with pytest.raises(KubeError) as failure:
        preflight(live, CHART, "shop", writes=Write(4, True))
    assert failure.value.kind == "api_error"

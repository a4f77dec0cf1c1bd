# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import copy

import pytest

from ansible_collections.matih.helm.plugins.module_utils import drift, kube_types
from ansible_collections.matih.helm.plugins.module_utils.drift import ABSENT, Keyed, ObjectRef, Read
from ansible_collections.matih.helm.plugins.module_utils.errors import REJECTED, KubeError, TaskError


def b64(text):
    return base64.b64encode(text.encode()).decode()


# --- objects as a chart renders them, and as the API server returns them --------------------------

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}, "creationTimestamp": None}, "spec": {"containers": [
            {"name": "web", "image": "demo:1.0", "ports": [{"name": "http", "containerPort": 8080}],
             "env": [{"name": "MODE", "value": "fast"}, {"name": "LEVEL", "value": "3"}],
             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
            {"name": "sidecar", "image": "proxy:2"},
        ]}},
    },
}


def live_deployment(**changes):
    """DEPLOYMENT as the API server stores it: defaults, status and server metadata added."""
    live = copy.deepcopy(DEPLOYMENT)
    live.pop("apiVersion")
    live.pop("kind")  # list items come without them
    live["metadata"].update(namespace="shop", uid="1234", resourceVersion="99", generation=2,
                            creationTimestamp="2026-01-01T00:00:00Z", managedFields=[{"manager": "helm"}],
                            annotations={"deployment.kubernetes.io/revision": "2", "meta.helm.sh/release-name": "web"})
    spec = live["spec"]
    spec.update(revisionHistoryLimit=10, progressDeadlineSeconds=600, strategy={"type": "RollingUpdate"})
    spec["template"]["metadata"].pop("creationTimestamp")
    pod = spec["template"]["spec"]
    pod.update(restartPolicy="Always", dnsPolicy="ClusterFirst", securityContext={})
    for container in pod["containers"]:
        container.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
    pod["containers"][0]["ports"][0]["protocol"] = "TCP"
    live["status"] = {"replicas": 1, "readyReplicas": 1}
    for path, value in changes.items():
        node = live
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is ABSENT:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return live


CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
             "data": {"greeting": "hello", "mode": "fast"}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "credentials"}, "type": "Opaque",
          "stringData": {"password": "s3cret-value"}, "data": {"user": b64("admin")}}
LIVE_SECRET = {"metadata": {"name": "credentials", "namespace": "shop", "uid": "7"}, "type": "Opaque",
               "data": {"user": b64("admin"), "password": b64("s3cret-value")}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
LIVE_SERVICE = {"metadata": {"name": "web", "namespace": "shop"},
                "spec": {"selector": {"app": "web"}, "type": "ClusterIP", "clusterIP": "10.0.0.7",
                         "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
                "status": {"loadBalancer": {}}}
WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
          "spec": {"env": [{"name": "A", "value": "1"}]}}


def ref_of(obj, namespace="shop"):
    return ObjectRef(obj["apiVersion"], obj["kind"], namespace, obj["metadata"]["name"])


def server_apply(body, live):
    """What a server-side apply dry run returns, modelled: the body merged into the live object (maps by key,
    the built-in lists by merge key, other lists replaced), as the server stores it (quantities canonical,
    a Secret's stringData in data), with our field manager and a new generation."""
    applied = _merge(copy.deepcopy(live), drift.desired_object(body, ref_of(body)))
    for key in ("apiVersion", "kind"):
        applied.pop(key, None)
    applied["metadata"]["managedFields"] = [{"manager": "matih-helm-drift"}]
    applied["metadata"]["generation"] = applied["metadata"].get("generation", 1) + 1
    return applied


QUANTITIES = {0.5: "500m", "0.5": "500m", "1000m": "1"}


def _merge(live, body, field=None):
    if isinstance(body, dict) and isinstance(live, dict):
        for key, value in body.items():
            if value is not None:
                live[key] = _merge(live.get(key), value, key)
        return live
    if isinstance(body, list) and isinstance(live, list):
        key = drift.merge_key(field, body, live)
        if key is None:
            return copy.deepcopy(body)
        merged = {drift._key_of(item, key): item for item in live}  # pylint: disable=protected-access
        for item in body:
            item_key = drift._key_of(item, key)  # pylint: disable=protected-access
            merged[item_key] = _merge(merged.get(item_key, {}), item)
        return list(merged.values())
    return QUANTITIES.get(body, body) if field in ("cpu", "memory") else copy.deepcopy(body)


def live_configmap(data):
    return {"metadata": {"name": "settings", "namespace": "shop", "resourceVersion": "5"}, "data": data}


def with_cpu(obj, cpu):
    obj = copy.deepcopy(obj)
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu
    return obj


def with_env(obj, env):
    obj = copy.deepcopy(obj)
    obj["spec"]["template"]["spec"]["containers"][0]["env"] = env
    return obj


# case id, manifest object, live object (None: missing), ignore_fields, show_values,
# expected state, expected fields, whether a dry run is sent
COMPARE_CASES = [
    ("equal", CONFIGMAP, live_configmap({"greeting": "hello", "mode": "fast"}), {}, True,
     "in_sync", [], False),
    ("defaulted fields, status and server metadata", DEPLOYMENT, live_deployment(), {}, True, "in_sync", [], False),
    ("a Service's defaulted protocol, type and cluster IP", SERVICE, LIVE_SERVICE, {}, True, "in_sync", [], False),
    ("missing object", DEPLOYMENT, None, {}, True, "missing", [], False),
    ("an object being deleted is missing", DEPLOYMENT,
     live_deployment(**{"metadata.deletionTimestamp": "2026-01-02T00:00:00Z"}), {}, True, "missing", [], False),
    ("scaled replicas", DEPLOYMENT, live_deployment(**{"spec.replicas": 3}), {}, True,
     "modified", [{"path": "spec.replicas", "desired": 1, "live": 3}], True),
    ("scaled replicas without values", DEPLOYMENT, live_deployment(**{"spec.replicas": 0}), {}, False,
     "modified", [{"path": "spec.replicas"}], True),
    ("edited ConfigMap data", CONFIGMAP, live_configmap({"greeting": "bye", "mode": "fast"}), {}, True,
     "modified", [{"path": "data.greeting", "desired": "hello", "live": "bye"}], True),
    ("ConfigMap key deleted by hand", CONFIGMAP, live_configmap({"greeting": "hello"}), {}, True,
     "modified", [{"path": "data.mode", "desired": "fast", "live": None}], True),
    ("ConfigMap key added by hand is not drift", CONFIGMAP, live_configmap(
        {"greeting": "hello", "mode": "fast", "extra": "x"}), {}, True,
     "in_sync", [], False),
    ("Secret stringData is the data the server made of it", SECRET, LIVE_SECRET, {}, True, "in_sync", [], False),
    ("edited Secret data: the path, never a value", SECRET,
     dict(LIVE_SECRET, data={"user": b64("admin"), "password": b64("hand-edited")}), {}, True,
     "modified", [{"path": "data.password"}], True),
    ("ignored field", DEPLOYMENT, live_deployment(**{"spec.replicas": 5}), {"Deployment": ["spec.replicas"]}, True,
     "in_sync", [], False),
    ("ignored for every kind", CONFIGMAP, live_configmap({"greeting": "bye", "mode": "fast"}), {"*": ["data"]},
     True, "in_sync", [], False),
    ("ignored for another kind only", CONFIGMAP, live_configmap({"greeting": "bye", "mode": "fast"}),
     {"Deployment": ["data"]}, False, "modified", [{"path": "data.greeting"}], True),
    ("ignoring one field keeps the others", DEPLOYMENT,
     live_deployment(**{"spec.replicas": 5, "spec.template.spec.containers.0.image": "demo:2.0"}),
     {"Deployment": ["spec.replicas"]}, False,
     "modified", [{"path": "spec.template.spec.containers[name=web].image"}], True),
    ("containers matched by name, in any order, extra env added by hand", DEPLOYMENT,
     live_deployment(**{"spec.template.spec.containers": list(reversed(live_deployment()["spec"]["template"]["spec"][
         "containers"]))}), {}, True, "in_sync", [], False),
    ("env matched by name: an edited value", with_env(DEPLOYMENT, [{"name": "MODE", "value": "fast"}]),
     live_deployment(**{"spec.template.spec.containers.0.env": [{"name": "EXTRA", "value": "1"},
                                                                {"name": "MODE", "value": "slow"}]}),
     {}, True, "modified",
     [{"path": "spec.template.spec.containers[name=web].env[name=MODE].value", "desired": "fast", "live": "slow"}], True),
    ("quantities normalised by the dry run", with_cpu(DEPLOYMENT, 0.5),
     live_deployment(**{"spec.template.spec.containers.0.resources": {"requests": {"cpu": "500m", "memory": "64Mi"}}}),
     {}, True, "in_sync", [], True),
    ("a custom resource's lists are compared by position", WIDGET,
     {"metadata": {"name": "w"}, "spec": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}},
     {}, False, "in_sync", [], True),
]


@pytest.mark.parametrize("case, manifest, live, ignore_fields, show_values, state, fields, dry_run_sent", COMPARE_CASES,
                         ids=[case[0] for case in COMPARE_CASES])
def test_compare_object(case, manifest, live, ignore_fields, show_values, state, fields, dry_run_sent):
    bodies = []

    def dry_run(body):
        bodies.append(body)
        if manifest["kind"] == "Widget":
            return copy.deepcopy(live)  # its schema keys env by name: the server keeps the extra item
        return server_apply(body, live)

    ignore, problems = drift.parse_ignore_fields(ignore_fields)
    assert not problems
    ref = ref_of(manifest)
    result, sent = drift.compare_object(ref, manifest, copy.deepcopy(live) if live else None,
                                        drift.ignored_paths(ignore, ref.kind), show_values, dry_run)
    assert (result["state"], result["fields"], sent) == (state, fields, dry_run_sent), case
    assert len(bodies) == int(dry_run_sent)
    if state == "modified":
        assert result["confirmed"] is True
    for body in bodies:
        assert body["metadata"]["namespace"] == "shop"
        assert "replicas" not in body.get("spec", {}) or "Deployment" not in ignore_fields


def test_secret_values_never_reach_the_result():
    live = dict(LIVE_SECRET, data={"user": b64("root-user"), "password": b64("hand-edited")}, stringData=None)
    result, _sent = drift.compare_object(ref_of(SECRET), SECRET, live, [], True, lambda body: server_apply(body, live))
    text = repr(result)
    for secret in ("s3cret-value", "hand-edited", "root-user", b64("s3cret-value"), b64("hand-edited"), b64("root-user")):
        assert secret not in text
    assert [entry["path"] for entry in result["fields"]] == ["data.user", "data.password"]


@pytest.mark.parametrize("manifest, reason", [
    (DEPLOYMENT, "the server-side apply dry run was refused (403): deployments.apps \"web\" is forbidden"),
    # a Secret's refusal may quote it: only the status
    (SECRET, "the server-side apply dry run was refused (422)"),
])
def test_a_refused_dry_run_reports_the_subset_comparison_unconfirmed(manifest, reason):
    live = live_deployment(**{"spec.replicas": 3}) if manifest is DEPLOYMENT else dict(
        LIVE_SECRET, data={"user": b64("admin"), "password": b64("other")})
    status = 403 if manifest is DEPLOYMENT else 422
    message = 'deployments.apps "web" is forbidden' if manifest is DEPLOYMENT else 'Secret "credentials": data[password]: other'

    def refuse(_body):
        raise KubeError(REJECTED, "refused: " + message, status=status, server_message=message)

    result, sent = drift.compare_object(ref_of(manifest), manifest, live, [], True, refuse)
    assert sent and result["state"] == "modified" and result["confirmed"] is False
    assert result["reason"] == reason
    if manifest is DEPLOYMENT:
        assert result["fields"] == [{"path": "spec.replicas", "desired": 1, "live": 3}]
    else:
        assert result["fields"] == [{"path": "data.password"}]


@pytest.mark.parametrize("error", [
    KubeError("cluster_unreachable", "The Kubernetes API server did not answer"),
    KubeError("access_denied", "the credentials were not accepted", status=401),
    KubeError("api_error", "the request timed out", status=408),
    KubeError("throttled", "too many requests", status=429),
    KubeError("api_error", "etcdserver: leader changed", status=500),
    KubeError("cluster_unreachable", "service unavailable", status=503),
])
def test_a_dry_run_that_says_nothing_of_the_object_is_never_drift(error):
    live = live_deployment(**{"spec.replicas": 3})

    def fail(_body):
        raise error

    with pytest.raises(KubeError) as raised:
        drift.compare_object(ref_of(DEPLOYMENT), DEPLOYMENT, live, [], True, fail)
    assert raised.value is error


def test_a_body_the_schema_cannot_type_is_a_verdict_although_answered_500():
    live = live_deployment(**{"spec.replicas": 3})
    message = drift.UNTYPABLE + " (shop/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric"

    def refuse(_body):
        raise KubeError("api_error", message, status=500, server_message=message)

    result, sent = drift.compare_object(ref_of(DEPLOYMENT), DEPLOYMENT, live, [], True, refuse)
    assert sent and result["state"] == "modified" and result["confirmed"] is False
    assert result["reason"] == "the server-side apply dry run was refused (500): " + message


def test_a_manifest_that_is_not_yaml_is_named_without_the_text_the_parser_quotes():
    manifest = "apiVersion: v1\nkind: Secret\nstringData:\n  password: [hunter2-supersecret\n"
    with pytest.raises(drift.TaskError) as raised:
        drift.revision_objects(drift.Target("web", "shop", release_record(3, manifest)), drift.load_documents)
    assert raised.value.kind == "invalid_release_record", raised.value.message
    assert "hunter2" not in raised.value.message and "password" not in raised.value.message, raised.value.message
    assert raised.value.message.startswith("The manifest of revision 3 of release web is not YAML ("), raised.value.message
    assert " at line " in raised.value.message, raised.value.message


# --- the subset comparison and the confirmed one, on their own --------------------------------------

@pytest.mark.parametrize("desired, live, keyed, paths", [
    ({"a": 1}, {"a": 1, "b": 2}, True, []),
    ({"a": None, "b": {}, "c": []}, {}, True, []),  # unset fields
    ({"a": {"b": 1}}, {}, True, [("a", "b")]),
    ({"a": 1}, {"a": "1"}, True, [("a",)]),  # the dry run decides about normalisation
    ({"a": True}, {"a": 1}, True, [("a",)]),
    ({"a": 1}, {"a": 1.0}, True, []),
    ({"args": ["x", "y"]}, {"args": ["x", "y", "z"]}, True, [("args",)]),  # scalar lists are atomic
    ({"finalizers": ["a"]}, {"finalizers": ["b", "a"]}, True, []),  # a set
    ({"finalizers": ["a"]}, {"finalizers": ["b"]}, True, [("finalizers",)]),
    ({"env": [{"name": "A", "value": "1"}]}, {"env": [{"name": "B"}, {"name": "A", "value": "1"}]}, True, []),
    ({"env": [{"name": "A", "value": "1"}]}, {"env": [{"name": "B"}]}, True, [("env", Keyed((("name", "A"),)))]),
    ({"env": [{"name": "A", "value": "1"}]}, {"env": [{"name": "B"}, {"name": "A", "value": "1"}]}, False, [("env",)]),
    ({"ports": [{"containerPort": 53, "protocol": "UDP"}]},
     {"ports": [{"containerPort": 53, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]}, True, []),
    ({"ports": [{"containerPort": 53}]}, {"ports": [{"containerPort": 53, "protocol": "UDP"}]}, True,
     [("ports", Keyed((("containerPort", "53"), ("protocol", "TCP"))))]),
    ({"rules": [{"verbs": ["get"]}]}, {"rules": [{"verbs": ["get", "list"]}]}, True, [("rules", 0, "verbs")]),
])
def test_manifest_differences(desired, live, keyed, paths):
    assert drift.manifest_differences(desired, live, keyed) == paths


@pytest.mark.parametrize("applied, live, paths", [
    ({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 2}}, []),
    ({"a": 1}, {"a": 2}, ["a"]),
    ({"a": 1}, {}, ["a"]),
    ({}, {"a": 1}, ["a"]),  # an apply that would remove a field (a Service type change drops its node ports)
    ({"a": ""}, {}, []),
    ({"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]},
     {"containers": [{"name": "b", "image": "2"}, {"name": "a", "image": "3"}]}, ["containers[name=a].image"]),
    ({"containers": [{"name": "a"}, {"name": "b"}]}, {"containers": [{"name": "a"}]}, ["containers[name=b]"]),
    ({"args": ["x"]}, {"args": ["y"]}, ["args"]),
    ({"ports": [{"port": 80, "protocol": "UDP"}]}, {"ports": [{"port": 80, "protocol": "TCP"}]},
     ["ports[port=80,protocol=UDP]", "ports[port=80]"]),
])
def test_applied_differences(applied, live, paths):
    assert [drift.format_path(difference.path) for difference in drift.applied_differences(applied, live)] == paths


def test_comparable_drops_what_is_never_drift():
    live = live_deployment()
    result = drift.comparable(live, [drift.parse_path("spec.template.spec.containers[name=sidecar]")])
    assert "status" not in result and "kind" not in result
    assert set(result["metadata"]) == {"name", "labels", "namespace"}
    assert [container["name"] for container in result["spec"]["template"]["spec"]["containers"]] == ["web"]
    assert "status" in live and live["metadata"]["uid"] == "1234"  # a copy


def test_desired_object_writes_string_data_into_data():
    desired = drift.desired_object(dict(SECRET, stringData={"password": "p", "user": "u"}), ref_of(SECRET))
    assert desired["data"] == {"password": b64("p"), "user": b64("u")}  # stringData wins, as on the server
    assert "stringData" not in desired and desired["metadata"]["namespace"] == "shop"
    assert "stringData" in SECRET


# --- paths --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, path", [
    ("spec.replicas", ("spec", "replicas")),
    ("spec.template.spec.containers[name=web].image", ("spec", "template", "spec", "containers", Keyed((("name", "web"),)), "image")),
    ("spec.containers[0].ports[*].name", ("spec", "containers", 0, "ports", "*", "name")),
    ('metadata.labels["app.kubernetes.io/name"]', ("metadata", "labels", "app.kubernetes.io/name")),
    (r"metadata.annotations.example\.com/owner", ("metadata", "annotations", "example.com/owner")),
    ("ports[containerPort=53,protocol=UDP]", ("ports", Keyed((("containerPort", "53"), ("protocol", "UDP"))))),
    ("data", ("data",)),
])
def test_parse_path(text, path):
    assert drift.parse_path(text) == path


@pytest.mark.parametrize("path, text", [
    (("spec", "replicas"), "spec.replicas"),
    (("data", "tls.crt"), 'data["tls.crt"]'),
    (("spec", "ports", Keyed((("port", "80"), ("protocol", "TCP")))), "spec.ports[port=80]"),
    (("spec", "ports", Keyed((("port", "53"), ("protocol", "UDP"))), "name"), "spec.ports[port=53,protocol=UDP].name"),
    (("rules", 0, "verbs"), "rules[0].verbs"),
])
def test_format_path_reads_back(path, text):
    assert drift.format_path(path) == text
    parsed = drift.parse_path(text)
    assert drift.format_path(parsed) == text


@pytest.mark.parametrize("text", ["", "spec..replicas", "spec.", ".spec", "a[", "a]", "a[x]", 'a["b"', "a[0]b", None, 3])
def test_parse_path_refuses(text):
    with pytest.raises(ValueError):
        drift.parse_path(text)


def test_parse_ignore_fields_names_every_problem():
    ignore, problems = drift.parse_ignore_fields({"Deployment": ["spec.replicas", "spec..x"], "Service": 3,
                                                  "ConfigMap": "data"})
    assert ignore == {"Deployment": [("spec", "replicas")], "ConfigMap": [("data",)]}
    assert len(problems) == 2 and "ignore_fields[Deployment]" in problems[0] and "ignore_fields[Service]" in problems[1]
    assert drift.parse_ignore_fields(["spec"])[1] == ["ignore_fields must be a dictionary of kind: [paths], got list"]


@pytest.mark.parametrize("paths, expected", [
    (["spec.replicas"], {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "1"}, {"name": "b", "image": "2"}]}}}}),
    (["spec.template.spec.containers.image"], {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web"}, {"name": "b"}]}}}}),
    (["spec.template.spec.containers[name=b]"], {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "1"}]}}}}),
    (["spec.template.spec.containers[1].image", "nothing.here"],
     {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "1"}, {"name": "b"}]}}}}),
    (["spec.template.spec.containers[*]"], {"spec": {"replicas": 1, "template": {"spec": {"containers": []}}}}),
])
def test_without_fields(paths, expected):
    obj = {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "1"}, {"name": "b", "image": "2"}]}}}}
    assert drift.without_fields(obj, [drift.parse_path(path) for path in paths]) == expected
    assert obj["spec"]["replicas"] == 1


# --- the manifest and its reads -------------------------------------------------------------------

MANIFEST = """---
# Source: demo/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: hello
---
# Source: demo/templates/empty.yaml
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: second
      namespace: other
  - apiVersion: v1
    kind: Service
    metadata:
      name: web
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: ignored-for-cluster-scoped
---
kind: NotAnObject
"""


def test_manifest_objects_and_their_reads():
    objects = drift.manifest_objects(MANIFEST, drift.load_documents)
    assert [(obj["kind"], obj["metadata"]["name"]) for obj in objects] == [
        ("ConfigMap", "settings"), ("ConfigMap", "second"), ("Service", "web"), ("ClusterRole", "reader")]
    refs = [drift.object_ref(obj, "shop", obj["kind"] != "ClusterRole") for obj in objects]
    assert refs == [ObjectRef("v1", "ConfigMap", "shop", "settings"), ObjectRef("v1", "ConfigMap", "other", "second"),
                    ObjectRef("v1", "Service", "shop", "web"),
                    ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader")]
    assert drift.read_plan(refs + [ObjectRef("v1", "ConfigMap", "shop", "more")]) == [
        Read("v1", "ConfigMap", "shop", ("settings", "more")), Read("v1", "ConfigMap", "other", ("second",)),
        Read("v1", "Service", "shop", ("web",)), Read("rbac.authorization.k8s.io/v1", "ClusterRole", "", ("reader",))]


def test_apply_body_is_the_manifest_object_in_its_namespace():
    cluster_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "r", "namespace": "x"}}
    assert drift.apply_body(cluster_role, ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "", "r"))[
        "metadata"] == {"name": "r"}
    body = drift.apply_body(SECRET, ref_of(SECRET), [drift.parse_path("data.user")])
    assert body["stringData"] == SECRET["stringData"] and body["data"] == {} and body["metadata"]["namespace"] == "shop"


@pytest.mark.parametrize("revision, found, stored", [(None, 3, [1, 2, 3]), (2, 2, [1, 2, 3]), (7, None, [1, 2, 3])])
def test_select_revision(revision, found, stored):
    records = [{"version": number} for number in (1, 2, 3)]
    record, numbers = drift.select_revision(records, revision)
    assert (record and record["version"], numbers) == (found, stored)


def test_secret_values_as_carried_and_decoded():
    assert drift.secret_values(LIVE_SECRET) == [b64("admin"), "admin", b64("s3cret-value"), "s3cret-value"]
    assert drift.secret_values(SECRET) == [b64("admin"), "admin", "s3cret-value"]
    assert drift.secret_values({"data": {"bin": base64.b64encode(b"\xff\xfe").decode()}}) == ["//4="]
    assert drift.secret_values(None) == []


# --- the whole check over a fake API ----------------------------------------------------------------

class FakeApi(object):
    """The API check_release_drift drives, answered from memory; every call counts as a request."""

    def __init__(self, records, live, served=True, refused=None):
        self.records = records
        self.live = live  # {(kind, namespace, name): object}
        self.served = served
        # {(kind, namespace) or api_version: KubeError} raised by that kind's read in that namespace, or by that
        # group version's discovery
        self.refused = refused or {}
        self.requests = 0
        self.calls = []

    @staticmethod
    def run_concurrently(function, items):
        return [function(item) for item in items]

    def release_records(self, name, namespace):
        self.requests += 1
        self.calls.append(("records", name, namespace))
        return self.records

    def resource(self, api_version, kind):
        known = kube_types.KNOWN_RESOURCES.get((api_version, kind))
        if known is None:
            self.requests += 1
            self.calls.append(("discovery", api_version))
            if api_version in self.refused:
                raise self.refused[api_version]
            return kube_types.Resource(kind.lower() + "s", True) if self.served else None
        return known

    def read(self, resource, read):
        self.requests += 1
        self.calls.append(("read", read.kind, read.namespace, read.names))
        if (read.kind, read.namespace) in self.refused:
            raise self.refused[(read.kind, read.namespace)]
        return {name: copy.deepcopy(self.live[(read.kind, read.namespace, name)]) for name in read.names
                if (read.kind, read.namespace, name) in self.live}

    def dry_run(self, resource, ref, body):
        self.requests += 1
        self.calls.append(("dry_run", ref.kind, ref.name))
        return server_apply(body, self.live[(ref.kind, ref.namespace, ref.name)])


def release_record(version, manifest, status="deployed"):
    return {"name": "web", "namespace": "shop", "version": version, "info": {"status": status}, "manifest": manifest}


def two_object_manifest(greeting="hello"):
    return "---\n" + drift_yaml(dict(CONFIGMAP, data={"greeting": greeting, "mode": "fast"})) + "---\n" + drift_yaml(SECRET)


def drift_yaml(obj):
    import yaml  # pylint: disable=import-outside-toplevel
    return yaml.safe_dump(obj)


def test_check_release_drift_reads_each_group_once_and_dry_runs_only_the_flagged():
    live = {("ConfigMap", "shop", "settings"): live_configmap({"greeting": "bye", "mode": "fast"}),
            ("Secret", "shop", "credentials"): LIVE_SECRET}
    api = FakeApi([release_record(1, two_object_manifest("old")), release_record(2, two_object_manifest())], live)
    masked = []
    result = drift.check_release_drift(api, "web", "shop", None, {}, True, on_secret_values=masked.extend)
    assert result["revision"] == 2 and result["status"] == "deployed" and result["drifted"] is True
    assert [(obj["kind"], obj["state"]) for obj in result["objects"]] == [("ConfigMap", "modified"), ("Secret", "in_sync")]
    assert result["summary"] == {"objects": 2, "missing": 0, "modified": 1, "in_sync": 1}
    assert result["dry_runs"] == 1 and result["api_requests"] == api.requests == 4
    assert api.calls == [("records", "web", "shop"), ("read", "ConfigMap", "shop", ("settings",)),
                         ("read", "Secret", "shop", ("credentials",)), ("dry_run", "ConfigMap", "settings")]
    assert "s3cret-value" in masked and b64("s3cret-value") in masked  # from the manifest and from the live Secret


def test_check_release_drift_of_an_older_revision():
    live = {("ConfigMap", "shop", "settings"): live_configmap({"greeting": "hello", "mode": "fast"}),
            ("Secret", "shop", "credentials"): LIVE_SECRET}
    api = FakeApi([release_record(1, two_object_manifest("old"), "superseded"), release_record(2, two_object_manifest())], live)
    result = drift.check_release_drift(api, "web", "shop", 1)
    assert (result["revision"], result["status"], result["drifted"]) == (1, "superseded", True)
    assert result["objects"][0]["fields"] == [{"path": "data.greeting"}]


def test_a_kind_the_server_does_not_serve_is_missing():
    api = FakeApi([release_record(1, "---\n" + drift_yaml(WIDGET))], {}, served=False)
    result = drift.check_release_drift(api, "web", "shop")
    assert result["objects"] == [{"api_version": "example.com/v1", "kind": "Widget", "namespace": "shop", "name": "w",
                                  "state": "missing", "fields": [],
                                  "reason": "the API server does not serve example.com/v1 Widget"}]
    assert api.calls == [("records", "web", "shop"), ("discovery", "example.com/v1")]


def test_a_release_without_objects_is_not_drifted():
    result = drift.check_release_drift(FakeApi([release_record(1, "")], {}), "web", "shop")
    assert (result["drifted"], result["objects"], result["summary"]["objects"]) == (False, [], 0)


@pytest.mark.parametrize("records, revision, kind, message", [
    ([], None, "release_not_found", "Release web not found in namespace shop"),
    ([release_record(4, ""), release_record(5, "")], 2, "revision_not_found", "the stored revisions are 4, 5"),
    ([release_record(1, "a: [")], None, "invalid_release_record", "is not YAML"),
])
def test_nothing_to_compare_is_a_classified_failure(records, revision, kind, message):
    with pytest.raises(TaskError) as failure:
        drift.check_release_drift(FakeApi(records, {}), "web", "shop", revision)
    assert failure.value.kind == kind and message in failure.value.message


def configmap_named(name, greeting="hello"):
    return dict(CONFIGMAP, metadata={"name": name}, data={"greeting": greeting, "mode": "fast"})


def live_configmap_named(name, namespace, greeting="hello"):
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": "5"},
            "data": {"greeting": greeting, "mode": "fast"}}


def test_check_records_drift_shares_one_read_per_kind_and_namespace_across_releases():
    targets = [drift.Target(name, namespace, dict(release_record(3, "---\n" + drift_yaml(configmap_named(name))), name=name,
                                                  namespace=namespace))
               for name, namespace in (("web", "shop"), ("api", "shop"), ("cart", "shop"), ("ledger", "billing"))]
    live = {("ConfigMap", "shop", "web"): live_configmap_named("web", "shop"),
            ("ConfigMap", "shop", "api"): live_configmap_named("api", "shop", "edited by hand"),
            ("ConfigMap", "billing", "ledger"): live_configmap_named("ledger", "billing")}
    api = FakeApi([], live)
    checks = drift.check_records_drift(api, targets)
    assert [(check["release"], check["namespace"], check["revision"], check["drifted"]) for check in checks] == [
        ("web", "shop", 3, False), ("api", "shop", 3, True), ("cart", "shop", 3, True), ("ledger", "billing", 3, False)]
    assert [obj["state"] for check in checks for obj in check["objects"]] == ["in_sync", "modified", "missing", "in_sync"]
    assert checks[1]["objects"][0]["fields"] == [{"path": "data.greeting"}]
    # two reads for four releases, and a dry run only for the one object the comparison flagged
    assert api.calls == [("read", "ConfigMap", "shop", ("web", "api", "cart")), ("read", "ConfigMap", "billing", ("ledger",)),
                         ("dry_run", "ConfigMap", "api")]
    assert [check["dry_runs"] for check in checks] == [0, 1, 0, 0] and "api_requests" not in checks[0]


def test_check_records_drift_of_no_release_sends_nothing():
    api = FakeApi([], {})
    assert drift.check_records_drift(api, []) == [] and api.calls == []


@pytest.mark.parametrize("check, digest", [
    ({"revision": 3, "drifted": True, "summary": {"objects": 2}, "api_requests": 5, "objects": [
        {"kind": "ConfigMap", "namespace": "shop", "name": "web", "state": "modified", "fields": [{"path": "data.greeting",
                                                                                                  "live": "hi"}]},
        {"kind": "Secret", "namespace": "shop", "name": "web", "state": "in_sync", "fields": []}]},
     {"revision": 3, "drifted": True, "summary": {"objects": 2}, "api_requests": 5, "objects": [
         {"kind": "ConfigMap", "namespace": "shop", "name": "web", "state": "modified", "fields": ["data.greeting"]}]}),
    # a fleet scan's check counts no requests of its own
    ({"revision": 1, "drifted": False, "summary": {"objects": 0}, "objects": []},
     {"revision": 1, "drifted": False, "summary": {"objects": 0}, "objects": []}),
])
def test_drift_digest(check, digest):
    assert drift.drift_digest(check) == digest


# --- a fleet's scan: what cannot be read fails only the releases it concerns -----------------------------

DENIED = KubeError("access_denied", 'clusterroles.rbac.authorization.k8s.io is forbidden: User "t1" cannot list ...',
                   status=403, reason="Forbidden")
UNREACHABLE = KubeError("cluster_unreachable", "The Kubernetes API server did not answer")
CLUSTER_ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"},
                "rules": []}


@pytest.mark.parametrize("error, isolated", [
    (DENIED, True),
    (KubeError("not_found", "namespaces \"gone\" not found", status=404), True),
    (KubeError("rejected", "denied by a policy", status=403), True),
    (KubeError("access_denied", "the credentials were not accepted", status=401), False),
    (KubeError("throttled", "too many requests", status=429), False),
    (KubeError("api_error", "internal error", status=500), False),
    (KubeError("cluster_unreachable", "bad gateway", status=502), False),
    (UNREACHABLE, False),
    # a timeout, a conflict and an expired paged LIST say nothing of what was read: list again, fail, never a row
    (KubeError("api_error", "the request timed out", status=408), False),
    (KubeError("conflict", "the object has been modified", status=409), False),
    (KubeError("api_error", "the continue token has expired", status=410, reason="Expired"), False),
])
def test_which_refusals_concern_only_what_was_read(error, isolated):
    assert error.isolated is isolated


REF_CM_SHOP = ObjectRef("v1", "ConfigMap", "shop", "web")
REF_CM_BOOKS = ObjectRef("v1", "ConfigMap", "books", "db")
REF_CR = ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader")
F_READ = {"what": "v1 ConfigMap in namespace books", "error_kind": "access_denied", "msg": "no"}
F_KIND = {"what": "the API of example.com/v1 Widget", "error_kind": "access_denied", "msg": "no"}
F_CR = {"what": "rbac.authorization.k8s.io/v1 ClusterRole cluster-wide", "error_kind": "access_denied", "msg": "no"}
F_YAML = {"what": "the manifest of revision 1", "error_kind": "invalid_release_record", "msg": "not YAML"}


@pytest.mark.parametrize("owners, manifests, kinds, reads, failed", [
    # nothing refused: no target failed
    ([(0, REF_CM_SHOP), (1, REF_CM_BOOKS)], {}, {}, {}, {}),
    # one namespace's read refused: only its release
    ([(0, REF_CM_SHOP), (1, REF_CM_BOOKS)], {}, {}, {("v1", "ConfigMap", "books"): F_READ}, {1: [F_READ]}),
    # a cluster-scoped kind refused: every release with an object of it, each failure named once
    ([(0, REF_CM_SHOP), (0, REF_CR), (0, REF_CR), (1, REF_CR), (2, REF_CM_BOOKS)], {}, {},
     {("rbac.authorization.k8s.io/v1", "ClusterRole", ""): F_CR}, {0: [F_CR], 1: [F_CR]}),
    # a kind whose API could not be asked
    ([(0, ObjectRef("example.com/v1", "Widget", "shop", "w")), (1, REF_CM_BOOKS)], {},
     {("example.com/v1", "Widget"): F_KIND}, {}, {0: [F_KIND]}),
    # a manifest that is not YAML first, then what else its release could not read
    ([(1, REF_CM_BOOKS)], {1: F_YAML}, {}, {("v1", "ConfigMap", "books"): F_READ}, {1: [F_YAML, F_READ]}),
])
def test_failed_targets(owners, manifests, kinds, reads, failed):
    assert drift.failed_targets(owners, manifests, kinds, reads) == failed


def targets_of(*releases):
    """Targets of revision 3 with the manifests given, as (name, namespace, manifest) triples."""
    return [drift.Target(name, namespace, dict(release_record(3, manifest), name=name, namespace=namespace))
            for name, namespace, manifest in releases]


def fleet_of_three():
    return targets_of(("web", "shop", "---\n" + drift_yaml(configmap_named("web"))),
                      ("wide", "shop", "---\n" + drift_yaml(configmap_named("wide")) + "---\n" + drift_yaml(CLUSTER_ROLE)),
                      ("db", "books", "---\n" + drift_yaml(configmap_named("db", "bye"))))


def fleet_live():
    return {("ConfigMap", "shop", "web"): live_configmap_named("web", "shop"),
            ("ConfigMap", "shop", "wide"): live_configmap_named("wide", "shop"),
            ("ConfigMap", "books", "db"): live_configmap_named("db", "books", "bye")}


def test_a_refused_kind_fails_only_the_releases_with_it():
    api = FakeApi([], fleet_live(), refused={("ClusterRole", ""): DENIED})
    checks = drift.check_records_drift(api, fleet_of_three(), isolate=True)
    assert [(check["release"], check["drifted"], check.get("error_kind")) for check in checks] == [
        ("web", False, None), ("wide", None, "access_denied"), ("db", False, None)]
    wide = checks[1]
    assert wide["msg"] == "could not read rbac.authorization.k8s.io/v1 ClusterRole cluster-wide: " + DENIED.message
    assert (wide["api_status"], wide["objects"], wide["summary"]["objects"], wide["dry_runs"]) == (403, [], 0, 0)
    assert wide["revision"] == 3 and wide["status"] == "deployed"
    # without isolate (one release's check), the refusal fails the check as before
    with pytest.raises(KubeError) as failure:
        drift.check_records_drift(FakeApi([], fleet_live(), refused={("ClusterRole", ""): DENIED}), fleet_of_three())
    assert failure.value is DENIED


def test_a_refused_namespace_fails_only_its_releases():
    api = FakeApi([], fleet_live(), refused={("ConfigMap", "books"): DENIED})
    checks = drift.check_records_drift(api, fleet_of_three(), isolate=True)
    assert [(check["release"], check["drifted"], check.get("error_kind")) for check in checks] == [
        ("web", False, None), ("wide", True, None), ("db", None, "access_denied")]  # wide: its ClusterRole is missing
    assert checks[2]["msg"].startswith("could not read v1 ConfigMap in namespace books: ")


def test_a_kind_whose_api_cannot_be_asked_fails_only_its_releases():
    targets = targets_of(("web", "shop", "---\n" + drift_yaml(configmap_named("web"))),
                         ("gadget", "shop", "---\n" + drift_yaml(WIDGET)))
    api = FakeApi([], fleet_live(), refused={"example.com/v1": DENIED})
    checks = drift.check_records_drift(api, targets, isolate=True)
    assert [(check["release"], check["drifted"], check.get("error_kind")) for check in checks] == [
        ("web", False, None), ("gadget", None, "access_denied")]
    assert "the API of example.com/v1 Widget" in checks[1]["msg"]


def test_a_manifest_that_is_not_yaml_fails_only_its_release():
    targets = targets_of(("web", "shop", "---\n" + drift_yaml(configmap_named("web"))), ("broken", "shop", "a: ["))
    checks = drift.check_records_drift(FakeApi([], fleet_live()), targets, isolate=True)
    assert [(check["release"], check["drifted"], check.get("error_kind")) for check in checks] == [
        ("web", False, None), ("broken", None, "invalid_release_record")]
    assert "is not YAML" in checks[1]["msg"]
    with pytest.raises(TaskError):
        drift.check_records_drift(FakeApi([], fleet_live()), targets)


def test_an_unreachable_server_still_fails_the_scan():
    api = FakeApi([], fleet_live(), refused={("ConfigMap", "books"): UNREACHABLE})
    with pytest.raises(KubeError) as failure:
        drift.check_records_drift(api, fleet_of_three(), isolate=True)
    assert failure.value is UNREACHABLE


def test_one_release_check_still_fails_with_what_the_api_answered():
    api = FakeApi([release_record(1, "---\n" + drift_yaml(CLUSTER_ROLE))], {}, refused={("ClusterRole", ""): DENIED})
    with pytest.raises(KubeError) as failure:
        drift.check_release_drift(api, "web", "shop")
    assert failure.value is DENIED

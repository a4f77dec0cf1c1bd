"""The emulator on its own, over real HTTP (no Helm): the behaviour Helm and client-go rely on."""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

import kubeemu
from kubeemu import patch, protobuf
from kubeemu.discovery import AGGREGATED_DISCOVERY_TYPE
from kubeemu.selectors import SelectorError, parse_field_selector, parse_label_selector

TESTBED_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def emulator():
    with kubeemu.Emulator() as running:
        yield running


@pytest.fixture
def ns(emulator, request):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    name = "u-" + uuid.uuid4().hex[:10]
    emulator.create_namespace(name)
    return name


class Response:
    def __init__(self, code, headers, body):
        self.code = code
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def call(emu, method, path, body=None, content_type="application/json", headers=None):
    """One HTTP request; error statuses are returned, not raised."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(emu.url + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


def configmap(name, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"a": "1"}}


def deployment(name, image="registry.local/app:1", replicas=1):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image, "env": [{"name": "A", "value": "1"}]}]}},
        },
    }


def condition(obj, kind):
    return next((c for c in obj["status"].get("conditions", []) if c["type"] == kind), None)


# --- protobuf --------------------------------------------------------------------------------

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "sh.helm.release.v1.demo.v1",
        "namespace": "default",
        "labels": {"name": "demo", "owner": "helm", "status": "deployed", "version": "1"},
        "annotations": {"note": "ü"},
        "resourceVersion": "42",
        "generation": 3,
        "creationTimestamp": "2024-05-01T10:20:30Z",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u-1", "controller": True}],
        "finalizers": ["a", "b"],
    },
    "type": "helm.sh/release.v1",
    "data": {"release": base64.b64encode(b"\x00\x01binary\xff" * 50).decode("ascii"), "empty": ""},
}


def test_protobuf_roundtrip_of_a_secret():
    assert protobuf.decode_object(protobuf.encode_object(SECRET)) == SECRET


@pytest.mark.parametrize("obj", [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}, "binaryData": {"b": "AAE="}},
    {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground", "gracePeriodSeconds": -1,
     "preconditions": {"uid": "x"}, "dryRun": ["All"]},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}},
])
def test_protobuf_roundtrip_of_other_kinds(obj):
    assert protobuf.decode_object(protobuf.encode_object(obj)) == obj


def test_protobuf_rejects_unknown_kinds_and_missing_magic():
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode_object(b"not protobuf")
    with pytest.raises(protobuf.ProtobufError):
        protobuf.encode_object({"kind": "Deployment"})


def test_protobuf_bodies_are_accepted_by_the_server(emulator, ns):
    secret = dict(SECRET, metadata={"name": "pb", "labels": {"owner": "helm"}})
    created = call(emulator, "POST", "/api/v1/namespaces/%s/secrets" % ns, protobuf.encode_object(secret), protobuf.CONTENT_TYPE)
    assert created.code == 201
    assert created.json()["data"] == SECRET["data"]
    options = protobuf.encode_object({"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"})
    assert call(emulator, "DELETE", "/api/v1/namespaces/%s/secrets/pb" % ns, options, protobuf.CONTENT_TYPE).code == 200


# --- selectors ------------------------------------------------------------------------------

LABELS = {"name": "demo", "owner": "helm", "status": "deployed", "version": "3"}
LABEL_SELECTOR_CASES = [
    ("", True),
    ("name=demo,owner=helm,status=deployed", True),
    ("name==demo", True),
    ("name=other", False),
    ("status!=failed", True),
    ("status!=deployed", False),
    ("status in (deployed, superseded)", True),
    ("status in (failed)", False),
    ("status notin (failed,pending-upgrade),owner=helm", True),
    ("missing notin (x)", True),
    ("owner", True),
    ("!owner", False),
    ("!missing", True),
    ("version>2", True),
    ("version<3", False),
]


@pytest.mark.parametrize("selector, expected", LABEL_SELECTOR_CASES)
def test_label_selector(selector, expected):
    assert parse_label_selector(selector)(LABELS) is expected


@pytest.mark.parametrize("selector, expected", [
    ("metadata.name=a", True),
    ("metadata.name!=a", False),
    ("metadata.namespace=ns,type=Opaque", True),
    ("type==other", False),
])
def test_field_selector(selector, expected):
    assert parse_field_selector(selector)({"metadata": {"name": "a", "namespace": "ns"}, "type": "Opaque"}) is expected


@pytest.mark.parametrize("selector", ["a in (b", "=x", "a b"])
def test_bad_selectors_raise(selector):
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


def test_list_filters_by_selectors(emulator, ns):
    for name, status in (("one", "deployed"), ("two", "failed"), ("three", "superseded")):
        body = configmap(name)
        body["metadata"]["labels"] = {"owner": "helm", "status": status}
        assert call(emulator, "POST", "/api/v1/namespaces/%s/configmaps" % ns, body).code == 201
    path = "/api/v1/namespaces/%s/configmaps?labelSelector=owner%%3Dhelm%%2Cstatus%%20notin%%20(failed)" % ns
    assert sorted(i["metadata"]["name"] for i in call(emulator, "GET", path).json()["items"]) == ["one", "three"]
    by_name = call(emulator, "GET", "/api/v1/namespaces/%s/configmaps?fieldSelector=metadata.name%%3Dtwo" % ns).json()
    assert [i["metadata"]["name"] for i in by_name["items"]] == ["two"]
    assert call(emulator, "GET", "/api/v1/namespaces/%s/configmaps?labelSelector=a%%20in%%20(" % ns).code == 400


# --- CRUD semantics -------------------------------------------------------------------------

def test_resource_version_is_global_and_monotonic_and_stale_puts_conflict(emulator, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    first = call(emulator, "POST", path, configmap("rv1")).json()
    second = call(emulator, "POST", path, configmap("rv2")).json()
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])

    first["data"] = {"a": "2"}
    updated = call(emulator, "PUT", path + "/rv1", first)
    assert updated.code == 200
    assert int(updated.json()["metadata"]["resourceVersion"]) > int(second["metadata"]["resourceVersion"])

    stale = call(emulator, "PUT", path + "/rv1", first)  # still carries the old resourceVersion
    assert stale.code == 409
    assert stale.json()["reason"] == "Conflict" and stale.json()["kind"] == "Status"


def test_errors_are_status_documents(emulator, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    assert call(emulator, "POST", path, configmap("dup")).code == 201
    duplicate = call(emulator, "POST", path, configmap("dup"))
    assert (duplicate.code, duplicate.json()["reason"]) == (409, "AlreadyExists")
    missing = call(emulator, "GET", path + "/nope")
    assert (missing.code, missing.json()["reason"], missing.json()["details"]["name"]) == (404, "NotFound", "nope")
    no_namespace = call(emulator, "POST", "/api/v1/namespaces/no-such-ns/configmaps", configmap("x"))
    assert no_namespace.code == 404 and 'namespaces "no-such-ns" not found' in no_namespace.json()["message"]


def test_generation_bumps_only_on_spec_changes(emulator, ns):
    path = "/apis/apps/v1/namespaces/%s/deployments" % ns
    created = call(emulator, "POST", path, deployment("gen")).json()
    assert created["metadata"]["generation"] == 1
    labelled = call(emulator, "PATCH", path + "/gen", {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json").json()
    assert labelled["metadata"]["generation"] == 1
    scaled = call(emulator, "PATCH", path + "/gen", {"spec": {"replicas": 2}}, "application/merge-patch+json").json()
    assert scaled["metadata"]["generation"] == 2
    assert scaled["status"]["observedGeneration"] == 2


def test_strategic_merge_patch_merges_containers_by_name():
    live = deployment("smp")
    result = patch.strategic_merge_patch(live, {
        "metadata": {"labels": {"app": None, "tier": "web"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [
                {"name": "app", "image": "registry.local/app:2", "env": [{"name": "A", "$patch": "delete"}, {"name": "B", "value": "2"}]},
                {"name": "sidecar", "image": "registry.local/side:1"},
            ],
        }}},
    })
    containers = result["spec"]["template"]["spec"]["containers"]
    assert result["metadata"]["labels"] == {"tier": "web"}
    assert [(c["name"], c["image"]) for c in containers] == [("app", "registry.local/app:2"), ("sidecar", "registry.local/side:1")]
    assert containers[0]["env"] == [{"name": "B", "value": "2"}]


def test_json_patch_and_merge_patch_over_http(emulator, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    call(emulator, "POST", path, configmap("p", {"a": "1", "b": "2"}))
    merged = call(emulator, "PATCH", path + "/p", {"data": {"a": None, "c": "3"}}, "application/merge-patch+json").json()
    assert merged["data"] == {"b": "2", "c": "3"}
    operations = [{"op": "replace", "path": "/data/b", "value": "20"}, {"op": "add", "path": "/data/d", "value": "4"}]
    patched = call(emulator, "PATCH", path + "/p", operations, "application/json-patch+json").json()
    assert patched["data"] == {"b": "20", "c": "3", "d": "4"}
    failed_test = call(emulator, "PATCH", path + "/p", [{"op": "test", "path": "/data/b", "value": "x"}], "application/json-patch+json")
    assert failed_test.code == 422


def test_server_side_apply_creates_updates_and_prunes(emulator, ns):
    path = "/api/v1/namespaces/%s/services/web?fieldManager=helm&force=true" % ns
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
               "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}}
    created = call(emulator, "PATCH", path, service, "application/apply-patch+yaml")
    assert created.code == 201
    cluster_ip = created.json()["spec"]["clusterIP"]

    del service["metadata"]["labels"]["b"]
    service["spec"]["ports"] = [{"port": 8080}]
    updated = call(emulator, "PATCH", path, service, "application/apply-patch+yaml")
    assert updated.code == 200
    assert updated.json()["metadata"]["labels"] == {"a": "1"}, "a label the manager stopped applying is removed"
    assert updated.json()["spec"]["clusterIP"] == cluster_ip, "fields set by the server survive"
    assert updated.json()["spec"]["ports"] == [{"port": 8080}]

    no_manager = call(emulator, "PATCH", "/api/v1/namespaces/%s/services/web" % ns, service, "application/apply-patch+yaml")
    assert no_manager.code == 400


# --- watches --------------------------------------------------------------------------------

def read_events(emu, path, stop_after, timeout=5):
    """Read watch events (dicts) until ``stop_after(events)`` is true or the stream ends."""
    events = []
    with urllib.request.urlopen(emu.url + path, timeout=timeout) as response:
        for line in response:
            events.append(json.loads(line))
            if stop_after(events):
                break
    return events


def test_watch_streams_changes_after_a_resource_version(emulator, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    version = call(emulator, "GET", path).json()["metadata"]["resourceVersion"]

    def make_changes():
        time.sleep(0.2)
        call(emulator, "POST", path, configmap("w"))
        call(emulator, "PATCH", path + "/w", {"data": {"a": "2"}}, "application/merge-patch+json")
        call(emulator, "DELETE", path + "/w")

    writer = threading.Thread(target=make_changes)
    writer.start()
    events = read_events(emulator, path + "?watch=true&resourceVersion=%s" % version, lambda e: len(e) == 3)
    writer.join()
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(version)


def test_watch_list_sends_initial_events_then_the_bookmark(emulator, ns):
    path = "/apis/apps/v1/namespaces/%s/deployments" % ns
    call(emulator, "POST", path, deployment("initial"))
    query = "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
    bookmark_seen = threading.Event()

    def make_change():
        bookmark_seen.wait(5)
        call(emulator, "POST", path, deployment("later"))

    writer = threading.Thread(target=make_change)
    writer.start()

    def stop_after(events):
        if events[-1]["type"] == "BOOKMARK":
            bookmark_seen.set()
        return events[-1]["type"] == "ADDED" and events[-1]["object"]["metadata"]["name"] == "later"

    events = read_events(emulator, path + query, stop_after)
    writer.join()
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]] == [("ADDED", "initial"), ("BOOKMARK", None)]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[-1]["type"] == "ADDED"


def test_watch_honours_timeout_seconds(emulator, ns):
    started = time.monotonic()
    events = read_events(emulator, "/api/v1/namespaces/%s/secrets?watch=true&resourceVersion=1&timeoutSeconds=1" % ns, lambda e: False)
    assert events == []
    assert 0.9 < time.monotonic() - started < 3


# --- the simulated cluster ------------------------------------------------------------------

def test_deployment_becomes_ready_with_an_owned_replicaset(emulator, ns):
    path = "/apis/apps/v1/namespaces/%s/deployments" % ns
    created = call(emulator, "POST", path, deployment("ready", replicas=2)).json()
    live = call(emulator, "GET", path + "/ready").json()
    status = live["status"]
    assert status["observedGeneration"] == live["metadata"]["generation"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (2, 2, 2, 2)
    assert condition(live, "Available")["status"] == "True"
    assert condition(live, "Progressing")["reason"] == "NewReplicaSetAvailable"
    replicasets = call(emulator, "GET", "/apis/apps/v1/namespaces/%s/replicasets" % ns).json()["items"]
    owned = [rs for rs in replicasets if rs["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]]
    assert len(owned) == 1 and owned[0]["status"]["readyReplicas"] == 2
    pods = call(emulator, "GET", "/api/v1/namespaces/%s/pods?labelSelector=app%%3Dready" % ns).json()["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)


def test_broken_image_never_becomes_ready_and_keeps_old_pods(emulator, ns):
    path = "/apis/apps/v1/namespaces/%s/deployments" % ns
    call(emulator, "POST", path, deployment("roll"))
    broken = call(emulator, "PATCH", path + "/roll", {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/broken:2"}]}}}},
                  "application/strategic-merge-patch+json").json()
    assert condition(broken, "Progressing")["reason"] == "ReplicaSetUpdated"
    assert broken["status"]["unavailableReplicas"] == 1
    assert broken["status"]["availableReplicas"] == 1, "the old ReplicaSet keeps serving during the stuck rollout"
    pods = call(emulator, "GET", "/api/v1/namespaces/%s/pods" % ns).json()["items"]
    assert sorted(p["status"]["phase"] for p in pods) == ["Pending", "Running"]


def test_deleting_a_deployment_cascades_to_replicasets_and_pods(emulator, ns):
    call(emulator, "POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, deployment("cascade"))
    assert call(emulator, "DELETE", "/apis/apps/v1/namespaces/%s/deployments/cascade" % ns).code == 200
    assert call(emulator, "GET", "/apis/apps/v1/namespaces/%s/replicasets" % ns).json()["items"] == []
    assert call(emulator, "GET", "/api/v1/namespaces/%s/pods" % ns).json()["items"] == []


def test_jobs_complete(emulator, ns):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"containers": [{"name": "j", "image": "registry.local/job:1"}], "restartPolicy": "Never"}}}}
    call(emulator, "POST", "/apis/batch/v1/namespaces/%s/jobs" % ns, job)
    live = call(emulator, "GET", "/apis/batch/v1/namespaces/%s/jobs/j" % ns).json()
    assert live["status"]["succeeded"] == 1 and condition(live, "Complete")["status"] == "True"


@pytest.mark.parametrize("data", [{"reject": "x"}, {"mode": "reject"}])
def test_admission_rejects_marked_configmaps(emulator, ns, data):
    refused = call(emulator, "POST", "/api/v1/namespaces/%s/configmaps" % ns, configmap("bad", data))
    assert (refused.code, refused.json()["reason"]) == (422, "Invalid")
    assert "refused by the kubeemu admission policy" in refused.json()["message"]


def test_admission_also_rejects_updates(emulator, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    call(emulator, "POST", path, configmap("later-bad"))
    assert call(emulator, "PATCH", path + "/later-bad", {"data": {"reject": "1"}}, "application/strategic-merge-patch+json").code == 422
    assert call(emulator, "GET", path + "/later-bad").json()["data"] == {"a": "1"}


# --- discovery ------------------------------------------------------------------------------

def test_aggregated_discovery_and_openapi(emulator):
    aggregated = call(emulator, "GET", "/apis", headers={"Accept": AGGREGATED_DISCOVERY_TYPE + ",application/json"})
    assert aggregated.headers["Content-Type"] == AGGREGATED_DISCOVERY_TYPE
    assert "apps" in [item["metadata"]["name"] for item in aggregated.json()["items"]]
    assert call(emulator, "GET", "/apis").json()["kind"] == "APIGroupList"
    assert "secrets" in [r["name"] for r in call(emulator, "GET", "/api/v1").json()["resources"]]
    root = call(emulator, "GET", "/openapi/v3").json()["paths"]
    document = call(emulator, "GET", root["apis/apps/v1"]["serverRelativeURL"]).json()
    operation = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert operation["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert "fieldValidation" in [p["name"] for p in operation["parameters"]]


# --- admin endpoints and knobs --------------------------------------------------------------

def test_injected_faults_answer_the_next_matching_requests(emulator, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    fault = {"status": 500, "count": 2, "path_regex": "/namespaces/%s/configmaps" % ns}
    assert call(emulator, "POST", "/_emulator/faults", fault).code == 201
    assert [call(emulator, "GET", path).code for _attempt in range(3)] == [500, 500, 200]

    call(emulator, "POST", "/_emulator/faults", {"status": 429, "count": 1, "path_regex": "/namespaces/%s/" % ns, "retry_after": 2})
    throttled = call(emulator, "GET", path)
    assert (throttled.code, throttled.headers["Retry-After"], throttled.json()["reason"]) == (429, "2", "TooManyRequests")
    assert call(emulator, "GET", "/_emulator/state").json()["faults"] == []


def test_stats_count_requests_per_route_and_reset(emulator, ns):
    call(emulator, "POST", "/_emulator/reset")
    call(emulator, "GET", "/api/v1/namespaces/%s/configmaps" % ns)
    call(emulator, "GET", "/api/v1/namespaces/%s/configmaps/x" % ns)
    stats = call(emulator, "GET", "/_emulator/stats").json()
    assert stats["GET /api/v1/namespaces/*/configmaps"] == 1
    assert stats["GET /api/v1/namespaces/*/configmaps/*"] == 1
    call(emulator, "POST", "/_emulator/faults", {"status": 500, "count": 5})
    call(emulator, "POST", "/_emulator/reset")
    assert call(emulator, "GET", "/_emulator/stats").json() == {}
    assert call(emulator, "GET", "/version").code == 200


def test_require_token():
    with kubeemu.Emulator(require_token=True, token="s3cret") as emu:
        assert call(emu, "GET", "/version").code == 401
        assert call(emu, "GET", "/version", headers={"Authorization": "Bearer s3cret"}).code == 200
        with open(emu.kubeconfig_path, encoding="utf-8") as handle:
            assert "s3cret" in handle.read()


def test_stop_ends_watches_and_closes_the_port():
    emu = kubeemu.Emulator().start()
    port = int(emu.url.rsplit(":", 1)[1])
    outcome = {}

    def watch():
        outcome["events"] = read_events(emu, "/api/v1/namespaces/default/secrets?watch=true&resourceVersion=1", lambda e: False, timeout=10)

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.3)
    started = time.monotonic()
    emu.stop()
    watcher.join(5)
    assert not watcher.is_alive() and outcome["events"] == []
    assert time.monotonic() - started < 3
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_command_line_serves_until_sigterm(tmp_path):
    kubeconfig, pidfile = tmp_path / "kubeconfig", tmp_path / "pid"
    with subprocess.Popen([sys.executable, "-m", "kubeemu", "--kubeconfig", str(kubeconfig), "--pidfile", str(pidfile)],
                          cwd=TESTBED_DIR, stdout=subprocess.PIPE, text=True) as process:
        line = process.stdout.readline()
        assert line.startswith("kubeemu serving http://127.0.0.1:")
        url = line.split()[2]
        with urllib.request.urlopen(url + "/version", timeout=5) as response:
            assert json.load(response)["major"] == "1"
        assert pidfile.read_text().strip() == str(process.pid)
        assert kubeconfig.stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    assert not pidfile.exists()


def test_restart_keeps_port_objects_and_kubeconfig():
    with kubeemu.Emulator() as emu:
        emu.create_namespace("kept")
        url, kubeconfig = emu.url, emu.kubeconfig_path
        assert call(emu, "POST", "/api/v1/namespaces/kept/secrets", {"metadata": {"name": "s"}, "data": {"k": "dg=="}}).code == 201
        emu.stop(keep_store=True)
        assert not emu.running and os.path.exists(kubeconfig)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
        emu.start()
        assert (emu.url, emu.kubeconfig_path) == (url, kubeconfig)
        assert call(emu, "GET", "/api/v1/namespaces/kept/secrets/s").json()["data"] == {"k": "dg=="}
        # watches work again after the restart
        events = read_events(emu, "/api/v1/namespaces/kept/secrets?watch=true&resourceVersion=0", lambda events: events[-1]["type"] == "ADDED", timeout=5)
        assert [event["object"]["metadata"]["name"] for event in events] == ["s"]
        emu.restart(down_seconds=0.1)
        assert call(emu, "GET", "/api/v1/namespaces/kept/secrets/s").code == 200
    assert not os.path.exists(kubeconfig)


def test_restart_with_tls_keeps_the_certificate_authority():
    with kubeemu.Emulator(tls=True, require_token=True) as emu:
        ca_pem, ca_path = emu.ca_cert_pem, emu.ca_cert_path
        emu.restart()
        assert (emu.ca_cert_pem, emu.ca_cert_path) == (ca_pem, ca_path) and os.path.exists(ca_path)
        request = urllib.request.Request(emu.url + "/version", headers={"Authorization": "Bearer " + emu.token})
        with urllib.request.urlopen(request, timeout=10, context=emu.client_ssl_context()) as response:
            assert response.status == 200


def test_faults_for_a_while_and_admission_style_422(emulator, ns):
    path = "/api/v1/namespaces/%s/configmaps" % ns
    call(emulator, "POST", "/_emulator/faults", {"status": 503, "seconds": 0.3, "path_regex": path})
    time.sleep(0.4)  # the clock starts with the first matching request
    assert [call(emulator, "GET", path).code for _attempt in range(3)] == [503, 503, 503]
    time.sleep(0.35)
    assert call(emulator, "GET", path).code == 200
    assert call(emulator, "GET", "/_emulator/state").json()["faults"] == []

    call(emulator, "POST", "/_emulator/faults", {"status": 422, "count": 1, "path_regex": path, "method": "POST"})
    assert call(emulator, "GET", path).code == 200  # other methods pass
    rejected = call(emulator, "POST", path, configmap("refused"))
    assert (rejected.code, rejected.json()["reason"]) == (422, "Invalid")
    assert call(emulator, "POST", path, configmap("refused")).code == 201

    call(emulator, "POST", "/_emulator/faults", {"delay": 0.3, "count": 1, "path_regex": path})
    started = time.monotonic()
    assert call(emulator, "GET", path).code == 200 and time.monotonic() - started >= 0.3
    assert call(emulator, "POST", "/_emulator/faults", {"count": 1}).code == 400  # neither status nor delay

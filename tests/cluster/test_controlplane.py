"""The launcher of the real control plane: what the integration tests rely on it to provide.

One control plane per module (per pytest-xdist worker), plus short-lived ones for the life-cycle
tests: a version Helm can check, real authentication and RBAC, the test bed's pod conventions
(kwok stages), the admission policy, restarts on the same data, side-by-side instances, and no
process left behind, even when the process that started it is killed.
"""

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testbed"))

import controlplane  # noqa: E402  pylint: disable=wrong-import-position

REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    with controlplane.ControlPlane(str(tmp_path_factory.mktemp("plane"))) as started:
        yield started


def pinned_kubernetes_version():
    with open(os.path.join(HERE, "go", "kubernetes", "go.mod"), encoding="utf-8") as handle:
        return re.search(r"^\s*(?:require )?k8s\.io/kubernetes (v\S+)", handle.read(), re.M).group(1)


def wait_for(probe, what, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.2)


def as_token(plane, token, path):
    """GET ``path`` with a bearer token and no client certificate: (status, body)."""
    request = urllib.request.Request(plane.url + path, headers={"Authorization": "Bearer " + token, "Accept": "application/json"})
    context = ssl.create_default_context(cafile=plane.ca_cert_path)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def namespace(plane):
    name = "cp-" + uuid.uuid4().hex[:8]
    plane.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_for(lambda: _exists(plane, "/api/v1/namespaces/%s/serviceaccounts/default" % name), "the default ServiceAccount")
    return name


def _exists(plane, path):
    try:
        plane.api("GET", path)
        return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def test_version_is_the_pinned_release(plane):
    version = plane.api("GET", "/version")
    assert version["gitVersion"] == pinned_kubernetes_version(), version
    assert (version["major"], version["minor"]) == ("1", pinned_kubernetes_version().split(".")[1]), version


def test_users_are_authenticated_and_authorized(plane):
    assert as_token(plane, plane.tokens[controlplane.OPERATOR], "/api/v1/namespaces/kube-system/secrets")[0] == 200
    status, body = as_token(plane, plane.tokens[controlplane.VIEWER], "/api/v1/namespaces/kube-system/secrets")
    assert (status, body["reason"]) == (403, "Forbidden"), body
    assert 'User "matih-viewer" cannot list resource "secrets"' in body["message"], body
    assert as_token(plane, plane.tokens[controlplane.VIEWER], "/api/v1/namespaces/kube-system/pods")[0] == 200
    assert as_token(plane, "not-a-token", "/api/v1/namespaces")[0] == 401


def _deployment(name, image):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": image}]}}}}


def _pods(plane, ns, selector):
    return plane.api("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (ns, selector))["items"]


def _ready(pod):
    return next(c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready")


def test_pods_follow_the_test_bed_conventions(plane):
    ns = namespace(plane)
    plane.api("POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, _deployment("good", "registry.local/demo:1.0"))
    plane.api("POST", "/apis/apps/v1/namespaces/%s/deployments" % ns, _deployment("bad", "registry.local/broken:1.0"))
    plane.api("POST", "/apis/batch/v1/namespaces/%s/jobs" % ns, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "registry.local/job:1"}]}}}})

    def available(name):
        status = plane.api("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, name)).get("status", {})
        return status.get("availableReplicas") == 1

    wait_for(lambda: available("good"), "the good Deployment to be available")
    good = _pods(plane, ns, "app=good")[0]
    assert good["status"]["phase"] == "Running" and good["status"]["containerStatuses"][0]["ready"] is True, good["status"]

    # After an API server outage longer than the node lease, the node controller marks every pod
    # of the node not ready; the kubelet (kwok) reports the running ones ready again.
    name = good["metadata"]["name"]
    conditions = [dict(c, status="False") if c["type"] == "Ready" else c for c in good["status"]["conditions"]]
    patched = plane.api("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (ns, name), {"status": {"conditions": conditions}},
                        content_type="application/strategic-merge-patch+json")
    assert _ready(patched) == "False", patched["status"]
    wait_for(lambda: _ready(plane.api("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, name))) == "True", "the pod to be ready again")
    wait_for(lambda: available("good"), "the good Deployment to be available again")

    bad = wait_for(lambda: [p for p in _pods(plane, ns, "app=bad") if p["status"].get("containerStatuses")], "the broken pod's status")[0]
    assert bad["status"]["phase"] == "Pending", bad["status"]
    assert bad["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff", bad["status"]
    time.sleep(2)  # and it stays so
    assert not available("bad")

    def complete():
        conditions = plane.api("GET", "/apis/batch/v1/namespaces/%s/jobs/once" % ns).get("status", {}).get("conditions", [])
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    wait_for(complete, "the Job to complete")


def test_admission_refuses_the_reject_marker(plane):
    ns = namespace(plane)
    for data in ({"reject": "true"}, {"mode": "reject"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            plane.api("POST", "/api/v1/namespaces/%s/configmaps" % ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
        body = json.load(refused.value)
        assert (refused.value.code, body["reason"]) == (422, "Invalid"), body
        assert "ValidatingAdmissionPolicy '%s'" % controlplane.REJECT_POLICY in body["message"], body
    plane.api("POST", "/api/v1/namespaces/%s/configmaps" % ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"mode": "fine"}})


def _refused(url):
    try:
        urllib.request.urlopen(url + "/readyz", timeout=5, context=ssl._create_unverified_context())  # pylint: disable=protected-access,consider-using-with
    except urllib.error.URLError as error:
        return isinstance(error.reason, ConnectionRefusedError)
    return False


def test_outage_and_restart_keep_the_data(tmp_path):
    with controlplane.ControlPlane(str(tmp_path / "plane")) as plane:
        url = plane.url
        plane.api("POST", "/api/v1/namespaces/default/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}})
        plane.stop_apiserver()
        assert _refused(url)
        assert plane.processes["etcd"].poll() is None
        plane.start_apiserver()
        assert plane.api("GET", "/api/v1/namespaces/default/configmaps/kept")["metadata"]["name"] == "kept"

        plane.stop()
        assert not plane.processes and _refused(url)
        plane.start()  # the whole control plane again, on the same ports and etcd data
        assert plane.url == url
        assert plane.api("GET", "/api/v1/namespaces/default/configmaps/kept")["metadata"]["name"] == "kept"


def test_two_control_planes_side_by_side(plane, tmp_path):
    with controlplane.ControlPlane(str(tmp_path / "second")) as second:
        assert not set(second.ports.values()) & set(plane.ports.values())
        second.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "only-here"}})
        assert _exists(second, "/api/v1/namespaces/only-here") and not _exists(plane, "/api/v1/namespaces/only-here")


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_nothing_left_behind_when_the_starter_is_killed(tmp_path):
    directory = tmp_path / "orphan"
    starter = "import sys, time; sys.path.insert(0, %r); import controlplane\n" \
              "controlplane.ControlPlane(%r).start(); print('up', flush=True); time.sleep(600)" % (HERE, str(directory))
    with subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout.readline().strip() == "up"
        pids = json.loads((directory / "state.json").read_text())["pids"]
        assert sorted(pids) == sorted(controlplane.ControlPlane.COMPONENTS) and all(_alive(pid) for pid in pids.values())
        process.send_signal(signal.SIGKILL)
    wait_for(lambda: not any(_alive(pid) for pid in pids.values()), "the orphaned components to exit", seconds=15)


def test_cluster_command_up_and_down(tmp_path):
    script = os.path.join(REPO_ROOT, "hack", "cluster.sh")
    directory = tmp_path / "by-hand"
    up = subprocess.run([script, "up", str(directory)], capture_output=True, text=True, timeout=300, check=False)
    assert up.returncode == 0, up.stderr
    kubeconfig = up.stdout.strip()
    assert kubeconfig == str(directory / "admin.kubeconfig") and os.stat(kubeconfig).st_mode & 0o077 == 0
    pids = json.loads((directory / "state.json").read_text())["pids"]
    assert all(_alive(pid) for pid in pids.values())  # outlives the command that started it
    down = subprocess.run([script, "down", str(directory)], capture_output=True, text=True, timeout=120, check=False)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids.values())

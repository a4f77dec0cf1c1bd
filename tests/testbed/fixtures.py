"""Pytest fixtures for tests that run real Helm against a cluster.

Import them into a conftest with ``from fixtures import *`` (or list ``fixtures`` in
``pytest_plugins``), with tests/testbed on sys.path.

- ``cluster`` (session): the emulator, started once per session (per xdist worker); or, with
  ``MATIH_TEST_REAL_CLUSTER=1`` and ``KUBECONFIG`` set, that real cluster.
- ``own_cluster``: an emulator of its own for one test, for faults that would disturb other
  tests (stopping and restarting the API server).  Emulator only: skipped on a real cluster.
- ``tls_cluster`` (session): an emulator serving HTTPS that requires the bearer token; its
  kubeconfig trusts the emulator's CA (``.ca_cert``) and carries the token (``.token``).
  Emulator only: skipped on a real cluster, whose CA and tokens the tests cannot choose.
- ``helm_binary``: each Helm major in turn (ids ``helm3``, ``helm4``; ``MATIH_HELM3`` and
  ``MATIH_HELM4`` override the paths): a path string that also has ``.path`` and ``.major``.
- ``demo_charts`` (session): {version: path of the packaged demo chart} for DEMO_CHART_VERSIONS.
- ``namespace``: a fresh namespace per test (deleted afterwards on a real cluster).
- ``release_name``: a unique release name per test.
"""

import json
import os
import re
import subprocess
import urllib.request
import uuid

import pytest
import yaml

import kubeemu
import scenarios


DEMO_CHART_VERSIONS = ("1.0.0", "1.1.0", "1.2.0", "2.0.0")


class HelmBinary(str):
    """The path of a Helm binary, usable wherever a path string is, that knows its major version."""

    def __new__(cls, path, major):
        binary = super().__new__(cls, path)
        binary.major = major
        return binary

    @property
    def path(self):
        return str(self)


class Cluster:
    """Where tests run Helm: ``emulator`` is None on a real cluster."""

    def __init__(self, kubeconfig, context, url, emulator=None):
        self.kubeconfig = kubeconfig
        self.context = context
        self.url = url
        self.emulator = emulator
        # Set on the TLS emulator: the CA certificate file and the bearer token it requires.
        self.ca_cert = emulator.ca_cert_path if emulator else None
        self.token = emulator.token if emulator else None

    def create_namespace(self, name):
        if self.emulator is None:
            self._kubectl("create", "namespace", name)
            return
        body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode("utf-8")
        request = urllib.request.Request(self.url + "/api/v1/namespaces", data=body, method="POST", headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + self.emulator.token,
        })
        with urllib.request.urlopen(request, timeout=10, context=self.emulator.client_ssl_context()):
            pass

    def inject_fault(self, status=None, path_regex=".*", method=None, count=1, seconds=None, retry_after=1, delay=0,
                     message=None):
        """Emulator only: answer matching API requests with ``status`` (see kubeemu's faults
        endpoint); ``seconds`` makes it an outage for that long instead of ``count`` answers;
        ``delay`` slows each matching request down (with no status: served after the delay);
        ``message`` is the Status message, as an API server words the failure."""
        spec = {"path_regex": path_regex, "count": count, "retry_after": retry_after, "delay": delay}
        if message:
            spec["message"] = message
        if status is not None:
            spec["status"] = status
        if method:
            spec["method"] = method
        if seconds is not None:
            spec["seconds"] = seconds
        return self._admin("POST", "/_emulator/faults", spec)["faults"]

    def clear_faults(self):
        self._admin("DELETE", "/_emulator/faults")

    def _admin(self, method, path, body=None):
        if self.emulator is None:
            raise RuntimeError("%s %s needs the emulator" % (method, path))
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10, context=self.emulator.client_ssl_context()) as response:
            return json.load(response)

    def delete_namespace(self, name):
        """Only needed on a real cluster: emulator namespaces vanish with the session."""
        if self.emulator is None:
            self._kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")

    def _kubectl(self, *args):
        kubectl = os.environ.get("MATIH_KUBECTL", "kubectl")
        subprocess.run([kubectl, "--kubeconfig", self.kubeconfig, "--context", self.context] + list(args), check=True, capture_output=True)


def _real_cluster():
    kubeconfig = os.environ["KUBECONFIG"].split(os.pathsep)[0]
    with open(kubeconfig, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    context_name = config.get("current-context", "")
    context = next(c["context"] for c in config.get("contexts", []) if c["name"] == context_name)
    server = next(c["cluster"]["server"] for c in config.get("clusters", []) if c["name"] == context["cluster"])
    return Cluster(kubeconfig, context_name, server)


@pytest.fixture(scope="session")
def cluster():
    if os.environ.get("MATIH_TEST_REAL_CLUSTER") == "1" and os.environ.get("KUBECONFIG"):
        yield _real_cluster()
    else:
        with kubeemu.Emulator() as emulator:
            yield Cluster(emulator.kubeconfig_path, emulator.context, emulator.url, emulator)
    scenarios.remove_chart_cache()


@pytest.fixture
def own_cluster():
    if os.environ.get("MATIH_TEST_REAL_CLUSTER") == "1" and os.environ.get("KUBECONFIG"):
        pytest.skip("own_cluster stops and restarts the API server, which a test cannot do to a real cluster "
                    "(MATIH_TEST_REAL_CLUSTER=1)")
    with kubeemu.Emulator() as emulator:
        yield Cluster(emulator.kubeconfig_path, emulator.context, emulator.url, emulator)


@pytest.fixture(scope="session")
def tls_cluster():
    if os.environ.get("MATIH_TEST_REAL_CLUSTER") == "1" and os.environ.get("KUBECONFIG"):
        pytest.skip("tls_cluster needs the emulator: the tests choose its CA and token, which a real cluster "
                    "(MATIH_TEST_REAL_CLUSTER=1) does not let them do")
    with kubeemu.Emulator(tls=True, require_token=True) as emulator:
        yield Cluster(emulator.kubeconfig_path, emulator.context, emulator.url, emulator)


@pytest.fixture(params=sorted(scenarios.HELM_BINARIES), ids=sorted(scenarios.HELM_BINARIES))
def helm_binary(request):
    path = scenarios.HELM_BINARIES[request.param]
    if not os.access(path, os.X_OK):
        pytest.skip("%s binary not found at %s (run the bootstrap, or set MATIH_%s)" % (request.param, path, request.param.upper()))
    return HelmBinary(path, scenarios.helm_major(path))


@pytest.fixture(scope="session")
def demo_charts():
    return {version: scenarios.chart(version) for version in DEMO_CHART_VERSIONS}


def _unique(prefix, request):
    # Names must be DNS labels: lowercase alphanumerics and '-', at most 63 characters.
    test_name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:30].strip("-")
    return "%s-%s-%s" % (prefix, test_name, uuid.uuid4().hex[:6])


@pytest.fixture
def namespace(cluster, request):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    name = _unique("t", request)
    cluster.create_namespace(name)
    yield name
    cluster.delete_namespace(name)


@pytest.fixture
def release_name(request):
    # Helm release names are limited to 53 characters.
    return _unique("r", request)[:53].rstrip("-")

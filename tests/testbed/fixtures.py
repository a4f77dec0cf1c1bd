"""Pytest fixtures for tests that run real Helm against a cluster.

Import them into a conftest with ``from fixtures import *`` (or list ``fixtures`` in
``pytest_plugins``), with tests/testbed on sys.path.

Which cluster: ``MATIH_TEST_CLUSTER`` is ``controlplane`` (the default: a real Kubernetes control
plane built from Go modules, tests/cluster/controlplane.py, one per pytest-xdist worker),
``emulator`` (tests/testbed/kubeemu) or ``external`` (the cluster ``KUBECONFIG`` names; the
fixtures that need to stop or fault the API server skip there). A missing control plane build is
an error, never a silent fall-back to the emulator.

- ``cluster`` (session): the cluster, as the admin (a client certificate on the control plane).
- ``faulty_cluster`` (session): the same cluster behind a fault injector: ``inject_fault``,
  ``clear_faults`` and ``request_stats`` work on it. On the control plane that is a small proxy
  in front of the real API server (tests/cluster/faultproxy.py); the emulator injects its own.
- ``own_cluster``: a cluster whose API server the test may stop and start (``stop_apiserver``,
  ``start_apiserver``, ``restart_apiserver``). The emulator: one of its own; the control plane:
  the worker's own, whose API server is running again after the test.
- ``tls_cluster`` (session): a cluster that requires credentials over TLS: ``.kubeconfig``
  authenticates with the bearer token ``.token``, and trusts the CA in ``.ca_cert``.
- ``helm_binary``: each Helm major in turn (ids ``helm3``, ``helm4``; ``MATIH_HELM3`` and
  ``MATIH_HELM4`` override the paths), or each version of ``MATIH_HELM_MATRIX`` (ids
  ``helm-3.8.2``, ...): a path string that also has ``.path`` and ``.major``.
- ``demo_charts`` (session): {version: path of the packaged demo chart} for DEMO_CHART_VERSIONS.
- ``namespace``: a fresh namespace per test (deleted afterwards, but on the emulator).
- ``release_name``: a unique release name per test.
"""

import json
import os
import re
import shutil
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

import kubeemu
import scenarios

sys.path.insert(0, os.path.join(scenarios.REPO_ROOT, "tests", "cluster"))

import controlplane  # noqa: E402  pylint: disable=wrong-import-position
import faultproxy  # noqa: E402  pylint: disable=wrong-import-position

DEMO_CHART_VERSIONS = ("1.0.0", "1.1.0", "1.2.0", "2.0.0")
CLUSTER_KINDS = ("controlplane", "emulator", "external")
USE_DEFAULT = kubeemu.emulator.USE_DEFAULT


def cluster_kind():
    kind = os.environ.get("MATIH_TEST_CLUSTER", "controlplane")
    if kind not in CLUSTER_KINDS:
        raise pytest.UsageError("MATIH_TEST_CLUSTER=%s: expected one of %s" % (kind, ", ".join(CLUSTER_KINDS)))
    return kind


class HelmBinary(str):
    """The path of a Helm binary, usable wherever a path string is, that knows its major version."""

    def __new__(cls, path, major):
        binary = super().__new__(cls, path)
        binary.major = major
        return binary

    @property
    def path(self):
        return str(self)


class Cluster:  # pylint: disable=too-many-instance-attributes
    """Where tests run Helm. ``kind`` says which; ``emulator`` or ``plane`` is the object behind it
    (None on an external cluster); ``proxy`` is the fault proxy this cluster is reached through."""

    def __init__(self, kubeconfig, context, url, emulator=None, plane=None, proxy=None, token=None):
        self.kubeconfig = kubeconfig
        self.context = context
        self.url = url
        self.emulator = emulator
        self.plane = plane
        self.proxy = proxy
        self.kind = "emulator" if emulator else "controlplane" if plane else "external"
        # The CA certificate file and a bearer token the cluster accepts (None where unknown).
        self.ca_cert = emulator.ca_cert_path if emulator else plane.ca_cert_path if plane else None
        self.token = token or (emulator.token if emulator else None)

    # --- plain API access, as the admin -------------------------------------------------------

    def api(self, method, path, body=None, expect=None, content_type="application/json"):
        """One API request as the admin; returns the decoded JSON body.  ``expect`` (an error
        status code, or a tuple of them) is answered with its Status body instead of raising;
        ``content_type`` is the body's (a merge patch's, say)."""
        if self.plane is not None:
            url, context, headers = self.plane.url, self.plane.client_ssl_context(), {}
        elif self.emulator is not None:
            url, context = self.emulator.url, self.emulator.client_ssl_context()
            headers = {"Authorization": "Bearer " + self.emulator.token} if self.emulator.token else {}
        else:
            raise RuntimeError("%s %s: direct API access needs the control plane or the emulator, not an external cluster" % (method, path))
        headers.update({"Content-Type": content_type, "Accept": "application/json"})
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code in (expect if isinstance(expect, tuple) else (expect,)):
                return json.load(error)
            raise

    def create_namespace(self, name):
        self.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def delete_namespace(self, name):
        """Emulator namespaces vanish with the session; elsewhere the namespace controller
        deletes the namespace and everything in it, in the background."""
        if self.emulator is None:
            self.api("DELETE", "/api/v1/namespaces/" + name, expect=404)

    def write_kubeconfig(self, path, token=USE_DEFAULT, certificate_authority=USE_DEFAULT, insecure=False):
        """A kubeconfig for this cluster with other credentials, for the failure paths:
        ``token=None`` has no credentials at all, another string is that bearer token;
        ``certificate_authority=None`` leaves the CA out, a path names another CA file."""
        if self.emulator is not None:
            return self.emulator.write_kubeconfig(path, token, certificate_authority, insecure)
        token = self.token if token is USE_DEFAULT else token
        config = self.plane.kubeconfig({"token": token} if token else {}, server=self.url,
                                       certificate_authority=certificate_authority is USE_DEFAULT, insecure=insecure)
        if certificate_authority not in (USE_DEFAULT, None):
            config["clusters"][0]["cluster"]["certificate-authority"] = certificate_authority
        return self.plane.write_kubeconfig(path, config)

    # --- faults and request counts (faulty_cluster) ---------------------------------------------

    def inject_fault(self, status=None, path_regex=".*", method=None, count=1, seconds=None, retry_after=1, delay=0,
                     message=None):
        """Answer matching API requests with ``status`` (see kubeemu's faults endpoint);
        ``seconds`` makes it an outage for that long instead of ``count`` answers; ``delay``
        slows each matching request down (with no status: served after the delay);
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

    def request_stats(self, reset=False):
        """Requests counted per "METHOD route" (namespaces and names as ``*``); ``reset`` clears."""
        return self._admin("POST", "/_emulator/reset") if reset else self._admin("GET", "/_emulator/stats")

    def _admin(self, method, path, body=None):
        if self.proxy is not None:
            context = ssl.create_default_context(cafile=self.plane.ca_cert_path)
        elif self.emulator is not None:
            context = self.emulator.client_ssl_context()
        else:
            raise RuntimeError("%s %s needs a fault injector: use the faulty_cluster fixture" % (method, path))
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.load(response)

    # --- API server outages (own_cluster) -----------------------------------------------------

    def stop_apiserver(self):
        """The API server goes away (connection refused); the stored objects stay."""
        if self.emulator is not None:
            self.emulator.stop(keep_store=True)
        else:
            self.plane.stop_apiserver()

    def start_apiserver(self):
        """The API server comes back on the same port and data."""
        if self.emulator is not None:
            self.emulator.start()
        else:
            self.plane.start_apiserver()

    def restart_apiserver(self, down_seconds=0.0):
        self.stop_apiserver()
        if down_seconds:
            time.sleep(down_seconds)
        self.start_apiserver()


def emulator_cluster(emulator):
    return Cluster(emulator.kubeconfig_path, emulator.context, emulator.url, emulator)


def _external_cluster():
    if not os.environ.get("KUBECONFIG"):
        raise pytest.UsageError("MATIH_TEST_CLUSTER=external needs KUBECONFIG")
    kubeconfig = os.environ["KUBECONFIG"].split(os.pathsep)[0]
    with open(kubeconfig, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    context_name = config.get("current-context", "")
    context = next(c["context"] for c in config.get("contexts", []) if c["name"] == context_name)
    server = next(c["cluster"]["server"] for c in config.get("clusters", []) if c["name"] == context["cluster"])
    return Cluster(kubeconfig, context_name, server)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    """The worker's real control plane (MATIH_TEST_CLUSTER=controlplane), started once."""
    if cluster_kind() != "controlplane":
        pytest.skip("needs the real control plane (MATIH_TEST_CLUSTER=controlplane)")
    # Short: the API server's socket paths and Helm's messages carry it.
    directory = tempfile.mkdtemp(prefix="matih-cp-")
    plane = controlplane.ControlPlane(directory)
    try:
        with plane:
            yield plane
    finally:
        if os.environ.get("MATIH_TEST_KEEP_CLUSTER_LOGS"):
            shutil.copytree(plane.path("logs"), str(tmp_path_factory.mktemp("control-plane-logs")), dirs_exist_ok=True)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(request):
    kind = cluster_kind()
    if kind == "controlplane":
        plane = request.getfixturevalue("control_plane")
        yield Cluster(plane.kubeconfig_path, controlplane.CONTEXT, plane.url, plane=plane)
    elif kind == "external":
        yield _external_cluster()
    else:
        with kubeemu.Emulator() as emulator:
            yield emulator_cluster(emulator)
    scenarios.remove_chart_cache()


@pytest.fixture(scope="session")
def faulty_cluster(cluster):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    if cluster.kind == "emulator":
        yield cluster
        return
    if cluster.kind == "external":
        pytest.skip("fault injection needs the control plane's fault proxy or the emulator; an external cluster has neither")
    plane = cluster.plane
    server_pem, server_key = plane.fault_proxy_certificate()
    with faultproxy.FaultProxy(plane.url, plane.ca_cert_path, server_pem, server_key, *plane.admin_cert_paths) as proxy:
        kubeconfig = plane.write_kubeconfig(plane.path("proxy.kubeconfig"), plane.kubeconfig("admin", server=proxy.url))
        yield Cluster(kubeconfig, controlplane.CONTEXT, proxy.url, plane=plane, proxy=proxy)


@pytest.fixture
def own_cluster(cluster):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    if cluster.kind == "external":
        pytest.skip("own_cluster stops and restarts the API server, which a test cannot do to an external cluster")
    if cluster.kind == "emulator":
        with kubeemu.Emulator() as emulator:
            yield emulator_cluster(emulator)
        return
    # The worker runs one test at a time, so its control plane is the test's own for a while.
    try:
        yield cluster
    finally:
        if "kube-apiserver" not in cluster.plane.processes:
            cluster.plane.start_apiserver()


@pytest.fixture(scope="session")
def tls_cluster(cluster):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    if cluster.kind == "external":
        pytest.skip("tls_cluster needs to know the cluster's CA and a token, which an external cluster does not tell")
    if cluster.kind == "emulator":
        with kubeemu.Emulator(tls=True, require_token=True) as emulator:
            yield emulator_cluster(emulator)
        return
    plane = cluster.plane
    yield Cluster(plane.token_kubeconfig_path, controlplane.CONTEXT, plane.url, plane=plane, token=plane.token)


def helm_binaries():
    """{test id: path}: the two main Helm binaries (helm3, helm4), or, when MATIH_HELM_MATRIX is set
    ("VERSION=PATH ...", from hack/helm-matrix.sh), the version matrix's (helm-3.8.2, ...)."""
    matrix = os.environ.get("MATIH_HELM_MATRIX", "").split()
    if matrix:
        return {"helm-" + version: path for version, path in (item.split("=", 1) for item in matrix)}
    return dict(scenarios.HELM_BINARIES)


HELM_BINARIES = helm_binaries()


@pytest.fixture(params=sorted(HELM_BINARIES), ids=sorted(HELM_BINARIES))
def helm_binary(request):
    path = HELM_BINARIES[request.param]
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

"""A real Kubernetes control plane on loopback, for the tests and for people.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (the kubelet of one fake
node) run as plain processes, built from Go modules by hack/control-plane-build.sh. What this
module adds is what kubeadm or kind would do on a real machine:

- a CA and certificates: the API server's serving certificate (127.0.0.1, localhost, the first
  service IP) and client certificates for the admin (group ``system:masters``), the controller
  manager, the scheduler and kwok; a service-account signing key;
- bearer tokens (``--token-auth-file``) for two more users, bound with RBAC at start:
  ``matih-operator`` (cluster-admin) and ``matih-viewer`` (the ``view`` role, for real 403s);
- kubeconfigs: ``admin.kubeconfig`` (client certificate) and ``token.kubeconfig`` (the operator's
  token), both with the context ``matih``;
- the node ``kwok-node-0``, which kwok keeps Ready, and the pod behaviour of kwok-stages/;
- a wait until the cluster is really usable: readyz, the ``default`` ServiceAccount (without it
  no pod can be created), the node Ready, the admission policy enforced, and a probe Deployment
  rolled out (which also tells when the controllers are back after an API server outage).

Ports are picked free, so several control planes run side by side (one per pytest-xdist worker).
``stop()`` keeps the data directory: ``start()`` again is a restart on the same etcd data and
ports; ``stop_apiserver()``/``start_apiserver()`` take only the API server down, as in an outage.
Processes started for a Python caller die with it (PR_SET_PDEATHSIG) even when it is killed;
``python controlplane.py up DIR`` starts one that outlives the command, and ``down DIR`` stops it.
"""

import argparse
import base64
import ctypes
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "testbed"))

from kubeemu.tls import CertificateAuthority  # noqa: E402  pylint: disable=wrong-import-position

from cryptography.hazmat.primitives import serialization  # noqa: E402  pylint: disable=wrong-import-position
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402  pylint: disable=wrong-import-position

CONTEXT = "matih"
NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
FIRST_SERVICE_IP = "10.96.0.1"
OPERATOR, VIEWER = "matih-operator", "matih-viewer"
REJECT_POLICY, REJECT_MARKER = "matih-test-reject", "reject"
PROBE = "matih-readiness-probe"
STAGES_DIR = os.path.join(HERE, "kwok-stages")
BUILD_SCRIPT = os.path.join(REPO_ROOT, "hack", "control-plane-build.sh")
START_TIMEOUT = 120
PR_SET_PDEATHSIG = 1


class ControlPlaneError(RuntimeError):
    """The control plane did not come up (the message ends with the log of what failed)."""


def built_bin_dir():
    """The directory of the built binaries (MATIH_CONTROL_PLANE_BIN, or the build script's)."""
    if os.environ.get("MATIH_CONTROL_PLANE_BIN"):
        return os.environ["MATIH_CONTROL_PLANE_BIN"]
    result = subprocess.run([BUILD_SCRIPT, "--path"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(result.stderr.strip())
    return result.stdout.strip()


def _ephemeral_floor():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free_port(taken=()):
    """A port free now, for a component that binds it later. Below the kernel's ephemeral range: a port
    the kernel hands out (port 0) is also where outgoing connections take their source ports, and one
    of them took a scheduler's port between the choice and the bind."""
    floor = _ephemeral_floor()
    for _attempt in range(500):
        port = random.randrange(10000, floor) if floor > 11000 else 0
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise ControlPlaneError("no free port below %d on 127.0.0.1" % floor)


_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # Runs in the child between fork and exec: a killed test run leaves no process behind.
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _write_private(path, data):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


class ControlPlane:  # pylint: disable=too-many-instance-attributes
    """One control plane whose certificates, etcd data, kubeconfigs and logs live in ``directory``."""

    COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
    API_CLIENTS = ("kube-controller-manager", "kube-scheduler", "kwok")

    def __init__(self, directory, bin_dir=None, tie_to_parent=True):
        self.directory = os.path.abspath(directory)
        self.bin_dir = bin_dir or built_bin_dir()
        self.tie_to_parent = tie_to_parent
        self.processes = {}
        self.ports = {}
        self._pki = os.path.join(self.directory, "pki")
        self.tokens = {}

    # --- paths and addresses ---------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.directory, *parts)

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.ports["apiserver"]

    @property
    def kubeconfig_path(self):
        return self.path("admin.kubeconfig")

    @property
    def token_kubeconfig_path(self):
        return self.path("token.kubeconfig")

    @property
    def ca_cert_path(self):
        return os.path.join(self._pki, "ca.crt")

    @property
    def admin_cert_paths(self):
        return os.path.join(self._pki, "admin.crt"), os.path.join(self._pki, "admin.key")

    @property
    def token(self):
        """The bearer token of ``matih-operator`` (cluster-admin through RBAC)."""
        return self.tokens[OPERATOR]

    def fault_proxy_certificate(self):
        """(certificate PEM, key PEM) for a fault proxy in front of this API server, on 127.0.0.1."""
        with open(os.path.join(self._pki, "fault-proxy.crt"), "rb") as certificate, open(os.path.join(self._pki, "fault-proxy.key"), "rb") as key:
            return certificate.read(), key.read()

    def client_ssl_context(self, client_certificate=True):
        context = ssl.create_default_context(cafile=self.ca_cert_path)
        if client_certificate:
            context.load_cert_chain(*self.admin_cert_paths)
        return context

    # --- set-up ------------------------------------------------------------------------------

    def _make_pki(self):
        os.makedirs(self._pki, mode=0o700, exist_ok=True)
        authority = CertificateAuthority("matih-test-ca")
        _write_private(self.ca_cert_path, authority.ca_pem)
        issued = {
            "apiserver": authority.issue("kube-apiserver", dns_names=("localhost", "kubernetes", "kubernetes.default.svc"),
                                         ip_addresses=("127.0.0.1", FIRST_SERVICE_IP)),
            "admin": authority.issue("matih-admin", organizations=("system:masters",), client=True),
            "controller-manager": authority.issue("system:kube-controller-manager", client=True),
            "scheduler": authority.issue("system:kube-scheduler", client=True),
            "kwok": authority.issue("kwok", organizations=("system:masters",), client=True),
            "fault-proxy": authority.issue("matih-fault-proxy", dns_names=("localhost",), ip_addresses=("127.0.0.1",)),
        }
        for name, (certificate, key) in issued.items():
            _write_private(os.path.join(self._pki, name + ".crt"), certificate)
            _write_private(os.path.join(self._pki, name + ".key"), key)
        signing_key = ec.generate_private_key(ec.SECP256R1())
        _write_private(os.path.join(self._pki, "sa.key"), signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        _write_private(os.path.join(self._pki, "sa.pub"), signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        tokens = {user: base64.b32encode(os.urandom(20)).decode("ascii").lower() for user in (OPERATOR, VIEWER)}
        _write_private(os.path.join(self._pki, "tokens.csv"),
                       "".join('%s,%s,%s\n' % (token, user, user) for user, token in tokens.items()).encode("ascii"))
        for name in ("controller-manager", "scheduler", "kwok"):
            self._write_component_kubeconfig(name)

    def _load_tokens(self):
        with open(os.path.join(self._pki, "tokens.csv"), encoding="ascii") as handle:
            self.tokens = {line.split(",")[1]: line.split(",")[0] for line in handle.read().splitlines() if line}

    def _read(self, name):
        with open(os.path.join(self._pki, name), "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")

    def kubeconfig(self, user, server=None, certificate_authority=True, insecure=False):
        """A kubeconfig dict for ``user``: a dict of kubeconfig user fields (``{"token": ...}``,
        ``{}`` for none), or the name of an issued client certificate (``"admin"``)."""
        if isinstance(user, str):
            user = {"client-certificate-data": self._read(user + ".crt"), "client-key-data": self._read(user + ".key")}
        cluster = {"server": server or self.url}
        if certificate_authority:
            cluster["certificate-authority-data"] = self._read("ca.crt")
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": CONTEXT,
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": CONTEXT, "user": user}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
        }

    @staticmethod
    def write_kubeconfig(path, config):
        # Helm warns about group- or world-readable kubeconfigs.
        _write_private(path, yaml.safe_dump(config, default_flow_style=False).encode("utf-8"))
        return path

    def _write_component_kubeconfig(self, name):
        # The components talk to the API server through a port chosen later: a placeholder
        # server, replaced when the ports are known.
        self.write_kubeconfig(os.path.join(self._pki, name + ".kubeconfig"), self.kubeconfig(name, server="https://127.0.0.1:0"))

    def _point_kubeconfigs(self):
        for name in ("controller-manager", "scheduler", "kwok"):
            self.write_kubeconfig(os.path.join(self._pki, name + ".kubeconfig"), self.kubeconfig(name))
        self.write_kubeconfig(self.kubeconfig_path, self.kubeconfig("admin"))
        self.write_kubeconfig(self.token_kubeconfig_path, self.kubeconfig({"token": self.token}))

    # --- processes ---------------------------------------------------------------------------

    def _argv(self, component):  # pylint: disable=too-many-return-statements  # one argv per component
        pki, ports = self._pki, self.ports
        binary = os.path.join(self.bin_dir, component)
        if component == "etcd":
            peer = "http://127.0.0.1:%d" % ports["etcd-peer"]
            client = "http://127.0.0.1:%d" % ports["etcd"]
            return [binary, "--name", "matih", "--data-dir", self.path("etcd"), "--listen-client-urls", client,
                    "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", "matih=" + peer, "--log-level", "warn",
                    # a test cluster: losing the last writes on a power cut is fine, fsync latency is not
                    "--unsafe-no-fsync"]
        if component == "kube-apiserver":
            return [binary, "--etcd-servers", "http://127.0.0.1:%d" % ports["etcd"],
                    "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(ports["apiserver"]),
                    "--tls-cert-file", os.path.join(pki, "apiserver.crt"), "--tls-private-key-file", os.path.join(pki, "apiserver.key"),
                    "--client-ca-file", self.ca_cert_path, "--token-auth-file", os.path.join(pki, "tokens.csv"),
                    "--service-cluster-ip-range", SERVICE_CIDR, "--authorization-mode", "Node,RBAC",
                    "--service-account-issuer", "https://kubernetes.default.svc",
                    "--service-account-key-file", os.path.join(pki, "sa.pub"),
                    "--service-account-signing-key-file", os.path.join(pki, "sa.key"),
                    "--allow-privileged", "--profiling=false", "--v", "1"]
        common = ["--bind-address", "127.0.0.1", "--leader-elect=false", "--profiling=false"]
        if component == "kube-controller-manager":
            kubeconfig = os.path.join(pki, "controller-manager.kubeconfig")
            return [binary, "--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
                    "--secure-port", str(ports["controller-manager"]), "--root-ca-file", self.ca_cert_path,
                    "--service-account-private-key-file", os.path.join(pki, "sa.key"), "--use-service-account-credentials",
                    "--service-cluster-ip-range", SERVICE_CIDR,
                    # the default 20/30 throttles a fleet of releases created at once
                    "--kube-api-qps", "200", "--kube-api-burst", "400", "--v", "1"] + common
        if component == "kube-scheduler":
            kubeconfig = os.path.join(pki, "scheduler.kubeconfig")
            return [binary, "--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
                    "--secure-port", str(ports["scheduler"]), "--v", "1"] + common
        if component == "kwok":
            stages = sorted(os.path.join(STAGES_DIR, name) for name in os.listdir(STAGES_DIR) if name.endswith(".yaml"))
            return [binary, "--kubeconfig", os.path.join(pki, "kwok.kubeconfig"),
                    "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
                    "--server-address", "127.0.0.1:%d" % ports["kwok"], "--node-lease-duration-seconds", "40",
                    "--cidr", "10.244.0.0/16", "--node-ip", "10.0.0.1"] + ["--config=" + stage for stage in stages]
        raise ValueError("unknown component %r" % component)

    def _spawn(self, component):
        os.makedirs(self.path("logs"), exist_ok=True)
        with open(self.path("logs", component + ".log"), "ab") as log:
            # pylint: disable-next=consider-using-with  # a server process: stopped by stop()
            self.processes[component] = subprocess.Popen(
                self._argv(component), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                start_new_session=True, preexec_fn=_die_with_parent if self.tie_to_parent else None)  # noqa: PLW1509

    def _terminate(self, component, grace=10):
        process = self.processes.pop(component, None)
        if process is None or process.poll() is not None:
            return
        if grace:
            process.terminate()
            try:
                process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        process.wait()

    def log_tail(self, component, lines=30):
        try:
            with open(self.path("logs", component + ".log"), encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def _wait(self, what, probe, components, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for component in components:
                process = self.processes.get(component)
                if process is not None and process.poll() is not None:
                    raise ControlPlaneError("%s exited with %s while waiting for %s; its log ends:\n%s" % (
                        component, process.returncode, what, self.log_tail(component)))
            try:
                if probe():
                    return
            except (OSError, ValueError, KeyError) as error:  # not up yet
                last = error
            time.sleep(0.2)
        raise ControlPlaneError("%s not ready after %ss (last error: %s); logs in %s\n%s" % (
            what, timeout, last, self.path("logs"), "".join(self.log_tail(c) for c in components)))

    # --- the API -----------------------------------------------------------------------------

    def api(self, method, path, body=None, content_type="application/json", timeout=10):
        """One request as the admin; returns the decoded JSON (or text); raises HTTPError."""
        data = json.dumps(body).encode("utf-8") if body is not None and not isinstance(body, bytes) else body
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout, context=self.client_ssl_context()) as response:
            text = response.read().decode("utf-8")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def create(self, path, body):
        """POST ``body`` unless it exists already (start is idempotent across restarts)."""
        try:
            return self.api("POST", path, body)
        except urllib.error.HTTPError as error:
            if error.code != 409:
                raise
            return None

    def _readyz(self):
        return self.api("GET", "/readyz", timeout=5) == "ok"

    def _bootstrap_objects(self):
        for user, role in ((OPERATOR, "cluster-admin"), (VIEWER, "view")):
            self.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": user},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
        self._admission_policy()
        labels = {"app": PROBE}
        self.create("/apis/apps/v1/namespaces/kube-system/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": PROBE},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels}, "spec": {"containers": [{"name": "probe", "image": "registry.local/probe:1"}]}}}})
        self.create("/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE_NAME, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"}},
            "spec": {}})

    def _admission_policy(self):
        # The test bed's second convention, enforced by real admission: a ConfigMap with a data
        # key or value "reject" is refused (422 Invalid), so a Helm operation fails at once.
        rule = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}
        self.create("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": REJECT_POLICY},
            "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [rule]}, "validations": [{
                "expression": "!has(object.data) || !object.data.exists(k, k == '%s' || object.data[k].trim() == '%s')" % (
                    REJECT_MARKER, REJECT_MARKER),
                "message": 'refused by the test admission policy (a data key or value "%s")' % REJECT_MARKER,
                "reason": "Invalid"}]}})
        self.create("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": REJECT_POLICY},
            "spec": {"policyName": REJECT_POLICY, "validationActions": ["Deny"]}})

    def _controllers_resumed(self):
        """Roll the probe Deployment out once more and see it through: the controller manager,
        the scheduler and kwok all watch the API again. After an API server outage their watches
        come back only when a backoff of up to 30 s expires, so "readyz ok" is not enough."""
        path = "/apis/apps/v1/namespaces/kube-system/deployments/" + PROBE
        patch = {"spec": {"template": {"metadata": {"annotations": {"matih.dev/rollout": str(time.time_ns())}}}}}
        generation = self.api("PATCH", path, patch, content_type="application/merge-patch+json")["metadata"]["generation"]

        def rolled_out():
            status = self.api("GET", path).get("status", {})
            return status.get("observedGeneration", 0) >= generation and all(
                status.get(field) == 1 for field in ("replicas", "updatedReplicas", "availableReplicas"))

        self._wait("the controllers to roll out %s" % PROBE, rolled_out, self.COMPONENTS)
        return True

    def _node_ready(self):
        node = self.api("GET", "/api/v1/nodes/" + NODE_NAME)
        ready = [c for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
        return bool(ready) and ready[0]["status"] == "True" and not node["spec"].get("taints")

    def _policy_enforced(self):
        probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "policy-probe"}, "data": {REJECT_MARKER: "true"}}
        try:
            self.api("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", probe)
        except urllib.error.HTTPError as error:
            return error.code == 422
        return False

    def _default_service_account(self):
        return self.api("GET", "/api/v1/namespaces/default/serviceaccounts/default")["metadata"]["name"] == "default"

    # --- life cycle --------------------------------------------------------------------------

    def _state(self):
        return self.path("state.json")

    def start(self):
        """Start (or restart on the same data and ports) and wait until the cluster is usable."""
        if self.processes:
            raise ControlPlaneError("the control plane in %s is already running" % self.directory)
        os.makedirs(self.directory, exist_ok=True)
        if not os.path.exists(os.path.join(self._pki, "tokens.csv")):
            self._make_pki()
        self._load_tokens()
        if os.path.exists(self._state()):
            with open(self._state(), encoding="utf-8") as handle:
                self.ports = json.load(handle)["ports"]
        else:
            self.ports = {}
            for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok"):
                self.ports[name] = _free_port(self.ports.values())
        self._point_kubeconfigs()
        try:
            self._spawn("etcd")
            self._wait("etcd", lambda: json.load(urllib.request.urlopen(  # pylint: disable=consider-using-with
                "http://127.0.0.1:%d/health" % self.ports["etcd"], timeout=2))["health"] == "true", ["etcd"])
            self.start_apiserver()
            self._bootstrap_objects()
            for component in ("kube-controller-manager", "kube-scheduler", "kwok"):
                self._spawn(component)
            self._wait("the default ServiceAccount", self._default_service_account, self.COMPONENTS)
            self._wait("node %s Ready" % NODE_NAME, self._node_ready, self.COMPONENTS)
            self._wait("the admission policy %s" % REJECT_POLICY, self._policy_enforced, self.COMPONENTS)
            self._controllers_resumed()
        except BaseException:
            self.stop()
            raise
        self._save_state()
        return self

    def _save_state(self):
        state = {"ports": self.ports, "url": self.url, "kubeconfig": self.kubeconfig_path, "bin_dir": self.bin_dir,
                 "pids": {name: process.pid for name, process in self.processes.items()}}
        with open(self._state(), "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=2)

    def start_apiserver(self):
        """Start kube-apiserver (after ``stop_apiserver``, on the same port) and wait for readyz,
        and after an outage until the controllers are back too.

        After an outage the API server's clients (controller manager, scheduler, kwok) watch again
        only when a backoff of up to 30 s expires; started afresh they list and watch at once, so
        they are restarted: an outage in a test costs seconds, not half a minute."""
        self._spawn("kube-apiserver")
        self._wait("kube-apiserver /readyz", self._readyz, ["etcd", "kube-apiserver"])
        clients = [component for component in self.API_CLIENTS if component in self.processes]
        for process in [self.processes[component] for component in clients]:
            process.terminate()
        for component in clients:
            self._terminate(component)
            self._spawn(component)
        if os.path.exists(self._state()):
            self._save_state()
        if clients:
            self._controllers_resumed()

    def stop_apiserver(self):
        """An API server outage: the port closes (connection refused); etcd and the rest stay.
        Killed, as a crash would end it: a graceful stop waits up to 10 s for the clients' watches."""
        self._terminate("kube-apiserver", grace=0)

    def stop(self):
        """Stop every process, the API server's clients first; the data directory stays."""
        for component in reversed(self.COMPONENTS):
            self._terminate(component)

    @property
    def running(self):
        return all(process.poll() is None for process in self.processes.values()) and len(self.processes) == len(self.COMPONENTS)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def _alive(pid, binary):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().split(b"\0")[0].decode() == binary
    except OSError:
        return False


def down(directory, grace=10):
    """Stop the control plane that ``up`` started in ``directory`` (its pids are in state.json)."""
    if not os.path.exists(os.path.join(directory, "state.json")):
        return False
    with open(os.path.join(directory, "state.json"), encoding="utf-8") as handle:
        state = json.load(handle)
    bin_dir = state.get("bin_dir", "")
    for component in reversed(ControlPlane.COMPONENTS):
        pid = state["pids"].get(component)
        binary = os.path.join(bin_dir, component)
        if pid and _alive(pid, binary):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _alive(pid, binary) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid, binary):
                os.kill(pid, signal.SIGKILL)
    state["pids"] = {}
    with open(os.path.join(directory, "state.json"), "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description="A real Kubernetes control plane on loopback (etcd, kube-apiserver, "
                                     "kube-controller-manager, kube-scheduler, kwok).")
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("directory", help="certificates, etcd data, kubeconfigs and logs; 'up' again restarts on the same data")
    args = parser.parse_args(argv)
    if args.action == "down":
        if not down(args.directory):
            print("no control plane was started in %s" % args.directory, file=sys.stderr)
        return 0
    plane = ControlPlane(args.directory, tie_to_parent=False).start()
    print(plane.kubeconfig_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Emulator: a store, a simulated cluster and an HTTP(S) server on loopback, plus a kubeconfig."""

import os
import shutil
import tempfile
import threading
import time

import yaml

from .controller import ClusterSimulation
from .discovery import BY_PATH
from .faults import FaultInjector, RequestStats
from .server import ApiServer
from .store import Store
from .tls import CertificateAuthority

CONTEXT = "kubeemu"
DEFAULT_TOKEN = "kubeemu-token"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public")
USE_DEFAULT = object()


class Emulator:
    """A Kubernetes API emulator that real Helm binaries accept.

    ``port=0`` picks a free port.  The kubeconfig (written on start) has one context,
    ``kubeemu``, with a bearer-token user; tokens are only checked when ``require_token``.

    ``tls=True`` serves HTTPS with a certificate authority made at start: its certificate is
    written next to the kubeconfig (``ca_cert_path``, ``KUBECONFIG.ca.crt``) and the kubeconfig's
    cluster names it as ``certificate-authority``.  Helm sends the bearer token only over TLS,
    so ``require_token`` is only useful with ``tls``.
    """

    def __init__(self, kubeconfig_path=None, host="127.0.0.1", port=0, token=DEFAULT_TOKEN, require_token=False, tls=False):
        self.store = Store(ClusterSimulation())
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self.context = CONTEXT
        self.token = token
        self._address = (host, port)
        self._require_token = require_token
        self.tls = tls
        self._authority = None
        self._ca_cert_path = None
        self._kubeconfig_path = kubeconfig_path
        self._temp_dir = None
        self._server = None
        self._thread = None
        for name in INITIAL_NAMESPACES:
            self.create_namespace(name)

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return "%s://%s:%d" % ("https" if self.tls else "http", host, port)

    @property
    def kubeconfig_path(self):
        return self._kubeconfig_path

    @property
    def ca_cert_path(self):
        """The CA certificate file (PEM) while serving TLS, else None."""
        return self._ca_cert_path

    @property
    def ca_cert_pem(self):
        """The CA certificate (PEM bytes) while serving TLS, else None."""
        return self._authority.ca_pem if self._authority else None

    def client_ssl_context(self):
        """For Python clients (urllib): trusts the emulator's CA; None without TLS."""
        return self._authority.client_context() if self._authority else None

    def create_namespace(self, name):
        """Create namespace ``name`` unless it exists (handy for test setup)."""
        if not self.store.namespace_exists(name):
            self.store.create(BY_PATH[("", "v1", "namespaces")], "", {"metadata": {"name": name}})

    @property
    def running(self):
        return self._server is not None

    def start(self):
        """Serve.  After ``stop(keep_store=True)`` this is a restart: same port, objects, CA and
        kubeconfig, as when a real API server restarts on top of the same etcd."""
        if self._server is not None:
            raise RuntimeError("the emulator is already serving %s" % self.url)
        self.store.reopen()
        ssl_context = None
        if self.tls:
            if self._authority is None:
                self._authority = CertificateAuthority()  # for 127.0.0.1, ::1 and localhost
            ssl_context = self._authority.server_context()
        self._server = ApiServer(self._address, self.store, self.faults, self.stats, self.token, self._require_token, ssl_context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kubeemu-server", daemon=True)
        self._thread.start()
        # A restart binds the same port again (port 0 picked one on the first start).
        self._address = self._server.server_address[:2]
        if self._kubeconfig_path is None:
            self._temp_dir = tempfile.mkdtemp(prefix="kubeemu-")
            self._kubeconfig_path = os.path.join(self._temp_dir, "kubeconfig")
        if self._authority:
            self._ca_cert_path = self._authority.write_ca(self._kubeconfig_path + ".ca.crt")
        self.write_kubeconfig(self._kubeconfig_path)
        return self

    def write_kubeconfig(self, path, token=USE_DEFAULT, certificate_authority=USE_DEFAULT, insecure=False):
        """Write a kubeconfig for this emulator (``start`` writes the default one).

        For tests of the failure paths: ``token=None`` leaves the user without credentials, any
        other string replaces the token; ``certificate_authority=None`` leaves the CA out (Helm
        then rejects the server certificate), a path names another CA file; ``insecure=True``
        sets ``insecure-skip-tls-verify``.
        """
        token = self.token if token is USE_DEFAULT else token
        cluster = {"server": self.url}
        certificate_authority = self._ca_cert_path if certificate_authority is USE_DEFAULT else certificate_authority
        if certificate_authority:
            cluster["certificate-authority"] = certificate_authority
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": CONTEXT, "user": {"token": token} if token is not None else {}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
            "current-context": CONTEXT,
            "preferences": {},
        }
        # Helm warns about group- or world-readable kubeconfigs.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, default_flow_style=False)

    def stop(self, keep_store=False):
        """Stop serving: watches end, keep-alive connections close, threads are joined.

        ``keep_store=True`` is an API server outage: the port is closed (clients get "connection
        refused"), but the objects, the port number, the CA and the kubeconfig stay, so
        ``start()`` (or ``restart()``) brings the same cluster back.  Faults and counters stay too.
        """
        if self._server is None:
            if not keep_store:
                self._cleanup()
            return
        self._server.shutdown()
        self.store.close()
        self._server.close_connections()
        self._server.server_close()  # joins the request threads
        self._thread.join()
        self._server = None
        if not keep_store:
            self._cleanup()

    def restart(self, down_seconds=0.0):
        """An API server restart: stop keeping the store, stay down ``down_seconds``, start again."""
        self.stop(keep_store=True)
        if down_seconds:
            time.sleep(down_seconds)
        return self.start()

    def _cleanup(self):
        if self._ca_cert_path:
            if os.path.exists(self._ca_cert_path):
                os.unlink(self._ca_cert_path)
            self._ca_cert_path = None
        self._authority = None
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self._kubeconfig_path = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

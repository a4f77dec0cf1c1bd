"""The Emulator: a store, a simulated cluster and an HTTP server on loopback, plus a kubeconfig."""

import os
import shutil
import tempfile
import threading

import yaml

from .controller import ClusterSimulation
from .discovery import BY_PATH
from .faults import FaultInjector, RequestStats
from .server import ApiServer
from .store import Store

CONTEXT = "kubeemu"
DEFAULT_TOKEN = "kubeemu-token"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public")


class Emulator:
    """A Kubernetes API emulator that real Helm binaries accept.

    ``port=0`` picks a free port.  The kubeconfig (written on start) has one context,
    ``kubeemu``, with a bearer-token user; tokens are only checked when ``require_token``.
    """

    def __init__(self, kubeconfig_path=None, host="127.0.0.1", port=0, token=DEFAULT_TOKEN, require_token=False):
        self.store = Store(ClusterSimulation())
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self.context = CONTEXT
        self.token = token
        self._address = (host, port)
        self._require_token = require_token
        self._kubeconfig_path = kubeconfig_path
        self._temp_dir = None
        self._server = None
        self._thread = None
        for name in INITIAL_NAMESPACES:
            self.create_namespace(name)

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (host, port)

    @property
    def kubeconfig_path(self):
        return self._kubeconfig_path

    def create_namespace(self, name):
        """Create namespace ``name`` unless it exists (handy for test setup)."""
        if not self.store.namespace_exists(name):
            self.store.create(BY_PATH[("", "v1", "namespaces")], "", {"metadata": {"name": name}})

    def start(self):
        self._server = ApiServer(self._address, self.store, self.faults, self.stats, self.token, self._require_token)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kubeemu-server", daemon=True)
        self._thread.start()
        if self._kubeconfig_path is None:
            self._temp_dir = tempfile.mkdtemp(prefix="kubeemu-")
            self._kubeconfig_path = os.path.join(self._temp_dir, "kubeconfig")
        self.write_kubeconfig(self._kubeconfig_path)
        return self

    def write_kubeconfig(self, path):
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": CONTEXT, "user": {"token": self.token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
            "current-context": CONTEXT,
            "preferences": {},
        }
        # Helm warns about group- or world-readable kubeconfigs.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, default_flow_style=False)

    def stop(self):
        """Stop serving: watches end, keep-alive connections close, threads are joined."""
        if self._server is None:
            return
        self._server.shutdown()
        self.store.close()
        self._server.close_connections()
        self._server.server_close()  # joins the request threads
        self._thread.join()
        self._server = None
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self._kubeconfig_path = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

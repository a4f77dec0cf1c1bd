"""The inventory plugin matih.helm.helm_releases, run as users run it: ``ansible-inventory --list`` and
``--graph`` against two real control planes at once, and a play fed by its hosts.

Two control planes of this module's own (each starts in about 5 s), so that the releases listed are
exactly the ones made here with real Helm, each behind a fault proxy that counts the requests it
forwards (tests/cluster/faultproxy.py, the real count at the wire):

- ``east``, read as the admin (a client certificate, through a kubeconfig): ``shop/web`` failed
  (an upgrade the admission policy refused) and ``shop/cart`` deployed;
- ``west``, read as a ServiceAccount whose real RBAC lets it list Secrets in ``tenant-a`` only, with
  its token given vault-encrypted in the inventory source: ``tenant-a/api`` deployed and
  ``tenant-a/queue`` pending-install (Helm killed mid-install), and ``tenant-b/db``, which it may not
  read.

What is proven: every readable release of both clusters is a host with the right groups and
variables; ``tenant-b`` is reported (a warning naming it and its error kind) and the rest is listed,
and ``strict: true`` fails naming it instead; east costs exactly one LIST, west (denied
cluster-wide) one denied LIST plus one per given namespace; no token is in any output; and the
hosts' ``matih_helm_connection``, given to ``module_defaults``, connects the modules (the vaulted
token decrypted by the play).
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

import controlplane
import faultproxy
import role_runner
import scenarios
from fixtures import Cluster, cluster_kind
from identities import bound_token

ANSIBLE_BIN = os.path.dirname(sys.executable)
VAULT_PASSWORD = "inventory-test-vault-password"
READER = "inventory-reader"


def _up(directory):
    """A control plane and a counting proxy in front of it, as a fixtures.Cluster (admin kubeconfig through the proxy)."""
    plane = controlplane.ControlPlane(str(directory))
    plane.start()
    server_pem, server_key = plane.fault_proxy_certificate()
    proxy = faultproxy.FaultProxy(plane.url, plane.ca_cert_path, server_pem, server_key, *plane.admin_cert_paths)
    proxy.start()
    kubeconfig = plane.write_kubeconfig(plane.path("proxy.kubeconfig"), plane.kubeconfig("admin", server=proxy.url))
    return Cluster(kubeconfig, controlplane.CONTEXT, proxy.url, plane=plane, proxy=proxy)


def _reader_token(cluster, namespace):
    """A real ServiceAccount token that may list and get Secrets in ``namespace`` only (a Role, not a ClusterRole)."""
    return bound_token(cluster, namespace, READER, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]})


@pytest.fixture(scope="module")
def helm():
    path = scenarios.HELM_BINARIES["helm4"]
    if not os.access(path, os.X_OK):
        pytest.skip("Helm 4 not found at %s (run the bootstrap, or set MATIH_HELM4)" % path)
    return path


@pytest.fixture(scope="module")
def fleet(helm, tmp_path_factory):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    """Two control planes with their releases, and the west reader's token (the worker's own is not needed)."""
    if cluster_kind() != "controlplane":
        pytest.skip("needs the real control plane: two of them, their RBAC and ServiceAccount tokens")
    started = []
    try:
        for name in ("east", "west"):
            started.append(_up(tmp_path_factory.mktemp("inventory-" + name)))
        east, west = started
        scenarios.install(helm, east.kubeconfig, "web", "shop")
        scenarios.failed_upgrade(helm, east.kubeconfig, "web", "shop", "rejected_config")
        scenarios.install(helm, east.kubeconfig, "cart", "shop")
        scenarios.install(helm, west.kubeconfig, "api", "tenant-a")
        scenarios.install(helm, west.kubeconfig, "db", "tenant-b")
        scenarios.pending_release(helm, west.kubeconfig, "queue", "tenant-a", kind="install")
        yield {"east": east, "west": west, "token": _reader_token(west, "tenant-a")}
    finally:
        for one in started:
            one.proxy.stop()
            one.plane.stop()


def _vaulted(text, tmp_path):
    password = tmp_path / "vault-password"
    password.write_text(VAULT_PASSWORD)
    run = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-vault"), "encrypt_string", "--vault-password-file",
                          str(password), "--stdin-name", "api_key"], input=text, capture_output=True, text=True,
                         check=True, env=role_runner.base_env(tmp_path))
    return run.stdout, str(password)


def _source(fleet, tmp_path, strict=False):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    """The inventory source: east by kubeconfig, west by host, CA and the vaulted reader token."""
    vaulted, password = _vaulted(fleet["token"], tmp_path)
    west = fleet["west"]
    text = "\n".join([
        "plugin: matih.helm.helm_releases",
        "strict: %s" % ("true" if strict else "false"),
        "namespaces: [shop, tenant-a, tenant-b]",
        "clusters:",
        "  - name: east",
        "    kubeconfig: %s" % fleet["east"].kubeconfig,
        "  - name: west",
        "    host: %s" % west.url,
        "    ca_cert: %s" % west.plane.ca_cert_path,
        "    " + vaulted.rstrip("\n").replace("\n", "\n    "),
        "keyed_groups:",
        "  - key: helm_release.cluster",
        "    prefix: from",
        "",
    ])
    source = tmp_path / ("%s.helm_releases.yml" % ("strict" if strict else "fleet"))
    source.write_text(text)
    return str(source), password


def _inventory(source, password, tmp_path, *args, **env_extra):
    env = role_runner.base_env(tmp_path, **env_extra)
    return subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-inventory"), "-i", source, "--vault-password-file",
                           password] + list(args), capture_output=True, text=True, timeout=120, check=False, env=env)


def _requests(cluster):
    """{"GET /route": count} the proxy forwarded since the last reset."""
    return {key: count for key, count in cluster.request_stats().items() if not key.startswith("GET /_emulator")}


def test_inventory_of_two_clusters(fleet, helm, tmp_path):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    east, west = fleet["east"], fleet["west"]
    source, password = _source(fleet, tmp_path)
    for cluster in (east, west):
        cluster.request_stats(reset=True)
    listed = _inventory(source, password, tmp_path, "--list")
    assert listed.returncode == 0, listed.stderr
    requests = {"east": _requests(east), "west": _requests(west)}
    # one metadata-only LIST for east; west's identity may not list cluster-wide: one denied LIST, then one per namespace
    assert requests["east"] == {"GET /api/v1/secrets": 1}, requests
    assert requests["west"] == {"GET /api/v1/secrets": 1, "GET /api/v1/namespaces/*/secrets": 3}, requests

    inventory = json.loads(listed.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == ["east/shop/cart", "east/shop/web", "west/tenant-a/api", "west/tenant-a/queue"]

    def hosts(group):
        return sorted(inventory.get(group, {}).get("hosts", []))
    assert hosts("helm_failed") == ["east/shop/web"]
    assert hosts("helm_pending_install") == ["west/tenant-a/queue"]
    assert hosts("helm_deployed") == ["east/shop/cart", "west/tenant-a/api"]
    assert hosts("helm_unhealthy") == ["east/shop/web", "west/tenant-a/queue"]
    assert hosts("helm_namespace_shop") == ["east/shop/cart", "east/shop/web"]
    assert hosts("helm_namespace_tenant_a") == ["west/tenant-a/api", "west/tenant-a/queue"]
    assert hosts("helm_cluster_east") == hosts("from_east") == ["east/shop/cart", "east/shop/web"]
    assert hosts("helm_cluster_west") == hosts("from_west") == ["west/tenant-a/api", "west/tenant-a/queue"]
    assert "helm_namespace_tenant_b" not in inventory

    def plain(value):
        """A value as ansible-inventory prints it, without its marker of untrusted text."""
        if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()} if isinstance(value, dict) else value
    web = plain(hostvars["east/shop/web"])
    release = web["helm_release"]
    assert {key: release[key] for key in ("name", "namespace", "cluster", "revision", "status")} == {
        "name": "web", "namespace": "shop", "cluster": "east", "revision": 2, "status": "failed"}
    assert release["updated"].endswith("Z") and 0 <= release["age_seconds"] < 600, release
    assert web["ansible_connection"] == "local"
    assert web["matih_helm_connection"] == {"kubeconfig": east.kubeconfig}
    queue = plain(hostvars["west/tenant-a/queue"])
    assert (queue["helm_release"]["revision"], queue["helm_release"]["status"]) == (1, "pending-install")
    connection = queue["matih_helm_connection"]
    assert (connection["host"], connection["ca_cert"]) == (west.url, west.plane.ca_cert_path)
    assert set(connection["api_key"]) == {"__ansible_vault"}  # handed over encrypted
    assert connection["api_key"]["__ansible_vault"].startswith("$ANSIBLE_VAULT;")

    # the namespace west may not read is reported, naming it and why; the rest is listed above
    warning = " ".join(listed.stderr.split())
    assert "cluster west, namespace tenant-b cannot be read (access_denied)" in warning, listed.stderr
    assert "system:serviceaccount:tenant-a:%s" % READER in warning, listed.stderr

    graph = _inventory(source, password, tmp_path, "--graph")
    assert graph.returncode == 0, graph.stderr
    lines = [line.strip(" |-") for line in graph.stdout.splitlines()]
    for group, members in (("helm_unhealthy", ["east/shop/web", "west/tenant-a/queue"]),
                           ("helm_cluster_west", ["west/tenant-a/api", "west/tenant-a/queue"])):
        start = lines.index("@%s:" % group)
        assert lines[start + 1:start + 1 + len(members)] == members, graph.stdout

    # strict: the inventory fails naming the namespace (an unparsed source fails the command, as AWX has it)
    strict = _inventory(*_source(fleet, tmp_path, strict=True), tmp_path, "--list", ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    assert strict.returncode != 0 and "east/shop/web" not in strict.stdout, strict.stdout[-2000:]
    assert "namespace tenant-b cannot be read (access_denied)" in " ".join(strict.stderr.split()), strict.stderr

    # the hosts' connection, given to module_defaults, reaches each cluster as its identity (west: the vaulted token)
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{
        "hosts": "all", "gather_facts": False,
        "module_defaults": {"group/matih.helm.helm": "{{ matih_helm_connection | combine({'binary_path': helm}) }}"},
        "tasks": [{"matih.helm.helm_release_history": {"name": "{{ helm_release.name }}",
                                                       "release_namespace": "{{ helm_release.namespace }}"},
                   "register": "history"},
                  {"ansible.builtin.assert": {"that": ["history.history[-1].revision == helm_release.revision",
                                                       "history.history[-1].status == helm_release.status",
                                                       "history.history_source == 'release_records'"]}}]}]))
    ran = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-playbook"), "-i", source, "--vault-password-file", password,
                          "-e", "helm=%s" % helm, str(play)], capture_output=True, text=True, timeout=300, check=False,
                         env=role_runner.base_env(tmp_path))
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-3000:]
    recap = dict(re.findall(r"^(\S+)\s*: ok=(\d+) .*failed=0 ", ran.stdout, re.M))
    assert recap == dict.fromkeys(hostvars, "2"), ran.stdout[-3000:]

    for output in (listed.stdout, listed.stderr, graph.stdout, graph.stderr, strict.stdout, strict.stderr, ran.stdout,
                   ran.stderr):
        assert fleet["token"] not in output and west.plane.token not in output and east.plane.token not in output

"""Every way the modules' own API client authenticates, proven on the real control plane.

The modules read Helm's release records with one LIST of Secrets through module_utils/kube_client.py
when module_utils/connection.py can reproduce the connection Helm's client-go would make; else Helm
reads. So each authentication path is proven by the fast path answering: ``helm_release_history``
says ``history_source: release_records`` (``helm`` would mean it fell back) and
``helm_release_drift``, which has no Helm fallback at all, checks the release (in sync). Anonymous
requests cannot list Secrets here (RBAC), so an answer means the credential was sent and accepted.

- client certificate, from files and from data; bearer token inline and from ``tokenFile``;
- exec credential plugins (``client.authentication.k8s.io/v1`` and ``v1beta1``): a Python script
  that logs each run (its args, its ``env`` entries, the ExecCredential request, its parent) and
  prints the operator's real token, taken from its ``env``; the credential is reused within one
  module process (one run for a drift check of several requests), and a rollback through it runs
  one Helm process (the rollback) beyond ``version``;
- impersonation (``as:`` and HELM_KUBEASUSER), judged by the real RBAC: the viewer may not read
  Secrets, so the drift check is denied and Helm, impersonating too, is denied as well;
- a kubeconfig merged from several KUBECONFIG files (clusters, users, contexts apart);
- an ``auth-provider`` (oidc), which our client refuses (``unsupported_kubeconfig``) while Helm,
  which still has the oidc provider, reads the history with it.

Not here: that no credential goes to a plain ``http://`` server (this control plane serves TLS only;
the unit tests of connection.py cover it). test_credentials.py covers AWX's credential variables
(``api_key``/K8S_AUTH_*) and the collection's credential type; this file does not repeat them.

Cheap on purpose: one release (install + upgrade) for the whole module, one ansible-playbook run per
test, every case a registered task with ``ignore_errors``, the results read from a JSON file. Nothing
here depends on the Helm major, so it runs on helm_majors.ONE_MAJOR only.
"""

import json
import os
import pathlib
import stat
import subprocess
import sys
import uuid

import pytest
import yaml

import controlplane
import role_runner
import scenarios
from playbook_runner import release_records

RELEASE = "auth"

# A client-go credential plugin: logs one JSON line per run to the file its 2nd argument names, then
# prints an ExecCredential of the apiVersion its 1st argument names with the token of its env
# MATIH_EXEC_TOKEN, valid for its 3rd argument's seconds ("none": no expirationTimestamp).
EXEC_PLUGIN = r'''#!@PYTHON@
import datetime, json, os, sys

api_version, log, lifetime = sys.argv[1:4]
with open("/proc/%d/comm" % os.getppid()) as handle:
    parent = handle.read().strip()
line = json.dumps({"args": sys.argv[1:], "mark": os.environ.get("MATIH_EXEC_MARK"), "task": os.environ.get("MATIH_TEST_TASK"),
                   "parent": parent, "request": json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "null")})
with open(log, "a") as handle:
    handle.write(line + "\n")
status = {"token": os.environ["MATIH_EXEC_TOKEN"]}
if lifetime != "none":
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=int(lifetime))
    status["expirationTimestamp"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({"apiVersion": api_version, "kind": "ExecCredential", "status": status}))
'''


@pytest.fixture(scope="module")
def auth_namespace(cluster):
    """A namespace for this module's one release; ``made`` remembers whether it was installed."""
    if cluster.kind != "controlplane":
        pytest.skip("needs the real control plane: its client certificates, tokens, RBAC users and CA")
    name = "t-conn-auth-" + uuid.uuid4().hex[:6]
    cluster.create_namespace(name)
    yield {"name": name, "made": False}
    cluster.delete_namespace(name)


@pytest.fixture
def release(cluster, auth_namespace, helm_binary):
    """The namespace of the release ``auth``: revision 1 (chart 1.0.0), revision 2 (1.1.0), both by real
    Helm as the admin; installed by the first test that needs it (any later rollback only adds revisions)."""
    if not auth_namespace["made"]:
        scenarios.release_with_good_revisions(helm_binary, cluster.kubeconfig, RELEASE, auth_namespace["name"], 2)
        auth_namespace["made"] = True
    return auth_namespace["name"]


# --- kubeconfigs and plays --------------------------------------------------------------------------

def _kubeconfig(path, config):
    """Write ``config`` to ``path`` (mode 0600, as Helm wants) and return the path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    controlplane.ControlPlane.write_kubeconfig(str(path), config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return str(path)


def _env(tmp_path):
    """ansible-playbook's environment with no connection of its own: only what the tasks pass counts."""
    env = role_runner.base_env(tmp_path)
    for key in list(env):
        if key.startswith(("K8S_AUTH_", "HELM_KUBE")) or key in ("HELM_DRIVER", "MATIH_TEST_TASK"):
            del env[key]
    return env


def _task(register, module, args, environment=None):
    task = {"name": register, "matih.helm." + module: args, "register": register, "ignore_errors": True}
    if environment:
        task["environment"] = environment
    return task


def _reads(label, namespace, helm, kubeconfig=None, environment=None, history=True):
    """helm_release_history then helm_release_drift of the release, registered as LABEL_history and LABEL_drift."""
    target = {"name": RELEASE, "release_namespace": namespace}
    if kubeconfig:
        target["kubeconfig"] = kubeconfig
    tasks = [_task(label + "_history", "helm_release_history", dict(target, binary_path=str(helm)),
                   dict(environment or {}, MATIH_TEST_TASK=label + "_history"))] if history else []
    return tasks + [_task(label + "_drift", "helm_release_drift", target,
                          dict(environment or {}, MATIH_TEST_TASK=label + "_drift"))]


def _play(tmp_path, tasks):
    """Run ``tasks`` in one play on localhost; returns ({register: result}, ansible's output and the saved
    results, the text a secret must not appear in)."""
    results = tmp_path / "results.json"
    names = [task["register"] for task in tasks]
    save = {"name": "save the results", "ansible.builtin.copy": {
        "dest": str(results), "content": "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (n, n) for n in names)}}
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "connection auth", "hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks + [save]}], sort_keys=False, width=1000))
    run = subprocess.run([role_runner.ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)],
                         env=_env(tmp_path), capture_output=True, text=True, timeout=300, check=False,
                         cwd=str(tmp_path))
    # the registered results too: ansible prints a result only when a task fails
    output = run.stdout + run.stderr
    assert results.is_file(), "rc=%d\n%s" % (run.returncode, output[-10000:])
    saved = results.read_text(encoding="utf-8")
    return json.loads(saved), output + saved


def _fast_path(results, label):
    """LABEL's history came from the release records and its drift check answered: the API client connected."""
    history, drift = results[label + "_history"], results[label + "_drift"]
    assert not history.get("failed"), "%s history: %s" % (label, history.get("msg"))
    assert history["history_source"] == "release_records", "%s: history read through Helm, not the API client" % label
    assert history["exists"] and history["history"][-1]["status"] == "deployed", history["history"]
    _drift_answered(drift, history["history"][-1]["revision"], label)


def _drift_answered(drift, latest, label):
    assert not drift.get("failed"), "%s drift: %s: %s" % (label, drift.get("error_kind"), drift.get("msg"))
    assert (drift["revision"], drift["status"], drift["drifted"]) == (latest, "deployed", False), drift
    assert drift["summary"]["objects"] >= 1 and drift["api_requests"] >= 2, drift


# --- the tests ----------------------------------------------------------------------------------------

def test_client_certificate_from_files_and_from_data(helm_binary, cluster, release, tmp_path):
    """client-certificate/client-key (paths) and client-certificate-data/client-key-data (PEM, base64)."""
    plane = cluster.plane
    certificate, key = plane.admin_cert_paths
    by_files = _kubeconfig(tmp_path / "files.kubeconfig",
                           plane.kubeconfig({"client-certificate": certificate, "client-key": key}))
    by_data = _kubeconfig(tmp_path / "data.kubeconfig", plane.kubeconfig("admin"))
    assert "client-key-data" in (tmp_path / "data.kubeconfig").read_text(encoding="utf-8")
    tasks = _reads("files", release, helm_binary, by_files) + _reads("data", release, helm_binary, by_data)
    results = _play(tmp_path, tasks)[0]
    _fast_path(results, "files")
    _fast_path(results, "data")


def test_bearer_token_inline_and_from_token_file(helm_binary, cluster, release, tmp_path):
    """``token`` in the kubeconfig user, and ``tokenFile`` naming a file that holds it (the operator's token)."""
    plane = cluster.plane
    token_file = tmp_path / "operator.token"
    token_file.write_text(plane.token + "\n")
    token_file.chmod(0o600)
    inline = _kubeconfig(tmp_path / "token.kubeconfig", plane.kubeconfig({"token": plane.token}))
    from_file = _kubeconfig(tmp_path / "token-file.kubeconfig", plane.kubeconfig({"tokenFile": str(token_file)}))
    results, output = _play(tmp_path, _reads("inline", release, helm_binary, inline)
                            + _reads("token_file", release, helm_binary, from_file))
    _fast_path(results, "inline")
    _fast_path(results, "token_file")
    assert plane.token not in output


def _exec_plugin(tmp_path):
    script = tmp_path / "credential-plugin.py"
    script.write_text(EXEC_PLUGIN.replace("@PYTHON@", sys.executable))
    script.chmod(0o700)
    return str(script)


def _exec_kubeconfig(tmp_path, plane, api_version, lifetime, mark):
    """A kubeconfig whose user gets the operator's token from the plugin, and the plugin's run log."""
    log = tmp_path / ("exec-%s.log" % mark)
    plugin = {"apiVersion": api_version, "command": _exec_plugin(tmp_path), "args": [api_version, str(log), lifetime],
              "env": [{"name": "MATIH_EXEC_TOKEN", "value": plane.token}, {"name": "MATIH_EXEC_MARK", "value": mark}]}
    if api_version.endswith("/v1"):
        plugin["interactiveMode"] = "Never"  # v1 requires it; v1beta1 defaults to IfAvailable
    path = _kubeconfig(tmp_path / ("exec-%s.kubeconfig" % mark), plane.kubeconfig({"exec": plugin}))
    return path, log


def _runs(log):
    """The plugin's runs, each {args, mark, task, parent, request}."""
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def _module_runs(runs, task):
    """Runs by a module's own process (not by a Helm it started) during ``task``."""
    return [run for run in runs if run["task"] == task and run["parent"] != "helm"]


def test_exec_credential_plugin_v1_and_v1beta1(helm_binary, cluster, release, tmp_path):
    """The plugin runs with its args and env entries and the ExecCredential request of its apiVersion; its token
    is sent; a credential is reused within one module process: once per task, however many requests it makes
    (v1: an expirationTimestamp an hour ahead; v1beta1: none, so for the life of the process)."""
    plane = cluster.plane
    v1, v1_log = _exec_kubeconfig(tmp_path, plane, "client.authentication.k8s.io/v1", "3600", "v1")
    beta, beta_log = _exec_kubeconfig(tmp_path, plane, "client.authentication.k8s.io/v1beta1", "none", "v1beta1")
    results, output = _play(tmp_path, _reads("v1", release, helm_binary, v1) + _reads("v1beta1", release, helm_binary, beta))
    _fast_path(results, "v1")
    _fast_path(results, "v1beta1")
    assert plane.token not in output
    for mark, log, lifetime in (("v1", v1_log, "3600"), ("v1beta1", beta_log, "none")):
        api_version = "client.authentication.k8s.io/" + mark
        runs = _runs(log)
        for run in runs:
            assert run["args"] == [api_version, str(log), lifetime], run  # args reach the plugin, in order
            assert run["mark"] == mark, run  # the env entries too (MATIH_EXEC_TOKEN: the API server took the token)
            assert run["request"]["apiVersion"] == api_version and run["request"]["kind"] == "ExecCredential", run
            assert run["request"]["spec"]["interactive"] is False, run
        # history: one LIST; drift: several requests (the records, each group of objects), one plugin run each
        assert results[mark + "_drift"]["api_requests"] >= 3, results[mark + "_drift"]
        assert [run["task"] for run in runs] == [mark + "_history", mark + "_drift"], runs
        assert all(run["parent"] != "helm" for run in runs), runs  # the fast path: Helm never connected


def test_rollback_through_exec_plugin_runs_one_helm_process(helm_binary, cluster, release, tmp_path):
    """helm_release_rollback reads the history before and after through the API client with the plugin's
    credential (one plugin run for the module process) and runs exactly one Helm process besides ``version``:
    the rollback itself (it was 6 when every read was a Helm process)."""
    plane = cluster.plane
    kubeconfig, log = _exec_kubeconfig(tmp_path, plane, "client.authentication.k8s.io/v1", "3600", "rollback")
    counting = role_runner.counting_helm(tmp_path / "counting-helm", helm_binary)
    before = release_records(cluster, release)
    rollback = {"name": RELEASE, "release_namespace": release, "kubeconfig": kubeconfig, "revision": 1, "wait": False,
                "binary_path": str(counting / "helm")}
    results, output = _play(tmp_path, [_task("rolled_back", "helm_release_rollback", rollback,
                                             {"MATIH_TEST_TASK": "rollback"})])
    rolled_back = results["rolled_back"]
    assert not rolled_back.get("failed"), rolled_back.get("msg")
    assert rolled_back["changed"] and rolled_back["revision"] == len(before) + 1, rolled_back
    assert len(release_records(cluster, release)) == len(before) + 1
    calls = [call for call in role_runner.helm_calls(counting) if call[0] != "version"]
    assert [call[:3] for call in calls] == [["rollback", RELEASE, "1"]], calls
    runs = _runs(log)
    assert len(_module_runs(runs, "rollback")) == 1, runs  # the module's reads, before and after, share one credential
    assert [run for run in runs if run["parent"] == "helm"], runs  # and Helm's rollback authenticated with it too
    assert plane.token not in output


def test_impersonation_is_judged_by_rbac(helm_binary, cluster, release, tmp_path):
    """The admin's certificate impersonating the viewer (``as:`` in the kubeconfig user, or HELM_KUBEASUSER) is
    denied what the viewer may not do: list Secrets. The drift check fails access_denied naming the 403 and the
    viewer; Helm, which impersonates too, is denied the same, so the history fails as well. Impersonating the
    operator (cluster-admin) instead reads as usual: the headers are sent and accepted, not merely harmful."""
    plane, viewer = cluster.plane, controlplane.VIEWER
    config = plane.kubeconfig("admin")
    config["users"][0]["user"]["as"] = viewer
    as_viewer = _kubeconfig(tmp_path / "as-viewer.kubeconfig", config)
    config = plane.kubeconfig("admin")
    config["users"][0]["user"]["as"] = controlplane.OPERATOR
    as_operator = _kubeconfig(tmp_path / "as-operator.kubeconfig", config)
    admin = _kubeconfig(tmp_path / "admin.kubeconfig", plane.kubeconfig("admin"))
    tasks = (_reads("as_viewer", release, helm_binary, as_viewer)
             + _reads("env_viewer", release, helm_binary, admin, {"HELM_KUBEASUSER": viewer})
             + _reads("as_operator", release, helm_binary, as_operator, history=False))
    results = _play(tmp_path, tasks)[0]
    for label in ("as_viewer", "env_viewer"):
        drift, history = results[label + "_drift"], results[label + "_history"]
        assert drift.get("failed") and drift["error_kind"] == "access_denied", (label, drift)
        assert "403" in drift["msg"] and viewer in drift["msg"] and "secrets" in drift["msg"], (label, drift["msg"])
        # the API client was denied, Helm read instead and was denied too: Helm's words, Helm's command
        assert history.get("failed") and history["error_kind"] == "access_denied", (label, history)
        assert viewer in history["msg"] and "helm history" in history["msg"], (label, history["msg"])
    _drift_answered(results["as_operator_drift"], results["as_operator_drift"]["revision"], "as_operator")


def test_kubeconfig_merged_from_several_files(helm_binary, cluster, release, tmp_path):
    """KUBECONFIG lists the contexts (and current-context), a file that does not exist (skipped), the clusters,
    and the users (its certificate paths relative to its own directory, and a decoy cluster of the same name
    that the earlier file wins), merged as client-go merges them."""
    plane = cluster.plane
    whole = plane.kubeconfig("admin")
    users_dir = tmp_path / "users"
    users_dir.mkdir()
    for source, name in zip(plane.admin_cert_paths, ("admin.crt", "admin.key")):
        (users_dir / name).write_bytes(pathlib.Path(source).read_bytes())
        (users_dir / name).chmod(0o600)
    contexts = _kubeconfig(tmp_path / "contexts.yaml", {"apiVersion": "v1", "kind": "Config", "contexts": whole["contexts"],
                                                        "current-context": whole["current-context"]})
    clusters = _kubeconfig(tmp_path / "clusters.yaml", {"apiVersion": "v1", "kind": "Config", "clusters": whole["clusters"]})
    users = _kubeconfig(users_dir / "users.yaml", {
        "apiVersion": "v1", "kind": "Config",
        "users": [{"name": whole["users"][0]["name"], "user": {"client-certificate": "admin.crt", "client-key": "admin.key"}}],
        "clusters": [{"name": whole["clusters"][0]["name"], "cluster": {"server": "https://127.0.0.1:1"}}]})
    kubeconfig = os.pathsep.join([contexts, str(tmp_path / "absent.yaml"), clusters, users])
    results = _play(tmp_path, _reads("merged", release, helm_binary, environment={"KUBECONFIG": kubeconfig}))[0]
    _fast_path(results, "merged")


def _oidc_id_token(cluster, namespace):
    """A real JWT the API server accepts: a token of a ServiceAccount that may read the namespace's Secrets."""
    account = "oidc-reader"
    cluster.api("POST", "/api/v1/namespaces/%s/serviceaccounts" % namespace,
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}}, expect=409)
    cluster.api("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % namespace, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": account},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]}, expect=409)
    issued = cluster.api("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (namespace, account), {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})
    return issued["status"]["token"]


def test_auth_provider_is_refused_by_the_client_and_helm_reads(helm_binary, cluster, release, tmp_path):
    """A user with ``auth-provider: oidc``: the drift check fails unsupported_kubeconfig naming it; the history is
    read by Helm, whose client-go still has the oidc provider (its id-token, here a ServiceAccount's JWT that may
    read the Secrets, is sent as it is while unexpired), so the history falls back and succeeds."""
    plane = cluster.plane
    id_token = _oidc_id_token(cluster, release)
    provider = {"name": "oidc", "config": {"client-id": "matih-test", "idp-issuer-url": "https://issuer.invalid",
                                           "id-token": id_token}}
    kubeconfig = _kubeconfig(tmp_path / "oidc.kubeconfig", plane.kubeconfig({"auth-provider": provider}))
    results, output = _play(tmp_path, _reads("oidc", release, helm_binary, kubeconfig))
    drift, history = results["oidc_drift"], results["oidc_history"]
    assert drift.get("failed") and drift["error_kind"] == "unsupported_kubeconfig", drift
    assert "auth-provider oidc" in drift["msg"] and "helm_release_drift" in drift["msg"], drift["msg"]
    assert not history.get("failed"), history.get("msg")
    assert history["history_source"] == "helm" and history["exists"], history
    stored = sorted(int(name.rsplit(".v", 1)[1]) for name in release_records(cluster, release))
    assert [entry["revision"] for entry in history["history"]] == stored, (history["history"], stored)
    assert id_token not in output

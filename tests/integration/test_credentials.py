"""AWX's cluster credentials reach every module and role, on the real control plane, Helm 3 and 4.

AWX's "OpenShift or Kubernetes API Bearer Token" credential sets only K8S_AUTH_HOST,
K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL and K8S_AUTH_SSL_CA_CERT (awx_job.bearer_token_env). Here
KUBECONFIG is unset and HOME is empty, so Helm has no kubeconfig at all: every release the tasks
read, list, roll back, recover, deploy or remediate proves the variables were used. The API server
requires the token (a wrong one is refused: the negative control). The collection's own credential
type (extensions/awx/credential_types/helm_kubeconfig.json) is rendered the way AWX renders it, a
kubeconfig file plus KUBECONFIG, K8S_AUTH_KUBECONFIG and K8S_AUTH_CONTEXT, and used the same way.
"""

import base64
import json
import os
import subprocess

import pytest
import yaml

import awx_job
import role_runner
import scenarios


def _run(tasks_or_playbook, tmp_path, env, extra_vars=None, label="play"):
    if isinstance(tasks_or_playbook, list):
        playbook = tmp_path / ("%s.yml" % label)
        playbook.write_text(yaml.safe_dump([{"name": label, "hosts": "localhost", "connection": "local",
                                             "gather_facts": False, "tasks": tasks_or_playbook}], sort_keys=False))
        target = str(playbook)
    else:
        target = tasks_or_playbook
    argv = [role_runner.ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", target]
    argv += ["-e", json.dumps(extra_vars)] if extra_vars else []
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False, cwd=str(tmp_path))


def _save(results_file, names):
    return {"name": "Save the results", "ansible.builtin.copy": {
        "dest": str(results_file), "content": "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (n, n) for n in names)}}


def _failed_release(helm, kubeconfig, name, namespace):
    """Revision 1 deployed, revision 2 failed (refused by the admission policy at once)."""
    scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "rejected_config", version="1.1.0")
    assert scenarios.statuses(helm, kubeconfig, name, namespace) == ["deployed", "failed"]


def _latest(helm, kubeconfig, name, namespace):
    entry = scenarios.history(helm, kubeconfig, name, namespace)[-1]
    return entry["revision"], entry["status"], entry["chart"]


def _env_from(tmp_path, helm, credential_env):
    return awx_job.base_env(tmp_path / "home", os.path.dirname(helm.path), **credential_env)


def _check_reached(helm, admin, namespace, results):
    assert results["history"]["exists"] and [r["status"] for r in results["history"]["history"]] == ["deployed", "failed"]
    assert sorted(r["name"] for r in results["listed"]["releases"]) == ["api", "db", "web"]
    assert results["rolled_back"]["changed"] and results["rolled_back"]["revision"] == 3
    assert _latest(helm, admin, "web", namespace) == (3, "deployed", "demo-1.0.0")
    assert results["recovered"]["changed"] and results["recovered"]["report"]["outcome"] == "recovered"
    assert _latest(helm, admin, "api", namespace) == (3, "deployed", "demo-1.0.0")


def _module_and_role_tasks(namespace, results_file, chart):
    target = {"release_namespace": namespace}
    return [
        {"name": "history", "matih.helm.helm_release_history": dict(target, name="web", include_values=True), "register": "history"},
        {"name": "list", "matih.helm.helm_release_list": {"namespaces": [namespace], "statuses": ["failed"]}, "register": "listed"},
        {"name": "rollback", "matih.helm.helm_release_rollback": dict(target, name="web", revision="last_successful", wait=False),
         "register": "rolled_back"},
        {"name": "recover", "matih.helm.helm_release_recover": dict(target, name="api", wait=False), "register": "recovered"},
        {"name": "release_recovery", "ansible.builtin.include_role": {"name": "matih.helm.release_recovery"},
         "vars": {"release_recovery_name": "db", "release_recovery_namespace": namespace, "release_recovery_wait": False}},
        {"name": "release_deploy", "ansible.builtin.include_role": {"name": "matih.helm.release_deploy"},
         "vars": {"release_deploy_name": "fresh", "release_deploy_namespace": namespace, "release_deploy_chart_ref": chart,
                  "release_deploy_timeout": "60s"}},
        _save(results_file, ["history", "listed", "rolled_back", "recovered", "release_recovery_result", "release_deploy_result"]),
    ]


def _prepare(helm, admin, tls_cluster, namespace):
    for name in ("web", "api", "db"):
        _failed_release(helm, admin, name, namespace)
    fleet_namespace = namespace[:56] + "-fleet"
    tls_cluster.create_namespace(fleet_namespace)
    _failed_release(helm, admin, "tenant-app", fleet_namespace)
    return fleet_namespace


def _check_roles(helm, admin, namespace, fleet_namespace, results, remediated, tmp_path):
    assert results["release_recovery_result"]["outcome"] == "recovered", results["release_recovery_result"]
    assert _latest(helm, admin, "db", namespace) == (3, "deployed", "demo-1.0.0")
    assert results["release_deploy_result"]["outcome"] in ("installed", "deployed"), results["release_deploy_result"]
    assert _latest(helm, admin, "fresh", namespace) == (1, "deployed", "demo-1.0.0")
    assert remediated.returncode == 0, remediated.stdout[-8000:] + remediated.stderr[-3000:]
    assert _latest(helm, admin, "tenant-app", fleet_namespace) == (3, "deployed", "demo-1.0.0")
    report = json.loads((tmp_path / "report" / "fleet-remediation.json").read_text())
    assert [(row["release"], row["outcome"]) for row in report["releases"]] == [("tenant-app", "recovered")], report


def test_bearer_token_credential_reaches_every_module_and_role(helm_binary, tls_cluster, namespace, demo_charts, tmp_path):
    helm, admin = helm_binary, tls_cluster.kubeconfig
    fleet_namespace = _prepare(helm, admin, tls_cluster, namespace)
    with open(tls_cluster.ca_cert, encoding="utf-8") as handle:
        ca_pem = handle.read()
    credential = awx_job.bearer_token_env(tmp_path / "job", tls_cluster.url, tls_cluster.token, ca_pem)
    assert sorted(credential) == ["K8S_AUTH_API_KEY", "K8S_AUTH_HOST", "K8S_AUTH_SSL_CA_CERT", "K8S_AUTH_VERIFY_SSL"]
    env = _env_from(tmp_path, helm, credential)
    assert "KUBECONFIG" not in env and not (tmp_path / "home" / ".kube").exists()

    # the negative control: the same variables with another token are refused
    refused = _run([{"name": "history", "matih.helm.helm_release_history": {"name": "web", "release_namespace": namespace}}],
                   tmp_path, dict(env, K8S_AUTH_API_KEY="not-a-valid-token"), label="refused")
    assert refused.returncode != 0 and "access_denied" in refused.stdout, refused.stdout[-4000:]

    results_file = tmp_path / "results.json"
    run = _run(_module_and_role_tasks(namespace, results_file, demo_charts["1.0.0"]), tmp_path, env)
    assert results_file.is_file(), run.stdout[-10000:] + run.stderr[-3000:]
    results = json.loads(results_file.read_text())
    assert tls_cluster.token not in run.stdout + run.stderr
    _check_reached(helm, admin, namespace, results)
    remediated = _run("matih.helm.remediate", tmp_path, env, label="remediate",
                      extra_vars={"fleet_remediation_namespaces": [fleet_namespace], "fleet_remediation_wait": False,
                                  "fleet_remediation_report_dir": str(tmp_path / "report")})
    _check_roles(helm, admin, namespace, fleet_namespace, results, remediated, tmp_path)


def test_bearer_token_credential_without_ca_skips_verification(helm_binary, tls_cluster, namespace, tmp_path):
    """AWX's injector without a CA (or with Verify SSL off): K8S_AUTH_VERIFY_SSL='False' and no CA file."""
    _failed_release(helm_binary, tls_cluster.kubeconfig, "web", namespace)
    credential = awx_job.bearer_token_env(tmp_path / "job", tls_cluster.url, tls_cluster.token, verify_ssl=False)
    assert credential["K8S_AUTH_VERIFY_SSL"] == "False" and "K8S_AUTH_SSL_CA_CERT" not in credential
    results_file = tmp_path / "results.json"
    tasks = [{"name": "list", "matih.helm.helm_release_list": {"namespaces": [namespace]}, "register": "listed"},
             {"name": "rollback", "register": "rolled_back", "matih.helm.helm_release_rollback": {
                 "name": "web", "release_namespace": namespace, "revision": 1, "wait": False}},
             _save(results_file, ["listed", "rolled_back"])]
    run = _run(tasks, tmp_path, _env_from(tmp_path, helm_binary, credential))
    assert results_file.is_file(), run.stdout[-10000:] + run.stderr[-3000:]
    results = json.loads(results_file.read_text())
    assert [(r["name"], r["status"]) for r in results["listed"]["releases"]] == [("web", "failed")]
    assert "--kube-insecure-skip-tls-verify" in results["rolled_back"]["command"]
    assert _latest(helm_binary, tls_cluster.kubeconfig, "web", namespace) == (3, "deployed", "demo-1.0.0")


@pytest.mark.parametrize("context", ["", "awx-helm"], ids=["current-context", "named-context"])
def test_kubeconfig_credential_type(helm_binary, tls_cluster, namespace, tmp_path, context):
    """The collection's credential type, injected as AWX injects it, drives the modules."""
    helm, admin = helm_binary, tls_cluster.kubeconfig
    with open(tls_cluster.kubeconfig, encoding="utf-8") as handle:
        kubeconfig_text = handle.read()
    config = yaml.safe_load(kubeconfig_text)
    # what a user pastes into the credential: self-contained, the CA embedded (the job has no other file)
    cluster_entry = config["clusters"][0]["cluster"]
    if "certificate-authority" in cluster_entry:
        with open(cluster_entry.pop("certificate-authority"), "rb") as handle:
            cluster_entry["certificate-authority-data"] = base64.b64encode(handle.read()).decode()
    assert config["users"][0]["user"]["token"]
    kubeconfig_text = yaml.safe_dump(config)
    if context:
        # a second context, named by the credential, next to a current-context that points nowhere
        config["contexts"].append({"name": context, "context": dict(config["contexts"][0]["context"])})
        config["contexts"][0]["context"] = dict(config["contexts"][0]["context"], cluster="nowhere")
        config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
        kubeconfig_text = yaml.safe_dump(config)
    _failed_release(helm, admin, "web", namespace)
    _failed_release(helm, admin, "api", namespace)

    credential = awx_job.custom_credential_env(tmp_path / "job", awx_job.credential_type(),
                                               {"kubeconfig": kubeconfig_text, "context": context})
    path = credential["KUBECONFIG"]
    assert credential == {"KUBECONFIG": path, "K8S_AUTH_KUBECONFIG": path, "K8S_AUTH_CONTEXT": context}
    assert path.startswith(str(tmp_path / "job" / "env")) and oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path, encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == yaml.safe_load(kubeconfig_text)

    results_file = tmp_path / "results.json"
    target = {"release_namespace": namespace}
    tasks = [{"name": "history", "matih.helm.helm_release_history": dict(target, name="web", include_values=True), "register": "history"},
             {"name": "list", "matih.helm.helm_release_list": {"namespaces": [namespace], "statuses": ["failed"]}, "register": "listed"},
             {"name": "rollback", "matih.helm.helm_release_rollback": dict(target, name="web", revision="last_successful", wait=False),
              "register": "rolled_back"},
             {"name": "recover", "matih.helm.helm_release_recover": dict(target, name="api", wait=False), "register": "recovered"},
             _save(results_file, ["history", "listed", "rolled_back", "recovered"])]
    run = _run(tasks, tmp_path, _env_from(tmp_path, helm, credential))
    assert results_file.is_file(), run.stdout[-10000:] + run.stderr[-3000:]
    results = json.loads(results_file.read_text())
    assert results["history"]["history"][0]["values"] == {"config": {"revision": "1"}}
    assert sorted(r["name"] for r in results["listed"]["releases"]) == ["api", "web"]
    assert ("--kube-context" in results["rolled_back"]["command"]) == bool(context)
    assert _latest(helm, admin, "web", namespace) == (3, "deployed", "demo-1.0.0")
    assert results["recovered"]["report"]["outcome"] == "recovered"
    assert _latest(helm, admin, "api", namespace) == (3, "deployed", "demo-1.0.0")

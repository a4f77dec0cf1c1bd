"""The playbooks run the way AWX runs a job: through ansible-runner, with the extra variables file AWX
writes for the survey answers (awx_job), the project's one-line playbooks (extensions/awx/project)
and the cluster from the collection's kubeconfig credential type. Asserted on the job events, as
AWX sees them: the set_stats data of the stats event, no change counted in a Check job, and no
chart value in any event when no_log is on.

Run (job type Run), Check (--check) and Show Changes (--diff) jobs of the history, rollback and
remediate templates, on the real control plane, Helm 3 and 4.
"""

import json
import os
import uuid

import pytest
import yaml

import awx_job
import scenarios


@pytest.fixture
def credential_env(tls_cluster, tmp_path):
    """The collection's kubeconfig credential, injected into the job as AWX injects it."""
    return lambda directory: awx_job.kubeconfig_credential_env(directory, tls_cluster.kubeconfig)


def _job(tmp_path, label, credential_env, **kwargs):
    directory = tmp_path / label
    directory.mkdir()
    return awx_job.Job(directory, credential_env=credential_env(directory), **kwargs)


def _env(tmp_path, helm):
    return awx_job.base_env(tmp_path / "home", os.path.dirname(helm.path))


def _event_texts(job):
    return [json.dumps(event, default=str) for event in job.events]


def _changed(stats):
    return sum((stats.get("changed") or {}).values())


def _failed_release(helm, kubeconfig, name, namespace, values=None):
    scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", dict({"config.revision": "1"}, **(values or {})))
    scenarios.upgrade(helm, kubeconfig, name, namespace, "1.1.0", dict({"config.revision": "2"}, **(values or {})))
    scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "rejected_config", version="1.2.0")
    assert scenarios.statuses(helm, kubeconfig, name, namespace) == ["superseded", "deployed", "failed"]


def test_history_job(helm_binary, tls_cluster, namespace, credential_env, tmp_path):
    admin = tls_cluster.kubeconfig
    _failed_release(helm_binary, admin, "shop", namespace)
    job = _job(tmp_path, "history", credential_env, playbook="helm_history.yml", template_name="Helm: release history",
               survey_name="history", answers={"helm_release": "shop", "helm_namespace": namespace})
    assert "!unsafe 'helm_release': !unsafe 'shop'" in job.extravars_text
    job.run(_env(tmp_path, helm_binary))
    assert job.result.status == "successful", job.output()
    stats = job.stats
    assert _changed(stats) == 0 and not stats.get("failures")
    history = stats["artifact_data"]["helm_history"]
    assert (history["release"], history["namespace"]) == ("shop", namespace)
    assert (history["deployed_revision"], history["last_successful_revision"]) == (2, 2)


def test_kubeconfig_credential_without_context_beside_verify_ssl(helm_binary, tls_cluster, namespace, credential_env, tmp_path):
    """The kubeconfig credential with its context left empty injects K8S_AUTH_CONTEXT="": with K8S_AUTH_VERIFY_SSL
    beside it (as an EE or a second credential sets it) every module used to fail with "parameters are mutually
    exclusive: context|validate_certs". An empty variable is no context."""
    _failed_release(helm_binary, tls_cluster.kubeconfig, "shop", namespace)
    job = _job(tmp_path, "history", credential_env, playbook="helm_history.yml", template_name="Helm: release history",
               survey_name="history", answers={"helm_release": "shop", "helm_namespace": namespace})
    assert job.credential_env["K8S_AUTH_CONTEXT"] == ""
    job.run(dict(_env(tmp_path, helm_binary), K8S_AUTH_VERIFY_SSL="true"))
    assert job.result.status == "successful", job.output()
    assert "mutually exclusive" not in job.output()
    assert job.stats["artifact_data"]["helm_history"]["deployed_revision"] == 2


@pytest.mark.parametrize("job_type,diff_mode", [("run", False), ("check", False), ("check", True), ("run", True)],
                         ids=["run", "check", "check-diff", "run-diff"])
def test_rollback_job(helm_binary, tls_cluster, namespace, credential_env, tmp_path, job_type, diff_mode):
    admin = tls_cluster.kubeconfig
    _failed_release(helm_binary, admin, "shop", namespace)
    job = _job(tmp_path, "rollback", credential_env, playbook="helm_rollback.yml", template_name="Helm: roll back",
               survey_name="rollback", answers={"helm_release": "shop", "helm_namespace": namespace, "helm_revision": "1",
                                                "helm_timeout": "60s", "helm_wait": "false"},
               job_type=job_type, diff_mode=diff_mode)
    job.run(_env(tmp_path, helm_binary))
    assert job.result.status == "successful", job.output()
    stats = job.stats
    published = stats["artifact_data"]["helm_rollback"]
    assert (published["release"], published["namespace"], int(published["target_revision"])) == ("shop", namespace, 1)
    statuses = scenarios.statuses(helm_binary, admin, "shop", namespace)
    if job_type == "check":
        # Ansible's check mode reports the change a run would make; the cluster keeps its revisions
        assert _changed(stats) == 1 and published["changed"] in (True, "True", "true"), stats
        assert statuses == ["superseded", "deployed", "failed"]
    else:
        assert _changed(stats) == 1, stats
        assert statuses == ["superseded", "superseded", "failed", "deployed"]
        assert int(published["revision"]) == 4 and published["status"] == "deployed"
    diffs = [event["event_data"]["res"]["diff"] for event in job.events
             if event["event"] == "runner_on_ok" and (event["event_data"].get("res") or {}).get("diff")]
    assert bool(diffs) == diff_mode, diffs


@pytest.mark.parametrize("job_type", ["run", "check"])
def test_remediate_job_hides_chart_values(helm_binary, tls_cluster, namespace, credential_env, tmp_path, job_type):
    """The remediate template: namespaces from a multiselect answer (a list), no_log on. The marker
    value is in the releases' values and in the known-good values the template gives for one of
    them; the job runs with Show Changes and verbosity Debug (-vvv), and the marker is in no event.
    Check mode predicts one change per unhealthy release and changes nothing on the cluster."""
    admin = tls_cluster.kubeconfig
    marker = "chart-value-%s" % uuid.uuid4().hex[:12]
    other = namespace[:56] + "-other"
    tls_cluster.create_namespace(other)
    _failed_release(helm_binary, admin, "billing", namespace, {"config.marker": marker})
    _failed_release(helm_binary, admin, "search", other, {"config.marker": marker})
    scenarios.install(helm_binary, admin, "healthy", namespace, "1.0.0", {"config.marker": marker})
    spec = awx_job.survey("remediate")
    question = next(q for q in spec["spec"] if q["variable"] == "fleet_remediation_namespaces")
    question["choices"] = "\n".join([namespace, other, "unused-tenant"])
    env = _env(tmp_path, helm_binary)

    def remediate(label, no_log):
        job = _job(tmp_path, label, credential_env, playbook="helm_remediate.yml", template_name="Helm: remediate tenants",
                   answers=awx_job.survey_answers(spec, {"fleet_remediation_namespaces": [namespace, other],
                                                         "fleet_remediation_no_log": no_log}),
                   template_vars={"fleet_remediation_report_dir": str(tmp_path / label / "report"),
                                  "fleet_remediation_timeout": "60s",
                                  # the known-good values of one release, given by the template's admin
                                  "fleet_remediation_release_overrides": {
                                      "%s/billing" % namespace: {"values": {"config": {"marker": marker}}}}},
                   job_type=job_type, diff_mode=True, forks=10, verbosity=3)
        assert "!unsafe 'fleet_remediation_namespaces':\n- !unsafe '%s'\n" % namespace in job.extravars_text
        return job.run(env)

    hidden = remediate("no-log", "true")
    assert hidden.result.status == "successful", hidden.output()
    stats = hidden.stats
    summary = stats["artifact_data"]["fleet_remediation_summary"]
    assert summary["namespaces"] == [namespace, other], summary
    leaks = [text for text in _event_texts(hidden) if marker in text]
    assert not leaks, leaks[0][:2000]
    if job_type == "check":
        # check mode reports what would change (one recovery per unhealthy release) and changes nothing
        assert stats["changed"].get("%s/billing" % namespace) == 1 and stats["changed"].get("%s/search" % other) == 1, stats
        assert scenarios.statuses(helm_binary, admin, "billing", namespace) == ["superseded", "deployed", "failed"]
        assert scenarios.statuses(helm_binary, admin, "search", other) == ["superseded", "deployed", "failed"]
        return
    assert scenarios.statuses(helm_binary, admin, "billing", namespace)[-1] == "deployed"
    assert scenarios.statuses(helm_binary, admin, "search", other)[-1] == "deployed"
    assert stats["changed"].get("%s/billing" % namespace) == 1 and stats["changed"].get("%s/search" % other) == 1, stats


# --- the cluster credentials as AWX injects them, with module_defaults -------------------------------------

CREDENTIALS = ["kubeconfig-current-context", "kubeconfig-named-context", "bearer-verify-ssl", "bearer-no-verify"]
# Plays of one job: module_defaults for group/matih.helm.helm, then what each credential gives with them. A context
# with validate_certs or ca_cert is refused before Helm runs, as kubernetes.core's modules of the same group refuse it
# (args.CONNECTION_MUTUALLY_EXCLUSIVE); with the bearer token and Verify SSL off (K8S_AUTH_VERIFY_SSL=False) the
# playbook's validate_certs wins over the variable (the cluster's CA is then unknown), and a CA beside it is refused
# before Helm runs (connection.tls_override_problem: Helm refused it as "cluster unreachable").
MODULE_DEFAULTS = {"no_defaults": {}, "validate_certs": {"validate_certs": True}, "ca_cert": {"ca_cert": "CA"}}
REFUSED = {
    ("kubeconfig-named-context", "validate_certs"): "parameters are mutually exclusive: context|validate_certs",
    ("kubeconfig-named-context", "ca_cert"): "parameters are mutually exclusive: context|ca_cert",
    ("bearer-no-verify", "validate_certs"): "x509: certificate signed by unknown authority",
    ("bearer-no-verify", "ca_cert"): "validate_certs is false (K8S_AUTH_VERIFY_SSL=False where the option is not set) "
                                     "and ca_cert is ",
}


def _credential(kind, directory, cluster):
    """The environment AWX injects for ``kind`` (one of CREDENTIALS)."""
    if kind.startswith("bearer"):
        with open(cluster.ca_cert, encoding="utf-8") as handle:
            ca_pem = handle.read()
        return awx_job.bearer_token_env(directory, cluster.url, cluster.token, ca_pem, verify_ssl=kind == "bearer-verify-ssl")
    env = awx_job.kubeconfig_credential_env(directory, cluster.kubeconfig)
    if kind == "kubeconfig-current-context":
        return env
    # a second context, named by the credential, beside a current-context that points nowhere
    with open(env["KUBECONFIG"], encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["contexts"].append({"name": "awx-helm", "context": dict(config["contexts"][0]["context"])})
    config["contexts"][0]["context"] = dict(config["contexts"][0]["context"], cluster="nowhere")
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    return awx_job.custom_credential_env(directory, awx_job.credential_type(),
                                         {"kubeconfig": yaml.safe_dump(config), "context": "awx-helm"})


def _module_defaults_playbook(ca_cert):
    plays = []
    for label, defaults in MODULE_DEFAULTS.items():
        defaults = {key: ca_cert if value == "CA" else value for key, value in defaults.items()}
        plays.append({
            "name": "module_defaults %s" % label, "hosts": "localhost", "connection": "local", "gather_facts": False,
            "module_defaults": {"group/matih.helm.helm": defaults},
            "tasks": [{"name": "history", "matih.helm.helm_release_history": {
                "name": "{{ helm_release }}", "release_namespace": "{{ helm_namespace }}"},
                "register": "history", "ignore_errors": True},
                {"name": "publish", "ansible.builtin.set_stats": {"data": {label: {
                    "failed": "{{ history.failed | default(false) }}", "msg": "{{ history.msg | default('') }}",
                    "deployed_revision": "{{ history.deployed_revision | default(none) }}"}}}}],
        })
    return plays


@pytest.mark.parametrize("kind", CREDENTIALS)
def test_cluster_credential_with_module_defaults(helm_binary, tls_cluster, namespace, tmp_path, kind):
    """Each cluster credential, its environment exactly as AWX's injector writes it (the collection's kubeconfig
    type without and with a context; AWX's "OpenShift or Kubernetes API Bearer Token" with Verify SSL on and its
    CA, and off), in one job whose plays read a release with no module_defaults, then with validate_certs: true,
    then with ca_cert: the cluster's CA, for group/matih.helm.helm. Read-only: helm_release_history."""
    scenarios.install(helm_binary, tls_cluster.kubeconfig, "shop", namespace, "1.0.0")
    directory = tmp_path / kind
    directory.mkdir()
    credential = _credential(kind, directory, tls_cluster)
    if kind == "kubeconfig-current-context":
        assert credential["K8S_AUTH_CONTEXT"] == ""
    elif kind == "kubeconfig-named-context":
        assert credential["K8S_AUTH_CONTEXT"] == "awx-helm"
    else:
        assert credential["K8S_AUTH_VERIFY_SSL"] == ("True" if kind == "bearer-verify-ssl" else "False")
        assert ("K8S_AUTH_SSL_CA_CERT" in credential) == (kind == "bearer-verify-ssl")
    job = awx_job.Job(directory, playbook="module_defaults.yml", template_name="Helm: credentials",
                      answers={"helm_release": "shop", "helm_namespace": namespace}, credential_env=credential)
    (directory / "project" / "module_defaults.yml").write_text(
        yaml.safe_dump(_module_defaults_playbook(tls_cluster.ca_cert), sort_keys=False), encoding="utf-8")
    job.run(_env(tmp_path, helm_binary))
    assert job.result.status == "successful", job.output()
    published = job.stats["artifact_data"]
    for label in MODULE_DEFAULTS:
        outcome = published[label]
        refusal = REFUSED.get((kind, label))
        if refusal is None:
            assert outcome["failed"] in (False, "False") and str(outcome["deployed_revision"]) == "1", (label, outcome)
        else:
            assert outcome["failed"] in (True, "True") and refusal in outcome["msg"], (label, outcome)

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

"""Secrets stay secret: release values and the API token never reach any output unless asked for.

Against a cluster that requires credentials over TLS (``tls_cluster``: the real API server's
token authentication on the control plane), on Helm 3 and 4. The
release stores ``db.password`` (not rendered by the chart, so only the values hold it). The
modules connect with a kubeconfig that has no token (or with host + ca_cert and no kubeconfig)
plus ``api_key``, so every successful call proves the token was used.

One playbook runs every task that must not leak (history without values, list, rollback in check
mode, in diff mode, normal, failing in Helm, refused) with ``-vvv`` and ``ANSIBLE_LOG_PATH``;
the password and the token must appear in none of stdout, stderr, the log file or the registered
results (``command`` included). A second playbook is the positive control: with
``include_values`` / ``show_values`` the password does appear, and a debug of the token shows
it, so the searches are known to find what they look for.
"""
import base64
import json
import os
import uuid

import role_runner
import scenarios
from playbook_runner import run_tasks


def _tasks(names, results_file):
    return names + [{"name": "Write every result", "ansible.builtin.copy": {
        "dest": str(results_file),
        "content": "{{ %s | to_json }}" % ("{" + ", ".join("'%s': %s" % (task["register"], task["register"])
                                                           for task in names if "register" in task) + "}"),
    }}]


def test_secrets_never_leak(helm_binary, tls_cluster, demo_charts, tmp_path):  # pylint: disable=unused-argument
    password = "s3cr3t-Pa55-%s" % uuid.uuid4().hex[:10]
    token = tls_cluster.token
    namespace = "secrets-h%d-%s" % (helm_binary.major, uuid.uuid4().hex[:6])
    release = "vault"
    admin_kubeconfig = tls_cluster.kubeconfig  # has the token: only for preparing the release
    tls_cluster.create_namespace(namespace)
    values = {"db.password": password}
    scenarios.install(helm_binary, admin_kubeconfig, release, namespace, "1.0.0", dict(values, **{"config.revision": "1"}))
    scenarios.upgrade(helm_binary, admin_kubeconfig, release, namespace, "1.1.0", dict(values, **{"config.revision": "2"}))
    scenarios.upgrade(helm_binary, admin_kubeconfig, release, namespace, "1.1.0",
                      dict(values, image=scenarios.BROKEN_IMAGE),
                      extra=scenarios.never_ready_wait_flags(helm_binary, scenarios.FAILING_WAIT_TIMEOUT), check=False)  # revision 3: failed
    assert scenarios.statuses(helm_binary, admin_kubeconfig, release, namespace) == ["superseded", "deployed", "failed"]

    tokenless = tmp_path / "kubeconfig-without-token"
    tls_cluster.write_kubeconfig(str(tokenless), token=None)
    assert token not in tokenless.read_text()
    connection = {"binary_path": helm_binary.path, "kubeconfig": str(tokenless), "api_key": token}
    by_host = {"binary_path": helm_binary.path, "host": tls_cluster.url, "ca_cert": tls_cluster.ca_cert,
               "api_key": token}
    target = dict(name=release, release_namespace=namespace)

    def task(name, module, args, **extra):
        return dict({"name": name, "matih.helm." + module: args, "register": name}, **extra)

    safe = [
        task("no_token", "helm_release_history", dict(target, binary_path=helm_binary.path, kubeconfig=str(tokenless)),
             ignore_errors=True),
        task("history", "helm_release_history", dict(connection, **target)),
        task("history_by_host", "helm_release_history", dict(by_host, **target),
             environment={"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}),
        task("listed", "helm_release_list", dict(connection, namespaces=[namespace])),
        task("preview", "helm_release_rollback", dict(connection, revision=1, **target), check_mode=True, diff=True),
        task("rollback_diff", "helm_release_rollback", dict(connection, revision=1, **target), diff=True),
        task("rollback", "helm_release_rollback", dict(connection, revision=2, **target)),
        task("refused", "helm_release_rollback", dict(connection, revision=99, **target), ignore_errors=True),
        task("rollback_fails", "helm_release_rollback",
             dict(connection, revision=3, allow_failed_target=True, timeout="2s", **target), ignore_errors=True),
    ]
    safe_results = tmp_path / "safe.json"
    log = tmp_path / "safe.log"
    run = run_tasks(_tasks(safe, safe_results), tmp_path, name="secrets stay secret", verbosity=3,
                    env={"ANSIBLE_LOG_PATH": str(log)})
    assert safe_results.is_file(), run.stdout[-20000:] + run.stderr[-5000:]
    results = json.loads(safe_results.read_text())

    # The token is required, and api_key supplies it.
    assert results["no_token"]["failed"] and results["no_token"]["error_kind"] == "access_denied", results["no_token"]
    assert "rejected the credentials" in results["no_token"]["msg"] and "check api_key" in results["no_token"]["msg"]
    assert results["history"]["exists"] and results["history_by_host"]["exists"]
    assert [entry["status"] for entry in results["history"]["history"]] == ["superseded", "deployed", "failed"]
    assert [r["name"] for r in results["listed"]["releases"]] == [release]
    assert results["preview"]["changed"] and "diff" in results["preview"]
    assert results["rollback_diff"]["changed"] and results["rollback_diff"]["revision"] == 4
    assert results["rollback"]["changed"] and results["rollback"]["revision"] == 5
    assert results["refused"]["failed"] and "revision 99 is not in the history" in results["refused"]["msg"]
    assert results["rollback_fails"]["failed"] and results["rollback_fails"]["revision"] == 6
    assert results["rollback_fails"]["status"] == "failed"
    for name in ("preview", "rollback_diff", "rollback", "rollback_fails"):
        command = results[name]["command"]
        assert isinstance(command, list) and command[1] == "rollback", (name, command)

    outputs = {"stdout (-vvv)": run.stdout, "stderr (-vvv)": run.stderr, "ANSIBLE_LOG_PATH": log.read_text(),
               "registered results": safe_results.read_text()}
    assert "<localhost> EXEC" in run.stdout and '"history": [' in run.stdout  # -vvv: commands and full results
    for where, text in outputs.items():
        assert password not in text, "the password leaked into %s" % where
        assert token not in text, "the API token leaked into %s" % where
        assert "Traceback" not in text, where

    # Positive controls: the same searches find the secrets when they are asked for.
    control = [
        task("values", "helm_release_history", dict(connection, include_values=True, **target)),
        task("shown", "helm_release_rollback", dict(connection, revision=1, show_values=True, **target),
             check_mode=True, diff=True),
        {"name": "show the token", "ansible.builtin.debug": {"msg": "token is %s" % token}},
    ]
    control_results = tmp_path / "control.json"
    control_log = tmp_path / "control.log"
    run = run_tasks(_tasks(control, control_results), tmp_path, name="secrets on request", verbosity=3,
                    env={"ANSIBLE_LOG_PATH": str(control_log)})
    assert control_results.is_file(), run.stdout[-20000:] + run.stderr[-5000:]
    values_by_revision = {entry["revision"]: entry["values"] for entry in json.loads(control_results.read_text())["values"]["history"]}
    assert values_by_revision[1]["db"]["password"] == password
    for text in (run.stdout, control_log.read_text(), control_results.read_text()):
        assert password in text
    for text in (run.stdout, control_log.read_text()):
        assert token in text


def test_fleet_remediation_no_log_hides_values(helm_binary, cluster, namespace, tmp_path):
    """``fleet_remediation_no_log`` hides the values the recovery reads (history with values,
    known-good configuration) at ``-vvv`` and in the log file; without it they show at ``-vvv``,
    which proves the search finds them."""
    password = "fl33t-Pa55-%s" % uuid.uuid4().hex[:10]
    helm = helm_binary.path
    scenarios.install(helm, cluster.kubeconfig, "vault", namespace, "1.0.0", {"db.password": password, "config.revision": "1"})
    scenarios.failed_upgrade(helm, cluster.kubeconfig, "vault", namespace, "broken_image", version="1.1.0")
    outputs = {}
    for no_log in (True, False):
        run_dir = tmp_path / ("hidden" if no_log else "shown")
        log = run_dir / "ansible.log"
        if no_log is False:
            # the same failed state again, so both runs recover it
            scenarios.failed_upgrade(helm, cluster.kubeconfig, "vault", namespace, "broken_image", version="1.1.0")
        extra_vars = {"fleet_remediation_namespaces": [namespace], "fleet_remediation_no_log": no_log,
                      "fleet_remediation_report_dir": str(run_dir / "report"),
                      "fleet_remediation_timeout": role_runner.wait_timeout(cluster)}
        run_dir.mkdir()
        result, _seconds = role_runner.run_collection_playbook(
            "remediate", run_dir, os.path.dirname(helm), cluster.kubeconfig, extra_vars, extra_args=["-vvv"],
            env={"ANSIBLE_LOG_PATH": str(log)})
        output = result.stdout + result.stderr + log.read_text()
        assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
        report = json.loads((run_dir / "report" / "fleet-remediation.json").read_text())
        assert [row["outcome"] for row in report["releases"]] == ["recovered"], report
        outputs[no_log] = output
    assert password not in outputs[True], "fleet_remediation_no_log=true let the password through"
    # helm_release_recover reads the values but never returns them, so even without no_log they stay out of
    # the -vvv output; the positive control is that the recovered revision really carries the password.
    assert password not in outputs[False], "the recovery printed chart values without being asked to"
    latest = scenarios.history(helm, cluster.kubeconfig, "vault", namespace)[-1]["revision"]
    assert role_runner.revision_values(helm, cluster.kubeconfig, "vault", namespace, latest)["db"]["password"] == password


DRIFT_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: vault-drift\nversion: 0.1.0\n",
    "values.yaml": "password: ''\ngreeting: hello\n",
    "templates/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n"
                             "  password: {{ .Values.password | quote }}\n",
    "templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n"
                                "  greeting: {{ .Values.greeting | quote }}\n",
}


def test_drift_never_shows_secret_values(helm_binary, tls_cluster, tmp_path):
    """helm_release_drift on a release whose Secret was edited by hand: the Secret's key is reported, its old
    and new values reach no output at ``-vvv`` (results, log, and the module's arguments on ansible-core
    versions that print them), also with ``show_values``, and
    neither does the API token it connects with (``api_key``, with a kubeconfig or with ``host`` alone).
    The positive control is a ConfigMap value, which ``show_values`` does show."""
    password, edited = "dr1ft-Pa55-%s" % uuid.uuid4().hex[:10], "h4nd-Edit-%s" % uuid.uuid4().hex[:10]
    visible = "visible-%s" % uuid.uuid4().hex[:8]
    token = tls_cluster.token
    namespace = "drift-secrets-h%d-%s" % (helm_binary.major, uuid.uuid4().hex[:6])
    chart = tmp_path / "chart"
    for name, text in DRIFT_CHART.items():
        (chart / name).parent.mkdir(parents=True, exist_ok=True)
        (chart / name).write_text(text)
    tls_cluster.create_namespace(namespace)
    scenarios.run_helm(helm_binary, tls_cluster.kubeconfig,
                       ["install", "vault", str(chart), "-n", namespace, "--set-string", "password=" + password])
    secret_path = "/api/v1/namespaces/%s/secrets/db" % namespace
    secret = tls_cluster.api("GET", secret_path)
    secret["data"]["password"] = base64.b64encode(edited.encode()).decode()
    tls_cluster.api("PUT", secret_path, secret)
    configmap_path = "/api/v1/namespaces/%s/configmaps/settings" % namespace
    configmap = tls_cluster.api("GET", configmap_path)
    configmap["data"]["greeting"] = visible
    tls_cluster.api("PUT", configmap_path, configmap)

    tokenless = tmp_path / "kubeconfig-without-token"
    tls_cluster.write_kubeconfig(str(tokenless), token=None)
    target = dict(name="vault", release_namespace=namespace, show_values=True, api_key=token)
    tasks = [
        {"name": "by_kubeconfig", "matih.helm.helm_release_drift": dict(target, kubeconfig=str(tokenless)),
         "register": "by_kubeconfig"},
        {"name": "by_host", "matih.helm.helm_release_drift": dict(target, host=tls_cluster.url, ca_cert=tls_cluster.ca_cert),
         "register": "by_host", "environment": {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}},
        {"name": "checked", "matih.helm.helm_release_drift": dict(target, kubeconfig=str(tokenless)),
         "register": "checked", "check_mode": True},
    ]
    results_file, log = tmp_path / "drift.json", tmp_path / "drift.log"
    run = run_tasks(_tasks(tasks, results_file), tmp_path, name="drift keeps secrets", verbosity=3,
                    env={"ANSIBLE_LOG_PATH": str(log)})
    assert results_file.is_file(), run.stdout[-20000:] + run.stderr[-5000:]
    results = json.loads(results_file.read_text())
    for name in ("by_kubeconfig", "by_host", "checked"):
        objects = {obj["kind"]: obj for obj in results[name]["objects"]}
        assert objects["Secret"]["state"] == "modified" and objects["Secret"]["fields"] == [{"path": "data.password"}], name
        assert objects["ConfigMap"]["fields"] == [{"path": "data.greeting", "desired": "hello", "live": visible}], name
    assert "<localhost> EXEC" in run.stdout and '"objects": [' in run.stdout  # -vvv: commands and full results
    outputs = {"stdout (-vvv)": run.stdout, "stderr (-vvv)": run.stderr, "ANSIBLE_LOG_PATH": log.read_text(),
               "registered results": results_file.read_text()}
    for where, text in outputs.items():
        for secret_text in (password, edited, base64.b64encode(password.encode()).decode(),
                            base64.b64encode(edited.encode()).decode()):
            assert secret_text not in text, "a Secret value leaked into %s" % where
        assert token not in text, "the API token leaked into %s" % where
        assert "Traceback" not in text, where
    assert visible in run.stdout and visible in log.read_text()  # the positive control
    scenarios.run_helm(helm_binary, tls_cluster.kubeconfig, ["uninstall", "vault", "-n", namespace])
    tls_cluster.delete_namespace(namespace)

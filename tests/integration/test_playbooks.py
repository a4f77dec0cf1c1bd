"""The collection's playbooks, run by FQCN with ansible-playbook against the test bed, on Helm 3 and 4.

matih.helm.history and matih.helm.rollback have no connection variables: Helm comes from PATH and
the cluster from KUBECONFIG, as for someone running them by hand. Besides the output, each run
shows the data the playbook published with set_stats (ANSIBLE_SHOW_CUSTOM_STATS), which is what an
AWX workflow gets, on success and on failure.
"""
import json
import os
import pathlib
import re
import subprocess
import sys

import yaml

import role_runner
import scenarios

ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
RESERVED = "reserved name"
DEPRECATED = "[DEPRECATION WARNING]"


def run_playbook(playbook, helm, kubeconfig, tmp_path, *extra_vars):
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(tmp_path),
               PATH=os.path.dirname(helm.path) + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_SHOW_CUSTOM_STATS="1", ANSIBLE_NOCOLOR="1")
    env.pop("K8S_AUTH_KUBECONFIG", None)
    env.pop("ANSIBLE_DEPRECATION_WARNINGS", None)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "matih.helm." + playbook]
    for extra in extra_vars:
        argv += ["-e", extra]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    return result, parse_output(result.stdout)


def run_history_playbook(helm, kubeconfig, tmp_path, *extra_vars):
    return run_playbook("history", helm, kubeconfig, tmp_path, *extra_vars)


def custom_stats(stdout):
    """What the playbook published with set_stats (per_host false): the default callback's "RUN:" line."""
    match = re.search(r"^\tRUN: (?P<data>.*)$", stdout, re.M)
    assert match, "no custom stats in:\n%s" % stdout[-3000:]
    return json.loads(match.group("data"))


def output_of(result):
    return result.stdout[-6000:] + result.stderr[-3000:]


TASK_HEADER = re.compile(r"^TASK \[(?P<name>.*)\] \**$", re.M)
OUTCOME = re.compile(r"^(?P<status>ok|changed|skipping|fatal): \[localhost\]", re.M)


def parse_output(stdout):
    """{task name: result} from the default callback's output; a result is the JSON the callback
    printed after "=>" (empty when none) with "_status" set to ok, changed, skipping or fatal."""
    headers = list(TASK_HEADER.finditer(stdout))
    report = {}
    for header, following in zip(headers, headers[1:] + [None]):
        section = stdout[header.end():following.start() if following else len(stdout)]
        outcome = OUTCOME.search(section)
        if not outcome:
            continue
        result = {}
        start = section.find("{", outcome.end())
        if start != -1 and "=>" in section[outcome.end():start]:
            result = json.JSONDecoder().raw_decode(section[start:])[0]
        result["_status"] = outcome.group("status")
        report[header.group("name")] = result
    return report


def task_result(report, name):
    assert name in report, "no task %r in %s" % (name, list(report))
    return report[name]


def table(report):
    """The printed table: header cells, {revision: {column: cell}} and the summary line."""
    lines = task_result(report, "Print the history table")["msg"]
    header_line, row_lines, summary = lines[0], lines[1:-1], lines[-1]
    # Columns are left-aligned to the widest cell: cut every line where the header's columns start.
    starts = [0] + [match.start() for match in re.finditer(r"(?<=  )\S", header_line)]
    header = [header_line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    rows = {}
    for line in row_lines:
        cells = dict(zip(header, (line[a:b].strip() for a, b in zip(starts, starts[1:] + [None]))))
        rows[int(cells["REVISION"])] = cells
    return header, rows, summary, lines


def assert_aligned(lines):
    assert not any(line != line.rstrip() for line in lines), "trailing spaces: %r" % lines
    header = lines[0]
    for column in ("REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"):
        start = header.index(column)
        for line in lines[1:-1]:
            assert line[start - 2:start] == "  " and line[start] != " ", "%s misaligned in %r" % (column, line)


def test_history_table_marks_deployed_and_last_successful(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.release_with_good_revisions(helm, kubeconfig, "shop-web", namespace, 3)
    scenarios.failed_upgrade(helm, kubeconfig, "shop-web", namespace, "broken_image")
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "helm_release=shop-web", "helm_namespace=" + namespace)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]

    header, rows, summary, lines = table(report)
    assert header == ["", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"]
    assert sorted(rows) == [1, 2, 3, 4]
    assert [rows[n][""] for n in (1, 2, 3, 4)] == ["", "", "*+", ""]
    assert [rows[n]["STATUS"] for n in (1, 2, 3, 4)] == ["superseded", "superseded", "deployed", "failed"]
    assert [rows[n]["CHART"] for n in (1, 2, 3, 4)] == ["demo-1.0.0", "demo-1.1.0", "demo-1.2.0", "demo-1.0.0"]
    assert [rows[n]["APP VERSION"] for n in (1, 2, 3, 4)] == ["1.0.0", "1.1.0", "1.2.0", "1.0.0"]
    assert rows[1]["DESCRIPTION"] == "Install complete"
    assert rows[4]["DESCRIPTION"].startswith('Upgrade "shop-web" failed')
    assert all(ISO8601.match(rows[n]["UPDATED"]) for n in rows)
    assert_aligned(lines)
    assert summary == ("shop-web in %s: 4 revisions shown; * deployed (3), + last successful (3)" % namespace)
    assert task_result(report, "Report a missing release")["_status"] == "skipping"
    # The new names: neither Ansible's reserved-name warning nor a deprecation.
    output = output_of(result)
    assert RESERVED not in output and DEPRECATED not in output, output
    assert task_result(report, "Warn about deprecated extra variable names")["_status"] == "skipping"

    published = custom_stats(result.stdout)["helm_history"]
    assert {key: published[key] for key in ("release", "namespace", "failed", "exists", "deployed_revision",
                                            "last_successful_revision", "pending")} == {
        "release": "shop-web", "namespace": namespace, "failed": False, "exists": True, "deployed_revision": 3,
        "last_successful_revision": 3, "pending": False}, published
    assert [(e["revision"], e["status"], e["chart"]) for e in published["history"]] == [
        (1, "superseded", "demo-1.0.0"), (2, "superseded", "demo-1.1.0"), (3, "deployed", "demo-1.2.0"), (4, "failed", "demo-1.0.0")]
    assert not [entry for entry in published["history"] if "values" in entry], published
    assert published["msg"] == "Release shop-web in %s: 4 revision(s), deployed 3, last successful 3" % namespace


def test_history_with_the_old_names_warns_and_the_new_name_wins(helm_binary, cluster, namespace, tmp_path):
    """release and namespace still work until 1.0.0, each with a deprecation warning; a new name given wins."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.release_with_good_revisions(helm, kubeconfig, "shop-web", namespace, 2)
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "release=shop-web", "namespace=" + namespace)
    assert result.returncode == 0 and report, output_of(result)
    rows, summary = table(report)[1:3]
    assert sorted(rows) == [1, 2] and summary.startswith("shop-web in %s: 2 revisions shown" % namespace), summary
    output = " ".join(output_of(result).split())
    for old, new in (("release", "helm_release"), ("namespace", "helm_namespace")):
        assert "%s: matih.helm.history: the extra variable '%s' is deprecated, use '%s'" % (DEPRECATED, old, new) in output, output
    assert "matih.helm" in output and "1.0.0" in output, output
    # Ansible's own warning about the reserved name, which the new names avoid
    assert RESERVED in output, output

    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "helm_release=shop-web", "helm_namespace=" + namespace,
                                          "release=other", "namespace=default")
    assert result.returncode == 0 and report, output_of(result)
    assert table(report)[2].startswith("shop-web in %s: 2 revisions shown" % namespace)
    published = custom_stats(result.stdout)["helm_history"]
    assert (published["release"], published["namespace"], published["exists"]) == ("shop-web", namespace, True), published


def test_history_table_after_a_failed_rollback(helm_binary, cluster, namespace, tmp_path):
    """A rollback whose wait fails leaves the previous revision deployed and marked."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.release_with_good_revisions(helm, kubeconfig, "shop-web", namespace, 2)
    scenarios.failed_rollback(helm, kubeconfig, "shop-web", namespace)
    statuses = scenarios.statuses(helm, kubeconfig, "shop-web", namespace)
    assert statuses == ["superseded", "deployed", "failed", "failed"]
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "helm_release=shop-web", "helm_namespace=" + namespace)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]

    rows, summary, lines = table(report)[1:]
    assert [rows[n]["STATUS"] for n in sorted(rows)] == statuses
    assert [rows[n][""] for n in sorted(rows)] == ["", "*+", "", ""]
    assert rows[4]["DESCRIPTION"].startswith('Release "shop-web" failed')
    assert summary.endswith("* deployed (2), + last successful (2)")
    assert_aligned(lines)


def test_history_table_without_a_successful_revision(helm_binary, cluster, namespace, tmp_path):
    """A failed install: no revision is deployed or successful, so no row is marked."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.failed_install(helm, kubeconfig, "shop-web", namespace, "broken_image")
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "helm_release=shop-web", "helm_namespace=" + namespace)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]

    rows, summary, lines = table(report)[1:]
    assert list(rows) == [1]
    assert (rows[1][""], rows[1]["STATUS"]) == ("", "failed")
    assert summary == "shop-web in %s: 1 revision shown; * deployed (none), + last successful (none)" % namespace
    assert_aligned(lines)


def test_history_table_warns_about_a_pending_release(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.install(helm, kubeconfig, "shop-web", namespace)
    scenarios.pending_release(helm, kubeconfig, "shop-web", namespace, "upgrade")
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "helm_release=shop-web", "helm_namespace=" + namespace)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]

    rows, summary = table(report)[1:3]
    assert (rows[1][""], rows[1]["STATUS"]) == ("*+", "deployed")
    assert (rows[2][""], rows[2]["STATUS"]) == ("", "pending-upgrade")
    assert summary.endswith("latest revision is pending: another operation may be running")


def test_history_of_a_missing_release(helm_binary, cluster, namespace, tmp_path):
    result, report = run_history_playbook(helm_binary, cluster.kubeconfig, tmp_path, "helm_release=nothing-here", "helm_namespace=" + namespace)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]
    assert task_result(report, "Report a missing release")["msg"] == "Release nothing-here does not exist in namespace %s." % namespace
    assert task_result(report, "Print the history table")["_status"] == "skipping"
    published = custom_stats(result.stdout)["helm_history"]
    assert (published["failed"], published["exists"], published["history"], published["deployed_revision"]) == (False, False, [], None), published


def test_history_namespace_defaults_to_default(helm_binary, cluster, namespace, tmp_path):
    # Read-only, and the release name is unique to this test: safe on a real cluster's default namespace.
    name = "absent-" + namespace[-6:]
    result, report = run_history_playbook(helm_binary, cluster.kubeconfig, tmp_path, "helm_release=" + name)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]
    assert task_result(report, "Report a missing release")["msg"] == "Release %s does not exist in namespace default." % name


def test_history_needs_a_release(helm_binary, cluster, tmp_path):
    result, report = run_history_playbook(helm_binary, cluster.kubeconfig, tmp_path)
    assert result.returncode != 0
    assert "Name the release" in task_result(report, "Check the extra variables")["msg"]
    # published on failure too, for a workflow's failure branch
    published = custom_stats(result.stdout)["helm_history"]
    assert (published["failed"], published["error_kind"], published["release"], published["namespace"]) == (
        True, "invalid_input", "", "default"), published
    assert "Name the release: -e helm_release=NAME" in published["msg"], published


def unreachable_kubeconfig(cluster, tmp_path):
    """The cluster's kubeconfig with its server moved to a port where nothing listens."""
    config = yaml.safe_load(pathlib.Path(cluster.kubeconfig).read_text(encoding="utf-8"))
    for entry in config["clusters"]:
        entry["cluster"]["server"] = "https://127.0.0.1:1"
    path = tmp_path / "unreachable.kubeconfig"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_history_failure_is_published(helm_binary, cluster, namespace, tmp_path):
    """Helm cannot reach the cluster: the workflow still gets the error and its kind."""
    result, _report = run_history_playbook(helm_binary, unreachable_kubeconfig(cluster, tmp_path), tmp_path,
                                           "helm_release=shop-web", "helm_namespace=" + namespace)
    assert result.returncode != 0, output_of(result)
    published = custom_stats(result.stdout)["helm_history"]
    assert (published["failed"], published["error_kind"], published["release"]) == (True, "cluster_unreachable", "shop-web"), published
    assert "exists" not in published and "history" not in published, published


# --- matih.helm.rollback --------------------------------------------------------------------------

def rollback_history(helm, kubeconfig, namespace):
    return [(e["revision"], e["status"]) for e in scenarios.history(helm, kubeconfig, "shop-web", namespace)]


def test_rollback_with_the_new_names_publishes_the_outcome(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.release_with_good_revisions(helm, kubeconfig, "shop-web", namespace, 2)
    scenarios.failed_upgrade(helm, kubeconfig, "shop-web", namespace, "broken_image")
    result, report = run_playbook("rollback", helm_binary, kubeconfig, tmp_path, "helm_release=shop-web", "helm_namespace=" + namespace,
                                  "helm_revision=last_successful", "helm_timeout=" + role_runner.wait_timeout(cluster), "helm_wait=true")
    output = output_of(result)
    assert result.returncode == 0, output
    assert RESERVED not in output and DEPRECATED not in output, output
    assert rollback_history(helm, kubeconfig, namespace)[-1] == (4, "deployed")
    assert "rolled back from revision 3 to revision 2 as revision 4" in task_result(report, "Print the outcome")["msg"]
    published = custom_stats(result.stdout)["helm_rollback"]
    assert {key: published.get(key) for key in ("release", "namespace", "failed", "changed", "previous_revision", "target_revision",
                                                "revision", "status")} == {
        "release": "shop-web", "namespace": namespace, "failed": False, "changed": True, "previous_revision": 3,
        "target_revision": 2, "revision": 4, "status": "deployed"}, published
    assert "error_kind" not in published, published


def test_rollback_with_the_old_names_warns_and_publishes_a_failure(helm_binary, cluster, namespace, tmp_path):
    """The old names, every one of them, still work with a deprecation warning each. The rollback
    to the failed revision fails its wait: the outcome is published with the revision Helm wrote."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.install(helm, kubeconfig, "shop-web", namespace)
    scenarios.failed_upgrade(helm, kubeconfig, "shop-web", namespace, "broken_image")
    result, report = run_playbook("rollback", helm_binary, kubeconfig, tmp_path, "release=shop-web", "namespace=" + namespace,
                                  "revision=2", "on_pending=fail", "allow_failed_target=true",
                                  "timeout=" + scenarios.FAILING_WAIT_TIMEOUT, "wait=true")
    output = " ".join(output_of(result).split())
    assert result.returncode != 0, output
    for old in ("release", "namespace", "revision", "on_pending", "allow_failed_target", "timeout", "wait"):
        assert "%s: matih.helm.rollback: the extra variable '%s' is deprecated, use 'helm_%s'" % (DEPRECATED, old, old) in output, output
    assert RESERVED in output, output
    after = rollback_history(helm, kubeconfig, namespace)
    assert len(after) == 3 and after[-1] == (3, "failed"), after
    assert task_result(report, "Roll back the release")["_status"] == "fatal"
    published = custom_stats(result.stdout)["helm_rollback"]
    assert {key: published.get(key) for key in ("release", "namespace", "failed", "changed", "previous_revision", "target_revision",
                                                "revision", "status", "error_kind")} == {
        "release": "shop-web", "namespace": namespace, "failed": True, "changed": True, "previous_revision": 2,
        "target_revision": 2, "revision": 3, "status": "failed", "error_kind": "timeout"}, published
    assert "Rolling back shop-web from revision 2 to revision 2 failed" in published["msg"], published


def test_rollback_refused_is_published_without_revision_fields(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.install(helm, kubeconfig, "shop-web", namespace)
    result, _report = run_playbook("rollback", helm_binary, kubeconfig, tmp_path, "helm_release=shop-web", "helm_namespace=" + namespace,
                                   "helm_revision=99")
    assert result.returncode != 0, output_of(result)
    assert rollback_history(helm, kubeconfig, namespace) == [(1, "deployed")]
    published = custom_stats(result.stdout)["helm_rollback"]
    assert (published["failed"], published["changed"], published["error_kind"]) == (True, False, "refused"), published
    assert "99" in published["msg"] and not {"previous_revision", "target_revision", "revision"} & set(published), published


# --- matih.helm.deploy ----------------------------------------------------------------------------

def run_deploy(helm_binary, cluster, tmp_path, label, extra_vars):
    helm_dir = role_runner.counting_helm(tmp_path / label / "bin", helm_binary.path)
    result, _seconds = role_runner.run_collection_playbook(
        "deploy", tmp_path / label, helm_dir, cluster.kubeconfig, extra_vars,
        env={"ANSIBLE_SHOW_CUSTOM_STATS": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    return result


def test_deploy_publishes_its_result_on_success_and_on_failure(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    extra_vars = {"release_deploy_name": "shop-web", "release_deploy_namespace": namespace, "release_deploy_chart_ref": scenarios.chart("1.0.0"),
                  "release_deploy_chart_version": "1.0.0", "release_deploy_timeout": role_runner.wait_timeout(cluster)}
    result = run_deploy(helm_binary, cluster, tmp_path, "deployed", extra_vars)
    assert result.returncode == 0, output_of(result)
    published = custom_stats(result.stdout)["release_deploy_result"]
    assert (published["release"], published["namespace"], published["outcome"], published["failed"], published["msg"]) == (
        "shop-web", namespace, "deployed", False, ""), published
    assert published["after"]["revision"] == 1 and published["after"]["status"] == "deployed", published

    # A pending release is refused before anything changes: failed, with the role's message.
    scenarios.pending_release(helm, kubeconfig, "shop-web", namespace, "upgrade")
    result = run_deploy(helm_binary, cluster, tmp_path, "refused", extra_vars)
    assert result.returncode != 0, output_of(result)
    published = custom_stats(result.stdout)["release_deploy_result"]
    assert (published["release"], published["namespace"], published["outcome"], published["failed"]) == (
        "shop-web", namespace, "failed", True), published
    assert "another operation may still be running" in published["msg"] and published["error"] == published["msg"], published
    assert scenarios.history(helm, kubeconfig, "shop-web", namespace)[-1]["status"] == "pending-upgrade"


# --- matih.helm.remediate: Limit, the report's default place, set_stats after a failed recovery ----

def run_remediate(helm_binary, cluster, tmp_path, label, extra_vars, extra_args=()):
    helm_dir = role_runner.counting_helm(tmp_path / label / "bin", helm_binary.path)
    result, _seconds = role_runner.run_collection_playbook(
        "remediate", tmp_path / label, helm_dir, cluster.kubeconfig, extra_vars, extra_args=extra_args, forks=4,
        env={"ANSIBLE_SHOW_CUSTOM_STATS": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    return result, role_runner.helm_calls(helm_dir)


def test_remediate_refuses_a_limit_at_once(helm_binary, cluster, namespace, tmp_path):
    """Without this, --limit localhost recovers nothing (the per-release hosts are outside the limit)
    and a Limit naming another inventory host runs no play at all, with rc 0."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.install(helm, kubeconfig, "web", namespace)
    scenarios.failed_upgrade(helm, kubeconfig, "web", namespace, "broken_image")
    before = scenarios.history(helm, kubeconfig, "web", namespace)
    extra_vars = {"fleet_remediation_namespaces": [namespace], "fleet_remediation_report_dir": str(tmp_path / "report")}
    for label, extra_args in (("localhost", ["--limit", "localhost"]), ("other-host", ["-i", "localhost,web1,", "--limit", "web1"])):
        result, calls = run_remediate(helm_binary, cluster, tmp_path, label, extra_vars, extra_args)
        output = " ".join(output_of(result).split())
        assert result.returncode != 0, (label, output)
        assert "Do not set a Limit on the remediate job template (ansible-playbook --limit, here '%s')" % extra_args[-1] in output, output
        assert "fleet_remediation_namespaces" in output and "did not report back" not in output, output
        assert calls == [], (label, calls)
    assert scenarios.history(helm, kubeconfig, "web", namespace) == before
    assert not (tmp_path / "report").exists()


def test_remediate_reports_in_output_and_set_stats_without_files_by_default(helm_binary, cluster, namespace, tmp_path):
    """One release cannot be recovered (its only good revision never gets ready), one can: the play
    fails, and the summary and both rows still reach set_stats and the output; no report files
    without fleet_remediation_report_dir (an AWX job's files would be thrown away)."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.install(helm, kubeconfig, "a-broken", namespace, "1.0.0", {"image": scenarios.BROKEN_IMAGE}, wait=False)
    scenarios.failed_upgrade(helm, kubeconfig, "a-broken", namespace, "broken_image", version="1.1.0")
    scenarios.install(helm, kubeconfig, "b-fixable", namespace, "1.0.0")
    scenarios.failed_upgrade(helm, kubeconfig, "b-fixable", namespace, "broken_image", version="1.1.0")
    extra_vars = {"fleet_remediation_namespaces": [namespace], "fleet_remediation_timeout": role_runner.wait_timeout(cluster)}
    result, _calls = run_remediate(helm_binary, cluster, tmp_path, "run", extra_vars)
    output = output_of(result)
    assert result.returncode != 0, output
    assert "Not recovered: %s/a-broken failed (see the rows above)" % namespace in result.stdout, output
    stats = custom_stats(result.stdout)
    summary, rows = stats["fleet_remediation_summary"], {row["release"]: row for row in stats["fleet_remediation_releases"]}
    assert (summary["total"], summary["recovered"], summary["failed"], summary["failed_releases"]) == (2, 1, 1, [namespace + "/a-broken"]), summary
    assert (summary["report_json"], summary["report_markdown"], summary["error"]) == ("", "", ""), summary
    assert (rows["a-broken"]["outcome"], rows["b-fixable"]["outcome"]) == ("failed", "recovered"), rows
    assert rows["b-fixable"]["after"]["status"] == "deployed" and rows["b-fixable"]["action"] == "rollback_last_successful", rows
    lines = task_result(parse_output(result.stdout), "matih.helm.fleet_remediation : Show one row per release")["msg"]
    assert [line.split(":")[0] for line in lines] == [namespace + "/a-broken", namespace + "/b-fixable"], lines
    assert lines[1].startswith("%s/b-fixable: recovered; before 2 failed 1.1.0; action rollback_last_successful; after 3 deployed 1.0.0" % namespace), lines
    # (in the whole output: the rows in CUSTOM STATS at the end, with their preflight checks, can outgrow output_of)
    assert "No report files (fleet_remediation_report_dir is empty)" in result.stdout, output
    assert not list((tmp_path / "run").rglob("fleet-remediation*")), list((tmp_path / "run").rglob("*"))

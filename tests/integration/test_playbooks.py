"""The collection's playbooks, run by FQCN with ansible-playbook against the test bed, on Helm 3 and 4.

matih.helm.history has no connection variables: Helm comes from PATH and the cluster from
KUBECONFIG, as for someone running it by hand.
"""
import json
import os
import re
import subprocess
import sys

import scenarios

ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def run_history_playbook(helm, kubeconfig, tmp_path, *extra_vars):
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(tmp_path),
               PATH=os.path.dirname(helm.path) + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1")
    env.pop("K8S_AUTH_KUBECONFIG", None)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "matih.helm.history"]
    for extra in extra_vars:
        argv += ["-e", extra]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    return result, parse_output(result.stdout)


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
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "release=shop-web", "namespace=" + namespace)
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


def test_history_table_after_a_failed_rollback(helm_binary, cluster, namespace, tmp_path):
    """A rollback whose wait fails leaves the previous revision deployed and marked."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.release_with_good_revisions(helm, kubeconfig, "shop-web", namespace, 2)
    scenarios.failed_rollback(helm, kubeconfig, "shop-web", namespace)
    statuses = scenarios.statuses(helm, kubeconfig, "shop-web", namespace)
    assert statuses == ["superseded", "deployed", "failed", "failed"]
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "release=shop-web", "namespace=" + namespace)
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
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "release=shop-web", "namespace=" + namespace)
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
    result, report = run_history_playbook(helm_binary, kubeconfig, tmp_path, "release=shop-web", "namespace=" + namespace)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]

    rows, summary = table(report)[1:3]
    assert (rows[1][""], rows[1]["STATUS"]) == ("*+", "deployed")
    assert (rows[2][""], rows[2]["STATUS"]) == ("", "pending-upgrade")
    assert summary.endswith("latest revision is pending: another operation may be running")


def test_history_of_a_missing_release(helm_binary, cluster, namespace, tmp_path):
    result, report = run_history_playbook(helm_binary, cluster.kubeconfig, tmp_path, "release=nothing-here", "namespace=" + namespace)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]
    assert task_result(report, "Report a missing release")["msg"] == "Release nothing-here does not exist in namespace %s." % namespace
    assert task_result(report, "Print the history table")["_status"] == "skipping"


def test_history_namespace_defaults_to_default(helm_binary, cluster, namespace, tmp_path):
    # Read-only, and the release name is unique to this test: safe on a real cluster's default namespace.
    name = "absent-" + namespace[-6:]
    result, report = run_history_playbook(helm_binary, cluster.kubeconfig, tmp_path, "release=" + name)
    assert result.returncode == 0 and report, result.stdout[-5000:] + result.stderr[-3000:]
    assert task_result(report, "Report a missing release")["msg"] == "Release %s does not exist in namespace default." % name


def test_history_needs_a_release(helm_binary, cluster, tmp_path):
    result, report = run_history_playbook(helm_binary, cluster.kubeconfig, tmp_path)
    assert result.returncode != 0
    assert "Name the release" in task_result(report, "Check the extra variables")["msg"]

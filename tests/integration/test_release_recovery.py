"""matih.helm.release_recovery, every recovery path, through ansible-playbook on Helm 3 and Helm 4.

Each test makes a release history with real Helm (tests/testbed/scenarios.py), runs the role once
and checks the ``release_recovery_result`` fact (before, after, actions, action, outcome) against
the history Helm shows afterwards. Failures come from an image that never becomes ready, so the
tests run unchanged on a real cluster (MATIH_TEST_CLUSTER=external; see role_runner.wait_timeout).

Paths: (a) healthy, nothing done; (b) rollback to the last successful revision; (c) that rollback
fails and the previous good revision is rolled back to; (d) an upgrade with the known-good
configuration, the caller's or the last good revision's; (e) uninstall and reinstall, only when
asked (never a default step); pending releases left alone or freed; check mode. The role's
defaults keep Helm's own history bound (no ``--history-max 0``).
"""

import functools
import http.server
import shutil
import subprocess
import threading

import pytest

import history_digest
import playbook_runner
import role_runner
import scenarios

BROKEN = {"image": scenarios.BROKEN_IMAGE}


def recover(tmp_path, helm, cluster, name, namespace, label="recovery", check=False, **variables):
    role_vars = dict({
        "release_recovery_name": name,
        "release_recovery_namespace": namespace,
        "release_recovery_connection": role_runner.connection(helm, cluster.kubeconfig),
        "release_recovery_timeout": role_runner.wait_timeout(cluster),
        "release_recovery_fail_on_unrecovered": False,
    }, **variables)
    play = role_runner.RolePlay(tmp_path, label, "matih.helm.release_recovery", role_vars).run(check=check)
    results = play.results
    assert len(results) == 1 and results[0] is not None, play.output()
    result = results[0]
    return play, result


def assert_result_basics(result, name, namespace, helm, check_mode=False):
    assert result["release"] == name and result["namespace"] == namespace, result
    assert result["check_mode"] is check_mode, result
    assert str(result["helm_version"]).split(".", maxsplit=1)[0] == str(helm.major), result
    for side in ("before", "after"):
        assert set(result[side]) == {"revision", "status", "chart_version", "app_version"}, result[side]


def step(result, action):
    matches = [entry for entry in result["actions"] if entry["action"] == action]
    assert len(matches) == 1, "one %s action expected in %s" % (action, result["actions"])
    return matches[0]


def assert_copy_of(helm, kubeconfig, name, namespace, copy, original):
    """Revision ``copy`` has the chart, values and manifest of revision ``original``."""
    digests = history_digest.snapshot(helm, kubeconfig, name, namespace)
    assert digests[copy].content() == digests[original].content(), (digests[copy], digests[original])


# --- release histories ----------------------------------------------------------------------

def good_then_failed(helm, kubeconfig, name, namespace):
    """1 (chart 1.0.0) and 2 (1.1.0) good, 3 a failed upgrade (broken image, 1.2.0)."""
    scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    scenarios.upgrade(helm, kubeconfig, name, namespace, "1.1.0", {"config.revision": "2"})
    scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "broken_image", version="1.2.0")
    assert scenarios.statuses(helm, kubeconfig, name, namespace) == ["superseded", "deployed", "failed"]


def broken_last_good(helm, kubeconfig, name, namespace):
    """1 good (1.0.0); 2 (1.1.0) has a broken image but reached deployed because Helm did not
    wait for it; 3 a failed upgrade. Rolling back to 2 with --wait fails, to 1 works."""
    scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    scenarios.upgrade(helm, kubeconfig, name, namespace, "1.1.0", dict(BROKEN, **{"config.revision": "2"}), wait=False)
    scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "broken_image", version="1.2.0")
    assert scenarios.statuses(helm, kubeconfig, name, namespace) == ["superseded", "deployed", "failed"]


def nothing_to_roll_back_to(helm, kubeconfig, name, namespace):
    """1 (1.0.0) has a broken image but reached deployed (installed without waiting); 2 a failed
    upgrade. The only rollback target is 1, which fails again."""
    scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", dict(BROKEN, **{"config.revision": "1"}), wait=False)
    scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "broken_image", version="1.1.0")
    assert scenarios.statuses(helm, kubeconfig, name, namespace) == ["deployed", "failed"]


APP_2, APP_2_VERSIONS = "app-2", ("1.0", "1.1")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # the base class's signature
        pass


@pytest.fixture(scope="module")
def chart_repo(tmp_path_factory):
    """A Helm chart repository over HTTP (index.yaml + the demo charts), as a repo URL."""
    directory = tmp_path_factory.mktemp("chart-repo")
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        shutil.copy(scenarios.chart(version), directory)
    # The demo chart named app-2, at versions 1.0 and 1.1 (Helm takes MAJOR.MINOR as SemVer): Helm prints it as
    # app-2-1.0, whose text alone once split as chart app, version 2-1.0
    source = tmp_path_factory.mktemp("app-2-source") / APP_2
    shutil.copytree(scenarios.DEMO_CHART_DIR, source)
    chart_yaml = source / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text(encoding="utf-8").replace("name: demo\n", "name: %s\n" % APP_2), encoding="utf-8")
    for version in APP_2_VERSIONS:
        subprocess.run([scenarios.HELM_BINARIES["helm3"], "package", str(source), "--version", version, "--app-version",
                        version, "--destination", str(directory)], check=True, capture_output=True)
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = "http://127.0.0.1:%d" % server.server_address[1]
    subprocess.run([scenarios.HELM_BINARIES["helm3"], "repo", "index", str(directory), "--url", url], check=True, capture_output=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


# --- (a) healthy ------------------------------------------------------------------------------

def test_healthy_release_is_left_alone(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.install(helm, kubeconfig, release_name, namespace, "1.0.0")
    before = scenarios.history(helm, kubeconfig, release_name, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace)
    assert play.returncode == 0, play.output()
    assert scenarios.history(helm, kubeconfig, release_name, namespace) == before
    assert_result_basics(result, release_name, namespace, helm_binary)
    assert result["outcome"] == "healthy" and result["action"] == "none" and result["actions"] == [], result
    assert result["before"] == result["after"] == {"revision": 1, "status": "deployed", "chart_version": "1.0.0", "app_version": "1.0.0"}


# --- (b) rollback to the last successful revision -----------------------------------------------

@pytest.mark.helm_matrix
def test_failed_upgrade_rolled_back_to_last_successful(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    good_then_failed(helm, kubeconfig, release_name, namespace)
    before = history_digest.snapshot(helm, kubeconfig, release_name, namespace)
    helm_dir = role_runner.counting_helm(tmp_path / "bin", helm)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace,
                           release_recovery_connection=role_runner.connection(str(helm_dir / "helm"), kubeconfig))
    assert play.returncode == 0, play.output()
    # release_recovery_history_max null: Helm's own bound (10, or HELM_MAX_HISTORY), never unlimited
    calls = role_runner.helm_calls(helm_dir)
    assert [argv for argv in calls if argv[:1] == ["rollback"]] and not role_runner.unbounded_history(calls), calls
    entries = scenarios.history(helm, kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "superseded", "failed", "deployed"], entries
    assert_copy_of(helm, kubeconfig, release_name, namespace, 4, 2)
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, kubeconfig, release_name, namespace))
    assert_result_basics(result, release_name, namespace, helm_binary)
    assert result["outcome"] == "recovered" and result["action"] == "rollback_last_successful", result
    assert result["before"] == {"revision": 3, "status": "failed", "chart_version": "1.2.0", "app_version": "1.2.0"}, result
    assert result["after"] == {"revision": 4, "status": "deployed", "chart_version": "1.1.0", "app_version": "1.1.0"}, result
    assert [a["action"] for a in result["actions"]] == ["rollback_last_successful"], result
    rollback = result["actions"][0]
    assert rollback["target_revision"] == 2 and rollback["outcome"] == "recovered" and rollback["changed"] is True, rollback
    assert (rollback["revision"], rollback["status"], rollback["chart_version"], rollback["error"]) == (4, "deployed", "1.1.0", ""), rollback


# --- (c) the rollback fails: roll back to the previous good revision ----------------------------

def test_failing_rollback_falls_back_to_previous_good(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    broken_last_good(helm, kubeconfig, release_name, namespace)
    before = history_digest.snapshot(helm, kubeconfig, release_name, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace)
    assert play.returncode == 0, play.output()
    entries = scenarios.history(helm, kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "superseded", "failed", "failed", "deployed"], entries
    assert_copy_of(helm, kubeconfig, release_name, namespace, 5, 1)
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, kubeconfig, release_name, namespace))
    assert_result_basics(result, release_name, namespace, helm_binary)
    assert result["outcome"] == "recovered" and result["action"] == "rollback_previous_good", result
    assert result["before"]["revision"] == 3 and result["before"]["status"] == "failed", result
    assert result["after"] == {"revision": 5, "status": "deployed", "chart_version": "1.0.0", "app_version": "1.0.0"}, result
    assert [a["action"] for a in result["actions"]] == ["rollback_last_successful", "rollback_previous_good"], result
    first, second = result["actions"]
    assert (first["target_revision"], first["outcome"], first["revision"], first["status"]) == (2, "failed", 4, "failed"), first
    assert first["error"], first
    assert (second["target_revision"], second["outcome"], second["revision"], second["status"]) == (1, "recovered", 5, "deployed"), second
    assert second["error"] == "", second


# --- (d) upgrade with the known-good configuration ----------------------------------------------

def test_upgrade_with_caller_configuration_when_no_rollback_works(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    nothing_to_roll_back_to(helm, kubeconfig, release_name, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace,
                           release_recovery_chart_ref=scenarios.chart("1.2.0"), release_recovery_values={"config": {"revision": "fixed"}})
    assert play.returncode == 0, play.output()
    entries = scenarios.history(helm, kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "failed", "failed", "deployed"], entries
    assert entries[-1]["chart"] == "demo-1.2.0", entries
    assert role_runner.revision_values(helm, kubeconfig, release_name, namespace, 4) == {"config": {"revision": "fixed"}}
    assert_result_basics(result, release_name, namespace, helm_binary)
    assert result["outcome"] == "recovered" and result["action"] == "upgrade", result
    assert result["before"]["revision"] == 2 and result["after"] == {
        "revision": 4, "status": "deployed", "chart_version": "1.2.0", "app_version": "1.2.0"}, result
    assert [(a["action"], a["outcome"]) for a in result["actions"]] == [
        ("rollback_last_successful", "failed"), ("rollback_previous_good", "skipped"), ("upgrade", "recovered")], result
    assert result["actions"][0]["target_revision"] == 1 and result["actions"][0]["revision"] == 3, result
    assert "no revision older than 1" in result["actions"][1]["reason"], result
    upgrade = result["actions"][2]
    assert upgrade["chart_ref"] == scenarios.chart("1.2.0") and upgrade["changed"] is True and upgrade["revision"] == 4, upgrade


def test_upgrade_only_defaults_to_last_good_chart_version_and_values(helm_binary, cluster, namespace, release_name, tmp_path, chart_repo):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    good_then_failed(helm, kubeconfig, release_name, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace,
                           release_recovery_strategies=["upgrade"], release_recovery_chart_repo_url=chart_repo)
    assert play.returncode == 0, play.output()
    entries = scenarios.history(helm, kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "superseded", "failed", "deployed"], entries
    # An upgrade, not a rollback: a new release of the last good revision's chart version and values.
    assert entries[-1]["chart"] == "demo-1.1.0" and "Upgrade complete" in entries[-1]["description"], entries[-1]
    assert role_runner.revision_values(helm, kubeconfig, release_name, namespace, 4) == {"config": {"revision": "2"}}
    assert_result_basics(result, release_name, namespace, helm_binary)
    assert result["outcome"] == "recovered" and result["action"] == "upgrade", result
    assert [(a["action"], a["outcome"]) for a in result["actions"]] == [("upgrade", "recovered")], result
    upgrade = result["actions"][0]
    assert (upgrade["chart_ref"], upgrade["chart_version"], upgrade["revision"]) == ("demo", "1.1.0", 4), upgrade
    assert result["after"] == {"revision": 4, "status": "deployed", "chart_version": "1.1.0", "app_version": "1.1.0"}, result


def test_known_good_upgrade_takes_the_chart_from_the_record(helm_binary, cluster, namespace, release_name, tmp_path, chart_repo):
    """Chart app-2 at 1.0 (good), then 1.1 refused by admission (failed). The known-good upgrade asks the repository
    for app-2 version 1.0, the name and version of revision 1's record; from the "app-2-1.0" text it asked for chart
    app version 2-1.0, which the repository does not have. One Helm major: the record is the same under both."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    charts = {version: "%s/%s-%s.tgz" % (chart_repo, APP_2, version) for version in APP_2_VERSIONS}
    scenarios.run_helm(helm, kubeconfig, ["install", release_name, charts["1.0"], "-n", namespace, "--set-string", "config.revision=1"])
    scenarios.run_helm(helm, kubeconfig, ["upgrade", release_name, charts["1.1"], "-n", namespace, "--set",
                                          "%s=%s" % scenarios.REJECTED_CONFIG], check=False)
    assert [e["chart"] for e in scenarios.history(helm, kubeconfig, release_name, namespace)] == ["app-2-1.0", "app-2-1.1"]
    assert scenarios.statuses(helm, kubeconfig, release_name, namespace) == ["deployed", "failed"]
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace,
                           release_recovery_strategies=["upgrade"], release_recovery_chart_repo_url=chart_repo)
    assert play.returncode == 0, play.output()
    upgrade = result["actions"][0]
    assert (upgrade["action"], upgrade["outcome"], upgrade["chart_ref"], upgrade["chart_version"]) == (
        "upgrade", "recovered", APP_2, "1.0"), result["actions"]
    entries = scenarios.history(helm, kubeconfig, release_name, namespace)
    assert [(e["status"], e["chart"]) for e in entries] == [
        ("superseded", "app-2-1.0"), ("failed", "app-2-1.1"), ("deployed", "app-2-1.0")], entries
    assert role_runner.revision_values(helm, kubeconfig, release_name, namespace, 3) == {"config": {"revision": "1"}}
    assert result["after"] == {"revision": 3, "status": "deployed", "chart_version": "1.0", "app_version": "1.0"}, result


def test_upgrade_without_chart_reference_is_skipped(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    good_then_failed(helm, kubeconfig, release_name, namespace)
    before = scenarios.history(helm, kubeconfig, release_name, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace, release_recovery_strategies=["upgrade", "reinstall"])
    assert play.returncode == 0, play.output()
    assert scenarios.history(helm, kubeconfig, release_name, namespace) == before
    assert result["outcome"] == "failed" and result["action"] == "none", result
    assert [(a["action"], a["outcome"]) for a in result["actions"]] == [("upgrade", "skipped"), ("reinstall", "skipped")], result
    assert all("no chart reference" in a["reason"] for a in result["actions"]), result
    assert result["before"] == result["after"], result


# --- (e) uninstall and reinstall ---------------------------------------------------------------

def test_default_steps_never_uninstall(helm_binary, cluster, namespace, release_name, tmp_path):
    """A failed install, no chart given: of the default steps none has a target, and reinstall is not
    among them, so nothing is uninstalled and the history stays as it is."""
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.failed_install(helm, kubeconfig, release_name, namespace, "broken_image")
    before = scenarios.history(helm, kubeconfig, release_name, namespace)
    helm_dir = role_runner.counting_helm(tmp_path / "bin", helm)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace,
                           release_recovery_connection=role_runner.connection(str(helm_dir / "helm"), kubeconfig))
    assert play.returncode == 0, play.output()
    assert [(a["action"], a["outcome"]) for a in result["actions"]] == [
        ("rollback_last_successful", "skipped"), ("rollback_previous_good", "skipped"), ("upgrade", "skipped")], result
    assert result["outcome"] == "failed" and result["action"] == "none", result
    # the skip reason names this role's variables, not the module's options
    assert "release_recovery_chart_ref" in result["actions"][2]["reason"], result["actions"][2]
    assert not [argv for argv in role_runner.helm_calls(helm_dir) if argv[:1] in (["uninstall"], ["install"])]
    assert scenarios.history(helm, kubeconfig, release_name, namespace) == before


def test_failed_install_is_reinstalled_with_given_chart(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    scenarios.failed_install(helm, kubeconfig, release_name, namespace, "broken_image")
    assert scenarios.statuses(helm, kubeconfig, release_name, namespace) == ["failed"]
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace,
                           release_recovery_strategies=["rollback_last_successful", "rollback_previous_good", "reinstall"],
                           release_recovery_chart_ref=scenarios.chart("1.0.0"), release_recovery_values={"config": {"revision": "again"}})
    assert play.returncode == 0, play.output()
    entries = scenarios.history(helm, kubeconfig, release_name, namespace)
    # --keep-history then --replace: revision 1 stays (uninstalled), numbering goes on at 2.
    assert [e["revision"] for e in entries] == [1, 2] and entries[-1]["status"] == "deployed", entries
    assert entries[0]["status"] in ("uninstalled", "superseded"), entries
    assert role_runner.revision_values(helm, kubeconfig, release_name, namespace, 2) == {"config": {"revision": "again"}}
    assert_result_basics(result, release_name, namespace, helm_binary)
    assert result["outcome"] == "recovered" and result["action"] == "reinstall", result
    assert result["before"] == {"revision": 1, "status": "failed", "chart_version": "1.0.0", "app_version": "1.0.0"}, result
    assert result["after"] == {"revision": 2, "status": "deployed", "chart_version": "1.0.0", "app_version": "1.0.0"}, result
    assert [(a["action"], a["outcome"]) for a in result["actions"]] == [
        ("rollback_last_successful", "skipped"), ("rollback_previous_good", "skipped"), ("reinstall", "recovered")], result
    assert result["actions"][2]["keep_history"] is True and result["actions"][2]["revision"] == 2, result


# --- pending releases ---------------------------------------------------------------------------

def pending_upgrade(helm, kubeconfig, name, namespace):
    scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    scenarios.pending_release(helm, kubeconfig, name, namespace, "upgrade")
    assert scenarios.statuses(helm, kubeconfig, name, namespace) == ["deployed", "pending-upgrade"]


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variables, failing", [
    ({"release_recovery_timeout": "0s"}, "release_recovery_timeout is not match"),
    ({"release_recovery_timeout": "0m0.0s"}, "release_recovery_timeout is not match"),
    ({"release_recovery_timeout": "5"}, "release_recovery_timeout is match"),
    ({"release_recovery_name": "Web_1"}, "release_recovery_name is match"),
    ({"release_recovery_name": "$(id)"}, "release_recovery_name is match"),
    ({"release_recovery_namespace": "--kubeconfig=/etc/passwd"}, "release_recovery_namespace is match"),
    ({"release_recovery_strategies": ["upgrade", "upgrade"]}, "release_recovery_strategies | length"),
], ids=["timeout-zero", "timeout-zero-compound", "timeout-no-unit", "name-not-dns", "name-shell", "namespace-option", "strategy-twice"])
def test_bad_input_is_refused_before_helm_runs(helm_binary, cluster, namespace, release_name, tmp_path, variables, failing):
    helm_dir = role_runner.counting_helm(tmp_path / "bin", helm_binary.path)
    role_vars = dict({
        "release_recovery_name": release_name,
        "release_recovery_namespace": namespace,
        "release_recovery_connection": role_runner.connection(str(helm_dir / "helm"), cluster.kubeconfig),
    }, **variables)
    play = role_runner.RolePlay(tmp_path, "bad-input", "matih.helm.release_recovery", role_vars).run()
    assert play.returncode != 0, play.output()
    refusal = [line for line in play.stdout.splitlines() if '"assertion":' in line]
    assert len(refusal) == 1 and failing in refusal[0] and "Invalid input" in refusal[0], play.output()
    assert role_runner.helm_calls(helm_dir) == [], role_runner.helm_calls(helm_dir)


def test_pending_release_is_not_touched_without_unlock(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    pending_upgrade(helm, kubeconfig, release_name, namespace)
    before = scenarios.history(helm, kubeconfig, release_name, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace)
    assert play.returncode == 0, play.output()
    assert scenarios.history(helm, kubeconfig, release_name, namespace) == before
    assert result["outcome"] == "failed" and result["action"] == "none" and result["actions"] == [], result
    assert "release_recovery_unlock_pending=true" in result["reason"] and "pending-upgrade" in result["reason"], result
    assert result["before"] == result["after"] and result["before"]["status"] == "pending-upgrade", result
    # With the default release_recovery_fail_on_unrecovered the play fails, after publishing the result.
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace, label="strict", release_recovery_fail_on_unrecovered=True)
    assert play.returncode != 0 and "was not recovered (failed)" in play.stdout, play.output()
    assert "release_recovery_unlock_pending=true" in play.stdout, play.output()
    assert result["outcome"] == "failed" and result["actions"] == [], result
    assert scenarios.history(helm, kubeconfig, release_name, namespace) == before


@pytest.mark.helm_matrix
def test_pending_release_is_freed_with_unlock(helm_binary, cluster, namespace, release_name, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    pending_upgrade(helm, kubeconfig, release_name, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace, release_recovery_unlock_pending=True)
    assert play.returncode == 0, play.output()
    entries = scenarios.history(helm, kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries][-1] == "deployed" and len(entries) == 3, entries
    # Helm's rollback supersedes only a deployed revision: the interrupted one keeps its status.
    assert entries[1]["status"] in ("pending-upgrade", "failed", "superseded"), entries
    assert_copy_of(helm, kubeconfig, release_name, namespace, 3, 1)
    assert result["outcome"] == "recovered" and result["action"] == "rollback_last_successful", result
    assert result["before"]["status"] == "pending-upgrade" and result["after"]["revision"] == 3, result
    assert [(a["action"], a["target_revision"], a["outcome"]) for a in result["actions"]] == [("rollback_last_successful", 1, "recovered")], result


# --- check mode -----------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", ["failed_upgrade", "failed_install"])
def test_check_mode_plans_and_changes_nothing(helm_binary, cluster, namespace, release_name, tmp_path, scenario):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    if scenario == "failed_upgrade":
        good_then_failed(helm, kubeconfig, release_name, namespace)
        expected = ("rollback_last_successful", "planned")
    else:
        scenarios.failed_install(helm, kubeconfig, release_name, namespace, "broken_image")
        expected = ("reinstall", "planned")
    before = scenarios.history(helm, kubeconfig, release_name, namespace)
    records = playbook_runner.release_records(cluster, namespace)
    play, result = recover(tmp_path, helm_binary, cluster, release_name, namespace, check=True,
                           release_recovery_strategies=["rollback_last_successful", "rollback_previous_good", "reinstall"],
                           release_recovery_chart_ref=scenarios.chart("1.0.0"), release_recovery_values={})
    assert play.returncode == 0, play.output()
    assert scenarios.history(helm, kubeconfig, release_name, namespace) == before
    assert playbook_runner.release_records(cluster, namespace) == records
    assert_result_basics(result, release_name, namespace, helm_binary, check_mode=True)
    assert result["outcome"] == "planned" and result["action"] == expected[0], result
    assert (result["actions"][-1]["action"], result["actions"][-1]["outcome"]) == expected, result
    assert "would run (check mode)" in result["reason"], result
    assert result["before"] == result["after"], result
    if scenario == "failed_upgrade":
        assert result["actions"][0]["target_revision"] == 2, result

"""``ansible-playbook matih.helm.remediate`` on a fleet of releases, on Helm 3 and Helm 4.

The fleet: releases spread over 10 namespaces, a mix of healthy ones (two good revisions), failed
upgrades, failed rollbacks and releases stuck in ``pending-upgrade``, made with real Helm in
parallel. The playbook runs as an operator runs it: Helm from PATH, the cluster from KUBECONFIG.

1. ``--check``: nothing changes (every history identical), the reports list the plan;
2. the real run: every unhealthy release ends deployed, every healthy one keeps its history,
   the JSON and Markdown reports have one row per unhealthy release (before, action, after,
   outcome), and no Helm call names a healthy release (a ``helm`` wrapper logs every call);
3. a rerun on the now healthy fleet: one metadata-only LIST of Helm's release Secrets and nothing else
   (no Helm call but the version probe), which the request counters confirm.

The elapsed time of each run is printed (``-s``) and recorded as a user property of the test.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import role_runner
import scenarios

NAMESPACES = 10
# 40% healthy, then failed upgrades, failed rollbacks and pending releases; interleaved so that
# every namespace holds a mix.
MIX = ("healthy", "failed_upgrade", "healthy", "failed_rollback", "healthy", "pending", "failed_upgrade", "healthy", "failed_rollback", "pending")
SETUP_WORKERS = 8
FORKS = 10


LATEST = {"healthy": "deployed", "failed_upgrade": "failed", "failed_rollback": "failed", "pending": "pending-upgrade"}


def make_release(helm, kubeconfig, kind, name, namespace, attempts=3):
    """The release in state ``kind``; made again from scratch when a failure it relies on did not
    happen (on a loaded machine a 2s wait has been seen to pass), up to ``attempts`` times."""
    entries = []
    for _attempt in range(attempts):
        scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
        if kind == "healthy":
            scenarios.upgrade(helm, kubeconfig, name, namespace, "1.1.0", {"config.revision": "2"})
        elif kind == "failed_upgrade":
            scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "broken_image", version="1.1.0")
        elif kind == "failed_rollback":
            scenarios.failed_rollback(helm, kubeconfig, name, namespace)
        elif kind == "pending":
            scenarios.pending_release(helm, kubeconfig, name, namespace, "upgrade")
        entries = scenarios.history(helm, kubeconfig, name, namespace)
        # revision 1 good, then only the revisions the kind expects
        expected = {"healthy": ["deployed"], "failed_upgrade": ["failed"], "failed_rollback": ["failed", "failed"], "pending": ["pending-upgrade"]}
        if [entry["status"] for entry in entries[1:]] == expected[kind]:
            return entries
        scenarios.uninstall(helm, kubeconfig, name, namespace)
    raise AssertionError("could not make a %s release %s/%s: %s" % (kind, namespace, name, role_runner.brief(entries)))


class Fleet:
    def __init__(self, helm, cluster, base, size):
        self.helm, self.cluster = helm, cluster
        self.namespaces = ["%s-%d" % (base, index) for index in range(NAMESPACES)]
        self.releases = {}
        for index in range(size):
            namespace = self.namespaces[index % NAMESPACES]
            self.releases[(namespace, "svc-%02d" % index)] = MIX[index % len(MIX)]

    def create(self):
        for namespace in self.namespaces:
            self.cluster.create_namespace(namespace)
        with ThreadPoolExecutor(max_workers=SETUP_WORKERS) as pool:
            futures = {key: pool.submit(make_release, self.helm, self.cluster.kubeconfig, kind, key[1], key[0])
                       for key, kind in self.releases.items()}
        for key, future in futures.items():
            latest = future.result()[-1]["status"]
            assert latest == LATEST[self.releases[key]], (key, self.releases[key], latest)

    def delete(self):
        for namespace in self.namespaces:
            self.cluster.delete_namespace(namespace)

    def histories(self):
        with ThreadPoolExecutor(max_workers=SETUP_WORKERS) as pool:
            futures = {key: pool.submit(scenarios.history, self.helm, self.cluster.kubeconfig, key[1], key[0]) for key in self.releases}
        return {key: [(e["revision"], e["status"], e["chart"]) for e in future.result()] for key, future in futures.items()}

    def of_kind(self, *kinds):
        return sorted(key for key, kind in self.releases.items() if kind in kinds)

    @property
    def unhealthy(self):
        return self.of_kind("failed_upgrade", "failed_rollback", "pending")


def remediate(fleet, tmp_path, label, check=False):
    directory = tmp_path / label
    helm_dir = role_runner.counting_helm(directory / "bin", fleet.helm)
    extra_vars = {
        "fleet_remediation_namespaces": fleet.namespaces,
        "fleet_remediation_unlock_pending": True,
        "fleet_remediation_timeout": role_runner.wait_timeout(fleet.cluster),
        "fleet_remediation_report_dir": str(directory / "report"),
    }
    result, seconds = role_runner.run_collection_playbook("remediate", directory, helm_dir, fleet.cluster.kubeconfig, extra_vars,
                                                          check=check, forks=FORKS)
    output = "rc=%d\n%s\n%s" % (result.returncode, result.stdout[-15000:], result.stderr[-5000:])
    calls = role_runner.helm_calls(helm_dir)
    report_path = directory / "report" / "fleet-remediation.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else None
    markdown_path = directory / "report" / "fleet-remediation.md"
    markdown = markdown_path.read_text(encoding="utf-8") if markdown_path.exists() else ""
    return result, seconds, output, calls, report, markdown


def markdown_rows(markdown):
    """{(namespace, release): cells} of the report's table (Before, Action, After, Outcome, Reason)."""
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 7 and cells[0] not in ("Namespace", "---"):
            rows[(cells[0], cells[1])] = dict(zip(("before", "action", "after", "outcome", "reason"), cells[2:]))
    return rows


def calls_naming(calls, releases):
    """Logged Helm calls whose arguments name one of ``releases`` ((namespace, name) pairs)."""
    return [argv for argv in calls for namespace, name in releases if name in argv and namespace in " ".join(argv)]


def record_time(record_property, label, helm, size, seconds):
    record_property("%s_seconds" % label, round(seconds, 1))
    print("\nmatih.helm.remediate %s: Helm %d, %d releases: %.1fs" % (label, helm.major, size, seconds))


# Ten releases: enough for every kind of Fleet and a fleet-wide request count; scale (1,000 releases) is
# measured by make bench, section (f), not here.
FLEET_SIZE = 10


def test_remediate_fleet(helm_binary, faulty_cluster, namespace, tmp_path, record_property):  # pylint: disable=too-many-locals,too-many-statements
    size = FLEET_SIZE
    # faulty_cluster: its fault injector counts the API requests (no fault is injected here)
    cluster = faulty_cluster
    fleet = Fleet(helm_binary.path, cluster, namespace, size)
    started = time.monotonic()
    try:
        fleet.create()
        record_time(record_property, "setup", helm_binary, size, time.monotonic() - started)
        before = fleet.histories()
        unhealthy, healthy = fleet.unhealthy, fleet.of_kind("healthy")
        assert len(unhealthy) + len(healthy) == size and healthy and unhealthy

        # 1. --check: the plan, nothing changed.
        result, seconds, output, calls, report, markdown = remediate(fleet, tmp_path, "check", check=True)
        record_time(record_property, "check", helm_binary, size, seconds)
        assert result.returncode == 0, output
        assert fleet.histories() == before
        assert report is not None, output
        assert report["summary"]["check_mode"] is True and report["summary"]["planned"] == len(unhealthy), report["summary"]
        rows = {(row["namespace"], row["release"]): row for row in report["releases"]}
        assert sorted(rows) == unhealthy and len(report["releases"]) == len(unhealthy), sorted(rows)
        for key, row in rows.items():
            assert (row["outcome"], row["action"]) == ("planned", "rollback_last_successful"), (key, row)
            assert row["before"] == row["after"] and row["before"]["status"] == LATEST[fleet.releases[key]], (key, row)
        planned = markdown_rows(markdown)
        assert sorted(planned) == unhealthy, markdown
        assert all(cells["outcome"] == "**planned**" and cells["action"] == "rollback_last_successful" for cells in planned.values()), markdown
        assert "check mode: nothing was changed" in markdown, markdown
        assert not calls_naming(calls, healthy), calls_naming(calls, healthy)

        # 2. The real run.
        cluster.request_stats(reset=True)
        result, seconds, output, calls, report, markdown = remediate(fleet, tmp_path, "remediate")
        print("API requests of the remediation: %s" % cluster.request_stats())
        record_time(record_property, "remediate", helm_binary, size, seconds)
        assert result.returncode == 0, output
        after = fleet.histories()
        for key in healthy:
            assert after[key] == before[key], (key, before[key], after[key])
        for key in unhealthy:
            assert after[key][-1][1] == "deployed" and after[key][-1][2] == "demo-1.0.0", (key, after[key])
            # one new revision; the old ones stay (their statuses may change: deployed -> superseded)
            assert [(e[0], e[2]) for e in after[key][:-1]] == [(e[0], e[2]) for e in before[key]], (key, before[key], after[key])
        summary = report["summary"]
        assert (summary["check_mode"], summary["total"], summary["recovered"], summary["failed"]) == (False, len(unhealthy), len(unhealthy), 0), summary
        assert [summary[outcome] for outcome in ("deferred", "quarantined", "uninstalled", "would_fail")] == [0, 0, 0, 0], summary
        assert (summary["deferred_releases"], summary["quarantined_releases"]) == ([], []), summary
        rows = {(row["namespace"], row["release"]): row for row in report["releases"]}
        assert sorted(rows) == unhealthy and len(report["releases"]) == len(unhealthy), sorted(rows)
        for key, row in rows.items():
            assert (row["outcome"], row["action"]) == ("recovered", "rollback_last_successful"), (key, row)
            assert row["before"]["revision"] == before[key][-1][0] and row["before"]["status"] == LATEST[fleet.releases[key]], (key, row)
            assert row["after"] == {"revision": after[key][-1][0], "status": "deployed", "chart_version": "1.0.0", "app_version": "1.0.0"}, (key, row)
            assert [(a["action"], a["target_revision"], a["outcome"]) for a in row["actions"]] == [("rollback_last_successful", 1, "recovered")], row
        recovered = markdown_rows(markdown)
        assert sorted(recovered) == unhealthy, markdown
        for key, cells in recovered.items():
            assert cells["outcome"] == "**recovered**" and cells["action"] == "rollback_last_successful", (key, cells)
            assert cells["before"].startswith("%d %s" % (before[key][-1][0], LATEST[fleet.releases[key]])), (key, cells)
            assert cells["after"] == "%d deployed 1.0.0" % after[key][-1][0], (key, cells)
        # Helm calls: no list (discovery is one metadata LIST of Helm's release Secrets), none naming a healthy release.
        lists = [argv for argv in calls if argv[:1] == ["list"]]
        assert lists == [], lists
        assert not calls_naming(calls, healthy), calls_naming(calls, healthy)
        # fleet_remediation_history_max null: Helm's own bound, never --history-max 0 (unlimited)
        assert not role_runner.unbounded_history(calls), role_runner.unbounded_history(calls)
        print("Helm calls: %d in all, %d version probes, %d list, %d naming a healthy release" % (
            len(calls), sum(1 for argv in calls if argv[:1] == ["version"]), len(lists), len(calls_naming(calls, healthy))))

        # 3. Rerun on the healthy fleet: the discovery and nothing else.
        cluster.request_stats(reset=True)
        result, seconds, output, calls, report, markdown = remediate(fleet, tmp_path, "rerun")
        stats = cluster.request_stats()
        record_time(record_property, "rerun", helm_binary, size, seconds)
        assert result.returncode == 0, output
        assert fleet.histories() == after
        assert report["summary"]["total"] == 0 and report["releases"] == [], report
        assert "nothing to do" in markdown, markdown
        assert [argv[0] for argv in calls if argv[:1] != ["version"]] == [], calls
        api = {route: count for route, count in stats.items() if not route.split(" ", 1)[1].startswith(("/api ", "/apis ", "/version", "/openapi"))}
        print("API requests for %d healthy releases: %s" % (size, stats))
        # One request for the whole fleet, whatever the number of tenants: the metadata LIST of Helm's release Secrets.
        assert api == {"GET /api/v1/secrets": 1}, stats
    finally:
        fleet.delete()


@pytest.mark.parametrize("overrides, problems", [
    ({"tenant-a/web": {"chart-ref": "oci://example/web", "unlock_pending": True}}, ["unknown setting 'chart-ref'"]),
    ({"web": {"chart_ref": "oci://example/web"}}, ["key 'web' is not namespace/name"]),
    ({"tenant-a/web": "oci://example/web", "tenant-b/api": {"values": {}, "retries": 3}},
     ["'tenant-a/web' is not a dictionary of settings", "unknown setting 'retries'"]),
])
def test_bad_overrides_are_refused_before_helm_runs(helm_binary, cluster, namespace, tmp_path, overrides, problems):
    helm_dir = role_runner.counting_helm(tmp_path / "bin", helm_binary.path)
    extra_vars = {"fleet_remediation_namespaces": [namespace], "fleet_remediation_release_overrides": overrides,
                  "fleet_remediation_report_dir": str(tmp_path / "report")}
    result, _seconds = role_runner.run_collection_playbook("remediate", tmp_path, helm_dir, cluster.kubeconfig, extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-5000:]
    assert "Check the per-release overrides" in output and "Key each release as" in output, output[-5000:]
    for problem in problems:
        assert problem in output, (problem, output[-5000:])
    assert role_runner.helm_calls(helm_dir) == [], role_runner.helm_calls(helm_dir)
    assert not (tmp_path / "report").exists()


# --- safety brakes -------------------------------------------------------------------------------

def brake_run(helm_binary, cluster, namespace, tmp_path, label, **extra):
    helm_dir = role_runner.counting_helm(tmp_path / label / "bin", helm_binary.path)
    extra_vars = dict({"fleet_remediation_namespaces": [namespace], "fleet_remediation_timeout": role_runner.wait_timeout(cluster),
                       "fleet_remediation_report_dir": str(tmp_path / label / "report")}, **extra)
    result, _seconds = role_runner.run_collection_playbook("remediate", tmp_path / label, helm_dir, cluster.kubeconfig, extra_vars, forks=FORKS)
    report_path = tmp_path / label / "report" / "fleet-remediation.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else None
    rows = {row["release"]: row for row in (report or {}).get("releases", [])}
    return result, report, rows, role_runner.helm_calls(helm_dir)


def test_over_max_unhealthy_nothing_is_recovered(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    for name, kind in (("api", "failed_upgrade"), ("db", "failed_upgrade"), ("web", "healthy")):
        make_release(helm, kubeconfig, kind, name, namespace)
    before = {name: scenarios.history(helm, kubeconfig, name, namespace) for name in ("api", "db", "web")}
    # 2 of 3 unhealthy; 50% of 3 allows 1
    result, report, rows, calls = brake_run(helm_binary, cluster, namespace, tmp_path, "held", fleet_remediation_max_unhealthy="50%")
    output = result.stdout[-8000:] + result.stderr[-3000:]
    assert result.returncode != 0 and "fleet_remediation_max_unhealthy" in output, output
    assert {name: scenarios.history(helm, kubeconfig, name, namespace) for name in before} == before
    assert sorted(rows) == ["api", "db"] and {row["outcome"] for row in rows.values()} == {"held"}, rows
    assert (report["summary"]["held"], report["summary"]["total"]) == (2, 2), report["summary"]
    assert "more than fleet_remediation_max_unhealthy 50% allows (1 of 3 listed)" in report["summary"]["hold_reason"], report
    assert [argv[0] for argv in calls if argv[:1] != ["version"]] == [], calls


def test_a_failed_canary_holds_the_rest(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    # a-broken (first by name, the canary): its only good revision has an image that never gets ready
    scenarios.install(helm, kubeconfig, "a-broken", namespace, "1.0.0", {"image": scenarios.BROKEN_IMAGE}, wait=False)
    scenarios.failed_upgrade(helm, kubeconfig, "a-broken", namespace, "broken_image", version="1.1.0")
    make_release(helm, kubeconfig, "failed_upgrade", "b-fixable", namespace)
    fixable = scenarios.history(helm, kubeconfig, "b-fixable", namespace)
    result, report, rows, calls = brake_run(helm_binary, cluster, namespace, tmp_path, "canary", fleet_remediation_canary=1)
    output = result.stdout[-8000:] + result.stderr[-3000:]
    assert result.returncode != 0, output
    assert rows["a-broken"]["outcome"] == "failed", rows
    assert rows["b-fixable"]["outcome"] == "held" and "a-broken" in rows["b-fixable"]["reason"], rows
    assert "fleet_remediation_canary" in rows["b-fixable"]["reason"], rows
    assert scenarios.history(helm, kubeconfig, "b-fixable", namespace) == fixable
    assert not [argv for argv in calls if "b-fixable" in argv and argv[0] != "history"], calls
    # Without the canary the fixable release is recovered; the broken one failed a minute ago, so it is
    # inside its backoff (fleet_remediation_backoff 5m): deferred with the time left, nothing written.
    broken = scenarios.history(helm, kubeconfig, "a-broken", namespace)
    result, report, rows, calls = brake_run(helm_binary, cluster, namespace, tmp_path, "no-canary")
    output = result.stdout[-8000:] + result.stderr[-3000:]
    assert rows["b-fixable"]["outcome"] == "recovered", rows
    assert (rows["a-broken"]["outcome"], rows["a-broken"]["error_kind"]) == ("deferred", "backoff"), rows["a-broken"]
    assert 0 < rows["a-broken"]["retry_in"] <= 300, rows["a-broken"]
    assert report["summary"]["deferred_releases"] == ["%s/a-broken" % namespace], report["summary"]
    assert scenarios.history(helm, kubeconfig, "a-broken", namespace) == broken
    # deferred is retried by the next run: it does not fail this one
    assert result.returncode == 0, output


def test_young_pending_left_alone_stale_pending_freed(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    make_release(helm, kubeconfig, "pending", "web", namespace)
    pending_since = time.monotonic()  # the pending revision exists from here on
    stuck = scenarios.history(helm, kubeconfig, "web", namespace)
    result, report, rows, _calls = brake_run(helm_binary, cluster, namespace, tmp_path, "young", fleet_remediation_unlock_pending_after="1h")
    assert result.returncode == 0, result.stdout[-8000:]
    row = rows["web"]
    # the reason names the fleet's variable, not the module's option
    assert row["outcome"] == "pending" and 0 <= row["pending_age"] < 3600, row
    assert "younger than fleet_remediation_unlock_pending_after 1h" in row["reason"], row
    assert report["summary"]["pending"] == 1 and scenarios.history(helm, kubeconfig, "web", namespace) == stuck
    # stale for unlock_pending_after 1s: older than that (the young run took longer already, as a rule)
    time.sleep(max(0.0, pending_since + 1.2 - time.monotonic()))
    result, report, rows, _calls = brake_run(helm_binary, cluster, namespace, tmp_path, "stale", fleet_remediation_unlock_pending_after="1s")
    assert result.returncode == 0, result.stdout[-8000:]
    assert rows["web"]["outcome"] == "recovered" and "freed as stale" in rows["web"]["reason"], rows["web"]
    assert scenarios.history(helm, kubeconfig, "web", namespace)[-1]["status"] == "deployed"


# --- drift ---------------------------------------------------------------------------------------

def edit_by_hand(cluster, namespace, kind_path, name, change, attempts=5):
    """Read an object, change it as someone with kubectl edit would, and write it back; read again on a
    409 Conflict (a controller updated the object, its status, in between), as kubectl does."""
    path = "%s/namespaces/%s/%s/%s" % (kind_path[0], namespace, kind_path[1], name)
    for _attempt in range(attempts):
        body = cluster.api("GET", path)
        change(body)
        written = cluster.api("PUT", path, body, expect=409)
        if written.get("kind") != "Status":
            return
    raise AssertionError("%s: still conflicting after %d attempts: %s" % (path, attempts, written.get("message")))


CONFIGMAPS, DEPLOYMENTS = ("/api/v1", "configmaps"), ("/apis/apps/v1", "deployments")


def test_drifted_releases_are_repaired_through_the_brakes(helm_binary, cluster, namespace, tmp_path):  # pylint: disable=too-many-locals
    """fleet_remediation_detect_drift: the deployed releases edited by hand are found with the failed one, held
    together by max_unhealthy, then repaired (a rollback to their own revision) while the one in sync is never
    touched; the report's drift section names the objects and fields; a second run finds nothing."""
    if cluster.kind == "emulator":
        pytest.skip("the emulator neither merges three ways (Helm 3's re-apply) nor tracks field managers (Helm 4's): "
                    "a repair there would prove nothing; helm_release_list's drift scan is covered by its unit tests")
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    for name, kind in (("broken", "failed_upgrade"), ("edited", "healthy"), ("intact", "healthy"), ("scaled", "healthy")):
        make_release(helm, kubeconfig, kind, name, namespace)
    edit_by_hand(cluster, namespace, CONFIGMAPS, "edited-config", lambda body: body["data"].update(greeting="edited by hand"))
    edit_by_hand(cluster, namespace, DEPLOYMENTS, "scaled", lambda body: body["spec"].update(replicas=3))
    before = {name: scenarios.history(helm, kubeconfig, name, namespace) for name in ("broken", "edited", "intact", "scaled")}
    expected_drift = {
        "%s/edited" % namespace: [{"kind": "ConfigMap", "namespace": namespace, "name": "edited-config", "state": "modified",
                                   "fields": ["data.greeting"]}],
        "%s/scaled" % namespace: [{"kind": "Deployment", "namespace": namespace, "name": "scaled", "state": "modified",
                                   "fields": ["spec.replicas"]}],
    }

    # 3 unhealthy (1 failed, 2 drifted) over a limit of 1: all held, nothing changes, the drift is still reported.
    result, report, rows, calls = brake_run(helm_binary, cluster, namespace, tmp_path, "drift-held",
                                            fleet_remediation_detect_drift=True, fleet_remediation_max_unhealthy=1)
    output = result.stdout[-8000:] + result.stderr[-3000:]
    assert result.returncode != 0 and "fleet_remediation_max_unhealthy" in output, output
    assert sorted(rows) == ["broken", "edited", "scaled"] and {row["outcome"] for row in rows.values()} == {"held"}, rows
    assert {entry["release"]: entry["objects"] for entry in report["summary"]["drift"]} == expected_drift, report["summary"]
    assert report["summary"]["drifted"] == 2 and {entry["still_drifted"] for entry in report["summary"]["drift"]} == {None}
    assert {name: scenarios.history(helm, kubeconfig, name, namespace) for name in before} == before
    assert [argv[0] for argv in calls if argv[:1] != ["version"]] == [], calls

    # The real run: the failed release is recovered, the drifted ones repaired, the intact one never named.
    result, report, rows, calls = brake_run(helm_binary, cluster, namespace, tmp_path, "drift", fleet_remediation_detect_drift=True)
    output = result.stdout[-8000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    assert {name: (row["action"], row["outcome"]) for name, row in rows.items() if name != "broken"} == {
        "edited": ("repair_drift", "recovered"), "scaled": ("repair_drift", "recovered")}, rows
    assert rows["broken"]["outcome"] == "recovered" and "drift" not in rows["broken"], rows["broken"]
    assert {entry["release"]: entry["objects"] for entry in report["summary"]["drift"]} == expected_drift, report["summary"]
    assert {entry["still_drifted"] for entry in report["summary"]["drift"]} == {False}, report["summary"]["drift"]
    for name in ("edited", "scaled"):
        history = scenarios.history(helm, kubeconfig, name, namespace)
        # one new revision, the same chart as the deployed one it re-applied; no entry lost
        assert [(entry["revision"], entry["chart"]) for entry in history[:-1]] == [
            (entry["revision"], entry["chart"]) for entry in before[name]], history
        assert history[-1]["revision"] == before[name][-1]["revision"] + 1, history
        assert (history[-1]["status"], history[-1]["chart"]) == ("deployed", before[name][-1]["chart"]), history
    assert cluster.api("GET", "/api/v1/namespaces/%s/configmaps/edited-config" % namespace)["data"]["greeting"] != "edited by hand"
    assert cluster.api("GET", "/apis/apps/v1/namespaces/%s/deployments/scaled" % namespace)["spec"]["replicas"] == 1
    assert scenarios.history(helm, kubeconfig, "intact", namespace) == before["intact"]
    assert not calls_naming(calls, [(namespace, "intact")]), calls
    markdown = (tmp_path / "drift" / "report" / "fleet-remediation.md").read_text(encoding="utf-8")
    assert "- Drifted releases: 2" in markdown and "## Drift" in markdown, markdown
    assert "| %s/edited | 2 | ConfigMap/edited-config | modified | data.greeting | recovered | yes |" % namespace in markdown, markdown
    assert "edited by hand" not in markdown and "edited by hand" not in output

    # Nothing is left to do.
    result, report, rows, calls = brake_run(helm_binary, cluster, namespace, tmp_path, "drift-again", fleet_remediation_detect_drift=True)
    assert result.returncode == 0 and rows == {} and report["summary"]["drifted"] == 0, result.stdout[-8000:]
    assert [argv[0] for argv in calls if argv[:1] != ["version"]] == [], calls

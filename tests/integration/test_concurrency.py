"""Concurrent operations on one release, on Helm 3 and Helm 4: two helm_release_rollback tasks
at the same moment (both to last_successful, both to the same revision), and a real
``helm upgrade`` racing a rollback.  Each race runs a few times on fresh releases to meet
different orderings.

Helm itself does not lock a release.  Two of this collection's actors are serialised by the
release's Lease (the loser fails with error_kind ``locked``, naming the holder).  What serialises
other writers is the Kubernetes API: the release Secret is named after the revision
(sh.helm.release.v1.NAME.vN), so two writers of revision N meet a 409 AlreadyExists and the loser
fails with "release: already exists";
``helm upgrade`` (not ``rollback``) also refuses to start over a pending-* revision.  The module
adds its own checks: it refuses to start over a pending revision and verifies afterwards that
the revision it created is the latest.

Every task must end in one of the outcomes below; the release must end deployed (after at
most one release_recovery run when a race left it failed or pending); and no revision may be
lost or changed (history_digest.py).
"""

import json
import os
import subprocess

import pytest

import history_digest
import scenarios
from recovery_plays import Play, failed_release, recovery_tasks, release_barrier, rollback_task, wait_for_status

# How often each race runs in one test: once in make test (CI's time); MATIH_TEST_RACE_REPEAT=20 hunts
# for a rare interleaving
REPEAT = int(os.environ.get("MATIH_TEST_RACE_REPEAT", "1"))

# (outcome, test on a rollback task result); the first that matches names the outcome.
ROLLBACK_OUTCOMES = (
    ("locked", lambda r: r.get("failed") and r.get("error_kind") == "locked" and "lease" in r["msg"]),
    ("rolled_back", lambda r: not r.get("failed") and r["changed"] and r["status"] == "deployed"),
    ("no_op", lambda r: not r.get("failed") and not r["changed"]),
    ("refused_pending", lambda r: r.get("failed") and "another Helm operation may still be running" in r["msg"]),
    ("lost_create_race", lambda r: r.get("failed") and "release: already exists" in r["msg"]),
    ("verified_concurrent", lambda r: r.get("failed") and "another Helm operation ran at the same time" in r["msg"]),
)
UPGRADE_OUTCOMES = (
    ("upgraded", lambda p: p.returncode == 0),
    ("refused_pending", lambda p: "another operation (install/upgrade/rollback) is in progress" in p.stderr),
    ("lost_create_race", lambda p: "release: already exists" in p.stderr),
)


def log(line):
    """Outcomes of each race, for the record: appended to $MATIH_RACE_LOG when set (also printed)."""
    print(line)
    if os.environ.get("MATIH_RACE_LOG"):
        with open(os.environ["MATIH_RACE_LOG"], "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def classify(outcomes, result, describe):
    for outcome, matches in outcomes:
        if matches(result):
            return outcome
    raise AssertionError("unexpected outcome: %s" % describe(result))


def rollback_outcome(play):
    return classify(ROLLBACK_OUTCOMES, play.result("rollback"), lambda r: json.dumps(r)[:4000])


def settle(tmp_path, label, helm, cluster, name, namespace):
    """The release must be deployed, after at most one release_recovery run; returns whether one ran."""
    if scenarios.statuses(helm, cluster.kubeconfig, name, namespace)[-1] == "deployed":
        return False
    # Every racer has exited, so a pending revision is known to be abandoned.
    tasks = recovery_tasks(name, namespace, helm, cluster.kubeconfig, release_recovery_unlock_pending=True)
    play = Play(tmp_path, label, helm, cluster.kubeconfig, tasks).run()
    assert play.result("recovery")["outcome"] == "recovered", play.stdout[-6000:]
    assert scenarios.statuses(helm, cluster.kubeconfig, name, namespace)[-1] == "deployed"
    return True


def assert_at_most_one_rollback_revision_or_reported(after, before, outcomes):
    created = [n for n in sorted(after) if n not in before and after[n].status != "failed"]
    rollbacks = [outcome for outcome in outcomes if outcome == "rolled_back"]
    if len(created) > 1 or len(rollbacks) > 1:
        # Both wrote a revision, one after the other: then at least one of them must have said so.
        assert "verified_concurrent" in outcomes, "revisions %s were created, tasks reported %s" % (created, outcomes)


@pytest.mark.parametrize("target", ["last_successful", 2])
def test_two_rollbacks_at_the_same_moment(target, helm_binary, cluster, namespace, tmp_path):
    helm = helm_binary.path
    seen = []
    for attempt in range(REPEAT):
        name = "race-%d" % attempt
        barrier = str(tmp_path / ("barrier-%d" % attempt))
        plays = [Play(tmp_path / name, label, helm, cluster.kubeconfig, [rollback_task(name, namespace, target)], barrier=barrier).start()
                 for label in ("first", "second")]
        failed_release(helm, cluster.kubeconfig, name, namespace)  # while the plays start up
        before = history_digest.snapshot(helm, cluster.kubeconfig, name, namespace)
        release_barrier(barrier, ["first", "second"])
        outcomes = sorted(rollback_outcome(play.wait()) for play in plays)
        # The release's lease lets one of our two actors in: the other is refused before it reads
        # anything, or (when it came second) finds the release already rolled back.
        assert outcomes in (["locked", "rolled_back"], ["no_op", "rolled_back"]), outcomes
        recovered = settle(tmp_path / name, "settle", helm, cluster, name, namespace)
        after = history_digest.snapshot(helm, cluster.kubeconfig, name, namespace)
        history_digest.assert_nothing_lost(before, after)
        assert_at_most_one_rollback_revision_or_reported(after, before, outcomes)
        seen.append((outcomes, recovered, [(n, after[n].status) for n in sorted(after) if n not in before]))
    log("helm%d two rollbacks to %s: %s" % (helm_binary.major, target, seen))


ORDERINGS = {
    # ordering: (needs a slow-request fault, outcomes allowed for (rollback, upgrade))
    "together": (False, None),
    "upgrade_first": (True, {("refused_pending", "upgraded"), ("no_op", "upgraded")}),
    "rollback_first": (True, {("rolled_back", "refused_pending")}),
}
# How long the first writer's Deployment PATCH is held: the other side must start meanwhile
# (the rollback task needs a few seconds to reach Helm on a loaded machine).
SLOW_SECONDS = {"upgrade_first": 6, "rollback_first": 3}


def start_upgrade(helm, kubeconfig, name, namespace):
    env = dict(os.environ, KUBECONFIG=kubeconfig, HELM_NO_PLUGINS="1")
    argv = [helm, "upgrade", name, scenarios.chart("1.2.0"), "-n", namespace, "--set-string", "config.revision=upgrade",
            "--wait", "--timeout", "60s"]
    # pylint: disable-next=consider-using-with  # waited for by the caller
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("ordering", sorted(ORDERINGS))
def test_upgrade_racing_a_rollback(ordering, helm_binary, faulty_cluster, namespace, tmp_path):
    """A real ``helm upgrade`` (to a good chart) against a rollback task to last_successful.

    ``together`` starts both at the same moment (also on a real cluster).  A fault injector's
    slow-request fault holds the first writer's Deployment PATCH for a few seconds, so the other
    one surely starts while the first is pending: ``upgrade_first`` (the module must refuse
    the pending-upgrade) and ``rollback_first`` (Helm's upgrade must refuse the
    pending-rollback).
    """
    helm, cluster = helm_binary.path, faulty_cluster
    needs_slow_api, allowed = ORDERINGS[ordering]
    seen = []
    for attempt in range(REPEAT if ordering == "together" else 1):
        name = "race-%d" % attempt
        barrier = str(tmp_path / ("barrier-%d" % attempt))
        play = Play(tmp_path / name, "rollback", helm, cluster.kubeconfig, [rollback_task(name, namespace)], barrier=barrier).start()
        failed_release(helm, cluster.kubeconfig, name, namespace)
        before = history_digest.snapshot(helm, cluster.kubeconfig, name, namespace)
        if needs_slow_api:
            # The rollback task's preflight (a dry-run PATCH) comes before Helm's own: both are held.
            cluster.inject_fault(path_regex="/namespaces/%s/deployments/%s$" % (namespace, name), method="PATCH",
                                 count=2 if ordering == "rollback_first" else 1, delay=SLOW_SECONDS[ordering])
        try:
            if ordering == "upgrade_first":
                upgrade = start_upgrade(helm, cluster.kubeconfig, name, namespace)
                wait_for_status(helm, cluster.kubeconfig, name, namespace, "pending-upgrade", process=upgrade)
                release_barrier(barrier, ["rollback"])
            elif ordering == "rollback_first":
                release_barrier(barrier, ["rollback"])
                wait_for_status(helm, cluster.kubeconfig, name, namespace, "pending-rollback", process=play.process)
                upgrade = start_upgrade(helm, cluster.kubeconfig, name, namespace)
            else:
                release_barrier(barrier, ["rollback"])
                upgrade = start_upgrade(helm, cluster.kubeconfig, name, namespace)
            stdout, stderr = upgrade.communicate(timeout=120)
            upgrade = subprocess.CompletedProcess(upgrade.args, upgrade.returncode, stdout, stderr)
            play.wait()
        finally:
            if needs_slow_api:
                cluster.clear_faults()
        outcomes = (rollback_outcome(play), classify(UPGRADE_OUTCOMES, upgrade, lambda p: p.stderr))
        if allowed is not None:
            assert outcomes in allowed, "%s: %s\n%s" % (ordering, outcomes, json.dumps(play.result("rollback"))[:3000])
        recovered = settle(tmp_path / name, "settle", helm, cluster, name, namespace)
        after = history_digest.snapshot(helm, cluster.kubeconfig, name, namespace)
        history_digest.assert_nothing_lost(before, after)
        seen.append("rollback %s, upgrade %s, recovery run: %s, new revisions %s" % (
            outcomes[0], outcomes[1], recovered, [(n, after[n].status, after[n].chart) for n in sorted(after) if n not in before]))
    log("helm%d upgrade racing a rollback (%s): %s" % (helm_binary.major, ordering, "; ".join(seen)))


def test_a_taken_revision_number_stops_helm(helm_binary, cluster, namespace, tmp_path):
    """The API's 409 AlreadyExists on the next revision's Secret is what stops a second writer:
    Helm fails with "release: already exists" and writes nothing; the module reports it."""
    helm = helm_binary.path
    name = "taken"
    failed_release(helm, cluster.kubeconfig, name, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, name, namespace)
    # A Secret with the name of revision 4 but without Helm's labels: Helm does not list it as a
    # revision, but its create of revision 4 collides with it.
    secret = "sh.helm.release.v1.%s.v4" % name
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret}}
    assert cluster.api("POST", "/api/v1/namespaces/%s/secrets" % namespace, body)["metadata"]["name"] == secret
    reply = cluster.api("POST", "/api/v1/namespaces/%s/secrets" % namespace, body, expect=409)
    assert (reply["reason"], reply["details"]["name"]) == ("AlreadyExists", secret), reply

    rollback = scenarios.rollback(helm, cluster.kubeconfig, name, namespace, 2, check=False)
    assert "release: already exists" in rollback.stderr, rollback.stderr
    assert scenarios.statuses(helm, cluster.kubeconfig, name, namespace) == ["superseded", "deployed", "failed"]

    play = Play(tmp_path, "rollback", helm, cluster.kubeconfig, [rollback_task(name, namespace)]).run()
    result = play.result("rollback")
    assert result["failed"] and "release: already exists" in result["msg"], result
    assert "Helm created no new revision" in result["msg"] and result["changed"] is False, result
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, name, namespace))

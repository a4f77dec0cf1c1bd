"""Event-driven recovery end to end: the real ``ansible-rulebook`` runs the rulebook matih.helm.remediate, whose
source matih.helm.helm_releases watches the real control plane, and releases are recovered with no schedule and
no person. Each test watches its own namespace, so the worker's other tests never set a rule off.

1. One rulebook run (per Helm major: the labels and records each Helm writes, and a pending revision each Helm
   left when it was killed):
   - a release left ``pending-upgrade`` by a ``helm upgrade --wait`` killed mid-way before the rulebook started
     is emitted at start (initial), becomes stale after ``helm_stale_pending_after`` and is freed and deployed;
   - the API server is stopped and started again while the rulebook runs: the source retries, logged, and
     watches again; an upgrade failed after that (admission refused it) is deployed again by a rollback to the
     last good revision.
2. A burst (more failures at once than ``helm_burst_limit``) recovers none of them and says so once.
Outcomes come from the releases' histories and the rulebook's output: a failing playbook does not change
ansible-rulebook's exit code.
"""

import concurrent.futures
import re
import time

import rulebook_runner
import scenarios
from fixtures import cluster_kind

import pytest

RECOVERY_PLAY = r"^PLAY \[Recover the Helm release an event names\]"
WATCHING = r"Watching the Helm releases of default in namespaces "


def remediate(tmp_path, kubeconfig, helm, namespace, **variables):
    """The rulebook on the cluster of ``kubeconfig`` (as its KUBECONFIG), watching ``namespace`` only."""
    if cluster_kind() != "controlplane":
        pytest.skip("needs the real control plane")
    rulebook = rulebook_runner.Rulebook(
        "matih.helm.remediate", tmp_path / "rulebook", env={"KUBECONFIG": kubeconfig},
        variables=dict({"helm_namespaces": [namespace], "helm_connection": {"binary_path": helm, "kubeconfig": kubeconfig},
                        "helm_recovery_timeout": "60s"}, **variables))
    rulebook.start()
    try:
        rulebook.wait_for(WATCHING + namespace, timeout=60)
    except BaseException:
        rulebook.stop()  # never leave an ansible-rulebook (and its JVM) behind
        raise
    return rulebook


def wait_for_history(helm, kubeconfig, name, namespace, wanted, timeout=120):
    """The release's history once ``wanted(history)`` holds; AssertionError with the last one after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        history = scenarios.history(helm, kubeconfig, name, namespace)
        if wanted(history) or time.monotonic() > deadline:
            return history
        time.sleep(0.5)


def latest(history):
    return (history[-1]["revision"], history[-1]["status"], history[-1]["chart"])


def test_failed_and_stale_releases_are_recovered_across_an_outage(helm_binary, own_cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, own_cluster.kubeconfig
    stuck, failing = "stuck", "failing"
    for name in (stuck, failing):
        scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    scenarios.pending_release(helm, kubeconfig, stuck, namespace, "upgrade")

    # seconds as a bare number: the source takes it so, the recovery gets it as a Go duration
    rulebook = remediate(tmp_path, kubeconfig, helm, namespace, helm_stale_pending_after=6)
    try:
        # the pending release, there before the start: emitted at once (initial), recovered once stale
        history = wait_for_history(helm, kubeconfig, stuck, namespace, lambda h: h[-1]["status"] == "deployed")
        assert latest(history) == (3, "deployed", "demo-1.0.0") and "Rollback to 1" in history[-1]["description"], history
        rulebook.wait_for(r"Event: default/%s/%s is pending-upgrade at revision 2 for \d+ s" % (namespace, stuck))

        # an API server outage while the rulebook runs: the source says so and watches again afterwards
        since = rulebook.mark()
        own_cluster.stop_apiserver()
        rulebook.wait_for(r"retrying in", since, timeout=60)
        own_cluster.start_apiserver()

        since = rulebook.mark()
        # refused by admission at once: never pending long enough to look stale (helm_stale_pending_after is short)
        scenarios.failed_upgrade(helm, kubeconfig, failing, namespace, "rejected_config", version="1.1.0")
        history = wait_for_history(helm, kubeconfig, failing, namespace, lambda h: h[-1]["status"] == "deployed" and len(h) > 2)
        assert [(entry["revision"], entry["status"], entry["chart"]) for entry in history] == [
            (1, "superseded", "demo-1.0.0"), (2, "failed", "demo-1.1.0"), (3, "deployed", "demo-1.0.0")], history
        assert "Rollback to 1" in history[-1]["description"], history
        rulebook.wait_for(r"Event: default/%s/%s is failed at revision 2" % (namespace, failing), since)
        rulebook.wait_for(r"release_recovery_result", since, timeout=60)
    finally:
        rulebook.stop()
    output = rulebook.output()
    # one recovery per release: no duplicate event ran a second playbook
    assert len(re.findall(RECOVERY_PLAY, output, re.M)) == 2, output[-6000:]
    assert "Traceback" not in output, output[-6000:]


def test_a_burst_recovers_nothing_and_alerts_once(helm_binary, cluster, namespace, tmp_path):
    helm, kubeconfig = helm_binary.path, cluster.kubeconfig
    names = ["tenant-%d" % index for index in range(3)]
    for name in names:
        scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    rulebook = remediate(tmp_path, kubeconfig, helm, namespace, helm_burst_limit=2, helm_burst_hold="8s")
    try:
        # a bad chart pushed to every tenant at once: admission refuses each upgrade within a second
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda name: scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "rejected_config", "1.1.0"), names))
        alert = rulebook.wait_for(r"BURST: 3 failures within 300 s \(more than 2\).*", timeout=60)
        time.sleep(5)  # room for a recovery that should not come
        for name in names:
            assert latest(scenarios.history(helm, kubeconfig, name, namespace))[:2] == (2, "failed"), name
    finally:
        rulebook.stop()
    output = rulebook.output()
    assert not re.search(RECOVERY_PLAY, output, re.M), output[-6000:]
    assert len(re.findall(r"BURST: ", output)) == 1, output[-6000:]
    assert all("default/%s/%s" % (namespace, name) in alert[0].group(0) for name in names), alert[0].group(0)

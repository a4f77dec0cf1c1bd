"""Real Helm 3 and Helm 4 against the test bed: every release state the collection must handle.

The same tests run on the emulator (the testbed gate) and on the real control plane (the cluster
gate, MATIH_TEST_CLUSTER=controlplane): every scenario must mean the same on both.

Each test runs once per Helm major (the ``helm_binary`` fixture) in its own namespace, and
asserts on what ``helm history -o json`` reports, as the collection's modules will.
"""

import json
import time

import pytest

import scenarios
from kubeemu.discovery import BY_PATH
from scenarios import history, statuses

NOT_FOUND = "release: not found"
IN_PROGRESS = "another operation (install/upgrade/rollback) is in progress"
APP_RESOURCES = [BY_PATH[key] for key in (
    ("", "v1", "secrets"), ("", "v1", "configmaps"), ("", "v1", "services"), ("", "v1", "pods"),
    ("apps", "v1", "deployments"), ("apps", "v1", "replicasets"))]


def test_install_and_upgrades_build_a_history(helm_binary, cluster, namespace, release_name):
    entries = scenarios.release_with_good_revisions(helm_binary, cluster.kubeconfig, release_name, namespace, 3)

    assert [e["revision"] for e in entries] == [1, 2, 3]
    assert [e["status"] for e in entries] == ["superseded", "superseded", "deployed"]
    assert [e["chart"] for e in entries] == ["demo-1.0.0", "demo-1.1.0", "demo-1.2.0"]
    assert [e["app_version"] for e in entries] == ["1.0.0", "1.1.0", "1.2.0"]
    assert [e["description"] for e in entries] == ["Install complete", "Upgrade complete", "Upgrade complete"]


@pytest.mark.parametrize("fault", scenarios.FAULTS)
def test_failed_upgrade_leaves_a_failed_revision(helm_binary, cluster, namespace, release_name, fault):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace)

    result = scenarios.failed_upgrade(helm_binary, cluster.kubeconfig, release_name, namespace, fault)

    assert result.returncode != 0
    entries = history(helm_binary, cluster.kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["deployed", "failed"]
    assert entries[1]["description"].startswith('Upgrade "%s" failed' % release_name)
    if fault == "rejected_config" and cluster.kind != "external":
        # the emulator's admission, or the control plane's ValidatingAdmissionPolicy
        assert 'admission policy (a data key or value "reject")' in result.stderr, result.stderr


@pytest.mark.parametrize("kind", ["upgrade", "install"])
def test_killed_operation_leaves_a_pending_release(helm_binary, cluster, namespace, release_name, kind):
    if kind == "upgrade":
        scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace)

    entries = scenarios.pending_release(helm_binary, cluster.kubeconfig, release_name, namespace, kind)

    assert entries[-1]["status"] == "pending-" + kind
    blocked = scenarios.upgrade(helm_binary, cluster.kubeconfig, release_name, namespace, check=False)
    assert IN_PROGRESS in blocked.stderr


def test_rollback_is_the_way_out_of_pending_upgrade(helm_binary, cluster, namespace, release_name):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace)
    scenarios.pending_release(helm_binary, cluster.kubeconfig, release_name, namespace, "upgrade")

    scenarios.rollback(helm_binary, cluster.kubeconfig, release_name, namespace, 1, wait=True)

    entries = history(helm_binary, cluster.kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "pending-upgrade", "deployed"]
    assert entries[-1]["description"] == "Rollback to 1"


def test_list_shows_pending_releases(helm_binary, cluster, namespace, release_name):
    scenarios.pending_release(helm_binary, cluster.kubeconfig, release_name, namespace, "install")

    listed = scenarios.list_releases(helm_binary, cluster.kubeconfig, namespace)
    assert [(r["name"], r["status"]) for r in listed] == [(release_name, "pending-install")]
    if scenarios.helm_major(helm_binary) == 3:
        assert scenarios.list_releases(helm_binary, cluster.kubeconfig, namespace, include_pending=False) == []


def test_rollback_without_wait(helm_binary, cluster, namespace, release_name):
    scenarios.release_with_good_revisions(helm_binary, cluster.kubeconfig, release_name, namespace, 3)

    started = time.monotonic()
    scenarios.rollback(helm_binary, cluster.kubeconfig, release_name, namespace, 1)
    elapsed = time.monotonic() - started

    entries = history(helm_binary, cluster.kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "superseded", "superseded", "deployed"]
    assert entries[-1]["description"] == "Rollback to 1"
    assert entries[-1]["chart"] == "demo-1.0.0"
    if scenarios.helm_major(helm_binary) == 4:
        assert entries[-1]["rollback_revision"] == 1
    if cluster.emulator is not None:
        assert elapsed < 5, "a rollback on the emulator should take well under a second"


def test_rollback_with_wait_recovers_from_a_failed_upgrade(helm_binary, cluster, namespace, release_name):
    scenarios.release_with_good_revisions(helm_binary, cluster.kubeconfig, release_name, namespace, 2)
    scenarios.failed_upgrade(helm_binary, cluster.kubeconfig, release_name, namespace, "broken_image")

    scenarios.rollback(helm_binary, cluster.kubeconfig, release_name, namespace, 2, wait=True)

    entries = history(helm_binary, cluster.kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "superseded", "failed", "deployed"]
    assert entries[-1]["description"] == "Rollback to 2"
    assert entries[-1]["chart"] == "demo-1.1.0"


def test_rollback_without_revision_targets_the_previous_one(helm_binary, cluster, namespace, release_name):
    scenarios.release_with_good_revisions(helm_binary, cluster.kubeconfig, release_name, namespace, 2)

    scenarios.rollback(helm_binary, cluster.kubeconfig, release_name, namespace)

    assert history(helm_binary, cluster.kubeconfig, release_name, namespace)[-1]["description"] == "Rollback to 1"


def test_failed_rollback(helm_binary, cluster, namespace, release_name):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace)

    target = scenarios.failed_rollback(helm_binary, cluster.kubeconfig, release_name, namespace)

    entries = history(helm_binary, cluster.kubeconfig, release_name, namespace)
    assert target == 2
    assert [e["status"] for e in entries] == ["deployed", "failed", "failed"]
    assert entries[-1]["chart"] == "demo-1.0.0"
    # A failed rollback is not described as "Rollback to N" but as a failed release.
    assert entries[-1]["description"].startswith('Release "%s" failed' % release_name)


def test_forced_upgrade_and_rollback(helm_binary, cluster, namespace, release_name):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace)
    force = scenarios.force_flags(helm_binary)

    scenarios.upgrade(helm_binary, cluster.kubeconfig, release_name, namespace, "1.1.0", {"config.forced": "yes"}, wait=True, extra=force)
    scenarios.rollback(helm_binary, cluster.kubeconfig, release_name, namespace, 1, wait=True, extra=force)

    entries = history(helm_binary, cluster.kubeconfig, release_name, namespace)
    assert [(e["status"], e["chart"]) for e in entries] == [("superseded", "demo-1.0.0"), ("superseded", "demo-1.1.0"), ("deployed", "demo-1.0.0")]


def test_client_side_apply_on_helm4(helm_binary, cluster, namespace, release_name):
    if scenarios.helm_major(helm_binary) != 4:
        pytest.skip("Helm 3 always applies client-side")
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace, extra=["--server-side=true"])

    scenarios.upgrade(helm_binary, cluster.kubeconfig, release_name, namespace, "1.1.0", wait=True, extra=["--server-side=false"])

    assert statuses(helm_binary, cluster.kubeconfig, release_name, namespace) == ["superseded", "deployed"]


def test_rollback_errors(helm_binary, cluster, namespace, release_name):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace)

    missing_revision = scenarios.rollback(helm_binary, cluster.kubeconfig, release_name, namespace, 99, check=False)
    missing_release = scenarios.rollback(helm_binary, cluster.kubeconfig, release_name + "-x", namespace, 1, check=False)

    assert "release has no 99 version" in missing_revision.stderr
    assert NOT_FOUND in missing_release.stderr


@pytest.mark.parametrize("fault", scenarios.FAULTS)
def test_atomic_failed_install_removes_the_release(helm_binary, cluster, namespace, release_name, fault):
    result = scenarios.failed_install(helm_binary, cluster.kubeconfig, release_name, namespace, fault, extra=[scenarios.atomic_flag(helm_binary)])

    assert result.returncode != 0
    gone = scenarios.run_helm(helm_binary, cluster.kubeconfig, ["history", release_name, "-n", namespace], check=False)
    assert NOT_FOUND in gone.stderr


@pytest.mark.parametrize("fault", scenarios.FAULTS)
def test_atomic_failed_upgrade_rolls_back(helm_binary, cluster, namespace, release_name, fault):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace)

    result = scenarios.failed_upgrade(helm_binary, cluster.kubeconfig, release_name, namespace, fault, extra=[scenarios.atomic_flag(helm_binary)])

    assert result.returncode != 0
    entries = history(helm_binary, cluster.kubeconfig, release_name, namespace)
    assert [e["status"] for e in entries] == ["superseded", "failed", "deployed"]
    assert entries[-1]["description"] == "Rollback to 1"


def test_get_values_metadata_and_manifest(helm_binary, cluster, namespace, release_name):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace, "1.3.0", {"config.color": "blue", "replicas": 2})
    kubeconfig, run = cluster.kubeconfig, scenarios.run_helm

    values = json.loads(run(helm_binary, kubeconfig, ["get", "values", release_name, "-n", namespace, "-o", "json"]).stdout)
    metadata = json.loads(run(helm_binary, kubeconfig, ["get", "metadata", release_name, "-n", namespace, "-o", "json"]).stdout)
    manifest = run(helm_binary, kubeconfig, ["get", "manifest", release_name, "-n", namespace, "--revision", "1"]).stdout

    assert values == {"config": {"color": "blue"}, "replicas": 2}
    assert (metadata["chart"], metadata["version"], metadata["appVersion"]) == ("demo", "1.3.0", "1.3.0")
    assert (metadata["revision"], metadata["status"], metadata["namespace"]) == (1, "deployed", namespace)
    assert "kind: Deployment" in manifest and "registry.local/demo:1.0" in manifest and "color: \"blue\"" in manifest


def test_uninstall_removes_release_and_objects(helm_binary, cluster, namespace, release_name):
    scenarios.install(helm_binary, cluster.kubeconfig, release_name, namespace, wait=True)

    scenarios.uninstall(helm_binary, cluster.kubeconfig, release_name, namespace, wait=True)

    gone = scenarios.run_helm(helm_binary, cluster.kubeconfig, ["history", release_name, "-n", namespace], check=False)
    assert NOT_FOUND in gone.stderr
    if cluster.emulator is not None:
        # The Deployment's ReplicaSets and Pods go with it (cascading deletion by owner UID).
        for resource in APP_RESOURCES:
            assert cluster.emulator.store.list(resource, namespace)[0] == [], resource.plural
    elif cluster.plane is not None:
        # On a real cluster the garbage collector removes them shortly after Helm returns.
        # (kube-root-ca.crt, which the controller manager puts into every namespace, stays.)
        deadline = time.monotonic() + 60

        def left(resource):
            prefix = "/api/v1" if not resource.group else "/apis/%s/%s" % (resource.group, resource.version)
            items = cluster.api("GET", "%s/namespaces/%s/%s" % (prefix, namespace, resource.plural))["items"]
            return [item["metadata"]["name"] for item in items if release_name in item["metadata"]["name"]]

        for resource in APP_RESOURCES:
            while left(resource) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert left(resource) == [], resource.plural


def test_releases_across_namespaces(helm_binary, cluster, namespace, release_name):
    namespaces = [namespace, namespace + "-b"]
    try:
        scenarios.releases_across_namespaces(helm_binary, cluster.kubeconfig, release_name, namespaces, revisions=2)

        listed = scenarios.list_releases(helm_binary, cluster.kubeconfig)
        mine = sorted((r["namespace"], r["revision"], r["status"]) for r in listed if r["name"] == release_name)
        assert mine == [(namespaces[0], "2", "deployed"), (namespaces[1], "2", "deployed")]
        assert statuses(helm_binary, cluster.kubeconfig, release_name, namespaces[1]) == ["superseded", "deployed"]
    finally:
        cluster.delete_namespace(namespaces[1])

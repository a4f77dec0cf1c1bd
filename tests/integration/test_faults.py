"""Fault injection around helm_release_rollback, on Helm 3 and Helm 4: the API server goes away
before or during the rollback, answers 500/429 for a while, rejects the target's objects (422, 403),
``--wait`` times out, and Helm is SIGKILLed mid-rollback.

For each fault the module must fail cleanly (a message naming what happened, no traceback), a
rerun of the ``matih.helm.release_recovery`` role must bring the release back to ``deployed``,
and no stored revision may be lost or changed (history_digest.py).  On the real control plane
the API server outages stop the real kube-apiserver process, the 500/429 answers come from the
fault proxy in front of it, and the rejection is real admission (a ValidatingAdmissionPolicy).
"""

import datetime
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

import history_digest
import scenarios
from recovery_plays import Play, api_task, clear_faults_task, failed_release, recovery_tasks, rollback_task, wait_for_status

RELEASE = "shop"
UNREACHABLE = "could not be reached"


def unique_namespace(cluster, prefix):
    """A namespace of the test's own: own_cluster on the control plane is shared with other tests."""
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    cluster.create_namespace(name)
    return name


def wait_until(probe, what, seconds=30):
    deadline = time.monotonic() + seconds
    while not probe():
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.2)


def assert_recovered(play, register="recovery", strategy="rollback_last_successful"):
    result = play.result(register)
    assert result["outcome"] == "recovered", play.stdout[-6000:]
    assert result["after"]["status"] == "deployed", result
    assert result["action"] == strategy, json.dumps(result.get("actions"), indent=1)[:6000]
    return result


def recover(tmp_path, helm, cluster, namespace, label="recover", **variables):
    play = Play(tmp_path, label, helm, cluster.kubeconfig, recovery_tasks(RELEASE, namespace, helm, cluster.kubeconfig, **variables)).run()
    return assert_recovered(play)


def lease_holder(cluster, namespace, name=RELEASE):
    lease = cluster.api("GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/matih-helm.%s" % (namespace, name), expect=404)
    return (lease.get("spec") or {}).get("holderIdentity") if lease.get("kind") == "Lease" else None


def free_lease_of_a_gone_actor(tmp_path, helm, cluster, namespace):
    """A recovery meets the lease of the module that is gone (deferred, locked); the operator frees it.

    The lease is renewed to now first, as its holder would have done had it lived: how long the outage
    and the restart took on a loaded machine must not decide whether it has expired (60 s)."""
    patch_lease(cluster, namespace, {"renewTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    deferred = Play(tmp_path, "deferred", helm, cluster.kubeconfig, recovery_tasks(
        RELEASE, namespace, helm, cluster.kubeconfig, release_recovery_unlock_pending=True)).run().result("recovery")
    assert (deferred["outcome"], deferred["error_kind"]) == ("deferred", "locked"), deferred
    free_lease(cluster, namespace)


def free_lease(cluster, namespace, name=RELEASE):
    """What the lease's message tells an operator to do once its holder is known to be gone."""
    patch_lease(cluster, namespace, {"holderIdentity": None}, name)


def patch_lease(cluster, namespace, spec, name=RELEASE):
    cluster.api("PATCH", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/matih-helm.%s" % (namespace, name),
                {"spec": spec}, content_type="application/merge-patch+json")


def assert_fails_with(result, *fragments):
    assert result.get("failed"), result
    for fragment in fragments:
        assert fragment in result["msg"], "%r not in %r" % (fragment, result["msg"])


# --- the API server goes away ---------------------------------------------------------------

def test_api_server_down_before_the_rollback(helm_binary, own_cluster, tmp_path):
    helm, cluster, namespace = helm_binary.path, own_cluster, unique_namespace(own_cluster, "faults")
    failed_release(helm, cluster.kubeconfig, RELEASE, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace)

    cluster.stop_apiserver()
    play = Play(tmp_path, "rollback", helm, cluster.kubeconfig, [rollback_task(RELEASE, namespace)]).run()
    result = play.result("rollback")
    # the first request is the module's own, for the release's lease: nothing was read or written
    assert_fails_with(result, "refused the connection", "Connection refused", "leases/matih-helm.%s" % RELEASE)
    assert result["error_kind"] == "cluster_unreachable" and result["changed"] is False

    cluster.start_apiserver()  # same port, same objects: the release is still there
    assert scenarios.statuses(helm, cluster.kubeconfig, RELEASE, namespace) == ["superseded", "deployed", "failed"]
    recover(tmp_path, helm, cluster, namespace)
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace))


@pytest.mark.parametrize("outage", ["until_helm_gives_up", "one_second"])
def test_api_server_down_while_helm_waits(outage, helm_binary, own_cluster, tmp_path):
    """The rollback (to a revision that never gets ready, so Helm waits) loses the API server.

    Down until Helm gives up: Helm cannot record the outcome, so the revision stays
    pending-rollback and the module cannot even re-read the history.  Back after a second:
    Helm's waiter reconnects, times out as usual and records a failed revision.
    """
    helm, cluster, namespace = helm_binary.path, own_cluster, unique_namespace(own_cluster, "faults")
    failed_release(helm, cluster.kubeconfig, RELEASE, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace)

    task = rollback_task(RELEASE, namespace, 3, allow_failed_target=True, timeout="3s")
    play = Play(tmp_path, "rollback", helm, cluster.kubeconfig, [task]).start()
    wait_for_status(helm, cluster.kubeconfig, RELEASE, namespace, "pending-rollback", process=play.process)
    if outage == "until_helm_gives_up":
        cluster.stop_apiserver()
        play.wait()
        cluster.start_apiserver()
        result = play.result("rollback")
        assert_fails_with(result, "Rolling back %s from revision 3 to revision 3 failed" % RELEASE,
                          "the history could not be read afterwards", UNREACHABLE)
        assert scenarios.statuses(helm, cluster.kubeconfig, RELEASE, namespace)[-1] == "pending-rollback"
        # The module could not release the lease either (it tries for 10 s): until it expires, no actor of
        # ours frees the pending revision. The operator, who knows the module is gone, frees it.
        assert lease_holder(cluster, namespace), "the module released its lease through the outage"
        free_lease_of_a_gone_actor(tmp_path, helm, cluster, namespace)
        recover(tmp_path, helm, cluster, namespace, release_recovery_unlock_pending=True)
    else:
        # Helm's waiter usually reconnects and times out as usual (revision 4 failed); when it
        # trips over the outage itself, Helm fails at once and cannot record it (pending-rollback).
        cluster.restart_apiserver(down_seconds=1)
        play.wait()
        result = play.result("rollback")
        assert_fails_with(result, "Rolling back %s from revision 3 to revision 3 failed" % RELEASE)
        status = scenarios.statuses(helm, cluster.kubeconfig, RELEASE, namespace)[-1]
        if status == "failed":
            assert_fails_with(result, "timed out", "Helm created revision 4 with status failed")
            assert (result["revision"], result["status"], result["changed"]) == (4, "failed", True)
        else:
            assert status == "pending-rollback", result
        # The module releases its lease through a short outage, unless the API server took longer than its
        # 10 s of tries to come back; then the release stays deferred until the operator frees the lease.
        if lease_holder(cluster, namespace):
            free_lease_of_a_gone_actor(tmp_path, helm, cluster, namespace)
        # Helm has exited either way, so freeing a pending revision is safe.
        recover(tmp_path, helm, cluster, namespace, release_recovery_unlock_pending=True)
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace))


# --- the API answers errors for a while ------------------------------------------------------

API_ERRORS = {
    # id: (fault, expected message fragments, revision the failed rollback leaves, or None)
    "500_on_creating_the_revision": (dict(status=500, path="secrets$", method="POST", count=1),
                                     ("helm rollback exited 1", "status 500", "Helm created no new revision"), None),
    "500_on_reading_the_history": (dict(status=500, path="secrets", method="GET", seconds=60),
                                   ("helm history exited 1", "status 500"), None),
    # the preflight's dry runs meet the throttling first: the rollback stops before Helm writes anything
    "429_on_deployments": (dict(status=429, path="deployments", method="PATCH", seconds=60, retry_after=0),
                           ("throttled PATCH", "status 429", "retry later"), None),
}


@pytest.mark.parametrize("case", sorted(API_ERRORS))
def test_api_errors_for_a_while(case, helm_binary, faulty_cluster, namespace, tmp_path):
    cluster = faulty_cluster
    helm = helm_binary.path
    fault, fragments, revision = API_ERRORS[case]
    failed_release(helm, cluster.kubeconfig, RELEASE, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace)

    fault = dict(fault)
    cluster.inject_fault(fault.pop("status"), path_regex="/namespaces/%s/%s" % (namespace, fault.pop("path")), **fault)
    # The outage lasts until the play clears it, between the rollback and the recovery.
    tasks = [rollback_task(RELEASE, namespace), clear_faults_task(cluster)] + recovery_tasks(RELEASE, namespace, helm, cluster.kubeconfig)
    try:
        play = Play(tmp_path, "rollback", helm, cluster.kubeconfig, tasks).run()
    finally:
        cluster.clear_faults()
    result = play.result("rollback")
    assert_fails_with(result, *fragments)
    if revision:
        assert (result["revision"], result["status"]) == (revision, "failed")
    assert_recovered(play)
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace))


def test_throttling_client_go_absorbs(helm_binary, faulty_cluster, namespace, tmp_path):
    """Two 429 answers with Retry-After on the Deployment's PATCH: the preflight's dry run meets them
    first, and the module's client waits and retries as client-go would; the rollback just works."""
    cluster = faulty_cluster
    helm = helm_binary.path
    failed_release(helm, cluster.kubeconfig, RELEASE, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace)
    cluster.inject_fault(429, path_regex="/namespaces/%s/deployments" % namespace, method="PATCH", count=2, retry_after=1)
    play = Play(tmp_path, "rollback", helm, cluster.kubeconfig, [rollback_task(RELEASE, namespace)]).run()
    cluster.clear_faults()
    result = play.result("rollback")
    assert not result.get("failed") and result["changed"], result
    assert (result["revision"], result["status"], result["target_revision"]) == (4, "deployed", 2)
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace))


# How Kubernetes words a refused object: a ValidatingAdmissionPolicy (422, real admission on the
# control plane) and an admission webhook (403, from the fault injector: a real webhook needs a
# webhook server). Neither is a credentials problem, although both say "forbidden" or come as 403.
POLICY_MESSAGE = "ConfigMap %s-config is frozen by the shop policy" % RELEASE
REJECTIONS = {
    "policy": (422, 'configmaps "%s-config" is forbidden: ValidatingAdmissionPolicy \'shop-freeze\' with binding '
                    '\'shop-freeze\' denied request: %s' % (RELEASE, POLICY_MESSAGE)),
    "webhook": (403, 'admission webhook "policy.example.com" denied the request: ConfigMap %s-config needs an owner '
                     'label' % RELEASE),
}
ADMISSION = "/apis/admissionregistration.k8s.io/v1/"


def freeze_policy(namespace):
    """A policy that refuses every write of the release's ConfigMap in ``namespace``."""
    rule = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"],
            "resourceNames": ["%s-config" % RELEASE]}
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "shop-freeze"},
              "spec": {"failurePolicy": "Fail", "validations": [{"expression": "false", "message": POLICY_MESSAGE, "reason": "Invalid"}],
                       "matchConstraints": {"resourceRules": [rule], "namespaceSelector": {
                           "matchLabels": {"kubernetes.io/metadata.name": namespace}}}}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": "shop-freeze"},
               "spec": {"policyName": "shop-freeze", "validationActions": ["Deny"]}}
    return policy, binding


def policy_probe(namespace):
    """A dry-run create of the frozen ConfigMap: 422 while the policy is enforced, 409 (it exists) once it is gone."""
    path = "/api/v1/namespaces/%s/configmaps?dryRun=All" % namespace
    return path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "%s-config" % RELEASE}}


@pytest.mark.parametrize("rejection", sorted(REJECTIONS))
def test_target_objects_rejected(rejection, helm_binary, faulty_cluster, namespace, tmp_path):
    """Admission refuses the target's ConfigMap during the rollback, not during the upgrade
    that made the target: the refusal is armed just before the rollback and lifted after it."""
    cluster, helm = faulty_cluster, helm_binary.path
    failed_release(helm, cluster.kubeconfig, RELEASE, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace)
    status, message = REJECTIONS[rejection]
    real_policy = rejection == "policy" and cluster.plane is not None
    if real_policy:
        policy, binding = freeze_policy(namespace)
        cluster.api("POST", ADMISSION + "validatingadmissionpolicies", policy)
        cluster.api("POST", ADMISSION + "validatingadmissionpolicybindings", binding)
        path, probe = policy_probe(namespace)
        wait_until(lambda: cluster.api("POST", path, probe, expect=(409, 422)).get("code") == 422, "the policy to be enforced")
        gone = 409
        lift = [api_task(cluster, "lift the policy", "DELETE", ADMISSION + "validatingadmissionpolicybindings/shop-freeze"),
                api_task(cluster, "lift the policy", "DELETE", ADMISSION + "validatingadmissionpolicies/shop-freeze"),
                api_task(cluster, "wait until it is lifted", "POST", path, probe, status_code=(gone, 422), register="probe",
                         until="probe.status == %d" % gone, retries=50, delay=0.2)]
    else:
        cluster.inject_fault(status, path_regex="/namespaces/%s/configmaps/%s-config$" % (namespace, RELEASE), method="PATCH",
                             count=1, message=message)
        lift = []
    tasks = [rollback_task(RELEASE, namespace)] + lift + recovery_tasks(RELEASE, namespace, helm, cluster.kubeconfig)
    try:
        play = Play(tmp_path, "rollback", helm, cluster.kubeconfig, tasks).run()
    finally:
        if not real_policy:
            cluster.clear_faults()
    result = play.result("rollback")
    # The preflight's dry run meets the refusal before Helm runs: no failed revision is written.
    assert_fails_with(result, "Not rolling back %s to revision 2" % RELEASE, message, "no revision was written")
    assert result["error_kind"] == "rejected" and result["changed"] is False
    assert [(entry["kind"], entry["name"]) for entry in result["preflight"]["refusals"]] == [("ConfigMap", "%s-config" % RELEASE)]
    assert_recovered(play)
    # revision 4 is the recovery's: the refused rollback wrote none
    assert scenarios.statuses(helm, cluster.kubeconfig, RELEASE, namespace) == ["superseded", "superseded", "failed", "deployed"]
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace))


# --- Helm's own failures (also on a real cluster) --------------------------------------------

def test_wait_times_out(helm_binary, cluster, namespace, tmp_path):
    helm = helm_binary.path
    failed_release(helm, cluster.kubeconfig, RELEASE, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace)
    tasks = [rollback_task(RELEASE, namespace, 3, allow_failed_target=True, timeout="3s")]
    tasks += recovery_tasks(RELEASE, namespace, helm, cluster.kubeconfig)
    play = Play(tmp_path, "rollback", helm, cluster.kubeconfig, tasks).run()
    result = play.result("rollback")
    assert_fails_with(result, "timed out", "Helm created revision 4 with status failed")
    assert result["error_kind"] == "timeout" and result["changed"] is True
    assert_recovered(play)
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace))


@pytest.mark.parametrize("killed", ["helm_rollback", "ansible_playbook"])
def test_killed_mid_rollback_leaves_pending_rollback(killed, helm_binary, cluster, namespace, tmp_path):
    """SIGKILL while Helm waits leaves pending-rollback; the module then refuses to run over it,
    the role reports it, and the role with release_recovery_unlock_pending frees the release."""
    helm = helm_binary.path
    failed_release(helm, cluster.kubeconfig, RELEASE, namespace)
    before = history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace)

    if killed == "helm_rollback":
        env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HELM_NO_PLUGINS="1")
        argv = [helm, "rollback", RELEASE, "3", "-n", namespace, "--wait", "--timeout", "5m"]
        with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
            try:
                wait_for_status(helm, cluster.kubeconfig, RELEASE, namespace, "pending-rollback", process=process)
            finally:
                process.send_signal(signal.SIGKILL)
    else:
        task = rollback_task(RELEASE, namespace, 3, allow_failed_target=True, timeout="5m")
        play = Play(tmp_path, "killed", helm, cluster.kubeconfig, [task]).start()
        try:
            wait_for_status(helm, cluster.kubeconfig, RELEASE, namespace, "pending-rollback", process=play.process)
        finally:
            play.kill()
    assert scenarios.statuses(helm, cluster.kubeconfig, RELEASE, namespace) == ["superseded", "deployed", "failed", "pending-rollback"]
    if killed == "ansible_playbook":
        # The killed module still holds the release's lease: no actor of ours touches the release until
        # it expires, or the operator, who knows the holder is gone, frees it.
        assert lease_holder(cluster, namespace)
        free_lease_of_a_gone_actor(tmp_path, helm, cluster, namespace)

    tasks = [rollback_task(RELEASE, namespace)]
    tasks += recovery_tasks(RELEASE, namespace, helm, cluster.kubeconfig, register="left_alone")
    tasks += recovery_tasks(RELEASE, namespace, helm, cluster.kubeconfig, register="recovery", release_recovery_unlock_pending=True)
    play = Play(tmp_path, "after", helm, cluster.kubeconfig, tasks).run()
    assert_fails_with(play.result("rollback"), "latest revision 4 is pending-rollback", "another Helm operation may still be running",
                      "on_pending: rollback")
    left_alone = play.result("left_alone")
    assert (left_alone["outcome"], left_alone["after"]["status"]) == ("failed", "pending-rollback"), left_alone
    assert "release_recovery_unlock_pending=true" in left_alone["reason"], left_alone
    recovered = assert_recovered(play)
    assert recovered["before"] == dict(recovered["before"], revision=4, status="pending-rollback")
    history_digest.assert_nothing_lost(before, history_digest.snapshot(helm, cluster.kubeconfig, RELEASE, namespace))

"""Recovery a cautious SRE would schedule, on the real control plane (issue 24).

- An API server outage during a fleet run (the release Secrets cannot be written): every release is
  ``deferred`` at its first step, nothing escalates (no upgrade, no uninstall, although both are in
  the ladder with a usable chart), no revision is written; the next run recovers them all.
- Targets the API server refuses (the real ValidatingAdmissionPolicy, an API version a CRD no
  longer serves, an immutable field): the preflight skips them and writes no revision, the next
  step runs; in check mode the plan says ``would_fail`` with the reasons; helm_release_rollback
  refuses the same target before Helm runs.
- Two recoveries of one release at the same moment (two processes): exactly one acts, the other is
  ``deferred`` naming the holder of the release's Lease; a pending release under a live lease is
  never freed.
- An unrecoverable release remediated by scheduled runs: attempts counted, backoff respected,
  ``quarantined`` after the third failure, history grows by 3 revisions in all, a deploy clears it.
- A release uninstalled with its history kept is left alone; the history never grows past Helm's
  default history_max (10).
"""

import datetime
import json
import time
import urllib.error
import uuid

import pytest
import yaml

import role_runner
import scenarios
from recovery_plays import Play, release_barrier, rollback_task

RELEASE = "shop"
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/%s/leases"
LEASE_NAME = "matih-helm." + RELEASE
ATTEMPTS_ANNOTATION = "matih.helm/attempts"
# The chart for revisions made of arbitrary objects: ``objects`` in the values, rendered as they are.
RAW_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: raw\nversion: 1.0.0\n",
    "templates/objects.yaml": "{{- range .Values.objects }}\n---\n{{ toYaml . }}\n{{- end }}\n",
}
CRD_GROUP = "safe.matih.io"


def recover_task(namespace, register="recovery", name=RELEASE, **options):
    """A helm_release_recover task whose failure does not stop the play."""
    args = dict({"name": name, "release_namespace": namespace, "timeout": "30s"}, **options)
    return {"name": "recover " + register, "matih.helm.helm_release_recover": args, "register": register,
            "ignore_errors": True}


def statuses(helm, cluster, namespace, name=RELEASE):
    return scenarios.statuses(helm, cluster.kubeconfig, name, namespace)


def lease(cluster, namespace, name=LEASE_NAME):
    found = cluster.api("GET", LEASE_PATH % namespace + "/" + name, expect=404)
    return None if found.get("kind") == "Status" else found


def micro_time(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the API server cannot store a revision: defer, never escalate -------------------------------------

def test_api_outage_during_a_fleet_run_defers_every_release(helm_binary, faulty_cluster, namespace, tmp_path):
    helm, cluster = helm_binary.path, faulty_cluster
    namespaces = [namespace, namespace + "-b"]
    cluster.create_namespace(namespaces[1])
    keys = [(namespaces[0], "web"), (namespaces[0], "api"), (namespaces[1], "web")]
    for release_namespace, name in keys:
        scenarios.install(helm, cluster.kubeconfig, name, release_namespace, "1.0.0")
        scenarios.failed_upgrade(helm, cluster.kubeconfig, name, release_namespace, "broken_image", version="1.1.0")
    before = {key: scenarios.history(helm, cluster.kubeconfig, key[1], key[0]) for key in keys}
    # Every step is runnable, the uninstall-and-install too: only the caution keeps them from running.
    overrides = {"%s/%s" % key: {"strategies": ["rollback_last_successful", "rollback_previous_good", "upgrade", "reinstall"],
                                 "chart_ref": scenarios.chart("1.0.0")} for key in keys}
    extra_vars = {"fleet_remediation_namespaces": namespaces, "fleet_remediation_release_overrides": overrides,
                  "fleet_remediation_timeout": role_runner.wait_timeout(cluster),
                  "fleet_remediation_fail_on_unrecovered": False}
    try:
        # An outage of the writes: Helm can read the release, but not store the revision it would write.
        cluster.inject_fault(status=503, method="POST", path_regex=r"^/api/v1/namespaces/[^/]+/secrets$", seconds=900,
                             message="the server is currently unable to handle the request")
        report = remediate(helm, cluster, tmp_path, "outage", extra_vars)
    finally:
        cluster.clear_faults()
    summary, rows = report["summary"], {(row["namespace"], row["release"]): row for row in report["releases"]}
    outcomes = [(row["outcome"], row["reason"], row.get("error_kind")) for row in rows.values()]
    assert (summary["deferred"], summary["recovered"], summary["failed"]) == (3, 0, 0), (outcomes, report["output"])
    for key in keys:
        row = rows[key]
        assert row["outcome"] == "deferred" and row["error_kind"] in ("cluster_unreachable", "throttled"), row
        assert [action["action"] for action in row["actions"]] == ["rollback_last_successful"], row["actions"]
        assert scenarios.history(helm, cluster.kubeconfig, key[1], key[0]) == before[key], key
    assert not [argv for argv in report["helm_calls"] if argv[:1] in (["upgrade"], ["uninstall"], ["install"])], report["helm_calls"]

    # The API server is whole again: the next run recovers every release with its first step.
    report = remediate(helm, cluster, tmp_path, "after", extra_vars)
    assert (report["summary"]["recovered"], report["summary"]["deferred"]) == (3, 0), report["summary"]
    for key in keys:
        assert statuses(helm, cluster, key[0], key[1])[-1] == "deployed", key
    assert not [argv for argv in report["helm_calls"] if argv[:1] in (["uninstall"], ["install"])], report["helm_calls"]


def remediate(helm, cluster, tmp_path, label, extra_vars):
    directory = tmp_path / label
    helm_dir = role_runner.counting_helm(directory / "bin", helm)
    extra_vars = dict(extra_vars, fleet_remediation_report_dir=str(directory / "report"))
    result, _seconds = role_runner.run_collection_playbook("remediate", directory, helm_dir, cluster.kubeconfig, extra_vars)
    output = "rc=%d\n%s\n%s" % (result.returncode, result.stdout[-12000:], result.stderr[-4000:])
    assert result.returncode == 0, output
    report_path = directory / "report" / "fleet-remediation.json"
    assert report_path.exists(), output
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report["helm_calls"] = role_runner.helm_calls(helm_dir)
    report["output"] = output
    (tmp_path / ("%s-output.txt" % label)).write_text(output, encoding="utf-8")
    return report


# --- the preflight: targets the API server would refuse ---------------------------------------------------

def raw_chart(tmp_path):
    directory = tmp_path / "raw-chart"
    for name, text in RAW_CHART.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return str(directory)


def raw_revision(helm, cluster, namespace, chart, objects, tmp_path, label, install=False, extra=(), check=True):
    values = tmp_path / ("values-%s.yaml" % label)
    values.write_text(yaml.safe_dump({"objects": objects}), encoding="utf-8")
    verb = ["install"] if install else ["upgrade"]
    return scenarios.run_helm(helm, cluster.kubeconfig, verb + [RELEASE, chart, "-n", namespace, "--values", str(values)] + list(extra),
                              check=check)


def config_map(name, data, immutable=False):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if immutable:
        body["immutable"] = True
    return body


def widget(version, size):
    return {"apiVersion": "%s/%s" % (CRD_GROUP, version), "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": size}}


def widget_crd(plural, served_alpha):
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "%s.%s" % (plural, CRD_GROUP)},
            "spec": {"group": CRD_GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": plural[:-1], "kind": "Widget"},
                     "versions": [{"name": "v1alpha1", "served": served_alpha, "storage": False, "schema": schema},
                                  {"name": "v1", "served": True, "storage": True, "schema": schema}]}}


def legacy_policy(name, namespace):
    """A policy of this test's own: ConfigMaps with a ``legacy`` key are refused in ``namespace``."""
    rule = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
              "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [rule]},
                       "validations": [{"expression": "!has(object.data) || !('legacy' in object.data)",
                                        "message": "legacy configuration is no longer allowed", "reason": "Invalid"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
               "spec": {"policyName": name, "validationActions": ["Deny"],
                        "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}}
    return policy, binding


def wait_for_policy(cluster, namespace):
    probe = config_map("probe-%s" % uuid.uuid4().hex[:6], {"legacy": "yes"})
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    while datetime.datetime.now() < deadline:
        answer = cluster.api("POST", "/api/v1/namespaces/%s/configmaps?dryRun=All" % namespace, probe, expect=(422, 403))
        if answer.get("kind") == "Status":
            return
        time.sleep(0.2)
    raise AssertionError("the legacy policy was never enforced in %s" % namespace)


@pytest.fixture
def refused_target(helm_binary, cluster, namespace, tmp_path):
    """Revision 1 holds three objects the API server now refuses (a key the namespace's new policy
    denies, an immutable ConfigMap whose data changed since, a Widget of an API version the CRD no
    longer serves); revision 2 is good and deployed; revision 3 failed (refused by the test bed's
    policy). Yields (helm, cluster, namespace)."""
    helm = helm_binary.path
    plural = "widgets" + uuid.uuid4().hex[:6]
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    cluster.api("POST", crd_path, widget_crd(plural, served_alpha=True))
    policy_name = "matih-legacy-" + uuid.uuid4().hex[:6]
    chart = raw_chart(tmp_path)
    wait_for_served(cluster, namespace, plural, "v1alpha1")
    try:
        raw_revision(helm, cluster, namespace, chart, [config_map("frozen", {"v": "1"}, immutable=True),
                                                       config_map("settings", {"legacy": "yes"}), widget("v1alpha1", 1)],
                     tmp_path, "1", install=True)
        # The immutable ConfigMap is made anew by revision 2 (deleted by hand first, as an operator would).
        cluster.api("DELETE", "/api/v1/namespaces/%s/configmaps/frozen" % namespace)
        good = [config_map("frozen", {"v": "2"}, immutable=True), config_map("settings", {"modern": "yes"}), widget("v1", 2)]
        raw_revision(helm, cluster, namespace, chart, good, tmp_path, "2")
        raw_revision(helm, cluster, namespace, chart, good + [config_map("bad", {"x": "reject"})], tmp_path, "3", check=False)
        assert statuses(helm, cluster, namespace) == ["superseded", "deployed", "failed"]
        policy, binding = legacy_policy(policy_name, namespace)
        cluster.api("POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies", policy)
        cluster.api("POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", binding)
        wait_for_policy(cluster, namespace)
        cluster.api("PUT", crd_path + "/%s.%s" % (plural, CRD_GROUP), dict(
            widget_crd(plural, served_alpha=False), metadata=cluster.api("GET", crd_path + "/%s.%s" % (plural, CRD_GROUP))["metadata"]))
        wait_for_served(cluster, namespace, plural, "v1alpha1", served=False)
        yield helm, cluster, namespace
    finally:
        for path in ("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/" + policy_name,
                     "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/" + policy_name,
                     crd_path + "/%s.%s" % (plural, CRD_GROUP)):
            cluster.api("DELETE", path, expect=404)


def wait_for_served(cluster, namespace, plural, version, served=True):
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    path = "/apis/%s/%s/namespaces/%s/%s" % (CRD_GROUP, version, namespace, plural)
    while datetime.datetime.now() < deadline:
        try:
            cluster.api("GET", path)
            served_now = True
        except urllib.error.HTTPError as error:  # an unserved version's 404 is not even a Status
            if error.code in (429, 503):  # a CRD the API server is still setting up
                time.sleep(0.2)
                continue
            if error.code != 404:
                raise
            served_now = False
        if served_now == served:
            return
        time.sleep(0.2)
    raise AssertionError("%s %s of %s never became %s" % (plural, version, CRD_GROUP, "served" if served else "unserved"))


def refusal_reasons(preflight):
    return {(refusal["kind"], refusal["name"]): refusal for refusal in preflight["refusals"]}


def assert_three_refusals(preflight):
    refusals = refusal_reasons(preflight)
    assert not preflight["passed"] and set(refusals) == {("ConfigMap", "frozen"), ("ConfigMap", "settings"), ("Widget", "w")}, preflight
    assert "immutable" in refusals[("ConfigMap", "frozen")]["reason"], refusals
    assert "legacy configuration is no longer allowed" in refusals[("ConfigMap", "settings")]["reason"], refusals
    assert "v1alpha1" in refusals[("Widget", "w")]["reason"] and "not served" in refusals[("Widget", "w")]["reason"], refusals
    assert [refusals[key]["error_kind"] for key in sorted(refusals)] == ["rejected", "rejected", "not_found"], refusals


def test_the_preflight_skips_targets_the_api_server_refuses(refused_target, tmp_path):
    helm, cluster, namespace = refused_target
    before = scenarios.history(helm, cluster.kubeconfig, RELEASE, namespace)
    ladder = ["rollback_previous_good", "rollback_last_successful"]
    tasks = [recover_task(namespace, "plan", strategies=ladder, wait=False), rollback_task(RELEASE, namespace, 1, "rollback", wait=False),
             rollback_task(RELEASE, namespace, 1, "rollback_check", wait=False)]
    tasks[0]["check_mode"] = tasks[2]["check_mode"] = True
    tasks += [recover_task(namespace, "recovery", strategies=ladder, wait=False)]
    play = Play(tmp_path, "preflight", helm, cluster.kubeconfig, tasks).run()

    plan = play.result("plan")
    assert plan["outcome"] == "planned" and plan["action"] == "rollback_last_successful", plan
    refused, planned = plan["actions"]
    assert (refused["action"], refused["outcome"], refused["target_revision"]) == ("rollback_previous_good", "would_fail", 1), refused
    assert_three_refusals(refused["preflight"])
    assert (planned["outcome"], planned["preflight"]["passed"]) == ("planned", True), planned

    for register in ("rollback", "rollback_check"):
        result = play.result(register)
        assert result["failed"] and result["error_kind"] == "rejected" and "no revision was written" in result["msg"], result
        assert_three_refusals(result["preflight"])

    recovery = play.result("recovery")
    assert recovery["outcome"] == "recovered" and recovery["action"] == "rollback_last_successful", recovery
    refused, recovered = recovery["actions"]
    assert (refused["outcome"], refused["changed"], refused["error_kind"]) == ("refused", False, "rejected"), refused
    assert recovered["outcome"] == "recovered" and recovered["revision"] == 4, recovered
    after = scenarios.history(helm, cluster.kubeconfig, RELEASE, namespace)
    # One revision, the recovery's: none for the refused target, none for the rollback module.
    assert [entry["revision"] for entry in after] == [1, 2, 3, 4] and after[-1]["status"] == "deployed", after
    assert [(entry["revision"], entry["chart"]) for entry in after[:3]] == [(entry["revision"], entry["chart"]) for entry in before]


# --- one actor per release ------------------------------------------------------------------------------

def never_ready_release(helm, cluster, namespace):
    """Revision 1 deployed without waiting, with an image that never gets ready; revision 2 a failed
    upgrade to the same: every rollback to 1 times out."""
    scenarios.install(helm, cluster.kubeconfig, RELEASE, namespace, "1.0.0", {"image": scenarios.BROKEN_IMAGE})
    scenarios.failed_upgrade(helm, cluster.kubeconfig, RELEASE, namespace, "broken_image", version="1.1.0")
    assert statuses(helm, cluster, namespace) == ["deployed", "failed"]


def test_two_recoveries_at_once_one_acts(helm_binary, cluster, namespace, tmp_path):
    helm = helm_binary.path
    never_ready_release(helm, cluster, namespace)
    barrier = str(tmp_path / "barrier")
    # The rollback holds the lease for its whole timeout: the other run meets it for sure.
    plays = [Play(tmp_path, label, helm, cluster.kubeconfig, [recover_task(namespace, "recovery", timeout="8s", backoff="0s")],
                  barrier=barrier).start() for label in ("first", "second")]
    release_barrier(barrier, ["first", "second"])
    results = [play.wait().result("recovery") for play in plays]
    outcomes = sorted(result["outcome"] for result in results)
    assert outcomes == ["deferred", "failed"], [(r["outcome"], r["reason"]) for r in results]
    acted = next(result for result in results if result["outcome"] == "failed")
    deferred = next(result for result in results if result["outcome"] == "deferred")
    assert deferred["error_kind"] == "locked" and deferred["holder"] and deferred["holder"] in deferred["reason"], deferred
    assert deferred["changed"] is False and deferred["actions"] == [], deferred
    assert [action["action"] for action in acted["actions"]][:1] == ["rollback_last_successful"], acted
    # One rollback was written (failed), by the one that held the lease; it is free again.
    written = statuses(helm, cluster, namespace)
    assert len(written) == 3 and written[-1] == "failed", written
    assert not lease(cluster, namespace)["spec"].get("holderIdentity"), lease(cluster, namespace)


def test_a_pending_release_under_a_live_lease_is_never_freed(helm_binary, cluster, namespace, tmp_path):
    helm = helm_binary.path
    scenarios.install(helm, cluster.kubeconfig, RELEASE, namespace, "1.0.0")
    scenarios.pending_release(helm, cluster.kubeconfig, RELEASE, namespace, "upgrade")
    before = scenarios.history(helm, cluster.kubeconfig, RELEASE, namespace)
    now = datetime.datetime.now(datetime.timezone.utc)
    cluster.api("POST", LEASE_PATH % namespace, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": LEASE_NAME},
        "spec": {"holderIdentity": "operator@elsewhere", "leaseDurationSeconds": 300,
                 "acquireTime": micro_time(now), "renewTime": micro_time(now)}})
    tasks = [recover_task(namespace, "recovery", unlock_pending=True), recover_task(namespace, "plan", unlock_pending=True),
             rollback_task(RELEASE, namespace, 1, "rollback", on_pending="rollback")]
    tasks[1]["check_mode"] = True
    play = Play(tmp_path, "pending", helm, cluster.kubeconfig, tasks).run()
    for register in ("recovery", "plan"):
        result = play.result(register)
        assert (result["outcome"], result["error_kind"], result["holder"]) == ("deferred", "locked", "operator@elsewhere"), result
    rollback = play.result("rollback")
    assert rollback["failed"] and rollback["error_kind"] == "locked" and "operator@elsewhere" in rollback["msg"], rollback
    assert scenarios.history(helm, cluster.kubeconfig, RELEASE, namespace) == before
    assert lease(cluster, namespace)["spec"]["holderIdentity"] == "operator@elsewhere"


# --- memory, backoff, quarantine ---------------------------------------------------------------------

def test_an_unrecoverable_release_is_quarantined(cluster, namespace, tmp_path):
    # Helm 3: its waiter polls each object afresh; the rollouts here must never look ready.
    helm = scenarios.HELM_BINARIES["helm3"]
    never_ready_release(helm, cluster, namespace)
    # A backoff long enough that the run right after a failure is surely inside it on a loaded machine.
    options = dict(timeout="4s", backoff="12s", max_attempts=3)

    def run(label, *registers):
        play = Play(tmp_path, label, helm, cluster.kubeconfig, [recover_task(namespace, register, **options) for register in registers]).run()
        return [play.result(register) for register in registers]

    # Run 1 fails (the rollback times out: revision 3); run 2, at once, is inside the backoff.
    first, second = run("runs-1-2", "first", "second")
    assert first["outcome"] == "failed" and first["attempts"]["attempts"] == 1 and first["attempts"]["revision"] == 3, first
    assert second["outcome"] == "deferred" and second["error_kind"] == "backoff" and 0 < second["retry_in"] <= 12, second
    written = statuses(helm, cluster, namespace)
    assert len(written) == 3 and written[-1] == "failed", written
    # Once the backoff has passed: attempt 2 (revision 4); the backoff doubles (24s).
    wait_out(second["retry_in"])
    third, fourth = run("runs-3-4", "third", "fourth")
    assert third["outcome"] == "failed" and third["attempts"]["attempts"] == 2, third
    assert fourth["outcome"] == "deferred" and 12 < fourth["retry_in"] <= 24, fourth
    wait_out(fourth["retry_in"])
    # Attempt 3 (revision 5), then quarantine: left alone, reported, no revision.
    fifth, sixth = run("runs-5-6", "fifth", "sixth")
    assert fifth["outcome"] == "failed" and fifth["attempts"]["attempts"] == 3 and fifth["attempts"]["quarantined"], fifth
    assert sixth["outcome"] == "quarantined" and sixth["actions"] == [] and not sixth["changed"], sixth
    assert "clear_quarantine" in sixth["reason"], sixth["reason"]
    history = scenarios.history(helm, cluster.kubeconfig, RELEASE, namespace)
    assert len(history) == 5, history  # 3 revisions written by 6 runs
    memory = json.loads(lease(cluster, namespace)["metadata"]["annotations"][ATTEMPTS_ANNOTATION])
    assert memory["revision"] == 5 and memory["attempts"] == 3, memory

    # Someone deploys: the memory no longer applies, the release is healthy.
    scenarios.upgrade(helm, cluster.kubeconfig, RELEASE, namespace, "1.0.0", {"image": "registry.local/demo:1.0"}, wait=True)
    (seventh,) = run("run-7", "seventh")
    assert seventh["outcome"] == "healthy" and seventh["attempts"] is None, seventh
    assert ATTEMPTS_ANNOTATION not in (lease(cluster, namespace)["metadata"].get("annotations") or {})


def wait_out(seconds):
    time.sleep(seconds + 0.5)


# --- no resurrection, bounded history ---------------------------------------------------------------------

def test_uninstalled_is_left_alone_and_history_stays_bounded(helm_binary, cluster, namespace, tmp_path):
    helm = helm_binary.path
    scenarios.install(helm, cluster.kubeconfig, "gone", namespace, "1.0.0")
    scenarios.run_helm(helm, cluster.kubeconfig, ["uninstall", "gone", "-n", namespace, "--keep-history"])
    gone_before = scenarios.history(helm, cluster.kubeconfig, "gone", namespace)
    # Ten revisions, the last failed: a recovery with Helm's default history_max keeps ten.
    scenarios.release_with_good_revisions(helm, cluster.kubeconfig, RELEASE, namespace, 9)
    scenarios.failed_upgrade(helm, cluster.kubeconfig, RELEASE, namespace, "broken_image", version="1.0.0")
    assert len(statuses(helm, cluster, namespace)) == 10
    tasks = [recover_task(namespace, "gone", name="gone"), recover_task(namespace, "recovery", wait=False)]
    play = Play(tmp_path, "bounded", helm, cluster.kubeconfig, tasks).run()
    gone = play.result("gone")
    assert (gone["verdict"], gone["outcome"], gone["changed"]) == ("uninstalled", "uninstalled", False), gone
    assert "recover_uninstalled" in gone["reason"], gone["reason"]
    assert scenarios.history(helm, cluster.kubeconfig, "gone", namespace) == gone_before
    recovery = play.result("recovery")
    assert recovery["outcome"] == "recovered", recovery
    after = scenarios.history(helm, cluster.kubeconfig, RELEASE, namespace)
    assert len(after) == 10 and after[-1]["revision"] == 11 and after[-1]["status"] == "deployed", [
        (entry["revision"], entry["status"]) for entry in after]

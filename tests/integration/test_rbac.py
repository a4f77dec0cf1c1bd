"""The shipped RBAC (extensions/rbac) on the real control plane, with real ServiceAccount tokens.

Each identity is a ServiceAccount bound to exactly one Role read from the shipped manifests (never a
copy of their rules): the reader reads (history, list, drift), the planner plans (rollback and
recover in check mode), and neither writes anything; the recoverer recovers the demo chart after a
failed upgrade; and a recoverer without one of its rules, rule after rule, gets a failed task that
says ``access_denied`` and names the verb, resource and namespace it lacks, with nothing written
(Helm's release Secrets unchanged: no new revision, no ``pending-*`` record).

Not a Helm major question (the modules check before Helm runs): one major, helm_majors.ONE_MAJOR.
For speed the release is prepared once, and every case runs in one playbook (``ignore_errors`` +
``register``, the results written to a JSON file), as test_bad_input.py does.
"""
import json
import os
import re
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

import helm_majors
import role_runner
import scenarios
from identities import bound_token
from playbook_runner import REPO_ROOT, run_tasks

RBAC_DIR = os.path.join(REPO_ROOT, "extensions", "rbac")
HELM = scenarios.HELM_BINARIES[helm_majors.ONE_MAJOR]
RELEASE = "web"


def shipped_role(file_name, kind="Role"):
    """The Role (or ClusterRole) of extensions/rbac/<file_name>, as shipped."""
    with open(os.path.join(RBAC_DIR, file_name), encoding="utf-8") as handle:
        documents = [document for document in yaml.safe_load_all(handle) if document]
    roles = [document for document in documents if document["kind"] == kind]
    assert len(roles) == 1, "%s: expected one %s, found %d" % (file_name, kind, len(roles))
    return roles[0]


def records(cluster, namespace):
    """{Secret name: (status label, resourceVersion)} of Helm's release records: any write changes it."""
    query = urllib.parse.urlencode({"labelSelector": "owner=helm"})
    listing = cluster.api("GET", "/api/v1/namespaces/%s/secrets?%s" % (namespace, query))
    return {item["metadata"]["name"]: (item["metadata"]["labels"].get("status"), item["metadata"]["resourceVersion"])
            for item in listing.get("items") or []}


def rule_id(rule):
    return "%s:%s:%s" % ("+".join(rule["resources"]), "+".join(rule["apiGroups"]) or "core", "+".join(rule["verbs"]))


def without(role, index):
    return dict(role, rules=[rule for number, rule in enumerate(role["rules"]) if number != index])


RECOVERER = shipped_role("recoverer.yml")
RULES = [rule_id(rule) for rule in RECOVERER["rules"]]


@pytest.fixture(scope="module")
def tenant(cluster, tmp_path_factory):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    """A namespace with the demo chart after a failed upgrade (revision 1 deployed, 2 failed), an identity per
    shipped Role and one per recoverer without one rule, and every case's result from one playbook."""
    if cluster.kind != "controlplane":
        pytest.skip("needs the real control plane: its RBAC and ServiceAccount tokens")
    if not os.access(HELM, os.X_OK):
        pytest.skip("Helm not found at %s (run the bootstrap)" % HELM)
    namespace = "rbac-" + uuid.uuid4().hex[:8]
    cluster.create_namespace(namespace)
    try:
        scenarios.install(HELM, cluster.kubeconfig, RELEASE, namespace, wait=True)
        scenarios.failed_upgrade(HELM, cluster.kubeconfig, RELEASE, namespace, "rejected_config")
        tokens = {name: bound_token(cluster, namespace, "matih-helm-" + name, shipped_role(name + ".yml"))
                  for name in ("reader", "planner", "recoverer")}
        for index, _rule in enumerate(RECOVERER["rules"]):
            tokens["without-%d" % index] = bound_token(cluster, namespace, "matih-helm-without-%d" % index,
                                                       without(RECOVERER, index))
        tokens["fleet"] = bound_token(cluster, namespace, "matih-helm-fleet-" + namespace,
                                      shipped_role("fleet.yml", "ClusterRole"))
        tmp_path = tmp_path_factory.mktemp("rbac")
        before = records(cluster, namespace)
        results = run_cases(cluster, namespace, tokens, tmp_path)
        after_cases = results.pop("records_after_cases")
        yield {"namespace": namespace, "before": before, "after_cases": after_cases, "results": results,
               "after": records(cluster, namespace)}
    finally:
        for kind in ("clusterrolebindings", "clusterroles"):
            cluster.api("DELETE", "/apis/rbac.authorization.k8s.io/v1/%s/matih-helm-fleet-%s" % (kind, namespace),
                        expect=404)
        cluster.delete_namespace(namespace)


def run_cases(cluster, namespace, tokens, tmp_path):
    """Every case in one playbook: {case id: registered result}, and the records after the failing cases
    (read by the test between the cases and the recovery, through a task that runs Python)."""
    def connection(token):
        return {"host": cluster.url, "api_key": token, "ca_cert": cluster.ca_cert, "binary_path": HELM}

    def task(case_id, module, token, check_mode=False, **args):
        module_args = dict(connection(token), name=RELEASE, release_namespace=namespace, **args)
        return {"name": case_id, "matih.helm." + module: module_args,
                "check_mode": check_mode, "ignore_errors": True, "register": register_name(case_id)}

    recover = {"max_attempts": 0, "backoff": "0s", "timeout": "20s"}
    tasks = [
        task("reader-history", "helm_release_history", tokens["reader"]),
        task("reader-drift", "helm_release_drift", tokens["reader"]),
        task("planner-rollback-check", "helm_release_rollback", tokens["planner"], True, revision="last_successful"),
        task("planner-recover-check", "helm_release_recover", tokens["planner"], True, **recover),
        task("reader-recover-check", "helm_release_recover", tokens["reader"], True, **recover),
    ]
    listing = task("reader-list", "helm_release_list", tokens["reader"])
    del listing["matih.helm.helm_release_list"]["name"], listing["matih.helm.helm_release_list"]["release_namespace"]
    listing["matih.helm.helm_release_list"]["namespaces"] = [namespace]
    tasks.append(listing)
    # every namespace at once: the fleet ClusterRole's one LIST; the reader may not
    for case_id, token in (("fleet-list-all", tokens["fleet"]), ("reader-list-all", tokens["reader"])):
        every = task(case_id, "helm_release_list", token)
        every["matih.helm.helm_release_list"] = dict(connection(token), include_chart=False)
        tasks.append(every)
    for index, _rule in enumerate(RECOVERER["rules"]):
        token = tokens["without-%d" % index]
        tasks.append(task("without-%d-rollback" % index, "helm_release_rollback", token, revision="last_successful",
                          timeout="20s"))
        tasks.append(task("without-%d-recover" % index, "helm_release_recover", token, **recover))
    # Helm's release records after the failing cases, read from the API as the admin (not through Helm, nor
    # through the modules), metadata only
    tasks.append({"name": "records after the cases", "ansible.builtin.uri": {
        "url": "%s/api/v1/namespaces/%s/secrets?labelSelector=owner%%3Dhelm" % (cluster.plane.url, namespace),
        "ca_path": cluster.plane.ca_cert_path, "client_cert": cluster.plane.admin_cert_paths[0],
        "client_key": cluster.plane.admin_cert_paths[1], "return_content": True,
        "headers": {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}},
        "register": "records_after_cases"})
    tasks.append(task("recoverer-recover", "helm_release_recover", tokens["recoverer"], **recover))
    case_ids = [entry["name"] for entry in tasks if entry.get("register", "").startswith("case_")]
    out = tmp_path / "results.json"
    tasks.append({"name": "write the results", "ansible.builtin.copy": {
        "dest": str(out), "mode": "0600",
        "content": "{{ %s | to_json }}" % ("{%s}" % ", ".join(
            ["'%s': %s" % (case_id, register_name(case_id)) for case_id in case_ids]
            + ["'records_after_cases': records_after_cases.json"]))}})
    run = run_tasks(tasks, tmp_path, name="rbac cases")
    assert out.exists(), run.stdout[-4000:] + run.stderr[-4000:]
    results = json.loads(out.read_text())
    results["records_after_cases"] = {
        item["metadata"]["name"]: (item["metadata"]["labels"].get("status"), item["metadata"]["resourceVersion"])
        for item in results["records_after_cases"].get("items") or []}
    return results


def register_name(case_id):
    return "case_" + re.sub(r"[^a-z0-9]", "_", case_id)


# --- the cases ---------------------------------------------------------------------------------------

def names_right(text, rule, namespace):
    """Whether ``text`` names one of ``rule``'s verbs on one of its resources in ``namespace``, in our words
    ("update secrets in namespace t1") or the API server's (cannot update resource "secrets" in API group ""
    in the namespace "t1")."""
    for verb in rule["verbs"]:
        for resource in rule["resources"]:
            for group in rule["apiGroups"]:
                ours = "%s %s%s in namespace %s" % (verb, resource, "." + group if group else "", namespace)
                theirs = 'cannot %s resource "%s" in API group "%s" in the namespace "%s"' % (
                    verb, resource, group, namespace)
                if ours in text or theirs in text:
                    return True
    return False


def test_reads_pass_with_the_reader_and_write_nothing(tenant):  # pylint: disable=redefined-outer-name
    results, namespace = tenant["results"], tenant["namespace"]
    for case_id in ("reader-history", "reader-drift", "reader-list"):
        assert not results[case_id].get("failed"), (case_id, results[case_id].get("msg"))
        assert results[case_id]["changed"] is False
    history = results["reader-history"]
    assert [(entry["revision"], entry["status"]) for entry in history["history"]] == [(1, "deployed"), (2, "failed")]
    assert history["last_successful_revision"] == 1
    listed = [(entry["name"], entry["namespace"], entry["status"]) for entry in results["reader-list"]["releases"]]
    assert listed == [(RELEASE, namespace, "failed")]
    assert tenant["after_cases"] == tenant["before"]


def test_plans_pass_with_the_planner_and_write_nothing(tenant):  # pylint: disable=redefined-outer-name
    results = tenant["results"]
    rollback, recover = results["planner-rollback-check"], results["planner-recover-check"]
    assert not rollback.get("failed"), rollback.get("msg")
    assert rollback["target_revision"] == 1 and rollback["preflight"]["passed"], rollback
    assert not recover.get("failed") and recover["outcome"] == "planned", recover.get("msg")
    assert [action["action"] for action in recover["actions"]][:1] == ["rollback_last_successful"]
    assert tenant["after_cases"] == tenant["before"]


def test_a_plan_needs_more_than_the_reader(tenant):  # pylint: disable=redefined-outer-name
    """The planner's lease rule is needed: the reader's plan fails on the lease, naming the right."""
    result = tenant["results"]["reader-recover-check"]
    assert result.get("failed") and result["error_kind"] == "access_denied", result
    assert "get leases.coordination.k8s.io in namespace %s" % tenant["namespace"] in result["msg"]


def test_fleet_discovery_lists_every_namespace_with_the_fleet_cluster_role(tenant):  # pylint: disable=redefined-outer-name
    results, namespace = tenant["results"], tenant["namespace"]
    every = results["fleet-list-all"]
    assert not every.get("failed") and every["discovery"]["scope"] == "cluster", every.get("msg")
    assert [(entry["name"], entry["status"]) for entry in every["releases"] if entry["namespace"] == namespace] == [
        (RELEASE, "failed")]
    # without it (the reader's Role only), listing every namespace is refused, naming the right
    refused = results["reader-list-all"]
    assert refused.get("failed") and refused["error_kind"] == "access_denied", refused
    assert "list secrets cluster-wide" in refused["msg"], refused["msg"]


def test_the_example_bindings_bind_the_shipped_roles(cluster, tenant):  # pylint: disable=redefined-outer-name
    """bindings-example.yml is one List of RoleBindings to the shipped Roles, which the API server accepts (a dry run
    in the tenant's namespace); its cluster-wide binding stays commented out."""
    with open(os.path.join(RBAC_DIR, "bindings-example.yml"), encoding="utf-8") as handle:
        (listing,) = [document for document in yaml.safe_load_all(handle) if document]
    shipped = {shipped_role(name)["metadata"]["name"] for name in ("reader.yml", "planner.yml", "recoverer.yml")}
    assert listing["kind"] == "List" and listing["items"], listing
    for item in listing["items"]:
        assert item["kind"] == "RoleBinding" and item["roleRef"]["kind"] == "Role", item
        assert item["roleRef"]["name"] in shipped, (item["roleRef"], shipped)
        # in the tenant's namespace, under another name (the tenant's identities have bindings of the Roles' names)
        binding = dict(item, metadata={"name": item["metadata"]["name"] + "-example", "namespace": tenant["namespace"]})
        created = cluster.api("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings?dryRun=All"
                              % tenant["namespace"], binding)
        assert created["roleRef"] == item["roleRef"] and created["subjects"] == item["subjects"], created


@pytest.mark.parametrize("index", range(len(RULES)), ids=RULES)
def test_each_rule_of_the_recoverer_is_needed(tenant, index):  # pylint: disable=redefined-outer-name
    results, namespace, rule = tenant["results"], tenant["namespace"], RECOVERER["rules"][index]
    rollback, recover = results["without-%d-rollback" % index], results["without-%d-recover" % index]
    assert rollback.get("failed") and rollback["error_kind"] == "access_denied", rollback.get("msg")
    assert names_right(rollback["msg"], rule, namespace), rollback["msg"]
    assert rollback["changed"] is False
    # recover fails the task when it cannot start (the lease, the history); a step it stops reports failed
    assert recover.get("failed") or recover["outcome"] == "failed", recover.get("msg")
    assert recover["error_kind"] == "access_denied", recover.get("msg")
    assert names_right(recover["msg"], rule, namespace), recover["msg"]
    assert recover["changed"] is False
    # nothing written: no new revision, no pending-* record, no record touched
    assert tenant["after_cases"] == tenant["before"]


def test_the_recoverer_recovers_the_demo_chart(tenant):  # pylint: disable=redefined-outer-name
    result = tenant["results"]["recoverer-recover"]
    assert not result.get("failed") and result["outcome"] == "recovered", result.get("msg")
    assert result["after"]["revision"] == 3 and result["after"]["status"] == "deployed"
    assert {name: status for name, (status, _version) in tenant["after"].items()} == {
        "sh.helm.release.v1.%s.v1" % RELEASE: "superseded", "sh.helm.release.v1.%s.v2" % RELEASE: "failed",
        "sh.helm.release.v1.%s.v3" % RELEASE: "deployed"}


# --- two tenants, one readable: the fleet and the drift scan go on without the other ----------------------

CLUSTER_ROLE_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: with-cluster-role\nversion: 1.0.0\n",
    "templates/objects.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  greeting: hello\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {{ .Values.clusterRole }}\n"
        "rules:\n  - apiGroups: [\"\"]\n    resources: [configmaps]\n    verbs: [get]\n"),
}


def corrupt_record(namespace, name):
    """A Secret labelled as the deployed revision 1 of release ``name`` whose record is not a Helm release."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": "sh.helm.release.v1.%s.v1" % name, "namespace": namespace,
                         "labels": {"owner": "helm", "name": name, "status": "deployed", "version": "1"}},
            "data": {"release": "bm90IGEgcmVsZWFzZQ=="}}  # base64 of base64-less text: undecodable


def failed_demo_release(cluster, namespace):
    """The demo chart after a failed upgrade: revision 1 deployed, 2 failed."""
    scenarios.install(HELM, cluster.kubeconfig, RELEASE, namespace, wait=True)
    scenarios.failed_upgrade(HELM, cluster.kubeconfig, RELEASE, namespace, "rejected_config")


@pytest.fixture(scope="module")
def two_tenants(cluster, tmp_path_factory):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    """Tenants t1 and t2, each with the demo chart after a failed upgrade; t1 also holds a deployed release of a chart
    with a ClusterRole and a deployed release whose record is corrupt. One identity, the shipped recoverer bound in t1
    only, runs the remediate playbook over [t1, t2] (a token kubeconfig) and then the drift scan over [t1, t2]
    (host, api_key and ca_cert)."""
    if cluster.kind != "controlplane":
        pytest.skip("needs the real control plane: its RBAC and ServiceAccount tokens")
    if not os.access(HELM, os.X_OK):
        pytest.skip("Helm not found at %s (run the bootstrap)" % HELM)
    base = "rbac-" + uuid.uuid4().hex[:6]
    t1, t2 = base + "-t1", base + "-t2"
    cluster_role = "matih-helm-test-" + base
    tmp_path = tmp_path_factory.mktemp("tenants")
    chart = tmp_path / "with-cluster-role"
    for name, text in CLUSTER_ROLE_CHART.items():
        (chart / name).parent.mkdir(parents=True, exist_ok=True)
        (chart / name).write_text(text)
    for namespace in (t1, t2):
        cluster.create_namespace(namespace)
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            jobs = [pool.submit(failed_demo_release, cluster, namespace) for namespace in (t1, t2)]
            jobs.append(pool.submit(scenarios.run_helm, HELM, cluster.kubeconfig, [
                "install", "cluster-wide", str(chart), "-n", t1, "--set", "clusterRole=" + cluster_role]))
            for job in jobs:
                job.result()
        cluster.api("POST", "/api/v1/namespaces/%s/secrets" % t1, corrupt_record(t1, "corrupt"))
        token = bound_token(cluster, t1, "matih-helm-recoverer", shipped_role("recoverer.yml"))
        before = {namespace: records(cluster, namespace) for namespace in (t1, t2)}
        kubeconfig = cluster.write_kubeconfig(tmp_path / "tenant.kubeconfig", token=token)
        helm_dir = role_runner.counting_helm(tmp_path / "bin", HELM)
        report_dir = tmp_path / "report"
        (tmp_path / "remediate").mkdir()
        run, seconds = role_runner.run_collection_playbook("remediate", tmp_path / "remediate", helm_dir, kubeconfig, {
            "fleet_remediation_namespaces": [t1, t2], "fleet_remediation_timeout": role_runner.wait_timeout(cluster),
            "fleet_remediation_report_dir": str(report_dir),
            # the drift scan too: t1's releases it cannot judge (a ClusterRole, a corrupt record) are reported, not repaired
            "fleet_remediation_detect_drift": True})
        report_path = report_dir / "fleet-remediation.json"
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else None
        markdown_path = report_dir / "fleet-remediation.md"
        markdown = markdown_path.read_text(encoding="utf-8") if markdown_path.exists() else ""
        after_remediation = {namespace: records(cluster, namespace) for namespace in (t1, t2)}
        out = tmp_path / "scan.json"
        scan_run = run_tasks([
            {"name": "drift scan of both tenants", "matih.helm.helm_release_list": {
                "host": cluster.url, "api_key": token, "ca_cert": cluster.ca_cert, "binary_path": HELM,
                "namespaces": [t1, t2], "statuses": ["drifted"]}, "register": "scan", "ignore_errors": True},
            {"name": "write it", "ansible.builtin.copy": {"dest": str(out), "mode": "0600", "content": "{{ scan | to_json }}"}},
        ], tmp_path, name="tenant drift scan")
        assert out.exists(), scan_run.stdout[-4000:] + scan_run.stderr[-4000:]
        yield {"t1": t1, "t2": t2, "cluster_role": cluster_role, "run": run, "seconds": seconds, "report": report,
               "markdown": markdown,
               "calls": role_runner.helm_calls(helm_dir), "before": before, "after_remediation": after_remediation,
               "scan": json.loads(out.read_text(encoding="utf-8"))}
    finally:
        cluster.api("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/" + cluster_role, expect=404)
        for namespace in (t1, t2):
            cluster.delete_namespace(namespace)


def test_a_fleet_over_two_tenants_remediates_the_readable_one_and_reports_the_other(two_tenants):  # pylint: disable=redefined-outer-name
    t1, t2, run, report = two_tenants["t1"], two_tenants["t2"], two_tenants["run"], two_tenants["report"]
    output = "rc=%d\n%s\n%s" % (run.returncode, run.stdout[-8000:], run.stderr[-3000:])
    # a namespace that cannot be read does not fail the run (README, roles/fleet_remediation/README.md)
    assert run.returncode == 0 and report is not None, output
    rows = {(row["namespace"], row["release"]): row for row in report["releases"]}
    assert sorted(rows) == [(t1, RELEASE)], output
    assert rows[(t1, RELEASE)]["outcome"] == "recovered", rows
    # t2 unread; with drift detection, t1's releases it could not judge (the chart's ClusterRole, a corrupt record)
    # are reported, never recovered or repaired
    problems = report["summary"]["discovery_problems"]
    assert sorted((problem["namespace"], problem.get("release") or "", problem["error_kind"]) for problem in problems) == sorted([
        (t2, "", "access_denied"), (t1, "cluster-wide", "access_denied"), (t1, "corrupt", "invalid_release_record")]), problems
    (unread,) = [problem for problem in problems if problem["namespace"] == t2]
    assert "secrets" in unread["msg"] and t2 in unread["msg"], unread
    markdown = two_tenants["markdown"]
    assert "Not read (their releases were not checked): " in markdown, markdown
    for named in ("%s (access_denied)" % t2, "%s/cluster-wide (access_denied)" % t1, "%s/corrupt (invalid_release_record)" % t1):
        assert named in markdown, (named, markdown)
    assert "3 namespace(s) or release(s) could not be read, so they were not checked: " in run.stdout, output
    assert not [argv for argv in two_tenants["calls"] if "corrupt" in argv or "cluster-wide" in argv], two_tenants["calls"]
    # t1: revision 3 deployed (the rollback); t2: nothing written, no Helm call about it
    statuses = {name: status for name, (status, _version) in two_tenants["after_remediation"][t1].items()
                if ".%s." % RELEASE in name}
    assert statuses == {"sh.helm.release.v1.%s.v1" % RELEASE: "superseded", "sh.helm.release.v1.%s.v2" % RELEASE: "failed",
                        "sh.helm.release.v1.%s.v3" % RELEASE: "deployed"}, statuses
    assert two_tenants["after_remediation"][t2] == two_tenants["before"][t2]
    assert not [argv for argv in two_tenants["calls"] if t2 in argv], two_tenants["calls"]
    print("remediate over two tenants, one readable: %.1f s" % two_tenants["seconds"])


def test_a_drift_scan_over_two_tenants_reports_what_it_cannot_read_and_scans_the_rest(two_tenants):  # pylint: disable=redefined-outer-name
    t1, t2, scan = two_tenants["t1"], two_tenants["t2"], two_tenants["scan"]
    assert not scan.get("failed"), scan.get("msg")
    rows = {release["name"]: release for release in scan["releases"]}
    # only drifted releases are returned: none drifted, so the rows are those whose drift could not be judged
    assert sorted(rows) == ["cluster-wide", "corrupt"], scan["releases"]
    # a kind the identity may not read (the chart's ClusterRole): the release is a row with access_denied naming it
    wide = rows["cluster-wide"]
    assert (wide["drifted"], wide["error_kind"]) == (None, "access_denied"), wide
    assert "ClusterRole cluster-wide" in wide["msg"] and "clusterroles" in wide["msg"], wide["msg"]
    # a record that cannot be decoded: its row, and the others are still scanned
    assert (rows["corrupt"]["drifted"], rows["corrupt"]["error_kind"]) == (None, "invalid_release_record"), rows["corrupt"]
    problems = [(problem["namespace"], problem.get("release"), problem["error_kind"]) for problem in scan["problems"]]
    assert (t2, None, "access_denied") in problems and (t1, "cluster-wide", "access_denied") in problems, problems
    assert (t1, "corrupt", "invalid_release_record") in problems, problems
    # web (recovered) and the chart's ConfigMap were read: web is checked and in sync
    assert scan["drift_scan"]["releases"] == 1 and scan["drift_scan"]["drifted"] == 0, scan["drift_scan"]
    assert scan["drift_scan"]["failed"] == 2, scan["drift_scan"]

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.matih.helm.plugins.module_utils import helm_client
from ansible_collections.matih.helm.plugins.module_utils.args import argument_spec
from ansible_collections.matih.helm.plugins.module_utils.connection import connection_flags
from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    ALL_REVISIONS,
    CommandResult,
    HelmClient,
    READ_GOGC,
    HelmError,
    classify_error,
    error_from_result,
    get_manifest_argv,
    get_values_argv,
    history_argv,
    install_argv,
    list_argv,
    parse_version,
    rendered_manifest_argv,
    connection_version_problem,
    detect_version,
    version_problem,
    HelmVersion,
    rollback_argv,
    status_matches,
    uninstall_argv,
    upgrade_argv,
)
from ansible_collections.matih.helm.tests.unit.plugins.module_args import patch_module_args

HELM_VERSIONS = {3: ("v3.17.3", (3, 17, 3)), 4: ("v4.3.1", (4, 3, 1))}
SECRET = "tok-3f9a-never-on-argv"
UNREACHABLE = "http://127.0.0.1:1"


def _helm_cache_dirs():
    # The bootstrap keeps .cache/helm next to .venv at the repository root. ansible-test runs the
    # tests from a mirror of the collection and strips the environment, but keeps the venv.
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [os.path.join(here, *[os.pardir] * 4), os.path.dirname(sys.prefix)]
    return [os.path.join(root, ".cache", "helm") for root in roots]


def real_helm(major):
    tag = HELM_VERSIONS[major][0]
    override = os.environ.get("MATIH_HELM%d" % major)
    candidates = [override] if override else [os.path.join(d, tag, "helm") for d in _helm_cache_dirs()]
    for path in candidates:
        if os.access(path, os.X_OK):
            return os.path.abspath(path)
    pytest.skip("Helm %s not found (run hack/bootstrap.sh or set MATIH_HELM%d)" % (tag, major))


def make_module(**params):
    params.setdefault("name", "web")
    params.setdefault("release_namespace", "shop")
    with patch_module_args(params):
        return AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)


def help_text(binary, *command):
    return subprocess.run([binary] + list(command) + ["--help"], capture_output=True, text=True, check=True).stdout


def flags_of(argv):
    return [arg.split("=")[0] for arg in argv if arg.startswith("--")]


ALL_ROLLBACK_OPTIONS = dict(wait=True, wait_for_jobs=True, timeout="5m", cleanup_on_fail=True, force=True,
                            no_hooks=True, history_max=10, dry_run=True)


@pytest.mark.parametrize(
    "major, options, expected",
    [
        (3, {}, ["--wait"]),
        (4, {}, ["--wait=watcher"]),
        (3, dict(wait=False, wait_for_jobs=True), []),
        (4, dict(wait=False), []),
        (3, dict(wait_for_jobs=True), ["--wait", "--wait-for-jobs"]),
        (4, dict(wait_for_jobs=True), ["--wait=watcher", "--wait-for-jobs"]),
        (3, dict(force=True), ["--wait", "--force"]),
        (4, dict(force=True), ["--wait=watcher", "--force-replace"]),
        (3, dict(dry_run=True), ["--wait", "--dry-run"]),
        (4, dict(dry_run=True), ["--wait=watcher", "--dry-run=server"]),
        (3, dict(timeout="2m30s", cleanup_on_fail=True, no_hooks=True, history_max=0),
         ["--wait", "--timeout", "2m30s", "--cleanup-on-fail", "--no-hooks", "--history-max", "0"]),
        (4, dict(timeout="10m", history_max=5), ["--wait=watcher", "--timeout", "10m", "--history-max", "5"]),
        (5, dict(force=True), ["--wait=watcher", "--force-replace"]),
        # a drift repair takes back the fields a hand edit owns; Helm 3's merge has no conflicts
        (4, dict(force_conflicts=True, dry_run=True), ["--wait=watcher", "--force-conflicts", "--dry-run=server"]),
        (3, dict(force_conflicts=True), ["--wait"]),
    ],
)
def test_rollback_argv(major, options, expected):
    assert rollback_argv(major, "web", "shop", 3, **options) == ["rollback", "web", "3", "--namespace", "shop"] + expected


@pytest.mark.parametrize("revision", [0, -1])
def test_rollback_refuses_helm_previous_revision_shortcut(revision):
    with pytest.raises(ValueError, match="must be >= 1"):
        rollback_argv(3, "web", "shop", revision)


@pytest.mark.parametrize(
    "major, namespace, name_filter, expected",
    [
        (3, None, None, ["--all-namespaces", "--all"]),
        (4, None, None, ["--all-namespaces"]),
        (3, "shop", None, ["--namespace", "shop", "--all"]),
        (4, "shop", "^web$", ["--namespace", "shop", "--filter", "^web$"]),
    ],
)
def test_list_argv(major, namespace, name_filter, expected):
    assert list_argv(major, namespace, name_filter) == ["list", "--output", "json", "--max", "0"] + expected


@pytest.mark.parametrize(
    "argv, expected",
    [
        (history_argv("web", "shop"), ["history", "web", "--namespace", "shop", "--output", "json", "--max", str(ALL_REVISIONS)]),
        (history_argv("web", "shop", 5), ["history", "web", "--namespace", "shop", "--output", "json", "--max", "5"]),
        (get_values_argv("web", "shop", 2), ["get", "values", "web", "--namespace", "shop", "--revision", "2", "--output", "json"]),
        (get_values_argv("web", "shop", 2, all_values=True),
         ["get", "values", "web", "--namespace", "shop", "--revision", "2", "--output", "json", "--all"]),
        (get_manifest_argv("web", "shop", 2), ["get", "manifest", "web", "--namespace", "shop", "--revision", "2"]),
    ],
)
def test_read_argv(argv, expected):
    assert argv == expected


def binaries_to_check():
    """(major, version, path): the two main Helm binaries (version and path None: see real_helm), and
    the version matrix's when MATIH_HELM_MATRIX ("VERSION=PATH ...", set by the helm_matrix gate) names them."""
    matrix = [item.split("=", 1) for item in os.environ.get("MATIH_HELM_MATRIX", "").split()]
    return [pytest.param(3, None, None, id="helm3"), pytest.param(4, None, None, id="helm4")] + [
        pytest.param(int(version.split(".")[0]), version, path, id="helm-" + version) for version, path in matrix]


@pytest.mark.parametrize("major, version, path", binaries_to_check())
def test_every_emitted_flag_exists_in_real_helm(major, version, path):
    helm = path or real_helm(major)
    chart = dict(chart_repo_url="https://charts.example", chart_version="1.2.0", values_file="v.json", wait=True,
                 wait_for_jobs=True, timeout="5m", dry_run=True)
    commands = [
        (("rollback",), rollback_argv(major, "web", "shop", 2, **ALL_ROLLBACK_OPTIONS)),
        (("upgrade",), upgrade_argv(major, "web", "shop", "web", cleanup_on_fail=True, history_max=10, **chart)),
        (("install",), install_argv(major, "web", "shop", "web", replace=True, **chart)),
        (("upgrade",), rendered_manifest_argv(major, "web", "shop", "web", "https://charts.example", "1.2.0", "v.json")),
        (("install",), rendered_manifest_argv(major, "web", "shop", "web", "https://charts.example", "1.2.0", "v.json",
                                              install=True)),
        (("uninstall",), uninstall_argv(major, "web", "shop", keep_history=True, wait=True, timeout="5m", dry_run=True)),
        (("list",), list_argv(major, None, "web")),
        (("history",), history_argv("web", "shop", 3)),
        (("get", "values"), get_values_argv("web", "shop", 2, all_values=True)),
        (("get", "manifest"), get_manifest_argv("web", "shop", 2)),
        # validate_certs=false only where Helm has the flag (the others refuse it: connection_version_problem)
        (("history",), connection_flags({"context": "c", "host": "h", "ca_cert": "f",
                                         "validate_certs": connection_version_problem(
                                             {"validate_certs": False}, parse_version(version or HELM_VERSIONS[major][0]))
                                         is not None}, "k")),
    ]
    for command, argv in commands:
        text = help_text(helm, *command)
        for flag in flags_of(argv):
            assert " %s " % flag in text or " %s[=" % flag in text, "helm %s %s has no %s" % (
                version or HELM_VERSIONS[major][0], " ".join(command), flag)


def test_helm4_wait_takes_a_strategy_and_helm3_list_needs_all():
    assert "--wait WaitStrategy[=watcher]" in help_text(real_helm(4), "rollback")
    assert "-a, --all " in help_text(real_helm(3), "list")
    assert "--all " not in help_text(real_helm(4), "list")


@pytest.mark.parametrize(
    "stderr, kind",
    [
        ("Error: release: not found\n", "release_not_found"),
        ("Error: release has no 99 version\n", "revision_not_found"),
        ('Error: Kubernetes cluster unreachable: Get "https://x/version": dial tcp: connect: connection refused',
         "cluster_unreachable"),
        ('Error: kubernetes cluster unreachable: Get "https://x/version": dial tcp: lookup x: no such host',
         "cluster_unreachable"),
        ("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress", "operation_in_progress"),
        ("Error: release: already exists", "revision_taken"),
        # the API server answered 503 or 429: as transient as no answer
        ("Error: create: failed to create: the server is currently unable to handle the request (post secrets)",
         "cluster_unreachable"),
        ("Error: the server has received too many requests and has asked us to try again later (post secrets)",
         "throttled"),
        # a short outage logged on the way does not decide: the final error does
        ("W1126 watch failed: dial tcp 127.0.0.1:1: connect: connection refused\n"
         "Error: release shop failed: resource Deployment/faults/shop not ready\ncontext deadline exceeded", "timeout"),
        ("Error: release web failed: context deadline exceeded", "timeout"),
        ("Error: timed out waiting for the condition", "timeout"),
        ('Error: secrets is forbidden: User "dev" cannot list resource "secrets"', "access_denied"),
        ("Error: Unauthorized", "access_denied"),
        ("Error: Kubernetes cluster unreachable: the server has asked for the client to provide credentials",
         "access_denied"),
        ('Error: Kubernetes cluster unreachable: error loading config file "/k": yaml: did not find expected key',
         "invalid_kubeconfig"),
        ('Error: kubernetes cluster unreachable: error loading config file "/k": couldn\'t get version/kind; json '
         'parse error', "invalid_kubeconfig"),
        ('Error: kubernetes cluster unreachable: context "nope" does not exist', "unknown_context"),
        ('Error: Kubernetes cluster unreachable: Get "http://localhost:8080/version": dial tcp 127.0.0.1:8080: '
         'connect: connection refused', "no_api_server"),
        ("panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV]\n\n"
         "goroutine 1 [running]:\nmain.getReleaseHistory()\n\thelm.sh/helm/v3/cmd/helm/history.go:140", "helm_crashed"),
        ("Error: something else entirely", "helm_failed"),
        ("", "helm_failed"),
        (None, "helm_failed"),
    ],
)
def test_classify_error(stderr, kind):
    assert classify_error(stderr) == kind


# Kubernetes says "is forbidden" both when RBAC denies the caller and when admission refuses an object;
# RBAC's wording always goes on with 'User "..." cannot <verb> ...'.
@pytest.mark.parametrize("stderr, kind", [
    # RBAC and authentication: the credentials or their rights
    ('Error: list: failed to list: secrets is forbidden: User "system:serviceaccount:shop:deployer" cannot list '
     'resource "secrets" in API group "" in the namespace "shop"', "access_denied"),
    ('Error: query: failed to query with labels: secrets is forbidden: User "dev" cannot list resource "secrets" '
     'in API group "" at the cluster scope', "access_denied"),
    ('Error: UPGRADE FAILED: cannot patch "web" with kind Deployment: deployments.apps "web" is forbidden: User '
     '"system:serviceaccount:shop:deployer" cannot patch resource "deployments" in API group "apps" in the namespace '
     '"shop"', "access_denied"),
    ('Error: Kubernetes cluster unreachable: Get "https://k:6443/version": forbidden: User "system:anonymous" '
     'cannot get path "/version"', "access_denied"),
    ("Error: Kubernetes cluster unreachable: Unauthorized", "access_denied"),
    ("Error: Kubernetes cluster unreachable: the server has asked for the client to provide credentials",
     "access_denied"),
    ("error: You must be logged in to the server (Unauthorized)", "access_denied"),
    # admission and validation: the cluster refused the release's objects
    ('Error: failed to create resource: deployments.apps "web" is forbidden: exceeded quota: shop-quota, requested: '
     'count/deployments.apps=1, used: count/deployments.apps=5, limited: count/deployments.apps=5', "rejected"),
    ('Error: persistentvolumeclaims "data-web-0" is forbidden: exceeded quota: storage, requested: '
     'requests.storage=1500Gi, used: requests.storage=1102Gi, limited: requests.storage=2Ti', "rejected"),
    ('Error: release web failed: pods "web-migrate" is forbidden: failed quota: shop-quota: must specify '
     'limits.cpu,limits.memory', "rejected"),
    ('Error: pods "web-migrate" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation '
     '!= false (container "web" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true '
     '(pod or container "web" must set securityContext.runAsNonRoot=true)', "rejected"),
    ('Error: pods "web" is forbidden: maximum cpu usage per Container is 1, but limit is 2', "rejected"),
    ('Error: UPGRADE FAILED: cannot patch "web" with kind Deployment: admission webhook "validation.gatekeeper.sh" '
     'denied the request: [must-have-owner] you must provide labels: {"owner"}', "rejected"),
    ('Error: deployments.apps "web" is forbidden: ValidatingAdmissionPolicy \'replica-limit\' with binding '
     '\'replica-limit-shop\' denied request: replicas must be at most 5', "rejected"),
    ('Error: UPGRADE FAILED: PodDisruptionBudget.policy "web" is invalid: spec: Forbidden: updates to '
     'poddisruptionbudget spec are forbidden', "rejected"),
    ('Error: cannot patch "shop-config" with kind ConfigMap: ConfigMap "shop-config" is invalid: data[reject]: '
     'Forbidden: refused by the kubeemu admission policy (a data key or value "reject")', "rejected"),
    ('Error: UPGRADE FAILED: cannot patch "web" with kind Deployment: Deployment.apps "web" is invalid: '
     'spec.selector: Invalid value: {"matchLabels":{"app":"web2"}}: field is immutable', "rejected"),
    ('Error: create: failed to create: secrets "sh.helm.release.v1.web.v4" is forbidden: unable to create new '
     'content in namespace shop because it is being terminated', "rejected"),
])
def test_classify_error_tells_rejected_objects_from_denied_access(stderr, kind):
    assert classify_error(stderr) == kind


def test_rejected_hint_points_at_the_objects_not_the_credentials():
    error = error_from_result(CommandResult(
        ["helm", "rollback", "web", "2"], 1, "",
        'Error: pods "web-migrate" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true\n'))
    assert error.kind == "rejected"
    assert "refused the release's objects" in error.message and "credentials are not the problem" in error.message
    assert "chart values" in error.message and 'violates PodSecurity "restricted:latest"' in error.message


def test_error_message_names_the_problem_and_keeps_the_details():
    command = ["/usr/bin/helm", "get", "values", "web", "--revision", "9"]
    error = error_from_result(CommandResult(command, 1, "", "WARNING: x\nError: release has no 9 version\n"))
    assert error.kind == "revision_not_found"
    assert "pruned" in error.message and "helm get values exited 1: Error: release has no 9 version" in error.message
    assert error.fail_kwargs() == dict(msg=error.message, error_kind="revision_not_found", rc=1, stdout="",
                                       stderr="WARNING: x\nError: release has no 9 version\n", command=command)


@pytest.mark.parametrize(
    "text, expected",
    [("v3.17.3", (3, 17, 3)), ("v4.3.1\n", (4, 3, 1)), ("3.10.0-rc.1", (3, 10, 0)), ("", None), ("Usage: x", None)],
)
def test_parse_version(text, expected):
    assert parse_version(text) == (expected and tuple(expected))


@pytest.mark.parametrize("version, fragment", [
    ((3, 8, 0), None), ((3, 22, 0), None), ((4, 0, 0), None), ((4, 3, 1), None),
    ((3, 7, 2), "Helm 3.7.2 is older than 3.8.0, the oldest Helm matih.helm is tested with"),
    ((2, 17, 0), "Helm 2.17.0 is not supported"),
    ((5, 0, 0), "Helm 5.0.0 is not supported (matih.helm works with Helm 3 and Helm 4)"),
])
def test_version_problem(version, fragment):
    problem = version_problem(HelmVersion(*version))
    assert problem is None if fragment is None else fragment in problem


@pytest.mark.parametrize("params, version, fragment", [
    ({"validate_certs": False}, (3, 10, 0), None),
    ({"validate_certs": False}, (4, 0, 0), None),
    ({"validate_certs": True}, (3, 8, 2), None),
    ({}, (3, 9, 4), None),
    ({"validate_certs": False}, (3, 9, 4), "validate_certs=false needs Helm 3.10.0 or newer: Helm 3.9.4 has no "
                                           "--kube-insecure-skip-tls-verify"),
])
def test_connection_version_problem(params, version, fragment):
    problem = connection_version_problem(params, HelmVersion(*version))
    assert problem is None if fragment is None else fragment in problem and "ca_cert" in problem


def test_insecure_connection_on_helm_without_the_flag_is_refused_before_helm_runs(monkeypatch):
    monkeypatch.setattr(helm_client, "detect_version", lambda module, binary: HelmVersion(3, 9, 4))
    module = make_module(binary_path=real_helm(3), validate_certs=False)
    monkeypatch.setattr(module, "run_command", lambda *args, **kwargs: pytest.fail("Helm must not run"))
    with pytest.raises(HelmError) as caught:
        HelmClient(module)
    assert caught.value.kind == "unsupported_version" and "needs Helm 3.10.0 or newer" in caught.value.message


def test_too_old_helm_is_refused_with_the_minimum(monkeypatch, tmp_path):
    module = make_module()
    monkeypatch.setattr(module, "run_command", lambda argv, **kwargs: (0, "v3.7.2", ""))
    with pytest.raises(HelmError) as caught:
        detect_version(module, str(tmp_path / "old-helm"))
    assert caught.value.kind == "unsupported_version"
    assert "older than 3.8.0" in caught.value.message and "Helm 3.8 or newer" in caught.value.message


@pytest.mark.parametrize("major", [3, 4])
def test_version_detection_with_real_helm(major):
    client = HelmClient(make_module(binary_path=real_helm(major)))
    assert tuple(client.version()) == HELM_VERSIONS[major][1]
    assert client.major == major


@pytest.mark.parametrize("major", [3, 4])
def test_token_reaches_helm_only_through_the_environment(major, monkeypatch):
    module = make_module(binary_path=real_helm(major), host=UNREACHABLE, api_key=SECRET)
    seen = []
    run_command = module.run_command

    def spy(argv, **kwargs):
        seen.append((argv, kwargs.get("environ_update") or {}))
        return run_command(argv, **kwargs)

    monkeypatch.setattr(module, "run_command", spy)
    client = HelmClient(module)
    with pytest.raises(HelmError) as caught:
        client.history("web", "shop")
    assert caught.value.kind == "cluster_unreachable"
    assert SECRET not in json.dumps(caught.value.fail_kwargs())
    assert all(SECRET not in " ".join(argv) for argv, environ in seen)
    assert seen[-1][1] == {"HELM_KUBETOKEN": SECRET, "GOGC": READ_GOGC}
    assert SECRET in module.no_log_values


@pytest.mark.parametrize("user_gogc", [None, "50"])
def test_only_reads_relax_the_garbage_collector(user_gogc, monkeypatch):
    if user_gogc is None:
        monkeypatch.delenv("GOGC", raising=False)
    else:
        monkeypatch.setenv("GOGC", user_gogc)
    module = make_module(binary_path=real_helm(3), host=UNREACHABLE, api_key=SECRET)
    client = HelmClient(module)
    seen = {}

    def spy(argv, environ_update=None):
        seen[argv[1]] = environ_update
        return 0, "", ""

    monkeypatch.setattr(module, "run_command", spy)
    client.run(["history", "web"], read_only=True)
    client.run(["rollback", "web", "1"])
    relaxed = {} if user_gogc else {"GOGC": READ_GOGC}
    assert seen["history"] == dict(relaxed, HELM_KUBETOKEN=SECRET)
    assert seen["rollback"] == {"HELM_KUBETOKEN": SECRET}


def test_missing_binary_path_is_named():
    with pytest.raises(HelmError) as caught:
        HelmClient(make_module(binary_path="/nonexistent/helm"))
    assert caught.value.kind == "binary_not_found" and "binary_path" in caught.value.message


def test_helm_missing_from_path_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HelmError) as caught:
        HelmClient(make_module())
    assert caught.value.kind == "binary_not_found" and "binary_path" in caught.value.message


@pytest.mark.parametrize("binary", ["/bin/true", "/bin/echo", "/bin/false"])
def test_binary_that_is_not_helm(binary):
    with pytest.raises(HelmError) as caught:
        HelmClient(make_module(binary_path=binary))
    assert caught.value.kind == "not_helm"
    assert binary in caught.value.message and "binary_path" in caught.value.message


def test_a_go_panic_is_reported_by_its_first_line_with_the_way_out():
    stderr = ("panic: runtime error: invalid memory address or nil pointer dereference\n"
              "[signal SIGSEGV: segmentation violation code=0x1 addr=0x58 pc=0x1d60900]\n\ngoroutine 1 [running]:\n"
              "main.main()\n\thelm.sh/helm/v3/cmd/helm/helm.go:85 +0x209\n")
    error = error_from_result(CommandResult(["helm", "history", "web"], 2, "", stderr))
    assert error.kind == "helm_crashed"
    assert "helm history exited 2: panic: runtime error: invalid memory address" in error.message
    assert "kubectl get secrets -l owner=helm" in error.message and "helm.go:85" not in error.message


ChartConfig = collections.namedtuple("ChartConfig", "chart_ref chart_repo_url chart_version")


class StubbedHelm(HelmClient):
    """A client whose Helm calls are answered by ``answer(args)``; everything else is real."""

    def __init__(self, answer, major=3):
        self.answer = answer
        self.calls = []
        self._flags, self._environ, self._version = [], {}, parse_version("v%d.0.0" % major)

    def run(self, args, read_only=False):
        self.calls.append(list(args))
        return CommandResult(["helm"] + list(args), 0, self.answer(args), "")


def test_get_values_many_runs_concurrently():
    active, peak, lock = [0], [0], threading.Lock()

    def answer(args):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return json.dumps({"revision": int(args[args.index("--revision") + 1])})

    helm = StubbedHelm(answer)
    revisions = list(range(1, 51))
    values = helm.get_values_many("web", "shop", revisions)
    assert values == {rev: {"revision": rev} for rev in revisions}
    assert 1 < peak[0] <= 8


@pytest.mark.parametrize("major, install, expected", [
    (3, False, ["upgrade", "web", "web", "--namespace", "shop", "--reset-values", "--repo", "https://charts.example",
                "--version", "1.2.0", "--values", "v.json", "--dry-run", "--output", "json"]),
    (4, False, ["upgrade", "web", "web", "--namespace", "shop", "--reset-values", "--repo", "https://charts.example",
                "--version", "1.2.0", "--values", "v.json", "--dry-run=server", "--output", "json"]),
    (3, True, ["install", "web", "web", "--namespace", "shop", "--repo", "https://charts.example", "--version", "1.2.0",
               "--values", "v.json", "--dry-run", "--output", "json"]),
    (4, True, ["install", "web", "web", "--namespace", "shop", "--repo", "https://charts.example", "--version", "1.2.0",
               "--values", "v.json", "--dry-run=server", "--output", "json"]),
])
def test_rendered_manifest_is_a_dry_run_printing_json(major, install, expected):
    printed = json.dumps({"name": "web", "version": 4, "info": {"status": "pending-upgrade"}, "manifest": "---\nkind: A\n",
                          "hooks": [{"manifest": "kind: Job"}]})
    helm = StubbedHelm(lambda args: printed, major)
    config = ChartConfig("web", "https://charts.example", "1.2.0")
    # the write's own options (wait, timeout...) change nothing in what is rendered
    assert helm.rendered_manifest("web", "shop", config, "v.json", install=install, timeout="5m", wait=True) == \
        "---\nkind: A\n"
    assert helm.calls == [expected]


@pytest.mark.parametrize("printed", ["null", "[]", '{"name": "web"}', '{"manifest": 3}'])
def test_rendered_manifest_without_a_manifest(printed):
    with pytest.raises(HelmError) as caught:
        StubbedHelm(lambda args: printed).rendered_manifest("web", "shop", ChartConfig("web", "", ""), None)
    assert caught.value.kind == "invalid_output"


def test_get_values_null_is_empty():
    assert StubbedHelm(lambda args: "null").get_values("web", "shop", 1) == {}


def test_invalid_json_is_reported():
    with pytest.raises(HelmError) as caught:
        StubbedHelm(lambda args: "Error-ish text").history("web", "shop")
    assert caught.value.kind == "invalid_output"


@pytest.mark.parametrize(
    "statuses, expected",
    [
        (None, ["a", "b", "c", "d"]),
        (["failed"], ["b"]),
        (["pending"], ["c"]),
        (["pending-upgrade", "failed"], ["b", "c"]),
        (["unknown"], ["d"]),
    ],
)
def test_list_releases_filters_on_latest_status(statuses, expected):
    listed = [{"name": "a", "status": "deployed"}, {"name": "b", "status": "failed"},
              {"name": "c", "status": "pending-upgrade"}, {"name": "d", "status": "unknown"}]
    helm = StubbedHelm(lambda args: json.dumps(listed), major=4)
    assert [item["name"] for item in helm.list_releases(statuses=statuses)] == expected
    assert helm.calls == [list_argv(4)]


LISTED_EVERYWHERE = [
    {"name": "web", "namespace": "team-a", "status": "deployed"},
    {"name": "api", "namespace": "team-b", "status": "failed"},
    {"name": "web-canary", "namespace": "team-c", "status": "pending-rollback"},
    {"name": "db", "namespace": "team-a", "status": "superseded"},
]


@pytest.mark.parametrize(
    "namespaces, statuses, name_pattern, expected_argvs, expected",
    [
        (None, None, None, [list_argv(3)], ["web", "api", "web-canary", "db"]),
        ([], None, None, [list_argv(3)], ["web", "api", "web-canary", "db"]),
        (["team-a"], None, None, [list_argv(3, "team-a")], ["web", "db"]),
        (["team-a", "team-a"], None, None, [list_argv(3, "team-a")], ["web", "db"]),
        (["team-a", "team-b"], None, None, [list_argv(3, "team-a"), list_argv(3, "team-b")], ["web", "db", "api"]),
        (["team-c", "team-b"], ["pending"], None, [list_argv(3, "team-b"), list_argv(3, "team-c")], ["web-canary"]),
        (None, None, "^web", [list_argv(3)], ["web", "web-canary"]),
        (None, None, "^web$", [list_argv(3)], ["web"]),
        (None, None, "b", [list_argv(3)], ["web", "web-canary", "db"]),
        (["team-a", "team-c"], ["deployed", "pending"], "web", [list_argv(3, "team-a"), list_argv(3, "team-c")],
         ["web", "web-canary"]),
        (["team-z", "team-y"], None, None, [list_argv(3, "team-y"), list_argv(3, "team-z")], []),
    ],
)
def test_list_releases_is_one_helm_call_per_namespace(namespaces, statuses, name_pattern, expected_argvs, expected):
    def answer(args):
        if "--namespace" in args:
            namespace = args[args.index("--namespace") + 1]
            return json.dumps([entry for entry in LISTED_EVERYWHERE if entry["namespace"] == namespace])
        return json.dumps(LISTED_EVERYWHERE)

    helm = StubbedHelm(answer)
    assert [item["name"] for item in helm.list_releases(namespaces, statuses, name_pattern)] == expected
    assert sorted(helm.calls) == sorted(expected_argvs)


def test_list_releases_null_output_is_empty():
    helm = StubbedHelm(lambda args: "null", major=4)
    assert helm.list_releases(["team-a", "team-b"], ["failed"]) == []
    assert sorted(helm.calls) == [list_argv(4, "team-a"), list_argv(4, "team-b")]


@pytest.mark.parametrize("status, wanted, expected", [
    ("pending-install", ["pending"], True), ("failed", ["deployed"], False), ("failed", [], True),
])
def test_status_matches(status, wanted, expected):
    assert status_matches(status, wanted) is expected

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place that runs Helm: binary lookup, version detection, flags per Helm major, errors.

Commands are argv lists run through ``module.run_command`` (never a shell). The argv builders
are pure functions of the Helm major version so they can be tested without Helm. Secrets never
reach the command line: ``api_key`` travels in the ``HELM_KUBETOKEN`` environment variable
(read by Helm 3 and 4 like ``--kube-token``) and an inline kubeconfig goes to a 0600 temporary
file removed when the module exits. The argv Helm ran is therefore safe to return as ``command``.
How Helm connects (its flags and environment, the kubeconfig checks) comes from
module_utils/connection.py.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from ansible_collections.matih.helm.plugins.module_utils.connection import Connection, write_private_file
from ansible_collections.matih.helm.plugins.module_utils.errors import TaskError

HelmVersion = namedtuple("HelmVersion", ["major", "minor", "patch"])
CommandResult = namedtuple("CommandResult", ["command", "rc", "stdout", "stderr"])

SUPPORTED_MAJORS = (3, 4)
# The oldest Helm the version matrix of `make test` passes on (hack/helm-matrix.sh).
MINIMUM_VERSION = HelmVersion(3, 8, 0)
# Helm 3.10.0 added --kube-insecure-skip-tls-verify (validate_certs=false).
INSECURE_FLAG_VERSION = HelmVersion(3, 10, 0)
MAX_WORKERS = 8
# Helm's own default for `helm history` is the newest 256 revisions; ask for all of them.
ALL_REVISIONS = 2 ** 31 - 1

# A read (history, values, list) is a Helm process of a few tens of milliseconds, most of it start-up,
# during which Go's default collector (GOGC=100) runs several cycles: at 400 a read is about a quarter
# faster, and the heap of a process that short stays small. Operations that may run for minutes (rollback,
# upgrade, install with --wait) keep Go's default, and so does a GOGC the user set.
READ_GOGC = "400"

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")

# stderr patterns (pattern, flags), first match wins; plain strings, so re compiles (and caches) them only
# when a Helm call fails. Helm 4 writes "kubernetes cluster unreachable" in lowercase.
# The kubeconfig kinds come before cluster_unreachable: Helm reports them all as "cluster unreachable".
ERROR_KINDS = (
    ("helm_crashed", r"^panic: ", re.M),
    ("release_not_found", r"release: not found", re.I),
    # Helm's storage create failed with 409: a concurrent writer stored this revision number first.
    ("revision_taken", r"release: already exists", re.I),
    ("revision_not_found", r"release has no -?\d+ version", re.I),
    ("operation_in_progress", r"another operation \(install/upgrade/rollback\) is in progress", re.I),
    ("invalid_kubeconfig", r"error loading config file|couldn't get version/kind|invalid configuration:", re.I),
    ("unknown_context", r'context "[^"]*" does not exist', re.I),
    # No cluster server in the kubeconfig: client-go falls back to http://localhost:8080.
    ("no_api_server", r"//localhost:8080/.*connection refused", re.I),
    # The cluster refused the release's objects. Kubernetes says "is forbidden" for admission as well as for
    # RBAC; only RBAC continues with 'User "..." cannot <verb> ...', so every other "is forbidden:" is
    # admission (ResourceQuota, LimitRange, PodSecurity, ValidatingAdmissionPolicy). "is invalid:" is
    # object validation (its field errors may say "Forbidden:" too); webhooks say "denied the request".
    ("rejected", r'\bis forbidden: (?!User "[^"]*" cannot )|admission webhook "[^"]*" denied the request|'
                 r"\bis invalid: ", re.I),
    # Helm reports rejected credentials as "cluster unreachable" too.
    ("access_denied", r"\bforbidden\b|\bunauthorized\b|must be logged in|"
                      r"asked for the client to provide credentials", re.I),
    # The API server answered, but could not serve the request (503, an etcd timeout) or throttled it (429): an
    # outage or overload, as transient as no answer at all.
    ("throttled", r"the server has received too many requests|too many requests", re.I),
    ("cluster_unreachable", r"kubernetes cluster unreachable|connection refused|no such host|"
                            r"the server is currently unable to handle the request|etcdserver: request timed out|"
                            r"http2: client connection lost|TLS handshake timeout|"
                            r"the server was unable to return a response in the time allotted", re.I),
    ("timeout", r"context deadline exceeded|timed out waiting", re.I),
)
ERROR_HINTS = {
    "helm_crashed": "Helm crashed while reading the release records; one of them is probably corrupt or was not "
                    "written by Helm. Inspect the release's storage Secrets (kubectl get secrets -l owner=helm,name=NAME "
                    "-n NAMESPACE) and delete or restore the broken one",
    "release_not_found": "The release does not exist in this namespace",
    "revision_not_found": "The revision is not in the release history (Helm may have pruned it: --history-max)",
    "revision_taken": "Another Helm operation stored the same revision number first (two writers on one release "
                      "at once); read the history again and decide whether a rollback is still needed",
    "operation_in_progress": "Another Helm operation holds the release (a pending-* revision); a rollback is the way out",
    "invalid_kubeconfig": "The kubeconfig could not be loaded; set the kubeconfig option to a valid kubeconfig file "
                          "or dictionary (clusters, users, contexts)",
    "unknown_context": "The context is not in the kubeconfig; set the context option to one of the kubeconfig's "
                       "contexts, or leave it unset to use current-context",
    "no_api_server": "No API server is configured: the kubeconfig names no cluster server for the context; set the "
                     "kubeconfig, context or host option",
    "cluster_unreachable": "The Kubernetes API server could not be reached, or could not serve the request (503); check "
                           "kubeconfig, context, host and network, and the API server's health",
    "throttled": "The Kubernetes API server throttled the requests (429: API priority and fairness); retry later",
    "timeout": "Helm timed out waiting for resources; raise timeout or check why the workloads are not ready",
    "access_denied": "The Kubernetes API rejected the credentials or they lack the permissions; check api_key or the "
                     "kubeconfig user, and the RBAC rights on the release namespace",
    "rejected": "The cluster refused the release's objects (a ResourceQuota or LimitRange, the namespace's PodSecurity "
                "level, an admission webhook or policy, or object validation); the credentials are not the problem. "
                "Fix the chart values or roll back to another revision, or have the policy changed; Helm's error "
                "names the rule",
    "helm_failed": "Helm failed",
}


class HelmError(TaskError):
    """A Helm call that failed, classified by ``kind`` (a key of ERROR_HINTS, or a setup problem:
    binary_not_found, not_helm, unsupported_version, invalid_output), with Helm's exit code, output
    and argv. A broken kubeconfig is a KubeError (module_utils/connection.py)."""

    def __init__(self, kind, message, rc=None, stdout="", stderr="", command=None):
        super(HelmError, self).__init__(kind, message)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.command = command

    def fail_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for ``module.fail_json``."""
        return dict(
            msg=self.message, error_kind=self.kind, rc=self.rc, stdout=self.stdout, stderr=self.stderr,
            command=self.command,
        )


def run_task(module, problems: Iterable[Optional[str]], task: Callable[[], Dict[str, Any]]) -> None:
    """The end of every module's ``main()``: fail with all option ``problems`` at once (None entries are
    no problem) before Helm runs, otherwise exit with ``task()``'s result. A TaskError from ``task``
    (a HelmError with Helm's details, a KubeError) fails the task with its ``fail_kwargs``."""
    problems = [problem for problem in problems if problem]
    if problems:
        module.fail_json(msg="; ".join(problems))
    try:
        result = task()
    except TaskError as error:
        module.fail_json(**error.fail_kwargs())
    module.exit_json(**result)


def classify_error(stderr: str) -> str:
    """The kind of a Helm failure, from its stderr: Helm's final ``Error:`` message decides, so
    retries client-go logged on the way (e.g. "connection refused" during a short outage before a
    wait timed out) do not; the whole text is the fallback (a panic has no ``Error:`` line)."""
    text = stderr or ""
    final_error = text[text.rfind("Error:"):] if "Error:" in text else None
    for scope in (final_error, text):
        for kind, pattern, flags in ERROR_KINDS:
            if scope and re.search(pattern, scope, flags):
                return kind
    return "helm_failed"


def error_from_result(result: CommandResult) -> HelmError:
    kind = classify_error(result.stderr)
    words = 2 if result.command[1:2] == ["get"] else 1
    subcommand = " ".join(result.command[1:1 + words])
    message = "%s (helm %s exited %s: %s)" % (
        ERROR_HINTS[kind], subcommand, result.rc, _helm_error_line(result.stderr) or "no error message",
    )
    return HelmError(kind, message, result.rc, result.stdout, result.stderr, result.command)


def _helm_error_line(stderr: str) -> str:
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    # A Go panic ends with a goroutine dump; its first line says what went wrong.
    errors = [line for line in lines if line.startswith("panic: ")][:1] or [
        line for line in lines if line.startswith("Error:")]
    return (errors or lines or [""])[-1]


def parse_version(text: str) -> Optional[HelmVersion]:
    match = _VERSION.match((text or "").strip())
    return HelmVersion(*(int(part) for part in match.groups())) if match else None


def version_string(version: HelmVersion) -> str:
    return "%d.%d.%d" % version


def read_environ() -> Dict[str, str]:
    """Extra environment for a short Helm read: READ_GOGC, unless the user set GOGC."""
    return {} if "GOGC" in os.environ else {"GOGC": READ_GOGC}


def history_argv(name: str, namespace: str, max_revisions: Optional[int] = None) -> List[str]:
    return ["history", name, "--namespace", namespace, "--output", "json",
            "--max", str(max_revisions or ALL_REVISIONS)]


def get_values_argv(name: str, namespace: str, revision: int, all_values: bool = False) -> List[str]:
    argv = ["get", "values", name, "--namespace", namespace, "--revision", str(revision), "--output", "json"]
    return argv + ["--all"] if all_values else argv


def get_manifest_argv(name: str, namespace: str, revision: int) -> List[str]:
    return ["get", "manifest", name, "--namespace", namespace, "--revision", str(revision)]


def rollback_argv(major, name, namespace, revision, wait=True, wait_for_jobs=False, timeout=None,
                  cleanup_on_fail=False, force=False, no_hooks=False, history_max=None, dry_run=False,
                  force_conflicts=False):
    """``helm rollback`` argv for Helm ``major`` (3 or 4; later majors are driven like 4).
    ``force_conflicts``: Helm 4's server-side apply takes back fields another manager (a hand edit,
    ``kubectl scale``) owns; Helm 3's three-way merge overwrites them anyway and has no such flag."""
    if int(revision) < 1:
        # Helm reads 0 as "the revision before the latest", which may well be a failed one.
        raise ValueError("rollback revision must be >= 1, got %r" % (revision,))
    helm3 = major < 4
    argv = ["rollback", name, str(revision), "--namespace", namespace]
    argv += _wait_flags(major, wait, wait_for_jobs)
    if timeout:
        argv += ["--timeout", str(timeout)]
    if cleanup_on_fail:
        argv.append("--cleanup-on-fail")
    if force:
        argv.append("--force" if helm3 else "--force-replace")
    if no_hooks:
        argv.append("--no-hooks")
    if force_conflicts and not helm3:
        argv.append("--force-conflicts")
    if history_max is not None:
        argv += ["--history-max", str(history_max)]
    if dry_run:
        argv.append(_dry_run_flag(major))
    return argv


def _wait_flags(major: int, wait: bool, wait_for_jobs: bool = False) -> List[str]:
    # Helm 4's --wait takes a strategy; "watcher" is what a bare --wait means there.
    flags = ["--wait" if major < 4 else "--wait=watcher"] if wait else []
    return flags + (["--wait-for-jobs"] if wait and wait_for_jobs else [])


def _dry_run_flag(major: int) -> str:
    # Helm 4's plain --dry-run means client-side; the server-side dry run is Helm 3's --dry-run.
    return "--dry-run" if major < 4 else "--dry-run=server"


def _chart_flags(chart_repo_url: str = "", chart_version: str = "", values_file: Optional[str] = None) -> List[str]:
    flags = ["--repo", chart_repo_url] if chart_repo_url else []
    flags += ["--version", chart_version] if chart_version else []
    return flags + (["--values", values_file] if values_file else [])


def upgrade_argv(major, name, namespace, chart_ref, chart_repo_url="", chart_version="", values_file=None, wait=True,
                 wait_for_jobs=False, timeout=None, cleanup_on_fail=False, history_max=None, dry_run=False):
    """``helm upgrade`` argv with the given chart and values only (``--reset-values``: nothing of the
    failed revision is reused), never atomic: a failed upgrade stays failed for the next step to see."""
    argv = ["upgrade", name, chart_ref, "--namespace", namespace, "--reset-values"]
    argv += _chart_flags(chart_repo_url, chart_version, values_file) + _wait_flags(major, wait, wait_for_jobs)
    argv += ["--timeout", str(timeout)] if timeout else []
    argv += ["--cleanup-on-fail"] if cleanup_on_fail else []
    argv += ["--history-max", str(history_max)] if history_max is not None else []
    return argv + ([_dry_run_flag(major)] if dry_run else [])


def install_argv(major, name, namespace, chart_ref, chart_repo_url="", chart_version="", values_file=None, wait=True,
                 wait_for_jobs=False, timeout=None, replace=False, dry_run=False):
    """``helm install`` argv; ``replace`` re-uses the name of a release uninstalled with its history kept."""
    argv = ["install", name, chart_ref, "--namespace", namespace]
    argv += _chart_flags(chart_repo_url, chart_version, values_file) + _wait_flags(major, wait, wait_for_jobs)
    argv += ["--timeout", str(timeout)] if timeout else []
    argv += ["--replace"] if replace else []
    return argv + ([_dry_run_flag(major)] if dry_run else [])


def rendered_manifest_argv(major, name, namespace, chart_ref, chart_repo_url="", chart_version="", values_file=None,
                           install=False):
    """The dry run that prints what an upgrade (``install``: a fresh install) would apply, as JSON: upgrade_argv's
    or install_argv's flags, no wait, ``--output json``. Helm stores nothing on a dry run."""
    build = install_argv if install else upgrade_argv
    return build(major, name, namespace, chart_ref, chart_repo_url, chart_version, values_file, wait=False,
                 dry_run=True) + ["--output", "json"]


def uninstall_argv(major, name, namespace, keep_history=True, wait=True, timeout=None, dry_run=False):
    """``helm uninstall`` argv; ``keep_history`` keeps the revisions (``--keep-history``)."""
    argv = ["uninstall", name, "--namespace", namespace]
    argv += ["--keep-history"] if keep_history else []
    argv += _wait_flags(major, wait)
    argv += ["--timeout", str(timeout)] if timeout else []
    return argv + (["--dry-run"] if dry_run else [])


def list_argv(major: int, namespace: Optional[str] = None, name_filter: Optional[str] = None) -> List[str]:
    """``helm list`` argv that returns every release in every status, without truncation.

    Status flags are not used: Helm applies them to each stored revision before keeping the
    newest per release, so ``--failed`` would report an old failed revision of a release that
    is healthy today. Statuses are filtered on the true latest revision instead.
    """
    argv = ["list", "--output", "json", "--max", "0"]  # --max 0 means no limit
    argv += ["--all-namespaces"] if namespace is None else ["--namespace", namespace]
    if major < 4:
        argv.append("--all")  # Helm 3 hides pending, superseded and uninstalled releases otherwise
    if name_filter:
        argv += ["--filter", name_filter]
    return argv


def status_matches(status: str, wanted: Optional[Iterable[str]]) -> bool:
    """Whether a Helm status is among ``wanted`` ("pending" stands for any pending-* status)."""
    if not wanted:
        return True
    wanted = set(wanted)
    return status in wanted or ("pending" in wanted and status.startswith("pending-"))


def run_concurrently(function: Callable[[Any], Any], items: Sequence[Any]) -> List[Any]:
    """``function`` over ``items`` on a small thread pool, results in input order."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(items))) as pool:
        return list(pool.map(function, items))


class HelmClient(object):
    """Runs Helm for one module invocation. Raises HelmError when Helm is missing or unusable,
    KubeError when the kubeconfig option is broken (Connection.from_module)."""

    def __init__(self, module, connection: Optional[Connection] = None):
        self.module = module
        self.binary = find_helm_binary(module)
        self.connection = connection or Connection.from_module(module)
        self._flags = self.connection.helm_flags()
        self._environ = self.connection.helm_environ()
        # Read once, before anything else runs, so a binary that is not Helm is named as such.
        self._version = detect_version(module, self.binary)
        problem = connection_version_problem(module.params, self._version)
        if problem:
            raise HelmError("unsupported_version", problem)

    def version(self) -> HelmVersion:
        return self._version

    @property
    def major(self) -> int:
        return self.version().major

    def run(self, args: List[str], read_only: bool = False) -> CommandResult:
        """Run ``helm <args> <connection flags>``; raise HelmError when Helm fails. A ``read_only`` call
        runs with the garbage collector relaxed (see read_environ)."""
        argv = [self.binary] + list(args) + self._flags
        environ = dict(read_environ(), **self._environ) if read_only else self._environ
        rc, stdout, stderr = self.module.run_command(argv, environ_update=environ)
        result = CommandResult(argv, rc, stdout, stderr)
        if rc != 0:
            raise error_from_result(result)
        return result

    def run_json(self, args: List[str]) -> Any:
        """A read: ``helm <args>`` printing JSON, parsed."""
        result = self.run(args, read_only=True)
        try:
            return json.loads(result.stdout)
        except ValueError as exc:
            raise HelmError("invalid_output", "Helm printed output that is not JSON: %s" % exc,
                            result.rc, result.stdout, result.stderr, result.command)

    def history(self, name: str, namespace: str, max=None) -> List[Dict[str, Any]]:  # pylint: disable=redefined-builtin
        """Raw ``helm history`` entries, oldest first; HelmError(kind="release_not_found") if absent."""
        return self.run_json(history_argv(name, namespace, max)) or []

    def get_values(self, name: str, namespace: str, revision: int, all_values: bool = False) -> Dict[str, Any]:
        # Helm prints "null" for a revision installed without user values.
        return self.run_json(get_values_argv(name, namespace, revision, all_values)) or {}

    def get_values_many(self, name: str, namespace: str, revisions: Sequence[int],
                        all_values: bool = False) -> Dict[int, Dict[str, Any]]:
        """Values of many revisions at once (one Helm call each, run concurrently)."""
        revisions = list(revisions)
        values = run_concurrently(lambda rev: self.get_values(name, namespace, rev, all_values), revisions)
        return dict(zip(revisions, values))

    def get_manifest(self, name: str, namespace: str, revision: int) -> str:
        return self.run(get_manifest_argv(name, namespace, revision), read_only=True).stdout

    def rollback(self, name, namespace, revision, wait=True, wait_for_jobs=False, timeout=None,
                 cleanup_on_fail=False, force=False, no_hooks=False, history_max=None,
                 dry_run=False, force_conflicts=False) -> CommandResult:
        return self.run(rollback_argv(
            self.major, name, namespace, revision, wait=wait, wait_for_jobs=wait_for_jobs, timeout=timeout,
            cleanup_on_fail=cleanup_on_fail, force=force, no_hooks=no_hooks, history_max=history_max,
            dry_run=dry_run, force_conflicts=force_conflicts,
        ))

    def upgrade(self, name, namespace, config, values_file, **options) -> CommandResult:
        """``helm upgrade`` to ``config`` (chart_ref, chart_repo_url, chart_version); options as upgrade_argv."""
        return self.run(upgrade_argv(self.major, name, namespace, config.chart_ref, config.chart_repo_url,
                                     config.chart_version, values_file, **options))

    def install(self, name, namespace, config, values_file, **options) -> CommandResult:
        return self.run(install_argv(self.major, name, namespace, config.chart_ref, config.chart_repo_url,
                                     config.chart_version, values_file, **options))

    def rendered_manifest(self, name, namespace, config, values_file, install=False, **_write_options) -> str:
        """The manifest an upgrade to ``config`` with ``values_file`` would apply (``install``: the one a reinstall's
        install would), from Helm's dry run (rendered_manifest_argv); hooks are apart, in the output's ``hooks``.
        The write's options (wait, timeout, history_max...) are taken and change nothing rendered. HelmError as
        the upgrade would fail before it writes (operation_in_progress, release_not_found, a chart that does not
        render), invalid_output when Helm prints no release."""
        argv = rendered_manifest_argv(self.major, name, namespace, config.chart_ref, config.chart_repo_url,
                                      config.chart_version, values_file, install)
        release = self.run_json(argv)
        if not isinstance(release, dict) or not isinstance(release.get("manifest"), str):
            raise HelmError("invalid_output", "Helm's dry run printed no release manifest (helm %s)" % " ".join(argv[:1]),
                            command=argv)
        return release["manifest"]

    def uninstall(self, name, namespace, **options) -> CommandResult:
        return self.run(uninstall_argv(self.major, name, namespace, **options))

    def values_file(self, values: Dict[str, Any]) -> str:
        """``values`` in a 0600 file removed when the module exits (values may hold secrets, so they
        never go on the command line)."""
        return write_private_file(self.module, json.dumps(values), prefix="values-")

    def list_releases(self, namespaces: Optional[Sequence[str]] = None, statuses: Optional[Iterable[str]] = None,
                      name_pattern: Optional[str] = None) -> List[Dict[str, Any]]:
        """Raw ``helm list`` entries: one Helm call per namespace (run concurrently), or one
        ``--all-namespaces`` call when ``namespaces`` is empty; never a call per release. Only
        releases whose latest status is in ``statuses`` and whose name matches the Python regular
        expression ``name_pattern`` (``re.search``) are kept.

        Named namespaces are listed one by one rather than through ``--all-namespaces``: a tenant
        operator needs rights in those namespaces only, and a broken release record elsewhere in
        the cluster (which makes Helm crash) cannot stop the listing of the tenants asked for.
        The name is matched here rather than with Helm's ``--filter`` so the pattern is the one
        the module validated (Go and Python regular expressions differ)."""
        targets = sorted(set(namespaces or ())) or [None]
        listed = run_concurrently(lambda namespace: self.run_json(list_argv(self.major, namespace)) or [], targets)
        pattern = re.compile(name_pattern) if name_pattern else None
        return [
            entry for entries in listed for entry in entries
            if (pattern is None or pattern.search(str(entry.get("name", ""))))
            if status_matches(str(entry.get("status", "")).lower(), statuses)
        ]


def find_helm_binary(module) -> str:
    path = module.params.get("binary_path")
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise HelmError("binary_not_found", "binary_path %s is not an executable file; set the binary_path "
                            "option to a Helm 3 or 4 binary" % path)
        return path
    found = module.get_bin_path("helm")
    if not found:
        raise HelmError("binary_not_found", "helm was not found on PATH; install Helm 3 or 4 on the managed "
                        "node or set the binary_path option")
    return found


def version_cache_path() -> str:
    """Where detected Helm versions are remembered between module runs (per user)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "matih-helm", "helm-versions.json")


def binary_identity(binary: str) -> Optional[str]:
    """The cache key of a binary: its real path, size and modification time, so a replaced or
    upgraded binary is detected again. None when the file cannot be examined."""
    try:
        real = os.path.realpath(binary)
        info = os.stat(real)
    except OSError:
        return None
    return "%s|%d|%d" % (real, info.st_size, info.st_mtime_ns)


def cached_version(identity: Optional[str], path: Optional[str] = None) -> Optional[HelmVersion]:
    if identity is None:
        return None
    try:
        with open(path or version_cache_path()) as handle:
            text = json.load(handle).get(identity)
    except (OSError, ValueError, AttributeError):
        return None
    return parse_version(text) if isinstance(text, str) else None


def remember_version(identity: Optional[str], version: HelmVersion, path: Optional[str] = None) -> None:
    """Add ``version`` to the cache; best effort (a read-only home only costs a ``helm version`` per run).
    Written to a temporary file and renamed, so concurrent modules never read half a file."""
    if identity is None:
        return
    path = path or version_cache_path()
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            with open(path) as handle:
                known = json.load(handle)
        except (OSError, ValueError):
            known = {}
        known = {key: value for key, value in known.items() if isinstance(value, str)} if isinstance(known, dict) else {}
        known[identity] = version_string(version)
        fd, temporary = tempfile.mkstemp(prefix=".helm-versions-", dir=os.path.dirname(path))
        with os.fdopen(fd, "w") as handle:
            json.dump(dict(sorted(known.items())[-64:]), handle)
        os.replace(temporary, path)
    except OSError:
        pass


def detect_version(module, binary: str) -> HelmVersion:
    """The Helm version of ``binary``: remembered per binary (path, size, modification time), else
    asked with ``helm version`` and remembered."""
    identity = binary_identity(binary)
    version = cached_version(identity)
    if version is not None and version_problem(version) is None:
        return version
    argv = [binary, "version", "--template", "{{.Version}}"]
    rc, stdout, stderr = module.run_command(argv, environ_update=read_environ())
    version = parse_version(stdout) if rc == 0 else None
    if version is None:
        raise HelmError("not_helm", "%s does not look like Helm: '%s' printed %r; set the binary_path option "
                        "to a Helm 3 or 4 binary" % (binary, " ".join(argv), (stdout or stderr).strip()[:200]),
                        rc, stdout, stderr, argv)
    problem = version_problem(version)
    if problem:
        raise HelmError("unsupported_version", "%s at %s; set the binary_path option to Helm %d.%d or newer, or Helm 4"
                        % (problem, binary, MINIMUM_VERSION.major, MINIMUM_VERSION.minor), rc, stdout, stderr, argv)
    remember_version(identity, version)
    return version


def connection_version_problem(params: Dict[str, Any], version: HelmVersion) -> Optional[str]:
    """Why this Helm version cannot take the connection options given, or None when it can."""
    if params.get("validate_certs") is False and version < INSECURE_FLAG_VERSION:
        return ("validate_certs=false needs Helm %s or newer: Helm %s has no --kube-insecure-skip-tls-verify. Use a "
                "newer Helm (binary_path option), give the API server's CA with ca_cert, or set "
                "insecure-skip-tls-verify: true for the cluster in the kubeconfig"
                % (version_string(INSECURE_FLAG_VERSION), version_string(version)))
    return None


def version_problem(version: HelmVersion) -> Optional[str]:
    """Why matih.helm does not run with this Helm version, or None when it does."""
    if version.major not in SUPPORTED_MAJORS:
        return "Helm %s is not supported (matih.helm works with Helm 3 and Helm 4)" % version_string(version)
    if version < MINIMUM_VERSION:
        return "Helm %s is older than %s, the oldest Helm matih.helm is tested with" % (
            version_string(version), version_string(MINIMUM_VERSION))
    return None

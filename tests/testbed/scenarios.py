"""Release histories made with REAL Helm binaries, for tests that need a release in a given state.

Every function takes the Helm binary, the kubeconfig path and a namespace, runs Helm with argv
lists, and works the same on the emulator and on a real cluster: failures come from an image
that never becomes ready (``broken`` in its name) or a ConfigMap admission rejects (a key
``reject``; on a real cluster use a policy that refuses it, or stick to the image fault).
Installs always pass ``--create-namespace``.
"""

import functools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

TESTBED_DIR = os.path.dirname(os.path.abspath(__file__))
DEMO_CHART_DIR = os.path.join(TESTBED_DIR, "charts", "demo")
REPO_ROOT = os.path.dirname(os.path.dirname(TESTBED_DIR))

HELM_BINARIES = {
    "helm3": os.environ.get("MATIH_HELM3") or os.path.join(REPO_ROOT, ".cache", "helm", "v3.17.3", "helm"),
    "helm4": os.environ.get("MATIH_HELM4") or os.path.join(REPO_ROOT, ".cache", "helm", "v4.3.1", "helm"),
}

BROKEN_IMAGE = "registry.local/broken:1.0"
REJECTED_CONFIG = ("config.reject", "true")
FAILING_WAIT_TIMEOUT = "2s"
# Helm 3 waits for an --atomic rollback with the failed upgrade's own timeout: long enough for a
# good rollout on a real cluster (a second or two), not only on the emulator (at once).
ATOMIC_WAIT_TIMEOUT = "15s"
WAIT_TIMEOUT = "30s"
FAULTS = ("broken_image", "rejected_config")


class HelmError(AssertionError):
    """A Helm command that had to succeed failed (or one that had to fail succeeded)."""


@functools.lru_cache(maxsize=None)
def helm_major(helm):
    """3 or 4, from ``helm version --short`` (e.g. ``v3.17.3+ge4da497``)."""
    output = subprocess.run([helm, "version", "--short"], capture_output=True, text=True, check=True).stdout
    return int(output.strip().lstrip("v").split(".")[0])


def run_helm(helm, kubeconfig, args, check=True, timeout=120):
    """Run ``helm ARGS`` against ``kubeconfig``; ``check`` None accepts any exit code,
    True requires success and False requires failure."""
    env = dict(os.environ, KUBECONFIG=kubeconfig, HELM_NO_PLUGINS="1")
    result = subprocess.run([helm] + list(args), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check is not None and (result.returncode == 0) != check:
        raise HelmError("helm %s: expected %s, got rc=%d\nstdout: %s\nstderr: %s" % (
            " ".join(args), "success" if check else "failure", result.returncode, result.stdout, result.stderr))
    return result


@functools.lru_cache(maxsize=None)
def _chart_cache_dir():
    return tempfile.mkdtemp(prefix="matih-charts-")


# Threads making a fleet ask for the same chart at once: without the lock two of them packaged it
# both, and the second rewrote the archive while the first one's helm install read it.
_CHART_LOCK = threading.Lock()


def chart(version="1.0.0", app_version=None, helm=None):
    """Path of the demo chart packaged as ``version`` (app version defaults to the version)."""
    with _CHART_LOCK:
        return _packaged_chart(version, app_version, helm)


@functools.lru_cache(maxsize=None)
def _packaged_chart(version, app_version, helm):
    destination = os.path.join(_chart_cache_dir(), version)
    os.makedirs(destination, exist_ok=True)
    argv = [helm or HELM_BINARIES["helm3"], "package", DEMO_CHART_DIR, "--version", version,
            "--app-version", app_version or version, "--destination", destination]
    subprocess.run(argv, capture_output=True, text=True, check=True)
    return os.path.join(destination, "demo-%s.tgz" % version)


def remove_chart_cache():
    """Delete the packaged charts (call once at the end of a session)."""
    if _chart_cache_dir.cache_info().currsize:
        shutil.rmtree(_chart_cache_dir(), ignore_errors=True)
        _chart_cache_dir.cache_clear()
        _packaged_chart.cache_clear()


def _wait_flags(wait, timeout):
    if not wait:
        return []
    return ["--wait", "--timeout", timeout]


def never_ready_wait_flags(helm, timeout):
    """--wait for a rollout that must never get ready (a broken image). Helm 4's default waiter
    (kstatus, on a watch) once reported such an upgrade ready under load in CI and stored it as
    deployed; its ``legacy`` waiter reads each object afresh, as Helm 3's does. Which waiter Helm
    uses is not what these scenarios test: they need the operation to hang or time out."""
    return ["--wait" if helm_major(helm) == 3 else "--wait=legacy", "--timeout", timeout]


def _value_flags(values):
    flags = []
    for key, value in sorted((values or {}).items()):
        flags += ["--set-string" if isinstance(value, str) else "--set", "%s=%s" % (key, value)]
    return flags


def install(helm, kubeconfig, name, namespace, version="1.0.0", values=None, wait=False, timeout=WAIT_TIMEOUT, extra=(), check=True):
    args = ["install", name, chart(version), "-n", namespace, "--create-namespace"]
    args += _value_flags(values) + _wait_flags(wait, timeout) + list(extra)
    return run_helm(helm, kubeconfig, args, check)


def upgrade(helm, kubeconfig, name, namespace, version="1.0.0", values=None, wait=False, timeout=WAIT_TIMEOUT, extra=(), check=True):
    args = ["upgrade", name, chart(version), "-n", namespace] + _value_flags(values) + _wait_flags(wait, timeout) + list(extra)
    return run_helm(helm, kubeconfig, args, check)


def rollback(helm, kubeconfig, name, namespace, revision=None, wait=False, timeout=WAIT_TIMEOUT, extra=(), check=True):
    args = ["rollback", name] + ([str(revision)] if revision is not None else []) + ["-n", namespace]
    return run_helm(helm, kubeconfig, args + _wait_flags(wait, timeout) + list(extra), check)


def uninstall(helm, kubeconfig, name, namespace, wait=False, check=True):
    return run_helm(helm, kubeconfig, ["uninstall", name, "-n", namespace] + (["--wait"] if wait else []), check)


def atomic_flag(helm):
    """Helm 3's ``--atomic`` became ``--rollback-on-failure`` in Helm 4."""
    return "--atomic" if helm_major(helm) == 3 else "--rollback-on-failure"


def force_flags(helm):
    """Replace objects instead of patching them: Helm 3 ``--force``; Helm 4 ``--force-replace``,
    which Helm 4 refuses together with server-side apply (its default)."""
    return ["--force"] if helm_major(helm) == 3 else ["--force-replace", "--server-side=false"]


def history(helm, kubeconfig, name, namespace):
    """``helm history -o json`` parsed: a list of dicts, oldest revision first."""
    return json.loads(run_helm(helm, kubeconfig, ["history", name, "-n", namespace, "-o", "json"]).stdout)


def statuses(helm, kubeconfig, name, namespace):
    """Just the statuses of ``history``, e.g. ["superseded", "failed", "deployed"]."""
    return [entry["status"] for entry in history(helm, kubeconfig, name, namespace)]


def list_releases(helm, kubeconfig, namespace=None, include_pending=True):
    """``helm list -o json``; Helm 3 only shows pending releases with ``-a``, Helm 4 always.
    ``--max 0``: Helm stops at 256 releases otherwise."""
    args = ["list", "-o", "json", "--max", "0"] + (["-n", namespace] if namespace else ["--all-namespaces"])
    if include_pending and helm_major(helm) == 3:
        args.append("-a")
    return json.loads(run_helm(helm, kubeconfig, args).stdout)


def release_with_good_revisions(helm, kubeconfig, name, namespace, count):
    """Install plus ``count - 1`` upgrades: revision N uses chart 1.(N-1).0 and config.revision=N."""
    install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    for revision in range(2, count + 1):
        upgrade(helm, kubeconfig, name, namespace, "1.%d.0" % (revision - 1), {"config.revision": str(revision)})
    return history(helm, kubeconfig, name, namespace)


def failed_upgrade(helm, kubeconfig, name, namespace, fault="broken_image", version="1.0.0", extra=()):
    """An upgrade that fails, leaving a ``failed`` revision (unless ``extra`` adds --atomic).

    ``broken_image`` waits with a short timeout for an image that never gets ready (with
    --atomic, long enough for the rollback too); ``rejected_config`` is refused by admission at
    once.  Returns the CompletedProcess.
    """
    if fault == "broken_image":
        timeout = ATOMIC_WAIT_TIMEOUT if atomic_flag(helm) in extra else FAILING_WAIT_TIMEOUT
        return upgrade(helm, kubeconfig, name, namespace, version, {"image": BROKEN_IMAGE},
                       extra=never_ready_wait_flags(helm, timeout) + list(extra), check=False)
    if fault == "rejected_config":
        return upgrade(helm, kubeconfig, name, namespace, version, {REJECTED_CONFIG[0]: REJECTED_CONFIG[1]}, extra=extra, check=False)
    raise ValueError("unknown fault %r, expected one of %s" % (fault, FAULTS))


def failed_install(helm, kubeconfig, name, namespace, fault="broken_image", extra=()):
    """An install that fails like ``failed_upgrade``."""
    if fault == "broken_image":
        return install(helm, kubeconfig, name, namespace, values={"image": BROKEN_IMAGE},
                       extra=never_ready_wait_flags(helm, FAILING_WAIT_TIMEOUT) + list(extra), check=False)
    if fault == "rejected_config":
        return install(helm, kubeconfig, name, namespace, values={REJECTED_CONFIG[0]: REJECTED_CONFIG[1]}, extra=extra, check=False)
    raise ValueError("unknown fault %r, expected one of %s" % (fault, FAULTS))


def failed_rollback(helm, kubeconfig, name, namespace):
    """Roll back, with --wait, to a revision whose image never becomes ready.

    Makes that revision first (a failed broken-image upgrade) when the release has none, so
    it works on any release with a deployed revision, and on a real cluster too.
    Returns the number of the revision rolled back to.
    """
    entries = history(helm, kubeconfig, name, namespace)
    broken = [entry["revision"] for entry in entries if entry["status"] == "failed"]
    if not broken:
        failed_upgrade(helm, kubeconfig, name, namespace, "broken_image")
        broken = [history(helm, kubeconfig, name, namespace)[-1]["revision"]]
    rollback(helm, kubeconfig, name, namespace, broken[-1], extra=never_ready_wait_flags(helm, FAILING_WAIT_TIMEOUT), check=False)
    return broken[-1]


def pending_release(helm, kubeconfig, name, namespace, kind="upgrade", poll_seconds=0.05, deadline_seconds=30):
    """Leave ``pending-upgrade`` or ``pending-install`` behind: start the operation with --wait
    on a broken image and SIGKILL Helm once the pending revision is stored."""
    if kind not in ("upgrade", "install"):
        raise ValueError("kind must be 'upgrade' or 'install'")
    args = [kind, name, chart("1.0.0"), "-n", namespace, "--set-string", "image=" + BROKEN_IMAGE] + never_ready_wait_flags(helm, "5m")
    if kind == "install":
        args.append("--create-namespace")
    env = dict(os.environ, KUBECONFIG=kubeconfig, HELM_NO_PLUGINS="1")
    wanted = "pending-" + kind
    # pylint: disable-next=consider-using-with  # the process must outlive this statement until it is killed
    process = subprocess.Popen([helm] + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        give_up = time.monotonic() + deadline_seconds
        while time.monotonic() < give_up:
            result = run_helm(helm, kubeconfig, ["history", name, "-n", namespace, "-o", "json"], check=None)
            if result.returncode == 0 and json.loads(result.stdout)[-1]["status"] == wanted:
                return history(helm, kubeconfig, name, namespace)
            if process.poll() is not None:
                raise HelmError("helm %s exited (rc=%d) before a %s revision appeared" % (kind, process.returncode, wanted))
            time.sleep(poll_seconds)
        raise HelmError("no %s revision of %s after %ss" % (wanted, name, deadline_seconds))
    finally:
        process.kill()
        process.wait()


def releases_across_namespaces(helm, kubeconfig, name, namespaces, revisions=1):
    """Release ``name`` with ``revisions`` good revisions in each namespace; returns {ns: history}."""
    return {namespace: release_with_good_revisions(helm, kubeconfig, name, namespace, revisions) for namespace in namespaces}

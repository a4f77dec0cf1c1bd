"""Section (g) of the benchmark: event-driven recovery on the real control plane (issue 26, item 6).

``ansible-rulebook -r matih.helm.remediate`` (the matih.helm.helm_releases source, and the playbook
matih.helm.recover_event per event) runs against the real control plane of tests/cluster, watching one
namespace of its own, with the burst brake's limit above the failures measured (so the brake never trips)
and every other rulebook variable at its default: the brake's hold (its default) stays in, as in production.

- Latency: F upgrades refused by admission (the test bed's ``rejected_config``: Helm writes the failed
  revision at once), one after the other on F releases, each waiting for its recovery and for the recovery's
  playbook to end. The bench watches the release Secrets itself (a WATCH straight to the API server, not
  through the proxy below) and stamps each change with this process's monotonic clock when it arrives:
  t0 when revision 2's Secret is seen ``failed``, t1 when revision 3 (the rollback's) is seen ``deployed``;
  both ends come from the same watch, so its delivery delay is on both sides and cancels. (The Secrets'
  ``modifiedAt`` label, creationTimestamp and managedFields times have whole seconds only, and the upgrade's
  return comes after the write: its time is kept beside, as a check that t0 is not late.) Also split:
  t0 to the event received by the rule engine (the source's part, the hold included: --print-events prints it),
  to the recovery playbook's first line (ansible-runner and ansible-playbook starting), to the rollback's
  revision appearing (the playbook's tasks and the recovery's checks before Helm writes it: pending-rollback),
  and from there to deployed (Helm's rollback and its wait). The two middle stamps are when those lines
  appeared in ansible-rulebook's output, read every 50 ms (so up to 50 ms late, taken from the next part).
- Beside it, interleaved (one after each recovery, the rulebook idle meanwhile): a bare ``helm rollback NAME 1``
  with the recovery's own flags (helm_client.rollback_argv: --wait, Helm 4 --wait=watcher, --timeout 5m) on an
  equivalent release (installed, then the same refused upgrade) in a namespace the rulebook does not watch:
  the wall time of the process. And the start-up of an empty ansible-playbook (the bench's baseline).
- Idle requests: the source's kubeconfig (its KUBECONFIG) points at tests/cluster/faultproxy.py's proxy in front
  of the API server, which counts every request; the recoveries connect straight to the API server with
  ``helm_connection.kubeconfig``, so the proxy sees the source's requests only. Once the source's WATCH is
  open, the requests of the next IDLE seconds: requests besides watches (per minute), and watches opened.
- Memory: the source runs inside ansible-rulebook's Python process, which also hosts the JVM of the rule
  engine (drools_jpy embeds it: one process; the process tree is summed and its processes counted to show
  that). VmRSS after the idle window, beside the same rulebook (same rules) whose source is replaced by one that
  only sleeps, started just before and idling at the same time; the difference is what the source costs.
"""

import concurrent.futures
import contextlib
import http.client
import json
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import yaml

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(BENCH_DIR))
for _part in ("testbed", "cluster", "integration"):
    if os.path.join(REPO_ROOT, "tests", _part) not in sys.path:
        sys.path.insert(0, os.path.join(REPO_ROOT, "tests", _part))

import controlplane  # noqa: E402  pylint: disable=wrong-import-position
import faultproxy  # noqa: E402  pylint: disable=wrong-import-position
import rulebook_runner  # noqa: E402  pylint: disable=wrong-import-position
import scenarios  # noqa: E402  pylint: disable=wrong-import-position

RULEBOOK = "matih.helm.remediate"
RULEBOOK_FILE = os.path.join(REPO_ROOT, "extensions", "eda", "rulebooks", "remediate.yml")
WATCHING = r"Watching the Helm releases of default in namespaces "
IDLE_STARTED = r"bench idle source started"
RECAP = r"^PLAY RECAP"
RECOVERY_PLAY = r"^PLAY \[Recover the Helm release an event names\]"
FAILED_EVENT = r"""['"]status['"]: ['"]failed['"]"""  # in the event --print-events prints (not previous_status)
RECOVERY_TIMEOUT = "5m"  # the rulebook's default helm_recovery_timeout; the bare rollback's too
GOOD_VERSION, FAILING_VERSION = "1.0.0", "1.1.0"
WAIT_SECONDS = 180  # for a rulebook to start, a recovery to land, a playbook to end
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

# The baseline's source (ansible-rulebook -S): nothing but a sleep.
IDLE_SOURCE = '''import asyncio


async def main(queue, args):
    print("bench idle source started", flush=True)
    await asyncio.Event().wait()
'''


class EventBenchError(Exception):
    """A step of section (g) did not do what it had to."""


# What section (g) turns into a failed section rather than a crash of the whole benchmark: its own errors, a control
# plane that did not come up, an ansible-rulebook that did not start or print what was awaited (RulebookError and a
# missing binary are AssertionErrors, as scenarios.HelmError is).
FAILURES = (EventBenchError, controlplane.ControlPlaneError, AssertionError, OSError, subprocess.SubprocessError)


def control_plane_bin():
    """MATIH_CONTROL_PLANE_BIN, else hack/control-plane-build.sh (instant when built; builds it when not, as
    ``make control-plane`` would, which ``make bench`` does not run)."""
    if os.environ.get("MATIH_CONTROL_PLANE_BIN"):
        return os.environ["MATIH_CONTROL_PLANE_BIN"]
    result = subprocess.run([controlplane.BUILD_SCRIPT], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EventBenchError("(g) needs the real control plane, which could not be built: %s" % result.stderr.strip()[-2000:])
    return result.stdout.strip().splitlines()[-1]


class ReleaseWatch:
    """Watches the Helm release Secrets of one namespace straight on the API server (as the admin) and stamps
    each change with time.monotonic() as it arrives: records (stamp, type, release, revision, status)."""

    def __init__(self, plane, namespace):
        self.plane, self.namespace = plane, namespace
        self.records = []
        self.errors = []
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self._sock = None
        self._thread = None

    def _connection(self):
        url = urllib.parse.urlsplit(self.plane.url)
        return http.client.HTTPSConnection(url.hostname, url.port, context=self.plane.client_ssl_context(), timeout=30)

    def _path(self, **query):
        return "/api/v1/namespaces/%s/secrets?%s" % (self.namespace, urllib.parse.urlencode(dict(query, labelSelector="owner=helm")))

    def _list(self):
        connection = self._connection()
        try:
            connection.request("GET", self._path(), headers={"Accept": "application/json"})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise EventBenchError("(g) listing the release Secrets of %s: HTTP %d %s" % (self.namespace, response.status, body[:300]))
            return json.loads(body)["metadata"]["resourceVersion"]
        finally:
            connection.close()

    def start(self):
        self._thread = threading.Thread(target=self._run, args=(self._list(),), name="bench-g-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self, resource_version):
        while not self._stopping.is_set():
            connection = self._connection()
            try:
                connection.request("GET", self._path(watch="1", resourceVersion=resource_version, allowWatchBookmarks="true",
                                                     timeoutSeconds="3600"), headers={"Accept": METADATA})
                response = connection.getresponse()
                if response.status != 200:
                    raise EventBenchError("watch: HTTP %d %s" % (response.status, response.read()[:300]))
                connection.sock.settimeout(None)  # a quiet watch is no error
                self._sock = connection.sock
                for line in response:
                    stamp = time.monotonic()
                    event = json.loads(line)
                    metadata = event["object"].get("metadata") or {}
                    resource_version = metadata.get("resourceVersion") or resource_version
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        labels = metadata.get("labels") or {}
                        with self._condition:
                            self.records.append((stamp, event["type"], labels.get("name"), int(labels.get("version", 0)), labels.get("status")))
                            self._condition.notify_all()
            except (OSError, ValueError, KeyError, http.client.HTTPException, EventBenchError) as error:
                if not self._stopping.is_set():
                    self.errors.append(str(error))  # resumed from the last resourceVersion; a lost change shows as a timeout
                    self._stopping.wait(0.2)
            finally:
                self._sock = None
                connection.close()

    def _first(self, release, revision, status):
        for stamp, _kind, name, number, state in self.records:
            if name == release and number == revision and (status is None or state == status):
                return stamp
        return None

    def first(self, release, revision, status=None):
        """When the revision was first seen (with that status); None when never."""
        with self._condition:
            return self._first(release, revision, status)

    def wait(self, release, revision, status, timeout=WAIT_SECONDS):
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = self._first(release, revision, status)
                if found is not None or time.monotonic() > deadline:
                    return found
                self._condition.wait(min(1.0, max(0.0, deadline - time.monotonic())))

    def stop(self):
        self._stopping.set()
        sock = self._sock
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(10)


class RemediateRulebook(rulebook_runner.Rulebook):
    """matih.helm.remediate, printing each event as the rule engine receives it (--print-events)."""

    def argv(self):
        return super().argv() + ["--print-events"]


class IdleRulebook(rulebook_runner.Rulebook):
    """The remediate rulebook's rules with the baseline source (IDLE_SOURCE, found through -S)."""

    def __init__(self, directory, env):
        directory.mkdir(parents=True, exist_ok=True)
        sources = directory / "sources"
        sources.mkdir(exist_ok=True)
        (sources / "bench_idle.py").write_text(IDLE_SOURCE, encoding="utf-8")
        with open(RULEBOOK_FILE, encoding="utf-8") as handle:
            rulesets = yaml.safe_load(handle)
        for ruleset in rulesets:
            ruleset["sources"] = [{"name": "Nothing (baseline)", "bench_idle": {}}]
        path = directory / "idle-rulebook.yml"
        path.write_text(yaml.safe_dump(rulesets, sort_keys=False), encoding="utf-8")
        self.sources = sources
        super().__init__(str(path), directory, env=env)

    def argv(self):
        return super().argv() + ["--source-dir", str(self.sources)]


class LogStamper:
    """Stamps each line a process writes to its log with time.monotonic() when it appears (read every 50 ms)."""

    def __init__(self, path):
        self.path = path
        self.lines = []  # (stamp, line)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-g-log", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        offset, partial = 0, b""
        while not self._stopping.wait(0.05):
            try:
                with open(self.path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except OSError:
                continue
            stamp, offset = time.monotonic(), offset + len(data)
            *complete, partial = (partial + data).split(b"\n")
            self.lines += [(stamp, line.decode("utf-8", "replace")) for line in complete]

    def first(self, pattern, after):
        """When the first line matching ``pattern`` after monotonic time ``after`` appeared; None when none did."""
        regex = re.compile(pattern)
        return next((stamp for stamp, line in list(self.lines) if stamp >= after and regex.search(line)), None)

    def stop(self):
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)


def process_memory(pid):
    """{rss_kb, hwm_kb: of the process; tree_rss_kb: summed over it and its descendants; processes: their names}."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, added = [pid], True
    while added:
        children = [child for child, parent in parents.items() if parent in tree and child not in tree]
        tree += children
        added = bool(children)
    found = {"rss_kb": None, "hwm_kb": None, "tree_rss_kb": 0, "processes": []}
    for member in tree:
        try:
            with open("/proc/%d/status" % member, encoding="utf-8") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        found["tree_rss_kb"] += rss
        found["processes"].append(fields.get("Name", "?").strip())
        if member == pid:
            found["rss_kb"], found["hwm_kb"] = rss, int(fields.get("VmHWM", "0 kB").split()[0])
    return found


def split_stats(before, after):
    """(requests besides watches, watches opened) between two RequestStats snapshots."""
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    watches = sum(count for key, count in delta.items() if key.endswith("(watch)"))
    return sum(delta.values()) - watches, watches, {key: count for key, count in delta.items() if count}


class EventLatency:
    """Section (g); the control plane is started on first use and shared by both Helm majors."""

    def __init__(self, workdir, env, measure_startup, rollback_argv):
        self.workdir, self.env = workdir, env
        self.measure_startup = measure_startup
        self.rollback_argv = rollback_argv
        self.plane = None
        self.plane_dir = None
        self.plane_start_seconds = None

    def close(self):
        if self.plane is not None:
            self.plane.stop()
        if self.plane_dir:
            shutil.rmtree(self.plane_dir, ignore_errors=True)

    def _plane(self):
        if self.plane is None:
            bin_dir = control_plane_bin()
            self.plane_dir = tempfile.mkdtemp(prefix="matih-cp-")  # short: socket paths and Helm's messages carry it
            started = time.perf_counter()
            self.plane = controlplane.ControlPlane(self.plane_dir, bin_dir=bin_dir).start()
            self.plane_start_seconds = time.perf_counter() - started
            print("(g) control plane up in %.1f s" % self.plane_start_seconds)
        return self.plane

    def run(self, label, helm, failures, idle_seconds):  # pylint: disable=too-many-locals
        plane = self._plane()
        kubeconfig = plane.kubeconfig_path
        scratch = pathlib.Path(self.workdir, "g-" + label)
        scratch.mkdir(parents=True, exist_ok=True)
        watched, unwatched = "bench-g-%s-events" % label, "bench-g-%s-bare" % label
        names = ["app-%02d" % index for index in range(failures)]

        def prepare(item):
            name, namespace = item
            scenarios.install(helm, kubeconfig, name, namespace, GOOD_VERSION, {"config.release": name})
            if namespace == unwatched:  # the bare rollbacks' releases fail now, out of the rulebook's sight
                self._fail(helm, kubeconfig, name, namespace)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(prepare, [(name, watched) for name in names] + [(name, unwatched) for name in names]))
        startup = self.measure_startup()

        server_pem, server_key = plane.fault_proxy_certificate()
        variables = {"helm_namespaces": [watched], "helm_connection": {"binary_path": helm, "kubeconfig": kubeconfig},
                     "helm_burst_limit": max(20, 2 * failures)}
        with contextlib.ExitStack() as stack:  # stopped in the reverse order, whatever failed
            proxy = stack.enter_context(faultproxy.FaultProxy(plane.url, plane.ca_cert_path, server_pem, server_key, *plane.admin_cert_paths))
            source_kubeconfig = plane.write_kubeconfig(str(scratch / "source.kubeconfig"), plane.kubeconfig("admin", server=proxy.url))
            env = {"KUBECONFIG": source_kubeconfig, "HELM_NO_PLUGINS": "1", "ANSIBLE_COLLECTIONS_PATH": self.env["ANSIBLE_COLLECTIONS_PATH"]}
            watch = ReleaseWatch(plane, watched)
            stack.callback(watch.stop)
            watch.start()
            baseline = IdleRulebook(scratch / "idle-rulebook", env)
            stack.callback(baseline.stop)
            rulebook = RemediateRulebook(RULEBOOK, scratch / "rulebook", variables=variables, env=env)
            stack.callback(rulebook.stop)
            log = LogStamper(str(rulebook.log_path))
            stack.callback(log.stop)

            baseline.start()
            baseline.wait_for(IDLE_STARTED, timeout=WAIT_SECONDS)
            idle = self._idle(rulebook, proxy, watched, idle_seconds, baseline)
            baseline.stop()
            log.start()
            before = proxy.stats.snapshot()
            runs = [self._one_failure(helm, kubeconfig, (rulebook, log), watch, name, (watched, unwatched), index)
                    for index, name in enumerate(names)]
            busy_requests, busy_watches, _keys = split_stats(before, proxy.stats.snapshot())
            after = process_memory(rulebook.process.pid)
            output = rulebook.output()
        if "Traceback" in output or len(re.findall(RECOVERY_PLAY, output, re.M)) != failures:
            raise EventBenchError("(g) %s: expected %d recoveries and no traceback; the rulebook's output ends:\n%s" % (label, failures, output[-4000:]))
        return self._row(label, failures, runs, idle, startup, (busy_requests, busy_watches), after, watch.errors)

    @staticmethod
    def _fail(helm, kubeconfig, name, namespace):
        """The refused upgrade (revision 2 failed at once); (seconds it took, monotonic time it returned)."""
        started = time.monotonic()
        result = scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "rejected_config", version=FAILING_VERSION)
        returned = time.monotonic()
        if result.returncode == 0:
            raise EventBenchError("(g) the refused upgrade of %s/%s succeeded" % (namespace, name))
        return returned - started, returned

    def _idle(self, rulebook, proxy, watched, idle_seconds, baseline):  # pylint: disable=too-many-arguments
        """Start the rulebook; once its WATCH is open, count the source's requests for ``idle_seconds``."""
        started = time.monotonic()
        rulebook.start()
        rulebook.wait_for(WATCHING + re.escape(watched), timeout=WAIT_SECONDS)
        while not any(key.endswith("(watch)") for key in proxy.stats.snapshot()):
            if time.monotonic() - started > WAIT_SECONDS:
                raise EventBenchError("(g) the source opened no WATCH through the proxy: %s" % proxy.stats.snapshot())
            time.sleep(0.1)
        ready = time.monotonic() - started
        time.sleep(1)
        at_start = proxy.stats.snapshot()  # the source's start-up: its LIST and its WATCH
        before, cpu_before = at_start, _cpu_seconds(rulebook.process.pid)
        time.sleep(idle_seconds)
        after, cpu_after = proxy.stats.snapshot(), _cpu_seconds(rulebook.process.pid)
        requests, watches, keys = split_stats(before, after)
        return {"ready_seconds": ready, "start_requests": at_start, "seconds": idle_seconds,
                "requests": requests, "watches": watches, "requests_by_kind": keys, "cpu_seconds": cpu_after - cpu_before,
                "memory": process_memory(rulebook.process.pid), "baseline_memory": process_memory(baseline.process.pid)}

    def _one_failure(self, helm, kubeconfig, rulebook, watch, name, namespaces, index):  # pylint: disable=too-many-arguments,too-many-locals
        (rulebook, log), (watched, unwatched) = rulebook, namespaces
        upgrade_seconds, returned = self._fail(helm, kubeconfig, name, watched)
        deployed = watch.wait(name, 3, "deployed")
        failed, rollback = watch.first(name, 2, "failed"), watch.first(name, 3)
        if deployed is None or failed is None:
            raise EventBenchError("(g) %s/%s: not deployed again within %d s; seen: %s" % (
                watched, name, WAIT_SECONDS, [record for record in watch.records if record[2] == name]))
        self._check_history(helm, kubeconfig, name, watched)
        rulebook.wait_for(RECAP, count=index + 1, timeout=WAIT_SECONDS)  # the playbook ended: the rulebook is idle again
        # where the time went, from the rulebook's output as it appeared (read every 50 ms): the event received by
        # the rule engine (the source's part, the hold included), then the recovery playbook's first line
        event = log.first(FAILED_EVENT, failed)
        play = log.first(RECOVERY_PLAY, event) if event is not None else None
        bare = self._bare_rollback(helm, kubeconfig, name, unwatched)
        return {"release": name, "seconds": deployed - failed, "to_rollback_seconds": rollback - failed, "rollback_seconds": deployed - rollback,
                "to_event_seconds": _minus(event, failed), "event_to_play_seconds": _minus(play, event), "play_to_rollback_seconds": _minus(rollback, play),
                "upgrade_returned_after_failed_seconds": returned - failed, "upgrade_seconds": upgrade_seconds, "bare_rollback_seconds": bare}

    def _bare_rollback(self, helm, kubeconfig, name, namespace):
        argv = [helm] + self.rollback_argv(scenarios.helm_major(helm), name, namespace, 1, wait=True, timeout=RECOVERY_TIMEOUT)
        env = dict(os.environ, KUBECONFIG=kubeconfig, HELM_NO_PLUGINS="1")
        started = time.perf_counter()
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise EventBenchError("(g) %s failed: %s" % (" ".join(argv[1:]), result.stderr[-1000:]))
        self._check_history(helm, kubeconfig, name, namespace)
        return seconds

    @staticmethod
    def _check_history(helm, kubeconfig, name, namespace):
        history = scenarios.history(helm, kubeconfig, name, namespace)
        shape = [(entry["revision"], entry["status"]) for entry in history]
        if shape != [(1, "superseded"), (2, "failed"), (3, "deployed")] or "Rollback to 1" not in history[-1]["description"]:
            raise EventBenchError("(g) %s/%s: unexpected history %s" % (namespace, name, history))

    def _row(self, label, failures, runs, idle, startup, busy, after, watch_errors):  # pylint: disable=too-many-arguments
        latencies = [run["seconds"] for run in runs]
        bare = [run["bare_rollback_seconds"] for run in runs]
        memory, baseline = idle["memory"], idle["baseline_memory"]
        return {
            "helm": label, "failures": failures, "runs": runs, "burst_hold": burst_hold_default(),
            "p50": statistics.median(latencies), "max": max(latencies), "min": min(latencies),
            "to_rollback_p50": statistics.median(run["to_rollback_seconds"] for run in runs),
            "to_event_p50": _median(run["to_event_seconds"] for run in runs),
            "event_to_play_p50": _median(run["event_to_play_seconds"] for run in runs),
            "play_to_rollback_p50": _median(run["play_to_rollback_seconds"] for run in runs),
            "rollback_p50": statistics.median(run["rollback_seconds"] for run in runs),
            "upgrade_return_p50": statistics.median(run["upgrade_returned_after_failed_seconds"] for run in runs),
            "bare_p50": statistics.median(bare), "bare_max": max(bare), "startup": startup,
            "rulebook_ready_seconds": idle["ready_seconds"],
            "source_start_requests": idle["start_requests"], "idle_seconds": idle["seconds"], "idle_requests": idle["requests"],
            "idle_requests_per_minute": idle["requests"] * 60.0 / idle["seconds"], "idle_watches": idle["watches"],
            "idle_requests_by_kind": idle["requests_by_kind"], "idle_cpu_seconds": idle["cpu_seconds"],
            "busy_requests": busy[0], "busy_watches": busy[1],
            "rss_mb": memory["rss_kb"] / 1024.0, "tree_rss_mb": memory["tree_rss_kb"] / 1024.0, "processes": memory["processes"],
            "baseline_rss_mb": baseline["rss_kb"] / 1024.0, "source_rss_mb": (memory["rss_kb"] - baseline["rss_kb"]) / 1024.0,
            "rss_after_failures_mb": after["rss_kb"] / 1024.0, "hwm_mb": after["hwm_kb"] / 1024.0,
            "watch_errors": watch_errors,
        }


def _minus(later, earlier):
    return None if later is None or earlier is None else later - earlier


def _median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def _cpu_seconds(pid):
    """User and system CPU seconds of a running process (its threads included)."""
    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def burst_hold_default():
    """The rulebook's default helm_burst_hold (the bench leaves it so)."""
    with open(RULEBOOK_FILE, encoding="utf-8") as handle:
        found = re.search(r"helm_burst_hold \| default\('([^']+)'\)", handle.read())
    return found.group(1) if found else "?"

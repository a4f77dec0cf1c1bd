#!/usr/bin/env python
"""Benchmark the matih.helm modules against bare Helm, on the test bed's emulator.

Run it through ``make bench`` (hack/bench.sh), which sets PATH and ANSIBLE_COLLECTIONS_PATH.
Every figure is measured in one run, side by side for Helm 3 and Helm 4:

a. rollback: ``matih.helm.helm_release_rollback`` vs an ``ansible.builtin.command`` task running
   ``helm rollback NAME N``: one ansible-playbook run of K rollbacks each (every rollback targets
   the revision before the latest, so each one really creates a revision), wait disabled on both,
   timed in 5 rounds where the variants take turns (the best run counts, as for the start-up; the
   machine's speed drifts); the module once more with its bytecode cache off; plus the same
   rollbacks as plain Python subprocess calls (Helm's own time). Ratios are to the command task,
   after start-up, in wall time and in CPU time (ansible-playbook and every process under it,
   which other work on the machine moves far less). Then the exec-plugin variant: the same module and command runs
   against a second emulator that serves TLS and refuses requests without its bearer token, with a
   kubeconfig whose user is an exec credential plugin (client.authentication.k8s.io/v1, a small
   Python script in the bench's scratch directory printing the emulator's token, valid for an
   hour) and the emulator's CA; its module row's ratio is to the exec-plugin command row, and
   "exec plugin runs/rollback" counts the plugin's runs (it logs each one) in the counted run.
b. history: ``matih.helm.helm_release_history`` with include_values on a release of R revisions
   vs the naive sequence (``helm history`` then ``helm get values --revision N`` per revision),
   once as an Ansible loop of command tasks and once as plain Python subprocess calls.
c. remediate: ``ansible-playbook matih.helm.remediate`` on fleets of N releases (30% after a
   failed upgrade, 10% pending-upgrade, the rest healthy) spread over namespaces.
d. drift scan: ``matih.helm.helm_release_list`` with ``statuses: [drifted]`` on fleets of N
   deployed releases (10 per namespace, 10% with a ConfigMap edited by hand), beside the same list
   without the drift scan (``statuses: [failed]``) and a loop of ``matih.helm.helm_release_drift``
   tasks, one per release: API requests per release (the scan's own count, ``drift_scan``) and time.
e. preflight: what the API server's check of one rollback target costs (module_utils/preflight.py, a
   server-side apply dry run per object, called in this process as the modules call it), K times on
   the demo chart's revision (3 objects) and on a target of 50 ConfigMaps, beside K bare
   ``helm rollback`` subprocess calls on the same emulator: s/preflight, requests/preflight and the
   ratio to a bare rollback. The manifest is read once (the modules read it with the history).
f. scale (issue 25): a fleet of 1,000 releases of 10 revisions each over 100 namespaces (10% with a
   failed latest revision), real Helm records of a chart whose manifest renders to about 100 KB, on an
   emulator of its own per Helm major that answers metadata-only LISTs as a real API server does (see
   tests/bench/scale_fleet.py and ``section_f`` for how the fleet is made and how long it took). Side
   by side: the discovery as one metadata-only LIST (``release_inventory.discover`` in this process,
   and ``ansible-inventory --list`` with the ``matih.helm.helm_releases`` plugin), ``helm list -A``
   (plain, and ``--failed --pending`` as the old fleet discovery) and the old per-namespace discovery
   (one ``helm list -n NS`` per namespace, 8 at a time, as helm_release_list ran them): time (best of
   3), API requests, peak RSS (the empty ``ansible-inventory -i localhost,`` beside it); then
   ``ansible-playbook matih.helm.remediate`` over the 100 namespaces at --forks 10, every failed
   release checked recovered (one LIST) with its objects re-created by the rollback. The same fleet is
   then made on the REAL control plane and remediated there too (``--no-scale-plane``: not), since the
   emulator, a Python process on the same cores, spends CPU of its own on each recovery's records.
g. event-driven recovery (issue 26), on the REAL control plane (tests/cluster/controlplane.py, started once for
   both Helm majors; built by hack/control-plane-build.sh when missing): ``ansible-rulebook -r
   matih.helm.remediate`` watching a namespace of its own, the burst brake's limit above the failures and its
   hold at the default (2 s, inside the figures). From the failed revision written to the release deployed
   again, over F refused upgrades one after the other (median and max), both ends stamped by the bench's own
   WATCH of the release Secrets; beside it, interleaved, a bare ``helm rollback NAME 1`` with the recovery's
   flags (--wait, --timeout 5m) on an equivalent release, and the ansible-playbook start-up. The source's
   requests while idle (a counting proxy in front of the API server on the source's kubeconfig only), and
   the rulebook process's RSS beside the same rulebook with a source that only sleeps. How, and why each
   figure is honest: tests/bench/event_latency.py.

What the columns measure:
- seconds: wall time of the whole ansible-playbook (or Python) run, start-up included;
- s/op: that time divided by the operations (rollbacks, releases);
- s/op net: the same after subtracting the start-up of an empty ansible-playbook run
  (measured in this run, the "ansible-playbook start-up" row);
- requests/op: Kubernetes API requests the emulator served per operation (its request counts);
- helm execs/op: Helm processes started per operation, counted in a separate, untimed run with
  a Python audit hook (a sitecustomize on PYTHONPATH that logs every subprocess.Popen of the
  Helm binary from the module processes); it also verifies what the timed runs did.  For the
  plain Python variants it is the number of calls the loop made.  For (c) the fleet is made once,
  so Helm execs are counted in the timed run itself (the hook costs one small file append per
  exec); helm execs/unhealthy divides them (the one list per namespace included) by the
  releases that needed recovery. The hook also logs the release each call names, so (c) counts the
  Helm calls that name a healthy release (there must be none).
- Targets: each speed target of issues 10, 25 and 26, measured in this run, marked met or NOT MET (a
  variant that failed, or was not measured, is NOT MET).
- (f) peak RSS MB: the command's maximum resident set size as GNU time reports it (/usr/bin/time -f
  %M; for the per-namespace calls the largest one); "-" for the in-process discover.

Nothing here asserts on timings; the output is a table per section and a JSON file.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import yaml

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(BENCH_DIR))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "testbed"))

import kubeemu  # noqa: E402  pylint: disable=wrong-import-position
import scenarios  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, BENCH_DIR)
import event_latency  # noqa: E402  pylint: disable=wrong-import-position
import scale_fleet  # noqa: E402  pylint: disable=wrong-import-position

SECTIONS = ("a", "b", "c", "d", "e", "f", "g")
PREFLIGHT_WIDE_OBJECTS = 50
REMEDIATE_PLAYBOOK = os.path.join(REPO_ROOT, "playbooks", "remediate.yml")
DEFAULT_OUTPUT = os.path.join(REPO_ROOT, ".cache", "bench", "bench.json")
FAILED_SHARE, PENDING_SHARE = 0.3, 0.1
RELEASES_PER_NAMESPACE = 10
DRIFTED_SHARE = 0.1
SCALE_RELEASES, SCALE_NAMESPACES, SCALE_REVISIONS = 1000, 100, 10
SCALE_QUICK = (50, 5, 10)
SCALE_ROUNDS = 3
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None  # peak RSS of (f)'s commands
OLD_LIST_CONCURRENCY = 8  # helm_client.MAX_WORKERS: the old per-namespace helm list calls ran 8 at a time

# Logs "helm SUBCOMMAND" for every Helm process a Python process starts (modules run
# ansible.module_utils' run_command, which goes through subprocess.Popen).
EXEC_HOOK = '''
import os
import sys

_LOG = os.environ.get("MATIH_BENCH_EXEC_LOG")
_HELM = os.environ.get("MATIH_BENCH_HELM")


def _matih_bench_hook(event, args):
    if event != "subprocess.Popen":
        return
    argv = args[1]
    if isinstance(argv, (str, bytes)):
        argv = [argv]
    argv = [os.fsdecode(part) for part in argv]
    executable = os.fsdecode(args[0]) if args[0] else argv[0]
    if os.path.realpath(executable) == _HELM:
        # "SUBCOMMAND<TAB>RELEASE": helm history NAME, helm get values NAME, helm list (no release).
        words = [part for part in argv[1:4] if not part.startswith("-")]
        kind = words[:2] if words[:1] == ["get"] else words[:1]
        release = words[len(kind)] if len(words) > len(kind) and kind != ["list"] else ""
        with open(_LOG, "a", encoding="utf-8") as handle:
            handle.write(" ".join(kind) + "\\t" + release + "\\n")


if _LOG and _HELM:
    sys.addaudithook(_matih_bench_hook)
'''

# The exec credential plugin of section (a)'s exec-plugin variant (client-go's ExecCredential,
# client.authentication.k8s.io/v1): prints the emulator's token, valid for an hour, and logs each run.
EXEC_PLUGIN_API_VERSION = "client.authentication.k8s.io/v1"
EXEC_PLUGIN_SCRIPT = """#!%(python)s
import datetime
import json
import sys

with open(%(log)r, "a", encoding="utf-8") as handle:
    handle.write("run\\n")
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
json.dump({"apiVersion": %(api_version)r, "kind": "ExecCredential",
           "status": {"token": %(token)r, "expirationTimestamp": expires.strftime("%%Y-%%m-%%dT%%H:%%M:%%SZ")}}, sys.stdout)
"""

EMPTY_PLAYBOOK = """
- name: Nothing (start-up time of ansible-playbook)
  hosts: localhost
  gather_facts: false
  tasks: []
"""

ROLLBACK_MODULE_PLAYBOOK = """
- name: Rollbacks with matih.helm.helm_release_rollback
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Roll back to the revision before the latest
      matih.helm.helm_release_rollback:
        binary_path: "{{ helm }}"
        name: "{{ release }}"
        release_namespace: "{{ release_namespace }}"
        revision: "{{ item }}"
        wait: false
      loop: "{{ range(first_target, first_target + rollbacks) | list }}"
"""

ROLLBACK_COMMAND_PLAYBOOK = """
- name: Rollbacks with helm rollback in ansible.builtin.command
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Roll back to the revision before the latest
      ansible.builtin.command:
        argv: ["{{ helm }}", rollback, "{{ release }}", "{{ item }}", -n, "{{ release_namespace }}"]
      changed_when: true
      loop: "{{ range(first_target, first_target + rollbacks) | list }}"
"""

HISTORY_MODULE_PLAYBOOK = """
- name: History with values with matih.helm.helm_release_history
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the history and every revision's values
      matih.helm.helm_release_history:
        binary_path: "{{ helm }}"
        name: "{{ release }}"
        release_namespace: "{{ release_namespace }}"
        include_values: true
      register: bench_history
"""

HISTORY_LOOP_PLAYBOOK = """
- name: History with values as a naive loop of helm commands
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the history
      ansible.builtin.command:
        argv: ["{{ helm }}", history, "{{ release }}", -n, "{{ release_namespace }}", -o, json, --max, "256"]
      changed_when: false
      register: bench_history
    - name: Read the values of each revision
      ansible.builtin.command:
        argv: ["{{ helm }}", get, values, "{{ release }}", -n, "{{ release_namespace }}", --revision, "{{ item.revision }}", -o, json]
      changed_when: false
      loop: "{{ bench_history.stdout | from_json }}"
      loop_control:
        label: "{{ item.revision }}"
      register: bench_values
"""

DRIFT_LIST_PLAYBOOK = """
- name: The deployed releases whose objects drifted, with matih.helm.helm_release_list
  hosts: localhost
  gather_facts: false
  tasks:
    - name: List the releases of the tenants
      matih.helm.helm_release_list:
        binary_path: "{{ helm }}"
        namespaces: "{{ namespaces }}"
        statuses: "{{ statuses }}"
      register: bench_list
"""

DRIFT_LOOP_PLAYBOOK = """
- name: The drift of each release, with one matih.helm.helm_release_drift task per release
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check each release
      matih.helm.helm_release_drift:
        binary_path: "{{ helm }}"
        name: "{{ item.name }}"
        release_namespace: "{{ item.namespace }}"
      loop: "{{ releases }}"
      loop_control:
        label: "{{ item.namespace }}/{{ item.name }}"
      register: bench_drift
"""

# Appended to a playbook for the untimed verification run: keeps the registered result.
SAVE_RESULT_TASK = """
    - name: Keep the result for the benchmark's checks
      ansible.builtin.copy:
        content: "{{ %s | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


class BenchError(Exception):
    """A benchmark step did not do what it had to (its figures would be meaningless)."""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 rollbacks, 10 revisions, fleets of 10, 3 event failures, 15 s idle")
    parser.add_argument("--helm", choices=("3", "4", "both"), default="both", help="Helm major(s) to measure (default both)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run, e.g. a,b (default a,b,c,d,e,f,g)")
    parser.add_argument("--rollbacks", type=int, help="rollbacks per run in (a) (default 10, quick 4)")
    parser.add_argument("--rounds", type=int, help="timed runs per variant in (a), taking turns; the best counts (default 5, quick 1)")
    parser.add_argument("--revisions", type=int, help="revisions of the release in (b) (default 50, quick 10)")
    parser.add_argument("--fleet-sizes", help="comma-separated release counts for (c) and (d) (default 10,30,100, quick 10)")
    parser.add_argument("--forks", type=int, default=10, help="ansible-playbook --forks for (c) (default 10)")
    parser.add_argument("--scale-releases", type=int, help="releases of the fleet in (f) (default %d, quick %d)" % (SCALE_RELEASES, SCALE_QUICK[0]))
    parser.add_argument("--scale-namespaces", type=int, help="namespaces of the fleet in (f) (default %d, quick %d)" % (SCALE_NAMESPACES, SCALE_QUICK[1]))
    parser.add_argument("--no-scale-plane", dest="scale_plane", action="store_false",
                        help="(f) on the emulator only, without the fleet and remediation on the real control plane")
    parser.add_argument("--scale-revisions", type=int, help="revisions of each release in (f), at least 2 (default %d)" % SCALE_REVISIONS)
    parser.add_argument("--event-failures", type=int, help="failures recovered one after the other in (g) (default 10, quick 3)")
    parser.add_argument("--idle-seconds", type=int, help="how long (g) counts the idle source's requests (default 60, quick 15)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="JSON results (default .cache/bench/bench.json)")
    args = parser.parse_args(argv)
    args.sections = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error("unknown section(s) %s; choose from %s" % (",".join(unknown), ",".join(SECTIONS)))
    args.rollbacks = args.rollbacks or (4 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.revisions = args.revisions or (10 if args.quick else 50)
    sizes = args.fleet_sizes or ("10" if args.quick else "10,30,100")
    args.fleet_sizes = [int(size) for size in sizes.split(",")]
    args.scale_releases = args.scale_releases or (SCALE_QUICK[0] if args.quick else SCALE_RELEASES)
    args.scale_namespaces = args.scale_namespaces or (SCALE_QUICK[1] if args.quick else SCALE_NAMESPACES)
    args.scale_revisions = args.scale_revisions or (SCALE_QUICK[2] if args.quick else SCALE_REVISIONS)
    args.scale_rounds = 1 if args.quick else SCALE_ROUNDS
    args.event_failures = args.event_failures or (3 if args.quick else 10)
    args.idle_seconds = args.idle_seconds or (15 if args.quick else 60)
    if args.scale_revisions < 2 or args.scale_namespaces < 1 or args.scale_releases < args.scale_namespaces:
        parser.error("(f) needs at least 2 revisions (a failed release keeps a deployed one) and a release per namespace")
    args.helms = ["helm3", "helm4"] if args.helm == "both" else ["helm" + args.helm]
    return args


def table(title, columns, rows):
    """Print ``rows`` (lists of cells) under ``columns``, aligned; numbers right-aligned."""
    def cell(value):
        if isinstance(value, float):
            return "%.3f" % value
        return "-" if value is None else str(value)
    text = [[cell(value) for value in row] for row in rows]
    widths = [max([len(column)] + [len(row[i]) for row in text]) for i, column in enumerate(columns)]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) for i in range(len(columns))]
    print("\n" + title)
    print("  ".join(column.rjust(width) if numeric[i] else column.ljust(width) for i, (column, width) in enumerate(zip(columns, widths))))
    print("  ".join("-" * width for width in widths))
    for row in text:
        print("  ".join(value.rjust(width) if numeric[i] else value.ljust(width) for i, (value, width) in enumerate(zip(row, widths))))
    sys.stdout.flush()


def ratio(numerator, denominator):
    return numerator / denominator if numerator is not None and denominator else None


class ScaleTarget:
    """Where section (f) makes a fleet: the emulator (which counts its requests) or the real control plane (its
    API server counts them in apiserver_request_total, its controllers' own requests included: ``idle_rate``
    measures those, to be subtracted)."""

    IDLE_SECONDS = 10

    def __init__(self, name, url, kubeconfig_path, context, create_namespace, requests, stop):  # pylint: disable=too-many-arguments
        self.name, self.url, self.kubeconfig_path, self.context = name, url, kubeconfig_path, context
        self.create_namespace, self.requests, self._stop = create_namespace, requests, stop

    @classmethod
    def emulator(cls, emulator):
        return cls("emulator", emulator.url, emulator.kubeconfig_path, None, emulator.create_namespace,
                   lambda: sum(emulator.stats.snapshot().values()), emulator.stop)

    @classmethod
    def control_plane(cls):
        directory = tempfile.mkdtemp(prefix="matih-cp-")  # short: socket paths and Helm's messages carry it
        plane = event_latency.controlplane.ControlPlane(directory, bin_dir=event_latency.control_plane_bin()).start()
        context = plane.client_ssl_context()

        def create_namespace(name):
            plane.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

        def requests():
            with urllib.request.urlopen(plane.url + "/metrics", timeout=60, context=context) as response:
                text = response.read().decode("utf-8")
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("apiserver_request_total{"))

        def stop():
            plane.stop()
            shutil.rmtree(directory, ignore_errors=True)
        return cls("control plane", plane.url, plane.kubeconfig_path, context, create_namespace, requests, stop)

    def idle_rate(self):
        """Requests per second nobody of ours makes (the control plane's controllers); 0 on the emulator."""
        if self.name == "emulator":
            return 0.0
        before = self.requests()
        time.sleep(self.IDLE_SECONDS)
        return max(0.0, (self.requests() - before - 1) / self.IDLE_SECONDS)  # less the /metrics read itself

    def stop(self):
        self._stop()


class Bench:
    """One emulator, a scratch directory, and the ansible-playbook runner."""

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.emulator = kubeemu.Emulator(os.path.join(workdir, "kubeconfig")).start()
        with open(os.path.join(workdir, "sitecustomize.py"), "w", encoding="utf-8") as handle:
            handle.write(EXEC_HOOK)
        self.env = dict(os.environ, KUBECONFIG=self.emulator.kubeconfig_path, HELM_NO_PLUGINS="1",
                        ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0",
                        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                        ANSIBLE_LOCAL_TEMP=os.path.join(REPO_ROOT, ".cache", "ansible-tmp"))
        self.env.pop("HELM_KUBETOKEN", None)
        # Python's default: bytecode written. The modules keep theirs in a cache of the bench's own,
        # empty at the start, so the first task of a run pays the compilation as on a fresh machine.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["MATIH_HELM_BYTECODE_CACHE"] = os.path.join(workdir, "bytecode")
        self.env.setdefault("ANSIBLE_COLLECTIONS_PATH", collections_path())
        self.exec_emulator = None  # section (a)'s TLS emulator for the exec plugin, made on first use
        self.exec_kubeconfig = None
        self.exec_plugin_log = os.path.join(workdir, "exec-plugin-runs.log")
        self._playbooks = {}
        self.last_releases_named = []
        self.startup_seconds = None
        self.startup_cpu_seconds = None
        self.last_cpu_seconds = None
        self.results = {section: [] for section in SECTIONS}
        self.event_latency = None  # section (g): its control plane, started on first use

    def close(self):
        self.emulator.stop()
        if self.event_latency is not None:
            self.event_latency.close()
        if self.exec_emulator is not None:
            self.exec_emulator.stop()

    # --- plumbing ---------------------------------------------------------------------------

    def requests(self):
        """Requests served so far by the emulators (one at a time is in use, so a difference is one run's)."""
        emulators = [self.emulator] + ([self.exec_emulator] if self.exec_emulator is not None else [])
        return sum(sum(emulator.stats.snapshot().values()) for emulator in emulators)

    def exec_plugin_runs(self):
        if not os.path.exists(self.exec_plugin_log):
            return 0
        with open(self.exec_plugin_log, encoding="utf-8") as handle:
            return sum(1 for _line in handle)

    def start_exec_emulator(self):
        """A second emulator, HTTPS and refusing requests without its token, and a kubeconfig for it
        whose user is an exec credential plugin (v1) printing that token, with the emulator's CA."""
        if self.exec_emulator is not None:
            return self.exec_emulator, self.exec_kubeconfig
        emulator = kubeemu.Emulator(os.path.join(self.workdir, "kubeconfig-tls"), tls=True, require_token=True).start()
        self.exec_emulator = emulator
        plugin = os.path.join(self.workdir, "exec-credential-plugin")
        with open(os.open(plugin, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700), "w", encoding="utf-8") as handle:
            handle.write(EXEC_PLUGIN_SCRIPT % {"python": sys.executable, "log": self.exec_plugin_log,
                                               "api_version": EXEC_PLUGIN_API_VERSION, "token": emulator.token})
        kubeconfig = os.path.join(self.workdir, "kubeconfig-exec")
        emulator.write_kubeconfig(kubeconfig, token=None)  # the server and certificate-authority: the emulator's CA
        with open(kubeconfig, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        # client-go requires interactiveMode with v1; Never: the plugin needs no terminal.
        config["users"][0]["user"] = {"exec": {"apiVersion": EXEC_PLUGIN_API_VERSION, "command": plugin, "interactiveMode": "Never"}}
        if not config["clusters"][0]["cluster"].get("certificate-authority") or not emulator.url.startswith("https://"):
            raise BenchError("the exec-plugin emulator is not serving TLS with its CA in the kubeconfig: %s" % config["clusters"])
        with open(os.open(kubeconfig, os.O_WRONLY | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, default_flow_style=False)
        self.exec_kubeconfig = kubeconfig
        return emulator, kubeconfig

    def playbook(self, name, text):
        if name not in self._playbooks:
            path = os.path.join(self.workdir, name + ".yml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            self._playbooks[name] = path
        return self._playbooks[name]

    def ansible_playbook(self, playbook, extra_vars, count_helm=None, options=(), env_overrides=None):
        """Run ansible-playbook (``env_overrides``: variables to set or replace, such as KUBECONFIG);
        returns (seconds, emulator requests, helm subcommands or None)."""
        env = dict(self.env, **(env_overrides or {}))
        log = None
        if count_helm:
            log = os.path.join(self.workdir, "helm-execs.log")
            if os.path.exists(log):
                os.unlink(log)
            env.update(PYTHONPATH=os.pathsep.join(filter(None, [self.workdir, env.get("PYTHONPATH")])),
                       MATIH_BENCH_EXEC_LOG=log, MATIH_BENCH_HELM=os.path.realpath(count_helm))
        extra_vars = dict(extra_vars, ansible_python_interpreter=sys.executable)
        argv = ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", json.dumps(extra_vars)] + list(options) + [playbook]
        before = self.requests()
        cpu_before = _children_cpu()
        started = time.perf_counter()
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=self.workdir)
        seconds = time.perf_counter() - started
        # CPU time of ansible-playbook and every process under it (modules, Helm, exec plugins): far less
        # moved than wall time by other work on the machine
        self.last_cpu_seconds = _children_cpu() - cpu_before
        requests = self.requests() - before
        if result.returncode != 0:
            raise BenchError("ansible-playbook %s failed (rc=%d):\n%s\n%s" % (
                os.path.basename(playbook), result.returncode, result.stdout[-4000:], result.stderr[-2000:]))
        execs = None
        if log:
            calls = []
            if os.path.exists(log):  # no line at all: the run started no Helm process (records reads)
                with open(log, encoding="utf-8") as handle:
                    calls = [line.rstrip("\n").split("\t") for line in handle]
            execs = [kind for kind, _release in calls]
            self.last_releases_named = [release for _kind, release in calls if release]
        return seconds, requests, execs

    def measure_startup(self):
        if self.startup_seconds is None:
            runs = []
            for _attempt in range(3):
                runs.append((self.ansible_playbook(self.playbook("empty", EMPTY_PLAYBOOK), {})[0], self.last_cpu_seconds))
            self.startup_seconds = min(seconds for seconds, _cpu in runs)
            self.startup_cpu_seconds = min(cpu for _seconds, cpu in runs)
            print("ansible-playbook start-up (empty playbook, best of 3): %.3f s, %.3f s CPU" % (self.startup_seconds, self.startup_cpu_seconds))
        return self.startup_seconds

    def namespace(self, *parts, emulator=None):
        name = "-".join(["bench"] + [str(part) for part in parts])
        (emulator or self.emulator).create_namespace(name)
        return name

    # --- (a) rollback -----------------------------------------------------------------------

    def section_a(self, label, helm):
        startup = self.measure_startup()
        module = self.playbook("rollback-module", ROLLBACK_MODULE_PLAYBOOK)
        command = self.playbook("rollback-command", ROLLBACK_COMMAND_PLAYBOOK)
        # "module (no bytecode cache)": MATIH_HELM_BYTECODE_CACHE=off, what a task costs where the
        # modules' cache directory cannot be written.
        rows = self._rollback_variants(label, helm, startup, [("module", module, None), ("command", command, None),
                                                              ("module (no bytecode cache)", module, {"MATIH_HELM_BYTECODE_CACHE": "off"})])
        rows.append(self._rollback_python(label, helm))
        for row in rows:
            row["ratio_vs_command"] = ratio(row["s_per_op_net"], rows[1]["s_per_op_net"])
            row["cpu_ratio_vs_command"] = ratio(row.get("cpu_s_per_op_net"), rows[1]["cpu_s_per_op_net"])
        self.results["a"] += rows

        # The same with an exec credential plugin in the kubeconfig (TLS, token required).
        emulator, kubeconfig = self.start_exec_emulator()
        rows = self._rollback_variants(label, helm, startup, [("module (exec plugin)", module, None), ("command (exec plugin)", command, None)],
                                       emulator=emulator, kubeconfig=kubeconfig)
        for row in rows:
            row["ratio_vs_command"] = ratio(row["s_per_op_net"], rows[1]["s_per_op_net"])
            row["cpu_ratio_vs_command"] = ratio(row["cpu_s_per_op_net"], rows[1]["cpu_s_per_op_net"])
        self.results["a"] += rows

    def _rollback_variants(self, label, helm, startup, variants, emulator=None, kubeconfig=None):  # pylint: disable=too-many-arguments,too-many-locals
        """For each (variant, playbook, environment): its own release, then ROUNDS timed runs of K
        rollbacks, the variants taking turns (module, command, module, command...) so that a machine
        that slows down during the section weighs on each alike; a variant's figure is its best run, as
        for the start-up (the least disturbed by other work on the machine).
        Then 2 rollbacks in an untimed run counting Helm execs (and exec plugin runs).
        ``emulator``/``kubeconfig``: another emulator than the default one."""
        k = self.args.rollbacks
        kubeconfig = kubeconfig or self.emulator.kubeconfig_path
        runners = []
        for variant, playbook, env in variants:
            namespace = self.namespace("a", label, "-".join(re.findall("[a-z0-9]+", variant)), emulator=emulator)
            scenarios.install(helm, kubeconfig, "rb", namespace, "1.0.0", {"config.side": "one"})
            scenarios.upgrade(helm, kubeconfig, "rb", namespace, "1.1.0", {"config.side": "two"})
            runners.append((variant, self._rollback_runner(label, helm, variant, playbook, namespace, kubeconfig,
                                                           dict(env or {}, KUBECONFIG=kubeconfig))))
        timed = {variant: [] for variant, _runner in runners}
        for _round in range(self.args.rounds):
            for variant, runner in runners:
                timed[variant].append(runner(k)[:2] + (self.last_cpu_seconds,))
        rows = []
        for variant, runner in runners:
            runs = timed[variant]
            seconds, requests, _cpu = min(runs)
            cpu = min(run[2] for run in runs)
            _seconds, _requests, execs, plugin_runs = runner(2, count=True)
            rows.append({"helm": label, "variant": variant, "rollbacks": k, "rounds": len(runs),
                         "kubeconfig_user": "exec plugin" if emulator else "token",
                         "seconds": seconds, "seconds_all": [round(run[0], 3) for run in timed[variant]],
                         "s_per_op": seconds / k, "s_per_op_net": (seconds - startup) / k, "requests_per_op": requests / k,
                         "cpu_s_per_op_net": (cpu - self.startup_cpu_seconds) / k,
                         "helm_execs_per_op": len(execs) / 2, "helm_execs": summarize(execs, 2),
                         "exec_plugin_runs_per_op": plugin_runs / 2 if emulator else None})
        return rows

    def _rollback_runner(self, label, helm, variant, playbook, namespace, kubeconfig, env_overrides):  # pylint: disable=too-many-arguments
        """run(rollbacks, count=False): one ansible-playbook run of that many rollbacks of the release,
        each checked in the history; (seconds, requests, helm execs, exec plugin runs)."""
        release = "rb"

        def run(rollbacks, count=False):
            latest = scenarios.history(helm, kubeconfig, release, namespace)[-1]["revision"]
            plugin_runs = self.exec_plugin_runs()
            measured = self.ansible_playbook(playbook, {"helm": helm, "release": release, "release_namespace": namespace,
                                                        "first_target": latest - 1, "rollbacks": rollbacks}, helm if count else None,
                                             env_overrides=env_overrides)
            plugin_runs = self.exec_plugin_runs() - plugin_runs
            entries = scenarios.history(helm, kubeconfig, release, namespace)
            made = [entry for entry in entries if entry["revision"] > latest]
            expected = ["Rollback to %d" % target for target in range(latest - 1, latest - 1 + rollbacks)]
            if [entry["description"] for entry in made] != expected or made[-1]["status"] != "deployed":
                raise BenchError("%s %s: expected revisions %s, got %s" % (label, variant, expected, made))
            return measured + (plugin_runs,)
        return run

    def _rollback_python(self, label, helm, section="a"):
        """The same K rollbacks as plain ``helm rollback`` subprocess calls: Helm's own time."""
        k, kubeconfig = self.args.rollbacks, self.emulator.kubeconfig_path
        namespace, release = self.namespace(section, label, "python"), "rb"
        scenarios.install(helm, kubeconfig, release, namespace, "1.0.0", {"config.side": "one"})
        scenarios.upgrade(helm, kubeconfig, release, namespace, "1.1.0", {"config.side": "two"})
        before, cpu_before, started = self.requests(), _children_cpu(), time.perf_counter()
        for target in range(1, k + 1):
            subprocess.run([helm, "rollback", release, str(target), "-n", namespace], env=self.env, capture_output=True, check=True)
        seconds, requests, cpu = time.perf_counter() - started, self.requests() - before, _children_cpu() - cpu_before
        descriptions = [entry["description"] for entry in scenarios.history(helm, kubeconfig, release, namespace)[-k:]]
        if descriptions != ["Rollback to %d" % target for target in range(1, k + 1)]:
            raise BenchError("%s plain Python rollbacks: unexpected history %s" % (label, descriptions))
        return {"helm": label, "variant": "plain Python", "rollbacks": k, "seconds": seconds, "s_per_op": seconds / k,
                "s_per_op_net": seconds / k, "cpu_s_per_op_net": cpu / k, "requests_per_op": requests / k, "helm_execs_per_op": 1.0,
                "helm_execs": "rollback 1"}

    # --- (b) history ------------------------------------------------------------------------

    def section_b(self, label, helm):
        revisions, kubeconfig = self.args.revisions, self.emulator.kubeconfig_path
        startup = self.measure_startup()
        namespace, release = self.namespace("b", label), "hist"
        keep_all = ["--history-max", "0"]
        scenarios.install(helm, kubeconfig, release, namespace, "1.0.0", {"config.revision": "1"})
        for revision in range(2, revisions + 1):
            scenarios.upgrade(helm, kubeconfig, release, namespace, "1.0.0", {"config.revision": str(revision)}, extra=keep_all)
        expected = [{"config": {"revision": str(revision)}} for revision in range(1, revisions + 1)]
        common = {"helm": helm, "release": release, "release_namespace": namespace}
        rows = []

        module_book = self.playbook("history-module", HISTORY_MODULE_PLAYBOOK)
        seconds, requests = self.ansible_playbook(module_book, common)[:2]
        checked = self.playbook("history-module-check", HISTORY_MODULE_PLAYBOOK + SAVE_RESULT_TASK % "bench_history")
        result_file = os.path.join(self.workdir, "history.json")
        execs = self.ansible_playbook(checked, dict(common, result_file=result_file), helm)[2]
        with open(result_file, encoding="utf-8") as handle:
            got = [entry.get("values") for entry in json.load(handle)["history"]]
        if got != expected:
            raise BenchError("%s: helm_release_history values %s, expected %s" % (label, got[:3], expected[:3]))
        rows.append(self._history_row(label, "module", seconds, startup, requests, execs, revisions))

        loop_book = self.playbook("history-loop", HISTORY_LOOP_PLAYBOOK)
        seconds, requests = self.ansible_playbook(loop_book, common)[:2]
        checked = self.playbook("history-loop-check", HISTORY_LOOP_PLAYBOOK + SAVE_RESULT_TASK % "bench_values")
        execs = self.ansible_playbook(checked, dict(common, result_file=result_file), helm)[2]
        with open(result_file, encoding="utf-8") as handle:
            got = [json.loads(item["stdout"]) for item in json.load(handle)["results"]]
        if got != expected:
            raise BenchError("%s: naive playbook values %s, expected %s" % (label, got[:3], expected[:3]))
        rows.append(self._history_row(label, "command loop (playbook)", seconds, startup, requests, execs, revisions))

        before, started = self.requests(), time.perf_counter()
        got, calls = naive_history(helm, self.env, release, namespace)
        seconds, requests = time.perf_counter() - started, self.requests() - before
        if got != expected:
            raise BenchError("%s: naive Python values %s, expected %s" % (label, got[:3], expected[:3]))
        row = self._history_row(label, "plain Python loop", seconds, 0.0, requests, calls, revisions)
        row["s_net"] = None
        rows.append(row)

        module = rows[0]
        for row in rows:
            row["module_ratio"] = ratio(module["seconds"], row["seconds"])
        self.results["b"] += rows

    @staticmethod
    def _history_row(label, variant, seconds, startup, requests, execs, revisions):
        return {"helm": label, "variant": variant, "revisions": revisions, "seconds": seconds, "s_net": seconds - startup,
                "requests": requests, "helm_execs": len(execs), "helm_exec_kinds": summarize(execs, 1)}

    # --- (c) remediate ----------------------------------------------------------------------

    def section_c(self, label, helm):
        if not os.path.exists(REMEDIATE_PLAYBOOK):
            print("\n(c) remediate: SKIPPED for %s: %s does not exist yet" % (label, os.path.relpath(REMEDIATE_PLAYBOOK, REPO_ROOT)))
            return
        for size in self.args.fleet_sizes:
            self.results["c"].append(self._remediate(label, helm, size))

    def _remediate(self, label, helm, size):
        kubeconfig = self.emulator.kubeconfig_path
        namespaces = [self.namespace("c", label, size, index) for index in range(max(1, -(-size // RELEASES_PER_NAMESPACE)))]
        failed, pending = round(size * FAILED_SHARE), round(size * PENDING_SHARE)
        plan = []
        for index in range(size):
            kind = "failed" if index < failed else "pending" if index < failed + pending else "healthy"
            plan.append((kind, "app-%03d" % index, namespaces[index % len(namespaces)]))

        def make(item):
            kind, name, namespace = item
            scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.release": name})
            if kind == "failed":
                scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "rejected_config")
            elif kind == "pending":
                scenarios.pending_release(helm, kubeconfig, name, namespace, "upgrade")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(make, plan))

        report_dir = os.path.join(self.workdir, "report-%s-%d" % (label, size))
        extra_vars = {
            "fleet_remediation_namespaces": namespaces,
            "fleet_remediation_connection": {"binary_path": helm},
            "fleet_remediation_unlock_pending": True,  # the pending revisions were left by a killed Helm
            "fleet_remediation_report_dir": report_dir,
        }
        seconds, requests, execs = self.ansible_playbook("matih.helm.remediate", extra_vars, count_helm=helm,
                                                         options=["--forks", str(self.args.forks)])
        listed = scenarios.list_releases(helm, kubeconfig)
        mine = {(entry["namespace"], entry["name"]): entry["status"] for entry in listed if entry["namespace"] in namespaces}
        not_deployed = sorted("%s/%s=%s" % (ns, name, status) for (ns, name), status in mine.items() if status != "deployed")
        if len(mine) != size or not_deployed:
            raise BenchError("%s, %d releases: after remediate %d listed, not deployed: %s" % (label, size, len(mine), not_deployed[:10]))
        unhealthy = failed + pending
        healthy = {name for kind, name, _namespace in plan if kind == "healthy"}
        naming_healthy = sum(1 for release in self.last_releases_named if release in healthy)
        return {"helm": label, "releases": size, "failed": failed, "pending": pending, "namespaces": len(namespaces),
                "forks": self.args.forks, "seconds": seconds, "s_per_release": seconds / size,
                "s_per_unhealthy": seconds / unhealthy if unhealthy else None, "requests_per_release": requests / size,
                "helm_execs": len(execs), "helm_execs_per_unhealthy": len(execs) / unhealthy if unhealthy else None,
                "helm_exec_kinds": summarize(execs, unhealthy or 1), "helm_calls_naming_healthy": naming_healthy}

    # --- (d) drift scan -----------------------------------------------------------------------

    def section_d(self, label, helm):
        for size in self.args.fleet_sizes:
            self.results["d"] += self._drift_scan(label, helm, size)

    def _drift_scan(self, label, helm, size):  # pylint: disable=too-many-locals
        kubeconfig, startup = self.emulator.kubeconfig_path, self.measure_startup()
        namespaces = [self.namespace("d", label, size, index) for index in range(max(1, -(-size // RELEASES_PER_NAMESPACE)))]
        plan = [("app-%03d" % index, namespaces[index % len(namespaces)]) for index in range(size)]
        edited = {"%s/%s" % (namespace, name) for name, namespace in plan[:max(1, round(size * DRIFTED_SHARE))]}

        def make(item):
            name, namespace = item
            scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.release": name})
            if "%s/%s" % (namespace, name) in edited:
                self.edit_configmap(namespace, name + "-config", {"release": "edited by hand"})
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(make, plan))

        result_file = os.path.join(self.workdir, "drift-%s-%d.json" % (label, size))
        rows = []
        for variant, statuses in (("list, no drift scan", ["failed"]), ("list with drifted", ["drifted"])):
            book = self.playbook("drift-list", DRIFT_LIST_PLAYBOOK + SAVE_RESULT_TASK % "bench_list")
            seconds, requests, execs = self.ansible_playbook(book, {"helm": helm, "namespaces": namespaces, "statuses": statuses,
                                                                    "result_file": result_file}, helm)
            with open(result_file, encoding="utf-8") as handle:
                listed = json.load(handle)
            found = {"%s/%s" % (release["namespace"], release["name"]) for release in listed["releases"]}
            expected = edited if "drifted" in statuses else set()
            if found != expected:
                raise BenchError("%s, %d releases, %s: listed %s, expected %s" % (label, size, variant, sorted(found)[:5], sorted(expected)[:5]))
            scan = listed.get("drift_scan")
            rows.append(self._drift_row(label, variant, size, len(namespaces), len(edited), seconds, startup, requests, execs,
                                        scan["api_requests"] if scan else 0))

        book = self.playbook("drift-loop", DRIFT_LOOP_PLAYBOOK + SAVE_RESULT_TASK % "bench_drift")
        releases = [{"name": name, "namespace": namespace} for name, namespace in plan]
        seconds, requests, execs = self.ansible_playbook(book, {"helm": helm, "releases": releases, "result_file": result_file}, helm)
        with open(result_file, encoding="utf-8") as handle:
            checks = json.load(handle)["results"]
        found = {"%s/%s" % (check["item"]["namespace"], check["item"]["name"]) for check in checks if check["drifted"]}
        if found != edited:
            raise BenchError("%s, %d releases, helm_release_drift loop: drifted %s, expected %s" % (label, size, sorted(found)[:5], sorted(edited)[:5]))
        rows.append(self._drift_row(label, "helm_release_drift per release", size, len(namespaces), len(edited), seconds, startup, requests,
                                    execs, sum(check["api_requests"] for check in checks)))
        baseline, scan = rows[0], rows[1]
        for row in rows:
            row["s_vs_list"] = ratio(row["s_net"], baseline["s_net"])
            row["requests_vs_scan"] = ratio(row["drift_requests"], scan["drift_requests"])
        return rows

    @staticmethod
    def _drift_row(label, variant, size, namespaces, drifted, seconds, startup, requests, execs, drift_requests):  # pylint: disable=too-many-arguments
        return {"helm": label, "variant": variant, "releases": size, "namespaces": namespaces, "drifted": drifted,
                "seconds": seconds, "s_net": seconds - startup, "requests": requests, "requests_per_release": requests / size,
                "drift_requests": drift_requests, "drift_requests_per_release": drift_requests / size, "helm_execs": len(execs)}

    def edit_configmap(self, namespace, name, data):
        """Change a ConfigMap's data through the API, as ``kubectl edit`` would (read, change, write back)."""
        path = "%s/api/v1/namespaces/%s/configmaps/%s" % (self.emulator.url, namespace, name)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        with urllib.request.urlopen(urllib.request.Request(path, headers=headers), timeout=30) as response:
            body = json.load(response)
        body["data"].update(data)
        request = urllib.request.Request(path, data=json.dumps(body).encode("utf-8"), method="PUT", headers=headers)
        with urllib.request.urlopen(request, timeout=30):
            pass

    # --- (e) preflight ----------------------------------------------------------------------

    def section_e(self, label, helm):
        """The preflight of one rollback target, K times, beside K bare helm rollbacks."""
        k, kubeconfig = self.args.rollbacks, self.emulator.kubeconfig_path
        namespace, release = self.namespace("e", label), "pf"
        scenarios.install(helm, kubeconfig, release, namespace, "1.0.0", {"config.side": "one"})
        scenarios.upgrade(helm, kubeconfig, release, namespace, "1.1.0", {"config.side": "two"})
        module_utils = collection_module_utils()
        connection = module_utils["connection"].Connection.from_params({}, kubeconfig, {})
        store = module_utils["release_store"].ReleaseStore(connection, environ={})
        live = module_utils["live_objects"].LiveObjects(store)
        wide = "".join("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wide-%d\ndata:\n  n: \"%d\"\n" % (index, index)
                       for index in range(PREFLIGHT_WIDE_OBJECTS))
        targets = [("demo chart revision 1", store.manifest(release, namespace, 1)), ("%d ConfigMaps" % PREFLIGHT_WIDE_OBJECTS, wide)]
        rows = []
        for variant, manifest in targets:
            before, started = self.requests(), time.perf_counter()
            for _round in range(k):
                checked = module_utils["preflight"].preflight(live, manifest, namespace, release=release)
                if not checked.passed:
                    raise BenchError("%s preflight of %s refused: %s" % (label, variant, checked.summary()))
            seconds, requests = time.perf_counter() - started, self.requests() - before
            rows.append({"helm": label, "variant": variant, "objects": checked.objects, "rounds": k, "seconds": seconds,
                         "s_per_op": seconds / k, "requests_per_op": requests / k})
        rollback = self._rollback_python(label, helm, section="e")
        for row in rows:
            row["s_per_bare_rollback"] = rollback["s_per_op"]
            row["ratio_vs_rollback"] = ratio(row["s_per_op"], rollback["s_per_op"])
        self.results["e"] += rows

    # --- (f) scale ----------------------------------------------------------------------------

    def section_f(self, label, helm):
        """A fleet of R releases x V revisions over N namespaces (default 1,000 x 10 over 100), 10% failed.

        How the fleet is made (the fastest honest way): ONE release of a chart whose manifest renders to
        about 100 KB (scale_fleet.write_chart: four ConfigMaps of generated settings) is installed with
        the real Helm binary measured; its release Secret is read and decoded, and the R x V records are
        that record with another name (also in the manifest's object names), namespace, revision and status,
        gzipped and base64-encoded as Helm writes them, POSTed as Helm's Secrets (name
        sh.helm.release.v1.NAME.vN, type helm.sh/release.v1, labels name, owner=helm, status, version,
        modifiedAt) through the emulator's HTTP API from 8 threads; the seed release is then uninstalled.
        A release's latest revision is deployed (or failed, for one in ten, the one before it still deployed
        as Helm leaves a failed upgrade), the older ones superseded. Only records are made: a failed
        release's objects are created by its rollback (checked after the remediation).

        Each Helm major gets an emulator of its own (so the cluster-wide LISTs read this fleet only, and the
        memory goes with it), which answers metadata-only LISTs as a real API server does (the items'
        metadata, in pages of the client's ``limit``: scale_fleet.MetadataListHandler).

        With ``--scale-plane`` (the default) the same fleet is made again on the REAL control plane
        (tests/cluster/controlplane.py, Go's API server and etcd) and remediated there too: the emulator, a
        Python process on the same two cores, serves each recovery's records (10 of about 32 KB) and dry runs
        itself, so its own CPU is part of the emulator's figure. Requests on the control plane are the API
        server's apiserver_request_total (/metrics) over the run, less its controllers' idle rate."""
        startup = self.measure_startup()
        releases, namespace_count, revisions = self.args.scale_releases, self.args.scale_namespaces, self.args.scale_revisions
        scratch = os.path.join(self.workdir, "scale-" + label)
        os.makedirs(scratch, exist_ok=True)
        target = ScaleTarget.emulator(scale_fleet.serve_metadata_lists(kubeemu.Emulator(os.path.join(scratch, "kubeconfig")).start()))
        try:
            fleet = self._scale_fleet(label, helm, target, scratch, releases, namespace_count, revisions)
            self.results["f"].append(fleet)
            self.results["f"] += self._scale_discovery(label, helm, target, scratch, fleet)
            self.results["f"].append(self._scale_remediation(label, helm, target, scratch, fleet, startup))
        finally:
            target.stop()
        if not self.args.scale_plane:
            return
        scratch = os.path.join(self.workdir, "scale-plane-" + label)
        os.makedirs(scratch, exist_ok=True)
        target = ScaleTarget.control_plane()
        try:
            fleet = self._scale_fleet(label, helm, target, scratch, releases, namespace_count, revisions)
            self.results["f"].append(fleet)
            self.results["f"].append(self._scale_remediation(label, helm, target, scratch, fleet, startup))
        finally:
            target.stop()

    def _scale_fleet(self, label, helm, target, scratch, releases, namespace_count, revisions):  # pylint: disable=too-many-arguments
        kubeconfig = target.kubeconfig_path
        chart = scale_fleet.write_chart(scratch)
        started = time.perf_counter()
        target.create_namespace("scale-seed")
        scenarios.run_helm(helm, kubeconfig, ["install", scale_fleet.SEED_NAME, chart, "-n", "scale-seed"])
        seed, seed_labels, seed_size = scale_fleet.read_seed(target.url, "scale-seed", context=target.context)
        scenarios.run_helm(helm, kubeconfig, ["uninstall", scale_fleet.SEED_NAME, "-n", "scale-seed"])
        seed_seconds = time.perf_counter() - started
        plan = scale_fleet.fleet_plan(releases, namespace_count, "scale-%s" % label)
        namespaces = sorted({namespace for _name, namespace, _failed in plan})
        for namespace in namespaces:
            target.create_namespace(namespace)
        started = time.perf_counter()
        secrets = scale_fleet.create_fleet(target.url, seed, seed_labels, plan, revisions, context=target.context)
        create_seconds = time.perf_counter() - started
        failed = sorted((namespace, name) for name, namespace, is_failed in plan if is_failed)
        rows = self._scale_rows(kubeconfig)
        listed_failed = sorted(row.key() for row in rows if row.status == "failed")
        if len(rows) != releases or listed_failed != failed or any(row.revision != revisions for row in rows):
            raise BenchError("%s (f): the fleet has %d releases (%d failed), expected %d (%d failed) at revision %d" % (
                label, len(rows), len(listed_failed), releases, len(failed), revisions))
        print("(f) %s on %s: fleet of %d releases x %d revisions over %d namespaces (%d failed): %d Secrets created in %.1f s "
              "(%.0f/s; seed install %.1f s), manifest %.0f KB, record %.1f KB" % (
                  label, target.name, releases, revisions, namespace_count, len(failed), secrets, create_seconds, secrets / create_seconds,
                  seed_seconds, len(seed["manifest"]) / 1000.0, seed_size / 1000.0))
        sys.stdout.flush()
        return {"helm": label, "part": "fleet", "cluster": target.name, "releases": releases, "revisions": revisions, "namespaces": namespaces,
                "failed": [name for _namespace, name in failed], "failed_count": len(failed), "secrets": secrets,
                "create_seconds": create_seconds, "secrets_per_second": secrets / create_seconds, "seed_seconds": seed_seconds,
                "manifest_bytes": len(seed["manifest"]), "record_bytes": seed_size,
                "record_bytes_note": "the Secret's data.release as the API sends it (base64 of Helm's base64 of the gzipped JSON)"}

    def _scale_rows(self, kubeconfig):
        """The latest revision of every release, from one discover (metadata LIST) in this process."""
        utils = collection_module_utils()
        connection = utils["connection"].Connection.from_params({}, kubeconfig, {})
        client = utils["release_store"].ReleaseStore(connection, environ={}).client
        return utils["release_inventory"].latest_revisions(utils["release_inventory"].discover(client).items)

    def _scale_discovery(self, label, helm, target, scratch, fleet):  # pylint: disable=too-many-locals
        """Every discovery variant SCALE_ROUNDS times, taking turns; a variant's figure is its best run."""
        kubeconfig, releases, failed = target.kubeconfig_path, fleet["releases"], fleet["failed_count"]
        env = dict(self.env, KUBECONFIG=kubeconfig)
        inventory = os.path.join(scratch, "fleet.helm_releases.yml")
        with open(inventory, "w", encoding="utf-8") as handle:
            handle.write("plugin: matih.helm.helm_releases\n")
        utils = collection_module_utils()
        old_list = ["list", "--output", "json", "--max", "0"] + (["--all"] if scenarios.helm_major(helm) < 4 else [])

        def discover():
            connection = utils["connection"].Connection.from_params({}, kubeconfig, {})
            client = utils["release_store"].ReleaseStore(connection, environ={}).client
            found = utils["release_inventory"].discover(client)
            rows = utils["release_inventory"].latest_revisions(found.items)
            unhealthy = utils["release_inventory"].select_rows(rows, statuses=["failed", "pending"])
            return len(rows), len(unhealthy), None

        def plugin():
            output, rss = run_measured(["ansible-inventory", "-i", inventory, "--list"], env, scratch)
            listed = json.loads(output)
            hosts = listed.get("_meta", {}).get("hostvars", {})
            return len(hosts), len(listed.get("helm_unhealthy", {}).get("hosts", [])), rss

        def empty_inventory():
            output, rss = run_measured(["ansible-inventory", "-i", "localhost,", "--list"], env, scratch)
            listed = json.loads(output)
            return len({host for name, group in listed.items() if name != "_meta" for host in group.get("hosts", [])}), 0, rss

        def helm_list(*flags):
            def run():
                output, rss = run_measured([helm, "list", "-A", "-o", "json", "--max", "0"] + list(flags), env, scratch)
                listed = json.loads(output or "[]")
                return len(listed), sum(1 for entry in listed if entry["status"] == "failed"), rss
            return run

        def per_namespace():
            def one(namespace):
                return run_measured([helm] + old_list + ["--namespace", namespace], env, scratch)
            with concurrent.futures.ThreadPoolExecutor(OLD_LIST_CONCURRENCY) as pool:
                answers = list(pool.map(one, fleet["namespaces"]))
            listed = [entry for output, _rss in answers for entry in json.loads(output or "[]")]
            return len(listed), sum(1 for entry in listed if entry["status"] == "failed"), max(rss for _output, rss in answers)

        variants = [  # (variant, run, releases it must list, failed ones it must list)
            ("one metadata LIST (release_inventory.discover)", discover, releases, failed),
            ("ansible-inventory --list (helm_releases plugin)", plugin, releases, failed),
            ("ansible-inventory -i localhost, --list (empty)", empty_inventory, 1, 0),
            ("helm list -A --failed --pending", helm_list("--failed", "--pending"), failed, failed),
            ("helm list -A", helm_list(), releases, failed),
            ("helm list -n NS per namespace (%d at a time)" % OLD_LIST_CONCURRENCY, per_namespace, releases, failed),
        ]
        timed = {variant: [] for variant, _run, _releases, _failed in variants}
        for _round in range(self.args.scale_rounds):
            for variant, run, want_releases, want_failed in variants:
                before, started = target.requests(), time.perf_counter()
                listed, listed_failed, rss = run()
                seconds, requests = time.perf_counter() - started, target.requests() - before
                if (listed, listed_failed) != (want_releases, want_failed):
                    raise BenchError("%s (f) %s: listed %d releases (%d failed), expected %d (%d failed)" % (
                        label, variant, listed, listed_failed, want_releases, want_failed))
                timed[variant].append((seconds, requests, rss))
        rows = []
        for variant, _run, want_releases, _failed in variants:
            runs = timed[variant]
            rss = [run[2] for run in runs if run[2] is not None]
            rows.append({"helm": label, "part": "discovery", "variant": variant, "releases_listed": want_releases,
                         "rounds": len(runs), "seconds": min(run[0] for run in runs), "seconds_all": [round(run[0], 3) for run in runs],
                         "requests": max(run[1] for run in runs), "peak_rss_mb": max(rss) / 1024.0 if rss else None})
        base = rows[0]["seconds"]
        for row in rows:
            row["x_one_list"] = ratio(row["seconds"], base)
        return rows

    def _scale_remediation(self, label, helm, target, scratch, fleet, startup):  # pylint: disable=too-many-arguments,too-many-locals
        """ansible-playbook matih.helm.remediate over the fleet's namespaces; every failed release checked."""
        kubeconfig, failed = target.kubeconfig_path, fleet["failed_count"]
        extra_vars = {
            "fleet_remediation_namespaces": fleet["namespaces"],
            "fleet_remediation_connection": {"binary_path": helm},
            "fleet_remediation_report_dir": os.path.join(scratch, "report"),
        }
        idle_rate = target.idle_rate()
        before = target.requests()
        seconds, _requests, execs = self.ansible_playbook("matih.helm.remediate", extra_vars, count_helm=helm,
                                                          options=["--forks", str(self.args.forks)], env_overrides={"KUBECONFIG": kubeconfig})
        requests = target.requests() - before - idle_rate * seconds
        rows = self._scale_rows(kubeconfig)
        by_key = {row.key(): row for row in rows}
        failed_names = set(fleet["failed"])
        not_deployed = sorted("%s/%s=%s" % (row.namespace, row.name, row.status) for row in rows if row.status != "deployed")
        not_rolled = sorted("%s/%s" % key for key, row in by_key.items() if row.name in failed_names and row.revision <= fleet["revisions"])
        if len(rows) != fleet["releases"] or not_deployed or not_rolled:
            raise BenchError("%s (f): after remediate %d releases, not deployed: %s; failed ones without a new revision: %s; "
                             "their report rows: %s" % (label, len(rows), not_deployed[:10], not_rolled[:10],
                                                        self._report_rows(extra_vars["fleet_remediation_report_dir"], not_rolled[:10])))
        # The rollbacks re-applied the manifest: each recovered release has its ConfigMaps, the others none.
        query = urllib.parse.urlencode({"labelSelector": "app.kubernetes.io/name=%s" % scale_fleet.CHART_NAME})
        with urllib.request.urlopen("%s/api/v1/configmaps?%s" % (target.url, query), timeout=120, context=target.context) as response:
            objects = json.load(response)["items"]
        owners = {}
        for obj in objects:
            owners.setdefault(obj["metadata"]["labels"]["app.kubernetes.io/instance"], []).append(obj)
        incomplete = sorted(name for name in failed_names
                            if len(owners.get(name, [])) != scale_fleet.CONFIG_MAPS
                            or any(len(obj.get("data") or {}) != scale_fleet.KEYS_PER_CONFIG_MAP for obj in owners.get(name, [])))
        if set(owners) != failed_names or incomplete:
            raise BenchError("%s (f): objects after the rollbacks: releases with objects %d (expected %d), incomplete %s" % (
                label, len(owners), len(failed_names), incomplete[:10]))
        naming_healthy = sum(1 for release in self.last_releases_named if release not in failed_names)
        return {"helm": label, "part": "remediation", "cluster": target.name, "releases": fleet["releases"], "namespaces": len(fleet["namespaces"]),
                "unhealthy": failed, "recovered": failed, "forks": self.args.forks, "seconds": seconds, "s_net": seconds - startup,
                "s_per_unhealthy": seconds / failed if failed else None, "s_per_unhealthy_net": (seconds - startup) / failed if failed else None,
                "requests": requests, "requests_per_unhealthy": requests / failed if failed else None, "helm_execs": len(execs),
                "helm_execs_per_unhealthy": len(execs) / failed if failed else None, "helm_exec_kinds": summarize(execs, failed or 1),
                "helm_calls_naming_healthy": naming_healthy, "objects_recreated": len(objects)}

    # --- (g) event-driven recovery ---------------------------------------------------------------

    def section_g(self, label, helm):
        """See tests/bench/event_latency.py."""
        if self.event_latency is None:
            self.event_latency = event_latency.EventLatency(self.workdir, self.env, self.measure_startup,
                                                            collection_module_utils()["helm_client"].rollback_argv)
        try:
            self.results["g"].append(self.event_latency.run(label, helm, self.args.event_failures, self.args.idle_seconds))
        except event_latency.FAILURES as error:
            raise BenchError("%s: %s" % (type(error).__name__, error)) from error

    @staticmethod
    def _report_rows(report_dir, hosts):
        """The remediation report's rows (outcome, error_kind, reason) of ``hosts`` (namespace/name), to say why."""
        try:
            names = [name for name in os.listdir(report_dir) if name.endswith(".json")]
            with open(os.path.join(report_dir, sorted(names)[-1]), encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, IndexError, ValueError) as error:
            return "no report (%s)" % error
        rows = report.get("releases") or report.get("fleet_remediation_releases") or []
        return [{key: row.get(key) for key in ("namespace", "release", "outcome", "error_kind", "reason")}
                for row in rows if "%s/%s" % (row.get("namespace"), row.get("release")) in hosts]

    # --- output -----------------------------------------------------------------------------

    def print_tables(self):
        if self.results["a"]:
            table("(a) rollback: %d rollbacks per ansible-playbook run, no --wait" % self.args.rollbacks,
                  ["helm", "variant", "seconds", "s/rollback", "s/rollback net", "ratio net", "CPU s/rollback net", "CPU ratio net",
                   "requests/rollback", "helm execs/rollback", "helm execs (counted run)", "exec plugin runs/rollback"],
                  [[r["helm"], r["variant"], r["seconds"], r["s_per_op"], r["s_per_op_net"], r["ratio_vs_command"], r.get("cpu_s_per_op_net"),
                    r.get("cpu_ratio_vs_command"), r["requests_per_op"], r["helm_execs_per_op"], r["helm_execs"], r.get("exec_plugin_runs_per_op")]
                   for r in self.results["a"]])
        if self.results["b"]:
            table("(b) history with values of a %d-revision release" % self.args.revisions,
                  ["helm", "variant", "seconds", "seconds net", "module/this", "requests", "helm execs", "helm execs by kind"],
                  [[r["helm"], r["variant"], r["seconds"], r["s_net"], r["module_ratio"], r["requests"], r["helm_execs"], r["helm_exec_kinds"]]
                   for r in self.results["b"]])
        if self.results["c"]:
            shares = (FAILED_SHARE * 100, PENDING_SHARE * 100)
            table("(c) ansible-playbook matih.helm.remediate (%d%% failed upgrade, %d%% pending-upgrade, rest healthy)" % shares,
                  ["helm", "releases", "failed", "pending", "namespaces", "forks", "seconds", "s/release", "s/unhealthy", "requests/release",
                   "helm execs", "helm execs/unhealthy", "naming a healthy release", "helm execs by kind, per unhealthy release"],
                  [[r["helm"], r["releases"], r["failed"], r["pending"], r["namespaces"], r["forks"], r["seconds"], r["s_per_release"],
                    r["s_per_unhealthy"], r["requests_per_release"], r["helm_execs"], r["helm_execs_per_unhealthy"],
                    r["helm_calls_naming_healthy"], r["helm_exec_kinds"]]
                   for r in self.results["c"]])
        if self.results["d"]:
            title = "(d) drift scan: helm_release_list statuses [drifted], %d releases per namespace, %d%% edited by hand" % (
                RELEASES_PER_NAMESPACE, DRIFTED_SHARE * 100)
            table(title,
                  ["helm", "variant", "releases", "namespaces", "drifted", "seconds", "seconds net", "net / list", "requests/release",
                   "drift requests", "drift requests/release", "drift requests / scan's", "helm execs"],
                  [[r["helm"], r["variant"], r["releases"], r["namespaces"], r["drifted"], r["seconds"], r["s_net"], r["s_vs_list"],
                    r["requests_per_release"], r["drift_requests"], r["drift_requests_per_release"], r["requests_vs_scan"], r["helm_execs"]]
                   for r in self.results["d"]])
        if self.results["e"]:
            table("(e) preflight of one rollback target (server-side apply dry runs), %d rounds, beside bare helm rollbacks" % self.args.rollbacks,
                  ["helm", "target", "objects", "seconds", "s/preflight", "requests/preflight", "s/bare helm rollback", "preflight / rollback"],
                  [[r["helm"], r["variant"], r["objects"], r["seconds"], r["s_per_op"], r["requests_per_op"], r["s_per_bare_rollback"],
                    r["ratio_vs_rollback"]] for r in self.results["e"]])
        fleets = [r for r in self.results["f"] if r["part"] == "fleet"]
        if fleets:
            table("(f) scale: the fleet (real Helm records copied from one installed release, POSTed from 8 threads)",
                  ["helm", "cluster", "releases", "revisions", "namespaces", "failed", "Secrets", "create seconds", "Secrets/s", "manifest KB",
                   "record KB (data.release)"],
                  [[r["helm"], r.get("cluster"), r["releases"], r["revisions"], len(r["namespaces"]), r["failed_count"], r["secrets"], r["create_seconds"],
                    r["secrets_per_second"], r["manifest_bytes"] / 1000.0, r["record_bytes"] / 1000.0] for r in fleets])
            table("(f) scale: discovery of the whole fleet (best of %d runs taking turns; requests as the emulator counts them, "
                  "metadata-only LISTs answered as a real API server answers them, in pages when the client sets a limit)" % self.args.scale_rounds,
                  ["helm", "variant", "releases listed", "seconds", "x one LIST", "requests", "peak RSS MB"],
                  [[r["helm"], r["variant"], r["releases_listed"], r["seconds"], r["x_one_list"], r["requests"], r["peak_rss_mb"]]
                   for r in self.results["f"] if r["part"] == "discovery"])
            table("(f) scale: ansible-playbook matih.helm.remediate over the fleet's namespaces (net: minus the ansible-playbook start-up; "
                  "requests on the control plane: its /metrics, less the idle rate)",
                  ["helm", "cluster", "releases", "namespaces", "unhealthy", "recovered", "forks", "seconds", "seconds net", "s/unhealthy",
                   "s/unhealthy net", "requests/unhealthy", "helm execs/unhealthy", "naming a healthy release", "helm execs by kind, per unhealthy release"],
                  [[r["helm"], r.get("cluster"), r["releases"], r["namespaces"], r["unhealthy"], r["recovered"], r["forks"], r["seconds"], r["s_net"],
                    r["s_per_unhealthy"], r["s_per_unhealthy_net"], r["requests_per_unhealthy"], r["helm_execs_per_unhealthy"],
                    r["helm_calls_naming_healthy"], r["helm_exec_kinds"]] for r in self.results["f"] if r["part"] == "remediation"])
        if self.results["g"]:
            hold = self.results["g"][0]["burst_hold"]
            table("(g) event-driven recovery on the real control plane: failed revision written -> deployed again (s; burst hold %s "
                  "included; stamped by the bench's WATCH), beside a bare helm rollback --wait of an equivalent release" % hold,
                  ["helm", "failures", "p50", "max", "min", "p50: to event (hold incl.)", "event to playbook", "playbook to rollback",
                   "rollback (--wait)", "bare rollback p50", "bare rollback max", "ansible-playbook start-up", "upgrade returned after t0, p50",
                   "each (s)"],
                  [[r["helm"], r["failures"], r["p50"], r["max"], r["min"], r["to_event_p50"], r["event_to_play_p50"], r["play_to_rollback_p50"],
                    r["rollback_p50"], r["bare_p50"], r["bare_max"], r["startup"], r["upgrade_return_p50"],
                    " ".join("%.1f" % run["seconds"] for run in r["runs"])]
                   for r in self.results["g"]])
            table("(g) the source idle (requests counted by a proxy on the source's kubeconfig only) and its memory (MB)",
                  ["helm", "idle s", "requests besides watches", "requests/min", "watches opened", "rulebook CPU s idle",
                   "requests during the failures (+watches)", "rulebook RSS", "processes", "RSS, sleeping source", "source's RSS",
                   "RSS after failures", "peak RSS"],
                  [[r["helm"], r["idle_seconds"], r["idle_requests"], r["idle_requests_per_minute"], r["idle_watches"], r["idle_cpu_seconds"],
                    "%d (+%d)" % (r["busy_requests"], r["busy_watches"]), r["rss_mb"], len(r["processes"]), r["baseline_rss_mb"],
                    r["source_rss_mb"], r["rss_after_failures_mb"], r["hwm_mb"]] for r in self.results["g"]])
        targets = self.targets()
        if targets:
            startup = "%.3f s" % self.startup_seconds if self.startup_seconds is not None else "(not measured)"
            table("Targets (issues 10, 25 and 26; ratios from this run, beside the ansible-playbook start-up of %s)" % startup,
                  ["helm", "target", "measured", "limit", "met"], [[t["helm"], t["target"], t["measured"], t["limit"], t["met"]] for t in targets])

    def targets(self):
        """Each speed target of issues 10, 25 and 26 against this run's figures: met or NOT MET."""
        rows = []

        def check(helm, target, measured, limit, at_most=True):
            met = measured is not None and (measured <= limit if at_most else measured >= limit)
            rows.append({"helm": helm, "target": target, "measured": measured, "limit": ("<= " if at_most else ">= ") + "%g" % limit,
                         "met": "met" if met else "NOT MET"})
        for row in self.results["a"]:
            if row["variant"] == "module":
                check(row["helm"], "(a) rollback module / command task, net", row["ratio_vs_command"], 1.3)
                # The exec-plugin variant: missing rows (it failed) are NOT MET.
                exec_row = next((r for r in self.results["a"] if r["helm"] == row["helm"] and r["variant"] == "module (exec plugin)"), {})
                check(row["helm"], "(a) exec plugin: rollback module / command task (same kubeconfig), net",
                      exec_row.get("ratio_vs_command"), 1.2)
                check(row["helm"], "(a) exec plugin: Helm processes per module rollback", exec_row.get("helm_execs_per_op"), 1)
        for row in self.results["b"]:
            if row["variant"] == "command loop (playbook)":
                check(row["helm"], "(b) command loop / history module", ratio(row["seconds"], next(
                    r["seconds"] for r in self.results["b"] if r["helm"] == row["helm"] and r["variant"] == "module")), 10, at_most=False)
        for row in self.results["c"]:
            if row["releases"] == 100:
                check(row["helm"], "(c) remediate 100: s per unhealthy release", row["s_per_unhealthy"], 0.8)
                check(row["helm"], "(c) remediate 100: Helm calls per unhealthy release", row["helm_execs_per_unhealthy"], 6)
                check(row["helm"], "(c) remediate 100: Helm calls naming a healthy release", row["helm_calls_naming_healthy"], 0)
        for fleet in (r for r in self.results["f"] if r["part"] == "fleet"):
            label, size, where = fleet["helm"], "%d releases" % fleet["releases"], fleet.get("cluster", "emulator")
            if where == "emulator":  # the discovery is measured there only (its request counts are exact)
                found = {r["variant"]: r for r in self.results["f"] if r["helm"] == label and r["part"] == "discovery"}
                one = found.get("one metadata LIST (release_inventory.discover)", {})
                plugin = found.get("ansible-inventory --list (helm_releases plugin)", {})
                helm_a = [found[v]["seconds"] for v in ("helm list -A", "helm list -A --failed --pending") if v in found]
                check(label, "(f) %s: discovery requests per cluster (discover)" % size, one.get("requests"), 1)
                check(label, "(f) %s: discovery requests per cluster (inventory plugin)" % size, plugin.get("requests"), 1)
                check(label, "(f) %s: faster helm list -A / one metadata LIST, time" % size,
                      ratio(min(helm_a) if helm_a else None, one.get("seconds")), 20, at_most=False)
            remediation = next((r for r in self.results["f"] if r["helm"] == label and r["part"] == "remediation"
                                and r.get("cluster", "emulator") == where), {})
            check(label, "(f) %s on the %s: remediate, s per unhealthy release (net)" % (size, where),
                  remediation.get("s_per_unhealthy_net"), 0.8)
        measured_g = {row["helm"]: row for row in self.results["g"]}
        for label in (self.args.helms if "g" in self.args.sections else []):
            row = measured_g.get(label, {"helm": label, "bare_p50": float("nan")})  # failed: NOT MET
            check(row["helm"], "(g) failed written -> deployed again, p50 s (limit: 5 + bare rollback p50)", row.get("p50"),
                  5 + row["bare_p50"])
            check(row["helm"], "(g) source requests/min while idle, besides the watch", row.get("idle_requests_per_minute"), 0)
        return rows


def run_measured(argv, env, cwd):
    """Run ``argv`` to its end: (stdout, peak RSS in KiB or None). The peak RSS is GNU time's (%M), which
    forks the command from its own small process: the wait4 rusage of a child of this process would count
    this process's own RSS at the fork (Linux keeps the larger of the pre-exec and the new maximum), and
    this process holds the emulator. BenchError when the command fails."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr, \
            tempfile.NamedTemporaryFile("r", suffix=".rss", dir=cwd) as rss_file:
        timed = [GNU_TIME, "-f", "%M", "-o", rss_file.name] if GNU_TIME else []
        result = subprocess.run(timed + argv, env=env, cwd=cwd, stdout=stdout, stderr=stderr, check=False)
        stdout.seek(0)
        stderr.seek(0)
        output = stdout.read().decode("utf-8", "replace")
        if result.returncode != 0:
            raise BenchError("%s failed (rc=%d):\n%s\n%s" % (" ".join(argv[:6]), result.returncode, output[-2000:],
                                                             stderr.read().decode("utf-8", "replace")[-2000:]))
        rss = rss_file.read().strip().splitlines() if GNU_TIME else []
    return output, int(rss[-1]) if rss and rss[-1].isdigit() else None


def _children_cpu():
    """User and system CPU seconds of the finished child processes (and theirs) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def naive_history(helm, env, release, namespace):
    """``helm history`` then ``helm get values --revision N`` for each revision, one after the other."""
    def run(*args):
        return subprocess.run([helm] + list(args), env=env, capture_output=True, text=True, check=True).stdout
    entries = json.loads(run("history", release, "-n", namespace, "-o", "json", "--max", "256"))
    calls = ["history"]
    values = []
    for entry in entries:
        values.append(json.loads(run("get", "values", release, "-n", namespace, "--revision", str(entry["revision"]), "-o", "json")))
        calls.append("get values")
    return values, calls


def summarize(execs, runs):
    """'history 2, rollback 1' per operation, from the logged subcommands of ``runs`` operations."""
    counts = {}
    for kind in execs:
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join("%s %g" % (kind, count / runs) for kind, count in sorted(counts.items())) or "none"


def collection_module_utils():
    """The collection's module utilities as the modules import them, from the tree ansible-playbook reads."""
    root = collections_path().split(os.pathsep, maxsplit=1)[0]
    if root not in sys.path:
        sys.path.insert(0, root)
    import importlib  # pylint: disable=import-outside-toplevel
    names = ("connection", "release_store", "live_objects", "preflight", "release_inventory", "helm_client")
    return {name: importlib.import_module("ansible_collections.matih.helm.plugins.module_utils." + name) for name in names}


def collections_path():
    tree = subprocess.run([os.path.join(REPO_ROOT, "hack", "collection-tree.sh")], capture_output=True, text=True, check=True).stdout.strip()
    root = os.path.dirname(os.path.dirname(os.path.dirname(tree)))
    return os.pathsep.join([root, os.path.join(REPO_ROOT, ".cache", "collections")])


def tool_versions(helms):
    versions = {label: scenarios.run_helm(scenarios.HELM_BINARIES[label], os.devnull, ["version", "--short"]).stdout.strip() for label in helms}
    ansible = subprocess.run(["ansible", "--version"], capture_output=True, text=True, check=False).stdout.splitlines()
    versions["ansible-core"] = ansible[0].split("core", 1)[-1].strip(" ]") if ansible else "unknown"
    versions["python"] = platform.python_version()
    return versions


def main(argv=None):
    args = parse_args(argv)
    missing = [label for label in args.helms if not os.access(scenarios.HELM_BINARIES[label], os.X_OK)]
    if missing:
        sys.exit("Helm binary missing for %s (run the bootstrap, or set MATIH_HELM3/MATIH_HELM4)" % ", ".join(missing))
    versions = tool_versions(args.helms)
    print("matih.helm benchmark on the kubeemu emulator: %s" % ", ".join("%s %s" % item for item in sorted(versions.items())))
    errors = []
    with tempfile.TemporaryDirectory(prefix="matih-bench-") as workdir:
        bench = Bench(args, workdir)
        try:
            for section in args.sections:
                for label in args.helms:
                    helm = scenarios.HELM_BINARIES[label]
                    started = time.perf_counter()
                    try:
                        getattr(bench, "section_" + section)(label, helm)
                    except (BenchError, scenarios.HelmError, subprocess.CalledProcessError) as error:
                        errors.append("(%s) %s: %s" % (section, label, error))
                        print("\n(%s) %s FAILED: %s" % (section, label, error))
                    print("(%s) %s done in %.1f s" % (section, label, time.perf_counter() - started))
                    sys.stdout.flush()
            bench.print_tables()
        finally:
            bench.close()
            scenarios.remove_chart_cache()
    document = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick, "versions": versions, "sections": args.sections,
        "settings": {"rollbacks": args.rollbacks, "revisions": args.revisions, "fleet_sizes": args.fleet_sizes, "forks": args.forks,
                     "failed_share": FAILED_SHARE, "pending_share": PENDING_SHARE, "scale_releases": args.scale_releases,
                     "scale_namespaces": args.scale_namespaces, "scale_revisions": args.scale_revisions, "scale_rounds": args.scale_rounds,
                     "event_failures": args.event_failures, "idle_seconds": args.idle_seconds},
        "ansible_playbook_startup_seconds": bench.startup_seconds,
        "results": bench.results, "targets": bench.targets(), "errors": errors,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
    print("\nJSON: %s" % args.output)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Plays for the fault and concurrency tests: the rollback module and the release_recovery role
run through ansible-playbook, in the foreground or in the background (own process group, so a
test can SIGKILL the whole run), each task's registered result written to a JSON file.

A play can wait at a barrier before its first Helm task (``barrier``): it creates
``BARRIER.ready-ID`` and waits for ``BARRIER.go``, so a test can release several plays at the
same moment.
"""

import json
import os
import signal
import subprocess
import sys
import time

import yaml

import scenarios

# A module failure must be a clean fail_json: none of these may appear in a result.
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "MODULE FAILURE")
BARRIER_WAIT = (
    "import os, sys, time\n"
    "deadline = time.monotonic() + 120\n"
    "while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:\n"
    "    time.sleep(0.005)\n"
    "sys.exit(0 if os.path.exists(sys.argv[1]) else 1)\n"
)


def connection(helm, kubeconfig):
    return {"binary_path": str(helm), "kubeconfig": str(kubeconfig)}


def rollback_task(name, namespace, revision="last_successful", register="rollback", **options):
    """A helm_release_rollback task whose failure does not stop the play."""
    args = dict({"name": name, "release_namespace": namespace, "revision": revision, "history_max": 0}, **options)
    return {"name": "rollback " + register, "matih.helm.helm_release_rollback": args, "register": register, "ignore_errors": True}


def clear_faults_task(cluster):
    """Drop the injected faults (faulty_cluster) from inside the play, between two of its tasks."""
    request = {"url": cluster.url + "/_emulator/faults", "method": "DELETE"}
    if cluster.ca_cert and cluster.url.startswith("https:"):
        request["ca_path"] = cluster.ca_cert
    return {"name": "clear the injected faults", "ansible.builtin.uri": request}


def api_task(cluster, name, method, path, body=None, status_code=(200,), **task):
    """One API request as the admin from inside the play (``cluster.api`` for ansible.builtin.uri)."""
    request = {"url": cluster.plane.url + path, "method": method, "status_code": list(status_code), "ca_path": cluster.plane.ca_cert_path,
               "client_cert": cluster.plane.admin_cert_paths[0], "client_key": cluster.plane.admin_cert_paths[1]}
    if body is not None:
        request.update(body_format="json", body=body)
    return dict({"name": name, "ansible.builtin.uri": request}, **task)


def recovery_tasks(name, namespace, helm, kubeconfig, register="recovery", **variables):
    """The release_recovery role (tasks_from main), its release_recovery_result saved as ``register``."""
    role_vars = dict({
        "release_recovery_name": name,
        "release_recovery_namespace": namespace,
        "release_recovery_connection": connection(helm, kubeconfig),
        "release_recovery_timeout": "30s",
        # high enough that Helm prunes nothing during the tests (the role's default, null, is Helm's 10)
        "release_recovery_history_max": 100,
        "release_recovery_fail_on_unrecovered": False,
    }, **variables)
    return [
        {"name": "release_recovery " + register, "ansible.builtin.include_role": {"name": "matih.helm.release_recovery", "tasks_from": "main"},
         "vars": role_vars},
        {"name": "keep " + register, "ansible.builtin.set_fact": {register: "{{ release_recovery_result }}"}},
    ]


class Play:
    """One playbook on disk; ``run`` or ``start`` it, then read ``results``."""

    def __init__(self, tmp_path, label, helm, kubeconfig, tasks, barrier=None):
        self.label = label
        self.directory = tmp_path / label
        self.directory.mkdir(parents=True, exist_ok=True)
        self.results_path = self.directory / "results.json"
        self.registers = []
        for task in tasks:
            self.registers += [task["register"]] if "register" in task else []
            self.registers += list(task.get("ansible.builtin.set_fact", {}))
        prelude = []
        if barrier is not None:
            prelude = [
                {"name": "ready", "ansible.builtin.file": {"path": "%s.ready-%s" % (barrier, label), "state": "touch"}},
                {"name": "wait for go", "ansible.builtin.command": {"argv": [sys.executable, "-c", BARRIER_WAIT, "%s.go" % barrier]},
                 "changed_when": False},
            ]
        save = {"name": "save results", "ansible.builtin.copy": {
            "dest": str(self.results_path),
            "content": "{{ {%s} | to_json }}" % ", ".join("'%s': %s | default(none)" % (name, name) for name in self.registers),
        }}
        play = [{
            "name": label,
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/matih.helm.helm": connection(helm, kubeconfig)},
            "tasks": prelude + tasks + [save],
        }]
        self.playbook = self.directory / "play.yml"
        self.playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        self.env = {key: value for key, value in os.environ.items() if key not in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG")}
        self.env.update(ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_NOCOLOR="1",
                        ANSIBLE_LOCAL_TEMP=str(self.directory / "tmp"), ANSIBLE_HOME=str(self.directory / "ansible"))
        self.argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local", str(self.playbook)]
        self.process = None
        self.stdout = self.stderr = ""

    def run(self, timeout=300):
        self.start()
        return self.wait(timeout)

    def start(self):
        with open(self.directory / "stdout", "w", encoding="utf-8") as output:
            # pylint: disable-next=consider-using-with  # waited for in wait(), or killed in kill()
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait(self, timeout=300):
        try:
            self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.kill()
        self.stdout = (self.directory / "stdout").read_text(encoding="utf-8")
        return self

    def kill(self):
        """SIGKILL ansible-playbook and every process below it: workers, the module and Helm.

        Killing the process group is not enough: ansible-core 2.19+ puts each worker in a
        session of its own (os.setsid), and a worker orphaned by a SIGKILLed ansible-playbook
        runs its module, and Helm, to the end.
        """
        for pid in [self.process.pid] + descendants(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    @property
    def results(self):
        assert self.results_path.exists(), "%s did not finish (rc=%s):\n%s" % (self.label, self.process.returncode, self.stdout[-8000:])
        return json.loads(self.results_path.read_text(encoding="utf-8"))

    def result(self, register):
        value = self.results[register]
        assert value is not None, "%s: no result for %s:\n%s" % (self.label, register, self.stdout[-8000:])
        text = json.dumps(value)
        assert not any(marker in text for marker in TRACEBACK_MARKERS), "%s: %s ended in a traceback: %s" % (self.label, register, text[:4000])
        return value


def descendants(pid):
    """Every live process below ``pid`` (from /proc), children before grandchildren."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop(0)
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def release_barrier(barrier, labels, timeout=120):
    """Wait until every play named in ``labels`` stands at the barrier, then let them all go."""
    deadline = time.monotonic() + timeout
    while not all(os.path.exists("%s.ready-%s" % (barrier, label)) for label in labels):
        assert time.monotonic() < deadline, "plays %s never reached the barrier %s" % (labels, barrier)
        time.sleep(0.01)
    # the plays' next task is the waiter; give its interpreter a moment to start polling
    time.sleep(0.3)
    with open("%s.go" % barrier, "w", encoding="utf-8"):
        pass


def wait_for_status(helm, kubeconfig, name, namespace, wanted, timeout=60, process=None):
    """Poll ``helm history`` until the latest revision has status ``wanted``; returns the history."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = scenarios.run_helm(helm, kubeconfig, ["history", name, "-n", namespace, "-o", "json"], check=None)
        if result.returncode == 0:
            entries = json.loads(result.stdout)
            if entries and entries[-1]["status"] == wanted:
                return entries
        if process is not None and process.poll() is not None:
            raise AssertionError("the operation exited (rc=%s) before %s had a %s revision" % (process.returncode, name, wanted))
        time.sleep(0.05)
    raise AssertionError("no %s revision of %s after %ss" % (wanted, name, timeout))


def failed_release(helm, kubeconfig, name, namespace):
    """Revisions 1 (chart 1.0.0) and 2 (1.1.0) good, 3 a failed upgrade (an image that never gets ready)."""
    scenarios.install(helm, kubeconfig, name, namespace, "1.0.0", {"config.revision": "1"})
    scenarios.upgrade(helm, kubeconfig, name, namespace, "1.1.0", {"config.revision": "2"})
    scenarios.upgrade(helm, kubeconfig, name, namespace, "1.0.0", {"image": scenarios.BROKEN_IMAGE},
                      extra=scenarios.never_ready_wait_flags(helm, "1s"), check=False)
    statuses = scenarios.statuses(helm, kubeconfig, name, namespace)
    assert statuses == ["superseded", "deployed", "failed"], statuses

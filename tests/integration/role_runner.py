"""Run the collection's roles and playbooks with ansible-playbook for the role integration tests.

``RolePlay`` writes one play on localhost that runs a role (``include_role``) and saves the facts
the test wants (``release_recovery_result``, ``release_deploy_result``) to a JSON file, also in
check mode. ``run_collection_playbook`` runs a playbook of the collection by its FQCN, the way an
operator does: Helm from PATH, the cluster from KUBECONFIG. ``counting_helm`` puts a ``helm`` on
PATH that logs every argv before running the real binary, so a test can count the Helm calls a
playbook made and what they were about.

Timeouts: ``wait_timeout(cluster)`` is what the roles get for every Helm wait. A broken image never
gets ready, so every failing wait lasts the whole timeout: keep it short where good pods are ready
quickly. On the emulator they are ready at once (3s); on the control plane within a second or two
of the controllers, the scheduler and kwok (10s); on an external cluster pods really start (90s).
MATIH_TEST_ROLE_TIMEOUT overrides them.
"""

import json
import os
import stat
import subprocess
import sys
import time

import yaml

import playbook_runner
import scenarios

# MATIH_TEST_ANSIBLE_BIN: the bin directory of another ansible-core (the roles' oldest, 2.16).
ANSIBLE_PLAYBOOK = os.path.join(os.environ.get("MATIH_TEST_ANSIBLE_BIN") or os.path.dirname(sys.executable), "ansible-playbook")


def wait_timeout(cluster):
    default = {"emulator": "3s", "controlplane": "10s"}.get(cluster.kind, "90s")
    return os.environ.get("MATIH_TEST_ROLE_TIMEOUT", default)


def connection(helm, kubeconfig):
    return {"binary_path": str(helm), "kubeconfig": str(kubeconfig)}


def base_env(tmp_path, **extra):
    """ansible-playbook's environment without any kubeconfig: only what the play passes counts."""
    env = playbook_runner.ansible_env(ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_HOME=str(tmp_path / "ansible-home"),
                                      ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    for key in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"):
        env.pop(key, None)
    env.update(extra)
    return env


class RolePlay:
    """Runs of a role on localhost, one after the other in one play; ``results`` holds the saved
    facts of each run after ``run`` (a failing run stops the play, the results so far are kept)."""

    def __init__(self, tmp_path, label, role, role_vars, save="release_recovery_result"):
        self.directory = tmp_path / label
        self.directory.mkdir(parents=True, exist_ok=True)
        self.results_path = self.directory / "results.json"
        runs = role_vars if isinstance(role_vars, list) else [role_vars]
        steps = []
        for number, variables in enumerate(runs):
            steps += [
                {"name": "clear %s before run %d" % (save, number), "ansible.builtin.set_fact": {save: None, "role_runner_running": True}},
                {"name": "run %d of %s" % (number, role), "ansible.builtin.include_role": {"name": role}, "vars": variables},
                {"name": "keep the result of run %d" % number,
                 "ansible.builtin.set_fact": {"role_runner_results": "{{ role_runner_results + [%s] }}" % save, "role_runner_running": False}},
            ]
        play = [{
            "name": label,
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"name": "start with no results", "ansible.builtin.set_fact": {"role_runner_results": [], "role_runner_running": False}},
                {"name": "run the role", "block": steps, "always": [
                    # check_mode false: the results are written in a --check run as well; a failed
                    # run's fact (published before the role failed) is saved too.
                    {"name": "save the results", "check_mode": False, "ansible.builtin.copy": {
                        "dest": str(self.results_path),
                        "content": "{{ (role_runner_results + ([%s] if role_runner_running else [])) | to_json }}" % save}},
                ]},
            ],
        }]
        self.playbook = self.directory / "play.yml"
        self.playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        self.returncode = None
        self.stdout = ""
        self.seconds = None

    def run(self, check=False, timeout=600):
        argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(self.playbook)] + (["--check"] if check else [])
        started = time.monotonic()
        result = subprocess.run(argv, env=base_env(self.directory), capture_output=True, text=True, timeout=timeout, check=False)
        self.seconds = time.monotonic() - started
        self.returncode = result.returncode
        self.stdout = result.stdout + result.stderr
        return self

    @property
    def results(self):
        """The saved fact of each run that got as far as publishing it (None when it did not)."""
        assert self.results_path.exists(), "no results (rc=%s):\n%s" % (self.returncode, self.stdout[-10000:])
        return json.loads(self.results_path.read_text(encoding="utf-8"))

    def output(self):
        return "rc=%s\n%s" % (self.returncode, self.stdout[-12000:])


HELM_WRAPPER = """#!/bin/sh
# Logs every Helm call (one line of tab-separated arguments), then runs the real Helm.
# The line goes out in one append-mode write, so concurrent calls never interleave.
line=$(printf '%%s\\t' "$@")
printf '%%s\\n' "$line" >> '%(log)s'
exec '%(helm)s' "$@"
"""


def counting_helm(directory, helm):
    """A directory holding a ``helm`` that logs its calls to ``directory/helm-calls.log``."""
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "helm"
    wrapper.write_text(HELM_WRAPPER % {"log": directory / "helm-calls.log", "helm": helm})
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


def helm_calls(directory):
    """The logged Helm calls, each a list of arguments (``version`` probes included)."""
    log = directory / "helm-calls.log"
    if not log.exists():
        return []
    return [line.rstrip("\t").split("\t") for line in log.read_text(encoding="utf-8").splitlines() if line]


def unbounded_history(calls):
    """The logged Helm calls that lift Helm's bound on the history: ``--history-max 0`` (as the
    collection's modules write it) or ``--history-max=0`` (as kubernetes.core.helm does)."""
    return [argv for argv in calls
            if "--history-max=0" in argv or any(arg == "--history-max" and argv[index + 1:index + 2] == ["0"]
                                                for index, arg in enumerate(argv))]


def run_collection_playbook(name, tmp_path, helm_dir, kubeconfig, extra_vars, check=False, forks=None, timeout=900,
                            extra_args=(), env=None):
    """``ansible-playbook matih.helm.NAME`` with Helm from ``helm_dir`` on PATH and KUBECONFIG set."""
    env = dict(base_env(tmp_path, KUBECONFIG=str(kubeconfig), PATH=str(helm_dir) + os.pathsep + os.environ.get("PATH", "")),
               **(env or {}))
    argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "matih.helm." + name, "-e", json.dumps(extra_vars)]
    argv += ["--check"] if check else []
    argv += ["--forks", str(forks)] if forks else []
    argv += list(extra_args)
    started = time.monotonic()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=str(tmp_path))
    return result, time.monotonic() - started


def revision_values(helm, kubeconfig, name, namespace, revision):
    """User-supplied values of one revision (``helm get values --revision N``), {} when none."""
    output = scenarios.run_helm(helm, kubeconfig, ["get", "values", name, "-n", namespace, "--revision", str(revision), "-o", "json"]).stdout
    return json.loads(output) or {}


def revision_manifest(helm, kubeconfig, name, namespace, revision):
    return scenarios.run_helm(helm, kubeconfig, ["get", "manifest", name, "-n", namespace, "--revision", str(revision)]).stdout


def brief(entries):
    """[(revision, status, chart)] of a ``scenarios.history``."""
    return [(entry["revision"], entry["status"], entry["chart"]) for entry in entries]

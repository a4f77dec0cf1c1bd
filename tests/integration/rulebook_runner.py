"""The real ``ansible-rulebook``, started on a rulebook of the collection, for end-to-end tests.

``Rulebook`` starts it (its own process group, output to a file), waits until it is ready (for a
webhook source: until the port accepts connections), lets a test read its output (ANSI colours removed)
or wait for a line, and stops it cleanly (SIGINT, then SIGKILL of the group when it does not end).

The binary: ``MATIH_ANSIBLE_RULEBOOK``, else the one beside this Python (hack/bootstrap.sh installs it
into .venv), else the one on PATH. It needs Java 17 or newer, which the bootstrap installs too.
Variables go to a private file (mode 0600): a token given there is never on a command line.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import yaml

import playbook_runner

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def binary():
    """The ansible-rulebook to run; AssertionError naming the bootstrap when there is none."""
    candidates = [os.environ.get("MATIH_ANSIBLE_RULEBOOK"), os.path.join(os.path.dirname(sys.executable), "ansible-rulebook"),
                  shutil.which("ansible-rulebook")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("ansible-rulebook not found (MATIH_ANSIBLE_RULEBOOK, beside %s, PATH): run hack/bootstrap.sh"
                         % sys.executable)


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class RulebookError(AssertionError):
    """ansible-rulebook did not start, ended early, or never printed what a test waited for."""


class Rulebook:  # pylint: disable=too-many-instance-attributes
    """One ansible-rulebook process. ``rulebook`` is a path or a collection's FQCN (matih.helm.rollback_api);
    ``variables`` the rulebook variables; ``env`` entries added to ansible's test environment (no KUBECONFIG);
    ``port`` the webhook's port to wait for (None: wait for nothing but the process)."""

    def __init__(self, rulebook, directory, variables=None, env=None, port=None, verbosity=1):
        self.rulebook = rulebook
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.variables = variables or {}
        self.port = port
        self.verbosity = verbosity
        self.log_path = self.directory / "ansible-rulebook.log"
        self.env = playbook_runner.ansible_env(
            ANSIBLE_LOCAL_TEMP=str(directory / "ansible-tmp"), ANSIBLE_HOME=str(directory / "ansible-home"),
            PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""), PYTHONUNBUFFERED="1")
        for key in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"):
            self.env.pop(key, None)
        self.env.update(env or {})
        self.process = None
        self._log = None

    # --- start and stop -----------------------------------------------------------------------

    def argv(self):
        vars_path = self.directory / "vars.yml"
        vars_path.touch(mode=0o600)
        vars_path.write_text(yaml.safe_dump(self.variables), encoding="utf-8")
        # run_playbook needs an inventory; localhost runs the playbooks with this Python (the collection's tests')
        inventory = self.directory / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}), encoding="utf-8")
        return [binary(), "--rulebook", self.rulebook, "--inventory", str(inventory), "--vars", str(vars_path)] + \
            (["-" + "v" * self.verbosity] if self.verbosity else [])

    def start(self, timeout=120):
        """Start it and wait until it is ready; RulebookError with its output when it ends or times out first."""
        self._log = open(self.log_path, "wb")  # pylint: disable=consider-using-with  # closed in stop()
        self.process = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=self.env, cwd=str(self.directory), start_new_session=True)
        started = time.monotonic()
        while self.port is not None and not port_open(self.port):
            if self.process.poll() is not None:
                raise RulebookError("ansible-rulebook ended (rc=%s) before port %s was open:\n%s"
                                    % (self.process.returncode, self.port, self.output()[-8000:]))
            if time.monotonic() - started > timeout:
                self.stop()
                raise RulebookError("port %s not open after %ss:\n%s" % (self.port, timeout, self.output()[-8000:]))
            time.sleep(0.1)
        return time.monotonic() - started

    def wait(self, timeout=120):
        """Wait until the process ends by itself (a rulebook that refuses to start); its return code."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.stop()

    def stop(self, grace=20):
        """SIGINT to its process group (ansible-rulebook shuts its sources and actions down), SIGKILL after ``grace``."""
        if self.process is not None and self.process.poll() is None:
            for sig, seconds in ((signal.SIGINT, grace), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=seconds)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.process is not None:
            try:  # what the process group left behind (an ansible-playbook of a run_playbook action)
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # --- output -------------------------------------------------------------------------------

    def output(self, since=0):
        """Everything it printed (stdout and stderr), from offset ``since`` (see ``mark``), without ANSI colours."""
        if not self.log_path.exists():
            return ""
        return _ANSI.sub("", self.log_path.read_bytes()[since:].decode("utf-8", "replace"))

    def mark(self):
        """The output's length now: ``output(since=...)`` and ``wait_for(since=...)`` then read what came after."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def wait_for(self, pattern, since=0, timeout=120, count=1):
        """Wait until ``pattern`` (a regular expression, multiline) occurs ``count`` times after ``since``; the
        matches. RulebookError with the output when the process ends or the time runs out first."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            found = list(regex.finditer(self.output(since)))
            if len(found) >= count:
                return found
            if self.process.poll() is not None or time.monotonic() > deadline:
                state = "ended (rc=%s)" % self.process.returncode if self.process.poll() is not None else "timed out"
                raise RulebookError("%r seen %d of %d times; ansible-rulebook %s. Its output since then:\n%s"
                                    % (pattern, len(found), count, state, self.output(since)[-12000:]))
            time.sleep(0.2)

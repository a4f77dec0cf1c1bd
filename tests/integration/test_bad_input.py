"""Bad input to every matih.helm module, against real Helm 3 and 4 and the test bed (or a real cluster).

Each case is one task that must fail with a message naming the problem and the fix (checked as
fragments), without a Python traceback anywhere, and without creating a revision: the stored
release records (Helm's Secrets, read through the API, not through Helm) and ``helm history``
of the prepared releases are compared before and after.

For speed, the releases are prepared once per Helm major and all cases of that major run in one
playbook (``ignore_errors`` + ``register``); a last task writes every registered result to a JSON
file, and the test is parametrized over the cases reading that file.

Runs unchanged on a real cluster (MATIH_TEST_CLUSTER=external): failures come from an image that
never becomes ready, the corrupt release record is created with kubectl like any Secret, and the
unreachable API server is a closed loopback port.
"""
import base64
import collections
import concurrent.futures
import fcntl
import gzip
import json
import os
import re
import socket
import uuid

import pytest
import yaml

import helm_majors
import scenarios
from fixtures import HelmBinary
from playbook_runner import create_secret, release_records, run_tasks

Case = collections.namedtuple("Case", "id module args expect release")
OMIT = object()
LONG_NAME = "a" * 54
LONG_NAMESPACE = "n" * 64
DEFAULT = {"name": "good", "release_namespace": "{ns}"}


def case(case_id, module, args, expect, release="good"):
    return Case(case_id, module, args, tuple(expect), release)


R, H, L = "helm_release_rollback", "helm_release_history", "helm_release_list"

# (id, module, args over the defaults, message fragments). "{ns}", "{other_ns}", "{kubeconfig}",
# "{helm}", "{tmp}" and "{closed_kubeconfig}" are filled in per Helm major; OMIT removes an option.
CASES = [
    # release names: DNS-1123 subdomain, at most 53 characters, never option-like or shell-like
    case("name-uppercase", R, {"name": "Web", "revision": 1}, ["release name 'Web'", "uppercase", "'web'"]),
    case("name-underscore", R, {"name": "web_app", "revision": 1},
         ["release name 'web_app' is invalid", "lowercase letters, digits", "for example 'my-app'"]),
    case("name-trailing-dash", H, {"name": "web-"}, ["release name 'web-' is invalid", "ending with a letter or digit"]),
    case("name-too-long", R, {"name": LONG_NAME, "revision": 1}, ["is 54 characters long", "at most 53"]),
    case("name-too-long-history", H, {"name": LONG_NAME}, ["is 54 characters long", "at most 53"]),
    case("name-empty", R, {"name": "", "revision": 1}, ["release name must not be empty"]),
    case("name-option-kubeconfig", R, {"name": "--kubeconfig=/etc/passwd", "revision": 1},
         ["'--kubeconfig=/etc/passwd' looks like a command-line option", "use the plain name"]),
    case("name-option-history", H, {"name": "--namespace=kube-system"}, ["looks like a command-line option"]),
    case("name-command-substitution", R, {"name": "$(id)", "revision": 1},
         ["release name '$(id)' contains characters that are never valid here", "'$'", "'('"]),
    case("name-semicolon", R, {"name": "good;id", "revision": 1}, ["'good;id'", "never valid", "';'"]),
    case("name-backticks", H, {"name": "`id`"}, ["'`id`'", "never valid", "'`'"]),
    case("name-newline", R, {"name": "good\nid", "revision": 1}, ["never valid", "'\\n'"]),
    # namespaces: DNS-1123 label
    case("namespace-option", R, {"release_namespace": "--kubeconfig=/etc/passwd", "revision": 1},
         ["namespace '--kubeconfig=/etc/passwd' looks like a command-line option", "for example 'team-a'"]),
    case("namespace-command-substitution", H, {"release_namespace": "$(id)"},
         ["namespace '$(id)' contains characters that are never valid here"]),
    case("namespace-too-long", R, {"release_namespace": LONG_NAMESPACE, "revision": 1},
         ["is 64 characters long", "at most 63"]),
    case("namespace-dot", H, {"release_namespace": "team.a"}, ["namespace 'team.a' is invalid", "for example 'team-a'"]),
    case("list-namespace-shell", L, {"namespaces": ["{ns}", "ns;rm -rf /"]},
         ["namespace 'ns;rm -rf /' contains characters that are never valid here"]),
    case("list-namespace-option", L, {"namespaces": ["--all-namespaces"]}, ["looks like a command-line option"]),
    # revision
    case("revision-zero", R, {"revision": 0},
         ["revision must be 1 or more, got 0", "revision before the latest", "revision: last_successful"]),
    case("revision-negative", R, {"revision": -2}, ["revision must be 1 or more, got -2"]),
    case("revision-non-numeric", R, {"revision": "latest"},
         ["revision must be a revision number (1 or more) or 'last_successful', got 'latest'"]),
    case("revision-float", R, {"revision": "1.5"}, ["got '1.5'", "'last_successful'"]),
    case("revision-bool", R, {"revision": True}, ["revision must be a revision number", "got True"]),
    case("revision-missing", R, {}, ["missing required arguments: revision"]),
    case("revision-beyond-history", R, {"revision": 99},
         ["revision 99 is not in the history", "stored revisions: 1-3", "newer than the latest revision 3",
          "Safe targets: 2, 1"]),
    case("revision-pruned", R, {"name": "pruned", "revision": 1},
         ["revision 1 is not in the history", "stored revisions: 3-4", "Helm pruned it", "--history-max",
          "Safe targets: 4, 3"], release="pruned"),
    case("revision-failed-target", R, {"revision": 3},
         ["revision 3 never reached DEPLOYED", "status failed", "allow_failed_target: true", "last_successful"]),
    case("revision-both-list", R, {"revision": ["last_successful", 3]},
         ["revision takes one target", "either a revision number (1 or more) or 'last_successful'", "block/rescue"]),
    case("revision-both-comma", R, {"revision": "last_successful,3"},
         ["revision takes one target, got 'last_successful,3'", "a second task"]),
    case("revision-both-dict", R, {"revision": {"last_successful": True, "revision": 3}},
         ["revision takes one target"]),
    case("last-successful-all-failed", R, {"name": "allfailed", "revision": "last_successful"},
         ["no stored revision ever reached DEPLOYED", "1 failed", "fresh upgrade", "uninstall and reinstall"],
         release="allfailed"),
    # other options
    case("unknown-option", R, {"revision": 1, "recursive": True},
         ["Unsupported parameters", "recursive", "Supported parameters include"]),
    case("unknown-option-typo", H, {"include_value": True}, ["Unsupported parameters", "include_value"]),
    case("timeout-without-unit", R, {"revision": 2, "timeout": "5"},
         ["timeout '5' is not a Helm duration", "a unit is required, e.g. 5s", "5m"]),
    case("timeout-words", R, {"revision": 2, "timeout": "five minutes"}, ["timeout 'five minutes' is not a Helm duration"]),
    case("timeout-zero", R, {"revision": 2, "timeout": "0s"},
         ["timeout must be a Go duration greater than zero", "e.g. 5m or 90s", "got '0s'"]),
    case("wait-for-jobs-without-wait", R, {"revision": 2, "wait": False, "wait_for_jobs": True},
         ["wait_for_jobs needs wait: true"]),
    case("history-max-negative", R, {"revision": 2, "history_max": -1},
         ["history_max must be 0 (no limit) or more, got -1"]),
    case("history-max-not-int", R, {"revision": 2, "history_max": "ten"}, ["history_max", "int"]),
    case("on-pending-invalid", R, {"revision": 2, "on_pending": "force"},
         ["on_pending must be one of: fail, rollback, got: force"]),
    case("allow-failed-target-not-bool", R, {"revision": 2, "allow_failed_target": "maybe"},
         ["allow_failed_target", "unable to convert to bool", "Valid booleans include"]),
    case("history-max-zero", H, {"max": 0}, ["max must be at least 1, got 0", "omit max"]),
    case("history-max-negative-history", H, {"max": -3}, ["max must be at least 1, got -3"]),
    case("include-values-not-bool", H, {"include_values": "sometimes"},
         ["include_values", "unable to convert to bool"]),
    case("list-status-invalid", L, {"statuses": ["broken"]}, ["statuses", "broken", "failed", "pending-upgrade"]),
    case("list-name-regex-invalid", L, {"name_regex": "web["}, ["name_regex 'web[' is not a valid regular expression"]),
    # the Helm binary
    case("binary-missing", R, {"revision": 2, "binary_path": "/nonexistent/bin/helm"},
         ["binary_path /nonexistent/bin/helm is not an executable file", "Helm 3 or 4 binary"]),
    case("binary-not-on-path", H, {"binary_path": OMIT, "_environment": {"PATH": "{tmp}/empty-path"}},
         ["helm was not found on PATH", "set the binary_path option"]),
    case("binary-true", R, {"revision": 2, "binary_path": "/bin/true"},
         ["/bin/true does not look like Helm", "set the binary_path option"]),
    case("binary-echo", L, {"binary_path": "/bin/echo"}, ["/bin/echo does not look like Helm", "binary_path"]),
    case("binary-directory", H, {"binary_path": "/bin"}, ["binary_path /bin is not an executable file"]),
    # kubeconfig and context. (chmod 000 proves nothing as root, who reads any file; a directory
    # and a missing file stand for the unreadable kubeconfig.)
    case("kubeconfig-missing", R, {"revision": 2, "kubeconfig": "{tmp}/no-such-kubeconfig"},
         ["kubeconfig file", "no-such-kubeconfig does not exist on the managed node", "set kubeconfig to an existing"]),
    case("kubeconfig-directory", H, {"kubeconfig": "{tmp}"}, ["is a directory, not a file", "set kubeconfig"]),
    case("kubeconfig-garbage", R, {"revision": 2, "kubeconfig": "{tmp}/garbage.yaml"},
         ["garbage.yaml is not valid YAML", "set kubeconfig to a kubeconfig file"]),
    case("kubeconfig-not-a-kubeconfig", H, {"kubeconfig": "{tmp}/not-kubeconfig.yaml"},
         ["not-kubeconfig.yaml is not a kubeconfig", "clusters, users and contexts"]),
    case("kubeconfig-inline-no-clusters", R, {"revision": 2, "kubeconfig": "{kubeconfig_without_clusters}"},
         ["the kubeconfig dictionary has no clusters", "set kubeconfig to a kubeconfig with clusters"]),
    case("context-unknown", R, {"revision": 2, "context": "no-such-context"},
         ["has no context 'no-such-context'", "set the context option to one of them"]),
    case("context-unknown-list", L, {"context": "no-such-context", "namespaces": ["{ns}"]},
         ["has no context 'no-such-context'"]),
    # kubernetes.core's constraints (HELM_AUTH_MUTUALLY_EXCLUSIVE), aliases included
    case("context-with-ca-cert", R, {"revision": 2, "context": "kind-a", "ca_cert": "{tmp}/ca.crt"},
         ["parameters are mutually exclusive: context|ca_cert"]),
    case("context-with-validate-certs", H, {"kube_context": "kind-a", "validate_certs": False},
         ["parameters are mutually exclusive: context|validate_certs"]),
    case("context-with-verify-ssl-list", L, {"context": "kind-a", "verify_ssl": True, "namespaces": ["{ns}"]},
         ["parameters are mutually exclusive: context|validate_certs"]),
    case("api-server-unreachable", R, {"revision": 2, "kubeconfig": "{closed_kubeconfig}"},
         # the rollback's first request is its own, for the release's lease
         ["refused the connection", "Connection refused", "check host or the kubeconfig cluster's server"]),
    case("api-server-unreachable-history", H, {"kubeconfig": "{closed_kubeconfig}"}, ["could not be reached"]),
    # the release itself
    case("wrong-namespace", R, {"release_namespace": "{other_ns}", "revision": 2},
         ["Release good does not exist in namespace {other_ns}", "Check name and release_namespace",
          "helm_release_list"]),
    case("corrupt-release-history", H, {"name": "corrupt"},
         ["Helm crashed", "probably corrupt", "kubectl get secrets -l owner=helm", "panic: runtime error"],
         release="corrupt"),
    case("corrupt-release-rollback", R, {"name": "corrupt", "revision": "last_successful"},
         ["Helm crashed", "delete or restore the broken one"], release="corrupt"),
    # (helm_release_list reads the labels, which a corrupt record keeps: its listing does not fail, the release's
    # chart fields are null and problems names it; tests/unit/plugins/modules/test_helm_release_list.py)
]


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed once the socket is: nothing listens there


def corrupt_release_secret(name, version):
    """A release record Helm decodes (base64, gzip, JSON) into a release without info or chart:
    valid storage, nonsense content. Helm 3.17 and 4.3 both crash on it (nil pointer)."""
    payload = json.dumps({"name": name, "version": version}).encode("utf-8")
    encoded = base64.b64encode(gzip.compress(payload))  # Helm's own encoding of the release
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, version),
                     "labels": {"name": name, "owner": "helm", "status": "deployed", "version": str(version)}},
        "data": {"release": base64.b64encode(encoded).decode("ascii")},
    }


def fill(value, placeholders):
    if isinstance(value, dict):
        return {key: fill(item, placeholders) for key, item in value.items() if item is not OMIT}
    if isinstance(value, list):
        return [fill(item, placeholders) for item in value]
    if isinstance(value, str):
        if not isinstance(placeholders.get(value, ""), str):
            return placeholders[value]  # a whole value, e.g. an inline kubeconfig
        for key, replacement in placeholders.items():
            if isinstance(replacement, str):
                value = value.replace(key, replacement)
    return value


class Prepared:
    """The releases of one Helm major, made once, and the files the cases point at."""

    def __init__(self, helm, cluster, tmp_path):
        self.helm, self.cluster, self.tmp = helm, cluster, tmp_path
        suffix = uuid.uuid4().hex[:6]
        self.ns = "bad-input-h%d-%s" % (helm.major, suffix)
        self.other_ns = "bad-input-other-h%d-%s" % (helm.major, suffix)
        for namespace in (self.ns, self.other_ns):
            cluster.create_namespace(namespace)
        kubeconfig = cluster.kubeconfig
        # good: 1 (deployed, superseded), 2 (deployed), 3 (failed upgrade)
        scenarios.install(helm, kubeconfig, "good", self.ns, "1.0.0", {"config.revision": "1"})
        scenarios.upgrade(helm, kubeconfig, "good", self.ns, "1.1.0", {"config.revision": "2"})
        scenarios.failed_upgrade(helm, kubeconfig, "good", self.ns, "broken_image")
        # pruned: 4 revisions, only 3 and 4 stored
        scenarios.install(helm, kubeconfig, "pruned", self.ns, "1.0.0")
        for version in ("1.1.0", "1.2.0", "2.0.0"):
            scenarios.upgrade(helm, kubeconfig, "pruned", self.ns, version, extra=["--history-max", "2"])
        # allfailed: one failed install, nothing ever deployed
        scenarios.failed_install(helm, kubeconfig, "allfailed", self.ns, "broken_image")
        # corrupt: a good install, then a record no Helm wrote
        scenarios.install(helm, kubeconfig, "corrupt", self.ns, "1.0.0")
        create_secret(cluster, self.ns, corrupt_release_secret("corrupt", 2))
        self.write_files()

    def write_files(self):
        (self.tmp / "empty-path").mkdir()
        (self.tmp / "garbage.yaml").write_text("{{{ this: is: not yaml ::: [\n")
        (self.tmp / "not-kubeconfig.yaml").write_text("foo: bar\nitems: [1, 2]\n")
        with open(self.cluster.kubeconfig, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        self.kubeconfig_without_clusters = {key: value for key, value in config.items() if key != "clusters"}
        for entry in config["clusters"]:
            entry["cluster"]["server"] = "https://127.0.0.1:%d" % _closed_port()
        closed = self.tmp / "closed-kubeconfig.yaml"
        closed.write_text(yaml.safe_dump(config))
        closed.chmod(0o600)
        self.closed_kubeconfig = str(closed)

    def snapshot(self):
        """What must not change: the release records of both namespaces, and the history of each release Helm reads."""
        state = {"records": {ns: release_records(self.cluster, ns) for ns in (self.ns, self.other_ns)}}
        for release in ("good", "pruned", "allfailed"):
            state[release] = scenarios.history(self.helm, self.cluster.kubeconfig, release, self.ns)
        return state

    def placeholders(self):
        return {"{ns}": self.ns, "{other_ns}": self.other_ns, "{tmp}": str(self.tmp),
                "{closed_kubeconfig}": self.closed_kubeconfig,
                "{kubeconfig_without_clusters}": self.kubeconfig_without_clusters}

    def fill(self, value):
        """The case's value with the placeholders of this major filled in."""
        return fill(value, self.placeholders())

    def task(self, index, item):
        args = dict(binary_path=self.helm.path, kubeconfig=self.cluster.kubeconfig)
        if item.module != L:
            args.update(DEFAULT)
        args.update(item.args)
        args = self.fill(args)
        environment = args.pop("_environment", None)
        task = {"name": item.id, "matih.helm." + item.module: args, "register": "case_%d" % index,
                "ignore_errors": True}
        if environment:
            task["environment"] = environment
        return task


def _majors():
    return sorted(scenarios.HELM_BINARIES)


def run_cases(helm, cluster, tmp):
    """Prepare the releases, run every case in one playbook; everything the assertions need, as JSON data."""
    prepared = Prepared(helm, cluster, tmp)
    before = prepared.snapshot()
    results_file = tmp / "results.json"
    # only the cases that run on this major (helm_majors.py: the others run on one major)
    cases = [(index, item) for index, item in enumerate(CASES)
             if helm_majors.runs_on("helm%d" % helm.major, "test_bad_input.py", "test_bad_input", item.id)]
    tasks = [prepared.task(index, item) for index, item in cases]
    tasks.append({"name": "Write every result", "ansible.builtin.copy": {
        "dest": str(results_file),
        "content": "{{ %s | to_json }}" % ("{" + ", ".join("'%s': case_%d" % (item.id, index) for index, item in cases) + "}"),
    }})
    run = run_tasks(tasks, tmp, name="bad input on Helm %d" % helm.major, env={"ANSIBLE_PIPELINING": "1"})
    assert results_file.is_file(), "the playbook did not get to the end:\n%s\n%s" % (run.stdout[-20000:], run.stderr[-5000:])
    outcome = {"placeholders": prepared.placeholders(), "before": before, "after": prepared.snapshot(),
               "results": json.loads(results_file.read_text()), "stdout": run.stdout, "stderr": run.stderr}
    for namespace in (prepared.ns, prepared.other_ns):
        cluster.delete_namespace(namespace)
    return outcome


def _binaries():
    """{label: HelmBinary} of the Helm binaries that are installed."""
    return {label: HelmBinary(path, scenarios.helm_major(path))
            for label, path in sorted(scenarios.HELM_BINARIES.items()) if os.access(path, os.X_OK)}


@pytest.fixture(scope="module", params=_majors())
def outcome(request, cluster, demo_charts, tmp_path_factory):  # pylint: disable=unused-argument  # packs the charts
    """The outcome of every case on one Helm major, computed once per pytest run.

    The first worker (with xdist) to get here runs the cases of every Helm major at once, in
    parallel, and writes them as JSON; the others wait on the lock and read the files."""
    binaries = _binaries()
    if request.param not in binaries:
        pytest.skip("%s binary not found at %s" % (request.param, scenarios.HELM_BINARIES[request.param]))
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's directory, above each worker's own
    files = {label: shared / ("bad-input-%s.json" % label) for label in binaries}
    with open(shared / "bad-input.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [label for label in binaries if not files[label].is_file()]
        if missing:
            tmp = {label: tmp_path_factory.mktemp("bad-input-%s" % label) for label in missing}
            with concurrent.futures.ThreadPoolExecutor(len(missing)) as pool:
                done = {label: pool.submit(run_cases, binaries[label], cluster, tmp[label]) for label in missing}
            for label, future in done.items():
                files[label].write_text(json.dumps(future.result()))
    return json.loads(files[request.param].read_text())


def test_there_are_enough_distinct_cases():
    assert len({item.id for item in CASES}) == len(CASES) >= 30


def test_playbook_output_has_no_traceback(outcome):
    for stream in (outcome["stdout"], outcome["stderr"]):
        assert "Traceback" not in stream and "MODULE FAILURE" not in stream, stream[-20000:]


@pytest.mark.parametrize("item", CASES, ids=[item.id for item in CASES])
def test_bad_input(outcome, item):
    before, after = outcome["before"], outcome["after"]
    result = outcome["results"][item.id]
    message = result.get("msg", "")
    assert result.get("failed") is True, "%s did not fail: %s" % (item.id, json.dumps(result)[:3000])
    for fragment in item.expect:
        fragment = fill(fragment, outcome["placeholders"])
        assert fragment in message, "%r not in the message of %s: %r" % (fragment, item.id, message)
    # ansible-core 2.19+ adds exception: "(traceback unavailable)" to every failure; a real one has "Traceback".
    for key in ("msg", "module_stderr", "module_stdout", "stdout", "stderr", "exception"):
        assert "Traceback" not in str(result.get(key, "")), "%s: traceback in %s" % (item.id, key)
    assert "MODULE FAILURE" not in message and "module_stderr" not in result, result
    assert not result.get("changed"), "%s reports a change" % item.id
    # No revision was created: neither in any release record, nor in the history Helm reads.
    assert after["records"] == before["records"], "%s changed the release records" % item.id
    if item.release in before:
        assert after[item.release] == before[item.release], "%s changed the history of %s" % (item.id, item.release)
    # The message is one clear statement, not a dump.
    assert len(message) < 1500 and not re.search(r"goroutine \d+", message), message

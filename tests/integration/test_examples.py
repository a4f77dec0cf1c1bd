"""Every module's EXAMPLES run as written, as the tasks of one play (on one Helm major: helm_majors.py).

The examples share one cast so that each of them can succeed: release ``web`` in namespace
``shop``, made here with real Helm from the demo chart with three good revisions (charts 1.0.0,
1.1.0, 1.2.0) and a failed upgrade (revision 4, an image that never becomes ready). Anything
else an example names (another namespace, a pending release) must either exist after that
preparation or be handled by the example itself. The play sets the connection once with
``module_defaults`` for ``group/matih.helm.helm`` and defines ``cluster_kubeconfig``, which
examples use in their own ``module_defaults``.

The namespace is fixed by the examples, so on an external cluster these tests only run with
MATIH_TEST_EXAMPLES_ON_REAL_CLUSTER=1 (they would uninstall ``web`` in ``shop`` there). Some
examples list every namespace, and the releases other tests leave on purpose (a corrupt record, a
stuck upgrade) must not decide their outcome: on the emulator each test gets an API server of its
own; on the control plane the examples share one more control plane, started once, where
``web`` is the only release and is made anew before each module's examples.
"""
import ast
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

import kubeemu
import scenarios
from fixtures import Cluster, controlplane, emulator_cluster

COLLECTION_ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES_DIR = COLLECTION_ROOT / "plugins" / "modules"
MODULES = sorted(path.stem for path in MODULES_DIR.glob("*.py") if not path.name.startswith("_"))

RELEASE, NAMESPACE = "web", "shop"
# Outcomes other than "ok"/"changed" that a module's examples show on purpose, e.g.
# {"helm_release_rollback": {"rescued": 1}}. Everything not listed here must be 0.
EXPECTED_OUTCOMES = {}
RECAP = re.compile(r"^localhost\s*:\s*(?P<counts>.*)$", re.M)


def examples(module):
    """The EXAMPLES of plugins/modules/MODULE.py, parsed as YAML, read without importing it."""
    tree = ast.parse((MODULES_DIR / (module + ".py")).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLES" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no EXAMPLES" % module)


def prepare_release(helm, kubeconfig):
    """``web`` in ``shop``: revisions 1-3 good (charts 1.0.0, 1.1.0, 1.2.0), revision 4 a failed upgrade."""
    scenarios.uninstall(helm, kubeconfig, RELEASE, NAMESPACE, check=None)
    scenarios.release_with_good_revisions(helm, kubeconfig, RELEASE, NAMESPACE, 3)
    scenarios.failed_upgrade(helm, kubeconfig, RELEASE, NAMESPACE, "broken_image")
    statuses = scenarios.statuses(helm, kubeconfig, RELEASE, NAMESPACE)
    assert statuses == ["superseded", "superseded", "deployed", "failed"], statuses


def recap_counts(stdout):
    match = RECAP.search(stdout)
    assert match, "no play recap in:\n" + stdout[-5000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group("counts"))}


def run_play(tasks, helm, kubeconfig, tmp_path):
    play = [{
        "name": "examples",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"cluster_kubeconfig": str(kubeconfig)},
        "module_defaults": {"group/matih.helm.helm": {"binary_path": str(helm), "kubeconfig": str(kubeconfig)}},
        "tasks": tasks,
    }]
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    # No kubeconfig through the environment: only the play's settings count. Helm is on PATH as well,
    # because a block's module_defaults for the group (as some examples have) replaces the play's
    # group defaults instead of adding to them, so binary_path does not reach those tasks.
    env = {key: value for key, value in os.environ.items() if key not in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG")}
    env.update(ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_NOCOLOR="1",
               HOME=str(tmp_path), PATH=os.path.dirname(str(helm)) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         str(playbook)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )


def test_every_module_has_examples():
    assert MODULES, "no modules found in %s" % MODULES_DIR
    for module in MODULES:
        tasks = examples(module)
        assert isinstance(tasks, list) and tasks, module
        assert any("matih.helm.%s" % module in yaml.safe_dump(task) for task in tasks), module


@pytest.fixture(scope="module")
def examples_plane(cluster, tmp_path_factory):
    """On the control plane, one more control plane, started once for every module's examples: the
    worker's own holds the releases other tests leave on purpose, which list examples would see."""
    if cluster.kind != "controlplane":
        yield None
        return
    with controlplane.ControlPlane(str(tmp_path_factory.mktemp("examples-cluster"))) as plane:
        yield Cluster(plane.kubeconfig_path, controlplane.CONTEXT, plane.url, plane=plane)


@pytest.fixture
def examples_cluster(cluster, examples_plane):
    """A cluster where ``web`` in ``shop`` is the only release (prepare_release makes it anew for
    each module): the examples name namespace ``shop`` as written."""
    if cluster.kind == "emulator":
        with kubeemu.Emulator() as emulator:
            yield emulator_cluster(emulator)
        return
    if cluster.kind == "controlplane":
        yield examples_plane
        return
    if os.environ.get("MATIH_TEST_EXAMPLES_ON_REAL_CLUSTER") != "1":
        pytest.skip("the examples use namespace %s; set MATIH_TEST_EXAMPLES_ON_REAL_CLUSTER=1 to run them on a real cluster" % NAMESPACE)
    yield cluster


@pytest.mark.parametrize("module", MODULES)
def test_examples_run(module, helm_binary, examples_cluster, tmp_path):
    cluster = examples_cluster
    prepare_release(helm_binary.path, cluster.kubeconfig)
    result = run_play(examples(module), helm_binary.path, cluster.kubeconfig, tmp_path)
    output = "%s\n%s" % (result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 0, "EXAMPLES of %s failed on Helm %d:\n%s" % (module, helm_binary.major, output)
    counts = recap_counts(result.stdout)
    expected = dict({"failed": 0, "skipped": 0, "rescued": 0, "ignored": 0, "unreachable": 0},
                    **EXPECTED_OUTCOMES.get(module, {}))
    assert {key: counts.get(key) for key in expected} == expected, output
    assert counts["ok"] >= len(examples(module)), output

"""Run each integration target (tests/integration/targets/NAME/tasks/main.yml) as a role on localhost."""
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

TARGETS_DIR = pathlib.Path(__file__).resolve().parent / "targets"
TARGETS = sorted(path.name for path in TARGETS_DIR.iterdir() if (path / "tasks" / "main.yml").is_file())


def run_target(target, helm_binary, cluster, namespace, charts, tmp_path):
    """Run one target with the test bed's facts as extra vars; return the completed process."""
    extra_vars = {
        "helm_binary": str(helm_binary.path),
        "helm_major": helm_binary.major,
        "kubeconfig_path": str(cluster.kubeconfig),
        "test_namespace": namespace,
        "testbed_charts": {version: str(path) for version, path in charts.items()},
        # controlplane, emulator or external: for what only a real API server does (defaulting, normalisation)
        "test_cluster": cluster.kind,
    }
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(extra_vars))
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump([{
        "name": f"integration target {target}",
        "hosts": "localhost",
        "gather_facts": False,
        "roles": [str(TARGETS_DIR / target)],
    }]))
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_RETRY_FILES_ENABLED="0")
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
         "-i", "localhost,", "-c", "local", "-e", "@" + str(tmp_path / "vars.yml"),
         str(tmp_path / "playbook.yml")],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )


# The targets the Helm version matrix smoke-runs: history (with values), and rollbacks to a number
# and to last_successful, in check mode too.
MATRIX_TARGETS = ("helm_release_history", "helm_release_rollback")


@pytest.mark.parametrize("target", [pytest.param(target, marks=[pytest.mark.helm_matrix] if target in MATRIX_TARGETS else [])
                                    for target in TARGETS])
def test_target(target, helm_binary, cluster, demo_charts, tmp_path, request):
    # One namespace per target and Helm binary (the matrix runs several Helm 3 versions at once).
    helm_id = request.node.callspec.params["helm_binary"]
    namespace = re.sub(r"[^a-z0-9-]", "-", f"it-{target}-{helm_id}")[:63].strip("-")
    result = run_target(target, helm_binary, cluster, namespace, demo_charts, tmp_path)
    assert result.returncode == 0, f"target {target} failed on Helm {helm_binary.major}:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
    assert re.search(r"failed=0 ", result.stdout), result.stdout[-5000:]

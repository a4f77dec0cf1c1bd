"""The modules' bytecode cache, as Ansible really runs them (AnsiballZ, a zip): the first task compiles the
collection's module_utils and keeps the code in a private directory, the next task reads it without writing,
and with PYTHONDONTWRITEBYTECODE nothing is written while the task still works.

One module, on one Helm major (helm_majors.py's ONE_MAJOR): the cache does not depend on Helm
(helm_release_history of a release that does not exist reads one LIST of the records).
"""
import os
import stat

from playbook_runner import run_tasks

# module_utils that helm_release_history always imports (the first words of the cached files' names)
IMPORTED = {"args", "connection", "errors", "helm_client", "kube_client", "release", "release_store"}


def _read_task(cluster, namespace, helm_binary):
    return [{"name": "Read the history of a release that does not exist",
             "matih.helm.helm_release_history": {"name": "never-installed", "release_namespace": namespace,
                                                 "binary_path": str(helm_binary),
                                                 "kubeconfig": cluster.kubeconfig, "context": cluster.context},
             "register": "read"},
            {"name": "Check it answered", "ansible.builtin.assert": {"that": ["not read.exists", "read is not failed"]}}]


def _entries(directory):
    return {path.name: path.stat().st_mtime_ns for path in directory.iterdir()}


def test_compiled_once_then_read(cluster, namespace, helm_binary, tmp_path):
    cache = tmp_path / "bytecode"
    env = {"MATIH_HELM_BYTECODE_CACHE": str(cache), "PYTHONDONTWRITEBYTECODE": ""}
    first = run_tasks(_read_task(cluster, namespace, helm_binary), tmp_path, name="first", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    written = _entries(cache)
    assert IMPORTED <= {name.split(".")[0] for name in written}, sorted(written)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert all(stat.S_IMODE((cache / name).stat().st_mode) == 0o600 for name in written)

    second = run_tasks(_read_task(cluster, namespace, helm_binary), tmp_path, name="second", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _entries(cache) == written  # read, not written again

    untouched = tmp_path / "not-written"
    third = run_tasks(_read_task(cluster, namespace, helm_binary), tmp_path, name="third",
                      env={"MATIH_HELM_BYTECODE_CACHE": str(untouched), "PYTHONDONTWRITEBYTECODE": "1"})
    assert third.returncode == 0, third.stdout + third.stderr
    assert not untouched.exists()  # read only: not even the directory is made


def test_a_directory_others_may_write_is_not_used(cluster, namespace, helm_binary, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = run_tasks(_read_task(cluster, namespace, helm_binary), tmp_path, name="shared",
                       env={"MATIH_HELM_BYTECODE_CACHE": str(shared), "PYTHONDONTWRITEBYTECODE": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(shared.iterdir())

"""``module_defaults`` for ``group/matih.helm.helm`` reach kubernetes.core's Helm modules too.

meta/runtime.yml extends our action group with kubernetes.core's ``helm`` group, so one
``module_defaults`` entry configures both collections (the roles set only ours). The proof is a
connection that exists only in the defaults: KUBECONFIG points to a closed port, the defaults name
the real cluster's kubeconfig and the Helm binary, and a task of each collection, with no
connection options of its own, must reach the release. A control play without the defaults must
fail the same kubernetes.core task, so the test cannot pass by accident.
"""
import json
import uuid

import scenarios
from playbook_runner import run_tasks


def test_group_defaults_reach_kubernetes_core_helm(helm_binary, cluster, demo_charts, tmp_path):  # pylint: disable=unused-argument
    namespace = "defaults-h%d-%s" % (helm_binary.major, uuid.uuid4().hex[:6])
    cluster.create_namespace(namespace)
    scenarios.install(helm_binary, cluster.kubeconfig, "web", namespace, "1.0.0", {"config.revision": "1"})
    closed = tmp_path / "closed-kubeconfig"
    closed.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
                      "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
                      "current-context: c\n")
    results = tmp_path / "results.json"
    tasks = [
        {"name": "Our module, connection from the group defaults", "register": "ours",
         "matih.helm.helm_release_history": {"name": "web", "release_namespace": namespace}},
        {"name": "kubernetes.core's module, connection from the same defaults", "register": "theirs",
         "kubernetes.core.helm_info": {"name": "web", "release_namespace": namespace}},
        {"name": "Write the results", "ansible.builtin.copy": {
            "dest": str(results), "content": "{{ {'ours': ours, 'theirs': theirs} | to_json }}"}},
    ]
    defaults = {"group/matih.helm.helm": {"binary_path": helm_binary.path, "kubeconfig": cluster.kubeconfig}}
    env = {"KUBECONFIG": str(closed)}
    run = run_tasks([{"name": "With group defaults", "module_defaults": defaults, "block": tasks}], tmp_path,
                    name="defaults", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    found = json.loads(results.read_text())
    assert [entry["revision"] for entry in found["ours"]["history"]] == [1]
    assert found["theirs"]["status"]["name"] == "web"
    assert found["theirs"]["status"]["status"] == "deployed"

    control = run_tasks([{"name": "kubernetes.core's module without the defaults", "kubernetes.core.helm_info": {
        "name": "web", "release_namespace": namespace, "binary_path": helm_binary.path}}], tmp_path,
        name="control", env=env)
    assert control.returncode != 0
    assert "127.0.0.1:9" in control.stdout, control.stdout

"""Helpers for integration tests that run matih.helm modules through ansible-playbook.

``run_tasks`` runs a list of tasks on localhost (local connection, the test's Python) and
returns the completed process; ``release_records`` and ``create_secret`` read and write
release storage Secrets through the cluster's API (``Cluster.api``), so tests can tell
whether a task created a revision without trusting Helm.
"""
import os
import subprocess
import sys
import urllib.parse

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collections_path():
    """The collection mirror made by hack/collection-tree.sh, then the vendored collections."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.environ.get("MATIH_COLLECTION_ROOT") or os.path.join(cache, "matih.helm-tree")
    return os.pathsep.join([root, os.path.join(REPO_ROOT, ".cache", "collections")])


def ansible_env(**extra):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", collections_path())
    env.update(extra)
    return env


def run_tasks(tasks, tmp_path, name="matih.helm test", verbosity=0, env=None, check=False, diff=False, timeout=900):
    """Run ``tasks`` as one play on localhost; returns the CompletedProcess (stdout, stderr)."""
    playbook = tmp_path / ("playbook-%s.yml" % abs(hash(name)))
    playbook.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False,
                                         "tasks": tasks}], width=1000))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local"]
    argv += ["-" + "v" * verbosity] if verbosity else []
    argv += ["--check"] if check else []
    argv += ["--diff"] if diff else []
    return subprocess.run(argv + [str(playbook)], env=ansible_env(**(env or {})), capture_output=True, text=True,
                          timeout=timeout, check=False)


def release_records(cluster, namespace):
    """Sorted names of the Helm release Secrets (one per stored revision) in ``namespace``."""
    query = urllib.parse.urlencode({"labelSelector": "owner=helm"})
    listing = cluster.api("GET", "/api/v1/namespaces/%s/secrets?%s" % (namespace, query))
    return sorted(item["metadata"]["name"] for item in listing.get("items") or [])


def create_secret(cluster, namespace, secret):
    """Create a Secret (a dict) the way any API client can."""
    secret = dict(secret, metadata=dict(secret["metadata"], namespace=namespace))
    cluster.api("POST", "/api/v1/namespaces/%s/secrets" % namespace, secret)


def without_unsafe_markers(value):
    """A value as ansible-inventory --list prints it (ansible-core 2.19+ wraps untrusted text in
    ``{"__ansible_unsafe": ...}``), without those markers."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    if isinstance(value, dict):
        return {key: without_unsafe_markers(item) for key, item in value.items()}
    return [without_unsafe_markers(item) for item in value] if isinstance(value, list) else value

"""The "Helm releases" inventory as AWX builds and uses it: an inventory update of the project-sourced
source (configure.yml's "Helm releases from the project", extensions/awx/project/releases.helm_releases.yml)
run through ansible-runner, then the "Helm: recover releases" job on the hosts it imported, with a Limit.

What AWX does for an inventory update of an SCM source (awx/main/tasks/jobs.py RunInventoryUpdate,
awx/main/constants.py), reproduced here:

- the project is checked out into ``<private data dir>/project``; ansible-runner gets no playbook and no
  inventory but an ``args`` file, ``ansible-inventory --list --export -i project/<source_path> --output
  artifacts/<id>/output.json --playbook-dir project``, which it runs as a raw command;
- the environment has STANDARD_INVENTORY_UPDATE_ENV (an unparsed source fails the update, export,
  verbose output to stderr, a mismatched host pattern is an error), INVENTORY_SOURCE_ID and
  INVENTORY_UPDATE_ID, the collections path, and what the source's credential injects: every credential of
  an SCM source runs its own injector (get_extra_credentials), here the collection's "Helm kubeconfig
  (matih.helm)" type (KUBECONFIG, K8S_AUTH_KUBECONFIG, K8S_AUTH_CONTEXT) or AWX's "OpenShift or Kubernetes
  API Bearer Token" (K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT);
- suppress_env_files: the environment is not written under env/;
- AWX imports ``output.json`` as it is (inventory_import; values stay as ansible-inventory printed them,
  ``__ansible_unsafe`` markers included), and a job later gets the inventory from its database as a script
  that prints it (Inventory.get_script_data: hosts by name, groups with their hosts, the variables plus the
  remote_tower_* ones), run with the job template's Limit as ``--limit``.

On a control plane of its own (so that the inventory's "every release of the cluster" is exactly the
releases made here, with real Helm): ``shop/web`` failed (an upgrade admission refused), ``shop/cart``
deployed, and ``kube-system/agent``, which the project's source excludes. Asserted: the update is
successful for both credential types and exports the two shop releases with their helm_release variables,
groups (helm_unhealthy is the failed one) and an empty matih_helm_connection (the job's credential connects
them); no token in output.json, in any job event or in the stdout artifact; then the recover job, limited to
``shop/web`` on that imported inventory, recovers it (its latest revision, read through the API, is a new
deployed one) and leaves ``shop/cart`` untouched.
"""

import json
import os
import shutil
import stat
import tempfile

import pytest

import awx_job
import controlplane
import scenarios
from playbook_runner import without_unsafe_markers
from fixtures import cluster_kind

SOURCE_PATH = "releases.helm_releases.yml"
INVENTORY_SOURCE_ID, INVENTORY_UPDATE_ID = 11, 21
# awx/main/constants.py STANDARD_INVENTORY_UPDATE_ENV
STANDARD_INVENTORY_UPDATE_ENV = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "ANSIBLE_INVENTORY_EXPORT": "True",
                                 "ANSIBLE_VERBOSE_TO_STDERR": "True", "ANSIBLE_HOST_PATTERN_MISMATCH": "error"}
SHOP = "shop"


@pytest.fixture
def plane():
    """A control plane of this test's own: its releases are all the inventory lists."""
    if cluster_kind() != "controlplane":
        pytest.skip("needs the real control plane: one of its own, so that every release it lists is known")
    directory = tempfile.mkdtemp(prefix="matih-awxinv-")  # short: the API server's socket paths carry it
    started = controlplane.ControlPlane(directory)
    try:
        with started:
            yield started
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _kubeconfig_credential(plane, directory):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    """The "Helm kubeconfig (matih.helm)" credential: the token kubeconfig with its CA embedded."""
    return awx_job.kubeconfig_credential_env(directory, plane.token_kubeconfig_path)


def _bearer_token_credential(plane, directory):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    """AWX's built-in "OpenShift or Kubernetes API Bearer Token" credential, with the CA and verify_ssl."""
    with open(plane.ca_cert_path, encoding="ascii") as handle:
        return awx_job.bearer_token_env(directory, plane.url, plane.token, ca_pem=handle.read(), verify_ssl=True)


CREDENTIALS = {"kubeconfig": _kubeconfig_credential, "bearer-token": _bearer_token_credential}


def inventory_update(directory, env, credential):
    """An AWX inventory update of the project's source; returns (ansible-runner's result, output.json text)."""
    import ansible_runner  # pylint: disable=import-outside-toplevel  # only the AWX tests need it

    directory = str(directory)
    shutil.copytree(awx_job.PROJECT_DIR, os.path.join(directory, "project"))
    output = os.path.join(directory, "artifacts", str(INVENTORY_UPDATE_ID), "output.json")
    args = ["ansible-inventory", "--list", "--export", "-i", os.path.join(directory, "project", SOURCE_PATH),
            "--output", output, "--playbook-dir", os.path.join(directory, "project"),
            # the inventory source's verbosity, 1 (INFO) unless set (configure.yml leaves it): -vvv
            "-vvv"]
    with open(os.path.join(directory, "args"), "w", encoding="utf-8") as stream:
        stream.write(" ".join(args))
    env = dict(env, INVENTORY_SOURCE_ID=str(INVENTORY_SOURCE_ID), INVENTORY_UPDATE_ID=str(INVENTORY_UPDATE_ID),
               **STANDARD_INVENTORY_UPDATE_ENV)
    env.update(credential)
    result = ansible_runner.run(private_data_dir=directory, ident=str(INVENTORY_UPDATE_ID), envvars=env,
                                suppress_env_files=True, settings={"job_timeout": 300, "suppress_ansible_output": True},
                                quiet=True, timeout=300)
    text = None
    if os.path.exists(output):
        with open(output, encoding="utf-8") as handle:
            text = handle.read()
    return result, text


def _runner_output(result):
    return "status=%s rc=%s\n%s" % (result.status, result.rc, "".join(event.get("stdout", "") + "\n" for event in result.events)[-8000:])


def _artifacts_text(directory, ident):
    """Every artifact ansible-runner kept of a run (job events, stdout, status, rc...), but ``command``:
    ansible-runner writes the whole process environment there, as every ansible-runner run does (AWX's too),
    credentials included; it is ansible-runner's file, not the job's output."""
    texts = {}
    root = os.path.join(str(directory), "artifacts", str(ident))
    for base, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            if os.path.relpath(path, root) != "command":
                with open(path, encoding="utf-8", errors="replace") as handle:
                    texts[os.path.relpath(path, root)] = handle.read()
    return texts


def awx_inventory_script(exported):
    """The job's inventory as AWX writes it from what it imported (Inventory.get_script_data with hostvars and
    towervars, then write_inventory_file): a script printing JSON; the variables stored as imported."""
    hostvars = exported["_meta"]["hostvars"]
    hosts = sorted(hostvars)
    data = {"all": {}}
    grouped, names = set(), []
    for group, content in exported.items():
        if group in ("_meta", "all", "ungrouped"):
            continue
        names.append(group)
        info = {}
        if content.get("hosts"):
            info["hosts"] = list(content["hosts"])
            grouped.update(content["hosts"])
        if content.get("children"):
            info["children"] = list(content["children"])
        if info:
            data[group] = info
    data["all"]["hosts"] = [host for host in hosts if host not in grouped]
    data["all"]["children"] = names
    data["_meta"] = {"hostvars": {}}
    for index, host in enumerate(hosts, start=1):
        towervars = {"remote_host_enabled": "true", "remote_host_id": index, "remote_tower_enabled": "true",
                     "remote_tower_id": index}
        data["_meta"]["hostvars"][host] = dict(hostvars[host], **towervars)
    return "#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(data)


def _records(plane, namespace, name):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    """{revision: status} of a release, from the labels of its Helm records, read through the API."""
    listing = plane.api("GET", "/api/v1/namespaces/%s/secrets?labelSelector=owner%%3Dhelm,name%%3D%s" % (namespace, name))
    return {int(item["metadata"]["labels"]["version"]): item["metadata"]["labels"]["status"] for item in listing["items"]}


# pylint: disable-next=redefined-outer-name,too-many-locals,too-many-statements
def test_inventory_update_and_recover_job_as_awx_runs_them(helm_binary, plane, tmp_path):
    helm, admin = helm_binary.path, plane.kubeconfig_path
    scenarios.install(helm, admin, "web", SHOP)
    scenarios.failed_upgrade(helm, admin, "web", SHOP, "rejected_config")
    scenarios.install(helm, admin, "cart", SHOP)
    scenarios.install(helm, admin, "agent", "kube-system")  # the project's source excludes kube-system
    web_before = _records(plane, SHOP, "web")
    assert web_before == {1: "deployed", 2: "failed"}  # admission refused the upgrade: revision 1 still runs
    cart_before = _records(plane, SHOP, "cart")
    assert cart_before == {1: "deployed"}
    env = awx_job.base_env(tmp_path / "home", os.path.dirname(helm))
    secrets = [plane.token]

    exported = {}
    for label, credential in CREDENTIALS.items():
        directory = tmp_path / ("update-" + label)
        directory.mkdir()
        result, text = inventory_update(directory, env, credential(plane, directory))
        assert result.status == "successful" and result.rc == 0, _runner_output(result)
        assert text, "no output.json\n" + _runner_output(result)
        # the job events AWX shows hold ansible-inventory's -vvv output, the source parsed by the plugin
        stdout = "".join(event.get("stdout", "") + "\n" for event in result.events)
        assert "Parsed %s inventory source" % os.path.join(str(directory), "project", SOURCE_PATH) in stdout, stdout[-4000:]
        for secret in secrets:
            assert secret not in text, "%s: the token is in output.json" % label
            leaks = [name for name, content in _artifacts_text(directory, INVENTORY_UPDATE_ID).items() if secret in content]
            assert not leaks, "%s: the token is in the artifacts %s" % (label, leaks)
        exported[label] = json.loads(text)
    # either credential gives AWX the same inventory, but for the age of each release
    same = []
    for one in exported.values():
        one = without_unsafe_markers(one)
        for variables in one["_meta"]["hostvars"].values():
            assert 0 <= variables["helm_release"].pop("age_seconds") < 600, variables
        same.append(one)
    assert same[0] == same[1], same

    inventory = exported["bearer-token"]
    hostvars = {host: without_unsafe_markers(variables) for host, variables in inventory["_meta"]["hostvars"].items()}
    assert sorted(hostvars) == ["%s/cart" % SHOP, "%s/web" % SHOP], sorted(hostvars)

    def hosts(group):
        return sorted(inventory.get(group, {}).get("hosts", []))
    assert hosts("helm_unhealthy") == hosts("helm_failed") == ["%s/web" % SHOP], inventory
    assert hosts("helm_deployed") == ["%s/cart" % SHOP], inventory
    assert hosts("helm_namespace_shop") == hosts("helm_cluster_default") == ["%s/cart" % SHOP, "%s/web" % SHOP], inventory
    assert "helm_namespace_kube_system" not in inventory
    assert set(inventory["all"]["children"]) >= {"helm_unhealthy", "helm_failed", "helm_deployed", "helm_namespace_shop",
                                                 "helm_cluster_default"}, inventory["all"]
    for host, (revision, status) in {"%s/web" % SHOP: (2, "failed"), "%s/cart" % SHOP: (1, "deployed")}.items():
        variables = hostvars[host]
        release = dict(variables["helm_release"])
        assert release.pop("updated").endswith("Z"), variables
        release.pop("age_seconds")
        # cluster_releases: every release found in the cluster before the source's filters (kube-system's agent too)
        assert release == {"name": host.split("/")[1], "namespace": SHOP, "cluster": "default", "revision": revision,
                           "status": status, "cluster_releases": 3}, variables
        assert variables["ansible_connection"] == "local"
        # the default cluster: the hosts connect through the job's own credential, nothing of it is stored
        assert variables["matih_helm_connection"] == {}, variables

    # The "Helm: recover releases" job, launched with a Limit, on the inventory AWX serves from what it imported
    directory = tmp_path / "recover"
    directory.mkdir()
    job = awx_job.Job(directory, playbook="helm_recover.yml", template_name="Helm: recover releases", answers={},
                      template_vars={"fleet_remediation_timeout": "60s"}, forks=10,
                      credential_env=_bearer_token_credential(plane, directory))
    script = directory / "inventory" / "hosts"
    script.write_text(awx_inventory_script(inventory), encoding="utf-8")
    script.chmod(stat.S_IRWXU)
    job.cmdline += ["--limit", "%s/web" % SHOP]
    job.run(env)
    assert job.result.status == "successful", job.output()
    stats = job.stats
    assert sorted(stats["processed"]) == ["%s/web" % SHOP] and not stats.get("failures"), stats
    rows = stats["artifact_data"]["fleet_remediation_releases"]
    assert [(row["namespace"], row["release"], row["outcome"]) for row in rows] == [(SHOP, "web", "recovered")], rows
    # recovered: a new latest revision, deployed, as Helm's records on the cluster say; the healthy one untouched
    web_after = _records(plane, SHOP, "web")
    assert max(web_after) == 3 and web_after[3] == "deployed" and web_after[2] == "failed", web_after
    assert _records(plane, SHOP, "cart") == cart_before
    leaks = [name for name, content in _artifacts_text(directory, job.result.config.ident).items() if plane.token in content]
    assert not leaks, "the token is in the recover job's artifacts %s" % leaks

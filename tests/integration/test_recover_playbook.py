"""``ansible-playbook matih.helm.recover`` on the hosts of the matih.helm.helm_releases inventory, and
``matih.helm.remediate`` over two clusters: two real control planes, real Helm.

The two control planes are this module's own (test_inventory's, each behind a counting proxy), shared by
every test here; each test makes its releases in namespaces of its own (per Helm major for the playbook):

- east ``shop``: ``web`` and ``cart`` failed (an upgrade the admission policy refused), ``ok`` deployed;
- west ``tenant``: ``api`` failed, ``ok`` deployed, and ``new``, whose first install failed (nothing to roll
  back to, no chart given: not recoverable, outcome failed).

What is proven, in the order an operator meets it:

1. ``--limit east/shop/cart``: only that release is touched (every other history unchanged), its host is
   ok, the run passes;
2. AWX job slicing: two runs, each on the inventory AWX gives a slice (the hosts sorted by name, ``hosts[i::2]``,
   with their groups and variables, as AWX exports a sliced inventory): every unhealthy release is recovered
   exactly once across the slices (one new revision each), the unrecoverable one fails its own host only
   (what "relaunch on failed hosts" relaunches), and a slice holding both clusters recovers both;
3. the whole inventory, two clusters in one run, after two new failures: both recovered in that run, and
   the run's set_stats name the cluster of each row;
4. a relaunch limited to the failed host with ``fleet_remediation_max_unhealthy: 50%``: tried (not held), since the
   percentage is of the releases of the cluster, not of the run;
5. a host of another source (SSH, unreachable) first in the inventory: never connected to, and an empty group as
   ``helm_recover_hosts`` is nothing to do; 6. a group that does not exist fails the run before anything is done.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

import role_runner
import scenarios
import test_inventory
from playbook_runner import without_unsafe_markers
from fixtures import cluster_kind

ANSIBLE_BIN = os.path.dirname(sys.executable)
SLICES = 2


@pytest.fixture(scope="module")
def planes(tmp_path_factory):
    """Two control planes (east, west), each behind a counting proxy, for every test of this module."""
    if cluster_kind() != "controlplane":
        pytest.skip("needs the real control plane: two of them")
    started = []
    try:
        for name in ("east", "west"):
            started.append(test_inventory._up(tmp_path_factory.mktemp("recover-" + name)))  # pylint: disable=protected-access
        yield dict(zip(("east", "west"), started))
    finally:
        for one in started:
            one.proxy.stop()
            one.plane.stop()


def _source(planes, tmp_path, namespaces):  # pylint: disable=redefined-outer-name  # pytest fixture injection
    source = tmp_path / "fleet.helm_releases.yml"
    source.write_text(yaml.safe_dump({
        "plugin": "matih.helm.helm_releases", "namespaces": namespaces,
        "clusters": [{"name": name, "kubeconfig": planes[name].kubeconfig} for name in ("east", "west")]}))
    return str(source)


def _listed(source, tmp_path):
    listed = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-inventory"), "-i", source, "--list"],
                            capture_output=True, text=True, timeout=120, check=False, env=role_runner.base_env(tmp_path))
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def awx_slices(source, tmp_path, count):
    """The inventories of AWX's job slices: AWX syncs the source, orders the enabled hosts by name and gives
    slice i the hosts [i::count], with their variables and groups (awx/main/models/inventory.py
    get_sliced_hosts, and the inventory script of a slice job). Written as YAML inventories, one per slice."""
    inventory = _listed(source, tmp_path)
    hostvars = inventory["_meta"]["hostvars"]
    hosts = sorted(hostvars)
    paths = []
    for index in range(count):
        mine = hosts[index::count]
        groups = {}
        for group, content in inventory.items():
            if group in ("_meta", "all", "ungrouped") or not isinstance(content, dict):
                continue
            members = [host for host in content.get("hosts", []) if host in mine]
            if members:
                groups[group] = {"hosts": dict.fromkeys(members)}
        path = tmp_path / ("slice-%d.yml" % (index + 1))
        path.write_text(yaml.safe_dump({"all": {"hosts": {host: without_unsafe_markers(hostvars[host]) for host in mine},
                                                "children": groups}}, width=1000))
        paths.append((str(path), mine))
    return paths


def recover(inventory, helm_dir, tmp_path, label, *args):
    """ansible-playbook matih.helm.recover on ``inventory``; (result, report, recap {host: (ok, failed)})."""
    report_dir = tmp_path / label / "report"
    env = role_runner.base_env(tmp_path / label, PATH=str(helm_dir) + os.pathsep + os.environ.get("PATH", ""),
                               ANSIBLE_SHOW_CUSTOM_STATS="1")
    extra_vars = {"fleet_remediation_report_dir": str(report_dir), "fleet_remediation_timeout": "30s"}
    argv = [os.path.join(ANSIBLE_BIN, "ansible-playbook"), "-i", inventory, "matih.helm.recover", "--forks", "10",
            "-e", json.dumps(extra_vars)] + list(args)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, env=env, cwd=str(tmp_path))
    path = report_dir / "fleet-remediation.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    recap = {host: (int(ok), int(failed)) for host, ok, failed in
             re.findall(r"^(\S+)\s*: ok=(\d+) .*failed=(\d+) ", result.stdout, re.M)}
    return result, report, recap


def _output(result):
    return "rc=%d\n%s\n%s" % (result.returncode, result.stdout[-12000:], result.stderr[-4000:])


def _rows(report):
    return {"%s/%s/%s" % (row["cluster"], row["namespace"], row["release"]): row for row in report["releases"]}


# pylint: disable-next=redefined-outer-name,too-many-locals,too-many-statements
def test_recover_playbook_with_a_limit_as_awx_slices_it_and_on_two_clusters(helm_binary, planes, tmp_path):
    helm = helm_binary.path
    east, west = planes["east"].kubeconfig, planes["west"].kubeconfig
    shop, tenant = "shop-h%d" % helm_binary.major, "tenant-h%d" % helm_binary.major
    releases = {"east/%s/web" % shop: (east, "web", shop), "east/%s/cart" % shop: (east, "cart", shop),
                "east/%s/ok" % shop: (east, "ok", shop), "west/%s/api" % tenant: (west, "api", tenant),
                "west/%s/ok" % tenant: (west, "ok", tenant), "west/%s/new" % tenant: (west, "new", tenant)}
    for host, (kubeconfig, name, namespace) in releases.items():
        if name == "new":
            scenarios.failed_install(helm, kubeconfig, name, namespace, "rejected_config", extra=["--create-namespace"])
            continue
        scenarios.install(helm, kubeconfig, name, namespace, extra=["--create-namespace"])
        if name != "ok":
            scenarios.failed_upgrade(helm, kubeconfig, name, namespace, "rejected_config")

    def histories():
        return {host: role_runner.brief(scenarios.history(helm, kubeconfig, name, namespace))
                for host, (kubeconfig, name, namespace) in releases.items()}
    before = histories()
    assert {host: entries[-1][1] for host, entries in before.items()} == {
        "east/%s/web" % shop: "failed", "east/%s/cart" % shop: "failed", "east/%s/ok" % shop: "deployed",
        "west/%s/api" % tenant: "failed", "west/%s/ok" % tenant: "deployed", "west/%s/new" % tenant: "failed"}, before
    source = _source(planes, tmp_path, [shop, tenant])
    helm_dir = role_runner.counting_helm(tmp_path / "bin", helm)

    # 1. A Limit: that release only
    cart = "east/%s/cart" % shop
    result, report, recap = recover(source, helm_dir, tmp_path, "limit", "--limit", cart)
    assert result.returncode == 0, _output(result)
    assert list(recap) == [cart] and recap[cart][1] == 0, _output(result)
    after_limit = histories()
    assert {host: entries for host, entries in after_limit.items() if host != cart} == {
        host: entries for host, entries in before.items() if host != cart}
    assert after_limit[cart][-1][1] == "deployed" and len(after_limit[cart]) == len(before[cart]) + 1, after_limit[cart]
    assert [(row["outcome"], row["cluster"]) for row in report["releases"]] == [("recovered", "east")], report

    # 2. AWX job slicing: each slice a run of its own, on its share of the hosts
    slices = awx_slices(source, tmp_path, SLICES)
    assert sorted(host for _path, hosts in slices for host in hosts) == sorted(releases)
    reports, failed_hosts = [], []
    for index, (path, hosts) in enumerate(slices):
        result, report, recap = recover(path, helm_dir, tmp_path, "slice-%d" % (index + 1))
        assert sorted(recap) == sorted(hosts), _output(result)
        failed_hosts += [host for host, (_ok, failed) in recap.items() if failed]
        assert result.returncode == (2 if "west/%s/new" % tenant in hosts else 0), _output(result)
        reports.append(report)
    # the release nothing can recover fails its own host, and only it: what "relaunch on failed hosts" relaunches
    assert failed_hosts == ["west/%s/new" % tenant], failed_hosts
    after_slices = histories()
    unhealthy = ["east/%s/web" % shop, "west/%s/api" % tenant]
    recovered = [host for report in reports for host, row in _rows(report).items() if row["outcome"] == "recovered"]
    assert sorted(recovered) == sorted(unhealthy), [report["releases"] for report in reports]  # each exactly once
    for host in unhealthy:
        assert len(after_slices[host]) == len(before[host]) + 1 and after_slices[host][-1][1] == "deployed", after_slices[host]
    for host in ("east/%s/ok" % shop, "west/%s/ok" % tenant, cart):
        assert after_slices[host] == after_limit[host], host
    new_rows = [_rows(report)["west/%s/new" % tenant] for report in reports if "west/%s/new" % tenant in _rows(report)]
    assert [row["outcome"] for row in new_rows] == ["failed"], new_rows
    # a slice holding releases of both clusters recovered them in one run
    assert any({row["cluster"] for row in report["releases"]} == {"east", "west"} for report in reports), reports

    # 3. The whole inventory, both clusters in one run, after new failures on each
    scenarios.failed_upgrade(helm, east, "web", shop, "rejected_config")
    scenarios.failed_upgrade(helm, west, "ok", tenant, "rejected_config")
    for plane in planes.values():
        plane.request_stats(reset=True)
    result, report, recap = recover(source, helm_dir, tmp_path, "whole")
    assert result.returncode == 2, _output(result)
    assert [host for host, (_ok, failed) in recap.items() if failed] == ["west/%s/new" % tenant], _output(result)
    rows = _rows(report)
    assert {host: row["outcome"] for host, row in rows.items()} == {
        "east/%s/web" % shop: "recovered", "west/%s/ok" % tenant: "recovered", "west/%s/new" % tenant: "failed"}, rows
    stats = json.loads(re.search(r"^\tRUN: (?P<data>.*)$", result.stdout, re.M).group("data"))
    assert sorted("%s/%s/%s" % (row["cluster"], row["namespace"], row["release"]) for row in stats["fleet_remediation_releases"]) \
        == sorted(rows), stats
    assert stats["fleet_remediation_summary"]["failed_releases"] == ["west/%s/new" % tenant], stats
    for host in ("east/%s/web" % shop, "west/%s/ok" % tenant):
        assert scenarios.history(helm, releases[host][0], releases[host][1], releases[host][2])[-1]["status"] == "deployed"
    for plane in planes.values():  # the inventory's discovery: one metadata LIST per cluster
        assert plane.request_stats().get("GET /api/v1/secrets") == 1, plane.request_stats()

    # 4. Relaunch on failed hosts with a percentage brake: the one failed host of the run is 100% of the run, but the
    # percentage is of the releases of its cluster (the inventory's cluster_releases), so it is tried, not held
    new = "west/%s/new" % tenant
    result, report, recap = recover(source, helm_dir, tmp_path, "relaunch", "--limit", new,
                                    "-e", "fleet_remediation_max_unhealthy=50%", "-e", "fleet_remediation_backoff=0s")
    assert result.returncode == 2 and list(recap) == [new] and recap[new][1] == 1, _output(result)
    if "cluster_releases" in without_unsafe_markers(_listed(source, tmp_path)["_meta"]["hostvars"][new]).get("helm_release", {}):
        # tried again (failed, or quarantined after its max_attempts), not held
        assert [row["outcome"] for row in report["releases"]] in (["failed"], ["quarantined"]), report
        assert report["summary"]["held"] == 0 and not report["summary"]["hold_reason"], report["summary"]
    else:  # an inventory without cluster_releases: the brakes count within the run (1 of 1), held
        assert [row["outcome"] for row in report["releases"]] == ["held"], report

    # 5. Another source's host in the same inventory, first of all: never connected to (the report runs on the
    # controller), neither planned nor failed; an existing group without a release host is nothing to do
    static = tmp_path / "other-source.ini"
    static.write_text("aaa-ssh ansible_host=192.0.2.1 ansible_connection=ssh ansible_user=nobody\n\n[nothing_to_recover]\n")
    result, report, recap = recover(str(static), helm_dir, tmp_path, "empty", "-i", source,
                                    "-e", "helm_recover_hosts=nothing_to_recover")
    assert result.returncode == 0 and "UNREACHABLE" not in result.stdout, _output(result)
    assert recap["aaa-ssh"][1] == 0 and not [host for host, (_ok, failed) in recap.items() if failed], _output(result)
    assert report["releases"] == [] and report["summary"]["recovered"] == 0, report

    # 6. A pattern that names nothing (a typo of helm_unhealthy) fails before anything is done
    calls = len(role_runner.helm_calls(helm_dir))
    result, report, recap = recover(source, helm_dir, tmp_path, "typo", "-e", "helm_recover_hosts=helm_unhealty")
    assert result.returncode == 2 and report is None, _output(result)
    assert "helm_recover_hosts 'helm_unhealty' names no group or host of the inventory: helm_unhealty. Its groups: " \
        in result.stdout and "helm_unhealthy" in result.stdout, _output(result)
    assert len(role_runner.helm_calls(helm_dir)) == calls


def test_remediate_two_clusters(helm_binary, planes, tmp_path):  # pylint: disable=redefined-outer-name
    """fleet_remediation_clusters: one discovery request per cluster, each release recovered on its own cluster, rows
    and the summary naming the cluster."""
    helm = helm_binary.path
    east, west = planes["east"], planes["west"]
    for plane, namespace in ((east, "fleet-a"), (west, "fleet-b")):
        scenarios.install(helm, plane.kubeconfig, "web", namespace, extra=["--create-namespace"])
        scenarios.failed_upgrade(helm, plane.kubeconfig, "web", namespace, "rejected_config")
        scenarios.install(helm, plane.kubeconfig, "fine", namespace)
    helm_dir = role_runner.counting_helm(tmp_path / "bin", helm)
    for plane in (east, west):
        plane.request_stats(reset=True)
    extra_vars = {"fleet_remediation_namespaces": ["fleet-a", "fleet-b"], "fleet_remediation_timeout": "30s",
                  "fleet_remediation_report_dir": str(tmp_path / "report"),
                  "fleet_remediation_clusters": [{"name": "east", "kubeconfig": east.kubeconfig},
                                                 {"name": "west", "kubeconfig": west.kubeconfig}]}
    result, seconds = role_runner.run_collection_playbook("remediate", tmp_path, helm_dir, tmp_path / "no-kubeconfig",
                                                          extra_vars, forks=4)
    output = "rc=%d\n%s\n%s" % (result.returncode, result.stdout[-12000:], result.stderr[-4000:])
    assert result.returncode == 0, output
    print("\nmatih.helm.remediate over 2 clusters: %.1fs" % seconds)
    report = json.loads((tmp_path / "report" / "fleet-remediation.json").read_text(encoding="utf-8"))
    assert _rows(report) == {key: _rows(report)[key] for key in ("east/fleet-a/web", "west/fleet-b/web")}, report
    assert all(row["outcome"] == "recovered" for row in report["releases"]), report
    assert report["summary"]["discovery_problems"] == [] and report["summary"]["recovered"] == 2, report["summary"]
    for plane, namespace in ((east, "fleet-a"), (west, "fleet-b")):
        assert scenarios.statuses(helm, plane.kubeconfig, "web", namespace)[-1] == "deployed"
        # discovery: one metadata LIST of every namespace, not one helm list per namespace
        stats = plane.request_stats()
        assert stats.get("GET /api/v1/secrets") == 1, stats
        print("API requests on %s: %s" % (plane.url, stats))
    assert not [argv for argv in role_runner.helm_calls(helm_dir) if argv[:1] == ["list"]]

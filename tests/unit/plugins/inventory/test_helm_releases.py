# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The helm_releases inventory plugin: its options, hosts, groups, variables, secrets, problems and cache,
with the discovery of each cluster replaced by what it would have found (the discovery itself is
tested in module_utils/test_release_inventory.py and, on real clusters, in the integration tests)."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret

try:  # ansible-core 2.19 and later decrypt through the process's vault secrets
    from ansible.parsing.vault import VaultSecretsContext
except ImportError:
    VaultSecretsContext = None
from ansible.plugins.loader import inventory_loader

from ansible_collections.matih.helm.plugins.inventory import helm_releases

TOKEN = "s3cr3t-token-value"


def found(*releases, problems=(), requests=1):
    return {"releases": [dict(zip(("namespace", "name", "revision", "status", "updated"), release),
                              secret="sh.helm.release.v1.%s.v%d" % (release[1], release[2])) for release in releases],
            "problems": list(problems), "requests": requests, "scope": "cluster"}


FLEET = found(("shop", "web", 4, "failed", "2026-01-01T10:00:00Z"), ("shop", "cart", 2, "pending-upgrade", ""),
              ("billing", "api", 1, "deployed", "2026-01-01T10:00:00Z"), ("kube-system", "dns", 3, "deployed", ""))


@pytest.fixture
def inventory(tmp_path, monkeypatch):
    """parse(config, discovered) -> (InventoryData, plugin, the clusters asked); ``discovered`` maps a cluster
    name to what its discovery finds."""
    calls = []

    def parse(config, discovered=None, cache=True, loader=None, name="test.helm_releases.yml", plugin=None):
        source = tmp_path / name
        source.write_text(config if isinstance(config, str) else yaml.safe_dump(dict({"plugin": "matih.helm.helm_releases"}, **config)))

        def discover_cluster(self, cluster, namespaces, include_chart):
            calls.append((cluster, namespaces, include_chart))
            return json.loads(json.dumps((discovered or {}).get(cluster["name"], found())))
        monkeypatch.setattr(helm_releases.InventoryModule, "discover_cluster", discover_cluster)
        data = InventoryData()
        plugin = plugin or inventory_loader.get("matih.helm.helm_releases")
        assert plugin.verify_file(str(source))
        plugin.parse(data, loader or DataLoader(), str(source), cache=cache)
        if plugin.get_option("cache"):  # as ansible's InventoryManager does after each source
            plugin.update_cache_if_changed()
        return data, plugin, calls
    return parse


def hosts_of(data, group):
    return sorted(host.name for host in data.groups[group].get_hosts()) if group in data.groups else None


@pytest.mark.parametrize("name, valid", [
    ("prod.helm_releases.yml", True), ("prod.helm_releases.yaml", True), ("helm_releases.yml", False),
    ("prod.yml", False), ("prod.helm_releases.json", False),
])
def test_verify_file(tmp_path, name, valid):
    path = tmp_path / name
    path.write_text("plugin: matih.helm.helm_releases\n")
    assert inventory_loader.get("matih.helm.helm_releases").verify_file(str(path)) is valid


def test_one_cluster_hosts_groups_and_variables(inventory, monkeypatch):
    for variable in helm_releases.ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    data, _plugin, calls = inventory({}, {"default": FLEET})
    assert [call[0]["name"] for call in calls] == ["default"] and calls[0][0]["host_options"] == {}
    assert sorted(data.hosts) == ["billing/api", "kube-system/dns", "shop/cart", "shop/web"]
    expected_groups = {
        "helm_failed": ["shop/web"], "helm_pending_upgrade": ["shop/cart"], "helm_deployed": ["billing/api", "kube-system/dns"],
        "helm_unhealthy": ["shop/cart", "shop/web"], "helm_namespace_shop": ["shop/cart", "shop/web"],
        "helm_namespace_kube_system": ["kube-system/dns"], "helm_cluster_default": sorted(data.hosts),
    }
    assert {group: hosts_of(data, group) for group in expected_groups} == expected_groups
    variables = data.hosts["shop/web"].get_vars()
    release = variables["helm_release"]
    assert {key: release[key] for key in ("name", "namespace", "cluster", "revision", "status", "updated")} == {
        "name": "web", "namespace": "shop", "cluster": "default", "revision": 4, "status": "failed",
        "updated": "2026-01-01T10:00:00Z"}
    assert isinstance(release["age_seconds"], int) and release["age_seconds"] > 0
    assert data.hosts["shop/cart"].get_vars()["helm_release"]["age_seconds"] is None  # no time known
    assert variables["ansible_connection"] == "local" and variables["matih_helm_connection"] == {}


def test_filters_apply_to_what_was_found(inventory):
    data = inventory({"exclude_namespaces": ["kube-system"], "statuses": ["failed", "pending"], "name_regex": "^(web|cart)$"},
                     {"default": FLEET})[0]
    assert sorted(data.hosts) == ["shop/cart", "shop/web"]
    data = inventory({"namespaces": ["billing"]}, {"default": FLEET})[0]
    assert sorted(data.hosts) == ["billing/api"]


def test_two_clusters_name_hosts_with_the_cluster(inventory, tmp_path):
    config = {"clusters": [{"name": "eu-1", "kubeconfig": str(tmp_path / "eu"), "context": "eu"},
                           {"name": "us", "host": "https://us.example.com:6443", "ca_cert": "/etc/ca.pem",
                            "validate_certs": True}],
              "namespaces": ["shop", "billing"]}
    data, _plugin, calls = inventory(config, {"eu-1": FLEET, "us": found(("shop", "web", 1, "deployed", ""))})
    assert [(call[0]["name"], call[1]) for call in calls] == [("eu-1", ["shop", "billing"]), ("us", ["shop", "billing"])]
    assert sorted(data.hosts) == ["eu-1/billing/api", "eu-1/shop/cart", "eu-1/shop/web", "us/shop/web"]
    assert hosts_of(data, "helm_cluster_eu_1") == ["eu-1/billing/api", "eu-1/shop/cart", "eu-1/shop/web"]
    assert hosts_of(data, "helm_namespace_shop") == ["eu-1/shop/cart", "eu-1/shop/web", "us/shop/web"]
    assert data.hosts["us/shop/web"].get_vars()["matih_helm_connection"] == {
        "host": "https://us.example.com:6443", "ca_cert": "/etc/ca.pem", "validate_certs": True}
    assert data.hosts["eu-1/shop/web"].get_vars()["matih_helm_connection"] == {"kubeconfig": str(tmp_path / "eu"),
                                                                               "context": "eu"}
    assert data.hosts["us/shop/web"].get_vars()["helm_release"]["cluster"] == "us"


@pytest.mark.parametrize("config, message", [
    ({"clusters": [{"host": "https://a"}]}, "clusters[0] has no name"),
    ({"clusters": [{"name": "a"}, {"name": "a"}]}, "two clusters are named 'a'"),
    ({"clusters": [{"name": "a", "token": "x"}]}, "unknown option 'token'"),
    ({"clusters": [{"name": "a", "context": "c", "ca_cert": "/ca"}]}, "sets context with ca_cert"),
    ({"clusters": ["a"]}, "clusters[0] is not a mapping"),
    ({"clusters": [{"name": "a", "validate_certs": "maybe"}]}, "not a boolean"),
    ({"statuses": ["broken"]}, "Invalid value"),  # ansible-core checks the documented choices (wording differs by version)
    ({"name_regex": "web("}, "not a valid regular expression"),
    ({"clusters": [{"name": "a", "host": "https://a", "api_key": TOKEN}]}, "api_key is plain text"),
    ({"clusters": [{"name": "eu/1", "host": "https://a"}]}, "is named 'eu/1'"),
    ({"clusters": [{"name": "a", "kubeconfig": {"users": [{"name": "u", "user": {"token": TOKEN}}]}}]},
     "kubeconfig is a mapping (an inline kubeconfig); in an inventory source it must be the path"),
])
def test_option_problems_fail_naming_the_fix(inventory, config, message):
    with pytest.raises(AnsibleError) as raised:
        inventory(config)
    assert message in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_plain_text_api_key_is_refused_with_the_fixes(inventory):
    with pytest.raises(AnsibleError) as raised:
        inventory({"clusters": [{"name": "a", "host": "https://a", "api_key": TOKEN}]})
    assert "ansible-vault encrypt_string" in str(raised.value) and "lookup('ansible.builtin.env'" in str(raised.value)


def test_vault_encrypted_api_key_is_used_and_handed_over_encrypted(inventory, monkeypatch):
    secret = VaultSecret(b"vault password")
    vaulttext = VaultLib([("default", secret)]).encrypt(TOKEN).decode()
    config = "plugin: matih.helm.helm_releases\nclusters:\n  - name: a\n    host: https://a\n    api_key: !vault |\n%s\n" % (
        "\n".join("      " + line for line in vaulttext.splitlines()))
    loader = DataLoader()
    loader.set_vault_secrets([("default", secret)])
    if VaultSecretsContext is not None:  # what ansible-inventory's CLI does with --vault-password-file
        monkeypatch.setattr(VaultSecretsContext, "_current", VaultSecretsContext([("default", secret)]))
    data, _plugin, calls = inventory(config, {"a": FLEET}, loader=loader)
    assert calls[0][0]["options"]["api_key"] == TOKEN  # the discovery got the token
    handed = data.hosts["shop/web"].get_vars()["matih_helm_connection"]["api_key"]
    assert helm_releases.is_vault_encrypted(handed)  # the hosts get the encrypted value
    assert str(handed) == TOKEN  # which a play decrypts


def test_templated_api_key_is_rendered_for_the_discovery_only(inventory, monkeypatch):
    monkeypatch.setenv("MATIH_TEST_TOKEN", TOKEN)
    template = "{{ lookup('ansible.builtin.env', 'MATIH_TEST_TOKEN') }}"
    data, _plugin, calls = inventory({"clusters": [{"name": "a", "host": "https://a", "api_key": template}]}, {"a": FLEET})
    assert calls[0][0]["options"]["api_key"] == TOKEN
    assert data.hosts["shop/web"].get_vars()["matih_helm_connection"]["api_key"] == template


def test_default_cluster_reads_the_modules_environment(inventory, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://env.example.com")
    monkeypatch.setenv("K8S_AUTH_API_KEY", TOKEN)
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "no")
    data, _plugin, calls = inventory({}, {"default": FLEET})
    assert calls[0][0]["options"] == {"host": "https://env.example.com", "api_key": TOKEN, "validate_certs": False}
    assert data.hosts["shop/web"].get_vars()["matih_helm_connection"] == {}  # the play reads the same environment


PROBLEMS = [{"namespace": "billing", "error_kind": "access_denied", "message": "403: secrets is forbidden"}]


def test_unreadable_namespace_and_cluster_warn_and_the_rest_is_listed(inventory, monkeypatch):
    warnings = []
    monkeypatch.setattr(helm_releases.display, "warning", warnings.append)
    config = {"clusters": [{"name": "a", "host": "https://a"}, {"name": "b", "host": "https://b"}]}
    discovered = {"a": found(("shop", "web", 1, "failed", ""), problems=PROBLEMS),
                  "b": dict(found(), problems=[{"namespace": None, "error_kind": "cluster_unreachable", "message": "refused"}])}
    data = inventory(config, discovered)[0]
    assert sorted(data.hosts) == ["a/shop/web"]
    assert hosts_of(data, "helm_cluster_b") == []
    assert sorted(warnings) == [
        "matih.helm.helm_releases: cluster a, namespace billing cannot be read (access_denied), so its releases are not in "
        "the inventory: 403: secrets is forbidden",
        "matih.helm.helm_releases: cluster b cannot be read (cluster_unreachable), so its releases are not in the "
        "inventory: refused"]


def test_strict_fails_on_an_unreadable_namespace(inventory):
    with pytest.raises(AnsibleError) as raised:
        inventory({"strict": True}, {"default": found(("shop", "web", 1, "failed", ""), problems=PROBLEMS)})
    assert "namespace billing cannot be read (access_denied)" in str(raised.value) and "strict: false" in str(raised.value)


def test_constructed_compose_groups_and_keyed_groups(inventory):
    config = {"compose": {"tenant": "helm_release.namespace | upper"},
              "groups": {"needs_pager": "helm_release.status == 'failed'"},
              "keyed_groups": [{"key": "helm_release.status", "prefix": "status"}]}
    data = inventory(config, {"default": FLEET})[0]
    assert data.hosts["shop/web"].get_vars()["tenant"] == "SHOP"
    assert hosts_of(data, "needs_pager") == ["shop/web"]
    assert hosts_of(data, "status_pending_upgrade") == ["shop/cart"]


def test_strict_fails_on_a_broken_compose(inventory):
    config = {"strict": True, "compose": {"x": "helm_release.no_such_field.deeper"}}
    with pytest.raises(AnsibleError):
        inventory(config, {"default": FLEET})
    assert "x" not in inventory(dict(config, strict=False), {"default": FLEET})[0].hosts["shop/web"].get_vars()


def test_include_chart_fields_reach_the_host(inventory):
    chart = found(("shop", "web", 4, "failed", ""))
    chart["releases"][0].update(chart="demo-1.2.0", chart_name="demo", chart_version="1.2.0", app_version="2.1")
    data, _plugin, calls = inventory({"include_chart": True}, {"default": chart})
    assert calls[0][2] is True
    release = data.hosts["shop/web"].get_vars()["helm_release"]
    assert (release["chart"], release["chart_name"], release["chart_version"], release["app_version"]) == (
        "demo-1.2.0", "demo", "1.2.0", "2.1")


def test_cache_keeps_the_discovery(inventory, tmp_path):
    config = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    plugin = inventory_loader.get("matih.helm.helm_releases")
    data, plugin, calls = inventory(config, {"default": FLEET}, cache=True, plugin=plugin)
    assert len(calls) == 1 and len(data.hosts) == 4
    # the cache answers: nothing discovered, the same hosts, and a filter applies to the cached releases
    data, plugin, calls = inventory(dict(config, statuses=["failed"]), {"default": found()}, cache=True, plugin=plugin)
    assert len(calls) == 1 and sorted(data.hosts) == ["shop/web"]
    # cache=False (ansible-inventory --flush-cache, meta: refresh_inventory): discovered again, and stored
    data, plugin, calls = inventory(config, {"default": found(("shop", "web", 5, "deployed", ""))}, cache=False, plugin=plugin)
    assert len(calls) == 2 and sorted(data.hosts) == ["shop/web"]
    data, plugin, calls = inventory(config, {"default": FLEET}, cache=True, plugin=plugin)
    assert len(calls) == 2 and data.hosts["shop/web"].get_vars()["helm_release"]["revision"] == 5


def test_a_template_that_renders_no_token_is_refused(inventory, monkeypatch):
    monkeypatch.delenv("MATIH_TEST_NO_TOKEN", raising=False)
    template = "{{ lookup('ansible.builtin.env', 'MATIH_TEST_NO_TOKEN') }}"
    with pytest.raises(AnsibleError) as raised:
        inventory({"clusters": [{"name": "a", "host": "https://a", "api_key": template}]}, {"a": FLEET})
    assert "renders empty" in str(raised.value)


def test_named_clusters_take_the_modules_environment_fallbacks(inventory, monkeypatch, tmp_path):
    """The modules fill an option a host does not set from K8S_AUTH_* when the play runs; the discovery must reach
    the same cluster, so it does the same (the hosts keep only what the source set)."""
    for variable in helm_releases.ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("K8S_AUTH_HOST", "https://from-the-credential:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", TOKEN)
    config = {"clusters": [{"name": "eu", "kubeconfig": str(tmp_path / "eu")},
                           {"name": "us", "host": "https://us:6443", "api_key": "{{ 'us-token' }}"}]}
    data, _plugin, calls = inventory(config, {"eu": FLEET, "us": FLEET})
    options = {call[0]["name"]: call[0]["options"] for call in calls}
    assert options["eu"] == {"kubeconfig": str(tmp_path / "eu"), "host": "https://from-the-credential:6443", "api_key": TOKEN}
    assert options["us"] == {"host": "https://us:6443", "api_key": "us-token"}  # what a cluster sets wins
    assert data.hosts["eu/shop/web"].get_vars()["matih_helm_connection"] == {"kubeconfig": str(tmp_path / "eu")}
    assert TOKEN not in json.dumps({name: host.get_vars()["matih_helm_connection"] for name, host in data.hosts.items()})


def test_no_cluster_readable_fails_even_without_strict(inventory):
    unreachable = dict(found(), problems=[{"namespace": None, "error_kind": "cluster_unreachable", "message": "refused"}])
    with pytest.raises(AnsibleError) as raised:
        inventory({"clusters": [{"name": "a", "host": "https://a"}, {"name": "b", "host": "https://b"}]},
                  {"a": unreachable, "b": unreachable})
    assert "no cluster could be read" in str(raised.value) and "cluster b cannot be read (cluster_unreachable)" in str(raised.value)
    every_namespace_denied = dict(found(), problems=PROBLEMS, scope="namespaces")
    with pytest.raises(AnsibleError):
        inventory({"namespaces": ["billing"]}, {"default": every_namespace_denied})


def test_cluster_releases_counts_before_the_filters(inventory):
    data = inventory({"statuses": ["failed"]}, {"default": dict(FLEET, total=4)})[0]
    assert sorted(data.hosts) == ["shop/web"]
    assert data.hosts["shop/web"].get_vars()["helm_release"]["cluster_releases"] == 4


def test_the_cache_key_follows_the_options_and_keeps_no_failure(inventory, tmp_path):
    config = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    plugin = inventory_loader.get("matih.helm.helm_releases")
    calls = inventory(config, {"default": FLEET}, plugin=plugin)[2]
    assert len(calls) == 1
    calls = inventory(dict(config, namespaces=["shop"]), {"default": FLEET}, plugin=plugin)[2]
    assert len(calls) == 2  # other namespaces: another discovery, not the cache
    calls = inventory(dict(config, include_chart=True), {"default": FLEET}, plugin=plugin)[2]
    assert len(calls) == 3
    partly = found(("shop", "web", 1, "failed", ""), problems=[{"namespace": None, "error_kind": "throttled", "message": "429"}])
    two = {"clusters": [{"name": "a", "host": "https://a"}, {"name": "b", "host": "https://b"}]}
    calls = inventory(dict(config, **two), {"a": FLEET, "b": partly}, plugin=plugin)[2]
    calls = inventory(dict(config, **two), {"a": FLEET, "b": FLEET}, plugin=plugin)[2]
    assert len(calls) == 3 + 2 + 2  # the discovery with an unreadable cluster was not kept

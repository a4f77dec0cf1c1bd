# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: helm_releases
short_description: Helm releases of one or more Kubernetes clusters as inventory hosts
version_added: 0.1.0
description:
  - Makes every Helm release of one or more clusters an inventory host, grouped by status, namespace and cluster, so
    that a play, an AWX Limit, job slicing and "relaunch on failed hosts" work on releases.
  - "Reads the file named C(*.helm_releases.yml) or C(*.helm_releases.yaml) given as the inventory source; the file
    starts with C(plugin: matih.helm.helm_releases)."
  - The discovery costs one request per cluster, whatever the number of releases and namespaces. It is one
    metadata-only LIST of Helm's release Secrets (label C(owner=helm)) in every namespace, not paged (about 0.4 KB
    an item, so 10,000 revisions are one answer of about 4 MB), whose labels carry each revision's release name,
    status and revision number; no release record is downloaded. When the identity may
    not list Secrets cluster-wide and O(namespaces) is set, each of O(namespaces) is listed instead (one request
    each).
  - Each host is a release, as its latest revision (the highest revision number stored) describes it; its status
    is that revision's status, so a release whose upgrade failed and that was rolled back since is C(deployed).
  - A namespace or a cluster that cannot be read is reported with a warning and the other releases are still
    listed, unless O(strict) is V(true), which fails the inventory with the error. When no cluster can be read at
    all, the inventory fails whatever O(strict) says, so that an outage or an expired token never looks like a
    cluster without releases (an AWX inventory source that overwrites would drop every host and its history).
  - Reads Helm's default Secrets storage driver only (not C(HELM_DRIVER=configmap) or C(sql)).
  - The connection to each cluster follows the modules' rules (client-go's kubeconfig loading, as in
    M(matih.helm.helm_release_drift)); a kubeconfig that only Helm can use (an C(auth-provider), a username and
    password) makes that cluster unreadable here.
options:
  plugin:
    description: The name of this plugin; it marks the file as this plugin's source.
    required: true
    type: str
    choices: [ matih.helm.helm_releases ]
  clusters:
    description:
      - The clusters to read, each with a O(clusters[].name) and the modules' connection options.
      - When empty, one cluster named C(default) connected as the modules connect when given no connection options
        (E(K8S_AUTH_KUBECONFIG), E(K8S_AUTH_CONTEXT), E(K8S_AUTH_HOST), E(K8S_AUTH_API_KEY), E(K8S_AUTH_SSL_CA_CERT),
        E(K8S_AUTH_VERIFY_SSL), then E(KUBECONFIG) or C(~/.kube/config)). Its hosts get an empty
        C(matih_helm_connection), so the modules connect through the same environment when the play runs.
      - With more than one cluster, host names are C(cluster/namespace/release) instead of C(namespace/release).
      - An option a cluster does not set is taken from its E(K8S_AUTH_*) variable when set, for the discovery as
        the modules do when the play runs, so that both reach the same cluster.
      - String values may be Jinja2 templates (for example a lookup of an environment variable); they are rendered
        for the discovery, and O(clusters[].api_key) is handed to the hosts unrendered.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The cluster's name, in host names, in C(helm_release.cluster) and in its group C(helm_cluster_<name>).
          - Unique among O(clusters); letters, digits, C(-), C(_) and C(.), starting with a letter or digit.
        type: str
        required: true
      kubeconfig:
        description:
          - Path of a kubeconfig file on the controller (the modules' O(matih.helm.helm_release_list#module:kubeconfig)).
          - A path only; an inline kubeconfig holds credentials that every host's variables would show.
        type: path
        aliases: [ kubeconfig_path ]
      context:
        description: Name of the kubeconfig context to use. Mutually exclusive with O(clusters[].ca_cert) and O(clusters[].validate_certs), as in the modules.
        type: str
        aliases: [ kube_context ]
      host:
        description: URL of the Kubernetes API server; it replaces the kubeconfig's cluster server.
        type: str
      api_key:
        description:
          - Bearer token for the API server.
          - It must not be plain text, which C(ansible-inventory --list), AWX's inventory and every host's variables
            would show. Give it vault-encrypted (C(ansible-vault encrypt_string --name api_key)), which the hosts
            get as the encrypted value, or as a template that reads it where it is kept (for example
            C("{{ lookup('ansible.builtin.env', 'CLUSTER_B_TOKEN') }}")), which the hosts get unrendered. A
            plain-text value fails the inventory with that advice, and so does a template that renders empty.
        type: str
      ca_cert:
        description: Path of the certificate authority file that signed the API server's certificate.
        type: path
        aliases: [ ssl_ca_cert ]
      validate_certs:
        description: Whether to verify the API server's TLS certificate; V(false) only on test clusters.
        type: bool
        aliases: [ verify_ssl ]
  namespaces:
    description:
      - Only the releases of these namespaces. Empty means every namespace.
      - The discovery still lists every namespace in one request when the identity may; when it may not list
        Secrets cluster-wide, each of these namespaces is listed on its own, and one that cannot be read is
        reported while the others are listed.
    type: list
    elements: str
    default: []
  exclude_namespaces:
    description: Leave out the releases of these namespaces.
    type: list
    elements: str
    default: []
  statuses:
    description:
      - Only releases whose latest revision has one of these statuses (Helm's words). Empty means every status.
      - V(pending) stands for every C(pending-*) status.
    type: list
    elements: str
    default: []
    choices: [ unknown, deployed, uninstalled, superseded, failed, uninstalling, pending, pending-install,
               pending-upgrade, pending-rollback ]
  name_regex:
    description:
      - Only releases whose name matches this regular expression (Python syntax), searched anywhere in the name;
        anchor it with C(^) and C($) for an exact match.
    type: str
  include_chart:
    description:
      - Add the chart (C(name-version)), C(chart_name), C(chart_version) and C(app_version) of the latest revision
        to C(helm_release).
      - The labels do not carry them, so this costs one more request per release listed (after the filters), a GET of
        its latest release record, each the whole record (the rendered manifest, the chart's templates and the
        values, gzipped; typically tens to hundreds of KB). Leave it off for large fleets, or enable the cache.
      - Needs the right to get Secrets in the releases' namespaces. A record that cannot be read is reported with a
        warning (or fails the inventory with O(strict)) and that host has no chart fields.
    type: bool
    default: false
extends_documentation_fragment:
  - constructed
  - inventory_cache
notes:
  - "Each host has these variables: C(helm_release), a dictionary with the release's C(name), C(namespace),
    C(cluster), latest C(revision), its C(status), C(updated) (when the latest revision last changed, ISO 8601 in
    UTC), C(age_seconds) (seconds since then, when the inventory was built), C(cluster_releases) (how many releases
    the discovery found in that cluster, before O(namespaces), O(statuses) and the other filters: the fleet's
    percentage brake counts against it, whatever a Limit or a job slice leaves), and the chart fields with
    O(include_chart); C(ansible_connection=local) and C(ansible_python_interpreter={{ ansible_playbook_python }}),
    because the modules run on the controller and talk to the cluster; C(matih_helm_connection), the cluster's
    connection options for the modules, meant for C(module_defaults: {group/matih.helm.helm: '{{ matih_helm_connection
    }}'})."
  - "Groups: C(helm_<status>) for each status seen (C(helm_deployed), C(helm_failed), C(helm_pending_upgrade)...);
    C(helm_unhealthy), the releases whose status is C(failed) or C(pending-*) (always defined, possibly empty);
    C(helm_namespace_<namespace>) and C(helm_cluster_<cluster>), with characters other than letters, digits and
    C(_) replaced by C(_). Then O(compose), O(groups) and O(keyed_groups)."
  - The cache, when enabled, keeps the discovered releases of each cluster under a key that names the source file,
    the clusters' connection options (not the token), O(namespaces) and O(include_chart); without O(include_chart)
    a change of O(statuses), O(exclude_namespaces) or O(name_regex) applies to cached data without a request. A
    discovery in which a cluster could not be read is not cached.
seealso:
  - module: matih.helm.helm_release_list
  - module: matih.helm.helm_release_recover
author:
  - matih.helm maintainers (@matih-platform)
"""

EXAMPLES = r"""
# tenants.helm_releases.yml: the unhealthy releases of two clusters, with their charts
# (the smallest source, every release of the cluster of KUBECONFIG or K8S_AUTH_*, is the one line
#  "plugin: matih.helm.helm_releases"; see it with ansible-inventory -i prod.helm_releases.yml --graph)
plugin: matih.helm.helm_releases
clusters:
  - name: eu
    kubeconfig: ~/.kube/eu.yaml
    context: eu-admin
  - name: us
    host: https://us.k8s.example.com:6443
    ca_cert: /etc/pki/us-ca.pem
    # read from the environment at discovery and again when a play runs; never printed
    api_key: "{{ lookup('ansible.builtin.env', 'US_CLUSTER_TOKEN') }}"
exclude_namespaces: [kube-system]
statuses: [failed, pending]
include_chart: true
keyed_groups:
  - key: helm_release.chart_name
    prefix: chart
compose:
  stale: helm_release.age_seconds > 3600
groups:
  stuck_for_an_hour: helm_release.status.startswith('pending') and helm_release.age_seconds > 3600
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /tmp/helm-releases-cache
cache_timeout: 300

# A play on those hosts (ansible-playbook -i tenants.helm_releases.yml recover.yml --limit 'eu/shop/*'):
#
# - hosts: helm_unhealthy
#   gather_facts: false
#   module_defaults:
#     group/matih.helm.helm: "{{ matih_helm_connection }}"
#   tasks:
#     - matih.helm.helm_release_recover:
#         name: "{{ helm_release.name }}"
#         release_namespace: "{{ helm_release.namespace }}"
"""

import datetime
import hashlib
import json
import os
import re

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.matih.helm.plugins.module_utils.connection import Connection
from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError
from ansible_collections.matih.helm.plugins.module_utils.helm_client import run_concurrently
from ansible_collections.matih.helm.plugins.module_utils.kube_client import KubeClient
from ansible_collections.matih.helm.plugins.module_utils.release_inventory import (
    UNHEALTHY, Release, age_seconds, discover, filter_problem, latest_revisions, read_charts, select_rows,
)

try:  # ansible-core 2.19 and later: vault-encrypted values are EncryptedString or carry a VaultedValue tag
    from ansible.parsing.vault import VaultHelper
except ImportError:  # ansible-core 2.16 to 2.18
    VaultHelper = None
try:  # ansible-core 2.16 to 2.18; a deprecated name for the same idea later
    from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode
except ImportError:
    AnsibleVaultEncryptedUnicode = None
try:  # ansible-core 2.19 and later render only the templates marked trusted
    from ansible.template import trust_as_template
except ImportError:  # earlier versions render every template of the inventory
    def trust_as_template(value):
        return value

display = Display()

CONNECTION_VARIABLE = "matih_helm_connection"
DEFAULT_CLUSTER = "default"
# The connection options a cluster takes (the modules' names), and their aliases
CLUSTER_OPTIONS = ("kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs")
ALIASES = {"kubeconfig_path": "kubeconfig", "kube_context": "context", "ssl_ca_cert": "ca_cert", "verify_ssl": "validate_certs"}
# The modules' K8S_AUTH_* fallbacks (module_utils/args.py), for the default cluster
ENVIRONMENT = {"kubeconfig": "K8S_AUTH_KUBECONFIG", "context": "K8S_AUTH_CONTEXT", "host": "K8S_AUTH_HOST",
               "api_key": "K8S_AUTH_API_KEY", "ca_cert": "K8S_AUTH_SSL_CA_CERT", "validate_certs": "K8S_AUTH_VERIFY_SSL"}
# A cluster's name starts host names (cluster/namespace/release) and fleet overrides: the fleet's rule
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f")
USER_AGENT = "matih.helm/helm_releases-inventory"


def group_name(prefix, value):
    """``prefix`` + ``value`` with what is not a letter, digit or _ made _ (pending-upgrade: pending_upgrade)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", prefix + value)


def is_vault_encrypted(value):
    """Whether ``value`` came from a vault-encrypted YAML value (``!vault``), on any ansible-core since 2.16."""
    if VaultHelper is not None and VaultHelper.get_ciphertext(value, with_tags=False) is not None:
        return True
    return AnsibleVaultEncryptedUnicode is not None and isinstance(value, AnsibleVaultEncryptedUnicode)


def is_template(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _boolean(value, what):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise AnsibleParserError("%s is %r, not a boolean; set it to true or false" % (what, value))


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Helm releases as hosts: one metadata-only LIST of Helm's release Secrets per cluster."""

    NAME = "matih.helm.helm_releases"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            (".helm_releases.yml", ".helm_releases.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        clusters = self.clusters(path)
        statuses = list(self.get_option("statuses") or [])
        problem = filter_problem(statuses, self.get_option("name_regex"))
        if problem:
            raise AnsibleParserError("%s: %s" % (path, problem))

        namespaces = self.get_option("namespaces") or []
        cache_key = "%s_%s" % (self.get_cache_key(path), self.options_digest(clusters))
        use_cache = bool(self.get_option("cache"))
        discovered = None
        if use_cache and cache:
            try:
                discovered = self._cache[cache_key]
            except KeyError:
                discovered = None
        if discovered is None:
            discovered = self.discover_all(clusters)
            if use_cache and not any(unreadable(found, namespaces) for found in discovered.values()):
                self._cache[cache_key] = discovered  # a cluster that could not be read is asked again next time
        self.report(discovered)
        self.populate(clusters, discovered, datetime.datetime.now(datetime.timezone.utc))

    # --- options ------------------------------------------------------------------------------------

    def options_digest(self, clusters):
        """What the discovery depends on, apart from secrets: a change of clusters, namespaces or chart
        reading must not be answered from the cache."""
        described = {"clusters": [(cluster["name"], sorted((key, str(value)) for key, value in cluster["options"].items()
                                                           if key != "api_key")) for cluster in clusters],
                     "namespaces": sorted(self.get_option("namespaces") or []),
                     "include_chart": bool(self.get_option("include_chart"))}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode("utf-8")).hexdigest()[:16]

    def clusters(self, path):
        """[{name, options (for the discovery, rendered), host_options (for the hosts)}], checked."""
        given = self.get_option("clusters") or []
        if not given:
            return [self._environment_cluster()]
        found, names = [], set()
        for index, entry in enumerate(given):
            if not isinstance(entry, dict):
                raise AnsibleParserError("%s: clusters[%d] is not a mapping; each cluster is a mapping with a name and "
                                         "connection options" % (path, index))
            found.append(self._cluster(path, index, entry))
            if found[-1]["name"] in names:
                raise AnsibleParserError("%s: two clusters are named %r; give each a name of its own" % (
                    path, found[-1]["name"]))
            names.add(found[-1]["name"])
        return found

    @staticmethod
    def _environment_options():
        """The modules' K8S_AUTH_* fallbacks, as set in this environment."""
        options = {}
        for option, variable in ENVIRONMENT.items():
            if os.environ.get(variable):
                options[option] = os.environ[variable]
        if "validate_certs" in options:
            options["validate_certs"] = _boolean(options["validate_certs"], ENVIRONMENT["validate_certs"])
        return options

    def _environment_cluster(self):
        """The default cluster: the modules' K8S_AUTH_* fallbacks. Its hosts get no connection options: the
        modules read the same variables when the play runs."""
        return {"name": DEFAULT_CLUSTER, "options": self._environment_options(), "host_options": {}}

    def _cluster(self, path, index, entry):
        where = "%s: clusters[%d]" % (path, index)
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AnsibleParserError("%s has no name; give each cluster a name (it names its hosts and group)" % where)
        name = str(self._render(name, "%s name" % where))
        if not CLUSTER_NAME.match(name):
            raise AnsibleParserError("%s is named %r; a cluster name starts with a letter or digit and holds only letters, "
                                     "digits, -, _ and . (it starts host names: cluster/namespace/release)" % (where, name))
        where = "%s: cluster %s" % (path, name)
        raw = {}
        for key, value in entry.items():
            if key == "name":
                continue
            option = ALIASES.get(key, key)
            if option not in CLUSTER_OPTIONS:
                raise AnsibleParserError("%s has an unknown option %r; a cluster takes name and %s" % (
                    where, key, ", ".join(CLUSTER_OPTIONS)))
            if value is not None:
                raw[option] = value
        if "kubeconfig" in raw and not isinstance(raw["kubeconfig"], str):
            # (its content is never repeated: an inline kubeconfig holds credentials)
            what = "a mapping (an inline kubeconfig)" if isinstance(raw["kubeconfig"], dict) else "not a string"
            raise AnsibleParserError("%s: kubeconfig is %s; in an inventory source it must be the path of a kubeconfig "
                                     "file" % (where, what))
        if "context" in raw and ("ca_cert" in raw or "validate_certs" in raw):
            raise AnsibleParserError("%s sets context with %s; the context's cluster entry holds the CA and TLS "
                                     "settings, so the modules refuse this combination: drop one of them" % (
                                         where, " and ".join(key for key in ("ca_cert", "validate_certs") if key in raw)))
        options, host_options = {}, {}
        for option, value in raw.items():
            if option == "api_key":
                options[option] = self._secret(value, where)
                host_options[option] = value  # encrypted, or a template: what the hosts show is not the token
                continue
            rendered = self._render(value, "%s %s" % (where, option))
            if option in ("kubeconfig", "ca_cert"):
                rendered = os.path.expanduser(str(rendered))
            elif option == "validate_certs":
                rendered = _boolean(rendered, "%s validate_certs" % where)
            else:
                rendered = str(rendered)
            options[option] = host_options[option] = rendered
        # The modules fill an option the host does not set from its K8S_AUTH_* variable when the play runs
        # (an AWX credential sets them): the discovery does the same, so both reach the same cluster.
        for option, value in self._environment_options().items():
            options.setdefault(option, value)
        return {"name": name, "options": options, "host_options": host_options}

    def _render(self, value, what):
        if not is_template(value):
            return value
        try:
            return self.templar.template(value)
        except Exception as error:  # pylint: disable=broad-except  # any template error names the option
            raise AnsibleParserError("%s: the template cannot be rendered (%s); fix it" % (what, to_native(error)))

    def _secret(self, value, where):
        """The token in clear, for the discovery only; a plain-text token in the source is refused."""
        if is_vault_encrypted(value):
            try:
                return str(value)
            except Exception as error:  # pylint: disable=broad-except  # the vault's errors differ between versions
                raise AnsibleParserError(
                    "%s: api_key is vault-encrypted and cannot be decrypted (%s); give the vault password to "
                    "ansible-inventory (--vault-password-file or --vault-id)" % (where, to_native(error)))
        if is_template(value):
            token = self._render(value, "%s api_key" % where)
            if token is None or not str(token).strip():
                raise AnsibleParserError("%s: api_key's template renders empty (is the variable it reads set?); without "
                                         "a token the discovery would connect as whatever identity the kubeconfig "
                                         "has" % where)
            return str(token)
        raise AnsibleParserError(
            "%s: api_key is plain text in the inventory source, and ansible-inventory --list and every host's "
            "variables would show it; encrypt it (ansible-vault encrypt_string --name api_key), or read it where it "
            "is kept with a template such as \"{{ lookup('ansible.builtin.env', 'CLUSTER_TOKEN') }}\", or keep "
            "it in a kubeconfig file" % where)

    # --- discovery --------------------------------------------------------------------------------------

    def discover_all(self, clusters):
        """{cluster name: {releases: [...], problems: [...], requests, scope}}, every cluster at once; plain
        data, as the cache keeps it."""
        namespaces = list(self.get_option("namespaces") or [])
        include_chart = bool(self.get_option("include_chart"))
        results = run_concurrently(lambda cluster: self.discover_cluster(cluster, namespaces, include_chart), clusters)
        return dict((cluster["name"], result) for cluster, result in zip(clusters, results))

    def discover_cluster(self, cluster, namespaces, include_chart):
        """One cluster's releases (latest revisions; not filtered but by namespace when the LIST was per
        namespace), its problems, and the API requests made."""
        found = {"releases": [], "problems": [], "requests": 0, "scope": None}
        try:
            connection = Connection.from_params(cluster["options"], cluster["options"].get("kubeconfig"),
                                                dict(os.environ))
            client = KubeClient(connection.api_access(), user_agent=USER_AGENT)
        except KubeError as error:
            found["problems"].append(_problem(None, error.kind, error.message))
            return found
        with client:
            try:
                discovery = discover(client, namespaces)
            except KubeError as error:
                message = error.message
                if error.kind == "access_denied" and not namespaces:
                    message += ("; or set namespaces to the namespaces this identity may read, which the inventory then "
                                "lists one by one")
                found["problems"].append(_problem(None, error.kind, message))
                found["requests"] = client.requests
                return found
            found["scope"] = discovery.scope
            found["problems"] = [_problem(p.namespace, p.error_kind, p.message) for p in discovery.problems]
            releases = latest_revisions(discovery.items)
            found["total"] = len(releases)  # before the inventory's filters: the fleet's brakes count against it
            if include_chart:
                releases = self._filtered(releases)
                charts = read_charts(client, releases)
            found["releases"] = [release._asdict() for release in releases]
            if include_chart:
                for row in found["releases"]:
                    chart = charts.get((row["namespace"], row["name"]))
                    if isinstance(chart, dict):
                        row.update(chart)
                    elif chart is not None:
                        found["problems"].append(_problem(chart.namespace, chart.error_kind, chart.message,
                                                          row["name"]))
            found["requests"] = client.requests
        return found

    def _filtered(self, releases):
        return select_rows(releases, self.get_option("namespaces") or [], self.get_option("exclude_namespaces") or [],
                           self.get_option("statuses") or [], self.get_option("name_regex"))

    def report(self, discovered):
        """A warning per cluster or namespace that could not be read; with strict, an error naming them all."""
        messages = []
        for cluster_name in sorted(discovered):
            for problem in discovered[cluster_name]["problems"]:
                if problem.get("release"):
                    messages.append("cluster %s: the chart of release %s/%s cannot be read (%s), so its host has no "
                                    "chart fields: %s" % (cluster_name, problem["namespace"], problem["release"],
                                                          problem["error_kind"], problem["message"]))
                    continue
                where = "cluster %s" % cluster_name
                if problem.get("namespace"):
                    where += ", namespace %s" % problem["namespace"]
                messages.append("%s cannot be read (%s), so its releases are not in the inventory: %s" % (
                    where, problem["error_kind"], problem["message"]))
        namespaces = self.get_option("namespaces") or []
        if discovered and all(unreadable(found, namespaces) for found in discovered.values()):
            # An empty inventory that looks fine would let AWX (overwrite) drop every host and its job history
            raise AnsibleError("matih.helm.helm_releases: no cluster could be read, so there is no inventory: %s; fix the "
                               "connection or the credentials" % "; ".join(messages))
        if messages and self.get_option("strict"):
            raise AnsibleError("matih.helm.helm_releases (strict): %s; fix the access, or set strict: false to list "
                               "the rest" % "; ".join(messages))
        for message in messages:
            display.warning("matih.helm.helm_releases: %s" % message)

    # --- hosts and groups -------------------------------------------------------------------------------

    def populate(self, clusters, discovered, now):
        strict = self.get_option("strict")
        several = len(clusters) > 1
        self.inventory.add_group("helm_unhealthy")
        for cluster in clusters:
            cluster_group = self.inventory.add_group(group_name("helm_cluster_", cluster["name"]))
            found = discovered.get(cluster["name"]) or {"releases": []}
            rows = [Release(*(row[field] for field in Release._fields)) for row in found["releases"]]
            wanted = set(release.key() for release in self._filtered(rows))
            for row in found["releases"]:
                if (row["namespace"], row["name"]) not in wanted:
                    continue
                host = "%s/%s" % (row["namespace"], row["name"])
                if several:
                    host = "%s/%s" % (cluster["name"], host)
                self.add_release(host, row, cluster, cluster_group, now, strict, found.get("total", len(found["releases"])))

    def add_release(self, host, row, cluster, cluster_group, now, strict, cluster_total):  # pylint: disable=too-many-arguments
        release = {"name": row["name"], "namespace": row["namespace"], "cluster": cluster["name"],
                   "revision": row["revision"], "status": row["status"], "updated": row["updated"],
                   "age_seconds": age_seconds(row["updated"], now), "cluster_releases": cluster_total}
        for field in ("chart", "chart_name", "chart_version", "app_version"):
            if field in row:
                release[field] = row[field]
        self.inventory.add_host(host, group=cluster_group)
        self.inventory.add_child(self.inventory.add_group(group_name("helm_", row["status"])), host)
        self.inventory.add_child(self.inventory.add_group(group_name("helm_namespace_", row["namespace"])), host)
        if row["status"] in UNHEALTHY:
            self.inventory.add_child("helm_unhealthy", host)
        self.inventory.set_variable(host, "helm_release", release)
        self.inventory.set_variable(host, "ansible_connection", "local")
        self.inventory.set_variable(host, "ansible_python_interpreter", trust_as_template("{{ ansible_playbook_python }}"))
        self.inventory.set_variable(host, CONNECTION_VARIABLE, dict(cluster["host_options"]))
        variables = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)


def unreadable(found, namespaces):
    """Whether a cluster's discovery read nothing: the cluster failed, or every namespace it was given did."""
    problems = [problem for problem in found["problems"] if not problem.get("release")]
    if any(problem["namespace"] is None for problem in problems):
        return True
    return bool(namespaces) and set(namespaces) <= set(problem["namespace"] for problem in problems)


def _problem(namespace, error_kind, message, release=None):
    problem = {"namespace": namespace, "error_kind": error_kind, "message": message}
    if release:
        problem["release"] = release
    return problem

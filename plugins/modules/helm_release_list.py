#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_list
short_description: List Helm releases across namespaces, filtered by status and name
version_added: 0.1.0
description:
  - Lists the Helm releases of some or all namespaces with the status of their latest revision,
    for example every C(failed) or C(pending-*) release of a set of tenant namespaces.
  - Lists from the labels of Helm's release Secrets when it can, which costs one request per cluster whatever the
    number of releases and namespaces. The labels carry each revision's release name, status and number, so one
    metadata-only LIST of the Secrets labelled C(owner=helm) in every namespace finds every release and its latest
    revision without downloading any release record (C(helm list) downloads and decodes every revision of every
    release). When the credentials may not list Secrets cluster-wide and O(namespaces) is set, each namespace is
    listed instead (one request each, at once), and one that cannot be read is reported in RV(problems) while the
    others are listed. The chart fields of each release returned cost one GET of its latest release record (the
    whole record, tens to hundreds of KB), at once; a release that is not returned costs nothing more.
  - Lists through Helm instead, one C(helm list) per namespace named in O(namespaces), concurrently, or a single
    C(helm list --all-namespaces) when O(namespaces) is empty (never one per release), when the records cannot be
    read from the API - E(HELM_DRIVER) other than C(secret), a kubeconfig only Helm supports (such as an
    C(auth-provider)), or E(MATIH_HELM_READS=helm). RV(discovery) says which way was taken.
  - Releases in every status are listed, also with Helm 3, which hides pending, superseded and
    uninstalled releases unless asked; a release whose latest revision is C(pending-upgrade)
    is therefore never missed.
  - Statuses are those of each release's latest revision, so a release whose upgrade failed
    yesterday and that was rolled back since is C(deployed), not C(failed).
  - With V(drifted) among O(statuses), the deployed releases are also checked for drift, as
    M(matih.helm.helm_release_drift) checks one release (whether the objects of their deployed revision
    still match the live ones). The cost grows with the kinds and namespaces, not with the releases. It
    is one LIST of the deployed release records per namespace (one for all namespaces when
    O(namespaces) is empty) and one read per kind and namespace shared by all releases, plus a
    server-side apply dry run for each object the comparison flags. RV(drift_scan) counts the requests.
  - Read-only; it never changes a release.
options:
  namespaces:
    description:
      - Namespaces to list releases from.
      - An empty list means all namespaces.
      - Each is validated as a Kubernetes namespace name before Helm runs.
      - From the API, the releases of every namespace are listed in one request when the credentials may list
        Secrets cluster-wide; otherwise each named namespace is listed on its own, so rights on those namespaces
        suffice, and a namespace that cannot be read is reported in RV(problems) (the task fails only when none
        can be read). An empty list needs the right to list Secrets cluster-wide.
      - Through Helm, each named namespace is listed with its own C(helm list) call (run concurrently), so
        rights on those namespaces suffice and a broken release record in another namespace
        cannot fail the listing. An empty list makes one C(helm list --all-namespaces) call, which
        needs permission to list Secrets cluster-wide (or ConfigMaps, with Helm's ConfigMap
        storage driver). Either way the number of requests or Helm calls does not grow with the number of
        releases.
    type: list
    elements: str
    default: []
  statuses:
    description:
      - Only releases whose latest revision has one of these statuses (Helm's words).
      - V(pending) stands for every C(pending-*) status (C(pending-install), C(pending-upgrade),
        C(pending-rollback)).
      - V(drifted) is not one of Helm's statuses. It selects the C(deployed) releases whose live objects no longer
        match their revision (missing or modified objects), and checks the drift of every deployed release listed.
        It reads Helm's records and the live objects from the Kubernetes API (the collection's own client), so it
        needs Helm's Secret storage driver and a kubeconfig that client supports, and the credentials must be
        allowed to list Secrets and read each kind the charts create, in the namespaces scanned. Each release
        listed with C(deployed) then carries RV(releases[].drifted) and RV(releases[].drift).
      - A deployed release whose drift cannot be checked (a kind of its chart the credentials may not read, its
        record undecodable, its namespace's records refused) is returned too, with RV(releases[].error_kind) and
        RV(releases[].msg) and C(drifted) null, and reported in RV(problems); the other releases are scanned.
      - An empty list means every status.
    type: list
    elements: str
    choices:
      - unknown
      - deployed
      - uninstalled
      - superseded
      - failed
      - uninstalling
      - pending
      - pending-install
      - pending-upgrade
      - pending-rollback
      - drifted
    default: []
  drift_ignore_fields:
    description:
      - Fields that are not drift, per kind, as O(matih.helm.helm_release_drift#module:ignore_fields) takes them, for
        example C(Deployment) with C([spec.replicas]) where an autoscaler owns the replicas.
      - Only with V(drifted) among O(statuses).
    type: dict
    default: {}
  name_regex:
    description:
      - Only releases whose name matches this regular expression (Python syntax), searched
        anywhere in the name; anchor it with C(^) and C($) for an exact match.
      - The expression is checked before Helm runs and matched by the module, not by Helm's
        C(--filter), whose Go syntax differs.
      - The alias C(name) is deprecated and will be removed in 1.0.0; in the other modules C(name) is one
        release's exact name, not a pattern.
    type: str
    aliases: [ name ]
  include_chart:
    description:
      - Fill the chart fields (RV(releases[].chart), RV(releases[].chart_name), RV(releases[].chart_version),
        RV(releases[].app_version)) of each release returned.
      - From the API they cost one GET of the release's latest record each (the whole record, tens to hundreds of
        KB), so turn this off when only names, statuses and revisions matter, as the fleet's discovery does. Off,
        the chart fields are null, except where they came at no cost (C(helm list) prints them, and the drift scan
        reads the deployed records anyway).
    type: bool
    default: true
extends_documentation_fragment:
  - matih.helm.connection
  - matih.helm.attributes.check_mode_read_only
  - matih.helm.attributes.platform
  - matih.helm.attributes.action_group
seealso:
  - module: matih.helm.helm_release_history
  - module: matih.helm.helm_release_rollback
  - module: kubernetes.core.helm_info
  - name: helm list
    description: Helm's documentation of the command this module runs.
    link: https://helm.sh/docs/helm/helm_list/
author:
  - matih.helm maintainers (@matih-platform)
"""

EXAMPLES = r"""
- name: List every release of every namespace
  matih.helm.helm_release_list:
  register: everything

- name: Show how many releases the cluster holds
  ansible.builtin.debug:
    msg: "{{ everything.releases | length }} releases in {{ everything.releases | map(attribute='namespace') | unique | length }} namespaces"

- name: List the failed and pending releases of two tenants, connection set once for the collection
  module_defaults:
    group/matih.helm.helm:
      kubeconfig: "{{ cluster_kubeconfig | default(omit) }}"
      context: "{{ cluster_context | default(omit) }}"
  block:
    - name: List the unhealthy releases of the shop and billing namespaces
      matih.helm.helm_release_list:
        namespaces:
          - shop
          - billing
        statuses:
          - failed
          - pending
      register: unhealthy

    - name: Name each unhealthy release
      ansible.builtin.debug:
        msg: "{{ item.namespace }}/{{ item.name }} is {{ item.status }} at revision {{ item.revision }} ({{ item.chart }})"
      loop: "{{ unhealthy.releases }}"
      loop_control:
        label: "{{ item.namespace }}/{{ item.name }}"

- name: Find the releases of the shop namespace that failed, or whose objects drifted from their deployed revision
  matih.helm.helm_release_list:
    namespaces: [shop]
    statuses: [failed, drifted]
    drift_ignore_fields:
      Deployment: [spec.replicas]
  register: to_repair

- name: Name what drifted, and what the scan cost
  ansible.builtin.debug:
    msg: >-
      Drifted: {{ to_repair.releases | selectattr('drifted', 'defined') | selectattr('drifted') | map(attribute='name') | join(', ') or 'none' }}
      ({{ to_repair.drift_scan.releases }} deployed release(s) checked with {{ to_repair.drift_scan.api_requests }} API requests)

- name: Find the deployed releases whose name starts with web in the shop namespace
  matih.helm.helm_release_list:
    namespaces: [shop]
    statuses: [deployed]
    name_regex: "^web"
  register: web_releases

- name: Count the failed releases of the whole cluster in one request, without reading any release record
  matih.helm.helm_release_list:
    statuses: [failed]
    include_chart: false
  register: failed_anywhere
"""

RETURN = r"""
msg:
  description: What went wrong and what to check.
  returned: failure
  type: str
  sample: >-
    The Kubernetes API server could not be reached; check kubeconfig, context, host and network
    (helm list exited 1: Error: Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": dial tcp
    10.0.0.1:6443: connect: connection refused)
releases:
  description:
    - The matching releases, sorted by namespace, then name, each as its latest revision shows it.
    - Empty when nothing matches.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Release name.
      type: str
      sample: web
    namespace:
      description: Namespace of the release.
      type: str
      sample: shop
    revision:
      description: Number of the latest revision.
      type: int
      sample: 4
    updated:
      description:
        - When the latest revision was last updated, ISO 8601 in UTC with microseconds; null if Helm recorded no time.
        - Listed from the API, it is when Helm last wrote the revision's record (its C(modifiedAt) label, Helm 3.13 and
          later, else when the record was created), in whole seconds; through Helm, the revision's C(last_deployed).
      type: str
      sample: "2025-01-31T10:00:00.123456Z"
    status:
      description: Helm's status word for the latest revision.
      type: str
      choices: [unknown, deployed, uninstalled, superseded, failed, uninstalling, pending-install, pending-upgrade, pending-rollback]
      sample: failed
    pending:
      description: Whether the status is C(pending-install), C(pending-upgrade) or C(pending-rollback).
      type: bool
      sample: false
    chart:
      description:
        - Chart name and version as Helm shows them.
        - Listed from the API, read from the release's latest record (one GET); null, like the other chart fields, when
          that record cannot be read (RV(problems) says why) or O(include_chart) is off.
      type: str
      sample: web-1.4.0
    chart_name:
      description:
        - Chart name, from the release record's chart metadata when the record was read.
        - Where only Helm's text exists (C(HELM_DRIVER) other than Secrets), C(chart) without its version.
      type: str
      sample: web
    chart_version:
      description:
        - Chart version, from the release record's chart metadata when the record was read.
        - Where only Helm's text exists, the longest suffix of C(chart) after a V(-) that is a SemVer 2 version
          (else V(MAJOR.MINOR), else V(MAJOR), as Helm accepts them); null when C(chart) has none.
      type: str
      sample: 1.4.0
    app_version:
      description: The chart's appVersion; null when the chart has none.
      type: str
      sample: "2.4.0"
    drifted:
      description:
        - Whether the objects of the deployed revision drifted (some missing or modified).
        - Null when the release changed while it was scanned (its deployed record was not found), or when its drift
          could not be checked (RV(releases[].error_kind) says why).
      returned: for a deployed release, with V(drifted) among O(statuses)
      type: bool
      sample: true
    drift:
      description: The drift check of the deployed revision; null when RV(releases[].drifted) is.
      returned: for a deployed release, with V(drifted) among O(statuses)
      type: dict
      contains:
        revision:
          description: The revision compared.
          type: int
          sample: 3
        drifted:
          description: Whether some object is missing or modified.
          type: bool
          sample: true
        objects:
          description: The objects that are not in sync, with the paths of the fields that differ (never their values).
          type: list
          elements: dict
          sample: [{"kind": "Deployment", "namespace": "shop", "name": "web", "state": "modified", "fields": ["spec.replicas"]}]
        summary:
          description: How many objects the revision has, and how many are missing, modified and in sync.
          type: dict
          sample: {"objects": 4, "missing": 0, "modified": 1, "in_sync": 3}
    error_kind:
      description:
        - Why the drift of this deployed release could not be checked, as RV(error_kind) says it - V(access_denied) (a
          kind of its chart, or its namespace's records, the credentials may not read), V(invalid_release_record)
          (its deployed record cannot be decoded, or its manifest is not YAML), V(not_found), V(rejected). The row is
          returned with V(drifted) among O(statuses) (a failed row rather than a hidden release), RV(problems) has
          the same, and the other releases are scanned.
        - Returned for a deployed release whose drift could not be checked, with V(drifted) among O(statuses).
      returned: when drift could not be checked
      type: str
      sample: access_denied
    msg:
      description: What could not be read (API version, kind and namespace, or the record), and what the API server answered.
      returned: with RV(releases[].error_kind)
      type: str
      sample: >-
        could not read rbac.authorization.k8s.io/v1 ClusterRole cluster-wide: The Kubernetes API server ... refused GET
        /apis/rbac.authorization.k8s.io/v1/clusterroles/web (403: ...)
scanned:
  description:
    - How many releases the listed namespaces hold whose name matches O(name_regex), whatever their status. The
      C(fleet_remediation) role takes percentages of it (C(fleet_remediation_max_unhealthy)).
  returned: success
  type: int
  sample: 100
drift_scan:
  description: What the drift check of the deployed releases cost and found.
  returned: success, with V(drifted) among O(statuses)
  type: dict
  contains:
    releases:
      description: How many deployed releases were checked (not counting those that could not be).
      type: int
      sample: 40
    failed:
      description:
        - How many deployed releases could not be checked (a row each with RV(releases[].error_kind), and a problem).
      type: int
      sample: 0
    drifted:
      description: How many of them drifted.
      type: int
      sample: 1
    api_requests:
      description: Kubernetes API requests the check made (record LISTs, reads, dry runs), for all the releases.
      type: int
      sample: 12
    dry_runs:
      description: Server-side apply dry runs among them (one per object the comparison flagged).
      type: int
      sample: 1
problems:
  description:
    - What could not be read, each with its RV(error_kind) (the same closed set), without failing the task - a
      namespace whose releases could not be listed (its releases are missing from RV(releases)), or a release whose
      chart could not be read (its chart fields are null).
    - With V(drifted) among O(statuses), also what the drift scan could not read - a namespace whose deployed records
      could not be listed, a deployed record that cannot be decoded (V(invalid_release_record)), a kind of a chart the
      credentials may not read (for example a C(ClusterRole)). Each such release is a row of RV(releases) with its
      RV(releases[].error_kind); the others are scanned.
    - The listing's own problems only when listing from the API (RV(discovery.source=api)), and from the discovery
      only when O(namespaces) is set; through Helm, or when no namespace can be read, the listing fails the task
      instead. The drift scan's come whatever the listing's source (the scan reads the records from the API). A
      failure that concerns every request (the API server unreachable or throttling, the credentials rejected)
      fails the task.
  returned: success
  type: list
  elements: dict
  contains:
    namespace:
      description: The namespace.
      type: str
      sample: tenant-b
    release:
      description: The release whose chart or drift could not be read; absent for a namespace that could not be listed.
      type: str
      sample: web
    error_kind:
      description: Why, as RV(error_kind) says it.
      type: str
      sample: access_denied
    msg:
      description: What the API server answered, and what to check.
      type: str
      sample: 'secrets is forbidden: User "system:serviceaccount:ops:fleet" cannot list resource "secrets" in the namespace "tenant-b"'
discovery:
  description: How the releases were listed, and what it cost.
  returned: success
  type: dict
  contains:
    source:
      description: V(api) (the labels of Helm's release Secrets) or V(helm) (C(helm list)).
      type: str
      choices: [api, helm]
      sample: api
    scope:
      description:
        - From the API, V(cluster) (one LIST of every namespace) or V(namespaces) (one LIST per namespace named in
          O(namespaces), since the credentials may not list cluster-wide); null through Helm.
      type: str
      sample: cluster
    api_requests:
      description:
        - Kubernetes API requests the listing made (the LISTs, a denied cluster-wide LIST, the GETs of the chart
          fields, and the drift scan's); 0 through Helm.
      type: int
      sample: 3
helm_version:
  description: Version of the Helm binary that was run.
  returned: success
  type: str
  sample: "3.17.3"
error_kind:
  description:
    - Why the task failed, or (M(matih.helm.helm_release_recover)) why a recovery was C(deferred) or stopped - one
      closed set, the same in every module of the collection. RV(msg) or the reason says what went wrong and what to
      do. Option problems fail without it. Each module returns the kinds of the paths it takes.
    - Helm - V(binary_not_found) (no Helm at O(binary_path), or none on E(PATH)), V(not_helm) (the binary does not
      answer C(helm version) as Helm does), V(unsupported_version) (Helm older than 3.8.0 or of another major than 3
      and 4, or older than 3.10 with O(validate_certs=false)), V(helm_crashed) (Helm panicked, usually on a corrupt
      release record), V(invalid_output) (output that is not JSON), V(helm_failed) (any other Helm error).
    - The kubeconfig - V(invalid_kubeconfig), V(unknown_context), V(no_api_server) (it cannot be loaded, does not have
      the context, or names no API server for it), V(unsupported_kubeconfig) (it authenticates in a way only Helm
      supports, such as an C(auth-provider), and the task needs the Kubernetes API), V(unsupported_environment)
      (E(HELM_DRIVER) keeps the release records elsewhere than in Secrets, and the task reads them).
    - The cluster - V(cluster_unreachable) (no answer, or 502, 503, 504), V(throttled) (429), V(access_denied) (the
      credentials were refused, or RBAC does not allow the request), V(rejected) (admission, a policy, a quota or
      object validation refused an object; the credentials are not the problem), V(not_found), V(conflict) (a
      resourceVersion precondition failed), V(api_error) (any other answer; RV(api_status) has the HTTP status),
      V(timeout) (Helm timed out, for example waiting for resources to be ready).
    - The release - V(release_not_found), V(revision_not_found) (not stored; Helm may have pruned it),
      V(invalid_release_record) (a record Helm could not read either), V(operation_in_progress) (another operation
      holds it, a C(pending-*) revision), V(revision_taken) (another writer stored the next revision first),
      V(concurrent_change) (another writer changed it while a recovery ran), V(locked) (another actor of this
      collection holds the release's lease; the message names the holder).
    - A recovery's own - V(rollout_failed) (Helm wrote the target and it failed), V(not_deployed) (Helm reported
      success, but the latest revision is not deployed), V(drift_remains) (objects still drift after a repair),
      V(backoff) (a failed recovery's backoff has not passed).
  returned: failure, or with a deferred or stopped recovery
  type: str
  choices:
    - binary_not_found
    - not_helm
    - unsupported_version
    - helm_crashed
    - invalid_output
    - helm_failed
    - invalid_kubeconfig
    - unknown_context
    - no_api_server
    - unsupported_kubeconfig
    - unsupported_environment
    - cluster_unreachable
    - throttled
    - access_denied
    - rejected
    - not_found
    - conflict
    - api_error
    - timeout
    - release_not_found
    - revision_not_found
    - invalid_release_record
    - operation_in_progress
    - revision_taken
    - concurrent_change
    - locked
    - rollout_failed
    - not_deployed
    - drift_remains
    - backoff
  sample: cluster_unreachable
api_status:
  description:
    - The HTTP status the Kubernetes API server answered the module's own request that failed with (403 for an RBAC
      denial, 429 when it throttled), when it answered at all. Helm's own requests are reported in RV(stderr).
  returned: when the API server refused a request of the module
  type: int
  sample: 403
rc:
  description:
    - Exit code of the Helm call that failed (of C(helm version) when the version is refused).
    - When Helm did not run, for example V(binary_not_found) or a kubeconfig refused before Helm runs, it is null, or
      left out by recent ansible-core versions (2.21 does).
  returned: when Helm fails or cannot run
  type: int
  sample: 1
stdout:
  description: Standard output of the Helm call that failed; empty when Helm did not run.
  returned: when Helm fails or cannot run
  type: str
  sample: ""
stderr:
  description: Standard error of the Helm call that failed, with Helm's own error message; empty when Helm did not run.
  returned: when Helm fails or cannot run
  type: str
  sample: 'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": dial tcp 10.0.0.1:6443: connect: connection refused'
command:
  description:
    - The argv of the Helm call that failed; null when Helm did not run.
    - It holds no secrets. The API token travels in the environment and an inline kubeconfig in a private temporary
      file.
  returned: when Helm fails or cannot run
  type: list
  elements: str
  sample: ["/usr/local/bin/helm", "list", "--output", "json", "--max", "0", "--all-namespaces", "--all"]
"""

import copy
import os
import re

from ansible.module_utils.basic import AnsibleModule

# First: the module_utils below then load through the bytecode cache (module_utils/bytecode_cache.py).
from ansible_collections.matih.helm.plugins.module_utils import bytecode_cache  # noqa: F401  pylint: disable=unused-import
from ansible_collections.matih.helm.plugins.module_utils.args import CONNECTION_ARGS, CONNECTION_MUTUALLY_EXCLUSIVE, namespace_problem
from ansible_collections.matih.helm.plugins.module_utils.drift import Target, check_records_drift, drift_digest, parse_ignore_fields
from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmClient, run_task, version_string
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects, secret_masker
from ansible_collections.matih.helm.plugins.module_utils.release import (
    DRIFTED, PENDING_STATUSES, STATUSES, iso8601, list_entry, listed_matches, split_chart,
)
from ansible_collections.matih.helm.plugins.module_utils.release_inventory import (
    Release, chart_fields, discover, latest_revisions, read_charts, select_rows,
)
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore, driver_problem

STATUS_CHOICES = list(STATUSES) + ["pending", DRIFTED]
CHART_FIELDS = ("chart", "chart_name", "chart_version", "app_version")


def argument_spec():
    spec = copy.deepcopy(CONNECTION_ARGS)
    spec.update(
        namespaces=dict(type="list", elements="str", default=[]),
        statuses=dict(type="list", elements="str", default=[], choices=STATUS_CHOICES),
        drift_ignore_fields=dict(type="dict", default={}),
        name_regex=dict(type="str", aliases=["name"],
                        deprecated_aliases=[dict(name="name", version="1.0.0", collection_name="matih.helm")]),
        include_chart=dict(type="bool", default=True),
    )
    return spec


def input_problems(params, ignore_problems):
    """Every problem with the module's own options, before Helm runs."""
    problems = [problem for problem in (namespace_problem(ns) for ns in params["namespaces"]) if problem]
    if params["name_regex"]:
        try:
            re.compile(params["name_regex"])
        except re.error as error:
            problems.append("name_regex %r is not a valid regular expression (Python syntax): %s"
                            % (params["name_regex"], error))
    if DRIFTED in params["statuses"]:
        problems += ignore_problems + [driver_problem(dict(os.environ), "statuses: drifted")]
    elif params["drift_ignore_fields"]:
        problems.append("drift_ignore_fields is used only by the drift check: add drifted to statuses, or leave it out")
    return problems


class HelmListing(object):
    """The releases as ``helm list`` prints them: one Helm call per namespace (or one for all). Helm fails the task
    for a namespace it cannot read, so the listing has no problems of its own (the drift scan may add some)."""

    source = "helm"

    def __init__(self, helm):
        self.helm = helm
        self.problems = []
        self.api_requests = 0
        self.scope = None

    def rows(self, namespaces, name_pattern):
        return [list_entry(entry) for entry in self.helm.list_releases(namespaces, None, name_pattern)]

    def add_charts(self, releases):
        """Helm's list has them already."""


class ApiListing(object):
    """The releases from the labels of Helm's release Secrets: one metadata-only LIST for the cluster (one per
    namespace when the identity may not list Secrets cluster-wide), then one GET of the latest record of each
    release returned that needs its chart (none for the deployed releases whose record the drift scan read)."""

    source = "api"

    def __init__(self, client):
        self.client = client
        self.problems = []
        self.scope = None
        self._releases = {}

    @property
    def api_requests(self):
        return self.client.requests

    def rows(self, namespaces, name_pattern):
        discovery = discover(self.client, sorted(set(namespaces)))
        self.scope = discovery.scope
        self.problems = [problem_entry(problem.namespace, problem.error_kind, problem.message)
                         for problem in discovery.problems]
        if namespaces and len(discovery.problems) == len(set(namespaces)):
            raise unreadable_namespaces(discovery.problems)
        releases = select_rows(latest_revisions(discovery.items), namespaces=namespaces, name_regex=name_pattern)
        self._releases = {release.key(): release for release in releases}
        return [api_entry(release) for release in releases]

    def add_charts(self, releases):
        wanted = [self._releases[(release["namespace"], release["name"])] for release in releases
                  if "chart" not in release]
        charts = read_charts(self.client, wanted) if wanted else {}
        for release in releases:
            if "chart" in release:
                continue
            chart = charts.get((release["namespace"], release["name"]))
            if isinstance(chart, dict):  # release_inventory.chart_fields: the record's metadata
                release.update(chart_entry(chart["chart"], chart["app_version"], chart["chart_name"], chart["chart_version"]))
            else:
                release.update(dict.fromkeys(CHART_FIELDS))
                if chart is not None:
                    self.problems.append(problem_entry(chart.namespace, chart.error_kind, chart.message, release["name"]))


def api_entry(release: Release):
    """A release from its labels, shaped as list_entry shapes ``helm list``'s (the chart fields come later)."""
    return {"name": release.name, "namespace": release.namespace, "revision": release.revision,
            "updated": iso8601(release.updated) if release.updated else None, "status": release.status,
            "pending": release.status in PENDING_STATUSES}


def chart_entry(chart, app_version, chart_name=None, chart_version=None):
    """The chart fields of a listed release: the name and version a release record gives, else those split from
    Helm's "name-version" text (helm list through Helm)."""
    if not chart_name:
        chart_name, chart_version = split_chart(chart)
    return {"chart": chart or "", "chart_name": chart_name, "chart_version": chart_version or None,
            "app_version": app_version or None}


def record_chart(record):
    """chart_entry of a decoded release record, from its chart metadata (the chart as helm list prints it)."""
    fields = chart_fields(record)
    return chart_entry(fields["chart"], fields["app_version"], fields["chart_name"], fields["chart_version"])


def problem_entry(namespace, error_kind, message, release=None):
    entry = {"namespace": namespace, "error_kind": error_kind, "msg": message}
    if release:
        entry["release"] = release
    return entry


def unreadable_namespaces(problems):
    """The KubeError of a listing in which no namespace could be read: the first one's kind, every one named."""
    return KubeError(problems[0].error_kind, "No namespace could be read: %s" % "; ".join(
        "%s (%s): %s" % (problem.namespace, problem.error_kind, problem.message) for problem in problems))


def list_releases(listing, version, namespaces, statuses, name_pattern, scan_drift=None, include_chart=True):
    """The module result from ``listing`` (HelmListing or ApiListing), releases sorted by namespace and name.
    ``scan_drift(deployed)`` (with drifted among ``statuses``) adds each deployed release's drift and returns the
    scan's figures and problems (drift_scanner). Without
    ``include_chart``, a release whose chart fields did not come with the listing or the scan has them null."""
    listed = listing.rows(namespaces, name_pattern)
    result = dict(changed=False, scanned=len(listed))
    if scan_drift is not None:
        result["drift_scan"], scan_problems = scan_drift([release for release in listed if release["status"] == "deployed"])
        listing.problems = list(listing.problems) + scan_problems
    releases = [release for release in listed if listed_matches(release, statuses)]
    releases.sort(key=lambda release: (release["namespace"] or "", release["name"] or ""))
    if include_chart:
        listing.add_charts(releases)
    else:
        for release in releases:
            if "chart" not in release:
                release.update(dict.fromkeys(CHART_FIELDS))
    result.update(releases=releases, helm_version=version_string(version), problems=listing.problems,
                  discovery=dict(source=listing.source, scope=listing.scope, api_requests=listing.api_requests))
    return result


def scan_rows(deployed, records, checks, record_problems):
    """Set each deployed release's drift fields on its row (``drifted``, ``drift``; ``error_kind`` and ``msg`` when its
    drift could not be judged) and return the problems to report. ``records``: {(namespace, name, revision): record}
    of the records read; ``checks``: check_records_drift's; ``record_problems``: the RecordProblems of the records'
    LIST (a namespace, release None; or one release's record). Every RecordProblem is a problem; a release whose
    namespace or record could not be read, or whose objects could not all be read (a problem of its own), is a row
    with its ``error_kind`` and drifted null. A release whose deployed record was simply not there (it changed during
    the scan) is null too, without a problem."""
    checks = {(check["namespace"], check["release"]): check for check in checks}
    namespace_problems = {problem.namespace: problem for problem in record_problems if problem.release is None}
    release_problems = {(problem.namespace, problem.release): problem for problem in record_problems if problem.release}
    problems = [problem_entry(problem.namespace, problem.error_kind, problem.message, problem.release)
                for problem in record_problems]
    for release in deployed:
        key = (release["namespace"], release["name"])
        check = checks.get(key)
        problem = release_problems.get(key) or namespace_problems.get(release["namespace"]) or namespace_problems.get(None)
        if check is not None and "error_kind" in check:
            release.update(drifted=None, drift=None, error_kind=check["error_kind"], msg=check["msg"])
            problems.append(problem_entry(release["namespace"], check["error_kind"], check["msg"], release["name"]))
        elif check is not None:
            release.update(drifted=check["drifted"], drift=drift_digest(check))
        elif problem is not None and (release["namespace"], release["name"], release["revision"]) not in records:
            # its chart is in the record that could not be read: not asked for again
            release.update(dict.fromkeys(CHART_FIELDS), drifted=None, drift=None, error_kind=problem.error_kind,
                           msg=problem.message)
        else:
            release.update(drifted=None, drift=None)
    return problems


def drift_scanner(module, store, namespaces, ignore):
    """``scan_drift`` of list_releases: the deployed releases' records in one LIST per namespace (of those
    named that hold one; one LIST for all when none is named), their objects compared in one pass. A deployed
    release whose record was read gets its chart from it. What could not be read (a namespace's records, a record,
    a kind) is returned as problems beside the figures, and the rest is scanned (scan_rows)."""
    def scan(deployed):
        store.require_direct("statuses: drifted")
        api = LiveObjects(store)
        before = api.requests  # the listing's own requests are not the scan's
        scanned = sorted({release["namespace"] for release in deployed}) if namespaces else []
        records, record_problems = {}, []
        if deployed:
            records = {(record.get("namespace"), record.get("name"), record["version"]): record
                       for record in store.deployed_records(scanned, record_problems)}
        targets = [Target(release["name"], release["namespace"], records[key]) for release in deployed
                   for key in [(release["namespace"], release["name"], release["revision"])] if key in records]
        checks = check_records_drift(api, targets, ignore, False, on_secret_values=secret_masker(module), isolate=True)
        problems = scan_rows(deployed, records, checks, record_problems)
        for release in deployed:
            record = records.get((release["namespace"], release["name"], release["revision"]))
            if record is not None and "chart" not in release:
                release.update(record_chart(record))
        judged = [check for check in checks if "error_kind" not in check]
        return dict(releases=len(judged), drifted=sum(1 for check in judged if check["drifted"]),
                    failed=sum(1 for release in deployed if "error_kind" in release),
                    api_requests=api.requests - before, dry_runs=sum(check["dry_runs"] for check in judged)), problems
    return scan


def listing_of(helm, store):
    """Where the releases are listed: from the API when the records can be read directly (Helm's Secrets
    driver, a connection our client reproduces, MATIH_HELM_READS not set to helm), else through Helm."""
    if store.direct_problem or store.helm_reads:
        return HelmListing(helm)
    return ApiListing(store.client)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE)
    params = module.params
    ignore, ignore_problems = parse_ignore_fields(params["drift_ignore_fields"])
    problems = [problem for problem in input_problems(params, ignore_problems) if problem]

    def task():
        helm = HelmClient(module)
        store = ReleaseStore(helm.connection, helm)
        scan = drift_scanner(module, store, params["namespaces"], ignore) if DRIFTED in params["statuses"] else None
        return list_releases(listing_of(helm, store), helm.version(), params["namespaces"], params["statuses"],
                             params["name_regex"], scan, params["include_chart"])
    run_task(module, problems, task)


if __name__ == "__main__":
    main()

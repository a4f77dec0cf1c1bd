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
  - Runs one C(helm list) per namespace named in O(namespaces), concurrently, or a single
    C(helm list --all-namespaces) when O(namespaces) is empty; never one per release.
  - Releases in every status are listed, also with Helm 3, which hides pending, superseded and
    uninstalled releases unless asked; a release whose latest revision is C(pending-upgrade)
    is therefore never missed.
  - Statuses are those of each release's latest revision, so a release whose upgrade failed
    yesterday and that was rolled back since is C(deployed), not C(failed).
  - Read-only; it never changes a release.
options:
  namespaces:
    description:
      - Namespaces to list releases from.
      - An empty list means all namespaces.
      - Each is validated as a Kubernetes namespace name before Helm runs.
      - Each named namespace is listed with its own C(helm list) call (run concurrently), so
        rights on those namespaces suffice and a broken release record in another namespace
        cannot fail the listing. An empty list makes one C(helm list --all-namespaces) call, which
        needs permission to list Secrets cluster-wide (or ConfigMaps, with Helm's ConfigMap
        storage driver). Either way the number of Helm calls does not grow with the number of
        releases.
    type: list
    elements: str
    default: []
  statuses:
    description:
      - Only releases whose latest revision has one of these statuses (Helm's words).
      - V(pending) stands for every C(pending-*) status (C(pending-install), C(pending-upgrade),
        C(pending-rollback)).
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
    default: []
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

- name: Find the deployed releases whose name starts with web in the shop namespace
  matih.helm.helm_release_list:
    namespaces: [shop]
    statuses: [deployed]
    name_regex: "^web"
  register: web_releases
"""

RETURN = r"""
releases:
  description:
    - The matching releases, sorted by namespace, then name, each as its latest revision shows it.
    - Empty when nothing matches.
  returned: always
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
      description: When the latest revision was last updated, ISO 8601 in UTC with microseconds; null if Helm recorded no time.
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
      description: Chart name and version as Helm shows them.
      type: str
      sample: web-1.4.0
    chart_name:
      description: Chart name (C(chart) without the trailing version).
      type: str
      sample: web
    chart_version:
      description: Chart version (the trailing SemVer of C(chart)); null when C(chart) has none.
      type: str
      sample: 1.4.0
    app_version:
      description: The chart's appVersion; null when the chart has none.
      type: str
      sample: "2.4.0"
scanned:
  description:
    - How many releases the listed namespaces hold whose name matches O(name), whatever their status. The
      C(fleet_remediation) role takes percentages of it (C(fleet_remediation_max_unhealthy)).
  returned: success
  type: int
  sample: 100
helm_version:
  description: Version of the Helm binary that was run.
  returned: always
  type: str
  sample: "3.17.3"
error_kind:
  description:
    - When Helm fails or cannot run, the kind of failure, for example V(cluster_unreachable), V(access_denied)
      (the credentials or their RBAC rights), V(invalid_kubeconfig) or V(binary_not_found); V(helm_failed) when
      Helm's error is not recognised. V(rejected), the cluster refusing a release's objects, occurs only when
      Helm writes, as M(matih.helm.helm_release_rollback) does.
    - C(msg) says what to check; C(rc), C(stdout) and C(stderr) are Helm's.
  returned: when Helm fails
  type: str
  sample: cluster_unreachable
command:
  description: When Helm fails, the argv of the Helm call that failed (it holds no secrets); null when Helm did not run.
  returned: when Helm fails
  type: list
  elements: str
  sample: ["/usr/local/bin/helm", "list", "--output", "json", "--max", "0", "--all-namespaces", "--all"]
"""

import copy
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.matih.helm.plugins.module_utils.args import CONNECTION_ARGS, namespace_problem
from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    HelmClient, run_task, status_matches, version_string,
)
from ansible_collections.matih.helm.plugins.module_utils.release import STATUSES, list_entry

STATUS_CHOICES = list(STATUSES) + ["pending"]


def argument_spec():
    spec = copy.deepcopy(CONNECTION_ARGS)
    spec.update(
        namespaces=dict(type="list", elements="str", default=[]),
        statuses=dict(type="list", elements="str", default=[], choices=STATUS_CHOICES),
        name_regex=dict(type="str", aliases=["name"],
                        deprecated_aliases=[dict(name="name", version="1.0.0", collection_name="matih.helm")]),
    )
    return spec


def input_problems(params):
    """Every problem with the module's own options, before Helm runs."""
    problems = [problem for problem in (namespace_problem(ns) for ns in params["namespaces"]) if problem]
    if params["name_regex"]:
        try:
            re.compile(params["name_regex"])
        except re.error as error:
            problems.append("name_regex %r is not a valid regular expression (Python syntax): %s"
                            % (params["name_regex"], error))
    return problems


def list_releases(helm, namespaces, statuses, name_pattern):
    """The module result: one ``helm list`` call per namespace (or one for all), releases sorted by namespace and name."""
    listed = [list_entry(entry) for entry in helm.list_releases(namespaces, None, name_pattern)]
    releases = [release for release in listed if status_matches(release["status"], statuses)]
    releases.sort(key=lambda release: (release["namespace"] or "", release["name"] or ""))
    return dict(changed=False, releases=releases, scanned=len(listed), helm_version=version_string(helm.version()))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    run_task(module, input_problems(params), lambda: list_releases(
        HelmClient(module), params["namespaces"], params["statuses"], params["name_regex"]))


if __name__ == "__main__":
    main()

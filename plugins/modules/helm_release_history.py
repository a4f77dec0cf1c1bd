#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_history
short_description: Read a Helm release's revision history and name its safe rollback targets
version_added: 0.1.0
description:
  - Reads C(helm history) of one release and returns every revision with its status, chart, app
    version and the operation that wrote it (install, upgrade, rollback, uninstall).
  - Names the revision Helm marks deployed, the last successful revision and the revisions a
    rollback could safely return to, and tells whether an operation is pending.
  - Optionally reads the user-supplied values of each returned revision, concurrently.
  - A release that does not exist is not an error; the module returns RV(exists=false).
  - Read-only; it never changes the release.
  - A revision counts as successful when it reached DEPLOYED, that is its status is C(deployed),
    or C(superseded) (deployed, then replaced). A superseded revision whose description records
    a failure or an unfinished operation (C(Upgrade "x" failed), C(Release "x" failed),
    C(Preparing upgrade), C(Initial install underway)) does not count; Helm supersedes the
    latest revision after a successful upgrade even when no revision is deployed, and after a
    failed rollback whatever the latest revision was. A deployed revision superseded by a
    failed rollback still counts.
  - Known limitation. A C(pending-rollback) revision, left by an interrupted rollback, that a later
    rollback frees becomes C(superseded) and keeps the description C(Rollback to N) it was written
    with. A completed rollback looks exactly the same, and Helm records nothing that tells them
    apart, so such a revision counts as having reached DEPLOYED and can be a rollback candidate.
    Its chart and values are those of revision N.
  - Decisions are taken over the whole stored history, also when O(max) shortens the returned
    list. Histories pruned by Helm's C(--history-max) simply start after revision 1; revisions no
    longer stored cannot be rollback targets.
options:
  max:
    description:
      - Return only the newest O(max) revisions (and read values only for them).
      - RV(deployed_revision), RV(last_successful_revision) and RV(rollback_candidates) still
        consider every stored revision.
    type: int
  include_values:
    description:
      - Add the user-supplied values (C(helm get values)) of each returned revision as the
        C(values) key of its RV(history) entry.
      - Values can hold secrets; they are read only when this is V(true).
      - O(values_revisions) narrows which revisions are read.
      - When the C(kubernetes) Python library is installed on the managed node, the values of every revision come
        from one LIST of Helm's release Secrets (type C(helm.sh/release.v1)) while C(helm history) runs, with the
        same connection options, instead of one C(helm get values) per revision. It needs the same right Helm's
        history already needs (list Secrets in the namespace). It is skipped when C(HELM_DRIVER) is not the
        default Secrets driver or a C(HELM_KUBE*) variable changes Helm's connection, and any revision it does
        not return, for any reason, is read with C(helm get values). RV(values_source) says which was used.
    type: bool
    default: false
  values_revisions:
    description:
      - Which of the returned revisions O(include_values=true) reads values for.
      - V(all) reads every returned revision.
      - V(successful) reads only the revisions that reached DEPLOYED, the ones a rollback or a
        known-good upgrade can use; failed and pending revisions then have no C(values) key. On a
        release with many failed attempts read through Helm this saves one Helm call per failed revision.
    type: str
    choices: [all, successful]
    default: all
extends_documentation_fragment:
  - matih.helm.connection
  - matih.helm.release
  - matih.helm.attributes.check_mode_read_only
  - matih.helm.attributes.platform
  - matih.helm.attributes.action_group
seealso:
  - module: matih.helm.helm_release_rollback
  - module: matih.helm.helm_release_list
  - module: kubernetes.core.helm_info
  - name: helm history
    description: Helm's documentation of the command this module reads.
    link: https://helm.sh/docs/helm/helm_history/
author:
  - matih.helm maintainers (@matih-platform)
"""

EXAMPLES = r"""
- name: Read the history of the web release
  matih.helm.helm_release_history:
    name: web
    release_namespace: shop
  register: web_history

- name: Report the release state
  ansible.builtin.debug:
    msg: >-
      {{ 'web does not exist' if not web_history.exists else
         'web is at revision %s (%s), last successful %s, rollback candidates %s'
         | format(web_history.current.revision, web_history.current.status,
                  web_history.last_successful_revision, web_history.rollback_candidates) }}

- name: Read the newest five revisions with their values, connection set once for the collection
  module_defaults:
    group/matih.helm.helm:
      kubeconfig: "{{ cluster_kubeconfig | default(omit) }}"
      context: "{{ cluster_context | default(omit) }}"
  block:
    - name: Read the recent history of the web release with values
      matih.helm.helm_release_history:
        name: web
        namespace: shop
        max: 5
        include_values: true
      register: web_recent

    - name: Show the values of the current revision
      ansible.builtin.debug:
        var: web_recent.current["values"]
      when: web_recent.exists

- name: Read the values of only the revisions a rollback could return to
  matih.helm.helm_release_history:
    name: web
    release_namespace: shop
    include_values: true
    values_revisions: successful
  register: web_good

- name: Show the values of the last successful revision
  ansible.builtin.debug:
    msg: >-
      {{ (web_good.history | selectattr('revision', 'eq', web_good.last_successful_revision) | first)['values'] }}
  when: web_good.last_successful_revision is not none
"""

RETURN = r"""
values_source:
  description:
    - Where the values came from. V(release_records) is one LIST of Helm's release Secrets through the
      C(kubernetes) library, V(helm) is one C(helm get values) per revision, V(both) is the LIST with
      C(helm get values) for the revisions it did not return. See O(include_values).
  returned: when O(include_values=true) read values
  type: str
  choices: [release_records, helm, both]
  sample: release_records
exists:
  description: Whether the release exists in the namespace.
  returned: always
  type: bool
  sample: true
history:
  description:
    - The revisions, oldest first (the newest O(max) when O(max) is set); empty when the release does not exist.
    - >-
      With O(include_values=true) every entry, and RV(current), also has a C(values) key holding the revision's
      user-supplied values (C(helm get values)), for example C({"image": {"tag": "1.4.2"}}); with
      O(values_revisions=successful) only the entries that reached DEPLOYED have it. Read it as
      C(entry['values']); in Jinja C(entry.values) is the dictionary method.
  returned: always
  type: list
  elements: dict
  contains:
    revision:
      description: Revision number.
      type: int
      sample: 3
    updated:
      description: When the revision was last updated, ISO 8601 in UTC with microseconds; null if Helm recorded no time.
      type: str
      sample: "2025-01-31T10:00:00.123456Z"
    status:
      description: Helm's status word.
      type: str
      choices: [unknown, deployed, uninstalled, superseded, failed, uninstalling, pending-install, pending-upgrade, pending-rollback]
      sample: failed
    chart:
      description: Chart name and version as Helm shows them.
      type: str
      sample: my-app-1.2.3-rc.1
    chart_name:
      description: Chart name (C(chart) without the trailing version).
      type: str
      sample: my-app
    chart_version:
      description: Chart version (the trailing SemVer of C(chart)); null when C(chart) has none.
      type: str
      sample: 1.2.3-rc.1
    app_version:
      description: The chart's appVersion; null when the chart has none.
      type: str
      sample: "2.4.0"
    description:
      description: Helm's description of the revision.
      type: str
      sample: 'Upgrade "web" failed: context deadline exceeded'
    operation:
      description:
        - The operation that wrote the revision, derived from the description (Helm records no other trace).
        - V(unknown) for custom descriptions and for C(Release "x" failed) after revision 1, which Helm writes for
          failed installs and for rollbacks whose wait failed alike.
      type: str
      choices: [install, upgrade, rollback, uninstall, unknown]
      sample: upgrade
    rollback_to:
      description:
        - For rollbacks, the revision that was copied (Helm 4.3 C(rollback_revision) or C(Rollback to N)); null otherwise,
          and for a Helm 3 rollback whose wait failed (Helm 3 does not record its target).
      type: int
      sample: 2
current:
  description: The latest revision, with the keys of a RV(history) entry; null when the release does not exist.
  returned: always
  type: dict
  sample: {"revision": 3, "status": "failed", "chart": "web-1.4.0", "operation": "upgrade"}
deployed_revision:
  description: The revision Helm marks C(deployed) (the newest if several); null if none, e.g. after a failed install or rollback.
  returned: always
  type: int
  sample: 2
last_successful_revision:
  description:
    - The newest revision that reached DEPLOYED; null when none did (all failed or pending).
    - Equals the latest revision on a healthy release.
  returned: always
  type: int
  sample: 2
rollback_candidates:
  description:
    - Revisions that reached DEPLOYED, newest first, without the latest revision (rolling back to it would only copy it).
    - After a failed upgrade the previous, still deployed, revision comes first.
  returned: always
  type: list
  elements: int
  sample: [2, 1]
pending:
  description: Whether the latest revision is C(pending-install), C(pending-upgrade) or C(pending-rollback) (an interrupted or running operation).
  returned: always
  type: bool
  sample: false
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
  sample: ["/usr/local/bin/helm", "history", "web", "--namespace", "shop", "--output", "json", "--max", "2147483647"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.matih.helm.plugins.module_utils.args import argument_spec, name_problems
from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    HelmClient, history_or_empty, run_concurrently, run_task, version_string,
)
from ansible_collections.matih.helm.plugins.module_utils.kube import release_records
from ansible_collections.matih.helm.plugins.module_utils.release import newest, parse_history, to_result, values_to_read


def read_history(helm, name, namespace, max_revisions, include_values, values_revisions="all"):
    """The module result for one release; a missing release is a result, not an error.

    With values, Helm's release records are listed once while ``helm history`` runs (see
    module_utils/kube.py); only the revisions that listing did not return cost a ``helm get values``."""
    readers = [lambda: history_or_empty(helm, name, namespace)]
    if include_values:
        readers.append(lambda: release_records(helm.module.params, helm.kubeconfig_path, name, namespace))
    entries, *records = run_concurrently(lambda read: read(), readers)
    history = parse_history(entries)
    shown = newest(history, max_revisions)
    result = {}
    values = None
    wanted = values_to_read(shown, values_revisions) if include_values else []
    if wanted:
        stored = records[0] or {}
        values = {revision: stored[revision] for revision in wanted if revision in stored}
        asked = [revision for revision in wanted if revision not in values]
        if asked:
            values.update(helm.get_values_many(name, namespace, asked))
        result["values_source"] = "helm" if not stored else "release_records" if not asked else "both"
    result.update(to_result(history, shown, values), changed=False, helm_version=version_string(helm.version()))
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(dict(
            max=dict(type="int"),
            include_values=dict(type="bool", default=False),
            values_revisions=dict(type="str", choices=["all", "successful"], default="all"),
        )),
        supports_check_mode=True,
    )
    params = module.params
    problems = name_problems(params["name"], params["release_namespace"])
    if params["max"] is not None and params["max"] < 1:
        problems.append("max must be at least 1, got %d; omit max to read the whole history" % params["max"])
    run_task(module, problems, lambda: read_history(
        HelmClient(module), params["name"], params["release_namespace"], params["max"], params["include_values"],
        params["values_revisions"]))


if __name__ == "__main__":
    main()

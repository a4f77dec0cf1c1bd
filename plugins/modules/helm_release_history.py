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
      - From Helm's release records (see the notes) one request returns the history and every revision's
        values; through Helm it is one C(helm get values) per revision read. RV(values_source) says which.
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
msg:
  description: What went wrong and what to check.
  returned: failure
  type: str
  sample: >-
    The Kubernetes API server could not be reached; check kubeconfig, context, host and network
    (helm history exited 1: Error: Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": dial tcp
    10.0.0.1:6443: connect: connection refused)
values_source:
  description:
    - Where the values came from. V(release_records) is the one LIST of Helm's release Secrets that also gave
      the history, V(helm) is one C(helm get values) per revision. See the notes.
  returned: when O(include_values=true) read values
  type: str
  choices: [release_records, helm]
  sample: release_records
history_source:
  description:
    - Where the history came from. V(release_records) is one LIST of Helm's release Secrets, V(helm) is
      C(helm history). See the notes.
  returned: success
  type: str
  choices: [release_records, helm]
  sample: release_records
exists:
  description: Whether the release exists in the namespace.
  returned: success
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
  returned: success
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
      description:
        - Chart name, from the release record's chart metadata when the record was read.
        - Where only Helm's text exists (C(HELM_DRIVER) other than Secrets), C(chart) without its version.
      type: str
      sample: my-app
    chart_version:
      description:
        - Chart version, from the release record's chart metadata when the record was read.
        - Where only Helm's text exists, the longest suffix of C(chart) after a V(-) that is a SemVer 2 version
          (else V(MAJOR.MINOR), else V(MAJOR), as Helm accepts them); null when C(chart) has none.
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
  returned: success
  type: dict
  sample: {"revision": 3, "status": "failed", "chart": "web-1.4.0", "operation": "upgrade"}
deployed_revision:
  description: The revision Helm marks C(deployed) (the newest if several); null if none, e.g. after a failed install or rollback.
  returned: success
  type: int
  sample: 2
last_successful_revision:
  description:
    - The newest revision that reached DEPLOYED; null when none did (all failed or pending).
    - Equals the latest revision on a healthy release.
  returned: success
  type: int
  sample: 2
rollback_candidates:
  description:
    - Revisions that reached DEPLOYED, newest first, without the latest revision (rolling back to it would only copy it).
    - After a failed upgrade the previous, still deployed, revision comes first.
  returned: success
  type: list
  elements: int
  sample: [2, 1]
pending:
  description: Whether the latest revision is C(pending-install), C(pending-upgrade) or C(pending-rollback) (an interrupted or running operation).
  returned: success
  type: bool
  sample: false
helm_version:
  description: Version of the Helm binary that was run.
  returned: success
  type: str
  sample: "3.17.3"
api_status:
  description:
    - The HTTP status the Kubernetes API server answered the module's own request that failed with (403 for an RBAC
      denial, 429 when it throttled), when it answered at all. Helm's own requests are reported in RV(stderr).
  returned: when the API server refused a request of the module
  type: int
  sample: 403
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
  sample: ["/usr/local/bin/helm", "history", "web", "--namespace", "shop", "--output", "json", "--max", "2147483647"]
"""

from ansible.module_utils.basic import AnsibleModule

# First: the module_utils below then load through the bytecode cache (module_utils/bytecode_cache.py).
from ansible_collections.matih.helm.plugins.module_utils import bytecode_cache  # noqa: F401  pylint: disable=unused-import
from ansible_collections.matih.helm.plugins.module_utils.args import CONNECTION_MUTUALLY_EXCLUSIVE, argument_spec, name_problems
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmClient, run_task, version_string
from ansible_collections.matih.helm.plugins.module_utils.release import newest, parse_history, to_result, values_to_read
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore


def read_history(helm, name, namespace, max_revisions, include_values, values_revisions="all"):
    """The module result for one release; a missing release is a result, not an error. The release store
    reads the history and the values wanted (module_utils/release_store.py)."""
    def values_for(entries):
        return values_to_read(newest(parse_history(entries), max_revisions), values_revisions)
    reading = ReleaseStore(helm.connection, helm).read(name, namespace, values_for if include_values else None)
    history = parse_history(reading.entries)
    shown = newest(history, max_revisions)
    result = dict(history_source=reading.source)
    values = None
    if include_values and values_to_read(shown, values_revisions):
        values = reading.values
        result["values_source"] = reading.source
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
        mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE,
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

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_rollback
short_description: Roll a Helm release back to a given revision or to the last successful one, and verify it
version_added: 0.1.0
description:
  - Rolls a Helm release back to revision O(revision), or to its last successful revision, with C(helm rollback).
  - Idempotent. Nothing runs when the latest revision is C(deployed) and already has the target's chart name,
    chart version and user-supplied values, for example because an earlier run already rolled back.
  - Refuses, with a message naming the alternatives, to roll back to a revision that never reached DEPLOYED
    (unless O(allow_failed_target=true)), to a revision Helm no longer stores, or while another operation
    may still be running (unless O(on_pending=rollback)).
  - After the rollback the history is read again and the new revision is verified. It must be the previous
    latest revision + 1, be C(deployed), described as C(Rollback to N), and have the target's chart version
    and user values. The task fails and names each check that did not hold.
  - When Helm fails, for example because objects are rejected or C(--wait) times out, the task fails with the
    new revision's number and status, Helm's error and the history, so the next recovery step can be chosen.
  - When Helm reports success but the result cannot be read back (for example the API server went away), the
    task fails with C(changed=true), since Helm wrote a revision, and says how to check the release.
  - Check mode takes the same decision as a real run and validates it with C(helm rollback --dry-run)
    (Helm 3) or C(--dry-run=server) (Helm 4), which creates no revision.
options:
  revision:
    description:
      - The revision to roll back to, a number of 1 or more, or V(last_successful) for the newest revision that
        reached DEPLOYED.
      - V(0) is refused. Helm reads it as the revision before the latest one, which may be a failed one.
      - V(last_successful) on a healthy release (latest revision deployed) is a no-op, since the last
        successful revision is the latest one.
    type: raw
    required: true
    aliases: [ target_revision ]
  wait:
    description:
      - Wait until the rolled-back resources are ready, up to O(timeout).
      - Helm 3 C(--wait), Helm 4 C(--wait=watcher). V(false) leaves Helm 4 at its default C(hookOnly) strategy.
    type: bool
    default: true
  wait_for_jobs:
    description:
      - Also wait until the release's Jobs have completed (C(--wait-for-jobs)). Needs O(wait=true).
    type: bool
    default: false
  timeout:
    description:
      - How long Helm waits for any single Kubernetes operation, as a Helm (Go) duration such as V(90s), V(5m)
        or V(1h30m). A unit is required.
      - It must be greater than zero. Helm accepts V(0s) but gives up at once and leaves a failed revision, so
        zero is refused before Helm runs.
    type: str
    default: 5m
  cleanup_on_fail:
    description:
      - Delete the resources this rollback created when it fails (C(--cleanup-on-fail)).
    type: bool
    default: false
  force:
    description:
      - Update resources by deleting and recreating them when needed. Helm 3 C(--force), Helm 4 C(--force-replace).
    type: bool
    default: false
  no_hooks:
    description:
      - Do not run the chart's pre- and post-rollback hooks (C(--no-hooks)).
      - C(disable_hook) is kubernetes.core.helm's name for it.
    type: bool
    default: false
    aliases: [ disable_hook ]
  history_max:
    description:
      - Limit the number of revisions Helm keeps for the release (C(--history-max)); V(0) means no limit.
      - When not set, Helm's default (10) applies.
      - Pruning can remove the older good revisions that later rollbacks would need.
    type: int
  allow_failed_target:
    description:
      - Allow rolling back to a revision that never reached DEPLOYED (failed, pending, uninstalled).
      - Such a revision holds a configuration that did not work; use this only when you know why it failed.
    type: bool
    default: false
  on_pending:
    description:
      - What to do when the latest revision is C(pending-install), C(pending-upgrade) or C(pending-rollback).
      - V(fail) stops, since another Helm operation may still be running.
      - V(rollback) rolls back anyway. This is how a release left pending by an interrupted operation is
        freed, because C(helm upgrade) refuses to run while a revision is pending.
    type: str
    choices: [ fail, rollback ]
    default: fail
  show_values:
    description:
      - Show the user-supplied values and Secret data in the diff.
      - By default every value is masked. The keys stay visible and changed values are marked.
      - Other rendered objects in the manifest diff, such as ConfigMaps, are shown as Helm rendered them.
    type: bool
    default: false
extends_documentation_fragment:
  - matih.helm.connection
  - matih.helm.release
  - matih.helm.attributes
  - matih.helm.attributes.platform
  - matih.helm.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Takes the same decision as a real run and predicts C(changed) exactly. It validates the rollback with
        Helm's dry run and creates no revision.
  diff_mode:
    support: full
    details:
      - Shows the chart and user values (masked unless O(show_values=true)), then the rendered manifests, of the
        latest revision and of the target revision. Works in check mode too.
notes:
  - A revision counts as successful when it reached DEPLOYED. Its status is C(deployed), or C(superseded)
    (deployed, then replaced). A deployed revision that a failed rollback marked C(superseded) still counts.
    A superseded revision whose description records a failure or an unfinished operation does not.
  - Helm prunes the history (C(--history-max), 10 by default). A revision older than the oldest stored one
    cannot be a target, and the error says it was pruned. Only the revisions Helm still stores are considered.
  - Idempotency compares chart name, chart version and user values, which is all Helm records. A chart
    repackaged under the same version is not detected.
  - Helm does not lock releases against a rollback running next to another operation. This module takes the
    release's lease first (a C(coordination.k8s.io/v1) Lease named C(matih-helm.<release>) in the release namespace,
    renewed while Helm runs, released at the end; in check mode only read), so no other actor of this collection
    works on the release meanwhile. A lease another live actor holds fails the task with RV(error_kind) V(locked),
    naming the holder. Against other writers, it refuses to start over a pending revision (see O(on_pending)), and
    after the rollback it checks that the new revision is exactly the previous latest + 1 and is still the latest,
    and otherwise fails naming the concurrent operation.
  - Before Helm runs (and in check mode), the API server checks the target revision's objects, each sent as a
    server-side apply dry run (the preflight; one request per object, nothing stored). An API version no longer
    served, an admission or policy rejection, an immutable field or a quota fails the task with RV(error_kind)
    V(rejected) and the reasons in RV(preflight), and no revision is written. Hooks are not checked (they are not in
    the release's manifest).
  - Needs C(get), C(create) and C(update) on C(leases.coordination.k8s.io) and C(patch) on the chart's kinds (the
    dry runs) in the release namespace, besides what Helm needs. With C(delete) on leases too, a lease made for a
    release that does not exist is deleted again (else it is only released).
  - Before Helm writes (not in check mode) the preflight also asks the API server (one SelfSubjectRulesReview per
    namespace, trusted only when complete and only to show a right held; a SelfSubjectAccessReview for each other
    right) whether the credentials may do what Helm's write needs besides the dry runs' C(patch) - C(create) on Secrets
    and C(update) on the records of the deployed revisions and of the new one (the release records), C(get) on each
    object of the target, C(update) on each with O(force) (a PUT), with Helm 4 C(delete) on each object of the latest
    revision the target drops that exists and is not annotated C(helm.sh/resource-policy) C(keep) (one GET each first,
    as Helm 4 skips one it cannot get or that is kept, deletes the others and fails on a refused delete; Helm 3 only
    logs it), and what Helm's wait reads (C(list) and C(watch) on the target's kinds with Helm 4; C(list) on a
    Deployment's C(replicasets), and C(list) on C(pods) for a StatefulSet or ReplicaSet with Helm 4, a ReplicaSet or
    ReplicationController with Helm 3). Rights on one object are asked with its name (a Role's C(resourceNames) count).
    A missing right refuses the rollback with RV(error_kind) V(access_denied) naming the verb, resource and namespace;
    Helm would otherwise store a failed revision when it meets the 403. An authorizer that cannot decide (an
    C(evaluationError), which RBAC also reports for a binding that names a missing Role) or a 401 fails the task with
    that error and no verdict; a server that answers no access review leaves the rights unchecked, said so in
    RV(preflight) C(unchecked). C(extensions/rbac/recoverer.yml) grants the rights for the demo chart's kinds; add the
    chart's own kinds.
  - The returned RV(command) never holds secrets. The API token travels in the environment and an inline
    kubeconfig in a private temporary file.
seealso:
  - module: matih.helm.helm_release_history
  - module: kubernetes.core.helm
  - name: helm rollback
    description: Helm's documentation of the command this module runs.
    link: https://helm.sh/docs/helm/helm_rollback/
author:
  - matih.helm maintainers (@matih-platform)
"""

EXAMPLES = r"""
- name: Roll the web release back to its last successful revision
  matih.helm.helm_release_rollback:
    name: web
    release_namespace: shop
    revision: last_successful
  register: web_rollback

- name: Report the outcome
  ansible.builtin.debug:
    msg: "{{ web_rollback.msg }}"

- name: Roll back to revision 2 without waiting, keeping at most 20 revisions
  matih.helm.helm_release_rollback:
    name: web
    namespace: shop
    revision: 2
    wait: false
    history_max: 20

- name: Preview a rollback to revision 1 (run with --diff to see chart, masked values and manifests)
  matih.helm.helm_release_rollback:
    name: web
    namespace: shop
    revision: 1
  check_mode: true
  diff: true
  register: preview

- name: Report what the rollback would do
  ansible.builtin.debug:
    msg: "{{ preview.msg }}"

- name: Recover web, also when an interrupted upgrade left it pending
  block:
    - name: Roll back to the last successful revision even if the latest revision is pending
      matih.helm.helm_release_rollback:
        name: web
        namespace: shop
        revision: last_successful
        on_pending: rollback
        timeout: 10m
  rescue:
    - name: Fail with the revision the rollback left behind and the revisions left to try
      ansible.builtin.fail:
        msg: >-
          {{ ansible_failed_result.msg }} Revision {{ ansible_failed_result.revision | default('-') }} is
          {{ ansible_failed_result.status | default('-') }}; rollback candidates:
          {{ ansible_failed_result.rollback_candidates | default([]) }}.
"""

RETURN = r"""
msg:
  description: One line saying what was done, or why nothing was needed.
  returned: always
  type: str
  sample: "web rolled back from revision 4 to revision 2 as revision 5 (deployed)"
previous_revision:
  description:
    - The latest revision before the rollback.
    - On failure it is returned when the rollback ran and failed, could not be read back, or did not pass
      verification. Not when the options are invalid, the release does not exist, the rollback is refused, or Helm
      fails before the rollback (or in the check mode dry run). The same holds for RV(target_revision),
      RV(revision), RV(status), RV(chart), RV(chart_version) and RV(app_version).
  returned: success, and when the rollback fails
  type: int
  sample: 4
target_revision:
  description: The revision rolled back to (resolved from V(last_successful) when that was requested).
  returned: success, and when the rollback fails
  type: int
  sample: 2
revision:
  description:
    - The revision the rollback created, or the latest revision when nothing changed.
    - In check mode with a change, the revision the rollback would create.
    - When the rollback fails, the revision Helm created, or the previous latest revision when it created none.
      When Helm reported success but the history could not be read back, the revision the rollback should
      have created.
  returned: success, and when the rollback fails
  type: int
  sample: 5
status:
  description:
    - Helm's status of RV(revision).
    - In check mode with a change, V(deployed), the status a successful rollback gives it.
    - Null when Helm reported success but the history could not be read back.
  returned: success, and when the rollback fails
  type: str
  sample: deployed
chart:
  description: Chart name and version of RV(revision), as Helm shows them; null when RV(status) is null.
  returned: success, and when the rollback fails
  type: str
  sample: web-1.2.0
chart_version:
  description: Chart version of RV(revision); null when RV(chart) has none.
  returned: success, and when the rollback fails
  type: str
  sample: 1.2.0
app_version:
  description: The chart's appVersion of RV(revision); null when the chart has none.
  returned: success, and when the rollback fails
  type: str
  sample: "2.4.0"
history:
  description:
    - The history after the task, oldest first, in the format of M(matih.helm.helm_release_history)'s
      RV(matih.helm.helm_release_history#module:history) (without values).
    - On failure it is returned when the rollback is refused or fails, and is empty when the release does not exist.
      Not when the options are invalid, Helm cannot run or fails before the rollback (or in the check mode dry run),
      or the history cannot be read after the rollback.
  returned: success, and on failure when the history was read
  type: list
  elements: dict
  sample: [{"revision": 4, "status": "superseded", "chart": "web-1.3.0", "operation": "upgrade"},
           {"revision": 5, "status": "deployed", "chart": "web-1.2.0", "operation": "rollback", "rollback_to": 2}]
rollback_candidates:
  description: Revisions that reached DEPLOYED, newest first, without the latest one, after the task.
  returned: with RV(history)
  type: list
  elements: int
  sample: [4, 2, 1]
helm_version:
  description:
    - Version of the Helm binary that was run.
    - On failure it is returned when the release does not exist, or the rollback is refused or fails. Not when the
      options are invalid, or Helm cannot run or fails before the rollback (or in the check mode dry run).
  returned: success, and when the rollback is refused or fails
  type: str
  sample: "3.17.3"
preflight:
  description:
    - The API server's check of the target revision's objects, C(passed), C(objects) (how many were checked),
      C(refusals) (each with C(api_version), C(kind), C(name), C(namespace), C(error_kind) and C(reason)),
      C(unchecked) (objects that cannot be dry-run before others exist, with the reason), C(requests) and
      C(summary) (one line).
  returned: when a rollback was needed
  type: dict
  sample: {"passed": false, "objects": 3, "requests": 3, "unchecked": [],
           "refusals": [{"api_version": "v1", "kind": "ConfigMap", "name": "web", "namespace": "shop",
                         "error_kind": "rejected", "reason": "ConfigMap web is invalid, data is immutable"}],
           "summary": "1 of 3 objects refused: ConfigMap/web: ..."}
command:
  description:
    - On success, the C(helm rollback) argv that ran; in check mode the dry-run validation; null when nothing needed
      to run.
    - When Helm fails or cannot run, the argv of the Helm call that failed; null when Helm did not run. When the
      rollback ran but did not pass verification (RV(failed_checks)), the C(helm rollback) argv.
    - Not returned when the options are invalid, the release does not exist, or the rollback is refused.
    - It holds no secrets. The API token travels in the environment and an inline kubeconfig in a private temporary
      file.
  returned: success, and when Helm or the verification fails
  type: list
  elements: str
  sample: ["/usr/local/bin/helm", "rollback", "web", "2", "--namespace", "shop", "--wait", "--timeout", "5m"]
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
failed_checks:
  description: The post-rollback checks that did not hold.
  returned: when verification fails
  type: list
  elements: str
  sample: ["revision 5 has status failed, not deployed (Release \"web\" failed: context deadline exceeded)"]
diff:
  description:
    - In diff mode, two Ansible diffs between the latest revision and the target. The first covers chart and
      user values, masked unless O(show_values=true). The second covers the rendered manifests, with the data of
      Secrets masked unless O(show_values=true).
    - When nothing changes, only the first, with identical before and after.
  returned: in diff mode, on success
  type: list
  elements: dict
  sample: [{"before_header": "web revision 4 (deployed): chart and user values",
            "after_header": "web revision 5 (rollback to 2): chart and user values",
            "before": {"chart": "web-1.3.0", "chart_version": "1.3.0", "app_version": "2.5.0",
                       "values": {"image": {"tag": "********"}}},
            "after": {"chart": "web-1.2.0", "chart_version": "1.2.0", "app_version": "2.4.0",
                      "values": {"image": {"tag": "******** (changed)"}}}}]
"""

from ansible.module_utils.basic import AnsibleModule

# First: the module_utils below then load through the bytecode cache (module_utils/bytecode_cache.py).
from ansible_collections.matih.helm.plugins.module_utils import bytecode_cache  # noqa: F401  pylint: disable=unused-import
from ansible_collections.matih.helm.plugins.module_utils.args import (
    CONNECTION_MUTUALLY_EXCLUSIVE, argument_spec, name_problems, step_option_problems,
)
from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    HelmClient, HelmError, run_concurrently, run_task, version_string,
)
from ansible_collections.matih.helm.plugins.module_utils.errors import NOT_FOUND, KubeError
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects, secret_masker
from ansible_collections.matih.helm.plugins.module_utils.preflight import Write, preflight
from ansible_collections.matih.helm.plugins.module_utils.release import parse_history, to_result
from ansible_collections.matih.helm.plugins.module_utils.release_lease import (
    ReleaseLease, lease_client, lease_error,
)
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore
from ansible_collections.matih.helm.plugins.module_utils.rollback import (
    ON_PENDING_CHOICES, RollbackRefused, build_diff, created_revision, parse_requested_revision, plan_rollback,
    select_target, values_needed, verify_rollback,
)

ROLLBACK_ARGS = dict(
    revision=dict(type="raw", required=True, aliases=["target_revision"]),
    wait=dict(type="bool", default=True),
    wait_for_jobs=dict(type="bool", default=False),
    timeout=dict(type="str", default="5m"),
    cleanup_on_fail=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    no_hooks=dict(type="bool", default=False, aliases=["disable_hook"]),
    history_max=dict(type="int"),
    allow_failed_target=dict(type="bool", default=False),
    on_pending=dict(type="str", default="fail", choices=list(ON_PENDING_CHOICES)),
    show_values=dict(type="bool", default=False),
)


def refusal_advice(kinds):
    """What to do about a preflight refusal with these ``error_kind``s: a missing right is the credentials' (any
    other revision needs the same rights), a refused object the target's."""
    if "access_denied" not in kinds:
        return "Roll back to another revision, or fix what refuses them."
    if kinds == {"access_denied"}:
        return "Grant the credentials the rights named; a rollback to another revision needs the same rights."
    return "Grant the credentials the rights named, and fix what refuses the objects (or roll back to another revision)."


class ReleaseRollback(object):
    """Read, plan, roll back (or dry-run), verify: one release, one task."""

    def __init__(self, module, helm, requested):
        self.module = module
        self.helm = helm
        self.store = ReleaseStore(helm.connection, helm)
        self.requested = requested
        self.params = module.params
        self.name = module.params["name"]
        self.namespace = module.params["release_namespace"]
        self.missing = False  # the release turned out not to exist

    def run(self):
        """Under the release's lease (read only, in check mode): read, plan, check the target with the API
        server, roll back, verify."""
        lease = ReleaseLease(lease_client(self.store, "helm_release_rollback"), self.name, self.namespace)
        try:
            lease.take(self.module.check_mode)  # LeaseHeld (locked) fails the task
        except KubeError as error:
            if error.kind != NOT_FOUND:
                raise lease_error(error, self.namespace)
            return self.roll_back()  # no such namespace, so no release: reading says so
        if self.module.check_mode:
            return self.roll_back()
        lease.start_renewing()
        try:
            return self.roll_back()
        finally:
            # fail_json ends the process through here too; a lease made for a release that does not exist goes
            warning = lease.finish(discard=self.missing and lease.previous is None)
            if warning:
                self.module.warn(warning)

    def roll_back(self):
        history, values = self.read_history()
        target = self.choose_target(history)
        latest = history[-1]
        wanted = [rev for rev in values_needed(history, target, self.module._diff) if rev not in values]
        if wanted:
            values.update(self.helm.get_values_many(self.name, self.namespace, wanted))
        plan = plan_rollback(history, target, values)

        diff = None
        if self.module._diff:
            manifests = self.read_manifests(plan) if plan.changed else None
            diff = build_diff(self.name, plan, values, manifests, self.params["show_values"])
        if not plan.changed:
            return self.result(plan, history, latest, "%s needs no rollback: %s." % (self.name, plan.reason), diff)
        checked = self.check_target(plan, history)
        if self.module.check_mode:
            command = self.rollback(plan, dry_run=True).command
            msg = "%s would be rolled back from revision %d to revision %d as revision %d: %s." % (
                self.name, plan.previous.revision, target.revision, plan.new_revision, plan.reason)
            # The prediction: Helm writes latest + 1 as a copy of the target and marks it deployed.
            return self.result(plan, history, target, msg, diff, command, revision=plan.new_revision,
                               status="deployed", preflight=checked.as_dict())

        command = self.rollback_or_fail(plan)
        after, created, new_values = self.read_result(plan)
        failures = verify_rollback(plan, after, values[target.revision], new_values)
        if failures:
            self.fail("%s was rolled back to revision %d, but the result does not check out: %s."
                      % (self.name, target.revision, "; ".join(failures)), after, plan=plan, shown=created,
                      failed_checks=failures, command=command)
        msg = "%s rolled back from revision %d to revision %d as revision %d (%s)." % (
            self.name, plan.previous.revision, target.revision, created.revision, created.status)
        return self.result(plan, after, created, msg, diff, command, preflight=checked.as_dict())

    def check_target(self, plan, history):
        """The API server's verdict on the target's objects (server-side apply dry runs, nothing stored); the
        task fails before Helm runs when it refuses one, so no revision is written."""
        manifest = self.store.manifest(self.name, self.namespace, plan.target.revision)
        # replace=False even with force: Helm's --force (--force-replace) replaces with a PUT, which an immutable
        # field refuses as well; only an uninstall and install recreate objects.
        writes = None
        if not self.module.check_mode:
            # Helm's rollback updates from the latest revision (Helm 4 deletes what the target drops), marks every
            # deployed revision superseded and the new one deployed (helm.sh/helm pkg/action/rollback.go)
            superseded = {rev.revision for rev in history if rev.status == "deployed"}
            writes = Write(self.helm.version().major, self.module.params["wait"], force=self.module.params["force"],
                           current=self.store.manifest(self.name, self.namespace, plan.previous.revision),
                           records=tuple(sorted(superseded | {plan.new_revision})))
        checked = preflight(LiveObjects(self.store), manifest, self.namespace, release=self.name,
                            on_secret_values=secret_masker(self.module), writes=writes)
        if checked.passed:
            return checked
        kinds = {refusal["error_kind"] for refusal in checked.refusals}
        verb = "would refuse" if self.module.check_mode else "refused"
        return self.fail("Not rolling back %s to revision %d: the API server %s its objects (server-side apply dry "
                         "run) or the credentials lack a right Helm's write needs, so no revision was written: %s. %s" % (
                             self.name, plan.target.revision, verb, checked.summary(), refusal_advice(kinds)),
                         history, plan=plan, preflight=checked.as_dict(),
                         error_kind="access_denied" if "access_denied" in kinds else "rejected")

    def choose_target(self, history):
        try:
            return select_target(history, self.requested, self.params["allow_failed_target"],
                                 self.params["on_pending"])
        except RollbackRefused as refusal:
            return self.fail("Not rolling back %s: %s." % (self.name, refusal), history)

    def stored_history(self):
        return parse_history(self.helm.history(self.name, self.namespace))

    def read_history(self):
        """The history and, when the target is a revision number, that revision's values, read at once."""
        wanted = [self.requested] if isinstance(self.requested, int) else []
        entries, values, values_error = self.store.history_and_values(self.name, self.namespace, wanted, missing_ok=True)
        history = parse_history(entries)
        if not history:
            self.missing = True
            self.module.fail_json(msg="Release %s does not exist in namespace %s, so there is nothing to roll back. "
                                      "Check name and release_namespace (matih.helm.helm_release_list finds releases "
                                      "in every namespace), or install the release first." % (self.name, self.namespace),
                                  history=[], rollback_candidates=[], helm_version=self.helm_version())
        if values_error is not None:
            raise values_error
        return history, values

    def read_result(self, plan):
        """The history after a rollback Helm reported as done, the revision it created and that revision's
        values. Helm has written a revision by now, so failing to read it back is still a change."""
        after, created = None, None
        try:
            # Helm writes previous + 1, so its values can be read at the same time as the history.
            entries, values, values_error = self.store.history_and_values(self.name, self.namespace, [plan.new_revision])
            after = parse_history(entries)
            created = created_revision(plan, after)
            if values_error is not None:
                raise values_error
            return after, created, values.get(plan.new_revision) if created else None
        except HelmError as error:
            unread = {} if created else dict(revision=plan.new_revision, status=None, chart=None, chart_version=None,
                                             app_version=None)
            return self.fail(
                "%s was rolled back from revision %d to revision %d (Helm reported success, so revision %d should "
                "exist), but the result could not be read back to verify it: %s. Check the release with: helm history "
                "%s -n %s" % (self.name, plan.previous.revision, plan.target.revision, plan.new_revision,
                              error.message, self.name, self.namespace),
                after, plan=plan, shown=created, error=error, changed=True, **unread)

    def read_manifests(self, plan):
        revisions = sorted({plan.previous.revision, plan.target.revision})
        manifests = run_concurrently(lambda rev: self.helm.get_manifest(self.name, self.namespace, rev), revisions)
        return dict(zip(revisions, manifests))

    def rollback(self, plan, dry_run=False):
        params = self.params
        return self.helm.rollback(
            self.name, self.namespace, plan.target.revision, wait=params["wait"],
            wait_for_jobs=params["wait_for_jobs"], timeout=params["timeout"], cleanup_on_fail=params["cleanup_on_fail"],
            force=params["force"], no_hooks=params["no_hooks"], history_max=params["history_max"], dry_run=dry_run,
        )

    def rollback_or_fail(self, plan):
        """Run the rollback and return its argv; when Helm fails, report the revision it left behind
        (if any) so the caller can pick the next recovery step."""
        try:
            return self.rollback(plan).command
        except HelmError as error:
            return self.fail_rollback(plan, error)

    def fail_rollback(self, plan, error):
        helm_said = error.message
        try:
            after = self.stored_history()
        except HelmError as reread:
            after = None  # unknown: not returned, rather than returned as an empty history
            helm_said += "; the history could not be read afterwards: %s" % reread.message
        written = created_revision(plan, after or [])
        # When Helm lost the race for the revision number, previous + 1 is the other writer's.
        created = None if error.kind == "revision_taken" else written
        if created:
            outcome = "Helm created revision %d with status %s (%s)" % (
                created.revision, created.status, created.description or "no description")
        elif error.kind == "revision_taken" and written:
            outcome = "Helm created no new revision: revision %d was written by another operation" % plan.new_revision
        else:
            outcome = "Helm created no new revision"
        self.fail("Rolling back %s from revision %d to revision %d failed: %s. %s." % (
            self.name, plan.previous.revision, plan.target.revision, helm_said, outcome),
            after, plan=plan, shown=created, error=error)

    def result(self, plan, history, shown, msg, diff=None, command=None, revision=None, status=None, preflight=None):
        summary = to_result(history)
        result = dict(
            changed=plan.changed, msg=msg, previous_revision=plan.previous.revision,
            target_revision=plan.target.revision, revision=revision or shown.revision,
            status=status or shown.status, chart=shown.chart, chart_version=shown.chart_version,
            app_version=shown.app_version, history=summary["history"],
            rollback_candidates=summary["rollback_candidates"], helm_version=self.helm_version(), command=command,
        )
        if preflight is not None:
            result["preflight"] = preflight
        if diff is not None:
            result["diff"] = diff
        return result

    def fail(self, msg, history, plan=None, shown=None, error=None, **extra):
        """Fail the task with what is known; ``history`` None when it could not be read."""
        details = dict(helm_version=self.helm_version())
        if history is not None:
            summary = to_result(history)
            details.update(history=summary["history"], rollback_candidates=summary["rollback_candidates"])
        if plan is not None:
            # A revision Helm wrote is a change even when the task fails.
            details["changed"] = shown is not None
            shown = shown or plan.previous
            details.update(previous_revision=plan.previous.revision, target_revision=plan.target.revision,
                           revision=shown.revision, status=shown.status, chart=shown.chart,
                           chart_version=shown.chart_version, app_version=shown.app_version)
        if error is not None:
            details.update(error_kind=error.kind, rc=error.rc, stdout=error.stdout, stderr=error.stderr,
                           command=error.command)
        details.update(extra)
        self.module.fail_json(msg=msg, **details)

    def helm_version(self):
        return version_string(self.helm.version())


def option_problems(params):
    """Every invalid option value, each with what to use instead (None where a check found nothing)."""
    problems = name_problems(params["name"], params["release_namespace"])
    try:
        parse_requested_revision(params["revision"])
    except ValueError as error:
        problems.append(str(error))
    return problems + step_option_problems(params)


def main():
    module = AnsibleModule(argument_spec=argument_spec(ROLLBACK_ARGS), supports_check_mode=True,
                           mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE)
    run_task(module, option_problems(module.params), lambda: ReleaseRollback(
        module, HelmClient(module), parse_requested_revision(module.params["revision"])).run())


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_recover
short_description: Recover a failed or stuck Helm release, trying rollbacks, an upgrade and a reinstall in order
version_added: 0.1.0
description:
  - Reads the release history and decides. A release whose latest revision is C(deployed) is left alone. A missing
    release is reported. A C(pending-*) latest revision is left alone unless O(unlock_pending) is set or it is
    older than O(unlock_pending_after).
  - Otherwise tries the steps of O(strategies) in order until the latest revision is C(deployed) again, reading
    the history after every step. A step recovered the release only when that holds, whatever Helm reported.
  - V(rollback_last_successful) rolls back to the newest revision that reached DEPLOYED.
    V(rollback_previous_good) rolls back to the next older revision that reached DEPLOYED with another chart or other
    values than the last successful one. V(upgrade) runs C(helm upgrade) with the known-good configuration, and
    V(reinstall) runs C(helm uninstall) and C(helm install --replace) with it.
  - The known-good configuration is O(chart_ref), O(chart_version) and O(values) where given, else the chart name
    (looked up in O(chart_repo_url)), chart version and user values of the last revision that reached DEPLOYED.
    Without a chart reference, or without values when no revision ever reached DEPLOYED, the upgrade and reinstall
    steps are skipped with the reason.
  - With O(detect_drift=true), a release whose latest revision is C(deployed) is also compared with the cluster, as
    M(matih.helm.helm_release_drift) compares it. When objects are missing or modified the verdict is C(drifted) and
    the one step is V(repair_drift), a rollback to that deployed revision itself (a new revision with the same chart
    and values, its manifest applied again; on Helm 4 with C(--force-conflicts), since a hand edit owns the fields it
    changed). The repair recovered the release only when a second drift check finds nothing drifted.
  - Every step creates new revisions; no history entry is ever removed, except by V(reinstall) with
    O(keep_history=false), which purges the release.
  - The decisions are pure functions (the collection's C(recovery) module utility); this module runs Helm for
    them. It is what the M(matih.helm.helm_release_history) and M(matih.helm.helm_release_rollback) modules and
    C(kubernetes.core.helm) did in the C(release_recovery) role, in one task.
options:
  strategies:
    description:
      - The recovery steps, tried in this order until the release is deployed again. Each may be given once.
      - An empty list only reads the release and reports the verdict.
    type: list
    elements: str
    choices: [ rollback_last_successful, rollback_previous_good, upgrade, reinstall ]
    default: [ rollback_last_successful, rollback_previous_good, upgrade, reinstall ]
  unlock_pending:
    description:
      - Free a release whose latest revision is C(pending-install), C(pending-upgrade) or C(pending-rollback) by
        rolling back (Helm's own way out), whatever its age.
      - When false, a pending release is left alone, since the operation may still be running; see
        O(unlock_pending_after).
    type: bool
    default: false
  unlock_pending_after:
    description:
      - A Helm duration such as V(30m). A pending latest revision that Helm last updated longer ago than this counts
        as stale and is freed; a younger one is left alone and reported with outcome C(pending) and its age.
      - Not set (the default) leaves every pending release alone unless O(unlock_pending) is set; the outcome is
        then C(failed).
    type: str
  chart_ref:
    description:
      - Chart for the upgrade and reinstall steps (repository/name, path, URL or OCI reference).
      - Empty means the chart name of the last good revision, looked up in O(chart_repo_url).
    type: str
    default: ""
  chart_repo_url:
    description: Chart repository URL for the upgrade and reinstall steps (C(--repo)).
    type: str
    default: ""
  chart_version:
    description:
      - Chart version for the upgrade and reinstall steps. Empty means the last good revision's chart version.
    type: str
    default: ""
  values:
    description:
      - User values for the upgrade and reinstall steps, passed to Helm in a private temporary file.
      - Not set means the user values of the last revision that reached DEPLOYED.
    type: dict
  wait:
    description: Wait until the resources are ready after each step (Helm 3 C(--wait), Helm 4 C(--wait=watcher)).
    type: bool
    default: true
  wait_for_jobs:
    description: Also wait for Jobs to complete. Needs O(wait=true).
    type: bool
    default: false
  timeout:
    description: Helm duration each step may take, greater than zero (for example V(5m) or V(90s)).
    type: str
    default: 5m
  cleanup_on_fail:
    description: Delete the resources a failed rollback or upgrade created (C(--cleanup-on-fail)).
    type: bool
    default: false
  history_max:
    description:
      - Revisions Helm keeps after each rollback and upgrade (C(--history-max)). V(0), the default, means no limit,
        so recovery never prunes a revision a later recovery may need.
    type: int
    default: 0
  keep_history:
    description:
      - The reinstall step uninstalls with C(--keep-history), so the revisions stay and numbering continues.
      - V(false) purges the release and its whole history before installing again.
    type: bool
    default: true
  hold:
    description:
      - When not empty, nothing is tried and the outcome is C(held) with this text as the reason. The fleet
        brakes of the C(fleet_remediation) role use it.
    type: str
    default: ""
  show_values:
    description: Show the user values in the diff; by default every value is masked, keys stay visible.
    type: bool
    default: false
  detect_drift:
    description:
      - Check a deployed release's live objects against its latest revision and repair them when they drifted
        (verdict C(drifted), step V(repair_drift)). Reads the live objects from the Kubernetes API, as
        M(matih.helm.helm_release_drift) does, and needs its read rights.
      - V(false) (the default) takes a deployed release as healthy, as Helm does.
    type: bool
    default: false
  drift_ignore_fields:
    description:
      - Fields that are not drift, per kind, as M(matih.helm.helm_release_drift)'s C(ignore_fields) takes them (for
        example C(Deployment) C([spec.replicas]) when an autoscaler owns them).
    type: dict
    default: {}
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
      - Nothing changes (a drift check only reads). The result is the exact plan. Each step is validated with Helm's dry run
        (C(helm rollback) or C(helm upgrade) with C(--dry-run) on Helm 3, C(--dry-run=server) on Helm 4;
        C(helm uninstall --dry-run) for a reinstall) and the first whose dry run succeeds has outcome C(planned).
  diff_mode:
    support: full
    details:
      - The chart and user values (masked unless O(show_values=true)) of the latest revision and of what the
        settling step restores.
notes:
  - Helm does not lock releases. Run one recovery per release at a time.
  - A drift check costs a few API requests (see M(matih.helm.helm_release_drift)); the repair makes a second check.
    Drift is checked only when the latest revision is C(deployed); a failed or pending release goes up the ladder,
    whose rollbacks and upgrades apply a whole manifest anyway.
  - A reinstall deletes the release's objects before installing them again; the C(fleet_remediation) role leaves
    it out of its default steps.
  - The upgrade and reinstall steps pass the values in one file and nothing else. Use C(kubernetes.core.helm) for
    values files, C(--set) options or the helm-diff plugin.
  - Helm versions are detected once per binary (path, size and modification time) and remembered in
    C(~/.cache/matih-helm/helm-versions.json) (C($XDG_CACHE_HOME) if set).
seealso:
  - module: matih.helm.helm_release_history
  - module: matih.helm.helm_release_rollback
  - name: the release_recovery role
    description: This module with its inputs validated and its result published as C(release_recovery_result).
    link: https://github.com/matih-platform/matih.helm/tree/main/roles/release_recovery
author:
  - matih.helm maintainers (@matih-platform)
"""

EXAMPLES = r"""
- name: Recover the web release with rollbacks only
  matih.helm.helm_release_recover:
    name: web
    release_namespace: shop
    strategies: [rollback_last_successful, rollback_previous_good]
  register: web_recovery

- name: Report the outcome
  ansible.builtin.debug:
    msg: "{{ web_recovery.outcome }}: {{ web_recovery.reason }}"

- name: Preview the whole ladder with a known-good chart (nothing changes)
  matih.helm.helm_release_recover:
    name: web
    namespace: shop
    chart_ref: oci://registry.example.com/charts/web
    values:
      replicas: 2
    unlock_pending_after: 30m
  check_mode: true
  register: web_plan

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ web_plan.plan }}"

- name: Repair the web release when its objects no longer match its deployed revision
  matih.helm.helm_release_recover:
    name: web
    namespace: shop
    detect_drift: true
    drift_ignore_fields:
      Deployment: [spec.replicas]
  register: web_repair
"""

RETURN = r"""
msg:
  description: One line with the outcome and its reason.
  returned: always
  type: str
  sample: "web in shop: recovered (latest revision 3 is failed; rollback_last_successful recovered it)"
release:
  description: Name of the release.
  returned: success
  type: str
  sample: web
namespace:
  description: Namespace of the release.
  returned: success
  type: str
  sample: shop
verdict:
  description:
    - What the history said before anything ran, V(healthy), V(missing), V(pending), V(held) or V(recover), and
      V(drifted) (with O(detect_drift=true), a deployed release whose objects no longer match it).
  returned: success
  type: str
  sample: recover
outcome:
  description:
    - V(healthy) (nothing to do), V(recovered), V(planned) (check mode), V(failed) (no step brought the release
      back, or a pending or missing release), V(pending) (left alone, younger than O(unlock_pending_after)) or
      V(held) (see O(hold)).
  returned: success
  type: str
  sample: recovered
action:
  description: The last step that ran (or would run in check mode); V(none) when none did.
  returned: success
  type: str
  sample: rollback_last_successful
reason:
  description: Why, in words.
  returned: success
  type: str
  sample: "latest revision 3 is failed; rollback_last_successful recovered it"
plan:
  description: The steps in the order they would be tried, each with its target, or why it cannot run.
  returned: success
  type: list
  elements: dict
  sample: [{"action": "rollback_last_successful", "target_revision": 2, "runnable": true, "skip_reason": ""}]
actions:
  description:
    - The action log, one entry per step tried or skipped, with C(action), C(outcome) (V(recovered), V(failed),
      V(planned) or V(skipped)) and either C(reason) (skipped) or C(changed), C(revision), C(status),
      C(chart_version) (of the latest revision after the step) and C(error) (Helm's, empty when it succeeded).
    - Rollbacks add C(target_revision); upgrades and reinstalls C(chart_ref), reinstalls C(keep_history).
  returned: success
  type: list
  elements: dict
  sample: [{"action": "rollback_last_successful", "target_revision": 2, "outcome": "recovered", "changed": true,
            "revision": 4, "status": "deployed", "chart_version": "1.1.0", "error": ""}]
before:
  description: The latest revision before recovery (revision, status, chart_version, app_version).
  returned: success
  type: dict
  sample: {"revision": 3, "status": "failed", "chart_version": "1.2.0", "app_version": "1.2.0"}
after:
  description: The latest revision after recovery, in the same form.
  returned: success
  type: dict
  sample: {"revision": 4, "status": "deployed", "chart_version": "1.1.0", "app_version": "1.1.0"}
drift:
  description:
    - The drift check of the deployed latest revision, C(revision), C(drifted), C(objects) (those not in sync, each
      with C(kind), C(namespace), C(name), C(state) and the C(fields) paths, never values), C(summary),
      C(api_requests), and C(after), the check after the repair in the same form (null when no repair ran).
    - Also in RV(report).
  returned: with O(detect_drift=true), when the latest revision was deployed
  type: dict
  sample: {"revision": 3, "drifted": true, "objects": [{"kind": "Deployment", "namespace": "shop", "name": "web",
           "state": "modified", "fields": ["spec.replicas"]}], "summary": {"objects": 4, "missing": 0, "modified": 1,
           "in_sync": 3}, "api_requests": 6, "after": {"revision": 4, "drifted": false, "objects": []}}
pending_age:
  description: Seconds since Helm last updated the pending latest revision.
  returned: when the latest revision is pending
  type: int
  sample: 420
check_mode:
  description: Whether the task ran in check mode (also a task-level C(check_mode)).
  returned: success
  type: bool
  sample: false
report:
  description:
    - The fields above as one dictionary (release, namespace, check_mode, helm_version, before, after, actions,
      action, outcome, reason, and drift when checked), as the C(release_recovery) role publishes it and the fleet report lists it.
  returned: success
  type: dict
helm_version:
  description: Version of the Helm binary that was run.
  returned: success
  type: str
  sample: "3.17.3"
diff:
  description:
    - In diff mode, the chart and user values of the latest revision and of what the settling step restores (the step
      that recovered the release, or in check mode the step that would).
  returned: in diff mode, when a step settled the release
  type: dict
error_kind:
  description:
    - The kind of failure when Helm fails or cannot run, one of a closed set. RV(msg) says what went wrong and what to
      check.
    - V(binary_not_found) - no Helm at O(binary_path), or none on E(PATH). V(not_helm) - the binary does not answer
      C(helm version) as Helm does. V(unsupported_version) - Helm is older than 3.8.0 or of another major than 3 and
      4, or older than 3.10 with O(validate_certs=false).
    - V(invalid_kubeconfig), V(unknown_context), V(no_api_server) - the kubeconfig cannot be loaded, does not have the
      context, or names no API server for it. They are checked before Helm runs where the module can.
    - V(cluster_unreachable) - the API server cannot be reached. V(access_denied) - the API server rejected the
      credentials, or RBAC does not allow them the request. V(timeout) - Helm timed out, for example waiting for
      resources to be ready.
    - V(release_not_found), V(revision_not_found) - the release, or the revision, is not stored (Helm may have pruned
      it). V(operation_in_progress) - another operation holds the release (a C(pending-*) revision).
      V(revision_taken) - a concurrent operation stored the next revision first.
    - V(rejected) - the cluster refused the release's objects (a ResourceQuota or LimitRange, the PodSecurity level,
      an admission webhook or policy, object validation); the credentials are not the problem.
    - V(helm_crashed) - Helm panicked, usually on a corrupt release record. V(invalid_output) - Helm printed output
      that is not JSON. V(helm_failed) - any other Helm error.
    - V(rejected) and V(revision_taken) come only from a Helm call that writes a revision, which fails the task only in
      M(matih.helm.helm_release_rollback).
    - With the drift check (O(detect_drift=true)), also the failures of its Kubernetes API reads, V(unsupported_kubeconfig) (the
      kubeconfig authenticates in a way only Helm supports, such as an C(auth-provider)), V(unsupported_environment)
      (E(HELM_DRIVER) keeps the records elsewhere than in Secrets), V(throttled), V(not_found), V(conflict),
      V(api_error) (RV(api_status) has the HTTP status), and V(invalid_release_record).
  returned: when Helm fails or cannot run
  type: str
  choices:
    - binary_not_found
    - not_helm
    - unsupported_version
    - invalid_kubeconfig
    - unknown_context
    - no_api_server
    - cluster_unreachable
    - access_denied
    - timeout
    - release_not_found
    - revision_not_found
    - operation_in_progress
    - revision_taken
    - rejected
    - helm_crashed
    - invalid_output
    - helm_failed
    - unsupported_kubeconfig
    - unsupported_environment
    - throttled
    - not_found
    - conflict
    - api_error
    - invalid_release_record
  sample: cluster_unreachable
api_status:
  description:
    - The HTTP status the Kubernetes API server answered the drift check's request that failed with (403 for an RBAC
      denial, 429 when it throttled), when it answered at all.
  returned: when the API server refused the drift check
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
  sample: ["/usr/local/bin/helm", "history", "web", "--namespace", "shop", "--output", "json", "--max", "2147483647"]
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.matih.helm.plugins.module_utils.args import (
    CONNECTION_MUTUALLY_EXCLUSIVE, argument_spec, name_problems, step_option_problems,
)
from ansible_collections.matih.helm.plugins.module_utils.drift import check_release_drift, drift_digest, parse_ignore_fields
from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    HelmClient, HelmError, run_task, version_string,
)
from ansible_collections.matih.helm.plugins.module_utils.errors import TaskError
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects, secret_masker
from ansible_collections.matih.helm.plugins.module_utils.recovery import (
    FAILED, REINSTALL, REPAIR_DRIFT, ROLLBACK_STEPS, SKIPPED, STRATEGIES, UPGRADE, Attempt, Options,
    plan_recovery, recheck_step, repair_outcome, report_entry, settles, step_outcome, strategy_problems,
)
from ansible_collections.matih.helm.plugins.module_utils.release import last_successful, parse_history, values_to_read
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore, driver_problem
from ansible_collections.matih.helm.plugins.module_utils.durations import duration_nanoseconds
from ansible_collections.matih.helm.plugins.module_utils.masking import build_values_diff

RECOVER_ARGS = dict(
    strategies=dict(type="list", elements="str", choices=list(STRATEGIES), default=list(STRATEGIES)),
    unlock_pending=dict(type="bool", default=False),
    unlock_pending_after=dict(type="str"),
    chart_ref=dict(type="str", default=""),
    chart_repo_url=dict(type="str", default=""),
    chart_version=dict(type="str", default=""),
    values=dict(type="dict"),
    wait=dict(type="bool", default=True),
    wait_for_jobs=dict(type="bool", default=False),
    timeout=dict(type="str", default="5m"),
    cleanup_on_fail=dict(type="bool", default=False),
    history_max=dict(type="int", default=0),
    keep_history=dict(type="bool", default=True),
    hold=dict(type="str", default=""),
    show_values=dict(type="bool", default=False),
    detect_drift=dict(type="bool", default=False),
    drift_ignore_fields=dict(type="dict", default={}),
)


class ReleaseRecovery(object):
    """Read, plan, run the steps one by one until one settles, report: one release, one task."""

    def __init__(self, module, helm, options):
        self.module = module
        self.helm = helm
        self.store = ReleaseStore(helm.connection, helm)
        self.options = options
        self.params = module.params
        self.name = module.params["name"]
        self.namespace = module.params["release_namespace"]
        self.check_mode = module.check_mode
        self.drift_ignore = parse_ignore_fields(module.params["drift_ignore_fields"])[0]

    def run(self):
        # From the release records, one request gives every revision's values with the history.
        entries, values, values_error = self.store.history_and_values(self.name, self.namespace, missing_ok=True)
        if values_error is not None:
            raise values_error
        history = parse_history(entries)
        # Through Helm, only the values of revisions that reached DEPLOYED matter (known-good
        # configuration, previous-good comparison); failed and pending ones cost no Helm call.
        wanted = values_to_read(history, "successful") if self.needs_values(history) else []
        missing = [revision for revision in wanted if revision not in values]
        if missing:
            values.update(self.helm.get_values_many(self.name, self.namespace, missing))
        drift = self.check_drift() if self.wants_drift_check(history) else None
        plan = plan_recovery(history, values, self.options, now=datetime.datetime.now(datetime.timezone.utc),
                             drift=drift)
        attempts, current = [], history
        for step in plan.steps if plan.needs_recovery else ():
            step = recheck_step(step, current)
            if not step.runnable:
                attempts.append(Attempt(step, outcome=SKIPPED))
                continue
            attempt, current = self.attempt(step, current)
            if step.action == REPAIR_DRIFT:
                drift["after"] = self.recheck_drift(attempt)
            attempts.append(attempt)
            if settles(attempt.outcome):
                break
        if drift is not None:
            drift.setdefault("after", None)
        before = history[-1] if history else None
        after = current[-1] if current else None
        report = report_entry(self.name, self.namespace, plan, attempts, before, after, self.options,
                              self.check_mode, self.helm_version(), drift=drift)
        result = dict(report, report=report, verdict=plan.verdict, plan=[self.describe(step) for step in plan.steps],
                      changed=any(attempt.changed for attempt in attempts),
                      msg="%s in %s: %s (%s)" % (self.name, self.namespace, report["outcome"], report["reason"]))
        settled = [attempt for attempt in attempts if settles(attempt.outcome)]
        if self.module._diff and settled:
            result["diff"] = self.diff(history, values, settled[-1].step)
        return result

    def wants_drift_check(self, history):
        deployed = bool(history) and history[-1].status == "deployed"
        return bool(self.params["detect_drift"] and not self.options.hold and deployed)

    def check_drift(self):
        """The drift of the latest revision (drift_digest's form), read from the Kubernetes API."""
        self.store.require_direct("detect_drift=true")
        return drift_digest(check_release_drift(LiveObjects(self.store), self.name, self.namespace, None, self.drift_ignore, False,
                                                on_secret_values=secret_masker(self.module)))

    def recheck_drift(self, attempt):
        """After a repair that ran: the drift again, and the attempt failed when something still drifts."""
        if self.check_mode or not settles(attempt.outcome):
            return None
        try:
            after = self.check_drift()
        except TaskError as error:
            attempt.outcome, attempt.error = FAILED, "the drift could not be checked after the repair: %s" % (
                error.message)
            return None
        attempt.outcome, attempt.error = repair_outcome(attempt.outcome, after)
        return after

    def needs_values(self, history):
        if self.options.hold or not history or history[-1].status == "deployed":
            return False
        # The caller's values make the last good revision's unnecessary, unless a step compares them.
        return self.options.values is None or "rollback_previous_good" in self.options.strategies

    def read_history(self):
        return parse_history(self.store.history(self.name, self.namespace))

    def attempt(self, step, current):
        """Run (or dry-run) one step and read the history after it: (Attempt, history now)."""
        latest = current[-1] if current else None
        attempt = Attempt(step)
        try:
            self.execute(step, latest)
            attempt.changed = True
        except HelmError as error:
            attempt.error = error.message
        if self.check_mode:
            attempt.latest = latest
        else:
            try:
                current = self.read_history()
            except HelmError as error:
                attempt.error = "; ".join(filter(None, [attempt.error, "the history could not be read after the "
                                                        "step: %s" % error.message]))
                current = []
            attempt.latest = current[-1] if current else None
            # Helm wrote something (a revision, an uninstall) whenever the latest revision moved.
            attempt.changed = self.moved(latest, attempt.latest)
        attempt.outcome = step_outcome(self.check_mode, bool(attempt.error), attempt.changed, attempt.latest)
        return attempt, current

    @staticmethod
    def moved(before, after):
        def state(rev):
            return (rev.revision, rev.status) if rev else None
        return state(before) != state(after)

    def execute(self, step, latest):
        params, dry_run = self.params, self.check_mode
        if step.action in ROLLBACK_STEPS:
            self.helm.rollback(self.name, self.namespace, step.target_revision, wait=params["wait"],
                               wait_for_jobs=params["wait_for_jobs"], timeout=params["timeout"],
                               cleanup_on_fail=params["cleanup_on_fail"], history_max=params["history_max"],
                               dry_run=dry_run, force_conflicts=step.action == REPAIR_DRIFT)
            return
        config = step.config
        if step.action == UPGRADE:
            self.helm.upgrade(self.name, self.namespace, config, self.helm.values_file(config.values),
                              wait=params["wait"], wait_for_jobs=params["wait_for_jobs"], timeout=params["timeout"],
                              cleanup_on_fail=params["cleanup_on_fail"], history_max=params["history_max"],
                              dry_run=dry_run)
            return
        if step.action == REINSTALL:
            # An uninstalled latest revision (kept history) has nothing left to uninstall.
            if latest is not None and latest.status != "uninstalled":
                self.helm.uninstall(self.name, self.namespace, keep_history=step.keep_history, wait=params["wait"],
                                    timeout=params["timeout"], dry_run=dry_run)
            if not dry_run:
                # The release still exists during a dry run, so only the uninstall can be validated.
                self.helm.install(self.name, self.namespace, config, self.helm.values_file(config.values),
                                  wait=params["wait"], wait_for_jobs=params["wait_for_jobs"],
                                  timeout=params["timeout"], replace=True)

    def diff(self, history, values, step):
        latest = history[-1]
        latest_values = values.get(latest.revision)
        if latest_values is None:
            latest_values = self.helm.get_values(self.name, self.namespace, latest.revision)
        if step.action in ROLLBACK_STEPS:
            target = next(rev for rev in history if rev.revision == step.target_revision)
            after = dict(chart=target.chart, chart_version=target.chart_version, app_version=target.app_version,
                         values=values.get(target.revision) or {})
            label = ("repair of revision %d" if step.action == REPAIR_DRIFT else "rollback to revision %d") % (
                target.revision)
        else:
            good = last_successful(history)
            after = dict(chart=step.config.chart_ref, chart_version=step.config.chart_version or None,
                         app_version=good.app_version if good else None, values=step.config.values or {})
            label = "%s with %s" % (step.action, step.config.chart_ref)
        before = dict(chart=latest.chart, chart_version=latest.chart_version, app_version=latest.app_version,
                      values=latest_values or {})
        return build_values_diff("%s revision %d (%s)" % (self.name, latest.revision, latest.status),
                                 "%s after %s" % (self.name, label), before, after, self.params["show_values"])

    @staticmethod
    def describe(step):
        return dict(step.describe(), runnable=step.runnable, skip_reason=step.skip_reason)

    def helm_version(self):
        return version_string(self.helm.version())


def options_from(params):
    after = params["unlock_pending_after"]
    return Options(
        strategies=tuple(params["strategies"]), unlock_pending=params["unlock_pending"],
        unlock_pending_after=duration_nanoseconds(after) / 1e9 if after else None,
        chart_ref=params["chart_ref"], chart_repo_url=params["chart_repo_url"], chart_version=params["chart_version"],
        values=params["values"], keep_history=params["keep_history"], hold=params["hold"],
    )


def option_problems(params):
    """Every invalid option value, each with what to use instead."""
    problems = name_problems(params["name"], params["release_namespace"])
    problems += strategy_problems(params["strategies"])
    problems += parse_ignore_fields(params["drift_ignore_fields"])[1]
    if params["detect_drift"]:
        problems += [problem for problem in [driver_problem(dict(os.environ), "detect_drift=true")] if problem]
    after = params["unlock_pending_after"]
    if after is not None and not duration_nanoseconds(after):
        problems.append("unlock_pending_after %r is not a Helm duration greater than zero; use for example 30m or 2h"
                        % (after,))
    return problems + step_option_problems(params)


def main():
    module = AnsibleModule(argument_spec=argument_spec(RECOVER_ARGS), supports_check_mode=True,
                           mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE)
    run_task(module, option_problems(module.params), lambda: ReleaseRecovery(
        module, HelmClient(module), options_from(module.params)).run())


if __name__ == "__main__":
    main()

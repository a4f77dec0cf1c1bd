#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_recover
short_description: Recover a failed or stuck Helm release, one actor at a time, trying rollbacks and an upgrade in order
version_added: 0.1.0
description:
  - Takes the release's lease first (a C(coordination.k8s.io/v1) Lease named C(matih-helm.<release>) in the release
    namespace), so no other actor of this collection (a schedule, a person, an event-driven rule) works on the
    release at the same time. A lease another live actor holds makes the outcome C(deferred), naming the holder; a
    lease whose holder stopped renewing it is taken over. In check mode the lease is only read.
  - Reads the release history and decides. A release whose latest revision is C(deployed) is left alone. A missing
    release is reported. A C(pending-*) latest revision is left alone unless O(unlock_pending) is set or it is
    older than O(unlock_pending_after). A latest revision C(uninstalled) or C(uninstalling) was removed on purpose and
    is left alone (outcome C(uninstalled)) unless O(recover_uninstalled=true).
  - Otherwise tries the steps of O(strategies) in order until the latest revision is C(deployed) again, reading
    the history after every step. A step recovered the release only when that holds, whatever Helm reported.
  - Before each step, the API server checks its target (the preflight) - every object of the revision a rollback
    restores, or of the chart an upgrade or reinstall installs (rendered by Helm's own upgrade dry run), sent as a
    server-side apply dry run. An API version no longer served, an admission or policy rejection, an immutable
    field or a quota makes the step C(refused) with the reason, and no revision is written. Hooks are not checked
    (they are not in a release's manifest).
  - The ladder moves to the next step only on a verdict about the target - the preflight or admission refused it,
    or Helm wrote it and its rollout failed. A step that failed because the API server could not be reached or
    throttled, another writer got there first, or an operation is in progress stops the ladder with outcome
    C(deferred) and its RV(error_kind), so nothing escalates on a transient error. A failure the next step would meet
    as well (no rights, an unknown Helm error) stops it with outcome C(failed).
  - Remembers its attempts in the lease (annotation C(matih.helm/attempts) - the latest revision it left, how many
    recoveries of it failed, the last one's time, outcome and reason). Inside O(backoff) after a failed recovery a
    run is C(deferred) with RV(retry_in); after O(max_attempts) failed recoveries the release is C(quarantined) and
    left alone until its latest revision changes (someone deployed) or O(clear_quarantine=true). The memory keeps
    the steps and how each ended, never an error's text.
  - Just before each step, the history is read again, and the step runs only when the latest revision is still
    the one last seen, in the same status, and the lease is still held (renewed within the last 45 seconds);
    otherwise the ladder stops as C(deferred) (V(concurrent_change) or V(locked)).
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
      - V(reinstall) uninstalls the release first (Services and PersistentVolumeClaims of the chart go with it), so it
        runs only when listed here.
      - An empty list only reads the release and reports the verdict.
    type: list
    elements: str
    choices: [ rollback_last_successful, rollback_previous_good, upgrade, reinstall ]
    default: [ rollback_last_successful, rollback_previous_good, upgrade ]
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
      - The age counts from the later of the revision's update and the last renewal of the release's lease by an
        actor that never released it (it died, or its lease expired while it worked). A pending release whose lease is
        alive is never freed (outcome C(deferred), RV(error_kind) V(locked)).
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
      - Revisions Helm keeps after each rollback and upgrade (C(--history-max)). Helm prunes the oldest but always
        keeps the last deployed one, which the rollbacks need.
      - Not set (the default) - Helm's own default, 10, or E(HELM_MAX_HISTORY) when set. V(0) means no limit.
    type: int
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
  max_attempts:
    description:
      - Failed recoveries of one release (of the latest revision as the last recovery left it) after which it is
        C(quarantined) - left alone and reported until its latest revision changes or O(clear_quarantine=true).
      - A C(deferred) run is not an attempt, nor is one that tried no step. V(0) never quarantines; the O(backoff)
        still applies.
    type: int
    default: 3
  backoff:
    description:
      - A Helm duration to wait after a failed recovery before the next one, doubled after each further failure
        (V(5m), V(10m), V(20m)...). Inside it, a run is C(deferred) with the time left in RV(retry_in).
      - V(0s) turns it off.
    type: str
    default: 5m
  clear_quarantine:
    description: Forget the failed attempts recorded for the release, so a quarantined release is tried again.
    type: bool
    default: false
  recover_uninstalled:
    description:
      - Recover a release whose latest revision is C(uninstalled) (uninstalled with C(--keep-history)) or
        C(uninstalling). By default such a release was removed on purpose and is left alone.
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
      - Nothing changes (a drift check only reads, the lease is only read). The result is the exact plan. Each step's
        target goes through the preflight (server-side apply dry runs of its objects) and Helm's dry run (C(helm
        rollback) with C(--dry-run); an upgrade's is the rendering for the preflight; C(helm uninstall --dry-run) for a
        reinstall). The first step whose checks pass has outcome C(planned); the steps before it C(would_fail) with
        the reason.
  diff_mode:
    support: full
    details:
      - The chart and user values (masked unless O(show_values=true)) of the latest revision and of what the
        settling step restores.
notes:
  - Needs C(get), C(create) and C(update) on C(leases.coordination.k8s.io) in the release namespace (the lease), and
    C(patch) on the chart's kinds there (the preflight's dry runs) besides what Helm needs. With C(delete) on leases
    too, a lease made for a release that does not exist is deleted again (else it is only released).
  - Before Helm writes a step (not in check mode) the preflight also asks the API server (one SelfSubjectRulesReview
    per namespace, trusted only when complete and only to show a right held; a SelfSubjectAccessReview for each other
    right) whether the credentials may do what Helm's write needs besides the dry runs' C(patch) - for a rollback or
    an upgrade C(create) on Secrets and C(update) on the records Helm marks (the release records), C(get) on each object
    of the target, with Helm 4 C(delete) on each object of the current release the target drops that exists and is not
    annotated C(helm.sh/resource-policy) C(keep) (one GET each first, as Helm 4 skips one it cannot get or that is kept,
    deletes the others and fails on a refused delete; Helm 3 only logs it); for a reinstall C(delete) on each object of
    the current release not annotated keep (and on the release's records without keep_history), with O(wait) what the
    uninstall's wait reads (C(get) on each of those objects with Helm 3, C(list) and C(watch) on their kinds with Helm
    4), C(get) (the install's conflict check) on each object and C(create) on each kind of the target, C(create) on
    Secrets and C(update) on the records the install marks; and what Helm's wait reads (C(list) and C(watch) on the
    target's kinds with Helm 4; C(list) on a Deployment's C(replicasets), and C(list) on C(pods) for a StatefulSet or
    ReplicaSet with Helm 4, a ReplicaSet or ReplicationController with Helm 3). Rights on one object are asked with its
    name (a Role's C(resourceNames) count). A missing right refuses the step with RV(error_kind) V(access_denied) naming
    the verb, resource and namespace; Helm would otherwise store a failed revision when it meets the 403. An authorizer
    that cannot decide (an C(evaluationError), which RBAC also reports for a binding that names a missing Role) defers
    the step; a server that answers no access review leaves the rights unchecked, said so in the attempt's C(preflight)
    C(unchecked). C(extensions/rbac/recoverer.yml) grants the rights for the demo chart's kinds; add the chart's own
    kinds.
  - The lease is renewed every 20 seconds while a step runs and expires 60 seconds after the last renewal, so an
    actor that died is taken over a minute later. Helm itself does not lock releases; actors other than this
    collection are kept off only by Helm's own check on the next revision (RV(error_kind) V(revision_taken)).
  - Preflight cost - one API request per object of the target (at once, a few at a time) plus one discovery request
    per API group version that is not built in; an upgrade or reinstall also runs Helm's upgrade dry run once to
    render the chart.
  - A drift check costs a few API requests (see M(matih.helm.helm_release_drift)); the repair makes a second check.
    Drift is checked only when the latest revision is C(deployed); a failed or pending release goes up the ladder,
    whose rollbacks and upgrades apply a whole manifest anyway.
  - A reinstall deletes the release's objects before installing them again; it runs only when O(strategies) lists it.
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

- name: Recover on a schedule - at most 3 failed tries of one revision, 10 minutes apart and doubling
  matih.helm.helm_release_recover:
    name: web
    namespace: shop
    max_attempts: 3
    backoff: 10m
    history_max: 20
  register: scheduled

- name: Say what the run did (deferred and quarantined releases name why)
  ansible.builtin.debug:
    msg: "{{ scheduled.outcome }} {{ scheduled.error_kind | default('') }}: {{ scheduled.reason }}"

- name: Try a quarantined release again after a fix
  matih.helm.helm_release_recover:
    name: web
    namespace: shop
    clear_quarantine: true

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
      V(drifted) (with O(detect_drift=true), a deployed release whose objects no longer match it), V(uninstalled)
      (see O(recover_uninstalled)), V(quarantined) (see O(max_attempts)) or V(deferred) (the lease is held, the API
      server could not be asked, or a failed recovery's O(backoff) has not passed).
  returned: success
  type: str
  sample: recover
outcome:
  description:
    - V(healthy) (nothing to do), V(recovered), V(planned) (check mode), V(would_fail) (check mode, no step would
      bring the release back), V(failed) (no step brought the release back, or a pending or missing release),
      V(pending) (left alone, younger than O(unlock_pending_after)), V(held) (see O(hold)), V(deferred) (retry later,
      nothing escalated; RV(error_kind) says why), V(quarantined) or V(uninstalled).
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
      V(refused) (the preflight refused the target, nothing was written), V(deferred), V(planned), V(would_fail) or
      V(skipped)) and either C(reason) (skipped) or C(changed), C(revision), C(status), C(chart_version) (of the
      latest revision after the step), C(error) (empty when it succeeded) and C(error_kind) (see RV(error_kind)).
    - C(preflight) - the API server's check of the target, C(passed), C(objects) (how many were checked),
      C(refusals) (each with C(kind), C(name), C(namespace), C(error_kind) and C(reason)), C(unchecked) (objects
      that cannot be dry-run before others exist, with the reason), C(requests) and C(summary) (one line).
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
attempts:
  description:
    - The memory of failed recoveries kept in the release's lease after this run - C(revision) (the latest revision as
      the last recovery left it), C(attempts), C(last_attempt), C(last_outcome), C(reason), C(max_attempts),
      C(quarantined) and C(next_attempt) (the end of the backoff). Null when there is nothing to remember (the
      release is healthy or was recovered) or the lease could not be read.
    - Also in RV(report).
  returned: success
  type: dict
  sample: {"revision": 5, "attempts": 1, "last_attempt": "2026-12-06T22:00:00Z", "last_outcome": "failed",
           "reason": "latest revision 3 is failed; no recovery step brought the release back to deployed",
           "max_attempts": 3, "quarantined": false, "next_attempt": "2026-12-06T22:05:00Z"}
retry_in:
  description: Seconds until the backoff after the last failed recovery has passed.
  returned: when the outcome is deferred by the backoff
  type: int
  sample: 240
holder:
  description: The holder of the release's lease, when another actor holds it.
  returned: when the outcome is deferred because the lease is held
  type: str
  sample: "awx@runner-7 pid 31 job 4242 (4f2a)"
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
      action, outcome, reason, attempts, and drift, pending_age, retry_in, holder and error_kind when they apply). The
      roles publish it with the reasons in their own variables' names (C(release_recovery_result), the fleet report).
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
  sample: ["/usr/local/bin/helm", "history", "web", "--namespace", "shop", "--output", "json", "--max", "2147483647"]
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

# First: the module_utils below then load through the bytecode cache (module_utils/bytecode_cache.py).
from ansible_collections.matih.helm.plugins.module_utils import bytecode_cache  # noqa: F401  pylint: disable=unused-import
from ansible_collections.matih.helm.plugins.module_utils.args import (
    CONNECTION_MUTUALLY_EXCLUSIVE, argument_spec, name_problems, step_option_problems,
)
from ansible_collections.matih.helm.plugins.module_utils.drift import check_release_drift, drift_digest, parse_ignore_fields
from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    HelmClient, HelmError, run_task, version_string,
)
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    CLUSTER_UNREACHABLE, CONCURRENT_CHANGE, DRIFT_REMAINS, LOCKED, NOT_DEPLOYED, NOT_FOUND, ROLLOUT_FAILED, KubeError,
    TaskError,
)
from ansible_collections.matih.helm.plugins.module_utils.attempts import gate as memory_gate, memory_view, remember
from ansible_collections.matih.helm.plugins.module_utils.preflight import Write, preflight
from ansible_collections.matih.helm.plugins.module_utils.release_lease import (
    LeaseHeld, ReleaseLease, lease_client, lease_error,
)
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects, secret_masker
from ansible_collections.matih.helm.plugins.module_utils.recovery import (
    DEFAULT_STRATEGIES, DEFER, DEFERRED, ESCALATE, FAILED, HEALTHY, MISSING, REFUSED, REINSTALL, REPAIR_DRIFT,
    ROLLBACK_STEPS, SKIPPED, STOP, STRATEGIES, TRANSIENT_KINDS, UPGRADE, WOULD_FAIL, Attempt, Options, Plan,
    attempt_summary, changed_since, ends_ladder, failure_verdict, foreign_change, outage_seen, plan_recovery,
    recheck_step, remembered_outcome, repair_outcome, report_entry, settles, step_outcome, strategy_problems,
    unknown_snapshot,
)
from ansible_collections.matih.helm.plugins.module_utils.release import last_successful, parse_history, values_to_read
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore, driver_problem
from ansible_collections.matih.helm.plugins.module_utils.durations import duration_nanoseconds
from ansible_collections.matih.helm.plugins.module_utils.masking import build_values_diff

# A step starts only while the lease stays ours for longer than this without another renewal.
LEASE_MARGIN_SECONDS = 15

RECOVER_ARGS = dict(
    strategies=dict(type="list", elements="str", choices=list(STRATEGIES), default=list(DEFAULT_STRATEGIES)),
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
    history_max=dict(type="int"),
    keep_history=dict(type="bool", default=True),
    hold=dict(type="str", default=""),
    show_values=dict(type="bool", default=False),
    detect_drift=dict(type="bool", default=False),
    drift_ignore_fields=dict(type="dict", default={}),
    max_attempts=dict(type="int", default=3),
    backoff=dict(type="str", default="5m"),
    clear_quarantine=dict(type="bool", default=False),
    recover_uninstalled=dict(type="bool", default=False),
)


class ReleaseRecovery(object):
    """Take the release's lease, read, plan, run the steps one by one until one settles, remember, report:
    one release, one task."""

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
        self._live = None
        self.memory_after = None  # what the lease is to remember after this run
        self.lease = None  # the release's lease while this run holds it (not in check mode)

    def run(self):
        lease = ReleaseLease(lease_client(self.store, "helm_release_recover"), self.name, self.namespace)
        try:
            state = lease.take(self.check_mode)
        except KubeError as error:
            if error.kind == NOT_FOUND:
                return self.recover(None)  # no such namespace, so no release: nothing to keep others off
            if error.kind not in TRANSIENT_KINDS:
                raise lease_error(error, self.namespace)
            return self.deferred(error)  # LeaseHeld (locked) too
        if self.check_mode:
            return self.recover(state)
        lease.start_renewing()
        self.lease = lease
        result = None
        try:
            # the lease as it was before this run took it: its holder's renewals and the memory
            result = self.recover(lease.previous)
        finally:
            self.let_go(lease, result)
        return result

    def let_go(self, lease, result):
        """Release the lease with the memory of this run (the one read when the task failed); a lease made for a
        release that does not exist is deleted."""
        missing = result is not None and result["verdict"] == MISSING and lease.previous is None
        warning = lease.finish(self.memory_after if result is not None else lease.memory, discard=missing)
        if warning:
            self.module.warn(warning)

    def recover(self, lease_state):
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
        now = utc_now()
        memory = lease_state.memory if lease_state is not None else None
        latest_before = history[-1] if history else None
        gate = memory_gate(memory, latest_before.revision if latest_before else None, now,
                           self.params["max_attempts"], self.backoff_seconds(), self.params["clear_quarantine"])
        # An actor that still held the lease (it never released it: killed, or still at work until it expired)
        # was alive at its last renewal; a released lease says nothing about a pending revision.
        working_until = lease_state.last_renewal if lease_state is not None and lease_state.holder else None
        plan = plan_recovery(history, values, self.options, now=now, drift=drift, gate=gate,
                             lease_renewed=working_until)
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
            if ends_ladder(attempt):
                break
        if drift is not None:
            drift.setdefault("after", None)
        after = current[-1] if current else None
        report = report_entry(self.name, self.namespace, plan, attempts, latest_before, after, self.options,
                              self.check_mode, self.helm_version(), drift=drift)
        # the backoff counts from the end of the run; a history that could not be read after it keeps the memory
        learned, memory = remembered_outcome(plan.verdict, attempts, report["outcome"]), gate.memory
        if learned is not None and (after is not None or learned == HEALTHY):
            memory = remember(gate.memory, latest_before.revision if latest_before else None,
                              after.revision if after else None, learned, attempt_summary(attempts), utc_now())
        report["attempts"] = memory_view(memory, self.params["max_attempts"], self.backoff_seconds())
        result = dict(report, report=report, verdict=plan.verdict, plan=[self.describe(step) for step in plan.steps],
                      changed=any(attempt.changed for attempt in attempts),
                      msg="%s in %s: %s (%s)" % (self.name, self.namespace, report["outcome"], report["reason"]))
        self.memory_after = memory
        settled = [attempt for attempt in attempts if settles(attempt.outcome)]
        if self.module._diff and settled:
            result["diff"] = self.diff(history, values, settled[-1].step)
        return result

    def deferred(self, error):
        """The result when the lease could not be taken (another actor holds it) or the API server could not be
        asked for it: nothing was read or tried."""
        plan = Plan(DEFERRED, "%s; nothing was tried, retry later" % error.message)
        report = report_entry(self.name, self.namespace, plan, [], None, None, self.options, self.check_mode,
                              self.helm_version())
        report.update(before=unknown_snapshot(), after=unknown_snapshot(), error_kind=error.kind, attempts=None)
        if isinstance(error, LeaseHeld):
            report["holder"] = error.holder
        return dict(report, report=report, verdict=DEFERRED, plan=[], changed=False,
                    msg="%s in %s: deferred (%s)" % (self.name, self.namespace, report["reason"]))

    def backoff_seconds(self):
        return duration_nanoseconds(self.params["backoff"]) / 1e9

    def wants_drift_check(self, history):
        deployed = bool(history) and history[-1].status == "deployed"
        return bool(self.params["detect_drift"] and not self.options.hold and deployed)

    @property
    def live(self):
        if self._live is None:
            self._live = LiveObjects(self.store)
        return self._live

    def check_drift(self):
        """The drift of the latest revision (drift_digest's form), read from the Kubernetes API."""
        self.store.require_direct("detect_drift=true")
        return drift_digest(check_release_drift(self.live, self.name, self.namespace, None, self.drift_ignore, False,
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
            attempt.error_kind, attempt.then = error.kind, STOP
            return None
        attempt.outcome, attempt.error = repair_outcome(attempt.outcome, after)
        if attempt.outcome == FAILED:
            attempt.error_kind, attempt.then = DRIFT_REMAINS, STOP
        return after

    def needs_values(self, history):
        if self.options.hold or not history or history[-1].status == "deployed":
            return False
        # The caller's values make the last good revision's unnecessary, unless a step compares them.
        return self.options.values is None or "rollback_previous_good" in self.options.strategies

    def read_history(self):
        return parse_history(self.store.history(self.name, self.namespace))

    def attempt(self, step, current):
        """Check the target with the API server, make sure the release is still as last seen and the lease still
        ours, then run (or dry-run) the step and read the history after it: (Attempt, history now)."""
        latest = current[-1] if current else None
        attempt = Attempt(step, latest=latest)
        # Helm refuses an upgrade over a pending revision; when it is the one this recovery frees, that is a
        # verdict on the step (rollback is the way out), not another operation at work.
        freeing_pending = latest is not None and latest.is_pending
        try:
            checked = self.check_target(step, current)
        except KubeError as error:
            return self.stopped(attempt, error.kind, "the preflight could not ask the API server: %s" % error.message,
                                False), current
        except HelmError as error:
            what = "read" if step.action in ROLLBACK_STEPS else "rendered"
            attempt = self.stopped(attempt, error.kind, "the target could not be %s for the preflight: %s" % (
                what, error.message), False)
            if failure_verdict(error.kind, False, freeing_pending) == ESCALATE:
                attempt.then, attempt.outcome = ESCALATE, WOULD_FAIL if self.check_mode else FAILED
            return attempt, current
        attempt.preflight = checked.as_dict()
        if not checked.passed:
            kinds = {refusal["error_kind"] for refusal in checked.refusals}
            attempt.error, attempt.error_kind = "the preflight refused the target: " + checked.summary(), (
                "access_denied" if "access_denied" in kinds else "rejected")
            attempt.then = ESCALATE if attempt.error_kind == "rejected" else STOP
            attempt.outcome = WOULD_FAIL if self.check_mode else REFUSED
            return attempt, current
        if not self.check_mode:
            held = self.lease_problem()
            if held:
                return self.stopped(attempt, LOCKED, held, False), current
            try:
                changed = changed_since(latest, self.read_history())
            except TaskError as error:
                return self.stopped(attempt, error.kind, "the history could not be read again before the step: %s"
                                    % error.message, False), current
            if changed:
                return self.stopped(attempt, CONCURRENT_CHANGE, changed, False), current
        stderr = ""
        try:
            self.execute(step, latest)
            attempt.changed = True
        except HelmError as error:
            attempt.error, attempt.error_kind, stderr = error.message, error.kind, error.stderr or ""
        if self.check_mode:
            attempt.outcome = step_outcome(True, bool(attempt.error), attempt.changed, latest)
            if attempt.outcome == WOULD_FAIL:
                attempt.then = failure_verdict(attempt.error_kind, False, freeing_pending)
                attempt.outcome = DEFERRED if attempt.then == DEFER else WOULD_FAIL
            return attempt, current
        try:
            current = self.read_history()
        except TaskError as error:
            attempt.error = "; ".join(filter(None, [attempt.error, "the history could not be read after the "
                                                    "step: %s" % error.message]))
            attempt.error_kind = attempt.error_kind or error.kind
            current = []
        attempt.latest = current[-1] if current else None
        # Helm wrote something (a revision, an uninstall) whenever the latest revision moved.
        attempt.changed = self.moved(latest, attempt.latest)
        foreign = foreign_change(latest, current, attempt.changed)
        if foreign:
            return self.stopped(attempt, CONCURRENT_CHANGE, foreign, attempt.changed), current
        attempt.outcome = step_outcome(False, bool(attempt.error), attempt.changed, attempt.latest)
        if attempt.outcome == FAILED:
            wrote_failed = attempt.changed and attempt.latest is not None and attempt.latest.status == "failed"
            kind = attempt.error_kind or (ROLLOUT_FAILED if wrote_failed else NOT_DEPLOYED)
            if kind == "timeout" and outage_seen(stderr):
                kind = CLUSTER_UNREACHABLE  # Helm's wait ran into an outage: no verdict on the target
            attempt.error_kind, attempt.then = kind, failure_verdict(kind, wrote_failed, freeing_pending)
            if attempt.then == DEFER:
                attempt.outcome = DEFERRED
        return attempt, current

    def lease_problem(self):
        """Why the lease may no longer keep other actors off (lost, or unrenewed for too long), or ""."""
        lease = self.lease
        if lease is None:
            return ""
        if lease.lost:
            return "this run lost the release's lease (%s); no further step runs" % lease.lost
        left = lease.still_ours_for()
        if left is not None and left < LEASE_MARGIN_SECONDS:
            return ("the release's lease could not be renewed for %ds (%s); another actor may take it over, so no "
                    "further step runs" % (lease.duration_seconds - left,
                                           lease.last_error.message if lease.last_error else "no answer"))
        return ""

    def stopped(self, attempt, kind, message, changed):
        """``attempt`` ended before Helm ran, or by another writer: deferred when ``kind`` says nothing about the
        target, else failed without a next step."""
        attempt.error, attempt.error_kind, attempt.changed = message, kind, changed
        attempt.then = failure_verdict(kind, False)
        if attempt.then == ESCALATE:
            attempt.then = STOP  # only a preflight refusal or a failed rollout moves on; this was neither
        attempt.outcome = DEFERRED if attempt.then == DEFER else (WOULD_FAIL if self.check_mode else FAILED)
        return attempt

    def check_target(self, step, current=()):
        """The API server's verdict on the step's target (preflight.Preflight): the objects of the revision a
        rollback restores, or of the chart an upgrade or reinstall would install, each as a server-side apply
        dry run. Nothing is stored. Before a write, the rights Helm's write needs too (``current``: the history)."""
        if step.action in ROLLBACK_STEPS:
            manifest = self.store.manifest(self.name, self.namespace, step.target_revision)
        else:
            config = step.config
            # an install's dry run works while the release exists; an upgrade's is the upgrade itself
            manifest = self.helm.rendered_manifest(self.name, self.namespace, config,
                                                   self.helm.values_file(config.values),
                                                   install=step.action == REINSTALL)
        # A reinstall deletes the objects before it creates them: an immutable field does not stand in its way.
        writes = None if self.check_mode else self.write_of(step, current)
        return preflight(self.live, manifest, self.namespace, replace=step.action == REINSTALL, release=self.name,
                         on_secret_values=secret_masker(self.module), writes=writes)

    def write_of(self, step, current):
        """What Helm's write of ``step`` does (preflight.Write): the release it updates from (a rollback: the
        latest revision; an upgrade: the last deployed one, else the latest, as Helm's upgrade picks it; a
        reinstall: the objects its uninstall deletes, none when the latest revision is uninstalled already) and the
        records it marks (helm.sh/helm pkg/action rollback.go, upgrade.go)."""
        latest = current[-1] if current else None
        base = latest
        if step.action == UPGRADE:
            base = next((rev for rev in reversed(current) if rev.status == "deployed"), latest)
        if step.action == REINSTALL and latest is not None and latest.status == "uninstalled":
            base = None
        records, purge = (), step.action == REINSTALL and base is not None and not step.keep_history
        if step.action == REINSTALL:
            # Helm's install with --replace marks the latest record superseded (its replaceRelease; an uninstalled
            # one here) and stores the new one after it; after a purge (the uninstall deleted every record of the
            # history) the new one is revision 1. The uninstall's own marks of the latest revision only log a failure.
            records = (1,) if purge or latest is None else (latest.revision, latest.revision + 1)
        elif latest is not None:
            # the new revision (Helm marks it when done) and the one(s) it supersedes: an upgrade's current release,
            # a rollback's deployed revisions (Helm's rollback marks every deployed one superseded)
            superseded = {base.revision} if step.action == UPGRADE else {
                rev.revision for rev in current if rev.status == "deployed"}
            records = tuple(sorted(superseded | {latest.revision + 1}))
        return Write(self.helm.version().major, self.params["wait"],
                     current=self.store.manifest(self.name, self.namespace, base.revision) if base else None,
                     records=records, reinstall=step.action == REINSTALL, purge=purge,
                     purged=tuple(sorted(rev.revision for rev in current)) if purge else ())

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
        if step.action == UPGRADE and dry_run:
            return  # the preflight rendered the chart with Helm's own upgrade dry run: that was the validation
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
        recover_uninstalled=params["recover_uninstalled"],
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
    if params["max_attempts"] < 0:
        problems.append("max_attempts must be 0 (never quarantine) or more (failed recoveries of one revision before it "
                        "is quarantined), got %d" % params["max_attempts"])
    if duration_nanoseconds(params["backoff"]) is None:
        problems.append("backoff %r is not a Helm duration; use for example 5m, 90s, or 0s to turn it off"
                        % (params["backoff"],))
    return problems + step_option_problems(params)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def main():
    module = AnsibleModule(argument_spec=argument_spec(RECOVER_ARGS), supports_check_mode=True,
                           mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE)
    run_task(module, option_problems(module.params), lambda: ReleaseRecovery(
        module, HelmClient(module), options_from(module.params)).run())


if __name__ == "__main__":
    main()

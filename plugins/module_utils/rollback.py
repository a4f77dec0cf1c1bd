# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure rollback logic: choose the target, decide no-op or change, verify the result, build the diff.

Nothing here runs Helm. The module reads history, values and manifests through HelmClient and
hands them to these functions, so every decision can be tested without a cluster.

Decisions on edge cases (the module documentation repeats them for users):

* A target must have reached DEPLOYED (``Revision.reached_deployed``: deployed, or superseded
  after being deployed, which includes a revision superseded by a failed rollback) unless
  ``allow_failed_target`` is set.
* Revision 0 is never passed to Helm: ``helm rollback NAME 0`` means "the revision before the
  latest", which may be a failed one. ``last_successful`` is the safe way to say "go back".
* A pending latest revision (an interrupted or running operation) stops the rollback unless
  ``on_pending`` is ``rollback``; Helm does not lock rollbacks, so only the caller knows whether
  the other operation is dead.
* Idempotency: nothing runs when the latest revision is ``deployed`` and has the target's chart
  name, chart version and user values. Helm records no chart digest, so a chart repackaged under
  the same version is not told apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

from ansible_collections.matih.helm.plugins.module_utils.masking import build_values_diff, mask_secret_data
from ansible_collections.matih.helm.plugins.module_utils.release import Revision, last_successful

LAST_SUCCESSFUL = "last_successful"
ON_PENDING_CHOICES = ("fail", "rollback")

RequestedRevision = Union[int, str]


class RollbackRefused(Exception):
    """The rollback must not run; ``str(error)`` tells the user why and what to do instead."""


@dataclass(frozen=True)
class RollbackPlan:
    """What the module does: roll ``previous`` (the latest revision) back to ``target``, or nothing."""

    previous: Revision
    target: Revision
    changed: bool
    reason: str

    @property
    def new_revision(self) -> int:
        """The revision a rollback creates: Helm always writes latest + 1."""
        return self.previous.revision + 1


def parse_requested_revision(value: Any) -> RequestedRevision:
    """The ``revision`` option as an int >= 1 or ``last_successful``; ValueError with a clear message."""
    if isinstance(value, bool):
        raise ValueError("revision must be a revision number (1 or more) or '%s', got %r" % (LAST_SUCCESSFUL, value))
    if isinstance(value, (list, tuple, dict)) or (isinstance(value, str) and re.search(r"[,;\s]", value.strip())):
        # e.g. [last_successful, 3] or 'last_successful,3': one task rolls back to one target.
        raise ValueError(
            "revision takes one target, got %r: give either a revision number (1 or more) or '%s'. To fall back to "
            "another revision when the first choice fails, use a second task (block/rescue)"
            % (value, LAST_SUCCESSFUL))
    text = str(value).strip() if value is not None else ""
    if text == LAST_SUCCESSFUL:
        return LAST_SUCCESSFUL
    if not re.match(r"^[+-]?\d+$", text):
        raise ValueError("revision must be a revision number (1 or more) or '%s', got %r" % (LAST_SUCCESSFUL, value))
    number = int(text)
    if number < 1:
        raise ValueError(
            "revision must be 1 or more, got %d: Helm reads 0 as 'the revision before the latest', which may be a "
            "failed one; name the revision, or use revision: %s" % (number, LAST_SUCCESSFUL)
        )
    return number


def select_target(history: Sequence[Revision], requested: RequestedRevision, allow_failed_target: bool = False,
                  on_pending: str = "fail") -> Revision:
    """The revision to roll back to, or RollbackRefused saying why there is none."""
    if not history:
        raise RollbackRefused("the release has no revisions")
    ordered = sorted(history, key=lambda rev: rev.revision)
    latest = ordered[-1]
    if latest.is_pending and on_pending != "rollback":
        raise RollbackRefused(
            "the latest revision %d is %s (%s): another Helm operation may still be running. Wait for it to finish "
            "and run again, or, when it is known to be dead (e.g. an interrupted upgrade), set on_pending: rollback "
            "to free the release with this rollback" % (latest.revision, latest.status, latest.description or "no description")
        )
    if requested == LAST_SUCCESSFUL:
        good = last_successful(ordered)
        if good is None:
            raise RollbackRefused(
                "no stored revision ever reached DEPLOYED (%s), so there is no last successful revision to roll back "
                "to. Recover with a fresh upgrade using a known-good chart and values, or uninstall and reinstall the "
                "release" % _revision_summary(ordered)
            )
        return good
    by_number = {rev.revision: rev for rev in ordered}
    target = by_number.get(requested)
    if target is None:
        raise RollbackRefused(_missing_revision_message(ordered, requested))
    if not target.reached_deployed and not allow_failed_target:
        raise RollbackRefused(
            "revision %d never reached DEPLOYED (status %s: %s), so rolling back to it would restore a configuration "
            "that did not work. Pick one of the revisions that did (%s), use revision: %s, or set "
            "allow_failed_target: true to roll back to it anyway"
            % (target.revision, target.status, target.description or "no description",
               _good_revisions(ordered), LAST_SUCCESSFUL)
        )
    return target


def values_needed(history: Sequence[Revision], target: Revision, diff: bool = False) -> List[int]:
    """The revisions whose user values plan_rollback, verify_rollback and build_diff need: the target's
    always (the rollback must restore them); the latest's only when it decides the plan (deployed, on the
    target's chart) or the diff shows it. Skipping the latest's read saves a Helm call on most rollbacks."""
    latest = max(history, key=lambda rev: rev.revision)
    wanted = {target.revision}
    same_chart = (latest.chart_name, latest.chart_version) == (target.chart_name, target.chart_version)
    if diff or (latest.status == "deployed" and same_chart):
        wanted.add(latest.revision)
    return sorted(wanted)


def plan_rollback(history: Sequence[Revision], target: Revision, values: Dict[int, Any]) -> RollbackPlan:
    """No-op when the deployed latest revision already equals the target (chart and user values).

    ``values`` maps revision numbers to user values (``helm get values``); the latest and the
    target revision must be present unless they are the same revision.
    """
    latest = max(history, key=lambda rev: rev.revision)
    if latest.revision == target.revision:
        if latest.status == "deployed":
            return RollbackPlan(latest, target, False, "revision %d is the latest revision and is deployed"
                                % target.revision)
        return RollbackPlan(latest, target, True, "revision %d is the latest revision but is %s; the rollback "
                            "re-applies it as a new revision" % (target.revision, latest.status))
    if latest.status != "deployed":
        return RollbackPlan(latest, target, True, "the latest revision %d is %s"
                            % (latest.revision, latest.status))
    if (latest.chart_name, latest.chart_version) != (target.chart_name, target.chart_version):
        return RollbackPlan(latest, target, True, "the deployed revision %d runs chart %s, revision %d had %s"
                            % (latest.revision, latest.chart, target.revision, target.chart))
    if _normal(values[latest.revision]) != _normal(values[target.revision]):
        return RollbackPlan(latest, target, True, "the deployed revision %d has other values than revision %d"
                            % (latest.revision, target.revision))
    return RollbackPlan(latest, target, False, "the deployed revision %d already has the chart %s and the values "
                        "of revision %d" % (latest.revision, latest.chart, target.revision))


def verify_rollback(plan: RollbackPlan, history_after: Sequence[Revision], target_values: Any,
                    new_values: Any) -> List[str]:
    """Every check the re-read history fails after a rollback; empty when the rollback did what it should."""
    created = created_revision(plan, history_after)
    latest = max((rev.revision for rev in history_after), default=None)
    if created is None:
        return ["no revision %d was created (the latest revision is %s)" % (plan.new_revision, latest)]
    failures = []
    if latest != created.revision:
        failures.append("revision %d is not the latest (%d is): another Helm operation ran at the same time"
                        % (created.revision, latest))
    if created.status != "deployed":
        failures.append("revision %d has status %s, not deployed (%s)"
                        % (created.revision, created.status, created.description or "no description"))
    if (created.chart_name, created.chart_version) != (plan.target.chart_name, plan.target.chart_version):
        failures.append("revision %d runs chart %s, not the target's %s"
                        % (created.revision, created.chart, plan.target.chart))
    if _normal(new_values) != _normal(target_values):
        failures.append("revision %d has other user values than revision %d" % (created.revision, plan.target.revision))
    if created.rollback_to != plan.target.revision:
        failures.append("revision %d is described as %r, not 'Rollback to %d'"
                        % (created.revision, created.description, plan.target.revision))
    return failures


def created_revision(plan: RollbackPlan, history_after: Sequence[Revision]) -> Optional[Revision]:
    """The revision ``helm rollback`` wrote (previous latest + 1), or None if Helm created none."""
    return next((rev for rev in history_after if rev.revision == plan.new_revision), None)


def build_diff(name: str, plan: RollbackPlan, values: Dict[int, Any], manifests: Optional[Dict[int, str]] = None,
               show_values: bool = False) -> List[Dict[str, Any]]:
    """Ansible diffs: the chart and user values, then the rendered manifests (when given).

    Values are masked (keys kept, each scalar replaced) unless ``show_values``; changed scalars
    are marked so the diff still shows where the values differ. ``data``/``stringData`` of
    Secrets in the manifests are masked the same way.
    """
    before_values = values.get(plan.previous.revision) or {}
    after_values = (values.get(plan.target.revision) or {}) if plan.changed else before_values
    after = plan.target if plan.changed else plan.previous
    before_label = "%s revision %d (%s)" % (name, plan.previous.revision, plan.previous.status)
    after_label = ("%s revision %d (rollback to %d)" % (name, plan.new_revision, plan.target.revision)
                   if plan.changed else before_label)
    diffs = [build_values_diff(before_label, after_label, _release_state(plan.previous, before_values),
                               _release_state(after, after_values), show_values)]
    if manifests is not None:
        before_manifest = manifests.get(plan.previous.revision, "")
        after_manifest = manifests.get(after.revision, before_manifest)
        if not show_values:
            before_manifest, after_manifest = mask_secret_data(before_manifest), mask_secret_data(after_manifest)
        diffs.append({
            "before_header": "%s: rendered manifest" % before_label,
            "after_header": "%s: rendered manifest of revision %d" % (after_label, after.revision),
            "before": before_manifest,
            "after": after_manifest,
        })
    return diffs


def _release_state(revision: Revision, values: Any) -> Dict[str, Any]:
    return {
        "chart": revision.chart,
        "chart_version": revision.chart_version,
        "app_version": revision.app_version,
        "values": values,
    }


def _normal(values: Any) -> Any:
    # Helm prints "null" for a revision without user values; that is the same as {}.
    return values or {}


def _missing_revision_message(ordered: Sequence[Revision], requested: int) -> str:
    numbers = [rev.revision for rev in ordered]
    message = "revision %d is not in the history of the release (stored revisions: %s)" % (
        requested, _ranges(numbers))
    if requested < numbers[0]:
        message += ("; it is older than the oldest stored revision %d, so Helm pruned it (--history-max keeps "
                    "the newest revisions only)" % numbers[0])
    elif requested > numbers[-1]:
        message += "; it is newer than the latest revision %d" % numbers[-1]
    return message + ". Safe targets: %s" % _good_revisions(ordered)


def _good_revisions(ordered: Sequence[Revision]) -> str:
    good = [str(rev.revision) for rev in reversed(ordered) if rev.reached_deployed]
    return ", ".join(good) if good else "none"


def _revision_summary(ordered: Sequence[Revision]) -> str:
    return ", ".join("%d %s" % (rev.revision, rev.status) for rev in ordered)


def _ranges(numbers: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    spans = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(low) if low == high else "%d-%d" % (low, high) for low, high in spans)

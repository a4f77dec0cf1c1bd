# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The recovery ladder as pure functions: verdict, ordered steps, step outcomes, the report entry.

Nothing here runs Helm. ``helm_release_recover`` reads the history (with the values of the
revisions that reached DEPLOYED), asks ``plan_recovery`` for the verdict and the steps, runs them
one by one and asks ``step_outcome`` after each whether the release is deployed again. Every
decision the ``release_recovery`` role used to take in Jinja lives here, so each path has a
table-driven unit test.

Decisions (the module documentation repeats them):

* Verdicts: ``missing`` (no history), ``healthy`` (latest revision deployed), ``drifted`` (latest
  revision deployed, but its live objects no longer match it: a drift check was asked for and
  found missing or modified objects), ``pending`` (latest revision ``pending-*`` and not freed),
  ``held`` (the caller holds it, e.g. a fleet brake), ``uninstalled`` (latest revision
  ``uninstalled`` or ``uninstalling``: removed on purpose, left alone unless ``recover_uninstalled``),
  ``quarantined`` and ``deferred`` (the memory of earlier attempts says: not now, see attempts.py),
  and ``recover``.
  A pending revision is freed when ``unlock_pending`` is set, or when it is older than
  ``unlock_pending_after``; a younger one is left alone with its age.
* ``drifted`` has one step, ``repair_drift``: a rollback to the deployed revision itself, which
  stores a new revision with the same chart and values and applies its manifest again. It recovered
  the release only when the latest revision is deployed and a second drift check finds nothing.
* ``rollback_last_successful`` targets the newest revision that reached DEPLOYED.
* ``rollback_previous_good`` targets the newest older revision that reached DEPLOYED with another
  chart or other values than the last successful one (an identical configuration would fail the
  same way).
* ``upgrade`` and ``reinstall`` use the known-good configuration: the caller's chart and values,
  else the last successful revision's chart name (looked up in ``chart_repo_url``), chart version
  and values. Without a chart reference, or without values when no revision ever deployed, they
  are skipped with the reason.
* A step recovered the release only when the latest revision is ``deployed`` afterwards, whatever
  Helm reported. In check mode nothing runs: a step whose preflight and dry run succeed is the plan.
* The ladder moves to the next step only on a verdict about the target (``failure_verdict``): the
  preflight or admission refused it, or its rollout failed (Helm wrote a failed revision). A step
  that failed because the cluster could not be reached or throttled, another writer got there
  first, an operation is in progress or the lease is held stops the ladder as ``deferred``: nothing
  escalates on a transient error. Any other failure (no rights, an unknown Helm error) stops it as
  ``failed``: the next step would meet the same problem.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.matih.helm.plugins.module_utils.durations import format_duration
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    API_ERROR, BACKOFF, CLUSTER_UNREACHABLE, CONCURRENT_CHANGE, LOCKED, REJECTED, ROLLOUT_FAILED, THROTTLED,
)
from ansible_collections.matih.helm.plugins.module_utils.release import Revision, last_successful, rollback_candidates

ROLLBACK_LAST_SUCCESSFUL = "rollback_last_successful"
ROLLBACK_PREVIOUS_GOOD = "rollback_previous_good"
UPGRADE = "upgrade"
REINSTALL = "reinstall"
REPAIR_DRIFT = "repair_drift"
STRATEGIES = (ROLLBACK_LAST_SUCCESSFUL, ROLLBACK_PREVIOUS_GOOD, UPGRADE, REINSTALL)
# Steps that are a helm rollback to target_revision.
ROLLBACK_STEPS = (ROLLBACK_LAST_SUCCESSFUL, ROLLBACK_PREVIOUS_GOOD, REPAIR_DRIFT)

# The steps tried when the caller names none: reinstall (an uninstall first) is opt-in everywhere.
DEFAULT_STRATEGIES = (ROLLBACK_LAST_SUCCESSFUL, ROLLBACK_PREVIOUS_GOOD, UPGRADE)

# Verdicts, and the outcomes of a release (the report's words).
HEALTHY, MISSING, PENDING, HELD, RECOVER, DRIFTED = "healthy", "missing", "pending", "held", "recover", "drifted"
UNINSTALLED, QUARANTINED, DEFERRED = "uninstalled", "quarantined", "deferred"
RECOVERED, PLANNED, FAILED, SKIPPED, WOULD_FAIL = "recovered", "planned", "failed", "skipped", "would_fail"
# A step the preflight refused: nothing was written.
REFUSED = "refused"
OUTCOMES = (HEALTHY, RECOVERED, PLANNED, FAILED, WOULD_FAIL, PENDING, HELD, DEFERRED, QUARANTINED, UNINSTALLED)

# What the ladder does after a step that did not settle the release.
ESCALATE, DEFER, STOP = "escalate", "defer", "stop"
# Failures that say nothing about the target: the cluster, another writer, or another of our actors.
TRANSIENT_KINDS = frozenset((CLUSTER_UNREACHABLE, THROTTLED, API_ERROR, "revision_taken", "operation_in_progress",
                             CONCURRENT_CHANGE, LOCKED))
# Failures that are a verdict about the target: it was refused, or its rollout failed.
TARGET_KINDS = frozenset((REJECTED, ROLLOUT_FAILED))


@dataclass(frozen=True)
class Options:
    """What the caller asked for. ``unlock_pending_after`` is in seconds (None: off)."""

    strategies: Tuple[str, ...] = DEFAULT_STRATEGIES
    unlock_pending: bool = False
    unlock_pending_after: Optional[float] = None
    chart_ref: str = ""
    chart_repo_url: str = ""
    chart_version: str = ""
    values: Optional[Dict[str, Any]] = None
    keep_history: bool = True
    hold: str = ""
    recover_uninstalled: bool = False


@dataclass(frozen=True)
class KnownGood:
    """The configuration of the upgrade and reinstall steps; ``problem`` says why it is unusable."""

    chart_ref: str
    chart_repo_url: str
    chart_version: str
    values: Optional[Dict[str, Any]]
    last_good_revision: Optional[int]
    problem: str = ""

    @property
    def usable(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: a rollback to ``target_revision``, or an upgrade or reinstall with
    ``config``; ``skip_reason`` when it cannot run."""

    action: str
    target_revision: Optional[int] = None
    config: Optional[KnownGood] = None
    keep_history: bool = True
    skip_reason: str = ""

    @property
    def runnable(self) -> bool:
        return not self.skip_reason

    def describe(self) -> Dict[str, Any]:
        """The step's own fields of its action-log entry (no values: they may hold secrets)."""
        if self.action in ROLLBACK_STEPS:
            return {"action": self.action, "target_revision": self.target_revision}
        entry = {"action": self.action, "chart_ref": self.config.chart_ref if self.config else "",
                 "chart_version": self.config.chart_version if self.config else ""}
        if self.action == REINSTALL:
            entry["keep_history"] = self.keep_history
        return entry


@dataclass(frozen=True)
class Plan:
    """The verdict on the release, why, and (verdict ``recover``) the steps to try in order."""

    verdict: str
    reason: str
    steps: Tuple[Step, ...] = ()
    pending_age: Optional[float] = None
    retry_in: Optional[float] = None

    @property
    def needs_recovery(self) -> bool:
        return self.verdict in (RECOVER, DRIFTED)


@dataclass
class Attempt:
    """What happened when a step ran (or was dry-run): Helm's verdict and the latest revision after it.
    ``error_kind`` classifies ``error``; ``then`` is what the ladder does next (``failure_verdict``);
    ``preflight`` is the API server's check of the target (preflight.Preflight.as_dict), when one ran."""

    step: Step
    changed: bool = False
    error: str = ""
    latest: Optional[Revision] = None
    outcome: str = field(default=FAILED)
    error_kind: str = ""
    then: str = ESCALATE
    preflight: Optional[Dict[str, Any]] = None


def plan_recovery(history: Sequence[Revision], values: Dict[int, Any], options: Options,
                  now: Optional[datetime.datetime] = None, drift: Optional[Dict[str, Any]] = None,
                  gate: Any = None, lease_renewed: Optional[datetime.datetime] = None) -> Plan:
    """The verdict and the ordered steps for a release, from its history (oldest first or not) and
    the user values of the revisions that reached DEPLOYED (``values``: revision -> dict).
    ``drift`` is the drift check of the latest revision (drift.drift_digest's form) when one was made.
    ``gate`` is what the memory of earlier attempts says (attempts.Gate: ``verdict`` proceed, deferred
    or quarantined, ``reason``, ``retry_in``); it applies only to a release that needs recovery.
    ``lease_renewed`` is the release lease's last renewal: a pending revision's age counts from it
    when it is later than the revision's own update (an actor of ours was still at work then)."""
    plan = _verdict(sorted(history, key=lambda rev: rev.revision), values, options, now, drift, lease_renewed)
    if plan.needs_recovery and gate is not None and gate.verdict in (DEFERRED, QUARANTINED):
        return Plan(gate.verdict, "%s; %s" % (plan.reason, gate.reason), pending_age=plan.pending_age,
                    retry_in=gate.retry_in)
    return plan


def _verdict(ordered: Sequence[Revision], values: Dict[int, Any], options: Options, now: Optional[datetime.datetime],
             drift: Optional[Dict[str, Any]], lease_renewed: Optional[datetime.datetime]) -> Plan:
    if options.hold:
        return Plan(HELD, options.hold)
    if not ordered:
        return Plan(MISSING, "release not found; nothing to recover")
    latest = ordered[-1]
    if latest.status == "deployed":
        if drift and drift.get("drifted") and drift.get("revision") == latest.revision:
            reason = "latest revision %d is deployed, but its objects drifted: %s" % (latest.revision,
                                                                                      describe_drift(drift))
            return Plan(DRIFTED, reason, (Step(REPAIR_DRIFT, target_revision=latest.revision),))
        return Plan(HEALTHY, "latest revision %d is deployed%s" % (
            latest.revision, " and its objects match it" if drift else ""))
    reason = "latest revision %d is %s" % (latest.revision, latest.status)
    if latest.status in ("uninstalled", "uninstalling") and not options.recover_uninstalled:
        return Plan(UNINSTALLED, "%s: it was removed on purpose, so it is left alone (set recover_uninstalled=true to "
                                 "bring it back)" % reason)
    age = None
    if latest.is_pending:
        age = revision_age(latest, now, lease_renewed)
        held = pending_hold(latest, age, options)
        if held:
            return Plan(PENDING, held, pending_age=age)
        if not options.unlock_pending:
            reason += " for %s, older than unlock_pending_after %s: freed as stale" % (
                format_duration(age), format_duration(options.unlock_pending_after))
    good = known_good(ordered, values, options)
    steps = tuple(plan_step(action, ordered, values, good, options) for action in options.strategies)
    return Plan(RECOVER, reason, steps, pending_age=age)


def pending_hold(latest: Revision, age: Optional[float], options: Options) -> str:
    """Why a pending latest revision is left alone, or "" when it is to be freed."""
    if options.unlock_pending:
        return ""
    what = "latest revision %d is %s" % (latest.revision, latest.status)
    if options.unlock_pending_after is None:
        return ("%s (an operation may still be running); set unlock_pending=true to free it, or unlock_pending_after "
                "to free it once it is older than that" % what)
    if age is None:
        return ("%s and Helm recorded no time for it, so its age is unknown; left alone (set unlock_pending=true to "
                "free it)" % what)
    if age < options.unlock_pending_after:
        return ("%s for %s, younger than unlock_pending_after %s (an operation may still be running); left alone"
                % (what, format_duration(age), format_duration(options.unlock_pending_after)))
    return ""


def pending_outcome(options: Options) -> str:
    """The outcome of a pending release left alone: ``pending`` when the caller set an age limit
    (being young is expected), ``failed`` otherwise (as before unlock_pending_after existed)."""
    return PENDING if options.unlock_pending_after is not None else FAILED


def revision_age(revision: Revision, now: Optional[datetime.datetime],
                 lease_renewed: Optional[datetime.datetime] = None) -> Optional[float]:
    """Seconds since Helm last updated ``revision`` (its ``updated`` time), or since ``lease_renewed``
    when that is later; None when unknown."""
    if not revision.updated or now is None:
        return None
    try:
        updated = datetime.datetime.strptime(revision.updated, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    now = _naive_utc(now)
    if lease_renewed is not None:
        updated = max(updated, _naive_utc(lease_renewed))
    return max(0.0, (now - updated).total_seconds())


def _naive_utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def known_good(history: Sequence[Revision], values: Dict[int, Any], options: Options) -> KnownGood:
    """The caller's chart and values, else the last successful revision's (see the module docstring)."""
    good = last_successful(history)
    chart_ref = options.chart_ref or (good.chart_name if good and options.chart_repo_url else "")
    if options.values is not None:
        chosen_values = options.values
    elif good is not None:
        chosen_values = values.get(good.revision) or {}
    else:
        chosen_values = None
    problem = ""
    if not chart_ref:
        problem = "no chart reference: set chart_ref or chart_repo_url"
    elif chosen_values is None:
        problem = "no revision reached deployed and no values are given: set values=..."
    return KnownGood(
        chart_ref=chart_ref, chart_repo_url=options.chart_repo_url,
        chart_version=options.chart_version or (good.chart_version if good and good.chart_version else ""),
        values=chosen_values, last_good_revision=good.revision if good else None, problem=problem,
    )


def previous_good_target(history: Sequence[Revision], values: Dict[int, Any]) -> Optional[int]:
    """The newest revision older than the last successful one that reached DEPLOYED with another
    chart or other values than it; None when there is none."""
    base = last_successful(history)
    if base is None:
        return None
    by_number = {rev.revision: rev for rev in history}
    older = [by_number[number] for number in rollback_candidates(history) if number < base.revision]
    base_values = _normal(values.get(base.revision))
    differing = [rev.revision for rev in older
                 if rev.chart != base.chart or _normal(values.get(rev.revision)) != base_values]
    return max(differing) if differing else None


def plan_step(action: str, history: Sequence[Revision], values: Dict[int, Any], good: KnownGood,
              options: Options) -> Step:
    if action == ROLLBACK_LAST_SUCCESSFUL:
        base = last_successful(history)
        if base is None:
            return Step(action, skip_reason="no revision of this release ever reached deployed")
        return Step(action, target_revision=base.revision)
    if action == ROLLBACK_PREVIOUS_GOOD:
        target = previous_good_target(history, values)
        if target is None:
            base = last_successful(history)
            return Step(action, skip_reason="no revision older than %s reached deployed with a different chart or values"
                        % (base.revision if base else "the last successful one"))
        return Step(action, target_revision=target)
    if action in (UPGRADE, REINSTALL):
        return Step(action, config=good, keep_history=options.keep_history, skip_reason=good.problem)
    raise ValueError("unknown recovery step %r; use one of %s" % (action, ", ".join(STRATEGIES)))


def describe_drift(digest: Dict[str, Any]) -> str:
    """The drifted objects in words: ``Deployment/web modified (spec.replicas), Service/web missing``."""
    parts = []
    for item in digest.get("objects") or []:
        text = "%s/%s %s" % (item["kind"], item["name"], item["state"])
        if item.get("fields"):
            text += " (%s)" % ", ".join(item["fields"])
        parts.append(text)
    return ", ".join(parts)


def repair_outcome(outcome: str, after: Optional[Dict[str, Any]]) -> Tuple[str, str]:
    """A repair step's outcome once the drift was checked again (``after``, drift.drift_digest's form, None
    in check mode): recovered only when nothing drifted any more; the error when something still did."""
    if outcome != RECOVERED or after is None or not after.get("drifted"):
        return outcome, ""
    return FAILED, "after the repair, objects still drift: " + describe_drift(after)


def recheck_step(step: Step, history: Sequence[Revision]) -> Step:
    """``step`` against the history as it is now: a rollback target Helm pruned meanwhile
    (``history_max``) is skipped rather than sent to Helm."""
    if step.runnable and step.target_revision is not None and step.target_revision not in {
            rev.revision for rev in history}:
        return Step(step.action, target_revision=step.target_revision,
                    skip_reason="revision %d is no longer stored (pruned by history_max)" % step.target_revision)
    return step


def failure_verdict(error_kind: str, wrote_failed_revision: bool, freeing_pending: bool = False) -> str:
    """What the ladder does after a step that failed with ``error_kind``: ``defer`` (nothing is known
    about the target: retry later, escalate nothing), ``escalate`` (the target was refused, or Helm
    wrote it and its rollout failed: the next step may do better) or ``stop`` (a problem the next
    step would meet too: no rights, an unknown Helm failure).

    A ``timeout`` escalates only when Helm wrote the revision and marked it failed (the rollout did not
    get ready in time); without one, Helm never got that far (an outage, a slow API server).
    ``freeing_pending``: the latest revision is a pending one this recovery set out to free (and found
    unchanged just before the step), so Helm's "another operation is in progress" is about that
    revision, which an upgrade cannot run over: a verdict on the step, not another actor at work."""
    if error_kind == "operation_in_progress" and freeing_pending:
        return ESCALATE
    if error_kind in TRANSIENT_KINDS:
        return DEFER
    if error_kind == "timeout":
        return ESCALATE if wrote_failed_revision else DEFER
    if error_kind in TARGET_KINDS or wrote_failed_revision:
        return ESCALATE
    return STOP


def changed_since(seen: Optional[Revision], now: Sequence[Revision]) -> str:
    """Why the release is not as this recovery last saw it, just before a step (another writer, or an
    operation that was alive after all), or "" when its latest revision is the same, in the same status."""
    latest = max(now, key=lambda rev: rev.revision) if now else None
    if seen is None or latest is None:
        return "" if seen is None and latest is None else "the release %s while this recovery ran; left to it" % (
            "was removed" if latest is None else "appeared")
    if latest.revision != seen.revision:
        return foreign_change(seen, now, False) or ("revision %d is now the latest (it was %d); left to whoever wrote it"
                                                    % (latest.revision, seen.revision))
    if latest.status != seen.status:
        return ("revision %d went from %s to %s while this recovery ran (an operation was still at work); left to it"
                % (latest.revision, seen.status, latest.status))
    return ""


def attempt_summary(attempts: Sequence["Attempt"]) -> str:
    """The steps that ran and how each ended, in fixed words (the memory keeps this, never an error's text, which
    may quote values): ``rollback_last_successful failed (rollout_failed); upgrade refused (rejected)``."""
    return "; ".join("%s %s%s" % (attempt.step.action, attempt.outcome,
                                  " (%s)" % attempt.error_kind if attempt.error_kind else "")
                     for attempt in attempts if attempt.outcome != SKIPPED)


def remembered_outcome(verdict: str, attempts: Sequence["Attempt"], outcome: str) -> Optional[str]:
    """What the memory of attempts learns from a run (attempts.remember's outcome), or None: it stays as it
    is. A healthy release forgets it. A run that tried no step is no attempt (a pending release left alone, a
    ladder of skipped steps wrote nothing). A run that wrote a revision is one even when it ended deferred:
    the memory must follow the revision it left, or the next run takes ours for someone's deploy."""
    if verdict == HEALTHY:
        return HEALTHY
    if not any(attempt.outcome != SKIPPED for attempt in attempts):
        return None
    if outcome == DEFERRED and any(attempt.changed for attempt in attempts):
        return FAILED
    return outcome


def foreign_change(before: Optional[Revision], after: Sequence[Revision], wrote: bool) -> str:
    """Why the history after a step is not what our own step explains (another writer was at work), or
    "" when it is: the latest revision is the one we saw, or (``wrote``: Helm stored a revision for us)
    the one after it, and it is not pending (our operation has ended, so a pending latest is another's)."""
    latest = max(after, key=lambda rev: rev.revision) if after else None
    if latest is None:
        return ""  # read failures and purges are reported by the step itself
    seen = before.revision if before is not None else 0
    allowed = seen + 1 if wrote else seen
    if latest.revision > allowed:
        return ("revision %d was written by another operation while this recovery ran (the latest revision was %d); "
                "left to it" % (latest.revision, seen))
    if latest.is_pending and latest.revision > seen:
        return "revision %d is %s: another operation is still at work on the release" % (latest.revision, latest.status)
    return ""


def outage_seen(helm_stderr: str) -> bool:
    """Whether Helm's output shows the API server unreachable on the way (client-go logs its retries), so
    that a timeout at the end says nothing about the target."""
    return bool(re.search(r"connection refused|cluster unreachable|no such host|i/o timeout|TLS handshake timeout|"
                          r"connection reset by peer|http2: client connection lost|the server is currently unable",
                          helm_stderr or "", re.I))


def step_outcome(check_mode: bool, failed: bool, changed: bool, latest: Optional[Revision]) -> str:
    """``recovered`` when the latest revision is deployed after the step, else ``failed``. In check
    mode nothing ran: a step whose dry run would change something without failing is ``planned``,
    else ``would_fail``."""
    if check_mode:
        return PLANNED if changed and not failed else WOULD_FAIL
    return RECOVERED if latest is not None and latest.status == "deployed" else FAILED


def settles(outcome: str) -> bool:
    """Whether a step's outcome ends the ladder with the release recovered (or planned)."""
    return outcome in (RECOVERED, PLANNED)


def ends_ladder(attempt: "Attempt") -> bool:
    """Whether the ladder stops after ``attempt``: it settled the release, was deferred, or failed in a
    way the next step would meet too."""
    return settles(attempt.outcome) or attempt.outcome == DEFERRED or attempt.then != ESCALATE


def action_entry(attempt: Attempt) -> Dict[str, Any]:
    """One entry of the action log."""
    step = attempt.step
    if not step.runnable:
        return {"action": step.action, "outcome": SKIPPED, "reason": step.skip_reason}
    entry = step.describe()
    latest = attempt.latest
    entry.update(outcome=attempt.outcome, changed=attempt.changed,
                 revision=latest.revision if latest else None, status=latest.status if latest else "missing",
                 chart_version=latest.chart_version if latest else None, error=attempt.error,
                 error_kind=attempt.error_kind)
    if attempt.preflight is not None:
        entry["preflight"] = attempt.preflight
    return entry


def snapshot(revision: Optional[Revision]) -> Dict[str, Any]:
    """A release's state in the report: revision, status, chart and app version."""
    if revision is None:
        return {"revision": None, "status": "missing", "chart_version": None, "app_version": None}
    return {"revision": revision.revision, "status": revision.status, "chart_version": revision.chart_version,
            "app_version": revision.app_version}


def unknown_snapshot() -> Dict[str, Any]:
    """A release's state in the report when it could not be read (the API server did not answer)."""
    return {"revision": None, "status": "unknown", "chart_version": None, "app_version": None}


def release_outcome(plan: Plan, attempts: Sequence[Attempt], options: Options, check_mode: bool = False) -> str:
    """The outcome of the whole recovery."""
    if plan.verdict in (HEALTHY, HELD, UNINSTALLED, QUARANTINED, DEFERRED):
        return plan.verdict
    if plan.verdict == PENDING:
        return pending_outcome(options)
    settled = [attempt.outcome for attempt in attempts if settles(attempt.outcome)]
    if settled:
        return settled[-1]
    if any(attempt.outcome == DEFERRED for attempt in attempts):
        return DEFERRED
    return WOULD_FAIL if check_mode and attempts else FAILED


def stopped_on(attempts: Sequence[Attempt]) -> Optional[Attempt]:
    """The attempt that deferred the recovery, or failed it in a way no other step could help; None when
    the ladder ran out of steps (or settled)."""
    last = [attempt for attempt in attempts if attempt.outcome != SKIPPED]
    if last and not settles(last[-1].outcome) and (last[-1].outcome == DEFERRED or last[-1].then != ESCALATE):
        return last[-1]
    return None


def report_entry(name: str, namespace: str, plan: Plan, attempts: Sequence[Attempt], before: Optional[Revision],
                 after: Optional[Revision], options: Options, check_mode: bool,
                 helm_version: Optional[str], drift: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The result of one recovery, as ``release_recovery_result`` and the fleet report's rows hold it."""
    actions = [action_entry(attempt) for attempt in attempts]
    tried = [entry for entry in actions if entry["outcome"] != SKIPPED]
    outcome = release_outcome(plan, attempts, options, check_mode)
    reason = plan.reason
    stopped = stopped_on(attempts)
    if actions:
        if outcome == RECOVERED:
            reason += "; %s recovered it" % tried[-1]["action"]
        elif outcome == PLANNED:
            reason += "; %s would run (check mode)" % tried[-1]["action"]
        elif outcome == DEFERRED and stopped is not None:
            reason += "; %s was deferred, nothing escalated (%s: %s); retry later" % (
                stopped.step.action, stopped.error_kind, stopped.error)
        elif stopped is not None:
            reason += "; %s failed in a way the next steps would meet too (%s: %s)" % (
                stopped.step.action, stopped.error_kind or "failed", stopped.error)
        elif outcome == WOULD_FAIL:
            reason += "; no recovery step would bring the release back to deployed (check mode)"
        else:
            reason += "; no recovery step brought the release back to deployed"
    entry = {
        "release": name, "namespace": namespace, "check_mode": check_mode, "helm_version": helm_version,
        "before": snapshot(before), "after": snapshot(after), "actions": actions,
        "action": tried[-1]["action"] if tried else "none", "outcome": outcome, "reason": reason,
    }
    if plan.pending_age is not None:
        entry["pending_age"] = int(plan.pending_age)
    if plan.retry_in is not None:
        entry["retry_in"] = int(plan.retry_in + 0.999)
    error_kind = stopped.error_kind if stopped is not None else ""
    if outcome == DEFERRED and not error_kind:
        error_kind = BACKOFF
    if error_kind:
        entry["error_kind"] = error_kind
    if drift is not None:
        entry["drift"] = drift
    return entry


def _normal(values: Any) -> Any:
    # Helm prints "null" for a revision without user values; that is the same as {}.
    return values or {}


def strategy_problems(strategies: Sequence[str]) -> List[str]:
    """Why a strategy list cannot be used (unknown or repeated steps); empty when it can."""
    problems = []
    unknown = [item for item in strategies if item not in STRATEGIES]
    if unknown:
        problems.append("unknown recovery step(s) %s in strategies; use %s" % (", ".join(map(repr, unknown)),
                                                                               ", ".join(STRATEGIES)))
    repeated = sorted({item for item in strategies if list(strategies).count(item) > 1})
    if repeated:
        problems.append("strategies must not repeat a step (%s is given more than once)" % ", ".join(repeated))
    return problems

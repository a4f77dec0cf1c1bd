# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet decisions of the fleet_remediation role as pure functions: the override check, the safety
brakes (max_unhealthy, canary), the report rows and summary. The role reaches them through the
``matih.helm.fleet_*`` filters; nothing here runs Helm."""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.matih.helm.plugins.module_utils.recovery import OUTCOMES

OVERRIDE_SETTINGS = ("strategies", "unlock_pending", "unlock_pending_after", "chart_ref", "chart_repo_url",
                     "chart_version", "values", "timeout")
_KEY = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def override_problems(overrides: Any) -> List[str]:
    """Why ``fleet_remediation_release_overrides`` cannot be used; empty when it can."""
    if not isinstance(overrides, dict):
        return ["must be a dictionary keyed \"namespace/name\", got %s" % type(overrides).__name__]
    problems = ["key '%s' is not namespace/name" % key for key in overrides if not _KEY.match(str(key))]
    problems += ["'%s' is not a dictionary of settings" % key for key, value in overrides.items()
                 if not isinstance(value, dict)]
    given = {str(setting) for value in overrides.values() if isinstance(value, dict) for setting in value}
    unknown = sorted(given.difference(OVERRIDE_SETTINGS))
    problems += ["unknown setting '%s'" % setting for setting in unknown]
    return problems


def unhealthy_limit(max_unhealthy: Any, scanned: int) -> Optional[int]:
    """``fleet_remediation_max_unhealthy`` as a number of releases: a count, or a percentage of the
    ``scanned`` releases (rounded down); None when off (null or empty). ValueError when malformed."""
    if max_unhealthy is None or max_unhealthy == "":
        return None
    if isinstance(max_unhealthy, bool):
        raise ValueError("fleet_remediation_max_unhealthy must be a number or a percentage such as \"20%%\", got %r"
                         % (max_unhealthy,))
    match = _LIMIT.match(str(max_unhealthy))
    if not match:
        raise ValueError("fleet_remediation_max_unhealthy must be a number or a percentage such as \"20%%\", got %r"
                         % (max_unhealthy,))
    number = float(match.group(1))
    if match.group(2):
        return int(number * scanned / 100.0)
    if number != int(number):
        raise ValueError("fleet_remediation_max_unhealthy must be a whole number of releases or a percentage, got %r"
                         % (max_unhealthy,))
    return int(number)


def fleet_plan(releases: Sequence[Dict[str, Any]], scanned: int, max_unhealthy: Any = None,
               canary: int = 0) -> Dict[str, Any]:
    """Which unhealthy releases to recover, first (canary) or after, and which to hold.

    Over ``max_unhealthy`` every release is held: a cluster-wide cause (an API outage, a broken
    chart repository, a bad admission policy) is likelier than that many independent failures."""
    limit = unhealthy_limit(max_unhealthy, scanned)
    canary = int(canary or 0)
    if canary < 0:
        raise ValueError("fleet_remediation_canary must be 0 (off) or more, got %d" % canary)
    ordered = sorted(releases, key=lambda release: (release.get("namespace") or "", release.get("name") or ""))
    if limit is not None and len(ordered) > limit:
        reason = ("%d releases are unhealthy, more than fleet_remediation_max_unhealthy %s allows (%d of %d listed): "
                  "none was recovered, since a cluster-wide cause is likelier; find it, or raise "
                  "fleet_remediation_max_unhealthy" % (len(ordered), max_unhealthy, limit, scanned))
        return {"canary": [], "rest": [], "held": [held_row(release, reason) for release in ordered],
                "hold_reason": reason}
    return {"canary": ordered[:canary], "rest": ordered[canary:], "held": [], "hold_reason": ""}


def canary_hold(canary_rows: Sequence[Dict[str, Any]]) -> str:
    """The reason to hold the releases after the canaries, or "" when every canary recovered (or
    is healthy, or, in check mode, planned)."""
    bad = [row for row in canary_rows if (row or {}).get("outcome") not in ("recovered", "healthy", "planned")]
    if not bad:
        return ""
    names = ", ".join("%s/%s (%s)" % (row.get("namespace"), row.get("release"), row.get("outcome", "no result"))
                      for row in bad)
    return ("canary release(s) not recovered: %s; the other releases were held (fleet_remediation_canary)" % names)


def held_row(release: Dict[str, Any], reason: str) -> Dict[str, Any]:
    state = listed_state(release)
    return with_listed_drift({"release": release.get("name"), "namespace": release.get("namespace"), "check_mode": False,
                              "before": state, "after": state, "actions": [], "action": "none", "outcome": "held",
                              "reason": reason}, release)


def with_listed_drift(row: Dict[str, Any], release: Dict[str, Any]) -> Dict[str, Any]:
    """The row with the drift discovery found, when the recovery made no check of its own (it was held,
    or it failed before one): the report's drift section lists every release found drifted."""
    if "drift" in row or not (release or {}).get("drift"):
        return row
    return dict(row, drift=release["drift"])


def listed_state(release: Dict[str, Any]) -> Dict[str, Any]:
    return {"revision": release.get("revision"), "status": release.get("status", "unknown"),
            "chart_version": release.get("chart_version"), "app_version": release.get("app_version")}


def outcome_row(recovery: Dict[str, Any], release: Dict[str, Any], host: str = "") -> Dict[str, Any]:
    """The report row of one release: its recovery's report, or a failed row saying why there is
    none (the recovery task failed: Helm could not read the release, a bad option...)."""
    release = release or {}
    if (recovery or {}).get("report"):
        return with_listed_drift(recovery["report"], release)
    namespace, _slash, name = host.partition("/")
    state = listed_state(release)
    reason = (recovery or {}).get("msg") or "the recovery of this release did not report back (host failed or unreachable)"
    return with_listed_drift({"release": release.get("name", name), "namespace": release.get("namespace", namespace),
                              "check_mode": bool((recovery or {}).get("check_mode", False)), "before": state,
                              "after": state, "actions": [], "action": "none", "outcome": "failed", "reason": reason},
                             release)


def host_row(host: str, variables: Dict[str, Any]) -> Dict[str, Any]:
    """The row a per-release host published (``fleet_remediation_outcome``), or a failed one."""
    return variables.get("fleet_remediation_outcome") or outcome_row({}, variables.get("fleet_remediation_release"), host)


def report(rows: Sequence[Dict[str, Any]], namespaces: Sequence[str], check_mode: bool, generated_at: str,
           report_dir: str, hold_reason: str = "") -> Dict[str, Any]:
    """The fleet report: ``summary`` (counts per outcome, failed and held releases, file paths) and
    ``releases`` (the rows, sorted by namespace and release). A relative ``report_dir`` is taken from
    the directory ansible-playbook runs in (this process's), not the playbook's, where Ansible runs
    local modules: inside an installed collection for ``matih.helm.remediate``."""
    report_dir = os.path.abspath(os.path.expanduser(report_dir)) if report_dir else ""
    ordered = sorted(rows, key=lambda row: (row.get("namespace") or "", row.get("release") or ""))
    counts = {outcome: sum(1 for row in ordered if row.get("outcome") == outcome) for outcome in OUTCOMES}
    summary = dict(
        check_mode=bool(check_mode or any(row.get("check_mode") for row in ordered)),
        generated_at=generated_at, namespaces=list(namespaces), total=len(ordered), **counts)
    held_reasons = [row.get("reason") for row in ordered if row.get("outcome") == "held"]
    drifted = [drift_row(row) for row in ordered if (row.get("drift") or {}).get("drifted")]
    summary.update(
        drifted=len(drifted), drift=drifted,
        failed_releases=_names(ordered, "failed"), held_releases=_names(ordered, "held"),
        hold_reason=hold_reason or (held_reasons[0] if held_reasons else ""),
        report_json=os.path.join(report_dir, "fleet-remediation.json") if report_dir else "",
        report_markdown=os.path.join(report_dir, "fleet-remediation.md") if report_dir else "")
    return {"summary": summary, "releases": ordered}


def drift_row(row: Dict[str, Any]) -> Dict[str, Any]:
    """The drift section's entry of a release found drifted: what drifted (objects and field paths,
    never values), and whether the repair left anything drifted (``still_drifted``; None when no
    repair ran: check mode, held, or the release changed meanwhile)."""
    drift = row["drift"]
    after = drift.get("after")
    return {"release": "%s/%s" % (row.get("namespace"), row.get("release")), "revision": drift.get("revision"),
            "outcome": row.get("outcome"), "objects": list(drift.get("objects") or []),
            "still_drifted": bool(after.get("drifted")) if after else None}


def _names(rows: Sequence[Dict[str, Any]], outcome: str) -> List[str]:
    return ["%s/%s" % (row.get("namespace"), row.get("release")) for row in rows if row.get("outcome") == outcome]

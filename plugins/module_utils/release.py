# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure release logic: parse Helm's history and decide which revisions are safe targets.

Nothing here runs Helm or touches the network; every function takes parsed JSON and returns data,
so the decisions can be tested exhaustively.

Decisions on edge cases (the module documentation repeats them for users):

* "Reached DEPLOYED" means status ``deployed``, or ``superseded`` unless the description shows
  the revision never finished. Helm marks the *latest* revision superseded in two places even
  when it never deployed: a successful upgrade after a failed install (no deployed revision
  exists, so Helm supersedes the failed one) and a failed rollback (Helm supersedes whatever
  was latest, deployed or not). Such revisions keep their description (``Upgrade "x" failed:
  ...``, ``Release "x" failed: ...``, ``Preparing upgrade``, ``Initial install underway``), which
  is how they are told apart. A deployed revision superseded by a failed rollback keeps
  ``Upgrade complete`` (or similar) and still counts.
* Pruned histories (first revision > 1, after ``--history-max``) are used as they are: only
  stored revisions can be rolled back to.
* All-failed histories have no last successful revision and no rollback candidates.
* A pending latest revision (``pending-install``, ``pending-upgrade``, ``pending-rollback``) is
  reported with ``pending: true``; it is never a candidate, but older deployed revisions are.
* Rollback candidates are the revisions that reached DEPLOYED, newest first, without the latest
  revision (rolling back to the latest would only copy it). After a failed upgrade the
  previous revision is still ``deployed`` and is the first candidate.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

STATUSES = (
    "unknown",
    "deployed",
    "uninstalled",
    "superseded",
    "failed",
    "uninstalling",
    "pending-install",
    "pending-upgrade",
    "pending-rollback",
)
PENDING_STATUSES = ("pending-install", "pending-upgrade", "pending-rollback")
# Not one of Helm's statuses: helm_release_list's word for a deployed release whose objects drifted
DRIFTED = "drifted"
OPERATIONS = ("install", "upgrade", "rollback", "uninstall", "unknown")

# Helm builds the chart column as "<name>-<version>" and names may hold dashes and digits, so the text is
# ambiguous ("app-2-1.0.0"): the release record's chart metadata is authoritative, and the text is split
# only where Helm's text is all there is (helm history/list through Helm). Helm requires a chart version
# to be SemVer (Masterminds' parser: a leading "v" and a missing MINOR or PATCH are accepted), so the
# version is the longest suffix after a '-' that is a SemVer 2 version (with an optional "v"); failing
# that, the longest that is MAJOR.MINOR, then MAJOR, each with an optional pre-release and build.
_NUMBER = r"(?:0|[1-9]\d*)"
_PRERELEASE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER_SUFFIX = r"(?:-%s(?:\.%s)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?" % (_PRERELEASE_ID, _PRERELEASE_ID)
_VERSION_TIERS = (
    re.compile(r"v?%s\.%s\.%s%s" % (_NUMBER, _NUMBER, _NUMBER, _SEMVER_SUFFIX)),  # SemVer 2
    re.compile(r"v?\d+\.\d+%s" % _SEMVER_SUFFIX),  # MAJOR.MINOR ("1.2", Helm reads 1.2.0)
    re.compile(r"v?\d+%s" % _SEMVER_SUFFIX),  # MAJOR ("3", Helm reads 3.0.0)
)

# Go prints times as "2024-01-01 10:00:00.123456789 +0000 UTC" (helm list) and JSON marshals
# them as RFC 3339 "2024-01-01T10:00:00.123456789Z" (helm history).
_TIME_PATTERN = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?(?:\s+[A-Za-z0-9_/+-]+)?(?:\s+m=[+-][\d.]+)?$"
)

_ROLLBACK_TO = re.compile(r"^Rollback to (\d+)")
# Descriptions Helm writes (pkg/action install/upgrade/rollback/uninstall), in match order.
_OPERATION_BY_DESCRIPTION = (
    (re.compile(r"^Rollback to \d+"), "rollback"),
    (re.compile(r'^Rollback ".*" failed'), "rollback"),
    (re.compile(r'^(Upgrade complete|Preparing upgrade|Upgrade ".*" failed)'), "upgrade"),
    (re.compile(r"^(Install complete|Initial install underway)"), "install"),
    (re.compile(r"^(Uninstallation complete|Deletion in progress)", re.I), "uninstall"),
)
# Descriptions proving a revision never finished, even if Helm later marked it superseded. An interrupted
# rollback cannot be told apart this way: freed by a later rollback, its pending-rollback revision becomes
# superseded with the "Rollback to N" of a completed one (a documented limitation of helm_release_history).
_NEVER_DEPLOYED = re.compile(r'^((Upgrade|Release|Rollback) ".*" failed|Preparing upgrade|Initial install underway)')


@dataclass(frozen=True)
class Revision:
    """One entry of ``helm history``, normalised."""

    revision: int
    updated: Optional[str]
    status: str
    chart: str
    chart_name: str
    chart_version: Optional[str]
    app_version: Optional[str]
    description: str
    operation: str
    rollback_to: Optional[int]

    @property
    def reached_deployed(self) -> bool:
        """True when this revision was deployed at some point (see the module docstring)."""
        if self.status == "deployed":
            return True
        return self.status == "superseded" and not _NEVER_DEPLOYED.match(self.description)

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING_STATUSES

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def iso8601(helm_time: Optional[str]) -> Optional[str]:
    """Helm's time text as ISO 8601 UTC with microseconds ("2024-01-01T10:00:00.123456Z").

    A fixed precision keeps the strings sortable. Text that is not a Go time is returned as it
    is rather than dropped; empty or missing times are None.
    """
    if not helm_time:
        return None
    match = _TIME_PATTERN.match(helm_time.strip())
    if not match:
        return helm_time
    fraction = (match.group("fraction") or "0")[:6].ljust(6, "0")
    moment = datetime.datetime.strptime(
        "%s %s.%s" % (match.group("date"), match.group("time"), fraction), "%Y-%m-%d %H:%M:%S.%f"
    )
    moment -= _utc_offset(match.group("offset"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc_offset(offset: Optional[str]) -> datetime.timedelta:
    if not offset or offset == "Z":
        return datetime.timedelta(0)
    digits = offset[1:].replace(":", "")
    delta = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return -delta if offset[0] == "-" else delta


def split_chart(chart: Optional[str]) -> Tuple[str, Optional[str]]:
    """Split Helm's "name-version" chart text: ``my-app-1.2.3-rc.1`` -> (``my-app``, ``1.2.3-rc.1``),
    ``app-2-1.0.0`` -> (``app-2``, ``1.0.0``). Only for Helm's text: a release record's
    ``chart.metadata`` has the name and version apart."""
    chart = chart or ""
    dashes = [index for index, char in enumerate(chart) if char == "-" and index > 0]
    for tier in _VERSION_TIERS:
        for index in dashes:  # the first dash gives the longest suffix
            if tier.fullmatch(chart, index + 1):
                return chart[:index], chart[index + 1:]
    return chart, None


def rollback_target(description: str, rollback_revision: Any = None) -> Optional[int]:
    """The revision a rollback copied: Helm 4.3's ``rollback_revision`` field, else "Rollback to N"."""
    if isinstance(rollback_revision, int) and rollback_revision > 0:
        return rollback_revision
    match = _ROLLBACK_TO.match(description or "")
    return int(match.group(1)) if match else None


def derive_operation(revision: int, status: str, description: str, rollback_to: Optional[int] = None) -> str:
    """Which Helm action wrote this revision, from its description (Helm stores no other record)."""
    if rollback_to is not None:
        return "rollback"
    for pattern, operation in _OPERATION_BY_DESCRIPTION:
        if pattern.match(description or ""):
            return operation
    if revision == 1:
        return "install"
    if status in ("uninstalled", "uninstalling"):
        return "uninstall"
    # Custom --description texts are unknowable, and 'Release "x" failed: ...' on a later revision
    # is written both by a failed install (--replace) and by a rollback whose wait failed.
    return "unknown"


def parse_revision(entry: Dict[str, Any]) -> Revision:
    """One ``helm history -o json`` entry (Helm 3 or 4) as a Revision; an entry made from a release record
    (release_store.history_entry) also has the record's ``chart_name`` and ``chart_version``."""
    number = int(entry["revision"])
    status = str(entry.get("status") or "unknown").lower()
    description = entry.get("description") or ""
    chart = entry.get("chart") or ""
    chart_name, chart_version = _chart_name_version(entry)
    rollback_to = rollback_target(description, entry.get("rollback_revision"))
    return Revision(
        revision=number,
        updated=iso8601(entry.get("updated")),
        status=status,
        chart=chart,
        chart_name=chart_name,
        chart_version=chart_version,
        app_version=entry.get("app_version") or None,
        description=description,
        operation=derive_operation(number, status, description, rollback_to),
        rollback_to=rollback_to,
    )


def _chart_name_version(entry: Dict[str, Any]) -> Tuple[str, Optional[str]]:
    """The chart name and version of a history or list entry: those of the release record when the entry came
    from one (release_store.history_entry sets ``chart_name``), else split from Helm's "name-version" text."""
    if entry.get("chart_name"):
        return str(entry["chart_name"]), entry.get("chart_version") or None
    return split_chart(entry.get("chart"))


def parse_history(entries: Iterable[Dict[str, Any]]) -> List[Revision]:
    """``helm history -o json`` output as Revisions, oldest first."""
    if entries is None:
        return []
    return sorted((parse_revision(entry) for entry in entries), key=lambda rev: rev.revision)


def deployed_revision(history: Sequence[Revision]) -> Optional[int]:
    """The revision Helm currently marks ``deployed`` (the newest one if Helm left several)."""
    deployed = [rev.revision for rev in history if rev.status == "deployed"]
    return max(deployed) if deployed else None


def last_successful(history: Sequence[Revision]) -> Optional[Revision]:
    """The newest revision that reached DEPLOYED, or None when none did."""
    good = [rev for rev in history if rev.reached_deployed]
    return max(good, key=lambda rev: rev.revision) if good else None


def rollback_candidates(history: Sequence[Revision]) -> List[int]:
    """Revisions that reached DEPLOYED, newest first, without the latest revision."""
    if not history:
        return []
    latest = max(rev.revision for rev in history)
    return sorted((rev.revision for rev in history if rev.reached_deployed and rev.revision != latest), reverse=True)


def is_pending(history: Sequence[Revision]) -> bool:
    """True when the latest revision is still ``pending-*`` (an interrupted or running operation)."""
    return bool(history) and max(history, key=lambda rev: rev.revision).is_pending


def values_to_read(shown: Sequence[Revision], scope: str = "all") -> List[int]:
    """Revisions whose values to read, oldest first: every shown one (``all``), or only those
    that reached DEPLOYED (``successful``), the ones a rollback or known-good upgrade can use."""
    return sorted(rev.revision for rev in shown if scope == "all" or rev.reached_deployed)


def newest(history: Sequence[Revision], count: Optional[int]) -> List[Revision]:
    """The newest ``count`` revisions, oldest first (all of them when count is None)."""
    ordered = sorted(history, key=lambda rev: rev.revision)
    if count is None:
        return ordered
    return ordered[-count:] if count > 0 else []


def to_result(
    history: Sequence[Revision],
    shown: Optional[Sequence[Revision]] = None,
    values: Optional[Dict[int, Any]] = None,
) -> Dict[str, Any]:
    """The history module's result. Decisions use the whole ``history``; ``shown`` (default: all)
    is what is listed, with ``values`` (revision -> dict) attached only when given."""
    ordered = sorted(history, key=lambda rev: rev.revision)
    shown = ordered if shown is None else sorted(shown, key=lambda rev: rev.revision)
    entries = [_entry(rev, values) for rev in shown]
    good = last_successful(ordered)
    return {
        "exists": bool(ordered),
        "history": entries,
        "current": _entry(ordered[-1], values) if ordered else None,
        "deployed_revision": deployed_revision(ordered),
        "last_successful_revision": good.revision if good else None,
        "rollback_candidates": rollback_candidates(ordered),
        "pending": is_pending(ordered),
    }


def _entry(rev: Revision, values: Optional[Dict[int, Any]]) -> Dict[str, Any]:
    entry = rev.to_dict()
    if values is not None and rev.revision in values:
        entry["values"] = values[rev.revision]
    return entry


def list_entry(entry: Dict[str, Any]) -> Dict[str, Any]:
    """One ``helm list -o json`` entry normalised like history entries (revision is a string there)."""
    chart_name, chart_version = _chart_name_version(entry)
    status = str(entry.get("status") or "unknown").lower()
    return {
        "name": entry.get("name"),
        "namespace": entry.get("namespace"),
        "revision": int(entry["revision"]),
        "updated": iso8601(entry.get("updated")),
        "status": status,
        "pending": status in PENDING_STATUSES,
        "chart": entry.get("chart") or "",
        "chart_name": chart_name,
        "chart_version": chart_version,
        "app_version": entry.get("app_version") or None,
    }


def listed_matches(release: Dict[str, Any], statuses: Sequence[str]) -> bool:
    """Whether a listed release is among ``statuses`` (empty: every release). "pending" stands for every
    pending-* status, "drifted" for a deployed release whose drift check found drift, or could not be made (its row
    has the ``error_kind``: a failed row, not a hidden release)."""
    if not statuses:
        return True
    if DRIFTED in statuses and (release.get("drifted") or release.get("error_kind")):
        return True
    status = release.get("status") or ""
    return any(wanted == status or (wanted == "pending" and status in PENDING_STATUSES)
               for wanted in statuses if wanted != DRIFTED)

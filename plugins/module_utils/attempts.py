# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The memory of recovery attempts on one release, and the decision it drives: pure, no I/O.

A release that no recovery step can fix would otherwise be tried again on every scheduled run, each
try writing a failed revision. So the outcome of each run is remembered (in the release's Lease,
module_utils/release_lease.py, as the annotation ``to_annotation`` makes) and the next run asks
``gate`` first:

* the memory is keyed on the release's latest revision *as our last attempt left it* (our own failed
  rollback writes a new failed revision, so that number is ours): when the latest revision is another
  one, someone else deployed since, and the memory is forgotten;
* after ``n`` failed attempts the next one may start ``backoff * 2**(n-1)`` after the last one
  (``backoff`` 0 turns the backoff off); inside that time the run is ``deferred``;
* after ``max_attempts`` failed attempts the release is ``quarantined``: left alone and reported
  until its latest revision changes or an operator sets ``clear_quarantine``.

``remember`` says what to keep after a run: nothing once the release is recovered or healthy, one
more failed attempt when the ladder ran and nothing recovered, the memory unchanged when the run was
deferred (a transient error is not an attempt).

Public API::

    Memory(revision, attempts, last_attempt, last_outcome, reason)    .to_annotation() -> str
    memory_from_annotation(text) -> Optional[Memory]
    Gate(verdict, reason, retry_in, memory)         verdict: PROCEED, DEFERRED or QUARANTINED
    gate(memory, latest_revision, now, max_attempts, backoff_seconds, clear_quarantine=False) -> Gate
    remember(memory, latest_before, latest_after, outcome, reason, now) -> Optional[Memory]
    memory_view(memory, max_attempts, backoff_seconds) -> Optional[dict]     the task result's form
    backoff_delay(attempts, backoff_seconds) -> float
    format_time(moment) -> str          parse_time(text) -> Optional[datetime]
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ansible_collections.matih.helm.plugins.module_utils.durations import format_duration

# Gate verdicts
PROCEED, DEFERRED, QUARANTINED = "proceed", "deferred", "quarantined"
# Run outcomes remember() tells apart (recovery.py's words; any other outcome changes nothing)
RECOVERED, HEALTHY, FAILED = "recovered", "healthy", "failed"
FORGETTING_OUTCOMES = (RECOVERED, HEALTHY)
# A reason is a summary for the report, not a log: Helm's error text can run to kilobytes, and the
# annotation is read by every run and shown by kubectl.
REASON_LIMIT = 300
# The doubling stops here: with the quarantine off (max_attempts 0) attempts go on for ever, and a
# release should still be tried at least once a day.
MAX_BACKOFF_SECONDS = 86400.0
# RFC 3339 as the API writes times (Time: seconds; MicroTime: microseconds), and as people type them
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


@dataclass(frozen=True)
class Memory:
    """The failed recovery attempts on one release. ``revision`` is the release's latest revision as
    our last attempt left it; ``last_attempt`` when that attempt ended (RFC 3339, UTC, whole seconds)."""

    revision: int
    attempts: int
    last_attempt: str
    last_outcome: str
    reason: str

    def to_annotation(self) -> str:
        """Compact JSON with the field names as keys: what the Lease's annotation holds."""
        return json.dumps({"revision": self.revision, "attempts": self.attempts, "last_attempt": self.last_attempt,
                           "last_outcome": self.last_outcome, "reason": self.reason},
                          separators=(",", ":"), sort_keys=True)

    def describe(self) -> str:
        """``3 recoveries of revision 7 failed (last 2026-12-06T22:00:00Z: <reason>)``."""
        what = "1 recovery" if self.attempts == 1 else "%d recoveries" % self.attempts
        last = self.last_attempt + (": " + self.reason if self.reason else "")
        return "%s of revision %d failed (last %s)" % (what, self.revision, last)


@dataclass(frozen=True)
class Gate:
    """What a run may do about the release. ``retry_in``: seconds left in the backoff (deferred only);
    ``memory``: the memory that still applies (None when forgotten), to pass on to remember()."""

    verdict: str
    reason: str
    retry_in: Optional[float]
    memory: Optional[Memory]

    @property
    def proceed(self) -> bool:
        return self.verdict == PROCEED


def memory_from_annotation(text: Any) -> Optional[Memory]:
    """The Memory of an annotation's text; None when it is absent or is not one (a hand-edited
    annotation must never fail a run: it is forgotten instead)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        fields = json.loads(text)
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    revision, attempts = fields.get("revision"), fields.get("attempts")
    last_attempt, last_outcome, reason = fields.get("last_attempt"), fields.get("last_outcome", ""), fields.get("reason", "")
    texts_are_text = all(isinstance(value, str) for value in (last_outcome, reason, last_attempt))
    if not (texts_are_text and _positive_int(revision) and _positive_int(attempts)):
        return None
    moment = parse_time(last_attempt)
    if moment is None:
        return None
    return Memory(revision, attempts, format_time(moment), last_outcome, _short(reason))


def gate(memory: Optional[Memory], latest_revision: Optional[int], now: datetime.datetime, max_attempts: int,
         backoff_seconds: float, clear_quarantine: bool = False) -> Gate:
    """Whether a run may try to recover the release now. ``max_attempts`` 0 turns the quarantine off,
    ``backoff_seconds`` 0 the backoff; ``now`` is an aware datetime (a naive one counts as UTC)."""
    if memory is None:
        return Gate(PROCEED, "", None, None)
    if latest_revision != memory.revision:
        # our last attempt left another revision latest: someone deployed since
        return Gate(PROCEED, "%s; the latest revision is now %s, so those attempts are forgotten" % (
            memory.describe(), latest_revision), None, None)
    if clear_quarantine:
        return Gate(PROCEED, "%s; forgotten, as clear_quarantine=true asks" % memory.describe(), None, None)
    if max_attempts > 0 and memory.attempts >= max_attempts:
        return Gate(QUARANTINED, "%s; quarantined until its latest revision changes or clear_quarantine=true" %
                    memory.describe(), None, memory)
    last = parse_time(memory.last_attempt)
    wait = backoff_delay(memory.attempts, backoff_seconds)
    if last is not None and wait > 0:
        # Another controller's clock may run ahead of ours: never wait longer than the backoff itself.
        left = min((last - _utc(now)).total_seconds() + wait, wait)
        if left > 0:
            next_attempt = format_time(_utc(now) + datetime.timedelta(seconds=left))
            return Gate(DEFERRED, "%s; backing off %s: the next attempt may start at %s, in %s" % (
                memory.describe(), format_duration(wait), next_attempt, format_duration(left)), left, memory)
    return Gate(PROCEED, "%s; trying again (attempt %d%s)" % (
        memory.describe(), memory.attempts + 1, " of %d" % max_attempts if max_attempts > 0 else ""), None, memory)


def remember(memory: Optional[Memory], latest_before: Optional[int], latest_after: Optional[int], outcome: str,
             reason: str, now: datetime.datetime) -> Optional[Memory]:
    """The memory to keep after a run. ``memory`` is the gate's (Gate.memory), ``latest_before`` and
    ``latest_after`` the release's latest revision before the run and after it, ``outcome`` the run's.

    recovered or healthy: forgotten (None). failed (the ladder ran and nothing recovered): one more
    attempt on the revision the run left latest, counted on from ``memory`` when the run started from
    the revision it remembers, else from 1. Anything else (deferred, planned, held, quarantined...):
    the memory unchanged, since nothing was tried."""
    if outcome in FORGETTING_OUTCOMES:
        return None
    if outcome != FAILED:
        return memory
    if latest_after is None:
        return None  # no release left to remember anything about
    counted = memory.attempts if memory is not None and memory.revision == latest_before else 0
    return Memory(latest_after, counted + 1, format_time(now), outcome, _short(reason))


def memory_view(memory: Optional[Memory], max_attempts: int, backoff_seconds: float) -> Optional[Dict[str, Any]]:
    """The memory as a task reports it (None when there is none): its fields, ``max_attempts``,
    ``quarantined``, and ``next_attempt``, when the backoff after the last failed attempt ends (None when
    no backoff applies, or when quarantined: no attempt comes until the release changes or is cleared)."""
    if memory is None:
        return None
    quarantined = 0 < max_attempts <= memory.attempts
    last = parse_time(memory.last_attempt)
    wait = backoff_delay(memory.attempts, backoff_seconds)
    next_attempt = None
    if not quarantined and wait > 0 and last is not None:
        next_attempt = format_time(last + datetime.timedelta(seconds=wait))
    return {"revision": memory.revision, "attempts": memory.attempts, "last_attempt": memory.last_attempt,
            "last_outcome": memory.last_outcome, "reason": memory.reason, "max_attempts": max_attempts,
            "quarantined": quarantined, "next_attempt": next_attempt}


def backoff_delay(attempts: int, backoff_seconds: float) -> float:
    """Seconds between the last of ``attempts`` failed attempts and the next: backoff * 2**(attempts-1),
    at most MAX_BACKOFF_SECONDS; 0 when the backoff is off or nothing failed yet."""
    if backoff_seconds <= 0 or attempts <= 0:
        return 0.0
    # 2**60 seconds is beyond any cap: stop doubling there rather than build a huge number
    return min(backoff_seconds * 2.0 ** min(attempts - 1, 60), MAX_BACKOFF_SECONDS)


def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC to the second, as the API writes a Time: ``2026-12-06T22:00:00Z``."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> Optional[datetime.datetime]:
    """An aware UTC datetime of an RFC 3339 time (a Time or a MicroTime), or None when it is not one."""
    match = _RFC3339.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        offset = datetime.timezone.utc
        if zone not in ("Z", "z"):
            sign = -1 if zone[0] == "-" else 1
            offset = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                                   int((fraction or "0")[:6].ljust(6, "0")), tzinfo=offset)
        return moment.astimezone(datetime.timezone.utc)
    except (ValueError, OverflowError):  # February 30th, hour 25, an offset of a day or more, year 1 minus an hour
        return None


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _short(reason: str) -> str:
    """One line of at most REASON_LIMIT characters."""
    line = " ".join((reason or "").split())
    return line if len(line) <= REASON_LIMIT else line[:REASON_LIMIT - 3] + "..."

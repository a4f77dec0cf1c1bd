# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a watch of Helm's release Secrets tells a rulebook: pure, no I/O, the time given as ``now``.

The event source matih.helm.helm_releases (extensions/eda/plugins/event_source/helm_releases.py) LISTs and
WATCHes the metadata of Helm's release Secrets, and hands every answer to one ``ReleaseEvents``. It keeps each
release's revisions from the Secrets' labels (release_inventory reads them) and answers with the events to emit:

* ``release_status`` when a release's latest revision, or its status, changes to one of the statuses asked for;
  on the first LIST of a scope, the releases already unhealthy (reason ``initial``);
* ``pending_stale`` once when a ``pending-*`` revision has not changed for ``stale_pending_after``: counted from
  when the watch saw it change, or, for a release a LIST found so, from its Secret's modifiedAt;
* never two events of one type for one (cluster, namespace, release, revision, status), whatever the watch
  repeats: a LIST made again (after 410 Gone) emits only what changed meanwhile; a latest revision deleted (the
  latest revision number going down) emits nothing;
* but an unhealthy event emitted (``failed``, ``pending_stale``) is emitted again (reason ``repeat``) every
  ``repeat_after`` while the release's latest revision and status stay the same, so that a recovery deferred or
  failed is tried again; repeats are neither held nor counted by the brake;
* the burst brake: an unhealthy change (``failed``, ``pending_stale``), the kind a rulebook recovers, is held
  ``burst_hold``; when it is due and more than ``burst_limit`` of them were seen within ``burst_window`` (held
  ones included), none of the held ones is emitted (nor ever repeated) and one ``burst`` event names them, once
  per burst.

Also the decisions of the watch loop that are not I/O: what to do after an API error, and how long to wait
before connecting again.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any, Deque, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from ansible_collections.matih.helm.plugins.module_utils.durations import duration_nanoseconds
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, INVALID_KUBECONFIG, NO_API_SERVER, NOT_FOUND, REJECTED, UNSUPPORTED_KUBECONFIG,
)
from ansible_collections.matih.helm.plugins.module_utils.release_inventory import (
    PENDING, UNHEALTHY, Release, expand_statuses, latest_revisions, parse_timestamp,
)

# Event types, and the reasons of a release's event
RELEASE_STATUS = "release_status"
PENDING_STALE = "pending_stale"
BURST = "burst"
INITIAL = "initial"
CHANGED = "changed"
REPEAT = "repeat"
FAILED = "failed"
# The watch's event types (BOOKMARK only moves the resourceVersion on)
WATCH_CHANGES = ("ADDED", "MODIFIED", "DELETED")
DEFAULT_STATUSES = ("failed", "pending")
# The watch loop's answer to an API error
RELIST, RETRY, GIVE_UP = "relist", "retry", "give_up"
# Errors no retry mends: the options, the kubeconfig or the identity's rights are wrong
PERMANENT_KINDS = (ACCESS_DENIED, REJECTED, NOT_FOUND, INVALID_KUBECONFIG, UNSUPPORTED_KUBECONFIG, NO_API_SERVER)
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0

ReleaseKey = Tuple[str, str, str]  # (cluster, namespace, release)


class Settings(NamedTuple):
    """What to emit. ``statuses`` are Helm's words (``pending`` for every ``pending-*``); durations are seconds;
    0 turns ``stale_pending_after`` or ``repeat_after`` off, ``burst_limit`` 0 the brake."""
    statuses: Tuple[str, ...] = tuple(expand_statuses(DEFAULT_STATUSES))
    initial: bool = True
    stale_pending_after: float = 900.0
    burst_limit: int = 5
    burst_window: float = 300.0
    burst_hold: float = 1.0
    repeat_after: float = 600.0


class Scope(NamedTuple):
    """What one LIST and WATCH covers: a cluster's every namespace (None), or one namespace of it."""
    cluster: str
    namespace: Optional[str] = None

    def covers(self, key: ReleaseKey) -> bool:
        return key[0] == self.cluster and (self.namespace is None or key[1] == self.namespace)

    def describe(self) -> str:
        if self.namespace is None:
            return "cluster %s" % self.cluster
        return "cluster %s, namespace %s" % (self.cluster, self.namespace)


class Note(NamedTuple):
    """Something the source should log (a logging level and the message): why an event was not emitted."""
    level: int
    message: str


class _Revision(NamedTuple):
    status: str
    updated: str


class _Latest(NamedTuple):
    """A release's latest revision as last seen; ``seen`` is when it took this revision and status, ``live``
    whether the watch saw that change (else a LIST found it so)."""
    revision: int
    status: str
    updated: str
    seen: float
    previous_revision: Optional[int]
    previous_status: Optional[str]
    live: bool = False


class _Repeat(NamedTuple):
    """An unhealthy event emitted, to emit again at ``due`` while the release stays as it was."""
    due: float
    mark: Tuple[str, int, str]


class _Held(NamedTuple):
    """An unhealthy change waiting for the brake's decision; ``mark`` is (type, revision, status)."""
    due: float
    key: ReleaseKey
    mark: Tuple[str, int, str]
    event: Dict[str, Any]


def revision_row(item: Dict[str, Any]) -> Optional[Release]:
    """The revision one release Secret's metadata describes (latest_revisions of that one item), or None when
    it is not a Helm record."""
    rows = latest_revisions([item])
    return rows[0] if rows else None


class ReleaseEvents(object):
    """Each release's revisions, from LISTs and watch events of its Secrets, and the events they make.

    Not thread-safe: the source calls it from its event loop only. Every call takes ``now`` (Unix seconds) and
    returns the events to emit, in order; ``notes`` collects what the source should log."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._statuses = frozenset(expand_statuses(settings.statuses))
        self.notes: List[Note] = []
        self._revisions: Dict[ReleaseKey, Dict[int, _Revision]] = {}
        self._latest: Dict[ReleaseKey, _Latest] = {}
        self._pending: Set[ReleaseKey] = set()  # releases whose latest revision is pending-*
        self._emitted: Dict[ReleaseKey, Set[Tuple[str, int, str]]] = {}
        self._listed: Set[Scope] = set()
        self._held: List[_Held] = []
        self._repeats: Dict[ReleaseKey, _Repeat] = {}
        self._unhealthy_seen: Deque[float] = deque()
        self._braking = False

    # --- what the watch reports -------------------------------------------------------------------

    def listed(self, scope: Scope, items: Iterable[Dict[str, Any]], now: float) -> List[Dict[str, Any]]:
        """A LIST of the scope's release Secrets: the first one reports what is unhealthy already (with
        ``initial``); a later one (after 410 Gone) reports what changed since the scope was last seen."""
        first = scope not in self._listed
        self._listed.add(scope)
        found: Dict[ReleaseKey, Dict[int, _Revision]] = {}
        for item in items:
            row = revision_row(item)
            if row is not None:
                found.setdefault((scope.cluster, row.namespace, row.name), {})[row.revision] = _Revision(
                    row.status, row.updated)
        events = []
        for key in sorted(set(found) | set(key for key in self._revisions if scope.covers(key))):
            if key in found:
                self._revisions[key] = found[key]
            else:
                self._revisions.pop(key, None)
            events += self._follow(key, now, INITIAL if first else CHANGED)
        if first and not self.settings.initial:
            self._mark_stale_reported(scope, now)
        return events + self.due(now)

    def observed(self, scope: Scope, event_type: str, item: Dict[str, Any], now: float) -> List[Dict[str, Any]]:
        """One watch event (ADDED, MODIFIED or DELETED of a revision's Secret; BOOKMARK changes nothing)."""
        row = revision_row(item) if event_type in WATCH_CHANGES else None
        if row is None:
            return self.due(now)
        key = (scope.cluster, row.namespace, row.name)
        if event_type == "DELETED":
            self._revisions.get(key, {}).pop(row.revision, None)
        else:
            self._revisions.setdefault(key, {})[row.revision] = _Revision(row.status, row.updated)
        return self._follow(key, now, CHANGED, live=True) + self.due(now)

    def due(self, now: float) -> List[Dict[str, Any]]:
        """What time alone makes due: pending revisions turned stale, unhealthy events to repeat, held changes
        the brake decides on."""
        events = self._stale_pendings(now) + self._due_repeats(now)
        ready = [held for held in self._held if held.due <= now]
        if not ready:
            return events
        seen = self._unhealthy_in_window(now)
        if seen > self.settings.burst_limit:
            return events + self._brake(seen)
        if self._braking:
            self._braking = False
            self._note(logging.INFO, "The burst is over: at most %d unhealthy changes within %s again; events are "
                       "emitted again" % (self.settings.burst_limit, _seconds_text(self.settings.burst_window)))
        self._held = [held for held in self._held if held.due > now]
        for held in ready:
            if self._current(held):
                events += self._emit(held.key, held.mark, held.event, now)
            else:
                latest = self._latest.get(held.key)
                self._note(logging.INFO, "%s: not emitting %s %s of revision %d: the release changed meanwhile (%s)" % (
                    _release_text(held.key), held.mark[0], held.mark[2], held.mark[1],
                    "now revision %d, %s" % (latest.revision, latest.status) if latest else "now gone"))
        return events

    def next_due(self) -> Optional[float]:
        """When ``due`` has something to do next (Unix seconds), or None while nothing is waiting."""
        dues = [held.due for held in self._held] + [repeat.due for repeat in self._repeats.values()]
        if self.settings.stale_pending_after > 0:
            for key in self._pending:
                latest = self._latest[key]
                if not self._reported_or_held(key, (PENDING_STALE, latest.revision, latest.status)):
                    dues.append(self._pending_since(latest) + self.settings.stale_pending_after)
        return min(dues) if dues else None

    def take_notes(self) -> List[Note]:
        notes, self.notes = self.notes, []
        return notes

    # --- one release ------------------------------------------------------------------------------

    def _follow(self, key: ReleaseKey, now: float, reason: str, live: bool = False) -> List[Dict[str, Any]]:
        """The events of a release whose revisions may have changed; ``live`` when the watch saw the change."""
        revisions = self._revisions.get(key)
        if not revisions:
            self._forget(key)  # uninstalled (or never a release): a reinstall starts afresh
            return []
        if key in self._emitted:  # revisions Helm pruned (--history-max) are never the latest again
            self._emitted[key] = set(mark for mark in self._emitted[key] if mark[1] in revisions)
        revision = max(revisions)
        current = revisions[revision]
        old = self._latest.get(key)
        if old is not None and (old.revision, old.status) == (revision, current.status):
            return []
        latest = _Latest(revision, current.status, current.updated, now, old.revision if old else None,
                         old.status if old else None, live)
        self._latest[key] = latest
        self._repeats.pop(key, None)
        if latest.status in PENDING:
            self._pending.add(key)
        else:
            self._pending.discard(key)
        if old is not None and revision < old.revision:
            # the latest revision deleted (helm uninstall deletes them one by one, or a person by hand): an older
            # revision is not news, and its failure or pending state was reported when it was the latest
            self._emitted.setdefault(key, set()).update(
                [(RELEASE_STATUS, latest.revision, latest.status), (PENDING_STALE, latest.revision, latest.status)])
            self._note(logging.DEBUG, "%s: revision %d (%s) deleted; the latest is revision %d (%s) again, not "
                       "reported" % (_release_text(key), old.revision, old.status, latest.revision, latest.status))
            return []
        if latest.status not in self._statuses:
            return []
        if reason == INITIAL and (not self.settings.initial or latest.status not in UNHEALTHY):
            return []
        event = _release_event(RELEASE_STATUS, reason, key, latest)
        mark = (RELEASE_STATUS, latest.revision, latest.status)
        if latest.status == FAILED:
            return self._unhealthy(key, mark, event, now)
        return self._emit(key, mark, event, now)

    def _forget(self, key: ReleaseKey) -> None:
        self._revisions.pop(key, None)
        self._latest.pop(key, None)
        self._emitted.pop(key, None)
        self._repeats.pop(key, None)
        self._pending.discard(key)

    def _emit(self, key: ReleaseKey, mark: Tuple[str, int, str], event: Dict[str, Any],
              now: float) -> List[Dict[str, Any]]:
        emitted = self._emitted.setdefault(key, set())
        if mark in emitted:
            return []
        emitted.add(mark)
        if self.settings.repeat_after > 0 and (mark[0] == PENDING_STALE or mark[2] == FAILED):
            self._repeats[key] = _Repeat(now + self.settings.repeat_after, mark)
        return [event]

    def _due_repeats(self, now: float) -> List[Dict[str, Any]]:
        """The unhealthy events emitted ``repeat_after`` ago whose release is still as it was: again, with
        reason ``repeat`` (a recovery that was deferred or failed is tried again), neither held nor counted."""
        events = []
        for key in sorted(key for key, repeat in self._repeats.items() if repeat.due <= now):
            mark = self._repeats[key].mark
            latest = self._latest.get(key)
            if latest is None or (latest.revision, latest.status) != mark[1:]:
                del self._repeats[key]  # changed meanwhile (_follow drops it too)
                continue
            event = _release_event(mark[0], REPEAT, key, latest)
            if mark[0] == PENDING_STALE:
                event["helm_release"]["pending_seconds"] = int(now - self._pending_since(latest))
            self._repeats[key] = _Repeat(now + self.settings.repeat_after, mark)
            events.append(event)
        return events

    def _reported_or_held(self, key: ReleaseKey, mark: Tuple[str, int, str]) -> bool:
        return mark in self._emitted.get(key, ()) or any(held.key == key and held.mark == mark for held in self._held)

    def _current(self, held: _Held) -> bool:
        latest = self._latest.get(held.key)
        return latest is not None and (latest.revision, latest.status) == held.mark[1:]

    # --- stale pending revisions --------------------------------------------------------------------

    @staticmethod
    def _pending_since(latest: _Latest) -> float:
        """When the revision became pending: when the watch saw it change, by this clock (the writer's clock may
        be behind, and a live Helm operation must not look stale); for a release a LIST found pending, its
        Secret's modifiedAt (the only clue), but never later than when the LIST found it (a clock ahead)."""
        written = parse_timestamp(latest.updated)
        if latest.live or written is None:
            return latest.seen
        return min(written.timestamp(), latest.seen)

    def _stale_pendings(self, now: float) -> List[Dict[str, Any]]:
        after = self.settings.stale_pending_after
        if after <= 0:
            return []
        events = []
        for key in sorted(self._pending):
            latest = self._latest[key]
            pending = now - self._pending_since(latest)
            if pending >= after:
                event = _release_event(PENDING_STALE, PENDING_STALE, key, latest)
                event["helm_release"]["pending_seconds"] = int(pending)
                events += self._unhealthy(key, (PENDING_STALE, latest.revision, latest.status), event, now)
        return events

    def _mark_stale_reported(self, scope: Scope, now: float) -> None:
        """With ``initial: false``, a revision stale already at start is what the rulebook chose not to hear of."""
        after = self.settings.stale_pending_after
        for key in self._pending:
            latest = self._latest[key]
            if scope.covers(key) and after > 0 and now - self._pending_since(latest) >= after:
                self._emitted.setdefault(key, set()).add((PENDING_STALE, latest.revision, latest.status))

    # --- the burst brake ----------------------------------------------------------------------------

    def _unhealthy(self, key: ReleaseKey, mark: Tuple[str, int, str], event: Dict[str, Any],
                   now: float) -> List[Dict[str, Any]]:
        """A change a rulebook recovers: counted for the brake, and held unless the brake is off."""
        if self._reported_or_held(key, mark):
            return []
        if self.settings.burst_limit <= 0:
            return self._emit(key, mark, event, now)
        self._unhealthy_seen.append(now)
        self._held.append(_Held(now + self.settings.burst_hold, key, mark, event))
        return []

    def _unhealthy_in_window(self, now: float) -> int:
        while self._unhealthy_seen and self._unhealthy_seen[0] <= now - self.settings.burst_window:
            self._unhealthy_seen.popleft()
        return len(self._unhealthy_seen)

    def _brake(self, seen: int) -> List[Dict[str, Any]]:
        """Too many unhealthy changes: none of the held ones is emitted (nor ever will be, nor repeated), and the
        first decision of a burst emits the burst event: ``count`` unhealthy changes (not releases), ``releases``
        the held changes, ``names`` their releases as cluster/namespace/release."""
        held, self._held = self._held, []
        for one in held:
            self._emitted.setdefault(one.key, set()).add(one.mark)
        names = ", ".join("%s (%s)" % (_release_text(one.key), one.event["helm_release"]["status"]) for one in held)
        if self._braking:
            self._note(logging.WARNING, "Burst brake still on (%d unhealthy changes within %s, limit %d): not "
                       "emitting %s" % (seen, _seconds_text(self.settings.burst_window), self.settings.burst_limit,
                                        names))
            return []
        self._braking = True
        self._note(logging.WARNING, "Burst brake: %d unhealthy changes within %s, more than %d; emitting one burst "
                   "event instead of %s" % (seen, _seconds_text(self.settings.burst_window), self.settings.burst_limit,
                                            names or "any release event"))
        fields = ("type", "cluster", "namespace", "release", "revision", "status")
        releases = [dict((field, one.event["helm_release"][field]) for field in fields) for one in held]
        return [{"helm_release": {
            "type": BURST, "count": seen, "limit": self.settings.burst_limit,
            "window_seconds": int(self.settings.burst_window),
            "clusters": sorted(set(one.key[0] for one in held)), "releases": releases,
            "names": list(dict.fromkeys(_release_text(one.key) for one in held))}}]

    def _note(self, level: int, message: str) -> None:
        self.notes.append(Note(level, message))


def _release_event(event_type: str, reason: str, key: ReleaseKey, latest: _Latest) -> Dict[str, Any]:
    return {"helm_release": {
        "type": event_type, "reason": reason, "cluster": key[0], "namespace": key[1], "release": key[2],
        "revision": latest.revision, "status": latest.status, "previous_revision": latest.previous_revision,
        "previous_status": latest.previous_status, "updated": latest.updated}}


def _release_text(key: ReleaseKey) -> str:
    return "%s/%s/%s" % key


def _seconds_text(seconds: float) -> str:
    return "%gs" % seconds


# --- the watch loop's decisions ---------------------------------------------------------------------

def after_error(kind: str, status: Optional[int], first_request: bool) -> str:
    """What the watch loop does after a KubeError: RELIST when the resourceVersion is too old (410 Gone);
    GIVE_UP on an error no retry mends (access denied, a rejected request, a broken kubeconfig) answered to the
    scope's very first request, so that a wrong configuration ends the source with its message; else RETRY after
    ``retry_seconds``: an outage, throttling, and any error after an earlier request of the scope (an API server
    still starting may answer 401, 403 or 404 for a moment; a token being rotated, RBAC being fixed)."""
    if kind == REJECTED and status == 410:
        return RELIST
    if kind in PERMANENT_KINDS and first_request:
        return GIVE_UP
    return RETRY


def retry_seconds(failures: int) -> float:
    """The wait before attempt ``failures + 1``: 1 s, doubling, at most 30 s."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(failures - 1, 0), MAX_RETRY_SECONDS)


# --- options ----------------------------------------------------------------------------------------

def duration_seconds(value: Any, option: str) -> float:
    """A duration option in seconds: a number of seconds, or a Go duration such as ``15m`` or ``1h30m``.
    ValueError naming the option when it is neither, or negative."""
    if isinstance(value, bool):
        raise ValueError("%s is %r, not a duration; give a Go duration such as 15m, or seconds" % (option, value))
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        nanoseconds = 0 if text == "0" else duration_nanoseconds(text)
        if nanoseconds is None:
            raise ValueError("%s is %r, not a duration; give a Go duration such as 15m, 90s or 1h30m, or a number of "
                             "seconds" % (option, value))
        seconds = nanoseconds / 1e9
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("%s is %r; give a finite duration of 0 or more" % (option, value))
    return seconds


def settings_of(options: Dict[str, Any]) -> Settings:
    """Settings from the source's validated options (statuses, initial, stale_pending_after, burst_limit,
    burst_window, burst_hold, repeat_after). ValueError naming the option that cannot work."""
    if options["burst_limit"] < 0:
        raise ValueError("burst_limit is %d; give 0 (no brake) or more" % options["burst_limit"])
    settings = Settings(
        statuses=tuple(expand_statuses(options["statuses"])), initial=bool(options["initial"]),
        stale_pending_after=duration_seconds(options["stale_pending_after"], "stale_pending_after"),
        burst_limit=options["burst_limit"], burst_window=duration_seconds(options["burst_window"], "burst_window"),
        burst_hold=duration_seconds(options["burst_hold"], "burst_hold"),
        repeat_after=duration_seconds(options["repeat_after"], "repeat_after"))
    if settings.burst_limit and settings.burst_hold > settings.burst_window:
        raise ValueError("burst_hold (%s) is longer than burst_window (%s): a held change would have left the window "
                         "when the brake decides on it; shorten burst_hold or lengthen burst_window" % (
                             options["burst_hold"], options["burst_window"]))
    return settings

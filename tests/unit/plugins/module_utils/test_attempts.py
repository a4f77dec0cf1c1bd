# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The memory of recovery attempts: the gate (backoff, quarantine, forgetting) and what a run leaves
to remember, table by table; the annotation, whatever a person wrote into it."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.matih.helm.plugins.module_utils.attempts import (
    DEFERRED, MAX_BACKOFF_SECONDS, PROCEED, QUARANTINED, REASON_LIMIT, Gate, Memory, backoff_delay, format_time,
    gate, memory_from_annotation, memory_view, parse_time, remember,
)
from ansible_collections.matih.helm.plugins.module_utils.durations import format_duration

LAST = "2026-12-06T22:00:00Z"
T0 = datetime.datetime(2026, 12, 6, 22, 0, 0, tzinfo=datetime.timezone.utc)
WHY = "rollback to revision 5 failed: context deadline exceeded"


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def memory(attempts, revision=7, last=LAST, reason=WHY):
    return Memory(revision, attempts, last, "failed", reason)


# --- the gate ------------------------------------------------------------------------------------------

# id: (memory, latest revision, now (minutes after the last attempt), max_attempts, backoff seconds,
#      clear_quarantine) -> (verdict, retry_in, memory kept)
GATES = {
    "nothing remembered": (None, 7, 0, 3, 300, False, PROCEED, None, False),
    "1 failure, inside the backoff": (memory(1), 7, 3, 3, 300, False, DEFERRED, 120.0, True),
    "1 failure, the backoff just over": (memory(1), 7, 5, 3, 300, False, PROCEED, None, True),
    "2 failures: the backoff doubled": (memory(2), 7, 5, 3, 300, False, DEFERRED, 300.0, True),
    "2 failures, the doubled backoff over": (memory(2), 7, 10, 3, 300, False, PROCEED, None, True),
    "3 failures of 4: four times the backoff": (memory(3), 7, 10, 4, 300, False, DEFERRED, 600.0, True),
    "backoff 0: no waiting": (memory(2), 7, 0, 3, 0, False, PROCEED, None, True),
    "max_attempts reached: quarantined": (memory(3), 7, 600, 3, 300, False, QUARANTINED, None, True),
    "beyond max_attempts: quarantined": (memory(5), 7, 0, 3, 0, False, QUARANTINED, None, True),
    "quarantined before any backoff": (memory(3), 7, 1, 3, 300, False, QUARANTINED, None, True),
    "max_attempts 0: never quarantined": (memory(9), 7, 0, 0, 0, False, PROCEED, None, True),
    "someone deployed: forgotten": (memory(1), 9, 1, 3, 300, False, PROCEED, None, False),
    "someone deployed a quarantined release": (memory(3), 8, 0, 3, 300, False, PROCEED, None, False),
    "the release is gone: forgotten": (memory(3), None, 0, 3, 300, False, PROCEED, None, False),
    "clear_quarantine": (memory(3), 7, 0, 3, 300, True, PROCEED, None, False),
    "clear_quarantine inside the backoff": (memory(1), 7, 1, 3, 300, True, PROCEED, None, False),
    # another controller's clock 20 minutes ahead: the wait is never longer than the backoff
    "last attempt in the future": (memory(1, last="2026-12-06T22:20:00Z"), 7, 0, 3, 300, False, DEFERRED, 300.0, True),
}


@pytest.mark.parametrize("case", sorted(GATES))
def test_gate(case):
    remembered, latest, minutes, max_attempts, backoff, clear, verdict, retry_in, kept = GATES[case]
    decided = gate(remembered, latest, at(minutes), max_attempts, backoff, clear)
    assert isinstance(decided, Gate)
    assert (decided.verdict, decided.retry_in) == (verdict, retry_in), decided.reason
    assert decided.memory is (remembered if kept else None)
    assert decided.proceed is (verdict == PROCEED)
    assert bool(decided.reason) is (remembered is not None)


def test_quarantine_says_why_and_how_to_leave_it():
    decided = gate(memory(3), 7, at(60), 3, 300)
    assert decided.reason == ("3 recoveries of revision 7 failed (last 2026-12-06T22:00:00Z: %s); quarantined until "
                              "its latest revision changes or clear_quarantine=true" % WHY)


def test_backoff_says_when_and_how_long():
    decided = gate(memory(1), 7, at(3), 3, 300)
    assert decided.reason == ("1 recovery of revision 7 failed (last 2026-12-06T22:00:00Z: %s); backing off 5m: the "
                              "next attempt may start at 2026-12-06T22:05:00Z, in 2m" % WHY)


def test_forgetting_and_clearing_say_so():
    assert "the latest revision is now 9, so those attempts are forgotten" in gate(memory(3), 9, at(0), 3, 300).reason
    assert "forgotten, as clear_quarantine=true asks" in gate(memory(3), 7, at(0), 3, 300, True).reason
    assert gate(memory(1), 7, at(10), 3, 300).reason.endswith("trying again (attempt 2 of 3)")
    assert gate(memory(4), 7, at(0), 0, 0).reason.endswith("trying again (attempt 5)")


def test_a_naive_now_counts_as_utc():
    assert gate(memory(1), 7, at(3).replace(tzinfo=None), 3, 300).retry_in == 120.0


@pytest.mark.parametrize("attempts, backoff, expected", [
    (0, 300, 0.0), (1, 300, 300.0), (2, 300, 600.0), (3, 300, 1200.0), (4, 300, 2400.0),
    (3, 0, 0.0), (1, 0.5, 0.5), (40, 300, MAX_BACKOFF_SECONDS), (10 ** 6, 300, MAX_BACKOFF_SECONDS),
])
def test_backoff_delay(attempts, backoff, expected):
    assert backoff_delay(attempts, backoff) == expected


# --- what a run leaves -----------------------------------------------------------------------------------

AFTER = at(30)
# id: (memory, latest before, latest after, outcome) -> the memory kept: None, "same", or (revision, attempts)
REMEMBERED = {
    "recovered: forgotten": (memory(2), 7, 8, "recovered", None),
    "healthy: forgotten": (memory(2), 7, 7, "healthy", None),
    "first failure": (None, 7, 8, "failed", (8, 1)),
    "second failure of the revision we left": (memory(1), 7, 8, "failed", (8, 2)),
    "a failure that wrote no revision (preflight refused)": (memory(1), 7, 7, "failed", (7, 2)),
    "a failure on a revision someone else wrote": (memory(2, revision=5), 7, 9, "failed", (9, 1)),
    "deferred: not an attempt": (memory(2), 7, 7, "deferred", "same"),
    "deferred with nothing remembered": (None, 7, 7, "deferred", "same"),
    "planned (check mode): nothing tried": (memory(1), 7, 7, "planned", "same"),
    "quarantined: nothing tried": (memory(3), 7, 7, "quarantined", "same"),
    "failed, and the release is gone": (memory(1), 7, None, "failed", None),
}


@pytest.mark.parametrize("case", sorted(REMEMBERED))
def test_remember(case):
    remembered, before, after, outcome, expected = REMEMBERED[case]
    kept = remember(remembered, before, after, outcome, "upgrade failed", AFTER)
    if expected is None:
        assert kept is None
    elif expected == "same":
        assert kept is remembered
    else:
        assert kept == Memory(expected[0], expected[1], "2026-12-06T22:30:00Z", "failed", "upgrade failed")


def test_a_long_reason_is_cut_to_one_short_line():
    kept = remember(None, 7, 8, "failed", "line one\n\tline two " + "x" * 1000, AFTER)
    assert kept.reason.startswith("line one line two xxx") and kept.reason.endswith("...")
    assert len(kept.reason) == REASON_LIMIT


def test_five_scheduled_runs_on_an_unrecoverable_release():
    """Runs every 8 minutes, max_attempts 3, backoff 5m: each failing run writes one failed revision;
    backoff and quarantine leave three attempts in all; a deploy by someone else clears it."""
    remembered, latest, verdicts = None, 4, []
    for run in range(8):
        now = at(8 * run)
        decided = gate(remembered, latest, now, 3, 300)
        verdicts.append(decided.verdict)
        if decided.proceed:
            remembered = remember(decided.memory, latest, latest + 1, "failed", "rollback failed", now)
            latest += 1
        else:
            remembered = remember(decided.memory, latest, latest, decided.verdict, "", now)
    # the 2nd run starts 8m after the 1st (backoff 5m); the 3rd 8m after the 2nd is inside its 10m
    # backoff; the 4th tries a 3rd time; after that, quarantined
    assert verdicts == [PROCEED, PROCEED, DEFERRED, PROCEED, QUARANTINED, QUARANTINED, QUARANTINED, QUARANTINED]
    assert (latest, remembered.attempts, remembered.revision) == (7, 3, 7)
    decided = gate(remembered, 8, at(90), 3, 300)  # someone deployed revision 8
    assert (decided.verdict, decided.memory) == (PROCEED, None)


# --- what a task reports -------------------------------------------------------------------------------

@pytest.mark.parametrize("attempts, max_attempts, backoff, quarantined, next_attempt", [
    (1, 3, 300, False, "2026-12-06T22:05:00Z"),
    (2, 3, 300, False, "2026-12-06T22:10:00Z"),
    (3, 3, 300, True, None),  # no next attempt until the release changes or is cleared
    (2, 3, 0, False, None),  # no backoff: the next run may try
    (7, 0, 60, False, "2026-12-06T23:04:00Z"),  # quarantine off
])
def test_memory_view(attempts, max_attempts, backoff, quarantined, next_attempt):
    assert memory_view(memory(attempts), max_attempts, backoff) == {
        "revision": 7, "attempts": attempts, "last_attempt": LAST, "last_outcome": "failed", "reason": WHY,
        "max_attempts": max_attempts, "quarantined": quarantined, "next_attempt": next_attempt}


def test_memory_view_of_nothing():
    assert memory_view(None, 3, 300) is None


# --- the annotation ---------------------------------------------------------------------------------------

def test_the_annotation_round_trips_as_compact_json():
    kept = Memory(7, 2, LAST, "failed", 'upgrade "web" failed: ünïcode')
    text = kept.to_annotation()
    assert text == ('{"attempts":2,"last_attempt":"2026-12-06T22:00:00Z","last_outcome":"failed",'
                    '"reason":"upgrade \\"web\\" failed: \\u00fcn\\u00efcode","revision":7}')
    assert json.loads(text) == {"revision": 7, "attempts": 2, "last_attempt": LAST, "last_outcome": "failed",
                                "reason": 'upgrade "web" failed: ünïcode'}
    assert memory_from_annotation(text) == kept


GOOD = {"revision": 7, "attempts": 2, "last_attempt": LAST, "last_outcome": "failed", "reason": "why"}
GARBAGE = {
    "absent": None,
    "empty": "",
    "blank": "  ",
    "not JSON": "attempts=3",
    "a list": "[7, 2]",
    "a number": "7",
    "revision as text": json.dumps(dict(GOOD, revision="7")),
    "revision true": json.dumps(dict(GOOD, revision=True)),
    "revision 0": json.dumps(dict(GOOD, revision=0)),
    "attempts 0": json.dumps(dict(GOOD, attempts=0)),
    "attempts negative": json.dumps(dict(GOOD, attempts=-1)),
    "attempts a float": json.dumps(dict(GOOD, attempts=2.0)),
    "no revision": json.dumps(dict((k, v) for k, v in GOOD.items() if k != "revision")),
    "no last attempt": json.dumps(dict((k, v) for k, v in GOOD.items() if k != "last_attempt")),
    "a date that is not": json.dumps(dict(GOOD, last_attempt="yesterday")),
    "February 30th": json.dumps(dict(GOOD, last_attempt="2026-02-30T10:00:00Z")),
    "no time zone": json.dumps(dict(GOOD, last_attempt="2026-12-06T22:00:00")),
    "reason a list": json.dumps(dict(GOOD, reason=["why"])),
    "outcome a number": json.dumps(dict(GOOD, last_outcome=1)),
    "not text": 7,
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_a_garbage_annotation_is_forgotten(case):
    assert memory_from_annotation(GARBAGE[case]) is None


def test_a_hand_edited_annotation_is_read_leniently():
    text = json.dumps({"revision": 7, "attempts": 1, "last_attempt": "2026-12-06T23:30:00.5+01:30", "note": "mine"})
    assert memory_from_annotation(text) == Memory(7, 1, LAST, "", "")


@pytest.mark.parametrize("text, expected", [
    ("2026-12-06T22:00:00Z", T0),
    ("2026-12-06T22:00:00.123456Z", T0.replace(microsecond=123456)),
    ("2026-12-06T22:00:00.1234567891Z", T0.replace(microsecond=123456)),
    ("2026-12-06t23:00:00+01:00", T0),
    ("2026-12-06 21:00:00-01:00", T0),
    ("2026-12-06T22:00:00", None),
    ("2026-12-06T22:00:00+25:00", None),
    ("0001-01-01T00:00:00+01:00", None),
    ("2026-13-01T00:00:00Z", None),
    ("", None),
    (None, None),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_format_time_is_utc_to_the_second():
    eastern = datetime.timezone(datetime.timedelta(hours=-5))
    assert format_time(datetime.datetime(2026, 12, 6, 17, 0, 0, 999999, tzinfo=eastern)) == LAST
    assert format_time(datetime.datetime(2026, 12, 6, 22, 0, 0)) == LAST


@pytest.mark.parametrize("seconds, expected", [
    (None, "an unknown time"), (0, "0s"), (-3, "0s"), (59.9, "59s"), (60, "1m"), (750, "12m30s"), (3600, "1h"),
    (7500, "2h5m"), (86400, "1d"), (273600, "3d4h"),
])
def test_format_duration(seconds, expected):
    assert format_duration(seconds) == expected

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Go durations (``time.ParseDuration``), as Helm reads its ``--timeout``: pure, no I/O."""

from __future__ import annotations

import re
from typing import Optional

# Go's time.ParseDuration without the sign (a negative timeout makes no sense), e.g. 5m, 1h30m, 90s, 1.5h:
# one or more numbers, each with a unit. Go's unitless "0" is left out on purpose (see timeout_problem).
_NANOSECONDS = {"ns": 1, "us": 10 ** 3, "\u00b5s": 10 ** 3, "\u03bcs": 10 ** 3, "ms": 10 ** 6, "s": 10 ** 9,
                "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
_UNIT = "|".join(sorted(_NANOSECONDS, key=len, reverse=True))  # longest first: "ms" is never "m" then "s"
_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_DURATION_PART = re.compile(r"(%s)(%s)" % (_NUMBER, _UNIT))
_DURATION = re.compile(r"(?:(?:%s)(?:%s))+" % (_NUMBER, _UNIT))  # fullmatch
_GO_MAX_DURATION = 2 ** 63 - 1  # nanoseconds; Go refuses longer durations


def duration_nanoseconds(text: str) -> Optional[int]:
    """A Go duration (without sign) in whole nanoseconds, as Go computes it (fractions of a nanosecond are
    dropped), or None when Go would refuse the text: malformed, without a unit, or too long for Go."""
    if not _DURATION.fullmatch(text or ""):
        return None
    total = 0
    for number, unit in _DURATION_PART.findall(text):
        whole, _dot, fraction = number.partition(".")
        scale = _NANOSECONDS[unit]
        total += int(whole or 0) * scale + int(fraction or 0) * scale // 10 ** len(fraction or "")
    return total if total <= _GO_MAX_DURATION else None


def format_duration(seconds: Optional[float]) -> str:
    """Seconds as a short Helm-style duration for messages: 45s, 12m30s, 2h5m, 3d4h (whole seconds,
    rounded down); "an unknown time" for None."""
    if seconds is None:
        return "an unknown time"
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return "%dd%dh" % (days, hours) if hours else "%dd" % days
    if hours:
        return "%dh%dm" % (hours, minutes) if minutes else "%dh" % hours
    if minutes:
        return "%dm%ds" % (minutes, secs) if secs else "%dm" % minutes
    return "%ds" % secs

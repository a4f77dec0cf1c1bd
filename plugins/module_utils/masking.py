# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Values and manifests as they may be shown: every scalar masked, keys kept, changes marked.

Chart values and Secret data never reach output, diffs or logs unless the user asked for them
(``show_values``); these functions make the masked form. Pure, no I/O.
"""

from __future__ import annotations

import re
from typing import Any, Dict

MASK = "********"
MASK_CHANGED = "******** (changed)"
_UNCOMPARED = object()  # mask_values without another side: nothing is marked as changed
_ABSENT = object()  # the other side has no value here (a missing key or item, or another type of container)


def build_values_diff(before_label: str, after_label: str, before: Dict[str, Any], after: Dict[str, Any],
                      show_values: bool = False) -> Dict[str, Any]:
    """One Ansible diff of two release states (chart, chart_version, app_version, values), the values
    masked unless ``show_values`` (changed ones marked)."""
    if not show_values:
        before_values = before.get("values") or {}
        before = dict(before, values=mask_values(before_values))
        after = dict(after, values=mask_values(after.get("values") or {}, before_values))
    return {
        "before_header": "%s: chart and user values" % before_label,
        "after_header": "%s: chart and user values" % after_label,
        "before": before,
        "after": after,
    }


def mask_values(values: Any, compared_to: Any = _UNCOMPARED) -> Any:
    """``values`` with every scalar replaced by MASK, keys kept.

    With ``compared_to`` (the other side of the diff), scalars that differ from it are MASK_CHANGED
    instead: another value (None included), another type, or a key or list item ``compared_to`` does not
    have (under a dict or list that replaced a scalar, every scalar is new). A key only ``compared_to``
    has needs no mark: its line is missing from this side of the diff.
    """
    if isinstance(values, dict):
        return {key: mask_values(value, _counterpart(compared_to, dict, key)) for key, value in values.items()}
    if isinstance(values, list):
        return [mask_values(value, _counterpart(compared_to, list, index)) for index, value in enumerate(values)]
    if compared_to is _UNCOMPARED or _same_scalar(values, compared_to):
        return MASK
    return MASK_CHANGED


def _counterpart(compared_to: Any, container: type, key: Any) -> Any:
    """What ``compared_to`` holds at ``key``; _ABSENT when it is not a ``container`` or lacks the key."""
    if compared_to is _UNCOMPARED:
        return _UNCOMPARED
    if not isinstance(compared_to, container):
        return _ABSENT
    if container is dict:
        return compared_to.get(key, _ABSENT)
    return compared_to[key] if key < len(compared_to) else _ABSENT


def _same_scalar(value: Any, other: Any) -> bool:
    # 1, 1.0 and True are equal in Python, but not the same value in a chart's values.
    return type(value) is type(other) and value == other


def mask_secret_data(manifest: str) -> str:
    """The manifest with the entries under ``data``/``stringData`` of every Secret masked.

    Line-based on purpose: Helm renders plain block YAML, and the module must not need PyYAML.
    """
    documents = re.split(r"(?m)^(?=---\s*$)", manifest or "")
    return "".join(_mask_secret_document(doc) if re.search(r"(?m)^kind:\s*[\"']?Secret[\"']?\s*$", doc) else doc
                   for doc in documents)


def _mask_secret_document(document: str) -> str:
    masked = []
    entry_indent = None  # indentation of the entries of the data section being masked
    in_section = False
    for line in document.splitlines(True):
        indent = len(line) - len(line.lstrip(" "))
        if not line.strip():
            masked.append(line)
            continue
        if indent == 0:
            section = re.match(r"^(data|stringData):\s*(\S?)", line)
            in_section = bool(section)
            entry_indent = None
            # a flow mapping on the section line itself ("data: {a: b}") is masked whole
            masked.append("%s: %s\n" % (section.group(1), MASK) if section and section.group(2) else line)
            continue
        if not in_section:
            masked.append(line)
            continue
        if entry_indent is None:
            entry_indent = indent
        if indent == entry_indent:
            key = line.strip().split(":", 1)[0]
            masked.append("%s%s: %s\n" % (" " * indent, key, MASK))
        # deeper lines are the continuation of a block scalar value: dropped with the value
    return "".join(masked)

"""Label and field selectors, parsed from their query-string form.

Supported label syntax is the one of the real API: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
``k notin (a,b)``, ``k`` (exists), ``!k`` (does not exist), ``k>1`` and ``k<1``.  Field
selectors accept ``path=v``, ``path==v`` and ``path!=v`` for any dotted path such as
``metadata.name`` or ``type``.
"""

import re


class SelectorError(ValueError):
    """The selector string cannot be parsed."""


_KEY = r"[A-Za-z0-9][A-Za-z0-9._/-]*"
_SET_RE = re.compile(r"^(%s)\s+(in|notin)\s+\(([^)]*)\)$" % _KEY)
_COMPARE_RE = re.compile(r"^(%s)\s*(==|=|!=|>|<)\s*([A-Za-z0-9._/-]*)$" % _KEY)
_EXISTS_RE = re.compile(r"^(!?)\s*(%s)$" % _KEY)


def _split_top_level(text):
    """Split on commas that are not inside ``in (...)`` value lists."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _requirement(key, operator, values):
    def matches(labels):
        present = key in labels
        value = labels.get(key)
        if operator == "exists":
            return present
        if operator == "!exists":
            return not present
        if operator == "in":
            return present and value in values
        if operator == "notin":
            return not present or value not in values
        # Gt/Lt compare integers and never match a missing or non-numeric label.
        try:
            number, bound = int(value), int(values[0])
        except (TypeError, ValueError):
            return False
        return number > bound if operator == ">" else number < bound
    return matches


def parse_label_selector(text):
    """Return a predicate over a labels dict."""
    requirements = []
    for part in _split_top_level(text or ""):
        match = _SET_RE.match(part)
        if match:
            values = {value.strip() for value in match.group(3).split(",") if value.strip()}
            requirements.append(_requirement(match.group(1), match.group(2), values))
            continue
        match = _COMPARE_RE.match(part)
        if match:
            key, operator, value = match.groups()
            if operator in ("=", "=="):
                requirements.append(_requirement(key, "in", {value}))
            elif operator == "!=":
                requirements.append(_requirement(key, "notin", {value}))
            else:
                requirements.append(_requirement(key, operator, [value]))
            continue
        match = _EXISTS_RE.match(part)
        if match:
            requirements.append(_requirement(match.group(2), "!exists" if match.group(1) else "exists", None))
            continue
        raise SelectorError("unable to parse requirement: %r" % part)
    return lambda labels: all(requirement(labels or {}) for requirement in requirements)


def _lookup(obj, dotted_path):
    value = obj
    for segment in dotted_path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(segment)
    return "" if value is None else str(value)


def parse_field_selector(text):
    """Return a predicate over a whole object."""
    requirements = []
    for part in _split_top_level(text or ""):
        match = _COMPARE_RE.match(part)
        if not match or match.group(2) in (">", "<"):
            raise SelectorError("invalid field selector: %r" % part)
        path, operator, expected = match.groups()
        negate = operator == "!="
        requirements.append(lambda obj, path=path, expected=expected, negate=negate: (_lookup(obj, path) == expected) != negate)
    return lambda obj: all(requirement(obj) for requirement in requirements)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drift of a Helm release: does each object of a revision's manifest still hold in the cluster?

Pure functions, and one flow (``check_records_drift``, for one release ``check_release_drift``)
over an API object passed in, so the repair step and the fleets reuse the same decisions:

1. the manifest's objects, grouped by (apiVersion, kind, namespace): one read per group
   (``read_plan``), so missing objects cost nothing more;
2. a cheap subset comparison (``manifest_differences``): every field the manifest sets must be
   equal in the live object. Defaulted fields, ``status`` and server-managed metadata are not
   looked at; lists are matched the way strategic merge matches them where the merge key is
   known (containers, env, ports, volumes, ... of the built-in APIs), else by position;
3. only for the objects 2 flags, a server-side apply dry run of the manifest object, compared
   with the live object (``applied_differences``): the API server normalises quantities
   (``0.5`` is ``500m``), int-or-string ports and defaults exactly as a real apply would, so
   what it reports is what an apply would change.

Paths read ``spec.template.spec.containers[name=web].image``; a key with ``.``, ``[`` or ``]``
in it is quoted: ``metadata.labels["app.kubernetes.io/name"]``. Values are reported only on
request, and never for Secrets (only the path, such as ``data.password``).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections import namedtuple
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError, TaskError
from ansible_collections.matih.helm.plugins.module_utils.kube_types import ObjectRef, Read, group_of

STATES = ("missing", "modified", "in_sync")
# A body the server could not type against the kind's schema (a string where a number belongs...): deterministic,
# a verdict on the object, although the server answers it with a 500.
UNTYPABLE = "failed to create typed patch object"
# A list item matched by merge key: ``fields`` are ((field, value), ...), the key's values
Keyed = namedtuple("Keyed", "fields")
# The field of a difference, with the values an apply would set (``desired``) and has now (``live``);
# ABSENT where the field is not there.
Difference = namedtuple("Difference", "path desired live")
# What a drift check compares: a release, and one of its Helm release records (decoded)
Target = namedtuple("Target", "name namespace record")
# A read (or a kind's resolution) that a scan could not make: ``failure`` as unreadable() gives it
Unreadable = namedtuple("Unreadable", "failure")


class _Absent(object):
    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()
ANY_ITEM = "*"

# API groups whose lists follow the merge keys below (their OpenAPI declares them). Custom resources
# declare their own (x-kubernetes-list-map-keys), which the module does not read: their lists are
# compared whole, by position, and the dry run decides.
BUILT_IN_GROUPS = frozenset([
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "certificates.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "apiregistration.k8s.io",
])

# Strategic merge keys of the built-in APIs, by list field name: (field, default when unset) pairs.
# Candidates are tried in order; the first whose fields every item has is used. Ports are keyed
# with their protocol, as server-side apply keys them (53/TCP and 53/UDP are two ports).
MERGE_KEYS = {
    "containers": [(("name", None),)],
    "initContainers": [(("name", None),)],
    "ephemeralContainers": [(("name", None),)],
    "env": [(("name", None),)],
    "volumes": [(("name", None),)],
    "volumeMounts": [(("mountPath", None),)],
    "volumeDevices": [(("devicePath", None),)],
    "imagePullSecrets": [(("name", None),)],
    "hostAliases": [(("ip", None),)],
    "resourceClaims": [(("name", None),)],
    "schedulingGates": [(("name", None),)],
    "readinessGates": [(("conditionType", None),)],
    "topologySpreadConstraints": [(("topologyKey", None), ("whenUnsatisfiable", None))],
    "ports": [(("containerPort", None), ("protocol", "TCP")), (("port", None), ("protocol", "TCP"))],
    "ownerReferences": [(("uid", None),)],
    "conditions": [(("type", None),)],
}
# Lists of scalars that are sets: the manifest's items must be there, others may be added.
SET_LISTS = frozenset(["finalizers"])

# Written by the API server, Helm or kubectl, never by the chart: not drift.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")
TOOL_ANNOTATIONS = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace",
                    "kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision")
TOP_LEVEL_IGNORED = ("apiVersion", "kind", "status")

_PLAIN_KEY = re.compile(r"^[^.\[\]\"\\]+$")


# --- paths ---------------------------------------------------------------------------------------

def format_path(path: Sequence[Any]) -> str:
    """``('spec', 'template', Keyed((('name', 'web'),)), 0)`` as ``spec.template[name=web][0]``."""
    text = ""
    for segment in path:
        if isinstance(segment, Keyed):
            # ports are keyed with their protocol; TCP, the default, goes without saying
            shown = [pair for index, pair in enumerate(segment.fields) if index == 0 or pair != ("protocol", "TCP")]
            text += "[%s]" % ",".join("%s=%s" % (field, value) for field, value in shown)
        elif isinstance(segment, int):
            text += "[%d]" % segment
        elif segment == ANY_ITEM:
            text += "[*]"
        elif _PLAIN_KEY.match(segment):
            text += ("." if text else "") + segment
        else:
            text += "[%s]" % json.dumps(segment)
    return text


def parse_path(text: str) -> Tuple[Any, ...]:
    """A path as format_path writes it, plus ``[*]`` (any item) and ``\\.`` for a dot within a key.
    A key on a list applies to each item (``containers.image`` is ``containers[*].image``).
    ValueError when it cannot be read."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a path must be a non-empty string, got %r" % (text,))
    segments = []
    position, size, key = 0, len(text), ""
    expect_key = True

    def end_key():
        if key:
            segments.append(key)

    while position < size:
        char = text[position]
        if char == "\\" and position + 1 < size:
            key += text[position + 1]
            position += 2
            expect_key = False
        elif char == ".":
            if not key and expect_key:
                raise ValueError("%r has an empty key at character %d" % (text, position + 1))
            end_key()
            key, expect_key = "", True
            position += 1
        elif char == "[":
            end_key()
            key = ""
            close = _closing_bracket(text, position)
            segments.append(_selector(text, text[position + 1:close]))
            position, expect_key = close + 1, False
            if position < size and text[position] not in ".[":
                raise ValueError("%r: expected '.' or '[' after ']' at character %d" % (text, position + 1))
            if position < size and text[position] == ".":
                position += 1
                expect_key = True
                if position == size:
                    raise ValueError("%r ends with '.'" % text)
        elif char == "]":
            raise ValueError("%r has ']' without '[' at character %d" % (text, position + 1))
        else:
            key += char
            position += 1
            expect_key = False
    if expect_key and not key:
        raise ValueError("%r ends with '.'" % text)
    end_key()
    return tuple(segments)


def _closing_bracket(text: str, start: int) -> int:
    if text[start + 1:start + 2] == '"':
        end = start + 2
        while end < len(text):
            if text[end] == "\\":
                end += 2
                continue
            if text[end] == '"':
                break
            end += 1
        if text[end + 1:end + 2] != "]":
            raise ValueError("%r: a quoted key must be followed by ']'" % text)
        return end + 1
    close = text.find("]", start)
    if close < 0:
        raise ValueError("%r has '[' without ']'" % text)
    return close


def _selector(text: str, inner: str) -> Any:
    if inner == ANY_ITEM:
        return ANY_ITEM
    if inner.startswith('"'):
        try:
            return json.loads(inner)
        except ValueError:
            raise ValueError("%r: %s is not a quoted key" % (text, inner))
    if re.match(r"^\d+$", inner):
        return int(inner)
    pairs = []
    for part in inner.split(","):
        field, equals, value = part.partition("=")
        if not equals or not field.strip():
            raise ValueError("%r: [%s] is neither [*], [N], [\"key\"] nor [field=value]" % (text, inner))
        pairs.append((field.strip(), value.strip()))
    return Keyed(tuple(pairs))


def parse_ignore_fields(spec: Any) -> Tuple[Dict[str, List[Tuple[Any, ...]]], List[str]]:
    """``ignore_fields`` ({kind or '*': [path, ...]}) as parsed paths per kind, and the problems found."""
    parsed, problems = {}, []
    if not spec:
        return parsed, problems
    if not isinstance(spec, dict):
        return parsed, ["ignore_fields must be a dictionary of kind: [paths], got %s" % type(spec).__name__]
    for kind, paths in spec.items():
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list):
            problems.append("ignore_fields[%s] must be a list of paths, got %s" % (kind, type(paths).__name__))
            continue
        for text in paths:
            try:
                parsed.setdefault(str(kind), []).append(parse_path(text))
            except ValueError as error:
                problems.append("ignore_fields[%s]: %s" % (kind, error))
    return parsed, problems


def ignored_paths(ignore: Dict[str, List[Tuple[Any, ...]]], kind: str) -> List[Tuple[Any, ...]]:
    return list(ignore.get("*", [])) + list(ignore.get(kind, []))


def without_fields(obj: Any, paths: Iterable[Sequence[Any]]) -> Any:
    """A copy of ``obj`` without the fields at ``paths`` (parse_path's form)."""
    result = copy.deepcopy(obj)
    for path in paths:
        _remove(result, list(path))
    return result


def _remove(node: Any, path: List[Any]) -> None:
    if not path:
        return
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        if isinstance(head, str) and head in node:
            if rest:
                _remove(node[head], rest)
            else:
                del node[head]
    elif isinstance(node, list):
        if head == ANY_ITEM or isinstance(head, str):
            # a key on a list reaches into each item
            targets = list(range(len(node)))
            rest = rest if head == ANY_ITEM else path
        elif isinstance(head, int):
            targets = [head] if 0 <= head < len(node) else []
        else:
            targets = [index for index, item in enumerate(node) if _matches(item, head)]
        for index in reversed(targets):
            if rest:
                _remove(node[index], rest)
            else:
                del node[index]


def _matches(item: Any, selector: Keyed) -> bool:
    return isinstance(item, dict) and all(str(item.get(field)) == value for field, value in selector.fields)


# --- the manifest --------------------------------------------------------------------------------

def manifest_objects(manifest: str, load_all: Callable[[str], Iterable[Any]]) -> List[Dict[str, Any]]:
    """The objects of a Helm manifest (YAML documents, ``load_all`` parses them), ``*List`` kinds
    flattened, empty documents and anything without kind and name left out, in manifest order."""
    objects = []
    for document in load_all(manifest or ""):
        if not isinstance(document, dict):
            continue
        kind = str(document.get("kind") or "")
        if kind.endswith("List") and isinstance(document.get("items"), list):
            objects += [item for item in document["items"] if _named(item)]
        elif _named(document):
            objects.append(document)
    return objects


def _named(obj: Any) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return False
    return bool(obj.get("apiVersion") and obj.get("kind") and obj["metadata"].get("name"))


def object_ref(obj: Dict[str, Any], release_namespace: str, namespaced: Optional[bool]) -> ObjectRef:
    """Where the object lives: the manifest's namespace, else the release's; none for cluster-scoped
    kinds (Helm ignores a namespace there). ``namespaced`` None (kind not served) keeps the manifest's."""
    metadata = obj.get("metadata") or {}
    if namespaced is False:
        namespace = ""
    else:
        namespace = metadata.get("namespace") or release_namespace
    return ObjectRef(str(obj["apiVersion"]), str(obj["kind"]), str(namespace), str(metadata["name"]))


def read_plan(refs: Iterable[ObjectRef]) -> List[Read]:
    """One read per (apiVersion, kind, namespace), in first-seen order, names in manifest order."""
    groups = {}
    for ref in refs:
        groups.setdefault((ref.api_version, ref.kind, ref.namespace), [])
        if ref.name not in groups[(ref.api_version, ref.kind, ref.namespace)]:
            groups[(ref.api_version, ref.kind, ref.namespace)].append(ref.name)
    return [Read(api_version, kind, namespace, tuple(names)) for (api_version, kind, namespace), names in groups.items()]


def desired_object(obj: Dict[str, Any], ref: ObjectRef) -> Dict[str, Any]:
    """The manifest object as the API server stores it where that is certain: a Secret's ``stringData``
    is written into ``data`` (base64, ``stringData`` winning), the object gets its namespace."""
    desired = copy.deepcopy(obj)
    metadata = desired.setdefault("metadata", {})
    if ref.namespace:
        metadata["namespace"] = ref.namespace
    else:
        metadata.pop("namespace", None)
    if ref.kind == "Secret" and group_of(ref.api_version) == "" and isinstance(desired.get("stringData"), dict):
        data = dict(desired.get("data") or {})
        for key, value in desired.pop("stringData").items():
            if value is not None:
                data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        desired["data"] = data
    return desired


def apply_body(obj: Dict[str, Any], ref: ObjectRef, ignore: Sequence[Sequence[Any]] = ()) -> Dict[str, Any]:
    """The body of the server-side apply dry run: the manifest object as Helm sends it, in its namespace,
    without the ignored fields (so that a field another controller owns cannot fail the dry run)."""
    body = without_fields(obj, ignore)
    metadata = body.setdefault("metadata", {})
    if ref.namespace:
        metadata["namespace"] = ref.namespace
    else:
        metadata.pop("namespace", None)
    return body


def comparable(obj: Any, ignore: Sequence[Sequence[Any]] = ()) -> Dict[str, Any]:
    """``obj`` without what is never drift: apiVersion/kind (lists leave them out), status, metadata the
    server, Helm or kubectl write, and the ignored fields."""
    result = without_fields(obj if isinstance(obj, dict) else {}, ignore)
    for key in TOP_LEVEL_IGNORED:
        result.pop(key, None)
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        for key in SERVER_METADATA:
            metadata.pop(key, None)
        if isinstance(metadata.get("annotations"), dict):
            for key in TOOL_ANNOTATIONS:
                metadata["annotations"].pop(key, None)
            if not metadata["annotations"]:
                del metadata["annotations"]
    return result


# --- comparisons ---------------------------------------------------------------------------------

def manifest_differences(desired: Any, live: Any, keyed: bool = True, path: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
    """Paths of the fields ``desired`` (the manifest) sets that ``live`` does not hold equal.

    A subset check: fields only live has (defaults, fields other tools added) are not looked at.
    A null or empty value in the manifest is the field left unset. ``keyed`` lists (the built-in
    APIs') match items by merge key and accept more items in live; other lists must be as long
    and are compared item by item."""
    if desired is None or (isinstance(desired, (dict, list)) and not desired and live in (None, ABSENT)):
        return []
    if isinstance(desired, dict):
        if live is None or live is ABSENT:
            live = {}
        if not isinstance(live, dict):
            return [path]
        differences = []
        for key, value in desired.items():
            differences += manifest_differences(value, live.get(key, ABSENT), keyed, path + (key,))
        return differences
    if isinstance(desired, list):
        if live is None or live is ABSENT:
            live = []
        if not isinstance(live, list):
            return [path]
        field = path[-1] if path and isinstance(path[-1], str) else None
        key = merge_key(field, desired, live) if keyed else None
        if key is not None:
            by_key = {_key_of(item, key): item for item in live}
            differences = []
            for item in desired:
                item_key = _key_of(item, key)
                if item_key in by_key:
                    differences += manifest_differences(item, by_key[item_key], keyed, path + (item_key,))
                else:
                    differences.append(path + (item_key,))
            return differences
        if field in SET_LISTS and all(_scalar(item) for item in desired + live):
            return [] if all(item in live for item in desired) else [path]
        if len(desired) != len(live):
            return [path]
        if all(_scalar(item) for item in desired):
            return [] if desired == live else [path]
        differences = []
        for index, (want, have) in enumerate(zip(desired, live)):
            differences += manifest_differences(want, have, keyed, path + (index,))
        return differences
    return [] if _same_scalar(desired, live) else [path]


def applied_differences(applied: Any, live: Any, keyed: bool = True, path: Tuple[Any, ...] = ()) -> List[Difference]:
    """Every field in which ``applied`` (the dry run's result) and ``live`` differ, with both values.

    Both are objects as the API server returns them, so they are compared whole; keyed lists match
    by merge key (an item only one side has is one difference), other lists by position (a list of
    scalars, or of another length, is one difference)."""
    if isinstance(applied, dict) and isinstance(live, dict):
        differences = []
        for key in _union(applied, live):
            differences += applied_differences(applied.get(key, ABSENT), live.get(key, ABSENT), keyed, path + (key,))
        return differences
    if isinstance(applied, list) and isinstance(live, list):
        if applied == live:
            return []
        field = path[-1] if path and isinstance(path[-1], str) else None
        key = merge_key(field, applied, live) if keyed else None
        if key is not None:
            ours = {_key_of(item, key): item for item in applied}
            theirs = {_key_of(item, key): item for item in live}
            differences = []
            for item_key in _union(ours, theirs):
                differences += applied_differences(ours.get(item_key, ABSENT), theirs.get(item_key, ABSENT), keyed,
                                                   path + (item_key,))
            return differences
        if field in SET_LISTS and all(_scalar(item) for item in applied + live) and sorted(map(str, applied)) == sorted(map(str, live)):
            return []
        if len(applied) != len(live) or all(_scalar(item) for item in applied + live):
            return [Difference(path, applied, live)]
        differences = []
        for index, (ours_item, theirs_item) in enumerate(zip(applied, live)):
            differences += applied_differences(ours_item, theirs_item, keyed, path + (index,))
        return differences
    if _same_scalar(applied, live) or (_empty(applied) and _empty(live)):
        return []
    return [Difference(path, applied, live)]


def merge_key(field: Optional[str], *lists: List[Any]):
    """The merge key of list ``field`` for these lists (MERGE_KEYS), or None when it has none here:
    unknown field, an item without the key, or two items with the same key."""
    for candidate in MERGE_KEYS.get(field or "", ()):
        primary = candidate[0][0]
        if all(isinstance(item, dict) and item.get(primary) is not None for items in lists for item in items):
            if all(len({_key_of(item, candidate) for item in items}) == len(items) for items in lists):
                return candidate
    return None


def _key_of(item: Dict[str, Any], key) -> Keyed:
    pairs = []
    for field, default in key:
        value = item.get(field) if isinstance(item, dict) else None
        value = default if value is None else value
        if value is not None:
            pairs.append((field, str(value)))
    return Keyed(tuple(pairs))


def _union(first: Dict[Any, Any], second: Dict[Any, Any]) -> List[Any]:
    return list(first) + [key for key in second if key not in first]


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _empty(value: Any) -> bool:
    return value is ABSENT or value is None or (isinstance(value, (dict, list, str)) and not value)


def _same_scalar(first: Any, second: Any) -> bool:
    # YAML gives 1 for an int field Kubernetes returns as 1, but True == 1 in Python: keep bools apart
    if isinstance(first, bool) or isinstance(second, bool):
        return first is second
    return first == second and type(first) is type(second) or (
        isinstance(first, (int, float)) and isinstance(second, (int, float)) and first == second)


# --- results -------------------------------------------------------------------------------------

def is_secret(ref: ObjectRef) -> bool:
    return ref.kind == "Secret" and group_of(ref.api_version) == ""


def field_entries(ref: ObjectRef, differences: Sequence[Difference], show_values: bool) -> List[Dict[str, Any]]:
    """The ``fields`` of a modified object: each path once, with ``live`` and ``desired`` only with
    ``show_values`` and never for a Secret (its data is secret, and so may be anything else in it)."""
    entries, seen = [], set()
    values = show_values and not is_secret(ref)
    for difference in differences:
        text = format_path(difference.path)
        if text in seen:
            continue
        seen.add(text)
        entry = {"path": text}
        if values:
            entry["desired"] = None if difference.desired is ABSENT else difference.desired
            entry["live"] = None if difference.live is ABSENT else difference.live
        entries.append(entry)
    return entries


def object_result(ref: ObjectRef, state: str, fields: Optional[List[Dict[str, Any]]] = None, **extra: Any) -> Dict[str, Any]:
    result = {"api_version": ref.api_version, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name,
              "state": state, "fields": fields or []}
    result.update((key, value) for key, value in extra.items() if value is not None)
    return result


def summarize(objects: Sequence[Dict[str, Any]]) -> Dict[str, int]:
    summary = {"objects": len(objects)}
    summary.update((state, sum(1 for obj in objects if obj["state"] == state)) for state in STATES)
    return summary


def at_path(obj: Any, path: Sequence[Any]) -> Any:
    """The value at a path of manifest_differences (ABSENT when not there)."""
    node, field = obj, None
    for segment in path:
        if isinstance(segment, Keyed):
            names = tuple(name for name, _value in segment.fields)
            keys = [key for key in MERGE_KEYS.get(field or "", ()) if tuple(name for name, _d in key)[:len(names)] == names]
            node = next((item for item in node for key in keys if _key_of(item, key) == segment), ABSENT) \
                if isinstance(node, list) else ABSENT
        elif isinstance(segment, int):
            node = node[segment] if isinstance(node, list) and segment < len(node) else ABSENT
        else:
            node = node.get(segment, ABSENT) if isinstance(node, dict) else ABSENT
        field = segment if isinstance(segment, str) else None
        if node is ABSENT:
            return ABSENT
    return node


# --- the check -----------------------------------------------------------------------------------

def compare_object(ref: ObjectRef, manifest_obj: Dict[str, Any], live: Optional[Dict[str, Any]],
                   ignore: Sequence[Sequence[Any]], show_values: bool,
                   dry_run: Callable[[Dict[str, Any]], Dict[str, Any]]) -> Tuple[Dict[str, Any], bool]:
    """One object's result, and whether a dry run was sent. ``dry_run(body)`` returns the object a
    server-side apply of ``body`` would make, or raises KubeError (with the HTTP status when the server answered)."""
    if live is None:
        return object_result(ref, "missing"), False
    if (live.get("metadata") or {}).get("deletionTimestamp"):
        # going away (finalizers hold it): an apply would not bring it back before it is gone
        return object_result(ref, "missing", reason="the object is being deleted (since %s)" % live["metadata"][
            "deletionTimestamp"]), False
    keyed = group_of(ref.api_version) in BUILT_IN_GROUPS
    desired = comparable(desired_object(manifest_obj, ref), ignore)
    current = comparable(live, ignore)
    suspects = manifest_differences(desired, current, keyed)
    if not suspects:
        return object_result(ref, "in_sync"), False
    try:
        applied = dry_run(apply_body(manifest_obj, ref, ignore))
    except KubeError as error:
        if not dry_run_verdict(error):
            raise  # nothing was said of this object: the check cannot go on (never drift on a transient error)
        reason = "the server-side apply dry run was refused (%d)" % error.status
        if not is_secret(ref):
            reason += ": %s" % error.server_message
        differences = [Difference(path, at_path(desired, path), at_path(current, path)) for path in suspects]
        return object_result(ref, "modified", field_entries(ref, differences, show_values), confirmed=False,
                             reason=reason), True
    differences = applied_differences(comparable(applied, ignore), current, keyed)
    if not differences:
        return object_result(ref, "in_sync"), True
    return object_result(ref, "modified", field_entries(ref, differences, show_values), confirmed=True), True


def dry_run_verdict(error: KubeError) -> bool:
    """Whether a refused dry run says something of the object (RBAC, admission, validation, a body the schema
    cannot type), as opposed to no answer, rejected credentials (401), a timeout (408), throttling (429) or the
    server failing (5xx)."""
    if error.status is None or error.status in (401, 408, 429):
        return False
    return error.status < 500 or UNTYPABLE in (error.server_message or "")


def select_revision(records: Sequence[Dict[str, Any]], revision: Optional[int]) -> Tuple[Optional[Dict[str, Any]], List[int]]:
    """The release record of ``revision`` (None: the newest), and every stored revision number."""
    stored = sorted(record["version"] for record in records)
    by_version = {record["version"]: record for record in records}
    wanted = stored[-1] if revision is None and stored else revision
    return by_version.get(wanted), stored


def load_documents(text: str) -> List[Any]:
    """The YAML documents of a manifest (libyaml's safe loader when PyYAML has it)."""
    import yaml  # pylint: disable=import-outside-toplevel  # PyYAML comes with ansible-core
    return list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def secret_values(obj: Optional[Dict[str, Any]]) -> List[str]:
    """The values in a Secret's data and stringData, as the API carries them and decoded."""
    values = []
    for field in ("data", "stringData"):
        for value in ((obj or {}).get(field) or {}).values() if isinstance((obj or {}).get(field), dict) else ():
            if not isinstance(value, str):
                continue
            values.append(value)
            if field == "data":
                try:
                    values.append(base64.b64decode(value, validate=True).decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    pass
    return values


def check_release_drift(api, name: str, namespace: str, revision: Optional[int] = None,
                        ignore: Optional[Dict[str, List[Tuple[Any, ...]]]] = None, show_values: bool = False,
                        load_all: Callable[[str], Iterable[Any]] = load_documents,
                        on_secret_values: Callable[[List[str]], None] = None) -> Dict[str, Any]:
    """The drift of one release, as the module returns it.

    ``api`` does the I/O (module_utils/live_objects.py's LiveObjects, or a fake): ``release_records(name,
    namespace)`` (Helm's decoded records, [] when none), ``resource(api_version, kind)`` (a Resource,
    or None when the server does not serve the kind), ``read(resource, read)`` ({name: live object}
    of one Read), ``dry_run(resource, ref, body)`` (the server-side apply dry run's object, or
    KubeError), ``requests`` (how many API requests so far) and ``run_concurrently(function,
    items)``. TaskError release_not_found or revision_not_found when there is nothing to compare,
    invalid_release_record when the revision's manifest is not YAML. ``on_secret_values`` is given the
    values of every Secret the check reads (the manifest's and the live ones), to be masked."""
    records = api.release_records(name, namespace)
    record, stored = select_revision(records, revision)
    if not stored:
        raise TaskError("release_not_found", "Release %s not found in namespace %s: no Helm release record "
                        "(Secret labelled owner=helm,name=%s) is stored there" % (name, namespace, name))
    if record is None:
        raise TaskError("revision_not_found", "Revision %d of release %s is not stored in namespace %s; the stored "
                        "revisions are %s (Helm keeps --history-max of them, 10 by default)"
                        % (revision, name, namespace, ", ".join(str(number) for number in stored)))
    result = check_records_drift(api, [Target(name, namespace, record)], ignore, show_values, load_all,
                                 on_secret_values)[0]
    return dict(changed=False, api_requests=api.requests, **result)


def revision_objects(target: Target, load_all: Callable[[str], Iterable[Any]]) -> List[Dict[str, Any]]:
    """The objects of the target revision's manifest; TaskError invalid_release_record when it is not YAML."""
    try:
        return manifest_objects(target.record.get("manifest") or "", load_all)
    except Exception as error:  # pylint: disable=broad-except  # any YAML error
        raise TaskError("invalid_release_record", "The manifest of revision %d of release %s is not YAML (%s)" % (
            target.record["version"], target.name, yaml_problem(error)))


def yaml_problem(error: Exception) -> str:
    """What a YAML parser said, and where, without the text it quotes (a manifest's Secret holds values)."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if problem and mark is not None:
        return "%s at line %d, column %d" % (problem, mark.line + 1, mark.column + 1)
    return problem or type(error).__name__


def unreadable(what: str, error: TaskError) -> Dict[str, Any]:
    """A failure of a scan that isolates them: what could not be read, its kind and message (and the API's status)."""
    failure = {"what": what, "error_kind": error.kind, "msg": error.message}
    if getattr(error, "status", None) is not None:
        failure["api_status"] = error.status
    return failure


def read_target(read: Read) -> str:
    """What a Read reads, in words: ``rbac.authorization.k8s.io/v1 ClusterRole cluster-wide``."""
    where = "in namespace %s" % read.namespace if read.namespace else "cluster-wide"
    return "%s %s %s" % (read.api_version, read.kind, where)


def failed_targets(owners: Sequence[Tuple[int, ObjectRef]], manifest_failures: Dict[int, Dict[str, Any]],
                   kind_failures: Dict[Tuple[str, str], Dict[str, Any]],
                   read_failures: Dict[Tuple[str, str, str], Dict[str, Any]]) -> Dict[int, List[Dict[str, Any]]]:
    """{target index: its failures, in order}: a manifest that could not be read, then each kind that could not be
    resolved and each (apiVersion, kind, namespace) that could not be read among its objects (``owners``:
    (target index, ref) of every object), each named once."""
    failed = {index: [failure] for index, failure in manifest_failures.items()}
    for index, ref in owners:
        failure = kind_failures.get((ref.api_version, ref.kind)) or read_failures.get(
            (ref.api_version, ref.kind, ref.namespace))
        if failure is not None and failure not in failed.setdefault(index, []):
            failed[index].append(failure)
    return {index: failures for index, failures in failed.items() if failures}


def failed_outcome(target: Target, failures: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The check of a target whose drift could not be judged: drifted None, no objects, the first failure's
    ``error_kind`` (and ``api_status``), a message naming each thing that could not be read."""
    outcome = dict(release=target.name, namespace=target.namespace, revision=target.record.get("version"),
                   status=(target.record.get("info") or {}).get("status") or "unknown", drifted=None, objects=[],
                   summary=summarize([]), dry_runs=0, error_kind=failures[0]["error_kind"],
                   msg="; ".join("could not read %s: %s" % (failure["what"], failure["msg"]) for failure in failures))
    if "api_status" in failures[0]:
        outcome["api_status"] = failures[0]["api_status"]
    return outcome


def check_records_drift(api, targets: Sequence[Target], ignore: Optional[Dict[str, List[Tuple[Any, ...]]]] = None,
                        show_values: bool = False, load_all: Callable[[str], Iterable[Any]] = load_documents,
                        on_secret_values: Callable[[List[str]], None] = None, isolate: bool = False) -> List[Dict[str, Any]]:
    """The drift of each target (a release and one of its records), in order, without ``api_requests``.

    The targets share the reads: one per (apiVersion, kind, namespace) for all of them, so a fleet's
    scan costs a few requests per namespace, not a few per release. ``api`` and ``on_secret_values``
    as for check_release_drift (``release_records`` is not used).

    Without ``isolate`` the first failure raises. With it (a fleet's scan), a manifest that is not YAML, a kind
    that cannot be resolved or a read the API server refused (KubeError.isolated: RBAC, not found...) fails only
    the targets it concerns (failed_outcome: ``drifted`` None, ``error_kind``, ``msg``) and the others are
    checked; an API server that cannot be reached, throttles or rejects the credentials still raises."""
    ignore = ignore or {}
    report_secrets = on_secret_values or (lambda values: None)

    def guarded(function, what):
        def call(item):
            try:
                return function(item)
            except KubeError as error:
                if not isolate or not error.isolated:
                    raise
                return Unreadable(unreadable(what(item), error))
        return call

    manifests, manifest_failures = [], {}
    for index, target in enumerate(targets):
        try:
            manifests.append(revision_objects(target, load_all))
        except TaskError as error:
            if not isolate:
                raise
            manifests.append([])
            manifest_failures[index] = unreadable("the manifest of revision %s" % target.record.get("version"), error)
    report_secrets([value for objects in manifests for obj in objects if obj["kind"] == "Secret"
                    for value in secret_values(obj)])
    kinds = []
    for obj in (obj for objects in manifests for obj in objects):
        if (obj["apiVersion"], obj["kind"]) not in kinds:
            kinds.append((obj["apiVersion"], obj["kind"]))
    resolved = api.run_concurrently(guarded(lambda kind: api.resource(*kind), lambda kind: "the API of %s %s" % kind), kinds)
    kind_failures = {kind: found.failure for kind, found in zip(kinds, resolved) if isinstance(found, Unreadable)}
    resources = {kind: None if isinstance(found, Unreadable) else found for kind, found in zip(kinds, resolved)}
    items = [(index, object_ref(obj, target.namespace, getattr(resources[(obj["apiVersion"], obj["kind"])], "namespaced", None)),
              obj) for index, (target, objects) in enumerate(zip(targets, manifests)) for obj in objects]
    reads = [read for read in read_plan(ref for _index, ref, _obj in items) if resources[(read.api_version, read.kind)] is not None]
    lives, read_failures = {}, {}
    found_by_read = api.run_concurrently(guarded(lambda read: api.read(resources[(read.api_version, read.kind)], read),
                                                 read_target), reads)
    for read, found in zip(reads, found_by_read):
        if isinstance(found, Unreadable):
            read_failures[(read.api_version, read.kind, read.namespace)] = found.failure
            continue
        for live_name, live in found.items():
            lives[ObjectRef(read.api_version, read.kind, read.namespace, live_name)] = live
            if read.kind == "Secret":
                report_secrets(secret_values(live))
    failed = failed_targets([(index, ref) for index, ref, _obj in items], manifest_failures, kind_failures, read_failures)

    def compare(item):
        _index, ref, obj = item
        resource = resources[(ref.api_version, ref.kind)]
        if resource is None:
            return object_result(ref, "missing", reason="the API server does not serve %s %s" % (
                ref.api_version, ref.kind)), False
        return compare_object(ref, obj, lives.get(ref), ignored_paths(ignore, ref.kind), show_values,
                              lambda body: api.dry_run(resource, ref, body))

    judged = [item for item in items if item[0] not in failed]
    per_target = [[] for _target in targets]
    for (owner, _ref, _obj), outcome in zip(judged, api.run_concurrently(compare, judged)):
        per_target[owner].append(outcome)
    outcomes = []
    for index, (target, mine) in enumerate(zip(targets, per_target)):
        if index in failed:
            outcomes.append(failed_outcome(target, failed[index]))
            continue
        results = [result for result, _sent in mine]
        summary = summarize(results)
        outcomes.append(dict(
            release=target.name,
            namespace=target.namespace,
            revision=target.record["version"],
            status=(target.record.get("info") or {}).get("status") or "unknown",
            drifted=summary["missing"] + summary["modified"] > 0,
            objects=results,
            summary=summary,
            dry_runs=sum(1 for _result, sent in mine if sent),
        ))
    return outcomes


def drift_digest(check: Dict[str, Any]) -> Dict[str, Any]:
    """A drift check (check_release_drift's or check_records_drift's result) as reports keep it: the revision, whether it
    drifted, and each object that is not in sync with the paths of its fields (values left out)."""
    objects = [{"kind": item.get("kind"), "namespace": item.get("namespace"), "name": item.get("name"),
                "state": item.get("state"), "fields": [entry.get("path") for entry in item.get("fields") or []]}
               for item in check.get("objects") or [] if item.get("state") != "in_sync"]
    digest = {"revision": check.get("revision"), "drifted": bool(check.get("drifted")), "objects": objects,
              "summary": dict(check.get("summary") or {})}
    if "api_requests" in check:  # a single release's check; a fleet scan counts its requests once for all
        digest["api_requests"] = check["api_requests"]
    return digest

"""The four ways a client may PATCH an object: JSON patch, JSON merge patch, strategic merge
patch and server-side apply.

Strategic merge is simplified to what kubectl and Helm 3 emit: maps merge recursively, ``null``
deletes a key, lists named in ``LIST_MERGE_KEYS`` merge item by item on their key (with
``$patch: delete`` removing one item), and every other list is replaced.  ``$setElementOrder``
and ``$retainKeys`` directives are accepted and ignored: order and pruning of keyed lists do not
matter to anything the test bed checks.
"""

import copy

# Field name -> merge key, as declared by patchMergeKey in k8s.io/api.  "ports" is ambiguous
# (containers merge on containerPort, Services on port), so it is resolved per item.
LIST_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "ports": ("containerPort", "port"),
}


class PatchError(ValueError):
    """The patch cannot be applied (bad document or failed JSON patch test)."""


def json_merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _merge_key_for(field, items):
    key = LIST_MERGE_KEYS.get(field)
    if isinstance(key, tuple):
        for candidate in key:
            if any(isinstance(item, dict) and candidate in item for item in items):
                return candidate
        return None
    return key


def _strategic_list(field, original, patch):
    key = _merge_key_for(field, list(original) + list(patch))
    if key is None or not all(isinstance(item, dict) for item in patch):
        return [item for item in copy.deepcopy(patch) if not (isinstance(item, dict) and item.get("$patch"))]
    result = copy.deepcopy(original)
    for item in patch:
        directive = item.get("$patch")
        position = next((i for i, existing in enumerate(result) if isinstance(existing, dict) and existing.get(key) == item.get(key)), None)
        if directive == "delete":
            if position is not None:
                del result[position]
        elif directive == "replace":
            return [entry for entry in copy.deepcopy(patch) if entry.get("$patch") != "replace"]
        elif position is None:
            result.append(strategic_merge_patch({}, item))
        else:
            result[position] = strategic_merge_patch(result[position], item)
    return result


def strategic_merge_patch(target, patch):
    """Apply a strategic merge patch to ``target`` and return the new object."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return {}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $setElementOrder/..., $retainKeys, $deleteFromPrimitiveList/...
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _strategic_list(key, result[key], value)
        elif isinstance(value, list):
            result[key] = _strategic_list(key, [], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % path)
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _resolve(document, parts):
    parent = document
    for part in parts[:-1]:
        try:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        except (KeyError, IndexError, ValueError) as error:
            raise PatchError("path not found: /%s" % "/".join(parts)) from error
    return parent, parts[-1]


def _get(document, parts):
    parent, last = _resolve(document, parts)
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, IndexError, ValueError) as error:
        raise PatchError("path not found: /%s" % "/".join(parts)) from error


def _remove(document, parts):
    value = _get(document, parts)
    parent, last = _resolve(document, parts)
    del parent[int(last) if isinstance(parent, list) else last]
    return value


def _add(document, parts, value):
    parent, last = _resolve(document, parts)
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value


def json_patch(target, operations):
    """RFC 6902."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    document = copy.deepcopy(target)
    for operation in operations:
        op, parts = operation.get("op"), _pointer(operation.get("path", ""))
        if op == "add":
            _add(document, parts, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            _remove(document, parts)
        elif op == "replace":
            _remove(document, parts)
            _add(document, parts, copy.deepcopy(operation.get("value")))
        elif op == "move":
            _add(document, parts, _remove(document, _pointer(operation["from"])))
        elif op == "copy":
            _add(document, parts, copy.deepcopy(_get(document, _pointer(operation["from"]))))
        elif op == "test":
            if _get(document, parts) != operation.get("value"):
                raise PatchError("test operation failed at %s" % operation.get("path"))
        else:
            raise PatchError("unknown JSON patch operation %r" % op)
    return document


def _prune(live, previous, applied):
    """Drop from ``live`` the map keys the manager applied last time but no longer applies."""
    for key, old_value in previous.items():
        if key not in live:
            continue
        if key not in applied:
            del live[key]
        elif isinstance(old_value, dict) and isinstance(applied[key], dict) and isinstance(live[key], dict):
            _prune(live[key], old_value, applied[key])


def server_side_apply(live, applied, previously_applied):
    """Merge an applied configuration into the live object.

    Real server-side apply tracks ownership per field and per manager.  The test bed has one
    manager per object (Helm), so it is enough to remember that manager's last applied
    configuration: fields it stops applying are removed, fields others set (status, a Service's
    clusterIP) survive, and applied values win.
    """
    result = copy.deepcopy(live)
    if previously_applied:
        _prune(result, previously_applied, applied)
    return _apply_merge(result, applied)


def _apply_merge(live, applied):
    result = live if isinstance(live, dict) else {}
    for key, value in applied.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _apply_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result

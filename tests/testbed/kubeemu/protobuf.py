"""Just enough of Kubernetes' protobuf encoding to read what client-go sends.

client-go's typed clients (Helm's release storage among them) send Secret, ConfigMap and
DeleteOptions bodies as ``application/vnd.kubernetes.protobuf``: the magic ``k8s\\0``
followed by a ``runtime.Unknown`` envelope whose ``raw`` field holds the object itself.
Objects are decoded into the same dict shape the JSON API uses, so the rest of the emulator
never needs to know which encoding a client chose.

Field numbers follow the ``generated.proto`` files of k8s.io/api and k8s.io/apimachinery.
"""

import base64
import datetime

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


class ProtobufError(ValueError):
    """The body is not a protobuf message this emulator understands."""


# A schema maps a field number to (JSON name, kind, detail).  Kinds: "string", "bytes" (base64
# in JSON, as the JSON API does), "int64", "bool", "time" (metav1.Time as RFC 3339),
# "message" (detail = schema), "repeated_message", "repeated_string", "map" (detail = the
# value kind, "string" or "bytes"; keys are always strings in Kubernetes).
TIME = {1: ("seconds", "int64", None), 2: ("nanos", "int64", None)}

OWNER_REFERENCE = {
    1: ("kind", "string", None),
    3: ("name", "string", None),
    4: ("uid", "string", None),
    5: ("apiVersion", "string", None),
    6: ("controller", "bool", None),
    7: ("blockOwnerDeletion", "bool", None),
}

OBJECT_META = {
    1: ("name", "string", None),
    2: ("generateName", "string", None),
    3: ("namespace", "string", None),
    4: ("selfLink", "string", None),
    5: ("uid", "string", None),
    6: ("resourceVersion", "string", None),
    7: ("generation", "int64", None),
    8: ("creationTimestamp", "time", None),
    9: ("deletionTimestamp", "time", None),
    10: ("deletionGracePeriodSeconds", "int64", None),
    11: ("labels", "map", "string"),
    12: ("annotations", "map", "string"),
    13: ("ownerReferences", "repeated_message", OWNER_REFERENCE),
    14: ("finalizers", "repeated_string", None),
}

SECRET = {
    1: ("metadata", "message", OBJECT_META),
    2: ("data", "map", "bytes"),
    3: ("type", "string", None),
    4: ("stringData", "map", "string"),
    5: ("immutable", "bool", None),
}

CONFIG_MAP = {
    1: ("metadata", "message", OBJECT_META),
    2: ("data", "map", "string"),
    3: ("binaryData", "map", "bytes"),
    4: ("immutable", "bool", None),
}

NAMESPACE = {
    1: ("metadata", "message", OBJECT_META),
    2: ("spec", "message", {1: ("finalizers", "repeated_string", None)}),
    3: ("status", "message", {1: ("phase", "string", None)}),
}

DELETE_OPTIONS = {
    1: ("gracePeriodSeconds", "int64", None),
    2: ("preconditions", "message", {1: ("uid", "string", None), 2: ("resourceVersion", "string", None)}),
    3: ("orphanDependents", "bool", None),
    4: ("propagationPolicy", "string", None),
    5: ("dryRun", "repeated_string", None),
}

SCHEMAS_BY_KIND = {
    "Secret": SECRET,
    "ConfigMap": CONFIG_MAP,
    "Namespace": NAMESPACE,
    "DeleteOptions": DELETE_OPTIONS,
}

_TYPE_META = {1: ("apiVersion", "string", None), 2: ("kind", "string", None)}
_UNKNOWN = {
    1: ("typeMeta", "message", _TYPE_META),
    2: ("raw", "bytes", None),
    3: ("contentEncoding", "string", None),
    4: ("contentType", "string", None),
}


# --- wire format -------------------------------------------------------------------------

def _read_varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _write_varint(value):
    if value < 0:
        value += 1 << 64  # negative int64 values travel as ten-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def iter_fields(data):
    """Yield (field number, wire type, value) for each field; value is int or bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire_type == _LENGTH_DELIMITED:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field %d" % number)
            value, pos = data[pos:pos + length], pos + length
        elif wire_type == _FIXED64:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire_type == _FIXED32:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ProtobufError("unsupported wire type %d" % wire_type)
        yield number, wire_type, value


def _field(number, wire_type, payload):
    key = _write_varint(number << 3 | wire_type)
    if wire_type == _LENGTH_DELIMITED:
        return key + _write_varint(len(payload)) + payload
    return key + _write_varint(payload)


# --- schema-driven decoding ----------------------------------------------------------------

def _time_to_json(seconds, nanos=0):
    moment = datetime.datetime.fromtimestamp(seconds + nanos / 1e9, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_from_json(text):
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def _decode_scalar(kind, value):
    if kind == "string":
        return value.decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    if kind == "bool":
        return bool(value)
    if kind == "int64":
        return value - (1 << 64) if value >= 1 << 63 else value
    raise ProtobufError("unknown scalar kind %s" % kind)


def decode_message(data, schema):
    """Decode ``data`` into a JSON-shaped dict; fields missing from the schema are skipped."""
    result = {}
    for number, _wire_type, value in iter_fields(data):
        if number not in schema:
            continue
        name, kind, detail = schema[number]
        if kind == "message":
            result[name] = decode_message(value, detail)
        elif kind == "time":
            parts = decode_message(value, TIME)
            result[name] = _time_to_json(parts.get("seconds", 0), parts.get("nanos", 0))
        elif kind == "repeated_message":
            result.setdefault(name, []).append(decode_message(value, detail))
        elif kind == "repeated_string":
            result.setdefault(name, []).append(value.decode("utf-8"))
        elif kind == "map":
            entry = decode_message(value, {1: ("key", "string", None), 2: ("value", detail, None)})
            default = "" if detail == "string" else _decode_scalar("bytes", b"")
            result.setdefault(name, {})[entry.get("key", "")] = entry.get("value", default)
        else:
            result[name] = _decode_scalar(kind, value)
    return result


def _encode_scalar(number, kind, value):
    if kind == "string":
        return _field(number, _LENGTH_DELIMITED, value.encode("utf-8"))
    if kind == "bytes":
        return _field(number, _LENGTH_DELIMITED, base64.b64decode(value))
    if kind == "bool":
        return _field(number, _VARINT, int(bool(value)))
    if kind == "int64":
        return _field(number, _VARINT, int(value))
    raise ProtobufError("unknown scalar kind %s" % kind)


def encode_message(obj, schema):
    """Encode a JSON-shaped dict with ``schema``; keys missing from the schema are dropped."""
    out = bytearray()
    for number in sorted(schema):
        name, kind, detail = schema[number]
        if name not in obj or obj[name] is None:
            continue
        value = obj[name]
        if kind == "message":
            out += _field(number, _LENGTH_DELIMITED, encode_message(value, detail))
        elif kind == "time":
            out += _field(number, _LENGTH_DELIMITED, encode_message({"seconds": _time_from_json(value)}, TIME))
        elif kind == "repeated_message":
            for item in value:
                out += _field(number, _LENGTH_DELIMITED, encode_message(item, detail))
        elif kind == "repeated_string":
            for item in value:
                out += _field(number, _LENGTH_DELIMITED, item.encode("utf-8"))
        elif kind == "map":
            entry_schema = {1: ("key", "string", None), 2: ("value", detail, None)}
            for key in sorted(value):
                entry = encode_message({"key": key, "value": value[key]}, entry_schema)
                out += _field(number, _LENGTH_DELIMITED, entry)
        else:
            out += _encode_scalar(number, kind, value)
    return bytes(out)


# --- the k8s envelope ---------------------------------------------------------------------

def decode_object(body):
    """Decode an enveloped body into a dict with ``apiVersion`` and ``kind`` set."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = decode_message(body[len(MAGIC):], _UNKNOWN)
    type_meta = envelope.get("typeMeta", {})
    kind = type_meta.get("kind", "")
    if kind not in SCHEMAS_BY_KIND:
        raise ProtobufError("protobuf decoding of kind %r is not supported by the emulator" % kind)
    if envelope.get("contentEncoding"):
        raise ProtobufError("content encoding %r is not supported" % envelope["contentEncoding"])
    raw = base64.b64decode(envelope.get("raw", ""))
    obj = {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind}
    obj.update(decode_message(raw, SCHEMAS_BY_KIND[kind]))
    return obj


def encode_object(obj):
    """Encode a dict (Secret, ConfigMap, Namespace or DeleteOptions) the way client-go does."""
    kind = obj.get("kind", "")
    if kind not in SCHEMAS_BY_KIND:
        raise ProtobufError("protobuf encoding of kind %r is not supported by the emulator" % kind)
    raw = encode_message(obj, SCHEMAS_BY_KIND[kind])
    envelope = {
        "typeMeta": {"apiVersion": obj.get("apiVersion", ""), "kind": kind},
        "raw": base64.b64encode(raw).decode("ascii"),
    }
    return MAGIC + encode_message(envelope, _UNKNOWN)

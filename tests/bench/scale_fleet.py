"""Section (f) of the benchmark: a large fleet of real Helm release records, made fast, and an emulator
that answers metadata-only LISTs as a real API server does.

Only tests/bench/bench.py uses this module.

The fleet: ONE real release of a chart whose rendered manifest is about 100 KB (``write_chart``: four
ConfigMaps of generated settings, ~1,080 lines that compress as real YAML does, about 6:1) is installed
with the real Helm binary; its release Secret is read back and decoded (base64 of gzip of JSON, as
release_store.decode_release reads it) and every record of the fleet is that record with another name,
namespace, revision and status (``info.status`` and ``info.description``; the manifest's object names
carry the release name, so the seed's name is replaced in the manifest too). Each record is JSON,
gzipped (level 9, as Helm's BestCompression) and base64-encoded as Helm stores it, in a Secret named
``sh.helm.release.v1.NAME.vREVISION`` of type ``helm.sh/release.v1`` with Helm's labels (``name``,
``owner=helm``, ``status``, ``version``, ``modifiedAt``), created with a POST through the emulator's
HTTP API from a few threads. The revisions of one release share everything but the version and the
info, which are written last in the JSON, so the compressor state after the shared part is copied for
each revision instead of compressing 100 KB ten times (the output is the same gzip stream).

Only the records are made this way: the releases' objects are not created (a healthy release has none on
the emulator). A rollback makes them: Helm re-applies the target revision's manifest, creating the
missing ConfigMaps, which ``recovered_objects`` checks after the remediation.

The emulator (tests/testbed/kubeemu) answers a LIST with whole objects whatever the Accept header asks
and ignores ``limit``. A real API server answers ``Accept: application/json;as=PartialObjectMetadataList;
g=meta.k8s.io;v=v1`` with the items' metadata only, in pages of ``limit`` items linked by ``continue``
tokens, each page one request. ``MetadataListHandler`` adds exactly that for metadata-only LISTs (each
page served from the snapshot the first page took, as an API server serves them at the first page's
resourceVersion); every other request goes to the emulator's own handler unchanged, so Helm's full LISTs
are as before (Helm's Secrets driver asks for no limit: one request).
"""

import base64
import concurrent.futures
import copy
import http.client
import itertools
import json
import os
import threading
import time
import urllib.parse
import urllib.request
import zlib

from kubeemu import server as kubeemu_server  # pylint: disable=import-error  # tests/testbed is on sys.path

SEED_NAME = "scale-seed"
CHART_NAME = "scale"
CONFIG_MAPS = 4
KEYS_PER_CONFIG_MAP = 270
METADATA_LIST = "as=PartialObjectMetadataList"
METADATA_CONTENT_TYPE = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

CHART_YAML = "apiVersion: v2\nname: %s\nversion: 1.0.0\nappVersion: \"1.0.0\"\ndescription: about 100 KB of rendered manifest\n" % CHART_NAME
VALUES_YAML = "configMaps: %d\nkeys: %d\n" % (CONFIG_MAPS, KEYS_PER_CONFIG_MAP)
TEMPLATE = """{{- range $i := until (int .Values.configMaps) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $.Release.Name }}-data-{{ $i }}
  labels:
    app.kubernetes.io/name: %s
    app.kubernetes.io/instance: {{ $.Release.Name }}
data:
{{- range $j := until (int $.Values.keys) }}
  {{- $digest := sha256sum (printf "%%s/%%d/%%d" $.Release.Name $i $j) | trunc 16 }}
  setting-{{ $i }}-{{ $j }}: "{{ $i }}/{{ $j }} {{ $digest }} lorem ipsum dolor sit amet, consectetur adipiscing"
{{- end }}
{{- end }}
""" % CHART_NAME


def write_chart(directory):
    """The chart (a directory), whose manifest renders to about 100 KB; returns its path."""
    chart = os.path.join(directory, CHART_NAME)
    os.makedirs(os.path.join(chart, "templates"), exist_ok=True)
    for name, text in (("Chart.yaml", CHART_YAML), ("values.yaml", VALUES_YAML), (os.path.join("templates", "data.yaml"), TEMPLATE)):
        with open(os.path.join(chart, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    return chart


def decode_record(encoded):
    """A Secret's data.release (the API's base64 around Helm's base64 of gzipped JSON) as a dict."""
    return json.loads(zlib.decompress(base64.b64decode(base64.b64decode(encoded)), 47))


def read_seed(url, namespace, name=SEED_NAME, context=None):
    """(record, labels, Secret size in bytes of data.release) of the only revision of the seed release; ``context``:
    the TLS context (with the admin's client certificate) of a real API server."""
    query = urllib.parse.urlencode({"labelSelector": "owner=helm,name=%s" % name})
    with urllib.request.urlopen("%s/api/v1/namespaces/%s/secrets?%s" % (url, namespace, query), timeout=60, context=context) as response:
        items = json.load(response)["items"]
    if len(items) != 1:
        raise ValueError("expected one release Secret of %s/%s, found %d" % (namespace, name, len(items)))
    encoded = items[0]["data"]["release"]
    return decode_record(encoded), dict(items[0]["metadata"]["labels"]), len(encoded)


def revision_status(revision, revisions, failed):
    """Helm's statuses after ``revisions`` upgrades: the latest deployed (or failed, with the one before it
    still deployed, as Helm leaves a failed upgrade), the older ones superseded."""
    if revision == revisions:
        return "failed" if failed else "deployed"
    if failed and revision == revisions - 1:
        return "deployed"
    return "superseded"


def release_secrets(seed, seed_labels, name, namespace, revisions, failed):
    """The ``revisions`` Secrets of release ``name`` in ``namespace``, copied from the seed record."""
    shared = {key: value for key, value in seed.items() if key not in ("version", "info")}
    shared.update(name=name, namespace=namespace, manifest=seed["manifest"].replace(SEED_NAME, name))
    prefix = json.dumps(shared, separators=(",", ":"))[:-1]  # without the closing brace: version and info follow
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream, as Helm writes
    head = compressor.compress(prefix.encode("utf-8"))
    modified = int(time.time())
    secrets = []
    for revision in range(1, revisions + 1):
        status = revision_status(revision, revisions, failed)
        description = "Install complete" if revision == 1 else "Upgrade complete"
        if status == "failed":
            description = 'Upgrade "%s" failed: context deadline exceeded' % name
        info = dict(seed["info"], status=status, description=description)
        stream = compressor.copy()
        body = head + stream.compress((',"version":%d,"info":%s}' % (revision, json.dumps(info, separators=(",", ":")))).encode("utf-8"))
        body += stream.flush()
        labels = dict(seed_labels, name=name, owner="helm", status=status, version=str(revision),
                      modifiedAt=str(modified - 60 * (revisions - revision)))
        secrets.append({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                        "metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, revision), "namespace": namespace, "labels": labels},
                        "data": {"release": base64.b64encode(base64.b64encode(body)).decode("ascii")}})
    return secrets


class Poster:
    """POSTs JSON to the emulator (or, with the TLS ``context`` of its admin, a real API server) on one keep-alive
    connection per thread."""

    def __init__(self, url, context=None):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.https, self.context = parts.hostname, parts.port, parts.scheme == "https", context
        self.local = threading.local()

    def post(self, path, body):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            if self.https:
                connection = http.client.HTTPSConnection(self.host, self.port, timeout=120, context=self.context)
            else:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.local.connection = connection
        payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
        connection.request("POST", path, payload, {"Content-Type": "application/json", "Accept": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        if response.status != 201:
            raise RuntimeError("POST %s: %d %s" % (path, response.status, answer[:300]))


def fleet_plan(releases, namespaces, prefix):
    """[(name, namespace, failed)]: release i in namespace i % namespaces; the failed ones spread over the
    namespaces (one in ten: with 10 releases a namespace, one per namespace)."""
    names = ["%s-%03d" % (prefix, index) for index in range(namespaces)]
    plan = []
    for index in range(releases):
        slot, namespace = divmod(index, namespaces)
        plan.append(("app-%04d" % index, names[namespace], namespace % 10 == slot % 10))
    return plan


def create_fleet(url, seed, seed_labels, plan, revisions, threads=8, context=None):
    """Create every Secret of ``plan`` through the API, ``threads`` at a time; returns the Secrets made."""
    poster = Poster(url, context)

    def make(item):
        name, namespace, failed = item
        for secret in release_secrets(seed, seed_labels, name, namespace, revisions, failed):
            poster.post("/api/v1/namespaces/%s/secrets" % namespace, secret)
        return revisions
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(make, plan))


class MetadataListHandler(kubeemu_server.ApiRequestHandler):
    """The emulator's handler, plus metadata-only LISTs in pages as a real API server serves them."""

    _snapshots = {}  # continue token -> (items, resourceVersion): the pages after the first
    _snapshot_lock = threading.Lock()
    _tokens = itertools.count(1)

    def _serve_resource(self, method, route, query, body, watch):
        accept = self.headers.get("Accept") or ""
        if method == "GET" and route.name is None and not watch and route.subresource is None and METADATA_LIST in accept:
            self._serve_metadata_list(route, query)
            return
        super()._serve_resource(method, route, query, body, watch)

    def _serve_metadata_list(self, route, query):
        store, resource = self.server.store, route.resource
        limit = int((query.get("limit") or ["0"])[0] or 0)
        token = (query.get("continue") or [""])[0]
        if token:
            with self._snapshot_lock:
                snapshot = self._snapshots.pop(token, None)
            if snapshot is None:
                raise kubeemu_server.errors.ApiError(410, "Expired", "the continue token %s is not known or expired" % token)
            selected, version = snapshot
        else:
            matches = self._matcher(query)
            with store.lock:  # references only: the page's metadata is copied below
                selected = list(store._select(resource, route.namespace if resource.namespaced else None, matches))  # pylint: disable=protected-access
                version = str(store.resource_version)
        page, rest = (selected[:limit], selected[limit:]) if limit else (selected, [])
        metadata = {"resourceVersion": version}
        if rest:
            token = "bench-%d" % next(self._tokens)
            with self._snapshot_lock:
                self._snapshots[token] = (rest, version)
            metadata.update({"continue": token, "remainingItemCount": len(rest)})
        items = [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": copy.deepcopy(obj["metadata"])}
                 for obj in page]
        self._send_json(200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": items},
                        content_type=METADATA_CONTENT_TYPE)


def serve_metadata_lists(emulator):
    """Make a started emulator answer metadata-only LISTs as a real API server (before any client connects)."""
    emulator._server.RequestHandlerClass = MetadataListHandler  # pylint: disable=protected-access
    return emulator

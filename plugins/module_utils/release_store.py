# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helm's release records: the one place that reads and decodes them.

Helm's default storage driver keeps each revision in a Secret of type ``helm.sh/release.v1``
labelled ``owner=helm,name=<release>,status=<status>,version=<revision>``; its ``release`` key holds
the release as JSON, gzipped and base64-encoded (Helm 3 and Helm 4 write the same format). One LIST
of a release's Secrets returns the whole history with every revision's user values, which
``helm history`` plus one ``helm get values`` per revision would read with as many Helm processes.

``ReleaseStore`` reads them that way whenever it sees what Helm sees: Helm keeps its releases in
Secrets (``HELM_DRIVER``) and matih.helm's API client reproduces the connection (connection.py's
``api_problem``). Otherwise, and when the records cannot be read, it asks Helm, which reports
problems in its own words. Writes (rollback, upgrade, install, uninstall) are Helm's: helm_client.py.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

from ansible_collections.matih.helm.plugins.module_utils.errors import (
    INVALID_RELEASE_RECORD, UNSUPPORTED_ENVIRONMENT, UNSUPPORTED_KUBECONFIG, KubeError, TaskError,
)
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmError, run_concurrently
from ansible_collections.matih.helm.plugins.module_utils.kube_client import KubeClient
from ansible_collections.matih.helm.plugins.module_utils.kube_types import collection_path

RELEASE_SECRET_TYPE = "helm.sh/release.v1"
SECRET_DRIVERS = ("", "secret", "secrets")
# The records of every release's deployed revision (Helm keeps the status in a label, as in the record).
DEPLOYED_SELECTOR = "owner=helm,status=deployed"
# MATIH_HELM_READS=helm: every read that Helm can make goes through Helm (the drift checks, which only the
# records serve, are not affected)
READS_VARIABLE = "MATIH_HELM_READS"
_GZIP_MAGIC = b"\x1f\x8b"


def release_selector(name: str) -> str:
    """The label selector of a release's Secrets, as Helm's Secrets driver lists them."""
    return "owner=helm,name=%s" % name


def secrets_path(namespace: Optional[str]) -> str:
    """Where Helm's records are listed: the Secrets of ``namespace``, or of every namespace."""
    return collection_path("v1", "secrets", namespace)


def driver_problem(environ: Dict[str, str], needed_by: Optional[str] = None) -> Optional[str]:
    """Why Helm's records are not in Secrets in this environment (HELM_DRIVER), or None. ``needed_by``
    names what cannot do without them (for example "detect_drift=true"), for the message."""
    if environ.get("HELM_DRIVER", "") in SECRET_DRIVERS:  # Helm's own switch is case-sensitive
        return None
    problem = "HELM_DRIVER=%s keeps Helm's release records elsewhere than in Secrets" % environ["HELM_DRIVER"]
    if needed_by:
        problem += "; %s reads them from Helm's default Secrets driver only: unset HELM_DRIVER" % needed_by
    return problem


def decode_release(encoded: Any) -> Dict[str, Any]:
    """One release from a Secret's ``data.release`` (base64 as the API returns it, around Helm's own
    base64 of the gzipped JSON). ValueError when it is not a Helm release record."""
    try:
        payload = base64.b64decode(base64.b64decode(encoded))
        if payload[:2] == _GZIP_MAGIC:
            payload = gzip.decompress(payload)
        release = json.loads(payload)
    except (TypeError, ValueError, OSError, EOFError, binascii.Error) as error:
        raise ValueError("not a Helm release record: %s" % error)
    if not isinstance(release, dict) or not isinstance(release.get("version"), int):
        raise ValueError("not a Helm release record: no revision number")
    return release


def releases_of(secrets: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The revisions among the Secrets a LIST returned, oldest first, read as Helm's Secrets driver
    reads them: every Secret the label selector matched is a record. ValueError for a record Helm could
    not read either (undecodable, or without the ``info`` Helm dereferences)."""
    releases = {}
    for secret in secrets:
        release = decode_release((secret.get("data") or {}).get("release"))
        if not isinstance(release.get("info"), dict):
            raise ValueError("release record of revision %s has no info" % release["version"])
        releases[release["version"]] = release
    return [releases[version] for version in sorted(releases)]


def history_entry(release: Dict[str, Any]) -> Dict[str, Any]:
    """A revision as ``helm history -o json`` prints it (Helm's formatChartname and formatAppVersion;
    Helm 4.3 records a rollback's target as ``info.rollback_revision`` and prints it when set), plus the
    record's ``chart_name`` and ``chart_version``: the "name-version" text cannot always be split back
    (``app-2-1.0.0``), so release.parse_revision takes them from here when they are given."""
    info = release.get("info") or {}
    metadata = (release.get("chart") or {}).get("metadata")
    entry = {
        "revision": release["version"],
        "updated": info.get("last_deployed") or "",
        "status": info.get("status") or "",
        "chart": "%s-%s" % (metadata.get("name"), metadata.get("version")) if metadata else "MISSING",
        "app_version": (metadata.get("appVersion") or "") if metadata else "MISSING",
        "description": info.get("description") or "",
    }
    if metadata and metadata.get("name"):  # not Helm's: the chart's name and version apart, as the record has them
        entry.update(chart_name=str(metadata["name"]), chart_version=str(metadata.get("version") or ""))
    if info.get("rollback_revision"):  # omitted when 0, as Helm's omitempty; release.rollback_target checks it
        entry["rollback_revision"] = info["rollback_revision"]
    return entry


def user_values(release: Dict[str, Any]) -> Dict[str, Any]:
    """The user-supplied values, as ``helm get values -o json`` prints them (none: {})."""
    return release.get("config") or {}


def record_manifest(records: Sequence[Dict[str, Any]], revision: int) -> Optional[str]:
    """The manifest of ``revision`` among decoded records (``ReleaseStore.records``'), or None when none is that
    revision. Hooks are not in it: Helm keeps them in the record's ``hooks``."""
    for release in records:
        if release.get("version") == revision:
            return str(release.get("manifest") or "")
    return None


class RecordProblem(NamedTuple):
    """What a read of many releases' records could not read: a namespace (``release`` None) or one release's
    record, with the error's kind and message."""
    namespace: Optional[str]
    release: Optional[str]
    error_kind: str
    message: str


def _unreadable_record(namespace: str, name: str, error: ValueError) -> TaskError:
    return TaskError(INVALID_RELEASE_RECORD, "A release record of %s in %s cannot be read (%s); inspect the release's "
                     "storage Secrets (labels owner=helm,name=%s) and delete or restore the broken one"
                     % (name, namespace, error, name))


class Reading(NamedTuple):
    """A release as read: history entries (``helm history -o json``'s; [] when the release does not exist),
    user values by revision, and where they came from (``release_records`` or ``helm``)."""
    entries: List[Dict[str, Any]]
    values: Dict[int, Any]
    source: str


class ReleaseStore(object):
    """Reads the releases of one connection (connection.py): from the records when it can, else through
    ``helm``, the task's HelmClient (None: the records only, as the drift check reads them). ``client``
    is a KubeClient to use instead of one made from the connection."""

    def __init__(self, connection, helm=None, client: Optional[KubeClient] = None,
                 environ: Optional[Dict[str, str]] = None):
        self.connection = connection
        self.helm = helm
        self._client = client
        environ = dict(os.environ) if environ is None else environ
        self._driver_problem = driver_problem(environ)
        # why the records cannot be read directly (Helm reads them then), or None
        self.direct_problem = self._driver_problem or self.connection.api_problem
        # the user's way to have Helm read what it could read from the records (to compare, or to debug)
        self.helm_reads = environ.get(READS_VARIABLE, "").lower() == "helm"
        # {(namespace, name): {revision: manifest}} of each release's last LIST: a revision's manifest never
        # changes, so manifest() answers from there without a second LIST of the same records
        self._manifests = {}

    @property
    def client(self) -> KubeClient:
        """The API client, made on first use (KubeError when the connection cannot give one)."""
        if self._client is None:
            self._client = KubeClient(self.connection.api_access())
        return self._client

    # --- reads that fall back to Helm ----------------------------------------------------------------

    def stored_records(self, name: str, namespace: str) -> Optional[List[Dict[str, Any]]]:
        """Every stored revision of the release, oldest first, from one LIST; None when the records cannot
        be read directly (the caller then asks Helm, which reports the problem). [] when none was found."""
        if self.direct_problem or self.helm_reads:
            return None
        try:
            return self.records(name, namespace)
        except Exception:  # pylint: disable=broad-except  # any failure: Helm reads instead, and reports it in its words
            return None

    def history(self, name: str, namespace: str) -> List[Dict[str, Any]]:
        """``helm history`` entries, or [] when the release does not exist (a result, not an error)."""
        return self.read(name, namespace).entries

    def read(self, name: str, namespace: str,
             values_for: Optional[Callable[[List[Dict[str, Any]]], Sequence[int]]] = None) -> Reading:
        """The release's history and the user values of the revisions ``values_for(entries)`` names (no values
        without it): from the records in one request, else ``helm history`` and one ``helm get values`` per
        revision, at once. A release that does not exist is a Reading without entries."""
        stored = self.stored_records(name, namespace)
        if stored:
            entries = [history_entry(release) for release in stored]
            wanted = set(values_for(entries)) if values_for else set()
            return Reading(entries, {release["version"]: user_values(release) for release in stored
                                     if release["version"] in wanted}, "release_records")
        entries = self.helm_history(name, namespace, missing_ok=True)
        wanted = list(values_for(entries)) if values_for else []
        return Reading(entries, self.helm.get_values_many(name, namespace, wanted) if wanted else {}, "helm")

    def helm_history(self, name: str, namespace: str, missing_ok: bool = False) -> List[Dict[str, Any]]:
        """``helm history`` entries; [] with ``missing_ok`` when Helm says the release does not exist."""
        try:
            return self.helm.history(name, namespace)
        except HelmError as error:
            if not missing_ok or error.kind != "release_not_found":
                raise
            return []

    def history_and_values(self, name: str, namespace: str, revisions: Sequence[int] = (), missing_ok: bool = False):
        """The history and user values, read at once: (entries, values, values_error).

        From the records when possible: one request, and ``values`` then holds every stored revision's.
        Otherwise one Helm call each for the history and ``revisions``, in parallel: ``values`` maps each
        of ``revisions`` that could be read to its values, and a revision Helm does not have is left out.
        A release that does not exist raises HelmError, or gives entries [] with ``missing_ok``.
        ``values_error`` is the first HelmError that kept a stored revision's values from being read,
        else None."""
        stored = self.stored_records(name, namespace)
        if stored:
            return ([history_entry(release) for release in stored],
                    {release["version"]: user_values(release) for release in stored}, None)

        def read(revision):
            try:
                if revision is None:
                    return self.helm_history(name, namespace, missing_ok)
                return self.helm.get_values(name, namespace, revision)
            except HelmError as error:
                return error
        revisions = list(revisions)
        entries, *results = run_concurrently(read, [None] + revisions)
        if isinstance(entries, HelmError):
            raise entries
        stored_numbers = {int(entry["revision"]) for entry in entries}
        values, values_error = {}, None
        for revision, result in zip(revisions, results):
            if not isinstance(result, HelmError):
                values[revision] = result
            elif values_error is None and revision in stored_numbers and result.kind != "revision_not_found":
                values_error = result
        return entries, values, values_error

    def manifest(self, name: str, namespace: str, revision: int) -> str:
        """The manifest of a stored revision, what a rollback to it applies (hooks apart): from this release's last
        LIST when that held the revision (no request), else from a new LIST, else ``helm get manifest``. HelmError
        revision_not_found when the revision is not stored; the records' errors as records() raises them when
        there is no Helm to ask."""
        remembered = self._manifests.get((namespace, name), {})
        if revision in remembered:
            return remembered[revision]
        stored = self.stored_records(name, namespace) if self.helm is not None else self.records(name, namespace)
        if not stored and self.helm is not None:
            return self.helm.get_manifest(name, namespace, revision)
        found = record_manifest(stored, revision)
        if found is None:
            stored_numbers = ", ".join(str(release["version"]) for release in stored) or "none"
            raise HelmError("revision_not_found", "Revision %d of release %s is not stored in namespace %s (stored: %s); "
                            "Helm may have pruned it (--history-max)" % (revision, name, namespace, stored_numbers))
        return found

    # --- reads that need the records (drift, the fleet's drift scan) -----------------------------------

    def require_direct(self, needed_by: str) -> None:
        """TaskError when the records cannot be read directly, naming ``needed_by`` and the problem."""
        if self.direct_problem:
            # the kind of the problem the message names (HELM_DRIVER's when both are there)
            raise TaskError(UNSUPPORTED_ENVIRONMENT if self._driver_problem else UNSUPPORTED_KUBECONFIG,
                            "%s reads Helm's release records and live objects from the Kubernetes API, which is not "
                            "possible here: %s" % (needed_by, self.direct_problem))

    def records(self, name: str, namespace: str) -> List[Dict[str, Any]]:
        """The decoded records of ``name``, oldest first (one LIST); KubeError when the API refuses or cannot be
        reached, TaskError invalid_release_record for a record Helm could not read either."""
        found = list(self.client.list(secrets_path(namespace), label_selector=release_selector(name)))
        try:  # only what decoding raises: a request's own errors are not a broken record
            releases = releases_of(found)
        except ValueError as error:
            raise _unreadable_record(namespace, name, error)
        self._manifests[(namespace, name)] = {release["version"]: str(release.get("manifest") or "") for release in releases}
        return releases

    def deployed_records(self, namespaces: Sequence[str],
                         problems: Optional[List["RecordProblem"]] = None) -> List[Dict[str, Any]]:
        """The records of every deployed revision in ``namespaces`` (one LIST each, at once; [] means
        every namespace, in one LIST).

        Without ``problems``, the first failure raises: KubeError as the API answered, TaskError
        invalid_release_record for a record that cannot be decoded. With a list, what can be read is returned
        and the rest is appended to it as RecordProblems: a namespace whose LIST the API server refused
        (``isolated``: RBAC, a namespace not found...; release None), each undecodable record (its release
        named from its labels). A failure that says nothing about one namespace (unreachable, throttled, the
        credentials rejected) still raises."""
        def records_in(namespace):
            records, broken = [], []
            try:
                secrets = list(self.client.list(secrets_path(namespace), label_selector=DEPLOYED_SELECTOR))
            except KubeError as error:
                if problems is None or not error.isolated:
                    raise
                return [], [RecordProblem(namespace, None, error.kind, error.message)]
            for secret in secrets:
                try:
                    records.append(decode_release((secret.get("data") or {}).get("release")))
                except ValueError as error:
                    metadata = secret.get("metadata") or {}
                    failure = TaskError(INVALID_RELEASE_RECORD, "The Helm release record %s/%s cannot be read (%s); "
                                        "inspect it and delete or restore it" % (metadata.get("namespace"),
                                                                                 metadata.get("name"), error))
                    if problems is None:
                        raise failure
                    # the release its labels name (else the Secret's own name: never None, which means a namespace)
                    broken.append(RecordProblem(metadata.get("namespace") or namespace,
                                                (metadata.get("labels") or {}).get("name") or metadata.get("name") or "?",
                                                failure.kind, failure.message))
            return records, broken
        found = []
        for records, broken in run_concurrently(records_in, list(namespaces) or [None]):
            found += records
            if problems is not None:
                problems += broken
        return found

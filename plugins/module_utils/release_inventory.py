# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every Helm release of a cluster from one metadata-only LIST of Helm's release Secrets.

Helm's Secrets driver labels each revision's Secret ``owner=helm``, ``name``, ``status`` and
``version`` (and ``modifiedAt``, Unix seconds, when Helm updated it; Helm 3.13 and later). So the
labels alone say which releases exist, their latest revision and its status: a LIST of
``owner=helm`` Secrets asking for metadata only (PartialObjectMetadataList) downloads no record,
whatever their size, where ``helm list -A`` downloads and decodes every revision of every release.

Two parts, kept apart so that the inventory plugin and the fleet's discovery share them:

* pure functions: ``latest_revisions`` turns the LIST's items into one row per release,
  ``select_rows`` filters the rows (namespaces, excluded namespaces, statuses, a name pattern),
  ``chart_fields`` reads the chart of a decoded record;
* I/O: ``discover`` makes the LIST (one request per cluster; when the identity may not list Secrets
  cluster-wide and namespaces were given, one per namespace, and a namespace that cannot be read
  becomes a problem of its own), and ``read_charts`` fetches the latest record of each release (one
  GET each: only when the chart and app version are asked for).
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence

from ansible_collections.matih.helm.plugins.module_utils.errors import ACCESS_DENIED, INVALID_RELEASE_RECORD, KubeError
from ansible_collections.matih.helm.plugins.module_utils.helm_client import run_concurrently
from ansible_collections.matih.helm.plugins.module_utils.kube_types import object_path
from ansible_collections.matih.helm.plugins.module_utils.release_store import decode_release, secrets_path

OWNER_SELECTOR = "owner=helm"
# Helm's statuses (pkg/release/status.go): a closed set of words
STATUSES = ("unknown", "deployed", "uninstalled", "superseded", "failed", "uninstalling", "pending-install",
            "pending-upgrade", "pending-rollback")
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
UNHEALTHY = ("failed",) + PENDING


class Release(NamedTuple):
    """One release as the labels of its latest revision's Secret describe it. ``updated`` is ISO 8601
    in UTC (``modifiedAt``, else the Secret's creation: when the revision last changed status);
    ``secret`` names that Secret (read_charts GETs it)."""
    namespace: str
    name: str
    revision: int
    status: str
    updated: str
    secret: str

    def key(self):
        return (self.namespace, self.name)


class Problem(NamedTuple):
    """A namespace (None: the whole cluster) that could not be read, with the KubeError's kind and message."""
    namespace: Optional[str]
    error_kind: str
    message: str


class Discovery(NamedTuple):
    """What ``discover`` read: the Secrets' metadata items, the namespaces that could not be read,
    the API requests it made, and how it listed (``cluster``: one LIST of every namespace;
    ``namespaces``: one LIST per given namespace)."""
    items: List[Dict[str, Any]]
    problems: List[Problem]
    requests: int
    scope: str


# --- pure: from the LIST's items to rows ----------------------------------------------------------

def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_of(metadata: Dict[str, Any]) -> str:
    """When the revision's Secret last changed: its ``modifiedAt`` label (Unix seconds), else its
    ``createdAt`` label, else its creationTimestamp; "" when none is readable."""
    labels = metadata.get("labels") or {}
    for label in ("modifiedAt", "createdAt"):
        try:
            return _timestamp(int(labels[label]))
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            continue
    created = metadata.get("creationTimestamp")
    return str(created) if created else ""


def parse_timestamp(text: str) -> Optional[datetime.datetime]:
    """An RFC 3339 UTC time as ``updated_of`` writes it and the API sends it, or None."""
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def age_seconds(updated: str, now: datetime.datetime) -> Optional[int]:
    """Whole seconds from ``updated`` to ``now`` (never negative: clocks differ), None when unknown."""
    then = parse_timestamp(updated)
    return None if then is None else max(0, int((now - then).total_seconds()))


def _revision(labels: Dict[str, Any]) -> Optional[int]:
    try:
        revision = int(labels.get("version"))
    except (TypeError, ValueError):
        return None
    return revision if revision > 0 else None


def latest_revisions(items: Iterable[Dict[str, Any]]) -> List[Release]:
    """One Release per (namespace, name label), from its highest ``version`` label, sorted by namespace
    and name. Items without a namespace, a name label or a positive version are not Helm records and are
    left out, as Helm's driver would fail on them rather than list them."""
    latest = {}
    for item in items:
        metadata = item.get("metadata") or {}
        labels = metadata.get("labels") or {}
        namespace, name, revision = metadata.get("namespace"), labels.get("name"), _revision(labels)
        if not namespace or not name or revision is None:
            continue
        key = (str(namespace), str(name))
        if key not in latest or revision > latest[key].revision:
            latest[key] = Release(key[0], key[1], revision, str(labels.get("status") or "unknown"),
                                  updated_of(metadata), str(metadata.get("name") or ""))
    return [latest[key] for key in sorted(latest)]


def expand_statuses(statuses: Iterable[str]) -> List[str]:
    """Helm's statuses, with ``pending`` standing for every ``pending-*`` one (as helm_release_list)."""
    expanded = []
    for status in statuses:
        for one in PENDING if status == "pending" else (status,):
            if one not in expanded:
                expanded.append(one)
    return expanded


def filter_problem(statuses: Sequence[str], name_regex: Optional[str]) -> Optional[str]:
    """Why these filters cannot work (an unknown status, a pattern that does not compile), or None."""
    unknown = [status for status in statuses if status not in STATUSES + ("pending",)]
    if unknown:
        return "statuses %s are not Helm statuses; use some of %s, or pending for every pending-* status" % (
            ", ".join(unknown), ", ".join(STATUSES))
    if name_regex:
        try:
            re.compile(name_regex)
        except re.error as error:
            return "name_regex %r is not a valid regular expression (%s); fix it (Python syntax)" % (name_regex, error)
    return None


def select_rows(releases: Iterable[Release], namespaces: Sequence[str] = (), exclude_namespaces: Sequence[str] = (),
                statuses: Sequence[str] = (), name_regex: Optional[str] = None) -> List[Release]:
    """The releases in ``namespaces`` (empty: every one) but not in ``exclude_namespaces``, whose latest
    status is among ``statuses`` (empty: any; ``pending`` for every pending-*), and whose name matches
    ``name_regex`` (searched anywhere in the name)."""
    wanted_statuses = set(expand_statuses(statuses))
    pattern = re.compile(name_regex) if name_regex else None

    def wanted(release):
        if namespaces and release.namespace not in namespaces:
            return False
        if release.namespace in exclude_namespaces:
            return False
        if wanted_statuses and release.status not in wanted_statuses:
            return False
        return pattern is None or bool(pattern.search(release.name))
    return [release for release in releases if wanted(release)]


def chart_fields(record: Dict[str, Any]) -> Dict[str, str]:
    """The chart (``name-version`` as ``helm list`` prints it), its name and version, and the app version
    of a decoded release record; "" for what the record lacks."""
    metadata = (record.get("chart") or {}).get("metadata") or {}
    name, version = str(metadata.get("name") or ""), str(metadata.get("version") or "")
    return {"chart": "%s-%s" % (name, version) if name else "", "chart_name": name, "chart_version": version,
            "app_version": str(metadata.get("appVersion") or "")}


# --- I/O: the LIST, and the records when asked ------------------------------------------------------

def discover(client, namespaces: Sequence[str] = ()) -> Discovery:
    """The metadata of Helm's release Secrets (``client``: a kube_client.KubeClient).

    One metadata-only LIST of ``owner=helm`` Secrets in every namespace. When that is refused by RBAC
    (access_denied) and ``namespaces`` are given, one LIST per given namespace instead, at once; a
    namespace that cannot be read is a Problem and the others are still listed. The items are not
    filtered by ``namespaces`` (select_rows does that). KubeError when the cluster cannot be read at all:
    the cluster-wide LIST fails and no namespace is given to fall back to, or it fails otherwise than
    access_denied (unreachable, throttled...)."""
    before = client.requests
    try:
        # limit 0: not paged; metadata is about 0.4 KB a revision, so 10,000 revisions are one answer of 4 MB
        items = client.list_metadata(secrets_path(None), label_selector=OWNER_SELECTOR, limit=0).items
        return Discovery(list(items), [], client.requests - before, "cluster")
    except KubeError as error:
        if error.kind != ACCESS_DENIED or not namespaces:
            raise

    def one(namespace):
        try:
            return client.list_metadata(secrets_path(namespace), label_selector=OWNER_SELECTOR, limit=0).items
        except KubeError as error:
            return Problem(namespace, error.kind, error.message)

    items, problems = [], []
    for result in run_concurrently(one, list(namespaces)):
        if isinstance(result, Problem):
            problems.append(result)
        else:
            items.extend(result)
    return Discovery(items, problems, client.requests - before, "namespaces")


def read_charts(client, releases: Sequence[Release]) -> Dict[tuple, Any]:
    """{release.key(): chart_fields(...) or a Problem} from one GET of each release's latest Secret, at
    once. Each GET downloads that revision's whole record (the rendered manifest, the chart's templates
    and values, gzipped): tens to hundreds of KB per release, which the LIST avoids."""
    def one(release):
        try:
            secret = client.get(object_path("v1", "secrets", release.namespace, release.secret))
            return chart_fields(decode_release(((secret or {}).get("data") or {}).get("release")))
        except KubeError as error:
            return Problem(release.namespace, error.kind, error.message)
        except ValueError as error:
            return Problem(release.namespace, INVALID_RELEASE_RECORD, "The Helm release record %s/%s cannot be read "
                           "(%s); inspect it and delete or restore it" % (release.namespace, release.secret, error))
    return dict(zip([release.key() for release in releases], run_concurrently(one, list(releases))))

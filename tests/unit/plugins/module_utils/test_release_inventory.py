# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""release_inventory: from the metadata of Helm's release Secrets to one row per release, the filters,
and the discovery's requests (one LIST, or one per namespace when the cluster-wide LIST is denied)."""

from __future__ import annotations

import base64
import datetime
import gzip
import json

import pytest

from ansible_collections.matih.helm.plugins.module_utils import release_inventory
from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError
from ansible_collections.matih.helm.plugins.module_utils.release_inventory import Problem, Release

NOW = datetime.datetime(2026, 1, 2, 10, 0, 0, tzinfo=datetime.timezone.utc)


def secret(namespace, name, version, status, modified_at=None, created="2026-01-01T10:00:00Z", **labels):
    labels = dict({"owner": "helm", "name": name, "status": status, "version": str(version)}, **labels)
    if modified_at is not None:
        labels["modifiedAt"] = str(modified_at)
    return {"metadata": {"name": "sh.helm.release.v1.%s.v%s" % (name, version), "namespace": namespace,
                         "labels": labels, "creationTimestamp": created}}


def row(namespace, name, revision, status, updated="2026-01-01T10:00:00Z"):
    return Release(namespace, name, revision, status, updated, "sh.helm.release.v1.%s.v%d" % (name, revision))


# --- latest_revisions -----------------------------------------------------------------------------

LATEST_CASES = [
    ("nothing", [], []),
    ("one release, the highest revision wins whatever the order",
     [secret("shop", "web", 2, "superseded"), secret("shop", "web", 10, "failed"), secret("shop", "web", 9, "superseded")],
     [row("shop", "web", 10, "failed")]),
    ("revisions compare as numbers, not text",
     [secret("shop", "web", 9, "deployed"), secret("shop", "web", 10, "pending-upgrade")],
     [row("shop", "web", 10, "pending-upgrade")]),
    ("same name in two namespaces: two releases, sorted by namespace then name",
     [secret("shop", "web", 1, "deployed"), secret("billing", "web", 3, "failed"), secret("billing", "api", 1, "deployed")],
     [row("billing", "api", 1, "deployed"), row("billing", "web", 3, "failed"), row("shop", "web", 1, "deployed")]),
    ("modifiedAt (Unix seconds) is when the revision last changed",
     [secret("shop", "web", 1, "deployed", modified_at=1767348000)],
     [row("shop", "web", 1, "deployed", "2026-01-02T10:00:00Z")]),
    ("createdAt when there is no modifiedAt",
     [secret("shop", "web", 1, "deployed", createdAt="1767261600")],
     [row("shop", "web", 1, "deployed", "2026-01-01T10:00:00Z")]),
    ("an unreadable modifiedAt falls back to the creationTimestamp",
     [secret("shop", "web", 1, "deployed", modified_at="soon", created="2025-12-31T23:59:59Z")],
     [row("shop", "web", 1, "deployed", "2025-12-31T23:59:59Z")]),
    ("no status label: unknown",
     [{"metadata": {"name": "sh.helm.release.v1.web.v1", "namespace": "shop",
                    "labels": {"owner": "helm", "name": "web", "version": "1"}, "creationTimestamp": "2026-01-01T10:00:00Z"}}],
     [row("shop", "web", 1, "unknown")]),
    ("not records: no name label, no or a bad version, no namespace",
     [{"metadata": {"namespace": "shop", "labels": {"owner": "helm", "version": "1"}}},
      {"metadata": {"namespace": "shop", "labels": {"owner": "helm", "name": "x"}}},
      {"metadata": {"namespace": "shop", "labels": {"owner": "helm", "name": "x", "version": "v1"}}},
      {"metadata": {"namespace": "shop", "labels": {"owner": "helm", "name": "x", "version": "0"}}},
      {"metadata": {"labels": {"owner": "helm", "name": "x", "version": "1"}}},
      {}],
     []),
]


@pytest.mark.parametrize("items, expected", [case[1:] for case in LATEST_CASES], ids=[case[0] for case in LATEST_CASES])
def test_latest_revisions(items, expected):
    assert release_inventory.latest_revisions(items) == expected


# --- select_rows ------------------------------------------------------------------------------------

ROWS = [row("billing", "api", 1, "deployed"), row("billing", "web", 3, "failed"), row("shop", "web", 4, "pending-upgrade"),
        row("shop", "cart", 2, "pending-install"), row("kube-system", "dns", 1, "superseded")]

SELECT_CASES = [
    ("no filter: every release", {}, ["billing/api", "billing/web", "shop/web", "shop/cart", "kube-system/dns"]),
    ("namespaces", {"namespaces": ["shop"]}, ["shop/web", "shop/cart"]),
    ("exclude_namespaces", {"exclude_namespaces": ["kube-system", "billing"]}, ["shop/web", "shop/cart"]),
    ("exclude wins over namespaces", {"namespaces": ["shop"], "exclude_namespaces": ["shop"]}, []),
    ("statuses", {"statuses": ["failed"]}, ["billing/web"]),
    ("pending stands for every pending-*", {"statuses": ["pending"]}, ["shop/web", "shop/cart"]),
    ("one pending-* status", {"statuses": ["pending-install", "superseded"]}, ["shop/cart", "kube-system/dns"]),
    ("name_regex is searched anywhere", {"name_regex": "e"}, ["billing/web", "shop/web"]),
    ("name_regex anchored", {"name_regex": "^(web|api)$"}, ["billing/api", "billing/web", "shop/web"]),
    ("all at once", {"namespaces": ["shop", "billing"], "statuses": ["failed", "pending"], "name_regex": "web"},
     ["billing/web", "shop/web"]),
]


@pytest.mark.parametrize("filters, expected", [case[1:] for case in SELECT_CASES], ids=[case[0] for case in SELECT_CASES])
def test_select_rows(filters, expected):
    assert ["%s/%s" % (r.namespace, r.name) for r in release_inventory.select_rows(ROWS, **filters)] == expected


PROBLEM_CASES = [
    ([], None, None),
    (["failed", "pending", "pending-rollback"], "^web$", None),
    (["broken"], None, "statuses broken are not Helm statuses"),
    ([], "web(", "name_regex 'web(' is not a valid regular expression"),
]


@pytest.mark.parametrize("statuses, name_regex, expected", PROBLEM_CASES)
def test_filter_problem(statuses, name_regex, expected):
    problem = release_inventory.filter_problem(statuses, name_regex)
    assert problem == expected if expected is None else expected in problem


AGE_CASES = [
    ("2026-01-02T09:00:00Z", 3600),
    ("2026-01-02T10:00:05Z", 0),  # a clock ahead of ours: never negative
    ("", None),
    ("yesterday", None),
]


@pytest.mark.parametrize("updated, expected", AGE_CASES)
def test_age_seconds(updated, expected):
    assert release_inventory.age_seconds(updated, NOW) == expected


CHART_CASES = [
    ({"chart": {"metadata": {"name": "demo", "version": "1.2.0", "appVersion": "2.1"}}},
     {"chart": "demo-1.2.0", "chart_name": "demo", "chart_version": "1.2.0", "app_version": "2.1"}),
    ({"chart": {"metadata": {"name": "demo", "version": "1.2.0"}}},
     {"chart": "demo-1.2.0", "chart_name": "demo", "chart_version": "1.2.0", "app_version": ""}),
    ({}, {"chart": "", "chart_name": "", "chart_version": "", "app_version": ""}),
]


@pytest.mark.parametrize("record, expected", CHART_CASES)
def test_chart_fields(record, expected):
    assert release_inventory.chart_fields(record) == expected


# --- discover and read_charts, against a client that answers per path --------------------------------

DENIED = KubeError("access_denied", "The Kubernetes API server refused GET (403: secrets is forbidden)", status=403)
UNREACHABLE = KubeError("cluster_unreachable", "The Kubernetes API server refused the connection")


class Answers(object):
    """A KubeClient stand-in: ``answers`` maps a path to items (or a Secret for get), or to a KubeError to raise."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = 0
        self.asked = []

    def _answer(self, path):
        self.requests += 1
        self.asked.append(path)
        answer = self.answers[path]
        if isinstance(answer, KubeError):
            raise answer
        return answer

    def list_metadata(self, path, label_selector=None, limit=500):
        assert label_selector == "owner=helm"
        # one request for the whole LIST: a paged LIST (limit 500, the client's default) would be several
        assert limit == 0, "discover must not page the metadata LIST (limit=%r)" % limit
        return _Listing(self._answer(path))

    def get(self, path):
        return self._answer(path)


class _Listing(object):
    def __init__(self, items):
        self.items = items


ALL = "/api/v1/secrets"
SHOP, BILLING = "/api/v1/namespaces/shop/secrets", "/api/v1/namespaces/billing/secrets"
WEB, API = secret("shop", "web", 1, "deployed"), secret("billing", "api", 2, "failed")

DISCOVER_CASES = [
    ("one LIST of every namespace", {ALL: [WEB, API]}, [], ([WEB, API], [], 1, "cluster", [ALL])),
    ("one LIST even with namespaces, when it is allowed", {ALL: [WEB, API]}, ["shop"],
     ([WEB, API], [], 1, "cluster", [ALL])),
    ("denied cluster-wide: one LIST per namespace, a denied one is a problem", {ALL: DENIED, SHOP: [WEB], BILLING: DENIED},
     ["shop", "billing"], ([WEB], [Problem("billing", "access_denied", DENIED.message)], 3, "namespaces", None)),
    ("denied cluster-wide and in every namespace: only problems", {ALL: DENIED, SHOP: DENIED}, ["shop"],
     ([], [Problem("shop", "access_denied", DENIED.message)], 2, "namespaces", [ALL, SHOP])),
]


@pytest.mark.parametrize("answers, namespaces, expected", [case[1:] for case in DISCOVER_CASES],
                         ids=[case[0] for case in DISCOVER_CASES])
def test_discover(answers, namespaces, expected):
    client = Answers(answers)
    items, problems, requests, scope, asked = expected
    assert release_inventory.discover(client, namespaces) == (items, problems, requests, scope)
    if asked is not None:
        assert client.asked == asked
    else:
        per_namespace = sorted("/api/v1/namespaces/%s/secrets" % namespace for namespace in namespaces)
        assert client.asked[0] == ALL and sorted(client.asked[1:]) == per_namespace


@pytest.mark.parametrize("answers, namespaces", [
    ({ALL: DENIED}, []),  # denied, and no namespace to fall back to
    ({ALL: UNREACHABLE}, ["shop"]),  # not a denial: no fall back, the cluster is unreadable
])
def test_discover_cluster_unreadable(answers, namespaces):
    with pytest.raises(KubeError) as raised:
        release_inventory.discover(Answers(answers), namespaces)
    assert raised.value is answers[ALL]


def stored(record):
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(record).encode()))
    return {"data": {"release": base64.b64encode(helm_encoded).decode()}}


def test_read_charts_one_get_per_release():
    web, api = row("shop", "web", 1, "deployed"), row("billing", "api", 2, "failed")
    client = Answers({
        "/api/v1/namespaces/shop/secrets/sh.helm.release.v1.web.v1": stored(
            {"version": 1, "chart": {"metadata": {"name": "demo", "version": "1.0.0", "appVersion": "1.0"}}}),
        "/api/v1/namespaces/billing/secrets/sh.helm.release.v1.api.v2": {"data": {"release": "garbage"}},
    })
    charts = release_inventory.read_charts(client, [web, api])
    assert client.requests == 2
    assert charts[web.key()] == {"chart": "demo-1.0.0", "chart_name": "demo", "chart_version": "1.0.0", "app_version": "1.0"}
    assert charts[api.key()].error_kind == "invalid_release_record" and "billing/sh.helm.release.v1.api.v2" in \
        charts[api.key()].message

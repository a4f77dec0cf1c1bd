# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""release_store: decoding Helm's release records, and reading them through a real KubeClient from a
scripted API server on 127.0.0.1, or through a stand-in Helm where the records cannot be read."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import socket
import threading

import pytest

from ansible_collections.matih.helm.plugins.module_utils import release_store
from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError, TaskError
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmError
from ansible_collections.matih.helm.plugins.module_utils.kube_client import KubeClient
from ansible_collections.matih.helm.plugins.module_utils.release_store import Reading, ReleaseStore
from ansible_collections.matih.helm.tests.unit.plugins.module_utils.stand_ins import Asked, StandInAccess, StandInConnection, scripted_api

SECRETS = "/api/v1/namespaces/shop/secrets"
RBAC_DENIAL = ('secrets is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource "secrets" in API '
               'group "" in the namespace "shop"')


# --- records as the API returns them ------------------------------------------------------------------

def record(release, compress=True, secret_type=release_store.RELEASE_SECRET_TYPE):
    """A release Secret as the API returns it: Helm's base64 of the gzipped JSON, base64-encoded again."""
    payload = json.dumps(release).encode()
    helm_encoded = base64.b64encode(gzip.compress(payload) if compress else payload)
    return {"metadata": {"name": "sh.helm.release.v1.%s.v%s" % (release.get("name"), release.get("version")),
                         "namespace": release.get("namespace")},
            "type": secret_type, "data": {"release": base64.b64encode(helm_encoded).decode()}}


def release(version, config, name="web", namespace="shop", status="deployed"):
    return {"name": name, "namespace": namespace, "version": version, "config": config,
            "info": {"status": status, "last_deployed": "2026-01-0%dT10:00:00Z" % version,
                     "description": "Upgrade complete" if version > 1 else "Install complete"},
            "chart": {"metadata": {"name": "web", "version": "1.%d.0" % version, "appVersion": "2.%d" % version}},
            "manifest": "---\n"}


CORRUPT = {"metadata": {"name": "sh.helm.release.v1.web.v3", "namespace": "shop"},
           "type": release_store.RELEASE_SECRET_TYPE, "data": {"release": "garbage"}}


# --- decoding ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_decode_release(compress):
    encoded = record(release(3, {"image": {"tag": "1.2"}}), compress)["data"]["release"]
    decoded = release_store.decode_release(encoded)
    assert (decoded["version"], decoded["config"]) == (3, {"image": {"tag": "1.2"}})


@pytest.mark.parametrize("encoded", [
    "not base64!", base64.b64encode(b"not base64 either").decode(),
    base64.b64encode(base64.b64encode(b"\x1f\x8bbroken gzip")).decode(),
    base64.b64encode(base64.b64encode(json.dumps({"name": "web"}).encode())).decode(),
    None,
])
def test_decode_release_refuses_what_is_not_a_release(encoded):
    with pytest.raises(ValueError, match="not a Helm release record"):
        release_store.decode_release(encoded)


def test_releases_of_reads_every_listed_record_oldest_first():
    secrets = [record(release(2, None)),  # installed without values: helm get values prints null
               record(release(1, {"a": 1}), compress=False)]
    releases = release_store.releases_of(secrets)
    assert [entry["version"] for entry in releases] == [1, 2]
    assert [release_store.user_values(entry) for entry in releases] == [{"a": 1}, {}]


@pytest.mark.parametrize("bad", [
    {"type": release_store.RELEASE_SECRET_TYPE, "data": {"release": "garbage"}},
    {"type": release_store.RELEASE_SECRET_TYPE},
    record(dict(release(3, {}), info=None)),  # Helm panics on it
])
def test_releases_of_refuses_what_helm_could_not_read(bad):
    with pytest.raises(ValueError):
        release_store.releases_of([record(release(1, {})), bad])


@pytest.mark.parametrize("stored, entry", [
    ({"version": 3, "info": {"last_deployed": "2026-12-02T07:35:00.123456789Z", "status": "failed",
                             "description": "Upgrade \"web\" failed"},
      "chart": {"metadata": {"name": "web", "version": "1.2.0", "appVersion": "2.0"}}},
     {"revision": 3, "updated": "2026-12-02T07:35:00.123456789Z", "status": "failed", "chart": "web-1.2.0",
      "app_version": "2.0", "description": "Upgrade \"web\" failed", "chart_name": "web", "chart_version": "1.2.0"}),
    # Helm's formatChartname/formatAppVersion: no chart is MISSING; a chart without appVersion is ""
    ({"version": 1, "info": {"status": "deployed"}},
     {"revision": 1, "updated": "", "status": "deployed", "chart": "MISSING", "app_version": "MISSING",
      "description": ""}),
    ({"version": 2, "info": {}, "chart": {"metadata": {"name": "web", "version": "1.0.0"}}},
     {"revision": 2, "updated": "", "status": "", "chart": "web-1.0.0", "app_version": "", "description": "",
      "chart_name": "web", "chart_version": "1.0.0"}),
    # the text cannot be split back ('app-2-1.0.0' reads as app-2 1.0.0): the metadata's name and version are kept
    ({"version": 2, "info": {}, "chart": {"metadata": {"name": "app", "version": "2-1.0.0"}}},
     {"revision": 2, "updated": "", "status": "", "chart": "app-2-1.0.0", "app_version": "", "description": "",
      "chart_name": "app", "chart_version": "2-1.0.0"}),
    # Helm 4.3 stores a rollback's target (printed even when the rollback failed); 0 means not a rollback
    ({"version": 4, "info": {"status": "failed", "description": "Rollback \"web\" failed", "rollback_revision": 2}},
     {"revision": 4, "updated": "", "status": "failed", "chart": "MISSING", "app_version": "MISSING",
      "description": "Rollback \"web\" failed", "rollback_revision": 2}),
    ({"version": 5, "info": {"status": "deployed", "rollback_revision": 0}},
     {"revision": 5, "updated": "", "status": "deployed", "chart": "MISSING", "app_version": "MISSING",
      "description": ""}),
])
def test_history_entry_as_helm_history_prints_it(stored, entry):
    assert release_store.history_entry(stored) == entry


@pytest.mark.parametrize("stored, values", [
    ({"version": 1, "config": {"image": {"tag": "1.2"}}}, {"image": {"tag": "1.2"}}),
    ({"version": 1, "config": None}, {}),  # installed without values: Helm stores null
    ({"version": 1, "config": {}}, {}),
    ({"version": 1}, {}),
])
def test_user_values_as_helm_get_values_prints_them(stored, values):
    assert release_store.user_values(stored) == values


@pytest.mark.parametrize("namespace, path", [
    ("shop", SECRETS),
    ("a/b", "/api/v1/namespaces/a%2Fb/secrets"),  # never another path than the namespace's
    (None, "/api/v1/secrets"),
    ("", "/api/v1/secrets"),
])
def test_secrets_path(namespace, path):
    assert release_store.secrets_path(namespace) == path


@pytest.mark.parametrize("environ, needed_by, problem", [
    ({}, None, None),
    ({}, "detect_drift=true", None),
    ({"HELM_DRIVER": ""}, None, None),
    ({"HELM_DRIVER": "secret"}, None, None),
    ({"HELM_DRIVER": "secrets"}, "detect_drift=true", None),
    # Helm's driver switch is case-sensitive: Helm itself fails on "Secret", so no record is read either
    ({"HELM_DRIVER": "Secret"}, None, "HELM_DRIVER=Secret keeps Helm's release records elsewhere than in Secrets"),
    ({"HELM_DRIVER": "configmap"}, None,
     "HELM_DRIVER=configmap keeps Helm's release records elsewhere than in Secrets"),
    ({"HELM_DRIVER": "configmap"}, "detect_drift=true",
     "HELM_DRIVER=configmap keeps Helm's release records elsewhere than in Secrets; detect_drift=true reads them "
     "from Helm's default Secrets driver only: unset HELM_DRIVER"),
    ({"HELM_DRIVER": "sql"}, None, "HELM_DRIVER=sql keeps Helm's release records elsewhere than in Secrets"),
    ({"HELM_DRIVER": "SQL"}, "the fleet scan",
     "HELM_DRIVER=SQL keeps Helm's release records elsewhere than in Secrets; the fleet scan reads them from "
     "Helm's default Secrets driver only: unset HELM_DRIVER"),
])
def test_driver_problem(environ, needed_by, problem):
    assert release_store.driver_problem(environ, needed_by) == problem


# --- stand-ins: the connection, its access, Helm ------------------------------------------------------

HELM_ENTRIES = [
    {"revision": 1, "updated": "2026-01-01T10:00:00Z", "status": "superseded", "chart": "web-1.1.0",
     "app_version": "2.1", "description": "Install complete"},
    {"revision": 2, "updated": "2026-01-02T10:00:00Z", "status": "deployed", "chart": "web-1.2.0",
     "app_version": "2.2", "description": "Upgrade complete"},
]


class FakeHelm(object):
    """helm_client.HelmClient's reads. ``entries`` None: the release does not exist. ``values`` by revision;
    a revision without values fails as Helm does for a revision it does not have; ``failures`` by revision
    are raised instead."""

    def __init__(self, entries=None, values=None, failures=None):
        self.entries = entries
        self.values = values or {}
        self.failures = failures or {}
        self.calls = []
        self.lock = threading.Lock()

    def _call(self, *call):
        with self.lock:
            self.calls.append(call)

    def history(self, name, namespace):
        self._call("history", name, namespace)
        if self.entries is None:
            raise HelmError("release_not_found", "Error: release: not found", rc=1)
        return [dict(entry) for entry in self.entries]

    def get_values(self, name, namespace, revision):
        self._call("get_values", name, namespace, revision)
        if revision in self.failures:
            raise self.failures[revision]
        if self.entries is None:
            raise HelmError("release_not_found", "Error: release: not found", rc=1)
        if revision not in self.values:
            raise HelmError("revision_not_found", "Error: release has no %d version" % revision, rc=1)
        return self.values[revision]

    def get_values_many(self, name, namespace, revisions):
        self._call("get_values_many", name, namespace, tuple(revisions))
        return {revision: self.values[revision] for revision in revisions}


def secret_list(*secrets):
    return {"kind": "SecretList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": list(secrets)}


@pytest.fixture
def api():
    with scripted_api() as state:
        state.routes[("GET", SECRETS)] = (200, secret_list(record(release(2, {"a": 2})), record(release(1, {"a": 1}))))
        yield state


@pytest.fixture
def stores():
    """Makes stores, and closes their clients' connections afterwards."""
    made = []

    def make(connection, helm=None, environ=None, client=None):
        store = ReleaseStore(connection, helm, client=client, environ={} if environ is None else environ)
        made.append(store)
        return store
    yield make
    for store in made:
        if store._client is not None:  # pylint: disable=protected-access
            store._client.close()  # pylint: disable=protected-access


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def release_list_query(name="web"):
    return {"labelSelector": ["owner=helm,name=%s" % name], "limit": ["500"]}


# --- reading the records in one LIST ------------------------------------------------------------------

def test_stored_records_from_one_list(api, stores):
    connection = StandInConnection(api.url)
    store = stores(connection, FakeHelm(HELM_ENTRIES))
    assert store.direct_problem is None and connection.accesses == 0  # the client is made on first use
    stored = store.stored_records("web", "shop")
    assert [(entry["version"], entry["config"]) for entry in stored] == [(1, {"a": 1}), (2, {"a": 2})]
    # Helm's label selector, in one request
    assert api.asked == [Asked("GET", SECRETS, release_list_query())]
    assert connection.accesses == 1 and store.client.requests == 1
    assert store.helm.calls == []


@pytest.mark.parametrize("value, through_helm", [("helm", True), ("HELM", True), ("", False), ("records", False)])
def test_matih_helm_reads_helm_sends_every_read_to_helm(api, stores, value, through_helm):
    store = stores(StandInConnection(api.url), FakeHelm(HELM_ENTRIES), environ={"MATIH_HELM_READS": value})
    history = store.history("web", "shop")
    assert [entry["revision"] for entry in history] == [1, 2]
    assert (api.asked == [], store.helm.calls != []) == (through_helm, through_helm)
    store.require_direct("helm_release_drift")  # the drift checks, which only the records serve, still may


def test_a_given_client_is_used_and_the_connection_is_not_asked(api, stores):
    connection = StandInConnection(api.url)
    client = KubeClient(StandInAccess(api.url))
    store = stores(connection, client=client)
    assert store.client is client
    assert [entry["version"] for entry in store.stored_records("web", "shop")] == [1, 2]
    assert connection.accesses == 0 and client.requests == 1


def test_no_record_is_an_empty_list(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list())
    assert stores(StandInConnection(api.url)).stored_records("web", "shop") == []


@pytest.mark.parametrize("case", ["helm_driver", "api_problem", "broken_kubeconfig", "forbidden", "unreachable",
                                  "corrupt"])
def test_helm_reads_whenever_the_records_cannot_be_read(api, stores, case):
    server = "http://127.0.0.1:%d" % closed_port() if case == "unreachable" else api.url
    connection = StandInConnection(
        server, api_problem="the kubeconfig user authenticates with auth-provider" if case == "api_problem" else None,
        broken=KubeError("invalid_kubeconfig", "no such context") if case == "broken_kubeconfig" else None)
    environ = {"HELM_DRIVER": "configmap"} if case == "helm_driver" else {}
    if case == "forbidden":
        api.routes[("GET", SECRETS)] = (403, {"kind": "Status", "code": 403, "reason": "Forbidden",
                                              "message": RBAC_DENIAL})
    if case == "corrupt":
        api.routes[("GET", SECRETS)] = (200, secret_list(record(release(1, {"a": 1})), CORRUPT))
    helm = FakeHelm(HELM_ENTRIES)
    store = stores(connection, helm, environ=environ)

    assert store.stored_records("web", "shop") is None
    assert store.history("web", "shop") == HELM_ENTRIES
    assert helm.calls == [("history", "web", "shop")]
    if case in ("helm_driver", "api_problem"):  # known before any request: nothing is asked of the API
        assert store.direct_problem and api.asked == [] and connection.accesses == 0
    else:
        assert store.direct_problem is None


@pytest.mark.parametrize("environ, api_problem, direct_problem", [
    ({}, None, None),
    ({"HELM_DRIVER": "secrets"}, None, None),
    ({"HELM_DRIVER": "configmap"}, None, "HELM_DRIVER=configmap keeps Helm's release records elsewhere than in Secrets"),
    ({}, "the kubeconfig user authenticates with auth-provider", "the kubeconfig user authenticates with auth-provider"),
])
def test_direct_problem(api, stores, environ, api_problem, direct_problem):
    store = stores(StandInConnection(api.url, api_problem=api_problem), environ=environ)
    assert store.direct_problem == direct_problem


def test_the_environment_is_read_when_none_is_given(api, monkeypatch):
    monkeypatch.setenv("HELM_DRIVER", "memory")
    store = ReleaseStore(StandInConnection(api.url))
    assert store.direct_problem == "HELM_DRIVER=memory keeps Helm's release records elsewhere than in Secrets"
    monkeypatch.delenv("HELM_DRIVER")
    assert ReleaseStore(StandInConnection(api.url)).direct_problem is None


# --- history ------------------------------------------------------------------------------------------

def test_history_from_the_records(api, stores):
    helm = FakeHelm(HELM_ENTRIES)
    history = stores(StandInConnection(api.url), helm).history("web", "shop")
    assert history == [
        {"revision": 1, "updated": "2026-01-01T10:00:00Z", "status": "deployed", "chart": "web-1.1.0",
         "app_version": "2.1", "description": "Install complete", "chart_name": "web", "chart_version": "1.1.0"},
        {"revision": 2, "updated": "2026-01-02T10:00:00Z", "status": "deployed", "chart": "web-1.2.0",
         "app_version": "2.2", "description": "Upgrade complete", "chart_name": "web", "chart_version": "1.2.0"},
    ]
    assert helm.calls == [] and len(api.asked) == 1


@pytest.mark.parametrize("direct", [True, False])
def test_history_of_a_missing_release_is_empty(api, stores, direct):
    api.routes[("GET", SECRETS)] = (200, secret_list())  # no record: Helm has the last word
    helm = FakeHelm(None)
    store = stores(StandInConnection(api.url), helm, environ={} if direct else {"HELM_DRIVER": "sql"})
    assert store.history("web", "shop") == []
    assert helm.calls == [("history", "web", "shop")]
    assert len(api.asked) == (1 if direct else 0)


def test_helm_history_raises_what_is_not_a_missing_release(api, stores):
    class FailingHelm(FakeHelm):
        def history(self, name, namespace):
            raise HelmError("cluster_unreachable", "Error: Kubernetes cluster unreachable", rc=1)
    store = stores(StandInConnection(api.url, api_problem="exec plugin"), FailingHelm())
    with pytest.raises(HelmError) as failure:
        store.history("web", "shop")
    assert failure.value.kind == "cluster_unreachable"
    store = stores(StandInConnection(api.url, api_problem="exec plugin"), FakeHelm(None))
    with pytest.raises(HelmError) as failure:
        store.helm_history("web", "shop")  # missing_ok=False
    assert failure.value.kind == "release_not_found"
    assert store.helm_history("web", "shop", missing_ok=True) == []


# --- history and values -------------------------------------------------------------------------------

def test_history_and_values_from_the_records_in_one_request(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list(
        record(release(3, {"a": 3})), record(release(1, {"a": 1})), record(release(2, None))))
    helm = FakeHelm(HELM_ENTRIES)
    entries, values, values_error = stores(StandInConnection(api.url), helm).history_and_values("web", "shop", [2])
    assert [entry["revision"] for entry in entries] == [1, 2, 3]
    assert values == {1: {"a": 1}, 2: {}, 3: {"a": 3}}  # every stored revision's, not only those asked
    assert values_error is None
    assert api.asked == [Asked("GET", SECRETS, release_list_query())]
    assert helm.calls == []


UNREACHABLE = HelmError("cluster_unreachable", "Error: Kubernetes cluster unreachable", rc=1)
TIMEOUT = HelmError("timeout", "Error: context deadline exceeded", rc=1)


@pytest.mark.parametrize("revisions, failures, values, values_error", [
    pytest.param([], {}, {}, None, id="history-only"),
    pytest.param([1, 2], {}, {1: {"a": 1}, 2: {"a": 2}}, None, id="both"),
    pytest.param([2], {}, {2: {"a": 2}}, None, id="only-those-asked"),
    # a revision Helm does not have is left out, and is no error
    pytest.param([2, 7], {}, {2: {"a": 2}}, None, id="not-stored"),
    # a stored revision whose values could not be read: the first such error
    pytest.param([1, 2], {2: UNREACHABLE}, {1: {"a": 1}}, UNREACHABLE, id="stored-failed"),
    pytest.param([1, 2], {1: TIMEOUT, 2: UNREACHABLE}, {}, TIMEOUT, id="first-error"),
    pytest.param([2, 1], {1: TIMEOUT, 2: UNREACHABLE}, {}, UNREACHABLE, id="first-in-order-asked"),
    # Helm pruned it between the two calls: left out, no error
    pytest.param([2], {2: HelmError("revision_not_found", "Error: release has no 2 version", rc=1)}, {}, None,
                 id="pruned-meanwhile"),
    # a failure for a revision the history does not hold is no error either
    pytest.param([1, 9], {9: UNREACHABLE}, {1: {"a": 1}}, None, id="not-stored-failed"),
])
def test_history_and_values_from_helm(api, stores, revisions, failures, values, values_error):
    helm = FakeHelm(HELM_ENTRIES, {1: {"a": 1}, 2: {"a": 2}}, failures)
    store = stores(StandInConnection(api.url), helm, environ={"HELM_DRIVER": "configmap"})
    result = store.history_and_values("web", "shop", revisions)
    assert result == (HELM_ENTRIES, values, values_error)
    # one call for the history, one per revision asked, nothing else
    assert sorted(helm.calls, key=repr) == sorted([("history", "web", "shop")] + [
        ("get_values", "web", "shop", revision) for revision in revisions], key=repr)
    assert api.asked == []


@pytest.mark.parametrize("missing_ok", [True, False])
def test_history_and_values_of_a_missing_release(api, stores, missing_ok):
    store = stores(StandInConnection(api.url, api_problem="exec plugin"), FakeHelm(None))
    if missing_ok:
        assert store.history_and_values("web", "shop", [1, 2], missing_ok=True) == ([], {}, None)
    else:
        with pytest.raises(HelmError) as failure:
            store.history_and_values("web", "shop", [1, 2])
        assert failure.value.kind == "release_not_found"


def test_history_and_values_falls_back_to_helm_when_the_release_has_no_record(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list())
    helm = FakeHelm(HELM_ENTRIES, {2: {"a": 2}})
    assert stores(StandInConnection(api.url), helm).history_and_values("web", "shop", [2]) == (
        HELM_ENTRIES, {2: {"a": 2}}, None)
    assert len(api.asked) == 1


# --- read ---------------------------------------------------------------------------------------------

def newest(entries):
    return [entries[-1]["revision"]] if entries else []


@pytest.mark.parametrize("direct, values_for, values, source", [
    (True, None, {}, "release_records"),
    (True, newest, {2: {"a": 2}}, "release_records"),
    (True, lambda entries: [entry["revision"] for entry in entries], {1: {"a": 1}, 2: {"a": 2}}, "release_records"),
    (True, lambda entries: [9], {}, "release_records"),  # not stored: no values
    (False, None, {}, "helm"),
    (False, newest, {2: {"helm": 2}}, "helm"),
    (False, lambda entries: [1, 2], {1: {"helm": 1}, 2: {"helm": 2}}, "helm"),
])
def test_read(api, stores, direct, values_for, values, source):
    helm = FakeHelm(HELM_ENTRIES, {1: {"helm": 1}, 2: {"helm": 2}})
    store = stores(StandInConnection(api.url), helm, environ={} if direct else {"HELM_DRIVER": "configmap"})
    seen_entries = []

    def recording(entries):
        seen_entries.append(entries)
        return values_for(entries)
    reading = store.read("web", "shop", recording if values_for else None)
    assert isinstance(reading, Reading)
    assert (reading.values, reading.source) == (values, source)
    assert [entry["revision"] for entry in reading.entries] == [1, 2]
    if values_for:
        assert seen_entries == [reading.entries]  # values_for chooses from the entries read
    if direct:
        assert helm.calls == [] and len(api.asked) == 1
    else:
        asked = [("get_values_many", "web", "shop", tuple(values_for(HELM_ENTRIES)))] if values_for else []
        assert helm.calls == [("history", "web", "shop")] + asked and api.asked == []


def test_read_of_a_missing_release(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list())
    helm = FakeHelm(None)
    assert stores(StandInConnection(api.url), helm).read("web", "shop", newest) == Reading([], {}, "helm")
    assert helm.calls == [("history", "web", "shop")]  # nothing to read values of


# --- strict reads: records, deployed records ----------------------------------------------------------

@pytest.mark.parametrize("status, message, kind", [
    (401, "Unauthorized", "access_denied"),
    (403, RBAC_DENIAL, "access_denied"),
    (500, "etcdserver: request timed out", "api_error"),
])
def test_records_raise_what_the_api_answered(api, stores, status, message, kind):
    api.routes[("GET", SECRETS)] = (status, {"kind": "Status", "code": status, "message": message})
    store = stores(StandInConnection(api.url), FakeHelm(HELM_ENTRIES))
    with pytest.raises(KubeError) as failure:
        store.records("web", "shop")
    assert (failure.value.kind, failure.value.status) == (kind, status)
    assert message in failure.value.message and store.helm.calls == []


def test_records_of_an_unreachable_server(stores):
    port = closed_port()
    with pytest.raises(KubeError) as failure:
        stores(StandInConnection("http://127.0.0.1:%d" % port)).records("web", "shop")
    assert failure.value.kind == "cluster_unreachable" and "127.0.0.1:%d" % port in failure.value.message


def test_records_refuse_a_corrupt_record(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list(record(release(1, {})), CORRUPT))
    with pytest.raises(TaskError) as failure:
        stores(StandInConnection(api.url)).records("web", "shop")
    assert not isinstance(failure.value, KubeError)
    assert failure.value.kind == "invalid_release_record"
    assert "of web in shop" in failure.value.message and "owner=helm,name=web" in failure.value.message


def test_records_read_what_the_list_returned(api, stores):
    store = stores(StandInConnection(api.url))
    assert [(entry["version"], entry["config"]) for entry in store.records("web", "shop")] == [(1, {"a": 1}), (2, {"a": 2})]
    assert api.asked == [Asked("GET", SECRETS, release_list_query())]


DEPLOYED_QUERY = {"labelSelector": ["owner=helm,status=deployed"], "limit": ["500"]}


def test_deployed_records_one_list_per_namespace(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list(record(release(2, {"a": 2}))))
    api.routes[("GET", "/api/v1/namespaces/books/secrets")] = (200, secret_list(
        record(release(5, {}, name="db", namespace="books")), record(release(1, {}, name="cache", namespace="books"))))
    api.routes[("GET", "/api/v1/namespaces/empty/secrets")] = (200, secret_list())
    store = stores(StandInConnection(api.url))
    found = store.deployed_records(["shop", "books", "empty"])
    # in the order of the namespaces, then of the list
    assert [(entry["namespace"], entry["name"], entry["version"]) for entry in found] == [
        ("shop", "web", 2), ("books", "db", 5), ("books", "cache", 1)]
    assert sorted(api.asked) == sorted([
        Asked("GET", SECRETS, DEPLOYED_QUERY), Asked("GET", "/api/v1/namespaces/books/secrets", DEPLOYED_QUERY),
        Asked("GET", "/api/v1/namespaces/empty/secrets", DEPLOYED_QUERY)])


def test_deployed_records_of_every_namespace_in_one_list(api, stores):
    api.routes[("GET", "/api/v1/secrets")] = (200, secret_list(
        record(release(2, {"a": 2})), record(release(5, {}, name="db", namespace="books"))))
    found = stores(StandInConnection(api.url)).deployed_records([])
    assert [(entry["namespace"], entry["name"]) for entry in found] == [("shop", "web"), ("books", "db")]
    assert api.asked == [Asked("GET", "/api/v1/secrets", DEPLOYED_QUERY)]


def test_deployed_records_refuse_a_corrupt_record(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list(record(release(2, {})), CORRUPT))
    with pytest.raises(TaskError) as failure:
        stores(StandInConnection(api.url)).deployed_records(["shop"])
    assert failure.value.kind == "invalid_release_record"
    assert "shop/sh.helm.release.v1.web.v3" in failure.value.message


def test_deployed_records_raise_what_the_api_answered(api, stores):
    api.routes[("GET", "/api/v1/secrets")] = (403, {"kind": "Status", "code": 403, "reason": "Forbidden",
                                                    "message": RBAC_DENIAL.replace(' in the namespace "shop"', "")})
    with pytest.raises(KubeError) as failure:
        stores(StandInConnection(api.url)).deployed_records([])
    assert (failure.value.kind, failure.value.status) == ("access_denied", 403)


# --- require_direct -----------------------------------------------------------------------------------

@pytest.mark.parametrize("environ, api_problem, kind, problem", [
    ({}, None, None, None),
    ({"HELM_DRIVER": "secrets"}, None, None, None),
    ({"HELM_DRIVER": "configmap"}, None, "unsupported_environment",
     "HELM_DRIVER=configmap keeps Helm's release records elsewhere than in Secrets"),
    ({}, "the kubeconfig user authenticates with auth-provider oidc", "unsupported_kubeconfig",
     "the kubeconfig user authenticates with auth-provider oidc"),
    # both: the kind names the problem the message reports
    ({"HELM_DRIVER": "sql"}, "the kubeconfig user authenticates with auth-provider oidc", "unsupported_environment",
     "HELM_DRIVER=sql keeps Helm's release records elsewhere than in Secrets"),
])
def test_require_direct(api, stores, environ, api_problem, kind, problem):
    store = stores(StandInConnection(api.url, api_problem=api_problem), environ=environ)
    if kind is None:
        store.require_direct("detect_drift=true")
        return
    with pytest.raises(TaskError) as failure:
        store.require_direct("detect_drift=true")
    assert failure.value.kind == kind
    assert failure.value.message == (
        "detect_drift=true reads Helm's release records and live objects from the Kubernetes API, which is not "
        "possible here: " + problem)
    assert api.asked == []


# --- a revision's manifest ------------------------------------------------------------------------------

class ManifestHelm(FakeHelm):
    """FakeHelm with ``helm get manifest``: "manifest of N" for each revision of ``entries``."""

    def get_manifest(self, name, namespace, revision):
        self._call("get_manifest", name, namespace, revision)
        if self.entries is None:
            raise HelmError("release_not_found", "Error: release: not found", rc=1)
        return "manifest of %d" % revision


def with_manifest(version):
    return dict(release(version, {}), manifest="---\n# Source: web/templates/v%d.yaml\n" % version)


@pytest.fixture
def manifest_api(api):
    api.routes[("GET", SECRETS)] = (200, secret_list(record(with_manifest(2)), record(with_manifest(1))))
    return api


def test_manifest_comes_from_the_release_last_list_without_another_request(manifest_api, stores):
    store = stores(StandInConnection(manifest_api.url), ManifestHelm(HELM_ENTRIES))
    store.history_and_values("web", "shop")
    assert store.manifest("web", "shop", 1) == "---\n# Source: web/templates/v1.yaml\n"
    assert store.manifest("web", "shop", 2) == "---\n# Source: web/templates/v2.yaml\n"
    assert len(manifest_api.asked) == 1 and store.helm.calls == []


def test_manifest_lists_the_records_when_they_were_not_read(manifest_api, stores):
    store = stores(StandInConnection(manifest_api.url), ManifestHelm(HELM_ENTRIES))
    assert store.manifest("web", "shop", 2) == "---\n# Source: web/templates/v2.yaml\n"
    assert manifest_api.asked == [Asked("GET", SECRETS, release_list_query())] and store.helm.calls == []


@pytest.mark.parametrize("helm", [True, False])
def test_manifest_of_a_revision_not_stored(manifest_api, stores, helm):
    store = stores(StandInConnection(manifest_api.url), ManifestHelm(HELM_ENTRIES) if helm else None)
    with pytest.raises(HelmError) as failure:
        store.manifest("web", "shop", 7)
    assert failure.value.kind == "revision_not_found"
    assert failure.value.message == ("Revision 7 of release web is not stored in namespace shop (stored: 1, 2); Helm may "
                                     "have pruned it (--history-max)")


@pytest.mark.parametrize("environ, records", [
    ({"HELM_DRIVER": "configmap"}, True),  # the records cannot be read directly
    ({"MATIH_HELM_READS": "helm"}, True),
    ({}, False),  # no record: Helm says what it makes of the release
])
def test_manifest_through_helm(manifest_api, stores, environ, records):
    if not records:
        manifest_api.routes[("GET", SECRETS)] = (200, secret_list())
    store = stores(StandInConnection(manifest_api.url), ManifestHelm(HELM_ENTRIES), environ=environ)
    assert store.manifest("web", "shop", 2) == "manifest of 2"
    assert store.helm.calls == [("get_manifest", "web", "shop", 2)]


def test_manifest_without_helm_raises_what_the_records_raise(api, stores):
    api.routes[("GET", SECRETS)] = (403, {"kind": "Status", "code": 403, "reason": "Forbidden", "message": RBAC_DENIAL})
    with pytest.raises(KubeError) as failure:
        stores(StandInConnection(api.url)).manifest("web", "shop", 1)
    assert failure.value.kind == "access_denied"


def test_record_manifest():
    records = [with_manifest(1), dict(release(2, {}), manifest=None)]
    assert release_store.record_manifest(records, 1) == "---\n# Source: web/templates/v1.yaml\n"
    assert release_store.record_manifest(records, 2) == ""
    assert release_store.record_manifest(records, 3) is None


# --- deployed_records of a fleet's scan: what cannot be read is a problem, the rest is read --------------------

def test_deployed_records_with_problems_skip_a_corrupt_record_and_read_the_others(api, stores):
    api.routes[("GET", SECRETS)] = (200, secret_list(record(release(2, {})), CORRUPT))
    api.routes[("GET", "/api/v1/namespaces/books/secrets")] = (200, secret_list(
        record(release(5, {}, name="db", namespace="books"))))
    problems = []
    found = stores(StandInConnection(api.url)).deployed_records(["shop", "books"], problems)
    assert [(entry["namespace"], entry["name"], entry["version"]) for entry in found] == [("shop", "web", 2), ("books", "db", 5)]
    assert [(problem.namespace, problem.release, problem.error_kind) for problem in problems] == [
        ("shop", "sh.helm.release.v1.web.v3", "invalid_release_record")]  # no name label: the Secret's name
    assert "shop/sh.helm.release.v1.web.v3" in problems[0].message


def test_deployed_records_of_every_namespace_with_problems_keep_the_readable_ones(api, stores):
    """The README's promise: a corrupt record in one namespace cannot hide the others (one LIST for all)."""
    corrupt = copy.deepcopy(CORRUPT)
    corrupt["metadata"]["namespace"] = "books"
    api.routes[("GET", "/api/v1/secrets")] = (200, secret_list(record(release(2, {})), corrupt))
    problems = []
    found = stores(StandInConnection(api.url)).deployed_records([], problems)
    assert [(entry["namespace"], entry["name"]) for entry in found] == [("shop", "web")]
    assert [(problem.namespace, problem.error_kind) for problem in problems] == [("books", "invalid_release_record")]


def test_deployed_records_with_problems_report_a_refused_namespace_and_read_the_others(api, stores):
    api.routes[("GET", SECRETS)] = (403, {"kind": "Status", "code": 403, "reason": "Forbidden", "message": RBAC_DENIAL})
    api.routes[("GET", "/api/v1/namespaces/books/secrets")] = (200, secret_list(
        record(release(5, {}, name="db", namespace="books"))))
    problems = []
    found = stores(StandInConnection(api.url)).deployed_records(["shop", "books"], problems)
    assert [(entry["namespace"], entry["name"]) for entry in found] == [("books", "db")]
    assert [(problem.namespace, problem.release, problem.error_kind) for problem in problems] == [
        ("shop", None, "access_denied")]
    assert "secrets" in problems[0].message


@pytest.mark.parametrize("status", [401, 429, 500])
def test_deployed_records_with_problems_still_raise_what_concerns_every_namespace(api, stores, status):
    api.routes[("GET", SECRETS)] = (status, {"kind": "Status", "code": status, "message": "no"})
    api.routes[("GET", "/api/v1/namespaces/books/secrets")] = (200, secret_list())
    with pytest.raises(KubeError) as failure:
        stores(StandInConnection(api.url)).deployed_records(["shop", "books"], [])
    assert failure.value.status == status

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The event source matih.helm.helm_releases driven as ansible-rulebook drives it: main(queue, args) with a
list-backed queue, over a scripted client (LISTs and watch streams) or a real one against a local HTTP server:
resume after a dropped watch, 410 Gone, an outage retried, quiet watches, no duplicates, stale pending revisions,
repeats, the burst brake, errors that end the source, and cancellation."""

from __future__ import annotations

import asyncio
import collections
import http.server
import json
import logging
import threading
import time

import pytest
import yaml

from ansible_collections.matih.helm.extensions.eda.plugins.event_source import helm_releases
from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError
from ansible_collections.matih.helm.plugins.module_utils.kube_client import METADATA_WATCH, MetadataList
from ansible_collections.matih.helm.tests.unit.plugins.module_utils.test_release_events import secret

TOKEN = "s3cr3t-token-value"
QUIET = dict(stale_pending_after=0, burst_limit=0, repeat_after=0)  # only the changes, at once
SOURCE_THREAD = "helm_releases "


def with_version(item, resource_version):
    item["metadata"]["resourceVersion"] = resource_version
    return item


def bookmark(resource_version):
    return {"kind": "PartialObjectMetadata", "metadata": {"resourceVersion": resource_version}}


class FakeClient(object):
    """The client's seams the source uses, answering from scripts: ``lists`` (a MetadataList or a KubeError each
    LIST) and ``watches`` (each watch a list of ("event", type, object) and ("error", KubeError) steps; a watch
    whose steps ran out ends, unless its last step is ("wait",): then it waits, as a quiet watch does, until
    interrupted; ("sleep", seconds) waits that long). With nothing left to answer, a request waits until
    interrupted too."""

    def __init__(self, lists=(), watches=()):
        self.lists = collections.deque(lists)
        self.watches = collections.deque(watches)
        self.calls = []
        self.interrupted = threading.Event()
        self.closed = False
        self.open_watches = 0

    def list_metadata(self, path, label_selector=None, field_selector=None, limit=500):
        self.calls.append(("list", path, label_selector))
        if not self.lists:
            self._wait()
        answer = self.lists.popleft()
        if isinstance(answer, KubeError):
            raise answer
        return answer

    def watch(self, path, label_selector=None, resource_version=None, allow_bookmarks=True, timeout_seconds=None,
              accept="application/json", field_selector=None):
        self.calls.append(("watch", path, resource_version))
        assert (label_selector, allow_bookmarks, accept) == ("owner=helm", True, METADATA_WATCH)
        return self._stream(self.watches.popleft() if self.watches else [("wait",)])

    def _stream(self, steps):
        self.open_watches += 1
        try:
            for step in steps:
                if step[0] == "event":
                    yield step[1], step[2]
                elif step[0] == "error":
                    raise step[1]
                elif step[0] == "sleep":
                    time.sleep(step[1])
                else:
                    self._wait()
        finally:
            self.open_watches -= 1

    def _wait(self):
        self.interrupted.wait(30)
        raise KubeError("cluster_unreachable", "connection shut down")

    def interrupt(self):
        self.interrupted.set()

    def close(self):
        self.closed = True


class ListQueue(object):
    """ansible-rulebook's queue as a source sees it: ``await put(event)``."""

    def __init__(self):
        self.events = []

    async def put(self, event):
        self.events.append(event)


def brief(event):
    fields = event["helm_release"]
    if fields["type"] == "burst":
        return ("burst", fields["count"], sorted(one["release"] for one in fields["releases"]))
    return (fields["type"], fields["cluster"], fields["namespace"], fields["release"], fields["revision"],
            fields["status"])


def threads_left(within=1.0):
    """The source's threads still running after ``within`` seconds (they end just after settling their future)."""
    for thread in threading.enumerate():
        if thread.name.startswith(SOURCE_THREAD):
            thread.join(within)
    return [thread for thread in threading.enumerate() if thread.name.startswith(SOURCE_THREAD)]


def run_source(args, until, settle=0.0, timeout=10.0, queue=None):
    """Run main() until ``until(queue)`` holds (then ``settle`` seconds more, to see that nothing else comes),
    cancel it as ansible-rulebook does, and return the queue and how long the cancellation took."""
    queue = queue or ListQueue()

    async def drive():
        task = asyncio.ensure_future(helm_releases.main(queue, args))
        deadline = time.monotonic() + timeout
        while not until(queue):
            if task.done():
                task.result()  # the source ended: raise its error
                raise AssertionError("the source returned")
            assert time.monotonic() < deadline, "timed out; events so far: %r" % getattr(queue, "events", None)
            await asyncio.sleep(0.01)
        await asyncio.sleep(settle)
        assert not task.done(), "the source ended"
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started
    stopped_in = asyncio.run(drive())
    return queue, stopped_in


def count(n):
    return lambda queue: len(queue.events) >= n


@pytest.fixture
def clients(monkeypatch):
    """{host: FakeClient}: the client of each cluster, by its host option; the waits between retries recorded
    (``clients.waits``: the failure counts asked about) and shortened."""
    fakes = {}
    waits = []

    def retry_seconds(failures):
        waits.append(failures)
        return 0.01
    monkeypatch.setattr(helm_releases, "client_for", lambda options: fakes[options["host"]])
    monkeypatch.setattr(helm_releases, "retry_seconds", retry_seconds)
    for variable in ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY",
                     "K8S_AUTH_SSL_CA_CERT", "K8S_AUTH_VERIFY_SSL"):
        monkeypatch.delenv(variable, raising=False)
    fakes_with_waits = collections.namedtuple("Clients", "fakes waits")(fakes, waits)
    yield fakes_with_waits
    assert not threads_left(), "a watch thread outlived the source"


def one_cluster(**options):
    return dict({"clusters": [{"name": "prod", "host": "https://prod", "api_key": TOKEN}]}, **options)


def test_initial_changes_and_resume_after_a_dropped_watch(clients, caplog):
    caplog.set_level(logging.INFO, logger="matih.helm.helm_releases")
    clients.fakes["https://prod"] = fake = FakeClient(
        lists=[MetadataList([secret("shop", "web", 4, "deployed"), secret("shop", "cart", 2, "failed")], "100")],
        watches=[
            [("event", "ADDED", with_version(secret("shop", "web", 5, "pending-upgrade"), "101")),
             ("event", "BOOKMARK", bookmark("150"))],  # the server ends the watch
            [("error", KubeError("cluster_unreachable", "connection reset by peer"))],  # the watch drops
            [("event", "MODIFIED", with_version(secret("shop", "web", 5, "failed"), "160")),
             ("event", "MODIFIED", with_version(secret("shop", "web", 5, "failed"), "161")), ("wait",)],
        ])
    queue, _stopped_in = run_source(one_cluster(**QUIET), count(3), settle=0.2)
    assert [brief(event) for event in queue.events] == [
        ("release_status", "prod", "shop", "cart", 2, "failed"),
        ("release_status", "prod", "shop", "web", 5, "pending-upgrade"),
        ("release_status", "prod", "shop", "web", 5, "failed")]
    # the watch the server ended and the one that dropped resume from the bookmark's resourceVersion: one LIST
    assert fake.calls == [("list", "/api/v1/secrets", "owner=helm"), ("watch", "/api/v1/secrets", "100"),
                          ("watch", "/api/v1/secrets", "150"), ("watch", "/api/v1/secrets", "150")]
    assert "connection reset by peer" in caplog.text and TOKEN not in caplog.text
    assert fake.closed and fake.open_watches == 0


def test_gone_lists_again_and_emits_only_real_changes(clients, caplog):
    caplog.set_level(logging.INFO, logger="matih.helm.helm_releases")
    clients.fakes["https://prod"] = fake = FakeClient(
        lists=[MetadataList([secret("shop", "web", 5, "failed"), secret("shop", "cart", 2, "deployed")], "100"),
               MetadataList([secret("shop", "web", 5, "failed"), secret("shop", "cart", 3, "failed"),
                             secret("shop", "api", 1, "deployed")], "300")],
        watches=[[("error", KubeError("rejected", "too old resource version", status=410, reason="Expired"))]])
    queue, _stopped_in = run_source(one_cluster(**QUIET), count(2), settle=0.2)
    assert [brief(event) for event in queue.events] == [
        ("release_status", "prod", "shop", "web", 5, "failed"), ("release_status", "prod", "shop", "cart", 3, "failed")]
    assert [(call[0], call[2]) for call in fake.calls] == [
        ("list", "owner=helm"), ("watch", "100"), ("list", "owner=helm"), ("watch", "300")]
    assert "410 Gone" in caplog.text


def test_an_outage_is_retried_with_a_growing_wait_and_logged(clients, caplog):
    unreachable = KubeError("cluster_unreachable", "The Kubernetes API server https://prod refused the connection")
    clients.fakes["https://prod"] = FakeClient(
        lists=[unreachable, unreachable, KubeError("throttled", "throttled", status=429),
               MetadataList([secret("shop", "web", 5, "failed")], "100")],
        watches=[[("error", unreachable)], [("error", KubeError("api_error", "failed", status=500))], [("wait",)]])
    queue, _stopped_in = run_source(one_cluster(**QUIET), count(1), settle=0.2)
    assert [brief(event) for event in queue.events] == [("release_status", "prod", "shop", "web", 5, "failed")]
    # three LISTs failed in a row, then the watch failed twice: the failure count (and so the wait) grows
    assert clients.waits == [1, 2, 3, 4, 5]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 5 and "refused the connection" in warnings[0].getMessage()
    assert "retrying in" in warnings[0].getMessage() and TOKEN not in caplog.text


def test_access_denied_at_start_ends_the_source_with_its_message(clients):
    clients.fakes["https://prod"] = fake = FakeClient(lists=[KubeError(
        "access_denied", "The Kubernetes API server https://prod refused GET /api/v1/secrets (403: forbidden); check "
        "api_key", status=403)])

    async def drive():
        await helm_releases.main(ListQueue(), one_cluster())
    with pytest.raises(KubeError, match="^cluster prod: The Kubernetes API server https://prod refused") as raised:
        asyncio.run(drive())
    assert raised.value.kind == "access_denied" and TOKEN not in str(raised.value)
    assert fake.interrupted.is_set() and fake.closed


def test_a_permanent_error_after_a_retry_is_retried(clients, caplog):
    # an API server starting: unreachable, then a moment of 403 and 404 before it serves
    clients.fakes["https://prod"] = FakeClient(
        lists=[KubeError("cluster_unreachable", "refused the connection"),
               KubeError("access_denied", "forbidden while starting", status=403),
               KubeError("not_found", "not found while starting", status=404),
               MetadataList([secret("shop", "web", 2, "failed")], "100")])
    queue, _stopped_in = run_source(one_cluster(**QUIET), count(1))
    assert [brief(event) for event in queue.events] == [("release_status", "prod", "shop", "web", 2, "failed")]
    assert clients.waits == [1, 2, 3]
    assert "forbidden while starting" in caplog.text and "not found while starting" in caplog.text


def test_a_quiet_watch_ended_by_the_server_is_no_failure(clients, monkeypatch):
    monkeypatch.setattr(helm_releases, "WATCH_SECONDS", 0.1)
    clients.fakes["https://prod"] = fake = FakeClient(
        lists=[MetadataList([], "100")],
        watches=[[("sleep", 0.12)], [("sleep", 0.12)],
                 [("event", "ADDED", with_version(secret("shop", "web", 2, "failed"), "101")), ("wait",)]])
    queue, _stopped_in = run_source(one_cluster(**QUIET), count(1))
    assert len(queue.events) == 1 and clients.waits == []  # made again at once, twice
    assert [call[0] for call in fake.calls] == ["list", "watch", "watch", "watch"]


def test_a_watch_ended_early_with_nothing_backs_off(clients, monkeypatch):
    monkeypatch.setattr(helm_releases, "WATCH_SECONDS", 30)
    clients.fakes["https://prod"] = FakeClient(
        lists=[MetadataList([], "100")],
        watches=[[], [],
                 [("event", "ADDED", with_version(secret("shop", "web", 2, "failed"), "101")), ("wait",)]])
    queue, _stopped_in = run_source(one_cluster(**QUIET), count(1))
    assert len(queue.events) == 1 and clients.waits == [1, 2]


def test_access_denied_once_watching_is_retried(clients, caplog):
    clients.fakes["https://prod"] = fake = FakeClient(
        lists=[MetadataList([], "100"), MetadataList([secret("shop", "web", 2, "failed")], "200")],
        watches=[[("error", KubeError("access_denied", "token expired", status=401))],
                 [("error", KubeError("rejected", "gone", status=410))]])
    queue, _stopped_in = run_source(one_cluster(**QUIET), count(1))
    assert [brief(event) for event in queue.events] == [("release_status", "prod", "shop", "web", 2, "failed")]
    assert "token expired" in caplog.text
    assert [call[0] for call in fake.calls] == ["list", "watch", "watch", "list", "watch"]


def test_a_cluster_that_cannot_be_connected_to_ends_the_source(clients, monkeypatch):
    def broken(options):
        raise KubeError("invalid_kubeconfig", "kubeconfig /nowhere cannot be read")
    monkeypatch.setattr(helm_releases, "client_for", broken)
    with pytest.raises(KubeError, match="^cluster prod: kubeconfig /nowhere cannot be read"):
        asyncio.run(helm_releases.main(ListQueue(), one_cluster()))


def test_stale_pending_once(clients):
    now = time.time()
    clients.fakes["https://prod"] = FakeClient(lists=[MetadataList(
        [secret("shop", "web", 5, "pending-upgrade", modified_at=now), secret("shop", "api", 1, "deployed")], "100")])
    queue, _stopped_in = run_source(one_cluster(stale_pending_after=1, burst_limit=0), count(2), settle=1.0)
    assert [(event["helm_release"]["type"], event["helm_release"]["release"]) for event in queue.events] == [
        ("release_status", "web"), ("pending_stale", "web")]
    assert queue.events[1]["helm_release"]["pending_seconds"] >= 1


def test_an_unhealthy_release_is_repeated_until_it_changes(clients):
    clients.fakes["https://prod"] = FakeClient(lists=[MetadataList(
        [secret("shop", "web", 5, "failed"), secret("shop", "api", 1, "deployed")], "100")])
    queue, _stopped_in = run_source(one_cluster(burst_limit=0, stale_pending_after=0, repeat_after=0.3), count(3))
    assert [(event["helm_release"]["reason"], event["helm_release"]["release"], event["helm_release"]["revision"])
            for event in queue.events[:3]] == [("initial", "web", 5), ("repeat", "web", 5), ("repeat", "web", 5)]


def test_burst_brake_emits_one_alert_and_no_release(clients, caplog):
    clients.fakes["https://prod"] = FakeClient(
        lists=[MetadataList([], "100")],
        watches=[[("event", "ADDED", with_version(secret(tenant, "web", 2, "failed"), str(101 + index)))
                  for index, tenant in enumerate(("a", "b", "c"))] + [("wait",)]])
    queue, _stopped_in = run_source(one_cluster(burst_limit=2, burst_hold=1, stale_pending_after=0), count(1),
                                    settle=0.5)
    assert [brief(event) for event in queue.events] == [("burst", 3, ["web", "web", "web"])]
    assert sorted(one["namespace"] for one in queue.events[0]["helm_release"]["releases"]) == ["a", "b", "c"]
    assert sorted(queue.events[0]["helm_release"]["names"]) == ["prod/a/web", "prod/b/web", "prod/c/web"]
    assert "Burst brake" in caplog.text


def test_clusters_and_namespaces_each_have_their_watch_and_name_their_events(clients):
    clients.fakes["https://eu"] = eu = FakeClient(lists=[MetadataList([secret("shop", "web", 3, "failed")], "7"),
                                                         MetadataList([], "8")])
    clients.fakes["https://us"] = us = FakeClient(lists=[MetadataList([], "9"),
                                                         MetadataList([secret("billing", "api", 2, "failed")], "10")])
    args = dict(QUIET, namespaces=["shop", "billing"], clusters=[{"name": "eu", "host": "https://eu"},
                                                                 {"name": "us", "host": "https://us"}])
    queue, _stopped_in = run_source(args, count(2), settle=0.2)
    assert sorted(brief(event) for event in queue.events) == [
        ("release_status", "eu", "shop", "web", 3, "failed"), ("release_status", "us", "billing", "api", 2, "failed")]
    for fake in (eu, us):
        assert sorted(call[1] for call in fake.calls if call[0] == "list") == [
            "/api/v1/namespaces/billing/secrets", "/api/v1/namespaces/shop/secrets"]


def test_the_default_cluster_reads_the_modules_environment(clients, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://from-env")
    monkeypatch.setenv("K8S_AUTH_API_KEY", TOKEN)
    seen = []
    clients.fakes["https://from-env"] = FakeClient(lists=[MetadataList([secret("shop", "web", 1, "failed")], "1")])
    monkeypatch.setattr(helm_releases, "client_for", lambda options: seen.append(options) or clients.fakes[options["host"]])
    queue, _stopped_in = run_source(dict(QUIET), count(1))
    assert queue.events[0]["helm_release"]["cluster"] == "default"
    assert seen[0]["api_key"] == TOKEN and seen[0]["validate_certs"] is True


def test_cancellation_while_the_queue_is_full_and_watches_wait(clients):
    clients.fakes["https://prod"] = fake = FakeClient(
        lists=[MetadataList([secret(tenant, "web", 1, "failed") for tenant in "abcdef"], "1")])

    class FullQueue(ListQueue):
        async def put(self, event):
            self.events.append(event)
            await asyncio.Event().wait()  # the rulebook never takes it
    queue, stopped_in = run_source(one_cluster(**QUIET), count(1), settle=0.2, queue=FullQueue())
    assert len(queue.events) == 1 and stopped_in < helm_releases.STOP_SECONDS
    assert fake.interrupted.is_set() and fake.closed and fake.open_watches == 0


@pytest.mark.parametrize("args, message", [
    (dict(statuses=["broken"]), "statuses must be one or more of"),
    (dict(clusters=[{"name": "a", "host": "https://a"}, {"name": "a", "host": "https://b"}]), "clusters are named a, a"),
    (dict(clusters=[{"host": "https://a", "api_key": TOKEN}]), "missing required arguments: name"),
    (dict(clusters=[{"name": "a", "context": "x", "ca_cert": "/ca", "api_key": TOKEN}]), "mutually exclusive"),
    (dict(clusters=[{"name": "a", "api_key": TOKEN, "token": TOKEN}]), "token"),
    (dict(namespaces=["Not_A_Namespace"]), "Not_A_Namespace"),
    (dict(burst_hold="10m"), "burst_hold .* is longer than burst_window"),
    (dict(stale_pending_after="soon"), "stale_pending_after is 'soon'"),
    (dict(burst_limit="many"), "burst_limit"),
])
def test_options_that_cannot_work_end_the_source_naming_them(clients, args, message):
    with pytest.raises(ValueError, match=message) as raised:
        asyncio.run(helm_releases.main(ListQueue(), args))
    assert str(raised.value).startswith("matih.helm.helm_releases: ")
    assert "s3cr3t" not in str(raised.value).replace("********", "")


def test_a_clusters_binary_path_is_accepted_and_ignored(clients, monkeypatch):
    seen = []
    clients.fakes["https://prod"] = FakeClient(lists=[MetadataList([secret("shop", "web", 1, "failed")], "1")])
    monkeypatch.setattr(helm_releases, "client_for", lambda options: seen.append(options) or clients.fakes[options["host"]])
    args = dict(QUIET, clusters=[{"name": "prod", "host": "https://prod", "binary_path": "/opt/helm/bin/helm"}])
    queue, _stopped_in = run_source(args, count(1))
    assert len(queue.events) == 1 and "binary_path" not in seen[0]


def test_rulebook_internal_arguments_are_ignored(clients):
    clients.fakes["https://prod"] = FakeClient(lists=[MetadataList([secret("shop", "web", 1, "failed")], "1")])
    queue, _stopped_in = run_source(one_cluster(eda_feedback_queue=object(), **QUIET), count(1))
    assert len(queue.events) == 1


def test_documentation_matches_the_options():
    documentation = yaml.safe_load(helm_releases.DOCUMENTATION)
    options = documentation["options"]
    assert sorted(options) == sorted(helm_releases.ARGUMENT_SPEC)
    for name, spec in helm_releases.ARGUMENT_SPEC.items():
        assert options[name].get("default") == spec.get("default"), name
        assert options[name]["type"] == spec["type"], name
        assert sorted(options[name].get("choices") or []) == sorted(spec.get("choices") or []), name
    suboptions = options["clusters"]["suboptions"]
    cluster_spec = helm_releases.ARGUMENT_SPEC["clusters"]["options"]
    assert sorted(suboptions) == sorted(cluster_spec)
    for name, spec in cluster_spec.items():
        assert suboptions[name]["type"] == spec["type"], name
        assert sorted(suboptions[name].get("aliases", [])) == sorted(spec.get("aliases", [])), name
    assert isinstance(yaml.safe_load(helm_releases.EXAMPLES), list)


# --- the real client: a watch blocked on a silent server is shut down by the cancellation ------------

class SilentWatchServer(object):
    """An API server whose LIST of Secrets answers at once and whose WATCH sends its headers, then nothing."""

    def __init__(self):
        self.watching = threading.Event()
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if "watch=true" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.flush()
                    server.watching.set()
                    server.release.wait(30)
                    return
                body = json.dumps({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                   "metadata": {"resourceVersion": "5"}, "items": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_connection_made_after_the_interruption_is_closed_at_once(monkeypatch, tmp_path):
    # interrupt() found the connection without a socket (still connecting): once made, it is closed, not used
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    for variable in ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    server = SilentWatchServer()
    try:
        _settings, [(_name, options)], _namespaces = helm_releases.options_of(
            {"clusters": [{"name": "local", "host": server.url}]})
        client = helm_releases.client_for(options)
        connection = client._new_connection(60)
        client.interrupt()
        with pytest.raises(ConnectionAbortedError):
            connection.connect()
        assert connection.sock is None
        with pytest.raises(KubeError, match="stopping"):
            client.list_metadata("/api/v1/secrets")
        client.close()
    finally:
        server.close()


def test_cancellation_shuts_down_a_real_watch_connection(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    for variable in ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    server = SilentWatchServer()
    try:
        args = {"clusters": [{"name": "local", "host": server.url}], "stale_pending_after": 0}
        _queue, stopped_in = run_source(args, lambda queue: server.watching.is_set())
        # the watch's read timeout is minutes: only the shut-down socket ends its thread this soon
        assert stopped_in < helm_releases.STOP_SECONDS
        assert not threads_left()
    finally:
        server.close()

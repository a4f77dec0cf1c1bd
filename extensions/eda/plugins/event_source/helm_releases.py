# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The event source matih.helm.helm_releases: asyncio plumbing around plugins/module_utils/release_events.py,
which decides what to emit."""

from __future__ import annotations

DOCUMENTATION = r"""
---
short_description: Events from the Helm releases of one or more clusters, as their statuses change
description:
  - An event source for ansible-rulebook (Event-Driven Ansible) that emits an event within seconds of a Helm
    release's latest revision failing, getting stuck in C(pending-*), or reaching any status asked for, so that a
    rulebook recovers it on the event rather than on a schedule.
  - It reads Helm's release Secrets (label C(owner=helm)), metadata only, never a release record. Per cluster (and
    per namespace when O(namespaces) is set) it makes one LIST, then one WATCH with bookmarks, which the API
    server ends after 5 minutes and the source makes again from where it was; nothing else while nothing changes.
  - At start (O(initial)) it emits the releases already unhealthy, so that a restart of the rulebook misses nothing.
  - Never two events of one type for one (cluster, namespace, release, revision, status), with one exception,
    marked C(reason) V(repeat) (see O(repeat_after)). A watch that drops resumes from the last resourceVersion
    seen; when that is too old (410 Gone) the scope is listed again and only what changed meanwhile is emitted. A
    latest revision deleted (C(helm uninstall) deletes the revisions one by one) emits nothing for the revision
    that is the latest again. An API server that cannot be reached, throttles or fails is retried after 1 second,
    doubling to 30 seconds, and logged at WARNING; the source never stops for it. A watch the API server ends
    after its 5 minutes is made again at once, with or without events.
  - An error no retry mends, answered to the very first request of a cluster (or namespace) (access denied, a
    request the API server rejects, a kubeconfig that cannot be used), ends the source with that error's message,
    which ansible-rulebook logs; so does an option that cannot work. After any earlier request of that cluster
    (an API server still starting, a token being rotated, RBAC being fixed), every error is retried and logged.
  - Reads Helm's default Secrets storage driver only (not C(HELM_DRIVER=configmap) or C(sql)). Needs the rights to
    list and watch Secrets cluster-wide, or in each of O(namespaces).
  - Credentials never appear in events or in the log.
options:
  clusters:
    description:
      - The clusters to watch, each with a O(clusters[].name) and the modules' connection options; one WATCH (or one
        per namespace) each, all emitting into the one rulebook.
      - When empty, one cluster named C(default) connected as the modules connect when given no connection options.
      - An option a cluster does not set is taken from its E(K8S_AUTH_*) variable when set (E(K8S_AUTH_KUBECONFIG),
        E(K8S_AUTH_CONTEXT), E(K8S_AUTH_HOST), E(K8S_AUTH_API_KEY), E(K8S_AUTH_SSL_CA_CERT), E(K8S_AUTH_VERIFY_SSL)),
        then from the kubeconfig (E(KUBECONFIG) or C(~/.kube/config)), or the pod's service account in a cluster.
    type: list
    elements: dict
    default: []
    suboptions:
      binary_path:
        description:
          - The modules' O(matih.helm.helm_release_list#module:binary_path), used by the recovery (a rulebook can
            pass the same O(clusters) to its playbook), ignored here.
        type: path
      name:
        description: The cluster's name, in each event's C(cluster). Unique among O(clusters).
        type: str
        required: true
      kubeconfig:
        description: The modules' O(matih.helm.helm_release_list#module:kubeconfig), as a file's path only.
        type: path
        aliases: [ kubeconfig_path ]
      context:
        description:
          - The modules' O(matih.helm.helm_release_list#module:context).
          - Mutually exclusive with O(clusters[].ca_cert) and O(clusters[].validate_certs), as in the modules.
        type: str
        aliases: [ kube_context ]
      host:
        description: The modules' O(matih.helm.helm_release_list#module:host), which replaces the kubeconfig's server.
        type: str
      api_key:
        description:
          - The modules' O(matih.helm.helm_release_list#module:api_key). Give it from a variable
            (C(ansible-rulebook --env-vars) or C(--vars), or an EDA controller credential), not in the rulebook.
        type: str
      ca_cert:
        description: The modules' O(matih.helm.helm_release_list#module:ca_cert).
        type: path
        aliases: [ ssl_ca_cert ]
      validate_certs:
        description: The modules' O(matih.helm.helm_release_list#module:validate_certs).
        type: bool
        default: true
        aliases: [ verify_ssl ]
  namespaces:
    description:
      - Only the releases of these namespaces, one WATCH each. Empty means every namespace, in one WATCH per cluster.
    type: list
    elements: str
    default: []
  statuses:
    description:
      - The statuses (Helm's words) whose changes are emitted as C(release_status) events. V(pending) stands for
        every C(pending-*) status.
      - A C(pending-*) event means an operation has started, which every normal upgrade does too; the default
        emits them for a rulebook to see operations start, but rulebooks recover on C(pending_stale) events, not on
        C(pending-*) ones. V(deployed) lets a rulebook see a recovery.
    type: list
    elements: str
    default: [ failed, pending ]
    choices: [ unknown, deployed, uninstalled, superseded, failed, uninstalling, pending, pending-install,
               pending-upgrade, pending-rollback ]
  initial:
    description:
      - At start, emit a C(release_status) event (reason C(initial)) for each release whose latest status is
        C(failed) or C(pending-*) and among O(statuses), and a C(pending_stale) event for each one stale already.
    type: bool
    default: true
  stale_pending_after:
    description:
      - Emit one C(pending_stale) event when a release's latest revision has been C(pending-*) this long, counted
        from when the watch saw it become so (by the source's clock, so that a writer whose clock is behind cannot
        make a live Helm operation look stale); for a release already C(pending-*) when a cluster is listed (at
        start, or again after 410 Gone), from its Secret's C(modifiedAt), but never from later than then. It is the
        mark of a Helm operation that was killed (a C(helm upgrade --wait) interrupted, a runner that died) and left
        the release locked.
      - A Go duration (V(15m), V(1h30m), V(90s)) or a number of seconds; V(0) turns these events off.
    type: raw
    default: 15m
  burst_limit:
    description:
      - The burst brake, against a bad chart pushed to many tenants setting off as many recoveries. An unhealthy
        change (a C(release_status) event of status C(failed), or a C(pending_stale) event) is held O(burst_hold)
        before it is emitted. When it is due, if more than O(burst_limit) unhealthy changes were seen within
        O(burst_window) (the held ones included, across every cluster of the source), none of the held ones is
        emitted (nor later, nor repeated) and one C(burst) event names them, once per burst; the releases held back
        are logged. A burst stays with a person.
        The brake is released at the next decision after which the window holds at most O(burst_limit) again.
      - A held change whose release changed meanwhile (a C(--atomic) upgrade rolled itself back) is not emitted.
      - Other events (C(pending-*), C(deployed)...) and repeats (O(repeat_after)) are neither held nor counted.
      - V(0) turns the brake off, and unhealthy changes are emitted at once.
    type: int
    default: 5
  burst_window:
    description: The window of the burst brake (see O(burst_limit)); a Go duration or a number of seconds.
    type: raw
    default: 5m
  burst_hold:
    description:
      - How long an unhealthy change is held before the brake decides on it (see O(burst_limit)); it delays every
        recovery by as much. A Go duration or a number of seconds; V(0) decides at once (the first O(burst_limit)
        changes of a burst are then emitted, the rest held back).
      - The default holds the failures that one push sets off together (many tenants refused by the same
        admission policy within a second) and adds one second to the time to recovery. Failures that come further
        apart than the hold are emitted one by one until more than O(burst_limit) fell within O(burst_window), so
        at most O(burst_limit) recoveries per window, then the brake. Hold longer (V(30s)) to catch failures that
        spread over their upgrades' timeouts, at that cost in time to recovery.
    type: raw
    default: 1s
  repeat_after:
    description:
      - An unhealthy event that was emitted (a C(release_status) event of status C(failed), or a C(pending_stale)
        event) is emitted again this long after, and every O(repeat_after) after that, with C(reason) V(repeat)
        (same C(type), C(revision) and C(status)), while the release's latest revision and status stay the same;
        so that a recovery that was deferred (an outage, a lease held) or failed is tried again, rather than the
        release staying failed until its next change. The recovery's own backoff and quarantine still apply.
      - Repeats are neither held nor counted by the burst brake; a release held back by the brake is never
        repeated.
      - A Go duration or a number of seconds; V(0) turns repeats off.
    type: raw
    default: 10m
notes:
  - "Release events are C({helm_release: {type, reason, cluster, namespace, release, revision, status,
    previous_revision, previous_status, updated}}): C(type) C(release_status) (C(reason) V(initial) at start,
    V(changed), or V(repeat)) or C(pending_stale) (C(reason) V(pending_stale) or V(repeat), and C(pending_seconds):
    how long the revision has been pending); C(revision) and C(status) are the latest revision's, C(previous_revision) and C(previous_status)
    the latest revision and status before this change (null for a release first seen), C(updated) when the revision
    last changed (ISO 8601 in UTC)."
  - "The burst event is C({helm_release: {type: burst, count, limit, window_seconds, clusters, releases, names}}):
    C(count) unhealthy changes (not releases; a release may fail more than once) seen within C(window_seconds)
    (more than C(limit)), C(releases) the held changes not emitted, each C({type, cluster, namespace, release,
    revision, status}), and C(names) their releases, each once, as C(cluster/namespace/release) strings."
  - "Stopping: when ansible-rulebook cancels the source, every WATCH and LIST connection of the source is shut
    down, so the source returns within 2 seconds; a connection still being made (an API server that answers no
    TCP connection) cannot be shut down, and is closed as soon as it is made, or at its 10 second connect timeout,
    in a daemon thread that does not hold the process and sends no request."
  - Runs where ansible-rulebook runs, with ansible-core and this collection installed (as an EDA decision
    environment built from the collection's execution environment definition has them).
author:
  - matih.helm maintainers (@matih-platform)
"""

EXAMPLES = r"""
# ansible-rulebook -r recover.yml -i inventory.yml -E PROD_TOKEN
- name: Recover Helm releases on the event
  hosts: localhost
  sources:
    - matih.helm.helm_releases:
        clusters:
          - name: prod
            host: https://prod.k8s.example.com:6443
            ca_cert: /etc/pki/prod-ca.pem
            api_key: "{{ PROD_TOKEN }}"
        namespaces: [shop, billing]
        statuses: [failed, pending, deployed]
        stale_pending_after: 10m
  rules:
    - name: Recover a failed or stuck release, once per release within 10 minutes
      condition: >-
        event.helm_release.status == "failed" and event.helm_release.type == "release_status"
        or event.helm_release.type == "pending_stale"
      throttle:
        once_within: 10 minutes
        group_by_attributes:
          - event.helm_release.cluster
          - event.helm_release.namespace
          - event.helm_release.release
      action:
        run_module:
          name: matih.helm.helm_release_recover
          module_args:
            name: "{{ event.helm_release.release }}"
            release_namespace: "{{ event.helm_release.namespace }}"
            host: https://prod.k8s.example.com:6443
            ca_cert: /etc/pki/prod-ca.pem
            api_key: "{{ PROD_TOKEN }}"
            # pending_stale means pending for stale_pending_after: let the recovery free it (without
            # unlock_pending_after it leaves every pending release alone, and the recovery ends failed)
            unlock_pending_after: 10m
    - name: A burst of failures recovers nothing; tell a person
      condition: event.helm_release.type == "burst"
      action:
        debug:
          msg: "BURST, recovering none of {{ event.helm_release.names | join(', ') }}"
    - name: A release recovered
      condition: event.helm_release.status == "deployed"
      action:
        debug:
          msg: "{{ event.helm_release.cluster }}/{{ event.helm_release.namespace }}/{{ event.helm_release.release }} is deployed again"

# The smallest source: every namespace of the cluster of KUBECONFIG (or K8S_AUTH_*), failed and pending releases
#   sources:
#     - matih.helm.helm_releases:
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import sys
import threading
import time
import weakref

try:
    from ansible_collections.matih.helm.plugins.module_utils.args import (
        CONNECTION_ARGS, CONNECTION_MUTUALLY_EXCLUSIVE, namespace_problem,
    )
except ImportError:
    # ansible-rulebook runs a source as a file (runpy.run_path), outside Ansible's collection loader: put the
    # directory holding ansible_collections/ (this file is ansible_collections/matih/helm/extensions/eda/plugins/
    # event_source/helm_releases.py) on the path, as Ansible's loader would.
    sys.path.append(os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 7)))
    from ansible_collections.matih.helm.plugins.module_utils.args import (
        CONNECTION_ARGS, CONNECTION_MUTUALLY_EXCLUSIVE, namespace_problem,
    )
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.matih.helm.plugins.module_utils.connection import Connection
from ansible_collections.matih.helm.plugins.module_utils.errors import CLUSTER_UNREACHABLE, KubeError
from ansible_collections.matih.helm.plugins.module_utils.kube_client import METADATA_WATCH, WATCH_SECONDS, KubeClient
from ansible_collections.matih.helm.plugins.module_utils.release_events import (
    DEFAULT_STATUSES, GIVE_UP, RELIST, ReleaseEvents, Scope, after_error, retry_seconds, settings_of,
)
from ansible_collections.matih.helm.plugins.module_utils.release_inventory import OWNER_SELECTOR, STATUSES
from ansible_collections.matih.helm.plugins.module_utils.release_store import secrets_path

# runpy names the module "<run_path>": a name of our own, under which ansible-rulebook's -v shows the messages
LOGGER = logging.getLogger("matih.helm.helm_releases")
USER_AGENT = "matih.helm/helm_releases-event-source"
DEFAULT_CLUSTER = "default"
INBOX_SIZE = 1000  # watch answers waiting for the loop: a full inbox stops the threads reading, as the rulebook's queue does
POST_POLL_SECONDS = 0.2  # how often a thread waiting on a full inbox checks that the source is stopping
STOP_SECONDS = 2.0  # how long a cancelled source waits for its threads, whose connections it shut down
# A watch that lasted this share of its timeoutSeconds was ended by the server as asked, not cut early
WATCH_ENDED_SHARE = 0.9
# The connection options of a cluster: the modules' (without binary_path: Helm is not run here), a kubeconfig as
# a path only (an inline kubeconfig in a rulebook would show its credentials)
CLUSTER_SPEC = dict((option, dict(spec)) for option, spec in CONNECTION_ARGS.items() if option != "binary_path")
CLUSTER_SPEC["kubeconfig"]["type"] = "path"
ARGUMENT_SPEC = dict(
    clusters=dict(type="list", elements="dict", default=[], mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE,
                  # binary_path accepted for the recovery, which a rulebook passes the same clusters, and ignored
                  options=dict(CLUSTER_SPEC, name=dict(type="str", required=True),
                               binary_path=dict(CONNECTION_ARGS["binary_path"]))),
    namespaces=dict(type="list", elements="str", default=[]),
    statuses=dict(type="list", elements="str", default=list(DEFAULT_STATUSES), choices=list(STATUSES) + ["pending"]),
    initial=dict(type="bool", default=True),
    stale_pending_after=dict(type="raw", default="15m"),
    burst_limit=dict(type="int", default=5),
    burst_window=dict(type="raw", default="5m"),
    burst_hold=dict(type="raw", default="1s"),
    repeat_after=dict(type="raw", default="10m"),
)


# --- options ----------------------------------------------------------------------------------------

def options_of(args):
    """(settings, [(cluster name, connection options)], namespaces) from the source's arguments, checked.
    ValueError naming every problem; a token never appears in it."""
    given = dict((key, value) for key, value in args.items() if not key.startswith("eda_"))  # ansible-rulebook's own
    result = ArgumentSpecValidator(ARGUMENT_SPEC).validate(given)
    options = result.validated_parameters
    secrets = _secrets_of(options)
    problems = list(result.error_messages)
    if not problems:
        problems = [problem for problem in map(namespace_problem, options["namespaces"]) if problem]
        names = [cluster["name"] for cluster in options["clusters"]]
        if len(set(names)) < len(names):
            problems.append("clusters are named %s: give each cluster a name of its own" % ", ".join(names))
    if not problems:
        try:
            settings = settings_of(options)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ValueError(remove_values("matih.helm.helm_releases: %s" % "; ".join(problems), secrets))
    clusters = [(cluster["name"], dict((key, cluster.get(key)) for key in CLUSTER_SPEC)) for cluster in options["clusters"]]
    if not clusters:
        # the modules' K8S_AUTH_* fallbacks and defaults, as for a cluster that sets nothing
        defaults = ArgumentSpecValidator(CLUSTER_SPEC, mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE).validate({})
        if defaults.error_messages:
            raise ValueError(remove_values("matih.helm.helm_releases: the K8S_AUTH_* variables: %s" % "; ".join(
                defaults.error_messages), _secrets_of({"clusters": [defaults.validated_parameters]})))
        clusters = [(DEFAULT_CLUSTER, defaults.validated_parameters)]
    return settings, clusters, list(dict.fromkeys(options["namespaces"]))


def _secrets_of(options):
    clusters = options.get("clusters") if isinstance(options.get("clusters"), list) else []
    tokens = [cluster.get("api_key") for cluster in clusters if isinstance(cluster, dict)]
    return set(str(token) for token in tokens + [os.environ.get("K8S_AUTH_API_KEY")] if token)


# --- the API client -----------------------------------------------------------------------------------

class InterruptibleClient(KubeClient):
    """A KubeClient whose connections another thread can shut down: a thread blocked reading a watch (the
    server sends nothing while nothing changes) or a LIST then returns at once, which closing the connection
    from another thread does not do. Once interrupted, it makes no new connection, and a connection being made
    when it was interrupted (its socket did not exist yet) is closed as soon as it is made."""

    def __init__(self, access, user_agent=USER_AGENT):
        super(InterruptibleClient, self).__init__(access, user_agent=user_agent)
        self._made = weakref.WeakSet()
        self._made_lock = threading.Lock()
        self._interrupted = False

    def _new_connection(self, read_timeout):
        with self._made_lock:
            if self._interrupted:
                raise KubeError(CLUSTER_UNREACHABLE, "The event source is stopping; no new connection is made")
            connection = super(InterruptibleClient, self)._new_connection(read_timeout)
            self._made.add(connection)
        connect = connection.connect

        def connect_unless_interrupted():
            connect()  # http.client calls it when it sends; interrupt() cannot reach a socket not made yet
            with self._made_lock:
                interrupted = self._interrupted
            if interrupted:
                connection.close()
                raise ConnectionAbortedError("the event source is stopping; connection closed once made")
        connection.connect = connect_unless_interrupted
        return connection

    def interrupt(self):
        with self._made_lock:
            self._interrupted = True
            connections = list(self._made)
        for connection in connections:
            sock = connection.sock
            if sock is None:
                continue
            try:
                # socket.socket's own shutdown, also for a TLS socket: SSLSocket.shutdown would first drop its
                # TLS state under the thread that is reading
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # closed already


def client_for(options):
    """The client of one cluster's connection options (the seam the tests replace). KubeError when the
    kubeconfig or the options cannot be used."""
    connection = Connection.from_params(options, options.get("kubeconfig"), dict(os.environ))
    return InterruptibleClient(connection.api_access())


# --- one scope's LIST and WATCH, in a thread of its own -----------------------------------------------

class Stopped(Exception):
    """The source is stopping."""


class WatchLoop(object):
    """LIST a scope's release Secrets, then WATCH them from the list's resourceVersion, for ever: a watch the
    server ends or a connection that drops resumes from the last resourceVersion seen (an event's or a
    bookmark's), a 410 Gone lists again, and other errors are retried after a growing wait. Blocking: run in a
    thread. ``post(item)`` hands ("listed", scope, items) and ("observed", scope, type, object) to the loop."""

    def __init__(self, scope, client, post, stop, watch_seconds=None):
        self.scope = scope
        self.client = client
        self.post = post
        self.stop = stop
        self.watch_seconds = WATCH_SECONDS if watch_seconds is None else watch_seconds  # the server's timeoutSeconds

    def run(self):
        try:
            self._follow()
        except Stopped:
            pass

    def _follow(self):
        path = secrets_path(self.scope.namespace)
        # failures in a row, reset by the watch delivering or lasting its time: a LIST that works is no proof of
        # a watch that does; ``first`` until the scope's first request was answered (a permanent error then ends
        # the source, later it is retried)
        resource_version, failures, first = None, 0, True
        while not self.stop.is_set():
            try:
                if resource_version is None:
                    listing = self.client.list_metadata(path, label_selector=OWNER_SELECTOR, limit=0)
                    self.post(("listed", self.scope, listing.items))
                    resource_version = listing.resource_version
                first = False
                delivered, began = False, time.monotonic()
                # closed on the way out, stopping included: closing the generator closes its connection
                with contextlib.closing(self.client.watch(path, label_selector=OWNER_SELECTOR,
                                                          resource_version=resource_version, allow_bookmarks=True,
                                                          timeout_seconds=self.watch_seconds,
                                                          accept=METADATA_WATCH)) as events:
                    for event_type, item in events:
                        delivered, failures = True, 0
                        resource_version = (item.get("metadata") or {}).get("resourceVersion") or resource_version
                        if event_type != "BOOKMARK":
                            self.post(("observed", self.scope, event_type, item))
                        if self.stop.is_set():
                            return
                if delivered:
                    continue
                if time.monotonic() - began >= self.watch_seconds * WATCH_ENDED_SHARE:
                    failures = 0  # a quiet watch the server ended after its timeoutSeconds, as asked: at once
                else:  # ended early with nothing (a proxy cutting streams): not a loop of requests
                    failures += 1
                    self.stop.wait(retry_seconds(failures))
            except KubeError as error:
                if self.stop.is_set():
                    return
                action = after_error(error.kind, error.status, first)
                first = False
                if action == GIVE_UP:
                    raise KubeError(error.kind, "%s: %s" % (self.scope.describe(), error.message), status=error.status,
                                    reason=error.reason)
                if action == RELIST:
                    LOGGER.info("%s: the watch's resourceVersion is too old (410 Gone); listing again",
                                self.scope.describe())
                    resource_version = None
                    if failures == 0:  # at once; a 410 again before the watch delivered waits as any failure
                        failures = 1
                        continue
                failures += 1
                delay = retry_seconds(failures)
                LOGGER.warning("%s: %s (%s); retrying in %gs", self.scope.describe(), error.message, error.kind, delay)
                self.stop.wait(delay)


# --- the source -----------------------------------------------------------------------------------------

class HelmReleasesSource(object):
    """The watch loops of every scope, each in a thread, feeding one ReleaseEvents in the event loop, whose
    events go to ansible-rulebook's queue."""

    def __init__(self, settings, clusters, namespaces):
        self.tracker = ReleaseEvents(settings)
        self.clusters = clusters
        self.namespaces = namespaces
        self.stop = threading.Event()

    async def run(self, queue):
        loop = asyncio.get_running_loop()
        inbox = asyncio.Queue(INBOX_SIZE)
        clients, loops, getter = [], [], None
        try:
            for name, options in self.clusters:
                try:
                    clients.append((name, client_for(options)))
                except KubeError as error:
                    raise KubeError(error.kind, "cluster %s: %s" % (name, error.message))
            for name, client in clients:
                for namespace in self.namespaces or [None]:
                    watch = WatchLoop(Scope(name, namespace), client, self._poster(loop, inbox), self.stop)
                    loops.append(_in_thread(loop, watch.run, "helm_releases %s" % watch.scope.describe()))
            while True:
                getter = getter or asyncio.ensure_future(inbox.get())
                due = self.tracker.next_due()
                timeout = None if due is None else max(0.0, due - time.time())
                done, _waiting = await asyncio.wait([getter] + loops, timeout=timeout,
                                                    return_when=asyncio.FIRST_COMPLETED)
                for finished in loops:
                    if finished.done():
                        finished.result()  # a watch loop ends before the source only on an error no retry mends
                        raise RuntimeError("a watch loop of matih.helm.helm_releases ended without an error")
                if getter in done:
                    events = self._decide(getter.result())
                    getter = None
                else:
                    events = self.tracker.due(time.time())
                self._log_notes()
                for event in events:
                    await queue.put(event)
        finally:
            await self._stop([client for _name, client in clients], loops, getter)

    def _decide(self, item):
        if item[0] == "listed":
            return self.tracker.listed(item[1], item[2], time.time())
        return self.tracker.observed(item[1], item[2], item[3], time.time())

    def _log_notes(self):
        for note in self.tracker.take_notes():
            LOGGER.log(note.level, note.message)

    def _poster(self, loop, inbox):
        """``post(item)`` for a thread: waits while the inbox is full, and raises Stopped when the source stops."""
        def post(item):
            try:
                delivery = asyncio.run_coroutine_threadsafe(inbox.put(item), loop)
            except RuntimeError:  # the event loop is closed
                raise Stopped()
            while True:
                try:
                    delivery.result(POST_POLL_SECONDS)
                    return
                except concurrent.futures.TimeoutError:
                    if self.stop.is_set():
                        delivery.cancel()
                        raise Stopped()
                except concurrent.futures.CancelledError:
                    raise Stopped()
        return post

    async def _stop(self, clients, loops, getter):
        """Stop every watch loop: the flag, then their connections shut down, so that none stays blocked."""
        self.stop.set()
        if getter is not None:
            getter.cancel()
        for client in clients:
            client.interrupt()
        if loops:
            await asyncio.wait(loops, timeout=STOP_SECONDS)
        for finished in loops:
            if finished.done():
                finished.exception()  # retrieved: the error that stopped the source is raised already
        for client in clients:
            client.close()


def _in_thread(loop, function, name):
    """A future of ``function()`` run in a daemon thread of its own. Not asyncio.to_thread: its executor's
    threads are joined when the interpreter exits (one still connecting would hold ansible-rulebook's exit),
    and it has fewer threads than a source watching many namespaces needs."""
    future = loop.create_future()

    def settle(error):
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    def run():
        error = None
        try:
            function()
        except Exception as caught:  # handed to the event loop, which raises it
            error = caught
        try:
            loop.call_soon_threadsafe(settle, error)
        except RuntimeError:
            pass  # the event loop is closed: nobody waits for this thread any more
    threading.Thread(target=run, name=name, daemon=True).start()
    return future


async def main(queue, args):
    """ansible-rulebook's entry point: emit the release events of the clusters in ``args`` into ``queue``
    until cancelled. Raises ValueError for options that cannot work, KubeError for a cluster that cannot be
    watched (its connection options, or the rights to list Secrets)."""
    settings, clusters, namespaces = options_of(args)
    LOGGER.info("Watching the Helm releases of %s%s", ", ".join(name for name, _options in clusters),
                " in namespaces %s" % ", ".join(namespaces) if namespaces else "")
    await HelmReleasesSource(settings, clusters, namespaces).run(queue)


if __name__ == "__main__":
    # python helm_releases.py: print the events of the cluster of KUBECONFIG (or K8S_AUTH_*) until Ctrl-C
    class _PrintingQueue(object):
        async def put(self, event):
            print(event)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintingQueue(), {}))

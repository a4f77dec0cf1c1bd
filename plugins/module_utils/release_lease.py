# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One actor per release: a ``coordination.k8s.io/v1`` Lease per release, and the memory it carries.

Helm itself refuses a second writer only by the 409 on the next revision's Secret, once both have
done their work. Before a writing module touches a release it takes the release's Lease instead:
``matih-helm.<release>`` in the release's namespace, labelled ``app.kubernetes.io/managed-by:
matih.helm`` and ``matih.helm/release: <release>``. The rules are client-go's leader election's:

* absent: created with us as holder (a 409: another actor created it first);
* held by another holder whose ``renewTime + leaseDurationSeconds`` is still ahead: ``LeaseHeld``
  (kind ``locked``), naming the holder, since when, and when it expires;
* free (no holder) or expired: taken over by an update with the resourceVersion we read, so that of
  two actors taking it at once the API server lets one through and answers the other 409;
* while the operation runs, a daemon thread renews it every duration/3 (resourceVersion
  preconditions again); a renewal that finds another holder records it (``lost``) and stops;
* at the end it is released: the holder cleared, the object kept, since its annotation
  ``matih.helm/attempts`` holds the memory of recovery attempts (module_utils/attempts.py).

Expiry compares the other holder's renewTime with our clock, as the Lease API intends: controllers
whose clocks differ by more than the lease duration could take over a live lease (the loser then
finds out at its next renewal, ``lost``). Nothing secret is written: holder names and the memory.

It needs the RBAC rights get, create and update on leases.coordination.k8s.io in the release's
namespace. Any KubeError but the 409s above reaches the caller unchanged, to classify
(cluster_unreachable and throttled are transient).

Public API::

    ATTEMPTS_ANNOTATION, lease_name(release) -> str, holder_identity(environ=None) -> str
    lease_client(store, needed_by) -> KubeClient        lease_error(error, namespace) -> KubeError
    LeaseHeld(KubeError)        kind errors.LOCKED; .holder, .acquire_time, .renew_time, .expires_at;
                                LeaseHeld.of(state, release, namespace, now=None)
    LeaseState                  holder, acquire_time, renew_time, duration_seconds, resource_version,
                                transitions, memory; alive(now), last_renewal, expires_at
    ReleaseLease(client, release, namespace, holder=None, duration_seconds=60, clock=time.time,
                 renew_interval=None)
        read() -> Optional[LeaseState]          acquire() -> LeaseState; .previous: the Lease it found
        start_renewing(), stop_renewing(), renew() -> bool, lost -> Optional[str], last_error, renewals
        record(memory) -> bool                  release(memory=<the lease's memory>) -> bool
        held() -> context manager of acquire, renewing, release; .memory is what release writes
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import getpass
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Union

from ansible_collections.matih.helm.plugins.module_utils.attempts import Memory, memory_from_annotation, parse_time
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, API_ERROR, CLUSTER_UNREACHABLE, CONFLICT, LOCKED, NOT_FOUND, THROTTLED, UNSUPPORTED_KUBECONFIG,
    KubeError,
)
from ansible_collections.matih.helm.plugins.module_utils.kube_client import KubeClient
from ansible_collections.matih.helm.plugins.module_utils.kube_types import collection_path, object_path, without_userinfo

LEASE_API_VERSION = "coordination.k8s.io/v1"
NAME_PREFIX = "matih-helm."
MANAGED_BY_LABEL, MANAGED_BY = "app.kubernetes.io/managed-by", "matih.helm"
RELEASE_LABEL = "matih.helm/release"
ATTEMPTS_ANNOTATION = "matih.helm/attempts"
DEFAULT_DURATION = 60
# A renewal every third of the duration leaves two more chances before the lease expires.
RENEWALS_PER_DURATION = 3
# How often release() tries through an unreachable or throttling API server, and the pause between tries.
RELEASE_TRIES, RELEASE_RETRY_PAUSE = 10, 1.0
_KEEP = object()  # release() without a memory: write the lease's own


class LeaseHeld(KubeError):
    """The release's Lease is held by another live holder: the run is deferred (kind ``locked``)."""

    def __init__(self, message: str, holder: str = "", acquire_time: Optional[datetime.datetime] = None,
                 renew_time: Optional[datetime.datetime] = None, expires_at: Optional[datetime.datetime] = None):
        # no status: no API request failed, a lease is held (a 409 may have told us, or the lease itself)
        super(LeaseHeld, self).__init__(LOCKED, message)
        self.holder = holder
        self.acquire_time = acquire_time
        self.renew_time = renew_time
        self.expires_at = expires_at

    @classmethod
    def of(cls, state: "LeaseState", release: str, namespace: str,
           now: Union[None, float, datetime.datetime] = None) -> "LeaseHeld":
        """The error for ``state``, a Lease another holder holds: who, since when, when it expires, what to do."""
        expires = state.expires_at
        left = (expires - _moment(time.time() if now is None else now)).total_seconds() if expires is not None else 0.0
        name = lease_name(release)
        message = ("Another matih.helm actor works on release %s/%s: %s holds its lease %s since %s (renewed %s; it "
                   "expires at %s, in %ds, unless renewed). This run is deferred: run it again once that actor is done. "
                   "If it is gone (killed), the lease expires on its own; to free it sooner, clear its holder "
                   "(kubectl -n %s patch lease %s --type merge -p '{\"spec\":{\"holderIdentity\":null}}'), which "
                   "keeps the memory of recovery attempts" % (
                       namespace, release, _quoted(state.holder), name, _when(state.acquire_time),
                       _when(state.renew_time), _when(expires), max(int(left), 0), namespace, name))
        return cls(message, state.holder, state.acquire_time, state.renew_time, expires)


@dataclass(frozen=True)
class LeaseState:
    """A Lease as read: ``holder`` is "" when free; times are aware UTC datetimes (None when unset)."""

    holder: str
    acquire_time: Optional[datetime.datetime]
    renew_time: Optional[datetime.datetime]
    duration_seconds: int
    resource_version: str
    transitions: int
    memory: Optional[Memory]

    @classmethod
    def from_object(cls, lease: Dict[str, Any]) -> "LeaseState":
        """The state of a Lease object as the API returns it; fields of the wrong type count as unset."""
        spec = lease.get("spec") if isinstance(lease.get("spec"), dict) else {}
        metadata = lease.get("metadata") if isinstance(lease.get("metadata"), dict) else {}
        annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
        holder = spec.get("holderIdentity")
        duration = spec.get("leaseDurationSeconds")
        transitions = spec.get("leaseTransitions")
        return cls(holder if isinstance(holder, str) else "", parse_time(spec.get("acquireTime")),
                   parse_time(spec.get("renewTime")), duration if _is_int(duration) else 0,
                   str(metadata.get("resourceVersion") or ""), transitions if _is_int(transitions) else 0,
                   memory_from_annotation(annotations.get(ATTEMPTS_ANNOTATION)))

    @property
    def last_renewal(self) -> Optional[datetime.datetime]:
        """When a holder last said it was alive (renewTime, else acquireTime)."""
        return self.renew_time or self.acquire_time

    @property
    def expires_at(self) -> Optional[datetime.datetime]:
        last = self.last_renewal
        return last + datetime.timedelta(seconds=self.duration_seconds) if last is not None else None

    def alive(self, now: Union[float, datetime.datetime]) -> bool:
        """Whether a holder holds it at ``now`` (epoch seconds, or an aware datetime)."""
        expires = self.expires_at
        return bool(self.holder) and expires is not None and expires > _moment(now)


class ReleaseLease(object):
    """The Lease of ``release`` in ``namespace``, taken as ``holder`` (holder_identity() by default) for
    ``duration_seconds`` at a time, renewed every ``renew_interval`` seconds (default: a third of the
    duration). ``clock`` gives epoch seconds (tests pass their own).

    Not reentrant: one acquire() (or held()) per object. ``memory`` is the memory release() writes
    by default: the lease's own once acquired, until the caller sets another."""

    def __init__(self, client: KubeClient, release: str, namespace: str, holder: Optional[str] = None,
                 duration_seconds: int = DEFAULT_DURATION, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 renew_interval: Optional[float] = None):
        if int(duration_seconds) < 1:
            raise ValueError("a lease lasts at least 1 second, not %r" % duration_seconds)
        self.client = client
        self.release_name = release
        self.namespace = namespace
        self.name = lease_name(release)
        self.holder = holder or holder_identity()
        self.duration_seconds = int(duration_seconds)
        self.clock = clock
        self.sleep = sleep
        self.renew_interval = float(renew_interval or float(self.duration_seconds) / RENEWALS_PER_DURATION)
        self.path = object_path(LEASE_API_VERSION, "leases", namespace, self.name)
        self.collection = collection_path(LEASE_API_VERSION, "leases", namespace)
        self.memory: Optional[Memory] = None
        # The Lease as acquire() found it (None: there was none): who held it before us and when they
        # were last alive, which the pending-release check needs after our takeover has overwritten it.
        self.previous: Optional[LeaseState] = None
        self.renewals = 0
        self.renewed_at: Optional[float] = None  # clock() of our last successful write: how long the Lease stays ours
        self.last_error: Optional[KubeError] = None  # the last renewal or release that failed
        self._object: Optional[Dict[str, Any]] = None  # the Lease as we last wrote it, while we hold it
        self._lost: Optional[str] = None
        # One write at a time from this object: the renewal thread and the caller would otherwise
        # send the same resourceVersion and conflict with each other.
        self._write_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # --- reading and taking ---------------------------------------------------------------------

    def read(self) -> Optional[LeaseState]:
        """The Lease as it is now (one GET); None when there is none."""
        lease = self._get()
        return LeaseState.from_object(lease) if lease is not None else None

    def acquire(self, _retried: bool = False) -> LeaseState:
        """Take the Lease: create it, or take over a free or expired one. LeaseHeld when another live
        holder has it, or when another actor took it in the same moment (409)."""
        lease = self._get()
        now = self.clock()
        self.previous = LeaseState.from_object(lease) if lease is not None else None
        if lease is None:
            body = {"apiVersion": LEASE_API_VERSION, "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace, "labels": self._labels()},
                    "spec": self._spec(now, now, 0)}
            try:
                written = self.client.create(self.collection, body)
            except KubeError as error:
                if error.kind == CONFLICT:
                    raise self._held_by_winner()
                raise
        else:
            state = LeaseState.from_object(lease)
            if state.holder != self.holder and state.alive(now):
                raise LeaseHeld.of(state, self.release_name, self.namespace, now)
            # A new holder is a transition, as client-go counts them; our own (a holder name reused) is not.
            transitions = state.transitions + (0 if state.holder == self.holder else 1)
            body = _writable(lease)
            body["metadata"].setdefault("labels", {}).update(self._labels())
            body["spec"] = dict(body.get("spec") or {}, **self._spec(now, now, transitions))
            try:
                written = self.client.update(self.path, body)  # the read resourceVersion: the precondition
            except KubeError as error:
                if error.kind == CONFLICT:
                    raise self._held_by_winner()
                if error.kind == NOT_FOUND and not _retried:
                    return self.acquire(_retried=True)  # deleted since the GET (a discard): create it
                raise
        with self._write_lock:
            self._object = _writable(written)
            self._lost = None
            self.renewed_at = now
        state = LeaseState.from_object(written)
        self.memory = state.memory
        return state

    def still_ours_for(self) -> Optional[float]:
        """Seconds the Lease stays ours without another renewal (negative: it may be taken over now); None
        when it is not held."""
        if self.renewed_at is None or self._object is None:
            return None
        return self.renewed_at + self.duration_seconds - self.clock()

    def take(self, check_mode: bool) -> Optional[LeaseState]:
        """What a writing task does first: acquire() the Lease, or in check mode only read it, when a live
        holder raises LeaseHeld as well. The Lease as it is then (None: there is none, in check mode);
        KubeError as acquire() and read() raise it."""
        if not check_mode:
            return self.acquire()
        state = self.read()
        now = self.clock()
        if state is not None and state.alive(now):
            raise LeaseHeld.of(state, self.release_name, self.namespace, now)
        return state

    def finish(self, memory: Any = _KEEP, discard: bool = False) -> str:
        """What a writing task does last: discard() the Lease (made for a release that does not exist) or
        release() it with ``memory``. The warning for the task, or "" when the Lease was ours to the end and
        is free again."""
        done = self.discard() if discard else self.release(memory)
        if self.lost:
            return ("The release's lease was lost while this task ran (%s): another actor may have worked on the "
                    "release meanwhile." % self.lost)
        if not done:
            return "The release's lease %s/%s could not be released%s; it expires by itself within %d seconds%s." % (
                self.namespace, self.name, ": %s" % self.last_error.message if self.last_error else "",
                self.duration_seconds, "" if memory is _KEEP else ", and the memory of this run is not recorded")
        return ""

    @property
    def lost(self) -> Optional[str]:
        """Why the Lease is no longer ours (another holder took it, or it was deleted), else None."""
        return self._lost

    # --- renewing -------------------------------------------------------------------------------

    def renew(self) -> bool:
        """Move renewTime to now. False when the Lease is not held or was lost (``lost`` says why);
        a KubeError for a failure that may pass (kept in ``last_error`` by the renewal thread)."""
        return self._write(lambda spec, metadata: spec.update(renewTime=micro_time(self.clock())))

    def start_renewing(self) -> None:
        """Renew every ``renew_interval`` on a daemon thread until stop_renewing(), release() or the Lease is lost."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="lease " + self.name, daemon=True)
        self._thread.start()

    def stop_renewing(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_interval):
            try:
                if not self.renew():
                    return  # lost, or released meanwhile: nothing left to renew
                self.renewals += 1
            except KubeError as error:
                # unreachable, throttled, a 5xx: try again at the next tick, with time to spare
                self.last_error = error
            except Exception as error:  # pylint: disable=broad-exception-caught  # a thread must not die silently
                self.last_error = KubeError(API_ERROR, "renewing the lease %s/%s failed: %s" % (
                    self.namespace, self.name, error))

    # --- the memory and the end -------------------------------------------------------------------

    def record(self, memory: Optional[Memory]) -> bool:
        """Write ``memory`` into the Lease now, while holding it (a process killed later keeps it).
        False when the Lease is not ours any more; a KubeError reaches the caller."""
        self.memory = memory
        return self._write(lambda spec, metadata: _set_memory(metadata, memory))

    def release(self, memory: Any = _KEEP) -> bool:
        """Stop renewing, clear the holder and write ``memory`` (default: ``self.memory``; None removes
        the annotation). The object stays: it carries the memory. Tries RELEASE_TRIES times, a second
        apart, through an unreachable or throttling API server. Never raises for the API: False (and
        ``last_error`` or ``lost``) when the Lease was lost or could not be written; it then expires on
        its own."""
        if memory is not _KEEP:
            self.memory = memory
        self.stop_renewing()
        chosen = self.memory

        def freed(spec, metadata):
            spec.pop("holderIdentity", None)
            spec["renewTime"] = micro_time(self.clock())  # when an actor was last here
            _set_memory(metadata, chosen)
        written = False
        for tried in range(1, RELEASE_TRIES + 1):
            try:
                written = self._write(freed)
                break
            except KubeError as error:
                self.last_error = error
                # a short outage (an API server restarting) must not leave the release locked for a minute
                if error.kind not in (CLUSTER_UNREACHABLE, THROTTLED, API_ERROR) or tried == RELEASE_TRIES:
                    break
                self.sleep(RELEASE_RETRY_PAUSE)
        with self._write_lock:
            self._object = None
        return written

    def discard(self) -> bool:
        """Stop renewing and delete the Lease we hold (on the resourceVersion we last wrote), for a release
        that turned out not to exist: a Lease made for a mistyped name must not stay behind. Never raises
        for the API: when it cannot be deleted (no ``delete`` right, say) it is released instead."""
        self.stop_renewing()
        with self._write_lock:
            lease = self._object
        if lease is None:
            return False
        try:
            self.client.delete(self.path, resource_version=str((lease.get("metadata") or {}).get("resourceVersion") or ""))
        except KubeError as error:
            # no right to delete (only get, create and update are needed), or it changed: free it instead
            self.last_error = error
            return self.release(None)
        with self._write_lock:
            self._object = None
        return True

    @contextlib.contextmanager
    def held(self) -> Iterator[LeaseState]:
        """acquire(), renew while the block runs, and release() with ``self.memory`` however it ends."""
        state = self.acquire()
        self.start_renewing()
        try:
            yield state
        finally:
            self.release()

    # --- requests -------------------------------------------------------------------------------

    def _get(self) -> Optional[Dict[str, Any]]:
        try:
            lease = self.client.get(self.path)
        except KubeError as error:
            if error.kind == NOT_FOUND:
                return None
            raise
        return lease if isinstance(lease, dict) else None

    def _write(self, change: Callable[[Dict[str, Any], Dict[str, Any]], Any]) -> bool:
        """Update the Lease we hold with ``change(spec, metadata)`` applied, on the resourceVersion we
        last wrote. On a 409 it reads again: still ours (someone edited a label, say), it writes once
        more on the new version; another holder's or gone, the Lease is lost."""
        with self._write_lock:
            for _try in range(2):
                if self._object is None or self._lost:
                    return False
                body = _writable(self._object)
                spec = body.setdefault("spec", {})
                change(spec, body["metadata"])
                try:
                    written = self.client.update(self.path, body)
                except KubeError as error:
                    if error.kind not in (CONFLICT, NOT_FOUND):
                        raise
                    current = self._get() if error.kind == CONFLICT else None
                    if current is None:
                        self._lose("the lease %s/%s was deleted" % (self.namespace, self.name))
                        return False
                    state = LeaseState.from_object(current)
                    if state.holder != self.holder:
                        self._lose("the lease %s/%s was taken by %s" % (
                            self.namespace, self.name, _quoted(state.holder) if state.holder else "nobody (freed)"))
                        return False
                    self._object = _writable(current)
                    continue
                self._object = _writable(written)
                self.renewed_at = self.clock()
                return True
            return False

    def _lose(self, why: str) -> None:
        self._lost = why
        self._object = None
        self._stop.set()

    # --- what is written and said ---------------------------------------------------------------

    def _labels(self) -> Dict[str, str]:
        return {MANAGED_BY_LABEL: MANAGED_BY, RELEASE_LABEL: self.release_name}

    def _spec(self, acquired: float, renewed: float, transitions: int) -> Dict[str, Any]:
        return {"holderIdentity": self.holder, "leaseDurationSeconds": self.duration_seconds,
                "acquireTime": micro_time(acquired), "renewTime": micro_time(renewed),
                "leaseTransitions": transitions}

    def _held_by_winner(self) -> LeaseHeld:
        """After a 409: the actor that got there first, read again."""
        try:
            lease = self._get()
        except KubeError:
            lease = None
        now = self.clock()
        state = LeaseState.from_object(lease) if lease is not None else None
        if state is not None and state.holder and state.holder != self.holder:
            return LeaseHeld.of(state, self.release_name, self.namespace, now)
        return LeaseHeld("Another matih.helm actor took the lease %s/%s of release %s at the same moment as this one "
                         "(%s); this run is deferred: run it again later" % (
                             self.namespace, self.name, self.release_name,
                             "it is free again already" if state is not None else "it is gone again"))


# --- names and times --------------------------------------------------------------------------------

def lease_client(store: Any, needed_by: str) -> KubeClient:
    """The API client a module takes the lease with: its release store's (``store.client``), one client
    per task. KubeError unsupported_kubeconfig, naming ``needed_by`` (the module), when matih.helm's
    client cannot reproduce the connection (connection.py's ``api_problem``: an auth-provider...):
    the lease has no other way to the API server than ours, and Helm cannot take it."""
    problem = store.connection.api_problem
    if problem:
        raise KubeError(UNSUPPORTED_KUBECONFIG, "%s takes the release's lease (coordination.k8s.io/v1) through "
                        "matih.helm's own API client, which cannot connect as this kubeconfig says: %s" % (
                            needed_by, problem))
    return store.client


def lease_error(error: KubeError, namespace: str) -> KubeError:
    """The error a task fails with when the lease could not be read or taken: LeaseHeld and transient
    errors as they are; a denial or a 404 with what the lease needs said, the kind and status kept."""
    if isinstance(error, LeaseHeld):
        return error
    if error.kind == ACCESS_DENIED:
        hint = ("it takes the release's lease first, which needs get, create and update on "
                "leases.coordination.k8s.io in namespace %s (see the module's notes)" % namespace)
    elif error.kind == NOT_FOUND:
        hint = ("the release's lease lives in the release namespace %s: check that it exists, and that the API "
                "server serves coordination.k8s.io/v1" % namespace)
    else:
        return error
    return KubeError(error.kind, "%s; %s" % (error.message, hint), status=error.status, reason=error.reason,
                     server_message=error.server_message)


def lease_name(release: str) -> str:
    """The Lease's name: a DNS subdomain, as Helm's release names (at most 53 characters) are."""
    return NAME_PREFIX + release


def holder_identity(environ: Optional[Dict[str, str]] = None) -> str:
    """Who holds a lease, for an operator to read: ``user@host pid N``, the AWX job when there is one
    (AWX sets JOB_ID and AWX_HOST for its jobs), and a random suffix so that two processes with the
    same pid on one host name (containers) still differ."""
    environ = os.environ if environ is None else environ
    try:
        user = getpass.getuser()
    except Exception:  # pylint: disable=broad-exception-caught  # no passwd entry in a container: KeyError, OSError
        user = "uid %d" % os.getuid()
    identity = "%s@%s pid %d" % (user, socket.gethostname() or "localhost", os.getpid())
    job = environ.get("JOB_ID", "").strip()
    if job:
        host = without_userinfo(environ.get("AWX_HOST", "").strip())
        identity += " AWX job %s%s" % (job, " on " + host if host else "")
    return "%s #%s" % (identity, secrets.token_hex(3))


def micro_time(epoch_seconds: float) -> str:
    """A MicroTime as the API wants it: ``2026-12-06T22:00:00.000000Z`` (always six digits)."""
    return datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(now: Union[float, datetime.datetime]) -> datetime.datetime:
    if isinstance(now, datetime.datetime):
        return now if now.tzinfo is not None else now.replace(tzinfo=datetime.timezone.utc)
    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc)


def _when(moment: Optional[datetime.datetime]) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "an unknown time"


def _quoted(holder: str) -> str:
    return '"%s"' % holder


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _writable(lease: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a Lease to send back in an update: its resourceVersion (the precondition) kept,
    managedFields left out (the server keeps them; sending them back would only grow the request)."""
    body = copy.deepcopy(lease)
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    metadata.pop("managedFields", None)
    body["metadata"] = metadata
    return body


def _set_memory(metadata: Dict[str, Any], memory: Optional[Memory]) -> None:
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    if memory is None:
        annotations.pop(ATTEMPTS_ANNOTATION, None)
    else:
        annotations[ATTEMPTS_ANNOTATION] = memory.to_annotation()
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)  # a PUT without annotations removes them, as it should

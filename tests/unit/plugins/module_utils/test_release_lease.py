# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release's Lease against a scripted API on 127.0.0.1: taking it (created, held, expired, free,
a race lost with a 409), renewing it on a thread, losing it, and releasing it with the memory."""

from __future__ import annotations

import copy
import datetime
import json
import re
import time

import pytest

from ansible_collections.matih.helm.plugins.module_utils.attempts import Memory
from ansible_collections.matih.helm.plugins.module_utils.errors import KubeError, TaskError
from ansible_collections.matih.helm.plugins.module_utils.kube_client import error_for
from ansible_collections.matih.helm.plugins.module_utils.kube_client import KubeClient
from ansible_collections.matih.helm.plugins.module_utils.release_lease import (
    ATTEMPTS_ANNOTATION, LOCKED, LeaseHeld, LeaseState, ReleaseLease, holder_identity, lease_client, lease_error,
    RELEASE_TRIES, lease_name, micro_time,
)
from ansible_collections.matih.helm.tests.unit.plugins.module_utils.stand_ins import (
    NOT_FOUND_STATUS, Asked, StandInAccess, StandInConnection, scripted_api,
)

LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"
LEASE = LEASES + "/matih-helm.web"
T0 = 1796594400.0  # 2026-12-06T22:00:00Z
AT_T0 = "2026-12-06T22:00:00.000000Z"
MEMORY = Memory(7, 2, "2026-12-06T21:30:00Z", "failed", "rollback to revision 5 failed")
CONFLICT_STATUS = {"kind": "Status", "code": 409, "reason": "Conflict", "message": (
    'Operation cannot be fulfilled on leases.coordination.k8s.io "matih-helm.web": the object has been modified; '
    'please apply your changes to the latest version and try again')}
EXISTS_STATUS = {"kind": "Status", "code": 409, "reason": "AlreadyExists",
                 "message": 'leases.coordination.k8s.io "matih-helm.web" already exists'}
UNAVAILABLE_STATUS = {"kind": "Status", "code": 503, "reason": "ServiceUnavailable", "message": "etcd is down"}


def stamp(offset):
    """The MicroTime ``offset`` seconds after T0."""
    return micro_time(T0 + offset)


def lease_object(holder="them", renewed=-10.0, duration=60, version="100", transitions=2, memory=None):
    spec = {"leaseDurationSeconds": duration, "acquireTime": stamp(-300), "renewTime": stamp(renewed),
            "leaseTransitions": transitions}
    if holder:
        spec["holderIdentity"] = holder
    metadata = {"name": "matih-helm.web", "namespace": "shop", "resourceVersion": version, "uid": "u-1",
                "labels": {"app.kubernetes.io/managed-by": "matih.helm", "matih.helm/release": "web"},
                "managedFields": [{"manager": "matih.helm", "operation": "Update"}]}
    if memory is not None:
        metadata["annotations"] = {ATTEMPTS_ANNOTATION: memory.to_annotation(), "team": "shop"}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


class Clock(object):
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


class LeaseServer(object):
    """The Lease as the API server keeps it: every write bumps the resourceVersion, a PUT on another
    version is a 409 Conflict, a POST of an existing name a 409 AlreadyExists. ``faults`` are
    (method, status body) answered, in turn, before the store sees the request."""

    def __init__(self, api, lease=None):
        self.api = api
        self.lease = copy.deepcopy(lease)
        self.version = int(lease["metadata"]["resourceVersion"]) if lease else 100
        self.faults = []
        api.routes[("GET", LEASE)] = self.get
        api.routes[("PUT", LEASE)] = self.put
        api.routes[("POST", LEASES)] = self.create
        api.routes[("DELETE", LEASE)] = self.delete

    def _fault(self, method):
        for index, (fault_method, status) in enumerate(self.faults):
            if fault_method == method:
                del self.faults[index]
                return status["code"], status
        return None

    def _stored(self, body):
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.lease = body
        return 200, copy.deepcopy(body)

    def get(self, _seen):
        fault = self._fault("GET")
        if fault:
            return fault
        return (200, copy.deepcopy(self.lease)) if self.lease else (404, NOT_FOUND_STATUS)

    def put(self, seen):
        fault = self._fault("PUT")
        if fault:
            return fault
        body = json.loads(seen.body)
        if self.lease is None:
            return 404, NOT_FOUND_STATUS
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            return 409, CONFLICT_STATUS
        return self._stored(body)

    def create(self, seen):
        fault = self._fault("POST")
        if fault:
            return fault
        if self.lease is not None:
            return 409, EXISTS_STATUS
        return self._stored(json.loads(seen.body))

    def delete(self, seen):
        fault = self._fault("DELETE")
        if fault:
            return fault
        if self.lease is None:
            return 404, NOT_FOUND_STATUS
        wanted = (json.loads(seen.body or "{}").get("preconditions") or {}).get("resourceVersion")
        if wanted and wanted != self.lease["metadata"]["resourceVersion"]:
            return 409, CONFLICT_STATUS
        self.lease = None
        return 200, {"kind": "Status", "status": "Success"}

    def edit(self, change):
        """Someone else updates the Lease: ``change(lease)`` applied, a new resourceVersion (between requests)."""
        with self.api.lock:
            lease = copy.deepcopy(self.lease)
            change(lease)
            self._stored(lease)

    def taken_by(self, holder):
        """Another actor takes the lease over."""
        self.edit(lambda lease: lease["spec"].update(holderIdentity=holder))


@pytest.fixture
def api():
    with scripted_api() as scripted:
        yield scripted


@pytest.fixture
def client(api):
    with KubeClient(StandInAccess(api.url), timeout=(2, 5)) as kube:
        yield kube


def bodies(api, method):
    return [json.loads(seen.body) for seen in api.seen if seen.method == method]


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- taking the lease ----------------------------------------------------------------------------------

def test_an_absent_lease_is_created(api, client):
    LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    state = lease.acquire()
    assert api.asked == [Asked("GET", LEASE, {}), Asked("POST", LEASES, {})]
    assert bodies(api, "POST") == [{
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "matih-helm.web", "namespace": "shop",
                     "labels": {"app.kubernetes.io/managed-by": "matih.helm", "matih.helm/release": "web"}},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 60, "acquireTime": AT_T0, "renewTime": AT_T0,
                 "leaseTransitions": 0}}]
    assert (state.holder, state.duration_seconds, state.transitions, state.memory) == ("me", 60, 0, None)
    assert lease.previous is None
    assert state.alive(T0 + 59) and not state.alive(T0 + 60)


def test_read_is_one_get_and_none_when_absent(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me")
    assert lease.read() is None
    server.lease = lease_object(memory=MEMORY)
    state = lease.read()
    assert len(api.asked) == 2 and {asked.method for asked in api.asked} == {"GET"}
    assert (state.holder, state.resource_version, state.memory, state.transitions) == ("them", "100", MEMORY, 2)
    assert state.last_renewal == datetime.datetime(2026, 12, 6, 21, 59, 50, tzinfo=datetime.timezone.utc)


def test_a_live_holder_keeps_it_and_is_named(api, client):
    LeaseServer(api, lease_object(holder="alice@ctl-1 pid 42 #a1b2c3", renewed=-10))
    with pytest.raises(LeaseHeld) as raised:
        ReleaseLease(client, "web", "shop", holder="me", clock=Clock()).acquire()
    error = raised.value
    assert isinstance(error, KubeError) and isinstance(error, TaskError)
    assert (error.kind, error.error_kind, error.holder) == (LOCKED, "locked", "alice@ctl-1 pid 42 #a1b2c3")
    assert error.fail_kwargs() == {"msg": error.message, "error_kind": "locked"}
    assert '"alice@ctl-1 pid 42 #a1b2c3" holds its lease matih-helm.web since 2026-12-06T21:55:00Z' in error.message
    assert "renewed 2026-12-06T21:59:50Z; it expires at 2026-12-06T22:00:50Z, in 50s" in error.message
    assert "kubectl -n shop patch lease matih-helm.web" in error.message
    assert [asked.method for asked in api.asked] == ["GET"]  # nothing written


@pytest.mark.parametrize("case, holder, renewed, transitions", [
    ("expired", "them", -61, 3),
    ("expired to the second", "them", -60, 3),
    ("free", "", -5, 3),
    ("ours already (a holder name reused)", "me", -5, 2),
])
def test_an_expired_or_free_lease_is_taken_over_on_its_resource_version(api, client, case, holder, renewed, transitions):
    server = LeaseServer(api, lease_object(holder=holder, renewed=renewed, memory=MEMORY))
    lease = ReleaseLease(client, "web", "shop", holder="me", duration_seconds=30, clock=Clock())
    state = lease.acquire()
    (sent,) = bodies(api, "PUT")
    assert sent["metadata"]["resourceVersion"] == "100", case  # the precondition: the version we read
    assert "managedFields" not in sent["metadata"]
    assert sent["metadata"]["annotations"] == {ATTEMPTS_ANNOTATION: MEMORY.to_annotation(), "team": "shop"}
    assert sent["spec"] == {"holderIdentity": "me", "leaseDurationSeconds": 30, "acquireTime": AT_T0,
                            "renewTime": AT_T0, "leaseTransitions": transitions}
    assert (state.holder, state.resource_version, state.memory, lease.memory) == ("me", "101", MEMORY, MEMORY)
    assert server.lease["spec"]["holderIdentity"] == "me"
    # who had it before, and when they were last alive: the takeover overwrote both
    assert (lease.previous.holder, lease.previous.last_renewal) == (holder, LeaseState.from_object(
        lease_object(renewed=renewed)).renew_time)


def test_a_lost_create_race_names_the_winner(api, client):
    api.routes[("GET", LEASE)] = [(404, NOT_FOUND_STATUS), (200, lease_object(holder="winner", renewed=0))]
    api.routes[("POST", LEASES)] = (409, EXISTS_STATUS)
    with pytest.raises(LeaseHeld) as raised:
        ReleaseLease(client, "web", "shop", holder="me", clock=Clock()).acquire()
    assert raised.value.holder == "winner" and '"winner" holds its lease' in raised.value.message
    assert [asked.method for asked in api.asked] == ["GET", "POST", "GET"]


def test_a_lost_takeover_race_names_the_winner(api, client):
    api.routes[("GET", LEASE)] = [(200, lease_object(holder="them", renewed=-120)),
                                  (200, lease_object(holder="winner", renewed=0, version="101"))]
    api.routes[("PUT", LEASE)] = (409, CONFLICT_STATUS)
    with pytest.raises(LeaseHeld) as raised:
        ReleaseLease(client, "web", "shop", holder="me", clock=Clock()).acquire()
    assert raised.value.holder == "winner"
    assert [asked.method for asked in api.asked] == ["GET", "PUT", "GET"]


def test_a_race_whose_winner_is_gone_again_is_still_deferred(api, client):
    api.routes[("GET", LEASE)] = [(404, NOT_FOUND_STATUS), (404, NOT_FOUND_STATUS)]
    api.routes[("POST", LEASES)] = (409, EXISTS_STATUS)
    with pytest.raises(LeaseHeld) as raised:
        ReleaseLease(client, "web", "shop", holder="me", clock=Clock()).acquire()
    assert raised.value.kind == LOCKED and "at the same moment" in raised.value.message


@pytest.mark.parametrize("route, status, kind", [
    (("GET", LEASE), {"kind": "Status", "code": 403, "reason": "Forbidden", "message": (
        'leases.coordination.k8s.io "matih-helm.web" is forbidden: User "ci" cannot get resource "leases" in API '
        'group "coordination.k8s.io" in the namespace "shop"')}, "access_denied"),
    (("POST", LEASES), UNAVAILABLE_STATUS, "cluster_unreachable"),
    (("POST", LEASES), {"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "slow down"}, "throttled"),
])
def test_other_api_errors_reach_the_caller_unchanged(api, client, route, status, kind):
    api.routes[("GET", LEASE)] = (404, NOT_FOUND_STATUS)
    api.routes[route] = (status["code"], status)
    with pytest.raises(KubeError) as raised:
        ReleaseLease(client, "web", "shop", holder="me", clock=Clock()).acquire()
    assert not isinstance(raised.value, LeaseHeld)
    assert raised.value.kind == kind
    if kind == "access_denied":
        assert "get leases.coordination.k8s.io in namespace shop" in raised.value.message


# --- releasing and the memory ----------------------------------------------------------------------------

def test_release_clears_the_holder_and_keeps_the_object_with_the_memory(api, client):
    server = LeaseServer(api)
    clock = Clock()
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=clock)
    lease.acquire()
    clock.now += 42
    assert lease.release(MEMORY) is True
    sent = bodies(api, "PUT")[-1]
    assert "holderIdentity" not in sent["spec"] and sent["spec"]["renewTime"] == stamp(42)
    assert sent["metadata"]["resourceVersion"] == "101"
    stored = LeaseState.from_object(server.lease)
    assert (stored.holder, stored.memory, stored.alive(clock.now)) == ("", MEMORY, False)
    assert server.lease["metadata"]["labels"]["matih.helm/release"] == "web"

    # the next run takes it and finds the memory; a release with None forgets it
    second = ReleaseLease(client, "web", "shop", holder="next", clock=clock)
    assert second.acquire().memory == MEMORY and second.memory == MEMORY
    assert second.release(None) is True
    assert "annotations" not in server.lease["metadata"]
    assert LeaseState.from_object(server.lease).transitions == 1


def test_release_without_a_memory_writes_the_leases_own(api, client):
    server = LeaseServer(api, lease_object(holder="", memory=MEMORY))
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    assert lease.release() is True
    assert LeaseState.from_object(server.lease).memory == MEMORY
    assert server.lease["metadata"]["annotations"]["team"] == "shop"  # other annotations untouched


def test_record_writes_the_memory_while_holding(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    assert lease.record(MEMORY) is True
    stored = LeaseState.from_object(server.lease)
    assert (stored.holder, stored.memory) == ("me", MEMORY)
    assert lease.release() is True
    assert LeaseState.from_object(server.lease).memory == MEMORY


def test_a_release_after_another_took_over_writes_nothing(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    server.taken_by("thief")
    assert lease.release(MEMORY) is False
    assert lease.lost == 'the lease shop/matih-helm.web was taken by "thief"'
    assert (server.lease["spec"]["holderIdentity"], server.lease["metadata"].get("annotations")) == ("thief", None)
    assert lease.record(MEMORY) is False


def test_a_release_the_api_refuses_is_not_fatal(api, client):
    server = LeaseServer(api)
    pauses = []
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock(), sleep=pauses.append)
    lease.acquire()
    server.faults += [("PUT", UNAVAILABLE_STATUS)] * RELEASE_TRIES
    assert lease.release(MEMORY) is False
    assert lease.last_error.kind == "cluster_unreachable" and lease.lost is None
    assert pauses == [1.0] * (RELEASE_TRIES - 1)


def test_a_release_tries_again_through_a_short_outage(api, client):
    server = LeaseServer(api)
    pauses = []
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock(), sleep=pauses.append)
    lease.acquire()
    server.faults += [("PUT", UNAVAILABLE_STATUS)] * 2  # an API server restarting
    assert lease.release(MEMORY) is True and pauses == [1.0, 1.0]
    assert LeaseState.from_object(server.lease).holder == "" and LeaseState.from_object(server.lease).memory == MEMORY


def test_held_releases_however_the_block_ends(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock(), renew_interval=0.02)
    with pytest.raises(RuntimeError):
        with lease.held() as state:
            assert state.holder == "me"
            lease.memory = MEMORY
            raise RuntimeError("the recovery broke")
    stored = LeaseState.from_object(server.lease)
    assert (stored.holder, stored.memory) == ("", MEMORY)
    assert lease._thread is None  # pylint: disable=protected-access


# --- renewing --------------------------------------------------------------------------------------------

def test_renewals_move_renew_time_on_the_last_version_and_notice_a_takeover(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", renew_interval=0.02)
    lease.acquire()
    lease.start_renewing()
    wait_for(lambda: lease.renewals >= 3)
    server.taken_by("thief")
    wait_for(lambda: lease.lost is not None)
    puts = bodies(api, "PUT")
    # each renewal on the version the previous write returned, renewTime moving on, the holder kept
    assert [sent["metadata"]["resourceVersion"] for sent in puts[:3]] == ["101", "102", "103"]
    assert [sent["spec"]["renewTime"] for sent in puts[:3]] == sorted(sent["spec"]["renewTime"] for sent in puts[:3])
    assert puts[0]["spec"]["renewTime"] > puts[0]["spec"]["acquireTime"]
    assert {sent["spec"]["holderIdentity"] for sent in puts} == {"me"}
    assert lease.lost == 'the lease shop/matih-helm.web was taken by "thief"'
    wait_for(lambda: not lease._thread.is_alive())  # pylint: disable=protected-access  # it stopped by itself
    seen = len(api.seen)
    time.sleep(0.1)
    assert len(api.seen) == seen  # no more renewals
    assert lease.release(MEMORY) is False and server.lease["spec"]["holderIdentity"] == "thief"


def test_a_renewal_that_fails_for_a_while_is_tried_again(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", renew_interval=0.02)
    lease.acquire()
    server.faults.extend([("PUT", UNAVAILABLE_STATUS), ("PUT", UNAVAILABLE_STATUS)])
    lease.start_renewing()
    wait_for(lambda: lease.renewals >= 2)
    lease.stop_renewing()
    assert lease.last_error.kind == "cluster_unreachable" and lease.lost is None
    assert lease.release() is True


def test_a_renewal_after_someone_edited_the_lease_but_left_us_holding_goes_on(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    server.edit(lambda lease: lease["metadata"]["labels"].update(team="shop"))  # kubectl label
    assert lease.renew() is True and lease.lost is None
    assert [asked.method for asked in api.asked] == ["GET", "POST", "PUT", "GET", "PUT"]
    assert server.lease["metadata"]["labels"]["team"] == "shop"


def test_a_deleted_lease_is_lost(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    server.lease = None
    assert lease.renew() is False
    assert lease.lost == "the lease shop/matih-helm.web was deleted"


def test_nothing_is_renewed_before_the_lease_is_taken(api, client):
    lease = ReleaseLease(client, "web", "shop", holder="me")
    assert lease.renew() is False and lease.release() is False and api.seen == []


# --- names and states ------------------------------------------------------------------------------------

def test_the_lease_name_is_a_dns_subdomain_for_the_longest_release_name():
    longest = "r" * 26 + "." + "a-b" * 8 + "zz"
    assert len(longest) == 53 and len(lease_name(longest)) <= 253
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", lease_name(longest))
    with pytest.raises(ValueError):
        ReleaseLease(None, "web", "shop", duration_seconds=0)


def test_holder_identity_names_the_user_host_process_and_awx_job():
    awx = {"JOB_ID": "17", "AWX_HOST": "https://admin:hunter2@awx.example.com"}
    identity = holder_identity(awx)
    assert re.fullmatch(r"\S+@\S+ pid \d+ AWX job 17 on https://awx\.example\.com #[0-9a-f]{6}", identity), identity
    assert "hunter2" not in identity
    assert re.fullmatch(r"\S+@\S+ pid \d+ #[0-9a-f]{6}", holder_identity({})), holder_identity({})
    assert holder_identity({}) != holder_identity({})  # two actors in one process (or pid 1 in two containers)


def test_a_lease_state_of_odd_fields_is_read_as_unset():
    state = LeaseState.from_object({"metadata": {"annotations": {ATTEMPTS_ANNOTATION: "{broken"}},
                                    "spec": {"holderIdentity": 7, "leaseDurationSeconds": "60", "renewTime": "now",
                                             "leaseTransitions": True}})
    assert (state.holder, state.duration_seconds, state.renew_time, state.transitions, state.memory) == (
        "", 0, None, 0, None)
    assert not state.alive(T0) and state.expires_at is None
    assert LeaseState.from_object({"spec": None, "metadata": []}).holder == ""


def test_alive_takes_epoch_seconds_or_datetimes_and_falls_back_to_the_acquire_time():
    state = LeaseState.from_object(lease_object(holder="them", renewed=0))
    moment = datetime.datetime(2026, 12, 6, 22, 0, 59, tzinfo=datetime.timezone.utc)
    assert state.alive(T0 + 59) and state.alive(moment) and state.alive(moment.replace(tzinfo=None))
    assert not state.alive(T0 + 60)
    bare = lease_object(holder="them")
    del bare["spec"]["renewTime"]
    assert LeaseState.from_object(bare).last_renewal == LeaseState.from_object(bare).acquire_time
    assert micro_time(T0 + 0.25) == "2026-12-06T22:00:00.250000Z"


def test_the_error_of_a_lease_read_from_its_state_in_check_mode():
    state = LeaseState.from_object(lease_object(holder="them", renewed=-10))
    error = LeaseHeld.of(state, "web", "shop", T0)
    assert (error.kind, error.holder, error.expires_at) == (LOCKED, "them", state.expires_at)
    assert error.message.startswith('Another matih.helm actor works on release shop/web: "them" holds its lease '
                                    'matih-helm.web since 2026-12-06T21:55:00Z (renewed 2026-12-06T21:59:50Z; it '
                                    'expires at 2026-12-06T22:00:50Z, in 50s, unless renewed)')
    assert "in 0s" in LeaseHeld.of(state, "web", "shop", T0 + 3600).message


class StandInStore(object):
    def __init__(self, connection):
        self.connection = connection
        self.client = "the store's client"


def test_the_lease_client_is_the_stores_unless_ours_cannot_connect():
    store = StandInStore(StandInConnection("http://127.0.0.1:1"))
    assert lease_client(store, "helm_release_rollback") == "the store's client"
    with pytest.raises(KubeError) as raised:
        lease_client(StandInStore(StandInConnection("https://k8s:6443", api_problem="the oidc auth-provider")),
                     "helm_release_recover")
    assert raised.value.kind == "unsupported_kubeconfig"
    assert raised.value.message == ("helm_release_recover takes the release's lease (coordination.k8s.io/v1) through "
                                    "matih.helm's own API client, which cannot connect as this kubeconfig says: the "
                                    "oidc auth-provider")


def test_lease_errors_say_what_the_lease_needs():
    denial = 'leases.coordination.k8s.io "matih-helm.web" is forbidden: User "ci" cannot create resource "leases"'
    denied = error_for(403, json.dumps({"message": denial}), "POST", LEASES, "k8s")
    said = lease_error(denied, "shop")
    assert (said.kind, said.status, said.reason) == ("access_denied", 403, "Forbidden")
    assert said.message.startswith(denied.message)
    assert said.message.endswith("needs get, create and update on leases.coordination.k8s.io in namespace shop (see "
                                 "the module's notes)")
    not_found = error_for(404, json.dumps({"message": 'namespaces "shop" not found'}), "POST", LEASES, "k8s")
    missing = lease_error(not_found, "shop")
    assert missing.kind == "not_found" and "the release namespace shop: check that it exists" in missing.message
    held = LeaseHeld("held", "them")
    unreachable = error_for(503, "", "GET", LEASE, "k8s")
    assert lease_error(held, "shop") is held and lease_error(unreachable, "shop") is unreachable


# --- a lease made for a release that does not exist, and a lease deleted under us ------------------------

def test_discard_deletes_the_lease_it_made_on_its_resource_version(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    assert lease.discard() is True and server.lease is None
    assert json.loads(api.seen[-1].body)["preconditions"] == {"resourceVersion": "101"}


def test_discard_without_the_right_to_delete_releases_instead(api, client):
    server = LeaseServer(api)
    server.faults.append(("DELETE", {"kind": "Status", "code": 403, "reason": "Forbidden",
                                     "message": 'leases.coordination.k8s.io "matih-helm.web" is forbidden: User "ci" '
                                                'cannot delete resource "leases"'}))
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    assert lease.discard() is True
    assert server.lease is not None and LeaseState.from_object(server.lease).holder == ""
    assert lease.last_error.kind == "access_denied"


def test_a_lease_deleted_between_the_read_and_the_takeover_is_created_again(api, client):
    server = LeaseServer(api, lease_object(holder="", memory=MEMORY))

    def deleted_meanwhile(seen):
        api.routes[("PUT", LEASE)] = server.put
        server.lease = None  # another actor's discard, between our GET and our PUT
        return 404, NOT_FOUND_STATUS
    api.routes[("PUT", LEASE)] = deleted_meanwhile
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    state = lease.acquire()
    assert state.holder == "me" and [seen.method for seen in api.seen] == ["GET", "PUT", "GET", "POST"]


def test_how_long_the_lease_stays_ours_without_a_renewal(api, client):
    LeaseServer(api)
    clock = Clock()
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=clock)
    assert lease.still_ours_for() is None
    lease.acquire()
    clock.now += 50
    assert lease.still_ours_for() == 10
    assert lease.renew() is True and lease.still_ours_for() == 60
    lease.release()
    assert lease.still_ours_for() is None


# --- what a writing task does first and last ------------------------------------------------------------

def test_take_acquires_or_in_check_mode_only_reads(api, client):
    server = LeaseServer(api, lease_object(holder="", memory=MEMORY))
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    assert lease.take(check_mode=True).memory == MEMORY and [seen.method for seen in api.seen] == ["GET"]
    assert lease.take(check_mode=False).holder == "me" and LeaseState.from_object(server.lease).holder == "me"


def test_take_in_check_mode_names_a_live_holder(api, client):
    LeaseServer(api, lease_object(holder="awx@runner", renewed=0))
    with pytest.raises(LeaseHeld) as held:
        ReleaseLease(client, "web", "shop", holder="me", clock=Clock(T0 + 10)).take(check_mode=True)
    assert held.value.kind == LOCKED and "awx@runner" in held.value.message
    assert [seen.method for seen in api.seen] == ["GET"]


def test_finish_releases_with_the_memory_and_warns_only_when_it_could_not(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock(), sleep=lambda seconds: None)
    lease.acquire()
    assert lease.finish(MEMORY) == "" and LeaseState.from_object(server.lease).memory == MEMORY
    lease.acquire()
    server.faults += [("PUT", UNAVAILABLE_STATUS)] * RELEASE_TRIES
    warning = lease.finish(MEMORY)
    assert "could not be released: " in warning and "expires by itself within 60 seconds" in warning
    assert warning.endswith(", and the memory of this run is not recorded.")


def test_finish_discards_a_lease_made_for_a_release_that_does_not_exist(api, client):
    server = LeaseServer(api)
    lease = ReleaseLease(client, "web", "shop", holder="me", clock=Clock())
    lease.acquire()
    assert lease.finish(discard=True) == "" and server.lease is None

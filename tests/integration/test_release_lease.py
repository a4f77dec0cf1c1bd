"""The release's Lease (module_utils/release_lease.py) on the real API server, without Helm.

- Two OS processes take the same release's Lease at the same moment, round after round, on absent
  Leases (both GET 404, both POST) and on expired ones (both PUT on the version they read): exactly
  one wins each round, and the other gets LeaseHeld (``locked``) naming the winner.
- The same races made certain, in one process: a create after another actor created the Lease, and a
  takeover on a resourceVersion another actor changed, each refused by the real API server with a
  409 that ends as LeaseHeld naming the winner; and a plain stale update refused as ``conflict``.
- An expired Lease is taken over (a short duration), and the old holder's next renewal finds it lost.
- The memory of attempts round-trips through the annotation, and the renewal thread moves renewTime.

The code under test is the collection tree's copy (hack/collection-tree.sh, as the playbooks run
it). Nothing here depends on Helm: no helm_binary, so it runs once. A few seconds in all.
"""

import datetime
import json
import os
import subprocess
import sys
import time
import types

import pytest

import playbook_runner

TREE_ROOT = playbook_runner.collections_path().split(os.pathsep, maxsplit=1)[0]
MODULE_UTILS = "ansible_collections.matih.helm.plugins.module_utils"
ROUNDS = 3  # of each kind

# One racer: for each round, waits for its start time (both processes share it), then takes the
# round's Lease and prints one JSON line: whether it won, whom the loser's LeaseHeld names, and the
# API requests the attempt took (1: it saw a live holder; 3: it lost at the API server, a 409).
RACER = r'''
import json, sys, time
tree, kubeconfig, namespace, holder, rounds = sys.argv[1:6]
sys.path.insert(0, tree)
from ansible_collections.matih.helm.plugins.module_utils.connection import Connection
from ansible_collections.matih.helm.plugins.module_utils.kube_client import KubeClient
from ansible_collections.matih.helm.plugins.module_utils.release_lease import LeaseHeld, ReleaseLease
client = KubeClient(Connection.from_params({}, kubeconfig, {}).api_access())
client.get("/version")  # the TLS connection made before the start, so that both start alike
for release, start in json.loads(rounds):
    lease = ReleaseLease(client, release, namespace, holder=holder)
    time.sleep(max(start - time.time(), 0))
    before = client.requests
    try:
        outcome = {"won": True, "holder": lease.acquire().holder}
    except LeaseHeld as held:
        outcome = {"won": False, "holder": held.holder, "message": held.message}
    outcome.update(release=release, requests=client.requests - before)
    print(json.dumps(outcome), flush=True)
'''


@pytest.fixture(scope="module")
def ours(cluster):
    """The collection tree's module_utils, imported in this process, and a client as the admin."""
    if cluster.kind == "emulator":
        pytest.skip("needs a real API server: its resourceVersion preconditions and Lease validation")
    lease_file = os.path.join(TREE_ROOT, *MODULE_UTILS.split(".")) + os.sep + "release_lease.py"
    if not os.path.isfile(lease_file):
        pytest.fail("%s is missing: make the collection tree first (hack/collection-tree.sh)" % lease_file)
    if TREE_ROOT not in sys.path:
        sys.path.insert(0, TREE_ROOT)
    from ansible_collections.matih.helm.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        attempts, connection, errors, kube_client, release_lease)
    client = kube_client.KubeClient(connection.Connection.from_params({}, cluster.kubeconfig, {}).api_access())
    yield types.SimpleNamespace(attempts=attempts, errors=errors, lease=release_lease, kube=kube_client,
                                client=client)
    client.close()


def lease_path(namespace, release):
    return "/apis/coordination.k8s.io/v1/namespaces/%s/leases/matih-helm.%s" % (namespace, release)


def expired_lease(cluster, namespace, release):
    """A Lease its holder left a minute ago (killed), as the admin writes it."""
    stale = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=60)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    cluster.api("POST", "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % namespace, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "matih-helm." + release, "labels": {"matih.helm/release": release}},
        "spec": {"holderIdentity": "killed pid 1", "leaseDurationSeconds": 15, "acquireTime": stale,
                 "renewTime": stale, "leaseTransitions": 4}})


class FirstReadHook(object):
    """A KubeClient whose first GET of a Lease runs ``after_read`` once it has its answer (or its 404):
    what another actor does between our read and our write, made certain."""

    def __init__(self, client, after_read):
        self.client = client
        self.after_read = after_read

    def get(self, path, query=None):
        try:
            return self.client.get(path, query)
        finally:
            hook, self.after_read = self.after_read, None
            if hook:
                hook()

    def create(self, path, body):
        return self.client.create(path, body)

    def update(self, path, body):
        return self.client.update(path, body)


def test_two_processes_take_one_lease_exactly_one_wins(cluster, namespace, ours):
    absent = ["race-%d" % number for number in range(ROUNDS)]
    expired = ["stale-%d" % number for number in range(ROUNDS)]
    for release in expired:
        expired_lease(cluster, namespace, release)
    # each round on its own Lease, 0.15s apart, from 1s on (time for both processes to import and connect;
    # a process that starts late only finds a live holder, which must hold as well)
    start = time.time() + 1.0
    rounds = json.dumps([[release, start + 0.15 * number] for number, release in enumerate(absent + expired)])
    racers = [subprocess.Popen([sys.executable, "-c", RACER, TREE_ROOT, cluster.kubeconfig, namespace, holder, rounds],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for holder in ("racer-a", "racer-b")]
    outcomes = {}
    for holder, racer in zip(("racer-a", "racer-b"), racers):
        stdout, stderr = racer.communicate(timeout=60)
        assert racer.returncode == 0, stderr[-3000:]
        for line in stdout.splitlines():
            outcome = json.loads(line)
            outcomes.setdefault(outcome["release"], {})[holder] = outcome
    raced = 0
    for release in absent + expired:
        both = outcomes[release]
        winners = [holder for holder, outcome in both.items() if outcome["won"]]
        assert len(winners) == 1, (release, both)
        (loser,) = set(both) - set(winners)
        assert both[loser]["holder"] == winners[0], (release, both)
        assert '"%s" holds its lease' % winners[0] in both[loser]["message"], both[loser]["message"]
        raced += both[loser]["requests"] == 3  # read before the winner wrote: refused by the API server
        lease = ours.lease.ReleaseLease(ours.client, release, namespace, holder="reader").read()
        assert lease.holder == winners[0]
        assert lease.transitions == (5 if release in expired else 0)
    print("%d of %d rounds raced at the API server (a 409); the others saw a live holder" % (raced, len(outcomes)))


def test_a_create_after_another_actors_create_is_refused_and_names_it(cluster, namespace, ours):
    first = ours.lease.ReleaseLease(ours.client, "web", namespace, holder="first")
    # "second" reads (404), then "first" creates before "second" does
    second = ours.lease.ReleaseLease(FirstReadHook(ours.client, first.acquire), "web", namespace, holder="second")
    with pytest.raises(ours.lease.LeaseHeld) as raised:
        second.acquire()
    assert (raised.value.kind, raised.value.holder) == ("locked", "first")
    assert first.release() is True


def test_a_takeover_on_a_changed_version_is_refused_and_names_the_winner(cluster, namespace, ours):
    expired_lease(cluster, namespace, "web")
    winner = ours.lease.ReleaseLease(ours.client, "web", namespace, holder="winner")
    # "late" reads the expired Lease, then "winner" takes it over before "late" writes on what it read
    late = ours.lease.ReleaseLease(FirstReadHook(ours.client, winner.acquire), "web", namespace, holder="late")
    with pytest.raises(ours.lease.LeaseHeld) as raised:
        late.acquire()
    assert raised.value.holder == "winner" and '"winner" holds its lease' in raised.value.message
    assert winner.read().holder == "winner"


def test_the_api_server_refuses_a_stale_update(cluster, namespace, ours):
    holder = ours.lease.ReleaseLease(ours.client, "web", namespace, holder="holder")
    holder.acquire()
    path = lease_path(namespace, "web")
    stale = ours.client.get(path)
    assert holder.renew() is True  # a new resourceVersion
    stale["spec"]["holderIdentity"] = "intruder"
    with pytest.raises(ours.errors.KubeError) as raised:
        ours.client.update(path, stale)
    assert (raised.value.kind, raised.value.status, raised.value.reason) == ("conflict", 409, "Conflict")
    assert holder.read().holder == "holder"


def test_an_expired_lease_is_taken_over_and_the_old_holder_finds_it_lost(cluster, namespace, ours):
    gone = ours.lease.ReleaseLease(ours.client, "web", namespace, holder="gone", duration_seconds=2)
    gone.acquire()  # and never renewed, as a killed process
    taker = ours.lease.ReleaseLease(ours.client, "web", namespace, holder="taker")
    with pytest.raises(ours.lease.LeaseHeld) as raised:
        taker.acquire()
    assert raised.value.holder == "gone"
    time.sleep(max((raised.value.expires_at.timestamp() - time.time()) + 0.05, 0))
    state = taker.acquire()
    assert (state.holder, state.transitions, state.duration_seconds) == ("taker", 1, 60)
    assert gone.renew() is False and gone.lost == 'the lease %s/matih-helm.web was taken by "taker"' % namespace
    assert gone.release() is False
    assert taker.read().holder == "taker"


def test_the_memory_round_trips_and_renewals_move_renew_time(cluster, namespace, ours):
    memory = ours.attempts.Memory(7, 2, "2026-12-06T22:00:00Z", "failed", 'rollback "web" to 5 failed: ünïcode')
    first = ours.lease.ReleaseLease(ours.client, "web", namespace, holder="first", duration_seconds=3,
                                    renew_interval=0.2)
    with first.held() as state:
        assert state.memory is None
        acquired = first.read().renew_time
        deadline = time.monotonic() + 10
        while first.renewals < 2 and time.monotonic() < deadline:  # every 0.2 s, unless the machine is loaded
            time.sleep(0.1)
        assert first.renewals >= 2 and first.read().renew_time > acquired
        first.memory = memory
    raw = cluster.api("GET", lease_path(namespace, "web"))
    assert "holderIdentity" not in raw["spec"]
    assert raw["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "matih.helm", "matih.helm/release": "web"}
    assert json.loads(raw["metadata"]["annotations"]["matih.helm/attempts"]) == {
        "revision": 7, "attempts": 2, "last_attempt": "2026-12-06T22:00:00Z", "last_outcome": "failed",
        "reason": 'rollback "web" to 5 failed: ünïcode'}

    second = ours.lease.ReleaseLease(ours.client, "web", namespace, holder="second")
    assert second.acquire().memory == memory
    assert second.release(None) is True
    raw = cluster.api("GET", lease_path(namespace, "web"))
    assert "matih.helm/attempts" not in (raw["metadata"].get("annotations") or {})
    assert raw["spec"]["leaseTransitions"] == 1

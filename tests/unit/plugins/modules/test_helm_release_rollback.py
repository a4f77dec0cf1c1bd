# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    CommandResult, HelmError, HelmVersion, error_from_result, rollback_argv,
)
from ansible_collections.matih.helm.plugins.module_utils.preflight import Preflight
from ansible_collections.matih.helm.plugins.module_utils.release_lease import LeaseHeld, LeaseState
from ansible_collections.matih.helm.plugins.modules import helm_release_rollback
from ansible_collections.matih.helm.tests.unit.plugins.module_args import patch_module_args
from ansible_collections.matih.helm.tests.unit.plugins.modules.kube_fakes import StandInConnection

INSTALLED = {"revision": 1, "status": "superseded", "chart": "web-1.0.0", "app_version": "1.0",
             "description": "Install complete"}
DEPLOYED_2 = {"revision": 2, "status": "deployed", "chart": "web-1.1.0", "app_version": "1.1",
              "description": "Upgrade complete"}
FAILED_3 = {"revision": 3, "status": "failed", "chart": "web-1.2.0", "app_version": "1.2",
            "description": 'Upgrade "web" failed: context deadline exceeded'}
ROLLED_BACK_4 = {"revision": 4, "status": "deployed", "chart": "web-1.1.0", "app_version": "1.1",
                 "description": "Rollback to 2"}
WAIT_FAILED_4 = {"revision": 4, "status": "failed", "chart": "web-1.1.0", "app_version": "1.1",
                 "description": 'Release "web" failed: context deadline exceeded'}


def superseded(entry):
    return dict(entry, status="superseded")


BEFORE = [INSTALLED, DEPLOYED_2, FAILED_3]
AFTER = [INSTALLED, superseded(DEPLOYED_2), FAILED_3, ROLLED_BACK_4]
VALUES = {1: {"tag": "1.0"}, 2: {"tag": "1.1", "password": "hunter2"}, 3: {"tag": "broken"},
          4: {"tag": "1.1", "password": "hunter2"}}


class FakeHelm(object):
    """HelmClient with canned answers: ``histories`` are returned one per history() call."""

    def __init__(self, histories, values=None, rollback_error=None, major=3):
        self.histories = list(histories)
        self.values = values if values is not None else VALUES
        self.rollback_error = rollback_error
        self.major = major
        self.calls = []
        # These tests are about Helm's answers: a connection our API client cannot use sends the release store
        # to Helm. The records path is tested in tests/unit/plugins/module_utils/test_release_store.py.
        self.connection = StandInConnection(api_problem="the kubeconfig user 'ci' authenticates with auth-provider "
                                                        "oidc (deprecated)")

    def version(self):
        return HelmVersion(self.major, 17, 3)

    def history(self, name, namespace, max=None):  # pylint: disable=redefined-builtin
        self.calls.append(("history",))
        entries = self.histories.pop(0) if len(self.histories) > 1 else self.histories[0]
        if entries is None:
            raise HelmError("release_not_found", "The release does not exist in this namespace", 1, "",
                            "Error: release: not found", ["helm", "history"])
        return entries

    def get_values(self, name, namespace, revision, all_values=False):
        self.calls.append(("values", revision))
        return self.values.get(revision)

    def get_values_many(self, name, namespace, revisions, all_values=False):
        return dict((revision, self.get_values(name, namespace, revision)) for revision in revisions)

    def get_manifest(self, name, namespace, revision):
        self.calls.append(("manifest", revision))
        return "kind: ConfigMap\ndata:\n  tag: %s\n" % self.values[revision]["tag"]

    def rollback(self, name, namespace, revision, dry_run=False, **options):
        self.calls.append(("rollback", revision, dry_run))
        argv = ["helm"] + rollback_argv(self.major, name, namespace, revision, dry_run=dry_run, **options)
        if self.rollback_error and not dry_run:
            raise error_from_result(CommandResult(argv, 1, "", self.rollback_error))
        return CommandResult(argv, 0, "Rollback was a success! Happy Helming!\n", "")

    def rollbacks(self):
        return [call for call in self.calls if call[0] == "rollback"]


class FakeLease(object):
    """ReleaseLease without the API: free unless ``holder`` is given; records what the module did with it."""

    def __init__(self, holder=None):
        self.holder = holder
        self.events = []
        self.previous = None
        self.lost = None
        self.name = "matih-helm.web"
        self.duration_seconds = 60

    def __call__(self, client, release, namespace):
        return self

    def state(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        return LeaseState(self.holder, now, now, 60, "7", 0, None) if self.holder else None

    def read(self):
        self.events.append("read")
        return self.state()

    def acquire(self):
        self.events.append("acquire")
        if self.holder:
            raise LeaseHeld.of(self.state(), "web", "shop")
        return LeaseState("us", None, None, 60, "8", 0, None)

    def take(self, check_mode):
        if check_mode:
            state = self.read()
            if state is not None:
                raise LeaseHeld.of(state, "web", "shop")
            return None
        return self.acquire()

    def finish(self, memory=None, discard=False):
        return "" if (self.discard() if discard else self.release(memory)) else "not released"

    def start_renewing(self):
        self.events.append("renewing")

    def release(self, memory=None):
        self.events.append("release")
        return True

    def discard(self):
        self.events.append("discard")
        return True


class FakePreflight(object):
    """preflight(): passes, or refuses the one object of ``refusal``."""

    def __init__(self, refusal=None):
        self.refusal = refusal
        self.manifests = []
        self.writes = []

    def __call__(self, api, manifest, namespace, **options):
        self.manifests.append(manifest)
        self.writes.append(options.get("writes"))
        return Preflight(objects=1, refusals=[self.refusal] if self.refusal else [], unchecked=[], requests=1)


class ModuleExit(Exception):
    def __init__(self, failed, result):
        super(ModuleExit, self).__init__(result.get("msg"))
        self.failed = failed
        self.result = result


def run_module(helm, check_mode=False, diff=False, lease=None, checker=None, **params):
    args = dict(name="web", release_namespace="shop")
    if "target_revision" not in params:
        args["revision"] = "last_successful"
    args.update(params, _ansible_check_mode=check_mode, _ansible_diff=diff)

    def exit_json(module, **result):
        raise ModuleExit(False, result)

    def fail_json(module, **result):
        raise ModuleExit(True, result)

    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json), \
            mock.patch.object(helm_release_rollback, "HelmClient", lambda module: helm), \
            mock.patch.object(helm_release_rollback, "ReleaseLease", lease or FakeLease()), \
            mock.patch.object(helm_release_rollback, "lease_client", lambda store, needed_by: None), \
            mock.patch.object(helm_release_rollback, "LiveObjects", lambda store: None), \
            mock.patch.object(helm_release_rollback, "preflight", checker or FakePreflight()):
        with pytest.raises(ModuleExit) as outcome:
            helm_release_rollback.main()
    return outcome.value


def test_rollback_runs_and_is_verified():
    helm = FakeHelm([BEFORE, AFTER])
    outcome = run_module(helm)
    assert not outcome.failed, outcome.result["msg"]
    result = outcome.result
    assert result["changed"] is True
    assert (result["previous_revision"], result["target_revision"], result["revision"]) == (3, 2, 4)
    assert (result["status"], result["chart"], result["chart_version"], result["app_version"]) == (
        "deployed", "web-1.1.0", "1.1.0", "1.1")
    assert [entry["revision"] for entry in result["history"]] == [1, 2, 3, 4]
    assert result["history"][-1]["operation"] == "rollback"
    assert result["rollback_candidates"] == [2, 1]
    assert result["helm_version"] == "3.17.3"
    assert result["command"] == ["helm", "rollback", "web", "2", "--namespace", "shop", "--wait", "--timeout", "5m"]
    assert result["msg"] == "web rolled back from revision 3 to revision 2 as revision 4 (deployed)."
    assert "diff" not in result
    assert helm.rollbacks() == [("rollback", 2, False)]
    assert ("values", 4) in helm.calls


def test_no_op_when_deployed_latest_matches_target():
    helm = FakeHelm([AFTER])
    outcome = run_module(helm, revision=2)
    assert not outcome.failed
    result = outcome.result
    assert result["changed"] is False
    assert (result["previous_revision"], result["target_revision"], result["revision"]) == (4, 2, 4)
    assert result["command"] is None
    assert "already has the chart web-1.1.0 and the values of revision 2" in result["msg"]
    assert helm.rollbacks() == []


def test_last_successful_on_healthy_release_is_a_no_op():
    helm = FakeHelm([AFTER])
    outcome = run_module(helm, check_mode=True, diff=True)
    assert outcome.result["changed"] is False
    assert outcome.result["target_revision"] == 4
    assert outcome.result["diff"][0]["before"] == outcome.result["diff"][0]["after"]
    assert helm.rollbacks() == []
    assert not [call for call in helm.calls if call[0] == "manifest"]


def test_check_mode_predicts_without_rolling_back():
    helm = FakeHelm([BEFORE], major=4)
    outcome = run_module(helm, check_mode=True, diff=True)
    assert not outcome.failed
    result = outcome.result
    assert result["changed"] is True
    assert (result["revision"], result["status"], result["chart"]) == (4, "deployed", "web-1.1.0")
    assert "would be rolled back from revision 3 to revision 2 as revision 4" in result["msg"]
    assert helm.rollbacks() == [("rollback", 2, True)]
    assert result["command"][-1] == "--dry-run=server"
    assert [entry["revision"] for entry in result["history"]] == [1, 2, 3]
    assert "hunter2" not in json.dumps(result["diff"])
    assert result["diff"][1]["after_header"] == "web revision 4 (rollback to 2): rendered manifest of revision 2"


ROLLED_BACK_TO_1 = {"revision": 5, "status": "deployed", "chart": "web-1.0.0", "app_version": "1.0",
                    "description": "Rollback to 1"}


@pytest.mark.parametrize("histories, revision, changed", [
    pytest.param([AFTER], 2, False, id="no-op"),
    pytest.param([AFTER, AFTER[:3] + [superseded(ROLLED_BACK_4), ROLLED_BACK_TO_1]], 1, True, id="change"),
])
def test_check_mode_and_real_run_agree_on_changed(histories, revision, changed):
    values = dict(VALUES)
    values[5] = VALUES[1]
    check = run_module(FakeHelm(histories, values), check_mode=True, revision=revision).result
    real = run_module(FakeHelm(histories, values), revision=revision).result
    assert check["changed"] is real["changed"] is changed
    assert check["revision"] == real["revision"]
    assert check["chart"] == real["chart"]


def test_verification_failure_names_each_check():
    helm = FakeHelm([BEFORE, BEFORE[:2] + [FAILED_3, dict(ROLLED_BACK_4, chart="web-1.2.0")]])
    outcome = run_module(helm, revision=2)
    assert outcome.failed
    result = outcome.result
    assert "does not check out" in result["msg"]
    assert result["failed_checks"] == ["revision 4 runs chart web-1.2.0, not the target's web-1.1.0"]
    assert (result["revision"], result["status"], result["target_revision"]) == (4, "deployed", 2)
    assert result["changed"] is True


def test_helm_failure_reports_new_revision_status_and_history():
    helm = FakeHelm([BEFORE, [INSTALLED, DEPLOYED_2, FAILED_3, WAIT_FAILED_4]],
                    rollback_error="Error: release web failed: context deadline exceeded\n")
    outcome = run_module(helm, revision=2, timeout="2s")
    assert outcome.failed
    result = outcome.result
    assert (result["revision"], result["status"]) == (4, "failed")
    assert "Helm created revision 4 with status failed" in result["msg"]
    assert "Helm timed out" in result["msg"]
    assert result["stderr"] == "Error: release web failed: context deadline exceeded\n"
    assert result["rc"] == 1
    assert "--timeout" in result["command"] and "2s" in result["command"]
    assert [entry["revision"] for entry in result["history"]] == [1, 2, 3, 4]
    assert result["rollback_candidates"] == [2, 1]
    assert result["changed"] is True


def test_helm_failure_without_new_revision():
    helm = FakeHelm([BEFORE], rollback_error="Error: Kubernetes cluster unreachable\n")
    outcome = run_module(helm, revision=2)
    assert outcome.failed
    assert "Helm created no new revision" in outcome.result["msg"]
    assert outcome.result["revision"] == 3
    assert outcome.result["changed"] is False


class UnreadableAfterRollback(FakeHelm):
    """The rollback succeeds, then reading ``unreadable`` (history or values) fails: the API server went away."""

    def __init__(self, histories, unreadable):
        super(UnreadableAfterRollback, self).__init__(histories)
        self.unreadable = unreadable

    def unreachable(self, what):
        if what == self.unreadable and self.rollbacks():
            raise error_from_result(CommandResult(["helm", what, "web"], 1, "", "Error: Kubernetes cluster "
                                                  "unreachable: dial tcp 127.0.0.1:6443: connect: connection refused\n"))

    def history(self, name, namespace, max=None):  # pylint: disable=redefined-builtin
        self.unreachable("history")
        return super(UnreadableAfterRollback, self).history(name, namespace, max)

    def get_values(self, name, namespace, revision, all_values=False):
        self.unreachable("values")
        return super(UnreadableAfterRollback, self).get_values(name, namespace, revision, all_values)


@pytest.mark.parametrize("unreadable, revision, status, history", [
    pytest.param("history", 4, None, None, id="history-unreadable"),
    pytest.param("values", 4, "deployed", [1, 2, 3, 4], id="values-unreadable"),
])
def test_rollback_whose_result_cannot_be_read_is_still_a_change(unreadable, revision, status, history):
    helm = UnreadableAfterRollback([BEFORE, AFTER], unreadable)
    outcome = run_module(helm, revision=2)
    assert outcome.failed
    result = outcome.result
    assert result["changed"] is True
    assert helm.rollbacks() == [("rollback", 2, False)]
    assert "web was rolled back from revision 3 to revision 2 (Helm reported success" in result["msg"]
    assert "could not be read back to verify it" in result["msg"] and "could not be reached" in result["msg"]
    assert result["msg"].endswith("Check the release with: helm history web -n shop")
    assert (result["previous_revision"], result["target_revision"], result["revision"]) == (3, 2, revision)
    assert result["status"] == status
    assert result["error_kind"] == "cluster_unreachable" and result["command"] == ["helm", unreadable, "web"]
    if history is None:  # unknown, so not returned (an empty list would claim the release has no revisions)
        assert "history" not in result and "rollback_candidates" not in result
    else:
        assert [entry["revision"] for entry in result["history"]] == history


def test_lost_revision_race_does_not_claim_the_other_writers_revision():
    # Another writer stored revision 4 between our history read and Helm's create (409 AlreadyExists).
    helm = FakeHelm([BEFORE, BEFORE + [ROLLED_BACK_4]], rollback_error="Error: release: already exists\n")
    outcome = run_module(helm, revision=2)
    assert outcome.failed
    result = outcome.result
    assert result["error_kind"] == "revision_taken"
    assert "revision 4 was written by another operation" in result["msg"]
    assert "Helm created revision 4" not in result["msg"]
    assert result["changed"] is False
    assert [entry["revision"] for entry in result["history"]] == [1, 2, 3, 4]


def test_refusal_returns_history():
    helm = FakeHelm([BEFORE])
    outcome = run_module(helm, revision=3)
    assert outcome.failed
    assert "revision 3 never reached DEPLOYED" in outcome.result["msg"]
    assert outcome.result["rollback_candidates"] == [2, 1]
    assert helm.rollbacks() == []


def test_missing_release_fails_clearly():
    outcome = run_module(FakeHelm([None]))
    assert outcome.failed
    assert outcome.result["msg"] == ("Release web does not exist in namespace shop, so there is nothing to roll "
                                     "back. Check name and release_namespace (matih.helm.helm_release_list finds "
                                     "releases in every namespace), or install the release first.")


@pytest.mark.parametrize("params, fragment", [
    ({"revision": 0}, "revision must be 1 or more, got 0"),
    ({"revision": "previous"}, "got 'previous'"),
    ({"timeout": "300"}, "timeout '300' is not a Helm duration"),
    ({"timeout": "0s"}, "timeout must be a Go duration greater than zero, e.g. 5m or 90s; got '0s'"),
    ({"history_max": -1}, "history_max must be 0 (no limit) or more"),
    ({"wait": False, "wait_for_jobs": True}, "wait_for_jobs needs wait: true"),
    ({"name": "Web"}, "uppercase"),
])
def test_invalid_options_fail_before_helm_runs(params, fragment):
    helm = FakeHelm([BEFORE])
    outcome = run_module(helm, **params)
    assert outcome.failed
    assert fragment in outcome.result["msg"]
    assert helm.calls == []


def test_target_revision_alias():
    outcome = run_module(FakeHelm([AFTER]), target_revision=2)
    assert outcome.result["target_revision"] == 2


def test_the_lease_is_taken_and_released_around_the_rollback():
    lease = FakeLease()
    outcome = run_module(FakeHelm([BEFORE, AFTER]), lease=lease)
    assert not outcome.failed and outcome.result["changed"], outcome.result
    assert lease.events == ["acquire", "renewing", "release"]


def test_a_held_lease_fails_before_anything_is_read():
    helm, lease = FakeHelm([BEFORE]), FakeLease(holder="awx@runner pid 7")
    outcome = run_module(helm, lease=lease)
    assert outcome.failed and outcome.result["error_kind"] == "locked", outcome.result
    assert "awx@runner pid 7" in outcome.result["msg"]
    assert helm.calls == [] and lease.events == ["acquire"]


def test_check_mode_only_reads_the_lease():
    lease = FakeLease(holder="someone")
    outcome = run_module(FakeHelm([BEFORE]), check_mode=True, lease=lease)
    assert outcome.failed and outcome.result["error_kind"] == "locked"
    assert lease.events == ["read"]


def test_a_missing_release_takes_no_lease_with_it():
    lease = FakeLease()
    outcome = run_module(FakeHelm([None]), lease=lease)
    assert outcome.failed and "does not exist" in outcome.result["msg"]
    assert lease.events == ["acquire", "renewing", "discard"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_refused_target_writes_no_revision(check_mode):
    helm = FakeHelm([BEFORE])
    refusal = {"api_version": "v1", "kind": "ConfigMap", "name": "web", "namespace": "shop", "error_kind": "rejected",
               "reason": "ConfigMap web is invalid: data: Forbidden: field is immutable when `immutable` is set"}
    checker = FakePreflight(refusal)
    outcome = run_module(helm, check_mode=check_mode, checker=checker)
    assert outcome.failed and outcome.result["error_kind"] == "rejected", outcome.result
    assert "no revision was written" in outcome.result["msg"] and "field is immutable" in outcome.result["msg"]
    assert outcome.result["preflight"]["refusals"] == [refusal] and outcome.result["changed"] is False
    assert helm.rollbacks() == []
    assert checker.manifests == ["kind: ConfigMap\ndata:\n  tag: 1.1\n"]  # the target's, revision 2


@pytest.mark.parametrize("kinds, advice", [
    ({"rejected"}, "Roll back to another revision, or fix what refuses them."),
    ({"not_found"}, "Roll back to another revision, or fix what refuses them."),
    # a missing right: another revision needs the same rights
    ({"access_denied"}, "Grant the credentials the rights named; a rollback to another revision needs the same rights."),
    ({"access_denied", "rejected"}, "Grant the credentials the rights named, and fix what refuses the objects (or roll "
                                    "back to another revision)."),
])
def test_refusal_advice(kinds, advice):
    assert helm_release_rollback.refusal_advice(kinds) == advice


@pytest.mark.parametrize("major, force", [(3, False), (4, True)])
def test_the_write_checked_is_the_rollbacks(major, force):
    """What the access reviews are asked for: the Helm major, wait, force, the latest revision's manifest (what Helm 4
    deletes when the target drops it) and the records Helm marks (the deployed ones superseded, the new one)."""
    checker = FakePreflight()
    run_module(FakeHelm([BEFORE, AFTER], major=major), checker=checker, force=force)
    write = checker.writes[0]
    assert (write.major, write.wait, write.force, write.reinstall) == (major, True, force, False)
    # revision 3 is the latest (failed); 2 is deployed (superseded by the rollback); 4 the new one
    assert write.current == "kind: ConfigMap\ndata:\n  tag: broken\n" and write.records == (2, 4)


def test_check_mode_checks_no_write():
    checker = FakePreflight()
    run_module(FakeHelm([BEFORE]), check_mode=True, checker=checker)
    assert checker.writes == [None]


def test_a_missing_right_advises_granting_it():
    refusal = {"api_version": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "name": "",
               "namespace": "shop", "error_kind": "access_denied",
               "reason": "the credentials may not list replicasets.apps in namespace shop (RBAC; Helm's wait reads a "
                         "Deployment's replicasets)"}
    outcome = run_module(FakeHelm([BEFORE]), checker=FakePreflight(refusal))
    assert outcome.failed and outcome.result["error_kind"] == "access_denied"
    assert outcome.result["msg"].endswith(
        "Grant the credentials the rights named; a rollback to another revision needs the same rights.")

"""Integration tests: every target under targets/ runs with ansible-playbook on Helm 3 and Helm 4.

The cluster is the real control plane of tests/cluster (the default), the test bed's API emulator
or the cluster of KUBECONFIG, as MATIH_TEST_CLUSTER says (see tests/testbed/fixtures.py); the
targets themselves do not know which.
"""
import os
import pathlib
import sys

import pytest

TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR / "testbed"))

from fixtures import *  # noqa: E402,F401,F403  pylint: disable=wildcard-import,unused-wildcard-import,wrong-import-position
import helm_majors  # noqa: E402  pylint: disable=wrong-import-position

os.environ.setdefault("ANSIBLE_NOCOLOR", "1")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "helm_matrix: the smoke run of the Helm version matrix (gate helm_matrix in hack/test.sh runs only "
                   "these, once per matrix version; the full suite runs them on the two main versions as well)")


# The fixtures that stand for a Helm major: helm_binary, and test_bad_input's per-major outcome.
HELM_PARAMS = ("helm_binary", "outcome")


def _helm_id(item):
    callspec = getattr(item, "callspec", None)
    for name in HELM_PARAMS:
        value = callspec.params.get(name) if callspec else None
        if value in helm_majors.HELM_IDS:
            return value
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Drop the Helm 3 or Helm 4 variant of each test that helm_majors says needs only one major
    (test_helm_majors.py checks that every key there names a test)."""
    try:
        helm_majors.policy()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    here = pathlib.Path(__file__).parent
    keep, drop = [], []
    for item in items:
        helm_id = _helm_id(item)
        # only this directory's tests: tests/testbed's, collected in the same run, keep both majors
        if helm_id is None or here not in item.path.parents:
            keep.append(item)
            continue
        file_name, function, params = item.path.name, item.originalname, helm_majors.split_helm_id(item.callspec.id)[1]
        (keep if helm_majors.runs_on(helm_id, file_name, function, params) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    # The files of the longest tests first, so that pytest-xdist's workers do not end with one of
    # them running alone.
    keep.sort(key=lambda item: LONGEST_FIRST.index(item.path.name) if item.path.name in LONGEST_FIRST else len(LONGEST_FIRST))
    items[:] = keep


# How pytest-xdist schedules this directory. The files whose tests take longest (the fleets, the
# outages, the races, the module targets) run first; every other file keeps its place after them.
LONGEST_FIRST = ("test_recover_playbook.py", "test_fleet_remediation.py", "test_safe_recovery.py", "test_faults.py",
                 "test_targets.py", "test_secrets.py", "test_concurrency.py", "test_release_deploy.py")
# Tests that share one worker, by node id prefix: the module examples' extra control plane starts
# once, and only the worker that prepares the bad-input releases waits for them. (xdist_group marks
# cannot do it: pytest-xdist 3.8's loadgroup tags node ids through an attribute pytest 9 removed, so
# it silently schedules as plain load.)
SHARED_WORKER = {
    "tests/integration/test_bad_input.py::": "bad_input",
    "tests/integration/test_examples.py::test_examples_run": "examples",
    # one ansible-rulebook process serves the module's tests (a module-scoped fixture)
    "tests/integration/test_eda_rollback_api.py::": "eda_rollback_api",
}


def pytest_xdist_make_scheduler(config, log):
    """Load scheduling, with the SHARED_WORKER groups each sent to one worker as a whole."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling  # pylint: disable=import-outside-toplevel  # only with xdist

    class SharedWorkerScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return next((group for prefix, group in SHARED_WORKER.items() if nodeid.startswith(prefix)), nodeid)

    return SharedWorkerScheduling(config, log)

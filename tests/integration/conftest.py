"""Integration tests: every target under targets/ runs with ansible-playbook on Helm 3 and Helm 4.

The cluster is the real control plane of tests/cluster (the default), the test bed's API emulator
or the cluster of KUBECONFIG, as MATIH_TEST_CLUSTER says (see tests/testbed/fixtures.py); the
targets themselves do not know which.
"""
import os
import pathlib
import sys

TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR / "testbed"))

from fixtures import *  # noqa: E402,F401,F403  pylint: disable=wildcard-import,unused-wildcard-import,wrong-import-position

os.environ.setdefault("ANSIBLE_NOCOLOR", "1")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "helm_matrix: the smoke run of the Helm version matrix (gate helm_matrix in hack/test.sh runs only "
                   "these, once per matrix version; the full suite runs them on the two main versions as well)")

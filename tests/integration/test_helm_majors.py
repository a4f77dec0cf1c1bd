"""The Helm-major policy of helm_majors.py names real tests and is what the collection applies.

Each check collects this directory (``pytest --collect-only``, no cluster) under one
``MATIH_TEST_HELM`` and compares the node ids with the policy.
"""
import os
import re
import subprocess
import sys

import pytest

import helm_majors

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = re.compile(r"^(?:.*/)?(?P<file>test_[a-z_]+\.py)::(?P<function>\w+)(?:\[(?P<params>.*)\])?$")


def collected(policy, *args):
    """{(file, function, params without the Helm id): {Helm ids}} of the tests collected under ``policy``."""
    env = dict(os.environ, MATIH_TEST_HELM=policy)
    for variable in ("PYTEST_ADDOPTS", "MATIH_HELM_MATRIX"):
        env.pop(variable, None)
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args, HERE],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    tests = {}
    for line in result.stdout.splitlines():
        match = NODE.match(line.strip())
        if not match:
            continue
        helm, params = helm_majors.split_helm_id(match.group("params") or "")
        tests.setdefault((match.group("file"), match.group("function"), params), set()).add(helm)
    assert tests, result.stdout[-3000:]
    return tests


@pytest.fixture(scope="module")
def every_test():
    return collected("both")


def test_every_key_names_a_test(every_test):
    names = {"%s::%s" % key[:2] for key in every_test}
    names |= {"%s::%s[%s]" % key for key in every_test if key[2]}
    assert set(helm_majors.BOTH_MAJORS) <= names, sorted(set(helm_majors.BOTH_MAJORS) - names)
    assert all(reason.strip() for reason in helm_majors.BOTH_MAJORS.values())


def test_the_default_runs_dependent_tests_on_both_and_the_rest_once(every_test):
    default = collected("policy")
    assert set(default) == set(every_test), "a test vanished under the policy"
    for (file, function, params), helms in default.items():
        if every_test[(file, function, params)] == {None}:
            assert helms == {None}
        elif helm_majors.depends_on_major(file, function, params):
            assert helms == set(helm_majors.HELM_IDS), (file, function, params, helms)
        else:
            assert helms == {helm_majors.ONE_MAJOR}, (file, function, params, helms)
    assert any(helms == {helm_majors.ONE_MAJOR} for helms in default.values())


def test_the_matrix_smoke_tests_depend_on_the_major():
    # the smoke tests of the Helm version matrix are there because they differ per version
    for key, helms in collected("policy", "-m", "helm_matrix").items():
        assert helms == set(helm_majors.HELM_IDS), key


@pytest.mark.parametrize("helm_id", helm_majors.HELM_IDS, ids=["major3", "major4"])
def test_one_major_for_a_whole_run(helm_id, every_test):
    tests = collected(helm_id)
    assert set(tests) == set(every_test)
    assert all(helms in ({helm_id}, {None}) for helms in tests.values())

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.matih.helm.plugins.module_utils.args import (
    CONNECTION_ARGS,
    CONNECTION_MUTUALLY_EXCLUSIVE,
    argument_spec,
    name_problems,
    namespace_problem,
    release_name_problem,
)


@pytest.mark.parametrize(
    "name, problem",
    [
        ("web", None),
        ("my-app.v2", None),
        ("a", None),
        ("0web9", None),
        ("w" * 53, None),
        ("w" * 54, "at most 53"),
        ("", "must not be empty"),
        ("Web", "uppercase"),
        ("--kubeconfig=/tmp/kc", "command-line option"),
        ("-n", "command-line option"),
        ("web;rm -rf /", "never valid"),
        ("web$(id)", "never valid"),
        ("web_app", "is invalid"),
        ("web-", "is invalid"),
        ("web..app", "is invalid"),
        (".web", "is invalid"),
    ],
)
def test_release_name(name, problem):
    found = release_name_problem(name)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    "namespace, problem",
    [
        ("shop", None),
        ("team-a", None),
        ("n" * 63, None),
        ("n" * 64, "at most 63"),
        ("team.a", "is invalid"),
        ("Team", "uppercase"),
        ("--all-namespaces", "command-line option"),
        ("a b", "never valid"),
        ("", "must not be empty"),
    ],
)
def test_namespace(namespace, problem):
    found = namespace_problem(namespace)
    assert (found is None) if problem is None else (problem in found)


def test_name_problems_collects_both():
    assert len(name_problems("Web", "-x")) == 2
    assert name_problems("web", "shop") == []


def test_argument_spec_is_a_fresh_copy():
    spec = argument_spec({"max": {"type": "int"}})
    spec["api_key"]["no_log"] = False
    assert CONNECTION_ARGS["api_key"]["no_log"] is True
    assert {"name", "release_namespace", "max", "kubeconfig"} <= set(spec)


# (environment, options given, expected connection options or the error)
CONNECTION_ENVIRONMENTS = [
    # AWX's kubeconfig credential without a context: K8S_AUTH_CONTEXT is injected empty, which is no context
    ({"K8S_AUTH_KUBECONFIG": "/runner/kubeconfig", "K8S_AUTH_CONTEXT": ""}, {"validate_certs": True},
     {"kubeconfig": "/runner/kubeconfig", "context": None, "validate_certs": True}),
    ({"K8S_AUTH_CONTEXT": "", "K8S_AUTH_VERIFY_SSL": "true", "K8S_AUTH_SSL_CA_CERT": ""}, {},
     {"context": None, "validate_certs": True, "ca_cert": None}),
    ({"K8S_AUTH_CONTEXT": "prod", "K8S_AUTH_HOST": ""}, {}, {"context": "prod", "host": None}),
    # a context that is set still refuses what it brings itself
    ({"K8S_AUTH_CONTEXT": "prod"}, {"validate_certs": False}, "parameters are mutually exclusive: context|validate_certs"),
]


@pytest.mark.parametrize("environ, given, expected", CONNECTION_ENVIRONMENTS)
def test_connection_fallbacks_take_an_empty_variable_as_unset(monkeypatch, environ, given, expected):
    for name in ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_SSL_CA_CERT",
                 "K8S_AUTH_VERIFY_SSL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = ArgumentSpecValidator(CONNECTION_ARGS, mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE).validate(dict(given))
    if isinstance(expected, str):
        assert [str(error) for error in result.errors] == [expected]
    else:
        assert not result.error_messages, result.error_messages
        assert {key: result.validated_parameters[key] for key in expected} == expected

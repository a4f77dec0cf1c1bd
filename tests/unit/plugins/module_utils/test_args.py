# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.matih.helm.plugins.module_utils.args import (
    CONNECTION_ARGS,
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

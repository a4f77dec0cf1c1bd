# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The argv of the recovery steps (upgrade, install, uninstall) per Helm major, and the version cache."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.matih.helm.plugins.module_utils.helm_client import (
    HelmVersion, binary_identity, cached_version, install_argv, remember_version, uninstall_argv, upgrade_argv,
)


@pytest.mark.parametrize("major, options, expected", [
    (3, {}, ["upgrade", "web", "./web", "--namespace", "shop", "--reset-values", "--wait", "--timeout", "5m"]),
    (4, dict(chart_repo_url="https://c", chart_version="1.1.0", values_file="/t/v.json", wait_for_jobs=True,
             cleanup_on_fail=True, history_max=0, dry_run=True),
     ["upgrade", "web", "./web", "--namespace", "shop", "--reset-values", "--repo", "https://c", "--version", "1.1.0",
      "--values", "/t/v.json", "--wait=watcher", "--wait-for-jobs", "--timeout", "5m", "--cleanup-on-fail",
      "--history-max", "0", "--dry-run=server"]),
    (3, dict(wait=False, wait_for_jobs=True, dry_run=True),
     ["upgrade", "web", "./web", "--namespace", "shop", "--reset-values", "--timeout", "5m", "--dry-run"]),
])
def test_upgrade_argv(major, options, expected):
    assert upgrade_argv(major, "web", "shop", "./web", timeout="5m", **options) == expected


@pytest.mark.parametrize("major, expected", [
    (3, ["install", "web", "oci://r/web", "--namespace", "shop", "--values", "/t/v.json", "--wait", "--timeout", "1m",
         "--replace"]),
    (4, ["install", "web", "oci://r/web", "--namespace", "shop", "--values", "/t/v.json", "--wait=watcher", "--timeout",
         "1m", "--replace"]),
])
def test_install_argv(major, expected):
    assert install_argv(major, "web", "shop", "oci://r/web", values_file="/t/v.json", timeout="1m", replace=True) == expected


@pytest.mark.parametrize("major, keep, dry_run, expected", [
    (3, True, False, ["uninstall", "web", "--namespace", "shop", "--keep-history", "--wait", "--timeout", "1m"]),
    (4, False, True, ["uninstall", "web", "--namespace", "shop", "--wait=watcher", "--timeout", "1m", "--dry-run"]),
])
def test_uninstall_argv(major, keep, dry_run, expected):
    assert uninstall_argv(major, "web", "shop", keep_history=keep, timeout="1m", dry_run=dry_run) == expected


def test_version_cache_is_keyed_by_path_size_and_mtime(tmp_path):
    cache = str(tmp_path / "cache" / "helm-versions.json")
    binary = tmp_path / "helm"
    binary.write_text("#!/bin/sh\n")
    identity = binary_identity(str(binary))
    assert cached_version(identity, cache) is None
    remember_version(identity, HelmVersion(3, 17, 3), cache)
    assert cached_version(identity, cache) == (3, 17, 3)
    assert json.load(open(cache)) == {identity: "3.17.3"}
    binary.write_text("#!/bin/sh\n# another build\n")  # replaced: another size and mtime, detected again
    assert binary_identity(str(binary)) != identity and cached_version(binary_identity(str(binary)), cache) is None
    assert binary_identity(str(tmp_path / "missing")) is None and cached_version(None, cache) is None


def test_a_broken_or_unwritable_cache_only_costs_a_detection(tmp_path):
    cache = tmp_path / "helm-versions.json"
    cache.write_text("{not json")
    assert cached_version("x|1|1", str(cache)) is None
    remember_version("x|1|1", HelmVersion(4, 3, 1), str(cache))  # replaces the broken file
    assert cached_version("x|1|1", str(cache)) == (4, 3, 1)
    blocked = tmp_path / "file"
    blocked.write_text("")
    remember_version("x|1|1", HelmVersion(4, 3, 1), os.path.join(str(blocked), "sub", "cache.json"))  # no error

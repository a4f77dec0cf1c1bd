# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keeps the temporary files of in-process module runs under each test's tmp_path."""

from __future__ import annotations

import tempfile

import pytest


@pytest.fixture(autouse=True)
def module_tmpdir_under_tmp_path(tmp_path, monkeypatch):
    # AnsibleModule creates its tmpdir lazily (a kubeconfig dict is written there) and removes it
    # at interpreter exit, which pytest-xdist workers never reach: without this, every run left
    # test kubeconfigs behind in /tmp.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

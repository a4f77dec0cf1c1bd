# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""helm_release_recover: what each step's write is checked for before Helm runs (the access reviews' input)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.matih.helm.plugins.module_utils.preflight import Write
from ansible_collections.matih.helm.plugins.module_utils.recovery import (
    REINSTALL, ROLLBACK_LAST_SUCCESSFUL, UPGRADE, Step,
)
from ansible_collections.matih.helm.plugins.module_utils.release import Revision
from ansible_collections.matih.helm.plugins.modules import helm_release_recover


def rev(number, status):
    return Revision(revision=number, updated=None, status=status, chart="web-1.0.0", chart_name="web",
                    chart_version="1.0.0", app_version="1.0", description="", operation="upgrade", rollback_to=None)


class Store(object):
    def manifest(self, name, namespace, revision):
        return "manifest of %d" % revision


def recovery(major=4):
    """A ReleaseRecovery with only what write_of() reads."""
    recovering = helm_release_recover.ReleaseRecovery.__new__(helm_release_recover.ReleaseRecovery)
    recovering.name, recovering.namespace, recovering.store = "web", "shop", Store()
    recovering.helm = SimpleNamespace(version=lambda: SimpleNamespace(major=major))
    recovering.params = {"wait": True}
    return recovering


HISTORY = [rev(1, "superseded"), rev(2, "deployed"), rev(3, "failed")]


@pytest.mark.parametrize("step, history, expected", [
    # a rollback: from the latest revision; every deployed revision superseded, the new one marked
    (Step(ROLLBACK_LAST_SUCCESSFUL, target_revision=2), HISTORY, Write(4, True, current="manifest of 3", records=(2, 4))),
    # an upgrade: from the last deployed revision (Helm's upgrade), which it supersedes
    (Step(UPGRADE), HISTORY, Write(4, True, current="manifest of 2", records=(2, 4))),
    # none deployed: from the latest
    (Step(UPGRADE), [rev(1, "failed")], Write(4, True, current="manifest of 1", records=(1, 2))),
    # a reinstall: the uninstall deletes the latest revision's objects; the install (--replace) marks the latest
    # (uninstalled) record superseded and stores the next one
    (Step(REINSTALL, keep_history=True), HISTORY,
     Write(4, True, current="manifest of 3", records=(3, 4), reinstall=True)),
    # without keep_history the uninstall deletes every record (by name), and the install starts at revision 1
    (Step(REINSTALL, keep_history=False), HISTORY,
     Write(4, True, current="manifest of 3", records=(1,), reinstall=True, purge=True, purged=(1, 2, 3))),
    # an uninstalled latest revision: nothing left to delete (no uninstall runs, so nothing is purged)
    (Step(REINSTALL, keep_history=False), [rev(1, "uninstalled")], Write(4, True, records=(1, 2), reinstall=True)),
    (Step(REINSTALL, keep_history=True), [rev(1, "superseded"), rev(2, "uninstalled")],
     Write(4, True, records=(2, 3), reinstall=True)),
])
def test_write_of(step, history, expected):
    assert recovery().write_of(step, history) == expected

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles' words for a recovery (documented in recovery_result.yml and recovery_failure.yml beside this one);
the logic is in module_utils/fleet.py, with its unit tests."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.matih.helm.plugins.module_utils import fleet


def _role(role):
    if role not in fleet.ROLE_VARIABLES:
        raise AnsibleFilterError("role must be one of %s, got %r" % (", ".join(sorted(fleet.ROLE_VARIABLES)), role))
    return role


def recovery_result(report, role):
    return fleet.role_report(dict(report or {}), _role(role))


def recovery_failure(report, role):
    return fleet.not_recovered(dict(report or {}), _role(role))


class FilterModule(object):
    def filters(self):
        return {
            "recovery_result": recovery_result,
            "recovery_failure": recovery_failure,
        }

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release_deploy role's decision as a filter (documented in deploy_result.yml); the logic is in
module_utils/deploy.py (the recovery's reasons in the role's words: module_utils/fleet.py), with their unit tests."""

from __future__ import annotations

from ansible_collections.matih.helm.plugins.module_utils.deploy import deploy_result as _deploy_result
from ansible_collections.matih.helm.plugins.module_utils.fleet import role_report


def deploy_result(deployed, before, verified, name, namespace, chart_ref, chart_version="", recover=True):
    result = _deploy_result(dict(deployed or {}), dict(before or {}), dict(verified or {}), name, namespace, chart_ref,
                            chart_version or "", bool(recover))
    if result["recovery"]:
        result["recovery"] = role_report(result["recovery"], "release_deploy")
    return result


class FilterModule(object):
    def filters(self):
        return {"deploy_result": deploy_result}

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""release_deploy's decision: did the deployment succeed, and was it handed over to recovery?"""

from __future__ import annotations

import pytest

from ansible_collections.matih.helm.plugins.module_utils.deploy import deploy_outcome, deploy_result

DEPLOYED = {"revision": 2, "status": "deployed", "chart_version": "1.1.0", "app_version": "1.1.0"}
FAILED = dict(DEPLOYED, status="failed")


@pytest.mark.parametrize("check_mode, failed, changed, latest, wanted, expected", [
    (False, False, True, DEPLOYED, "", ("deployed", "")),
    (False, False, False, DEPLOYED, "1.1.0", ("unchanged", "")),
    (False, True, True, DEPLOYED, "", ("failed", "boom")),
    (False, False, True, FAILED, "", ("failed", "latest revision is failed, not deployed")),
    (False, False, True, None, "", ("failed", "latest revision is missing, not deployed")),
    (False, False, True, DEPLOYED, "2.0.0", ("failed", "deployed chart version 1.1.0 is not 2.0.0")),
    (True, False, True, FAILED, "2.0.0", ("planned", "")),
    (True, False, False, DEPLOYED, "", ("unchanged", "")),
    (True, True, False, DEPLOYED, "", ("failed", "boom")),
])
def test_deploy_outcome(check_mode, failed, changed, latest, wanted, expected):
    assert deploy_outcome(check_mode, failed, changed, "boom", latest, wanted) == expected


@pytest.mark.parametrize("deployed, check_mode, recover, outcome, handed_over", [
    ({"changed": True}, False, True, "deployed", False),
    ({"changed": True, "failed": True, "msg": "timed out"}, False, True, "failed", True),
    ({"changed": True, "failed": True, "msg": "timed out"}, False, False, "failed", False),
    ({"changed": True}, True, True, "planned", False),
])
def test_deploy_result(deployed, check_mode, recover, outcome, handed_over):
    before = {"check_mode": check_mode, "before": dict(DEPLOYED, revision=1)}
    verified = {"before": DEPLOYED, "after": DEPLOYED, "actions": [], "report": {"outcome": "healthy"}}
    result = deploy_result(deployed, before, verified, "web", "shop", "./web", "", recover)
    assert (result["outcome"], result["recovery"] is not None) == (outcome, handed_over), result
    assert result["before"]["revision"] == 1 and result["after"] == DEPLOYED and result["check_mode"] is check_mode
    assert result["error"] == ("timed out" if deployed.get("failed") else "")

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release_deploy role's decision as a pure function: did the deployment succeed? The role reaches
it through the ``matih.helm.deploy_result`` filter; nothing here runs Helm."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple


def deploy_outcome(check_mode: bool, failed: bool, changed: bool, error: str, latest: Optional[Dict[str, Any]],
                   wanted_chart_version: str = "") -> Tuple[str, str]:
    """(outcome, error): ``deployed`` or ``unchanged`` when Helm succeeded, the latest revision is deployed and
    carries the requested chart version; ``planned``/``unchanged`` in check mode; else ``failed`` and why."""
    if failed:
        return "failed", error or "the deployment failed"
    if check_mode:
        return ("planned" if changed else "unchanged"), ""
    latest = latest or {}
    status = latest.get("status") or "missing"
    if status != "deployed":
        return "failed", "latest revision is %s, not deployed" % status
    if wanted_chart_version and (latest.get("chart_version") or "") != wanted_chart_version:
        return "failed", "deployed chart version %s is not %s" % (latest.get("chart_version") or "", wanted_chart_version)
    return ("deployed" if changed else "unchanged"), ""


def deploy_result(deployed: Dict[str, Any], before: Dict[str, Any], verified: Dict[str, Any], name: str,
                  namespace: str, chart_ref: str, chart_version: str = "", recover: bool = True) -> Dict[str, Any]:
    """``release_deploy_result``: ``deployed`` is the deploy task's result, ``before`` and ``verified`` the
    results of helm_release_recover before the deploy and after it (the verification, which also ran the
    recovery steps when the deployment failed). A failed deployment is handed over to recovery when
    ``recover`` (never in check mode); ``recovery`` is then that recovery's report."""
    check_mode = bool(before.get("check_mode"))
    failed = bool(deployed.get("failed"))
    changed = bool(deployed.get("changed"))
    outcome, error = deploy_outcome(check_mode, failed, changed, str(deployed.get("msg") or ""),
                                    verified.get("before"), chart_version)
    handed_over = outcome == "failed" and recover and not check_mode
    return {
        "release": name, "namespace": namespace, "check_mode": check_mode, "chart_ref": chart_ref,
        "chart_version": chart_version, "changed": changed, "outcome": outcome, "error": error.strip(),
        "before": before.get("before"), "after": verified.get("after"),
        "recovery": verified.get("report") if handed_over else None,
    }

# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet_remediation role's decisions as filters (documented in the fleet_*.yml files beside this one);
the logic is in module_utils/fleet.py, with its unit tests."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.inventory.manager import split_host_pattern

from ansible_collections.matih.helm.plugins.module_utils import fleet


def fleet_override_problems(overrides):
    return fleet.override_problems(overrides)


def fleet_plan(releases, scanned, max_unhealthy=None, canary=0):
    try:
        return fleet.fleet_plan(list(releases or []), int(scanned or 0), max_unhealthy, int(canary or 0))
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(str(error))


def fleet_outcome(recovery, release, host=""):
    return fleet.outcome_row(dict(recovery or {}), dict(release or {}), host)


def _rows(hosts, hostvars):
    return [fleet.host_row(host, _pick(hostvars[host], ("fleet_remediation_outcome", "fleet_remediation_release")))
            for host in hosts or []]


def fleet_canary_hold(canary_hosts, hostvars, host=""):
    """Why ``host`` is held: "" for a canary itself, else the canaries' verdict."""
    canary_hosts = list(canary_hosts or [])
    if host in canary_hosts:
        return ""
    return fleet.canary_hold(_rows(canary_hosts, hostvars))


def fleet_report(hosts, hostvars, held=None, namespaces=None, check_mode=False, generated_at="", report_dir="",
                 hold_reason="", problems=None):
    rows = _rows(hosts, hostvars) + list(held or [])
    return fleet.report(rows, list(namespaces or []), bool(check_mode), generated_at, report_dir, hold_reason,
                        list(problems or []))


def fleet_clusters(clusters, connection=None):
    return fleet.fleet_clusters(clusters, connection)


def fleet_event_connection(clusters, cluster, connection=None):
    return fleet.event_connection(clusters, cluster, connection)


def fleet_discovered(results):
    return fleet.fleet_discovered([dict(result or {}) for result in results or []])


def fleet_inventory_plan(hosts, hostvars, targets=None, max_unhealthy=None, canary=0):
    hosts, targets = list(hosts or []), list(targets or [])
    # the run's release hosts, and the targets out of the run (a Limit): their cluster counts for the brakes
    releases = {host: dict(hostvars[host]["helm_release"]) for host in dict.fromkeys(hosts + targets)
                if host in hostvars and "helm_release" in hostvars[host]}
    try:
        return fleet.inventory_plan(hosts, releases, targets, max_unhealthy, int(canary or 0))
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(str(error))


def fleet_host_pattern_problem(pattern, groups, variable="helm_recover_hosts"):
    try:
        terms = split_host_pattern(pattern)
    except Exception as error:  # pylint: disable=broad-exception-caught  # ansible-core's own words for a bad pattern
        return "%s '%s' is not a host pattern: %s" % (variable, pattern, error)
    return fleet.host_pattern_problem(terms, dict(groups or {}), str(pattern), variable)


def fleet_host_failure(row):
    return fleet.host_failure(dict(row or {}))


def _pick(variables, names):
    # Only the variables the row needs: templating every variable of every host would be slow.
    return {name: variables[name] for name in names if name in variables}


class FilterModule(object):
    def filters(self):
        return {
            "fleet_override_problems": fleet_override_problems,
            "fleet_plan": fleet_plan,
            "fleet_outcome": fleet_outcome,
            "fleet_canary_hold": fleet_canary_hold,
            "fleet_report": fleet_report,
            "fleet_clusters": fleet_clusters,
            "fleet_event_connection": fleet_event_connection,
            "fleet_discovered": fleet_discovered,
            "fleet_inventory_plan": fleet_inventory_plan,
            "fleet_host_failure": fleet_host_failure,
            "fleet_host_pattern_problem": fleet_host_pattern_problem,
        }

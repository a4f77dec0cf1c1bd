# -*- coding: utf-8 -*-
# Copyright: (c) 2025, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet decisions of the fleet_remediation role as pure functions: the override check, the safety
brakes (max_unhealthy, canary), the report rows and summary. The role reaches them through the
``matih.helm.fleet_*`` filters; nothing here runs Helm.

Also the words of the three roles' recovery messages (``role_terms``, ``role_report``,
``not_recovered``): helm_release_recover names its own options in its reasons (``set
unlock_pending=true``); a role that ran it names its own variables instead
(``fleet_remediation_unlock_pending=true``), through the ``matih.helm.recovery_*`` filters."""

from __future__ import annotations

import fnmatch
import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.matih.helm.plugins.module_utils.recovery import (
    DEFER, DEFERRED, FAILED, HEALTHY, HELD, OUTCOMES, PENDING, PLANNED, QUARANTINED, RECOVERED, UNINSTALLED,
    WOULD_FAIL, failure_verdict,
)

OVERRIDE_SETTINGS = ("strategies", "unlock_pending", "unlock_pending_after", "chart_ref", "chart_repo_url",
                     "chart_version", "values", "timeout", "clear_quarantine", "recover_uninstalled")
# namespace/name, or cluster/namespace/name (the host name of a release of several clusters)
_KEY = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# The connection options of the modules (module_utils/args.py CONNECTION_ARGS) and their aliases
CONNECTION_OPTIONS = ("binary_path", "kubeconfig", "kubeconfig_path", "context", "kube_context", "host", "api_key",
                      "ca_cert", "ssl_ca_cert", "validate_certs", "verify_ssl")
_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")

# The canary brake. A canary lets the other releases run only when it shows the way is safe: it was
# recovered (or was healthy already, or in check mode a step's preflight and dry run passed). A canary
# left alone on purpose, quarantined (it failed max_attempts times before) or uninstalled, was not tried
# and says nothing about the cluster either way: it is not counted. Any other outcome holds the rest: a
# failure, a check-mode would_fail, a pending release, and a deferred one (the cluster could not be
# reached, another actor holds it, or it is backing off after its own last failure), since a canary
# that could not run proves nothing and an outage is exactly what it is there to catch.
CANARY_PASSES = (RECOVERED, HEALTHY, PLANNED)
CANARY_NEUTRAL = (QUARANTINED, UNINSTALLED)
# Outcomes that need a person and fail the run (fail_on_unrecovered): no step brought the release back,
# none would (check mode), or it is quarantined after max_attempts failed recoveries. deferred (retried
# by the next run), pending, uninstalled and healthy do not.
NOT_RECOVERED = (FAILED, WOULD_FAIL, QUARANTINED)


def override_problems(overrides: Any) -> List[str]:
    """Why ``fleet_remediation_release_overrides`` cannot be used; empty when it can."""
    if not isinstance(overrides, dict):
        return ["must be a dictionary keyed \"namespace/name\", got %s" % type(overrides).__name__]
    problems = ["key '%s' is not namespace/name (or cluster/namespace/name)" % key for key in overrides
                if not _KEY.match(str(key))]
    problems += ["'%s' is not a dictionary of settings" % key for key, value in overrides.items()
                 if not isinstance(value, dict)]
    given = {str(setting) for value in overrides.values() if isinstance(value, dict) for setting in value}
    unknown = sorted(given.difference(OVERRIDE_SETTINGS))
    problems += ["unknown setting '%s'" % setting for setting in unknown]
    return problems


def unhealthy_limit(max_unhealthy: Any, scanned: int) -> Optional[int]:
    """``fleet_remediation_max_unhealthy`` as a number of releases: a count, or a percentage of the
    ``scanned`` releases (rounded down); None when off (null or empty). ValueError when malformed."""
    if max_unhealthy is None or max_unhealthy == "":
        return None
    if isinstance(max_unhealthy, bool):
        raise ValueError("fleet_remediation_max_unhealthy must be a number or a percentage such as \"20%%\", got %r"
                         % (max_unhealthy,))
    match = _LIMIT.match(str(max_unhealthy))
    if not match:
        raise ValueError("fleet_remediation_max_unhealthy must be a number or a percentage such as \"20%%\", got %r"
                         % (max_unhealthy,))
    number = float(match.group(1))
    if match.group(2):
        return int(number * scanned / 100.0)
    if number != int(number):
        raise ValueError("fleet_remediation_max_unhealthy must be a whole number of releases or a percentage, got %r"
                         % (max_unhealthy,))
    return int(number)


def fleet_plan(releases: Sequence[Dict[str, Any]], scanned: int, max_unhealthy: Any = None,
               canary: int = 0, unhealthy: Optional[int] = None) -> Dict[str, Any]:
    """Which unhealthy releases to recover, first (canary) or after, and which to hold.

    Over ``max_unhealthy`` every release is held: a cluster-wide cause (an API outage, a broken
    chart repository, a bad admission policy) is likelier than that many independent failures.
    The count is every release discovery listed, before any recovery: a release that its recovery
    will find quarantined or in its backoff is unhealthy all the same (discovery does not read the
    memory of attempts, one list per namespace is all it costs). ``unhealthy``, when given, is the
    count instead of ``len(releases)`` (inventory_plan: the unhealthy releases of the inventory, of
    which ``releases`` are the run's)."""
    limit = unhealthy_limit(max_unhealthy, scanned)
    canary = int(canary or 0)
    if canary < 0:
        raise ValueError("fleet_remediation_canary must be 0 (off) or more, got %d" % canary)
    ordered = sorted(releases, key=release_order)
    count = len(ordered) if unhealthy is None else max(int(unhealthy), len(ordered))
    if limit is not None and ordered and count > limit:
        reason = ("%d releases are unhealthy, more than fleet_remediation_max_unhealthy %s allows (%d of %d listed): "
                  "none was recovered, since a cluster-wide cause is likelier; find it, or raise "
                  "fleet_remediation_max_unhealthy" % (count, max_unhealthy, limit, scanned))
        return {"canary": [], "rest": [], "held": [held_row(release, reason) for release in ordered],
                "hold_reason": reason}
    return {"canary": ordered[:canary], "rest": ordered[canary:], "held": [], "hold_reason": ""}


def release_order(release: Dict[str, Any]):
    """Releases (and report rows) are ordered by cluster, namespace, then name."""
    return (release.get("cluster") or "", release.get("namespace") or "", release.get("name") or release.get("release") or "")


def host_name(release: Dict[str, Any]) -> str:
    """The inventory host of a release: namespace/name, cluster/namespace/name when it names its cluster."""
    key = "%s/%s" % (release.get("namespace"), release.get("name"))
    return "%s/%s" % (release["cluster"], key) if release.get("cluster") else key


def canary_hold(canary_rows: Sequence[Dict[str, Any]]) -> str:
    """The reason to hold the releases after the canaries, or "" when no canary says to (see
    CANARY_PASSES and CANARY_NEUTRAL)."""
    bad = [row for row in canary_rows
           if (row or {}).get("outcome") not in CANARY_PASSES + CANARY_NEUTRAL]
    if not bad:
        return ""
    names = ", ".join("%s (%s)" % (row_name(row), _outcome_words(row)) for row in bad)
    return ("canary release(s) not recovered: %s; the other releases were held (fleet_remediation_canary)" % names)


def _outcome_words(row: Dict[str, Any]) -> str:
    """``deferred: cluster_unreachable`` for a row with an error kind, else the outcome."""
    outcome = row.get("outcome", "no result")
    kind = row.get("error_kind")
    return "%s: %s" % (outcome, kind) if kind and outcome not in CANARY_PASSES else outcome


def held_row(release: Dict[str, Any], reason: str) -> Dict[str, Any]:
    state = listed_state(release)
    return with_cluster(with_listed_drift({"release": release.get("name"), "namespace": release.get("namespace"),
                                           "check_mode": False, "before": state, "after": state, "actions": [],
                                           "action": "none", "outcome": HELD, "reason": reason}, release), release)


def with_cluster(row: Dict[str, Any], release: Dict[str, Any]) -> Dict[str, Any]:
    """The row naming the release's cluster, when the run reaches several (or a named one)."""
    cluster = (release or {}).get("cluster")
    return dict(row, cluster=cluster) if cluster else row


def row_name(row: Dict[str, Any]) -> str:
    """namespace/release, or cluster/namespace/release for a row that names its cluster."""
    key = "%s/%s" % (row.get("namespace"), row.get("release"))
    return "%s/%s" % (row["cluster"], key) if row.get("cluster") else key


def with_listed_drift(row: Dict[str, Any], release: Dict[str, Any]) -> Dict[str, Any]:
    """The row with the drift discovery found, when the recovery made no check of its own (it was held,
    or it failed before one): the report's drift section lists every release found drifted."""
    if "drift" in row or not (release or {}).get("drift"):
        return row
    return dict(row, drift=release["drift"])


def listed_state(release: Dict[str, Any]) -> Dict[str, Any]:
    return {"revision": release.get("revision"), "status": release.get("status", "unknown"),
            "chart_version": release.get("chart_version"), "app_version": release.get("app_version")}


def outcome_row(recovery: Dict[str, Any], release: Dict[str, Any], host: str = "") -> Dict[str, Any]:
    """The report row of one release: its recovery's report, its reasons in the fleet role's words
    (``role_report``), or a row saying why there is none (the recovery task failed: Helm could not
    read the release, a bad option...). A task that failed on a transient error (the API server
    could not be reached or throttled, the lease was held; see recovery.failure_verdict) is a
    ``deferred`` row with its ``error_kind``: the next run retries it, nothing was escalated."""
    release = release or {}
    recovery = recovery or {}
    parts = host.split("/")
    namespace, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (host, "")
    # the key of the release in fleet_remediation_release_overrides: its host name
    key = host or "%s/%s" % (release.get("namespace", namespace), release.get("name", name))
    if recovery.get("report"):
        return with_cluster(with_listed_drift(role_report(recovery["report"], "fleet_remediation", key), release), release)
    state = listed_state(release)
    reason = recovery.get("msg") or "the recovery of this release did not report back (host failed or unreachable)"
    kind = recovery.get("error_kind") or ""
    outcome = DEFERRED if kind and failure_verdict(kind, False) == DEFER else FAILED
    if outcome == DEFERRED:
        reason = "%s; nothing was tried, retry later" % reason
    row = {"release": release.get("name", name), "namespace": release.get("namespace", namespace),
           "check_mode": bool(recovery.get("check_mode", False)), "before": state, "after": state, "actions": [],
           "action": "none", "outcome": outcome, "reason": role_terms(reason, "fleet_remediation", key)}
    if kind:
        row["error_kind"] = kind
    return with_cluster(with_listed_drift(row, release), release)


def host_row(host: str, variables: Dict[str, Any]) -> Dict[str, Any]:
    """The row a per-release host published (``fleet_remediation_outcome``), or a failed one."""
    return variables.get("fleet_remediation_outcome") or outcome_row({}, variables.get("fleet_remediation_release"), host)


def report(rows: Sequence[Dict[str, Any]], namespaces: Sequence[str], check_mode: bool, generated_at: str,
           report_dir: str, hold_reason: str = "", problems: Sequence[Dict[str, Any]] = ()) -> Dict[str, Any]:
    """The fleet report: ``summary`` (counts per outcome, the failed, held, deferred and quarantined
    releases, file paths), ``releases`` (the rows, sorted by namespace and release) and ``messages``
    (``counts``: the counts in words, ``not_recovered``: why the run fails, "" when it does not). A
    relative ``report_dir`` is taken from the directory ansible-playbook runs in (this process's), not
    the playbook's, where Ansible runs local modules: inside an installed collection for
    ``matih.helm.remediate``. ``problems``: what discovery could not read (a namespace, on a cluster), in the
    summary's ``discovery_problems``; they do not fail the run (the next run lists them again)."""
    report_dir = os.path.abspath(os.path.expanduser(report_dir)) if report_dir else ""
    ordered = sorted(rows, key=release_order)
    counts = {outcome: sum(1 for row in ordered if row.get("outcome") == outcome) for outcome in OUTCOMES}
    summary = dict(
        check_mode=bool(check_mode or any(row.get("check_mode") for row in ordered)),
        generated_at=generated_at, namespaces=list(namespaces), total=len(ordered), **counts)
    held_reasons = [row.get("reason") for row in ordered if row.get("outcome") == HELD]
    drifted = [drift_row(row) for row in ordered if (row.get("drift") or {}).get("drifted")]
    markdown = os.path.join(report_dir, "fleet-remediation.md") if report_dir else ""
    summary.update(
        drifted=len(drifted), drift=drifted,
        failed_releases=_names(ordered, FAILED), held_releases=_names(ordered, HELD),
        deferred_releases=_names(ordered, DEFERRED), quarantined_releases=_names(ordered, QUARANTINED),
        hold_reason=hold_reason or (held_reasons[0] if held_reasons else ""),
        discovery_problems=list(problems),
        report_json=os.path.join(report_dir, "fleet-remediation.json") if report_dir else "",
        report_markdown=markdown)
    messages = {"counts": counts_text(counts, len(ordered), len(drifted)),
                "not_recovered": not_recovered_text(ordered, "see " + markdown if markdown else "see the rows above")}
    return {"summary": summary, "releases": ordered, "messages": messages}


# How the summary line calls each outcome.
_COUNT_WORDS = {HEALTHY: "healthy again", PLANNED: "planned (check mode)", WOULD_FAIL: "would fail (check mode)",
                PENDING: "pending (left alone)", DEFERRED: "deferred (retry later)",
                QUARANTINED: "quarantined (left alone)", UNINSTALLED: "uninstalled (left alone)"}


def counts_text(counts: Dict[str, int], total: int, drifted: int = 0) -> str:
    """``3 unhealthy release(s) (1 drifted): 2 recovered, 1 deferred (retry later)``: the outcomes that
    occurred, in recovery.OUTCOMES order."""
    words = ["%d %s" % (counts[outcome], _COUNT_WORDS.get(outcome, outcome)) for outcome in OUTCOMES if counts.get(outcome)]
    return "%d unhealthy release(s)%s%s" % (total, " (%d drifted)" % drifted if drifted else "",
                                            (": " + ", ".join(words)) if words else "")


def not_recovered_text(rows: Sequence[Dict[str, Any]], see: str) -> str:
    """Why the report step fails the run (NOT_RECOVERED outcomes), naming the fleet role's variables;
    "" when no release needs a person."""
    bad = [row for row in rows if row.get("outcome") in NOT_RECOVERED]
    if not bad:
        return ""
    text = "Not recovered: %s (%s)" % (", ".join("%s %s" % (row_name(row), row.get("outcome")) for row in bad), see)
    if any(row.get("outcome") == QUARANTINED for row in bad):
        text += (". A quarantined release is left alone until its latest revision changes (a deployment), or until a "
                 "run with fleet_remediation_clear_quarantine=true (one release: clear_quarantine in "
                 "fleet_remediation_release_overrides)")
    return text


def drift_row(row: Dict[str, Any]) -> Dict[str, Any]:
    """The drift section's entry of a release found drifted: what drifted (objects and field paths,
    never values), and whether the repair left anything drifted (``still_drifted``; None when no
    repair ran: check mode, held, or the release changed meanwhile)."""
    drift = row["drift"]
    after = drift.get("after")
    return {"release": row_name(row), "revision": drift.get("revision"),
            "outcome": row.get("outcome"), "objects": list(drift.get("objects") or []),
            "still_drifted": bool(after.get("drifted")) if after else None}


def _names(rows: Sequence[Dict[str, Any]], outcome: str) -> List[str]:
    return [row_name(row) for row in rows if row.get("outcome") == outcome]


# --- several clusters, and inventory hosts -----------------------------------------------------------

def fleet_clusters(clusters: Any, connection: Any) -> Dict[str, Any]:
    """``fleet_remediation_clusters`` as ``clusters``: [{name, connection}]; when empty, the one cluster of
    ``fleet_remediation_connection`` (name ""). ``problems``: what is wrong with them (never a credential), and
    ``secret``: whether a connection carries a credential (an api_key, an inline kubeconfig), so the output of a
    task that repeats them must be hidden."""
    if not clusters:
        if connection is not None and not isinstance(connection, dict):
            return _reach([], ["fleet_remediation_connection must be a dictionary of connection options, got %s"
                               % type(connection).__name__])
        return _reach([{"name": "", "connection": dict(connection or {})}], [])
    if not isinstance(clusters, list):
        return _reach([], ["fleet_remediation_clusters must be a list of clusters, each a dictionary with a name and "
                           "connection options, got %s" % type(clusters).__name__])
    found, problems = [], []
    for index, cluster in enumerate(clusters):
        if not isinstance(cluster, dict) or not str(cluster.get("name") or "").strip():
            problems.append("clusters[%d] has no name (each cluster is a dictionary with a name and connection options)"
                            % index)
            continue
        name = str(cluster["name"])
        unknown = sorted(str(key) for key in cluster if key != "name" and key not in CONNECTION_OPTIONS)
        if unknown:
            problems.append("cluster %s has unknown option(s) %s; a cluster takes name and %s"
                            % (name, ", ".join(unknown), ", ".join(CONNECTION_OPTIONS)))
        if "/" in name or not re.match(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$", name):
            problems.append("cluster name %r must be letters, digits, '-', '_' and '.' (it prefixes host names)" % name)
        if name in [one["name"] for one in found]:
            problems.append("two clusters are named %s; give each a name of its own" % name)
        found.append({"name": name, "connection": {key: value for key, value in cluster.items() if key != "name"}})
    return _reach(found, problems)


# What the helm_releases event source names the one cluster it watches when given no clusters
EVENT_DEFAULT_CLUSTER = "default"


def event_connection(clusters: Any, cluster: Any, connection: Any) -> Dict[str, Any]:
    """The connection options of the cluster an event of the ``helm_releases`` event source names: the entry of
    ``clusters`` (the source's own ``clusters``) of that name, or ``connection`` when ``clusters`` is empty (the
    source then watches one cluster, which its events name ``default``). ``problem``: why there is none (never a
    credential); ``secret`` as fleet_clusters says it."""
    reach = fleet_clusters(clusters, connection)
    if reach["problems"]:
        return {"connection": {}, "problem": "; ".join(reach["problems"]), "secret": reach["secret"]}
    if not clusters:
        if cluster != EVENT_DEFAULT_CLUSTER:
            # another cluster's release of the same name must never be taken for it
            return {"connection": {}, "secret": reach["secret"], "problem": (
                "the event names cluster %r, and no clusters were given (only the source's one cluster, %r, is "
                "known); give the playbook the clusters the event source watches" % (cluster, EVENT_DEFAULT_CLUSTER))}
        return {"connection": reach["clusters"][0]["connection"], "problem": "", "secret": reach["secret"]}
    for entry in reach["clusters"]:
        if entry["name"] == cluster:
            return {"connection": entry["connection"], "problem": "", "secret": reach["secret"]}
    return {"connection": {}, "secret": reach["secret"], "problem": (
        "the event names cluster %r, which is none of the clusters given (%s); give the playbook the clusters the "
        "event source watches" % (cluster, ", ".join(entry["name"] for entry in reach["clusters"])))}


def _reach(clusters: List[Dict[str, Any]], problems: List[str]) -> Dict[str, Any]:
    secret = any("api_key" in cluster["connection"] or isinstance(cluster["connection"].get("kubeconfig"), dict)
                 for cluster in clusters)
    return {"clusters": clusters if not problems else [], "problems": problems, "secret": secret}


def fleet_discovered(results: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The discovery of every cluster (the results of a helm_release_list task looped over fleet_clusters, each
    with its ``item``) as one: ``releases`` (each naming its ``cluster`` and ``host`` when the run reaches several
    clusters; not those whose drift could not be checked, which are among the problems), ``scanned`` (every
    cluster's), ``problems`` (what could not be read, naming the cluster),
    ``drift_scan`` (summed, or None), ``connections`` ({cluster: connection options}), ``secret`` (whether a
    connection carries a credential, so task output naming it must be hidden), and ``error`` ({msg, error_kind}
    of the first cluster whose discovery failed, naming it; None when none did)."""
    several = len(results) > 1
    releases, problems, connections, error = [], [], {}, None
    scanned, drift, secret = 0, None, False
    for result in results:
        cluster = (result.get("item") or {}).get("name") or ""
        connection = (result.get("item") or {}).get("connection") or {}
        connections[cluster] = connection
        secret = secret or "api_key" in connection or isinstance(connection.get("kubeconfig"), dict)
        if result.get("failed"):
            if error is None:
                msg = result.get("msg") or "discovery failed"
                error = {"msg": ("cluster %s: %s" % (cluster, msg)) if several else msg,
                         "error_kind": result.get("error_kind") or "invalid_input"}
            continue
        scanned += int(result.get("scanned") or 0)
        for release in result.get("releases") or []:
            if release.get("error_kind"):  # its drift could not be checked: reported in problems, nothing to recover
                continue
            release = dict(release, cluster=cluster) if cluster else dict(release)
            if several:
                release["host"] = host_name(release)
            else:
                release["host"] = "%s/%s" % (release.get("namespace"), release.get("name"))
            releases.append(release)
        problems += [dict(problem, cluster=cluster) if cluster else dict(problem) for problem in result.get("problems") or []]
        if result.get("drift_scan") is not None:
            drift = {key: (drift or {}).get(key, 0) + int(value or 0) for key, value in result["drift_scan"].items()}
    releases.sort(key=release_order)
    return {"releases": releases, "scanned": scanned, "problems": problems, "drift_scan": drift,
            "connections": connections, "secret": secret, "error": error}


def inventory_plan(hosts: Sequence[str], releases: Dict[str, Dict[str, Any]], targets: Sequence[str],
                   max_unhealthy: Any = None, canary: int = 0) -> Dict[str, Any]:
    """The brakes over inventory hosts (matih.helm.recover): ``hosts`` are the run's release hosts (after a Limit,
    or a job slice's share), ``releases`` the helm_release variables by host (of ``hosts``, and of the ``targets``
    out of the run), ``targets`` the hosts to recover (the play's pattern over the whole inventory: a Limit does
    not narrow it). fleet_plan's plan with hosts instead of releases (``canary``, ``rest``), ``held`` rows (and
    ``held_hosts``: each held host's row), ``hold_reason``, ``namespaces`` (of the targets of the run), and
    ``scanned``/``unhealthy``: what ``max_unhealthy`` counted (``brake_counts``).

    A percentage in ``max_unhealthy`` is of the releases of the clusters of the run, whatever the Limit or slice:
    see brake_counts. ``canary`` picks the first targets of the run."""
    wanted = set(targets)
    run = [host for host in hosts if host in releases]
    chosen = [dict(releases[host], host=host) for host in run if host in wanted]
    scanned, unhealthy = brake_counts(run, releases, targets)
    plan = fleet_plan(chosen, scanned, max_unhealthy, canary, unhealthy)
    held_hosts = dict(zip([release["host"] for release in sorted(chosen, key=release_order)], plan["held"]))
    return {"canary": [release["host"] for release in plan["canary"]], "rest": [release["host"] for release in plan["rest"]],
            "held": plan["held"], "held_hosts": held_hosts if plan["held"] else {}, "hold_reason": plan["hold_reason"],
            "namespaces": sorted({release.get("namespace") for release in chosen if release.get("namespace")}),
            "scanned": scanned, "unhealthy": unhealthy}


def _cluster_releases(release: Dict[str, Any]) -> Optional[int]:
    """helm_release.cluster_releases (the releases the inventory discovered in the host's cluster, before its
    statuses and name filters) as a number; None when absent or not a count (a static inventory)."""
    value = (release or {}).get("cluster_releases")
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def brake_counts(run: Sequence[str], releases: Dict[str, Dict[str, Any]], targets: Sequence[str]):
    """(scanned, unhealthy): what a percentage in max_unhealthy is taken of, and what it is compared with, summed
    over the clusters of the ``run``'s release hosts. For a cluster whose hosts have ``cluster_releases``: that many
    releases, and the unhealthy ones are the ``targets`` of that cluster in the whole inventory. So a Limit, a
    relaunch on failed hosts or the whole inventory get the same answer (an AWX slice's inventory holds only the
    slice's hosts: its own targets count). For a cluster without it (a static inventory): the run's hosts of that
    cluster, and its targets among them, the brakes counting within the run as before."""
    wanted = set(targets)

    def cluster(host):
        return releases[host].get("cluster") or ""

    known: Dict[str, int] = {}
    for host in run:
        number = _cluster_releases(releases[host])
        if number is not None:
            known[cluster(host)] = max(known.get(cluster(host), 0), number)
    scanned = unhealthy = 0
    for name in sorted({cluster(host) for host in run}):
        run_hosts = [host for host in run if cluster(host) == name]
        if name in known:
            counted = len({host for host in wanted if host in releases and cluster(host) == name})
            total = known[name]
        else:
            counted = len([host for host in run_hosts if host in wanted])
            total = len(run_hosts)
        scanned += max(total, counted, len(run_hosts))
        unhealthy += counted
    return scanned, unhealthy


# A host pattern's term with a subscript (group[0], group[1:3]), as ansible-core's inventory manager reads it
_SUBSCRIPT = re.compile(r"^(.+)\[(?:-?[0-9]+|[0-9]+[:-][0-9]*)\]$")


def host_pattern_problem(terms: Sequence[str], groups: Dict[str, Sequence[str]], pattern: str = "",
                         variable: str = "helm_recover_hosts") -> str:
    """Why the host pattern ``pattern`` (its ``terms`` as ansible-core splits it) names nothing that exists: the
    terms that are no group and no host of the inventory (``groups``: the ``groups`` variable, the whole inventory
    whatever the Limit), a wildcard or a ~regex that matches none. "" when every term names something, even an
    empty group (then there is nothing to do). A typo of helm_unhealthy (a group the inventory plugin always makes)
    would otherwise recover nothing and pass."""
    groups = dict(groups or {})
    names = set(groups) | {host for members in groups.values() for host in (members or [])} | {"localhost"}
    unknown = []
    for term in terms or []:
        word = str(term).strip().lstrip("&!")
        if not word:
            continue
        if not word.startswith("~"):
            word = _SUBSCRIPT.sub(r"\1", word)
        try:
            regex = re.compile(word[1:]) if word.startswith("~") else (
                re.compile(fnmatch.translate(word)) if any(char in word for char in "*?[") else None)
        except re.error:
            continue  # ansible-core reports an invalid pattern itself
        if not (any(regex.match(name) for name in names) if regex else word in names):
            unknown.append(str(term).strip())
    if not unknown:
        return ""
    known = sorted(group for group in groups if group not in ("all", "ungrouped"))
    shown = ", ".join(known[:40]) + (" and %d more" % (len(known) - 40) if len(known) > 40 else "")
    return ("%s '%s' names no group or host of the inventory: %s. Its groups: %s (helm_unhealthy: the failed and "
            "pending releases; helm_<status>, helm_namespace_<namespace>, helm_cluster_<cluster>; or a host "
            "cluster/namespace/name)" % (variable, pattern or ",".join(str(term) for term in terms),
                                         ", ".join(unknown), shown or "none"))


def host_failure(row: Dict[str, Any]) -> str:
    """Why the host of a recovered release fails (matih.helm.recover: "relaunch on failed hosts" relaunches exactly
    those): a NOT_RECOVERED outcome, or held by a brake; "" for every other outcome (deferred included: the next
    run retries it)."""
    row = row or {}
    if row.get("outcome") not in NOT_RECOVERED + (HELD,):
        return ""
    return "Release %s %s: %s" % (row_name(row), row.get("outcome"), row.get("reason") or "no reason given")


# --- the roles' words ---------------------------------------------------------------------------

# The helm_release_recover options a reason may name, and what the role that ran it calls each. An
# option a role does not expose keeps the module's name. release_deploy's unlock_pending is its
# on_pending choice; the fleet's chart and values are per release, in the overrides ({key}: namespace/name).
_ROLE_OPTIONS = ("unlock_pending_after", "unlock_pending", "chart_repo_url", "chart_ref", "chart_version", "values",
                 "strategies", "timeout", "wait_for_jobs", "cleanup_on_fail", "history_max", "keep_history",
                 "max_attempts", "backoff", "clear_quarantine", "recover_uninstalled", "detect_drift",
                 "drift_ignore_fields")
_FLEET_PER_RELEASE = ("chart_ref", "chart_repo_url", "chart_version", "values")
ROLE_VARIABLES = {
    "release_recovery": {option: "release_recovery_" + option for option in _ROLE_OPTIONS},
    "fleet_remediation": dict(
        {option: "fleet_remediation_" + option for option in _ROLE_OPTIONS if option not in _FLEET_PER_RELEASE},
        **{option: "fleet_remediation_release_overrides['{key}']." + option for option in _FLEET_PER_RELEASE}),
    "release_deploy": {
        "unlock_pending": "release_deploy_on_pending=recover", "strategies": "release_deploy_recovery_strategies",
        "chart_ref": "release_deploy_recovery_chart_ref", "chart_repo_url": "release_deploy_chart_repo_url",
        "timeout": "release_deploy_timeout", "wait_for_jobs": "release_deploy_wait_for_jobs",
        "cleanup_on_fail": "release_deploy_cleanup_on_fail", "history_max": "release_deploy_history_max",
        "max_attempts": "release_deploy_recovery_max_attempts", "backoff": "release_deploy_recovery_backoff",
        "clear_quarantine": "release_deploy_recovery_clear_quarantine",
    },
}
# An option name with an underscore is an option wherever it stands; a one-word one (values, timeout,
# backoff, strategies) only as option=value, since as a word it is also prose and Helm's error text.
_OPTION_WORD = re.compile(r"(?<![\w.'\[])(%s)(=[^\s,;)]*)?(?![\w])" % "|".join(_ROLE_OPTIONS))


def role_terms(text: str, role: str, key: str = "") -> str:
    """``text`` (a helm_release_recover reason) with the options it names replaced by the variables
    of ``role`` (release_recovery, fleet_remediation or release_deploy): ``set unlock_pending=true``
    becomes ``set fleet_remediation_unlock_pending=true``. ``key`` (namespace/name) names the release in
    the fleet's per-release overrides. An unknown role leaves the text as it is."""
    table = ROLE_VARIABLES.get(role)
    if not table or not text:
        return text

    def replace(match):
        option, value = match.group(1), match.group(2) or ""
        if option not in table or ("_" not in option and not value):
            return match.group(0)
        variable = table[option].replace("{key}", key or "<namespace>/<name>")
        return variable if "=" in variable else variable + value

    return _OPTION_WORD.sub(replace, text)


def role_report(report: Dict[str, Any], role: str, key: str = "") -> Dict[str, Any]:
    """A copy of helm_release_recover's ``report`` with its reasons (the release's and each skipped
    step's) in the words of ``role`` (``role_terms``); Helm's errors and the memory's recorded reason are
    kept as they are. ``key`` defaults to the report's namespace/name."""
    report = dict(report or {})
    key = key or "%s/%s" % (report.get("namespace"), report.get("release"))
    if report.get("reason"):
        report["reason"] = role_terms(report["reason"], role, key)
    if report.get("actions"):
        report["actions"] = [dict(action, reason=role_terms(action["reason"], role, key)) if action.get("reason")
                             else action for action in report["actions"]]
    return report


def not_recovered(report: Dict[str, Any], role: str) -> str:
    """The message a single-release role fails with when ``report``'s outcome needs a person
    (NOT_RECOVERED: failed, would_fail, quarantined), in the words of ``role``; "" otherwise."""
    report = report or {}
    if report.get("outcome") not in NOT_RECOVERED:
        return ""
    key = "%s/%s" % (report.get("namespace"), report.get("release"))
    return "Release %s was not recovered (%s): %s. Actions: %s" % (
        key, report["outcome"], role_terms(report.get("reason") or "", role, key),
        json.dumps(report.get("actions") or [], sort_keys=True))

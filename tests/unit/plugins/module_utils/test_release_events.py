# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""release_events: from LISTs and watch events of Helm's release Secrets to the events a rulebook gets: changes,
the initial unhealthy releases, stale pending revisions, no duplicates, the burst brake; and the watch loop's
decisions (after an error, the wait before a retry) and the options. The cases turn repeats off
(``repeat_after`` 0) unless they are about them."""

from __future__ import annotations

import pytest

from ansible_collections.matih.helm.plugins.module_utils import release_events
from ansible_collections.matih.helm.plugins.module_utils.release_events import (
    GIVE_UP, RELIST, RETRY, ReleaseEvents, Scope, Settings,
)

T0 = 1767348000.0  # 2026-01-02T10:00:00Z
PROD = Scope("prod")
NO_BRAKE = dict(burst_limit=0)


def secret(namespace, name, version, status, modified_at=T0):
    labels = {"owner": "helm", "name": name, "status": status, "version": str(version)}
    if modified_at is not None:
        labels["modifiedAt"] = str(int(modified_at))
    return {"metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, version), "namespace": namespace,
                         "labels": labels, "resourceVersion": "1", "creationTimestamp": "2026-01-01T10:00:00Z"}}


def listed(t, *items, scope=PROD):
    return ("listed", scope, list(items), t)


def watched(t, event_type, item, scope=PROD):
    return ("observed", scope, event_type, item, t)


def due(t):
    return ("due", t)


def brief(event):
    """An event in a line: (type, reason, cluster/namespace/release, revision, status, previous revision,
    previous status); a burst as (burst, count, [cluster/namespace/release, ...])."""
    fields = event["helm_release"]
    if fields["type"] == "burst":
        names = ["%s/%s/%s" % (one["cluster"], one["namespace"], one["release"]) for one in fields["releases"]]
        return ("burst", fields["count"], names)
    return (fields["type"], fields["reason"], "%s/%s/%s" % (fields["cluster"], fields["namespace"], fields["release"]),
            fields["revision"], fields["status"], fields["previous_revision"], fields["previous_status"])


def run(steps, **settings):
    """[(time, brief event)] of every event the steps make, in order; no repeats unless ``repeat_after`` is given."""
    tracker = ReleaseEvents(Settings(**dict(dict(repeat_after=0), **settings)))
    emitted = []
    for step in steps:
        if step[0] == "listed":
            events = tracker.listed(step[1], step[2], step[3])
        elif step[0] == "observed":
            events = tracker.observed(step[1], step[2], step[3], step[4])
        else:
            events = tracker.due(step[1])
        emitted += [(step[-1], brief(event)) for event in events]
    return emitted


def changed(release, revision, status, previous_revision=None, previous_status=None, cluster="prod", reason="changed"):
    return ("release_status", reason, "%s/%s" % (cluster, release), revision, status, previous_revision, previous_status)


def initial(release, revision, status, cluster="prod"):
    return changed(release, revision, status, cluster=cluster, reason="initial")


def stale(release, revision, status, previous_revision=None, previous_status=None, reason="pending_stale"):
    return ("pending_stale", reason, "prod/%s" % release, revision, status, previous_revision, previous_status)


def repeat(release, revision, status, previous_revision=None, previous_status=None, event_type="release_status"):
    return (event_type, "repeat", "prod/%s" % release, revision, status, previous_revision, previous_status)


CASES = [
    ("initial: the unhealthy releases at start, not the healthy ones",
     NO_BRAKE, [listed(T0, secret("shop", "web", 3, "failed"), secret("shop", "cart", 2, "pending-upgrade"),
                       secret("shop", "api", 1, "deployed"), secret("shop", "web", 2, "superseded"))],
     [(T0, initial("shop/cart", 2, "pending-upgrade")), (T0, initial("shop/web", 3, "failed"))]),
    ("initial: only unhealthy statuses, even when deployed is asked for",
     dict(NO_BRAKE, statuses=("deployed", "failed")),
     [listed(T0, secret("shop", "api", 1, "deployed"), secret("shop", "cart", 2, "pending-upgrade"))], []),
    ("initial false: nothing at start, changes afterwards",
     dict(NO_BRAKE, initial=False),
     [listed(T0, secret("shop", "web", 3, "failed")), watched(T0 + 5, "ADDED", secret("shop", "web", 4, "failed"))],
     [(T0 + 5, changed("shop/web", 4, "failed", 3, "failed"))]),
    ("an upgrade that fails: pending then failed, the previous revision's update changes nothing",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 5, "pending-upgrade")),
      watched(T0 + 2, "MODIFIED", secret("shop", "web", 5, "failed")),
      watched(T0 + 3, "MODIFIED", secret("shop", "web", 4, "superseded"))],
     [(T0 + 1, changed("shop/web", 5, "pending-upgrade", 4, "deployed")),
      (T0 + 2, changed("shop/web", 5, "failed", 5, "pending-upgrade"))]),
    ("a status not asked for makes no event, and is still the previous one of the next",
     dict(NO_BRAKE, statuses=("failed",)),
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 5, "pending-upgrade")),
      watched(T0 + 2, "MODIFIED", secret("shop", "web", 5, "failed"))],
     [(T0 + 2, changed("shop/web", 5, "failed", 5, "pending-upgrade"))]),
    ("deployed asked for: a recovery is seen",
     dict(NO_BRAKE, statuses=("failed", "deployed")),
     [listed(T0, secret("shop", "web", 5, "failed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 6, "pending-rollback")),
      watched(T0 + 2, "MODIFIED", secret("shop", "web", 6, "deployed"))],
     [(T0, initial("shop/web", 5, "failed")), (T0 + 2, changed("shop/web", 6, "deployed", 6, "pending-rollback"))]),
    ("no duplicates: the same change twice, and a LIST that repeats it",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 5, "failed")),
      watched(T0 + 2, "MODIFIED", secret("shop", "web", 5, "failed")),
      listed(T0 + 3, secret("shop", "web", 4, "superseded"), secret("shop", "web", 5, "failed"))],
     [(T0 + 1, changed("shop/web", 5, "failed", 4, "deployed"))]),
    ("a LIST after 410 emits only what changed meanwhile; new healthy and vanished releases make none",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 5, "failed"), secret("shop", "cart", 2, "deployed"),
             secret("shop", "old", 1, "deployed")),
      listed(T0 + 60, secret("shop", "web", 5, "failed"), secret("shop", "cart", 3, "failed"),
             secret("shop", "api", 1, "deployed"))],
     [(T0, initial("shop/web", 5, "failed")), (T0 + 60, changed("shop/cart", 3, "failed", 2, "deployed"))]),
    ("a LIST after 410: failed then rolled back meanwhile is one deployed change",
     dict(NO_BRAKE, statuses=("failed", "deployed")),
     [listed(T0, secret("shop", "web", 4, "deployed")),
      listed(T0 + 60, secret("shop", "web", 5, "failed"), secret("shop", "web", 6, "deployed"))],
     [(T0 + 60, changed("shop/web", 6, "deployed", 4, "deployed"))]),
    ("a namespace's LIST leaves the other namespaces' releases alone",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 5, "failed"), scope=Scope("prod", "shop")),
      listed(T0, secret("billing", "api", 2, "failed"), scope=Scope("prod", "billing")),
      listed(T0 + 60, scope=Scope("prod", "shop")),
      listed(T0 + 61, secret("billing", "api", 2, "failed"), scope=Scope("prod", "billing"))],
     [(T0, initial("shop/web", 5, "failed")), (T0, initial("billing/api", 2, "failed"))]),
    ("two clusters with the same release are two releases",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 5, "failed")), listed(T0, secret("shop", "web", 5, "failed"), scope=Scope("dr"))],
     [(T0, initial("shop/web", 5, "failed")), (T0, initial("shop/web", 5, "failed", cluster="dr"))]),
    ("uninstalled (every revision deleted) and installed again: its events start afresh",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 1, "failed")),
      watched(T0 + 1, "DELETED", secret("shop", "web", 1, "uninstalling")),
      watched(T0 + 2, "ADDED", secret("shop", "web", 1, "failed"))],
     [(T0, initial("shop/web", 1, "failed")), (T0 + 2, changed("shop/web", 1, "failed"))]),
    ("history pruned (an old revision deleted) changes nothing",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 1, "superseded"), secret("shop", "web", 2, "failed")),
      watched(T0 + 1, "DELETED", secret("shop", "web", 1, "superseded"))],
     [(T0, initial("shop/web", 2, "failed"))]),
    ("the latest revision deleted by hand: the failed one before it is not reported twice",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 5, "failed")),
      watched(T0 + 2, "ADDED", secret("shop", "web", 6, "failed")),
      watched(T0 + 3, "DELETED", secret("shop", "web", 6, "failed"))],
     [(T0 + 1, changed("shop/web", 5, "failed", 4, "deployed")), (T0 + 2, changed("shop/web", 6, "failed", 5, "failed"))]),
    ("the latest revision deleted (helm uninstall, one by one): the older failed one is not reported again",
     dict(NO_BRAKE, repeat_after=600),
     [listed(T0, secret("shop", "web", 9, "failed"), secret("shop", "web", 10, "superseded"),
             secret("shop", "web", 11, "deployed")),
      watched(T0 + 1, "MODIFIED", secret("shop", "web", 11, "uninstalling")),
      watched(T0 + 2, "DELETED", secret("shop", "web", 11, "uninstalling")),
      watched(T0 + 3, "DELETED", secret("shop", "web", 10, "superseded")), due(T0 + 5000),
      watched(T0 + 5001, "DELETED", secret("shop", "web", 9, "failed"))],
     []),
    ("the latest revision deleted: back to an older one, then a new revision is reported as ever",
     NO_BRAKE,
     [listed(T0, secret("shop", "web", 10, "failed"), secret("shop", "web", 11, "deployed")),
      watched(T0 + 1, "DELETED", secret("shop", "web", 11, "deployed")),
      watched(T0 + 2, "ADDED", secret("shop", "web", 11, "failed"))],
     [(T0 + 2, changed("shop/web", 11, "failed", 10, "failed"))]),
    ("the latest revision deleted: an older pending one left latest is not reported stale",
     dict(NO_BRAKE, stale_pending_after=600),
     [listed(T0, secret("shop", "web", 5, "pending-upgrade"), secret("shop", "web", 6, "deployed")),
      watched(T0 + 1, "DELETED", secret("shop", "web", 6, "deployed")), due(T0 + 5000)],
     []),
    ("bookmarks and Secrets that are not Helm records make nothing",
     NO_BRAKE,
     [listed(T0, {"metadata": {"name": "x", "namespace": "shop", "labels": {"owner": "helm"}}}),
      watched(T0 + 1, "BOOKMARK", {"metadata": {"resourceVersion": "9"}}),
      watched(T0 + 2, "ADDED", {"metadata": {"name": "y", "namespace": "shop", "labels": {"name": "web"}}})],
     []),
    # --- stale pending revisions
    ("a pending revision unchanged for stale_pending_after: pending_stale once",
     dict(NO_BRAKE, stale_pending_after=600),
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0, "ADDED", secret("shop", "web", 5, "pending-upgrade")),
      due(T0 + 599), due(T0 + 600), due(T0 + 1200)],
     [(T0, changed("shop/web", 5, "pending-upgrade", 4, "deployed")),
      (T0 + 600, stale("shop/web", 5, "pending-upgrade", 4, "deployed"))]),
    ("stale from the Secret's modifiedAt: stale already at start",
     dict(NO_BRAKE, stale_pending_after=600),
     [listed(T0, secret("shop", "web", 5, "pending-install", modified_at=T0 - 3600))],
     [(T0, initial("shop/web", 5, "pending-install")), (T0, stale("shop/web", 5, "pending-install"))]),
    ("a pending revision the watch saw counts from then, not from a modifiedAt 20 minutes behind (writer's clock)",
     dict(NO_BRAKE, stale_pending_after=600, statuses=("failed",)),
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0 + 5, "ADDED", secret("shop", "web", 5, "pending-upgrade", modified_at=T0 + 5 - 1200)),
      due(T0 + 5), due(T0 + 604), due(T0 + 605)],
     [(T0 + 605, stale("shop/web", 5, "pending-upgrade", 4, "deployed"))]),
    ("a pending revision found by a LIST after 410 counts from its modifiedAt",
     dict(NO_BRAKE, stale_pending_after=600, statuses=("failed",)),
     [listed(T0, secret("shop", "web", 4, "deployed")),
      listed(T0 + 300, secret("shop", "web", 5, "pending-upgrade", modified_at=T0 + 100)), due(T0 + 699),
      due(T0 + 700)],
     [(T0 + 700, stale("shop/web", 5, "pending-upgrade", 4, "deployed"))]),
    ("a modifiedAt in the future (clocks differ) counts from when it was first seen",
     dict(NO_BRAKE, stale_pending_after=600, statuses=("failed",)),
     [listed(T0, secret("shop", "web", 5, "pending-install", modified_at=T0 + 3600)), due(T0 + 600)],
     [(T0 + 600, stale("shop/web", 5, "pending-install"))]),
    ("initial false: stale already at start is not reported, a later one is",
     dict(NO_BRAKE, stale_pending_after=600, initial=False),
     [listed(T0, secret("shop", "web", 5, "pending-install", modified_at=T0 - 3600),
             secret("shop", "cart", 2, "pending-upgrade")),
      due(T0 + 600)],
     [(T0 + 600, stale("shop/cart", 2, "pending-upgrade"))]),
    ("stale, then failed: both, once each",
     dict(NO_BRAKE, stale_pending_after=600, statuses=("failed",)),
     [listed(T0, secret("shop", "web", 5, "pending-upgrade")), due(T0 + 600),
      watched(T0 + 700, "MODIFIED", secret("shop", "web", 5, "failed")), due(T0 + 2000)],
     [(T0 + 600, stale("shop/web", 5, "pending-upgrade")),
      (T0 + 700, changed("shop/web", 5, "failed", 5, "pending-upgrade"))]),
    ("stale_pending_after 0: no pending_stale",
     dict(NO_BRAKE, stale_pending_after=0, statuses=("failed",)),
     [listed(T0, secret("shop", "web", 5, "pending-upgrade", modified_at=T0 - 86400)), due(T0 + 86400)], []),
    # --- repeats
    ("repeat: a failure emitted is emitted again every repeat_after until the release changes",
     dict(NO_BRAKE, repeat_after=600),
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 5, "failed")), due(T0 + 600), due(T0 + 601), due(T0 + 1000),
      watched(T0 + 1100, "MODIFIED", secret("shop", "web", 5, "failed")), due(T0 + 1201),
      watched(T0 + 1300, "ADDED", secret("shop", "web", 6, "deployed")), due(T0 + 5000)],
     [(T0 + 1, changed("shop/web", 5, "failed", 4, "deployed")), (T0 + 601, repeat("shop/web", 5, "failed", 4, "deployed")),
      (T0 + 1201, repeat("shop/web", 5, "failed", 4, "deployed"))]),
    ("repeat: initial failures and pending_stale too, each as its type; a change replaces what is repeated",
     dict(NO_BRAKE, repeat_after=600, stale_pending_after=600, statuses=("failed",)),
     [listed(T0, secret("shop", "web", 5, "pending-install", modified_at=T0 - 3600), secret("shop", "cart", 2, "failed")),
      due(T0 + 600), watched(T0 + 700, "MODIFIED", secret("shop", "web", 5, "failed")), due(T0 + 1200), due(T0 + 1300)],
     [(T0, initial("shop/cart", 2, "failed")), (T0, stale("shop/web", 5, "pending-install")),
      (T0 + 600, repeat("shop/cart", 2, "failed")), (T0 + 600, repeat("shop/web", 5, "pending-install",
                                                                      event_type="pending_stale")),
      (T0 + 700, changed("shop/web", 5, "failed", 5, "pending-install")),
      (T0 + 1200, repeat("shop/cart", 2, "failed")), (T0 + 1300, repeat("shop/web", 5, "failed", 5, "pending-install"))]),
    ("repeat: pending-* and deployed events, and what initial false left unsaid, are not repeated",
     dict(NO_BRAKE, repeat_after=600, stale_pending_after=0, statuses=("failed", "pending", "deployed"), initial=False),
     [listed(T0, secret("shop", "cart", 2, "failed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 1, "pending-install")),
      watched(T0 + 2, "ADDED", secret("shop", "api", 1, "deployed")), due(T0 + 5000)],
     [(T0 + 1, changed("shop/web", 1, "pending-install")), (T0 + 2, changed("shop/api", 1, "deployed"))]),
    ("repeat 0: no repeats",
     dict(NO_BRAKE, repeat_after=0),
     [listed(T0, secret("shop", "web", 5, "failed")), due(T0 + 86400)],
     [(T0, initial("shop/web", 5, "failed"))]),
    ("repeat and the brake: repeats neither held nor counted, a release held back never repeated",
     dict(burst_limit=2, burst_hold=0, burst_window=300, repeat_after=100),
     [listed(T0),
      watched(T0, "ADDED", secret("a", "web", 1, "failed")),
      watched(T0, "ADDED", secret("b", "web", 1, "failed")),
      watched(T0, "ADDED", secret("c", "web", 1, "failed")), due(T0 + 100),
      watched(T0 + 150, "ADDED", secret("d", "web", 1, "failed")), due(T0 + 200),
      watched(T0 + 320, "ADDED", secret("e", "web", 1, "failed"))],
     [(T0, changed("a/web", 1, "failed")), (T0, changed("b/web", 1, "failed")), (T0, ("burst", 3, ["prod/c/web"])),
      (T0 + 100, repeat("a/web", 1, "failed")), (T0 + 100, repeat("b/web", 1, "failed")),
      (T0 + 200, repeat("a/web", 1, "failed")), (T0 + 200, repeat("b/web", 1, "failed")),
      (T0 + 320, repeat("a/web", 1, "failed")), (T0 + 320, repeat("b/web", 1, "failed")),
      (T0 + 320, changed("e/web", 1, "failed"))]),
    # --- the burst brake
    ("brake: a failure is held burst_hold, then emitted",
     dict(burst_limit=2, burst_hold=20),
     [listed(T0, secret("shop", "web", 4, "deployed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 5, "failed")), due(T0 + 20), due(T0 + 21)],
     [(T0 + 21, changed("shop/web", 5, "failed", 4, "deployed"))]),
    ("brake: up to burst_limit failures within the window are emitted",
     dict(burst_limit=2, burst_hold=20),
     [listed(T0),
      watched(T0 + 1, "ADDED", secret("a", "web", 1, "failed")),
      watched(T0 + 2, "ADDED", secret("b", "web", 1, "failed")), due(T0 + 30)],
     [(T0 + 30, changed("a/web", 1, "failed")), (T0 + 30, changed("b/web", 1, "failed"))]),
    ("brake: more than burst_limit within the window: none emitted, one burst event naming them",
     dict(burst_limit=2, burst_hold=20),
     [listed(T0),
      watched(T0 + 1, "ADDED", secret("a", "web", 1, "failed")),
      watched(T0 + 2, "ADDED", secret("b", "web", 1, "failed")),
      watched(T0 + 3, "ADDED", secret("c", "web", 1, "failed")), due(T0 + 21), due(T0 + 30)],
     [(T0 + 21, ("burst", 3, ["prod/a/web", "prod/b/web", "prod/c/web"]))]),
    ("brake: one burst event per burst; changes during it are not emitted; a LIST does not bring them back",
     dict(burst_limit=2, burst_hold=20),
     [listed(T0),
      watched(T0 + 1, "ADDED", secret("a", "web", 1, "failed")),
      watched(T0 + 2, "ADDED", secret("b", "web", 1, "failed")),
      watched(T0 + 3, "ADDED", secret("c", "web", 1, "failed")), due(T0 + 21),
      watched(T0 + 60, "ADDED", secret("d", "web", 1, "failed")), due(T0 + 80),
      listed(T0 + 90, secret("a", "web", 1, "failed"), secret("b", "web", 1, "failed"), secret("c", "web", 1, "failed"),
             secret("d", "web", 1, "failed")), due(T0 + 200)],
     [(T0 + 21, ("burst", 3, ["prod/a/web", "prod/b/web", "prod/c/web"]))]),
    ("brake: released once the window holds at most burst_limit again",
     dict(burst_limit=2, burst_hold=20, burst_window=300),
     [listed(T0),
      watched(T0 + 1, "ADDED", secret("a", "web", 1, "failed")),
      watched(T0 + 2, "ADDED", secret("b", "web", 1, "failed")),
      watched(T0 + 3, "ADDED", secret("c", "web", 1, "failed")), due(T0 + 21),
      watched(T0 + 400, "ADDED", secret("e", "web", 1, "failed")), due(T0 + 420),
      watched(T0 + 500, "ADDED", secret("f", "web", 1, "failed")),
      watched(T0 + 501, "ADDED", secret("g", "web", 1, "failed")),
      watched(T0 + 502, "ADDED", secret("h", "web", 1, "failed")), due(T0 + 521)],
     [(T0 + 21, ("burst", 3, ["prod/a/web", "prod/b/web", "prod/c/web"])), (T0 + 420, changed("e/web", 1, "failed")),
      (T0 + 521, ("burst", 4, ["prod/f/web", "prod/g/web", "prod/h/web"]))]),
    ("brake: a held failure that rolled itself back (--atomic) is not emitted",
     dict(burst_limit=2, burst_hold=20, statuses=("failed", "deployed")),
     [listed(T0, secret("shop", "web", 5, "deployed")),
      watched(T0 + 1, "ADDED", secret("shop", "web", 6, "failed")),
      watched(T0 + 3, "ADDED", secret("shop", "web", 7, "deployed")), due(T0 + 21)],
     [(T0 + 3, changed("shop/web", 7, "deployed", 6, "failed"))]),
    ("brake with burst_hold 0: the first burst_limit at once, then the burst event",
     dict(burst_limit=2, burst_hold=0),
     [listed(T0),
      watched(T0, "ADDED", secret("a", "web", 1, "failed")),
      watched(T0, "ADDED", secret("b", "web", 1, "failed")),
      watched(T0, "ADDED", secret("c", "web", 1, "failed"))],
     [(T0, changed("a/web", 1, "failed")), (T0, changed("b/web", 1, "failed")), (T0, ("burst", 3, ["prod/c/web"]))]),
    ("brake: initial failures and stale pending revisions count too",
     dict(burst_limit=2, burst_hold=20, stale_pending_after=600),
     [listed(T0, secret("a", "web", 1, "failed"), secret("b", "web", 1, "failed"),
             secret("c", "web", 1, "pending-upgrade", modified_at=T0 - 3600)), due(T0 + 20)],
     [(T0, initial("c/web", 1, "pending-upgrade")), (T0 + 20, ("burst", 3, ["prod/a/web", "prod/b/web", "prod/c/web"]))]),
    ("brake across clusters: one source, one brake",
     dict(burst_limit=1, burst_hold=20),
     [listed(T0), listed(T0, scope=Scope("dr")),
      watched(T0 + 1, "ADDED", secret("a", "web", 1, "failed")),
      watched(T0 + 2, "ADDED", secret("a", "web", 1, "failed"), scope=Scope("dr")), due(T0 + 30)],
     [(T0 + 30, ("burst", 2, ["prod/a/web", "dr/a/web"]))]),
    ("brake: pending-* and deployed events are neither held nor counted",
     dict(burst_limit=1, burst_hold=20, statuses=("failed", "pending", "deployed")),
     [listed(T0),
      watched(T0 + 1, "ADDED", secret("a", "web", 1, "pending-install")),
      watched(T0 + 2, "MODIFIED", secret("a", "web", 1, "deployed")),
      watched(T0 + 3, "ADDED", secret("b", "web", 1, "pending-install")),
      watched(T0 + 4, "MODIFIED", secret("b", "web", 1, "failed")), due(T0 + 30)],
     [(T0 + 1, changed("a/web", 1, "pending-install")), (T0 + 2, changed("a/web", 1, "deployed", 1, "pending-install")),
      (T0 + 3, changed("b/web", 1, "pending-install")), (T0 + 30, changed("b/web", 1, "failed", 1, "pending-install"))]),
]


@pytest.mark.parametrize("settings, steps, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_events(settings, steps, expected):
    assert run(steps, **settings) == expected


def test_event_fields():
    tracker = ReleaseEvents(Settings(burst_limit=0, stale_pending_after=60))
    tracker.listed(PROD, [secret("shop", "web", 4, "deployed")], T0)
    [event] = tracker.observed(PROD, "ADDED", secret("shop", "web", 5, "pending-upgrade"), T0)
    assert event == {"helm_release": {
        "type": "release_status", "reason": "changed", "cluster": "prod", "namespace": "shop", "release": "web",
        "revision": 5, "status": "pending-upgrade", "previous_revision": 4, "previous_status": "deployed",
        "updated": "2026-01-02T10:00:00Z"}}
    [event] = tracker.due(T0 + 90)
    assert event["helm_release"]["type"] == "pending_stale" and event["helm_release"]["pending_seconds"] == 90
    assert tracker.due(T0 + 689) == []
    [event] = tracker.due(T0 + 690)
    assert event == {"helm_release": {
        "type": "pending_stale", "reason": "repeat", "cluster": "prod", "namespace": "shop", "release": "web",
        "revision": 5, "status": "pending-upgrade", "previous_revision": 4, "previous_status": "deployed",
        "updated": "2026-01-02T10:00:00Z", "pending_seconds": 690}}


def test_burst_event_fields_and_notes():
    tracker = ReleaseEvents(Settings(burst_limit=1, burst_hold=10, burst_window=120))
    tracker.listed(PROD, [], T0)
    tracker.observed(PROD, "ADDED", secret("a", "web", 1, "failed"), T0)
    tracker.observed(PROD, "ADDED", secret("b", "api", 3, "failed"), T0 + 1)
    [burst] = tracker.due(T0 + 10)
    assert burst == {"helm_release": {
        "type": "burst", "count": 2, "limit": 1, "window_seconds": 120, "clusters": ["prod"],
        "releases": [{"type": "release_status", "cluster": "prod", "namespace": "a", "release": "web", "revision": 1,
                      "status": "failed"},
                     {"type": "release_status", "cluster": "prod", "namespace": "b", "release": "api", "revision": 3,
                      "status": "failed"}],
        "names": ["prod/a/web", "prod/b/api"]}}
    [note] = tracker.take_notes()
    assert "prod/a/web (failed), prod/b/api (failed)" in note.message and tracker.take_notes() == []


@pytest.mark.parametrize("steps, expected", [
    ([], None),
    ([listed(T0, secret("shop", "web", 5, "failed"))], T0 + 20),
    ([listed(T0, secret("shop", "web", 5, "pending-upgrade", modified_at=T0 - 100))], T0 + 500),
    ([listed(T0, secret("shop", "web", 5, "pending-upgrade", modified_at=T0 - 100)), due(T0 + 500)], T0 + 520),
    ([listed(T0, secret("shop", "web", 5, "pending-upgrade", modified_at=T0 - 100)), due(T0 + 500), due(T0 + 520)],
     T0 + 1120),
    ([listed(T0, secret("shop", "web", 5, "pending-upgrade", modified_at=T0 - 100)), due(T0 + 500), due(T0 + 520),
      due(T0 + 1120)], T0 + 1720),
    ([listed(T0, secret("shop", "web", 5, "deployed"))], None),
], ids=["nothing", "a held failure", "a pending revision turning stale", "a held stale event", "emitted, to repeat",
        "repeated, to repeat again", "all healthy"])
def test_next_due(steps, expected):
    tracker = ReleaseEvents(Settings(stale_pending_after=600, burst_hold=20, repeat_after=600))
    for step in steps:
        if step[0] == "listed":
            tracker.listed(step[1], step[2], step[3])
        else:
            tracker.due(step[1])
    assert tracker.next_due() == expected


@pytest.mark.parametrize("kind, status, first_request, expected", [
    ("rejected", 410, True, RELIST),
    ("rejected", 410, False, RELIST),
    ("access_denied", 403, True, GIVE_UP),
    ("access_denied", 401, False, RETRY),
    ("access_denied", 403, False, RETRY),
    ("rejected", 400, True, GIVE_UP),
    ("not_found", 404, True, GIVE_UP),
    ("not_found", 404, False, RETRY),
    ("invalid_kubeconfig", None, True, GIVE_UP),
    ("cluster_unreachable", None, True, RETRY),
    ("cluster_unreachable", 503, False, RETRY),
    ("throttled", 429, True, RETRY),
    ("api_error", 500, True, RETRY),
])
def test_after_error(kind, status, first_request, expected):
    assert release_events.after_error(kind, status, first_request) == expected


@pytest.mark.parametrize("failures, seconds", [(0, 1), (1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (50, 30)])
def test_retry_seconds(failures, seconds):
    assert release_events.retry_seconds(failures) == seconds


@pytest.mark.parametrize("value, seconds", [
    ("15m", 900), ("1h30m", 5400), ("90s", 90), ("1.5s", 1.5), ("0", 0), (0, 0), (20, 20), (2.5, 2.5),
])
def test_duration_seconds(value, seconds):
    assert release_events.duration_seconds(value, "burst_hold") == seconds


@pytest.mark.parametrize("value", ["soon", "15", "-5m", -1, True, "", None, float("nan"), float("inf")])
def test_duration_seconds_refuses(value):
    with pytest.raises(ValueError, match="burst_hold"):
        release_events.duration_seconds(value, "burst_hold")


OPTIONS = dict(statuses=["failed", "pending"], initial=True, stale_pending_after="15m", burst_limit=5,
               burst_window="5m", burst_hold="20s", repeat_after="10m")


def test_settings_of():
    assert release_events.settings_of(OPTIONS) == Settings(
        statuses=("failed", "pending-install", "pending-upgrade", "pending-rollback"), initial=True,
        stale_pending_after=900, burst_limit=5, burst_window=300, burst_hold=20, repeat_after=600)


@pytest.mark.parametrize("changes, message", [
    (dict(burst_limit=-1), "burst_limit is -1"),
    (dict(burst_hold="10m"), "burst_hold .* is longer than burst_window"),
    (dict(stale_pending_after="later"), "stale_pending_after is 'later'"),
    (dict(repeat_after="-1m"), "repeat_after is '-1m'"),
])
def test_settings_of_refuses(changes, message):
    with pytest.raises(ValueError, match=message):
        release_events.settings_of(dict(OPTIONS, **changes))

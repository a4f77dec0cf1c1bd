"""The "nothing lost" checker: a release's history before a fault compared with after recovery.

``snapshot`` records, for every stored revision, its number, status, chart, chart version and
SHA-256 digests of ``helm get values --revision N -o json`` (user values, parsed and re-serialised
with sorted keys) and ``helm get manifest --revision N``.  ``assert_nothing_lost(before, after)``
then requires that:

1. every revision of ``before`` is still stored, with the same chart, chart version and values
   and manifest digests (its status may change: deployed -> superseded, pending-* -> failed);
2. revision numbers only grow: the newest number never decreases, and every revision that was
   not there before has a number above the old newest (no number is reused or back-filled);
3. pruning is the one way a revision may disappear, and only when the caller says Helm was
   allowed to prune (``history_max``, the limit of the operations that ran): Helm's
   ``--history-max`` (default 10, 0 = no limit; rollback and upgrade take the same flag) deletes
   the oldest revisions except the last deployed one, so a missing revision is accepted only
   when it is older than every revision left and ``after`` holds ``history_max`` revisions.
   The fault and concurrency tests keep histories short and pass high limits, so for them
   nothing may disappear at all.
"""

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import scenarios


@dataclass(frozen=True)
class RevisionDigest:
    revision: int
    status: str
    chart: str
    chart_version: str
    values_digest: str
    manifest_digest: str

    def content(self):
        """What must never change for a stored revision."""
        return (self.chart, self.chart_version, self.values_digest, self.manifest_digest)


def _digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _revision_digest(helm, kubeconfig, name, namespace, entry):
    revision = entry["revision"]
    values = scenarios.run_helm(helm, kubeconfig, ["get", "values", name, "-n", namespace, "--revision", str(revision), "-o", "json"]).stdout
    manifest = scenarios.run_helm(helm, kubeconfig, ["get", "manifest", name, "-n", namespace, "--revision", str(revision)]).stdout
    chart = entry["chart"]
    return RevisionDigest(
        revision=revision,
        status=entry["status"],
        chart=chart,
        chart_version=chart.rsplit("-", 1)[-1],
        values_digest=_digest(json.dumps(json.loads(values) or {}, sort_keys=True)),
        manifest_digest=_digest(manifest),
    )


def snapshot(helm, kubeconfig, name, namespace):
    """{revision: RevisionDigest} of every stored revision of the release."""
    entries = scenarios.history(helm, kubeconfig, name, namespace)
    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = list(pool.map(lambda entry: _revision_digest(helm, kubeconfig, name, namespace, entry), entries))
    return {digest.revision: digest for digest in digests}


def lost(before, after, history_max=None):
    """Every violation of the rules above, as sentences (empty when nothing was lost)."""
    problems = []
    if not after:
        return ["the release has no revisions any more (it had %s)" % sorted(before)]
    oldest_left = min(after)
    for number, old in sorted(before.items()):
        new = after.get(number)
        if new is None:
            pruned = history_max and history_max > 0 and len(after) >= history_max and number < oldest_left
            if not pruned:
                problems.append("revision %d (%s, %s) disappeared" % (number, old.chart, old.status))
            continue
        if new.content() != old.content():
            changed = [field for field, a, b in zip(("chart", "chart_version", "values", "manifest"), old.content(), new.content()) if a != b]
            problems.append("revision %d changed its %s" % (number, ", ".join(changed)))
    if before and max(after) < max(before):
        problems.append("the newest revision went down from %d to %d" % (max(before), max(after)))
    newest_before = max(before) if before else 0
    back_filled = sorted(number for number in after if number not in before and number <= newest_before)
    if back_filled:
        problems.append("revision numbers %s appeared at or below the old newest revision %d" % (back_filled, newest_before))
    return problems


def assert_nothing_lost(before, after, history_max=None):
    problems = lost(before, after, history_max)
    assert not problems, "history damaged: %s\nbefore: %s\nafter: %s" % (
        "; ".join(problems), _summary(before), _summary(after))


def _summary(digests):
    return ", ".join("%d %s %s" % (n, d.status, d.chart) for n, d in sorted(digests.items()))

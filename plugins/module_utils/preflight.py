# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight: would the API server accept a Helm target, before anything is written?

Each object of the target's manifest (a stored revision's, for a rollback; the rendered chart, for
an upgrade or a reinstall) is sent as a server-side apply dry run (``dryRun=All``, forced, with our
own field manager), one request per object, a few at a time. The API server stores nothing and
judges the object as a real write: API versions it no longer serves, admission (ValidatingAdmission-
Policy, webhooks, PodSecurity, ResourceQuota), immutable fields and validation. Helm returns from a
rollback's dry run before it talks to the cluster, so for a rollback this is the only check there is.

What it cannot check, and says so (``unchecked``): the objects of a kind whose CustomResourceDefinition
is in the same manifest (the kind is served, or served with that schema, only once it is applied),
and the objects in a namespace the manifest itself creates while that namespace does not exist yet.
Not checked at all: hooks, which are not in a release's manifest (Helm keeps them in the record's
``hooks`` and runs them as it goes), and a chart's ``crds/`` directory, which Helm installs apart.

Before a write (not in check mode), the preflight also asks the API server's authorizer whether the
credentials hold every right Helm's write needs beyond the dry runs' ``patch`` (``write_rights``: its
release records, its read of each object before it applies it, its wait): one SelfSubjectRulesReview
per namespace, trusted only when complete and only to show a right held (``granted_by_rules``), then
one SelfSubjectAccessReview for each right it does not show: Helm meets a missing one only after it stored the new revision (pending, then failed), so a
denial is a refusal (``access_denied``) before anything is written.

A verdict is only what the server said about an object. A server that could not be reached, that
throttled, failed (5xx) or answered 401 says nothing about the target: that KubeError is raised, for
the caller to defer. The dry runs send the manifest as it is, Secrets included; results carry no
object body and no value, and ``on_secret_values`` gets the manifest's Secret values to mask.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.matih.helm.plugins.module_utils.drift import (
    UNTYPABLE, apply_body, load_documents, manifest_objects, object_ref, secret_values,
)
from ansible_collections.matih.helm.plugins.module_utils.errors import (
    ACCESS_DENIED, API_ERROR, NOT_FOUND, REJECTED, KubeError,
)
from ansible_collections.matih.helm.plugins.module_utils.kube_client import rbac_right
from ansible_collections.matih.helm.plugins.module_utils.kube_types import (
    ObjectRef, Read, Resource, group_of, resource_object_path, right_words,
)
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects

# The field errors of an update that a new object would not get: with ``replace`` (the objects are
# deleted before they are created again) they are no verdict. Kubernetes words them this way:
# apimachinery's ValidateImmutableField ("field is immutable", also "... when `immutable` is set"),
# a Service's clusterIP ("may not change once set"), a StatefulSet's and a StorageClass's "updates to
# ... are forbidden", a PersistentVolumeClaim's "spec is immutable after creation", a Pod's "pod updates
# may not change fields".
IMMUTABLE = re.compile(r"field is immutable|may not change once set|updates to .+ (are|is) forbidden|"
                       r"is immutable after creation|pod updates may not change fields")
# The authorizer's words when an apply (a dry run too) would create an object the identity may patch but
# not create: the API server checks create for an apply that creates.
DENIED_CREATE = re.compile(r'cannot create resource "')
MISSING_NAMESPACE = re.compile(r'namespaces "([^"]+)" not found')
# What Helm adds to every object it writes (setMetadataVisitor): policies that require them judge them too.
HELM_LABELS = {"app.kubernetes.io/managed-by": "Helm"}
SUMMARY_LIMIT = 5  # objects named in a summary line; the rest are counted
# What Helm's wait reads besides the objects themselves, by Helm major; each with a LIST (no watch, no name).
# Helm 4's watcher (kstatus, fluxcd/cli-utils' default status readers): a Deployment by its ReplicaSets, a
# StatefulSet and a ReplicaSet by their Pods (newPodControllerStatusReader). Helm 3's ReadyChecker: a Deployment by
# its ReplicaSets (the new one), a ReplicaSet and a ReplicationController by their Pods (podsReadyForObject).
WAIT_READS = {
    3: {("apps", "Deployment"): (("apps", "replicasets"),), ("apps", "ReplicaSet"): (("", "pods"),),
        ("", "ReplicationController"): (("", "pods"),)},
    4: {("apps", "Deployment"): (("apps", "replicasets"),), ("apps", "StatefulSet"): (("", "pods"),),
        ("apps", "ReplicaSet"): (("", "pods"),)},
}
HELM_RECORDS = ("", "secrets")
# An object annotated so is never deleted by Helm: its update compares the live object's annotation with "keep"
# (pkg/kube client.go update()), its uninstall the manifest's, trimmed and lowercased (filterManifestsToKeep).
RESOURCE_POLICY = "helm.sh/resource-policy"
KEEP = "keep"
ACCESS_REVIEW = "SelfSubjectAccessReview"  # the kind of a refusal for a right the credentials lack


@dataclass(frozen=True)
class Right:
    """An RBAC right: ``verb`` on ``resource`` (plural) of API ``group`` in ``namespace`` (None: cluster-wide), on
    the object ``name`` when the verb is for one object (get, update, delete: a Role's ``resourceNames`` count;
    "" for list, watch and create), and ``why`` the write needs it."""
    verb: str
    group: str
    resource: str
    namespace: Optional[str]
    why: str = ""
    name: str = ""

    def words(self) -> str:
        """"list replicasets.apps in namespace shop", as rbac_right says it, and the object's name after it when
        there is one: "update secrets in namespace shop named sh.helm.release.v1.web.v3"."""
        return right_words(self.verb, self.group, self.resource, self.namespace, self.name)


# An object Helm writes or deletes: (group, kind, resource, object namespace, name)
Target = Tuple[str, str, Resource, Optional[str], str]


@dataclass(frozen=True)
class Write:
    """What Helm will write, for write_rights(): its ``major`` version, whether it waits, whether it replaces the
    objects (``force``: Helm 3 --force, Helm 4 --force-replace), the ``current`` release's manifest (what Helm 4's
    update deletes when the target drops it; what a reinstall's uninstall deletes), the record revisions Helm
    updates (``records``: an update's or rollback's the revisions it supersedes and the new one it marks when done; a
    reinstall's the uninstalled revision its install supersedes and the new one; empty: not known, the right is asked
    without a name) and whether it is a ``reinstall`` (an uninstall, then an install; ``purge``: the uninstall deletes
    the release's records, without --keep-history; ``purged``: their revisions, when known, to ask by name)."""
    major: int
    wait: bool
    force: bool = False
    current: Optional[str] = None
    records: Tuple[int, ...] = ()
    reinstall: bool = False
    purge: bool = False
    purged: Tuple[int, ...] = ()


def wait_verbs(major: int, wait: bool) -> Tuple[str, ...]:
    """The verbs Helm's wait needs on each kind it waits for: Helm 4's watcher lists and watches them, Helm 3's
    waiter gets each object; none without wait (what the wait reads besides, WAIT_READS, is listed)."""
    if not wait:
        return ()
    return ("list", "watch") if major >= 4 else ("get",)


def record_name(release: str, revision: int) -> str:
    """The Secret of a release's revision (Helm's Secrets driver)."""
    return "sh.helm.release.v1.%s.v%d" % (release, revision)


def write_rights(targets: Iterable[Target], namespace: str, write: Write, release: Optional[str] = None,
                 current: Iterable[Target] = ()) -> List[Right]:
    """The rights Helm's write of a target needs besides the dry runs' ``patch``, in a stable order without
    repeats. ``targets``: the target's objects; ``current``: the current release's objects Helm would delete (Target;
    the caller leaves out what Helm skips: see deleted_objects()). Helm stores the new revision (create) and marks the
    revisions it supersedes and the new one (update) in Secrets of the release namespace; an update gets each object
    before it applies it (a PUT with force), Helm 4's deletes the objects the target drops (and fails on a refused
    delete after storing the pending revision; Helm 3 only logs a failed delete, so nothing is asked there); a
    reinstall's uninstall deletes the current objects (and waits until they are gone when it waits: Helm 3 gets each,
    Helm 4 lists and watches each kind), its install gets each target object (its conflict check) and creates them.
    Then the wait's reads."""
    targets, current = list(targets), list(current)
    records = [Right("create", HELM_RECORDS[0], HELM_RECORDS[1], namespace, "Helm stores each revision in a Secret")]
    why = ("Helm's install marks the uninstalled revision superseded, and the new one when it is done" if write.reinstall
           else "Helm marks the revision it supersedes, and the new one when it is done")
    if release and write.records:
        records += [Right("update", HELM_RECORDS[0], HELM_RECORDS[1], namespace, why, record_name(release, revision))
                    for revision in write.records]
    else:
        records.append(Right("update", HELM_RECORDS[0], HELM_RECORDS[1], namespace, why))
    if write.reinstall and write.purge:
        why = "Helm's uninstall deletes the release's records (no --keep-history)"
        if release and write.purged:
            records += [Right("delete", HELM_RECORDS[0], HELM_RECORDS[1], namespace, why, record_name(release, revision))
                        for revision in write.purged]
        else:
            records.append(Right("delete", HELM_RECORDS[0], HELM_RECORDS[1], namespace, why))
    rights = []
    wait = wait_verbs(write.major, write.wait)
    if write.reinstall:
        for group, _kind, resource, where, name in current:
            where = _where(resource, where)
            rights.append(Right("delete", group, resource.plural, where, "Helm's uninstall deletes it", name))
            rights += [Right(verb, group, resource.plural, where, "Helm's uninstall waits until it is deleted",
                             "" if verb != "get" else name) for verb in wait]
    else:
        target_keys = {(group, kind, _where(resource, where), name) for group, kind, resource, where, name in targets}
        if write.major >= 4:
            rights += [Right("delete", group, resource.plural, _where(resource, where),
                             "Helm 4's update deletes what the target no longer has", name)
                       for group, kind, resource, where, name in current
                       if (group, kind, _where(resource, where), name) not in target_keys]
    for group, kind, resource, object_namespace, name in targets:
        where = _where(resource, object_namespace)
        rights.append(Right("get", group, resource.plural, where, "Helm reads each object before it writes it", name))
        if write.reinstall:
            rights.append(Right("create", group, resource.plural, where, "Helm's install creates each object"))
        elif write.force:
            rights.append(Right("update", group, resource.plural, where, "force replaces each object (a PUT)", name))
        rights += [Right(verb, group, resource.plural, where, "Helm's wait", "" if verb != "get" else name)
                   for verb in wait]
        for read_group, plural in WAIT_READS.get(3 if write.major < 4 else 4, {}).get((group, kind), ()) if wait else ():
            rights.append(Right("list", read_group, plural, where, "Helm's wait reads a %s's %s" % (kind, plural)))
    unique = {}
    for right in records + rights:
        unique.setdefault((right.verb, right.group, right.resource, right.namespace, right.name), right)
    return list(unique.values())


def _where(resource: Resource, namespace: Optional[str]) -> Optional[str]:
    return namespace if resource.namespaced else None


def denial(right: Right) -> Dict[str, str]:
    """The refusal of a right the credentials lack, as Preflight.refusals holds it."""
    return {"api_version": "authorization.k8s.io/v1", "kind": ACCESS_REVIEW, "name": right.name,
            "namespace": right.namespace or "", "error_kind": ACCESS_DENIED,
            "reason": "the credentials may not %s (RBAC; %s)" % (right.words(), right.why)}


@dataclass
class Preflight:
    """The API server's verdict on a target. ``objects`` is how many of the manifest's objects were
    checked; ``refusals`` and ``unchecked`` are dicts of ``api_version``, ``kind``, ``name``,
    ``namespace`` and ``reason``, refusals with ``error_kind`` (``rejected``: admission, quota,
    validation, an immutable field; ``not_found``: a kind or a namespace the server does not have;
    ``access_denied``: RBAC). ``requests`` is the API requests the check cost."""
    objects: int = 0
    refusals: List[Dict[str, str]] = field(default_factory=list)
    unchecked: List[Dict[str, str]] = field(default_factory=list)
    requests: int = 0

    @property
    def passed(self) -> bool:
        return not self.refusals

    def summary(self) -> str:
        """One line: "2 of 7 objects refused: ConfigMap/web-config: ...; Deployment/web: ...", or what passed."""
        refused = [entry for entry in self.refusals if entry["kind"] != ACCESS_REVIEW]
        lacking = [entry["reason"] for entry in self.refusals if entry["kind"] == ACCESS_REVIEW]
        if refused and not self.objects:  # the manifest itself
            text = "refused: %s" % _listed(refused)
        elif refused:
            text = "%d of %d objects refused: %s" % (len(refused), self.objects, _listed(refused))
        elif self.objects:
            text = "all %d objects pass the API server's dry run" % self.objects
        else:
            text = "no object to check"
        if lacking:
            text += ("; but the credentials lack rights Helm's write needs, so it would fail after storing the new "
                     "revision: %s; grant them (extensions/rbac/recoverer.yml grants them for the demo chart's kinds; "
                     "add the chart's own kinds)" % "; ".join(lacking))
        if self.unchecked:
            text += "; %d not checked: %s" % (len(self.unchecked), _listed(self.unchecked))
        return text

    def as_dict(self) -> Dict[str, Any]:
        """The result as modules return it (no object body, no value)."""
        return {"passed": self.passed, "objects": self.objects, "refusals": [dict(entry) for entry in self.refusals],
                "unchecked": [dict(entry) for entry in self.unchecked], "requests": self.requests,
                "summary": self.summary()}


def _listed(entries: List[Dict[str, str]]) -> str:
    shown = "; ".join("%s: %s" % ("/".join(filter(None, (entry["kind"], entry["name"]))), entry["reason"])
                      for entry in entries[:SUMMARY_LIMIT])
    more = len(entries) - SUMMARY_LIMIT
    return shown + ("; and %d more" % more if more > 0 else "")


def _entry(ref: ObjectRef, reason: str, error_kind: Optional[str] = None) -> Dict[str, str]:
    entry = {"api_version": ref.api_version, "kind": ref.kind, "name": ref.name, "namespace": ref.namespace,
             "reason": reason}
    if error_kind:
        entry["error_kind"] = error_kind
    return entry


def preflight(api: LiveObjects, manifest: str, namespace: str, replace: bool = False, release: Optional[str] = None,
              load_all: Callable[[str], Iterable[Any]] = load_documents,
              on_secret_values: Optional[Callable[[List[str]], None]] = None,
              writes: Optional[Write] = None) -> Preflight:
    """The API server's verdict on ``manifest`` (Helm's: YAML documents) for a release in ``namespace``.

    ``api`` is a LiveObjects (or a stand-in with ``resource``, ``dry_run``, ``run_concurrently`` and
    ``requests``; with ``writes``, ``allowed`` and ``read`` too). ``replace``: the step deletes the objects before it
    creates them (a reinstall), so an immutable field is no refusal. Helm's ``--force`` is not that: Helm 3 and 4 replace the object with a
    PUT, which the server refuses for an immutable field just the same. ``release`` (the release name)
    adds the label and annotations Helm writes on every object. ``writes``: Helm will write the target (not in
    check mode), as this Write says; its write_rights() are checked too, each one the credentials lack a refusal
    (``access_denied``); when the server answers no access review (403 on the review itself, 404), an ``unchecked``
    entry says the rights were not checked. Helm 4's update deletes only the dropped objects it can read: those are
    read first (deleted_objects()). KubeError when the server gave no verdict (unreachable, throttled, 5xx, 401,
    conflict); discovery failures likewise."""
    before = api.requests
    try:
        objects = manifest_objects(manifest, load_all)
    except Exception as error:  # pylint: disable=broad-except  # any YAML error: Helm could not apply it either
        refusal = {"api_version": "", "kind": "manifest", "name": "", "namespace": namespace, "error_kind": REJECTED,
                   "reason": "the manifest is not YAML (%s)" % " ".join(str(error).split())[:300]}
        return Preflight(0, [refusal], [], api.requests - before)
    if on_secret_values is not None:
        on_secret_values([value for obj in objects if obj["kind"] == "Secret" for value in secret_values(obj)])
    defined_kinds, created_namespaces = _created_by(objects)
    # the kinds the manifest defines are not looked up: they are not checked anyway
    kinds = list(dict.fromkeys((str(obj["apiVersion"]), str(obj["kind"])) for obj in objects
                               if (group_of(str(obj["apiVersion"])), obj["kind"]) not in defined_kinds))
    resources = dict(zip(kinds, api.run_concurrently(lambda kind: api.resource(*kind), kinds)))

    checks, outcomes = [], []
    for obj in objects:
        resource = resources.get((str(obj["apiVersion"]), str(obj["kind"])))
        ref = object_ref(obj, namespace, getattr(resource, "namespaced", None))
        if (group_of(ref.api_version), ref.kind) in defined_kinds:
            outcomes.append(("unchecked", _entry(ref, "its CustomResourceDefinition is in this manifest: the server "
                                                      "serves the kind with that schema only once it is applied")))
        elif resource is None:
            outcomes.append(("refused", _entry(ref, "%s %s is not served by this API server (removed or never "
                                                    "installed)" % (ref.api_version, ref.kind), NOT_FOUND)))
        else:
            outcomes.append(None)  # filled in by the dry run, in manifest order
            checks.append((len(outcomes) - 1, ref, resource, _body(obj, ref, namespace, release)))

    def check(item):
        _index, ref, resource, body = item
        try:
            api.dry_run(resource, ref, body)
        except KubeError as error:
            return _verdict(error, ref, resource, replace, created_namespaces)
        return ("passed", None)

    for (index, _ref, _resource, _body_sent), outcome in zip(checks, api.run_concurrently(check, checks)):
        outcomes[index] = outcome
    no_verdict = [outcome[1] for outcome in outcomes if outcome[0] == "raise"]
    if no_verdict:
        raise no_verdict[0]  # every dry run is done (none is left running): the caller defers
    refusals = [entry for state, entry in outcomes if state == "refused"]
    unchecked = [entry for state, entry in outcomes if state == "unchecked"]
    if writes is not None:
        targets = [(group_of(ref.api_version), ref.kind, resource, ref.namespace, ref.name)
                   for _index, ref, resource, _body_sent in checks]
        current = deleted_objects(api, writes, targets, namespace, load_all)
        lacking, unavailable = denied(api, write_rights(targets, namespace, writes, release, current))
        refusals += [denial(right) for right in lacking]
        if unavailable is not None:
            unchecked.append({"api_version": "authorization.k8s.io/v1", "kind": ACCESS_REVIEW, "name": "",
                              "namespace": namespace, "reason": "rights not checked: access reviews unavailable "
                              "(%s %s); Helm meets a missing right only as it writes" % (
                                  unavailable.status, unavailable.server_message[:200])})
    return Preflight(len(objects) - len(checked_out(unchecked)), refusals, unchecked, api.requests - before)


def checked_out(unchecked: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """The unchecked entries that are objects of the manifest (not the access reviews)."""
    return [entry for entry in unchecked if entry["kind"] != ACCESS_REVIEW]


def deleted_objects(api: LiveObjects, writes: Write, targets: List[Target], namespace: str,
                    load_all: Callable[[str], Iterable[Any]] = load_documents) -> List[Target]:
    """The current release's objects Helm's write would delete (Target), as Helm picks them:

    - a reinstall's uninstall: each object of the current manifest but those annotated ``helm.sh/resource-policy:
      keep`` there (filterManifestsToKeep); it deletes the others whether they exist or not, and the authorizer
      judges a delete before the object is looked up, so none is read here;
    - Helm 4's update: each object of the current manifest the target drops that it can read and that is not
      annotated keep on the live object: it GETs each first and skips, only logging it, one it cannot get (not found,
      or a GET refused) and one the live object's annotation keeps (pkg/kube client.go update()). The latest revision
      is often a failed one whose new objects were never created: those are not deleted, so no delete is asked. One
      GET per dropped object; KubeError (for the caller to defer) when the server gave no answer (unreachable,
      throttled, 5xx, 401);
    - Helm 3's update deletes nothing it could fail on (see write_rights): none.
    """
    if not writes.current or not (writes.reinstall or writes.major >= 4):
        return []
    current = _current_objects(api, writes.current, namespace, load_all)
    if writes.reinstall:
        return [target for target, _api_version, policy in current if policy.strip().lower() != KEEP]
    kept = {(group, kind, _where(resource, where), name) for group, kind, resource, where, name in targets}
    dropped = [(target, api_version) for target, api_version, _policy in current
               if (target[0], target[1], _where(target[2], target[3]), target[4]) not in kept]

    def live(item):
        (_group, kind, resource, where, name), api_version = item
        try:
            return api.read(resource, Read(api_version, kind, _where(resource, where), (name,))).get(name)
        except KubeError as error:
            if error.status == 403:
                return None  # Helm's GET is refused the same way: it skips the object
            raise

    found = list(api.run_concurrently(live, dropped))
    return [target for (target, _api_version), obj in zip(dropped, found)
            if obj is not None and _annotations(obj).get(RESOURCE_POLICY) != KEEP]


def _annotations(obj: Any) -> Dict[str, Any]:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _current_objects(api: LiveObjects, manifest: str, namespace: str,
                     load_all: Callable[[str], Iterable[Any]]) -> List[Tuple[Target, str, str]]:
    """The current release's objects: (Target, its apiVersion, its ``helm.sh/resource-policy`` annotation or "");
    a kind the server does not serve (or a manifest that does not read) has nothing to delete."""
    try:
        objects = manifest_objects(manifest, load_all)
    except Exception:  # pylint: disable=broad-except  # Helm could not read it either: it deletes nothing
        return []
    kinds = list(dict.fromkeys((str(obj["apiVersion"]), str(obj["kind"])) for obj in objects))
    resources = dict(zip(kinds, api.run_concurrently(lambda kind: api.resource(*kind), kinds)))
    current = []
    for obj in objects:
        resource = resources.get((str(obj["apiVersion"]), str(obj["kind"])))
        if resource is not None:
            ref = object_ref(obj, namespace, resource.namespaced)
            current.append(((group_of(ref.api_version), ref.kind, resource, ref.namespace, ref.name), ref.api_version,
                            str(_annotations(obj).get(RESOURCE_POLICY) or "")))
    return current


def rule_grants(rule: Dict[str, Any], right: Right) -> bool:
    """Whether one RBAC rule (a SelfSubjectRulesReview's resource rule: ``verbs``, ``apiGroups``, ``resources``,
    ``resourceNames``) grants ``right``, as Kubernetes RBAC matches them (rbac/v1 helpers VerbMatches,
    APIGroupMatches, ResourceMatches, ResourceNameMatches): "*" matches any verb, group or resource; a subresource is
    "resource/sub", matched by that or by "*/sub"; a rule with resource names grants only a right on one of those
    names (a list or a create, which names no object, is not granted by it)."""
    def listed(key):
        value = rule.get(key)
        return [str(item) for item in value] if isinstance(value, list) else []
    verbs, groups, resources, names = listed("verbs"), listed("apiGroups"), listed("resources"), listed("resourceNames")
    if "*" not in verbs and right.verb not in verbs:
        return False
    if "*" not in groups and right.group not in groups:
        return False
    subresource = right.resource.partition("/")[2]
    if not any(item in ("*", right.resource) or (subresource and item == "*/" + subresource) for item in resources):
        return False
    return not names or (bool(right.name) and right.name in names)


def rules_grant(rules: Iterable[Dict[str, Any]], right: Right) -> bool:
    """Whether any of ``rules`` (LiveObjects.rules') grants ``right``."""
    return any(rule_grants(rule, right) for rule in rules)


def granted_by_rules(api: LiveObjects, rights: List[Right]) -> Set[Right]:
    """The ``rights`` a SelfSubjectRulesReview shows held: one review per namespace a right is in, at once. Only
    positive evidence, and only from a complete review (LiveObjects.rules: None otherwise): a right it does not
    show, a right cluster-wide (a namespace's review lists the rules of its RoleBindings too, which grant nothing
    cluster-wide) and every right of a namespace whose review could not be had (any KubeError) is asked with a
    SelfSubjectAccessReview, as without it."""
    namespaces = list(dict.fromkeys(right.namespace for right in rights if right.namespace))
    if not namespaces:
        return set()

    def review(namespace):
        try:
            return api.rules(namespace)
        except KubeError:
            return None
    found = dict(zip(namespaces, api.run_concurrently(review, namespaces)))
    return {right for right in rights if found.get(right.namespace) is not None and rules_grant(found[right.namespace], right)}


def denied(api: LiveObjects, rights: List[Right]) -> Tuple[List[Right], Optional[KubeError]]:
    """(the ``rights`` the credentials lack, asked at once; the KubeError when the server answers no access review).
    A right a complete SelfSubjectRulesReview of its namespace shows held is held (granted_by_rules, one request per
    namespace); each other right is asked with a SelfSubjectAccessReview. Only a 403 on the SelfSubjectAccessReview
    itself (RBAC) or a 404/405 (an API it does not serve) means a review is unavailable: the caller says the rights
    were not checked, and the denials the other reviews did answer are still returned. KubeError (to defer) when
    it could not be asked (unreachable, throttled, 5xx, 401: credentials the server did not accept) or the
    authorizer could not decide (an evaluationError)."""
    held = granted_by_rules(api, rights)
    rights = [right for right in rights if right not in held]

    def ask(right):
        try:
            return api.allowed(right.verb, right.group, right.resource, right.namespace, right.name)
        except KubeError as error:
            return error
    answers = list(api.run_concurrently(ask, rights))
    errors = [answer for answer in answers if isinstance(answer, KubeError)]
    fatal = [error for error in errors if not _unavailable(error)]
    if fatal:
        raise fatal[0]
    return [right for right, answer in zip(rights, answers) if answer is False], errors[0] if errors else None


def _unavailable(error: KubeError) -> bool:
    """A review the server does not answer: forbidden to this identity (403), or an API it does not serve (404, or
    405 from a server that knows the path but not the method, as the test bed's emulator)."""
    return (error.kind == ACCESS_DENIED and error.status == 403) or error.status in (404, 405)


def _created_by(objects: List[Dict[str, Any]]) -> Tuple[Set[Tuple[str, str]], Set[str]]:
    """The (group, kind) of each CustomResourceDefinition in the manifest, and the Namespaces it creates."""
    kinds, namespaces = set(), set()
    for obj in objects:
        group = group_of(str(obj["apiVersion"]))
        if obj["kind"] == "CustomResourceDefinition" and group == "apiextensions.k8s.io":
            spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
            names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
            if spec.get("group") and names.get("kind"):
                kinds.add((str(spec["group"]), str(names["kind"])))
        elif obj["kind"] == "Namespace" and group == "":
            namespaces.add(str(obj["metadata"]["name"]))
    return kinds, namespaces


def _body(obj: Dict[str, Any], ref: ObjectRef, namespace: str, release: Optional[str]) -> Dict[str, Any]:
    """What the dry run sends: the object in its namespace, with Helm's ownership metadata when the release is
    known, and as JSON (YAML's dates, which Go's YAML reader keeps as text, as text)."""
    body = _json_ready(apply_body(obj, ref))
    if release:
        metadata = body["metadata"]
        metadata["labels"] = dict(metadata.get("labels") or {}, **HELM_LABELS)
        metadata["annotations"] = dict(metadata.get("annotations") or {}, **{
            "meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace})
    return body


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _verdict(error: KubeError, ref: ObjectRef, resource: Resource, replace: bool,
             created_namespaces: Set[str]) -> Tuple[str, Any]:
    """("refused", entry), ("unchecked", entry), ("passed", None) or ("raise", error) for a refused dry run."""
    message = error.server_message
    if error.kind == ACCESS_DENIED and error.status == 403:
        path = resource_object_path(ref.api_version, resource, ref.namespace, ref.name)
        # An apply that would create the object is authorized as create as well: say the verb refused.
        verb = "create" if DENIED_CREATE.search(message or "") else "PATCH"
        return "refused", _entry(ref, "the credentials may not %s (RBAC)" % rbac_right(verb, path), ACCESS_DENIED)
    if error.kind == NOT_FOUND:
        missing = MISSING_NAMESPACE.search(message)
        if missing and missing.group(1) in created_namespaces:
            return "unchecked", _entry(ref, "its namespace %s is created by this manifest" % missing.group(1))
        if missing:
            return "refused", _entry(ref, "namespace %s does not exist" % missing.group(1), NOT_FOUND)
        # a kind known without discovery (kube_types.KNOWN_RESOURCES) that this server does not serve
        return "refused", _entry(ref, "%s %s is not served by this API server (removed or never installed)" % (
            ref.api_version, ref.kind), NOT_FOUND)
    if error.kind == REJECTED and error.status != 415:  # 415: the server cannot apply at all, a verdict on nothing
        if replace and error.status == 422 and IMMUTABLE.search(message):
            return "passed", None
        return "refused", _entry(ref, _reason(error), REJECTED)
    if error.kind == API_ERROR and error.status == 500 and UNTYPABLE in message:
        return "refused", _entry(ref, _reason(error), REJECTED)
    return "raise", error


def _reason(error: KubeError) -> str:
    """The server's message, on one line (kube_client keeps it so). A Secret's too: the server does not quote a
    Secret's data in a validation error, and the module masks the values (``on_secret_values``) anyway."""
    return error.server_message or "refused (%s %s)" % (error.status, error.reason or "")

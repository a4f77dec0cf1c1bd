#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release_drift
short_description: Find the objects of a Helm release that no longer match its revision
version_added: 0.1.0
description:
  - Compares each object of a release revision's manifest (the latest revision, or O(revision)) with the live object
    in the cluster, and tells whether the release has drifted, which objects are missing or modified, and which
    fields of them differ.
  - A release whose latest revision Helm calls C(deployed) can still be broken, when someone deleted its Deployment,
    scaled it by hand or edited a ConfigMap. This module finds that; it changes nothing.
  - Objects are compared the way the API server would apply the manifest, so a freshly installed or upgraded
    release is never drifted, on Helm 3 (client-side three-way merge) as on Helm 4 (server-side apply). See the
    notes.
  - Runs no Helm. It reads Helm's release record (the revision's manifest) and the live objects from the Kubernetes
    API with the collection's own client (Python's standard library), connected as the other modules connect Helm.
options:
  revision:
    description:
      - The revision whose manifest is compared with the cluster.
      - When not set, the latest stored revision, whatever its status (RV(status) tells it). To check what is
        deployed after a failed upgrade, give RV(matih.helm.helm_release_history#module:deployed_revision).
      - A revision that is not stored fails the task, naming the stored revisions.
    type: int
  ignore_fields:
    description:
      - Fields that are not drift, per kind, for fields another controller owns (a HorizontalPodAutoscaler
        scales a Deployment, so C(Deployment) C([spec.replicas])). The key C(*) applies to every kind.
      - A path names a field and everything below it, its keys joined by C(.), as in RV(objects[].fields[].path)
        C(spec.template.spec.containers[name=web].image). C([*]) is every item of a list, C([0]) its first, and a
        key on a list reaches into each item (C(spec.template.spec.containers.image)). Write a key with a dot
        quoted, C(metadata.annotations["example.com/owner"]), or escape the dot, C(example\.com/owner).
      - The fields are removed from the manifest and the live object before they are compared, and from the dry
        run's body.
    type: dict
    default: {}
  show_values:
    description:
      - Add the C(live) and C(desired) values to each field of RV(objects[].fields).
      - Never for Secrets, whose fields only give their path (such as C(data.password)).
      - Values may hold credentials (an environment variable, a connection string); they are only returned when
        this is V(true).
    type: bool
    default: false
extends_documentation_fragment:
  - matih.helm.connection.kubernetes_client
  - matih.helm.release
  - matih.helm.attributes.check_mode_read_only
  - matih.helm.attributes.action_group
attributes:
  platform:
    description: Runs on the managed node with Python's standard library; neither Helm nor the C(kubernetes) library is needed.
    support: full
    platforms: posix
notes:
  - "How drift is decided. The objects of the revision's manifest are grouped by API version, kind and namespace,
    and each group is read with one request (a GET for a single object, else one LIST of the kind in the namespace,
    matched by name: label selectors are not reliable for Helm's objects). An object that is not there is
    C(missing). Each other object is first compared with its live object as a subset: every field the manifest
    sets must be equal in the live object. Fields the API server defaults, C(status), server-managed metadata
    (C(managedFields), C(resourceVersion), C(uid), C(generation), C(creationTimestamp)) and the annotations Helm,
    kubectl and the Deployment controller add are not looked at. Lists of the built-in APIs are matched the way
    strategic merge matches them (containers, env, volumes by name, ports by number and protocol, volume mounts
    by path), other lists by position. A Secret's C(stringData) counts as the C(data) the API server makes of it."
  - "Only an object that differs there is confirmed with a server-side apply dry run of its manifest object
    (C(dryRun=All), forced, with the field manager C(matih-helm-drift); nothing is stored), and the dry run's result
    is compared with the live object. The API server normalises the manifest as a real apply would (quantities
    such as C(0.5) and C(500m), int-or-string ports, defaults), so only what an apply would change is C(modified),
    and the fields reported are those of this comparison. When the dry run is refused (no C(patch) right, an
    immutable field, an admission webhook), the object is reported C(modified) from the subset comparison with
    C(confirmed=false) and the reason."
  - "Limits. Fields the manifest does not set are never drift, also when someone added them by hand (an extra
    environment variable, an annotation, a container); neither Helm 3 nor Helm 4 would remove them on an upgrade.
    Objects created by hooks, and the CRDs of a chart's C(crds/) directory, are not in the manifest and are not
    checked. The release record is read from Helm's default Secrets driver only (not with C(HELM_DRIVER=configmap)
    or C(sql)). A kind the API server no longer serves in the manifest's API version is reported C(missing), and so is
    an object being deleted (its finalizers still hold it)."
  - "Cost. One LIST of the release's Secrets (Helm's records), one request per group of objects (a chart with a
    Deployment, a Service, a ConfigMap and a Secret in one namespace makes 4), one discovery request per API version
    of a kind outside the common built-in ones, and one dry run per object the subset comparison flags: a release in
    sync costs 1 + the number of groups, plus a dry run for each object whose manifest writes a value the API server
    normalises (C(cpu: 0.5)). RV(api_requests) counts them; on a local control plane a check took about 0.1 s."
  - "Permissions. C(list) of Secrets in the release namespace (Helm needs it too), C(get) or C(list) of the kinds in
    the manifest, and C(patch) of a flagged object's kind for its dry run."
  - "Secrets. Their values are never returned: a modified Secret gives only the paths of its fields, also with
    O(show_values=true), and the values the module reads (at least 6 characters long) are masked in its output,
    as C(no_log) values are."
seealso:
  - module: matih.helm.helm_release_history
  - module: matih.helm.helm_release_rollback
  - module: kubernetes.core.k8s
  - name: Server-side apply
    description: How the API server applies an object, and what a dry run of it returns.
    link: https://kubernetes.io/docs/reference/using-api/server-side-apply/
author:
  - matih.helm maintainers (@matih-platform)
"""

EXAMPLES = r"""
- name: Check whether the web release still matches its latest revision
  matih.helm.helm_release_drift:
    name: web
    release_namespace: shop
  register: web_drift

- name: Name the drifted objects and their fields
  ansible.builtin.debug:
    msg: >-
      {% for object in web_drift.objects if object.state != 'in_sync' %}
      {{ object.kind }}/{{ object.name }} is {{ object.state }} {{ object.fields | map(attribute='path') | join(', ') }};
      {% else %}web matches revision {{ web_drift.revision }}{% endfor %}

- name: Check the deployed revision; an autoscaler owns the replicas, a controller the image
  matih.helm.helm_release_drift:
    name: web
    namespace: shop
    revision: 3
    ignore_fields:
      Deployment:
        - spec.replicas
        - spec.template.spec.containers[name=web].image
      "*":
        - metadata.annotations["example.com/last-audit"]
  register: web_deployed_drift

- name: Show the values that differ (never a Secret's), connection set once for the collection
  module_defaults:
    group/matih.helm.helm:
      kubeconfig: "{{ cluster_kubeconfig | default(omit) }}"
      context: "{{ cluster_context | default(omit) }}"
  block:
    - name: Compare with values
      matih.helm.helm_release_drift:
        name: web
        namespace: shop
        show_values: true
      register: web_values_drift

    - name: Fail when the release has drifted
      ansible.builtin.assert:
        that: not web_values_drift.drifted
        fail_msg: "web drifted: {{ web_values_drift.objects | rejectattr('state', 'eq', 'in_sync') | list }}"
"""

RETURN = r"""
msg:
  description: What went wrong and what to check.
  returned: failure
  type: str
  sample: >-
    Revision 7 of release web is not stored in namespace shop; the stored revisions are 4, 5, 6 (Helm keeps
    --history-max of them, 10 by default)
error_kind:
  description:
    - Why the task failed, or (M(matih.helm.helm_release_recover)) why a recovery was C(deferred) or stopped - one
      closed set, the same in every module of the collection. RV(msg) or the reason says what went wrong and what to
      do. Option problems fail without it. Each module returns the kinds of the paths it takes.
    - Helm - V(binary_not_found) (no Helm at O(binary_path), or none on E(PATH)), V(not_helm) (the binary does not
      answer C(helm version) as Helm does), V(unsupported_version) (Helm older than 3.8.0 or of another major than 3
      and 4, or older than 3.10 with O(validate_certs=false)), V(helm_crashed) (Helm panicked, usually on a corrupt
      release record), V(invalid_output) (output that is not JSON), V(helm_failed) (any other Helm error).
    - The kubeconfig - V(invalid_kubeconfig), V(unknown_context), V(no_api_server) (it cannot be loaded, does not have
      the context, or names no API server for it), V(unsupported_kubeconfig) (it authenticates in a way only Helm
      supports, such as an C(auth-provider), and the task needs the Kubernetes API), V(unsupported_environment)
      (E(HELM_DRIVER) keeps the release records elsewhere than in Secrets, and the task reads them).
    - The cluster - V(cluster_unreachable) (no answer, or 502, 503, 504), V(throttled) (429), V(access_denied) (the
      credentials were refused, or RBAC does not allow the request), V(rejected) (admission, a policy, a quota or
      object validation refused an object; the credentials are not the problem), V(not_found), V(conflict) (a
      resourceVersion precondition failed), V(api_error) (any other answer; RV(api_status) has the HTTP status),
      V(timeout) (Helm timed out, for example waiting for resources to be ready).
    - The release - V(release_not_found), V(revision_not_found) (not stored; Helm may have pruned it),
      V(invalid_release_record) (a record Helm could not read either), V(operation_in_progress) (another operation
      holds it, a C(pending-*) revision), V(revision_taken) (another writer stored the next revision first),
      V(concurrent_change) (another writer changed it while a recovery ran), V(locked) (another actor of this
      collection holds the release's lease; the message names the holder).
    - A recovery's own - V(rollout_failed) (Helm wrote the target and it failed), V(not_deployed) (Helm reported
      success, but the latest revision is not deployed), V(drift_remains) (objects still drift after a repair),
      V(backoff) (a failed recovery's backoff has not passed).
  returned: failure, or with a deferred or stopped recovery
  type: str
  choices:
    - binary_not_found
    - not_helm
    - unsupported_version
    - helm_crashed
    - invalid_output
    - helm_failed
    - invalid_kubeconfig
    - unknown_context
    - no_api_server
    - unsupported_kubeconfig
    - unsupported_environment
    - cluster_unreachable
    - throttled
    - access_denied
    - rejected
    - not_found
    - conflict
    - api_error
    - timeout
    - release_not_found
    - revision_not_found
    - invalid_release_record
    - operation_in_progress
    - revision_taken
    - concurrent_change
    - locked
    - rollout_failed
    - not_deployed
    - drift_remains
    - backoff
  sample: cluster_unreachable
api_status:
  description:
    - The HTTP status the Kubernetes API server answered the module's own request that failed with (403 for an RBAC
      denial, 429 when it throttled), when it answered at all.
  returned: when the API server refused a request of the module
  type: int
  sample: 403
release:
  description: The release name.
  returned: success
  type: str
  sample: web
namespace:
  description: The release namespace.
  returned: success
  type: str
  sample: shop
revision:
  description: The revision whose manifest was compared.
  returned: success
  type: int
  sample: 6
status:
  description: Helm's status of that revision; a drift check of a C(failed) or C(pending-*) revision compares a manifest Helm may never have applied in full.
  returned: success
  type: str
  sample: deployed
drifted:
  description: Whether any object of the manifest is C(missing) or C(modified).
  returned: success
  type: bool
  sample: true
objects:
  description:
    - Every object of the revision's manifest, in manifest order (hooks are not in it).
  returned: success
  type: list
  elements: dict
  contains:
    api_version:
      description: The manifest's API version of the object.
      type: str
      sample: apps/v1
    kind:
      description: The object's kind.
      type: str
      sample: Deployment
    namespace:
      description: The object's namespace (the release namespace when the manifest gives none); empty for cluster-scoped kinds.
      type: str
      sample: shop
    name:
      description: The object's name.
      type: str
      sample: web
    state:
      description: V(missing) (not in the cluster), V(modified) (an apply of the manifest would change it) or V(in_sync).
      type: str
      choices: [missing, modified, in_sync]
      sample: modified
    fields:
      description: For a modified object, the fields that differ, each once; empty otherwise.
      type: list
      elements: dict
      sample: [{"path": "spec.replicas", "desired": 1, "live": 3}]
      contains:
        path:
          description:
            - The field, as O(ignore_fields) writes paths, for example C(spec.replicas), C(data.password),
              C(spec.template.spec.containers[name=web].image) or C(metadata.labels["app.kubernetes.io/name"]).
          type: str
          sample: spec.replicas
        desired:
          description:
            - The value an apply of the manifest makes (the dry run's, normalised by the API server); null where the
              apply leaves the field out.
            - Only with O(show_values=true), and never for a Secret.
          type: raw
          sample: 1
        live:
          description:
            - The value in the cluster now; null where the field is not there.
            - Only with O(show_values=true), and never for a Secret.
          type: raw
          sample: 3
    confirmed:
      description:
        - Whether a server-side apply dry run confirmed the modification. V(false) when the API server refused
          the dry run; the fields then come from the subset comparison, which may count a normalised value
          (such as C(0.5) for C(500m)) as a difference.
      type: bool
      returned: when state is modified
      sample: true
    reason:
      description:
        - Why the dry run was refused, or why an object is missing although it may be there (the API server does not serve
          its kind, or it is being deleted).
      type: str
      returned: when there is one
      sample: "the server-side apply dry run was refused (403): deployments.apps \"web\" is forbidden"
summary:
  description: How many objects the manifest has (C(objects)) and how many are in each state.
  returned: success
  type: dict
  sample: {"objects": 4, "missing": 1, "modified": 1, "in_sync": 2}
dry_runs:
  description: How many server-side apply dry runs were sent (one per object the subset comparison flagged).
  returned: success
  type: int
  sample: 1
api_requests:
  description:
    - How many Kubernetes API requests the check made, the release record's LIST, discovery, reads and dry runs.
  returned: success
  type: int
  sample: 6
"""

import os

from ansible.module_utils.basic import AnsibleModule

# First: the module_utils below then load through the bytecode cache (module_utils/bytecode_cache.py).
from ansible_collections.matih.helm.plugins.module_utils import bytecode_cache  # noqa: F401  pylint: disable=unused-import
from ansible_collections.matih.helm.plugins.module_utils.args import CONNECTION_MUTUALLY_EXCLUSIVE, argument_spec, name_problems
from ansible_collections.matih.helm.plugins.module_utils.connection import Connection
from ansible_collections.matih.helm.plugins.module_utils.drift import check_release_drift, parse_ignore_fields
from ansible_collections.matih.helm.plugins.module_utils.errors import TaskError
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects, secret_masker
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore, driver_problem

NEEDED_BY = "helm_release_drift"


def check(module, ignore):
    params = module.params
    store = ReleaseStore(Connection.from_module(module))
    store.require_direct(NEEDED_BY)
    return check_release_drift(LiveObjects(store), params["name"], params["release_namespace"], params["revision"], ignore,
                               params["show_values"], on_secret_values=secret_masker(module))


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(dict(
            revision=dict(type="int"),
            ignore_fields=dict(type="dict", default={}),
            show_values=dict(type="bool", default=False),
        )),
        supports_check_mode=True,
        mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE,
    )
    params = module.params
    ignore, problems = parse_ignore_fields(params["ignore_fields"])
    problems = name_problems(params["name"], params["release_namespace"]) + problems
    if params["revision"] is not None and params["revision"] < 1:
        problems.append("revision must be at least 1, got %d; omit it to check the latest revision" % params["revision"])
    problems.append(driver_problem(dict(os.environ), NEEDED_BY))
    problems = [problem for problem in problems if problem]
    if problems:
        module.fail_json(msg="; ".join(problems))
    try:
        result = check(module, ignore)
    except TaskError as error:
        module.fail_json(**error.fail_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()

"""The preflight (module_utils/preflight.py) on the real control plane: each object of a target sent as a
server-side apply dry run, judged by the real API server, and nothing stored.

preflight() is called in this process, through LiveObjects and ReleaseStore built from the connection
options as the modules build them, from the collection tree ansible-playbook runs (hack/collection-tree.sh).
It does not run Helm, so nothing here depends on the Helm major: a rollback target's manifest is read by
ReleaseStore.manifest from a release record written as Helm writes it.

- the control plane's ValidatingAdmissionPolicy refuses a ConfigMap with a data key or value "reject";
- an API version the server no longer serves (a CustomResourceDefinition version turned off) is refused
  before any dry run, the served version of the same object passes;
- a Deployment whose selector differs from the live one is refused (field is immutable), and is not when
  the objects are deleted first (``replace``);
- a clean five-object target passes with one request per object;
- after all of it, nothing was created and nothing changed.

Cheap on purpose: no Helm, no rollout; the CustomResourceDefinition test waits a second or two for discovery.
"""

import base64
import gzip
import json
import os
import sys
import time
import urllib.error
import uuid

import pytest

import controlplane
from playbook_runner import collections_path

# the collection tree ansible-playbook reads (hack/collection-tree.sh), the first entry
sys.path.insert(0, collections_path().split(os.pathsep, maxsplit=1)[0])

from ansible_collections.matih.helm.plugins.module_utils.connection import Connection  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.matih.helm.plugins.module_utils.kube_types import FIELD_MANAGER  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.matih.helm.plugins.module_utils.live_objects import LiveObjects  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.matih.helm.plugins.module_utils.preflight import preflight  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.matih.helm.plugins.module_utils.release_store import ReleaseStore  # noqa: E402  pylint: disable=wrong-import-position

RELEASE = "web"
CLEAN = """\
---
# Source: web/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
---
# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: web-credentials
stringData:
  password: not-so-secret
---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: %(selector)s}
  template:
    metadata:
      labels: {app: %(selector)s}
    spec:
      serviceAccountName: web
      containers:
        - name: web
          image: registry.local/web:1.0
          ports: [{name: http, containerPort: 8080}]
"""


@pytest.fixture
def live(cluster):
    """A LiveObjects as the modules make one: the connection of the admin kubeconfig, a ReleaseStore, its client."""
    if cluster.kind != "controlplane":
        pytest.skip("needs the real control plane: its admission policy, server-side apply and discovery")
    objects = LiveObjects(ReleaseStore(Connection.from_params({}, cluster.kubeconfig, {}), environ={}))
    yield objects
    objects.client.close()


def config_map(name, data):
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: %s\n" % (name, json.dumps(data))


def write_record(cluster, namespace, revision, manifest):
    """A release record as Helm's Secrets driver stores it: the release's JSON, gzipped, base64 (and base64 again
    in the API's ``data``)."""
    record = {"name": RELEASE, "namespace": namespace, "version": revision, "manifest": manifest,
              "info": {"status": "superseded", "description": "Upgrade complete"}, "config": {},
              "chart": {"metadata": {"name": "web", "version": "1.0.0"}}}
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(record).encode())).decode()
    cluster.api("POST", "/api/v1/namespaces/%s/secrets" % namespace, {
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.%s.v%d" % (RELEASE, revision),
                     "labels": {"owner": "helm", "name": RELEASE, "status": "superseded", "version": str(revision)}},
        "data": {"release": base64.b64encode(helm_encoded.encode()).decode()}})


def names(cluster, namespace, collection):
    listing = cluster.api("GET", "/api/v1/namespaces/%s/%s" % (namespace, collection))
    return sorted(item["metadata"]["name"] for item in listing.get("items") or [])


def served_kinds(cluster, group_version):
    """The kinds the API server's discovery lists for ``group_version`` (None: it does not serve it at all, and
    says so with a plain-text 404)."""
    try:
        listing = cluster.api("GET", "/apis/" + group_version)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise
    return [resource["kind"] for resource in listing.get("resources") or []]


def wait_for(what, probe, timeout=30):
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


# --- refusals ------------------------------------------------------------------------------------------------

def test_the_admission_policy_refuses_a_config_map(cluster, namespace, live):
    manifest = config_map("refused", {"mode": controlplane.REJECT_MARKER}) + "---\n" + config_map("fine", {"a": "b"})
    checked = preflight(live, manifest, namespace, release=RELEASE)
    assert (checked.passed, checked.objects, checked.requests) == (False, 2, 2)
    [refusal] = checked.refusals
    assert (refusal["kind"], refusal["name"], refusal["namespace"], refusal["error_kind"]) == (
        "ConfigMap", "refused", namespace, "rejected")
    assert "ValidatingAdmissionPolicy '%s'" % controlplane.REJECT_POLICY in refusal["reason"]
    assert checked.summary().startswith("1 of 2 objects refused: ConfigMap/refused: ")
    assert not {"refused", "fine"} & set(names(cluster, namespace, "configmaps"))  # the dry run stored nothing


def test_a_namespace_that_does_not_exist_and_one_the_manifest_creates(cluster, namespace, live):
    created = namespace + "-new"
    manifest = "\n---\n".join([
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}" % created,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: %s}" % created,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: %s-gone}" % namespace])
    checked = preflight(live, manifest, namespace)
    assert [(entry["name"], entry["reason"]) for entry in checked.unchecked] == [
        ("a", "its namespace %s is created by this manifest" % created)]
    assert [(entry["name"], entry["error_kind"], entry["reason"]) for entry in checked.refusals] == [
        ("b", "not_found", "namespace %s-gone does not exist" % namespace)]
    assert cluster.api("GET", "/api/v1/namespaces/" + created, expect=404)["code"] == 404


@pytest.fixture
def gadgets(cluster):
    """A CustomResourceDefinition of its own (kind Gadget) serving v1beta1 and v1, and a Gadget stored as v1beta1;
    deleted afterwards."""
    group = "t%s.preflight.matih.test" % uuid.uuid4().hex[:8]
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets." + group
    schema = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"size": {"type": "integer"}}}}}}
    cluster.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets." + group},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList"},
                 "versions": [{"name": "v1beta1", "served": True, "storage": False, "schema": schema},
                              {"name": "v1", "served": True, "storage": True, "schema": schema}]}})
    try:
        wait_for("the Gadget kind to be served", lambda: "Gadget" in (served_kinds(cluster, group + "/v1beta1") or []))
        yield group, crd
    finally:
        cluster.api("DELETE", crd, expect=404)


def test_a_version_no_longer_served_is_refused(cluster, namespace, live, gadgets):
    group, crd = gadgets
    objects = "/apis/%s/v1/namespaces/%s/gadgets" % (group, namespace)
    cluster.api("POST", "/apis/%s/v1beta1/namespaces/%s/gadgets" % (group, namespace), {
        "apiVersion": group + "/v1beta1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {"size": 1}})
    # the chart's old revision still names v1beta1, which the cluster stops serving
    definition = cluster.api("GET", crd)
    definition["spec"]["versions"][0]["served"] = False
    cluster.api("PUT", crd, definition)
    wait_for("v1beta1 to be gone", lambda: served_kinds(cluster, group + "/v1beta1") is None)
    before = cluster.api("GET", objects + "/g")["metadata"]["resourceVersion"]

    gadget = "apiVersion: %s/%s\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 2}\n"
    old = preflight(live, gadget % (group, "v1beta1"), namespace)
    assert old.refusals == [{"api_version": group + "/v1beta1", "kind": "Gadget", "name": "g", "namespace": namespace,
                             "error_kind": "not_found", "reason": "%s/v1beta1 Gadget is not served by this API server "
                                                                  "(removed or never installed)" % group}]
    assert old.requests == 1  # the discovery of the group version, no dry run

    fresh = LiveObjects(live.store)  # a new task: discovery is not remembered between tasks
    new = preflight(fresh, gadget % (group, "v1"), namespace)
    assert (new.passed, new.objects, new.requests) == (True, 1, 2)  # discovery and the dry run
    # the schema is checked too: a string where an integer belongs
    wrong = preflight(LiveObjects(live.store), (gadget % (group, "v1")).replace("size: 2", "size: big"), namespace)
    assert [(entry["error_kind"], "size" in entry["reason"]) for entry in wrong.refusals] == [("rejected", True)]
    live_gadget = cluster.api("GET", objects + "/g")
    assert (live_gadget["metadata"]["resourceVersion"], live_gadget["spec"]) == (before, {"size": 1})


def test_an_immutable_field_is_refused_unless_the_objects_are_replaced(cluster, namespace, live):
    deployment = "/apis/apps/v1/namespaces/%s/deployments" % namespace
    cluster.api("POST", deployment, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "registry.local/web:1.0"}]}}}})
    before = cluster.api("GET", deployment + "/web")
    target = CLEAN % {"selector": "web-v2"}

    checked = preflight(live, target, namespace, release=RELEASE)
    assert (checked.objects, checked.requests) == (5, 5)
    assert [(entry["kind"], entry["error_kind"]) for entry in checked.refusals] == [("Deployment", "rejected")]
    assert "spec.selector" in checked.refusals[0]["reason"] and "field is immutable" in checked.refusals[0]["reason"]

    replaced = preflight(live, target, namespace, replace=True, release=RELEASE)
    assert (replaced.passed, replaced.objects, replaced.refusals) == (True, 5, [])

    # the spec is as it was (the deployment controller writes the status meanwhile), and our manager took no field
    after = cluster.api("GET", deployment + "/web")
    assert (after["metadata"]["generation"], after["spec"]) == (before["metadata"]["generation"], before["spec"])
    assert FIELD_MANAGER not in {field["manager"] for field in after["metadata"].get("managedFields") or []}


# --- a clean target ---------------------------------------------------------------------------------------------

def test_a_clean_rollback_target_passes_with_a_request_per_object_and_stores_nothing(cluster, namespace, live):
    manifest = CLEAN % {"selector": "web"}
    write_record(cluster, namespace, 1, manifest)
    store = live.store
    assert store.manifest(RELEASE, namespace, 1) == manifest  # from the record, as a rollback to it applies it
    masked = []
    start = live.requests
    checked = preflight(live, manifest, namespace, release=RELEASE, on_secret_values=masked.extend)
    assert checked.passed, checked.summary()
    assert (checked.objects, checked.requests, live.requests - start) == (5, 5, 5)  # built-in kinds: no discovery
    assert checked.summary() == "all 5 objects pass the API server's dry run"
    assert "not-so-secret" in masked and "not-so-secret" not in json.dumps(checked.as_dict())
    # nothing was created: the namespace holds the record and what its controllers put there, nothing else
    assert "web-config" not in names(cluster, namespace, "configmaps")
    assert names(cluster, namespace, "secrets") == ["sh.helm.release.v1.%s.v1" % RELEASE]
    assert names(cluster, namespace, "services") == []
    assert "web" not in names(cluster, namespace, "serviceaccounts")
    assert cluster.api("GET", "/apis/apps/v1/namespaces/%s/deployments" % namespace)["items"] == []

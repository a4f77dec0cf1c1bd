"""What a cluster does after the API accepts a write: admission, then controllers.

The reactions run synchronously inside the write that triggers them (the store's lock is held),
so tests see deterministic results; each reaction is still a separate write with its own
resourceVersion and watch event, as it would be on a real cluster.

Two fault knobs make failures reproducible, and both mean the same thing on a real cluster:
- an image whose name contains ``broken`` never becomes ready (its pods stay in
  ImagePullBackOff), so ``--wait`` times out;
- a ConfigMap with a data key or value ``reject`` is refused by admission (422 Invalid), so the
  Helm operation fails at once.
"""

import copy
import hashlib
import itertools
import json

from . import errors
from .discovery import BY_PATH
from .store import now_rfc3339

BROKEN_IMAGE_MARKER = "broken"
REJECT_MARKER = "reject"

DEPLOYMENTS = BY_PATH[("apps", "v1", "deployments")]
REPLICASETS = BY_PATH[("apps", "v1", "replicasets")]
PODS = BY_PATH[("", "v1", "pods")]


def is_broken(pod_spec):
    containers = (pod_spec or {}).get("containers") or []
    return any(BROKEN_IMAGE_MARKER in str(container.get("image", "")) for container in containers)


def _condition(kind, status, reason, message=""):
    stamp = now_rfc3339()
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastUpdateTime": stamp, "lastTransitionTime": stamp}


def _owner_reference(owner):
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _template_hash(template):
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode("utf-8")).hexdigest()[:10]


def pod_status(pod_spec):
    containers = (pod_spec or {}).get("containers") or []
    if is_broken(pod_spec):
        waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
        statuses = [{"name": c.get("name", ""), "image": c.get("image", ""), "ready": False, "started": False, "state": waiting} for c in containers]
        return {"phase": "Pending", "conditions": [_condition("Ready", "False", "ContainersNotReady")], "containerStatuses": statuses}
    running = {"running": {"startedAt": now_rfc3339()}}
    statuses = [{"name": c.get("name", ""), "image": c.get("image", ""), "ready": True, "started": True, "state": running} for c in containers]
    conditions = [_condition(kind, "True", "") for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
    return {"phase": "Running", "conditions": conditions, "containerStatuses": statuses, "podIP": "10.244.0.10", "startTime": now_rfc3339()}


class ClusterSimulation:
    """Admission plugins and controllers for the kinds Helm waits on."""

    def __init__(self):
        self._cluster_ips = itertools.count(10)

    # --- admission ------------------------------------------------------------------------

    def admit(self, store, resource, obj, live):
        """Validate or default ``obj`` before it is stored; raise ApiError to refuse it.

        ``live`` is the stored object on updates, None on creates.
        """
        del store  # admission needs nothing but the object itself
        if resource.kind == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                if REJECT_MARKER in (key, str(value).strip()):
                    raise errors.invalid(
                        "ConfigMap", obj["metadata"]["name"], "data[%s]" % key,
                        'Forbidden: refused by the kubeemu admission policy (a data key or value "%s")' % REJECT_MARKER,
                    )
        elif resource.kind == "Service":
            self._allocate_cluster_ip(obj, live)
        elif resource.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        elif resource.kind == "PersistentVolumeClaim":
            obj["status"] = {"phase": "Bound"}

    def _allocate_cluster_ip(self, service, live):
        spec = service.setdefault("spec", {})
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            return
        live_ip = ((live or {}).get("spec") or {}).get("clusterIP")
        if not spec.get("clusterIP"):
            spec["clusterIP"] = live_ip or "10.96.%d.%d" % divmod(next(self._cluster_ips), 250)
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("type", "ClusterIP")
        service.setdefault("status", {"loadBalancer": {}})

    # --- controllers ----------------------------------------------------------------------

    def reconcile(self, store, resource, obj):
        """React to a stored user write (the store's lock is held)."""
        handler = {
            "Deployment": self._reconcile_deployment,
            "ReplicaSet": self._reconcile_replicaset,
            "StatefulSet": self._reconcile_statefulset,
            "DaemonSet": self._reconcile_daemonset,
            "Job": self._reconcile_job,
            "Pod": self._reconcile_pod,
        }.get(resource.kind)
        if handler:
            handler(store, copy.deepcopy(obj))

    def _reconcile_deployment(self, store, deployment):
        metadata, spec = deployment["metadata"], deployment.get("spec") or {}
        namespace, replicas = metadata["namespace"], spec.get("replicas", 1)
        template = copy.deepcopy(spec.get("template") or {})
        template_hash = _template_hash(template)
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = template_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
        owned = store.owned_by(REPLICASETS, namespace, metadata["uid"])
        new_name = "%s-%s" % (metadata["name"], template_hash)
        new_rs = copy.deepcopy(next((rs for rs in owned if rs["metadata"]["name"] == new_name), None)) or {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": new_name,
                "namespace": namespace,
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [_owner_reference(deployment)],
            },
            "spec": {"selector": selector, "template": template},
        }
        new_rs["spec"]["replicas"] = replicas
        new_rs = self._reconcile_replicaset(store, store.put(REPLICASETS, new_rs))
        new_ready = new_rs["status"].get("readyReplicas", 0) >= replicas
        old_sets = []
        for old in owned:
            if old["metadata"]["name"] == new_name:
                continue
            # A rolling update keeps the old pods until the new ones are ready.
            if new_ready and old["spec"].get("replicas", 0):
                scaled = copy.deepcopy(old)
                scaled["spec"]["replicas"] = 0
                old = self._reconcile_replicaset(store, store.put(REPLICASETS, scaled))
            old_sets.append(old)
        all_sets = [new_rs] + old_sets
        total = sum(rs["status"].get("replicas", 0) for rs in all_sets)
        ready = sum(rs["status"].get("readyReplicas", 0) for rs in all_sets)
        status = {"observedGeneration": metadata.get("generation", 1), "replicas": total, "updatedReplicas": new_rs["status"].get("replicas", 0)}
        if ready:
            status.update(readyReplicas=ready, availableReplicas=ready)
        if total - ready:
            status["unavailableReplicas"] = total - ready
        if new_ready:
            status["conditions"] = [
                _condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                _condition("Progressing", "True", "NewReplicaSetAvailable", 'ReplicaSet "%s" has successfully progressed.' % new_name),
            ]
        else:
            status["conditions"] = [
                _condition("Available", "True" if ready else "False", "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable"),
                _condition("Progressing", "True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % new_name),
            ]
        deployment["status"] = status
        store.put(DEPLOYMENTS, deployment)

    def _reconcile_replicaset(self, store, replicaset):
        # A copy: writing status into the stored object would make the put below a no-op, so the
        # status change would get no resourceVersion and no watch event.
        replicaset = copy.deepcopy(replicaset)
        metadata, spec = replicaset["metadata"], replicaset.get("spec") or {}
        desired = spec.get("replicas", 1)
        template = spec.get("template") or {}
        pods = store.owned_by(PODS, metadata["namespace"], metadata["uid"])
        for pod in pods[desired:]:
            store.remove(PODS, pod)
        for _missing in range(len(pods), desired):
            store.put(PODS, {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "%s-%s" % (metadata["name"], store.unique_suffix()),
                    "namespace": metadata["namespace"],
                    "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                    "ownerReferences": [_owner_reference(replicaset)],
                },
                "spec": copy.deepcopy(template.get("spec") or {}),
                "status": pod_status(template.get("spec")),
            })
        ready = 0 if is_broken(template.get("spec")) else desired
        status = {"replicas": desired, "fullyLabeledReplicas": desired, "observedGeneration": metadata.get("generation", 1)}
        if ready:
            status.update(readyReplicas=ready, availableReplicas=ready)
        replicaset["status"] = status
        return store.put(REPLICASETS, replicaset)

    @staticmethod
    def _reconcile_pod(store, pod):
        if not pod.get("status"):
            pod["status"] = pod_status(pod.get("spec"))
            store.put(PODS, pod)

    @staticmethod
    def _reconcile_statefulset(store, statefulset):
        spec = statefulset.get("spec") or {}
        replicas = spec.get("replicas", 1)
        revision = "%s-%s" % (statefulset["metadata"]["name"], _template_hash(spec.get("template") or {}))
        ready = 0 if is_broken((spec.get("template") or {}).get("spec")) else replicas
        statefulset["status"] = {
            "observedGeneration": statefulset["metadata"].get("generation", 1),
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "currentRevision": revision,
            "updateRevision": revision,
        }
        store.put(BY_PATH[("apps", "v1", "statefulsets")], statefulset)

    @staticmethod
    def _reconcile_daemonset(store, daemonset):
        ready = 0 if is_broken(((daemonset.get("spec") or {}).get("template") or {}).get("spec")) else 1
        daemonset["status"] = {
            "observedGeneration": daemonset["metadata"].get("generation", 1),
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1,
            "numberReady": ready,
            "numberAvailable": ready,
            "numberUnavailable": 1 - ready,
            "numberMisscheduled": 0,
        }
        store.put(BY_PATH[("apps", "v1", "daemonsets")], daemonset)

    @staticmethod
    def _reconcile_job(store, job):
        spec = job.get("spec") or {}
        if is_broken((spec.get("template") or {}).get("spec")):
            job["status"] = {"active": 1, "startTime": now_rfc3339()}
        else:
            completions = spec.get("completions", 1)
            job["status"] = {
                "succeeded": completions,
                "startTime": now_rfc3339(),
                "completionTime": now_rfc3339(),
                "conditions": [_condition("SuccessCriteriaMet", "True", "CompletionsReached"), _condition("Complete", "True", "CompletionsReached")],
            }
        store.put(BY_PATH[("batch", "v1", "jobs")], job)

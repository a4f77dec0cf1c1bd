# -*- coding: utf-8 -*-
# Copyright: (c) 2026, matih.helm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes API requests through the ``kubernetes`` Python client, counted, for helm_release_drift.

The client is configured as kubernetes.core's k8s modules configure it and as Helm connects: the
kubeconfig (the option, else KUBECONFIG, else ~/.kube/config, else in-cluster), its context, then
``host``, ``api_key``, ``ca_cert`` and ``validate_certs`` over it; Helm's HELM_KUBE* variables
where the option is not set, since Helm reads them too. Only the client's configuration and its
REST layer are used (kubeconfig loading, exec plugins, token refresh, TLS): the JSON is read as
it comes, without the client's models, and without its discovery client, whose cache costs
several requests per run.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from typing import Any, Dict, List, Optional
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.matih.helm.plugins.module_utils.drift import (
    FIELD_MANAGER, KNOWN_RESOURCES, ObjectRef, Read, RequestFailed, Resource, group_of,
)
from ansible_collections.matih.helm.plugins.module_utils.helm_client import HelmError, run_concurrently
from ansible_collections.matih.helm.plugins.module_utils.kube import (
    DEPLOYED_SELECTOR, RELEASE_SECRET_TYPE, SECRET_DRIVERS, decode_release, release_selector, releases_of,
)

try:
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import ConfigException, load_incluster_config, load_kube_config
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None

# Masking shorter Secret values would blank out words and numbers all over the output.
MIN_MASKED_LENGTH = 6
# (connect, read) seconds: a LIST of a busy namespace can take a while to send
REQUEST_TIMEOUT = (10, 60)
LIST_PAGE = 500
APPLY_PATCH = "application/apply-patch+yaml"
# Helm's own connection variables (pkg/cli/environment.go), read where the option is not set
HELM_ENVIRONMENT = {
    "context": "HELM_KUBECONTEXT",
    "host": "HELM_KUBEAPISERVER",
    "api_key": "HELM_KUBETOKEN",
    "ca_cert": "HELM_KUBECAFILE",
}


def require_kubernetes(module, purpose: str = "") -> None:
    """Fail the task, naming the install command, when the kubernetes library is not importable."""
    if not HAS_KUBERNETES:
        module.fail_json(msg="%s%s Install it with: %s -m pip install kubernetes" % (
            missing_required_lib("kubernetes"), " (%s)." % purpose if purpose else "", sys.executable),
            exception=KUBERNETES_IMPORT_ERROR)


def secret_masker(module):
    """The ``on_secret_values`` of drift.check_release_drift: the Secret values it reads become the
    module's no_log values, masked in all its output."""
    def mask(values):
        module.no_log_values.update(value for value in values if len(value) >= MIN_MASKED_LENGTH)
    return mask


def connection_settings(params: Dict[str, Any], environ: Dict[str, str]) -> Dict[str, Any]:
    """The connection as Helm would make it from the module's options and Helm's variables: the options
    win, as Helm's flags do. ``insecure`` is validate_certs=false or HELM_KUBEINSECURE_SKIP_TLS_VERIFY."""
    settings = {}
    for option, variable in HELM_ENVIRONMENT.items():
        settings[option] = params.get(option) or environ.get(variable) or None
    settings["insecure"] = params.get("validate_certs") is False or \
        str(environ.get("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "")).lower() in ("1", "true", "yes")
    settings["tls_server_name"] = environ.get("HELM_KUBETLS_SERVER_NAME") or None
    return settings


def environment_problem(environ: Dict[str, str]) -> Optional[str]:
    """Why the module cannot see what Helm sees in this environment, or None."""
    driver = environ.get("HELM_DRIVER", "").lower()
    if driver not in SECRET_DRIVERS:
        return ("HELM_DRIVER=%s keeps Helm's release records elsewhere than in Secrets; helm_release_drift reads them "
                "from Helm's default Secrets driver only" % environ["HELM_DRIVER"])
    impersonating = [name for name in ("HELM_KUBEASUSER", "HELM_KUBEASGROUPS") if environ.get(name)]
    if impersonating:
        return ("%s makes Helm act as another user, which helm_release_drift does not do; unset it, or give that "
                "user's credentials (kubeconfig or api_key)" % ", ".join(impersonating))
    return None


def kubeconfig_files(kubeconfig_path: Optional[str], environ: Dict[str, str]) -> Optional[str]:
    """The kubeconfig file(s) client-go would load, as the client's loader takes them (a KUBECONFIG list
    is merged; set, it replaces ~/.kube/config), or None when there is none (then in-cluster, or the
    host option alone)."""
    if kubeconfig_path:
        return kubeconfig_path
    if environ.get("KUBECONFIG"):
        listed = [path for path in environ["KUBECONFIG"].split(os.pathsep) if path and os.path.isfile(path)]
        return os.pathsep.join(listed) if listed else None
    default = os.path.join(os.path.expanduser("~"), ".kube", "config")
    return default if os.path.isfile(default) else None


def build_configuration(settings: Dict[str, Any], config_file: Optional[str]):
    """A kubernetes.client.Configuration for ``settings`` (connection_settings) over the kubeconfig.
    HelmError when there is nothing to connect to or the kubeconfig cannot be loaded."""
    configuration = Configuration()
    try:
        if config_file:
            load_kube_config(config_file=config_file, context=settings.get("context"),
                             client_configuration=configuration, persist_config=False)
        elif settings.get("context"):
            raise HelmError("invalid_kubeconfig", "context %s is set but there is no kubeconfig (no kubeconfig option, "
                            "KUBECONFIG or ~/.kube/config); set the kubeconfig option" % settings["context"])
        elif not settings.get("host"):
            try:
                load_incluster_config(client_configuration=configuration)
            except ConfigException:
                raise HelmError("no_api_server", "No API server is configured: no kubeconfig (kubeconfig option, "
                                "KUBECONFIG or ~/.kube/config), no host option, and not running in a pod; set the "
                                "kubeconfig, context or host option")
    except ConfigException as error:
        raise HelmError("invalid_kubeconfig", "The kubeconfig could not be loaded (%s); set the kubeconfig option to a "
                        "valid kubeconfig file or dictionary, and context to one of its contexts" % error)
    if settings.get("host"):
        configuration.host = settings["host"].rstrip("/")
    if settings.get("api_key"):
        # a token replaces the kubeconfig user's, and the exec plugin that would refresh it
        configuration.api_key = {"authorization": "Bearer " + settings["api_key"]}
        configuration.api_key_prefix = {}
        configuration.refresh_api_key_hook = None
    if settings.get("ca_cert"):
        configuration.ssl_ca_cert = settings["ca_cert"]
    if settings.get("insecure"):
        configuration.verify_ssl = False
    if settings.get("tls_server_name"):
        configuration.tls_server_name = settings["tls_server_name"]
    return configuration


class KubeApi(object):
    """Counted JSON requests to one API server; the ``api`` that drift.check_release_drift drives."""

    def __init__(self, configuration):
        self.configuration = configuration
        self.rest = ApiClient(configuration).rest_client
        self.requests = 0
        self._lock = threading.Lock()
        self._discovery_lock = threading.Lock()
        self._group_versions = {}

    @classmethod
    def from_module(cls, module, kubeconfig_path: Optional[str]) -> "KubeApi":
        """The client for the module's connection options; ``kubeconfig_path`` is the one
        helm_client.resolve_kubeconfig checked (an inline kubeconfig written to a private file)."""
        environ = dict(os.environ)
        return cls(build_configuration(connection_settings(module.params, environ),
                                       kubeconfig_files(kubeconfig_path, environ)))

    run_concurrently = staticmethod(run_concurrently)

    # --- transport ----------------------------------------------------------------------------

    def request(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, body: Any = None,
                content_type: str = "application/json") -> Any:
        """One API request; the decoded JSON answer. RequestFailed for an HTTP error status, HelmError
        when the server cannot be reached or does not answer in time."""
        url = self.configuration.host.rstrip("/") + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "application/json", "User-Agent": "matih.helm/helm_release_drift"}
        headers.update(self._authorization())
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        with self._lock:
            self.requests += 1
        try:
            response = self.rest.request(method, url, headers=headers, body=data, _request_timeout=REQUEST_TIMEOUT)
            status, payload = response.status, _payload(response)
        except ApiException as error:  # older clients raise on every error status; all on TLS errors (status 0)
            status, payload = error.status or 0, error.body or error.reason or ""
        except Exception as error:  # pylint: disable=broad-except  # urllib3 and socket errors
            raise unreachable(method, path, self.configuration.host, error)
        if status == 0:
            raise HelmError("cluster_unreachable", "The Kubernetes API server %s could not be reached (%s %s: %s); check "
                            "kubeconfig, context, host, ca_cert and network" % (self.configuration.host, method, path,
                                                                                _text(payload)[:300]))
        if not 200 <= status < 300:
            raise RequestFailed(status, _status_message(payload))
        try:
            return json.loads(_text(payload))
        except ValueError:
            raise HelmError("api_error", "The Kubernetes API answered %s %s with something that is not JSON" % (method, path))

    def _authorization(self) -> Dict[str, str]:
        """The Authorization header the client would send (a kubeconfig or exec plugin token, refreshed
        by the client's hook; a password user's basic credentials)."""
        headers = {}
        for setting in (self.configuration.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        return headers

    def get(self, path: str, query: Optional[Dict[str, Any]] = None, what: str = "") -> Any:
        try:
            return self.request("GET", path, query)
        except RequestFailed as error:
            raise read_failure(error, "GET", path, what)

    # --- what drift.check_release_drift needs ---------------------------------------------------

    def release_records(self, name: str, namespace: str) -> List[Dict[str, Any]]:
        """Helm's decoded release records of ``name`` (one LIST of its Secrets, as Helm's driver lists them)."""
        path = "/api/v1/namespaces/%s/secrets" % quote(namespace, safe="")
        found = self.get(path, {"labelSelector": release_selector(name)}, "Helm's release Secrets")
        try:
            return releases_of(found.get("items") or [])
        except ValueError as error:
            raise HelmError("invalid_release_record", "A release record of %s in %s cannot be read (%s); inspect the "
                            "release's storage Secrets (labels owner=helm,name=%s) and delete or restore the broken one"
                            % (name, namespace, error, name))

    def resource(self, api_version: str, kind: str) -> Optional[Resource]:
        """How the API serves ``kind``: known for the common built-in kinds, else one discovery request
        per group version (remembered). None when the server does not serve it."""
        known = KNOWN_RESOURCES.get((api_version, kind))
        if known is not None:
            return known
        resources = self._group_version(api_version)
        return resources.get(kind)

    def _group_version(self, api_version: str) -> Dict[str, Resource]:
        with self._discovery_lock:
            return self._discover(api_version)

    def _discover(self, api_version: str) -> Dict[str, Resource]:
        if api_version not in self._group_versions:
            path = "/api/v1" if api_version == "v1" else "/apis/" + api_version
            try:
                listing = self.request("GET", path)
            except RequestFailed as error:
                if error.status != 404:
                    raise read_failure(error, "GET", path, "the resources of %s" % api_version)
                listing = {}
            self._group_versions[api_version] = {
                str(entry.get("kind")): Resource(str(entry["name"]), bool(entry.get("namespaced")))
                for entry in listing.get("resources") or [] if "/" not in str(entry.get("name", "/"))}
        return self._group_versions[api_version]

    def read(self, resource: Resource, read: Read) -> Dict[str, Dict[str, Any]]:
        """{name: live object} for one Read: a GET for one object (404: missing), else a LIST of the kind in
        the namespace (paged), matched by name."""
        base = collection_path(read.api_version, resource, read.namespace)
        if len(read.names) == 1:
            path = base + "/" + quote(read.names[0], safe="")
            try:
                return {read.names[0]: self.request("GET", path)}
            except RequestFailed as error:
                if error.status == 404:
                    return {}
                raise read_failure(error, "GET", path, "%s %s" % (read.kind, read.names[0]))
        query = {}
        if read.kind == "Secret" and group_of(read.api_version) == "":
            # Helm's release records are Secrets too, and the biggest ones there
            query["fieldSelector"] = "type!=%s" % RELEASE_SECRET_TYPE
        wanted, found = set(read.names), {}
        for items in self.pages(base, query, "the %s objects" % read.kind):
            found.update((item["metadata"]["name"], item) for item in items
                         if (item.get("metadata") or {}).get("name") in wanted)
            if len(found) == len(wanted):
                break
        return found

    def pages(self, path: str, query: Dict[str, Any], what: str):
        """The items of a LIST, page by page (LIST_PAGE items a request)."""
        query = dict(query, limit=LIST_PAGE)
        while True:
            listing = self.get(path, query, what)
            yield listing.get("items") or []
            token = (listing.get("metadata") or {}).get("continue")
            if not token:
                return
            query = dict(query, **{"continue": token})

    def deployed_records(self, namespaces: List[str]) -> List[Dict[str, Any]]:
        """The decoded Helm release records labelled deployed in ``namespaces`` (every namespace when
        empty): one LIST of Secrets per namespace, or one cluster-wide, whatever the number of releases."""
        paths = ["/api/v1/namespaces/%s/secrets" % quote(namespace, safe="") for namespace in namespaces] or ["/api/v1/secrets"]

        def records_in(path):
            secrets = [secret for items in self.pages(path, {"labelSelector": DEPLOYED_SELECTOR}, "Helm's release Secrets")
                       for secret in items]
            records = []
            for secret in secrets:
                try:
                    records.append(decode_release((secret.get("data") or {}).get("release")))
                except ValueError as error:
                    metadata = secret.get("metadata") or {}
                    raise HelmError("invalid_release_record", "The Helm release record %s/%s cannot be read (%s); "
                                    "inspect it and delete or restore it" % (metadata.get("namespace"),
                                                                             metadata.get("name"), error))
            return records
        return [record for records in self.run_concurrently(records_in, paths) for record in records]

    def dry_run(self, resource: Resource, ref: ObjectRef, body: Dict[str, Any]) -> Dict[str, Any]:
        """The object a server-side apply of ``body`` would make (dryRun=All: nothing is stored), forced,
        with a field manager of our own. RequestFailed when the server refuses it."""
        path = collection_path(ref.api_version, resource, ref.namespace) + "/" + quote(ref.name, safe="")
        query = {"dryRun": "All", "fieldManager": FIELD_MANAGER, "force": "true", "fieldValidation": "Ignore"}
        return self.request("PATCH", path, query, body, APPLY_PATCH)


def collection_path(api_version: str, resource: Resource, namespace: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else "/apis/" + api_version
    if resource.namespaced and namespace:
        prefix += "/namespaces/" + quote(namespace, safe="")
    return prefix + "/" + resource.plural


def _payload(response) -> Any:
    data = getattr(response, "data", None)
    return response.read() if data is None and hasattr(response, "read") else data


def _text(payload: Any) -> str:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    return payload if isinstance(payload, str) else ""


def _status_message(payload: Any) -> str:
    """The message of a Kubernetes Status answer, else the start of the body."""
    text = _text(payload)
    try:
        status = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300] or "no message"
    return str(status.get("message") or status.get("reason") or "no message") if isinstance(status, dict) else text[:300]


def read_failure(error: RequestFailed, method: str, path: str, what: str) -> HelmError:
    """The HelmError of a read the check cannot do without."""
    if error.status in (401, 403):
        return HelmError("access_denied", "The Kubernetes API refused to read %s (%d: %s); check api_key or the "
                         "kubeconfig user, and its RBAC rights to get and list them" % (what or path, error.status,
                                                                                        error.message))
    return HelmError("api_error", "The Kubernetes API answered %d to %s %s (%s)" % (error.status, method, path, error.message))


def unreachable(method: str, path: str, host: str, error: Exception) -> HelmError:
    name = type(error).__name__
    detail = " ".join(str(error).split())[:300]
    if "Timeout" in name or "timed out" in detail:
        return HelmError("timeout", "The Kubernetes API server %s did not answer %s %s in time (%s: %s)" % (
            host, method, path, name, detail))
    return HelmError("cluster_unreachable", "The Kubernetes API server %s could not be reached (%s %s: %s: %s); check "
                     "kubeconfig, context, host, ca_cert and network" % (host, method, path, name, detail))
